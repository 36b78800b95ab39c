/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Second stage of the analysis: one captured frame (source-pcap.c) taken
 * apart into addresses, ports, TCP sequence state and payload, for
 * stream-tcp.c and analyze.c; IP fragments go to defrag.c first. Every
 * length is checked before it is used; a frame that does not add up is an
 * anomaly, never an out-of-bounds read.
 */
#ifndef AVTB_DECODE_H
#define AVTB_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    AVTB_DECODE_OK,        /* TCP or UDP, fields below are valid */
    AVTB_DECODE_IGNORED,   /* well-formed but not ours (ARP, ICMP, ESP, ...) */
    AVTB_DECODE_MALFORMED, /* a header or length field does not add up */
    AVTB_DECODE_FRAGMENT,  /* IP fragment: the frag_* and ip_* fields are valid; see defrag.h */
} avtb_decode_result;

/* TCP flags, as on the wire. */
#define AVTB_TCP_FIN 0x01
#define AVTB_TCP_SYN 0x02
#define AVTB_TCP_RST 0x04
#define AVTB_TCP_ACK 0x10

/*
 * avtb_decoded.anomalies: oddities in a frame that was decoded anyway. The
 * bytes still count as sent, so they are analysed; the bits say why the
 * evidence should mention the packet.
 */
#define AVTB_DECODE_ANOM_IPV4_OPTIONS 0x01u /* IPv4 option list does not parse */
#define AVTB_DECODE_ANOM_FRAG_SIZE    0x02u /* a non-last fragment not a multiple of 8 bytes */
#define AVTB_DECODE_ANOM_ATOMIC_FRAG  0x04u /* IPv6 fragment header on a whole packet */
#define AVTB_DECODE_ANOM_IP_TRAILER   0x08u /* bytes after the IP packet beyond padding */

/* A short fixed text for one AVTB_DECODE_ANOM_* bit ("decode: ..."). */
const char *avtb_decode_anomaly_name(uint32_t bit);

typedef struct avtb_decoded {
    uint8_t family; /* 4 or 6 */
    uint8_t proto;  /* IPPROTO_TCP or IPPROTO_UDP; for FRAGMENT what the fragments carry */
    uint8_t src[16], dst[16]; /* IPv4 uses the first 4 bytes, the rest are 0 */
    uint16_t sport, dport;
    uint32_t seq, ack; /* TCP only */
    uint8_t tcp_flags;
    const uint8_t *payload;  /* points into the frame */
    size_t payload_len;      /* bytes present in the capture */
    size_t wire_payload_len; /* bytes the headers claim; larger when snaplen cut it */
    const char *why;         /* for MALFORMED/FRAGMENT: what was wrong (static string) */
    /* Added for defrag.c; valid from the IP layer on (OK and FRAGMENT). */
    const uint8_t *ip_payload;  /* after the IP header(s): the L4 header, or the fragment's data */
    size_t ip_payload_len;      /* bytes of it present in the capture */
    size_t ip_wire_payload_len; /* bytes the IP header claims (>= ip_payload_len) */
    uint32_t frag_id;           /* FRAGMENT: identification (IPv4: 16 bits, IPv6: 32) */
    uint32_t frag_offset;       /* FRAGMENT: byte offset of ip_payload in the datagram */
    bool frag_more;             /* FRAGMENT: more-fragments flag */
    uint16_t vlan;              /* innermost 802.1Q VLAN id, 0 without a tag */
    uint8_t vlan_depth;         /* VLAN tags in front of the IP header */
    uint32_t anomalies;         /* AVTB_DECODE_ANOM_* */
} avtb_decoded;

/* Bounds on what one frame can make the decoder walk; configuration sets them. */
typedef struct avtb_decode_limits {
    unsigned max_vlan_tags; /* 802.1Q/802.1ad tags and MPLS labels, each */
    unsigned max_ipv6_ext;  /* IPv6 extension headers in one chain */
} avtb_decode_limits;

#define AVTB_DECODE_MAX_VLAN_DEFAULT     8
#define AVTB_DECODE_MAX_IPV6_EXT_DEFAULT 16

void avtb_decode_limits_default(avtb_decode_limits *l);

/* Whether avtb_decode() understands frames of this DLT_* link type. */
bool avtb_decode_linktype_supported(int linktype);
/* Decodes one frame of caplen bytes (default limits); *out is fully written on every result. */
avtb_decode_result avtb_decode(int linktype, const uint8_t *frame, size_t caplen,
                               avtb_decoded *out);
/* avtb_decode() with explicit limits (NULL: the defaults). */
avtb_decode_result avtb_decode_ex(const avtb_decode_limits *lim, int linktype, const uint8_t *frame,
                                  size_t caplen, avtb_decoded *out);
/*
 * Decodes what follows an IP header: IPv6 extension headers (family 6), then
 * TCP or UDP. For datagrams put back together by defrag.c: proto is the
 * first header of p (IPv4 protocol, IPv6 next header), len bytes are there
 * and wire (>= len) were sent. A fragment header inside p is MALFORMED.
 * payload points into p.
 */
avtb_decode_result avtb_decode_ip_payload(const avtb_decode_limits *lim, uint8_t family,
                                          uint8_t proto, const uint8_t src[16],
                                          const uint8_t dst[16], const uint8_t *p, size_t len,
                                          size_t wire, avtb_decoded *out);

#endif
