/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The analysis pipeline behind avtb_analyze_pcap() (analyze.h):
 * source-pcap.c → decode.c → flow.c → stream-tcp.c → app-detect.c →
 * match.c → findings. This file only wires the stages together and decides
 * what a match means: which endpoints, which host, which time.
 */
#include "collectors/analyze.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/app-detect.h"
#include "collectors/decode.h"
#include "collectors/flow.h"
#include "collectors/match.h"
#include "collectors/source-pcap.h"
#include "collectors/stream-tcp.h"
#include "common/log.h"

/* Per-reason anomaly counts; the sum is avtb_analyze_stats.anomalies. */
typedef struct anomaly_counts {
    uint64_t malformed, fragments, gaps, truncated_flows, truncated_datagrams, flow_table_full,
        bad_http, capture_cut;
} anomaly_counts;

/* A match in request headers waits for the Host header before it is reported. */
typedef struct pending {
    size_t token;
    uint64_t offset;
    double ts;
} pending;

typedef struct analyzer analyzer;

typedef struct flow_state {
    analyzer *a;
    avtb_flow *flow; /* flow nodes never move */
    bool closed;     /* kept so that trailing ACKs do not start a new flow */
    avtb_app_proto proto;
    avtb_tcp_session *tcp;
    avtb_matcher *m[2];     /* per direction, created on first data */
    avtb_http_parser *http; /* client direction of a TCP flow */
    bool http_off;          /* parser gave up: the rest is matched raw */
    pending *pend;          /* at most one per token */
    size_t npend;
    /* What the match callback needs to know about the bytes being fed. */
    unsigned cur_dir;
    double cur_ts;
    bool cur_body;
    uint8_t *cur_found;
    uint8_t *found[2]; /* token bitmaps: one finding per token per direction */
} flow_state;

struct analyzer {
    const char *const *tokens;
    size_t ntokens;
    avtb_matcher *proto; /* compiled once; flows get clones */
    avtb_matcher *dgram;
    uint8_t *dgram_found;
    avtb_flow_table *flows;
    avtb_tcp_reasm *reasm;
    avtb_tcp_sink sink;
    avtb_findings *out;
    avtb_analyze_stats stats;
    anomaly_counts anom;
    avtb_err fail; /* first failure inside a callback */
};

static size_t bitmap_bytes(size_t n)
{
    return (n + 7) / 8;
}

static bool bit_test_set(uint8_t *map, size_t i)
{
    bool was = map[i / 8] & (1u << (i % 8));

    map[i / 8] |= (uint8_t)(1u << (i % 8));
    return was;
}

static const char *server_host(const flow_state *fs)
{
    return fs->http != NULL ? avtb_http_host(fs->http) : NULL;
}

static void emit(analyzer *a, const avtb_flow *flow, avtb_app_proto proto, unsigned dir,
                 size_t token, uint64_t offset, double ts, const char *encoding, const char *host)
{
    unsigned client = flow->client, sender = dir == 0 ? client : !client;
    avtb_endpoint *server_ep;
    avtb_finding f;

    memset(&f, 0, sizeof(f));
    /* The strings are borrowed: avtb_findings_add() copies them. */
    f.token = (char *)a->tokens[token];
    f.kind = AVTB_FINDING_CONTENT;
    f.protocol = (char *)avtb_app_proto_name(proto);
    f.encoding = (char *)encoding;
    /* src sent the bytes; for the usual guest → server direction dst is the server. */
    avtb_flow_addr_str(&flow->key, sender, f.src.ip);
    f.src.port = flow->key.port[sender];
    avtb_flow_addr_str(&flow->key, !sender, f.dst.ip);
    f.dst.port = flow->key.port[!sender];
    server_ep = dir == 0 ? &f.dst : &f.src;
    server_ep->host = (char *)host;
    f.flow = flow->id;
    f.time = ts;
    f.offset = offset;
    if (avtb_findings_add(a->out, &f) != AVTB_OK && a->fail == AVTB_OK)
        a->fail = AVTB_ERR_NOMEM;
}

static void resolve_pending(flow_state *fs)
{
    for (size_t i = 0; i < fs->npend; i++)
        emit(fs->a, fs->flow, fs->proto, 0, fs->pend[i].token, fs->pend[i].offset, fs->pend[i].ts,
             "raw", server_host(fs));
    fs->npend = 0;
}

