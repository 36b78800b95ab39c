/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper: writes small pcap/pcapng files from hand-built Ethernet
 * (802.1Q/802.1ad tags), Linux cooked v1/v2, raw IP and BSD loopback
 * frames carrying IPv4 (with options) or IPv6 (with extension headers),
 * whole or in fragments, and TCP/UDP, so analyzer tests and fuzz seeds need
 * no recorded traffic, no root and no network.
 */
#ifndef AVTB_TEST_PCAPGEN_H
#define AVTB_TEST_PCAPGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pcapgen pcapgen;

/*
 * linktype is DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_IPV4,
 * DLT_IPV6, DLT_NULL or DLT_LOOP (any other is written as is, for tests of
 * unsupported types); ng selects pcapng. NULL on error.
 */
pcapgen *pcapgen_open(const char *path, int linktype, bool ng);

typedef struct pcapgen_opts {
    int linktype;
    bool ng;      /* pcapng (SHB + IDB + EPBs) instead of pcap */
    bool nanosec; /* nanosecond timestamps (pcap magic a1b23c4d, pcapng if_tsresol 9) */
    bool swapped; /* the other byte order than this host's */
} pcapgen_opts;

pcapgen *pcapgen_open_ex(const char *path, const pcapgen_opts *o);
/* Returns 0 when every write succeeded. */
int pcapgen_close(pcapgen *g);
/* A link-layer frame as is; caplen < len writes a snaplen-cut record. */
int pcapgen_frame(pcapgen *g, double ts, const void *frame, size_t caplen, size_t len);

typedef struct pg_pkt {
    const char *src, *dst; /* "10.0.0.2" or "fd00::2" */
    uint16_t sport, dport;
    uint8_t proto; /* 6 TCP, 17 UDP */
    uint32_t seq, ack;
    uint8_t flags; /* TCP flags (PG_SYN, ...) */
    const void *payload;
    size_t len;
    uint16_t vlan; /* 802.1Q VLAN id; 0 for none */
    size_t cut;    /* if non-zero, capture only this many bytes of the frame */
    double ts;
    /* Added; zero keeps the old frames byte for byte. */
    uint16_t svlan;      /* 802.1ad service tag (0x88a8) in front of vlan; 0 for none */
    uint32_t ipid;       /* IPv4 identification (16 bits), IPv6 fragment id */
    const void *ip_opts; /* IPv4 options, ip_opts_len bytes (a multiple of 4, <= 40) */
    size_t ip_opts_len;
    uint8_t
        v6ext[4]; /* IPv6 extension headers in order (0 HOP, 43 ROUTING, 60 DST), 8 bytes each */
    size_t nv6ext;
} pg_pkt;

#define PG_FIN 0x01
#define PG_SYN 0x02
#define PG_RST 0x04
#define PG_PSH 0x08
#define PG_ACK 0x10

/* Builds the frame for p in g's link type and writes it. */
int pcapgen_packet(pcapgen *g, const pg_pkt *p);
/*
 * The IP packet of p (IP header with options or extension headers, TCP/UDP
 * header with a correct checksum, payload) into buf; its length, 0 when it
 * does not fit or an address does not parse.
 */
size_t pg_build_ip(const pg_pkt *p, uint8_t *buf, size_t cap);
/* Wraps an IP packet in g's link-layer header (tags from p) and writes it at p->ts. */
int pcapgen_ip(pcapgen *g, const pg_pkt *p, const void *ip, size_t len);

/* One fragment of the IP payload of a pg_pkt (IPv4: after the header; IPv6: after the
 * fragment header, i.e. extension headers other than hop-by-hop, then TCP/UDP). */
typedef struct pg_frag {
    uint32_t off, len; /* byte range of the fragmentable part; off a multiple of 8 */
    const void *data;  /* NULL: the packet's own bytes; else len bytes sent instead */
    int more;          /* PG_MF_AUTO: set unless the range reaches the end */
    double ts;         /* 0: p->ts plus 1 ms per fragment */
} pg_frag;

#define PG_MF_AUTO  0
#define PG_MF_SET   1
#define PG_MF_CLEAR 2

/* Writes p as the fragments listed, in that order (any order, overlaps, gaps). */
int pcapgen_fragments(pcapgen *g, const pg_pkt *p, const pg_frag *frags, size_t n);
/* Length of the fragmentable part of p (what pg_frag ranges index). */
size_t pg_frag_total(const pg_pkt *p);

/* A TCP conversation with sequence numbers tracked for both sides. */
typedef struct pg_tcp {
    pcapgen *g;
    const char *cli, *srv;
    uint16_t cport, sport;
    uint32_t cisn, sisn; /* initial sequence numbers */
    uint32_t coff, soff; /* bytes sent so far by each side */
    uint16_t vlan;
    double ts;      /* advanced by 1 ms per packet */
    uint16_t svlan; /* added: 802.1ad outer tag */
} pg_tcp;

void pg_tcp_init(pg_tcp *t, pcapgen *g, const char *cli, uint16_t cport, const char *srv,
                 uint16_t sport);
int pg_tcp_handshake(pg_tcp *t);
/* Sends len bytes from the client (from_client) or server, advancing its offset. */
int pg_tcp_send(pg_tcp *t, bool from_client, const void *data, size_t len);
/* One segment at byte offset off of that side's stream; offsets are not advanced. */
int pg_tcp_seg(pg_tcp *t, bool from_client, uint32_t off, const void *data, size_t len);
/* FIN from both sides, then the last ACK. */
int pg_tcp_close(pg_tcp *t);

#endif
