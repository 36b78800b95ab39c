/* SPDX-License-Identifier: Apache-2.0 */
/* Guest image cache and overlays; see image.h. */
#include "orchestrator/image.h"

#include <guestfs.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define BUILD_TIMEOUT_MS (20u * 60 * 1000)

const char *avtb_cache_dir(void)
{
    static char buf[4096];
    const char *c = getenv("AVTB_CACHE");
    const char *home = getenv("HOME");

    if (c != NULL && c[0] != '\0')
        return c;
    if (geteuid() == 0 || home == NULL)
        return "/var/cache/avtb";
    snprintf(buf, sizeof(buf), "%s/.cache/avtb", home);
    return buf;
}

void avtb_image_free(avtb_image *img)
{
    if (img == NULL)
        return;
    free(img->dir);
    free(img->id);
    free(img->kernel);
    free(img->initrd);
    free(img->disk);
    free(img->cmdline);
    free(img->guestfs_root);
    free(img);
}

static avtb_err load_image_json(avtb_image *img, avtb_error *err)
{
    char *path = avtb_path_join(img->dir, "image.json");
    json_error_t jerr;
    json_t *root = NULL;
    const char *cmdline = NULL, *groot = NULL;
    avtb_err r = AVTB_ERR_INPUT;

    if (path == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        avtb_error_set(err, r, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        goto out;
    }
    if (json_unpack_ex(root, &jerr, 0, "{s:s, s:s}", "cmdline", &cmdline, "guestfs_root", &groot) <
        0) {
        avtb_error_set(err, r, "%s: %s; rebuild the image (remove %s)", path, jerr.text, img->dir);
        goto out;
    }
    img->cmdline = strdup(cmdline);
    img->guestfs_root = strdup(groot);
    img->kernel = avtb_path_join(img->dir, "vmlinuz");
    img->initrd = avtb_path_join(img->dir, "initrd.img");
    img->disk = avtb_path_join(img->dir, "disk.qcow2");
    if (!img->cmdline || !img->guestfs_root || !img->kernel || !img->initrd || !img->disk) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        goto out;
    }
    {
        const char *files[] = {img->kernel, img->initrd, img->disk};

        for (size_t i = 0; i < 3; i++)
            if (access(files[i], R_OK) < 0) {
                avtb_error_set(err, r,
                               "image %s is incomplete: %s is missing; remove %s so it "
                               "is rebuilt",
                               img->dir, files[i], img->dir);
                goto out;
            }
    }
    r = AVTB_OK;
out:
    json_decref(root);
    free(path);
    return r;
}

avtb_err avtb_image_ensure(const char *name, avtb_image **out, avtb_error *err)
{
    avtb_err r;
    avtb_image *img;
    char *script = NULL, *stdout_text = NULL;
    int status = -1;
    size_t len;

    *out = NULL;
    img = calloc(1, sizeof(*img));
    if (img == NULL || asprintf(&script, "%s/guests/images/build-image", avtb_datadir()) < 0) {
        free(img);
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    }
    {
        const char *argv[] = {script, name, avtb_cache_dir(), NULL};

        r = avtb_spawn(argv, BUILD_TIMEOUT_MS, &stdout_text, &status, err);
    }
    if (r != AVTB_OK)
        goto out;
    if (status != 0) {
        r = avtb_error_set(err, AVTB_ERR_CHILD,
                           "building guest image '%s' failed (%s exited with %d); its messages "
                           "are above",
                           name, script, status);
        goto out;
    }
    /* The script prints the image directory as its last line. */
    len = strlen(stdout_text);
    while (len > 0 && stdout_text[len - 1] == '\n')
        stdout_text[--len] = '\0';
    {
        const char *last = strrchr(stdout_text, '\n');

        img->dir = strdup(last ? last + 1 : stdout_text);
    }
    if (img->dir == NULL || img->dir[0] != '/') {
        r = avtb_error_set(err, AVTB_ERR_CHILD, "%s printed no image directory", script);
        goto out;
    }
    img->id = strdup(strrchr(img->dir, '/') + 1);
    if (img->id == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        goto out;
    }
    r = load_image_json(img, err);
    if (r != AVTB_OK)
        goto out;
    *out = img;
    img = NULL; /* transferred */
out:
    avtb_image_free(img);
    free(script);
    free(stdout_text);
    return r;
}

avtb_err avtb_image_overlay(const avtb_image *img, const char *path, avtb_error *err)
{
    guestfs_h *g = guestfs_create_flags(GUESTFS_CREATE_NO_ENVIRONMENT);
    avtb_err r = AVTB_OK;

    if (g == NULL)
        return avtb_error_set(err, AVTB_ERR_GUESTFS, "cannot create a libguestfs handle");
    guestfs_set_error_handler(g, NULL, NULL);
    if (guestfs_disk_create(g, path, "qcow2", -1, GUESTFS_DISK_CREATE_BACKINGFILE, img->disk,
                            GUESTFS_DISK_CREATE_BACKINGFORMAT, "qcow2", -1) < 0)
        r = avtb_error_set(err, AVTB_ERR_GUESTFS, "cannot create overlay %s on %s: %s", path,
                           img->disk, guestfs_last_error(g));
    guestfs_close(g);
    return r;
}
