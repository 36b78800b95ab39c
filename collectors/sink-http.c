/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sink's HTTP service (libevent evhttp), behind the TCP catch-all's
 * relay: a request gets the scenario's answer for its host and path, or 200
 * and {"status":"ok"}, so an uploader believes it succeeded and sends
 * everything it meant to; each request is logged with the guest behind the
 * relay, the body's size and SHA-256 (the bytes are in the capture, or for
 * TLS in the transcript).
 */
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
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
    avtb_sink_http_config c;
    struct event_base *base;
    struct evhttp *http;
    uint16_t port;
    /* Record mode: the way to the real upstream. */
    struct evdns_base *dns;
    SSL_CTX *client_ctx;
    struct fwd *fwds; /* requests waiting for the upstream */
};

/* One request forwarded to the upstream (record mode). */
typedef struct fwd {
    avtb_sink_http *h;
    struct fwd *prev, *next;
    struct evhttp_request *req; /* the guest's; NULL once its connection is gone */
    struct evhttp_connection *up;
    avtb_cloud_exchange x;
} fwd;

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
    if (mdlen == 32)
        avtb_hex(md, 32, hex);
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
    for (size_t i = 0; i < h->c.nanswers; i++) {
        const avtb_http_answer *a = &h->c.answers[i];

        if (strcmp(a->host, "*") != 0 &&
            (host == NULL || strlen(a->host) != hl || strncasecmp(a->host, host, hl) != 0))
            continue;
        if (strncmp(path, a->path, strlen(a->path)) != 0)
            continue;
        return a;
    }
    return NULL;
}

/* Headers that describe one hop, not the message: never copied across the proxy. */
static bool hop_by_hop(const char *name)
{
    static const char *const names[] = {"Connection", "Keep-Alive",     "Proxy-Connection",
                                        "TE",         "Trailer",        "Transfer-Encoding",
                                        "Upgrade",    "Content-Length", "Proxy-Authorization"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

/* "Name: value" lines onto the reply's headers. */
static void add_header_lines(struct evhttp_request *req, const char *const *lines, size_t n)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);

    for (size_t i = 0; i < n; i++) {
        const char *line = lines[i], *colon = strchr(line, ':');
        char name[256];
        size_t nl = colon ? (size_t)(colon - line) : 0;

        if (colon == NULL || nl == 0 || nl >= sizeof(name))
            continue;
        memcpy(name, line, nl);
        name[nl] = '\0';
        if (hop_by_hop(name))
            continue;
        colon++;
        while (*colon == ' ' || *colon == '\t')
            colon++;
        evhttp_add_header(out, name, colon);
    }
}

static void send_bytes(struct evhttp_request *req, unsigned status, const void *body, size_t len)
{
    struct evbuffer *reply = evbuffer_new();

    if (reply != NULL)
        evbuffer_add(reply, body, len);
    evhttp_send_reply(req, (int)status, NULL, reply);
    if (reply != NULL)
        evbuffer_free(reply);
}

/* The host name of a Host header: lower case, port removed. */
static void host_name(const char *hv, char *out, size_t cap)
{
    size_t n = 0;

    out[0] = '\0';
    if (hv == NULL)
        return;
    if (hv[0] == '[') {
        n = strcspn(hv, "]");
        n += hv[n] == ']';
    } else {
        n = strcspn(hv, ":");
    }
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)hv[i]);
    out[n] = '\0';
}

/* --- record mode: forward to the real upstream ---------------------------- */

static void fwd_free(fwd *f)
{
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        f->h->fwds = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    if (f->req != NULL)
        evhttp_connection_set_closecb(evhttp_request_get_connection(f->req), NULL, NULL);
    free(f->x.host);
    free(f->x.method);
    free(f->x.uri);
    for (size_t i = 0; i < f->x.nheaders; i++)
        free(f->x.headers[i]);
    free(f->x.headers);
    free(f->x.body);
    free(f);
}

static void free_upstream(evutil_socket_t fd, short what, void *arg)
{
    evhttp_connection_free(arg);
}

