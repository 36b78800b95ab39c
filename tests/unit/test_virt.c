/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Generated libvirt XML and guest scripts: isolation and escaping. The
 * connection's event-loop thread and the reconnection probe's runner.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "orchestrator/plant.h"
#include "orchestrator/virt.h"

START_TEST(network_is_isolated)
{
    char *xml = avtb_vnet_xml("avtb-abc", "avtbabc", "10.213.9.1");

    ck_assert_ptr_nonnull(xml);
    ck_assert_ptr_null(strstr(xml, "<forward"));
    /* DHCP is avtb's own dnsmasq (collectors/dhcp.c), DNS the sink's. */
    ck_assert_ptr_null(strstr(xml, "<dhcp"));
    ck_assert_ptr_nonnull(strstr(xml, "<dns enable='no'/>"));
    ck_assert_ptr_nonnull(strstr(xml, "<ip address='10.213.9.1' netmask='255.255.255.0'/>"));
    ck_assert_ptr_nonnull(strstr(xml, "<bridge name='avtbabc'"));
    free(xml);
}
END_TEST

START_TEST(domain_xml_types_and_escaping)
{
    avtb_vdom_spec s = {
        .name = "avtb-x",
        .kvm = false,
        .memory_mib = 256,
        .kernel = "/c/vmlinuz",
        .initrd = "/c/initrd.img",
        .cmdline = "console=ttyS0 a=<b>&'c'",
        .disk = "/w/disk.qcow2",
        .network = "avtb-abc",
        .console_log = "/e/console.log",
        .agent_sock = "/w/agent.sock",
    };
    char *xml = avtb_vdom_xml(&s);

    ck_assert_ptr_nonnull(xml);
    ck_assert_ptr_nonnull(strstr(xml, "<domain type='qemu'>"));
    ck_assert_ptr_nonnull(
        strstr(xml, "<cmdline>console=ttyS0 a=&lt;b&gt;&amp;&apos;c&apos;</cmdline>"));
    ck_assert_ptr_nonnull(strstr(xml, "<source network='avtb-abc'/>"));
    ck_assert_ptr_nonnull(strstr(xml, "<source mode='bind' path='/w/agent.sock'/>"));
    ck_assert_ptr_nonnull(strstr(xml, "name='org.avtb.agent.0'"));
    ck_assert_ptr_nonnull(strstr(xml, "<on_reboot>destroy</on_reboot>"));
    ck_assert_ptr_null(strstr(xml, "<mac "));
    ck_assert_ptr_null(strstr(xml, "org.avtb.fileaccess.0"));
    free(xml);
    s.fileaccess_sock = "/w/fa&.sock";
    xml = avtb_vdom_xml(&s);
    ck_assert_ptr_nonnull(strstr(xml,
                                 "<source mode='bind' path='/w/fa&amp;.sock'/>\n"
                                 "      <target type='virtio' name='org.avtb.fileaccess.0'/>"));
    free(xml);
    s.fileaccess_sock = NULL;
    s.kvm = true;
    s.mac = "52:54:00:aa:bb:cc";
    xml = avtb_vdom_xml(&s);
    ck_assert_ptr_nonnull(strstr(xml, "<domain type='kvm'>"));
    ck_assert_ptr_nonnull(strstr(xml, "<mac address='52:54:00:aa:bb:cc'/>"));
    free(xml);
}
END_TEST

START_TEST(trigger_script_quotes_the_path)
{
    avtb_product p = {.name = (char *)"p", .scan = (char *)"/opt/p/scan --deep {path} {path}"};
    avtb_trigger t = {.at_ms = 5000, .action = AVTB_ACTION_SCAN, .path = (char *)"/home/a b"};
    avtb_scenario sc = {.name = (char *)"s", .product = &p, .triggers = &t, .ntriggers = 1};
    char *script = avtb_plant_trigger_script(&sc, 1);
    char name[32];

    ck_assert_ptr_nonnull(script);
    ck_assert_ptr_nonnull(strstr(script, "#!/bin/sh\n"));
    ck_assert_ptr_nonnull(strstr(script, "\n/opt/p/scan --deep '/home/a b' '/home/a b'\n"));
    avtb_plant_trigger_name(1, name);
    ck_assert_str_eq(name, "trigger-1");
    free(script);
}
END_TEST

