/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI contract: subcommands, help, and exit codes from DESIGN.md. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/error.h"
#include "common/util.h"
#include "orchestrator/cli.h"

static int cli(const char *a, const char *b, const char *c)
{
    char *argv[5] = {(char *)"avtb", (char *)a, (char *)b, (char *)c, NULL};
    int argc = 1 + (a != NULL) + (b != NULL) + (c != NULL);

    return avtb_cli_main(argc, argv);
}

static char *data(const char *rel)
{
    static char buf[4][1024];
    static int i;

    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", getenv("AVTB_TESTDATA"), rel);
    return buf[i];
}

START_TEST(help_and_version)
{
    ck_assert_int_eq(cli("--help", NULL, NULL), AVTB_EXIT_OK);
    ck_assert_int_eq(cli("--version", NULL, NULL), AVTB_EXIT_OK);
    ck_assert_int_eq(cli("run", "--help", NULL), AVTB_EXIT_OK);
    ck_assert_int_eq(cli("validate", "--help", NULL), AVTB_EXIT_OK);
    ck_assert_int_eq(cli("doctor", "--help", NULL), AVTB_EXIT_OK);
    /* Options may follow operands (avtb run S.yaml --out DIR), after an earlier parse too. */
    ck_assert_int_eq(cli("run", data("scenarios/bad/misspelt-key.yaml"), "--help"), AVTB_EXIT_OK);
    ck_assert_int_eq(cli("run", data("scenarios/bad/misspelt-key.yaml"), "--help"), AVTB_EXIT_OK);
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    ck_assert_int_eq(cli(NULL, NULL, NULL), AVTB_EXIT_USAGE);
    ck_assert_int_eq(cli("frobnicate", NULL, NULL), AVTB_EXIT_USAGE);
    ck_assert_int_eq(cli("--bogus", NULL, NULL), AVTB_EXIT_USAGE);
    ck_assert_int_eq(cli("run", NULL, NULL), AVTB_EXIT_USAGE);
    ck_assert_int_eq(cli("validate", NULL, NULL), AVTB_EXIT_USAGE);
    ck_assert_int_eq(cli("run", "--jobs", "0"), AVTB_EXIT_USAGE);
    ck_assert_int_eq(cli("doctor", "extra", NULL), AVTB_EXIT_USAGE);
}
END_TEST

START_TEST(validate_exit_codes)
{
    ck_assert_int_eq(cli("validate", data("scenarios/good/full.yaml"), NULL), AVTB_EXIT_OK);
    ck_assert_int_eq(cli("validate", data("scenarios/bad/misspelt-key.yaml"), NULL),
                     AVTB_EXIT_USAGE);
    ck_assert_int_eq(
        cli("validate", data("scenarios/good/full.yaml"), data("scenarios/bad/no-token.yaml")),
        AVTB_EXIT_USAGE);
}
END_TEST

/* `avtb analyze`: bad input is exit 2 with a message, never a crash. */
START_TEST(analyze_bad_input_exit_2)
{
    char *argv[8] = {
        (char *)"avtb", (char *)"analyze", (char *)"--pcap", NULL, (char *)"--tokens", NULL, NULL};

    ck_assert_int_eq(cli("analyze", NULL, NULL), AVTB_EXIT_USAGE);
    ck_assert_int_eq(cli("analyze", "--json", NULL), AVTB_EXIT_USAGE);
    ck_assert_int_eq(cli("analyze", "--help", NULL), AVTB_EXIT_OK);
    /* A directory that is not a run's evidence. */
    ck_assert_int_eq(cli("analyze", data("scenarios"), NULL), AVTB_EXIT_USAGE);
    /* A file that is not a capture, with a good tokens file. */
    argv[3] = data("scenarios/good/full.yaml");
    argv[5] = data("analyze/tokens.txt");
    ck_assert_int_eq(avtb_cli_main(6, argv), AVTB_EXIT_USAGE);
    /* A tokens file with a token too short. */
    argv[5] = data("analyze/bad-tokens.txt");
    ck_assert_int_eq(avtb_cli_main(6, argv), AVTB_EXIT_USAGE);
}
END_TEST