static void on_guest_gone(struct evhttp_connection *conn, void *arg)
{
    fwd *f = arg;

    f->req = NULL;
}

static void record(fwd *f, const char *error)
{
    char now[32];
    json_t *o;

    avtb_utc_now(now);
    o = avtb_cloud_json(&f->x, now, error);
    avtb_jsonl_write(f->h->c.recording, o);
    json_decref(o);
}

static void on_upstream(struct evhttp_request *ureq, void *arg)
{
    fwd *f = arg;
    avtb_sink_http *h = f->h;
    struct evkeyval *kv;
    struct evbuffer *body;
    struct timeval now = {0, 0};
    int code = ureq ? evhttp_request_get_response_code(ureq) : 0;

    if (code <= 0) {
        avtb_warn("sink: record: %s %s%s: the upstream did not answer", f->x.method, f->x.host,
                  f->x.uri);
        record(f, "the upstream did not answer");
        if (f->req != NULL)
            send_bytes(f->req, 502, "upstream unreachable\n", 21);
        goto out;
    }
    f->x.status = (unsigned)code;
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(ureq), next)
    {
        char **n;

        if (hop_by_hop(kv->key) || f->x.nheaders >= AVTB_CLOUD_MAX_HEADERS)
            continue;
        n = realloc(f->x.headers, (f->x.nheaders + 1) * sizeof(*n));
        if (n == NULL)
            break;
        f->x.headers = n;
        if (asprintf(&n[f->x.nheaders], "%s: %s", kv->key, kv->value) < 0)
            break;
        f->x.nheaders++;
    }
    body = evhttp_request_get_input_buffer(ureq);
    f->x.body_len = evbuffer_get_length(body);
    f->x.body = malloc(f->x.body_len + 1);
    if (f->x.body == NULL)
        f->x.body_len = 0;
    else
        evbuffer_copyout(body, f->x.body, f->x.body_len);
    record(f, NULL);
    if (f->req != NULL) {
        add_header_lines(f->req, (const char *const *)f->x.headers, f->x.nheaders);
        send_bytes(f->req, f->x.status, f->x.body, f->x.body_len);
    }
out:
    /* Not from inside its own callback: the connection is freed on the next loop turn. */
    if (f->up != NULL && event_base_once(h->base, -1, EV_TIMEOUT, free_upstream, f->up, &now) != 0)
        avtb_warn("sink: record: an upstream connection is kept until the sink stops");
    f->up = NULL;
    fwd_free(f);
}

