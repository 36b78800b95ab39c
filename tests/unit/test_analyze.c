/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network analysis (collectors/analyze.h and its stages) on captures
 * the tests write themselves with pcapgen: what is found, where it is
 * attributed, and that hostile or broken input is counted, not fatal.
 */
#include <archive.h>
#include <archive_entry.h>
#include <brotli/encode.h>
#include <check.h>
#include <openssl/evp.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "collectors/analyze.h"
#include "collectors/app-detect.h"
#include "collectors/canaries.h"
#include "collectors/match.h"
#include "collectors/stream-tcp.h"
#include "common/util.h"
#include "tests/unit/pcapgen.h"
#include "tests/unit/testbytes.h"

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

/* --- End to end: encodings, archives, protocols (avtb_analyze_capture) ------ */

/*
 * Each test writes its capture, runs the whole analysis and checks every
 * field a report shows.
 */

/* base64 (padded) or base64url (unpadded) of p[0..n); a malloc'd string. */
static char *b64(const void *p, size_t n, bool url)
{
    const char *al = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                         : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *s = p;
    char *out = malloc(4 * (n / 3 + 1) + 1), *o = out;

    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);

        *o++ = al[v >> 18 & 63];
        *o++ = al[v >> 12 & 63];
        if (i + 1 < n)
            *o++ = al[v >> 6 & 63];
        else if (!url)
            *o++ = '=';
        if (i + 2 < n)
            *o++ = al[v & 63];
        else if (!url)
            *o++ = '=';
    }
    *o = '\0';
    return out;
}

/* RFC 4648 base32, padded, in one case. */
static char *b32(const void *p, size_t n, bool lower)
{
    const char *al =
        lower ? "abcdefghijklmnopqrstuvwxyz234567" : "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const uint8_t *s = p;
    char *out = malloc(8 * (n / 5 + 1) + 1), *o = out;
    uint32_t acc = 0;
    int bits = 0;

    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < n; i++) {
        acc = acc << 8 | s[i];
        bits += 8;
        while (bits >= 5) {
            *o++ = al[acc >> (bits - 5) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        *o++ = al[acc << (5 - bits) & 31];
    while ((o - out) % 8 != 0)
        *o++ = '=';
    *o = '\0';
    return out;
}

static char *hex(const void *p, size_t n, bool upper)
{
    const char *al = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    const uint8_t *s = p;
    char *out = malloc(2 * n + 1);

    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = al[s[i] >> 4];
        out[2 * i + 1] = al[s[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

/* zlib's deflate of the pieces in turn: wbits 31 gzip, 15 zlib, -15 raw. */
static void deflate_into(bytes *out, int wbits, const void *p, size_t n, size_t zeros)
{
    static const uint8_t zero[1 << 16];
    uint8_t chunk[1 << 16];
    z_stream z;

    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, wbits, 9, Z_DEFAULT_STRATEGY), Z_OK);
    for (int phase = 0; phase < 2; phase++) {
        size_t left = phase == 0 ? n : zeros;

        do {
            size_t take = phase == 0 ? left : (left < sizeof(zero) ? left : sizeof(zero));
            int flush = left == take && phase == 1 ? Z_FINISH : Z_NO_FLUSH;

            z.next_in = (Bytef *)(phase == 0 ? p : zero);
            z.avail_in = (uInt)take;
            do {
                z.next_out = chunk;
                z.avail_out = sizeof(chunk);
                ck_assert_int_ne(deflate(&z, flush), Z_STREAM_ERROR);
                put(out, chunk, sizeof(chunk) - z.avail_out);
            } while (z.avail_out == 0);
            left -= take;
        } while (left > 0);
    }
    deflateEnd(&z);
}

static bytes gzip_of(const char *text)
{
    bytes b = {0};

    deflate_into(&b, 31, text, strlen(text), 0);
    return b;
}

/* An archive built with libarchive's writer, one member (see test_transform.c). */
static bytes archive_of(const char *format, const char *filter, const char *options,
                        const char *passphrase, const char *member, const char *text)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    size_t cap = 65536 + strlen(text), used = 0;
    bytes b = {0};

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(e);
    b.d = malloc(cap);
    ck_assert_ptr_nonnull(b.d);
    b.cap = cap;
    ck_assert_int_eq(archive_write_set_format_by_name(a, format), ARCHIVE_OK);
    if (filter != NULL)
        ck_assert_int_eq(archive_write_add_filter_by_name(a, filter), ARCHIVE_OK);
    if (options != NULL)
        ck_assert_msg(archive_write_set_options(a, options) == ARCHIVE_OK, "%s",
                      archive_error_string(a));
    if (passphrase != NULL)
        ck_assert_int_eq(archive_write_set_passphrase(a, passphrase), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, b.d, cap - 1, &used), ARCHIVE_OK);
    archive_entry_set_pathname(e, member);
    archive_entry_set_size(e, (la_int64_t)strlen(text));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 1512086400, 0);
    ck_assert_msg(archive_write_header(a, e) == ARCHIVE_OK, "%s", archive_error_string(a));
    ck_assert_int_eq(archive_write_data(a, text, strlen(text)), (la_ssize_t)strlen(text));
    ck_assert_msg(archive_write_close(a) == ARCHIVE_OK, "%s", archive_error_string(a));
    archive_entry_free(e);
    archive_write_free(a);
    b.n = used;
    b.d[used] = 0;
    return b;
}

/* A text with the token inside that does not compress away. */
static const char secret_text[] = "Quarterly figures, do not forward.\n"
                                  "licence: " TOK0 "\n"
                                  "Contact finance for the full workbook.\n";

/* Sends len bytes as segments of at most 1400 bytes, as a real stack would. */
static void send_all(pg_tcp *t, bool from_client, const void *data, size_t len)
{
    const uint8_t *p = data;

    do {
        size_t n = len < 1400 ? len : 1400;

        ck_assert_int_eq(pg_tcp_send(t, from_client, p, n), 0);
        p += n;
        len -= n;
    } while (len > 0);
}

/* A POST of body with the extra header lines headers ("Name: value\r\n"...). */
static void request(pg_tcp *t, const char *host, const char *headers, const void *body, size_t len)
{
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "POST /api/v2/upload HTTP/1.1\r\nHost: %s\r\nUser-Agent: av-agent/4.1\r\n%s"
                     "Content-Length: %zu\r\n\r\n",
                     host, headers, len);

    ck_assert_int_lt(n, (int)sizeof(head));
    send_all(t, true, head, (size_t)n);
    if (len > 0)
        send_all(t, true, body, len);
}

