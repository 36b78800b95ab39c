/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The analysis pipeline behind avtb_analyze_capture() (analyze.h). This file
 * wires the stages together: packets to flows, flows to protocol parsers,
 * parsers' messages to the scanner, hits to findings with their endpoints.
 * Raw TCP directions and UDP datagrams are messages of their own; raw
 * streams are buffered up to a message cap (bounded over all flows by a
 * memcap) so that decoders see whole encoded runs.
 */
#include "collectors/analyze.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collectors/app-detect.h"
#include "collectors/app-dns.h"
#include "collectors/app-http.h"
#include "collectors/app-tls.h"
#include "collectors/decode.h"
#include "collectors/defrag.h"
#include "collectors/flow.h"
#include "collectors/pcapng.h"
#include "collectors/scan.h"
#include "collectors/source-pcap.h"
#include "common/log.h"

/* Distinct anomaly texts kept; the rest are counted under one line. */
#define MAX_ANOMALY_KINDS 256
/* Bytes of a raw stream kept across a message cut, so a token spanning it is seen. */
#define RAW_OVERLAP (4 * AVTB_TOKEN_MAX_LEN)
/* Units (see flow_state.cur_unit) of DNS messages: above any HTTP request's. */
#define DNS_UNIT_BASE (UINT64_C(1) << 62)
/* Arrival times kept per raw buffer, to date a hit by the segment that completed it. */
#define RAW_CHECKPOINTS 64

void avtb_analyze_opts_default(avtb_analyze_opts *o)
{
    memset(o, 0, sizeof(*o));
    avtb_stream_limits_default(&o->stream);
    avtb_transform_limits_default(&o->transform);
    o->message_cap = 16u << 20;
    o->buffer_memcap = 128u << 20;
    o->queue_cap = 64u << 20;
    o->attempts_cap = 4096;
    /* Scanning in a thread of its own pays from two processors on. */
    o->threads = sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1;
}

typedef struct analyzer analyzer;

/* What a flow's client speaks, decided on its first bytes. */
typedef enum { FP_UNKNOWN, FP_RAW, FP_HTTP, FP_TLS, FP_DNS } flow_proto;

/* A raw direction being collected into a message. */
typedef struct rawbuf {
    uint8_t *data;
    size_t len, cap;
    uint64_t offset; /* stream offset of data[0] */
    uint64_t next;   /* stream offset of the next byte */
    size_t scanned;  /* bytes at the start already searched (the tail of the last message) */
    double ts;       /* time of the latest bytes */
    /* When bytes arrived: bytes before off had arrived by ts. Coarsened (every
     * other entry dropped) when full, so a hit's time is never too early. */
    struct {
        uint64_t off;
        double ts;
    } cp[RAW_CHECKPOINTS];
    size_t ncp;
} rawbuf;

typedef struct flow_state {
    analyzer *a;
    avtb_flow *flow; /* flow nodes never move */
    bool closed;     /* kept so that trailing ACKs do not start a new flow */
    flow_proto fp;
    avtb_tcp_session *tcp;
    avtb_http_session *http;
    avtb_tls_session *tls;
    avtb_dns_tcp *dns;
    rawbuf raw[2];
    uint64_t tls_in;          /* bytes the server sent on a TLS flow */
    double first_ts, last_ts; /* of the flow's packets */
    const char *sni;          /* plaintext transcripts: the flow's SNI (owned by the analyzer) */
    char host[256];           /* the server's name from the last request, for raw messages */
    bool http_seen;     /* the client spoke HTTP (its raw leftovers and replies are http too) */
    uint64_t cur_unit;  /* unit of the messages being delivered (an HTTP request, a DNS
                           message: 1 + its number), or 0: each message its own */
    uint64_t messages;  /* messages of this flow that are not parts of an HTTP request */
    uint64_t dns_units; /* DNS messages of this flow (their unit numbers) */
} flow_state;

/* Anomalies by kind, as one thread collects them. */
typedef struct anomaly_list {
    avtb_anomaly *items;
    size_t n;
    uint64_t total;
} anomaly_list;

/* Where a message came from: what turns its hits into findings. Copied with a job. */
typedef struct origin {
    uint64_t flow_id;
    avtb_flow_key key;
    unsigned client; /* key index of the client */
    unsigned dir;    /* 0: client → server */
    uint64_t unit;   /* what the message belongs to in its flow: an HTTP request, or itself */
    const char *sni; /* plaintext transcripts: the server's name from the flow's comment */
    size_t ncp;      /* raw messages: when their bytes arrived (see rawbuf) */
    struct {
        uint64_t off;
        double ts;
    } cp[RAW_CHECKPOINTS];
} origin;

/* What one scanning thread writes to: its own findings and anomalies. */
typedef struct scan_out {
    const avtb_patterns *p;
    const char *const *token_docs;
    avtb_scanner *scanner;
    avtb_findings findings;
    anomaly_list anomalies;
    const origin *org; /* of the message being scanned */
    double time;       /* of the message being scanned */
    bool plaintext;    /* a TLS transcript: "tls" is every finding's outermost encoding */
    avtb_err fail;
    avtb_error err;
} scan_out;

/* A message handed to the scanning thread, with copies of everything it borrows. */
typedef struct job {
    struct job *next;
    avtb_message m;
    origin org;
    size_t size; /* bytes charged to the queue */
    uint8_t buf[];
} job;

/* The scanning thread: messages in, findings out, in order (so results reproduce). */
typedef struct worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t nonempty, nonfull;
    job *head, *tail;
    size_t bytes, cap;
    bool done;
    scan_out out;
} worker;

/* The SNI of each transcript flow, by the number of its first packet (ascending). */
typedef struct sni_entry {
    uint64_t packet;
    char *sni;
} sni_entry;

/* The attempts table while it fills: open addressing over 2 x cap slots. */
typedef struct attempt_slot {
    bool used;
    uint8_t family;
    uint8_t addr[16];
    avtb_attempt a;
} attempt_slot;

typedef struct attempt_table {
    attempt_slot *slots;
    size_t nslots, n, cap;
    uint64_t dropped;
    uint8_t sink_family; /* 0: the sink's address is not known */
    uint8_t sink[16];
} attempt_table;

struct analyzer {
    const avtb_patterns *p;
    const char *const *token_docs;
    const avtb_analyze_opts *o;
    avtb_capture_kind kind;
    sni_entry *sni; /* plaintext transcripts */
    size_t nsni, sni_next;
    const char *pending_sni; /* for the flow of the packet being handled */
    attempt_table attempts;
    scan_out local; /* scanning in this thread (no worker), and this thread's anomalies */
    worker *w;      /* NULL: scan inline */
    avtb_flow_table *flows;
    avtb_tcp_reasm *reasm;
    avtb_defrag *defrag;
    avtb_tcp_sink sink;
    avtb_analysis *out;
    uint64_t buffered; /* raw bytes held over all flows */
    uint64_t cur_flow; /* for anomaly records */
    double cur_ts;
    avtb_err fail; /* first failure inside a callback */
    avtb_error *err;
};

/* --- anomalies ------------------------------------------------------------ */

/* AVTB_DEBUG_ANOMALIES=1 prints each anomaly as it happens (for debugging parsers). */
static bool debug_anomalies(void)
{
    static int on = -1;

    if (on < 0)
        on = getenv("AVTB_DEBUG_ANOMALIES") != NULL;
    return on;
}

