/* SPDX-License-Identifier: Apache-2.0 */
/* Opening a guest disk with libguestfs; see guestfs.h. */
#include "collectors/guestfs.h"

#include <guestfs.h>
#include <stdlib.h>

avtb_err avtb_guestfs_error(guestfs_h *g, avtb_error *err, const char *what, const char *obj)
{
    const char *msg = g != NULL ? guestfs_last_error(g) : NULL;

    return avtb_error_set(err, AVTB_ERR_GUESTFS, "libguestfs: %s %s: %s", what, obj ? obj : "",
                          msg ? msg : "unknown error");
}

avtb_err avtb_guestfs_open(const char *disk, bool readonly, bool tcg, guestfs_h **out,
                           avtb_error *err)
{
    avtb_err r = AVTB_ERR_GUESTFS;
    guestfs_h *g;

    *out = NULL;
    g = guestfs_create_flags(GUESTFS_CREATE_NO_ENVIRONMENT);
    if (g == NULL)
        return avtb_error_set(err, AVTB_ERR_GUESTFS, "cannot create a libguestfs handle for %s",
                              disk);
    guestfs_set_error_handler(g, NULL, NULL);
    /* The environment wins, so a lab can choose another backend. */
    if (guestfs_parse_environment(g) < 0) {
        r = avtb_guestfs_error(g, err, "bad LIBGUESTFS_* environment", NULL);
        goto out;
    }
    if (getenv("LIBGUESTFS_BACKEND") == NULL && guestfs_set_backend(g, "direct") < 0) {
        r = avtb_guestfs_error(g, err, "cannot select the direct backend", NULL);
        goto out;
    }
    /* Without a working KVM the appliance picks KVM anyway and hangs. The value
     * must be a boolean word: "" makes launch fail with no error message. */
    if (tcg && getenv("LIBGUESTFS_BACKEND_SETTINGS") == NULL &&
        guestfs_set_backend_setting(g, "force_tcg", "1") < 0) {
        r = avtb_guestfs_error(g, err, "cannot force TCG", NULL);
        goto out;
    }
    if (guestfs_add_drive_opts(g, disk, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "qcow2",
                               GUESTFS_ADD_DRIVE_OPTS_READONLY, readonly ? 1 : 0, -1) < 0) {
        r = avtb_guestfs_error(g, err, "cannot add drive", disk);
        goto out;
    }
    if (guestfs_launch(g) < 0) {
        r = avtb_guestfs_error(g, err, "cannot launch the appliance for", disk);
        goto out;
    }
    *out = g;
    g = NULL; /* transferred */
    r = AVTB_OK;
out:
    if (g != NULL)
        guestfs_close(g);
    return r;
}
