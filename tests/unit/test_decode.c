/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Capture input and decoding (collectors/source-pcap.h, decode.h): every
 * link type, tag stack and IP header chain the analysis takes, written with
 * pcapgen, read back through libpcap and reassembled by stream-tcp, so each
 * test asserts the bytes a user's token would be found in. Also pcapng, and
 * captures cut short.
 */
#include <check.h>
#include <netinet/in.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/decode.h"
#include "collectors/flow.h"
#include "collectors/source-pcap.h"
#include "collectors/stream-tcp.h"
#include "tests/unit/pcapgen.h"

#define TOK "AVTBQ3F7K2M9XWZP4R8TAB"

static char capfile[64];

static void setup(void)
{
    int fd;

    snprintf(capfile, sizeof(capfile), "/tmp/avtb-test-decode-XXXXXX");
    fd = mkstemp(capfile);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static void teardown(void)
{
    unlink(capfile);
}

/* --- Reading a capture back into streams ------------------------------------- */

typedef struct streams {
    uint8_t data[2][4096]; /* client → server, server → client */
    size_t len[2];
    uint64_t gap_bytes;
    uint64_t packets, ok, malformed, ignored, fragments;
    uint32_t anomalies; /* AVTB_DECODE_ANOM_* seen */
    uint16_t vlan;
    uint8_t vlan_depth, family;
} streams;

static void st_data(void *ctx, unsigned dir, const uint8_t *buf, size_t len, double ts)
{
    streams *s = ctx;

    (void)ts;
    ck_assert_uint_le(s->len[dir] + len, sizeof(s->data[dir]));
    memcpy(s->data[dir] + s->len[dir], buf, len);
    s->len[dir] += len;
}

static void st_gap(void *ctx, unsigned dir, uint64_t len)
{
    (void)dir;
    ((streams *)ctx)->gap_bytes += len;
}

static const avtb_tcp_sink st_sink = {st_data, st_gap, NULL};

static void free_session(void *p)
{
    avtb_tcp_session_free(p);
}

/* Reads capfile: every TCP flow's bytes, by direction, into *s (one flow expected). */
static void read_streams(streams *s)
{
    avtb_pcap_source *src = NULL;
    avtb_error err = {0};
    avtb_stream_limits lim;
    avtb_tcp_reasm *ra;
    avtb_flow_table *flows;

    memset(s, 0, sizeof(*s));
    avtb_stream_limits_default(&lim);
    ra = avtb_tcp_reasm_new(&lim);
    flows = avtb_flow_table_new(16, free_session);
    ck_assert_msg(avtb_pcap_source_open(capfile, &src, &err) == AVTB_OK, "%s", err.msg);
    for (;;) {
        avtb_packet pkt;
        avtb_decoded d;
        avtb_flow *flow;
        unsigned from;
        bool eof, created;

        ck_assert_int_eq(avtb_pcap_source_next(src, &pkt, &eof, &err), AVTB_OK);
        if (eof)
            break;
        s->packets++;
        switch (avtb_decode(pkt.linktype, pkt.data, pkt.caplen, &d)) {
        case AVTB_DECODE_OK:
            s->ok++;
            break;
        case AVTB_DECODE_MALFORMED:
            s->malformed++;
            continue;
        case AVTB_DECODE_IGNORED:
            s->ignored++;
            continue;
        case AVTB_DECODE_FRAGMENT:
            s->fragments++;
            continue;
        }
        s->anomalies |= d.anomalies;
        s->vlan = d.vlan;
        s->vlan_depth = d.vlan_depth;
        s->family = d.family;
        if (d.proto != IPPROTO_TCP)
            continue;
        ck_assert_int_eq(avtb_flow_get(flows, &d, &flow, &from, &created), AVTB_OK);
        ck_assert_ptr_nonnull(flow);
        if (flow->user == NULL)
            flow->user = avtb_tcp_session_new(ra, &st_sink, s);
        ck_assert_int_eq(
            avtb_tcp_session_segment(flow->user, from == flow->client ? 0 : 1, &d, pkt.ts),
            AVTB_OK);
    }
    ck_assert(!avtb_pcap_source_truncated(src));
    ck_assert_str_eq(avtb_pcap_source_error(src), "");
    ck_assert_uint_eq(avtb_pcap_source_count(src), s->packets);
    avtb_pcap_source_free(src);
    avtb_flow_table_free(flows);
    avtb_tcp_reasm_free(ra);
}

static const char request[] = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 22\r\n\r\n" TOK;
static const char reply[] = "HTTP/1.1 204 No Content\r\n\r\n";

/* A whole conversation (handshake, request, reply, close) in g. */
static void conversation(pcapgen *g, const char *cli, const char *srv, uint16_t vlan,
                         uint16_t svlan)
{
    pg_tcp t;

    pg_tcp_init(&t, g, cli, 40000, srv, 80);
    t.vlan = vlan;
    t.svlan = svlan;
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    ck_assert_int_eq(pg_tcp_send(&t, true, request, strlen(request)), 0);
    ck_assert_int_eq(pg_tcp_send(&t, false, reply, strlen(reply)), 0);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);
}

