/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Privilege separation; see sandbox.h. The confined call's child writes one
 * message on a pipe: 'O' and fn's bytes, or 'E' and fn's error message.
 */
#include "common/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/faults.h"
#include "common/log.h"
#include "common/util.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#define UNPRIVILEGED_ID 65534 /* nobody/nogroup on Debian */
#define REAP_MS         10000 /* a child that closed its pipe is about to exit */

/* System calls no confined process makes, whatever it parses. */
static const int denied[] = {
    SCMP_SYS(execve),
    SCMP_SYS(execveat),
    SCMP_SYS(fork),
    SCMP_SYS(vfork),
    SCMP_SYS(ptrace),
    SCMP_SYS(process_vm_readv),
    SCMP_SYS(process_vm_writev),
    SCMP_SYS(mount),
    SCMP_SYS(umount2),
    SCMP_SYS(pivot_root),
    SCMP_SYS(chroot),
    SCMP_SYS(unshare),
    SCMP_SYS(setns),
    SCMP_SYS(bpf),
    SCMP_SYS(keyctl),
    SCMP_SYS(add_key),
    SCMP_SYS(request_key),
    SCMP_SYS(init_module),
    SCMP_SYS(finit_module),
    SCMP_SYS(delete_module),
    SCMP_SYS(kexec_load),
    SCMP_SYS(kexec_file_load),
    SCMP_SYS(reboot),
    SCMP_SYS(swapon),
    SCMP_SYS(swapoff),
    SCMP_SYS(perf_event_open),
    SCMP_SYS(userfaultfd),
    SCMP_SYS(open_by_handle_at),
    SCMP_SYS(name_to_handle_at),
    SCMP_SYS(setuid),
    SCMP_SYS(setgid),
    SCMP_SYS(setreuid),
    SCMP_SYS(setregid),
    SCMP_SYS(setresuid),
    SCMP_SYS(setresgid),
    SCMP_SYS(setfsuid),
    SCMP_SYS(setfsgid),
    SCMP_SYS(setgroups),
    SCMP_SYS(capset),
    SCMP_SYS(personality),
    SCMP_SYS(io_uring_setup),
    SCMP_SYS(acct),
    SCMP_SYS(settimeofday),
    SCMP_SYS(clock_settime),
};

static avtb_err fail(avtb_error *err, const char *what, const char *step, int errnum)
{
    return avtb_error_errno(err, AVTB_ERR_INTERNAL, errnum, "%s: cannot confine the process: %s",
                            what, step);
}

/* nobody/nogroup, looked up while NSS may still open files and sockets. */
static void unprivileged_ids(uid_t *uid, gid_t *gid)
{
    const struct passwd *pw = getpwnam("nobody");
    const struct group *gr = getgrnam("nogroup");

    *uid = pw != NULL ? pw->pw_uid : UNPRIVILEGED_ID;
    *gid = gr != NULL ? gr->gr_gid : UNPRIVILEGED_ID;
}

static avtb_err drop_root(const char *what, avtb_error *err)
{
    uid_t uid;
    gid_t gid;

    unprivileged_ids(&uid, &gid);
    if (uid == 0 || gid == 0)
        return avtb_error_set(err, AVTB_ERR_INTERNAL,
                              "%s: cannot confine the process: user nobody is root here", what);
    /* The bounding set needs CAP_SETPCAP, which goes with the uid. */
    for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
            return fail(err, what, "PR_CAPBSET_DROP", errno);
    if (setgroups(0, NULL) != 0)
        return fail(err, what, "setgroups", errno);
    if (setresgid(gid, gid, gid) != 0)
        return fail(err, what, "setresgid", errno);
    if (setresuid(uid, uid, uid) != 0)
        return fail(err, what, "setresuid", errno);
    if (setuid(0) == 0 || geteuid() == 0)
        return avtb_error_set(err, AVTB_ERR_INTERNAL,
                              "%s: cannot confine the process: it can become root again", what);
    return AVTB_OK;
}

/* Effective, permitted, inheritable and ambient sets emptied, and checked. */
static avtb_err drop_caps(const char *what, avtb_error *err)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return fail(err, what, "clearing the ambient capabilities", errno);
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capset, &hdr, data) != 0)
        return fail(err, what, "capset", errno);
    if (syscall(SYS_capget, &hdr, data) != 0)
        return fail(err, what, "capget", errno);
    for (size_t i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
        if (data[i].effective != 0 || data[i].permitted != 0)
            return avtb_error_set(err, AVTB_ERR_INTERNAL,
                                  "%s: cannot confine the process: capabilities remain", what);
    return AVTB_OK;
}

