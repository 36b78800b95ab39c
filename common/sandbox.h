/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Privilege separation: the processes that parse what the guest sends (the
 * sink, the capture, the analysis) give up root and most of the kernel
 * before they touch a hostile byte, so that a parser bug is contained the
 * way OpenSSH contains its pre-authentication child (orchestrator/PRIVSEP.md).
 */
#ifndef AVTB_SANDBOX_H
#define AVTB_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/error.h"

/* The process may still make AF_INET, AF_INET6 and AF_UNIX sockets (the sink). */
#define AVTB_SANDBOX_NET 0x1u

/*
 * Confines the calling process for good. Call it in a single-threaded child
 * once it holds every descriptor it needs (sockets bound, logs open): after
 * it, nothing new can be bound below port 1024, nor opened where root alone
 * may write.
 *
 * As root: supplementary groups cleared, uid and gid `nobody`/`nogroup`
 * (65534 when those names do not resolve), checked by trying setuid(0).
 * The uid is what protects the host's files: the filter below does not look
 * at paths, so it is plain DAC that stops a nobody process from writing
 * root's files, reading 0600 secrets or signalling root's processes.
 * Not as root (the unit tests): the uid stays; the rest applies.
 *
 * Always: every capability dropped (bounding set when permitted, ambient,
 * effective, permitted, inheritable), no_new_privs, not dumpable, no core
 * files, and a seccomp filter that kills the process (SIGSYS) on a system
 * call no parser makes: execve/execveat, fork/vfork/clone without
 * CLONE_THREAD (threads stay allowed; clone3 fails with ENOSYS so glibc
 * falls back to clone), ptrace and process_vm_*, mount and namespace calls,
 * bpf, keyrings, modules, kexec, reboot, swap, perf_event_open, userfaultfd,
 * file handles, the setuid family, capset, personality, io_uring, acct,
 * setting the clock; socket()/socketpair() unless AVTB_SANDBOX_NET, and
 * with it any family but AF_INET, AF_INET6 and AF_UNIX (no netlink, no
 * packet sockets).
 *
 * Why a denylist: the parsers need malloc/mmap/read/write/openat and
 * whatever OpenSSL, libevent, jansson, libpcap, libarchive and glibc call
 * underneath, which changes with their versions; an allowlist across them
 * breaks on an upgrade in ways only a hostile input finds. The denylist
 * removes what turns a memory bug into a host compromise (new programs,
 * other processes, the kernel's wide attack surfaces); the uid removes the
 * files.
 *
 * `what` names the process in messages. Returns AVTB_ERR_INTERNAL (with a
 * message naming the step) when a step fails: the caller must not go on.
 */
avtb_err avtb_sandbox_enter(const char *what, unsigned flags, avtb_error *err) AVTB_WUR;

/*
 * The body of a confined call: runs in the confined child and appends its
 * result to out. An error's message reaches the caller.
 */
typedef avtb_err (*avtb_confined_fn)(void *arg, avtb_buf *out, avtb_error *err);

/*
 * Runs fn(arg) in a child process named "avtb-<what>" that chdir()s into
 * dir (as root, before the drop, so that a 0700 directory above it does not
 * lock it out; fn then opens files relative to "."; dir itself and what fn
 * reads must be readable by others, as avtb's evidence is), keeps only fds 0-2,
 * enters the sandbox without network, and sends back fn's bytes. At most
 * max bytes are accepted; the child is killed after timeout_ms (0: no
 * limit). On success *out (NUL-terminated, caller frees) holds *len bytes.
 * Otherwise AVTB_ERR_CHILD or AVTB_ERR_TIMEOUT, with a message saying how
 * the child ended ("was killed by signal 31 (Bad system call): the sandbox
 * forbade a system call", its exit status, too much output) or fn's error.
 * The fault points "<what>-crash" and "<what>-syscall" (common/faults.h)
 * make the child crash or call execve once confined.
 */
avtb_err avtb_confined_call(const char *what, const char *dir, avtb_confined_fn fn, void *arg,
                            size_t max, unsigned timeout_ms, char **out, size_t *len,
                            avtb_error *err) AVTB_WUR;
/* The same, and the child is killed (AVTB_ERR_INTERRUPTED) as soon as stop()
 * says so; it is asked at least twice a second and after every signal. */
avtb_err avtb_confined_call_stoppable(const char *what, const char *dir, avtb_confined_fn fn,
                                      void *arg, size_t max, unsigned timeout_ms,
                                      bool (*stop)(void), char **out, size_t *len,
                                      avtb_error *err) AVTB_WUR;

/*
 * The same in two steps, for a caller that starts threads meanwhile: fork
 * only while single-threaded (a lock another thread holds at fork() stays
 * locked in the child for good: ASan's allocator deadlocked so). start
 * forks; finish reads, reaps and releases (whatever it returns); abandon
 * kills and releases a child that will not be finished.
 */
typedef struct avtb_confined {
    const char *what;
    pid_t pid;
    int fd;
} avtb_confined;

avtb_err avtb_confined_start(const char *what, const char *dir, avtb_confined_fn fn, void *arg,
                             avtb_confined *c, avtb_error *err) AVTB_WUR;
avtb_err avtb_confined_finish(avtb_confined *c, size_t max, unsigned timeout_ms,
                              bool (*stop)(void), char **out, size_t *len,
                              avtb_error *err) AVTB_WUR;
void avtb_confined_abandon(avtb_confined *c);

/*
 * Makes text from a confined process safe for a terminal or a log: control
 * bytes and DEL become '?', but newlines and tabs when keep_lines.
 */
void avtb_confined_text(char *p, size_t len, bool keep_lines);

#endif
