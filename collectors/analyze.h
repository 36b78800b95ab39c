/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network evidence analysis: a capture file and a pattern set in, findings,
 * anomalies and statistics out. Needs no VM. The packet path reads off the
 * file names:
 *   source-pcap.c → decode.c → defrag.c → flow.c → stream-tcp.c →
 *   app-detect.c → app-http.c / app-dns.c / app-tls.c (messages) →
 *   scan.c (transform.c + match.c) → findings.
 */
#ifndef AVTB_ANALYZE_H
#define AVTB_ANALYZE_H

#include <stddef.h>
#include <stdint.h>

#include "collectors/finding.h"
#include "collectors/match.h"
#include "collectors/stream-tcp.h"
#include "collectors/transform.h"
#include "common/error.h"

/* Every limit of one analysis; avtb_analyze_opts_default() sets sane ones. */
typedef struct avtb_analyze_opts {
    avtb_stream_limits stream;       /* TCP reassembly */
    avtb_transform_limits transform; /* decoder chain */
    size_t message_cap;              /* bytes of one message (HTTP body, raw stream window) */
    uint64_t buffer_memcap;          /* message bytes buffered over all flows at once */
    size_t queue_cap;                /* message bytes queued for the scanning thread */
    unsigned threads; /* 1: scan in the calling thread; 2: a scanning thread beside it */
} avtb_analyze_opts;

void avtb_analyze_opts_default(avtb_analyze_opts *o);

/* One kind of anomaly: how often, and where first. */
typedef struct avtb_anomaly {
    char *what;
    uint64_t count;
    uint64_t first_flow; /* 0 when not tied to a flow */
    double first_time;
} avtb_anomaly;

/* A TLS connection the guest opened: what it named, how much it sent. */
typedef struct avtb_tls_flow {
    uint64_t flow;
    char *sni;  /* NULL if none */
    char *alpn; /* comma separated, NULL if none */
    char dst_ip[46];
    uint16_t dst_port;
    uint64_t encrypted_out, encrypted_in; /* application data bytes per direction */
} avtb_tls_flow;

typedef struct avtb_analysis {
    avtb_findings findings;
    avtb_anomaly *anomalies;
    size_t nanomalies;
    uint64_t anomaly_total;
    avtb_tls_flow *tls;
    size_t ntls;
    struct {
        uint64_t packets, bytes, flows, tcp_flows, udp_datagrams, fragments_reassembled;
        uint64_t messages, message_bytes, views, view_bytes;
        uint64_t http_requests, dns_messages;
        uint64_t peak_buffered; /* bytes held in message buffers at the worst moment */
        double seconds;         /* wall time of the analysis */
    } stats;
} avtb_analysis;

/* Frees everything a; leaves it empty. */
void avtb_analysis_clear(avtb_analysis *a);

/*
 * Analyses the capture at pcap_path (pcap or pcapng) against p. The token
 * of doc i's hits is named in findings with document = docs_path[i] when
 * doc_paths is non-NULL. Returns AVTB_ERR_INPUT if the file is not a capture
 * libpcap can read, AVTB_ERR_IO if it cannot be opened; a capture cut short
 * is analysed up to the cut and reported as an anomaly.
 */
avtb_err avtb_analyze_capture(const char *pcap_path, const avtb_patterns *p,
                              const char *const *token_docs, const avtb_analyze_opts *o,
                              avtb_analysis *out, avtb_error *err) AVTB_WUR;

/* Compatibility wrapper: tokens only, default options, findings appended to *out. */
typedef struct avtb_analyze_stats {
    uint64_t packets;
    uint64_t bytes;
    uint64_t flows;
    uint64_t anomalies;
} avtb_analyze_stats;

avtb_err avtb_analyze_pcap(const char *pcap_path, const char *const *tokens, size_t ntokens,
                           avtb_findings *out, avtb_analyze_stats *stats, avtb_error *err) AVTB_WUR;

#endif
