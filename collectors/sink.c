/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sink collector: the only servers the guest can reach. nftables sends
 * every packet the guest sends to it (netfilter.c). A child process runs one
 * libevent loop with DNS (sink-dns.c) on port 53 of the bridge address, the
 * TCP and UDP catch-alls (sink-tcp.c, sink-udp.c) on AVTB_SINK_CATCHALL_PORT,
 * which intercept TLS and relay HTTP to the HTTP service (sink-http.c) on
 * loopback. Everything is logged next to the capture: sink-dns.jsonl,
 * sink-http.jsonl, sink-tcp.jsonl, sink-tls.jsonl, sink-udp.jsonl, and the
 * decrypted TLS in tls-plaintext.pcapng.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collectors/child.h"
#include "collectors/collector.h"
#include "collectors/sink.h"
#include "collectors/tls-mitm.h"
#include "collectors/transcript.h"
#include "common/log.h"
#include "common/sandbox.h"
#include "common/util.h"

#define SINK_START_MS 5000
#define SINK_STOP_MS  5000

enum { LOG_DNS, LOG_HTTP, LOG_TCP, LOG_TLS, LOG_UDP, NLOGS };
static const char *const log_names[NLOGS] = {"sink-dns.jsonl", "sink-http.jsonl", "sink-tcp.jsonl",
                                             "sink-tls.jsonl", "sink-udp.jsonl"};

typedef struct sink {
    pid_t pid;
    char *ip;
    char *logs[NLOGS];
    char *transcript;
    const char *run_id, *scenario, *product;
    avtb_mitm *mitm; /* the run's; the child uses its copy */
    avtb_cloud_mode cloud_mode;
    avtb_cloud_recording *replay;
    const avtb_connect_to *connect_to;
    size_t nconnect_to;
    char *recording;
    /* Borrowed from the run; the sink child has its own copy of the memory. */
    const avtb_http_answer *answers;
    size_t nanswers;
} sink;

struct avtb_jsonl {
    FILE *fp;
    char *path;
    bool failed;
};

avtb_err avtb_jsonl_open(const char *path, avtb_jsonl **out, avtb_error *err)
{
    avtb_jsonl *l = calloc(1, sizeof(*l));

    *out = NULL;
    if (l == NULL || (l->path = strdup(path)) == NULL) {
        free(l);
        return avtb_error_set(err, AVTB_ERR_NOMEM, "%s: out of memory", path);
    }
    /* Append: a restarted sink must not erase what an earlier one logged. */
    l->fp = fopen(path, "ae");
    if (l->fp == NULL) {
        avtb_err r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot open %s", path);

        free(l->path);
        free(l);
        return r;
    }
    *out = l;
    return AVTB_OK;
}

void avtb_jsonl_write(avtb_jsonl *l, json_t *o)
{
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

    if (line == NULL || fprintf(l->fp, "%s\n", line) < 0 || fflush(l->fp) != 0) {
        if (!l->failed)
            avtb_errorf("sink: cannot write %s", l->path);
        l->failed = true;
    }
    free(line);
}

bool avtb_jsonl_close(avtb_jsonl *l)
{
    bool ok;

    if (l == NULL)
        return true;
    ok = !l->failed && fflush(l->fp) == 0 && fsync(fileno(l->fp)) == 0;
    if (fclose(l->fp) != 0)
        ok = false;
    free(l->path);
    free(l);
    return ok;
}

void avtb_sink_addr_str(const struct sockaddr *sa, char ip[46], uint16_t *port)
{
    ip[0] = '\0';
    *port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in->sin_addr, ip, 46);
        *port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, ip, 46);
        *port = ntohs(in6->sin6_port);
    }
}

