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

typedef struct avtb_sink_http avtb_sink_http;
/*
 * Serves HTTP on TCP port 80 of ip. A request gets the first of the answers
 * (borrowed; may be NULL) whose host and path prefix match it, else 200 and
 * {"status":"ok"}. The log line says which answer was given.
 */
avtb_err avtb_sink_http_new(struct event_base *base, const char *ip, avtb_jsonl *log,
                            const avtb_http_answer *answers, size_t nanswers, avtb_sink_http **out,
                            avtb_error *err) AVTB_WUR;
void avtb_sink_http_free(avtb_sink_http *h);

#endif
