/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS (collectors/app-dns.h): the walk over whole messages and the views it
 * hands the scanner, hostile names and records, DNS over TCP framing in any
 * split, and the sink's query parser and reply builder it must not break.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/app-dns.h"

/* ---- Building messages ---- */

typedef struct mb {
    uint8_t b[2048];
    size_t n;
} mb;

static void mb_u8(mb *m, unsigned v)
{
    ck_assert_uint_lt(m->n, sizeof(m->b));
    m->b[m->n++] = (uint8_t)v;
}

static void mb_u16(mb *m, unsigned v)
{
    mb_u8(m, v >> 8);
    mb_u8(m, v & 0xff);
}

static void mb_u32(mb *m, uint32_t v)
{
    mb_u16(m, v >> 16);
    mb_u16(m, v & 0xffff);
}

static void mb_bytes(mb *m, const void *p, size_t n)
{
    ck_assert_uint_le(n, sizeof(m->b) - m->n);
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void mb_hdr(mb *m, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
    m->n = 0;
    mb_u16(m, 0x1234);
    mb_u16(m, flags);
    mb_u16(m, qd);
    mb_u16(m, an);
    mb_u16(m, ns);
    mb_u16(m, ar);
}

/* The labels of a dotted name, without the terminating root ("" writes nothing). */
static void mb_labels(mb *m, const char *dotted)
{
    const char *p = dotted;

    while (*p != '\0') {
        size_t l = strcspn(p, ".");

        mb_u8(m, (unsigned)l);
        mb_bytes(m, p, l);
        p += l;
        if (*p == '.')
            p++;
    }
}

/* A whole uncompressed name; returns its offset. */
static size_t mb_name(mb *m, const char *dotted)
{
    size_t at = m->n;

    mb_labels(m, dotted);
    mb_u8(m, 0);
    return at;
}

static void mb_ptr(mb *m, size_t off)
{
    mb_u16(m, 0xc000 | (unsigned)off);
}

/* type, class IN, ttl and a placeholder rdlength; returns where rdlength is. */
static size_t mb_rr(mb *m, unsigned type)
{
    size_t at;

    mb_u16(m, type);
    mb_u16(m, 1);
    mb_u32(m, 300);
    at = m->n;
    mb_u16(m, 0);
    return at;
}

static void mb_rdend(mb *m, size_t at)
{
    size_t len = m->n - at - 2;

    m->b[at] = (uint8_t)(len >> 8);
    m->b[at + 1] = (uint8_t)len;
}

/* ---- Recording what the parsers deliver ---- */

typedef struct seen {
    char enc[32];
    char host[AVTB_DNS_NAME_TEXT];
    int has_host;
    uint8_t data[1024];
    size_t len;
    uint64_t offset;
    double time;
} seen;

typedef struct recorder {
    seen m[64];
    size_t nm;
    char anomalies[32][256];
    size_t na;
    char log[16384]; /* everything, in order, for comparisons */
    size_t loglen;
} recorder;

static recorder R;

static void rec_reset(void)
{
    memset(&R, 0, sizeof(R));
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(R.log + R.loglen, sizeof(R.log) - R.loglen, fmt, ap);
    va_end(ap);
    ck_assert_int_ge(n, 0);
    ck_assert_uint_lt((size_t)n, sizeof(R.log) - R.loglen);
    R.loglen += (size_t)n;
}

static void on_message(void *ctx, const avtb_message *m)
{
    seen *s;

    ck_assert_ptr_eq(ctx, &R);
    ck_assert_uint_lt(R.nm, 64);
    ck_assert_uint_le(m->len, sizeof(s->data));
    ck_assert_uint_eq(m->nencoding, 1);
    ck_assert_str_eq(m->protocol, "dns");
    s = &R.m[R.nm++];
    snprintf(s->enc, sizeof(s->enc), "%s", m->encoding[0]);
    if (m->host != NULL) {
        snprintf(s->host, sizeof(s->host), "%s", m->host);
        s->has_host = 1;
    }
    memcpy(s->data, m->data, m->len);
    s->len = m->len;
    s->offset = m->offset;
    s->time = m->time;
    logf_("%s %s @%llu %.*s\n", s->enc, s->host, (unsigned long long)m->offset, (int)m->len,
          (const char *)m->data);
}

static void on_anomaly(void *ctx, const char *what)
{
    ck_assert_ptr_eq(ctx, &R);
    ck_assert_uint_lt(R.na, 32);
    snprintf(R.anomalies[R.na++], sizeof(R.anomalies[0]), "%s", what);
    logf_("! %s\n", what);
}

/* How many messages of encoding enc hold exactly str. */
static size_t count_seen(const char *enc, const char *str)
{
    size_t n = 0;

    for (size_t i = 0; i < R.nm; i++)
        if (strcmp(R.m[i].enc, enc) == 0 && R.m[i].len == strlen(str) &&
            memcmp(R.m[i].data, str, R.m[i].len) == 0)
            n++;
    return n;
}

static size_t count_enc(const char *enc)
{
    size_t n = 0;

    for (size_t i = 0; i < R.nm; i++)
        if (strcmp(R.m[i].enc, enc) == 0)
            n++;
    return n;
}

static bool anomaly_has(const char *needle)
{
    for (size_t i = 0; i < R.na; i++)
        if (strstr(R.anomalies[i], needle) != NULL)
            return true;
    return false;
}

/* Walks the message in an allocation of exactly its size. */
/* The config lim (NULL: the defaults) delivering to R. */
static avtb_dns_config config(const avtb_dns_config *lim)
{
    avtb_dns_config c;

    if (lim != NULL)
        c = *lim;
    else
        avtb_dns_config_default(&c);
    c.message = on_message;
    c.anomaly = on_anomaly;
    c.ctx = &R;
    return c;
}

static avtb_parse_result walk_lim(const uint8_t *msg, size_t len, const avtb_dns_config *lim)
{
    avtb_dns_config c = config(lim);
    uint8_t *copy = malloc(len ? len : 1);
    avtb_parse_result r;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, msg, len);
    r = avtb_dns_walk(&c, copy, len, 12.5, 0);
    free(copy);
    return r;
}

