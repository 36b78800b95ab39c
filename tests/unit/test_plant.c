/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Planting (orchestrator/plant.c). One program, two suites:
 *   test_plant            path rules, no VM (ctest label unit)
 *   test_plant guestfs    one libguestfs launch with two disks the test
 *                         makes (NTFS with a Windows-like tree, ext4 with a
 *                         Linux one), avtb_plant_on into each, then every
 *                         file read back (label guestfs; root, ~30 s).
 * The guestfs suite exits 77 (skipped) when not root or when the appliance
 * cannot launch. All libguestfs work happens in main before the checks run:
 * a handle does not survive Check's fork, and one launch is 15-25 s here.
 */
#include <check.h>
#include <fcntl.h>
#include <guestfs.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "orchestrator/plant.h"

/* ---- unit: path rules ----------------------------------------------------- */

static char *disk_path(const char *p, bool windows, avtb_err *code, char *msg, size_t msglen)
{
    avtb_error err = {0};
    char *out = NULL;

    *code = avtb_plant_disk_path(p, windows, &out, &err);
    snprintf(msg, msglen, "%s", err.msg);
    return out;
}

START_TEST(windows_paths_map_to_the_root_filesystem)
{
    static const char *const ok[][2] = {
        {"C:\\Users\\jane\\Documents\\Q3.docx", "/Users/jane/Documents/Q3.docx"},
        {"c:/Users/Public/x.txt", "/Users/Public/x.txt"},
        {"/Users/jane/Documents/a b.pdf", "/Users/jane/Documents/a b.pdf"},
        {"\\ProgramData\\x.txt", "/ProgramData/x.txt"},
    };
    char msg[AVTB_ERRMSG_MAX];
    avtb_err code;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char *p = disk_path(ok[i][0], true, &code, msg, sizeof(msg));

        ck_assert_msg(code == AVTB_OK, "%s: %s", ok[i][0], msg);
        ck_assert_str_eq(p, ok[i][1]);
        free(p);
    }
}
END_TEST

START_TEST(bad_windows_paths_say_why)
{
    static const char *const bad[][2] = {
        {"D:\\Users\\x.txt", "drive C:"},    {"C:Users\\x.txt", "full path after the drive"},
        {"C:\\Users\\..\\x.txt", ". or .."}, {"C:\\Users\\\\x.txt", "empty path component"},
        {"C:\\Users\\", "must name a file"}, {"C:\\", "must name a file"},
    };
    char msg[AVTB_ERRMSG_MAX];
    avtb_err code;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *p = disk_path(bad[i][0], true, &code, msg, sizeof(msg));

        ck_assert_ptr_null(p);
        ck_assert_int_eq(code, AVTB_ERR_INPUT);
        ck_assert_msg(strstr(msg, bad[i][1]) != NULL, "%s: %s", bad[i][0], msg);
        ck_assert_msg(strstr(msg, bad[i][0]) != NULL, "message names the document: %s", msg);
    }
}
END_TEST

START_TEST(posix_paths_are_taken_as_they_are)
{
    char msg[AVTB_ERRMSG_MAX];
    avtb_err code;
    char *p = disk_path("/home/a/b\\c.txt", false, &code, msg, sizeof(msg));

    ck_assert_int_eq(code, AVTB_OK);
    ck_assert_str_eq(p, "/home/a/b\\c.txt"); /* a backslash is a name character here */
    free(p);
    p = disk_path("C:\\Users\\x.txt", false, &code, msg, sizeof(msg));
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(strstr(msg, "not NTFS"));
    p = disk_path("/avtb/x", false, &code, msg, sizeof(msg));
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(strstr(msg, "reserves"));
    p = disk_path("relative/x", false, &code, msg, sizeof(msg));
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(strstr(msg, "absolute"));
}
END_TEST

START_TEST(home_folders_are_the_users)
{
    ck_assert(avtb_plant_in_home("/home/bob"));
    ck_assert(avtb_plant_in_home("/home/bob/Documents/Finance"));
    ck_assert(avtb_plant_in_home("/Users/Jane/Documents"));
    ck_assert(!avtb_plant_in_home("/home"));
    ck_assert(!avtb_plant_in_home("/home/"));
    ck_assert(!avtb_plant_in_home("/homework/x"));
    ck_assert(!avtb_plant_in_home("/srv/share"));
    ck_assert(!avtb_plant_in_home("/"));
}
END_TEST

static Suite *unit_suite(void)
{
    Suite *s = suite_create("plant");
    TCase *p = tcase_create("paths");

    tcase_add_test(p, windows_paths_map_to_the_root_filesystem);
    tcase_add_test(p, bad_windows_paths_say_why);
    tcase_add_test(p, posix_paths_are_taken_as_they_are);
    tcase_add_test(p, home_folders_are_the_users);
    suite_add_tcase(s, p);
    return s;
}

