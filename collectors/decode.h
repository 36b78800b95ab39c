/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Second stage of the analysis: one captured frame (source-pcap.c) taken
 * apart into addresses, ports, TCP sequence state and payload, for
 * stream-tcp.c and analyze.c. Every length is checked before it is used;
 * a frame that does not add up is an anomaly, never an out-of-bounds read.
 */
#ifndef AVTB_DECODE_H
#define AVTB_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    AVTB_DECODE_OK,        /* TCP or UDP, fields below are valid */
    AVTB_DECODE_IGNORED,   /* well-formed but not ours (ARP, ICMP, ...) */
    AVTB_DECODE_MALFORMED, /* a header or length field does not add up */
    AVTB_DECODE_FRAGMENT,  /* IP fragment: not reassembled (yet) */
} avtb_decode_result;

/* TCP flags, as on the wire. */
#define AVTB_TCP_FIN 0x01
#define AVTB_TCP_SYN 0x02
#define AVTB_TCP_RST 0x04
#define AVTB_TCP_ACK 0x10

typedef struct avtb_decoded {
    uint8_t family;           /* 4 or 6 */
    uint8_t proto;            /* IPPROTO_TCP or IPPROTO_UDP */
    uint8_t src[16], dst[16]; /* IPv4 uses the first 4 bytes, the rest are 0 */
    uint16_t sport, dport;
    uint32_t seq, ack; /* TCP only */
    uint8_t tcp_flags;
    const uint8_t *payload;  /* points into the frame */
    size_t payload_len;      /* bytes present in the capture */
    size_t wire_payload_len; /* bytes the headers claim; larger when snaplen cut it */
    const char *why;         /* for MALFORMED/FRAGMENT: what was wrong (static string) */
} avtb_decoded;

/* Whether avtb_decode() understands frames of this DLT_* link type. */
bool avtb_decode_linktype_supported(int linktype);
/* Decodes one frame of caplen bytes; *out is fully written on every result. */
avtb_decode_result avtb_decode(int linktype, const uint8_t *frame, size_t caplen,
                               avtb_decoded *out);

#endif
