/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Finding lists (finding.h): the hand-over from the analysis to reports/.
 * A list owns deep copies, so producers may pass stack-built findings.
 */
#include "collectors/finding.h"

#include <stdlib.h>
#include <string.h>

const char *avtb_finding_kind_name(avtb_finding_kind k)
{
    switch (k) {
    case AVTB_FINDING_CONTENT:
        return "content";
    case AVTB_FINDING_METADATA:
        return "metadata";
    case AVTB_FINDING_SUSPECTED:
        return "suspected";
    }
    return "unknown";
}

void avtb_findings_drop(avtb_finding *f)
{
    free(f->token);
    free(f->protocol);
    free(f->encoding);
    free(f->src.host);
    free(f->dst.host);
    free(f->document);
    free(f->member);
    free(f->capture);
    free(f->reason);
    memset(f, 0, sizeof(*f));
}

/* strdup that keeps NULL as NULL; sets *fail on allocation failure. */
static char *dup_opt(const char *s, int *fail)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = strdup(s);
    if (d == NULL)
        *fail = 1;
    return d;
}

avtb_err avtb_findings_add(avtb_findings *list, const avtb_finding *f)
{
    avtb_finding copy = *f;
    int fail = 0;

    if (list->count == list->cap) {
        size_t ncap = list->cap ? list->cap * 2 : 16;
        avtb_finding *items = reallocarray(list->items, ncap, sizeof(*items));

        if (items == NULL)
            return AVTB_ERR_NOMEM;
        list->items = items;
        list->cap = ncap;
    }
    copy.token = dup_opt(f->token, &fail);
    copy.protocol = dup_opt(f->protocol, &fail);
    copy.encoding = dup_opt(f->encoding, &fail);
    copy.src.host = dup_opt(f->src.host, &fail);
    copy.dst.host = dup_opt(f->dst.host, &fail);
    copy.document = dup_opt(f->document, &fail);
    copy.member = dup_opt(f->member, &fail);
    copy.capture = dup_opt(f->capture, &fail);
    copy.reason = dup_opt(f->reason, &fail);
    if (fail) {
        avtb_findings_drop(&copy);
        return AVTB_ERR_NOMEM;
    }
    list->items[list->count++] = copy;
    return AVTB_OK;
}

static int cmp_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return (a != NULL) - (b != NULL);
    return strcmp(a, b);
}

static int cmp_finding(const void *pa, const void *pb)
{
    const avtb_finding *a = pa, *b = pb;
    int c;

    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    /* Flow numbers count within one capture. */
    c = cmp_str(a->capture, b->capture);
    if (c != 0)
        return c;
    if (a->flow != b->flow)
        return a->flow < b->flow ? -1 : 1;
    c = cmp_str(a->token, b->token);
    if (c != 0)
        return c;
    /* Same token in both directions of a flow: order by offset, then sender,
     * so the order never depends on qsort's instability. */
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    c = strcmp(a->src.ip, b->src.ip);
    if (c != 0)
        return c;
    if (a->src.port != b->src.port)
        return (a->src.port > b->src.port) - (a->src.port < b->src.port);
    /* Suspected findings of one connection (none carries a token). */
    if (a->kind != b->kind)
        return (a->kind > b->kind) - (a->kind < b->kind);
    return cmp_str(a->reason, b->reason);
}

void avtb_findings_sort(avtb_findings *list)
{
    if (list->count > 1)
        qsort(list->items, list->count, sizeof(list->items[0]), cmp_finding);
}

void avtb_findings_clear(avtb_findings *list)
{
    for (size_t i = 0; i < list->count; i++)
        avtb_findings_drop(&list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
    list->cap = 0;
}
