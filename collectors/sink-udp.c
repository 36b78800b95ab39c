/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sink's UDP catch-all: nftables redirects every UDP datagram the guest
 * sends (but DNS and DHCP) here. Each is recorded in sink-udp.jsonl with the
 * destination the guest meant, read back from conntrack (the datagram's
 * reply tuple names the redirection, its original tuple the destination);
 * nothing is answered. The bytes themselves are in the capture.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "collectors/sink.h"
#include "common/log.h"
#include "common/util.h"

#define UDP_MAX_LOGGED  100000 /* datagrams logged one by one; the rest are counted */
#define UDP_FIRST_BYTES 32

struct avtb_sink_udp {
    struct event *ev;
    evutil_socket_t fd;
    avtb_jsonl *log;
    char ip[46];
    uint16_t port;
    uint64_t logged, unlogged;
};

typedef struct orig_lookup {
    /* The reply tuple looked for, network order: from us back to the guest. */
    uint32_t local_ip, client_ip;
    uint16_t local_port, client_port;
    bool found;
    uint32_t ip;    /* network order */
    uint16_t port;  /* network order */
    uint16_t sport; /* the guest's own source port, network order */
} orig_lookup;

static int on_ct(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *arg)
{
    orig_lookup *o = arg;

    if (nfct_get_attr_u8(ct, ATTR_REPL_L4PROTO) != IPPROTO_UDP ||
        nfct_get_attr_u32(ct, ATTR_REPL_IPV4_SRC) != o->local_ip ||
        nfct_get_attr_u32(ct, ATTR_REPL_IPV4_DST) != o->client_ip ||
        nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC) != o->local_port ||
        nfct_get_attr_u16(ct, ATTR_REPL_PORT_DST) != o->client_port)
        return NFCT_CB_CONTINUE;
    o->ip = nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_DST);
    o->port = nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST);
    o->sport = nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC);
    o->found = true;
    return NFCT_CB_STOP;
}

/*
 * Answers already looked up, so that a guest flooding one UDP flow costs one
 * table walk, not one per datagram. While a conntrack entry lives, the
 * port the sink saw names it alone (NAT renumbers a second flow's port);
 * an unreplied UDP entry lives 30 s after its last packet, so an answer is
 * trusted for ORIG_CACHE_S after it was looked up. The sink is one thread.
 */
#define ORIG_CACHE_SLOTS 256
#define ORIG_CACHE_S     5

static struct orig_cache {
    uint32_t local_ip, client_ip; /* network order */
    uint16_t local_port, client_port;
    time_t at; /* 0: empty */
    char ip[46];
    uint16_t port, sport;
} orig_cache[ORIG_CACHE_SLOTS];

static struct orig_cache *cache_slot(uint32_t lip, uint16_t lport, uint32_t cip, uint16_t cport)
{
    uint32_t h = (lip ^ cip ^ ((uint32_t)lport << 16 | cport)) * 2654435761u;

    return &orig_cache[h >> 24]; /* 256 slots */
}

/* Fills o from the conntrack table; needs CAP_NET_ADMIN. */
static bool ct_query(orig_lookup *o)
{
    uint32_t family = AF_INET;
    struct nfct_handle *h = nfct_open(CONNTRACK, 0);

    o->found = false;
    if (h == NULL)
        return false;
    nfct_callback_register(h, NFCT_T_ALL, on_ct, o);
    if (nfct_query(h, NFCT_Q_DUMP, &family) != 0)
        o->found = false;
    nfct_close(h);
    return o->found;
}

/*
 * The confined sink (common/sandbox.h) has neither netlink nor
 * CAP_NET_ADMIN, which a conntrack dump needs: a helper forked before the
 * sandbox keeps them and answers lookups over a socket pair. What it reads
 * is one fixed-size orig_lookup at a time, four addresses and ports the sink
 * filled in; it parses nothing the guest chose. The sink is one thread, so
 * one question is in flight at a time.
 */
