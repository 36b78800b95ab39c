/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `avtb matrix`: every product × scenario cell plus a control run per
 * scenario, K times, summarised in one table (reports/MATRIX.md).
 *
 * One parent process schedules; each run is a child process (as `avtb run
 * --jobs` does), at most --jobs of them with a guest up. The parent shares
 * libguestfs launches between runs: it prepares and plants the next runs
 * in one appliance before their children start, and does the forensics of
 * every run waiting for them in one appliance (a child hands its request
 * over a pipe and waits for the answer). Under TCG a launch costs 13-15 s,
 * so a run of the matrix spends a share of one instead of two.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collectors/canaries.h"
#include "collectors/forensics.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "orchestrator/cli.h"
#include "orchestrator/run.h"
#include "orchestrator/signals.h"
#include "reports/matrix.h"
#include "reports/report.h"
#include "scenarios/scenario.h"

#define MAX_LIST       256
#define MAX_REPEAT     100
#define FORENSICS_MAX  16 /* runs waiting for forensics before a batch starts anyway */
#define LINE_MAX_BYTES 8192

/* One column of the table: control, own, or a product (name or directory). */
typedef struct column {
    const char *arg; /* as given: "control", "own", "leaky", "path/to/product" */
} column;

typedef struct cell {
    const char *file;   /* scenario file */
    avtb_scenario *s;   /* loaded, product replaced by the column's */
    const char *column; /* the column it is in */
    const char *expected;
    char *expected_from; /* where expected came from */
    json_t *runs;        /* runs[] of matrix.json */
} cell;

typedef enum { JOB_PENDING, JOB_PLANTED, JOB_RUNNING, JOB_FORENSICS, JOB_DONE } job_state;

typedef struct job {
    cell *c;
    int rep; /* 1-based */
    job_state state;
    avtb_run_state *run; /* JOB_PLANTED: held by the parent until forked */
    char *run_id, *evdir, *workdir;
    pid_t pid;
    int to_child, from_child; /* the forensics pipes, parent's ends */
    int exit_code;
    char line[LINE_MAX_BYTES];
    size_t linelen;
} job;

typedef struct matrix {
    const char *out;
    char *logs;
    int jobs;
    int repeat;
    cell *cells;
    size_t ncells;
    job *jobv;
    size_t njobs;
    avtb_run_opts ro;
    int saved_err; /* the terminal, for progress */
    bool tty;
    size_t done, running, waiting, planted, next_pending;
    unsigned plant_launches, forensics_launches;
    double t0;
    json_t *baseline;
    const char *baseline_dir;
} matrix;

/* ---- the child's end of the forensics pipe --------------------------------- */

typedef struct child_pipe {
    int to_parent, from_parent;
} child_pipe;

