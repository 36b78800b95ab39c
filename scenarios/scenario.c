/* SPDX-License-Identifier: Apache-2.0 */
/* Scenario format v1 loader: strict key tables over libyaml; see scenario.h. */
#include "scenarios/scenario.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/util.h"
#include "common/yamlfile.h"
#include "guests/honeydoc.h"

#define DEFAULT_BOOT_TIMEOUT_MS (180u * 1000)
#define MAX_DOCS                1000
#define MAX_DOC_BYTES           (1u << 20)
#define MAX_TRIGGERS            256
#define MAX_RESPONSES           256
#define MAX_RESPONSE_HEADERS    64
#define MAX_RESPONSE_BODY       (1u << 20)

static const char *const action_names[] = {[AVTB_ACTION_SCAN] = "scan"};
static const char *const expect_names[] = {[AVTB_EXPECT_NO_EXFILTRATION] = "no_exfiltration",
                                           [AVTB_EXPECT_NO_METADATA] = "no_metadata"};
static const char *const severity_names[] = {"info", "low", "medium", "high", "critical"};
static const char *const data_names[] = {"content", "metadata", "opaque"};

const char *avtb_severity_name(avtb_severity v)
{
    return (size_t)v < sizeof(severity_names) / sizeof(severity_names[0]) ? severity_names[v]
                                                                          : "unknown";
}

const char *avtb_data_class_name(unsigned bit)
{
    for (size_t i = 0; i < AVTB_DATA_CLASSES; i++)
        if (bit == 1u << i)
            return data_names[i];
    return "unknown";
}

const char *avtb_action_name(avtb_action a)
{
    return action_names[a];
}

const char *avtb_expect_name(avtb_expect e)
{
    return expect_names[e];
}

/* True when s holds a control character (0x00-0x1f, 0x7f). */
static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

void avtb_scenario_free(avtb_scenario *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->ndocs; i++) {
        free(s->docs[i].path);
        free(s->docs[i].content);
    }
    for (size_t i = 0; i < s->ngens; i++) {
        avtb_docgen *g = &s->gens[i];

        free(g->formats);
        for (size_t j = 0; j < g->nmarkings; j++)
            free(g->markings[j]);
        free(g->markings);
        free(g->user);
        free(g->home);
    }
    free(s->gens);
    for (size_t i = 0; i < s->ntriggers; i++)
        free(s->triggers[i].path);
    for (size_t i = 0; i < s->nresponses; i++) {
        avtb_response *r = &s->responses[i];

        free(r->host);
        free(r->path);
        for (size_t j = 0; j < r->nheaders; j++)
            free(r->headers[j]);
        free(r->headers);
        free(r->body);
    }
    free(s->responses);
    for (size_t i = 0; i < s->nallows; i++) {
        for (size_t j = 0; j < s->allows[i].nhosts; j++)
            free(s->allows[i].hosts[j]);
        free(s->allows[i].hosts);
    }
    free(s->allows);
    free(s->docs);
    free(s->triggers);
    free(s->expects);
    free(s->file);
    free(s->name);
    free(s->description);
    free(s->guest);
    avtb_product_free(s->product);
    free(s);
}

size_t avtb_scenario_ndocs_total(const avtb_scenario *s)
{
    size_t n = s->ndocs;

    for (size_t i = 0; i < s->ngens; i++)
        n += s->gens[i].count;
    return n;
}

avtb_err avtb_scenario_honey(const avtb_scenario *s, const avtb_honeygen_conf *conf,
                             avtb_honeydoc ***docs, size_t *ndocs, avtb_error *err)
{
    size_t total = avtb_scenario_ndocs_total(s), n = 0;
    avtb_honeydoc **list = calloc(total + 1, sizeof(*list));
    avtb_honeygen *g = NULL;
    avtb_err r = AVTB_ERR_NOMEM;

    *docs = NULL;
    *ndocs = 0;
    if (list == NULL) {
        avtb_error_set(err, r, "out of memory");
        goto out;
    }
    r = avtb_honeygen_new(conf, &g, err);
    for (size_t i = 0; r == AVTB_OK && i < s->ndocs; i++) {
        const avtb_docspec *d = &s->docs[i];

        r = avtb_honeydoc_render(d->content, d->path, d->uid, d->gid, d->mode, &list[n], err);
        if (r == AVTB_OK)
            r = avtb_honeygen_reserve(g, list[n++]->guest_path, err);
    }
    for (size_t i = 0; r == AVTB_OK && i < s->ngens; i++) {
        const avtb_docgen *gen = &s->gens[i];

        for (size_t k = 0; r == AVTB_OK && k < gen->count; k++) {
            avtb_honeygen_req req = {
                .format = gen->formats[k % gen->nformats],
                .marking = gen->nmarkings ? gen->markings[k % gen->nmarkings] : NULL,
                .os = gen->os,
                .user = gen->user,
                .home = gen->home,
                .uid = gen->uid,
                .gid = gen->gid,
            };

            r = avtb_honeygen_next(g, &req, &list[n], err);
            if (r == AVTB_OK)
                n++;
        }
    }
    if (r != AVTB_OK)
        goto out;
    *docs = list;
    *ndocs = n;
    list = NULL; /* transferred */
out:
    for (size_t i = 0; list != NULL && i < n; i++)
        avtb_honeydoc_free(list[i]);
    free(list);
    avtb_honeygen_free(g);
    return r;
}

