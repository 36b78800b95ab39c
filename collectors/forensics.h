/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Agentless forensics: after the run, the stopped guest's overlay is opened
 * read-only with libguestfs and compared with what planting recorded
 * (planted.json). Two questions: what happened to each planted document
 * (read, touched, changed, vanished), and which files the run left on the
 * guest's disk that carry the run's tokens (quarantine copies, staging
 * archives, caches). The answers go to EVIDENCE/forensics.json, and the
 * token-bearing files themselves to EVIDENCE/forensics/files/. Format,
 * costs and filesystem facts: collectors/FORENSICS.md.
 */
#ifndef AVTB_FORENSICS_H
#define AVTB_FORENSICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/match.h"
#include "collectors/scan.h"
#include "common/error.h"

struct guestfs_h;

/* Defaults of avtb_forensics_limits. */
#define AVTB_FORENSICS_MAX_ENTRIES     ((size_t)1000000)
#define AVTB_FORENSICS_MAX_FILES       ((size_t)5000)
#define AVTB_FORENSICS_MAX_FILE_BYTES  ((uint64_t)64 << 20)
#define AVTB_FORENSICS_MAX_TOTAL_BYTES ((uint64_t)512 << 20)
#define AVTB_FORENSICS_MAX_SAVED_BYTES ((uint64_t)64 << 20)

/*
 * What the search may cost. Whatever a limit cuts is said in forensics.json
 * ("examined": "limit_reached", "cut_by", and "unscanned" names the files
 * left out), never dropped silently.
 */
typedef struct avtb_forensics_limits {
    size_t max_entries;       /* names walked; default 1000000 */
    size_t max_files;         /* changed files scanned; default 5000 */
    uint64_t max_file_bytes;  /* larger changed files are listed, not scanned; default 64 MiB */
    uint64_t max_total_bytes; /* bytes read and scanned in all; default 512 MiB */
    uint64_t max_saved_bytes; /* token-bearing files copied into the evidence; default 64 MiB */
} avtb_forensics_limits;      /* a zero field means its default */

typedef struct avtb_forensics_req {
    const char *overlay;     /* the stopped guest's qcow2; opened read-only */
    const char *root_device; /* as libguestfs names it, e.g. /dev/sda */
    bool tcg;                /* force_tcg, as plant.c does */
    /* planted.json is read here; forensics.json and forensics/ are written here. */
    const char *evidence_dir;
    const avtb_patterns *patterns; /* the run's tokens (borrowed) */
    const char *const *token_docs; /* per token index, its document path or NULL; may be NULL */
    /* Unix seconds, by the guest's clock: files with mtime or ctime >= since
     * changed during the run. */
    int64_t since;
    avtb_forensics_limits limits;
} avtb_forensics_req;

typedef struct avtb_forensics_summary {
    size_t documents, read, changed, vanished, touched; /* planted documents by state */
    size_t files_with_tokens, changed_files, scanned;
    bool limited; /* a limit cut the search short */
} avtb_forensics_summary;

/*
 * Launches an appliance on req->overlay (read-only), runs the forensics,
 * writes forensics.json. On failure it still writes forensics.json with
 * "status":"failed" and the reason, and returns the error. out may be NULL;
 * it is cleared on entry.
 */
avtb_err avtb_forensics_run(const avtb_forensics_req *req, avtb_forensics_summary *out,
                            avtb_error *err) AVTB_WUR;

/*
 * Same on a handle the caller launched with the root device on it (tests):
 * mounts req->root_device read-only at /, unmounts everything at the end,
 * does not shut g down or close it. req->overlay and req->tcg are not used.
 */
avtb_err avtb_forensics_on(struct guestfs_h *g, const avtb_forensics_req *req,
                           avtb_forensics_summary *out, avtb_error *err) AVTB_WUR;

/*
 * n runs' forensics (at most 26) on one appliance: each overlay on its own
 * drive (root_device mapped to it), each run's forensics.json written as
 * avtb_forensics_run writes it. outs[i], results[i] and errs[i] are run i's;
 * one run failing does not stop the others. Returns AVTB_OK unless the
 * batch itself could not be launched (then every run failed with why).
 */
