/* SPDX-License-Identifier: Apache-2.0 */
/* The signed evidence bundle: manifest.json, keys, signing and verifying. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "reports/bundle.h"

static char root[256];

static void put(const char *rel, const char *text)
{
    char path[1024];
    avtb_error err = {0};

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    ck_assert_int_eq(avtb_write_file(path, text, strlen(text), 0644, &err), AVTB_OK);
}

static char *at(const char *rel)
{
    char *p = avtb_path_join(root, rel);

    ck_assert_ptr_nonnull(p);
    return p;
}

/* A small evidence directory: root/ev. */
static void setup(void)
{
    avtb_error err = {0};
    char cache[300];

    strcpy(root, "/tmp/avtb-test-bundle-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    ck_assert_int_eq(avtb_mkdir_p(strcat(strcpy(cache, root), "/ev/forensics/files"), 0755, &err),
                     AVTB_OK);
    ck_assert_int_eq(
        avtb_mkdir_p(strcat(strcpy(cache, root), "/cache/images/reference-0123"), 0755, &err),
        AVTB_OK);
    put("ev/report.json", "{\"run_id\": \"r-1\", \"guest\": {\"image\": \"reference-0123\"},"
                          " \"platform\": {\"libvirt\": \"9.0.0\", \"qemu\": \"7.2.0\"}}\n");
    put("ev/planted.json", "{\"product_files\": [{\"src\": \"/p/bin/x\", \"dest\": \"/opt/x\","
                           " \"sha256\": \"ab\"}]}\n");
    put("ev/scenario.yaml", "avtb: 1\nname: t\n");
    put("ev/capture.pcapng", "not really a capture");
    put("ev/empty.log", "");
    put("ev/forensics/files/001-a.bin", "saved");
    put("cache/images/reference-0123/image.json",
        "{\"disk_sha256\": "
        "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}\n");
    snprintf(cache, sizeof(cache), "%s/cache", root);
    setenv("AVTB_CACHE", cache, 1);
}

static void teardown(void)
{
    avtb_error err = {0};

    ck_assert_int_eq(avtb_rm_rf(root, &err), AVTB_OK);
}

static json_t *manifest_of(const char *dir)
{
    char *text = NULL;
    size_t len = 0;
    avtb_error err = {0};
    json_t *m;

    ck_assert_msg(avtb_bundle_manifest(dir, &text, &len, &err) == AVTB_OK, "%s", err.msg);
    ck_assert_uint_eq(strlen(text), len);
    ck_assert_int_eq(text[len - 1], '\n');
    m = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(m);
    free(text);
    return m;
}

START_TEST(manifest_lists_every_file_sorted)
{
    char *ev = at("ev"), sha[65];
    json_t *m = manifest_of(ev), *files = json_object_get(m, "files"), *f;
    const char *want[] = {"capture.pcapng", "empty.log",   "forensics/files/001-a.bin",
                          "planted.json",   "report.json", "scenario.yaml"};
    size_t i;

    ck_assert_int_eq(json_integer_value(json_object_get(m, "format")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(m, "run_id")), "r-1");
    ck_assert_str_eq(json_string_value(json_object_get(m, "libvirt")), "9.0.0");
    ck_assert_str_eq(json_string_value(json_object_get(m, "qemu")), "7.2.0");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(m, "created")));
    ck_assert_uint_eq(json_array_size(files), 6);
    json_array_foreach(files, i, f)
    {
        const char *path = json_string_value(json_object_get(f, "path"));
        char *full = avtb_path_join(ev, path);
        avtb_error err = {0};
        struct stat st;

        ck_assert_str_eq(path, want[i]);
        ck_assert_int_eq(stat(full, &st), 0);
        ck_assert_int_eq(json_integer_value(json_object_get(f, "size")), st.st_size);
        ck_assert_int_eq(avtb_sha256_file(full, sha, &err), AVTB_OK);
        ck_assert_str_eq(json_string_value(json_object_get(f, "sha256")), sha);
        ck_assert_uint_eq(json_object_size(f), 3);
        free(full);
    }
    /* The scenario's hash, the product files of planted.json, the image's digest. */
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "scenario"), "file")),
                     "scenario.yaml");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "scenario"), "sha256")),
                     json_string_value(json_object_get(json_array_get(files, 5), "sha256")));
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(m, "product_files"), 0), "dest")),
                     "/opt/x");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "base_image"), "id")),
                     "reference-0123");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "base_image"), "sha256")),
                     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    json_decref(m);
    free(ev);
}
END_TEST

