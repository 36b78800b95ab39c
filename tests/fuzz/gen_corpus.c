/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes the seed corpus for the fuzz harnesses (tests/fuzz/corpus/): the
 * captures with pcapgen, fuzz_stream's operation lists and fuzz_pcapng's
 * commented sections byte by byte. Run by hand when the seeds should change:
 *   gen_corpus tests/fuzz/corpus
 */
#include <pcap/dlt.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/pcapgen.h"

#define TOK0 "AVTBQ3F7K2M9XWZP4R8TAB"
#define TOK1 "AVTBM2N3B4V5C6X7Z2L3KJ"

static const char post[] = "POST /u HTTP/1.1\r\nHost: seed.example\r\nContent-Length: 26\r\n\r\n"
                           "t=" TOK0 "&x=1";

static int write_file(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[512];
    FILE *fp;
    int r;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "wb");
    if (fp == NULL)
        return -1;
    r = fwrite(buf, 1, len, fp) == len ? 0 : -1;
    return fclose(fp) == 0 ? r : -1;
}

static int one_flow(const char *dir, const char *name, int linktype, int ng, uint16_t vlan,
                    const char *cli, const char *srv, int out_of_order)
{
    char path[512];
    pcapgen *g;
    pg_tcp t;
    uint32_t n = (uint32_t)strlen(post);
    int r = 0;

    snprintf(path, sizeof(path), "%s/pcap/%s", dir, name);
    g = pcapgen_open(path, linktype, ng);
    if (g == NULL)
        return -1;
    pg_tcp_init(&t, g, cli, 40000, srv, 80);
    t.vlan = vlan;
    r |= pg_tcp_handshake(&t);
    if (out_of_order) {
        r |= pg_tcp_seg(&t, 1, 40, post + 40, n - 40);
        r |= pg_tcp_seg(&t, 1, 0, post, 40);
        r |= pg_tcp_seg(&t, 1, 0, post, 40); /* retransmission */
        t.coff = n;
    } else {
        r |= pg_tcp_send(&t, 1, post, n);
    }
    r |= pg_tcp_send(&t, 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38);
    r |= pg_tcp_close(&t);
    return pcapgen_close(g) | r;
}

static int udp_and_junk(const char *dir)
{
    char path[512];
    static const uint8_t junk[] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x4f, 0, 0, 9};
    pg_pkt p = {0};
    pcapgen *g;
    int r = 0;

    snprintf(path, sizeof(path), "%s/pcap/udp-dns-junk.pcap", dir);
    g = pcapgen_open(path, DLT_EN10MB, 0);
    if (g == NULL)
        return -1;
    p.src = "10.0.0.2";
    p.dst = "10.0.0.1";
    p.sport = 5353;
    p.dport = 53;
    p.proto = 17;
    p.payload = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x16" TOK1 "\x00\x00\x01\x00\x01";
    p.len = 12 + 1 + 22 + 5;
    p.ts = 1.0;
    r |= pcapgen_packet(g, &p);
    r |= pcapgen_frame(g, 2.0, junk, sizeof(junk), sizeof(junk));
    return pcapgen_close(g) | r;
}

/* --- fuzz_stream's operation lists (format in fuzz_stream.c) --- */

typedef struct ops {
    uint8_t b[4096];
    size_t n;
} ops;

static void put8(ops *o, unsigned v)
{
    if (o->n < sizeof(o->b))
        o->b[o->n++] = (uint8_t)v;
}

static void put16(ops *o, unsigned v)
{
    put8(o, v >> 8);
    put8(o, v);
}

static void put32(ops *o, uint32_t v)
{
    put16(o, v >> 16);
    put16(o, v & 0xffff);
}

/* mode, limits, ISNs: consistent mode is bit 0, small limits bit 1. */
static void ops_start(ops *o, unsigned mode, const uint8_t lim[4], uint32_t isn0, uint32_t isn1)
{
    o->n = 0;
    put8(o, mode);
    for (int i = 0; i < 4; i++)
        put8(o, lim ? lim[i] : 0);
    put32(o, isn0);
    put32(o, isn1);
}

/* Segment flags byte: direction, flow, FIN 0x10, SYN 0x20, RST 0x40, 0x80 no ACK. */
#define S_FIN   0x10
#define S_SYN   0x20
#define S_RST   0x40
#define S_NOACK 0x80

static void seg(ops *o, unsigned op, unsigned dir, unsigned flow, unsigned flags, unsigned off,
                unsigned len)
{
    put8(o, op);
    put8(o, dir | flow << 1 | flags);
    put16(o, off);
    put16(o, len);
}

static void handshake(ops *o, unsigned flow)
{
    seg(o, 0, 0, flow, S_SYN | S_NOACK, 0, 0);
    seg(o, 0, 1, flow, S_SYN, 0, 0);
}

static void frag(ops *o, unsigned dir, unsigned flow, unsigned id, unsigned off8, unsigned len)
{
    put8(o, 2);
    put8(o, dir | flow << 1 | id << 3);
    put8(o, off8);
    put16(o, len);
}

