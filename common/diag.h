/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diagnostics about user-supplied files (scenarios, products): a list of
 * "file:line:col: message" records. Loaders collect every problem they can
 * find in one pass so a user fixes a file in one go, not one error per try.
 */
#ifndef AVTB_DIAG_H
#define AVTB_DIAG_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

typedef struct avtb_diag {
    char *file;    /* owned */
    unsigned line; /* 1-based; 0 when the problem concerns the whole file */
    unsigned col;  /* 1-based; 0 when unknown */
    char *msg;     /* owned */
} avtb_diag;

typedef struct avtb_diags avtb_diags;

avtb_diags *avtb_diags_new(void);
void avtb_diags_free(avtb_diags *d);
/* Appends one record. Past a cap (64) records are counted, not kept. */
void avtb_diags_add(avtb_diags *d, const char *file, unsigned line, unsigned col,
                    const char *fmt, ...) AVTB_PRINTF(5, 6);
void avtb_diags_addv(avtb_diags *d, const char *file, unsigned line, unsigned col,
                     const char *fmt, va_list ap) AVTB_PRINTF(5, 0);
size_t avtb_diags_count(const avtb_diags *d);
/* Borrowed pointer, valid until the next add or free; NULL past the end. */
const avtb_diag *avtb_diags_get(const avtb_diags *d, size_t i);
/* Prints "file:line:col: error: msg" lines, then a count line if truncated. */
void avtb_diags_print(const avtb_diags *d, FILE *fp);

#endif
