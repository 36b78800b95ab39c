/* SPDX-License-Identifier: Apache-2.0 */
/* Token and metadata matching with Hyperscan; see match.h. */
#include "collectors/match.h"

#include <hs/hs.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One compiled literal: what a hit on it means. */
typedef struct pattern {
    avtb_hit_kind kind;
    size_t index; /* token (content) or doc (metadata) */
    const char *encoding;
    size_t len;       /* of the literal */
    char *pre, *post; /* characters allowed right before / after it, or NULL (owned) */
    bool caseless;
} pattern;

typedef struct doc_entry {
    char *name;
    size_t *tokens;
    size_t ntokens;
} doc_entry;

struct avtb_patterns {
    char **tokens;
    size_t ntokens;
    doc_entry *docs;
    size_t ndocs;
    pattern *pats;
    size_t npats;
    hs_database_t *db; /* NULL when there is nothing to search for */
};

struct avtb_matcher {
    const avtb_patterns *p;
    hs_scratch_t *scratch;
};

/* The literals being collected before compilation. */
typedef struct builder {
    char **lits;        /* literal bytes */
    char **pre, **post; /* characters allowed right before / after the literal, or NULL */
    size_t *lens;
    unsigned *flags;
    pattern *pats;
    size_t n, cap;
} builder;

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b32_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* Takes the bits [bit, bit + width) of buf (big-endian bit order). */
static unsigned bits_at(const uint8_t *buf, size_t bit, unsigned width)
{
    unsigned v = 0;

    for (unsigned i = 0; i < width; i++) {
        size_t b = bit + i;

        v = (v << 1) | ((buf[b / 8] >> (7 - b % 8)) & 1u);
    }
    return v;
}

/*
 * The characters of a width-bit encoding (base64: 6, base32: 5) of a token
 * placed at byte k of the encoded data that depend on the token's bytes only:
 * character j covers bits [width*j, width*j + width) and must lie inside the
 * token's bits [8k, 8(k+n)). Returns the length written to out.
 *
 * The characters on either side mix the token's first or last bits with a
 * neighbour's: pre and post (each room for 65) get the characters whose
 * token bits are right, so that a token one bit off at its edge (a decoy)
 * does not match. Empty when there is no such character.
 */
static size_t stable_chars(const uint8_t *tok, size_t n, size_t k, unsigned width,
                           const char *alpha, char *out, char *pre, char *post)
{
    size_t total = k + n + 1;
    uint8_t *buf = calloc(total, 1);
    size_t first = (8 * k + width - 1) / width, w = 0, j;
    unsigned nvals = 1u << width;

    pre[0] = post[0] = '\0';
    if (buf == NULL)
        return 0;
    memcpy(buf + k, tok, n);
    for (j = first; width * j + width <= 8 * (k + n); j++)
        out[w++] = alpha[bits_at(buf, width * j, width)];
    if (width * first > 8 * k) {
        /* The character before: its low m bits are the token's first m. */
        unsigned m = (unsigned)(width * first - 8 * k), t = bits_at(buf, 8 * k, m), np = 0;

        for (unsigned v = 0; v < nvals; v++)
            if ((v & ((1u << m) - 1)) == t)
                pre[np++] = alpha[v];
        pre[np] = '\0';
    }
    if (width * j < 8 * (k + n)) {
        /* The character after: its high q bits are the token's last q. */
        unsigned q = (unsigned)(8 * (k + n) - width * j), t = bits_at(buf, width * j, q), np = 0;

        for (unsigned v = 0; v < nvals; v++)
            if ((v >> (width - q)) == t)
                post[np++] = alpha[v];
        post[np] = '\0';
    }
    free(buf);
    return w;
}

static int add_ex(builder *b, const void *lit, size_t len, unsigned flags, avtb_hit_kind kind,
                  size_t index, const char *encoding, const char *pre, const char *post);

static int add(builder *b, const void *lit, size_t len, unsigned flags, avtb_hit_kind kind,
               size_t index, const char *encoding)
{
    return add_ex(b, lit, len, flags, kind, index, encoding, NULL, NULL);
}

