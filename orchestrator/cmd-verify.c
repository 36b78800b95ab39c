/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `avtb verify`: checks a sealed evidence bundle (reports/bundle.h): every
 * file against manifest.json, the manifest against its signature, and
 * report.json against the findings and verdict re-derived from the raw
 * evidence, as `avtb analyze` derives them. The re-analysis runs on this
 * thread while another hashes the files.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collectors/canaries.h"
#include "collectors/evidence.h"
#include "common/diag.h"
#include "common/error.h"
#include "common/sandbox.h"
#include "common/util.h"
#include "orchestrator/cli.h"
#include "reports/bundle.h"
#include "reports/verdict.h"
#include "scenarios/scenario.h"

/* The confined re-analysis's object: counts, a verdict and the problems it found. */
#define REANALYSIS_RESULT_MAX (64u << 20)
#define REANALYSIS_TIMEOUT_MS (3600u * 1000)

typedef struct reanalysis {
    const char *dir;
    bool derived;    /* findings re-derived and compared */
    bool verdict;    /* verdict re-derived and compared */
    char *note;      /* why a part could not be done (not a mismatch) */
    size_t nderived; /* findings the evidence gives */
    size_t nreported;
    char *verdict_name;
    double seconds;
    avtb_bundle_check p; /* its problems, merged into the bundle's after */
    avtb_confined child; /* started before the hashing threads, read by reanalyse() */
    avtb_error start_err;
    bool started;
} reanalysis;

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *str_or(const char *s, const char *dflt)
{
    return s != NULL ? s : dflt;
}

/* The fields two findings are compared on, as one string. */
static char *finding_key(const char *kind, const char *token, const char *protocol, const char *ip,
                         long long port, const char *host, const char *capture,
                         unsigned long long flow, const char *encoding)
{
    char *k = NULL;

    if (asprintf(&k, "%s|%s|%s|%s|%lld|%s|%s|%llu|%s", kind, str_or(token, ""),
                 str_or(protocol, ""), str_or(ip, ""), port, str_or(host, ""), str_or(capture, ""),
                 flow, str_or(encoding, "")) < 0)
        return NULL;
    return k;
}

static char *derived_key(const avtb_finding *f)
{
    return finding_key(avtb_finding_kind_name(f->kind), f->token, f->protocol, f->dst.ip,
                       f->dst.port, f->dst.host, f->capture, (unsigned long long)f->flow,
                       f->encoding);
}

static void describe(char *buf, size_t cap, const char *kind, const char *token,
                     const char *protocol, const char *ip, long long port, const char *host,
                     const char *capture, unsigned long long flow)
{
    snprintf(buf, cap, "%s%s%s to %s%s%s:%lld%s over %s, %s flow %llu", kind,
             token ? " token " : "", token ? token : "", host ? host : "", host ? " (" : "",
             str_or(ip, "?"), port, host ? ")" : "", str_or(protocol, "?"),
             str_or(capture, "capture"), flow);
}

/* A report.json finding's key and description; the encoding array joined by commas. */
static char *reported_key(json_t *f, char *desc, size_t cap)
{
    json_t *dst = json_object_get(f, "dst"), *enc = json_object_get(f, "encoding"), *v;
    char encoding[1024] = "";
    size_t i, off = 0;
    const char *kind = str_or(json_string_value(json_object_get(f, "kind")), "?");
    const char *token = json_string_value(json_object_get(f, "token"));
    const char *proto = json_string_value(json_object_get(f, "protocol"));
    const char *ip = json_string_value(json_object_get(dst, "ip"));
    const char *host = json_string_value(json_object_get(dst, "host"));
    const char *capture = json_string_value(json_object_get(f, "capture"));
    long long port = json_integer_value(json_object_get(dst, "port"));
    unsigned long long flow = (unsigned long long)json_integer_value(json_object_get(f, "flow"));

    json_array_foreach(enc, i, v)
    {
        int n = snprintf(encoding + off, sizeof(encoding) - off, "%s%s", i ? "," : "",
                         str_or(json_string_value(v), "?"));

        if (n < 0 || (size_t)n >= sizeof(encoding) - off)
            break;
        off += (size_t)n;
    }
    describe(desc, cap, kind, token, proto, ip, port, host, capture, flow);
    return finding_key(kind, token, proto, ip, port, host, capture, flow, encoding);
}

