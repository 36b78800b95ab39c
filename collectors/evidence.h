/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A run's evidence directory analysed as a whole, after the run or later
 * (`avtb analyze EVIDENCE_DIR`): the wire capture and the sink's decrypted
 * TLS transcripts (analyze.c), then the sink's connection logs judged
 * against when the first honey document could have been read and how large
 * the documents are, for what no token search can settle: suspected
 * findings.
 *
 *   capture.pcapng        findings, anomalies, TLS flows, attempts
 *   tls-plaintext.pcapng  findings with "tls" outermost (transcript.h)
 *   sink-tls.jsonl        one line per TLS connection: clients that rejected
 *                         the interception certificate (pinning)
 *   sink-tcp.jsonl        one line per TCP connection: raw uploads
 *   agent.jsonl           when the first scan was triggered
 *   tokens.json           the documents and their sizes
 */
#ifndef AVTB_EVIDENCE_H
#define AVTB_EVIDENCE_H

#include "collectors/analyze.h"

#define AVTB_EVIDENCE_SINK_TLS "sink-tls.jsonl"
#define AVTB_EVIDENCE_SINK_TCP "sink-tcp.jsonl"
/* Longest line of a sink or agent log read; a longer one is an anomaly. */
#define AVTB_EVIDENCE_LINE_MAX (1u << 20)

/*
 * Analyses the evidence directory dir into *out (set empty on entry):
 *
 * - the wire capture (capture.pcapng, else capture.pcap; AVTB_ERR_INPUT
 *   when there is neither) and, when present, tls-plaintext.pcapng, whose
 *   findings are merged: every finding names its capture, and flow numbers
 *   count within it. Both files are kept as evidence of their own: the wire
 *   capture holds the encrypted bytes and the ClientHello, the transcript
 *   the decrypted application data, so no byte is in both and nothing is
 *   deduplicated across them (a token in an SNI and in the Host header of
 *   the same connection is two findings, of two things the guest sent).
 *   The transcript's anomalies are counted with a "tls plaintext: " prefix.
 * - a suspected finding (AVTB_FINDING_SUSPECTED) for each TLS connection in
 *   sink-tls.jsonl that the client aborted after the sink's certificate
 *   (a fatal certificate alert, or a hang-up after the ServerHello flight),
 *   and for each upload the analysis could not read (a TLS flow of the
 *   capture the sink did not decrypt, a raw TCP connection of
 *   sink-tcp.jsonl) at least as large as a honey document and with no
 *   finding in it; each only when it was still going on at or after the
 *   first scan trigger in agent.jsonl (any time, without one).
 * - out->problems: evidence files that exist but cannot be read, or that
 *   contradict each other (decrypted connections but no transcript). A run
 *   with problems is incomplete.
 *
 * Findings are sorted (avtb_findings_sort). AVTB_ERR_NOMEM, or the wire
 * capture's error, fail the whole analysis (*out is then empty).
 */
avtb_err avtb_evidence_analyze(const char *dir, const avtb_patterns *p,
                               const char *const *token_docs, const avtb_analyze_opts *o,
                               avtb_analysis *out, avtb_error *err) AVTB_WUR;

#endif