/* Parse context: the scenario being filled plus cross-check material. */
typedef struct {
    avtb_scenario *s;
    avtb_diags *diags;
    avtb_docspec *doc;        /* entry being parsed */
    avtb_docgen *gen;         /* honey.generate entry being parsed */
    yaml_node_t **gen_nodes;  /* each generate entry, for errors about it */
    yaml_node_t **user_nodes; /* its user: (or NULL) */
    bool *gen_owner;          /* its owner: was given */
    yaml_node_t *generate_node;
    avtb_trigger *trigger;     /* entry being parsed */
    avtb_response *response;   /* entry being parsed */
    avtb_allow *allow;         /* policy.allow entry being parsed */
    yaml_node_t *body_node;    /* body: or body_file: of that entry, for errors */
    yaml_node_t *product_node; /* for errors that concern the product */
    yaml_node_t **trigger_nodes;
    yaml_node_t *dwell_node;
    yaml_node_t *allow_all_node; /* a host pattern of that allow entry that matches any host */
} scen_ctx;

static int s_version(avtb_yaml *y, yaml_node_t *v, void *o)
{
    uint64_t ver;

    (void)o;
    if (avtb_yaml_uint(y, v, "avtb (format version)", 1, 1000, &ver) < 0)
        return -1;
    if (ver != AVTB_SCENARIO_VERSION) {
        avtb_yaml_diag(y, v, "scenario format version %llu is not supported; this avtb reads %d",
                       (unsigned long long)ver, AVTB_SCENARIO_VERSION);
        return -1;
    }
    return 0;
}

static int s_name(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;

    if (avtb_yaml_string(y, v, "name", &c->s->name) < 0)
        return -1;
    for (const char *p = c->s->name; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.') ||
            p - c->s->name >= 80) {
            avtb_yaml_diag(y, v,
                           "name '%s' must be 1-80 characters of letters, digits, '-', '_' "
                           "and '.' (it names the evidence directory)",
                           c->s->name);
            return -1;
        }
    if (c->s->name[0] == '\0' || c->s->name[0] == '.') {
        avtb_yaml_diag(y, v, "name must not be empty or start with '.'");
        return -1;
    }
    return 0;
}

static int s_description(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return avtb_yaml_string(y, v, "description", &((scen_ctx *)o)->s->description);
}

static int s_guest(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    char *dir = NULL;
    struct stat st;
    int r = -1;

    if (avtb_yaml_string(y, v, "guest", &c->s->guest) < 0)
        return -1;
    if (c->s->guest[0] == '\0' || strchr(c->s->guest, '/') != NULL || c->s->guest[0] == '.') {
        avtb_yaml_diag(y, v, "guest '%s' must be the name of an image in guests/images/",
                       c->s->guest);
        return -1;
    }
    if (asprintf(&dir, "%s/guests/images/%s", avtb_datadir(), c->s->guest) < 0)
        return -1;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        avtb_yaml_diag(y, v, "guest '%s': no image recipe at %s", c->s->guest, dir);
    else
        r = 0;
    free(dir);
    return r;
}

static int s_product(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    const char *s = avtb_yaml_scalar(y, v, "product");
    char *dir = NULL;
    int r = -1;

    if (s == NULL)
        return -1;
    c->product_node = v;
    if (s[0] == '\0') {
        avtb_yaml_diag(y, v, "product must name a product directory");
        return -1;
    }
    /* A bare name is a product shipped in guests/products/; anything else a path. */
    if (strchr(s, '/') == NULL) {
        if (asprintf(&dir, "%s/guests/products/%s", avtb_datadir(), s) < 0)
            return -1;
    } else if ((dir = avtb_path_join(avtb_yaml_dir(y), s)) == NULL) {
        return -1;
    }
    if (avtb_product_load(dir, c->diags, &c->s->product) != AVTB_OK)
        avtb_yaml_diag(y, v, "product '%s' (%s) is not usable; see the errors above", s, dir);
    else
        r = 0;
    free(dir);
    return r;
}

static int s_dwell(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;

    c->dwell_node = v;
    if (avtb_yaml_duration(y, v, "dwell", AVTB_DWELL_MAX_MS, &c->s->dwell_ms) < 0)
        return -1;
    if (c->s->dwell_ms < 1000) {
        avtb_yaml_diag(y, v, "dwell must be at least 1s");
        return -1;
    }
    return 0;
}

static int s_boot_timeout(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;

    if (avtb_yaml_duration(y, v, "boot_timeout", 3600 * 1000, &c->s->boot_timeout_ms) < 0)
        return -1;
    if (c->s->boot_timeout_ms < 5000) {
        avtb_yaml_diag(y, v, "boot_timeout must be at least 5s");
        return -1;
    }
    return 0;
}

/* owner: "UID:GID" with numbers, as the guest's own names are unknown here. */
static int parse_owner(avtb_yaml *y, yaml_node_t *v, unsigned *uid, unsigned *gid)
{
    const char *s = avtb_yaml_scalar(y, v, "owner");
    int n = 0;

    if (s == NULL)
        return -1;
    if (strspn(s, "0123456789:") != strlen(s) || sscanf(s, "%u:%u%n", uid, gid, &n) != 2 ||
        s[n] != '\0' || !isdigit((unsigned char)s[0]) || *uid > 65535 || *gid > 65535) {
        avtb_yaml_diag(y, v, "owner '%s' must be numeric UID:GID such as \"1000:1000\"", s);
        return -1;
    }
    return 0;
}

static int d_owner(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;

    return parse_owner(y, v, &c->doc->uid, &c->doc->gid);
}

static int d_mode(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;

    return avtb_yaml_mode(y, v, "a document", "0644", &c->doc->mode);
}

static int d_path(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;

    return avtb_yaml_guest_path(y, v, "path", &c->doc->path);
}

