/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fault injection points for the fault suite (tests/faults/, label faults).
 * $AVTB_FAULTS is a comma-separated list of point names; a point named there
 * fires. Points are for faults that cannot be caused from outside avtb at a
 * precise moment (a parser crashing inside the analysis process, say); what
 * can be caused from outside (signals, killing libvirtd or the sink, a full
 * disk, a hostile guest) is caused from outside. The list of points is in
 * tests/faults/README.md. Unset, every point costs one getenv().
 */
#ifndef AVTB_FAULTS_H
#define AVTB_FAULTS_H

#include <stdbool.h>

/* True when $AVTB_FAULTS names `point` (whole names only). */
bool avtb_fault(const char *point);

#endif