static avtb_err child_forensics(void *ctx, const avtb_forensics_req *req,
                                avtb_forensics_summary *sum, avtb_error *err)
{
    child_pipe *p = ctx;
    json_t *msg =
        json_pack("{s:s, s:s, s:s, s:I, s:b}", "overlay", req->overlay, "root", req->root_device,
                  "evidence", req->evidence_dir, "since", (json_int_t)req->since, "tcg", req->tcg);
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL, buf[LINE_MAX_BYTES];
    size_t len = 0;
    json_t *ans;
    avtb_err r;

    json_decref(msg);
    if (text == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    /* One write of less than PIPE_BUF: atomic. */
    if (strlen(text) + 1 >= sizeof(buf) ||
        dprintf(p->to_parent, "%s\n", text) != (int)strlen(text) + 1) {
        free(text);
        return avtb_error_set(err, AVTB_ERR_IO, "cannot hand the forensics to avtb matrix");
    }
    free(text);
    for (;;) {
        ssize_t n = read(p->from_parent, buf + len, sizeof(buf) - 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return avtb_error_set(err, AVTB_ERR_IO,
                                  "avtb matrix stopped before doing this run's forensics");
        len += (size_t)n;
        if (memchr(buf, '\n', len) != NULL || len == sizeof(buf) - 1)
            break;
    }
    buf[len] = '\0';
    ans = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
    if (ans == NULL)
        return avtb_error_set(err, AVTB_ERR_IO, "avtb matrix answered the forensics garbled");
    if (json_is_true(json_object_get(ans, "ok"))) {
        json_t *s = json_object_get(ans, "summary");

        memset(sum, 0, sizeof(*sum));
        sum->documents = (size_t)json_integer_value(json_object_get(s, "documents"));
        sum->read = (size_t)json_integer_value(json_object_get(s, "read"));
        sum->changed = (size_t)json_integer_value(json_object_get(s, "changed"));
        sum->vanished = (size_t)json_integer_value(json_object_get(s, "vanished"));
        sum->scanned = (size_t)json_integer_value(json_object_get(s, "scanned"));
        sum->files_with_tokens = (size_t)json_integer_value(json_object_get(s, "with_tokens"));
        sum->limited = json_is_true(json_object_get(s, "limited"));
        r = AVTB_OK;
    } else {
        r = avtb_error_set(err, AVTB_ERR_GUESTFS, "%s",
                           json_string_value(json_object_get(ans, "error")) ?: "unknown error");
    }
    json_decref(ans);
    return r;
}

/* ---- progress -------------------------------------------------------------- */

static void progress(matrix *m, const job *finished)
{
    double el = avtb_now() - m->t0;
    char eta[32] = "";

    if (m->done > 0 && m->done < m->njobs) {
        double left = el / (double)m->done * (double)(m->njobs - m->done);

        snprintf(eta, sizeof(eta), ", about %.0f min left", left / 60 + 0.5);
    }
    if (m->tty) {
        dprintf(m->saved_err,
                "\r\033[Kmatrix: %zu/%zu runs done, %zu running, %zu awaiting forensics, "
                "%zu planted%s",
                m->done, m->njobs, m->running, m->waiting, m->planted, eta);
        if (finished != NULL && m->done == m->njobs)
            dprintf(m->saved_err, "\n");
    } else if (finished != NULL) {
        dprintf(m->saved_err, "matrix: %zu/%zu %s × %s #%d: exit %d (%.0f s in)%s\n", m->done,
                m->njobs, finished->c->s->name, finished->c->s->product->name, finished->rep,
                finished->exit_code, el, eta);
    }
}

/* ---- loading --------------------------------------------------------------- */

static char *product_dir(const char *arg)
{
    char *dir = NULL;

    if (strchr(arg, '/') != NULL)
        return strdup(arg);
    if (asprintf(&dir, "%s/guests/products/%s", avtb_datadir(), arg) < 0)
        return NULL;
    return dir;
}

/* Loads the cell's scenario and gives it the column's product; diagnostics printed. */
static int load_cell(cell *c, const char *file, const char *col)
{
    avtb_diags *d = avtb_diags_new();
    avtb_product *p = NULL;
    const char *exp;
    int rc = -1;

    c->file = file;
    c->column = col;
    if (d == NULL || avtb_scenario_load(file, d, &c->s) != AVTB_OK)
        goto out;
    if (strcmp(col, "control") == 0) {
        p = avtb_product_control();
    } else if (strcmp(col, "own") != 0) {
        char *dir = product_dir(col);

        if (dir == NULL || avtb_product_load(dir, d, &p) != AVTB_OK) {
            fprintf(stderr, "avtb matrix: product '%s' (%s) is not usable\n", col, dir ? dir : "?");
            free(dir);
            goto out;
        }
        free(dir);
    }
    if (p != NULL) {
        bool scans = false;

        for (size_t i = 0; i < c->s->ntriggers; i++)
            scans |= c->s->triggers[i].action == AVTB_ACTION_SCAN;
        if (scans && !p->control && p->scan == NULL) {
            fprintf(stderr,
                    "avtb matrix: %s: product '%s' has no scan command, and this scenario "
                    "scans; give the product one (product.yaml scan:) or leave it out\n",
                    file, p->name);
            avtb_product_free(p);
            goto out;
        }
        avtb_product_free(c->s->product);
        c->s->product = p;
    }
    exp = avtb_product_expected(c->s->product, c->s->name);
    c->expected = exp;
    if (exp != NULL) {
        if (c->s->product->control)
            c->expected_from = strdup("control run");
        else if (asprintf(&c->expected_from, "%s/product.yaml", c->s->product->dir) < 0)
            c->expected_from = NULL;
    }
    c->runs = json_array();
    rc = c->runs != NULL && (exp == NULL || c->expected_from != NULL) ? 0 : -1;
out:
    if (d != NULL) {
        avtb_diags_print(d, stderr);
        avtb_diags_free(d);
    }
    return rc;
}

/* ---- forensics for the runs that wait for them ----------------------------- */

static void answer(job *j, json_t *ans)
{
    char *text = ans ? json_dumps(ans, JSON_COMPACT) : NULL;

    if (text == NULL || dprintf(j->to_child, "%s\n", text) < 0)
        avtb_warn("%s: cannot answer its forensics request (it will be incomplete)", j->run_id);
    free(text);
    json_decref(ans);
}

static void refuse(job *j, const char *why)
{
    answer(j, json_pack("{s:b, s:s}", "ok", false, "error", why));
    j->state = JOB_RUNNING;
}

/* Patterns of one run, from the token registry its start wrote. */
static avtb_err run_tokens(const char *evdir, avtb_canaries **c, avtb_patterns **p, avtb_error *err)
{
    char *reg = avtb_path_join(evdir, "tokens.json");
    avtb_err e = AVTB_ERR_NOMEM;

    *c = avtb_canaries_new();
    *p = NULL;
    if (reg != NULL && *c != NULL) {
        e = access(reg, F_OK) == 0 ? avtb_canaries_load_registry(*c, reg, err) : AVTB_OK;
        if (e == AVTB_OK)
            e = avtb_canaries_compile(*c, p, err);
    } else {
        avtb_error_set(err, e, "out of memory");
    }
    free(reg);
    return e;
}

static void forensics_batch(matrix *m)
{
    avtb_forensics_req reqs[FORENSICS_MAX];
    avtb_forensics_summary sums[FORENSICS_MAX];
    avtb_err res[FORENSICS_MAX];
    avtb_error errs[FORENSICS_MAX];
    avtb_canaries *can[FORENSICS_MAX] = {0};
    avtb_patterns *pats[FORENSICS_MAX] = {0};
    json_t *msgs[FORENSICS_MAX] = {0};
    job *js[FORENSICS_MAX];
    size_t n = 0;

    for (size_t i = 0; i < m->njobs && n < FORENSICS_MAX; i++) {
        job *j = &m->jobv[i];
        avtb_error err = {0};
        json_t *msg;

        if (j->state != JOB_FORENSICS)
            continue;
        msg = json_loads(j->line, 0, NULL);
        j->linelen = 0;
        m->waiting--;
        if (msg == NULL || !json_is_string(json_object_get(msg, "overlay")) ||
            !json_is_string(json_object_get(msg, "root")) ||
            !json_is_string(json_object_get(msg, "evidence"))) {
            json_decref(msg);
            refuse(j, "the run's forensics request was garbled");
            continue;
        }
        if (run_tokens(json_string_value(json_object_get(msg, "evidence")), &can[n], &pats[n],
                       &err) != AVTB_OK) {
            avtb_canaries_free(can[n]);
            json_decref(msg);
            refuse(j, err.msg);
            continue;
        }
        memset(&reqs[n], 0, sizeof(reqs[n]));
        reqs[n].overlay = json_string_value(json_object_get(msg, "overlay"));
        reqs[n].root_device = json_string_value(json_object_get(msg, "root"));
        reqs[n].evidence_dir = json_string_value(json_object_get(msg, "evidence"));
        reqs[n].since = (int64_t)json_integer_value(json_object_get(msg, "since"));
        reqs[n].tcg = json_is_true(json_object_get(msg, "tcg"));
        reqs[n].patterns = pats[n];
        reqs[n].token_docs = avtb_canaries_token_docs(can[n]);
        memset(&errs[n], 0, sizeof(errs[n]));
        msgs[n] = msg;
        js[n++] = j;
    }
    if (n == 0)
        return;
    avtb_info("forensics of %zu runs on one appliance", n);
    m->forensics_launches++;
    progress(m, NULL);
    /* A failed launch fails every run of the batch, each with why. */
    if (avtb_forensics_batch(reqs, n, sums, res, errs) != AVTB_OK)
        avtb_warn("a forensics appliance failed: %s", errs[0].msg);
    for (size_t k = 0; k < n; k++) {
        if (res[k] == AVTB_OK)
            answer(js[k],
                   json_pack("{s:b, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:b}}", "ok", true, "summary",
                             "documents", (json_int_t)sums[k].documents, "read",
                             (json_int_t)sums[k].read, "changed", (json_int_t)sums[k].changed,
                             "vanished", (json_int_t)sums[k].vanished, "scanned",
                             (json_int_t)sums[k].scanned, "with_tokens",
                             (json_int_t)sums[k].files_with_tokens, "limited", sums[k].limited));
        else
            answer(js[k], json_pack("{s:b, s:s}", "ok", false, "error", errs[k].msg));
        js[k]->state = JOB_RUNNING;
        avtb_patterns_free(pats[k]);
        avtb_canaries_free(can[k]);
        json_decref(msgs[k]);
    }
}

/* ---- planting and starting ------------------------------------------------- */

/* Prepares and plants the next batch of pending runs in one appliance. */
static void plant_next(matrix *m, size_t want)
{
    avtb_run_state *batch[AVTB_RUN_PLANT_BATCH];
    size_t n = 0;

    while (n < want && n < AVTB_RUN_PLANT_BATCH && m->next_pending < m->njobs &&
           avtb_signals_pending() == 0) {
        job *j = &m->jobv[m->next_pending++];

        j->run = avtb_run_start(&m->ro, j->c->s);
        if (j->run == NULL) { /* not even an evidence directory: counted as an error */
            j->state = JOB_DONE;
            j->exit_code = AVTB_EXIT_INFRA;
            m->done++;
            continue;
        }
        j->run_id = strdup(avtb_run_id(j->run));
        j->evdir = strdup(avtb_run_evidence_dir(j->run));
        j->workdir = strdup(avtb_run_workdir(j->run));
        j->state = JOB_PLANTED;
        m->planted++;
        batch[n++] = j->run;
    }
    if (n == 0)
        return;
    m->plant_launches++;
    progress(m, NULL);
    avtb_run_plant(batch, n);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/*
 * A planted run the parent finishes itself (no process could be made for
 * it, or the matrix was interrupted): still a whole run with its report,
 * its own forensics launch, or marked incomplete.
 */
static void finish_here(matrix *m, job *j)
{
    j->exit_code = avtb_run_finish(j->run);
    j->run = NULL;
    j->state = JOB_DONE;
    m->planted--;
    m->done++;
}

static void start_job(matrix *m, job *j)
{
    int down[2], up[2];
    pid_t pid;

    if (pipe2(down, O_CLOEXEC) < 0) {
        avtb_errorf("cannot make a pipe for %s: %s", j->run_id, strerror(errno));
        finish_here(m, j);
        return;
    }
    if (pipe2(up, O_CLOEXEC) < 0) {
        avtb_errorf("cannot make a pipe for %s: %s", j->run_id, strerror(errno));
        close(down[0]);
        close(down[1]);
        finish_here(m, j);
        return;
    }
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        char *log = NULL;
        child_pipe cp = {.to_parent = up[1], .from_parent = down[0]};
        int fd;

        /* Other runs' pipes belong to the parent. */
        for (size_t i = 0; i < m->njobs; i++) {
            close_fd(&m->jobv[i].to_child);
            close_fd(&m->jobv[i].from_child);
        }
        close(down[1]);
        close(up[0]);
        signal(SIGPIPE, SIG_IGN);
        if (asprintf(&log, "%s/%s.log", m->logs, j->run_id) >= 0 &&
            (fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        free(log);
        m->ro.forensics_hook = child_forensics;
        m->ro.forensics_ctx = &cp;
        _exit(avtb_run_finish(j->run));
    }
    close(down[0]);
    close(up[1]);
    if (pid < 0) {
        avtb_errorf("cannot fork for %s: %s", j->run_id, strerror(errno));
        close(down[1]);
        close(up[0]);
        finish_here(m, j);
        return;
    }
    j->pid = pid;
    j->to_child = down[1];
    j->from_child = up[0];
    avtb_run_release(j->run); /* the child owns it now */
    j->run = NULL;
    j->state = JOB_RUNNING;
    m->planted--;
    m->running++;
}

/*
 * A run's process died without finishing (a crash, SIGKILL): its evidence
 * keeps the INCOMPLETE marker it got at the start and has no report; its
 * overlay is removed here (the guest went with the process's libvirt
 * connection: domains are AUTODESTROY).
 */
static void died(job *j, int status)
{
    avtb_error err = {0};

    avtb_errorf("%s: its process died (%s); its evidence is marked incomplete", j->run_id,
                WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "?");
    if (j->workdir != NULL && access(j->workdir, F_OK) == 0 &&
        avtb_rm_rf(j->workdir, &err) != AVTB_OK)
        avtb_warn("%s", err.msg);
}

/* ---- the results ----------------------------------------------------------- */

static double phase_seconds(json_t *rep, const char *name)
{
    json_t *ph;
    size_t i;
    double t = 0;

    json_array_foreach(json_object_get(rep, "phases"), i, ph)
    {
        const char *n = json_string_value(json_object_get(ph, "name"));

        if (n != NULL && (name == NULL || strcmp(n, name) == 0))
            t += json_real_value(json_object_get(ph, "seconds"));
    }
    return t;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The run's entry of runs[]: from its report.json, or "error" when there is none. */
static json_t *run_entry(const job *j, double *guest_s)
{
    json_t *rep = NULL, *keys = json_array(), *f, *o;
    char *path = j->evdir ? avtb_path_join(j->evdir, "report.json") : NULL, *rel = NULL;
    char *list[4096];
    size_t n = 0, i;

    if (path != NULL)
        rep = json_load_file(path, 0, NULL);
    free(path);
    json_array_foreach(json_object_get(rep, "findings"), i, f)
    {
        char *k = avtb_report_finding_key(f);

        if (k != NULL && n < sizeof(list) / sizeof(list[0]))
            list[n++] = k;
        else
            free(k);
    }
    qsort(list, n, sizeof(list[0]), cmp_str);
    for (i = 0; i < n; i++) {
        if (i == 0 || strcmp(list[i], list[i - 1]) != 0)
            json_array_append_new(keys, json_string(list[i]));
    }
    for (i = 0; i < n; i++)
        free(list[i]);
    if (j->run_id != NULL && asprintf(&rel, "runs/%s", j->run_id) < 0)
        rel = NULL;
    *guest_s = phase_seconds(rep, "boot") + phase_seconds(rep, "dwell");
    o = json_pack("{s:i, s:s?, s:s?, s:s, s:i, s:b, s:f, s:f, s:o}", "repetition", j->rep, "run_id",
                  j->run_id, "evidence", rel, "verdict",
                  rep ? json_string_value(json_object_get(rep, "verdict")) ?: "error" : "error",
                  "exit_code", j->exit_code, "complete",
                  rep != NULL && json_is_true(json_object_get(rep, "complete")), "seconds",
                  phase_seconds(rep, NULL), "guest_seconds", *guest_s, "findings", keys);
    free(rel);
    json_decref(rep);
    return o;
}

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static avtb_err write_json(json_t *o, const char *dir, const char *name, avtb_error *err)
{
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    char *path = avtb_path_join(dir, name);
    avtb_err e = text && path ? AVTB_OK : avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");

    if (e == AVTB_OK) {
        size_t len = strlen(text);

        text[len] = '\n';
        e = avtb_write_file(path, text, len + 1, 0644, err);
    }
    free(text);
    free(path);
    return e;
}

/* ---- the command ----------------------------------------------------------- */

static int usage(void)
{
    avtb_cli_usage(&avtb_cmd_matrix, stderr);
    return AVTB_EXIT_USAGE;
}

static bool int_arg(const char *opt, const char *v, int lo, int hi, int *out)
{
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;

    if (v == NULL || *v == '\0' || *end != '\0' || x < lo || x > hi) {
        fprintf(stderr, "avtb matrix: %s must be a number from %d to %d, got '%s'\n", opt, lo, hi,
                v ? v : "");
        return false;
    }
    *out = (int)x;
    return true;
}

static int matrix_main(int argc, char **argv)
{
    const char *scen[MAX_LIST], *prod[MAX_LIST], *cols[MAX_LIST + 1];
    size_t nscen = 0, nprod = 0, ncols = 0;
    const char **list = NULL;
    size_t *count = NULL;
    bool control = true;
    char stamp[32], defout[64];
    matrix m = {.jobs = 1, .repeat = 1, .saved_err = -1};
    avtb_error err = {0};
    json_t *root = NULL, *cells = NULL, *regs = NULL, *cmd = NULL;
    char started[32], finished[32];
    int code = AVTB_EXIT_OK, saved_out;
    size_t nreg = 0;
    double guest_total = 0;

    m.ro.out_dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        const char *eq = strchr(a, '=');
        char opt[32];

        if (strncmp(a, "--", 2) != 0 || strcmp(a, "--") == 0) {
            if (list == NULL) {
                fprintf(stderr, "avtb matrix: '%s': say --scenarios or --products before it\n", a);
                return usage();
            }
            if (*count == MAX_LIST) {
                fprintf(stderr, "avtb matrix: at most %d scenarios and %d products\n", MAX_LIST,
                        MAX_LIST);
                return AVTB_EXIT_USAGE;
            }
            list[(*count)++] = a;
            continue;
        }
        snprintf(opt, sizeof(opt), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        list = NULL;
        if (strcmp(opt, "--scenarios") == 0 || strcmp(opt, "--products") == 0) {
            bool s = opt[2] == 's';

            list = s ? scen : prod;
            count = s ? &nscen : &nprod;
            if (eq != NULL && eq[1] != '\0')
                list[(*count)++] = eq + 1;
            continue;
        }
        if (strcmp(opt, "--no-control") == 0) {
            control = false;
            continue;
        }
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            avtb_cli_usage(&avtb_cmd_matrix, stdout);
            return AVTB_EXIT_OK;
        }
        v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (strcmp(opt, "--jobs") == 0) {
            if (!int_arg(opt, v, 1, 64, &m.jobs))
                return AVTB_EXIT_USAGE;
        } else if (strcmp(opt, "--repeat") == 0) {
            if (!int_arg(opt, v, 1, MAX_REPEAT, &m.repeat))
                return AVTB_EXIT_USAGE;
        } else if (strcmp(opt, "--out") == 0 && v != NULL) {
            m.out = v;
        } else if (strcmp(opt, "--baseline") == 0 && v != NULL) {
            m.baseline_dir = v;
        } else if (strcmp(opt, "--connect") == 0 && v != NULL) {
            m.ro.connect_uri = v;
        } else {
            fprintf(stderr, "avtb matrix: unknown option or missing value: %s\n", a);
            return usage();
        }
    }
    if (nscen == 0) {
        fprintf(stderr, "avtb matrix: give the scenarios: --scenarios S.yaml...\n");
        return usage();
    }
    if (nprod == 0)
        prod[nprod++] = "own";
    if (control)
        cols[ncols++] = "control";
    for (size_t i = 0; i < nprod; i++) {
        for (size_t k = 0; k < ncols; k++)
            if (strcmp(cols[k], prod[i]) == 0) {
                fprintf(stderr, "avtb matrix: product '%s' is given twice\n", prod[i]);
                return AVTB_EXIT_USAGE;
            }
        cols[ncols++] = prod[i];
    }
    if (m.baseline_dir != NULL) {
        char *p = avtb_path_join(m.baseline_dir, "matrix.json");
        json_error_t je;

        m.baseline = p ? json_load_file(p, 0, &je) : NULL;
        if (m.baseline == NULL ||
            json_integer_value(json_object_get(m.baseline, "avtb_matrix")) != 1) {
            fprintf(stderr,
                    "avtb matrix: --baseline %s: %s is not a matrix.json avtb wrote (%s); give "
                    "the directory of an earlier avtb matrix\n",
                    m.baseline_dir, p ? p : "?", m.baseline ? "no avtb_matrix: 1" : je.text);
            free(p);
            json_decref(m.baseline);
            return AVTB_EXIT_USAGE;
        }
        free(p);
    }

    /* Every cell is loaded and checked before anything starts. */
    m.cells = calloc(nscen * ncols, sizeof(*m.cells));
    if (m.cells == NULL) {
        code = AVTB_EXIT_INFRA;
        goto out;
    }
    for (size_t i = 0; i < nscen; i++)
        for (size_t k = 0; k < ncols; k++) {
            if (load_cell(&m.cells[m.ncells], scen[i], cols[k]) < 0)
                code = AVTB_EXIT_USAGE;
            m.ncells++;
        }
    /* A cell is (scenario, product): 'own' and the same product named again would be two. */
    for (size_t i = 0; code == AVTB_EXIT_OK && i < nscen; i++)
        for (size_t a = 0; a < ncols; a++)
            for (size_t b = 0; b < a; b++)
                if (strcmp(m.cells[i * ncols + a].s->product->name,
                           m.cells[i * ncols + b].s->product->name) == 0 &&
                    code == AVTB_EXIT_OK) {
                    fprintf(stderr,
                            "avtb matrix: scenario '%s' would run product '%s' twice (columns "
                            "'%s' and '%s'); leave one out\n",
                            m.cells[i * ncols].s->name, m.cells[i * ncols + a].s->product->name,
                            cols[b], cols[a]);
                    code = AVTB_EXIT_USAGE;
                }
    for (size_t i = 0; code == AVTB_EXIT_OK && i < nscen; i++)
        for (size_t k = 0; k < i; k++)
            if (strcmp(m.cells[i * ncols].s->name, m.cells[k * ncols].s->name) == 0) {
                fprintf(stderr,
                        "avtb matrix: %s and %s are both scenario '%s'; a matrix row is a "
                        "scenario name\n",
                        scen[k], scen[i], m.cells[i * ncols].s->name);
                code = AVTB_EXIT_USAGE;
            }
    if (code != AVTB_EXIT_OK)
        goto out;

    /* Repetition-major: a flaky cell shows up early, the last repetitions can be cut. */
    m.njobs = m.ncells * (size_t)m.repeat;
    m.jobv = calloc(m.njobs, sizeof(*m.jobv));
    if (m.jobv == NULL) {
        code = AVTB_EXIT_INFRA;
        goto out;
    }
    for (int r = 0; r < m.repeat; r++)
        for (size_t c = 0; c < m.ncells; c++) {
            job *j = &m.jobv[(size_t)r * m.ncells + c];

            j->c = &m.cells[c];
            j->rep = r + 1;
            j->to_child = j->from_child = -1;
        }

    {
        time_t now = time(NULL);
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
        snprintf(defout, sizeof(defout), "avtb-runs/matrix-%s", stamp);
    }
    if (m.out == NULL)
        m.out = defout;
    {
        char *mj = avtb_path_join(m.out, "matrix.json");
        struct stat st;

        if (mj != NULL && stat(mj, &st) == 0) {
            fprintf(stderr,
                    "avtb matrix: %s already holds a matrix; give another --out (or remove it)\n",
                    m.out);
            free(mj);
            code = AVTB_EXIT_USAGE;
            goto out;
        }
        free(mj);
    }
    {
        char *runs = avtb_path_join(m.out, "runs");

        m.logs = avtb_path_join(m.out, "logs");
        if (runs == NULL || m.logs == NULL || avtb_mkdir_p(runs, 0755, &err) != AVTB_OK ||
            avtb_mkdir_p(m.logs, 0755, &err) != AVTB_OK) {
            fprintf(stderr, "avtb matrix: %s\n", err.msg[0] ? err.msg : "out of memory");
            free(runs);
            code = AVTB_EXIT_INFRA;
            goto out;
        }
        m.ro.out_dir = runs; /* freed at the end */
    }
    cmd = json_array();
    for (int i = 0; cmd != NULL && i < argc; i++)
        json_array_append_new(cmd, json_string(argv[i]));

    /* The parent's own chatter (run starts, planting) goes to logs/matrix.log;
     * the terminal keeps the progress and the summary. */
    m.saved_err = dup(STDERR_FILENO);
    m.tty = m.saved_err >= 0 && isatty(m.saved_err);
    {
        char *ml = avtb_path_join(m.logs, "matrix.log");
        int fd = ml ? open(ml, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;

        if (fd >= 0) {
            fflush(NULL);
            saved_out = dup(STDOUT_FILENO);
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        } else {
            saved_out = -1;
        }
        free(ml);
    }
    dprintf(m.saved_err,
            "matrix: %zu scenarios × %zu columns, %d repetition%s: %zu runs, %d at "
            "a time, into %s\n",
            nscen, ncols, m.repeat, m.repeat == 1 ? "" : "s", m.njobs, m.jobs, m.out);

    avtb_signals_install();
    avtb_utc_now(started);
    m.t0 = avtb_now();
    while (m.done < m.njobs) {
        struct pollfd pfd[256];
        job *pj[256];
        size_t np = 0;
        int status;
        pid_t pid;
        int sig = avtb_signals_pending();

        /* Children that ended. */
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (size_t i = 0; i < m.njobs; i++) {
                job *j = &m.jobv[i];

                if (j->pid != pid || j->state == JOB_DONE)
                    continue;
                if (j->state == JOB_FORENSICS)
                    m.waiting--;
                j->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : AVTB_EXIT_INFRA;
                if (!WIFEXITED(status))
                    died(j, status);
                j->state = JOB_DONE;
                close_fd(&j->to_child);
                close_fd(&j->from_child);
                m.running--;
                m.done++;
                progress(&m, j);
            }
        }
        if (sig != 0) {
            /* Stop: runs not started are abandoned (their evidence says so), the
             * running ones are told, the waiting ones get no forensics. */
            for (size_t i = 0; i < m.njobs; i++) {
                job *j = &m.jobv[i];

                if (j->state == JOB_PLANTED) {
                    finish_here(&m, j);
                } else if (j->state == JOB_PENDING) {
                    j->state = JOB_DONE;
                    j->exit_code = AVTB_EXIT_INFRA;
                    m.done++;
                } else if (j->state == JOB_FORENSICS) {
                    m.waiting--;
                    refuse(j, "interrupted before its forensics");
                }
                if (j->state == JOB_RUNNING) {
                    kill(j->pid, sig);
                    /* A request still in the pipe reads end-of-file: no forensics. */
                    close_fd(&j->to_child);
                }
            }
            m.next_pending = m.njobs;
            break;
        }
        /* Forensics: in one appliance once enough runs wait, or when nothing else can move. */
        {
            size_t active = m.running - m.waiting;
            bool more = m.planted > 0 || m.next_pending < m.njobs;

            size_t enough = (size_t)m.jobs * 2 < 4 ? 4 : (size_t)m.jobs * 2;

            if (m.waiting > 0 && (m.waiting >= enough || m.waiting >= FORENSICS_MAX ||
                                  (active < (size_t)m.jobs && !more)))
                forensics_batch(&m);
        }
        /* Start runs while guests fit. */
        for (size_t i = 0; i < m.njobs && m.running - m.waiting < (size_t)m.jobs; i++)
            if (m.jobv[i].state == JOB_PLANTED) {
                start_job(&m, &m.jobv[i]);
                progress(&m, NULL);
            }
        /* Plant ahead: the first batch small (guests start sooner), then bigger ones. */
        if (m.planted < (size_t)m.jobs && m.next_pending < m.njobs) {
            size_t want = m.plant_launches == 0 ? (size_t)m.jobs : (size_t)m.jobs * 4;

            plant_next(&m, want);
            continue;
        }
        /* Wait for a request or a child. */
        for (size_t i = 0; i < m.njobs && np < 256; i++)
            if (m.jobv[i].state == JOB_RUNNING && m.jobv[i].from_child >= 0) {
                pfd[np].fd = m.jobv[i].from_child;
                pfd[np].events = POLLIN;
                pj[np++] = &m.jobv[i];
            }
        if (poll(pfd, np, 250) > 0) {
            for (size_t k = 0; k < np; k++) {
                job *j = pj[k];
                ssize_t n;

                if (!(pfd[k].revents & (POLLIN | POLLHUP)))
                    continue;
                n = read(j->from_child, j->line + j->linelen, sizeof(j->line) - 1 - j->linelen);
                if (n <= 0) {
                    close_fd(&j->from_child); /* the child is ending; waitpid reaps it */
                    continue;
                }
                j->linelen += (size_t)n;
                j->line[j->linelen] = '\0';
                if (memchr(j->line, '\n', j->linelen) != NULL) {
                    j->state = JOB_FORENSICS;
                    m.waiting++;
                    progress(&m, NULL);
                } else if (j->linelen == sizeof(j->line) - 1) {
                    j->linelen = 0;
                    refuse(j, "the run's forensics request was too long");
                }
            }
        }
    }
    /* Whatever is left after an interruption. */
    while (m.running > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);

        if (pid < 0)
            break;
        for (size_t i = 0; i < m.njobs; i++)
            if (m.jobv[i].pid == pid && m.jobv[i].state != JOB_DONE) {
                m.jobv[i].state = JOB_DONE;
                m.jobv[i].exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : AVTB_EXIT_INFRA;
                m.running--;
                m.done++;
            }
    }
    avtb_utc_now(finished);
    if (saved_out >= 0) {
        fflush(NULL);
        dup2(saved_out, STDOUT_FILENO);
        close(saved_out);
    }
    if (m.saved_err >= 0)
        dup2(m.saved_err, STDERR_FILENO);

    /* matrix.json */
    cells = json_array();
    for (size_t i = 0; i < m.njobs; i++) {
        job *j = &m.jobv[i];
        double g = 0;

        if (j->run_id == NULL)
            continue; /* never started */
        json_array_append_new(j->c->runs, run_entry(j, &g));
        guest_total += g;
    }
    for (size_t i = 0; i < m.ncells; i++) {
        cell *c = &m.cells[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s?, s:s?, s:O}", "scenario", c->s->name,
                              "scenario_file", c->file, "product", c->s->product->name, "column",
                              c->column, "control", c->s->product->control, "expected", c->expected,
                              "expected_from", c->expected_from, "runs", c->runs);

        if (o == NULL || avtb_matrix_cell_derive(o, &err) != AVTB_OK) {
            json_decref(o);
            code = AVTB_EXIT_INFRA;
            goto out;
        }
        json_array_append_new(cells, o);
    }
    {
        const char *names[MAX_LIST];
        double wall = avtb_now() - m.t0;
        size_t ran = 0;

        for (size_t i = 0; i < nscen; i++)
            names[i] = m.cells[i * ncols].s->name;
        for (size_t i = 0; i < m.njobs; i++)
            ran += m.jobv[i].run_id != NULL;
        root = json_pack(
            "{s:i, s:s, s:s, s:o, s:i, s:i, s:o, s:o, s:o, s:{s:f, s:f, s:f, s:f, "
            "s:i, s:i}}",
            "avtb_matrix", 1, "started", started, "finished", finished, "command", cmd, "repeat",
            m.repeat, "jobs", m.jobs, "scenarios", str_array(names, nscen), "products",
            str_array(cols, ncols), "cells", cells, "timing", "wall_seconds", wall, "runs_per_hour",
            wall > 0 ? (double)ran * 3600.0 / wall : 0.0, "guest_seconds", guest_total, "overhead",
            wall > 0 ? 1.0 - guest_total / (wall * (double)m.jobs) : 0.0, "plant_launches",
            (int)m.plant_launches, "forensics_launches", (int)m.forensics_launches);
        cmd = cells = NULL;
    }
    if (root == NULL || avtb_matrix_summarise(root, &err) != AVTB_OK) {
        avtb_errorf("matrix: %s", err.msg[0] ? err.msg : "out of memory");
        code = AVTB_EXIT_INFRA;
        goto out;
    }
    if (m.baseline != NULL) {
        regs = avtb_matrix_compare(m.baseline, root, m.baseline_dir, &nreg);
        if (regs == NULL || write_json(regs, m.out, "regressions.json", &err) != AVTB_OK)
            avtb_errorf("matrix: regressions.json: %s", err.msg[0] ? err.msg : "out of memory");
    }
    if (write_json(root, m.out, "matrix.json", &err) != AVTB_OK) {
        avtb_errorf("matrix: %s", err.msg);
        code = AVTB_EXIT_INFRA;
        goto out;
    }
    avtb_error_clear(&err);
    if (avtb_matrix_write_html(root, regs, m.out, &err) != AVTB_OK)
        avtb_errorf("matrix: matrix.html: %s", err.msg);
    avtb_error_clear(&err);
    if (avtb_matrix_write_junit(root, regs, m.out, &err) != AVTB_OK)
        avtb_errorf("matrix: matrix-junit.xml: %s", err.msg);

    /* The table, on stdout. */
    {
        json_t *sum = json_object_get(root, "summary"), *c;
        size_t i;

        printf("matrix %s\n", m.out);
        json_array_foreach(json_object_get(root, "cells"), i, c)
        {
            char counts[256] = "";
            const char *k;
            json_t *v;
            size_t off = 0;

            json_object_foreach(json_object_get(c, "verdicts"), k, v)
            {
                int w = snprintf(counts + off, sizeof(counts) - off, "%s%s %lld/%d",
                                 off ? ", " : "", k, (long long)json_integer_value(v), m.repeat);

                if (w > 0 && (size_t)w < sizeof(counts) - off)
                    off += (size_t)w;
            }
            k = json_string_value(json_object_get(c, "expected"));
            printf("  %-24s %-16s %-32s %s%s%s%s\n",
                   json_string_value(json_object_get(c, "scenario")),
                   json_string_value(json_object_get(c, "product")), counts,
                   json_string_value(json_object_get(c, "status")) ?: "?", k ? " (expected " : "",
                   k ? k : "", k ? ")" : "");
        }
        printf("%lld cells: %lld pass, %lld fail, %lld flaky, %lld incomplete, %lld without "
               "expectation; %.1f runs/hour, overhead %.0f%%\n",
               (long long)json_integer_value(json_object_get(sum, "cells")),
               (long long)json_integer_value(json_object_get(sum, "pass")),
               (long long)json_integer_value(json_object_get(sum, "fail")),
               (long long)json_integer_value(json_object_get(sum, "flaky")),
               (long long)json_integer_value(json_object_get(sum, "incomplete")),
               (long long)json_integer_value(json_object_get(sum, "no_expectation")),
               json_real_value(json_object_get(json_object_get(root, "timing"), "runs_per_hour")),
               100 * json_real_value(json_object_get(json_object_get(root, "timing"), "overhead")));
        if (regs != NULL)
            printf("%zu regression%s against %s (regressions.json)\n", nreg, nreg == 1 ? "" : "s",
                   m.baseline_dir);
        if (json_integer_value(json_object_get(sum, "incomplete")) > 0 ||
            avtb_signals_pending() != 0)
            code = AVTB_EXIT_INFRA;
        else if (json_integer_value(json_object_get(sum, "fail")) > 0 ||
                 json_integer_value(json_object_get(sum, "flaky")) > 0 || nreg > 0)
            code = AVTB_EXIT_FAILED;
    }
out:
    for (size_t i = 0; i < m.ncells; i++) {
        avtb_scenario_free(m.cells[i].s);
        free(m.cells[i].expected_from);
        json_decref(m.cells[i].runs);
    }
    for (size_t i = 0; i < m.njobs; i++) {
        free(m.jobv[i].run_id);
        free(m.jobv[i].evdir);
        free(m.jobv[i].workdir);
        close_fd(&m.jobv[i].to_child);
        close_fd(&m.jobv[i].from_child);
    }
    free(m.jobv);
    free(m.cells);
    free(m.logs);
    free((char *)m.ro.out_dir);
    if (m.saved_err >= 0)
        close(m.saved_err);
    json_decref(m.baseline);
    json_decref(regs);
    json_decref(root);
    json_decref(cells);
    json_decref(cmd);
    return code;
}

const avtb_cmd avtb_cmd_matrix = {
    .name = "matrix",
    .usage = "--scenarios S.yaml... [--products P...] [--repeat K] [--jobs N]\n"
             "       [--out DIR] [--baseline DIR] [--no-control] [--connect URI]",
    .summary = "run every product against every scenario, repeated, in one table",
    .help = "  --scenarios S.yaml...  the rows\n"
            "  --products P...        the columns: a name under guests/products/, a product\n"
            "                         directory, or 'own' (each scenario's own product;\n"
            "                         the default)\n"
            "  --repeat K             run every cell K times (default 1)\n"
            "  --jobs N               up to N guests at once (default 1)\n"
            "  --out DIR              the matrix directory (default\n"
            "                         avtb-runs/matrix-<UTC time>)\n"
            "  --baseline DIR         compare with the matrix in DIR; a regression exits 1\n"
            "  --no-control           no control column (the scenario without a product)\n"
            "  --connect URI          libvirt URI (default $AVTB_CONNECT, else qemu:///system)\n\n"
            "Writes DIR/matrix.json, matrix.html, matrix-junit.xml and one evidence\n"
            "directory per run under DIR/runs (reports/MATRIX.md). Exit 0: every cell got\n"
            "its expected verdict; 1: a cell did not, was flaky, or regressed; 3: a run was\n"
            "incomplete or the matrix was interrupted.\n",
    .run = matrix_main,
};
