/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TLS transcript writer (collectors/transcript.h): what it writes must
 * read back as clean TCP in libpcap, in tshark (when installed) and in the
 * packet comment reader, for IPv4 and IPv6.
 */
#include <arpa/inet.h>
#include <check.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/transcript.h"
#include "common/util.h"

static char tmpdir[64];
static char path[128];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/avtb-test-transcript-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(path, sizeof(path), "%s/" AVTB_TRANSCRIPT_FILE, tmpdir);
}

static void teardown(void)
{
    avtb_error err = {0};

    ck_assert_int_eq(avtb_rm_rf(tmpdir, &err), AVTB_OK);
}

static struct sockaddr_storage v4(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;

    memset(&ss, 0, sizeof(ss));
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    ck_assert_int_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

    memset(&ss, 0, sizeof(ss));
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
    return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static const char request[] = "POST /upload HTTP/1.1\r\nHost: upload.x.example\r\n"
                              "Content-Length: 5\r\n\r\nhello";
static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";

/* One flow: handshake, request, response, close. */
static void write_flow(avtb_transcript *t, const struct sockaddr *c, const struct sockaddr *s,
                       const char *comment)
{
    avtb_error err = {0};
    avtb_transcript_flow *f = NULL;

    ck_assert_msg(avtb_transcript_flow_open(t, c, s, comment, &f, &err) == AVTB_OK, "%s", err.msg);
    ck_assert_int_eq(avtb_transcript_data(f, true, request, strlen(request), &err), AVTB_OK);
    ck_assert_int_eq(avtb_transcript_data(f, false, response, strlen(response), &err), AVTB_OK);
    ck_assert_int_eq(avtb_transcript_flow_close(f, &err), AVTB_OK);
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t sum(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += rd16(p + i);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}

static bool sum_ok(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return s == 0xffff;
}

/* One decoded segment of the file. */
typedef struct seg {
    int family;
    char src[46], dst[46];
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    size_t len;
    char payload[256];
} seg;

/* Reads every packet; checks the link type, the lengths and both checksums. */
static size_t read_all(seg *out, size_t cap)
{
    char ebuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, ebuf);
    struct pcap_pkthdr *h;
    const u_char *d;
    size_t n = 0;

    ck_assert_msg(p != NULL, "%s", ebuf);
    ck_assert_int_eq(pcap_datalink(p), DLT_RAW);
    while (pcap_next_ex(p, &h, &d) == 1) {
        seg *s = &out[n];
        size_t ihl, tlen;
        const uint8_t *tcp;
        uint32_t ps;

        ck_assert_uint_lt(n, cap);
        ck_assert_uint_eq(h->caplen, h->len);
        memset(s, 0, sizeof(*s));
        if (d[0] >> 4 == 4) {
            s->family = 4;
            ihl = 20;
            ck_assert_uint_eq(rd16(d + 2), h->caplen);
            ck_assert_uint_eq(d[9], 6);
            ck_assert_msg(sum_ok(sum(0, d, 20)), "IPv4 header checksum");
            inet_ntop(AF_INET, d + 12, s->src, sizeof(s->src));
            inet_ntop(AF_INET, d + 16, s->dst, sizeof(s->dst));
            ps = sum(sum(0, d + 12, 4), d + 16, 4);
        } else {
            ck_assert_uint_eq(d[0] >> 4, 6);
            s->family = 6;
            ihl = 40;
            ck_assert_uint_eq(rd16(d + 4) + 40u, h->caplen);
            ck_assert_uint_eq(d[6], 6);
            inet_ntop(AF_INET6, d + 8, s->src, sizeof(s->src));
            inet_ntop(AF_INET6, d + 24, s->dst, sizeof(s->dst));
            ps = sum(sum(0, d + 8, 16), d + 24, 16);
        }
        tcp = d + ihl;
        tlen = h->caplen - ihl;
        ck_assert_msg(sum_ok(sum(ps + 6 + (uint32_t)tlen, tcp, tlen)), "TCP checksum, packet %zu",
                      n + 1);
        s->sport = rd16(tcp);
        s->dport = rd16(tcp + 2);
        s->seq = rd32(tcp + 4);
        s->ack = rd32(tcp + 8);
        s->flags = tcp[13];
        /* SYNs carry the window scale option (NOP, 3, 3, 14); nothing else has options. */
        ck_assert_uint_eq(tcp[12] >> 4, (s->flags & 0x02) ? 6 : 5);
        if (s->flags & 0x02)
            ck_assert_mem_eq(tcp + 20, "\x01\x03\x03\x0e", 4);
        s->len = tlen - (size_t)(tcp[12] >> 4) * 4;
        memcpy(s->payload, tcp + (tcp[12] >> 4) * 4, s->len < sizeof(s->payload) - 1 ? s->len : 0);
        n++;
    }
    pcap_close(p);
    return n;
}

/* Sequence numbers: each side's data and SYN/FIN advance them; acks follow the peer. */
static void check_seq(const seg *s, size_t n)
{
    uint32_t next[2] = {0, 0};
    bool seen[2] = {false, false};

    for (size_t i = 0; i < n; i++) {
        unsigned side = i == 0 ? 0 : strcmp(s[i].src, s[0].src) == 0 ? 0 : 1;

        if (seen[side])
            ck_assert_uint_eq(s[i].seq, next[side]);
        seen[side] = true;
        next[side] = s[i].seq + (uint32_t)s[i].len + ((s[i].flags & 0x03) ? 1u : 0u);
        if (s[i].flags & 0x10)
            ck_assert_uint_eq(s[i].ack, next[!side]);
    }
}

typedef struct comments {
    uint64_t packet[8];
    char text[8][1100];
    size_t n;
} comments;

static avtb_err on_comment(void *ctx, uint64_t packet, const char *c, size_t len)
{
    comments *x = ctx;

    ck_assert_uint_eq(strlen(c), len);
    if (x->n < 8) {
        x->packet[x->n] = packet;
        snprintf(x->text[x->n], sizeof(x->text[0]), "%s", c);
        x->n++;
    }
    return AVTB_OK;
}

START_TEST(ipv4_flow_reads_back)
{
    avtb_transcript *t = NULL;
    avtb_error err = {0};
    struct sockaddr_storage c = v4("10.213.5.10", 40000), s = v4("1.2.3.4", 443);
    avtb_pcapng_meta meta[] = {{"avtb-run-id", "test-run"}};
    char comment[256];
    comments cm = {0};
    seg segs[16];
    size_t n;

    avtb_transcript_comment(comment, sizeof(comment), "upload.x.example", "TLSv1.3",
                            "TLS_AES_128_GCM_SHA256", "http/1.1");
    ck_assert_str_eq(comment, "avtb tls sni=upload.x.example version=TLSv1.3 "
                              "cipher=TLS_AES_128_GCM_SHA256 alpn=http/1.1");
    ck_assert_msg(avtb_transcript_open(path, meta, 1, &t, &err) == AVTB_OK, "%s", err.msg);
    write_flow(t, SA(c), SA(s), comment);
    ck_assert_uint_eq(avtb_transcript_flows(t), 1);
    ck_assert_int_eq(avtb_transcript_close(t, &err), AVTB_OK);

    n = read_all(segs, 16);
    ck_assert_uint_eq(n, 8); /* SYN, SYN-ACK, ACK, request, response, FIN, FIN, ACK */
    ck_assert_uint_eq(segs[0].flags, 0x02);
    ck_assert_uint_eq(segs[1].flags, 0x12);
    ck_assert_uint_eq(segs[2].flags, 0x10);
    ck_assert_str_eq(segs[0].src, "10.213.5.10");
    ck_assert_uint_eq(segs[0].sport, 40000);
    ck_assert_str_eq(segs[0].dst, "1.2.3.4");
    ck_assert_uint_eq(segs[0].dport, 443);
    ck_assert_str_eq(segs[3].src, "10.213.5.10");
    ck_assert_str_eq(segs[3].payload, request);
    ck_assert_str_eq(segs[4].src, "1.2.3.4");
    ck_assert_str_eq(segs[4].payload, response);
    ck_assert_uint_eq(segs[5].flags, 0x11);
    ck_assert_uint_eq(segs[6].flags, 0x11);
    ck_assert_uint_eq(segs[7].flags, 0x10);
    check_seq(segs, n);

    ck_assert_int_eq(avtb_pcapng_read_comments(path, true, on_comment, &cm, &err), AVTB_OK);
    ck_assert_uint_eq(cm.n, 2);
    ck_assert_uint_eq(cm.packet[0], 0);
    ck_assert_str_eq(cm.text[0], "avtb-run-id: test-run");
    ck_assert_uint_eq(cm.packet[1], 1);
    ck_assert_str_eq(cm.text[1], comment);
}
END_TEST

START_TEST(ipv6_flow_and_mapped_ipv4)
{
    avtb_transcript *t = NULL;
    avtb_error err = {0};
    struct sockaddr_storage c6 = v6("fd00:5::10", 40001), s6 = v6("2001:db8::443", 443);
    struct sockaddr_storage cm = v6("::ffff:10.0.0.5", 40002), s4 = v4("192.0.2.7", 8443);
    seg segs[32];
    size_t n;

    ck_assert_msg(avtb_transcript_open(path, NULL, 0, &t, &err) == AVTB_OK, "%s", err.msg);
    write_flow(t, SA(c6), SA(s6), NULL);
    write_flow(t, SA(cm), SA(s4), "");
    ck_assert_int_eq(avtb_transcript_close(t, &err), AVTB_OK);

    n = read_all(segs, 32);
    ck_assert_uint_eq(n, 16);
    ck_assert_int_eq(segs[0].family, 6);
    ck_assert_str_eq(segs[0].src, "fd00:5::10");
    ck_assert_str_eq(segs[0].dst, "2001:db8::443");
    ck_assert_str_eq(segs[3].payload, request);
    check_seq(segs, 8);
    ck_assert_int_eq(segs[8].family, 4);
    ck_assert_str_eq(segs[8].src, "10.0.0.5");
    ck_assert_str_eq(segs[8].dst, "192.0.2.7");
    ck_assert_uint_eq(segs[8].dport, 8443);
    check_seq(segs + 8, 8);
    /* Each flow its own initial sequence numbers. */
    ck_assert_uint_ne(segs[0].seq, segs[8].seq);
}
END_TEST

START_TEST(large_data_is_segmented)
{
    avtb_transcript *t = NULL;
    avtb_transcript_flow *f = NULL;
    avtb_error err = {0};
    struct sockaddr_storage c = v4("10.0.0.2", 1234), s = v4("10.0.0.1", 443);
    size_t big = 3 * AVTB_TRANSCRIPT_SEGMENT + 100;
    uint8_t *buf = malloc(big);
    seg segs[16];
    size_t n;

    ck_assert_ptr_nonnull(buf);
    memset(buf, 'x', big);
    ck_assert_int_eq(avtb_transcript_open(path, NULL, 0, &t, &err), AVTB_OK);
    ck_assert_int_eq(avtb_transcript_flow_open(t, SA(c), SA(s), NULL, &f, &err), AVTB_OK);
    ck_assert_int_eq(avtb_transcript_data(f, true, buf, big, &err), AVTB_OK);
    ck_assert_int_eq(avtb_transcript_data(f, true, buf, 0, &err), AVTB_OK);
    ck_assert_int_eq(avtb_transcript_flow_close(f, &err), AVTB_OK);
    ck_assert_int_eq(avtb_transcript_close(t, &err), AVTB_OK);
    free(buf);

    n = read_all(segs, 16);
    ck_assert_uint_eq(n, 3 + 4 + 3);
    ck_assert_uint_eq(segs[3].len, AVTB_TRANSCRIPT_SEGMENT);
    ck_assert_uint_eq(segs[5].len, AVTB_TRANSCRIPT_SEGMENT);
    ck_assert_uint_eq(segs[6].len, 100);
    check_seq(segs, n);
}
END_TEST

START_TEST(bad_addresses_and_detached_flows)
{
    avtb_transcript *t = NULL;
    avtb_transcript_flow *f = NULL;
    avtb_error err = {0};
    struct sockaddr_storage c4 = v4("10.0.0.2", 1), s6 = v6("fd00::1", 443), s4 = v4("1.1.1.1", 1);
    struct sockaddr_storage un = {.ss_family = AF_UNIX};
    comments cm = {0};

    ck_assert_int_eq(avtb_transcript_open(path, NULL, 0, &t, &err), AVTB_OK);
    ck_assert_int_eq(avtb_transcript_flow_open(t, SA(c4), SA(s6), NULL, &f, &err), AVTB_ERR_USAGE);
    ck_assert_ptr_null(f);
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_transcript_flow_open(t, SA(un), SA(s4), NULL, &f, &err), AVTB_ERR_USAGE);
    avtb_error_clear(&err);
    /* Bytes outside printable ASCII in a comment are escaped, not refused. */
    ck_assert_int_eq(avtb_transcript_flow_open(t, SA(c4), SA(s4), "sni=\xff\x01x", &f, &err),
                     AVTB_OK);
    ck_assert_int_eq(avtb_transcript_data(f, true, "GET", 3, &err), AVTB_OK);
    ck_assert_int_eq(avtb_transcript_close(t, &err), AVTB_OK);
    ck_assert_int_eq(avtb_transcript_data(f, true, "x", 1, &err), AVTB_ERR_USAGE);
    ck_assert_int_eq(avtb_transcript_flow_close(f, &err), AVTB_OK);
    ck_assert_int_eq(avtb_transcript_flow_close(NULL, &err), AVTB_OK);
    ck_assert_int_eq(avtb_transcript_close(NULL, &err), AVTB_OK);
    ck_assert_int_eq(avtb_pcapng_read_comments(path, true, on_comment, &cm, &err), AVTB_OK);
    ck_assert_uint_eq(cm.n, 1);
    ck_assert_str_eq(cm.text[0], "sni=%FF%01x");
}
END_TEST