static avtb_parse_result walk(const mb *m)
{
    return walk_lim(m->b, m->n, NULL);
}

/* ---- The walk ---- */

START_TEST(a_query)
{
    mb m;

    rec_reset();
    mb_hdr(&m, 0x0100, 1, 0, 0, 0);
    mb_name(&m, "www.example.com");
    mb_u16(&m, AVTB_DNS_TYPE_A);
    mb_u16(&m, AVTB_DNS_CLASS_IN);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_OK);
    ck_assert_uint_eq(R.na, 0);
    ck_assert_uint_eq(R.nm, 2);
    ck_assert_str_eq(R.m[0].enc, "dns-qname");
    ck_assert_uint_eq(count_seen("dns-qname", "www.example.com"), 1);
    ck_assert_uint_eq(count_seen("dns-labels", "wwwexamplecom"), 1);
    ck_assert_str_eq(R.m[0].host, "www.example.com");
    ck_assert(R.m[0].time == 12.5);
    ck_assert_uint_eq(R.m[0].offset, 0);
}
END_TEST

/* The response a resolver gives for a CDN name: every name once, however often pointed to. */
static void cname_chain(mb *m)
{
    size_t q, cdn, edge, rd;

    mb_hdr(m, 0x8180, 1, 3, 0, 0);
    q = mb_name(m, "www.example.com");
    mb_u16(m, AVTB_DNS_TYPE_A);
    mb_u16(m, 1);
    mb_ptr(m, q);
    rd = mb_rr(m, 5); /* CNAME cdn.example.com, its suffix compressed */
    cdn = m->n;
    mb_labels(m, "cdn");
    mb_ptr(m, q + 4);
    mb_rdend(m, rd);
    mb_ptr(m, cdn);
    rd = mb_rr(m, 5); /* CNAME e1.akamaiedge.net */
    edge = mb_name(m, "e1.akamaiedge.net");
    mb_rdend(m, rd);
    mb_ptr(m, edge);
    rd = mb_rr(m, AVTB_DNS_TYPE_A);
    mb_bytes(m, "\x0a\xd5\x63\x01", 4);
    mb_rdend(m, rd);
}

START_TEST(compressed_cname_chain)
{
    mb m;

    rec_reset();
    cname_chain(&m);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_OK);
    ck_assert_uint_eq(R.na, 0);
    ck_assert_uint_eq(count_enc("dns-qname"), 3);
    ck_assert_uint_eq(count_enc("dns-labels"), 3);
    ck_assert_uint_eq(count_seen("dns-qname", "www.example.com"), 1);
    ck_assert_uint_eq(count_seen("dns-qname", "cdn.example.com"), 1);
    ck_assert_uint_eq(count_seen("dns-labels", "cdnexamplecom"), 1);
    ck_assert_uint_eq(count_seen("dns-qname", "e1.akamaiedge.net"), 1);
    ck_assert_uint_eq(count_enc("dns-rdata"), 0); /* an A record's address is not data */
    for (size_t i = 0; i < R.nm; i++)
        ck_assert_str_eq(R.m[i].host, "www.example.com");
}
END_TEST

/* base32("AVTBQ3F7K2M9XWZP4R8TAB"), as an exfiltration tool would send it. */
#define TOKEN_B32 "iflfiqsrgnddoszsju4vqv22ka2feocuifba"

START_TEST(base32_token_over_labels)
{
    mb m;
    const seen *labels = NULL;

    rec_reset();
    mb_hdr(&m, 0x0100, 1, 0, 0, 0);
    mb_name(&m, "iflfiqsrgnddo.szsju4vqv22k.a2feocuifba.x.avtb-exfil.net");
    mb_u16(&m, 16);
    mb_u16(&m, 1);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_OK);
    for (size_t i = 0; i < R.nm; i++)
        if (strcmp(R.m[i].enc, "dns-labels") == 0)
            labels = &R.m[i];
    ck_assert_ptr_nonnull(labels);
    ck_assert_ptr_nonnull(memmem(labels->data, labels->len, TOKEN_B32, strlen(TOKEN_B32)));
    ck_assert_uint_eq(count_seen("dns-labels", TOKEN_B32 "xavtb-exfilnet"), 1);
    /* In the dotted view the dots split it: that is why the labels view exists. */
    ck_assert_uint_eq(
        count_seen("dns-qname", "iflfiqsrgnddo.szsju4vqv22k.a2feocuifba.x.avtb-exfil.net"), 1);
}
END_TEST