/* Writes one conversation in linktype and checks both streams come back whole. */
static void round_trip(int linktype, const char *cli, const char *srv, uint16_t vlan,
                       uint16_t svlan, streams *s)
{
    pcapgen *g = pcapgen_open(capfile, linktype, false);

    ck_assert_ptr_nonnull(g);
    conversation(g, cli, srv, vlan, svlan);
    read_streams(s);
    ck_assert_uint_eq(s->packets, 3 + 2 + 3);
    ck_assert_uint_eq(s->ok, s->packets);
    ck_assert_uint_eq(s->len[0], strlen(request));
    ck_assert_int_eq(memcmp(s->data[0], request, s->len[0]), 0);
    ck_assert_uint_eq(s->len[1], strlen(reply));
    ck_assert_int_eq(memcmp(s->data[1], reply, s->len[1]), 0);
    ck_assert_uint_eq(s->gap_bytes, 0);
    ck_assert_uint_eq(s->anomalies, 0);
    ck_assert_uint_eq(s->family, strchr(cli, ':') ? 6 : 4);
}

/* --- Link layers ------------------------------------------------------------- */

START_TEST(ethernet_plain)
{
    streams s;

    round_trip(DLT_EN10MB, "10.0.0.2", "10.0.0.1", 0, 0, &s);
    ck_assert_uint_eq(s.vlan_depth, 0);
}
END_TEST

START_TEST(vlan_tcp)
{
    streams s;

    round_trip(DLT_EN10MB, "10.0.0.2", "10.0.0.1", 42, 0, &s);
    ck_assert_uint_eq(s.vlan, 42);
    ck_assert_uint_eq(s.vlan_depth, 1);
}
END_TEST

START_TEST(qinq_tcp)
{
    streams s;

    round_trip(DLT_EN10MB, "fd00::2", "fd00::1", 42, 300, &s);
    ck_assert_uint_eq(s.vlan, 42); /* the inner, customer tag */
    ck_assert_uint_eq(s.vlan_depth, 2);
}
END_TEST

/* An Ethernet frame with n 802.1Q tags around a TCP segment; its length. */
static size_t tagged_frame(uint8_t *f, unsigned n, const char *data)
{
    pg_pkt p = {0};
    size_t l2 = 12, len;

    memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
    for (unsigned i = 0; i < n; i++) {
        f[l2] = i == 0 ? 0x88 : 0x81;
        f[l2 + 1] = i == 0 ? 0xa8 : 0x00;
        f[l2 + 2] = 0;
        f[l2 + 3] = (uint8_t)(i + 1);
        l2 += 4;
    }
    f[l2] = 0x08;
    f[l2 + 1] = 0x00;
    l2 += 2;
    p.src = "10.0.0.2";
    p.dst = "10.0.0.1";
    p.sport = 1;
    p.dport = 2;
    p.proto = 6;
    p.flags = PG_ACK;
    p.payload = data;
    p.len = strlen(data);
    len = pg_build_ip(&p, f + l2, 1000);
    ck_assert_uint_gt(len, 0);
    return l2 + len;
}

START_TEST(vlan_depth_is_bounded)
{
    uint8_t f[1200];
    avtb_decode_limits lim;
    avtb_decoded d;
    size_t n;

    n = tagged_frame(f, 6, TOK);
    ck_assert_int_eq(avtb_decode(DLT_EN10MB, f, n, &d), AVTB_DECODE_OK);
    ck_assert_uint_eq(d.vlan_depth, 6);
    ck_assert_uint_eq(d.vlan, 6);
    ck_assert_uint_eq(d.payload_len, 22);
    ck_assert_int_eq(memcmp(d.payload, TOK, 22), 0);

    n = tagged_frame(f, AVTB_DECODE_MAX_VLAN_DEFAULT + 1, TOK);
    ck_assert_int_eq(avtb_decode(DLT_EN10MB, f, n, &d), AVTB_DECODE_MALFORMED);
    ck_assert_ptr_nonnull(strstr(d.why, "VLAN"));

    avtb_decode_limits_default(&lim);
    lim.max_vlan_tags = 2; /* configurable */
    n = tagged_frame(f, 3, TOK);
    ck_assert_int_eq(avtb_decode_ex(&lim, DLT_EN10MB, f, n, &d), AVTB_DECODE_MALFORMED);
    /* A tag cut short is malformed, not read past the end. */
    ck_assert_int_eq(avtb_decode(DLT_EN10MB, f, 16, &d), AVTB_DECODE_MALFORMED);
}
END_TEST

