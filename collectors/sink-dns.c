/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sink's DNS service: every A query resolves to the sink itself, so a
 * guest that looks up any host sends its traffic to the sink; AAAA and all
 * other types get an empty NOERROR so the guest falls back to IPv4. UDP is
 * libevent's evdns server; evdns in libevent 2.1 has no TCP server, so TCP
 * (RFC 7766, 2-byte length prefix) is a small listener on app-dns.c.
 */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/listener.h>
#include <linux/netfilter_ipv4.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "collectors/app-dns.h"
#include "collectors/sink.h"
#include "common/log.h"
#include "common/util.h"

#define DNS_TCP_MAX_CONNS 64
#define DNS_TCP_IDLE_S    10
#define DNS_TCP_MAX_OUT   (256 * 1024) /* a client that never reads is dropped */

struct avtb_sink_dns {
    struct event_base *base;
    struct evdns_server_port *udp;
    evutil_socket_t udp_fd;
    struct evconnlistener *tcp;
    avtb_jsonl *log;
    char ip[46];
    uint8_t a4[4];
    unsigned conns;
    struct dns_conn *first; /* open TCP connections, freed with the service */
};

typedef struct dns_conn {
    avtb_sink_dns *d;
    struct bufferevent *bev;
    struct dns_conn *prev, *next;
    char ip[46];
    uint16_t port;
    char odst[46]; /* the resolver the guest connected to */
} dns_conn;

/* orig_dst: the resolver the guest asked (nftables sends every resolver's port 53 here). */
static void log_query(avtb_sink_dns *d, const char *transport, const char *ip, uint16_t port,
                      const char *orig_dst, const char *qname, uint16_t qtype, bool answered)
{
    char now[32], tbuf[16];
    json_t *o;

    avtb_utc_now(now);
    o = json_pack("{s:s, s:s, s:i, s:s?, s:s, s:s, s:s, s:s?}", "time", now, "client", ip,
                  "client_port", (int)port, "orig_dst", orig_dst && orig_dst[0] ? orig_dst : NULL,
                  "transport", transport, "qname", qname, "qtype", avtb_dns_type_name(qtype, tbuf),
                  "answer", answered ? d->ip : NULL);
    avtb_jsonl_write(d->log, o);
    json_decref(o);
}

static void on_udp_request(struct evdns_server_request *req, void *arg)
{
    avtb_sink_dns *d = arg;
    struct sockaddr_storage ss;
    char ip[46], qname[AVTB_DNS_NAME_TEXT], odst[46] = "";
    uint16_t port = 0, oport = 0;

    memset(&ss, 0, sizeof(ss));
    if (evdns_server_request_get_requesting_addr(req, (struct sockaddr *)&ss, sizeof(ss)) > 0) {
        avtb_sink_addr_str((struct sockaddr *)&ss, ip, &port);
        avtb_sink_orig_dst_udp(d->ip, AVTB_SINK_DNS_PORT, ip, port, odst, &oport, NULL);
    } else {
        strcpy(ip, "?");
    }
    evdns_server_request_set_flags(req, EVDNS_FLAGS_AA);
    for (int i = 0; i < req->nquestions; i++) {
        const struct evdns_server_question *q = req->questions[i];
        bool a = q->type == EVDNS_TYPE_A && q->dns_question_class == EVDNS_CLASS_INET;

        if (a && evdns_server_request_add_a_reply(req, q->name, 1, d->a4, AVTB_SINK_DNS_TTL) != 0)
            a = false;
        avtb_dns_escape(q->name, strlen(q->name), qname, sizeof(qname));
        log_query(d, "udp", ip, port, odst, qname, (uint16_t)q->type, a);
    }
    if (evdns_server_request_respond(req, 0) != 0)
        avtb_warn("sink: DNS reply to %s:%u failed", ip, port);
}

static void conn_close(struct bufferevent *bev, dns_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        c->d->first = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->d->conns--;
    bufferevent_free(bev);
    free(c);
}

/* One length-prefixed query: answer it. Returns false to drop the connection. */
static bool tcp_query(dns_conn *c, struct bufferevent *bev, const uint8_t *msg, size_t len)
{
    uint8_t reply[2 + 65535];
    avtb_dns_query q;
    size_t n;
    bool a;

    if (avtb_dns_parse_query(msg, len, &q) != AVTB_PARSE_OK)
        return false; /* nothing sensible to answer; the capture keeps the bytes */
    a = q.qtype == AVTB_DNS_TYPE_A && q.qclass == AVTB_DNS_CLASS_IN;
    n = avtb_dns_build_reply(&q, msg, a ? c->d->a4 : NULL, AVTB_SINK_DNS_TTL, reply + 2,
                             sizeof(reply) - 2);
    if (n == 0)
        return false;
    reply[0] = (uint8_t)(n >> 8);
    reply[1] = (uint8_t)n;
    log_query(c->d, "tcp", c->ip, c->port, c->odst, q.qname, q.qtype, a);
    return bufferevent_write(bev, reply, n + 2) == 0;
}

