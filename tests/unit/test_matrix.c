/* SPDX-License-Identifier: Apache-2.0 */
/* The comparison matrix: a cell's derived fields as reports/MATRIX.md defines them, the summary,
 * regressions against a baseline, and the two renderings (matrix.html: escaped, linking only
 * inside the matrix directory; matrix-junit.xml: valid XML with a failure per failing cell). */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "reports/matrix.h"

/* The hostile finding key of the fixtures. */
#define KH "content <script>&\"'.txt to evil.example:80 over http as http-body (violation)"

static const char *testdata(void)
{
    const char *d = getenv("AVTB_TESTDATA");

    ck_assert_msg(d != NULL, "AVTB_TESTDATA is not set (run through ctest)");
    return d;
}

static json_t *load(const char *rel)
{
    char *path = avtb_path_join(testdata(), rel);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);

    ck_assert_msg(j != NULL, "%s:%d: %s", path, e.line, e.text);
    free(path);
    return j;
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);

    ck_assert_msg(j != NULL, "%s: %s", text, e.text);
    return j;
}

/* JSON of j, compact, keys in their order: for comparing with an expected text. */
static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

    ck_assert_ptr_nonnull(s);
    return s;
}

static void assert_json(json_t *j, const char *expected)
{
    char *s = dump(j);

    ck_assert_str_eq(s, expected);
    free(s);
}

/* A cell with the given expectation (JSON text: "\"clean\"" or "null") and runs, derived. */
static json_t *derive(const char *expected, const char *runs)
{
    char *text = NULL;
    avtb_error err = {0};
    json_t *cell;

    ck_assert_int_ge(asprintf(&text,
                              "{\"scenario\":\"s\",\"product\":\"p\",\"control\":false,"
                              "\"expected\":%s,\"runs\":%s}",
                              expected, runs),
                     0);
    cell = parse(text);
    free(text);
    ck_assert_int_eq(avtb_matrix_cell_derive(cell, &err), AVTB_OK);
    return cell;
}

