/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exfiltration chains and per-document access; see chain.h. The log is
 * indexed once (events by path and by pid, sockets by local port, each
 * sorted by time) so a chain costs a few binary searches and bounded scans,
 * never a pass over every event per finding.
 */
#include "collectors/chain.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

/* Events whose path is one of these are reads of it. */
#define READ_MASK  (AVTB_FA_OPEN | AVTB_FA_ACCESS | AVTB_FA_CLOSE_NOWRITE)
#define WRITE_MASK (AVTB_FA_MODIFY | AVTB_FA_CLOSE_WRITE)
/* Work over all chains of one build; each chain also has AVTB_CHAIN_WORK_MAX. */
#define TOTAL_WORK_MAX 50000000ull
/* Distinct files an uploader read that are tried as staging files. */
#define MAX_STAGE_TRIES 256

/* --- the index ------------------------------------------------------------- */

typedef struct fa_index {
    const avtb_fa_log *log;
    size_t *by_path; /* events with a path, by (path, t) */
    size_t npath;
    size_t *by_pid;  /* every event, by (pid, t) */
    size_t *by_port; /* sockets with a parsable local port, by (port, t) */
    uint16_t *port;  /* local port of each socket, by socket index */
    size_t nport;
} fa_index;

static int cmp_double(double a, double b)
{
    return (a > b) - (a < b);
}