static int d_content(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;

    if (avtb_yaml_string(y, v, "content", &c->doc->content) < 0)
        return -1;
    if (strstr(c->doc->content, AVTB_TOKEN_PLACEHOLDER) == NULL) {
        avtb_yaml_diag(y, v,
                       "content has no %s placeholder: without a token avtb cannot tell "
                       "whether the document left the guest",
                       AVTB_TOKEN_PLACEHOLDER);
        return -1;
    }
    if (strlen(c->doc->content) > MAX_DOC_BYTES) {
        avtb_yaml_diag(y, v, "content is larger than %u bytes", MAX_DOC_BYTES);
        return -1;
    }
    return 0;
}

static const avtb_yfield doc_fields[] = {
    {"path", true, d_path},  {"content", true, d_content}, {"owner", false, d_owner},
    {"mode", false, d_mode}, {NULL, false, NULL},
};

static int h_documents(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    long n = avtb_yaml_seq_len(y, v, "honey.documents");
    int r = 0;

    if (n < 0)
        return -1;
    if (n == 0 || n > MAX_DOCS) {
        avtb_yaml_diag(y, v, "honey.documents must list between 1 and %d documents", MAX_DOCS);
        return -1;
    }
    c->s->docs = calloc((size_t)n, sizeof(*c->s->docs));
    if (c->s->docs == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = avtb_yaml_seq_at(y, v, (size_t)i);

        c->doc = &c->s->docs[c->s->ndocs++];
        c->doc->mode = 0644;
        if (avtb_yaml_map(y, item, doc_fields, c) < 0) {
            r = -1;
            continue;
        }
        for (size_t j = 0; j + 1 < c->s->ndocs; j++)
            if (c->s->docs[j].path && strcmp(c->s->docs[j].path, c->doc->path) == 0) {
                avtb_yaml_diag(y, item, "document path '%s' is listed twice", c->doc->path);
                r = -1;
            }
    }
    c->doc = NULL;
    return r;
}

static int h_seed(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;

    if (avtb_yaml_uint(y, v, "honey.seed", 0, AVTB_HONEYGEN_SEED_MAX, &c->s->seed) < 0)
        return -1;
    c->s->has_seed = true;
    return 0;
}

static int g_count(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    uint64_t n;

    if (avtb_yaml_uint(y, v, "count", 1, MAX_DOCS, &n) < 0)
        return -1;
    c->gen->count = (size_t)n;
    return 0;
}

static int g_formats(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    long n = avtb_yaml_seq_len(y, v, "formats");
    int r = 0;

    if (n < 0)
        return -1;
    if (n == 0 || n > 64) {
        avtb_yaml_diag(y, v, "formats must list between 1 and 64 formats, e.g. [docx, pdf]");
        return -1;
    }
    free(c->gen->formats);
    c->gen->formats = calloc((size_t)n, sizeof(*c->gen->formats));
    if (c->gen->formats == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = avtb_yaml_seq_at(y, v, (size_t)i);
        const char *f = avtb_yaml_scalar(y, item, "format");

        if (f == NULL) {
            r = -1;
        } else if (!avtb_doc_format_parse(f, &c->gen->formats[c->gen->nformats])) {
            avtb_yaml_diag(y, item,
                           "unknown format '%s'; supported: txt, csv, eml, docx, xlsx, pdf, "
                           "zip, 7z",
                           f);
            r = -1;
        } else {
            c->gen->nformats++;
        }
    }
    return r;
}

static int g_markings(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    long n = avtb_yaml_seq_len(y, v, "markings");
    int r = 0;

    if (n < 0)
        return -1;
    if (n == 0 || n > 64) {
        avtb_yaml_diag(y, v, "markings must list between 1 and 64 markings, e.g. [SECRET]");
        return -1;
    }
    c->gen->markings = calloc((size_t)n, sizeof(*c->gen->markings));
    if (c->gen->markings == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = avtb_yaml_seq_at(y, v, (size_t)i);
        const char *m = avtb_yaml_scalar(y, item, "marking");
        const char *const *known = avtb_honeygen_markings(), *near = NULL;

        if (m == NULL) {
            r = -1;
            continue;
        }
        if (avtb_honeygen_marking_known(m)) {
            if ((c->gen->markings[c->gen->nmarkings++] = strdup(m)) == NULL)
                r = -1;
            continue;
        }
        for (size_t k = 0; known[k] != NULL && strlen(m) < 64; k++)
            if (avtb_edit_distance(m, known[k]) <= 2)
                near = known[k];
        if (near != NULL)
            avtb_yaml_diag(y, item, "unknown marking '%s'; did you mean '%s'?", m, near);
        else
            avtb_yaml_diag(y, item,
                           "unknown marking '%s'; supported: OFFICIAL, OFFICIAL-SENSITIVE "
                           "(also COMMERCIAL, PERSONAL), SECRET, TOP SECRET (also UK EYES "
                           "ONLY), CUI, CONFIDENTIAL, CONFIDENTIAL//NOFORN, SECRET//NOFORN, "
                           "SECRET//REL TO USA, FVEY, TOP SECRET//NOFORN, TOP SECRET//SI//NOFORN",
                           m);
        r = -1;
    }
    return r;
}

static int g_os(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    const char *s = avtb_yaml_scalar(y, v, "os");

    if (s == NULL)
        return -1;
    if (!avtb_honey_os_parse(s, &c->gen->os)) {
        avtb_yaml_diag(y, v, "os '%s' must be linux or windows (the guest's folder layout)", s);
        return -1;
    }
    return 0;
}

