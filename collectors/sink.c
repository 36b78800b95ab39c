/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sink collector: the only servers the guest can reach. A child process
 * runs one libevent loop with DNS (sink-dns.c) and HTTP (sink-http.c) bound
 * to the bridge address, so the guest's lookups and uploads complete and are
 * logged (<evidence>/sink-dns.jsonl, sink-http.jsonl) next to the capture.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collectors/child.h"
#include "collectors/collector.h"
#include "collectors/sink.h"
#include "common/log.h"
#include "common/util.h"

#define SINK_START_MS 5000
#define SINK_STOP_MS  5000

typedef struct sink {
    pid_t pid;
    char *ip;
    char *dns_log;
    char *http_log;
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

/* The child: serve until SIGTERM, then close the logs. */
static int sink_main(void *arg, int ready_fd)
{
    const sink *s = arg;
    avtb_jsonl *dns_log = NULL, *http_log = NULL;
    avtb_sink_dns *dns = NULL;
    avtb_sink_http *http = NULL;
    struct event_base *base = NULL;
    struct event *term = NULL;
    avtb_error err = {0};
    int rc = 1;

    base = event_base_new();
    if (base == NULL) {
        avtb_child_fail(ready_fd, "cannot create an event loop");
        goto out;
    }
    if (avtb_jsonl_open(s->dns_log, &dns_log, &err) != AVTB_OK ||
        avtb_jsonl_open(s->http_log, &http_log, &err) != AVTB_OK ||
        avtb_sink_dns_new(base, s->ip, dns_log, &dns, &err) != AVTB_OK ||
        avtb_sink_http_new(base, s->ip, http_log, s->answers, s->nanswers, &http, &err) !=
            AVTB_OK) {
        avtb_child_fail(ready_fd, "%s", err.msg);
        goto out;
    }
    term = evsignal_new(base, SIGTERM, on_term, base);
    if (term == NULL || evsignal_add(term, NULL) != 0) {
        avtb_child_fail(ready_fd, "cannot watch SIGTERM");
        goto out;
    }
    avtb_child_ready(ready_fd);
    if (event_base_dispatch(base) < 0) {
        avtb_errorf("sink: event loop failed");
        goto out;
    }
    rc = 0;
out:
    avtb_sink_http_free(http);
    avtb_sink_dns_free(dns);
    if (!avtb_jsonl_close(dns_log) || !avtb_jsonl_close(http_log))
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
    free(s->dns_log);
    free(s->http_log);
    free(s);
}

static avtb_err sink_start(const avtb_collector_env *env, void **state, avtb_error *err)
{
    avtb_err r = AVTB_ERR_INTERNAL;
    sink *s = calloc(1, sizeof(*s));

    *state = NULL;
    if (s == NULL || (s->ip = strdup(env->sink_ip)) == NULL ||
        (s->dns_log = avtb_path_join(env->evidence_dir, "sink-dns.jsonl")) == NULL ||
        (s->http_log = avtb_path_join(env->evidence_dir, "sink-http.jsonl")) == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "sink: out of memory");
        goto out;
    }
    s->pid = -1;
    s->answers = env->answers;
    s->nanswers = env->nanswers;
    r = avtb_child_start("sink", sink_main, s, SINK_START_MS, &s->pid, err);
    if (r != AVTB_OK)
        goto out;
    avtb_debug("sink: DNS and HTTP on %s (pid %d)", s->ip, (int)s->pid);
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

const avtb_collector_ops avtb_sink_ops = {"sink", sink_start, sink_stop};