START_TEST(linux_cooked_v1_and_v2)
{
    streams s;

    round_trip(DLT_LINUX_SLL, "10.0.0.2", "10.0.0.1", 0, 0, &s);
    round_trip(DLT_LINUX_SLL, "fd00::2", "fd00::1", 7, 0, &s); /* VLAN after the SLL header */
    ck_assert_uint_eq(s.vlan, 7);
    round_trip(DLT_LINUX_SLL2, "10.0.0.2", "10.0.0.1", 0, 0, &s);
    round_trip(DLT_LINUX_SLL2, "fd00::2", "fd00::1", 0, 0, &s);
}
END_TEST

START_TEST(cooked_netlink_is_ignored)
{
    uint8_t f[64] = {0};
    avtb_decoded d;

    f[2] = 824 >> 8; /* ARPHRD_NETLINK */
    f[3] = 824 & 0xff;
    f[14] = 0x08; /* a netlink family that looks like IPv4 */
    f[16] = 0x45;
    ck_assert_int_eq(avtb_decode(DLT_LINUX_SLL, f, sizeof(f), &d), AVTB_DECODE_IGNORED);
    ck_assert_int_eq(avtb_decode(DLT_LINUX_SLL, f, 15, &d), AVTB_DECODE_MALFORMED);
    ck_assert_int_eq(avtb_decode(DLT_LINUX_SLL2, f, 19, &d), AVTB_DECODE_MALFORMED);
}
END_TEST

START_TEST(raw_ip)
{
    streams s;

    round_trip(DLT_RAW, "10.0.0.2", "10.0.0.1", 0, 0, &s);
    round_trip(DLT_RAW, "fd00::2", "fd00::1", 0, 0, &s);
    round_trip(DLT_IPV4, "10.0.0.2", "10.0.0.1", 0, 0, &s);
    round_trip(DLT_IPV6, "fd00::2", "fd00::1", 0, 0, &s);
}
END_TEST

START_TEST(bsd_loopback)
{
    streams s;

    round_trip(DLT_NULL, "10.0.0.2", "10.0.0.1", 0, 0, &s);
    round_trip(DLT_NULL, "fd00::2", "fd00::1", 0, 0, &s);
    round_trip(DLT_LOOP, "10.0.0.2", "10.0.0.1", 0, 0, &s);
    round_trip(DLT_LOOP, "fd00::2", "fd00::1", 0, 0, &s);
}
END_TEST

/* A TCP/IPv4 packet carrying TOK behind an arbitrary prefix (MPLS, PPPoE). */
static size_t behind(uint8_t *f, const uint8_t *prefix, size_t plen)
{
    pg_pkt p = {0};
    size_t n;

    memcpy(f, prefix, plen);
    p.src = "10.0.0.2";
    p.dst = "10.0.0.1";
    p.sport = 1;
    p.dport = 2;
    p.proto = 6;
    p.flags = PG_ACK;
    p.payload = TOK;
    p.len = 22;
    n = pg_build_ip(&p, f + plen, 1000);
    ck_assert_uint_gt(n, 0);
    return plen + n;
}

START_TEST(mpls_and_pppoe)
{
    /* Ethernet, MPLS type, two labels (the second bottom of stack). */
    static const uint8_t mpls[] = {2, 0,    0,    0, 0, 1,    2,  0, 0, 0,    0,
                                   2, 0x88, 0x47, 0, 0, 0x10, 64, 0, 0, 0x21, 64};
    /* Ethernet, PPPoE session, length 2 + 62 (IP 20 + TCP 20 + 22), PPP IPv4. */
    static const uint8_t pppoe[] = {2, 0,    0,    0,    0, 1, 2, 0, 0,  0,    0,
                                    2, 0x88, 0x64, 0x11, 0, 0, 1, 0, 64, 0x00, 0x21};
    uint8_t f[1200];
    avtb_decoded d;
    size_t n;

    n = behind(f, mpls, sizeof(mpls));
    ck_assert_int_eq(avtb_decode(DLT_EN10MB, f, n, &d), AVTB_DECODE_OK);
    ck_assert_int_eq(memcmp(d.payload, TOK, 22), 0);
    n = behind(f, pppoe, sizeof(pppoe));
    ck_assert_int_eq(avtb_decode(DLT_EN10MB, f, n, &d), AVTB_DECODE_OK);
    ck_assert_int_eq(memcmp(d.payload, TOK, 22), 0);
    f[19] = 200; /* PPPoE length past the frame */
    ck_assert_int_eq(avtb_decode(DLT_EN10MB, f, n, &d), AVTB_DECODE_MALFORMED);
}
END_TEST

