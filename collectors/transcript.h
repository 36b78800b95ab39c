/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decrypted TLS as evidence: the sink hands each intercepted connection's
 * plaintext here, and it is written as a synthetic TCP flow (raw IP, valid
 * IPv4/IPv6 and TCP headers and checksums) between the guest and the
 * destination it meant to reach, into tls-plaintext.pcapng. Wireshark shows
 * clean HTTP; the analysis (evidence.c) reads the file like a capture and
 * marks what it finds there with "tls" as the outermost encoding.
 *
 * Threads: none of this is thread-safe; the sink calls it from its one
 * libevent loop.
 */
#ifndef AVTB_TRANSCRIPT_H
#define AVTB_TRANSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "collectors/pcapng.h"
#include "common/error.h"

/* The file name of the transcripts in an evidence directory. */
#define AVTB_TRANSCRIPT_FILE "tls-plaintext.pcapng"
/* Payload bytes per synthetic TCP segment. */
#define AVTB_TRANSCRIPT_SEGMENT 16384u
/* Bytes of a flow comment kept (the rest is cut). */
#define AVTB_TRANSCRIPT_COMMENT_MAX 1024u

typedef struct avtb_transcript avtb_transcript;           /* one pcapng file */
typedef struct avtb_transcript_flow avtb_transcript_flow; /* one intercepted connection */

/*
 * Creates (truncates) path: a pcapng section (meta as in avtb_pcapng_open,
 * e.g. the run id) with one raw-IP interface. *out is set to NULL on entry;
 * on success the caller owns it and ends it with avtb_transcript_close.
 */
avtb_err avtb_transcript_open(const char *path, const avtb_pcapng_meta *meta, size_t nmeta,
                              avtb_transcript **out, avtb_error *err) AVTB_WUR;

/*
 * Starts one flow and writes its synthetic SYN, SYN-ACK and ACK. client is
 * the guest's address and port, server the destination the guest connected
 * to before redirection; both AF_INET or both AF_INET6 (an IPv4-mapped IPv6
 * address counts as IPv4). comment (may be NULL) goes on the SYN as its
 * packet comment; see avtb_transcript_comment for the form the analysis
 * reads. Bytes outside printable ASCII are written as %XX and the comment is
 * cut to AVTB_TRANSCRIPT_COMMENT_MAX. *out is set to NULL on entry; the
 * flow is the caller's until avtb_transcript_flow_close, and must be closed
 * before t (a flow left open when t closes is detached: later calls on it
 * fail with AVTB_ERR_USAGE and avtb_transcript_flow_close just frees it).
 * AVTB_ERR_USAGE for addresses of other families or of mixed families.
 */
avtb_err avtb_transcript_flow_open(avtb_transcript *t, const struct sockaddr *client,
                                   const struct sockaddr *server, const char *comment,
                                   avtb_transcript_flow **out, avtb_error *err) AVTB_WUR;

/*
 * Appends len plaintext bytes sent in one direction (from_client: guest to
 * server), in order, as segments of at most AVTB_TRANSCRIPT_SEGMENT bytes
 * with consistent sequence and acknowledgement numbers, time stamped now
 * (CLOCK_REALTIME). len 0 writes nothing. The blocks are handed to write(2)
 * before it returns, so a sink that dies later loses none of them.
 */
avtb_err avtb_transcript_data(avtb_transcript_flow *f, bool from_client, const void *data,
                              size_t len, avtb_error *err) AVTB_WUR;

/*
 * Ends the flow with a FIN exchange (client FIN, server FIN, client ACK),
 * writes it out (write(2), no fsync) and frees f, also on error. NULL is a
 * no-op.
 */
avtb_err avtb_transcript_flow_close(avtb_transcript_flow *f, avtb_error *err) AVTB_WUR;

/* Flushes, fsyncs, closes and frees t, whatever happens; NULL is a no-op. */
avtb_err avtb_transcript_close(avtb_transcript *t, avtb_error *err) AVTB_WUR;

/*
 * The flow comment the analysis understands, into buf (cap bytes, always
 * NUL-terminated when cap > 0):
 *   "avtb tls sni=NAME version=V cipher=C alpn=A"
 * words left out when their value is NULL or ""; values with '%', spaces or
 * bytes outside printable ASCII have them as %XX. The analysis takes the
 * host name of a flow without an HTTP Host from sni= (up to the next space,
 * %XX undone; "sni=-" or no sni= word: none). Returns buf.
 */
char *avtb_transcript_comment(char *buf, size_t cap, const char *sni, const char *version,
                              const char *cipher, const char *alpn);

/* Flows written so far (opened), for the sink's statistics. */
unsigned long long avtb_transcript_flows(const avtb_transcript *t);

#endif
