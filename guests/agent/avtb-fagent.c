// SPDX-License-Identifier: Apache-2.0
/*
 * avtb-fagent: the in-guest file-access agent (Linux reference implementation
 * of the "File access channel" in PROTOCOL.md). It watches the guest's
 * filesystems with fanotify and the sockets of every process it saw, and
 * streams one JSON object per line (hello, file, socket, heartbeat, overflow,
 * bye) to a virtio-serial port the host records. Built static
 * (guests/tools/build-tools) so it runs in any guest image.
 *
 *   avtb-fagent OUTPUT [--root PATH]... [--exclude PREFIX]... [--heartbeat-ms N]
 *
 * OUTPUT is a character device (the virtio port), a file, or "-" for stdout.
 * Everything it reads (/proc, paths, command lines) is written by processes
 * the product controls: every field is escaped and bounded, every table has a
 * fixed size.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef FAN_MARK_FILESYSTEM
#define FAN_MARK_FILESYSTEM 0x00000100
#endif
#ifndef FAN_OPEN_EXEC
#define FAN_OPEN_EXEC 0x00001000
#endif

#define FA_AGENT "avtb-fagent/1"

/* Limits: every line, field and table is bounded (see PROTOCOL.md). */
enum {
    FA_LINE_MAX = 8192,     /* one output line, newline included */
    FA_LINE_RESERVE = 700,  /* room kept for the fixed fields after a string */
    FA_PATH_OUT = 2400,     /* escaped path, in output bytes */
    FA_HEX_RAW = 1000,      /* raw path bytes given as path_hex */
    FA_EXE_OUT = 1000,      /* escaped executable path */
    FA_CMD_OUT = 2000,      /* escaped command line */
    FA_CMD_RAW = 4096,      /* command line bytes read from /proc */
    FA_PROC_CACHE = 128,    /* per-pid /proc facts, direct-mapped */
    FA_PEND_MAX = 64,       /* ACCESS/MODIFY bursts being coalesced */
    FA_TRACK_MAX = 1024,    /* pids whose sockets are listed each heartbeat */
    FA_SEEN_MAX = 4096,     /* sockets already reported */
    FA_NET_MAX = 4096,      /* rows kept from /proc/PID/net/{tcp,udp}{,6} */
    FA_FDS_MAX = 256,       /* socket inodes looked at per process */
    FA_ROOTS_MAX = 64,      /* --root arguments / marks */
    FA_EXCL_MAX = 64,       /* --exclude prefixes */
    FA_READ_BUF = 8192,     /* one fanotify read: each event holds an fd */
    FA_READS_PER_TURN = 64, /* then heartbeats and flushes get their turn */
};

static const uint64_t FA_PROC_TTL_US = 2000000;
/* A pid with a file event in the last FA_HOT_US has its sockets listed every
 * FA_HOT_PASS_US, not only each heartbeat: a product reads a file, then
 * connects and uploads within a fraction of a second. */
static const uint64_t FA_HOT_US = 3000000;
static const uint64_t FA_HOT_PASS_US = 50000;
static const uint64_t FA_COALESCE_US = 100000;

struct fa_line {
    char buf[FA_LINE_MAX];
    size_t len;
    bool overflow; /* a fixed piece did not fit: the line is replaced */
};

struct fa_proc {
    pid_t pid; /* 0: empty slot */
    uint64_t fetched_us;
    bool alive;
    long ppid, uid, euid; /* -1: unknown */
    bool has_exe, has_cmd, has_comm;
    size_t exe_len, cmd_len, comm_len;
    char comm[32]; /* outlives exe and cmdline: a zombie still has it */
    bool cmd_cut;
    char exe[PATH_MAX];
    char cmd[FA_CMD_RAW];
};

struct fa_pend {
    bool used;
    pid_t pid;
    uint64_t mask;
    uint64_t first_us; /* monotonic, for the window */
    struct timespec first_wall, last_wall;
    uint64_t count;
    size_t path_len;
    char path[PATH_MAX];
};

struct fa_track {
    pid_t pid;
    uint64_t last_us;
};

struct fa_seen {
    pid_t pid;
    unsigned long ino;
    uint64_t remote_hash;
};

struct fa_net {
    unsigned long ino;
    const char *proto;
    const char *state;
    char local[64], remote[64];
};

struct fa_root {
    char path[PATH_MAX];
    const char *how; /* "filesystem", "mount" or NULL */
    int err;
};

struct fa {
    int out;
    int fan;
    pid_t self;
    uint64_t hb_us;
    uint64_t seq, events, dropped, write_errors;
    bool explicit_roots;
    bool no_fanotify; /* --no-fanotify: heartbeats only, as on a kernel without it */
    size_t nroots, nexcl;
    struct fa_root roots[FA_ROOTS_MAX];
    char *excl[FA_EXCL_MAX];
    uint64_t fan_mask;
    struct fa_proc procs[FA_PROC_CACHE];
    struct fa_pend pend[FA_PEND_MAX];
    struct fa_track track[FA_TRACK_MAX];
    size_t ntrack;
    struct fa_seen seen[FA_SEEN_MAX];
    size_t nseen, seen_next;
    struct fa_net net[FA_NET_MAX];
    size_t nnet;
    ino_t net_ns;
    uint64_t net_pass, pass;
    struct fa_line line;
};

static volatile sig_atomic_t fa_stop;