/* --- IPv4 and IPv6 headers ------------------------------------------------------- */

START_TEST(ipv4_options)
{
    /* Record route (7 bytes, room for one address), NOP, end of list. */
    static const uint8_t rr[8] = {7, 7, 4, 0, 0, 0, 0, 1};
    static const uint8_t bad[4] = {0x44, 40, 5, 0}; /* timestamp option claiming 40 bytes */
    uint8_t f[1200];
    pg_pkt p = {0};
    avtb_decoded d;
    size_t n;

    p.src = "10.0.0.2";
    p.dst = "10.0.0.1";
    p.sport = 1;
    p.dport = 2;
    p.proto = 17;
    p.payload = TOK;
    p.len = 22;
    p.ip_opts = rr;
    p.ip_opts_len = sizeof(rr);
    n = pg_build_ip(&p, f, sizeof(f));
    ck_assert_int_eq(avtb_decode(DLT_RAW, f, n, &d), AVTB_DECODE_OK);
    ck_assert_uint_eq(d.anomalies, 0);
    ck_assert_uint_eq(d.payload_len, 22);
    ck_assert_int_eq(memcmp(d.payload, TOK, 22), 0);

    p.ip_opts = bad;
    p.ip_opts_len = sizeof(bad);
    n = pg_build_ip(&p, f, sizeof(f));
    ck_assert_int_eq(avtb_decode(DLT_RAW, f, n, &d), AVTB_DECODE_OK); /* still analysed */
    ck_assert_uint_eq(d.anomalies, AVTB_DECODE_ANOM_IPV4_OPTIONS);
    ck_assert_int_eq(memcmp(d.payload, TOK, 22), 0);
}
END_TEST

START_TEST(ipv6_hop_by_hop_and_destination_options)
{
    pcapgen *g = pcapgen_open(capfile, DLT_EN10MB, false);
    pg_pkt p = {0};
    streams s;

    ck_assert_ptr_nonnull(g);
    p.src = "fd00::2";
    p.dst = "fd00::1";
    p.sport = 40000;
    p.dport = 80;
    p.proto = 6;
    p.v6ext[0] = 0;  /* hop-by-hop */
    p.v6ext[1] = 43; /* routing */
    p.v6ext[2] = 60; /* destination options */
    p.nv6ext = 3;
    p.flags = PG_SYN;
    p.seq = 10;
    ck_assert_int_eq(pcapgen_packet(g, &p), 0);
    p.flags = PG_ACK | PG_PSH;
    p.seq = 11;
    p.payload = request;
    p.len = strlen(request);
    ck_assert_int_eq(pcapgen_packet(g, &p), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);
    read_streams(&s);
    ck_assert_uint_eq(s.ok, 2);
    ck_assert_uint_eq(s.len[0], strlen(request));
    ck_assert_int_eq(memcmp(s.data[0], request, s.len[0]), 0);
}
END_TEST

/* An IPv6 TCP packet with an authentication header (its length counts in 4-byte units). */
START_TEST(ipv6_authentication_header)
{
    uint8_t in[1200], f[1300];
    pg_pkt p = {0};
    avtb_decoded d;
    size_t n;

    p.src = "fd00::2";
    p.dst = "fd00::1";
    p.sport = 1;
    p.dport = 2;
    p.proto = 6;
    p.flags = PG_ACK;
    p.payload = TOK;
    p.len = 22;
    n = pg_build_ip(&p, in, sizeof(in));
    memcpy(f, in, 40);
    f[6] = 51; /* AH */
    memset(f + 40, 0, 24);
    f[40] = 6;          /* next: TCP */
    f[41] = 24 / 4 - 2; /* 24 bytes: 12 fixed + a 12-byte ICV */
    memcpy(f + 64, in + 40, n - 40);
    f[4] = (uint8_t)((n - 40 + 24) >> 8);
    f[5] = (uint8_t)(n - 40 + 24);
    ck_assert_int_eq(avtb_decode(DLT_RAW, f, n + 24, &d), AVTB_DECODE_OK);
    ck_assert_uint_eq(d.payload_len, 22);
    ck_assert_int_eq(memcmp(d.payload, TOK, 22), 0);
    /* ESP: encrypted, nothing to read. */
    f[6] = 50;
    ck_assert_int_eq(avtb_decode(DLT_RAW, f, n + 24, &d), AVTB_DECODE_IGNORED);
}
END_TEST

