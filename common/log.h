/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Human-facing progress and diagnostics on stderr. Machine-facing output
 * (reports, JSON) never goes through here.
 */
#ifndef AVTB_LOG_H
#define AVTB_LOG_H

#include "common/error.h"

typedef enum { AVTB_LOG_DEBUG, AVTB_LOG_INFO, AVTB_LOG_WARN, AVTB_LOG_ERROR } avtb_log_level;

void avtb_log_set_level(avtb_log_level level);
void avtb_log(avtb_log_level level, const char *fmt, ...) AVTB_PRINTF(2, 3);

#define avtb_debug(...) avtb_log(AVTB_LOG_DEBUG, __VA_ARGS__)
#define avtb_info(...)  avtb_log(AVTB_LOG_INFO, __VA_ARGS__)
#define avtb_warn(...)  avtb_log(AVTB_LOG_WARN, __VA_ARGS__)
#define avtb_errorf(...) avtb_log(AVTB_LOG_ERROR, __VA_ARGS__)

/* Monotonic seconds since the first call; used for phase timings. */
double avtb_now(void);

#endif
