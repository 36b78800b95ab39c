/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The file access channel on the host: the live monitor (is the agent
 * alive, did it lose events) and the loader of file-access.jsonl; see
 * fileaccess.h. Guest values are hostile: every field is type-checked and
 * every kept string is bounded.
 */
#include "collectors/fileaccess.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

/* After a bye the guest has this long to power off before the agent counts as
 * terminated (a bye long before the end is a SIGTERM from someone else). */
#define BYE_GRACE_S 30.0
/* Latest time accepted from the guest: 9999-12-31. */
#define TIME_MAX 253402300799.0

/* --- the live monitor ------------------------------------------------------ */

typedef struct fa_gap {
    double from, to;
} fa_gap;

struct avtb_fa_monitor {
    bool hello, fanotify, bye, ended, disabled;
    char agent[AVTB_FA_MON_STR + 1], kernel[AVTB_FA_MON_STR + 1], reason[AVTB_FA_MON_STR + 1];
    bool has_agent, has_kernel, has_reason;
    unsigned hb_ms;
    uint64_t hellos, heartbeats, events, sockets, overflows, dropped, guest_events, anomalies;
    uint64_t ignored; /* messages of other types */
    double first_hb, last_hb, last_alive, end_time;
    bool last_is_bye; /* last_alive is the bye's time */
    double guest_last_hb;
    bool has_guest_hb;
    int64_t last_seq; /* -1: unknown */
    fa_gap gaps[AVTB_FA_MAX_GAPS];
    size_t ngaps;
    uint64_t gaps_omitted;
    bool in_gap;      /* heartbeats stopped; not (yet) resumed */
    double loss_time; /* first overflow or dropped line; 0: none */
    bool lost;        /* set by end: stopped and never came back */
    char notice[512];
};

avtb_fa_monitor *avtb_fa_monitor_new(void)
{
    avtb_fa_monitor *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->hb_ms = 1000;
    m->last_seq = -1;
    return m;
}

void avtb_fa_monitor_free(avtb_fa_monitor *m)
{
    free(m);
}