static void fa_on_signal(int sig)
{
    (void)sig;
    fa_stop = 1;
}

static uint64_t fa_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct timespec fa_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts;
}

/* --- line building: JSON with every string escaped and bounded ------------ */

static void line_start(struct fa_line *l)
{
    l->len = 0;
    l->overflow = false;
}

static void line_put(struct fa_line *l, const char *s, size_t n)
{
    if (l->overflow || n > FA_LINE_MAX - 2 - l->len) {
        l->overflow = true;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void line_raw(struct fa_line *l, const char *s)
{
    line_put(l, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void line_fmt(struct fa_line *l, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        l->overflow = true;
        return;
    }
    line_put(l, tmp, (size_t)n);
}

static void line_time(struct fa_line *l, const char *key, struct timespec ts)
{
    line_fmt(l, ",\"%s\":%lld.%06ld", key, (long long)ts.tv_sec, ts.tv_nsec / 1000);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/*
 * Appends "s" as a JSON string of at most max_out bytes (quotes included, and
 * never more than the line has room for before its fixed tail). Control
 * characters become escapes, invalid UTF-8 bytes U+FFFD. Returns whether s
 * was cut; *invalid (may be NULL) says whether s held invalid UTF-8.
 */
static bool line_str(struct fa_line *l, const char *s, size_t n, size_t max_out, bool *invalid)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t room = FA_LINE_MAX - 2 - l->len;
    room = room > FA_LINE_RESERVE ? room - FA_LINE_RESERVE : 0;
    if (max_out > room)
        max_out = room;
    if (invalid)
        *invalid = false;
    if (l->overflow || max_out < 2) {
        l->overflow = true;
        return true;
    }
    size_t budget = max_out - 2; /* the quotes */
    bool cut = false;
    line_put(l, "\"", 1);
    for (size_t i = 0; i < n;) {
        char esc[8];
        const char *piece = esc;
        size_t plen, step;
        unsigned char c = u[i];
        size_t ul = utf8_len(u + i, n - i);
        if (ul == 0) {
            piece = "\xEF\xBF\xBD";
            plen = 3;
            step = 1;
            if (invalid)
                *invalid = true;
        } else if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            plen = 2;
            step = 1;
        } else if (c < 0x20 || c == 0x7F) {
            const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (named)
                memcpy(esc, named, 3);
            else
                snprintf(esc, sizeof(esc), "\\u%04x", c);
            plen = strlen(esc);
            step = 1;
        } else {
            piece = s + i;
            plen = ul;
            step = ul;
        }
        if (plen > budget) {
            cut = true;
            break;
        }
        line_put(l, piece, plen);
        budget -= plen;
        i += step;
    }
    line_put(l, "\"", 1);
    return cut;
}

static void line_key_str(struct fa_line *l, const char *key, const char *s, size_t n,
                         size_t max_out, bool *cut, bool *invalid)
{
    line_fmt(l, ",\"%s\":", key);
    bool c = line_str(l, s, n, max_out, invalid);
    if (cut)
        *cut = c;
}

/* Writes the line, blocking: the virtio port blocks until the host reads. */
static void fa_emit(struct fa *a)
{
    struct fa_line *l = &a->line;
    if (l->overflow) {
        /* Never happens with the field budgets; if it does, say so. */
        line_start(l);
        line_raw(l, "{\"type\":\"error\",\"msg\":\"line over limit dropped\"");
        a->dropped++;
    }
    line_put(l, "}\n", 2);
    size_t off = 0;
    while (off < l->len) {
        ssize_t w = write(a->out, l->buf + off, l->len - off);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR && !fa_stop)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = a->out, .events = POLLOUT};
            if (poll(&p, 1, 1000) >= 0 || errno == EINTR)
                continue;
        }
        /* Losing the line beats dying: the host sees the gap in seq/events. */
        if (a->write_errors++ == 0)
            fprintf(stderr, "avtb-fagent: write: %s (lines are being lost)\n",
                    w < 0 ? strerror(errno) : "short write");
        a->dropped++;
        return;
    }
}

/* --- /proc readers ---------------------------------------------------------- */

/* Reads up to cap bytes of a file; returns the length or -1. */
static ssize_t fa_read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len < cap) {
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    return (ssize_t)len;
}

/* Parses the first decimal number after "Key:" in /proc/PID/status text. */
static long fa_status_field(const char *text, const char *key, int index)
{
    size_t klen = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) != 0)
            continue;
        const char *q = p + klen;
        for (int i = 0; i <= index; i++) {
            while (*q == ' ' || *q == '\t')
                q++;
            if (!isdigit((unsigned char)*q))
                return -1;
            char *end;
            errno = 0;
            long v = strtol(q, &end, 10);
            if (errno || v < 0)
                return -1;
            if (i == index)
                return v;
            q = end;
        }
    }
    return -1;
}

