/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS, seen from outside: one direction of a reassembled TCP stream
 * (stream-tcp.c) cut into records, the first handshake message read if it is
 * a ClientHello (SNI, ALPN, versions), and the bytes of each content type
 * counted, so the analysis can say "N encrypted bytes went to SNI x" and
 * scan the SNI (message.h) for a token hidden in a label. Nothing is decrypted.
 */
#ifndef AVTB_APP_TLS_H
#define AVTB_APP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/app-detect.h"
#include "collectors/message.h"
#include "common/error.h"

/* Record content types (RFC 8446 5.1, RFC 6520). */
typedef enum {
    AVTB_TLS_CHANGE_CIPHER_SPEC = 20,
    AVTB_TLS_ALERT = 21,
    AVTB_TLS_HANDSHAKE = 22,
    AVTB_TLS_APPLICATION_DATA = 23,
    AVTB_TLS_HEARTBEAT = 24,
} avtb_tls_content;

/* Limits (0 takes the default below) and where results go. */
typedef struct avtb_tls_config {
    size_t max_record;       /* record payload bytes; longer is an anomaly and ends the parse */
    size_t max_client_hello; /* ClientHello bytes reassembled; a longer one is not read */
    avtb_message_cb message; /* may be NULL */
    avtb_anomaly_cb anomaly; /* may be NULL */
    void *ctx;               /* passed to message and anomaly */
} avtb_tls_config;

/* TLS 1.2 allows 2^14 bytes of plaintext plus 2048 of expansion (RFC 5246 6.2.3). */
#define AVTB_TLS_MAX_RECORD_DEFAULT       (16384 + 2048)
#define AVTB_TLS_MAX_CLIENT_HELLO_DEFAULT 65536

/* The defaults above, no callbacks. */
void avtb_tls_config_default(avtb_tls_config *c);

/*
 * One stream direction, fed in chunks of any size:
 *  - AVTB_PARSE_OK: the session is done with the first handshake message
 *    after *consumed bytes: it read the ClientHello (the getters below now
 *    answer and its SNI was delivered), or found a ServerHello or some other
 *    message, or a ClientHello over the limit. Returned at most once;
 *  - AVTB_PARSE_NEED_MORE: all len bytes consumed;
 *  - AVTB_PARSE_ERROR: the stream is not (or no longer) TLS that can be
 *    followed: either it never looked like TLS (avtb_tls_session_is_tls()
 *    false, no anomaly: treat the stream as raw), or it opened with an
 *    SSLv2-compatible ClientHello (avtb_tls_session_is_sslv2(): TLS, but not
 *    parsed), or a record broke the framing (bad type or version, longer
 *    than max_record), which is an anomaly. *consumed is what was taken, up
 *    to and including the byte that showed it. ERROR is returned once: later
 *    calls return ERROR and consume nothing.
 * The first record must be a handshake record of version 3.0 to 3.4. Malformed
 * handshake content (lengths that disagree inside the ClientHello, a
 * ClientHello interrupted by another record type) is an anomaly, never an
 * error: the record framing still holds and the counting goes on. The SNI is
 * delivered as {"tls-sni"}: protocol "tls", host avtb_tls_session_host(),
 * data the host_name's raw bytes, offset where the ClientHello starts in the
 * stream, time the ts of the chunk that completed it. Nothing is decrypted.
 * Memory: the ClientHello while it is reassembled (at most max_client_hello
 * bytes), then only what the getters return.
 */
typedef struct avtb_tls_session avtb_tls_session;

/* The config is copied; a limit left 0 takes its default. NULL when out of memory. */
avtb_tls_session *avtb_tls_session_new(const avtb_tls_config *c);
/* Frees everything, delivering nothing more; NULL is a no-op. */
void avtb_tls_session_free(avtb_tls_session *s);
avtb_parse_result avtb_tls_session_parse(avtb_tls_session *s, const uint8_t *buf, size_t len,
                                         double ts, size_t *consumed) AVTB_WUR;
/*
 * End of the stream at time ts: a ClientHello cut short is reported and read
 * as far as it got, so an SNI before the cut is still delivered. Later parse
 * calls return ERROR.
 */
void avtb_tls_session_end(avtb_tls_session *s, double ts);

/* A TLS record header (or an SSLv2-compatible hello) was seen: the stream is TLS. */
bool avtb_tls_session_is_tls(const avtb_tls_session *s);
/* The stream opened with an SSLv2-compatible ClientHello, which is not parsed. */
bool avtb_tls_session_is_sslv2(const avtb_tls_session *s);
/* A ClientHello was read up to its extensions (which may be malformed or cut). */
bool avtb_tls_session_client_hello(const avtb_tls_session *s);

/*
 * What the ClientHello said; all borrowed from the session, valid until it is
 * freed. SNI host_name, raw (NUL-terminated too, but it may hold NULs), NULL
 * if none.
 */
const uint8_t *avtb_tls_session_sni(const avtb_tls_session *s, size_t *len);
/* The SNI escaped as DNS names are (avtb_dns_escape), for dst.host; NULL if none. */
const char *avtb_tls_session_host(const avtb_tls_session *s);
/* ALPN protocols offered, in order: how many, then the i-th (raw, not NUL-terminated). */
size_t avtb_tls_session_alpn_count(const avtb_tls_session *s);
const uint8_t *avtb_tls_session_alpn(const avtb_tls_session *s, size_t i, size_t *len);
/* legacy_version, e.g. 0x0303. */
uint16_t avtb_tls_session_legacy_version(const avtb_tls_session *s);
/* supported_versions as sent (GREASE values included), *n of them; NULL if absent. */
const uint16_t *avtb_tls_session_supported_versions(const avtb_tls_session *s, size_t *n);
/* Highest version offered: supported_versions without GREASE, else legacy_version; 0 if unknown. */
uint16_t avtb_tls_session_client_version(const avtb_tls_session *s);
/* Cipher suites offered (GREASE included). */
size_t avtb_tls_session_cipher_suites(const avtb_tls_session *s);

/* Payload bytes (record headers excluded) of one content type, so far. */
uint64_t avtb_tls_session_bytes(const avtb_tls_session *s, avtb_tls_content type);
/* Records whose header was read. */
uint64_t avtb_tls_session_records(const avtb_tls_session *s);

#endif
