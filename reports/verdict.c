/* SPDX-License-Identifier: Apache-2.0 */
/* The verdict engine: the policy per finding, then the verdict; see verdict.h. */
#include "reports/verdict.h"

#include <fnmatch.h>
#include <string.h>

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
    case AVTB_VERDICT_METADATA_ONLY:
        return "metadata-only";
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

static bool host_matches(const avtb_allow *a, const avtb_endpoint *dst)
{
    for (size_t i = 0; i < a->nhosts; i++)
        if ((dst->host != NULL && fnmatch(a->hosts[i], dst->host, FNM_CASEFOLD) == 0) ||
            fnmatch(a->hosts[i], dst->ip, FNM_CASEFOLD) == 0)
            return true;
    return false;
}

void avtb_verdict_judge(const avtb_scenario *s, const avtb_finding *f, avtb_judgement *out)
{
    size_t cls = f->kind == AVTB_FINDING_CONTENT ? 0 : f->kind == AVTB_FINDING_METADATA ? 1 : 2;

    *out = (avtb_judgement){.data = 1u << cls, .severity = s->severity[cls]};
    for (size_t i = 0; i < s->nallows; i++)
        if ((s->allows[i].data & out->data) != 0 && host_matches(&s->allows[i], &f->dst)) {
            out->allowed = true;
            out->rule = i;
            out->severity = AVTB_SEV_INFO;
            return;
        }
}

avtb_severity avtb_verdict_severity(const avtb_scenario *s, const avtb_findings *f)
{
    avtb_severity worst = AVTB_SEV_INFO;

    for (size_t i = 0; i < f->count; i++) {
        avtb_judgement j;

        avtb_verdict_judge(s, &f->items[i], &j);
        if (!j.allowed && j.severity > worst)
            worst = j.severity;
    }
    return worst;
}

avtb_verdict avtb_verdict_decide(const avtb_scenario *s, const avtb_findings *f, bool complete,
                                 avtb_expect_result *results)
{
    size_t content = 0, metadata = 0, suspected = 0;

    for (size_t i = 0; i < f->count; i++) {
        avtb_judgement j;

        avtb_verdict_judge(s, &f->items[i], &j);
        if (j.allowed)
            continue;
        content += j.data == AVTB_DATA_CONTENT;
        metadata += j.data == AVTB_DATA_METADATA;
        suspected += j.data == AVTB_DATA_OPAQUE;
    }
    for (size_t i = 0; i < s->nexpects; i++) {
        size_t bad = s->expects[i] == AVTB_EXPECT_NO_METADATA ? content + metadata : content;

        results[i] = (avtb_expect_result){
            .expect = s->expects[i],
            .nfindings = bad,
            .nsuspected = suspected,
            .held = bad == 0 && suspected == 0,
            .decided = bad > 0 || complete,
        };
    }
    if (content > 0)
        return AVTB_VERDICT_EXFILTRATION;
    if (!complete)
        return AVTB_VERDICT_INCOMPLETE;
    if (suspected > 0)
        return AVTB_VERDICT_SUSPECTED;
    return metadata > 0 ? AVTB_VERDICT_METADATA_ONLY : AVTB_VERDICT_CLEAN;
}

int avtb_verdict_exit_code(avtb_verdict v, const avtb_expect_result *results, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (results[i].decided && !results[i].held)
            return AVTB_EXIT_FAILED;
    return v == AVTB_VERDICT_INCOMPLETE ? AVTB_EXIT_INFRA : AVTB_EXIT_OK;
}