static void compare_findings(reanalysis *x, const avtb_findings *have, json_t *reported)
{
    size_t n = have->count, i;
    char **keys = calloc(n ? n : 1, sizeof(*keys));
    bool *used = calloc(n ? n : 1, sizeof(*used));
    json_t *f;

    if (keys == NULL || used == NULL)
        goto out;
    for (i = 0; i < n; i++)
        keys[i] = derived_key(&have->items[i]);
    x->nreported = json_array_size(reported);
    json_array_foreach(reported, i, f)
    {
        char desc[1024];
        char *k = reported_key(f, desc, sizeof(desc));
        bool found = false;

        for (size_t j = 0; k != NULL && j < n && !found; j++)
            if (!used[j] && keys[j] != NULL && strcmp(keys[j], k) == 0)
                used[j] = found = true;
        if (!found)
            avtb_bundle_check_add(&x->p, "report.json", "finding %zu (%s) is not in the evidence",
                                  i + 1, desc);
        free(k);
    }
    for (i = 0; i < n; i++) {
        const avtb_finding *g = &have->items[i];
        char desc[1024];

        if (used[i])
            continue;
        describe(desc, sizeof(desc), avtb_finding_kind_name(g->kind), g->token, g->protocol,
                 g->dst.ip, g->dst.port, g->dst.host, g->capture, (unsigned long long)g->flow);
        avtb_bundle_check_add(&x->p, "report.json", "lacks a finding the evidence shows: %s%s%s",
                              desc, g->encoding && g->encoding[0] ? ", encoded " : "",
                              g->encoding ? g->encoding : "");
    }
    x->derived = true;
out:
    for (i = 0; keys != NULL && i < n; i++)
        free(keys[i]);
    free(keys);
    free(used);
}

static void compare_verdict(reanalysis *x, const avtb_findings *findings, json_t *report)
{
    char *path = strdup("scenario.yaml"); /* in the confined child: the evidence directory */
    avtb_diags *diags = avtb_diags_new();
    avtb_scenario *s = NULL;
    avtb_expect_result *results = NULL;
    json_t *complete = json_object_get(report, "complete"), *exps, *e;
    const char *said = json_string_value(json_object_get(report, "verdict"));
    avtb_verdict v;
    size_t i;

    if (path == NULL || diags == NULL)
        goto out;
    if (avtb_scenario_load(path, diags, &s) != AVTB_OK) {
        const avtb_diag *d = avtb_diags_count(diags) ? avtb_diags_get(diags, 0) : NULL;

        if (asprintf(&x->note,
                     "scenario.yaml cannot be loaded here (%s), so the verdict was not "
                     "re-derived, only the findings compared; its product is looked up in "
                     "%s/guests/products (set AVTB_DATADIR to the avtb tree that ran it)",
                     d ? d->msg : "unknown error", avtb_datadir()) < 0)
            x->note = NULL;
        goto out;
    }
    if (!json_is_boolean(complete)) {
        avtb_bundle_check_add(&x->p, "report.json",
                              "has no \"complete\", so the verdict cannot be re-derived");
        goto out;
    }
    results = calloc(s->nexpects ? s->nexpects : 1, sizeof(*results));
    if (results == NULL)
        goto out;
    v = avtb_verdict_decide(s, findings, json_is_true(complete), results);
    free(x->verdict_name);
    x->verdict_name = strdup(avtb_verdict_name(v));
    x->verdict = true;
    if (said == NULL || x->verdict_name == NULL || strcmp(said, x->verdict_name) != 0)
        avtb_bundle_check_add(&x->p, "report.json", "the verdict is %s, but the evidence gives %s",
                              str_or(said, "none"), x->verdict_name);
    exps = json_object_get(report, "expectations");
    json_array_foreach(exps, i, e)
    {
        const char *got = json_string_value(json_object_get(e, "result"));

        if (i >= s->nexpects)
            break;
        if (got == NULL || strcmp(got, avtb_expect_result_name(&results[i])) != 0)
            avtb_bundle_check_add(&x->p, "report.json",
                                  "expectation %zu (%s) is %s, but the evidence gives %s", i + 1,
                                  str_or(json_string_value(json_object_get(e, "name")), "?"),
                                  str_or(got, "none"), avtb_expect_result_name(&results[i]));
    }
    if (json_array_size(exps) != s->nexpects)
        avtb_bundle_check_add(&x->p, "report.json", "lists %zu expectations, the scenario has %zu",
                              json_array_size(exps), s->nexpects);
out:
    free(results);
    avtb_scenario_free(s);
    avtb_diags_free(diags);
    free(path);
}

