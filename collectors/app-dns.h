/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS messages. The sink's side: the question of a query and the answer to
 * it (sink-dns.c, for DNS over TCP: libevent's evdns serves only UDP). The
 * analysis' side: a walk over every name and record of a captured message,
 * delivering the views the scanner searches (message.h), over UDP datagrams
 * and, with the length-prefix framing, over TCP streams (stream-tcp.c).
 */
#ifndef AVTB_APP_DNS_H
#define AVTB_APP_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/app-detect.h"
#include "collectors/message.h"
#include "common/error.h"

/* A name in text form: 255 wire bytes, each printed as at most 4 (\DDD). */
#define AVTB_DNS_NAME_TEXT (255 * 4 + 1)
#define AVTB_DNS_TYPE_A    1
#define AVTB_DNS_TYPE_AAAA 28
#define AVTB_DNS_CLASS_IN  1
/* Bounds of a name on the wire (RFC 1035 3.1); fixed by the protocol. */
#define AVTB_DNS_NAME_WIRE_MAX   255
#define AVTB_DNS_NAME_LABELS_MAX 128

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

/*
 * The analysis side's configuration: limits (0 takes the default below) and
 * where results go. The bounds of a name (255 bytes, 128 labels) are the
 * protocol's and not configurable.
 */
typedef struct avtb_dns_config {
    size_t max_view_bytes;   /* bytes of views one message may expand to (compression) */
    size_t max_anomalies;    /* anomalies reported per message; one more line says "more" */
    size_t tcp_max_message;  /* largest DNS-over-TCP message buffered; larger are skipped */
    avtb_message_cb message; /* may be NULL */
    avtb_anomaly_cb anomaly; /* may be NULL */
    void *ctx;               /* passed to message and anomaly */
} avtb_dns_config;

#define AVTB_DNS_MAX_VIEW_BYTES_DEFAULT  (1u << 20)
#define AVTB_DNS_MAX_ANOMALIES_DEFAULT   16
#define AVTB_DNS_TCP_MAX_MESSAGE_DEFAULT 65535

/* The defaults above, no callbacks. */
void avtb_dns_config_default(avtb_dns_config *c);

/*
 * Walks one whole DNS message of len bytes (query or response): header, the
 * questions, and every record of the answer, authority and additional
 * sections, following compression pointers (only backwards, never into the
 * header, at most 128 per name). It delivers to c->message, with protocol
 * "dns", time ts, offset the message's stream offset (DNS over TCP; 0 for a
 * datagram) and host the first question's name as from avtb_dns_first_qname
 * (NULL if there is none):
 *  - each distinct name, once per place its first label is spelt out on the
 *    wire (so a compressed repeat is not delivered again), in two views:
 *    {"dns-qname"}, the labels' raw bytes joined by '.' (no escaping, no
 *    final dot; tokens must match), and {"dns-labels"}, the labels joined
 *    with nothing between them (data split over labels, base32 or hex, is
 *    contiguous there; decoding is the scanner's). A one-label name has only
 *    the first view, the second would be the same bytes; the root has none.
 *    Owner names, questions, and the names inside NS, CNAME, SOA, PTR, MX,
 *    SRV, DNAME and the other RFC 1035 name-bearing types all count;
 *  - TXT and SPF rdata, the character-strings concatenated: {"dns-txt"};
 *  - the rdata of NULL and every type not interpreted above: {"dns-rdata"},
 *    raw; also the rdata of a record whose interpretation failed. A and
 *    AAAA addresses are not delivered.
 * Each malformed or over-limit part is reported to c->anomaly as "dns: ..."
 * and the walk carries on where the framing still allows it (a bad rdata
 * skips one record; a bad name outside rdata, or a cut record, ends the
 * walk). Bytes after a point the walk cannot pass are not delivered: the
 * caller scans the raw datagram for those.
 * Returns AVTB_PARSE_OK for a well-formed message, AVTB_PARSE_ERROR if any
 * anomaly was found; never reads outside msg[0, len).
 */
avtb_parse_result avtb_dns_walk(const avtb_dns_config *c, const uint8_t *msg, size_t len, double ts,
                                uint64_t offset) AVTB_WUR;

/*
 * The first question's name of a whole DNS message, query or response
 * (compression allowed), escaped as in avtb_dns_parse_query so it is safe as
 * dst.host: "www.example.com", "." for the root. Its type goes to *qtype if
 * qtype is not NULL. Returns AVTB_PARSE_OK, or AVTB_PARSE_ERROR (out = "",
 * *qtype = 0) if the message has no well-formed first question.
 */
avtb_parse_result avtb_dns_first_qname(const uint8_t *msg, size_t len, char out[AVTB_DNS_NAME_TEXT],
                                       uint16_t *qtype) AVTB_WUR;

/*
 * DNS over TCP (RFC 1035 4.2.2, RFC 7766): one direction of a connection,
 * each message preceded by its 16-bit big-endian length, fed in chunks of
 * any size; each complete message goes through avtb_dns_walk with the
 * stream offset of its first byte and the ts of the chunk that completed
 * it. A message lying wholly in one chunk is walked in place; one split
 * over chunks is copied into a buffer of at most c->tcp_max_message bytes,
 * and a longer message is reported and skipped, keeping the framing.
 *  - AVTB_PARSE_OK: a message was walked; it ended after *consumed bytes;
 *  - AVTB_PARSE_NEED_MORE: all len bytes consumed, no message completed;
 *  - AVTB_PARSE_ERROR: a length prefix shorter than a DNS header (12): the
 *    stream is not DNS over TCP. Reported once as an anomaly; *consumed is
 *    what was taken, that prefix included; later calls return ERROR and
 *    consume nothing.
 * A malformed message is an anomaly, not an error: the framing holds.
 */
typedef struct avtb_dns_tcp avtb_dns_tcp;

/* The config is copied; a limit left 0 takes its default. NULL when out of memory. */
avtb_dns_tcp *avtb_dns_tcp_new(const avtb_dns_config *c);
/* Frees everything, delivering nothing more; NULL is a no-op. */
void avtb_dns_tcp_free(avtb_dns_tcp *p);
avtb_parse_result avtb_dns_tcp_parse(avtb_dns_tcp *p, const uint8_t *buf, size_t len, double ts,
                                     size_t *consumed) AVTB_WUR;
/*
 * End of the stream at time ts: a message cut short is reported and walked
 * as far as it got, so the names before the cut are still delivered. Later
 * parse calls return ERROR.
 */
void avtb_dns_tcp_end(avtb_dns_tcp *p, double ts);
/* Messages walked so far. */
uint64_t avtb_dns_tcp_messages(const avtb_dns_tcp *p);
/*
 * First question name (escaped, as avtb_dns_first_qname) of the last message
 * walked that had one, or NULL; borrowed, valid until the next parse.
 */
const char *avtb_dns_tcp_host(const avtb_dns_tcp *p);

#endif
