/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.x client streams to messages; see app-http.h. Lines (request line,
 * headers, chunk sizes, trailers) are gathered in one bounded buffer and
 * handled when their LF arrives; body bytes go straight into the body
 * accumulator. So a request split at any byte yields the same messages as
 * one that arrives whole. A request's messages are delivered once its header
 * block is complete (the Host header may come last), its body's once the
 * body is complete or the accumulator is full.
 */
#include "collectors/app-http.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "collectors/multipart.h"

#define MAX_HOST       255
#define MAX_CODINGS    8 /* per header kind; more are reported and left coded */
#define MAX_FIELD_NAME 256
#define SHRINK_BODY    (1u << 20) /* idle buffers larger than this are given back */
#define SHRINK_HEADERS (64u << 10)

typedef enum {
    ST_REQ_LINE,
    ST_HEADERS,
    ST_BODY,       /* Content-Length bytes */
    ST_CHUNK_SIZE, /* chunk-size [BWS] [; ext] line */
    ST_CHUNK_DATA,
    ST_CHUNK_END, /* the line end after chunk data */
    ST_TRAILERS,
    ST_STOPPED, /* ERROR returned or _end() called */
} http_state;

typedef enum { FORM_NONE, FORM_MULTIPART, FORM_URLENCODED } form_kind;

/* One header (or trailer) line in the header bytes hb. */
typedef struct header {
    size_t name, name_len; /* NUL-terminated in hb; name_len 0: not "name: value" */
    size_t value, value_len;
    uint64_t off; /* stream offset of the value */
} header;

/* A transfer or content coding, in decoding order. */
typedef struct coding {
    const char *name; /* static, as avtb_http_decompress_fn takes it; NULL: unknown */
    bool te;          /* from Transfer-Encoding */
    char raw[32];     /* as sent, for anomalies */
} coding;

typedef struct encpath {
    const char *e[AVTB_MESSAGE_MAX_ENCODING];
    size_t n;
} encpath;

/* What the header block says about framing. */
typedef struct framing {
    bool has_cl, cl_bad;
    uint64_t cl;
    bool has_te, te_chunked_last;
    bool upgrade;
} framing;

struct avtb_http_session {
    avtb_http_config c;
    http_state st;
    bool is_http, tunnel;
    bool switch_pending; /* after CONNECT or Upgrade: non-HTTP next is a tunnel */
    uint64_t requests;
    uint64_t off; /* stream offset of the next byte */
    double ts;    /* of the chunk being parsed */

    /* The line being gathered; after ERROR or _end() it is what held() returns. */
    uint8_t *line;
    size_t line_len, line_cap;
    uint64_t line_off;
    bool held;
    size_t method_len; /* request line: bytes of method so far */
    bool sp_seen;      /* request line: past the method */

    /* The request under way. */
    bool in_request, head_done;
    uint64_t index;
    char *rl; /* "method\0target\0version\0" */
    const char *method, *target, *version;
    uint64_t rl_off, target_off;
    uint8_t *hb; /* header names (NUL-terminated) and values */
    size_t hb_len, hb_cap;
    header *h;
    size_t nh, h_cap;
    size_t nlines; /* header or trailer lines, folded ones included */
    char host[MAX_HOST + 1];
    bool has_host;
    coding dec[2 * MAX_CODINGS];
    size_t ndec;
    form_kind form;
    char boundary[AVTB_MULTIPART_MAX_BOUNDARY + 1];

    /* The body under way. */
    bool chunked, body_done;
    uint64_t remaining; /* of Content-Length or of the chunk */
    uint8_t *body;
    size_t body_len, body_alloc;
    uint64_t body_off;  /* stream offset of the byte after the header block */
    uint64_t piece_off; /* stream offset of the current piece */
    bool piece_off_set;
    unsigned pieces; /* delivered */
};

/* Methods of the IANA registry that clients commonly send; others are delivered. */
static const char *const known_methods[] = {
    "GET",   "HEAD",   "POST",     "PUT",       "DELETE",     "CONNECT", "OPTIONS",
    "TRACE", "PATCH",  "PROPFIND", "PROPPATCH", "MKCOL",      "COPY",    "MOVE",
    "LOCK",  "UNLOCK", "REPORT",   "SEARCH",    "MKCALENDAR", NULL,
};

void avtb_http_config_default(avtb_http_config *c)
{
    memset(c, 0, sizeof(*c));
    c->max_line = AVTB_HTTP_MAX_LINE_DEFAULT;
    c->max_headers = AVTB_HTTP_MAX_HEADERS_DEFAULT;
    c->max_method = AVTB_HTTP_MAX_METHOD_DEFAULT;
    c->body_cap = AVTB_HTTP_BODY_CAP_DEFAULT;
    c->body_overlap = AVTB_HTTP_BODY_OVERLAP_DEFAULT;
    c->max_decoded = AVTB_HTTP_MAX_DECODED_DEFAULT;
    c->max_parts = AVTB_HTTP_MAX_PARTS_DEFAULT;
    c->max_fields = AVTB_HTTP_MAX_FIELDS_DEFAULT;
}

