/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helper processes for collectors (capture.c, sink.c): fork a child that
 * dies with avtb, wait until it reports ready (or why it could not start),
 * and stop it with SIGTERM, then SIGKILL, within a time limit.
 */
#ifndef AVTB_CHILD_H
#define AVTB_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

/*
 * The child's body. It calls avtb_child_ready(ready_fd) once it serves, or
 * avtb_child_fail(ready_fd, ...) and returns non-zero. Its return value is
 * the exit status. SIGINT is ignored in the child (avtb stops it in order on
 * Ctrl-C); SIGTERM has its default action until the body installs a handler.
 */
typedef int (*avtb_child_main)(void *arg, int ready_fd);

/*
 * Forks and runs fn(arg) in the child, which gets PR_SET_PDEATHSIG(SIGTERM)
 * and only fds 0-2 plus ready_fd. Returns once the child is ready (*pid
 * set), or with the child's own message (AVTB_ERR_CHILD) when it failed, or
 * AVTB_ERR_TIMEOUT after timeout_ms (the child is killed). `what` names the
 * child in messages.
 */
avtb_err avtb_child_start(const char *what, avtb_child_main fn, void *arg, unsigned timeout_ms,
                          pid_t *pid, avtb_error *err) AVTB_WUR;
/* In the child: the parent may go on. */
void avtb_child_ready(int ready_fd);
/* In the child: why it cannot start; the parent's error message. */
void avtb_child_fail(int ready_fd, const char *fmt, ...) AVTB_PRINTF(2, 3);

/*
 * Whether the child still runs, without reaping it (avtb_child_stop does):
 * false with how it ended in err.
 */
bool avtb_child_alive(const char *what, pid_t pid, avtb_error *err);

/*
 * Sends SIGTERM and waits up to timeout_ms, then SIGKILLs. Returns true only
 * if the child was still running when asked and exited with status 0;
 * otherwise err says what happened (died early, status, signal, killed).
 */
bool avtb_child_stop(const char *what, pid_t pid, unsigned timeout_ms, avtb_error *err);

#endif
