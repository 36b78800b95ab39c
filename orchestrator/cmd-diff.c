/* SPDX-License-Identifier: Apache-2.0 */
/*
 * avtb diff OLD NEW: what changed between two runs, or two sets of runs (a
 * nightly --out directory each), for CI. Runs are paired by scenario name;
 * findings by what they say rather than by token (every run has fresh
 * tokens): kind, document, protocol, destination (host, else address),
 * port and encoding. A regression is a worse verdict, an expectation that
 * held and now fails, or a violation the old run did not have.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "orchestrator/cli.h"
#include "reports/report.h"

#define MAX_RUNS 4096

typedef struct run_rep {
    char *dir;   /* evidence directory */
    json_t *rep; /* its report.json */
    const char *scenario;
    const char *finished;
} run_rep;

typedef struct run_set {
    run_rep *runs;
    size_t n;
} run_set;

static void set_free(run_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->runs[i].dir);
        json_decref(s->runs[i].rep);
    }
    free(s->runs);
    memset(s, 0, sizeof(*s));
}

/* Adds DIR's report.json when it has one; false only on a report that does not parse. */
static bool add_run(run_set *s, const char *dir, bool *added, avtb_error *err)
{
    char *path = avtb_path_join(dir, "report.json");
    json_error_t jerr;
    json_t *rep;
    const char *name;

    *added = false;
    if (path == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory"), false;
    if (access(path, F_OK) != 0) {
        free(path);
        return true;
    }
    rep = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (rep == NULL) {
        avtb_error_set(err, AVTB_ERR_INPUT, "%s:%d: %s", path, jerr.line, jerr.text);
        free(path);
        return false;
    }
    free(path);
    name = json_string_value(json_object_get(json_object_get(rep, "scenario"), "name"));
    if (name == NULL || s->n >= MAX_RUNS) {
        avtb_error_set(err, AVTB_ERR_INPUT, "%s/report.json: %s", dir,
                       name == NULL ? "no scenario.name: not an avtb report"
                                    : "too many runs (at most 4096)");
        json_decref(rep);
        return false;
    }
    s->runs[s->n] = (run_rep){.dir = strdup(dir),
                              .rep = rep,
                              .scenario = name,
                              .finished = json_string_value(json_object_get(rep, "finished"))};
    s->n++;
    *added = true;
    return true;
}

/*
 * An evidence directory, or a directory of them (avtb run --out): for each
 * scenario the latest finished run counts.
 */
static avtb_err load_set(const char *arg, run_set *s, avtb_error *err)
{
    struct stat st;
    bool added;
    DIR *d;
    struct dirent *e;

    memset(s, 0, sizeof(*s));
    if (stat(arg, &st) < 0 || !S_ISDIR(st.st_mode))
        return avtb_error_set(err, AVTB_ERR_INPUT,
                              "%s is not a directory: give an evidence directory or an "
                              "avtb run --out directory",
                              arg);
    s->runs = calloc(MAX_RUNS, sizeof(*s->runs));
    if (s->runs == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    if (!add_run(s, arg, &added, err))
        return err->code;
    if (added)
        return AVTB_OK;
    if ((d = opendir(arg)) == NULL)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot read %s", arg);
    while ((e = readdir(d)) != NULL) {
        char *sub;

        if (e->d_name[0] == '.')
            continue;
        sub = avtb_path_join(arg, e->d_name);
        if (sub == NULL || !add_run(s, sub, &added, err)) {
            free(sub);
            closedir(d);
            return sub == NULL ? avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory") : err->code;
        }
        free(sub);
    }
    closedir(d);
    if (s->n == 0)
        return avtb_error_set(err, AVTB_ERR_INPUT, "%s holds no report.json (nor do its folders)",
                              arg);
    return AVTB_OK;
}

/* The latest run of scenario in s, or NULL. */
static const run_rep *latest(const run_set *s, const char *scenario)
{
    const run_rep *best = NULL;

    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->runs[i].scenario, scenario) == 0 &&
            (best == NULL || strcmp(s->runs[i].finished ? s->runs[i].finished : "",
                                    best->finished ? best->finished : "") > 0))
            best = &s->runs[i];
    return best;
}

/* Worse verdicts rank higher. */
static int verdict_rank(const char *v)
{
    /* What a nightly run should alarm on, mildest first. incomplete ranks
     * between metadata-only and suspected: the run could not show anything. */
    static const char *const order[] = {"clean", "metadata-only", "incomplete", "suspected",
                                        "exfiltration"};

    for (size_t i = 0; v != NULL && i < sizeof(order) / sizeof(order[0]); i++)
        if (strcmp(v, order[i]) == 0)
            return (int)i;
    return -1;
}

