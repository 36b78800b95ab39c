/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP reassembly (collectors/stream-tcp.h) on hand-made segments: what is
 * delivered, in which order, which gaps and anomalies are reported, and
 * that memory stays within the limits whatever arrives.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/stream-tcp.h"

/* What a session hands out, per direction. */
typedef struct rec {
    uint8_t buf[2][8192];
    size_t len[2];
    uint64_t gaps[2], gap_bytes[2], truncated;
    uint64_t anom[AVTB_TCP_ANOM_COUNT];
    /* the last anomaly with bytes */
    avtb_tcp_anomaly_kind last_kind;
    int64_t last_off;
    char last_bytes[256];
    size_t last_len;
} rec;

static void rec_data(void *ctx, unsigned dir, const uint8_t *buf, size_t len, double ts)
{
    rec *r = ctx;

    (void)ts;
    ck_assert_uint_le(r->len[dir] + len, sizeof(r->buf[dir]));
    memcpy(r->buf[dir] + r->len[dir], buf, len);
    r->len[dir] += len;
}

static void rec_gap(void *ctx, unsigned dir, uint64_t len)
{
    rec *r = ctx;

    r->gaps[dir]++;
    r->gap_bytes[dir] += len;
}

static void rec_trunc(void *ctx)
{
    ((rec *)ctx)->truncated++;
}

static void rec_anomaly(void *ctx, const avtb_tcp_anomaly *a)
{
    rec *r = ctx;

    r->anom[a->kind]++;
    if (a->len > 0) {
        ck_assert_ptr_nonnull(a->buf);
        r->last_kind = a->kind;
        r->last_off = a->offset;
        r->last_len = a->len < sizeof(r->last_bytes) - 1 ? a->len : sizeof(r->last_bytes) - 1;
        memcpy(r->last_bytes, a->buf, r->last_len);
        r->last_bytes[r->last_len] = '\0';
    }
}

static const avtb_tcp_sink rec_sink = {rec_data, rec_gap, rec_trunc};

/* One test's reassembler and session, with the recorder attached. */
typedef struct fix {
    avtb_stream_limits lim;
    avtb_tcp_reasm *ra;
    avtb_tcp_session *s;
    rec r;
} fix;

static void fix_open(fix *f)
{
    f->ra = avtb_tcp_reasm_new(&f->lim);
    ck_assert_ptr_nonnull(f->ra);
    f->s = avtb_tcp_session_new(f->ra, &rec_sink, &f->r);
    ck_assert_ptr_nonnull(f->s);
    avtb_tcp_session_set_anomaly(f->s, rec_anomaly);
}

static void fix_init(fix *f)
{
    memset(f, 0, sizeof(*f));
    avtb_stream_limits_default(&f->lim);
}

static void fix_close(fix *f)
{
    avtb_tcp_session_free(f->s);
    ck_assert_uint_eq(avtb_tcp_reasm_held(f->ra), 0);
    ck_assert_uint_eq(avtb_tcp_reasm_window_bytes(f->ra), 0);
    avtb_tcp_reasm_free(f->ra);
}

static void send_flags(fix *f, unsigned dir, uint32_t seq, const char *data, uint8_t flags)
{
    avtb_decoded d = {0};

    d.family = 4;
    d.proto = 6;
    d.seq = seq;
    d.tcp_flags = flags;
    d.payload = (const uint8_t *)data;
    d.payload_len = d.wire_payload_len = strlen(data);
    ck_assert_int_eq(avtb_tcp_session_segment(f->s, dir, &d, 1.0), AVTB_OK);
}

static void send(fix *f, unsigned dir, uint32_t seq, const char *data)
{
    send_flags(f, dir, seq, data, AVTB_TCP_ACK);
}

static void syn(fix *f, unsigned dir, uint32_t isn)
{
    send_flags(f, dir, isn, "", dir == 0 ? AVTB_TCP_SYN : AVTB_TCP_SYN | AVTB_TCP_ACK);
}

static void assert_stream(const rec *r, unsigned dir, const char *want)
{
    ck_assert_uint_eq(r->len[dir], strlen(want));
    ck_assert_int_eq(memcmp(r->buf[dir], want, r->len[dir]), 0);
}

