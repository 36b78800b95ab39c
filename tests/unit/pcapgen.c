/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pcap/pcapng writer for tests; see pcapgen.h. Written by hand rather than
 * with pcap_dump so that the same code can produce pcapng and records whose
 * captured length is shorter than the wire length.
 */
#include "tests/unit/pcapgen.h"

#include <arpa/inet.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAME 70000

struct pcapgen {
    FILE *fp;
    int linktype;
    bool ng;
    int err;
};

static void put(pcapgen *g, const void *p, size_t n)
{
    if (n > 0 && fwrite(p, 1, n, g->fp) != n)
        g->err = -1;
}

static void put32(pcapgen *g, uint32_t v)
{
    put(g, &v, 4); /* host order: both formats carry a byte-order magic */
}

static void put16(pcapgen *g, uint16_t v)
{
    put(g, &v, 2);
}

pcapgen *pcapgen_open(const char *path, int linktype, bool ng)
{
    pcapgen *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return NULL;
    g->fp = fopen(path, "wb");
    if (g->fp == NULL) {
        free(g);
        return NULL;
    }
    g->linktype = linktype;
    g->ng = ng;
    if (ng) {
        put32(g, 0x0a0d0d0a); /* section header block */
        put32(g, 28);
        put32(g, 0x1a2b3c4d);
        put16(g, 1);
        put16(g, 0);
        put32(g, 0xffffffff); /* section length unknown */
        put32(g, 0xffffffff);
        put32(g, 28);
        put32(g, 1); /* interface description block, microsecond timestamps */
        put32(g, 20);
        put16(g, (uint16_t)linktype);
        put16(g, 0);
        put32(g, 262144);
        put32(g, 20);
    } else {
        put32(g, 0xa1b2c3d4);
        put16(g, 2);
        put16(g, 4);
        put32(g, 0);
        put32(g, 0);
        put32(g, 262144);
        put32(g, (uint32_t)linktype);
    }
    return g;
}

int pcapgen_close(pcapgen *g)
{
    int r;

    if (g == NULL)
        return -1;
    r = g->err;
    if (fclose(g->fp) != 0)
        r = -1;
    free(g);
    return r;
}

int pcapgen_frame(pcapgen *g, double ts, const void *frame, size_t caplen, size_t len)
{
    uint64_t us = (uint64_t)(ts * 1e6 + 0.5);
    static const uint8_t zero[4];

    if (g->ng) {
        uint32_t pad = (uint32_t)((4 - caplen % 4) % 4);
        uint32_t blen = (uint32_t)(32 + caplen + pad);

        put32(g, 6);
        put32(g, blen);
        put32(g, 0);
        put32(g, (uint32_t)(us >> 32));
        put32(g, (uint32_t)us);
        put32(g, (uint32_t)caplen);
        put32(g, (uint32_t)len);
        put(g, frame, caplen);
        put(g, zero, pad);
        put32(g, blen);
    } else {
        put32(g, (uint32_t)(us / 1000000));
        put32(g, (uint32_t)(us % 1000000));
        put32(g, (uint32_t)caplen);
        put32(g, (uint32_t)len);
        put(g, frame, caplen);
    }
    return g->err;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)(p[n - 1] << 8);
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

