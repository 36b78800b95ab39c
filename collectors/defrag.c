/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IP fragment reassembly; see defrag.h. Each datagram in reassembly keeps a
 * buffer that grows to the highest byte seen and a sorted list of holes
 * (RFC 815): a fragment's bytes are copied only into holes, so the first
 * copy of every byte wins, and the parts that land on bytes already there
 * are compared instead. Datagrams sit in a hash on their key and in a list
 * by age, so that expiry (capture time) and the memcap (drop the oldest)
 * both take the list head.
 */
#include "collectors/defrag.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* Fragments a completed datagram's record remembers having absorbed as duplicates. */
#define DUPS_KEPT 16

typedef struct hole {
    size_t lo, hi; /* [lo, hi) not received yet */
} hole;

typedef struct dup_rec {
    size_t lo, cap, wire;
    bool more;
} dup_rec;

struct avtb_defrag_datagram {
    struct avtb_defrag_datagram *chain;         /* hash bucket */
    struct avtb_defrag_datagram *older, *newer; /* age list */
    uint8_t family, proto;
    uint8_t src[16], dst[16];
    uint32_t id;
    uint16_t vlan; /* fragments on different VLANs are different datagrams */
    uint8_t vlan_depth;
    bool done;       /* completed: kept (bytes only) to recognise late duplicates */
    bool have_first; /* IPv6: proto came from the offset-0 fragment */
    bool have_end;   /* the last fragment (MF clear) came: end is the length */
    size_t end;
    size_t wire_end; /* the end the last fragment claimed, before max_datagram cut it */
    double first_ts, ts;
    uint8_t *buf;
    size_t cap; /* bytes allocated in buf */
    hole *holes;
    size_t nholes, holes_cap;
    dup_rec *dups; /* done: fragments taken for duplicates */
    size_t ndups;
    size_t cost; /* what this datagram counts against the memcap */
};

typedef struct avtb_defrag_datagram dgram;

struct avtb_defrag {
    avtb_defrag_limits lim;
    avtb_defrag_anomaly_fn fn;
    void *ctx;
    dgram **buckets;
    size_t nbuckets; /* power of two */
    size_t count;    /* entries in the table, completed ones included */
    size_t npending; /* entries still in reassembly */
    dgram *oldest, *newest;
    uint64_t held;
    double now; /* latest capture time seen; captures are not always in order */
    avtb_defrag_stats stats;
};

void avtb_defrag_limits_default(avtb_defrag_limits *l)
{
    l->timeout = AVTB_DEFRAG_TIMEOUT_DEFAULT;
    l->max_datagram = AVTB_DEFRAG_MAX_DATAGRAM_DEFAULT;
    l->memcap = AVTB_DEFRAG_MEMCAP_DEFAULT;
    l->max_datagrams = AVTB_DEFRAG_MAX_DATAGRAMS_DEFAULT;
}

const char *avtb_defrag_anomaly_name(avtb_defrag_anomaly kind)
{
    switch (kind) {
    case AVTB_DEFRAG_ANOM_OVERLAP:
        return "ip fragments: overlapping bytes differ (first copy kept)";
    case AVTB_DEFRAG_ANOM_INCOMPLETE:
        return "ip fragments: datagram never completed (dropped)";
    case AVTB_DEFRAG_ANOM_MEMCAP:
        return "ip fragments: reassembly memcap reached, oldest datagram dropped";
    case AVTB_DEFRAG_ANOM_TOO_BIG:
        return "ip fragments: datagram longer than the limit (cut)";
    case AVTB_DEFRAG_ANOM_BAD_LENGTH:
        return "ip fragments: inconsistent datagram length";
    case AVTB_DEFRAG_ANOM_CUT:
        return "ip fragments: fragment cut by the snaplen";
    case AVTB_DEFRAG_ANOM_COUNT:
        break;
    }
    return "ip fragments: unknown anomaly";
}

