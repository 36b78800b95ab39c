/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Link, network and transport headers; see decode.h. Each layer takes
 * (buf, len) and checks a length before every read (Suricata's HAS_SPACE).
 * Checksums are not verified: captures on a host see offloaded packets whose
 * checksums are filled in later by the NIC, and a guest's bytes count as
 * sent whatever their checksum says.
 */
#include "collectors/decode.h"

#include <netinet/in.h>
#include <pcap/dlt.h>
#include <string.h>

#define ETHERTYPE_IPV4     0x0800
#define ETHERTYPE_IPV6     0x86dd
#define ETHERTYPE_VLAN     0x8100
#define ETHERTYPE_QINQ     0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100
#define ETHERTYPE_MPLS     0x8847
#define ETHERTYPE_MPLS_MC  0x8848
#define ETHERTYPE_PPPOE    0x8864
#define PPP_IPV4           0x0021
#define PPP_IPV6           0x0057
#define ARPHRD_NETLINK     824
/* A minimum Ethernet frame plus its FCS: anything past the IP packet within this is padding. */
#define ETH_MIN_WITH_FCS 64

/* Protocol numbers netinet/in.h may not name. */
#define PROTO_MOBILITY 135
#define PROTO_HIP      139
#define PROTO_SHIM6    140

/* What every layer of one decode needs besides its bytes. */
typedef struct dctx {
    avtb_decoded *d;
    const avtb_decode_limits *lim;
    size_t frame_len; /* captured bytes of the whole frame, for the trailer check */
} dctx;

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static avtb_decode_result bad(avtb_decoded *d, const char *why)
{
    d->why = why;
    return AVTB_DECODE_MALFORMED;
}

const char *avtb_decode_anomaly_name(uint32_t bit)
{
    switch (bit) {
    case AVTB_DECODE_ANOM_IPV4_OPTIONS:
        return "decode: IPv4 options do not parse";
    case AVTB_DECODE_ANOM_FRAG_SIZE:
        return "decode: fragment length not a multiple of 8";
    case AVTB_DECODE_ANOM_ATOMIC_FRAG:
        return "decode: IPv6 atomic fragment";
    case AVTB_DECODE_ANOM_IP_TRAILER:
        return "decode: bytes after the IP packet";
    default:
        return "decode: unknown anomaly";
    }
}

void avtb_decode_limits_default(avtb_decode_limits *l)
{
    l->max_vlan_tags = AVTB_DECODE_MAX_VLAN_DEFAULT;
    l->max_ipv6_ext = AVTB_DECODE_MAX_IPV6_EXT_DEFAULT;
}

/*
 * Transport layer. len is what the capture holds, wire what the IP header
 * says the segment is; len <= wire.
 */
static avtb_decode_result decode_l4(avtb_decoded *d, uint8_t proto, const uint8_t *p, size_t len,
                                    size_t wire)
{
    d->proto = proto;
    d->ip_payload = p;
    d->ip_payload_len = len;
    d->ip_wire_payload_len = wire;
    if (proto == IPPROTO_TCP) {
        size_t hlen;

        if (len < 20)
            return bad(d, "TCP header cut short");
        hlen = (size_t)(p[12] >> 4) * 4;
        if (hlen < 20)
            return bad(d, "TCP data offset below 20");
        if (hlen > len)
            return bad(d, "TCP header longer than the segment");
        d->sport = rd16(p);
        d->dport = rd16(p + 2);
        d->seq = rd32(p + 4);
        d->ack = rd32(p + 8);
        d->tcp_flags = p[13];
        d->payload = p + hlen;
        d->payload_len = len - hlen;
        d->wire_payload_len = wire - hlen;
        return AVTB_DECODE_OK;
    }
    if (proto == IPPROTO_UDP) {
        size_t ulen;

        if (len < 8)
            return bad(d, "UDP header cut short");
        ulen = rd16(p + 4);
        if (ulen < 8 || ulen > wire)
            return bad(d, "UDP length disagrees with the IP length");
        d->sport = rd16(p);
        d->dport = rd16(p + 2);
        d->payload = p + 8;
        d->payload_len = (ulen < len ? ulen : len) - 8;
        d->wire_payload_len = ulen - 8;
        return AVTB_DECODE_OK;
    }
    return AVTB_DECODE_IGNORED;
}

/*
 * IPv4 options (RFC 791): EOL ends the list, NOP is one byte, everything
 * else is type, length (>= 2), data. A bad list does not stop the decode
 * (the header length already says where the payload is); it is flagged.
 */
static bool ipv4_options_ok(const uint8_t *o, size_t len)
{
    size_t i = 0;

    while (i < len) {
        if (o[i] == 0) /* end of option list */
            return true;
        if (o[i] == 1) { /* no-operation */
            i++;
            continue;
        }
        if (len - i < 2 || o[i + 1] < 2 || o[i + 1] > len - i)
            return false;
        i += o[i + 1];
    }
    return true;
}

static bool is_ipv6_ext(uint8_t nh)
{
    return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
           nh == IPPROTO_FRAGMENT || nh == IPPROTO_AH || nh == PROTO_MOBILITY || nh == PROTO_HIP ||
           nh == PROTO_SHIM6;
}

static avtb_decode_result decode_ipv4(dctx *c, const uint8_t *p, size_t len)
{
    avtb_decoded *d = c->d;
    size_t hlen, total, have;
    uint16_t frag;

    if (len < 20)
        return bad(d, "IPv4 header cut short");
    if (p[0] >> 4 != 4)
        return bad(d, "IPv4 version field is not 4");
    hlen = (size_t)(p[0] & 0x0f) * 4;
    if (hlen < 20 || hlen > len)
        return bad(d, "IPv4 header length out of range");
    total = rd16(p + 2);
    /* Zero: a TSO super-segment captured before the NIC split it. */
    if (total == 0)
        total = len;
    if (total < hlen)
        return bad(d, "IPv4 total length below the header length");
    d->family = 4;
    memcpy(d->src, p + 12, 4);
    memcpy(d->dst, p + 16, 4);
    if (hlen > 20 && !ipv4_options_ok(p + 20, hlen - 20))
        d->anomalies |= AVTB_DECODE_ANOM_IPV4_OPTIONS;
    /* total < len: padding (or a trailer, flagged); total > len: cut by the snaplen. */
    if (total < len && c->frame_len > ETH_MIN_WITH_FCS && len - total > 4)
        d->anomalies |= AVTB_DECODE_ANOM_IP_TRAILER;
    have = total < len ? total : len;
    frag = rd16(p + 6);
    if (frag & 0x3fff) { /* MF set or a non-zero offset */
        d->proto = p[9];
        if (d->proto != IPPROTO_TCP && d->proto != IPPROTO_UDP)
            return AVTB_DECODE_IGNORED;
        d->frag_id = rd16(p + 4);
        d->frag_offset = (uint32_t)(frag & 0x1fff) * 8;
        d->frag_more = (frag & 0x2000) != 0;
        d->ip_payload = p + hlen;
        d->ip_payload_len = have - hlen;
        d->ip_wire_payload_len = total - hlen;
        if (d->frag_more && (total - hlen) % 8 != 0)
            d->anomalies |= AVTB_DECODE_ANOM_FRAG_SIZE;
        d->why = "IPv4 fragment";
        return AVTB_DECODE_FRAGMENT;
    }
    return decode_l4(d, p[9], p + hlen, have - hlen, total - hlen);
}

/*
 * An IPv6 extension header chain from p (which starts with header nh) up to
 * TCP/UDP, or a fragment header. avail bytes are captured, wire claimed;
 * avail <= wire. With allow_frag false (inside a reassembled datagram) a
 * fragment header is malformed.
 */
static avtb_decode_result decode_ipv6_chain(dctx *c, uint8_t nh, const uint8_t *p, size_t avail,
                                            size_t wire, bool allow_frag)
{
    avtb_decoded *d = c->d;
    size_t off = 0;

    for (unsigned i = 0;; i++) {
        size_t elen;

        if (!is_ipv6_ext(nh))
            break;
        if (i == c->lim->max_ipv6_ext)
            return bad(d, "too many IPv6 extension headers");
        if (avail - off < 2)
            return bad(d, "IPv6 extension header cut short");
        if (nh == IPPROTO_FRAGMENT) {
            uint16_t fo;

            if (!allow_frag)
                return bad(d, "fragment header inside a reassembled datagram");
            if (avail - off < 8)
                return bad(d, "IPv6 fragment header cut short");
            fo = rd16(p + off + 2);
            if ((fo & 0xfff9) == 0) {
                /* Offset 0 and no more fragments: a whole packet (RFC 6946). */
                d->anomalies |= AVTB_DECODE_ANOM_ATOMIC_FRAG;
                nh = p[off];
                off += 8;
                continue;
            }
            d->proto = p[off];
            if (d->proto != IPPROTO_TCP && d->proto != IPPROTO_UDP && !is_ipv6_ext(d->proto))
                return AVTB_DECODE_IGNORED;
            d->frag_id = rd32(p + off + 4);
            d->frag_offset = fo & 0xfff8;
            d->frag_more = (fo & 1) != 0;
            d->ip_payload = p + off + 8;
            d->ip_payload_len = avail - off - 8;
            d->ip_wire_payload_len = wire - off - 8;
            if (d->frag_more && d->ip_wire_payload_len % 8 != 0)
                d->anomalies |= AVTB_DECODE_ANOM_FRAG_SIZE;
            d->why = "IPv6 fragment";
            return AVTB_DECODE_FRAGMENT;
        }
        /* AH counts its length in 4-byte units less 2; the others in 8-byte units less 1. */
        if (nh == IPPROTO_AH)
            elen = ((size_t)p[off + 1] + 2) * 4;
        else
            elen = ((size_t)p[off + 1] + 1) * 8;
        if (elen > avail - off)
            return bad(d, "IPv6 extension header longer than the packet");
        nh = p[off];
        off += elen;
    }
    return decode_l4(d, nh, p + off, avail - off, wire - off);
}

static avtb_decode_result decode_ipv6(dctx *c, const uint8_t *p, size_t len)
{
    avtb_decoded *d = c->d;
    size_t plen, avail;

    if (len < 40)
        return bad(d, "IPv6 header cut short");
    if (p[0] >> 4 != 6)
        return bad(d, "IPv6 version field is not 6");
    plen = rd16(p + 4);
    if (plen == 0) /* jumbogram or TSO: trust the capture */
        plen = len - 40;
    d->family = 6;
    memcpy(d->src, p + 8, 16);
    memcpy(d->dst, p + 24, 16);
    avail = plen < len - 40 ? plen : len - 40;
    if (plen < len - 40 && c->frame_len > ETH_MIN_WITH_FCS && len - 40 - plen > 4)
        d->anomalies |= AVTB_DECODE_ANOM_IP_TRAILER;
    return decode_ipv6_chain(c, p[6], p + 40, avail, plen, true);
}

static avtb_decode_result decode_ip_any(dctx *c, const uint8_t *p, size_t len)
{
    if (len < 1)
        return bad(c->d, "empty IP packet");
    if (p[0] >> 4 == 4)
        return decode_ipv4(c, p, len);
    if (p[0] >> 4 == 6)
        return decode_ipv6(c, p, len);
    return bad(c->d, "IP version is neither 4 nor 6");
}

/* MPLS: labels up to the bottom-of-stack bit, then IP told apart by its version nibble. */
static avtb_decode_result decode_mpls(dctx *c, const uint8_t *p, size_t len)
{
    for (unsigned i = 0;; i++) {
        bool bottom;

        if (i == c->lim->max_vlan_tags)
            return bad(c->d, "too many MPLS labels");
        if (len < 4)
            return bad(c->d, "MPLS label cut short");
        bottom = (p[2] & 1) != 0;
        p += 4;
        len -= 4;
        if (bottom)
            break;
    }
    if (len >= 1 && (p[0] >> 4 == 4 || p[0] >> 4 == 6))
        return decode_ip_any(c, p, len);
    return AVTB_DECODE_IGNORED; /* pseudowire or something else under the labels */
}

/* PPPoE session stage: 6-byte PPPoE header, 2-byte PPP protocol. */
static avtb_decode_result decode_pppoe(dctx *c, const uint8_t *p, size_t len)
{
    size_t plen;
    uint16_t proto;

    if (len < 8)
        return bad(c->d, "PPPoE header cut short");
    plen = rd16(p + 4);
    if (plen < 2 || plen > len - 6)
        return bad(c->d, "PPPoE length disagrees with the frame");
    proto = rd16(p + 6);
    if (proto == PPP_IPV4)
        return decode_ipv4(c, p + 8, plen - 2);
    if (proto == PPP_IPV6)
        return decode_ipv6(c, p + 8, plen - 2);
    return AVTB_DECODE_IGNORED;
}

/* From an ethertype on: VLAN tags (802.1Q, 802.1ad, the old 0x9100), then what they carry. */
static avtb_decode_result decode_ethertype(dctx *c, uint16_t type, const uint8_t *p, size_t len)
{
    avtb_decoded *d = c->d;

    for (unsigned tags = 0;
         type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD; tags++) {
        if (tags == c->lim->max_vlan_tags)
            return bad(d, "too many VLAN tags");
        if (len < 4)
            return bad(d, "VLAN tag cut short");
        d->vlan = rd16(p) & 0x0fff;
        d->vlan_depth = (uint8_t)(tags + 1);
        type = rd16(p + 2);
        p += 4;
        len -= 4;
    }
    switch (type) {
    case ETHERTYPE_IPV4:
        return decode_ipv4(c, p, len);
    case ETHERTYPE_IPV6:
        return decode_ipv6(c, p, len);
    case ETHERTYPE_MPLS:
    case ETHERTYPE_MPLS_MC:
        return decode_mpls(c, p, len);
    case ETHERTYPE_PPPOE:
        return decode_pppoe(c, p, len);
    default:
        return AVTB_DECODE_IGNORED;
    }
}

/* BSD loopback: the address family in host (NULL) or network (LOOP) order. */
static avtb_decode_result decode_null(dctx *c, const uint8_t *p, size_t len)
{
    uint32_t le, be;

    if (len < 4)
        return bad(c->d, "loopback header cut short");
    le = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    be = rd32(p);
    if (le == 2 || be == 2)
        return decode_ipv4(c, p + 4, len - 4);
    /* AF_INET6 differs between systems: Linux 10, BSDs 24, 28 and 30. */
    if (le == 10 || le == 24 || le == 28 || le == 30 || be == 10 || be == 24 || be == 28 ||
        be == 30)
        return decode_ipv6(c, p + 4, len - 4);
    return AVTB_DECODE_IGNORED;
}

bool avtb_decode_linktype_supported(int linktype)
{
    switch (linktype) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_NULL:
    case DLT_LOOP:
        return true;
    default:
        return false;
    }
}