static int add_rules(scmp_filter_ctx ctx, unsigned flags, const char **failed)
{
    /* Every family the sink needs is at most AF_INET6 (10): AF_UNIX 1, AF_INET 2. */
    static const int bad_families[] = {AF_UNSPEC, 3, 4, 5, 6, 7, 8, 9};
    int rc;

    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, denied[i], 0);
        if (rc != 0) {
            static char name[32];
            char *resolved = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, denied[i]);

            snprintf(name, sizeof(name), "%s", resolved ? resolved : "?");
            free(resolved); /* libseccomp's own copy */
            *failed = name;
            return rc;
        }
    }
    *failed = "clone";
    rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(clone), 1,
                          SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
    if (rc != 0)
        return rc;
    *failed = "clone3";
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc != 0)
        return rc;
    *failed = "socket";
    if (!(flags & AVTB_SANDBOX_NET)) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(socket), 0);
        if (rc == 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(socketpair), 0);
        return rc;
    }
    /* One comparison per argument and rule: the families between are listed. */
    rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(socket), 1,
                          SCMP_A0(SCMP_CMP_GT, AF_INET6));
    for (size_t i = 0; rc == 0 && i < sizeof(bad_families) / sizeof(bad_families[0]); i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)bad_families[i]));
    return rc;
}

static avtb_err load_filter(const char *what, unsigned flags, avtb_error *err)
{
    /* Valgrind (3.19) implements neither seccomp(2) nor its prctl: the memcheck
     * pass over the unit suites runs the confined code without the filter. */
    if (RUNNING_ON_VALGRIND) {
        avtb_warn("%s: running under Valgrind, which has no seccomp: no filter", what);
        return AVTB_OK;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    const char *failed = "seccomp_init";
    avtb_err r = AVTB_ERR_INTERNAL;
    int rc = -ENOMEM;

    if (ctx == NULL)
        goto out;
    failed = "SCMP_FLTATR_CTL_NNP";
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
    if (rc == 0)
        rc = add_rules(ctx, flags, &failed);
    if (rc == 0) {
        failed = "seccomp_load";
        rc = seccomp_load(ctx);
    }
out:
    if (rc != 0)
        r = avtb_error_errno(err, AVTB_ERR_INTERNAL, -rc,
                             "%s: cannot confine the process: seccomp filter (%s)", what,
                             failed ? failed : "?");
    else
        r = AVTB_OK;
    seccomp_release(ctx);
    return r;
}

avtb_err avtb_sandbox_enter(const char *what, unsigned flags, avtb_error *err)
{
    struct rlimit no_core = {0, 0};
    pid_t parent = getppid();
    int deathsig = 0;
    avtb_err r;

    if (prctl(PR_GET_PDEATHSIG, &deathsig, 0, 0, 0) != 0)
        return fail(err, what, "PR_GET_PDEATHSIG", errno);
    if (geteuid() == 0 && (r = drop_root(what, err)) != AVTB_OK)
        return r;
    /* A new uid or gid clears the parent-death signal (prctl(2)): without it
     * again, a SIGKILLed avtb would leave this process running. */
    if (deathsig != 0 && prctl(PR_SET_PDEATHSIG, deathsig, 0, 0, 0) != 0)
        return fail(err, what, "PR_SET_PDEATHSIG", errno);
    if (deathsig != 0 && getppid() != parent)
        return avtb_error_set(err, AVTB_ERR_CHILD, "%s: avtb exited while it started", what);
    if ((r = drop_caps(what, err)) != AVTB_OK)
        return r;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fail(err, what, "PR_SET_NO_NEW_PRIVS", errno);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return fail(err, what, "PR_SET_DUMPABLE", errno);
    if (setrlimit(RLIMIT_CORE, &no_core) != 0)
        return fail(err, what, "RLIMIT_CORE", errno);
    return load_filter(what, flags, err);
}

void avtb_confined_text(char *p, size_t len, bool keep_lines)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        if ((c < 0x20 && !(keep_lines && (c == '\n' || c == '\t'))) || c == 0x7f)
            p[i] = '?';
    }
}