static avtb_err anomaly_add(anomaly_list *l, const char *what, uint64_t count, uint64_t flow,
                            double ts)
{
    avtb_anomaly *x;

    l->total += count;
    if (debug_anomalies())
        fprintf(stderr, "anomaly: flow %llu: %s\n", (unsigned long long)flow, what);
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].what, what) == 0) {
            l->items[i].count += count;
            if (ts < l->items[i].first_time) {
                l->items[i].first_time = ts;
                l->items[i].first_flow = flow;
            }
            return AVTB_OK;
        }
    if (l->n == MAX_ANOMALY_KINDS) {
        /* The last slot collects every further kind. */
        l->items[MAX_ANOMALY_KINDS - 1].count += count;
        return AVTB_OK;
    }
    if (l->n == MAX_ANOMALY_KINDS - 1)
        what = "further kinds of anomalies (not listed separately)";
    x = reallocarray(l->items, l->n + 1, sizeof(*x));
    if (x == NULL)
        return AVTB_ERR_NOMEM;
    l->items = x;
    x = &l->items[l->n];
    x->what = strdup(what);
    if (x->what == NULL)
        return AVTB_ERR_NOMEM;
    x->count = count;
    x->first_flow = flow;
    x->first_time = ts;
    l->n++;
    return AVTB_OK;
}

avtb_err avtb_analysis_add_anomaly(avtb_analysis *a, const char *what, uint64_t count,
                                   uint64_t flow, double ts)
{
    anomaly_list l = {.items = a->anomalies, .n = a->nanomalies, .total = a->anomaly_total};
    avtb_err r = anomaly_add(&l, what, count, flow, ts);

    a->anomalies = l.items;
    a->nanomalies = l.n;
    a->anomaly_total = l.total;
    return r;
}

static void anomaly_list_clear(anomaly_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].what);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

static void anomaly(analyzer *a, const char *what)
{
    if (anomaly_add(&a->local.anomalies, what, 1, a->cur_flow, a->cur_ts) != AVTB_OK)
        a->fail = AVTB_ERR_NOMEM;
}

/* The decoder chain's anomalies, from whichever thread scans. */
static void scan_anomaly(void *ctx, const char *what)
{
    scan_out *so = ctx;

    if (anomaly_add(&so->anomalies, what, 1, so->org ? so->org->flow_id : 0, so->time) != AVTB_OK)
        so->fail = AVTB_ERR_NOMEM;
}

/* --- findings ------------------------------------------------------------- */

static void on_hit(void *ctx, const avtb_message *m, const avtb_scan_hit *h)
{
    scan_out *so = ctx;
    const origin *org = so->org;
    unsigned sender = org->dir == 0 ? org->client : !org->client;
    char enc[1024];
    size_t w = 0;
    avtb_finding f;

    memset(&f, 0, sizeof(f));
    enc[0] = '\0';
    /* Decrypted by the sink: TLS was the outermost layer of what the guest sent. */
    if (so->plaintext)
        w = (size_t)snprintf(enc, sizeof(enc), "tls");
    for (size_t i = 0; i < h->nencoding && w < sizeof(enc); i++) {
        int n = snprintf(enc + w, sizeof(enc) - w, "%s%s", w ? "," : "", h->encoding[i]);

        if (n < 0)
            break;
        w += (size_t)n;
    }
    /* The strings are borrowed: avtb_findings_add() copies them. */
    f.token = (char *)avtb_patterns_token(so->p, h->token);
    f.kind = h->kind == AVTB_HIT_CONTENT ? AVTB_FINDING_CONTENT : AVTB_FINDING_METADATA;
    f.protocol = (char *)m->protocol;
    f.encoding = enc;
    f.document = so->token_docs ? (char *)so->token_docs[h->token] : NULL;
    f.member = (char *)h->member;
    avtb_flow_addr_str(&org->key, sender, f.src.ip);
    f.src.port = org->key.port[sender];
    avtb_flow_addr_str(&org->key, !sender, f.dst.ip);
    f.dst.port = org->key.port[!sender];
    /* The host names the server: dst for what the guest sends, src for replies. Without
     * one (a transcript flow with no HTTP Host), the name the client asked TLS for. */
    (org->dir == 0 ? &f.dst : &f.src)->host = (char *)(m->host ? m->host : org->sni);
    f.flow = org->flow_id;
    f.time = m->time;
    if (org->ncp > 0 && h->kind == AVTB_HIT_CONTENT && h->nencoding == 0) {
        /* Dated by the segment that completed the token. */
        uint64_t end = h->offset + strlen(f.token);

        for (size_t i = 0; i < org->ncp; i++)
            if (org->cp[i].off >= end) {
                f.time = org->cp[i].ts;
                break;
            }
    }
    f.offset = h->offset;
    f.bytes = m->len;
    f.unit = org->unit;
    f.declared = (unsigned)m->nencoding;
    if (avtb_findings_add(&so->findings, &f) != AVTB_OK && so->fail == AVTB_OK)
        so->fail = AVTB_ERR_NOMEM;
}

static void scan_now(scan_out *so, const avtb_message *m, const origin *org)
{
    avtb_err r;

    if (so->fail != AVTB_OK)
        return;
    so->org = org;
    so->time = m->time;
    r = avtb_scan_message(so->scanner, m, on_hit, so, &so->err);
    if (r != AVTB_OK && so->fail == AVTB_OK)
        so->fail = r;
    so->org = NULL;
}

/* --- the scanning thread ---------------------------------------------------- */

static void *worker_main(void *arg)
{
    worker *w = arg;

    for (;;) {
        job *j;

        pthread_mutex_lock(&w->mu);
        while (w->head == NULL && !w->done)
            pthread_cond_wait(&w->nonempty, &w->mu);
        j = w->head;
        if (j != NULL) {
            w->head = j->next;
            if (w->head == NULL)
                w->tail = NULL;
            w->bytes -= j->size;
            pthread_cond_signal(&w->nonfull);
        }
        pthread_mutex_unlock(&w->mu);
        if (j == NULL)
            return NULL; /* done and drained */
        scan_now(&w->out, &j->m, &j->org);
        free(j);
    }
}

/* Queues a copy of m for the worker; waits while the queue is at its cap. */
static avtb_err enqueue(worker *w, const avtb_message *m, const origin *org)
{
    size_t hl = m->host ? strlen(m->host) + 1 : 0, nl = m->name ? strlen(m->name) + 1 : 0;
    size_t size = sizeof(job) + m->len + hl + nl;
    job *j = malloc(size);

    if (j == NULL)
        return AVTB_ERR_NOMEM;
    j->next = NULL;
    j->m = *m;
    j->org = *org;
    j->size = size;
    memcpy(j->buf, m->data, m->len);
    j->m.data = j->buf;
    if (hl) {
        memcpy(j->buf + m->len, m->host, hl);
        j->m.host = (const char *)j->buf + m->len;
    }
    if (nl) {
        memcpy(j->buf + m->len + hl, m->name, nl);
        j->m.name = (const char *)j->buf + m->len + hl;
    }
    pthread_mutex_lock(&w->mu);
    while (w->bytes > 0 && w->bytes + size > w->cap)
        pthread_cond_wait(&w->nonfull, &w->mu);
    if (w->tail != NULL)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    w->bytes += size;
    pthread_cond_signal(&w->nonempty);
    pthread_mutex_unlock(&w->mu);
    return AVTB_OK;
}

/* Lets the worker drain its queue and stop; joins it. */
static void worker_stop(worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->nonempty);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
}

static void worker_free(worker *w)
{
    if (w == NULL)
        return;
    for (job *j = w->head, *next; j != NULL; j = next) {
        next = j->next;
        free(j);
    }
    avtb_scanner_free(w->out.scanner);
    avtb_findings_clear(&w->out.findings);
    anomaly_list_clear(&w->out.anomalies);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->nonempty);
    pthread_cond_destroy(&w->nonfull);
    free(w);
}

