/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Forensics (collectors/forensics.c). One program, two suites:
 *   test_forensics            the comparison, name and kind rules, and a
 *                             run whose overlay is missing (ctest label unit)
 *   test_forensics guestfs    an ext4 disk the test makes and plants into
 *                             with avtb_plant_on, changed as a product
 *                             would (a read, a staging tar.gz, a quarantine
 *                             copy, a deletion, an edit, a chmod, unrelated
 *                             files), then avtb_forensics_on on it, once
 *                             more with max_files 1, and avtb_forensics_run
 *                             on the same qcow2 (label guestfs; root, ~60 s).
 * The guestfs suite exits 77 (skipped) when not root or when the appliance
 * cannot launch. All libguestfs work happens in main before the checks run:
 * a handle does not survive Check's fork, and one launch is 15-25 s here.
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <guestfs.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collectors/canaries.h"
#include "collectors/forensics.h"
#include "collectors/guestfs.h"
#include "common/log.h"
#include "common/util.h"
#include "orchestrator/plant.h"

/* ---- unit: comparison ------------------------------------------------------- */

static avtb_forensics_stat planted(void)
{
    avtb_forensics_stat s = {.present = true,
                             .regular = true,
                             .size = 100,
                             .atime = {1700000000, 0},
                             .mtime = {1690000000, 0},
                             .ctime = {1795000000, 123},
                             .owners = true,
                             .uid = 1000,
                             .gid = 1000,
                             .mode = 0600};

    memset(s.sha256, 'a', 64);
    return s;
}

START_TEST(unchanged_document)
{
    avtb_forensics_stat b = planted(), a = planted();
    unsigned ch = 99;

    ck_assert_int_eq(avtb_forensics_compare(&b, &a, &ch), AVTB_DOC_UNCHANGED);
    ck_assert_uint_eq(ch, 0);
}
END_TEST

START_TEST(a_later_atime_is_a_read)
{
    avtb_forensics_stat b = planted(), a = planted();
    unsigned ch;

    a.atime.sec = 1795000100;
    ck_assert_int_eq(avtb_forensics_compare(&b, &a, &ch), AVTB_DOC_READ);
    ck_assert_uint_eq(ch, AVTB_CHANGE_ATIME);
    /* a read beats a touch: both moved */
    a.ctime.nsec = 124;
    ck_assert_int_eq(avtb_forensics_compare(&b, &a, &ch), AVTB_DOC_READ);
    ck_assert_uint_eq(ch, AVTB_CHANGE_ATIME | AVTB_CHANGE_CTIME);
    /* nanoseconds count */
    a = planted();
    a.atime.nsec = 1;
    ck_assert_int_eq(avtb_forensics_compare(&b, &a, &ch), AVTB_DOC_READ);
}
END_TEST

START_TEST(an_earlier_atime_is_no_read)
{
    avtb_forensics_stat b = planted(), a = planted();
    unsigned ch;

    /* put back by hand (touch -a -d ...): changes ctime, not a read */
    a.atime.sec = 1600000000;
    a.ctime.sec++;
    ck_assert_int_eq(avtb_forensics_compare(&b, &a, &ch), AVTB_DOC_TOUCHED);
    ck_assert_uint_eq(ch, AVTB_CHANGE_CTIME);
}
END_TEST

START_TEST(times_owner_and_mode_touch)
{
    avtb_forensics_stat b = planted(), a = planted();
    unsigned ch;

    a.mtime.sec = 1690000001;
    ck_assert_int_eq(avtb_forensics_compare(&b, &a, &ch), AVTB_DOC_TOUCHED);
    ck_assert_uint_eq(ch, AVTB_CHANGE_MTIME);
    a = planted();
    a.ctime.sec++;
    a.mode = 0644;
    a.uid = 0;
    ck_assert_int_eq(avtb_forensics_compare(&b, &a, &ch), AVTB_DOC_TOUCHED);
    ck_assert_uint_eq(ch, AVTB_CHANGE_CTIME | AVTB_CHANGE_OWNER | AVTB_CHANGE_MODE);
    /* NTFS: no owners recorded, so none compared */
    b.owners = false;
    ck_assert_int_eq(avtb_forensics_compare(&b, &a, &ch), AVTB_DOC_TOUCHED);
    ck_assert_uint_eq(ch, AVTB_CHANGE_CTIME);
}
END_TEST

START_TEST(size_content_and_type_change)
{
    avtb_forensics_stat b = planted(), a = planted();
    unsigned ch;

    a.sha256[0] = 'b';
    a.mtime.sec++;
    a.ctime.sec++;
    ck_assert_int_eq(avtb_forensics_compare(&b, &a, &ch), AVTB_DOC_CHANGED);
    ck_assert_uint_eq(ch, AVTB_CHANGE_CONTENT | AVTB_CHANGE_MTIME | AVTB_CHANGE_CTIME);
    a.size = 101;
    a.atime.sec++;
    ck_assert_int_eq(avtb_forensics_compare(&b, &a, &ch), AVTB_DOC_CHANGED);
    ck_assert(ch & AVTB_CHANGE_SIZE);
    ck_assert(ch & AVTB_CHANGE_ATIME);
    /* replaced by a symbolic link (lstat): a type change, no content compared */
    a = planted();
    a.regular = false;
    a.sha256[0] = '\0';
    a.size = 12;
    ck_assert_int_eq(avtb_forensics_compare(&b, &a, &ch), AVTB_DOC_CHANGED);
    ck_assert_uint_eq(ch, AVTB_CHANGE_TYPE | AVTB_CHANGE_SIZE);
}
END_TEST

