/* SPDX-License-Identifier: Apache-2.0 */
/* Opening a guest disk with libguestfs; see guestfs.h. */
#include "collectors/guestfs.h"

#include <guestfs.h>
#include <stdlib.h>
#include <string.h>

avtb_err avtb_guestfs_error(guestfs_h *g, avtb_error *err, const char *what, const char *obj)
{
    const char *msg = g != NULL ? guestfs_last_error(g) : NULL;

    return avtb_error_set(err, AVTB_ERR_GUESTFS, "libguestfs: %s %s: %s", what, obj ? obj : "",
                          msg ? msg : "unknown error");
}

avtb_err avtb_guestfs_drive_device(const char *root_device, size_t i, char out[32], avtb_error *err)
{
    size_t len = root_device ? strlen(root_device) : 0;

    if (len < 8 || len >= 32 || strncmp(root_device, "/dev/sd", 7) != 0 || root_device[7] != 'a' ||
        i >= AVTB_GUESTFS_MAX_DRIVES)
        return avtb_error_set(err, AVTB_ERR_INPUT,
                              "cannot share an appliance: the guest root '%s' is not on the "
                              "first /dev/sdX disk, or drive %zu is beyond /dev/sdz",
                              root_device ? root_device : "(none)", i);
    memcpy(out, root_device, len + 1);
    out[7] = (char)('a' + i);
    return AVTB_OK;
}

avtb_err avtb_guestfs_open(const char *disk, bool readonly, bool tcg, guestfs_h **out,
                           avtb_error *err)
{
    return avtb_guestfs_open_many(&disk, 1, readonly, tcg, out, err);
}

avtb_err avtb_guestfs_open_many(const char *const *disks, size_t n, bool readonly, bool tcg,
                                guestfs_h **out, avtb_error *err)
{
    avtb_err r = AVTB_ERR_GUESTFS;
    const char *disk = n > 0 ? disks[0] : "(no disk)";
    guestfs_h *g;

    *out = NULL;
    if (n == 0 || n > AVTB_GUESTFS_MAX_DRIVES)
        return avtb_error_set(err, AVTB_ERR_INPUT,
                              "libguestfs: %zu disks on one appliance (1 to %d)", n,
                              AVTB_GUESTFS_MAX_DRIVES);
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
    for (size_t i = 0; i < n; i++) {
        if (guestfs_add_drive_opts(g, disks[i], GUESTFS_ADD_DRIVE_OPTS_FORMAT, "qcow2",
                                   GUESTFS_ADD_DRIVE_OPTS_READONLY, readonly ? 1 : 0, -1) < 0) {
            r = avtb_guestfs_error(g, err, "cannot add drive", disks[i]);
            goto out;
        }
    }
    if (guestfs_launch(g) < 0) {
        r = avtb_guestfs_error(g, err, "cannot launch the appliance for",
                               n > 1 ? "a batch of disks" : disk);
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
