/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the product loader (guests/product.c): the input is
 * product.yaml's bytes, user-supplied like a scenario. The product directory
 * is a fixed temporary one made once, holding bin/scan and a symbolic link
 * leading out of it, so files: entries that name them reach the src checks
 * (regular file, inside the directory) as well as the YAML ones.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/diag.h"
#include "guests/product.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/avtb-fuzz-product-XXXXXX";

/* libFuzzer ends with exit(): leave no scratch directory behind. */
static void remove_dir(void)
{
    static const char *const names[] = {"bin/scan", "bin/out", "bin", ""};
    char path[128];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        (void)remove(path);
    }
}

static const char *product_dir(void)
{
    static int made;
    char path[128];
    FILE *fp;

    if (made)
        return made > 0 ? dir : NULL;
    made = -1;
    if (mkdtemp(dir) == NULL)
        return NULL;
    atexit(remove_dir);
    snprintf(path, sizeof(path), "%s/bin", dir);
    if (mkdir(path, 0755) != 0)
        return NULL;
    snprintf(path, sizeof(path), "%s/bin/scan", dir);
    fp = fopen(path, "w");
    if (fp == NULL || fputs("#!/bin/sh\n", fp) < 0 || fclose(fp) != 0)
        return NULL;
    snprintf(path, sizeof(path), "%s/bin/out", dir);
    if (symlink("/etc/hostname", path) != 0)
        return NULL;
    made = 1;
    return dir;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *pdir = product_dir();
    avtb_diags *d;
    avtb_product *p = NULL;

    if (pdir == NULL)
        __builtin_trap(); /* no scratch directory: the harness cannot run */
    d = avtb_diags_new();
    if (d == NULL)
        return 0;
    if (avtb_product_parse(pdir, data, size, d, &p) == AVTB_OK) {
        if (p->name == NULL || p->vendor == NULL || p->version == NULL || p->vendor_country == NULL)
            __builtin_trap(); /* required fields of a product that loaded */
        (void)avtb_product_expected(p, "reference");
        avtb_product_free(p);
    } else if (avtb_diags_count(d) == 0) {
        __builtin_trap(); /* a refusal must say why */
    }
    avtb_diags_free(d);
    return 0;
}
