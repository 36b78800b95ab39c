/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS query parsing and reply building for the sink, and the message walk
 * and DNS-over-TCP framing for the analysis; see app-dns.h. The sink's
 * parser refuses compression pointers in a query's question: a question
 * follows the header directly, so there is nothing earlier to point to. The
 * walk follows them, but only strictly backwards of where the current run of
 * labels began, which makes every loop a detectable error and bounds the work.
 */
#include "collectors/app-dns.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- The analysis: walking whole messages ---- */

/* Pointers hold 14 bits: a name a pointer can reach starts below this. */
#define PTR_REACH 16384
/* Pointers followed per name; a 255-byte name has at most 127 labels. */
#define MAX_HOPS 128

#define TYPE_TXT 16
#define TYPE_SPF 99

static const char *const section_names[] = {"question", "answer", "authority", "additional"};

/* A name read off the wire: its labels' raw bytes in the two views. */
typedef struct dns_name {
    uint8_t text[AVTB_DNS_NAME_WIRE_MAX];   /* labels joined by '.' */
    uint8_t labels[AVTB_DNS_NAME_WIRE_MAX]; /* labels joined by nothing */
    uint8_t lablen[AVTB_DNS_NAME_LABELS_MAX];
    size_t text_len, labels_len, nlabels;
    /* Offset of the first label after any leading pointers: the same offset
     * always spells the same name, so it identifies the name in a message. */
    size_t canon;
} dns_name;

/*
 * Reads the name at *off into n. The bytes before the first pointer must lie
 * below limit (the end of the enclosing rdata, or len); a pointer must point
 * below where the current run of labels began and past the header. On
 * success *off is just past the name's own bytes and NULL is returned,
 * otherwise what is wrong (*off unchanged).
 */
static const char *read_name(const uint8_t *msg, size_t len, size_t *off, size_t limit, dns_name *n)
{
    size_t pos = *off, run = *off, end = 0, wire = 0, hops = 0;
    bool jumped = false, have_canon = false;

    n->text_len = n->labels_len = n->nlabels = 0;
    n->canon = pos;
    for (;;) {
        uint8_t c;

        if (pos >= limit)
            return "name runs past the end of the data";
        c = msg[pos];
        if ((c & 0xc0) == 0xc0) {
            size_t target;

            if (limit - pos < 2)
                return "compression pointer cut short";
            target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
            if (target >= pos)
                return "compression pointer points forward";
            if (target >= run)
                return "compression pointer loop";
            if (target < HDR)
                return "compression pointer into the header";
            if (++hops > MAX_HOPS)
                return "too many compression pointers";
            if (!jumped) {
                end = pos + 2;
                jumped = true;
                limit = len;
            }
            pos = run = target;
            continue;
        }
        if (c & 0xc0)
            return "reserved label type";
        if (!have_canon) {
            n->canon = pos;
            have_canon = true;
        }
        if (c == 0) {
            pos++;
            break;
        }
        /* This label, its length byte and the root's zero must still fit. */
        if (wire + 1 + c + 1 > AVTB_DNS_NAME_WIRE_MAX)
            return "name longer than 255 bytes";
        if (n->nlabels == AVTB_DNS_NAME_LABELS_MAX) /* implied by 255 bytes; guards lablen */
            return "name of more than 128 labels";
        if (c > limit - pos - 1)
            return "label runs past the end of the data";
        if (n->nlabels > 0)
            n->text[n->text_len++] = '.';
        memcpy(n->text + n->text_len, msg + pos + 1, c);
        memcpy(n->labels + n->labels_len, msg + pos + 1, c);
        n->text_len += c;
        n->labels_len += c;
        n->lablen[n->nlabels++] = c;
        wire += 1 + (size_t)c;
        pos += 1 + (size_t)c;
    }
    *off = jumped ? end : pos;
    return NULL;
}

/* The name as avtb_dns_parse_query writes it: '.' between labels, escapes inside. */
static void name_escape(const dns_name *n, char out[AVTB_DNS_NAME_TEXT])
{
    size_t o = 0, t = 0;

    out[0] = '\0';
    if (n->nlabels == 0) {
        strcpy(out, ".");
        return;
    }
    /* 253 bytes of text at 4 characters each always fit AVTB_DNS_NAME_TEXT. */
    for (size_t i = 0; i < n->nlabels; i++) {
        if (i > 0)
            put_label_byte(out, AVTB_DNS_NAME_TEXT, &o, '.', 1);
        for (size_t j = 0; j < n->lablen[i]; j++)
            put_label_byte(out, AVTB_DNS_NAME_TEXT, &o, n->text[t + j], 0);
        t += n->lablen[i] + 1u;
    }
}