static int cmp_path(const void *a, const void *b, void *ctx)
{
    const avtb_fa_event *ev = ctx, *x = &ev[*(const size_t *)a], *y = &ev[*(const size_t *)b];
    int c = x->path == y->path ? 0 : strcmp(x->path, y->path);

    if (c != 0)
        return c;
    c = cmp_double(x->t, y->t);
    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

static int cmp_pid(const void *a, const void *b, void *ctx)
{
    const avtb_fa_event *ev = ctx, *x = &ev[*(const size_t *)a], *y = &ev[*(const size_t *)b];
    int c = (x->pid > y->pid) - (x->pid < y->pid);

    if (c != 0)
        return c;
    c = cmp_double(x->t, y->t);
    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

static int cmp_port(const void *a, const void *b, void *ctx)
{
    const fa_index *ix = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = (ix->port[i] > ix->port[j]) - (ix->port[i] < ix->port[j]);

    return c != 0 ? c : cmp_double(ix->log->sockets[i].t, ix->log->sockets[j].t);
}

/* "ADDR:PORT" or "[ADDR]:PORT" into addr (without brackets) and port. */
static bool split_hostport(const char *s, char addr[64], uint16_t *port)
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    const char *a = s, *end = colon;
    char *e;
    unsigned long p;

    if (colon == NULL || colon[1] == '\0')
        return false;
    p = strtoul(colon + 1, &e, 10);
    if (*e != '\0' || p > 65535)
        return false;
    if (*s == '[') {
        a = s + 1;
        if (end == a || end[-1] != ']')
            return false;
        end--;
    }
    if ((size_t)(end - a) >= 64)
        return false;
    memcpy(addr, a, (size_t)(end - a));
    addr[end - a] = '\0';
    *port = (uint16_t)p;
    return true;
}

static void index_free(fa_index *ix)
{
    free(ix->by_path);
    free(ix->by_pid);
    free(ix->by_port);
    free(ix->port);
}

/* false when out of memory. An empty index for log NULL. */
static bool index_build(fa_index *ix, const avtb_fa_log *log)
{
    memset(ix, 0, sizeof(*ix));
    ix->log = log;
    if (log == NULL)
        return true;
    ix->by_path = calloc(log->nevents + 1, sizeof(size_t));
    ix->by_pid = calloc(log->nevents + 1, sizeof(size_t));
    ix->by_port = calloc(log->nsockets + 1, sizeof(size_t));
    ix->port = calloc(log->nsockets + 1, sizeof(uint16_t));
    if (!ix->by_path || !ix->by_pid || !ix->by_port || !ix->port)
        return false;
    for (size_t i = 0; i < log->nevents; i++) {
        ix->by_pid[i] = i;
        if (log->events[i].path != NULL)
            ix->by_path[ix->npath++] = i;
    }
    qsort_r(ix->by_path, ix->npath, sizeof(size_t), cmp_path, log->events);
    qsort_r(ix->by_pid, log->nevents, sizeof(size_t), cmp_pid, log->events);
    for (size_t i = 0; i < log->nsockets; i++) {
        char addr[64];

        if (split_hostport(log->sockets[i].local, addr, &ix->port[i]))
            ix->by_port[ix->nport++] = i;
    }
    qsort_r(ix->by_port, ix->nport, sizeof(size_t), cmp_port, ix);
    return true;
}

/* [*lo, *hi) of by_path holding path. */
static void range_path(const fa_index *ix, const char *path, size_t *lo, size_t *hi)
{
    size_t a = 0, b = ix->npath;

    while (a < b) {
        size_t m = a + (b - a) / 2;

        if (strcmp(ix->log->events[ix->by_path[m]].path, path) < 0)
            a = m + 1;
        else
            b = m;
    }
    *lo = a;
    b = ix->npath;
    while (a < b) {
        size_t m = a + (b - a) / 2;

        if (strcmp(ix->log->events[ix->by_path[m]].path, path) <= 0)
            a = m + 1;
        else
            b = m;
    }
    *hi = a;
}

static void range_pid(const fa_index *ix, int64_t pid, size_t *lo, size_t *hi)
{
    size_t n = ix->log ? ix->log->nevents : 0, a = 0, b = n;

    while (a < b) {
        size_t m = a + (b - a) / 2;

        if (ix->log->events[ix->by_pid[m]].pid < pid)
            a = m + 1;
        else
            b = m;
    }
    *lo = a;
    b = n;
    while (a < b) {
        size_t m = a + (b - a) / 2;

        if (ix->log->events[ix->by_pid[m]].pid <= pid)
            a = m + 1;
        else
            b = m;
    }
    *hi = a;
}

static void range_port(const fa_index *ix, uint16_t port, size_t *lo, size_t *hi)
{
    size_t a = 0, b = ix->nport;

    while (a < b) {
        size_t m = a + (b - a) / 2;

        if (ix->port[ix->by_port[m]] < port)
            a = m + 1;
        else
            b = m;
    }
    *lo = a;
    b = ix->nport;
    while (a < b) {
        size_t m = a + (b - a) / 2;

        if (ix->port[ix->by_port[m]] <= port)
            a = m + 1;
        else
            b = m;
    }
    *hi = a;
}

/* --- the registry and forensics -------------------------------------------- */

typedef struct reg_token {
    const char *token, *document; /* borrowed from the registry */
} reg_token;

typedef struct registry {
    reg_token *tokens;
    size_t ntokens;
    const char **docs; /* distinct documents, registry order */
    size_t ndocs;
} registry;

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool registry_load(registry *r, json_t *root)
{
    json_t *list = json_object_get(root, "tokens"), *e;
    size_t i;

    memset(r, 0, sizeof(*r));
    if (!json_is_array(list) || json_array_size(list) == 0)
        return true;
    r->tokens = calloc(json_array_size(list), sizeof(*r->tokens));
    r->docs = calloc(json_array_size(list), sizeof(*r->docs));
    if (r->tokens == NULL || r->docs == NULL)
        return false;
    json_array_foreach(list, i, e)
    {
        const char *t = jstr(e, "token"), *d = jstr(e, "document");
        bool seen = false;

        if (t == NULL || d == NULL)
            continue;
        r->tokens[r->ntokens++] = (reg_token){t, d};
        for (size_t k = 0; k < r->ndocs && !seen; k++)
            seen = strcmp(r->docs[k], d) == 0;
        if (!seen)
            r->docs[r->ndocs++] = d;
    }
    return true;
}

static void registry_free(registry *r)
{
    free(r->tokens);
    free(r->docs);
}

static const char *registry_doc(const registry *r, const char *token)
{
    for (size_t i = 0; token != NULL && i < r->ntokens; i++)
        if (strcmp(r->tokens[i].token, token) == 0)
            return r->tokens[i].document;
    return NULL;
}

/*
 * The planted file a finding's document names: the registry's document
 * itself, or for an archive member ("ARCHIVE/MEMBER", canaries.c) the
 * archive. doc itself when the registry does not know it.
 */
static const char *planted_path(const registry *r, const char *doc)
{
    for (size_t i = 0; i < r->ndocs; i++) {
        size_t n = strlen(r->docs[i]);

        if (strcmp(r->docs[i], doc) == 0)
            return r->docs[i];
        if (strncmp(r->docs[i], doc, n) == 0 && doc[n] == '/')
            return r->docs[i];
    }
    return doc;
}

/* forensics.json "files" entries that carry token or a token of document. */
static bool file_carries(json_t *file, const char *token, const char *document)
{
    json_t *toks = json_object_get(file, "tokens"), *t;
    size_t i;

    json_array_foreach(toks, i, t)
    {
        const char *tt = jstr(t, "token"), *td = jstr(t, "document");

        if ((tt && token && strcmp(tt, token) == 0) ||
            (td && document && strcmp(td, document) == 0))
            return true;
    }
    return false;
}

/* Whether file holds token's bytes (a content hit), not only a name or hash. */
static bool carries_content(json_t *file, const char *token)
{
    json_t *toks = json_object_get(file, "tokens"), *t;
    size_t i;

    json_array_foreach(toks, i, t)
    {
        const char *tt = jstr(t, "token"), *hit = jstr(t, "hit");

        if (tt && token && strcmp(tt, token) == 0 && hit && strcmp(hit, "content") == 0)
            return true;
    }
    return false;
}

/* --- building one chain ---------------------------------------------------- */

typedef struct gkey {
    size_t index;
    const char *path;
} gkey;

typedef struct group {
    size_t first;        /* representative finding (the earliest in report order) */
    const gkey *members; /* every finding of the group, report order */
    size_t nmembers;
    const char *path; /* planted document */
} group;

typedef struct ctx {
    const avtb_findings *findings;
    fa_index ix;
    json_t *forensics;
    registry reg;
    uint64_t work, total_work; /* this chain's, the build's */
} ctx;

static bool spend(ctx *c)
{
    if (c->work >= AVTB_CHAIN_WORK_MAX || c->total_work >= TOTAL_WORK_MAX)
        return false;
    c->work++;
    c->total_work++;
    return true;
}

static char family(const char *proto)
{
    if (proto == NULL)
        return 0;
    if (strncmp(proto, "tcp", 3) == 0 || strcmp(proto, "http") == 0 || strcmp(proto, "tls") == 0)
        return 't';
    if (strncmp(proto, "udp", 3) == 0)
        return 'u';
    return 0; /* dns: either; unknown: any */
}

/* Same address, IPv4-mapped IPv6 seen as IPv4. */
static bool addr_eq(const char *a, const char *b)
{
    unsigned char x[16], y[16];
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    int fx = 4, fy = 4;

    if (inet_pton(AF_INET, a, x) != 1) {
        if (inet_pton(AF_INET6, a, x) != 1)
            return strcmp(a, b) == 0;
        fx = 16;
        if (memcmp(x, mapped, 12) == 0) {
            memmove(x, x + 12, 4);
            fx = 4;
        }
    }
    if (inet_pton(AF_INET, b, y) != 1) {
        if (inet_pton(AF_INET6, b, y) != 1)
            return false;
        fy = 16;
        if (memcmp(y, mapped, 12) == 0) {
            memmove(y, y + 12, 4);
            fy = 4;
        }
    }
    return fx == fy && memcmp(x, y, (size_t)fx) == 0;
}

/* The socket line of the guest process that owned the finding's connection. */
static const avtb_fa_socket *find_socket(ctx *c, const avtb_finding *f)
{
    const avtb_fa_socket *best = NULL;
    int best_score = -1;
    char want = family(f->protocol);
    size_t lo, hi;

    if (c->ix.log == NULL || f->src.port == 0)
        return NULL;
    range_port(&c->ix, f->src.port, &lo, &hi);
    for (size_t k = lo; k < hi && spend(c); k++) {
        const avtb_fa_socket *s = &c->ix.log->sockets[c->ix.by_port[k]];
        char fam = family(s->proto), addr[64];
        uint16_t port;
        int score = 0;

        if ((want && fam && want != fam) || s->t > f->time + AVTB_CHAIN_SKEW_S)
            continue;
        if (split_hostport(s->remote, addr, &port) && port == f->dst.port &&
            addr_eq(addr, f->dst.ip))
            score += 2;
        if (split_hostport(s->local, addr, &port) && addr_eq(addr, f->src.ip))
            score += 1;
        /* Sorted by time: among equals the later (closer to the upload) wins. */
        if (score >= best_score) {
            best = s;
            best_score = score;
        }
    }
    return best;
}

typedef struct proc {
    int64_t pid; /* -1: unknown */
    const char *comm, *exe;
} proc;

/* Fills comm/exe from the first event of pid that has them, where the socket line lacked them. */
static void proc_fill(ctx *c, proc *p)
{
    size_t lo, hi;

    if (c->ix.log == NULL || p->pid < 0)
        return;
    /* The newest names win: an exec renames the process (a shell's child
     * becomes the uploader), and the upload comes after its other events. */
    range_pid(&c->ix, p->pid, &lo, &hi);
    for (size_t k = hi; k > lo && (p->comm == NULL || p->exe == NULL) && spend(c); k--) {
        const avtb_fa_event *e = &c->ix.log->events[c->ix.by_pid[k - 1]];

        if (p->comm == NULL)
            p->comm = e->comm;
        if (p->exe == NULL)
            p->exe = e->exe;
    }
}

static bool is_read(const avtb_fa_event *e)
{
    return (e->mask & READ_MASK) != 0;
}

static bool is_write(const avtb_fa_event *e)
{
    return (e->mask & WRITE_MASK) != 0;
}

/* Reader r and writer w are one process, parent and child, or siblings. */
static bool related(const avtb_fa_event *r, const avtb_fa_event *w)
{
    return r->pid == w->pid || w->ppid == r->pid || r->ppid == w->pid ||
           (r->ppid > 1 && r->ppid == w->ppid);
}

/* What the search found; NULL/ -1 fields are missing links. */
typedef struct links {
    const avtb_fa_event *read;  /* the first read of the document by the reader */
    const avtb_fa_event *write; /* the staging file's first write by the writer */
    const avtb_fa_event *uread; /* the uploader's read of the staging file */
    const char *stage_path;
    long fj;                 /* forensics "files" index, -1 none */
    long dj;                 /* forensics "documents" index for a read without file access */
    const char *stage_link;  /* read → stage */
    const char *upload_link; /* previous step → upload */
} links;

/* The first read of path by pid at or before limit (any pid when pid < 0: the latest). */
static const avtb_fa_event *read_of(ctx *c, const char *path, int64_t pid, double limit)
{
    const avtb_fa_event *found = NULL;
    size_t lo, hi;

    if (c->ix.log == NULL)
        return NULL;
    range_path(&c->ix, path, &lo, &hi);
    for (size_t k = lo; k < hi && spend(c); k++) {
        const avtb_fa_event *e = &c->ix.log->events[c->ix.by_path[k]];

        if (e->t > limit)
            break;
        if (!is_read(e) || (pid >= 0 && e->pid != pid))
            continue;
        found = e;
        if (pid >= 0)
            break;
    }
    return found;
}

/* A reader of path related to writer w, reading before w's last write. */
static const avtb_fa_event *related_reader(ctx *c, const char *path, const avtb_fa_event *w)
{
    const avtb_fa_event *best = NULL;
    size_t lo, hi;

    range_path(&c->ix, path, &lo, &hi);
    for (size_t k = lo; k < hi && spend(c); k++) {
        const avtb_fa_event *e = &c->ix.log->events[c->ix.by_path[k]];

        if (e->t > w->t_last + AVTB_CHAIN_ORDER_S)
            break;
        if (!is_read(e) || !related(e, w))
            continue;
        if (e->pid == w->pid)
            return e; /* the same process: the strongest link */
        if (best == NULL)
            best = e;
    }
    return best;
}

/* Forensics "files" index of path when it carries the token, else -1. */
static long forensics_file(ctx *c, const char *path, const char *token, const char *doc)
{
    json_t *files = json_object_get(c->forensics, "files"), *f;
    size_t i;

    json_array_foreach(files, i, f)
    {
        const char *p = jstr(f, "path");

        if (p && strcmp(p, path) == 0 && file_carries(f, token, doc))
            return (long)i;
    }
    return -1;
}

/*
 * Staged by process: the uploader U read X before the upload, X was written
 * by W after a process related to W read the document. A staging file the
 * forensics confirm (it holds the token) wins over one they do not.
 */
static bool staged_by_process(ctx *c, const char *doc, const char *token, int64_t upid,
                              double limit, links *out)
{
    const char *tried[MAX_STAGE_TRIES];
    size_t ntried = 0, lo, hi;
    bool found = false;

    /* Newest first: a staging file is read shortly before the upload, and a
     * busy uploader (a scanner) may have read thousands of files before. */
    range_pid(&c->ix, upid, &lo, &hi);
    for (size_t k = hi; k > lo && spend(c); k--) {
        const avtb_fa_event *u = &c->ix.log->events[c->ix.by_pid[k - 1]];
        size_t xlo, xhi;
        bool seen = false;
        long fj;

        if (u->t > limit)
            continue;
        if (!is_read(u) || u->path == NULL || strcmp(u->path, doc) == 0)
            continue;
        for (size_t i = 0; i < ntried && !seen; i++)
            seen = tried[i] == u->path; /* interned: one pointer per path */
        if (seen)
            continue;
        if (ntried == MAX_STAGE_TRIES)
            break;
        tried[ntried++] = u->path;
        fj = forensics_file(c, u->path, token, doc);
        range_path(&c->ix, u->path, &xlo, &xhi);
        for (size_t x = xlo; x < xhi && spend(c); x++) {
            const avtb_fa_event *w = &c->ix.log->events[c->ix.by_path[x]];
            const avtb_fa_event *r;

            if (w->t > u->t_last + AVTB_CHAIN_ORDER_S)
                break;
            if (!is_write(w) || (r = related_reader(c, doc, w)) == NULL)
                continue;
            if (!found || (out->fj < 0 && fj >= 0)) {
                *out = (links){.read = r,
                               .write = w,
                               .uread = u,
                               .stage_path = u->path,
                               .fj = fj,
                               .dj = -1,
                               .stage_link = "process",
                               .upload_link = "process"};
                found = true;
            }
            break;
        }
        if (found && out->fj >= 0)
            break;
    }
    return found;
}

/* Forensics "documents" index of doc when its state says it was accessed, else -1. */
static long forensics_read(ctx *c, const char *doc)
{
    json_t *docs = json_object_get(c->forensics, "documents"), *d;
    size_t i;

    json_array_foreach(docs, i, d)
    {
        const char *p = jstr(d, "path"), *st = jstr(d, "state");

        if (p && st && strcmp(p, doc) == 0 && strcmp(st, "unchanged") != 0)
            return (long)i;
    }
    return -1;
}

/* A staging file from the forensics (it holds the token); links made from what exists. */
static bool staged_by_forensics(ctx *c, const char *doc, const char *token, int64_t upid,
                                double limit, links *out)
{
    json_t *files = json_object_get(c->forensics, "files"), *f;
    long pick = -1;
    size_t i;

    int best = -1;

    /* Best first: read by the uploader, then an archive or a copy over a
     * file that merely holds the token among other things. */
    json_array_foreach(files, i, f)
    {
        const char *p = jstr(f, "path"), *kind = jstr(f, "kind");
        int score;

        /* Only a file with the token's bytes can have been what was sent: a
         * scan log naming the document's hash cannot. */
        if (p == NULL || strcmp(p, doc) == 0 || !carries_content(f, token))
            continue;
        score = (upid >= 0 && read_of(c, p, upid, limit) != NULL) * 2 +
                (kind != NULL && (strcmp(kind, "archive") == 0 || strcmp(kind, "copy") == 0));
        if (score > best) {
            best = score;
            pick = (long)i;
        }
    }
    if (pick < 0)
        return false;
    *out = (links){
        .fj = pick, .dj = -1, .stage_path = jstr(json_array_get(files, (size_t)pick), "path")};
    if (c->ix.log != NULL) {
        size_t lo, hi;

        /* Without the uploader's socket, the last process to read the staging
         * file before the upload is the likely uploader (linked by time). */
        out->uread = read_of(c, out->stage_path, upid, limit);
        range_path(&c->ix, out->stage_path, &lo, &hi);
        for (size_t k = lo; k < hi && spend(c); k++) {
            const avtb_fa_event *w = &c->ix.log->events[c->ix.by_path[k]];
            const avtb_fa_event *r;

            if (!is_write(w))
                continue;
            if (out->write == NULL)
                out->write = w;
            if ((r = related_reader(c, doc, w)) != NULL) {
                out->write = w;
                out->read = r;
                out->stage_link = "process";
                break;
            }
        }
        if (out->read == NULL) {
            double before = out->write ? out->write->t_last : limit;

            out->read = read_of(c, doc, -1, before + AVTB_CHAIN_ORDER_S);
            if (out->read != NULL)
                out->stage_link = "time";
        }
    }
    if (out->read == NULL) {
        out->dj = forensics_read(c, doc);
        out->stage_link = "token"; /* the file holds the document's token */
    }
    out->upload_link = out->uread ? (upid >= 0 ? "process" : "time") : "token";
    return true;
}

/* --- JSON ------------------------------------------------------------------ */

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *time_json(double t)
{
    char buf[32];

    avtb_utc_format(t, buf);
    return buf[0] ? json_string(buf) : json_null();
}

static void add_ref(json_t *arr, const char *fmt, ...) AVTB_PRINTF(2, 3);
static void add_ref(json_t *arr, const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    if (json_array_size(arr) >= AVTB_CHAIN_MAX_EVIDENCE)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    json_array_append_new(arr, json_string(buf));
}

/* Up to the evidence bound, the lines of pid's reads (or writes) of path up to limit. */
static void add_lines(ctx *c, json_t *ev, const char *path, int64_t pid, bool writes, double limit)
{
    size_t lo, hi;

    range_path(&c->ix, path, &lo, &hi);
    for (size_t k = lo; k < hi && json_array_size(ev) < AVTB_CHAIN_MAX_EVIDENCE && spend(c); k++) {
        const avtb_fa_event *e = &c->ix.log->events[c->ix.by_path[k]];

        if (e->t > limit)
            break;
        if (e->pid == pid && (writes ? is_write(e) : is_read(e)))
            add_ref(ev, AVTB_FA_FILE ":%zu", e->line);
    }
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/'), *b = strrchr(p, '\\');

    if (b != NULL && (s == NULL || b > s))
        s = b;
    return s && s[1] ? s + 1 : p;
}

static const char *who(const char *comm, const char *exe)
{
    return comm ? comm : exe ? base_name(exe) : "a process";
}

static void hms(double t, char out[16])
{
    char buf[32];

    avtb_utc_format(t, buf);
    snprintf(out, 16, "%.8s", buf[0] ? buf + 11 : "??:??:??");
}

static json_t *encoding_json(const char *enc)
{
    json_t *arr = json_array();
    char *copy = enc ? strdup(enc) : NULL, *save = NULL;

    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; arr && t;
         t = strtok_r(NULL, ",", &save))
        json_array_append_new(arr, json_string(t));
    free(copy);
    return arr;
}

