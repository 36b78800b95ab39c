/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP reassembly; see stream-tcp.h. Per direction we keep the next expected
 * sequence number, a sorted list of non-overlapping segments that arrived
 * ahead of it, a window of the last bytes delivered and the last few gaps.
 *
 * First copy wins (Suricata's default policy): a segment is cut against
 * what is held before it is stored, and its part behind next_seq is only
 * compared with the window. Bytes that cannot go into the stream any more
 * (a differing second copy, data for a stretch already reported as a gap)
 * are handed to the anomaly callback rather than dropped, so a token hidden
 * in them is still seen.
 *
 * When a limit is hit we give up on the oldest hole (a gap) rather than on
 * new data, so memory stays bounded and data after a lost packet is still
 * inspected.
 */
#include "collectors/stream-tcp.h"

#include <stdlib.h>
#include <string.h>

/* Gaps remembered per direction, to tell late data from plain retransmissions. */
#define GAPS_KEPT 8
/* Cut-out pieces of one segment kept on the stack before falling back to the heap. */
#define PIECES_ON_STACK 16
/* A window starts this small and doubles up to avtb_stream_limits.window. */
#define WINDOW_MIN 4096

typedef struct held_seg {
    struct held_seg *next;
    uint32_t seq;
    uint32_t caplen; /* bytes in data */
    uint32_t wire;   /* bytes the segment covers on the wire (>= caplen) */
    double ts;
    uint8_t data[];
} held_seg;

typedef struct gap_rec {
    uint64_t lo, hi; /* stream offsets [lo, hi) reported as a gap */
} gap_rec;

typedef struct tcp_dir {
    bool started;   /* next_seq is known */
    bool syn_seen;  /* isn is known */
    bool seen_data; /* a later SYN with another ISN is a new connection, not a restart */
    bool fin;
    bool done;
    bool have_end;
    uint32_t isn;
    uint32_t next_seq;
    uint32_t fin_seq;
    uint32_t data_end; /* highest sequence number + 1 of any data seen (have_end) */
    uint64_t off;      /* stream offset of next_seq: bytes delivered plus gaps */
    held_seg *held;    /* sorted by distance ahead of next_seq, not overlapping */
    held_seg *tail;    /* segments mostly arrive in order: appending is O(1) */
    size_t nheld;
    uint64_t held_bytes;
    /* Delivered bytes at stream offsets [win_lo, off); offset o is at win[o % win_cap]. */
    uint8_t *win;
    size_t win_cap;
    uint64_t win_lo;
    gap_rec gaps[GAPS_KEPT];
    unsigned ngaps, gap_next;
} tcp_dir;

struct avtb_tcp_reasm {
    avtb_stream_limits lim;
    uint64_t held;      /* bytes (with headers) held over all sessions */
    uint64_t win_bytes; /* window bytes over all sessions */
    avtb_tcp_stats stats;
};

struct avtb_tcp_session {
    avtb_tcp_reasm *r;
    const avtb_tcp_sink *sink;
    void *ctx;
    avtb_tcp_anomaly_fn anomaly;
    tcp_dir dir[2];
    uint64_t inspected;
    bool truncated;
    bool closed;
};

/* A stretch of a segment not covered by held data: [lo, hi) relative to its seq. */
typedef struct piece {
    uint32_t lo, hi;
} piece;

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
    l->dir_memcap = AVTB_STREAM_DIR_MEMCAP_DEFAULT;
    l->window = AVTB_STREAM_WINDOW_DEFAULT;
    l->window_memcap = AVTB_STREAM_WINDOW_MEMCAP_DEFAULT;
    l->rst_window = AVTB_STREAM_RST_WINDOW_DEFAULT;
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

uint64_t avtb_tcp_reasm_window_bytes(const avtb_tcp_reasm *r)
{
    return r->win_bytes;
}

void avtb_tcp_reasm_stats_get(const avtb_tcp_reasm *r, avtb_tcp_stats *out)
{
    *out = r->stats;
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

const char *avtb_tcp_anomaly_name(avtb_tcp_anomaly_kind kind)
{
    switch (kind) {
    case AVTB_TCP_ANOM_OVERLAP:
        return "tcp: a second copy of stream bytes differs from the first (first kept)";
    case AVTB_TCP_ANOM_LATE:
        return "tcp: bytes arrived after their stretch was given up as a gap";
    case AVTB_TCP_ANOM_UNCHECKED:
        return "tcp: retransmission older than the overlap window (not compared)";
    case AVTB_TCP_ANOM_BEFORE_START:
        return "tcp: bytes from before the start of a stream picked up mid-connection";
    case AVTB_TCP_ANOM_HOLD_LIMIT:
        return "tcp: out-of-order limit reached, a hole was given up";
    case AVTB_TCP_ANOM_RST_IGNORED:
        return "tcp: RST outside the sequence window ignored";
    case AVTB_TCP_ANOM_DATA_AFTER_FIN:
        return "tcp: data after FIN";
    case AVTB_TCP_ANOM_NEW_ISN:
        return "tcp: SYN with a new ISN on an open connection (streams restarted)";
    case AVTB_TCP_ANOM_COUNT:
        break;
    }
    return "tcp: unknown anomaly";
}

void avtb_tcp_session_set_anomaly(avtb_tcp_session *s, avtb_tcp_anomaly_fn fn)
{
    s->anomaly = fn;
}

static void anomaly(avtb_tcp_session *s, avtb_tcp_anomaly_kind kind, unsigned dir, int64_t offset,
                    const uint8_t *buf, size_t len, double ts)
{
    avtb_tcp_anomaly a;

    s->r->stats.anomalies[kind]++;
    if (s->anomaly == NULL)
        return;
    a.kind = kind;
    a.dir = dir;
    a.offset = offset;
    a.buf = len > 0 ? buf : NULL;
    a.len = len;
    a.ts = ts;
    s->anomaly(s->ctx, &a);
}

static void release_held_dir(avtb_tcp_session *s, tcp_dir *t)
{
    while (t->held != NULL) {
        held_seg *h = t->held;

        t->held = h->next;
        s->r->held -= seg_cost(h);
        free(h);
    }
    t->tail = NULL;
    t->nheld = 0;
    t->held_bytes = 0;
}

static void release_held(avtb_tcp_session *s)
{
    for (unsigned i = 0; i < 2; i++)
        release_held_dir(s, &s->dir[i]);
}

static void release_window(avtb_tcp_session *s, tcp_dir *t)
{
    free(t->win);
    s->r->win_bytes -= t->win_cap;
    t->win = NULL;
    t->win_cap = 0;
    t->win_lo = t->off;
}

void avtb_tcp_session_free(avtb_tcp_session *s)
{
    if (s == NULL)
        return;
    release_held(s);
    for (unsigned i = 0; i < 2; i++)
        release_window(s, &s->dir[i]);
    free(s);
}

/* --- The window of delivered bytes ---------------------------------------- */

/* Copies len bytes at stream offset o into (write) or out of (read) the ring. */
static void ring_copy(uint8_t *ring, size_t cap, uint64_t o, uint8_t *buf, size_t len, bool write)
{
    while (len > 0) {
        size_t at = (size_t)(o % cap), n = cap - at < len ? cap - at : len;

        if (write)
            memcpy(ring + at, buf, n);
        else
            memcpy(buf, ring + at, n);
        o += n;
        buf += n;
        len -= n;
    }
}

static bool ring_equal(const uint8_t *ring, size_t cap, uint64_t o, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        size_t at = (size_t)(o % cap), n = cap - at < len ? cap - at : len;

        if (memcmp(ring + at, buf, n) != 0)
            return false;
        o += n;
        buf += n;
        len -= n;
    }
    return true;
}

/* Grows the window towards need bytes within the limits; keeps the old one when it cannot. */
static void window_grow(avtb_tcp_session *s, tcp_dir *t, uint64_t need)
{
    size_t max = s->r->lim.window, ncap = t->win_cap ? t->win_cap : WINDOW_MIN;
    uint8_t *nw;

    while (ncap < need && ncap < max)
        ncap *= 2;
    if (ncap > max)
        ncap = max;
    if (ncap <= t->win_cap || s->r->win_bytes + (ncap - t->win_cap) > s->r->lim.window_memcap)
        return;
    nw = malloc(ncap);
    if (nw == NULL)
        return; /* the window is an extra check, not worth failing the analysis for */
    for (uint64_t o = t->win_lo; o < t->off;) {
        uint8_t tmp[512];
        size_t n = t->off - o < sizeof(tmp) ? (size_t)(t->off - o) : sizeof(tmp);

        ring_copy(t->win, t->win_cap, o, tmp, n, false);
        ring_copy(nw, ncap, o, tmp, n, true);
        o += n;
    }
    free(t->win);
    s->r->win_bytes += ncap - t->win_cap;
    t->win = nw;
    t->win_cap = ncap;
}

/* Remembers n delivered bytes at stream offsets [t->off, t->off + n). */
static void window_add(avtb_tcp_session *s, tcp_dir *t, const uint8_t *data, size_t n)
{
    uint64_t end = t->off + n;

    if (s->r->lim.window == 0) {
        t->win_lo = end;
        return;
    }
    if (end - t->win_lo > t->win_cap)
        window_grow(s, t, end - t->win_lo);
    if (t->win_cap == 0) {
        t->win_lo = end;
        return;
    }
    if (n >= t->win_cap) {
        data += n - t->win_cap;
        n = t->win_cap;
    }
    ring_copy(t->win, t->win_cap, end - n, (uint8_t *)data, n, true);
    if (end - t->win_lo > t->win_cap)
        t->win_lo = end - t->win_cap;
}

/* --- Delivery --------------------------------------------------------------- */

/* Reports len uncaptured bytes at the current offset and moves past them. */
static void skip(avtb_tcp_session *s, unsigned dir, uint32_t len)
{
    tcp_dir *t = &s->dir[dir];
    gap_rec *g = &t->gaps[t->gap_next];

    if (len == 0)
        return;
    g->lo = t->off;
    g->hi = t->off + len;
    t->gap_next = (t->gap_next + 1) % GAPS_KEPT;
    if (t->ngaps < GAPS_KEPT)
        t->ngaps++;
    if (!s->truncated) {
        s->r->stats.gaps++;
        s->r->stats.gap_bytes += len;
        if (s->sink->gap != NULL)
            s->sink->gap(s->ctx, dir, len);
    }
    t->next_seq += len;
    t->off += len;
    t->win_lo = t->off; /* the window holds contiguous bytes only */
}

/* In-order bytes: hand them on, within the flow's inspection budget. */
static void deliver(avtb_tcp_session *s, unsigned dir, const uint8_t *data, uint32_t caplen,
                    uint32_t wire, double ts)
{
    tcp_dir *t = &s->dir[dir];
    uint64_t room = s->r->lim.flow_cap - s->inspected;
    size_t n = caplen < room ? caplen : (size_t)room;

    if (s->truncated) {
        t->next_seq += wire;
        t->off += wire;
        return;
    }
    if (n > 0) {
        if (s->sink->data != NULL)
            s->sink->data(s->ctx, dir, data, n, ts);
        window_add(s, t, data, n);
    }
    s->inspected += n;
    if (n < caplen) {
        s->truncated = true;
        if (s->sink->truncated != NULL)
            s->sink->truncated(s->ctx);
        release_held(s); /* never going to be inspected */
        t->next_seq += wire;
        t->off += wire;
        return;
    }
    t->next_seq += caplen;
    t->off += caplen;
    skip(s, dir, wire - caplen); /* cut by the snaplen */
}

/* Delivers held segments that next_seq has reached. */
static void drain(avtb_tcp_session *s, unsigned dir)
{
    tcp_dir *t = &s->dir[dir];
    held_seg *h;

    while ((h = t->held) != NULL && seq_diff(h->seq, t->next_seq) <= 0) {
        uint32_t done = t->next_seq - h->seq; /* bytes of h already passed (normally 0) */

        t->held = h->next;
        if (t->held == NULL)
            t->tail = NULL;
        t->nheld--;
        t->held_bytes -= seg_cost(h);
        s->r->held -= seg_cost(h);
        if (done < h->wire) {
            uint32_t dskip = done < h->caplen ? done : h->caplen;

            deliver(s, dir, h->data + dskip, h->caplen - dskip, h->wire - done, h->ts);
        }
        free(h);
    }
}

/* Gives up on the hole before the first held segment. */
static void gap_to_first(avtb_tcp_session *s, unsigned dir)
{
    tcp_dir *t = &s->dir[dir];

    skip(s, dir, (uint32_t)seq_diff(t->held->seq, t->next_seq));
    drain(s, dir);
}

/*
 * Bytes of a segment that lie behind next_seq, at stream offset off: compared
 * with the window where it still has them, otherwise handed to the anomaly
 * callback as late (they fill a reported gap), unchecked or before the start.
 */
static void check_behind(avtb_tcp_session *s, unsigned dir, int64_t off, const uint8_t *data,
                         size_t n, double ts)
{
    tcp_dir *t = &s->dir[dir];
    int64_t end = off + (int64_t)n;

    if (s->truncated || n == 0)
        return;
    if (off < 0) {
        size_t k = end < 0 ? n : (size_t)-off;

        anomaly(s, AVTB_TCP_ANOM_BEFORE_START, dir, off, data, k, ts);
        data += k;
        off += (int64_t)k;
    }
    while (off < end) {
        uint64_t o = (uint64_t)off, stop = (uint64_t)end;
        avtb_tcp_anomaly_kind kind = AVTB_TCP_ANOM_UNCHECKED;
        size_t k;

        if (o >= t->win_lo) {
            k = (size_t)(stop - o);
            if (!ring_equal(t->win, t->win_cap, o, data, k))
                anomaly(s, AVTB_TCP_ANOM_OVERLAP, dir, off, data, k, ts);
        } else {
            if (stop > t->win_lo)
                stop = t->win_lo;
            for (unsigned i = 0; i < t->ngaps; i++) {
                const gap_rec *g = &t->gaps[i];

                if (g->lo <= o && o < g->hi) {
                    kind = AVTB_TCP_ANOM_LATE;
                    if (g->hi < stop)
                        stop = g->hi;
                } else if (g->lo > o && g->lo < stop) {
                    stop = g->lo;
                }
            }
            k = (size_t)(stop - o);
            anomaly(s, kind, dir, off, data, k, ts);
        }
        data += k;
        off += (int64_t)k;
    }
}

static bool can_hold(const avtb_tcp_session *s, const tcp_dir *t, uint32_t caplen)
{
    const avtb_stream_limits *lim = &s->r->lim;
    uint64_t cost = sizeof(held_seg) + caplen;

    return t->nheld < lim->max_held_segments && t->held_bytes + cost <= lim->dir_memcap &&
           s->r->held + cost <= lim->memcap;
}

/* Inserts in order a segment that overlaps nothing held; false when out of memory. */
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
    t->held_bytes += seg_cost(h);
    s->r->held += seg_cost(h);
    return true;
}

