/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes the seed corpus for the fuzz harnesses (tests/fuzz/corpus/) with
 * pcapgen. Run by hand when the seeds should change:
 *   gen_corpus tests/fuzz/corpus
 */
#include <pcap/dlt.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/pcapgen.h"

#define TOK0 "AVTBQ3F7K2M9XWZP4R8TAB"
#define TOK1 "AVTBM2N3B4V5C6X7Z2L3KJ"

static const char post[] = "POST /u HTTP/1.1\r\nHost: seed.example\r\nContent-Length: 26\r\n\r\n"
                           "t=" TOK0 "&x=1";

static int write_file(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[512];
    FILE *fp;
    int r;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "wb");
    if (fp == NULL)
        return -1;
    r = fwrite(buf, 1, len, fp) == len ? 0 : -1;
    return fclose(fp) == 0 ? r : -1;
}

static int one_flow(const char *dir, const char *name, int linktype, int ng, uint16_t vlan,
                    const char *cli, const char *srv, int out_of_order)
{
    char path[512];
    pcapgen *g;
    pg_tcp t;
    uint32_t n = (uint32_t)strlen(post);
    int r = 0;

    snprintf(path, sizeof(path), "%s/pcap/%s", dir, name);
    g = pcapgen_open(path, linktype, ng);
    if (g == NULL)
        return -1;
    pg_tcp_init(&t, g, cli, 40000, srv, 80);
    t.vlan = vlan;
    r |= pg_tcp_handshake(&t);
    if (out_of_order) {
        r |= pg_tcp_seg(&t, 1, 40, post + 40, n - 40);
        r |= pg_tcp_seg(&t, 1, 0, post, 40);
        r |= pg_tcp_seg(&t, 1, 0, post, 40); /* retransmission */
        t.coff = n;
    } else {
        r |= pg_tcp_send(&t, 1, post, n);
    }
    r |= pg_tcp_send(&t, 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38);
    r |= pg_tcp_close(&t);
    return pcapgen_close(g) | r;
}

static int udp_and_junk(const char *dir)
{
    char path[512];
    static const uint8_t junk[] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x4f, 0, 0, 9};
    pg_pkt p = {0};
    pcapgen *g;
    int r = 0;

    snprintf(path, sizeof(path), "%s/pcap/udp-dns-junk.pcap", dir);
    g = pcapgen_open(path, DLT_EN10MB, 0);
    if (g == NULL)
        return -1;
    p.src = "10.0.0.2";
    p.dst = "10.0.0.1";
    p.sport = 5353;
    p.dport = 53;
    p.proto = 17;
    p.payload = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x16" TOK1 "\x00\x00\x01\x00\x01";
    p.len = 12 + 1 + 22 + 5;
    p.ts = 1.0;
    r |= pcapgen_packet(g, &p);
    r |= pcapgen_frame(g, 2.0, junk, sizeof(junk), sizeof(junk));
    return pcapgen_close(g) | r;
}

int main(int argc, char **argv)
{
    static const uint8_t dns_a[] = "\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
                                   "\x07"
                                   "example"
                                   "\x03"
                                   "com"
                                   "\x00\x00\x01\x00\x01";
    static const uint8_t dns_aaaa[] = "\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01"
                                      "\x03"
                                      "a\\b"
                                      "\x00\x00\x1c\x00\x01";
    static const char chunked[] =
        "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4\r\nabcd\r\n0\r\n\r\nGET / HTTP/1.0\r\n\r\n";
    const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    char http_dir[512], dns_dir[512];
    int r = 0;

    snprintf(http_dir, sizeof(http_dir), "%s/http", dir);
    snprintf(dns_dir, sizeof(dns_dir), "%s/dns", dir);
    r |= one_flow(dir, "http-eth.pcap", DLT_EN10MB, 0, 0, "10.0.0.2", "10.0.0.1", 0);
    r |= one_flow(dir, "http-ooo-vlan.pcap", DLT_EN10MB, 0, 7, "10.0.0.2", "10.0.0.1", 1);
    r |= one_flow(dir, "http-sll.pcap", DLT_LINUX_SLL, 0, 0, "10.0.0.2", "10.0.0.1", 0);
    r |= one_flow(dir, "http-ipv6.pcapng", DLT_EN10MB, 1, 0, "fd00::2", "fd00::1", 0);
    r |= udp_and_junk(dir);
    r |= write_file(http_dir, "post",
                    "\x01"
                    "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
                    1 + strlen("POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"));
    r |= write_file(http_dir, "chunked", chunked, sizeof(chunked) - 1);
    r |= write_file(dns_dir, "a", dns_a, sizeof(dns_a) - 1);
    r |= write_file(dns_dir, "aaaa", dns_aaaa, sizeof(dns_aaaa) - 1);
    if (r != 0)
        fprintf(stderr, "gen_corpus: writing into %s failed\n", dir);
    return r != 0;
}
