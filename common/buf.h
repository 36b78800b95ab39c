/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A growable byte buffer whose appends never fail loudly: the first failure
 * (out of memory, or the buffer's limit) is sticky and checked once, when
 * the text is complete (the shape of curl's dynbuf). The bytes are always
 * NUL-terminated when p is non-NULL, so text builders can use p as a string.
 */
#ifndef AVTB_BUF_H
#define AVTB_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef enum { AVTB_BUF_OK, AVTB_BUF_NOMEM, AVTB_BUF_TOOBIG } avtb_buf_state;

typedef struct avtb_buf {
    uint8_t *p; /* owned; NUL-terminated when non-NULL */
    size_t len, cap;
    size_t limit; /* most bytes it may hold; 0: no limit but memory */
    avtb_buf_state fail;
} avtb_buf;

void avtb_buf_add(avtb_buf *b, const void *p, size_t n);
void avtb_buf_str(avtb_buf *b, const char *s);
void avtb_buf_byte(avtb_buf *b, char c);
void avtb_buf_printf(avtb_buf *b, const char *fmt, ...) AVTB_PRINTF(2, 3);
/* The contents as a string the caller owns ("" when empty), or NULL after a
 * failure; b is empty again either way. */
char *avtb_buf_take(avtb_buf *b);
/* Frees the contents; b is empty again, its limit kept. */
void avtb_buf_free(avtb_buf *b);

#endif