avtb_http_session *avtb_http_session_new(const avtb_http_config *c)
{
    avtb_http_session *s = calloc(1, sizeof(*s));
    avtb_http_config d;

    if (s == NULL)
        return NULL;
    avtb_http_config_default(&d);
    if (c != NULL) {
        s->c = *c;
        if (s->c.max_line == 0)
            s->c.max_line = d.max_line;
        if (s->c.max_headers == 0)
            s->c.max_headers = d.max_headers;
        if (s->c.max_method == 0)
            s->c.max_method = d.max_method;
        if (s->c.body_cap == 0)
            s->c.body_cap = d.body_cap;
        if (s->c.body_overlap == 0)
            s->c.body_overlap = d.body_overlap;
        if (s->c.max_decoded == 0)
            s->c.max_decoded = d.max_decoded;
        if (s->c.max_parts == 0)
            s->c.max_parts = d.max_parts;
        if (s->c.max_fields == 0)
            s->c.max_fields = d.max_fields;
    } else {
        s->c = d;
    }
    /* Each later piece must bring new bytes. */
    if (s->c.body_overlap > s->c.body_cap / 2)
        s->c.body_overlap = s->c.body_cap / 2;
    if (s->c.max_line < 16)
        s->c.max_line = 16;
    return s;
}

static void request_clear(avtb_http_session *s)
{
    free(s->rl);
    s->rl = NULL;
    s->method = s->target = s->version = NULL;
    s->in_request = s->head_done = false;
    s->hb_len = 0;
    s->nh = 0;
    s->nlines = 0;
    s->ndec = 0;
    s->form = FORM_NONE;
    s->chunked = s->body_done = false;
    s->remaining = 0;
    s->body_len = 0;
    s->pieces = 0;
    s->piece_off_set = false;
}

void avtb_http_session_free(avtb_http_session *s)
{
    if (s == NULL)
        return;
    request_clear(s);
    free(s->line);
    free(s->hb);
    free(s->h);
    free(s->body);
    free(s);
}

static void anomaly(avtb_http_session *s, const char *fmt, ...) AVTB_PRINTF(2, 3);

