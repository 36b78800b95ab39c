/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DHCP collector: Debian's dnsmasq, DHCP only (its DNS is off; the
 * sink answers DNS), on the run's bridge. One static lease, for the guest's
 * MAC, naming the sink as router and DNS server: a guest whose OS configures
 * itself by DHCP (every real one) comes up on the run's network and sends
 * everything to the sink. dnsmasq's own log (dhcp.log, every DHCP exchange)
 * and its lease file (dhcp.leases) are evidence beside the capture.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collectors/child.h"
#include "collectors/collector.h"
#include "common/log.h"
#include "common/util.h"

#define DHCP_START_MS 5000
#define DHCP_STOP_MS  5000
#define DNSMASQ       "/usr/sbin/dnsmasq"

typedef struct dhcp {
    pid_t pid;
    char *log;
    char *argv_text[16];
    const char *argv[20];
} dhcp;

static void dhcp_free(dhcp *d)
{
    if (d == NULL)
        return;
    free(d->log);
    for (size_t i = 0; i < sizeof(d->argv_text) / sizeof(d->argv_text[0]); i++)
        free(d->argv_text[i]);
    free(d);
}

/* The child: becomes dnsmasq. Ready once exec is about to happen; dhcp_start checks it stayed up.
 */
static int dhcp_main(void *arg, int ready_fd)
{
    dhcp *d = arg;

    if (access(DNSMASQ, X_OK) != 0) {
        avtb_child_fail(ready_fd, "%s is missing; install it with: apt-get install -y dnsmasq-base",
                        DNSMASQ);
        return 1;
    }
    avtb_child_ready(ready_fd);
    execv(DNSMASQ, (char *const *)d->argv);
    avtb_errorf("dhcp: cannot run %s: %s", DNSMASQ, strerror(errno));
    return 127;
}

/* dnsmasq writes "started" to its log once it serves; it exits at once if it cannot bind. */
static avtb_err wait_started(dhcp *d, avtb_error *err)
{
    for (int waited = 0; waited < DHCP_START_MS; waited += 50) {
        uint8_t *text = NULL;
        size_t len = 0;
        int status;

        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            d->pid = -1;
            return avtb_error_set(err, AVTB_ERR_CHILD,
                                  "dhcp: dnsmasq exited at start (status %d); its message is "
                                  "above and in %s",
                                  WIFEXITED(status) ? WEXITSTATUS(status) : -1, d->log);
        }
        if (avtb_read_file(d->log, 1 << 20, &text, &len, NULL) == AVTB_OK &&
            memmem(text, len, "DHCP, ", 6) != NULL) {
            free(text);
            return AVTB_OK;
        }
        free(text);
        usleep(50000);
    }
    return avtb_error_set(err, AVTB_ERR_TIMEOUT, "dhcp: dnsmasq did not start within %d ms; see %s",
                          DHCP_START_MS, d->log);
}

static avtb_err dhcp_start(const avtb_collector_env *env, void **state, avtb_error *err)
{
    avtb_err r = AVTB_ERR_INTERNAL;
    dhcp *d = calloc(1, sizeof(*d));
    char *leases = NULL;
    size_t n = 0, t = 0;

    *state = NULL;
    if (d == NULL || (d->log = avtb_path_join(env->evidence_dir, "dhcp.log")) == NULL ||
        (leases = avtb_path_join(env->evidence_dir, "dhcp.leases")) == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "dhcp: out of memory");
        goto out;
    }
    d->pid = -1;
#define ARG(...)                                                                                   \
    do {                                                                                           \
        if (asprintf(&d->argv_text[t], __VA_ARGS__) < 0) {                                         \
            r = avtb_error_set(err, AVTB_ERR_NOMEM, "dhcp: out of memory");                        \
            goto out;                                                                              \
        }                                                                                          \
        d->argv[n++] = d->argv_text[t++];                                                          \
    } while (0)
    d->argv[n++] = "dnsmasq";
    d->argv[n++] = "--keep-in-foreground";
    d->argv[n++] = "--conf-file=/dev/null"; /* nothing from the host's /etc/dnsmasq.conf */
    d->argv[n++] = "--port=0";              /* no DNS: the sink answers it */
    d->argv[n++] = "--bind-interfaces";
    d->argv[n++] = "--except-interface=lo";
    d->argv[n++] = "--dhcp-authoritative";
    d->argv[n++] = "--log-dhcp";
    d->argv[n++] = "--pid-file=";
    d->argv[n++] = "--user=root"; /* its log and leases are in the root-owned evidence */
    /* Its default group (dip) would change its gid, which clears the
     * parent-death signal it inherits: a SIGKILLed avtb would leave it running. */
    d->argv[n++] = "--group=root";
    ARG("--interface=%s", env->bridge);
    ARG("--dhcp-range=%s,static,255.255.255.0,1h", env->guest_ip);
    ARG("--dhcp-host=%s,%s,1h", env->guest_mac, env->guest_ip);
    ARG("--dhcp-option=option:router,%s", env->sink_ip);
    ARG("--dhcp-option=option:dns-server,%s", env->sink_ip);
    ARG("--dhcp-leasefile=%s", leases);
    ARG("--log-facility=%s", d->log);
#undef ARG
    d->argv[n] = NULL;
    r = avtb_child_start("dhcp", dhcp_main, d, DHCP_START_MS, &d->pid, err);
    if (r != AVTB_OK)
        goto out;
    r = wait_started(d, err);
    if (r != AVTB_OK)
        goto out;
    avtb_debug("dhcp: dnsmasq on %s leases %s to %s (pid %d)", env->bridge, env->guest_ip,
               env->guest_mac, (int)d->pid);
    *state = d;
    d = NULL; /* transferred */
out:
    if (d != NULL && d->pid > 0) {
        avtb_error ignored = {0};

        (void)avtb_child_stop("dhcp", d->pid, DHCP_STOP_MS, &ignored);
    }
    free(leases);
    dhcp_free(d);
    return r;
}

static bool dhcp_stop(void *state, avtb_error *err)
{
    dhcp *d = state;
    bool ok;

    if (d == NULL)
        return true;
    ok = avtb_child_stop("dhcp", d->pid, DHCP_STOP_MS, err);
    dhcp_free(d);
    return ok;
}

const avtb_collector_ops avtb_dhcp_ops = {"dhcp", dhcp_start, dhcp_stop, NULL};
