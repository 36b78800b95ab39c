/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The decoder chain (transform.h): the scanner (scan.c) hands it a message's
 * bytes and searches every view it derives. One static table of decoders,
 * {name, detect, decode}, is applied to every view; a decoder reports what it
 * decoded through emit(), which recurses into the new view.
 *
 * A view with nothing to decode costs one vector pass for the text classes
 * (binary data is dismissed 16 bytes at a time), one for the magic numbers,
 * and memchr for NUL and '%'. Measured with a throwaway benchmark (64 MiB
 * buffers, best of 3, one core of the development VM's Xeon, gcc -O2,
 * default limits unless noted):
 *   random bytes                                        1070 MB/s, no view
 *   zeros                                               2200 MB/s, no view
 *   English-like text                                    485 MB/s, no view
 *   the same with 1 word in 80 of 16+ letters            345 MB/s: those words
 *     decode as base32/base64 (about 1000 views, most of them joined)
 *   base64 of random bytes in MIME lines                 230 MB/s, the decoded
 *     view (cut at 16 MiB) walked too
 *   the same, limits raised to 64/256 MiB (48 MiB view)  180 MB/s
 */
#include "collectors/transform.h"

#include <archive.h>
#include <archive_entry.h>
#include <brotli/decode.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#define ZLIB_CONST
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

/* Unpadded runs up to this many chars are also decoded at other alignments. */
#define SHIFT_MAX_RUN 4096
/* Bytes a failed zlib stream (weak magic) must have produced to be reported. */
#define WEAK_MIN_OUTPUT 256
/* Bytes looked at to call a view binary (for raw deflate and brotli). */
#define BINARY_PROBE 4096
/* First allocation for a decompressor's output. */
#define FIRST_OUTPUT 4096
/* Header read failures tolerated in one archive before giving up on it. */
#define ARCHIVE_MAX_FAILURES 8
#define ANOMALY_LEN          384
#define NAME_LEN             96

static const char *const builtin_passwords[] = {"infected", "virus", "malware", "novirus",
                                                "password"};
#define NBUILTIN (sizeof(builtin_passwords) / sizeof(builtin_passwords[0]))

/* Character classes for the text prefilter: each alphabet's chars, and the
 * chars that may sit inside one of its runs without counting. */
enum {
    C_B64 = 0x01,
    C_B64_SKIP = 0x02,
    C_B32U = 0x04, /* base32, upper case: A-Z and 2-7 */
    C_B32L = 0x08, /* base32, lower case: a-z and 2-7 */
    C_B32_SKIP = 0x10,
    C_HEX = 0x20,
    C_HEX_SKIP = 0x40,
    C_B32 = C_B32U | C_B32L,
};

static const uint8_t cls[256] = {
    ['0' ... '1'] = C_B64 | C_HEX,
    ['2' ... '7'] = C_B64 | C_B32U | C_B32L | C_HEX,
    ['8' ... '9'] = C_B64 | C_HEX,
    ['A' ... 'F'] = C_B64 | C_B32U | C_HEX,
    ['G' ... 'Z'] = C_B64 | C_B32U,
    ['a' ... 'f'] = C_B64 | C_B32L | C_HEX,
    ['g' ... 'z'] = C_B64 | C_B32L,
    ['+'] = C_B64,
    ['/'] = C_B64,
    ['-'] = C_B64,
    ['_'] = C_B64,
    ['\r'] = C_B64_SKIP,
    ['\n'] = C_B64_SKIP,
    ['.'] = C_B32_SKIP,
    [':'] = C_HEX_SKIP,
    [' '] = C_HEX_SKIP,
};

/*
 * Region classes of the prefilter, one per text row. base32 runs are
 * single-case, so upper- and lower-case base32 are classes of their own: in
 * base64 text, 16 chars in a row of one case are rare, in mixed-case base32
 * classes they would be everywhere.
 */
enum { R_B64, R_B32U, R_B32L, R_HEX, NREGION_CLASS };
static const uint8_t region_core[NREGION_CLASS] = {C_B64, C_B32U, C_B32L, C_HEX};
static const uint8_t region_any[NREGION_CLASS] = {C_B64 | C_B64_SKIP, C_B32U | C_B32_SKIP,
                                                  C_B32L | C_B32_SKIP, C_HEX | C_HEX_SKIP};