static uint64_t anomalies(const rec *r)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < AVTB_TCP_ANOM_COUNT; i++)
        n += r->anom[i];
    return n;
}

/* --- Ordering ------------------------------------------------------------ */

START_TEST(in_order_both_directions)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 100);
    syn(&f, 1, 5000);
    send(&f, 0, 101, "GET / ");
    send(&f, 1, 5001, "HTTP/1.1 200");
    send(&f, 0, 107, "HTTP/1.1\r\n");
    assert_stream(&f.r, 0, "GET / HTTP/1.1\r\n");
    assert_stream(&f.r, 1, "HTTP/1.1 200");
    ck_assert_uint_eq(anomalies(&f.r), 0);
    ck_assert_uint_eq(f.r.gaps[0] + f.r.gaps[1], 0);
    fix_close(&f);
}
END_TEST

START_TEST(out_of_order_three_segments)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 100);
    send(&f, 0, 109, "ccc");  /* third */
    send(&f, 0, 105, "bbbb"); /* second */
    ck_assert_uint_eq(f.r.len[0], 0);
    ck_assert_uint_gt(avtb_tcp_reasm_held(f.ra), 0);
    send(&f, 0, 101, "aaaa"); /* first: everything goes out */
    assert_stream(&f.r, 0, "aaaabbbbccc");
    ck_assert_uint_eq(avtb_tcp_reasm_held(f.ra), 0);
    ck_assert_uint_eq(anomalies(&f.r), 0);
    ck_assert_uint_eq(f.r.gaps[0], 0);
    fix_close(&f);
}
END_TEST

START_TEST(retransmission_delivered_once)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 100);
    send(&f, 0, 101, "hello ");
    send(&f, 0, 101, "hello ");   /* same segment again */
    send(&f, 0, 104, "lo world"); /* partly old, partly new */
    send(&f, 0, 119, "later");    /* held */
    send(&f, 0, 119, "later");    /* held twice */
    send(&f, 0, 111, "d again!"); /* fills the hole, overlaps "world" by 1 */
    assert_stream(&f.r, 0, "hello world again!later");
    ck_assert_uint_eq(anomalies(&f.r), 0);
    fix_close(&f);
}
END_TEST

/* --- Overlaps: first copy wins, a difference is reported -------------------- */

START_TEST(overlap_different_behind_next_seq)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 100);
    send(&f, 0, 101, "password=secret");
    send(&f, 0, 110, "TOKENX"); /* rewrites "secret" after it was delivered */
    assert_stream(&f.r, 0, "password=secret");
    ck_assert_uint_eq(f.r.anom[AVTB_TCP_ANOM_OVERLAP], 1);
    /* The second copy comes with the anomaly, so it can still be searched. */
    ck_assert_int_eq(f.r.last_kind, AVTB_TCP_ANOM_OVERLAP);
    ck_assert_int_eq(f.r.last_off, 9);
    ck_assert_str_eq(f.r.last_bytes, "TOKENX");
    fix_close(&f);
}
END_TEST

START_TEST(overlap_different_held)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 100);
    send(&f, 0, 105, "FIRST");     /* held */
    send(&f, 0, 103, "xxOTHERyy"); /* covers it, with other bytes, and more on both sides */
    ck_assert_uint_eq(f.r.anom[AVTB_TCP_ANOM_OVERLAP], 1);
    ck_assert_str_eq(f.r.last_bytes, "OTHER");
    ck_assert_int_eq(f.r.last_off, 4);
    send(&f, 0, 101, "ab");
    assert_stream(&f.r, 0, "abxxFIRSTyy");
    fix_close(&f);
}
END_TEST

START_TEST(overlap_in_order_segment_over_held)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 100);
    send(&f, 0, 106, "HELD");         /* bytes 5..8 */
    send(&f, 0, 101, "01234xxxx9AB"); /* in order, differs on 5..8 */
    assert_stream(&f.r, 0, "01234HELD9AB");
    ck_assert_uint_eq(f.r.anom[AVTB_TCP_ANOM_OVERLAP], 1);
    ck_assert_str_eq(f.r.last_bytes, "xxxx");
    ck_assert_uint_eq(avtb_tcp_reasm_held(f.ra), 0);
    fix_close(&f);
}
END_TEST

