/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Honey document generator: documents that look like a civil servant's or an
 * analyst's files (protective marking, title, author, organisation, prose or
 * a table, a plausible path, owner and backdated times) and give themselves
 * away when they leave the guest. Everything a reader sees comes from a
 * seeded PRNG over the template pools in honeygen.c; the tokens come from
 * the caller (fresh per run), and dates are counted back from the caller's
 * reference time. Same seed, same requests, same tokens and same reference
 * time: byte-identical files (docfmt.h writes them, deterministically).
 *
 * Tokens per document (each its own token, so a finding says which part of
 * the document left):
 *   body      one, in a paragraph ("Please quote ... in any reply") or in a
 *             table's reference column (csv, xlsx);
 *   metadata  one, where the format has metadata: docx/xlsx core properties,
 *             PDF Info dictionary, e-mail headers (txt and csv have none);
 *   beacon    one, as the first label of a remote image's or link's host name
 *             ("https://<token, lower case>.<CDN-like domain>.example/..."):
 *             a unique name that only the run's DNS sink answers, so anything
 *             that renders the document shows in the DNS log;
 *   archives (zip, 7z) hold "eicar.com" (the EICAR test file) and a
 *             classified docx or txt, whose tokens are recorded with the member
 *             name: the 2017 case, where an archive flagged as malware was
 *             uploaded whole.
 * No token goes into a file name: "scan_AVTB....pdf" reads as bait to any
 * person and to any product that scores file names. The generated file name
 * (specific: date, reference, version) is matched as metadata instead: the
 * registry records each document's path, and the analysis searches for its
 * file name.
 */
#ifndef AVTB_HONEYGEN_H
#define AVTB_HONEYGEN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "guests/docfmt.h"
#include "guests/honeydoc.h"

/* Largest seed: JSON readers (JavaScript) hold integers up to 2^53 exactly. */
#define AVTB_HONEYGEN_SEED_MAX ((UINT64_C(1) << 53) - 1)

typedef enum { AVTB_HONEY_OS_LINUX, AVTB_HONEY_OS_WINDOWS } avtb_honey_os;

/* "linux", "windows". */
const char *avtb_honey_os_name(avtb_honey_os os);
bool avtb_honey_os_parse(const char *s, avtb_honey_os *out);

/* The protective markings the generator writes, NULL-terminated: UK
 * (OFFICIAL ... TOP SECRET, with descriptors) and US-style banners
 * (SECRET//NOFORN, ...). */
const char *const *avtb_honeygen_markings(void);
bool avtb_honeygen_marking_known(const char *m);

/* A user name that can name a home folder: 1-32 of letters, digits, '_', '.', '-',
 * not starting with '.' or '-'. */
bool avtb_honeygen_user_valid(const char *u);

/* A seed from any text (the run id): a stable hash, at most AVTB_HONEYGEN_SEED_MAX. */
uint64_t avtb_honeygen_seed_from(const char *s);

/* Writes one fresh token into out. The default draws from the kernel (avtb_token_new). */
typedef avtb_err (*avtb_honeygen_token_fn)(void *ctx, char out[AVTB_TOKEN_LEN + 1],
                                           avtb_error *err);

typedef struct avtb_honeygen_conf {
    uint64_t seed; /* at most AVTB_HONEYGEN_SEED_MAX */
    int64_t now;   /* reference time (the run's start): documents are dated before it */
    avtb_honeygen_token_fn token; /* NULL: avtb_token_new */
    void *token_ctx;
} avtb_honeygen_conf;

/* What one document must be; everything else is the seed's choice. Borrowed. */
typedef struct avtb_honeygen_req {
    avtb_doc_format format;
    const char *marking; /* one of avtb_honeygen_markings(); NULL: the seed picks */
    avtb_honey_os os;
    const char *user;  /* the home folder's owner; NULL: "analyst" */
    const char *home;  /* the home folder; NULL: /home/USER (linux), /Users/USER (windows) */
    unsigned uid, gid; /* owner of files in the home folder (linux) */
} avtb_honeygen_req;

typedef struct avtb_honeygen avtb_honeygen;

avtb_err avtb_honeygen_new(const avtb_honeygen_conf *conf, avtb_honeygen **out,
                           avtb_error *err) AVTB_WUR;
void avtb_honeygen_free(avtb_honeygen *g);

/*
 * Marks a guest path as taken (a scenario's explicit document), so that no
 * generated document is put there or takes its file name.
 */
avtb_err avtb_honeygen_reserve(avtb_honeygen *g, const char *path, avtb_error *err) AVTB_WUR;

/*
 * Generates the next document: the n-th call draws from its own stream of
 * the seed, so documents do not shift when an earlier one changes format.
 * Paths and file names are unique within the generator. *out is owned by
 * the caller (avtb_honeydoc_free).
 */
avtb_err avtb_honeygen_next(avtb_honeygen *g, const avtb_honeygen_req *req, avtb_honeydoc **out,
                            avtb_error *err) AVTB_WUR;

#endif