/* Values of base64 and base64url chars ('+' and '-' both 62, '/' and '_' 63). */
static const uint8_t dec64[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3e, 0xff, 0x3e, 0xff, 0x3f,
    0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
    0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xff, 0xff, 0xff, 0xff, 0x3f,
    0xff, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* Values of base32 chars, either case. */
static const uint8_t dec32[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
    0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
    0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

static const uint8_t dechex[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* Low bytes of the UTF-16 code units a text run may hold (high byte 0). */
static const uint8_t u16ok[256] = {
    ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [0x20 ... 0x7e] = 1, [0xa0 ... 0xff] = 1,
};

/* Bytes that do not occur in text (NUL, controls other than whitespace, DEL). */
static const uint8_t ctrl[256] = {
    [0x00 ... 0x08] = 1,
    [0x0e ... 0x1f] = 1,
    [0x7f] = 1,
};

/* Magic numbers searched anywhere in a view. */
enum { M_GZIP, M_ZLIB, M_ZSTD, M_ZIP, M_7Z, M_XZ, M_BZIP2, M_LZ4, NMAGIC };
static const uint8_t magic_first[NMAGIC] = {0x1f, 0x78, 0x28, 'P', '7', 0xfd, 'B', 0x04};
/* magic index + 1 by first byte; 0 for none */
static const uint8_t magic_by_first[256] = {
    [0x1f] = M_GZIP + 1, [0x78] = M_ZLIB + 1, [0x28] = M_ZSTD + 1, ['P'] = M_ZIP + 1,
    ['7'] = M_7Z + 1,    [0xfd] = M_XZ + 1,   ['B'] = M_BZIP2 + 1, [0x04] = M_LZ4 + 1,
};

/* ---- growable output buffers with a hard limit ---------------------------- */

typedef struct gbuf {
    uint8_t *p;
    size_t len, cap;
    size_t limit; /* len never exceeds it */
} gbuf;

/* Makes room past len (len < limit): doubles, starting at first. False when out of memory. */
static bool gbuf_room(gbuf *b, size_t first)
{
    size_t want;
    uint8_t *np;

    if (b->len < b->cap)
        return true;
    if (b->cap == 0)
        want = first > 0 ? first : 1;
    else
        want = b->cap > b->limit / 2 ? b->limit : b->cap * 2;
    if (want > b->limit)
        want = b->limit;
    if (want <= b->len)
        want = b->len + 1;
    np = realloc(b->p, want);
    if (np == NULL)
        return false;
    b->p = np;
    b->cap = want;
    return true;
}

/* Makes cap at least need (need <= limit). */
static bool gbuf_reserve(gbuf *b, size_t need)
{
    uint8_t *np;

    if (need <= b->cap)
        return true;
    if (b->cap > 0 && need < b->cap * 2 && b->cap * 2 <= b->limit)
        need = b->cap * 2;
    np = realloc(b->p, need > 0 ? need : 1);
    if (np == NULL)
        return false;
    b->p = np;
    b->cap = need;
    return true;
}

/* ---- stream decompressors, shared by the walk and avtb_transform_decompress */

typedef enum {
    ST_END,       /* the stream ended */
    ST_TRUNCATED, /* the input ended first */
    ST_CORRUPT,   /* invalid data */
    ST_LIMIT,     /* out->limit reached with more to come */
} dstatus;

typedef struct dres {
    dstatus st;
    size_t used;     /* input bytes consumed */
    const char *msg; /* the library's word on a corrupt stream, or NULL */
} dres;

static size_t first_output(size_t in_len, size_t limit)
{
    size_t n = in_len < SIZE_MAX / 4 ? in_len * 4 : SIZE_MAX;

    if (n < FIRST_OUTPUT)
        n = FIRST_OUTPUT;
    return n < limit ? n : limit;
}

/*
 * Inflates in[0..len) with zs, already reset for the wanted framing, into
 * out. At out->limit one more byte is asked for with a 1-byte probe, so a
 * stream that ends exactly at the limit is not called a bomb.
 */
static avtb_err z_run(z_stream *zs, const uint8_t *in, size_t len, gbuf *out, dres *d)
{
    size_t fed = 0, first = first_output(len, out->limit);
    uint8_t probe;

    d->st = ST_CORRUPT;
    d->msg = NULL;
    zs->avail_in = 0;
    for (;;) {
        bool full = out->len >= out->limit;
        uInt room;
        int zr;

        if (zs->avail_in == 0 && fed < len) {
            size_t k = len - fed > UINT_MAX ? UINT_MAX : len - fed;

            zs->next_in = in + fed;
            zs->avail_in = (uInt)k;
            fed += k;
        }
        if (full) {
            zs->next_out = &probe;
            room = 1;
        } else {
            size_t r;

            if (!gbuf_room(out, first))
                return AVTB_ERR_NOMEM;
            r = out->cap - out->len;
            room = r > UINT_MAX ? UINT_MAX : (uInt)r;
            zs->next_out = out->p + out->len;
        }
        zs->avail_out = room;
        zr = inflate(zs, Z_NO_FLUSH);
        if (full && zs->avail_out == 0) {
            d->st = ST_LIMIT;
            break;
        }
        if (!full)
            out->len += room - zs->avail_out;
        if (zr == Z_STREAM_END) {
            d->st = ST_END;
            break;
        }
        if (zr == Z_MEM_ERROR)
            return AVTB_ERR_NOMEM;
        if (zr == Z_BUF_ERROR ||
            (zr == Z_OK && zs->avail_in == 0 && fed == len && zs->avail_out > 0)) {
            d->st = ST_TRUNCATED;
            break;
        }
        if (zr != Z_OK) {
            d->st = ST_CORRUPT;
            d->msg = zr == Z_NEED_DICT ? "needs a preset dictionary" : zs->msg;
            break;
        }
    }
    d->used = fed - zs->avail_in;
    return AVTB_OK;
}

/* Decodes one zstd frame from in (every frame when all_frames) into out. */
static avtb_err zstd_run(ZSTD_DCtx *dc, const uint8_t *in, size_t len, bool all_frames, gbuf *out,
                         dres *d)
{
    ZSTD_inBuffer ib = {in, len, 0};
    size_t first = first_output(len, out->limit), frame_end = 0;
    bool ended = false;
    uint8_t probe;

    d->st = ST_CORRUPT;
    d->msg = NULL;
    for (;;) {
        bool full = out->len >= out->limit;
        size_t before_in = ib.pos, zr;
        ZSTD_outBuffer ob;

        if (full) {
            ob = (ZSTD_outBuffer){&probe, 1, 0};
        } else {
            if (!gbuf_room(out, first))
                return AVTB_ERR_NOMEM;
            ob = (ZSTD_outBuffer){out->p + out->len, out->cap - out->len, 0};
        }
        zr = ZSTD_decompressStream(dc, &ob, &ib);
        if (ZSTD_isError(zr)) {
            if (ZSTD_getErrorCode(zr) == ZSTD_error_memory_allocation)
                return AVTB_ERR_NOMEM;
            if (ended) { /* garbage after complete frames: keep those */
                d->st = ST_END;
                ib.pos = frame_end;
            } else {
                d->msg = ZSTD_getErrorName(zr);
            }
            break;
        }
        if (full && ob.pos > 0) {
            d->st = ST_LIMIT;
            break;
        }
        if (!full)
            out->len += ob.pos;
        if (zr == 0) {
            ended = true;
            frame_end = ib.pos;
            if (!all_frames || ib.pos == ib.size) {
                d->st = ST_END;
                break;
            }
            continue;
        }
        if ((ib.pos == ib.size && ob.pos < ob.size) || (ib.pos == before_in && ob.pos == 0)) {
            d->st = ST_TRUNCATED;
            break;
        }
    }
    d->used = ib.pos;
    return AVTB_OK;
}

static avtb_err brotli_run(const uint8_t *in, size_t len, gbuf *out, dres *d)
{
    BrotliDecoderState *bs = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    size_t avail_in = len, first = first_output(len, out->limit);
    const uint8_t *next_in = in;
    avtb_err r = AVTB_ERR_NOMEM;
    uint8_t probe;

    d->st = ST_CORRUPT;
    d->msg = NULL;
    if (bs == NULL)
        goto out;
    for (;;) {
        bool full = out->len >= out->limit;
        size_t room, avail_out;
        uint8_t *next_out;
        BrotliDecoderResult br;

        if (full) {
            next_out = &probe;
            room = 1;
        } else {
            if (!gbuf_room(out, first))
                goto out;
            next_out = out->p + out->len;
            room = out->cap - out->len;
        }
        avail_out = room;
        br = BrotliDecoderDecompressStream(bs, &avail_in, &next_in, &avail_out, &next_out, NULL);
        if (full && avail_out == 0) {
            d->st = ST_LIMIT;
            break;
        }
        if (!full)
            out->len += room - avail_out;
        if (br == BROTLI_DECODER_RESULT_SUCCESS) {
            d->st = ST_END;
            break;
        }
        if (br == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
            d->st = ST_TRUNCATED;
            break;
        }
        if (br == BROTLI_DECODER_RESULT_ERROR) {
            BrotliDecoderErrorCode code = BrotliDecoderGetErrorCode(bs);

            if (code <= BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES &&
                code >= BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES)
                goto out;
            d->msg = BrotliDecoderErrorString(code);
            break;
        }
        if (full) { /* wants more room than the 1-byte probe: there is more */
            d->st = ST_LIMIT;
            break;
        }
    }
    d->used = len - avail_in;
    r = AVTB_OK;
out:
    BrotliDecoderDestroyInstance(bs);
    return r;
}

/* ---- the walk ------------------------------------------------------------- */

typedef struct walker {
    avtb_transform_limits l; /* the caller's, defaults filled in */
    const avtb_transform_sink *s;
    void *ctx;
    const char *path[AVTB_TRANSFORM_DEPTH_CEILING];
    size_t total;   /* bytes produced by every step so far */
    bool exhausted; /* max_total_output reached: nothing more is decoded */
    z_stream zs;    /* one inflater for the walk, reset per stream */
    bool zs_ready;
    ZSTD_DCtx *zd; /* likewise, created on first use */
} walker;

/* One view being decoded. */
typedef struct frame {
    avtb_view v;
    size_t min_run;              /* the walk's min_text_run, for the detect functions */
    size_t first[NREGION_CLASS]; /* where each text class's first region starts, or SIZE_MAX */
    size_t magic_at[NMAGIC];     /* first offset of each magic number, or SIZE_MAX */
    size_t hits;                 /* views decoded from this one */
    bool stop;                   /* the depth limit was met: decode nothing more */
} frame;

static avtb_err walk_view(walker *w, const uint8_t *p, size_t n, size_t depth, const char *member);

static void anomaly(walker *w, const frame *f, const char *fmt, ...) AVTB_PRINTF(3, 4);
static void anomaly(walker *w, const frame *f, const char *fmt, ...)
{
    char buf[ANOMALY_LEN];
    va_list ap;

    if (w->s->anomaly == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    w->s->anomaly(w->ctx, &f->v, buf);
}

/* A hostile string (a member name, libarchive's words on it) made fit for an
 * anomaly text: printable ASCII, cut short. */
static const char *safe_name(const char *s, char buf[NAME_LEN])
{
    size_t o = 0;

    if (s == NULL)
        return "(none)";
    for (; *s != '\0' && o + 4 < NAME_LEN; s++)
        buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    if (*s != '\0') {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static bool done(const walker *w, const frame *f)
{
    return f->stop || w->exhausted;
}

/* Bytes the next step may produce: the step limit, or what is left of the walk's. */
static size_t step_cap(const walker *w)
{
    size_t left = w->l.max_total_output - w->total;

    return left < w->l.max_step_output ? left : w->l.max_step_output;
}

/* Counts n bytes a step produced; more says it had more than its cap let through. */
static void book(walker *w, const frame *f, const char *name, size_t n, bool more, const char *why)
{
    w->total += n;
    if (!more)
        return;
    if (w->total >= w->l.max_total_output) {
        w->exhausted = true;
        anomaly(w, f, "%s: output limit of one walk (%zu bytes) reached: nothing more decoded",
                name, w->l.max_total_output);
    } else {
        anomaly(w, f, "%s: output limit (%zu bytes) reached: %s", name, w->l.max_step_output, why);
    }
}

/* Reports a view decoded from f's, and walks it. */
static avtb_err emit(walker *w, frame *f, const char *name, const uint8_t *p, size_t n,
                     const char *member)
{
    if (n == 0 || (n == f->v.len && memcmp(p, f->v.data, n) == 0))
        return AVTB_OK;
    f->hits++;
    if (f->v.depth >= w->l.max_depth) {
        anomaly(w, f, "depth limit (%u) reached: %s view not decoded", w->l.max_depth, name);
        f->stop = true;
        return AVTB_OK;
    }
    w->path[f->v.depth] = name;
    return walk_view(w, p, n, f->v.depth + 1, member != NULL ? member : f->v.member);
}

/* ---- text runs ------------------------------------------------------------ */

/*
 * The prefilter of the base64, base32 and hex runs: loose runs of a region
 * class (any mix of its chars and skippable ones) holding at least m counted
 * chars. The exact scanners run only inside these regions: every exact run
 * lies within a loose one.
 *
 * A run of 15 or more bytes holds a whole 8-byte-aligned block, so with
 * m >= 15 only blocks entirely in the class are looked at more closely;
 * blocks are classified 16 bytes at a time with GCC/clang vector extensions
 * (SSE2 on x86-64, NEON on arm64, plain C elsewhere). With a smaller m,
 * positions m-1, 2m-1, ... are probed instead. Either way a candidate is
 * extended both ways once (ext_end), so a pass stays linear.
 */
typedef uint8_t v16 __attribute__((vector_size(16)));

/* 0xff where x[i] is in region class k: the vector twin of cls[] & region_any[k]. */
static inline __attribute__((always_inline)) v16 class_vec(v16 x, int k)
{
    v16 lo = x | 0x20;
    v16 digit = (v16)((x >= '0') & (x <= '9')), two7 = (v16)((x >= '2') & (x <= '7'));

    switch (k) {
    case R_B64:
        return digit | (v16)((lo >= 'a') & (lo <= 'z')) | (v16)((x == '+') | (x == '/')) |
               (v16)((x == '-') | (x == '_')) | (v16)((x == '\r') | (x == '\n'));
    case R_B32U:
        return two7 | (v16)((x >= 'A') & (x <= 'Z')) | (v16)(x == '.');
    case R_B32L:
        return two7 | (v16)((x >= 'a') & (x <= 'z')) | (v16)(x == '.');
    default:
        return digit | (v16)((lo >= 'a') & (lo <= 'f')) | (v16)((x == ' ') | (x == ':'));
    }
}

/* The loose run of class k around p[i] (in the class); whether it holds m counted chars. */
static bool extend(const uint8_t *p, size_t n, size_t i, size_t m, int k, size_t *rs, size_t *re)
{
    const uint8_t any = region_any[k], core = region_core[k];
    size_t s = i, e = i + 1, count = (cls[p[i]] & core) != 0;

    while (s > 0 && (cls[p[s - 1]] & any))
        count += (cls[p[--s]] & core) != 0;
    while (e < n && (cls[p[e]] & any))
        count += (cls[p[e++]] & core) != 0;
    *rs = s;
    *re = e;
    return count >= m;
}

/* Whether the 8 bytes at p are all in class k (scalar, for a view's tail). */
static bool block_in_class(const uint8_t *p, int k)
{
    for (int j = 0; j < 8; j++)
        if (!(cls[p[j]] & region_any[k]))
            return false;
    return true;
}

/*
 * Where the first region of every class starts (SIZE_MAX: none), in one pass
 * for all classes: a view with nothing to decode is read once here, and a
 * class with no region is not scanned again. Chunks that are not all
 * printable ASCII or CR/LF (binary data) are dismissed with one vector test.
 */
static void regions_first(const uint8_t *p, size_t n, size_t m, size_t first[NREGION_CLASS])
{
    size_t ext_end[NREGION_CLASS] = {0}, b;
    unsigned active = (1u << NREGION_CLASS) - 1;

    for (int k = 0; k < NREGION_CLASS; k++)
        first[k] = SIZE_MAX;
    if (m < 15) {
        for (size_t i = m - 1; i < n && active != 0; i += m) {
            for (int k = 0; k < NREGION_CLASS; k++) {
                size_t s, e;

                if (!(active & (1u << k)) || !(cls[p[i]] & region_any[k]) || i < ext_end[k])
                    continue;
                if (extend(p, n, i, m, k, &s, &e)) {
                    first[k] = s;
                    active &= ~(1u << k);
                }
                ext_end[k] = e;
            }
        }
        return;
    }
    for (b = 0; b < n && active != 0; b += 16) {
        uint64_t w[2];
        v16 x;

        if (n - b < 16) { /* the tail: at most one more whole block */
            if (n - b < 8)
                break;
            memset(&x, 0, sizeof(x));
            memcpy(&x, p + b, 8);
        } else {
            memcpy(&x, p + b, sizeof(x));
        }
        {
            v16 t = (v16)((v16)(x - 0x20) <= 0x5e) | (v16)((x == '\r') | (x == '\n'));

            memcpy(w, &t, sizeof(w));
            if (w[0] != UINT64_MAX && w[1] != UINT64_MAX)
                continue;
        }
        for (int k = 0; k < NREGION_CLASS; k++) {
            v16 c;

            if (!(active & (1u << k)))
                continue;
            c = class_vec(x, k);
            memcpy(w, &c, sizeof(w));
            for (int h = 0; h < 2 && (active & (1u << k)); h++) {
                size_t s, e, at = b + 8 * (size_t)h;

                if (w[h] != UINT64_MAX || at < ext_end[k] || at + 8 > n)
                    continue;
                if (extend(p, n, at, m, k, &s, &e)) {
                    first[k] = s;
                    active &= ~(1u << k);
                }
                ext_end[k] = e;
            }
        }
    }
}

/* The next region [*rs, *re) of class k at or after from (0, or a region's end). */
static bool loose_next(const uint8_t *p, size_t n, size_t from, size_t m, int k, size_t *rs,
                       size_t *re)
{
    size_t ext_end = from, b;

    if (m < 15) {
        for (size_t i = from + m - 1; i < n; i += m) {
            if (!(cls[p[i]] & region_any[k]) || i < ext_end)
                continue;
            if (extend(p, n, i, m, k, rs, re))
                return true;
            ext_end = *re;
        }
        return false;
    }
    for (b = (from + 7) & ~(size_t)7; b + 16 <= n; b += 16) {
        v16 x;
        uint64_t w[2];

        memcpy(&x, p + b, sizeof(x));
        x = class_vec(x, k);
        memcpy(w, &x, sizeof(w));
        for (int h = 0; h < 2; h++) {
            if (w[h] != UINT64_MAX || b + 8 * (size_t)h < ext_end)
                continue;
            if (extend(p, n, b + 8 * (size_t)h, m, k, rs, re))
                return true;
            ext_end = *re;
        }
    }
    return b + 8 <= n && b >= ext_end && block_in_class(p + b, k) && extend(p, n, b, m, k, rs, re);
}

typedef struct run {
    size_t s, e; /* its bytes, separators included, padding not */
    size_t core; /* alphabet chars (UTF-16: code units) in it */
    size_t pads; /* '=' after it */
    bool sep;    /* hex: pairs with separators */
    bool alt;    /* base64: has '-' or '_'; UTF-16: big-endian */
} run;

typedef struct textcodec {
    const char *name, *alt_name; /* alt_name when run.alt */
    int region;                  /* prefilter region class, or -1 */
    uint8_t trigger;             /* region -1: a byte every run holds */
    /* Finds the next run of at least m chars starting in [*pos, lim); advances *pos past it
     * (or to lim). The run may end past lim: padding. */
    bool (*next)(const uint8_t *p, size_t n, size_t *pos, size_t lim, size_t m, run *r);
    /* Alignments to decode r at (leading chars skipped) into sh; returns how many. */
    size_t (*shifts)(const run *r, size_t m, unsigned sh[8]);
    /* Exact decoded size of r at shift. */
    size_t (*size)(const run *r, unsigned shift);
    /* Decodes r at shift into out, at most cap bytes; returns bytes written. */
    size_t (*decode)(const uint8_t *p, const run *r, unsigned shift, uint8_t *out, size_t cap);
} textcodec;

/*
 * base64 / base64url (one alphabet: both 62s and 63s). A line break (LF or
 * CRLF) continues a run when the line so far is a multiple of 4 chars, at
 * least min_text_run long, and a base64 char other than '-' follows: MIME
 * (76) and PEM (64) bodies decode as one run, while short lines of text,
 * lines of odd lengths, MIME boundaries ("--b1") and PEM trailers
 * ("-----END") are not glued on.
 */
static bool b64_next(const uint8_t *p, size_t n, size_t *pos, size_t lim, size_t m, run *r)
{
    size_t i = *pos;

    while (i < lim) {
        size_t s, core = 0, line = 0, pads = 0, e;
        size_t last_break = SIZE_MAX, last_line = 0; /* where the last line starts */

        while (i < lim && !(cls[p[i]] & C_B64))
            i++;
        if (i >= lim)
            break;
        s = i;
        for (;;) {
            if (i < n && (cls[p[i]] & C_B64)) {
                core++;
                line++;
                i++;
                continue;
            }
            if (i < n && (p[i] == '\r' || p[i] == '\n') && line % 4 == 0 && line >= m) {
                size_t k = i + (p[i] == '\r');

                if (k < n && p[k] == '\n' && k + 1 < n && (cls[p[k + 1]] & C_B64) &&
                    p[k + 1] != '-') {
                    last_break = i;
                    last_line = k + 1;
                    i = k + 1;
                    line = 0;
                    continue;
                }
            }
            break;
        }
        e = i;
        while (i < n && p[i] == '=' && pads < 2) {
            i++;
            pads++;
        }
        /* Joined lines say the run starts aligned; padding that says otherwise
         * belongs to a last line that is something else ("b64\nid=..."). */
        if (last_break != SIZE_MAX && pads > 0 && (core + pads) % 4 != 0) {
            core -= line;
            e = last_break;
            pads = 0;
            i = last_line;
        }
        if (core >= m) {
            *r = (run){.s = s, .e = e, .core = core, .pads = pads};
            r->alt = memchr(p + s, '-', e - s) != NULL || memchr(p + s, '_', e - s) != NULL;
            *pos = i;
            return true;
        }
    }
    *pos = i > lim ? i : lim;
    return false;
}

static size_t b64_shifts(const run *r, size_t m, unsigned sh[8])
{
    size_t k = 0;

    if (r->pads > 0) { /* the padding says where the encoding started */
        sh[0] = (unsigned)((r->core + r->pads) % 4);
        return 1;
    }
    sh[k++] = 0;
    if (r->core > SHIFT_MAX_RUN)
        return k;
    for (unsigned s = 1; s < 4; s++)
        if (r->core - s >= m && (r->core - s) % 4 != 1)
            sh[k++] = s;
    return k;
}

static size_t b64_size(const run *r, unsigned shift)
{
    return r->core > shift ? (r->core - shift) / 4 * 3 + (r->core - shift) % 4 * 6 / 8 : 0;
}

static size_t b64_decode(const uint8_t *p, const run *r, unsigned shift, uint8_t *out, size_t cap)
{
    size_t o = 0, i = r->s;
    uint32_t acc = 0;
    unsigned bits = 0;

    for (; i < r->e && shift > 0; i++)
        if (dec64[p[i]] != 0xff)
            shift--;
    /* Four chars at a time while no line break is in the way. */
    while (bits == 0 && i + 4 <= r->e && o + 3 <= cap) {
        uint32_t a = dec64[p[i]], b = dec64[p[i + 1]], c = dec64[p[i + 2]], d = dec64[p[i + 3]];

        if ((a | b | c | d) & 0x80)
            break;
        acc = a << 18 | b << 12 | c << 6 | d;
        out[o] = (uint8_t)(acc >> 16);
        out[o + 1] = (uint8_t)(acc >> 8);
        out[o + 2] = (uint8_t)acc;
        o += 3;
        i += 4;
    }
    for (; i < r->e && o < cap; i++) {
        uint8_t v = dec64[p[i]];

        if (v == 0xff)
            continue;
        acc = acc << 6 | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            if (bits == 0 && o + 3 <= cap) { /* back on a 4-char boundary */
                while (i + 5 <= r->e && o + 3 <= cap) {
                    uint32_t a = dec64[p[i + 1]], b = dec64[p[i + 2]], c = dec64[p[i + 3]],
                             d = dec64[p[i + 4]];

                    if ((a | b | c | d) & 0x80)
                        break;
                    acc = a << 18 | b << 12 | c << 6 | d;
                    out[o] = (uint8_t)(acc >> 16);
                    out[o + 1] = (uint8_t)(acc >> 8);
                    out[o + 2] = (uint8_t)acc;
                    o += 3;
                    i += 4;
                }
            }
        }
    }
    return o;
}

/*
 * base32: runs of one case (RFC 4648 upper case, or lower case as DNS names
 * are), digits 2-7 going with either; a single '.' between chars is skipped
 * so "MFRGG.ZDFMZ" decodes as one run. A change of case ends a run: that
 * keeps base64 text from looking like base32 everywhere.
 */
static int b32_case(uint8_t c)
{
    return c >= 'a' ? 2 : c >= 'A' ? 1 : 0;
}

static bool b32_next(const uint8_t *p, size_t n, size_t *pos, size_t lim, size_t m, run *r)
{
    size_t i = *pos;

    while (i < lim) {
        size_t s, core = 0, pads = 0, e;
        int kase = 0;

        while (i < lim && !(cls[p[i]] & C_B32))
            i++;
        if (i >= lim)
            break;
        s = i;
        while (i < n) {
            uint8_t c = p[i];

            if (c == '.' && i + 1 < n && (cls[p[i + 1]] & C_B32))
                c = p[++i];
            else if (!(cls[c] & C_B32))
                break;
            if (b32_case(c) != 0) {
                if (kase != 0 && b32_case(c) != kase) {
                    if (p[i - 1] == '.')
                        i--;
                    break;
                }
                kase = b32_case(c);
            }
            core++;
            i++;
        }
        e = i;
        while (i < n && p[i] == '=' && pads < 6) {
            i++;
            pads++;
        }
        if (core >= m) {
            *r = (run){.s = s, .e = e, .core = core, .pads = pads};
            *pos = i;
            return true;
        }
    }
    *pos = i > lim ? i : lim;
    return false;
}

static size_t b32_shifts(const run *r, size_t m, unsigned sh[8])
{
    size_t k = 0;

    if (r->pads > 0) {
        sh[0] = (unsigned)((r->core + r->pads) % 8);
        return 1;
    }
    sh[k++] = 0;
    if (r->core > SHIFT_MAX_RUN)
        return k;
    for (unsigned s = 1; s < 8; s++) {
        size_t rest = (r->core - s) % 8; /* 1, 3 and 6 chars never end an encoding */

        if (r->core - s >= m && rest != 1 && rest != 3 && rest != 6)
            sh[k++] = s;
    }
    return k;
}

static size_t b32_size(const run *r, unsigned shift)
{
    return r->core > shift ? (r->core - shift) * 5 / 8 : 0;
}

static size_t b32_decode(const uint8_t *p, const run *r, unsigned shift, uint8_t *out, size_t cap)
{
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;

    for (size_t i = r->s; i < r->e && o < cap; i++) {
        uint8_t v = dec32[p[i]];

        if (v == 0xff)
            continue;
        if (shift > 0) {
            shift--;
            continue;
        }
        acc = acc << 5 | v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o;
}

/* hex: contiguous digits, or pairs separated by one ':' or ' ' throughout. */
static bool hex_next(const uint8_t *p, size_t n, size_t *pos, size_t lim, size_t m, run *r)
{
    size_t i = *pos;

    while (i < lim) {
        size_t s, core = 0;
        bool sep = false;

        while (i < lim && !(cls[p[i]] & C_HEX))
            i++;
        if (i >= lim)
            break;
        s = i;
        while (i < n && (cls[p[i]] & C_HEX)) {
            i++;
            core++;
        }
        if (core == 2 && i < n && (p[i] == ':' || p[i] == ' ')) {
            uint8_t sc = p[i];

            while (i + 2 < n && p[i] == sc && (cls[p[i + 1]] & C_HEX) && (cls[p[i + 2]] & C_HEX) &&
                   (i + 3 >= n || !(cls[p[i + 3]] & C_HEX))) {
                i += 3;
                core += 2;
                sep = true;
            }
        }
        if (core >= m) {
            *r = (run){.s = s, .e = i, .core = core, .sep = sep};
            *pos = i;
            return true;
        }
    }
    *pos = i > lim ? i : lim;
    return false;
}

static size_t hex_shifts(const run *r, size_t m, unsigned sh[8])
{
    size_t k = 0;

    sh[k++] = 0;
    if (!r->sep && r->core - 1 >= m && (r->core % 2 == 1 || r->core <= SHIFT_MAX_RUN))
        sh[k++] = 1;
    return k;
}

static size_t hex_size(const run *r, unsigned shift)
{
    return r->core > shift ? (r->core - shift) / 2 : 0;
}

static size_t hex_decode(const uint8_t *p, const run *r, unsigned shift, uint8_t *out, size_t cap)
{
    size_t o = 0;
    unsigned acc = 0, half = 0;

    for (size_t i = r->s; i < r->e && o < cap; i++) {
        uint8_t v = dechex[p[i]];

        if (v == 0xff)
            continue;
        if (shift > 0) {
            shift--;
            continue;
        }
        acc = acc << 4 | v;
        if (++half == 2) {
            out[o++] = (uint8_t)acc;
            acc = 0;
            half = 0;
        }
    }
    return o;
}

/*
 * UTF-16: found from the NUL bytes. A run is a chain of NULs two bytes apart
 * with a text byte (ASCII or Latin-1) between each two, plus the text byte
 * just before the first NUL and just after the last (ASCII only: those may
 * be neighbours, not part of the string). Reading it this way needs no
 * guess between little- and big-endian, and neither guess can drop a
 * string's first or last char; the view is the run's non-NUL bytes.
 */
static bool u16_edge(uint8_t c)
{
    return c < 0x80 && u16ok[c];
}

static bool u16_next(const uint8_t *p, size_t n, size_t *pos, size_t lim, size_t m, run *r)
{
    size_t i = *pos, lo = *pos;

    while (i < n) {
        const uint8_t *z = memchr(p + i, 0, n - i);
        size_t zi, k, units;
        bool front, back;

        if (z == NULL)
            break;
        zi = (size_t)(z - p);
        k = zi;
        while (k + 2 < n && p[k + 2] == 0 && u16ok[p[k + 1]])
            k += 2;
        front = zi > lo && u16_edge(p[zi - 1]);
        back = k + 1 < n && u16_edge(p[k + 1]);
        units = (k - zi) / 2 + front + back;
        if (units >= m) {
            /* named by the side the string hangs on: LE strings start with a char */
            *r = (run){.s = zi - front, .e = k + 1 + back, .core = units, .alt = !front};
            *pos = r->e;
            return true;
        }
        i = k + 1;
        for (uint64_t word; i + 8 <= n && (memcpy(&word, p + i, 8), word == 0);)
            i += 8; /* NUL padding: skip it here, not one memchr per byte */
        while (i < n && p[i] == 0)
            i++;
    }
    *pos = n;
    return false;
}

static size_t one_shift(const run *r, size_t m, unsigned sh[8])
{
    sh[0] = 0;
    return 1;
}

static size_t u16_size(const run *r, unsigned shift)
{
    return r->core;
}

static size_t u16_decode(const uint8_t *p, const run *r, unsigned shift, uint8_t *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = r->s; i < r->e && o < cap; i++)
        if (p[i] != 0)
            out[o++] = p[i];
    return o;
}

/*
 * Percent-encoding: runs of printable ASCII without spaces (a query string,
 * a form body, a JSON value) that hold at least one %XX, decoded with '+' as
 * space (form encoding). Binary data has '%' and two hex digits every 35 KiB
 * or so; requiring a run of min_text_run printable chars keeps those out.
 */
static bool hexpair(const uint8_t *p)
{
    return dechex[p[0]] != 0xff && dechex[p[1]] != 0xff;
}

static bool urlchar(uint8_t c)
{
    return c > 0x20 && c < 0x7f;
}

static bool pct_next(const uint8_t *p, size_t n, size_t *pos, size_t lim, size_t m, run *r)
{
    size_t i = *pos, lo = *pos;

    while (i < n) {
        const uint8_t *q = memchr(p + i, '%', n - i);
        size_t at, s, e, esc = 0;

        if (q == NULL)
            break;
        at = (size_t)(q - p);
        if (at + 2 >= n || !hexpair(q + 1)) {
            i = at + 1;
            continue;
        }
        for (s = at; s > lo && urlchar(p[s - 1]); s--)
            ;
        for (e = at; e < n && urlchar(p[e]); e++)
            if (p[e] == '%' && e + 2 < n && hexpair(p + e + 1))
                esc++;
        if (e - s >= m) {
            *r = (run){.s = s, .e = e, .core = e - s, .pads = esc};
            *pos = e;
            return true;
        }
        i = e;
    }
    *pos = n;
    return false;
}

static size_t pct_size(const run *r, unsigned shift)
{
    return r->core - 2 * r->pads; /* pads counts the %XX escapes here */
}

static size_t pct_decode(const uint8_t *p, const run *r, unsigned shift, uint8_t *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = r->s; i < r->e && o < cap; i++) {
        if (p[i] == '%' && i + 2 < r->e && hexpair(p + i + 1)) {
            out[o++] = (uint8_t)(dechex[p[i + 1]] << 4 | dechex[p[i + 2]]);
            i += 2;
        } else {
            out[o++] = p[i] == '+' ? ' ' : p[i];
        }
    }
    return o;
}

static const textcodec tc_base64 = {"base64", "base64url", R_B64,    0,
                                    b64_next, b64_shifts,  b64_size, b64_decode};
static const textcodec tc_base32u = {"base32", "base32",   R_B32U,   0,
                                     b32_next, b32_shifts, b32_size, b32_decode};
static const textcodec tc_base32l = {"base32", "base32",   R_B32L,   0,
                                     b32_next, b32_shifts, b32_size, b32_decode};
static const textcodec tc_hex = {"hex",    "hex",      R_HEX,    0,
                                 hex_next, hex_shifts, hex_size, hex_decode};
static const textcodec tc_utf16 = {"utf16le", "utf16be", -1,       0,
                                   u16_next,  one_shift, u16_size, u16_decode};
static const textcodec tc_percent = {"percent", "percent", -1,       '%',
                                     pct_next,  one_shift, pct_size, pct_decode};

/* Where a text row is in a view: scanning [pos, lim), the current region. */
typedef struct cursor {
    size_t pos, lim;
} cursor;

/* The next run of tc in f, looking only inside the prefilter's regions if it has a class. */
static bool next_run(const textcodec *tc, const frame *f, cursor *c, run *r)
{
    for (;;) {
        if (tc->region >= 0 && c->pos >= c->lim &&
            !loose_next(f->v.data, f->v.len, c->lim, f->min_run, tc->region, &c->pos, &c->lim))
            return false;
        if (tc->next(f->v.data, f->v.len, &c->pos, c->lim, f->min_run, r))
            return true;
        if (tc->region < 0)
            return false;
    }
}

/*
 * Decodes every run of one text encoding from `from` on. The first max_runs
 * runs are views of their own (at every alignment tried); the rest go into
 * one joined view, NUL between them, so a view full of runs neither floods
 * the caller nor hides a token.
 */
static avtb_err text_decode(walker *w, frame *f, const textcodec *tc, size_t from)
{
    const uint8_t *p = f->v.data;
    cursor cur = {.pos = from, .lim = tc->region >= 0 ? from : f->v.len};
    size_t nruns = 0;
    gbuf tmp = {0}, joined = {0};
    bool joining = false, joined_more = false;
    avtb_err r = AVTB_OK;
    run rn;

    while (!done(w, f) && next_run(tc, f, &cur, &rn)) {
        const char *name = rn.alt ? tc->alt_name : tc->name;
        bool own = ++nruns <= w->l.max_runs;
        unsigned sh[8];
        size_t nsh = tc->shifts(&rn, w->l.min_text_run, sh);

        if (!own && !joining) {
            joining = true;
            joined.limit = step_cap(w);
        }
        for (size_t k = 0; k < nsh && !done(w, f); k++) {
            size_t want = tc->size(&rn, sh[k]), cap, got, sep;

            if (own) {
                cap = step_cap(w);
                tmp.limit = want < cap ? want : cap;
                if (!gbuf_reserve(&tmp, tmp.limit)) {
                    r = AVTB_ERR_NOMEM;
                    goto out;
                }
                got = tc->decode(p, &rn, sh[k], tmp.p, tmp.limit);
                book(w, f, name, got, want > cap, "view cut");
                r = emit(w, f, name, tmp.p, got, NULL);
                if (r != AVTB_OK)
                    goto out;
                continue;
            }
            sep = joined.len > 0;
            cap = joined.limit - joined.len;
            if (joined_more || cap < sep + 1) {
                joined_more = true;
                break;
            }
            cap -= sep;
            if (want > cap) {
                joined_more = true;
                want = cap;
            }
            if (!gbuf_reserve(&joined, joined.len + sep + want)) {
                r = AVTB_ERR_NOMEM;
                goto out;
            }
            if (sep)
                joined.p[joined.len++] = 0;
            joined.len += tc->decode(p, &rn, sh[k], joined.p + joined.len, want);
        }
    }
    if (joining && !done(w, f)) {
        anomaly(w, f, "%s: more than %zu runs in one view: the rest decoded into one joined view",
                tc->name, w->l.max_runs);
        book(w, f, tc->name, joined.len, joined_more, "view cut");
        r = emit(w, f, tc->name, joined.p, joined.len, NULL);
    }
out:
    free(tmp.p);
    free(joined.p);
    return r;
}

/* ---- decoders: the table rows ---------------------------------------------- */

typedef struct decoder decoder;
struct decoder {
    const char *name;
    unsigned flags;
    int magic;             /* M_* for magic-number rows, else -1 */
    const textcodec *text; /* text rows */
    /* Finds the next candidate at or after *at; false when there is none. */
    bool (*detect)(const decoder *d, const frame *f, size_t *at);
    /* Decodes the candidate at *at, emitting views; moves *at past what it used. */
    avtb_err (*decode)(const decoder *d, walker *w, frame *f, size_t *at);
};

enum {
    D_FALLBACK = 1, /* only when no other row decoded anything and the view looks binary */
    D_QUIET = 2,    /* giving up after max_tries failures is not an anomaly */
};

static bool text_detect(const decoder *d, const frame *f, size_t *at)
{
    if (*at > 0)
        return false;
    if (d->text->region >= 0) {
        *at = f->first[d->text->region];
        return *at != SIZE_MAX;
    }
    return memchr(f->v.data, d->text->trigger, f->v.len) != NULL;
}

static avtb_err text_row(const decoder *d, walker *w, frame *f, size_t *at)
{
    avtb_err r = text_decode(w, f, d->text, *at);

    *at = f->v.len;
    return r;
}

/* Whether a magic number starts at p (n bytes left). */
static bool magic_is(const uint8_t *p, size_t n, int k)
{
    switch (k) {
    case M_GZIP: /* and no reserved flag bit, as zlib insists */
        return n >= 10 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 0x08 && (p[3] & 0xe0) == 0;
    case M_ZLIB: /* 32 KiB window, no preset dictionary, valid check bits */
        return n >= 3 && p[0] == 0x78 &&
               (p[1] == 0x01 || p[1] == 0x5e || p[1] == 0x9c || p[1] == 0xda);
    case M_ZSTD:
        return n >= 9 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0;
    case M_ZIP:
        return n >= 30 && memcmp(p, "PK\x03\x04", 4) == 0;
    case M_7Z:
        return n >= 32 && memcmp(p, "7z\xbc\xaf\x27\x1c", 6) == 0;
    case M_XZ:
        return n >= 12 && memcmp(p,
                                 "\xfd"
                                 "7zXZ\0",
                                 6) == 0;
    case M_BZIP2:
        return n >= 14 && memcmp(p, "BZh", 3) == 0 && p[3] >= '1' && p[3] <= '9' &&
               memcmp(p + 4, "\x31\x41\x59\x26\x53\x59", 6) == 0;
    case M_LZ4:
        return n >= 7 && memcmp(p, "\x04\x22\x4d\x18", 4) == 0;
    default:
        return false;
    }
}

/*
 * Whether p[0..16) holds the first two bytes of any magic number (p[16] is
 * read too): 16 positions per branch instead of one.
 */

static bool magic_pairs(const uint8_t *p)
{
    v16 a, b, m;
    uint64_t w[2];

    memcpy(&a, p, sizeof(a));
    memcpy(&b, p + 1, sizeof(b));
    m = (v16)((a == 0x1f) & (b == 0x8b)) | (v16)((a == 0x28) & (b == 0xb5)) |
        (v16)((a == 'P') & (b == 'K')) | (v16)((a == '7') & (b == 'z')) |
        (v16)((a == 0xfd) & (b == '7')) | (v16)((a == 'B') & (b == 'Z')) |
        (v16)((a == 0x04) & (b == 0x22)) |
        (v16)((a == 0x78) & ((b == 0x01) | (b == 0x5e) | (b == 0x9c) | (b == 0xda)));
    memcpy(w, &m, sizeof(w));
    return (w[0] | w[1]) != 0;
}

/* One pass for the first hit of every magic number. */
static void magic_scan(const uint8_t *p, size_t n, size_t at[NMAGIC])
{
    unsigned want = (1u << NMAGIC) - 1;
    size_t i = 0;

    for (int k = 0; k < NMAGIC; k++)
        at[k] = SIZE_MAX;
    while (i < n && want != 0) {
        size_t end;

        if (n - i > 16 && !magic_pairs(p + i)) {
            i += 16;
            continue;
        }
        for (end = n - i > 16 ? i + 16 : n; i < end; i++) {
            unsigned k1 = magic_by_first[p[i]], k = k1 - 1;

            if (k1 == 0 || !(want & (1u << k)) || !magic_is(p + i, n - i, (int)k))
                continue;
            at[k] = i;
            want &= ~(1u << k);
        }
    }
}

static size_t magic_next(const frame *f, int k, size_t from)
{
    const uint8_t *p = f->v.data, *q;
    size_t n = f->v.len;

    if (f->magic_at[k] == SIZE_MAX)
        return SIZE_MAX;
    if (from <= f->magic_at[k])
        return f->magic_at[k];
    for (size_t i = from; i < n; i = (size_t)(q - p) + 1) {
        q = memchr(p + i, magic_first[k], n - i);
        if (q == NULL)
            break;
        if (magic_is(q, n - (size_t)(q - p), k))
            return (size_t)(q - p);
    }
    return SIZE_MAX;
}

static bool magic_detect(const decoder *d, const frame *f, size_t *at)
{
    *at = magic_next(f, d->magic, *at);
    return *at != SIZE_MAX;
}

static avtb_err zreset(walker *w, int wbits)
{
    int zr;

    if (w->zs_ready) {
        zr = inflateReset2(&w->zs, wbits);
    } else {
        memset(&w->zs, 0, sizeof(w->zs));
        zr = inflateInit2(&w->zs, wbits);
        w->zs_ready = zr == Z_OK;
    }
    return zr == Z_OK ? AVTB_OK : zr == Z_MEM_ERROR ? AVTB_ERR_NOMEM : AVTB_ERR_INTERNAL;
}

static avtb_err zstd_ready(walker *w)
{
    size_t log = 20;

    if (w->zd == NULL) {
        w->zd = ZSTD_createDCtx();
        if (w->zd == NULL)
            return AVTB_ERR_NOMEM;
        /* The window is memory the decoder allocates on the frame's word: allow
         * what an output of max_step_output could need, 1 MiB to 128 MiB. */
        while (log < 27 && ((size_t)1 << log) < w->l.max_step_output)
            log++;
        if (ZSTD_isError(ZSTD_DCtx_setParameter(w->zd, ZSTD_d_windowLogMax, (int)log)))
            return AVTB_ERR_INTERNAL;
    }
    if (ZSTD_isError(ZSTD_DCtx_reset(w->zd, ZSTD_reset_session_only)))
        return AVTB_ERR_INTERNAL;
    return AVTB_OK;
}

/*
 * gzip, zlib and zstd streams at *at. A stream that fails is an anomaly with
 * its decoded prefix as a view, except for zlib, whose 2-byte magic is
 * everywhere in binary data: its failures count only past WEAK_MIN_OUTPUT
 * bytes or when the view ends mid-stream.
 */
static avtb_err stream_row(const decoder *d, walker *w, frame *f, size_t *at)
{
    size_t off = *at, n = f->v.len - off;
    const uint8_t *p = f->v.data + off;
    gbuf out = {.limit = step_cap(w)};
    bool weak = d->magic == M_ZLIB, keep = true;
    dres dr = {0};
    avtb_err r;

    *at = off + 1;
    if (d->magic == M_ZSTD) {
        r = zstd_ready(w);
        if (r == AVTB_OK)
            r = zstd_run(w->zd, p, n, false, &out, &dr);
    } else {
        r = zreset(w, d->magic == M_GZIP ? 31 : 15);
        if (r == AVTB_OK)
            r = z_run(&w->zs, p, n, &out, &dr);
    }
    if (r != AVTB_OK)
        goto out;
    if (dr.st == ST_TRUNCATED) {
        keep = !weak || out.len > 0;
        if (keep)
            anomaly(w, f, "%s: stream at offset %zu truncated after %zu decoded bytes", d->name,
                    off, out.len);
    } else if (dr.st == ST_CORRUPT) {
        keep = !weak || out.len >= WEAK_MIN_OUTPUT;
        if (keep)
            anomaly(w, f, "%s: corrupt stream at offset %zu after %zu decoded bytes: %s", d->name,
                    off, out.len, dr.msg != NULL ? dr.msg : "invalid data");
    }
    book(w, f, d->name, out.len, dr.st == ST_LIMIT, "decompression bomb");
    if (dr.st == ST_END)
        *at = off + (dr.used > 0 ? dr.used : 1);
    if (keep)
        r = emit(w, f, d->name, out.p, out.len, NULL);
out:
    free(out.p);
    return r;
}

/* ---- archives (libarchive) ------------------------------------------------- */

static const char *archive_kind(int format)
{
    switch (format & ARCHIVE_FORMAT_BASE_MASK) {
    case ARCHIVE_FORMAT_ZIP:
        return "zip";
    case ARCHIVE_FORMAT_7ZIP:
        return "7z";
    case ARCHIVE_FORMAT_TAR:
        return "tar";
    case ARCHIVE_FORMAT_CPIO:
        return "cpio";
    case ARCHIVE_FORMAT_RAR:
    case ARCHIVE_FORMAT_RAR_V5:
        return "rar";
    case ARCHIVE_FORMAT_ISO9660:
        return "iso9660";
    case ARCHIVE_FORMAT_AR:
        return "ar";
    case ARCHIVE_FORMAT_CAB:
        return "cab";
    case ARCHIVE_FORMAT_LHA:
        return "lha";
    case ARCHIVE_FORMAT_XAR:
        return "xar";
    case ARCHIVE_FORMAT_WARC:
        return "warc";
    default:
        return "archive";
    }
}

/* Archive formats recognised at the start of a view only. */
static bool archive_at_start(const uint8_t *p, size_t n)
{
    static const struct {
        size_t off, len;
        const char *magic;
    } sig[] = {
        {0, 6, "Rar!\x1a\x07"}, {0, 8, "!<arch>\n"}, {0, 8, "MSCF\0\0\0\0"},
        {0, 4, "xar!"},         {0, 6, "070701"},    {0, 6, "070702"},
        {0, 6, "070707"},       {257, 5, "ustar"},   {32769, 5, "CD001"},
    };

    for (size_t i = 0; i < sizeof(sig) / sizeof(sig[0]); i++)
        if (n >= sig[i].off + sig[i].len + 16 &&
            memcmp(p + sig[i].off, sig[i].magic, sig[i].len) == 0)
            return true;
    /* LHA: "-lh5-" and kin at offset 2 */
    return n >= 22 && p[2] == '-' && p[3] == 'l' && (p[4] == 'h' || p[4] == 'z') && p[6] == '-';
}

static bool archive_detect(const decoder *d, const frame *f, size_t *at)
{
    size_t zip, sz;

    if (*at == 0 && archive_at_start(f->v.data, f->v.len))
        return true;
    zip = magic_next(f, M_ZIP, *at);
    sz = magic_next(f, M_7Z, *at);
    *at = zip < sz ? zip : sz;
    return *at != SIZE_MAX;
}

/* Where a member came from, to read it again with one password at a time. */
typedef struct member_src {
    const uint8_t *data;
    size_t len;
    size_t ordinal; /* among the archive's regular files, 0-based */
} member_src;

/* The current member's data into out, up to the step's cap; AVTB_ERR_NOMEM or AVTB_OK. */
static avtb_err read_member_data(walker *w, struct archive *a, gbuf *out, bool *more, bool *failed,
                                 la_ssize_t *k)
{
    *more = *failed = false;
    *k = 0;
    out->len = 0;
    out->limit = step_cap(w);
    for (;;) {
        if (out->len >= out->limit) {
            uint8_t probe;

            *k = archive_read_data(a, &probe, 1);
            *more = *k > 0;
            *failed = *k < 0;
            return AVTB_OK;
        }
        if (!gbuf_room(out, 64 * 1024))
            return AVTB_ERR_NOMEM;
        *k = archive_read_data(a, out->p + out->len, out->cap - out->len);
        if (*k == 0)
            return AVTB_OK;
        if (*k < 0) {
            *failed = true;
            return AVTB_OK;
        }
        out->len += (size_t)*k;
    }
}

/*
 * The member read again with password pw alone. ZipCrypto checks a password
 * against one byte of a random header, so given several, libarchive takes
 * the first that passes the check, which is a wrong one 1 time in 256 per
 * password tried before the right one: the member then fails. True when pw
 * reads the member whole.
 */
static bool read_member_with(walker *w, const member_src *src, const char *pw, gbuf *out,
                             bool *more)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    size_t regular = 0;
    bool ok = false, failed = false;
    la_ssize_t k;

    if (a == NULL || archive_read_support_format_all(a) != ARCHIVE_OK ||
        archive_read_add_passphrase(a, pw) != ARCHIVE_OK ||
        archive_read_open_memory(a, src->data, src->len) != ARCHIVE_OK)
        goto out;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        if (regular++ < src->ordinal)
            continue;
        ok = read_member_data(w, a, out, more, &failed, &k) == AVTB_OK && !failed;
        break;
    }
out:
    archive_read_free(a);
    return ok;
}

/* Reads the current member into out and reports it; *stop when the archive is done for. */
static avtb_err archive_member(walker *w, frame *f, struct archive *a, struct archive_entry *e,
                               const char *kind, bool named, size_t npw, const member_src *src,
                               gbuf *out, bool *stop)
{
    const char *name = NULL;
    char nb[NAME_LEN], eb[NAME_LEN];
    bool more = false, failed = false;
    la_ssize_t k = 0;

    if (named) {
        name = archive_entry_pathname(e);
        if (name == NULL)
            name = archive_entry_pathname_utf8(e);
        if (name == NULL)
            name = "(unnamed)";
    }
    if (read_member_data(w, a, out, &more, &failed, &k) != AVTB_OK)
        return AVTB_ERR_NOMEM;
    /* An encrypted member that failed: maybe an earlier password passed the
     * check by chance; try each one on its own (rare, so the cost is fine). */
    if (failed && archive_entry_is_encrypted(e) && npw > 1 && src != NULL) {
        for (size_t i = 0; i < npw && failed; i++) {
            const char *pw = i < NBUILTIN ? builtin_passwords[i] : w->l.passwords[i - NBUILTIN];

            if (pw != NULL && read_member_with(w, src, pw, out, &more)) {
                failed = false;
                k = 0;
            }
        }
    }
    book(w, f, kind, out->len, more, "decompression bomb");
    if (failed) {
        const char *es = archive_error_string(a);

        if (archive_entry_is_encrypted(e) && es != NULL && strstr(es, "assphrase") != NULL)
            anomaly(w, f, "%s: member %s: wrong password (%zu tried)", kind, safe_name(name, nb),
                    npw);
        else
            anomaly(w, f, "%s: member %s: %s", kind, safe_name(name, nb), safe_name(es, eb));
        *stop = k == ARCHIVE_FATAL;
    }
    /* Skipping the rest of a member of a solid 7z or rar archive means
     * decompressing it: after a bomb, stop rather than pay for it. */
    if (more && (strcmp(kind, "7z") == 0 || strcmp(kind, "rar") == 0)) {
        anomaly(w, f, "%s: members after %s not read", kind, safe_name(name, nb));
        *stop = true;
    }
    return emit(w, f, kind, out->p, out->len, name);
}

static int archive_setup(struct archive *a, const char *filter)
{
    if (filter == NULL) /* formats only: the compression filters are rows of their own */
        return archive_read_support_format_all(a);
    if (archive_read_support_format_raw(a) != ARCHIVE_OK)
        return ARCHIVE_FATAL;
    /* ARCHIVE_WARN here means an external program would run: refuse that. */
    if (strcmp(filter, "bzip2") == 0)
        return archive_read_support_filter_bzip2(a);
    if (strcmp(filter, "xz") == 0)
        return archive_read_support_filter_xz(a);
    if (strcmp(filter, "lz4") == 0)
        return archive_read_support_filter_lz4(a);
    return ARCHIVE_FATAL;
}

static uint32_t rd32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Where the zip that starts at off ends: after the end-of-central-directory
 * record whose directory offset and size put the directory right before it
 * (an inner zip stored in a member has its own record, which does not fit).
 * The view's end when there is none (zip64, or a damaged zip).
 */
static size_t zip_end(const uint8_t *p, size_t n, size_t off)
{
    for (size_t i = off; i + 22 <= n;) {
        const uint8_t *q = memmem(p + i, n - i, "PK\x05\x06", 4);
        size_t at;

        if (q == NULL || (size_t)(q - p) + 22 > n)
            break;
        at = (size_t)(q - p);
        if ((uint64_t)off + rd32le(q + 16) + rd32le(q + 12) == at) {
            size_t end = at + 22 + (size_t)(q[20] | q[21] << 8); /* + comment */

            return end < n ? end : n;
        }
        i = at + 1;
    }
    return n;
}

/*
 * An archive (filter == NULL) or a bzip2/xz/lz4 stream read as one raw
 * member, starting at *at. After a zip, the search goes on past its end of
 * central directory, so two zips in one stream are both read; after other
 * archives, it stops.
 */
static avtb_err archive_read(walker *w, frame *f, size_t *at, const char *filter)
{
    size_t off = *at, end = f->v.len, members = 0, failures = 0;
    size_t npw = NBUILTIN + w->l.npasswords;
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    const char *kind = filter != NULL ? filter : "archive";
    gbuf out = {0};
    avtb_err r = AVTB_ERR_NOMEM;
    bool stop = false;
    char eb[NAME_LEN];

    *at = off + 1;
    if (a == NULL)
        goto out;
    if (archive_setup(a, filter) != ARCHIVE_OK) {
        r = AVTB_OK; /* not built in: nothing to do */
        goto out;
    }
    for (size_t i = 0; i < npw; i++) {
        const char *pw = i < NBUILTIN ? builtin_passwords[i] : w->l.passwords[i - NBUILTIN];

        if (pw != NULL && archive_read_add_passphrase(a, pw) == ARCHIVE_FATAL)
            goto out;
    }
    /* libarchive reads a zip from its central directory at the end: hand it
     * this zip only, not one that follows in the same stream. */
    if (filter == NULL && f->v.len - off >= 4 && memcmp(f->v.data + off, "PK\x03\x04", 4) == 0)
        end = zip_end(f->v.data, f->v.len, off);
    if (archive_read_open_memory(a, f->v.data + off, end - off) != ARCHIVE_OK) {
        anomaly(w, f, "%s: unreadable at offset %zu: %s", kind, off,
                safe_name(archive_error_string(a), eb));
        r = AVTB_OK;
        goto out;
    }
    while (!stop && !done(w, f)) {
        int ar = archive_read_next_header(a, &e);

        if (ar == ARCHIVE_EOF)
            break;
        if (filter == NULL && archive_format(a) != 0)
            kind = archive_kind(archive_format(a));
        if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
            if (ar == ARCHIVE_FATAL || ++failures > ARCHIVE_MAX_FAILURES) {
                anomaly(w, f, "%s: unreadable at offset %zu after %zu members: %s", kind, off,
                        members, safe_name(archive_error_string(a), eb));
                break;
            }
            anomaly(w, f, "%s: bad member header: %s", kind,
                    safe_name(archive_error_string(a), eb));
            continue;
        }
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        {
            member_src src = {f->v.data + off, end - off, members};

            members++;
            r = archive_member(w, f, a, e, kind, filter == NULL, npw, filter == NULL ? &src : NULL,
                               &out, &stop);
        }
        if (r != AVTB_OK)
            goto out;
    }
    if (members > 0 && filter == NULL)
        *at = end; /* the view's end but after a zip */
    r = AVTB_OK;
out:
    archive_read_free(a);
    free(out.p);
    return r;
}

static avtb_err archive_row(const decoder *d, walker *w, frame *f, size_t *at)
{
    return archive_read(w, f, at, NULL);
}

static avtb_err filter_row(const decoder *d, walker *w, frame *f, size_t *at)
{
    return archive_read(w, f, at, d->name);
}

/* ---- raw deflate and brotli: no magic --------------------------------------- */

/* A control byte or invalid UTF-8 in the first BINARY_PROBE bytes. */
static bool looks_binary(const uint8_t *p, size_t n)
{
    size_t lim = n < BINARY_PROBE ? n : BINARY_PROBE;

    for (size_t i = 0; i < lim; i++) {
        uint8_t c = p[i];
        size_t k;

        if (c < 0x80) {
            if (ctrl[c])
                return true;
            continue;
        }
        k = c >= 0xc2 && c <= 0xdf   ? 1
            : c >= 0xe0 && c <= 0xef ? 2
            : c >= 0xf0 && c <= 0xf4 ? 3
                                     : 0;
        if (k == 0)
            return true;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= lim)
                return false;
            if ((p[i + j] & 0xc0) != 0x80)
                return true;
        }
        i += k;
    }
    return false;
}