START_TEST(txt_strings_joined)
{
    mb m;
    size_t rd, q;

    rec_reset();
    mb_hdr(&m, 0x8180, 1, 1, 0, 0);
    q = mb_name(&m, "t.example.org");
    mb_u16(&m, 16);
    mb_u16(&m, 1);
    mb_ptr(&m, q);
    rd = mb_rr(&m, 16);
    mb_u8(&m, 11);
    mb_bytes(&m, "AVTBQ3F7K2M", 11);
    mb_u8(&m, 11);
    mb_bytes(&m, "9XWZP4R8TAB", 11);
    mb_rdend(&m, rd);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_OK);
    ck_assert_uint_eq(count_seen("dns-txt", "AVTBQ3F7K2M9XWZP4R8TAB"), 1);
    ck_assert_uint_eq(count_seen("dns-qname", "t.example.org"), 1); /* the owner, a repeat */
}
END_TEST

START_TEST(rdata_names_and_raw)
{
    mb m;
    size_t rd;

    rec_reset();
    mb_hdr(&m, 0x8180, 0, 4, 0, 1);
    mb_name(&m, "example.com");
    rd = mb_rr(&m, 15); /* MX 10 mail.example.com */
    mb_u16(&m, 10);
    mb_name(&m, "mail.example.com");
    mb_rdend(&m, rd);
    mb_name(&m, "_x._tcp.example.com");
    rd = mb_rr(&m, 33); /* SRV 0 0 443 srv.example.net */
    mb_u16(&m, 0);
    mb_u16(&m, 0);
    mb_u16(&m, 443);
    mb_name(&m, "srv.example.net");
    mb_rdend(&m, rd);
    mb_name(&m, "n.example.com");
    rd = mb_rr(&m, 10); /* NULL: raw */
    mb_bytes(&m, "AVTB-null", 9);
    mb_rdend(&m, rd);
    mb_name(&m, "h.example.com");
    rd = mb_rr(&m, 65); /* HTTPS: not interpreted, so raw */
    mb_bytes(&m, "\x00\x01\x00", 3);
    mb_rdend(&m, rd);
    mb_name(&m, ""); /* OPT, empty rdata: nothing */
    rd = mb_rr(&m, 41);
    mb_rdend(&m, rd);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_OK);
    ck_assert_uint_eq(R.na, 0);
    ck_assert_uint_eq(count_seen("dns-qname", "mail.example.com"), 1);
    ck_assert_uint_eq(count_seen("dns-qname", "srv.example.net"), 1);
    ck_assert_uint_eq(count_seen("dns-qname", "_x._tcp.example.com"), 1);
    ck_assert_uint_eq(count_seen("dns-rdata", "AVTB-null"), 1);
    ck_assert_uint_eq(count_enc("dns-rdata"), 2);
    ck_assert(!R.m[0].has_host); /* no question */
}
END_TEST

START_TEST(one_label_name_one_view)
{
    mb m;

    rec_reset();
    mb_hdr(&m, 0x0100, 1, 0, 0, 0);
    mb_name(&m, "localhost");
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_OK);
    ck_assert_uint_eq(R.nm, 1);
    ck_assert_uint_eq(count_seen("dns-qname", "localhost"), 1);
}
END_TEST

START_TEST(raw_label_bytes_not_escaped)
{
    static const uint8_t msg[] = {0x12, 0x34, 0x01, 0x00, 0, 1,    0,   0, 0, 0, 0, 0,
                                  3,    'a',  '.',  '\\', 2, 0xff, ' ', 0, 0, 1, 0, 1};
    char host[AVTB_DNS_NAME_TEXT];
    uint16_t qtype;

    rec_reset();
    ck_assert_int_eq(walk_lim(msg, sizeof(msg), NULL), AVTB_PARSE_OK);
    ck_assert_uint_eq(R.m[0].len, 6);
    ck_assert_mem_eq(R.m[0].data, "a.\\.\xff ", 6);
    ck_assert_mem_eq(R.m[1].data, "a.\\\xff ", 5);
    /* host is the escaped text, safe for findings and identical to the sink's log */
    ck_assert_str_eq(R.m[0].host, "a\\046\\092.\\255\\032");
    ck_assert_int_eq(avtb_dns_first_qname(msg, sizeof(msg), host, &qtype), AVTB_PARSE_OK);
    ck_assert_str_eq(host, "a\\046\\092.\\255\\032");
    ck_assert_uint_eq(qtype, 1);
}
END_TEST

/* ---- Hostile messages ---- */

START_TEST(pointer_loop)
{
    size_t rd, body;
    mb m;

    /* "a" then a pointer back to the "a": the name would never end. */
    rec_reset();
    mb_hdr(&m, 0x0100, 1, 0, 0, 0);
    mb_labels(&m, "a");
    mb_ptr(&m, 12);
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert(anomaly_has("loop"));
    ck_assert_uint_eq(R.nm, 0);

    /* A cycle of two pointers, through a NULL record's rdata: one of them
     * must point forward, and is refused. */
    rec_reset();
    mb_hdr(&m, 0x8180, 1, 2, 0, 0);
    mb_name(&m, "x.example.com");
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    mb_name(&m, "");
    rd = mb_rr(&m, 10);
    body = m.n; /* "b", then a pointer to the next record's name */
    mb_labels(&m, "b");
    mb_ptr(&m, body + 4);
    mb_rdend(&m, rd);
    mb_ptr(&m, body);
    rd = mb_rr(&m, 1);
    mb_bytes(&m, "\x01\x02\x03\x04", 4);
    mb_rdend(&m, rd);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(R.na, 1);
    ck_assert(anomaly_has("answer name"));
    ck_assert_uint_eq(count_seen("dns-qname", "x.example.com"), 1); /* before the bad part */

    /* A pointer to itself. */
    rec_reset();
    mb_hdr(&m, 0x0100, 1, 0, 0, 0);
    mb_ptr(&m, 12);
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(R.na, 1);
}
END_TEST