static worker *worker_start(analyzer *a)
{
    worker *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->nonempty, NULL);
    pthread_cond_init(&w->nonfull, NULL);
    w->cap = a->o->queue_cap;
    w->out.p = a->p;
    w->out.token_docs = a->token_docs;
    w->out.plaintext = a->kind == AVTB_CAPTURE_TLS_PLAINTEXT;
    w->out.scanner = avtb_scanner_new(a->p, &a->o->transform, scan_anomaly, &w->out);
    if (w->out.scanner == NULL || pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        worker_free(w);
        return NULL;
    }
    return w;
}

/* --- messages ------------------------------------------------------------- */

static void origin_of(flow_state *fs, unsigned dir, const rawbuf *raw, origin *org)
{
    /* An HTTP request's messages (body, decoded body, parts) are one unit;
     * every other message is a unit of its own. Units of a flow never collide:
     * requests count up from 1, other messages down from the top. */
    org->unit = fs->cur_unit ? fs->cur_unit : UINT64_MAX - fs->messages++;
    org->flow_id = fs->flow->id;
    org->key = fs->flow->key;
    org->client = fs->flow->client;
    org->dir = dir;
    org->sni = fs->sni;
    org->ncp = raw ? raw->ncp : 0;
    if (raw != NULL)
        memcpy(org->cp, raw->cp, raw->ncp * sizeof(raw->cp[0]));
}

/* Every message of the analysis goes through here: scanned now, or by the worker. */
static void scan_raw(flow_state *fs, unsigned dir, const avtb_message *m, const rawbuf *raw)
{
    analyzer *a = fs->a;
    origin org;

    if (a->fail != AVTB_OK)
        return;
    origin_of(fs, dir, raw, &org);
    /* An avtb capture names its guest: bytes on their way to the guest did
     * not leave it (a DNS answer repeats the question, tunnelled token and
     * all). Captures that do not name one keep both directions. */
    if (a->out->guest_ip != NULL) {
        char to[46];

        avtb_flow_addr_str(&org.key, dir == 0 ? !org.client : org.client, to);
        if (strcmp(to, a->out->guest_ip) == 0)
            return;
    }
    if (a->w == NULL) {
        scan_now(&a->local, m, &org);
        if (a->local.fail != AVTB_OK)
            a->fail = a->local.fail;
    } else if (enqueue(a->w, m, &org) != AVTB_OK) {
        a->fail = AVTB_ERR_NOMEM;
    }
}

static void scan(flow_state *fs, unsigned dir, const avtb_message *m)
{
    scan_raw(fs, dir, m, NULL);
}

/* Parsers' messages, by the direction they were sent in. */
static void on_client_message(void *ctx, const avtb_message *m)
{
    scan(ctx, 0, m);
}

static void on_server_message(void *ctx, const avtb_message *m)
{
    scan(ctx, 1, m);
}

/* --- raw streams ---------------------------------------------------------- */

typedef enum {
    RAW_CONTINUE, /* more of the stream follows: keep a tail so a token across the cut is seen */
    RAW_CUT,      /* a gap follows: keep nothing */
    RAW_FINAL,    /* the stream ended: keep nothing, free the buffer */
} raw_mode;