START_TEST(ipv6_extension_chain_is_bounded)
{
    uint8_t f[1200];
    pg_pkt p = {0};
    avtb_decode_limits lim;
    avtb_decoded d;
    size_t n;

    p.src = "fd00::2";
    p.dst = "fd00::1";
    p.sport = 1;
    p.dport = 2;
    p.proto = 17;
    p.payload = TOK;
    p.len = 22;
    p.v6ext[0] = 60;
    p.v6ext[1] = 60;
    p.v6ext[2] = 60;
    p.v6ext[3] = 60;
    p.nv6ext = 4;
    n = pg_build_ip(&p, f, sizeof(f));
    ck_assert_int_eq(avtb_decode(DLT_RAW, f, n, &d), AVTB_DECODE_OK);
    avtb_decode_limits_default(&lim);
    lim.max_ipv6_ext = 3;
    ck_assert_int_eq(avtb_decode_ex(&lim, DLT_RAW, f, n, &d), AVTB_DECODE_MALFORMED);
    /* An extension header claiming more than the packet holds. */
    f[41] = 200;
    ck_assert_int_eq(avtb_decode(DLT_RAW, f, n, &d), AVTB_DECODE_MALFORMED);
    /* Cut inside the chain. */
    f[41] = 0;
    ck_assert_int_eq(avtb_decode(DLT_RAW, f, 41, &d), AVTB_DECODE_MALFORMED);
}
END_TEST

/* --- Fragments: what defrag.c is given ------------------------------------------- */

static size_t first_frame(const char *src, uint32_t id, uint8_t *f, size_t cap, uint16_t off,
                          int more, size_t len)
{
    pcapgen *g = pcapgen_open(capfile, DLT_RAW, false);
    pg_pkt p = {0};
    pg_frag fr = {off, (uint32_t)len, NULL, more, 0};
    avtb_pcap_source *srcp = NULL;
    avtb_error err = {0};
    avtb_packet pkt;
    bool eof;
    size_t n;

    ck_assert_ptr_nonnull(g);
    p.src = src;
    p.dst = strchr(src, ':') ? "fd00::1" : "10.0.0.1";
    p.sport = 1;
    p.dport = 2;
    p.proto = 17;
    p.payload = "0123456789abcdef0123456789abcdef0123456789abcdef";
    p.len = 48;
    p.ipid = id;
    ck_assert_int_eq(pcapgen_fragments(g, &p, &fr, 1), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);
    ck_assert_int_eq(avtb_pcap_source_open(capfile, &srcp, &err), AVTB_OK);
    ck_assert_int_eq(avtb_pcap_source_next(srcp, &pkt, &eof, &err), AVTB_OK);
    ck_assert(!eof);
    n = pkt.caplen;
    ck_assert_uint_le(n, cap);
    memcpy(f, pkt.data, n);
    avtb_pcap_source_free(srcp);
    return n;
}

START_TEST(ipv4_fragment_fields)
{
    uint8_t f[2000];
    avtb_decoded d;
    size_t n;

    n = first_frame("10.0.0.2", 0xbeef, f, sizeof(f), 16, PG_MF_SET, 24);
    ck_assert_int_eq(avtb_decode(DLT_RAW, f, n, &d), AVTB_DECODE_FRAGMENT);
    ck_assert_uint_eq(d.family, 4);
    ck_assert_uint_eq(d.proto, IPPROTO_UDP);
    ck_assert_uint_eq(d.frag_id, 0xbeef);
    ck_assert_uint_eq(d.frag_offset, 16);
    ck_assert(d.frag_more);
    ck_assert_uint_eq(d.ip_payload_len, 24);
    ck_assert_uint_eq(d.ip_wire_payload_len, 24);
    ck_assert_ptr_eq(d.ip_payload, f + 20);
    ck_assert_uint_eq(d.anomalies, 0);
    /* A non-last fragment whose length is not a multiple of 8. */
    n = first_frame("10.0.0.2", 1, f, sizeof(f), 0, PG_MF_SET, 20);
    ck_assert_int_eq(avtb_decode(DLT_RAW, f, n, &d), AVTB_DECODE_FRAGMENT);
    ck_assert_uint_eq(d.anomalies, AVTB_DECODE_ANOM_FRAG_SIZE);
    /* Fragments of what the analysis does not read are not worth reassembling. */
    f[9] = 1; /* ICMP */
    ck_assert_int_eq(avtb_decode(DLT_RAW, f, n, &d), AVTB_DECODE_IGNORED);
}
END_TEST