static int g_user(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    const char *u;

    c->user_nodes[c->s->ngens - 1] = v;
    if (avtb_yaml_string(y, v, "user", &c->gen->user) < 0)
        return -1;
    u = c->gen->user;
    if (!avtb_honeygen_user_valid(u)) {
        avtb_yaml_diag(y, v,
                       "user '%s' must be a user name of 1-32 letters, digits, '_', '.' and "
                       "'-' (it names the home folder)",
                       u);
        return -1;
    }
    return 0;
}

static int g_owner(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;

    c->gen_owner[c->s->ngens - 1] = true;
    return parse_owner(y, v, &c->gen->uid, &c->gen->gid);
}

static const avtb_yfield gen_fields[] = {
    {"count", true, g_count}, {"formats", false, g_formats}, {"markings", false, g_markings},
    {"os", false, g_os},      {"user", false, g_user},       {"owner", false, g_owner},
    {NULL, false, NULL},
};

/* The formats of issue 5's list, cycled when an entry names none. */
static const avtb_doc_format default_formats[] = {AVTB_FMT_DOCX, AVTB_FMT_PDF, AVTB_FMT_XLSX,
                                                  AVTB_FMT_EML,  AVTB_FMT_CSV, AVTB_FMT_TXT};

static int h_generate(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    long n = avtb_yaml_seq_len(y, v, "honey.generate");
    int r = 0;

    if (n < 0)
        return -1;
    c->generate_node = v;
    if (n == 0 || n > 64) {
        avtb_yaml_diag(y, v, "honey.generate must list between 1 and 64 entries");
        return -1;
    }
    c->s->gens = calloc((size_t)n, sizeof(*c->s->gens));
    c->gen_nodes = calloc((size_t)n, sizeof(*c->gen_nodes));
    c->user_nodes = calloc((size_t)n, sizeof(*c->user_nodes));
    c->gen_owner = calloc((size_t)n, sizeof(*c->gen_owner));
    if (c->s->gens == NULL || c->gen_nodes == NULL || c->user_nodes == NULL || c->gen_owner == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = avtb_yaml_seq_at(y, v, (size_t)i);

        c->gen_nodes[c->s->ngens] = item;
        c->gen = &c->s->gens[c->s->ngens++];
        if (avtb_yaml_map(y, item, gen_fields, c) < 0) {
            r = -1;
            continue;
        }
        if (c->gen->nformats == 0) {
            c->gen->formats = malloc(sizeof(default_formats));
            if (c->gen->formats == NULL)
                return -1;
            memcpy(c->gen->formats, default_formats, sizeof(default_formats));
            c->gen->nformats = sizeof(default_formats) / sizeof(default_formats[0]);
        }
    }
    c->gen = NULL;
    return r;
}

static const avtb_yfield honey_fields[] = {
    {"seed", false, h_seed},
    {"generate", false, h_generate},
    {"documents", false, h_documents},
    {NULL, false, NULL},
};

static int s_honey(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;

    if (avtb_yaml_map(y, v, honey_fields, o) < 0)
        return -1;
    if (c->s->ndocs == 0 && c->s->ngens == 0) {
        avtb_yaml_diag(y, v,
                       "honey needs documents (listed), generate (made from the seed), or "
                       "both: without a document there is nothing to leak");
        return -1;
    }
    return 0;
}

static int t_at(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return avtb_yaml_duration(y, v, "at", AVTB_DWELL_MAX_MS, &((scen_ctx *)o)->trigger->at_ms);
}

static int t_action(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    const char *s = avtb_yaml_scalar(y, v, "action");

    if (s == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++)
        if (strcmp(s, action_names[i]) == 0) {
            c->trigger->action = (avtb_action)i;
            return 0;
        }
    avtb_yaml_diag(y, v, "unknown action '%s'; supported: scan", s);
    return -1;
}

static int t_path(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;

    if (avtb_yaml_string(y, v, "path", &c->trigger->path) < 0)
        return -1;
    if (c->trigger->path[0] != '/' || strpbrk(c->trigger->path, "'\"\\$`") != NULL ||
        has_control(c->trigger->path)) {
        avtb_yaml_diag(y, v,
                       "path '%s' must be an absolute guest path without quotes, "
                       "backslashes, '$' or control characters",
                       c->trigger->path);
        return -1;
    }
    return 0;
}

static const avtb_yfield trigger_fields[] = {
    {"at", true, t_at},
    {"action", true, t_action},
    {"path", false, t_path},
    {NULL, false, NULL},
};

static int s_triggers(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    long n = avtb_yaml_seq_len(y, v, "triggers");
    int r = 0;

    if (n < 0)
        return -1;
    if (n > MAX_TRIGGERS) {
        avtb_yaml_diag(y, v, "triggers: at most %d entries", MAX_TRIGGERS);
        return -1;
    }
    c->s->triggers = calloc((size_t)n + 1, sizeof(*c->s->triggers));
    c->trigger_nodes = calloc((size_t)n + 1, sizeof(*c->trigger_nodes));
    if (c->s->triggers == NULL || c->trigger_nodes == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = avtb_yaml_seq_at(y, v, (size_t)i);

        c->trigger_nodes[c->s->ntriggers] = item;
        c->trigger = &c->s->triggers[c->s->ntriggers++];
        if (avtb_yaml_map(y, item, trigger_fields, c) < 0)
            r = -1;
        else if (c->trigger->path == NULL && (c->trigger->path = strdup("/")) == NULL)
            r = -1;
    }
    c->trigger = NULL;
    return r;
}

static int n_mode(avtb_yaml *y, yaml_node_t *v, void *o)
{
    const char *s = avtb_yaml_scalar(y, v, "network.mode");

    (void)o;
    if (s == NULL)
        return -1;
    if (strcmp(s, "sinkhole") != 0) {
        avtb_yaml_diag(y, v,
                       "network mode '%s' is not supported; use 'sinkhole' (every name resolves "
                       "to avtb's sink, nothing leaves the run's network)",
                       s);
        return -1;
    }
    return 0;
}

