/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP client-stream parser (collectors/app-http.h): the exact messages
 * each kind of request yields (encoding path, host, name, bytes, offset,
 * time), that any split of the stream yields the same ones, and that hostile
 * or broken input becomes an anomaly or ERROR, not a crash.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "collectors/app-http.h"

#define TOK0 "AVTBQ3F7K2M9XWZP4R8TAB"
#define TOK1 "AVTBM2N3B4V5C6X7Z2L3KJ"

/* ---- Recording what the session delivers ---------------------------------- */

#define MAX_REC  512
#define MAX_ANOM 64

typedef struct rec_msg {
    char enc[160];   /* encoding path joined by ',' */
    char host[64];   /* "-" when NULL */
    char name[64];   /* "-" when NULL */
    char field[64];  /* "-" when NULL */
    char method[16]; /* of the request */
    uint8_t *data;
    size_t len;
    uint64_t offset, index;
    double time;
} rec_msg;

typedef struct recorder {
    rec_msg m[MAX_REC];
    size_t n;
    char anom[MAX_ANOM][256];
    size_t nanom;
} recorder;

static void on_message(void *ctx, const avtb_message *m, const avtb_http_req_info *req)
{
    recorder *r = ctx;
    rec_msg *x;

    ck_assert_uint_lt(r->n, MAX_REC);
    ck_assert_str_eq(m->protocol, "http");
    ck_assert_uint_gt(m->len, 0);
    x = &r->m[r->n++];
    x->enc[0] = '\0';
    for (size_t i = 0; i < m->nencoding; i++) {
        if (i > 0)
            strcat(x->enc, ",");
        strcat(x->enc, m->encoding[i]);
    }
    snprintf(x->host, sizeof(x->host), "%s", m->host ? m->host : "-");
    snprintf(x->name, sizeof(x->name), "%s", m->name ? m->name : "-");
    snprintf(x->field, sizeof(x->field), "%s", req->field ? req->field : "-");
    snprintf(x->method, sizeof(x->method), "%s", req->method);
    x->data = malloc(m->len);
    ck_assert_ptr_nonnull(x->data);
    memcpy(x->data, m->data, m->len);
    x->len = m->len;
    x->offset = m->offset;
    x->index = req->index;
    x->time = m->time;
}

static void on_anomaly(void *ctx, const char *what)
{
    recorder *r = ctx;

    ck_assert_uint_lt(r->nanom, MAX_ANOM);
    snprintf(r->anom[r->nanom++], sizeof(r->anom[0]), "%s", what);
}

static recorder *recorder_new(void)
{
    recorder *r = calloc(1, sizeof(*r));

    ck_assert_ptr_nonnull(r);
    return r;
}

static void recorder_free(recorder *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->m[i].data);
    free(r);
}

/* Every recorded message as text, to compare two runs. */
static char *recorder_dump(const recorder *r)
{
    size_t cap = 1 << 20, at = 0;
    char *out = malloc(cap);

    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        const rec_msg *x = &r->m[i];

        at += (size_t)snprintf(out + at, cap - at, "%s|%s|%s|%s|%llu|%llu|%g|%zu:", x->enc, x->host,
                               x->name, x->field, (unsigned long long)x->offset,
                               (unsigned long long)x->index, x->time, x->len);
        ck_assert_uint_lt(at + 4 * x->len + 2, cap);
        for (size_t k = 0; k < x->len; k++) {
            uint8_t c = x->data[k];

            if (c >= 0x20 && c < 0x7f && c != '\\')
                out[at++] = (char)c;
            else
                at += (size_t)sprintf(out + at, "\\x%02x", c);
        }
        out[at++] = '\n';
        out[at] = '\0';
    }
    for (size_t i = 0; i < r->nanom; i++)
        at += (size_t)snprintf(out + at, cap - at, "anomaly: %s\n", r->anom[i]);
    return out;
}

static bool has_anomaly(const recorder *r, const char *text)
{
    for (size_t i = 0; i < r->nanom; i++)
        if (strstr(r->anom[i], text) != NULL)
            return true;
    return false;
}

/* Message i is exactly this. data is a C string unless len is given (not SIZE_MAX). */
static void expect_n(const recorder *r, size_t i, const char *enc, const char *host,
                     const char *name, const char *field, const void *data, size_t len,
                     uint64_t offset)
{
    const rec_msg *x;

    ck_assert_msg(i < r->n, "message %zu expected (%s), only %zu delivered", i, enc, r->n);
    x = &r->m[i];
    ck_assert_msg(strcmp(x->enc, enc) == 0, "message %zu: encoding %s, expected %s", i, x->enc,
                  enc);
    ck_assert_str_eq(x->host, host);
    ck_assert_str_eq(x->name, name);
    ck_assert_str_eq(x->field, field);
    ck_assert_msg(x->len == len && memcmp(x->data, data, len) == 0,
                  "message %zu (%s): %zu bytes \"%.*s\", expected %zu \"%.*s\"", i, enc, x->len,
                  (int)(x->len > 200 ? 200 : x->len), (const char *)x->data, len,
                  (int)(len > 200 ? 200 : len), (const char *)data);
    if (offset != UINT64_MAX)
        ck_assert_msg(x->offset == offset, "message %zu (%s): offset %llu, expected %llu", i, enc,
                      (unsigned long long)x->offset, (unsigned long long)offset);
}

static void expect(const recorder *r, size_t i, const char *enc, const char *host, const char *name,
                   const char *field, const char *data, uint64_t offset)
{
    expect_n(r, i, enc, host, name, field, data, strlen(data), offset);
}

