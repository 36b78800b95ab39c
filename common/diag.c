/* SPDX-License-Identifier: Apache-2.0 */
/* Diagnostic list for user files; see diag.h. */
#include "common/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define DIAGS_KEEP 64

struct avtb_diags {
    avtb_diag items[DIAGS_KEEP];
    size_t kept;
    size_t dropped;
};

avtb_diags *avtb_diags_new(void)
{
    return calloc(1, sizeof(avtb_diags));
}

void avtb_diags_free(avtb_diags *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->kept; i++) {
        free(d->items[i].file);
        free(d->items[i].msg);
    }
    free(d);
}

void avtb_diags_addv(avtb_diags *d, const char *file, unsigned line, unsigned col,
                     const char *fmt, va_list ap)
{
    avtb_diag *it;
    char *msg = NULL;

    if (d == NULL)
        return;
    if (d->kept == DIAGS_KEEP) {
        d->dropped++;
        return;
    }
    if (vasprintf(&msg, fmt, ap) < 0) {
        d->dropped++;
        return;
    }
    it = &d->items[d->kept];
    it->file = strdup(file ? file : "<input>");
    if (it->file == NULL) {
        free(msg);
        d->dropped++;
        return;
    }
    it->line = line;
    it->col = col;
    it->msg = msg;
    d->kept++;
}

void avtb_diags_add(avtb_diags *d, const char *file, unsigned line, unsigned col,
                    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    avtb_diags_addv(d, file, line, col, fmt, ap);
    va_end(ap);
}

size_t avtb_diags_count(const avtb_diags *d)
{
    return d ? d->kept + d->dropped : 0;
}

const avtb_diag *avtb_diags_get(const avtb_diags *d, size_t i)
{
    if (d == NULL || i >= d->kept)
        return NULL;
    return &d->items[i];
}

void avtb_diags_print(const avtb_diags *d, FILE *fp)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->kept; i++) {
        const avtb_diag *it = &d->items[i];

        if (it->line > 0)
            fprintf(fp, "%s:%u:%u: error: %s\n", it->file, it->line, it->col, it->msg);
        else
            fprintf(fp, "%s: error: %s\n", it->file, it->msg);
    }
    if (d->dropped > 0)
        fprintf(fp, "... and %zu more errors\n", d->dropped);
}