/* The capture: one connection from 10.0.0.2 to 10.0.0.1:port, one POST, a reply. */
static void post_capture(const char *host, uint16_t port, const char *headers, const void *body,
                         size_t len)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    pg_tcp t;

    pg_tcp_init(&t, g, "10.0.0.2", 41000, "10.0.0.1", port);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    request(&t, host, headers, body, len);
    ck_assert_int_eq(pg_tcp_send(&t, false, http_ok, strlen(http_ok)), 0);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);
}

static const char multipart_headers[] = "Content-Type: multipart/form-data; "
                                        "boundary=----avtbBoundary7MA4YWxk\r\n";

/* A multipart/form-data body: one text field, then data as a file upload. */
static bytes multipart_of(const char *filename, const char *ctype, const void *data, size_t len)
{
    bytes b = {0};
    char h[512];

    put_str(&b, "------avtbBoundary7MA4YWxk\r\n"
                "Content-Disposition: form-data; name=\"client\"\r\n\r\n"
                "build 4.1.2\r\n"
                "------avtbBoundary7MA4YWxk\r\n");
    snprintf(h, sizeof(h),
             "Content-Disposition: form-data; name=\"sample\"; filename=\"%s\"\r\n"
             "Content-Type: %s\r\n\r\n",
             filename, ctype);
    put_str(&b, h);
    put(&b, data, len);
    put_str(&b, "\r\n------avtbBoundary7MA4YWxk--\r\n");
    return b;
}

static avtb_patterns *token_patterns(void)
{
    avtb_patterns *p = NULL;
    avtb_error err = {0};

    ck_assert_msg(avtb_patterns_new(tokens, 2, NULL, 0, &p, &err) == AVTB_OK, "%s", err.msg);
    return p;
}

/* The whole analysis of capfile with default options. */
static void run(const avtb_patterns *p, const char *const *docs, avtb_analysis *a)
{
    avtb_analyze_opts o;
    avtb_error err = {0};

    avtb_analyze_opts_default(&o);
    ck_assert_msg(avtb_analyze_capture(capfile, p, docs, &o, a, &err) == AVTB_OK, "analyze: %s",
                  err.msg);
}

static void run_tokens(avtb_analysis *a)
{
    avtb_patterns *p = token_patterns();

    run(p, NULL, a);
    avtb_patterns_free(p);
}

/* What the analysis found, for failure messages. */
static const char *describe(const avtb_analysis *a)
{
    static char out[8192];
    size_t w = 0;

#define OUT(...)                                                                                   \
    do {                                                                                           \
        if (w < sizeof(out))                                                                       \
            w += (size_t)snprintf(out + w, sizeof(out) - w, __VA_ARGS__);                          \
    } while (0)
    out[0] = '\0';
    for (size_t i = 0; i < a->findings.count; i++) {
        const avtb_finding *f = &a->findings.items[i];

        OUT("  finding %zu: %s %s %s [%s] member=%s %s:%u host=%s doc=%s\n", i, f->token,
            f->kind == AVTB_FINDING_CONTENT ? "content" : "metadata", f->protocol,
            f->encoding ? f->encoding : "(null)", f->member ? f->member : "-", f->dst.ip,
            f->dst.port, f->dst.host ? f->dst.host : "-", f->document ? f->document : "-");
    }
    for (size_t i = 0; i < a->nanomalies; i++)
        OUT("  anomaly x%llu: %s\n", (unsigned long long)a->anomalies[i].count,
            a->anomalies[i].what);
#undef OUT
    return out;
}

static void expect_count(const avtb_analysis *a, size_t n)
{
    ck_assert_msg(a->findings.count == n, "%zu findings, expected %zu:\n%s", a->findings.count, n,
                  describe(a));
}

/*
 * The finding of token as kind over proto through enc (the comma-joined path),
 * sent to host:port; fails listing what was found when there is none. Tests
 * look a finding up by what it is, then check the count last, so that a
 * duplicate does not hide what else is right.
 */
static const avtb_finding *expect_finding(const avtb_analysis *a, const char *token,
                                          avtb_finding_kind kind, const char *proto,
                                          const char *enc, const char *host, uint16_t port)
{
    const avtb_finding *f = NULL;

    for (size_t i = 0; i < a->findings.count && f == NULL; i++) {
        const avtb_finding *x = &a->findings.items[i];

        if (strcmp(x->token, token) == 0 && x->kind == kind && strcmp(x->protocol, proto) == 0 &&
            strcmp(x->encoding ? x->encoding : "", enc) == 0)
            f = x;
    }
    ck_assert_msg(f != NULL, "no %s finding of %s over %s through [%s]; found:\n%s",
                  kind == AVTB_FINDING_CONTENT ? "content" : "metadata", token, proto, enc,
                  describe(a));
    if (host == NULL)
        ck_assert_msg(f->dst.host == NULL, "host %s, expected none", f->dst.host);
    else
        ck_assert_msg(f->dst.host != NULL && strcmp(f->dst.host, host) == 0, "host %s, expected %s",
                      f->dst.host ? f->dst.host : "NULL", host);
    ck_assert_uint_eq(f->dst.port, port);
    return f;
}

static bool anomaly_has(const avtb_analysis *a, const char *needle)
{
    for (size_t i = 0; i < a->nanomalies; i++)
        if (strstr(a->anomalies[i].what, needle) != NULL)
            return true;
    return false;
}

/* One POST of body with the header lines headers; the analysis finds TOK0 once, through enc. */
static void expect_body(const char *headers, const void *body, size_t len, const char *enc)
{
    avtb_analysis a;
    const avtb_finding *f;

    post_capture("collect.vendor.example", 80, headers, body, len);
    run_tokens(&a);
    f = expect_finding(&a, TOK0, AVTB_FINDING_CONTENT, "http", enc, "collect.vendor.example", 80);
    ck_assert_str_eq(f->dst.ip, "10.0.0.1");
    ck_assert_str_eq(f->src.ip, "10.0.0.2");
    ck_assert_uint_eq(f->src.port, 41000);
    ck_assert_ptr_null(f->member);
    ck_assert_uint_eq(f->bytes > 0, 1);
    expect_count(&a, 1);
    avtb_analysis_clear(&a);
}

#define TEXT_PLAIN "Content-Type: text/plain\r\n"

/* --- Text encodings of an HTTP body ----------------------------------------- */

