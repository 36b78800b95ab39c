/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The decoder chain: from one buffer a protocol parser delivered (an HTTP
 * body, a DNS name, a raw TCP stream) every decoded view of it, recursively,
 * for the scanner (scan.c) to search for tokens: base64 of gzip of a zip
 * member yields the member's bytes with path {"base64", "gzip", "zip"}.
 *
 * What is decoded, per view (each decoder is a row of one table in transform.c):
 *  - text encodings, found as runs anywhere in the view, each run its own view:
 *    "base64" / "base64url" (padded or not; CRLF/LF line-wrapped when the lines
 *    are multiples of 4 chars, at least min_text_run long), "base32" (RFC
 *    4648, either case but one case per run, a '.' between chars skipped so
 *    joined DNS labels decode), "hex" (contiguous, or pairs separated by ':'
 *    or ' '), "percent" (a run of printable ASCII without spaces holding a
 *    %XX, '+' read as space), "utf16le" / "utf16be" (ASCII/Latin-1 code
 *    units, narrowed). A run counts when it has min_text_run chars, padding
 *    and separators not counted. An unpadded base64/base32/hex run of at most
 *    4096 chars is also decoded from the other possible alignments (it may
 *    start with chars that are not part of the encoding: "/api/QVZU..."), so
 *    one run can give several views. Past max_runs runs of one decoder in one
 *    view, the rest are decoded into one joined view (NUL between runs) and
 *    an anomaly says so.
 *  - compressed streams found by magic bytes anywhere in the view: "gzip",
 *    "zlib" (0x78 and a valid check byte), "zstd", and through libarchive
 *    "bzip2", "xz", "lz4". A gzip/zstd/bzip2/xz/lz4 stream that fails is an
 *    anomaly, its decoded prefix a view; a zlib one only after 256 decoded
 *    bytes or when the view ends mid-stream (a 2-byte magic is common in
 *    binary data). After max_tries hits of one decoder in one view that
 *    decode to nothing, that decoder gives up on the view.
 *  - archives through libarchive, by magic: zip (PK\3\4 anywhere; two zips in
 *    a row are both read, a zip cut short is read up to the cut), 7z
 *    (anywhere), and at the start of the view tar, cpio, rar, ar, cab, xar,
 *    lha, iso9660. Each regular member is a view named like the format
 *    ("zip", "7z", "tar", ...) whose member is the member's path. Encrypted
 *    members are tried with the passwords "infected", "virus", "malware",
 *    "novirus", "password" and the caller's. A wrong password or a corrupt
 *    member is an anomaly, and the next member is read (except
 *    after a 7z or rar member hits the output limit: skipping the rest of a
 *    solid archive costs as much as decoding it).
 *  - "deflate" (raw) and "brotli" have no magic: they are tried on the whole
 *    view only when no other decoder produced a view from it and the view
 *    looks binary (a control byte or invalid UTF-8 in its first 4 KiB), and
 *    are kept only when the stream decodes cleanly to its end, every input
 *    byte consumed (or when it hits the output limit: a bomb).
 * A decoded view that is empty or equals the view it came from is not
 * reported. Random bytes and ordinary text give no views, save for rare
 * false magic hits that happen to decode (test_transform checks 1 MiB of
 * each); text with words or identifiers of min_text_run letters gives a few
 * cheap garbage views of them.
 *
 * Limits: each step's output is cut at max_step_output and a walk's total at
 * max_total_output; hitting either is an anomaly ("gzip: output limit
 * (16777216 bytes) reached: decompression bomb") and the prefix decoded so far
 * is still reported as a view. A view deeper than max_depth is not reported:
 * an anomaly says so.
 */
#ifndef AVTB_TRANSFORM_H
#define AVTB_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Defaults; a zero field of avtb_transform_limits means its default. */
#define AVTB_TRANSFORM_MAX_STEP_OUTPUT  ((size_t)16 << 20)
#define AVTB_TRANSFORM_MAX_TOTAL_OUTPUT ((size_t)64 << 20)
#define AVTB_TRANSFORM_MAX_DEPTH        6u
#define AVTB_TRANSFORM_MIN_TEXT_RUN     16u
#define AVTB_TRANSFORM_MAX_RUNS         256u
#define AVTB_TRANSFORM_MAX_TRIES        64u
/* Ceilings: larger settings are lowered to these. */
#define AVTB_TRANSFORM_DEPTH_CEILING    32u
#define AVTB_TRANSFORM_TEXT_RUN_CEILING ((size_t)1 << 20)

typedef struct avtb_transform_limits {
    size_t max_step_output;       /* bytes one decoding step may produce */
    size_t max_total_output;      /* bytes all steps of one walk may produce together */
    unsigned max_depth;           /* deepest view reported (decodings applied) */
    size_t min_text_run;          /* shortest base64/base32/hex/UTF-16 run decoded, in chars */
    size_t max_runs;              /* runs per text decoder and view decoded as views of their own */
    unsigned max_tries;           /* failed magic hits per decoder per view before it gives up */
    const char *const *passwords; /* archive passwords tried after the built-in ones; */
    size_t npasswords;            /* borrowed; NULL/0 = the built-in list only */
} avtb_transform_limits;

/* Sets every limit to its default and no extra passwords. */
void avtb_transform_limits_default(avtb_transform_limits *l);

/* One view: borrowed, valid only during the callback that receives it. */
typedef struct avtb_view {
    const uint8_t *data;
    size_t len;
    const char *const *path; /* decodings applied, outer to inner, static strings */
    size_t depth;            /* entries in path; 0 = the walk's input itself */
    const char *member;      /* member name from the innermost archive step on path, or NULL */
} avtb_view;

typedef struct avtb_transform_sink {
    /* Every view, the input first, then depth-first. Return false to not decode
     * this view further (the walk goes on with its siblings). Required. */
    bool (*view)(void *ctx, const avtb_view *v);
    /* Malformed or over-limit input met while decoding the view where:
     * "gzip: corrupt stream at offset 10: invalid block type", "zip: member
     * a.txt: wrong password", "depth limit (6) reached: ...". what is formatted
     * for this call only (copy it). May be NULL. */
    void (*anomaly)(void *ctx, const avtb_view *where, const char *what);
} avtb_transform_sink;

/*
 * Walks buf[0..len) and its decoded views depth-first, handing each to s.
 * l may be NULL (defaults); l, s and their strings are borrowed for the call.
 * Every intermediate buffer is freed before it returns. Returns AVTB_OK, or
 * AVTB_ERR_NOMEM when out of memory (the walk stops), or AVTB_ERR_INTERNAL
 * when s or s->view is NULL, or buf is NULL with len > 0.
 */
avtb_err avtb_transform_walk(const uint8_t *buf, size_t len, const avtb_transform_limits *l,
                             const avtb_transform_sink *s, void *ctx) AVTB_WUR;

/*
 * One-shot decoding of a declared HTTP Content-Encoding or transfer coding
 * (one coding: the caller undoes a list like "gzip, br" from the last):
 * "gzip" / "x-gzip" (concatenated members too), "deflate" (zlib, or raw
 * deflate as browsers accept), "br", "zstd" (all frames), "identity". Case
 * does not matter. Produces at most max_out bytes (0: the default step limit);
 * when there was more, *bomb is set and *out holds the prefix.
 * *out is malloc'd (caller frees; NULL when nothing decoded), *out_len its
 * length. Returns AVTB_OK when the stream decoded to its end or hit max_out;
 * AVTB_ERR_INPUT when it is corrupt or truncated, *out then holding what
 * decoded before the fault; AVTB_ERR_NOT_FOUND for an unknown coding;
 * AVTB_ERR_NOMEM.
 */
avtb_err avtb_transform_decompress(const char *coding, const uint8_t *buf, size_t len,
                                   size_t max_out, uint8_t **out, size_t *out_len,
                                   bool *bomb) AVTB_WUR;

#endif