static bool same_opt(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int add_ex(builder *b, const void *lit, size_t len, unsigned flags, avtb_hit_kind kind,
                  size_t index, const char *encoding, const char *pre, const char *post)
{
    char *copy;

    if (len == 0)
        return 0;
    if (pre != NULL && pre[0] == '\0')
        pre = NULL;
    if (post != NULL && post[0] == '\0')
        post = NULL;
    /* The same literal twice would report the same bytes twice. */
    for (size_t i = 0; i < b->n; i++)
        if (b->lens[i] == len && b->flags[i] == flags && b->pats[i].kind == kind &&
            b->pats[i].index == index && memcmp(b->lits[i], lit, len) == 0 &&
            same_opt(b->pre[i], pre) && same_opt(b->post[i], post))
            return 0;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        char **l = realloc(b->lits, cap * sizeof(*l));
        size_t *s;
        unsigned *f;
        pattern *p;

        if (l == NULL)
            return -1;
        b->lits = l;
        if ((s = realloc(b->lens, cap * sizeof(*s))) == NULL)
            return -1;
        b->lens = s;
        if ((f = realloc(b->flags, cap * sizeof(*f))) == NULL)
            return -1;
        b->flags = f;
        if ((p = realloc(b->pats, cap * sizeof(*p))) == NULL)
            return -1;
        b->pats = p;
        if ((l = realloc(b->pre, cap * sizeof(*l))) == NULL)
            return -1;
        b->pre = l;
        if ((l = realloc(b->post, cap * sizeof(*l))) == NULL)
            return -1;
        b->post = l;
        b->cap = cap;
    }
    copy = malloc(len);
    if (copy == NULL)
        return -1;
    memcpy(copy, lit, len);
    b->lits[b->n] = copy;
    b->pre[b->n] = pre ? strdup(pre) : NULL;
    b->post[b->n] = post ? strdup(post) : NULL;
    if ((pre && !b->pre[b->n]) || (post && !b->post[b->n])) {
        free(b->pre[b->n]);
        free(b->post[b->n]);
        free(copy);
        return -1;
    }
    b->lens[b->n] = len;
    b->flags[b->n] = flags;
    /* A literal checked at its edges must report every occurrence: the first
     * may be a decoy that the check refuses. */
    if (pre != NULL || post != NULL)
        b->flags[b->n] &= ~(unsigned)HS_FLAG_SINGLEMATCH;
    b->pats[b->n] = (pattern){.kind = kind,
                              .index = index,
                              .encoding = encoding,
                              .len = len,
                              .caseless = (flags & HS_FLAG_CASELESS) != 0};
    b->n++;
    return 0;
}

static void builder_free(builder *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->lits[i]);
        free(b->pre[i]);
        free(b->post[i]);
    }
    free(b->lits);
    free(b->pre);
    free(b->post);
    free(b->lens);
    free(b->flags);
    free(b->pats);
}

/* Hyperscan reports a literal once per scan: one hit per form is all we need. */
#define LIT_FLAGS        (HS_FLAG_SINGLEMATCH)
#define LIT_FLAGS_NOCASE (HS_FLAG_SINGLEMATCH | HS_FLAG_CASELESS)

static int add_token_forms(builder *b, const char *token, size_t i)
{
    char pre[65], post[65];
    const uint8_t *t = (const uint8_t *)token;
    size_t n = strlen(token);
    char *buf = malloc(4 * n + 16);
    int r = -1;

    if (buf == NULL)
        return -1;
    /* Any case: a token in a host name (a honey document's beacon) comes back lower-cased
     * by the renderer that resolved it, or in DNS 0x20 mixed case. */
    if (add(b, t, n, LIT_FLAGS_NOCASE, AVTB_HIT_CONTENT, i, NULL) < 0)
        goto out;
    for (size_t k = 0; k < 3; k++) {
        size_t w = stable_chars(t, n, k, 6, b64_std, buf, pre, post);

        if (add_ex(b, buf, w, LIT_FLAGS, AVTB_HIT_CONTENT, i, "base64", pre, post) < 0)
            goto out;
        w = stable_chars(t, n, k, 6, b64_url, buf, pre, post);
        if (add_ex(b, buf, w, LIT_FLAGS, AVTB_HIT_CONTENT, i, "base64url", pre, post) < 0)
            goto out;
    }
    for (size_t k = 0; k < 5; k++) {
        size_t w = stable_chars(t, n, k, 5, b32_alpha, buf, pre, post);

        if (add_ex(b, buf, w, LIT_FLAGS_NOCASE, AVTB_HIT_CONTENT, i, "base32", pre, post) < 0)
            goto out;
    }
    for (size_t j = 0; j < n; j++) {
        buf[2 * j] = "0123456789abcdef"[t[j] >> 4];
        buf[2 * j + 1] = "0123456789abcdef"[t[j] & 15];
    }
    if (add(b, buf, 2 * n, LIT_FLAGS_NOCASE, AVTB_HIT_CONTENT, i, "hex") < 0)
        goto out;
    for (size_t j = 0; j < n; j++) {
        buf[2 * j] = (char)t[j];
        buf[2 * j + 1] = '\0';
    }
    if (add(b, buf, 2 * n, LIT_FLAGS, AVTB_HIT_CONTENT, i, "utf16le") < 0)
        goto out;
    for (size_t j = 0; j < n; j++) {
        buf[2 * j] = '\0';
        buf[2 * j + 1] = (char)t[j];
    }
    if (add(b, buf, 2 * n, LIT_FLAGS, AVTB_HIT_CONTENT, i, "utf16be") < 0)
        goto out;
    r = 0;
out:
    free(buf);
    return r;
}

