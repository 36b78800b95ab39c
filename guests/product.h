/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Product format v1: a directory holding product.yaml and the files a
 * candidate product installs into the guest. Loaded and validated before
 * anything starts; see guests/products/README.md for the format.
 */
#ifndef AVTB_PRODUCT_H
#define AVTB_PRODUCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "common/error.h"
#include "common/yamlfile.h"

typedef struct avtb_product_file {
    char *src;     /* absolute host path of the file */
    char *dest;    /* absolute path in the guest */
    unsigned mode; /* permission bits */
} avtb_product_file;

/* A loaded product definition; every string is owned. */
/* One line of product.yaml's expected: the verdict the product should get. */
typedef struct avtb_product_expect {
    char *scenario; /* a scenario name; NULL: every scenario no other line names */
    char *verdict;  /* clean, metadata-only, suspected, exfiltration or incomplete */
} avtb_product_expect;

typedef struct avtb_product {
    char *dir;            /* absolute product directory */
    char *name;
    char *vendor;
    char *version;
    char *vendor_country; /* ISO 3166-1 alpha-2 */
    char *description;    /* may be NULL */
    avtb_product_file *files;
    size_t nfiles;
    char *start;          /* command run at boot, may be NULL */
    char *scan;           /* on-demand scan command with {path}, may be NULL */
    avtb_product_expect *expected; /* for avtb matrix; may be empty */
    size_t nexpected;
    bool control; /* avtb_product_control's: no product at all */
} avtb_product;

/* Placeholder in the scan command replaced by the trigger's target path. */
#define AVTB_PRODUCT_PATH_PLACEHOLDER "{path}"

/*
 * Loads DIR/product.yaml. Problems are added to diags (file:line:col) and
 * AVTB_ERR_INPUT returned; *out is set only on success and owned by caller.
 */
avtb_err avtb_product_load(const char *dir, avtb_diags *diags, avtb_product **out) AVTB_WUR;
/*
 * avtb_product_load with product.yaml's bytes given (buf, len) instead of
 * read from DIR; files' src still resolve in DIR. For the fuzz harness.
 */
avtb_err avtb_product_parse(const char *dir, const uint8_t *buf, size_t len, avtb_diags *diags,
                            avtb_product **out) AVTB_WUR;
void avtb_product_free(avtb_product *p);

/*
 * The "product" of a control run (avtb matrix): nothing installed, nothing
 * started, triggers that do nothing; named "control". NULL when out of
 * memory. Freed with avtb_product_free.
 */
avtb_product *avtb_product_control(void);

/* The verdict p's expected: table gives for scenario, or NULL when it gives none. */
const char *avtb_product_expected(const avtb_product *p, const char *scenario);

/* Guest paths avtb itself uses; products may not install there. */
#define AVTB_GUEST_RESERVED "/avtb"

/*
 * Checks a guest path: absolute, no "." or ".." component, no empty
 * component, no control characters, at most 1024 bytes, not under
 * AVTB_GUEST_RESERVED. Returns NULL if fine, else a static reason.
 */
const char *avtb_guest_path_problem(const char *path);

/*
 * Reads a guest path from YAML node n into *out (caller frees) and checks it
 * with avtb_guest_path_problem; 0, or -1 with a diagnostic naming `what`.
 */
int avtb_yaml_guest_path(avtb_yaml *y, yaml_node_t *n, const char *what, char **out);

#endif