/* Each finding's key, computed once: a JSON array of strings (NULL when out of memory). */
static json_t *keys_of(json_t *findings)
{
    json_t *keys = json_array(), *f;
    size_t i;

    json_array_foreach(findings, i, f)
    {
        char *k = avtb_report_finding_key(f);

        if (keys == NULL || k == NULL || json_array_append_new(keys, json_string(k)) < 0) {
            free(k);
            json_decref(keys);
            return NULL;
        }
        free(k);
    }
    return keys;
}

static bool has_key(json_t *keys, const char *key)
{
    size_t i;
    json_t *k;

    json_array_foreach(keys, i, k) if (strcmp(json_string_value(k), key) == 0) return true;
    return false;
}

/* Keys of a that b lacks, once each, into out; counts the violations among them. */
static size_t only_in(json_t *a, json_t *b, json_t *out)
{
    size_t i, violations = 0;
    json_t *k;

    json_array_foreach(a, i, k)
    {
        const char *key = json_string_value(k);

        if (has_key(b, key) || has_key(out, key))
            continue;
        violations += strstr(key, "(violation)") != NULL || strstr(key, "(unjudged)") != NULL;
        json_array_append(out, k);
    }
    return violations;
}

/* An expectation held in old and does not in new. */
static void broken_expectations(json_t *old, json_t *new, json_t *out)
{
    size_t i, j;
    json_t *n, *o;

    json_array_foreach(json_object_get(new, "expectations"), i, n)
    {
        const char *name = json_string_value(json_object_get(n, "name"));
        const char *res = json_string_value(json_object_get(n, "result"));

        if (name == NULL || res == NULL || strcmp(res, "held") == 0)
            continue;
        json_array_foreach(json_object_get(old, "expectations"), j, o)
        {
            const char *oname = json_string_value(json_object_get(o, "name"));
            const char *ores = json_string_value(json_object_get(o, "result"));

            if (oname && ores && strcmp(oname, name) == 0 && strcmp(ores, "held") == 0)
                json_array_append_new(
                    out, json_pack("{s:s, s:s, s:s}", "name", name, "old", ores, "new", res));
        }
    }
}

/* One scenario's comparison; *regressed set when it is worse. */
static json_t *compare(const char *scenario, const run_rep *o, const run_rep *n, bool *regressed,
                       bool *missing)
{
    json_t *c = json_pack("{s:s, s:s?, s:s?}", "scenario", scenario, "old", o ? o->dir : NULL,
                          "new", n ? n->dir : NULL);
    json_t *added = json_array(), *gone = json_array(), *exps = json_array();
    json_t *okeys, *nkeys;
    const char *ov, *nv;
    size_t new_violations;

    if (o == NULL || n == NULL) {
        *missing = true;
        json_object_set_new(c, "change", json_string(o ? "missing in new" : "new scenario"));
        json_decref(added);
        json_decref(gone);
        json_decref(exps);
        return c;
    }
    ov = json_string_value(json_object_get(o->rep, "verdict"));
    nv = json_string_value(json_object_get(n->rep, "verdict"));
    okeys = keys_of(json_object_get(o->rep, "findings"));
    nkeys = keys_of(json_object_get(n->rep, "findings"));
    new_violations = only_in(nkeys, okeys, added);
    only_in(okeys, nkeys, gone);
    json_decref(okeys);
    json_decref(nkeys);
    broken_expectations(o->rep, n->rep, exps);
    *regressed =
        verdict_rank(nv) > verdict_rank(ov) || new_violations > 0 || json_array_size(exps) > 0;
    json_object_set_new(c, "verdict", json_pack("{s:s?, s:s?}", "old", ov, "new", nv));
    json_object_set_new(c, "new_findings", added);
    json_object_set_new(c, "vanished_findings", gone);
    json_object_set_new(c, "broken_expectations", exps);
    json_object_set_new(c, "regression", json_boolean(*regressed));
    return c;
}