START_TEST(e2e_base64_each_alignment)
{
    for (int k = 0; k < 3; k++) {
        char plain[256];
        char *enc;

        /* The token starts at byte 30 + k: 30 + k = k (mod 3). */
        snprintf(plain, sizeof(plain), "%.*s%s; backup of the key store follows", 30 + k,
                 "lorem ipsum dolor sit amet, consectetur", TOK0);
        enc = b64(plain, strlen(plain), false);
        expect_body(TEXT_PLAIN, enc, strlen(enc), "http-body,base64");
        free(enc);
    }
}
END_TEST

START_TEST(e2e_base64url)
{
    static const char plain[] = "\xfb\xff\xfe\xfb\xef" TOK0 "\xff\xfe\xfd\xfc";
    char *enc = b64(plain, sizeof(plain) - 1, true);

    /* Only the URL-safe alphabet can carry this: it must not pass as base64. */
    ck_assert(strchr(enc, '-') != NULL || strchr(enc, '_') != NULL);
    /* The alphabet is read off the characters around the hit (scan.c). */
    expect_body("Content-Type: application/octet-stream\r\n", enc, strlen(enc),
                "http-body,base64url");
    free(enc);
}
END_TEST

START_TEST(e2e_base64_wrapped_lines)
{
    char plain[512];
    char *enc;
    bytes body = {0};
    size_t n, at;

    snprintf(plain, sizeof(plain), "-----BEGIN AV SAMPLE-----\nsubject=host-17\nkeystore=%s\n%s",
             TOK0,
             "The rest is here so the encoded body runs over several lines of 76 characters "
             "each, as MIME wraps them, with CRLF after every line.\n");
    at = offset_of(plain, TOK0);
    /* The token's characters run from 68 to 96: the first line break cuts them. */
    ck_assert_uint_eq(at, 51);
    enc = b64(plain, strlen(plain), false);
    n = strlen(enc);
    for (size_t i = 0; i < n; i += 76) {
        put(&body, enc + i, n - i < 76 ? n - i : 76);
        put_str(&body, "\r\n");
    }
    /* Not findable as one literal: only the decoder chain can join the lines. */
    ck_assert_ptr_null(memmem(body.d, body.n, enc + 68, 96 - 68));
    expect_body(TEXT_PLAIN, body.d, body.n, "http-body,base64");
    free(enc);
    bytes_free(&body);
}
END_TEST

START_TEST(e2e_base32_upper_and_lower)
{
    for (int lower = 0; lower < 2; lower++) {
        static const char plain[] = "exfil v2 " TOK0 " end";
        char *enc = b32(plain, sizeof(plain) - 1, lower);

        expect_body(TEXT_PLAIN, enc, strlen(enc), "http-body,base32");
        free(enc);
    }
}
END_TEST

START_TEST(e2e_hex)
{
    for (int upper = 0; upper < 2; upper++) {
        static const char plain[] = "key=" TOK0 ";";
        char *enc = hex(plain, sizeof(plain) - 1, upper);

        expect_body(TEXT_PLAIN, enc, strlen(enc), "http-body,hex");
        free(enc);
    }
}
END_TEST

START_TEST(e2e_urlencoded_percent)
{
    bytes body = {0};

    put_str(&body, "user=bob&secret=");
    for (const char *c = TOK0; *c != '\0'; c++) {
        char e[3] = {'%', "0123456789ABCDEF"[(uint8_t)*c >> 4], "0123456789ABCDEF"[*c & 15]};

        put(&body, e, 3);
    }
    put_str(&body, "&submit=Send+it");
    /* The form field as the parser split it, not the body's percent view. */
    expect_body("Content-Type: application/x-www-form-urlencoded\r\n", body.d, body.n,
                "http-body,http-form,percent");
    bytes_free(&body);
}
END_TEST

START_TEST(e2e_utf16le)
{
    static const char text[] = "Subject: licence " TOK0 "\r\n";
    bytes body = {0};

    put(&body, "\xff\xfe", 2);
    for (const char *c = text; *c != '\0'; c++) {
        put(&body, c, 1);
        put(&body, "", 1);
    }
    /* The BE form matches too, one byte earlier: LE must still win. */
    expect_body("Content-Type: text/plain; charset=utf-16\r\n", body.d, body.n,
                "http-body,utf16le");
    bytes_free(&body);
}
END_TEST

/* --- Compression ------------------------------------------------------------- */

/*
 * The body decoded as declared, {B, coding}: not the decoder chain's view of
 * the body as sent ("http-body,zlib", "http-body,brotli"), a second finding.
 */
static void expect_content_encoding(const char *coding, const bytes *body)
{
    char headers[256], enc[64];

    snprintf(headers, sizeof(headers), "Content-Type: text/plain\r\nContent-Encoding: %s\r\n",
             coding);
    snprintf(enc, sizeof(enc), "http-body,%s", coding);
    ck_assert_ptr_null(memmem(body->d, body->n, TOK0, strlen(TOK0)));
    expect_body(headers, body->d, body->n, enc);
}

START_TEST(e2e_content_encoding_gzip)
{
    bytes z = gzip_of(secret_text);

    expect_content_encoding("gzip", &z);
    bytes_free(&z);
}
END_TEST

START_TEST(e2e_content_encoding_deflate)
{
    bytes z = {0};

    deflate_into(&z, 15, secret_text, strlen(secret_text), 0); /* zlib-wrapped, per RFC 9110 */
    expect_content_encoding("deflate", &z);
    bytes_free(&z);
}
END_TEST

START_TEST(e2e_content_encoding_br)
{
    size_t n = BrotliEncoderMaxCompressedSize(strlen(secret_text));
    bytes z = {0};

    z.d = malloc(n + 1);
    ck_assert_ptr_nonnull(z.d);
    z.cap = n + 1;
    z.n = n;
    ck_assert_int_eq(BrotliEncoderCompress(9, 22, BROTLI_MODE_TEXT, strlen(secret_text),
                                           (const uint8_t *)secret_text, &z.n, z.d),
                     BROTLI_TRUE);
    expect_content_encoding("br", &z);
    bytes_free(&z);
}
END_TEST

START_TEST(e2e_content_encoding_zstd)
{
    size_t n = ZSTD_compressBound(strlen(secret_text));
    bytes z = {0};

    z.d = malloc(n + 1);
    ck_assert_ptr_nonnull(z.d);
    z.cap = n + 1;
    z.n = ZSTD_compress(z.d, n, secret_text, strlen(secret_text), 19);
    ck_assert(!ZSTD_isError(z.n));
    expect_content_encoding("zstd", &z);
    bytes_free(&z);
}
END_TEST