static void fa_proc_fetch(struct fa_proc *p, pid_t pid, uint64_t now)
{
    char path[64], status[4096];
    p->pid = pid;
    p->fetched_us = now;
    p->ppid = p->uid = p->euid = -1;
    p->has_exe = p->has_cmd = p->has_comm = p->cmd_cut = false;
    p->exe_len = p->cmd_len = p->comm_len = 0;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    ssize_t n = fa_read_file(path, status, sizeof(status) - 1);
    p->alive = n > 0;
    if (n > 0) {
        status[n] = '\0';
        p->ppid = fa_status_field(status, "PPid:", 0);
        p->uid = fa_status_field(status, "Uid:", 0);
        p->euid = fa_status_field(status, "Uid:", 1);
    }
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    n = fa_read_file(path, p->comm, sizeof(p->comm));
    if (n > 0) {
        p->comm_len = (size_t)n;
        if (p->comm[p->comm_len - 1] == '\n')
            p->comm_len--;
        p->has_comm = true;
    }
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    n = readlink(path, p->exe, sizeof(p->exe));
    if (n > 0 && (size_t)n < sizeof(p->exe)) {
        p->has_exe = true;
        p->exe_len = (size_t)n;
    }
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    n = fa_read_file(path, p->cmd, sizeof(p->cmd));
    if (n > 0) {
        size_t len = (size_t)n;
        p->cmd_cut = len == sizeof(p->cmd);
        /* Arguments are NUL-separated: join them with spaces for display. */
        while (len > 0 && p->cmd[len - 1] == '\0')
            len--;
        for (size_t i = 0; i < len; i++)
            if (p->cmd[i] == '\0')
                p->cmd[i] = ' ';
        p->cmd_len = len;
        p->has_cmd = true;
    }
}

/* The cached /proc facts of pid (fetched again after FA_PROC_TTL_US). */
/*
 * The facts of pid, cached for FA_PROC_TTL_US while its comm stays the same:
 * an exec changes comm, exe and command line under the same pid, and the
 * kernel's events of the exec itself (the binary read) come before that.
 */
static struct fa_proc *fa_proc_get(struct fa *a, pid_t pid, uint64_t now)
{
    struct fa_proc *p = &a->procs[(unsigned)pid % FA_PROC_CACHE];
    if (p->pid == pid && now - p->fetched_us <= FA_PROC_TTL_US) {
        char path[64], comm[32];
        snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
        ssize_t n = fa_read_file(path, comm, sizeof(comm));
        if (n > 0 && comm[n - 1] == '\n')
            n--;
        /* Gone (n <= 0): what was read while it lived is the best there is. */
        if (n <= 0 || (p->has_comm && (size_t)n == p->comm_len && !memcmp(comm, p->comm, (size_t)n)))
            return p;
    }
    fa_proc_fetch(p, pid, now);
    return p;
}

static void line_long_or_null(struct fa_line *l, const char *key, long v)
{
    if (v < 0)
        line_fmt(l, ",\"%s\":null", key);
    else
        line_fmt(l, ",\"%s\":%ld", key, v);
}

static void line_exe(struct fa_line *l, const struct fa_proc *p, bool *cut)
{
    *cut = false;
    if (p->has_comm)
        line_key_str(l, "comm", p->comm, p->comm_len, 100, NULL, NULL);
    else
        line_raw(l, ",\"comm\":null");
    if (p->has_exe)
        line_key_str(l, "exe", p->exe, p->exe_len, FA_EXE_OUT, cut, NULL);
    else
        line_raw(l, ",\"exe\":null");
}

/* --- paths: roots and exclusions ------------------------------------------ */

/* Whether path is prefix or below it, component-wise ("/dev" is not "/devx"). */
static bool fa_under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n == 0 || strncmp(path, prefix, n) != 0)
        return false;
    return path[n] == '\0' || path[n] == '/' || prefix[n - 1] == '/';
}

static bool fa_wanted(const struct fa *a, const char *path)
{
    for (size_t i = 0; i < a->nexcl; i++)
        if (fa_under(path, a->excl[i]))
            return false;
    if (!a->explicit_roots)
        return true;
    for (size_t i = 0; i < a->nroots; i++)
        if (a->roots[i].how && fa_under(path, a->roots[i].path))
            return true;
    return false;
}

/* --- file events ------------------------------------------------------------ */

static const struct {
    uint64_t bit;
    const char *name;
} fa_mask_names[] = {
    {FAN_OPEN, "open"},     {FAN_OPEN_EXEC, "open_exec"},     {FAN_ACCESS, "access"},
    {FAN_MODIFY, "modify"}, {FAN_CLOSE_WRITE, "close_write"}, {FAN_CLOSE_NOWRITE, "close_nowrite"},
};

static void line_mask(struct fa_line *l, const char *key, uint64_t mask)
{
    line_fmt(l, ",\"%s\":[", key);
    bool first = true;
    for (size_t i = 0; i < sizeof(fa_mask_names) / sizeof(fa_mask_names[0]); i++) {
        if (!(mask & fa_mask_names[i].bit))
            continue;
        line_fmt(l, "%s\"%s\"", first ? "" : ",", fa_mask_names[i].name);
        first = false;
    }
    line_raw(l, "]");
}

static void fa_emit_file(struct fa *a, pid_t pid, uint64_t mask, const char *path, size_t path_len,
                         struct timespec t, uint64_t count, struct timespec t_last)
{
    struct fa_line *l = &a->line;
    struct fa_proc *p = fa_proc_get(a, pid, fa_mono_us());
    bool cut_path = false, cut_exe = false, cut_cmd = false, invalid = false;

