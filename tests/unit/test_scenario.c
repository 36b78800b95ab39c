/* SPDX-License-Identifier: Apache-2.0 */
/* Scenario loader: good files load fully; each bad file fails at its stated line:col. */
#include <check.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/diag.h"
#include "scenarios/scenario.h"
#include "expect-diag.h"

static avtb_scenario *load_good(const char *rel)
{
    avtb_diags *d = avtb_diags_new();
    avtb_scenario *s = NULL;
    char path[1024];

    snprintf(path, sizeof(path), "%s", testdata(rel));
    if (avtb_scenario_load(path, d, &s) != AVTB_OK)
        avtb_diags_print(d, stderr);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(avtb_diags_count(d), 0);
    avtb_diags_free(d);
    return s;
}

START_TEST(full_scenario_loads_every_key)
{
    avtb_scenario *s = load_good("scenarios/good/full.yaml");

    ck_assert_str_eq(s->name, "full-scenario");
    ck_assert_str_eq(s->description, "Every key of format v1.");
    ck_assert_str_eq(s->guest, "reference");
    ck_assert_str_eq(s->product->name, "ok-product");
    ck_assert_uint_eq(s->ndocs, 2);
    ck_assert_str_eq(s->docs[0].path, "/home/analyst/Documents/budget.txt");
    ck_assert_str_eq(s->docs[0].content, "OFFICIAL-SENSITIVE\nBudget {{token}} end.\n");
    ck_assert_uint_eq(s->docs[0].uid, 1000);
    ck_assert_uint_eq(s->docs[0].gid, 1000);
    ck_assert_uint_eq(s->docs[0].mode, 0640);
    ck_assert_uint_eq(s->docs[1].uid, 0);
    ck_assert_uint_eq(s->docs[1].mode, 0644);
    ck_assert_uint_eq(s->dwell_ms, 90000);
    ck_assert_uint_eq(s->boot_timeout_ms, 120000);
    ck_assert_uint_eq(s->nexpects, 1);
    ck_assert_int_eq(s->expects[0], AVTB_EXPECT_NO_EXFILTRATION);
    ck_assert_int_eq(s->file_access, AVTB_FA_NO_FANOTIFY);
    ck_assert_str_eq(avtb_file_access_mode_name(s->file_access), "no-fanotify");
    ck_assert(!s->forensics);
    avtb_scenario_free(s);
}
END_TEST

START_TEST(triggers_sorted_with_default_path)
{
    avtb_scenario *s = load_good("scenarios/good/full.yaml");

    ck_assert_uint_eq(s->ntriggers, 2);
    ck_assert_uint_eq(s->triggers[0].at_ms, 5000);
    ck_assert_str_eq(s->triggers[0].path, "/");
    ck_assert_uint_eq(s->triggers[1].at_ms, 20000);
    ck_assert_str_eq(s->triggers[1].path, "/home");
    ck_assert_int_eq(s->triggers[1].action, AVTB_ACTION_SCAN);
    avtb_scenario_free(s);
}
END_TEST

START_TEST(minimal_scenario_has_defaults)
{
    avtb_scenario *s = load_good("scenarios/good/minimal.yaml");

    ck_assert_uint_eq(s->ntriggers, 0);
    ck_assert_ptr_null(s->description);
    ck_assert_uint_eq(s->boot_timeout_ms, 180000);
    ck_assert_ptr_null(s->product->scan);
    ck_assert_int_eq(s->file_access, AVTB_FA_AGENT);
    ck_assert(s->forensics);
    avtb_scenario_free(s);
}
END_TEST

/* network.responses: what the fake cloud answers, first match wins. */
START_TEST(response_profiles_load)
{
    avtb_scenario *s = load_good("scenarios/good/responses.yaml");

    ck_assert_uint_eq(s->nresponses, 2);
    ck_assert_str_eq(s->responses[0].host, "cloud.asker.example");
    ck_assert_str_eq(s->responses[0].path, "/api/v1/lookup");
    ck_assert_uint_eq(s->responses[0].status, 200);
    ck_assert_uint_eq(s->responses[0].nheaders, 2);
    ck_assert_str_eq(s->responses[0].headers[1], "X-Vendor: asker");
    ck_assert_uint_eq(s->responses[0].body_len, 5);
    ck_assert_mem_eq(s->responses[0].body, "send\n", 5);
    ck_assert_str_eq(s->responses[1].host, "*");
    ck_assert_str_eq(s->responses[1].path, "/");
    ck_assert_uint_eq(s->responses[1].status, 404);
    ck_assert_str_eq(s->responses[1].body, "nothing here");
    avtb_scenario_free(s);
}
END_TEST