static int add_digest(builder *b, const uint8_t *d, size_t n, size_t doc, const char *hex_name,
                      const char *b64_name, const char *b64url_name)
{
    char buf[2 * 32 + 1], pre[65], post[65];
    size_t w;

    if (d == NULL)
        return 0;
    for (size_t j = 0; j < n; j++) {
        buf[2 * j] = "0123456789abcdef"[d[j] >> 4];
        buf[2 * j + 1] = "0123456789abcdef"[d[j] & 15];
    }
    if (add(b, buf, 2 * n, LIT_FLAGS_NOCASE, AVTB_HIT_METADATA, doc, hex_name) < 0)
        return -1;
    /* Every full base64 character of the digest; padding and the next byte vary. */
    w = stable_chars(d, n, 0, 6, b64_std, buf, pre, post);
    if (add_ex(b, buf, w, LIT_FLAGS, AVTB_HIT_METADATA, doc, b64_name, pre, post) < 0)
        return -1;
    w = stable_chars(d, n, 0, 6, b64_url, buf, pre, post);
    return add_ex(b, buf, w, LIT_FLAGS, AVTB_HIT_METADATA, doc, b64url_name, pre, post);
}

static const char *basename_of(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? s + 1 : path;
}

const char *avtb_token_problem(const char *t)
{
    size_t n = strlen(t);

    if (n < AVTB_TOKEN_MIN_LEN)
        return "is shorter than 8 characters";
    if (n > AVTB_TOKEN_MAX_LEN)
        return "is longer than 256 characters";
    for (size_t i = 0; i < n; i++)
        if (t[i] < 0x21 || t[i] > 0x7e)
            return "holds a space, a control character or a non-ASCII byte";
    return NULL;
}

static avtb_err check_token(const char *t, size_t i, avtb_error *err)
{
    const char *why = avtb_token_problem(t);

    if (why != NULL)
        return avtb_error_set(err, AVTB_ERR_INPUT,
                              "token %zu ('%.40s') %s; tokens are 8 to 256 printable ASCII "
                              "characters",
                              i + 1, t, why);
    return AVTB_OK;
}