static const char *status(json_t *cell)
{
    return json_string_value(json_object_get(cell, "status"));
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static char *tmpdir(void)
{
    char *d = strdup("/tmp/avtb-test-matrix-XXXXXX");

    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static void rmdir_all(char *d)
{
    avtb_error err = {0};

    ck_assert_int_eq(avtb_rm_rf(d, &err), AVTB_OK);
    free(d);
}

static char *read_text(const char *dir, const char *name)
{
    char *path = avtb_path_join(dir, name);
    avtb_error err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;

    ck_assert_int_eq(avtb_read_file(path, 16 << 20, &buf, &len, &err), AVTB_OK);
    ck_assert_uint_eq(strlen((char *)buf), len);
    free(path);
    return (char *)buf;
}

/* ---- a cell's derived fields ---- */

START_TEST(derive_all_consistent)
{
    json_t *c =
        derive("\"exfiltration\"",
               "[{\"verdict\":\"exfiltration\",\"complete\":true,\"findings\":[\"b\",\"a\",\"b\"]},"
               "{\"verdict\":\"exfiltration\",\"complete\":true,\"findings\":[\"a\",\"b\"]},"
               "{\"verdict\":\"exfiltration\",\"complete\":true,\"findings\":[\"a\",\"b\"]}]");
    json_t *fail = derive("\"clean\"", "[{\"verdict\":\"exfiltration\",\"complete\":true,"
                                       "\"findings\":[]}]");

    ck_assert_str_eq(json_string_value(json_object_get(c, "verdict")), "exfiltration");
    assert_json(json_object_get(c, "verdicts"), "{\"exfiltration\":3}");
    ck_assert(json_is_true(json_object_get(c, "consistent")));
    ck_assert_str_eq(status(c), "pass");
    assert_json(json_object_get(c, "differing_findings"), "[]");
    /* Each run's keys sorted and deduplicated in place, so the first run's now match. */
    assert_json(json_object_get(json_array_get(json_object_get(c, "runs"), 0), "findings"),
                "[\"a\",\"b\"]");
    ck_assert_str_eq(status(fail), "fail");
    ck_assert_str_eq(json_string_value(json_object_get(fail, "verdict")), "exfiltration");
    json_decref(c);
    json_decref(fail);
}
END_TEST

START_TEST(derive_flaky_with_differing_findings)
{
    json_t *c =
        derive("\"exfiltration\"",
               "[{\"verdict\":\"exfiltration\",\"complete\":true,\"findings\":[\"k2\",\"k1\"]},"
               "{\"verdict\":\"clean\",\"complete\":true,\"findings\":[]},"
               "{\"verdict\":\"exfiltration\",\"complete\":true,\"findings\":[\"k1\",\"k0\"]},"
               "{\"verdict\":\"suspected\",\"complete\":true,\"findings\":[\"k1\"]}]");

    ck_assert_str_eq(json_string_value(json_object_get(c, "verdict")), "flaky");
    /* Rank order, whatever order the runs came in. */
    assert_json(json_object_get(c, "verdicts"), "{\"clean\":1,\"suspected\":1,\"exfiltration\":2}");
    ck_assert(json_is_false(json_object_get(c, "consistent")));
    ck_assert_str_eq(status(c), "flaky");
    /* k1 is missing from the clean run only: still in some and not all. */
    assert_json(json_object_get(c, "differing_findings"), "[\"k0\",\"k1\",\"k2\"]");
    json_decref(c);
}
END_TEST

START_TEST(derive_incomplete)
{
    /* One repetition's evidence incomplete: the cell is incomplete, not flaky or fail. */
    json_t *a = derive("\"clean\"", "[{\"verdict\":\"clean\",\"complete\":true,\"findings\":[]},"
                                    "{\"verdict\":\"incomplete\",\"complete\":false,"
                                    "\"findings\":[]}]");
    /* Exfiltration proven on incomplete evidence is still an incomplete repetition. */
    json_t *b = derive("\"exfiltration\"",
                       "[{\"verdict\":\"exfiltration\",\"complete\":false,\"findings\":[\"k\"]},"
                       "{\"verdict\":\"exfiltration\",\"complete\":true,\"findings\":[\"k\"]}]");
    /* A run with no report counts as "error"; its missing findings do not make k differ. */
    json_t *c = derive("\"exfiltration\"",
                       "[{\"verdict\":null,\"complete\":false},"
                       "{\"verdict\":\"error\",\"complete\":false,\"findings\":[]},"
                       "{\"verdict\":\"exfiltration\",\"complete\":true,\"findings\":[\"k\"]}]");
    /* No runs at all. */
    json_t *d = derive("\"clean\"", "[]");

    ck_assert_str_eq(status(a), "incomplete");
    ck_assert_str_eq(json_string_value(json_object_get(a, "verdict")), "flaky");
    assert_json(json_object_get(a, "verdicts"), "{\"clean\":1,\"incomplete\":1}");
    ck_assert_str_eq(status(b), "incomplete");
    ck_assert_str_eq(json_string_value(json_object_get(b, "verdict")), "exfiltration");
    ck_assert(json_is_true(json_object_get(b, "consistent")));
    ck_assert_str_eq(status(c), "incomplete");
    assert_json(json_object_get(c, "verdicts"), "{\"exfiltration\":1,\"error\":2}");
    assert_json(json_object_get(c, "differing_findings"), "[]");
    ck_assert_str_eq(status(d), "incomplete");
    ck_assert_str_eq(json_string_value(json_object_get(d, "verdict")), "error");
    assert_json(json_object_get(d, "verdicts"), "{}");
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
}
END_TEST

START_TEST(derive_no_expectation)
{
    json_t *a = derive("null", "[{\"verdict\":\"metadata-only\",\"complete\":true,"
                               "\"findings\":[\"m\"]},{\"verdict\":\"metadata-only\","
                               "\"complete\":true,\"findings\":[\"m\"]}]");
    /* Disagreeing repetitions are flaky whether or not anything was expected. */
    json_t *b = derive("null", "[{\"verdict\":\"clean\",\"complete\":true,\"findings\":[]},"
                               "{\"verdict\":\"metadata-only\",\"complete\":true,"
                               "\"findings\":[\"m\"]}]");

    ck_assert_str_eq(status(a), "no_expectation");
    ck_assert_str_eq(json_string_value(json_object_get(a, "verdict")), "metadata-only");
    ck_assert_str_eq(status(b), "flaky");
    assert_json(json_object_get(b, "differing_findings"), "[\"m\"]");
    json_decref(a);
    json_decref(b);
}
END_TEST

START_TEST(derive_expected_incomplete)
{
    /* A product that is expected to blind the evidence (kill the agent): incomplete passes. */
    json_t *a = derive("\"incomplete\"", "[{\"verdict\":\"incomplete\",\"complete\":false,"
                                         "\"findings\":[]},{\"verdict\":\"incomplete\","
                                         "\"complete\":false,\"findings\":[]}]");
    json_t *b = derive("\"incomplete\"", "[{\"verdict\":\"incomplete\",\"complete\":false,"
                                         "\"findings\":[]},{\"verdict\":\"clean\","
                                         "\"complete\":true,\"findings\":[]}]");
    json_t *c = derive("\"incomplete\"", "[{\"verdict\":\"clean\",\"complete\":true,"
                                         "\"findings\":[]}]");

    ck_assert_str_eq(status(a), "pass");
    ck_assert_str_eq(json_string_value(json_object_get(a, "verdict")), "incomplete");
    ck_assert_str_eq(status(b), "flaky");
    ck_assert_str_eq(status(c), "fail");
    json_decref(a);
    json_decref(b);
    json_decref(c);
}
END_TEST

/* Every cell of the fixtures, stripped of its derived fields, derives back to itself. */
START_TEST(derive_reproduces_the_fixtures)
{
    static const char *const files[] = {"matrix/baseline/matrix.json",
                                        "matrix/current/matrix.json"};
    static const char *const derived[] = {"verdict", "verdicts", "consistent", "status",
                                          "differing_findings"};

    for (size_t f = 0; f < 2; f++) {
        json_t *m = load(files[f]), *cell;
        size_t i;

        json_array_foreach(json_object_get(m, "cells"), i, cell)
        {
            json_t *copy = json_deep_copy(cell);
            avtb_error err = {0};
            char *want, *got;

            for (size_t k = 0; k < 5; k++)
                json_object_del(copy, derived[k]);
            ck_assert_int_eq(avtb_matrix_cell_derive(copy, &err), AVTB_OK);
            want = dump(cell);
            got = dump(copy);
            ck_assert_msg(json_equal(cell, copy), "%s cell %zu:\nwant %s\ngot  %s", files[f], i,
                          want, got);
            free(want);
            free(got);
            json_decref(copy);
        }
        json_decref(m);
    }
}
END_TEST

START_TEST(verdict_ranks)
{
    ck_assert_int_eq(avtb_matrix_verdict_rank("clean"), 0);
    ck_assert_int_eq(avtb_matrix_verdict_rank("metadata-only"), 1);
    ck_assert_int_eq(avtb_matrix_verdict_rank("suspected"), 2);
    ck_assert_int_eq(avtb_matrix_verdict_rank("exfiltration"), 3);
    ck_assert_int_eq(avtb_matrix_verdict_rank("incomplete"), 4);
    ck_assert_int_eq(avtb_matrix_verdict_rank("error"), 4);
    ck_assert_int_eq(avtb_matrix_verdict_rank("flaky"), 4);
    ck_assert_int_eq(avtb_matrix_verdict_rank("Clean"), -1);
    ck_assert_int_eq(avtb_matrix_verdict_rank(NULL), -1);
}
END_TEST

/* The fixtures (which the derive and summary tests reproduce) against reports/matrix.schema.json,
 * when python3 has jsonschema (Debian's python3-jsonschema; setup.sh installs it). */
START_TEST(fixtures_match_the_schema)
{
    static const char script[] =
        "import json, sys\n"
        "try:\n"
        "    import jsonschema\n"
        "except ImportError:\n"
        "    sys.exit(77)\n"
        "v = jsonschema.Draft202012Validator(json.load(open(sys.argv[1])))\n"
        "bad = [(p, e.message) for p in sys.argv[2:] for e in v.iter_errors(json.load(open(p)))]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n";
    char *schema = avtb_path_join(getenv("AVTB_DATADIR") ? getenv("AVTB_DATADIR") : ".",
                                  "reports/matrix.schema.json");
    char *a = avtb_path_join(testdata(), "matrix/baseline/matrix.json");
    char *b = avtb_path_join(testdata(), "matrix/current/matrix.json");
    const char *argv[] = {"python3", "-c", script, schema, a, b, NULL};
    avtb_error err = {0};
    char *out = NULL;
    int status = -1;

    ck_assert_int_eq(avtb_spawn(argv, 60000, &out, &status, &err), AVTB_OK);
    if (status == 77 || status == 127)
        fprintf(stderr, "test_matrix: python3 with jsonschema not found: fixtures not checked "
                        "against reports/matrix.schema.json\n");
    else
        ck_assert_msg(status == 0, "schema check (status %d): %s", status, out ? out : "");
    free(out);
    free(schema);
    free(a);
    free(b);
}
END_TEST

/* ---- the summary ---- */

START_TEST(summarise_counts_statuses)
{
    json_t *m = load("matrix/current/matrix.json");
    json_t *want = json_deep_copy(json_object_get(m, "summary"));
    avtb_error err = {0};

    json_object_del(m, "summary");
    ck_assert_int_eq(avtb_matrix_summarise(m, &err), AVTB_OK);
    assert_json(json_object_get(m, "summary"),
                "{\"cells\":6,\"runs\":18,\"pass\":2,\"fail\":1,\"flaky\":1,\"unexpected\":1,"
                "\"incomplete\":1,\"no_expectation\":1}");
    ck_assert(json_equal(want, json_object_get(m, "summary")));
    json_decref(want);
    json_decref(m);
}
END_TEST

START_TEST(summarise_unexpected_is_worse_only)
{
    /* Two fail cells: one did more than expected, one less; an empty matrix summarises too. */
    json_t *m = parse("{\"cells\":["
                      "{\"expected\":\"clean\",\"verdict\":\"suspected\",\"status\":\"fail\","
                      "\"runs\":[{},{}]},"
                      "{\"expected\":\"exfiltration\",\"verdict\":\"clean\",\"status\":\"fail\","
                      "\"runs\":[{}]}]}");
    json_t *e = parse("{}");
    avtb_error err = {0};

    ck_assert_int_eq(avtb_matrix_summarise(m, &err), AVTB_OK);
    assert_json(json_object_get(m, "summary"),
                "{\"cells\":2,\"runs\":3,\"pass\":0,\"fail\":2,\"flaky\":0,\"unexpected\":1,"
                "\"incomplete\":0,\"no_expectation\":0}");
    ck_assert_int_eq(avtb_matrix_summarise(e, &err), AVTB_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(e, "summary"), "cells")),
                     0);
    json_decref(m);
    json_decref(e);
}
END_TEST