static void print_text(json_t *c, FILE *fp)
{
    const char *sc = json_string_value(json_object_get(c, "scenario"));
    const char *change = json_string_value(json_object_get(c, "change"));
    json_t *v = json_object_get(c, "verdict"), *x;
    const char *ov = json_string_value(json_object_get(v, "old")),
               *nv = json_string_value(json_object_get(v, "new"));
    size_t i;

    if (change != NULL) {
        fprintf(fp, "%s: %s\n", sc, change);
        return;
    }
    fprintf(fp, "%s: %s%s%s%s\n", sc, ov ? ov : "?", strcmp(ov ?: "", nv ?: "") ? " -> " : "",
            strcmp(ov ?: "", nv ?: "") ? (nv ? nv : "?") : "",
            json_is_true(json_object_get(c, "regression")) ? "  REGRESSION" : "");
    json_array_foreach(json_object_get(c, "new_findings"), i, x)
        fprintf(fp, "  + %s\n", json_string_value(x));
    json_array_foreach(json_object_get(c, "vanished_findings"), i, x)
        fprintf(fp, "  - %s\n", json_string_value(x));
    json_array_foreach(json_object_get(c, "broken_expectations"), i, x) fprintf(
        fp, "  ! expectation %s: %s -> %s\n", json_string_value(json_object_get(x, "name")),
        json_string_value(json_object_get(x, "old")), json_string_value(json_object_get(x, "new")));
}

static int diff_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    run_set old = {0}, new = {0};
    avtb_error err = {0};
    json_t *out = NULL, *scen;
    bool json = false, regressed = false, missing = false;
    int opt, code = AVTB_EXIT_USAGE;

    optind = 0; /* 0, not 1: glibc then re-reads the option string (permuting again) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 'j') {
            json = true;
        } else {
            avtb_cli_usage(&avtb_cmd_diff, opt == 'h' ? stdout : stderr);
            return opt == 'h' ? AVTB_EXIT_OK : AVTB_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        avtb_cli_usage(&avtb_cmd_diff, stderr);
        return AVTB_EXIT_USAGE;
    }
    if (load_set(argv[optind], &old, &err) != AVTB_OK ||
        load_set(argv[optind + 1], &new, &err) != AVTB_OK) {
        fprintf(stderr, "avtb diff: %s\n", err.msg);
        goto out;
    }
    out = json_array();
    scen = json_object(); /* scenario names seen, in order */
    for (int side = 0; out != NULL && scen != NULL && side < 2; side++) {
        const run_set *s = side == 0 ? &old : &new;

        for (size_t i = 0; i < s->n; i++) {
            const char *name = s->runs[i].scenario;
            bool r = false, m = false;

            if (json_object_get(scen, name) != NULL)
                continue;
            json_object_set_new(scen, name, json_true());
            json_array_append_new(out,
                                  compare(name, latest(&old, name), latest(&new, name), &r, &m));
            regressed |= r;
            missing |= m && latest(&new, name) == NULL;
        }
    }
    json_decref(scen);
    if (out == NULL) {
        fprintf(stderr, "avtb diff: out of memory\n");
        code = AVTB_EXIT_INFRA;
        goto out;
    }
    if (json) {
        json_t *root = json_pack("{s:O, s:b}", "scenarios", out, "regression", regressed);

        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        putchar('\n');
        json_decref(root);
    } else {
        size_t i;
        json_t *c;

        json_array_foreach(out, i, c) print_text(c, stdout);
        printf("%s\n", regressed ? "regression"
                       : missing ? "no regression; runs missing in NEW"
                                 : "no regression");
    }
    code = regressed ? AVTB_EXIT_FAILED : missing ? AVTB_EXIT_INFRA : AVTB_EXIT_OK;
out:
    json_decref(out);
    set_free(&old);
    set_free(&new);
    return code;
}

const avtb_cmd avtb_cmd_diff = {
    .name = "diff",
    .usage = "OLD NEW [--json]",
    .summary = "compare two runs or two nightly result folders; exit 1 on a regression",
    .help = "  OLD, NEW   an evidence directory, or a folder of them (avtb run --out);\n"
            "             runs are paired by scenario (the latest of each)\n"
            "  --json     machine-readable output\n"
            "\n"
            "Findings are compared by what they say (kind, document, protocol, destination,\n"
            "port, encoding, allowed or not), not by token: every run has fresh tokens.\n"
            "A regression is a worse verdict (clean < metadata-only < incomplete < suspected\n"
            "< exfiltration), an expectation that held and now does not, or a violation\n"
            "the old run did not have. Exit 0: no regression; 1: a regression; 2: bad\n"
            "input; 3: no regression, but a scenario of OLD has no run in NEW.\n",
    .run = diff_main,
};