/* ---- guestfs: one launch, two disks ---------------------------------------- */

#define NTFS_DEV "/dev/sda1"
#define EXT4_DEV "/dev/sdb"
#define CA_PEM   "-----BEGIN CERTIFICATE-----\nMIIBavtbtestca\n-----END CERTIFICATE-----\n"
#define BIG_LEN  (3u << 20) /* over libguestfs's per-message limit: written in chunks */

/* A document to plant and what the test expects of it. */
typedef struct tdoc {
    const char *path; /* as given to avtb_plant */
    unsigned uid, gid, mode;
    int64_t mtime, atime;
    size_t size;
    avtb_honeydoc *d;
} tdoc;

static tdoc ntfs_docs[] = {
    /* lower case on purpose: the tree has /Users/Jane/Documents */
    {"/Users/jane/Documents/Q3 forecast.docx", 1000, 1000, 0600, 1700000000, 1710000000, 5000,
     NULL},
    {"/Users/Public/Documents/shared-budget.xlsx", 1000, 1000, 0600, 1690000000, 0, 20000, NULL},
    {"C:\\ProgramData\\Contoso\\Cache\\notes.txt", 0, 0, 0644, 1650000000, 1650000500, 2000, NULL},
    /* the tree has Report.docx: the document replaces it, no second name */
    {"/users/JANE/documents/report.docx", 1000, 1000, 0600, 1600000000, 1600000100, 9000, NULL},
};

static tdoc ext4_docs[] = {
    {"/home/bob/Documents/Finance/2025/budget.xlsx", 1001, 1001, 0640, 1735000000, 1736000000,
     40000, NULL},
    {"/home/bob/Documents/Finance/minutes.txt", 1001, 1001, 0600, 1720000000, 0, 3000, NULL},
    {"/srv/share/handbook.pdf", 1001, 1001, 0644, 1710000000, 1710000900, 60000, NULL},
    {"/home/carol/notes.txt", 1002, 1002, 0600, 1700000000, 1700000000, 2500, NULL},
    {"/home/bob/Desktop/scan.pdf", 1001, 1001, 0600, 1730000000, 1731000000, BIG_LEN, NULL},
};

#define NDOCS(a) (sizeof(a) / sizeof((a)[0]))

/* Everything the guestfs checks look at, gathered before they run. */
static struct {
    char tmp[64];
    double launch_s, prepare_s, plant_ntfs_s, plant_ext4_s, readback_s;
    avtb_err ntfs_r, ext4_r, dup_r;
    avtb_error ntfs_err, ext4_err, dup_err;
    json_t *facts; /* "ntfs:/path" / "ext4:/path" -> what the disk holds there */
    json_t *ntfs_planted, *ext4_planted;
    char product_sha[65];
    char *setup_problem; /* the test's own set-up failed (not plant.c): the checks fail */
} W;

static char *template_of(size_t size)
{
    static const char para[] = "Quarterly figures, draft for the board. ";
    char *t = malloc(size + 1);
    size_t n = 0;

    if (t == NULL)
        return NULL;
    n = (size_t)snprintf(t, size + 1, "{{token}}\n");
    while (n < size) {
        size_t k = size - n < sizeof(para) - 1 ? size - n : sizeof(para) - 1;

        memcpy(t + n, para, k);
        n += k;
    }
    t[size] = '\0';
    return t;
}

static int render(tdoc *docs, size_t n, avtb_honeydoc **out)
{
    for (size_t i = 0; i < n; i++) {
        avtb_error err = {0};
        /* The token (24 bytes) replaces the 9-byte placeholder. */
        char *t = template_of(docs[i].size - (AVTB_TOKEN_LEN - 9));

        if (t == NULL || avtb_honeydoc_render(t, docs[i].path, docs[i].uid, docs[i].gid,
                                              docs[i].mode, &docs[i].d, &err) != AVTB_OK) {
            fprintf(stderr, "test_plant: render %s: %s\n", docs[i].path, err.msg);
            free(t);
            return -1;
        }
        free(t);
        docs[i].d->mtime = docs[i].mtime;
        docs[i].d->atime = docs[i].atime;
        out[i] = docs[i].d;
    }
    return 0;
}

