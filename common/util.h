/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small host-side utilities shared by every folder: paths, whole-file I/O,
 * hashing and running a helper program with a time limit.
 */
#ifndef AVTB_UTIL_H
#define AVTB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

/* Joins dir and name; an absolute name is returned as is. Caller frees. */
char *avtb_path_join(const char *dir, const char *name);
/* The directory avtb reads guests/ and scenarios/ from ($AVTB_DATADIR). */
const char *avtb_datadir(void);

avtb_err avtb_mkdir_p(const char *path, mode_t mode, avtb_error *err) AVTB_WUR;
/* Removes a directory tree; missing is fine. Refuses "/" and "". */
avtb_err avtb_rm_rf(const char *path, avtb_error *err) AVTB_WUR;

/* Reads a whole file of at most max bytes; *out is NUL-terminated, caller frees. */
avtb_err avtb_read_file(const char *path, size_t max, uint8_t **out, size_t *len,
                        avtb_error *err) AVTB_WUR;
/* The last max bytes of a file (all of it when smaller); *out NUL-terminated, caller frees. */
avtb_err avtb_read_file_tail(const char *path, size_t max, uint8_t **out, size_t *len,
                             avtb_error *err) AVTB_WUR;
/* Writes via a temporary file, fsync and rename, so readers never see half a file. */
avtb_err avtb_write_file(const char *path, const void *buf, size_t len, mode_t mode,
                         avtb_error *err) AVTB_WUR;

/* n bytes as lower-case hex into out, which holds 2 * n + 1. */
void avtb_hex(const void *buf, size_t n, char *out);
/* Lower-case hex SHA-256 of a buffer into out[65]. */
void avtb_sha256_hex(const void *buf, size_t len, char out[65]);
/* Same for a file; streams it. */
avtb_err avtb_sha256_file(const char *path, char out[65], avtb_error *err) AVTB_WUR;

/*
 * Runs argv[0] (PATH search) with stdin from /dev/null, stderr inherited and
 * stdout captured (up to 1 MiB, NUL-terminated, caller frees *out when
 * non-NULL). Kills the child with SIGKILL after timeout_ms (0: no limit) and
 * returns AVTB_ERR_TIMEOUT. *exit_status is the exit code, or 128+signal.
 */
avtb_err avtb_spawn(const char *const argv[], unsigned timeout_ms, char **out, int *exit_status,
                    avtb_error *err) AVTB_WUR;
/* avtb_spawn for a probe: its output is discarded, stderr included. */
avtb_err avtb_spawn_quiet(const char *const argv[], unsigned timeout_ms, int *exit_status,
                          avtb_error *err) AVTB_WUR;

/*
 * Describes a wait status for a message: "exited with status 1", "was killed
 * by signal 11 (Segmentation fault)"; SIGSYS adds that the sandbox
 * (common/sandbox.h) forbade a system call.
 */
void avtb_wait_status_text(int status, char *buf, size_t len);
/* Waits for pid up to timeout_ms: 1 reaped (*status set), 0 still running, -1 error (errno). */
int avtb_wait_bounded(pid_t pid, unsigned timeout_ms, int *status);

/* Current UTC time as RFC 3339 with milliseconds into buf[32]. */
void avtb_utc_now(char buf[32]);
/*
 * A Unix time (seconds, any fraction) as RFC 3339 UTC with milliseconds,
 * "2026-11-26T13:29:03.123Z", into buf[32]. Times that are not finite, are
 * negative or lie past 9999 (guest-supplied ones can) give "" and false.
 */
bool avtb_utc_format(double t, char buf[32]);

#endif
