/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One run: one scenario, one product, one guest, one verdict. Drives the
 * pipeline of DESIGN.md (image, overlay, plant, network and collectors,
 * domain and agent timeline, stop, analysis, report) and tears everything
 * down on every path; evidence gathered so far is always kept.
 */
#ifndef AVTB_RUN_H
#define AVTB_RUN_H

#include "collectors/cloud.h"
#include "common/error.h"
#include "scenarios/scenario.h"

#define AVTB_RUN_MAX_CONNECT_TO 16

typedef struct avtb_run_opts {
    const char *out_dir;     /* parent of evidence directories */
    const char *connect_uri; /* NULL: $AVTB_CONNECT or qemu:///system */
    /* The fake cloud: the scenario's answers (SINKHOLE), the real upstream
     * recorded (RECORD), or a recording replayed (REPLAY, from replay). */
    avtb_cloud_mode cloud_mode;
    avtb_cloud_recording *replay;
    const char *replay_from; /* where the recording came from, for the report */
    avtb_connect_to connect_to[AVTB_RUN_MAX_CONNECT_TO];
    size_t nconnect_to;
} avtb_run_opts;

/*
 * Runs s and returns the CLI exit code: 0 expectations hold, 1 one failed,
 * 3 the run is incomplete (evidence kept and marked). Prints the evidence
 * directory and a summary on stdout.
 */
int avtb_run(const avtb_run_opts *opts, const avtb_scenario *s);

#endif