START_TEST(manifest_without_report_or_image)
{
    char *ev = at("ev"), *rp = at("ev/report.json"), *pp = at("ev/planted.json");
    json_t *m;

    ck_assert_int_eq(unlink(rp), 0);
    ck_assert_int_eq(unlink(pp), 0);
    m = manifest_of(ev);
    ck_assert_str_eq(json_string_value(json_object_get(m, "run_id")), "ev");
    ck_assert(json_is_null(json_object_get(m, "libvirt")));
    ck_assert(json_is_null(json_object_get(m, "qemu")));
    ck_assert(json_is_null(json_object_get(m, "base_image")));
    ck_assert_uint_eq(json_array_size(json_object_get(m, "product_files")), 0);
    json_decref(m);
    free(ev);
    free(rp);
    free(pp);
}
END_TEST

START_TEST(manifest_refuses_links)
{
    char *ev = at("ev"), *link = at("ev/forensics/link"), *text = NULL;
    size_t len = 0;
    avtb_error err = {0};

    ck_assert_int_eq(symlink("/etc/passwd", link), 0);
    ck_assert_int_eq(avtb_bundle_manifest(ev, &text, &len, &err), AVTB_ERR_INPUT);
    ck_assert_ptr_null(text);
    ck_assert_ptr_nonnull(strstr(err.msg, "forensics/link"));
    ck_assert_ptr_nonnull(strstr(err.msg, "symbolic link"));
    free(ev);
    free(link);
}
END_TEST

START_TEST(manifest_skips_its_own_files)
{
    char *ev = at("ev");
    avtb_error err = {0};
    json_t *m, *f;
    size_t i;

    ck_assert_int_eq(avtb_bundle_seal(ev, NULL, &err), AVTB_OK);
    put("ev/manifest.sig", "stale");
    put("ev/manifest.sig.json", "{}");
    m = manifest_of(ev);
    json_array_foreach(json_object_get(m, "files"), i, f)
        ck_assert(strncmp(json_string_value(json_object_get(f, "path")), "manifest.", 9) != 0);
    json_decref(m);
    /* Sealing again without a key removes the stale signature. */
    ck_assert_int_eq(avtb_bundle_seal(ev, NULL, &err), AVTB_OK);
    {
        char *sig = at("ev/manifest.sig"), *info = at("ev/manifest.sig.json");

        ck_assert_int_ne(access(sig, F_OK), 0);
        ck_assert_int_ne(access(info, F_OK), 0);
        free(sig);
        free(info);
    }
    free(ev);
}
END_TEST

static void keys(const char *name, char fp[65])
{
    char *dir = at(name);
    avtb_error err = {0};

    ck_assert_msg(avtb_bundle_keygen(dir, fp, &err) == AVTB_OK, "%s", err.msg);
    free(dir);
}