static int r_host(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    const char *h;

    if (avtb_yaml_string(y, v, "host", &c->response->host) < 0)
        return -1;
    h = c->response->host;
    if (strcmp(h, "*") == 0)
        return 0;
    if (h[0] == '\0' || strlen(h) > 253 ||
        strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
            strlen(h)) {
        avtb_yaml_diag(y, v, "host '%s' must be a host name such as cloud.vendor.example, or '*'",
                       h);
        return -1;
    }
    return 0;
}

static int r_path(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    const char *p;

    if (avtb_yaml_string(y, v, "path", &c->response->path) < 0)
        return -1;
    p = c->response->path;
    if (p[0] != '/' || strpbrk(p, " ?#") != NULL || has_control(p)) {
        avtb_yaml_diag(y, v, "path '%s' must start with '/' and hold no spaces, '?' or '#'", p);
        return -1;
    }
    return 0;
}

static int r_status(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    uint64_t st;

    if (avtb_yaml_uint(y, v, "status", 100, 599, &st) < 0)
        return -1;
    c->response->status = (unsigned)st;
    return 0;
}

/* Hop-by-hop headers: the sink frames each answer itself and drops these from a profile. */
static const char *const sink_headers[] = {"Connection", "Keep-Alive",     "Proxy-Connection",
                                           "TE",         "Trailer",        "Transfer-Encoding",
                                           "Upgrade",    "Content-Length", "Proxy-Authorization"};

static int r_headers(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    avtb_response *r = c->response;
    long n = avtb_yaml_seq_len(y, v, "headers");

    if (n < 0)
        return -1;
    if (n > MAX_RESPONSE_HEADERS) {
        avtb_yaml_diag(y, v, "headers: at most %d lines", MAX_RESPONSE_HEADERS);
        return -1;
    }
    r->headers = calloc((size_t)n + 1, sizeof(*r->headers));
    if (r->headers == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = avtb_yaml_seq_at(y, v, (size_t)i);
        char *line, *colon;
        size_t name_len;

        if (avtb_yaml_string(y, item, "header", &r->headers[r->nheaders]) < 0)
            return -1;
        line = r->headers[r->nheaders++];
        colon = strchr(line, ':');
        name_len = colon ? (size_t)(colon - line) : 0;
        if (colon == NULL || name_len == 0 ||
            strspn(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
                name_len ||
            strpbrk(line, "\r\n") != NULL) {
            avtb_yaml_diag(y, item,
                           "header '%s' must be one line 'Name: value' such as "
                           "'Content-Type: text/plain'",
                           line);
            return -1;
        }
        for (const char *q = colon + 1; *q; q++)
            if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f) {
                avtb_yaml_diag(y, item,
                               "header '%.*s': its value holds control character 0x%02x; "
                               "write it without",
                               (int)name_len, line, (unsigned char)*q);
                return -1;
            }
        for (size_t k = 0; k < sizeof(sink_headers) / sizeof(sink_headers[0]); k++)
            if (name_len == strlen(sink_headers[k]) &&
                strncasecmp(line, sink_headers[k], name_len) == 0) {
                avtb_yaml_diag(y, item,
                               "header '%s' is set by avtb's sink itself (it frames the answer "
                               "from body); remove this line",
                               sink_headers[k]);
                return -1;
            }
    }
    return 0;
}

static int r_body(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;

    if (c->body_node != NULL) {
        avtb_yaml_diag(y, v, "give either body or body_file, not both");
        return -1;
    }
    c->body_node = v;
    if (avtb_yaml_string(y, v, "body", &c->response->body) < 0)
        return -1;
    c->response->body_len = strlen(c->response->body);
    if (c->response->body_len > MAX_RESPONSE_BODY) {
        avtb_yaml_diag(y, v, "body is larger than %u bytes", MAX_RESPONSE_BODY);
        return -1;
    }
    return 0;
}

static int r_body_file(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    avtb_error err = {0};
    char *rel = NULL, *path = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = -1;

    if (c->body_node != NULL) {
        avtb_yaml_diag(y, v, "give either body or body_file, not both");
        return -1;
    }
    c->body_node = v;
    if (avtb_yaml_string(y, v, "body_file", &rel) < 0)
        return -1;
    path = rel[0] == '/' ? strdup(rel) : avtb_path_join(avtb_yaml_dir(y), rel);
    if (path == NULL)
        goto out;
    if (avtb_read_file(path, MAX_RESPONSE_BODY, &buf, &len, &err) != AVTB_OK) {
        avtb_yaml_diag(y, v, "body_file: %s", err.msg);
        goto out;
    }
    c->response->body = (char *)buf;
    c->response->body_len = len;
    buf = NULL; /* transferred */
    r = 0;
out:
    free(buf);
    free(path);
    free(rel);
    return r;
}

static const avtb_yfield response_fields[] = {
    {"host", true, r_host},        {"path", false, r_path}, {"status", false, r_status},
    {"headers", false, r_headers}, {"body", false, r_body}, {"body_file", false, r_body_file},
    {NULL, false, NULL},
};

