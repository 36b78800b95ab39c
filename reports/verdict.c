/* SPDX-License-Identifier: Apache-2.0 */
/* Verdict engine, thin: no_exfiltration against content and suspected findings. */
#include "reports/verdict.h"

#include "common/error.h"

const char *avtb_verdict_name(avtb_verdict v)
{
    switch (v) {
    case AVTB_VERDICT_CLEAN:
        return "clean";
    case AVTB_VERDICT_EXFILTRATION:
        return "exfiltration";
    case AVTB_VERDICT_INCOMPLETE:
        return "incomplete";
    case AVTB_VERDICT_SUSPECTED:
        return "suspected";
    }
    return "unknown";
}

const char *avtb_expect_result_name(const avtb_expect_result *r)
{
    if (!r->decided)
        return "undecided";
    if (r->held)
        return "held";
    return r->nfindings == 0 && r->nsuspected > 0 ? "suspected" : "failed";
}

avtb_verdict avtb_verdict_decide(const avtb_scenario *s, const avtb_findings *f, bool complete,
                                 avtb_expect_result *results)
{
    size_t content = 0, suspected = 0;

    for (size_t i = 0; i < f->count; i++) {
        if (f->items[i].kind == AVTB_FINDING_CONTENT)
            content++;
        else if (f->items[i].kind == AVTB_FINDING_SUSPECTED)
            suspected++;
    }
    for (size_t i = 0; i < s->nexpects; i++) {
        results[i].expect = s->expects[i];
        switch (s->expects[i]) {
        case AVTB_EXPECT_NO_EXFILTRATION:
            results[i].nfindings = content;
            results[i].nsuspected = suspected;
            results[i].held = content == 0 && suspected == 0;
            results[i].decided = content > 0 || complete;
            break;
        }
    }
    if (content > 0)
        return AVTB_VERDICT_EXFILTRATION;
    if (!complete)
        return AVTB_VERDICT_INCOMPLETE;
    return suspected > 0 ? AVTB_VERDICT_SUSPECTED : AVTB_VERDICT_CLEAN;
}

int avtb_verdict_exit_code(avtb_verdict v, const avtb_expect_result *results, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (results[i].decided && !results[i].held)
            return AVTB_EXIT_FAILED;
    return v == AVTB_VERDICT_INCOMPLETE ? AVTB_EXIT_INFRA : AVTB_EXIT_OK;
}
