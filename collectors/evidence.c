/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The evidence directory as a whole (evidence.h): both captures through
 * analyze.c, then the sink's logs for what a token search cannot settle.
 * Every file read here is written by the host (the sink, the agent
 * channel's recorder, the token registry), so a malformed line is an
 * anomaly to report, not hostile input; guest-chosen text in them (an SNI)
 * is only copied, never interpreted.
 */
#include "collectors/evidence.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collectors/transcript.h"
#include "common/util.h"

/* One side of a connection as the sink's logs and the capture both name it. */
typedef struct conn_key {
    char client[46];
    uint16_t client_port;
    char dst[46];
    uint16_t dst_port;
} conn_key;

/* What sink-tls.jsonl says about one connection. */
typedef struct tls_rec {
    conn_key k;
    bool ok;       /* the handshake completed: the sink read the plaintext */
    bool rejected; /* the client refused the sink's certificate */
} tls_rec;

typedef struct doc_size {
    char *path;
    uint64_t size;
} doc_size;

typedef struct ev {
    const char *dir;
    avtb_analysis *out;
    const char *capture; /* the wire capture's base name */
    bool since_known;
    double since; /* the first scan trigger: documents may be read from here on */
    doc_size *docs;
    size_t ndocs;
    tls_rec *tls;
    size_t ntls;
    uint64_t decrypted; /* sink-tls.jsonl: connections whose client sent plaintext */
} ev;

/* --- small helpers ----------------------------------------------------------- */

static avtb_err problem(avtb_analysis *out, const char *fmt, ...) AVTB_PRINTF(2, 3);

/* Records evidence that cannot be read: the run it belongs to is incomplete. */
static avtb_err problem(avtb_analysis *out, const char *fmt, ...)
{
    char *msg = NULL, **p;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return AVTB_ERR_NOMEM;
    p = reallocarray(out->problems, out->nproblems + 1, sizeof(*p));
    if (p == NULL) {
        free(msg);
        return AVTB_ERR_NOMEM;
    }
    out->problems = p;
    p[out->nproblems++] = msg;
    return AVTB_OK;
}

/* An IPv4 address as a dual-stack socket may name it ("::ffff:10.0.0.5"), as the capture does. */
static void addr_copy(char dst[46], const char *src)
{
    if (strncmp(src, "::ffff:", 7) == 0 && strchr(src + 7, '.') != NULL)
        src += 7;
    snprintf(dst, 46, "%s", src);
}

static int cmp_key(const conn_key *a, const conn_key *b)
{
    int c = strcmp(a->client, b->client);

    if (c != 0)
        return c;
    if (a->client_port != b->client_port)
        return a->client_port < b->client_port ? -1 : 1;
    c = strcmp(a->dst, b->dst);
    if (c != 0)
        return c;
    return (a->dst_port > b->dst_port) - (a->dst_port < b->dst_port);
}

static int cmp_tls_rec(const void *a, const void *b)
{
    return cmp_key(&((const tls_rec *)a)->k, &((const tls_rec *)b)->k);
}

/* "2026-11-26T10:00:00.123Z" (avtb_utc_now) as seconds since the epoch; false if it is not. */
static bool parse_utc(const char *s, double *out)
{
    struct tm tm;
    const char *p;
    double frac = 0, scale = 0.1;

    if (s == NULL)
        return false;
    memset(&tm, 0, sizeof(tm));
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return false;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac += (*p - '0') * scale;
    if (*p != 'Z' || p[1] != '\0')
        return false;
    *out = (double)timegm(&tm) + frac;
    return true;
}

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static uint64_t juint(const json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));

    return v > 0 ? (uint64_t)v : 0;
}

/* A time field: a number of seconds, else the "time" string. */
static double jtime(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    double t = 0;

    if (json_is_number(v))
        return json_number_value(v);
    if (parse_utc(jstr(o, "time"), &t))
        return t;
    return 0;
}

