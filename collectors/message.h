/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A message: one unit of application data that left (or reached) the guest,
 * as a protocol parser understood it, handed to the scanner (scan.c). The
 * protocol parsers (app-http.c, app-dns.c, app-tls.c, and analyze.c for raw
 * TCP/UDP) produce messages; the scanner searches each message's bytes and
 * every decoded view of them (transform.c) for tokens and document hashes.
 *
 * Examples of what a parser emits (encoding is outer to inner):
 *   HTTP POST body, chunked and gzip'd   {"http-chunked", "gzip"}  (decoded bytes)
 *   HTTP body, plain                     {"http-body"}
 *   a multipart/form-data part           {"http-multipart"}, name = its filename
 *   a urlencoded form field value        {"http-form", "percent"}
 *   the request target's query string    {"http-query", "percent"}
 *   the request target (path)            {"http-uri"}
 *   one header value                     {"http-header"}
 *   a DNS name, as text and labels joined {"dns-qname"} / {"dns-labels"}
 *   DNS TXT record data                  {"dns-txt"}
 *   TLS ClientHello SNI                  {"tls-sni"}
 *   any other TCP direction or datagram  {} (raw bytes; protocol "tcp"/"udp")
 *
 * Everything in a message is borrowed for the duration of the callback only.
 */
#ifndef AVTB_MESSAGE_H
#define AVTB_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AVTB_MESSAGE_MAX_ENCODING 16

typedef struct avtb_message {
    const char *protocol; /* "http", "dns", "tls", "tcp", "udp" */
    const char *host;     /* the server's name as the guest gave it (Host, SNI, qname), or NULL */
    const char *encoding[AVTB_MESSAGE_MAX_ENCODING]; /* outer to inner, static strings */
    size_t nencoding;
    const char *name;    /* a file name the message carries (multipart filename=), or NULL */
    const uint8_t *data; /* the message's bytes, after the decodings in encoding[] */
    size_t len;
    uint64_t offset; /* where data starts in its stream direction (0 for datagrams) */
    double time;     /* capture time of the packet that completed the message */
} avtb_message;

/* Where parsers deliver messages; ctx is the caller's. */
typedef void (*avtb_message_cb)(void *ctx, const avtb_message *m);

/* Where parsers report malformed or over-limit input; what is a short static or
 * formatted text such as "http: chunk size line too long" (copied by the callee). */
typedef void (*avtb_anomaly_cb)(void *ctx, const char *what);

#endif