/* Sends req on to the host it names; the answer comes back in on_upstream. */
static void forward(avtb_sink_http *h, struct evhttp_request *req, const avtb_sink_peer *who,
                    const char *host, const char *method)
{
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    struct evkeyval *kv;
    struct evhttp_request *ureq = NULL;
    const char *to_host;
    uint16_t port = who->orig_dst_port ? who->orig_dst_port : (who->tls ? 443 : 80), to_port;
    fwd *f = calloc(1, sizeof(*f));

    if (f == NULL || host[0] == '\0') {
        free(f);
        send_bytes(req, host[0] ? 503 : 400, "avtb record: no Host\n", 21);
        return;
    }
    f->h = h;
    f->req = req;
    f->x.tls = who->tls;
    f->x.host = strdup(host);
    f->x.method = strdup(method);
    f->x.uri = strdup(evhttp_request_get_uri(req));
    f->next = h->fwds;
    if (h->fwds != NULL)
        h->fwds->prev = f;
    h->fwds = f;
    if (f->x.host == NULL || f->x.method == NULL || f->x.uri == NULL)
        goto fail;
    avtb_connect_to_apply(h->c.connect_to, h->c.nconnect_to, host, port, &to_host, &to_port);
    if (who->tls) {
        SSL *ssl = SSL_new(h->client_ctx);
        struct bufferevent *bev;

        if (ssl == NULL)
            goto fail;
        SSL_set_tlsext_host_name(ssl, host);
        SSL_set1_host(ssl, host);
        bev = bufferevent_openssl_socket_new(h->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (bev == NULL) {
            SSL_free(ssl);
            goto fail;
        }
        f->up = evhttp_connection_base_bufferevent_new(h->base, h->dns, bev, to_host, to_port);
    } else {
        f->up = evhttp_connection_base_new(h->base, h->dns, to_host, to_port);
    }
    if (f->up == NULL)
        goto fail;
    evhttp_connection_set_timeout(f->up, HTTP_TIMEOUT_S);
    ureq = evhttp_request_new(on_upstream, f);
    if (ureq == NULL)
        goto fail;
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
    {
        if (!hop_by_hop(kv->key))
            evhttp_add_header(evhttp_request_get_output_headers(ureq), kv->key, kv->value);
    }
    evhttp_add_header(evhttp_request_get_output_headers(ureq), "Connection", "close");
    evbuffer_add_buffer_reference(evhttp_request_get_output_buffer(ureq), body);
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_guest_gone, f);
    /* On failure evhttp_make_request frees ureq itself. */
    if (evhttp_make_request(f->up, ureq, evhttp_request_get_command(req), f->x.uri) != 0) {
        ureq = NULL;
        goto fail;
    }
    avtb_debug("sink: record: %s %s%s via %s:%u", method, host, f->x.uri, to_host, to_port);
    return;
fail:
    if (ureq != NULL)
        evhttp_request_free(ureq);
    if (f->up != NULL)
        evhttp_connection_free(f->up);
    f->up = NULL;
    avtb_warn("sink: record: cannot forward %s %s to the upstream", method, host);
    if (f->x.host != NULL && f->x.method != NULL && f->x.uri != NULL)
        record(f, "the sink could not forward the request");
    fwd_free(f);
    send_bytes(req, 502, "avtb record: cannot forward\n", 28);
}

/* --- every request --------------------------------------------------------- */

static void on_request(struct evhttp_request *req, void *arg)
{
    avtb_sink_http *h = arg;
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    char now[32], sha[65], host[HTTP_TEXT_MAX], uri[HTTP_TEXT_MAX], name[256];
    const char *hv = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
    const char *method = method_name(evhttp_request_get_command(req));
    char *peer = NULL;
    ev_uint16_t port = 0;
    avtb_sink_peer who = {0};
    const avtb_http_answer *ans = NULL;
    const avtb_cloud_exchange *replayed = NULL;
    json_t *o;

    if (conn != NULL)
        evhttp_connection_get_peer(conn, &peer, &port);
    /* The request came through the TCP catch-all's relay: name the guest behind it. */
    if (h->c.peer == NULL || !h->c.peer(h->c.peer_arg, port, &who)) {
        snprintf(who.client, sizeof(who.client), "%s", peer ? peer : "?");
        who.client_port = port;
    }
    avtb_utc_now(now);
    body_sha256(body, sha);
    safe_text(hv, host, sizeof(host));
    safe_text(evhttp_request_get_uri(req), uri, sizeof(uri));
    host_name(hv, name, sizeof(name));
    if (h->c.mode == AVTB_CLOUD_REPLAY)
        replayed = avtb_cloud_match(h->c.replay, name, method, evhttp_request_get_uri(req));
    if (h->c.mode != AVTB_CLOUD_RECORD && replayed == NULL)
        ans = answer_for(h, hv, evhttp_request_get_uri(req));
    o = json_pack("{s:s, s:s, s:i, s:s?, s:i, s:b, s:s?, s:s, s:s?, s:s, s:I, s:s}", "time", now,
                  "client", who.client, "client_port", (int)who.client_port, "orig_dst",
                  who.orig_dst[0] ? who.orig_dst : NULL, "orig_dst_port", (int)who.orig_dst_port,
                  "tls", (int)who.tls, "sni", who.sni[0] ? who.sni : NULL, "method", method, "host",
                  hv ? host : NULL, "uri", uri, "body_bytes", (json_int_t)evbuffer_get_length(body),
                  "body_sha256", sha);
    if (o != NULL) {
        json_object_set_new(o, "answer",
                            ans ? json_integer((json_int_t)(ans - h->c.answers)) : json_null());
        if (h->c.mode == AVTB_CLOUD_REPLAY)
            json_object_set_new(o, "replayed",
                                replayed ? json_integer((json_int_t)(replayed - h->c.replay->items))
                                         : json_null());
        if (h->c.mode == AVTB_CLOUD_RECORD)
            json_object_set_new(o, "forwarded", json_true());
    }
    avtb_jsonl_write(h->c.log, o);
    json_decref(o);

    if (h->c.mode == AVTB_CLOUD_RECORD) {
        forward(h, req, &who, name, method);
    } else if (replayed != NULL) {
        if (replayed->status == 0) {
            /* The upstream did not answer when recorded: neither does the replay. */
            send_bytes(req, 504, "", 0);
            return;
        }
        add_header_lines(req, (const char *const *)replayed->headers, replayed->nheaders);
        send_bytes(req, replayed->status, replayed->body, replayed->body_len);
    } else if (ans != NULL) {
        add_header_lines(req, ans->headers, ans->nheaders);
        send_bytes(req, ans->status, ans->body, ans->body_len);
    } else {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
        send_bytes(req, 200, "{\"status\":\"ok\"}\n", 16);
    }
}

