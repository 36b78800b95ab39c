/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the HTTP client-stream parser (app-http.c, and
 * multipart.c through it). The input is the stream; a hash of it picks the
 * chunk sizes and either tiny limits (so the caps, pieces and refusals are
 * reached) or the defaults. Each chunk is its own allocation so ASan sees any
 * read past it (Suricata's fuzz_applayerparserparse.c does the same), and
 * every message byte is read so a bad pointer or length is caught.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "collectors/app-http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* gzip, x-gzip and deflate through zlib, as the transform module would. */
static avtb_err fuzz_decompress(const char *coding, const uint8_t *buf, size_t len, size_t max_out,
                                uint8_t **out, size_t *out_len, bool *bomb)
{
    z_stream z;
    size_t cap = 256, have = 0;
    uint8_t *o;
    int rc = Z_OK;

    *out = NULL;
    *out_len = 0;
    *bomb = false;
    if (strcmp(coding, "gzip") != 0 && strcmp(coding, "x-gzip") != 0 &&
        strcmp(coding, "deflate") != 0)
        return AVTB_ERR_INPUT;
    o = malloc(cap);
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
            uint8_t *n;

            if (cap >= max_out) {
                *bomb = true;
                break;
            }
            cap = cap * 2 > max_out ? max_out : cap * 2;
            n = realloc(o, cap);
            if (n == NULL)
                break;
            o = n;
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

static void check_str(const char *s, size_t max)
{
    if (s != NULL && strlen(s) > max)
        __builtin_trap();
}

static void on_message(void *ctx, const avtb_message *m, const avtb_http_req_info *req)
{
    volatile uint8_t acc = 0;

    (void)ctx;
    if (m->data == NULL || m->len == 0 || m->nencoding == 0 ||
        m->nencoding > AVTB_MESSAGE_MAX_ENCODING || strcmp(m->protocol, "http") != 0)
        __builtin_trap();
    for (size_t i = 0; i < m->len; i++)
        acc ^= m->data[i];
    for (size_t i = 0; i < m->nencoding; i++)
        check_str(m->encoding[i], 32);
    check_str(m->host, 255);
    check_str(m->name, SIZE_MAX);
    check_str(req->method, SIZE_MAX);
    check_str(req->target, SIZE_MAX);
    check_str(req->version, 8);
    check_str(req->field, SIZE_MAX);
    (void)acc;
}

static void on_anomaly(void *ctx, const char *what)
{
    (void)ctx;
    check_str(what, 255);
}

static void check_held(const avtb_http_session *s)
{
    const uint8_t *held;
    size_t len;
    uint64_t off;
    volatile uint8_t acc = 0;

    avtb_http_session_held(s, &held, &len, &off);
    for (size_t i = 0; i < len; i++)
        acc ^= held[i];
    if (len > 0 && off + len > avtb_http_session_offset(s))
        __builtin_trap();
    (void)acc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    avtb_http_config c;
    avtb_http_session *s;
    uint32_t state = 2166136261u;
    size_t at = 0;
    bool stopped = false;

    for (size_t i = 0; i < size; i++)
        state = (state ^ data[i]) * 16777619u;
    avtb_http_config_default(&c);
    if (state & 1) {
        /* Tiny limits: every cap and refusal is a few bytes away. */
        c.max_line = 48 + (state >> 8) % 64;
        c.max_headers = 1 + (state >> 4) % 8;
        c.max_method = 1 + (state >> 12) % 16;
        c.body_cap = 1 + (state >> 16) % 64;
        c.body_overlap = (state >> 20) % 16;
        c.max_decoded = 64 + (state >> 24) % 256;
        c.max_parts = 1 + (state >> 2) % 4;
        c.max_fields = 1 + (state >> 3) % 8;
    } else {
        c.max_decoded = 1u << 20;
    }
    if (!(state & 2))
        c.decompress = fuzz_decompress;
    c.message = on_message;
    c.anomaly = on_anomaly;
    s = avtb_http_session_new(&c);
    if (s == NULL)
        return 0;
    while (at < size && !stopped) {
        size_t n = 1 + (state >> 16) % 97, used = 0;
        uint8_t *chunk;
        avtb_parse_result r;

        state = state * 1103515245u + 12345u;
        if (n > size - at)
            n = size - at;
        chunk = malloc(n);
        if (chunk == NULL)
            break;
        memcpy(chunk, data + at, n);
        r = avtb_http_session_parse(s, chunk, n, (double)at, &used);
        if (used > n || (r != AVTB_PARSE_ERROR && used != n))
            __builtin_trap();
        if (r == AVTB_PARSE_ERROR) {
            check_held(s);
            /* ERROR is reported once: nothing more is taken. */
            if (avtb_http_session_parse(s, chunk, n, 0, &used) != AVTB_PARSE_ERROR || used != 0)
                __builtin_trap();
            stopped = true;
        }
        free(chunk);
        at += n;
    }
    avtb_http_session_end(s, (double)size);
    check_held(s);
    (void)avtb_http_session_is_http(s);
    (void)avtb_http_session_tunnel(s);
    (void)avtb_http_session_requests(s);
    check_str(avtb_http_session_host(s), 255);
    avtb_http_session_free(s);
    return 0;
}