START_TEST(e2e_gzip_by_magic_on_raw_tcp)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    bytes z = gzip_of(secret_text);
    avtb_analysis a;
    pg_tcp t;

    /* No protocol, no header saying what follows: a length and the stream. */
    pg_tcp_init(&t, g, "10.0.0.2", 41001, "10.0.0.1", 9000);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    ck_assert_int_eq(pg_tcp_send(&t, true, "\x00\x00\x01\x00UPLD", 8), 0);
    send_all(&t, true, z.d, z.n);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    run_tokens(&a);
    expect_finding(&a, TOK0, AVTB_FINDING_CONTENT, "tcp", "gzip", NULL, 9000);
    expect_count(&a, 1);
    avtb_analysis_clear(&a);
    bytes_free(&z);
}
END_TEST

START_TEST(e2e_base64_of_gzip)
{
    bytes z = gzip_of(secret_text);
    char *enc = b64(z.d, z.n, false);

    expect_body(TEXT_PLAIN, enc, strlen(enc), "http-body,base64,gzip");
    free(enc);
    bytes_free(&z);
}
END_TEST

/* --- Archives uploaded as multipart/form-data --------------------------------- */

/* The part, not the body holding it ("http-body,zip"), a second finding. */
static void expect_archive_upload(const bytes *archive, const char *filename, const char *enc,
                                  const char *member)
{
    bytes body = multipart_of(filename, "application/octet-stream", archive->d, archive->n);
    avtb_analysis a;
    const avtb_finding *f;

    ck_assert_ptr_null(memmem(archive->d, archive->n, TOK0, strlen(TOK0)));
    post_capture("upload.vendor.example", 8080, multipart_headers, body.d, body.n);
    run_tokens(&a);
    f = expect_finding(&a, TOK0, AVTB_FINDING_CONTENT, "http", enc, "upload.vendor.example", 8080);
    ck_assert_msg(f->member != NULL && strcmp(f->member, member) == 0, "member %s, expected %s",
                  f->member ? f->member : "NULL", member);
    expect_count(&a, 1);
    avtb_analysis_clear(&a);
    bytes_free(&body);
}

START_TEST(e2e_zip_upload)
{
    bytes z = archive_of("zip", NULL, NULL, NULL, "finance/Q4.txt", secret_text);

    expect_archive_upload(&z, "sample.zip", "http-body,http-multipart,zip", "finance/Q4.txt");
    bytes_free(&z);
}
END_TEST

START_TEST(e2e_zipcrypto_infected)
{
    bytes z = archive_of("zip", NULL, "zip:encryption=zipcrypt", "infected", "finance/Q4.txt",
                         secret_text);

    expect_archive_upload(&z, "sample.zip", "http-body,http-multipart,zip", "finance/Q4.txt");
    bytes_free(&z);
}
END_TEST

START_TEST(e2e_7z_upload)
{
    bytes z = archive_of("7zip", NULL, NULL, NULL, "finance/Q4.txt", secret_text);

    expect_archive_upload(&z, "sample.7z", "http-body,http-multipart,7z", "finance/Q4.txt");
    bytes_free(&z);
}
END_TEST

START_TEST(e2e_tar_gz_upload)
{
    bytes z = archive_of("ustar", "gzip", NULL, NULL, "finance/Q4.txt", secret_text);

    /* tar stores the member as it is, so the gzip view holds the token too: the
     * member view wins, it says which file. */
    expect_archive_upload(&z, "sample.tar.gz", "http-body,http-multipart,gzip,tar",
                          "finance/Q4.txt");
    bytes_free(&z);
}
END_TEST

/* --- Reassembly and HTTP framing ---------------------------------------------- */

START_TEST(e2e_three_segments_reversed)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    static const char body[] = "ab" TOK0; /* the 24 bytes stream_head declares */
    uint32_t h = (uint32_t)strlen(stream_head);
    avtb_analysis a;
    const avtb_finding *f;
    pg_tcp t;

    pg_tcp_init(&t, g, "10.0.0.2", 41002, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    ck_assert_int_eq(pg_tcp_seg(&t, true, 0, stream_head, h), 0);
    /* The body in three pieces, last first; each holds a third of the token. */
    ck_assert_int_eq(pg_tcp_seg(&t, true, h + 16, body + 16, 8), 0);
    ck_assert_int_eq(pg_tcp_seg(&t, true, h + 8, body + 8, 8), 0);
    ck_assert_int_eq(pg_tcp_seg(&t, true, h, body, 8), 0);
    t.coff = h + 24;
    ck_assert_int_eq(pg_tcp_send(&t, false, http_ok, strlen(http_ok)), 0);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    run_tokens(&a);
    f = expect_finding(&a, TOK0, AVTB_FINDING_CONTENT, "http", "http-body", "s.example", 80);
    ck_assert_uint_eq(f->offset, h + 2);
    ck_assert_uint_eq(f->flow, 1);
    expect_count(&a, 1);
    avtb_analysis_clear(&a);
}
END_TEST

START_TEST(e2e_keep_alive_third_request)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    static const char *const hosts[] = {"a.example", "b.example", "c.example"};
    static const char *const bodies[] = {"ping=1", "status=idle&v=4.1", "key=" TOK1 "&v=4.1"};
    avtb_analysis a;
    const avtb_finding *f;
    pg_tcp t;

    pg_tcp_init(&t, g, "10.0.0.2", 41003, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    for (int i = 0; i < 3; i++) {
        request(&t, hosts[i], TEXT_PLAIN, bodies[i], strlen(bodies[i]));
        ck_assert_int_eq(pg_tcp_send(&t, false, http_ok, strlen(http_ok)), 0);
    }
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    run_tokens(&a);
    f = expect_finding(&a, TOK1, AVTB_FINDING_CONTENT, "http", "http-body", "c.example", 80);
    ck_assert_uint_eq(f->bytes, strlen(bodies[2]));
    ck_assert_uint_eq(a.stats.http_requests, 3);
    expect_count(&a, 1);
    avtb_analysis_clear(&a);
}
END_TEST