/* A stretch at or ahead of next_seq that overlaps nothing held: deliver or hold it. */
static avtb_err place(avtb_tcp_session *s, unsigned dir, uint32_t seq, const uint8_t *data,
                      uint32_t caplen, uint32_t wire, double ts)
{
    tcp_dir *t = &s->dir[dir];
    bool limited = false;

    for (;;) {
        int32_t rel = seq_diff(seq, t->next_seq);

        if (rel <= 0) {
            /* Behind only if a give-up below skipped past it, which it never does. */
            uint32_t done = 0u - (uint32_t)rel, dskip = done < caplen ? done : caplen;

            if (done < wire)
                deliver(s, dir, data + dskip, caplen - dskip, wire - done, ts);
            drain(s, dir);
            return AVTB_OK;
        }
        if (s->truncated)
            return AVTB_OK;
        if (can_hold(s, t, caplen))
            return hold(s, dir, seq, data, caplen, wire, ts) ? AVTB_OK : AVTB_ERR_NOMEM;
        if (!limited) {
            limited = true;
            anomaly(s, AVTB_TCP_ANOM_HOLD_LIMIT, dir, (int64_t)t->off, NULL, 0, ts);
        }
        if (t->held == NULL || seq_diff(seq, t->held->seq) < 0)
            skip(s, dir, (uint32_t)rel); /* this is the oldest data we have: the hole up to it */
        else
            gap_to_first(s, dir);
    }
}

