/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network evidence analysis entry point: capture file in, findings out.
 * The pipeline reads off the file names: source-pcap.c → decode.c →
 * stream-tcp.c → app-detect.c → match.c. Needs no VM.
 */
#ifndef AVTB_ANALYZE_H
#define AVTB_ANALYZE_H

#include <stddef.h>
#include <stdint.h>

#include "collectors/finding.h"
#include "common/error.h"

typedef struct avtb_analyze_stats {
    uint64_t packets;
    uint64_t bytes;
    uint64_t flows;
    uint64_t anomalies; /* malformed packets, gaps, truncations */
} avtb_analyze_stats;

/*
 * Searches every TCP stream (per direction, in sequence order) and every UDP
 * datagram in the capture at pcap_path for each of the ntokens tokens.
 * Appends one finding per token per stream direction/datagram to *out.
 * Returns AVTB_ERR_INPUT if the file is not a capture libpcap can read.
 */
avtb_err avtb_analyze_pcap(const char *pcap_path, const char *const *tokens, size_t ntokens,
                           avtb_findings *out, avtb_analyze_stats *stats,
                           avtb_error *err) AVTB_WUR;

#endif