static bool whole_detect(const decoder *d, const frame *f, size_t *at)
{
    return *at == 0;
}

/* Kept only if the stream ends exactly at the end of the view (or is a bomb). */
static avtb_err fallback_row(const decoder *d, walker *w, frame *f, size_t *at)
{
    gbuf out = {.limit = step_cap(w)};
    dres dr = {0};
    avtb_err r;

    *at = f->v.len;
    if (strcmp(d->name, "brotli") == 0) {
        r = brotli_run(f->v.data, f->v.len, &out, &dr);
    } else {
        r = zreset(w, -15);
        if (r == AVTB_OK)
            r = z_run(&w->zs, f->v.data, f->v.len, &out, &dr);
    }
    if (r != AVTB_OK)
        goto out;
    book(w, f, d->name, out.len, dr.st == ST_LIMIT, "decompression bomb");
    if ((dr.st == ST_END && dr.used == f->v.len) || dr.st == ST_LIMIT)
        r = emit(w, f, d->name, out.p, out.len, NULL);
out:
    free(out.p);
    return r;
}

static const decoder decoders[] = {
    {"percent", 0, -1, &tc_percent, text_detect, text_row},
    {"base64", 0, -1, &tc_base64, text_detect, text_row},
    {"base32", 0, -1, &tc_base32u, text_detect, text_row},
    {"base32", 0, -1, &tc_base32l, text_detect, text_row},
    {"hex", 0, -1, &tc_hex, text_detect, text_row},
    {"utf16", 0, -1, &tc_utf16, text_detect, text_row},
    {"gzip", 0, M_GZIP, NULL, magic_detect, stream_row},
    {"zlib", D_QUIET, M_ZLIB, NULL, magic_detect, stream_row},
    {"zstd", 0, M_ZSTD, NULL, magic_detect, stream_row},
    {"bzip2", 0, M_BZIP2, NULL, magic_detect, filter_row},
    {"xz", 0, M_XZ, NULL, magic_detect, filter_row},
    {"lz4", 0, M_LZ4, NULL, magic_detect, filter_row},
    {"archive", 0, -1, NULL, archive_detect, archive_row},
    {"deflate", D_FALLBACK | D_QUIET, -1, NULL, whole_detect, fallback_row},
    {"brotli", D_FALLBACK | D_QUIET, -1, NULL, whole_detect, fallback_row},
};

