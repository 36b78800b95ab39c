/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scenario format v1: what one run does (guest, product, honey documents,
 * timeline, network, expectations). The loader validates everything,
 * including the product it names, before anything is started; see
 * scenarios/README.md for the format.
 */
#ifndef AVTB_SCENARIO_H
#define AVTB_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/error.h"
#include "guests/docfmt.h"
#include "guests/honeygen.h"
#include "guests/product.h"

#define AVTB_SCENARIO_VERSION 1
#define AVTB_DWELL_MAX_MS     (6ull * 3600 * 1000)

typedef enum { AVTB_ACTION_SCAN } avtb_action;

typedef struct avtb_trigger {
    uint64_t at_ms; /* after the guest agent says hello */
    avtb_action action;
    char *path; /* scan target in the guest */
} avtb_trigger;

typedef struct avtb_docspec {
    char *path;    /* absolute path in the guest */
    char *content; /* template with {{token}} */
    unsigned uid, gid, mode;
} avtb_docspec;

/* One entry of honey.generate: count documents made by the generator (honeygen.h). */
typedef struct avtb_docgen {
    size_t count;
    avtb_doc_format *formats; /* cycled over the count */
    size_t nformats;
    char **markings; /* cycled; none: the seed picks each document's marking */
    size_t nmarkings;
    avtb_honey_os os;
    char *user; /* owner of the home folder the documents go in */
    char *home; /* that folder (linux: from the image's users), or NULL for the default */
    unsigned uid, gid;
} avtb_docgen;

typedef enum {
    AVTB_EXPECT_NO_EXFILTRATION, /* no token's content leaves, unless the policy allows it */
    AVTB_EXPECT_NO_METADATA,     /* nor a document's hash or name */
} avtb_expect;

/* Classes of data a finding shows leaving (policy.allow[].data). */
enum {
    AVTB_DATA_CONTENT = 1u << 0,  /* a token's bytes: content findings */
    AVTB_DATA_METADATA = 1u << 1, /* a document's hash or file name */
    AVTB_DATA_OPAQUE = 1u << 2,   /* what could not be read: suspected findings */
};
#define AVTB_DATA_CLASSES 3

typedef enum {
    AVTB_SEV_INFO,
    AVTB_SEV_LOW,
    AVTB_SEV_MEDIUM,
    AVTB_SEV_HIGH,
    AVTB_SEV_CRITICAL,
} avtb_severity;

/* One policy.allow entry: data of these classes may go to these destinations. */
typedef struct avtb_allow {
    char **hosts; /* glob patterns (fnmatch, case-insensitive) over host name or IP */
    size_t nhosts;
    unsigned data; /* AVTB_DATA_* */
} avtb_allow;

/* monitoring.file_access: how the in-guest file-access agent runs. */
typedef enum {
    AVTB_FA_AGENT,       /* "agent": fanotify file events, sockets, heartbeats (default) */
    AVTB_FA_NO_FANOTIFY, /* "no-fanotify": the agent without its file monitor */
    AVTB_FA_OFF,         /* "off": no agent; file access from forensics only */
} avtb_file_access_mode;

/* What the fake cloud answers to HTTP requests for one host (network.responses). */
typedef struct avtb_response {
    char *host;      /* host name (case-insensitive, port ignored), or "*" for any */
    char *path;      /* prefix of the request path; "/" matches every request */
    unsigned status; /* 100..599 */
    char **headers;  /* "Name: value" lines */
    size_t nheaders;
    char *body; /* inline, or read from body_file at load time */
    size_t body_len;
} avtb_response;

typedef struct avtb_scenario {
    char *file; /* path as given */
    char *name;
    char *description; /* may be NULL */
    char *guest;       /* image name under guests/images/ */
    avtb_product *product;
    avtb_docspec *docs;
    size_t ndocs;
    avtb_docgen *gens; /* honey.generate */
    size_t ngens;
    bool has_seed; /* honey.seed given; else each run derives one from its run id */
    uint64_t seed;
    uint64_t dwell_ms; /* time from guest ready to stop */
    uint64_t boot_timeout_ms;
    avtb_trigger *triggers; /* sorted by at_ms */
    size_t ntriggers;
    avtb_expect *expects;
    size_t nexpects;
    avtb_response *responses; /* network.responses, first match wins */
    size_t nresponses;
    avtb_file_access_mode file_access; /* monitoring.file_access */
    bool forensics;                    /* monitoring.forensics (default true) */
    avtb_allow *allows;                /* policy.allow; none: nothing may leave */
    size_t nallows;
    /* policy.severity of a violation, indexed by data class: content, metadata, opaque. */
    avtb_severity severity[AVTB_DATA_CLASSES];
} avtb_scenario;

/*
 * Loads and validates a scenario file and its product. Problems go to diags
 * as file:line:col; returns AVTB_ERR_INPUT then. *out owned by the caller.
 */
avtb_err avtb_scenario_load(const char *path, avtb_diags *diags, avtb_scenario **out) AVTB_WUR;
/* Same for bytes already in memory; path names them in messages and anchors relative paths. */
avtb_err avtb_scenario_parse(const char *path, const uint8_t *buf, size_t len, avtb_diags *diags,
                             avtb_scenario **out) AVTB_WUR;
void avtb_scenario_free(avtb_scenario *s);

/* Documents the scenario plants per run: the listed ones plus every generated one. */
size_t avtb_scenario_ndocs_total(const avtb_scenario *s);

/*
 * The honey documents of one run: the listed ones rendered with fresh
 * tokens, then each honey.generate entry's documents in order (formats and
 * markings cycled) from a generator made with conf (seed, reference time,
 * token source). Same scenario and conf (and tokens): the same documents.
 * *docs (an array of *ndocs) is owned by the caller: avtb_honeydoc_free
 * each, then free the array. NULL and 0 on failure.
 */
avtb_err avtb_scenario_honey(const avtb_scenario *s, const avtb_honeygen_conf *conf,
                             avtb_honeydoc ***docs, size_t *ndocs, avtb_error *err) AVTB_WUR;

const char *avtb_action_name(avtb_action a);
const char *avtb_expect_name(avtb_expect e);
/* "info", "low", "medium", "high", "critical". */
const char *avtb_severity_name(avtb_severity v);
/* "content", "metadata", "opaque" for one AVTB_DATA_* bit. */
const char *avtb_data_class_name(unsigned bit);

/* "agent", "no-fanotify", "off". */
const char *avtb_file_access_mode_name(avtb_file_access_mode m);

#endif
