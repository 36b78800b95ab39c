/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark capture generator (not a test): writes a pcap of mixed upload
 * traffic from one guest to several servers, with canary tokens planted in
 * some messages, plain or base64'd, and prints the tokens to a file.
 *
 *   gen-capture OUT.pcap TOKENS.txt SIZE_MB [SEED]
 *
 * Traffic mix by bytes, roughly: HTTP/1.1 POST uploads with Content-Length
 * (keep-alive, 1 to 4 requests per connection), chunked POSTs, GETs with
 * query strings, raw TCP uploads of binary data, DNS queries over UDP.
 * Bodies are English-like text or random bytes. Deterministic for a seed.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTOKENS 100
#define MSS 1448

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* splitmix64: fast and good enough for traffic shapes. */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static FILE *out;
static uint64_t written;
static uint32_t ts_sec = 1790000000, ts_usec;

static void put_record(const uint8_t *frame, size_t len)
{
    uint32_t hdr[4] = {ts_sec, ts_usec, (uint32_t)len, (uint32_t)len};

    ts_usec += 37;
    if (ts_usec >= 1000000) {
        ts_usec -= 1000000;
        ts_sec++;
    }
    fwrite(hdr, sizeof(hdr), 1, out);
    fwrite(frame, 1, len, out);
    written += sizeof(hdr) + len;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
    uint32_t s = 0;

    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += (uint32_t)(p[n - 1] << 8);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* One IPv4 packet in an Ethernet frame; proto 6 (flags/seq/ack used) or 17. */
static void packet(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint8_t proto,
                   uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *data, size_t len)
{
    static uint8_t f[2048];
    size_t l4 = proto == 6 ? 20 : 8, ip_len = 20 + l4 + len;
    uint8_t *ip = f + 14, *th = ip + 20;

    memcpy(f, "\x52\x54\x00\x00\x00\x01\x52\x54\x00\x00\x00\x02\x08\x00", 14);
    memset(ip, 0, 20 + l4);
    ip[0] = 0x45;
    ip[2] = (uint8_t)(ip_len >> 8);
    ip[3] = (uint8_t)ip_len;
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, &src, 4);
    memcpy(ip + 16, &dst, 4);
    {
        uint16_t c = htons(csum(ip, 20));

        memcpy(ip + 10, &c, 2);
    }
    th[0] = (uint8_t)(sport >> 8);
    th[1] = (uint8_t)sport;
    th[2] = (uint8_t)(dport >> 8);
    th[3] = (uint8_t)dport;
    if (proto == 6) {
        uint32_t s = htonl(seq), a = htonl(ack);

        memcpy(th + 4, &s, 4);
        memcpy(th + 8, &a, 4);
        th[12] = 0x50;
        th[13] = flags;
        th[14] = 0xff;
        th[15] = 0xff;
    } else {
        th[4] = (uint8_t)((8 + len) >> 8);
        th[5] = (uint8_t)(8 + len);
    }
    memcpy(th + l4, data, len);
    put_record(f, 14 + ip_len);
}

typedef struct conn {
    uint32_t cip, sip;
    uint16_t cport, sport;
    uint32_t cseq, sseq;
} conn;

static void tcp_open(conn *c, uint32_t sip, uint16_t sport)
{
    static uint16_t next_port = 20000;

    c->cip = inet_addr("10.213.0.10");
    c->sip = sip;
    c->cport = next_port++;
    if (next_port > 60000)
        next_port = 20000;
    c->sport = sport;
    c->cseq = (uint32_t)rnd();
    c->sseq = (uint32_t)rnd();
    packet(c->cip, c->sip, c->cport, c->sport, 6, 0x02, c->cseq++, 0, NULL, 0);
    packet(c->sip, c->cip, c->sport, c->cport, 6, 0x12, c->sseq++, c->cseq, NULL, 0);
    packet(c->cip, c->sip, c->cport, c->sport, 6, 0x10, c->cseq, c->sseq, NULL, 0);
}

static void tcp_send(conn *c, const uint8_t *data, size_t len)
{
    for (size_t off = 0, n = 0; off < len; off += MSS, n++) {
        size_t seg = len - off < MSS ? len - off : MSS;

        packet(c->cip, c->sip, c->cport, c->sport, 6, 0x18, c->cseq, c->sseq, data + off, seg);
        c->cseq += (uint32_t)seg;
        if (n % 2 == 1)
            packet(c->sip, c->cip, c->sport, c->cport, 6, 0x10, c->sseq, c->cseq, NULL, 0);
    }
}