    line_start(l);
    line_raw(l, "{\"type\":\"file\"");
    line_time(l, "t", t);
    line_mask(l, "mask", mask);
    line_fmt(l, ",\"pid\":%d", (int)pid);
    line_long_or_null(l, "ppid", p->ppid);
    line_long_or_null(l, "uid", p->uid);
    line_long_or_null(l, "euid", p->euid);
    if (count > 1) {
        line_fmt(l, ",\"count\":%" PRIu64, count);
        line_time(l, "t_last", t_last);
    }
    if (path) {
        line_key_str(l, "path", path, path_len, FA_PATH_OUT, &cut_path, &invalid);
        if (invalid) {
            /* The exact bytes, so a hostile name can be matched on the host. */
            size_t n = path_len < FA_HEX_RAW ? path_len : FA_HEX_RAW;
            line_raw(l, ",\"path_hex\":\"");
            for (size_t i = 0; i < n; i++)
                line_fmt(l, "%02x", (unsigned char)path[i]);
            line_raw(l, "\"");
            cut_path = cut_path || n < path_len;
        }
    } else {
        line_raw(l, ",\"path\":null");
    }
    line_exe(l, p, &cut_exe);
    if (p->has_cmd)
        line_key_str(l, "cmdline", p->cmd, p->cmd_len, FA_CMD_OUT, &cut_cmd, NULL);
    else
        line_raw(l, ",\"cmdline\":null");
    cut_cmd = cut_cmd || p->cmd_cut;
    if (cut_path || cut_exe || cut_cmd)
        line_fmt(l, ",\"truncated\":[%s%s%s]", cut_path ? "\"path\"" : "",
                 cut_exe ? (cut_path ? ",\"exe\"" : "\"exe\"") : "",
                 cut_cmd ? (cut_path || cut_exe ? ",\"cmdline\"" : "\"cmdline\"") : "");
    fa_emit(a);
    /* An exec gives the pid a new comm, exe and command line: the cached ones
     * would name the program that was replaced (a shell, for every command
     * it runs) on all of the new program's events. */
    if (mask & FAN_OPEN_EXEC)
        p->pid = 0;
}

static void fa_pend_flush(struct fa *a, struct fa_pend *e)
{
    fa_emit_file(a, e->pid, e->mask, e->path, e->path_len, e->first_wall, e->count, e->last_wall);
    e->used = false;
}

/* Flushes bursts older than the window (all of them if force). */
static void fa_pend_expire(struct fa *a, uint64_t now, bool force)
{
    for (size_t i = 0; i < FA_PEND_MAX; i++)
        if (a->pend[i].used && (force || now - a->pend[i].first_us >= FA_COALESCE_US))
            fa_pend_flush(a, &a->pend[i]);
}

/* Microseconds until the oldest burst is due, or UINT64_MAX. */
static uint64_t fa_pend_due(const struct fa *a, uint64_t now)
{
    uint64_t due = UINT64_MAX;
    for (size_t i = 0; i < FA_PEND_MAX; i++) {
        if (!a->pend[i].used)
            continue;
        uint64_t end = a->pend[i].first_us + FA_COALESCE_US;
        uint64_t left = end > now ? end - now : 0;
        if (left < due)
            due = left;
    }
    return due;
}

static void fa_coalesce(struct fa *a, pid_t pid, uint64_t mask, const char *path, size_t len,
                        uint64_t now, struct timespec wall)
{
    struct fa_pend *slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < FA_PEND_MAX; i++) {
        struct fa_pend *e = &a->pend[i];
        if (!e->used) {
            if (!slot)
                slot = e;
            continue;
        }
        if (e->pid == pid && e->mask == mask && e->path_len == len &&
            memcmp(e->path, path, len) == 0) {
            e->count++;
            e->last_wall = wall;
            return;
        }
        if (!oldest || e->first_us < oldest->first_us)
            oldest = e;
    }
    if (!slot) {
        fa_pend_flush(a, oldest);
        slot = oldest;
    }
    slot->used = true;
    slot->pid = pid;
    slot->mask = mask;
    slot->first_us = now;
    slot->first_wall = slot->last_wall = wall;
    slot->count = 1;
    memcpy(slot->path, path, len);
    slot->path_len = len;
    (void)fa_proc_get(a, pid, now); /* while the process still exists */
}

/* A non-burst event of (pid, path): its pending bursts go out first. */
static void fa_pend_flush_match(struct fa *a, pid_t pid, const char *path, size_t len)
{
    for (size_t i = 0; i < FA_PEND_MAX; i++) {
        struct fa_pend *e = &a->pend[i];
        if (e->used && e->pid == pid && e->path_len == len && memcmp(e->path, path, len) == 0)
            fa_pend_flush(a, e);
    }
}

/* --- sockets ---------------------------------------------------------------- */

static const char *fa_tcp_state(unsigned st)
{
    static const char *const names[] = {
        "unknown", "established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2",    "time_wait",
        "close",   "close_wait",  "last_ack", "listen",   "closing",   "new_syn_recv",
    };
    return st < sizeof(names) / sizeof(names[0]) ? names[st] : "unknown";
}