START_TEST(e2e_same_token_in_two_requests)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    static const char *const hosts[] = {"a.example", "b.example", "c.example"};
    static const char *const bodies[] = {"key=" TOK1, "status=idle", "again=" TOK1};
    avtb_analysis a;
    pg_tcp t;

    pg_tcp_init(&t, g, "10.0.0.2", 41009, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    for (int i = 0; i < 3; i++) {
        request(&t, hosts[i], TEXT_PLAIN, bodies[i], strlen(bodies[i]));
        ck_assert_int_eq(pg_tcp_send(&t, false, http_ok, strlen(http_ok)), 0);
    }
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    run_tokens(&a);
    /* Findings are reduced per request, not per flow: each upload is evidence. */
    expect_count(&a, 2);
    ck_assert_str_eq(a.findings.items[0].dst.host, "a.example");
    ck_assert_str_eq(a.findings.items[1].dst.host, "c.example");
    ck_assert_uint_lt(a.findings.items[0].offset, a.findings.items[1].offset);
    avtb_analysis_clear(&a);
}
END_TEST

START_TEST(e2e_chunk_boundary_cuts_token)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    static const char req[] = "POST /sync HTTP/1.1\r\nHost: chunk.example\r\n"
                              "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "10\r\nreport: AVTBQ3F7\r\n"
                              "f;ext=1\r\nK2M9XWZP4R8TAB\n\r\n"
                              "0\r\n\r\n";
    avtb_analysis a;
    const avtb_finding *f;
    pg_tcp t;

    ck_assert_ptr_null(strstr(req, TOK0));
    pg_tcp_init(&t, g, "10.0.0.2", 41004, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    ck_assert_int_eq(pg_tcp_send(&t, true, req, strlen(req)), 0);
    ck_assert_int_eq(pg_tcp_send(&t, false, http_ok, strlen(http_ok)), 0);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    run_tokens(&a);
    f = expect_finding(&a, TOK0, AVTB_FINDING_CONTENT, "http", "http-chunked", "chunk.example", 80);
    ck_assert_uint_eq(f->bytes, 16 + 15);
    expect_count(&a, 1);
    avtb_analysis_clear(&a);
}
END_TEST

/* --- DNS ------------------------------------------------------------------- */

/* A DNS message: header, the question name, type and class; answers appended by the caller. */
static void dns_question(bytes *m, uint16_t id, uint16_t flags, uint16_t ancount, const char *name,
                         uint16_t qtype)
{
    uint8_t h[12] = {(uint8_t)(id >> 8),
                     (uint8_t)id,
                     (uint8_t)(flags >> 8),
                     (uint8_t)flags,
                     0,
                     1,
                     (uint8_t)(ancount >> 8),
                     (uint8_t)ancount,
                     0,
                     0,
                     0,
                     0};
    uint8_t tc[4] = {(uint8_t)(qtype >> 8), (uint8_t)qtype, 0, 1};

    put(m, h, sizeof(h));
    for (const char *l = name; *l != '\0';) {
        size_t n = strcspn(l, ".");
        uint8_t len = (uint8_t)n;

        put(m, &len, 1);
        put(m, l, n);
        l += n + (l[n] == '.');
    }
    put(m, "", 1);
    put(m, tc, sizeof(tc));
}

static void udp_bytes(pcapgen *g, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                      const bytes *payload, double ts)
{
    pg_pkt p = {0};

    p.src = src;
    p.dst = dst;
    p.sport = sport;
    p.dport = dport;
    p.proto = 17;
    p.payload = payload->d;
    p.len = payload->n;
    p.ts = ts;
    ck_assert_int_eq(pcapgen_packet(g, &p), 0);
}

START_TEST(e2e_dns_base32_labels)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    char *enc = b32(TOK0, strlen(TOK0), true), name[256];
    bytes q = {0};
    avtb_analysis a;
    const avtb_finding *f;

    /* 36 characters (padding dropped) over three labels of 12, as a tunnel tool does. */
    ck_assert_uint_eq(strcspn(enc, "="), 36);
    snprintf(name, sizeof(name), "%.12s.%.12s.%.12s.exfil.example", enc, enc + 12, enc + 24);
    dns_question(&q, 0x1234, 0x0100, 0, name, 16);
    udp_bytes(g, "10.0.0.2", 53001, "10.0.0.1", 53, &q, 10.0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    run_tokens(&a);
    /* The labels joined are one base32 run; the host is the name as queried. */
    f = expect_finding(&a, TOK0, AVTB_FINDING_CONTENT, "dns", "dns-labels,base32", name, 53);
    ck_assert_str_eq(f->src.ip, "10.0.0.2");
    ck_assert_uint_eq(f->offset, 0);
    ck_assert_uint_eq(a.stats.dns_messages, 1);
    /* The dotted name decodes too; one finding per DNS message stays. */
    expect_count(&a, 1);
    avtb_analysis_clear(&a);
    bytes_free(&q);
    free(enc);
}
END_TEST

/* A honey document's beacon: its token, lower-cased, is the first label of a host name. */
START_TEST(e2e_dns_beacon_host_lower_case)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    char name[128];
    bytes q = {0};
    avtb_analysis a;

    snprintf(name, sizeof(name), "%s.cdn.intranet-assets.example", TOK0);
    for (char *c = name; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    dns_question(&q, 0x5151, 0x0100, 0, name, 1);
    udp_bytes(g, "10.0.0.2", 53003, "10.0.0.1", 53, &q, 10.0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    run_tokens(&a);
    ck_assert_msg(a.findings.count >= 1, "the lower-cased token in %s was not found", name);
    ck_assert_str_eq(a.findings.items[0].token, TOK0);
    ck_assert_int_eq(a.findings.items[0].kind, AVTB_FINDING_CONTENT);
    ck_assert_str_eq(a.findings.items[0].protocol, "dns");
    ck_assert_str_eq(a.findings.items[0].dst.host, name);
    expect_count(&a, 1);
    avtb_analysis_clear(&a);
    bytes_free(&q);
}
END_TEST

START_TEST(e2e_dns_txt_answer)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    static const uint8_t rr[] = {
        0xc0, 12,  0,   16,  0,   1,   0,   0,   0,   60,  0,   24, /* TXT, 24 bytes */
        11,   'A', 'V', 'T', 'B', 'Q', '3', 'F', '7', 'K', '2', 'M',
        11,   '9', 'X', 'W', 'Z', 'P', '4', 'R', '8', 'T', 'A', 'B'};
    bytes q = {0}, r = {0};
    avtb_analysis a;
    const avtb_finding *f;

    dns_question(&q, 0x4242, 0x0100, 0, "cfg.c2.example", 16);
    dns_question(&r, 0x4242, 0x8180, 1, "cfg.c2.example", 16);
    put(&r, rr, sizeof(rr));
    udp_bytes(g, "10.0.0.2", 53002, "10.0.0.1", 53, &q, 10.0);
    udp_bytes(g, "10.0.0.1", 53, "10.0.0.2", 53002, &r, 10.1);
    ck_assert_int_eq(pcapgen_close(g), 0);

    run_tokens(&a);
    f = expect_finding(&a, TOK0, AVTB_FINDING_CONTENT, "dns", "dns-txt", NULL, 53002);
    /* The answer travels from the server: it is the sender, named by the question. */
    ck_assert_str_eq(f->src.ip, "10.0.0.1");
    ck_assert_uint_eq(f->src.port, 53);
    ck_assert_str_eq(f->src.host, "cfg.c2.example");
    ck_assert_str_eq(f->dst.ip, "10.0.0.2");
    ck_assert_double_eq_tol(f->time, 10.1, 1e-6);
    expect_count(&a, 1);
    avtb_analysis_clear(&a);
    bytes_free(&q);
    bytes_free(&r);
}
END_TEST

