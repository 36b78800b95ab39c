/* SPDX-License-Identifier: Apache-2.0 */
/* Product loader: the fixture products load; each bad product fails at its line:col. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/diag.h"
#include "guests/product.h"
#include "expect-diag.h"

START_TEST(ok_product_loads)
{
    avtb_diags *d = avtb_diags_new();
    avtb_product *p = NULL;

    ck_assert_int_eq(avtb_product_load(testdata("products/ok"), d, &p), AVTB_OK);
    ck_assert_str_eq(p->name, "ok-product");
    ck_assert_str_eq(p->vendor, "Test Vendor");
    ck_assert_str_eq(p->version, "2.1");
    ck_assert_str_eq(p->vendor_country, "GB");
    ck_assert_uint_eq(p->nfiles, 2);
    ck_assert_str_eq(p->files[0].dest, "/opt/ok/bin/scan.sh");
    ck_assert_uint_eq(p->files[0].mode, 0755);
    ck_assert_uint_eq(p->files[1].mode, 0644);
    ck_assert_ptr_nonnull(strstr(p->files[0].src, "/products/ok/bin/scan.sh"));
    ck_assert_int_eq(p->files[0].src[0], '/');
    ck_assert_str_eq(p->start, "/opt/ok/bin/scan.sh --daemon");
    ck_assert_str_eq(p->scan, "/opt/ok/bin/scan.sh {path}");
    /* expected: a scenario's own line wins over the default. */
    ck_assert_uint_eq(p->nexpected, 2);
    ck_assert_str_eq(avtb_product_expected(p, "archive-detection"), "exfiltration");
    ck_assert_str_eq(avtb_product_expected(p, "sample-only"), "clean");
    ck_assert_str_eq(avtb_product_expected(p, NULL), "clean");
    ck_assert(!p->control);
    avtb_product_free(p);
    avtb_diags_free(d);
}
END_TEST

START_TEST(fixture_products_load)
{
    const char *names[] = {"leaky", "quiet", "asker"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        avtb_diags *d = avtb_diags_new();
        avtb_product *p = NULL;
        char dir[1024];

        snprintf(dir, sizeof(dir), "%s/guests/products/%s", getenv("AVTB_DATADIR"), names[i]);
        if (avtb_product_load(dir, d, &p) != AVTB_OK)
            avtb_diags_print(d, stderr);
        ck_assert_ptr_nonnull(p);
        ck_assert_str_eq(p->name, names[i]);
        ck_assert_ptr_nonnull(p->scan);
        avtb_product_free(p);
        avtb_diags_free(d);
    }
}
END_TEST

static void check_bad(const char *dir)
{
    avtb_diags *d = avtb_diags_new();
    avtb_product *p = NULL;
    expect_diag e;
    char yaml[1100];

    snprintf(yaml, sizeof(yaml), "%s/product.yaml", dir);
    read_expectation(yaml, &e);
    ck_assert_int_eq(avtb_product_load(dir, d, &p), AVTB_ERR_INPUT);
    ck_assert_ptr_null(p);
    assert_diag(yaml, d, &e);
    avtb_diags_free(d);
}

START_TEST(every_bad_product_fails_at_its_position)
{
    ck_assert_int_ge(for_each_entry(testdata("products-bad"), check_bad), 39);
}
END_TEST

/* The control run's product: nothing to install, nothing to run, clean expected everywhere. */
START_TEST(control_product)
{
    avtb_product *p = avtb_product_control();

    ck_assert_ptr_nonnull(p);
    ck_assert(p->control);
    ck_assert_str_eq(p->name, "control");
    ck_assert_uint_eq(p->nfiles, 0);
    ck_assert_ptr_null(p->start);
    ck_assert_ptr_null(p->scan);
    ck_assert_str_eq(avtb_product_expected(p, "anything"), "clean");
    avtb_product_free(p);
}
END_TEST