static void raw_emit(flow_state *fs, unsigned dir, raw_mode mode)
{
    rawbuf *b = &fs->raw[dir];
    avtb_message m = {0};
    size_t keep = 0;

    if (b->len > b->scanned) {
        m.protocol = fs->fp == FP_DNS ? "dns" : fs->http_seen ? "http" : "tcp";
        m.host = fs->host[0] ? fs->host : NULL;
        m.data = b->data;
        m.len = b->len;
        m.offset = b->offset;
        m.time = b->ts;
        scan_raw(fs, dir, &m, b);
    }
    if (mode == RAW_CONTINUE && b->len > RAW_OVERLAP)
        keep = RAW_OVERLAP;
    if (keep > 0)
        memmove(b->data, b->data + b->len - keep, keep);
    fs->a->buffered -= b->len - keep;
    b->offset += b->len - keep;
    b->len = keep;
    b->scanned = keep; /* the tail alone is not worth a message */
    b->ncp = 0;
    if (keep > 0)
        b->cp[b->ncp++] = (typeof(b->cp[0])){.off = b->offset + keep, .ts = b->ts};
    if (mode == RAW_FINAL) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

static void raw_add(flow_state *fs, unsigned dir, const uint8_t *buf, size_t len, double ts)
{
    analyzer *a = fs->a;
    rawbuf *b = &fs->raw[dir];
    size_t cap = a->o->message_cap;

    while (len > 0 && a->fail == AVTB_OK) {
        size_t room, n;

        if (b->len >= cap || (a->buffered >= a->o->buffer_memcap && b->len > RAW_OVERLAP)) {
            if (b->len >= cap)
                anomaly(a, "raw stream longer than the message cap: decoded in parts");
            else
                anomaly(a, "message buffers at their memcap: a raw stream was decoded in parts");
            raw_emit(fs, dir, RAW_CONTINUE);
        }
        if (b->cap < cap && b->len == b->cap) {
            size_t ncap = b->cap ? b->cap * 2 : 16384;
            uint8_t *d;

            if (ncap > cap)
                ncap = cap;
            d = realloc(b->data, ncap);
            if (d == NULL) {
                a->fail = AVTB_ERR_NOMEM;
                return;
            }
            b->data = d;
            b->cap = ncap;
        }
        room = b->cap - b->len;
        n = len < room ? len : room;
        memcpy(b->data + b->len, buf, n);
        b->len += n;
        b->next += n;
        b->ts = ts;
        if (b->ncp == RAW_CHECKPOINTS) {
            for (size_t i = 0; i < RAW_CHECKPOINTS / 2; i++)
                b->cp[i] = b->cp[2 * i + 1];
            b->ncp = RAW_CHECKPOINTS / 2;
        }
        if (b->ncp > 0 && b->cp[b->ncp - 1].ts == ts)
            b->cp[b->ncp - 1].off = b->next;
        else
            b->cp[b->ncp++] = (typeof(b->cp[0])){.off = b->next, .ts = ts};
        a->buffered += n;
        if (a->buffered > a->out->stats.peak_buffered)
            a->out->stats.peak_buffered = a->buffered;
        buf += n;
        len -= n;
    }
}

/* --- TCP ------------------------------------------------------------------ */

static void end_parser(flow_state *fs);

static flow_proto detect(const flow_state *fs, const uint8_t *buf, size_t len)
{
    const avtb_flow_key *k = &fs->flow->key;

    if (k->port[0] == 53 || k->port[1] == 53)
        return FP_DNS;
    if (len >= 3 && buf[0] == 0x16 && buf[1] == 0x03 && buf[2] <= 0x04)
        return FP_TLS;
    /* Otherwise the HTTP parser decides, and hands back what is not HTTP. */
    return FP_HTTP;
}

static void on_http_message(void *ctx, const avtb_message *m, const avtb_http_req_info *req)
{
    flow_state *fs = ctx;

    fs->http_seen = true;
    if (m->host != NULL)
        snprintf(fs->host, sizeof(fs->host), "%s", m->host);
    fs->cur_unit = req->index + 1;
    scan(fs, 0, m);
    fs->cur_unit = 0;
}

static void on_flow_anomaly(void *ctx, const char *what)
{
    flow_state *fs = ctx;

    fs->a->cur_flow = fs->flow->id;
    anomaly(fs->a, what);
}

static bool start_parser(flow_state *fs)
{
    switch (fs->fp) {
    case FP_HTTP: {
        avtb_http_config c;

        avtb_http_config_default(&c);
        c.body_cap = fs->a->o->message_cap;
        c.decompress = avtb_transform_decompress;
        c.message = on_http_message;
        c.anomaly = on_flow_anomaly;
        c.ctx = fs;
        fs->http = avtb_http_session_new(&c);
        return fs->http != NULL;
    }
    case FP_TLS: {
        avtb_tls_config c;

        avtb_tls_config_default(&c);
        c.message = on_client_message;
        c.anomaly = on_flow_anomaly;
        c.ctx = fs;
        fs->tls = avtb_tls_session_new(&c);
        return fs->tls != NULL;
    }
    case FP_DNS: {
        avtb_dns_config c;

        avtb_dns_config_default(&c);
        c.message = on_client_message;
        c.anomaly = on_flow_anomaly;
        c.ctx = fs;
        fs->dns = avtb_dns_tcp_new(&c);
        return fs->dns != NULL;
    }
    default:
        return true;
    }
}

/* The HTTP parser's leftovers (see avtb_http_session_held) start the raw stream. */
static void raw_from_held(flow_state *fs)
{
    const uint8_t *held;
    size_t n;
    uint64_t off;

    avtb_http_session_held(fs->http, &held, &n, &off);
    fs->raw[0].offset = fs->raw[0].next = off;
    if (n > 0)
        raw_add(fs, 0, held, n, fs->a->cur_ts);
}

/* The parser gave up on the stream: what it held and the rest go raw. */
static void parser_gave_up(flow_state *fs)
{
    if (fs->http != NULL)
        raw_from_held(fs);
    if (fs->tls != NULL && avtb_tls_session_is_tls(fs->tls))
        return; /* encrypted: counted, not searched */
    fs->fp = FP_RAW;
}

static void client_data(flow_state *fs, const uint8_t *buf, size_t len, double ts)
{
    analyzer *a = fs->a;

    if (fs->fp == FP_UNKNOWN) {
        fs->fp = detect(fs, buf, len);
        if (!start_parser(fs)) {
            a->fail = AVTB_ERR_NOMEM;
            return;
        }
    }
    while (len > 0 && a->fail == AVTB_OK) {
        avtb_parse_result r;
        size_t n = 0;

        if (fs->fp == FP_HTTP)
            r = avtb_http_session_parse(fs->http, buf, len, ts, &n);
        else if (fs->fp == FP_TLS)
            r = avtb_tls_session_parse(fs->tls, buf, len, ts, &n);
        else if (fs->fp == FP_DNS) {
            /* A DNS message's names, labels and records are one unit. */
            fs->cur_unit = DNS_UNIT_BASE + fs->dns_units++;
            r = avtb_dns_tcp_parse(fs->dns, buf, len, ts, &n);
            fs->cur_unit = 0;
        } else {
            raw_add(fs, 0, buf, len, ts);
            return;
        }
        if (n > len)
            n = len;
        buf += n;
        len -= n;
        if (r == AVTB_PARSE_ERROR) {
            parser_gave_up(fs);
            if (fs->fp != FP_RAW)
                return; /* TLS that cannot be followed: nothing to search */
        } else if (r == AVTB_PARSE_NEED_MORE) {
            return;
        }
    }
}

static void tcp_data(void *ctx, unsigned dir, const uint8_t *buf, size_t len, double ts)
{
    flow_state *fs = ctx;

    fs->a->cur_ts = ts;
    if (dir == 0) {
        client_data(fs, buf, len, ts);
        return;
    }
    if (fs->tls != NULL) {
        fs->tls_in += len; /* the server's side of an encrypted conversation */
        return;
    }
    raw_add(fs, 1, buf, len, ts);
}

static void tcp_gap(void *ctx, unsigned dir, uint64_t len)
{
    flow_state *fs = ctx;
    rawbuf *b = &fs->raw[dir];
    char what[128];

    snprintf(what, sizeof(what), "tcp: bytes sent but not captured (gap)");
    fs->a->cur_flow = fs->flow->id;
    anomaly(fs->a, what);
    /* Framing cannot survive lost bytes: the rest of the stream goes raw. */
    if (dir == 0 && fs->fp != FP_RAW && fs->fp != FP_UNKNOWN && !(fs->tls != NULL)) {
        end_parser(fs);
        fs->fp = FP_RAW;
    }
    /* No match may span the hole: the buffer before it is a message of its own. */
    raw_emit(fs, dir, RAW_CUT);
    b->next += len;
    b->offset = b->next;
}

/* Reassembly oddities; bytes that did not make it into the stream are searched on their own. */
static void tcp_anomaly(void *ctx, const avtb_tcp_anomaly *x)
{
    flow_state *fs = ctx;
    static const char *const enc[AVTB_TCP_ANOM_COUNT] = {
        [AVTB_TCP_ANOM_OVERLAP] = "tcp-overlap",
        [AVTB_TCP_ANOM_LATE] = "tcp-late",
        [AVTB_TCP_ANOM_UNCHECKED] = "tcp-retransmission",
        [AVTB_TCP_ANOM_BEFORE_START] = "tcp-before-start",
    };

    fs->a->cur_flow = fs->flow->id;
    fs->a->cur_ts = x->ts;
    anomaly(fs->a, avtb_tcp_anomaly_name(x->kind));
    if (x->buf != NULL && x->len > 0 && (unsigned)x->kind < AVTB_TCP_ANOM_COUNT &&
        enc[x->kind] != NULL) {
        avtb_message m = {.protocol = fs->http_seen ? "http" : "tcp",
                          .host = fs->host[0] ? fs->host : NULL,
                          .data = x->buf,
                          .len = x->len,
                          .offset = x->offset > 0 ? (uint64_t)x->offset : 0,
                          .time = x->ts,
                          .encoding = {enc[x->kind]},
                          .nencoding = 1};

        scan(fs, x->dir ? 1 : 0, &m);
    }
}

static void tcp_truncated(void *ctx)
{
    flow_state *fs = ctx;

    fs->a->cur_flow = fs->flow->id;
    anomaly(fs->a, "tcp: flow longer than the flow cap: the rest is not inspected");
}

/* --- flows ---------------------------------------------------------------- */

/* A TLS flow's summary for the report: what it named, how much it carried. */
static void record_tls(flow_state *fs)
{
    avtb_analysis *o = fs->a->out;
    const avtb_flow *flow = fs->flow;
    avtb_tls_flow *t = reallocarray(o->tls, o->ntls + 1, sizeof(*t));
    const char *host = avtb_tls_session_host(fs->tls);
    char alpn[512] = "";
    size_t w = 0;

    if (t == NULL) {
        fs->a->fail = AVTB_ERR_NOMEM;
        return;
    }
    o->tls = t;
    t = &o->tls[o->ntls++];
    memset(t, 0, sizeof(*t));
    t->flow = flow->id;
    t->sni = host ? strdup(host) : NULL;
    for (size_t i = 0; i < avtb_tls_session_alpn_count(fs->tls); i++) {
        size_t n;
        const uint8_t *p = avtb_tls_session_alpn(fs->tls, i, &n);

        for (size_t j = 0; j < n && w + 2 < sizeof(alpn); j++)
            alpn[w++] = p[j] >= 0x20 && p[j] < 0x7f && p[j] != ',' ? (char)p[j] : '?';
        if (w + 2 < sizeof(alpn) && i + 1 < avtb_tls_session_alpn_count(fs->tls))
            alpn[w++] = ',';
        alpn[w] = '\0';
    }
    t->alpn = w > 0 ? strdup(alpn) : NULL;
    avtb_flow_addr_str(&flow->key, flow->client, t->src_ip);
    t->src_port = flow->key.port[flow->client];
    avtb_flow_addr_str(&flow->key, !flow->client, t->dst_ip);
    t->dst_port = flow->key.port[!flow->client];
    t->encrypted_out = avtb_tls_session_bytes(fs->tls, AVTB_TLS_APPLICATION_DATA);
    t->encrypted_in = fs->tls_in;
    t->first_time = fs->first_ts;
    t->last_time = fs->last_ts;
}

/* Ends the client parser: what it had is delivered, its leftovers go raw. */
static void end_parser(flow_state *fs)
{
    analyzer *a = fs->a;

    if (fs->http != NULL) {
        avtb_http_session_end(fs->http, a->cur_ts);
        a->out->stats.http_requests += avtb_http_session_requests(fs->http);
        if (fs->fp == FP_HTTP) /* else parser_gave_up took its leftovers already */
            raw_from_held(fs);
        avtb_http_session_free(fs->http);
        fs->http = NULL;
    }
    if (fs->dns != NULL) {
        avtb_dns_tcp_end(fs->dns, a->cur_ts);
        a->out->stats.dns_messages += avtb_dns_tcp_messages(fs->dns);
        avtb_dns_tcp_free(fs->dns);
        fs->dns = NULL;
    }
    if (fs->tls != NULL) {
        avtb_tls_session_end(fs->tls, a->cur_ts);
        if (avtb_tls_session_is_tls(fs->tls))
            record_tls(fs);
        avtb_tls_session_free(fs->tls);
        fs->tls = NULL;
    }
}

/* Delivers and frees what a finished flow holds; the small record stays. */
static void flow_finish(flow_state *fs)
{
    if (fs->closed)
        return;
    end_parser(fs);
    raw_emit(fs, 0, RAW_FINAL);
    raw_emit(fs, 1, RAW_FINAL);
    avtb_tcp_session_free(fs->tcp);
    fs->tcp = NULL;
    fs->closed = true;
}

static void flow_state_free(void *p)
{
    flow_state *fs = p;

    if (fs == NULL)
        return;
    avtb_tcp_session_free(fs->tcp);
    avtb_http_session_free(fs->http);
    avtb_tls_session_free(fs->tls);
    avtb_dns_tcp_free(fs->dns);
    for (unsigned i = 0; i < 2; i++) {
        fs->a->buffered -= fs->raw[i].len;
        free(fs->raw[i].data);
    }
    free(fs);
}

static flow_state *flow_state_new(analyzer *a, avtb_flow *flow)
{
    flow_state *fs = calloc(1, sizeof(*fs));

    if (fs == NULL)
        return NULL;
    fs->a = a;
    fs->flow = flow;
    if (flow->key.proto != IPPROTO_TCP)
        return fs;
    a->out->stats.tcp_flows++;
    fs->tcp = avtb_tcp_session_new(a->reasm, &a->sink, fs);
    if (fs->tcp == NULL) {
        free(fs);
        return NULL;
    }
    avtb_tcp_session_set_anomaly(fs->tcp, tcp_anomaly);
    return fs;
}

/* --- UDP ------------------------------------------------------------------ */

static void datagram(flow_state *fs, unsigned dir, const avtb_decoded *d, double ts)
{
    analyzer *a = fs->a;
    const avtb_flow_key *k = &fs->flow->key;
    avtb_message m = {.protocol = "udp", .data = d->payload, .len = d->payload_len, .time = ts};
    bool dns = k->port[0] == 53 || k->port[1] == 53;

    a->out->stats.udp_datagrams++;
    if (d->payload_len < d->wire_payload_len)
        anomaly(a, "udp: datagram cut by the capture's snaplen");
    if (dns) {
        avtb_dns_config c;

        avtb_dns_config_default(&c);
        c.message = dir == 0 ? on_client_message : on_server_message;
        c.anomaly = on_flow_anomaly;
        c.ctx = fs;
        a->out->stats.dns_messages++;
        fs->cur_unit = DNS_UNIT_BASE + fs->dns_units++;
        if (avtb_dns_walk(&c, d->payload, d->payload_len, ts, 0) == AVTB_PARSE_OK) {
            fs->cur_unit = 0;
            return;
        }
        /* Not (all) DNS: the datagram is searched as it is too, in the same unit. */
        m.protocol = "dns";
    }
    scan(fs, dir, &m);
    fs->cur_unit = 0;
}

/* --- attempts ------------------------------------------------------------- */

const char *avtb_attempt_proto_name(avtb_attempt_proto p)
{
    switch (p) {
    case AVTB_ATTEMPT_TCP:
        return "tcp";
    case AVTB_ATTEMPT_UDP:
        return "udp";
    case AVTB_ATTEMPT_ICMP:
        return "icmp";
    case AVTB_ATTEMPT_ICMPV6:
        return "icmpv6";
    case AVTB_ATTEMPT_OTHER:
        return "other";
    }
    return "other";
}

static uint64_t attempt_hash(uint8_t ip_proto, uint8_t family, const uint8_t addr[16],
                             uint16_t port)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    uint8_t key[20];

    key[0] = ip_proto;
    key[1] = family;
    memcpy(key + 2, addr, 16);
    key[18] = (uint8_t)(port >> 8);
    key[19] = (uint8_t)port;
    for (size_t i = 0; i < sizeof(key); i++)
        h = (h ^ key[i]) * 1099511628211u;
    return h;
}

