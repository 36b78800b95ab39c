/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest images: built by guests/images/build-image from a recipe into the
 * cache, keyed by the recipe's hash, so an image is rebuilt only when its
 * recipe changes. A run never writes an image: it writes a qcow2 overlay.
 */
#ifndef AVTB_IMAGE_H
#define AVTB_IMAGE_H

#include "common/error.h"

typedef struct avtb_image {
    char *dir; /* cache directory of this build (name-hash) */
    char *id;  /* basename of dir */
    char *kernel, *initrd, *disk;
    char *cmdline;      /* kernel command line before avtb's run parameters */
    char *guestfs_root; /* root filesystem device as libguestfs sees it */
} avtb_image;

/* $AVTB_CACHE, else /var/cache/avtb for root, else ~/.cache/avtb. */
const char *avtb_cache_dir(void);

/* Builds the image if its recipe changed, then loads its image.json. */
avtb_err avtb_image_ensure(const char *name, avtb_image **out, avtb_error *err) AVTB_WUR;
void avtb_image_free(avtb_image *img);

/* Creates a qcow2 overlay backed by the image's disk (O(1), no data copied). */
avtb_err avtb_image_overlay(const avtb_image *img, const char *path, avtb_error *err) AVTB_WUR;

#endif
