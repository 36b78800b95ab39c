/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The flow table (flow.h): a chained hash on the canonical 5-tuple (and
 * VLAN) that doubles as it fills, plus a creation-order list so that
 * everything done "for each flow" (the end-of-capture flush) is
 * deterministic, and so that eviction finds the oldest flows first.
 */
#include "collectors/flow.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define EVICT_SCAN_DEFAULT 64

typedef struct flow_node {
    avtb_flow flow;
    struct flow_node *chain;       /* hash bucket */
    struct flow_node *next, *prev; /* creation order */
} flow_node;

struct avtb_flow_table {
    flow_node **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    size_t max;
    uint64_t numbered;
    flow_node *first, *last;
    void (*free_user)(void *);
    bool (*evictable)(const void *user);
    size_t evict_scan;
    uint64_t evicted;
};

static uint64_t key_hash(const avtb_flow_key *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (size_t i = 0; i < sizeof(*k); i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Fills a canonical key; returns the key index of d's sender. */
static unsigned key_make(const avtb_decoded *d, avtb_flow_key *k)
{
    size_t alen = d->family == 4 ? 4 : 16;
    int c = memcmp(d->src, d->dst, alen);
    unsigned from = (c > 0 || (c == 0 && d->sport > d->dport)) ? 1 : 0;

    memset(k, 0, sizeof(*k)); /* padding takes part in hash and compare */
    k->family = d->family;
    k->proto = d->proto;
    memcpy(k->addr[from], d->src, alen);
    memcpy(k->addr[!from], d->dst, alen);
    k->port[from] = d->sport;
    k->port[!from] = d->dport;
    k->vlan = d->vlan;
    return from;
}

static unsigned orient(const avtb_flow_key *k, const avtb_decoded *d, unsigned from)
{
    bool low0 = k->port[0] < 1024, low1 = k->port[1] < 1024;

    if (d->proto == IPPROTO_TCP && (d->tcp_flags & AVTB_TCP_SYN))
        return (d->tcp_flags & AVTB_TCP_ACK) ? !from : from;
    if (low0 != low1)
        return low0 ? 1 : 0;
    return from;
}

avtb_flow_table *avtb_flow_table_new(size_t max_flows, void (*free_user)(void *))
{
    avtb_flow_table *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->nbuckets = 1024;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    if (t->buckets == NULL) {
        free(t);
        return NULL;
    }
    t->max = max_flows;
    t->free_user = free_user;
    return t;
}

void avtb_flow_table_free(avtb_flow_table *t)
{
    flow_node *n, *next;

    if (t == NULL)
        return;
    for (n = t->first; n != NULL; n = next) {
        next = n->next;
        if (t->free_user != NULL && n->flow.user != NULL)
            t->free_user(n->flow.user);
        free(n);
    }
    free(t->buckets);
    free(t);
}

/* Doubling is best effort: a failed resize only makes chains longer. */
static void grow(avtb_flow_table *t)
{
    size_t nb = t->nbuckets * 2;
    flow_node **b = calloc(nb, sizeof(*b));

    if (b == NULL)
        return;
    for (flow_node *n = t->first; n != NULL; n = n->next) {
        size_t i = key_hash(&n->flow.key) & (nb - 1);

        n->chain = b[i];
        b[i] = n;
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

void avtb_flow_table_set_evictable(avtb_flow_table *t, bool (*evictable)(const void *user),
                                   size_t scan)
{
    t->evictable = evictable;
    t->evict_scan = scan ? scan : EVICT_SCAN_DEFAULT;
}

uint64_t avtb_flow_table_evicted(const avtb_flow_table *t)
{
    return t->evicted;
}

size_t avtb_flow_table_size(const avtb_flow_table *t)
{
    return t->count;
}

/* Frees the oldest evictable flow among the first evict_scan; false when there is none. */
static bool evict_one(avtb_flow_table *t)
{
    flow_node *n = t->first, **pp;
    size_t seen = 0;

    while (n != NULL && seen < t->evict_scan && !t->evictable(n->flow.user)) {
        n = n->next;
        seen++;
    }
    if (n == NULL || seen == t->evict_scan)
        return false;
    for (pp = &t->buckets[key_hash(&n->flow.key) & (t->nbuckets - 1)]; *pp != n; pp = &(*pp)->chain)
        ;
    *pp = n->chain;
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        t->first = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    else
        t->last = n->prev;
    if (t->free_user != NULL && n->flow.user != NULL)
        t->free_user(n->flow.user);
    free(n);
    t->count--;
    t->evicted++;
    return true;
}

avtb_err avtb_flow_get(avtb_flow_table *t, const avtb_decoded *d, avtb_flow **flow, unsigned *from,
                       bool *created)
{
    avtb_flow_key k;
    flow_node *n;
    size_t i;

    *flow = NULL;
    *created = false;
    *from = key_make(d, &k);
    i = key_hash(&k) & (t->nbuckets - 1);
    for (n = t->buckets[i]; n != NULL; n = n->chain) {
        if (memcmp(&n->flow.key, &k, sizeof(k)) == 0) {
            *flow = &n->flow;
            return AVTB_OK;
        }
    }
    if (t->count >= t->max && (t->evictable == NULL || !evict_one(t)))
        return AVTB_OK;
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return AVTB_ERR_NOMEM;
    n->flow.key = k;
    n->flow.id = ++t->numbered;
    n->flow.client = orient(&k, d, *from);
    n->chain = t->buckets[i];
    t->buckets[i] = n;
    n->prev = t->last;
    if (t->last != NULL)
        t->last->next = n;
    else
        t->first = n;
    t->last = n;
    if (++t->count > t->nbuckets)
        grow(t);
    *flow = &n->flow;
    *created = true;
    return AVTB_OK;
}

void avtb_flow_restart(avtb_flow_table *t, avtb_flow *flow, const avtb_decoded *d, unsigned from)
{
    if (t->free_user != NULL && flow->user != NULL)
        t->free_user(flow->user);
    flow->user = NULL;
    flow->id = ++t->numbered;
    flow->client = orient(&flow->key, d, from);
}

void avtb_flow_table_foreach(avtb_flow_table *t, void (*cb)(void *ctx, avtb_flow *flow), void *ctx)
{
    for (flow_node *n = t->first; n != NULL; n = n->next)
        cb(ctx, &n->flow);
}

uint64_t avtb_flow_table_count(const avtb_flow_table *t)
{
    return t->numbered;
}

void avtb_flow_addr_str(const avtb_flow_key *key, unsigned i, char buf[46])
{
    if (inet_ntop(key->family == 4 ? AF_INET : AF_INET6, key->addr[i], buf, 46) == NULL)
        buf[0] = '\0';
}
