/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pcap/pcapng writer for tests; see pcapgen.h. Written by hand rather than
 * with pcap_dump so that the same code can produce pcapng, either byte
 * order, nanosecond timestamps and records whose captured length is shorter
 * than the wire length.
 */
#include "tests/unit/pcapgen.h"

#include <arpa/inet.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAME    70000
#define LINKTYPE_RAW 101 /* the file value; DLT_RAW differs between systems */

struct pcapgen {
    FILE *fp;
    int linktype;
    bool ng;
    bool nanosec;
    bool swapped;
    int err;
};

static void put(pcapgen *g, const void *p, size_t n)
{
    if (n > 0 && fwrite(p, 1, n, g->fp) != n)
        g->err = -1;
}

/* Host order (or swapped): both formats carry a byte-order magic. */
static void put32(pcapgen *g, uint32_t v)
{
    if (g->swapped)
        v = __builtin_bswap32(v);
    put(g, &v, 4);
}

static void put16(pcapgen *g, uint16_t v)
{
    if (g->swapped)
        v = __builtin_bswap16(v);
    put(g, &v, 2);
}

static uint32_t file_linktype(int linktype)
{
    return linktype == DLT_RAW ? LINKTYPE_RAW : (uint32_t)linktype;
}

pcapgen *pcapgen_open_ex(const char *path, const pcapgen_opts *o)
{
    pcapgen *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return NULL;
    g->fp = fopen(path, "wb");
    if (g->fp == NULL) {
        free(g);
        return NULL;
    }
    g->linktype = o->linktype;
    g->ng = o->ng;
    g->nanosec = o->nanosec;
    g->swapped = o->swapped;
    if (g->ng) {
        uint32_t idb_len = g->nanosec ? 32 : 20;

        put32(g, 0x0a0d0d0a); /* section header block */
        put32(g, 28);
        put32(g, 0x1a2b3c4d);
        put16(g, 1);
        put16(g, 0);
        put32(g, 0xffffffff); /* section length unknown */
        put32(g, 0xffffffff);
        put32(g, 28);
        put32(g, 1); /* interface description block */
        put32(g, idb_len);
        put16(g, (uint16_t)file_linktype(g->linktype));
        put16(g, 0);
        put32(g, 262144);
        if (g->nanosec) {
            static const uint8_t pad[3];
            uint8_t resol = 9;

            put16(g, 9); /* if_tsresol: 10^-9 */
            put16(g, 1);
            put(g, &resol, 1);
            put(g, pad, 3);
            put16(g, 0); /* opt_endofopt */
            put16(g, 0);
        }
        put32(g, idb_len);
    } else {
        put32(g, g->nanosec ? 0xa1b23c4d : 0xa1b2c3d4);
        put16(g, 2);
        put16(g, 4);
        put32(g, 0);
        put32(g, 0);
        put32(g, 262144);
        put32(g, file_linktype(g->linktype));
    }
    return g;
}

