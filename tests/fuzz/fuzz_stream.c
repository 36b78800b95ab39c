/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Structured libFuzzer harness for TCP reassembly (collectors/stream-tcp.c)
 * behind the flow table (flow.c) and IP defragmentation (defrag.c). A fuzzer
 * fed raw frames (fuzz_pcap) rarely gets headers and sequence numbers right
 * enough to reach overlaps, holes, wraparound and the hold limits; here the
 * input is a list of operations that build segments with chosen sequence
 * numbers, lengths, flags and snaplen cuts, and IPv4 fragments of TCP
 * datagrams with chosen offsets, each payload in its own allocation.
 *
 * In "consistent" mode (first byte, bit 0) every byte sent at sequence
 * number n is pattern(n), whichever segment or fragment carries it, so the
 * reassembled stream is checked byte for byte: data delivered at stream
 * offset o must be pattern(base + o), a second copy never conflicts, and a
 * reassembled datagram equals what was fragmented. In "chaos" mode payloads
 * and fragment bytes come from the input and only the invariants below
 * hold. Always: limits hold (bytes held, windows, the flow cap), callbacks
 * get sane arguments, nothing after the flow is truncated.
 *
 * Input: mode byte, four limit bytes, two ISNs (4 bytes each), then ops:
 *   op & 3 == 0,1  segment:  flags(1) off(2) len(2) [chaos: payload]
 *   op & 3 == 2    fragment: sel(1) frag_off(1) len(2) [chaos: xor byte]
 *   op & 3 == 3    control:  flush a flow, expire fragments, restart time
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/defrag.h"
#include "collectors/flow.h"
#include "collectors/stream-tcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NFLOWS  4
#define MAX_SEG 2048
#define DG_MAX  900 /* datagram payload after the 20-byte TCP header */

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

static unsigned take(input *in, size_t k)
{
    unsigned v = 0;

    for (size_t i = 0; i < k; i++) {
        v = v << 8 | (in->n > 0 ? *in->p : 0);
        if (in->n > 0) {
            in->p++;
            in->n--;
        }
    }
    return v;
}

typedef struct world world;

/* Per session and direction: what the oracle expects the stream to start at. */
typedef struct odir {
    bool started, seen_data, syn_seen;
    uint32_t base; /* sequence number of stream offset 0 */
    uint64_t off;  /* data plus gap bytes so far */
} odir;

typedef struct sess {
    world *w;
    avtb_tcp_session *s;
    odir d[2];
    bool truncated;
    uint64_t data_bytes;
} sess;

struct world {
    bool consistent;
    avtb_stream_limits lim;
    avtb_tcp_reasm *r;
    avtb_flow_table *flows;
    avtb_defrag *df;
    uint32_t isn[2];
    unsigned sum;
};

static uint8_t pattern(uint32_t seq)
{
    seq ^= seq >> 16;
    seq *= 0x45d9f3bu;
    seq ^= seq >> 16;
    return (uint8_t)seq;
}

static void on_data(void *ctx, unsigned dir, const uint8_t *buf, size_t len, double ts)
{
    sess *s = ctx;
    odir *o = &s->d[dir & 1];

    (void)ts;
    if (dir > 1 || len == 0 || buf == NULL || s->truncated)
        __builtin_trap();
    for (size_t i = 0; i < len; i++) {
        if (s->w->consistent && buf[i] != pattern(o->base + (uint32_t)(o->off + i)))
            __builtin_trap(); /* a byte delivered at the wrong stream offset */
        s->w->sum += buf[i];
    }
    o->off += len;
    s->data_bytes += len;
    if (s->data_bytes > s->w->lim.flow_cap)
        __builtin_trap();
}

static void on_gap(void *ctx, unsigned dir, uint64_t len)
{
    sess *s = ctx;

    if (dir > 1 || len == 0)
        __builtin_trap();
    s->d[dir].off += len;
}

static void on_truncated(void *ctx)
{
    sess *s = ctx;

    if (s->truncated)
        __builtin_trap(); /* called once */
    s->truncated = true;
}

static void on_anomaly(void *ctx, const avtb_tcp_anomaly *a)
{
    sess *s = ctx;

    if (a->kind >= AVTB_TCP_ANOM_COUNT || a->dir > 1 || (a->buf == NULL && a->len > 0) ||
        avtb_tcp_anomaly_name(a->kind) == NULL)
        __builtin_trap();
    /* Equal copies of the same bytes never conflict. */
    if (s->w->consistent && (a->kind == AVTB_TCP_ANOM_OVERLAP || a->kind == AVTB_TCP_ANOM_NEW_ISN))
        __builtin_trap();
    for (size_t i = 0; i < a->len; i++)
        s->w->sum += a->buf[i];
}