static json_t *read_step(ctx *c, const char *doc, const links *lk, double limit)
{
    json_t *ev = json_array(), *o;
    const avtb_fa_event *r = lk->read;

    if (ev == NULL)
        return NULL;
    if (r != NULL) {
        add_lines(c, ev, doc, r->pid, false, limit);
        return json_pack("{s:s, s:o, s:I, s:o, s:o, s:s, s:[s], s:o}", "step", "read", "time",
                         time_json(r->t), "pid", (json_int_t)r->pid, "comm", str_or_null(r->comm),
                         "exe", str_or_null(r->exe), "path", doc, "found_by", "file-access",
                         "evidence", ev);
    }
    add_ref(ev, "forensics.json#/documents/%ld", lk->dj);
    o = json_pack("{s:s, s:n, s:n, s:n, s:n, s:s, s:[s], s:o}", "step", "read", "time", "pid",
                  "comm", "exe", "path", doc, "found_by", "forensics", "evidence", ev);
    if (o != NULL)
        json_object_set_new(
            o, "state",
            str_or_null(
                jstr(json_array_get(json_object_get(c->forensics, "documents"), (size_t)lk->dj),
                     "state")));
    return o;
}

static json_t *stage_step(ctx *c, const links *lk, double limit)
{
    json_t *ev = json_array(), *found = json_array(), *file = NULL;
    const avtb_fa_event *w = lk->write;

    if (ev == NULL || found == NULL) {
        json_decref(ev);
        json_decref(found);
        return NULL;
    }
    if (lk->fj >= 0) {
        file = json_array_get(json_object_get(c->forensics, "files"), (size_t)lk->fj);
        json_array_append_new(found, json_string("forensics"));
        add_ref(ev, "forensics.json#/files/%ld", lk->fj);
    }
    if (w != NULL || lk->uread != NULL)
        json_array_append_new(found, json_string("file-access"));
    if (w != NULL)
        add_lines(c, ev, lk->stage_path, w->pid, true, w->t_last);
    if (lk->uread != NULL)
        add_ref(ev, AVTB_FA_FILE ":%zu", lk->uread->line);
    (void)limit;
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s?, s:o}", "step", "stage", "path",
                     lk->stage_path, "pid", w ? json_integer((json_int_t)w->pid) : json_null(),
                     "comm", str_or_null(w ? w->comm : NULL), "time",
                     w ? time_json(w->t) : json_null(), "found_by", found, "kind",
                     str_or_null(jstr(file, "kind")), "saved", str_or_null(jstr(file, "saved")),
                     "linked_by", lk->stage_link, "evidence", ev);
}

