/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Third stage: TCP reassembly. Each direction of a flow (flow.c) becomes one
 * byte stream in sequence order: out-of-order segments are held (bounded),
 * retransmitted bytes are delivered once, overlaps keep the first copy, and
 * what was never captured is reported as a gap. The output goes to
 * app-detect.c and match.c through the callbacks in avtb_tcp_sink; oddities
 * go to an optional anomaly callback, carrying the bytes that did not make
 * it into the stream (a conflicting second copy, data for a stretch already
 * given up as a gap) so the analysis can still look at them.
 */
#ifndef AVTB_STREAM_TCP_H
#define AVTB_STREAM_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/decode.h"
#include "common/error.h"

/* Analysis limits; configuration will set them, the defaults are below. */
typedef struct avtb_stream_limits {
    uint64_t flow_cap;        /* bytes inspected per flow, both directions together */
    uint64_t memcap;          /* out-of-order bytes held over all flows */
    size_t max_held_segments; /* out-of-order segments held per direction */
    size_t max_flows;         /* flows tracked at once (flow.c) */
    /* Added after the first four; avtb_stream_limits_default() sets every field. */
    uint64_t dir_memcap;    /* out-of-order bytes held per direction */
    size_t window;          /* delivered bytes kept per direction to check retransmissions */
    uint64_t window_memcap; /* bytes of those windows over all flows */
    uint32_t rst_window;    /* an RST is believed this far past the highest sequence seen */
} avtb_stream_limits;

#define AVTB_STREAM_FLOW_CAP_DEFAULT      (64ull << 20)
#define AVTB_STREAM_MEMCAP_DEFAULT        (256ull << 20)
#define AVTB_STREAM_MAX_HELD_DEFAULT      4096
#define AVTB_STREAM_MAX_FLOWS_DEFAULT     (1u << 20)
#define AVTB_STREAM_DIR_MEMCAP_DEFAULT    (16ull << 20)
#define AVTB_STREAM_WINDOW_DEFAULT        (64u << 10)
#define AVTB_STREAM_WINDOW_MEMCAP_DEFAULT (64ull << 20)
#define AVTB_STREAM_RST_WINDOW_DEFAULT    (16u << 20)

void avtb_stream_limits_default(avtb_stream_limits *l);

/*
 * Direction 0 carries client → server bytes, direction 1 the replies. Any
 * callback may be NULL. (The anomaly callback is set with
 * avtb_tcp_session_set_anomaly(): a fourth member here would make every
 * positional initialiser of this struct warn under -Wextra.)
 */
typedef struct avtb_tcp_sink {
    /* len bytes in order; ts is the capture time of the segment they came in. */
    void (*data)(void *ctx, unsigned dir, const uint8_t *buf, size_t len, double ts);
    /* len bytes were sent but not captured (lost, cut by the snaplen, or given up on). */
    void (*gap)(void *ctx, unsigned dir, uint64_t len);
    /* The flow reached flow_cap: the rest of it is not inspected. Called once. */
    void (*truncated)(void *ctx);
} avtb_tcp_sink;

typedef enum {
    AVTB_TCP_ANOM_OVERLAP,        /* a second copy differs from the first (kept); buf: the second */
    AVTB_TCP_ANOM_LATE,           /* bytes for a stretch already reported as a gap; buf: them */
    AVTB_TCP_ANOM_UNCHECKED,      /* retransmitted bytes older than the window; buf: them */
    AVTB_TCP_ANOM_BEFORE_START,   /* bytes before where a mid-connection stream began; buf: them */
    AVTB_TCP_ANOM_HOLD_LIMIT,     /* an out-of-order limit was hit: a hole is given up (a gap) */
    AVTB_TCP_ANOM_RST_IGNORED,    /* an RST far from the stream's sequence numbers: not believed */
    AVTB_TCP_ANOM_DATA_AFTER_FIN, /* bytes past the FIN (delivered anyway) */
    AVTB_TCP_ANOM_NEW_ISN,        /* a SYN with another ISN after data: both streams restart */
    AVTB_TCP_ANOM_COUNT
} avtb_tcp_anomaly_kind;

typedef struct avtb_tcp_anomaly {
    avtb_tcp_anomaly_kind kind;
    unsigned dir;
    int64_t offset;     /* stream offset of buf[0] or of the event; < 0 only for BEFORE_START */
    const uint8_t *buf; /* the bytes concerned, or NULL; borrowed for the call */
    size_t len;
    double ts;
} avtb_tcp_anomaly;

typedef void (*avtb_tcp_anomaly_fn)(void *ctx, const avtb_tcp_anomaly *a);

/* A short fixed text for kind ("tcp: ..."), for anomaly records keyed by text. */
const char *avtb_tcp_anomaly_name(avtb_tcp_anomaly_kind kind);

/* Counters over all sessions of one reassembler. */
typedef struct avtb_tcp_stats {
    uint64_t anomalies[AVTB_TCP_ANOM_COUNT];
    uint64_t gaps, gap_bytes;
} avtb_tcp_stats;

/* Shared by all sessions of one analysis: the limits and the memcap account. */
typedef struct avtb_tcp_reasm avtb_tcp_reasm;
/* The two directions of one TCP flow. */
typedef struct avtb_tcp_session avtb_tcp_session;

avtb_tcp_reasm *avtb_tcp_reasm_new(const avtb_stream_limits *limits);
/* All sessions must be freed first. */
void avtb_tcp_reasm_free(avtb_tcp_reasm *r);
/* Bytes held out of order right now, over all sessions. */
uint64_t avtb_tcp_reasm_held(const avtb_tcp_reasm *r);
/* Bytes of retransmission windows right now, over all sessions. */
uint64_t avtb_tcp_reasm_window_bytes(const avtb_tcp_reasm *r);
void avtb_tcp_reasm_stats_get(const avtb_tcp_reasm *r, avtb_tcp_stats *out);

/* sink is borrowed and must outlive the session; ctx is passed to every callback. */
avtb_tcp_session *avtb_tcp_session_new(avtb_tcp_reasm *r, const avtb_tcp_sink *sink, void *ctx);
/* Where anomalies of this session go (with the session's ctx); NULL: counted only. */
void avtb_tcp_session_set_anomaly(avtb_tcp_session *s, avtb_tcp_anomaly_fn fn);
/* Frees held segments without delivering them. NULL is a no-op. */
void avtb_tcp_session_free(avtb_tcp_session *s);

/*
 * Feeds one decoded segment travelling in direction dir. Callbacks run
 * before it returns and must not call back into this session. Fails only
 * when out of memory.
 */
avtb_err avtb_tcp_session_segment(avtb_tcp_session *s, unsigned dir, const avtb_decoded *d,
                                  double ts) AVTB_WUR;
/* Both directions finished (FIN reached) or a RST was seen; nothing is held. */
bool avtb_tcp_session_closed(const avtb_tcp_session *s);
/*
 * End of capture: delivers whatever is held, across gaps, and reports as a
 * gap what was sent (a higher sequence number or a FIN was seen) but never
 * captured.
 */
void avtb_tcp_session_flush(avtb_tcp_session *s);

#endif
