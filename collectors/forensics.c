/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Agentless forensics on the stopped guest's overlay; see forensics.h and
 * collectors/FORENSICS.md. Every libguestfs call is a round trip to the
 * appliance (0.6-1 ms under TCG here), so the walk costs one find0 for the
 * whole tree and one lstatnslist per directory, never a call per file;
 * only changed files are read, with pread.
 */
#include "collectors/forensics.h"

#include <errno.h>
#include <fcntl.h>
#include <guestfs.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collectors/guestfs.h"
#include "common/log.h"
#include "common/util.h"

/*
 * pread carries at most a protocol message (4 MB) a call. Measured here
 * (TCG, ext4, 2 cores): pread in 2 MiB chunks reads 4 KiB in 0.7 ms,
 * 200 KiB in 3.6 ms, 2 MiB in 27 ms, 16 MiB in 0.20 s and 64 MiB in
 * 0.72 s (1 MiB chunks: the same within 4%); guestfs_download of the same
 * into a host file takes 0.15, 0.17, 0.22, 0.64 and 1.99 s (a fixed
 * 150 ms for the file-transfer protocol, then 28 ms a MiB), and the host
 * file must then be read again. pread wins at every size.
 */
#define XFER_CHUNK ((size_t)2 << 20)
/* Names per lstatnslist call: 1000 replies are ~180 KB, well inside a message. */
#define LSTAT_BATCH 1000
/* Bounds on what forensics.json lists beyond the token-bearing files (the counts stay exact). */
#define UNSCANNED_LISTED 1000
#define ANOMALIES_LISTED 100
/* path_hex holds at most this many bytes of a name (PATH_MAX). */
#define HEX_MAX 4096

/* ---- comparison, names, kinds (exposed for tests) ------------------------- */

static bool time_eq(avtb_forensics_time a, avtb_forensics_time b)
{
    return a.sec == b.sec && a.nsec == b.nsec;
}

static bool time_later(avtb_forensics_time a, avtb_forensics_time b)
{
    return a.sec > b.sec || (a.sec == b.sec && a.nsec > b.nsec);
}

avtb_forensics_state avtb_forensics_compare(const avtb_forensics_stat *before,
                                            const avtb_forensics_stat *after, unsigned *changes)
{
    unsigned c = 0;

    *changes = 0;
    if (!after->present)
        return AVTB_DOC_VANISHED;
    if (time_later(after->atime, before->atime))
        c |= AVTB_CHANGE_ATIME;
    if (!time_eq(after->mtime, before->mtime))
        c |= AVTB_CHANGE_MTIME;
    if (!time_eq(after->ctime, before->ctime))
        c |= AVTB_CHANGE_CTIME;
    if (!after->regular)
        c |= AVTB_CHANGE_TYPE;
    if (after->size != before->size)
        c |= AVTB_CHANGE_SIZE;
    if (after->regular && strcmp(after->sha256, before->sha256) != 0)
        c |= AVTB_CHANGE_CONTENT;
    if (before->owners && after->owners) {
        if (after->uid != before->uid || after->gid != before->gid)
            c |= AVTB_CHANGE_OWNER;
        if (after->mode != before->mode)
            c |= AVTB_CHANGE_MODE;
    }
    *changes = c;
    if (c & (AVTB_CHANGE_TYPE | AVTB_CHANGE_SIZE | AVTB_CHANGE_CONTENT))
        return AVTB_DOC_CHANGED;
    if (c & AVTB_CHANGE_ATIME)
        return AVTB_DOC_READ;
    if (c & (AVTB_CHANGE_MTIME | AVTB_CHANGE_CTIME))
        return AVTB_DOC_TOUCHED;
    return AVTB_DOC_UNCHANGED;
}

const char *avtb_forensics_state_name(avtb_forensics_state s)
{
    static const char *const names[] = {"unchanged", "read", "touched", "changed", "vanished"};

    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *avtb_forensics_change_name(unsigned bit)
{
    static const char *const names[AVTB_CHANGE_COUNT] = {"atime",   "mtime", "ctime", "size",
                                                         "content", "type",  "owner", "mode"};

    for (unsigned i = 0; i < AVTB_CHANGE_COUNT; i++)
        if (bit == 1u << i)
            return names[i];
    return NULL;
}

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0 (RFC 3629, Table 3-7). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;

    if (c >= 0x01 && c <= 0x7F)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing past U+10FFFF */
    } else
        return 0; /* NUL (jansson cannot take it), a stray continuation, C0, C1, F5-FF */
    if (n < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return need;
}

char *avtb_forensics_utf8(const char *bytes, size_t len, bool *lossy)
{
    const unsigned char *p = (const unsigned char *)bytes;
    char *out, *w;

    if (lossy != NULL)
        *lossy = false;
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    out = malloc(len * 3 + 1);
    if (out == NULL)
        return NULL;
    w = out;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(p + i, len - i);

        if (n == 0) {
            memcpy(w, "\xEF\xBF\xBD", 3); /* U+FFFD */
            w += 3;
            i++;
            if (lossy != NULL)
                *lossy = true;
            continue;
        }
        memcpy(w, p + i, n);
        w += n;
        i += n;
    }
    *w = '\0';
    return out;
}