static json_t *upload_step(const avtb_finding *f, size_t index, const proc *u,
                           const avtb_fa_socket *s, const char *link)
{
    json_t *ev = json_array();

    if (ev == NULL)
        return NULL;
    add_ref(ev, "report.json#/findings/%zu", index);
    if (f->flow > 0)
        add_ref(ev, "%s flow %llu", f->capture ? f->capture : "capture",
                (unsigned long long)f->flow);
    if (s != NULL)
        add_ref(ev, AVTB_FA_FILE ":%zu", s->line);
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:{s:s, s:i, s:o}, s:s?, s:o, s:s?, s:o}", "step",
                     "upload", "time", time_json(f->time), "pid",
                     u->pid >= 0 ? json_integer((json_int_t)u->pid) : json_null(), "comm",
                     str_or_null(u->comm), "exe", str_or_null(u->exe), "dst", "ip", f->dst.ip,
                     "port", (int)f->dst.port, "host", str_or_null(f->dst.host), "protocol",
                     f->protocol, "encoding", encoding_json(f->encoding), "linked_by", link,
                     "evidence", ev);
}

static json_t *summary(const char *doc, const links *lk, const avtb_finding *f, const proc *u,
                       const char *state)
{
    char buf[2048], t[16];
    size_t n = 0;
    const char *dst = f->dst.host ? f->dst.host : f->dst.ip;
    bool v6 = f->dst.host == NULL && strchr(f->dst.ip, ':') != NULL;

#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n < sizeof(buf))                                                                       \
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, __VA_ARGS__);                          \
    } while (0)
    if (lk->read != NULL) {
        hms(lk->read->t, t);
        ADD("%s (pid %lld) read %s at %s", who(lk->read->comm, lk->read->exe),
            (long long)lk->read->pid, base_name(doc), t);
    } else if (state != NULL) {
        ADD("%s was %s (forensics)", base_name(doc), state);
    } else {
        ADD("no process was seen reading %s", base_name(doc));
    }
    if (lk->stage_path != NULL && lk->write != NULL) {
        if (lk->read != NULL && lk->write->pid == lk->read->pid)
            ADD("; wrote %s", lk->stage_path);
        else
            ADD("; %s (pid %lld) wrote %s", who(lk->write->comm, lk->write->exe),
                (long long)lk->write->pid, lk->stage_path);
    } else if (lk->stage_path != NULL) {
        ADD("; %s holds its token (forensics)", lk->stage_path);
    }
    hms(f->time, t);
    const char *sent = f->kind == AVTB_FINDING_CONTENT ? "uploaded it" : "sent its hash or name";

    if (u->pid >= 0 && lk->upload_link != NULL && strcmp(lk->upload_link, "time") == 0)
        ADD("; %s (pid %lld), the last process to read it, %s (no socket seen)",
            who(u->comm, u->exe), (long long)u->pid, sent);
    else if (u->pid >= 0)
        ADD("; %s (pid %lld) %s", who(u->comm, u->exe), (long long)u->pid, sent);
    else
        ADD("; an unknown process %s", sent);
    ADD(" to %s%s%s:%u over %s at %s", v6 ? "[" : "", dst, v6 ? "]" : "", f->dst.port,
        f->protocol ? f->protocol : "?", t);