/* Every fixture says what it expects in the scenarios that run it. */
START_TEST(fixtures_state_expected_verdicts)
{
    static const char *const cells[][3] = {
        {"leaky", "leaky", "exfiltration"},
        {"quiet", "quiet", "clean"},
        {"asker", "asker-silent", "clean"},
        {"asker", "asker-asked", "exfiltration"},
        {"sampler", "sample-only", "clean"},
        {"sampler", "archive-detection", "exfiltration"},
        {"hunter", "keyword-hunter", "exfiltration"},
        {"pinner", "pinner", "suspected"},
        {"agent-killer", "agent-killer", "incomplete"},
        {"tunneler", "dns-tunnel", "exfiltration"},
        {"delayed", "delayed-upload", "exfiltration"},
    };

    for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
        avtb_diags *d = avtb_diags_new();
        avtb_product *p = NULL;
        char dir[1024];

        snprintf(dir, sizeof(dir), "%s/guests/products/%s", getenv("AVTB_DATADIR"), cells[i][0]);
        if (avtb_product_load(dir, d, &p) != AVTB_OK)
            avtb_diags_print(d, stderr);
        ck_assert_ptr_nonnull(p);
        ck_assert_msg(avtb_product_expected(p, cells[i][1]) != NULL &&
                          strcmp(avtb_product_expected(p, cells[i][1]), cells[i][2]) == 0,
                      "%s in %s: expected %s", cells[i][0], cells[i][1], cells[i][2]);
        avtb_product_free(p);
        avtb_diags_free(d);
    }
}
END_TEST

START_TEST(missing_directory)
{
    avtb_diags *d = avtb_diags_new();
    avtb_product *p = NULL;

    ck_assert_int_eq(avtb_product_load("/nonexistent/product", d, &p), AVTB_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(avtb_diags_get(d, 0)->msg, "product directory"));
    avtb_diags_free(d);
}
END_TEST

START_TEST(guest_path_rules)
{
    ck_assert_ptr_null(avtb_guest_path_problem("/home/a/b.txt"));
    ck_assert_ptr_nonnull(avtb_guest_path_problem("home/a"));
    ck_assert_ptr_nonnull(avtb_guest_path_problem("/"));
    ck_assert_ptr_nonnull(avtb_guest_path_problem("/a//b"));
    ck_assert_ptr_nonnull(avtb_guest_path_problem("/a/./b"));
    ck_assert_ptr_nonnull(avtb_guest_path_problem("/a/.."));
    ck_assert_ptr_nonnull(avtb_guest_path_problem("/a\nb"));
    ck_assert_ptr_nonnull(avtb_guest_path_problem("/avtb"));
    ck_assert_ptr_nonnull(avtb_guest_path_problem("/avtb/x"));
    ck_assert_ptr_nonnull(avtb_guest_path_problem("/a/b/"));
    ck_assert_ptr_nonnull(avtb_guest_path_problem("/a/\x1b[2J"));
    ck_assert_ptr_null(avtb_guest_path_problem("/avtbx/y"));
    ck_assert_ptr_null(avtb_guest_path_problem("/a/..b/.c"));
}
END_TEST

/* product.yaml must be a regular file: a directory is named, a FIFO never blocks the load. */
START_TEST(product_yaml_not_a_file)
{
    static const char *const kinds[] = {"directory", "fifo"};

    for (size_t i = 0; i < 2; i++) {
        char dir[] = "/tmp/avtb-test-product-XXXXXX", yaml[64];
        avtb_diags *d = avtb_diags_new();
        avtb_product *p = NULL;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(yaml, sizeof(yaml), "%s/product.yaml", dir);
        ck_assert_int_eq(i == 0 ? mkdir(yaml, 0700) : mkfifo(yaml, 0600), 0);
        ck_assert_int_eq(avtb_product_load(dir, d, &p), AVTB_ERR_INPUT);
        ck_assert_ptr_nonnull(strstr(avtb_diags_get(d, 0)->msg, "must be a regular file"));
        ck_assert_msg(strstr(avtb_diags_get(d, 0)->msg, i == 0 ? "directory" : "FIFO") != NULL,
                      "%s: %s", kinds[i], avtb_diags_get(d, 0)->msg);
        i == 0 ? rmdir(yaml) : unlink(yaml);
        rmdir(dir);
        avtb_diags_free(d);
    }
}
END_TEST

static Suite *product_suite(void)
{
    Suite *s = suite_create("product");
    TCase *good = tcase_create("good products");
    TCase *bad = tcase_create("bad products");

    tcase_add_test(good, ok_product_loads);
    tcase_add_test(good, fixture_products_load);
    tcase_add_test(good, control_product);
    tcase_add_test(good, fixtures_state_expected_verdicts);
    tcase_add_test(bad, every_bad_product_fails_at_its_position);
    tcase_add_test(bad, missing_directory);
    tcase_add_test(bad, product_yaml_not_a_file);
    tcase_add_test(bad, guest_path_rules);
    suite_add_tcase(s, good);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(product_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