avtb_defrag *avtb_defrag_new(const avtb_defrag_limits *limits, avtb_defrag_anomaly_fn fn, void *ctx)
{
    avtb_defrag *df = calloc(1, sizeof(*df));

    if (df == NULL)
        return NULL;
    if (limits != NULL)
        df->lim = *limits;
    else
        avtb_defrag_limits_default(&df->lim);
    if (df->lim.max_datagrams == 0)
        df->lim.max_datagrams = 1;
    df->fn = fn;
    df->ctx = ctx;
    /* About one datagram per bucket at the limit, within reason. */
    df->nbuckets = 16;
    while (df->nbuckets < df->lim.max_datagrams && df->nbuckets < (1u << 20))
        df->nbuckets *= 2;
    df->buckets = calloc(df->nbuckets, sizeof(*df->buckets));
    if (df->buckets == NULL) {
        free(df);
        return NULL;
    }
    return df;
}

void avtb_defrag_datagram_free(avtb_defrag_datagram *dg)
{
    if (dg == NULL)
        return;
    free(dg->buf);
    free(dg->holes);
    free(dg->dups);
    free(dg);
}

void avtb_defrag_free(avtb_defrag *df)
{
    dgram *g, *next;

    if (df == NULL)
        return;
    for (g = df->oldest; g != NULL; g = next) {
        next = g->newer;
        avtb_defrag_datagram_free(g);
    }
    free(df->buckets);
    free(df);
}

static size_t key_hash(const avtb_defrag *df, uint8_t family, uint8_t proto, const uint8_t *src,
                       const uint8_t *dst, uint32_t id, uint16_t vlan)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    size_t alen = family == 4 ? 4 : 16;

    for (size_t i = 0; i < alen; i++)
        h = (h ^ src[i]) * 1099511628211ull;
    for (size_t i = 0; i < alen; i++)
        h = (h ^ dst[i]) * 1099511628211ull;
    for (unsigned i = 0; i < 4; i++)
        h = (h ^ ((id >> (8 * i)) & 0xff)) * 1099511628211ull;
    h = (h ^ family) * 1099511628211ull;
    h = (h ^ vlan) * 1099511628211ull;
    /* IPv6 fragments of one datagram share (src, dst, id) only (RFC 8200). */
    if (family == 4)
        h = (h ^ proto) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32)) & (df->nbuckets - 1);
}

static bool key_eq(const dgram *g, const avtb_decoded *d)
{
    return g->family == d->family && g->id == d->frag_id && g->vlan == d->vlan &&
           (d->family != 4 || g->proto == d->proto) && memcmp(g->src, d->src, 16) == 0 &&
           memcmp(g->dst, d->dst, 16) == 0;
}

static void report(avtb_defrag *df, const dgram *g, avtb_defrag_anomaly kind, double ts)
{
    avtb_defrag_event ev;

    df->stats.anomalies[kind]++;
    if (df->fn == NULL)
        return;
    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    ev.family = g->family;
    ev.proto = g->proto;
    memcpy(ev.src, g->src, 16);
    memcpy(ev.dst, g->dst, 16);
    ev.id = g->id;
    ev.vlan = g->vlan;
    ev.ts = ts;
    df->fn(df->ctx, &ev);
}

/* Takes g out of the hash and the age list; its memory is no longer counted. */
static void unlink_dgram(avtb_defrag *df, dgram *g)
{
    size_t i = key_hash(df, g->family, g->proto, g->src, g->dst, g->id, g->vlan);
    dgram **pp;

    for (pp = &df->buckets[i]; *pp != NULL; pp = &(*pp)->chain) {
        if (*pp == g) {
            *pp = g->chain;
            break;
        }
    }
    if (g->older != NULL)
        g->older->newer = g->newer;
    else
        df->oldest = g->newer;
    if (g->newer != NULL)
        g->newer->older = g->older;
    else
        df->newest = g->older;
    g->chain = g->older = g->newer = NULL;
    df->held -= g->cost;
    df->count--;
    if (!g->done)
        df->npending--;
}