/* Writes all of p, or returns false. */
static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* The child: never returns. */
static void confined_child(const char *what, const char *dir, avtb_confined_fn fn, void *arg,
                           pid_t parent, int fd)
{
    char name[16], fault[64];
    avtb_error err = {0};
    avtb_buf out = {0};
    int rc = 0;

    snprintf(name, sizeof(name), "avtb-%s", what);
    prctl(PR_SET_NAME, name, 0, 0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127);
    /* Ctrl-C reaches the whole group; avtb decides, and the analysis finishes. */
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    /* The parent's descriptors (libvirt's connection, say) are not the child's business. */
    if (fd != 3 && (dup2(fd, 3) < 0 || close(fd) != 0))
        _exit(127);
    close_range(4, ~0U, 0);
    if (chdir(dir) != 0) {
        avtb_error_errno(&err, AVTB_ERR_IO, errno, "cannot enter %s", dir);
        rc = 1;
    } else if (avtb_sandbox_enter(what, 0, &err) != AVTB_OK) {
        rc = 1;
    } else if (access(".", R_OK | X_OK) != 0) {
        avtb_error_errno(&err, AVTB_ERR_IO, errno,
                         "%s is not readable by the unprivileged user the %s runs as (chmod "
                         "a+rX it and its files)",
                         dir, what);
        rc = 1;
    }
    if (rc == 0) {
        snprintf(fault, sizeof(fault), "%s-crash", what);
        if (avtb_fault(fault)) {
            signal(SIGSEGV, SIG_DFL); /* AddressSanitizer's handler would exit(1) */
            raise(SIGSEGV);
        }
        snprintf(fault, sizeof(fault), "%s-syscall", what);
        if (avtb_fault(fault)) {
            char *const argv[] = {(char *)"true", NULL};

            execve("/bin/true", argv, NULL);
        }
        avtb_buf_byte(&out, 'O');
        if (fn(arg, &out, &err) != AVTB_OK)
            rc = 1;
        else if (out.fail != AVTB_BUF_OK && avtb_error_set(&err, AVTB_ERR_NOMEM, "out of memory"))
            rc = 1;
    }
    if (rc != 0) {
        avtb_buf_free(&out);
        avtb_buf_byte(&out, 'E');
        avtb_buf_str(&out, err.msg[0] ? err.msg : avtb_err_name(err.code));
    }
    fflush(stdout);
    _exit(out.p != NULL && write_all(3, out.p, out.len) ? 0 : 2);
}

/* Reads the child's message until EOF, at most max + 1 bytes, until deadline (0: none). */
static avtb_err read_reply(const char *what, int fd, size_t max, const struct timespec *deadline,
                           bool (*stop)(void), avtb_buf *b, avtb_error *err)
{
    char chunk[65536];

    /* The kind byte, and room for an error message however small max is. */
    b->limit = (max > AVTB_ERRMSG_MAX ? max : AVTB_ERRMSG_MAX) + 1;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int wait_ms = -1, pr;
        ssize_t n;

        if (deadline->tv_sec != 0) {
            struct timespec now;
            long left;

            clock_gettime(CLOCK_MONOTONIC, &now);
            left = (deadline->tv_sec - now.tv_sec) * 1000 +
                   (deadline->tv_nsec - now.tv_nsec) / 1000000;
            if (left <= 0)
                return avtb_error_set(err, AVTB_ERR_TIMEOUT,
                                      "%s process: no result in the time allowed; killed it",
                                      what);
            wait_ms = left > 60000 ? 60000 : (int)left;
        }
        /* A signal interrupts poll(); the caller says whether it means stop. */
        if (stop != NULL && stop())
            return avtb_error_set(err, AVTB_ERR_INTERRUPTED, "%s process: stopped by a signal",
                                  what);
        pr = poll(&p, 1, stop != NULL && (wait_ms < 0 || wait_ms > 500) ? 500 : wait_ms);
        if (pr < 0 && errno != EINTR)
            return avtb_error_errno(err, AVTB_ERR_IO, errno, "%s process: poll", what);
        if (pr <= 0)
            continue;
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return avtb_error_errno(err, AVTB_ERR_IO, errno, "%s process: read", what);
        if (n == 0)
            return AVTB_OK;
        avtb_buf_add(b, chunk, (size_t)n);
        if (b->fail == AVTB_BUF_TOOBIG || (b->p != NULL && b->p[0] == 'O' && b->len > max + 1))
            return avtb_error_set(err, AVTB_ERR_CHILD,
                                  "%s process: its result is larger than %zu bytes; killed it",
                                  what, max);
        if (b->fail != AVTB_BUF_OK)
            return avtb_error_set(err, AVTB_ERR_NOMEM, "%s process: out of memory", what);
    }
}

