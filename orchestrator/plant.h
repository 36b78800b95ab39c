/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Planting: one libguestfs launch writes the product, the trigger scripts,
 * the run's interception CA (into the guest's trust store) and the honey
 * documents into the run's overlay, then records the "before"
 * snapshot of every planted document (stat and SHA-256 as the guest
 * filesystem holds them) in planted.json.
 */
#ifndef AVTB_PLANT_H
#define AVTB_PLANT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "guests/honeydoc.h"
#include "scenarios/scenario.h"

typedef struct avtb_plant_req {
    const char *overlay;     /* qcow2 to write into */
    const char *root_device; /* as libguestfs names it, e.g. /dev/sda */
    bool tcg;                /* no working KVM: force the appliance to TCG */
    const avtb_scenario *scenario;
    avtb_honeydoc *const *docs;
    size_t ndocs;
    const char *evidence_dir; /* planted.json goes here */
    const char *ca_pem;       /* the run's interception CA, for the guest's trust store; or NULL */
} avtb_plant_req;

avtb_err avtb_plant(const avtb_plant_req *req, avtb_error *err) AVTB_WUR;

/*
 * The shell script the agent runs for trigger i (1-based); exposed for
 * tests. Caller frees.
 */
char *avtb_plant_trigger_script(const avtb_scenario *s, size_t i);

/* Name of the agent command for trigger i ("trigger-1"). */
void avtb_plant_trigger_name(size_t i, char buf[32]);

#endif