/*
 * A segment at or ahead of next_seq: the stretches that held segments
 * already cover are compared with them (first copy wins), the rest placed.
 */
static avtb_err ahead(avtb_tcp_session *s, unsigned dir, uint32_t seq, const uint8_t *data,
                      uint32_t caplen, uint32_t wire, double ts)
{
    tcp_dir *t = &s->dir[dir];
    piece stack[PIECES_ON_STACK], *pieces = stack;
    size_t npieces = 0;
    uint32_t cur = 0;
    avtb_err r = AVTB_OK;

    if (t->held == NULL || seq_diff(seq + wire, t->held->seq) <= 0)
        return place(s, dir, seq, data, caplen, wire, ts); /* the common case */
    if (t->nheld + 1 > PIECES_ON_STACK) {
        pieces = malloc((t->nheld + 1) * sizeof(*pieces));
        if (pieces == NULL)
            return AVTB_ERR_NOMEM;
    }
    for (const held_seg *h = t->held; h != NULL && cur < wire; h = h->next) {
        int64_t hlo = seq_diff(h->seq, seq), hhi = hlo + h->wire, chi;
        uint32_t b;

        if (hhi <= (int64_t)cur)
            continue;
        if (hlo >= (int64_t)wire)
            break;
        if (hlo > (int64_t)cur) {
            pieces[npieces++] = (piece){cur, (uint32_t)hlo};
            cur = (uint32_t)hlo;
        }
        b = hhi < (int64_t)wire ? (uint32_t)hhi : wire;
        /* Compare where both copies were captured: [cur, chi) relative to seq. */
        chi = b < caplen ? b : caplen;
        if (chi > hlo + h->caplen)
            chi = hlo + h->caplen;
        if (chi > (int64_t)cur) {
            size_t n = (size_t)(chi - cur);

            if (memcmp(data + cur, h->data + (cur - hlo), n) != 0)
                anomaly(s, AVTB_TCP_ANOM_OVERLAP, dir,
                        (int64_t)t->off + seq_diff(seq, t->next_seq) + cur, data + cur, n, ts);
        }
        cur = b;
    }
    if (cur < wire)
        pieces[npieces++] = (piece){cur, wire};
    for (size_t i = 0; i < npieces && r == AVTB_OK; i++) {
        uint32_t lo = pieces[i].lo, hi = pieces[i].hi;
        uint32_t clo = lo < caplen ? lo : caplen, chi = hi < caplen ? hi : caplen;

        r = place(s, dir, seq + lo, data + clo, chi - clo, hi - lo, ts);
    }
    if (pieces != stack)
        free(pieces);
    return r;
}

