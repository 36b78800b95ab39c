/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network analysis (collectors/analyze.h and its stages) on captures
 * the tests write themselves with pcapgen: what is found, where it is
 * attributed, and that hostile or broken input is counted, not fatal.
 */
#include <check.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collectors/analyze.h"
#include "collectors/app-detect.h"
#include "collectors/match.h"
#include "collectors/stream-tcp.h"
#include "common/util.h"
#include "tests/unit/pcapgen.h"

static const char *const tokens[] = {"AVTBQ3F7K2M9XWZP4R8TAB", "AVTBM2N3B4V5C6X7Z2L3KJ"};
#define TOK0  "AVTBQ3F7K2M9XWZP4R8TAB"
#define TOK1  "AVTBM2N3B4V5C6X7Z2L3KJ"
#define DECOY "AVTBQ3F7K2M9XWZP4R8TAC" /* TOK0 with the last character changed */

static char tmpdir[64];
static char capfile[128];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/avtb-test-analyze-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(capfile, sizeof(capfile), "%s/cap.pcap", tmpdir);
}

static void teardown(void)
{
    avtb_error err = {0};

    ck_assert_int_eq(avtb_rm_rf(tmpdir, &err), AVTB_OK);
}

static pcapgen *gen(int linktype, bool ng)
{
    pcapgen *g = pcapgen_open(capfile, linktype, ng);

    ck_assert_ptr_nonnull(g);
    return g;
}

static void analyze(avtb_findings *f, avtb_analyze_stats *st)
{
    avtb_error err = {0};
    avtb_err r = avtb_analyze_pcap(capfile, tokens, 2, f, st, &err);

    ck_assert_msg(r == AVTB_OK, "analyze: %s", err.msg);
}

/* An HTTP POST request of body, on one segment after the handshake. */
static void http_post(pg_tcp *t, const char *host, const char *body)
{
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     host, strlen(body), body);

    ck_assert_int_eq(pg_tcp_send(t, true, req, (size_t)n), 0);
}

static const char http_ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";

static size_t offset_of(const char *hay, const char *needle)
{
    const char *p = strstr(hay, needle);

    ck_assert_ptr_nonnull(p);
    return (size_t)(p - hay);
}

/* --- HTTP ------------------------------------------------------------- */

START_TEST(http_post_body)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    avtb_findings f = {0};
    avtb_analyze_stats st;
    const char *body = "report=" TOK0 "&more=1";
    double ts_body;
    pg_tcp t;

    pg_tcp_init(&t, g, "10.0.0.2", 40000, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    http_post(&t, "exfil.example", body);
    ts_body = t.ts;
    ck_assert_int_eq(pg_tcp_send(&t, false, http_ok, strlen(http_ok)), 0);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    analyze(&f, &st);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_str_eq(f.items[0].token, TOK0);
    ck_assert_int_eq(f.items[0].kind, AVTB_FINDING_CONTENT);
    ck_assert_str_eq(f.items[0].protocol, "http");
    ck_assert_str_eq(f.items[0].encoding, "http-body");
    ck_assert_str_eq(f.items[0].src.ip, "10.0.0.2");
    ck_assert_uint_eq(f.items[0].src.port, 40000);
    ck_assert_ptr_null(f.items[0].src.host);
    ck_assert_str_eq(f.items[0].dst.ip, "10.0.0.1");
    ck_assert_uint_eq(f.items[0].dst.port, 80);
    ck_assert_str_eq(f.items[0].dst.host, "exfil.example");
    ck_assert_uint_eq(f.items[0].flow, 1);
    ck_assert_double_eq_tol(f.items[0].time, ts_body, 1e-5);
    ck_assert_uint_eq(st.flows, 1);
    ck_assert_uint_eq(st.packets, 8);
    ck_assert_uint_eq(st.anomalies, 0);
    avtb_findings_clear(&f);
}
END_TEST