/* The re-analysis proper, in the confined child whose directory is x->dir. */
static void reanalyse_here(reanalysis *x)
{
    avtb_error err = {0};
    avtb_canaries *c = avtb_canaries_new();
    avtb_patterns *p = NULL;
    avtb_analyze_opts opts;
    avtb_analysis a = {0};
    json_error_t jerr;
    char *rp = strdup("report.json");
    char *tp = strdup("tokens.json");
    json_t *report = NULL;

    if (c == NULL || rp == NULL || tp == NULL) {
        avtb_bundle_check_add(&x->p, "report.json", "out of memory re-deriving the findings");
        goto out;
    }
    report = json_load_file(rp, JSON_REJECT_DUPLICATES, &jerr);
    if (report == NULL) {
        avtb_bundle_check_add(&x->p, "report.json",
                              "cannot be read (%s), so its findings cannot be compared", jerr.text);
        goto out;
    }
    if (avtb_canaries_load_registry(c, tp, &err) != AVTB_OK ||
        avtb_canaries_compile(c, &p, &err) != AVTB_OK) {
        avtb_bundle_check_add(&x->p, "tokens.json", "the findings cannot be re-derived: %s",
                              err.msg);
        goto out;
    }
    avtb_analyze_opts_default(&opts);
    if (avtb_evidence_analyze(".", p, avtb_canaries_token_docs(c), &opts, &a, &err) != AVTB_OK) {
        avtb_bundle_check_add(&x->p, "capture.pcapng", "the findings cannot be re-derived: %s",
                              err.msg);
        goto out;
    }
    x->nderived = a.findings.count;
    compare_findings(x, &a.findings, json_object_get(report, "findings"));
    compare_verdict(x, &a.findings, report);
out:
    json_decref(report);
    avtb_analysis_clear(&a);
    avtb_patterns_free(p);
    avtb_canaries_free(c);
    free(rp);
    free(tp);
}

/* What the confined child found, as one JSON object for avtb. */
static avtb_err reanalysis_child(void *arg, avtb_buf *out, avtb_error *err)
{
    reanalysis *x = arg;
    json_t *o, *problems = json_array();
    char *text;

    reanalyse_here(x);
    for (size_t i = 0; problems != NULL && i < x->p.nproblems; i++)
        json_array_append_new(problems,
                              json_pack("[s,s]", x->p.problems[i].file, x->p.problems[i].what));
    o = json_pack("{s:b, s:b, s:I, s:I, s:s*, s:s*, s:o?}", "derived", x->derived, "verdict",
                  x->verdict, "nderived", (json_int_t)x->nderived, "nreported",
                  (json_int_t)x->nreported, "verdict_name", x->verdict_name, "note", x->note,
                  "problems", problems);
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    avtb_buf_str(out, text);
    free(text);
    return AVTB_OK;
}

/* Takes the child's object into x; false when it is not what the child sends. */
static bool take_reanalysis(reanalysis *x, const char *text, size_t len)
{
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL), *pr, *v;
    const char *verdict = NULL, *note = NULL;
    int derived = 0, compared = 0;
    json_int_t nderived = 0, nreported = 0;
    size_t i;

    if (o == NULL || json_unpack(o, "{s:b, s:b, s:I, s:I, s?s, s?s, s:o}", "derived", &derived,
                                 "verdict", &compared, "nderived", &nderived, "nreported",
                                 &nreported, "verdict_name", &verdict, "note", &note, "problems",
                                 &pr) != 0 ||
        !json_is_array(pr) || nderived < 0 || nreported < 0) {
        json_decref(o);
        return false;
    }
    x->derived = derived;
    x->verdict = compared;
    x->nderived = (size_t)nderived;
    x->nreported = (size_t)nreported;
    x->verdict_name = verdict ? strdup(verdict) : NULL;
    x->note = note ? strdup(note) : NULL;
    if (x->note != NULL)
        avtb_confined_text(x->note, strlen(x->note), false);
    json_array_foreach(pr, i, v)
    {
        const char *file = json_string_value(json_array_get(v, 0));
        const char *what = json_string_value(json_array_get(v, 1));

        /* The problems quote the bundle's own text: printable only on the terminal. */
        if (file != NULL && what != NULL)
            avtb_bundle_check_add(&x->p, file, "%s", what);
    }
    for (size_t k = 0; k < x->p.nproblems; k++) {
        avtb_confined_text(x->p.problems[k].file, strlen(x->p.problems[k].file), false);
        avtb_confined_text(x->p.problems[k].what, strlen(x->p.problems[k].what), false);
    }
    json_decref(o);
    return true;
}

