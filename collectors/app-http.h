/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fourth stage, HTTP: the client → server byte stream of one TCP connection
 * (reassembled by stream-tcp.c) parsed as HTTP/1.x requests and turned into
 * avtb_message records (message.h) for the scanner: request target, query,
 * header values, bodies (de-chunked, content-decoded) and the parts and
 * fields of form bodies (multipart.c). The server → client direction is not
 * parsed: what matters is what the guest sends.
 *
 * Messages a request yields, in this order (encoding paths as in message.h):
 *   {"http-method"}              the method, only when it is not a registered one
 *   {"http-uri"}                 the target up to '?' (absolute-form: all of it)
 *   {"http-uri", "percent"}      the same percent-decoded, when it holds %XX
 *   {"http-query"}               the target after '?', when non-empty
 *   {"http-query", "percent"}    the same decoded, when it holds %XX or '+'
 *   {"http-header"}              each non-empty header value, OWS trimmed, folded
 *                                lines joined by one space; info->field = the
 *                                header name. A line that is no "name: value"
 *                                comes whole, info->field NULL (and an anomaly).
 *   {"http-chunk-ext"}           each chunk extension (after ';'), when non-empty
 *   {B}                          the body, B = "http-chunked" or "http-body"
 *   {B, c1, c2...}               the body after its transfer and content codings,
 *                                in order of decoding ("Content-Encoding: gzip, br"
 *                                is decoded br first: {B, "br", "gzip"})
 *   {B, [c...], "http-multipart"[, "base64" | "quoted-printable"]}
 *                                each non-empty part of a multipart/ body;
 *                                m->name = its filename (else its name=),
 *                                info->field = its name=. A part with a
 *                                Content-Transfer-Encoding comes decoded only (its
 *                                encoded form is inside the body message).
 *   {B, [c...], "http-form"[, "percent"]}
 *                                each non-empty field value of an
 *                                application/x-www-form-urlencoded body,
 *                                "percent" when it held %XX or '+' and was
 *                                decoded; info->field = the field name, decoded.
 *   {"http-header"}              each trailer, as headers
 * m->protocol is "http"; m->host the Host header (else the authority of an
 * absolute-form or CONNECT target) without port or IPv6 brackets, printable
 * ASCII only; m->time the time passed with the chunk that completed the
 * message; m->offset the stream offset of the first byte of data as sent:
 * exact for the target, query, headers and a Content-Length body; for a
 * chunked body, decoded data, parts and fields it is the offset of the body
 * start (the byte after the header block), since those bytes have no single
 * place in the stream.
 *
 * A body longer than body_cap is delivered in pieces: the first body_cap
 * bytes (anomaly "http: body truncated at N bytes"), then pieces of up to
 * body_cap bytes each starting with the last body_overlap bytes of the
 * previous one, so that a token cut by a piece boundary is whole in one
 * piece. Codings are decoded on the first piece only; forms are split in
 * every piece that is not content-coded.
 *
 * Everything a message points to is borrowed for the duration of the
 * callback. Memory per session is bounded by body_cap plus the header block
 * ((max_headers + 1) * max_line) plus, while a body is decoded, max_decoded
 * per coding step.
 */
#ifndef AVTB_APP_HTTP_H
#define AVTB_APP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/app-detect.h" /* avtb_parse_result */
#include "collectors/message.h"
#include "common/error.h"

/* Where a message came from, beyond the avtb_message itself. */
typedef struct avtb_http_req_info {
    uint64_t index;      /* the request's number in the session, from 0 */
    const char *method;  /* as sent, e.g. "POST" */
    const char *target;  /* the request target as sent */
    const char *version; /* "HTTP/1.1" */
    const char *field;   /* header name, form field name or multipart name=; else NULL */
} avtb_http_req_info;

/* Message delivery; m and req are borrowed for the duration of the call. */
typedef void (*avtb_http_message_cb)(void *ctx, const avtb_message *m,
                                     const avtb_http_req_info *req);

/*
 * Content decoding, supplied by the caller (transform.c's
 * avtb_transform_decompress fits). coding is one of "gzip", "x-gzip",
 * "deflate", "br", "zstd". Decodes len bytes into *out (malloc'd, the
 * session frees it), at most max_out bytes: beyond that *bomb is set and
 * the output cut. On failure *out may still hold what decoded before the
 * error, which is then delivered.
 */
typedef avtb_err (*avtb_http_decompress_fn)(const char *coding, const uint8_t *buf, size_t len,
                                            size_t max_out, uint8_t **out, size_t *out_len,
                                            bool *bomb);

