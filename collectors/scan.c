/* SPDX-License-Identifier: Apache-2.0 */
/* The message scanner; see scan.h. */
#include "collectors/scan.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The best hit seen so far for one token in the current message. */
typedef struct best {
    bool set;
    avtb_scan_hit hit;
    size_t depth;     /* decoding steps beyond the message's own */
    char member[256]; /* the view's member name outlives the view here */
} best;

struct avtb_scanner {
    const avtb_patterns *p;
    const avtb_transform_limits *limits;
    avtb_matcher *m;
    avtb_anomaly_cb anomaly;
    void *anomaly_ctx;
    best *best; /* one per token */
    avtb_scan_stats stats;
};

avtb_scanner *avtb_scanner_new(const avtb_patterns *p, const avtb_transform_limits *limits,
                               avtb_anomaly_cb anomaly, void *anomaly_ctx)
{
    avtb_scanner *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->p = p;
    s->limits = limits;
    s->anomaly = anomaly;
    s->anomaly_ctx = anomaly_ctx;
    s->m = avtb_matcher_new(p);
    s->best = calloc(avtb_patterns_ntokens(p) + 1, sizeof(*s->best));
    if (s->m == NULL || s->best == NULL) {
        avtb_scanner_free(s);
        return NULL;
    }
    return s;
}

void avtb_scanner_free(avtb_scanner *s)
{
    if (s == NULL)
        return;
    avtb_matcher_free(s->m);
    free(s->best);
    free(s);
}

const avtb_scan_stats *avtb_scanner_stats(const avtb_scanner *s)
{
    return &s->stats;
}

/* State of one avtb_scan_message() call. */
typedef struct walk {
    avtb_scanner *s;
    const avtb_message *msg;
    const avtb_view *view;
    avtb_err fail;
    avtb_error *err;
} walk;

/* A content hit beats a metadata one; then fewer decodings; then the first seen. */
static bool better(const best *b, avtb_hit_kind kind, size_t depth, const char *form, bool member)
{
    if (!b->set)
        return true;
    if (kind != b->hit.kind)
        return kind == AVTB_HIT_CONTENT;
    /* The same bytes seen inside an archive member (tar stores them as they
     * are) say more: which member. */
    if (member && b->hit.member == NULL)
        return true;
    if (!member && b->hit.member != NULL)
        return false;
    if (depth != b->depth)
        return depth < b->depth;
    /* UTF-16 text shifted by one byte matches the other byte order's form
     * too; little-endian (what Windows writes) is the likelier truth. */
    return form != NULL && strcmp(form, "utf16le") == 0 && b->hit.nencoding > 0 &&
           strcmp(b->hit.encoding[b->hit.nencoding - 1], "utf16be") == 0;
}

static void offer(walk *w, avtb_hit_kind kind, size_t token, size_t doc, const char *form,
                  uint64_t start)
{
    const avtb_view *v = w->view;
    const avtb_message *m = w->msg;
    best *b = &w->s->best[token];
    size_t depth = v->depth + (form != NULL && kind == AVTB_HIT_CONTENT);
    avtb_scan_hit *h;

    if (!better(b, kind, depth, form, v->member != NULL))
        return;
    b->set = true;
    b->depth = depth;
    h = &b->hit;
    memset(h, 0, sizeof(*h));
    h->kind = kind;
    h->token = token;
    h->doc = doc;
    if (v->member != NULL) {
        snprintf(b->member, sizeof(b->member), "%s", v->member);
        h->member = b->member;
    }
    h->offset = v->depth == 0 ? m->offset + start : m->offset;
    for (size_t i = 0; i < m->nencoding && h->nencoding < AVTB_SCAN_MAX_ENCODING; i++)
        h->encoding[h->nencoding++] = m->encoding[i];
    for (size_t i = 0; i < v->depth && h->nencoding < AVTB_SCAN_MAX_ENCODING; i++)
        h->encoding[h->nencoding++] = v->path[i];
    if (form != NULL && h->nencoding < AVTB_SCAN_MAX_ENCODING)
        h->encoding[h->nencoding++] = form;
}

static void offer_doc(walk *w, size_t doc, const char *form, uint64_t start)
{
    size_t n;
    const size_t *tokens = avtb_patterns_doc_tokens(w->s->p, doc, &n);

    for (size_t i = 0; i < n; i++)
        offer(w, AVTB_HIT_METADATA, tokens[i], doc, form, start);
}

