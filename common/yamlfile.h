/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict YAML configuration files on top of libyaml's document API. Every
 * module that reads YAML (scenarios, products, later collector settings)
 * walks its nodes with a key table: unknown keys, wrong types, duplicates and
 * missing required keys become diagnostics at the node's line and column.
 * Anchors and aliases are refused (a config file has no use for them, and
 * they are the billion-laughs vector).
 */
#ifndef AVTB_YAMLFILE_H
#define AVTB_YAMLFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "common/diag.h"
#include "common/error.h"

/* Largest YAML file avtb reads; scenarios and products are small. */
#define AVTB_YAML_MAX_BYTES (1u << 20)

typedef struct avtb_yaml avtb_yaml;

/*
 * Parse a file. On a syntax or size problem, a diagnostic is added to diags
 * and AVTB_ERR_INPUT returned; I/O failures (missing file) also go to diags
 * so the user sees one consistent error form. *out owns the document.
 * The diags object is borrowed and must outlive the document.
 */
avtb_err avtb_yaml_load_file(const char *path, avtb_diags *diags, avtb_yaml **out) AVTB_WUR;
/* Same for a buffer; name is used in messages. */
avtb_err avtb_yaml_load_buffer(const char *name, const uint8_t *buf, size_t len,
                               avtb_diags *diags, avtb_yaml **out) AVTB_WUR;
void avtb_yaml_free(avtb_yaml *y);

yaml_node_t *avtb_yaml_root(avtb_yaml *y);
const char *avtb_yaml_filename(const avtb_yaml *y);
/* Directory of the file ("." for a bare name); for resolving relative paths. */
const char *avtb_yaml_dir(const avtb_yaml *y);

/* Adds "file:line:col: msg" at node n (n may be NULL: whole file). */
void avtb_yaml_diag(avtb_yaml *y, const yaml_node_t *n, const char *fmt, ...) AVTB_PRINTF(3, 4);

/*
 * A key table entry. parse() receives the value node and the caller's object;
 * it adds its own diagnostics and returns 0 or -1.
 */
typedef struct avtb_yfield {
    const char *key;
    bool required;
    int (*parse)(avtb_yaml *y, yaml_node_t *value, void *obj);
} avtb_yfield;

/*
 * Walks mapping node map with a NULL-key-terminated table. Reports a
 * non-mapping node, unknown keys (suggesting the nearest known key),
 * duplicate keys and missing required keys. Calls every parse() it can, so
 * all problems are collected. Returns 0 when no diagnostic was added.
 */
int avtb_yaml_map(avtb_yaml *y, yaml_node_t *map, const avtb_yfield *fields, void *obj);

/* Returns the sequence's length, or -1 with a diagnostic if n is not one. */
long avtb_yaml_seq_len(avtb_yaml *y, yaml_node_t *n, const char *what);
yaml_node_t *avtb_yaml_seq_at(avtb_yaml *y, yaml_node_t *seq, size_t i);

/* Scalar readers: 0 on success, -1 with a diagnostic naming `what`. */
const char *avtb_yaml_scalar(avtb_yaml *y, yaml_node_t *n, const char *what);
int avtb_yaml_string(avtb_yaml *y, yaml_node_t *n, const char *what, char **out);
int avtb_yaml_uint(avtb_yaml *y, yaml_node_t *n, const char *what, uint64_t min, uint64_t max,
                   uint64_t *out);
int avtb_yaml_bool(avtb_yaml *y, yaml_node_t *n, const char *what, bool *out);
/*
 * Permission bits as 3 or 4 octal digits ("0644", "755"; quoted, or YAML
 * reads 0755 as 493). Setuid, setgid and sticky bits are refused; `on` names
 * what the mode is for ("a document") and example is a good value, both for
 * the messages.
 */
int avtb_yaml_mode(avtb_yaml *y, yaml_node_t *n, const char *on, const char *example,
                   unsigned *out);
/*
 * Durations: "90s", "2m", "1m30s", "500ms", "1h". A bare number is refused
 * (a unit must be given). Result in milliseconds, at most max_ms.
 */
int avtb_yaml_duration(avtb_yaml *y, yaml_node_t *n, const char *what, uint64_t max_ms,
                       uint64_t *out_ms);

/*
 * Parses a duration string; shared with the CLI. 0 on success, -1 when it is
 * not a duration, -2 when it is one too long to count (over 2^64 ms).
 */
int avtb_parse_duration(const char *s, uint64_t *out_ms);

/* Edit distance, for "did you mean" suggestions (bounded inputs only). */
size_t avtb_edit_distance(const char *a, const char *b);

#endif