/* An invalid scenario must stop `run` before anything starts (no libvirt needed). */
START_TEST(run_refuses_invalid_scenarios)
{
    setenv("AVTB_CONNECT", "test:///nonexistent-must-not-be-used", 1);
    ck_assert_int_eq(cli("run", data("scenarios/bad/trigger-after-dwell.yaml"), NULL),
                     AVTB_EXIT_USAGE);
}
END_TEST

/* The registry of an `avtb honeydoc` output directory; every document it names is there. */
static json_t *honeydoc_registry(const char *dir, time_t before, size_t *ndocs)
{
    char path[256];
    json_error_t jerr;
    json_t *root, *e;
    size_t i;

    snprintf(path, sizeof(path), "%s/tokens.json", dir);
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_msg(root != NULL, "%s: %s", path, jerr.text);
    *ndocs = 0;
    json_array_foreach(json_object_get(root, "tokens"), i, e)
    {
        struct stat st;

        snprintf(path, sizeof(path), "%s%s", dir,
                 json_string_value(json_object_get(e, "document")));
        ck_assert_msg(stat(path, &st) == 0, "%s is missing", path);
        ck_assert_int_eq(st.st_size, json_integer_value(json_object_get(e, "size")));
        if (json_object_get(e, "format") != NULL) /* generated, so backdated */
            ck_assert_int_lt(st.st_mtime, before);
        *ndocs += strcmp(json_string_value(json_object_get(e, "place")), "body") == 0;
    }
    return root;
}

/* `avtb honeydoc`: DIR/<guest path> and DIR/tokens.json, reproducible from --seed. */
START_TEST(honeydoc_writes_documents_and_registry)
{
    char dir[] = "/tmp/avtb-test-honeydoc-XXXXXX", dir2[] = "/tmp/avtb-test-honeydoc-XXXXXX";
    char *argv[] = {(char *)"avtb",
                    (char *)"honeydoc",
                    (char *)"--format",
                    (char *)"docx,zip",
                    (char *)"--marking",
                    (char *)"SECRET",
                    (char *)"--seed",
                    (char *)"7",
                    (char *)"--time",
                    (char *)"1795651200",
                    (char *)"--count",
                    (char *)"3",
                    (char *)"--out",
                    dir,
                    NULL};
    avtb_error err = {0};
    json_t *a, *b;
    size_t na, nb;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_ptr_nonnull(mkdtemp(dir2));
    ck_assert_int_eq(avtb_cli_main(14, argv), AVTB_EXIT_OK);
    argv[13] = dir2;
    ck_assert_int_eq(avtb_cli_main(14, argv), AVTB_EXIT_OK);
    a = honeydoc_registry(dir, 1795651200, &na);
    b = honeydoc_registry(dir2, 1795651200, &nb);
    ck_assert_uint_eq(na, 3);
    ck_assert_uint_eq(nb, 3);
    ck_assert_int_eq(json_integer_value(json_object_get(a, "seed")), 7);
    ck_assert_str_eq(json_string_value(json_object_get(a, "seed_source")), "command line");
    ck_assert_int_eq(json_integer_value(json_object_get(a, "reference_time")), 1795651200);
    /* Same seed: the same documents in the same places (the tokens are fresh). */
    for (size_t i = 0; i < json_array_size(json_object_get(a, "tokens")); i++) {
        json_t *x = json_array_get(json_object_get(a, "tokens"), i),
               *y = json_array_get(json_object_get(b, "tokens"), i);

        ck_assert_str_eq(json_string_value(json_object_get(x, "document")),
                         json_string_value(json_object_get(y, "document")));
        ck_assert_str_eq(json_string_value(json_object_get(x, "marking")), "SECRET");
        ck_assert_str_ne(json_string_value(json_object_get(x, "token")),
                         json_string_value(json_object_get(y, "token")));
    }
    json_decref(a);
    json_decref(b);
    ck_assert_int_eq(avtb_rm_rf(dir, &err), AVTB_OK);
    ck_assert_int_eq(avtb_rm_rf(dir2, &err), AVTB_OK);
}
END_TEST