START_TEST(missing_is_vanished)
{
    avtb_forensics_stat b = planted(), a = {0};
    unsigned ch = 7;

    ck_assert_int_eq(avtb_forensics_compare(&b, &a, &ch), AVTB_DOC_VANISHED);
    ck_assert_uint_eq(ch, 0);
}
END_TEST

START_TEST(state_and_change_names)
{
    ck_assert_str_eq(avtb_forensics_state_name(AVTB_DOC_UNCHANGED), "unchanged");
    ck_assert_str_eq(avtb_forensics_state_name(AVTB_DOC_READ), "read");
    ck_assert_str_eq(avtb_forensics_state_name(AVTB_DOC_TOUCHED), "touched");
    ck_assert_str_eq(avtb_forensics_state_name(AVTB_DOC_CHANGED), "changed");
    ck_assert_str_eq(avtb_forensics_state_name(AVTB_DOC_VANISHED), "vanished");
    ck_assert_str_eq(avtb_forensics_change_name(AVTB_CHANGE_ATIME), "atime");
    ck_assert_str_eq(avtb_forensics_change_name(AVTB_CHANGE_CONTENT), "content");
    ck_assert_str_eq(avtb_forensics_change_name(AVTB_CHANGE_MODE), "mode");
    ck_assert_ptr_null(avtb_forensics_change_name(AVTB_CHANGE_ATIME | AVTB_CHANGE_MTIME));
    ck_assert_ptr_null(avtb_forensics_change_name(0));
}
END_TEST

/* ---- unit: names ------------------------------------------------------------ */

static void utf8_is(const char *in, size_t len, const char *want, bool want_lossy)
{
    bool lossy = !want_lossy;
    char *out = avtb_forensics_utf8(in, len, &lossy);

    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out, want);
    ck_assert_msg(lossy == want_lossy, "lossy for %s", want);
    {
        json_t *j = json_string(out); /* jansson takes whatever comes out */

        ck_assert_ptr_nonnull(j);
        json_decref(j);
    }
    free(out);
}

START_TEST(valid_utf8_is_kept)
{
    utf8_is("report.docx", 11, "report.docx", false);
    utf8_is("Bericht \xC3\xBC\xE2\x82\xAC \xF0\x9F\x93\x84", 18,
            "Bericht \xC3\xBC\xE2\x82\xAC \xF0\x9F\x93\x84", false);
    utf8_is("new\nline\ttab", 12, "new\nline\ttab", false);
    utf8_is("", 0, "", false);
}
END_TEST

START_TEST(invalid_bytes_become_replacement_characters)
{
#define FFFD "\xEF\xBF\xBD"
    utf8_is("bad\xFF\xFEname", 9, "bad" FFFD FFFD "name", true);
    utf8_is("\xC0\x80", 2, FFFD FFFD, true);                   /* overlong NUL */
    utf8_is("\xED\xA0\x80", 3, FFFD FFFD FFFD, true);          /* a surrogate */
    utf8_is("\xF4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD, true); /* past U+10FFFF */
    utf8_is("cut \xE2\x82", 6, "cut " FFFD FFFD, true);        /* cut short at the end */
    utf8_is("\x80x", 2, FFFD "x", true);                       /* stray continuation */
    utf8_is("a\0b", 3, "a" FFFD "b", true);                    /* NUL: jansson would cut there */
#undef FFFD
}
END_TEST

START_TEST(safe_names_for_the_evidence_folder)
{
    char out[65], longname[200];

    avtb_forensics_safe_name("stage.tar.gz", out);
    ck_assert_str_eq(out, "stage.tar.gz");
    avtb_forensics_safe_name("bad\xFF\nname 1.txt", out);
    ck_assert_str_eq(out, "bad__name_1.txt");
    avtb_forensics_safe_name("", out);
    ck_assert_str_eq(out, "file");
    avtb_forensics_safe_name("..", out);
    ck_assert_str_eq(out, "file");
    avtb_forensics_safe_name("../../etc", out);
    ck_assert_str_eq(out, ".._.._etc");
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    avtb_forensics_safe_name(longname, out);
    ck_assert_uint_eq(strlen(out), 64);
}
END_TEST

/* ---- unit: kinds -------------------------------------------------------------- */

START_TEST(kinds)
{
    avtb_scan_hit h[2] = {{.kind = AVTB_HIT_CONTENT, .encoding = {"base64"}, .nencoding = 1},
                          {.kind = AVTB_HIT_CONTENT, .encoding = {"gzip", "tar"}, .nencoding = 2}};

    ck_assert_str_eq(avtb_forensics_kind(true, h, 2), "copy");
    ck_assert_str_eq(avtb_forensics_kind(false, h, 2), "archive");
    ck_assert_str_eq(avtb_forensics_kind(false, h, 1), "derived");
    ck_assert_str_eq(avtb_forensics_kind(false, NULL, 0), "derived");
    for (const char *const *s =
             (const char *const[]){"zip", "7z", "tar", "gzip", "bzip2", "xz", "zstd", "zlib", "lz4",
                                   "rar", "cpio", "brotli", "deflate", NULL};
         *s != NULL; s++)
        ck_assert_msg(avtb_forensics_archive_step(*s), "%s", *s);
    for (const char *const *s = (const char *const[]){"base64", "hex", "utf16le", "percent",
                                                      "sha256", "file-name", NULL};
         *s != NULL; s++)
        ck_assert_msg(!avtb_forensics_archive_step(*s), "%s", *s);
}
END_TEST

/* ---- unit: a run that cannot start still leaves its record ---------------------- */

static json_t *load_json(const char *dir, const char *name)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return json_load_file(path, 0, NULL);
}

