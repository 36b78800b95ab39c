/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An evidence directory analysed as a whole (collectors/evidence.h): the
 * sink's decrypted TLS transcripts (written with the real transcript
 * writer) searched with "tls" outermost, suspected findings from the sink's
 * logs, and the attempts table of the wire capture. Every directory is
 * built by the test: no VM, no network.
 */
#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "collectors/canaries.h"
#include "collectors/evidence.h"
#include "collectors/pcapng.h"
#include "collectors/transcript.h"
#include "common/util.h"
#include "orchestrator/cli.h"
#include "tests/unit/pcapgen.h"
#include "tests/unit/testbytes.h"

#define TOK0  "AVTBQ3F7K2M9XWZP4R8TAB"
#define TOK1  "AVTBM2N3B4V5C6X7Z2L3KJ"
#define DOC0  "/home/analyst/secret.txt"
#define DOC1  "/home/analyst/plans.docx"
#define SIZE0 4000
#define SIZE1 100000

#define GUEST "10.213.5.10"
#define SINK  "10.213.5.1"
#define T0    1700000000.0 /* pcapgen's clock starts here */

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/avtb-test-evidence-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* As a run's evidence is: `avtb analyze` reads it as nobody when root. */
    ck_assert_int_eq(chmod(dir, 0755), 0);
}

static void teardown(void)
{
    avtb_error err = {0};

    ck_assert_int_eq(avtb_rm_rf(dir, &err), AVTB_OK);
}

static char *path_of(const char *name)
{
    char *p = avtb_path_join(dir, name);

    ck_assert_ptr_nonnull(p);
    return p;
}

static void write_text(const char *name, const char *text)
{
    char *p = path_of(name);
    FILE *fp = fopen(p, "w");

    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(fputs(text, fp) >= 0, 1);
    ck_assert_int_eq(fclose(fp), 0);
    free(p);
}

static void write_tokens(void)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "{\"version\": 1, \"tokens\": ["
             "{\"token\": \"" TOK0 "\", \"place\": \"body\", \"document\": \"" DOC0
             "\", \"size\": %d},"
             "{\"token\": \"" TOK1 "\", \"place\": \"body\", \"document\": \"" DOC1
             "\", \"size\": %d}]}\n",
             SIZE0, SIZE1);
    write_text("tokens.json", text);
}

/* --- the wire capture: pcapgen frames, rewritten as the capture collector writes them -- */

static char rawcap[128];

static pcapgen *wire_open(void)
{
    pcapgen *g;

    snprintf(rawcap, sizeof(rawcap), "%s/raw.pcap", dir);
    g = pcapgen_open(rawcap, DLT_RAW, false);
    ck_assert_ptr_nonnull(g);
    return g;
}

/* capture.pcapng with the run's addresses in its section header, like capture.c writes. */
static void wire_close(pcapgen *g)
{
    const avtb_pcapng_meta meta[] = {
        {"avtb-run-id", "test"}, {"avtb-sink-address", SINK}, {"avtb-guest-address", GUEST}};
    char ebuf[PCAP_ERRBUF_SIZE], *out = path_of("capture.pcapng");
    avtb_pcapng *w = NULL;
    avtb_error err = {0};
    struct pcap_pkthdr *h;
    const u_char *d;
    uint32_t id;
    pcap_t *p;

    ck_assert_int_eq(pcapgen_close(g), 0);
    p = pcap_open_offline_with_tstamp_precision(rawcap, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    ck_assert_msg(p != NULL, "%s", ebuf);
    ck_assert_int_eq(avtb_pcapng_open(out, meta, 3, &w, &err), AVTB_OK);
    ck_assert_int_eq(avtb_pcapng_add_interface(w, DLT_RAW, 0, "avtbbr0", NULL, true, &id, &err),
                     AVTB_OK);
    while (pcap_next_ex(p, &h, &d) == 1) {
        struct timespec ts = {h->ts.tv_sec, h->ts.tv_usec};

        ck_assert_int_eq(avtb_pcapng_write_packet(w, id, &ts, d, h->caplen, h->len, &err), AVTB_OK);
    }
    pcap_close(p);
    ck_assert_int_eq(avtb_pcapng_close(w, &err), AVTB_OK);
    ck_assert_int_eq(unlink(rawcap), 0);
    free(out);
}

/* A wire capture with nothing in it but a DNS query to the sink. */
static void wire_minimal(void)
{
    pcapgen *g = wire_open();
    pg_pkt q = {.src = GUEST,
                .dst = SINK,
                .sport = 33000,
                .dport = 53,
                .proto = 17,
                .payload = "\x12\x34\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00",
                .len = 12,
                .ts = T0};

    ck_assert_int_eq(pcapgen_packet(g, &q), 0);
    wire_close(g);
}

/* A TLS 1.2 record of type ct around n bytes of payload (all 'x' when payload is NULL). */
static void tls_record(bytes *b, uint8_t ct, const void *payload, size_t n)
{
    uint8_t h[5] = {ct, 3, 3, (uint8_t)(n >> 8), (uint8_t)n};

    put(b, h, sizeof(h));
    if (payload != NULL) {
        put(b, payload, n);
    } else {
        for (size_t i = 0; i < n; i++)
            put(b, "x", 1);
    }
}

/* A minimal ClientHello record naming sni. */
static void client_hello(bytes *b, const char *sni)
{
    size_t sl = strlen(sni);
    uint8_t sh[9] = {0,
                     0,
                     (uint8_t)((sl + 5) >> 8),
                     (uint8_t)(sl + 5),
                     (uint8_t)((sl + 3) >> 8),
                     (uint8_t)(sl + 3),
                     0,
                     (uint8_t)(sl >> 8),
                     (uint8_t)sl};
    size_t ext_len = sizeof(sh) + sl;
    uint8_t el[2] = {(uint8_t)(ext_len >> 8), (uint8_t)ext_len}, random[32], hh[4];
    bytes hs = {0}, body = {0};

    memset(random, 0x5a, sizeof(random));
    put(&body, "\x03\x03", 2);
    put(&body, random, sizeof(random));
    put(&body, "\x00\x00\x02\x13\x01\x01\x00", 7);
    put(&body, el, 2);
    put(&body, sh, sizeof(sh));
    put(&body, sni, sl);
    hh[0] = 1;
    hh[1] = 0;
    hh[2] = (uint8_t)(body.n >> 8);
    hh[3] = (uint8_t)body.n;
    put(&hs, hh, 4);
    put(&hs, body.d, body.n);
    tls_record(b, 22, hs.d, hs.n);
    bytes_free(&hs);
    bytes_free(&body);
}

/* A TLS connection on the wire: ClientHello for sni, then app_bytes of application data. */
static void wire_tls(pcapgen *g, uint16_t cport, const char *dst, const char *sni, size_t app_bytes,
                     double ts)
{
    bytes out = {0}, in = {0};
    pg_tcp t;

    pg_tcp_init(&t, g, GUEST, cport, dst, 443);
    t.ts = ts;
    client_hello(&out, sni);
    tls_record(&in, 22, "\x02\x00\x00\x26\x03\x03", 6);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    ck_assert_int_eq(pg_tcp_send(&t, true, out.d, out.n), 0);
    ck_assert_int_eq(pg_tcp_send(&t, false, in.d, in.n), 0);
    bytes_free(&out);
    for (size_t left = app_bytes; left > 0;) {
        size_t n = left < 1200 ? left : 1200;

        tls_record(&out, 23, NULL, n);
        ck_assert_int_eq(pg_tcp_send(&t, true, out.d, out.n), 0);
        bytes_free(&out);
        left -= n;
    }
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    bytes_free(&in);
}

/* --- the transcripts -------------------------------------------------------- */

static struct sockaddr_storage sa(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;

        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        ck_assert_int_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
    }
    return ss;
}

