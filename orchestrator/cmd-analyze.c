/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `avtb analyze`: the network analysis on its own, no VM. Re-derives the
 * findings of an evidence directory (its capture, the sink's decrypted TLS
 * and logs: collectors/evidence.h), or analyses any capture against a
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
#include "collectors/chain.h"
#include "collectors/evidence.h"
#include "collectors/transcript.h"
#include "common/error.h"
#include "common/sandbox.h"
#include "common/util.h"
#include "orchestrator/cli.h"
#include "reports/report.h"

#define ANALYZE_OUTPUT_MAX ((size_t)256 << 20)

typedef struct analyze_args {
    const char *evidence, *pcap, *tokens, *honey_dir;
    const char *dir; /* where the evidence directory's files are opened: "." once confined */
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

        json_array_append_new(
            arr,
            json_pack("{s:I, s:s?, s:s?, s:{s:s, s:i}, s:{s:s, s:i}, s:I, s:I, s:b}", "flow",
                      (json_int_t)t->flow, "sni", t->sni, "alpn", t->alpn, "src", "ip", t->src_ip,
                      "port", (int)t->src_port, "dst", "ip", t->dst_ip, "port", (int)t->dst_port,
                      "encrypted_bytes_out", (json_int_t)t->encrypted_out, "encrypted_bytes_in",
                      (json_int_t)t->encrypted_in, "decrypted", t->decrypted));
    }
    return arr;
}

static json_t *plaintext_json(const avtb_analysis *a)
{
    const avtb_analysis_stats *st = &a->plaintext_stats;

    if (!a->plaintext)
        return json_null();
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:f}", "capture", "tls-plaintext.pcapng",
                     "packets", (json_int_t)st->packets, "bytes", (json_int_t)st->bytes, "flows",
                     (json_int_t)st->flows, "messages", (json_int_t)st->messages, "http_requests",
                     (json_int_t)st->http_requests, "seconds", st->seconds);
}

static json_t *problems_json(const avtb_analysis *a)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < a->nproblems; i++)
        json_array_append_new(arr, json_string(a->problems[i]));
    return arr;
}

static json_t *analysis_json(const avtb_analysis *a, const char *pcap)
{
    json_t *findings = avtb_findings_json(&a->findings);
    json_t *root;

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
    if (root == NULL)
        return NULL;
    json_object_set_new(json_object_get(root, "stats"), "tls_plaintext", plaintext_json(a));
    avtb_analysis_json_into(root, a);
    json_object_set_new(root, "evidence_problems", problems_json(a));
    return root;
}

/* Findings, suspected findings: how many of each class. */
static size_t count_kind(const avtb_analysis *a, bool suspected)
{
    size_t n = 0;

    for (size_t i = 0; i < a->findings.count; i++)
        n += (a->findings.items[i].kind == AVTB_FINDING_SUSPECTED) == suspected;
    return n;
}

static void endpoint_text(const avtb_endpoint *e, char *buf, size_t cap)
{
    if (e->host != NULL)
        snprintf(buf, cap, "%s (%s:%u)", e->host, e->ip, (unsigned)e->port);
    else
        snprintf(buf, cap, "%s:%u", e->ip, (unsigned)e->port);
}

static void clock_text(double t, char when[32])
{
    time_t s = (time_t)t;
    struct tm tm;

    gmtime_r(&s, &tm);
    strftime(when, 32, "%H:%M:%S", &tm);
}

static void print_suspected(const avtb_analysis *a, FILE *fp)
{
    size_t n = count_kind(a, true);

    if (n == 0)
        return;
    fprintf(fp,
            "%zu SUSPECTED (no token seen; what left is unreadable, so no_exfiltration "
            "cannot be shown):\n",
            n);
    for (size_t i = 0; i < a->findings.count; i++) {
        const avtb_finding *f = &a->findings.items[i];
        char dst[512], when[32];

        if (f->kind != AVTB_FINDING_SUSPECTED)
            continue;
        endpoint_text(&f->dst, dst, sizeof(dst));
        clock_text(f->time, when);
        fprintf(fp, "  %s  suspected %s -> %s, %llu bytes", when, f->protocol, dst,
                (unsigned long long)f->bytes);
        if (f->flow > 0)
            fprintf(fp, ", %s flow %llu", f->capture ? f->capture : "capture",
                    (unsigned long long)f->flow);
        else if (f->capture != NULL)
            fprintf(fp, " (%s)", f->capture);
        fprintf(fp, "\n      %s\n", f->reason ? f->reason : "unreadable upload");
    }
}

