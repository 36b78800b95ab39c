/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TLS transcript writer (transcript.h): plaintext to synthetic TCP
 * segments in raw IP, written by pcapng.c. The segments are what a capture
 * of the connection would show had it not been encrypted, so every tool that
 * reads captures (Wireshark, tshark, our own analysis) reads the plaintext
 * with no TLS knowledge at all.
 */
#include "collectors/transcript.h"

#include <netinet/in.h>
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IP4_HLEN 20
#define IP6_HLEN 40
#define TCP_HLEN 20
#define SYN_OPTS 4 /* window scale (3 bytes) and a NOP */
#define PKT_MAX  (IP6_HLEN + TCP_HLEN + SYN_OPTS + AVTB_TRANSCRIPT_SEGMENT)

/* SYNs announce this window scale, so a long upload with few ACKs never fills the window. */
#define WSCALE 14
/* A pure ACK from the receiver once this much of a side's data is unacknowledged. */
#define ACK_EVERY (64u << 20)

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_PSH 0x08
#define TH_ACK 0x10

struct avtb_transcript {
    avtb_pcapng *w;
    uint32_t iface;
    avtb_transcript_flow *open; /* flows not yet closed, to detach at close */
    unsigned long long nflows;
    uint8_t pkt[PKT_MAX];
};

struct avtb_transcript_flow {
    avtb_transcript *t; /* NULL once t closed under the flow */
    avtb_transcript_flow *prev, *next;
    int family;           /* 4 or 6 */
    uint8_t addr[2][16];  /* 0: client, 1: server; IPv4 in the first 4 bytes */
    uint16_t port[2];     /* host order */
    uint32_t next_seq[2]; /* the next sequence number each side sends */
    uint32_t acked[2];    /* the last ack the other side sent for this side's bytes */
    uint16_t ip_id[2];    /* IPv4 identification, per side */
    char *comment;        /* for the first packet; freed once written */
};

/* One's complement sum of n bytes (RFC 1071), not yet folded. */
static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += (uint32_t)(p[n - 1] << 8);
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/*
 * Builds one segment from side (0 client, 1 server) into t->pkt: flags,
 * the side's next sequence number, the other side's as the ack (0 on a
 * bare SYN), then the payload. Returns its length.
 */
static size_t build(avtb_transcript_flow *f, unsigned side, uint8_t flags, const uint8_t *data,
                    size_t len)
{
    uint8_t *p = f->t->pkt, *tcp;
    size_t ihl = f->family == 4 ? IP4_HLEN : IP6_HLEN, alen = f->family == 4 ? 4 : 16;
    size_t thl = TCP_HLEN + ((flags & TH_SYN) ? SYN_OPTS : 0), tlen = thl + len;
    uint32_t s;

    memset(p, 0, ihl + thl);
    if (f->family == 4) {
        p[0] = 0x45;
        wr16(p + 2, (uint16_t)(ihl + tlen));
        wr16(p + 4, f->ip_id[side]++);
        wr16(p + 6, 0x4000); /* don't fragment */
        p[8] = 64;
        p[9] = IPPROTO_TCP;
        memcpy(p + 12, f->addr[side], 4);
        memcpy(p + 16, f->addr[!side], 4);
        wr16(p + 10, fold(sum16(0, p, IP4_HLEN)));
    } else {
        p[0] = 0x60;
        wr16(p + 4, (uint16_t)tlen);
        p[6] = IPPROTO_TCP;
        p[7] = 64;
        memcpy(p + 8, f->addr[side], 16);
        memcpy(p + 24, f->addr[!side], 16);
    }
    tcp = p + ihl;
    wr16(tcp, f->port[side]);
    wr16(tcp + 2, f->port[!side]);
    wr32(tcp + 4, f->next_seq[side]);
    wr32(tcp + 8, (flags & TH_ACK) ? f->next_seq[!side] : 0);
    tcp[12] = (uint8_t)((thl / 4) << 4);
    tcp[13] = flags;
    wr16(tcp + 14, 65535);
    if (flags & TH_SYN) {
        tcp[20] = 1; /* NOP */
        tcp[21] = 3; /* window scale, RFC 7323 */
        tcp[22] = 3;
        tcp[23] = WSCALE;
    }
    if (len > 0)
        memcpy(tcp + thl, data, len);
    /* The pseudo-header: addresses, protocol, TCP length (RFC 793, RFC 8200 8.1). */
    s = sum16(0, f->addr[side], alen);
    s = sum16(s, f->addr[!side], alen);
    s += IPPROTO_TCP + (uint32_t)(tlen >> 16) + (uint32_t)(tlen & 0xffff);
    wr16(tcp + 16, fold(sum16(s, tcp, tlen)));
    return ihl + tlen;
}