typedef struct tflow {
    const char *client, *server, *sni;
    uint16_t cport, sport;
    const void *request;
    size_t len;
    const char *comment; /* as is, instead of avtb_transcript_comment's */
} tflow;

static void write_transcript(const tflow *flows, size_t n)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
    char *p = path_of(AVTB_TRANSCRIPT_FILE);
    avtb_transcript *t = NULL;
    avtb_error err = {0};

    ck_assert_msg(avtb_transcript_open(p, NULL, 0, &t, &err) == AVTB_OK, "%s", err.msg);
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_storage c = sa(flows[i].client, flows[i].cport);
        struct sockaddr_storage s = sa(flows[i].server, flows[i].sport);
        avtb_transcript_flow *f = NULL;
        char comment[512];

        avtb_transcript_comment(comment, sizeof(comment), flows[i].sni, "TLSv1.3",
                                "TLS_AES_128_GCM_SHA256", "http/1.1");
        if (flows[i].comment != NULL)
            snprintf(comment, sizeof(comment), "%s", flows[i].comment);
        ck_assert_int_eq(avtb_transcript_flow_open(t, (struct sockaddr *)&c, (struct sockaddr *)&s,
                                                   comment, &f, &err),
                         AVTB_OK);
        ck_assert_int_eq(avtb_transcript_data(f, true, flows[i].request, flows[i].len, &err),
                         AVTB_OK);
        ck_assert_int_eq(avtb_transcript_data(f, false, ok, strlen(ok), &err), AVTB_OK);
        ck_assert_int_eq(avtb_transcript_flow_close(f, &err), AVTB_OK);
    }
    ck_assert_int_eq(avtb_transcript_close(t, &err), AVTB_OK);
    free(p);
}

static char *post(const char *host, const char *extra_headers, const char *body)
{
    char *req = NULL;

    if (host != NULL)
        ck_assert_int_ge(asprintf(&req,
                                  "POST /upload HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %zu\r\n"
                                  "\r\n%s",
                                  host, extra_headers, strlen(body), body),
                         0);
    else
        ck_assert_int_ge(asprintf(&req, "POST /upload HTTP/1.1\r\n%sContent-Length: %zu\r\n\r\n%s",
                                  extra_headers, strlen(body), body),
                         0);
    return req;
}

/* --- the sink's logs ------------------------------------------------------------ */

/* One sink-tls.jsonl line, as the sink writes it. */
static void tls_line(FILE *fp, uint16_t cport, const char *dst, const char *sni,
                     const char *version, bool ok, const char *failure, double start,
                     unsigned long long plaintext)
{
    char s[300], v[64], f[300];

    snprintf(s, sizeof(s), sni ? "\"%s\"" : "null", sni);
    snprintf(v, sizeof(v), version ? "\"%s\"" : "null", version);
    snprintf(f, sizeof(f), failure ? "\"%s\"" : "null", failure);
    fprintf(fp,
            "{\"time\":\"2023-11-14T22:13:20.000Z\",\"start\":%.3f,\"end\":%.3f,\"client\":\"" GUEST
            "\",\"client_port\":%u,\"orig_dst\":\"%s\",\"orig_dst_port\":443,\"sni\":%s,"
            "\"alpn\":null,\"version\":%s,\"cipher\":null,\"ok\":%s,\"failure\":%s,"
            "\"client_bytes\":517,\"server_bytes\":1234,\"plaintext_from_client\":%llu,"
            "\"plaintext_to_client\":0}\n",
            start, start + 0.2, (unsigned)cport, dst, s, v, ok ? "true" : "false", f, plaintext);
}

static FILE *log_open(const char *name)
{
    char *p = path_of(name);
    FILE *fp = fopen(p, "w");

    ck_assert_ptr_nonnull(fp);
    free(p);
    return fp;
}

