/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sink's HTTP service (libevent evhttp): every request, whatever its
 * method or path, gets 200 and {"status":"ok"} so an uploader believes it
 * succeeded and sends everything it meant to; each request is logged with
 * the body's size and SHA-256 (the bytes themselves are in the capture).
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "collectors/sink.h"
#include "common/log.h"
#include "common/util.h"

#define HTTP_MAX_HEADERS (64 * 1024)
#define HTTP_TIMEOUT_S   30
#define HTTP_TEXT_MAX    2048 /* host and URI as logged */

struct avtb_sink_http {
    const avtb_http_answer *answers;
    size_t nanswers;
    struct evhttp *http;
    avtb_jsonl *log;
};

static const char *method_name(enum evhttp_cmd_type c)
{
    switch (c) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    }
    return "?";
}

/*
 * Guest-chosen text made safe for the JSON log: printable ASCII as is,
 * everything else %XX, cut at HTTP_TEXT_MAX.
 */
static void safe_text(const char *in, char *out, size_t cap)
{
    size_t o = 0;

    for (; in != NULL && *in != '\0' && o + 4 < cap; in++) {
        unsigned char c = (unsigned char)*in;

        if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
    }
    out[o] = '\0';
}

/* SHA-256 of an evbuffer without copying it into one piece. */
static void body_sha256(struct evbuffer *b, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    struct evbuffer_iovec v[16];
    struct evbuffer_ptr pos;
    size_t total = evbuffer_get_length(b), hashed = 0;
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    hex[0] = '\0';
    if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        goto out;
    evbuffer_ptr_set(b, &pos, 0, EVBUFFER_PTR_SET);
    /* With len -1, evbuffer_peek stops at the vectors given: go round until all is hashed. */
    while (hashed < total) {
        int n = evbuffer_peek(b, -1, &pos, v, 16);
        size_t done = 0;

        if (n <= 0)
            break;
        for (int i = 0; i < n && i < 16; i++) {
            EVP_DigestUpdate(ctx, v[i].iov_base, v[i].iov_len);
            done += v[i].iov_len;
        }
        hashed += done;
        if (done == 0 || hashed >= total || evbuffer_ptr_set(b, &pos, done, EVBUFFER_PTR_ADD) != 0)
            break;
    }
    /* An empty hash in the log rather than a wrong one. */
    if (hashed != total || !EVP_DigestFinal_ex(ctx, md, &mdlen))
        goto out;
    for (unsigned int i = 0; i < mdlen && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
    EVP_MD_CTX_free(ctx);
}

/* The first answer for this host (port ignored) and path prefix, or NULL. */
static const avtb_http_answer *answer_for(const avtb_sink_http *h, const char *host,
                                          const char *uri)
{
    const char *path = uri != NULL ? uri : "/";
    size_t hl = 0;

    /* An absolute-form target ("http://host/path") names the path after the authority. */
    if (strncmp(path, "http://", 7) == 0) {
        const char *slash = strchr(path + 7, '/');

        path = slash ? slash : "/";
    }
    if (host != NULL) {
        const char *colon = strrchr(host, ':');

        hl = colon && strchr(colon, ']') == NULL ? (size_t)(colon - host) : strlen(host);
    }
    for (size_t i = 0; i < h->nanswers; i++) {
        const avtb_http_answer *a = &h->answers[i];

        if (strcmp(a->host, "*") != 0 &&
            (host == NULL || strlen(a->host) != hl || strncasecmp(a->host, host, hl) != 0))
            continue;
        if (strncmp(path, a->path, strlen(a->path)) != 0)
            continue;
        return a;
    }
    return NULL;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    avtb_sink_http *h = arg;
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    struct evbuffer *reply = evbuffer_new();
    char now[32], sha[65], host[HTTP_TEXT_MAX], uri[HTTP_TEXT_MAX];
    const char *hv = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
    char *peer = NULL;
    ev_uint16_t port = 0;
    const avtb_http_answer *ans;
    json_t *o;

    if (conn != NULL)
        evhttp_connection_get_peer(conn, &peer, &port);
    avtb_utc_now(now);
    body_sha256(body, sha);
    safe_text(hv, host, sizeof(host));
    safe_text(evhttp_request_get_uri(req), uri, sizeof(uri));
    ans = answer_for(h, hv, evhttp_request_get_uri(req));
    o = json_pack("{s:s, s:s, s:i, s:s, s:s?, s:s, s:I, s:s}", "time", now, "client",
                  peer ? peer : "?", "client_port", (int)port, "method",
                  method_name(evhttp_request_get_command(req)), "host", hv ? host : NULL, "uri",
                  uri, "body_bytes", (json_int_t)evbuffer_get_length(body), "body_sha256", sha);
    if (o != NULL)
        json_object_set_new(o, "answer",
                            ans ? json_integer((json_int_t)(ans - h->answers)) : json_null());
    avtb_jsonl_write(h->log, o);
    json_decref(o);

    if (ans != NULL) {
        struct evkeyvalq *out = evhttp_request_get_output_headers(req);

        for (size_t i = 0; i < ans->nheaders; i++) {
            const char *line = ans->headers[i], *colon = strchr(line, ':');
            char name[256];
            size_t nl = colon ? (size_t)(colon - line) : 0;

            if (colon == NULL || nl >= sizeof(name))
                continue;
            memcpy(name, line, nl);
            name[nl] = '\0';
            colon++;
            while (*colon == ' ' || *colon == '\t')
                colon++;
            evhttp_add_header(out, name, colon);
        }
        if (reply != NULL)
            evbuffer_add(reply, ans->body, ans->body_len);
        evhttp_send_reply(req, (int)ans->status, NULL, reply);
    } else {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
        if (reply != NULL)
            evbuffer_add_printf(reply, "{\"status\":\"ok\"}\n");
        evhttp_send_reply(req, 200, "OK", reply);
    }
    if (reply != NULL)
        evbuffer_free(reply);
}

avtb_err avtb_sink_http_new(struct event_base *base, const char *ip, avtb_jsonl *log,
                            const avtb_http_answer *answers, size_t nanswers, avtb_sink_http **out,
                            avtb_error *err)
{
    avtb_err r = AVTB_ERR_INTERNAL;
    avtb_sink_http *h = calloc(1, sizeof(*h));
    evutil_socket_t fd = -1;

    *out = NULL;
    if (h == NULL || (h->http = evhttp_new(base)) == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "sink HTTP: out of memory");
        goto out;
    }
    h->log = log;
    h->answers = answers;
    h->nanswers = nanswers;
    evhttp_set_max_body_size(h->http, AVTB_SINK_HTTP_MAX_BODY);
    evhttp_set_max_headers_size(h->http, HTTP_MAX_HEADERS);
    evhttp_set_timeout(h->http, HTTP_TIMEOUT_S);
    /* Every method evhttp knows; it answers others with 405 itself. */
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                            EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->http, on_request, h);
    fd = avtb_sink_socket(ip, 80, SOCK_STREAM, err);
    if (fd < 0) {
        r = err ? err->code : AVTB_ERR_IO;
        goto out;
    }
    if (evhttp_accept_socket_with_handle(h->http, fd) == NULL) {
        r = avtb_error_set(err, AVTB_ERR_IO, "sink HTTP: cannot serve %s:80", ip);
        goto out;
    }
    fd = -1; /* transferred: evhttp_free closes it */
    *out = h;
    h = NULL; /* transferred */
    r = AVTB_OK;
out:
    if (fd >= 0)
        evutil_closesocket(fd);
    avtb_sink_http_free(h);
    return r;
}

void avtb_sink_http_free(avtb_sink_http *h)
{
    if (h == NULL)
        return;
    if (h->http != NULL)
        evhttp_free(h->http);
    free(h);
}
