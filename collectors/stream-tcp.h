/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Third stage: TCP reassembly. Each direction of a flow (flow.c) becomes one
 * byte stream in sequence order: out-of-order segments are held (bounded),
 * retransmitted bytes are delivered once, and what was never captured is
 * reported as a gap. The output goes to app-detect.c and match.c through
 * the callbacks in avtb_tcp_sink.
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
} avtb_stream_limits;

#define AVTB_STREAM_FLOW_CAP_DEFAULT  (64ull << 20)
#define AVTB_STREAM_MEMCAP_DEFAULT    (256ull << 20)
#define AVTB_STREAM_MAX_HELD_DEFAULT  4096
#define AVTB_STREAM_MAX_FLOWS_DEFAULT (1u << 20)

void avtb_stream_limits_default(avtb_stream_limits *l);

/* Direction 0 carries client → server bytes, direction 1 the replies. */
typedef struct avtb_tcp_sink {
    /* len bytes in order; ts is the capture time of the segment they came in. */
    void (*data)(void *ctx, unsigned dir, const uint8_t *buf, size_t len, double ts);
    /* len bytes were sent but not captured (lost, cut by the snaplen, or given up on). */
    void (*gap)(void *ctx, unsigned dir, uint64_t len);
    /* The flow reached flow_cap: the rest of it is not inspected. Called once. */
    void (*truncated)(void *ctx);
} avtb_tcp_sink;

/* Shared by all sessions of one analysis: the limits and the memcap account. */
typedef struct avtb_tcp_reasm avtb_tcp_reasm;
/* The two directions of one TCP flow. */
typedef struct avtb_tcp_session avtb_tcp_session;

avtb_tcp_reasm *avtb_tcp_reasm_new(const avtb_stream_limits *limits);
/* All sessions must be freed first. */
void avtb_tcp_reasm_free(avtb_tcp_reasm *r);
/* Bytes held out of order right now, over all sessions. */
uint64_t avtb_tcp_reasm_held(const avtb_tcp_reasm *r);

avtb_tcp_session *avtb_tcp_session_new(avtb_tcp_reasm *r, const avtb_tcp_sink *sink, void *ctx);
/* Frees held segments without delivering them. */
void avtb_tcp_session_free(avtb_tcp_session *s);

/*
 * Feeds one decoded segment travelling in direction dir. Callbacks run
 * before it returns. Fails only when out of memory.
 */
avtb_err avtb_tcp_session_segment(avtb_tcp_session *s, unsigned dir, const avtb_decoded *d,
                                  double ts) AVTB_WUR;
/* Both directions finished (FIN reached) or a RST was seen; nothing is held. */
bool avtb_tcp_session_closed(const avtb_tcp_session *s);
/* End of capture: delivers whatever is held, across gaps. */
void avtb_tcp_session_flush(avtb_tcp_session *s);

#endif