/* Applies one row to f until it finds no more candidates or fails max_tries times. */
static avtb_err run_row(walker *w, frame *f, const decoder *d)
{
    size_t at = 0;
    unsigned fails = 0;

    while (!done(w, f) && at < f->v.len && d->detect(d, f, &at)) {
        size_t from = at, hits = f->hits;
        avtb_err r = d->decode(d, w, f, &at);

        if (r != AVTB_OK)
            return r;
        if (at <= from)
            at = from + 1;
        if (f->hits == hits && ++fails >= w->l.max_tries) {
            if (!(d->flags & D_QUIET))
                anomaly(w, f, "%s: %u candidates did not decode: rest of the view not tried",
                        d->name, fails);
            break;
        }
    }
    return AVTB_OK;
}

static avtb_err walk_view(walker *w, const uint8_t *p, size_t n, size_t depth, const char *member)
{
    frame f = {.v = {.data = p, .len = n, .path = w->path, .depth = depth, .member = member},
               .min_run = w->l.min_text_run};

    if (!w->s->view(w->ctx, &f.v) || n == 0 || w->exhausted)
        return AVTB_OK;
    regions_first(p, n, w->l.min_text_run, f.first);
    magic_scan(p, n, f.magic_at);
    for (size_t i = 0; i < sizeof(decoders) / sizeof(decoders[0]) && !done(w, &f); i++) {
        const decoder *d = &decoders[i];
        avtb_err r;

        if ((d->flags & D_FALLBACK) && (f.hits > 0 || !looks_binary(p, n)))
            continue;
        r = run_row(w, &f, d);
        if (r != AVTB_OK)
            return r;
    }
    return AVTB_OK;
}

