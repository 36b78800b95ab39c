/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Planting: one libguestfs launch writes the product, the trigger scripts,
 * the run's interception CA (into the guest's trust store) and the honey
 * documents into the run's overlay, then records the "before"
 * snapshot of every planted document (stat and SHA-256 as the guest
 * filesystem holds them) in planted.json. The root filesystem may be a
 * POSIX one (ext4, ...) or NTFS (Windows guests, through ntfs-3g); see
 * orchestrator/PLANTING.md for what differs and why.
 */
#ifndef AVTB_PLANT_H
#define AVTB_PLANT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "guests/honeydoc.h"
#include "scenarios/scenario.h"

struct guestfs_h;

typedef struct avtb_plant_req {
    const char *overlay;     /* qcow2 to write into */
    const char *root_device; /* as libguestfs names it, e.g. /dev/sda */
    bool tcg;                /* no working KVM: force the appliance to TCG */
    /* Product, trigger scripts; NULL plants documents only (tests, benchmarks).
     * A scenario whose product is NULL is a control run: no product files,
     * trigger scripts that do nothing. */
    const avtb_scenario *scenario;
    /*
     * Guest paths are POSIX paths; on NTFS "/Users/jane/x.docx" lands in
     * the existing "/Users/Jane" whatever the case, and "C:\Users\..." is
     * accepted. uid/gid/mode apply on POSIX filesystems only; mtime/atime
     * everywhere. Directories are created as needed, owned by the
     * document's uid/gid inside /home/<user> or /Users/<user>, by root
     * elsewhere.
     */
    avtb_honeydoc *const *docs;
    size_t ndocs;
    const char *evidence_dir; /* planted.json goes here */
    const char *ca_pem;       /* the run's interception CA, for the guest's trust store; or NULL */
} avtb_plant_req;

avtb_err avtb_plant(const avtb_plant_req *req, avtb_error *err) AVTB_WUR;

/*
 * avtb_plant on a handle the caller launched with req->root_device on it
 * (tests plant into several disks in one launch): mounts the root at /,
 * plants, unmounts everything and writes planted.json. Does not shut g
 * down or close it; req->overlay and req->tcg are not used.
 */
avtb_err avtb_plant_on(struct guestfs_h *g, const avtb_plant_req *req, avtb_error *err) AVTB_WUR;

/*
 * Plants n runs (at most AVTB_GUESTFS_MAX_DRIVES) in one appliance launch,
 * each request's overlay on its own drive (root_device is mapped to that
 * drive; every request's tcg must agree). results[i] and errs[i] say how run
 * i went: a run that fails does not stop the others; a launch or shutdown
 * failure fails them all. Each planted.json records the batch size and its
 * share of the launch. Returns the launch/shutdown result.
 */
avtb_err avtb_plant_batch(const avtb_plant_req *reqs, size_t n, avtb_err *results,
                          avtb_error *errs);

/*
 * Where a document's guest path lives on the root filesystem: NTFS
 * ("windows") takes "C:\Users\x" and "C:/Users/x" as "/Users/x" and "\"
 * as a separator; a POSIX filesystem takes the path as it is. The result
 * must pass avtb_guest_path_problem and name a file. Caller frees *out.
 * AVTB_ERR_INPUT (with the reason) otherwise. Exposed for tests.
 */
avtb_err avtb_plant_disk_path(const char *guest_path, bool windows, char **out,
                              avtb_error *err) AVTB_WUR;

/*
 * True when dir is a home folder or inside one (/home/<user>/..., or
 * /Users/<user>/... as Windows and macOS name them): directories avtb creates
 * there belong to the document's owner, elsewhere to root. Exposed for tests.
 */
bool avtb_plant_in_home(const char *dir);

/*
 * The shell script the agent runs for trigger i (1-based); exposed for
 * tests. Caller frees.
 */
char *avtb_plant_trigger_script(const avtb_scenario *s, size_t i);

/* Name of the agent command for trigger i ("trigger-1"). */
void avtb_plant_trigger_name(size_t i, char buf[32]);

#endif