/* honey: seed and generate entries, with the image's user resolved to its owner and home. */
START_TEST(generated_documents_load)
{
    avtb_scenario *s = load_good("scenarios/good/generated.yaml");

    ck_assert(s->has_seed);
    ck_assert_uint_eq(s->seed, 20171201);
    ck_assert_uint_eq(s->ndocs, 1);
    ck_assert_uint_eq(s->ngens, 3);
    ck_assert_uint_eq(avtb_scenario_ndocs_total(s), 10);
    ck_assert_uint_eq(s->gens[0].count, 6);
    ck_assert_uint_eq(s->gens[0].nformats, 2);
    ck_assert_int_eq(s->gens[0].formats[0], AVTB_FMT_DOCX);
    ck_assert_int_eq(s->gens[0].formats[1], AVTB_FMT_PDF);
    ck_assert_uint_eq(s->gens[0].nmarkings, 2);
    ck_assert_str_eq(s->gens[0].markings[1], "SECRET");
    ck_assert_int_eq(s->gens[0].os, AVTB_HONEY_OS_LINUX);
    ck_assert_str_eq(s->gens[0].user, "analyst");
    ck_assert_str_eq(s->gens[0].home, "/home/analyst");
    ck_assert_uint_eq(s->gens[0].uid, 1000);
    ck_assert_uint_eq(s->gens[0].gid, 1000);
    /* No user: the image's first. */
    ck_assert_str_eq(s->gens[1].user, "analyst");
    ck_assert_int_eq(s->gens[1].formats[0], AVTB_FMT_ZIP);
    ck_assert_str_eq(s->gens[1].markings[0], "SECRET//NOFORN");
    /* Windows: the user names the folder; NTFS has no uid. */
    ck_assert_int_eq(s->gens[2].os, AVTB_HONEY_OS_WINDOWS);
    ck_assert_str_eq(s->gens[2].user, "jsmith");
    ck_assert_ptr_null(s->gens[2].home);
    avtb_scenario_free(s);
}
END_TEST

START_TEST(generate_defaults_and_owner)
{
    avtb_scenario *s = load_good("scenarios/good/generate-only.yaml");

    ck_assert(!s->has_seed);
    ck_assert_uint_eq(s->ndocs, 0);
    ck_assert_uint_eq(s->ngens, 2);
    /* Every non-archive format, cycled; the seed picks markings. */
    ck_assert_uint_eq(s->gens[0].nformats, 6);
    ck_assert_uint_eq(s->gens[0].nmarkings, 0);
    /* A user the image does not list, with owner: given. */
    ck_assert_str_eq(s->gens[1].user, "someone");
    ck_assert_ptr_null(s->gens[1].home);
    ck_assert_uint_eq(s->gens[1].uid, 1001);
    avtb_scenario_free(s);
}
END_TEST

/* Every scenario shipped, the suites' included. */
START_TEST(shipped_scenarios_validate)
{
    static const char *const patterns[] = {"scenarios/*.yaml", "scenarios/suites/*/*.yaml"};
    size_t n = 0;

    for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
        char pattern[1024];
        glob_t g;

        snprintf(pattern, sizeof(pattern), "%s/%s", getenv("AVTB_DATADIR"), patterns[p]);
        if (glob(pattern, 0, NULL, &g) != 0)
            continue;
        for (size_t i = 0; i < g.gl_pathc; i++, n++) {
            avtb_diags *d = avtb_diags_new();
            avtb_scenario *s = NULL;

            if (avtb_scenario_load(g.gl_pathv[i], d, &s) != AVTB_OK)
                avtb_diags_print(d, stderr);
            ck_assert_msg(s != NULL, "%s does not validate", g.gl_pathv[i]);
            avtb_scenario_free(s);
            avtb_diags_free(d);
        }
        globfree(&g);
    }
    ck_assert_uint_ge(n, 19);
}
END_TEST

