/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Aho-Corasick over all tokens, compiled to a full DFA so the inner loop is
 * one table load per byte; match.h describes the cursor model. The cursor
 * keeps only the automaton state between chunks, which is what makes a token
 * split across chunks match without any carry-over buffer.
 */
#include "collectors/match.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The top bit of a transition says "the target state reports something". */
#define OUT_FLAG   0x80000000u
#define STATE_MASK 0x7fffffffu

typedef struct ac_set {
    unsigned refs;
    size_t ntokens;
    size_t *tok_len;
    uint32_t nstates;
    uint32_t *delta;    /* nstates * 256 */
    int32_t *out_first; /* per state: first token ending exactly here, or -1 */
    int32_t *out_next;  /* per token: next token with the same bytes, or -1 */
    uint32_t *dict;     /* per state: longest proper suffix state with output, or 0 */
} ac_set;

struct avtb_matcher {
    ac_set *set;
    uint32_t state;
    uint64_t offset;
};

static void ac_unref(ac_set *set)
{
    if (set == NULL || --set->refs > 0)
        return;
    free(set->tok_len);
    free(set->delta);
    free(set->out_first);
    free(set->out_next);
    free(set->dict);
    free(set);
}

/* Builds the trie; the tables were sized for every token byte. */
static void ac_insert_all(ac_set *set, const char *const *tokens)
{
    set->nstates = 1;
    for (size_t i = 0; i < set->ntokens; i++) {
        const uint8_t *t = (const uint8_t *)tokens[i];
        uint32_t s = 0;

        set->out_next[i] = -1;
        if (set->tok_len[i] == 0)
            continue;
        for (size_t j = 0; j < set->tok_len[i]; j++) {
            uint32_t *next = &set->delta[(size_t)s * 256 + t[j]];

            if (*next == 0)
                *next = set->nstates++;
            s = *next;
        }
        if (set->out_first[s] < 0) {
            set->out_first[s] = (int32_t)i;
        } else {
            int32_t k = set->out_first[s];

            while (set->out_next[k] >= 0)
                k = set->out_next[k];
            set->out_next[k] = (int32_t)i;
        }
    }
}

/* Breadth-first: failure links become DFA transitions and dictionary links. */
static bool ac_complete(ac_set *set)
{
    uint32_t *queue = malloc((size_t)set->nstates * sizeof(*queue));
    uint32_t *fail = calloc(set->nstates, sizeof(*fail));
    size_t head = 0, tail = 0;
    bool ok = false;

    if (queue == NULL || fail == NULL)
        goto out;
    for (unsigned c = 0; c < 256; c++) {
        uint32_t v = set->delta[c];

        if (v != 0)
            queue[tail++] = v; /* fail[v] = root, dict[v] = 0 */
    }
    while (head < tail) {
        uint32_t u = queue[head++];
        uint32_t *row = &set->delta[(size_t)u * 256];
        const uint32_t *frow = &set->delta[(size_t)fail[u] * 256];

        for (unsigned c = 0; c < 256; c++) {
            uint32_t v = row[c];

            if (v == 0) {
                row[c] = frow[c];
                continue;
            }
            fail[v] = frow[c];
            set->dict[v] = set->out_first[fail[v]] >= 0 ? fail[v] : set->dict[fail[v]];
            queue[tail++] = v;
        }
    }
    for (size_t i = 0; i < (size_t)set->nstates * 256; i++) {
        uint32_t v = set->delta[i];

        if (set->out_first[v] >= 0 || set->dict[v] != 0)
            set->delta[i] = v | OUT_FLAG;
    }
    ok = true;
out:
    free(queue);
    free(fail);
    return ok;
}

avtb_matcher *avtb_matcher_new(const char *const *tokens, size_t n)
{
    avtb_matcher *m = NULL;
    ac_set *set = calloc(1, sizeof(*set));
    size_t total = 0;

    if (set == NULL)
        goto out;
    set->refs = 1;
    set->ntokens = n;
    set->tok_len = calloc(n ? n : 1, sizeof(*set->tok_len));
    set->out_next = calloc(n ? n : 1, sizeof(*set->out_next));
    if (set->tok_len == NULL || set->out_next == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        set->tok_len[i] = strlen(tokens[i]);
        total += set->tok_len[i];
        if (total > AVTB_MATCHER_MAX_BYTES)
            goto out;
    }
    set->delta = calloc((total + 1) * 256, sizeof(*set->delta));
    set->out_first = malloc((total + 1) * sizeof(*set->out_first));
    set->dict = calloc(total + 1, sizeof(*set->dict));
    if (set->delta == NULL || set->out_first == NULL || set->dict == NULL)
        goto out;
    for (size_t i = 0; i <= total; i++)
        set->out_first[i] = -1;
    ac_insert_all(set, tokens);
    if (!ac_complete(set))
        goto out;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        goto out;
    m->set = set;
    set = NULL; /* transferred */
out:
    ac_unref(set);
    return m;
}

avtb_matcher *avtb_matcher_clone(const avtb_matcher *m)
{
    avtb_matcher *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->set = m->set;
    c->set->refs++;
    return c;
}

void avtb_matcher_free(avtb_matcher *m)
{
    if (m == NULL)
        return;
    ac_unref(m->set);
    free(m);
}

static void report(const avtb_matcher *m, uint32_t state, uint64_t end, avtb_match_cb cb, void *ctx)
{
    const ac_set *set = m->set;

    for (uint32_t t = state; t != 0; t = set->dict[t])
        for (int32_t k = set->out_first[t]; k >= 0; k = set->out_next[k])
            cb(ctx, (size_t)k, end + 1 - set->tok_len[k]);
}

void avtb_matcher_feed(avtb_matcher *m, const uint8_t *buf, size_t len, avtb_match_cb cb, void *ctx)
{
    const uint32_t *delta = m->set->delta;
    uint32_t s = m->state;

    for (size_t i = 0; i < len; i++) {
        s = delta[(size_t)(s & STATE_MASK) * 256 + buf[i]];
        if (s & OUT_FLAG)
            report(m, s & STATE_MASK, m->offset + i, cb, ctx);
    }
    m->state = s & STATE_MASK;
    m->offset += len;
}

void avtb_matcher_skip(avtb_matcher *m, uint64_t len)
{
    m->state = 0;
    m->offset += len;
}

void avtb_matcher_reset(avtb_matcher *m)
{
    m->state = 0;
    m->offset = 0;
}

uint64_t avtb_matcher_offset(const avtb_matcher *m)
{
    return m->offset;
}

size_t avtb_matcher_token_len(const avtb_matcher *m, size_t token)
{
    return token < m->set->ntokens ? m->set->tok_len[token] : 0;
}
