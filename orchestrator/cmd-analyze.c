/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `avtb analyze`: the network analysis on its own, no VM. Re-derives the
 * findings of an evidence directory, or analyses any capture against a
 * tokens file (and the honey documents, for metadata findings).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collectors/analyze.h"
#include "collectors/canaries.h"
#include "common/error.h"
#include "common/util.h"
#include "orchestrator/cli.h"
#include "reports/report.h"

typedef struct analyze_args {
    const char *evidence, *pcap, *tokens, *honey_dir;
    bool json;
    uint64_t memcap, flow_cap;       /* 0: the defaults */
    char *owned_pcap, *owned_tokens; /* paths derived from the evidence directory */
} analyze_args;

static json_t *anomalies_json(const avtb_analysis *a)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < a->nanomalies; i++) {
        const avtb_anomaly *x = &a->anomalies[i];
        json_t *o = json_pack("{s:s, s:I}", "what", x->what, "count", (json_int_t)x->count);

        if (o == NULL)
            continue;
        json_object_set_new(o, "first_flow",
                            x->first_flow ? json_integer((json_int_t)x->first_flow) : json_null());
        json_object_set_new(o, "first_time", json_real(x->first_time));
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *tls_json(const avtb_analysis *a)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < a->ntls; i++) {
        const avtb_tls_flow *t = &a->tls[i];

        json_array_append_new(arr, json_pack("{s:I, s:s?, s:s?, s:{s:s, s:i}, s:I, s:I}", "flow",
                                             (json_int_t)t->flow, "sni", t->sni, "alpn", t->alpn,
                                             "dst", "ip", t->dst_ip, "port", (int)t->dst_port,
                                             "encrypted_bytes_out", (json_int_t)t->encrypted_out,
                                             "encrypted_bytes_in", (json_int_t)t->encrypted_in));
    }
    return arr;
}

static json_t *analysis_json(const avtb_analysis *a, const char *pcap)
{
    json_t *findings = json_array();
    json_t *root;

    for (size_t i = 0; findings != NULL && i < a->findings.count; i++)
        json_array_append_new(findings, avtb_finding_json(&a->findings.items[i]));
    root = json_pack(
        "{s:o, s:o, s:{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:f, s:o}}",
        "findings", findings, "anomalies", anomalies_json(a), "stats", "capture", pcap, "packets",
        (json_int_t)a->stats.packets, "bytes", (json_int_t)a->stats.bytes, "flows",
        (json_int_t)a->stats.flows, "tcp_flows", (json_int_t)a->stats.tcp_flows, "udp_datagrams",
        (json_int_t)a->stats.udp_datagrams, "fragments_reassembled",
        (json_int_t)a->stats.fragments_reassembled, "messages", (json_int_t)a->stats.messages,
        "message_bytes", (json_int_t)a->stats.message_bytes, "decoded_views",
        (json_int_t)a->stats.views, "decoded_bytes", (json_int_t)a->stats.view_bytes,
        "http_requests", (json_int_t)a->stats.http_requests, "dns_messages",
        (json_int_t)a->stats.dns_messages, "anomalies", (json_int_t)a->anomaly_total,
        "peak_buffered_bytes", (json_int_t)a->stats.peak_buffered, "seconds", a->stats.seconds,
        "tls_flows", tls_json(a));
    return root;
}

static void endpoint_text(const avtb_endpoint *e, char *buf, size_t cap)
{
    if (e->host != NULL)
        snprintf(buf, cap, "%s (%s:%u)", e->host, e->ip, (unsigned)e->port);
    else
        snprintf(buf, cap, "%s:%u", e->ip, (unsigned)e->port);
}

