/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One way to open a guest disk with libguestfs, shared by planting
 * (orchestrator/plant.c, read-write, before the run) and forensics
 * (collectors/forensics.c, read-only, after it): the handle's settings,
 * the backend, TCG when the host has no working KVM, the drive and the
 * launch (13-25 s under TCG here).
 */
#ifndef AVTB_GUESTFS_H
#define AVTB_GUESTFS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

struct guestfs_h;

/*
 * Creates a handle (no error handler: errors are read from the handle),
 * takes LIBGUESTFS_* from the environment, uses the "direct" backend unless
 * LIBGUESTFS_BACKEND names another, forces TCG when tcg is set and
 * LIBGUESTFS_BACKEND_SETTINGS is not, adds disk (qcow2; readonly: libguestfs
 * writes to a throw-away overlay, the disk is never changed) and launches
 * the appliance. *out is launched and owned by the caller, who shuts it
 * down (guestfs_shutdown, so write errors surface) and closes it. On
 * failure *out is NULL and err names the disk.
 */
avtb_err avtb_guestfs_open(const char *disk, bool readonly, bool tcg, struct guestfs_h **out,
                           avtb_error *err) AVTB_WUR;

/*
 * Same with several disks on one appliance (a batch of runs shares one
 * launch: planting before boot, forensics after; at most
 * AVTB_GUESTFS_MAX_DRIVES). Disk i is the appliance's i-th drive; its
 * devices are named by avtb_guestfs_drive_device.
 */
#define AVTB_GUESTFS_MAX_DRIVES 26
avtb_err avtb_guestfs_open_many(const char *const *disks, size_t n, bool readonly, bool tcg,
                                struct guestfs_h **out, avtb_error *err) AVTB_WUR;

/*
 * The name of root_device (as it is on a one-disk appliance: "/dev/sda",
 * "/dev/sda2") on drive i of a several-disk one ("/dev/sdb", "/dev/sdb2").
 * AVTB_ERR_INPUT when root_device is not a /dev/sdX name or i is too large.
 */
avtb_err avtb_guestfs_drive_device(const char *root_device, size_t i, char out[32],
                                   avtb_error *err) AVTB_WUR;

/* Sets err to "libguestfs: WHAT OBJ: <the handle's last error>" and returns AVTB_ERR_GUESTFS. */
avtb_err avtb_guestfs_error(struct guestfs_h *g, avtb_error *err, const char *what,
                            const char *obj);

#endif