START_TEST(missing_overlay_fails_with_a_record)
{
    char dir[] = "/tmp/avtb-test-forensics-XXXXXX";
    const char *tokens[] = {"AVTBmissingoverlay01"};
    avtb_patterns *p = NULL;
    avtb_forensics_summary sum = {.documents = 9};
    avtb_error err = {0};
    json_t *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(avtb_patterns_new(tokens, 1, NULL, 0, &p, &err), AVTB_OK);
    {
        avtb_forensics_req req = {.overlay = "/nonexistent/avtb/overlay.qcow2",
                                  .root_device = "/dev/sda",
                                  .tcg = true,
                                  .evidence_dir = dir,
                                  .patterns = p,
                                  .since = 1795000000};

        ck_assert_int_eq(avtb_forensics_run(&req, &sum, &err), AVTB_ERR_NOT_FOUND);
    }
    ck_assert_msg(strstr(err.msg, "/nonexistent/avtb/overlay.qcow2") != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "No such file") != NULL, "%s", err.msg);
    ck_assert_uint_eq(sum.documents, 0); /* cleared on entry */
    f = load_json(dir, "forensics.json");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(json_integer_value(json_object_get(f, "format")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(f, "status")), "failed");
    ck_assert_str_eq(json_string_value(json_object_get(f, "reason")), err.msg);
    ck_assert_int_eq(json_integer_value(json_object_get(f, "since")), 1795000000);
    json_decref(f);
    avtb_patterns_free(p);
    ck_assert_int_eq(avtb_rm_rf(dir, &err), AVTB_OK);
}
END_TEST

static Suite *unit_suite(void)
{
    Suite *s = suite_create("forensics");
    TCase *c = tcase_create("compare");
    TCase *n = tcase_create("names");
    TCase *k = tcase_create("kinds");
    TCase *f = tcase_create("failure");

    tcase_add_test(c, unchanged_document);
    tcase_add_test(c, a_later_atime_is_a_read);
    tcase_add_test(c, an_earlier_atime_is_no_read);
    tcase_add_test(c, times_owner_and_mode_touch);
    tcase_add_test(c, size_content_and_type_change);
    tcase_add_test(c, missing_is_vanished);
    tcase_add_test(c, state_and_change_names);
    tcase_add_test(n, valid_utf8_is_kept);
    tcase_add_test(n, invalid_bytes_become_replacement_characters);
    tcase_add_test(n, safe_names_for_the_evidence_folder);
    tcase_add_test(k, kinds);
    tcase_add_test(f, missing_overlay_fails_with_a_record);
    suite_add_tcase(s, c);
    suite_add_tcase(s, n);
    suite_add_tcase(s, k);
    suite_add_tcase(s, f);
    return s;
}

/* ---- guestfs: plant, act as a product, look ------------------------------------ */

#define DEV       "/dev/sda"
#define STAGE     "/var/tmp/.stage/stage.tar.gz"
#define QUAR      "/var/quarantine/5f1e.bin"
#define HOSTILE   "/var/tmp/.stage/bad\xff\nname.txt"
#define AVLOG     "/var/log/av/scan.log"
#define TAR_ENTRY "home/bob/Documents/Finance/budget.xlsx"

enum { D_READ, D_ARCHIVED, D_QUARANTINED, D_DELETED, D_EDITED, D_CHMOD, D_SPARE, NDOCS };

static struct {
    const char *path;
    size_t size;
    int64_t mtime, atime;
    avtb_honeydoc *d;
} docs[NDOCS] = {
    {"/home/bob/Documents/read-me.txt", 3000, 1690000000, 1700000000, NULL},
    {"/home/bob/Documents/Finance/budget.xlsx", 50000, 1735000000, 1736000000, NULL},
    {"/home/bob/Desktop/invoice.pdf", 8000, 1720000000, 1720000500, NULL},
    {"/home/bob/Documents/old-notes.txt", 2000, 1710000000, 1711000000, NULL},
    {"/srv/share/handbook.txt", 6000, 1700000000, 1700000900, NULL},
    {"/home/bob/Documents/minutes.txt", 2500, 1705000000, 1706000000, NULL},
    {"/home/bob/Documents/Finance/untouched.txt", 1500, 1730000000, 1731000000, NULL},
};

/* Everything the guestfs checks look at, gathered before they run. */
static struct {
    char tmp[64], disk[96], ev_on[96], ev_lim[96], ev_run[96], ev_none[96];
    char tar_sha[65], disk_sha_before[65], disk_sha_after[65];
    int64_t since;
    size_t changed; /* regular files the test changed outside the documents */
    double launch_s, setup_s, on_s, lim_s, run_s;
    avtb_err on_r, lim_r, run_r, none_r;
    avtb_error on_err, lim_err, run_err, none_err;
    avtb_forensics_summary on_sum, lim_sum, run_sum;
    json_t *on, *lim, *run, *none;
    char *setup_problem; /* the test's own set-up failed (not forensics.c): the checks fail */
} W;

static int render_docs(void)
{
    static const char para[] = "Figures for the board, not for circulation. ";

    for (size_t i = 0; i < NDOCS; i++) {
        avtb_error err = {0};
        char *t = malloc(docs[i].size + 1);
        size_t n;

        if (t == NULL)
            return -1;
        n = (size_t)snprintf(t, docs[i].size + 1, "{{token}}\n");
        while (n < docs[i].size) {
            size_t k = docs[i].size - n < sizeof(para) - 1 ? docs[i].size - n : sizeof(para) - 1;

            memcpy(t + n, para, k);
            n += k;
        }
        t[docs[i].size] = '\0';
        if (avtb_honeydoc_render(t, docs[i].path, 1001, 1001, 0600, &docs[i].d, &err) != AVTB_OK) {
            fprintf(stderr, "test_forensics: render %s: %s\n", docs[i].path, err.msg);
            free(t);
            return -1;
        }
        free(t);
        docs[i].d->mtime = docs[i].mtime;
        docs[i].d->atime = docs[i].atime;
    }
    return 0;
}