/*
 * Counts packet d to its destination (protocol, address, port or ICMP type);
 * a full table counts it as dropped. What the sink's own address sends (its
 * answers, DHCP offers, neighbour discovery) is the host's, not an attempt.
 */
static void attempt(analyzer *a, const avtb_decoded *d, uint16_t port, uint64_t bytes, double ts)
{
    attempt_table *t = &a->attempts;
    uint8_t ip_proto = d->proto, family = d->family;
    const uint8_t *addr = d->dst;
    size_t i;
    attempt_slot *s;

    if (t->cap == 0)
        return;
    if (t->sink_family == family && memcmp(t->sink, d->src, family == 4 ? 4 : 16) == 0)
        return;
    if (t->slots == NULL) {
        t->nslots = 16;
        while (t->nslots < 2 * t->cap)
            t->nslots *= 2;
        t->slots = calloc(t->nslots, sizeof(*t->slots));
        if (t->slots == NULL) {
            a->fail = AVTB_ERR_NOMEM;
            return;
        }
    }
    i = (size_t)attempt_hash(ip_proto, family, addr, port) & (t->nslots - 1);
    for (;; i = (i + 1) & (t->nslots - 1)) {
        s = &t->slots[i];
        if (!s->used)
            break;
        if (s->a.ip_proto == ip_proto && s->family == family && s->a.port == port &&
            memcmp(s->addr, addr, 16) == 0) {
            s->a.packets++;
            s->a.bytes += bytes;
            if (ts < s->a.first_time)
                s->a.first_time = ts;
            if (ts > s->a.last_time)
                s->a.last_time = ts;
            return;
        }
    }
    if (t->n == t->cap) {
        t->dropped++;
        return;
    }
    t->n++;
    s->used = true;
    s->family = family;
    memcpy(s->addr, addr, 16);
    s->a.ip_proto = ip_proto;
    s->a.proto = ip_proto == IPPROTO_TCP      ? AVTB_ATTEMPT_TCP
                 : ip_proto == IPPROTO_UDP    ? AVTB_ATTEMPT_UDP
                 : ip_proto == IPPROTO_ICMP   ? AVTB_ATTEMPT_ICMP
                 : ip_proto == IPPROTO_ICMPV6 ? AVTB_ATTEMPT_ICMPV6
                                              : AVTB_ATTEMPT_OTHER;
    inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, s->a.dst_ip, sizeof(s->a.dst_ip));
    s->a.port = port;
    s->a.packets = 1;
    s->a.bytes = bytes;
    s->a.first_time = s->a.last_time = ts;
    s->a.to_sink = t->sink_family == family && memcmp(t->sink, addr, family == 4 ? 4 : 16) == 0;
}

