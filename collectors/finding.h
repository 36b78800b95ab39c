/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A finding: evidence that a canary token (or a honey document's metadata)
 * was seen leaving the guest. Produced by the analysis (analyze.c), consumed
 * by reports/. A finding list owns its findings.
 */
#ifndef AVTB_FINDING_H
#define AVTB_FINDING_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef enum { AVTB_FINDING_CONTENT, AVTB_FINDING_METADATA } avtb_finding_kind;

typedef struct avtb_endpoint {
    char ip[46]; /* textual IPv4/IPv6 */
    uint16_t port;
    char *host; /* host name as the guest named it (HTTP Host, DNS), or NULL */
} avtb_endpoint;

typedef struct avtb_finding {
    char *token; /* the token that matched */
    avtb_finding_kind kind;
    char *protocol; /* "http", "dns", "tls", "tcp", "udp" */
    char *encoding; /* outer to inner, comma separated ("http-chunked,gzip,base64");
                       NULL or "" when the bytes were sent as they are */
    char *document; /* the honey document the token belongs to, or NULL */
    char *member;   /* archive member the token was found in, or NULL */
    uint64_t bytes; /* length of the message that carried it, as sent (decoded
                       of the encodings the protocol declares, e.g. chunked) */
    avtb_endpoint src;
    avtb_endpoint dst;
    uint64_t flow;   /* flow number within the capture, 1-based */
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

/* Appends a copy of f (strings duplicated). */
avtb_err avtb_findings_add(avtb_findings *list, const avtb_finding *f) AVTB_WUR;
/* Sorts by time, then flow, then token. */
void avtb_findings_sort(avtb_findings *list);
/* Frees the strings of one finding (not the finding itself). */
void avtb_findings_drop(avtb_finding *f);
/* Frees the items, leaves an empty list. */
void avtb_findings_clear(avtb_findings *list);

#endif