/* The staging archive a product would make: the document and a note, tar.gz, on the host. */
static int make_tar(const char *path)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    static const char note[] = "collected by agent 7\n";
    int r = -1;

    if (a == NULL || e == NULL || archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_open_filename(a, path) != ARCHIVE_OK)
        goto out;
    archive_entry_set_pathname(e, "note.txt");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, sizeof(note) - 1);
    if (archive_write_header(a, e) != ARCHIVE_OK ||
        archive_write_data(a, note, sizeof(note) - 1) != (la_ssize_t)(sizeof(note) - 1))
        goto out;
    archive_entry_clear(e);
    archive_entry_set_pathname(e, TAR_ENTRY);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0600);
    archive_entry_set_size(e, (la_int64_t)docs[D_ARCHIVED].d->len);
    if (archive_write_header(a, e) != ARCHIVE_OK ||
        archive_write_data(a, docs[D_ARCHIVED].d->content, docs[D_ARCHIVED].d->len) !=
            (la_ssize_t)docs[D_ARCHIVED].d->len ||
        archive_write_close(a) != ARCHIVE_OK)
        goto out;
    r = 0;
out:
    archive_entry_free(e);
    archive_write_free(a);
    return r;
}

#define GFS(call)                                                                                  \
    do {                                                                                           \
        if ((call) < 0) {                                                                          \
            if (asprintf(&W.setup_problem, "%s: %s", #call, guestfs_last_error(g)) < 0)            \
                W.setup_problem = NULL;                                                            \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

static int write_changed(guestfs_h *g, const char *path, const char *text)
{
    GFS(guestfs_write(g, path, text, strlen(text)));
    W.changed++;
    return 0;
}

/* What a product does to the disk during a run; since is the appliance's clock before it. */
static int act(guestfs_h *g, const char *tar)
{
    struct guestfs_statns *st;
    char *buf, b64[256], line[256];
    size_t got;
    unsigned char raw[64];
    int n;

    GFS(guestfs_mount(g, DEV, "/"));
    /* The appliance's clock, which stamps the changes. */
    GFS(write_changed(g, "/var/tmp/probe", "clock"));
    st = guestfs_lstatns(g, "/var/tmp/probe");
    if (st == NULL)
        GFS(-1);
    W.since = st->st_ctime_sec;
    guestfs_free_statns(st);
    /* 1. a read: relatime moves the backdated atime, nothing else */
    buf = guestfs_pread(g, docs[D_READ].path, 100, 0, &got);
    if (buf == NULL)
        GFS(-1);
    free(buf);
    /* 2. staged in a tar.gz (made on the host) */
    GFS(guestfs_mkdir_p(g, "/var/tmp/.stage"));
    GFS(guestfs_upload(g, tar, STAGE));
    W.changed++;
    /* 3. quarantined: a verbatim copy (cp reads it: atime) */
    GFS(guestfs_mkdir_p(g, "/var/quarantine"));
    GFS(guestfs_cp(g, docs[D_QUARANTINED].path, QUAR));
    W.changed++;
    /* 4. deleted; 5. edited; 6. chmod */
    GFS(guestfs_rm(g, docs[D_DELETED].path));
    GFS(guestfs_write_append(g, docs[D_EDITED].path, "\nedited", 7));
    GFS(guestfs_chmod(g, 0644, docs[D_CHMOD].path));
    /* A token in base64 under a name that is not UTF-8 and holds a newline. */
    memcpy(raw, docs[D_EDITED].d->token, AVTB_TOKEN_LEN);
    memcpy(raw + AVTB_TOKEN_LEN, " exfil", 6);
    EVP_EncodeBlock((unsigned char *)b64, raw, AVTB_TOKEN_LEN + 6);
    n = snprintf(line, sizeof(line), "payload=%s\n", b64);
    GFS(guestfs_write(g, HOSTILE, line, (size_t)n));
    W.changed++;
    /* The product's log names the deleted document by its SHA-256 (metadata). */
    GFS(guestfs_mkdir_p(g, "/var/log/av"));
    n = snprintf(line, sizeof(line), "removed sha256=%s\n", docs[D_DELETED].d->sha256);
    GFS(write_changed(g, AVLOG, line));
    /* Unrelated changes without tokens. */
    GFS(write_changed(g, "/var/log/syslog", "Nov 26 avtbd[1]: scan finished, 7 objects\n"));
    GFS(write_changed(g, "/var/tmp/.stage/notes.txt", "todo: upload\n"));
    GFS(guestfs_mkdir_p(g, "/home/bob/.cache/av"));
    GFS(guestfs_fill(g, 0x5a, 300000, "/home/bob/.cache/av/db.bin"));
    W.changed++;
    GFS(guestfs_umount_all(g));
    return 0;
}

static int plant(guestfs_h *g)
{
    avtb_honeydoc *d[NDOCS];
    avtb_plant_req req = {.root_device = DEV, .docs = d, .ndocs = NDOCS, .evidence_dir = W.ev_on};
    avtb_error err = {0};

    for (size_t i = 0; i < NDOCS; i++)
        d[i] = docs[i].d;
    GFS(guestfs_mkfs(g, "ext4", DEV));
    GFS(guestfs_mount(g, DEV, "/"));
    GFS(guestfs_mkdir_p(g, "/home/bob"));
    GFS(guestfs_chown(g, 1001, 1001, "/home/bob"));
    GFS(guestfs_mkdir_p(g, "/var/tmp"));
    GFS(guestfs_umount_all(g));
    if (avtb_plant_on(g, &req, &err) != AVTB_OK) {
        if (asprintf(&W.setup_problem, "planting: %s", err.msg) < 0)
            W.setup_problem = NULL;
        return -1;
    }
    return 0;
}

static int copy_planted(const char *to)
{
    char src[128], dst[128];
    uint8_t *buf = NULL;
    size_t len = 0;
    avtb_error err = {0};
    int r;

    snprintf(src, sizeof(src), "%s/planted.json", W.ev_on);
    snprintf(dst, sizeof(dst), "%s/planted.json", to);
    r = avtb_read_file(src, 1u << 20, &buf, &len, &err) == AVTB_OK &&
                avtb_write_file(dst, buf, len, 0644, &err) == AVTB_OK
            ? 0
            : -1;
    free(buf);
    return r;
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

static avtb_patterns *patterns(const char **token_docs, avtb_error *err)
{
    avtb_canaries *c = avtb_canaries_new();
    avtb_patterns *p = NULL;

    for (size_t i = 0; c != NULL && i < NDOCS; i++) {
        const avtb_honeydoc *d = docs[i].d;

        if (avtb_canaries_add(c, d->token, d->guest_path, d->md5, d->sha1, d->sha256, err) !=
            AVTB_OK)
            goto out;
    }
    if (c != NULL && avtb_canaries_compile(c, &p, err) == AVTB_OK)
        for (size_t i = 0; i < avtb_canaries_ntokens(c); i++)
            token_docs[i] = avtb_canaries_token_docs(c)[i] ? docs[i].path : NULL;
out:
    avtb_canaries_free(c);
    return p;
}

/* 0: gathered (checks decide); 77: cannot run here; 1: the test could not set up. */
static int gather(void)
{
    const char *token_docs[NDOCS] = {0};
    char tar[96];
    avtb_error err = {0};
    avtb_patterns *p = NULL;
    guestfs_h *g = NULL;
    int spawned = 0;
    double t0;

    snprintf(W.tmp, sizeof(W.tmp), "/var/tmp/avtb-test-forensics-XXXXXX");
    if (mkdtemp(W.tmp) == NULL)
        return 1;
    snprintf(W.disk, sizeof(W.disk), "%s/disk.qcow2", W.tmp);
    snprintf(tar, sizeof(tar), "%s/stage.tar.gz", W.tmp);
    snprintf(W.ev_on, sizeof(W.ev_on), "%s/on", W.tmp);
    snprintf(W.ev_lim, sizeof(W.ev_lim), "%s/limited", W.tmp);
    snprintf(W.ev_run, sizeof(W.ev_run), "%s/run", W.tmp);
    snprintf(W.ev_none, sizeof(W.ev_none), "%s/none", W.tmp);
    if (mkdir(W.ev_on, 0700) < 0 || mkdir(W.ev_lim, 0700) < 0 || mkdir(W.ev_run, 0700) < 0 ||
        mkdir(W.ev_none, 0700) < 0 || render_docs() < 0 || make_tar(tar) < 0 ||
        avtb_sha256_file(tar, W.tar_sha, &err) != AVTB_OK)
        return 1;
    {
        const char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", W.disk, "64M", NULL};

        if (avtb_spawn(argv, 60000, NULL, &spawned, &err) != AVTB_OK || spawned != 0) {
            fprintf(stderr, "test_forensics: qemu-img: %s\n", err.msg);
            return 1;
        }
    }
    p = patterns(token_docs, &err);
    if (p == NULL) {
        fprintf(stderr, "test_forensics: patterns: %s\n", err.msg);
        return 1;
    }
    t0 = avtb_now();
    if (avtb_guestfs_open(W.disk, false, !host_has_kvm(), &g, &err) != AVTB_OK) {
        fprintf(stderr, "test_forensics: cannot launch libguestfs (skipping): %s\n", err.msg);
        avtb_patterns_free(p);
        return 77;
    }
    W.launch_s = avtb_now() - t0;
    t0 = avtb_now();
    if (plant(g) == 0 && act(g, tar) == 0 && copy_planted(W.ev_lim) == 0 &&
        copy_planted(W.ev_run) == 0) {
        avtb_forensics_req req = {.root_device = DEV,
                                  .evidence_dir = W.ev_on,
                                  .patterns = p,
                                  .token_docs = token_docs,
                                  .since = W.since};

        W.setup_s = avtb_now() - t0;
        t0 = avtb_now();
        W.on_r = avtb_forensics_on(g, &req, &W.on_sum, &W.on_err);
        W.on_s = avtb_now() - t0;
        req.evidence_dir = W.ev_lim;
        req.limits.max_files = 1;
        t0 = avtb_now();
        W.lim_r = avtb_forensics_on(g, &req, &W.lim_sum, &W.lim_err);
        W.lim_s = avtb_now() - t0;
        req.evidence_dir = W.ev_none; /* no planted.json there */
        req.limits.max_files = 0;
        W.none_r = avtb_forensics_on(g, &req, NULL, &W.none_err);
    }
    if (guestfs_shutdown(g) < 0 && W.setup_problem == NULL)
        W.setup_problem = strdup("guestfs_shutdown failed");
    guestfs_close(g);
    /* The launch path, read-only: the qcow2 must not change. */
    if (W.setup_problem == NULL && avtb_sha256_file(W.disk, W.disk_sha_before, &err) == AVTB_OK) {
        avtb_forensics_req req = {.overlay = W.disk,
                                  .root_device = DEV,
                                  .tcg = !host_has_kvm(),
                                  .evidence_dir = W.ev_run,
                                  .patterns = p,
                                  .token_docs = token_docs,
                                  .since = W.since};

        t0 = avtb_now();
        W.run_r = avtb_forensics_run(&req, &W.run_sum, &W.run_err);
        W.run_s = avtb_now() - t0;
        if (avtb_sha256_file(W.disk, W.disk_sha_after, &err) != AVTB_OK)
            W.disk_sha_after[0] = '\0';
    }
    avtb_patterns_free(p);
    W.on = load_json(W.ev_on, "forensics.json");
    W.lim = load_json(W.ev_lim, "forensics.json");
    W.run = load_json(W.ev_run, "forensics.json");
    W.none = load_json(W.ev_none, "forensics.json");
    fprintf(stderr,
            "test_forensics: launch %.1f s, set-up %.1f s, forensics_on %.2f s, with max_files 1 "
            "%.2f s, forensics_run %.1f s\n",
            W.launch_s, W.setup_s, W.on_s, W.lim_s, W.run_s);
    return 0;
}

/* ---- guestfs: checks ------------------------------------------------------------- */

static json_t *doc_record(json_t *f, size_t i)
{
    json_t *d;
    size_t k;

    json_array_foreach(json_object_get(f, "documents"), k, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "path")), docs[i].path) == 0)
            return d;
    }
    ck_abort_msg("forensics.json has no document %s", docs[i].path);
    return NULL;
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    ck_assert_msg(s != NULL, "no string \"%s\"", key);
    return s;
}

static json_int_t num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_integer(v), "no integer \"%s\"", key);
    return json_integer_value(v);
}

