/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IP fragment reassembly (collectors/defrag.h) on captures written with
 * pcapgen and read back through source-pcap and decode, as the analysis
 * does: what comes out whole, what is reported, and that memory stays
 * within the limits.
 */
#include <check.h>
#include <netinet/in.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/decode.h"
#include "collectors/defrag.h"
#include "collectors/source-pcap.h"
#include "collectors/stream-tcp.h"
#include "tests/unit/pcapgen.h"

static char capfile[64];

static void setup(void)
{
    int fd;

    snprintf(capfile, sizeof(capfile), "/tmp/avtb-test-defrag-XXXXXX");
    fd = mkstemp(capfile);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static void teardown(void)
{
    unlink(capfile);
}

/* What came out of a replay. */
typedef struct result {
    size_t ndgrams;      /* reassembled and decoded OK */
    uint8_t data[16384]; /* UDP payloads one after the other, or the TCP stream */
    size_t len;
    uint16_t sport, dport; /* of the last datagram */
    uint8_t proto, family;
    uint16_t vlan;
    avtb_defrag_stats st;
    avtb_defrag_event ev[64];
    size_t nev;
    uint64_t held_max;
    size_t pending_max;
    uint64_t tcp_gaps;
} result;

static void on_event(void *ctx, const avtb_defrag_event *ev)
{
    result *r = ctx;

    if (r->nev < sizeof(r->ev) / sizeof(r->ev[0]))
        r->ev[r->nev++] = *ev;
}

static void on_tcp_data(void *ctx, unsigned dir, const uint8_t *buf, size_t len, double ts)
{
    result *r = ctx;

    (void)dir;
    (void)ts;
    ck_assert_uint_le(r->len + len, sizeof(r->data));
    memcpy(r->data + r->len, buf, len);
    r->len += len;
}

static void on_tcp_gap(void *ctx, unsigned dir, uint64_t len)
{
    (void)dir;
    ((result *)ctx)->tcp_gaps += len;
}

static const avtb_tcp_sink tcp_sink = {on_tcp_data, on_tcp_gap, NULL};

static void take(result *r, avtb_tcp_session *tcp, const avtb_decoded *d, double ts)
{
    r->sport = d->sport;
    r->dport = d->dport;
    r->proto = d->proto;
    r->family = d->family;
    r->vlan = d->vlan;
    if (d->proto == IPPROTO_TCP) {
        ck_assert_int_eq(avtb_tcp_session_segment(tcp, 0, d, ts), AVTB_OK);
        return;
    }
    ck_assert_uint_le(r->len + d->payload_len, sizeof(r->data));
    memcpy(r->data + r->len, d->payload, d->payload_len);
    r->len += d->payload_len;
}

/* Reads capfile the way the analysis does: decode, defragment, decode again. */
static void replay(const avtb_defrag_limits *lim, result *r)
{
    avtb_pcap_source *src = NULL;
    avtb_error err = {0};
    avtb_stream_limits slim;
    avtb_tcp_reasm *ra;
    avtb_tcp_session *tcp;
    avtb_defrag *df;

    memset(r, 0, sizeof(*r));
    avtb_stream_limits_default(&slim);
    ra = avtb_tcp_reasm_new(&slim);
    tcp = avtb_tcp_session_new(ra, &tcp_sink, r);
    df = avtb_defrag_new(lim, on_event, r);
    ck_assert_ptr_nonnull(df);
    ck_assert_msg(avtb_pcap_source_open(capfile, &src, &err) == AVTB_OK, "%s", err.msg);
    for (;;) {
        avtb_defrag_datagram *dg;
        avtb_packet pkt;
        avtb_decoded d;
        bool eof;

        ck_assert_int_eq(avtb_pcap_source_next(src, &pkt, &eof, &err), AVTB_OK);
        if (eof)
            break;
        avtb_defrag_expire(df, pkt.ts);
        switch (avtb_decode(pkt.linktype, pkt.data, pkt.caplen, &d)) {
        case AVTB_DECODE_OK:
            take(r, tcp, &d, pkt.ts);
            break;
        case AVTB_DECODE_FRAGMENT:
            ck_assert_int_eq(avtb_defrag_add(df, &d, pkt.ts, &dg), AVTB_OK);
            if (dg != NULL) {
                avtb_decoded whole;

                ck_assert_int_eq(avtb_defrag_decode(dg, &whole), AVTB_DECODE_OK);
                r->ndgrams++;
                take(r, tcp, &whole, avtb_defrag_datagram_ts(dg));
                avtb_defrag_datagram_free(dg);
            }
            break;
        default:
            break;
        }
        if (avtb_defrag_held(df) > r->held_max)
            r->held_max = avtb_defrag_held(df);
        if (avtb_defrag_pending(df) > r->pending_max)
            r->pending_max = avtb_defrag_pending(df);
    }
    avtb_defrag_flush(df);
    ck_assert_uint_eq(avtb_defrag_held(df), 0);
    ck_assert_uint_eq(avtb_defrag_pending(df), 0);
    avtb_defrag_stats_get(df, &r->st);
    avtb_tcp_session_flush(tcp);
    avtb_tcp_session_free(tcp);
    avtb_tcp_reasm_free(ra);
    avtb_defrag_free(df);
    avtb_pcap_source_free(src);
}

static uint64_t anomalies(const result *r)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < AVTB_DEFRAG_ANOM_COUNT; i++)
        n += r->st.anomalies[i];
    return n;
}