/* "0100007F:1F90" (kernel's native-order words) to "127.0.0.1:8080". */
static bool fa_net_addr(const char *hex, bool v6, char *out, size_t cap)
{
    const char *colon = strchr(hex, ':');
    size_t hl = colon ? (size_t)(colon - hex) : 0;
    if (hl != (v6 ? 32u : 8u))
        return false;
    uint32_t words[4];
    for (size_t w = 0; w < hl / 8; w++) {
        uint32_t v = 0;
        for (size_t i = 0; i < 8; i++) {
            char c = hex[w * 8 + i];
            if (!isxdigit((unsigned char)c))
                return false;
            v = v << 4 | (uint32_t)(isdigit((unsigned char)c) ? c - '0' : (tolower(c) - 'a' + 10));
        }
        words[w] = v;
    }
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 16);
    if (errno || end == colon + 1 || port > 65535)
        return false;
    char ip[INET6_ADDRSTRLEN];
    if (!inet_ntop(v6 ? AF_INET6 : AF_INET, words, ip, sizeof(ip)))
        return false;
    int n = snprintf(out, cap, v6 ? "[%s]:%lu" : "%s:%lu", ip, port);
    return n > 0 && (size_t)n < cap;
}

/* Loads one /proc/PID/net table; malformed rows are skipped. */
static void fa_net_load(struct fa *a, pid_t pid, const char *proto, bool v6, bool udp)
{
    char path[64], row[512];
    snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, proto);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    bool header = true;
    while (fgets(row, sizeof(row), f)) {
        if (!strchr(row, '\n') && !feof(f)) {
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue; /* an over-long row is not one the kernel writes */
        }
        if (header) {
            header = false;
            continue;
        }
        if (a->nnet >= FA_NET_MAX)
            break;
        char lhex[80], rhex[80];
        unsigned st;
        unsigned long ino;
        if (sscanf(row, " %*u: %79s %79s %x %*s %*s %*s %*u %*u %lu", lhex, rhex, &st, &ino) != 4)
            continue;
        struct fa_net *n = &a->net[a->nnet];
        if (!fa_net_addr(lhex, v6, n->local, sizeof(n->local)) ||
            !fa_net_addr(rhex, v6, n->remote, sizeof(n->remote)) || ino == 0)
            continue;
        n->ino = ino;
        n->proto = proto;
        n->state = udp ? (st == 1 ? "connected" : "unconnected") : fa_tcp_state(st);
        a->nnet++;
    }
    fclose(f);
}

/* The socket tables of pid's network namespace, parsed once per pass. */
static void fa_net_refresh(struct fa *a, pid_t pid)
{
    char path[64];
    struct stat sb;
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    ino_t ns = stat(path, &sb) == 0 ? sb.st_ino : 0;
    if (a->net_pass == a->pass && a->net_ns == ns && ns != 0)
        return;
    a->net_pass = a->pass;
    a->net_ns = ns;
    a->nnet = 0;
    fa_net_load(a, pid, "tcp", false, false);
    fa_net_load(a, pid, "tcp6", true, false);
    fa_net_load(a, pid, "udp", false, true);
    fa_net_load(a, pid, "udp6", true, true);
}

static uint64_t fa_hash(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* Whether (pid, ino, remote) was reported; records it if not. */
static bool fa_seen_add(struct fa *a, pid_t pid, unsigned long ino, uint64_t rh)
{
    for (size_t i = 0; i < a->nseen; i++)
        if (a->seen[i].pid == pid && a->seen[i].ino == ino && a->seen[i].remote_hash == rh)
            return true;
    /* Full: forget the oldest; at worst a socket is reported again. */
    struct fa_seen *s;
    if (a->nseen < FA_SEEN_MAX) {
        s = &a->seen[a->nseen++];
    } else {
        s = &a->seen[a->seen_next];
        a->seen_next = (a->seen_next + 1) % FA_SEEN_MAX;
    }
    s->pid = pid;
    s->ino = ino;
    s->remote_hash = rh;
    return false;
}

/* Reports pid's TCP/UDP sockets not reported before. */
static void fa_scan_sockets(struct fa *a, pid_t pid)
{
    char path[64], target[64];
    unsigned long inos[FA_FDS_MAX];
    size_t ninos = 0;
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) && ninos < FA_FDS_MAX) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char link[80];
        int n = snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
        if (n < 0 || (size_t)n >= sizeof(link))
            continue;
        ssize_t r = readlink(link, target, sizeof(target) - 1);
        if (r <= 0)
            continue;
        target[r] = '\0';
        unsigned long ino;
        char close_bracket;
        if (sscanf(target, "socket:[%lu%c", &ino, &close_bracket) == 2 && close_bracket == ']')
            inos[ninos++] = ino;
    }
    closedir(d);
    if (ninos == 0)
        return;
    fa_net_refresh(a, pid);
    for (size_t i = 0; i < ninos; i++) {
        for (size_t j = 0; j < a->nnet; j++) {
            const struct fa_net *n = &a->net[j];
            if (n->ino != inos[i] || fa_seen_add(a, pid, n->ino, fa_hash(n->remote)))
                continue;
            struct fa_proc *p = fa_proc_get(a, pid, fa_mono_us());
            bool cut;
            struct fa_line *l = &a->line;
            line_start(l);
            line_raw(l, "{\"type\":\"socket\"");
            line_time(l, "t", fa_wall());
            line_fmt(l, ",\"pid\":%d", (int)pid);
            line_exe(l, p, &cut);
            line_fmt(l, ",\"proto\":\"%s\",\"local\":\"%s\",\"remote\":\"%s\",\"state\":\"%s\"",
                     n->proto, n->local, n->remote, n->state);
            line_fmt(l, ",\"inode\":%lu", n->ino);
            if (cut)
                line_raw(l, ",\"truncated\":[\"exe\"]");
            fa_emit(a);
        }
    }
}