static int stream_seeds(const char *dir)
{
    static const uint8_t tight[4] = {0xff, 0x01, 0x21, 0x01};
    char d[512];
    ops o;
    int r = 0;

    snprintf(d, sizeof(d), "%s/stream", dir);
    /* In order, both directions, across the 2^32 wrap, closed by FINs. */
    ops_start(&o, 1, NULL, 0xffffffc0u, 0x1000);
    handshake(&o, 0);
    seg(&o, 0, 0, 0, 0, 0, 100);
    seg(&o, 0, 1, 0, 0, 0, 50);
    seg(&o, 0, 0, 0, S_FIN, 100, 20);
    seg(&o, 0, 1, 0, S_FIN, 50, 0);
    r |= write_file(d, "in-order-wrap", o.b, o.n);
    /* Out of order, overlapping both neighbours, then a retransmission of it all. */
    ops_start(&o, 1, NULL, 1000, 2000);
    handshake(&o, 0);
    seg(&o, 0, 0, 0, 0, 200, 100);
    seg(&o, 0, 0, 0, 0, 400, 50);
    seg(&o, 0, 0, 0, 0, 150, 300);
    seg(&o, 0, 0, 0, 0, 0, 160);
    seg(&o, 0, 0, 0, 0, 0, 450);
    seg(&o, 0, 0, 0, S_FIN, 450, 10);
    r |= write_file(d, "ooo-overlap-retransmit", o.b, o.n);
    /* Hold limits of one segment and a tiny window: holes given up, late and unchecked data. */
    ops_start(&o, 3, tight, 5, 9);
    handshake(&o, 0);
    seg(&o, 0, 0, 0, 0, 300, 10);
    seg(&o, 0, 0, 0, 0, 200, 10);
    seg(&o, 0, 0, 0, 0, 100, 10);
    seg(&o, 0, 0, 0, 0, 0, 400);
    seg(&o, 0, 0, 0, 0, 0, 20);
    r |= write_file(d, "hold-limits", o.b, o.n);
    /* A segment cut by the snaplen (op bit 8), then its full copy; no handshake. */
    ops_start(&o, 1, NULL, 77, 88);
    seg(&o, 8, 0, 1, 0, 10, 200);
    seg(&o, 0, 0, 1, 0, 10, 200);
    seg(&o, 0, 0, 1, 0, 0, 10);
    put8(&o, 0x07); /* flush every flow */
    r |= write_file(d, "snaplen-cut-mid-stream", o.b, o.n);
    /* One datagram in two fragments, last first, and a duplicate of the first. */
    ops_start(&o, 1, NULL, 4000, 8000);
    handshake(&o, 0);
    frag(&o, 0, 0, 1, 3, 0);
    frag(&o, 0, 0, 1, 0, 24);
    frag(&o, 0, 0, 1, 0, 24);
    put8(&o, 0x0b); /* let fragments time out */
    frag(&o, 0, 0, 2, 0, 16);
    r |= write_file(d, "fragments", o.b, o.n);
    /* Chaos: conflicting copies, an RST far off, a new ISN after data, port reuse. */
    ops_start(&o, 0, NULL, 0x7fffffff, 3);
    handshake(&o, 2);
    seg(&o, 0, 0, 2, 0, 1, 8);
    put32(&o, 0x41414141);
    put32(&o, 0x41414141);
    seg(&o, 0, 0, 2, 0, 1, 8);
    put32(&o, 0x42424242);
    put32(&o, 0x42424242);
    seg(&o, 4, 0, 2, S_RST, 0x7000, 0);
    seg(&o, 0, 0, 2, S_SYN | S_NOACK, 0x100, 0);
    seg(&o, 0, 0, 2, S_RST, 0x101, 0);
    seg(&o, 0, 0, 2, S_SYN | S_NOACK, 0x200, 0);
    r |= write_file(d, "chaos-conflicts-rst-new-isn", o.b, o.n);
    /* A table of one flow: a second flow needs the first closed and evicted. */
    ops_start(&o, 3, (const uint8_t[4]){0xff, 0xff, 0xff, 0xff}, 10, 20);
    handshake(&o, 0);
    seg(&o, 0, 0, 0, S_FIN, 0, 30);
    seg(&o, 0, 1, 0, S_FIN, 0, 30);
    handshake(&o, 1);
    seg(&o, 0, 0, 1, 0, 0, 30);
    r |= write_file(d, "flow-table-eviction", o.b, o.n);
    return r;
}

/* --- fuzz_pcapng: comments in both byte orders (pcapgen writes no comments) --- */

static void put32e(ops *o, uint32_t v, int big)
{
    for (int i = 0; i < 4; i++)
        put8(o, big ? v >> (24 - 8 * i) : v >> (8 * i));
}

static void put16e(ops *o, unsigned v, int big)
{
    put8(o, big ? v >> 8 : v);
    put8(o, big ? v : v >> 8);
}

static void opt_str(ops *o, unsigned code, const char *v, int big)
{
    size_t n = strlen(v);

    put16e(o, code, big);
    put16e(o, (unsigned)n, big);
    for (size_t i = 0; i < n; i++)
        put8(o, (uint8_t)v[i]);
    while (n++ % 4 != 0)
        put8(o, 0);
}