void avtb_transform_limits_default(avtb_transform_limits *l)
{
    *l = (avtb_transform_limits){
        .max_step_output = AVTB_TRANSFORM_MAX_STEP_OUTPUT,
        .max_total_output = AVTB_TRANSFORM_MAX_TOTAL_OUTPUT,
        .max_depth = AVTB_TRANSFORM_MAX_DEPTH,
        .min_text_run = AVTB_TRANSFORM_MIN_TEXT_RUN,
        .max_runs = AVTB_TRANSFORM_MAX_RUNS,
        .max_tries = AVTB_TRANSFORM_MAX_TRIES,
    };
}

/* The caller's limits with zeros replaced by defaults and ceilings applied. */
static void limits_fill(avtb_transform_limits *out, const avtb_transform_limits *in)
{
    avtb_transform_limits_default(out);
    if (in == NULL)
        return;
    if (in->max_step_output > 0)
        out->max_step_output = in->max_step_output;
    if (in->max_total_output > 0)
        out->max_total_output = in->max_total_output;
    if (in->max_depth > 0)
        out->max_depth = in->max_depth;
    if (out->max_depth > AVTB_TRANSFORM_DEPTH_CEILING)
        out->max_depth = AVTB_TRANSFORM_DEPTH_CEILING;
    if (in->min_text_run > 0)
        out->min_text_run = in->min_text_run;
    if (out->min_text_run > AVTB_TRANSFORM_TEXT_RUN_CEILING)
        out->min_text_run = AVTB_TRANSFORM_TEXT_RUN_CEILING;
    if (in->max_runs > 0)
        out->max_runs = in->max_runs;
    if (in->max_tries > 0)
        out->max_tries = in->max_tries;
    if (in->passwords != NULL) {
        out->passwords = in->passwords;
        out->npasswords = in->npasswords;
    }
}