/* Writes one segment (build's arguments), with the flow's comment if it still has one. */
static avtb_err emit(avtb_transcript_flow *f, unsigned side, uint8_t flags, const uint8_t *data,
                     size_t len, avtb_error *err)
{
    avtb_transcript *t = f->t;
    size_t n = build(f, side, flags, data, len);
    struct timespec now;
    avtb_err r;

    clock_gettime(CLOCK_REALTIME, &now);
    r = avtb_pcapng_write_packet_comment(t->w, t->iface, &now, t->pkt, (uint32_t)n, (uint32_t)n,
                                         f->comment, err);
    if (r != AVTB_OK)
        return r;
    free(f->comment);
    f->comment = NULL;
    if (flags & TH_ACK)
        f->acked[!side] = f->next_seq[!side];
    if (flags & (TH_SYN | TH_FIN))
        f->next_seq[side]++;
    f->next_seq[side] += (uint32_t)len;
    return AVTB_OK;
}

avtb_err avtb_transcript_open(const char *path, const avtb_pcapng_meta *meta, size_t nmeta,
                              avtb_transcript **out, avtb_error *err)
{
    avtb_transcript *t = calloc(1, sizeof(*t));
    avtb_err r;

    *out = NULL;
    if (t == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "transcript %s: out of memory", path);
    r = avtb_pcapng_open(path, meta, nmeta, &t->w, err);
    if (r == AVTB_OK)
        r = avtb_pcapng_add_interface(t->w, DLT_RAW, 0, "tls-plaintext",
                                      "TLS connections the sink intercepted, decrypted, as "
                                      "synthetic TCP flows",
                                      true, &t->iface, err);
    if (r == AVTB_OK)
        r = avtb_pcapng_drain(t->w, err);
    if (r != AVTB_OK) {
        avtb_error later = {0};

        /* The first error is the one to report; closing cannot say more. */
        if (avtb_pcapng_close(t->w, &later) != AVTB_OK && r == AVTB_OK)
            r = later.code;
        free(t);
        return r;
    }
    *out = t;
    return AVTB_OK;
}

/* An address in the flow's form; false for a family this does not write. */
static bool sa_addr(const struct sockaddr *sa, int *family, uint8_t addr[16], uint16_t *port)
{
    memset(addr, 0, 16);
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        *family = 4;
        memcpy(addr, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        *port = ntohs(in6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            /* A dual-stack socket's view of an IPv4 peer. */
            *family = 4;
            memcpy(addr, in6->sin6_addr.s6_addr + 12, 4);
        } else {
            *family = 6;
            memcpy(addr, &in6->sin6_addr, 16);
        }
        return true;
    }
    return false;
}

/* The comment as written: printable ASCII, other bytes as %XX, cut whole. */
static char *clean_comment(const char *in)
{
    size_t o = 0;
    char *out;

    if (in == NULL || in[0] == '\0')
        return NULL;
    out = malloc(AVTB_TRANSCRIPT_COMMENT_MAX + 1);
    if (out == NULL)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (*p >= 0x20 && *p < 0x7f) {
            if (o + 1 > AVTB_TRANSCRIPT_COMMENT_MAX)
                break;
            out[o++] = (char)*p;
        } else {
            if (o + 3 > AVTB_TRANSCRIPT_COMMENT_MAX)
                break;
            o += (size_t)snprintf(out + o, 4, "%%%02X", *p);
        }
    }
    out[o] = '\0';
    return out;
}

static void flow_unlink(avtb_transcript_flow *f)
{
    if (f->t == NULL)
        return;
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        f->t->open = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    f->prev = f->next = NULL;
}

static void flow_free(avtb_transcript_flow *f)
{
    flow_unlink(f);
    free(f->comment);
    free(f);
}

avtb_err avtb_transcript_flow_open(avtb_transcript *t, const struct sockaddr *client,
                                   const struct sockaddr *server, const char *comment,
                                   avtb_transcript_flow **out, avtb_error *err)
{
    avtb_transcript_flow *f;
    int cfam = 0, sfam = 0;
    uint32_t isn;
    avtb_err r;

    *out = NULL;
    f = calloc(1, sizeof(*f));
    if (f == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "transcript: out of memory");
    if (!sa_addr(client, &cfam, f->addr[0], &f->port[0]) ||
        !sa_addr(server, &sfam, f->addr[1], &f->port[1]) || cfam != sfam) {
        free(f);
        return avtb_error_set(err, AVTB_ERR_USAGE,
                              "transcript: a flow needs an IPv4 or IPv6 client and server of the "
                              "same family (a bug in the sink)");
    }
    f->family = cfam;
    f->comment = clean_comment(comment);
    if (comment != NULL && comment[0] != '\0' && f->comment == NULL) {
        free(f);
        return avtb_error_set(err, AVTB_ERR_NOMEM, "transcript: out of memory");
    }
    /* Fixed initial sequence numbers, different per flow: the file reproduces byte for byte. */
    isn = (uint32_t)((t->nflows + 1) * 2654435761u);
    f->next_seq[0] = isn;
    f->next_seq[1] = isn ^ 0x5a5a5a5au;
    f->t = t;
    f->next = t->open;
    if (t->open != NULL)
        t->open->prev = f;
    t->open = f;
    t->nflows++;
    r = emit(f, 0, TH_SYN, NULL, 0, err);
    if (r == AVTB_OK)
        r = emit(f, 1, TH_SYN | TH_ACK, NULL, 0, err);
    if (r == AVTB_OK)
        r = emit(f, 0, TH_ACK, NULL, 0, err);
    if (r == AVTB_OK)
        r = avtb_pcapng_drain(t->w, err);
    if (r != AVTB_OK) {
        flow_free(f);
        return r;
    }
    *out = f;
    return AVTB_OK;
}