/* Copies a guest string, cut at AVTB_FA_MON_STR bytes on a UTF-8 boundary. */
static bool copy_str(char dst[AVTB_FA_MON_STR + 1], json_t *v)
{
    const char *s = json_string_value(v);
    size_t n;

    if (s == NULL)
        return false;
    n = strlen(s);
    if (n > AVTB_FA_MON_STR) {
        n = AVTB_FA_MON_STR;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

/* A non-negative integer field; false when absent or of another type. */
static bool get_count(json_t *msg, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(msg, key);

    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

static double threshold(const avtb_fa_monitor *m)
{
    double t = 5.0 * m->hb_ms / 1000.0;

    if (t < AVTB_FA_GAP_MIN_S)
        t = AVTB_FA_GAP_MIN_S;
    if (m->last_is_bye && t < BYE_GRACE_S)
        t = BYE_GRACE_S;
    return t;
}

/* When the agent stopped: the next heartbeat was due (or it said bye). */
static double stopped_at(const avtb_fa_monitor *m)
{
    return m->last_is_bye ? m->last_alive : m->last_alive + m->hb_ms / 1000.0;
}

static bool watching(const avtb_fa_monitor *m)
{
    return m->hello && !m->ended;
}

static void check_gap(avtb_fa_monitor *m, double now)
{
    if (watching(m) && !m->in_gap && now - m->last_alive > threshold(m))
        m->in_gap = true;
}

/* A sign of life at now: closes a gap the agent came back from. */
static void alive(avtb_fa_monitor *m, double now, bool bye)
{
    if (m->ended)
        return;
    check_gap(m, now);
    if (m->in_gap) {
        double from = stopped_at(m);

        if (m->ngaps < AVTB_FA_MAX_GAPS)
            m->gaps[m->ngaps++] = (fa_gap){from, now > from ? now : from};
        else
            m->gaps_omitted++;
        m->in_gap = false;
    }
    if (now > m->last_alive)
        m->last_alive = now;
    m->last_is_bye = bye;
}

static void note_dropped(avtb_fa_monitor *m, json_t *msg, double now)
{
    uint64_t v;

    if (get_count(msg, "dropped", &v) && v > m->dropped) {
        m->dropped = v;
        if (m->loss_time == 0)
            m->loss_time = now;
    }
    if (get_count(msg, "events", &v) && v > m->guest_events)
        m->guest_events = v;
}

static void on_hello(avtb_fa_monitor *m, json_t *msg, double now)
{
    json_t *v;

    m->hellos++;
    if (m->hello)
        return; /* a second hello: the agent restarted; the first one's facts stand */
    m->hello = true;
    m->has_agent = copy_str(m->agent, json_object_get(msg, "agent"));
    m->has_kernel = copy_str(m->kernel, json_object_get(msg, "kernel"));
    m->has_reason = copy_str(m->reason, json_object_get(msg, "reason"));
    /* Only a real true: a hello that does not say so has no file monitor. */
    m->fanotify = json_is_true(json_object_get(msg, "fanotify"));
    v = json_object_get(msg, "heartbeat_ms");
    if (json_is_integer(v)) {
        json_int_t ms = json_integer_value(v);

        m->hb_ms = ms < AVTB_FA_HB_MIN_MS   ? AVTB_FA_HB_MIN_MS
                   : ms > AVTB_FA_HB_MAX_MS ? AVTB_FA_HB_MAX_MS
                                            : (unsigned)ms;
    }
    m->last_alive = now;
}

static void on_heartbeat(avtb_fa_monitor *m, json_t *msg, double now)
{
    json_t *v;

    m->heartbeats++;
    if (m->heartbeats == 1)
        m->first_hb = now;
    m->last_hb = now;
    v = json_object_get(msg, "seq");
    m->last_seq = json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
    v = json_object_get(msg, "t");
    m->has_guest_hb =
        json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) <= TIME_MAX;
    if (m->has_guest_hb)
        m->guest_last_hb = json_number_value(v);
    note_dropped(m, msg, now);
    if (m->hello)
        alive(m, now, false);
}

static void update_notice(avtb_fa_monitor *m);

void avtb_fa_monitor_msg(avtb_fa_monitor *m, const char *type, json_t *msg, double now)
{
    if (m == NULL || type == NULL || !json_is_object(msg))
        return;
    if (m->ended) {
        m->ignored++; /* the run stopped watching: nothing changes its verdict */
        return;
    }
    if (strcmp(type, "file") == 0) {
        m->events++;
        return;
    }
    if (strcmp(type, "socket") == 0) {
        m->sockets++;
        return;
    }
    if (strcmp(type, "hello") == 0) {
        on_hello(m, msg, now);
    } else if (strcmp(type, "heartbeat") == 0) {
        on_heartbeat(m, msg, now);
    } else if (strcmp(type, "overflow") == 0) {
        m->overflows++;
        if (m->loss_time == 0)
            m->loss_time = now;
        note_dropped(m, msg, now);
    } else if (strcmp(type, "bye") == 0) {
        m->bye = true;
        note_dropped(m, msg, now);
        if (m->hello)
            alive(m, now, true);
    } else {
        m->ignored++;
        return;
    }
    update_notice(m);
}

void avtb_fa_monitor_anomaly(avtb_fa_monitor *m, double now)
{
    (void)now;
    if (m != NULL)
        m->anomalies++;
}

void avtb_fa_monitor_tick(avtb_fa_monitor *m, double now)
{
    if (m != NULL)
        check_gap(m, now);
}

void avtb_fa_monitor_end(avtb_fa_monitor *m, double now, bool disabled)
{
    if (m == NULL || m->ended)
        return;
    check_gap(m, now);
    m->lost = m->hello && !disabled && m->in_gap;
    m->ended = true;
    m->end_time = now;
    m->disabled = disabled;
    update_notice(m);
}

const char *avtb_fa_monitor_status(const avtb_fa_monitor *m)
{
    if (m->disabled)
        return "disabled";
    if (!m->hello)
        return "never-connected";
    if (m->lost || m->in_gap)
        return "lost";
    if (!m->fanotify)
        return "no-fanotify";
    return "monitored";
}

static bool forensics_only(const avtb_fa_monitor *m)
{
    return m->disabled || !m->hello || !m->fanotify;
}

static json_t *time_or_null(double t, bool have)
{
    char buf[32];

    if (!have)
        return json_null();
    avtb_utc_format(t, buf);
    return buf[0] ? json_string(buf) : json_null();
}

static json_t *gaps_json(const avtb_fa_monitor *m)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < m->ngaps; i++) {
        const fa_gap *g = &m->gaps[i];
        json_t *o = json_pack("{s:o, s:o, s:f}", "from", time_or_null(g->from, true), "to",
                              time_or_null(g->to, true), "seconds",
                              round((g->to - g->from) * 1000.0) / 1000.0);

        if (o == NULL || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *avtb_fa_monitor_json(const avtb_fa_monitor *m)
{
    bool lost = strcmp(avtb_fa_monitor_status(m), "lost") == 0;
    json_t *o = json_object();
    int bad = o == NULL;

#define SET(k, v) bad |= json_object_set_new(o, k, v) < 0
    if (bad)
        return NULL;
    SET("status", json_string(avtb_fa_monitor_status(m)));
    SET("agent", m->has_agent ? json_string(m->agent) : json_null());
    SET("kernel", m->has_kernel ? json_string(m->kernel) : json_null());
    SET("fanotify", m->hello ? json_boolean(m->fanotify) : json_null());
    SET("reason", m->has_reason ? json_string(m->reason) : json_null());
    SET("heartbeat_ms", m->hello ? json_integer(m->hb_ms) : json_null());
    SET("heartbeats", json_integer((json_int_t)m->heartbeats));
    SET("events", json_integer((json_int_t)m->events));
    SET("guest_events", json_integer((json_int_t)m->guest_events));
    SET("sockets", json_integer((json_int_t)m->sockets));
    SET("overflows", json_integer((json_int_t)m->overflows));
    SET("dropped", json_integer((json_int_t)m->dropped));
    SET("anomalies", json_integer((json_int_t)m->anomalies));
    SET("ignored", json_integer((json_int_t)m->ignored));
    SET("hellos", json_integer((json_int_t)m->hellos));
    SET("bye", json_boolean(m->bye));
    SET("first_heartbeat", time_or_null(m->first_hb, m->heartbeats > 0));
    SET("last_heartbeat", time_or_null(m->last_hb, m->heartbeats > 0));
    SET("lost_at", time_or_null(stopped_at(m), lost));
    SET("guest_last_heartbeat", time_or_null(m->guest_last_hb, m->has_guest_hb));
    SET("gaps", gaps_json(m));
    SET("gaps_omitted", json_integer((json_int_t)m->gaps_omitted));
    SET("forensics_only", json_boolean(forensics_only(m)));
#undef SET
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Appends a formatted sentence to *list; false when out of memory. */
static bool add_sentence(char ***list, size_t *n, const char *fmt, ...) AVTB_PRINTF(3, 4);
static bool add_sentence(char ***list, size_t *n, const char *fmt, ...)
{
    char **l = reallocarray(*list, *n + 1, sizeof(*l));
    va_list ap;
    int rc;

    if (l == NULL)
        return false;
    *list = l;
    va_start(ap, fmt);
    rc = vasprintf(&l[*n], fmt, ap);
    va_end(ap);
    if (rc < 0)
        return false;
    (*n)++;
    return true;
}

size_t avtb_fa_monitor_problems(const avtb_fa_monitor *m, char ***out)
{
    char **list = NULL;
    size_t n = 0;
    bool ok = true;
    char a[32], b[32], after[64];

    *out = NULL;
    for (size_t i = 0; ok && i < m->ngaps; i++) {
        avtb_utc_format(m->gaps[i].from, a);
        avtb_utc_format(m->gaps[i].to, b);
        ok = add_sentence(&list, &n, "file-access monitoring interrupted from %s to %s (%.0f s)", a,
                          b, m->gaps[i].to - m->gaps[i].from);
    }
    if (ok && m->gaps_omitted > 0)
        ok = add_sentence(&list, &n, "file-access monitoring interrupted %llu more times",
                          (unsigned long long)m->gaps_omitted);
    if (ok && strcmp(avtb_fa_monitor_status(m), "lost") == 0) {
        avtb_utc_format(stopped_at(m), a);
        if (m->last_seq >= 0)
            snprintf(after, sizeof(after), "#%lld", (long long)m->last_seq);
        else if (m->heartbeats > 0)
            snprintf(after, sizeof(after), "heartbeat %llu", (unsigned long long)m->heartbeats);
        else
            snprintf(after, sizeof(after), "its hello");
        if (m->last_is_bye)
            ok = add_sentence(&list, &n,
                              "file-access monitoring lost at %s (the agent said bye but the "
                              "guest ran on; it was terminated)",
                              a);
        else
            ok = add_sentence(&list, &n,
                              "file-access monitoring lost at %s (no heartbeat from the agent "
                              "after %s; it was killed or frozen)",
                              a, after);
    }
    if (!ok) {
        for (size_t i = 0; i < n; i++)
            free(list[i]);
        free(list);
        return 0;
    }
    *out = list;
    return n;
}

static void update_notice(avtb_fa_monitor *m)
{
    char when[32];

    m->notice[0] = '\0';
    if (m->disabled) {
        snprintf(m->notice, sizeof(m->notice),
                 "file-access monitoring was turned off by the scenario; file access comes "
                 "from the disk forensics only");
    } else if (!m->hello) {
        snprintf(m->notice, sizeof(m->notice),
                 "the file-access agent never connected (no hello); file access comes from "
                 "the disk forensics only");
    } else if (!m->fanotify) {
        snprintf(m->notice, sizeof(m->notice),
                 "the file-access agent could not watch files (%s); file access comes from the "
                 "disk forensics only",
                 m->has_reason ? m->reason : "fanotify unavailable");
    } else if (m->overflows > 0 || m->dropped > 0) {
        avtb_utc_format(m->loss_time, when);
        snprintf(m->notice, sizeof(m->notice),
                 "the file-access agent lost events (%llu queue overflows, %llu dropped), the "
                 "first at %s; file access is incomplete from then",
                 (unsigned long long)m->overflows, (unsigned long long)m->dropped, when);
    }
}

const char *avtb_fa_monitor_notice(const avtb_fa_monitor *m)
{
    if (m->notice[0] != '\0')
        return m->notice;
    /* Before any update (no message at all), the run has no agent so far. */
    if (!m->hello)
        return "the file-access agent never connected (no hello); file access comes from "
               "the disk forensics only";
    return NULL;
}

/* --- the evidence log ------------------------------------------------------ */

#define DEF_MAX_LINES   (2u << 20)
#define DEF_MAX_LINE    65536u
#define DEF_MAX_EVENTS  (2u << 20)
#define DEF_MAX_SOCKETS 200000u
/* Strings kept from a line (the agent cuts path at 2400 bytes, cmdline at 2000). */
#define FA_STR_MAX 4096

/* Interned strings: events of one process share comm, exe, cmdline and paths. */
typedef struct strtab {
    char **slots;
    size_t cap, n; /* cap a power of two */
} strtab;

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static bool strtab_grow(strtab *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    char **slots = calloc(cap, sizeof(*slots));

    if (slots == NULL)
        return false;
    for (size_t i = 0; i < t->cap; i++) {
        char *s = t->slots[i];
        size_t j;

        if (s == NULL)
            continue;
        j = hash_bytes(s, strlen(s)) & (cap - 1);
        while (slots[j] != NULL)
            j = (j + 1) & (cap - 1);
        slots[j] = s;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return true;
}

/* The shared copy of s[0..n) (no NUL inside); NULL when out of memory. */
static char *intern(strtab *t, const char *s, size_t n)
{
    size_t j;

    if ((t->n + 1) * 2 > t->cap && !strtab_grow(t))
        return NULL;
    j = hash_bytes(s, n) & (t->cap - 1);
    for (; t->slots[j] != NULL; j = (j + 1) & (t->cap - 1))
        if (strncmp(t->slots[j], s, n) == 0 && t->slots[j][n] == '\0')
            return t->slots[j];
    t->slots[j] = strndup(s, n);
    if (t->slots[j] != NULL)
        t->n++;
    return t->slots[j];
}

static void strtab_free(strtab *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i]);
    free(t->slots);
    free(t);
}

void avtb_fa_log_free(avtb_fa_log *l)
{
    if (l == NULL)
        return;
    free(l->events);
    free(l->sockets);
    strtab_free(l->strings);
    free(l);
}

typedef struct fa_parser {
    avtb_fa_log *log;
    avtb_fa_log_limits lim;
    char *line; /* lim.max_line bytes */
    size_t have;
    bool skipping; /* inside an over-long line */
    bool stop;     /* max_lines reached */
    size_t ecap, scap;
    bool nomem;
} fa_parser;

static bool time_ok(json_t *v)
{
    double d = json_number_value(v);

    return json_is_number(v) && isfinite(d) && d >= 0 && d <= TIME_MAX;
}

/* An optional string field: NULL when absent, null or of the wrong type
 * (counted); cut at FA_STR_MAX on a UTF-8 boundary. */
static char *opt_str(fa_parser *p, json_t *msg, const char *key)
{
    json_t *v = json_object_get(msg, key);
    const char *s;
    size_t n;
    char *r;

    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        p->log->bad_fields++;
        return NULL;
    }
    s = json_string_value(v);
    n = strnlen(s, json_string_length(v)); /* stops at an embedded NUL */
    if (n > FA_STR_MAX) {
        n = FA_STR_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    r = intern(p->log->strings, s, n);
    if (r == NULL)
        p->nomem = true;
    return r;
}

/* An optional integer field; -1 when absent, null, negative or of the wrong type. */
static int64_t opt_int(fa_parser *p, json_t *msg, const char *key)
{
    json_t *v = json_object_get(msg, key);

    if (v == NULL || json_is_null(v))
        return -1;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        p->log->bad_fields++;
        return -1;
    }
    return json_integer_value(v);
}

static unsigned parse_mask(json_t *v)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        {"open", AVTB_FA_OPEN},
        {"open_exec", AVTB_FA_OPEN_EXEC},
        {"access", AVTB_FA_ACCESS},
        {"modify", AVTB_FA_MODIFY},
        {"close_write", AVTB_FA_CLOSE_WRITE},
        {"close_nowrite", AVTB_FA_CLOSE_NOWRITE},
    };
    unsigned mask = 0;
    size_t i;
    json_t *e;

    json_array_foreach(v, i, e)
    {
        const char *s = json_string_value(e);

        for (size_t k = 0; s != NULL && k < sizeof(names) / sizeof(names[0]); k++)
            if (strcmp(s, names[k].name) == 0)
                mask |= names[k].bit;
    }
    return mask;
}