avtb_err avtb_sink_http_new(struct event_base *base, const avtb_sink_http_config *cfg,
                            avtb_sink_http **out, avtb_error *err)
{
    avtb_err r = AVTB_ERR_INTERNAL;
    avtb_sink_http *h = calloc(1, sizeof(*h));
    evutil_socket_t fd = -1;

    *out = NULL;
    if (h == NULL || (h->http = evhttp_new(base)) == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "sink HTTP: out of memory");
        goto out;
    }
    h->c = *cfg;
    h->base = base;
    if (h->c.mode == AVTB_CLOUD_RECORD) {
        /* The host's resolver and trust store: this is the lab's real egress. */
        h->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                          EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        h->client_ctx = SSL_CTX_new(TLS_client_method());
        if (h->client_ctx == NULL || !SSL_CTX_set_default_verify_paths(h->client_ctx)) {
            r = avtb_error_set(err, AVTB_ERR_NOMEM, "sink HTTP: cannot make a TLS client");
            goto out;
        }
        SSL_CTX_set_min_proto_version(h->client_ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(h->client_ctx, SSL_VERIFY_PEER, NULL);
    }
    evhttp_set_max_body_size(h->http, AVTB_SINK_HTTP_MAX_BODY);
    evhttp_set_max_headers_size(h->http, HTTP_MAX_HEADERS);
    evhttp_set_timeout(h->http, HTTP_TIMEOUT_S);
    /* Every method evhttp knows; it answers others with 405 itself. */
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                            EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->http, on_request, h);
    fd = avtb_sink_socket("127.0.0.1", 0, SOCK_STREAM, err);
    if (fd < 0) {
        r = err ? err->code : AVTB_ERR_IO;
        goto out;
    }
    {
        struct sockaddr_in sa;
        socklen_t sl = sizeof(sa);

        if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
            r = avtb_error_errno(err, AVTB_ERR_IO, errno, "sink HTTP: getsockname");
            goto out;
        }
        h->port = ntohs(sa.sin_port);
    }
    if (evhttp_accept_socket_with_handle(h->http, fd) == NULL) {
        r = avtb_error_set(err, AVTB_ERR_IO, "sink HTTP: cannot serve 127.0.0.1:%u", h->port);
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

uint16_t avtb_sink_http_port(const avtb_sink_http *h)
{
    return h->port;
}

void avtb_sink_http_free(avtb_sink_http *h)
{
    if (h == NULL)
        return;
    while (h->fwds != NULL) {
        fwd *f = h->fwds;

        record(f, "the run ended before the upstream answered");
        if (f->up != NULL)
            evhttp_connection_free(f->up); /* frees its request; on_upstream is not called */
        f->up = NULL;
        fwd_free(f);
    }
    if (h->http != NULL)
        evhttp_free(h->http);
    if (h->dns != NULL)
        evdns_base_free(h->dns, 0);
    SSL_CTX_free(h->client_ctx);
    free(h);
}
