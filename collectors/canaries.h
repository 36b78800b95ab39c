/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the analysis looks for, gathered from where a lab keeps it: a tokens
 * file (one token per line), a honey directory (the documents themselves:
 * their hashes and file names become metadata patterns, and each document
 * carries the tokens found in it), or a run's token registry (tokens.json in
 * an evidence directory). Then compiled into a pattern set (match.h).
 */
#ifndef AVTB_CANARIES_H
#define AVTB_CANARIES_H

#include <stddef.h>
#include <stdint.h>

#include "collectors/match.h"
#include "common/error.h"

typedef struct avtb_canaries avtb_canaries;

avtb_canaries *avtb_canaries_new(void);
void avtb_canaries_free(avtb_canaries *c);

/*
 * Adds the tokens of a file holding one per line (LF or CRLF; empty lines
 * are skipped; a token is 8 to 256 printable ASCII characters). Errors name
 * path:line. A token given twice is kept once.
 */
avtb_err avtb_canaries_load_tokens(avtb_canaries *c, const char *path, avtb_error *err) AVTB_WUR;

/*
 * Adds every regular file under dir (recursively, symlinks not followed) as
 * a honey document: its MD5/SHA-1/SHA-256 and file name, and the tokens
 * already added that occur in it. Call after the tokens are loaded.
 * Documents that carry no token are skipped with a warning (a metadata hit
 * must name a token).
 */
avtb_err avtb_canaries_load_honey_dir(avtb_canaries *c, const char *dir, avtb_error *err) AVTB_WUR;

/*
 * Adds the tokens and documents of a run's token registry (tokens.json): one
 * entry per token, several per document; a token inside an archive member
 * also adds the member ("ARCHIVE/MEMBER", with the member's hashes).
 */
avtb_err avtb_canaries_load_registry(avtb_canaries *c, const char *path, avtb_error *err) AVTB_WUR;

/* Adds one token carried by one document (path, hashes as lowercase hex or NULL). */
avtb_err avtb_canaries_add(avtb_canaries *c, const char *token, const char *doc_path,
                           const char *md5, const char *sha1, const char *sha256,
                           avtb_error *err) AVTB_WUR;

size_t avtb_canaries_ntokens(const avtb_canaries *c);
size_t avtb_canaries_ndocs(const avtb_canaries *c);
/* Per token, the document it came from, or NULL; ntokens entries. Borrowed. */
const char *const *avtb_canaries_token_docs(const avtb_canaries *c);

/* Compiles everything added so far. */
avtb_err avtb_canaries_compile(const avtb_canaries *c, avtb_patterns **out,
                               avtb_error *err) AVTB_WUR;

#endif
