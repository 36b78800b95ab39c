/* SPDX-License-Identifier: Apache-2.0 */
/* A growable byte buffer for tests that build messages and payloads (Check asserts). */
#ifndef AVTB_TEST_BYTES_H
#define AVTB_TEST_BYTES_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A growable byte buffer, NUL-terminated so text bodies print. */
typedef struct bytes {
    uint8_t *d;
    size_t n, cap;
} bytes;

static inline void put(bytes *b, const void *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;

        while (cap < b->n + n + 1)
            cap *= 2;
        b->d = realloc(b->d, cap);
        ck_assert_ptr_nonnull(b->d);
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->d + b->n, p, n);
    b->n += n;
    b->d[b->n] = 0;
}

static inline void put_str(bytes *b, const char *s)
{
    put(b, s, strlen(s));
}

static inline void bytes_free(bytes *b)
{
    free(b->d);
    memset(b, 0, sizeof(*b));
}

#endif
