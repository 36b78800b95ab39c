/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The capture collector: a child process records every frame on the run's
 * bridge into <evidence>/capture.pcapng (pcapng: the run's metadata in the
 * section header, drop counters in an interface statistics block), the input of the analysis
 * (analyze.c), and on SIGTERM writes <evidence>/capture.json with libpcap's
 * counters so a report can say whether the capture lost packets.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collectors/child.h"
#include "collectors/collector.h"
#include "collectors/pcapng.h"
#include "common/log.h"
#include "common/sandbox.h"
#include "common/util.h"

#define CAPTURE_SNAPLEN      262144
#define CAPTURE_BUFFER       (16 << 20)
#define CAPTURE_POLL_MS      200 /* also bounds how late a SIGTERM is noticed */
#define CAPTURE_START_MS     5000
#define CAPTURE_STOP_MS      5000
#define CAPTURE_DRAIN_ROUNDS 64

typedef struct capture {
    pid_t pid;
    char *iface;
    char *pcap_path;
    char *json_path;
    /* The run's metadata, written into the pcapng section header. */
    avtb_pcapng_meta meta[6];
    size_t nmeta;
    char *meta_store[6];
} capture;

static volatile sig_atomic_t capture_stop_flag;
static pcap_t *capture_handle; /* for the signal handler only */

static void on_term(int sig)
{
    capture_stop_flag = 1;
    if (capture_handle != NULL)
        pcap_breakloop(capture_handle); /* signal-safe: sets a flag, writes an eventfd */
}

static double mono_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static pcap_t *open_live(const char *iface, int ready_fd)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *h = pcap_create(iface, ebuf);
    int rc;

    if (h == NULL) {
        avtb_child_fail(ready_fd, "cannot capture on %s: %s", iface, ebuf);
        return NULL;
    }
    if (pcap_set_snaplen(h, CAPTURE_SNAPLEN) != 0 || pcap_set_promisc(h, 0) != 0 ||
        pcap_set_immediate_mode(h, 1) != 0 || pcap_set_buffer_size(h, CAPTURE_BUFFER) != 0 ||
        pcap_set_timeout(h, CAPTURE_POLL_MS) != 0) {
        avtb_child_fail(ready_fd, "cannot configure capture on %s", iface);
        pcap_close(h);
        return NULL;
    }
    rc = pcap_activate(h);
    if (rc < 0) {
        avtb_child_fail(ready_fd,
                        "cannot capture on %s: %s (%s); avtb needs CAP_NET_RAW and the "
                        "run's bridge",
                        iface, pcap_statustostr(rc), pcap_geterr(h));
        pcap_close(h);
        return NULL;
    }
    if (pcap_setnonblock(h, 1, ebuf) != 0) {
        avtb_child_fail(ready_fd, "capture on %s: %s", iface, ebuf);
        pcap_close(h);
        return NULL;
    }
    return h;
}