avtb_err avtb_patterns_new(const char *const *tokens, size_t ntokens, const avtb_canary_doc *docs,
                           size_t ndocs, avtb_patterns **out, avtb_error *err)
{
    builder b = {0};
    avtb_patterns *p = calloc(1, sizeof(*p));
    avtb_err r = AVTB_ERR_NOMEM;
    unsigned *ids = NULL;
    hs_compile_error_t *cerr = NULL;

    *out = NULL;
    if (p == NULL)
        goto nomem;
    p->tokens = calloc(ntokens + 1, sizeof(*p->tokens));
    p->docs = calloc(ndocs + 1, sizeof(*p->docs));
    if (p->tokens == NULL || p->docs == NULL)
        goto nomem;
    for (size_t i = 0; i < ntokens; i++) {
        r = check_token(tokens[i], i, err);
        if (r != AVTB_OK)
            goto out;
        r = AVTB_ERR_NOMEM;
        if ((p->tokens[i] = strdup(tokens[i])) == NULL)
            goto nomem;
        p->ntokens = i + 1;
        if (add_token_forms(&b, tokens[i], i) < 0)
            goto nomem;
    }
    for (size_t i = 0; i < ndocs; i++) {
        const avtb_canary_doc *d = &docs[i];
        doc_entry *o = &p->docs[i];

        p->ndocs = i + 1;
        if (d->ntokens > 0) {
            o->tokens = malloc(d->ntokens * sizeof(*o->tokens));
            if (o->tokens == NULL)
                goto nomem;
            for (size_t j = 0; j < d->ntokens; j++) {
                if (d->tokens[j] >= ntokens) {
                    r = avtb_error_set(err, AVTB_ERR_INTERNAL,
                                       "document %zu names token %zu of %zu", i, d->tokens[j],
                                       ntokens);
                    goto out;
                }
                o->tokens[j] = d->tokens[j];
            }
            o->ntokens = d->ntokens;
        }
        if (add_digest(&b, d->md5, 16, i, "md5", "md5-base64", "md5-base64url") < 0 ||
            add_digest(&b, d->sha1, 20, i, "sha1", "sha1-base64", "sha1-base64url") < 0 ||
            add_digest(&b, d->sha256, 32, i, "sha256", "sha256-base64", "sha256-base64url") < 0)
            goto nomem;
        if (d->name != NULL) {
            const char *base = basename_of(d->name);

            if ((o->name = strdup(base)) == NULL)
                goto nomem;
            if (strlen(base) >= AVTB_DOC_NAME_MIN_LEN &&
                add(&b, base, strlen(base), LIT_FLAGS_NOCASE, AVTB_HIT_METADATA, i, "file-name") <
                    0)
                goto nomem;
        }
    }
    p->pats = b.pats;
    p->npats = b.n;
    b.pats = NULL;
    /* The edge classes move to the patterns, which check them on each hit. */
    for (size_t i = 0; i < b.n; i++) {
        p->pats[i].pre = b.pre[i];
        p->pats[i].post = b.post[i];
        b.pre[i] = b.post[i] = NULL;
    }
    if (b.n > 0) {
        ids = malloc(b.n * sizeof(*ids));
        if (ids == NULL)
            goto nomem;
        for (size_t i = 0; i < b.n; i++)
            ids[i] = (unsigned)i;
        if (hs_compile_lit_multi((const char *const *)b.lits, b.flags, ids, b.lens, (unsigned)b.n,
                                 HS_MODE_BLOCK, NULL, &p->db, &cerr) != HS_SUCCESS) {
            r = avtb_error_set(err, AVTB_ERR_INTERNAL, "Hyperscan cannot compile %zu patterns: %s",
                               b.n, cerr && cerr->message ? cerr->message : "unknown error");
            goto out;
        }
    }
    *out = p;
    p = NULL; /* transferred */
    r = AVTB_OK;
    goto out;
nomem:
    r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
out:
    hs_free_compile_error(cerr);
    free(ids);
    builder_free(&b);
    avtb_patterns_free(p);
    return r;
}

void avtb_patterns_free(avtb_patterns *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->ntokens; i++)
        free(p->tokens[i]);
    free(p->tokens);
    for (size_t i = 0; i < p->ndocs; i++) {
        free(p->docs[i].name);
        free(p->docs[i].tokens);
    }
    free(p->docs);
    for (size_t i = 0; i < p->npats; i++) {
        free(p->pats[i].pre);
        free(p->pats[i].post);
    }
    free(p->pats);
    hs_free_database(p->db);
    free(p);
}

size_t avtb_patterns_ntokens(const avtb_patterns *p)
{
    return p->ntokens;
}

const char *avtb_patterns_token(const avtb_patterns *p, size_t i)
{
    return i < p->ntokens ? p->tokens[i] : NULL;
}

size_t avtb_patterns_ndocs(const avtb_patterns *p)
{
    return p->ndocs;
}

const size_t *avtb_patterns_doc_tokens(const avtb_patterns *p, size_t i, size_t *n)
{
    *n = i < p->ndocs ? p->docs[i].ntokens : 0;
    return i < p->ndocs ? p->docs[i].tokens : NULL;
}