/* Records what the mounted disk holds at path: stat first (reading moves atime). */
static void note(guestfs_h *g, const char *disk, const char *path)
{
    struct guestfs_statns *st = guestfs_lstatns(g, path);
    char key[512];
    json_t *f;

    snprintf(key, sizeof(key), "%s:%s", disk, path);
    if (st == NULL) {
        json_object_set_new(W.facts, key, json_pack("{s:s}", "type", "missing"));
        return;
    }
    f = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "type",
                  S_ISDIR(st->st_mode) ? "dir" : "file", "uid", (json_int_t)st->st_uid, "gid",
                  (json_int_t)st->st_gid, "mode", (json_int_t)(st->st_mode & 07777), "size",
                  (json_int_t)st->st_size, "mtime", (json_int_t)st->st_mtime_sec, "atime",
                  (json_int_t)st->st_atime_sec);
    if (S_ISDIR(st->st_mode)) {
        char **names = guestfs_ls(g, path);
        json_t *a = json_array();

        for (size_t i = 0; names && names[i]; i++) {
            json_array_append_new(a, json_string(names[i]));
            free(names[i]);
        }
        free(names);
        json_object_set_new(f, "entries", a);
    } else {
        size_t size = (size_t)st->st_size, off = 0;
        uint8_t *buf = malloc(size + 1);
        char sum[65];

        while (buf != NULL && off < size) {
            size_t got = 0;
            char *c = guestfs_pread(g, path, (int)(size - off < (1u << 20) ? size - off : 1u << 20),
                                    (int64_t)off, &got);

            if (c == NULL || got == 0) {
                free(c);
                break;
            }
            memcpy(buf + off, c, got);
            free(c);
            off += got;
        }
        if (buf != NULL && off == size) {
            avtb_sha256_hex(buf, size, sum);
            json_object_set_new(f, "sha256", json_string(sum));
            buf[size] = '\0';
            json_object_set_new(f, "text_head", json_stringn((char *)buf, size < 64 ? size : 64));
        }
        free(buf);
    }
    guestfs_free_statns(st);
    json_object_set_new(W.facts, key, f);
}

static json_t *fact(const char *disk, const char *path)
{
    char key[512];
    json_t *f;

    snprintf(key, sizeof(key), "%s:%s", disk, path);
    f = json_object_get(W.facts, key);
    ck_assert_msg(f != NULL, "the test did not look at %s", key);
    return f;
}

static const char *fact_type(const char *disk, const char *path)
{
    return json_string_value(json_object_get(fact(disk, path), "type"));
}

static json_int_t fact_int(const char *disk, const char *path, const char *field)
{
    json_t *v = json_object_get(fact(disk, path), field);

    ck_assert_msg(json_is_integer(v), "%s:%s has no %s", disk, path, field);
    return json_integer_value(v);
}

static bool has_entry(const char *disk, const char *dir, const char *name)
{
    json_t *a = json_object_get(fact(disk, dir), "entries"), *v;
    size_t i;

    json_array_foreach(a, i, v)
    {
        if (strcmp(json_string_value(v), name) == 0)
            return true;
    }
    return false;
}

static int set_up_disks(guestfs_h *g)
{
    static const char *const ntfs_dirs[] = {"/Users/Jane/Documents", "/Users/Public",
                                            "/ProgramData"};
    const char *ntfs3g[] = {"ntfs3g", NULL};

    if (guestfs_feature_available(g, (char **)ntfs3g) <= 0) {
        W.setup_problem = strdup("the libguestfs appliance has no ntfs-3g: apt-get install -y "
                                 "ntfs-3g (supermin builds the appliance from host packages)");
        return -1;
    }
    if (guestfs_part_disk(g, "/dev/sda", "mbr") < 0 || guestfs_mkfs(g, "ntfs", NTFS_DEV) < 0 ||
        guestfs_mount(g, NTFS_DEV, "/") < 0)
        goto fail;
    for (size_t i = 0; i < 3; i++)
        if (guestfs_mkdir_p(g, ntfs_dirs[i]) < 0)
            goto fail;
    if (guestfs_write(g, "/Users/Jane/Documents/Report.docx", "old", 3) < 0 ||
        guestfs_umount_all(g) < 0)
        goto fail;
    if (guestfs_mkfs(g, "ext4", EXT4_DEV) < 0 || guestfs_mount(g, EXT4_DEV, "/") < 0 ||
        guestfs_mkdir_p(g, "/home/bob") < 0 || guestfs_chown(g, 1001, 1001, "/home/bob") < 0 ||
        guestfs_chmod(g, 0750, "/home/bob") < 0 || guestfs_mkdir_p(g, "/etc/ssl/certs") < 0 ||
        guestfs_write(g, "/etc/ssl/certs/ca-certificates.crt", "EXISTING ROOTS\n", 15) < 0 ||
        guestfs_umount_all(g) < 0)
        goto fail;
    return 0;
fail:
    if (asprintf(&W.setup_problem, "preparing the disks: %s", guestfs_last_error(g)) < 0)
        W.setup_problem = NULL;
    return -1;
}