static void print_attempts(const avtb_analysis *a, FILE *fp)
{
    if (a->nattempts == 0)
        return;
    fprintf(fp, "%zu destination%s the guest tried to reach:\n", a->nattempts,
            a->nattempts == 1 ? "" : "s");
    fprintf(fp, "  %-6s %-39s %9s %8s %10s  %-8s %-8s\n", "proto", "destination", "port/type",
            "packets", "bytes", "first", "last");
    for (size_t i = 0; i < a->nattempts; i++) {
        const avtb_attempt *x = &a->attempts[i];
        char first[32], last[32], port[16];

        clock_text(x->first_time, first);
        clock_text(x->last_time, last);
        if (x->proto == AVTB_ATTEMPT_OTHER)
            snprintf(port, sizeof(port), "proto %u", (unsigned)x->ip_proto);
        else if ((x->proto == AVTB_ATTEMPT_ICMP || x->proto == AVTB_ATTEMPT_ICMPV6) &&
                 x->port > 255)
            snprintf(port, sizeof(port), "?");
        else
            snprintf(port, sizeof(port), "%u", (unsigned)x->port);
        fprintf(fp, "  %-6s %-39s %9s %8llu %10llu  %-8s %-8s%s\n",
                avtb_attempt_proto_name(x->proto), x->dst_ip, port, (unsigned long long)x->packets,
                (unsigned long long)x->bytes, first, last, x->to_sink ? "  (the sink)" : "");
    }
    if (a->attempts_dropped > 0)
        fprintf(fp, "  ... and %llu packets to further destinations (the table holds %zu)\n",
                (unsigned long long)a->attempts_dropped, a->attempts_cap);
}