const char *avtb_patterns_doc_name(const avtb_patterns *p, size_t i)
{
    return i < p->ndocs ? p->docs[i].name : NULL;
}

bool avtb_patterns_name_is_doc(const avtb_patterns *p, const char *name, size_t *doc)
{
    const char *base;

    if (name == NULL)
        return false;
    base = basename_of(name);
    /* Archive members and uploads from Windows-minded code use backslashes. */
    if (strrchr(base, '\\') != NULL)
        base = strrchr(base, '\\') + 1;
    for (size_t i = 0; i < p->ndocs; i++)
        if (p->docs[i].name != NULL && strlen(p->docs[i].name) >= AVTB_DOC_NAME_MIN_LEN &&
            strcasecmp(p->docs[i].name, base) == 0) {
            *doc = i;
            return true;
        }
    return false;
}

avtb_matcher *avtb_matcher_new(const avtb_patterns *p)
{
    avtb_matcher *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->p = p;
    if (p->db != NULL && hs_alloc_scratch(p->db, &m->scratch) != HS_SUCCESS) {
        free(m);
        return NULL;
    }
    return m;
}

void avtb_matcher_free(avtb_matcher *m)
{
    if (m == NULL)
        return;
    hs_free_scratch(m->scratch);
    free(m);
}

typedef struct scan_ctx {
    const avtb_patterns *p;
    avtb_hit_cb cb;
    void *ctx;
    uint64_t base;      /* offset of the part being scanned */
    const uint8_t *buf; /* the part */
    size_t len;
} scan_ctx;

static bool in_class(const char *cls, uint8_t c, bool caseless)
{
    if (caseless && c >= 'a' && c <= 'z')
        c = (uint8_t)(c - 'a' + 'A');
    return c != 0 && strchr(cls, c) != NULL;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    scan_ctx *s = ctx;
    const pattern *pat = &s->p->pats[id];
    size_t start = (size_t)to - pat->len, end = (size_t)to;
    avtb_hit h;

    (void)from;
    (void)flags;
    /* The edge characters carry the token's first and last bits: a decoy
     * one bit off differs only there. At the edge of the buffer there is
     * nothing to check against; the hit stands. */
    if (pat->pre != NULL && start > 0) {
        if (!in_class(pat->pre, s->buf[start - 1], pat->caseless))
            return 0;
        start--;
    }
    if (pat->post != NULL && end < s->len) {
        if (!in_class(pat->post, s->buf[end], pat->caseless))
            return 0;
        end++;
    }
    h = (avtb_hit){
        .kind = pat->kind,
        .doc = pat->kind == AVTB_HIT_METADATA ? pat->index : SIZE_MAX,
        .token = pat->kind == AVTB_HIT_CONTENT ? pat->index : SIZE_MAX,
        .encoding = pat->encoding,
        .start = s->base + start,
        .end = s->base + end,
    };
    return s->cb(s->ctx, &h) ? 0 : 1;
}

avtb_err avtb_matcher_scan(avtb_matcher *m, const uint8_t *buf, size_t len, avtb_hit_cb cb,
                           void *ctx, avtb_error *err)
{
    scan_ctx s = {.p = m->p, .cb = cb, .ctx = ctx};
    hs_error_t e;

    if (m->p->db == NULL || len == 0)
        return AVTB_OK;
    /* Hyperscan takes an unsigned int length: scan larger buffers in overlapping parts. */
    while (len > 0) {
        size_t part = len > (1u << 30) ? (1u << 30) : len;

        s.buf = buf;
        s.len = part;
        e = hs_scan(m->p->db, (const char *)buf, (unsigned)part, 0, m->scratch, on_match, &s);
        if (e == HS_SCAN_TERMINATED)
            return AVTB_OK;
        if (e != HS_SUCCESS)
            return avtb_error_set(err, AVTB_ERR_INTERNAL, "Hyperscan scan failed (%d)", e);
        if (part == len)
            break;
        /* Overlap by more than the longest literal (a UTF-16 token). */
        buf += part - 4 * AVTB_TOKEN_MAX_LEN;
        len -= part - 4 * AVTB_TOKEN_MAX_LEN;
        s.base += part - 4 * AVTB_TOKEN_MAX_LEN;
    }
    return AVTB_OK;
}