static void on_stream_match(void *ctx, size_t token, uint64_t offset)
{
    flow_state *fs = ctx;
    unsigned dir = fs->cur_dir;

    if (bit_test_set(fs->cur_found, token))
        return;
    if (dir == 0 && fs->http != NULL && !fs->http_off && !fs->cur_body) {
        /* Request line or headers: this request's Host is still to come. */
        fs->pend[fs->npend++] = (pending){token, offset, fs->cur_ts};
        return;
    }
    emit(fs->a, fs->flow, fs->proto, dir, token, offset, fs->cur_ts,
         fs->cur_body ? "http-body" : "raw", server_host(fs));
}

/* The direction's cursor, created on first use; NULL (and a->fail set) when out of memory. */
static avtb_matcher *matcher_of(flow_state *fs, unsigned dir)
{
    if (fs->m[dir] == NULL) {
        fs->m[dir] = avtb_matcher_clone(fs->a->proto);
        if (fs->m[dir] == NULL)
            fs->a->fail = AVTB_ERR_NOMEM;
    }
    return fs->m[dir];
}

static void feed(flow_state *fs, unsigned dir, const uint8_t *buf, size_t len, double ts, bool body)
{
    avtb_matcher *m = matcher_of(fs, dir);

    if (m == NULL)
        return;
    fs->cur_dir = dir;
    fs->cur_ts = ts;
    fs->cur_body = body;
    fs->cur_found = fs->found[dir];
    avtb_matcher_feed(m, buf, len, on_stream_match, fs);
}

/* Client bytes go through the HTTP framing first, chunk by chunk. */
static void client_data(flow_state *fs, const uint8_t *buf, size_t len, double ts)
{
    while (len > 0) {
        avtb_parse_result r;
        bool body;
        size_t n;

        if (fs->http == NULL || fs->http_off) {
            feed(fs, 0, buf, len, ts, false);
            return;
        }
        body = avtb_http_in_body(fs->http);
        r = avtb_http_parse(fs->http, buf, len, &n);
        if (avtb_http_is_http(fs->http))
            fs->proto = AVTB_APP_HTTP;
        if (r == AVTB_PARSE_ERROR) {
            if (avtb_http_is_http(fs->http))
                fs->a->anom.bad_http++;
            fs->http_off = true;
            resolve_pending(fs);
            continue; /* the rest, raw */
        }
        feed(fs, 0, buf, n, ts, body);
        if (avtb_http_headers_done(fs->http))
            resolve_pending(fs);
        buf += n;
        len -= n;
    }
}

static void tcp_data(void *ctx, unsigned dir, const uint8_t *buf, size_t len, double ts)
{
    if (dir == 0)
        client_data(ctx, buf, len, ts);
    else
        feed(ctx, 1, buf, len, ts, false);
}

static void tcp_gap(void *ctx, unsigned dir, uint64_t len)
{
    flow_state *fs = ctx;

    avtb_matcher *m = matcher_of(fs, dir);

    fs->a->anom.gaps++;
    if (m != NULL)
        avtb_matcher_skip(m, len); /* keeps later offsets true to the stream */
    /* Framing cannot survive lost bytes; match the rest raw. */
    if (dir == 0 && fs->http != NULL && !fs->http_off) {
        fs->http_off = true;
        resolve_pending(fs);
    }
}

static void tcp_truncated(void *ctx)
{
    flow_state *fs = ctx;

    fs->a->anom.truncated_flows++;
}

/* Frees what a finished flow no longer needs; the small record stays. */
static void flow_finish(flow_state *fs)
{
    resolve_pending(fs);
    avtb_tcp_session_free(fs->tcp);
    fs->tcp = NULL;
    for (unsigned i = 0; i < 2; i++) {
        avtb_matcher_free(fs->m[i]);
        fs->m[i] = NULL;
    }
    /* The parser holds the Host, which later server-side findings no longer need. */
    avtb_http_parser_free(fs->http);
    fs->http = NULL;
    free(fs->pend);
    fs->pend = NULL;
    fs->closed = true;
}

static void flow_state_free(void *p)
{
    flow_state *fs = p;

    if (fs == NULL)
        return;
    avtb_tcp_session_free(fs->tcp);
    avtb_matcher_free(fs->m[0]);
    avtb_matcher_free(fs->m[1]);
    avtb_http_parser_free(fs->http);
    free(fs->pend);
    free(fs);
}