START_TEST(ipv6_fragment_fields)
{
    uint8_t f[2000];
    avtb_decoded d;
    size_t n;

    n = first_frame("fd00::2", 0x12345678, f, sizeof(f), 8, PG_MF_CLEAR, 48);
    ck_assert_int_eq(avtb_decode(DLT_RAW, f, n, &d), AVTB_DECODE_FRAGMENT);
    ck_assert_uint_eq(d.family, 6);
    ck_assert_uint_eq(d.proto, IPPROTO_UDP);
    ck_assert_uint_eq(d.frag_id, 0x12345678);
    ck_assert_uint_eq(d.frag_offset, 8);
    ck_assert(!d.frag_more);
    ck_assert_uint_eq(d.ip_payload_len, 48);
    ck_assert_ptr_eq(d.ip_payload, f + 48);
    /* An atomic fragment (offset 0, no more) is a whole packet: decoded as one. */
    n = first_frame("fd00::2", 9, f, sizeof(f), 0, PG_MF_CLEAR, 56);
    ck_assert_int_eq(avtb_decode(DLT_RAW, f, n, &d), AVTB_DECODE_OK);
    ck_assert_uint_eq(d.anomalies, AVTB_DECODE_ANOM_ATOMIC_FRAG);
    ck_assert_uint_eq(d.payload_len, 48);
    ck_assert_int_eq(memcmp(d.payload, "0123456789abcdef", 16), 0);
}
END_TEST

START_TEST(reassembled_payload_decodes)
{
    static const uint8_t src[16] = {10, 0, 0, 2}, dst[16] = {10, 0, 0, 1};
    uint8_t udp[8 + 22] = {0x13, 0x88, 0x00, 0x35, 0, 30, 0, 0};
    avtb_decoded d;

    memcpy(udp + 8, TOK, 22);
    ck_assert_int_eq(
        avtb_decode_ip_payload(NULL, 4, IPPROTO_UDP, src, dst, udp, sizeof(udp), sizeof(udp), &d),
        AVTB_DECODE_OK);
    ck_assert_uint_eq(d.sport, 5000);
    ck_assert_uint_eq(d.dport, 53);
    ck_assert_int_eq(memcmp(d.src, src, 16), 0);
    ck_assert_uint_eq(d.payload_len, 22);
    /* A fragment header inside a reassembled IPv6 datagram is not followed. */
    udp[0] = IPPROTO_UDP;
    ck_assert_int_eq(avtb_decode_ip_payload(NULL, 6, IPPROTO_FRAGMENT, src, dst, udp, sizeof(udp),
                                            sizeof(udp), &d),
                     AVTB_DECODE_MALFORMED);
}
END_TEST

START_TEST(snaplen_cut_segment)
{
    uint8_t f[1200];
    pg_pkt p = {0};
    avtb_decoded d;
    size_t n;

    p.src = "10.0.0.2";
    p.dst = "10.0.0.1";
    p.sport = 1;
    p.dport = 2;
    p.proto = 6;
    p.flags = PG_ACK;
    p.payload = TOK;
    p.len = 22;
    n = pg_build_ip(&p, f, sizeof(f));
    ck_assert_int_eq(avtb_decode(DLT_RAW, f, n - 10, &d), AVTB_DECODE_OK);
    ck_assert_uint_eq(d.payload_len, 12);
    ck_assert_uint_eq(d.wire_payload_len, 22);
    /* Every cut inside the headers is malformed, never a read past the end. */
    for (size_t cut = 0; cut < 40; cut++)
        ck_assert_int_eq(avtb_decode(DLT_RAW, f, cut, &d), AVTB_DECODE_MALFORMED);
}
END_TEST

/* --- pcapng and broken files --------------------------------------------------- */

static void pcapng_variant(const pcapgen_opts *o)
{
    pcapgen *g = pcapgen_open_ex(capfile, o);
    avtb_pcap_source *src = NULL;
    avtb_error err = {0};
    avtb_packet pkt;
    streams s;
    bool eof;

    ck_assert_ptr_nonnull(g);
    conversation(g, "10.0.0.2", "10.0.0.1", 0, 0);
    read_streams(&s);
    ck_assert_uint_eq(s.len[0], strlen(request));
    ck_assert_int_eq(memcmp(s.data[0], request, s.len[0]), 0);
    ck_assert_uint_eq(s.len[1], strlen(reply));
    /* Timestamps keep their value whatever the resolution: pg_tcp starts at 1700000000.001. */
    ck_assert_int_eq(avtb_pcap_source_open(capfile, &src, &err), AVTB_OK);
    ck_assert_int_eq(avtb_pcap_source_next(src, &pkt, &eof, &err), AVTB_OK);
    ck_assert_double_eq_tol(pkt.ts, 1700000000.001, 1e-5);
    ck_assert_int_eq(pkt.linktype, o->linktype);
    ck_assert_uint_eq(pkt.caplen, pkt.len);
    avtb_pcap_source_free(src);
}