pcapgen *pcapgen_open(const char *path, int linktype, bool ng)
{
    pcapgen_opts o = {0};

    o.linktype = linktype;
    o.ng = ng;
    return pcapgen_open_ex(path, &o);
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
    uint64_t unit = g->nanosec ? 1000000000u : 1000000u;
    uint64_t t = (uint64_t)(ts * (double)unit + 0.5);
    static const uint8_t zero[4];

    if (g->ng) {
        uint32_t pad = (uint32_t)((4 - caplen % 4) % 4);
        uint32_t blen = (uint32_t)(32 + caplen + pad);

        put32(g, 6);
        put32(g, blen);
        put32(g, 0);
        put32(g, (uint32_t)(t >> 32));
        put32(g, (uint32_t)t);
        put32(g, (uint32_t)caplen);
        put32(g, (uint32_t)len);
        put(g, frame, caplen);
        put(g, zero, pad);
        put32(g, blen);
    } else {
        put32(g, (uint32_t)(t / unit));
        put32(g, (uint32_t)(t % unit));
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

/* Where the parts of a built IP packet are. */
typedef struct ip_layout {
    bool v6;
    size_t unfrag; /* IPv4: the header; IPv6: the header and a leading hop-by-hop header */
    size_t total;  /* the whole packet */
    size_t
        nh_at; /* IPv6: offset of the next-header byte that names the first fragmentable header */
} ip_layout;

static size_t build_ip(const pg_pkt *p, uint8_t *buf, size_t cap, ip_layout *lay)
{
    uint8_t src[16], dst[16];
    bool v6 = strchr(p->src, ':') != NULL;
    size_t alen = v6 ? 16 : 4, l3, l4 = p->proto == 6 ? 20 : 8, total;
    uint8_t *tp;
    uint32_t sum;

    memset(lay, 0, sizeof(*lay));
    if (inet_pton(v6 ? AF_INET6 : AF_INET, p->src, src) != 1 ||
        inet_pton(v6 ? AF_INET6 : AF_INET, p->dst, dst) != 1)
        return 0;
    if (p->ip_opts_len % 4 != 0 || p->ip_opts_len > 40 || p->nv6ext > 4)
        return 0;
    l3 = v6 ? 40 + 8 * p->nv6ext : 20 + p->ip_opts_len;
    total = l3 + l4 + p->len;
    if (total > cap || total > 65535 + (v6 ? 40 : 0))
        return 0;
    memset(buf, 0, l3 + l4);
    if (v6) {
        uint8_t *nh = &buf[6];

        buf[0] = 0x60;
        wr16(buf + 4, (uint16_t)(total - 40));
        buf[7] = 64;
        memcpy(buf + 8, src, 16);
        memcpy(buf + 24, dst, 16);
        lay->unfrag = 40;
        lay->nh_at = 6;
        for (size_t i = 0; i < p->nv6ext; i++) {
            uint8_t *e = buf + 40 + 8 * i;

            *nh = p->v6ext[i];
            if (i == 0 && p->v6ext[i] == 0) { /* hop-by-hop stays outside the fragments */
                lay->unfrag = 48;
                lay->nh_at = 40;
            }
            e[1] = 0; /* 8 bytes */
            if (p->v6ext[i] == 0 || p->v6ext[i] == 60) {
                e[2] = 1; /* PadN over the remaining 6 bytes */
                e[3] = 4;
            } else if (p->v6ext[i] == 43) {
                e[2] = 4; /* segment routing type, no segments left */
            }
            nh = &e[0];
        }
        *nh = p->proto;
    } else {
        buf[0] = (uint8_t)(0x40 | l3 / 4);
        wr16(buf + 2, (uint16_t)total);
        wr16(buf + 4, (uint16_t)p->ipid);
        wr16(buf + 6, 0x4000); /* DF */
        buf[8] = 64;
        buf[9] = p->proto;
        memcpy(buf + 12, src, 4);
        memcpy(buf + 16, dst, 4);
        if (p->ip_opts_len > 0)
            memcpy(buf + 20, p->ip_opts, p->ip_opts_len);
        wr16(buf + 10, csum_fold(csum_add(0, buf, l3)));
        lay->unfrag = l3;
    }
    tp = buf + l3;
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
    lay->v6 = v6;
    lay->total = total;
    return total;
}

size_t pg_build_ip(const pg_pkt *p, uint8_t *buf, size_t cap)
{
    ip_layout lay;

    return build_ip(p, buf, cap, &lay);
}

/* The link-layer header for an IP packet of version v6 in g's link type; its length. */
static size_t link_header(const pcapgen *g, const pg_pkt *p, bool v6, uint8_t *f)
{
    size_t l2, slot;
    uint32_t fam;

    switch (g->linktype) {
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
        return 0;
    case DLT_NULL:
        fam = v6 ? 30 : 2; /* host order, AF_INET6 as on macOS */
        memcpy(f, &fam, 4);
        return 4;
    case DLT_LOOP:
        wr32(f, v6 ? 24 : 2); /* network order, AF_INET6 as on OpenBSD */
        return 4;
    case DLT_LINUX_SLL:
        memset(f, 0, 16);
        wr16(f, 4);     /* sent by us */
        wr16(f + 2, 1); /* ARPHRD_ETHER */
        wr16(f + 4, 6);
        memcpy(f + 6, "\x02\x00\x00\x00\x00\x02", 6);
        slot = 14;
        l2 = 16;
        break;
    case DLT_LINUX_SLL2:
        memset(f, 0, 20);
        wr32(f + 4, 2); /* interface index */
        wr16(f + 8, 1); /* ARPHRD_ETHER */
        f[10] = 4;      /* sent by us */
        f[11] = 6;
        memcpy(f + 12, "\x02\x00\x00\x00\x00\x02", 6);
        slot = 0;
        l2 = 20;
        break;
    default:
        memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
        slot = 12;
        l2 = 14;
        break;
    }
    if (p->svlan != 0) {
        wr16(f + slot, 0x88a8);
        wr16(f + l2, p->svlan & 0x0fff);
        slot = l2 + 2;
        l2 += 4;
    }
    if (p->vlan != 0) {
        wr16(f + slot, 0x8100);
        wr16(f + l2, p->vlan & 0x0fff);
        slot = l2 + 2;
        l2 += 4;
    }
    wr16(f + slot, v6 ? 0x86dd : 0x0800);
    return l2;
}

int pcapgen_ip(pcapgen *g, const pg_pkt *p, const void *ip, size_t len)
{
    static uint8_t f[MAX_FRAME];
    size_t l2;

    if (len < 1 || len > MAX_FRAME - 64)
        return -1;
    l2 = link_header(g, p, ((const uint8_t *)ip)[0] >> 4 == 6, f);
    memcpy(f + l2, ip, len);
    return pcapgen_frame(g, p->ts, f, p->cut ? p->cut : l2 + len, l2 + len);
}

int pcapgen_packet(pcapgen *g, const pg_pkt *p)
{
    static uint8_t ip[MAX_FRAME];
    size_t n = pg_build_ip(p, ip, MAX_FRAME - 64);

    if (n == 0)
        return -1;
    return pcapgen_ip(g, p, ip, n);
}

size_t pg_frag_total(const pg_pkt *p)
{
    static uint8_t ip[MAX_FRAME];
    ip_layout lay;

    if (build_ip(p, ip, sizeof(ip), &lay) == 0)
        return 0;
    return lay.total - lay.unfrag;
}

int pcapgen_fragments(pcapgen *g, const pg_pkt *p, const pg_frag *frags, size_t n)
{
    static uint8_t whole[MAX_FRAME], out[MAX_FRAME];
    ip_layout lay;
    size_t fragable;
    int r = 0;

    if (build_ip(p, whole, sizeof(whole), &lay) == 0)
        return -1;
    fragable = lay.total - lay.unfrag;
    for (size_t i = 0; i < n; i++) {
        const pg_frag *fr = &frags[i];
        const uint8_t *data = fr->data ? fr->data : whole + lay.unfrag + fr->off;
        bool more =
            fr->more == PG_MF_SET || (fr->more == PG_MF_AUTO && fr->off + fr->len < fragable);
        pg_pkt q = *p;
        size_t len;

        if (fr->data == NULL && fr->off + fr->len > fragable)
            return -1;
        memcpy(out, whole, lay.unfrag);
        if (lay.v6) {
            uint8_t *fh = out + lay.unfrag;

            len = lay.unfrag + 8 + fr->len;
            if (len > sizeof(out))
                return -1;
            fh[0] = whole[lay.nh_at]; /* what the fragmentable part starts with */
            fh[1] = 0;
            wr16(fh + 2, (uint16_t)(fr->off | (more ? 1 : 0)));
            wr32(fh + 4, p->ipid);
            out[lay.nh_at] = 44;
            wr16(out + 4, (uint16_t)(len - 40));
            memcpy(fh + 8, data, fr->len);
        } else {
            len = lay.unfrag + fr->len;
            if (len > 65535)
                return -1;
            wr16(out + 2, (uint16_t)len);
            wr16(out + 6, (uint16_t)((more ? 0x2000 : 0) | (fr->off / 8)));
            wr16(out + 10, 0);
            wr16(out + 10, csum_fold(csum_add(0, out, lay.unfrag)));
            memcpy(out + lay.unfrag, data, fr->len);
        }
        q.ts = fr->ts != 0 ? fr->ts : p->ts + 0.001 * (double)i;
        r |= pcapgen_ip(g, &q, out, len);
    }
    return r;
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
    p.svlan = t->svlan;
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
    p.svlan = t->svlan;
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
