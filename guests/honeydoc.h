/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Honey documents: the bait planted in the guest. A document is rendered
 * from a template with a fresh canary token, hashed (so hash lookups can be
 * recognised later), and recorded in the run's token registry.
 */
#ifndef AVTB_HONEYDOC_H
#define AVTB_HONEYDOC_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "guests/token.h"

/* Placeholder a template uses for the document's token. */
#define AVTB_TOKEN_PLACEHOLDER "{{token}}"

typedef struct avtb_honeydoc {
    char *guest_path;       /* owned */
    char token[AVTB_TOKEN_LEN + 1];
    uint8_t *content;       /* owned, rendered bytes */
    size_t len;
    unsigned uid, gid, mode;
    /* Times to give the planted file, seconds since the epoch (backdated,
     * varied); 0: leave the planting time. */
    int64_t mtime, atime;
    char md5[33], sha1[41], sha256[65];
} avtb_honeydoc;

/*
 * Renders tmpl with a fresh token substituted for every placeholder and
 * fills the hashes. *out is owned by the caller (avtb_honeydoc_free).
 */
avtb_err avtb_honeydoc_render(const char *tmpl, const char *guest_path, unsigned uid,
                              unsigned gid, unsigned mode, avtb_honeydoc **out,
                              avtb_error *err) AVTB_WUR;
void avtb_honeydoc_free(avtb_honeydoc *d);

/*
 * Writes the token registry: DIR/tokens.json (every token with its document,
 * place and hashes) and DIR/tokens.txt (one token per line, the input of
 * `avtb analyze --tokens`).
 */
avtb_err avtb_honeydoc_write_registry(avtb_honeydoc *const *docs, size_t n, const char *dir,
                                      avtb_error *err) AVTB_WUR;

#endif