/* --- TLS ------------------------------------------------------------------- */

/* A TLS 1.2 record of type ct around payload. */
static void tls_record(bytes *b, uint8_t ct, const void *payload, size_t n)
{
    uint8_t h[5] = {ct, 3, 3, (uint8_t)(n >> 8), (uint8_t)n};

    put(b, h, sizeof(h));
    put(b, payload, n);
}

/* A ClientHello record naming sni, offering h2 and http/1.1. */
static void client_hello(bytes *b, const char *sni)
{
    static const uint8_t alpn[] = {0, 16,  0,   14,  0,   12,  2,   'h', '2',
                                   8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    size_t sl = strlen(sni);
    bytes hs = {0}, body = {0};
    uint8_t sh[9] = {0,
                     0,
                     (uint8_t)((sl + 5) >> 8),
                     (uint8_t)(sl + 5),
                     (uint8_t)((sl + 3) >> 8),
                     (uint8_t)(sl + 3),
                     0,
                     (uint8_t)(sl >> 8),
                     (uint8_t)sl};
    size_t ext_len = sizeof(sh) + sl + sizeof(alpn);
    uint8_t el[2] = {(uint8_t)(ext_len >> 8), (uint8_t)ext_len};
    uint8_t random[32];
    uint8_t hh[4];

    memset(random, 0x5a, sizeof(random));
    put(&body, "\x03\x03", 2);
    put(&body, random, sizeof(random));
    put(&body, "\x00\x00\x04\x13\x01\x13\x02\x01\x00", 9); /* no session id, 2 suites, null */
    put(&body, el, 2);
    put(&body, sh, sizeof(sh));
    put(&body, sni, sl);
    put(&body, alpn, sizeof(alpn));
    hh[0] = 1;
    hh[1] = 0;
    hh[2] = (uint8_t)(body.n >> 8);
    hh[3] = (uint8_t)body.n;
    put(&hs, hh, 4);
    put(&hs, body.d, body.n);
    tls_record(b, 22, hs.d, hs.n);
    bytes_free(&hs);
    bytes_free(&body);
}

START_TEST(e2e_tls_sni_and_encrypted_bytes)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    bytes out = {0}, in = {0}, app = {0};
    avtb_analysis a;
    pg_tcp t;

    client_hello(&out, "telemetry.vendor-cloud.example");
    /* Application data the test "encrypts" by leaving the token in it: records are
     * counted, never searched, so this must not be a finding. */
    put_str(&app, "opaque ciphertext ... " TOK0 " ... more ciphertext");
    tls_record(&out, 23, app.d, app.n);
    tls_record(&out, 23, secret_text, strlen(secret_text));
    tls_record(&in, 22, "\x02\x00\x00\x26\x03\x03", 6); /* the start of a ServerHello */
    pg_tcp_init(&t, g, "10.0.0.2", 41005, "10.0.0.1", 443);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    send_all(&t, true, out.d, out.n);
    send_all(&t, false, in.d, in.n);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    run_tokens(&a);
    expect_count(&a, 0);
    ck_assert_uint_eq(a.ntls, 1);
    ck_assert_str_eq(a.tls[0].sni, "telemetry.vendor-cloud.example");
    ck_assert_str_eq(a.tls[0].alpn, "h2,http/1.1");
    ck_assert_str_eq(a.tls[0].dst_ip, "10.0.0.1");
    ck_assert_uint_eq(a.tls[0].dst_port, 443);
    ck_assert_uint_eq(a.tls[0].flow, 1);
    ck_assert_uint_eq(a.tls[0].encrypted_out, app.n + strlen(secret_text));
    avtb_analysis_clear(&a);
    bytes_free(&out);
    bytes_free(&in);
    bytes_free(&app);
}
END_TEST

START_TEST(e2e_tls_token_in_sni)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    bytes out = {0};
    avtb_analysis a;
    pg_tcp t;

    client_hello(&out, TOK1 ".cdn.example");
    tls_record(&out, 23, "ciphertext", 10);
    pg_tcp_init(&t, g, "10.0.0.2", 41006, "10.0.0.1", 443);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    send_all(&t, true, out.d, out.n);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    run_tokens(&a);
    expect_finding(&a, TOK1, AVTB_FINDING_CONTENT, "tls", "tls-sni", TOK1 ".cdn.example", 443);
    ck_assert_uint_eq(a.ntls, 1);
    ck_assert_uint_eq(a.tls[0].encrypted_out, 10);
    expect_count(&a, 1);
    avtb_analysis_clear(&a);
    bytes_free(&out);
}
END_TEST

/* --- Decoys ------------------------------------------------------------------ */

START_TEST(e2e_decoy_in_three_forms)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    static const char plain[] = "note: " DECOY " rotated";
    char *e64 = b64(plain, strlen(plain), false), *ehex = hex(plain, strlen(plain), false);
    avtb_analysis a;
    pg_tcp t;

    pg_tcp_init(&t, g, "10.0.0.2", 41007, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    request(&t, "decoy.example", TEXT_PLAIN, plain, strlen(plain));
    request(&t, "decoy.example", TEXT_PLAIN, e64, strlen(e64));
    request(&t, "decoy.example", TEXT_PLAIN, ehex, strlen(ehex));
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    run_tokens(&a);
    /* The characters at the edges of each encoded form check the last bits too. */
    expect_count(&a, 0);
    ck_assert_uint_eq(a.stats.http_requests, 3);
    avtb_analysis_clear(&a);
    free(e64);
    free(ehex);
}
END_TEST