/* "changes" as "a,b,c". */
static const char *changes(json_t *d)
{
    static char buf[128];
    json_t *v;
    size_t i, n = 0;

    buf[0] = '\0';
    json_array_foreach(json_object_get(d, "changes"), i, v) n +=
        (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? "," : "", json_string_value(v));
    return buf;
}

static json_t *file_record(json_t *f, const char *path)
{
    json_t *o;
    size_t i;

    json_array_foreach(json_object_get(f, "files"), i, o)
    {
        if (strcmp(str(o, "path"), path) == 0)
            return o;
    }
    return NULL;
}

START_TEST(set_up_and_ran)
{
    ck_assert_msg(W.setup_problem == NULL, "%s", W.setup_problem);
    ck_assert_msg(W.on_r == AVTB_OK, "forensics_on: %s", W.on_err.msg);
    ck_assert_ptr_nonnull(W.on);
    ck_assert_str_eq(str(W.on, "status"), "done");
    ck_assert(json_is_null(json_object_get(W.on, "reason")));
    ck_assert_int_eq(num(W.on, "format"), 1);
    ck_assert_int_eq(num(W.on, "since"), W.since);
    ck_assert_str_eq(str(json_object_get(W.on, "filesystem"), "type"), "ext4");
    ck_assert_str_eq(str(json_object_get(W.on, "filesystem"), "device"), DEV);
    ck_assert(json_is_null(json_object_get(json_object_get(W.on, "timings"), "launch_s")));
}
END_TEST