static void tcp_reply(conn *c, const char *text)
{
    size_t n = strlen(text);

    packet(c->sip, c->cip, c->sport, c->cport, 6, 0x18, c->sseq, c->cseq, (const uint8_t *)text,
           n);
    c->sseq += (uint32_t)n;
}

static void tcp_close(conn *c)
{
    packet(c->cip, c->sip, c->cport, c->sport, 6, 0x11, c->cseq++, c->sseq, NULL, 0);
    packet(c->sip, c->cip, c->sport, c->cport, 6, 0x11, c->sseq++, c->cseq, NULL, 0);
    packet(c->cip, c->sip, c->cport, c->sport, 6, 0x10, c->cseq, c->sseq, NULL, 0);
}

static const char *words[] = {
    "the",       "report",  "budget",   "ministry", "of",       "defence", "analysis",
    "security",  "network", "document", "and",      "to",       "draft",   "review",
    "programme", "capital", "a",        "with",     "for",      "meeting", "minutes",
    "agreed",    "action",  "officer",  "risk",     "cyber",    "policy",  "data",
};

static char tokens[NTOKENS][32];
static unsigned long long planted_plain, planted_b64;

static void make_tokens(void)
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    for (int i = 0; i < NTOKENS; i++) {
        memcpy(tokens[i], "AVTB", 4);
        for (int j = 4; j < 22; j++)
            tokens[i][j] = b32[rnd() % 32];
        tokens[i][22] = '\0';
    }
}

static size_t b64(const uint8_t *in, size_t n, char *o)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t w = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);

        o[w++] = a[v >> 18 & 63];
        o[w++] = a[v >> 12 & 63];
        o[w++] = i + 1 < n ? a[v >> 6 & 63] : '=';
        o[w++] = i + 2 < n ? a[v & 63] : '=';
    }
    return w;
}

static uint8_t *text_pool, *bin_pool;
#define POOL (4u << 20)

static void make_pools(void)
{
    size_t w = 0;

    text_pool = malloc(POOL + 64);
    bin_pool = malloc(POOL);
    while (w < POOL) {
        const char *word = words[rnd() % (sizeof(words) / sizeof(words[0]))];
        size_t n = strlen(word);

        memcpy(text_pool + w, word, n);
        w += n;
        text_pool[w++] = rnd() % 12 == 0 ? '\n' : ' ';
    }
    for (size_t i = 0; i < POOL; i += 8) {
        uint64_t v = rnd();

        memcpy(bin_pool + i, &v, 8);
    }
}

/* A body of n bytes; sometimes carries a token, plain or base64'd. */
static uint8_t *body(size_t n, int binary)
{
    uint8_t *b = malloc(n + 128);
    size_t off = rnd() % (POOL - n);

    memcpy(b, (binary ? bin_pool : text_pool) + off, n);
    if (n > 200 && rnd() % 4 == 0) {
        const char *t = tokens[rnd() % NTOKENS];
        size_t at = rnd() % (n - 100);

        if (rnd() % 3 == 0) {
            char enc[64];
            char src[48];
            size_t sl = (size_t)snprintf(src, sizeof(src), "ref %s.", t);
            size_t el = b64((const uint8_t *)src, sl, enc);

            memcpy(b + at, enc, el);
            planted_b64++;
        } else {
            memcpy(b + at, t, strlen(t));
            planted_plain++;
        }
    }
    return b;
}

