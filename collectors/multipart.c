/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Form bodies for app-http.c; see multipart.h. The multipart splitter works
 * on a body already in memory, so it searches for the delimiter with memmem
 * instead of running a byte state machine: every index is checked against
 * len before it is read, and nothing here allocates more than a header line.
 */
#include "collectors/multipart.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct avtb_multipart {
    avtb_multipart_limits lim;
    unsigned flags;
    avtb_anomaly_cb anomaly;
    void *ctx;
    char *delim; /* "--" boundary */
    size_t dlen;
    bool started; /* the first delimiter was found */
    bool closed;  /* the closing delimiter was seen, or the body ran out */
    size_t parts;
    /* The last part's header values, freed at the next call. */
    char *name, *filename, *ctype, *cte;
    /* One header, unfolded, while the part's header lines are read. */
    char *hdr;
    size_t hdr_len;
    bool hdr_cut;
};

void avtb_multipart_limits_default(avtb_multipart_limits *l)
{
    l->max_parts = AVTB_MULTIPART_MAX_PARTS_DEFAULT;
    l->max_line = AVTB_MULTIPART_MAX_LINE_DEFAULT;
    l->max_headers = AVTB_MULTIPART_MAX_HEADERS_DEFAULT;
}

static void anomaly(avtb_multipart *mp, const char *fmt, ...) AVTB_PRINTF(2, 3);

