/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sink's TCP catch-all. nftables redirects every TCP connection the
 * guest opens, to any address and port, here; the original destination comes
 * back from conntrack (SO_ORIGINAL_DST). The first bytes decide what the
 * connection is (peeked, not consumed):
 *   - a TLS record: intercepted with the run's CA (tls-mitm.c); the plaintext
 *     is written to the transcript (tls-plaintext.pcapng) and, when it is
 *     HTTP, relayed to the sink's HTTP service;
 *   - an HTTP request: relayed to the HTTP service;
 *   - anything else, or silence (server-speaks-first protocols): accepted,
 *     read to the end and recorded; nothing is sent back.
 * One line per connection in sink-tcp.jsonl, and per TLS connection in
 * sink-tls.jsonl, written when it ends. The HTTP service learns who the guest
 * really was from avtb_sink_tcp_peer (the relay's local port is the key).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <linux/netfilter_ipv4.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collectors/sink.h"
#include "collectors/tls-mitm.h"
#include "collectors/transcript.h"
#include "common/log.h"
#include "common/util.h"

#define TCP_MAX_CONNS   512
#define TCP_SNIFF_S     3  /* a client silent this long is waiting for a banner: raw */
#define TCP_IDLE_S      30 /* a connection idle this long is closed */
#define TCP_LINGER_S    2  /* after the client's EOF, how long the HTTP answer may take */
#define TCP_FIRST_BYTES 32 /* logged in hex */
#define TCP_MAX_BUFFER  (4 << 20)

typedef enum { C_SNIFF, C_HANDSHAKE, C_PLAIN_SNIFF, C_RELAY, C_RAW } conn_state;

typedef struct tconn tconn;

struct avtb_sink_tcp {
    struct event_base *base;
    struct evconnlistener *listener;
    avtb_jsonl *tcp_log, *tls_log;
    avtb_mitm *mitm;     /* borrowed; NULL: TLS is recorded as raw */
    avtb_transcript *tr; /* borrowed; NULL: no transcripts */
    uint16_t http_port;  /* the HTTP service on 127.0.0.1 */
    tconn *first;
    unsigned nconns;
};

struct tconn {
    avtb_sink_tcp *s;
    tconn *prev, *next;
    conn_state state;
    const char *proto; /* "raw", "http", "tls" */
    evutil_socket_t fd;
    struct event *sniff;
    struct event *linger;
    struct bufferevent *cbev; /* the guest's side (socket or TLS) */
    struct bufferevent *rbev; /* relay to the HTTP service, or NULL */
    SSL *ssl;                 /* owned by cbev once it exists */
    avtb_transcript_flow *tf;
    avtb_mitm_handshake hs;
    bool tls_seen; /* a TLS handshake was attempted */
    bool client_eof, relay_eof;
    struct sockaddr_storage client_sa, odst_sa;
    char cip[46], oip[46];
    uint16_t cport, oport, relay_port;
    double start;
    uint64_t from_client, to_client;       /* bytes on the socket */
    uint64_t pt_from_client, pt_to_client; /* TLS plaintext */
    EVP_MD_CTX *sha;                       /* of what the client sent, as sent on the socket */
    uint8_t first_bytes[TCP_FIRST_BYTES];
    size_t nfirst;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Socket-level bytes from the client: counted, hashed, the first kept. */
static void saw_client_bytes(tconn *c, const void *p, size_t n)
{
    size_t k = n < TCP_FIRST_BYTES - c->nfirst ? n : TCP_FIRST_BYTES - c->nfirst;

    memcpy(c->first_bytes + c->nfirst, p, k);
    c->nfirst += k;
    c->from_client += n;
    if (c->sha != NULL)
        EVP_DigestUpdate(c->sha, p, n);
}

static void log_conn(tconn *c)
{
    avtb_sink_tcp *s = c->s;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char now[32], sha[65] = "", first[2 * TCP_FIRST_BYTES + 1];
    double end = now_s();
    json_t *o;

    avtb_utc_now(now);
    if (c->sha != NULL && EVP_DigestFinal_ex(c->sha, md, &mdlen) && mdlen == 32)
        avtb_hex(md, 32, sha);
    avtb_hex(c->first_bytes, c->nfirst, first);
    if (c->ssl != NULL) {
        c->from_client = BIO_number_read(SSL_get_rbio(c->ssl));
        c->to_client = BIO_number_written(SSL_get_wbio(c->ssl));
    }
    o = json_pack("{s:s, s:f, s:f, s:s, s:i, s:s, s:i, s:s, s:I, s:I, s:s?, s:s}", "time", now,
                  "start", c->start, "end", end, "client", c->cip, "client_port", (int)c->cport,
                  "orig_dst", c->oip, "orig_dst_port", (int)c->oport, "protocol", c->proto,
                  "bytes_from_client", (json_int_t)c->from_client, "bytes_to_client",
                  (json_int_t)c->to_client, "sha256", c->ssl ? NULL : sha, "first_bytes_hex",
                  first);
    avtb_jsonl_write(s->tcp_log, o);
    json_decref(o);
    if (!c->tls_seen)
        return;
    if (c->state == C_HANDSHAKE)
        avtb_mitm_describe(c->ssl, 0, &c->hs);
    o = json_pack("{s:s, s:f, s:f, s:s, s:i, s:s, s:i, s:s?, s:s?, s:s?, s:s?, s:b, s:s?, s:I, "
                  "s:I, s:I, s:I}",
                  "time", now, "start", c->start, "end", end, "client", c->cip, "client_port",
                  (int)c->cport, "orig_dst", c->oip, "orig_dst_port", (int)c->oport, "sni",
                  c->hs.sni[0] ? c->hs.sni : NULL, "alpn", c->hs.alpn[0] ? c->hs.alpn : NULL,
                  "version", c->hs.version[0] ? c->hs.version : NULL, "cipher",
                  c->hs.cipher[0] ? c->hs.cipher : NULL, "ok", (int)c->hs.ok, "failure",
                  c->hs.ok ? NULL : c->hs.failure, "client_bytes", (json_int_t)c->from_client,
                  "server_bytes", (json_int_t)c->to_client, "plaintext_from_client",
                  (json_int_t)c->pt_from_client, "plaintext_to_client",
                  (json_int_t)c->pt_to_client);
    avtb_jsonl_write(s->tls_log, o);
    json_decref(o);
}

static void conn_free(tconn *c)
{
    avtb_sink_tcp *s = c->s;
    avtb_error err = {0};

    log_conn(c);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->first = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    s->nconns--;
    if (c->tf != NULL && avtb_transcript_flow_close(c->tf, &err) != AVTB_OK)
        avtb_warn("sink: %s", err.msg);
    if (c->sniff != NULL)
        event_free(c->sniff);
    if (c->linger != NULL)
        event_free(c->linger);
    if (c->rbev != NULL)
        bufferevent_free(c->rbev);
    if (c->cbev != NULL) {
        /* The TLS bufferevent frees the SSL and closes the socket. */
        bufferevent_free(c->cbev);
    } else {
        if (c->ssl != NULL)
            SSL_free(c->ssl);
        if (c->fd >= 0)
            evutil_closesocket(c->fd);
    }
    EVP_MD_CTX_free(c->sha);
    free(c);
}

/* Plaintext of a TLS connection into its transcript. */
static void transcript(tconn *c, bool from_client, struct evbuffer *b)
{
    avtb_error err = {0};
    struct evbuffer_iovec v[8];
    int n;

    if (c->tf == NULL)
        return;
    n = evbuffer_peek(b, -1, NULL, v, 8);
    if (n > 8) {
        /* Rare: many small chains. Make it one piece. */
        if (evbuffer_pullup(b, -1) == NULL)
            return;
        n = evbuffer_peek(b, -1, NULL, v, 1);
    }
    for (int i = 0; i < n; i++)
        if (avtb_transcript_data(c->tf, from_client, v[i].iov_base, v[i].iov_len, &err) !=
            AVTB_OK) {
            avtb_warn("sink: %s", err.msg);
            if (avtb_transcript_flow_close(c->tf, &err) != AVTB_OK)
                avtb_debug("sink: %s", err.msg);
            c->tf = NULL;
            return;
        }
}

static bool http_start(const uint8_t *b, size_t n)
{
    static const char *const methods[] = {"GET ",     "POST ",  "PUT ",     "HEAD ", "DELETE ",
                                          "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "};

    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        size_t ml = strlen(methods[i]);

        if (memcmp(b, methods[i], n < ml ? n : ml) == 0)
            return true;
    }
    return false;
}

static void on_relay_read(struct bufferevent *bev, void *arg);
static void on_relay_event(struct bufferevent *bev, short what, void *arg);

/* Opens the relay to the HTTP service; false if it cannot be made. */
static bool relay_open(tconn *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->s->http_port)};
    struct sockaddr_in local;
    socklen_t ll = sizeof(local);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->rbev = bufferevent_socket_new(c->s->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (c->rbev == NULL ||
        bufferevent_socket_connect(c->rbev, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return false;
    /* The connect is on a loopback socket: the local port is known already. */
    if (getsockname(bufferevent_getfd(c->rbev), (struct sockaddr *)&local, &ll) == 0)
        c->relay_port = ntohs(local.sin_port);
    bufferevent_setcb(c->rbev, on_relay_read, NULL, on_relay_event, c);
    bufferevent_enable(c->rbev, EV_READ | EV_WRITE);
    c->state = C_RELAY;
    return true;
}

static void on_linger(evutil_socket_t fd, short what, void *arg)
{
    conn_free(arg);
}

/* Closes once what is queued for the guest is sent (bounded by TCP_LINGER_S). */
static void close_soon(tconn *c)
{
    struct timeval tv = {TCP_LINGER_S, 0};

    if (c->linger == NULL)
        c->linger = evtimer_new(c->s->base, on_linger, c);
    if (c->linger == NULL || evtimer_add(c->linger, &tv) != 0)
        conn_free(c);
}

static void on_client_read(struct bufferevent *bev, void *arg)
{
    tconn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);

    if (n == 0)
        return;
    if (c->ssl != NULL) {
        c->pt_from_client += n;
        transcript(c, true, in);
    } else {
        struct evbuffer_iovec v[8];
        int k = evbuffer_peek(in, -1, NULL, v, 8);

        for (int i = 0; i < k && i < 8; i++)
            saw_client_bytes(c, v[i].iov_base, v[i].iov_len);
    }
    if (c->state == C_PLAIN_SNIFF) {
        uint8_t head[8];
        size_t h = evbuffer_copyout(in, head, sizeof(head)) > 0 ? (n < 8 ? n : 8) : 0;

        if (h > 0 && http_start(head, h)) {
            c->proto = "tls"; /* stays tls; the HTTP inside goes to the HTTP service */
            if (!relay_open(c)) {
                conn_free(c);
                return;
            }
        } else {
            c->state = C_RAW;
        }
    }
    if (c->state == C_RELAY && c->rbev != NULL) {
        if (evbuffer_get_length(bufferevent_get_output(c->rbev)) > TCP_MAX_BUFFER) {
            conn_free(c);
            return;
        }
        bufferevent_write_buffer(c->rbev, in);
    } else {
        evbuffer_drain(in, n);
    }
}

static void on_client_event(struct bufferevent *bev, short what, void *arg)
{
    tconn *c = arg;

    if (what & BEV_EVENT_CONNECTED) {
        char comment[512];
        avtb_error err = {0};

        avtb_mitm_describe(c->ssl, 1, &c->hs);
        c->state = C_PLAIN_SNIFF;
        avtb_transcript_comment(comment, sizeof(comment), c->hs.sni, c->hs.version, c->hs.cipher,
                                c->hs.alpn);
        if (c->s->tr != NULL &&
            avtb_transcript_flow_open(c->s->tr, (struct sockaddr *)&c->client_sa,
                                      (struct sockaddr *)&c->odst_sa, comment, &c->tf,
                                      &err) != AVTB_OK)
            avtb_warn("sink: %s", err.msg);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        c->client_eof = true;
        if (c->state == C_RELAY && c->rbev != NULL && !c->relay_eof) {
            /* The answer may still be on its way: give it a moment. */
            bufferevent_disable(bev, EV_READ);
            close_soon(c);
            return;
        }
        conn_free(c);
    }
}

static void on_relay_read(struct bufferevent *bev, void *arg)
{
    tconn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);

    if (c->client_eof) {
        evbuffer_drain(in, n);
        return;
    }
    if (c->ssl != NULL) {
        c->pt_to_client += n;
        transcript(c, false, in);
    } else {
        c->to_client += n;
    }
    bufferevent_write_buffer(c->cbev, in);
}