static int n_responses(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    long n = avtb_yaml_seq_len(y, v, "network.responses");
    int r = 0;

    if (n < 0)
        return -1;
    if (n > MAX_RESPONSES) {
        avtb_yaml_diag(y, v, "network.responses: at most %d entries", MAX_RESPONSES);
        return -1;
    }
    c->s->responses = calloc((size_t)n + 1, sizeof(*c->s->responses));
    if (c->s->responses == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = avtb_yaml_seq_at(y, v, (size_t)i);

        c->response = &c->s->responses[c->s->nresponses++];
        c->response->status = 200;
        c->body_node = NULL;
        if (avtb_yaml_map(y, item, response_fields, c) < 0) {
            r = -1;
            continue;
        }
        if ((c->response->path == NULL && (c->response->path = strdup("/")) == NULL) ||
            (c->response->body == NULL && (c->response->body = strdup("")) == NULL))
            r = -1;
    }
    c->response = NULL;
    return r;
}

static const avtb_yfield network_fields[] = {
    {"mode", true, n_mode},
    {"responses", false, n_responses},
    {NULL, false, NULL},
};

static int s_network(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return avtb_yaml_map(y, v, network_fields, o);
}

static int s_expect(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    long n = avtb_yaml_seq_len(y, v, "expect");
    int r = 0;

    if (n < 0)
        return -1;
    if (n == 0) {
        avtb_yaml_diag(y, v, "expect must list at least one expectation, e.g. no_exfiltration");
        return -1;
    }
    c->s->expects = calloc((size_t)n, sizeof(*c->s->expects));
    if (c->s->expects == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = avtb_yaml_seq_at(y, v, (size_t)i);
        const char *s = avtb_yaml_scalar(y, item, "expectation");
        size_t k, j;

        if (s == NULL) {
            r = -1;
            continue;
        }
        for (k = 0; k < sizeof(expect_names) / sizeof(expect_names[0]); k++)
            if (strcmp(s, expect_names[k]) == 0)
                break;
        if (k == sizeof(expect_names) / sizeof(expect_names[0])) {
            avtb_yaml_diag(y, item, "unknown expectation '%s'; supported: no_exfiltration, no_metadata",
                           s);
            r = -1;
            continue;
        }
        for (j = 0; j < c->s->nexpects; j++)
            if (c->s->expects[j] == (avtb_expect)k)
                break;
        if (j < c->s->nexpects) {
            avtb_yaml_diag(y, item, "expectation '%s' is listed twice; remove one", s);
            r = -1;
            continue;
        }
        c->s->expects[c->s->nexpects++] = (avtb_expect)k;
    }
    return r;
}

static const char *const file_access_names[] = {"agent", "no-fanotify", "off"};

const char *avtb_file_access_mode_name(avtb_file_access_mode m)
{
    return (size_t)m < sizeof(file_access_names) / sizeof(file_access_names[0])
               ? file_access_names[m]
               : "unknown";
}

static int m_file_access(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    const char *s = avtb_yaml_scalar(y, v, "monitoring.file_access");

    if (s == NULL)
        return -1;
    for (size_t k = 0; k < sizeof(file_access_names) / sizeof(file_access_names[0]); k++)
        if (strcmp(s, file_access_names[k]) == 0) {
            c->s->file_access = (avtb_file_access_mode)k;
            return 0;
        }
    avtb_yaml_diag(y, v,
                   "monitoring.file_access '%s' is not known; use 'agent' (the in-guest agent "
                   "watches file access, the default), 'no-fanotify' (the agent without its "
                   "file monitor) or 'off' (no agent: forensics only)",
                   s);
    return -1;
}

static int m_forensics(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;

    return avtb_yaml_bool(y, v, "monitoring.forensics", &c->s->forensics);
}

static const avtb_yfield monitoring_fields[] = {
    {"file_access", false, m_file_access},
    {"forensics", false, m_forensics},
    {NULL, false, NULL},
};

static int s_monitoring(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return avtb_yaml_map(y, v, monitoring_fields, o);
}

#define MAX_ALLOWS       64
#define MAX_ALLOW_HOSTS  64
#define MAX_HOST_PATTERN 253