static const avtb_tcp_sink sink = {on_data, on_gap, on_truncated};

static void sess_free(void *user)
{
    sess *s = user;

    if (s == NULL)
        return;
    avtb_tcp_session_free(s->s);
    free(s);
}

static bool sess_evictable(const void *user)
{
    const sess *s = user;

    return s == NULL || avtb_tcp_session_closed(s->s);
}

/* Addresses and ports of flow f, seen from direction dir (0: client → server). */
static void endpoints(avtb_decoded *d, unsigned f, unsigned dir)
{
    uint8_t a[4] = {10, 0, 0, 2}, b[4] = {10, 0, 0, 1};

    memset(d, 0, sizeof(*d));
    d->family = 4;
    d->proto = IPPROTO_TCP;
    memcpy(dir ? d->src : d->dst, b, 4);
    memcpy(dir ? d->dst : d->src, a, 4);
    d->sport = dir ? 80 : (uint16_t)(40000 + f);
    d->dport = dir ? (uint16_t)(40000 + f) : 80;
}

static void check_limits(const world *w)
{
    if (avtb_tcp_reasm_held(w->r) > w->lim.memcap ||
        avtb_tcp_reasm_window_bytes(w->r) > w->lim.window_memcap)
        __builtin_trap();
}

/*
 * The oracle's side of avtb_tcp_session_segment's rules for where a stream
 * starts (offsets go on from o->off): the first segment, or a SYN before
 * any data. A SYN after data is a new connection (NEW_ISN), which
 * consistent mode does not send.
 */
static void oracle_segment(odir *o, const avtb_decoded *d)
{
    if (d->tcp_flags & AVTB_TCP_SYN) {
        if (!o->started || (!o->seen_data && o->base + (uint32_t)o->off != d->seq + 1)) {
            o->started = true;
            o->base = d->seq + 1 - (uint32_t)o->off;
        }
        o->syn_seen = true;
    } else if (!o->started) {
        o->started = true;
        o->base = d->seq - (uint32_t)o->off;
    }
    if (d->wire_payload_len > 0)
        o->seen_data = true;
}

static void feed(world *w, avtb_decoded *d, double ts)
{
    avtb_flow *flow = NULL;
    unsigned from = 0, dir;
    bool created;
    sess *s;

    if (avtb_flow_get(w->flows, d, &flow, &from, &created) != AVTB_OK || flow == NULL)
        return;
    s = flow->user;
    if (s != NULL && avtb_tcp_session_closed(s->s) &&
        (d->tcp_flags & (AVTB_TCP_SYN | AVTB_TCP_ACK)) == AVTB_TCP_SYN) {
        avtb_flow_restart(w->flows, flow, d, from); /* port reuse: frees s */
        s = NULL;
    }
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL)
            return;
        s->w = w;
        s->s = avtb_tcp_session_new(w->r, &sink, s);
        if (s->s == NULL) {
            free(s);
            return;
        }
        avtb_tcp_session_set_anomaly(s->s, on_anomaly);
        flow->user = s;
    }
    dir = from == flow->client ? 0 : 1;
    /* Consistent mode sends one connection per session: no SYN once data went without one. */
    if (w->consistent && s->d[dir].seen_data && !s->d[dir].syn_seen &&
        (d->tcp_flags & AVTB_TCP_SYN)) {
        d->tcp_flags &= (uint8_t)~AVTB_TCP_SYN;
        d->seq++; /* the payload starts after the SYN's sequence number */
    }
    /* The oracle is told about the stream's start only while the session takes segments. */
    if (!avtb_tcp_session_closed(s->s))
        oracle_segment(&s->d[dir], d);
    if (avtb_tcp_session_segment(s->s, dir, d, ts) != AVTB_OK)
        return;
    check_limits(w);
}