/* ---- Content decoding for the tests: zlib gzip and deflate ------------------ */

static avtb_err zlib_decompress(const char *coding, const uint8_t *buf, size_t len, size_t max_out,
                                uint8_t **out, size_t *out_len, bool *bomb)
{
    z_stream z;
    size_t cap = 4096, have = 0;
    uint8_t *o = malloc(cap);
    int rc = Z_OK;

    *out = NULL;
    *out_len = 0;
    *bomb = false;
    if (o == NULL)
        return AVTB_ERR_NOMEM;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, strcmp(coding, "deflate") == 0 ? 15 : 31) != Z_OK) {
        free(o);
        return AVTB_ERR_NOMEM;
    }
    z.next_in = (Bytef *)buf;
    z.avail_in = (uInt)len;
    while (rc == Z_OK) {
        if (have == cap) {
            if (cap >= max_out) {
                *bomb = true;
                break;
            }
            cap = cap * 2 > max_out ? max_out : cap * 2;
            o = realloc(o, cap);
            ck_assert_ptr_nonnull(o);
        }
        z.next_out = o + have;
        z.avail_out = (uInt)(cap - have);
        rc = inflate(&z, Z_NO_FLUSH);
        have = cap - z.avail_out;
        if (rc == Z_BUF_ERROR && z.avail_in == 0)
            break;
    }
    inflateEnd(&z);
    *out = o;
    *out_len = have;
    return rc == Z_STREAM_END || *bomb ? AVTB_OK : AVTB_ERR_INPUT;
}

/* Compresses in; wbits 31 writes gzip, 15 zlib ("deflate" in HTTP). */
static size_t compress_to(const void *in, size_t len, uint8_t *out, size_t cap, int wbits)
{
    z_stream z;

    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    deflateEnd(&z);
    return cap - z.avail_out;
}

/* ---- Driving a session -------------------------------------------------------- */

static avtb_http_session *session_with(recorder *r, avtb_http_config *c)
{
    avtb_http_config d;
    avtb_http_session *s;

    if (c == NULL) {
        avtb_http_config_default(&d);
        d.decompress = zlib_decompress;
        c = &d;
    }
    c->message = on_message;
    c->anomaly = on_anomaly;
    c->ctx = r;
    s = avtb_http_session_new(c);
    ck_assert_ptr_nonnull(s);
    return s;
}

/*
 * Feeds len bytes in chunks of chunk bytes (0: all at once), each in its own
 * allocation. Returns the last result; *taken (may be NULL) the bytes consumed.
 */
static avtb_parse_result feed_taken(avtb_http_session *s, const void *buf, size_t len, size_t chunk,
                                    double ts, size_t *taken)
{
    avtb_parse_result r = AVTB_PARSE_OK;
    size_t at = 0;

    if (chunk == 0)
        chunk = len;
    while (at < len) {
        size_t n = len - at < chunk ? len - at : chunk, used = 12345;
        uint8_t *copy = malloc(n);

        ck_assert_ptr_nonnull(copy);
        memcpy(copy, (const uint8_t *)buf + at, n);
        r = avtb_http_session_parse(s, copy, n, ts, &used);
        free(copy);
        ck_assert_uint_le(used, n);
        at += used;
        if (r == AVTB_PARSE_ERROR)
            break;
        ck_assert_uint_eq(used, n);
    }
    if (taken != NULL)
        *taken = at;
    return r;
}

static avtb_parse_result feed(avtb_http_session *s, const void *buf, size_t len, size_t chunk,
                              double ts)
{
    return feed_taken(s, buf, len, chunk, ts, NULL);
}

static size_t offset_of(const char *hay, const char *needle)
{
    const char *p = strstr(hay, needle);

    ck_assert_ptr_nonnull(p);
    return (size_t)(p - hay);
}

/* ---- Requests ------------------------------------------------------------------- */