START_TEST(comment_escapes_and_cuts)
{
    char buf[64], longsni[2000];

    avtb_transcript_comment(buf, sizeof(buf), "a b%c", NULL, "", "h2");
    ck_assert_str_eq(buf, "avtb tls sni=a%20b%25c alpn=h2");
    memset(longsni, 'a', sizeof(longsni) - 1);
    longsni[sizeof(longsni) - 1] = '\0';
    /* A word that does not fit is left out whole, the others stay. */
    avtb_transcript_comment(buf, sizeof(buf), longsni, "TLSv1.2", NULL, NULL);
    ck_assert_str_eq(buf, "avtb tls version=TLSv1.2");
    avtb_transcript_comment(buf, 4, "x", NULL, NULL, NULL);
    ck_assert_str_eq(buf, "");
}
END_TEST

/* tshark, when installed, must see clean HTTP in the file. */
START_TEST(tshark_shows_http)
{
    avtb_transcript *t = NULL;
    avtb_error err = {0};
    struct sockaddr_storage c = v4("10.213.5.10", 40000), s = v4("1.2.3.4", 443);
    struct sockaddr_storage c6 = v6("fd00:5::10", 40001), s6 = v6("2001:db8::443", 443);
    char cmd[512], out[512] = "";
    size_t n;
    FILE *p;

    if (system("command -v tshark >/dev/null 2>&1") != 0)
        return; /* optional in CI */
    ck_assert_int_eq(avtb_transcript_open(path, NULL, 0, &t, &err), AVTB_OK);
    write_flow(t, SA(c), SA(s), "avtb tls sni=upload.x.example");
    write_flow(t, SA(c6), SA(s6), NULL);
    ck_assert_int_eq(avtb_transcript_close(t, &err), AVTB_OK);
    /* Port 443, yet no hint needed: plaintext is not TLS, and tshark finds the HTTP. */
    snprintf(cmd, sizeof(cmd), "tshark -r '%s' -Y http.request -T fields -e http.host 2>/dev/null",
             path);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_str_eq(out, "upload.x.example\n"
                          "upload.x.example\n");
    /* The flow's comment is the SYN's packet comment. */
    snprintf(cmd, sizeof(cmd),
             "tshark -r '%s' -Y frame.comment -T fields -e frame.number -e frame.comment "
             "2>/dev/null",
             path);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_str_eq(out, "1\tavtb tls sni=upload.x.example\n");
    /* Without the hint tshark still reads the TCP (checksums checked when asked). */
    snprintf(cmd, sizeof(cmd),
             "tshark -r '%s' -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE "
             "-Y 'tcp.checksum.status==2 || ip.checksum.status==2 || tcp.analysis.flags' "
             "2>/dev/null | wc -l",
             path);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    ck_assert_str_eq(out, "0\n");
}
END_TEST

static Suite *transcript_suite(void)
{
    Suite *s = suite_create("transcript");
    TCase *tc = tcase_create("writer");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ipv4_flow_reads_back);
    tcase_add_test(tc, ipv6_flow_and_mapped_ipv4);
    tcase_add_test(tc, large_data_is_segmented);
    tcase_add_test(tc, bad_addresses_and_detached_flows);
    tcase_add_test(tc, comment_escapes_and_cuts);
    suite_add_tcase(s, tc);
    tc = tcase_create("tshark");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tshark_shows_http);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(transcript_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