static avtb_err detached(avtb_error *err)
{
    return avtb_error_set(err, AVTB_ERR_USAGE,
                          "transcript: a flow was used after its transcript was closed (a bug in "
                          "the sink)");
}

avtb_err avtb_transcript_data(avtb_transcript_flow *f, bool from_client, const void *data,
                              size_t len, avtb_error *err)
{
    const uint8_t *p = data;
    unsigned side = from_client ? 0 : 1;

    if (f->t == NULL)
        return detached(err);
    while (len > 0) {
        size_t n = len < AVTB_TRANSCRIPT_SEGMENT ? len : AVTB_TRANSCRIPT_SEGMENT;
        avtb_err r = emit(f, side, TH_PSH | TH_ACK, p, n, err);

        if (r != AVTB_OK)
            return r;
        p += n;
        len -= n;
        if (f->next_seq[side] - f->acked[side] >= ACK_EVERY) {
            r = emit(f, !side, TH_ACK, NULL, 0, err);
            if (r != AVTB_OK)
                return r;
        }
    }
    return avtb_pcapng_drain(f->t->w, err);
}

avtb_err avtb_transcript_flow_close(avtb_transcript_flow *f, avtb_error *err)
{
    avtb_err r = AVTB_OK;

    if (f == NULL)
        return AVTB_OK;
    if (f->t != NULL) {
        r = emit(f, 0, TH_FIN | TH_ACK, NULL, 0, err);
        if (r == AVTB_OK)
            r = emit(f, 1, TH_FIN | TH_ACK, NULL, 0, err);
        if (r == AVTB_OK)
            r = emit(f, 0, TH_ACK, NULL, 0, err);
        if (r == AVTB_OK)
            r = avtb_pcapng_drain(f->t->w, err);
    }
    flow_free(f);
    return r;
}

avtb_err avtb_transcript_close(avtb_transcript *t, avtb_error *err)
{
    avtb_err r;

    if (t == NULL)
        return AVTB_OK;
    /* Flows still open end here without a FIN: the connection did not end, the run did. */
    while (t->open != NULL) {
        avtb_transcript_flow *f = t->open;

        t->open = f->next;
        f->prev = f->next = NULL;
        f->t = NULL;
    }
    r = avtb_pcapng_close(t->w, err);
    free(t);
    return r;
}

/* Appends " key=value", value escaped (see avtb_transcript_comment); a word that does not fit is
 * left out whole. */
static void word(char *buf, size_t cap, size_t *o, const char *key, const char *value)
{
    char w[AVTB_TRANSCRIPT_COMMENT_MAX + 1];
    size_t n;

    if (value == NULL || value[0] == '\0')
        return;
    n = (size_t)snprintf(w, sizeof(w), " %s=", key);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (n + 4 > sizeof(w))
            return;
        if (*p > 0x20 && *p < 0x7f && *p != '%')
            w[n++] = (char)*p;
        else
            n += (size_t)snprintf(w + n, 4, "%%%02X", *p);
    }
    if (*o + n + 1 > cap)
        return;
    memcpy(buf + *o, w, n);
    *o += n;
    buf[*o] = '\0';
}

char *avtb_transcript_comment(char *buf, size_t cap, const char *sni, const char *version,
                              const char *cipher, const char *alpn)
{
    size_t o;

    if (cap == 0)
        return buf;
    o = (size_t)snprintf(buf, cap, "avtb tls");
    if (o >= cap) {
        buf[0] = '\0';
        return buf;
    }
    word(buf, cap, &o, "sni", sni);
    word(buf, cap, &o, "version", version);
    word(buf, cap, &o, "cipher", cipher);
    word(buf, cap, &o, "alpn", alpn);
    return buf;
}

unsigned long long avtb_transcript_flows(const avtb_transcript *t)
{
    return t->nflows;
}