/*
 * Where a token's base64 form has neither '+' nor '/' (nor '-' nor '_'), the
 * base64 and base64url literals are one: the characters around the hit tell
 * which alphabet the sender used.
 */
static bool b64_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '-' || c == '_';
}

static const char *b64_alphabet(const avtb_view *v, uint64_t start)
{
    const size_t lim = 4096;
    size_t s = (size_t)start, e = (size_t)start;
    bool url = false, std = false;

    if (start > v->len)
        return "base64";
    while (s > 0 && start - s < lim && b64_char(v->data[s - 1]))
        s--;
    while (e < v->len && e - start < lim && b64_char(v->data[e]))
        e++;
    for (size_t i = s; i < e; i++) {
        url |= v->data[i] == '-' || v->data[i] == '_';
        std |= v->data[i] == '+' || v->data[i] == '/';
    }
    return url && !std ? "base64url" : "base64";
}

static bool on_hit(void *ctx, const avtb_hit *h)
{
    walk *w = ctx;

    if (h->kind == AVTB_HIT_CONTENT && h->encoding != NULL &&
        (strcmp(h->encoding, "base64") == 0 || strcmp(h->encoding, "base64url") == 0))
        offer(w, AVTB_HIT_CONTENT, h->token, SIZE_MAX, b64_alphabet(w->view, h->start), h->start);
    else if (h->kind == AVTB_HIT_CONTENT)
        offer(w, AVTB_HIT_CONTENT, h->token, SIZE_MAX, h->encoding, h->start);
    else
        offer_doc(w, h->doc, h->encoding, h->start);
    return true;
}

static bool on_view(void *ctx, const avtb_view *v)
{
    walk *w = ctx;
    avtb_scanner *s = w->s;
    size_t doc;

    if (w->fail != AVTB_OK)
        return false;
    if (v->depth > 0) {
        s->stats.views++;
        s->stats.view_bytes += v->len;
    }
    w->view = v;
    if (v->member != NULL && avtb_patterns_name_is_doc(s->p, v->member, &doc))
        offer_doc(w, doc, "file-name", 0);
    w->fail = avtb_matcher_scan(s->m, v->data, v->len, on_hit, w, w->err);
    w->view = NULL;
    return w->fail == AVTB_OK;
}

static void on_anomaly(void *ctx, const avtb_view *where, const char *what)
{
    walk *w = ctx;
    char buf[512];
    int n;

    w->s->stats.anomalies++;
    if (w->s->anomaly == NULL)
        return;
    n = snprintf(buf, sizeof(buf), "%s", w->msg->protocol);
    for (size_t i = 0; i < w->msg->nencoding && n > 0 && (size_t)n < sizeof(buf); i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "/%s", w->msg->encoding[i]);
    for (size_t i = 0; where && i < where->depth && n > 0 && (size_t)n < sizeof(buf); i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "/%s", where->path[i]);
    if (n > 0 && (size_t)n < sizeof(buf))
        snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", what);
    w->s->anomaly(w->s->anomaly_ctx, buf);
}

avtb_err avtb_scan_message(avtb_scanner *s, const avtb_message *m, avtb_scan_hit_cb cb, void *ctx,
                           avtb_error *err)
{
    walk w = {.s = s, .msg = m, .fail = AVTB_OK, .err = err};
    const avtb_transform_sink sink = {.view = on_view, .anomaly = on_anomaly};
    size_t ntokens = avtb_patterns_ntokens(s->p), doc;
    avtb_err r;

    s->stats.messages++;
    s->stats.message_bytes += m->len;
    for (size_t i = 0; i < ntokens; i++)
        s->best[i].set = false;
    if (m->name != NULL && avtb_patterns_name_is_doc(s->p, m->name, &doc)) {
        const avtb_view top = {.data = m->data, .len = m->len};

        w.view = &top;
        offer_doc(&w, doc, "file-name", 0);
        w.view = NULL;
    }
    r = avtb_transform_walk(m->data, m->len, s->limits, &sink, &w);
    if (r == AVTB_OK)
        r = w.fail;
    else
        avtb_error_set(err, r, "out of memory decoding a %s message", m->protocol);
    if (r != AVTB_OK)
        return r;
    for (size_t i = 0; i < ntokens; i++)
        if (s->best[i].set)
            cb(ctx, m, &s->best[i].hit);
    return AVTB_OK;
}