START_TEST(pointer_forward)
{
    mb m;
    size_t rd;

    rec_reset();
    mb_hdr(&m, 0x8180, 1, 1, 0, 0);
    mb_ptr(&m, 40); /* the question's name is further on */
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    while (m.n < 40)
        mb_u8(&m, 0);
    mb_name(&m, "later.example");
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert(anomaly_has("forward"));

    /* Inside rdata: the record is reported and scanned raw, the walk goes on. */
    rec_reset();
    mb_hdr(&m, 0x8180, 0, 2, 0, 0);
    mb_name(&m, "a.example");
    rd = mb_rr(&m, 5);
    mb_labels(&m, "AVTBTOKEN");
    mb_ptr(&m, 200);
    mb_rdend(&m, rd);
    mb_name(&m, "b.example");
    rd = mb_rr(&m, 16);
    mb_u8(&m, 3);
    mb_bytes(&m, "txt", 3);
    mb_rdend(&m, rd);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(R.na, 1);
    ck_assert(anomaly_has("CNAME rdata"));
    ck_assert(anomaly_has("forward"));
    ck_assert_uint_eq(count_enc("dns-rdata"), 1);
    ck_assert_uint_eq(count_seen("dns-qname", "b.example"), 1);
    ck_assert_uint_eq(count_seen("dns-txt", "txt"), 1);
}
END_TEST

START_TEST(pointer_into_header)
{
    mb m;

    rec_reset();
    mb_hdr(&m, 0x8180, 1, 1, 0, 0);
    mb_name(&m, "a.example");
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    mb_ptr(&m, 4);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert(anomaly_has("header"));
}
END_TEST

START_TEST(truncated_rr)
{
    mb m;
    size_t rd;

    /* rdlength says more than there is. */
    rec_reset();
    mb_hdr(&m, 0x8180, 1, 1, 0, 0);
    mb_name(&m, "a.example");
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    mb_ptr(&m, 12);
    rd = mb_rr(&m, 1);
    mb_bytes(&m, "\x01\x02", 2);
    m.b[rd + 1] = 4;
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert(anomaly_has("rdata"));

    /* Every cut of a good response is an anomaly and never a read past the cut. */
    cname_chain(&m);
    for (size_t cut = 0; cut < m.n; cut++) {
        rec_reset();
        ck_assert_int_eq(walk_lim(m.b, cut, NULL), AVTB_PARSE_ERROR);
        ck_assert_uint_ge(R.na, 1);
    }
}
END_TEST

START_TEST(name_too_long)
{
    mb m;
    char name[5 * 64];

    /* Five 63-byte labels: 321 bytes on the wire. */
    for (int i = 0; i < 5; i++) {
        memset(name + i * 64, 'a' + i, 63);
        name[i * 64 + 63] = '.';
    }
    name[5 * 64 - 1] = '\0';
    rec_reset();
    mb_hdr(&m, 0x0100, 1, 0, 0, 0);
    mb_name(&m, name);
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert(anomaly_has("255"));
    ck_assert_uint_eq(R.nm, 0);

    /* Four of them make 257 with the root's zero: one too many. */
    name[4 * 64 - 1] = '\0';
    rec_reset();
    mb_hdr(&m, 0x0100, 1, 0, 0, 0);
    mb_name(&m, name);
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);

    /* 63 + 63 + 63 + 62 and the length bytes and root: 256, one too many. */
    name[3 * 64 + 62] = '\0';
    rec_reset();
    mb_hdr(&m, 0x0100, 1, 0, 0, 0);
    mb_name(&m, name);
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);

    /* 63 + 63 + 63 + 61: exactly 255 is fine. */
    name[3 * 64 + 61] = '\0';
    rec_reset();
    mb_hdr(&m, 0x0100, 1, 0, 0, 0);
    mb_name(&m, name);
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_OK);
    ck_assert_uint_eq(R.m[0].len, 253);
}
END_TEST

START_TEST(long_name_by_pointers)
{
    size_t prev = 0;
    mb m;

    /* Each owner name is a 63-byte label and a pointer to the previous one:
     * the fourth passes 255 bytes though no run of labels on the wire does. */
    rec_reset();
    mb_hdr(&m, 0x8180, 0, 4, 0, 0);
    for (int i = 0; i < 4; i++) {
        size_t start = m.n, rd;
        char label[64];

        memset(label, 'a' + i, 63);
        label[63] = '\0';
        mb_labels(&m, label);
        if (i == 0)
            mb_u8(&m, 0);
        else
            mb_ptr(&m, prev);
        rd = mb_rr(&m, 10);
        mb_rdend(&m, rd);
        prev = start;
    }
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert(anomaly_has("255"));
    ck_assert_uint_eq(count_enc("dns-qname"), 3);
}
END_TEST