static void print_table(const avtb_analysis *a, const char *pcap, FILE *fp)
{
    double mb = (double)a->stats.bytes / 1e6;

    fprintf(fp, "capture %s: %llu packets, %llu flows, %.1f MB analysed in %.2f s (%.0f MB/s)\n",
            pcap, (unsigned long long)a->stats.packets, (unsigned long long)a->stats.flows, mb,
            a->stats.seconds, a->stats.seconds > 0 ? mb / a->stats.seconds : 0.0);
    if (a->findings.count == 0)
        fprintf(fp, "no token or honey document metadata found\n");
    else
        fprintf(fp, "%zu finding%s:\n", a->findings.count, a->findings.count == 1 ? "" : "s");
    for (size_t i = 0; i < a->findings.count; i++) {
        const avtb_finding *f = &a->findings.items[i];
        char dst[512], when[32];
        time_t t = (time_t)f->time;
        struct tm tm;

        endpoint_text(&f->dst, dst, sizeof(dst));
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%H:%M:%S", &tm);
        fprintf(fp, "  %s  %-8s %s -> %s over %s, flow %llu", when,
                f->kind == AVTB_FINDING_CONTENT ? "content" : "metadata", f->token, dst,
                f->protocol, (unsigned long long)f->flow);
        if (f->encoding != NULL && f->encoding[0] != '\0')
            fprintf(fp, ", encoded %s", f->encoding);
        if (f->document != NULL)
            fprintf(fp, " [%s]", f->document);
        if (f->member != NULL)
            fprintf(fp, " in archive member %s", f->member);
        fputc('\n', fp);
    }
    for (size_t i = 0; i < a->ntls; i++)
        fprintf(
            fp, "  tls flow %llu to %s:%u (SNI %s): %llu encrypted bytes sent, not inspectable\n",
            (unsigned long long)a->tls[i].flow, a->tls[i].dst_ip, (unsigned)a->tls[i].dst_port,
            a->tls[i].sni ? a->tls[i].sni : "none", (unsigned long long)a->tls[i].encrypted_out);
    if (a->nanomalies > 0) {
        fprintf(fp, "%llu anomal%s:\n", (unsigned long long)a->anomaly_total,
                a->anomaly_total == 1 ? "y" : "ies");
        for (size_t i = 0; i < a->nanomalies; i++)
            fprintf(fp, "  %6llu x %s\n", (unsigned long long)a->anomalies[i].count,
                    a->anomalies[i].what);
    }
}

/* Fills the capture and registry paths of an evidence directory. */
static avtb_err evidence_paths(analyze_args *x, avtb_error *err)
{
    static const char *const captures[] = {"capture.pcapng", "capture.pcap"};
    struct stat st;

    if (stat(x->evidence, &st) < 0 || !S_ISDIR(st.st_mode))
        return avtb_error_set(err, AVTB_ERR_INPUT,
                              "%s is not an evidence directory (give --pcap and --tokens to "
                              "analyse a capture file)",
                              x->evidence);
    for (size_t i = 0; i < 2 && x->owned_pcap == NULL; i++) {
        char *p = avtb_path_join(x->evidence, captures[i]);

        if (p != NULL && access(p, R_OK) == 0)
            x->owned_pcap = p;
        else
            free(p);
    }
    if (x->owned_pcap == NULL)
        return avtb_error_set(err, AVTB_ERR_INPUT,
                              "%s holds no capture.pcap(ng): the run "
                              "ended before its network capture started",
                              x->evidence);
    x->owned_tokens = avtb_path_join(x->evidence, "tokens.json");
    if (x->owned_tokens == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    x->pcap = x->owned_pcap;
    return AVTB_OK;
}

static int analyze(analyze_args *x)
{
    avtb_error err = {0};
    avtb_canaries *c = avtb_canaries_new();
    avtb_patterns *p = NULL;
    avtb_analyze_opts opts;
    avtb_analysis a = {0};
    avtb_err r = AVTB_ERR_NOMEM;
    int code = AVTB_EXIT_USAGE;

    if (c == NULL)
        goto out;
    if (x->evidence != NULL) {
        r = evidence_paths(x, &err);
        if (r == AVTB_OK)
            r = avtb_canaries_load_registry(c, x->owned_tokens, &err);
    } else {
        r = avtb_canaries_load_tokens(c, x->tokens, &err);
    }
    if (r == AVTB_OK && x->honey_dir != NULL)
        r = avtb_canaries_load_honey_dir(c, x->honey_dir, &err);
    if (r == AVTB_OK)
        r = avtb_canaries_compile(c, &p, &err);
    if (r != AVTB_OK)
        goto out;
    avtb_analyze_opts_default(&opts);
    if (x->memcap > 0) {
        /* One budget, split between out-of-order TCP data and message buffers. */
        opts.stream.memcap = x->memcap / 2;
        opts.buffer_memcap = x->memcap / 4;
        opts.queue_cap = (size_t)(x->memcap / 4);
        if (opts.message_cap > x->memcap / 8)
            opts.message_cap = (size_t)(x->memcap / 8);
    }
    if (x->flow_cap > 0)
        opts.stream.flow_cap = x->flow_cap;
    r = avtb_analyze_capture(x->pcap, p, avtb_canaries_token_docs(c), &opts, &a, &err);
    if (r != AVTB_OK)
        goto out;
    if (x->json) {
        json_t *root = analysis_json(&a, x->pcap);

        if (root == NULL || json_dumpf(root, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII) < 0) {
            json_decref(root);
            r = avtb_error_set(&err, AVTB_ERR_NOMEM, "cannot write the JSON output");
            goto out;
        }
        putchar('\n');
        json_decref(root);
    } else {
        print_table(&a, x->pcap, stdout);
    }
    code = a.findings.count > 0 ? AVTB_EXIT_FAILED : AVTB_EXIT_OK;
out:
    if (r != AVTB_OK) {
        fprintf(stderr, "avtb analyze: %s\n", err.msg[0] ? err.msg : avtb_err_name(r));
        code = r == AVTB_ERR_NOMEM || r == AVTB_ERR_INTERNAL ? AVTB_EXIT_INFRA : AVTB_EXIT_USAGE;
    }
    avtb_analysis_clear(&a);
    avtb_patterns_free(p);
    avtb_canaries_free(c);
    return code;
}

/* "64M", "1G", "4096": bytes; 0 when malformed or out of range. */
static uint64_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;

    if (end == s || s[0] == '-')
        return 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (*end != '\0' || v > (UINT64_MAX >> shift))
        return 0;
    return (uint64_t)v << shift;
}