/* The connection a sink log line is about; false when it does not say. */
static bool line_key(const json_t *o, conn_key *k)
{
    const char *c = jstr(o, "client"), *d = jstr(o, "orig_dst");

    if (c == NULL || d == NULL)
        return false;
    addr_copy(k->client, c);
    addr_copy(k->dst, d);
    k->client_port = (uint16_t)juint(o, "client_port");
    k->dst_port = (uint16_t)juint(o, "orig_dst_port");
    return true;
}

typedef avtb_err (*line_fn)(ev *e, const json_t *o, size_t lineno);

/*
 * Calls fn on each JSON object line of dir/name. *present says whether the
 * file exists. Lines that are not objects, or too long, are anomalies; a
 * file that cannot be read is a problem.
 */
static avtb_err each_line(ev *e, const char *name, line_fn fn, bool *present, avtb_error *err)
{
    char *path = avtb_path_join(e->dir, name), *line = NULL, what[160];
    size_t cap = 0, lineno = 0;
    avtb_err r = AVTB_OK;
    ssize_t n;
    FILE *fp;

    *present = false;
    if (path == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    fp = fopen(path, "re");
    if (fp == NULL) {
        if (errno != ENOENT)
            r = problem(e->out, "%s cannot be read: %s", path, strerror(errno));
        free(path);
        return r == AVTB_OK ? AVTB_OK : avtb_error_set(err, r, "out of memory");
    }
    *present = true;
    while (r == AVTB_OK && (n = getline(&line, &cap, fp)) >= 0) {
        json_t *o;

        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (n == 0)
            continue;
        if ((size_t)n > AVTB_EVIDENCE_LINE_MAX) {
            snprintf(what, sizeof(what), "%s: a line is over %u bytes; skipped", name,
                     AVTB_EVIDENCE_LINE_MAX);
            r = avtb_analysis_add_anomaly(e->out, what, 1, 0, 0);
            continue;
        }
        o = json_loadb(line, (size_t)n, 0, NULL);
        if (!json_is_object(o)) {
            /* A writer killed mid-line leaves a cut last line: counted, not fatal. */
            snprintf(what, sizeof(what), "%s: a line is not a JSON object", name);
            r = avtb_analysis_add_anomaly(e->out, what, 1, 0, 0);
        } else {
            r = fn(e, o, lineno);
        }
        json_decref(o);
    }
    if (r == AVTB_OK && ferror(fp))
        r = problem(e->out, "%s cannot be read to its end", path);
    fclose(fp);
    free(line);
    free(path);
    if (r != AVTB_OK)
        return avtb_error_set(err, r, "%s: out of memory", name);
    return AVTB_OK;
}

/* --- when documents could first be read: agent.jsonl ---------------------- */

/*
 * The host's "run tN trigger-N" command, or the agent's "started" for a
 * trigger: the first scan. The product's own start (before hello) is not
 * counted: what a product does before it is asked to scan (licence checks,
 * updates) would otherwise all be suspect.
 */
static avtb_err agent_line(ev *e, const json_t *o, size_t lineno)
{
    const char *dir = jstr(o, "dir"), *name;
    const json_t *msg = json_object_get(o, "msg");
    bool trigger = false;
    double t;

    (void)lineno;
    if (dir == NULL)
        return AVTB_OK;
    if (strcmp(dir, "out") == 0 && json_is_string(msg)) {
        const char *m = json_string_value(msg);

        trigger = strncmp(m, "run ", 4) == 0 && strstr(m, " trigger-") != NULL;
    } else if (strcmp(dir, "in") == 0 && json_is_object(msg)) {
        name = jstr(msg, "name");
        trigger = jstr(msg, "type") != NULL && strcmp(jstr(msg, "type"), "started") == 0 &&
                  name != NULL && strncmp(name, "trigger-", 8) == 0;
    }
    if (trigger && parse_utc(jstr(o, "host_time"), &t) && (!e->since_known || t < e->since)) {
        e->since = t;
        e->since_known = true;
    }
    return AVTB_OK;
}

/* --- document sizes: tokens.json ---------------------------------------------- */

static avtb_err load_docs(ev *e, avtb_error *err)
{
    char *path = avtb_path_join(e->dir, "tokens.json");
    json_t *root, *list, *t;
    avtb_err r = AVTB_OK;
    size_t i;

    if (path == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    root = json_load_file(path, 0, NULL);
    free(path);
    list = json_object_get(root, "tokens");
    json_array_foreach(list, i, t)
    {
        const char *doc = jstr(t, "document");
        uint64_t size = juint(t, "size");
        bool seen = false;
        doc_size *d;

        if (doc == NULL || size == 0)
            continue;
        for (size_t j = 0; j < e->ndocs && !seen; j++)
            seen = strcmp(e->docs[j].path, doc) == 0;
        if (seen)
            continue;
        d = reallocarray(e->docs, e->ndocs + 1, sizeof(*d));
        if (d == NULL || (d[e->ndocs].path = strdup(doc)) == NULL) {
            if (d != NULL)
                e->docs = d;
            r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
            break;
        }
        d[e->ndocs].size = size;
        e->docs = d;
        e->ndocs++;
    }
    json_decref(root);
    return r;
}

/* The largest document that bytes could carry, and how many could; NULL when none. */
static const doc_size *fitting_doc(const ev *e, uint64_t bytes, size_t *n)
{
    const doc_size *best = NULL;

    *n = 0;
    for (size_t i = 0; i < e->ndocs; i++) {
        if (e->docs[i].size > bytes)
            continue;
        (*n)++;
        if (best == NULL || e->docs[i].size > best->size ||
            (e->docs[i].size == best->size && strcmp(e->docs[i].path, best->path) < 0))
            best = &e->docs[i];
    }
    return best;
}

/* --- suspected findings ---------------------------------------------------- */

static bool after_first_read(const ev *e, double t)
{
    return !e->since_known || t >= e->since;
}

static avtb_err suspect(ev *e, const char *protocol, const conn_key *k, const char *host,
                        uint64_t bytes, double time, const char *document, const char *capture,
                        uint64_t flow, const char *reason)
{
    avtb_finding f;

    memset(&f, 0, sizeof(f));
    /* Borrowed: avtb_findings_add copies the strings. */
    f.kind = AVTB_FINDING_SUSPECTED;
    f.protocol = (char *)protocol;
    f.document = (char *)document;
    f.capture = (char *)capture;
    f.reason = (char *)reason;
    f.bytes = bytes;
    f.time = time;
    f.flow = flow;
    snprintf(f.src.ip, sizeof(f.src.ip), "%s", k->client);
    f.src.port = k->client_port;
    snprintf(f.dst.ip, sizeof(f.dst.ip), "%s", k->dst);
    f.dst.port = k->dst_port;
    f.dst.host = (char *)host;
    return avtb_findings_add(&e->out->findings, &f);
}

/* The TLS flow of the wire capture for a connection, or NULL. */
static const avtb_tls_flow *capture_tls_flow(const ev *e, const conn_key *k)
{
    for (size_t i = 0; i < e->out->ntls; i++) {
        const avtb_tls_flow *t = &e->out->tls[i];

        if (t->src_port == k->client_port && t->dst_port == k->dst_port &&
            strcmp(t->src_ip, k->client) == 0 && strcmp(t->dst_ip, k->dst) == 0)
            return t;
    }
    return NULL;
}

/* The alert number in "client sent fatal alert unknown CA (48)", or -1. */
static int client_alert(const char *failure)
{
    const char *p = strstr(failure, "client sent fatal alert ");
    const char *open = p ? strchr(p, '(') : NULL;

    if (open == NULL)
        return p ? 0 : -1;
    return atoi(open + 1);
}

/*
 * Whether a failed handshake is the client refusing the sink's certificate
 * (tls-mitm.h avtb_mitm_describe): a certificate alert (bad, unsupported,
 * revoked, expired, unknown certificate, unknown CA, access denied), or any
 * fatal alert or hang-up once the sink's flight with its certificate had
 * gone out (the ServerHello set the version).
 */
static bool cert_rejected(const char *version, const char *failure)
{
    bool flight = version != NULL && version[0] != '\0';
    int alert;

    if (failure == NULL)
        return false;
    alert = client_alert(failure);
    if (alert == 42 || alert == 43 || alert == 44 || alert == 45 || alert == 46 || alert == 48 ||
        alert == 49)
        return true;
    if (!flight)
        return false;
    return alert >= 0 || strstr(failure, "unexpected eof") != NULL ||
           strstr(failure, "without an alert") != NULL;
}

static avtb_err tls_line(ev *e, const json_t *o, size_t lineno)
{
    const char *failure = jstr(o, "failure"), *version = jstr(o, "version");
    tls_rec rec = {0};
    tls_rec *x;

    (void)lineno;
    if (!line_key(o, &rec.k))
        return avtb_analysis_add_anomaly(
            e->out, AVTB_EVIDENCE_SINK_TLS ": a line names no client or destination", 1, 0, 0);
    rec.ok = json_is_true(json_object_get(o, "ok"));
    rec.rejected = !rec.ok && cert_rejected(version, failure);
    if (rec.ok) {
        e->out->tls_intercepted++;
        if (juint(o, "plaintext_from_client") > 0)
            e->decrypted++;
    }
    if (rec.rejected) {
        double start = jtime(o, "start"), end = jtime(o, "end");
        const avtb_tls_flow *t = capture_tls_flow(e, &rec.k);
        char reason[512];
        avtb_err r;

        e->out->tls_rejected++;
        if (after_first_read(e, end > start ? end : start)) {
            snprintf(reason, sizeof(reason),
                     "the client rejected the interception certificate (pinned?): what it meant "
                     "to send is encrypted and unconfirmed (%s)",
                     failure);
            /* Where to look: the capture's flow shows the handshake and its alert. */
            r = suspect(e, "tls", &rec.k, jstr(o, "sni"), juint(o, "client_bytes"), start, NULL,
                        t ? e->capture : AVTB_EVIDENCE_SINK_TLS, t ? t->flow : 0, reason);
            if (r != AVTB_OK)
                return r;
        }
    }
    x = reallocarray(e->tls, e->ntls + 1, sizeof(*x));
    if (x == NULL)
        return AVTB_ERR_NOMEM;
    e->tls = x;
    e->tls[e->ntls++] = rec;
    return AVTB_OK;
}

/* A content or metadata finding of the wire capture between these endpoints, or in flow. */
static bool found_in(const ev *e, const conn_key *k, uint64_t flow)
{
    const avtb_findings *l = &e->out->findings;

    for (size_t i = 0; i < l->count; i++) {
        const avtb_finding *f = &l->items[i];

        if (f->kind == AVTB_FINDING_SUSPECTED || f->capture == NULL ||
            strcmp(f->capture, e->capture) != 0)
            continue;
        if (flow != 0 && f->flow == flow)
            return true;
        if (k != NULL && f->src.port == k->client_port && f->dst.port == k->dst_port &&
            strcmp(f->src.ip, k->client) == 0 && strcmp(f->dst.ip, k->dst) == 0)
            return true;
    }
    return false;
}

/* TLS the sink did not decrypt (or did not intercept at all), as large as a document. */
static avtb_err opaque_tls(ev *e)
{
    for (size_t i = 0; i < e->out->ntls; i++) {
        avtb_tls_flow *t = &e->out->tls[i];
        tls_rec key = {0};
        const tls_rec *rec;
        const doc_size *d;
        char reason[1024];
        size_t nfit;
        avtb_err r;

        snprintf(key.k.client, sizeof(key.k.client), "%s", t->src_ip);
        key.k.client_port = t->src_port;
        snprintf(key.k.dst, sizeof(key.k.dst), "%s", t->dst_ip);
        key.k.dst_port = t->dst_port;
        rec = e->ntls ? bsearch(&key, e->tls, e->ntls, sizeof(*e->tls), cmp_tls_rec) : NULL;
        t->decrypted = rec != NULL && rec->ok;
        if (rec != NULL && (rec->ok || rec->rejected))
            continue; /* read from the transcript, or suspected already */
        d = fitting_doc(e, t->encrypted_out, &nfit);
        if (d == NULL || !after_first_read(e, t->last_time) || found_in(e, NULL, t->flow))
            continue;
        snprintf(reason, sizeof(reason),
                 "%llu bytes of TLS application data the sink did not decrypt, enough to carry "
                 "%s (%llu bytes)%s: what they hold is unconfirmed",
                 (unsigned long long)t->encrypted_out, d->path, (unsigned long long)d->size,
                 nfit > 1 ? " or another honey document as small" : "");
        r = suspect(e, "tls", &key.k, t->sni, t->encrypted_out, t->first_time, d->path, e->capture,
                    t->flow, reason);
        if (r != AVTB_OK)
            return r;
    }
    return AVTB_OK;
}

/* Raw TCP (no protocol the analysis reads) as large as a document, with no finding in it. */
static avtb_err tcp_line(ev *e, const json_t *o, size_t lineno)
{
    const char *proto = jstr(o, "protocol");
    uint64_t bytes = juint(o, "bytes_from_client");
    double start = jtime(o, "start"), end = jtime(o, "end");
    const doc_size *d;
    char reason[1024];
    conn_key k = {0};
    size_t nfit;

    (void)lineno;
    if (proto == NULL || strcmp(proto, "raw") != 0)
        return AVTB_OK;
    if (!line_key(o, &k))
        return avtb_analysis_add_anomaly(
            e->out, AVTB_EVIDENCE_SINK_TCP ": a line names no client or destination", 1, 0, 0);
    d = fitting_doc(e, bytes, &nfit);
    if (d == NULL || !after_first_read(e, end > start ? end : start) || found_in(e, &k, 0))
        return AVTB_OK;
    snprintf(reason, sizeof(reason),
             "%llu bytes of raw TCP in no protocol the analysis reads and with no token in any "
             "decoding, enough to carry %s (%llu bytes)%s: what they hold is unconfirmed",
             (unsigned long long)bytes, d->path, (unsigned long long)d->size,
             nfit > 1 ? " or another honey document as small" : "");
    return suspect(e, "tcp", &k, NULL, bytes, start, d->path, AVTB_EVIDENCE_SINK_TCP, 0, reason);
}

/* --- the transcripts ------------------------------------------------------------ */

/* Moves the transcript analysis pt into out: findings, prefixed anomalies, its counters. */
static avtb_err merge_plaintext(avtb_analysis *out, avtb_analysis *pt)
{
    avtb_err r = AVTB_OK;

    for (size_t i = 0; i < pt->findings.count && r == AVTB_OK; i++)
        r = avtb_findings_add(&out->findings, &pt->findings.items[i]);
    for (size_t i = 0; i < pt->nanomalies && r == AVTB_OK; i++) {
        const avtb_anomaly *x = &pt->anomalies[i];
        char what[512];

        snprintf(what, sizeof(what), "tls plaintext: %s", x->what);
        r = avtb_analysis_add_anomaly(out, what, x->count, x->first_flow, x->first_time);
    }
    if (r == AVTB_OK && pt->ntls > 0)
        r = avtb_analysis_add_anomaly(out,
                                      "tls plaintext: TLS inside an intercepted TLS connection "
                                      "(not decrypted, its bytes are not searched)",
                                      pt->ntls, pt->tls[0].flow, pt->tls[0].first_time);
    out->plaintext = true;
    out->plaintext_stats = pt->stats;
    return r;
}

static avtb_err analyze_plaintext(ev *e, const avtb_patterns *p, const char *const *token_docs,
                                  const avtb_analyze_opts *o, bool *present, avtb_error *err)
{
    char *path = avtb_path_join(e->dir, AVTB_TRANSCRIPT_FILE);
    avtb_analysis pt;
    avtb_error perr = {0};
    avtb_err r;

    *present = false;
    if (path == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    if (access(path, F_OK) != 0) {
        free(path);
        return AVTB_OK;
    }
    *present = true;
    r = avtb_analyze_file(path, AVTB_CAPTURE_TLS_PLAINTEXT, p, token_docs, o, &pt, &perr);
    if (r == AVTB_OK) {
        r = merge_plaintext(e->out, &pt);
        avtb_analysis_clear(&pt);
    } else if (r != AVTB_ERR_NOMEM) {
        /* The decrypted TLS is evidence: without it the run cannot be called clean. */
        r = problem(e->out, "the decrypted TLS (%s) cannot be analysed: %s", path, perr.msg);
    }
    free(path);
    if (r != AVTB_OK)
        return avtb_error_set(err, r, "%s: out of memory", AVTB_TRANSCRIPT_FILE);
    return AVTB_OK;
}

/* --- the whole directory --------------------------------------------------------- */

static avtb_err wire_capture(const char *dir, char **path, avtb_error *err)
{
    static const char *const names[] = {"capture.pcapng", "capture.pcap"};

    *path = NULL;
    for (size_t i = 0; i < 2; i++) {
        char *p = avtb_path_join(dir, names[i]);

        if (p == NULL)
            return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        if (access(p, F_OK) == 0) {
            *path = p;
            return AVTB_OK;
        }
        free(p);
    }
    return avtb_error_set(err, AVTB_ERR_INPUT,
                          "%s holds no capture.pcap(ng): the run ended before its network "
                          "capture started",
                          dir);
}

avtb_err avtb_evidence_analyze(const char *dir, const avtb_patterns *p,
                               const char *const *token_docs, const avtb_analyze_opts *o,
                               avtb_analysis *out, avtb_error *err)
{
    ev e = {.dir = dir, .out = out};
    char *capture = NULL;
    bool transcript = false, present;
    avtb_err r;

    memset(out, 0, sizeof(*out));
    r = wire_capture(dir, &capture, err);
    if (r != AVTB_OK)
        return r;
    e.capture = strrchr(capture, '/') + 1;
    r = avtb_analyze_file(capture, AVTB_CAPTURE_WIRE, p, token_docs, o, out, err);
    if (r == AVTB_OK)
        r = analyze_plaintext(&e, p, token_docs, o, &transcript, err);
    if (r == AVTB_OK)
        r = load_docs(&e, err);
    if (r == AVTB_OK)
        r = each_line(&e, "agent.jsonl", agent_line, &present, err);
    if (r == AVTB_OK)
        r = each_line(&e, AVTB_EVIDENCE_SINK_TLS, tls_line, &present, err);
    if (r == AVTB_OK && e.ntls > 1)
        qsort(e.tls, e.ntls, sizeof(*e.tls), cmp_tls_rec);
    if (r == AVTB_OK)
        r = opaque_tls(&e);
    if (r == AVTB_OK)
        r = each_line(&e, AVTB_EVIDENCE_SINK_TCP, tcp_line, &present, err);
    if (r == AVTB_OK && e.decrypted > 0 && !transcript)
        r = problem(out,
                    "%s records %llu TLS connections whose plaintext the sink read, but %s/%s is "
                    "missing: what they carried was not searched",
                    AVTB_EVIDENCE_SINK_TLS, (unsigned long long)e.decrypted, dir,
                    AVTB_TRANSCRIPT_FILE);
    if (r == AVTB_ERR_NOMEM)
        avtb_error_set(err, r, "%s: out of memory", dir);
    if (r == AVTB_OK)
        avtb_findings_sort(&out->findings);
    else
        avtb_analysis_clear(out);
    for (size_t i = 0; i < e.ndocs; i++)
        free(e.docs[i].path);
    free(e.docs);
    free(e.tls);
    free(capture);
    return r;
}