/*
 * The re-analysis: runs while the files hash (avtb_bundle_verify_opts.concurrent),
 * in a confined child (orchestrator/PRIVSEP.md): a bundle to verify may come
 * from another lab, and every byte of its capture is a guest's.
 */
static void reanalyse(void *arg)
{
    reanalysis *x = arg;
    double t0 = now_s();
    avtb_error err = {0};
    char *text = NULL;
    size_t len = 0;

    if (x->started) {
        avtb_err e;

        x->started = false; /* finish releases the child whatever it returns */
        e = avtb_confined_finish(&x->child, REANALYSIS_RESULT_MAX, REANALYSIS_TIMEOUT_MS, NULL,
                                 &text, &len, &err);
        if (e == AVTB_OK && !take_reanalysis(x, text, len))
            e = avtb_error_set(&err, AVTB_ERR_CHILD,
                               "the analysis process sent something else than its result");
        if (e != AVTB_OK)
            avtb_bundle_check_add(&x->p, "capture.pcapng",
                                  "the findings cannot be re-derived: %s", err.msg);
    } else {
        avtb_bundle_check_add(&x->p, "capture.pcapng", "the findings cannot be re-derived: %s",
                              x->start_err.msg);
    }
    free(text);
    x->seconds = now_s() - t0;
}

static double mib_per_s(uint64_t bytes, double s)
{
    return s > 0 ? (double)bytes / (1 << 20) / s : 0.0;
}

static int print_json(const char *dir, const avtb_bundle_check *c, const reanalysis *x, bool re,
                      double total)
{
    json_t *probs = json_array(), *root;
    int rc;

    for (size_t i = 0; i < c->nproblems; i++)
        json_array_append_new(probs, json_pack("{s:s, s:s}", "file", c->problems[i].file, "problem",
                                               c->problems[i].what));
    root = json_pack(
        "{s:s, s:b, s:{s:b, s:b, s:s?, s:s}, s:{s:I, s:I, s:I, s:f, s:f, s:i}, s:o, s:f}", "bundle",
        dir, "ok", c->nproblems == 0, "signature", "signed", c->is_signed, "verified",
        c->signature_ok, "fingerprint", c->fingerprint[0] ? c->fingerprint : NULL, "key",
        c->key_given ? "given" : "named by the bundle", "integrity", "files", (json_int_t)c->files,
        "hashed", (json_int_t)c->hashed, "bytes", (json_int_t)c->bytes, "seconds", c->hash_seconds,
        "mib_per_s", mib_per_s(c->bytes, c->hash_seconds), "threads", (int)c->threads, "problems",
        probs, "seconds", total);
    if (root == NULL)
        return -1;
    if (re)
        json_object_set_new(root, "reanalysis",
                            json_pack("{s:b, s:b, s:I, s:I, s:s?, s:s?, s:f}", "findings_compared",
                                      x->derived, "verdict_compared", x->verdict, "findings",
                                      (json_int_t)x->nderived, "reported", (json_int_t)x->nreported,
                                      "verdict", x->verdict_name, "note", x->note, "seconds",
                                      x->seconds));
    else
        json_object_set_new(root, "reanalysis", json_null());
    rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    putchar('\n');
    json_decref(root);
    return rc;
}

static void print_text(const char *dir, const char *key_path, const avtb_bundle_check *c,
                       const reanalysis *x, bool re, double total)
{
    printf("bundle %s\n", dir);
    if (!c->is_signed)
        printf("signature: none (the bundle is not signed)\n");
    else if (c->signature_ok && c->key_given)
        printf("signature: good, by the key %s (%s)\n", key_path, c->fingerprint);
    else if (c->signature_ok)
        printf("signature: good, by the key the bundle names, %s; give --key LAB.pub.pem to "
               "show it is your lab's\n",
               c->fingerprint);
    else
        printf("signature: BAD%s%s%s\n", c->fingerprint[0] ? " (key " : "", c->fingerprint,
               c->fingerprint[0] ? ")" : "");
    printf("integrity: %zu of %zu files, %.1f MiB hashed in %.3f s (%.0f MiB/s, %u thread%s)\n",
           c->hashed, c->files, (double)c->bytes / (1 << 20), c->hash_seconds,
           mib_per_s(c->bytes, c->hash_seconds), c->threads, c->threads == 1 ? "" : "s");
    if (re) {
        if (x->derived)
            printf("findings: %zu re-derived from the evidence, %zu in report.json\n", x->nderived,
                   x->nreported);
        if (x->verdict)
            printf("verdict: %s, re-derived\n", x->verdict_name);
        if (x->note)
            printf("note: %s\n", x->note);
    } else {
        printf("findings: not re-derived (--no-reanalyse)\n");
    }
    for (size_t i = 0; i < c->nproblems; i++)
        printf("  %s: %s\n", c->problems[i].file, c->problems[i].what);
    printf("%s in %.2f s\n",
           c->nproblems == 0 ? "OK" : "FAILED: the bundle does not match its manifest or report",
           total);
}

