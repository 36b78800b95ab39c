/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A finding: evidence that a canary token (or a honey document's metadata)
 * was seen leaving the guest, or (suspected) that something may have left
 * that the analysis could not read. Produced by the analysis (analyze.c,
 * evidence.c), consumed by reports/. A finding list owns its findings.
 */
#ifndef AVTB_FINDING_H
#define AVTB_FINDING_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef enum {
    AVTB_FINDING_CONTENT,  /* a token's content */
    AVTB_FINDING_METADATA, /* a document's hash or name */
    /* No token seen, but the guest sent what could not be read after a
     * document was readable: a client that rejected the interception
     * certificate, or an opaque upload as large as a document. Never proof
     * of exfiltration; the no_exfiltration expectation cannot be shown. */
    AVTB_FINDING_SUSPECTED,
} avtb_finding_kind;

typedef struct avtb_endpoint {
    char ip[46]; /* textual IPv4/IPv6 */
    uint16_t port;
    char *host; /* host name as the guest named it (HTTP Host, DNS), or NULL */
} avtb_endpoint;

typedef struct avtb_finding {
    char *token; /* the token that matched; NULL for a suspected finding */
    avtb_finding_kind kind;
    char *protocol; /* "http", "dns", "tls", "tcp", "udp" */
    char *encoding; /* outer to inner, comma separated ("http-chunked,gzip,base64");
                       NULL or "" when the bytes were sent as they are */
    char *document; /* the honey document the token belongs to, or NULL; suspected: the
                       document whose size the upload could hold, or NULL */
    char *member;   /* archive member the token was found in, or NULL */
    uint64_t bytes; /* length of the message that carried it, as sent (decoded
                       of the encodings the protocol declares, e.g. chunked) */
    avtb_endpoint src;
    avtb_endpoint dst;
    char *capture;   /* evidence file it was found in ("capture.pcapng", "tls-plaintext.pcapng",
                        "sink-tls.jsonl", ...); flow numbers count within it. NULL: unnamed */
    char *reason;    /* suspected: why, in a sentence for a person; else NULL */
    uint64_t flow;   /* flow number within the capture, 1-based; 0 when not known */
    double time;     /* capture timestamp, seconds since the epoch */
    uint64_t offset; /* byte offset of the match in its stream or datagram */
    /* For the analysis: the unit within the flow the finding belongs to (an HTTP
     * request's messages are one unit) and how many encodings the protocol
     * declared. Not part of the output. */
    uint64_t unit;
    unsigned declared;
} avtb_finding;

typedef struct avtb_findings {
    avtb_finding *items;
    size_t count;
    size_t cap;
} avtb_findings;

/* "content", "metadata" or "suspected". */
const char *avtb_finding_kind_name(avtb_finding_kind k);

/* Appends a copy of f (strings duplicated). */
avtb_err avtb_findings_add(avtb_findings *list, const avtb_finding *f) AVTB_WUR;
/* Sorts by time, then capture, then flow, then token. */
void avtb_findings_sort(avtb_findings *list);
/* Frees the strings of one finding (not the finding itself). */
void avtb_findings_drop(avtb_finding *f);
/* Frees the items, leaves an empty list. */
void avtb_findings_clear(avtb_findings *list);

#endif