START_TEST(overlap_identical_is_quiet)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 100);
    send(&f, 0, 106, "56789");
    send(&f, 0, 101, "0123456");
    send(&f, 0, 103, "23456789ab");
    assert_stream(&f.r, 0, "0123456789ab");
    ck_assert_uint_eq(anomalies(&f.r), 0);
    fix_close(&f);
}
END_TEST

/* --- Gaps --------------------------------------------------------------- */

START_TEST(gap_then_more_data)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 100);
    send(&f, 0, 101, "before");
    send(&f, 0, 207, "after"); /* bytes 6..105 were never captured */
    send(&f, 0, 212, "more");
    ck_assert_uint_eq(f.r.len[0], 6);
    avtb_tcp_session_flush(f.s);
    assert_stream(&f.r, 0, "beforeaftermore");
    ck_assert_uint_eq(f.r.gaps[0], 1);
    ck_assert_uint_eq(f.r.gap_bytes[0], 100);
    /* The lost bytes turn up late: not put in the stream, handed over as LATE. */
    send(&f, 0, 150, "late bytes");
    assert_stream(&f.r, 0, "beforeaftermore");
    ck_assert_uint_eq(f.r.anom[AVTB_TCP_ANOM_LATE], 1);
    ck_assert_str_eq(f.r.last_bytes, "late bytes");
    ck_assert_int_eq(f.r.last_off, 49);
    fix_close(&f);
}
END_TEST

START_TEST(gap_at_the_end_is_reported)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 100);
    send(&f, 0, 101, "abc");
    send_flags(&f, 0, 120, "", AVTB_TCP_FIN | AVTB_TCP_ACK); /* 16 bytes before the FIN lost */
    avtb_tcp_session_flush(f.s);
    ck_assert_uint_eq(f.r.gaps[0], 1);
    ck_assert_uint_eq(f.r.gap_bytes[0], 16);
    fix_close(&f);
}
END_TEST

START_TEST(snaplen_cut_segment)
{
    fix f;
    avtb_decoded d = {0};

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 100);
    d.family = 4;
    d.proto = 6;
    d.seq = 101;
    d.tcp_flags = AVTB_TCP_ACK;
    d.payload = (const uint8_t *)"0123";
    d.payload_len = 4;
    d.wire_payload_len = 10; /* 6 bytes not in the capture */
    ck_assert_int_eq(avtb_tcp_session_segment(f.s, 0, &d, 1.0), AVTB_OK);
    send(&f, 0, 111, "next");
    assert_stream(&f.r, 0, "0123next");
    ck_assert_uint_eq(f.r.gaps[0], 1);
    ck_assert_uint_eq(f.r.gap_bytes[0], 6);
    fix_close(&f);
}
END_TEST

/* --- Connection life ------------------------------------------------------ */

START_TEST(no_handshake_both_directions)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    send(&f, 0, 7000, "client ");
    send(&f, 1, 90000, "server");
    send(&f, 0, 7007, "more");
    assert_stream(&f.r, 0, "client more");
    assert_stream(&f.r, 1, "server");
    ck_assert_uint_eq(anomalies(&f.r), 0);
    /* A segment from before where the capture began is handed over, not lost. */
    send(&f, 0, 6995, "early");
    assert_stream(&f.r, 0, "client more");
    ck_assert_uint_eq(f.r.anom[AVTB_TCP_ANOM_BEFORE_START], 1);
    ck_assert_str_eq(f.r.last_bytes, "early");
    ck_assert_int_eq(f.r.last_off, -5);
    fix_close(&f);
}
END_TEST

START_TEST(seq_wraparound)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 0xfffffff8u);
    send(&f, 0, 0xfffffff9u, "abcd");
    send(&f, 0, 0x00000001u, "ijkl"); /* past 2^32, ahead of a hole */
    send(&f, 0, 0xfffffffdu, "efgh"); /* crosses 2^32 */
    assert_stream(&f.r, 0, "abcdefghijkl");
    send(&f, 0, 0xfffffffbu, "cdef"); /* a retransmission across the wrap */
    assert_stream(&f.r, 0, "abcdefghijkl");
    ck_assert_uint_eq(anomalies(&f.r), 0);
    ck_assert_uint_eq(f.r.gaps[0], 0);
    /* Exactly half the sequence space behind (found by fuzzing: no overflow, no delivery). */
    send(&f, 0, 0x00000005u + 0x80000000u, "half");
    assert_stream(&f.r, 0, "abcdefghijkl");
    ck_assert_uint_eq(f.r.anom[AVTB_TCP_ANOM_BEFORE_START], 1);
    fix_close(&f);
}
END_TEST