START_TEST(pcapng_file_read)
{
    pcapgen_opts o = {DLT_EN10MB, true, false, false};

    pcapng_variant(&o);
    o.nanosec = true;
    pcapng_variant(&o);
    o.swapped = true; /* a capture written on a machine of the other byte order */
    pcapng_variant(&o);
    o.linktype = DLT_LINUX_SLL2;
    pcapng_variant(&o);
    /* And classic pcap with nanosecond and swapped headers. */
    o.ng = false;
    o.linktype = DLT_EN10MB;
    pcapng_variant(&o);
}
END_TEST

static long file_size(void)
{
    FILE *fp = fopen(capfile, "rb");
    long n;

    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fclose(fp);
    return n;
}

/* Writes a 3-packet capture, cuts cut bytes off its end, reads it: packets before the cut. */
static void cut_capture(bool ng, long cut, uint64_t want_packets)
{
    pcapgen *g = pcapgen_open(capfile, DLT_EN10MB, ng);
    avtb_pcap_source *src = NULL;
    avtb_error err = {0};
    uint64_t n = 0;
    pg_tcp t;

    ck_assert_ptr_nonnull(g);
    pg_tcp_init(&t, g, "10.0.0.2", 40000, "10.0.0.1", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);
    ck_assert_int_eq(truncate(capfile, file_size() - cut), 0);

    ck_assert_msg(avtb_pcap_source_open(capfile, &src, &err) == AVTB_OK, "%s", err.msg);
    for (;;) {
        avtb_packet pkt;
        bool eof;

        ck_assert_int_eq(avtb_pcap_source_next(src, &pkt, &eof, &err), AVTB_OK);
        if (eof)
            break;
        n++;
    }
    ck_assert_uint_eq(n, want_packets);
    ck_assert(avtb_pcap_source_truncated(src));
    /* The reason names the file, how far it got and libpcap's words. */
    ck_assert_ptr_nonnull(strstr(avtb_pcap_source_error(src), capfile));
    ck_assert_ptr_nonnull(strstr(avtb_pcap_source_error(src), "after 2 packets"));
    ck_assert_uint_eq(avtb_pcap_source_count(src), 2);
    {
        /* Asking again after the end stays at the end. */
        avtb_packet pkt;
        bool eof;

        ck_assert_int_eq(avtb_pcap_source_next(src, &pkt, &eof, &err), AVTB_OK);
        ck_assert(eof);
        ck_assert_ptr_null(pkt.data);
    }
    avtb_pcap_source_free(src);
}

START_TEST(truncated_files)
{
    cut_capture(false, 7, 2);       /* pcap, cut inside the last record's data */
    cut_capture(false, 54 + 10, 2); /* pcap, cut inside the last record header */
    cut_capture(true, 7, 2);        /* pcapng, cut inside the last block */
}
END_TEST

START_TEST(truncated_header)
{
    pcapgen *g = pcapgen_open(capfile, DLT_EN10MB, false);
    avtb_pcap_source *src = NULL;
    avtb_error err = {0};

    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(pcapgen_close(g), 0);
    ck_assert_int_eq(truncate(capfile, 10), 0);
    ck_assert_int_eq(avtb_pcap_source_open(capfile, &src, &err), AVTB_ERR_INPUT);
    ck_assert_ptr_null(src);
    ck_assert_ptr_nonnull(strstr(err.msg, capfile));
    ck_assert_ptr_nonnull(strstr(err.msg, "cut short"));
}
END_TEST

START_TEST(empty_capture)
{
    pcapgen *g = pcapgen_open(capfile, DLT_LINUX_SLL2, true);
    avtb_pcap_source *src = NULL;
    avtb_error err = {0};
    avtb_packet pkt;
    bool eof;

    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(pcapgen_close(g), 0);
    ck_assert_int_eq(avtb_pcap_source_open(capfile, &src, &err), AVTB_OK);
    ck_assert_int_eq(avtb_pcap_source_next(src, &pkt, &eof, &err), AVTB_OK);
    ck_assert(eof);
    ck_assert(!avtb_pcap_source_truncated(src));
    avtb_pcap_source_free(src);
    avtb_pcap_source_free(NULL);
}
END_TEST

/* --- Flows: what decode.c hands flow.c ------------------------------------------- */

static avtb_decoded tcp4(uint8_t last_octet, uint16_t sport, uint16_t vlan)
{
    avtb_decoded d = {0};

    d.family = 4;
    d.proto = IPPROTO_TCP;
    memcpy(d.src, "\x0a\x00\x00", 3);
    d.src[3] = last_octet;
    memcpy(d.dst, "\x0a\x00\x00\x01", 4);
    d.sport = sport;
    d.dport = 80;
    d.tcp_flags = AVTB_TCP_ACK;
    d.vlan = vlan;
    return d;
}