void avtb_forensics_safe_name(const char *name, char out[65])
{
    size_t n = 0;
    bool dots = true;

    for (const char *c = name; *c != '\0' && n < 64; c++) {
        bool keep = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                    (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_';

        out[n++] = keep ? *c : '_';
        dots &= *c == '.';
    }
    out[n] = '\0';
    if (n == 0 || dots)
        snprintf(out, 65, "file");
}

bool avtb_forensics_archive_step(const char *step)
{
    /* transform.c's archive kinds and stream decoders. */
    static const char *const steps[] = {
        "zip",  "7z",   "tar",  "cpio",  "rar", "ar",  "cab",     "xar",    "lha",    "iso9660",
        "gzip", "zlib", "zstd", "bzip2", "xz",  "lz4", "deflate", "brotli", "archive"};

    for (size_t i = 0; step != NULL && i < sizeof(steps) / sizeof(steps[0]); i++)
        if (strcmp(step, steps[i]) == 0)
            return true;
    return false;
}

const char *avtb_forensics_kind(bool copy, const avtb_scan_hit *hits, size_t nhits)
{
    if (copy)
        return "copy";
    for (size_t i = 0; i < nhits; i++)
        for (size_t j = 0; j < hits[i].nencoding; j++)
            if (avtb_forensics_archive_step(hits[i].encoding[j]))
                return "archive";
    return "derived";
}

/* ---- the run's state ------------------------------------------------------- */

/* A planted document: planted.json's record (strings borrowed from it). */
typedef struct fdoc {
    const char *path, *disk_path, *token;
    avtb_forensics_stat before;
} fdoc;

/* One name from find0: a relative path in the mapped list; its parent is rel[0..dirlen). */
typedef struct entry {
    const char *rel;
    size_t dirlen;
} entry;

/* A regular file changed during the run. */
typedef struct cand {
    const char *rel;
    int64_t size, uid, gid, mode;
    avtb_forensics_time mtime, ctime;
} cand;

/* What limits cut, for "cut_by". */
enum {
    CUT_ENTRIES = 1u << 0,
    CUT_FILES = 1u << 1,
    CUT_FILE_BYTES = 1u << 2,
    CUT_TOTAL_BYTES = 1u << 3,
};

typedef struct fx {
    guestfs_h *g;
    const avtb_forensics_req *req;
    avtb_forensics_limits lim; /* defaults filled in */
    avtb_transform_limits tlim;
    json_t *planted;
    fdoc *docs;
    size_t ndocs;
    char *fstype;
    bool mounted;
    /* The walk: find0's list mapped, its names sorted by directory. */
    char *map;
    size_t maplen;
    entry *ents;
    size_t nents, found;
    cand *cands;
    size_t ncands, capcands;
    /* Output. */
    json_t *documents, *files, *unscanned, *anomalies;
    size_t changed, scanned, too_large, unreadable, nunscanned, nanomalies, saved, not_saved;
    uint64_t bytes, saved_bytes;
    unsigned cut;
    avtb_forensics_summary sum;
    double documents_s, find_s, walk_s, scan_s;
    /* The file being scanned. */
    avtb_scanner *scanner;
    const char *cur; /* its full path */
    json_t *cur_tokens;
    avtb_scan_hit *cur_hits;
    size_t ncur_hits;
    bool cur_fail;
} fx;

static avtb_err nomem(avtb_error *err)
{
    return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
}

/* Seconds to the millisecond, as planted.json's timings. */
static json_t *seconds(double s)
{
    return json_real((double)(long long)(s * 1000 + 0.5) / 1000);
}

static json_t *time_json(avtb_forensics_time t)
{
    return json_pack("{s:I, s:I}", "sec", (json_int_t)t.sec, "nsec", (json_int_t)t.nsec);
}

/*
 * Sets o[key] to the guest bytes s as valid UTF-8 and, when that lost
 * bytes, o[hexkey] to the exact bytes in hex (at most HEX_MAX of them).
 */
static int set_name(json_t *o, const char *key, const char *hexkey, const char *s)
{
    size_t len = strlen(s);
    bool lossy = false;
    char *u = avtb_forensics_utf8(s, len, &lossy);
    int r = -1;

    if (u == NULL || json_object_set_new(o, key, json_string(u)) < 0)
        goto out;
    if (lossy && hexkey != NULL) {
        size_t n = len < HEX_MAX ? len : HEX_MAX;
        char *hex = malloc(2 * n + 1);

        if (hex == NULL)
            goto out;
        avtb_hex(s, n, hex);
        r = json_object_set_new(o, hexkey, json_string(hex));
        free(hex);
        if (r < 0)
            goto out;
        if (n < len && json_object_set_new(o, "path_hex_truncated", json_true()) < 0) {
            r = -1;
            goto out;
        }
    }
    r = 0;
out:
    free(u);
    return r;
}

static void fx_free(fx *x)
{
    free(x->docs);
    free(x->ents);
    free(x->cands);
    free(x->fstype);
    if (x->map != NULL)
        munmap(x->map, x->maplen);
    json_decref(x->planted);
    json_decref(x->documents);
    json_decref(x->files);
    json_decref(x->unscanned);
    json_decref(x->anomalies);
    avtb_scanner_free(x->scanner);
}

static void fill_limits(avtb_forensics_limits *l, const avtb_forensics_limits *given)
{
    *l = *given;
    if (l->max_entries == 0)
        l->max_entries = AVTB_FORENSICS_MAX_ENTRIES;
    if (l->max_files == 0)
        l->max_files = AVTB_FORENSICS_MAX_FILES;
    if (l->max_file_bytes == 0)
        l->max_file_bytes = AVTB_FORENSICS_MAX_FILE_BYTES;
    if (l->max_total_bytes == 0)
        l->max_total_bytes = AVTB_FORENSICS_MAX_TOTAL_BYTES;
    if (l->max_saved_bytes == 0)
        l->max_saved_bytes = AVTB_FORENSICS_MAX_SAVED_BYTES;
}

/* ---- planted.json ----------------------------------------------------------- */

static bool get_time(json_t *d, const char *key, avtb_forensics_time *t)
{
    json_t *o = json_object_get(d, key);
    json_t *sec = json_object_get(o, "sec"), *nsec = json_object_get(o, "nsec");

    if (!json_is_integer(sec) || !json_is_integer(nsec))
        return false;
    t->sec = json_integer_value(sec);
    t->nsec = json_integer_value(nsec);
    return true;
}

/* One document of planted.json into d; false when a field is missing or has the wrong type. */
static bool parse_doc(json_t *o, fdoc *d)
{
    json_t *size = json_object_get(o, "size"), *sha = json_object_get(o, "sha256");
    json_t *uid = json_object_get(o, "uid"), *gid = json_object_get(o, "gid");
    json_t *mode = json_object_get(o, "mode");

    d->path = json_string_value(json_object_get(o, "path"));
    d->disk_path = json_string_value(json_object_get(o, "disk_path"));
    if (d->disk_path == NULL) /* planted.json from before disk_path existed */
        d->disk_path = d->path;
    d->token = json_string_value(json_object_get(o, "token"));
    if (d->path == NULL || d->token == NULL || d->disk_path[0] != '/' || !json_is_integer(size) ||
        json_integer_value(size) < 0 || !json_is_string(sha) ||
        strlen(json_string_value(sha)) != 64 || !get_time(o, "atime", &d->before.atime) ||
        !get_time(o, "mtime", &d->before.mtime) || !get_time(o, "ctime", &d->before.ctime))
        return false;
    d->before.present = true;
    d->before.regular = true;
    d->before.size = (uint64_t)json_integer_value(size);
    snprintf(d->before.sha256, sizeof(d->before.sha256), "%s", json_string_value(sha));
    /* NTFS: null owners (ntfs-3g reports root and 0777 for everything). */
    d->before.owners = json_is_integer(uid) && json_is_integer(gid) && json_is_integer(mode);
    if (d->before.owners) {
        d->before.uid = json_integer_value(uid);
        d->before.gid = json_integer_value(gid);
        d->before.mode = json_integer_value(mode);
    }
    return true;
}

static avtb_err load_planted(fx *x, avtb_error *err)
{
    char *path = avtb_path_join(x->req->evidence_dir, "planted.json");
    json_error_t jerr;
    json_t *docs, *o;
    avtb_err r = AVTB_ERR_INPUT;
    size_t i;

    if (path == NULL)
        return nomem(err);
    if (access(path, F_OK) < 0) {
        r = avtb_error_errno(err, AVTB_ERR_NOT_FOUND, errno,
                             "%s: cannot read the planting record (did planting run in this "
                             "evidence directory?)",
                             path);
        goto out;
    }
    x->planted = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (x->planted == NULL) {
        r = avtb_error_set(err, AVTB_ERR_INPUT, "%s:%d:%d: %s; planting writes it, do not edit it",
                           path, jerr.line, jerr.column, jerr.text);
        goto out;
    }
    docs = json_object_get(x->planted, "documents");
    if (docs != NULL && !json_is_array(docs)) {
        r = avtb_error_set(err, AVTB_ERR_INPUT, "%s: \"documents\" is not an array", path);
        goto out;
    }
    x->docs = calloc(json_array_size(docs) + 1, sizeof(*x->docs));
    if (x->docs == NULL) {
        r = nomem(err);
        goto out;
    }
    json_array_foreach(docs, i, o)
    {
        if (!parse_doc(o, &x->docs[i])) {
            r = avtb_error_set(err, AVTB_ERR_INPUT,
                               "%s: document %zu lacks path, token, size, sha256 or its "
                               "atime/mtime/ctime {sec, nsec}; planting writes it, do not edit it",
                               path, i + 1);
            goto out;
        }
    }
    x->ndocs = json_array_size(docs);
    r = AVTB_OK;
out:
    free(path);
    return r;
}

/* ---- reading guest files ---------------------------------------------------- */

/* The size bytes of the guest file path into *out (caller frees; never NULL on success). */
static avtb_err read_guest(guestfs_h *g, const char *path, size_t size, uint8_t **out,
                           avtb_error *err)
{
    uint8_t *buf = malloc(size + 1);
    avtb_err r = AVTB_ERR_GUESTFS;

    *out = NULL;
    if (buf == NULL)
        return nomem(err);
    for (size_t off = 0; off < size;) {
        size_t want = size - off < XFER_CHUNK ? size - off : XFER_CHUNK, got = 0;
        char *chunk = guestfs_pread(g, path, (int)want, (int64_t)off, &got);

        if (chunk == NULL) {
            r = avtb_guestfs_error(g, err, "cannot read", path);
            goto out;
        }
        if (got == 0 || got > want) {
            free(chunk);
            r = avtb_error_set(err, AVTB_ERR_GUESTFS,
                               "%s: %zu bytes where lstat said %zu; the filesystem is damaged",
                               path, off + got, size);
            goto out;
        }
        memcpy(buf + off, chunk, got);
        free(chunk);
        off += got;
    }
    buf[size] = '\0';
    *out = buf;
    buf = NULL; /* transferred */
    r = AVTB_OK;
out:
    free(buf);
    return r;
}

/* ---- 1. the planted documents ----------------------------------------------- */

static json_t *stat_json(const avtb_forensics_stat *s)
{
    json_t *o = json_pack("{s:I, s:s?, s:o, s:o, s:o}", "size", (json_int_t)s->size, "sha256",
                          s->sha256[0] ? s->sha256 : NULL, "atime", time_json(s->atime), "mtime",
                          time_json(s->mtime), "ctime", time_json(s->ctime));

    if (o != NULL && !s->regular && json_object_set_new(o, "regular", json_false()) < 0) {
        json_decref(o);
        return NULL;
    }
    if (o != NULL && s->owners &&
        (json_object_set_new(o, "uid", json_integer(s->uid)) < 0 ||
         json_object_set_new(o, "gid", json_integer(s->gid)) < 0 ||
         json_object_set_new(o, "mode", json_integer(s->mode)) < 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The document's state now into *after. */
static avtb_err look_at_doc(fx *x, const fdoc *d, avtb_forensics_stat *after, avtb_error *err)
{
    struct guestfs_statns *st = guestfs_lstatns(x->g, d->disk_path);
    uint8_t *buf = NULL;
    avtb_err r = AVTB_OK;

    memset(after, 0, sizeof(*after));
    if (st == NULL) {
        int e = guestfs_last_errno(x->g);

        /* ENOTDIR: a folder on the way was replaced by a file. */
        return e == ENOENT || e == ENOTDIR
                   ? AVTB_OK
                   : avtb_guestfs_error(x->g, err, "cannot stat the planted document",
                                        d->disk_path);
    }
    after->present = true;
    after->regular = S_ISREG(st->st_mode);
    after->size = st->st_size < 0 ? 0 : (uint64_t)st->st_size;
    after->atime = (avtb_forensics_time){st->st_atime_sec, st->st_atime_nsec};
    after->mtime = (avtb_forensics_time){st->st_mtime_sec, st->st_mtime_nsec};
    after->ctime = (avtb_forensics_time){st->st_ctime_sec, st->st_ctime_nsec};
    after->owners = d->before.owners;
    after->uid = st->st_uid;
    after->gid = st->st_gid;
    after->mode = st->st_mode & 07777;
    if (after->regular && after->size <= x->lim.max_file_bytes) {
        /* pread and a host SHA-256: 1-4 ms for a document here, where
         * guestfs_checksum spawns sha256sum in the appliance (45 ms). The
         * mount is read-only, so reading moves no atime. */
        r = read_guest(x->g, d->disk_path, (size_t)after->size, &buf, err);
        if (r == AVTB_OK)
            avtb_sha256_hex(buf, (size_t)after->size, after->sha256);
    } else if (after->regular) {
        char *sum = guestfs_checksum(x->g, "sha256", d->disk_path);

        if (sum == NULL)
            r = avtb_guestfs_error(x->g, err, "cannot checksum the planted document", d->disk_path);
        else
            snprintf(after->sha256, sizeof(after->sha256), "%s", sum);
        free(sum);
    }
    free(buf);
    guestfs_free_statns(st);
    return r;
}

static avtb_err check_doc(fx *x, const fdoc *d, avtb_error *err)
{
    avtb_forensics_stat after;
    avtb_forensics_state state;
    unsigned changes;
    json_t *o = NULL, *ch = NULL;
    avtb_err r = look_at_doc(x, d, &after, err);

    if (r != AVTB_OK)
        return r;
    state = avtb_forensics_compare(&d->before, &after, &changes);
    r = AVTB_ERR_NOMEM;
    ch = json_array();
    for (unsigned i = 0; ch != NULL && i < AVTB_CHANGE_COUNT; i++)
        if ((changes & (1u << i)) &&
            json_array_append_new(ch, json_string(avtb_forensics_change_name(1u << i))) < 0)
            goto out;
    o = json_pack("{s:s, s:s, s:s, s:s, s:O, s:o, s:o}", "path", d->path, "disk_path", d->disk_path,
                  "token", d->token, "state", avtb_forensics_state_name(state), "changes", ch,
                  "before", stat_json(&d->before), "after",
                  after.present ? stat_json(&after) : json_null());
    if (o == NULL || json_array_append(x->documents, o) < 0)
        goto out;
    x->sum.documents++;
    x->sum.read += state == AVTB_DOC_READ;
    x->sum.touched += state == AVTB_DOC_TOUCHED;
    x->sum.changed += state == AVTB_DOC_CHANGED;
    x->sum.vanished += state == AVTB_DOC_VANISHED;
    r = AVTB_OK;
out:
    if (r != AVTB_OK)
        nomem(err);
    json_decref(o);
    json_decref(ch);
    return r;
}

/* A changed file (or a directory) left out of the scan, and why. */
static avtb_err note_unscanned(fx *x, const char *full, int64_t size, const char *reason,
                               const char *error, avtb_error *err)
{
    json_t *o;

    x->nunscanned++;
    if (json_array_size(x->unscanned) >= UNSCANNED_LISTED)
        return AVTB_OK;
    o = json_pack("{s:s}", "reason", reason);
    if (o == NULL || set_name(o, "path", "path_hex", full) < 0 ||
        (size >= 0 && json_object_set_new(o, "size", json_integer(size)) < 0) ||
        (error != NULL && set_name(o, "error", NULL, error) < 0) ||
        json_array_append(x->unscanned, o) < 0) {
        json_decref(o);
        return nomem(err);
    }
    json_decref(o);
    return AVTB_OK;
}

/* ---- 2a. the walk ------------------------------------------------------------- */

static const char *entry_base(const entry *e)
{
    return e->rel + (e->dirlen ? e->dirlen + 1 : 0);
}

/* By parent directory, then name: one directory's entries end up together. */
static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    size_t n = x->dirlen < y->dirlen ? x->dirlen : y->dirlen;
    int c = memcmp(x->rel, y->rel, n);

    if (c != 0)
        return c;
    if (x->dirlen != y->dirlen)
        return x->dirlen < y->dirlen ? -1 : 1;
    return strcmp(entry_base(x), entry_base(y));
}

/*
 * find0 of the whole root into a host temporary file, mapped; every name
 * up to max_entries becomes an entry (x->found counts them all).
 */
static avtb_err list_names(fx *x, avtb_error *err)
{
    const char *tmpdir = getenv("TMPDIR");
    char *path = NULL;
    struct stat sb;
    avtb_err r = AVTB_ERR_IO;
    int fd = -1;

    /* /var/tmp: a large guest's list (~60 bytes a name) should not fill a tmpfs. */
    if (asprintf(&path, "%s/avtb-forensics-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/var/tmp") < 0)
        return nomem(err);
    fd = mkstemp(path);
    if (fd < 0) {
        r = avtb_error_errno(err, AVTB_ERR_IO, errno,
                             "cannot create a temporary file %s for the guest's file list (set "
                             "TMPDIR to a writable folder)",
                             path);
        goto out;
    }
    if (guestfs_find0(x->g, "/", path) < 0) {
        r = avtb_guestfs_error(x->g, err, "cannot list the files of", x->req->root_device);
        goto out;
    }
    if (fstat(fd, &sb) < 0) {
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot stat %s", path);
        goto out;
    }
    x->maplen = (size_t)sb.st_size;
    if (x->maplen > 0) {
        void *m = mmap(NULL, x->maplen, PROT_READ, MAP_PRIVATE, fd, 0);

        if (m == MAP_FAILED) {
            x->maplen = 0;
            r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot map %s", path);
            goto out;
        }
        x->map = m;
    }
    for (size_t off = 0; off < x->maplen;) {
        const char *name = x->map + off, *nul = memchr(name, '\0', x->maplen - off);

        if (nul == NULL) /* a name without its NUL: find0 was cut short */
            break;
        off = (size_t)(nul - x->map) + 1;
        if (nul == name)
            continue;
        x->found++;
        if (x->nents == x->lim.max_entries) {
            x->cut |= CUT_ENTRIES;
            continue;
        }
        if (x->ents == NULL) {
            /* An upper bound for the array: the names are at least 2 bytes each. */
            size_t n = x->maplen / 2 + 1;

            x->ents = calloc(n < x->lim.max_entries ? n : x->lim.max_entries, sizeof(*x->ents));
            if (x->ents == NULL) {
                r = nomem(err);
                goto out;
            }
        }
        {
            const char *slash = memrchr(name, '/', (size_t)(nul - name));

            x->ents[x->nents].rel = name;
            x->ents[x->nents].dirlen = slash ? (size_t)(slash - name) : 0;
            x->nents++;
        }
    }
    if (x->nents > 0)
        qsort(x->ents, x->nents, sizeof(*x->ents), entry_cmp);
    r = AVTB_OK;
out:
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    free(path);
    return r;
}

static bool is_doc(const fx *x, const char *full)
{
    for (size_t i = 0; i < x->ndocs; i++)
        if (strcmp(x->docs[i].disk_path, full) == 0)
            return true;
    return false;
}

static avtb_err add_cand(fx *x, const entry *e, const struct guestfs_statns *st, avtb_error *err)
{
    cand *c;

    if (x->ncands == x->capcands) {
        size_t ncap = x->capcands ? x->capcands * 2 : 64;
        cand *nc = reallocarray(x->cands, ncap, sizeof(*nc));

        if (nc == NULL)
            return nomem(err);
        x->cands = nc;
        x->capcands = ncap;
    }
    c = &x->cands[x->ncands++];
    c->rel = e->rel;
    c->size = st->st_size;
    c->uid = st->st_uid;
    c->gid = st->st_gid;
    c->mode = st->st_mode & 07777;
    c->mtime = (avtb_forensics_time){st->st_mtime_sec, st->st_mtime_nsec};
    c->ctime = (avtb_forensics_time){st->st_ctime_sec, st->st_ctime_nsec};
    return AVTB_OK;
}

/* lstat of ents[0..n) (one directory's names, at most LSTAT_BATCH) in one call. */
static avtb_err stat_batch(fx *x, const char *dir, const entry *ents, size_t n, char **names,
                           avtb_error *err)
{
    struct guestfs_statns_list *l;
    avtb_err r = AVTB_OK;

    for (size_t i = 0; i < n; i++)
        names[i] = (char *)entry_base(&ents[i]);
    names[n] = NULL;
    l = guestfs_lstatnslist(x->g, dir, names);
    if (l == NULL || l->len != n) {
        /* A directory the appliance cannot list (a name too long, a damaged
         * inode): its names are counted unreadable, the walk goes on. */
        char what[AVTB_ERRMSG_MAX];

        snprintf(what, sizeof(what), "lstat: %s",
                 l == NULL && guestfs_last_error(x->g) ? guestfs_last_error(x->g)
                                                       : "wrong number of replies");
        x->unreadable += n;
        r = note_unscanned(x, dir, -1, "unreadable", what, err);
        goto out;
    }
    for (size_t i = 0; r == AVTB_OK && i < n; i++) {
        const struct guestfs_statns *st = &l->val[i];
        char *full;

        if (st->st_ino == -1) { /* lstat of this name failed */
            x->unreadable++;
            continue;
        }
        if (!S_ISREG(st->st_mode) ||
            (st->st_mtime_sec < x->req->since && st->st_ctime_sec < x->req->since))
            continue;
        if (asprintf(&full, "/%s", ents[i].rel) < 0) {
            r = nomem(err);
            break;
        }
        if (!is_doc(x, full)) {
            x->changed++;
            r = add_cand(x, &ents[i], st, err);
        }
        free(full);
    }
out:
    if (l != NULL)
        guestfs_free_statns_list(l);
    return r;
}

static avtb_err walk(fx *x, avtb_error *err)
{
    char **names = calloc(LSTAT_BATCH + 1, sizeof(*names));
    double t = avtb_now();
    avtb_err r = list_names(x, err);

    x->find_s = avtb_now() - t;
    if (names == NULL && r == AVTB_OK)
        r = nomem(err);
    for (size_t i = 0; r == AVTB_OK && i < x->nents;) {
        const entry *e = &x->ents[i];
        size_t j = i + 1;
        char *dir = NULL;

        while (j < x->nents && j - i < LSTAT_BATCH && x->ents[j].dirlen == e->dirlen &&
               memcmp(x->ents[j].rel, e->rel, e->dirlen) == 0)
            j++;
        if (asprintf(&dir, "/%.*s", (int)e->dirlen, e->rel) < 0)
            r = nomem(err);
        else
            r = stat_batch(x, dir, e, j - i, names, err);
        free(dir);
        i = j;
    }
    free(names);
    return r;
}

/* ---- 2b. scanning the changed files --------------------------------------------- */

static void on_anomaly(void *ctx, const char *what)
{
    fx *x = ctx;
    json_t *o;

    x->nanomalies++;
    if (json_array_size(x->anomalies) >= ANOMALIES_LISTED)
        return;
    o = json_object();
    /* Both hold guest bytes (archive member names in what). */
    if (o == NULL || set_name(o, "path", "path_hex", x->cur) < 0 ||
        set_name(o, "what", NULL, what) < 0 || json_array_append(x->anomalies, o) < 0)
        x->cur_fail = true;
    json_decref(o);
}

static void on_hit(void *ctx, const avtb_message *m, const avtb_scan_hit *h)
{
    fx *x = ctx;
    const char *doc = x->req->token_docs ? x->req->token_docs[h->token] : NULL;
    json_t *o, *enc = json_array();
    avtb_scan_hit *copy;

    for (size_t i = 0; enc != NULL && i < h->nencoding; i++)
        if (json_array_append_new(enc, json_string(h->encoding[i])) < 0)
            x->cur_fail = true;
    o = json_pack("{s:s, s:s?, s:s, s:o?}", "token",
                  avtb_patterns_token(x->req->patterns, h->token), "document", doc, "hit",
                  h->kind == AVTB_HIT_CONTENT ? "content" : "metadata", "encoding", enc);
    if (o == NULL ||
        (h->member != NULL ? set_name(o, "member", "member_hex", h->member)
                           : json_object_set_new(o, "member", json_null())) < 0 ||
        json_array_append(x->cur_tokens, o) < 0)
        x->cur_fail = true;
    json_decref(o);
    /* For the kind: encoding names are static; the member is not kept. */
    copy = reallocarray(x->cur_hits, x->ncur_hits + 1, sizeof(*copy));
    if (copy == NULL) {
        x->cur_fail = true;
        return;
    }
    x->cur_hits = copy;
    copy[x->ncur_hits] = *h;
    copy[x->ncur_hits++].member = NULL;
}

/* Copies a token-bearing file into EVIDENCE/forensics/files; *saved the relative name or NULL. */
static avtb_err save_file(fx *x, const char *full, const uint8_t *buf, size_t len, char **saved,
                          avtb_error *err)
{
    char safe[65], *rel = NULL, *path = NULL, *dir = NULL;
    const char *base = strrchr(full, '/') + 1;
    avtb_err r = AVTB_ERR_NOMEM;

    *saved = NULL;
    if (len > x->lim.max_saved_bytes || x->saved_bytes > x->lim.max_saved_bytes - len) {
        x->not_saved++;
        return AVTB_OK;
    }
    avtb_forensics_safe_name(base, safe);
    if (asprintf(&rel, "forensics/files/%03zu-%s", x->saved + 1, safe) < 0) {
        rel = NULL;
        goto out;
    }
    path = avtb_path_join(x->req->evidence_dir, rel);
    dir = avtb_path_join(x->req->evidence_dir, "forensics/files");
    if (path == NULL || dir == NULL)
        goto out;
    r = avtb_mkdir_p(dir, 0755, err);
    if (r == AVTB_OK)
        r = avtb_write_file(path, buf, len, 0644, err);
    if (r != AVTB_OK)
        goto out;
    x->saved++;
    x->saved_bytes += len;
    *saved = rel;
    rel = NULL; /* transferred */
out:
    if (r == AVTB_ERR_NOMEM)
        nomem(err);
    free(rel);
    free(path);
    free(dir);
    return r;
}

/* The planted document whose bytes these are (a verbatim copy), or NULL. */
static const fdoc *copy_of(const fx *x, const char *sha)
{
    for (size_t i = 0; i < x->ndocs; i++)
        if (strcmp(x->docs[i].before.sha256, sha) == 0)
            return &x->docs[i];
    return NULL;
}

/* The record of a token-bearing file; x->cur_tokens is moved into it. */
static avtb_err record_file(fx *x, const cand *c, const char *full, const uint8_t *buf,
                            const char *sha, avtb_error *err)
{
    const fdoc *orig = copy_of(x, sha);
    char *saved = NULL;
    json_t *o = NULL;
    avtb_err r = save_file(x, full, buf, (size_t)c->size, &saved, err);

    if (r != AVTB_OK)
        return r;
    r = AVTB_ERR_NOMEM;
    o = json_pack("{s:I, s:o, s:o, s:I, s:I, s:I, s:s, s:s, s:s?, s:O, s:s?}", "size",
                  (json_int_t)c->size, "mtime", time_json(c->mtime), "ctime", time_json(c->ctime),
                  "uid", (json_int_t)c->uid, "gid", (json_int_t)c->gid, "mode", (json_int_t)c->mode,
                  "sha256", sha, "kind",
                  avtb_forensics_kind(orig != NULL, x->cur_hits, x->ncur_hits), "copy_of",
                  orig ? orig->path : NULL, "tokens", x->cur_tokens, "saved", saved);
    if (o == NULL || set_name(o, "path", "path_hex", full) < 0 ||
        (saved == NULL &&
         json_object_set_new(o, "not_saved", json_string("max_saved_bytes")) < 0) ||
        json_array_append(x->files, o) < 0) {
        nomem(err);
        goto out;
    }
    x->sum.files_with_tokens++;
    r = AVTB_OK;
out:
    json_decref(o);
    free(saved);
    return r;
}

/* Reads and scans one changed file; a file that cannot be read is noted, not fatal. */
static avtb_err scan_one(fx *x, const cand *c, avtb_error *err)
{
    avtb_message m = {.protocol = "file"};
    avtb_error rerr = {0};
    char *full = NULL, sha[65];
    uint8_t *buf = NULL;
    avtb_err r = AVTB_ERR_NOMEM;

    if (asprintf(&full, "/%s", c->rel) < 0)
        return nomem(err);
    if (c->size < 0 || (uint64_t)c->size > x->lim.max_file_bytes) {
        x->too_large++;
        x->cut |= CUT_FILE_BYTES;
        r = note_unscanned(x, full, c->size, "max_file_bytes", NULL, err);
        goto out;
    }
    if (x->scanned >= x->lim.max_files) {
        x->cut |= CUT_FILES;
        r = note_unscanned(x, full, c->size, "max_files", NULL, err);
        goto out;
    }
    if (x->bytes + (uint64_t)c->size > x->lim.max_total_bytes) {
        x->cut |= CUT_TOTAL_BYTES;
        r = note_unscanned(x, full, c->size, "max_total_bytes", NULL, err);
        goto out;
    }
    if (read_guest(x->g, full, (size_t)c->size, &buf, &rerr) != AVTB_OK) {
        x->unreadable++;
        r = rerr.code == AVTB_ERR_NOMEM
                ? nomem(err)
                : note_unscanned(x, full, c->size, "unreadable", rerr.msg, err);
        goto out;
    }
    x->bytes += (uint64_t)c->size;
    x->scanned++;
    x->cur = full;
    x->cur_tokens = json_array();
    x->ncur_hits = 0;
    x->cur_fail = x->cur_tokens == NULL;
    m.name = strrchr(full, '/') + 1;
    m.data = buf;
    m.len = (size_t)c->size;
    r = avtb_scan_message(x->scanner, &m, on_hit, x, err);
    if (r == AVTB_OK && x->cur_fail)
        r = nomem(err);
    if (r == AVTB_OK && json_array_size(x->cur_tokens) > 0) {
        avtb_sha256_hex(buf, (size_t)c->size, sha);
        r = record_file(x, c, full, buf, sha, err);
    }
out:
    json_decref(x->cur_tokens);
    x->cur_tokens = NULL;
    x->cur = NULL;
    free(buf);
    free(full);
    return r;
}

static avtb_err scan_changed(fx *x, avtb_error *err)
{
    avtb_err r = AVTB_OK;

    avtb_transform_limits_default(&x->tlim);
    x->scanner = avtb_scanner_new(x->req->patterns, &x->tlim, on_anomaly, x);
    if (x->scanner == NULL)
        return nomem(err);
    for (size_t i = 0; r == AVTB_OK && i < x->ncands; i++)
        r = scan_one(x, &x->cands[i], err);
    free(x->cur_hits);
    x->cur_hits = NULL;
    return r;
}

/* ---- forensics.json ------------------------------------------------------------- */

static json_t *examined_json(const fx *x)
{
    static const char *const cuts[] = {"max_entries", "max_files", "max_file_bytes",
                                       "max_total_bytes"};
    json_t *cut = json_array(), *o;

    for (size_t i = 0; cut != NULL && i < sizeof(cuts) / sizeof(cuts[0]); i++)
        if ((x->cut & (1u << i)) && json_array_append_new(cut, json_string(cuts[i])) < 0) {
            json_decref(cut);
            return NULL;
        }
    o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:o, s:{s:I, "
                  "s:I, s:I, s:I, s:I}}",
                  "entries", (json_int_t)x->nents, "entries_found", (json_int_t)x->found, "changed",
                  (json_int_t)x->changed, "scanned", (json_int_t)x->scanned, "bytes",
                  (json_int_t)x->bytes, "too_large", (json_int_t)x->too_large, "unreadable",
                  (json_int_t)x->unreadable, "unscanned", (json_int_t)x->nunscanned, "anomalies",
                  (json_int_t)x->nanomalies, "saved", (json_int_t)x->saved, "not_saved",
                  (json_int_t)x->not_saved, "limit_reached", x->cut != 0, "cut_by", cut, "limits",
                  "max_entries", (json_int_t)x->lim.max_entries, "max_files",
                  (json_int_t)x->lim.max_files, "max_file_bytes", (json_int_t)x->lim.max_file_bytes,
                  "max_total_bytes", (json_int_t)x->lim.max_total_bytes, "max_saved_bytes",
                  (json_int_t)x->lim.max_saved_bytes);
    return o;
}

/*
 * Writes EVIDENCE/forensics.json: the findings when r is AVTB_OK, else
 * "status":"failed" with reason. launch_s < 0: the caller launched.
 */
static avtb_err write_result(const avtb_forensics_req *req, const fx *x, avtb_err r,
                             const char *reason, double launch_s, double t0, avtb_error *err)
{
    json_t *root = NULL, *timings;
    char *text = NULL, *path = NULL;
    avtb_err w = AVTB_ERR_NOMEM;

    timings = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "launch_s",
                        launch_s >= 0 ? seconds(launch_s) : json_null(), "documents_s",
                        seconds(x ? x->documents_s : 0), "walk_s", seconds(x ? x->walk_s : 0),
                        "find_s", seconds(x ? x->find_s : 0), "scan_s", seconds(x ? x->scan_s : 0),
                        "total_s", seconds(avtb_now() - t0));
    root = json_pack("{s:i, s:s, s:s?, s:I, s:o?}", "format", 1, "status",
                     r == AVTB_OK ? "done" : "failed", "reason", r == AVTB_OK ? NULL : reason,
                     "since", (json_int_t)req->since, "timings", timings);
    if (root == NULL)
        goto out;
    if (json_object_set_new(
            root, "filesystem",
            x && x->fstype ? json_pack("{s:s, s:s}", "device", req->root_device, "type", x->fstype)
                           : json_null()) < 0)
        goto out;
    if (r == AVTB_OK && (json_object_set(root, "documents", x->documents) < 0 ||
                         json_object_set(root, "files", x->files) < 0 ||
                         json_object_set(root, "unscanned", x->unscanned) < 0 ||
                         json_object_set(root, "anomalies", x->anomalies) < 0 ||
                         json_object_set_new(root, "examined", examined_json(x)) < 0))
        goto out;
    text = json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER |
                                JSON_REAL_PRECISION(9));
    path = avtb_path_join(req->evidence_dir, "forensics.json");
    if (text == NULL || path == NULL)
        goto out;
    w = avtb_write_file(path, text, strlen(text), 0644, err);
out:
    if (w == AVTB_ERR_NOMEM)
        nomem(err);
    json_decref(root);
    free(text);
    free(path);
    return w;
}

/* Mounts, looks, unmounts; the findings stay in x. */
static avtb_err investigate(fx *x, avtb_error *err)
{
    avtb_err r = AVTB_ERR_NOMEM;
    double t;

    x->documents = json_array();
    x->files = json_array();
    x->unscanned = json_array();
    x->anomalies = json_array();
    if (x->documents == NULL || x->files == NULL || x->unscanned == NULL || x->anomalies == NULL) {
        nomem(err);
        goto out;
    }
    r = load_planted(x, err);
    if (r != AVTB_OK)
        goto out;
    x->fstype = guestfs_vfs_type(x->g, x->req->root_device);
    if (x->fstype == NULL) {
        r = avtb_guestfs_error(x->g, err, "cannot tell the filesystem of the guest root",
                               x->req->root_device);
        goto out;
    }
    /* Read-only: no journal replay onto the disk, and reading moves no atime. */
    if (guestfs_mount_ro(x->g, x->req->root_device, "/") < 0) {
        r = avtb_guestfs_error(x->g, err, "cannot mount the guest root read-only",
                               x->req->root_device);
        goto out;
    }
    x->mounted = true;
    t = avtb_now();
    for (size_t i = 0; r == AVTB_OK && i < x->ndocs; i++)
        r = check_doc(x, &x->docs[i], err);
    x->documents_s = avtb_now() - t;
    if (r != AVTB_OK)
        goto out;
    t = avtb_now();
    r = walk(x, err);
    x->walk_s = avtb_now() - t;
    if (r != AVTB_OK)
        goto out;
    t = avtb_now();
    r = scan_changed(x, err);
    x->scan_s = avtb_now() - t;
    if (r != AVTB_OK)
        goto out;
    x->mounted = false;
    if (guestfs_umount_all(x->g) < 0) {
        r = avtb_guestfs_error(x->g, err, "cannot unmount", x->req->root_device);
        goto out;
    }
    x->sum.changed_files = x->changed;
    x->sum.scanned = x->scanned;
    x->sum.limited = x->cut != 0;
out:
    if (x->mounted)
        (void)guestfs_umount_all(x->g);
    x->mounted = false;
    return r;
}

static avtb_err check_req(const avtb_forensics_req *req, avtb_error *err)
{
    if (req == NULL || req->evidence_dir == NULL || req->root_device == NULL ||
        req->patterns == NULL)
        return avtb_error_set(err, AVTB_ERR_INTERNAL,
                              "forensics: the request lacks its evidence directory, root device "
                              "or patterns");
    return AVTB_OK;
}

static avtb_err forensics_on(guestfs_h *g, const avtb_forensics_req *req, double t0,
                             double launch_s, avtb_forensics_summary *out, avtb_error *err)
{
    fx x = {.g = g, .req = req};
    avtb_error local = {0};
    avtb_err r, w;

    fill_limits(&x.lim, &req->limits);
    r = investigate(&x, &local);
    w = write_result(req, &x, r, local.msg, launch_s, t0, r == AVTB_OK ? &local : NULL);
    if (r == AVTB_OK)
        r = w;
    if (r != AVTB_OK)
        avtb_error_set(err, r, "%s", local.msg);
    else if (out != NULL)
        *out = x.sum;
    fx_free(&x);
    return r;
}

avtb_err avtb_forensics_on(guestfs_h *g, const avtb_forensics_req *req, avtb_forensics_summary *out,
                           avtb_error *err)
{
    avtb_err r;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    r = check_req(req, err);
    return r == AVTB_OK ? forensics_on(g, req, avtb_now(), -1, out, err) : r;
}

avtb_err avtb_forensics_run(const avtb_forensics_req *req, avtb_forensics_summary *out,
                            avtb_error *err)
{
    double t0 = avtb_now();
    guestfs_h *g = NULL;
    avtb_error local = {0};
    avtb_err r;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    r = check_req(req, err);
    if (r != AVTB_OK)
        return r;
    if (req->overlay == NULL || access(req->overlay, R_OK) < 0)
        r = avtb_error_errno(&local, AVTB_ERR_NOT_FOUND, req->overlay ? errno : ENOENT,
                             "forensics: cannot open the guest's overlay %s (it must outlive "
                             "the run until forensics is done; keep the run directory)",
                             req->overlay ? req->overlay : "(none given)");
    else
        r = avtb_guestfs_open(req->overlay, true, req->tcg, &g, &local);
    if (r != AVTB_OK) {
        (void)write_result(req, NULL, r, local.msg, -1, t0, NULL);
        return avtb_error_set(err, r, "%s", local.msg);
    }
    r = forensics_on(g, req, t0, avtb_now() - t0, out, err);
    /* Read-only: nothing to flush, so a failed shutdown only costs a warning. */
    if (guestfs_shutdown(g) < 0)
        avtb_warn("libguestfs: shutting down the forensics appliance for %s: %s", req->overlay,
                  guestfs_last_error(g) ? guestfs_last_error(g) : "unknown error");
    guestfs_close(g);
    return r;
}

avtb_err avtb_forensics_batch(const avtb_forensics_req *reqs, size_t n,
                              avtb_forensics_summary *outs, avtb_err *results, avtb_error *errs)
{
    const char *disks[AVTB_GUESTFS_MAX_DRIVES];
    char devs[AVTB_GUESTFS_MAX_DRIVES][32];
    double t0 = avtb_now(), launch_s;
    guestfs_h *g = NULL;
    avtb_error err = {0};
    avtb_err r = AVTB_OK;
    size_t m = 0;
    size_t idx[AVTB_GUESTFS_MAX_DRIVES];

    if (n > AVTB_GUESTFS_MAX_DRIVES)
        return avtb_error_set(&err, AVTB_ERR_INPUT, "a forensics batch holds at most %d runs",
                              AVTB_GUESTFS_MAX_DRIVES);
    /* Requests that cannot be served are answered alone; the rest share the launch. */
    for (size_t i = 0; i < n; i++) {
        memset(&outs[i], 0, sizeof(outs[i]));
        results[i] = check_req(&reqs[i], &errs[i]);
        if (results[i] == AVTB_OK && (reqs[i].overlay == NULL || access(reqs[i].overlay, R_OK) < 0))
            results[i] = avtb_error_errno(&errs[i], AVTB_ERR_NOT_FOUND, errno,
                                          "forensics: cannot open the guest's overlay %s",
                                          reqs[i].overlay ? reqs[i].overlay : "(none given)");
        if (results[i] == AVTB_OK)
            results[i] = avtb_guestfs_drive_device(reqs[i].root_device, m, devs[m], &errs[i]);
        if (results[i] != AVTB_OK) {
            if (reqs[i].evidence_dir != NULL)
                (void)write_result(&reqs[i], NULL, results[i], errs[i].msg, -1, t0, NULL);
            continue;
        }
        disks[m] = reqs[i].overlay;
        idx[m++] = i;
    }
    if (m == 0)
        return AVTB_OK;
    r = avtb_guestfs_open_many(disks, m, true, reqs[idx[0]].tcg, &g, &err);
    if (r != AVTB_OK) {
        for (size_t k = 0; k < m; k++) {
            results[idx[k]] = avtb_error_set(&errs[idx[k]], r, "%s", err.msg);
            (void)write_result(&reqs[idx[k]], NULL, r, err.msg, -1, t0, NULL);
        }
        return r;
    }
    /* Each run records its share of the launch. */
    launch_s = (avtb_now() - t0) / (double)m;
    for (size_t k = 0; k < m; k++) {
        avtb_forensics_req one = reqs[idx[k]];

        one.root_device = devs[k];
        results[idx[k]] = forensics_on(g, &one, avtb_now(), launch_s, &outs[idx[k]], &errs[idx[k]]);
    }
    if (guestfs_shutdown(g) < 0)
        avtb_warn("libguestfs: shutting down a forensics appliance: %s",
                  guestfs_last_error(g) ? guestfs_last_error(g) : "unknown error");
    guestfs_close(g);
    return AVTB_OK;
}