static void op_segment(world *w, input *in, unsigned op, double ts)
{
    unsigned fl = take(in, 1), off = take(in, 2), len = take(in, 2) % MAX_SEG;
    unsigned dir = fl & 1, f = (fl >> 1) & (NFLOWS - 1);
    uint8_t *payload = NULL;
    avtb_decoded d;

    endpoints(&d, f, dir);
    d.tcp_flags = (uint8_t)((fl & 0x10 ? AVTB_TCP_FIN : 0) | (fl & 0x20 ? AVTB_TCP_SYN : 0) |
                            (fl & 0x40 ? AVTB_TCP_RST : 0) | (fl & 0x80 ? 0 : AVTB_TCP_ACK));
    if (w->consistent) {
        /* off is the stream offset; a SYN sits just before offset 0. */
        if (d.tcp_flags & AVTB_TCP_SYN) {
            d.seq = w->isn[dir];
        } else {
            d.seq = w->isn[dir] + 1 + off;
        }
    } else {
        /* Anywhere, including far behind and across the 2^32 wrap. */
        d.seq = w->isn[dir] + (uint32_t)(int16_t)off * (op & 4 ? 4099u : 1u);
    }
    d.ack = w->isn[!dir] + 1;
    if (len > 0) {
        payload = malloc(len);
        if (payload == NULL)
            return;
        for (unsigned i = 0; i < len; i++)
            payload[i] = w->consistent ? pattern(d.seq + (d.tcp_flags & AVTB_TCP_SYN ? 1 : 0) + i)
                                       : (uint8_t)take(in, 1);
    }
    d.payload = payload;
    d.wire_payload_len = len;
    /* A frame cut by the snaplen: fewer bytes captured than sent. */
    d.payload_len = op & 8 ? len / 2 : len;
    feed(w, &d, ts);
    free(payload);
}

/* Datagram `id` of flow f, direction dir: a TCP header and pattern bytes at its seq. */
static size_t datagram(const world *w, unsigned f, unsigned dir, unsigned id, uint8_t *buf)
{
    avtb_decoded e;
    uint32_t seq = w->isn[dir] + 1 + (id * 53u) % 4096u;
    size_t n = 1 + (id * 37u) % DG_MAX;

    endpoints(&e, f, dir);
    memset(buf, 0, 20);
    buf[0] = (uint8_t)(e.sport >> 8);
    buf[1] = (uint8_t)e.sport;
    buf[2] = (uint8_t)(e.dport >> 8);
    buf[3] = (uint8_t)e.dport;
    buf[4] = (uint8_t)(seq >> 24);
    buf[5] = (uint8_t)(seq >> 16);
    buf[6] = (uint8_t)(seq >> 8);
    buf[7] = (uint8_t)seq;
    buf[12] = 5 << 4;
    buf[13] = AVTB_TCP_ACK;
    for (size_t i = 0; i < n; i++)
        buf[20 + i] = pattern(seq + (uint32_t)i);
    return 20 + n;
}

static void op_fragment(world *w, input *in, double ts)
{
    unsigned sel = take(in, 1), fo = take(in, 1), len = take(in, 2);
    unsigned dir = sel & 1, f = (sel >> 1) & (NFLOWS - 1), id = sel >> 3;
    uint8_t whole[20 + DG_MAX], *frag;
    size_t total = datagram(w, f, dir, id, whole), lo = (size_t)fo * 8, n;
    avtb_defrag_datagram *dg = NULL;
    avtb_decoded d, r;

    if (lo >= total)
        lo = (total - 1) / 8 * 8;
    n = len % (total - lo + 1);
    if (n == 0)
        n = total - lo;
    if (lo + n < total)
        n = (n + 7) & ~(size_t)7; /* only the last fragment may be a ragged length */
    if (lo + n > total)
        n = total - lo;
    frag = malloc(n ? n : 1);
    if (frag == NULL)
        return;
    memcpy(frag, whole + lo, n);
    endpoints(&d, f, dir);
    d.frag_id = sel; /* the key has no ports: the id tells the flows' datagrams apart */
    d.frag_offset = (uint32_t)lo;
    d.frag_more = lo + n < total;
    if (!w->consistent) {
        unsigned x = take(in, 1);

        if (x & 1)
            d.frag_more = !d.frag_more; /* a lying more-fragments flag */
        for (size_t i = 0; i < n && (x >> 1); i += 1 + (x >> 1))
            frag[i] ^= (uint8_t)x; /* a second copy with other bytes */
    }
    d.ip_payload = frag;
    d.ip_payload_len = n;
    d.ip_wire_payload_len = n;
    if (avtb_defrag_add(w->df, &d, ts, &dg) != AVTB_OK || dg == NULL) {
        free(frag);
        return;
    }
    free(frag);
    {
        size_t blen = 0;
        const uint8_t *b = avtb_defrag_datagram_bytes(dg, &blen);

        if (w->consistent && (blen != total || memcmp(b, whole, total) != 0))
            __builtin_trap(); /* the datagram is not the one that was cut up */
        for (size_t i = 0; i < blen; i++)
            w->sum += b[i];
    }
    if (avtb_defrag_decode(dg, &r) == AVTB_DECODE_OK && r.proto == IPPROTO_TCP)
        feed(w, &r, avtb_defrag_datagram_ts(dg));
    avtb_defrag_datagram_free(dg);
}

