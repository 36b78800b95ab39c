/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP reassembly; see stream-tcp.h. Per direction we keep the next expected
 * sequence number and a sorted list of segments that arrived ahead of it.
 * Bytes behind next_seq were already delivered, so retransmissions and
 * overlaps cost a comparison and nothing else (first copy wins, as in
 * Suricata's default policy). When a limit is hit we give up on the oldest
 * hole (a gap) rather than on new data, so memory stays bounded and data
 * after a lost packet is still inspected.
 */
#include "collectors/stream-tcp.h"

#include <stdlib.h>
#include <string.h>

typedef struct held_seg {
    struct held_seg *next;
    uint32_t seq;
    uint32_t caplen; /* bytes in data */
    uint32_t wire;   /* bytes the segment carried on the wire (>= caplen) */
    double ts;
    uint8_t data[];
} held_seg;

typedef struct tcp_dir {
    bool started;   /* next_seq is known */
    bool seen_data; /* a later SYN with another ISN is a retransmit, not a restart */
    bool fin;
    bool done;
    uint32_t next_seq;
    uint32_t fin_seq;
    held_seg *held; /* sorted by distance ahead of next_seq */
    held_seg *tail; /* segments mostly arrive in order: appending is O(1) */
    size_t nheld;
} tcp_dir;

struct avtb_tcp_reasm {
    avtb_stream_limits lim;
    uint64_t held; /* bytes (with headers) held over all sessions */
};

struct avtb_tcp_session {
    avtb_tcp_reasm *r;
    const avtb_tcp_sink *sink;
    void *ctx;
    tcp_dir dir[2];
    uint64_t inspected;
    bool truncated;
    bool closed;
};

/* Sequence arithmetic modulo 2^32 (RFC 793): negative means a is before b. */
static int32_t seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

static size_t seg_cost(const held_seg *h)
{
    return sizeof(*h) + h->caplen;
}

void avtb_stream_limits_default(avtb_stream_limits *l)
{
    l->flow_cap = AVTB_STREAM_FLOW_CAP_DEFAULT;
    l->memcap = AVTB_STREAM_MEMCAP_DEFAULT;
    l->max_held_segments = AVTB_STREAM_MAX_HELD_DEFAULT;
    l->max_flows = AVTB_STREAM_MAX_FLOWS_DEFAULT;
}

avtb_tcp_reasm *avtb_tcp_reasm_new(const avtb_stream_limits *limits)
{
    avtb_tcp_reasm *r = calloc(1, sizeof(*r));

    if (r != NULL)
        r->lim = *limits;
    return r;
}

void avtb_tcp_reasm_free(avtb_tcp_reasm *r)
{
    free(r);
}

uint64_t avtb_tcp_reasm_held(const avtb_tcp_reasm *r)
{
    return r->held;
}

avtb_tcp_session *avtb_tcp_session_new(avtb_tcp_reasm *r, const avtb_tcp_sink *sink, void *ctx)
{
    avtb_tcp_session *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->r = r;
    s->sink = sink;
    s->ctx = ctx;
    return s;
}

static void release_held(avtb_tcp_session *s)
{
    for (unsigned i = 0; i < 2; i++) {
        tcp_dir *t = &s->dir[i];

        while (t->held != NULL) {
            held_seg *h = t->held;

            t->held = h->next;
            s->r->held -= seg_cost(h);
            free(h);
        }
        t->tail = NULL;
        t->nheld = 0;
    }
}

void avtb_tcp_session_free(avtb_tcp_session *s)
{
    if (s == NULL)
        return;
    release_held(s);
    free(s);
}

/* In-order bytes: hand them on, within the flow's inspection budget. */
static void deliver(avtb_tcp_session *s, unsigned dir, const uint8_t *data, size_t caplen,
                    uint32_t wire, double ts)
{
    uint64_t room = s->r->lim.flow_cap - s->inspected;
    size_t n = caplen < room ? caplen : (size_t)room;

    s->dir[dir].next_seq += wire;
    if (s->truncated)
        return;
    if (n > 0)
        s->sink->data(s->ctx, dir, data, n, ts);
    s->inspected += n;
    if (n < caplen) {
        s->truncated = true;
        s->sink->truncated(s->ctx);
        release_held(s); /* never going to be inspected */
        return;
    }
    if (wire > caplen)
        s->sink->gap(s->ctx, dir, wire - caplen);
}

/* Delivers held segments that next_seq has reached. */
static void drain(avtb_tcp_session *s, unsigned dir)
{
    tcp_dir *t = &s->dir[dir];
    held_seg *h;

    while ((h = t->held) != NULL && seq_diff(h->seq, t->next_seq) <= 0) {
        uint32_t skip = t->next_seq - h->seq; /* bytes of h already delivered */

        t->held = h->next;
        if (t->held == NULL)
            t->tail = NULL;
        t->nheld--;
        s->r->held -= seg_cost(h);
        if (skip < h->wire) {
            uint32_t dskip = skip < h->caplen ? skip : h->caplen;

            deliver(s, dir, h->data + dskip, h->caplen - dskip, h->wire - skip, h->ts);
        }
        free(h);
    }
}

/* Gives up on the hole before the first held segment. */
static void gap_to_first(avtb_tcp_session *s, unsigned dir)
{
    tcp_dir *t = &s->dir[dir];
    uint32_t gap = (uint32_t)seq_diff(t->held->seq, t->next_seq);

    if (!s->truncated)
        s->sink->gap(s->ctx, dir, gap);
    t->next_seq = t->held->seq;
    drain(s, dir);
}

/* Inserts in order; false when out of memory. An exact duplicate is dropped. */
static bool hold(avtb_tcp_session *s, unsigned dir, uint32_t seq, const uint8_t *data,
                 uint32_t caplen, uint32_t wire, double ts)
{
    tcp_dir *t = &s->dir[dir];
    uint32_t ahead = (uint32_t)seq_diff(seq, t->next_seq);
    held_seg **pp = &t->held, *h;

    if (t->tail != NULL && (uint32_t)seq_diff(t->tail->seq, t->next_seq) < ahead)
        pp = &t->tail->next;
    while (*pp != NULL && (uint32_t)seq_diff((*pp)->seq, t->next_seq) < ahead)
        pp = &(*pp)->next;
    if (*pp != NULL && (*pp)->seq == seq && (*pp)->wire >= wire)
        return true; /* retransmission of a segment already held */
    h = malloc(sizeof(*h) + caplen);
    if (h == NULL)
        return false;
    h->seq = seq;
    h->caplen = caplen;
    h->wire = wire;
    h->ts = ts;
    memcpy(h->data, data, caplen);
    h->next = *pp;
    *pp = h;
    if (h->next == NULL)
        t->tail = h;
    t->nheld++;
    s->r->held += seg_cost(h);
    return true;
}

static avtb_err data_segment(avtb_tcp_session *s, unsigned dir, uint32_t seq, const uint8_t *data,
                             uint32_t caplen, uint32_t wire, double ts)
{
    tcp_dir *t = &s->dir[dir];
    const avtb_stream_limits *lim = &s->r->lim;

    t->seen_data = true;
    for (;;) {
        int32_t rel = seq_diff(seq, t->next_seq);

        if (rel <= 0) {
            uint32_t skip = t->next_seq - seq; /* bytes already delivered */
            uint32_t dskip = skip < caplen ? skip : caplen;

            if (skip >= wire)
                return AVTB_OK; /* all of it was delivered already */
            deliver(s, dir, data + dskip, caplen - dskip, wire - skip, ts);
            drain(s, dir);
            return AVTB_OK;
        }
        if (s->truncated)
            return AVTB_OK;
        if (t->nheld < lim->max_held_segments &&
            s->r->held + sizeof(held_seg) + caplen <= lim->memcap)
            return hold(s, dir, seq, data, caplen, wire, ts) ? AVTB_OK : AVTB_ERR_NOMEM;
        if (t->held == NULL || seq_diff(seq, t->held->seq) < 0) {
            /* This segment is the oldest data we have: skip the hole up to it. */
            s->sink->gap(s->ctx, dir, (uint32_t)rel);
            t->next_seq = seq;
            continue;
        }
        gap_to_first(s, dir);
    }
}

static void close_session(avtb_tcp_session *s)
{
    s->closed = true;
    release_held(s);
}

avtb_err avtb_tcp_session_segment(avtb_tcp_session *s, unsigned dir, const avtb_decoded *d,
                                  double ts)
{
    tcp_dir *t = &s->dir[dir & 1];
    uint32_t seq = d->seq;
    avtb_err r;

    dir &= 1;
    if (s->closed)
        return AVTB_OK;
    if (d->tcp_flags & AVTB_TCP_SYN) {
        /* A SYN with a new ISN before any data: the first SYN was stale. */
        if (!t->started || (!t->seen_data && t->next_seq != seq + 1)) {
            t->started = true;
            t->next_seq = seq + 1;
        }
        seq++; /* the SYN occupies one sequence number */
    } else if (!t->started) {
        /* No handshake captured: the stream starts here. */
        t->started = true;
        t->next_seq = seq;
    }
    if (d->wire_payload_len > 0) {
        /* Segments are below 2^32 bytes by construction (16-bit IP lengths, TSO < 256 KiB). */
        uint32_t wire =
            d->wire_payload_len > UINT32_MAX ? UINT32_MAX : (uint32_t)d->wire_payload_len;
        uint32_t caplen = d->payload_len < wire ? (uint32_t)d->payload_len : wire;

        r = data_segment(s, dir, seq, d->payload, caplen, wire, ts);
        if (r != AVTB_OK)
            return r;
    }
    if (d->tcp_flags & AVTB_TCP_RST) {
        avtb_tcp_session_flush(s);
        close_session(s);
        return AVTB_OK;
    }
    if ((d->tcp_flags & AVTB_TCP_FIN) && !t->fin) {
        t->fin = true;
        t->fin_seq = seq + (uint32_t)d->wire_payload_len;
    }
    for (unsigned i = 0; i < 2; i++) {
        tcp_dir *u = &s->dir[i];

        if (u->fin && (s->truncated || seq_diff(u->next_seq, u->fin_seq) >= 0))
            u->done = true;
    }
    if (s->dir[0].done && s->dir[1].done)
        close_session(s);
    return AVTB_OK;
}

bool avtb_tcp_session_closed(const avtb_tcp_session *s)
{
    return s->closed;
}

void avtb_tcp_session_flush(avtb_tcp_session *s)
{
    for (unsigned i = 0; i < 2; i++)
        while (s->dir[i].held != NULL)
            gap_to_first(s, i);
}