/* agent.jsonl with the host's first trigger command at t (seconds since the epoch). */
static void agent_trigger_at(double t)
{
    char when[64], line[512];
    time_t s = (time_t)t;
    struct tm tm;

    gmtime_r(&s, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(line, sizeof(line),
             "{\"host_time\":\"%s.000Z\",\"dir\":\"in\",\"msg\":{\"type\":\"hello\",\"proto\":1}}\n"
             "{\"host_time\":\"%s.%03dZ\",\"dir\":\"out\",\"msg\":\"run t1 trigger-1\"}\n"
             "{\"host_time\":\"%s.900Z\",\"dir\":\"in\",\"msg\":{\"type\":\"started\",\"id\":"
             "\"t1\",\"name\":\"trigger-1\",\"pid\":7,\"uptime_ms\":9000}}\n",
             when, when, (int)((t - (double)s) * 1000), when);
    write_text("agent.jsonl", line);
}

/* --- running it --------------------------------------------------------------- */

static void analyze_dir(avtb_analysis *a, size_t attempts_cap)
{
    avtb_canaries *c = avtb_canaries_new();
    avtb_patterns *p = NULL;
    avtb_analyze_opts o;
    avtb_error err = {0};
    char *tokens = path_of("tokens.json");

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(avtb_canaries_load_registry(c, tokens, &err), AVTB_OK);
    ck_assert_int_eq(avtb_canaries_compile(c, &p, &err), AVTB_OK);
    avtb_analyze_opts_default(&o);
    o.threads = 1;
    if (attempts_cap > 0)
        o.attempts_cap = attempts_cap;
    ck_assert_msg(avtb_evidence_analyze(dir, p, avtb_canaries_token_docs(c), &o, a, &err) ==
                      AVTB_OK,
                  "%s", err.msg);
    avtb_patterns_free(p);
    avtb_canaries_free(c);
    free(tokens);
}

static size_t count(const avtb_analysis *a, avtb_finding_kind k)
{
    size_t n = 0;

    for (size_t i = 0; i < a->findings.count; i++)
        n += a->findings.items[i].kind == k;
    return n;
}

static const avtb_finding *nth(const avtb_analysis *a, avtb_finding_kind k, size_t i)
{
    for (size_t j = 0; j < a->findings.count; j++)
        if (a->findings.items[j].kind == k && i-- == 0)
            return &a->findings.items[j];
    ck_abort_msg("no finding %zu of kind %d", i, (int)k);
    return NULL;
}

/* --- transcripts ------------------------------------------------------------------ */

START_TEST(plaintext_http_upload_is_a_tls_finding)
{
    char *req = post("upload.x.example", "Content-Type: text/plain\r\n", "report=" TOK0 "&x=1");
    tflow fl = {GUEST, "203.0.113.7", "upload.x.example", 40000, 443, req, strlen(req), NULL};
    pcapgen *g;
    FILE *fp;
    avtb_analysis a;
    const avtb_finding *f;

    write_tokens();
    /* The wire shows the same connection, encrypted; the sink says it decrypted it. */
    g = wire_open();
    wire_tls(g, 40000, "203.0.113.7", "upload.x.example", 6000, T0 + 10);
    wire_close(g);
    fp = log_open(AVTB_EVIDENCE_SINK_TLS);
    tls_line(fp, 40000, "203.0.113.7", "upload.x.example", "TLSv1.3", true, NULL, T0 + 10,
             strlen(req));
    fclose(fp);
    write_transcript(&fl, 1);

    analyze_dir(&a, 0);
    ck_assert_uint_eq(a.findings.count, 1);
    f = &a.findings.items[0];
    ck_assert_str_eq(f->token, TOK0);
    ck_assert_int_eq(f->kind, AVTB_FINDING_CONTENT);
    ck_assert_str_eq(f->protocol, "http");
    ck_assert_str_eq(f->encoding, "tls,http-body");
    ck_assert_str_eq(f->dst.host, "upload.x.example");
    ck_assert_str_eq(f->dst.ip, "203.0.113.7");
    ck_assert_uint_eq(f->dst.port, 443);
    ck_assert_str_eq(f->src.ip, GUEST);
    ck_assert_uint_eq(f->src.port, 40000);
    ck_assert_str_eq(f->capture, AVTB_TRANSCRIPT_FILE);
    ck_assert_uint_eq(f->flow, 1);
    ck_assert_str_eq(f->document, DOC0);
    /* Decrypted, so not opaque: no suspected finding for the 6000 encrypted bytes. */
    ck_assert(a.plaintext);
    ck_assert_uint_eq(a.plaintext_stats.flows, 1);
    ck_assert_uint_eq(a.tls_intercepted, 1);
    ck_assert_uint_eq(a.ntls, 1);
    ck_assert(a.tls[0].decrypted);
    ck_assert_uint_eq(a.nproblems, 0);
    avtb_analysis_clear(&a);
    free(req);
}
END_TEST

static bytes gzip_of(const char *text)
{
    bytes b = {0};
    z_stream z;
    uint8_t out[4096];

    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)text;
    z.avail_in = (uInt)strlen(text);
    z.next_out = out;
    z.avail_out = sizeof(out);
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    put(&b, out, sizeof(out) - z.avail_out);
    deflateEnd(&z);
    return b;
}

START_TEST(plaintext_gzip_base64_upload_named_by_sni)
{
    bytes z = gzip_of("quarterly plan\n" TOK1 "\nend of plan\n");
    char b64[1024], *req;
    tflow fl;
    avtb_analysis a;
    const avtb_finding *f;

    ck_assert_int_gt(EVP_EncodeBlock((unsigned char *)b64, z.d, (int)z.n), 0);
    /* HTTP/1.0 without a Host header: the name comes from the SNI of the flow's comment. */
    req = post(NULL, "Content-Type: application/octet-stream\r\n", b64);
    memcpy(req + strlen("POST /upload HTTP/1."), "0", 1);
    /* The comment as the sink writes it by hand ("-" for none) reads the same. */
    fl = (tflow){GUEST,
                 "198.51.100.20",
                 NULL,
                 40002,
                 443,
                 req,
                 strlen(req),
                 "avtb tls sni=collect.y.example version=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 "
                 "alpn=-"};
    write_tokens();
    wire_minimal();
    write_transcript(&fl, 1);

    analyze_dir(&a, 0);
    ck_assert_uint_eq(count(&a, AVTB_FINDING_CONTENT), 1);
    f = nth(&a, AVTB_FINDING_CONTENT, 0);
    ck_assert_str_eq(f->token, TOK1);
    ck_assert_str_eq(f->protocol, "http");
    ck_assert_str_eq(f->encoding, "tls,http-body,base64,gzip");
    ck_assert_str_eq(f->dst.host, "collect.y.example");
    ck_assert_str_eq(f->dst.ip, "198.51.100.20");
    ck_assert_str_eq(f->document, DOC1);
    avtb_analysis_clear(&a);
    bytes_free(&z);
    free(req);
}
END_TEST