START_TEST(host_of_each_request)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    const char *r1 = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
    const char *r2 = "GET /?q=" TOK0 " HTTP/1.1\r\nUser-Agent: x\r\nHost: b.example\r\n\r\n";
    avtb_findings f = {0};
    pg_tcp t;

    pg_tcp_init(&t, g, "10.0.0.2", 40001, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    ck_assert_int_eq(pg_tcp_send(&t, true, r1, strlen(r1)), 0);
    ck_assert_int_eq(pg_tcp_send(&t, false, http_ok, strlen(http_ok)), 0);
    /* The token is in the URI, before this request's Host header. */
    ck_assert_int_eq(pg_tcp_send(&t, true, r2, strlen(r2)), 0);
    ck_assert_int_eq(pg_tcp_send(&t, false, http_ok, strlen(http_ok)), 0);
    http_post(&t, "c.example", TOK1);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    analyze(&f, NULL);
    ck_assert_uint_eq(f.count, 2);
    ck_assert_str_eq(f.items[0].token, TOK0);
    ck_assert_str_eq(f.items[0].dst.host, "b.example");
    ck_assert_str_eq(f.items[0].encoding, "http-query");
    ck_assert_uint_eq(f.items[0].offset, strlen(r1) + offset_of(r2, TOK0));
    ck_assert_str_eq(f.items[1].token, TOK1);
    ck_assert_str_eq(f.items[1].dst.host, "c.example");
    avtb_findings_clear(&f);
}
END_TEST

START_TEST(two_tokens_two_findings)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    avtb_findings f = {0};
    pg_tcp t;

    pg_tcp_init(&t, g, "10.0.0.2", 40002, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    /* Each token twice: still one finding per token per direction. */
    http_post(&t, "x.example", TOK1 " and " TOK0 " again " TOK0 TOK1);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    analyze(&f, NULL);
    ck_assert_uint_eq(f.count, 2);
    ck_assert_str_eq(f.items[0].token, TOK1); /* same time and flow: sorted by token */
    ck_assert_str_eq(f.items[1].token, TOK0);
    avtb_findings_clear(&f);
}
END_TEST

START_TEST(decoy_is_not_a_finding)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    avtb_findings f = {0};
    char prefix[] = TOK0;
    pg_tcp t;

    prefix[sizeof(prefix) - 2] = '\0'; /* all but the last character, at the stream's end */
    pg_tcp_init(&t, g, "10.0.0.2", 40003, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    http_post(&t, "x.example", "decoy " DECOY " and a prefix ");
    ck_assert_int_eq(pg_tcp_send(&t, true, prefix, strlen(prefix)), 0);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    analyze(&f, NULL);
    ck_assert_uint_eq(f.count, 0);
    avtb_findings_clear(&f);
}
END_TEST

START_TEST(server_direction_reports_its_sender)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 22\r\n\r\n" TOK0;
    avtb_findings f = {0};
    pg_tcp t;

    pg_tcp_init(&t, g, "10.0.0.2", 40004, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    http_post(&t, "echo.example", TOK0);
    ck_assert_int_eq(pg_tcp_send(&t, false, resp, strlen(resp)), 0);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    analyze(&f, NULL);
    ck_assert_uint_eq(f.count, 2);
    ck_assert_str_eq(f.items[1].src.ip, "10.0.0.1");
    ck_assert_str_eq(f.items[1].src.host, "echo.example");
    ck_assert_str_eq(f.items[1].dst.ip, "10.0.0.2");
    ck_assert_str_eq(f.items[1].encoding, ""); /* the reply, searched as sent */
    avtb_findings_clear(&f);
}
END_TEST

/* --- Reassembly ------------------------------------------------------- */

static const char *stream_head =
    "POST /u HTTP/1.1\r\nHost: s.example\r\nContent-Length: 24\r\n\r\n";

START_TEST(token_split_across_segments)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    avtb_findings f = {0};
    double ts2;
    pg_tcp t;

    pg_tcp_init(&t, g, "10.0.0.2", 40010, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    ck_assert_int_eq(pg_tcp_send(&t, true, stream_head, strlen(stream_head)), 0);
    ck_assert_int_eq(pg_tcp_send(&t, true, "xx" TOK0, 2 + 9), 0);
    ck_assert_int_eq(pg_tcp_send(&t, true, &TOK0[9], 13), 0);
    ts2 = t.ts;
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    analyze(&f, NULL);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_uint_eq(f.items[0].offset, strlen(stream_head) + 2);
    ck_assert_double_eq_tol(f.items[0].time, ts2, 1e-5); /* the segment that completed it */
    ck_assert_str_eq(f.items[0].encoding, "http-body");
    avtb_findings_clear(&f);
}
END_TEST