START_TEST(syn_retransmission_and_new_isn)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 100);
    syn(&f, 0, 100);  /* retransmitted */
    syn(&f, 0, 5000); /* a new ISN before data: the first SYN was stale */
    send(&f, 0, 5001, "data");
    syn(&f, 0, 5000); /* late retransmission of the SYN: nothing happens */
    assert_stream(&f.r, 0, "data");
    ck_assert_uint_eq(anomalies(&f.r), 0);
    /* Port reuse without a close: a SYN with a new ISN after data starts over. */
    syn(&f, 0, 9000);
    send(&f, 0, 9001, "again");
    assert_stream(&f.r, 0, "dataagain");
    ck_assert_uint_eq(f.r.anom[AVTB_TCP_ANOM_NEW_ISN], 1);
    ck_assert_uint_eq(f.r.gaps[0], 0);
    fix_close(&f);
}
END_TEST

START_TEST(rst_closes_and_stray_rst_ignored)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 100);
    syn(&f, 1, 5000);
    send(&f, 0, 101, "one");
    /* An RST far from anything the server sent: a forgery, not believed. */
    send_flags(&f, 1, 5000 + (64u << 20), "", AVTB_TCP_RST);
    ck_assert(!avtb_tcp_session_closed(f.s));
    ck_assert_uint_eq(f.r.anom[AVTB_TCP_ANOM_RST_IGNORED], 1);
    send(&f, 0, 104, "two");
    send(&f, 0, 120, "held"); /* after a hole */
    send_flags(&f, 1, 5001, "", AVTB_TCP_RST | AVTB_TCP_ACK);
    ck_assert(avtb_tcp_session_closed(f.s));
    assert_stream(&f.r, 0, "onetwoheld"); /* held data is delivered across the gap */
    ck_assert_uint_eq(f.r.gaps[0], 1);
    ck_assert_uint_eq(avtb_tcp_reasm_held(f.ra), 0);
    send(&f, 0, 124, "after close");
    assert_stream(&f.r, 0, "onetwoheld");
    fix_close(&f);
}
END_TEST

START_TEST(fin_then_late_retransmit)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 100);
    syn(&f, 1, 5000);
    send(&f, 0, 101, "aaaa");
    send(&f, 0, 109, "cccc"); /* "bbbb" at 105 lost for now */
    send_flags(&f, 0, 113, "", AVTB_TCP_FIN | AVTB_TCP_ACK);
    send_flags(&f, 1, 5001, "", AVTB_TCP_FIN | AVTB_TCP_ACK);
    ck_assert(!avtb_tcp_session_closed(f.s)); /* the client's bytes are not all in */
    send(&f, 0, 105, "bbbb");                 /* the retransmission after both FINs */
    assert_stream(&f.r, 0, "aaaabbbbcccc");
    ck_assert(avtb_tcp_session_closed(f.s));
    ck_assert_uint_eq(f.r.gaps[0], 0);
    send(&f, 0, 105, "bbbb"); /* once closed, retransmissions change nothing */
    assert_stream(&f.r, 0, "aaaabbbbcccc");
    ck_assert_uint_eq(anomalies(&f.r), 0);
    fix_close(&f);
}
END_TEST

START_TEST(data_after_fin)
{
    fix f;

    fix_init(&f);
    fix_open(&f);
    syn(&f, 0, 100);
    send_flags(&f, 0, 101, "last", AVTB_TCP_FIN | AVTB_TCP_ACK);
    send_flags(&f, 0, 101, "last", AVTB_TCP_FIN | AVTB_TCP_ACK); /* FIN retransmitted */
    ck_assert_uint_eq(anomalies(&f.r), 0);
    send(&f, 0, 105, "sneaky");
    assert_stream(&f.r, 0, "lastsneaky"); /* still inspected */
    ck_assert_uint_eq(f.r.anom[AVTB_TCP_ANOM_DATA_AFTER_FIN], 1);
    fix_close(&f);
}
END_TEST