static void on_client_drained(struct bufferevent *bev, void *arg)
{
    tconn *c = arg;

    if (c->relay_eof)
        conn_free(c);
}

static void on_relay_event(struct bufferevent *bev, short what, void *arg)
{
    tconn *c = arg;

    if (what & BEV_EVENT_CONNECTED)
        return;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        c->relay_eof = true;
        if (c->client_eof || evbuffer_get_length(bufferevent_get_output(c->cbev)) == 0) {
            conn_free(c);
            return;
        }
        /* Send the rest of the answer, then close. */
        bufferevent_setcb(c->cbev, on_client_read, on_client_drained, on_client_event, c);
        close_soon(c);
    }
}

/* The first bytes are in (or the client stayed silent): choose the handler. */
static void on_sniff(evutil_socket_t fd, short what, void *arg)
{
    struct timeval idle = {TCP_IDLE_S, 0};
    tconn *c = arg;
    avtb_sink_tcp *s = c->s;
    uint8_t head[TCP_FIRST_BYTES];
    ssize_t n = 0;
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;

    if (what & EV_READ) {
        n = recv(fd, head, sizeof(head), MSG_PEEK);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            event_add(c->sniff, NULL);
            return;
        }
        if (n <= 0) {
            conn_free(c); /* closed without a byte */
            return;
        }
        /* A prefix of an HTTP method may be the start of one: wait for more. */
        if (n < 4 && head[0] != 0x16 && http_start(head, (size_t)n)) {
            struct timeval tv = {0, 200000};

            event_add(c->sniff, &tv);
            return;
        }
    }
    if (n > 0 && head[0] == 0x16 && (n < 2 || head[1] == 0x03) && s->mitm != NULL) {
        c->proto = "tls";
        c->tls_seen = true;
        memcpy(c->first_bytes, head, (size_t)n);
        c->nfirst = (size_t)n;
        c->state = C_HANDSHAKE;
        c->ssl = SSL_new(avtb_mitm_ctx(s->mitm));
        if (c->ssl != NULL) {
            avtb_error err = {0};

            if (avtb_mitm_set_local_ip(c->ssl, c->oip, &err) != AVTB_OK)
                avtb_debug("sink: %s", err.msg);
            c->cbev = bufferevent_openssl_socket_new(s->base, fd, c->ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                     opts);
        }
        if (c->cbev != NULL)
            bufferevent_openssl_set_allow_dirty_shutdown(c->cbev, 1);
    } else {
        c->proto = n > 0 && http_start(head, (size_t)n) ? "http" : "raw";
        c->state = C_RAW;
        c->cbev = bufferevent_socket_new(s->base, fd, opts);
        if (c->cbev != NULL && strcmp(c->proto, "http") == 0 && !relay_open(c)) {
            conn_free(c);
            return;
        }
    }
    if (c->cbev == NULL) {
        conn_free(c);
        return;
    }
    c->fd = -1; /* transferred to the bufferevent */
    bufferevent_setcb(c->cbev, on_client_read, NULL, on_client_event, c);
    bufferevent_set_timeouts(c->cbev, &idle, &idle);
    bufferevent_setwatermark(c->cbev, EV_READ, 0, 256 * 1024);
    bufferevent_enable(c->cbev, EV_READ | EV_WRITE);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    struct timeval tv = {TCP_SNIFF_S, 0};
    avtb_sink_tcp *s = arg;
    socklen_t ol = sizeof(struct sockaddr_in);
    tconn *c;

    if (s->nconns >= TCP_MAX_CONNS) {
        avtb_warn("sink: more than %u TCP connections at once; refusing one", TCP_MAX_CONNS);
        evutil_closesocket(fd);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        evutil_closesocket(fd);
        return;
    }
    c->s = s;
    c->fd = fd;
    c->proto = "raw";
    c->start = now_s();
    c->sha = EVP_MD_CTX_new();
    if (c->sha != NULL && !EVP_DigestInit_ex(c->sha, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(c->sha);
        c->sha = NULL;
    }
    memcpy(&c->client_sa, sa,
           (size_t)salen < sizeof(c->client_sa) ? (size_t)salen : sizeof(c->client_sa));
    avtb_sink_addr_str(sa, c->cip, &c->cport);
    /* The destination the guest asked for, before nftables redirected it. */
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &c->odst_sa, &ol) != 0) {
        ol = sizeof(c->odst_sa);
        getsockname(fd, (struct sockaddr *)&c->odst_sa, &ol);
    }
    avtb_sink_addr_str((struct sockaddr *)&c->odst_sa, c->oip, &c->oport);
    c->next = s->first;
    if (s->first != NULL)
        s->first->prev = c;
    s->first = c;
    s->nconns++;
    c->sniff = event_new(s->base, fd, EV_READ, on_sniff, c);
    if (c->sniff == NULL || event_add(c->sniff, &tv) != 0)
        conn_free(c);
}