START_TEST(simple_post)
{
    static const char req[] = "POST /upload HTTP/1.1\r\nHost: example.com:8080\r\n"
                              "Content-Type: text/plain\r\nContent-Length: 22\r\n\r\n" TOK0;
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);

    ck_assert_int_eq(feed(s, req, strlen(req), 0, 1.5), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 5);
    expect(r, 0, "http-uri", "example.com", "-", "-", "/upload", 5);
    expect(r, 1, "http-header", "example.com", "-", "Host", "example.com:8080",
           offset_of(req, "example.com:8080"));
    expect(r, 2, "http-header", "example.com", "-", "Content-Type", "text/plain",
           offset_of(req, "text/plain"));
    expect(r, 3, "http-header", "example.com", "-", "Content-Length", "22",
           offset_of(req, "22\r\n"));
    expect(r, 4, "http-body", "example.com", "-", "-", TOK0, offset_of(req, TOK0));
    ck_assert(r->m[4].time == 1.5);
    ck_assert_str_eq(r->m[4].method, "POST");
    ck_assert_uint_eq(r->nanom, 0);
    ck_assert(avtb_http_session_is_http(s));
    ck_assert(!avtb_http_session_tunnel(s));
    ck_assert_uint_eq(avtb_http_session_requests(s), 1);
    ck_assert_uint_eq(avtb_http_session_offset(s), strlen(req));
    ck_assert_str_eq(avtb_http_session_host(s), "example.com");
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(keep_alive_three_requests)
{
    static const char *const reqs[] = {
        "GET /a HTTP/1.1\r\nHost: one.example\r\n\r\n",
        "POST /b HTTP/1.1\r\nHost: two.example\r\nContent-Length: 22\r\n\r\n" TOK0,
        "PUT /c HTTP/1.1\r\nHost: three.example\r\nContent-Length: 22\r\n\r\n" TOK1,
    };
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);
    uint64_t base = 0;

    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(feed(s, reqs[i], strlen(reqs[i]), 0, 10.0 + i), AVTB_PARSE_OK);
        base += strlen(reqs[i]);
    }
    ck_assert_uint_eq(r->n, 2 + 4 + 4);
    expect(r, 0, "http-uri", "one.example", "-", "-", "/a", 4);
    expect(r, 1, "http-header", "one.example", "-", "Host", "one.example", UINT64_MAX);
    expect(r, 2, "http-uri", "two.example", "-", "-", "/b", strlen(reqs[0]) + 5);
    expect(r, 5, "http-body", "two.example", "-", "-", TOK0,
           strlen(reqs[0]) + offset_of(reqs[1], TOK0));
    expect(r, 9, "http-body", "three.example", "-", "-", TOK1, base - strlen(TOK1));
    ck_assert(r->m[5].time == 11.0 && r->m[9].time == 12.0);
    ck_assert_uint_eq(r->m[5].index, 1);
    ck_assert_uint_eq(r->m[9].index, 2);
    ck_assert_str_eq(r->m[9].method, "PUT");
    ck_assert_uint_eq(avtb_http_session_requests(s), 3);
    ck_assert_uint_eq(r->nanom, 0);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(pipelined_in_one_chunk)
{
    static const char stream[] =
        "POST /1 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 22\r\n\r\n" TOK0
        "\r\n" /* a stray line end between requests is tolerated */
        "POST /2 HTTP/1.1\r\nHost: b.example\r\nContent-Length: 22\r\n\r\n" TOK1
        "GET /3?x=1 HTTP/1.0\r\nHost: c.example\r\n\r\n";
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);

    ck_assert_int_eq(feed(s, stream, strlen(stream), 0, 2.0), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 4 + 4 + 3);
    expect(r, 3, "http-body", "a.example", "-", "-", TOK0, offset_of(stream, TOK0));
    expect(r, 4, "http-uri", "b.example", "-", "-", "/2", UINT64_MAX);
    expect(r, 7, "http-body", "b.example", "-", "-", TOK1, offset_of(stream, TOK1));
    expect(r, 8, "http-uri", "c.example", "-", "-", "/3", UINT64_MAX);
    expect(r, 9, "http-query", "c.example", "-", "-", "x=1", offset_of(stream, "x=1"));
    expect(r, 10, "http-header", "c.example", "-", "Host", "c.example", UINT64_MAX);
    ck_assert_uint_eq(avtb_http_session_requests(s), 3);
    ck_assert_uint_eq(r->nanom, 0);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

/* A stream with every feature, built once for the split tests. */
static size_t rich_stream(uint8_t *out, size_t cap)
{
    static const char form[] = "user=alice&secret=" TOK0 "%21&note=a+b";
    static const char mp[] = "preamble\r\n--XyZ\r\n"
                             "Content-Disposition: form-data; name=\"f\"; filename=\"doc.txt\"\r\n"
                             "Content-Type: text/plain\r\n\r\n" TOK1 "\r\n--XyZ--\r\nepilogue";
    uint8_t gz[256];
    size_t gzlen = compress_to(TOK0 TOK0, 44, gz, sizeof(gz), 31), at = 0;
    int n;

    n = snprintf((char *)out, cap,
                 "GET /search?q=%%41VTB+x HTTP/1.1\r\nHost: [fd00::1]:8080\r\nX-Folded: one\r\n"
                 "  two\r\n\r\n"
                 "POST /form HTTP/1.1\r\nHost: f.example\r\n"
                 "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s"
                 "POST /mp HTTP/1.1\r\nHost: m.example\r\n"
                 "Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: %zu\r\n\r\n%s"
                 "POST /gz HTTP/1.1\r\nHost: g.example\r\nTransfer-Encoding: chunked\r\n"
                 "Content-Encoding: gzip\r\n\r\n%zx;ext=1\r\n",
                 strlen(form), form, strlen(mp), mp, gzlen);
    ck_assert(n > 0 && (size_t)n < cap);
    at = (size_t)n;
    ck_assert_uint_lt(at + gzlen + 64, cap);
    memcpy(out + at, gz, gzlen);
    at += gzlen;
    n = snprintf((char *)out + at, cap - at, "\r\n0\r\nX-Sum: 1\r\n\r\n");
    return at + (size_t)n;
}

START_TEST(any_split_gives_identical_messages)
{
    uint8_t stream[4096];
    size_t len = rich_stream(stream, sizeof(stream));
    recorder *whole = recorder_new();
    avtb_http_session *s = session_with(whole, NULL);
    char *want;

    ck_assert_int_eq(feed(s, stream, len, 0, 3.0), AVTB_PARSE_OK);
    avtb_http_session_free(s);
    want = recorder_dump(whole);
    ck_assert_uint_eq(whole->nanom, 0);
    /* Sanity: the rich stream does produce its views. */
    ck_assert(strstr(want, "http-query,percent|fd00::1|") != NULL);
    ck_assert(strstr(want, "http-header|fd00::1|-|X-Folded|") != NULL);
    ck_assert(strstr(want, "one two") != NULL);
    ck_assert(strstr(want, "http-body,http-form,percent|f.example|-|secret|") != NULL);
    ck_assert(strstr(want, "http-body,http-multipart|m.example|doc.txt|f|") != NULL);
    ck_assert(strstr(want, "http-chunked,gzip|g.example|") != NULL);
    ck_assert(strstr(want, "http-chunk-ext|g.example|") != NULL);
    ck_assert(strstr(want, "http-header|g.example|-|X-Sum|") != NULL);
    for (size_t chunk = 1; chunk <= 17; chunk++) {
        recorder *r = recorder_new();
        char *got;

        s = session_with(r, NULL);
        ck_assert_int_eq(feed(s, stream, len, chunk, 3.0), AVTB_PARSE_OK);
        avtb_http_session_free(s);
        got = recorder_dump(r);
        ck_assert_msg(strcmp(got, want) == 0, "chunk %zu:\n%s\n---- whole:\n%s", chunk, got, want);
        free(got);
        recorder_free(r);
    }
    free(want);
    recorder_free(whole);
}
END_TEST

