/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Between decode.c and flow.c: IPv4 and IPv6 fragments (AVTB_DECODE_FRAGMENT)
 * put back together into whole datagrams (keyed by addresses, id, IPv4
 * protocol and VLAN), which avtb_defrag_decode() turns into an ordinary
 * avtb_decoded (ports, seq, payload) for the rest of the pipeline. Overlaps
 * keep the first copy (and report a difference); time is capture time;
 * memory is bounded per datagram and in total.
 *
 * Anomalies are counted (avtb_defrag_stats) and, when a callback is given,
 * also reported one by one with the datagram they concern, so the analysis
 * can put them in the evidence.
 */
#ifndef AVTB_DEFRAG_H
#define AVTB_DEFRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/decode.h"
#include "common/error.h"

typedef struct avtb_defrag_limits {
    double timeout;       /* capture seconds a datagram may wait for its fragments */
    size_t max_datagram;  /* IP payload bytes of one reassembled datagram */
    uint64_t memcap;      /* bytes held over all datagrams in reassembly */
    size_t max_datagrams; /* datagrams in reassembly at once */
} avtb_defrag_limits;

#define AVTB_DEFRAG_TIMEOUT_DEFAULT       30.0
#define AVTB_DEFRAG_MAX_DATAGRAM_DEFAULT  65535
#define AVTB_DEFRAG_MEMCAP_DEFAULT        (64ull << 20)
#define AVTB_DEFRAG_MAX_DATAGRAMS_DEFAULT 16384

void avtb_defrag_limits_default(avtb_defrag_limits *l);

typedef enum {
    AVTB_DEFRAG_ANOM_OVERLAP, /* fragments overlap with different bytes; the first copy is kept */
    AVTB_DEFRAG_ANOM_INCOMPLETE, /* timed out, or the capture ended, with bytes missing: dropped */
    AVTB_DEFRAG_ANOM_MEMCAP,     /* dropped (oldest first) to stay within memcap/max_datagrams */
    AVTB_DEFRAG_ANOM_TOO_BIG,    /* bytes past max_datagram discarded */
    AVTB_DEFRAG_ANOM_BAD_LENGTH, /* data past the last fragment's end, or two different ends */
    AVTB_DEFRAG_ANOM_CUT,        /* a fragment cut by the snaplen: its missing bytes leave a hole */
    AVTB_DEFRAG_ANOM_COUNT
} avtb_defrag_anomaly;

/* Which datagram an anomaly is about. */
typedef struct avtb_defrag_event {
    avtb_defrag_anomaly kind;
    uint8_t family, proto;
    uint8_t src[16], dst[16];
    uint32_t id;
    uint16_t vlan;
    double ts; /* capture time of the packet (or expiry) that caused it */
} avtb_defrag_event;

typedef void (*avtb_defrag_anomaly_fn)(void *ctx, const avtb_defrag_event *ev);

/* A short fixed text for kind ("ip fragments: ..."), for anomaly records keyed by text. */
const char *avtb_defrag_anomaly_name(avtb_defrag_anomaly kind);

typedef struct avtb_defrag_stats {
    uint64_t fragments;   /* fragments taken */
    uint64_t reassembled; /* datagrams completed */
    uint64_t duplicates;  /* fragments repeating a datagram completed within the timeout */
    uint64_t anomalies[AVTB_DEFRAG_ANOM_COUNT];
} avtb_defrag_stats;

typedef struct avtb_defrag avtb_defrag;
/* A complete datagram, owned by whoever avtb_defrag_add() gave it to. */
typedef struct avtb_defrag_datagram avtb_defrag_datagram;

/* limits NULL: the defaults. fn may be NULL (counters only). NULL when out of memory. */
avtb_defrag *avtb_defrag_new(const avtb_defrag_limits *limits, avtb_defrag_anomaly_fn fn,
                             void *ctx);
/* Frees everything in reassembly, without reporting it. NULL is a no-op. */
void avtb_defrag_free(avtb_defrag *df);

/*
 * Takes one fragment (a FRAGMENT result of avtb_decode; its bytes are
 * copied) seen at capture time ts. Datagrams older than the timeout are
 * expired first. When this fragment completes its datagram, *out gets it
 * (caller frees with avtb_defrag_datagram_free); otherwise *out is NULL.
 * Fails only when out of memory (AVTB_ERR_NOMEM) or when d is not a fragment
 * (AVTB_ERR_INTERNAL).
 */
avtb_err avtb_defrag_add(avtb_defrag *df, const avtb_decoded *d, double ts,
                         avtb_defrag_datagram **out) AVTB_WUR;
/* Drops, as INCOMPLETE, datagrams whose first fragment is older than the timeout at now. */
void avtb_defrag_expire(avtb_defrag *df, double now);
/* End of capture: drops everything still in reassembly as INCOMPLETE. */
void avtb_defrag_flush(avtb_defrag *df);
/*
 * Bytes held right now (buffers and bookkeeping), over all datagrams. That
 * includes a copy of each datagram completed within the timeout, kept so a
 * late or doubled copy of one of its fragments is recognised (stats
 * duplicates) instead of starting a datagram that never completes. Such a
 * copy is only made where there is room; it goes, silently, when the room
 * is needed.
 */
uint64_t avtb_defrag_held(const avtb_defrag *df);
/* Datagrams in reassembly right now (completed ones not counted). */
size_t avtb_defrag_pending(const avtb_defrag *df);
void avtb_defrag_stats_get(const avtb_defrag *df, avtb_defrag_stats *out);

/*
 * Decodes a complete datagram as if it had come in one packet: family,
 * addresses, proto, ports, TCP seq/ack/flags, payload (pointing into dg,
 * valid until it is freed). IPv6 extension headers of the fragmentable part
 * are walked. One cut at max_datagram has payload_len < wire_payload_len,
 * like a packet cut by the snaplen. Returns OK, IGNORED or MALFORMED like
 * avtb_decode().
 */
avtb_decode_result avtb_defrag_decode(const avtb_defrag_datagram *dg, avtb_decoded *out);
/* avtb_defrag_decode() with explicit decode limits (NULL: the defaults). */
avtb_decode_result avtb_defrag_decode_ex(const avtb_decode_limits *lim,
                                         const avtb_defrag_datagram *dg, avtb_decoded *out);
/* The reassembled IP payload (L4 header first) and its length. */
const uint8_t *avtb_defrag_datagram_bytes(const avtb_defrag_datagram *dg, size_t *len);
/* Capture time of the fragment that completed it. */
double avtb_defrag_datagram_ts(const avtb_defrag_datagram *dg);
void avtb_defrag_datagram_free(avtb_defrag_datagram *dg);

#endif