/* Drops g; losing a completed one's record is no anomaly. */
static void drop(avtb_defrag *df, dgram *g, avtb_defrag_anomaly kind, double ts)
{
    unlink_dgram(df, g);
    if (!g->done)
        report(df, g, kind, ts);
    avtb_defrag_datagram_free(g);
}

static void link_dgram(avtb_defrag *df, dgram *g)
{
    size_t i = key_hash(df, g->family, g->proto, g->src, g->dst, g->id, g->vlan);

    g->chain = df->buckets[i];
    df->buckets[i] = g;
    g->older = df->newest;
    if (df->newest != NULL)
        df->newest->newer = g;
    else
        df->oldest = g;
    df->newest = g;
    df->held += g->cost;
    df->count++;
    if (!g->done)
        df->npending++;
}

void avtb_defrag_expire(avtb_defrag *df, double now)
{
    if (now > df->now)
        df->now = now;
    while (df->oldest != NULL && df->now - df->oldest->first_ts > df->lim.timeout)
        drop(df, df->oldest, AVTB_DEFRAG_ANOM_INCOMPLETE, df->now);
}

void avtb_defrag_flush(avtb_defrag *df)
{
    while (df->oldest != NULL)
        drop(df, df->oldest, AVTB_DEFRAG_ANOM_INCOMPLETE, df->now);
}

/*
 * Makes room for extra more bytes in g by dropping older datagrams; false
 * when even g alone would not fit, in which case g is dropped too.
 */
static bool reserve(avtb_defrag *df, dgram *g, size_t extra, double ts)
{
    while (df->held + extra > df->lim.memcap) {
        if (df->oldest == g && g->newer == NULL) {
            drop(df, g, AVTB_DEFRAG_ANOM_MEMCAP, ts);
            return false;
        }
        drop(df, df->oldest != g ? df->oldest : g->newer, AVTB_DEFRAG_ANOM_MEMCAP, ts);
    }
    return true;
}

/* Grows g's buffer to at least need bytes; false when g had to be dropped (or no memory). */
static bool grow_buf(avtb_defrag *df, dgram *g, size_t need, double ts, bool *nomem)
{
    size_t ncap;
    uint8_t *nb;

    if (need <= g->cap)
        return true;
    /* Fragments mostly come in order: double, so a datagram reallocates a few times only. */
    ncap = g->cap * 2 > need ? g->cap * 2 : need;
    if (ncap < 256)
        ncap = 256;
    if (ncap > df->lim.max_datagram)
        ncap = df->lim.max_datagram;
    if (!reserve(df, g, ncap - g->cap, ts))
        return false;
    nb = realloc(g->buf, ncap);
    if (nb == NULL) {
        *nomem = true;
        return false;
    }
    g->buf = nb;
    df->held += ncap - g->cap;
    g->cost += ncap - g->cap;
    g->cap = ncap;
    return true;
}

/* Room for one more hole (a fragment splits at most one). */
static bool grow_holes(avtb_defrag *df, dgram *g, double ts, bool *nomem)
{
    size_t ncap = g->holes_cap ? g->holes_cap * 2 : 4;
    hole *nh;

    if (g->nholes < g->holes_cap)
        return true;
    if (!reserve(df, g, (ncap - g->holes_cap) * sizeof(hole), ts))
        return false;
    nh = realloc(g->holes, ncap * sizeof(hole));
    if (nh == NULL) {
        *nomem = true;
        return false;
    }
    g->holes = nh;
    df->held += (ncap - g->holes_cap) * sizeof(hole);
    g->cost += (ncap - g->holes_cap) * sizeof(hole);
    g->holes_cap = ncap;
    return true;
}

static dgram *find(avtb_defrag *df, const avtb_decoded *d)
{
    size_t i = key_hash(df, d->family, d->proto, d->src, d->dst, d->frag_id, d->vlan);
    dgram *g;

    for (g = df->buckets[i]; g != NULL; g = g->chain)
        if (key_eq(g, d))
            return g;
    return NULL;
}

