/* SPDX-License-Identifier: Apache-2.0 */
/* Product format v1 loader: product.yaml walked with strict key tables. */
#include "guests/product.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "common/yamlfile.h"

const char *avtb_guest_path_problem(const char *path)
{
    const char *p = path;
    size_t rl = strlen(AVTB_GUEST_RESERVED);

    if (path[0] != '/')
        return "must be an absolute path in the guest (start with /)";
    if (strlen(path) > 1024)
        return "is longer than 1024 bytes";
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return "contains a control character";
    while (*p == '/') {
        const char *end = strchr(p + 1, '/');
        size_t len = end ? (size_t)(end - p - 1) : strlen(p + 1);

        if (len == 0 && end != NULL)
            return "contains an empty path component (//)";
        if (len == 0 && p != path)
            return "must name a file, not a folder: remove the trailing '/'";
        if (len > 255)
            return "has a component longer than 255 bytes, more than a file system allows";
        if ((len == 1 && p[1] == '.') || (len == 2 && p[1] == '.' && p[2] == '.'))
            return "must not contain . or .. components";
        if (end == NULL)
            break;
        p = end;
    }
    if (strcmp(path, "/") == 0)
        return "must name a file, not /";
    if (strncmp(path, AVTB_GUEST_RESERVED, rl) == 0 && (path[rl] == '/' || path[rl] == '\0'))
        return "is under " AVTB_GUEST_RESERVED ", which avtb reserves for itself";
    return NULL;
}

int avtb_yaml_guest_path(avtb_yaml *y, yaml_node_t *n, const char *what, char **out)
{
    const char *why;

    if (avtb_yaml_string(y, n, what, out) < 0)
        return -1;
    why = avtb_guest_path_problem(*out);
    if (why != NULL) {
        avtb_yaml_diag(y, n, "%s '%s' %s", what, *out, why);
        return -1;
    }
    return 0;
}

void avtb_product_free(avtb_product *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->nfiles; i++) {
        free(p->files[i].src);
        free(p->files[i].dest);
    }
    free(p->files);
    free(p->dir);
    free(p->name);
    free(p->vendor);
    free(p->version);
    free(p->vendor_country);
    free(p->description);
    free(p->start);
    free(p->scan);
    for (size_t i = 0; i < p->nexpected; i++) {
        free(p->expected[i].scenario);
        free(p->expected[i].verdict);
    }
    free(p->expected);
    free(p);
}

avtb_product *avtb_product_control(void)
{
    avtb_product *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->control = true;
    p->dir = strdup("");
    p->name = strdup("control");
    p->vendor = strdup("none (control run: no product installed)");
    p->version = strdup("-");
    p->vendor_country = strdup("ZZ");
    p->expected = calloc(1, sizeof(*p->expected));
    if (p->expected != NULL) {
        p->nexpected = 1;
        p->expected[0].verdict = strdup("clean");
    }
    if (p->dir == NULL || p->name == NULL || p->vendor == NULL || p->version == NULL ||
        p->vendor_country == NULL || p->expected == NULL || p->expected[0].verdict == NULL) {
        avtb_product_free(p);
        return NULL;
    }
    return p;
}

const char *avtb_product_expected(const avtb_product *p, const char *scenario)
{
    const char *dflt = NULL;

    for (size_t i = 0; p != NULL && i < p->nexpected; i++) {
        if (p->expected[i].scenario == NULL)
            dflt = p->expected[i].verdict;
        else if (scenario != NULL && strcmp(p->expected[i].scenario, scenario) == 0)
            return p->expected[i].verdict;
    }
    return dflt;
}

/* Parse context: the product being filled and the YAML it comes from. */
typedef struct {
    avtb_product *p;
    avtb_yaml *y;
    avtb_product_file *file;     /* entry being parsed in files: */
    avtb_product_expect *expect; /* entry being parsed in expected: */
} product_ctx;