START_TEST(segments_out_of_order)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    uint32_t h = (uint32_t)strlen(stream_head);
    avtb_findings f = {0};
    avtb_analyze_stats st;
    pg_tcp t;

    pg_tcp_init(&t, g, "10.0.0.2", 40011, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    /* Body "ab" TOK0[0..10) | TOK0[10..22) "cd": sent last piece first. */
    ck_assert_int_eq(pg_tcp_seg(&t, true, h + 12, &TOK0[10], 12), 0);
    ck_assert_int_eq(pg_tcp_seg(&t, true, 0, stream_head, h), 0);
    ck_assert_int_eq(pg_tcp_seg(&t, true, h, "ab" TOK0, 12), 0);
    t.coff = h + 24;
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    analyze(&f, &st);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_uint_eq(f.items[0].offset, h + 2);
    ck_assert_str_eq(f.items[0].dst.host, "s.example");
    ck_assert_uint_eq(st.anomalies, 0);
    avtb_findings_clear(&f);
}
END_TEST

START_TEST(retransmission_is_not_a_second_finding)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    uint32_t h = (uint32_t)strlen(stream_head);
    avtb_findings f = {0};
    avtb_analyze_stats st;
    pg_tcp t;

    pg_tcp_init(&t, g, "10.0.0.2", 40012, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    ck_assert_int_eq(pg_tcp_send(&t, true, stream_head, h), 0);
    ck_assert_int_eq(pg_tcp_send(&t, true, TOK0, 22), 0);
    ck_assert_int_eq(pg_tcp_seg(&t, true, h, TOK0, 22), 0);         /* exact */
    ck_assert_int_eq(pg_tcp_seg(&t, true, h + 5, &TOK0[5], 17), 0); /* partial */
    /* Overlap: old bytes again plus new ones; the first copy wins. */
    ck_assert_int_eq(pg_tcp_seg(&t, true, h, TOK0 "zz", 24), 0);
    t.coff = h + 24;
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    analyze(&f, &st);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_uint_eq(st.anomalies, 0);
    avtb_findings_clear(&f);
}
END_TEST

START_TEST(flow_without_handshake)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    avtb_findings f = {0};
    pg_tcp t, u;

    /* Capture started mid-connection; no SYN, high ports: first destination is the server. */
    pg_tcp_init(&t, g, "10.0.0.2", 51000, "10.0.0.1", 8080);
    ck_assert_int_eq(pg_tcp_send(&t, true, "hello ", 6), 0);
    ck_assert_int_eq(pg_tcp_send(&t, true, TOK0, 22), 0);
    /* Second flow seen first from the server's side: the port below 1024 wins. */
    pg_tcp_init(&u, g, "10.0.0.3", 52000, "10.0.0.1", 443);
    ck_assert_int_eq(pg_tcp_send(&u, false, "banner", 6), 0);
    ck_assert_int_eq(pg_tcp_send(&u, true, TOK1, 22), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    analyze(&f, NULL);
    ck_assert_uint_eq(f.count, 2);
    ck_assert_str_eq(f.items[0].token, TOK0);
    ck_assert_str_eq(f.items[0].protocol, "tcp");
    ck_assert_str_eq(f.items[0].src.ip, "10.0.0.2");
    ck_assert_uint_eq(f.items[0].dst.port, 8080);
    ck_assert_uint_eq(f.items[0].offset, 6);
    ck_assert_uint_eq(f.items[0].flow, 1);
    ck_assert_str_eq(f.items[1].src.ip, "10.0.0.3");
    ck_assert_uint_eq(f.items[1].dst.port, 443);
    ck_assert_uint_eq(f.items[1].flow, 2);
    avtb_findings_clear(&f);
}
END_TEST