avtb_err avtb_confined_call(const char *what, const char *dir, avtb_confined_fn fn, void *arg,
                            size_t max, unsigned timeout_ms, char **out, size_t *len,
                            avtb_error *err)
{
    return avtb_confined_call_stoppable(what, dir, fn, arg, max, timeout_ms, NULL, out, len, err);
}

avtb_err avtb_confined_start(const char *what, const char *dir, avtb_confined_fn fn, void *arg,
                             avtb_confined *c, avtb_error *err)
{
    int fds[2] = {-1, -1};
    pid_t parent = getpid();

    c->what = what;
    c->pid = -1;
    c->fd = -1;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "%s process: pipe", what);
    fflush(NULL); /* or buffered output would be written twice */
    c->pid = fork();
    if (c->pid < 0) {
        avtb_err r = avtb_error_errno(err, AVTB_ERR_CHILD, errno, "%s process: fork", what);

        close(fds[0]);
        close(fds[1]);
        return r;
    }
    if (c->pid == 0) {
        close(fds[0]);
        confined_child(what, dir, fn, arg, parent, fds[1]);
    }
    close(fds[1]);
    c->fd = fds[0];
    return AVTB_OK;
}

avtb_err avtb_confined_finish(avtb_confined *c, size_t max, unsigned timeout_ms,
                              bool (*stop)(void), char **out, size_t *len, avtb_error *err)
{
    struct timespec deadline = {0, 0};
    const char *what = c->what;
    avtb_err r;
    int status = 0;
    avtb_buf b = {0};
    char why[160];

    *out = NULL;
    *len = 0;
    if (c->pid <= 0)
        return avtb_error_set(err, AVTB_ERR_INTERNAL, "%s process: not started", what);
    if (timeout_ms > 0) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    r = read_reply(what, c->fd, max, &deadline, stop, &b, err);
    if (r != AVTB_OK || avtb_wait_bounded(c->pid, REAP_MS, &status) != 1) {
        if (r == AVTB_OK)
            r = avtb_error_set(err, AVTB_ERR_TIMEOUT,
                               "%s process: did not exit after its result; killed it", what);
        goto out;
    }
    c->pid = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || b.len == 0) {
        avtb_wait_status_text(status, why, sizeof(why));
        r = avtb_error_set(err, AVTB_ERR_CHILD, "%s process %s%s", what, why,
                           WIFEXITED(status) && b.len == 0 ? " with no result" : "");
        goto out;
    }
    if (b.p[0] != 'O') {
        /* The child's own message: text it chose. */
        avtb_confined_text((char *)b.p + 1, b.len - 1, false);
        r = avtb_error_set(err, AVTB_ERR_CHILD, "%s process: %.*s", what, (int)(b.len - 1),
                           (const char *)b.p + 1);
        goto out;
    }
    *len = b.len - 1;
    memmove(b.p, b.p + 1, b.len); /* and the NUL */
    *out = (char *)b.p;
    b.p = NULL; /* transferred */
    r = AVTB_OK;
out:
    avtb_confined_abandon(c);
    avtb_buf_free(&b);
    return r;
}

void avtb_confined_abandon(avtb_confined *c)
{
    int status;

    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        (void)avtb_wait_bounded(c->pid, REAP_MS, &status);
    }
    c->pid = -1;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

avtb_err avtb_confined_call_stoppable(const char *what, const char *dir, avtb_confined_fn fn,
                                      void *arg, size_t max, unsigned timeout_ms,
                                      bool (*stop)(void), char **out, size_t *len,
                                      avtb_error *err)
{
    avtb_confined c;
    avtb_err r;

    *out = NULL;
    *len = 0;
    r = avtb_confined_start(what, dir, fn, arg, &c, err);
    return r != AVTB_OK ? r : avtb_confined_finish(&c, max, timeout_ms, stop, out, len, err);
}
