/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the archive readers of the decoder chain
 * (collectors/transform.c through libarchive): zip (stored, deflated,
 * ZipCrypto with the vendors' passwords, two zips in a row, cut short), 7z,
 * tar, cpio, ar, and archives inside compressed streams. fuzz_transform
 * reaches them too, but spends most of its time on the text decoders; here
 * text runs are switched off (min_text_run at its ceiling) so every
 * execution goes to the archive and stream rows, and the seeds
 * (tests/fuzz/corpus/archive/, made with zip, 7z, tar, cpio, ar and gzip)
 * start the fuzzer inside each format. Archive members must be named.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/transform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STEP  ((size_t)1 << 20)
#define TOTAL ((size_t)4 << 20)
#define DEPTH 3u

typedef struct state {
    size_t bytes;
    unsigned sum;
} state;

static bool is_archive(const char *step)
{
    static const char *const kinds[] = {"zip", "7z",  "tar", "cpio", "rar",
                                        "ar",  "cab", "xar", "lha",  "iso9660"};

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(step, kinds[i]) == 0)
            return true;
    return false;
}

static bool on_view(void *ctx, const avtb_view *v)
{
    state *s = ctx;

    if (v->depth > DEPTH || (v->depth > 0 && (v->len == 0 || v->data == NULL)) || v->path == NULL)
        __builtin_trap();
    for (size_t i = 0; i < v->depth; i++)
        if (v->path[i] == NULL || v->path[i][0] == '\0')
            __builtin_trap();
    /* The innermost archive step names its member. */
    if (v->depth > 0 && is_archive(v->path[v->depth - 1]) && v->member == NULL)
        __builtin_trap();
    if (v->member != NULL)
        s->sum += (unsigned)strlen(v->member);
    for (size_t i = 0; i < v->len; i++)
        s->sum += v->data[i];
    if (v->depth > 0) {
        s->bytes += v->len;
        if (s->bytes > TOTAL)
            __builtin_trap();
    }
    return true;
}

static void on_anomaly(void *ctx, const avtb_view *where, const char *what)
{
    state *s = ctx;

    if (where == NULL || what == NULL || what[0] == '\0')
        __builtin_trap();
    s->sum += (unsigned)strlen(what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const pw[] = {"fuzz"};
    const avtb_transform_sink sink = {.view = on_view, .anomaly = on_anomaly};
    avtb_transform_limits l;
    state s = {0};

    avtb_transform_limits_default(&l);
    l.max_step_output = STEP;
    l.max_total_output = TOTAL;
    l.max_depth = DEPTH;
    l.min_text_run = AVTB_TRANSFORM_TEXT_RUN_CEILING;
    l.max_tries = 8;
    l.passwords = pw;
    l.npasswords = 1;
    if (avtb_transform_walk(data, size, &l, &sink, &s) != AVTB_OK)
        __builtin_trap();
    return (int)(s.sum & 0);
}