START_TEST(lost_segment_is_a_gap)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    avtb_findings f = {0};
    avtb_analyze_stats st;
    pg_tcp t;

    pg_tcp_init(&t, g, "10.0.0.2", 40013, "10.0.0.1", 9000);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    ck_assert_int_eq(pg_tcp_seg(&t, true, 0, "first", 5), 0);
    /* bytes 5..105 never captured */
    ck_assert_int_eq(pg_tcp_seg(&t, true, 105, TOK0, 22), 0);
    t.coff = 127;
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    analyze(&f, &st);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_uint_eq(f.items[0].offset, 105); /* offsets stay true to the stream */
    ck_assert_uint_eq(st.anomalies, 1);
    avtb_findings_clear(&f);
}
END_TEST

START_TEST(port_reuse_is_a_new_flow)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    avtb_findings f = {0};
    avtb_analyze_stats st;
    pg_tcp t;

    pg_tcp_init(&t, g, "10.0.0.2", 40014, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    http_post(&t, "one.example", TOK0);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    pg_tcp_init(&t, g, "10.0.0.2", 40014, "10.0.0.1", 80);
    t.cisn += 777777;
    t.ts += 10;
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    http_post(&t, "two.example", TOK0);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    analyze(&f, &st);
    ck_assert_uint_eq(st.flows, 2);
    ck_assert_uint_eq(f.count, 2);
    ck_assert_uint_eq(f.items[1].flow, 2);
    ck_assert_str_eq(f.items[1].dst.host, "two.example");
    avtb_findings_clear(&f);
}
END_TEST

/* Records what stream-tcp delivers, for the limit tests. */
typedef struct rec {
    uint8_t buf[4096];
    size_t len;
    uint64_t gaps, gap_bytes, truncated;
} rec;

static void rec_data(void *ctx, unsigned dir, const uint8_t *buf, size_t len, double ts)
{
    rec *r = ctx;

    ck_assert_uint_le(r->len + len, sizeof(r->buf));
    memcpy(r->buf + r->len, buf, len);
    r->len += len;
}

static void rec_gap(void *ctx, unsigned dir, uint64_t len)
{
    rec *r = ctx;

    r->gaps++;
    r->gap_bytes += len;
}

static void rec_trunc(void *ctx)
{
    ((rec *)ctx)->truncated++;
}

static const avtb_tcp_sink rec_sink = {rec_data, rec_gap, rec_trunc};

static avtb_decoded seg(uint32_t seq, const char *data, uint8_t flags)
{
    avtb_decoded d = {0};

    d.family = 4;
    d.proto = 6;
    d.seq = seq;
    d.tcp_flags = flags | AVTB_TCP_ACK;
    d.payload = (const uint8_t *)data;
    d.payload_len = d.wire_payload_len = strlen(data);
    return d;
}

START_TEST(flow_cap_truncates)
{
    avtb_stream_limits lim;
    avtb_tcp_reasm *ra;
    avtb_tcp_session *s;
    avtb_decoded d;
    rec r = {0};

    avtb_stream_limits_default(&lim);
    lim.flow_cap = 10;
    ra = avtb_tcp_reasm_new(&lim);
    s = avtb_tcp_session_new(ra, &rec_sink, &r);
    d = seg(100, "0123456", 0);
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    d = seg(107, "789abcdef", 0);
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    d = seg(116, "more", 0);
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    ck_assert_uint_eq(r.len, 10);
    ck_assert_int_eq(memcmp(r.buf, "0123456789", 10), 0);
    ck_assert_uint_eq(r.truncated, 1);
    avtb_tcp_session_free(s);
    avtb_tcp_reasm_free(ra);
}
END_TEST