#undef ADD
    return json_string(buf);
}

/* The weakest link of the chain: process > token > time; NULL when none. */
static const char *weakest(const char *const *l, size_t n)
{
    static const char *order[] = {"time", "token", "process"};

    for (size_t k = 0; k < 3; k++)
        for (size_t i = 0; i < n; i++)
            if (l[i] && strcmp(l[i], order[k]) == 0)
                return order[k];
    return NULL;
}

static json_t *build_chain(ctx *c, const group *g)
{
    const avtb_finding *f = &c->findings->items[g->first];
    const avtb_fa_socket *s = find_socket(c, f);
    proc u = {.pid = s ? s->pid : -1, .comm = s ? s->comm : NULL, .exe = s ? s->exe : NULL};
    double limit = f->time + AVTB_CHAIN_SKEW_S;
    links lk = {.fj = -1, .dj = -1};
    json_t *o = NULL, *steps = json_array(), *members = json_array(), *st;
    const char *state = NULL, *lks[2];
    bool complete;

    if (steps == NULL || members == NULL)
        goto out;
    proc_fill(c, &u);
    if (u.pid >= 0 && (lk.read = read_of(c, g->path, u.pid, limit)) != NULL) {
        lk.upload_link = "process"; /* the uploader read the document itself */
    } else if (u.pid < 0 || !staged_by_process(c, g->path, f->token, u.pid, limit, &lk)) {
        lk = (links){.fj = -1, .dj = -1};
        if (!staged_by_forensics(c, g->path, f->token, u.pid, limit, &lk)) {
            lk = (links){.fj = -1, .dj = -1};
            lk.read = read_of(c, g->path, -1, limit);
            if (lk.read == NULL)
                lk.dj = forensics_read(c, g->path);
            lk.upload_link = lk.read ? "time" : lk.dj >= 0 ? "token" : NULL;
            if (u.pid < 0 && f->kind == AVTB_FINDING_CONTENT)
                lk.uread = lk.read; /* the document's last reader before the upload */
        }
    }
    /* Only content ties the uploader to a reader: a hash or a name can be
     * computed by one process and sent by another. */
    if (u.pid < 0 && lk.uread != NULL && f->kind == AVTB_FINDING_CONTENT) {
        u = (proc){.pid = lk.uread->pid};
        proc_fill(c, &u);
    }
    if (lk.read != NULL || lk.dj >= 0) {
        st = read_step(c, g->path, &lk, limit);
        if (st == NULL || json_array_append_new(steps, st) < 0)
            goto out;
        if (lk.read == NULL)
            state = jstr(json_array_get(json_object_get(c->forensics, "documents"), (size_t)lk.dj),
                         "state");
    }
    if (lk.stage_path != NULL) {
        st = stage_step(c, &lk, limit);
        if (st == NULL || json_array_append_new(steps, st) < 0)
            goto out;
    }
    st = upload_step(f, g->first, &u, s, lk.upload_link);
    if (st == NULL || json_array_append_new(steps, st) < 0)
        goto out;
    for (size_t i = 0; i < g->nmembers; i++)
        json_array_append_new(members, json_integer((json_int_t)g->members[i].index));
    /* A guessed uploader (linked by time) leaves the chain incomplete. */
    complete = lk.read != NULL && u.pid >= 0 && (lk.stage_path == NULL || lk.write != NULL) &&
               (lk.upload_link == NULL || strcmp(lk.upload_link, "time") != 0);
    lks[0] = lk.stage_path ? lk.stage_link : NULL;
    lks[1] = lk.upload_link;
    o = json_pack("{s:s, s:s?, s:I, s:o, s:b, s:s?, s:o, s:o}", "document", g->path, "token",
                  f->token, "finding", (json_int_t)g->first, "findings", members, "complete",
                  complete, "linked_by", weakest(lks, 2), "steps", steps, "summary",
                  summary(g->path, &lk, f, &u, state));
    steps = members = NULL; /* transferred (json_pack takes "o" even when it fails) */
out:
    json_decref(steps);
    json_decref(members);
    return o;
}