/* --- Limits ---------------------------------------------------------------- */

START_TEST(memcap_bounds_held_bytes)
{
    fix f;
    char seg[101];

    fix_init(&f);
    f.lim.memcap = 4 * (100 + 64); /* a few segments' worth */
    fix_open(&f);
    syn(&f, 0, 1000);
    memset(seg, 'x', 100);
    seg[100] = '\0';
    /* Byte 0..99 lost; 20 segments after it arrive out of order. */
    for (uint32_t i = 20; i >= 1; i--) {
        seg[0] = (char)('A' + i);
        send(&f, 0, 1001 + 100 * i, seg);
        ck_assert_uint_le(avtb_tcp_reasm_held(f.ra), f.lim.memcap);
    }
    avtb_tcp_session_flush(f.s);
    /*
     * The fifth segment hit the cap: the hole before it was given up, it and
     * the four held after it went out. The fifteen older ones arrived after
     * their stretch was a gap: not in the stream, but handed over as LATE.
     */
    ck_assert_uint_eq(f.r.len[0], 500);
    ck_assert_uint_eq(f.r.gaps[0], 1);
    ck_assert_uint_eq(f.r.gap_bytes[0], 1600);
    ck_assert_uint_eq(f.r.anom[AVTB_TCP_ANOM_HOLD_LIMIT], 1);
    ck_assert_uint_eq(f.r.anom[AVTB_TCP_ANOM_LATE], 15);
    fix_close(&f);
}
END_TEST

/* "AAAA" lost, then four segments with room for fewer: the hole is given up once. */
static void four_after_a_hole(fix *f)
{
    fix_open(f);
    syn(f, 0, 1000);
    send(f, 0, 1005, "BBBB");
    send(f, 0, 1009, "CCCC");
    send(f, 0, 1013, "DDDD");
    send(f, 0, 1017, "EEEE");
    ck_assert_uint_eq(f->r.anom[AVTB_TCP_ANOM_HOLD_LIMIT], 1);
    avtb_tcp_session_flush(f->s);
    assert_stream(&f->r, 0, "BBBBCCCCDDDDEEEE");
    ck_assert_uint_eq(f->r.gaps[0], 1);
    ck_assert_uint_eq(f->r.gap_bytes[0], 4);
    fix_close(f);
}

START_TEST(dir_memcap_and_segment_limit)
{
    fix f;

    fix_init(&f);
    f.lim.max_held_segments = 3;
    four_after_a_hole(&f);

    fix_init(&f);
    f.lim.dir_memcap = 100; /* two or three of these small segments, with bookkeeping */
    four_after_a_hole(&f);
}
END_TEST

START_TEST(window_limits_retransmission_checks)
{
    fix f;
    char big[5001];

    fix_init(&f);
    f.lim.window = 4096; /* the smallest window */
    fix_open(&f);
    syn(&f, 0, 0);
    memset(big, 'a', 5000);
    big[5000] = '\0';
    send(&f, 0, 1, big);
    ck_assert_uint_le(avtb_tcp_reasm_window_bytes(f.ra), 4096);
    send(&f, 0, 1 + 4500, "aaaa"); /* still in the window: compared, equal */
    ck_assert_uint_eq(anomalies(&f.r), 0);
    send(&f, 0, 1 + 100, "bbbb"); /* older than the window: cannot be compared */
    ck_assert_uint_eq(f.r.anom[AVTB_TCP_ANOM_UNCHECKED], 1);
    ck_assert_str_eq(f.r.last_bytes, "bbbb");
    ck_assert_int_eq(f.r.last_off, 100);
    fix_close(&f);

    fix_init(&f);
    f.lim.window = 0; /* no window at all */
    fix_open(&f);
    syn(&f, 0, 0);
    send(&f, 0, 1, "abcd");
    send(&f, 0, 1, "abcd");
    ck_assert_uint_eq(f.r.anom[AVTB_TCP_ANOM_UNCHECKED], 1);
    ck_assert_uint_eq(avtb_tcp_reasm_window_bytes(f.ra), 0);
    assert_stream(&f.r, 0, "abcd");
    fix_close(&f);
}
END_TEST