/* false: the line is bad. */
static bool parse_file(fa_parser *p, json_t *msg, size_t line)
{
    avtb_fa_log *l = p->log;
    json_t *t = json_object_get(msg, "t"), *pid = json_object_get(msg, "pid");
    json_t *mask = json_object_get(msg, "mask"), *v;
    avtb_fa_event e = {.line = line};
    uint64_t count = 1;

    if (!time_ok(t) || !json_is_integer(pid) || json_integer_value(pid) < 0 ||
        !json_is_array(mask) || (e.mask = parse_mask(mask)) == 0)
        return false;
    if (l->nevents >= p->lim.max_events) {
        l->truncated = true;
        return true;
    }
    e.t = e.t_last = json_number_value(t);
    e.pid = json_integer_value(pid);
    e.ppid = opt_int(p, msg, "ppid");
    e.uid = opt_int(p, msg, "uid");
    if (get_count(msg, "count", &count) && count >= 1)
        e.count = count;
    else if (json_object_get(msg, "count") != NULL)
        l->bad_fields++;
    if (e.count == 0)
        e.count = 1;
    v = json_object_get(msg, "t_last");
    if (time_ok(v) && json_number_value(v) >= e.t)
        e.t_last = json_number_value(v);
    else if (v != NULL)
        l->bad_fields++;
    e.comm = opt_str(p, msg, "comm");
    e.exe = opt_str(p, msg, "exe");
    e.cmdline = opt_str(p, msg, "cmdline");
    e.path = opt_str(p, msg, "path");
    if (e.path != NULL) {
        static const char deleted[] = " (deleted)";
        size_t n = strlen(e.path), k = sizeof(deleted) - 1;

        if (n > k && strcmp(e.path + n - k, deleted) == 0) {
            e.path = intern(l->strings, e.path, n - k);
            p->nomem = p->nomem || e.path == NULL;
        }
    }
    if (p->nomem)
        return true;
    if (l->nevents == p->ecap) {
        size_t cap = p->ecap ? p->ecap * 2 : 256;
        avtb_fa_event *ev = reallocarray(l->events, cap, sizeof(*ev));

        if (ev == NULL) {
            p->nomem = true;
            return true;
        }
        l->events = ev;
        p->ecap = cap;
    }
    l->events[l->nevents++] = e;
    return true;
}

