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

#include "collectors/analyze.h"
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
    const char *libvirt, *qemu;     /* versions the run used, or NULL */
    const char *image;              /* image directory (name-hash) */
    avtb_honeydoc *const *docs;
    size_t ndocs;
    const avtb_findings *findings; /* content, metadata and suspected */
    const avtb_analysis *analysis; /* attempts and TLS counts; NULL when there was none */
    bool complete;
    const char *const *reasons; /* why the evidence is incomplete */
    size_t nreasons;
    const avtb_phase *phases;
    size_t nphases;
    avtb_verdict verdict;
    const avtb_expect_result *results; /* scenario->nexpects entries */
    int exit_code;
    /* What the file-access agent and the forensics add (collectors/FILEACCESS.md,
     * collectors/FORENSICS.md); each may be NULL, and is then left out. */
    json_t *file_access;        /* the monitor's status object */
    json_t *forensics;          /* forensics.json's content */
    json_t *document_access;    /* per planted document, the processes that touched it */
    json_t *chains;             /* read -> stage -> upload, per finding */
    const char *const *notices; /* what a reader must know that does not make the evidence
                                 * incomplete ("file access from forensics only") */
    size_t nnotices;
} avtb_report;

/*
 * One finding as report.json and `avtb analyze --json` write it (a contract):
 * {"token", "kind": "content"|"metadata"|"suspected", "encoding": [outer→inner],
 *  "protocol", "dst": {"host","ip","port"}, "src", "capture", "flow", "time",
 *  "bytes", "offset", "document", "member" (if any), "reason" (suspected)}.
 * report.json's findings also carry "policy": {"data", "allowed", "rule",
 * "severity"}: how the scenario's policy judged them.
 * A suspected finding's token is null.
 */
json_t *avtb_finding_json(const avtb_finding *f);

/* Every finding of f (content, metadata, suspected) as a JSON array; NULL when out of memory. */
json_t *avtb_findings_json(const avtb_findings *f);

/*
 * What report.json and `avtb analyze --json` both carry about the traffic
 * beyond findings, set on root:
 *   "attempts": [{"protocol": "tcp"|"udp"|"icmp"|"icmpv6"|"other", "dst",
 *                 "port" (tcp, udp) | "icmp_type" (icmp, icmpv6; null when
 *                 unknown) | "ip_proto" (other), "packets", "bytes",
 *                 "first_time", "last_time", "to_sink"}], oldest first;
 *   "attempts_limit", "attempts_dropped_packets": the table's bound, and the
 *                 packets to destinations that found it full;
 *   "sink": the sink's address (null when the capture does not say);
 *   "tls": {"intercepted", "rejected", "plaintext_analysed"}.
 */
void avtb_analysis_json_into(json_t *root, const avtb_analysis *a);

/* report.json's content; new reference, NULL when out of memory. */
json_t *avtb_report_json(const avtb_report *r);

/* Writes DIR/report.json atomically. */
avtb_err avtb_report_write_json(const avtb_report *r, const char *dir, avtb_error *err) AVTB_WUR;
/* The same from report.json's content (root borrowed; NULL: out of memory). */
avtb_err avtb_report_write_root(json_t *root, const char *dir, avtb_error *err) AVTB_WUR;
/* A few lines for a person: verdict, findings, where the evidence is. */
void avtb_report_print_summary(const avtb_report *r, const char *dir, FILE *fp);

/*
 * What a finding of report.json says without its token or flow, stable
 * across runs of the same scenario: "content board-minutes.txt to
 * sync.example:80 over http as http-body (violation)". Labels of the host
 * that carry data (16 characters or more, or holding "avtb": DNS tunnels,
 * beacon names) read "*". avtb diff and avtb matrix compare runs by these. Caller frees; NULL when out of memory.
 */
char *avtb_report_finding_key(json_t *finding);

#endif
