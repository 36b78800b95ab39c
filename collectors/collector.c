/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The table of built-in collectors (collector.h). Adding a collector is
 * adding its file and a row here; the orchestrator starts them in this
 * order and stops them in reverse, so the capture runs before the sink
 * answers anything and stops after it.
 */
#include "collectors/collector.h"

#include <stddef.h>

/* Defined in capture.c, sink.c and dhcp.c; only this table refers to them. */
extern const avtb_collector_ops avtb_capture_ops;
extern const avtb_collector_ops avtb_sink_ops;
extern const avtb_collector_ops avtb_dhcp_ops;

/* DHCP last: the guest gets its lease only once everything it may reach is up. */
const avtb_collector_ops *const avtb_collectors[] = {&avtb_capture_ops, &avtb_sink_ops,
                                                     &avtb_dhcp_ops, NULL};