/* Starts a block; block_end writes both lengths once the body is there. */
static size_t block_start(ops *o, uint32_t type, int big)
{
    size_t at = o->n;

    put32e(o, type, big);
    put32e(o, 0, big);
    return at;
}

static void block_end(ops *o, size_t at, int big)
{
    uint32_t len = (uint32_t)(o->n - at + 4);
    size_t end = o->n;

    put32e(o, len, big);
    o->n = at + 4;
    put32e(o, len, big);
    o->n = end + 4;
}

static void pcapng_comments(ops *o, int big)
{
    static const uint8_t frame[14] = {0};
    size_t b;

    o->n = 0;
    b = block_start(o, 0x0A0D0D0A, big); /* section header */
    put32e(o, 0x1A2B3C4D, big);
    put16e(o, 1, big);
    put16e(o, 0, big);
    put32e(o, 0xffffffff, big);
    put32e(o, 0xffffffff, big);
    opt_str(o, 1, "run: fuzz-seed\nsink: 10.0.2.1\nguest: 10.0.2.15", big);
    opt_str(o, 0, "", big);
    block_end(o, b, big);
    b = block_start(o, 1, big); /* interface: Ethernet */
    put16e(o, 1, big);
    put16e(o, 0, big);
    put32e(o, 0, big);
    block_end(o, b, big);
    for (unsigned i = 1; i <= 3; i++) {
        b = block_start(o, i == 2 ? 3 : 6, big); /* EPB, SPB, EPB */
        if (i != 2) {
            put32e(o, 0, big);
            put32e(o, 0, big);
            put32e(o, i, big);
        }
        put32e(o, sizeof(frame), big);
        if (i != 2)
            put32e(o, sizeof(frame), big);
        for (size_t k = 0; k < sizeof(frame) + 2; k++)
            put8(o, k < sizeof(frame) ? frame[k] : 0);
        if (i == 1)
            opt_str(o, 1, "sni=upload.example", big);
        if (i == 3) {
            opt_str(o, 1, "second comment", big);
            opt_str(o, 1, "and a third", big);
        }
        block_end(o, b, big);
    }
    b = block_start(o, 0x0A0D0D0A, big); /* a second section */
    put32e(o, 0x1A2B3C4D, big);
    put16e(o, 1, big);
    put16e(o, 0, big);
    put32e(o, 0xffffffff, big);
    put32e(o, 0xffffffff, big);
    opt_str(o, 1, "second section", big);
    block_end(o, b, big);
}

static int pcapng_seeds(const char *dir)
{
    char d[512];
    ops o;
    int r = 0;

    snprintf(d, sizeof(d), "%s/pcapng", dir);
    pcapng_comments(&o, 1);
    r |= write_file(d, "big-endian-comments", o.b, o.n);
    pcapng_comments(&o, 0);
    r |= write_file(d, "little-endian-comments", o.b, o.n);
    return r;
}

int main(int argc, char **argv)
{
    static const uint8_t dns_a[] = "\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                                   "\x07"
                                   "example"
                                   "\x03"
                                   "com"
                                   "\x00\x00\x01\x00\x01";
    static const uint8_t dns_aaaa[] = "\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01"
                                      "\x03"
                                      "a\\b"
                                      "\x00\x00\x1c\x00\x01";
    static const char chunked[] =
        "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4\r\nabcd\r\n0\r\n\r\nGET / HTTP/1.0\r\n\r\n";
    const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    char http_dir[512], dns_dir[512];
    int r = 0;

    snprintf(http_dir, sizeof(http_dir), "%s/http", dir);
    snprintf(dns_dir, sizeof(dns_dir), "%s/dns", dir);
    r |= one_flow(dir, "http-eth.pcap", DLT_EN10MB, 0, 0, "10.0.0.2", "10.0.0.1", 0);
    r |= one_flow(dir, "http-ooo-vlan.pcap", DLT_EN10MB, 0, 7, "10.0.0.2", "10.0.0.1", 1);
    r |= one_flow(dir, "http-sll.pcap", DLT_LINUX_SLL, 0, 0, "10.0.0.2", "10.0.0.1", 0);
    r |= one_flow(dir, "http-ipv6.pcapng", DLT_EN10MB, 1, 0, "fd00::2", "fd00::1", 0);
    r |= udp_and_junk(dir);
    r |= write_file(http_dir, "post",
                    "\x01"
                    "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
                    1 + strlen("POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"));
    r |= write_file(http_dir, "chunked", chunked, sizeof(chunked) - 1);
    r |= write_file(dns_dir, "a", dns_a, sizeof(dns_a) - 1);
    r |= write_file(dns_dir, "aaaa", dns_aaaa, sizeof(dns_aaaa) - 1);
    r |= stream_seeds(dir);
    r |= pcapng_seeds(dir);
    if (r != 0)
        fprintf(stderr, "gen_corpus: writing into %s failed\n", dir);
    return r != 0;
}
