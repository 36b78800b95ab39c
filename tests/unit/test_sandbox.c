/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Privilege separation (common/sandbox.h): what a confined process can and
 * cannot do, and how a confined call reports its child's end. Each probe
 * runs in a process of its own, since the sandbox is for good.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/sandbox.h"
#include "memcheck.h"

/* Runs probe() confined in a child; returns its wait status. Exit 0: the probe held. */
static int confined(unsigned flags, int (*probe)(void))
{
    int status = 0;
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        avtb_error err = {0};

        if (avtb_sandbox_enter("test", flags, &err) != AVTB_OK) {
            fprintf(stderr, "%s\n", err.msg);
            _exit(100);
        }
        _exit(probe());
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static void assert_exit0(int status)
{
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "wait status 0x%x", status);
}

static void assert_sigsys(int status)
{
    if (RUNNING_ON_VALGRIND) /* no filter there (common/sandbox.c) */
        return;
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "wait status 0x%x", status);
}

static int probe_not_root(void)
{
    /* Not root before: nothing to check but that the sandbox held. */
    return getuid() != 0 && geteuid() != 0 && getgid() != 0 ? 0 : 1;
}

static int probe_exec(void)
{
    char *const argv[] = {(char *)"true", NULL};

    execve("/bin/true", argv, NULL);
    return 1;
}

static int probe_inet(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    return fd >= 0 && close(fd) == 0 ? 0 : 1;
}

static int probe_unix(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    return fd >= 0 && close(fd) == 0 ? 0 : 1;
}

static int probe_netlink(void)
{
    socket(AF_NETLINK, SOCK_RAW, 0);
    return 1;
}

static int probe_packet(void)
{
    socket(AF_PACKET, SOCK_RAW, 0);
    return 1;
}

static int probe_socketpair(void)
{
    int sv[2];

    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    return 1;
}

static int probe_fork(void)
{
    pid_t pid = fork();

    if (pid == 0)
        _exit(0);
    return 1;
}

static void *thread_body(void *arg)
{
    return arg;
}

static int probe_thread(void)
{
    pthread_t t;
    void *ret = NULL;

    if (pthread_create(&t, NULL, thread_body, (void *)"ok") != 0 || pthread_join(t, &ret) != 0)
        return 1;
    return ret != NULL && strcmp(ret, "ok") == 0 ? 0 : 1;
}

static int probe_write_root_file(void)
{
    int fd = open("/etc/passwd", O_WRONLY | O_APPEND);

    return fd < 0 && errno == EACCES ? 0 : 1;
}

static int probe_ordinary(void)
{
    char buf[64];
    char *p = malloc(1 << 20);
    int fd = open("/etc/hostname", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;

    if (p == NULL || n < 0)
        return 1;
    memset(p, 1, 1 << 20);
    free(p);
    close(fd);
    return 0;
}

START_TEST(test_uid_dropped)
{
    if (geteuid() != 0)
        return; /* the uid part applies to root only */
    assert_exit0(confined(0, probe_not_root));
    assert_exit0(confined(0, probe_write_root_file));
}
END_TEST

/*
 * A new uid or gid clears the parent-death signal, so the sandbox must arm it
 * again: otherwise a SIGKILLed avtb leaves its sink running. Three
 * generations: this test (a subreaper, so it can wait for its grandchild),
 * a parent that exits once the grandchild is confined, and the grandchild,
 * which must die with it.
 */
START_TEST(test_dies_with_parent)
{
    int ready[2], pids[2], status = 0;
    pid_t mid, child = -1;

    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(pids), 0);
    mid = fork();
    ck_assert_int_ge(mid, 0);
    if (mid == 0) {
        pid_t parent = getpid(), c = fork();
        char b;

        if (c == 0) {
            avtb_error err = {0};

            if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != parent)
                _exit(101);
            if (avtb_sandbox_enter("test", 0, &err) != AVTB_OK)
                _exit(100);
            if (write(ready[1], "r", 1) != 1)
                _exit(102);
            for (;;)
                sleep(1);
        }
        if (c < 0 || read(ready[0], &b, 1) != 1 || write(pids[1], &c, sizeof(c)) != sizeof(c))
            _exit(1);
        _exit(0);
    }
    close(ready[0]);
    close(ready[1]);
    close(pids[1]);
    ck_assert_int_eq(read(pids[0], &child, sizeof(child)), (ssize_t)sizeof(child));
    close(pids[0]);
    ck_assert_int_eq(waitpid(mid, &status, 0), mid);
    assert_exit0(status);
    /* Reparented to this process; dead within 2 s, or the signal was lost. */
    for (int i = 0; i < 200 && waitpid(child, &status, WNOHANG) == 0; i++)
        usleep(10000);
    if (kill(child, 0) == 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        ck_abort_msg("the confined child outlived its parent (no parent-death signal)");
    }
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "wait status 0x%x", status);
    prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}
END_TEST

START_TEST(test_exec_killed)
{
    assert_sigsys(confined(0, probe_exec));
    assert_sigsys(confined(AVTB_SANDBOX_NET, probe_exec));
}
END_TEST

START_TEST(test_fork_killed_threads_work)
{
    assert_sigsys(confined(0, probe_fork));
    assert_exit0(confined(0, probe_thread));
}
END_TEST

START_TEST(test_ordinary_work)
{
    assert_exit0(confined(0, probe_ordinary));
}
END_TEST

