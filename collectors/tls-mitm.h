/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS interception for the sink: a CA made for the run (planted into the
 * guest's trust store), a server SSL_CTX that mints a leaf certificate per
 * SNI on the fly, and the session secrets in SSLKEYLOGFILE format so that
 * tshark can decrypt the capture and the analysis can read the bytes.
 *
 * Threads: nothing here is thread-safe. The sink runs it on its one
 * libevent loop; give each thread its own avtb_mitm if that ever changes.
 */
#ifndef AVTB_TLS_MITM_H
#define AVTB_TLS_MITM_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define AVTB_MITM_VALIDITY_DAYS     7
#define AVTB_MITM_VALIDITY_DAYS_MAX 825 /* longer leaves are refused by Apple clients */
#define AVTB_MITM_MAX_LEAVES        4096
#define AVTB_MITM_MAX_LEAVES_MAX    65536

typedef struct avtb_mitm avtb_mitm;

typedef struct avtb_mitm_config {
    /* Printable ASCII; goes into the CA's subject CN, "avtb run <id>
     * interception CA". The CN holds 64 characters, so a longer id keeps
     * only its end (the time stamp and tag), after "...". */
    const char *run_id;
    unsigned validity_days; /* CA and leaves, 1..825; 0 = 7 */
    /* SSLKEYLOGFILE output: appended, one line per secret, each written
     * with one write(2) as it is made; created 0600. NULL = none. */
    const char *keylog_path;
    size_t max_leaves; /* minted leaves kept (least recently used go first), 1..65536; 0 = 4096 */
} avtb_mitm_config;

/*
 * A fresh CA (EC P-256, self-signed, basicConstraints CA:TRUE pathlen:0
 * critical, keyUsage keyCertSign|cRLSign critical, subjectKeyIdentifier;
 * valid from a day ago for validity_days) and a server context:
 *   - TLS 1.2 and 1.3 only; no session resumption, so every connection in
 *     the capture carries its full handshake and certificate;
 *   - ALPN: http/1.1 (or http/1.0) when offered; anything else, "h2"
 *     included, is not acknowledged, so the client speaks HTTP/1.1;
 *   - per handshake, a leaf for the name the client asked for, minted or
 *     taken from the cache: EC P-256, signed by the CA with SHA-256, random
 *     128-bit serial, valid from a day ago until the CA expires or
 *     validity_days, EKU serverAuth, SAN
 *       dNSName   = the SNI, lower-cased (printable ASCII SNI),
 *       iPAddress = the SNI when it is an IP literal, else, without usable
 *                   SNI, the local IP given by avtb_mitm_set_local_ip;
 *     without either, a leaf with no SAN, for clients that do not verify.
 * *out is the caller's (avtb_mitm_free). Errors: AVTB_ERR_USAGE for a bad
 * config, AVTB_ERR_IO when the key log cannot be opened.
 */
avtb_err avtb_mitm_new(const avtb_mitm_config *c, avtb_mitm **out, avtb_error *err) AVTB_WUR;

/*
 * Frees the CA, the leaf cache and the context reference; NULL is a no-op.
 * An SSL made from avtb_mitm_ctx keeps the context alive and stays safe to
 * use and free, but a handshake it starts afterwards fails (internal_error
 * alert) and logs no keys: free the mitm after the sink's connections.
 */
void avtb_mitm_free(avtb_mitm *m);

/* The CA certificate in PEM, to plant into the guest and put in the
 * evidence. Borrowed: valid until avtb_mitm_free. */
const char *avtb_mitm_ca_pem(const avtb_mitm *m);

/* Writes the CA certificate (PEM) to path, atomically, mode 0644. */
avtb_err avtb_mitm_write_ca(const avtb_mitm *m, const char *path, avtb_error *err) AVTB_WUR;

/*
 * Opens the key log again, in a child process made after avtb_mitm_new
 * whose descriptors were closed (collectors/child.c closes all but its
 * own); the old descriptor number is forgotten, not closed.
 */
avtb_err avtb_mitm_keylog_reopen(avtb_mitm *m, avtb_error *err) AVTB_WUR;

/*
 * The server context, borrowed: SSL_new it per accepted connection (plain,
 * or for bufferevent_openssl_socket_new). Its callbacks (servername, ALPN,
 * info, keylog) and app data are the mitm's: do not replace them on the
 * context, nor set a per-SSL info callback, which would hide the alerts
 * avtb_mitm_describe reports.
 */
SSL_CTX *avtb_mitm_ctx(avtb_mitm *m);

/*
 * The local address the client connected to (the accepted socket's
 * getsockname, "10.0.0.1" or "fd00::1"), for a client that sends no SNI:
 * its leaf gets that iPAddress. Call before the handshake starts.
 * AVTB_ERR_USAGE when ip is not an IP address.
 */
avtb_err avtb_mitm_set_local_ip(SSL *ssl, const char *ip, avtb_error *err) AVTB_WUR;

/*
 * Reports the first key log write error since avtb_mitm_new (AVTB_ERR_IO
 * naming the file, how many secrets were lost and errno), else AVTB_OK.
 * Lines go straight to the kernel, so nothing is buffered to flush; ask
 * once the sink's connections are done, so the run records the failure.
 */
avtb_err avtb_mitm_keylog_error(const avtb_mitm *m, avtb_error *err) AVTB_WUR;

/*
 * One connection's handshake as evidence. Text from the guest (SNI, ALPN)
 * is printable ASCII with anything else as %XX, cut to fit.
 */
typedef struct avtb_mitm_handshake {
    char sni[256];     /* "" when the client sent none */
    char alpn[32];     /* protocol agreed, "" for none */
    char version[16];  /* "TLSv1.3", "" if not negotiated */
    char cipher[64];   /* "TLS_AES_256_GCM_SHA384", "" if not negotiated */
    bool ok;           /* the handshake completed */
    char failure[256]; /* when !ok: the alerts each side sent and why, or
                          where the handshake stopped */
} avtb_mitm_handshake;

/*
 * Fills *out for a server SSL made from avtb_mitm_ctx. handshake_rc is 1
 * when the handshake completed (SSL_do_handshake/SSL_accept returned 1,
 * BEV_EVENT_CONNECTED), anything else when it failed or never finished.
 * The failure comes from alerts recorded during the handshake, so it does
 * not need OpenSSL's error queue, which libevent drains. A client that pins
 * its certificate shows up as "client sent fatal alert unknown CA (48)" (or
 * bad certificate (42)), or, if it just hangs up, as "sink sent fatal alert
 * decode error (50): unexpected eof while reading"; one that never speaks
 * as "handshake stopped without an alert at <OpenSSL state>".
 */
void avtb_mitm_describe(SSL *ssl, int handshake_rc, avtb_mitm_handshake *out);

#endif
