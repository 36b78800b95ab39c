/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The file access channel (guests/agent/PROTOCOL.md, "File access channel,
 * version 1") seen from the host: a live monitor that run.c feeds with the
 * decoded guest messages (is the agent alive, did it lose events), and the
 * loader of the evidence file file-access.jsonl that chain.c and `avtb
 * analyze` read. Pure analysis: no sockets. Every guest value is hostile.
 * Report fields: collectors/FILEACCESS.md.
 */
#ifndef AVTB_FILEACCESS_H
#define AVTB_FILEACCESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define AVTB_FA_FILE "file-access.jsonl"

/* --- the live monitor ------------------------------------------------------ */

/* A heartbeat gap longer than max(this, 5 x heartbeat_ms) means the agent stopped. */
#define AVTB_FA_GAP_MIN_S 5.0
/* heartbeat_ms from the guest is clamped to this range. */
#define AVTB_FA_HB_MIN_MS 10
#define AVTB_FA_HB_MAX_MS 3600000
/* Interruptions kept; later ones are only counted ("gaps_omitted"). */
#define AVTB_FA_MAX_GAPS 64
/* Guest strings kept by the monitor (agent, kernel, reason) are cut here. */
#define AVTB_FA_MON_STR 256

typedef struct avtb_fa_monitor avtb_fa_monitor;

/* NULL when out of memory. */
avtb_fa_monitor *avtb_fa_monitor_new(void);
void avtb_fa_monitor_free(avtb_fa_monitor *m); /* NULL ok */

/*
 * One well-formed channel message (the agent decoder's callback: an object
 * with a string "type"; msg is borrowed) received at host wall-clock time now
 * (seconds since the epoch). Unknown types are counted, fields of the wrong
 * type are ignored, and so is every message after avtb_fa_monitor_end
 * (counted as "ignored").
 */
void avtb_fa_monitor_msg(avtb_fa_monitor *m, const char *type, json_t *msg, double now);
/* A malformed line (the decoder's anomaly). */
void avtb_fa_monitor_anomaly(avtb_fa_monitor *m, double now);
/* Called about once a second: notes a loss when heartbeats stopped
 * (gap > max(AVTB_FA_GAP_MIN_S, 5 x heartbeat_ms)). */
void avtb_fa_monitor_tick(avtb_fa_monitor *m, double now);
/* The run stopped watching at now (guest powered off or destroyed).
 * disabled: the scenario turned the agent off. Later calls are ignored. */
void avtb_fa_monitor_end(avtb_fa_monitor *m, double now, bool disabled);

/* "monitored", "lost", "no-fanotify", "never-connected" or "disabled" (so far). */
const char *avtb_fa_monitor_status(const avtb_fa_monitor *m);

/* report.json's "file_access" object (FILEACCESS.md); new reference, NULL when out of memory. */
json_t *avtb_fa_monitor_json(const avtb_fa_monitor *m);

/*
 * Why the evidence is incomplete because of monitoring (lost, interrupted),
 * as sentences: *out is a malloc'd array of malloc'd strings (NULL when
 * none), the caller frees both. Returns the count (0 also when out of memory).
 */
size_t avtb_fa_monitor_problems(const avtb_fa_monitor *m, char ***out);

/*
 * One sentence when the run has file access from forensics only (no hello,
 * fanotify false, disabled) or when the agent lost events (overflows,
 * dropped lines), else NULL. Borrowed: valid until the next call on m.
 */
const char *avtb_fa_monitor_notice(const avtb_fa_monitor *m);

/* --- the evidence log: file-access.jsonl ----------------------------------- */

enum {
    AVTB_FA_OPEN = 1,
    AVTB_FA_OPEN_EXEC = 2,
    AVTB_FA_ACCESS = 4,
    AVTB_FA_MODIFY = 8,
    AVTB_FA_CLOSE_WRITE = 16,
    AVTB_FA_CLOSE_NOWRITE = 32,
};

/* A "file" line. Strings are NULL when the guest sent null or a wrong type;
 * they belong to the log (shared between events, never freed one by one). */
typedef struct avtb_fa_event {
    size_t line;       /* 1-based line in file-access.jsonl */
    double t, t_last;  /* guest wall clock; t_last == t unless a burst */
    unsigned mask;     /* AVTB_FA_* */
    uint64_t count;    /* events in the burst, >= 1 */
    int64_t pid, ppid; /* ppid, uid: -1 when unknown */
    int64_t uid;
    char *comm, *exe, *cmdline;
    char *path; /* " (deleted)" removed */
} avtb_fa_event;

/* A "socket" line; the same rules. */
typedef struct avtb_fa_socket {
    size_t line;
    double t;
    int64_t pid;
    char *comm, *exe, *proto, *local, *remote, *state;
} avtb_fa_socket;

typedef struct avtb_fa_log {
    avtb_fa_event *events; /* in file order */
    size_t nevents;
    avtb_fa_socket *sockets;
    size_t nsockets;
    size_t lines;      /* lines read */
    size_t bad_lines;  /* lines not usable: not JSON, too long, no object "msg", a
                          file/socket line missing t, mask, pid or local */
    size_t bad_fields; /* optional fields of the wrong type, ignored */
    size_t anomalies;  /* the host's anomaly records (malformed guest lines) */
    bool truncated;    /* a limit stopped the loader: evidence left out */
    void *strings;     /* private: the interned strings */
} avtb_fa_log;

/* Zero fields: defaults (2M lines, 65536 bytes a line, 2M events, 200k sockets). */
typedef struct avtb_fa_log_limits {
    size_t max_lines;
    size_t max_line;
    size_t max_events;
    size_t max_sockets;
} avtb_fa_log_limits;

/*
 * Parses the content of file-access.jsonl (l may be NULL: defaults). Content
 * never fails: bad lines are counted. Only AVTB_ERR_NOMEM fails. *out (NULL
 * on entry) is freed with avtb_fa_log_free.
 */
avtb_err avtb_fa_log_parse(const uint8_t *buf, size_t len, const avtb_fa_log_limits *l,
                           avtb_fa_log **out, avtb_error *err) AVTB_WUR;
/*
 * Streams a file through the same parser. A missing file is
 * AVTB_ERR_NOT_FOUND (a run without file-access evidence: the caller decides
 * whether that matters); one that cannot be read is AVTB_ERR_IO.
 */
avtb_err avtb_fa_log_load(const char *path, const avtb_fa_log_limits *l, avtb_fa_log **out,
                          avtb_error *err) AVTB_WUR;
void avtb_fa_log_free(avtb_fa_log *l); /* NULL ok */

#endif