START_TEST(document_states)
{
    static const struct {
        size_t doc;
        const char *state, *changes;
    } want[] = {
        {D_READ, "read", "atime"},
        {D_ARCHIVED, "unchanged", ""},
        {D_QUARANTINED, "read", "atime"},
        {D_DELETED, "vanished", ""},
        {D_EDITED, "changed", "mtime,ctime,size,content"},
        {D_CHMOD, "touched", "ctime,mode"},
        {D_SPARE, "unchanged", ""},
    };

    ck_assert_int_eq(json_array_size(json_object_get(W.on, "documents")), NDOCS);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        json_t *d = doc_record(W.on, want[i].doc);

        ck_assert_msg(strcmp(str(d, "state"), want[i].state) == 0, "%s: %s, not %s",
                      docs[want[i].doc].path, str(d, "state"), want[i].state);
        ck_assert_msg(strcmp(changes(d), want[i].changes) == 0, "%s: changes %s, not %s",
                      docs[want[i].doc].path, changes(d), want[i].changes);
        ck_assert_str_eq(str(d, "token"), docs[want[i].doc].d->token);
        ck_assert_str_eq(str(d, "disk_path"), docs[want[i].doc].path);
        ck_assert_str_eq(str(json_object_get(d, "before"), "sha256"), docs[want[i].doc].d->sha256);
    }
    ck_assert(json_is_null(json_object_get(doc_record(W.on, D_DELETED), "after")));
    ck_assert_int_eq(num(json_object_get(doc_record(W.on, D_EDITED), "after"), "size"),
                     (json_int_t)docs[D_EDITED].d->len + 7);
    ck_assert_int_eq(num(json_object_get(doc_record(W.on, D_CHMOD), "after"), "mode"), 0644);
    ck_assert_int_eq(num(json_object_get(doc_record(W.on, D_CHMOD), "before"), "mode"), 0600);
    /* the read moved atime past the planted (backdated) one */
    ck_assert_int_gt(
        num(json_object_get(json_object_get(doc_record(W.on, D_READ), "after"), "atime"), "sec"),
        docs[D_READ].atime);
    ck_assert_uint_eq(W.on_sum.documents, NDOCS);
    ck_assert_uint_eq(W.on_sum.read, 2);
    ck_assert_uint_eq(W.on_sum.changed, 1);
    ck_assert_uint_eq(W.on_sum.vanished, 1);
    ck_assert_uint_eq(W.on_sum.touched, 1);
}
END_TEST