static bool parse_socket(fa_parser *p, json_t *msg, size_t line)
{
    avtb_fa_log *l = p->log;
    json_t *t = json_object_get(msg, "t"), *pid = json_object_get(msg, "pid");
    avtb_fa_socket s = {.line = line};

    if (!time_ok(t) || !json_is_integer(pid) || json_integer_value(pid) < 0 ||
        !json_is_string(json_object_get(msg, "local")))
        return false;
    if (l->nsockets >= p->lim.max_sockets) {
        l->truncated = true;
        return true;
    }
    s.t = json_number_value(t);
    s.pid = json_integer_value(pid);
    s.comm = opt_str(p, msg, "comm");
    s.exe = opt_str(p, msg, "exe");
    s.proto = opt_str(p, msg, "proto");
    s.local = opt_str(p, msg, "local");
    s.remote = opt_str(p, msg, "remote");
    s.state = opt_str(p, msg, "state");
    if (p->nomem)
        return true;
    if (l->nsockets == p->scap) {
        size_t cap = p->scap ? p->scap * 2 : 64;
        avtb_fa_socket *sv = reallocarray(l->sockets, cap, sizeof(*sv));

        if (sv == NULL) {
            p->nomem = true;
            return true;
        }
        l->sockets = sv;
        p->scap = cap;
    }
    l->sockets[l->nsockets++] = s;
    return true;
}