/*
 * The threads of this process other than the caller: how many, and how
 * many of them block both SIGINT and SIGTERM (from /proc/self/task); the
 * last one's id.
 */
static int last_tid;

static void other_threads(int *n, int *blocking)
{
    char path[320], line[128];
    unsigned long long blk;
    struct dirent *e;
    DIR *d = opendir("/proc/self/task");

    *n = *blocking = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        FILE *f;

        if (e->d_name[0] == '.' || atoi(e->d_name) == (int)gettid())
            continue;
        (*n)++;
        last_tid = atoi(e->d_name);
        snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        while (fgets(line, sizeof(line), f) != NULL)
            if (sscanf(line, "SigBlk: %llx", &blk) == 1 && (blk >> (SIGINT - 1) & 1) &&
                (blk >> (SIGTERM - 1) & 1))
                (*blocking)++;
        fclose(f);
    }
    closedir(d);
}

/*
 * test:///default has no keepalive (not a remote driver): the connection
 * works all the same. The event-loop thread runs from the first connection
 * to the last, again and again, and blocks SIGINT and SIGTERM so they land
 * in the main thread, whose waits they must interrupt. A fork stops it and
 * starts it again in the parent.
 */
START_TEST(event_loop_follows_the_connections)
{
    avtb_error err = {0};
    avtb_virt *a = NULL, *b = NULL;
    int n, blocking, status, before;
    pid_t pid;

    other_threads(&n, &blocking);
    ck_assert_int_eq(n, 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(avtb_virt_open("test:///default", &a, &err) == AVTB_OK, "%s", err.msg);
        ck_assert_msg(avtb_virt_open("test:///default", &b, &err) == AVTB_OK, "%s", err.msg);
        ck_assert(avtb_virt_alive(a) && avtb_virt_alive(b));
        ck_assert_str_eq(avtb_virt_lost_why(a), "");
        other_threads(&n, &blocking);
        ck_assert_int_ge(n, 1);
        ck_assert_int_eq(blocking, n);
        /* Stopped for a fork, started again in the parent: a new thread. */
        before = last_tid;
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            _exit(0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        other_threads(&n, &blocking);
        ck_assert_int_ge(n, 1);
        ck_assert_int_eq(blocking, n);
        ck_assert_int_ne(last_tid, before);
        avtb_virt_close(a);
        ck_assert(avtb_virt_alive(b));
        avtb_virt_close(b);
        other_threads(&n, &blocking);
        ck_assert_int_eq(n, 0);
    }
}
END_TEST

/* The probe's runner: nothing reaches avtb's output; its status; its time limit. */
START_TEST(quiet_spawn_discards_output)
{
    const char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    avtb_error err = {0};
    int pfd[2], saved, status = -1;
    char buf[64];

    ck_assert_int_eq(pipe2(pfd, O_NONBLOCK), 0);
    saved = dup(2);
    dup2(pfd[1], 2);
    ck_assert_int_eq(avtb_spawn_quiet(argv, 10000, &status, &err), AVTB_OK);
    dup2(saved, 2);
    close(saved);
    close(pfd[1]);
    ck_assert_int_eq(status, 3);
    ck_assert_int_le(read(pfd[0], buf, sizeof(buf)), 0);
    close(pfd[0]);
}
END_TEST

START_TEST(quiet_spawn_kills_at_the_limit)
{
    const char *argv[] = {"sleep", "60", NULL};
    avtb_error err = {0};
    int status = -1;

    ck_assert_int_eq(avtb_spawn_quiet(argv, 200, &status, &err), AVTB_ERR_TIMEOUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "sleep did not finish"));
}
END_TEST

static Suite *virt_suite(void)
{
    Suite *s = suite_create("virt");
    TCase *x = tcase_create("xml");
    TCase *p = tcase_create("plant scripts");
    TCase *c = tcase_create("connection");

    tcase_add_test(x, network_is_isolated);
    tcase_add_test(x, domain_xml_types_and_escaping);
    tcase_add_test(p, trigger_script_quotes_the_path);
    tcase_add_test(c, event_loop_follows_the_connections);
    tcase_add_test(c, quiet_spawn_discards_output);
    tcase_add_test(c, quiet_spawn_kills_at_the_limit);
    suite_add_tcase(s, x);
    suite_add_tcase(s, p);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(virt_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
