/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verdict engine: each finding is judged against the scenario's policy
 * (policy.allow: which data classes may go to which destinations; everything
 * else is a violation with the severity policy.severity gives its class),
 * then the violations and the completeness of the evidence make the verdict
 * and decide the expectations. An incomplete run is never "clean", nor is
 * one with suspected findings (something left that could not be read).
 */
#ifndef AVTB_VERDICT_H
#define AVTB_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "collectors/finding.h"
#include "scenarios/scenario.h"

typedef enum {
    AVTB_VERDICT_CLEAN,        /* complete evidence, no token left the guest */
    AVTB_VERDICT_EXFILTRATION, /* a token's content was seen leaving */
    AVTB_VERDICT_INCOMPLETE,   /* evidence missing and nothing found in what exists */
    AVTB_VERDICT_SUSPECTED,    /* complete evidence, no token seen, but suspected findings */
    AVTB_VERDICT_METADATA_ONLY, /* complete evidence; documents' hashes or names left, no content */
} avtb_verdict;

/* How the policy sees one finding. */
typedef struct avtb_judgement {
    unsigned data;          /* its data class: AVTB_DATA_CONTENT, _METADATA or _OPAQUE */
    bool allowed;           /* a policy.allow entry covers its destination and class */
    size_t rule;            /* that entry's index (when allowed) */
    avtb_severity severity; /* of the violation (when not allowed) */
} avtb_judgement;

/*
 * Judges f: allowed when an allow entry names its class and one of the
 * entry's host patterns matches the destination's host name (as the guest
 * named it) or its IP address, case-insensitively.
 */
void avtb_verdict_judge(const avtb_scenario *s, const avtb_finding *f, avtb_judgement *out);

typedef struct avtb_expect_result {
    avtb_expect expect;
    bool held;
    bool decided;      /* false: evidence incomplete, cannot tell */
    size_t nfindings;  /* findings that contradict it */
    size_t nsuspected; /* suspected findings that keep it from being shown to hold */
} avtb_expect_result;

/*
 * Decides the verdict from the violations (allowed findings are listed, they
 * do not count). A content finding is proof even in incomplete evidence, so
 * exfiltration wins over incomplete; a suspected finding is not proof, so
 * incomplete wins over suspected; metadata without content is the mildest:
 * exfiltration > incomplete > suspected > metadata-only > clean.
 * no_exfiltration fails on content, no_metadata on content or metadata;
 * either with suspected findings only is decided and does not hold: it
 * cannot be shown. results must hold s->nexpects entries.
 */
avtb_verdict avtb_verdict_decide(const avtb_scenario *s, const avtb_findings *f, bool complete,
                                 avtb_expect_result *results);
const char *avtb_verdict_name(avtb_verdict v);
/* "held", "failed", "suspected" (not held for suspected findings alone) or "undecided". */
const char *avtb_expect_result_name(const avtb_expect_result *r);
/* The highest severity among the violations, or info when there are none. */
avtb_severity avtb_verdict_severity(const avtb_scenario *s, const avtb_findings *f);
/* Exit code per DESIGN.md: 0 all hold, 1 one failed, 3 incomplete. */
int avtb_verdict_exit_code(avtb_verdict v, const avtb_expect_result *results, size_t n);

#endif