START_TEST(held_segments_are_bounded)
{
    avtb_stream_limits lim;
    avtb_tcp_reasm *ra;
    avtb_tcp_session *s;
    avtb_decoded d;
    rec r = {0};

    avtb_stream_limits_default(&lim);
    lim.max_held_segments = 2;
    ra = avtb_tcp_reasm_new(&lim);
    s = avtb_tcp_session_new(ra, &rec_sink, &r);
    d = seg(1000, "", AVTB_TCP_SYN);
    d.tcp_flags = AVTB_TCP_SYN;
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    /* "AAAA" at 1001 is lost; three later segments arrive, two may wait. */
    d = seg(1005, "BBBB", 0);
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    d = seg(1009, "CCCC", 0);
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    ck_assert_uint_eq(r.len, 0);
    ck_assert_uint_gt(avtb_tcp_reasm_held(ra), 0);
    d = seg(1013, "DDDD", 0);
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    ck_assert_uint_eq(r.gaps, 1);
    ck_assert_uint_eq(r.gap_bytes, 4);
    ck_assert_uint_eq(r.len, 12);
    ck_assert_int_eq(memcmp(r.buf, "BBBBCCCCDDDD", 12), 0);
    ck_assert_uint_eq(avtb_tcp_reasm_held(ra), 0);
    /* The late "AAAA" is behind next_seq now: dropped, not delivered out of place. */
    d = seg(1001, "AAAA", 0);
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    ck_assert_uint_eq(r.len, 12);
    avtb_tcp_session_free(s);
    avtb_tcp_reasm_free(ra);
}
END_TEST

START_TEST(fin_and_rst_close)
{
    avtb_stream_limits lim;
    avtb_tcp_reasm *ra;
    avtb_tcp_session *s;
    avtb_decoded d;
    rec r = {0};

    avtb_stream_limits_default(&lim);
    ra = avtb_tcp_reasm_new(&lim);
    s = avtb_tcp_session_new(ra, &rec_sink, &r);
    d = seg(50, "xyz", AVTB_TCP_FIN);
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    ck_assert(!avtb_tcp_session_closed(s));
    d = seg(9000, "", AVTB_TCP_FIN);
    ck_assert_int_eq(avtb_tcp_session_segment(s, 1, &d, 1.0), AVTB_OK);
    ck_assert(avtb_tcp_session_closed(s));
    avtb_tcp_session_free(s);

    memset(&r, 0, sizeof(r));
    s = avtb_tcp_session_new(ra, &rec_sink, &r);
    d = seg(10, "late", 0);
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    d = seg(20, "held", 0);
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    d = seg(0, "", AVTB_TCP_RST);
    ck_assert_int_eq(avtb_tcp_session_segment(s, 1, &d, 1.0), AVTB_OK);
    ck_assert(avtb_tcp_session_closed(s));
    ck_assert_uint_eq(r.len, 8); /* held data is delivered across the gap on RST */
    ck_assert_uint_eq(r.gaps, 1);
    ck_assert_uint_eq(avtb_tcp_reasm_held(ra), 0);
    avtb_tcp_session_free(s);
    avtb_tcp_reasm_free(ra);
}
END_TEST

/* --- Link layers and IP versions ---------------------------------------- */

static void one_post(int linktype, bool ng, uint16_t vlan, const char *cli, const char *srv)
{
    pcapgen *g = gen(linktype, ng);
    avtb_findings f = {0};
    avtb_analyze_stats st;
    pg_tcp t;

    pg_tcp_init(&t, g, cli, 40100, srv, 80);
    t.vlan = vlan;
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    http_post(&t, "l.example", TOK1);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    analyze(&f, &st);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_str_eq(f.items[0].token, TOK1);
    ck_assert_str_eq(f.items[0].src.ip, cli);
    ck_assert_str_eq(f.items[0].dst.ip, srv);
    ck_assert_str_eq(f.items[0].dst.host, "l.example");
    ck_assert_uint_eq(st.anomalies, 0);
    avtb_findings_clear(&f);
}

START_TEST(ipv6_tcp)
{
    one_post(DLT_EN10MB, false, 0, "fd00::2", "fd00::1");
}
END_TEST

START_TEST(vlan_tagged)
{
    one_post(DLT_EN10MB, false, 42, "10.0.0.2", "10.0.0.1");
}
END_TEST

START_TEST(linux_cooked)
{
    one_post(DLT_LINUX_SLL, false, 0, "10.0.0.2", "10.0.0.1");
}
END_TEST

START_TEST(pcapng_file)
{
    one_post(DLT_EN10MB, true, 0, "fd00::2", "fd00::1");
}
END_TEST

