/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to the sink collector (sink.c): the DNS and HTTP services that
 * run on one libevent loop in the sink's child process, and the JSON-lines
 * log they both write. Everything here runs in the child.
 */
#ifndef AVTB_SINK_H
#define AVTB_SINK_H

#include <event2/event.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "collectors/cloud.h"
#include "collectors/collector.h"
#include "common/error.h"

#define AVTB_SINK_DNS_TTL       60
#define AVTB_SINK_HTTP_MAX_BODY (64 << 20)

/* One JSON object per line, flushed per line so a crash loses at most one. */
typedef struct avtb_jsonl avtb_jsonl;

avtb_err avtb_jsonl_open(const char *path, avtb_jsonl **out, avtb_error *err) AVTB_WUR;
/* Writes o (a reference is taken by the caller, not stolen) as one line. */
void avtb_jsonl_write(avtb_jsonl *l, json_t *o);
/* Closes with fsync; returns false if any write failed. */
bool avtb_jsonl_close(avtb_jsonl *l);

/* "10.0.0.2" and the port, from a socket address. */
void avtb_sink_addr_str(const struct sockaddr *sa, char ip[46], uint16_t *port);

/* A bound, listening (TCP) or bound (UDP) non-blocking socket on ip:port. */
evutil_socket_t avtb_sink_socket(const char *ip, uint16_t port, int type, avtb_error *err);

typedef struct avtb_sink_dns avtb_sink_dns;
/* Serves DNS on UDP and TCP port 53 of ip, answering A queries with ip. */
avtb_err avtb_sink_dns_new(struct event_base *base, const char *ip, avtb_jsonl *log,
                           avtb_sink_dns **out, avtb_error *err) AVTB_WUR;
void avtb_sink_dns_free(avtb_sink_dns *d);

/* Who a relayed connection really is: the guest, and where it meant to go. */
typedef struct avtb_sink_peer {
    char client[46];
    uint16_t client_port;
    char orig_dst[46];
    uint16_t orig_dst_port;
    bool tls;      /* the HTTP came out of an intercepted TLS connection */
    char sni[256]; /* the name the client asked for in TLS, or "" */
} avtb_sink_peer;

/* Fills *out for the relay connection whose local port is relay_port. */
typedef bool (*avtb_sink_peer_fn)(void *arg, uint16_t relay_port, avtb_sink_peer *out);

typedef struct avtb_sink_http avtb_sink_http;
typedef struct avtb_sink_http_config {
    avtb_jsonl *log;                 /* sink-http.jsonl */
    const avtb_http_answer *answers; /* the scenario's answers; may be NULL */
    size_t nanswers;
    avtb_sink_peer_fn peer; /* names the guest behind a relay; may be NULL */
    void *peer_arg;
    avtb_cloud_mode mode;
    avtb_cloud_recording *replay;      /* REPLAY: what to answer (marks what it served) */
    avtb_jsonl *recording;             /* RECORD: cloud-recording.jsonl */
    const avtb_connect_to *connect_to; /* RECORD: upstream overrides */
    size_t nconnect_to;
} avtb_sink_http_config;
/*
 * Serves HTTP on 127.0.0.1 (a port of the kernel's choice, see
 * avtb_sink_http_port); the TCP catch-all relays the guest's HTTP to it.
 * A request gets, by mode:
 *   SINKHOLE: the first of the scenario's answers whose host and path
 *             prefix match it, else 200 and {"status":"ok"};
 *   REPLAY:   the recorded answer (avtb_cloud_match), else as SINKHOLE;
 *   RECORD:   the real upstream's answer (the request is forwarded to the
 *             host it names, over TLS if it came over TLS), stored in the
 *             recording.
 * The log line says which answer was given. Everything in cfg is borrowed.
 */
avtb_err avtb_sink_http_new(struct event_base *base, const avtb_sink_http_config *cfg,
                            avtb_sink_http **out, avtb_error *err) AVTB_WUR;
uint16_t avtb_sink_http_port(const avtb_sink_http *h);
void avtb_sink_http_free(avtb_sink_http *h);

typedef struct avtb_sink_tcp avtb_sink_tcp;
typedef struct avtb_sink_tcp_config {
    avtb_jsonl *tcp_log;                /* sink-tcp.jsonl: one line per connection */
    avtb_jsonl *tls_log;                /* sink-tls.jsonl: one line per TLS connection */
    struct avtb_mitm *mitm;             /* TLS interception; NULL: TLS is recorded as raw bytes */
    struct avtb_transcript *transcript; /* decrypted TLS as TCP flows; may be NULL */
    uint16_t http_port;                 /* the HTTP service, on 127.0.0.1 */
} avtb_sink_tcp_config;
/*
 * The TCP catch-all on ip:port (see sink-tcp.c); everything in cfg is
 * borrowed and must outlive the service.
 */
avtb_err avtb_sink_tcp_new(struct event_base *base, const char *ip, uint16_t port,
                           const avtb_sink_tcp_config *cfg, avtb_sink_tcp **out,
                           avtb_error *err) AVTB_WUR;
/* An avtb_sink_peer_fn: s is the avtb_sink_tcp. */
bool avtb_sink_tcp_peer(const avtb_sink_tcp *s, uint16_t relay_port, avtb_sink_peer *out);
void avtb_sink_tcp_free(avtb_sink_tcp *s);

typedef struct avtb_sink_udp avtb_sink_udp;
/* The UDP catch-all on ip:port: logs each datagram with its original destination. */
avtb_err avtb_sink_udp_new(struct event_base *base, const char *ip, uint16_t port, avtb_jsonl *log,
                           avtb_sink_udp **out, avtb_error *err) AVTB_WUR;
void avtb_sink_udp_free(avtb_sink_udp *u);

/*
 * The destination a redirected UDP datagram was sent to, from conntrack:
 * local_ip:local_port is where it was delivered, client_ip:client_port its
 * sender as the socket saw it. *client_sport (may be NULL) gets the port the
 * guest really sent from (NAT renumbers it when one socket sends to several
 * destinations). False when conntrack has no such entry (ip is then "").
 */
bool avtb_sink_orig_dst_udp(const char *local_ip, uint16_t local_port, const char *client_ip,
                            uint16_t client_port, char ip[46], uint16_t *port,
                            uint16_t *client_sport);

/*
 * In the sink process, before it enters the sandbox: forks the helper that
 * answers avtb_sink_orig_dst_udp's conntrack lookups (netlink and
 * CAP_NET_ADMIN, which the confined sink lacks). Without it the lookups are
 * made in the calling process. Stop closes it and reaps it.
 */
avtb_err avtb_sink_ct_helper_start(avtb_error *err) AVTB_WUR;
void avtb_sink_ct_helper_stop(void);

#endif