static int verify_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},     {"json", no_argument, NULL, 'j'},
        {"no-reanalyse", no_argument, NULL, 'n'},  {"no-reanalyze", no_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'}, {NULL, 0, NULL, 0},
    };
    avtb_bundle_verify_opts vo = {0};
    avtb_bundle_check chk = {0};
    avtb_error err = {0};
    reanalysis x = {0};
    bool json = false, re = true;
    const char *dir;
    double t0 = now_s();
    int c, code;
    avtb_err r;

    optind = 0;
    while ((c = getopt_long(argc, argv, "k:jnt:", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            vo.key_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'n':
            re = false;
            break;
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);

            if (*end != '\0' || v < 1 || v > 8) {
                fprintf(stderr, "avtb verify: --threads takes 1 to 8, got '%s'\n", optarg);
                return AVTB_EXIT_USAGE;
            }
            vo.threads = (unsigned)v;
            break;
        }
        default:
            avtb_cli_usage(&avtb_cmd_verify, stderr);
            return AVTB_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "avtb verify: give one evidence directory\n");
        avtb_cli_usage(&avtb_cmd_verify, stderr);
        return AVTB_EXIT_USAGE;
    }
    dir = argv[optind];
    x.dir = dir;
    if (re) {
        /* Forked now, while avtb is single-threaded: the hashing threads come next. */
        x.started = avtb_confined_start("analysis", dir, reanalysis_child, &x, &x.child,
                                        &x.start_err) == AVTB_OK;
        vo.concurrent = reanalyse;
        vo.arg = &x;
    }
    r = avtb_bundle_verify(dir, &vo, &chk, &err);
    if (x.started) /* the verification stopped before it asked for the result */
        avtb_confined_abandon(&x.child);
    if (r != AVTB_OK) {
        fprintf(stderr, "avtb verify: %s\n", err.msg[0] ? err.msg : avtb_err_name(r));
        code = r == AVTB_ERR_USAGE ? AVTB_EXIT_USAGE : AVTB_EXIT_INFRA;
        goto out;
    }
    for (size_t i = 0; i < x.p.nproblems; i++)
        avtb_bundle_check_add(&chk, x.p.problems[i].file, "%s", x.p.problems[i].what);
    if (json)
        print_json(dir, &chk, &x, re, now_s() - t0);
    else
        print_text(dir, vo.key_path, &chk, &x, re, now_s() - t0);
    code = chk.nproblems == 0 ? AVTB_EXIT_OK : AVTB_EXIT_FAILED;
out:
    avtb_bundle_check_clear(&chk);
    avtb_bundle_check_clear(&x.p);
    free(x.note);
    free(x.verdict_name);
    return code;
}

const avtb_cmd avtb_cmd_verify = {
    .name = "verify",
    .usage = "EVIDENCE_DIR [--key PUB.pem] [--json] [--no-reanalyse] [--threads N]",
    .summary = "check a sealed evidence bundle: hashes, signature, findings and verdict",
    .help =
        "  EVIDENCE_DIR     a run's evidence directory, sealed with manifest.json\n"
        "  --key PUB.pem    the lab's public key (lab-key.pub.pem of `avtb keygen`): the\n"
        "                   signature must be by that key. Without it the signature is\n"
        "                   checked against the key the bundle names, which shows the\n"
        "                   bundle is intact but not who sealed it\n"
        "  --json           machine-readable output\n"
        "  --no-reanalyse   check hashes and signature only\n"
        "  --threads N      hashing threads (default 2; the re-analysis takes one meanwhile)\n\n"
        "Checks that every file manifest.json lists is there with its size and SHA-256,\n"
        "that no other file is (symbolic links are refused), that manifest.sig is an\n"
        "Ed25519 signature of manifest.json's bytes, and re-derives the findings from the\n"
        "capture and logs (as `avtb analyze`) and the verdict (the scenario in\n"
        "scenario.yaml, its product from $AVTB_DATADIR) to compare with report.json.\n"
        "Every difference is printed with the file it is about. See reports/BUNDLE.md.\n"
        "Exit 0 all good, 1 a mismatch, 2 bad usage or key file, 3 unreadable bundle.\n",
    .run = verify_main,
};