static void anomaly(avtb_multipart *mp, const char *fmt, ...)
{
    char text[256];
    va_list ap;

    if (mp->anomaly == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    mp->anomaly(mp->ctx, text);
}

avtb_multipart *avtb_multipart_new(const char *boundary, const avtb_multipart_limits *limits,
                                   unsigned flags, avtb_anomaly_cb anomaly_cb, void *ctx)
{
    avtb_multipart *mp;
    size_t blen;

    if (boundary == NULL)
        return NULL;
    blen = strlen(boundary);
    if (blen == 0 || blen > AVTB_MULTIPART_MAX_BOUNDARY)
        return NULL;
    mp = calloc(1, sizeof(*mp));
    if (mp == NULL)
        return NULL;
    if (limits != NULL)
        mp->lim = *limits;
    else
        avtb_multipart_limits_default(&mp->lim);
    if (mp->lim.max_line < 64)
        mp->lim.max_line = 64;
    mp->flags = flags;
    mp->anomaly = anomaly_cb;
    mp->ctx = ctx;
    mp->dlen = blen + 2;
    mp->delim = malloc(mp->dlen + 1);
    mp->hdr = malloc(mp->lim.max_line + 1);
    if (mp->delim == NULL || mp->hdr == NULL) {
        avtb_multipart_free(mp);
        return NULL;
    }
    memcpy(mp->delim, "--", 2);
    memcpy(mp->delim + 2, boundary, blen + 1);
    return mp;
}

static void clear_part_strings(avtb_multipart *mp)
{
    free(mp->name);
    free(mp->filename);
    free(mp->ctype);
    free(mp->cte);
    mp->name = mp->filename = mp->ctype = mp->cte = NULL;
}

void avtb_multipart_free(avtb_multipart *mp)
{
    if (mp == NULL)
        return;
    clear_part_strings(mp);
    free(mp->delim);
    free(mp->hdr);
    free(mp);
}

/*
 * Whether what follows a dash-boundary at t makes it a delimiter: "--" (the
 * closing one), or transport padding and a line end, or the end of the body.
 * *after is where the part's headers (or the epilogue) start.
 */
static bool delim_tail(const uint8_t *buf, size_t len, size_t t, size_t *after, bool *close)
{
    *close = false;
    if (len - t >= 2 && buf[t] == '-' && buf[t + 1] == '-') {
        *close = true;
        *after = t + 2;
        return true;
    }
    while (t < len && (buf[t] == ' ' || buf[t] == '\t'))
        t++;
    if (t == len) {
        *after = len;
        return true;
    }
    if (buf[t] == '\n') {
        *after = t + 1;
        return true;
    }
    if (buf[t] == '\r' && (len - t == 1 || buf[t + 1] == '\n')) {
        *after = len - t == 1 ? len : t + 2;
        return true;
    }
    return false;
}

/* The first delimiter at or after from that starts a line. */
static bool find_delim(const avtb_multipart *mp, const uint8_t *buf, size_t len, size_t from,
                       size_t *at, size_t *after, bool *close)
{
    size_t pos = from;

    while (pos < len && len - pos >= mp->dlen) {
        const uint8_t *m = memmem(buf + pos, len - pos, mp->delim, mp->dlen);
        size_t q;

        if (m == NULL)
            return false;
        q = (size_t)(m - buf);
        if ((q == 0 || buf[q - 1] == '\n') && delim_tail(buf, len, q + mp->dlen, after, close)) {
            *at = q;
            return true;
        }
        pos = q + 1;
    }
    return false;
}

static char *dup_range(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* RFC 5987 ext-value: charset "'" [language] "'" value-chars, percent-decoded in place. */
static void ext_value_decode(char *v)
{
    char *q1 = strchr(v, '\''), *q2 = q1 != NULL ? strchr(q1 + 1, '\'') : NULL;
    char *start = q2 != NULL ? q2 + 1 : v;
    size_t n = strlen(start);
    size_t out = avtb_form_percent_decode((const uint8_t *)start, n, false, (uint8_t *)v);

    v[out] = '\0';
}

/* A value's parameter, as a new string; NULL when absent (or out of memory). */
static char *param_dup(const char *v, size_t len, const char *param)
{
    char *out = malloc(len + 1);

    if (out != NULL && !avtb_multipart_param(v, len, param, out, len + 1)) {
        free(out);
        out = NULL;
    }
    return out;
}

/* One unfolded part header in mp->hdr. */
static void apply_header(avtb_multipart *mp)
{
    char *h = mp->hdr, *colon, *v, *end;
    size_t nlen;

    h[mp->hdr_len] = '\0';
    colon = memchr(h, ':', mp->hdr_len);
    if (colon == NULL) {
        anomaly(mp, "multipart: part header line without a colon");
        return;
    }
    nlen = (size_t)(colon - h);
    while (nlen > 0 && (h[nlen - 1] == ' ' || h[nlen - 1] == '\t'))
        nlen--;
    v = colon + 1;
    end = h + mp->hdr_len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
    if (nlen == 19 && strncasecmp(h, "Content-Disposition", nlen) == 0 && mp->name == NULL &&
        mp->filename == NULL) {
        size_t vlen = (size_t)(end - v);

        mp->name = param_dup(v, vlen, "name");
        mp->filename = param_dup(v, vlen, "filename*");
        if (mp->filename != NULL)
            ext_value_decode(mp->filename);
        else
            mp->filename = param_dup(v, vlen, "filename");
    } else if (nlen == 12 && strncasecmp(h, "Content-Type", nlen) == 0 && mp->ctype == NULL) {
        mp->ctype = dup_range(v, (size_t)(end - v));
    } else if (nlen == 25 && strncasecmp(h, "Content-Transfer-Encoding", nlen) == 0 &&
               mp->cte == NULL) {
        mp->cte = dup_range(v, (size_t)(end - v));
        for (char *c = mp->cte; c != NULL && *c != '\0'; c++)
            *c = (char)tolower((unsigned char)*c);
    }
}

/* Appends a physical header line (CR/LF stripped) to the current header, cut at max_line. */
static void hdr_append(avtb_multipart *mp, const uint8_t *s, size_t n)
{
    size_t room = mp->lim.max_line - mp->hdr_len;

    if (n > room) {
        if (!mp->hdr_cut)
            anomaly(mp, "multipart: part header longer than %zu bytes, cut", mp->lim.max_line);
        mp->hdr_cut = true;
        n = room;
    }
    memcpy(mp->hdr + mp->hdr_len, s, n);
    mp->hdr_len += n;
}

/*
 * Reads the part headers starting at p, up to and including the empty line.
 * Returns the index of the part's first data byte; *ended is set when the
 * buffer ran out first.
 */
static size_t read_headers(avtb_multipart *mp, const uint8_t *buf, size_t len, size_t p,
                           bool *ended)
{
    size_t nlines = 0;
    bool have = false, too_many = false;

    *ended = false;
    mp->hdr_len = 0;
    mp->hdr_cut = false;
    for (;;) {
        const uint8_t *lf;
        size_t e, next;

        if (p >= len) {
            *ended = true;
            break;
        }
        lf = memchr(buf + p, '\n', len - p);
        if (lf == NULL) { /* a line cut by the end of the buffer is not a header */
            *ended = true;
            p = len;
            break;
        }
        e = (size_t)(lf - buf);
        next = e + 1;
        if (e > p && buf[e - 1] == '\r')
            e--;
        if (e == p) {
            p = next;
            break;
        }
        if (++nlines > mp->lim.max_headers) {
            if (!too_many)
                anomaly(mp, "multipart: more than %zu header lines in a part", mp->lim.max_headers);
            too_many = true;
        } else if ((buf[p] == ' ' || buf[p] == '\t') && have) {
            hdr_append(mp, (const uint8_t *)" ", 1);
            while (p < e && (buf[p] == ' ' || buf[p] == '\t'))
                p++;
            hdr_append(mp, buf + p, e - p);
        } else {
            if (have)
                apply_header(mp);
            mp->hdr_len = 0;
            mp->hdr_cut = false;
            hdr_append(mp, buf + p, e - p);
            have = true;
        }
        p = next;
    }
    if (have)
        apply_header(mp);
    return p;
}

avtb_parse_result avtb_multipart_next(avtb_multipart *mp, const uint8_t *buf, size_t len,
                                      size_t *consumed, avtb_multipart_part *part)
{
    size_t q, after, data, end, next_q, next_after;
    bool close, ended, piece;

    *consumed = 0;
    memset(part, 0, sizeof(*part));
    if (mp == NULL || (buf == NULL && len > 0))
        return AVTB_PARSE_ERROR;
    clear_part_strings(mp);
    piece = (mp->flags & AVTB_MULTIPART_PIECE) != 0;
    if (mp->closed) {
        *consumed = len;
        return AVTB_PARSE_NEED_MORE;
    }
    /* After the first call buf starts at the delimiter the previous part ended on. */
    if (!find_delim(mp, buf, len, 0, &q, &after, &close)) {
        if (!mp->started && !piece)
            anomaly(mp, "multipart: boundary not found in the body");
        mp->closed = true;
        *consumed = len;
        return AVTB_PARSE_NEED_MORE;
    }
    mp->started = true;
    if (close) {
        mp->closed = true;
        *consumed = len; /* the epilogue */
        return AVTB_PARSE_NEED_MORE;
    }
    if (after == len) {
        if (!piece)
            anomaly(mp, "multipart: body ends right after a boundary");
        mp->closed = true;
        *consumed = len;
        return AVTB_PARSE_NEED_MORE;
    }
    if (mp->parts >= mp->lim.max_parts) {
        anomaly(mp, "multipart: more than %zu parts, the rest is not split", mp->lim.max_parts);
        mp->closed = true;
        *consumed = q;
        return AVTB_PARSE_ERROR;
    }
    mp->parts++;
    data = read_headers(mp, buf, len, after, &ended);
    if (!ended && find_delim(mp, buf, len, data, &next_q, &next_after, &close)) {
        /* The line end before the delimiter belongs to the delimiter. */
        end = next_q;
        if (end > data) {
            end--;
            if (end > data && buf[end - 1] == '\r')
                end--;
        }
        *consumed = next_q;
    } else {
        if (!piece)
            anomaly(mp, ended ? "multipart: body ends inside part headers"
                              : "multipart: no closing boundary");
        end = len;
        mp->closed = true;
        *consumed = len;
    }
    part->name = mp->name;
    part->filename = mp->filename;
    part->content_type = mp->ctype;
    part->transfer_encoding = mp->cte;
    part->data = buf + data;
    part->len = end - data;
    return AVTB_PARSE_OK;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

bool avtb_multipart_param(const char *v, size_t len, const char *param, char *out, size_t cap)
{
    size_t plen = strlen(param), i = 0;
    bool in_quote = false;

    if (cap > 0)
        out[0] = '\0';
    /* Skip the media type (or disposition type) up to the first ';'. */
    for (; i < len && (in_quote || v[i] != ';'); i++)
        if (v[i] == '"')
            in_quote = !in_quote;
    while (i < len) {
        size_t nstart, nend, o = 0;
        bool match;

        i++; /* the ';' */
        while (i < len && is_ows(v[i]))
            i++;
        nstart = i;
        while (i < len && v[i] != '=' && v[i] != ';')
            i++;
        nend = i;
        while (nend > nstart && is_ows(v[nend - 1]))
            nend--;
        if (i >= len || v[i] == ';')
            continue; /* a parameter without a value */
        i++;          /* the '=' */
        while (i < len && is_ows(v[i]))
            i++;
        match = nend - nstart == plen && strncasecmp(v + nstart, param, plen) == 0;
        if (i < len && v[i] == '"') {
            for (i++; i < len && v[i] != '"'; i++) {
                char c = v[i];

                if (c == '\\' && i + 1 < len && (v[i + 1] == '"' || v[i + 1] == '\\'))
                    c = v[++i];
                if (match && o + 1 < cap)
                    out[o++] = c;
            }
            /* Anything between the closing quote and the next ';' is ignored. */
            while (i < len && v[i] != ';')
                i++;
        } else {
            size_t vstart = i, vend;

            while (i < len && v[i] != ';')
                i++;
            vend = i;
            while (vend > vstart && is_ows(v[vend - 1]))
                vend--;
            for (size_t k = vstart; match && k < vend && o + 1 < cap; k++)
                out[o++] = v[k];
        }
        if (match) {
            if (cap > 0)
                out[o] = '\0';
            return true;
        }
    }
    return false;
}

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

size_t avtb_multipart_base64_decode(const uint8_t *in, size_t len, uint8_t *out, bool *bad)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;

    if (bad != NULL)
        *bad = false;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = in[i];
        int v;

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            /* Padding ends a group; a concatenation of encodings goes on after it. */
            acc = 0;
            bits = 0;
            continue;
        }
        v = b64_value(c);
        if (v < 0) {
            if (bad != NULL)
                *bad = true;
            continue;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return o;
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t avtb_multipart_qp_decode(const uint8_t *in, size_t len, uint8_t *out, bool *bad)
{
    size_t o = 0, i = 0;

    if (bad != NULL)
        *bad = false;
    while (i < len) {
        if (in[i] != '=') {
            out[o++] = in[i++];
        } else if (len - i >= 2 && in[i + 1] == '\n') {
            i += 2; /* soft line break */
        } else if (len - i >= 3 && in[i + 1] == '\r' && in[i + 2] == '\n') {
            i += 3;
        } else if (len - i >= 3 && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
            out[o++] = (uint8_t)(hex_value(in[i + 1]) << 4 | hex_value(in[i + 2]));
            i += 3;
        } else {
            if (bad != NULL)
                *bad = true;
            out[o++] = in[i++];
        }
    }
    return o;
}

avtb_parse_result avtb_form_next(const uint8_t *buf, size_t len, size_t *consumed,
                                 avtb_form_field *f)
{
    size_t i = 0, end;
    const uint8_t *amp, *eq;

    *consumed = 0;
    memset(f, 0, sizeof(*f));
    if (buf == NULL) {
        return AVTB_PARSE_NEED_MORE;
    }
    while (i < len && buf[i] == '&')
        i++;
    if (i == len) {
        *consumed = len;
        return AVTB_PARSE_NEED_MORE;
    }
    amp = memchr(buf + i, '&', len - i);
    end = amp != NULL ? (size_t)(amp - buf) : len;
    eq = memchr(buf + i, '=', end - i);
    f->name = buf + i;
    f->name_len = eq != NULL ? (size_t)(eq - (buf + i)) : end - i;
    if (eq != NULL) {
        f->value = eq + 1;
        f->value_len = end - (size_t)(eq + 1 - buf);
    }
    *consumed = amp != NULL ? end + 1 : len;
    return AVTB_PARSE_OK;
}

bool avtb_form_is_encoded(const uint8_t *buf, size_t len, bool plus_is_space)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '+' && plus_is_space)
            return true;
        if (buf[i] == '%' && len - i >= 3 && hex_value(buf[i + 1]) >= 0 &&
            hex_value(buf[i + 2]) >= 0)
            return true;
    }
    return false;
}

size_t avtb_form_percent_decode(const uint8_t *in, size_t len, bool plus_is_space, uint8_t *out)
{
    size_t o = 0, i = 0;

    while (i < len) {
        if (in[i] == '%' && len - i >= 3 && hex_value(in[i + 1]) >= 0 &&
            hex_value(in[i + 2]) >= 0) {
            out[o++] = (uint8_t)(hex_value(in[i + 1]) << 4 | hex_value(in[i + 2]));
            i += 3;
        } else {
            out[o++] = in[i] == '+' && plus_is_space ? ' ' : in[i];
            i++;
        }
    }
    return o;
}