static void on_tcp_read(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    dns_conn *c = arg;

    while (evbuffer_get_length(in) >= 2) {
        uint8_t lb[2];
        size_t n;
        const uint8_t *msg;

        evbuffer_copyout(in, lb, 2);
        n = (size_t)lb[0] << 8 | lb[1];
        if (evbuffer_get_length(in) < 2 + n)
            return;
        msg = evbuffer_pullup(in, (ev_ssize_t)(2 + n));
        if (msg == NULL || !tcp_query(c, bev, msg + 2, n) ||
            evbuffer_get_length(bufferevent_get_output(bev)) > DNS_TCP_MAX_OUT) {
            conn_close(bev, c);
            return;
        }
        evbuffer_drain(in, 2 + n);
    }
}

static void on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        conn_close(bev, arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    struct timeval idle = {DNS_TCP_IDLE_S, 0};
    avtb_sink_dns *d = arg;
    struct bufferevent *bev;
    dns_conn *c;

    if (d->conns >= DNS_TCP_MAX_CONNS) {
        evutil_closesocket(fd);
        return;
    }
    c = calloc(1, sizeof(*c));
    bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c == NULL || bev == NULL) {
        free(c);
        if (bev != NULL)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        return;
    }
    c->d = d;
    c->bev = bev;
    avtb_sink_addr_str(sa, c->ip, &c->port);
    {
        struct sockaddr_in od;
        socklen_t ol = sizeof(od);
        uint16_t op;

        if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &od, &ol) == 0)
            avtb_sink_addr_str((struct sockaddr *)&od, c->odst, &op);
    }
    c->next = d->first;
    if (d->first != NULL)
        d->first->prev = c;
    d->first = c;
    d->conns++;
    bufferevent_setcb(bev, on_tcp_read, NULL, on_tcp_event, c);
    bufferevent_set_timeouts(bev, &idle, &idle);
    /* One full message plus its prefix may wait in the input buffer, no more. */
    bufferevent_setwatermark(bev, EV_READ, 0, 2 + 65535);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

avtb_err avtb_sink_dns_new(struct event_base *base, const char *ip, avtb_jsonl *log,
                           avtb_sink_dns **out, avtb_error *err)
{
    avtb_err r = AVTB_ERR_INTERNAL;
    avtb_sink_dns *d = calloc(1, sizeof(*d));
    evutil_socket_t tfd = -1;

    *out = NULL;
    if (d == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "sink DNS: out of memory");
        goto out;
    }
    d->base = base;
    d->log = log;
    d->udp_fd = -1;
    snprintf(d->ip, sizeof(d->ip), "%s", ip);
    if (inet_pton(AF_INET, ip, d->a4) != 1) {
        r = avtb_error_set(err, AVTB_ERR_INPUT, "sink address %s is not an IPv4 address", ip);
        goto out;
    }
    d->udp_fd = avtb_sink_socket(ip, 53, SOCK_DGRAM, err);
    if (d->udp_fd < 0) {
        r = err ? err->code : AVTB_ERR_IO;
        goto out;
    }
    d->udp = evdns_add_server_port_with_base(base, d->udp_fd, 0, on_udp_request, d);
    if (d->udp == NULL) {
        r = avtb_error_set(err, AVTB_ERR_IO, "sink DNS: cannot serve UDP %s:53", ip);
        goto out;
    }
    tfd = avtb_sink_socket(ip, 53, SOCK_STREAM, err);
    if (tfd < 0) {
        r = err ? err->code : AVTB_ERR_IO;
        goto out;
    }
    d->tcp = evconnlistener_new(base, on_accept, d, LEV_OPT_CLOSE_ON_FREE, -1, tfd);
    if (d->tcp == NULL) {
        r = avtb_error_set(err, AVTB_ERR_IO, "sink DNS: cannot serve TCP %s:53", ip);
        goto out;
    }
    tfd = -1; /* transferred: LEV_OPT_CLOSE_ON_FREE */
    *out = d;
    d = NULL; /* transferred */
    r = AVTB_OK;
out:
    if (tfd >= 0)
        evutil_closesocket(tfd);
    avtb_sink_dns_free(d);
    return r;
}

void avtb_sink_dns_free(avtb_sink_dns *d)
{
    if (d == NULL)
        return;
    while (d->first != NULL)
        conn_close(d->first->bev, d->first);
    if (d->tcp != NULL)
        evconnlistener_free(d->tcp);
    if (d->udp != NULL)
        evdns_close_server_port(d->udp); /* does not close the socket */
    if (d->udp_fd >= 0)
        evutil_closesocket(d->udp_fd);
    free(d);
}