static flow_state *flow_state_new(analyzer *a, avtb_flow *flow)
{
    size_t bm = bitmap_bytes(a->ntokens);
    flow_state *fs = calloc(1, sizeof(*fs) + 2 * bm);

    if (fs == NULL)
        return NULL;
    fs->a = a;
    fs->flow = flow;
    fs->found[0] = (uint8_t *)(fs + 1);
    fs->found[1] = fs->found[0] + bm;
    fs->proto = avtb_app_by_port(flow->key.proto, flow->key.port[0], flow->key.port[1]);
    if (flow->key.proto != IPPROTO_TCP)
        return fs;
    fs->tcp = avtb_tcp_session_new(a->reasm, &a->sink, fs);
    fs->pend = calloc(a->ntokens ? a->ntokens : 1, sizeof(*fs->pend));
    if (fs->proto == AVTB_APP_TCP)
        fs->http = avtb_http_parser_new();
    if (fs->tcp == NULL || fs->pend == NULL || (fs->proto == AVTB_APP_TCP && fs->http == NULL)) {
        flow_state_free(fs);
        return NULL;
    }
    return fs;
}

static void datagram(analyzer *a, flow_state *fs, unsigned dir, const avtb_decoded *d, double ts)
{
    size_t bm = bitmap_bytes(a->ntokens);

    if (d->payload_len < d->wire_payload_len)
        a->anom.truncated_datagrams++;
    memset(a->dgram_found, 0, bm);
    avtb_matcher_reset(a->dgram);
    fs->cur_dir = dir;
    fs->cur_ts = ts;
    fs->cur_body = false;
    fs->cur_found = a->dgram_found; /* one finding per token per datagram */
    avtb_matcher_feed(a->dgram, d->payload, d->payload_len, on_stream_match, fs);
}

static avtb_err packet(analyzer *a, const avtb_packet *pkt)
{
    avtb_decoded d;
    avtb_flow *flow;
    flow_state *fs;
    unsigned from, dir;
    bool created;
    avtb_err r;

    a->stats.packets++;
    a->stats.bytes += pkt->caplen;
    switch (avtb_decode(pkt->linktype, pkt->data, pkt->caplen, &d)) {
    case AVTB_DECODE_OK:
        break;
    case AVTB_DECODE_MALFORMED:
        a->anom.malformed++;
        avtb_debug("packet %llu: %s", (unsigned long long)a->stats.packets, d.why);
        return AVTB_OK;
    case AVTB_DECODE_FRAGMENT:
        a->anom.fragments++;
        return AVTB_OK;
    case AVTB_DECODE_IGNORED:
        return AVTB_OK;
    }
    r = avtb_flow_get(a->flows, &d, &flow, &from, &created);
    if (r != AVTB_OK)
        return r;
    if (flow == NULL) {
        a->anom.flow_table_full++;
        return AVTB_OK;
    }
    fs = flow->user;
    if (fs != NULL && fs->closed && (d.tcp_flags & (AVTB_TCP_SYN | AVTB_TCP_ACK)) == AVTB_TCP_SYN) {
        avtb_flow_restart(a->flows, flow, &d, from); /* port reuse */
        fs = NULL;
    }
    if (fs == NULL) {
        fs = flow_state_new(a, flow);
        if (fs == NULL)
            return AVTB_ERR_NOMEM;
        flow->user = fs;
    }
    if (fs->closed)
        return AVTB_OK;
    dir = from == flow->client ? 0 : 1;
    if (d.proto == IPPROTO_UDP) {
        datagram(a, fs, dir, &d, pkt->ts);
        return a->fail;
    }
    r = avtb_tcp_session_segment(fs->tcp, dir, &d, pkt->ts);
    if (r != AVTB_OK)
        return r;
    if (avtb_tcp_session_closed(fs->tcp))
        flow_finish(fs);
    return a->fail;
}

static void flush_flow(void *ctx, avtb_flow *flow)
{
    flow_state *fs = flow->user;

    (void)ctx;
    if (fs == NULL || fs->closed)
        return;
    if (fs->tcp != NULL)
        avtb_tcp_session_flush(fs->tcp);
    flow_finish(fs);
}

static void analyzer_free(analyzer *a)
{
    avtb_flow_table_free(a->flows); /* before reasm: sessions give back their memory */
    avtb_tcp_reasm_free(a->reasm);
    avtb_matcher_free(a->proto);
    avtb_matcher_free(a->dgram);
    free(a->dgram_found);
}

