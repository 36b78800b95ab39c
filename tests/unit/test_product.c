/* SPDX-License-Identifier: Apache-2.0 */
/* Product loader: the fixture products load; each bad product fails at its line:col. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

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
    ck_assert_int_ge(for_each_entry(testdata("products-bad"), check_bad), 10);
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
    ck_assert_ptr_null(avtb_guest_path_problem("/avtbx/y"));
    ck_assert_ptr_null(avtb_guest_path_problem("/a/..b/.c"));
}
END_TEST

static Suite *product_suite(void)
{
    Suite *s = suite_create("product");
    TCase *good = tcase_create("good products");
    TCase *bad = tcase_create("bad products");

    tcase_add_test(good, ok_product_loads);
    tcase_add_test(good, fixture_products_load);
    tcase_add_test(bad, every_bad_product_fails_at_its_position);
    tcase_add_test(bad, missing_directory);
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
