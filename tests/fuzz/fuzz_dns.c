/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for app-dns.c. The input is used three ways: as a query
 * for the sink's parser and reply builder (what the sink answers over TCP
 * comes straight from a guest); as one whole message for the analysis' walk;
 * and as a DNS-over-TCP stream, fed whole and then in chunks that each get
 * their own allocation, which must deliver exactly the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/app-dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the callbacks saw: a running hash and counts, and the bounds they checked. */
typedef struct seen {
    uint64_t hash;
    size_t messages, anomalies;
    const uint8_t *msg; /* the walked message, for the bound checks (NULL: skip) */
    size_t msg_len;
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
    const char *enc = m->encoding[0];

    if (m->nencoding != 1 || enc == NULL || strcmp(m->protocol, "dns") != 0 || m->len == 0)
        __builtin_trap();
    if ((strcmp(enc, "dns-qname") == 0 || strcmp(enc, "dns-labels") == 0) && m->len > 253)
        __builtin_trap();
    if (m->host != NULL && strlen(m->host) >= AVTB_DNS_NAME_TEXT)
        __builtin_trap();
    /* Raw rdata is a slice of the message; everything else is a decoded copy. */
    if (strcmp(enc, "dns-rdata") == 0 && s->msg != NULL &&
        (m->data < s->msg || m->len > s->msg_len || m->data - s->msg > (long)(s->msg_len - m->len)))
        __builtin_trap();
    s->messages++;
    mix(s, enc, strlen(enc));
    mix(s, m->data, m->len);
    mix(s, &m->offset, sizeof(m->offset));
    if (m->host != NULL)
        mix(s, m->host, strlen(m->host));
}

static void on_anomaly(void *ctx, const char *what)
{
    seen *s = ctx;

    if (strncmp(what, "dns", 3) != 0)
        __builtin_trap();
    s->anomalies++;
    mix(s, what, strlen(what));
}

static void sink_side(const uint8_t *msg, size_t size)
{
    static const uint8_t a4[4] = {10, 213, 99, 1};
    static uint8_t reply[2 * 65536];
    char host[AVTB_DNS_NAME_TEXT];
    avtb_dns_query q, back;
    size_t n;

    if (avtb_dns_parse_query(msg, size, &q) != AVTB_PARSE_OK)
        return;
    if (q.question_end > size || strlen(q.qname) >= sizeof(q.qname))
        __builtin_trap();
    /* The walk's name for the question is the sink's, for any query the sink takes. */
    if (avtb_dns_first_qname(msg, size, host, NULL) != AVTB_PARSE_OK || strcmp(host, q.qname))
        __builtin_trap();
    n = avtb_dns_build_reply(&q, msg, a4, 60, reply, sizeof(reply));
    if (n == 0 || n > sizeof(reply))
        __builtin_trap();
    /* The reply is a response, so our own parser must refuse it as a query. */
    if (avtb_dns_parse_query(reply, n, &back) == AVTB_PARSE_OK)
        __builtin_trap();
}

static void walk_side(const uint8_t *msg, size_t size)
{
    seen s = {.hash = 0xcbf29ce484222325ull, .msg = msg, .msg_len = size};
    char host[AVTB_DNS_NAME_TEXT];
    avtb_dns_config c;
    avtb_parse_result r;

    avtb_dns_config_default(&c);
    c.message = on_message;
    c.anomaly = on_anomaly;
    c.ctx = &s;
    r = avtb_dns_walk(&c, msg, size, 1.0, 0);

    /* ERROR exactly when something was reported (the default limit keeps the count). */
    if ((r == AVTB_PARSE_ERROR) != (s.anomalies > 0) || r == AVTB_PARSE_NEED_MORE)
        __builtin_trap();
    if (avtb_dns_first_qname(msg, size, host, NULL) == AVTB_PARSE_OK && strlen(host) == 0)
        __builtin_trap();
}

/* Feeds stream[0, size) to a fresh parser in chunks; chunk == 0 means all at once. */
static seen tcp_side(const uint8_t *stream, size_t size, uint64_t rng, int chunked,
                     const avtb_dns_config *lim, uint64_t *nmsg)
{
    seen s = {.hash = 0xcbf29ce484222325ull};
    avtb_dns_config c = *lim;
    avtb_dns_tcp *p;

    c.message = on_message;
    c.anomaly = on_anomaly;
    c.ctx = &s;
    p = avtb_dns_tcp_new(&c);
    size_t off = 0;
    int stop = 0;

    if (p == NULL)
        return s;
    while (off < size && !stop) {
        size_t n = size - off, used = 0, at = 0;
        uint8_t *chunk;

        if (chunked) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            n = 1 + (size_t)(rng % (rng & 0x100 ? 512 : 16));
            if (n > size - off)
                n = size - off;
        }
        chunk = malloc(n);
        if (chunk == NULL)
            break;
        memcpy(chunk, stream + off, n);
        while (at < n) {
            avtb_parse_result r = avtb_dns_tcp_parse(p, chunk + at, n - at, 2.0, &used);

            if (used > n - at)
                __builtin_trap();
            at += used;
            if (r != AVTB_PARSE_NEED_MORE) /* how many NEED_MOREs depends on the chunks */
                mix(&s, &r, sizeof(r));
            if (r == AVTB_PARSE_ERROR) {
                stop = 1;
                break;
            }
            if (r == AVTB_PARSE_NEED_MORE && at != n)
                __builtin_trap();
        }
        free(chunk);
        off += n;
    }
    avtb_dns_tcp_end(p, 3.0);
    *nmsg = avtb_dns_tcp_messages(p);
    if (avtb_dns_tcp_host(p) != NULL)
        mix(&s, avtb_dns_tcp_host(p), strlen(avtb_dns_tcp_host(p)));
    avtb_dns_tcp_free(p);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *msg = malloc(size ? size : 1);
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ size, n1 = 0, n2 = 0;
    avtb_dns_config defaults, small;
    seen whole, split;

    if (msg == NULL)
        return 0;
    memcpy(msg, data, size); /* exact-size copy: ASan catches over-reads */
    sink_side(msg, size);
    walk_side(msg, size);

    for (size_t i = 0; i < size && i < 16; i++)
        rng = (rng ^ data[i]) * 0x100000001b3ull;
    avtb_dns_config_default(&defaults);
    whole = tcp_side(msg, size, rng, 0, &defaults, &n1);
    split = tcp_side(msg, size, rng | 1, 1, &defaults, &n2);
    if (whole.hash != split.hash || n1 != n2 || whole.messages != split.messages)
        __builtin_trap();

    /* Tiny limits: the skip path and the view and anomaly caps. */
    avtb_dns_config_default(&small);
    small.tcp_max_message = 64;
    small.max_view_bytes = 100;
    small.max_anomalies = 1;
    whole = tcp_side(msg, size, rng, 0, &small, &n1);
    split = tcp_side(msg, size, rng | 1, 1, &small, &n2);
    if (whole.hash != split.hash || n1 != n2)
        __builtin_trap();
    free(msg);
    return 0;
}
