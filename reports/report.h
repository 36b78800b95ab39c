/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report.json and the terminal summary of one run. The report is a view over
 * the run's data: every pointer in avtb_report is borrowed.
 */
#ifndef AVTB_REPORT_H
#define AVTB_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "collectors/finding.h"
#include "guests/honeydoc.h"
#include "reports/verdict.h"
#include "scenarios/scenario.h"

#define AVTB_REPORT_FORMAT 1

typedef struct avtb_phase {
    const char *name;
    double seconds;
} avtb_phase;

typedef struct avtb_report {
    const avtb_scenario *scenario;
    const char *run_id;
    const char *started, *finished; /* RFC 3339 UTC */
    const char *accel;              /* "kvm" or "tcg" */
    const char *image;              /* image directory (name-hash) */
    avtb_honeydoc *const *docs;
    size_t ndocs;
    const avtb_findings *findings;
    bool complete;
    const char *const *reasons; /* why the evidence is incomplete */
    size_t nreasons;
    const avtb_phase *phases;
    size_t nphases;
    avtb_verdict verdict;
    const avtb_expect_result *results; /* scenario->nexpects entries */
    int exit_code;
} avtb_report;

/* One finding as report.json and `avtb analyze --json` write it (a contract). */
json_t *avtb_finding_json(const avtb_finding *f);

/* Writes DIR/report.json atomically. */
avtb_err avtb_report_write_json(const avtb_report *r, const char *dir, avtb_error *err) AVTB_WUR;
/* A few lines for a person: verdict, findings, where the evidence is. */
void avtb_report_print_summary(const avtb_report *r, const char *dir, FILE *fp);

#endif
