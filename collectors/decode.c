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
#define MAX_VLAN_TAGS      4
#define MAX_IPV6_EXT       8

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

/*
 * Transport layer. len is what the capture holds, wire what the IP header
 * says the segment is; len <= wire.
 */
static avtb_decode_result decode_l4(avtb_decoded *d, uint8_t proto, const uint8_t *p, size_t len,
                                    size_t wire)
{
    d->proto = proto;
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

static avtb_decode_result decode_ipv4(avtb_decoded *d, const uint8_t *p, size_t len)
{
    size_t hlen, total;
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
    frag = rd16(p + 6);
    if (frag & 0x3fff) { /* MF set or a non-zero offset */
        d->why = "IPv4 fragment (not reassembled)";
        return AVTB_DECODE_FRAGMENT;
    }
    /* total < len: Ethernet padding, dropped; total > len: cut by the snaplen. */
    return decode_l4(d, p[9], p + hlen, (total < len ? total : len) - hlen, total - hlen);
}

static avtb_decode_result decode_ipv6(avtb_decoded *d, const uint8_t *p, size_t len)
{
    size_t plen, avail, off = 40;
    uint8_t nh;

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
    nh = p[6];
    for (int i = 0;; i++) {
        size_t elen;

        if (nh == IPPROTO_TCP || nh == IPPROTO_UDP)
            break;
        if (nh == IPPROTO_FRAGMENT) {
            d->why = "IPv6 fragment (not reassembled)";
            return AVTB_DECODE_FRAGMENT;
        }
        if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS)
            return AVTB_DECODE_IGNORED;
        if (i == MAX_IPV6_EXT)
            return bad(d, "too many IPv6 extension headers");
        if (off + 2 > 40 + avail)
            return bad(d, "IPv6 extension header cut short");
        elen = ((size_t)p[off + 1] + 1) * 8;
        if (elen > 40 + avail - off)
            return bad(d, "IPv6 extension header longer than the packet");
        nh = p[off];
        off += elen;
    }
    return decode_l4(d, nh, p + off, 40 + avail - off, plen - (off - 40));
}

/* From an ethertype on: VLAN tags, then IPv4 or IPv6. */
static avtb_decode_result decode_ethertype(avtb_decoded *d, uint16_t type, const uint8_t *p,
                                           size_t len)
{
    for (int tags = 0;
         type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD; tags++) {
        if (tags == MAX_VLAN_TAGS)
            return bad(d, "too many VLAN tags");
        if (len < 4)
            return bad(d, "VLAN tag cut short");
        type = rd16(p + 2);
        p += 4;
        len -= 4;
    }
    if (type == ETHERTYPE_IPV4)
        return decode_ipv4(d, p, len);
    if (type == ETHERTYPE_IPV6)
        return decode_ipv6(d, p, len);
    return AVTB_DECODE_IGNORED;
}

static avtb_decode_result decode_ip_any(avtb_decoded *d, const uint8_t *p, size_t len)
{
    if (len < 1)
        return bad(d, "empty IP packet");
    if (p[0] >> 4 == 4)
        return decode_ipv4(d, p, len);
    if (p[0] >> 4 == 6)
        return decode_ipv6(d, p, len);
    return bad(d, "IP version is neither 4 nor 6");
}

/* BSD loopback: the address family in host (NULL) or network (LOOP) order. */
static avtb_decode_result decode_null(avtb_decoded *d, const uint8_t *p, size_t len)
{
    uint32_t le, be;

    if (len < 4)
        return bad(d, "loopback header cut short");
    le = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    be = rd32(p);
    if (le == 2 || be == 2)
        return decode_ipv4(d, p + 4, len - 4);
    /* AF_INET6 differs between systems: Linux 10, BSDs 24, 28 and 30. */
    if (le == 10 || le == 24 || le == 28 || le == 30 || be == 10 || be == 24 || be == 28 ||
        be == 30)
        return decode_ipv6(d, p + 4, len - 4);
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

avtb_decode_result avtb_decode(int linktype, const uint8_t *frame, size_t caplen, avtb_decoded *out)
{
    memset(out, 0, sizeof(*out));
    switch (linktype) {
    case DLT_EN10MB:
        if (caplen < 14)
            return bad(out, "Ethernet header cut short");
        return decode_ethertype(out, rd16(frame + 12), frame + 14, caplen - 14);
    case DLT_LINUX_SLL:
        if (caplen < 16)
            return bad(out, "Linux cooked header cut short");
        return decode_ethertype(out, rd16(frame + 14), frame + 16, caplen - 16);
    case DLT_LINUX_SLL2:
        if (caplen < 20)
            return bad(out, "Linux cooked v2 header cut short");
        return decode_ethertype(out, rd16(frame), frame + 20, caplen - 20);
    case DLT_RAW:
        return decode_ip_any(out, frame, caplen);
    case DLT_IPV4:
        return decode_ipv4(out, frame, caplen);
    case DLT_IPV6:
        return decode_ipv6(out, frame, caplen);
    case DLT_NULL:
    case DLT_LOOP:
        return decode_null(out, frame, caplen);
    default:
        return AVTB_DECODE_IGNORED;
    }
}