static int p_name(avtb_yaml *y, yaml_node_t *v, void *o)
{
    product_ctx *c = o;

    if (avtb_yaml_string(y, v, "name", &c->p->name) < 0)
        return -1;
    for (const char *s = c->p->name; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-' || *s == '_') ||
            s - c->p->name >= 64) {
            avtb_yaml_diag(y, v,
                           "name '%s' must be 1-64 characters of a-z, 0-9, '-' and '_' "
                           "(it is used in file names)",
                           c->p->name);
            return -1;
        }
    if (c->p->name[0] == '\0') {
        avtb_yaml_diag(y, v, "name must not be empty");
        return -1;
    }
    return 0;
}

/* True when s holds a control character (tab excepted). */
static bool has_control(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return true;
    return false;
}

/* vendor, version: shown in every report, on one line. */
static int p_label(avtb_yaml *y, yaml_node_t *v, const char *what, const char *example, char **out)
{
    if (avtb_yaml_string(y, v, what, out) < 0)
        return -1;
    if ((*out)[0] == '\0' || has_control(*out)) {
        avtb_yaml_diag(y, v, "%s must be one non-empty line of text such as \"%s\"", what, example);
        return -1;
    }
    return 0;
}

static int p_vendor(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return p_label(y, v, "vendor", "Leaky Labs Ltd", &((product_ctx *)o)->p->vendor);
}

static int p_version(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return p_label(y, v, "version", "1.0.2", &((product_ctx *)o)->p->version);
}

static int p_description(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return avtb_yaml_string(y, v, "description", &((product_ctx *)o)->p->description);
}

static int p_country(avtb_yaml *y, yaml_node_t *v, void *o)
{
    product_ctx *c = o;
    const char *s;

    if (avtb_yaml_string(y, v, "vendor_country", &c->p->vendor_country) < 0)
        return -1;
    s = c->p->vendor_country;
    if (strlen(s) != 2 || !isupper((unsigned char)s[0]) || !isupper((unsigned char)s[1])) {
        avtb_yaml_diag(y, v,
                       "vendor_country '%s' must be an ISO 3166-1 alpha-2 code such as GB, "
                       "US or RU (ZZ for a fictional vendor)",
                       s);
        return -1;
    }
    return 0;
}

static int p_command(avtb_yaml *y, yaml_node_t *v, const char *what, char **out)
{
    if (avtb_yaml_string(y, v, what, out) < 0)
        return -1;
    if ((*out)[0] == '\0' || has_control(*out)) {
        avtb_yaml_diag(y, v,
                       "%s must be one non-empty command line, without newlines or other "
                       "control characters",
                       what);
        return -1;
    }
    return 0;
}

static int p_start(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return p_command(y, v, "start", &((product_ctx *)o)->p->start);
}

static int p_scan(avtb_yaml *y, yaml_node_t *v, void *o)
{
    product_ctx *c = o;

    if (p_command(y, v, "scan", &c->p->scan) < 0)
        return -1;
    if (strstr(c->p->scan, AVTB_PRODUCT_PATH_PLACEHOLDER) == NULL) {
        avtb_yaml_diag(y, v,
                       "scan command has no %s placeholder: avtb could not tell it what to "
                       "scan; write it where the product takes its target, e.g. "
                       "\"/opt/av/bin/scan %s\"",
                       AVTB_PRODUCT_PATH_PLACEHOLDER, AVTB_PRODUCT_PATH_PLACEHOLDER);
        return -1;
    }
    return 0;
}