int pcapgen_packet(pcapgen *g, const pg_pkt *p)
{
    static uint8_t f[MAX_FRAME];
    uint8_t src[16], dst[16];
    bool v6 = strchr(p->src, ':') != NULL;
    size_t alen = v6 ? 16 : 4, l2, l3, l4 = p->proto == 6 ? 20 : 8, total;
    uint16_t ethertype = v6 ? 0x86dd : 0x0800;
    uint8_t *ip, *tp;
    uint32_t sum;

    if (inet_pton(v6 ? AF_INET6 : AF_INET, p->src, src) != 1 ||
        inet_pton(v6 ? AF_INET6 : AF_INET, p->dst, dst) != 1)
        return -1;
    memset(f, 0, 64);
    if (g->linktype == DLT_LINUX_SLL) {
        wr16(f, 4);     /* sent by us */
        wr16(f + 2, 1); /* ARPHRD_ETHER */
        wr16(f + 4, 6);
        memcpy(f + 6, "\x02\x00\x00\x00\x00\x02", 6);
        l2 = 16;
    } else {
        memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
        l2 = 14;
    }
    if (p->vlan != 0) {
        wr16(f + l2 - 2, 0x8100);
        wr16(f + l2, p->vlan & 0x0fff);
        l2 += 4;
    }
    wr16(f + l2 - 2, ethertype);
    l3 = v6 ? 40 : 20;
    total = l3 + l4 + p->len;
    if (l2 + total > MAX_FRAME)
        return -1;
    ip = f + l2;
    tp = ip + l3;
    memset(ip, 0, l3 + l4);
    if (v6) {
        ip[0] = 0x60;
        wr16(ip + 4, (uint16_t)(l4 + p->len));
        ip[6] = p->proto;
        ip[7] = 64;
        memcpy(ip + 8, src, 16);
        memcpy(ip + 24, dst, 16);
    } else {
        ip[0] = 0x45;
        wr16(ip + 2, (uint16_t)total);
        wr16(ip + 6, 0x4000); /* DF */
        ip[8] = 64;
        ip[9] = p->proto;
        memcpy(ip + 12, src, 4);
        memcpy(ip + 16, dst, 4);
        wr16(ip + 10, csum_fold(csum_add(0, ip, 20)));
    }
    wr16(tp, p->sport);
    wr16(tp + 2, p->dport);
    if (p->proto == 6) {
        wr32(tp + 4, p->seq);
        wr32(tp + 8, p->ack);
        tp[12] = 5 << 4;
        tp[13] = p->flags;
        wr16(tp + 14, 65535);
    } else {
        wr16(tp + 4, (uint16_t)(8 + p->len));
    }
    if (p->len > 0)
        memcpy(tp + l4, p->payload, p->len);
    /* Real checksums, so the files also read cleanly in Wireshark. */
    sum = csum_add(0, src, alen);
    sum = csum_add(sum, dst, alen);
    sum += p->proto;
    sum += (uint32_t)(l4 + p->len);
    sum = csum_add(sum, tp, l4 + p->len);
    wr16(tp + (p->proto == 6 ? 16 : 6), csum_fold(sum));
    return pcapgen_frame(g, p->ts, f, p->cut ? p->cut : l2 + total, l2 + total);
}

void pg_tcp_init(pg_tcp *t, pcapgen *g, const char *cli, uint16_t cport, const char *srv,
                 uint16_t sport)
{
    memset(t, 0, sizeof(*t));
    t->g = g;
    t->cli = cli;
    t->srv = srv;
    t->cport = cport;
    t->sport = sport;
    t->cisn = 1000000u + cport;
    t->sisn = 4294000000u; /* wraps during long streams: exercises seq arithmetic */
    t->ts = 1700000000.0;
}

static int tcp_pkt(pg_tcp *t, bool from_client, uint32_t seq, uint8_t flags, const void *data,
                   size_t len)
{
    pg_pkt p = {0};

    p.src = from_client ? t->cli : t->srv;
    p.dst = from_client ? t->srv : t->cli;
    p.sport = from_client ? t->cport : t->sport;
    p.dport = from_client ? t->sport : t->cport;
    p.proto = 6;
    p.seq = seq;
    p.ack = from_client ? t->sisn + 1 + t->soff : t->cisn + 1 + t->coff;
    p.flags = flags;
    p.payload = data;
    p.len = len;
    p.vlan = t->vlan;
    t->ts += 0.001;
    p.ts = t->ts;
    return pcapgen_packet(t->g, &p);
}

int pg_tcp_handshake(pg_tcp *t)
{
    pg_pkt p = {0};
    int r = 0;

    p.src = t->cli;
    p.dst = t->srv;
    p.sport = t->cport;
    p.dport = t->sport;
    p.proto = 6;
    p.seq = t->cisn;
    p.flags = PG_SYN;
    p.vlan = t->vlan;
    t->ts += 0.001;
    p.ts = t->ts;
    r |= pcapgen_packet(t->g, &p);
    r |= tcp_pkt(t, false, t->sisn, PG_SYN | PG_ACK, NULL, 0);
    r |= tcp_pkt(t, true, t->cisn + 1, PG_ACK, NULL, 0);
    return r;
}

int pg_tcp_seg(pg_tcp *t, bool from_client, uint32_t off, const void *data, size_t len)
{
    uint32_t isn = from_client ? t->cisn : t->sisn;

    return tcp_pkt(t, from_client, isn + 1 + off, PG_ACK | PG_PSH, data, len);
}

int pg_tcp_send(pg_tcp *t, bool from_client, const void *data, size_t len)
{
    uint32_t *off = from_client ? &t->coff : &t->soff;
    int r = pg_tcp_seg(t, from_client, *off, data, len);

    *off += (uint32_t)len;
    return r;
}

int pg_tcp_close(pg_tcp *t)
{
    int r = 0;

    r |= tcp_pkt(t, true, t->cisn + 1 + t->coff, PG_FIN | PG_ACK, NULL, 0);
    t->coff++;
    r |= tcp_pkt(t, false, t->sisn + 1 + t->soff, PG_FIN | PG_ACK, NULL, 0);
    t->soff++;
    r |= tcp_pkt(t, true, t->cisn + 1 + t->coff, PG_ACK, NULL, 0);
    return r;
}
