/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Collector child processes; see child.h. Readiness travels over a pipe as
 * one message written with a single write(): 'R' for ready, 'E' and a text
 * for an error. EOF without a message means the child died first.
 */
#include "collectors/child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define READY_FD 3
#define MSG_MAX  1024

/* In the child, before fn: a clean, predictable process. */
static void child_prepare(pid_t parent, int ready_fd)
{
    sigset_t all;

    /* Dies with avtb even on SIGKILL; the check covers a parent already gone. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
        _exit(127);
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    /* Holding avtb's other descriptors (sockets, pipes to other children) would
     * keep them open after avtb closes them. */
    if (ready_fd != READY_FD) {
        if (dup2(ready_fd, READY_FD) < 0)
            _exit(127);
        close(ready_fd);
    }
    close_range(READY_FD + 1, ~0U, 0);
}

avtb_err avtb_child_start(const char *what, avtb_child_main fn, void *arg, unsigned timeout_ms,
                          pid_t *pid_out, avtb_error *err)
{
    char msg[MSG_MAX + 1], why[128];
    avtb_err r = AVTB_ERR_INTERNAL;
    int fds[2] = {-1, -1}, status;
    pid_t parent = getpid(), pid = -1;
    struct pollfd pfd;
    ssize_t n;
    int pr;

    *pid_out = -1;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "%s: pipe", what);
        goto out;
    }
    fflush(NULL); /* or buffered output would be written twice */
    pid = fork();
    if (pid < 0) {
        r = avtb_error_errno(err, AVTB_ERR_CHILD, errno, "%s: fork", what);
        goto out;
    }
    if (pid == 0) {
        close(fds[0]);
        child_prepare(parent, fds[1]);
        _exit(fn(arg, READY_FD));
    }
    close(fds[1]);
    fds[1] = -1;
    pfd.fd = fds[0];
    pfd.events = POLLIN;
    do
        pr = poll(&pfd, 1, (int)timeout_ms);
    while (pr < 0 && errno == EINTR);
    if (pr == 0) {
        kill(pid, SIGKILL);
        (void)avtb_wait_bounded(pid, 2000, &status);
        pid = -1;
        r = avtb_error_set(err, AVTB_ERR_TIMEOUT, "%s: not ready within %u ms; killed it", what,
                           timeout_ms);
        goto out;
    }
    do
        n = read(fds[0], msg, MSG_MAX);
    while (n < 0 && errno == EINTR);
    if (n > 0 && msg[0] == 'R') {
        *pid_out = pid;
        pid = -1; /* transferred */
        r = AVTB_OK;
        goto out;
    }
    /* Failed: it exits right after its message, or already has. */
    if (avtb_wait_bounded(pid, 2000, &status) != 1) {
        kill(pid, SIGKILL);
        (void)avtb_wait_bounded(pid, 2000, &status);
        status = 0;
    }
    pid = -1;
    if (n > 1 && msg[0] == 'E') {
        msg[n] = '\0';
        r = avtb_error_set(err, AVTB_ERR_CHILD, "%s: %s", what, msg + 1);
    } else {
        avtb_wait_status_text(status, why, sizeof(why));
        r = avtb_error_set(err, AVTB_ERR_CHILD, "%s: the process %s before it was ready", what,
                           why);
    }
out:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    return r;
}

void avtb_child_ready(int ready_fd)
{
    ssize_t n;

    do
        n = write(ready_fd, "R", 1);
    while (n < 0 && errno == EINTR);
    close(ready_fd);
}

void avtb_child_fail(int ready_fd, const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;
    ssize_t n;

    msg[0] = 'E';
    va_start(ap, fmt);
    vsnprintf(msg + 1, sizeof(msg) - 1, fmt, ap);
    va_end(ap);
    do
        n = write(ready_fd, msg, strlen(msg)); /* one write: below PIPE_BUF, atomic */
    while (n < 0 && errno == EINTR);
    close(ready_fd);
}

bool avtb_child_alive(const char *what, pid_t pid, avtb_error *err)
{
    siginfo_t info;
    int status;

    if (pid <= 0)
        return true;
    memset(&info, 0, sizeof(info));
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0)
        return true;
    status = info.si_code == CLD_EXITED ? (info.si_status & 0xff) << 8 : info.si_status & 0x7f;
    {
        char why[128];

        avtb_wait_status_text(status, why, sizeof(why));
        avtb_error_set(err, AVTB_ERR_CHILD, "%s: the process %s", what, why);
    }
    return false;
}

bool avtb_child_stop(const char *what, pid_t pid, unsigned timeout_ms, avtb_error *err)
{
    char why[128];
    int status = 0, w;

    if (pid <= 0)
        return true;
    w = avtb_wait_bounded(pid, 0, &status);
    if (w == 1) {
        avtb_wait_status_text(status, why, sizeof(why));
        avtb_error_set(err, AVTB_ERR_CHILD, "%s: the process %s before it was stopped", what, why);
        return false;
    }
    if (w < 0) {
        /* Someone else reaped it (waitpid(-1) elsewhere in avtb would do that). */
        avtb_error_errno(err, AVTB_ERR_INTERNAL, errno, "%s: cannot wait for process %d", what,
                         (int)pid);
        return false;
    }
    kill(pid, SIGTERM);
    w = avtb_wait_bounded(pid, timeout_ms, &status);
    if (w == 0) {
        kill(pid, SIGKILL);
        if (avtb_wait_bounded(pid, 2000, &status) != 1)
            avtb_warn("%s: process %d did not go away after SIGKILL", what, (int)pid);
        avtb_error_set(err, AVTB_ERR_TIMEOUT,
                       "%s: the process did not exit within %u ms of SIGTERM; killed it", what,
                       timeout_ms);
        return false;
    }
    if (w < 0) {
        avtb_error_errno(err, AVTB_ERR_INTERNAL, errno, "%s: cannot wait for process %d", what,
                         (int)pid);
        return false;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        avtb_wait_status_text(status, why, sizeof(why));
        avtb_error_set(err, AVTB_ERR_CHILD, "%s: the process %s when stopped", what, why);
        return false;
    }
    return true;
}