/* One complete line (without its newline), already counted in log->lines. */
static void handle_line(fa_parser *p, const char *buf, size_t len)
{
    avtb_fa_log *l = p->log;
    json_t *rec, *msg, *dir;
    const char *type;
    bool ok = true;

    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len == 0)
        return;
    rec = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(rec)) {
        l->bad_lines++;
        json_decref(rec);
        return;
    }
    msg = json_object_get(rec, "msg");
    dir = json_object_get(rec, "dir");
    if (json_object_get(rec, "anomaly") != NULL) {
        l->anomalies++;
    } else if (json_is_string(dir) && strcmp(json_string_value(dir), "in") != 0) {
        /* the host's own lines: nothing of the guest's */
    } else if (!json_is_object(msg)) {
        ok = false;
    } else if ((type = json_string_value(json_object_get(msg, "type"))) == NULL) {
        ok = false;
    } else if (strcmp(type, "file") == 0) {
        ok = parse_file(p, msg, l->lines);
    } else if (strcmp(type, "socket") == 0) {
        ok = parse_socket(p, msg, l->lines);
    }
    if (!ok)
        l->bad_lines++;
    json_decref(rec);
}

/* Counts a new line; false (and stop) when it is one over max_lines. */
static bool next_line(fa_parser *p)
{
    if (p->log->lines >= p->lim.max_lines) {
        p->log->truncated = true;
        p->stop = true;
        return false;
    }
    p->log->lines++;
    return true;
}