evutil_socket_t avtb_sink_socket(const char *ip, uint16_t port, int type, avtb_error *err)
{
    struct sockaddr_in sa;
    const char *what = type == SOCK_STREAM ? "TCP" : "UDP";
    int fd, one = 1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
        avtb_error_set(err, AVTB_ERR_INPUT, "sink address %s is not an IPv4 address", ip);
        return -1;
    }
    fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        avtb_error_errno(err, AVTB_ERR_IO, errno, "%s socket", what);
        return -1;
    }
    /* A sink restarted right after the previous run must not wait out TIME_WAIT. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        avtb_error_errno(err, AVTB_ERR_IO, errno,
                         "cannot bind %s %s:%u (is another DNS/HTTP server, e.g. libvirt's "
                         "dnsmasq, on the bridge?)",
                         what, ip, port);
        close(fd);
        return -1;
    }
    if (type == SOCK_STREAM && listen(fd, 64) != 0) {
        avtb_error_errno(err, AVTB_ERR_IO, errno, "listen on %s:%u", ip, port);
        close(fd);
        return -1;
    }
    return fd;
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopbreak(arg);
}

static bool peer_of(void *arg, uint16_t relay_port, avtb_sink_peer *out)
{
    return avtb_sink_tcp_peer(*(avtb_sink_tcp **)arg, relay_port, out);
}

/* The child: serve until SIGTERM, then close the logs. */
static int sink_main(void *arg, int ready_fd)
{
    const sink *s = arg;
    avtb_jsonl *logs[NLOGS] = {0}, *recording = NULL;
    avtb_transcript *tr = NULL;
    avtb_sink_dns *dns = NULL;
    avtb_sink_http *http = NULL;
    avtb_sink_tcp *tcp = NULL;
    avtb_sink_udp *udp = NULL;
    struct event_base *base = NULL;
    struct event *term = NULL;
    avtb_error err = {0};
    int rc = 1;
    avtb_pcapng_meta meta[] = {
        {"what", "TLS connections the sink intercepted, decrypted, as TCP flows"},
        {"run", s->run_id},
        {"scenario", s->scenario},
        {"product", s->product},
    };

    prctl(PR_SET_NAME, "avtb-sink", 0, 0, 0);
    base = event_base_new();
    if (base == NULL) {
        avtb_child_fail(ready_fd, "cannot create an event loop");
        goto out;
    }
    for (int i = 0; i < NLOGS; i++)
        if (avtb_jsonl_open(s->logs[i], &logs[i], &err) != AVTB_OK) {
            avtb_child_fail(ready_fd, "%s", err.msg);
            goto out;
        }
    if ((s->mitm != NULL && avtb_mitm_keylog_reopen(s->mitm, &err) != AVTB_OK) ||
        (s->mitm != NULL &&
         avtb_transcript_open(s->transcript, meta, sizeof(meta) / sizeof(meta[0]), &tr, &err) !=
             AVTB_OK) ||
        avtb_sink_dns_new(base, s->ip, logs[LOG_DNS], &dns, &err) != AVTB_OK ||
        (s->cloud_mode == AVTB_CLOUD_RECORD &&
         avtb_jsonl_open(s->recording, &recording, &err) != AVTB_OK)) {
        avtb_child_fail(ready_fd, "%s", err.msg);
        goto out;
    }
    {
        avtb_sink_http_config hc = {
            .log = logs[LOG_HTTP],
            .answers = s->answers,
            .nanswers = s->nanswers,
            .peer = peer_of,
            .peer_arg = &tcp,
            .mode = s->cloud_mode,
            .replay = s->replay,
            .recording = recording,
            .connect_to = s->connect_to,
            .nconnect_to = s->nconnect_to,
        };

        if (avtb_sink_http_new(base, &hc, &http, &err) != AVTB_OK) {
            avtb_child_fail(ready_fd, "%s", err.msg);
            goto out;
        }
    }
    if (avtb_sink_udp_new(base, s->ip, AVTB_SINK_CATCHALL_PORT, logs[LOG_UDP], &udp, &err) !=
        AVTB_OK) {
        avtb_child_fail(ready_fd, "%s", err.msg);
        goto out;
    }
    {
        avtb_sink_tcp_config cfg = {
            .tcp_log = logs[LOG_TCP],
            .tls_log = logs[LOG_TLS],
            .mitm = s->mitm,
            .transcript = tr,
            .http_port = avtb_sink_http_port(http),
        };

        if (avtb_sink_tcp_new(base, s->ip, AVTB_SINK_CATCHALL_PORT, &cfg, &tcp, &err) != AVTB_OK) {
            avtb_child_fail(ready_fd, "%s", err.msg);
            goto out;
        }
    }
    term = evsignal_new(base, SIGTERM, on_term, base);
    if (term == NULL || evsignal_add(term, NULL) != 0) {
        avtb_child_fail(ready_fd, "cannot watch SIGTERM");
        goto out;
    }
    /* Everything bound and open: what follows parses the guest's bytes. */
    if (avtb_sink_ct_helper_start(&err) != AVTB_OK ||
        avtb_sandbox_enter("sink", AVTB_SANDBOX_NET, &err) != AVTB_OK) {
        avtb_child_fail(ready_fd, "%s", err.msg);
        goto out;
    }
    avtb_child_ready(ready_fd);
    if (event_base_dispatch(base) < 0) {
        avtb_errorf("sink: event loop failed");
        goto out;
    }
    rc = 0;
out:
    /* Connections first (they log as they close), then the services they use. */
    avtb_sink_tcp_free(tcp);
    avtb_sink_udp_free(udp);
    avtb_sink_http_free(http);
    avtb_sink_dns_free(dns);
    avtb_sink_ct_helper_stop();
    if (s->mitm != NULL && avtb_mitm_keylog_error(s->mitm, &err) != AVTB_OK) {
        avtb_errorf("sink: %s", err.msg);
        rc = 1;
    }
    if (avtb_transcript_close(tr, &err) != AVTB_OK) {
        avtb_errorf("sink: %s", err.msg);
        rc = 1;
    }
    for (int i = 0; i < NLOGS; i++)
        if (!avtb_jsonl_close(logs[i]))
            rc = 1;
    if (!avtb_jsonl_close(recording))
        rc = 1;
    if (term != NULL)
        event_free(term);
    if (base != NULL)
        event_base_free(base);
    return rc;
}