static avtb_err data_segment(avtb_tcp_session *s, unsigned dir, uint32_t seq, const uint8_t *data,
                             uint32_t caplen, uint32_t wire, double ts)
{
    tcp_dir *t = &s->dir[dir];
    int32_t rel = seq_diff(seq, t->next_seq);

    t->seen_data = true;
    if (!t->have_end || seq_diff(seq + wire, t->data_end) > 0) {
        t->have_end = true;
        t->data_end = seq + wire;
    }
    if (t->fin && seq_diff(seq + wire, t->fin_seq) > 0)
        anomaly(s, AVTB_TCP_ANOM_DATA_AFTER_FIN, dir, (int64_t)t->off + rel, NULL, 0, ts);
    if (rel < 0) {
        uint32_t back = 0u - (uint32_t)rel; /* rel may be INT32_MIN */
        uint32_t behind = back < wire ? back : wire;
        uint32_t cbehind = behind < caplen ? behind : caplen;

        check_behind(s, dir, (int64_t)t->off + rel, data, cbehind, ts);
        if (behind == wire)
            return AVTB_OK;
        seq += behind;
        data += cbehind;
        caplen -= cbehind;
        wire -= behind;
    }
    return ahead(s, dir, seq, data, caplen, wire, ts);
}

static void close_session(avtb_tcp_session *s)
{
    s->closed = true;
    release_held(s);
    for (unsigned i = 0; i < 2; i++)
        release_window(s, &s->dir[i]);
}

