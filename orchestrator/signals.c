/* SPDX-License-Identifier: Apache-2.0 */
/* Stop-request signals; see signals.h. */
#include "orchestrator/signals.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t pending, received;

static void on_signal(int sig)
{
    pending = sig;
    received++;
}

void avtb_signals_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int avtb_signals_pending(void)
{
    return pending;
}

unsigned avtb_signals_received(void)
{
    return (unsigned)received;
}
