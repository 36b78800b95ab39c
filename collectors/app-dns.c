/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS query parsing and reply building; see app-dns.h. Compression
 * pointers are refused in a query's question: a question follows the
 * header directly, so there is nothing earlier to point to, and refusing
 * them removes the loop and out-of-bounds risks of following them.
 */
#include "collectors/app-dns.h"

#include <stdio.h>
#include <string.h>

#define HDR 12

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Appends one byte of a label in text form; false when out is full. */
static int put_label_byte(char *out, size_t cap, size_t *o, uint8_t c, int keep_dot)
{
    char tmp[5];
    size_t n;

    if (c > 0x20 && c < 0x7f && c != '\\' && (keep_dot || c != '.')) {
        tmp[0] = (char)c;
        n = 1;
    } else {
        snprintf(tmp, sizeof(tmp), "\\%03u", c);
        n = 4;
    }
    if (*o + n >= cap)
        return 0;
    memcpy(out + *o, tmp, n);
    *o += n;
    out[*o] = '\0';
    return 1;
}

void avtb_dns_escape(const char *name, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    if (cap == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < len; i++)
        if (!put_label_byte(out, cap, &o, (uint8_t)name[i], 1))
            break;
}

avtb_parse_result avtb_dns_parse_query(const uint8_t *buf, size_t len, avtb_dns_query *q)
{
    size_t off = HDR, wire = 0, o = 0;

    memset(q, 0, sizeof(*q));
    if (len < HDR)
        return AVTB_PARSE_ERROR;
    q->id = rd16(buf);
    q->flags = rd16(buf + 2);
    if ((q->flags & 0x8000) || ((q->flags >> 11) & 0xf) != 0 || rd16(buf + 4) == 0)
        return AVTB_PARSE_ERROR; /* a response, not a QUERY, or no question */
    for (;;) {
        uint8_t l;

        if (off >= len)
            return AVTB_PARSE_ERROR;
        l = buf[off++];
        if (l == 0)
            break;
        if (l > 63) /* compression pointer or a reserved label type */
            return AVTB_PARSE_ERROR;
        wire += (size_t)l + 1;
        if (wire > 254 || l > len - off)
            return AVTB_PARSE_ERROR;
        if (o > 0 && !put_label_byte(q->qname, sizeof(q->qname), &o, '.', 1))
            return AVTB_PARSE_ERROR;
        for (uint8_t i = 0; i < l; i++)
            if (!put_label_byte(q->qname, sizeof(q->qname), &o, buf[off + i], 0))
                return AVTB_PARSE_ERROR;
        off += l;
    }
    if (o == 0)
        strcpy(q->qname, ".");
    if (len - off < 4)
        return AVTB_PARSE_ERROR;
    q->qtype = rd16(buf + off);
    q->qclass = rd16(buf + off + 2);
    q->question_end = off + 4;
    return AVTB_PARSE_OK;
}

size_t avtb_dns_build_reply(const avtb_dns_query *q, const uint8_t *query, const uint8_t *a4,
                            uint32_t ttl, uint8_t *out, size_t cap)
{
    size_t qlen = q->question_end - HDR, n = HDR + qlen + (a4 ? 16 : 0);
    uint8_t *p;

    if (q->question_end < HDR || n > cap)
        return 0;
    wr16(out, q->id);
    /* QR, AA, RD as asked, RA; opcode QUERY, rcode NOERROR. */
    wr16(out + 2, (uint16_t)(0x8400 | (q->flags & 0x0100) | 0x0080));
    wr16(out + 4, 1);
    wr16(out + 6, a4 ? 1 : 0);
    wr16(out + 8, 0);
    wr16(out + 10, 0);
    memcpy(out + HDR, query + HDR, qlen);
    if (a4 != NULL) {
        p = out + HDR + qlen;
        wr16(p, 0xc000 | HDR); /* the name: a pointer to the question's */
        wr16(p + 2, AVTB_DNS_TYPE_A);
        wr16(p + 4, AVTB_DNS_CLASS_IN);
        wr16(p + 6, (uint16_t)(ttl >> 16));
        wr16(p + 8, (uint16_t)ttl);
        wr16(p + 10, 4);
        memcpy(p + 12, a4, 4);
    }
    return n;
}

const char *avtb_dns_type_name(uint16_t type, char buf[16])
{
    static const struct {
        uint16_t t;
        const char *name;
    } names[] = {{1, "A"},     {2, "NS"},     {5, "CNAME"}, {6, "SOA"},
                 {12, "PTR"},  {15, "MX"},    {16, "TXT"},  {28, "AAAA"},
                 {33, "SRV"},  {35, "NAPTR"}, {43, "DS"},   {48, "DNSKEY"},
                 {64, "SVCB"}, {65, "HTTPS"}, {255, "ANY"}, {257, "CAA"}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].t == type)
            return names[i].name;
    snprintf(buf, 16, "TYPE%u", type);
    return buf;
}