static int analyze_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"pcap", required_argument, NULL, 'p'},
        {"tokens", required_argument, NULL, 't'},
        {"honey-dir", required_argument, NULL, 'H'},
        {"json", no_argument, NULL, 'j'},
        {"memcap", required_argument, NULL, 'm'},
        {"flow-cap", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    analyze_args x = {0};
    int c, code;

    optind = 0; /* 0, not 1: glibc then re-reads the option string (permuting again) */
    while ((c = getopt_long(argc, argv, "p:t:H:jm:f:", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
        case 'f': {
            uint64_t v = parse_size(optarg);

            if (v < (c == 'm' ? 16u << 20 : 4096u)) {
                fprintf(stderr, "avtb analyze: --%s must be a size like 64M or 1G%s, got '%s'\n",
                        c == 'm' ? "memcap" : "flow-cap", c == 'm' ? " (at least 16M)" : "",
                        optarg);
                return AVTB_EXIT_USAGE;
            }
            *(c == 'm' ? &x.memcap : &x.flow_cap) = v;
            break;
        }
        case 'p':
            x.pcap = optarg;
            break;
        case 't':
            x.tokens = optarg;
            break;
        case 'H':
            x.honey_dir = optarg;
            break;
        case 'j':
            x.json = true;
            break;
        default:
            avtb_cli_usage(&avtb_cmd_analyze, stderr);
            return AVTB_EXIT_USAGE;
        }
    }
    if (optind < argc)
        x.evidence = argv[optind++];
    if (optind != argc || (x.evidence != NULL) == (x.pcap != NULL || x.tokens != NULL) ||
        (x.evidence == NULL && (x.pcap == NULL || x.tokens == NULL))) {
        fprintf(stderr, "avtb analyze: give an evidence directory, or both --pcap and --tokens\n");
        avtb_cli_usage(&avtb_cmd_analyze, stderr);
        return AVTB_EXIT_USAGE;
    }
    code = analyze(&x);
    free(x.owned_pcap);
    free(x.owned_tokens);
    return code;
}

const avtb_cmd avtb_cmd_analyze = {
    .name = "analyze",
    .usage = "EVIDENCE_DIR [--json] | --pcap FILE --tokens FILE [--honey-dir DIR] [--json]\n"
             "                    [--memcap SIZE] [--flow-cap SIZE]",
    .summary = "find canary tokens in a capture, however encoded (no VM needed)",
    .help = "  EVIDENCE_DIR     a run's evidence: its capture and token registry\n"
            "  --pcap FILE      a pcap or pcapng capture\n"
            "  --tokens FILE    tokens, one per line (8 to 256 printable ASCII characters)\n"
            "  --honey-dir DIR  the honey documents: their hashes and names are searched too\n"
            "                   (metadata findings)\n"
            "  --json           machine-readable output (findings, anomalies, stats)\n"
            "  --memcap SIZE    memory for held TCP data and buffered messages (default\n"
            "                   about 450M; the rest of a flow is decoded in parts)\n"
            "  --flow-cap SIZE  bytes inspected per flow (default 64M; the rest is an anomaly)\n\n"
            "Searches every TCP stream and UDP datagram, HTTP messages and bodies, DNS names\n"
            "and records, TLS ClientHellos, and every decoding of them (base64, base32, hex,\n"
            "percent, UTF-16, gzip/zlib/deflate/brotli/zstd, zip/7z/tar archives).\n"
            "Exit 0 when nothing is found, 1 when something is, 2 on bad input.\n",
    .run = analyze_main,
};