/* Notes pid as seen; its sockets are listed now if it is new. */
static void fa_track(struct fa *a, pid_t pid, uint64_t now)
{
    struct fa_track *oldest = NULL;
    for (size_t i = 0; i < a->ntrack; i++) {
        if (a->track[i].pid == pid) {
            a->track[i].last_us = now;
            return;
        }
        if (!oldest || a->track[i].last_us < oldest->last_us)
            oldest = &a->track[i];
    }
    struct fa_track *t = a->ntrack < FA_TRACK_MAX ? &a->track[a->ntrack++] : oldest;
    t->pid = pid;
    t->last_us = now;
    a->pass++;
    fa_scan_sockets(a, pid);
}

/* Each heartbeat: the sockets of every tracked pid; gone pids are dropped. */
static void fa_track_pass(struct fa *a)
{
    a->pass++;
    for (size_t i = 0; i < a->ntrack;) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d", (int)a->track[i].pid);
        if (access(path, F_OK) != 0) {
            a->track[i] = a->track[--a->ntrack];
            continue;
        }
        fa_scan_sockets(a, a->track[i].pid);
        i++;
    }
}

/* Every FA_HOT_PASS_US: the sockets of the pids active in the last FA_HOT_US.
 * Returns whether any pid is still hot (the loop wakes for the next pass then). */
static bool fa_hot_pass(struct fa *a, uint64_t now)
{
    bool hot = false;
    for (size_t i = 0; i < a->ntrack; i++) {
        if (now - a->track[i].last_us > FA_HOT_US)
            continue;
        hot = true;
        a->pass++;
        fa_scan_sockets(a, a->track[i].pid);
    }
    return hot;
}

/* --- fanotify --------------------------------------------------------------- */

static void fa_on_event(struct fa *a, const struct fanotify_event_metadata *m)
{
    uint64_t now = fa_mono_us();
    struct timespec wall = fa_wall();
    char fdpath[64], path[PATH_MAX];
    ssize_t plen = -1;

    if (m->fd >= 0) {
        snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", m->fd);
        plen = readlink(fdpath, path, sizeof(path) - 1);
        close(m->fd);
    }
    if (m->pid == a->self)
        return;
    a->events++;
    if (plen >= 0)
        path[plen] = '\0';
    if (plen >= 0 && !fa_wanted(a, path))
        return;
    uint64_t mask = m->mask & a->fan_mask;
    fa_track(a, m->pid, now);
    if (plen >= 0 && (mask & ~(uint64_t)(FAN_ACCESS | FAN_MODIFY)) == 0) {
        fa_coalesce(a, m->pid, mask, path, (size_t)plen, now, wall);
        return;
    }
    if (plen >= 0)
        fa_pend_flush_match(a, m->pid, path, (size_t)plen);
    fa_emit_file(a, m->pid, mask, plen >= 0 ? path : NULL, plen >= 0 ? (size_t)plen : 0, wall, 1,
                 wall);
}

static void fa_overflow(struct fa *a)
{
    a->dropped++;
    line_start(&a->line);
    line_raw(&a->line, "{\"type\":\"overflow\"");
    line_time(&a->line, "t", fa_wall());
    line_fmt(&a->line, ",\"events\":%" PRIu64 ",\"overflows\":%" PRIu64, a->events, a->dropped);
    fa_emit(a);
}

/* Drains the fanotify queue (bounded, so heartbeats keep their turn). */
static void fa_drain(struct fa *a)
{
    static char buf[FA_READ_BUF]
        __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));
    for (int turn = 0; turn < FA_READS_PER_TURN && !fa_stop; turn++) {
        ssize_t n = read(a->fan, buf, sizeof(buf));
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR && a->write_errors == 0)
                fprintf(stderr, "avtb-fagent: fanotify read: %s\n", strerror(errno));
            return;
        }
        const struct fanotify_event_metadata *m = (const void *)buf;
        for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
            if (m->vers != FANOTIFY_METADATA_VERSION) {
                if (m->fd >= 0)
                    close(m->fd);
                continue;
            }
            if (m->mask & FAN_Q_OVERFLOW) {
                fa_overflow(a);
                continue;
            }
            fa_on_event(a, m);
        }
    }
}

/* Marks one path: filesystem mark, else mount mark; OPEN_EXEC if accepted. */
static void fa_mark(struct fa *a, struct fa_root *r)
{
    static const unsigned kinds[] = {FAN_MARK_FILESYSTEM, FAN_MARK_MOUNT};
    static const char *const names[] = {"filesystem", "mount"};
    uint64_t base = FAN_OPEN | FAN_ACCESS | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE;
    r->err = 0;
    for (size_t k = 0; k < 2; k++) {
        for (int exec = 1; exec >= 0; exec--) {
            uint64_t mask = base | (exec ? FAN_OPEN_EXEC : 0);
            if (fanotify_mark(a->fan, FAN_MARK_ADD | kinds[k], mask, AT_FDCWD, r->path) == 0) {
                r->how = names[k];
                a->fan_mask |= mask;
                return;
            }
            r->err = errno;
            if (errno != EINVAL)
                break; /* not a question of flags */
        }
    }
}

