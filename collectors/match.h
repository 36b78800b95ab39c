/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token matching, the last stage of the analysis (analyze.c feeds it the
 * reassembled bytes of each stream direction or datagram). All tokens are
 * searched at once, over data that arrives in chunks: a token split across
 * two chunks is found.
 */
#ifndef AVTB_MATCH_H
#define AVTB_MATCH_H

#include <stddef.h>
#include <stdint.h>

/*
 * A matcher is a cursor over one byte stream on top of a compiled token set.
 * Clones share the compiled set (reference counted, single-threaded), so one
 * cursor per stream direction costs a few bytes, not a new automaton.
 */
typedef struct avtb_matcher avtb_matcher;

/* Largest compiled set: the automaton takes 1 KiB per token byte. */
#define AVTB_MATCHER_MAX_BYTES (64u * 1024u)

/*
 * Called for each occurrence: token is the index into the tokens given to
 * avtb_matcher_new(), offset the absolute stream offset of its first byte.
 */
typedef void (*avtb_match_cb)(void *ctx, size_t token, uint64_t offset);

/*
 * Compiles n NUL-terminated tokens (copied). Empty tokens never match.
 * Returns NULL when out of memory or when the tokens add up to more than
 * AVTB_MATCHER_MAX_BYTES. The cursor starts at offset 0.
 */
avtb_matcher *avtb_matcher_new(const char *const *tokens, size_t n);
/* A fresh cursor (offset 0) sharing m's compiled set; NULL when out of memory. */
avtb_matcher *avtb_matcher_clone(const avtb_matcher *m);
void avtb_matcher_free(avtb_matcher *m);

/* Scans the next len bytes of the stream; cb sees every complete occurrence. */
void avtb_matcher_feed(avtb_matcher *m, const uint8_t *buf, size_t len, avtb_match_cb cb,
                       void *ctx);
/* Skips len unseen bytes (a capture gap): no match may span them. */
void avtb_matcher_skip(avtb_matcher *m, uint64_t len);
/* Back to offset 0 with no partial match; for the next datagram. */
void avtb_matcher_reset(avtb_matcher *m);
/* Absolute offset of the next byte to be fed. */
uint64_t avtb_matcher_offset(const avtb_matcher *m);
size_t avtb_matcher_token_len(const avtb_matcher *m, size_t token);

#endif