/*
 * ICMP messages that answer something (echo and other replies, errors) or
 * that only routers send: not attempts to reach anyone.
 */
static bool icmp_answer(uint8_t ip_proto, uint8_t type)
{
    if (ip_proto == IPPROTO_ICMP)
        return type == 0 || type == 3 || type == 4 || type == 5 || type == 9 || type == 11 ||
               type == 12 || type == 14 || type == 16 || type == 18;
    /* ICMPv6: errors are 0..127; echo reply, MLD query, router advertisement, neighbour
     * advertisement. */
    return type < 128 || type == 129 || type == 130 || type == 134 || type == 136;
}

/* A packet decode.c left alone (ICMP, other IP protocols): an attempt unless it answers. */
static void ignored_packet(analyzer *a, const avtb_decoded *d, double ts)
{
    uint16_t type = 0;
    uint8_t ip_proto = d->proto;

    if (d->family != 4 && d->family != 6)
        return; /* not IP (ARP, ...): no destination address to name */
    if (ip_proto == IPPROTO_ICMP || ip_proto == IPPROTO_ICMPV6) {
        if (d->ip_payload == NULL || d->ip_payload_len < 1) {
            /* A fragment: decode.c hands out no ICMP payload of one, so no type. */
            attempt(a, d, 0xffff, 0, ts);
            return;
        }
        type = d->ip_payload[0];
        if (icmp_answer(ip_proto, (uint8_t)type))
            return;
    }
    attempt(a, d, type, d->ip_payload != NULL ? d->ip_wire_payload_len : 0, ts);
}

/* --- packets -------------------------------------------------------------- */

static avtb_err decoded_packet(analyzer *a, avtb_decoded *d, double ts)
{
    avtb_flow *flow;
    flow_state *fs;
    unsigned from, dir;
    bool created;
    avtb_err r;

    r = avtb_flow_get(a->flows, d, &flow, &from, &created);
    if (r != AVTB_OK)
        return r;
    if (flow == NULL) {
        anomaly(a, "flow table full: packets of further flows not analysed");
        attempt(a, d, d->dport, d->wire_payload_len, ts);
        return AVTB_OK;
    }
    fs = flow->user;
    a->cur_flow = flow->id;
    if (fs != NULL && fs->closed &&
        (d->tcp_flags & (AVTB_TCP_SYN | AVTB_TCP_ACK)) == AVTB_TCP_SYN) {
        avtb_flow_restart(a->flows, flow, d, from); /* port reuse */
        fs = NULL;
        a->cur_flow = flow->id;
    }
    if (fs == NULL) {
        fs = flow_state_new(a, flow);
        if (fs == NULL)
            return AVTB_ERR_NOMEM;
        flow->user = fs;
        fs->first_ts = ts;
    }
    dir = from == flow->client ? 0 : 1;
    /* What the side that opened the flow sent is an attempt to reach the other. */
    if (dir == 0)
        attempt(a, d, d->dport, d->wire_payload_len, ts);
    if (a->pending_sni != NULL && fs->sni == NULL)
        fs->sni = a->pending_sni;
    a->pending_sni = NULL;
    if (fs->closed)
        return AVTB_OK;
    fs->last_ts = ts;
    if (d->proto == IPPROTO_UDP) {
        datagram(fs, dir, d, ts);
        return a->fail;
    }
    r = avtb_tcp_session_segment(fs->tcp, dir, d, ts);
    if (r != AVTB_OK)
        return r;
    if (avtb_tcp_session_closed(fs->tcp))
        flow_finish(fs);
    return a->fail;
}

static void decode_anomalies(analyzer *a, const avtb_decoded *d)
{
    for (uint32_t bit = 1; bit != 0 && bit <= d->anomalies; bit <<= 1)
        if (d->anomalies & bit)
            anomaly(a, avtb_decode_anomaly_name(bit));
}