/* Drops what a failed analysis appended, so *out is as the caller left it. */
static void findings_truncate(avtb_findings *out, size_t count)
{
    for (size_t i = count; i < out->count; i++) {
        avtb_finding *f = &out->items[i];

        free(f->token);
        free(f->protocol);
        free(f->encoding);
        free(f->src.host);
        free(f->dst.host);
    }
    out->count = count;
}

static uint64_t anomaly_sum(const anomaly_counts *c)
{
    return c->malformed + c->fragments + c->gaps + c->truncated_flows + c->truncated_datagrams +
           c->flow_table_full + c->bad_http + c->capture_cut;
}

avtb_err avtb_analyze_pcap(const char *pcap_path, const char *const *tokens, size_t ntokens,
                           avtb_findings *out, avtb_analyze_stats *stats, avtb_error *err)
{
    avtb_pcap_source *src = NULL;
    avtb_stream_limits lim;
    avtb_err r = AVTB_ERR_INTERNAL;
    size_t first = out->count;
    analyzer a;

    memset(&a, 0, sizeof(a));
    if (stats != NULL)
        memset(stats, 0, sizeof(*stats));
    avtb_stream_limits_default(&lim);
    a.tokens = tokens;
    a.ntokens = ntokens;
    a.out = out;
    a.sink = (avtb_tcp_sink){tcp_data, tcp_gap, tcp_truncated};
    a.proto = avtb_matcher_new(tokens, ntokens);
    if (a.proto == NULL) {
        r = avtb_error_set(err, AVTB_ERR_INPUT,
                           "%s: cannot search for %zu tokens: out of memory or more than %u "
                           "token bytes",
                           pcap_path, ntokens, AVTB_MATCHER_MAX_BYTES);
        goto out;
    }
    a.dgram = avtb_matcher_clone(a.proto);
    a.dgram_found = calloc(1, bitmap_bytes(ntokens) + 1);
    a.flows = avtb_flow_table_new(lim.max_flows, flow_state_free);
    a.reasm = avtb_tcp_reasm_new(&lim);
    if (a.dgram == NULL || a.dgram_found == NULL || a.flows == NULL || a.reasm == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "%s: out of memory", pcap_path);
        goto out;
    }
    r = avtb_pcap_source_open(pcap_path, &src, err);
    if (r != AVTB_OK)
        goto out;
    for (;;) {
        avtb_packet pkt;
        bool eof;

        r = avtb_pcap_source_next(src, &pkt, &eof, err);
        if (r != AVTB_OK)
            goto out;
        if (eof)
            break;
        r = packet(&a, &pkt);
        if (r != AVTB_OK) {
            r = avtb_error_set(err, r, "%s: packet %llu: out of memory", pcap_path,
                               (unsigned long long)a.stats.packets);
            goto out;
        }
    }
    if (avtb_pcap_source_truncated(src))
        a.anom.capture_cut++;
    avtb_flow_table_foreach(a.flows, flush_flow, NULL);
    if (a.fail != AVTB_OK) {
        r = avtb_error_set(err, a.fail, "%s: out of memory", pcap_path);
        goto out;
    }
    if (out->count > first) {
        /* Sort what we appended, not what the caller had. */
        avtb_findings mine = {out->items + first, out->count - first, out->count - first};

        avtb_findings_sort(&mine);
    }
    a.stats.flows = avtb_flow_table_count(a.flows);
    a.stats.anomalies = anomaly_sum(&a.anom);
    if (a.stats.anomalies > 0)
        avtb_debug("%s: anomalies: %llu malformed, %llu fragments, %llu gaps, %llu flows over "
                   "the cap, %llu cut datagrams, %llu flows over the table limit, %llu bad "
                   "HTTP, capture %s",
                   pcap_path, (unsigned long long)a.anom.malformed,
                   (unsigned long long)a.anom.fragments, (unsigned long long)a.anom.gaps,
                   (unsigned long long)a.anom.truncated_flows,
                   (unsigned long long)a.anom.truncated_datagrams,
                   (unsigned long long)a.anom.flow_table_full, (unsigned long long)a.anom.bad_http,
                   a.anom.capture_cut ? "cut short" : "complete");
    if (stats != NULL)
        *stats = a.stats;
    r = AVTB_OK;
out:
    if (r != AVTB_OK)
        findings_truncate(out, first);
    avtb_pcap_source_free(src);
    analyzer_free(&a);
    return r;
}