/* ---- Chunked bodies ------------------------------------------------------------ */

START_TEST(chunked_token_across_chunks)
{
    static const char req[] = "POST /c HTTP/1.1\r\nHost: c.example\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n"
                              "a\r\nAVTBQ3F7K2\r\nC\r\nM9XWZP4R8TAB\r\n0\r\n\r\n";
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);

    ck_assert_int_eq(feed(s, req, strlen(req), 0, 4.0), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 4);
    expect(r, 3, "http-chunked", "c.example", "-", "-", TOK0, offset_of(req, "a\r\nAVTB"));
    ck_assert_uint_eq(r->nanom, 0);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(chunk_extension_and_trailers)
{
    static const char req[] = "POST /t HTTP/1.1\r\nHost: t.example\r\n"
                              "Transfer-Encoding: gzip, chunked\r\n\r\n";
    static const char tail[] = "\r\n0\r\nX-Checksum: " TOK1 "\r\nX-Other:  v \r\n\r\n";
    uint8_t stream[1024], gz[128];
    size_t gzlen = compress_to(TOK0, 22, gz, sizeof(gz), 31), at;
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);
    char hex[16];

    snprintf(hex, sizeof(hex), "%zx", gzlen);
    at = (size_t)snprintf((char *)stream, sizeof(stream), "%s%s ; sig=\"X%s\"\r\n", req, hex, TOK0);
    memcpy(stream + at, gz, gzlen);
    at += gzlen;
    memcpy(stream + at, tail, strlen(tail));
    at += strlen(tail);
    ck_assert_int_eq(feed(s, stream, at, 0, 5.0), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 8);
    expect(r, 3, "http-chunk-ext", "t.example", "-", "-", "sig=\"X" TOK0 "\"",
           strlen(req) + strlen(hex) + 3);
    expect_n(r, 4, "http-chunked", "t.example", "-", "-", gz, gzlen, strlen(req));
    /* A transfer coding before chunked is decoded like a content coding. */
    expect(r, 5, "http-chunked,gzip", "t.example", "-", "-", TOK0, strlen(req));
    expect(r, 6, "http-header", "t.example", "-", "X-Checksum", TOK1, UINT64_MAX);
    expect(r, 7, "http-header", "t.example", "-", "X-Other", "v", UINT64_MAX);
    ck_assert_uint_eq(r->nanom, 0);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(malformed_chunk_size)
{
    static const char req[] = "POST /m HTTP/1.1\r\nHost: m.example\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n"
                              "5\r\nhello\r\nzz" TOK0 "\r\nGET / HTTP/1.1\r\n\r\n";
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);
    const uint8_t *held;
    size_t taken, hlen;
    uint64_t hoff;

    ck_assert_int_eq(feed_taken(s, req, strlen(req), 0, 6.0, &taken), AVTB_PARSE_ERROR);
    ck_assert(has_anomaly(r, "http: malformed chunk size line"));
    /* What was de-chunked so far is delivered; the bad line is held for raw matching. */
    ck_assert_uint_eq(r->n, 4);
    expect(r, 3, "http-chunked", "m.example", "-", "-", "hello", UINT64_MAX);
    ck_assert_uint_eq(taken, offset_of(req, "GET"));
    avtb_http_session_held(s, &held, &hlen, &hoff);
    ck_assert_uint_eq(hlen, 2 + 22);
    ck_assert(memcmp(held, "zz" TOK0, hlen) == 0);
    ck_assert_uint_eq(hoff, offset_of(req, "zz"));
    /* ERROR once: afterwards nothing is taken and nothing more reported. */
    ck_assert_int_eq(feed_taken(s, "GET", 3, 0, 7.0, &taken), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(taken, 0);
    ck_assert_uint_eq(r->nanom, 1);
    avtb_http_session_held(s, &held, &hlen, &hoff);
    ck_assert_uint_eq(hlen, 0);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

/* ---- Content codings ----------------------------------------------------------- */

START_TEST(content_encoding_gzip)
{
    uint8_t stream[1024], gz[128];
    size_t gzlen = compress_to("data=" TOK0, 27, gz, sizeof(gz), 31), at;
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);

    at = (size_t)snprintf((char *)stream, sizeof(stream),
                          "POST /z HTTP/1.1\r\nHost: z.example\r\nContent-Encoding: gzip\r\n"
                          "Content-Length: %zu\r\n\r\n",
                          gzlen);
    memcpy(stream + at, gz, gzlen);
    ck_assert_int_eq(feed(s, stream, at + gzlen, 0, 7.0), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 6);
    expect_n(r, 4, "http-body", "z.example", "-", "-", gz, gzlen, at);
    expect(r, 5, "http-body,gzip", "z.example", "-", "-", "data=" TOK0, at);
    ck_assert_uint_eq(r->nanom, 0);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(gzip_inside_chunked)
{
    uint8_t stream[1024], gz[128];
    size_t gzlen = compress_to(TOK1, 22, gz, sizeof(gz), 31), at, half = gzlen / 2;
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);

    at = (size_t)snprintf((char *)stream, sizeof(stream),
                          "POST /z HTTP/1.1\r\nHost: z.example\r\nContent-Encoding: gzip\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
                          half);
    memcpy(stream + at, gz, half);
    at += half;
    at += (size_t)snprintf((char *)stream + at, sizeof(stream) - at, "\r\n%zx\r\n", gzlen - half);
    memcpy(stream + at, gz + half, gzlen - half);
    at += gzlen - half;
    memcpy(stream + at, "\r\n0\r\n\r\n", 7);
    ck_assert_int_eq(feed(s, stream, at + 7, 0, 8.0), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 6);
    expect_n(r, 4, "http-chunked", "z.example", "-", "-", gz, gzlen, UINT64_MAX);
    expect(r, 5, "http-chunked,gzip", "z.example", "-", "-", TOK1, UINT64_MAX);
    ck_assert_uint_eq(r->nanom, 0);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(coding_list_decoded_in_reverse)
{
    uint8_t stream[1024], inner[128], outer[160];
    size_t ilen = compress_to(TOK0, 22, inner, sizeof(inner), 31);
    size_t olen = compress_to(inner, ilen, outer, sizeof(outer), 15), at;
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);

    /* gzip applied first, deflate second: decoded deflate first. */
    at = (size_t)snprintf((char *)stream, sizeof(stream),
                          "POST /z HTTP/1.1\r\nHost: z.example\r\nContent-Encoding: gzip, "
                          "identity, deflate\r\nContent-Length: %zu\r\n\r\n",
                          olen);
    memcpy(stream + at, outer, olen);
    ck_assert_int_eq(feed(s, stream, at + olen, 0, 8.0), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 6);
    expect_n(r, 4, "http-body", "z.example", "-", "-", outer, olen, at);
    expect(r, 5, "http-body,deflate,gzip", "z.example", "-", "-", TOK0, at);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(content_encoding_without_decoder)
{
    static const char req[] = "POST /z HTTP/1.1\r\nHost: z.example\r\nContent-Encoding: br\r\n"
                              "Content-Length: 4\r\n\r\nabcd";
    recorder *r = recorder_new();
    avtb_http_config c;
    avtb_http_session *s;

    avtb_http_config_default(&c); /* no decompress callback */
    s = session_with(r, &c);
    ck_assert_int_eq(feed(s, req, strlen(req), 0, 8.0), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 5);
    expect(r, 4, "http-body", "z.example", "-", "-", "abcd", UINT64_MAX);
    ck_assert_uint_eq(r->nanom, 1);
    ck_assert(has_anomaly(r, "content-encoding br not decoded"));
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

/* ---- Forms ------------------------------------------------------------------ */

START_TEST(multipart_two_files)
{
    static const char body[] =
        "--a \"b\r\n"
        "Content-Disposition: form-data; name=\"file1\"; filename=\"report.docx\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n" TOK0 "\r\n"
        "--a \"b\r\n"
        "Content-Disposition: form-data; name=\"file2\"; filename=\"C:\\Users\\x\\plan.txt\"\r\n"
        "\r\nline1\r\n" TOK1 "\r\n"
        "--a \"b\r\n"
        "Content-Disposition: form-data; name=\"comment\"\r\n\r\nhello\r\n"
        "--a \"b--\r\n";
    char req[2048];
    size_t bo;
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);
    int n = snprintf(req, sizeof(req),
                     "POST /up HTTP/1.1\r\nHost: up.example\r\n"
                     "Content-Type: multipart/form-data; boundary=\"a \\\"b\"\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     strlen(body), body);

    bo = (size_t)n - strlen(body);
    ck_assert_int_eq(feed(s, req, (size_t)n, 0, 9.0), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 4 + 1 + 3);
    expect(r, 4, "http-body", "up.example", "-", "-", body, bo);
    expect(r, 5, "http-body,http-multipart", "up.example", "report.docx", "file1", TOK0,
           bo + offset_of(body, TOK0));
    expect(r, 6, "http-body,http-multipart", "up.example", "C:\\Users\\x\\plan.txt", "file2",
           "line1\r\n" TOK1, bo + offset_of(body, "line1"));
    expect(r, 7, "http-body,http-multipart", "up.example", "comment", "comment", "hello",
           bo + offset_of(body, "hello"));
    ck_assert_uint_eq(r->nanom, 0);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(multipart_base64_part)
{
    /* base64 of TOK0, folded over two lines. */
    static const char body[] = "--b64\r\n"
                               "Content-Disposition: form-data; name=\"up\"; filename=\"t.bin\"\r\n"
                               "Content-Transfer-Encoding: BASE64\r\n\r\n"
                               "QVZUQlEzRjdLMk05\r\nWFdaUDRSOFRBQg==\r\n"
                               "--b64\r\n"
                               "Content-Disposition: form-data; name=\"qp\"\r\n"
                               "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                               "AVTBM2N3B4V5=\r\nC6X7Z2L3KJ=3D\r\n"
                               "--b64--";
    char req[1024];
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);
    int n = snprintf(req, sizeof(req),
                     "POST /up HTTP/1.1\r\nHost: up.example\r\n"
                     "Content-Type: multipart/form-data; boundary=b64\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     strlen(body), body);

    ck_assert_int_eq(feed(s, req, (size_t)n, 0, 9.0), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 7);
    expect(r, 5, "http-body,http-multipart,base64", "up.example", "t.bin", "up", TOK0, UINT64_MAX);
    expect(r, 6, "http-body,http-multipart,quoted-printable", "up.example", "qp", "qp", TOK1 "=",
           UINT64_MAX);
    ck_assert_uint_eq(r->nanom, 0);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(urlencoded_form)
{
    static const char body[] = "user=bob&tok=AVTB%51%33F7K2M9XWZP4R8TAB+end&empty=&flag&plain=1";
    char req[1024];
    size_t bo;
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);
    int n = snprintf(req, sizeof(req),
                     "POST /f HTTP/1.1\r\nHost: f.example\r\n"
                     "Content-Type: Application/X-WWW-Form-URLEncoded; charset=UTF-8\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     strlen(body), body);

    bo = (size_t)n - strlen(body);
    ck_assert_int_eq(feed(s, req, (size_t)n, 0, 9.0), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 5 + 3);
    expect(r, 4, "http-body", "f.example", "-", "-", body, bo);
    expect(r, 5, "http-body,http-form", "f.example", "-", "user", "bob", bo + 5);
    expect(r, 6, "http-body,http-form,percent", "f.example", "-", "tok", TOK0 " end",
           bo + offset_of(body, "AVTB%51"));
    expect(r, 7, "http-body,http-form", "f.example", "-", "plain", "1", UINT64_MAX);
    ck_assert_uint_eq(r->nanom, 0);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

/* ---- Request line and headers ---------------------------------------------------- */

START_TEST(query_percent_decoding)
{
    static const char req[] = "GET /dir%2Fx/p?id=AVTB%51%33F7K2M9XWZP4R8TAB&a=b+c HTTP/1.1\r\n"
                              "Host: Q.example.\r\n\r\n";
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);

    ck_assert_int_eq(feed(s, req, strlen(req), 0, 1.0), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 5);
    expect(r, 0, "http-uri", "Q.example.", "-", "-", "/dir%2Fx/p", 4);
    expect(r, 1, "http-uri,percent", "Q.example.", "-", "-", "/dir/x/p", 4);
    expect(r, 2, "http-query", "Q.example.", "-", "-", "id=AVTB%51%33F7K2M9XWZP4R8TAB&a=b+c",
           offset_of(req, "id="));
    expect(r, 3, "http-query,percent", "Q.example.", "-", "-", "id=" TOK0 "&a=b c",
           offset_of(req, "id="));
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(header_values)
{
    static const char req[] = "OPTIONS * HTTP/1.1\r\nhost: h.example\r\n"
                              "Cookie: s=" TOK0 "\r\n"
                              "X-Long: part1\r\n\t part2 \r\n"
                              "NoColonHere " TOK1 "\r\n"
                              "X-Empty:\r\n\r\n";
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);

    ck_assert_int_eq(feed(s, req, strlen(req), 0, 1.0), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 5);
    expect(r, 0, "http-uri", "h.example", "-", "-", "*", 8);
    expect(r, 1, "http-header", "h.example", "-", "host", "h.example", UINT64_MAX);
    expect(r, 2, "http-header", "h.example", "-", "Cookie", "s=" TOK0, offset_of(req, "s="));
    expect(r, 3, "http-header", "h.example", "-", "X-Long", "part1 part2", offset_of(req, "part1"));
    /* Not "name: value": delivered whole, with an anomaly. */
    expect(r, 4, "http-header", "h.example", "-", "-", "NoColonHere " TOK1,
           offset_of(req, "NoColon"));
    ck_assert_uint_eq(r->nanom, 1);
    ck_assert(has_anomaly(r, "http: malformed header line"));
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(unknown_method_is_http)
{
    static const char req[] = "AVTBEXFIL http://proxy.example:3128/x?y HTTP/1.1\r\n\r\n";
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);

    ck_assert_int_eq(feed(s, req, strlen(req), 0, 1.0), AVTB_PARSE_OK);
    ck_assert(avtb_http_session_is_http(s));
    ck_assert_uint_eq(r->n, 3);
    /* No Host header: the absolute-form target's authority. */
    expect(r, 0, "http-method", "proxy.example", "-", "-", "AVTBEXFIL", 0);
    expect(r, 1, "http-uri", "proxy.example", "-", "-", "http://proxy.example:3128/x", 10);
    expect(r, 2, "http-query", "proxy.example", "-", "-", "y", UINT64_MAX);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

/* ---- Limits ------------------------------------------------------------------ */

START_TEST(body_over_cap)
{
    char body[151], req[512];
    size_t bo;
    recorder *r = recorder_new();
    avtb_http_config c;
    avtb_http_session *s;
    int n;

    for (size_t i = 0; i < 150; i++)
        body[i] = (char)('a' + i % 26);
    memcpy(body + 58, TOK0, 22); /* across the first cut at 64 */
    body[150] = '\0';
    avtb_http_config_default(&c);
    c.body_cap = 64;
    c.body_overlap = 16;
    s = session_with(r, &c);
    n = snprintf(req, sizeof(req),
                 "POST /big HTTP/1.1\r\nHost: big.example\r\nContent-Length: 150\r\n\r\n%s", body);
    bo = (size_t)n - 150;
    ck_assert_int_eq(feed(s, req, (size_t)n, 7, 1.0), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 3 + 3);
    expect_n(r, 3, "http-body", "big.example", "-", "-", body, 64, bo);
    expect_n(r, 4, "http-body", "big.example", "-", "-", body + 48, 64, bo + 48);
    expect_n(r, 5, "http-body", "big.example", "-", "-", body + 96, 54, bo + 96);
    ck_assert(memmem(r->m[4].data, r->m[4].len, TOK0, 22) != NULL);
    ck_assert_uint_eq(r->nanom, 1);
    ck_assert(has_anomaly(r, "http: body truncated at 64 bytes"));
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(body_exactly_at_cap)
{
    static const char req[] = "POST /cap HTTP/1.1\r\nContent-Length: 22\r\n\r\n" TOK0;
    recorder *r = recorder_new();
    avtb_http_config c;
    avtb_http_session *s;

    avtb_http_config_default(&c);
    c.body_cap = 22;
    s = session_with(r, &c);
    ck_assert_int_eq(feed(s, req, strlen(req), 1, 1.0), AVTB_PARSE_OK);
    ck_assert_uint_eq(r->n, 3);
    expect(r, 2, "http-body", "-", "-", "-", TOK0, offset_of(req, TOK0));
    ck_assert_uint_eq(r->nanom, 0);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(oversized_header_line)
{
    static char req[10000];
    size_t taken, hlen;
    const uint8_t *held;
    uint64_t hoff;
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);
    size_t at = (size_t)snprintf(req, sizeof(req), "GET /x HTTP/1.1\r\nHost: o.example\r\nX-Big: ");

    memset(req + at, 'A', 9000);
    memcpy(req + at + 9000, "\r\n\r\n", 5);
    ck_assert_int_eq(feed_taken(s, req, strlen(req), 1000, 1.0, &taken), AVTB_PARSE_ERROR);
    ck_assert(has_anomaly(r, "http: header line longer than 8192 bytes"));
    /* What came before is delivered; the line so far is held for raw matching. */
    ck_assert_uint_eq(r->n, 2);
    expect(r, 0, "http-uri", "o.example", "-", "-", "/x", 4);
    expect(r, 1, "http-header", "o.example", "-", "Host", "o.example", UINT64_MAX);
    avtb_http_session_held(s, &held, &hlen, &hoff);
    ck_assert_uint_eq(hlen, 8193);
    ck_assert_uint_eq(hoff, offset_of(req, "X-Big"));
    ck_assert_uint_eq(taken, hoff + hlen);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(too_many_headers)
{
    char req[4096];
    size_t at = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");
    recorder *r = recorder_new();
    avtb_http_config c;
    avtb_http_session *s;

    avtb_http_config_default(&c);
    c.max_headers = 5;
    s = session_with(r, &c);
    for (int i = 0; i < 8; i++)
        at += (size_t)snprintf(req + at, sizeof(req) - at, "X-%d: v%d\r\n", i, i);
    memcpy(req + at, "\r\n", 3);
    ck_assert_int_eq(feed(s, req, strlen(req), 0, 1.0), AVTB_PARSE_ERROR);
    ck_assert(has_anomaly(r, "http: more than 5 header lines"));
    ck_assert_uint_eq(r->n, 1 + 5);
    expect(r, 5, "http-header", "-", "-", "X-4", "v4", UINT64_MAX);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

/* ---- Not HTTP, tunnels, endings -------------------------------------------------- */

START_TEST(non_http_stream)
{
    static const uint8_t tls[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03};
    static const char ssh[] = "SSH-2.0-OpenSSH_9.2p1\r\n";
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);
    const uint8_t *held;
    size_t taken, hlen;
    uint64_t hoff;

    ck_assert_int_eq(feed_taken(s, tls, sizeof(tls), 0, 1.0, &taken), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(taken, 0);
    ck_assert(!avtb_http_session_is_http(s));
    ck_assert_int_eq(feed_taken(s, tls, sizeof(tls), 0, 1.0, &taken), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(taken, 0);
    avtb_http_session_free(s);

    /* Token bytes at first: refused at the first byte that is not, held for raw matching. */
    s = session_with(r, NULL);
    ck_assert_int_eq(feed_taken(s, ssh, strlen(ssh), 1, 1.0, &taken), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(taken, offset_of(ssh, "\r"));
    avtb_http_session_held(s, &held, &hlen, &hoff);
    ck_assert_uint_eq(hlen, taken);
    ck_assert_uint_eq(hoff, 0);
    ck_assert(!avtb_http_session_is_http(s));
    avtb_http_session_free(s);

    /* A text protocol with a space: refused at its line end. */
    s = session_with(r, NULL);
    ck_assert_int_eq(feed_taken(s, "EHLO mx.example\r\nMAIL", 21, 0, 1.0, &taken),
                     AVTB_PARSE_ERROR);
    ck_assert_uint_eq(taken, 17);
    avtb_http_session_held(s, &held, &hlen, &hoff);
    ck_assert_uint_eq(hlen, 15);
    avtb_http_session_free(s);

    ck_assert_uint_eq(r->n, 0);
    ck_assert_uint_eq(r->nanom, 0);
    avtb_http_session_free(NULL);
    recorder_free(r);
}
END_TEST

START_TEST(connect_becomes_tunnel)
{
    static const char req[] = "CONNECT exfil.example:443 HTTP/1.1\r\n"
                              "User-Agent: av\r\n\r\n\x16\x03\x01";
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);
    size_t taken;

    ck_assert_int_eq(feed_taken(s, req, sizeof(req) - 1, 0, 1.0, &taken), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(taken, sizeof(req) - 4);
    ck_assert(avtb_http_session_is_http(s));
    ck_assert(avtb_http_session_tunnel(s));
    ck_assert_uint_eq(r->nanom, 0);
    ck_assert_uint_eq(r->n, 2);
    expect(r, 0, "http-uri", "exfil.example", "-", "-", "exfil.example:443", 8);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(upgrade_becomes_tunnel)
{
    static const char req[] = "GET /ws HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\n\r\n\x81\x85\x37\xfa\x21\x3d";
    static const char h2[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);
    size_t taken;

    ck_assert_int_eq(feed_taken(s, req, sizeof(req) - 1, 3, 1.0, &taken), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(taken, offset_of(req, "\x81"));
    ck_assert(avtb_http_session_tunnel(s));
    ck_assert_uint_eq(r->n, 4);
    avtb_http_session_free(s);

    /* The HTTP/2 connection preface: HTTP, but h2 frames follow. */
    s = session_with(r, NULL);
    ck_assert_int_eq(feed_taken(s, h2, strlen(h2), 0, 1.0, &taken), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(taken, 16);
    ck_assert(avtb_http_session_is_http(s) && avtb_http_session_tunnel(s));
    ck_assert_uint_eq(r->nanom, 0);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(stream_ends_inside_headers)
{
    static const char req[] = "GET /h?k=v HTTP/1.1\r\nHost: h.example\r\nX-Last: " TOK0;
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);
    const uint8_t *held;
    size_t hlen;
    uint64_t hoff;

    ck_assert_int_eq(feed(s, req, strlen(req), 5, 1.0), AVTB_PARSE_NEED_MORE);
    ck_assert_uint_eq(r->n, 0); /* delivered when the header block is complete */
    avtb_http_session_end(s, 2.0);
    ck_assert(has_anomaly(r, "http: stream ended inside the request headers"));
    ck_assert_uint_eq(r->n, 3);
    expect(r, 2, "http-header", "h.example", "-", "Host", "h.example", UINT64_MAX);
    /* The unfinished line is left for raw matching. */
    avtb_http_session_held(s, &held, &hlen, &hoff);
    ck_assert_uint_eq(hoff, offset_of(req, "X-Last"));
    ck_assert(hlen == strlen(req) - hoff && memcmp(held, req + hoff, hlen) == 0);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(stream_ends_inside_body)
{
    static const char req[] = "POST /e HTTP/1.1\r\nHost: e.example\r\nContent-Length: 1000\r\n\r\n"
                              "partial " TOK0;
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);

    ck_assert_int_eq(feed(s, req, strlen(req), 0, 1.0), AVTB_PARSE_NEED_MORE);
    ck_assert_uint_eq(r->n, 3);
    avtb_http_session_end(s, 2.0);
    ck_assert(has_anomaly(r, "http: stream ended inside a request body"));
    ck_assert_uint_eq(r->n, 4);
    expect(r, 3, "http-body", "e.example", "-", "-", "partial " TOK0, offset_of(req, "partial"));
    ck_assert(r->m[3].time == 2.0);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

START_TEST(bad_content_length)
{
    static const char req[] = "POST /e HTTP/1.1\r\nHost: e.example\r\nContent-Length: 5\r\n"
                              "Content-Length: 6\r\n\r\nabcdef";
    recorder *r = recorder_new();
    avtb_http_session *s = session_with(r, NULL);
    size_t taken;

    ck_assert_int_eq(feed_taken(s, req, strlen(req), 0, 1.0, &taken), AVTB_PARSE_ERROR);
    ck_assert(has_anomaly(r, "http: invalid Content-Length"));
    ck_assert_uint_eq(taken, strlen(req) - 6);
    avtb_http_session_free(s);
    recorder_free(r);
}
END_TEST

static TCase *tcase(const char *name)
{
    return tcase_create(name);
}

static Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc;

    tc = tcase("requests");
    tcase_add_test(tc, simple_post);
    tcase_add_test(tc, keep_alive_three_requests);
    tcase_add_test(tc, pipelined_in_one_chunk);
    tcase_add_test(tc, any_split_gives_identical_messages);
    suite_add_tcase(s, tc);

    tc = tcase("chunked");
    tcase_add_test(tc, chunked_token_across_chunks);
    tcase_add_test(tc, chunk_extension_and_trailers);
    tcase_add_test(tc, malformed_chunk_size);
    suite_add_tcase(s, tc);

    tc = tcase("codings");
    tcase_add_test(tc, content_encoding_gzip);
    tcase_add_test(tc, gzip_inside_chunked);
    tcase_add_test(tc, coding_list_decoded_in_reverse);
    tcase_add_test(tc, content_encoding_without_decoder);
    suite_add_tcase(s, tc);

    tc = tcase("forms");
    tcase_add_test(tc, multipart_two_files);
    tcase_add_test(tc, multipart_base64_part);
    tcase_add_test(tc, urlencoded_form);
    suite_add_tcase(s, tc);

    tc = tcase("request-line-and-headers");
    tcase_add_test(tc, query_percent_decoding);
    tcase_add_test(tc, header_values);
    tcase_add_test(tc, unknown_method_is_http);
    suite_add_tcase(s, tc);

    tc = tcase("limits");
    tcase_add_test(tc, body_over_cap);
    tcase_add_test(tc, body_exactly_at_cap);
    tcase_add_test(tc, oversized_header_line);
    tcase_add_test(tc, too_many_headers);
    suite_add_tcase(s, tc);

    tc = tcase("hostile-and-endings");
    tcase_add_test(tc, non_http_stream);
    tcase_add_test(tc, connect_becomes_tunnel);
    tcase_add_test(tc, upgrade_becomes_tunnel);
    tcase_add_test(tc, stream_ends_inside_headers);
    tcase_add_test(tc, stream_ends_inside_body);
    tcase_add_test(tc, bad_content_length);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
