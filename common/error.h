/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one avtb error enum and an error context that carries the message
 * (curl's CURLcode + error buffer). Every layer returns an avtb_err and, on
 * failure, leaves a message that names the file/line or host/object and says
 * what to do.
 */
#ifndef AVTB_ERROR_H
#define AVTB_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#define AVTB_WUR    __attribute__((warn_unused_result))
#define AVTB_PRINTF(a, b) __attribute__((format(printf, a, b)))

typedef enum {
    AVTB_OK = 0,
    AVTB_ERR_NOMEM,       /* allocation failed */
    AVTB_ERR_IO,          /* a host file or socket operation failed */
    AVTB_ERR_USAGE,       /* bad command line */
    AVTB_ERR_INPUT,       /* bad scenario, product or other user file */
    AVTB_ERR_LIBVIRT,     /* libvirt refused or failed */
    AVTB_ERR_GUESTFS,     /* libguestfs failed */
    AVTB_ERR_CHILD,       /* a helper process failed */
    AVTB_ERR_TIMEOUT,     /* a bounded wait ran out */
    AVTB_ERR_INTERRUPTED, /* SIGINT/SIGTERM asked us to stop */
    AVTB_ERR_NOT_FOUND,   /* a named object does not exist */
    AVTB_ERR_INTERNAL,    /* a bug in avtb */
} avtb_err;

/* Process exit codes: the CLI contract in DESIGN.md. */
enum {
    AVTB_EXIT_OK = 0,      /* every expectation holds */
    AVTB_EXIT_FAILED = 1,  /* an expectation failed */
    AVTB_EXIT_USAGE = 2,   /* usage or scenario error */
    AVTB_EXIT_INFRA = 3,   /* infrastructure failure, run incomplete */
};

#define AVTB_ERRMSG_MAX 2048

/* Caller-owned error context; zero-initialise it. */
typedef struct avtb_error {
    avtb_err code;
    char msg[AVTB_ERRMSG_MAX];
} avtb_error;

/*
 * Record an error and return its code, so callers write
 * `return avtb_error_set(err, AVTB_ERR_IO, "...")`. err may be NULL.
 * The first error wins: a later set does not overwrite the cause.
 */
avtb_err avtb_error_set(avtb_error *err, avtb_err code, const char *fmt, ...) AVTB_PRINTF(3, 4);
avtb_err avtb_error_setv(avtb_error *err, avtb_err code, const char *fmt, va_list ap)
    AVTB_PRINTF(3, 0);
/* Like avtb_error_set, appending ": strerror(errnum)". */
avtb_err avtb_error_errno(avtb_error *err, avtb_err code, int errnum, const char *fmt, ...)
    AVTB_PRINTF(4, 5);
void avtb_error_clear(avtb_error *err);
const char *avtb_err_name(avtb_err code);
/* Map an error to the CLI exit code. */
int avtb_err_exit_code(avtb_err code);

#endif