/* Flushes what the old connection left and forgets its sequence numbers; offsets go on. */
static void restart(avtb_tcp_session *s)
{
    avtb_tcp_session_flush(s);
    for (unsigned i = 0; i < 2; i++) {
        tcp_dir *t = &s->dir[i];

        t->started = t->syn_seen = t->seen_data = t->fin = t->done = t->have_end = false;
        t->ngaps = t->gap_next = 0;
        t->win_lo = t->off; /* the new connection retransmits nothing of the old one */
    }
}

/* Whether an RST's sequence number is one the sender could be at. */
static bool rst_believable(const avtb_tcp_session *s, const tcp_dir *t, uint32_t seq)
{
    uint32_t top = t->next_seq;
    int32_t past;

    if (!t->started)
        return true;
    if (t->have_end && seq_diff(t->data_end, top) > 0)
        top = t->data_end;
    if (t->fin && seq_diff(t->fin_seq + 1, top) > 0)
        top = t->fin_seq + 1;
    past = seq_diff(seq, top);
    return seq_diff(seq, t->next_seq) >= 0 && (past <= 0 || (uint32_t)past <= s->r->lim.rst_window);
}

avtb_err avtb_tcp_session_segment(avtb_tcp_session *s, unsigned dir, const avtb_decoded *d,
                                  double ts)
{
    tcp_dir *t;
    uint32_t seq = d->seq;
    avtb_err r;

    dir &= 1;
    t = &s->dir[dir];
    if (s->closed)
        return AVTB_OK;
    if (d->tcp_flags & AVTB_TCP_SYN) {
        if (t->seen_data && !(t->syn_seen && t->isn == seq)) {
            /* Same 5-tuple, new ISN, after data: a new connection over an unclosed one. */
            anomaly(s, AVTB_TCP_ANOM_NEW_ISN, dir, (int64_t)t->off, NULL, 0, ts);
            restart(s);
        }
        /* A SYN with a new ISN before any data: the first SYN was stale. */
        if (!t->started || (!t->seen_data && t->next_seq != seq + 1)) {
            t->started = true;
            t->next_seq = seq + 1;
        }
        if (!t->syn_seen || !t->seen_data) {
            t->syn_seen = true;
            t->isn = seq;
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
        if (!rst_believable(s, t, seq)) {
            anomaly(s, AVTB_TCP_ANOM_RST_IGNORED, dir, (int64_t)t->off, NULL, 0, ts);
            return AVTB_OK;
        }
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
    for (unsigned i = 0; i < 2; i++) {
        tcp_dir *t = &s->dir[i];
        uint32_t top;

        while (t->held != NULL)
            gap_to_first(s, i);
        if (!t->started)
            continue;
        /* Sent (a later byte or the FIN says so) but never captured. */
        top = t->next_seq;
        if (t->have_end && seq_diff(t->data_end, top) > 0)
            top = t->data_end;
        if (t->fin && seq_diff(t->fin_seq, top) > 0)
            top = t->fin_seq;
        skip(s, i, (uint32_t)seq_diff(top, t->next_seq));
    }
}
