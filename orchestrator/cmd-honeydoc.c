/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `avtb honeydoc`: honey documents outside a run, for a lab's own machines
 * or to look at what a run plants. The same generator and registry as a run
 * (guests/honeygen.h): the documents go to DIR/<guest path>, backdated, with
 * DIR/tokens.json and DIR/tokens.txt beside them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "common/error.h"
#include "common/util.h"
#include "guests/honeygen.h"
#include "orchestrator/cli.h"
#include "scenarios/scenario.h"

#define MAX_LIST 64

typedef struct honeydoc_args {
    avtb_doc_format formats[MAX_LIST];
    size_t nformats;
    char *markings[MAX_LIST];
    size_t nmarkings;
    uint64_t seed, count;
    bool has_seed;
    int64_t now;
    avtb_honey_os os;
    const char *user, *scenario, *out;
} honeydoc_args;

static int usage_error(const char *fmt, ...) AVTB_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "avtb honeydoc: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    avtb_cli_usage(&avtb_cmd_honeydoc, stderr);
    return AVTB_EXIT_USAGE;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9')
        return false;
    v = strtoull(s, &end, 10);
    if (*end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

/* --format takes one name or a comma-separated list, and may be repeated. */
static bool add_formats(honeydoc_args *x, const char *arg)
{
    char *copy = strdup(arg), *save = NULL;
    bool ok = copy != NULL;

    for (char *f = ok ? strtok_r(copy, ",", &save) : NULL; f != NULL && ok;
         f = strtok_r(NULL, ",", &save))
        ok = x->nformats < MAX_LIST && avtb_doc_format_parse(f, &x->formats[x->nformats++]);
    free(copy);
    return ok && x->nformats > 0;
}

/* DIR/<guest path>, with the document's mode and backdated times. */
static avtb_err write_doc(const char *dir, const avtb_honeydoc *d, avtb_error *err)
{
    char *path = NULL, *parent = NULL;
    avtb_err r = AVTB_ERR_NOMEM;

    if (asprintf(&path, "%s%s", dir, d->guest_path) < 0) {
        path = NULL;
        goto out;
    }
    if ((parent = strdup(path)) == NULL)
        goto out;
    r = avtb_mkdir_p(dirname(parent), 0755, err);
    if (r == AVTB_OK)
        r = avtb_write_file(path, d->content, d->len, d->mode, err);
    if (r == AVTB_OK && d->mtime > 0) {
        struct timespec ts[2] = {{.tv_sec = (time_t)d->atime}, {.tv_sec = (time_t)d->mtime}};

        if (utimensat(AT_FDCWD, path, ts, 0) < 0)
            r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot set the times of %s", path);
    }
out:
    if (r == AVTB_ERR_NOMEM)
        avtb_error_set(err, r, "out of memory");
    free(parent);
    free(path);
    return r;
}

static int generate(const honeydoc_args *x)
{
    avtb_scenario one = {0}, *s = &one;
    avtb_docgen gen = {0};
    void **loaded = NULL;
    avtb_honeydoc **docs = NULL;
    size_t n = 0;
    avtb_error err = {0};
    avtb_honeygen_conf conf = {.seed = x->seed, .now = x->now};
    avtb_honey_origin origin = {x->seed, x->has_seed ? "command line" : "random", x->now};
    avtb_err r;

    if (x->scenario != NULL) {
        char *path = (char *)x->scenario;

        if (avtb_cli_load_scenarios(1, &path, &loaded) < 0)
            return AVTB_EXIT_USAGE;
        s = loaded[0];
        /* As a run does: the scenario's seed unless the command line gives one. */
        if (s->has_seed && !x->has_seed) {
            conf.seed = origin.seed = s->seed;
            origin.seed_source = "scenario";
        }
    } else {
        gen.count = x->count;
        gen.formats = (avtb_doc_format *)x->formats;
        gen.nformats = x->nformats;
        gen.markings = (char **)x->markings;
        gen.nmarkings = x->nmarkings;
        gen.os = x->os;
        gen.user = (char *)x->user;
        one.gens = &gen;
        one.ngens = 1;
    }
    r = avtb_scenario_honey(s, &conf, &docs, &n, &err);
    if (r == AVTB_OK)
        r = avtb_mkdir_p(x->out, 0755, &err);
    for (size_t i = 0; r == AVTB_OK && i < n; i++) {
        const avtb_honeydoc *d = docs[i];

        r = write_doc(x->out, d, &err);
        if (r == AVTB_OK)
            printf("%s%s  (%s, %s, %zu token%s)\n", x->out, d->guest_path,
                   d->format ? d->format : "template", d->marking ? d->marking : "-", d->ntokens,
                   d->ntokens == 1 ? "" : "s");
    }
    if (r == AVTB_OK)
        r = avtb_honeydoc_write_registry_origin(docs, n, &origin, x->out, &err);
    if (r == AVTB_OK)
        printf("seed %llu (%s), reference time %lld; registry %s/tokens.json\n",
               (unsigned long long)origin.seed, origin.seed_source, (long long)x->now, x->out);
    else
        fprintf(stderr, "avtb honeydoc: %s\n", err.msg);
    for (size_t i = 0; i < n; i++)
        avtb_honeydoc_free(docs[i]);
    free(docs);
    if (loaded != NULL)
        avtb_scenario_free(loaded[0]);
    free(loaded);
    return avtb_err_exit_code(r);
}

static int honeydoc_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'}, {"marking", required_argument, NULL, 'm'},
        {"seed", required_argument, NULL, 's'},   {"time", required_argument, NULL, 't'},
        {"count", required_argument, NULL, 'n'},  {"os", required_argument, NULL, 'o'},
        {"user", required_argument, NULL, 'u'},   {"scenario", required_argument, NULL, 'S'},
        {"out", required_argument, NULL, 'O'},    {NULL, 0, NULL, 0},
    };
    honeydoc_args x = {.count = 1, .user = "analyst"};
    bool generation_opts = false;
    uint64_t v;
    int c;

    optind = 0; /* 0, not 1: glibc then re-reads the option string (permuting again) */
    while ((c = getopt_long(argc, argv, "f:m:s:t:n:o:u:S:O:", opts, NULL)) != -1) {
        generation_opts |= strchr("fmnou", c) != NULL;
        switch (c) {
        case 'f':
            if (!add_formats(&x, optarg))
                return usage_error("--format '%s': give txt, csv, eml, docx, xlsx, pdf, zip or "
                                   "7z (a comma-separated list is cycled)",
                                   optarg);
            break;
        case 'm':
            if (!avtb_honeygen_marking_known(optarg) || x.nmarkings == MAX_LIST)
                return usage_error("--marking '%s' is not a marking avtb writes (OFFICIAL, "
                                   "OFFICIAL-SENSITIVE, SECRET, TOP SECRET, SECRET//NOFORN, ...; "
                                   "see scenarios/README.md)",
                                   optarg);
            x.markings[x.nmarkings++] = optarg;
            break;
        case 's':
            if (!parse_u64(optarg, AVTB_HONEYGEN_SEED_MAX, &x.seed))
                return usage_error("--seed '%s' must be a number from 0 to 9007199254740991",
                                   optarg);
            x.has_seed = true;
            break;
        case 't':
            if (!parse_u64(optarg, INT64_MAX, &v) || v == 0)
                return usage_error("--time '%s' must be seconds since 1970 (a registry's "
                                   "reference_time)",
                                   optarg);
            x.now = (int64_t)v;
            break;
        case 'n':
            if (!parse_u64(optarg, 1000, &x.count) || x.count == 0)
                return usage_error("--count '%s' must be from 1 to 1000", optarg);
            break;
        case 'o':
            if (!avtb_honey_os_parse(optarg, &x.os))
                return usage_error("--os '%s' must be linux or windows", optarg);
            break;
        case 'u':
            if (!avtb_honeygen_user_valid(optarg))
                return usage_error("--user '%s' must be a user name (letters, digits, _ . -)",
                                   optarg);
            x.user = optarg;
            break;
        case 'S':
            x.scenario = optarg;
            break;
        case 'O':
            x.out = optarg;
            break;
        default:
            avtb_cli_usage(&avtb_cmd_honeydoc, stderr);
            return AVTB_EXIT_USAGE;
        }
    }
    if (optind != argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (x.out == NULL)
        return usage_error("%s", "--out DIR is required: the documents and tokens.json go there");
    if (x.scenario != NULL && generation_opts)
        return usage_error("%s", "--scenario takes its documents from the scenario: give only "
                                 "--seed, --time and --out with it");
    if (x.nformats == 0 && !add_formats(&x, "docx,pdf,xlsx,eml,csv,txt"))
        return AVTB_EXIT_INFRA;
    if (!x.has_seed) {
        if (getrandom(&x.seed, sizeof(x.seed), 0) != (ssize_t)sizeof(x.seed)) {
            fprintf(stderr, "avtb honeydoc: no random seed: %s; give --seed\n", strerror(errno));
            return AVTB_EXIT_INFRA;
        }
        x.seed &= AVTB_HONEYGEN_SEED_MAX;
    }
    if (x.now == 0)
        x.now = (int64_t)time(NULL);
    return generate(&x);
}