START_TEST(flow_key_includes_vlan)
{
    avtb_flow_table *t = avtb_flow_table_new(16, NULL);
    avtb_decoded d = tcp4(2, 40000, 10), e = tcp4(2, 40000, 20);
    avtb_flow *f1, *f2, *f3;
    unsigned from;
    bool created;

    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(avtb_flow_get(t, &d, &f1, &from, &created), AVTB_OK);
    ck_assert(created);
    /* Same addresses and ports on another VLAN: another guest, another flow. */
    ck_assert_int_eq(avtb_flow_get(t, &e, &f2, &from, &created), AVTB_OK);
    ck_assert(created);
    ck_assert_ptr_ne(f1, f2);
    ck_assert_uint_eq(f2->key.vlan, 20);
    ck_assert_int_eq(avtb_flow_get(t, &d, &f3, &from, &created), AVTB_OK);
    ck_assert(!created);
    ck_assert_ptr_eq(f1, f3);
    avtb_flow_table_free(t);
}
END_TEST

static bool user_finished(const void *user)
{
    return user != NULL && *(const bool *)user;
}

START_TEST(full_flow_table_evicts_finished_flows)
{
    avtb_flow_table *t = avtb_flow_table_new(3, free);
    avtb_flow *f[5];
    unsigned from;
    bool created;

    ck_assert_ptr_nonnull(t);
    for (unsigned i = 0; i < 3; i++) {
        avtb_decoded d = tcp4(2, (uint16_t)(40000 + i), 0);

        ck_assert_int_eq(avtb_flow_get(t, &d, &f[i], &from, &created), AVTB_OK);
        ck_assert_ptr_nonnull(f[i]);
        f[i]->user = calloc(1, sizeof(bool));
    }
    {
        /* Full, nothing evictable: refused, as before. */
        avtb_decoded d = tcp4(2, 40003, 0);

        ck_assert_int_eq(avtb_flow_get(t, &d, &f[3], &from, &created), AVTB_OK);
        ck_assert_ptr_null(f[3]);
        avtb_flow_table_set_evictable(t, user_finished, 0);
        ck_assert_int_eq(avtb_flow_get(t, &d, &f[3], &from, &created), AVTB_OK);
        ck_assert_ptr_null(f[3]);   /* still nothing finished */
        *(bool *)f[1]->user = true; /* the second flow ended */
        ck_assert_int_eq(avtb_flow_get(t, &d, &f[3], &from, &created), AVTB_OK);
        ck_assert_ptr_nonnull(f[3]);
        ck_assert(created);
        ck_assert_uint_eq(f[3]->id, 4);
        ck_assert_uint_eq(avtb_flow_table_evicted(t), 1);
        ck_assert_uint_eq(avtb_flow_table_size(t), 3);
    }
    {
        /* The others are still found. */
        avtb_decoded d = tcp4(2, 40000, 0);
        avtb_flow *g;

        ck_assert_int_eq(avtb_flow_get(t, &d, &g, &from, &created), AVTB_OK);
        ck_assert_ptr_eq(g, f[0]);
        ck_assert(!created);
    }
    avtb_flow_table_free(t);
}
END_TEST

static Suite *decode_suite(void)
{
    Suite *s = suite_create("decode");
    TCase *tc;

    tc = tcase_create("link");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ethernet_plain);
    tcase_add_test(tc, vlan_tcp);
    tcase_add_test(tc, qinq_tcp);
    tcase_add_test(tc, vlan_depth_is_bounded);
    tcase_add_test(tc, linux_cooked_v1_and_v2);
    tcase_add_test(tc, cooked_netlink_is_ignored);
    tcase_add_test(tc, raw_ip);
    tcase_add_test(tc, bsd_loopback);
    tcase_add_test(tc, mpls_and_pppoe);
    suite_add_tcase(s, tc);

    tc = tcase_create("ip");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ipv4_options);
    tcase_add_test(tc, ipv6_hop_by_hop_and_destination_options);
    tcase_add_test(tc, ipv6_authentication_header);
    tcase_add_test(tc, ipv6_extension_chain_is_bounded);
    tcase_add_test(tc, ipv4_fragment_fields);
    tcase_add_test(tc, ipv6_fragment_fields);
    tcase_add_test(tc, reassembled_payload_decodes);
    tcase_add_test(tc, snaplen_cut_segment);
    suite_add_tcase(s, tc);

    tc = tcase_create("flow");
    tcase_add_test(tc, flow_key_includes_vlan);
    tcase_add_test(tc, full_flow_table_evicts_finished_flows);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, pcapng_file_read);
    tcase_add_test(tc, truncated_files);
    tcase_add_test(tc, truncated_header);
    tcase_add_test(tc, empty_capture);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(decode_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
