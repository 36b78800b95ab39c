/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS messages: the question of a query, and the sink's answer to it. Used
 * by sink-dns.c for DNS over TCP (libevent's evdns serves only UDP) and meant
 * for the analysis (app-detect.c) when DNS query names become dst.host.
 */
#ifndef AVTB_APP_DNS_H
#define AVTB_APP_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "collectors/app-detect.h"

/* A name in text form: 255 wire bytes, each printed as at most 4 (\DDD). */
#define AVTB_DNS_NAME_TEXT (255 * 4 + 1)
#define AVTB_DNS_TYPE_A    1
#define AVTB_DNS_TYPE_AAAA 28
#define AVTB_DNS_CLASS_IN  1

typedef struct avtb_dns_query {
    uint16_t id;
    uint16_t flags;
    char qname[AVTB_DNS_NAME_TEXT]; /* "www.example.com", no final dot; "." for the root */
    uint16_t qtype, qclass;
    size_t question_end; /* offset just past the first question */
} avtb_dns_query;

/*
 * Parses a whole DNS message of len bytes that must be a standard query
 * with at least one question; only the first question is read. Returns
 * AVTB_PARSE_OK or AVTB_PARSE_ERROR (never NEED_MORE: DNS messages come
 * framed). Bytes outside printable ASCII and '.' or '\' inside a label are
 * written as \DDD, so qname is safe for JSON and never ambiguous.
 */
avtb_parse_result avtb_dns_parse_query(const uint8_t *buf, size_t len, avtb_dns_query *q);

/*
 * Writes the answer to q (whose message is query): NOERROR, authoritative,
 * the first question echoed, and one A record (ttl seconds) if a4 is non-NULL.
 * Returns the reply's length, or 0 if cap is too small.
 */
size_t avtb_dns_build_reply(const avtb_dns_query *q, const uint8_t *query, const uint8_t *a4,
                            uint32_t ttl, uint8_t *out, size_t cap);

/* "A", "AAAA", ... or "TYPE<n>" into buf. */
const char *avtb_dns_type_name(uint16_t type, char buf[16]);
/* Escapes len bytes of a name as in avtb_dns_parse_query (dots kept) into out[cap]. */
void avtb_dns_escape(const char *name, size_t len, char *out, size_t cap);

#endif