/* --- Honey document metadata ------------------------------------------------- */

#define HONEY_NAME "Q4-payroll-2017.xlsx"

/* A honey document carrying TOK0, added to c with its real hashes; its path and digests. */
typedef struct honey {
    char path[192];
    uint8_t md5[16], sha256[32];
} honey;

static avtb_patterns *honey_patterns(honey *h, avtb_canaries **cp)
{
    static const char content[] = "PK-not-really-a-workbook\n" TOK0 "\nsalaries follow\n";
    avtb_canaries *c = avtb_canaries_new();
    avtb_patterns *p = NULL;
    avtb_error err = {0};
    uint8_t sha1[20];
    char *m5, *s1, *s256;
    unsigned n;
    FILE *fp;

    ck_assert_ptr_nonnull(c);
    snprintf(h->path, sizeof(h->path), "%s/" HONEY_NAME, tmpdir);
    fp = fopen(h->path, "w");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(content, 1, strlen(content), fp), strlen(content));
    ck_assert_int_eq(fclose(fp), 0);
    ck_assert_int_eq(EVP_Digest(content, strlen(content), h->md5, &n, EVP_md5(), NULL), 1);
    ck_assert_int_eq(EVP_Digest(content, strlen(content), sha1, &n, EVP_sha1(), NULL), 1);
    ck_assert_int_eq(EVP_Digest(content, strlen(content), h->sha256, &n, EVP_sha256(), NULL), 1);
    m5 = hex(h->md5, 16, false);
    s1 = hex(sha1, 20, false);
    s256 = hex(h->sha256, 32, false);
    ck_assert_int_eq(avtb_canaries_add(c, TOK1, NULL, NULL, NULL, NULL, &err), AVTB_OK);
    ck_assert_msg(avtb_canaries_add(c, TOK0, h->path, m5, s1, s256, &err) == AVTB_OK, "%s",
                  err.msg);
    ck_assert_msg(avtb_canaries_compile(c, &p, &err) == AVTB_OK, "%s", err.msg);
    free(m5);
    free(s1);
    free(s256);
    *cp = c;
    return p;
}

/* One POST of body; expects exactly one metadata finding for TOK0 through enc. */
static void expect_metadata(const honey *h, const avtb_canaries *c, const avtb_patterns *p,
                            const char *headers, const void *body, size_t len, const char *enc)
{
    avtb_analysis a;
    const avtb_finding *f;

    post_capture("hashes.vendor.example", 80, headers, body, len);
    run(p, avtb_canaries_token_docs(c), &a);
    f = expect_finding(&a, TOK0, AVTB_FINDING_METADATA, "http", enc, "hashes.vendor.example", 80);
    ck_assert_msg(f->document != NULL && strcmp(f->document, h->path) == 0, "document %s",
                  f->document ? f->document : "NULL");
    expect_count(&a, 1);
    avtb_analysis_clear(&a);
}

START_TEST(e2e_sha256_upper_hex)
{
    honey h;
    avtb_canaries *c;
    avtb_patterns *p = honey_patterns(&h, &c);
    char *s = hex(h.sha256, 32, true);
    char body[256];

    snprintf(body, sizeof(body), "{\"lookup\":\"%s\",\"engine\":\"cloud\"}", s);
    expect_metadata(&h, c, p, "Content-Type: application/json\r\n", body, strlen(body),
                    "http-body,sha256");
    free(s);
    avtb_patterns_free(p);
    avtb_canaries_free(c);
}
END_TEST

START_TEST(e2e_md5_base64)
{
    honey h;
    avtb_canaries *c;
    avtb_patterns *p = honey_patterns(&h, &c);
    char *s = b64(h.md5, 16, false);
    char body[256];

    snprintf(body, sizeof(body), "{\"md5\":\"%s\"}", s);
    expect_metadata(&h, c, p, "Content-Type: application/json\r\n", body, strlen(body),
                    "http-body,md5-base64");
    free(s);
    avtb_patterns_free(p);
    avtb_canaries_free(c);
}
END_TEST

START_TEST(e2e_honey_file_name_upload)
{
    honey h;
    avtb_canaries *c;
    avtb_patterns *p = honey_patterns(&h, &c);
    /* The upload's bytes are not the document's (no token, other hashes): only the name is. */
    bytes body = multipart_of(HONEY_NAME, "application/vnd.ms-excel", "stub", 4);

    /* The part's filename=, not the body's Content-Disposition line holding it. */

    expect_metadata(&h, c, p, multipart_headers, body.d, body.n,
                    "http-body,http-multipart,file-name");
    bytes_free(&body);
    avtb_patterns_free(p);
    avtb_canaries_free(c);
}
END_TEST

/* --- IP fragments and bombs -------------------------------------------------- */

START_TEST(e2e_udp_token_over_two_fragments)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    static const char payload[] = "frag:" TOK0 ":tail-of-the-datagram";
    pg_pkt p = {0};
    pg_frag fr[2] = {{0}};
    avtb_analysis a;
    const avtb_finding *f;

    p.src = "10.0.0.2";
    p.dst = "10.0.0.1";
    p.sport = 41008;
    p.dport = 9999;
    p.proto = 17;
    p.payload = payload;
    p.len = strlen(payload);
    p.ipid = 0x3131;
    p.ts = 20.0;
    /* UDP header (8) + "frag:" puts the token at 13..35: the cut at 16 splits it. */
    fr[0].off = 0;
    fr[0].len = 16;
    fr[1].off = 16;
    fr[1].len = (uint32_t)(pg_frag_total(&p) - 16);
    ck_assert_int_eq(pcapgen_fragments(g, &p, fr, 2), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);

    run_tokens(&a);
    f = expect_finding(&a, TOK0, AVTB_FINDING_CONTENT, "udp", "", NULL, 9999);
    ck_assert_uint_eq(f->offset, 5);
    ck_assert_uint_eq(a.stats.fragments_reassembled, 1);
    ck_assert_uint_eq(a.stats.packets, 2);
    expect_count(&a, 1);
    avtb_analysis_clear(&a);
}
END_TEST

