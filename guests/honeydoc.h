/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Honey documents: the bait planted in the guest. A document carries one or
 * more canary tokens, each at a recorded place (body, metadata, beacon, file
 * name); it is hashed (so hash lookups can be recognised later) and
 * recorded in the run's token registry. Documents come from a scenario's
 * template (avtb_honeydoc_render) or from the generator (honeygen.h).
 */
#ifndef AVTB_HONEYDOC_H
#define AVTB_HONEYDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "guests/token.h"

/* Placeholder a template uses for the document's token. */
#define AVTB_TOKEN_PLACEHOLDER "{{token}}"

/* Where in a document a token sits; the registry's "place". */
typedef enum {
    AVTB_PLACE_BODY,     /* text a reader sees: paragraphs, table cells, mail body */
    AVTB_PLACE_METADATA, /* document properties, PDF Info, e-mail headers */
    AVTB_PLACE_BEACON,   /* host name of a remote image or link: seen in DNS when rendered */
    AVTB_PLACE_FILENAME, /* the file's name (the generator does not use it; see honeygen.h) */
    AVTB_PLACE_COUNT
} avtb_token_place;

/* "body", "metadata", "beacon", "filename". */
const char *avtb_token_place_name(avtb_token_place p);

typedef struct avtb_honeytoken {
    char token[AVTB_TOKEN_LEN + 1];
    avtb_token_place place;
    char *where;  /* owned: the exact position, e.g. "paragraph 3", "core properties
                     (dc:description, cp:keywords)" */
    char *member; /* owned: the archive member carrying the token, or NULL */
} avtb_honeytoken;

/* An archive member that carries tokens: hashed too, since a product may look it up. */
typedef struct avtb_honeymember {
    char *name; /* owned, path inside the archive */
    size_t len;
    char md5[33], sha1[41], sha256[65];
} avtb_honeymember;

typedef struct avtb_honeydoc {
    char *guest_path; /* owned */
    /* The first body token, the same as tokens[0].token (kept for readers that
     * know one token per document: report.json, planted.json). */
    char token[AVTB_TOKEN_LEN + 1];
    avtb_honeytoken *tokens; /* owned, ntokens >= 1 once complete */
    size_t ntokens;
    uint8_t *content; /* owned, rendered bytes */
    size_t len;
    unsigned uid, gid, mode;
    /* Times to give the planted file, seconds since the epoch (backdated,
     * varied); 0: leave the planting time. */
    int64_t mtime, atime;
    char md5[33], sha1[41], sha256[65];
    /* Generated documents only (NULL for a template document). */
    const char *format;                  /* static: "docx", "pdf", ... (docfmt.h names) */
    char *marking, *title, *beacon_host; /* owned */
    avtb_honeymember *members;           /* owned: archive members that carry tokens */
    size_t nmembers;
} avtb_honeydoc;

/*
 * Renders tmpl with a fresh token substituted for every placeholder and
 * fills the hashes. *out is owned by the caller (avtb_honeydoc_free).
 */
avtb_err avtb_honeydoc_render(const char *tmpl, const char *guest_path, unsigned uid, unsigned gid,
                              unsigned mode, avtb_honeydoc **out, avtb_error *err) AVTB_WUR;
void avtb_honeydoc_free(avtb_honeydoc *d);

/* An empty document at guest_path (copied), for a generator to fill. */
avtb_honeydoc *avtb_honeydoc_new(const char *guest_path);

/*
 * Records a token the document carries; where and member (may be NULL) are
 * copied. The first body token also becomes d->token.
 */
avtb_err avtb_honeydoc_add_token(avtb_honeydoc *d, const char *token, avtb_token_place place,
                                 const char *where, const char *member, avtb_error *err) AVTB_WUR;

/* Records an archive member that carries tokens, hashing its bytes. */
avtb_err avtb_honeydoc_add_member(avtb_honeydoc *d, const char *name, const uint8_t *buf,
                                  size_t len, avtb_error *err) AVTB_WUR;

/* Takes the document's bytes (ownership transferred) and fills the hashes. */
void avtb_honeydoc_set_content(avtb_honeydoc *d, uint8_t *buf, size_t len);

/* MD5, SHA-1 and SHA-256 of buf as lower-case hex. */
void avtb_honeydoc_digests(const uint8_t *buf, size_t len, char md5[33], char sha1[41],
                           char sha256[65]);

/*
 * Writes the token registry: DIR/tokens.json (every token with its place,
 * document, format, marking and hashes; format in scenarios/README.md) and
 * DIR/tokens.txt (one token per line, the input of `avtb analyze --tokens`).
 */
avtb_err avtb_honeydoc_write_registry(avtb_honeydoc *const *docs, size_t n, const char *dir,
                                      avtb_error *err) AVTB_WUR;

/* How a set of documents was generated, recorded so it can be made again. */
typedef struct avtb_honey_origin {
    uint64_t seed;
    const char *seed_source; /* "scenario", "run id", "command line", "random" */
    int64_t reference_time;  /* the generator's "now": documents are dated before it */
} avtb_honey_origin;

/* Same, recording the origin (NULL: none) in tokens.json. */
avtb_err avtb_honeydoc_write_registry_origin(avtb_honeydoc *const *docs, size_t n,
                                             const avtb_honey_origin *origin, const char *dir,
                                             avtb_error *err) AVTB_WUR;

#endif