static dgram *create(avtb_defrag *df, const avtb_decoded *d, double ts, bool *nomem)
{
    dgram *g;

    while (df->count >= df->lim.max_datagrams)
        drop(df, df->oldest, AVTB_DEFRAG_ANOM_MEMCAP, ts);
    while (df->oldest != NULL && df->held + sizeof(*g) > df->lim.memcap)
        drop(df, df->oldest, AVTB_DEFRAG_ANOM_MEMCAP, ts);
    g = calloc(1, sizeof(*g));
    if (g == NULL) {
        *nomem = true;
        return NULL;
    }
    g->family = d->family;
    g->proto = d->proto;
    memcpy(g->src, d->src, 16);
    memcpy(g->dst, d->dst, 16);
    g->id = d->frag_id;
    g->vlan = d->vlan;
    g->vlan_depth = d->vlan_depth;
    g->first_ts = ts;
    g->cost = sizeof(*g);
    link_dgram(df, g);
    return g;
}

/*
 * After g completes, a record of it (its bytes) stays for the timeout, so
 * that a late or doubled copy of one of its fragments is not taken for the
 * start of a new datagram that never completes. Only where there is room:
 * it never pushes out a datagram still in reassembly.
 */
static void keep_record(avtb_defrag *df, const dgram *g, double ts)
{
    dgram *k;

    if (df->count >= df->lim.max_datagrams || df->held + sizeof(*k) + g->end > df->lim.memcap)
        return;
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return; /* only a convenience */
    k->buf = malloc(g->end ? g->end : 1);
    if (k->buf == NULL) {
        free(k);
        return;
    }
    memcpy(k->buf, g->buf, g->end);
    k->family = g->family;
    k->proto = g->proto;
    memcpy(k->src, g->src, 16);
    memcpy(k->dst, g->dst, 16);
    k->id = g->id;
    k->vlan = g->vlan;
    k->vlan_depth = g->vlan_depth;
    k->done = k->have_end = true;
    k->end = k->cap = g->end;
    k->first_ts = ts;
    k->cost = sizeof(*k) + g->end;
    link_dgram(df, k);
}

/* Whether d repeats, byte for byte, part of the completed datagram g. */
static bool duplicate_of(const dgram *g, const avtb_decoded *d)
{
    size_t lo = d->frag_offset, hi = lo + d->ip_payload_len, wire = lo + d->ip_wire_payload_len;

    if (wire > g->end || (!d->frag_more && wire != g->end))
        return false;
    return hi == lo || memcmp(g->buf + lo, d->ip_payload, hi - lo) == 0;
}

/* The datagram's length is known: nothing at or past end is missing any more. */
static void set_end(dgram *g, size_t end)
{
    size_t j = 0;

    g->have_end = true;
    g->end = end;
    for (size_t i = 0; i < g->nholes; i++) {
        if (g->holes[i].lo >= end)
            continue;
        g->holes[j] = g->holes[i];
        if (g->holes[j].hi > end)
            g->holes[j].hi = end;
        j++;
    }
    g->nholes = j;
}

/* Highest received byte + 1 below the initial hole's end (max_datagram). */
static size_t received_extent(const dgram *g, size_t limit)
{
    /* Holes are sorted; the last one reaching limit marks where data stops. */
    if (g->nholes > 0 && g->holes[g->nholes - 1].hi == limit)
        return g->holes[g->nholes - 1].lo;
    return limit;
}

/*
 * Copies [lo, hi) of the datagram (from src, which holds byte lo first) into
 * the holes it covers; bytes that were already there are compared. Returns
 * whether any differed. The buffer holds hi bytes and holes has room for one more.
 */