/* ---- regressions ---- */

/* A derived cell of scenario s, product p, expecting exp (JSON text), with these runs. */
static json_t *mcell(const char *s, const char *p, const char *exp, const char *runs)
{
    json_t *c = derive(exp, runs);

    json_object_set_new(c, "scenario", json_string(s));
    json_object_set_new(c, "product", json_string(p));
    return c;
}

#define CLEAN3                                                                                     \
    "[{\"verdict\":\"clean\",\"complete\":true,\"findings\":[]},"                                  \
    "{\"verdict\":\"clean\",\"complete\":true,\"findings\":[]},"                                   \
    "{\"verdict\":\"clean\",\"complete\":true,\"findings\":[]}]"
#define EXF3(k)                                                                                    \
    "[{\"verdict\":\"exfiltration\",\"complete\":true,\"findings\":[\"" k "\"]},"                  \
    "{\"verdict\":\"exfiltration\",\"complete\":true,\"findings\":[\"" k "\"]},"                   \
    "{\"verdict\":\"exfiltration\",\"complete\":true,\"findings\":[\"" k "\"]}]"

static json_t *matrix_of(json_t *c1, json_t *c2)
{
    json_t *m = json_pack("{s:[]}", "cells");

    if (c1 != NULL)
        json_array_append_new(json_object_get(m, "cells"), c1);
    if (c2 != NULL)
        json_array_append_new(json_object_get(m, "cells"), c2);
    return m;
}

