/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the decoder chain (collectors/transform.c). The
 * input is walked with small limits so one run stays fast; every byte of
 * every view is read, so ASan sees a view that points outside its buffer;
 * the walk's promises are checked (depth, path, non-empty views, total
 * output). The same bytes then go through the declared-coding decompressor,
 * the coding picked by the first byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/transform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STEP  ((size_t)1 << 20)
#define TOTAL ((size_t)4 << 20)
#define DEPTH 4u

typedef struct state {
    size_t views, bytes;
    unsigned sum;
} state;

static bool on_view(void *ctx, const avtb_view *v)
{
    state *s = ctx;
    unsigned x = 0;

    if (v->depth > DEPTH || (v->depth > 0 && v->len == 0) || v->path == NULL)
        __builtin_trap();
    for (size_t i = 0; i < v->depth; i++)
        if (v->path[i] == NULL || v->path[i][0] == '\0')
            __builtin_trap();
    if (v->member != NULL)
        x += (unsigned)strlen(v->member);
    for (size_t i = 0; i < v->len; i++)
        x += v->data[i];
    s->sum += x;
    if (v->depth > 0) {
        s->views++;
        s->bytes += v->len;
        if (s->bytes > TOTAL) /* every view's bytes count against the walk's limit */
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
    static const char *const codings[] = {"gzip", "deflate", "br", "zstd", "x-gzip", "identity"};
    static const char *const pw[] = {"fuzz"};
    const avtb_transform_sink sink = {.view = on_view, .anomaly = on_anomaly};
    avtb_transform_limits l;
    state s = {0};
    uint8_t *out = NULL;
    size_t out_len = 0;
    bool bomb = false;

    avtb_transform_limits_default(&l);
    l.max_step_output = STEP;
    l.max_total_output = TOTAL;
    l.max_depth = DEPTH;
    l.max_runs = 16;
    l.passwords = pw;
    l.npasswords = 1;
    if (avtb_transform_walk(data, size, &l, &sink, &s) != AVTB_OK)
        __builtin_trap();

    if (size < 1)
        return 0;
    (void)avtb_transform_decompress(codings[data[0] % 6], data + 1, size - 1, STEP, &out, &out_len,
                                    &bomb);
    if (out_len > STEP || (out_len > 0 && out == NULL) || (bomb && out_len != STEP))
        __builtin_trap();
    for (size_t i = 0; i < out_len; i++)
        s.sum += out[i];
    free(out);
    return (int)(s.sum & 0);
}
