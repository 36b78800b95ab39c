/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the TLS stream parser (app-tls.c). The input is one
 * direction of a TCP stream. It is fed whole, then again in chunks of sizes
 * drawn from the input, each chunk in its own allocation so ASan sees any
 * read past it; both must leave the parser in exactly the same state. A
 * third pass with tiny limits exercises the over-limit paths.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/app-tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct seen {
    uint64_t hash;
    size_t messages;
} seen;

static void mix(seen *s, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        s->hash = (s->hash ^ b[i]) * 0x100000001b3ull;
}

static void on_message(void *ctx, const avtb_message *m)
{
    seen *s = ctx;

    if (m->nencoding != 1 || strcmp(m->encoding[0], "tls-sni") != 0 ||
        strcmp(m->protocol, "tls") != 0 || m->len == 0 || m->host == NULL)
        __builtin_trap();
    s->messages++;
    mix(s, m->data, m->len);
    mix(s, m->host, strlen(m->host));
    mix(s, &m->offset, sizeof(m->offset));
}

static void on_anomaly(void *ctx, const char *what)
{
    seen *s = ctx;

    if (strncmp(what, "tls: ", 5) != 0)
        __builtin_trap();
    mix(s, what, strlen(what));
}

/* Everything the getters say, folded into s; checks their bounds against size. */
static void state(const avtb_tls_session *p, seen *s, size_t size)
{
    const uint16_t *v;
    const uint8_t *b;
    uint64_t total = 0;
    size_t n;
    uint8_t flags[3] = {avtb_tls_session_is_tls(p), avtb_tls_session_is_sslv2(p),
                        avtb_tls_session_client_hello(p)};
    uint16_t ver[2] = {avtb_tls_session_legacy_version(p), avtb_tls_session_client_version(p)};

    mix(s, flags, sizeof(flags));
    mix(s, ver, sizeof(ver));
    n = avtb_tls_session_cipher_suites(p);
    mix(s, &n, sizeof(n));
    b = avtb_tls_session_sni(p, &n);
    if ((b == NULL) != (n == 0) || n > size || (b == NULL) != (avtb_tls_session_host(p) == NULL))
        __builtin_trap();
    if (b != NULL) {
        mix(s, b, n);
        mix(s, avtb_tls_session_host(p), strlen(avtb_tls_session_host(p)));
    }
    for (size_t i = 0; i < avtb_tls_session_alpn_count(p); i++) {
        b = avtb_tls_session_alpn(p, i, &n);
        if (b == NULL || n == 0 || n > size)
            __builtin_trap();
        mix(s, b, n);
    }
    if (avtb_tls_session_alpn(p, avtb_tls_session_alpn_count(p), &n) != NULL || n != 0)
        __builtin_trap();
    v = avtb_tls_session_supported_versions(p, &n);
    if ((v == NULL && n != 0) || n > 127)
        __builtin_trap();
    if (v != NULL)
        mix(s, v, n * sizeof(*v));
    for (int t = AVTB_TLS_CHANGE_CIPHER_SPEC; t <= AVTB_TLS_HEARTBEAT; t++) {
        uint64_t c = avtb_tls_session_bytes(p, (avtb_tls_content)t);

        total += c;
        mix(s, &c, sizeof(c));
    }
    total += 5 * avtb_tls_session_records(p);
    if (total > size) /* counted bytes are bytes consumed */
        __builtin_trap();
}

static seen run(const uint8_t *data, size_t size, uint64_t rng, int chunked,
                const avtb_tls_config *lim)
{
    seen s = {.hash = 0xcbf29ce484222325ull};
    avtb_tls_config c = *lim;
    avtb_tls_session *p;

    c.message = on_message;
    c.anomaly = on_anomaly;
    c.ctx = &s;
    p = avtb_tls_session_new(&c);
    size_t off = 0, oks = 0;
    int stop = 0;

    if (p == NULL)
        return s;
    while (off < size && !stop) {
        size_t n = size - off, at = 0, used;
        uint8_t *chunk;

        if (chunked) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            n = 1 + (size_t)(rng % (rng & 0x100 ? 600 : 8));
            if (n > size - off)
                n = size - off;
        }
        chunk = malloc(n);
        if (chunk == NULL)
            break;
        memcpy(chunk, data + off, n);
        while (at < n) {
            avtb_parse_result r = avtb_tls_session_parse(p, chunk + at, n - at, 2.0, &used);

            if (used > n - at)
                __builtin_trap();
            at += used;
            if (r == AVTB_PARSE_OK) {
                oks++;
                mix(&s, &r, sizeof(r));
            } else if (r == AVTB_PARSE_ERROR) {
                mix(&s, &r, sizeof(r));
                stop = 1;
                break;
            } else if (at != n) {
                __builtin_trap(); /* NEED_MORE takes everything */
            }
        }
        free(chunk);
        off += n;
    }
    if (oks > 1)
        __builtin_trap();
    avtb_tls_session_end(p, 3.0);
    state(p, &s, size);
    avtb_tls_session_free(p);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ size;
    avtb_tls_config defaults, small;
    seen whole, split;

    for (size_t i = 0; i < size && i < 16; i++)
        rng = (rng ^ data[size - 1 - i]) * 0x100000001b3ull;
    avtb_tls_config_default(&defaults);
    whole = run(data, size, rng, 0, &defaults);
    split = run(data, size, rng | 1, 1, &defaults);
    if (whole.hash != split.hash || whole.messages != split.messages || whole.messages > 1)
        __builtin_trap();

    avtb_tls_config_default(&small);
    small.max_record = 64 + (size & 0xff);
    small.max_client_hello = 48 + (size & 0x7f);
    whole = run(data, size, rng, 0, &small);
    split = run(data, size, rng | 1, 1, &small);
    if (whole.hash != split.hash)
        __builtin_trap();
    return 0;
}