static void read_back(guestfs_h *g)
{
    static const char *const ntfs_paths[] = {
        "/Users",
        "/Users/Jane",
        "/Users/Jane/Documents",
        "/Users/Jane/Documents/Q3 forecast.docx",
        "/Users/Jane/Documents/Report.docx",
        "/Users/Public/Documents",
        "/Users/Public/Documents/shared-budget.xlsx",
        "/ProgramData/Contoso",
        "/ProgramData/Contoso/Cache",
        "/ProgramData/Contoso/Cache/notes.txt",
        "/Users/Public",
    };
    static const char *const ext4_paths[] = {
        "/home/bob",
        "/home/bob/Documents",
        "/home/bob/Documents/Finance",
        "/home/bob/Documents/Finance/2025",
        "/home/bob/Documents/Finance/2025/budget.xlsx",
        "/home/bob/Documents/Finance/minutes.txt",
        "/home/bob/Desktop",
        "/home/bob/Desktop/scan.pdf",
        "/home/carol",
        "/home/carol/notes.txt",
        "/srv",
        "/srv/share",
        "/srv/share/handbook.pdf",
        "/opt/fixture/bin/scan",
        "/avtb/product/cmd/start",
        "/avtb/product/cmd/trigger-1",
        "/etc/ssl/certs/ca-certificates.crt",
        "/usr/local/share/ca-certificates/avtb-run-ca.crt",
    };

    if (guestfs_mount(g, NTFS_DEV, "/") == 0) {
        for (size_t i = 0; i < sizeof(ntfs_paths) / sizeof(ntfs_paths[0]); i++)
            note(g, "ntfs", ntfs_paths[i]);
        (void)guestfs_umount_all(g);
    }
    if (guestfs_mount(g, EXT4_DEV, "/") == 0) {
        for (size_t i = 0; i < sizeof(ext4_paths) / sizeof(ext4_paths[0]); i++)
            note(g, "ext4", ext4_paths[i]);
        (void)guestfs_umount_all(g);
    }
}

static json_t *load_planted(const char *sub)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s/planted.json", W.tmp, sub);
    return json_load_file(path, 0, NULL);
}

/* The host CPU cannot run KVM guests without vmx/svm (README: "Facts about these machines"). */
static bool host_has_kvm(void)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    bool kvm;

    if (access("/dev/kvm", R_OK | W_OK) < 0 ||
        avtb_read_file("/proc/cpuinfo", 1u << 22, &buf, &len, NULL) != AVTB_OK)
        return false;
    kvm = strstr((char *)buf, " vmx") != NULL || strstr((char *)buf, " svm") != NULL;
    free(buf);
    return kvm;
}