static void flush_one(void *ctx, avtb_flow *flow)
{
    unsigned *which = ctx;
    sess *s = flow->user;

    if (s != NULL && (*which == 0 || flow->id % NFLOWS == *which % NFLOWS))
        avtb_tcp_session_flush(s->s);
}

static void on_defrag_anomaly(void *ctx, const avtb_defrag_event *ev)
{
    world *w = ctx;

    if (ev->kind >= AVTB_DEFRAG_ANOM_COUNT || avtb_defrag_anomaly_name(ev->kind) == NULL)
        __builtin_trap();
    /* Consistent fragments never overlap with different bytes, nor disagree on the end. */
    if (w->consistent &&
        (ev->kind == AVTB_DEFRAG_ANOM_OVERLAP || ev->kind == AVTB_DEFRAG_ANOM_BAD_LENGTH))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {data, size};
    unsigned mode = take(&in, 1);
    unsigned l0 = take(&in, 1), l1 = take(&in, 1), l2 = take(&in, 1), l3 = take(&in, 1);
    avtb_defrag_limits dl;
    double ts = 1.0;
    world w = {0};

    w.consistent = mode & 1;
    avtb_stream_limits_default(&w.lim);
    if (mode & 2) { /* small limits, so every one of them is reached */
        w.lim.flow_cap = 1 + (uint64_t)l0 * 97;
        w.lim.memcap = 64 + (uint64_t)l1 * 64;
        w.lim.max_held_segments = 1 + l2 % 16;
        w.lim.dir_memcap = 32 + (uint64_t)(l2 >> 4) * 512;
        w.lim.window = 1 + (size_t)l3 * 64;
        w.lim.window_memcap = (uint64_t)(l3 & 0xf) * 4096;
        w.lim.rst_window = 1u << (l0 % 24);
        w.lim.max_flows = 1 + (mode >> 2) % NFLOWS;
    } else {
        w.lim.max_flows = NFLOWS;
    }
    w.isn[0] = take(&in, 4);
    w.isn[1] = take(&in, 4);
    avtb_defrag_limits_default(&dl);
    dl.memcap = mode & 2 ? 4096 + (uint64_t)l1 * 16 : dl.memcap;
    dl.max_datagrams = mode & 2 ? 1 + l2 % 4 : dl.max_datagrams;
    dl.timeout = 5.0;
    w.r = avtb_tcp_reasm_new(&w.lim);
    w.flows = avtb_flow_table_new(w.lim.max_flows, sess_free);
    w.df = avtb_defrag_new(&dl, on_defrag_anomaly, &w);
    if (w.r == NULL || w.flows == NULL || w.df == NULL)
        goto out;
    avtb_flow_table_set_evictable(w.flows, sess_evictable, 0);
    while (in.n > 0) {
        unsigned op = take(&in, 1);

        switch (op & 3) {
        case 0:
        case 1:
            op_segment(&w, &in, op, ts);
            break;
        case 2:
            op_fragment(&w, &in, ts);
            break;
        default:
            if (op & 4) {
                unsigned which = op >> 4;

                avtb_flow_table_foreach(w.flows, flush_one, &which);
            } else if (op & 8) {
                ts += 10.0; /* fragments time out */
                avtb_defrag_expire(w.df, ts);
            } else {
                ts += 0.001;
            }
            break;
        }
        check_limits(&w);
    }
    {
        unsigned all = 0;

        avtb_flow_table_foreach(w.flows, flush_one, &all);
    }
    avtb_defrag_flush(w.df);
out:
    avtb_flow_table_free(w.flows); /* frees the sessions */
    avtb_defrag_free(w.df);
    if (w.r != NULL && avtb_tcp_reasm_held(w.r) != 0)
        __builtin_trap(); /* every held byte is given back when its session goes */
    avtb_tcp_reasm_free(w.r);
    return (int)(w.sum & 0);
}