/* --- grouping findings ----------------------------------------------------- */

static int cmp_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

/* One uploading connection: the same capture and flow, or when the flow is
 * not known, the same addresses. */
static int cmp_conn(const avtb_finding *x, const avtb_finding *y)
{
    int c = cmp_str(x->capture, y->capture);

    if (c != 0)
        return c;
    if (x->flow != y->flow)
        return x->flow < y->flow ? -1 : 1;
    if (x->flow != 0)
        return 0;
    if ((c = strcmp(x->src.ip, y->src.ip)) != 0 || (c = strcmp(x->dst.ip, y->dst.ip)) != 0)
        return c;
    if (x->src.port != y->src.port)
        return x->src.port < y->src.port ? -1 : 1;
    return (x->dst.port > y->dst.port) - (x->dst.port < y->dst.port);
}

static int cmp_gkey(const void *a, const void *b, void *arg)
{
    const avtb_findings *fs = arg;
    const gkey *x = a, *y = b;
    int c = strcmp(x->path, y->path);

    if (c == 0)
        c = cmp_conn(&fs->items[x->index], &fs->items[y->index]);
    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

static int cmp_group(const void *a, const void *b)
{
    const group *x = a, *y = b;

    return (x->first > y->first) - (x->first < y->first);
}

json_t *avtb_chains_build(const avtb_findings *findings, const avtb_fa_log *fa, json_t *forensics,
                          json_t *registry_json)
{
    ctx c = {.findings = findings, .forensics = forensics};
    gkey *keys = NULL;
    group *groups = NULL;
    size_t nkeys = 0, ngroups = 0;
    json_t *arr = NULL, *result = NULL;

    if (findings == NULL)
        return json_array();
    if (!index_build(&c.ix, fa) || !registry_load(&c.reg, registry_json))
        goto out;
    keys = calloc(findings->count + 1, sizeof(*keys));
    groups = calloc(findings->count + 1, sizeof(*groups));
    if ((arr = json_array()) == NULL || keys == NULL || groups == NULL)
        goto out;
    for (size_t i = 0; i < findings->count; i++) {
        const avtb_finding *f = &findings->items[i];
        const char *doc;

        if (f->kind == AVTB_FINDING_SUSPECTED || f->token == NULL)
            continue;
        doc = f->document ? f->document : registry_doc(&c.reg, f->token);
        if (doc == NULL)
            continue;
        keys[nkeys++] = (gkey){i, planted_path(&c.reg, doc)};
    }
    qsort_r(keys, nkeys, sizeof(*keys), cmp_gkey, (void *)findings);
    /* Groups point into keys: members of one group are consecutive, and the
     * lowest index (the first in report order) leads. */
    for (size_t i = 0; i < nkeys;) {
        size_t j = i + 1;

        while (j < nkeys && strcmp(keys[j].path, keys[i].path) == 0 &&
               cmp_conn(&findings->items[keys[j].index], &findings->items[keys[i].index]) == 0)
            j++;
        groups[ngroups++] = (group){
            .first = keys[i].index, .members = &keys[i], .nmembers = j - i, .path = keys[i].path};
        i = j;
    }
    qsort(groups, ngroups, sizeof(*groups), cmp_group);
    for (size_t i = 0; i < ngroups; i++) {
        json_t *ch;

        c.work = 0;
        ch = build_chain(&c, &groups[i]);
        if (ch == NULL || json_array_append_new(arr, ch) < 0)
            goto out;
    }
    result = arr;
    arr = NULL; /* transferred */
out:
    json_decref(arr);
    free(keys);
    free(groups);
    registry_free(&c.reg);
    index_free(&c.ix);
    return result;
}

/* --- per-document access --------------------------------------------------- */

typedef struct pacc {
    int64_t pid;
    const char *comm, *exe, *cmdline;
    double first, last;
    uint64_t reads, writes, execs;
    size_t lines[AVTB_CHAIN_MAX_EVIDENCE];
    size_t nlines;
} pacc;

static int cmp_pacc(const void *a, const void *b)
{
    const pacc *x = a, *y = b;
    int c = cmp_double(x->first, y->first);

    return c != 0 ? c : (x->pid > y->pid) - (x->pid < y->pid);
}

static json_t *pacc_json(const pacc *p)
{
    json_t *ev = json_array();

    for (size_t i = 0; ev && i < p->nlines; i++)
        add_ref(ev, AVTB_FA_FILE ":%zu", p->lines[i]);
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:o}", "pid",
                     (json_int_t)p->pid, "comm", str_or_null(p->comm), "exe", str_or_null(p->exe),
                     "cmdline", str_or_null(p->cmdline), "first", time_json(p->first), "last",
                     time_json(p->last), "reads", (json_int_t)p->reads, "writes",
                     (json_int_t)p->writes, "execs", (json_int_t)p->execs, "evidence", ev);
}