static int f_src(avtb_yaml *y, yaml_node_t *v, void *o)
{
    product_ctx *c = o;
    char *rel = NULL;
    char real[PATH_MAX] = "";
    struct stat st;
    int r = -1;

    if (avtb_yaml_string(y, v, "src", &rel) < 0)
        goto out;
    if (rel[0] == '/' || strcmp(rel, "..") == 0 || strncmp(rel, "../", 3) == 0 ||
        strstr(rel, "/../") != NULL) {
        avtb_yaml_diag(y, v, "src '%s' must be a path inside the product directory", rel);
        goto out;
    }
    c->file->src = avtb_path_join(c->p->dir, rel);
    if (c->file->src == NULL) {
        avtb_yaml_diag(y, v, "out of memory");
        goto out;
    }
    if (stat(c->file->src, &st) < 0) {
        avtb_yaml_diag(y, v, "src '%s': cannot read %s: %s", rel, c->file->src, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        avtb_yaml_diag(y, v, "src '%s' is not a regular file", rel);
        goto out;
    }
    /* A symbolic link must not lead out: the product would carry a host file into the guest. */
    if (realpath(c->file->src, real) == NULL || strncmp(real, c->p->dir, strlen(c->p->dir)) != 0 ||
        real[strlen(c->p->dir)] != '/') {
        avtb_yaml_diag(y, v,
                       "src '%s' leads outside the product directory (to %s); copy the file "
                       "into %s instead of linking to it",
                       rel, real[0] ? real : "?", c->p->dir);
        goto out;
    }
    r = 0;
out:
    free(rel);
    return r;
}

static int f_dest(avtb_yaml *y, yaml_node_t *v, void *o)
{
    product_ctx *c = o;

    return avtb_yaml_guest_path(y, v, "dest", &c->file->dest);
}

static int f_mode(avtb_yaml *y, yaml_node_t *v, void *o)
{
    product_ctx *c = o;

    return avtb_yaml_mode(y, v, "a product file", "0755", &c->file->mode);
}

static const avtb_yfield file_fields[] = {
    {"src", true, f_src},
    {"dest", true, f_dest},
    {"mode", false, f_mode},
    {NULL, false, NULL},
};

static int p_files(avtb_yaml *y, yaml_node_t *v, void *o)
{
    product_ctx *c = o;
    long n = avtb_yaml_seq_len(y, v, "files");
    int r = 0;

    if (n < 0)
        return -1;
    if (n > 1024) {
        avtb_yaml_diag(y, v, "files: at most 1024 entries");
        return -1;
    }
    c->p->files = calloc((size_t)n + 1, sizeof(*c->p->files));
    if (c->p->files == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = avtb_yaml_seq_at(y, v, (size_t)i);

        c->file = &c->p->files[c->p->nfiles++];
        c->file->mode = 0644;
        if (avtb_yaml_map(y, item, file_fields, c) < 0) {
            r = -1;
            continue;
        }
        for (size_t j = 0; j + 1 < c->p->nfiles; j++)
            if (c->p->files[j].dest && strcmp(c->p->files[j].dest, c->file->dest) == 0) {
                avtb_yaml_diag(y, item, "dest '%s' is installed twice", c->file->dest);
                r = -1;
            }
    }
    c->file = NULL;
    return r;
}

static const char *const verdicts[] = {"clean", "metadata-only", "suspected", "exfiltration",
                                       "incomplete"};

static int e_scenario(avtb_yaml *y, yaml_node_t *v, void *o)
{
    char *s;
    size_t n;

    if (avtb_yaml_string(y, v, "scenario", &((product_ctx *)o)->expect->scenario) < 0)
        return -1;
    s = ((product_ctx *)o)->expect->scenario;
    n = strlen(s);
    /* Scenario names (scenarios/README.md): a line that names none could never apply. */
    if (n == 0 || n > 80 || s[0] == '.' ||
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != n ||
        (n > 5 && strcmp(s + n - 5, ".yaml") == 0) || (n > 4 && strcmp(s + n - 4, ".yml") == 0)) {
        avtb_yaml_diag(y, v,
                       "scenario '%s' must be a scenario's name (its name: key, such as "
                       "eicar-archive), not its file name",
                       s);
        return -1;
    }
    return 0;
}

static int e_verdict(avtb_yaml *y, yaml_node_t *v, void *o)
{
    product_ctx *c = o;

    if (avtb_yaml_string(y, v, "verdict", &c->expect->verdict) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
        if (strcmp(c->expect->verdict, verdicts[i]) == 0)
            return 0;
    avtb_yaml_diag(y, v,
                   "verdict '%s' is not one avtb gives: clean, metadata-only, suspected, "
                   "exfiltration or incomplete",
                   c->expect->verdict);
    return -1;
}

static const avtb_yfield expect_fields[] = {
    {"scenario", false, e_scenario},
    {"verdict", true, e_verdict},
    {NULL, false, NULL},
};

/* expected: [{scenario: NAME, verdict: V}, {verdict: V}]: the last without a scenario is the
 * default. */
static int p_expected(avtb_yaml *y, yaml_node_t *v, void *o)
{
    product_ctx *c = o;
    long n = avtb_yaml_seq_len(y, v, "expected");
    int r = 0;

    if (n < 0)
        return -1;
    if (n > 256) {
        avtb_yaml_diag(y, v, "expected: at most 256 entries");
        return -1;
    }
    c->p->expected = calloc((size_t)n + 1, sizeof(*c->p->expected));
    if (c->p->expected == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = avtb_yaml_seq_at(y, v, (size_t)i);

        c->expect = &c->p->expected[c->p->nexpected++];
        if (avtb_yaml_map(y, item, expect_fields, c) < 0) {
            r = -1;
            continue;
        }
        for (size_t j = 0; j + 1 < c->p->nexpected; j++) {
            const char *a = c->p->expected[j].scenario, *b = c->expect->scenario;

            if ((a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0)) {
                avtb_yaml_diag(y, item, "expected: %s%s%s is given twice",
                               b ? "scenario '" : "the default (no scenario:)", b ? b : "",
                               b ? "'" : "");
                r = -1;
            }
        }
    }
    c->expect = NULL;
    return r;
}

static const avtb_yfield product_fields[] = {
    {"name", true, p_name},
    {"vendor", true, p_vendor},
    {"version", true, p_version},
    {"vendor_country", true, p_country},
    {"description", false, p_description},
    {"files", false, p_files},
    {"start", false, p_start},
    {"scan", false, p_scan},
    {"expected", false, p_expected},
    {NULL, false, NULL},
};

avtb_err avtb_product_load(const char *dir, avtb_diags *diags, avtb_product **out)
{
    return avtb_product_parse(dir, NULL, 0, diags, out);
}

avtb_err avtb_product_parse(const char *dir, const uint8_t *buf, size_t len, avtb_diags *diags,
                            avtb_product **out)
{
    avtb_err r = AVTB_ERR_NOMEM;
    product_ctx c = {0};
    char *path = NULL;
    char real[PATH_MAX];
    struct stat st;
    size_t before = avtb_diags_count(diags);

    *out = NULL;
    c.p = calloc(1, sizeof(*c.p));
    if (c.p == NULL)
        goto out;
    if (realpath(dir, real) == NULL) {
        avtb_diags_add(diags, dir, 0, 0, "product directory: %s", strerror(errno));
        r = AVTB_ERR_INPUT;
        goto out;
    }
    c.p->dir = strdup(real);
    path = avtb_path_join(real, "product.yaml");
    if (c.p->dir == NULL || path == NULL)
        goto out;
    /* Not a FIFO or a device: reading one could block or never end. */
    if (buf == NULL && stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        avtb_diags_add(diags, path, 0, 0,
                       "product.yaml must be a regular file, not a %s; put the product's "
                       "description in a file of that name",
                       S_ISDIR(st.st_mode) ? "directory" : "FIFO, socket or device");
        r = AVTB_ERR_INPUT;
        goto out;
    }
    r = buf != NULL ? avtb_yaml_load_buffer(path, buf, len, diags, &c.y)
                    : avtb_yaml_load_file(path, diags, &c.y);
    if (r != AVTB_OK)
        goto out;
    r = AVTB_ERR_INPUT;
    avtb_yaml_map(c.y, avtb_yaml_root(c.y), product_fields, &c);
    if (avtb_diags_count(diags) != before)
        goto out;
    *out = c.p;
    c.p = NULL; /* transferred */
    r = AVTB_OK;
out:
    avtb_yaml_free(c.y);
    avtb_product_free(c.p);
    free(path);
    return r;
}
