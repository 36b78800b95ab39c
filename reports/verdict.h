/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verdict: findings and the completeness of the evidence, judged against
 * the scenario's expectations. An incomplete run is never "clean", nor is
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
} avtb_verdict;

typedef struct avtb_expect_result {
    avtb_expect expect;
    bool held;
    bool decided;      /* false: evidence incomplete, cannot tell */
    size_t nfindings;  /* findings that contradict it */
    size_t nsuspected; /* suspected findings that keep it from being shown to hold */
} avtb_expect_result;

/*
 * Decides the verdict. A finding is proof even in incomplete evidence, so
 * exfiltration wins over incomplete; a suspected finding is not proof, so
 * incomplete wins over suspected. no_exfiltration with suspected findings
 * (and no content finding) is decided and does not hold: it cannot be shown.
 * results must hold s->nexpects entries.
 */
avtb_verdict avtb_verdict_decide(const avtb_scenario *s, const avtb_findings *f, bool complete,
                                 avtb_expect_result *results);
const char *avtb_verdict_name(avtb_verdict v);
/* "held", "failed", "suspected" (not held for suspected findings alone) or "undecided". */
const char *avtb_expect_result_name(const avtb_expect_result *r);
/* Exit code per DESIGN.md: 0 all hold, 1 one failed, 3 incomplete. */
int avtb_verdict_exit_code(avtb_verdict v, const avtb_expect_result *results, size_t n);

#endif