START_TEST(flow_cap_truncates)
{
    fix f;

    fix_init(&f);
    f.lim.flow_cap = 10;
    fix_open(&f);
    send(&f, 0, 100, "0123456");
    send(&f, 1, 900, "xyz");
    send(&f, 0, 107, "789abcdef");
    send(&f, 0, 116, "more");
    ck_assert_uint_eq(f.r.len[0], 7);
    assert_stream(&f.r, 1, "xyz");
    ck_assert_uint_eq(f.r.truncated, 1);
    fix_close(&f);
}
END_TEST

START_TEST(null_callbacks_allowed)
{
    static const avtb_tcp_sink empty = {NULL, NULL, NULL};
    avtb_stream_limits lim;
    avtb_tcp_reasm *ra;
    avtb_tcp_session *s;
    avtb_decoded d = {0};

    avtb_stream_limits_default(&lim);
    lim.flow_cap = 3;
    ra = avtb_tcp_reasm_new(&lim);
    s = avtb_tcp_session_new(ra, &empty, NULL);
    d.family = 4;
    d.proto = 6;
    d.tcp_flags = AVTB_TCP_ACK;
    d.payload = (const uint8_t *)"abcdef";
    d.payload_len = d.wire_payload_len = 6;
    d.seq = 10;
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    d.seq = 30; /* a gap */
    ck_assert_int_eq(avtb_tcp_session_segment(s, 1, &d, 1.0), AVTB_OK);
    d.seq = 50;
    ck_assert_int_eq(avtb_tcp_session_segment(s, 1, &d, 1.0), AVTB_OK);
    avtb_tcp_session_flush(s);
    avtb_tcp_session_free(s);
    avtb_tcp_session_free(NULL);
    avtb_tcp_reasm_free(ra);
}
END_TEST

static void count_data(void *ctx, unsigned dir, const uint8_t *buf, size_t len, double ts)
{
    (void)dir;
    (void)ts;
    ck_assert(len == 0 || buf != NULL);
    *(uint64_t *)ctx += len;
}

static void count_anomaly(void *ctx, const avtb_tcp_anomaly *a)
{
    (void)ctx;
    ck_assert(a->kind < AVTB_TCP_ANOM_COUNT);
    ck_assert(a->len == 0 || a->buf != NULL);
}

static const avtb_tcp_sink count_sink = {count_data, NULL, NULL};

/*
 * Deterministic garbage: random sequence numbers, flags and lengths around a
 * stream. Limits must hold after every segment, and counters add up.
 */
START_TEST(bounded_under_random_input)
{
    static uint8_t junk[3000];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    avtb_stream_limits lim;
    avtb_tcp_reasm *ra;
    avtb_tcp_session *s[4];
    uint64_t delivered = 0;

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)i;
    avtb_stream_limits_default(&lim);
    lim.memcap = 64 << 10;
    lim.dir_memcap = 24 << 10;
    lim.max_held_segments = 50;
    lim.window = 8192;
    lim.window_memcap = 20000;
    ra = avtb_tcp_reasm_new(&lim);
    for (unsigned i = 0; i < 4; i++) {
        s[i] = avtb_tcp_session_new(ra, &count_sink, &delivered);
        avtb_tcp_session_set_anomaly(s[i], count_anomaly);
    }
    for (unsigned n = 0; n < 20000; n++) {
        avtb_decoded d = {0};
        unsigned which;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        which = (unsigned)(x % 4);
        d.family = 4;
        d.proto = 6;
        /* Mostly near the stream, sometimes anywhere. */
        d.seq = (x >> 8) % 16 == 0 ? (uint32_t)(x >> 32) : 1000 + (uint32_t)((x >> 20) % 6000);
        d.tcp_flags = (uint8_t)((x >> 40) % 64 == 0 ? (x >> 48) & 0x17 : AVTB_TCP_ACK);
        d.payload = junk;
        d.payload_len = (size_t)((x >> 24) % 1500);
        d.wire_payload_len = d.payload_len + ((x >> 52) % 8 == 0 ? (x >> 56) % 100 : 0);
        ck_assert_int_eq(avtb_tcp_session_segment(s[which], (unsigned)(x >> 60) & 1, &d, n),
                         AVTB_OK);
        ck_assert_uint_le(avtb_tcp_reasm_held(ra), lim.memcap);
        ck_assert_uint_le(avtb_tcp_reasm_window_bytes(ra), lim.window_memcap);
        if (avtb_tcp_session_closed(s[which])) {
            avtb_tcp_session_free(s[which]);
            s[which] = avtb_tcp_session_new(ra, &count_sink, &delivered);
            avtb_tcp_session_set_anomaly(s[which], count_anomaly);
        }
    }
    for (unsigned i = 0; i < 4; i++) {
        avtb_tcp_session_flush(s[i]);
        avtb_tcp_session_free(s[i]);
    }
    ck_assert_uint_eq(avtb_tcp_reasm_held(ra), 0);
    ck_assert_uint_eq(avtb_tcp_reasm_window_bytes(ra), 0);
    ck_assert_uint_gt(delivered, 0);
    avtb_tcp_reasm_free(ra);
}
END_TEST