static guestfs_h *launch(const char *ntfs_img, const char *ext4_img)
{
    guestfs_h *g = guestfs_create_flags(GUESTFS_CREATE_NO_ENVIRONMENT);
    double t0 = avtb_now();

    if (g == NULL)
        return NULL;
    guestfs_set_error_handler(g, NULL, NULL);
    if (guestfs_parse_environment(g) < 0 ||
        (getenv("LIBGUESTFS_BACKEND") == NULL && guestfs_set_backend(g, "direct") < 0) ||
        (getenv("LIBGUESTFS_BACKEND_SETTINGS") == NULL && !host_has_kvm() &&
         guestfs_set_backend_setting(g, "force_tcg", "1") < 0) ||
        guestfs_add_drive_opts(g, ntfs_img, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw", -1) < 0 ||
        guestfs_add_drive_opts(g, ext4_img, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw", -1) < 0 ||
        guestfs_launch(g) < 0) {
        fprintf(stderr, "test_plant: cannot launch libguestfs (skipping): %s\n",
                guestfs_last_error(g) ? guestfs_last_error(g) : "no message");
        guestfs_close(g);
        return NULL;
    }
    W.launch_s = avtb_now() - t0;
    return g;
}

static int make_disk(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int r = fd >= 0 && ftruncate(fd, 64 << 20) == 0 ? 0 : -1;

    if (fd >= 0)
        close(fd);
    return r;
}

/* The product the ext4 guest gets: one file over a chunk, a start command, one trigger. */
static avtb_product_file product_file;
static avtb_product product = {.name = (char *)"fixture",
                               .files = &product_file,
                               .nfiles = 1,
                               .start = (char *)"/opt/fixture/bin/scan --daemon",
                               .scan = (char *)"/opt/fixture/bin/scan {path}"};
static avtb_trigger trigger = {.at_ms = 1000, .action = AVTB_ACTION_SCAN, .path = (char *)"/home"};
static avtb_scenario scenario = {
    .name = (char *)"plant-test", .product = &product, .triggers = &trigger, .ntriggers = 1};

static int make_product(void)
{
    static char src[128];
    size_t len = (1u << 20) + 12345;
    char *buf = malloc(len);
    avtb_error err = {0};
    int r;

    if (buf == NULL)
        return -1;
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)(i * 7 + i / 4096);
    snprintf(src, sizeof(src), "%s/scan", W.tmp);
    r = avtb_write_file(src, buf, len, 0755, &err) == AVTB_OK ? 0 : -1;
    avtb_sha256_hex(buf, len, W.product_sha);
    free(buf);
    product_file.src = src;
    product_file.dest = (char *)"/opt/fixture/bin/scan";
    product_file.mode = 0755;
    return r;
}

/* 0: gathered (checks decide); 77: cannot run here; 1: the test could not set up. */
static int gather(void)
{
    avtb_honeydoc *nd[NDOCS(ntfs_docs)], *ed[NDOCS(ext4_docs)], *dup[2] = {NULL, NULL};
    static const char *const sub[] = {"ntfs", "ext4", "dup"};
    char ntfs_img[96], ext4_img[96], ev[3][128];
    guestfs_h *g = NULL;
    double t0;

    snprintf(W.tmp, sizeof(W.tmp), "/var/tmp/avtb-test-plant-XXXXXX");
    if (mkdtemp(W.tmp) == NULL)
        return 1;
    snprintf(ntfs_img, sizeof(ntfs_img), "%s/ntfs.img", W.tmp);
    snprintf(ext4_img, sizeof(ext4_img), "%s/ext4.img", W.tmp);
    if (make_disk(ntfs_img) < 0 || make_disk(ext4_img) < 0 || make_product() < 0 ||
        render(ntfs_docs, NDOCS(ntfs_docs), nd) < 0 || render(ext4_docs, NDOCS(ext4_docs), ed) < 0)
        return 1;
    for (size_t i = 0; i < 3; i++) {
        snprintf(ev[i], sizeof(ev[i]), "%s/%s", W.tmp, sub[i]);
        if (mkdir(ev[i], 0700) < 0)
            return 1;
    }
    g = launch(ntfs_img, ext4_img);
    if (g == NULL)
        return 77;
    t0 = avtb_now();
    if (set_up_disks(g) == 0) {
        avtb_plant_req rn = {
            .root_device = NTFS_DEV, .docs = nd, .ndocs = NDOCS(nd), .evidence_dir = ev[0]};
        avtb_plant_req re = {.root_device = EXT4_DEV,
                             .scenario = &scenario,
                             .docs = ed,
                             .ndocs = NDOCS(ed),
                             .evidence_dir = ev[1],
                             .ca_pem = CA_PEM};
        avtb_plant_req rd = {
            .root_device = NTFS_DEV, .docs = dup, .ndocs = 2, .evidence_dir = ev[2]};
        avtb_error err = {0};

        W.prepare_s = avtb_now() - t0;
        t0 = avtb_now();
        W.ntfs_r = avtb_plant_on(g, &rn, &W.ntfs_err);
        W.plant_ntfs_s = avtb_now() - t0;
        t0 = avtb_now();
        W.ext4_r = avtb_plant_on(g, &re, &W.ext4_err);
        W.plant_ext4_s = avtb_now() - t0;
        /* Two documents whose names differ only in case: one file on NTFS. */
        if (avtb_honeydoc_render("{{token}} a", "/Users/Public/a.txt", 0, 0, 0644, &dup[0], &err) ==
                AVTB_OK &&
            avtb_honeydoc_render("{{token}} b", "/users/public/A.TXT", 0, 0, 0644, &dup[1], &err) ==
                AVTB_OK)
            W.dup_r = avtb_plant_on(g, &rd, &W.dup_err);
        t0 = avtb_now();
        read_back(g);
        W.readback_s = avtb_now() - t0;
    }
    if (guestfs_shutdown(g) < 0 && W.setup_problem == NULL)
        W.setup_problem = strdup("guestfs_shutdown failed");
    guestfs_close(g);
    W.ntfs_planted = load_planted("ntfs");
    W.ext4_planted = load_planted("ext4");
    avtb_honeydoc_free(dup[0]);
    avtb_honeydoc_free(dup[1]);
    fprintf(stderr,
            "test_plant: launch %.1f s, disks %.1f s, plant NTFS %.2f s (%zu documents), "
            "ext4 %.2f s (%zu documents, product, CA), read back %.1f s\n",
            W.launch_s, W.prepare_s, W.plant_ntfs_s, NDOCS(ntfs_docs), W.plant_ext4_s,
            NDOCS(ext4_docs), W.readback_s);
    return 0;
}

START_TEST(set_up_and_planted)
{
    ck_assert_msg(W.setup_problem == NULL, "%s", W.setup_problem);
    ck_assert_msg(W.ntfs_r == AVTB_OK, "NTFS: %s", W.ntfs_err.msg);
    ck_assert_msg(W.ext4_r == AVTB_OK, "ext4: %s", W.ext4_err.msg);
    ck_assert_ptr_nonnull(W.ntfs_planted);
    ck_assert_ptr_nonnull(W.ext4_planted);
}
END_TEST

static json_t *planted_doc(json_t *planted, const char *path)
{
    json_t *docs = json_object_get(planted, "documents"), *d;
    size_t i;

    json_array_foreach(docs, i, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "path")), path) == 0)
            return d;
    }
    ck_abort_msg("planted.json has no document %s", path);
    return NULL;
}

