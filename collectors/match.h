/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token matching, the last stage of the analysis: every token, every encoded
 * form of every token, and every honey document's hashes and file name, in
 * one Hyperscan database, searched in one pass over a buffer.
 *
 * The token itself matches in any case (a host name carrying it is
 * lower-cased on its way to DNS). The encoded forms are literals derived
 * from the token, so the common cases need no decoding at all: base64 and base64url at each of the three
 * alignments a token can have inside an encoded body (the characters that
 * depend only on the token's bytes), base32 at each of its five alignments
 * (case-insensitive), hex (case-insensitive), UTF-16LE and UTF-16BE.
 * Nested or broken-up encodings (base64 of gzip, wrapped lines, DNS labels)
 * are the decoder chain's work (transform.c); the scanner searches each of
 * its views with this same database.
 *
 * A document's metadata: its MD5, SHA-1 and SHA-256 as hex (any case) and as
 * base64/base64url of the digest, and its file name. A hit on those is a
 * metadata finding naming the document's tokens.
 */
#ifndef AVTB_MATCH_H
#define AVTB_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Shortest token accepted (the analyze CLI contract: 8 or more characters). */
#define AVTB_TOKEN_MIN_LEN 8
/* Longest token accepted. */
#define AVTB_TOKEN_MAX_LEN 256
/* Shortest file name searched as metadata; shorter names match too much. */
#define AVTB_DOC_NAME_MIN_LEN 6

/* Why t cannot be a token (a static phrase such as "is shorter than 8
 * characters"), or NULL when it can. */
const char *avtb_token_problem(const char *t);

/* One honey document, for metadata matching. Borrowed by avtb_patterns_new(). */
typedef struct avtb_canary_doc {
    const char *name;      /* file name (basename) or NULL */
    const uint8_t *md5;    /* 16 bytes, or NULL */
    const uint8_t *sha1;   /* 20 bytes, or NULL */
    const uint8_t *sha256; /* 32 bytes, or NULL */
    const size_t *tokens;  /* indexes of the tokens the document carries */
    size_t ntokens;
} avtb_canary_doc;

typedef enum { AVTB_HIT_CONTENT, AVTB_HIT_METADATA } avtb_hit_kind;

/* One occurrence. For a metadata hit, token lists the document's tokens. */
typedef struct avtb_hit {
    avtb_hit_kind kind;
    size_t doc;           /* metadata: index into the docs; content: SIZE_MAX */
    size_t token;         /* content: index into the tokens; metadata: SIZE_MAX */
    const char *encoding; /* form matched: NULL (as is), "base64", "base64url", "base32",
                             "hex", "utf16le", "utf16be"; metadata: "md5", "sha1",
                             "sha256", "md5-base64", ..., "file-name" */
    uint64_t start, end;  /* byte range of the match in the scanned buffer */
} avtb_hit;

/* The compiled set; immutable once built, shareable by many matchers. */
typedef struct avtb_patterns avtb_patterns;

/*
 * Compiles the tokens (each AVTB_TOKEN_MIN_LEN..AVTB_TOKEN_MAX_LEN printable
 * ASCII bytes; anything else is an AVTB_ERR_INPUT naming it) and the docs.
 * Tokens and docs are copied.
 */
avtb_err avtb_patterns_new(const char *const *tokens, size_t ntokens, const avtb_canary_doc *docs,
                           size_t ndocs, avtb_patterns **out, avtb_error *err) AVTB_WUR;

void avtb_patterns_free(avtb_patterns *p);
size_t avtb_patterns_ntokens(const avtb_patterns *p);
const char *avtb_patterns_token(const avtb_patterns *p, size_t i);
size_t avtb_patterns_ndocs(const avtb_patterns *p);
/* The tokens of doc i. */
const size_t *avtb_patterns_doc_tokens(const avtb_patterns *p, size_t i, size_t *n);
/* The file name of doc i, or NULL. */
const char *avtb_patterns_doc_name(const avtb_patterns *p, size_t i);

/* Per-thread scanning state over a pattern set (Hyperscan scratch). */
typedef struct avtb_matcher avtb_matcher;

avtb_matcher *avtb_matcher_new(const avtb_patterns *p);
void avtb_matcher_free(avtb_matcher *m);

/* Called for every hit; return false to stop the scan. */
typedef bool (*avtb_hit_cb)(void *ctx, const avtb_hit *h);

/* Scans one whole buffer. Fails only if Hyperscan does. */
avtb_err avtb_matcher_scan(avtb_matcher *m, const uint8_t *buf, size_t len, avtb_hit_cb cb,
                           void *ctx, avtb_error *err) AVTB_WUR;

/* Whether name (a file name or path) is a honey document's file name; sets *doc. */
bool avtb_patterns_name_is_doc(const avtb_patterns *p, const char *name, size_t *doc);

#endif
