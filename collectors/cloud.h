/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fake cloud's memory: record and replay. In a lab with real egress,
 * `avtb run --record` makes the sink forward each HTTP request the guest
 * sends (TLS ones re-encrypted) to the real upstream and store the exchange
 * in the evidence (cloud-recording.jsonl); `avtb run --replay DIR` serves
 * those answers offline, so a vendor reproduces a lab's run with the same
 * cloud answers. This module is the recording's format: reading it back,
 * choosing the answer for a request, and the --connect-to overrides that
 * send an upstream connection somewhere else (curl's option of that name).
 */
#ifndef AVTB_CLOUD_H
#define AVTB_CLOUD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define AVTB_CLOUD_FILE         "cloud-recording.jsonl"
#define AVTB_CLOUD_MAX_BODY     (16u << 20) /* one recorded answer body */
#define AVTB_CLOUD_MAX_HEADERS  128
#define AVTB_CLOUD_MAX_EXCHANGE 100000

typedef enum { AVTB_CLOUD_SINKHOLE, AVTB_CLOUD_RECORD, AVTB_CLOUD_REPLAY } avtb_cloud_mode;

/* One request the guest sent and what the upstream answered. */
typedef struct avtb_cloud_exchange {
    char *host;   /* as the guest named it (Host header, port removed), lower case */
    char *method; /* "GET" */
    char *uri;    /* request target as sent, "/api?x=1" */
    bool tls;
    unsigned status; /* 0: the upstream could not be reached */
    char **headers;  /* "Name: value" */
    size_t nheaders;
    uint8_t *body;
    size_t body_len;
    bool used; /* replay: already served */
} avtb_cloud_exchange;

typedef struct avtb_cloud_recording {
    avtb_cloud_exchange *items;
    size_t count;
} avtb_cloud_recording;

/*
 * Reads a recording (a cloud-recording.jsonl, or an evidence directory
 * holding one). Errors name the file and line: AVTB_ERR_INPUT for a bad
 * line, AVTB_ERR_IO when it cannot be read. *out is the caller's.
 */
avtb_err avtb_cloud_load(const char *path, avtb_cloud_recording **out, avtb_error *err) AVTB_WUR;
void avtb_cloud_free(avtb_cloud_recording *r);

/*
 * The recorded answer for a request: the first unserved exchange with the
 * same host, method and target; else (honey documents have fresh tokens
 * and hashes every run, so queries differ) the first unserved one with the
 * same host, method and path, query ignored; else the last served one that
 * matches either way (a product that asks more often than it did when
 * recorded gets the same answer again); else NULL. Marks what it returns.
 */
const avtb_cloud_exchange *avtb_cloud_match(avtb_cloud_recording *r, const char *host,
                                            const char *method, const char *uri);

/* --connect-to HOST:PORT:TO_HOST:TO_PORT; an empty HOST or PORT matches any. */
typedef struct avtb_connect_to {
    char host[256];
    uint16_t port; /* 0: any */
    char to_host[256];
    uint16_t to_port;
} avtb_connect_to;

avtb_err avtb_connect_to_parse(const char *spec, avtb_connect_to *out, avtb_error *err) AVTB_WUR;

/* Where to connect for host:port: the first override that matches, or host:port itself. */
void avtb_connect_to_apply(const avtb_connect_to *list, size_t n, const char *host, uint16_t port,
                           const char **to_host, uint16_t *to_port);

/* The line recorded for one exchange (the caller owns it); NULL on out of memory. */
json_t *avtb_cloud_json(const avtb_cloud_exchange *x, const char *time, const char *error);

#endif
