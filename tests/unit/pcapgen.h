/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper: writes small pcap/pcapng files from hand-built Ethernet,
 * Linux cooked, IPv4/IPv6 and TCP/UDP packets, so analyzer tests and fuzz
 * seeds need no recorded traffic, no root and no network.
 */
#ifndef AVTB_TEST_PCAPGEN_H
#define AVTB_TEST_PCAPGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pcapgen pcapgen;

/* linktype is DLT_EN10MB or DLT_LINUX_SLL; ng selects pcapng. NULL on error. */
pcapgen *pcapgen_open(const char *path, int linktype, bool ng);
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
} pg_pkt;

#define PG_FIN 0x01
#define PG_SYN 0x02
#define PG_RST 0x04
#define PG_PSH 0x08
#define PG_ACK 0x10

/* Builds the frame for p in g's link type and writes it. */
int pcapgen_packet(pcapgen *g, const pg_pkt *p);

/* A TCP conversation with sequence numbers tracked for both sides. */
typedef struct pg_tcp {
    pcapgen *g;
    const char *cli, *srv;
    uint16_t cport, sport;
    uint32_t cisn, sisn; /* initial sequence numbers */
    uint32_t coff, soff; /* bytes sent so far by each side */
    uint16_t vlan;
    double ts; /* advanced by 1 ms per packet */
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