void avtb_dns_config_default(avtb_dns_config *c)
{
    memset(c, 0, sizeof(*c));
    c->max_view_bytes = AVTB_DNS_MAX_VIEW_BYTES_DEFAULT;
    c->max_anomalies = AVTB_DNS_MAX_ANOMALIES_DEFAULT;
    c->tcp_max_message = AVTB_DNS_TCP_MAX_MESSAGE_DEFAULT;
}

/* c with each limit left 0 set to its default. */
static void config_resolve(const avtb_dns_config *c, avtb_dns_config *out)
{
    *out = *c;
    if (out->max_view_bytes == 0)
        out->max_view_bytes = AVTB_DNS_MAX_VIEW_BYTES_DEFAULT;
    if (out->max_anomalies == 0)
        out->max_anomalies = AVTB_DNS_MAX_ANOMALIES_DEFAULT;
    if (out->tcp_max_message == 0 || out->tcp_max_message > 65535)
        out->tcp_max_message = 65535; /* what a length prefix can say anyway */
}

avtb_parse_result avtb_dns_first_qname(const uint8_t *msg, size_t len, char out[AVTB_DNS_NAME_TEXT],
                                       uint16_t *qtype)
{
    dns_name n;
    size_t off = HDR;

    out[0] = '\0';
    if (qtype != NULL)
        *qtype = 0;
    if (len < HDR || rd16(msg + 4) == 0)
        return AVTB_PARSE_ERROR;
    if (read_name(msg, len, &off, len, &n) != NULL || len - off < 4)
        return AVTB_PARSE_ERROR;
    name_escape(&n, out);
    if (qtype != NULL)
        *qtype = rd16(msg + off);
    return AVTB_PARSE_OK;
}

/* One walk over one message. */
typedef struct walk {
    const uint8_t *msg;
    size_t len;
    avtb_dns_config c; /* limits resolved */
    double ts;
    uint64_t offset;
    const char *host;
    size_t view_bytes;
    size_t anomalies;
    bool bad;                    /* an anomaly was seen */
    bool over;                   /* max_view_bytes reached: nothing more is delivered */
    uint8_t seen[PTR_REACH / 8]; /* canonical offsets of the names delivered */
} walk;

static void walk_anomaly(walk *w, const char *fmt, ...) AVTB_PRINTF(2, 3);