START_TEST(pointer_chain_too_long)
{
    size_t rd, last = 0;
    mb m;

    /* "a" and 130 pointers, each to the one before: every one points
     * backwards, but no name needs more than 127. */
    rec_reset();
    mb_hdr(&m, 0x8180, 0, 2, 0, 0);
    mb_name(&m, "");
    rd = mb_rr(&m, 10);
    last = mb_name(&m, "a");
    for (int i = 0; i < 130; i++) {
        size_t here = m.n;

        mb_ptr(&m, last);
        last = here;
    }
    mb_rdend(&m, rd);
    mb_ptr(&m, last);
    rd = mb_rr(&m, 1);
    mb_bytes(&m, "\x01\x02\x03\x04", 4);
    mb_rdend(&m, rd);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert(anomaly_has("too many compression pointers"));
}
END_TEST

START_TEST(rdata_shapes)
{
    char big[600];
    mb m;
    size_t rd;

    /* MX with a byte after its name, SRV too short for its fixed fields. */
    rec_reset();
    mb_hdr(&m, 0x8180, 0, 3, 0, 0);
    mb_name(&m, "a.example");
    rd = mb_rr(&m, 15);
    mb_u16(&m, 10);
    mb_name(&m, "mx.example");
    mb_u8(&m, 0x99);
    mb_rdend(&m, rd);
    mb_name(&m, "b.example");
    rd = mb_rr(&m, 33);
    mb_bytes(&m, "\x00\x01\x00", 3);
    mb_rdend(&m, rd);
    /* A TXT record longer than the walk's stack buffer: three 200-byte strings. */
    mb_name(&m, "c.example");
    rd = mb_rr(&m, 16);
    for (int i = 0; i < 3; i++) {
        mb_u8(&m, 200);
        memset(big, 'x' + i, 200);
        mb_bytes(&m, big, 200);
    }
    mb_rdend(&m, rd);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert(anomaly_has("MX rdata at offset"));
    ck_assert(anomaly_has("length disagrees"));
    ck_assert(anomaly_has("SRV rdata at offset"));
    ck_assert(anomaly_has("shorter than its fixed fields"));
    ck_assert_uint_eq(R.na, 2);
    ck_assert_uint_eq(count_seen("dns-qname", "mx.example"), 1);
    ck_assert_uint_eq(count_enc("dns-rdata"), 2);
    memset(big, 'x', 200);
    memset(big + 200, 'y', 200);
    memset(big + 400, 'z', 200);
    big[600 - 1] = 'z';
    ck_assert_uint_eq(count_enc("dns-txt"), 1);
    for (size_t i = 0; i < R.nm; i++)
        if (strcmp(R.m[i].enc, "dns-txt") == 0) {
            ck_assert_uint_eq(R.m[i].len, 600);
            ck_assert_mem_eq(R.m[i].data, big, 600);
        }
}
END_TEST

START_TEST(bad_label_type_and_txt)
{
    mb m;
    size_t rd;

    rec_reset();
    mb_hdr(&m, 0x0100, 1, 0, 0, 0);
    mb_u8(&m, 0x41); /* an extended label type (RFC 6891 retired it) */
    mb_u8(&m, 0);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert(anomaly_has("label type"));

    rec_reset();
    mb_hdr(&m, 0x8180, 0, 1, 0, 0);
    mb_name(&m, "t.example");
    rd = mb_rr(&m, 16);
    mb_u8(&m, 3);
    mb_bytes(&m, "abc", 3);
    mb_u8(&m, 9);
    mb_bytes(&m, "de", 2);
    mb_rdend(&m, rd);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert(anomaly_has("character-string"));
    ck_assert_uint_eq(count_seen("dns-txt", "abc"), 1);
    ck_assert_uint_eq(count_enc("dns-rdata"), 1); /* the whole rdata, as bytes */
}
END_TEST

START_TEST(header_and_trailing)
{
    mb m;

    rec_reset();
    ck_assert_int_eq(walk_lim((const uint8_t *)"\x12\x34\x01\x00", 4, NULL), AVTB_PARSE_ERROR);
    ck_assert(anomaly_has("header"));

    rec_reset();
    mb_hdr(&m, 0x0100, 1, 0, 0, 0);
    mb_name(&m, "a.example");
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    mb_bytes(&m, "junk", 4);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert(anomaly_has("4 bytes after"));
    ck_assert_uint_eq(count_seen("dns-qname", "a.example"), 1);

    /* The header announces records that are not there. */
    rec_reset();
    mb_hdr(&m, 0x8180, 1, 3, 0, 0);
    mb_name(&m, "a.example");
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_ERROR);
    ck_assert(anomaly_has("announces 3 answer"));

    /* No records at all is a fine, if odd, message. */
    rec_reset();
    mb_hdr(&m, 0x8180, 0, 0, 0, 0);
    ck_assert_int_eq(walk(&m), AVTB_PARSE_OK);
    ck_assert_uint_eq(R.nm + R.na, 0);
}
END_TEST