static uint8_t body[4000];

/* A UDP datagram of len payload bytes ("body"), IPv4 or IPv6. */
static pg_pkt udp_pkt(bool v6, size_t len, uint32_t id)
{
    pg_pkt p = {0};

    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)('A' + i % 26);
    p.src = v6 ? "fd00::2" : "10.0.0.2";
    p.dst = v6 ? "fd00::1" : "10.0.0.1";
    p.sport = 5353;
    p.dport = 9999;
    p.proto = 17;
    p.payload = body;
    p.len = len;
    p.ipid = id;
    p.ts = 100.0;
    return p;
}

/* Writes p's fragments to capfile. */
static void write_frags(int linktype, const pg_pkt *p, const pg_frag *fr, size_t n)
{
    pcapgen *g = pcapgen_open(capfile, linktype, false);

    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(pcapgen_fragments(g, p, fr, n), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);
}

static void assert_body(const result *r, size_t len)
{
    ck_assert_uint_eq(r->ndgrams, 1);
    ck_assert_uint_eq(r->len, len);
    ck_assert_int_eq(memcmp(r->data, body, len), 0);
    ck_assert_uint_eq(r->sport, 5353);
    ck_assert_uint_eq(r->dport, 9999);
    ck_assert_uint_eq(r->proto, IPPROTO_UDP);
}

/* --- IPv4 ------------------------------------------------------------------ */

START_TEST(v4_in_order)
{
    pg_pkt p = udp_pkt(false, 100, 77); /* 108 bytes of IP payload */
    pg_frag fr[] = {{0, 48, NULL, 0, 0}, {48, 48, NULL, 0, 0}, {96, 12, NULL, 0, 0}};
    result r;

    p.vlan = 42;
    write_frags(DLT_EN10MB, &p, fr, 3);
    replay(NULL, &r);
    assert_body(&r, 100);
    ck_assert_uint_eq(r.vlan, 42); /* it joins the flow of its VLAN */
    ck_assert_uint_eq(r.st.fragments, 3);
    ck_assert_uint_eq(r.st.reassembled, 1);
    ck_assert_uint_eq(anomalies(&r), 0);
}
END_TEST

START_TEST(v4_reversed)
{
    pg_pkt p = udp_pkt(false, 1000, 78);
    pg_frag fr[] = {{1000, 8, NULL, 0, 0},
                    {800, 200, NULL, 0, 0},
                    {400, 400, NULL, 0, 0},
                    {0, 400, NULL, 0, 0}};
    result r;

    write_frags(DLT_EN10MB, &p, fr, 4);
    replay(NULL, &r);
    assert_body(&r, 1000);
    ck_assert_uint_eq(anomalies(&r), 0);
}
END_TEST