#define CT_HELPER_MS 2000 /* a lookup that takes longer is given up ("?") */

static int ct_fd = -1;
static pid_t ct_pid = -1;

static bool ct_lookup(orig_lookup *o)
{
    orig_lookup a;
    ssize_t n;

    if (ct_fd < 0)
        return ct_query(o);
    do
        n = write(ct_fd, o, sizeof(*o));
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(*o))
        return false;
    do
        n = read(ct_fd, &a, sizeof(a));
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(a) || a.local_ip != o->local_ip || a.client_ip != o->client_ip ||
        a.local_port != o->local_port || a.client_port != o->client_port)
        return false;
    *o = a;
    return o->found;
}

static void ct_helper_main(int fd)
{
    orig_lookup o;

    prctl(PR_SET_NAME, "avtb-sink-ct", 0, 0, 0);
    if (dup2(fd, 3) < 0)
        _exit(127);
    close_range(4, ~0U, 0);
    for (;;) {
        ssize_t n = read(3, &o, sizeof(o));

        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(o))
            _exit(0); /* the sink is gone */
        ct_query(&o);
        if (write(3, &o, sizeof(o)) != (ssize_t)sizeof(o))
            _exit(0);
    }
}

avtb_err avtb_sink_ct_helper_start(avtb_error *err)
{
    struct timeval tv = {CT_HELPER_MS / 1000, (CT_HELPER_MS % 1000) * 1000};
    pid_t parent = getpid();
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "sink: conntrack helper: socketpair");
    ct_pid = fork();
    if (ct_pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return avtb_error_errno(err, AVTB_ERR_CHILD, errno, "sink: conntrack helper: fork");
    }
    if (ct_pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        ct_helper_main(sv[1]);
    }
    close(sv[1]);
    ct_fd = sv[0];
    setsockopt(ct_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(ct_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return AVTB_OK;
}

void avtb_sink_ct_helper_stop(void)
{
    if (ct_fd >= 0)
        close(ct_fd); /* the helper reads EOF and exits */
    ct_fd = -1;
    if (ct_pid > 0 && avtb_wait_bounded(ct_pid, CT_HELPER_MS, &(int){0}) != 1) {
        kill(ct_pid, SIGKILL);
        (void)avtb_wait_bounded(ct_pid, CT_HELPER_MS, &(int){0});
    }
    ct_pid = -1;
}

/*
 * libnetfilter_conntrack cannot ask for one entry by its reply tuple (its
 * GET always sends an original tuple, empty here, which the kernel then
 * looks up), so this walks the IPv4 table. The run's namespace holds only
 * the guests' flows, so the table is small.
 */
bool avtb_sink_orig_dst_udp(const char *local_ip, uint16_t local_port, const char *client_ip,
                            uint16_t client_port, char ip[46], uint16_t *port,
                            uint16_t *client_sport)
{
    struct in_addr lip, cip;
    orig_lookup o = {0};
    struct orig_cache *slot;
    time_t now = time(NULL);

    ip[0] = '\0';
    *port = 0;
    if (inet_pton(AF_INET, local_ip, &lip) != 1 || inet_pton(AF_INET, client_ip, &cip) != 1)
        return false;
    slot = cache_slot(lip.s_addr, local_port, cip.s_addr, client_port);
    if (slot->at != 0 && now - slot->at < ORIG_CACHE_S && slot->local_ip == lip.s_addr &&
        slot->client_ip == cip.s_addr && slot->local_port == local_port &&
        slot->client_port == client_port) {
        snprintf(ip, 46, "%s", slot->ip);
        *port = slot->port;
        if (client_sport != NULL)
            *client_sport = slot->sport;
        return true;
    }
    o.local_ip = lip.s_addr;
    o.client_ip = cip.s_addr;
    o.local_port = htons(local_port);
    o.client_port = htons(client_port);
    if (!ct_lookup(&o))
        return false;
    inet_ntop(AF_INET, &o.ip, ip, 46);
    *port = ntohs(o.port);
    if (client_sport != NULL)
        *client_sport = ntohs(o.sport);
    *slot = (struct orig_cache){.local_ip = lip.s_addr,
                                .client_ip = cip.s_addr,
                                .local_port = local_port,
                                .client_port = client_port,
                                .at = now,
                                .port = *port,
                                .sport = ntohs(o.sport)};
    snprintf(slot->ip, sizeof(slot->ip), "%s", ip);
    return true;
}

static void on_datagram(evutil_socket_t fd, short what, void *arg)
{
    avtb_sink_udp *u = arg;

    for (unsigned budget = 0; budget < 256; budget++) {
        uint8_t buf[65536];
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char now[32], cip[46], oip[46], sha[65], first[2 * UDP_FIRST_BYTES + 1];
        uint16_t cport, oport;
        ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
        json_t *o;

        if (n < 0)
            return; /* EAGAIN, or an ICMP error for an earlier datagram: nothing to log */
        if (u->logged >= UDP_MAX_LOGGED) {
            u->unlogged++;
            continue;
        }
        avtb_sink_addr_str((struct sockaddr *)&ss, cip, &cport);
        /* NAT renumbers the guest's port when one socket sends to several
         * destinations; conntrack knows the one it used. */
        if (!avtb_sink_orig_dst_udp(u->ip, u->port, cip, cport, oip, &oport, &cport))
            snprintf(oip, sizeof(oip), "?");
        avtb_sha256_hex(buf, (size_t)n, sha);
        avtb_hex(buf, (size_t)n < UDP_FIRST_BYTES ? (size_t)n : UDP_FIRST_BYTES, first);
        avtb_utc_now(now);
        o = json_pack("{s:s, s:s, s:i, s:s, s:i, s:I, s:s, s:s}", "time", now, "client", cip,
                      "client_port", (int)cport, "orig_dst", oip, "orig_dst_port", (int)oport,
                      "bytes", (json_int_t)n, "sha256", sha, "first_bytes_hex", first);
        avtb_jsonl_write(u->log, o);
        json_decref(o);
        u->logged++;
    }
}

avtb_err avtb_sink_udp_new(struct event_base *base, const char *ip, uint16_t port, avtb_jsonl *log,
                           avtb_sink_udp **out, avtb_error *err)
{
    avtb_err r = AVTB_ERR_INTERNAL;
    avtb_sink_udp *u = calloc(1, sizeof(*u));

    *out = NULL;
    if (u == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "sink UDP: out of memory");
        goto out;
    }
    u->fd = -1;
    u->log = log;
    u->port = port;
    snprintf(u->ip, sizeof(u->ip), "%s", ip);
    u->fd = avtb_sink_socket(ip, port, SOCK_DGRAM, err);
    if (u->fd < 0) {
        r = err ? err->code : AVTB_ERR_IO;
        goto out;
    }
    u->ev = event_new(base, u->fd, EV_READ | EV_PERSIST, on_datagram, u);
    if (u->ev == NULL || event_add(u->ev, NULL) != 0) {
        r = avtb_error_set(err, AVTB_ERR_IO, "sink UDP: cannot watch %s:%u", ip, port);
        goto out;
    }
    *out = u;
    u = NULL; /* transferred */
    r = AVTB_OK;
out:
    avtb_sink_udp_free(u);
    return r;
}

void avtb_sink_udp_free(avtb_sink_udp *u)
{
    if (u == NULL)
        return;
    if (u->unlogged > 0)
        avtb_warn("sink: %llu UDP datagrams past the first %u were not logged (the capture has "
                  "them)",
                  (unsigned long long)u->unlogged, UDP_MAX_LOGGED);
    if (u->ev != NULL)
        event_free(u->ev);
    if (u->fd >= 0)
        evutil_closesocket(u->fd);
    free(u);
}