typedef struct avtb_http_config {
    size_t max_line;     /* request line, header, chunk-size and trailer lines */
    size_t max_headers;  /* header (or trailer) lines of one request, folded ones included */
    size_t max_method;   /* bytes of a method */
    size_t body_cap;     /* bytes of a body held and delivered as one message */
    size_t body_overlap; /* bytes each later piece repeats (capped at body_cap / 2) */
    size_t max_decoded;  /* bytes one content-decoding step may produce */
    size_t max_parts;    /* multipart parts split out of one body */
    size_t max_fields;   /* urlencoded fields split out of one body */
    avtb_http_decompress_fn decompress; /* NULL: coded bodies are delivered as sent */
    avtb_http_message_cb message;       /* may be NULL */
    avtb_anomaly_cb anomaly;            /* may be NULL */
    void *ctx;                          /* passed to message and anomaly */
} avtb_http_config;

#define AVTB_HTTP_MAX_LINE_DEFAULT     8192
#define AVTB_HTTP_MAX_HEADERS_DEFAULT  100
#define AVTB_HTTP_MAX_METHOD_DEFAULT   32
#define AVTB_HTTP_BODY_CAP_DEFAULT     (16u << 20)
#define AVTB_HTTP_BODY_OVERLAP_DEFAULT 4096
#define AVTB_HTTP_MAX_DECODED_DEFAULT  (64u << 20)
#define AVTB_HTTP_MAX_PARTS_DEFAULT    1024
#define AVTB_HTTP_MAX_FIELDS_DEFAULT   4096

/* The defaults above, no callbacks. */
void avtb_http_config_default(avtb_http_config *c);

typedef struct avtb_http_session avtb_http_session;

/*
 * A parser for one client stream. The config is copied; a limit left 0
 * takes its default. Returns NULL when out of memory.
 */
avtb_http_session *avtb_http_session_new(const avtb_http_config *c);
/* Frees everything, delivering nothing more; NULL is a no-op. */
void avtb_http_session_free(avtb_http_session *s);

/*
 * Feeds the next len bytes of the stream, which arrived at capture time ts.
 * Messages and anomalies are delivered before it returns.
 *  - AVTB_PARSE_OK: all len bytes consumed; every request so far is complete.
 *  - AVTB_PARSE_NEED_MORE: all len bytes consumed; a request is under way.
 *  - AVTB_PARSE_ERROR: the rest of the stream is not HTTP. Either it never was
 *    (avtb_http_session_is_http() false), or it broke (an anomaly said why;
 *    what was parsed of the request is delivered first), or a CONNECT, an
 *    Upgrade or the HTTP/2 preface turned it into a tunnel
 *    (avtb_http_session_tunnel() true, no anomaly). buf[0..*consumed) were
 *    taken; the caller handles the bytes from avtb_http_session_held() and
 *    then buf + *consumed onward as raw data. ERROR is reported once: later
 *    calls return ERROR, consume nothing and hold nothing.
 */
avtb_parse_result avtb_http_session_parse(avtb_http_session *s, const uint8_t *buf, size_t len,
                                          double ts, size_t *consumed) AVTB_WUR;

/*
 * End of the stream (FIN, RST or end of capture) at time ts: a request cut
 * short is delivered as far as it got (anomaly), and an unfinished line is
 * left in avtb_http_session_held(). Later parse calls return ERROR.
 */
void avtb_http_session_end(avtb_http_session *s, double ts);

/*
 * After ERROR or _end(): the bytes taken from the stream but delivered in no
 * message (an unfinished or refused line, without its line end), which come
 * right before the unparsed rest; *offset is their stream offset. Borrowed
 * until the next call on s. *len is 0 when there are none.
 */
void avtb_http_session_held(const avtb_http_session *s, const uint8_t **data, size_t *len,
                            uint64_t *offset);

/* A valid HTTP/1.x request line was seen: the stream is HTTP. */
bool avtb_http_session_is_http(const avtb_http_session *s);
/* The stream became a tunnel (CONNECT, Upgrade, HTTP/2 preface). */
bool avtb_http_session_tunnel(const avtb_http_session *s);
/* Request lines accepted so far. */
uint64_t avtb_http_session_requests(const avtb_http_session *s);
/* Bytes of the stream consumed so far (the offset of the next byte). */
uint64_t avtb_http_session_offset(const avtb_http_session *s);
/* Host of the request being parsed or the last one (as m->host), or NULL; borrowed. */
const char *avtb_http_session_host(const avtb_http_session *s);

#endif