/* The counters go into the pcapng (an Interface Statistics Block) and capture.json. */
static int write_summary(const capture *c, pcap_t *h, avtb_pcapng *d, uint32_t iface,
                         const struct timespec *start, const struct timespec *end, int json_fd)
{
    struct pcap_stat ps;
    avtb_error err = {0};
    json_t *o = NULL;
    char *text = NULL, comment[160];
    int rc = 1;

    memset(&ps, 0, sizeof(ps));
    if (pcap_stats(h, &ps) != 0) {
        avtb_errorf("capture on %s: pcap_stats: %s", c->iface, pcap_geterr(h));
        goto out;
    }
    snprintf(comment, sizeof(comment), "avtb capture stopped cleanly; %u packets dropped",
             ps.ps_drop + ps.ps_ifdrop);
    if (avtb_pcapng_write_stats(d, iface, start, end, ps.ps_recv, ps.ps_ifdrop, ps.ps_drop,
                                comment, &err) != AVTB_OK ||
        avtb_pcapng_flush(d, &err) != AVTB_OK) {
        avtb_errorf("capture: %s", err.msg);
        goto out;
    }
    o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:b}", "interface", c->iface, "file",
                  "capture.pcapng", "packets_received", (json_int_t)ps.ps_recv,
                  "packets_dropped", (json_int_t)ps.ps_drop, "packets_if_dropped",
                  (json_int_t)ps.ps_ifdrop, "complete", 1);
    text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (text == NULL) {
        avtb_errorf("capture on %s: out of memory", c->iface);
        goto out;
    }
    /* Opened before the sandbox: nobody cannot create files in the evidence. */
    if (write(json_fd, text, strlen(text)) != (ssize_t)strlen(text) || fsync(json_fd) != 0) {
        avtb_errorf("capture: cannot write %s: %s", c->json_path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(text);
    json_decref(o);
    return rc;
}

/* The child: capture until SIGTERM. Exit status 0 only with a complete record. */
static int capture_main(void *arg, int ready_fd)
{
    const capture *c = arg;
    struct sigaction sa;
    avtb_pcapng *d = NULL;
    avtb_error err = {0};
    struct pollfd pfd;
    struct timespec started, ended;
    double last_flush;
    uint32_t iface_id;
    pcap_t *h;
    int rc = 1, json_fd = -1;

    prctl(PR_SET_NAME, "avtb-capture", 0, 0, 0);
    h = open_live(c->iface, ready_fd);
    if (h == NULL)
        return 1;
    clock_gettime(CLOCK_REALTIME, &started);
    if (avtb_pcapng_open(c->pcap_path, c->meta, c->nmeta, &d, &err) != AVTB_OK ||
        avtb_pcapng_add_interface(d, pcap_datalink(h), (uint32_t)pcap_snapshot(h), c->iface,
                                  "the run's isolated bridge (guest <-> sink)",
                                  pcap_get_tstamp_precision(h) == PCAP_TSTAMP_PRECISION_NANO,
                                  &iface_id, &err) != AVTB_OK ||
        avtb_pcapng_flush(d, &err) != AVTB_OK) {
        avtb_child_fail(ready_fd, "capture: %s", err.msg);
        goto out;
    }
    pfd.fd = pcap_get_selectable_fd(h);
    pfd.events = POLLIN;
    if (pfd.fd < 0) {
        avtb_child_fail(ready_fd, "capture on %s: no selectable descriptor", c->iface);
        goto out;
    }
    json_fd = open(c->json_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
    if (json_fd < 0) {
        avtb_child_fail(ready_fd, "capture: cannot create %s: %s", c->json_path, strerror(errno));
        goto out;
    }
    /* The packet socket is bound and its ring mapped; what follows reads the guest's frames. */
    if (avtb_sandbox_enter("capture", 0, &err) != AVTB_OK) {
        avtb_child_fail(ready_fd, "%s", err.msg);
        goto out;
    }
    capture_handle = h;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term; /* no SA_RESTART: poll() must return on SIGTERM */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    avtb_child_ready(ready_fd);

    last_flush = mono_now();
    while (!capture_stop_flag) {
        int n;

        if (poll(&pfd, 1, CAPTURE_POLL_MS) < 0 && errno != EINTR) {
            avtb_errorf("capture on %s: poll: %s", c->iface, strerror(errno));
            goto out;
        }
        n = pcap_dispatch(h, -1, avtb_pcapng_handler, (u_char *)d);
        if (n == PCAP_ERROR) {
            avtb_errorf("capture on %s: %s", c->iface, pcap_geterr(h));
            goto out;
        }
        /* Whole blocks reach the file each second: a killed capture stays readable. */
        if (mono_now() - last_flush >= 1.0) {
            if (avtb_pcapng_flush(d, &err) != AVTB_OK) {
                avtb_errorf("capture: %s", err.msg);
                goto out;
            }
            last_flush = mono_now();
        }
    }
    /* What the kernel queued before SIGTERM still belongs to the run. */
    for (int i = 0; i < CAPTURE_DRAIN_ROUNDS; i++) {
        int n = pcap_dispatch(h, -1, avtb_pcapng_handler, (u_char *)d);

        if (n == PCAP_ERROR_BREAK)
            continue; /* the flag set by our own breakloop */
        if (n <= 0)
            break;
    }
    clock_gettime(CLOCK_REALTIME, &ended);
    rc = write_summary(c, h, d, iface_id, &started, &ended, json_fd);
out:
    capture_handle = NULL;
    if (json_fd >= 0)
        close(json_fd);
    if (d != NULL && avtb_pcapng_close(d, &err) != AVTB_OK) {
        avtb_errorf("capture: %s", err.msg);
        rc = 1;
    }
    pcap_close(h);
    return rc;
}

static void capture_free(capture *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nmeta; i++)
        free(c->meta_store[i]);
    free(c->iface);
    free(c->pcap_path);
    free(c->json_path);
    free(c);
}

static avtb_err capture_start(const avtb_collector_env *env, void **state, avtb_error *err)
{
    avtb_err r = AVTB_ERR_INTERNAL;
    capture *c = calloc(1, sizeof(*c));

    *state = NULL;
    if (c == NULL || (c->iface = strdup(env->bridge)) == NULL ||
        (c->pcap_path = avtb_path_join(env->evidence_dir, "capture.pcapng")) == NULL ||
        (c->json_path = avtb_path_join(env->evidence_dir, "capture.json")) == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "capture: out of memory");
        goto out;
    }
    {
        const char *const kv[][2] = {
            {"avtb-run-id", env->run_id},       {"avtb-scenario", env->scenario},
            {"avtb-product", env->product},     {"avtb-bridge", env->bridge},
            {"avtb-sink-address", env->sink_ip}, {"avtb-guest-address", env->guest_ip},
        };

        for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
            if (kv[i][1] == NULL)
                continue;
            c->meta_store[c->nmeta] = strdup(kv[i][1]);
            if (c->meta_store[c->nmeta] == NULL) {
                r = avtb_error_set(err, AVTB_ERR_NOMEM, "capture: out of memory");
                goto out;
            }
            c->meta[c->nmeta].key = kv[i][0];
            c->meta[c->nmeta].value = c->meta_store[c->nmeta];
            c->nmeta++;
        }
    }
    c->pid = -1;
    /* A summary left from an earlier run must not make this one look complete. */
    if (unlink(c->json_path) != 0 && errno != ENOENT) {
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "capture: cannot remove %s", c->json_path);
        goto out;
    }
    r = avtb_child_start("capture", capture_main, c, CAPTURE_START_MS, &c->pid, err);
    if (r != AVTB_OK)
        goto out;
    avtb_debug("capture: recording %s into %s (pid %d)", c->iface, c->pcap_path, (int)c->pid);
    *state = c;
    c = NULL; /* transferred */
out:
    capture_free(c);
    return r;
}

static bool capture_stop(void *state, avtb_error *err)
{
    capture *c = state;
    struct stat st;
    bool ok;

    if (c == NULL)
        return true;
    ok = avtb_child_stop("capture", c->pid, CAPTURE_STOP_MS, err);
    /* The child creates it empty at start and fills it when it stops cleanly. */
    if (ok && (stat(c->json_path, &st) != 0 || st.st_size == 0)) {
        avtb_error_set(err, AVTB_ERR_CHILD,
                       "capture: %s was not written; the capture is "
                       "incomplete",
                       c->json_path);
        ok = false;
    }
    capture_free(c);
    return ok;
}

static bool capture_alive(void *state, avtb_error *err)
{
    const capture *c = state;

    return c == NULL || avtb_child_alive("capture", c->pid, err);
}

const avtb_collector_ops avtb_capture_ops = {"capture", capture_start, capture_stop, capture_alive};