/* --- UDP --------------------------------------------------------------- */

static void udp(pcapgen *g, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                const char *payload, double ts)
{
    pg_pkt p = {0};

    p.src = src;
    p.dst = dst;
    p.sport = sport;
    p.dport = dport;
    p.proto = 17;
    p.payload = payload;
    p.len = strlen(payload);
    p.ts = ts;
    ck_assert_int_eq(pcapgen_packet(g, &p), 0);
}

START_TEST(udp_datagrams)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    avtb_findings f = {0};

    udp(g, "10.0.0.2", 40200, "10.0.0.1", 9999, "data:" TOK0, 100.0);
    udp(g, "10.0.0.2", 40200, "10.0.0.1", 9999, TOK0, 101.0); /* a second datagram, same flow */
    udp(g, "10.0.0.2", 40201, "10.0.0.1", 53, "\x12\x34" TOK1, 102.0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    analyze(&f, NULL);
    ck_assert_uint_eq(f.count, 3);
    ck_assert_str_eq(f.items[0].protocol, "udp");
    ck_assert_uint_eq(f.items[0].offset, 5);
    ck_assert_uint_eq(f.items[0].dst.port, 9999);
    ck_assert_uint_eq(f.items[1].offset, 0); /* offsets are per datagram */
    ck_assert_uint_eq(f.items[1].flow, 1);
    ck_assert_double_eq_tol(f.items[1].time, 101.0, 1e-6);
    ck_assert_str_eq(f.items[2].protocol, "dns");
    ck_assert_str_eq(f.items[2].token, TOK1);
    ck_assert_uint_eq(f.items[2].flow, 2);
    avtb_findings_clear(&f);
}
END_TEST

/* --- Hostile and broken input ------------------------------------------ */

START_TEST(malformed_packets_are_counted)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    static const uint8_t eth_ipv4[] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00};
    uint8_t frame[128];
    avtb_findings f = {0};
    avtb_analyze_stats st;
    pg_tcp t;
    pg_pkt p = {0};

    /* 1: Ethernet header only, cut short. */
    ck_assert_int_eq(pcapgen_frame(g, 1.0, eth_ipv4, 10, 10), 0);
    /* 2: IPv4 header claiming 60 bytes of options in a 34-byte frame. */
    memset(frame, 0, sizeof(frame));
    memcpy(frame, eth_ipv4, 14);
    frame[14] = 0x4f;
    ck_assert_int_eq(pcapgen_frame(g, 2.0, frame, 34, 34), 0);
    /* 3: IPv4 + a TCP header with a data offset past the end. */
    frame[14] = 0x45;
    frame[16] = 0;
    frame[17] = 40;
    frame[23] = 6;
    frame[14 + 20 + 12] = 0xf0;
    ck_assert_int_eq(pcapgen_frame(g, 3.0, frame, 54, 54), 0);
    /* 4: UDP length larger than the IP packet. */
    frame[23] = 17;
    frame[14 + 20 + 4] = 0xff;
    ck_assert_int_eq(pcapgen_frame(g, 4.0, frame, 54, 54), 0);
    /* 5: a TCP segment cut by the snaplen in the middle of its payload. */
    p.src = "10.0.0.9";
    p.dst = "10.0.0.1";
    p.sport = 1234;
    p.dport = 5678;
    p.proto = 6;
    p.flags = PG_ACK;
    p.payload = "0123456789";
    p.len = 10;
    p.cut = 14 + 20 + 20 + 4;
    p.ts = 5.0;
    ck_assert_int_eq(pcapgen_packet(g, &p), 0);
    /* and a good flow after all that */
    pg_tcp_init(&t, g, "10.0.0.2", 40300, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    http_post(&t, "ok.example", TOK0);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    analyze(&f, &st);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_uint_eq(st.anomalies, 5);
    ck_assert_uint_eq(st.packets, 5 + 7);
    avtb_findings_clear(&f);
}
END_TEST