/* The processes that touched path, first toucher first. */
static json_t *doc_processes(const fa_index *ix, const char *path, size_t *omitted)
{
    size_t lo = 0, hi = 0, n, np = 0;
    size_t *idx = NULL;
    pacc *ps = NULL;
    json_t *arr = json_array(), *result = NULL;

    *omitted = 0;
    if (arr == NULL)
        goto out;
    if (ix->log != NULL)
        range_path(ix, path, &lo, &hi);
    n = hi - lo;
    idx = malloc((n + 1) * sizeof(*idx));
    ps = calloc(n + 1, sizeof(*ps));
    if (idx == NULL || ps == NULL)
        goto out;
    if (n > 0)
        memcpy(idx, ix->by_path + lo, n * sizeof(*idx));
    qsort_r(idx, n, sizeof(*idx), cmp_pid, ix->log ? ix->log->events : NULL);
    for (size_t k = 0; k < n; k++) {
        const avtb_fa_event *e = &ix->log->events[idx[k]];
        pacc *p;

        if (np == 0 || ps[np - 1].pid != e->pid)
            ps[np++] = (pacc){.pid = e->pid, .first = e->t, .last = e->t_last};
        p = &ps[np - 1];
        if (p->comm == NULL)
            p->comm = e->comm;
        if (p->exe == NULL)
            p->exe = e->exe;
        if (p->cmdline == NULL)
            p->cmdline = e->cmdline;
        if (e->t < p->first)
            p->first = e->t;
        if (e->t_last > p->last)
            p->last = e->t_last;
        if (e->mask & (AVTB_FA_ACCESS | AVTB_FA_CLOSE_NOWRITE))
            p->reads += e->count;
        if (e->mask & WRITE_MASK)
            p->writes += e->count;
        if (e->mask & AVTB_FA_OPEN_EXEC)
            p->execs++;
        if (p->nlines < AVTB_CHAIN_MAX_EVIDENCE)
            p->lines[p->nlines++] = e->line;
    }
    qsort(ps, np, sizeof(*ps), cmp_pacc);
    for (size_t k = 0; k < np; k++) {
        json_t *o;

        if (k >= AVTB_CHAIN_MAX_PROCESSES) {
            *omitted = np - k;
            break;
        }
        o = pacc_json(&ps[k]);
        if (o == NULL || json_array_append_new(arr, o) < 0)
            goto out;
    }
    result = arr;
    arr = NULL; /* transferred */
out:
    json_decref(arr);
    free(idx);
    free(ps);
    return result;
}