avtb_err avtb_forensics_batch(const avtb_forensics_req *reqs, size_t n,
                              avtb_forensics_summary *outs, avtb_err *results, avtb_error *errs)
    AVTB_WUR;

/* ---- exposed for tests ---------------------------------------------------- */

typedef enum {
    AVTB_DOC_UNCHANGED,
    AVTB_DOC_READ,    /* atime moved later; nothing else about the content */
    AVTB_DOC_TOUCHED, /* mtime or ctime moved, content and size the same */
    AVTB_DOC_CHANGED, /* not a regular file any more, or other size or bytes */
    AVTB_DOC_VANISHED,
} avtb_forensics_state;

/* What moved, for "changes" (in this order). */
enum {
    AVTB_CHANGE_ATIME = 1u << 0,
    AVTB_CHANGE_MTIME = 1u << 1,
    AVTB_CHANGE_CTIME = 1u << 2,
    AVTB_CHANGE_SIZE = 1u << 3,
    AVTB_CHANGE_CONTENT = 1u << 4,
    AVTB_CHANGE_TYPE = 1u << 5,
    AVTB_CHANGE_OWNER = 1u << 6,
    AVTB_CHANGE_MODE = 1u << 7,
};
#define AVTB_CHANGE_COUNT 8

typedef struct avtb_forensics_time {
    int64_t sec, nsec;
} avtb_forensics_time;

/* A document as planted.json recorded it ("before") or as the disk holds it ("after"). */
typedef struct avtb_forensics_stat {
    bool present; /* false: the path does not exist (after only) */
    bool regular; /* a regular file (lstat: a symbolic link is not) */
    uint64_t size;
    char sha256[65]; /* lower-case hex; "" when not known (not a regular file) */
    avtb_forensics_time atime, mtime, ctime;
    bool owners;            /* uid, gid and mode are known (POSIX filesystems; not NTFS) */
    int64_t uid, gid, mode; /* mode: permission bits only (07777) */
} avtb_forensics_stat;

/*
 * The state of a document from its before and after records, and in
 * *changes (AVTB_CHANGE_* bits) everything that differs. vanished: after is
 * not present; changed: not a regular file, or size or sha256 differ; read:
 * atime later than before; touched: mtime or ctime differ; else unchanged.
 * Owner and mode changes are listed but decide nothing (they move ctime).
 */
avtb_forensics_state avtb_forensics_compare(const avtb_forensics_stat *before,
                                            const avtb_forensics_stat *after, unsigned *changes);

/* "unchanged", "read", "touched", "changed", "vanished". */
const char *avtb_forensics_state_name(avtb_forensics_state s);
/* "atime", ..., "mode" for one AVTB_CHANGE_* bit; NULL for anything else. */
const char *avtb_forensics_change_name(unsigned bit);

/*
 * Guest bytes as valid UTF-8, so jansson takes them: each byte that is not
 * part of a valid UTF-8 sequence (overlong forms, surrogates and code points
 * past U+10FFFF included) becomes U+FFFD; *lossy (may be NULL) says whether
 * that happened, in which case a name is also recorded as hex. Control
 * characters stay (JSON escapes them). Caller frees; NULL when out of memory.
 */
char *avtb_forensics_utf8(const char *bytes, size_t len, bool *lossy);

/*
 * A file name fit for the evidence folder: ASCII letters, digits, '.', '-'
 * and '_' kept, anything else '_', at most 64 bytes, never "" or
 * dot-only. Into out[65].
 */
void avtb_forensics_safe_name(const char *name, char out[65]);

/* Whether a decoding step (transform.c's names) unpacks an archive or a compressed stream. */
bool avtb_forensics_archive_step(const char *step);

/*
 * A token-bearing file's "kind": "copy" when its SHA-256 is a planted
 * document's (copy), else "archive" when one of its hits went through an
 * archive or compression step, else "derived". Static string.
 */
const char *avtb_forensics_kind(bool copy, const avtb_scan_hit *hits, size_t nhits);

#endif
