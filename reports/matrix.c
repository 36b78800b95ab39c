/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The comparison matrix; see matrix.h and reports/MATRIX.md. Derivation and
 * comparison work on matrix.json's objects; the two writers build their text
 * in an avtb_buf, pass every string from the JSON through an escaper, and
 * write with avtb_write_file (temporary file, fsync, rename).
 */
#include "reports/matrix.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "reports/html.h"
#include "reports/junit.h"

/* ---- small helpers ---- */

static const char *js(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool streq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Most seconds a duration may hold: longer is not a measurement, and XML schema
 * validators reject decimals with hundreds of digits. */
#define SECONDS_MAX 1e9

/* A duration member in seconds: a number from 0 to SECONDS_MAX, else NAN. */
static double jsecs(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    double d = json_is_number(v) ? json_number_value(v) : NAN;

    return d >= 0 && d <= SECONDS_MAX ? d : NAN;
}

/* A cell's verdict as compared and shown: a missing one is "error". */
static const char *cell_verdict(json_t *cell)
{
    return js(cell, "verdict") ? js(cell, "verdict") : "error";
}

/* Verdicts in the order they are listed ("verdicts", counts text). */
static const char *const verdict_order[] = {"clean",        "metadata-only", "suspected",
                                            "exfiltration", "incomplete",    "error"};
#define NVERDICTS (sizeof(verdict_order) / sizeof(verdict_order[0]))

int avtb_matrix_verdict_rank(const char *verdict)
{
    static const struct {
        const char *name;
        int rank;
    } ranks[] = {{"clean", 0},      {"metadata-only", 1}, {"suspected", 2}, {"exfiltration", 3},
                 {"incomplete", 4}, {"error", 4},         {"flaky", 4}};

    for (size_t i = 0; i < sizeof(ranks) / sizeof(ranks[0]); i++)
        if (streq(verdict, ranks[i].name))
            return ranks[i].rank;
    return -1;
}

/* For comparisons: a verdict avtb does not know is worse than every known one. */
static int cmp_rank(const char *verdict)
{
    int r = avtb_matrix_verdict_rank(verdict);

    return r < 0 ? 5 : r;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The strings of arr, sorted, duplicates removed: a new array; NULL when out of memory. */
static json_t *sorted_unique(json_t *arr)
{
    size_t n = json_array_size(arr), k = 0, i;
    const char **v = calloc(n ? n : 1, sizeof(*v));
    json_t *out = json_array(), *e;

    if (v == NULL || out == NULL)
        goto fail;
    json_array_foreach(arr, i, e)
    {
        if (json_is_string(e))
            v[k++] = json_string_value(e);
    }
    qsort(v, k, sizeof(*v), str_cmp);
    for (i = 0; i < k; i++)
        if ((i == 0 || strcmp(v[i], v[i - 1]) != 0) &&
            json_array_append_new(out, json_string(v[i])) != 0)
            goto fail;
    free(v);
    return out;
fail:
    free(v);
    json_decref(out);
    return NULL;
}

/* Adds n to obj[key] (an integer, 0 when absent); false when out of memory. */
static bool count_add(json_t *obj, const char *key, json_int_t n)
{
    json_t *v = json_object_get(obj, key);

    if (v != NULL)
        return json_integer_set(v, json_integer_value(v) + n) == 0;
    return json_object_set_new(obj, key, json_integer(n)) == 0;
}

/* ---- a cell's derived fields ---- */

/* A copy of counts with the known verdicts first, in rank order; NULL when out of memory. */
static json_t *verdicts_ordered(json_t *counts)
{
    json_t *out = json_object(), *v;
    const char *k;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < NVERDICTS; i++)
        if ((v = json_object_get(counts, verdict_order[i])) != NULL &&
            json_object_set(out, verdict_order[i], v) != 0)
            goto fail;
    json_object_foreach(counts, k, v)
    {
        if (json_object_get(out, k) == NULL && json_object_set(out, k, v) != 0)
            goto fail;
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

avtb_err avtb_matrix_cell_derive(json_t *cell, avtb_error *err)
{
    avtb_err ret = AVTB_ERR_NOMEM;
    json_t *runs = json_object_get(cell, "runs"), *run;
    json_t *counts = json_object(), *seen = json_object(), *differing = json_array();
    json_t *verdicts = NULL, *key;
    const char *expected = js(cell, "expected"), *first = NULL, *status, *k;
    bool consistent = true, incomplete = false;
    size_t i, j, reported = 0;
    char *verdict = NULL;

    if (counts == NULL || seen == NULL || differing == NULL)
        goto out;
    json_array_foreach(runs, i, run)
    {
        const char *v = js(run, "verdict") ? js(run, "verdict") : "error";
        json_t *findings = json_object_get(run, "findings"), *norm;

        if (streq(v, "incomplete") || streq(v, "error") ||
            json_is_false(json_object_get(run, "complete")))
            incomplete = true;
        if (first == NULL)
            first = v;
        else if (strcmp(first, v) != 0)
            consistent = false;
        if (!count_add(counts, v, 1))
            goto out;
        if (!json_is_array(findings))
            continue;
        if ((norm = sorted_unique(findings)) == NULL)
            goto out;
        if (json_array_clear(findings) != 0 || json_array_extend(findings, norm) != 0) {
            json_decref(norm);
            goto out;
        }
        json_decref(norm);
        if (streq(v, "error"))
            continue; /* a run without a report: what it found is unknown, not nothing */
        reported++;
        json_array_foreach(findings, j, key)
        {
            if (!count_add(seen, json_string_value(key), 1))
                goto out;
        }
    }
    if (first == NULL) /* no runs: nothing was decided */
        incomplete = true;
    /* first points into runs, which the updates below do not touch; copied all the same. */
    verdict = strdup(first == NULL ? "error" : consistent ? first : "flaky");
    if (verdict == NULL)
        goto out;
    json_object_foreach(seen, k, key)
    {
        if ((size_t)json_integer_value(key) < reported &&
            json_array_append_new(differing, json_string(k)) != 0)
            goto out;
    }
    {
        json_t *sorted = sorted_unique(differing);

        json_decref(differing);
        differing = sorted;
        if (differing == NULL)
            goto out;
    }
    if (incomplete && !streq(expected, "incomplete"))
        status = "incomplete";
    else if (!consistent)
        status = "flaky";
    else if (expected == NULL)
        status = "no_expectation";
    else
        status = streq(verdict, expected) ? "pass" : "fail";
    if ((verdicts = verdicts_ordered(counts)) == NULL)
        goto out;
    if (json_object_set_new(cell, "verdict", json_string(verdict)) != 0 ||
        json_object_set(cell, "verdicts", verdicts) != 0 ||
        json_object_set_new(cell, "consistent", json_boolean(consistent)) != 0 ||
        json_object_set_new(cell, "status", json_string(status)) != 0 ||
        json_object_set(cell, "differing_findings", differing) != 0)
        goto out;
    ret = AVTB_OK;
out:
    if (ret != AVTB_OK)
        avtb_error_set(err, ret, "out of memory deriving a matrix cell");
    json_decref(counts);
    json_decref(seen);
    json_decref(differing);
    json_decref(verdicts);
    free(verdict);
    return ret;
}

/* ---- the summary ---- */

avtb_err avtb_matrix_summarise(json_t *matrix, avtb_error *err)
{
    static const char *const statuses[] = {"pass", "fail", "flaky", "incomplete", "no_expectation"};
    json_int_t n[5] = {0}, runs = 0, unexpected = 0;
    json_t *cells = json_object_get(matrix, "cells"), *c, *s;
    size_t i;

    json_array_foreach(cells, i, c)
    {
        const char *st = js(c, "status");

        runs += (json_int_t)json_array_size(json_object_get(c, "runs"));
        for (size_t k = 0; k < 5; k++)
            if (streq(st, statuses[k]))
                n[k]++;
        if (streq(st, "fail") && js(c, "expected") != NULL &&
            cmp_rank(cell_verdict(c)) > cmp_rank(js(c, "expected")))
            unexpected++;
    }
    s = json_pack("{sI sI sI sI sI sI sI sI}", "cells", (json_int_t)json_array_size(cells), "runs",
                  runs, "pass", n[0], "fail", n[1], "flaky", n[2], "unexpected", unexpected,
                  "incomplete", n[3], "no_expectation", n[4]);
    if (s == NULL || json_object_set_new(matrix, "summary", s) != 0)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory summarising the matrix");
    return AVTB_OK;
}

/* ---- regressions ---- */

static json_t *find_cell(json_t *cells, const char *scenario, const char *product)
{
    json_t *c;
    size_t i;

    json_array_foreach(cells, i, c)
    {
        if (streq(js(c, "scenario"), scenario) && streq(js(c, "product"), product))
            return c;
    }
    return NULL;
}

/* Every finding key of any repetition of a cell: a sorted array; NULL when out of memory. */
static json_t *cell_keys(json_t *cell)
{
    json_t *all = json_array(), *run, *sorted;
    size_t i;

    if (all == NULL)
        return NULL;
    json_array_foreach(json_object_get(cell, "runs"), i, run)
    {
        json_t *f = json_object_get(run, "findings");

        if (json_is_array(f) && json_array_extend(all, f) != 0) {
            json_decref(all);
            return NULL;
        }
    }
    sorted = sorted_unique(all);
    json_decref(all);
    return sorted;
}

static bool has_string(json_t *arr, const char *s)
{
    json_t *v;
    size_t i;

    json_array_foreach(arr, i, v)
    {
        if (streq(json_string_value(v), s))
            return true;
    }
    return false;
}

/* Appends {"scenario", "product", "what", "kind"} and extra (stolen, may be NULL) to arr. */
static bool entry(json_t *arr, json_t *cell, const char *kind, json_t *extra, const char *fmt, ...)
    AVTB_PRINTF(5, 6);
static bool entry(json_t *arr, json_t *cell, const char *kind, json_t *extra, const char *fmt, ...)
{
    char *what = NULL;
    va_list ap;
    json_t *e;
    int n;
    bool ok;

    va_start(ap, fmt);
    n = vasprintf(&what, fmt, ap);
    va_end(ap);
    if (n < 0) {
        json_decref(extra);
        return false;
    }
    e = json_pack("{s:s? s:s? s:s s:s}", "scenario", js(cell, "scenario"), "product",
                  js(cell, "product"), "what", what, "kind", kind);
    free(what);
    ok = e != NULL && (extra == NULL || json_object_update(e, extra) == 0);
    json_decref(extra);
    return ok && json_array_append_new(arr, e) == 0;
}

/* The regressions and improvements of one cell present in both matrices. */
static bool compare_cell(json_t *b, json_t *c, json_t *regs, json_t *imps)
{
    const char *bv = cell_verdict(b), *cv = cell_verdict(c);
    const char *bs = js(b, "status"), *cs = js(c, "status");
    int br = cmp_rank(bv), cr = cmp_rank(cv);
    json_t *bkeys = cell_keys(b), *ckeys = cell_keys(c), *k;
    bool ok = bkeys != NULL && ckeys != NULL;
    size_t i;

    if (!ok)
        goto out;
    if (cr > br || (streq(cv, "flaky") && !streq(bv, "flaky")))
        ok = entry(regs, c, "verdict", json_pack("{s:s s:s}", "from", bv, "to", cv),
                   "verdict %s -> %s", bv, cv);
    else if (cr < br)
        ok = entry(imps, c, "verdict", json_pack("{s:s s:s}", "from", bv, "to", cv),
                   "verdict %s -> %s", bv, cv);
    if (ok && streq(bs, "pass") && !streq(cs, "pass"))
        ok = entry(regs, c, "expectation",
                   json_pack("{s:s s:s s:s?}", "from", "pass", "to", cs ? cs : "?", "expected",
                             js(c, "expected")),
                   "expected %s: passed, now %s (%s)",
                   js(c, "expected") ? js(c, "expected") : "nothing", cs ? cs : "?", cv);
    json_array_foreach(ckeys, i, k)
    {
        const char *key = json_string_value(k);

        if (ok && !has_string(bkeys, key))
            ok = entry(regs, c, "finding", json_pack("{s:s}", "finding", key), "new finding: %s",
                       key);
    }
    json_array_foreach(bkeys, i, k)
    {
        const char *key = json_string_value(k);

        if (ok && !has_string(ckeys, key))
            ok = entry(imps, c, "finding", json_pack("{s:s}", "finding", key), "finding gone: %s",
                       key);
    }
out:
    json_decref(bkeys);
    json_decref(ckeys);
    return ok;
}

json_t *avtb_matrix_compare(json_t *baseline, json_t *current, const char *baseline_dir,
                            size_t *nregressions)
{
    json_t *bcells = json_object_get(baseline, "cells"),
           *ccells = json_object_get(current, "cells");
    json_t *regs = json_array(), *imps = json_array(), *news = json_array(), *out = NULL, *cell;
    bool ok = regs != NULL && imps != NULL && news != NULL;
    size_t i;

    *nregressions = 0;
    json_array_foreach(bcells, i, cell)
    {
        json_t *now = find_cell(ccells, js(cell, "scenario"), js(cell, "product"));

        if (!ok)
            break;
        if (now == NULL)
            ok = entry(regs, cell, "missing", NULL, "cell missing from the new matrix (was %s)",
                       cell_verdict(cell));
        else
            ok = compare_cell(cell, now, regs, imps);
    }
    json_array_foreach(ccells, i, cell)
    {
        if (ok && find_cell(bcells, js(cell, "scenario"), js(cell, "product")) == NULL)
            ok = json_array_append_new(
                     news, json_pack("{s:s? s:s? s:s s:s?}", "scenario", js(cell, "scenario"),
                                     "product", js(cell, "product"), "verdict", cell_verdict(cell),
                                     "status", js(cell, "status"))) == 0;
    }
    if (ok)
        out = json_pack("{s:s s:O s:O s:O}", "baseline", baseline_dir ? baseline_dir : "",
                        "regressions", regs, "improvements", imps, "new_cells", news);
    if (out != NULL)
        *nregressions = json_array_size(regs);
    json_decref(regs);
    json_decref(imps);
    json_decref(news);
    return out;
}

/* ---- shared by the renderings ---- */

/* "clean 2/3 · exfiltration 1/3" of a cell's "verdicts" into b, unescaped. */
static void counts_text(avtb_buf *b, json_t *cell)
{
    json_t *counts = json_object_get(cell, "verdicts"), *v;
    json_int_t total = 0;
    const char *k;
    bool any = false;

    json_object_foreach(counts, k, v)
    {
        total += json_integer_value(v);
    }
    json_object_foreach(counts, k, v)
    {
        avtb_buf_printf(b, "%s%s %lld/%lld", any ? " \u00b7 " : "", k,
                        (long long)json_integer_value(v), (long long)total);
        any = true;
    }
    if (!any)
        avtb_buf_str(b, "no runs");
}

/* The same, as a new string; NULL when out of memory. */
static char *counts_string(json_t *cell)
{
    avtb_buf b = {0};

    counts_text(&b, cell);
    return avtb_buf_take(&b);
}

static const char *status_of(json_t *cell)
{
    static const char *const known[] = {"pass", "fail", "flaky", "incomplete", "no_expectation"};
    const char *s = js(cell, "status");

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (streq(s, known[i]))
            return known[i];
    return "unknown";
}

/* A run id that can stand in a link as it is: runs/<id>/report.html stays inside the matrix. */
static bool plain_name(const char *s)
{
    if (s == NULL || s[0] == '\0' || s[0] == '.')
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

/* Scenario names in row order: "scenarios", then any only the cells name. New reference. */
static json_t *row_names(json_t *matrix)
{
    json_t *rows = json_array(), *v;
    size_t i;

    if (rows == NULL)
        return NULL;
    json_array_foreach(json_object_get(matrix, "scenarios"), i, v)
    {
        if (json_is_string(v) && !has_string(rows, json_string_value(v)) &&
            json_array_append(rows, v) != 0)
            goto fail;
    }
    json_array_foreach(json_object_get(matrix, "cells"), i, v)
    {
        const char *s = js(v, "scenario") ? js(v, "scenario") : "";

        if (!has_string(rows, s) && json_array_append_new(rows, json_string(s)) != 0)
            goto fail;
    }
    return rows;
fail:
    json_decref(rows);
    return NULL;
}

static const char *row_of(json_t *cell)
{
    return js(cell, "scenario") ? js(cell, "scenario") : "";
}

/* ---- matrix.html ---- */

static void esc(avtb_buf *b, const char *s)
{
    avtb_html_escape(b, s);
}

static const char css[] =
    ":root{--fg:#1f2328;--dim:#656d76;--line:#d0d7de;--bg:#f6f8fa;--accent:#0969da}"
    "*{box-sizing:border-box}"
    "body{margin:0;font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',"
    "Arial,sans-serif;color:var(--fg);background:#fff}"
    "main{max-width:1400px;margin:0 auto;padding:0 24px 48px}"
    "code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',"
    "monospace;font-size:12.5px;overflow-wrap:anywhere}"
    "a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}"
    ".top{display:flex;justify-content:space-between;align-items:baseline;padding:14px 0 10px;"
    "color:var(--dim);font-size:13px;border-bottom:1px solid var(--line);margin-bottom:18px}"
    ".top b{color:var(--fg);letter-spacing:.04em}"
    ".summary{font-size:17px;font-weight:600;margin:0 0 10px}"
    "h2{font-size:19px;margin:32px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}"
    "h3{font-size:15px;margin:22px 0 6px}"
    "table{border-collapse:collapse;width:100%;margin:6px 0 10px}"
    "th,td{text-align:left;vertical-align:top;padding:6px 10px;border-bottom:1px solid var(--line)}"
    "th{background:var(--bg);font-size:12px;text-transform:uppercase;letter-spacing:.04em;"
    "color:var(--dim);font-weight:600}"
    "table.matrix td.cell{border:2px solid #fff;border-radius:6px}"
    "table.matrix td.cell a{display:block;color:inherit}"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    ".counts{font-weight:600}.exp,.st,.prod{font-size:12px;opacity:.85}"
    ".s-pass{background:#dafbe1;color:#116329}.s-fail{background:#ffebe9;color:#a40e26}"
    ".s-flaky{background:#fff1e5;color:#953800}.s-incomplete{background:#eaeef2;color:#424a53}"
    ".s-no_expectation{background:#ddf4ff;color:#0550ae}"
    ".s-unknown{background:#eaeef2;color:#424a53}"
    ".tag{display:inline-block;padding:1px 8px;border-radius:10px;font-size:11.5px;"
    "font-weight:600;white-space:nowrap}"
    ".none{color:var(--dim)}.dim{color:var(--dim)}"
    "dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:6px 0}"
    "dl.kv dt{color:var(--dim)}dl.kv dd{margin:0}"
    "ul.regs li{margin:3px 0}"
    "footer{margin-top:40px;color:var(--dim);font-size:12px;border-top:1px solid var(--line);"
    "padding-top:10px}"
    "@media print{body{font-size:11px}main{max-width:none;padding:0}"
    "td.cell,.tag{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "h3{break-after:avoid}tr{break-inside:avoid}a{color:inherit}}";

static void html_head(avtb_buf *b, json_t *m)
{
    json_t *sum = json_object_get(m, "summary");

    avtb_buf_str(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<meta name=\"generator\" content=\"avtb\">\n<title>");
    avtb_buf_printf(b, "avtb matrix: %lld cells, %lld pass",
                    (long long)json_integer_value(json_object_get(sum, "cells")),
                    (long long)json_integer_value(json_object_get(sum, "pass")));
    avtb_buf_str(b, "</title>\n<style>");
    avtb_buf_str(b, css);
    avtb_buf_str(b, "</style>\n</head>\n<body>\n<main>\n<div class=\"top\"><div><b>AVTB</b> "
                    "anti-virus behaviour testbed \u00b7 comparison matrix</div>"
                    "<div class=\"mono\">");
    esc(b, js(m, "started") ? js(m, "started") : "");
    avtb_buf_str(b, " \u2013 ");
    esc(b, js(m, "finished") ? js(m, "finished") : "");
    avtb_buf_str(b, "</div></div>\n");
}

/* "6 cells · 18 runs: 5 pass · 0 fail · 1 flaky · ...", then what ran it. */
static void html_summary(avtb_buf *b, json_t *m)
{
    static const struct {
        const char *key, *label, *cls;
    } parts[] = {{"pass", "pass", "s-pass"},
                 {"fail", "fail", "s-fail"},
                 {"flaky", "flaky", "s-flaky"},
                 {"incomplete", "incomplete", "s-incomplete"},
                 {"no_expectation", "no expectation", "s-no_expectation"},
                 {"unexpected", "worse than expected", "s-fail"}};
    json_t *sum = json_object_get(m, "summary"), *v;
    size_t i;

    avtb_buf_printf(b, "<p class=\"summary\">%lld cells \u00b7 %lld runs",
                    (long long)json_integer_value(json_object_get(sum, "cells")),
                    (long long)json_integer_value(json_object_get(sum, "runs")));
    if (json_is_integer(json_object_get(m, "repeat")))
        avtb_buf_printf(b, " (each %lld\u00d7)",
                        (long long)json_integer_value(json_object_get(m, "repeat")));
    avtb_buf_str(b, ":");
    for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        avtb_buf_printf(b, " <span class=\"tag %s\">%lld %s</span>", parts[i].cls,
                        (long long)json_integer_value(json_object_get(sum, parts[i].key)),
                        parts[i].label);
    avtb_buf_str(b, "</p>\n");
    if (json_array_size(json_object_get(m, "command")) > 0) {
        avtb_buf_str(b, "<p class=\"dim\">Command: <code>");
        json_array_foreach(json_object_get(m, "command"), i, v)
        {
            if (i > 0)
                avtb_buf_byte(b, ' ');
            esc(b, json_string_value(v) ? json_string_value(v) : "?");
        }
        avtb_buf_str(b, "</code></p>\n");
    }
}

/* A number of the timing block, or "—". */
static void num(avtb_buf *b, json_t *o, const char *key, int decimals, double scale,
                const char *unit)
{
    json_t *v = json_object_get(o, key);
    double d = json_is_number(v) ? json_number_value(v) * scale : NAN;

    if (isfinite(d))
        avtb_buf_printf(b, "%.*f%s", decimals, d, unit);
    else
        avtb_buf_str(b, "\u2014");
}

static void html_timing(avtb_buf *b, json_t *m)
{
    json_t *t = json_object_get(m, "timing");

    if (!json_is_object(t))
        return;
    avtb_buf_str(b, "<dl class=\"kv\"><dt>wall time</dt><dd>");
    num(b, t, "wall_seconds", 1, 1, " s");
    avtb_buf_str(b, "</dd><dt>runs per hour</dt><dd>");
    num(b, t, "runs_per_hour", 1, 1, "");
    if (json_is_integer(json_object_get(m, "jobs")))
        avtb_buf_printf(b, " (%lld jobs)",
                        (long long)json_integer_value(json_object_get(m, "jobs")));
    avtb_buf_str(b, "</dd><dt>guest time (boot + dwell)</dt><dd>");
    num(b, t, "guest_seconds", 1, 1, " s");
    avtb_buf_str(b, "</dd><dt>overhead</dt><dd>");
    num(b, t, "overhead", 1, 100, "% of worker time not booting or dwelling a guest");
    avtb_buf_str(b, "</dd><dt>appliance launches</dt><dd>");
    num(b, t, "plant_launches", 0, 1, " planting");
    avtb_buf_str(b, ", ");
    num(b, t, "forensics_launches", 0, 1, " forensics");
    avtb_buf_str(b, "</dd></dl>\n");
}

static void html_entries(avtb_buf *b, json_t *arr)
{
    json_t *e;
    size_t i;

    avtb_buf_str(b, "<ul class=\"regs\">\n");
    json_array_foreach(arr, i, e)
    {
        avtb_buf_str(b, "<li><b>");
        esc(b, js(e, "scenario") ? js(e, "scenario") : "?");
        avtb_buf_str(b, " \u00d7 ");
        esc(b, js(e, "product") ? js(e, "product") : "?");
        avtb_buf_str(b, "</b>: ");
        if (js(e, "what") != NULL) {
            esc(b, js(e, "what"));
        } else { /* a new cell */
            esc(b, js(e, "verdict") ? js(e, "verdict") : "?");
            avtb_buf_str(b, ", ");
            esc(b, js(e, "status") ? js(e, "status") : "?");
        }
        if (js(e, "kind") != NULL) {
            avtb_buf_str(b, " <span class=\"dim\">(");
            esc(b, js(e, "kind"));
            avtb_buf_str(b, ")</span>");
        }
        avtb_buf_str(b, "</li>\n");
    }
    avtb_buf_str(b, "</ul>\n");
}

static void html_regressions(avtb_buf *b, json_t *r)
{
    json_t *regs = json_object_get(r, "regressions");
    json_t *imps = json_object_get(r, "improvements"), *news = json_object_get(r, "new_cells");

    if (!json_is_object(r))
        return;
    avtb_buf_printf(b, "<h2 id=\"regressions\">%zu regression%s against <code>",
                    json_array_size(regs), json_array_size(regs) == 1 ? "" : "s");
    esc(b, js(r, "baseline") ? js(r, "baseline") : "the baseline");
    avtb_buf_str(b, "</code></h2>\n");
    if (json_array_size(regs) > 0)
        html_entries(b, regs);
    if (json_array_size(imps) > 0) {
        avtb_buf_printf(b, "<h3>%zu improvement%s</h3>\n", json_array_size(imps),
                        json_array_size(imps) == 1 ? "" : "s");
        html_entries(b, imps);
    }
    if (json_array_size(news) > 0) {
        avtb_buf_printf(b, "<h3>%zu new cell%s</h3>\n", json_array_size(news),
                        json_array_size(news) == 1 ? "" : "s");
        html_entries(b, news);
    }
}

/* The column names: "products", then "control"/"own" or a product only a cell names. */
static json_t *column_names(json_t *m)
{
    json_t *cols = json_array(), *v;
    size_t i;

    if (cols == NULL)
        return NULL;
    json_array_foreach(json_object_get(m, "products"), i, v)
    {
        if (json_is_string(v) && !has_string(cols, json_string_value(v)) &&
            json_array_append(cols, v) != 0)
            goto fail;
    }
    json_array_foreach(json_object_get(m, "cells"), i, v)
    {
        const char *name = js(v, "column");

        if (name == NULL)
            name = json_is_true(json_object_get(v, "control")) ? "control"
                   : has_string(cols, js(v, "product"))        ? js(v, "product")
                   : has_string(cols, "own")                   ? "own"
                   : js(v, "product")                          ? js(v, "product")
                                                               : "?";
        if (!has_string(cols, name) && json_array_append_new(cols, json_string(name)) != 0)
            goto fail;
    }
    return cols;
fail:
    json_decref(cols);
    return NULL;
}

static bool in_column(json_t *cell, json_t *cols, const char *col)
{
    const char *name = js(cell, "column");

    if (name != NULL)
        return streq(name, col);
    if (json_is_true(json_object_get(cell, "control")))
        return streq(col, "control");
    if (has_string(cols, js(cell, "product")))
        return streq(col, js(cell, "product"));
    if (has_string(cols, "own"))
        return streq(col, "own");
    return streq(col, js(cell, "product") ? js(cell, "product") : "?");
}

static void html_table(avtb_buf *b, json_t *m, json_t *rows, json_t *cols)
{
    json_t *cells = json_object_get(m, "cells"), *row, *col, *cell;
    size_t i, j, k;

    avtb_buf_str(b, "<h2>Matrix</h2>\n<table class=\"matrix\">\n<thead><tr><th>scenario</th>");
    json_array_foreach(cols, j, col)
    {
        avtb_buf_str(b, "<th>");
        esc(b, json_string_value(col));
        avtb_buf_str(b, "</th>");
    }
    avtb_buf_str(b, "</tr></thead>\n<tbody>\n");
    json_array_foreach(rows, i, row)
    {
        avtb_buf_str(b, "<tr><th>");
        esc(b, json_string_value(row));
        avtb_buf_str(b, "</th>");
        json_array_foreach(cols, j, col)
        {
            bool found = false;

            json_array_foreach(cells, k, cell)
            {
                if (!streq(row_of(cell), json_string_value(row)) ||
                    !in_column(cell, cols, json_string_value(col)))
                    continue;
                avtb_buf_printf(b, "<td class=\"cell s-%s\"><a href=\"#cell-%zu\">",
                                status_of(cell), k);
                /* A column such as "own" holds a different product per row: name it. */
                if (js(cell, "product") != NULL &&
                    !streq(js(cell, "product"), json_string_value(col))) {
                    avtb_buf_str(b, "<div class=\"prod\">");
                    esc(b, js(cell, "product"));
                    avtb_buf_str(b, "</div>");
                }
                avtb_buf_str(b, "<div class=\"counts\">");
                {
                    char *t = counts_string(cell);

                    if (t == NULL)
                        b->fail = AVTB_BUF_NOMEM;
                    esc(b, t);
                    free(t);
                }
                avtb_buf_str(b, "</div><div class=\"exp\">expected ");
                esc(b, js(cell, "expected") ? js(cell, "expected") : "nothing");
                avtb_buf_str(b, "</div><div class=\"st\">");
                esc(b, js(cell, "status") ? js(cell, "status") : "?");
                avtb_buf_str(b, "</div></a></td>");
                found = true;
                break;
            }
            if (!found)
                avtb_buf_str(b, "<td class=\"none\">\u2014</td>");
        }
        avtb_buf_str(b, "</tr>\n");
    }
    avtb_buf_str(b, "</tbody>\n</table>\n");
}

static void kv(avtb_buf *b, const char *k, const char *v)
{
    if (v == NULL)
        return;
    avtb_buf_printf(b, "<dt>%s</dt><dd>", k);
    esc(b, v);
    avtb_buf_str(b, "</dd>");
}

static void html_cell(avtb_buf *b, json_t *cell, size_t idx)
{
    json_t *runs = json_object_get(cell, "runs"),
           *diff = json_object_get(cell, "differing_findings");
    json_t *run, *v;
    size_t i;
    char *t = counts_string(cell);

    if (t == NULL)
        b->fail = AVTB_BUF_NOMEM;
    avtb_buf_printf(b, "<section id=\"cell-%zu\">\n<h3>", idx);
    esc(b, row_of(cell));
    avtb_buf_str(b, " \u00d7 ");
    esc(b, js(cell, "product") ? js(cell, "product") : "?");
    avtb_buf_printf(b, " <span class=\"tag s-%s\">", status_of(cell));
    esc(b, js(cell, "status") ? js(cell, "status") : "?");
    avtb_buf_str(b, "</span></h3>\n<dl class=\"kv\">");
    kv(b, "verdict", cell_verdict(cell));
    kv(b, "counts", t);
    kv(b, "expected", js(cell, "expected") ? js(cell, "expected") : "nothing");
    kv(b, "expected from", js(cell, "expected_from"));
    kv(b, "scenario file", js(cell, "scenario_file"));
    avtb_buf_str(b, "</dl>\n<table>\n<thead><tr><th class=\"num\">#</th><th>run</th>"
                    "<th>verdict</th><th>evidence</th><th class=\"num\">exit code</th>"
                    "<th class=\"num\">seconds</th><th class=\"num\">findings</th></tr></thead>\n"
                    "<tbody>\n");
    json_array_foreach(runs, i, run)
    {
        const char *id = js(run, "run_id");
        json_t *code = json_object_get(run, "exit_code"), *rep = json_object_get(run, "repetition");
        double secs = jsecs(run, "seconds");

        if (json_is_integer(rep))
            avtb_buf_printf(b, "<tr><td class=\"num\">%lld</td><td>",
                            (long long)json_integer_value(rep));
        else
            avtb_buf_printf(b, "<tr><td class=\"num\">%zu</td><td>", i + 1);
        if (plain_name(id)) {
            /* plain_name: nothing in id needs escaping or percent-encoding. */
            avtb_buf_printf(b, "<a href=\"runs/%s/report.html\"><code>%s</code></a>", id, id);
        } else {
            avtb_buf_str(b, "<code>");
            esc(b, id ? id : "(no run id)");
            avtb_buf_str(b, "</code>");
        }
        avtb_buf_str(b, "</td><td>");
        esc(b, js(run, "verdict") ? js(run, "verdict") : "error");
        avtb_buf_printf(b, "</td><td>%s</td><td class=\"num\">",
                        json_is_false(json_object_get(run, "complete")) ? "incomplete"
                                                                        : "complete");
        if (json_is_integer(code))
            avtb_buf_printf(b, "%lld", (long long)json_integer_value(code));
        else
            avtb_buf_str(b, "\u2014");
        avtb_buf_str(b, "</td><td class=\"num\">");
        if (isfinite(secs))
            avtb_buf_printf(b, "%.1f", secs);
        else
            avtb_buf_str(b, "\u2014");
        avtb_buf_printf(b, "</td><td class=\"num\">%zu</td></tr>\n",
                        json_array_size(json_object_get(run, "findings")));
    }
    avtb_buf_str(b, "</tbody>\n</table>\n");
    if (json_array_size(diff) > 0) {
        avtb_buf_str(b, "<p>Findings in some repetitions and not in all:</p>\n<ul>\n");
        json_array_foreach(diff, i, v)
        {
            avtb_buf_str(b, "<li><code>");
            esc(b, json_string_value(v) ? json_string_value(v) : "?");
            avtb_buf_str(b, "</code></li>\n");
        }
        avtb_buf_str(b, "</ul>\n");
    } else {
        avtb_buf_str(b, "<p class=\"dim\">Every repetition has the same findings.</p>\n");
    }
    avtb_buf_str(b, "</section>\n");
    free(t);
}

avtb_err avtb_matrix_write_html(json_t *matrix, json_t *regressions, const char *dir,
                                avtb_error *err)
{
    avtb_err ret = AVTB_ERR_NOMEM;
    json_t *rows = NULL, *cols = NULL, *cell;
    avtb_buf b = {0};
    char *text = NULL, *path = NULL;
    size_t i;

    if (!json_is_object(matrix)) {
        ret = avtb_error_set(err, AVTB_ERR_INTERNAL, "matrix.html: the matrix is not an object");
        goto out;
    }
    if ((rows = row_names(matrix)) == NULL || (cols = column_names(matrix)) == NULL)
        goto out;
    html_head(&b, matrix);
    html_summary(&b, matrix);
    html_timing(&b, matrix);
    html_regressions(&b, regressions);
    html_table(&b, matrix, rows, cols);
    avtb_buf_str(&b, "<h2>Cells</h2>\n");
    json_array_foreach(json_object_get(matrix, "cells"), i, cell)
    {
        html_cell(&b, cell, i);
    }
    avtb_buf_str(&b, "<footer>Generated by avtb from <a href=\"matrix.json\">matrix.json</a>. "
                     "Finding keys and names derive from what guests sent and may be hostile; "
                     "they are shown as recorded.</footer>\n</main>\n</body>\n</html>\n");
    text = avtb_buf_take(&b);
    path = avtb_path_join(dir, "matrix.html");
    if (text == NULL || path == NULL)
        goto out;
    ret = avtb_write_file(path, text, strlen(text), 0644, err);
out:
    if (ret == AVTB_ERR_NOMEM)
        avtb_error_set(err, ret, "out of memory building %s/matrix.html", dir);
    avtb_buf_free(&b);
    json_decref(rows);
    json_decref(cols);
    free(text);
    free(path);
    return ret;
}

/* ---- matrix-junit.xml ---- */

static void xattr(avtb_buf *b, const char *name, const char *value)
{
    avtb_buf_printf(b, " %s=\"", name);
    avtb_junit_escape(b, value, true);
    avtb_buf_byte(b, '"');
}

/* A name attribute the schema wants non-empty. */
static const char *nonempty(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : "unknown";
}

static bool is_failure(json_t *cell)
{
    const char *s = status_of(cell);

    return streq(s, "fail") || streq(s, "flaky") || streq(s, "incomplete") || streq(s, "unknown");
}

static double cell_seconds(json_t *cell)
{
    double t = 0;
    json_t *run;
    size_t i;

    json_array_foreach(json_object_get(cell, "runs"), i, run)
    {
        double s = jsecs(run, "seconds");

        if (isfinite(s))
            t += s;
    }
    return t;
}

static void xproperty(avtb_buf *b, const char *name, const char *value)
{
    avtb_buf_str(b, "        <property");
    xattr(b, "name", name);
    xattr(b, "value", value ? value : "");
    avtb_buf_str(b, "/>\n");
}

/* The runs of a cell, one line each, and its differing findings: unescaped text. */
static void runs_text(avtb_buf *t, json_t *cell)
{
    json_t *run, *v;
    size_t i;

    json_array_foreach(json_object_get(cell, "runs"), i, run)
    {
        json_t *code = json_object_get(run, "exit_code");
        double secs = jsecs(run, "seconds");
        size_t n;

        avtb_buf_printf(t, "run %s: %s%s, exit code ", js(run, "run_id") ?: "?",
                        js(run, "verdict") ?: "error",
                        json_is_false(json_object_get(run, "complete")) ? " (incomplete)" : "");
        if (json_is_integer(code))
            avtb_buf_printf(t, "%lld", (long long)json_integer_value(code));
        else
            avtb_buf_str(t, "none");
        if (isfinite(secs))
            avtb_buf_printf(t, ", %.1f s", secs);
        n = json_array_size(json_object_get(run, "findings"));
        avtb_buf_printf(t, ", %zu finding%s, runs/%s/report.html\n", n, n == 1 ? "" : "s",
                        js(run, "run_id") ?: "?");
    }
    json_array_foreach(json_object_get(cell, "differing_findings"), i, v)
    {
        avtb_buf_printf(t, "differing: %s\n", json_string_value(v) ?: "?");
    }
}

static void junit_testcase(avtb_buf *b, json_t *cell)
{
    const char *expected = js(cell, "expected"), *status = js(cell, "status");
    char *counts = counts_string(cell), *classname = NULL;
    avtb_buf t = {0};

    if (counts == NULL || asprintf(&classname, "avtb.matrix.%s", nonempty(row_of(cell))) < 0) {
        classname = NULL;
        b->fail = AVTB_BUF_NOMEM;
        goto out;
    }
    avtb_buf_str(b, "    <testcase");
    xattr(b, "classname", classname);
    xattr(b, "name", nonempty(js(cell, "product")));
    avtb_buf_printf(b, " time=\"%.3f\">\n      <properties>\n", cell_seconds(cell));
    xproperty(b, "verdict", cell_verdict(cell));
    xproperty(b, "expected", expected ? expected : "");
    xproperty(b, "counts", counts);
    xproperty(b, "status", status);
    xproperty(b, "expected_from", js(cell, "expected_from"));
    avtb_buf_str(b, "      </properties>\n");
    if (is_failure(cell)) {
        avtb_buf_printf(&t, "%s: expected %s, got %s", status ? status : "no status",
                        expected ? expected : "nothing", counts);
        avtb_buf_str(b, "      <failure");
        xattr(b, "message", t.p ? (char *)t.p : "");
        xattr(b, "type", status_of(cell));
        avtb_buf_str(b, ">");
        avtb_buf_free(&t);
        runs_text(&t, cell);
        avtb_junit_escape(b, t.p ? (char *)t.p : "", false);
        avtb_buf_str(b, "</failure>\n");
    } else {
        if (streq(status, "no_expectation"))
            avtb_buf_printf(&t, "no expectation for this cell: nothing to check; got %s\n", counts);
        else
            avtb_buf_printf(&t, "expected %s, got %s\n", expected ? expected : "nothing", counts);
        runs_text(&t, cell);
        avtb_buf_str(b, "      <system-out>");
        avtb_junit_escape(b, t.p ? (char *)t.p : "", false);
        avtb_buf_str(b, "</system-out>\n");
    }
    avtb_buf_str(b, "    </testcase>\n");
out:
    if (t.fail != AVTB_BUF_OK)
        b->fail = t.fail;
    avtb_buf_free(&t);
    free(counts);
    free(classname);
}

static void junit_regressions(avtb_buf *b, json_t *r)
{
    json_t *regs = json_object_get(r, "regressions"), *e;
    size_t i, n = json_array_size(regs);

    avtb_buf_str(b, "  <testsuite name=\"regressions\"");
    avtb_buf_printf(b, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\" time=\"0\">\n",
                    n, n);
    avtb_buf_str(b, "    <properties>\n");
    xproperty(b, "baseline", js(r, "baseline"));
    avtb_buf_printf(b, "        <property name=\"improvements\" value=\"%zu\"/>\n",
                    json_array_size(json_object_get(r, "improvements")));
    avtb_buf_printf(b, "        <property name=\"new_cells\" value=\"%zu\"/>\n",
                    json_array_size(json_object_get(r, "new_cells")));
    avtb_buf_str(b, "    </properties>\n");
    json_array_foreach(regs, i, e)
    {
        char name[64];

        /* Test names must be unique within a class for CI to keep them apart. */
        snprintf(name, sizeof(name), "%zu %s", i + 1, js(e, "kind") ?: "regression");
        avtb_buf_str(b, "    <testcase classname=\"avtb.matrix.regressions\"");
        xattr(b, "name", name);
        avtb_buf_str(b, " time=\"0\">\n      <failure");
        xattr(b, "message", js(e, "what") ?: "regression");
        xattr(b, "type", js(e, "kind") ?: "regression");
        avtb_buf_str(b, ">");
        avtb_junit_escape(b, js(e, "scenario") ?: "?", false);
        avtb_buf_str(b, " \u00d7 ");
        avtb_junit_escape(b, js(e, "product") ?: "?", false);
        avtb_buf_str(b, ": ");
        avtb_junit_escape(b, js(e, "what") ?: "regression", false);
        avtb_buf_str(b, "</failure>\n    </testcase>\n");
    }
    avtb_buf_str(b, "  </testsuite>\n");
}

/* The matrix-junit.xml text; caller frees; NULL when out of memory. */
static char *junit_xml(json_t *m, json_t *r)
{
    json_t *cells = json_object_get(m, "cells"), *rows = row_names(m), *row, *cell;
    double wall = jsecs(json_object_get(m, "timing"), "wall_seconds");
    size_t i, k, tests = 0, failures = 0;
    avtb_buf b = {0};
    char ts[20];

    if (rows == NULL)
        return NULL;
    json_array_foreach(cells, i, cell)
    {
        tests++;
        failures += is_failure(cell);
    }
    if (json_is_object(r)) {
        tests += json_array_size(json_object_get(r, "regressions"));
        failures += json_array_size(json_object_get(r, "regressions"));
    }
    avtb_buf_str(&b,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"avtb matrix\"");
    avtb_buf_printf(&b, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%.3f\"", tests,
                    failures, isfinite(wall) ? wall : 0.0);
    if (avtb_junit_timestamp(js(m, "started"), ts))
        xattr(&b, "timestamp", ts);
    avtb_buf_str(&b, ">\n");
    json_array_foreach(rows, i, row)
    {
        const char *scen = json_string_value(row);
        size_t n = 0, nf = 0;
        double secs = 0;

        json_array_foreach(cells, k, cell)
        {
            if (streq(row_of(cell), scen)) {
                n++;
                nf += is_failure(cell);
                secs += cell_seconds(cell);
            }
        }
        avtb_buf_str(&b, "  <testsuite");
        xattr(&b, "name", nonempty(scen));
        avtb_buf_printf(&b,
                        " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\" time=\"%.3f\"",
                        n, nf, secs);
        if (avtb_junit_timestamp(js(m, "started"), ts))
            xattr(&b, "timestamp", ts);
        avtb_buf_str(&b, " package=\"avtb.matrix\">\n");
        json_array_foreach(cells, k, cell)
        {
            if (streq(row_of(cell), scen))
                junit_testcase(&b, cell);
        }
        avtb_buf_str(&b, "  </testsuite>\n");
    }
    if (json_is_object(r))
        junit_regressions(&b, r);
    avtb_buf_str(&b, "</testsuites>\n");
    json_decref(rows);
    return avtb_buf_take(&b);
}

avtb_err avtb_matrix_write_junit(json_t *matrix, json_t *regressions, const char *dir,
                                 avtb_error *err)
{
    avtb_err ret = AVTB_ERR_NOMEM;
    char *text = NULL, *path = NULL;

    if (!json_is_object(matrix)) {
        ret =
            avtb_error_set(err, AVTB_ERR_INTERNAL, "matrix-junit.xml: the matrix is not an object");
        goto out;
    }
    text = junit_xml(matrix, regressions);
    path = avtb_path_join(dir, "matrix-junit.xml");
    if (text == NULL || path == NULL) {
        avtb_error_set(err, ret, "out of memory building %s/matrix-junit.xml", dir);
        goto out;
    }
    ret = avtb_write_file(path, text, strlen(text), 0644, err);
out:
    free(text);
    free(path);
    return ret;
}