static void http_flow(uint64_t target)
{
    conn c;
    int reqs = 1 + (int)(rnd() % 4);
    char hdr[512];

    tcp_open(&c, inet_addr("10.213.0.1"), 80);
    for (int i = 0; i < reqs && written < target; i++) {
        size_t n = 16384 + rnd() % (1u << 20);
        int chunked = rnd() % 4 == 0;
        uint8_t *b = body(n, rnd() % 3 == 0);
        int hl;

        if (chunked) {
            hl = snprintf(hdr, sizeof(hdr),
                          "POST /api/v1/submit?id=%llu HTTP/1.1\r\nHost: upload.vendor%d.example\r\n"
                          "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
                          (unsigned long long)rnd() % 100000, (int)(rnd() % 5));
            tcp_send(&c, (const uint8_t *)hdr, (size_t)hl);
            for (size_t off = 0; off < n;) {
                size_t cl = 4096 + rnd() % 60000;

                if (cl > n - off)
                    cl = n - off;
                hl = snprintf(hdr, sizeof(hdr), "%zx\r\n", cl);
                tcp_send(&c, (const uint8_t *)hdr, (size_t)hl);
                tcp_send(&c, b + off, cl);
                tcp_send(&c, (const uint8_t *)"\r\n", 2);
                off += cl;
            }
            tcp_send(&c, (const uint8_t *)"0\r\n\r\n", 5);
        } else {
            hl = snprintf(hdr, sizeof(hdr),
                          "POST /upload HTTP/1.1\r\nHost: cloud.vendor%d.example\r\n"
                          "User-Agent: scanner/1.0\r\nContent-Type: text/plain\r\n"
                          "Content-Length: %zu\r\n\r\n",
                          (int)(rnd() % 5), n);
            tcp_send(&c, (const uint8_t *)hdr, (size_t)hl);
            tcp_send(&c, b, n);
        }
        free(b);
        tcp_reply(&c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
    tcp_close(&c);
}

static void raw_flow(void)
{
    conn c;
    size_t n = 65536 + rnd() % (2u << 20);
    uint8_t *b = body(n, 1);

    tcp_open(&c, inet_addr("10.213.0.1"), 9000);
    tcp_send(&c, b, n);
    tcp_close(&c);
    free(b);
}

static void get_flow(void)
{
    conn c;
    char req[512];
    int n;

    tcp_open(&c, inet_addr("10.213.0.1"), 80);
    for (int i = 0; i < 20; i++) {
        n = snprintf(req, sizeof(req),
                     "GET /v1/signatures?check=%d&client=%llx HTTP/1.1\r\nHost: update.vendor.example\r\n\r\n",
                     i, (unsigned long long)rnd());
        tcp_send(&c, (const uint8_t *)req, (size_t)n);
        tcp_reply(&c, "HTTP/1.1 204 No Content\r\n\r\n");
    }
    tcp_close(&c);
}

static void dns_burst(void)
{
    uint8_t q[512];

    for (int i = 0; i < 20; i++) {
        size_t w = 12;
        const char *labels[] = {"telemetry", "vendor", "example"};

        memset(q, 0, 12);
        q[0] = (uint8_t)rnd();
        q[1] = (uint8_t)rnd();
        q[2] = 0x01;
        q[5] = 1;
        for (int l = 0; l < 3; l++) {
            size_t ln = strlen(labels[l]);

            q[w++] = (uint8_t)ln;
            memcpy(q + w, labels[l], ln);
            w += ln;
        }
        q[w++] = 0;
        q[w++] = 0;
        q[w++] = 1;
        q[w++] = 0;
        q[w++] = 1;
        packet(inet_addr("10.213.0.10"), inet_addr("10.213.0.1"), (uint16_t)(30000 + i), 53, 17, 0,
               0, 0, q, w);
    }
}

int main(int argc, char **argv)
{
    uint64_t target;
    FILE *tf;
    uint32_t gh[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};

    if (argc < 4) {
        fprintf(stderr, "usage: gen-capture OUT.pcap TOKENS.txt SIZE_MB [SEED]\n");
        return 2;
    }
    target = strtoull(argv[3], NULL, 10) << 20;
    rng_state = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    out = fopen(argv[1], "wb");
    tf = fopen(argv[2], "w");
    if (out == NULL || tf == NULL) {
        perror("gen-capture");
        return 1;
    }
    setvbuf(out, NULL, _IOFBF, 1 << 20);
    fwrite(gh, sizeof(gh), 1, out);
    written = sizeof(gh);
    make_tokens();
    make_pools();
    for (int i = 0; i < NTOKENS; i++)
        fprintf(tf, "%s\n", tokens[i]);
    fclose(tf);
    while (written < target) {
        unsigned k = (unsigned)(rnd() % 20);

        if (k < 14)
            http_flow(target);
        else if (k < 17)
            raw_flow();
        else if (k < 19)
            get_flow();
        else
            dns_burst();
    }
    fclose(out);
    fprintf(stderr, "gen-capture: %llu bytes, tokens planted: %llu plain, %llu base64\n",
            (unsigned long long)written, planted_plain, planted_b64);
    free(text_pool);
    free(bin_pool);
    return 0;
}
