/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fourth stage: what protocol a flow speaks, and the little of it the
 * findings need now: the HTTP Host each request names. Input is the
 * reassembled client stream from stream-tcp.c, in chunks of any size.
 */
#ifndef AVTB_APP_DETECT_H
#define AVTB_APP_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    AVTB_APP_TCP, /* nothing recognised (yet) */
    AVTB_APP_UDP,
    AVTB_APP_DNS,
    AVTB_APP_HTTP,
} avtb_app_proto;

/* "tcp", "udp", "dns", "http": the protocol names findings carry. */
const char *avtb_app_proto_name(avtb_app_proto p);
/* The protocol a flow is assumed to speak before any payload is seen. */
avtb_app_proto avtb_app_by_port(uint8_t ipproto, uint16_t port_a, uint16_t port_b);

typedef enum { AVTB_PARSE_OK, AVTB_PARSE_NEED_MORE, AVTB_PARSE_ERROR } avtb_parse_result;

/*
 * Incremental HTTP/1.x request parser for one client stream. Each call
 * consumes up to the next boundary (end of a request's headers, end of its
 * body), so every chunk it hands back lies wholly in headers or in a body:
 *  - AVTB_PARSE_OK: a boundary was reached after *consumed bytes (> 0);
 *  - AVTB_PARSE_NEED_MORE: all len bytes consumed, no boundary;
 *  - AVTB_PARSE_ERROR: not HTTP (the stream did not start with a method and
 *    a space) or malformed; the parser stays in error and consumes nothing more.
 * Lines are limited to AVTB_HTTP_MAX_LINE bytes; longer is an error.
 */
typedef struct avtb_http_parser avtb_http_parser;

#define AVTB_HTTP_MAX_LINE 8192

avtb_http_parser *avtb_http_parser_new(void);
void avtb_http_parser_free(avtb_http_parser *p);
avtb_parse_result avtb_http_parse(avtb_http_parser *p, const uint8_t *buf, size_t len,
                                  size_t *consumed);
/* A request line with a known method was seen: the stream is HTTP. */
bool avtb_http_is_http(const avtb_http_parser *p);
/* Whether the next byte belongs to a request body. */
bool avtb_http_in_body(const avtb_http_parser *p);
/* Whether the last boundary returned was the end of a header block. */
bool avtb_http_headers_done(const avtb_http_parser *p);
/*
 * Host header of the request whose headers completed last, NULL if it had
 * none; borrowed, valid until the next avtb_http_parse().
 */
const char *avtb_http_host(const avtb_http_parser *p);
/* Requests whose headers were seen. */
uint64_t avtb_http_requests(const avtb_http_parser *p);

#endif