START_TEST(ntfs_paths_find_existing_folders_whatever_the_case)
{
    ck_assert(has_entry("ntfs", "/Users", "Jane"));
    ck_assert(has_entry("ntfs", "/Users", "Public"));
    ck_assert_int_eq(json_array_size(json_object_get(fact("ntfs", "/Users"), "entries")), 2);
    ck_assert_int_eq(json_array_size(json_object_get(fact("ntfs", "/Users/Jane"), "entries")), 1);
    ck_assert_str_eq(fact_type("ntfs", "/Users/Jane/Documents/Q3 forecast.docx"), "file");
    /* missing folders are made, in the case given */
    ck_assert_str_eq(fact_type("ntfs", "/Users/Public/Documents"), "dir");
    ck_assert_str_eq(fact_type("ntfs", "/ProgramData/Contoso/Cache/notes.txt"), "file");
}
END_TEST

START_TEST(ntfs_existing_file_is_replaced_not_doubled)
{
    const tdoc *t = &ntfs_docs[3];

    ck_assert(has_entry("ntfs", "/Users/Jane/Documents", "Report.docx"));
    ck_assert(!has_entry("ntfs", "/Users/Jane/Documents", "report.docx"));
    ck_assert_int_eq(fact_int("ntfs", "/Users/Jane/Documents/Report.docx", "size"),
                     (json_int_t)t->d->len);
    /* a second document at the same name, another case: refused, says why */
    ck_assert_int_eq(W.dup_r, AVTB_ERR_INPUT);
    ck_assert_msg(strstr(W.dup_err.msg, "NTFS ignores case") != NULL, "%s", W.dup_err.msg);
}
END_TEST

START_TEST(ntfs_times_and_content)
{
    static const char *const disk[] = {
        "/Users/Jane/Documents/Q3 forecast.docx",
        "/Users/Public/Documents/shared-budget.xlsx",
        "/ProgramData/Contoso/Cache/notes.txt",
        "/Users/Jane/Documents/Report.docx",
    };

    for (size_t i = 0; i < NDOCS(ntfs_docs); i++) {
        const tdoc *t = &ntfs_docs[i];
        json_t *f = fact("ntfs", disk[i]);

        ck_assert_str_eq(json_string_value(json_object_get(f, "sha256")), t->d->sha256);
        ck_assert_int_eq(fact_int("ntfs", disk[i], "mtime"), t->mtime);
        if (t->atime != 0)
            ck_assert_int_eq(fact_int("ntfs", disk[i], "atime"), t->atime);
        else /* no later than the mtime, so the guest's first read moves it (relatime) */
            ck_assert_int_eq(fact_int("ntfs", disk[i], "atime"), t->mtime);
    }
}
END_TEST

START_TEST(ntfs_planted_json_has_no_owners)
{
    json_t *fs = json_object_get(W.ntfs_planted, "filesystem");
    json_t *d = planted_doc(W.ntfs_planted, ntfs_docs[0].path);

    ck_assert_str_eq(json_string_value(json_object_get(fs, "type")), "ntfs");
    ck_assert(json_is_false(json_object_get(fs, "posix_owners")));
    ck_assert(json_is_null(json_object_get(d, "uid")));
    ck_assert(json_is_null(json_object_get(d, "gid")));
    ck_assert(json_is_null(json_object_get(d, "mode")));
    ck_assert_str_eq(json_string_value(json_object_get(d, "disk_path")),
                     "/Users/Jane/Documents/Q3 forecast.docx");
    ck_assert_str_eq(json_string_value(json_object_get(d, "windows_path")),
                     "C:\\Users\\Jane\\Documents\\Q3 forecast.docx");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(d, "mtime"), "sec")),
                     ntfs_docs[0].mtime);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(d, "atime"), "sec")),
                     ntfs_docs[0].atime);
    ck_assert_str_eq(json_string_value(json_object_get(d, "sha256")), ntfs_docs[0].d->sha256);
    d = planted_doc(W.ntfs_planted, ntfs_docs[2].path);
    ck_assert_str_eq(json_string_value(json_object_get(d, "disk_path")),
                     "/ProgramData/Contoso/Cache/notes.txt");
}
END_TEST