static avtb_err packet(analyzer *a, const avtb_packet *pkt)
{
    avtb_decoded d;
    avtb_defrag_datagram *dg = NULL;
    avtb_err r;

    a->out->stats.packets++;
    a->out->stats.bytes += pkt->caplen;
    a->cur_ts = pkt->ts;
    a->cur_flow = 0;
    /* A transcript flow's comment is on its first packet (transcript.h). */
    a->pending_sni = NULL;
    while (a->sni_next < a->nsni && a->sni[a->sni_next].packet < a->out->stats.packets)
        a->sni_next++;
    if (a->sni_next < a->nsni && a->sni[a->sni_next].packet == a->out->stats.packets)
        a->pending_sni = a->sni[a->sni_next++].sni;
    avtb_defrag_expire(a->defrag, pkt->ts);
    switch (avtb_decode(pkt->linktype, pkt->data, pkt->caplen, &d)) {
    case AVTB_DECODE_OK:
        decode_anomalies(a, &d);
        return decoded_packet(a, &d, pkt->ts);
    case AVTB_DECODE_MALFORMED: {
        char what[160];

        snprintf(what, sizeof(what), "packet: %s", d.why ? d.why : "malformed");
        anomaly(a, what);
        return a->fail;
    }
    case AVTB_DECODE_FRAGMENT:
        decode_anomalies(a, &d);
        r = avtb_defrag_add(a->defrag, &d, pkt->ts, &dg);
        if (r != AVTB_OK || dg == NULL)
            return r;
        a->out->stats.fragments_reassembled++;
        switch (avtb_defrag_decode(dg, &d)) {
        case AVTB_DECODE_OK:
            r = decoded_packet(a, &d, avtb_defrag_datagram_ts(dg));
            break;
        case AVTB_DECODE_MALFORMED:
            anomaly(a, "ip: reassembled datagram is malformed");
            r = a->fail;
            break;
        default:
            r = AVTB_OK;
        }
        avtb_defrag_datagram_free(dg);
        return r;
    default:
        ignored_packet(a, &d, pkt->ts);
        return a->fail;
    }
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

/* A finished flow's record can make room for a new flow in a full table. */
static bool flow_evictable(const void *user)
{
    const flow_state *fs = user;

    return fs == NULL || fs->closed;
}

static void on_defrag_anomaly(void *ctx, const avtb_defrag_event *ev)
{
    analyzer *a = ctx;
    a->cur_ts = ev->ts;
    anomaly(a, avtb_defrag_anomaly_name(ev->kind));
}

void avtb_analysis_clear(avtb_analysis *a)
{
    avtb_findings_clear(&a->findings);
    for (size_t i = 0; i < a->nanomalies; i++)
        free(a->anomalies[i].what);
    free(a->anomalies);
    for (size_t i = 0; i < a->ntls; i++) {
        free(a->tls[i].sni);
        free(a->tls[i].alpn);
    }
    free(a->tls);
    free(a->attempts);
    free(a->sink_ip);
    free(a->guest_ip);
    for (size_t i = 0; i < a->nproblems; i++)
        free(a->problems[i]);
    free(a->problems);
    memset(a, 0, sizeof(*a));
}

static double mono_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t steps(const char *encoding)
{
    size_t n = encoding && encoding[0] ? 1 : 0;

    for (const char *p = encoding; p && *p; p++)
        n += *p == ',';
    return n;
}

/* Which of two findings of one token in one unit to keep; a total order. */
static bool finding_better(const avtb_finding *a, const avtb_finding *b)
{
    int c;

    if (a->kind != b->kind)
        return a->kind == AVTB_FINDING_CONTENT;
    /* What the protocol parser understood says more than what a decoder guessed. */
    if (a->declared != b->declared)
        return a->declared > b->declared;
    if ((a->member != NULL) != (b->member != NULL))
        return a->member != NULL;
    if (steps(a->encoding) != steps(b->encoding))
        return steps(a->encoding) < steps(b->encoding);
    if (a->time != b->time)
        return a->time < b->time;
    c = strcmp(a->encoding ? a->encoding : "", b->encoding ? b->encoding : "");
    if (c != 0)
        return c < 0;
    return a->offset < b->offset;
}

static int cmp_unit(const void *pa, const void *pb)
{
    const avtb_finding *a = pa, *b = pb;
    int c;

    if (a->flow != b->flow)
        return a->flow < b->flow ? -1 : 1;
    if (a->unit != b->unit)
        return a->unit < b->unit ? -1 : 1;
    if (strcmp(a->src.ip, b->src.ip) != 0)
        return strcmp(a->src.ip, b->src.ip);
    c = strcmp(a->token, b->token);
    if (c != 0)
        return c;
    return finding_better(a, b) ? -1 : finding_better(b, a) ? 1 : 0;
}

/*
 * One finding per token per message (the contract): an HTTP request yields
 * several messages (the body as sent, decoded, its parts), and each may show
 * the same token. The best of them stays.
 */
static void dedup_findings(avtb_findings *l)
{
    size_t w = 0;

    if (l->count < 2)
        return;
    qsort(l->items, l->count, sizeof(l->items[0]), cmp_unit);
    for (size_t i = 0; i < l->count; i++) {
        avtb_finding *f = &l->items[i];

        if (w > 0) {
            const avtb_finding *k = &l->items[w - 1];

            if (k->flow == f->flow && k->unit == f->unit && strcmp(k->src.ip, f->src.ip) == 0 &&
                k->src.port == f->src.port && strcmp(k->token, f->token) == 0) {
                avtb_findings_drop(f);
                continue;
            }
        }
        l->items[w++] = *f;
    }
    l->count = w;
}

/* Moves the findings and anomalies one scanning thread collected into out. */
static avtb_err merge(avtb_analysis *out, scan_out *so)
{
    for (size_t i = 0; i < so->findings.count; i++) {
        avtb_err r = avtb_findings_add(&out->findings, &so->findings.items[i]);

        if (r != AVTB_OK)
            return r;
    }
    avtb_findings_clear(&so->findings);
    return AVTB_OK;
}

static avtb_err merge_anomalies(anomaly_list *into, const anomaly_list *from)
{
    for (size_t i = 0; i < from->n; i++) {
        const avtb_anomaly *x = &from->items[i];
        avtb_err r = anomaly_add(into, x->what, x->count, x->first_flow, x->first_time);

        if (r != AVTB_OK)
            return r;
    }
    /* Counts beyond the listed kinds were added to the last slot's total already. */
    into->total += from->total;
    for (size_t i = 0; i < from->n; i++)
        into->total -= from->items[i].count;
    return AVTB_OK;
}

/* --- what a capture file says about itself (pcapng comments) ---------------- */

/* "avtb-sink-address: 10.0.0.1" and "avtb-guest-address: ..." of the run's section header. */
static avtb_err on_shb_comment(void *ctx, uint64_t packet, const char *c, size_t len)
{
    analyzer *a = ctx;
    static const char *const keys[] = {"avtb-sink-address: ", "avtb-guest-address: "};

    (void)len;
    if (packet != 0)
        return AVTB_OK;
    for (const char *line = c; line != NULL && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        for (size_t k = 0; k < 2; k++) {
            size_t kl = strlen(keys[k]), vl;
            char **dst = k == 0 ? &a->out->sink_ip : &a->out->guest_ip;

            if (strncmp(line, keys[k], kl) != 0 || *dst != NULL)
                continue;
            vl = strcspn(line + kl, "\n");
            *dst = strndup(line + kl, vl);
            if (*dst == NULL)
                return AVTB_ERR_NOMEM;
        }
    }
    return AVTB_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The value of "sni=" in a transcript flow comment (avtb_transcript_comment), %XX undone. */
static char *comment_sni(const char *c)
{
    const char *v = NULL;
    char out[256];
    size_t o = 0;

    for (const char *p = c; *p; p++)
        if ((p == c || p[-1] == ' ') && strncmp(p, "sni=", 4) == 0) {
            v = p + 4;
            break;
        }
    if (v == NULL)
        return NULL;
    for (; *v && *v != ' ' && o + 1 < sizeof(out); v++) {
        int hi, lo;

        if (*v == '%' && (hi = hexval(v[1])) >= 0 && (lo = hexval(v[2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            v += 2;
        } else {
            out[o++] = *v;
        }
    }
    out[o] = '\0';
    /* The unescaped name may hold a NUL: cut there. An empty name, or "-", is none. */
    return out[0] && strcmp(out, "-") != 0 ? strdup(out) : NULL;
}

static avtb_err on_packet_comment(void *ctx, uint64_t packet, const char *c, size_t len)
{
    analyzer *a = ctx;
    sni_entry *x;
    char *sni;

    (void)len;
    if (packet == 0)
        return on_shb_comment(ctx, packet, c, len);
    /* One flow per SYN; the table is bounded like the flow table. */
    if (a->nsni >= a->o->stream.max_flows && a->o->stream.max_flows > 0)
        return AVTB_OK;
    sni = comment_sni(c);
    if (sni == NULL)
        return AVTB_OK;
    x = reallocarray(a->sni, a->nsni + 1, sizeof(*x));
    if (x == NULL) {
        free(sni);
        return AVTB_ERR_NOMEM;
    }
    a->sni = x;
    a->sni[a->nsni++] = (sni_entry){.packet = packet, .sni = sni};
    return AVTB_OK;
}

static int cmp_attempt(const void *pa, const void *pb)
{
    const avtb_attempt *a = pa, *b = pb;
    int c;

    if (a->first_time != b->first_time)
        return a->first_time < b->first_time ? -1 : 1;
    if (a->proto != b->proto)
        return a->proto < b->proto ? -1 : 1;
    c = strcmp(a->dst_ip, b->dst_ip);
    if (c != 0)
        return c;
    if (a->ip_proto != b->ip_proto)
        return a->ip_proto < b->ip_proto ? -1 : 1;
    return (a->port > b->port) - (a->port < b->port);
}

/* The attempts table as the analysis hands it out: an array, oldest first. */
static avtb_err attempts_out(analyzer *a)
{
    attempt_table *t = &a->attempts;
    avtb_analysis *out = a->out;
    size_t n = 0;

    out->attempts_cap = t->cap;
    out->attempts_dropped = t->dropped;
    if (t->n == 0)
        return AVTB_OK;
    out->attempts = calloc(t->n, sizeof(*out->attempts));
    if (out->attempts == NULL)
        return AVTB_ERR_NOMEM;
    for (size_t i = 0; i < t->nslots; i++)
        if (t->slots[i].used)
            out->attempts[n++] = t->slots[i].a;
    out->nattempts = n;
    qsort(out->attempts, n, sizeof(*out->attempts), cmp_attempt);
    return AVTB_OK;
}

/* The sink's address, as the attempts table compares it. */
static void attempts_sink(attempt_table *t, const char *ip)
{
    t->sink_family = 0;
    if (ip == NULL)
        return;
    if (inet_pton(AF_INET, ip, t->sink) == 1)
        t->sink_family = 4;
    else if (inet_pton(AF_INET6, ip, t->sink) == 1)
        t->sink_family = 6;
}

/* Every finding names the file it was found in. */
static avtb_err name_capture(avtb_findings *l, const char *path)
{
    const char *base = strrchr(path, '/');

    base = base != NULL ? base + 1 : path;
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].capture);
        l->items[i].capture = strdup(base);
        if (l->items[i].capture == NULL)
            return AVTB_ERR_NOMEM;
    }
    return AVTB_OK;
}

avtb_err avtb_analyze_capture(const char *pcap_path, const avtb_patterns *p,
                              const char *const *token_docs, const avtb_analyze_opts *o,
                              avtb_analysis *out, avtb_error *err)
{
    return avtb_analyze_file(pcap_path, AVTB_CAPTURE_WIRE, p, token_docs, o, out, err);
}

avtb_err avtb_analyze_file(const char *pcap_path, avtb_capture_kind kind, const avtb_patterns *p,
                           const char *const *token_docs, const avtb_analyze_opts *o,
                           avtb_analysis *out, avtb_error *err)
{
    avtb_pcap_source *src = NULL;
    avtb_defrag_limits dl;
    avtb_err r = AVTB_ERR_NOMEM;
    double t0 = mono_now();
    const avtb_scan_stats *ss;
    analyzer a;

    memset(out, 0, sizeof(*out));
    memset(&a, 0, sizeof(a));
    a.p = p;
    a.token_docs = token_docs;
    a.o = o;
    a.out = out;
    a.err = err;
    a.local.p = p;
    a.local.token_docs = token_docs;
    a.kind = kind;
    a.local.plaintext = kind == AVTB_CAPTURE_TLS_PLAINTEXT;
    a.attempts.cap = kind == AVTB_CAPTURE_WIRE ? o->attempts_cap : 0;
    a.sink = (avtb_tcp_sink){.data = tcp_data, .gap = tcp_gap, .truncated = tcp_truncated};
    avtb_defrag_limits_default(&dl);
    (void)debug_anomalies(); /* read the environment before a second thread exists */
    if (o->threads >= 2) {
        a.w = worker_start(&a);
        if (a.w == NULL) {
            r = avtb_error_set(err, AVTB_ERR_NOMEM, "%s: cannot start the scanning thread",
                               pcap_path);
            goto out;
        }
    } else {
        a.local.scanner = avtb_scanner_new(p, &o->transform, scan_anomaly, &a.local);
    }
    a.flows = avtb_flow_table_new(o->stream.max_flows, flow_state_free);
    a.reasm = avtb_tcp_reasm_new(&o->stream);
    a.defrag = avtb_defrag_new(&dl, on_defrag_anomaly, &a);
    if (a.flows != NULL)
        avtb_flow_table_set_evictable(a.flows, flow_evictable, 0);
    if ((a.w == NULL && a.local.scanner == NULL) || a.flows == NULL || a.reasm == NULL ||
        a.defrag == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "%s: out of memory", pcap_path);
        goto out;
    }
    r = avtb_pcap_source_open(pcap_path, &src, err);
    if (r != AVTB_OK)
        goto out;
    /* What libpcap does not hand out: the run's addresses, a transcript flow's SNI. */
    r = avtb_pcapng_read_comments(pcap_path, kind == AVTB_CAPTURE_TLS_PLAINTEXT,
                                  kind == AVTB_CAPTURE_WIRE ? on_shb_comment : on_packet_comment,
                                  &a, err);
    if (r == AVTB_ERR_NOMEM)
        avtb_error_set(err, r, "%s: out of memory reading its comments", pcap_path);
    if (r != AVTB_OK)
        goto out;
    attempts_sink(&a.attempts, out->sink_ip);
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
            if (r == AVTB_ERR_NOMEM)
                avtb_error_set(err, r, "%s: packet %llu: out of memory", pcap_path,
                               (unsigned long long)out->stats.packets);
            goto out;
        }
    }
    if (avtb_pcap_source_truncated(src)) {
        char what[512];

        snprintf(what, sizeof(what), "capture: cut short: %s",
                 avtb_pcap_source_error(src) ? avtb_pcap_source_error(src) : "mid-record");
        anomaly(&a, what);
    }
    avtb_defrag_flush(a.defrag);
    avtb_flow_table_foreach(a.flows, flush_flow, NULL);
    if (a.w != NULL) {
        worker_stop(a.w);
        if (a.w->out.fail != AVTB_OK && a.fail == AVTB_OK)
            a.fail = a.w->out.fail;
    }
    if (a.fail != AVTB_OK) {
        r = avtb_error_set(err, a.fail, "%s: out of memory", pcap_path);
        goto out;
    }
    r = merge(out, &a.local);
    if (r == AVTB_OK && a.w != NULL)
        r = merge(out, &a.w->out);
    if (r == AVTB_OK && a.w != NULL)
        r = merge_anomalies(&a.local.anomalies, &a.w->out.anomalies);
    if (r != AVTB_OK) {
        r = avtb_error_set(err, r, "%s: out of memory", pcap_path);
        goto out;
    }
    /* Transferred: the analysis owns the anomaly list now. */
    out->anomalies = a.local.anomalies.items;
    out->nanomalies = a.local.anomalies.n;
    out->anomaly_total = a.local.anomalies.total;
    memset(&a.local.anomalies, 0, sizeof(a.local.anomalies));
    dedup_findings(&out->findings);
    r = name_capture(&out->findings, pcap_path);
    if (r == AVTB_OK)
        r = attempts_out(&a);
    if (r != AVTB_OK) {
        r = avtb_error_set(err, r, "%s: out of memory", pcap_path);
        goto out;
    }
    avtb_findings_sort(&out->findings);
    out->stats.flows = avtb_flow_table_count(a.flows);
    ss = avtb_scanner_stats(a.w != NULL ? a.w->out.scanner : a.local.scanner);
    out->stats.messages = ss->messages;
    out->stats.message_bytes = ss->message_bytes;
    out->stats.views = ss->views;
    out->stats.view_bytes = ss->view_bytes;
    r = AVTB_OK;