START_TEST(not_a_capture)
{
    avtb_findings f = {0};
    avtb_error err = {0};
    FILE *fp = fopen(capfile, "w");

    ck_assert_ptr_nonnull(fp);
    fputs("this is not a capture file\n", fp);
    fclose(fp);
    ck_assert_int_eq(avtb_analyze_pcap(capfile, tokens, 2, &f, NULL, &err), AVTB_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, capfile));
    ck_assert_uint_eq(f.count, 0);
}
END_TEST

START_TEST(missing_file)
{
    avtb_findings f = {0};
    avtb_error err = {0};

    ck_assert_int_eq(avtb_analyze_pcap(capfile, tokens, 2, &f, NULL, &err), AVTB_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, capfile));
}
END_TEST

START_TEST(unsupported_link_type)
{
    pcapgen *g = gen(DLT_IEEE802_11, false);
    avtb_findings f = {0};
    avtb_error err = {0};

    ck_assert_int_eq(pcapgen_close(g), 0);
    ck_assert_int_eq(avtb_analyze_pcap(capfile, tokens, 2, &f, NULL, &err), AVTB_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "link type"));
}
END_TEST

START_TEST(capture_cut_mid_record)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    avtb_findings f = {0};
    avtb_analyze_stats st;
    pg_tcp t;
    long size;
    FILE *fp;

    pg_tcp_init(&t, g, "10.0.0.2", 40400, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    http_post(&t, "cut.example", TOK0);
    ck_assert_int_eq(pg_tcp_send(&t, true, "the last record, cut", 20), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);
    fp = fopen(capfile, "r+");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    fclose(fp);
    ck_assert_int_eq(truncate(capfile, size - 7), 0); /* a writer killed mid-record */

    analyze(&f, &st);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_uint_eq(st.anomalies, 1);
    avtb_findings_clear(&f);
}
END_TEST

START_TEST(findings_appended_not_replaced)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    avtb_findings f = {0};
    avtb_finding prior = {0};

    prior.token = "earlier";
    prior.protocol = "tcp";
    prior.time = 1e12; /* later than anything in the capture: must stay first */
    ck_assert_int_eq(avtb_findings_add(&f, &prior), AVTB_OK);
    udp(g, "10.0.0.2", 1, "10.0.0.1", 2, TOK0, 5.0);
    ck_assert_int_eq(pcapgen_close(g), 0);
    analyze(&f, NULL);
    ck_assert_uint_eq(f.count, 2);
    ck_assert_str_eq(f.items[0].token, "earlier");
    ck_assert_str_eq(f.items[1].token, TOK0);
    avtb_findings_clear(&f);
}
END_TEST

START_TEST(findings_sort_and_clear)
{
    avtb_findings f = {0};
    avtb_finding a = {0};

    a.token = "B";
    a.time = 2;
    a.flow = 1;
    ck_assert_int_eq(avtb_findings_add(&f, &a), AVTB_OK);
    a.token = "A";
    ck_assert_int_eq(avtb_findings_add(&f, &a), AVTB_OK);
    a.time = 1;
    a.flow = 9;
    a.dst.host = "h";
    ck_assert_int_eq(avtb_findings_add(&f, &a), AVTB_OK);
    avtb_findings_sort(&f);
    ck_assert_uint_eq(f.count, 3);
    ck_assert_uint_eq(f.items[0].flow, 9);
    ck_assert_str_eq(f.items[0].dst.host, "h");
    ck_assert_ptr_ne(f.items[0].dst.host, a.dst.host); /* a copy */
    ck_assert_str_eq(f.items[1].token, "A");
    ck_assert_str_eq(f.items[2].token, "B");
    avtb_findings_clear(&f);
    ck_assert_uint_eq(f.count, 0);
    ck_assert_ptr_null(f.items);
    avtb_findings_clear(&f);
}
END_TEST

/* --- Throughput (AVTB_BENCH_MB=100 to run) ------------------------------- */

