/* SPDX-License-Identifier: Apache-2.0 */
/* Error context helpers; see error.h. */
#include "common/error.h"

#include <stdio.h>
#include <string.h>

avtb_err avtb_error_setv(avtb_error *err, avtb_err code, const char *fmt, va_list ap)
{
    if (err == NULL || err->code != AVTB_OK)
        return code;
    err->code = code;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return code;
}

avtb_err avtb_error_set(avtb_error *err, avtb_err code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    avtb_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

avtb_err avtb_error_errno(avtb_error *err, avtb_err code, int errnum, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    if (err == NULL || err->code != AVTB_OK)
        return code;
    va_start(ap, fmt);
    avtb_error_setv(err, code, fmt, ap);
    va_end(ap);
    n = strlen(err->msg);
    snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
    return code;
}

void avtb_error_clear(avtb_error *err)
{
    if (err == NULL)
        return;
    err->code = AVTB_OK;
    err->msg[0] = '\0';
}

const char *avtb_err_name(avtb_err code)
{
    switch (code) {
    case AVTB_OK: return "ok";
    case AVTB_ERR_NOMEM: return "out of memory";
    case AVTB_ERR_IO: return "i/o error";
    case AVTB_ERR_USAGE: return "usage error";
    case AVTB_ERR_INPUT: return "invalid input";
    case AVTB_ERR_LIBVIRT: return "libvirt error";
    case AVTB_ERR_GUESTFS: return "libguestfs error";
    case AVTB_ERR_CHILD: return "helper process failed";
    case AVTB_ERR_TIMEOUT: return "timed out";
    case AVTB_ERR_INTERRUPTED: return "interrupted";
    case AVTB_ERR_NOT_FOUND: return "not found";
    case AVTB_ERR_INTERNAL: return "internal error";
    }
    return "unknown error";
}

int avtb_err_exit_code(avtb_err code)
{
    switch (code) {
    case AVTB_OK: return AVTB_EXIT_OK;
    case AVTB_ERR_USAGE:
    case AVTB_ERR_INPUT:
    case AVTB_ERR_NOT_FOUND: return AVTB_EXIT_USAGE;
    default: return AVTB_EXIT_INFRA;
    }
}