START_TEST(limits_hold)
{
    avtb_dns_config lim;
    mb m;
    size_t q, rd;

    /* Views bounded: a name pointed to from many places is delivered once, and
     * a message expanding past max_view_bytes stops being delivered. */
    avtb_dns_config_default(&lim);
    lim.max_view_bytes = 40;
    rec_reset();
    mb_hdr(&m, 0x8180, 1, 3, 0, 0);
    q = mb_name(&m, "first.example.com"); /* 17 + 15 bytes of views */
    mb_u16(&m, 1);
    mb_u16(&m, 1);
    for (int i = 0; i < 3; i++) {
        mb_ptr(&m, q);
        rd = mb_rr(&m, 5);
        mb_labels(&m, i == 0 ? "second" : i == 1 ? "third" : "fourth");
        mb_ptr(&m, q);
        mb_rdend(&m, rd);
    }
    ck_assert_int_eq(walk_lim(m.b, m.n, &lim), AVTB_PARSE_ERROR);
    ck_assert(anomaly_has("expands past 40"));
    ck_assert_uint_eq(R.nm, 2);
    ck_assert_uint_eq(R.na, 1);

    /* Anomalies bounded: 20 bad records, 3 reported, then one line says so. */
    avtb_dns_config_default(&lim);
    lim.max_anomalies = 3;
    rec_reset();
    mb_hdr(&m, 0x8180, 0, 20, 0, 0);
    for (int i = 0; i < 20; i++) {
        mb_name(&m, "");
        rd = mb_rr(&m, AVTB_DNS_TYPE_A);
        mb_u8(&m, 1);
        mb_rdend(&m, rd);
    }
    ck_assert_int_eq(walk_lim(m.b, m.n, &lim), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(R.na, 4);
    ck_assert(anomaly_has("more anomalies"));
    ck_assert_uint_eq(count_enc("dns-rdata"), 20);
}
END_TEST

START_TEST(first_qname)
{
    char host[AVTB_DNS_NAME_TEXT];
    uint16_t qtype = 7;
    mb m;

    cname_chain(&m);
    ck_assert_int_eq(avtb_dns_first_qname(m.b, m.n, host, &qtype), AVTB_PARSE_OK);
    ck_assert_str_eq(host, "www.example.com");
    ck_assert_uint_eq(qtype, AVTB_DNS_TYPE_A);

    mb_hdr(&m, 0x0100, 1, 0, 0, 0);
    mb_name(&m, "");
    mb_u16(&m, 2);
    mb_u16(&m, 1);
    ck_assert_int_eq(avtb_dns_first_qname(m.b, m.n, host, NULL), AVTB_PARSE_OK);
    ck_assert_str_eq(host, ".");

    mb_hdr(&m, 0x8180, 0, 0, 0, 0);
    ck_assert_int_eq(avtb_dns_first_qname(m.b, m.n, host, &qtype), AVTB_PARSE_ERROR);
    ck_assert_str_eq(host, "");
    ck_assert_uint_eq(qtype, 0);
    ck_assert_int_eq(avtb_dns_first_qname(m.b, 5, host, &qtype), AVTB_PARSE_ERROR);
}
END_TEST

/* ---- DNS over TCP ---- */

static void query(mb *m, const char *name, unsigned type)
{
    mb_hdr(m, 0x0100, 1, 0, 0, 0);
    mb_name(m, name);
    mb_u16(m, type);
    mb_u16(m, 1);
}

/* Appends msg with its length prefix to stream. */
static void frame(mb *stream, const mb *msg)
{
    mb_u16(stream, (unsigned)msg->n);
    mb_bytes(stream, msg->b, msg->n);
}

static avtb_dns_tcp *tcp_new(const avtb_dns_config *lim)
{
    avtb_dns_config c = config(lim);
    avtb_dns_tcp *p = avtb_dns_tcp_new(&c);

    ck_assert_ptr_nonnull(p);
    return p;
}

/* Feeds stream[from, to) in one allocation of exactly that size; returns the OKs. */
static int feed_at(avtb_dns_tcp *p, const uint8_t *stream, size_t from, size_t to, double ts)
{
    uint8_t *chunk = malloc(to - from + 1);
    size_t off = 0, n = to - from, used;
    int oks = 0;

    ck_assert_ptr_nonnull(chunk);
    memcpy(chunk, stream + from, n);
    while (off < n) {
        avtb_parse_result r = avtb_dns_tcp_parse(p, chunk + off, n - off, ts, &used);

        ck_assert_uint_le(used, n - off);
        off += used;
        if (r == AVTB_PARSE_OK)
            oks++;
        else
            ck_assert_int_eq(r, AVTB_PARSE_NEED_MORE);
    }
    free(chunk);
    return oks;
}

static int feed(avtb_dns_tcp *p, const uint8_t *stream, size_t from, size_t to)
{
    return feed_at(p, stream, from, to, 0);
}

static void two_messages(mb *stream, size_t *len1)
{
    mb m;

    stream->n = 0;
    query(&m, "one.example.com", 1);
    frame(stream, &m);
    *len1 = m.n;
    cname_chain(&m);
    frame(stream, &m);
}

START_TEST(tcp_two_in_one_chunk)
{
    avtb_dns_tcp *p = tcp_new(NULL);
    size_t len1;
    mb s;

    ck_assert_ptr_nonnull(p);
    rec_reset();
    two_messages(&s, &len1);
    ck_assert_int_eq(feed_at(p, s.b, 0, s.n, 3.0), 2);
    ck_assert_uint_eq(avtb_dns_tcp_messages(p), 2);
    ck_assert_uint_eq(R.na, 0);
    ck_assert_uint_eq(count_seen("dns-qname", "one.example.com"), 1);
    ck_assert_uint_eq(count_seen("dns-qname", "e1.akamaiedge.net"), 1);
    ck_assert_uint_eq(R.m[0].offset, 2);
    ck_assert_uint_eq(R.m[R.nm - 1].offset, 2 + len1 + 2);
    ck_assert(R.m[0].time == 3.0);
    ck_assert_str_eq(R.m[0].host, "one.example.com");
    ck_assert_str_eq(R.m[R.nm - 1].host, "www.example.com");
    ck_assert_str_eq(avtb_dns_tcp_host(p), "www.example.com");
    avtb_dns_tcp_free(p);
}
END_TEST

START_TEST(tcp_one_over_three_chunks)
{
    avtb_dns_tcp *p = tcp_new(NULL);
    mb m, s = {.n = 0};

    rec_reset();
    query(&m, "split.example.com", 16);
    frame(&s, &m);
    ck_assert_ptr_null(avtb_dns_tcp_host(p));
    ck_assert_int_eq(feed(p, s.b, 0, 1), 0); /* half the prefix */
    ck_assert_int_eq(feed(p, s.b, 1, 9), 0);
    ck_assert_uint_eq(R.nm, 0);
    ck_assert_int_eq(feed(p, s.b, 9, s.n), 1);
    ck_assert_uint_eq(count_seen("dns-qname", "split.example.com"), 1);
    ck_assert_uint_eq(count_seen("dns-labels", "splitexamplecom"), 1);
    ck_assert_uint_eq(R.m[0].offset, 2);
    ck_assert_str_eq(avtb_dns_tcp_host(p), "split.example.com");
    avtb_dns_tcp_free(p);
}
END_TEST

START_TEST(tcp_every_split)
{
    char whole[sizeof(R.log)];
    size_t len1;
    mb s;

    two_messages(&s, &len1);
    rec_reset();
    {
        avtb_dns_tcp *p = tcp_new(NULL);

        ck_assert_int_eq(feed(p, s.b, 0, s.n), 2);
        avtb_dns_tcp_free(p);
    }
    memcpy(whole, R.log, sizeof(whole));
    for (size_t a = 0; a <= s.n; a++)
        for (size_t b = a; b <= s.n; b += 7) {
            avtb_dns_tcp *p = tcp_new(NULL);

            rec_reset();
            ck_assert_int_eq(feed(p, s.b, 0, a) + feed(p, s.b, a, b) + feed(p, s.b, b, s.n), 2);
            ck_assert_str_eq(R.log, whole);
            avtb_dns_tcp_free(p);
        }
}
END_TEST

START_TEST(tcp_not_dns)
{
    avtb_dns_tcp *p = tcp_new(NULL);
    static const uint8_t junk[] = {0x00, 0x03, 'a', 'b', 'c', 0x00, 0x20};
    size_t used = 99;

    rec_reset();
    ck_assert_int_eq(avtb_dns_tcp_parse(p, junk, sizeof(junk), 0, &used), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(used, 2);
    ck_assert_uint_eq(R.na, 1);
    ck_assert(anomaly_has("not DNS over TCP"));
    ck_assert_int_eq(avtb_dns_tcp_parse(p, junk + 2, 5, 0, &used), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(used, 0);
    ck_assert_uint_eq(R.na, 1); /* reported once */
    avtb_dns_tcp_free(p);
    avtb_dns_tcp_free(NULL);
}
END_TEST

START_TEST(tcp_oversized_skipped)
{
    avtb_dns_config lim;
    avtb_dns_tcp *p;
    mb big, small, s = {.n = 0};

    avtb_dns_config_default(&lim);
    lim.tcp_max_message = 40;
    p = tcp_new(&lim);
    rec_reset();
    query(&big, "a-name-long-enough-to-pass-the-limit.example.com", 1);
    query(&small, "ok.example", 1);
    frame(&s, &big);
    frame(&s, &small);
    ck_assert_int_eq(feed(p, s.b, 0, 20), 0);
    ck_assert_int_eq(feed(p, s.b, 20, s.n), 1);
    ck_assert(anomaly_has("exceeds the limit of 40"));
    ck_assert_uint_eq(R.nm, 2);
    ck_assert_uint_eq(count_seen("dns-qname", "ok.example"), 1);
    ck_assert_uint_eq(R.m[0].offset, 2 + big.n + 2);
    ck_assert_uint_eq(avtb_dns_tcp_messages(p), 1);
    avtb_dns_tcp_free(p);
}
END_TEST

START_TEST(tcp_malformed_message_keeps_framing)
{
    avtb_dns_tcp *p = tcp_new(NULL);
    mb bad, good, s = {.n = 0};

    rec_reset();
    query(&bad, "x.example", 1);
    bad.b[12] = 0xc0; /* the name now points forward */
    bad.b[13] = 0x30;
    query(&good, "y.example", 1);
    frame(&s, &bad);
    frame(&s, &good);
    ck_assert_int_eq(feed(p, s.b, 0, s.n), 2);
    ck_assert_uint_eq(R.na, 1);
    ck_assert_uint_eq(count_seen("dns-qname", "y.example"), 1);
    avtb_dns_tcp_free(p);
}
END_TEST

START_TEST(tcp_end_mid_message)
{
    avtb_dns_tcp *p = tcp_new(NULL);
    mb m, s = {.n = 0};
    size_t used;

    /* The capture stops inside the answers: the question's name still counts. */
    rec_reset();
    cname_chain(&m);
    frame(&s, &m);
    ck_assert_int_eq(feed(p, s.b, 0, 40), 0);
    avtb_dns_tcp_end(p, 9.0);
    ck_assert(anomaly_has("ends 38 bytes into a 98-byte message"));
    ck_assert(anomaly_has("answer record at offset 33 cut short"));
    ck_assert_uint_eq(count_seen("dns-qname", "www.example.com"), 1);
    ck_assert(R.m[0].time == 9.0);
    ck_assert_str_eq(avtb_dns_tcp_host(p), "www.example.com");
    ck_assert_uint_eq(avtb_dns_tcp_messages(p), 0);
    ck_assert_int_eq(avtb_dns_tcp_parse(p, s.b, 1, 0, &used), AVTB_PARSE_ERROR);
    avtb_dns_tcp_free(p);

    /* Inside a length prefix: said, nothing to walk. */
    p = tcp_new(NULL);
    rec_reset();
    ck_assert_int_eq(feed(p, s.b, 0, 1), 0);
    avtb_dns_tcp_end(p, 1.0);
    ck_assert_uint_eq(R.na, 1);
    ck_assert_uint_eq(R.nm, 0);
    avtb_dns_tcp_free(p);

    /* Between messages: nothing to say. */
    p = tcp_new(NULL);
    rec_reset();
    ck_assert_int_eq(feed(p, s.b, 0, s.n), 1);
    avtb_dns_tcp_end(p, 1.0);
    ck_assert_uint_eq(R.na, 0);
    avtb_dns_tcp_free(p);
}
END_TEST

/* ---- The sink's functions (sink-dns.c) ---- */

START_TEST(sink_query_and_reply)
{
    static const uint8_t a4[4] = {10, 213, 99, 1};
    avtb_dns_query q, back;
    uint8_t reply[512];
    char tbuf[16], esc[64];
    size_t n;
    mb m;

    query(&m, "www.example.com", AVTB_DNS_TYPE_A);
    ck_assert_int_eq(avtb_dns_parse_query(m.b, m.n, &q), AVTB_PARSE_OK);
    ck_assert_str_eq(q.qname, "www.example.com");
    ck_assert_uint_eq(q.qtype, AVTB_DNS_TYPE_A);
    ck_assert_uint_eq(q.qclass, AVTB_DNS_CLASS_IN);
    ck_assert_uint_eq(q.id, 0x1234);
    ck_assert_uint_eq(q.question_end, m.n);
    n = avtb_dns_build_reply(&q, m.b, a4, 60, reply, sizeof(reply));
    ck_assert_uint_eq(n, m.n + 16);
    ck_assert_int_eq(avtb_dns_parse_query(reply, n, &back), AVTB_PARSE_ERROR); /* a response */
    ck_assert_uint_eq(avtb_dns_build_reply(&q, m.b, a4, 60, reply, n - 1), 0);
    ck_assert_uint_eq(avtb_dns_build_reply(&q, m.b, NULL, 60, reply, sizeof(reply)), m.n);

    /* The reply walks clean: one name, pointed to by the answer. */
    rec_reset();
    n = avtb_dns_build_reply(&q, m.b, a4, 60, reply, sizeof(reply));
    ck_assert_int_eq(walk_lim(reply, n, NULL), AVTB_PARSE_OK);
    ck_assert_uint_eq(R.nm, 2);

    /* The sink refuses compression in a question; the walk follows it. */
    m.b[12] = 0xc0;
    ck_assert_int_eq(avtb_dns_parse_query(m.b, m.n, &q), AVTB_PARSE_ERROR);

    ck_assert_str_eq(avtb_dns_type_name(16, tbuf), "TXT");
    ck_assert_str_eq(avtb_dns_type_name(999, tbuf), "TYPE999");
    avtb_dns_escape("a.b\\c\n", 6, esc, sizeof(esc));
    ck_assert_str_eq(esc, "a.b\\092c\\010");
    avtb_dns_escape("abcdef", 6, esc, 4);
    ck_assert_str_eq(esc, "abc");
}
END_TEST

static Suite *dns_suite(void)
{
    Suite *s = suite_create("dns");
    TCase *tc;

    tc = tcase_create("walk");
    tcase_add_test(tc, a_query);
    tcase_add_test(tc, compressed_cname_chain);
    tcase_add_test(tc, base32_token_over_labels);
    tcase_add_test(tc, txt_strings_joined);
    tcase_add_test(tc, rdata_names_and_raw);
    tcase_add_test(tc, one_label_name_one_view);
    tcase_add_test(tc, raw_label_bytes_not_escaped);
    tcase_add_test(tc, first_qname);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_add_test(tc, pointer_loop);
    tcase_add_test(tc, pointer_forward);
    tcase_add_test(tc, pointer_into_header);
    tcase_add_test(tc, truncated_rr);
    tcase_add_test(tc, name_too_long);
    tcase_add_test(tc, long_name_by_pointers);
    tcase_add_test(tc, bad_label_type_and_txt);
    tcase_add_test(tc, pointer_chain_too_long);
    tcase_add_test(tc, rdata_shapes);
    tcase_add_test(tc, header_and_trailing);
    tcase_add_test(tc, limits_hold);
    suite_add_tcase(s, tc);

    tc = tcase_create("tcp");
    tcase_add_test(tc, tcp_two_in_one_chunk);
    tcase_add_test(tc, tcp_one_over_three_chunks);
    tcase_add_test(tc, tcp_every_split);
    tcase_add_test(tc, tcp_not_dns);
    tcase_add_test(tc, tcp_oversized_skipped);
    tcase_add_test(tc, tcp_malformed_message_keeps_framing);
    tcase_add_test(tc, tcp_end_mid_message);
    suite_add_tcase(s, tc);

    tc = tcase_create("sink");
    tcase_add_test(tc, sink_query_and_reply);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dns_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