static void check_bad(const char *path)
{
    avtb_diags *d = avtb_diags_new();
    avtb_scenario *s = NULL;
    expect_diag e;

    read_expectation(path, &e);
    ck_assert_int_eq(avtb_scenario_load(path, d, &s), AVTB_ERR_INPUT);
    ck_assert_ptr_null(s);
    assert_diag(path, d, &e);
    avtb_diags_free(d);
}

START_TEST(every_bad_scenario_fails_at_its_position)
{
    int n = for_each_entry(testdata("scenarios/bad"), check_bad);

    ck_assert_int_ge(n, 119);
}
END_TEST

START_TEST(missing_file_is_reported)
{
    avtb_diags *d = avtb_diags_new();
    avtb_scenario *s = NULL;

    ck_assert_int_eq(avtb_scenario_load("/nonexistent/x.yaml", d, &s), AVTB_ERR_INPUT);
    ck_assert_str_eq(avtb_diags_get(d, 0)->file, "/nonexistent/x.yaml");
    ck_assert_ptr_nonnull(strstr(avtb_diags_get(d, 0)->msg, "No such file"));
    avtb_diags_free(d);
}
END_TEST

START_TEST(all_errors_are_collected)
{
    avtb_diags *d = avtb_diags_new();
    avtb_scenario *s = NULL;
    const char *text = "avtb: 1\nname: x\nguest: reference\nproduct: nosuch-product-zz\n"
                       "dwel: 10s\nhoney: {documents: [{path: rel, content: none}]}\n"
                       "network: {mode: bridged}\nexpect: [no_exfiltration]\n";
    char path[] = "/tmp/avtb-test-scenario-XXXXXX";
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ck_assert_int_eq(avtb_scenario_load(path, d, &s), AVTB_ERR_INPUT);
    /* product, dwel, path, content, network mode, missing dwell: all in one pass. */
    ck_assert_uint_ge(avtb_diags_count(d), 6);
    unlink(path);
    avtb_diags_free(d);
}
END_TEST

/*
 * Windows line endings and a UTF-8 byte-order mark (Notepad's defaults) are
 * accepted: libyaml reads both, and a block scalar's lines end in \n only.
 */
START_TEST(crlf_and_bom_load)
{
    avtb_diags *d = avtb_diags_new();
    avtb_scenario *s = NULL;
    char path[] = "/tmp/avtb-test-crlf-XXXXXX", product[4096];
    int fd = mkstemp(path);
    FILE *fp;

    ck_assert_int_ge(fd, 0);
    ck_assert_ptr_nonnull(realpath(testdata("products/noscan"), product));
    fp = fdopen(fd, "wb");
    ck_assert_ptr_nonnull(fp);
    fprintf(fp,
            "\xef\xbb\xbf"
            "avtb: 1\r\nname: crlf\r\nguest: reference\r\nproduct: %s\r\n"
            "dwell: 10s\r\nhoney:\r\n  documents:\r\n    - path: /tmp/a.txt\r\n"
            "      content: |\r\n        one {{token}}\r\n        two\r\n"
            "network: {mode: sinkhole}\r\nexpect: [no_exfiltration]\r\n",
            product);
    fclose(fp);
    if (avtb_scenario_load(path, d, &s) != AVTB_OK)
        avtb_diags_print(d, stderr);
    unlink(path);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->name, "crlf");
    ck_assert_str_eq(s->docs[0].content, "one {{token}}\ntwo\n");
    avtb_scenario_free(s);
    avtb_diags_free(d);
}
END_TEST

static Suite *scenario_suite(void)
{
    Suite *s = suite_create("scenario");
    TCase *good = tcase_create("good files");
    TCase *bad = tcase_create("bad files");

    tcase_add_test(good, full_scenario_loads_every_key);
    tcase_add_test(good, triggers_sorted_with_default_path);
    tcase_add_test(good, minimal_scenario_has_defaults);
    tcase_add_test(good, shipped_scenarios_validate);
    tcase_add_test(good, response_profiles_load);
    tcase_add_test(good, generated_documents_load);
    tcase_add_test(good, generate_defaults_and_owner);
    tcase_add_test(good, crlf_and_bom_load);
    tcase_add_test(bad, every_bad_scenario_fails_at_its_position);
    tcase_add_test(bad, missing_file_is_reported);
    tcase_add_test(bad, all_errors_are_collected);
    suite_add_tcase(s, good);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(scenario_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
