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
    unsigned threads;    /* 1: scan in the calling thread; 2: a scanning thread beside it */
    size_t attempts_cap; /* destinations kept in the attempts table (0: no table) */
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
    char *sni;       /* NULL if none */
    char *alpn;      /* comma separated, NULL if none */
    char src_ip[46]; /* the client */
    uint16_t src_port;
    char dst_ip[46];
    uint16_t dst_port;
    uint64_t encrypted_out, encrypted_in; /* application data bytes per direction */
    double first_time, last_time;         /* of the flow's packets */
    bool decrypted; /* evidence.c: the sink intercepted it; its plaintext is in the transcript */
} avtb_tls_flow;

/* What an attempt was made with. */
typedef enum {
    AVTB_ATTEMPT_TCP,
    AVTB_ATTEMPT_UDP,
    AVTB_ATTEMPT_ICMP,
    AVTB_ATTEMPT_ICMPV6,
    AVTB_ATTEMPT_OTHER, /* any other IP protocol: see ip_proto */
} avtb_attempt_proto;

/*
 * One destination the guest tried to reach, from the wire capture: every
 * packet sent by the side that opened a TCP or UDP flow (the client), and
 * every ICMP/ICMPv6 or other IP packet except ICMP answers (echo replies,
 * errors) and router messages, counted by protocol, destination address and
 * port (ICMP: type). Packets from the sink's own address are the host's and
 * never count.
 */
typedef struct avtb_attempt {
    avtb_attempt_proto proto;
    uint8_t ip_proto; /* the IP protocol number (6, 17, 1, 58, ...) */
    char dst_ip[46];
    uint16_t port; /* TCP/UDP destination port, ICMP/ICMPv6 type; 0 for other protocols */
    uint64_t packets;
    uint64_t bytes; /* payload: after the TCP/UDP header; the whole ICMP message; the IP payload */
    double first_time, last_time;
    bool to_sink; /* the destination is the sink's own address (avtb-sink-address) */
} avtb_attempt;

const char *avtb_attempt_proto_name(avtb_attempt_proto p);

/* Counters of one capture file's analysis. */
typedef struct avtb_analysis_stats {
    uint64_t packets, bytes, flows, tcp_flows, udp_datagrams, fragments_reassembled;
    uint64_t messages, message_bytes, views, view_bytes;
    uint64_t http_requests, dns_messages;
    uint64_t peak_buffered; /* bytes held in message buffers at the worst moment */
    double seconds;         /* wall time of the analysis */
} avtb_analysis_stats;

typedef struct avtb_analysis {
    avtb_findings findings; /* content, metadata and suspected (evidence.c) findings */
    avtb_anomaly *anomalies;
    size_t nanomalies;
    uint64_t anomaly_total;
    avtb_tls_flow *tls;
    size_t ntls;
    avtb_attempt *attempts; /* sorted by first_time */
    size_t nattempts;
    uint64_t attempts_dropped; /* packets to destinations that found the table full */
    size_t attempts_cap;       /* the table's limit when it was made */
    /* From the capture's pcapng section header (avtb-sink-address, avtb-guest-address), or NULL. */
    char *sink_ip, *guest_ip;
    avtb_analysis_stats stats;
    /* evidence.c: the decrypted TLS transcripts' analysis, when there were any. */
    bool plaintext;
    avtb_analysis_stats plaintext_stats;
    uint64_t tls_intercepted, tls_rejected; /* sink-tls.jsonl: handshakes completed, refused */
    /* evidence.c: evidence files that exist but could not be read, each a sentence. A run
     * whose evidence is unreadable is incomplete. */
    char **problems;
    size_t nproblems;
} avtb_analysis;

/* Frees everything a; leaves it empty. */
void avtb_analysis_clear(avtb_analysis *a);

/* Counts count anomalies of kind what (copied) in a, as the analysis does its own. */
avtb_err avtb_analysis_add_anomaly(avtb_analysis *a, const char *what, uint64_t count,
                                   uint64_t flow, double ts) AVTB_WUR;

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

/* What a capture file holds. */
typedef enum {
    AVTB_CAPTURE_WIRE, /* what crossed the guest's network: findings, attempts, TLS flows */
    /* Decrypted TLS transcripts (transcript.h): each finding gets "tls" as its outermost
     * encoding and, without an HTTP Host, the flow's SNI (its SYN's "sni=" comment) as the
     * host; no attempts table. */
    AVTB_CAPTURE_TLS_PLAINTEXT,
} avtb_capture_kind;

/*
 * avtb_analyze_capture for either kind of file. Every finding's capture is
 * the file's base name. A pcapng file's section header comment fills
 * sink_ip and guest_ip when it names them.
 */
avtb_err avtb_analyze_file(const char *path, avtb_capture_kind kind, const avtb_patterns *p,
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