START_TEST(staging_archive_found_and_saved)
{
    json_t *f = file_record(W.on, STAGE), *t;

    ck_assert_msg(f != NULL, "the staging archive is not listed");
    ck_assert_str_eq(str(f, "kind"), "archive");
    ck_assert_str_eq(str(f, "sha256"), W.tar_sha);
    ck_assert_int_eq(json_array_size(json_object_get(f, "tokens")), 1);
    t = json_array_get(json_object_get(f, "tokens"), 0);
    ck_assert_str_eq(str(t, "token"), docs[D_ARCHIVED].d->token);
    ck_assert_str_eq(str(t, "document"), docs[D_ARCHIVED].path);
    ck_assert_str_eq(str(t, "hit"), "content");
    ck_assert_str_eq(str(t, "member"), TAR_ENTRY);
    ck_assert_int_eq(json_array_size(json_object_get(t, "encoding")), 2);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(t, "encoding"), 0)), "gzip");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(t, "encoding"), 1)), "tar");
    ck_assert_ptr_null(json_object_get(f, "path_hex"));
    ck_assert_int_ge(num(json_object_get(f, "ctime"), "sec"), W.since);
}
END_TEST

START_TEST(saved_copies_match)
{
    json_t *o;
    size_t i;

    ck_assert_int_eq(json_array_size(json_object_get(W.on, "files")), 4);
    json_array_foreach(json_object_get(W.on, "files"), i, o)
    {
        char path[256], sum[65];
        avtb_error err = {0};
        const char *saved = str(o, "saved");

        ck_assert_msg(strncmp(saved, "forensics/files/", 16) == 0, "%s", saved);
        snprintf(path, sizeof(path), "%s/%s", W.ev_on, saved);
        ck_assert_msg(avtb_sha256_file(path, sum, &err) == AVTB_OK, "%s", err.msg);
        ck_assert_str_eq(sum, str(o, "sha256"));
    }
    ck_assert(strstr(str(file_record(W.on, STAGE), "saved"), "-stage.tar.gz") != NULL);
}
END_TEST

START_TEST(quarantine_copy_is_a_copy)
{
    json_t *f = file_record(W.on, QUAR), *t;

    ck_assert_msg(f != NULL, "the quarantine copy is not listed");
    ck_assert_str_eq(str(f, "kind"), "copy");
    ck_assert_str_eq(str(f, "copy_of"), docs[D_QUARANTINED].path);
    ck_assert_str_eq(str(f, "sha256"), docs[D_QUARANTINED].d->sha256);
    ck_assert_int_eq(num(f, "size"), (json_int_t)docs[D_QUARANTINED].d->len);
    t = json_array_get(json_object_get(f, "tokens"), 0);
    ck_assert_str_eq(str(t, "token"), docs[D_QUARANTINED].d->token);
    ck_assert_str_eq(str(t, "hit"), "content");
    ck_assert_int_eq(json_array_size(json_object_get(t, "encoding")), 0);
    ck_assert(json_is_null(json_object_get(t, "member")));
}
END_TEST

/* A name that is not UTF-8 and holds a newline: U+FFFD in "path", the bytes in "path_hex". */
START_TEST(hostile_name_is_recorded_exactly)
{
    char hex[2 * sizeof(HOSTILE) + 1];
    json_t *o, *f = NULL, *t;
    size_t i;

    avtb_hex(HOSTILE, strlen(HOSTILE), hex);
    json_array_foreach(json_object_get(W.on, "files"), i, o)
    {
        if (json_object_get(o, "path_hex") != NULL)
            f = o;
    }
    ck_assert_msg(f != NULL, "no file with path_hex");
    ck_assert_str_eq(str(f, "path_hex"), hex);
    ck_assert_str_eq(str(f, "path"), "/var/tmp/.stage/bad\xEF\xBF\xBD\nname.txt");
    ck_assert_str_eq(str(f, "kind"), "derived");
    t = json_array_get(json_object_get(f, "tokens"), 0);
    ck_assert_str_eq(str(t, "token"), docs[D_EDITED].d->token);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(t, "encoding"), 0)),
                     "base64");
    ck_assert_ptr_nonnull(strstr(str(f, "saved"), "-bad__name.txt"));
}
END_TEST

START_TEST(hash_in_a_log_is_metadata)
{
    json_t *f = file_record(W.on, AVLOG), *t;

    ck_assert_msg(f != NULL, "the product's log is not listed");
    ck_assert_str_eq(str(f, "kind"), "derived");
    t = json_array_get(json_object_get(f, "tokens"), 0);
    ck_assert_str_eq(str(t, "token"), docs[D_DELETED].d->token);
    ck_assert_str_eq(str(t, "document"), docs[D_DELETED].path);
    ck_assert_str_eq(str(t, "hit"), "metadata");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(t, "encoding"), 0)),
                     "sha256");
}
END_TEST

START_TEST(unrelated_and_planted_files_are_not_listed)
{
    static const char *const not_listed[] = {"/var/log/syslog", "/var/tmp/.stage/notes.txt",
                                             "/home/bob/.cache/av/db.bin", "/var/tmp/probe"};

    for (size_t i = 0; i < sizeof(not_listed) / sizeof(not_listed[0]); i++)
        ck_assert_msg(file_record(W.on, not_listed[i]) == NULL, "%s listed", not_listed[i]);
    /* the edited document changed during the run but is item 1, not a found file */
    ck_assert_ptr_null(file_record(W.on, docs[D_EDITED].path));
    ck_assert_ptr_null(file_record(W.on, docs[D_CHMOD].path));
}
END_TEST