out:
    if (a.w != NULL && !a.w->done)
        worker_stop(a.w); /* error paths: let it finish what is queued, then free */
    worker_free(a.w);
    avtb_pcap_source_free(src);
    avtb_flow_table_free(a.flows); /* before reasm: sessions give back their memory */
    avtb_tcp_reasm_free(a.reasm);
    avtb_defrag_free(a.defrag);
    avtb_scanner_free(a.local.scanner);
    avtb_findings_clear(&a.local.findings);
    anomaly_list_clear(&a.local.anomalies);
    for (size_t i = 0; i < a.nsni; i++)
        free(a.sni[i].sni);
    free(a.sni);
    free(a.attempts.slots);
    out->stats.seconds = mono_now() - t0;
    if (r != AVTB_OK)
        avtb_analysis_clear(out);
    return r;
}

avtb_err avtb_analyze_pcap(const char *pcap_path, const char *const *tokens, size_t ntokens,
                           avtb_findings *out, avtb_analyze_stats *stats, avtb_error *err)
{
    avtb_patterns *p = NULL;
    avtb_analyze_opts o;
    avtb_analysis a;
    avtb_err r;

    if (stats != NULL)
        memset(stats, 0, sizeof(*stats));
    r = avtb_patterns_new(tokens, ntokens, NULL, 0, &p, err);
    if (r != AVTB_OK)
        return r;
    avtb_analyze_opts_default(&o);
    r = avtb_analyze_capture(pcap_path, p, NULL, &o, &a, err);
    avtb_patterns_free(p);
    if (r != AVTB_OK)
        return r;
    for (size_t i = 0; i < a.findings.count && r == AVTB_OK; i++)
        r = avtb_findings_add(out, &a.findings.items[i]);
    if (stats != NULL) {
        stats->packets = a.stats.packets;
        stats->bytes = a.stats.bytes;
        stats->flows = a.stats.flows;
        stats->anomalies = a.anomaly_total;
    }
    avtb_analysis_clear(&a);
    if (r != AVTB_OK)
        return avtb_error_set(err, r, "out of memory");
    return AVTB_OK;
}