static void parser_feed(fa_parser *p, const uint8_t *buf, size_t len)
{
    size_t i = 0;

    while (i < len && !p->stop && !p->nomem) {
        const uint8_t *nl = memchr(buf + i, '\n', len - i);
        size_t chunk = nl ? (size_t)(nl - (buf + i)) : len - i;

        if (p->skipping) {
            if (nl != NULL)
                p->skipping = false;
        } else if (chunk > p->lim.max_line - p->have) {
            /* Over-long: one bad line, the rest up to its newline skipped. */
            if (next_line(p))
                p->log->bad_lines++;
            p->have = 0;
            p->skipping = nl == NULL;
        } else {
            memcpy(p->line + p->have, buf + i, chunk);
            p->have += chunk;
            if (nl != NULL) {
                if (next_line(p))
                    handle_line(p, p->line, p->have);
                p->have = 0;
            }
        }
        i += chunk + (nl != NULL);
    }
}

/* The last line, when the file does not end in a newline. */
static void parser_finish(fa_parser *p)
{
    if (p->stop || p->nomem || p->skipping || p->have == 0)
        return;
    if (next_line(p))
        handle_line(p, p->line, p->have);
    p->have = 0;
}

static avtb_err parser_init(fa_parser *p, const avtb_fa_log_limits *lim, avtb_error *err)
{
    memset(p, 0, sizeof(*p));
    if (lim != NULL)
        p->lim = *lim;
    if (p->lim.max_lines == 0)
        p->lim.max_lines = DEF_MAX_LINES;
    if (p->lim.max_line == 0)
        p->lim.max_line = DEF_MAX_LINE;
    if (p->lim.max_events == 0)
        p->lim.max_events = DEF_MAX_EVENTS;
    if (p->lim.max_sockets == 0)
        p->lim.max_sockets = DEF_MAX_SOCKETS;
    p->log = calloc(1, sizeof(*p->log));
    p->line = malloc(p->lim.max_line);
    if (p->log != NULL)
        p->log->strings = calloc(1, sizeof(strtab));
    if (p->log == NULL || p->line == NULL || p->log->strings == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory reading the file-access log");
    return AVTB_OK;
}

/* Hands the log over (or frees it when the parse failed). */
static avtb_err parser_done(fa_parser *p, avtb_err r, avtb_fa_log **out, avtb_error *err)
{
    if (r == AVTB_OK && p->nomem)
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory reading the file-access log");
    if (r == AVTB_OK) {
        *out = p->log; /* transferred */
        p->log = NULL;
    }
    avtb_fa_log_free(p->log);
    free(p->line);
    return r;
}

avtb_err avtb_fa_log_parse(const uint8_t *buf, size_t len, const avtb_fa_log_limits *l,
                           avtb_fa_log **out, avtb_error *err)
{
    fa_parser p;
    avtb_err r;

    *out = NULL;
    r = parser_init(&p, l, err);
    if (r == AVTB_OK) {
        parser_feed(&p, buf, len);
        parser_finish(&p);
    }
    return parser_done(&p, r, out, err);
}

avtb_err avtb_fa_log_load(const char *path, const avtb_fa_log_limits *l, avtb_fa_log **out,
                          avtb_error *err)
{
    uint8_t *chunk = NULL;
    FILE *fp = NULL;
    fa_parser p;
    avtb_err r;

    *out = NULL;
    r = parser_init(&p, l, err);
    if (r != AVTB_OK)
        goto out;
    fp = fopen(path, "re");
    if (fp == NULL) {
        r = errno == ENOENT ? avtb_error_set(err, AVTB_ERR_NOT_FOUND,
                                             "%s: no such file; the run has no file-access "
                                             "evidence",
                                             path)
                            : avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot open %s", path);
        goto out;
    }
    chunk = malloc(1u << 16);
    if (chunk == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory reading %s", path);
        goto out;
    }
    while (!p.stop && !p.nomem) {
        size_t n = fread(chunk, 1, 1u << 16, fp);

        if (n == 0)
            break;
        parser_feed(&p, chunk, n);
    }
    if (ferror(fp)) {
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot read %s", path);
        goto out;
    }
    parser_finish(&p);
out:
    if (fp != NULL)
        fclose(fp);
    free(chunk);
    return parser_done(&p, r, out, err);
}