avtb_decode_result avtb_decode_ex(const avtb_decode_limits *lim, int linktype, const uint8_t *frame,
                                  size_t caplen, avtb_decoded *out)
{
    avtb_decode_limits def;
    dctx c;

    memset(out, 0, sizeof(*out));
    if (lim == NULL) {
        avtb_decode_limits_default(&def);
        lim = &def;
    }
    c.d = out;
    c.lim = lim;
    c.frame_len = caplen;
    switch (linktype) {
    case DLT_EN10MB:
        if (caplen < 14)
            return bad(out, "Ethernet header cut short");
        /* Types below 0x600 are 802.3 lengths (LLC frames): not IP. */
        return decode_ethertype(&c, rd16(frame + 12), frame + 14, caplen - 14);
    case DLT_LINUX_SLL:
        if (caplen < 16)
            return bad(out, "Linux cooked header cut short");
        /* On netlink captures the protocol field is a netlink family, not an ethertype. */
        if (rd16(frame + 2) == ARPHRD_NETLINK)
            return AVTB_DECODE_IGNORED;
        return decode_ethertype(&c, rd16(frame + 14), frame + 16, caplen - 16);
    case DLT_LINUX_SLL2:
        if (caplen < 20)
            return bad(out, "Linux cooked v2 header cut short");
        if (rd16(frame + 8) == ARPHRD_NETLINK)
            return AVTB_DECODE_IGNORED;
        return decode_ethertype(&c, rd16(frame), frame + 20, caplen - 20);
    case DLT_RAW:
        return decode_ip_any(&c, frame, caplen);
    case DLT_IPV4:
        return decode_ipv4(&c, frame, caplen);
    case DLT_IPV6:
        return decode_ipv6(&c, frame, caplen);
    case DLT_NULL:
    case DLT_LOOP:
        return decode_null(&c, frame, caplen);
    default:
        return AVTB_DECODE_IGNORED;
    }
}

avtb_decode_result avtb_decode(int linktype, const uint8_t *frame, size_t caplen, avtb_decoded *out)
{
    return avtb_decode_ex(NULL, linktype, frame, caplen, out);
}

avtb_decode_result avtb_decode_ip_payload(const avtb_decode_limits *lim, uint8_t family,
                                          uint8_t proto, const uint8_t src[16],
                                          const uint8_t dst[16], const uint8_t *p, size_t len,
                                          size_t wire, avtb_decoded *out)
{
    avtb_decode_limits def;
    dctx c;

    memset(out, 0, sizeof(*out));
    if (lim == NULL) {
        avtb_decode_limits_default(&def);
        lim = &def;
    }
    c.d = out;
    c.lim = lim;
    c.frame_len = len;
    out->family = family;
    memcpy(out->src, src, 16);
    memcpy(out->dst, dst, 16);
    if (wire < len)
        wire = len;
    if (family == 6)
        return decode_ipv6_chain(&c, proto, p, len, wire, false);
    if (family == 4)
        return decode_l4(out, proto, p, len, wire);
    return bad(out, "IP version is neither 4 nor 6");
}