START_TEST(stats_count_without_callback)
{
    avtb_stream_limits lim;
    avtb_tcp_reasm *ra;
    avtb_tcp_session *s;
    avtb_tcp_stats st;
    avtb_decoded d = {0};
    rec r;

    memset(&r, 0, sizeof(r));
    avtb_stream_limits_default(&lim);
    ra = avtb_tcp_reasm_new(&lim);
    s = avtb_tcp_session_new(ra, &rec_sink, &r); /* no anomaly callback */
    d.family = 4;
    d.proto = 6;
    d.tcp_flags = AVTB_TCP_ACK;
    d.seq = 1;
    d.payload = (const uint8_t *)"abcd";
    d.payload_len = d.wire_payload_len = 4;
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    d.payload = (const uint8_t *)"abXd";
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    d.seq = 20;
    ck_assert_int_eq(avtb_tcp_session_segment(s, 0, &d, 1.0), AVTB_OK);
    avtb_tcp_session_flush(s);
    avtb_tcp_reasm_stats_get(ra, &st);
    ck_assert_uint_eq(st.anomalies[AVTB_TCP_ANOM_OVERLAP], 1);
    ck_assert_uint_eq(st.gaps, 1);
    ck_assert_uint_eq(st.gap_bytes, 15);
    avtb_tcp_session_free(s);
    avtb_tcp_reasm_free(ra);
}
END_TEST

static Suite *stream_suite(void)
{
    Suite *s = suite_create("stream-tcp");
    TCase *tc;

    tc = tcase_create("ordering");
    tcase_add_test(tc, in_order_both_directions);
    tcase_add_test(tc, out_of_order_three_segments);
    tcase_add_test(tc, retransmission_delivered_once);
    tcase_add_test(tc, seq_wraparound);
    suite_add_tcase(s, tc);

    tc = tcase_create("overlaps");
    tcase_add_test(tc, overlap_different_behind_next_seq);
    tcase_add_test(tc, overlap_different_held);
    tcase_add_test(tc, overlap_in_order_segment_over_held);
    tcase_add_test(tc, overlap_identical_is_quiet);
    suite_add_tcase(s, tc);

    tc = tcase_create("gaps");
    tcase_add_test(tc, gap_then_more_data);
    tcase_add_test(tc, gap_at_the_end_is_reported);
    tcase_add_test(tc, snaplen_cut_segment);
    suite_add_tcase(s, tc);

    tc = tcase_create("connection");
    tcase_add_test(tc, no_handshake_both_directions);
    tcase_add_test(tc, syn_retransmission_and_new_isn);
    tcase_add_test(tc, rst_closes_and_stray_rst_ignored);
    tcase_add_test(tc, fin_then_late_retransmit);
    tcase_add_test(tc, data_after_fin);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, memcap_bounds_held_bytes);
    tcase_add_test(tc, dir_memcap_and_segment_limit);
    tcase_add_test(tc, window_limits_retransmission_checks);
    tcase_add_test(tc, flow_cap_truncates);
    tcase_add_test(tc, null_callbacks_allowed);
    tcase_add_test(tc, bounded_under_random_input);
    tcase_add_test(tc, stats_count_without_callback);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stream_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