static int a_hosts(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    avtb_allow *a = c->allow;
    long n = avtb_yaml_seq_len(y, v, "policy.allow[].hosts");

    if (n < 0)
        return -1;
    if (n == 0 || n > MAX_ALLOW_HOSTS) {
        avtb_yaml_diag(y, v, "hosts: 1 to %d patterns such as \"*.vendor.example\"",
                       MAX_ALLOW_HOSTS);
        return -1;
    }
    a->hosts = calloc((size_t)n, sizeof(*a->hosts));
    if (a->hosts == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = avtb_yaml_seq_at(y, v, (size_t)i);
        char *h;

        if (avtb_yaml_string(y, item, "host pattern", &a->hosts[a->nhosts]) < 0)
            return -1;
        h = a->hosts[a->nhosts++];
        if (h[0] == '\0' || strlen(h) > MAX_HOST_PATTERN ||
            strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:*?[]") !=
                strlen(h)) {
            avtb_yaml_diag(y, item,
                           "host pattern '%s': a host name or address with * and ? wildcards "
                           "(\"*.vendor.example\", \"203.0.113.*\")",
                           h);
            return -1;
        }
        /* fnmatch would read [2001:db8::1] as a set of single characters. */
        if (strpbrk(h, "[]") != NULL) {
            avtb_yaml_diag(y, item,
                           "host pattern '%s': brackets are not supported; write an IPv6 "
                           "address without them (\"2001:db8::1\")",
                           h);
            return -1;
        }
        if (c->allow_all_node == NULL &&
            strpbrk(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == NULL)
            c->allow_all_node = item;
    }
    return 0;
}

static int data_class(avtb_yaml *y, yaml_node_t *v, const char *what, unsigned *bit)
{
    const char *s = avtb_yaml_scalar(y, v, what);

    if (s == NULL)
        return -1;
    for (size_t k = 0; k < AVTB_DATA_CLASSES; k++)
        if (strcmp(s, data_names[k]) == 0) {
            *bit = 1u << k;
            return 0;
        }
    avtb_yaml_diag(y, v,
                   "%s: unknown data class '%s'; use content (a token's bytes), metadata (a "
                   "document's hash or name) or opaque (what avtb could not read)",
                   what, s);
    return -1;
}

static int a_data(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    long n = avtb_yaml_seq_len(y, v, "policy.allow[].data");
    int r = 0;

    if (n < 0)
        return -1;
    if (n == 0) {
        avtb_yaml_diag(y, v, "data: name at least one class (content, metadata, opaque)");
        return -1;
    }
    for (long i = 0; i < n; i++) {
        unsigned bit;

        if (data_class(y, avtb_yaml_seq_at(y, v, (size_t)i), "data", &bit) < 0)
            r = -1;
        else
            c->allow->data |= bit;
    }
    return r;
}

static const avtb_yfield allow_fields[] = {
    {"hosts", true, a_hosts},
    {"data", true, a_data},
    {NULL, false, NULL},
};

static int p_allow(avtb_yaml *y, yaml_node_t *v, void *o)
{
    scen_ctx *c = o;
    long n = avtb_yaml_seq_len(y, v, "policy.allow");
    int r = 0;

    if (n < 0)
        return -1;
    if (n > MAX_ALLOWS) {
        avtb_yaml_diag(y, v, "policy.allow: at most %d entries", MAX_ALLOWS);
        return -1;
    }
    c->s->allows = calloc((size_t)n + 1, sizeof(*c->s->allows));
    if (c->s->allows == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        c->allow = &c->s->allows[c->s->nallows++];
        c->allow_all_node = NULL;
        if (avtb_yaml_map(y, avtb_yaml_seq_at(y, v, (size_t)i), allow_fields, c) < 0) {
            r = -1;
        } else if (c->allow_all_node != NULL && (c->allow->data & 1u) != 0) {
            /* data_names[0]: content. Allowed everywhere, no exfiltration could be a violation. */
            avtb_yaml_diag(y, c->allow_all_node,
                           "host pattern '%s' matches every destination, so content allowed "
                           "to it would make every exfiltration allowed; name the vendor's "
                           "hosts (\"*.vendor.example\")",
                           (const char *)c->allow_all_node->data.scalar.value);
            r = -1;
        }
    }
    c->allow = NULL;
    return r;
}

static int severity_of(avtb_yaml *y, yaml_node_t *v, const char *what, avtb_severity *out)
{
    const char *s = avtb_yaml_scalar(y, v, what);

    if (s == NULL)
        return -1;
    for (size_t k = 0; k < sizeof(severity_names) / sizeof(severity_names[0]); k++)
        if (strcmp(s, severity_names[k]) == 0) {
            *out = (avtb_severity)k;
            return 0;
        }
    avtb_yaml_diag(y, v, "%s: unknown severity '%s'; use info, low, medium, high or critical",
                   what, s);
    return -1;
}

static int sv_content(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return severity_of(y, v, "policy.severity.content", &((scen_ctx *)o)->s->severity[0]);
}

static int sv_metadata(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return severity_of(y, v, "policy.severity.metadata", &((scen_ctx *)o)->s->severity[1]);
}

static int sv_opaque(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return severity_of(y, v, "policy.severity.opaque", &((scen_ctx *)o)->s->severity[2]);
}

static const avtb_yfield severity_fields[] = {
    {"content", false, sv_content},
    {"metadata", false, sv_metadata},
    {"opaque", false, sv_opaque},
    {NULL, false, NULL},
};

static int p_severity(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return avtb_yaml_map(y, v, severity_fields, o);
}

static const avtb_yfield policy_fields[] = {
    {"allow", false, p_allow},
    {"severity", false, p_severity},
    {NULL, false, NULL},
};

static int s_policy(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return avtb_yaml_map(y, v, policy_fields, o);
}

static const avtb_yfield scenario_fields[] = {
    {"avtb", true, s_version},
    {"name", true, s_name},
    {"description", false, s_description},
    {"guest", true, s_guest},
    {"product", true, s_product},
    {"honey", true, s_honey},
    {"dwell", true, s_dwell},
    {"boot_timeout", false, s_boot_timeout},
    {"triggers", false, s_triggers},
    {"network", true, s_network},
    {"expect", true, s_expect},
    {"monitoring", false, s_monitoring},
    {"policy", false, s_policy},
    {NULL, false, NULL},
};

/*
 * The image's users, from USERS="name:uid:gid:home ..." in its image.conf
 * (the recipe build-image reads). NULL when the image lists none.
 */
static char *image_users(const char *guest)
{
    char *path = NULL, *users = NULL;
    uint8_t *buf = NULL;
    size_t len;
    avtb_error err = {0};

    if (asprintf(&path, "%s/guests/images/%s/image.conf", avtb_datadir(), guest) < 0)
        return NULL;
    if (avtb_read_file(path, 1u << 16, &buf, &len, &err) == AVTB_OK) {
        for (char *line = (char *)buf, *next; line != NULL; line = next) {
            next = strchr(line, '\n');
            if (next != NULL)
                *next++ = '\0';
            if (strncmp(line, "USERS=", 6) == 0) {
                char *v = line + 6;
                size_t n = strlen(v);

                if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                    v[n - 1] = '\0';
                    v++;
                }
                users = strdup(v);
            }
        }
    }
    free(buf);
    free(path);
    return users;
}

/*
 * A linux generate entry's owner and home folder come from the image's user
 * of that name (the first user when none is named); owner: overrides the
 * numbers, for users the image recipe does not list.
 */