static bool merge(dgram *g, size_t lo, size_t hi, const uint8_t *src)
{
    size_t i = 0, pos = lo;
    bool differ = false;

    while (pos < hi) {
        size_t hlo, hhi, b;

        while (i < g->nholes && g->holes[i].hi <= pos)
            i++;
        if (i == g->nholes || g->holes[i].lo >= hi) {
            differ |= memcmp(g->buf + pos, src + (pos - lo), hi - pos) != 0;
            break;
        }
        if (g->holes[i].lo > pos) {
            differ |= memcmp(g->buf + pos, src + (pos - lo), g->holes[i].lo - pos) != 0;
            pos = g->holes[i].lo;
        }
        hlo = g->holes[i].lo;
        hhi = g->holes[i].hi;
        b = hi < hhi ? hi : hhi;
        memcpy(g->buf + pos, src + (pos - lo), b - pos);
        if (hlo < pos && b < hhi) {
            memmove(&g->holes[i + 2], &g->holes[i + 1], (g->nholes - i - 1) * sizeof(hole));
            g->holes[i].hi = pos;
            g->holes[i + 1].lo = b;
            g->holes[i + 1].hi = hhi;
            g->nholes++;
            i++;
        } else if (hlo < pos) {
            g->holes[i].hi = pos;
            i++;
        } else if (b < hhi) {
            g->holes[i].lo = b;
        } else {
            memmove(&g->holes[i], &g->holes[i + 1], (g->nholes - i - 1) * sizeof(hole));
            g->nholes--;
        }
        pos = b;
    }
    return differ;
}

/* One fragment's part: [lo, lo + cap) captured, [lo, lo + wire) on the wire. */
typedef struct frag {
    size_t lo, cap, wire;
    bool more;
    uint8_t proto;
    const uint8_t *data;
} frag;

/*
 * Puts f into g: ends, limits, first copy wins. False when g is gone (the
 * memcap dropped it) or memory ran out (*nomem).
 */
static bool put_frag(avtb_defrag *df, dgram *g, const frag *f, double ts, bool *nomem)
{
    size_t lo = f->lo, hi_cap = f->lo + f->cap, hi_wire = f->lo + f->wire;
    size_t max = df->lim.max_datagram;
    bool bad_len = false;

    if (g->holes_cap == 0) {
        if (!grow_holes(df, g, ts, nomem))
            return false;
        g->holes[0] = (hole){0, max};
        g->nholes = 1;
    }
    g->ts = ts;
    if (f->cap < f->wire)
        report(df, g, AVTB_DEFRAG_ANOM_CUT, ts);
    if (!f->more && !g->have_end)
        g->wire_end = hi_wire;
    if (hi_wire > max) {
        report(df, g, AVTB_DEFRAG_ANOM_TOO_BIG, ts);
        hi_wire = max;
        if (hi_cap > max)
            hi_cap = max;
        if (lo > max)
            lo = max;
    }
    if (!f->more) {
        if (g->have_end) {
            bad_len = g->end != hi_wire;
        } else {
            bad_len = received_extent(g, max) > hi_wire;
            set_end(g, hi_wire);
        }
    }
    if (g->have_end && hi_cap > g->end) {
        bad_len = true;
        hi_cap = g->end;
    }
    if (bad_len)
        report(df, g, AVTB_DEFRAG_ANOM_BAD_LENGTH, ts);
    /* IPv6: the offset-0 fragment says what the fragmentable part starts with. */
    if (g->family == 6 && lo == 0 && !g->have_first) {
        g->have_first = true;
        g->proto = f->proto;
    }
    if (hi_cap > lo) {
        if (!grow_buf(df, g, hi_cap, ts, nomem) || !grow_holes(df, g, ts, nomem))
            return false;
        if (merge(g, lo, hi_cap, f->data))
            report(df, g, AVTB_DEFRAG_ANOM_OVERLAP, ts);
    }
    return true;
}

/* Remembers that f repeated part of the completed k; false when there is no room to. */
static bool note_duplicate(avtb_defrag *df, dgram *k, const frag *f)
{
    size_t sz = DUPS_KEPT * sizeof(*k->dups);

    if (k->dups == NULL) {
        if (df->held + sz > df->lim.memcap || (k->dups = malloc(sz)) == NULL)
            return false;
        k->cost += sz;
        df->held += sz;
    }
    if (k->ndups == DUPS_KEPT)
        return false;
    k->dups[k->ndups++] = (dup_rec){f->lo, f->cap, f->wire, f->more};
    return true;
}

