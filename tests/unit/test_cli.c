/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI contract: subcommands, help, and exit codes from DESIGN.md. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
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

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *t = tcase_create("dispatch");

    tcase_add_test(t, help_and_version);
    tcase_add_test(t, usage_errors_exit_2);
    tcase_add_test(t, validate_exit_codes);
    tcase_add_test(t, run_refuses_invalid_scenarios);
    tcase_add_test(t, analyze_bad_input_exit_2);
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