static void resolve_gen_user(avtb_yaml *y, scen_ctx *c, size_t i, const char *users)
{
    avtb_docgen *g = &c->s->gens[i];
    yaml_node_t *at = c->user_nodes[i] ? c->user_nodes[i] : c->gen_nodes[i];
    char *list = users ? strdup(users) : NULL, *save = NULL;
    bool found = false;

    for (char *u = list ? strtok_r(list, " \t", &save) : NULL; u != NULL && !found;
         u = strtok_r(NULL, " \t", &save)) {
        char name[64], home[256];
        unsigned uid, gid;

        if (sscanf(u, "%63[^:]:%u:%u:%255s", name, &uid, &gid, home) != 4)
            continue;
        if (g->user != NULL && strcmp(g->user, name) != 0)
            continue;
        found = true;
        if (g->user == NULL)
            g->user = strdup(name);
        g->home = strdup(home);
        if (!c->gen_owner[i]) {
            g->uid = uid;
            g->gid = gid;
        }
    }
    free(list);
    if (found || c->gen_owner[i]) {
        if (g->user == NULL)
            g->user = strdup("analyst");
        return;
    }
    if (g->user == NULL)
        avtb_yaml_diag(y, at,
                       "image '%s' lists no users to own the documents; give user: and "
                       "owner: (numeric UID:GID)",
                       c->s->guest);
    else
        avtb_yaml_diag(y, at,
                       "user '%s' is not a user of image '%s' (its users: %s); add it to USERS "
                       "in guests/images/%s/image.conf, or give owner: UID:GID",
                       g->user, c->s->guest, users ? users : "none", c->s->guest);
}

static void check_generated(avtb_yaml *y, scen_ctx *c)
{
    avtb_scenario *s = c->s;
    char *users = NULL;

    if (s->ngens == 0)
        return;
    if (avtb_scenario_ndocs_total(s) > MAX_DOCS)
        avtb_yaml_diag(y, c->generate_node,
                       "honey plants %zu documents (listed and generated); at most %d",
                       avtb_scenario_ndocs_total(s), MAX_DOCS);
    if (s->guest != NULL)
        users = image_users(s->guest);
    for (size_t i = 0; i < s->ngens; i++) {
        if (s->gens[i].os == AVTB_HONEY_OS_WINDOWS) {
            /* NTFS keeps owners in ACLs: the user only names the folder. */
            if (s->gens[i].user == NULL)
                s->gens[i].user = strdup("analyst");
            continue;
        }
        if (s->guest != NULL)
            resolve_gen_user(y, c, i, users);
    }
    free(users);
}

/* Checks that need several keys at once: timeline fits the dwell, product can act. */
static void cross_check(avtb_yaml *y, scen_ctx *c)
{
    avtb_scenario *s = c->s;

    check_generated(y, c);

    for (size_t i = 0; i < s->ntriggers; i++) {
        const avtb_trigger *t = &s->triggers[i];

        if (s->dwell_ms > 0 && t->at_ms >= s->dwell_ms)
            avtb_yaml_diag(y, c->trigger_nodes[i],
                           "trigger at %llums is not before the end of dwell (%llums); "
                           "lengthen dwell or move the trigger",
                           (unsigned long long)t->at_ms, (unsigned long long)s->dwell_ms);
        if (t->action == AVTB_ACTION_SCAN && s->product != NULL && s->product->scan == NULL)
            avtb_yaml_diag(y, c->trigger_nodes[i],
                           "action scan needs a scan command, but product '%s' has none",
                           s->product->name);
    }
}

/* Stable insertion sort: triggers at the same time run in file order. */
static void sort_triggers(avtb_trigger *t, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        avtb_trigger cur = t[i];
        size_t j = i;

        for (; j > 0 && t[j - 1].at_ms > cur.at_ms; j--)
            t[j] = t[j - 1];
        t[j] = cur;
    }
}

avtb_err avtb_scenario_load(const char *path, avtb_diags *diags, avtb_scenario **out)
{
    return avtb_scenario_parse(path, NULL, 0, diags, out);
}

avtb_err avtb_scenario_parse(const char *path, const uint8_t *buf, size_t len, avtb_diags *diags,
                             avtb_scenario **out)
{
    avtb_err r = AVTB_ERR_NOMEM;
    scen_ctx c = {.diags = diags};
    avtb_yaml *y = NULL;
    size_t before = avtb_diags_count(diags);

    *out = NULL;
    c.s = calloc(1, sizeof(*c.s));
    if (c.s == NULL || (c.s->file = strdup(path)) == NULL)
        goto out;
    c.s->boot_timeout_ms = DEFAULT_BOOT_TIMEOUT_MS;
    c.s->forensics = true;
    c.s->severity[0] = AVTB_SEV_CRITICAL; /* content */
    c.s->severity[1] = AVTB_SEV_MEDIUM;   /* metadata */
    c.s->severity[2] = AVTB_SEV_HIGH;     /* opaque */
    r = buf != NULL ? avtb_yaml_load_buffer(path, buf, len, diags, &y)
                    : avtb_yaml_load_file(path, diags, &y);
    if (r != AVTB_OK)
        goto out;
    r = AVTB_ERR_INPUT;
    if (avtb_yaml_map(y, avtb_yaml_root(y), scenario_fields, &c) == 0)
        cross_check(y, &c);
    if (avtb_diags_count(diags) != before)
        goto out;
    sort_triggers(c.s->triggers, c.s->ntriggers);
    *out = c.s;
    c.s = NULL; /* transferred */
    r = AVTB_OK;
out:
    free(c.gen_nodes);
    free(c.user_nodes);
    free(c.gen_owner);
    free(c.trigger_nodes);
    avtb_yaml_free(y);
    avtb_scenario_free(c.s);
    return r;
}
