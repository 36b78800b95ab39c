/* SPDX-License-Identifier: Apache-2.0 */
/* stderr logging with a level threshold and a monotonic clock; see log.h. */
#include "common/log.h"

#include <stdio.h>
#include <time.h>

static avtb_log_level log_level = AVTB_LOG_INFO;

void avtb_log_set_level(avtb_log_level level)
{
    log_level = level;
}

double avtb_now(void)
{
    static struct timespec t0;
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t0.tv_sec == 0 && t0.tv_nsec == 0)
        t0 = t;
    return (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
}

void avtb_log(avtb_log_level level, const char *fmt, ...)
{
    static const char *const prefix[] = {"debug: ", "", "warning: ", "error: "};
    va_list ap;

    if (level < log_level)
        return;
    fprintf(stderr, "avtb: %s", prefix[level]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