/*
 * The completed k's id came back with other bytes: a new datagram. The
 * fragments of it taken for duplicates so far go into it after all.
 */
static dgram *revive(avtb_defrag *df, dgram *k, const avtb_decoded *d, double ts, bool *nomem)
{
    dup_rec dups[DUPS_KEPT];
    size_t ndups = k->ndups;
    uint8_t *bytes = k->buf;
    uint8_t proto = k->proto;
    dgram *g;

    if (ndups > 0)
        memcpy(dups, k->dups, ndups * sizeof(dups[0]));
    k->buf = NULL; /* kept for the replay below */
    drop(df, k, AVTB_DEFRAG_ANOM_INCOMPLETE, ts);
    g = create(df, d, ts, nomem);
    for (size_t i = 0; g != NULL && i < ndups; i++) {
        frag f = {dups[i].lo, dups[i].cap, dups[i].wire, dups[i].more, proto, bytes + dups[i].lo};

        if (!put_frag(df, g, &f, ts, nomem))
            g = NULL;
    }
    free(bytes);
    return g;
}

avtb_err avtb_defrag_add(avtb_defrag *df, const avtb_decoded *d, double ts,
                         avtb_defrag_datagram **out)
{
    bool nomem = false;
    dgram *g;
    frag f;

    *out = NULL;
    if ((d->family != 4 && d->family != 6) || d->ip_payload_len > d->ip_wire_payload_len ||
        (d->ip_payload == NULL && d->ip_payload_len > 0))
        return AVTB_ERR_INTERNAL;
    f = (frag){d->frag_offset, d->ip_payload_len, d->ip_wire_payload_len,
               d->frag_more,   d->proto,          d->ip_payload};
    avtb_defrag_expire(df, ts);
    df->stats.fragments++;
    g = find(df, d);
    if (g != NULL && g->done) {
        if (duplicate_of(g, d) && note_duplicate(df, g, &f)) {
            df->stats.duplicates++;
            return AVTB_OK;
        }
        g = revive(df, g, d, ts, &nomem);
    } else if (g == NULL) {
        g = create(df, d, ts, &nomem);
    }
    if (g == NULL || !put_frag(df, g, &f, ts, &nomem))
        return nomem ? AVTB_ERR_NOMEM : AVTB_OK;
    if (g->have_end && g->nholes == 0) {
        unlink_dgram(df, g);
        df->stats.reassembled++;
        keep_record(df, g, ts);
        *out = g; /* transferred */
    }
    return AVTB_OK;
}

uint64_t avtb_defrag_held(const avtb_defrag *df)
{
    return df->held;
}

size_t avtb_defrag_pending(const avtb_defrag *df)
{
    return df->npending;
}

void avtb_defrag_stats_get(const avtb_defrag *df, avtb_defrag_stats *out)
{
    *out = df->stats;
}

avtb_decode_result avtb_defrag_decode_ex(const avtb_decode_limits *lim,
                                         const avtb_defrag_datagram *dg, avtb_decoded *out)
{
    avtb_decode_result r;

    /* A datagram cut at max_datagram decodes like a packet cut by the snaplen. */
    r = avtb_decode_ip_payload(lim, dg->family, dg->proto, dg->src, dg->dst, dg->buf, dg->end,
                               dg->wire_end, out);
    out->vlan = dg->vlan; /* so that it joins the flow of its unfragmented packets */
    out->vlan_depth = dg->vlan_depth;
    return r;
}

avtb_decode_result avtb_defrag_decode(const avtb_defrag_datagram *dg, avtb_decoded *out)
{
    return avtb_defrag_decode_ex(NULL, dg, out);
}

const uint8_t *avtb_defrag_datagram_bytes(const avtb_defrag_datagram *dg, size_t *len)
{
    *len = dg->end;
    return dg->buf;
}

double avtb_defrag_datagram_ts(const avtb_defrag_datagram *dg)
{
    return dg->ts;
}