const avtb_cmd avtb_cmd_honeydoc = {
    .name = "honeydoc",
    .usage = "--out DIR [--format F[,F...]] [--marking M]... [--seed S] [--time T]\n"
             "                    [--count N] [--os linux|windows] [--user U]\n"
             "       avtb honeydoc --scenario FILE --out DIR [--seed S] [--time T]",
    .summary = "generate honey documents and their token registry outside a run",
    .help = "  --out DIR        where the documents go, as DIR/<guest path>, with\n"
            "                   DIR/tokens.json and DIR/tokens.txt (the token registry)\n"
            "  --format F       txt, csv, eml, docx, xlsx, pdf, or zip / 7z (the EICAR test\n"
            "                   file with a classified document); a list is cycled (default\n"
            "                   docx,pdf,xlsx,eml,csv,txt)\n"
            "  --marking M      a protective marking (OFFICIAL-SENSITIVE, SECRET, TOP SECRET,\n"
            "                   SECRET//NOFORN, ...); repeated: cycled; default: the seed picks\n"
            "  --seed S         0 to 2^53-1: the same seed makes the same documents (tokens\n"
            "                   are fresh every time); default: random, printed\n"
            "  --time T         reference time, seconds since 1970: documents are dated before\n"
            "                   it (default now; a run's tokens.json records its own)\n"
            "  --count N        documents to make, 1 to 1000 (default 1)\n"
            "  --os OS          folder layout: linux (/home/U, /srv/share) or windows\n"
            "                   (/Users/U, /Shares); default linux\n"
            "  --user U         whose home folder the documents go in (default analyst);\n"
            "                   files under DIR keep the caller's owner\n"
            "  --scenario FILE  the documents of that scenario's honey: section instead;\n"
            "                   with a run's seed and reference_time, the run's documents\n\n"
            "Exit 0 when the documents are written, 2 on bad arguments, 3 when writing fails.\n",
    .run = honeydoc_main,
};
