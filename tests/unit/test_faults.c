/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the fault handling stands on: fault points ($AVTB_FAULTS), reading
 * the end of a console log, and telling that a collector's process died
 * without reaping it.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collectors/child.h"
#include "common/faults.h"
#include "common/util.h"

START_TEST(fault_points_match_whole_names)
{
    unsetenv("AVTB_FAULTS");
    ck_assert(!avtb_fault("stall-plant"));
    setenv("AVTB_FAULTS", "stall-plant,analysis-crash", 1);
    ck_assert(avtb_fault("stall-plant"));
    ck_assert(avtb_fault("analysis-crash"));
    ck_assert(!avtb_fault("stall"));
    ck_assert(!avtb_fault("plant"));
    ck_assert(!avtb_fault("crash"));
    ck_assert(!avtb_fault(""));
    setenv("AVTB_FAULTS", "xstall-plant", 1);
    ck_assert(!avtb_fault("stall-plant"));
    setenv("AVTB_FAULTS", "stall-planted,stall-plant", 1);
    ck_assert(avtb_fault("stall-plant"));
    unsetenv("AVTB_FAULTS");
}
END_TEST

START_TEST(file_tail_reads_the_end)
{
    char path[] = "/tmp/avtb-tail-XXXXXX";
    int fd = mkstemp(path);
    avtb_error err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    char text[10000];

    ck_assert_int_ge(fd, 0);
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)('a' + i % 26);
    ck_assert_int_eq(write(fd, text, sizeof(text)), (int)sizeof(text));
    close(fd);
    ck_assert_int_eq(avtb_read_file_tail(path, 100, &buf, &len, &err), AVTB_OK);
    ck_assert_uint_eq(len, 100);
    ck_assert_mem_eq(buf, text + sizeof(text) - 100, 100);
    ck_assert_int_eq(buf[100], '\0');
    free(buf);
    ck_assert_int_eq(avtb_read_file_tail(path, 1u << 20, &buf, &len, &err), AVTB_OK);
    ck_assert_uint_eq(len, sizeof(text));
    free(buf);
    unlink(path);
    ck_assert_int_eq(avtb_read_file_tail(path, 100, &buf, &len, &err), AVTB_ERR_IO);
    ck_assert_ptr_null(buf);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_read_file_tail("/tmp", 100, &buf, &len, &err), AVTB_ERR_IO);
}
END_TEST

static int serve(void *arg, int ready_fd)
{
    (void)arg;
    avtb_child_ready(ready_fd);
    for (;;)
        pause();
    return 0;
}

START_TEST(a_killed_child_is_seen_and_still_stoppable)
{
    avtb_error err = {0};
    pid_t pid;

    ck_assert_int_eq(avtb_child_start("test", serve, NULL, 5000, &pid, &err), AVTB_OK);
    ck_assert(avtb_child_alive("test", pid, &err));
    kill(pid, SIGKILL);
    for (int i = 0; i < 200 && avtb_child_alive("test", pid, &err); i++)
        usleep(10000);
    ck_assert_str_eq(err.msg, "test: the process was killed by signal 9 (Killed)");
    /* Not reaped: the stop still finds it, and says it died before. */
    avtb_error_clear(&err);
    ck_assert(!avtb_child_alive("test", pid, &err));
    avtb_error_clear(&err);
    ck_assert(!avtb_child_stop("test", pid, 1000, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "before it was stopped"));
    ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), -1); /* reaped by the stop */
}
END_TEST

START_TEST(a_child_that_exits_is_seen)
{
    avtb_error err = {0};
    pid_t pid = fork();

    if (pid == 0)
        _exit(4);
    for (int i = 0; i < 200 && avtb_child_alive("test", pid, &err); i++)
        usleep(10000);
    ck_assert_str_eq(err.msg, "test: the process exited with status 4");
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
}
END_TEST

static Suite *faults_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *t = tcase_create("faults");

    tcase_add_test(t, fault_points_match_whole_names);
    tcase_add_test(t, file_tail_reads_the_end);
    tcase_add_test(t, a_killed_child_is_seen_and_still_stoppable);
    tcase_add_test(t, a_child_that_exits_is_seen);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(faults_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