avtb_err avtb_sink_tcp_new(struct event_base *base, const char *ip, uint16_t port,
                           const avtb_sink_tcp_config *cfg, avtb_sink_tcp **out, avtb_error *err)
{
    avtb_err r = AVTB_ERR_INTERNAL;
    avtb_sink_tcp *s = calloc(1, sizeof(*s));
    evutil_socket_t fd = -1;

    *out = NULL;
    if (s == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "sink TCP: out of memory");
        goto out;
    }
    s->base = base;
    s->tcp_log = cfg->tcp_log;
    s->tls_log = cfg->tls_log;
    s->mitm = cfg->mitm;
    s->tr = cfg->transcript;
    s->http_port = cfg->http_port;
    fd = avtb_sink_socket(ip, port, SOCK_STREAM, err);
    if (fd < 0) {
        r = err ? err->code : AVTB_ERR_IO;
        goto out;
    }
    s->listener = evconnlistener_new(base, on_accept, s, LEV_OPT_CLOSE_ON_FREE, -1, fd);
    if (s->listener == NULL) {
        r = avtb_error_set(err, AVTB_ERR_IO, "sink TCP: cannot serve %s:%u", ip, port);
        goto out;
    }
    fd = -1; /* transferred: LEV_OPT_CLOSE_ON_FREE */
    *out = s;
    s = NULL; /* transferred */
    r = AVTB_OK;
out:
    if (fd >= 0)
        evutil_closesocket(fd);
    avtb_sink_tcp_free(s);
    return r;
}

bool avtb_sink_tcp_peer(const avtb_sink_tcp *s, uint16_t relay_port, avtb_sink_peer *out)
{
    for (const tconn *c = s ? s->first : NULL; c != NULL; c = c->next) {
        if (c->rbev == NULL || c->relay_port != relay_port)
            continue;
        snprintf(out->client, sizeof(out->client), "%s", c->cip);
        out->client_port = c->cport;
        snprintf(out->orig_dst, sizeof(out->orig_dst), "%s", c->oip);
        out->orig_dst_port = c->oport;
        out->tls = c->ssl != NULL;
        snprintf(out->sni, sizeof(out->sni), "%s", c->hs.sni);
        return true;
    }
    return false;
}

void avtb_sink_tcp_free(avtb_sink_tcp *s)
{
    if (s == NULL)
        return;
    if (s->listener != NULL)
        evconnlistener_free(s->listener);
    while (s->first != NULL)
        conn_free(s->first);
    free(s);
}