/* Real filesystems from /proc/self/mountinfo (pseudo ones are skipped). */
static void fa_default_roots(struct fa *a)
{
    static const char *const pseudo[] = {
        "proc",    "sysfs",   "devtmpfs",    "devpts",   "cgroup", "cgroup2",    "securityfs",
        "debugfs", "tracefs", "pstore",      "bpf",      "mqueue", "hugetlbfs",  "configfs",
        "fusectl", "autofs",  "binfmt_misc", "efivarfs", "nsfs",   "rpc_pipefs", "selinuxfs",
    };
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return;
    char row[4096];
    dev_t devs[FA_ROOTS_MAX] = {0};
    while (fgets(row, sizeof(row), f) && a->nroots < FA_ROOTS_MAX) {
        char mnt[PATH_MAX], fstype[64];
        const char *sep = strstr(row, " - ");
        if (!sep || sscanf(row, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
            sscanf(sep + 3, "%63s", fstype) != 1)
            continue;
        bool skip = false;
        for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++)
            skip = skip || strcmp(fstype, pseudo[i]) == 0;
        if (skip)
            continue;
        /* Octal escapes (\040 for a space) in the mount point. */
        char *w = mnt;
        for (const char *s = mnt; *s; s++) {
            if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
                s[3] >= '0' && s[3] <= '7') {
                *w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
                s += 3;
            } else {
                *w++ = *s;
            }
        }
        *w = '\0';
        bool excluded = false;
        for (size_t i = 0; i < a->nexcl; i++)
            excluded = excluded || fa_under(mnt, a->excl[i]);
        struct stat sb;
        if (excluded || stat(mnt, &sb) != 0)
            continue;
        bool dup = false;
        for (size_t i = 0; i < a->nroots; i++)
            dup = dup || devs[i] == sb.st_dev;
        if (dup)
            continue; /* one filesystem mark covers every mount of it */
        devs[a->nroots] = sb.st_dev;
        snprintf(a->roots[a->nroots++].path, PATH_MAX, "%s", mnt);
    }
    fclose(f);
}

/* --- lines that are not file events ---------------------------------------- */

static void fa_hello(struct fa *a, const char *reason)
{
    struct utsname u;
    struct fa_line *l = &a->line;
    if (uname(&u) != 0)
        snprintf(u.release, sizeof(u.release), "unknown");
    line_start(l);
    line_raw(l, "{\"type\":\"hello\",\"proto\":1,\"agent\":\"" FA_AGENT "\"");
    line_time(l, "t", fa_wall());
    line_key_str(l, "kernel", u.release, strlen(u.release), 200, NULL, NULL);
    line_fmt(l, ",\"pid\":%d,\"heartbeat_ms\":%" PRIu64, (int)a->self, a->hb_us / 1000);
    line_fmt(l, ",\"fanotify\":%s", reason ? "false" : "true");
    if (reason)
        line_key_str(l, "reason", reason, strlen(reason), 400, NULL, NULL);
    else
        line_mask(l, "events", a->fan_mask);
    line_raw(l, ",\"marks\":[");
    for (size_t i = 0; i < a->nroots; i++) {
        const struct fa_root *r = &a->roots[i];
        line_raw(l, i ? ",{\"path\":" : "{\"path\":");
        (void)line_str(l, r->path, strlen(r->path), 600, NULL);
        if (r->how)
            line_fmt(l, ",\"how\":\"%s\"}", r->how);
        else
            line_fmt(l, ",\"error\":\"%s\"}", r->err ? strerror(r->err) : "not marked");
    }
    line_raw(l, "]");
    fa_emit(a);
}

static void fa_heartbeat(struct fa *a)
{
    struct fa_line *l = &a->line;
    line_start(l);
    line_raw(l, "{\"type\":\"heartbeat\"");
    line_time(l, "t", fa_wall());
    line_fmt(l, ",\"seq\":%" PRIu64 ",\"events\":%" PRIu64 ",\"dropped\":%" PRIu64, a->seq++,
             a->events, a->dropped);
    fa_emit(a);
}

static void fa_bye(struct fa *a)
{
    struct fa_line *l = &a->line;
    line_start(l);
    line_raw(l, "{\"type\":\"bye\"");
    line_time(l, "t", fa_wall());
    line_fmt(l, ",\"seq\":%" PRIu64 ",\"events\":%" PRIu64 ",\"dropped\":%" PRIu64, a->seq,
             a->events, a->dropped);
    fa_emit(a);
}

/* --- setup and main loop ---------------------------------------------------- */

static void fa_usage(void)
{
    fprintf(stderr, "usage: avtb-fagent OUTPUT [--root PATH]... [--exclude PREFIX]... "
                    "[--heartbeat-ms N] [--no-fanotify]\n"
                    "  OUTPUT: the virtio port (/dev/virtio-ports/org.avtb.fileaccess.0), "
                    "a file, or - for stdout\n");
}

static int fa_open_output(const char *path)
{
    if (strcmp(path, "-") == 0)
        return STDOUT_FILENO;
    struct stat sb;
    int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY;
    if (stat(path, &sb) != 0 || S_ISREG(sb.st_mode))
        flags |= O_CREAT | O_TRUNC;
    return open(path, flags, 0600);
}