/* Compares and returns the result's regressions, improvements and new cells as one text. */
static char *compare_text(json_t *old, json_t *now, size_t *n)
{
    json_t *r = avtb_matrix_compare(old, now, "old", n);
    char *s;

    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(json_string_value(json_object_get(r, "baseline")), "old");
    s = dump(r);
    json_decref(r);
    return s;
}

START_TEST(compare_verdict_worse_and_better)
{
    json_t *old = matrix_of(mcell("a", "p", "null", CLEAN3), mcell("b", "p", "null", EXF3("k")));
    json_t *now = matrix_of(mcell("a", "p", "null", EXF3("k")), mcell("b", "p", "null", CLEAN3));
    size_t n = 99;
    char *s = compare_text(old, now, &n);

    ck_assert_str_eq(
        s,
        "{\"baseline\":\"old\",\"regressions\":["
        "{\"scenario\":\"a\",\"product\":\"p\",\"what\":\"verdict clean -> exfiltration\","
        "\"kind\":\"verdict\",\"from\":\"clean\",\"to\":\"exfiltration\"},"
        "{\"scenario\":\"a\",\"product\":\"p\",\"what\":\"new finding: k\",\"kind\":\"finding\","
        "\"finding\":\"k\"}],"
        "\"improvements\":["
        "{\"scenario\":\"b\",\"product\":\"p\",\"what\":\"verdict exfiltration -> clean\","
        "\"kind\":\"verdict\",\"from\":\"exfiltration\",\"to\":\"clean\"},"
        "{\"scenario\":\"b\",\"product\":\"p\",\"what\":\"finding gone: k\",\"kind\":\"finding\","
        "\"finding\":\"k\"}],"
        "\"new_cells\":[]}");
    ck_assert_uint_eq(n, 2);
    free(s);
    json_decref(old);
    json_decref(now);
}
END_TEST

START_TEST(compare_new_finding_key)
{
    /* Same verdict; a key the baseline never had in any repetition, and one it had. */
    json_t *old = matrix_of(mcell("a", "p", "\"exfiltration\"", EXF3("k1")), NULL);
    json_t *now = matrix_of(
        mcell("a", "p", "\"exfiltration\"",
              "[{\"verdict\":\"exfiltration\",\"complete\":true,\"findings\":[\"k1\",\"k2\"]},"
              "{\"verdict\":\"exfiltration\",\"complete\":true,\"findings\":[\"k1\"]}]"),
        NULL);
    json_t *r;
    size_t n = 0;

    r = avtb_matrix_compare(old, now, "old", &n);
    ck_assert_uint_eq(n, 1);
    assert_json(json_object_get(r, "regressions"),
                "[{\"scenario\":\"a\",\"product\":\"p\",\"what\":\"new finding: k2\","
                "\"kind\":\"finding\",\"finding\":\"k2\"}]");
    assert_json(json_object_get(r, "improvements"), "[]");
    json_decref(r);
    json_decref(old);
    json_decref(now);
}
END_TEST

START_TEST(compare_expectation_lost)
{
    /* Still clean, still consistent; it passed and now an incomplete run keeps it from passing. */
    json_t *old = matrix_of(mcell("a", "p", "\"clean\"", CLEAN3), NULL);
    json_t *now = matrix_of(mcell("a", "p", "\"clean\"",
                                  "[{\"verdict\":\"clean\",\"complete\":true,\"findings\":[]},"
                                  "{\"verdict\":\"clean\",\"complete\":false,\"findings\":[]}]"),
                            NULL);
    json_t *r;
    size_t n = 0;

    r = avtb_matrix_compare(old, now, "old", &n);
    ck_assert_uint_eq(n, 1);
    assert_json(json_object_get(r, "regressions"),
                "[{\"scenario\":\"a\",\"product\":\"p\",\"what\":\"expected clean: passed, now "
                "incomplete (clean)\",\"kind\":\"expectation\",\"from\":\"pass\",\"to\":"
                "\"incomplete\",\"expected\":\"clean\"}]");
    json_decref(r);
    json_decref(old);
    json_decref(now);
}
END_TEST

