/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SIGINT/SIGTERM handling for runs: the handler only records the signal; the
 * run loop notices it, stops the guest and tears everything down itself.
 */
#ifndef AVTB_SIGNALS_H
#define AVTB_SIGNALS_H

#include <stdbool.h>

/* Installs the handlers (without SA_RESTART, so blocking calls wake up). */
void avtb_signals_install(void);
/* The signal that asked us to stop, or 0. */
int avtb_signals_pending(void);
/* How many stop signals arrived so far: a new one during a phase shows as a change. */
unsigned avtb_signals_received(void);

#endif
