/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The comparison matrix (reports/MATRIX.md): a cell's derived fields from its
 * runs, the summary, the comparison with a baseline matrix, and matrix.json's
 * two renderings, matrix.html and matrix-junit.xml. orchestrator/cmd-matrix.c
 * runs the cells and builds matrix.json; everything here works on that JSON
 * only, so a matrix directory can be re-rendered or compared without a VM.
 */
#ifndef AVTB_MATRIX_H
#define AVTB_MATRIX_H

#include <jansson.h>
#include <stddef.h>

#include "common/error.h"

/*
 * DIR/matrix.html from matrix.json's object (borrowed): one self-contained page
 * (inline CSS, no scripts, nothing loaded from elsewhere): a table with a row per
 * scenario and a column per product (control first), each cell showing the verdict
 * counts ("exfiltration 3/3", "clean 2/3 · exfiltration 1/3"), coloured by status
 * (pass/fail/flaky/incomplete/no_expectation), the expected verdict, and linking to
 * a section per cell below that lists its runs (link to runs/<id>/report.html,
 * verdict, exit code, seconds) and its differing findings; a summary line and
 * the timing block at the top; the regressions (when a regressions object is given,
 * may be NULL) as a list above the table. Every string from the JSON is HTML-escaped
 * (finding keys and names derive from guest-chosen bytes). Written atomically.
 *
 * A cell goes in the column its "column" member names when it has one; else a
 * control cell in "control", a cell whose product is a column in that column,
 * any other in "own". A run is linked only when its run_id is a plain name
 * ([A-Za-z0-9._-], not starting with '.').
 */
avtb_err avtb_matrix_write_html(json_t *matrix, json_t *regressions, const char *dir,
                                avtb_error *err) AVTB_WUR;

/*
 * DIR/matrix-junit.xml: a <testsuites> with one <testsuite name="scenario"> per scenario and a
 * <testcase classname="avtb.matrix.<scenario>" name="<product>"> per cell; status fail and flaky
 * and incomplete are <failure> (message says expected vs counts), no_expectation passes with a
 * <system-out> saying so; <properties> carry verdict, expected, counts; regressions (when given)
 * become a testsuite "regressions" with one failing testcase each. Valid XML whatever the
 * strings hold (escape, and drop characters XML 1.0 forbids). Written atomically.
 */
avtb_err avtb_matrix_write_junit(json_t *matrix, json_t *regressions, const char *dir,
                                 avtb_error *err) AVTB_WUR;

/*
 * The comparison of reports/MATRIX.md "Regressions": returns the regressions.json object
 * (new reference) with baseline_dir as its "baseline"; *nregressions set. NULL only when out
 * of memory. Cells are matched by (scenario, product); either matrix may be NULL (no cells).
 * Each regression and improvement is {"scenario", "product", "what", "kind"} plus, by kind,
 * "from"/"to" (verdict; the statuses for expectation) or "finding" (the key); one entry per
 * new or vanished finding key. new_cells entries are {"scenario", "product", "verdict",
 * "status"}. A verdict avtb_matrix_verdict_rank does not know ranks worse than all.
 */
json_t *avtb_matrix_compare(json_t *baseline, json_t *current, const char *baseline_dir,
                            size_t *nregressions);

/* Verdict order for regressions: clean 0 < metadata-only 1 < suspected 2 < exfiltration 3 <
 * incomplete/error/flaky 4; unknown -1. */
int avtb_matrix_verdict_rank(const char *verdict);

/*
 * Fills a cell's derived fields from its runs[] (each with verdict, complete, findings[] already
 * set by the caller) and its "expected": "verdict", "verdicts", "consistent", "status",
 * "differing_findings", exactly as reports/MATRIX.md says. Returns AVTB_ERR_NOMEM only.
 *
 * Details MATRIX.md leaves open, decided here:
 * - a run whose verdict is not a string counts as "error";
 * - a repetition is incomplete when its verdict is "incomplete" or "error" or its
 *   "complete" is false; a cell with no runs is verdict "error", status incomplete;
 * - status is decided in this order: incomplete (unless expected is "incomplete"),
 *   flaky, no_expectation, pass/fail;
 * - "verdicts" lists verdicts in rank order, unknown ones last;
 * - each run's findings[] is sorted and deduplicated in place; differing_findings
 *   compares the runs that have a findings array and a report (verdict not "error"):
 *   what a run without a report found is unknown, not nothing.
 */
avtb_err avtb_matrix_cell_derive(json_t *cell, avtb_error *err) AVTB_WUR;

/*
 * Recomputes "summary" from cells[]: cells, runs (sum of runs[] lengths), a count per status
 * (pass, fail, flaky, incomplete, no_expectation) and "unexpected": the fail cells whose
 * verdict ranks worse than their expectation (the product did more than it was expected to;
 * a fail cell that did less is not unexpected). Returns AVTB_ERR_NOMEM only.
 */
avtb_err avtb_matrix_summarise(json_t *matrix, avtb_error *err) AVTB_WUR;

#endif