START_TEST(compare_missing_and_new_cells)
{
    json_t *old = matrix_of(mcell("a", "p", "null", CLEAN3), mcell("a", "q", "null", CLEAN3));
    json_t *now = matrix_of(mcell("a", "p", "null", CLEAN3), mcell("a", "r", "null", EXF3("k")));
    json_t *r;
    size_t n = 0;

    r = avtb_matrix_compare(old, now, "old", &n);
    ck_assert_uint_eq(n, 1);
    assert_json(json_object_get(r, "regressions"),
                "[{\"scenario\":\"a\",\"product\":\"q\",\"what\":\"cell missing from the new "
                "matrix (was clean)\",\"kind\":\"missing\"}]");
    /* A new cell is listed, not counted, even with findings. */
    assert_json(json_object_get(r, "new_cells"),
                "[{\"scenario\":\"a\",\"product\":\"r\",\"verdict\":\"exfiltration\","
                "\"status\":\"no_expectation\"}]");
    json_decref(r);
    /* No baseline at all: everything is new, nothing regresses. */
    r = avtb_matrix_compare(NULL, now, "none", &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(json_array_size(json_object_get(r, "new_cells")), 2);
    json_decref(r);
    json_decref(old);
    json_decref(now);
}
END_TEST

START_TEST(compare_flaky_where_consistent)
{
    /* incomplete and flaky rank the same; a cell that was consistently incomplete and is now
     * flaky still regresses. One that was flaky and is still flaky does not. */
    static const char inc[] = "[{\"verdict\":\"incomplete\",\"complete\":false,\"findings\":[]},"
                              "{\"verdict\":\"incomplete\",\"complete\":false,\"findings\":[]}]";
    static const char flaky[] = "[{\"verdict\":\"incomplete\",\"complete\":false,\"findings\":[]},"
                                "{\"verdict\":\"clean\",\"complete\":true,\"findings\":[]}]";
    json_t *old = matrix_of(mcell("a", "p", "null", inc), mcell("b", "p", "null", flaky));
    json_t *now = matrix_of(mcell("a", "p", "null", flaky), mcell("b", "p", "null", flaky));
    json_t *r;
    size_t n = 0;

    r = avtb_matrix_compare(old, now, "old", &n);
    ck_assert_uint_eq(n, 1);
    assert_json(json_object_get(r, "regressions"),
                "[{\"scenario\":\"a\",\"product\":\"p\",\"what\":\"verdict incomplete -> flaky\","
                "\"kind\":\"verdict\",\"from\":\"incomplete\",\"to\":\"flaky\"}]");
    assert_json(json_object_get(r, "improvements"), "[]");
    json_decref(r);
    json_decref(old);
    json_decref(now);
}
END_TEST

/* The fixtures' comparison, against the expected regressions.json. */
START_TEST(compare_golden)
{
    json_t *old = load("matrix/baseline/matrix.json"), *now = load("matrix/current/matrix.json");
    json_t *want = load("matrix/regressions.json"), *got;
    size_t n = 0;
    char *ws, *gs;

    got = avtb_matrix_compare(old, now, "tests/data/matrix/baseline", &n);
    ck_assert_ptr_nonnull(got);
    ws = json_dumps(want, JSON_INDENT(2));
    gs = json_dumps(got, JSON_INDENT(2));
    ck_assert_msg(json_equal(want, got), "want\n%s\ngot\n%s", ws, gs);
    ck_assert_uint_eq(n, 7);
    free(ws);
    free(gs);
    json_decref(old);
    json_decref(now);
    json_decref(want);
    json_decref(got);
}
END_TEST

/* ---- matrix.html ---- */

static char *render_html(json_t *m, json_t *regs, char **dirp)
{
    avtb_error err = {0};
    char *dir = tmpdir(), *html;

    ck_assert_msg(avtb_matrix_write_html(m, regs, dir, &err) == AVTB_OK, "%s", err.msg);
    html = read_text(dir, "matrix.html");
    *dirp = dir;
    return html;
}

/* Every href is a cell anchor, matrix.json, or runs/<plain name>/report.html. */
static void assert_safe_links(const char *html)
{
    size_t links = 0;

    for (const char *p = strstr(html, "href="); p != NULL; p = strstr(p + 1, "href=")) {
        const char *v = p + 6, *end = strchr(v, '"');
        char *target;

        ck_assert_int_eq(p[5], '"');
        ck_assert_ptr_nonnull(end);
        target = strndup(v, (size_t)(end - v));
        if (target[0] == '#') {
            ck_assert_msg(strncmp(target, "#cell-", 6) == 0 &&
                              strspn(target + 6, "0123456789") == strlen(target + 6),
                          "link %s", target);
        } else if (strcmp(target, "matrix.json") != 0) {
            size_t n = strlen(target);

            ck_assert_msg(strncmp(target, "runs/", 5) == 0 && n > 17 &&
                              strcmp(target + n - 12, "/report.html") == 0,
                          "link %s", target);
            ck_assert_msg(target[5] != '.' &&
                              strspn(target + 5,
                                     "abcdefghijklmnopqrstuvwxyz"
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n - 17,
                          "link %s", target);
        }
        free(target);
        links++;
    }
    ck_assert_uint_gt(links, 0);
}

START_TEST(html_escapes_and_counts)
{
    json_t *m = load("matrix/current/matrix.json"), *regs = load("matrix/regressions.json");
    char *dir, *html = render_html(m, regs, &dir);
    const char *table, *cells;

    /* The hostile finding key: never markup, always its escaped text. */
    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_ptr_nonnull(strstr(html, "content &lt;script&gt;&amp;&quot;&#39;.txt to evil"));
    ck_assert_ptr_null(strstr(html, "<b>&amp;</b>"));
    ck_assert_ptr_nonnull(strstr(html, "<th>defender &lt;b&gt;&amp;amp;&lt;/b&gt;</th>"));
    /* Self-contained: nothing fetched, nothing run. */
    ck_assert_ptr_null(strstr(html, "src="));
    ck_assert_ptr_null(strstr(html, "url("));
    ck_assert_ptr_null(strstr(html, "@import"));
    ck_assert_ptr_null(strstr(html, "javascript:"));
    /* Regressions above the table; the table's columns control first; the sections below. */
    table = strstr(html, "<table class=\"matrix\">");
    cells = strstr(html, "<h2>Cells</h2>");
    ck_assert_ptr_nonnull(table);
    ck_assert_ptr_nonnull(cells);
    ck_assert_ptr_nonnull(strstr(html, "7 regressions against <code>tests/data/matrix/baseline"));
    ck_assert(strstr(html, "verdict clean -&gt; exfiltration") < table);
    ck_assert_ptr_nonnull(strstr(table, "<th>scenario</th><th>control</th><th>sampler</th>"
                                        "<th>clamav</th><th>defender"));
    /* The counts, coloured by status, linking to their section. */
    ck_assert_ptr_nonnull(strstr(table, "<td class=\"cell s-fail\"><a href=\"#cell-1\">"
                                        "<div class=\"counts\">exfiltration 3/3</div>"
                                        "<div class=\"exp\">expected clean</div>"));
    ck_assert_ptr_nonnull(strstr(table, "<td class=\"cell s-flaky\"><a href=\"#cell-4\">"
                                        "<div class=\"counts\">clean 1/3 \u00b7 exfiltration "
                                        "2/3</div>"));
    ck_assert_ptr_nonnull(strstr(table, "suspected 2/3 \u00b7 incomplete 1/3</div><div "
                                        "class=\"exp\">expected suspected</div>"));
    ck_assert_ptr_nonnull(strstr(table, "<div class=\"exp\">expected nothing</div>"));
    /* keyword-hunter has no clamav cell any more, and sample-only no defender one. */
    ck_assert_uint_eq(count(table, "<td class=\"none\">"), 2);
    ck_assert_ptr_nonnull(strstr(cells, "<section id=\"cell-4\">"));
    /* The summary and the timing block at the top. */
    ck_assert_ptr_nonnull(strstr(html, "<p class=\"summary\">6 cells \u00b7 18 runs (each 3\u00d7):"
                                       " <span class=\"tag s-pass\">2 pass</span>"));
    ck_assert(strstr(html, "<p class=\"summary\">") < table);
    ck_assert_ptr_nonnull(strstr(html, "<dt>wall time</dt><dd>1260.0 s</dd>"));
    json_decref(m);
    json_decref(regs);
    free(html);
    rmdir_all(dir);
}
END_TEST

START_TEST(html_links_only_inside_the_matrix)
{
    json_t *m = load("matrix/current/matrix.json"), *cell;
    char *dir, *html;

    /* Run ids that would leave the directory or run script as a link. */
    cell = json_array_get(json_object_get(m, "cells"), 0);
    json_object_set_new(json_array_get(json_object_get(cell, "runs"), 0), "run_id",
                        json_string("javascript:alert(1)"));
    json_object_set_new(json_array_get(json_object_get(cell, "runs"), 1), "run_id",
                        json_string(".."));
    json_object_set_new(json_array_get(json_object_get(cell, "runs"), 2), "run_id",
                        json_string("/etc/x\" onclick=\"y"));
    html = render_html(m, NULL, &dir);
    assert_safe_links(html);
    ck_assert_ptr_null(strstr(html, "href=\"javascript"));
    ck_assert_ptr_null(strstr(html, "runs/../"));
    ck_assert_ptr_null(strstr(html, "runs/../../../etc/passwd"));
    ck_assert_ptr_null(strstr(html, "\" onclick"));
    /* Shown, as text. */
    ck_assert_ptr_nonnull(strstr(html, "<code>../../../etc/passwd</code>"));
    ck_assert_ptr_nonnull(strstr(html, "<code>/etc/x&quot; onclick=&quot;y</code>"));
    /* An ordinary run is linked to its report. */
    ck_assert_ptr_nonnull(strstr(html, "<a href=\"runs/"));
    ck_assert_ptr_nonnull(strstr(html, "/report.html\"><code>keyword-hunter-2026"));
    /* Without a comparison there is no regressions list. */
    ck_assert_ptr_null(strstr(html, "regression"));
    json_decref(m);
    free(html);
    rmdir_all(dir);
}
END_TEST

START_TEST(html_hostile_names_and_errors)
{
    json_t *m = parse("{\"scenarios\":[\"<script>&\\\"'\"],\"products\":[\"own\"],"
                      "\"cells\":[{\"scenario\":\"<script>&\\\"'\",\"product\":\"p<i>\","
                      "\"expected\":\"<img src=x>\",\"verdicts\":{\"<svg onload=1>\":1},"
                      "\"status\":\"<b>\",\"differing_findings\":[\"\\u202e<u>\"],"
                      "\"runs\":[{\"run_id\":\"r1\",\"verdict\":\"<x>\",\"findings\":[]}]}]}");
    avtb_error err = {0};
    char *dir, *html = render_html(m, NULL, &dir);

    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_ptr_null(strstr(html, "<img"));
    ck_assert_ptr_null(strstr(html, "<svg"));
    ck_assert_ptr_null(strstr(html, "<u>"));
    ck_assert_ptr_null(strstr(html, "\u202e"));
    /* The product's own cell sits in the "own" column, named (escaped) since the column is not
     * its name; an unknown status gets no class of its own. */
    ck_assert_ptr_nonnull(strstr(html, "<th>own</th></tr>"));
    ck_assert_ptr_nonnull(strstr(html, "<td class=\"cell s-unknown\"><a href=\"#cell-0\">"
                                       "<div class=\"prod\">p&lt;i&gt;</div>"
                                       "<div class=\"counts\">&lt;svg onload=1&gt; 1/1</div>"));
    ck_assert_ptr_nonnull(strstr(html, "[U+202E]&lt;u&gt;"));
    assert_safe_links(html);
    ck_assert_int_eq(avtb_matrix_write_html(m, NULL, "/nonexistent/dir", &err), AVTB_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/dir"));
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_matrix_write_html(json_array_get(m, 0), NULL, dir, &err),
                     AVTB_ERR_INTERNAL);
    json_decref(m);
    free(html);
    rmdir_all(dir);
}
END_TEST

/* ---- matrix-junit.xml ---- */

/* xmllint --schema tests/data/junit.xsd; false when xmllint is not installed. */
static bool xmllint_valid(const char *dir)
{
    char *path = avtb_path_join(dir, "matrix-junit.xml"),
         *xsd = avtb_path_join(testdata(), "junit.xsd");
    const char *argv[] = {"xmllint", "--noout", "--schema", xsd, path, NULL};
    avtb_error err = {0};
    char *out = NULL;
    int status = -1;

    ck_assert_int_eq(avtb_spawn(argv, 60000, &out, &status, &err), AVTB_OK);
    free(out);
    free(path);
    free(xsd);
    if (status == 127) {
        fprintf(stderr, "test_matrix: xmllint not installed (apt-get install libxml2-utils): "
                        "matrix-junit.xml checked by its content only\n");
        return false;
    }
    ck_assert_msg(status == 0, "xmllint rejected %s/matrix-junit.xml (status %d)", dir, status);
    return true;
}

static char *render_junit(json_t *m, json_t *regs, char **dirp)
{
    avtb_error err = {0};
    char *dir = tmpdir(), *x;

    ck_assert_msg(avtb_matrix_write_junit(m, regs, dir, &err) == AVTB_OK, "%s", err.msg);
    x = read_text(dir, "matrix-junit.xml");
    xmllint_valid(dir);
    *dirp = dir;
    return x;
}

START_TEST(junit_cells_and_regressions)
{
    json_t *m = load("matrix/current/matrix.json"), *regs = load("matrix/regressions.json");
    char *dir, *x = render_junit(m, regs, &dir);
    const char *fail, *flaky, *inc, *noexp, *pass, *r;

    ck_assert_ptr_nonnull(strstr(x, "<testsuites name=\"avtb matrix\" tests=\"13\" "
                                    "failures=\"10\" errors=\"0\" time=\"1260.000\" "
                                    "timestamp=\"2026-11-26T17:00:00\">"));
    ck_assert_uint_eq(count(x, "<testsuite "), 3);
    ck_assert_uint_eq(count(x, "<testcase "), 13);
    ck_assert_uint_eq(count(x, "<failure "), 10);
    ck_assert_ptr_nonnull(strstr(x, "<testsuite name=\"sample-only\" tests=\"3\" failures=\"1\""));
    ck_assert_ptr_nonnull(
        strstr(x, "<testsuite name=\"keyword-hunter\" tests=\"3\" failures=\"2\""));
    fail = strstr(x, "<testcase classname=\"avtb.matrix.sample-only\" name=\"sampler\"");
    noexp = strstr(x, "<testcase classname=\"avtb.matrix.sample-only\" name=\"clamav\"");
    pass = strstr(x, "<testcase classname=\"avtb.matrix.keyword-hunter\" name=\"control\"");
    flaky = strstr(x, "<testcase classname=\"avtb.matrix.keyword-hunter\" name=\"sampler\"");
    inc = strstr(x, "<testcase classname=\"avtb.matrix.keyword-hunter\" "
                    "name=\"defender &lt;b&gt;&amp;amp;&lt;/b&gt;\"");
    r = strstr(x, "<testsuite name=\"regressions\" tests=\"7\" failures=\"7\"");
    ck_assert(fail && noexp && pass && flaky && inc && r);
    ck_assert(fail < noexp && noexp < pass && pass < flaky && flaky < inc && inc < r);
    ck_assert_ptr_nonnull(strstr(fail, "<property name=\"verdict\" value=\"exfiltration\"/>\n"
                                       "        <property name=\"expected\" value=\"clean\"/>\n"
                                       "        <property name=\"counts\" "
                                       "value=\"exfiltration 3/3\"/>"));
    ck_assert_ptr_nonnull(strstr(fail, "<failure message=\"fail: expected clean, got "
                                       "exfiltration 3/3\" type=\"fail\">run sample-only-"));
    ck_assert_ptr_nonnull(strstr(flaky, "<failure message=\"flaky: expected exfiltration, got "
                                        "clean 1/3 \u00b7 exfiltration 2/3\" type=\"flaky\">"));
    /* The hostile key, escaped in the failure's text. */
    ck_assert_ptr_nonnull(strstr(flaky, "differing: content &lt;script&gt;&amp;\"'.txt"));
    ck_assert_ptr_nonnull(strstr(inc,
                                 "<failure message=\"incomplete: expected suspected, got "
                                 "suspected 2/3 \u00b7 incomplete 1/3\" type=\"incomplete\">"));
    /* no_expectation and pass: no failure, the reason in system-out. */
    ck_assert_ptr_null(memmem(noexp, (size_t)(pass - noexp), "<failure", 8));
    ck_assert_ptr_nonnull(strstr(noexp, "<system-out>no expectation for this cell: nothing to "
                                        "check; got clean 3/3\n"));
    ck_assert_ptr_null(memmem(pass, (size_t)(flaky - pass), "<failure", 8));
    ck_assert_ptr_nonnull(strstr(r, "<property name=\"baseline\" "
                                    "value=\"tests/data/matrix/baseline\"/>"));
    ck_assert_ptr_nonnull(strstr(r, "<testcase classname=\"avtb.matrix.regressions\" name=\"1 "
                                    "verdict\" time=\"0\">\n      <failure message=\"verdict clean "
                                    "-&gt; exfiltration\" type=\"verdict\">sample-only \u00d7 "
                                    "sampler: verdict clean -&gt; exfiltration</failure>"));
    ck_assert_ptr_nonnull(strstr(r, "name=\"7 missing\""));
    json_decref(m);
    json_decref(regs);
    free(x);
    rmdir_all(dir);
}
END_TEST

START_TEST(junit_valid_whatever_the_strings)
{
    /* Control characters, a CDATA end, markup, quotes, U+FFFE and an empty product name. */
    json_t *m = parse("{\"scenarios\":[\"s\\u0001]]><x>\\\"&\"],"
                      "\"started\":\"not a time\",\"timing\":{\"wall_seconds\":-3},"
                      "\"cells\":[{\"scenario\":\"s\\u0001]]><x>\\\"&\",\"product\":\"\","
                      "\"expected\":\"clean\\u001b\",\"verdict\":\"flaky\","
                      "\"verdicts\":{\"clean\":1,\"x\\ufffe\":1},\"status\":\"flaky\","
                      "\"differing_findings\":[\"k\\u0002<y>\"],"
                      "\"runs\":[{\"run_id\":\"r\\u0003\",\"verdict\":\"clean\",\"seconds\":1e308,"
                      "\"findings\":[]},{\"run_id\":\"r2\",\"verdict\":\"x\\ufffe\","
                      "\"seconds\":-1,\"findings\":[\"k\\u0002<y>\"]}]}]}");
    char *dir, *x = render_junit(m, NULL, &dir);

    ck_assert_ptr_null(strstr(x, "<x>"));
    ck_assert_ptr_null(strstr(x, "<y>"));
    ck_assert_ptr_null(strstr(x, "]]>"));
    for (const char *p = x; *p; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 || *p == '\n' || *p == '\t', "control byte %02x",
                      (unsigned char)*p);
    ck_assert_ptr_null(strstr(x, "\xef\xbf\xbe"));
    ck_assert_ptr_null(strstr(x, "timestamp="));
    ck_assert_ptr_nonnull(strstr(x, "time=\"0.000\">"));
    ck_assert_ptr_nonnull(strstr(x, "name=\"unknown\""));
    ck_assert_uint_eq(count(x, "<failure "), 1);
    ck_assert_ptr_null(strstr(x, "regressions"));
    json_decref(m);
    free(x);
    rmdir_all(dir);
}
END_TEST

START_TEST(junit_errors)
{
    json_t *m = load("matrix/current/matrix.json");
    avtb_error err = {0};

    ck_assert_int_eq(avtb_matrix_write_junit(m, NULL, "/nonexistent/dir", &err), AVTB_ERR_IO);
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_matrix_write_junit(json_object_get(m, "cells"), NULL, "/tmp", &err),
                     AVTB_ERR_INTERNAL);
    json_decref(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("matrix");
    TCase *d = tcase_create("derive"), *sum = tcase_create("summary");
    TCase *cmp = tcase_create("compare"), *h = tcase_create("html"), *j = tcase_create("junit");

    tcase_add_test(d, derive_all_consistent);
    tcase_add_test(d, derive_flaky_with_differing_findings);
    tcase_add_test(d, derive_incomplete);
    tcase_add_test(d, derive_no_expectation);
    tcase_add_test(d, derive_expected_incomplete);
    tcase_add_test(d, derive_reproduces_the_fixtures);
    tcase_add_test(d, verdict_ranks);
    tcase_add_test(d, fixtures_match_the_schema);
    tcase_add_test(sum, summarise_counts_statuses);
    tcase_add_test(sum, summarise_unexpected_is_worse_only);
    tcase_add_test(cmp, compare_verdict_worse_and_better);
    tcase_add_test(cmp, compare_new_finding_key);
    tcase_add_test(cmp, compare_expectation_lost);
    tcase_add_test(cmp, compare_missing_and_new_cells);
    tcase_add_test(cmp, compare_flaky_where_consistent);
    tcase_add_test(cmp, compare_golden);
    tcase_add_test(h, html_escapes_and_counts);
    tcase_add_test(h, html_links_only_inside_the_matrix);
    tcase_add_test(h, html_hostile_names_and_errors);
    tcase_add_test(j, junit_cells_and_regressions);
    tcase_add_test(j, junit_valid_whatever_the_strings);
    tcase_add_test(j, junit_errors);
    suite_add_tcase(s, d);
    suite_add_tcase(s, sum);
    suite_add_tcase(s, cmp);
    suite_add_tcase(s, h);
    suite_add_tcase(s, j);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