avtb_err avtb_transform_walk(const uint8_t *buf, size_t len, const avtb_transform_limits *l,
                             const avtb_transform_sink *s, void *ctx)
{
    static const uint8_t empty[1];
    walker w = {.s = s, .ctx = ctx};
    avtb_err r;

    if (s == NULL || s->view == NULL || (buf == NULL && len > 0))
        return AVTB_ERR_INTERNAL;
    limits_fill(&w.l, l);
    r = walk_view(&w, buf != NULL ? buf : empty, len, 0, NULL);
    if (w.zs_ready)
        inflateEnd(&w.zs);
    ZSTD_freeDCtx(w.zd);
    return r;
}

/* ---- declared content codings ----------------------------------------------- */

static bool zlib_header(const uint8_t *p, size_t n)
{
    return n >= 2 && (p[0] & 0x0f) == 8 && (p[0] >> 4) <= 7 && (p[0] << 8 | p[1]) % 31 == 0;
}

avtb_err avtb_transform_decompress(const char *coding, const uint8_t *buf, size_t len,
                                   size_t max_out, uint8_t **out, size_t *out_len, bool *bomb)
{
    gbuf g = {.limit = max_out > 0 ? max_out : AVTB_TRANSFORM_MAX_STEP_OUTPUT};
    dres d = {.st = ST_CORRUPT};
    z_stream zs;
    bool zinit = false;
    ZSTD_DCtx *zd = NULL;
    avtb_err r = AVTB_ERR_NOT_FOUND;
    int zr;

    *out = NULL;
    *out_len = 0;
    *bomb = false;
    if (buf == NULL)
        len = 0;
    if (coding == NULL)
        goto out;
    memset(&zs, 0, sizeof(zs));
    if (strcasecmp(coding, "gzip") == 0 || strcasecmp(coding, "x-gzip") == 0 ||
        strcasecmp(coding, "deflate") == 0) {
        bool gz = strcasecmp(coding, "deflate") != 0, zl = !gz && zlib_header(buf, len);
        size_t off = 0;

        zr = inflateInit2(&zs, gz ? 31 : zl ? 15 : -15);
        if (zr != Z_OK) {
            r = zr == Z_MEM_ERROR ? AVTB_ERR_NOMEM : AVTB_ERR_INTERNAL;
            goto out;
        }
        zinit = true;
        for (;;) {
            r = z_run(&zs, buf + off, len - off, &g, &d);
            if (r != AVTB_OK)
                goto out;
            off += d.used;
            if (zl && d.st == ST_CORRUPT && g.len == 0) { /* a raw stream that looked like zlib */
                zl = false;
                off = 0;
                if (inflateReset2(&zs, -15) != Z_OK) {
                    r = AVTB_ERR_INTERNAL;
                    goto out;
                }
                continue;
            }
            /* further gzip members are part of the body; other trailing bytes are not */
            if (!gz || d.st != ST_END || len - off < 10 || buf[off] != 0x1f || buf[off + 1] != 0x8b)
                break;
            if (inflateReset(&zs) != Z_OK) {
                r = AVTB_ERR_INTERNAL;
                goto out;
            }
        }
    } else if (strcasecmp(coding, "br") == 0) {
        r = brotli_run(buf, len, &g, &d);
        if (r != AVTB_OK)
            goto out;
    } else if (strcasecmp(coding, "zstd") == 0) {
        zd = ZSTD_createDCtx();
        r = AVTB_ERR_NOMEM;
        if (zd == NULL)
            goto out;
        r = AVTB_ERR_INTERNAL;
        if (ZSTD_isError(ZSTD_DCtx_setParameter(zd, ZSTD_d_windowLogMax, 27)))
            goto out;
        r = zstd_run(zd, buf, len, true, &g, &d);
        if (r != AVTB_OK)
            goto out;
    } else if (strcasecmp(coding, "identity") == 0) {
        size_t n = len < g.limit ? len : g.limit;

        r = AVTB_ERR_NOMEM;
        if (!gbuf_reserve(&g, n))
            goto out;
        if (n > 0)
            memcpy(g.p, buf, n);
        g.len = n;
        d.st = len > n ? ST_LIMIT : ST_END;
    } else {
        goto out;
    }
    *bomb = d.st == ST_LIMIT;
    r = d.st == ST_END || d.st == ST_LIMIT ? AVTB_OK : AVTB_ERR_INPUT;
    if (g.len > 0) {
        *out = g.p;
        *out_len = g.len;
        g.p = NULL; /* transferred */
    }
out:
    free(g.p);
    if (zinit)
        inflateEnd(&zs);
    ZSTD_freeDCtx(zd);
    return r;
}