/* Parses argv into a; returns 0, or 2 after printing what is wrong. */
static int fa_args(struct fa *a, int argc, char **argv, const char **output)
{
    *output = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(arg, "--root") == 0 && has_value) {
            if (a->nroots >= FA_ROOTS_MAX) {
                fprintf(stderr, "avtb-fagent: at most %d --root\n", FA_ROOTS_MAX);
                return 2;
            }
            struct fa_root *r = &a->roots[a->nroots++];
            if (!realpath(argv[++i], r->path)) {
                fprintf(stderr, "avtb-fagent: --root %s: %s\n", argv[i], strerror(errno));
                return 2;
            }
            a->explicit_roots = true;
        } else if (strcmp(arg, "--exclude") == 0 && has_value) {
            if (a->nexcl >= FA_EXCL_MAX || argv[i + 1][0] != '/') {
                fprintf(stderr, "avtb-fagent: --exclude wants an absolute path (at most %d)\n",
                        FA_EXCL_MAX);
                return 2;
            }
            a->excl[a->nexcl++] = argv[++i];
        } else if (strcmp(arg, "--heartbeat-ms") == 0 && has_value) {
            char *end;
            errno = 0;
            unsigned long ms = strtoul(argv[++i], &end, 10);
            if (errno || *end || ms < 10 || ms > 3600000) {
                fprintf(stderr, "avtb-fagent: --heartbeat-ms wants 10..3600000, not %s\n", argv[i]);
                return 2;
            }
            a->hb_us = (uint64_t)ms * 1000;
        } else if (strcmp(arg, "--no-fanotify") == 0) {
            a->no_fanotify = true;
        } else if (arg[0] == '-' && arg[1] == '-') {
            fprintf(stderr, "avtb-fagent: unknown option or missing value: %s\n", arg);
            fa_usage();
            return 2;
        } else if (!*output) {
            *output = arg;
        } else {
            fa_usage();
            return 2;
        }
    }
    if (!*output) {
        fa_usage();
        return 2;
    }
    return 0;
}

/* Each fanotify event holds an fd until it is read: allow many. */
static void fa_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    static struct fa fa; /* large tables: not on the stack */
    struct fa *a = &fa;
    const char *output;
    static char out_real[PATH_MAX];
    static char reason[256];

    a->fan = -1;
    a->self = getpid();
    a->hb_us = 1000000;
    static char *const default_excl[] = {"/proc", "/sys", "/dev"};
    for (size_t i = 0; i < 3; i++)
        a->excl[a->nexcl++] = default_excl[i];
    int r = fa_args(a, argc, argv, &output);
    if (r != 0)
        return r;

    a->out = fa_open_output(output);
    if (a->out < 0) {
        fprintf(stderr, "avtb-fagent: cannot open %s: %s\n", output, strerror(errno));
        return 1;
    }
    /* Our own output is never an event worth reporting. */
    if (a->out != STDOUT_FILENO && realpath(output, out_real) && a->nexcl < FA_EXCL_MAX)
        a->excl[a->nexcl++] = out_real;

    struct sigaction sa = {.sa_handler = fa_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fa_raise_nofile();

    /* --no-fanotify: a lab's choice (a product that looks for fanotify marks in
     * /proc/PID/fdinfo), and the way the host's fallback is tested. */
    a->fan = a->no_fanotify ? (errno = 0, -1)
                            : fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK,
                                            O_RDONLY | O_LARGEFILE);
    if (a->fan < 0 && a->no_fanotify) {
        snprintf(reason, sizeof(reason), "disabled (--no-fanotify)");
    } else if (a->fan < 0) {
        snprintf(reason, sizeof(reason), "fanotify_init: %s", strerror(errno));
    } else {
        if (!a->explicit_roots)
            fa_default_roots(a);
        size_t marked = 0;
        for (size_t i = 0; i < a->nroots; i++) {
            fa_mark(a, &a->roots[i]);
            marked += a->roots[i].how != NULL;
        }
        if (marked == 0) {
            snprintf(reason, sizeof(reason), "no filesystem could be marked");
            close(a->fan);
            a->fan = -1;
        }
    }
    fa_hello(a, a->fan < 0 ? reason : NULL);

    uint64_t next_hb = fa_mono_us(), next_hot = 0;
    bool hot = false;
    while (!fa_stop) {
        uint64_t now = fa_mono_us();
        if (a->ntrack > 0 && now >= next_hot) {
            hot = fa_hot_pass(a, now);
            next_hot = now + FA_HOT_PASS_US;
        }
        if (now >= next_hb) {
            fa_heartbeat(a);
            fa_track_pass(a);
            next_hb += a->hb_us;
            if (next_hb <= now) /* a slow host held us up: no catch-up burst */
                next_hb = now + a->hb_us;
        }
        fa_pend_expire(a, now, false);
        uint64_t wait = next_hb > now ? next_hb - now : 0;
        uint64_t due = fa_pend_due(a, now);
        if (due < wait)
            wait = due;
        /* A new file event makes a pid hot: the pass after it is at most FA_HOT_PASS_US away. */
        if (hot && next_hot > now && next_hot - now < wait)
            wait = next_hot - now;
        int timeout = (int)((wait + 999) / 1000);
        struct pollfd p = {.fd = a->fan, .events = POLLIN};
        int n = poll(&p, a->fan >= 0 ? 1 : 0, timeout);
        if (n > 0 && (p.revents & POLLIN)) {
            fa_drain(a);
            hot = a->ntrack > 0;
        }
    }
    fa_pend_expire(a, fa_mono_us(), true);
    fa_bye(a);
    if (a->fan >= 0)
        close(a->fan);
    if (a->out != STDOUT_FILENO && close(a->out) != 0)
        return 1;
    return 0;
}