START_TEST(examined_counts)
{
    json_t *e = json_object_get(W.on, "examined");
    json_t *l = json_object_get(e, "limits");

    /* the documents' folders and files, /var/..., lost+found: a few dozen names */
    ck_assert_int_ge(num(e, "entries"), 30);
    ck_assert_int_eq(num(e, "entries"), num(e, "entries_found"));
    ck_assert_int_eq(num(e, "changed"), (json_int_t)W.changed);
    ck_assert_int_eq(num(e, "scanned"), (json_int_t)W.changed);
    ck_assert_int_eq(num(e, "unscanned"), 0);
    ck_assert_int_eq(num(e, "too_large"), 0);
    ck_assert_int_eq(num(e, "unreadable"), 0);
    ck_assert_int_eq(num(e, "saved"), 4);
    ck_assert_int_gt(num(e, "bytes"), 300000);
    ck_assert(json_is_false(json_object_get(e, "limit_reached")));
    ck_assert_int_eq(json_array_size(json_object_get(e, "cut_by")), 0);
    ck_assert_int_eq(num(l, "max_files"), 5000);
    ck_assert_int_eq(num(l, "max_entries"), 1000000);
    ck_assert_int_eq(num(l, "max_file_bytes"), 64 << 20);
    ck_assert_uint_eq(W.on_sum.changed_files, W.changed);
    ck_assert_uint_eq(W.on_sum.scanned, W.changed);
    ck_assert_uint_eq(W.on_sum.files_with_tokens, 4);
    ck_assert(!W.on_sum.limited);
    ck_assert(json_is_real(json_object_get(json_object_get(W.on, "timings"), "walk_s")));
}
END_TEST

START_TEST(a_limit_says_so)
{
    json_t *e = json_object_get(W.lim, "examined"), *u;

    ck_assert_msg(W.lim_r == AVTB_OK, "%s", W.lim_err.msg);
    ck_assert_str_eq(str(W.lim, "status"), "done");
    ck_assert(json_is_true(json_object_get(e, "limit_reached")));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(e, "cut_by"), 0)),
                     "max_files");
    ck_assert_int_eq(num(e, "scanned"), 1);
    ck_assert_int_eq(num(e, "changed"), (json_int_t)W.changed);
    ck_assert_int_eq(num(e, "unscanned"), (json_int_t)W.changed - 1);
    u = json_object_get(W.lim, "unscanned");
    ck_assert_int_eq(json_array_size(u), W.changed - 1);
    ck_assert_str_eq(str(json_array_get(u, 0), "reason"), "max_files");
    ck_assert_int_eq(num(json_object_get(e, "limits"), "max_files"), 1);
    ck_assert(W.lim_sum.limited);
    ck_assert_uint_eq(W.lim_sum.scanned, 1);
    /* the documents do not depend on the search's limits */
    ck_assert_uint_eq(W.lim_sum.vanished, 1);
}
END_TEST

START_TEST(no_planted_json_fails_with_a_record)
{
    ck_assert_int_eq(W.none_r, AVTB_ERR_NOT_FOUND);
    ck_assert_msg(strstr(W.none_err.msg, "planted.json") != NULL, "%s", W.none_err.msg);
    ck_assert_ptr_nonnull(W.none);
    ck_assert_str_eq(str(W.none, "status"), "failed");
    ck_assert_str_eq(str(W.none, "reason"), W.none_err.msg);
}
END_TEST

START_TEST(launched_read_only_run)
{
    json_t *t = json_object_get(W.run, "timings");

    ck_assert_msg(W.run_r == AVTB_OK, "forensics_run: %s", W.run_err.msg);
    ck_assert_str_eq(str(W.run, "status"), "done");
    ck_assert(json_is_real(json_object_get(t, "launch_s")));
    ck_assert(json_real_value(json_object_get(t, "launch_s")) > 1.0);
    ck_assert(json_real_value(json_object_get(t, "total_s")) >=
              json_real_value(json_object_get(t, "launch_s")));
    ck_assert_uint_eq(W.run_sum.read, W.on_sum.read);
    ck_assert_uint_eq(W.run_sum.vanished, 1);
    ck_assert_uint_eq(W.run_sum.files_with_tokens, 4);
    ck_assert_str_eq(str(file_record(W.run, STAGE), "kind"), "archive");
    /* read-only: the overlay is the same bytes after */
    ck_assert_str_eq(W.disk_sha_after, W.disk_sha_before);
}
END_TEST

static Suite *guestfs_suite(void)
{
    Suite *s = suite_create("forensics (libguestfs)");
    TCase *r = tcase_create("run");
    TCase *d = tcase_create("documents");
    TCase *f = tcase_create("files");
    TCase *l = tcase_create("limits");

    tcase_add_test(r, set_up_and_ran);
    tcase_add_test(r, no_planted_json_fails_with_a_record);
    tcase_add_test(r, launched_read_only_run);
    tcase_add_test(d, document_states);
    tcase_add_test(f, staging_archive_found_and_saved);
    tcase_add_test(f, saved_copies_match);
    tcase_add_test(f, quarantine_copy_is_a_copy);
    tcase_add_test(f, hostile_name_is_recorded_exactly);
    tcase_add_test(f, hash_in_a_log_is_metadata);
    tcase_add_test(f, unrelated_and_planted_files_are_not_listed);
    tcase_add_test(f, examined_counts);
    tcase_add_test(l, a_limit_says_so);
    suite_add_tcase(s, r);
    suite_add_tcase(s, d);
    suite_add_tcase(s, f);
    suite_add_tcase(s, l);
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
            fprintf(stderr, "test_forensics: skipped: libguestfs needs root\n");
            return 77;
        }
        g = gather();
        if (g != 0) {
            fprintf(stderr, "test_forensics: %s\n",
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

        for (size_t i = 0; i < NDOCS; i++)
            avtb_honeydoc_free(docs[i].d);
        json_decref(W.on);
        json_decref(W.lim);
        json_decref(W.run);
        json_decref(W.none);
        free(W.setup_problem);
        if (failed == 0 && avtb_rm_rf(W.tmp, &err) != AVTB_OK)
            fprintf(stderr, "test_forensics: %s\n", err.msg);
        else if (failed != 0)
            fprintf(stderr, "test_forensics: disk and evidence kept in %s\n", W.tmp);
    }
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