static void print_table(const avtb_analysis *a, const char *pcap, FILE *fp)
{
    double mb = (double)a->stats.bytes / 1e6;
    size_t nfound = count_kind(a, false);

    fprintf(fp, "capture %s: %llu packets, %llu flows, %.1f MB analysed in %.2f s (%.0f MB/s)\n",
            pcap, (unsigned long long)a->stats.packets, (unsigned long long)a->stats.flows, mb,
            a->stats.seconds, a->stats.seconds > 0 ? mb / a->stats.seconds : 0.0);
    if (a->plaintext)
        fprintf(fp,
                "decrypted TLS (tls-plaintext.pcapng): %llu connections, %llu packets "
                "analysed\n",
                (unsigned long long)a->plaintext_stats.flows,
                (unsigned long long)a->plaintext_stats.packets);
    if (a->tls_intercepted > 0 || a->tls_rejected > 0)
        fprintf(fp, "TLS interception: %llu connections decrypted, %llu refused the certificate\n",
                (unsigned long long)a->tls_intercepted, (unsigned long long)a->tls_rejected);
    for (size_t i = 0; i < a->nproblems; i++)
        fprintf(fp, "EVIDENCE INCOMPLETE: %s\n", a->problems[i]);
    if (nfound == 0)
        fprintf(fp, "no token or honey document metadata found\n");
    else
        fprintf(fp, "%zu finding%s:\n", nfound, nfound == 1 ? "" : "s");
    for (size_t i = 0; i < a->findings.count; i++) {
        const avtb_finding *f = &a->findings.items[i];
        char dst[512], when[32];

        if (f->kind == AVTB_FINDING_SUSPECTED)
            continue;
        endpoint_text(&f->dst, dst, sizeof(dst));
        clock_text(f->time, when);
        fprintf(fp, "  %s  %-8s %s -> %s over %s, flow %llu", when, avtb_finding_kind_name(f->kind),
                f->token, dst, f->protocol, (unsigned long long)f->flow);
        if (f->capture != NULL && strcmp(f->capture, AVTB_TRANSCRIPT_FILE) == 0)
            fprintf(fp, " of %s", f->capture);
        if (f->encoding != NULL && f->encoding[0] != '\0')
            fprintf(fp, ", encoded %s", f->encoding);
        if (f->document != NULL)
            fprintf(fp, " [%s]", f->document);
        if (f->member != NULL)
            fprintf(fp, " in archive member %s", f->member);
        fputc('\n', fp);
    }
    for (size_t i = 0; i < a->ntls; i++)
        fprintf(fp, "  tls flow %llu to %s:%u (SNI %s): %llu encrypted bytes sent, %s\n",
                (unsigned long long)a->tls[i].flow, a->tls[i].dst_ip, (unsigned)a->tls[i].dst_port,
                a->tls[i].sni ? a->tls[i].sni : "none", (unsigned long long)a->tls[i].encrypted_out,
                a->tls[i].decrypted ? "decrypted by the sink (searched in " AVTB_TRANSCRIPT_FILE ")"
                                    : "not inspectable");
    print_suspected(a, fp);
    print_attempts(a, fp);
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

    for (size_t i = 0; i < 2 && x->owned_pcap == NULL; i++) {
        char *p = avtb_path_join(x->dir, captures[i]);

        /* Named as the user named the directory: the output shows it. */
        if (p != NULL && access(p, R_OK) == 0)
            x->owned_pcap = avtb_path_join(x->evidence, captures[i]);
        free(p);
    }
    if (x->owned_pcap == NULL)
        return avtb_error_set(err, AVTB_ERR_INPUT,
                              "%s holds no capture.pcap(ng): the run "
                              "ended before its network capture started",
                              x->evidence);
    x->owned_tokens = avtb_path_join(x->dir, "tokens.json");
    if (x->owned_tokens == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    x->pcap = x->owned_pcap;
    return AVTB_OK;
}

/* The analysis and its output into fp; returns the exit code. */
static int analyze(analyze_args *x, FILE *fp)
{
    avtb_error err = {0};
    avtb_canaries *c = avtb_canaries_new();
    avtb_patterns *p = NULL;
    avtb_analyze_opts opts;
    avtb_analysis a = {0};
    avtb_file_evidence fe = {0};
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
    if (x->evidence != NULL)
        r = avtb_evidence_analyze(x->dir, p, avtb_canaries_token_docs(c), &opts, &a, &err);
    else
        r = avtb_analyze_capture(x->pcap, p, avtb_canaries_token_docs(c), &opts, &a, &err);
    if (r != AVTB_OK)
        goto out;
    /* An evidence directory: the chains are re-derived from its files too. */
    if (x->evidence != NULL) {
        char *problems[8];
        size_t n = 0;

        r = avtb_file_evidence_load(x->dir, &a.findings, &fe, problems, 8, &n, &err);
        for (size_t i = 0; i < n; i++) {
            fprintf(stderr, "avtb analyze: %s\n", problems[i]);
            free(problems[i]);
        }
        if (r != AVTB_OK)
            goto out;
    }
    if (x->json) {
        json_t *root = analysis_json(&a, x->pcap);

        if (root != NULL && fe.chains != NULL)
            json_object_set(root, "chains", fe.chains);
        if (root != NULL && fe.document_access != NULL)
            json_object_set(root, "document_access", fe.document_access);

        if (root == NULL || json_dumpf(root, fp, JSON_INDENT(2) | JSON_ENSURE_ASCII) < 0) {
            json_decref(root);
            r = avtb_error_set(&err, AVTB_ERR_NOMEM, "cannot write the JSON output");
            goto out;
        }
        fputc('\n', fp);
        json_decref(root);
    } else {
        size_t i;
        json_t *v;

        print_table(&a, x->pcap, fp);
        json_array_foreach(fe.chains, i, v)
        {
            const char *sum = json_string_value(json_object_get(v, "summary"));

            if (sum != NULL)
                fprintf(fp, "chain: %s\n", sum);
        }
    }
    /* Suspected findings count: the evidence does not show that nothing left. */
    code = a.findings.count > 0 ? AVTB_EXIT_FAILED
           : a.nproblems > 0    ? AVTB_EXIT_INFRA
                                : AVTB_EXIT_OK;
out:
    if (r != AVTB_OK) {
        fprintf(stderr, "avtb analyze: %s\n", err.msg[0] ? err.msg : avtb_err_name(r));
        code = r == AVTB_ERR_NOMEM || r == AVTB_ERR_INTERNAL ? AVTB_EXIT_INFRA : AVTB_EXIT_USAGE;
    }
    avtb_analysis_clear(&a);
    avtb_file_evidence_clear(&fe);
    avtb_patterns_free(p);
    avtb_canaries_free(c);
    return code;
}

/* In the confined child: the analysis, its exit code as one digit, then its output. */
static avtb_err analyze_child(void *arg, avtb_buf *out, avtb_error *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    int code;

    if (fp == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    code = analyze(arg, fp);
    if (fclose(fp) != 0) {
        free(text);
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    }
    avtb_buf_byte(out, (char)('0' + code));
    avtb_buf_add(out, text, len);
    free(text);
    return AVTB_OK;
}

/*
 * The capture, logs and records parsed are hostile: the analysis runs in a
 * confined child (common/sandbox.h) in the evidence directory (or the
 * current one, for --pcap), and avtb prints what it sends back.
 */
static int analyze_confined(analyze_args *x)
{
    avtb_error err = {0};
    char *out = NULL;
    size_t len = 0;
    struct stat st;
    int code = AVTB_EXIT_INFRA;

    if (x->evidence != NULL && (stat(x->evidence, &st) < 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr,
                "avtb analyze: %s is not an evidence directory (give --pcap and --tokens to "
                "analyse a capture file)\n",
                x->evidence);
        return AVTB_EXIT_USAGE;
    }
    x->dir = ".";
    if (avtb_confined_call("analysis", x->evidence ? x->evidence : ".", analyze_child, x,
                           ANALYZE_OUTPUT_MAX, 0, &out, &len, &err) != AVTB_OK) {
        fprintf(stderr, "avtb analyze: %s\n", err.msg);
    } else if (len == 0 || out[0] < '0' || out[0] > '3') {
        fprintf(stderr, "avtb analyze: the analysis process sent no exit code\n");
    } else {
        code = out[0] - '0';
        avtb_confined_text(out + 1, len - 1, true);
        fwrite(out + 1, 1, len - 1, stdout);
    }
    free(out);
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
    code = analyze_confined(&x);
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
            "  --json           machine-readable output (findings, suspected, attempts,\n"
            "                   anomalies, stats)\n"
            "  --memcap SIZE    memory for held TCP data and buffered messages (default\n"
            "                   about 450M; the rest of a flow is decoded in parts)\n"
            "  --flow-cap SIZE  bytes inspected per flow (default 64M; the rest is an anomaly)\n\n"
            "Searches every TCP stream and UDP datagram, HTTP messages and bodies, DNS names\n"
            "and records, TLS ClientHellos, and every decoding of them (base64, base32, hex,\n"
            "percent, UTF-16, gzip/zlib/deflate/brotli/zstd, zip/7z/tar archives). In an\n"
            "evidence directory also the sink's decrypted TLS (tls-plaintext.pcapng; findings\n"
            "encoded \"tls,...\"), and its logs for suspected findings: clients that refused\n"
            "the interception certificate, unreadable uploads as large as a honey document.\n"
            "Lists every destination the guest tried to reach.\n"
            "Exit 0 when nothing is found, 1 when a finding or a suspected finding is, 2 on\n"
            "bad input, 3 when evidence files are unreadable and nothing was found.\n",
    .run = analyze_main,
};