START_TEST(v4_overlap_identical)
{
    pg_pkt p = udp_pkt(false, 100, 79);
    pg_frag fr[] = {{0, 56, NULL, 0, 0},
                    {48, 48, NULL, 0, 0}, /* 48..55 twice, same bytes */
                    {0, 16, NULL, 0, 0},  /* a retransmitted head */
                    {96, 12, NULL, 0, 0}};
    result r;

    write_frags(DLT_EN10MB, &p, fr, 4);
    replay(NULL, &r);
    assert_body(&r, 100);
    ck_assert_uint_eq(anomalies(&r), 0);
}
END_TEST

/* The second fragment covers 48..107 of the IP payload, with "EVILEVIL" on 48..55. */
static uint8_t evil[60];

static void make_evil(void)
{
    memcpy(evil, body + 40, 60); /* IP payload byte 48 is body byte 40 (8 bytes of UDP header) */
    memcpy(evil, "EVILEVIL", 8);
}

START_TEST(v4_overlap_different_first_wins)
{
    pg_pkt p = udp_pkt(false, 100, 80);
    pg_frag fr[] = {{0, 56, NULL, 0, 0}, {48, 60, evil, 0, 0}};
    result r;

    make_evil();
    write_frags(DLT_EN10MB, &p, fr, 2);
    replay(NULL, &r);
    assert_body(&r, 100); /* the original came first */
    ck_assert_uint_eq(r.st.anomalies[AVTB_DEFRAG_ANOM_OVERLAP], 1);
    ck_assert_uint_eq(anomalies(&r), 1);
    ck_assert_uint_eq(r.nev, 1);
    ck_assert_int_eq(r.ev[0].kind, AVTB_DEFRAG_ANOM_OVERLAP);
    ck_assert_uint_eq(r.ev[0].id, 80);
    ck_assert_uint_eq(r.ev[0].family, 4);
    ck_assert_int_eq(memcmp(r.ev[0].src, "\x0a\x00\x00\x02", 4), 0);

    /* The other way round the altered copy is first, and it is what comes out. */
    fr[0] = (pg_frag){48, 60, evil, 0, 0};
    fr[1] = (pg_frag){0, 56, NULL, PG_MF_SET, 0};
    write_frags(DLT_EN10MB, &p, fr, 2);
    replay(NULL, &r);
    ck_assert_uint_eq(r.ndgrams, 1);
    ck_assert_uint_eq(r.len, 100);
    ck_assert_int_eq(memcmp(r.data + 40, "EVILEVIL", 8), 0);
    ck_assert_int_eq(memcmp(r.data, body, 40), 0);
    ck_assert_int_eq(memcmp(r.data + 48, body + 48, 52), 0);
    ck_assert_uint_eq(r.st.anomalies[AVTB_DEFRAG_ANOM_OVERLAP], 1);
}
END_TEST

