/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The collector plug-in point: a collector gathers one kind of evidence while
 * the guest runs (a capture, a sink) and is a row in a table of
 * {name, start, stop} functions (libvirt's driver tables). The orchestrator
 * starts them in table order once the run's network exists and stops them in
 * reverse order on every path, Ctrl-C included.
 */
#ifndef AVTB_COLLECTOR_H
#define AVTB_COLLECTOR_H

#include <stdbool.h>
#include <sys/types.h>

#include "collectors/cloud.h"
#include "common/error.h"

/* What the sink answers to HTTP requests for a host (a scenario's network.responses). */
typedef struct avtb_http_answer {
    const char *host; /* host name, case-insensitive, port ignored; "*" for any */
    const char *path; /* prefix of the request path; "/" for any */
    unsigned status;
    const char *const *headers; /* "Name: value" lines */
    size_t nheaders;
    const char *body;
    size_t body_len;
} avtb_http_answer;

/* What a collector knows about the run; all strings borrowed from the run. */
/* Ports of the sink on the bridge address; nftables sends the guest's packets to them. */
#define AVTB_SINK_DNS_PORT      53
#define AVTB_SINK_CATCHALL_PORT 9 /* every other TCP and UDP port ("discard") */

struct avtb_mitm;

typedef struct avtb_collector_env {
    const char *evidence_dir; /* absolute; collectors write their files here */
    const char *bridge;       /* host bridge of the run's isolated network */
    const char *sink_ip;      /* IPv4 the sink answers on (the bridge address) */
    const char *guest_ip;     /* IPv4 given to the guest */
    const char *guest_mac;    /* its NIC's MAC, which DHCP leases guest_ip to */
    const char *run_id;
    const char *scenario;            /* scenario name, for evidence metadata; may be NULL */
    const char *product;             /* "name version (vendor, country)"; may be NULL */
    const avtb_http_answer *answers; /* the sink's HTTP answers, first match wins */
    size_t nanswers;
    /* TLS interception (its CA is planted in the guest); NULL: TLS is not intercepted */
    struct avtb_mitm *mitm;
    /* What the fake cloud answers: the scenario's answers, a recording, or the real upstream. */
    avtb_cloud_mode cloud_mode;
    avtb_cloud_recording *replay;      /* REPLAY; the sink child uses its own copy */
    const avtb_connect_to *connect_to; /* RECORD */
    size_t nconnect_to;
} avtb_collector_env;

typedef struct avtb_collector avtb_collector;

typedef struct avtb_collector_ops {
    const char *name;
    /* Allocates the collector's state; may fail with a message in err. */
    avtb_err (*start)(const avtb_collector_env *env, void **state, avtb_error *err);
    /*
     * Stops and frees the state; state may be NULL. Must be safe to call from
     * any point after start. Returns whether the collector's evidence is
     * complete (false: it crashed or lost data; the reason is in err).
     */
    bool (*stop)(void *state, avtb_error *err);
    /* Whether the collector still works (its process runs); false with why
     * in err. NULL: nothing to check. Cheap: called every second of the dwell. */
    bool (*alive)(void *state, avtb_error *err);
} avtb_collector_ops;

/* The built-in collectors, NULL-terminated, in start order. */
extern const avtb_collector_ops *const avtb_collectors[];

#endif