/* A scenario's honey section, with the scenario's seed. */
START_TEST(honeydoc_from_a_scenario)
{
    char dir[] = "/tmp/avtb-test-honeydoc-XXXXXX";
    char *argv[] = {(char *)"avtb",
                    (char *)"honeydoc",
                    (char *)"--scenario",
                    data("scenarios/good/generated.yaml"),
                    (char *)"--out",
                    dir,
                    NULL};
    avtb_error err = {0};
    json_t *r;
    size_t n;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(avtb_cli_main(6, argv), AVTB_EXIT_OK);
    r = honeydoc_registry(dir, time(NULL), &n);
    ck_assert_uint_eq(n, 10);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "seed")), 20171201);
    ck_assert_str_eq(json_string_value(json_object_get(r, "seed_source")), "scenario");
    json_decref(r);
    ck_assert_int_eq(avtb_rm_rf(dir, &err), AVTB_OK);
}
END_TEST

START_TEST(honeydoc_usage_errors_exit_2)
{
    char *argv[8] = {(char *)"avtb",
                     (char *)"honeydoc",
                     (char *)"--out",
                     (char *)"/nonexistent/x",
                     NULL,
                     NULL,
                     NULL,
                     NULL};

    ck_assert_int_eq(cli("honeydoc", "--help", NULL), AVTB_EXIT_OK);
    ck_assert_int_eq(cli("honeydoc", NULL, NULL), AVTB_EXIT_USAGE); /* no --out */
    argv[4] = (char *)"--format";
    argv[5] = (char *)"doc";
    ck_assert_int_eq(avtb_cli_main(6, argv), AVTB_EXIT_USAGE);
    argv[4] = (char *)"--marking";
    argv[5] = (char *)"SEKRET";
    ck_assert_int_eq(avtb_cli_main(6, argv), AVTB_EXIT_USAGE);
    argv[4] = (char *)"--seed";
    argv[5] = (char *)"9007199254740992";
    ck_assert_int_eq(avtb_cli_main(6, argv), AVTB_EXIT_USAGE);
    argv[4] = (char *)"--count";
    argv[5] = (char *)"0";
    ck_assert_int_eq(avtb_cli_main(6, argv), AVTB_EXIT_USAGE);
    argv[4] = (char *)"--os";
    argv[5] = (char *)"macos";
    ck_assert_int_eq(avtb_cli_main(6, argv), AVTB_EXIT_USAGE);
    /* --scenario takes its documents from the scenario. */
    argv[4] = (char *)"--scenario";
    argv[5] = data("scenarios/good/generated.yaml");
    argv[6] = (char *)"--format";
    argv[7] = (char *)"pdf";
    ck_assert_int_eq(avtb_cli_main(8, argv), AVTB_EXIT_USAGE);
    /* A bad scenario is a usage error too. */
    argv[5] = data("scenarios/bad/generate-bad-format.yaml");
    ck_assert_int_eq(avtb_cli_main(6, argv), AVTB_EXIT_USAGE);
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *t = tcase_create("dispatch");

    tcase_add_test(t, help_and_version);
    tcase_add_test(t, usage_errors_exit_2);
    tcase_add_test(t, validate_exit_codes);
    tcase_add_test(t, run_refuses_invalid_scenarios);
    tcase_add_test(t, analyze_bad_input_exit_2);
    tcase_add_test(t, honeydoc_writes_documents_and_registry);
    tcase_add_test(t, honeydoc_from_a_scenario);
    tcase_add_test(t, honeydoc_usage_errors_exit_2);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cli_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