START_TEST(plaintext_ipv6)
{
    char *req = post("v6.x.example", "", TOK0);
    tflow fl = {"fd00:5::10", "2001:db8::7", "v6.x.example", 40003, 8443, req, strlen(req), NULL};
    avtb_analysis a;
    const avtb_finding *f;

    write_tokens();
    wire_minimal();
    write_transcript(&fl, 1);
    analyze_dir(&a, 0);
    ck_assert_uint_eq(count(&a, AVTB_FINDING_CONTENT), 1);
    f = nth(&a, AVTB_FINDING_CONTENT, 0);
    ck_assert_str_eq(f->encoding, "tls,http-body");
    ck_assert_str_eq(f->src.ip, "fd00:5::10");
    ck_assert_str_eq(f->dst.ip, "2001:db8::7");
    ck_assert_uint_eq(f->dst.port, 8443);
    ck_assert_str_eq(f->dst.host, "v6.x.example");
    avtb_analysis_clear(&a);
    free(req);
}
END_TEST

/* Findings of the wire and of the transcripts: both kept, told apart by their capture. */
START_TEST(wire_and_plaintext_findings_merge)
{
    char *req = post("upload.x.example", "", "a=" TOK0);
    tflow fl[2] = {{GUEST, "203.0.113.7", "upload.x.example", 40000, 443, req, strlen(req), NULL},
                   {GUEST, "203.0.113.8", NULL, 40001, 443, "raw " TOK1 " bytes", 26,
                    "avtb tls sni=- version=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 alpn=-"}};
    char body[128], http[512];
    pcapgen *g = wire_open();
    avtb_analysis a;
    pg_tcp t;
    int n;

    write_tokens();
    /* On the wire: plain HTTP carrying TOK1, flow 1 there too. */
    snprintf(body, sizeof(body), "b=%s", TOK1);
    n = snprintf(http, sizeof(http),
                 "POST /x HTTP/1.1\r\nHost: plain.example\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(body), body);
    pg_tcp_init(&t, g, GUEST, 41000, "192.0.2.80", 80);
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    ck_assert_int_eq(pg_tcp_send(&t, true, http, (size_t)n), 0);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    wire_close(g);
    write_transcript(fl, 2);

    analyze_dir(&a, 0);
    ck_assert_uint_eq(count(&a, AVTB_FINDING_CONTENT), 3);
    /* Sorted by time: the wire capture is from 2023, the transcript from now. */
    ck_assert_str_eq(a.findings.items[0].capture, "capture.pcapng");
    ck_assert_str_eq(a.findings.items[0].token, TOK1);
    ck_assert_uint_eq(a.findings.items[0].flow, 1);
    ck_assert_str_eq(a.findings.items[0].encoding, "http-body");
    for (size_t i = 1; i < 3; i++) {
        const avtb_finding *f = &a.findings.items[i];

        ck_assert_str_eq(f->capture, AVTB_TRANSCRIPT_FILE);
        if (f->flow == 1) {
            ck_assert_str_eq(f->token, TOK0);
            ck_assert_str_eq(f->encoding, "tls,http-body");
        } else {
            /* Not HTTP: the raw stream, still under "tls"; no name anywhere. */
            ck_assert_uint_eq(f->flow, 2);
            ck_assert_str_eq(f->token, TOK1);
            ck_assert_str_eq(f->protocol, "tcp");
            ck_assert_str_eq(f->encoding, "tls");
            ck_assert_ptr_null(f->dst.host);
        }
    }
    avtb_analysis_clear(&a);
    free(req);
}
END_TEST

START_TEST(missing_or_broken_transcript_is_a_problem)
{
    FILE *fp;
    avtb_analysis a;

    write_tokens();
    wire_minimal();
    fp = log_open(AVTB_EVIDENCE_SINK_TLS);
    tls_line(fp, 40000, "203.0.113.7", "upload.x.example", "TLSv1.3", true, NULL, T0, 300);
    fclose(fp);
    analyze_dir(&a, 0);
    ck_assert_uint_eq(a.nproblems, 1);
    ck_assert_ptr_nonnull(strstr(a.problems[0], AVTB_TRANSCRIPT_FILE " is missing"));
    avtb_analysis_clear(&a);

    write_text(AVTB_TRANSCRIPT_FILE, "not a capture at all\n");
    analyze_dir(&a, 0);
    ck_assert_uint_eq(a.nproblems, 1);
    ck_assert_ptr_nonnull(strstr(a.problems[0], "cannot be analysed"));
    ck_assert(!a.plaintext);
    avtb_analysis_clear(&a);
}
END_TEST

/* --- suspected: certificate rejected ---------------------------------------------- */

START_TEST(pinning_after_the_trigger_is_suspected)
{
    pcapgen *g = wire_open();
    FILE *fp;
    avtb_analysis a;
    const avtb_finding *f;

    write_tokens();
    /* The second pinned connection's ClientHello is in the wire capture (flow 1). */
    wire_tls(g, 40011, "1.2.3.5", "telemetry2.pinner.example", 0, T0 + 30);
    wire_close(g);
    agent_trigger_at(T0 + 20);
    fp = log_open(AVTB_EVIDENCE_SINK_TLS);
    /* Before the first scan: a licence check that pins; not suspected, still counted. */
    tls_line(fp, 40010, "1.2.3.4", "licence.pinner.example", "TLSv1.3", false,
             "client sent fatal alert unknown CA (48)", T0 + 5, 0);
    tls_line(fp, 40011, "1.2.3.5", "telemetry2.pinner.example", "TLSv1.3", false,
             "client sent fatal alert unknown CA (48)", T0 + 30, 0);
    /* A certificate alert needs no version; a hang-up after the sink's flight does. */
    tls_line(fp, 40012, "1.2.3.6", NULL, NULL, false,
             "client sent fatal alert bad certificate (42)", T0 + 31, 0);
    tls_line(fp, 40013, "1.2.3.7", "hangup.example", "TLSv1.2", false,
             "sink sent fatal alert decode error (50): unexpected eof while reading", T0 + 32, 0);
    tls_line(fp, 40014, "1.2.3.8", "early.example", NULL, false,
             "sink sent fatal alert decode error (50): unexpected eof while reading", T0 + 33, 0);
    fputs("{\"cut\": \n", fp); /* a writer killed mid-line */
    fclose(fp);

    analyze_dir(&a, 0);
    ck_assert_uint_eq(a.tls_rejected, 4);
    ck_assert_uint_eq(count(&a, AVTB_FINDING_SUSPECTED), 3);
    ck_assert_uint_eq(count(&a, AVTB_FINDING_CONTENT), 0);
    f = nth(&a, AVTB_FINDING_SUSPECTED, 0);
    ck_assert_ptr_null(f->token);
    ck_assert_ptr_null(f->document);
    ck_assert_str_eq(f->protocol, "tls");
    ck_assert_str_eq(f->dst.ip, "1.2.3.5");
    ck_assert_uint_eq(f->dst.port, 443);
    ck_assert_str_eq(f->dst.host, "telemetry2.pinner.example");
    ck_assert_str_eq(f->src.ip, GUEST);
    ck_assert_uint_eq(f->src.port, 40011);
    ck_assert_uint_eq(f->bytes, 517);
    ck_assert_double_eq_tol(f->time, T0 + 30, 1e-6);
    ck_assert_str_eq(f->capture, "capture.pcapng");
    ck_assert_uint_eq(f->flow, 1);
    ck_assert_ptr_nonnull(strstr(f->reason, "rejected the interception certificate (pinned?)"));
    ck_assert_ptr_nonnull(strstr(f->reason, "unknown CA (48)"));
    f = nth(&a, AVTB_FINDING_SUSPECTED, 1);
    ck_assert_str_eq(f->dst.ip, "1.2.3.6");
    ck_assert_ptr_null(f->dst.host);
    ck_assert_str_eq(f->capture, AVTB_EVIDENCE_SINK_TLS);
    ck_assert_uint_eq(f->flow, 0);
    f = nth(&a, AVTB_FINDING_SUSPECTED, 2);
    ck_assert_str_eq(f->dst.host, "hangup.example");
    /* The cut line is counted. */
    ck_assert_uint_eq(a.nanomalies, 1);
    ck_assert_ptr_nonnull(strstr(a.anomalies[0].what, "not a JSON object"));
    avtb_analysis_clear(&a);
}
END_TEST

START_TEST(no_trigger_means_any_time)
{
    FILE *fp;
    avtb_analysis a;

    write_tokens();
    wire_minimal();
    fp = log_open(AVTB_EVIDENCE_SINK_TLS);
    tls_line(fp, 40010, "1.2.3.4", "licence.pinner.example", "TLSv1.3", false,
             "client sent fatal alert unknown CA (48)", T0 + 5, 0);
    fclose(fp);
    analyze_dir(&a, 0);
    ck_assert_uint_eq(count(&a, AVTB_FINDING_SUSPECTED), 1);
    avtb_analysis_clear(&a);
}
END_TEST

START_TEST(no_suspected_when_the_handshake_succeeded)
{
    char *req = post("upload.x.example", "", "nothing secret");
    tflow fl = {GUEST, "203.0.113.7", "upload.x.example", 40000, 443, req, strlen(req), NULL};
    FILE *fp;
    avtb_analysis a;

    write_tokens();
    wire_minimal();
    write_transcript(&fl, 1);
    fp = log_open(AVTB_EVIDENCE_SINK_TLS);
    tls_line(fp, 40000, "203.0.113.7", "upload.x.example", "TLSv1.3", true, NULL, T0 + 30,
             strlen(req));
    /* A client that never spoke: no certificate was ever seen. */
    tls_line(fp, 40001, "203.0.113.7", NULL, NULL, false,
             "handshake stopped without an alert at before SSL initialization", T0 + 31, 0);
    /* A handshake the sink failed (no shared cipher) before its certificate went out. */
    tls_line(fp, 40002, "203.0.113.7", "old.example", NULL, false,
             "sink sent fatal alert handshake failure (40): no shared cipher", T0 + 32, 0);
    fclose(fp);
    analyze_dir(&a, 0);
    ck_assert_uint_eq(a.findings.count, 0);
    ck_assert_uint_eq(a.tls_intercepted, 1);
    ck_assert_uint_eq(a.tls_rejected, 0);
    ck_assert_uint_eq(a.nproblems, 0);
    avtb_analysis_clear(&a);
    free(req);
}
END_TEST

/* --- suspected: uploads nothing can read --------------------------------------------- */

START_TEST(opaque_tls_upload_is_suspected)
{
    pcapgen *g = wire_open();
    FILE *fp;
    avtb_analysis a;
    const avtb_finding *f;

    write_tokens();
    /* Not intercepted (no sink-tls line), as large as DOC0: suspected, naming it. */
    wire_tls(g, 40020, "198.51.100.9", "blob.vendor.example", 5000, T0 + 30);
    /* Too small for any document. */
    wire_tls(g, 40021, "198.51.100.9", "ping.vendor.example", 300, T0 + 31);
    /* Large, but decrypted by the sink: its plaintext was searched. */
    wire_tls(g, 40022, "198.51.100.9", "seen.vendor.example", 9000, T0 + 32);
    /* Large, but over before the first scan. */
    wire_tls(g, 40023, "198.51.100.9", "early.vendor.example", 9000, T0 + 1);
    wire_close(g);
    agent_trigger_at(T0 + 20);
    fp = log_open(AVTB_EVIDENCE_SINK_TLS);
    tls_line(fp, 40022, "198.51.100.9", "seen.vendor.example", "TLSv1.3", true, NULL, T0 + 32, 0);
    fclose(fp);

    analyze_dir(&a, 0);
    ck_assert_uint_eq(a.ntls, 4);
    ck_assert_uint_eq(count(&a, AVTB_FINDING_SUSPECTED), 1);
    f = nth(&a, AVTB_FINDING_SUSPECTED, 0);
    ck_assert_str_eq(f->protocol, "tls");
    ck_assert_str_eq(f->dst.host, "blob.vendor.example");
    ck_assert_uint_eq(f->src.port, 40020);
    ck_assert_uint_ge(f->bytes, 5000);
    ck_assert_str_eq(f->document, DOC0);
    ck_assert_str_eq(f->capture, "capture.pcapng");
    ck_assert_uint_ge(f->flow, 1);
    ck_assert_ptr_nonnull(strstr(f->reason, "did not decrypt"));
    avtb_analysis_clear(&a);
}
END_TEST

START_TEST(raw_tcp_upload_is_suspected)
{
    pcapgen *g = wire_open();
    char raw[64];
    FILE *fp;
    avtb_analysis a;
    const avtb_finding *f;
    pg_tcp t;

    write_tokens();
    /* A raw upload with the token in it: found, so not suspected. */
    snprintf(raw, sizeof(raw), "BLOB%sBLOB", TOK0);
    pg_tcp_init(&t, g, GUEST, 41000, "192.0.2.50", 9000);
    t.ts = T0 + 40;
    ck_assert_int_eq(pg_tcp_handshake(&t), 0);
    ck_assert_int_eq(pg_tcp_send(&t, true, raw, strlen(raw)), 0);
    ck_assert_int_eq(pg_tcp_close(&t), 0);
    wire_close(g);
    fp = log_open(AVTB_EVIDENCE_SINK_TCP);
    fprintf(fp,
            "{\"time\":\"x\",\"start\":%.1f,\"end\":%.1f,\"client\":\"" GUEST "\","
            "\"client_port\":41000,\"orig_dst\":\"192.0.2.50\",\"orig_dst_port\":9000,"
            "\"protocol\":\"raw\",\"bytes_from_client\":%d,\"bytes_to_client\":0,"
            "\"sha256\":\"00\",\"first_bytes_hex\":\"00\"}\n",
            T0 + 40, T0 + 41, SIZE0 + 5);
    /* Unreadable and large enough for DOC1 too: the largest document that fits is named. */
    fprintf(fp,
            "{\"time\":\"x\",\"start\":%.1f,\"end\":%.1f,\"client\":\"::ffff:" GUEST "\","
            "\"client_port\":41001,\"orig_dst\":\"192.0.2.51\",\"orig_dst_port\":7000,"
            "\"protocol\":\"raw\",\"bytes_from_client\":%d,\"bytes_to_client\":0,"
            "\"sha256\":\"00\",\"first_bytes_hex\":\"00\"}\n",
            T0 + 42, T0 + 43, SIZE1 + 1);
    /* Too small; and HTTP, which the analysis reads. */
    fprintf(fp,
            "{\"start\":%.1f,\"end\":%.1f,\"client\":\"" GUEST "\",\"client_port\":41002,"
            "\"orig_dst\":\"192.0.2.52\",\"orig_dst_port\":7000,\"protocol\":\"raw\","
            "\"bytes_from_client\":10}\n",
            T0 + 44, T0 + 45);
    fprintf(fp,
            "{\"start\":%.1f,\"end\":%.1f,\"client\":\"" GUEST "\",\"client_port\":41003,"
            "\"orig_dst\":\"192.0.2.53\",\"orig_dst_port\":80,\"protocol\":\"http\","
            "\"bytes_from_client\":999999}\n",
            T0 + 46, T0 + 47);
    fclose(fp);

    analyze_dir(&a, 0);
    ck_assert_uint_eq(count(&a, AVTB_FINDING_CONTENT), 1);
    ck_assert_uint_eq(count(&a, AVTB_FINDING_SUSPECTED), 1);
    f = nth(&a, AVTB_FINDING_SUSPECTED, 0);
    ck_assert_str_eq(f->protocol, "tcp");
    ck_assert_str_eq(f->src.ip, GUEST);
    ck_assert_str_eq(f->dst.ip, "192.0.2.51");
    ck_assert_uint_eq(f->dst.port, 7000);
    ck_assert_uint_eq(f->bytes, SIZE1 + 1);
    ck_assert_str_eq(f->document, DOC1);
    ck_assert_str_eq(f->capture, AVTB_EVIDENCE_SINK_TCP);
    ck_assert_ptr_nonnull(strstr(f->reason, "another honey document as small"));
    avtb_analysis_clear(&a);
}
END_TEST

/* --- attempts ------------------------------------------------------------------- */

static uint16_t csum(const uint8_t *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* An IPv4 packet of protocol proto carrying payload (an ICMP message, a GRE header). */
static void ip4(pcapgen *g, double ts, const char *src, const char *dst, uint8_t proto,
                const uint8_t *payload, size_t n)
{
    uint8_t p[128] = {0x45, 0};
    uint16_t c;

    ck_assert_uint_le(n, sizeof(p) - 20);
    p[2] = (uint8_t)((20 + n) >> 8);
    p[3] = (uint8_t)(20 + n);
    p[8] = 64;
    p[9] = proto;
    ck_assert_int_eq(inet_pton(AF_INET, src, p + 12), 1);
    ck_assert_int_eq(inet_pton(AF_INET, dst, p + 16), 1);
    c = csum(p, 20, 0);
    p[10] = (uint8_t)(c >> 8);
    p[11] = (uint8_t)c;
    memcpy(p + 20, payload, n);
    ck_assert_int_eq(pcapgen_frame(g, ts, p, 20 + n, 20 + n), 0);
}

static void icmp6_echo(pcapgen *g, double ts, const char *src, const char *dst, uint8_t type)
{
    uint8_t p[48] = {0x60, 0, 0, 0, 0, 8, 58, 64};

    ck_assert_int_eq(inet_pton(AF_INET6, src, p + 8), 1);
    ck_assert_int_eq(inet_pton(AF_INET6, dst, p + 24), 1);
    p[40] = type;
    ck_assert_int_eq(pcapgen_frame(g, ts, p, sizeof(p), sizeof(p)), 0);
}

static const avtb_attempt *find_attempt(const avtb_analysis *a, avtb_attempt_proto proto,
                                        const char *dst, uint16_t port)
{
    for (size_t i = 0; i < a->nattempts; i++)
        if (a->attempts[i].proto == proto && a->attempts[i].port == port &&
            strcmp(a->attempts[i].dst_ip, dst) == 0)
            return &a->attempts[i];
    return NULL;
}

static void wire_attempts(void)
{
    static const uint8_t echo[8] = {8, 0, 0xf7, 0xff, 0, 0, 0, 0}, reply[8] = {0},
                         unreach[8] = {3, 3}, gre[4] = {0, 0, 0x08, 0};
    static const char q[] = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00";
    pcapgen *g = wire_open();
    pg_pkt u = {.src = GUEST,
                .dst = "8.8.8.8",
                .sport = 33000,
                .dport = 53,
                .proto = 17,
                .payload = q,
                .len = 12,
                .ts = T0 + 1};
    pg_tcp t;

    /* DNS to 8.8.8.8 over UDP (twice) and TCP; the answers are not attempts. */
    ck_assert_int_eq(pcapgen_packet(g, &u), 0);
    u.ts = T0 + 2;
    ck_assert_int_eq(pcapgen_packet(g, &u), 0);
    u = (pg_pkt){.src = "8.8.8.8",
                 .dst = GUEST,
                 .sport = 53,
                 .dport = 33000,
                 .proto = 17,
                 .payload = q,
                 .len = 12,
                 .ts = T0 + 2.5};
    ck_assert_int_eq(pcapgen_packet(g, &u), 0);
    pg_tcp_init(&t, g, GUEST, 40100, "8.8.8.8", 53);
    t.ts = T0 + 3;
    ck_assert_int_eq(pg_tcp_handshake(&t), 0); /* SYN, SYN-ACK, ACK: 2 from the guest */
    /* DNS to the sink itself. */
    u = (pg_pkt){.src = GUEST,
                 .dst = SINK,
                 .sport = 33001,
                 .dport = 53,
                 .proto = 17,
                 .payload = q,
                 .len = 12,
                 .ts = T0 + 4};
    ck_assert_int_eq(pcapgen_packet(g, &u), 0);
    /* A ping, its reply, an ICMP error from the host: only the ping is an attempt. */
    ip4(g, T0 + 5, GUEST, "9.9.9.9", 1, echo, sizeof(echo));
    ip4(g, T0 + 5.1, "9.9.9.9", GUEST, 1, reply, sizeof(reply));
    ip4(g, T0 + 5.2, SINK, GUEST, 1, unreach, sizeof(unreach));
    /* ICMPv6 echo request, and an echo reply. */
    icmp6_echo(g, T0 + 6, "fd00:5::10", "2001:db8::1", 128);
    icmp6_echo(g, T0 + 6.1, "2001:db8::1", "fd00:5::10", 129);
    /* GRE: neither TCP, UDP nor ICMP. */
    ip4(g, T0 + 7, GUEST, "192.0.2.1", 47, gre, sizeof(gre));
    /* The host's own packets (a DHCP offer starts a flow of its own) and a neighbour
     * advertisement: none is the guest's attempt. */
    u = (pg_pkt){.src = SINK,
                 .dst = GUEST,
                 .sport = 67,
                 .dport = 68,
                 .proto = 17,
                 .payload = q,
                 .len = 12,
                 .ts = T0 + 8};
    ck_assert_int_eq(pcapgen_packet(g, &u), 0);
    icmp6_echo(g, T0 + 8.1, "fe80::1", "fd00:5::10", 136);
    wire_close(g);
}

START_TEST(attempts_table)
{
    const avtb_attempt *x;
    avtb_analysis a;

    write_tokens();
    wire_attempts();
    analyze_dir(&a, 0);
    ck_assert_str_eq(a.sink_ip, SINK);
    ck_assert_str_eq(a.guest_ip, GUEST);
    ck_assert_uint_eq(a.nattempts, 6);
    ck_assert_uint_eq(a.attempts_dropped, 0);
    x = find_attempt(&a, AVTB_ATTEMPT_UDP, "8.8.8.8", 53);
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(x->packets, 2);
    ck_assert_uint_eq(x->bytes, 24);
    ck_assert_double_eq_tol(x->first_time, T0 + 1, 1e-6);
    ck_assert_double_eq_tol(x->last_time, T0 + 2, 1e-6);
    ck_assert(!x->to_sink);
    x = find_attempt(&a, AVTB_ATTEMPT_TCP, "8.8.8.8", 53);
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(x->packets, 2);
    x = find_attempt(&a, AVTB_ATTEMPT_UDP, SINK, 53);
    ck_assert_ptr_nonnull(x);
    ck_assert(x->to_sink);
    x = find_attempt(&a, AVTB_ATTEMPT_ICMP, "9.9.9.9", 8);
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(x->packets, 1);
    ck_assert_uint_eq(x->bytes, 8);
    x = find_attempt(&a, AVTB_ATTEMPT_ICMPV6, "2001:db8::1", 128);
    ck_assert_ptr_nonnull(x);
    x = find_attempt(&a, AVTB_ATTEMPT_OTHER, "192.0.2.1", 0);
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(x->ip_proto, 47);
    /* Oldest first. */
    for (size_t i = 1; i < a.nattempts; i++)
        ck_assert(a.attempts[i - 1].first_time <= a.attempts[i].first_time);
    /* No answer is an attempt. */
    ck_assert_ptr_null(find_attempt(&a, AVTB_ATTEMPT_UDP, GUEST, 33000));
    ck_assert_ptr_null(find_attempt(&a, AVTB_ATTEMPT_ICMP, GUEST, 0));
    ck_assert_ptr_null(find_attempt(&a, AVTB_ATTEMPT_ICMP, GUEST, 3));
    avtb_analysis_clear(&a);

    /* Bounded: two destinations kept, the packets to the rest counted as dropped. */
    analyze_dir(&a, 2);
    ck_assert_uint_eq(a.nattempts, 2);
    ck_assert_uint_eq(a.attempts_cap, 2);
    ck_assert_uint_eq(a.attempts_dropped, 4); /* sink DNS, ping, ICMPv6, GRE: a packet each */
    avtb_analysis_clear(&a);
}
END_TEST

/* --- avtb analyze EVIDENCE_DIR ------------------------------------------------------ */

/* Runs `avtb analyze dir [--json]` with its output in *out (the caller frees it). */
static int analyze_cli(bool json, char **out)
{
    char *argv[] = {(char *)"avtb", (char *)"analyze", dir, (char *)"--json", NULL};
    char *path = path_of("stdout.txt");
    size_t len = 0;
    avtb_error err = {0};
    uint8_t *buf = NULL;
    int saved = dup(STDOUT_FILENO), code;

    fflush(stdout);
    ck_assert_ptr_nonnull(freopen(path, "w", stdout));
    code = avtb_cli_main(json ? 4 : 3, argv);
    fflush(stdout);
    ck_assert_int_ge(dup2(saved, STDOUT_FILENO), 0);
    close(saved);
    ck_assert_int_eq(avtb_read_file(path, 1u << 20, &buf, &len, &err), AVTB_OK);
    *out = strndup((char *)buf, len);
    free(buf);
    unlink(path);
    free(path);
    return code;
}

START_TEST(analyze_command_shows_suspected_and_attempts)
{
    char *req = post("upload.x.example", "", "a=" TOK0);
    tflow fl = {GUEST, "203.0.113.7", "upload.x.example", 40000, 443, req, strlen(req), NULL};
    json_t *root, *x;
    char *out = NULL;
    FILE *fp;

    write_tokens();
    wire_attempts();
    write_transcript(&fl, 1);
    fp = log_open(AVTB_EVIDENCE_SINK_TLS);
    tls_line(fp, 40000, "203.0.113.7", "upload.x.example", "TLSv1.3", true, NULL, T0 + 30,
             strlen(req));
    tls_line(fp, 40011, "1.2.3.5", "telemetry.pinner.example", "TLSv1.3", false,
             "client sent fatal alert unknown CA (48)", T0 + 31, 0);
    fclose(fp);

    ck_assert_int_eq(analyze_cli(true, &out), AVTB_EXIT_FAILED);
    root = json_loads(out, 0, NULL);
    ck_assert_msg(root != NULL, "%s", out);
    /* Sorted by time: the pinned connection (2023) before the transcript's finding (now). */
    ck_assert_uint_eq(json_array_size(json_object_get(root, "findings")), 2);
    x = json_array_get(json_object_get(root, "findings"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(x, "kind")), "content");
    ck_assert_str_eq(json_string_value(json_object_get(x, "token")), TOK0);
    ck_assert_str_eq(json_string_value(json_object_get(x, "capture")), AVTB_TRANSCRIPT_FILE);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(x, "encoding"), 0)), "tls");
    x = json_array_get(json_object_get(root, "findings"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(x, "kind")), "suspected");
    ck_assert(json_is_null(json_object_get(x, "token")));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(x, "reason")));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(x, "dst"), "host")),
                     "telemetry.pinner.example");
    x = json_object_get(root, "attempts");
    ck_assert_uint_eq(json_array_size(x), 6);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(x, 0), "dst")), "8.8.8.8");
    ck_assert_str_eq(json_string_value(json_object_get(root, "sink")), SINK);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(root, "tls"), "rejected")),
                     1);
    x = json_object_get(json_object_get(root, "stats"), "tls_plaintext");
    ck_assert_int_eq(json_integer_value(json_object_get(x, "flows")), 1);
    ck_assert_uint_eq(json_array_size(json_object_get(root, "evidence_problems")), 0);
    json_decref(root);
    free(out);

    ck_assert_int_eq(analyze_cli(false, &out), AVTB_EXIT_FAILED);
    ck_assert_msg(strstr(out, "1 SUSPECTED") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "rejected the interception certificate") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "6 destinations the guest tried to reach") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "8.8.8.8") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "(the sink)") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "encoded tls,http-body") != NULL, "%s", out);
    free(out);
    free(req);
}
END_TEST

static Suite *evidence_suite(void)
{
    Suite *s = suite_create("evidence");
    TCase *tc;

    tc = tcase_create("transcripts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, plaintext_http_upload_is_a_tls_finding);
    tcase_add_test(tc, plaintext_gzip_base64_upload_named_by_sni);
    tcase_add_test(tc, plaintext_ipv6);
    tcase_add_test(tc, wire_and_plaintext_findings_merge);
    tcase_add_test(tc, missing_or_broken_transcript_is_a_problem);
    suite_add_tcase(s, tc);

    tc = tcase_create("suspected");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, pinning_after_the_trigger_is_suspected);
    tcase_add_test(tc, no_trigger_means_any_time);
    tcase_add_test(tc, no_suspected_when_the_handshake_succeeded);
    tcase_add_test(tc, opaque_tls_upload_is_suspected);
    tcase_add_test(tc, raw_tcp_upload_is_suspected);
    suite_add_tcase(s, tc);

    tc = tcase_create("attempts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, attempts_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("avtb analyze");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, analyze_command_shows_suspected_and_attempts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(evidence_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
