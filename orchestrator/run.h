/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One run: one scenario, one product, one guest, one verdict. Drives the
 * pipeline of DESIGN.md (image, overlay, plant, network and collectors,
 * domain and agent timeline, stop, analysis, report) and tears everything
 * down on every path; evidence gathered so far is always kept.
 */
#ifndef AVTB_RUN_H
#define AVTB_RUN_H

#include <stddef.h>

#include "collectors/cloud.h"
#include "collectors/forensics.h"
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
    /*
     * When set, the run's forensics are done by this instead of a launch of
     * its own (avtb matrix: one appliance for several runs). It must write
     * forensics.json into req->evidence_dir as avtb_forensics_run does.
     */
    avtb_err (*forensics_hook)(void *ctx, const avtb_forensics_req *req,
                               avtb_forensics_summary *sum, avtb_error *err);
    void *forensics_ctx;
} avtb_run_opts;

/*
 * Runs s and returns the CLI exit code: 0 expectations hold, 1 one failed,
 * 3 the run is incomplete (evidence kept and marked). Prints the evidence
 * directory and a summary on stdout.
 */
int avtb_run(const avtb_run_opts *opts, const avtb_scenario *s);

/*
 * avtb_run in three steps, so that several runs can share a planting
 * appliance (avtb matrix):
 *   avtb_run_start   evidence and work directories, documents, image,
 *                    interception CA, overlay; NULL only when not even the
 *                    evidence directory could be made (the error is printed);
 *   avtb_run_plant   plants runs that got that far, up to
 *                    AVTB_RUN_PLANT_BATCH of them in one libguestfs launch;
 *   avtb_run_finish  network, boot, dwell, stop, forensics, teardown,
 *                    analysis and report whatever happened before (plants
 *                    alone if avtb_run_plant was not called); frees the run
 *                    and returns avtb_run's exit code.
 * avtb_run_release frees a run without touching its directories or overlay
 * (the matrix's parent, after a child process took the run over).
 */
#define AVTB_RUN_PLANT_BATCH 16
typedef struct avtb_run_state avtb_run_state;
avtb_run_state *avtb_run_start(const avtb_run_opts *opts, const avtb_scenario *s);
void avtb_run_plant(avtb_run_state **runs, size_t n);
int avtb_run_finish(avtb_run_state *r);
void avtb_run_release(avtb_run_state *r);
const char *avtb_run_id(const avtb_run_state *r);
const char *avtb_run_evidence_dir(const avtb_run_state *r);
/* The run's work directory (its overlay, sockets): removed by avtb_run_finish. */
const char *avtb_run_workdir(const avtb_run_state *r);

#endif