static void anomaly(avtb_http_session *s, const char *fmt, ...)
{
    char text[256];
    va_list ap;

    if (s->c.anomaly == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    s->c.anomaly(s->c.ctx, text);
}

/* Gives multipart.c's anomalies to the session's callback. */
static void part_anomaly(void *ctx, const char *what)
{
    avtb_http_session *s = ctx;

    if (s->c.anomaly != NULL)
        s->c.anomaly(s->c.ctx, what);
}

static void path_push(encpath *e, const char *name)
{
    if (e->n < AVTB_MESSAGE_MAX_ENCODING)
        e->e[e->n++] = name;
}

static void emit(avtb_http_session *s, const encpath *e, const uint8_t *data, size_t len,
                 uint64_t off, const char *name, const char *field)
{
    avtb_message m;
    avtb_http_req_info info;

    if (s->c.message == NULL || len == 0)
        return;
    memset(&m, 0, sizeof(m));
    m.protocol = "http";
    m.host = s->has_host ? s->host : NULL;
    memcpy(m.encoding, e->e, e->n * sizeof(e->e[0]));
    m.nencoding = e->n;
    m.name = name;
    m.data = data;
    m.len = len;
    m.offset = off;
    m.time = s->ts;
    info.index = s->index;
    info.method = s->method != NULL ? s->method : "";
    info.target = s->target != NULL ? s->target : "";
    info.version = s->version != NULL ? s->version : "";
    info.field = field;
    s->c.message(s->c.ctx, &m, &info);
}

static void emit1(avtb_http_session *s, const char *enc, const uint8_t *data, size_t len,
                  uint64_t off, const char *field)
{
    encpath e = {{enc}, 1};

    emit(s, &e, data, len, off, NULL, field);
}

/*
 * Grows *buf to hold need bytes, doubling from min but never past max (>= need);
 * false when out of memory.
 */
static bool grow(uint8_t **buf, size_t *cap, size_t need, size_t min, size_t max)
{
    size_t ncap = *cap ? *cap : min;
    uint8_t *n;

    if (need <= *cap)
        return true;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (ncap > max)
        ncap = max;
    n = realloc(*buf, ncap);
    if (n == NULL)
        return false;
    *buf = n;
    *cap = ncap;
    return true;
}

static bool is_tchar(uint8_t c)
{
    return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_ows(uint8_t c)
{
    return c == ' ' || c == '\t';
}

/* ---- Host ---------------------------------------------------------------- */

/* Sets the request's host from an authority "host[:port]" or "[v6]:port". */
static void host_set(avtb_http_session *s, const uint8_t *v, size_t n)
{
    size_t o = 0;
    const uint8_t *at = n > 0 ? memchr(v, '@', n) : NULL;

    if (at != NULL) { /* userinfo@host */
        n -= (size_t)(at + 1 - v);
        v = at + 1;
    }
    if (n > 0 && v[0] == '[') {
        const uint8_t *close = memchr(v, ']', n);

        v++;
        n = close != NULL ? (size_t)(close - v) : n - 1;
    } else {
        for (size_t i = n; i > 0; i--) {
            if (v[i - 1] == ':') {
                n = i - 1;
                break;
            }
            if (!isdigit(v[i - 1]))
                break;
        }
    }
    /* Findings carry it into JSON and HTML: printable ASCII only. */
    for (size_t i = 0; i < n && o < MAX_HOST; i++)
        s->host[o++] = v[i] > 0x20 && v[i] < 0x7f ? (char)v[i] : '?';
    s->host[o] = '\0';
    s->has_host = o > 0;
}

/* No Host header: the authority of an absolute-form or authority-form target. */
static void host_from_target(avtb_http_session *s)
{
    const char *t = s->target, *p = strstr(t, "://");
    size_t n;

    if (p != NULL && p > t && strchr(t, '/') > p) {
        p += 3;
        n = strcspn(p, "/?#");
        host_set(s, (const uint8_t *)p, n);
    } else if (strcmp(s->method, "CONNECT") == 0) {
        host_set(s, (const uint8_t *)t, strlen(t));
    }
}

/* ---- Header block ---------------------------------------------------------- */

static bool name_is(const avtb_http_session *s, const header *h, const char *name)
{
    return h->name_len == strlen(name) && strcasecmp((const char *)s->hb + h->name, name) == 0;
}

/* Content-Length: digits, or a list of equal digit strings ("5, 5"). */
static bool parse_cl(const uint8_t *v, size_t n, uint64_t *out)
{
    bool have = false;
    size_t i = 0;

    while (i < n) {
        uint64_t x = 0;
        size_t digits = 0;

        while (i < n && is_ows(v[i]))
            i++;
        for (; i < n && isdigit(v[i]); i++, digits++) {
            if (x > (UINT64_MAX - 9) / 10)
                return false;
            x = x * 10 + (uint64_t)(v[i] - '0');
        }
        while (i < n && is_ows(v[i]))
            i++;
        if (digits == 0 || (i < n && v[i] != ','))
            return false;
        if (have && x != *out)
            return false;
        *out = x;
        have = true;
        i++; /* the ',' */
    }
    return have;
}

/* Appends the codings of one Transfer- or Content-Encoding value, in the order sent. */
static void coding_list(avtb_http_session *s, const uint8_t *v, size_t n, bool te, coding *out,
                        size_t *nout, size_t *nchunked, bool *chunked_last, bool report)
{
    static const char *const known[] = {"gzip", "x-gzip", "deflate", "br", "zstd", NULL};
    size_t i = 0;

    while (i < n) {
        size_t start, end, len;
        char tok[32];

        while (i < n && (is_ows(v[i]) || v[i] == ','))
            i++;
        start = i;
        while (i < n && v[i] != ',' && v[i] != ';' && !is_ows(v[i]))
            i++;
        end = i;
        while (i < n && v[i] != ',') /* parameters are ignored */
            i++;
        len = end - start;
        if (len == 0)
            continue;
        if (len >= sizeof(tok))
            len = sizeof(tok) - 1;
        for (size_t k = 0; k < len; k++)
            tok[k] = (char)tolower(v[start + k] > 0x20 && v[start + k] < 0x7f ? v[start + k] : '?');
        tok[len] = '\0';
        if (te)
            *chunked_last = false;
        if (strcmp(tok, "identity") == 0)
            continue;
        if (te && strcmp(tok, "chunked") == 0) {
            (*nchunked)++;
            *chunked_last = true;
            continue;
        }
        if (*nout == MAX_CODINGS) {
            if (report)
                anomaly(s, "http: more than %d %s codings, the rest is not decoded", MAX_CODINGS,
                        te ? "transfer" : "content");
            return;
        }
        out[*nout].name = NULL;
        out[*nout].te = te;
        memcpy(out[*nout].raw, tok, len + 1);
        for (size_t k = 0; known[k] != NULL; k++)
            if (strcmp(tok, known[k]) == 0)
                out[*nout].name = known[k];
        (*nout)++;
    }
}

static void content_type(avtb_http_session *s, const uint8_t *v, size_t n, bool report)
{
    static const char mp[] = "multipart/", form[] = "application/x-www-form-urlencoded";
    const char *cv = (const char *)v;
    size_t i = 0, tlen;

    while (i < n && is_ows(v[i]))
        i++;
    tlen = i;
    while (tlen < n && v[tlen] != ';' && !is_ows(v[tlen]))
        tlen++;
    tlen -= i;
    if (tlen > sizeof(mp) - 1 && strncasecmp(cv + i, mp, sizeof(mp) - 1) == 0) {
        if (avtb_multipart_param(cv, n, "boundary", s->boundary, sizeof(s->boundary)) &&
            s->boundary[0] != '\0' && strlen(s->boundary) < AVTB_MULTIPART_MAX_BOUNDARY)
            s->form = FORM_MULTIPART;
        else if (report)
            anomaly(s, "http: multipart Content-Type without a usable boundary");
    } else if (tlen == sizeof(form) - 1 && strncasecmp(cv + i, form, tlen) == 0) {
        s->form = FORM_URLENCODED;
    }
}

/*
 * Reads the header block: host, framing, codings, form kind. report is false
 * when the block is cut short and only its messages still matter.
 */
static void head_scan(avtb_http_session *s, framing *fr, bool report)
{
    coding te[MAX_CODINGS], ce[MAX_CODINGS];
    size_t nte = 0, nce = 0, nchunked = 0;
    bool seen_ct = false, hosts = false;

    memset(fr, 0, sizeof(*fr));
    s->ndec = 0;
    s->form = FORM_NONE;
    for (size_t i = 0; i < s->nh; i++) {
        const header *h = &s->h[i];
        const uint8_t *v = s->hb + h->value;

        if (h->name_len == 0)
            continue;
        if (name_is(s, h, "Host")) {
            if (!hosts)
                host_set(s, v, h->value_len);
            else if (report)
                anomaly(s, "http: more than one Host header, the first is used");
            hosts = true;
        } else if (name_is(s, h, "Content-Length")) {
            uint64_t cl = 0;

            if (!parse_cl(v, h->value_len, &cl) || (fr->has_cl && cl != fr->cl))
                fr->cl_bad = true;
            fr->has_cl = true;
            fr->cl = cl;
        } else if (name_is(s, h, "Transfer-Encoding")) {
            fr->has_te = true;
            coding_list(s, v, h->value_len, true, te, &nte, &nchunked, &fr->te_chunked_last,
                        report);
        } else if (name_is(s, h, "Content-Encoding")) {
            bool unused = false;

            coding_list(s, v, h->value_len, false, ce, &nce, &nchunked, &unused, report);
        } else if (name_is(s, h, "Content-Type") && !seen_ct) {
            seen_ct = true;
            content_type(s, v, h->value_len, report);
        } else if (name_is(s, h, "Upgrade")) {
            fr->upgrade = true;
        }
    }
    if (!hosts)
        host_from_target(s);
    if (fr->has_te) {
        /* RFC 9112 6.1: chunked once, and last. */
        fr->te_chunked_last = fr->te_chunked_last && nchunked == 1;
        if (report && fr->has_cl)
            anomaly(s, "http: both Transfer-Encoding and Content-Length, Content-Length ignored");
    }
    /* The sender applied the content codings, then the transfer codings: undo in reverse. */
    for (size_t i = nte; i > 0; i--)
        s->dec[s->ndec++] = te[i - 1];
    for (size_t i = nce; i > 0; i--)
        s->dec[s->ndec++] = ce[i - 1];
}

/* The request line's and the headers' messages. */
static void deliver_head(avtb_http_session *s)
{
    const uint8_t *t = (const uint8_t *)s->target;
    size_t tlen = strlen(s->target), plen;
    const uint8_t *q = memchr(t, '?', tlen);
    bool known = false;
    uint8_t *dec;

    s->head_done = true;
    for (size_t i = 0; known_methods[i] != NULL; i++)
        known = known || strcmp(s->method, known_methods[i]) == 0;
    if (!known)
        emit1(s, "http-method", (const uint8_t *)s->method, strlen(s->method), s->rl_off, NULL);
    plen = q != NULL ? (size_t)(q - t) : tlen;
    dec = malloc(tlen + 1);
    emit1(s, "http-uri", t, plen, s->target_off, NULL);
    if (dec != NULL && avtb_form_is_encoded(t, plen, false)) {
        encpath e = {{"http-uri", "percent"}, 2};

        emit(s, &e, dec, avtb_form_percent_decode(t, plen, false, dec), s->target_off, NULL, NULL);
    }
    if (q != NULL) {
        size_t qlen = tlen - plen - 1;
        uint64_t qoff = s->target_off + plen + 1;

        emit1(s, "http-query", q + 1, qlen, qoff, NULL);
        if (dec != NULL && avtb_form_is_encoded(q + 1, qlen, true)) {
            encpath e = {{"http-query", "percent"}, 2};

            emit(s, &e, dec, avtb_form_percent_decode(q + 1, qlen, true, dec), qoff, NULL, NULL);
        }
    }
    free(dec);
    for (size_t i = 0; i < s->nh; i++) {
        const header *h = &s->h[i];

        emit1(s, "http-header", s->hb + h->value, h->value_len, h->off,
              h->name_len ? (const char *)s->hb + h->name : NULL);
    }
}

/* ---- Bodies ---------------------------------------------------------------- */

static void deliver_form_fields(avtb_http_session *s, const encpath *base, const uint8_t *data,
                                size_t len, uint64_t off, bool exact)
{
    size_t at = 0, used, nfields = 0;
    avtb_form_field f;
    uint8_t *dec = malloc(len + 1);
    char name[MAX_FIELD_NAME + 1];

    if (dec == NULL) {
        anomaly(s, "http: out of memory splitting a form");
        return;
    }
    while (at < len && avtb_form_next(data + at, len - at, &used, &f) == AVTB_PARSE_OK) {
        encpath e = *base;
        size_t nlen, vlen;
        const uint8_t *v;

        at += used;
        if (++nfields > s->c.max_fields) {
            anomaly(s, "http: more than %zu form fields, the rest is not split", s->c.max_fields);
            break;
        }
        if (f.value_len == 0)
            continue;
        nlen = avtb_form_percent_decode(f.name, f.name_len, true, dec);
        if (nlen > MAX_FIELD_NAME)
            nlen = MAX_FIELD_NAME;
        memcpy(name, dec, nlen);
        name[nlen] = '\0';
        path_push(&e, "http-form");
        v = f.value;
        vlen = f.value_len;
        if (avtb_form_is_encoded(f.value, f.value_len, true)) {
            vlen = avtb_form_percent_decode(f.value, f.value_len, true, dec);
            v = dec;
            path_push(&e, "percent");
        }
        emit(s, &e, v, vlen, exact ? off + (uint64_t)(f.value - data) : off, NULL, name);
    }
    free(dec);
}

static void deliver_parts(avtb_http_session *s, const encpath *base, const uint8_t *data,
                          size_t len, uint64_t off, bool exact, bool piece)
{
    avtb_multipart_limits lim;
    avtb_multipart *mp;
    avtb_multipart_part p;
    size_t at = 0, used;

    avtb_multipart_limits_default(&lim);
    lim.max_parts = s->c.max_parts;
    lim.max_line = s->c.max_line;
    lim.max_headers = s->c.max_headers;
    mp = avtb_multipart_new(s->boundary, &lim, piece ? AVTB_MULTIPART_PIECE : 0, part_anomaly, s);
    if (mp == NULL) {
        anomaly(s, "http: out of memory splitting a multipart body");
        return;
    }
    while (avtb_multipart_next(mp, data + at, len - at, &used, &p) == AVTB_PARSE_OK) {
        encpath e = *base;
        const char *cte = p.transfer_encoding;
        uint64_t poff = exact ? off + (uint64_t)(p.data - data) : off;
        const char *name = p.filename != NULL ? p.filename : p.name;
        bool b64, qp;

        at += used;
        if (p.len == 0)
            continue;
        path_push(&e, "http-multipart");
        b64 = cte != NULL && strcmp(cte, "base64") == 0;
        qp = cte != NULL && strcmp(cte, "quoted-printable") == 0;
        if (b64 || qp) {
            uint8_t *dec = malloc(p.len);
            bool bad = false;
            size_t n;

            if (dec == NULL) {
                anomaly(s, "http: out of memory decoding a multipart part");
                continue;
            }
            n = b64 ? avtb_multipart_base64_decode(p.data, p.len, dec, &bad)
                    : avtb_multipart_qp_decode(p.data, p.len, dec, &bad);
            if (bad)
                anomaly(s, "multipart: part is not valid %s", cte);
            path_push(&e, b64 ? "base64" : "quoted-printable");
            emit(s, &e, dec, n, poff, name, p.name);
            free(dec);
            continue;
        }
        if (cte != NULL && strcmp(cte, "7bit") != 0 && strcmp(cte, "8bit") != 0 &&
            strcmp(cte, "binary") != 0)
            anomaly(s, "multipart: content-transfer-encoding %.32s not decoded", cte);
        emit(s, &e, p.data, p.len, poff, name, p.name);
    }
    avtb_multipart_free(mp);
}

static void deliver_forms(avtb_http_session *s, const encpath *e, const uint8_t *data, size_t len,
                          uint64_t off, bool exact, bool piece)
{
    if (s->form == FORM_MULTIPART)
        deliver_parts(s, e, data, len, off, exact, piece);
    else if (s->form == FORM_URLENCODED)
        deliver_form_fields(s, e, data, len, off, exact);
}

/* Undoes the codings of a body (or its first piece) and delivers the result. */
static void deliver_decoded(avtb_http_session *s, encpath *e, const uint8_t *data, size_t len,
                            uint64_t off, bool piece)
{
    const uint8_t *cur = data;
    size_t curlen = len;
    uint8_t *owned = NULL;
    bool whole = true;

    for (size_t k = 0; k < s->ndec; k++) {
        const coding *cd = &s->dec[k];
        const char *kind = cd->te ? "transfer-encoding" : "content-encoding";
        uint8_t *out = NULL;
        size_t olen = 0;
        bool bomb = false;
        avtb_err r;

        if (cd->name == NULL || s->c.decompress == NULL) {
            anomaly(s, "http: %s %s not decoded", kind, cd->raw);
            whole = false;
            break;
        }
        r = s->c.decompress(cd->name, cur, curlen, s->c.max_decoded, &out, &olen, &bomb);
        if (bomb)
            anomaly(s, "http: %s %s decodes to more than %zu bytes, cut", kind, cd->raw,
                    s->c.max_decoded);
        if (r != AVTB_OK)
            anomaly(s, "http: %s %s does not decode%s", kind, cd->raw,
                    out != NULL && olen > 0 ? ", delivered in part" : "");
        if (out == NULL || olen == 0) {
            free(out);
            whole = false;
            if (r == AVTB_OK && !bomb && owned == NULL)
                return; /* decodes to nothing: nothing to deliver */
            break;
        }
        free(owned);
        owned = out;
        cur = out;
        curlen = olen;
        path_push(e, cd->name);
        if (r != AVTB_OK || bomb) {
            whole = false;
            piece = true;
            break;
        }
    }
    if (owned == NULL)
        return;
    emit(s, e, cur, curlen, off, NULL, NULL);
    /* Partly decoded data is more likely garbage than a form: only split a prefix cut by a bomb. */
    if (whole || piece)
        deliver_forms(s, e, cur, curlen, off, false, piece);
    free(owned);
}

/* Delivers the accumulated body as one message (a piece, or the whole body) and its views. */
static void deliver_piece(avtb_http_session *s, bool last)
{
    encpath e = {{s->chunked ? "http-chunked" : "http-body"}, 1};
    bool first = s->pieces == 0;

    if (first && !last)
        anomaly(s, "http: body truncated at %zu bytes, the rest follows in overlapping pieces",
                s->c.body_cap);
    if (s->body_len == 0)
        return;
    s->pieces++;
    emit(s, &e, s->body, s->body_len, s->piece_off, NULL, NULL);
    if (s->ndec > 0) {
        if (first)
            deliver_decoded(s, &e, s->body, s->body_len, s->piece_off, !last);
        return;
    }
    deliver_forms(s, &e, s->body, s->body_len, s->piece_off, !s->chunked, !(first && last));
}

static bool body_append(avtb_http_session *s, const uint8_t *p, size_t n)
{
    uint64_t so = s->off; /* stream offset of p[0] */

    while (n > 0) {
        size_t take;

        if (s->body_len == s->c.body_cap) {
            size_t ov = s->c.body_overlap;

            deliver_piece(s, false);
            memmove(s->body, s->body + s->body_len - ov, ov);
            s->body_len = ov;
            s->piece_off_set = false;
        }
        if (!s->piece_off_set) {
            s->piece_off = s->pieces == 0 ? s->body_off : so - s->body_len;
            s->piece_off_set = true;
        }
        take = s->c.body_cap - s->body_len;
        if (take > n)
            take = n;
        if (!grow(&s->body, &s->body_alloc, s->body_len + take, 4096, s->c.body_cap))
            return false;
        memcpy(s->body + s->body_len, p, take);
        s->body_len += take;
        p += take;
        n -= take;
        so += take;
    }
    return true;
}

static void body_finish(avtb_http_session *s)
{
    if (s->body_done)
        return;
    s->body_done = true;
    deliver_piece(s, true);
}

/* ---- Request life ---------------------------------------------------------- */

static void request_done(avtb_http_session *s)
{
    request_clear(s);
    if (s->body_alloc > SHRINK_BODY) {
        free(s->body);
        s->body = NULL;
        s->body_alloc = 0;
    }
    if (s->hb_cap > SHRINK_HEADERS) {
        free(s->hb);
        s->hb = NULL;
        s->hb_cap = 0;
    }
    s->st = ST_REQ_LINE;
}

/* Delivers what a request cut short got to. */
static void cut_short(avtb_http_session *s)
{
    framing fr;

    switch (s->st) {
    case ST_HEADERS:
        if (s->in_request && !s->head_done) {
            head_scan(s, &fr, false);
            deliver_head(s);
        }
        break;
    case ST_BODY:
    case ST_CHUNK_SIZE:
    case ST_CHUNK_DATA:
    case ST_CHUNK_END:
        body_finish(s);
        break;
    case ST_TRAILERS:
        for (size_t i = 0; i < s->nh; i++)
            emit1(s, "http-header", s->hb + s->h[i].value, s->h[i].value_len, s->h[i].off,
                  s->h[i].name_len ? (const char *)s->hb + s->h[i].name : NULL);
        break;
    default:
        break;
    }
}

/* Gives up on the stream; why (NULL: no anomaly) is reported first. */
static void stop(avtb_http_session *s, const char *why)
{
    if (why != NULL)
        anomaly(s, "%s", why);
    cut_short(s);
    s->st = ST_STOPPED;
    s->held = true;
}

static void line_clear(avtb_http_session *s)
{
    s->line_len = 0;
    s->method_len = 0;
    s->sp_seen = false;
}

/* A request line that is not one: the end of HTTP on this stream. */
static void request_line_refused(avtb_http_session *s)
{
    if (s->switch_pending) {
        s->tunnel = true;
        stop(s, NULL);
    } else {
        stop(s, s->is_http ? "http: malformed request line, the rest of the stream is not parsed"
                           : NULL);
    }
}

typedef enum { RL_OK, RL_BAD, RL_TUNNEL } rl_result;

static rl_result request_line(avtb_http_session *s)
{
    const char *l = (const char *)s->line;
    size_t n = s->line_len, sp1, sp2, ts, te;
    const char *v;
    char *rl;

    if (memchr(l, '\r', n) != NULL || memchr(l, ' ', n) == NULL)
        return RL_BAD;
    sp1 = (size_t)((const char *)memchr(l, ' ', n) - l);
    sp2 = (size_t)((const char *)memrchr(l, ' ', n) - l);
    if (sp1 == 0 || sp2 == sp1)
        return RL_BAD; /* HTTP/0.9 requests have no version: not supported */
    v = l + sp2 + 1;
    if (n - sp2 - 1 != 8 || strncasecmp(v, "HTTP/", 5) != 0 || !isdigit((uint8_t)v[5]) ||
        v[6] != '.' || !isdigit((uint8_t)v[7]))
        return RL_BAD;
    if (v[5] == '2' && sp1 == 3 && memcmp(l, "PRI", 3) == 0) {
        s->is_http = true; /* the HTTP/2 connection preface: h2 frames follow */
        return RL_TUNNEL;
    }
    if (v[5] != '1')
        return RL_BAD;
    for (ts = sp1; ts < sp2 && l[ts] == ' '; ts++)
        ;
    for (te = sp2; te > ts && l[te - 1] == ' '; te--)
        ;
    if (ts == te)
        return RL_BAD;
    rl = malloc(n + 3);
    if (rl == NULL)
        return RL_BAD;
    request_clear(s);
    memcpy(rl, l, sp1);
    rl[sp1] = '\0';
    memcpy(rl + sp1 + 1, l + ts, te - ts);
    rl[sp1 + 1 + (te - ts)] = '\0';
    memcpy(rl + sp1 + 2 + (te - ts), v, 8);
    rl[sp1 + 2 + (te - ts) + 8] = '\0';
    s->rl = rl;
    s->method = rl;
    s->target = rl + sp1 + 1;
    s->version = rl + sp1 + 2 + (te - ts);
    s->rl_off = s->line_off;
    s->target_off = s->line_off + ts;
    s->is_http = true;
    s->switch_pending = false;
    s->in_request = true;
    s->index = s->requests++;
    s->has_host = false;
    s->host[0] = '\0';
    if (memchr(l + ts, ' ', te - ts) != NULL)
        anomaly(s, "http: space in request target");
    return RL_OK;
}

/* One header or trailer line (line end stripped, not empty). */
static bool header_line(avtb_http_session *s)
{
    const uint8_t *l = s->line;
    size_t n = s->line_len, name_len = 0, vs, ve;
    const uint8_t *colon = memchr(l, ':', n);
    header *h;

    if (is_ows(l[0]) && s->nh > 0) {
        /* obs-fold: the continuation joins the last value, whose bytes end hb. */
        h = &s->h[s->nh - 1];
        for (vs = 0; vs < n && is_ows(l[vs]); vs++)
            ;
        for (ve = n; ve > vs && is_ows(l[ve - 1]); ve--)
            ;
        if (ve == vs)
            return true;
        if (!grow(&s->hb, &s->hb_cap, s->hb_len + 1 + (ve - vs), 1024, SIZE_MAX))
            return false;
        if (h->value_len > 0)
            s->hb[s->hb_len++] = ' ';
        memcpy(s->hb + s->hb_len, l + vs, ve - vs);
        s->hb_len += ve - vs;
        h->value_len = s->hb_len - h->value;
        return true;
    }
    if (colon != NULL) {
        name_len = (size_t)(colon - l);
        for (size_t i = 0; i < name_len; i++)
            if (!is_tchar(l[i]))
                name_len = 0;
    }
    if (name_len == 0) {
        anomaly(s, "http: malformed header line");
        vs = 0;
        ve = n;
    } else {
        for (vs = name_len + 1; vs < n && is_ows(l[vs]); vs++)
            ;
        for (ve = n; ve > vs && is_ows(l[ve - 1]); ve--)
            ;
    }
    if (s->nh == s->h_cap) {
        size_t ncap = s->h_cap ? s->h_cap * 2 : 16;
        header *nh = realloc(s->h, ncap * sizeof(*nh));

        if (nh == NULL)
            return false;
        s->h = nh;
        s->h_cap = ncap;
    }
    if (!grow(&s->hb, &s->hb_cap, s->hb_len + name_len + 1 + (ve - vs), 1024, SIZE_MAX))
        return false;
    h = &s->h[s->nh++];
    h->name = s->hb_len;
    h->name_len = name_len;
    memcpy(s->hb + s->hb_len, l, name_len);
    s->hb_len += name_len;
    s->hb[s->hb_len++] = '\0';
    h->value = s->hb_len;
    h->value_len = ve - vs;
    h->off = s->line_off + vs;
    memcpy(s->hb + s->hb_len, l + vs, ve - vs);
    s->hb_len += ve - vs;
    return true;
}

static void headers_end(avtb_http_session *s)
{
    framing fr;

    head_scan(s, &fr, true);
    deliver_head(s);
    s->body_off = s->off;
    if (fr.upgrade || strcmp(s->method, "CONNECT") == 0)
        s->switch_pending = true;
    if (fr.has_te) {
        if (!fr.te_chunked_last) {
            stop(s, "http: Transfer-Encoding does not end in chunked: the body cannot be framed");
            return;
        }
        s->chunked = true;
        s->nlines = 0;
        s->st = ST_CHUNK_SIZE;
        return;
    }
    if (fr.cl_bad) {
        stop(s, "http: invalid Content-Length: the body cannot be framed");
        return;
    }
    if (fr.has_cl && fr.cl > 0) {
        s->remaining = fr.cl;
        s->st = ST_BODY;
        return;
    }
    request_done(s); /* a request without a length has no body */
}

static void chunk_size_line(avtb_http_session *s)
{
    const uint8_t *l = s->line;
    size_t n = s->line_len, k = 0, digits = 0;
    uint64_t v = 0;

    for (; k < n && isxdigit(l[k]); k++, digits++) {
        if (v > (UINT64_MAX >> 4)) {
            stop(s, "http: chunk size overflows");
            return;
        }
        v = v << 4 | (uint64_t)(isdigit(l[k]) ? l[k] - '0' : tolower(l[k]) - 'a' + 10);
    }
    while (k < n && is_ows(l[k]))
        k++;
    if (digits == 0 || (k < n && l[k] != ';')) {
        stop(s, "http: malformed chunk size line");
        return;
    }
    if (k < n) {
        size_t es = k + 1, ee = n;

        while (es < ee && is_ows(l[es]))
            es++;
        emit1(s, "http-chunk-ext", l + es, ee - es, s->line_off + es, NULL);
    }
    line_clear(s);
    if (v == 0) {
        body_finish(s);
        s->hb_len = 0;
        s->nh = 0; /* trailers reuse the header list */
        s->nlines = 0;
        s->st = ST_TRAILERS;
    } else {
        s->remaining = v;
        s->st = ST_CHUNK_DATA;
    }
}

static const char *line_kind(http_state st)
{
    switch (st) {
    case ST_REQ_LINE:
        return "request line";
    case ST_CHUNK_SIZE:
        return "chunk size line";
    case ST_CHUNK_END:
        return "chunk data end";
    case ST_TRAILERS:
        return "trailer line";
    default:
        return "header line";
    }
}

static void line_too_long(avtb_http_session *s)
{
    char why[128];

    if (s->st == ST_REQ_LINE && !s->is_http) {
        stop(s, NULL); /* never was HTTP: no HTTP anomaly */
        return;
    }
    if (s->st == ST_CHUNK_END)
        snprintf(why, sizeof(why), "http: chunk data longer than its chunk size");
    else
        snprintf(why, sizeof(why), "http: %s longer than %zu bytes", line_kind(s->st),
                 s->c.max_line);
    if (s->st == ST_REQ_LINE && s->switch_pending) {
        s->tunnel = true;
        stop(s, NULL);
        return;
    }
    stop(s, why);
}

/* A line got its LF (not in s->line). */
static void line_done(avtb_http_session *s)
{
    if (s->line_len > 0 && s->line[s->line_len - 1] == '\r')
        s->line_len--;
    if (s->line_len > s->c.max_line) {
        line_too_long(s);
        return;
    }
    switch (s->st) {
    case ST_REQ_LINE:
        if (s->line_len == 0) { /* empty lines between requests are allowed */
            line_clear(s);
            return;
        }
        switch (request_line(s)) {
        case RL_OK:
            line_clear(s);
            s->st = ST_HEADERS;
            return;
        case RL_TUNNEL:
            s->tunnel = true;
            stop(s, NULL);
            return;
        case RL_BAD:
            request_line_refused(s);
            return;
        }
        return;
    case ST_HEADERS:
    case ST_TRAILERS:
        if (s->line_len == 0) {
            line_clear(s);
            if (s->st == ST_HEADERS) {
                headers_end(s);
            } else {
                cut_short(s); /* delivers the trailers */
                request_done(s);
            }
            return;
        }
        if (++s->nlines > s->c.max_headers) {
            char why[96];

            snprintf(why, sizeof(why), "http: more than %zu %s lines", s->c.max_headers,
                     s->st == ST_HEADERS ? "header" : "trailer");
            stop(s, why);
            return;
        }
        if (!header_line(s)) {
            stop(s, "http: out of memory");
            return;
        }
        line_clear(s);
        return;
    case ST_CHUNK_SIZE:
        chunk_size_line(s);
        return;
    case ST_CHUNK_END:
        if (s->line_len != 0) {
            stop(s, "http: chunk data longer than its chunk size");
            return;
        }
        line_clear(s);
        s->st = ST_CHUNK_SIZE;
        return;
    default:
        return;
    }
}

/*
 * Request line bytes before the LF: the method must be a token, the rest free
 * of control bytes (CR aside, checked at the LF). Returns how many of the n
 * bytes are acceptable, so that TLS or SSH is refused at its first byte.
 */
static size_t request_line_scan(avtb_http_session *s, const uint8_t *p, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        uint8_t c = p[k];

        if (!s->sp_seen) {
            if (c == ' ' && s->method_len > 0) {
                s->sp_seen = true;
            } else if (c == '\r' && s->line_len + k == 0) {
                continue; /* an empty line's CR */
            } else if (!is_tchar(c) || ++s->method_len > s->c.max_method) {
                return k;
            }
        } else if ((c < 0x20 && c != '\r') || c == 0x7f) {
            return k;
        }
    }
    return n;
}

/* Line states: gathers bytes up to the LF. Returns how many of buf[0..n) were taken. */
static size_t line_bytes(avtb_http_session *s, const uint8_t *buf, size_t n)
{
    const uint8_t *lf = memchr(buf, '\n', n);
    size_t take = lf != NULL ? (size_t)(lf - buf) : n, ok = take;
    /* One byte more than max_line for the CR. */
    size_t room = s->c.max_line + 1 - s->line_len;

    if (s->line_len == 0)
        s->line_off = s->off;
    if (s->st == ST_REQ_LINE)
        ok = request_line_scan(s, buf, take);
    /* + 1: never NULL, even for an empty line */
    if (!grow(&s->line, &s->line_cap, s->line_len + (ok < room ? ok : room) + 1, 256,
              s->c.max_line + 2)) {
        stop(s, "http: out of memory");
        return 0;
    }
    if (ok > room) {
        memcpy(s->line + s->line_len, buf, room);
        s->line_len += room;
        s->off += room;
        line_too_long(s);
        return room;
    }
    memcpy(s->line + s->line_len, buf, ok);
    s->line_len += ok;
    s->off += ok;
    if (ok < take) {
        request_line_refused(s);
        return ok;
    }
    if (lf == NULL)
        return take;
    s->off++;
    line_done(s);
    return take + 1;
}

avtb_parse_result avtb_http_session_parse(avtb_http_session *s, const uint8_t *buf, size_t len,
                                          double ts, size_t *consumed)
{
    size_t i = 0;

    *consumed = 0;
    if (s == NULL)
        return AVTB_PARSE_ERROR;
    if (s->st == ST_STOPPED) {
        s->held = false;
        s->line_len = 0;
        return AVTB_PARSE_ERROR;
    }
    if (buf == NULL && len > 0)
        return AVTB_PARSE_ERROR;
    s->ts = ts;
    while (i < len && s->st != ST_STOPPED) {
        if (s->st == ST_BODY || s->st == ST_CHUNK_DATA) {
            size_t n = len - i;

            if (n > s->remaining)
                n = (size_t)s->remaining;
            if (!body_append(s, buf + i, n)) {
                stop(s, "http: out of memory");
                break;
            }
            i += n;
            s->off += n;
            s->remaining -= n;
            if (s->remaining > 0)
                continue;
            if (s->st == ST_CHUNK_DATA) {
                s->st = ST_CHUNK_END;
            } else {
                body_finish(s);
                request_done(s);
            }
        } else {
            i += line_bytes(s, buf + i, len - i);
        }
    }
    *consumed = i;
    if (s->st == ST_STOPPED)
        return AVTB_PARSE_ERROR;
    return s->st == ST_REQ_LINE && s->line_len == 0 ? AVTB_PARSE_OK : AVTB_PARSE_NEED_MORE;
}

void avtb_http_session_end(avtb_http_session *s, double ts)
{
    if (s == NULL || s->st == ST_STOPPED)
        return;
    s->ts = ts;
    switch (s->st) {
    case ST_REQ_LINE:
        if (s->line_len > 0 && s->is_http)
            anomaly(s, "http: stream ended inside a request line");
        break;
    case ST_HEADERS:
        anomaly(s, "http: stream ended inside the request headers");
        break;
    case ST_TRAILERS:
        anomaly(s, "http: stream ended inside the trailers");
        break;
    default:
        anomaly(s, "http: stream ended inside a request body");
        break;
    }
    stop(s, NULL);
}

void avtb_http_session_held(const avtb_http_session *s, const uint8_t **data, size_t *len,
                            uint64_t *offset)
{
    *data = NULL;
    *len = 0;
    *offset = 0;
    if (s == NULL || !s->held || s->line_len == 0)
        return;
    *data = s->line;
    *len = s->line_len;
    *offset = s->line_off;
}

bool avtb_http_session_is_http(const avtb_http_session *s)
{
    return s != NULL && s->is_http;
}

bool avtb_http_session_tunnel(const avtb_http_session *s)
{
    return s != NULL && s->tunnel;
}

uint64_t avtb_http_session_requests(const avtb_http_session *s)
{
    return s != NULL ? s->requests : 0;
}

uint64_t avtb_http_session_offset(const avtb_http_session *s)
{
    return s != NULL ? s->off : 0;
}

const char *avtb_http_session_host(const avtb_http_session *s)
{
    return s != NULL && s->has_host ? s->host : NULL;
}
