/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the form-body module (multipart.c): the multipart
 * splitter, the parameter parser, the urlencoded splitter and the percent,
 * base64 and quoted-printable decoders. Input layout: one byte n, then n
 * bytes of boundary (n is taken modulo 80, so boundaries up to 79 bytes),
 * then the body. The body is copied into an exact-size allocation so ASan
 * sees any read past it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_anomaly(void *ctx, const char *what)
{
    (void)ctx;
    if (strlen(what) > 255)
        __builtin_trap();
}

static void touch(const uint8_t *p, size_t n)
{
    volatile uint8_t acc = 0;

    for (size_t i = 0; i < n; i++)
        acc ^= p[i];
    (void)acc;
}

static void decoders(const uint8_t *p, size_t n)
{
    uint8_t *out = malloc(n ? n : 1);
    size_t o;
    bool bad;

    if (out == NULL)
        return;
    o = avtb_multipart_base64_decode(p, n, out, &bad);
    if (o > n)
        __builtin_trap();
    touch(out, o);
    o = avtb_multipart_qp_decode(p, n, out, &bad);
    if (o > n)
        __builtin_trap();
    touch(out, o);
    o = avtb_form_percent_decode(p, n, avtb_form_is_encoded(p, n, true), out);
    if (o > n)
        __builtin_trap();
    touch(out, o);
    free(out);
}

static void split_parts(const char *boundary, const uint8_t *body, size_t len, unsigned flags,
                        const avtb_multipart_limits *lim)
{
    avtb_multipart *mp = avtb_multipart_new(boundary, lim, flags, on_anomaly, NULL);
    avtb_multipart_part p;
    size_t at = 0, used, parts = 0;

    if (mp == NULL)
        return;
    while (avtb_multipart_next(mp, body + at, len - at, &used, &p) == AVTB_PARSE_OK) {
        if (used > len - at || p.data < body + at || p.len > len - (size_t)(p.data - body))
            __builtin_trap();
        touch(p.data, p.len);
        if (p.name != NULL)
            (void)strlen(p.name);
        if (p.filename != NULL)
            (void)strlen(p.filename);
        if (p.content_type != NULL)
            (void)strlen(p.content_type);
        if (p.transfer_encoding != NULL)
            (void)strlen(p.transfer_encoding);
        decoders(p.data, p.len);
        at += used;
        /* A part must make progress, or the caller's loop would never end. */
        if (++parts > len + 1)
            __builtin_trap();
    }
    avtb_multipart_free(mp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char boundary[80], param[64];
    avtb_multipart_limits lim;
    avtb_form_field f;
    size_t blen, len, at = 0, used;
    uint8_t *body;

    if (size < 1)
        return 0;
    blen = data[0] % 80;
    if (blen > size - 1)
        blen = size - 1;
    memcpy(boundary, data + 1, blen);
    boundary[blen] = '\0'; /* a NUL inside just makes it shorter */
    len = size - 1 - blen;
    body = malloc(len ? len : 1);
    if (body == NULL)
        return 0;
    memcpy(body, data + 1 + blen, len);

    avtb_multipart_limits_default(&lim);
    split_parts(boundary, body, len, 0, &lim);
    lim.max_parts = 3;
    lim.max_line = 70;
    lim.max_headers = 2;
    split_parts(boundary, body, len, AVTB_MULTIPART_PIECE, &lim);

    while (avtb_form_next(body + at, len - at, &used, &f) == AVTB_PARSE_OK) {
        if (used == 0 || used > len - at)
            __builtin_trap();
        touch(f.name, f.name_len);
        if (f.value != NULL)
            touch(f.value, f.value_len);
        at += used;
    }
    /* The body as a header value, e.g. a Content-Type. */
    if (avtb_multipart_param((const char *)body, len, "boundary", param, sizeof(param)) &&
        strlen(param) >= sizeof(param))
        __builtin_trap();
    (void)avtb_multipart_param((const char *)body, len, "filename*", param, 1);
    decoders(body, len);
    free(body);
    return 0;
}