static void walk_anomaly(walk *w, const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    w->bad = true;
    if (w->anomalies++ > w->c.max_anomalies || w->c.anomaly == NULL)
        return;
    if (w->anomalies > w->c.max_anomalies) {
        w->c.anomaly(w->c.ctx, "dns: more anomalies in this message, not reported");
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    w->c.anomaly(w->c.ctx, buf);
}

static void emit(walk *w, const char *encoding, const uint8_t *data, size_t len)
{
    avtb_message m = {0};

    if (len == 0 || w->over)
        return;
    if (len > w->c.max_view_bytes - w->view_bytes) {
        w->over = true;
        walk_anomaly(
            w, "dns: message expands past %zu bytes of names and data; the rest is not scanned",
            w->c.max_view_bytes);
        return;
    }
    w->view_bytes += len;
    if (w->c.message == NULL)
        return;
    m.protocol = "dns";
    m.host = w->host;
    m.encoding[0] = encoding;
    m.nencoding = 1;
    m.data = data;
    m.len = len;
    m.offset = w->offset;
    m.time = w->ts;
    w->c.message(w->c.ctx, &m);
}

static void emit_name(walk *w, const dns_name *n)
{
    if (n->nlabels == 0)
        return;
    if (n->canon < PTR_REACH) {
        if (w->seen[n->canon / 8] & (1u << (n->canon % 8)))
            return;
        w->seen[n->canon / 8] |= (uint8_t)(1u << (n->canon % 8));
    }
    emit(w, "dns-qname", n->text, n->text_len);
    if (n->nlabels > 1)
        emit(w, "dns-labels", n->labels, n->labels_len);
}

/* Record types whose rdata holds names: fixed bytes, names, fixed bytes (RFC 1035 3.3, 2782). */
static const struct rdata_shape {
    uint16_t type;
    uint8_t pre, names, post;
} shapes[] = {
    {2, 0, 1, 0},  /* NS */
    {3, 0, 1, 0},  /* MD */
    {4, 0, 1, 0},  /* MF */
    {5, 0, 1, 0},  /* CNAME */
    {6, 0, 2, 20}, /* SOA: mname rname serial refresh retry expire minimum */
    {7, 0, 1, 0},  /* MB */
    {8, 0, 1, 0},  /* MG */
    {9, 0, 1, 0},  /* MR */
    {12, 0, 1, 0}, /* PTR */
    {14, 0, 2, 0}, /* MINFO */
    {15, 2, 1, 0}, /* MX: preference exchange */
    {17, 0, 2, 0}, /* RP */
    {18, 2, 1, 0}, /* AFSDB */
    {21, 2, 1, 0}, /* RT */
    {33, 6, 1, 0}, /* SRV: priority weight port target */
    {36, 2, 1, 0}, /* KX */
    {39, 0, 1, 0}, /* DNAME */
};

static const char *walk_names(walk *w, const struct rdata_shape *sh, size_t start, size_t rdlen)
{
    size_t off = start + sh->pre, end = start + rdlen;
    const char *why;
    dns_name n;

    if (rdlen < sh->pre)
        return "rdata shorter than its fixed fields";
    for (unsigned i = 0; i < sh->names; i++) {
        why = read_name(w->msg, w->len, &off, end, &n);
        if (why != NULL)
            return why;
        emit_name(w, &n);
    }
    if (end - off != sh->post)
        return "rdata length disagrees with its contents";
    return NULL;
}

/* TXT: character-strings, each a length byte and that many bytes, joined. */
static const char *walk_txt(walk *w, size_t start, size_t rdlen)
{
    uint8_t small[512], *buf = small;
    size_t pos = start, end = start + rdlen, o = 0;
    const char *why = NULL;

    if (rdlen > sizeof(small) && (buf = malloc(rdlen)) == NULL)
        return "out of memory joining its strings";
    while (pos < end) {
        uint8_t l = w->msg[pos++];

        if (l > end - pos) {
            why = "character-string runs past the rdata";
            break;
        }
        memcpy(buf + o, w->msg + pos, l);
        o += l;
        pos += l;
    }
    emit(w, "dns-txt", buf, o);
    if (buf != small)
        free(buf);
    return why;
}

static void walk_rdata(walk *w, uint16_t type, size_t start, size_t rdlen)
{
    const char *why = NULL;
    char tbuf[16];
    size_t i;

    for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
        if (shapes[i].type == type)
            break;
    if (type == TYPE_TXT || type == TYPE_SPF)
        why = walk_txt(w, start, rdlen);
    else if (i < sizeof(shapes) / sizeof(shapes[0]))
        why = walk_names(w, &shapes[i], start, rdlen);
    else if (type == AVTB_DNS_TYPE_A || type == AVTB_DNS_TYPE_AAAA)
        why = rdlen == (type == AVTB_DNS_TYPE_A ? 4u : 16u) ? NULL : "address of the wrong size";
    else
        emit(w, "dns-rdata", w->msg + start, rdlen); /* NULL (10) and all the others */
    if (why == NULL)
        return;
    walk_anomaly(w, "dns: %s rdata at offset %zu: %s", avtb_dns_type_name(type, tbuf), start, why);
    /* Whatever it hides is still scanned, as bytes. */
    emit(w, "dns-rdata", w->msg + start, rdlen);
}

/* One question or resource record at *off; false when the framing is lost. */
static bool walk_record(walk *w, unsigned section, size_t *off)
{
    size_t at = *off;
    uint16_t type, rdlen;
    const char *why;
    dns_name n;

    why = read_name(w->msg, w->len, off, w->len, &n);
    if (why != NULL) {
        walk_anomaly(w, "dns: %s name at offset %zu: %s", section_names[section], at, why);
        return false;
    }
    emit_name(w, &n);
    if (section == 0) {
        if (w->len - *off < 4) {
            walk_anomaly(w, "dns: question at offset %zu cut short", at);
            return false;
        }
        *off += 4;
        return true;
    }
    if (w->len - *off < 10) {
        walk_anomaly(w, "dns: %s record at offset %zu cut short", section_names[section], at);
        return false;
    }
    type = rd16(w->msg + *off);
    rdlen = rd16(w->msg + *off + 8);
    *off += 10;
    if (rdlen > w->len - *off) {
        walk_anomaly(w, "dns: %s record at offset %zu: %u bytes of rdata, %zu left in the message",
                     section_names[section], at, rdlen, w->len - *off);
        return false;
    }
    walk_rdata(w, type, *off, rdlen);
    *off += rdlen;
    return true;
}

/* avtb_dns_walk on a resolved config, also handing back the first question's name ("" if none). */
static avtb_parse_result walk_message(const avtb_dns_config *c, const uint8_t *msg, size_t len,
                                      double ts, uint64_t offset, char host[AVTB_DNS_NAME_TEXT])
{
    walk w;
    size_t off = HDR;

    memset(&w, 0, sizeof(w));
    w.msg = msg;
    w.len = len;
    w.c = *c;
    w.ts = ts;
    w.offset = offset;
    host[0] = '\0';
    if (len < HDR) {
        walk_anomaly(&w, "dns: a %zu-byte message is shorter than the 12-byte header", len);
        return AVTB_PARSE_ERROR;
    }
    if (avtb_dns_first_qname(msg, len, host, NULL) == AVTB_PARSE_OK)
        w.host = host;
    for (unsigned s = 0; s < 4; s++) {
        unsigned count = rd16(msg + 4 + 2 * s);

        for (unsigned i = 0; i < count; i++) {
            if (off == len) {
                walk_anomaly(&w,
                             "dns: the header announces %u %s records, the message ends after %u",
                             count, section_names[s], i);
                return AVTB_PARSE_ERROR;
            }
            if (!walk_record(&w, s, &off))
                return AVTB_PARSE_ERROR;
        }
    }
    if (off < len)
        walk_anomaly(&w, "dns: %zu bytes after the last record", len - off);
    return w.bad ? AVTB_PARSE_ERROR : AVTB_PARSE_OK;
}

avtb_parse_result avtb_dns_walk(const avtb_dns_config *c, const uint8_t *msg, size_t len, double ts,
                                uint64_t offset)
{
    char host[AVTB_DNS_NAME_TEXT];
    avtb_dns_config rc;

    config_resolve(c, &rc);
    return walk_message(&rc, msg, len, ts, offset, host);
}

/* ---- DNS over TCP ---- */

typedef enum {
    TCP_LEN,  /* the 2-byte length prefix */
    TCP_MSG,  /* the message's bytes */
    TCP_SKIP, /* a message over the limit */
    TCP_ERROR,
} tcp_state;

struct avtb_dns_tcp {
    avtb_dns_config c; /* limits resolved */
    tcp_state st;
    uint8_t prefix[2];
    size_t prefix_have;
    size_t need, have; /* of the message being collected or skipped */
    uint8_t *buf;      /* holds a message split over chunks */
    size_t buf_cap;
    uint64_t stream_off; /* bytes consumed before this call */
    uint64_t msg_off;    /* stream offset of the message's first byte */
    uint64_t messages;
    char host[AVTB_DNS_NAME_TEXT];
    bool has_host;
};

avtb_dns_tcp *avtb_dns_tcp_new(const avtb_dns_config *c)
{
    avtb_dns_tcp *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    config_resolve(c, &p->c);
    return p;
}

void avtb_dns_tcp_free(avtb_dns_tcp *p)
{
    if (p == NULL)
        return;
    free(p->buf);
    free(p);
}

uint64_t avtb_dns_tcp_messages(const avtb_dns_tcp *p)
{
    return p->messages;
}

const char *avtb_dns_tcp_host(const avtb_dns_tcp *p)
{
    return p->has_host ? p->host : NULL;
}

static void tcp_anomaly(avtb_dns_tcp *p, const char *fmt, ...) AVTB_PRINTF(2, 3);

static void tcp_anomaly(avtb_dns_tcp *p, const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    if (p->c.anomaly == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    p->c.anomaly(p->c.ctx, buf);
}

static void tcp_walk(avtb_dns_tcp *p, const uint8_t *msg, size_t len, double ts)
{
    char host[AVTB_DNS_NAME_TEXT];

    /* A malformed message was reported by the walk; the framing still holds. */
    walk_message(&p->c, msg, len, ts, p->msg_off, host);
    if (host[0] != '\0') {
        memcpy(p->host, host, sizeof(host));
        p->has_host = true;
    }
    p->messages++;
    p->st = TCP_LEN;
}

/* Sets up for the message whose length prefix is complete; false if not DNS. */
static bool tcp_start(avtb_dns_tcp *p, uint64_t msg_off)
{
    p->need = rd16(p->prefix);
    p->have = 0;
    p->prefix_have = 0;
    p->msg_off = msg_off;
    if (p->need < HDR) {
        tcp_anomaly(p,
                    "dns-tcp: a %zu-byte message at offset %llu is shorter than a DNS header: "
                    "not DNS over TCP",
                    p->need, (unsigned long long)msg_off);
        p->st = TCP_ERROR;
        return false;
    }
    if (p->need > p->c.tcp_max_message) {
        tcp_anomaly(
            p, "dns-tcp: the %zu-byte message at offset %llu exceeds the limit of %zu; skipped",
            p->need, (unsigned long long)msg_off, p->c.tcp_max_message);
        p->st = TCP_SKIP;
        return true;
    }
    p->st = TCP_MSG;
    return true;
}

avtb_parse_result avtb_dns_tcp_parse(avtb_dns_tcp *p, const uint8_t *buf, size_t len, double ts,
                                     size_t *consumed)
{
    avtb_parse_result r = AVTB_PARSE_NEED_MORE;
    size_t i = 0, n;

    *consumed = 0;
    if (p->st == TCP_ERROR)
        return AVTB_PARSE_ERROR;
    while (i < len && r == AVTB_PARSE_NEED_MORE) {
        switch (p->st) {
        case TCP_LEN:
            p->prefix[p->prefix_have++] = buf[i++];
            if (p->prefix_have == 2 && !tcp_start(p, p->stream_off + i))
                r = AVTB_PARSE_ERROR;
            break;
        case TCP_MSG:
            if (p->have == 0 && len - i >= p->need) {
                tcp_walk(p, buf + i, p->need, ts); /* whole in this chunk: no copy */
                i += p->need;
                r = AVTB_PARSE_OK;
                break;
            }
            if (p->buf_cap < p->need) {
                uint8_t *nb = realloc(p->buf, p->need);

                if (nb == NULL) {
                    /* Keep the framing; the message goes unscanned, and says so. */
                    tcp_anomaly(p, "dns-tcp: out of memory buffering a message; skipped");
                    p->st = TCP_SKIP;
                    break;
                }
                p->buf = nb;
                p->buf_cap = p->need;
            }
            n = p->need - p->have < len - i ? p->need - p->have : len - i;
            memcpy(p->buf + p->have, buf + i, n);
            p->have += n;
            i += n;
            if (p->have == p->need) {
                tcp_walk(p, p->buf, p->need, ts);
                r = AVTB_PARSE_OK;
            }
            break;
        case TCP_SKIP:
            n = p->need - p->have < len - i ? p->need - p->have : len - i;
            p->have += n;
            i += n;
            if (p->have == p->need)
                p->st = TCP_LEN;
            break;
        case TCP_ERROR:
            r = AVTB_PARSE_ERROR;
            break;
        }
    }
    *consumed = i;
    p->stream_off += i;
    return r;
}

void avtb_dns_tcp_end(avtb_dns_tcp *p, double ts)
{
    char host[AVTB_DNS_NAME_TEXT];

    if (p->st == TCP_MSG && p->have > 0) {
        tcp_anomaly(p, "dns-tcp: the stream ends %zu bytes into a %zu-byte message", p->have,
                    p->need);
        walk_message(&p->c, p->buf, p->have, ts, p->msg_off, host);
        if (host[0] != '\0') {
            memcpy(p->host, host, sizeof(host));
            p->has_host = true;
        }
    } else if (p->st == TCP_MSG || p->st == TCP_SKIP || p->prefix_have > 0) {
        tcp_anomaly(p, "dns-tcp: the stream ends inside a message");
    }
    p->st = TCP_ERROR;
}