START_TEST(v4_missing_fragment_times_out)
{
    pg_pkt p = udp_pkt(false, 100, 81);
    pg_frag fr[] = {{0, 48, NULL, 0, 0}, {96, 12, NULL, 0, 0}};
    pcapgen *g = pcapgen_open(capfile, DLT_EN10MB, false);
    pg_pkt later = udp_pkt(false, 10, 0);
    result r;

    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(pcapgen_fragments(g, &p, fr, 2), 0);
    /* 31 s later: an unrelated whole datagram; the fragments have expired by then. */
    later.ts = p.ts + 31;
    later.sport = 1111;
    ck_assert_int_eq(pcapgen_packet(g, &later), 0);
    /* The missing piece arrives after the expiry: it starts a datagram of its own. */
    fr[0] = (pg_frag){48, 48, NULL, 0, p.ts + 32};
    ck_assert_int_eq(pcapgen_fragments(g, &p, fr, 1), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    replay(NULL, &r);
    ck_assert_uint_eq(r.ndgrams, 0);
    ck_assert_uint_eq(r.len, 10); /* only the unrelated datagram */
    ck_assert_uint_eq(r.sport, 1111);
    ck_assert_uint_eq(r.st.anomalies[AVTB_DEFRAG_ANOM_INCOMPLETE], 2); /* expired + at the end */
    ck_assert_uint_eq(r.nev, 2);
    ck_assert_double_eq_tol(r.ev[0].ts, p.ts + 31, 1e-6);
}
END_TEST

START_TEST(v4_timeout_is_capture_time)
{
    pg_pkt p = udp_pkt(false, 100, 82);
    pg_frag fr[] = {{0, 48, NULL, 0, 100.0}, {48, 60, NULL, 0, 129.0}};
    avtb_defrag_limits lim;
    result r;

    write_frags(DLT_EN10MB, &p, fr, 2);
    replay(NULL, &r); /* 29 s apart: within the default 30 s */
    assert_body(&r, 100);

    avtb_defrag_limits_default(&lim);
    lim.timeout = 10; /* configurable */
    replay(&lim, &r);
    ck_assert_uint_eq(r.ndgrams, 0);
    ck_assert_uint_eq(r.st.anomalies[AVTB_DEFRAG_ANOM_INCOMPLETE], 2);
}
END_TEST

START_TEST(v4_tcp_tiny_fragments_into_stream)
{
    pcapgen *g = pcapgen_open(capfile, DLT_EN10MB, false);
    static const char msg[] = "user=alice&token=AVTBQ3F7K2M9XWZP4R8TAB&end=1";
    pg_pkt p = {0};
    /* The TCP header itself split in two (RFC 1858 tiny fragments), then the data. */
    pg_frag fr[] = {{0, 8, NULL, 0, 0}, {8, 16, NULL, 0, 0}, {24, 41, NULL, 0, 0}};
    result r;

    ck_assert_ptr_nonnull(g);
    p.src = "10.0.0.2";
    p.dst = "10.0.0.1";
    p.sport = 40000;
    p.dport = 80;
    p.proto = 6;
    p.flags = PG_SYN;
    p.seq = 1000;
    p.ts = 1.0;
    ck_assert_int_eq(pcapgen_packet(g, &p), 0);
    p.flags = PG_ACK | PG_PSH;
    p.seq = 1001;
    p.payload = msg;
    p.len = strlen(msg);
    p.ipid = 4242;
    p.ts = 2.0;
    ck_assert_uint_eq(pg_frag_total(&p), 20 + strlen(msg));
    ck_assert_int_eq(pcapgen_fragments(g, &p, fr, 3), 0);
    /* The same id on another VLAN is another datagram: never mixed in. */
    p.vlan = 99;
    ck_assert_int_eq(pcapgen_fragments(g, &p, fr + 1, 1), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    replay(NULL, &r);
    ck_assert_uint_eq(r.ndgrams, 1);
    ck_assert_uint_eq(r.proto, IPPROTO_TCP);
    ck_assert_uint_eq(r.len, strlen(msg));
    ck_assert_int_eq(memcmp(r.data, msg, r.len), 0);
    ck_assert_uint_eq(r.tcp_gaps, 0);
    ck_assert_uint_eq(r.st.anomalies[AVTB_DEFRAG_ANOM_INCOMPLETE], 1); /* the VLAN 99 piece */
    ck_assert_uint_eq(anomalies(&r), 1);
    ck_assert_uint_eq(r.ev[0].vlan, 99);
}
END_TEST

/* --- IPv6 ------------------------------------------------------------------ */

START_TEST(v6_fragments_with_extension_headers)
{
    pg_pkt p = udp_pkt(true, 300, 0xdeadbeef);
    /* Hop-by-hop stays in front of the fragment header, destination options travel inside. */
    pg_frag fr[] = {{160, 156, NULL, 0, 0}, {0, 80, NULL, 0, 0}, {80, 80, NULL, 0, 0}};
    result r;

    p.v6ext[0] = 0;
    p.v6ext[1] = 60;
    p.nv6ext = 2;
    ck_assert_uint_eq(pg_frag_total(&p), 8 + 8 + 300);
    write_frags(DLT_EN10MB, &p, fr, 3);
    replay(NULL, &r);
    assert_body(&r, 300);
    ck_assert_uint_eq(r.family, 6);
    ck_assert_uint_eq(anomalies(&r), 0);
}
END_TEST

START_TEST(v6_overlap_and_missing)
{
    pg_pkt p = udp_pkt(true, 100, 7);
    pg_frag fr[] = {{0, 56, NULL, 0, 0}, {48, 60, evil, 0, 0}};
    result r;

    make_evil();
    write_frags(DLT_LINUX_SLL2, &p, fr, 2);
    replay(NULL, &r);
    assert_body(&r, 100);
    ck_assert_uint_eq(r.st.anomalies[AVTB_DEFRAG_ANOM_OVERLAP], 1);

    write_frags(DLT_LINUX_SLL2, &p, fr + 1, 1); /* only the tail: never completes */
    replay(NULL, &r);
    ck_assert_uint_eq(r.ndgrams, 0);
    ck_assert_uint_eq(r.st.anomalies[AVTB_DEFRAG_ANOM_INCOMPLETE], 1);
}
END_TEST

/* --- Keys and lengths --------------------------------------------------------- */

START_TEST(keys_keep_datagrams_apart)
{
    pcapgen *g = pcapgen_open(capfile, DLT_RAW, false);
    pg_pkt a = udp_pkt(false, 100, 5), b = udp_pkt(false, 100, 5);
    pg_frag head = {0, 48, NULL, 0, 0}, tail = {48, 60, NULL, 0, 0};
    result r;

    ck_assert_ptr_nonnull(g);
    b.src = "10.0.0.3"; /* same id, another sender */
    ck_assert_int_eq(pcapgen_fragments(g, &a, &head, 1), 0);
    ck_assert_int_eq(pcapgen_fragments(g, &b, &head, 1), 0);
    ck_assert_int_eq(pcapgen_fragments(g, &b, &tail, 1), 0);
    ck_assert_int_eq(pcapgen_fragments(g, &a, &tail, 1), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);
    replay(NULL, &r);
    ck_assert_uint_eq(r.ndgrams, 2);
    ck_assert_uint_eq(r.pending_max, 2);
    ck_assert_uint_eq(anomalies(&r), 0);
}
END_TEST

START_TEST(bad_and_too_long_lengths)
{
    pg_pkt p = udp_pkt(false, 100, 9);
    /* Two last fragments that disagree on where the datagram ends. */
    /* (IP payload byte 96 is body byte 88: the same bytes where they overlap.) */
    pg_frag fr[] = {{96, 12, NULL, 0, 0}, {96, 20, body + 88, PG_MF_CLEAR, 0}, {0, 96, NULL, 0, 0}};
    avtb_defrag_limits lim;
    result r;

    write_frags(DLT_EN10MB, &p, fr, 3);
    replay(NULL, &r);
    assert_body(&r, 100); /* the first end holds */
    ck_assert_uint_eq(r.st.anomalies[AVTB_DEFRAG_ANOM_BAD_LENGTH], 1);
    ck_assert_uint_eq(anomalies(&r), 1);

    /* A datagram longer than the limit: the excess is dropped and reported. */
    avtb_defrag_limits_default(&lim);
    lim.max_datagram = 64;
    fr[0] = (pg_frag){0, 48, NULL, 0, 0};
    fr[1] = (pg_frag){48, 60, NULL, 0, 0};
    write_frags(DLT_EN10MB, &p, fr, 2);
    replay(&lim, &r);
    ck_assert_uint_eq(r.st.anomalies[AVTB_DEFRAG_ANOM_TOO_BIG], 1);
    ck_assert_uint_le(r.held_max, 64 + 4096);
    /* What fitted is still analysed, as a datagram cut short. */
    ck_assert_uint_eq(r.ndgrams, 1);
    ck_assert_uint_eq(r.len, 64 - 8);
    ck_assert_int_eq(memcmp(r.data, body, 56), 0);
}
END_TEST

START_TEST(snaplen_cut_fragment)
{
    pg_pkt p = udp_pkt(false, 100, 10);
    pg_frag fr[] = {{0, 48, NULL, 0, 0}};
    pcapgen *g = pcapgen_open(capfile, DLT_EN10MB, false);
    result r;

    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(pcapgen_fragments(g, &p, fr, 1), 0);
    /* The last fragment captured with 30 of its 60 data bytes. */
    p.cut = 14 + 20 + 30;
    fr[0] = (pg_frag){48, 60, NULL, 0, 0};
    ck_assert_int_eq(pcapgen_fragments(g, &p, fr, 1), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);
    replay(NULL, &r);
    ck_assert_uint_eq(r.ndgrams, 0);
    ck_assert_uint_eq(r.st.anomalies[AVTB_DEFRAG_ANOM_CUT], 1);
    ck_assert_uint_eq(r.st.anomalies[AVTB_DEFRAG_ANOM_INCOMPLETE], 1);
}
END_TEST

/* --- Memory ------------------------------------------------------------------- */

START_TEST(memcap_drops_oldest)
{
    pcapgen *g = pcapgen_open(capfile, DLT_EN10MB, false);
    pg_frag head = {0, 1000, NULL, 0, 0}, tail = {1000, 1008, NULL, 0, 0};
    avtb_defrag_limits lim;
    result r;

    ck_assert_ptr_nonnull(g);
    /* 50 datagrams that never complete, then one that does. */
    for (uint32_t id = 1; id <= 50; id++) {
        pg_pkt p = udp_pkt(false, 2000, id);

        p.ts = 100.0 + id * 0.01;
        ck_assert_int_eq(pcapgen_fragments(g, &p, &head, 1), 0);
    }
    {
        pg_pkt p = udp_pkt(false, 2000, 999);

        p.ts = 101.0;
        ck_assert_int_eq(pcapgen_fragments(g, &p, &head, 1), 0);
        ck_assert_int_eq(pcapgen_fragments(g, &p, &tail, 1), 0);
    }
    ck_assert_int_eq(pcapgen_close(g), 0);

    avtb_defrag_limits_default(&lim);
    lim.memcap = 16 << 10;
    replay(&lim, &r);
    ck_assert_uint_le(r.held_max, lim.memcap);
    ck_assert_uint_ge(r.st.anomalies[AVTB_DEFRAG_ANOM_MEMCAP], 30);
    assert_body(&r, 2000); /* the newest still made it */
    ck_assert_uint_eq(
        r.st.anomalies[AVTB_DEFRAG_ANOM_MEMCAP] + r.st.anomalies[AVTB_DEFRAG_ANOM_INCOMPLETE], 50);

    avtb_defrag_limits_default(&lim);
    lim.max_datagrams = 4;
    replay(&lim, &r);
    ck_assert_uint_le(r.pending_max, 4);
    ck_assert_uint_eq(r.st.anomalies[AVTB_DEFRAG_ANOM_MEMCAP], 47);
    assert_body(&r, 2000);
}
END_TEST

/* Many overlapping, shuffled fragments of one datagram: still the original bytes. */
START_TEST(shuffled_overlapping_fragments)
{
    pg_pkt p = udp_pkt(false, 3000, 11);
    pg_frag fr[64];
    size_t n = 0, total = pg_frag_total(&p);
    uint32_t x = 12345;
    result r;

    for (uint32_t off = 0; off < total; off += 64) {
        uint32_t len = (uint32_t)(total - off < 200 ? total - off : 200);

        fr[n++] = (pg_frag){off, len, NULL, 0, 0};
    }
    for (size_t i = n - 1; i > 0; i--) {
        size_t j;
        pg_frag t;

        x = x * 1103515245u + 12345u;
        j = (x >> 8) % (i + 1);
        t = fr[i];
        fr[i] = fr[j];
        fr[j] = t;
    }
    write_frags(DLT_EN10MB, &p, fr, n);
    replay(NULL, &r);
    assert_body(&r, 3000);
    for (unsigned i = 0; i < AVTB_DEFRAG_ANOM_COUNT; i++)
        ck_assert_msg(r.st.anomalies[i] == 0, "anomaly %u", i);
}
END_TEST

/* Every packet captured twice (as on "any", which sees the guest's tap and the bridge). */
START_TEST(doubled_capture_is_quiet)
{
    pg_pkt p = udp_pkt(false, 100, 12);
    pg_frag fr[] = {{0, 48, NULL, 0, 0},  {0, 48, NULL, 0, 0},  {48, 48, NULL, 0, 0},
                    {48, 48, NULL, 0, 0}, {96, 12, NULL, 0, 0}, {96, 12, NULL, 0, 0}};
    result r;

    write_frags(DLT_LINUX_SLL, &p, fr, 6);
    replay(NULL, &r);
    assert_body(&r, 100);
    ck_assert_uint_eq(r.st.duplicates, 1); /* the one after completion */
    ck_assert_uint_eq(anomalies(&r), 0);
}
END_TEST

/* The same id again soon after, with other bytes: a new datagram, not a duplicate. */
START_TEST(reused_id_is_a_new_datagram)
{
    pcapgen *g = pcapgen_open(capfile, DLT_EN10MB, false);
    pg_pkt a = udp_pkt(false, 100, 13), b;
    pg_frag fr[] = {{0, 48, NULL, 0, 0}, {48, 60, NULL, 0, 0}};
    static uint8_t other[100];
    result r;

    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(pcapgen_fragments(g, &a, fr, 2), 0);
    memset(other, 'z', sizeof(other));
    b = a;
    b.payload = other;
    b.ts += 1;
    ck_assert_int_eq(pcapgen_fragments(g, &b, fr, 2), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);
    replay(NULL, &r);
    ck_assert_uint_eq(r.ndgrams, 2);
    ck_assert_uint_eq(r.len, 200);
    ck_assert_int_eq(memcmp(r.data, body, 100), 0);
    ck_assert_int_eq(memcmp(r.data + 100, other, 100), 0);
    ck_assert_uint_eq(anomalies(&r), 0);

    /* Again, but the new datagram's first fragment happens to equal the old one's. */
    g = pcapgen_open(capfile, DLT_EN10MB, false);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(pcapgen_fragments(g, &a, fr, 2), 0);
    /* Two 16-bit words swapped in the second fragment's part: same UDP checksum. */
    memcpy(other, body, 100);
    memcpy(other + 60, body + 62, 2);
    memcpy(other + 62, body + 60, 2);
    ck_assert_int_eq(pcapgen_fragments(g, &b, fr, 2), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);
    replay(NULL, &r);
    ck_assert_uint_eq(r.ndgrams, 2);
    ck_assert_uint_eq(r.len, 200);
    ck_assert_int_eq(memcmp(r.data + 100, other, 100), 0);
    ck_assert_uint_eq(r.st.duplicates, 1); /* its first fragment was taken for one, at first */
    ck_assert_uint_eq(anomalies(&r), 0);
}
END_TEST

START_TEST(not_a_fragment_is_refused)
{
    avtb_defrag *df = avtb_defrag_new(NULL, NULL, NULL);
    avtb_defrag_datagram *dg = (avtb_defrag_datagram *)1;
    avtb_decoded d = {0};

    ck_assert_ptr_nonnull(df);
    ck_assert_int_eq(avtb_defrag_add(df, &d, 1.0, &dg), AVTB_ERR_INTERNAL);
    ck_assert_ptr_null(dg);
    avtb_defrag_free(df);
    avtb_defrag_free(NULL);
    avtb_defrag_datagram_free(NULL);
}
END_TEST

static Suite *defrag_suite(void)
{
    Suite *s = suite_create("defrag");
    TCase *tc;

    tc = tcase_create("ipv4");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, v4_in_order);
    tcase_add_test(tc, v4_reversed);
    tcase_add_test(tc, v4_overlap_identical);
    tcase_add_test(tc, v4_overlap_different_first_wins);
    tcase_add_test(tc, v4_missing_fragment_times_out);
    tcase_add_test(tc, v4_timeout_is_capture_time);
    tcase_add_test(tc, v4_tcp_tiny_fragments_into_stream);
    suite_add_tcase(s, tc);

    tc = tcase_create("ipv6");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, v6_fragments_with_extension_headers);
    tcase_add_test(tc, v6_overlap_and_missing);
    suite_add_tcase(s, tc);

    tc = tcase_create("keys-and-lengths");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, keys_keep_datagrams_apart);
    tcase_add_test(tc, bad_and_too_long_lengths);
    tcase_add_test(tc, snaplen_cut_fragment);
    tcase_add_test(tc, not_a_fragment_is_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("memory");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, memcap_drops_oldest);
    tcase_add_test(tc, shuffled_overlapping_fragments);
    tcase_add_test(tc, doubled_capture_is_quiet);
    tcase_add_test(tc, reused_id_is_a_new_datagram);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(defrag_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