static void sink_free(sink *s)
{
    if (s == NULL)
        return;
    free(s->ip);
    for (int i = 0; i < NLOGS; i++)
        free(s->logs[i]);
    free(s->transcript);
    free(s->recording);
    free(s);
}

static avtb_err sink_start(const avtb_collector_env *env, void **state, avtb_error *err)
{
    avtb_err r = AVTB_ERR_INTERNAL;
    sink *s = calloc(1, sizeof(*s));

    *state = NULL;
    if (s == NULL || (s->ip = strdup(env->sink_ip)) == NULL ||
        (s->transcript = avtb_path_join(env->evidence_dir, "tls-plaintext.pcapng")) == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "sink: out of memory");
        goto out;
    }
    for (int i = 0; i < NLOGS; i++)
        if ((s->logs[i] = avtb_path_join(env->evidence_dir, log_names[i])) == NULL) {
            r = avtb_error_set(err, AVTB_ERR_NOMEM, "sink: out of memory");
            goto out;
        }
    s->mitm = env->mitm;
    s->cloud_mode = env->cloud_mode;
    s->replay = env->replay;
    s->connect_to = env->connect_to;
    s->nconnect_to = env->nconnect_to;
    if (s->cloud_mode == AVTB_CLOUD_RECORD &&
        (s->recording = avtb_path_join(env->evidence_dir, AVTB_CLOUD_FILE)) == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "sink: out of memory");
        goto out;
    }
    s->run_id = env->run_id ? env->run_id : "";
    s->scenario = env->scenario ? env->scenario : "";
    s->product = env->product ? env->product : "";
    s->pid = -1;
    s->answers = env->answers;
    s->nanswers = env->nanswers;
    r = avtb_child_start("sink", sink_main, s, SINK_START_MS, &s->pid, err);
    if (r != AVTB_OK)
        goto out;
    avtb_debug("sink: DNS on %s:%u, TCP and UDP catch-alls on port %u (pid %d)", s->ip,
               AVTB_SINK_DNS_PORT, AVTB_SINK_CATCHALL_PORT, (int)s->pid);
    *state = s;
    s = NULL; /* transferred */
out:
    sink_free(s);
    return r;
}

static bool sink_stop(void *state, avtb_error *err)
{
    sink *s = state;
    bool ok;

    if (s == NULL)
        return true;
    ok = avtb_child_stop("sink", s->pid, SINK_STOP_MS, err);
    sink_free(s);
    return ok;
}

static bool sink_alive(void *state, avtb_error *err)
{
    const sink *c = state;

    return c == NULL || avtb_child_alive("sink", c->pid, err);
}

const avtb_collector_ops avtb_sink_ops = {"sink", sink_start, sink_stop, sink_alive};