json_t *avtb_fa_document_access(const avtb_fa_log *fa, json_t *registry_json)
{
    fa_index ix;
    registry reg = {0};
    json_t *arr = NULL, *result = NULL;

    if (!index_build(&ix, fa) || !registry_load(&reg, registry_json) ||
        (arr = json_array()) == NULL)
        goto out;
    for (size_t i = 0; i < reg.ndocs; i++) {
        const char *token = NULL;
        size_t omitted;
        json_t *procs = doc_processes(&ix, reg.docs[i], &omitted), *o;

        for (size_t k = 0; k < reg.ntokens && token == NULL; k++)
            if (strcmp(reg.tokens[k].document, reg.docs[i]) == 0)
                token = reg.tokens[k].token;
        if (procs == NULL)
            goto out;
        o = json_pack("{s:s, s:s?, s:o, s:I}", "document", reg.docs[i], "token", token, "processes",
                      procs, "processes_omitted", (json_int_t)omitted);
        if (o == NULL || json_array_append_new(arr, o) < 0)
            goto out;
    }
    result = arr;
    arr = NULL; /* transferred */
out:
    json_decref(arr);
    registry_free(&reg);
    index_free(&ix);
    return result;
}

/* ---- an evidence directory ------------------------------------------------ */

static void problem(char **problems, size_t max, size_t *count, const char *fmt, ...)
    AVTB_PRINTF(4, 5);

static void problem(char **problems, size_t max, size_t *count, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;

    if (*count >= max)
        return;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (msg != NULL)
        problems[(*count)++] = msg;
}

/* DIR/NAME parsed; NULL when missing (silently) or unreadable (a problem). */
static json_t *load_json(const char *dir, const char *name, char **problems, size_t max,
                         size_t *count)
{
    char *path = avtb_path_join(dir, name);
    json_error_t jerr;
    json_t *j = NULL;

    if (path != NULL && access(path, F_OK) == 0) {
        j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (j == NULL)
            problem(problems, max, count, "%s: %s at line %d; the evidence cannot be read", path,
                    jerr.text, jerr.line);
    }
    free(path);
    return j;
}

void avtb_file_evidence_clear(avtb_file_evidence *fe)
{
    json_decref(fe->forensics);
    json_decref(fe->document_access);
    json_decref(fe->chains);
    memset(fe, 0, sizeof(*fe));
}

avtb_err avtb_file_evidence_load(const char *dir, const avtb_findings *findings,
                                 avtb_file_evidence *out, char **problems, size_t nproblems,
                                 size_t *count, avtb_error *err)
{
    json_t *reg = load_json(dir, "tokens.json", problems, nproblems, count);
    char *fapath = avtb_path_join(dir, AVTB_FA_FILE);
    avtb_fa_log *log = NULL;
    avtb_error ferr = {0};
    avtb_err r = AVTB_ERR_NOMEM;

    memset(out, 0, sizeof(*out));
    if (fapath == NULL)
        goto out;
    out->forensics = load_json(dir, "forensics.json", problems, nproblems, count);
    if (access(fapath, F_OK) == 0) {
        r = avtb_fa_log_load(fapath, NULL, &log, &ferr);
        if (r == AVTB_ERR_NOMEM) {
            avtb_error_set(err, r, "%s", ferr.msg);
            goto out;
        }
        if (r != AVTB_OK)
            problem(problems, nproblems, count, "file-access evidence: %s", ferr.msg);
        r = AVTB_ERR_NOMEM;
        if (log != NULL && (out->document_access = avtb_fa_document_access(log, reg)) == NULL)
            goto out;
    }
    r = AVTB_ERR_NOMEM;
    if (reg != NULL &&
        (out->chains = avtb_chains_build(findings, log, out->forensics, reg)) == NULL)
        goto out;
    r = AVTB_OK;
out:
    if (r == AVTB_ERR_NOMEM && err->code == AVTB_OK)
        avtb_error_set(err, r, "out of memory building the chains");
    if (r != AVTB_OK)
        avtb_file_evidence_clear(out);
    avtb_fa_log_free(log);
    json_decref(reg);
    free(fapath);
    return r;
}