START_TEST(test_sockets_without_net)
{
    assert_sigsys(confined(0, probe_inet));
    assert_sigsys(confined(0, probe_socketpair));
}
END_TEST

START_TEST(test_sockets_with_net)
{
    assert_exit0(confined(AVTB_SANDBOX_NET, probe_inet));
    assert_exit0(confined(AVTB_SANDBOX_NET, probe_unix));
    assert_sigsys(confined(AVTB_SANDBOX_NET, probe_netlink));
    assert_sigsys(confined(AVTB_SANDBOX_NET, probe_packet));
}
END_TEST

static avtb_err say_hello(void *arg, avtb_buf *out, avtb_error *err)
{
    avtb_buf_str(out, arg);
    return AVTB_OK;
}

static avtb_err crash(void *arg, avtb_buf *out, avtb_error *err)
{
    signal(SIGSEGV, SIG_DFL); /* AddressSanitizer's handler would exit(1) */
    raise(SIGSEGV);
    return AVTB_OK;
}

static avtb_err forbidden(void *arg, avtb_buf *out, avtb_error *err)
{
    return probe_exec() == 0 ? AVTB_OK : AVTB_ERR_INTERNAL;
}

static avtb_err refuse(void *arg, avtb_buf *out, avtb_error *err)
{
    return avtb_error_set(err, AVTB_ERR_INPUT, "no capture\nhere");
}

static avtb_err big(void *arg, avtb_buf *out, avtb_error *err)
{
    for (int i = 0; i < 4096; i++)
        avtb_buf_str(out, "0123456789abcdef");
    return AVTB_OK;
}

START_TEST(test_call_returns_bytes)
{
    avtb_error err = {0};
    char *out = NULL;
    size_t len = 0;

    ck_assert_msg(avtb_confined_call("analysis", "/", say_hello, "hello", 1024, 10000, &out, &len,
                                     &err) == AVTB_OK,
                  "%s", err.msg);
    ck_assert_uint_eq(len, 5);
    ck_assert_str_eq(out, "hello");
    free(out);
}
END_TEST

START_TEST(test_call_reports_crash)
{
    avtb_error err = {0};
    char *out = (char *)"x";
    size_t len = 1;

    ck_assert_int_eq(avtb_confined_call("analysis", "/", crash, NULL, 1024, 10000, &out, &len, &err),
                     AVTB_ERR_CHILD);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(err.msg, "analysis process was killed by signal 11 (Segmentation fault)");
}
END_TEST

START_TEST(test_call_reports_sigsys)
{
    avtb_error err = {0};
    char *out = NULL;
    size_t len = 0;

    if (RUNNING_ON_VALGRIND) /* no filter there (common/sandbox.c) */
        return;
    ck_assert_int_eq(
        avtb_confined_call("analysis", "/", forbidden, NULL, 1024, 10000, &out, &len, &err),
        AVTB_ERR_CHILD);
    ck_assert_str_eq(err.msg, "analysis process was killed by signal 31 (Bad system call): the "
                              "sandbox forbade a system call");
}
END_TEST

START_TEST(test_call_reports_error)
{
    avtb_error err = {0};
    char *out = NULL;
    size_t len = 0;

    ck_assert_int_eq(avtb_confined_call("analysis", "/", refuse, NULL, 1024, 10000, &out, &len, &err),
                     AVTB_ERR_CHILD);
    ck_assert_str_eq(err.msg, "analysis process: no capture?here");
}
END_TEST

START_TEST(test_call_size_limit)
{
    avtb_error err = {0};
    char *out = NULL;
    size_t len = 0;

    ck_assert_int_eq(avtb_confined_call("analysis", "/", big, NULL, 65535, 10000, &out, &len, &err),
                     AVTB_ERR_CHILD);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(err.msg, "analysis process: its result is larger than 65535 bytes; killed it");
    ck_assert_msg(avtb_confined_call("analysis", "/", big, NULL, 65536, 10000, &out, &len, &err) ==
                      AVTB_OK,
                  "%s", err.msg);
    ck_assert_uint_eq(len, 65536);
    free(out);
}
END_TEST

START_TEST(test_call_bad_dir)
{
    avtb_error err = {0};
    char *out = NULL;
    size_t len = 0;

    ck_assert_int_eq(avtb_confined_call("analysis", "/nonexistent/avtb", say_hello, "x", 16, 10000,
                                        &out, &len, &err),
                     AVTB_ERR_CHILD);
    ck_assert_str_eq(err.msg,
                     "analysis process: cannot enter /nonexistent/avtb: No such file or directory");
}
END_TEST

static Suite *sandbox_suite(void)
{
    Suite *s = suite_create("sandbox");
    TCase *tc = tcase_create("confinement");

    tcase_add_test(tc, test_uid_dropped);
    tcase_add_test(tc, test_dies_with_parent);
    tcase_add_test(tc, test_exec_killed);
    tcase_add_test(tc, test_fork_killed_threads_work);
    tcase_add_test(tc, test_ordinary_work);
    tcase_add_test(tc, test_sockets_without_net);
    tcase_add_test(tc, test_sockets_with_net);
    suite_add_tcase(s, tc);
    tc = tcase_create("confined_call");
    tcase_add_test(tc, test_call_returns_bytes);
    tcase_add_test(tc, test_call_reports_crash);
    tcase_add_test(tc, test_call_reports_sigsys);
    tcase_add_test(tc, test_call_reports_error);
    tcase_add_test(tc, test_call_size_limit);
    tcase_add_test(tc, test_call_bad_dir);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sandbox_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