START_TEST(ext4_folders_in_a_home_belong_to_its_user)
{
    static const char *const bob[] = {"/home/bob/Documents", "/home/bob/Documents/Finance",
                                      "/home/bob/Documents/Finance/2025", "/home/bob/Desktop"};

    for (size_t i = 0; i < 4; i++) {
        ck_assert_str_eq(fact_type("ext4", bob[i]), "dir");
        ck_assert_int_eq(fact_int("ext4", bob[i], "uid"), 1001);
        ck_assert_int_eq(fact_int("ext4", bob[i], "gid"), 1001);
        ck_assert_int_eq(fact_int("ext4", bob[i], "mode"), 0755);
    }
    /* a home that did not exist is made for its user; an existing one is left alone */
    ck_assert_int_eq(fact_int("ext4", "/home/carol", "uid"), 1002);
    ck_assert_int_eq(fact_int("ext4", "/home/bob", "mode"), 0750);
}
END_TEST

/* Made folders are dated like the newest document under them; existing ones are left. */
START_TEST(made_folders_are_dated_like_their_documents)
{
    static const struct {
        const char *disk, *path;
        json_int_t mtime;
    } want[] = {
        {"ext4", "/home/bob/Documents/Finance/2025", 1735000000},
        {"ext4", "/home/bob/Documents/Finance", 1735000000},
        {"ext4", "/home/bob/Documents", 1735000000},
        {"ext4", "/home/bob/Desktop", 1730000000},
        {"ext4", "/home/carol", 1700000000},
        {"ext4", "/srv/share", 1710000000},
        {"ext4", "/srv", 1710000000},
        {"ntfs", "/Users/Public/Documents", 1690000000},
        {"ntfs", "/ProgramData/Contoso/Cache", 1650000000},
        {"ntfs", "/ProgramData/Contoso", 1650000000},
    };
    json_t *made = json_object_get(W.ext4_planted, "directories");

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        ck_assert_msg(fact_int(want[i].disk, want[i].path, "mtime") == want[i].mtime,
                      "%s:%s mtime %lld", want[i].disk, want[i].path,
                      (long long)fact_int(want[i].disk, want[i].path, "mtime"));
    ck_assert_int_gt(fact_int("ext4", "/home/bob", "mtime"), 1790000000);
    ck_assert_int_gt(fact_int("ntfs", "/Users/Jane/Documents", "mtime"), 1790000000);
    /* ext4: Documents, Finance, 2025, Desktop, carol, srv, share; /opt, /opt/fixture,
     * /opt/fixture/bin; /avtb, product, cmd; /usr/local/share/ca-certificates and its
     * parents that the test's disk lacks */
    ck_assert_int_ge(json_array_size(made), 13);
    ck_assert_int_eq(json_array_size(json_object_get(W.ntfs_planted, "directories")), 3);
}
END_TEST

START_TEST(ext4_folders_elsewhere_belong_to_root)
{
    ck_assert_int_eq(fact_int("ext4", "/srv", "uid"), 0);
    ck_assert_int_eq(fact_int("ext4", "/srv/share", "uid"), 0);
    ck_assert_int_eq(fact_int("ext4", "/srv/share", "gid"), 0);
    ck_assert_int_eq(fact_int("ext4", "/srv/share/handbook.pdf", "uid"), 1001);
}
END_TEST

START_TEST(ext4_documents_owner_mode_times_content)
{
    for (size_t i = 0; i < NDOCS(ext4_docs); i++) {
        const tdoc *t = &ext4_docs[i];
        json_t *f = fact("ext4", t->path);

        ck_assert_str_eq(json_string_value(json_object_get(f, "sha256")), t->d->sha256);
        ck_assert_int_eq(fact_int("ext4", t->path, "size"), (json_int_t)t->d->len);
        ck_assert_int_eq(fact_int("ext4", t->path, "uid"), t->uid);
        ck_assert_int_eq(fact_int("ext4", t->path, "gid"), t->gid);
        ck_assert_int_eq(fact_int("ext4", t->path, "mode"), t->mode);
        ck_assert_int_eq(fact_int("ext4", t->path, "mtime"), t->mtime);
        if (t->atime != 0)
            ck_assert_int_eq(fact_int("ext4", t->path, "atime"), t->atime);
    }
    ck_assert_int_gt(ext4_docs[4].d->len, 2u << 20); /* the chunked one */
}
END_TEST

START_TEST(ext4_planted_json_records_owners_and_times)
{
    json_t *fs = json_object_get(W.ext4_planted, "filesystem");
    json_t *timings = json_object_get(W.ext4_planted, "timings");

    ck_assert_str_eq(json_string_value(json_object_get(fs, "type")), "ext4");
    ck_assert(json_is_true(json_object_get(fs, "posix_owners")));
    ck_assert_int_eq(json_array_size(json_object_get(W.ext4_planted, "documents")),
                     NDOCS(ext4_docs));
    for (size_t i = 0; i < NDOCS(ext4_docs); i++) {
        const tdoc *t = &ext4_docs[i];
        json_t *d = planted_doc(W.ext4_planted, t->path);

        ck_assert_str_eq(json_string_value(json_object_get(d, "token")), t->d->token);
        ck_assert_str_eq(json_string_value(json_object_get(d, "disk_path")), t->path);
        ck_assert_int_eq(json_integer_value(json_object_get(d, "uid")), t->uid);
        ck_assert_int_eq(json_integer_value(json_object_get(d, "mode")), t->mode);
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(d, "mtime"), "sec")),
                         t->mtime);
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(d, "mtime"), "nsec")),
                         0);
        if (t->atime != 0)
            ck_assert_int_eq(
                json_integer_value(json_object_get(json_object_get(d, "atime"), "sec")), t->atime);
        ck_assert_str_eq(json_string_value(json_object_get(d, "sha256")), t->d->sha256);
        ck_assert_ptr_null(json_object_get(d, "windows_path"));
    }
    ck_assert(json_is_real(json_object_get(timings, "documents_s")));
}
END_TEST