START_TEST(bench_throughput)
{
    size_t mb = strtoul(getenv("AVTB_BENCH_MB"), NULL, 10);
    static uint8_t chunk[1448];
    avtb_findings f = {0};
    avtb_analyze_stats st;
    struct timespec t0, t1;
    size_t written = 0;
    pcapgen *g = gen(DLT_EN10MB, false);
    unsigned flow = 0;
    double secs;

    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (uint8_t)(' ' + (i * 7) % 90);
    while (written < mb << 20) {
        pg_tcp t;

        /* 4 MiB uploads, the token once near the end of each. */
        pg_tcp_init(&t, g, "10.0.0.2", (uint16_t)(20000 + flow++), "10.0.0.1", 80);
        ck_assert_int_eq(pg_tcp_handshake(&t), 0);
        ck_assert_int_eq(pg_tcp_send(&t, true, stream_head, strlen(stream_head)), 0);
        for (int k = 0; k < 2900; k++) {
            ck_assert_int_eq(pg_tcp_send(&t, true, chunk, sizeof(chunk)), 0);
            if (k % 2 == 0)
                ck_assert_int_eq(pg_tcp_send(&t, false, NULL, 0), 0);
        }
        ck_assert_int_eq(pg_tcp_send(&t, true, TOK0, 22), 0);
        ck_assert_int_eq(pg_tcp_close(&t), 0);
        written += 2900 * (sizeof(chunk) + 70) + 1450 * 70;
    }
    ck_assert_int_eq(pcapgen_close(g), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    analyze(&f, &st);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "bench: %llu packets, %.1f MB, %u flows in %.3f s: %.0f MB/s, %.0f kpkt/s\n",
            (unsigned long long)st.packets, (double)st.bytes / 1e6, flow, secs,
            (double)st.bytes / 1e6 / secs, (double)st.packets / 1e3 / secs);
    ck_assert_uint_eq(f.count, flow);
    avtb_findings_clear(&f);
}
END_TEST

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    return tc;
}

static Suite *analyze_suite(void)
{
    Suite *s = suite_create("analyze");
    TCase *tc;

    tc = tcase("http");
    tcase_add_test(tc, http_post_body);
    tcase_add_test(tc, host_of_each_request);
    tcase_add_test(tc, two_tokens_two_findings);
    tcase_add_test(tc, decoy_is_not_a_finding);
    tcase_add_test(tc, server_direction_reports_its_sender);
    suite_add_tcase(s, tc);

    tc = tcase("reassembly");
    tcase_add_test(tc, token_split_across_segments);
    tcase_add_test(tc, segments_out_of_order);
    tcase_add_test(tc, retransmission_is_not_a_second_finding);
    tcase_add_test(tc, flow_without_handshake);
    tcase_add_test(tc, lost_segment_is_a_gap);
    tcase_add_test(tc, port_reuse_is_a_new_flow);
    tcase_add_test(tc, flow_cap_truncates);
    tcase_add_test(tc, held_segments_are_bounded);
    tcase_add_test(tc, fin_and_rst_close);
    suite_add_tcase(s, tc);

    tc = tcase("link-and-ip");
    tcase_add_test(tc, ipv6_tcp);
    tcase_add_test(tc, vlan_tagged);
    tcase_add_test(tc, linux_cooked);
    tcase_add_test(tc, pcapng_file);
    suite_add_tcase(s, tc);

    tc = tcase("udp");
    tcase_add_test(tc, udp_datagrams);
    suite_add_tcase(s, tc);

    tc = tcase("hostile-input");
    tcase_add_test(tc, malformed_packets_are_counted);
    tcase_add_test(tc, not_a_capture);
    tcase_add_test(tc, missing_file);
    tcase_add_test(tc, unsupported_link_type);
    tcase_add_test(tc, capture_cut_mid_record);
    tcase_add_test(tc, findings_appended_not_replaced);
    suite_add_tcase(s, tc);

    tc = tcase("matcher");
    suite_add_tcase(s, tc);

    tc = tcase("http-framing");
    suite_add_tcase(s, tc);

    tc = tcase("findings");
    tcase_add_test(tc, findings_sort_and_clear);
    suite_add_tcase(s, tc);

    if (getenv("AVTB_BENCH_MB") != NULL) {
        tc = tcase("bench");
        tcase_set_timeout(tc, 600);
        tcase_add_test(tc, bench_throughput);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(analyze_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
