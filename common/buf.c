/* SPDX-License-Identifier: Apache-2.0 */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void avtb_buf_add(avtb_buf *b, const void *p, size_t n)
{
    size_t limit = b->limit ? b->limit : SIZE_MAX - 1;

    if (b->fail != AVTB_BUF_OK || n == 0)
        return;
    if (b->len > limit || n > limit - b->len) {
        b->fail = AVTB_BUF_TOOBIG;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        uint8_t *q;

        while (cap < b->len + n + 1)
            cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
        q = realloc(b->p, cap);
        if (q == NULL) {
            b->fail = AVTB_BUF_NOMEM;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void avtb_buf_str(avtb_buf *b, const char *s)
{
    avtb_buf_add(b, s, strlen(s));
}

void avtb_buf_byte(avtb_buf *b, char c)
{
    avtb_buf_add(b, &c, 1);
}

void avtb_buf_printf(avtb_buf *b, const char *fmt, ...)
{
    char small[256], *big;
    va_list ap;
    int n;

    if (b->fail != AVTB_BUF_OK)
        return;
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->fail = AVTB_BUF_NOMEM;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        avtb_buf_add(b, small, (size_t)n);
        return;
    }
    big = malloc((size_t)n + 1);
    if (big == NULL) {
        b->fail = AVTB_BUF_NOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    avtb_buf_add(b, big, (size_t)n);
    free(big);
}

char *avtb_buf_take(avtb_buf *b)
{
    char *s = b->fail == AVTB_BUF_OK ? (char *)b->p : NULL;
    size_t limit = b->limit;

    if (b->fail != AVTB_BUF_OK)
        free(b->p);
    else if (s == NULL)
        s = strdup("");
    memset(b, 0, sizeof(*b));
    b->limit = limit;
    return s;
}

void avtb_buf_free(avtb_buf *b)
{
    size_t limit = b->limit;

    free(b->p);
    memset(b, 0, sizeof(*b));
    b->limit = limit;
}