START_TEST(ext4_product_scripts_and_ca)
{
    json_t *files = json_object_get(W.ext4_planted, "product_files");
    json_t *bundle = fact("ext4", "/etc/ssl/certs/ca-certificates.crt");

    ck_assert_str_eq(
        json_string_value(json_object_get(fact("ext4", "/opt/fixture/bin/scan"), "sha256")),
        W.product_sha);
    ck_assert_int_eq(fact_int("ext4", "/opt/fixture/bin/scan", "mode"), 0755);
    ck_assert_int_eq(fact_int("ext4", "/opt/fixture/bin/scan", "uid"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(files, 0), "sha256")),
                     W.product_sha);
    ck_assert_str_eq(fact_type("ext4", "/avtb/product/cmd/start"), "file");
    ck_assert_int_eq(fact_int("ext4", "/avtb/product/cmd/trigger-1", "mode"), 0755);
    /* appended to the image's bundle, not replacing it */
    ck_assert_int_eq(fact_int("ext4", "/etc/ssl/certs/ca-certificates.crt", "size"),
                     15 + (json_int_t)strlen(CA_PEM));
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(bundle, "text_head")), "EXISTING ROOTS\n---"));
    ck_assert_int_eq(fact_int("ext4", "/usr/local/share/ca-certificates/avtb-run-ca.crt", "size"),
                     (json_int_t)strlen(CA_PEM));
}
END_TEST

static Suite *guestfs_suite(void)
{
    Suite *s = suite_create("plant (libguestfs)");
    TCase *a = tcase_create("run");
    TCase *n = tcase_create("ntfs");
    TCase *e = tcase_create("ext4");

    tcase_add_test(a, set_up_and_planted);
    tcase_add_test(n, ntfs_paths_find_existing_folders_whatever_the_case);
    tcase_add_test(n, ntfs_existing_file_is_replaced_not_doubled);
    tcase_add_test(n, ntfs_times_and_content);
    tcase_add_test(n, ntfs_planted_json_has_no_owners);
    tcase_add_test(e, ext4_folders_in_a_home_belong_to_its_user);
    tcase_add_test(e, ext4_folders_elsewhere_belong_to_root);
    tcase_add_test(e, ext4_documents_owner_mode_times_content);
    tcase_add_test(e, ext4_planted_json_records_owners_and_times);
    tcase_add_test(e, ext4_product_scripts_and_ca);
    tcase_add_test(e, made_folders_are_dated_like_their_documents);
    suite_add_tcase(s, a);
    suite_add_tcase(s, n);
    suite_add_tcase(s, e);
    return s;
}

int main(int argc, char **argv)
{
    bool gfs = argc > 1 && strcmp(argv[1], "guestfs") == 0;
    SRunner *sr;
    int failed;

    if (gfs) {
        int g;

        if (geteuid() != 0) {
            fprintf(stderr, "test_plant: skipped: libguestfs planting needs root\n");
            return 77;
        }
        W.facts = json_object();
        g = gather();
        if (g != 0) {
            fprintf(stderr, "test_plant: %s\n",
                    g == 77 ? "skipped" : "cannot set up (temporary files, documents)");
            return g;
        }
    }
    sr = srunner_create(gfs ? guestfs_suite() : unit_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (gfs) {
        avtb_error err = {0};

        for (size_t i = 0; i < NDOCS(ntfs_docs); i++)
            avtb_honeydoc_free(ntfs_docs[i].d);
        for (size_t i = 0; i < NDOCS(ext4_docs); i++)
            avtb_honeydoc_free(ext4_docs[i].d);
        json_decref(W.facts);
        json_decref(W.ntfs_planted);
        json_decref(W.ext4_planted);
        free(W.setup_problem);
        if (failed == 0 && avtb_rm_rf(W.tmp, &err) != AVTB_OK)
            fprintf(stderr, "test_plant: %s\n", err.msg);
        else if (failed != 0)
            fprintf(stderr, "test_plant: disks and planted.json kept in %s\n", W.tmp);
    }
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