START_TEST(keygen_writes_a_pair_once)
{
    char fp[65], again[65], *priv = at("k/lab-key.pem"), *pub = at("k/lab-key.pub.pem");
    avtb_error err = {0};
    struct stat st;

    keys("k", fp);
    ck_assert_uint_eq(strlen(fp), 64);
    ck_assert_int_eq(stat(priv, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(avtb_bundle_key_fingerprint(pub, again, &err), AVTB_OK);
    ck_assert_str_eq(again, fp);
    ck_assert_int_eq(avtb_bundle_key_fingerprint(priv, again, &err), AVTB_OK);
    ck_assert_str_eq(again, fp);
    {
        char *dir = at("k");
        avtb_error e2 = {0};

        ck_assert_int_eq(avtb_bundle_keygen(dir, again, &e2), AVTB_ERR_INPUT);
        ck_assert_ptr_nonnull(strstr(e2.msg, "never overwritten"));
        free(dir);
    }
    free(priv);
    free(pub);
}
END_TEST

static int ran;

static void count_run(void *arg)
{
    (void)arg;
    ran++;
}

/* Verifies ev with the key file (NULL: the named key); returns the check. */
static void verify(const char *key_rel, avtb_bundle_check *c)
{
    char *ev = at("ev"), *key = key_rel ? at(key_rel) : NULL;
    avtb_bundle_verify_opts o = {.key_path = key, .concurrent = count_run};
    avtb_error err = {0};

    ck_assert_msg(avtb_bundle_verify(ev, &o, c, &err) == AVTB_OK, "%s", err.msg);
    free(ev);
    free(key);
}

static bool has_problem(const avtb_bundle_check *c, const char *file)
{
    for (size_t i = 0; i < c->nproblems; i++)
        if (strcmp(c->problems[i].file, file) == 0)
            return true;
    return false;
}

static void seal_with(const char *key_rel)
{
    char *ev = at("ev"), *key = at(key_rel);
    avtb_error err = {0};

    ck_assert_msg(avtb_bundle_seal(ev, key, &err) == AVTB_OK, "%s", err.msg);
    free(ev);
    free(key);
}

START_TEST(signed_bundle_verifies)
{
    avtb_bundle_check c;
    char fp[65];

    keys("k", fp);
    seal_with("k/lab-key.pem");
    ran = 0;
    verify("k/lab-key.pub.pem", &c);
    ck_assert_uint_eq(c.nproblems, 0);
    ck_assert(c.is_signed && c.signature_ok && c.key_given);
    ck_assert_str_eq(c.fingerprint, fp);
    ck_assert_uint_eq(c.files, 6);
    ck_assert_uint_eq(c.hashed, 6);
    ck_assert_int_eq(ran, 1);
    avtb_bundle_check_clear(&c);
    /* The key the bundle names. */
    verify(NULL, &c);
    ck_assert_uint_eq(c.nproblems, 0);
    ck_assert(c.signature_ok && !c.key_given);
    avtb_bundle_check_clear(&c);
}
END_TEST

START_TEST(wrong_key_fails)
{
    avtb_bundle_check c;
    char fp[65], other[65];

    keys("k", fp);
    keys("o", other);
    seal_with("k/lab-key.pem");
    verify("o/lab-key.pub.pem", &c);
    ck_assert(!c.signature_ok);
    ck_assert(has_problem(&c, "manifest.sig"));
    ck_assert(has_problem(&c, "manifest.sig.json"));
    avtb_bundle_check_clear(&c);
}
END_TEST

START_TEST(truncated_signature_fails)
{
    avtb_bundle_check c;
    char fp[65], *sig;

    keys("k", fp);
    seal_with("k/lab-key.pem");
    sig = at("ev/manifest.sig");
    ck_assert_int_eq(truncate(sig, 63), 0);
    verify("k/lab-key.pub.pem", &c);
    ck_assert(!c.signature_ok);
    ck_assert(has_problem(&c, "manifest.sig"));
    ck_assert_ptr_nonnull(strstr(c.problems[0].what, "63 bytes"));
    avtb_bundle_check_clear(&c);
    free(sig);
}
END_TEST

START_TEST(changed_manifest_fails_signature)
{
    avtb_bundle_check c;
    char fp[65], *m = at("ev/manifest.json");
    FILE *f;

    keys("k", fp);
    seal_with("k/lab-key.pem");
    f = fopen(m, "a");
    ck_assert_ptr_nonnull(f);
    fputc(' ', f);
    fclose(f);
    verify(NULL, &c);
    ck_assert(!c.signature_ok);
    ck_assert(has_problem(&c, "manifest.json"));
    avtb_bundle_check_clear(&c);
    free(m);
}
END_TEST

START_TEST(changed_added_deleted_files)
{
    avtb_bundle_check c;
    char fp[65], *del = at("ev/planted.json");

    keys("k", fp);
    seal_with("k/lab-key.pem");
    put("ev/capture.pcapng", "not really a captura"); /* same size */
    put("ev/forensics/files/002-new.bin", "x");
    ck_assert_int_eq(unlink(del), 0);
    verify("k/lab-key.pub.pem", &c);
    ck_assert(c.signature_ok);
    ck_assert_uint_eq(c.nproblems, 3);
    ck_assert(has_problem(&c, "capture.pcapng"));
    ck_assert(has_problem(&c, "forensics/files/002-new.bin"));
    ck_assert(has_problem(&c, "planted.json"));
    avtb_bundle_check_clear(&c);
    free(del);
}
END_TEST

START_TEST(unsigned_bundle)
{
    avtb_bundle_check c;
    char fp[65], *ev = at("ev");
    avtb_error err = {0};

    keys("k", fp);
    ck_assert_int_eq(avtb_bundle_seal(ev, NULL, &err), AVTB_OK);
    verify(NULL, &c);
    ck_assert_uint_eq(c.nproblems, 0);
    ck_assert(!c.is_signed);
    avtb_bundle_check_clear(&c);
    /* Asked for a key, an unsigned bundle is a problem. */
    verify("k/lab-key.pub.pem", &c);
    ck_assert(has_problem(&c, "manifest.sig"));
    avtb_bundle_check_clear(&c);
    free(ev);
}
END_TEST

START_TEST(unreadable_bundles)
{
    char *ev = at("ev"), *none = at("none"), *bad = at("k/bad.pem");
    avtb_bundle_verify_opts o = {0};
    avtb_bundle_check c;
    avtb_error err = {0};

    ck_assert_int_eq(avtb_bundle_verify(none, &o, &c, &err), AVTB_ERR_NOT_FOUND);
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_bundle_verify(ev, &o, &c, &err), AVTB_ERR_NOT_FOUND); /* unsealed */
    ck_assert_ptr_nonnull(strstr(err.msg, "manifest.json"));
    avtb_error_clear(&err);
    put("k-bad.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
    free(bad);
    bad = at("k-bad.pem");
    o.key_path = bad;
    ck_assert_int_eq(avtb_bundle_verify(ev, &o, &c, &err), AVTB_ERR_USAGE);
    free(ev);
    free(none);
    free(bad);
}
END_TEST

START_TEST(malformed_manifest)
{
    avtb_bundle_check c;

    put("ev/manifest.json", "{\"format\": 1, \"files\": [{\"path\": \"../x\", \"size\": 1, "
                            "\"sha256\": \"00\"}]}\n");
    verify(NULL, &c);
    ck_assert(has_problem(&c, "manifest.json"));
    avtb_bundle_check_clear(&c);
    put("ev/manifest.json", "{\"format\": 1, \"files\": [");
    verify(NULL, &c);
    ck_assert(has_problem(&c, "manifest.json"));
    ck_assert_ptr_nonnull(strstr(c.problems[0].what, "not valid JSON"));
    avtb_bundle_check_clear(&c);
}
END_TEST

static Suite *bundle_suite(void)
{
    Suite *s = suite_create("bundle");
    TCase *m = tcase_create("manifest");
    TCase *k = tcase_create("keys and signatures");
    TCase *v = tcase_create("verify");

    tcase_add_checked_fixture(m, setup, teardown);
    tcase_add_test(m, manifest_lists_every_file_sorted);
    tcase_add_test(m, manifest_without_report_or_image);
    tcase_add_test(m, manifest_refuses_links);
    tcase_add_test(m, manifest_skips_its_own_files);
    suite_add_tcase(s, m);
    tcase_add_checked_fixture(k, setup, teardown);
    tcase_add_test(k, keygen_writes_a_pair_once);
    tcase_add_test(k, signed_bundle_verifies);
    tcase_add_test(k, wrong_key_fails);
    tcase_add_test(k, truncated_signature_fails);
    tcase_add_test(k, changed_manifest_fails_signature);
    suite_add_tcase(s, k);
    tcase_add_checked_fixture(v, setup, teardown);
    tcase_add_test(v, changed_added_deleted_files);
    tcase_add_test(v, unsigned_bundle);
    tcase_add_test(v, unreadable_bundles);
    tcase_add_test(v, malformed_manifest);
    suite_add_tcase(s, v);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bundle_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