/* Scanning inline or in a second thread gives the same findings, in the same order. */
START_TEST(e2e_one_thread_or_two)
{
    pcapgen *g = gen(DLT_EN10MB, false);
    bytes z = gzip_of(secret_text), q = {0};
    char *e64 = b64(secret_text, strlen(secret_text), false);
    avtb_patterns *p = token_patterns();
    avtb_analysis one, two;
    avtb_analyze_opts o;
    avtb_error err = {0};
    pg_tcp t;

    for (uint16_t i = 0; i < 6; i++) {
        pg_tcp_init(&t, g, "10.0.0.2", (uint16_t)(42000 + i), "10.0.0.1", i % 2 ? 80 : 9000);
        ck_assert_int_eq(pg_tcp_handshake(&t), 0);
        if (i % 2)
            request(&t, "mixed.example",
                    i % 3 ? TEXT_PLAIN "Content-Encoding: gzip\r\n" : TEXT_PLAIN,
                    i % 3 ? (const char *)z.d : e64, i % 3 ? z.n : strlen(e64));
        else
            send_all(&t, true, i % 4 ? (const void *)z.d : TOK1, i % 4 ? z.n : strlen(TOK1));
        ck_assert_int_eq(pg_tcp_close(&t), 0);
    }
    dns_question(&q, 7, 0x0100, 0, TOK1, 1); /* one label: one view */
    udp_bytes(g, "10.0.0.2", 42100, "10.0.0.1", 53, &q, t.ts + 1);
    ck_assert_int_eq(pcapgen_close(g), 0);

    avtb_analyze_opts_default(&o);
    o.threads = 1;
    ck_assert_msg(avtb_analyze_capture(capfile, p, NULL, &o, &one, &err) == AVTB_OK, "%s", err.msg);
    o.threads = 2;
    o.queue_cap = 4096; /* smaller than a message: the queue must still move */
    ck_assert_msg(avtb_analyze_capture(capfile, p, NULL, &o, &two, &err) == AVTB_OK, "%s", err.msg);
    ck_assert_msg(one.findings.count == 7, "%s", describe(&one));
    ck_assert_uint_eq(two.findings.count, one.findings.count);
    for (size_t i = 0; i < one.findings.count; i++) {
        const avtb_finding *x = &one.findings.items[i], *y = &two.findings.items[i];

        ck_assert_str_eq(x->token, y->token);
        ck_assert_str_eq(x->encoding, y->encoding);
        ck_assert_str_eq(x->protocol, y->protocol);
        ck_assert_uint_eq(x->flow, y->flow);
        ck_assert_uint_eq(x->offset, y->offset);
        ck_assert_double_eq(x->time, y->time);
    }
    ck_assert_uint_eq(one.anomaly_total, two.anomaly_total);
    ck_assert_uint_eq(one.stats.messages, two.stats.messages);
    ck_assert_uint_eq(one.stats.views, two.stats.views);
    avtb_analysis_clear(&one);
    avtb_analysis_clear(&two);
    avtb_patterns_free(p);
    bytes_free(&z);
    bytes_free(&q);
    free(e64);
}
END_TEST

START_TEST(e2e_gzip_bomb)
{
    bytes z = {0};
    avtb_analysis a;

    /* 64 MiB of zeros behind the token: about 64 KiB on the wire. */
    deflate_into(&z, 31, TOK0, strlen(TOK0), (size_t)64 << 20);
    ck_assert_uint_lt(z.n, 256u << 10);
    post_capture("bomb.example", 80, TEXT_PLAIN "Content-Encoding: gzip\r\n", z.d, z.n);
    run_tokens(&a);
    /* The prefix decoded up to the limit is still searched... */
    expect_finding(&a, TOK0, AVTB_FINDING_CONTENT, "http", "http-body,gzip", "bomb.example", 80);
    expect_count(&a, 1);
    /* ...and the limit is reported, not followed. */
    ck_assert_msg(anomaly_has(&a, "limit") || anomaly_has(&a, "more than"),
                  "no anomaly about the limit:\n%s", describe(&a));
    avtb_analysis_clear(&a);
    bytes_free(&z);
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

/*
 * The end-to-end cases share one directory per TCase, made and removed in the
 * parent (an unchecked fixture), so that a failing test, whose forked child
 * never runs a checked teardown, leaves nothing behind in /tmp.
 */
static TCase *tcase_e2e(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_unchecked_fixture(tc, setup, teardown);
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

    /* End to end: a capture written here in, findings out, one test per way of leaking. */
    tc = tcase_e2e("e2e-encodings");
    tcase_add_test(tc, e2e_base64_each_alignment);
    tcase_add_test(tc, e2e_base64url);
    tcase_add_test(tc, e2e_base64_wrapped_lines);
    tcase_add_test(tc, e2e_base32_upper_and_lower);
    tcase_add_test(tc, e2e_hex);
    tcase_add_test(tc, e2e_urlencoded_percent);
    tcase_add_test(tc, e2e_utf16le);
    tcase_add_test(tc, e2e_content_encoding_gzip);
    tcase_add_test(tc, e2e_content_encoding_deflate);
    tcase_add_test(tc, e2e_content_encoding_br);
    tcase_add_test(tc, e2e_content_encoding_zstd);
    tcase_add_test(tc, e2e_gzip_by_magic_on_raw_tcp);
    tcase_add_test(tc, e2e_base64_of_gzip);
    tcase_add_test(tc, e2e_zip_upload);
    tcase_add_test(tc, e2e_zipcrypto_infected);
    tcase_add_test(tc, e2e_7z_upload);
    tcase_add_test(tc, e2e_tar_gz_upload);
    tcase_add_test(tc, e2e_decoy_in_three_forms);
    tcase_add_test(tc, e2e_gzip_bomb);
    tcase_add_test(tc, e2e_one_thread_or_two);
    suite_add_tcase(s, tc);

    tc = tcase_e2e("e2e-protocols");
    tcase_add_test(tc, e2e_three_segments_reversed);
    tcase_add_test(tc, e2e_keep_alive_third_request);
    tcase_add_test(tc, e2e_same_token_in_two_requests);
    tcase_add_test(tc, e2e_chunk_boundary_cuts_token);
    tcase_add_test(tc, e2e_dns_base32_labels);
    tcase_add_test(tc, e2e_dns_beacon_host_lower_case);
    tcase_add_test(tc, e2e_dns_txt_answer);
    tcase_add_test(tc, e2e_tls_sni_and_encrypted_bytes);
    tcase_add_test(tc, e2e_tls_token_in_sni);
    tcase_add_test(tc, e2e_sha256_upper_hex);
    tcase_add_test(tc, e2e_md5_base64);
    tcase_add_test(tc, e2e_honey_file_name_upload);
    tcase_add_test(tc, e2e_udp_token_over_two_fragments);
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
