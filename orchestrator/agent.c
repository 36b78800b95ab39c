/* SPDX-License-Identifier: Apache-2.0 */
/* Agent channel: bounded line decoder, transcript and socket; see agent.h. */
#include "orchestrator/agent.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

struct avtb_agent {
    FILE *transcript; /* borrowed */
    avtb_agent_cb cb;
    void *ctx;
    char *line; /* AVTB_AGENT_MAX_LINE bytes */
    size_t have;
    bool skipping; /* inside an over-long line */
    uint64_t messages;
    uint64_t anomalies;
    uint64_t recorded;   /* bytes written to the transcript */
    uint64_t unrecorded; /* lines left out of it (limits below) */
};

/* A guest that floods its channel must not fill the evidence disk: the
 * transcript keeps this much, and the bytes of this many anomalies. */
#define TRANSCRIPT_MAX      (256ull << 20)
#define RECORDED_ANOMALIES  1000

avtb_agent *avtb_agent_new(FILE *transcript, avtb_agent_cb cb, void *ctx)
{
    avtb_agent *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return NULL;
    a->line = malloc(AVTB_AGENT_MAX_LINE);
    if (a->line == NULL) {
        free(a);
        return NULL;
    }
    a->transcript = transcript;
    a->cb = cb;
    a->ctx = ctx;
    return a;
}

void avtb_agent_free(avtb_agent *a)
{
    if (a == NULL)
        return;
    free(a->line);
    free(a);
}

uint64_t avtb_agent_messages(const avtb_agent *a)
{
    return a->messages;
}

uint64_t avtb_agent_anomalies(const avtb_agent *a)
{
    return a->anomalies;
}

uint64_t avtb_agent_unrecorded(const avtb_agent *a)
{
    return a->unrecorded;
}

static void record(avtb_agent *a, const char *dir, json_t *msg, const char *anomaly,
                   const char *raw, size_t rawlen)
{
    char now[32];
    json_t *o;
    char *text;

    if (a->transcript == NULL)
        return;
    if (a->recorded >= TRANSCRIPT_MAX || (anomaly != NULL && a->anomalies > RECORDED_ANOMALIES)) {
        a->unrecorded++;
        return;
    }
    avtb_utc_now(now);
    o = json_pack("{s:s, s:s}", "host_time", now, "dir", dir);
    if (o == NULL)
        return;
    if (msg != NULL)
        json_object_set(o, "msg", msg);
    if (anomaly != NULL) {
        json_object_set_new(o, "anomaly", json_string(anomaly));
        /* Raw bytes can be anything: keep at most 256 of them, as hex. */
        char hexbuf[2 * 256 + 1];
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < rawlen; i++) {
            hexbuf[2 * i] = digits[(unsigned char)raw[i] >> 4];
            hexbuf[2 * i + 1] = digits[(unsigned char)raw[i] & 15];
        }
        hexbuf[2 * rawlen] = '\0';
        json_object_set_new(o, "raw_hex", json_string(hexbuf));
    }
    text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (text != NULL) {
        fprintf(a->transcript, "%s\n", text);
        fflush(a->transcript);
        a->recorded += strlen(text) + 1;
    }
    free(text);
    json_decref(o);
}

static void anomaly(avtb_agent *a, const char *what, const char *raw, size_t len)
{
    a->anomalies++;
    record(a, "in", NULL, what, raw, len > 256 ? 256 : len);
}

static void handle_line(avtb_agent *a, const char *buf, size_t len)
{
    json_error_t jerr;
    json_t *msg;
    json_t *type;

    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len == 0)
        return;
    msg = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (msg == NULL) {
        anomaly(a, "line is not JSON", buf, len);
        return;
    }
    type = json_object_get(msg, "type");
    if (!json_is_object(msg) || !json_is_string(type)) {
        anomaly(a, "message is not an object with a string \"type\"", buf, len);
        json_decref(msg);
        return;
    }
    a->messages++;
    record(a, "in", msg, NULL, NULL, 0);
    if (a->cb != NULL)
        a->cb(a->ctx, json_string_value(type), msg);
    json_decref(msg);
}

void avtb_agent_feed(avtb_agent *a, const uint8_t *buf, size_t len, size_t *consumed)
{
    size_t i = 0;

    *consumed = len;
    while (i < len) {
        const uint8_t *nl = memchr(buf + i, '\n', len - i);
        size_t chunk = nl ? (size_t)(nl - (buf + i)) : len - i;

        if (a->skipping) {
            if (nl != NULL)
                a->skipping = false;
        } else if (a->have + chunk > AVTB_AGENT_MAX_LINE) {
            anomaly(a, "line longer than the limit; skipped", a->line, a->have);
            a->have = 0;
            a->skipping = nl == NULL;
        } else {
            memcpy(a->line + a->have, buf + i, chunk);
            a->have += chunk;
            if (nl != NULL) {
                handle_line(a, a->line, a->have);
                a->have = 0;
            }
        }
        i += chunk + (nl != NULL);
    }
}

avtb_err avtb_agent_connect(const char *sock_path, unsigned timeout_ms, int *fd, avtb_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timespec start, now;
    int s;

    *fd = -1;
    if (strlen(sock_path) >= sizeof(sa.sun_path))
        return avtb_error_set(err, AVTB_ERR_INTERNAL, "socket path too long: %s", sock_path);
    strcpy(sa.sun_path, sock_path);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s < 0)
            return avtb_error_errno(err, AVTB_ERR_IO, errno, "socket");
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        close(s);
        if (errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN)
            return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot connect to agent channel %s",
                                    sock_path);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
            (long)timeout_ms)
            return avtb_error_set(err, AVTB_ERR_TIMEOUT,
                                  "agent channel %s did not appear within %u s", sock_path,
                                  timeout_ms / 1000);
        usleep(100 * 1000);
    }
    *fd = s;
    return AVTB_OK;
}

avtb_err avtb_agent_send(avtb_agent *a, int fd, const char *line, avtb_error *err)
{
    size_t len = strlen(line), off = 0;
    char *buf = NULL;
    json_t *o;

    if (asprintf(&buf, "%s\n", line) < 0)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    len++;
    while (off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};

            if (poll(&p, 1, 5000) <= 0) {
                free(buf);
                return avtb_error_set(err, AVTB_ERR_TIMEOUT, "agent channel not writable");
            }
            continue;
        }
        if (n < 0) {
            free(buf);
            return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot send to the agent");
        }
        off += (size_t)n;
    }
    free(buf);
    o = json_string(line);
    if (o != NULL)
        record(a, "out", o, NULL, NULL, 0);
    json_decref(o);
    return AVTB_OK;
}
