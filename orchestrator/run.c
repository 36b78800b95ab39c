/* SPDX-License-Identifier: Apache-2.0 */
/* The run pipeline and its teardown; see run.h and ../shared DESIGN.md. */
#include "orchestrator/run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collectors/analyze.h"
#include "collectors/canaries.h"
#include "collectors/chain.h"
#include "collectors/collector.h"
#include "collectors/evidence.h"
#include "collectors/fileaccess.h"
#include "collectors/forensics.h"
#include "collectors/tls-mitm.h"
#include "common/faults.h"
#include "common/log.h"
#include "common/sandbox.h"
#include "common/util.h"
#include "guests/honeydoc.h"
#include "orchestrator/accel.h"
#include "orchestrator/agent.h"
#include "orchestrator/image.h"
#include "orchestrator/netfilter.h"
#include "orchestrator/plant.h"
#include "orchestrator/signals.h"
#include "orchestrator/virt.h"
#include "reports/bundle.h"
#include "reports/html.h"
#include "reports/junit.h"
#include "reports/report.h"
#include "reports/stix.h"

#define GUEST_MEMORY_MIB    256
#define POWEROFF_TIMEOUT_MS 30000
#define MAX_REASONS         16
#define MAX_PHASES          12
#define MAX_COLLECTORS      8
#define TAG_LEN             10
/* The agent sends a heartbeat every 5 s; this long without any message and
 * the guest counts as hung (a kernel panic, a frozen VM, a killed agent).
 * Generous: a guest busy under TCG delays heartbeats by seconds, not tens. */
#define HANG_TIMEOUT_S 30.0
/* A stall fault point holds its phase open this long (or until a signal). */
#define STALL_MS 5000
/* How long teardown waits for a killed libvirtd to be restarted by its supervisor. */
#define LIBVIRT_RETURN_MS 60000

/* Everything one run holds; torn down by run_teardown() on every path. */
typedef struct avtb_run_state {
    const avtb_scenario *s;
    const avtb_run_opts *opts;
    char run_id[160];
    char tag[TAG_LEN + 1];
    char *evdir, *workdir, *overlay, *sock, *fasock, *console;
    /* An exclusive flock on the work directory while the run lives: what
     * `leakcheck --clean` tests to tell a killed run's leftovers from a live run. */
    int workdir_lock;
    avtb_image *img;
    const avtb_accel *accel;
    avtb_virt *virt;
    avtb_vnet *net;
    bool nft; /* the run's nftables table is installed */
    avtb_mitm *mitm;
    avtb_vdom *dom;
    void *cstate[MAX_COLLECTORS];
    bool cstarted[MAX_COLLECTORS];
    avtb_honeydoc **docs;
    size_t ndocs;
    FILE *agent_log;
    avtb_agent *agent;
    int agent_fd;
    /* The file-access channel: its own decoder and transcript (file-access.jsonl). */
    FILE *fa_log;
    avtb_agent *fa_chan;
    int fa_fd;
    uint64_t fa_anomalies;
    avtb_fa_monitor *fam;
    bool fa_ended;
    /* The run's tokens, compiled once: for the forensics and the analysis. */
    avtb_canaries *canaries;
    avtb_patterns *pats;
    bool planted;               /* planted.json written: the overlay holds the honey documents */
    double boot_wall;           /* wall clock when the guest was started */
    char libvirt[32], qemu[32]; /* versions, for the report and the manifest */
    char *notices[4];
    size_t nnotices;
    /* Timeline state fed by agent messages. */
    bool hello, bye;
    double hello_at;
    double last_alive; /* when the agent last said anything (avtb_now) */
    bool hung;         /* the guest stopped answering: no poweroff request */
    bool libvirt_gone; /* libvirtd did not come back: do not wait for it twice */
    size_t results;
    char *reasons[MAX_REASONS];
    size_t nreasons;
    avtb_phase phases[MAX_PHASES];
    size_t nphases;
    const char *phase;
    double phase_start;
    char started[32], finished[32];
    /* Where the pipeline stands between avtb_run_start and avtb_run_finish. */
    avtb_err state;
    avtb_error fail;
    bool noted_interrupt;
} run;

static void add_reason(run *r, const char *fmt, ...) AVTB_PRINTF(2, 3);

static void add_reason(run *r, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (msg == NULL)
        return;
    avtb_warn("%s", msg);
    if (r->nreasons < MAX_REASONS)
        r->reasons[r->nreasons++] = msg;
    else
        free(msg);
}

static void phase_begin(run *r, const char *name)
{
    char point[48];

    r->phase = name;
    r->phase_start = avtb_now();
    avtb_info("%s: %s", r->s->name, name);
    /* The fault suite holds a short phase open to signal avtb inside it. */
    snprintf(point, sizeof(point), "stall-%s", name);
    if (avtb_fault(point))
        for (int waited = 0; waited < STALL_MS && avtb_signals_pending() == 0; waited += 50)
            poll(NULL, 0, 50);
}

static void phase_end(run *r)
{
    if (r->phase != NULL && r->nphases < MAX_PHASES) {
        r->phases[r->nphases].name = r->phase;
        r->phases[r->nphases].seconds = avtb_now() - r->phase_start;
        r->nphases++;
    }
    r->phase = NULL;
}

/* Seconds since the epoch: file-access times are wall-clock times. */
static double wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add_notice(run *r, const char *text)
{
    if (text == NULL || r->nnotices >= sizeof(r->notices) / sizeof(r->notices[0]))
        return;
    for (size_t i = 0; i < r->nnotices; i++)
        if (strcmp(r->notices[i], text) == 0)
            return;
    if ((r->notices[r->nnotices] = strdup(text)) != NULL) {
        avtb_info("%s: %s", r->s->name, text);
        r->nnotices++;
    }
}

/* A stop signal turns into an incomplete-evidence reason, once. */
static bool interrupted(run *r)
{
    int sig = avtb_signals_pending();

    if (sig == 0)
        return false;
    if (!r->noted_interrupt) {
        r->noted_interrupt = true;
        add_reason(r, "interrupted by %s during %s", strsignal(sig), r->phase ? r->phase : "run");
    }
    return true;
}

static void random_tag(char tag[TAG_LEN + 1])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[TAG_LEN];

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        for (size_t i = 0; i < sizeof(rnd); i++)
            rnd[i] = (unsigned char)(rand() ^ getpid());
    for (size_t i = 0; i < TAG_LEN; i++)
        tag[i] = alphabet[rnd[i] % 36];
    tag[TAG_LEN] = '\0';
}

static avtb_err make_dirs(run *r, avtb_error *err)
{
    char stamp[32], real[PATH_MAX];
    time_t now = time(NULL);
    struct tm tm;
    const char *tmp = getenv("TMPDIR");
    struct passwd *qemu_user;
    avtb_err e;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    random_tag(r->tag);
    snprintf(r->run_id, sizeof(r->run_id), "%s-%s-%.6s", r->s->name, stamp, r->tag);
    e = avtb_mkdir_p(r->opts->out_dir, 0755, err);
    if (e != AVTB_OK)
        return e;
    if (realpath(r->opts->out_dir, real) == NULL)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot resolve %s", r->opts->out_dir);
    r->evdir = avtb_path_join(real, r->run_id);
    if (asprintf(&r->workdir, "%s/avtb-%s", tmp && tmp[0] ? tmp : "/var/tmp", r->tag) < 0)
        r->workdir = NULL;
    if (r->evdir == NULL || r->workdir == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    if (mkdir(r->evdir, 0755) < 0)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot create evidence directory %s",
                                r->evdir);
    if (mkdir(r->workdir, 0700) < 0)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot create work directory %s",
                                r->workdir);
    /* Held until the run ends; leakcheck --clean removes only unlocked work
     * dirs, and holds the lock while it does: if it took this one in the
     * moment since mkdir, the run stops here rather than lose its files. */
    r->workdir_lock = open(r->workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->workdir_lock < 0 || flock(r->workdir_lock, LOCK_EX | LOCK_NB) < 0)
        return avtb_error_errno(err, AVTB_ERR_IO, errno,
                                "cannot lock work directory %s (was leakcheck --clean "
                                "removing it? run again)",
                                r->workdir);
    /* A stock libvirtd runs QEMU as libvirt-qemu, which must create the channel socket. */
    qemu_user = getpwnam("libvirt-qemu");
    if (geteuid() == 0 && qemu_user != NULL &&
        chown(r->workdir, qemu_user->pw_uid, qemu_user->pw_gid) < 0)
        avtb_warn("cannot hand %s to libvirt-qemu: %s", r->workdir, strerror(errno));
    r->overlay = avtb_path_join(r->workdir, "disk.avtb-overlay.qcow2");
    r->sock = avtb_path_join(r->workdir, "agent.sock");
    r->fasock = avtb_path_join(r->workdir, "fileaccess.sock");
    r->console = avtb_path_join(r->evdir, "console.log");
    if (r->overlay == NULL || r->sock == NULL || r->fasock == NULL || r->console == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    return AVTB_OK;
}

/* Marks the evidence incomplete until the run finishes cleanly. */
static void mark_incomplete(run *r, bool incomplete)
{
    char *path = avtb_path_join(r->evdir, "INCOMPLETE");
    avtb_error err = {0};
    const char *text = "This run has not finished cleanly; see report.json if present.\n";

    if (path == NULL)
        return;
    if (incomplete) {
        if (avtb_write_file(path, text, strlen(text), 0644, &err) != AVTB_OK)
            avtb_warn("%s", err.msg);
    } else {
        unlink(path);
    }
    free(path);
}

static avtb_err copy_scenario(run *r, avtb_error *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char *dst = avtb_path_join(r->evdir, "scenario.yaml");
    avtb_err e = AVTB_ERR_NOMEM;

    if (dst != NULL && (e = avtb_read_file(r->s->file, 1u << 20, &buf, &len, err)) == AVTB_OK)
        e = avtb_write_file(dst, buf, len, 0644, err);
    free(buf);
    free(dst);
    return e;
}

/*
 * The run's honey documents, with fresh tokens every run. Generated ones come
 * from the scenario's seed or, without one, a seed derived from the run id;
 * tokens.json records it with the reference time, so `avtb honeydoc
 * --scenario` can make the same documents again.
 */
static avtb_err render_docs(run *r, avtb_error *err)
{
    const avtb_scenario *s = r->s;
    avtb_honeygen_conf conf = {
        .seed = s->has_seed ? s->seed : avtb_honeygen_seed_from(r->run_id),
        .now = (int64_t)time(NULL),
    };
    avtb_honey_origin origin = {conf.seed, s->has_seed ? "scenario" : "run id", conf.now};
    avtb_err e = avtb_scenario_honey(s, &conf, &r->docs, &r->ndocs, err);

    if (e != AVTB_OK)
        return e;
    avtb_info("%s: %zu honey documents (%zu generated, seed %llu)", s->name, r->ndocs,
              r->ndocs - s->ndocs, (unsigned long long)conf.seed);
    return avtb_honeydoc_write_registry_origin(r->docs, r->ndocs, &origin, r->evdir, err);
}

static avtb_err start_collectors(run *r, avtb_error *err)
{
    char product[512];
    /* The sink's child gets its own copy of this at fork: freed here after the starts. */
    avtb_http_answer *answers = calloc(r->s->nresponses + 1, sizeof(*answers));
    avtb_collector_env env = {
        .evidence_dir = r->evdir,
        .bridge = avtb_vnet_bridge(r->net),
        .sink_ip = avtb_vnet_host_ip(r->net),
        .guest_ip = avtb_vnet_guest_ip(r->net),
        .guest_mac = avtb_vnet_guest_mac(r->net),
        .run_id = r->run_id,
        .scenario = r->s->name,
        .product = product,
        .answers = answers,
        .nanswers = r->s->nresponses,
        .mitm = r->mitm,
        .cloud_mode = r->opts->cloud_mode,
        .replay = r->opts->replay,
        .connect_to = r->opts->connect_to,
        .nconnect_to = r->opts->nconnect_to,
    };
    avtb_err e = AVTB_OK;

    if (answers == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->s->nresponses; i++) {
        const avtb_response *p = &r->s->responses[i];

        answers[i] = (avtb_http_answer){.host = p->host,
                                        .path = p->path,
                                        .status = p->status,
                                        .headers = (const char *const *)p->headers,
                                        .nheaders = p->nheaders,
                                        .body = p->body,
                                        .body_len = p->body_len};
    }
    snprintf(product, sizeof(product), "%s %s (%s, %s)", r->s->product->name,
             r->s->product->version, r->s->product->vendor, r->s->product->vendor_country);
    for (size_t i = 0; avtb_collectors[i] != NULL && i < MAX_COLLECTORS; i++) {
        e = avtb_collectors[i]->start(&env, &r->cstate[i], err);
        if (e != AVTB_OK)
            break;
        r->cstarted[i] = true;
    }
    free(answers);
    return e;
}

static void stop_collectors(run *r)
{
    size_t n = 0;

    while (avtb_collectors[n] != NULL && n < MAX_COLLECTORS)
        n++;
    for (size_t i = n; i-- > 0;) {
        avtb_error err = {0};

        if (!r->cstarted[i])
            continue;
        r->cstarted[i] = false;
        if (!avtb_collectors[i]->stop(r->cstate[i], &err))
            add_reason(r, "collector %s: %s", avtb_collectors[i]->name,
                       err.msg[0] ? err.msg : "evidence incomplete");
        r->cstate[i] = NULL;
    }
}

/* A collector whose process died ends the dwell: what follows would go unrecorded. */
static avtb_err check_collectors(run *r, avtb_error *err)
{
    for (size_t i = 0; avtb_collectors[i] != NULL && i < MAX_COLLECTORS; i++) {
        avtb_error cerr = {0};

        if (r->cstarted[i] && avtb_collectors[i]->alive != NULL &&
            !avtb_collectors[i]->alive(r->cstate[i], &cerr))
            return avtb_error_set(err, AVTB_ERR_CHILD,
                                  "the %s collector died %.1f s into the dwell (%s); what the "
                                  "guest did from then on is not recorded",
                                  avtb_collectors[i]->name, avtb_now() - r->hello_at, cerr.msg);
    }
    return AVTB_OK;
}

static void on_agent_msg(void *ctx, const char *type, json_t *msg)
{
    run *r = ctx;

    r->last_alive = avtb_now();
    if (strcmp(type, "hello") == 0 && !r->hello) {
        r->hello = true;
        r->hello_at = avtb_now();
        avtb_info("%s: guest agent ready (%s)", r->s->name,
                  json_string_value(json_object_get(msg, "agent")) ?: "unknown agent");
    } else if (strcmp(type, "result") == 0) {
        r->results++;
        avtb_info("%s: %s finished with status %lld", r->s->name,
                  json_string_value(json_object_get(msg, "name")) ?: "command",
                  (long long)json_integer_value(json_object_get(msg, "rc")));
    } else if (strcmp(type, "bye") == 0) {
        r->bye = true;
    } else if (strcmp(type, "error") == 0) {
        avtb_warn("%s: guest agent: %s", r->s->name,
                  json_string_value(json_object_get(msg, "msg")) ?: "error");
    }
}

static void on_fa_msg(void *ctx, const char *type, json_t *msg)
{
    run *r = ctx;

    avtb_fa_monitor_msg(r->fam, type, msg, wall_now());
}

/*
 * Reads what is waiting on one channel into its decoder; false once the
 * channel is closed (the fd is closed and set to -1 then).
 */
static bool drain(avtb_agent *chan, int *fd)
{
    uint8_t buf[16384];
    size_t used;

    for (;;) {
        ssize_t got = read(*fd, buf, sizeof(buf));

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && errno == EAGAIN)
            return true;
        if (got <= 0) {
            close(*fd);
            *fd = -1;
            return false;
        }
        avtb_agent_feed(chan, buf, (size_t)got, &used);
    }
}

/*
 * Waits up to timeout_ms for either channel and reads both: the file-access
 * agent blocks while its port is not read, so it is read whenever the
 * command channel is. Returns false once the command channel is closed.
 */
static bool pump_agent(run *r, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = r->agent_fd, .events = POLLIN},
                          {.fd = r->fa_fd, .events = POLLIN}};
    bool open = r->agent_fd >= 0;

    if (r->agent_fd < 0 && r->fa_fd < 0) {
        if (timeout_ms > 0)
            poll(NULL, 0, timeout_ms);
        return false;
    }
    if (poll(p, 2, timeout_ms) > 0) {
        if (p[0].revents != 0 && r->agent_fd >= 0)
            open = drain(r->agent, &r->agent_fd);
        if (p[1].revents != 0 && r->fa_fd >= 0) {
            drain(r->fa_chan, &r->fa_fd);
            while (r->fa_anomalies < avtb_agent_anomalies(r->fa_chan)) {
                r->fa_anomalies++;
                avtb_fa_monitor_anomaly(r->fam, wall_now());
            }
        }
    }
    if (r->fam != NULL && !r->fa_ended)
        avtb_fa_monitor_tick(r->fam, wall_now());
    return open;
}

/* The guest is gone: whatever the file-access channel still holds, then the monitor's end. */
static void end_file_access(run *r)
{
    if (r->fam == NULL || r->fa_ended)
        return;
    if (r->fa_fd >= 0)
        drain(r->fa_chan, &r->fa_fd);
    while (r->fa_chan != NULL && r->fa_anomalies < avtb_agent_anomalies(r->fa_chan)) {
        r->fa_anomalies++;
        avtb_fa_monitor_anomaly(r->fam, wall_now());
    }
    avtb_fa_monitor_end(r->fam, wall_now(), r->s->file_access == AVTB_FA_OFF);
    r->fa_ended = true;
}

static avtb_err boot(run *r, avtb_error *err)
{
    char *cmdline = NULL;
    avtb_vdom_spec spec = {0};
    char name[32];
    avtb_err e;

    /* The guest's address, router and DNS come from the network's DHCP;
     * avtb.fagent= tells avtb-init how to run the file-access agent. */
    if (asprintf(&cmdline, "%s%s", r->img->cmdline,
                 r->s->file_access == AVTB_FA_OFF           ? " avtb.fagent=off"
                 : r->s->file_access == AVTB_FA_NO_FANOTIFY ? " avtb.fagent=nofanotify"
                                                            : "") < 0)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    snprintf(name, sizeof(name), "avtb-%s", r->tag);
    spec.name = name;
    spec.kvm = r->accel->kvm;
    spec.memory_mib = GUEST_MEMORY_MIB;
    spec.kernel = r->img->kernel;
    spec.initrd = r->img->initrd;
    spec.cmdline = cmdline;
    spec.disk = r->overlay;
    spec.network = avtb_vnet_name(r->net);
    spec.mac = avtb_vnet_guest_mac(r->net);
    spec.console_log = r->console;
    spec.agent_sock = r->sock;
    spec.fileaccess_sock = r->s->file_access == AVTB_FA_OFF ? NULL : r->fasock;
    r->boot_wall = wall_now();
    e = avtb_vdom_start(r->virt, &spec, &r->dom, err);
    free(cmdline);
    if (e != AVTB_OK)
        return e;
    e = avtb_agent_connect(r->sock, 30000, &r->agent_fd, err);
    if (e != AVTB_OK)
        return e;
    if (spec.fileaccess_sock != NULL) {
        avtb_error faerr = {0};

        /* QEMU made both sockets before the domain started. Without this one
         * the run goes on: the monitor will say the agent never connected. */
        if (avtb_agent_connect(r->fasock, 5000, &r->fa_fd, &faerr) != AVTB_OK)
            avtb_warn("%s: file-access channel: %s", r->s->name, faerr.msg);
    }
    while (!r->hello) {
        if (interrupted(r))
            return AVTB_ERR_INTERRUPTED;
        if (avtb_now() - r->phase_start > (double)r->s->boot_timeout_ms / 1000)
            return avtb_error_set(err, AVTB_ERR_TIMEOUT,
                                  "the guest agent did not say hello within %llu s; see %s",
                                  (unsigned long long)r->s->boot_timeout_ms / 1000, r->console);
        if (!pump_agent(r, 500) && !r->hello)
            return avtb_error_set(err, AVTB_ERR_CHILD,
                                  "the agent channel closed before hello; see %s", r->console);
        if (!avtb_vdom_running(r->dom))
            return !avtb_virt_alive(r->virt)
                       ? avtb_error_set(err, AVTB_ERR_LIBVIRT,
                                        "lost the connection to libvirtd at %s during boot%s",
                                        avtb_virt_uri(r->virt), avtb_virt_lost_why(r->virt))
                       : avtb_error_set(err, AVTB_ERR_CHILD,
                                        "the guest stopped during boot; see %s", r->console);
    }
    return AVTB_OK;
}

/*
 * The guest kernel's last words in console.log ("Kernel panic - not syncing:
 * ..."), as printable text into out; empty when there are none. The console
 * is the guest's: the line is cut and every unprintable byte replaced.
 */
static void console_panic(run *r, char *out, size_t len)
{
    static const char *const marks[] = {"Kernel panic", "BUG: ", "Oops"};
    uint8_t *buf = NULL;
    size_t n = 0, o = 0;
    const char *hit = NULL;
    avtb_error err = {0};

    out[0] = '\0';
    if (avtb_read_file_tail(r->console, 1u << 18, &buf, &n, &err) != AVTB_OK)
        return;
    for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]) && hit == NULL; m++)
        hit = memmem(buf, n, marks[m], strlen(marks[m]));
    for (const char *p = hit; p != NULL && p < (const char *)buf + n && *p != '\n' && *p != '\r' &&
                              o + 1 < len && o < 160;
         p++)
        out[o++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
    out[o] = '\0';
    free(buf);
}

/* The guest counts as hung after HANG_TIMEOUT_S without a word from its agent. */
static avtb_err check_alive(run *r, avtb_error *err)
{
    char last[176];
    double quiet = avtb_now() - r->last_alive;

    if (!r->hello || quiet < HANG_TIMEOUT_S)
        return AVTB_OK;
    r->hung = true;
    console_panic(r, last, sizeof(last));
    return avtb_error_set(err, AVTB_ERR_TIMEOUT,
                          "the guest stopped responding %.1f s into the dwell: no word from its "
                          "agent for %.0f s%s%s; see %s",
                          r->last_alive - r->hello_at, quiet,
                          last[0] ? "; its console says: " : "", last, r->console);
}

/* A guest that flooded a channel past the transcript's limits: what was left out. */
static void note_floods(run *r)
{
    const struct {
        avtb_agent *chan;
        const char *what, *file;
    } chans[] = {{r->agent, "agent", "agent.jsonl"}, {r->fa_chan, "file-access", "file-access.jsonl"}};

    for (size_t i = 0; i < sizeof(chans) / sizeof(chans[0]); i++) {
        uint64_t n = chans[i].chan ? avtb_agent_unrecorded(chans[i].chan) : 0;

        if (n > 0)
            add_reason(r, "the guest flooded the %s channel: %llu lines (%llu anomalies in all) "
                          "are not in %s, which stops at its size limit",
                       chans[i].what, (unsigned long long)n,
                       (unsigned long long)avtb_agent_anomalies(chans[i].chan), chans[i].file);
    }
}

/* Runs the scenario timeline from the agent's hello until the dwell ends. */
static avtb_err dwell(run *r, avtb_error *err)
{
    const avtb_scenario *s = r->s;
    size_t next = 0;
    double end = r->hello_at + (double)s->dwell_ms / 1000;

    for (;;) {
        double now = avtb_now();
        double wake = end;

        if (interrupted(r))
            return AVTB_ERR_INTERRUPTED;
        while (next < s->ntriggers && now >= r->hello_at + (double)s->triggers[next].at_ms / 1000) {
            char name[32], line[64];
            avtb_err e;

            avtb_plant_trigger_name(next + 1, name);
            snprintf(line, sizeof(line), "run t%zu %s", next + 1, name);
            avtb_info("%s: t+%.1fs %s %s", s->name, now - r->hello_at,
                      avtb_action_name(s->triggers[next].action), s->triggers[next].path);
            e = avtb_agent_send(r->agent, r->agent_fd, line, err);
            if (e != AVTB_OK)
                return e;
            next++;
        }
        if (now >= end)
            break;
        if (next < s->ntriggers && r->hello_at + (double)s->triggers[next].at_ms / 1000 < wake)
            wake = r->hello_at + (double)s->triggers[next].at_ms / 1000;
        if (wake - now > 1.0)
            wake = now + 1.0;
        pump_agent(r, (int)((wake - now) * 1000) + 1);
        if (!avtb_vdom_running(r->dom)) {
            char last[176];

            /* The failed call is what tells the client that libvirtd is gone. */
            if (!avtb_virt_alive(r->virt))
                return avtb_error_set(err, AVTB_ERR_LIBVIRT,
                                      "lost the connection to libvirtd at %s %.1f s into the "
                                      "dwell%s",
                                      avtb_virt_uri(r->virt), avtb_now() - r->hello_at,
                                      avtb_virt_lost_why(r->virt));

            /* The console reaches its file through virtlogd: its last lines may lag
             * the guest's end by a moment. */
            for (int i = 0; i < 10; i++) {
                console_panic(r, last, sizeof(last));
                if (last[0] != '\0')
                    break;
                poll(NULL, 0, 200);
            }
            return avtb_error_set(err, AVTB_ERR_CHILD,
                                  "the guest stopped %.1f s into the dwell%s%s; see %s",
                                  avtb_now() - r->hello_at, last[0] ? ": its console says: " : "",
                                  last, r->console);
        }
        if (check_alive(r, err) != AVTB_OK)
            return AVTB_ERR_TIMEOUT;
        if (check_collectors(r, err) != AVTB_OK)
            return AVTB_ERR_CHILD;
    }
    if (r->results < s->ntriggers)
        avtb_warn("%s: %zu of %zu triggered commands were still running when the dwell ended",
                  s->name, s->ntriggers - r->results, s->ntriggers);
    return AVTB_OK;
}

/*
 * libvirtd went away (killed, crashed, stopped answering): waits for its
 * supervisor to start it again (or for it to answer again), which takes the
 * run's QEMU over, so the domain and network can be destroyed. If it does
 * not come back, the run's QEMU is killed directly.
 */
static void regain_libvirt(run *r)
{
    avtb_error err = {0};

    if (r->virt == NULL || r->libvirt_gone || avtb_virt_alive(r->virt))
        return;
    avtb_warn("%s: libvirtd at %s is gone; waiting up to %d s for it to come back", r->s->name,
              avtb_virt_uri(r->virt), LIBVIRT_RETURN_MS / 1000);
    if (avtb_virt_reconnect(r->virt, LIBVIRT_RETURN_MS, &err) == AVTB_OK)
        return;
    r->libvirt_gone = true;
    add_reason(r, "%s", err.msg);
    if (r->dom != NULL && avtb_vdom_kill_orphan(avtb_vdom_name(r->dom)) == 0)
        add_reason(r, "domain %s: found no QEMU process to kill", avtb_vdom_name(r->dom));
    if (r->net != NULL)
        add_reason(r, "network %s (bridge %s) is left to libvirtd: 'virsh net-destroy %s' "
                      "once it runs again",
                   avtb_vnet_name(r->net), avtb_vnet_bridge(r->net), avtb_vnet_name(r->net));
}

/* Asks the guest to power off so its disk is consistent; forces it after a limit. */
static void stop_guest(run *r)
{
    avtb_error err = {0};
    double deadline = avtb_now() + POWEROFF_TIMEOUT_MS / 1000.0;

    if (r->dom == NULL)
        return;
    regain_libvirt(r);
    /* A hung guest cannot answer; asking would only wait out the limit. */
    if (!r->hung && r->agent_fd >= 0 && avtb_vdom_running(r->dom) &&
        avtb_agent_send(r->agent, r->agent_fd, "poweroff", &err) == AVTB_OK) {
        while (avtb_vdom_running(r->dom) && avtb_now() < deadline && avtb_signals_pending() == 0)
            pump_agent(r, 250);
    }
    if (!r->hung && avtb_vdom_running(r->dom) && avtb_signals_pending() == 0)
        avtb_warn("%s: the guest did not power off; destroying it", r->s->name);
    if (avtb_vdom_destroy(r->dom, &err) != AVTB_OK)
        add_reason(r, "%s", err.msg);
    r->dom = NULL;
    end_file_access(r);
}

/* Releases every resource the run holds, in reverse order. Idempotent. */
static void run_teardown(run *r)
{
    avtb_error err = {0};

    stop_guest(r);
    if (r->agent_fd >= 0)
        close(r->agent_fd);
    r->agent_fd = -1;
    end_file_access(r);
    if (r->fa_fd >= 0)
        close(r->fa_fd);
    r->fa_fd = -1;
    stop_collectors(r);
    regain_libvirt(r);
    if (r->nft) {
        char *path = avtb_path_join(r->evdir, "netfilter.json");

        avtb_error_clear(&err);
        if (avtb_nft_remove(r->tag, path, &err) != AVTB_OK)
            add_reason(r, "%s", err.msg);
        free(path);
        r->nft = false;
    }
    /* Without libvirtd the network is left to it, which regain_libvirt said. */
    if (avtb_vnet_destroy(r->net, &err) != AVTB_OK && !r->libvirt_gone)
        add_reason(r, "%s", err.msg);
    r->net = NULL;
    avtb_virt_close(r->virt);
    r->virt = NULL;
    if (r->workdir != NULL) {
        avtb_error_clear(&err);
        if (avtb_rm_rf(r->workdir, &err) != AVTB_OK)
            avtb_warn("%s", err.msg);
    }
}

/*
 * The run's TLS interception CA: made before planting (the guest must trust
 * it), used by the sink. Its certificate and the session keys the sink
 * writes (SSLKEYLOGFILE format) are evidence: with tls-keys.log, Wireshark
 * decrypts capture.pcapng.
 */
static avtb_err make_ca(run *r, avtb_error *err)
{
    char *keylog = avtb_path_join(r->evdir, "tls-keys.log");
    char *ca = avtb_path_join(r->evdir, "tls-ca.pem");
    avtb_mitm_config c = {.run_id = r->run_id, .keylog_path = keylog};
    avtb_err e;

    if (keylog == NULL || ca == NULL)
        e = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    else if ((e = avtb_mitm_new(&c, &r->mitm, err)) == AVTB_OK)
        e = avtb_mitm_write_ca(r->mitm, ca, err);
    free(keylog);
    free(ca);
    return e;
}

/* Tokens and document metadata of the run, compiled once for the forensics and the analysis. */
static avtb_err run_patterns(run *r, avtb_error *err)
{
    char *registry;
    avtb_err e;

    if (r->pats != NULL)
        return AVTB_OK;
    r->canaries = avtb_canaries_new();
    registry = avtb_path_join(r->evdir, "tokens.json");
    e = r->canaries && registry ? AVTB_OK : avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    /* The registry render_docs wrote (every token of every document, archive members
     * included): the run finds what `avtb analyze` of its evidence finds. */
    if (e == AVTB_OK && r->ndocs > 0)
        e = avtb_canaries_load_registry(r->canaries, registry, err);
    free(registry);
    if (e == AVTB_OK)
        e = avtb_canaries_compile(r->canaries, &r->pats, err);
    return e;
}

/*
 * Agentless forensics on the stopped guest's disk (collectors/FORENSICS.md):
 * each planted document against its "before" record, and every file changed
 * since boot searched for tokens. Runs whenever documents were planted and
 * the guest is down, also after a failed dwell; a failure is an incomplete
 * reason, the run goes on to its report.
 */
static void run_forensics(run *r)
{
    avtb_forensics_summary sum = {0};
    avtb_error err = {0};
    avtb_forensics_req req = {
        .overlay = r->overlay,
        .root_device = r->img ? r->img->guestfs_root : NULL,
        .tcg = r->accel ? !r->accel->kvm : true,
        .evidence_dir = r->evdir,
        /* Before boot, by a second or two: the guest's clock is the host's at boot. */
        .since = (int64_t)r->boot_wall - 2,
    };

    if (!r->planted || !r->s->forensics || r->dom != NULL || r->boot_wall == 0 ||
        avtb_signals_pending() != 0)
        return;
    phase_begin(r, "forensics");
    if (run_patterns(r, &err) != AVTB_OK) {
        add_reason(r, "forensics: %s", err.msg);
        phase_end(r);
        return;
    }
    req.patterns = r->pats;
    req.token_docs = avtb_canaries_token_docs(r->canaries);
    /* avtb matrix does the forensics of several runs on one appliance. */
    if (r->opts->forensics_hook != NULL
            ? r->opts->forensics_hook(r->opts->forensics_ctx, &req, &sum, &err) != AVTB_OK
            : avtb_forensics_run(&req, &sum, &err) != AVTB_OK)
        add_reason(r, "forensics failed: %s", err.msg);
    else
        avtb_info("%s: forensics: %zu documents (%zu read, %zu changed, %zu vanished), %zu changed "
                  "files scanned, %zu with tokens%s",
                  r->s->name, sum.documents, sum.read, sum.changed, sum.vanished, sum.scanned,
                  sum.files_with_tokens, sum.limited ? " (a limit cut the search short)" : "");
    (void)interrupted(r); /* a signal during the forensics, which finish regardless */
    phase_end(r);
}

/* Up to an overlay ready for planting. */
static avtb_err run_prepare(run *r, avtb_error *err)
{
    avtb_err e;

    phase_begin(r, "prepare");
    e = copy_scenario(r, err);
    if (e == AVTB_OK)
        e = render_docs(r, err);
    if (e == AVTB_OK)
        e = avtb_image_ensure(r->s->guest, &r->img, err);
    if (e == AVTB_OK)
        e = make_ca(r, err);
    if (e != AVTB_OK)
        return e;
    r->accel = avtb_accel_probe();
    avtb_info("%s: accelerator %s (%s)", r->s->name, avtb_accel_name(r->accel), r->accel->reason);
    phase_end(r);
    if (interrupted(r))
        return AVTB_ERR_INTERRUPTED;

    phase_begin(r, "overlay");
    e = avtb_image_overlay(r->img, r->overlay, err);
    if (e != AVTB_OK)
        return e;
    phase_end(r);
    return AVTB_OK;
}

static avtb_plant_req plant_req(run *r)
{
    avtb_plant_req req = {
        .overlay = r->overlay,
        .root_device = r->img->guestfs_root,
        .tcg = !r->accel->kvm,
        .scenario = r->s,
        .docs = r->docs,
        .ndocs = r->ndocs,
        .evidence_dir = r->evdir,
        .ca_pem = avtb_mitm_ca_pem(r->mitm),
    };

    return req;
}

/* After planting: the result of the plant phase becomes the run's state. */
static void planted(run *r, avtb_err e)
{
    r->planted = e == AVTB_OK;
    if (e != AVTB_OK)
        r->state = interrupted(r) ? AVTB_ERR_INTERRUPTED : e;
    else
        phase_end(r);
}

/* From the planted overlay to the stopped guest. */
static avtb_err run_pipeline(run *r, avtb_error *err)
{
    avtb_err e;
    char *path;

    if (interrupted(r))
        return AVTB_ERR_INTERRUPTED;

    phase_begin(r, "network");
    e = avtb_virt_open(r->opts->connect_uri, &r->virt, err);
    if (e == AVTB_OK) {
        avtb_error verr = {0};

        if (avtb_virt_versions(r->virt, r->libvirt, r->qemu, &verr) != AVTB_OK)
            avtb_warn("%s", verr.msg);
        e = avtb_vnet_create(r->virt, r->tag, &r->net, err);
    }
    if (e == AVTB_OK) {
        avtb_nft_spec spec = {
            .tag = r->tag,
            .bridge = avtb_vnet_bridge(r->net),
            .sink_ip = avtb_vnet_host_ip(r->net),
            .dns_port = AVTB_SINK_DNS_PORT,
            .tcp_port = AVTB_SINK_CATCHALL_PORT,
            .udp_port = AVTB_SINK_CATCHALL_PORT,
        };

        e = avtb_nft_install(&spec, err);
        r->nft = e == AVTB_OK;
    }
    if (e == AVTB_OK)
        e = start_collectors(r, err);
    if (e != AVTB_OK)
        return e;
    phase_end(r);

    phase_begin(r, "boot");
    path = avtb_path_join(r->evdir, "agent.jsonl");
    r->agent_log = path ? fopen(path, "we") : NULL;
    free(path);
    r->agent = avtb_agent_new(r->agent_log, on_agent_msg, r);
    if (r->agent_log == NULL || r->agent == NULL)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot create agent.jsonl");
    path = avtb_path_join(r->evdir, "file-access.jsonl");
    r->fa_log = path ? fopen(path, "we") : NULL;
    free(path);
    r->fa_chan = avtb_agent_new(r->fa_log, on_fa_msg, r);
    r->fam = avtb_fa_monitor_new();
    if (r->fa_log == NULL || r->fa_chan == NULL || r->fam == NULL)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot create file-access.jsonl");
    e = boot(r, err);
    if (e != AVTB_OK)
        return e;
    phase_end(r);

    phase_begin(r, "dwell");
    e = dwell(r, err);
    if (e != AVTB_OK)
        return e;
    phase_end(r);

    phase_begin(r, "stop");
    stop_guest(r);
    phase_end(r);
    return AVTB_OK;
}

static void free_run(run *r)
{
    if (r->workdir_lock >= 0)
        close(r->workdir_lock);
    for (size_t i = 0; i < r->ndocs; i++)
        avtb_honeydoc_free(r->docs[i]);
    free(r->docs);
    for (size_t i = 0; i < r->nreasons; i++)
        free(r->reasons[i]);
    avtb_agent_free(r->agent);
    if (r->agent_log != NULL)
        fclose(r->agent_log);
    avtb_agent_free(r->fa_chan);
    if (r->fa_log != NULL)
        fclose(r->fa_log);
    avtb_fa_monitor_free(r->fam);
    avtb_patterns_free(r->pats);
    avtb_canaries_free(r->canaries);
    for (size_t i = 0; i < r->nnotices; i++)
        free(r->notices[i]);
    avtb_image_free(r->img);
    avtb_mitm_free(r->mitm);
    free(r->evdir);
    free(r->workdir);
    free(r->overlay);
    free(r->sock);
    free(r->fasock);
    free(r->console);
}

/*
 * The monitor's verdict on itself (a lost agent makes the evidence
 * incomplete; running without one is a notice). avtb's own state from the
 * agent's stream: it is taken before the analysis process starts.
 */
static json_t *file_access_status(run *r)
{
    json_t *status = NULL;
    char **mine = NULL;
    size_t n;

    if (r->fam == NULL)
        return NULL;
    end_file_access(r);
    if (r->fa_log != NULL)
        fflush(r->fa_log);
    status = avtb_fa_monitor_json(r->fam);
    n = avtb_fa_monitor_problems(r->fam, &mine);
    for (size_t i = 0; i < n; i++) {
        add_reason(r, "%s", mine[i]);
        free(mine[i]);
    }
    free(mine);
    add_notice(r, avtb_fa_monitor_notice(r->fam));
    return status;
}

/*
 * The forensics record and the chains that tie documents, processes,
 * staging files and findings; read from dir (the analysis process's ".").
 */
static void file_evidence(run *r, const char *dir, const avtb_findings *findings,
                          avtb_file_evidence *fe)
{
    avtb_error err = {0};
    char *problems[8];
    size_t n = 0;

    if (avtb_file_evidence_load(dir, findings, fe, problems, 8, &n, &err) != AVTB_OK)
        add_reason(r, "%s", err.msg);
    for (size_t i = 0; i < n; i++) {
        add_reason(r, "%s", problems[i]);
        free(problems[i]);
    }
    if (fe->forensics == NULL && r->planted && r->s->forensics && r->boot_wall != 0)
        add_notice(r, "no forensics of the guest's disk: the run stopped before they could run");
}

/* report.html, junit.xml and stix-bundle.json: views of report.json's object. */
static void write_renderings(run *r, json_t *root)
{
    avtb_error err = {0};

    if (avtb_report_write_html(root, r->evdir, &err) != AVTB_OK)
        avtb_errorf("%s: report.html: %s", r->s->name, err.msg);
    avtb_error_clear(&err);
    if (avtb_report_write_junit(root, r->evdir, &err) != AVTB_OK)
        avtb_errorf("%s: junit.xml: %s", r->s->name, err.msg);
    avtb_error_clear(&err);
    if (avtb_report_write_stix(root, r->evdir, &err) != AVTB_OK)
        avtb_errorf("%s: stix-bundle.json: %s", r->s->name, err.msg);
}

/*
 * manifest.json over every evidence file, signed when $AVTB_SIGNING_KEY
 * names a lab key (avtb keygen); reports/BUNDLE.md. The transcripts are
 * closed first: nothing is written into the evidence after this.
 */
static avtb_err seal(run *r)
{
    const char *key = getenv("AVTB_SIGNING_KEY");
    avtb_error err = {0};
    avtb_err e;

    if (r->agent_log != NULL)
        fclose(r->agent_log);
    if (r->fa_log != NULL)
        fclose(r->fa_log);
    r->agent_log = r->fa_log = NULL;
    e = avtb_bundle_seal(r->evdir, key && key[0] ? key : NULL, &err);
    if (e != AVTB_OK)
        avtb_errorf("%s: cannot seal the evidence: %s", r->s->name, err.msg);
    return e;
}

/* Analysis and report: always run, on whatever evidence exists. */
/*
 * What the analysis concluded: report.json's content, the terminal summary,
 * the exit code and whether the evidence is complete. Made in the confined
 * analysis process and sent to avtb as one JSON object (orchestrator/PRIVSEP.md).
 */
typedef struct conclusion {
    json_t *report;
    char *summary;
    int code;
    bool complete;
} conclusion;

#define ANALYSIS_RESULT_MAX ((size_t)256 << 20)
#define ANALYSIS_TIMEOUT_MS (3600u * 1000) /* a capture the memcaps bound takes minutes */

static void conclusion_clear(conclusion *c)
{
    json_decref(c->report);
    free(c->summary);
    memset(c, 0, sizeof(*c));
}

/* The report over what was found; an NULL analysis: none ran. */
static avtb_err conclude_report(run *r, const avtb_findings *findings, const avtb_analysis *an,
                                json_t *fa_status, const avtb_file_evidence *fe, conclusion *out,
                                avtb_error *err)
{
    avtb_expect_result results[16] = {0};
    avtb_report rep = {0};
    size_t len = 0;
    FILE *fp;

    memset(out, 0, sizeof(*out));
    phase_end(r);
    rep.scenario = r->s;
    rep.run_id = r->run_id;
    rep.started = r->started;
    rep.finished = r->finished;
    rep.accel = r->accel ? avtb_accel_name(r->accel) : NULL;
    rep.libvirt = r->libvirt[0] ? r->libvirt : NULL;
    rep.qemu = r->qemu[0] ? r->qemu : NULL;
    rep.image = r->img ? r->img->id : NULL;
    rep.docs = r->docs;
    rep.ndocs = r->ndocs;
    rep.findings = findings;
    rep.analysis = an;
    rep.complete = r->nreasons == 0;
    rep.reasons = (const char *const *)r->reasons;
    rep.nreasons = r->nreasons;
    rep.phases = r->phases;
    rep.nphases = r->nphases;
    rep.file_access = fa_status;
    rep.forensics = fe->forensics;
    rep.document_access = fe->document_access;
    rep.chains = fe->chains;
    rep.notices = (const char *const *)r->notices;
    rep.nnotices = r->nnotices;
    rep.verdict = avtb_verdict_decide(r->s, findings, rep.complete, results);
    rep.results = results;
    rep.exit_code = avtb_verdict_exit_code(rep.verdict, results, r->s->nexpects);
    out->code = rep.exit_code;
    out->complete = rep.complete;
    out->report = avtb_report_json(&rep);
    fp = open_memstream(&out->summary, &len);
    if (fp != NULL) {
        avtb_report_print_summary(&rep, r->evdir, fp);
        if (fclose(fp) != 0) {
            free(out->summary);
            out->summary = NULL;
        }
    }
    if (out->report == NULL || out->summary == NULL) {
        conclusion_clear(out);
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory building the report");
    }
    return AVTB_OK;
}

typedef struct analysis_ctx {
    run *r;
    json_t *fa_status; /* file_access_status()'s */
} analysis_ctx;

/* The network analysis of "."; false when there is none to report. */
static bool network_analysis(run *r, avtb_analysis *an, avtb_findings *findings)
{
    avtb_analyze_opts opts;
    avtb_error err = {0};
    struct stat st;

    avtb_analyze_opts_default(&opts);
    if (stat("capture.pcapng", &st) < 0) {
        add_reason(r, "no network capture to analyse");
        return false;
    }
    if (r->pats == NULL) /* avtb said why */
        return false;
    if (avtb_evidence_analyze(".", r->pats, avtb_canaries_token_docs(r->canaries), &opts, an,
                              &err) != AVTB_OK) {
        add_reason(r, "analysis failed: %s", err.msg);
        return false;
    }
    /* Evidence that exists but cannot be read (the decrypted TLS, say): incomplete. */
    for (size_t i = 0; i < an->nproblems; i++)
        add_reason(r, "%s", an->problems[i]);
    *findings = an->findings; /* transferred; suspected findings included */
    memset(&an->findings, 0, sizeof(an->findings));
    avtb_info("%s: analysed %llu packets in %llu flows, %zu findings, %llu anomalies", r->s->name,
              (unsigned long long)an->stats.packets, (unsigned long long)an->stats.flows,
              findings->count, (unsigned long long)an->anomaly_total);
    return true;
}

/*
 * In the confined analysis process, whose directory is the evidence: the
 * network analysis, the file evidence, the verdict, as one JSON object.
 */
static avtb_err analysis_child(void *arg, avtb_buf *out, avtb_error *err)
{
    const analysis_ctx *x = arg;
    run *r = x->r;
    avtb_analysis an = {0};
    avtb_findings findings = {0};
    avtb_file_evidence fe = {0};
    json_t *env = NULL;
    conclusion c = {0};
    char *text = NULL;
    bool analysed;
    avtb_err e;

    analysed = network_analysis(r, &an, &findings);
    file_evidence(r, ".", &findings, &fe);
    e = conclude_report(r, &findings, analysed ? &an : NULL, x->fa_status, &fe, &c, err);
    if (e == AVTB_OK) {
        env = json_pack("{s:O, s:s, s:i, s:b}", "report", c.report, "summary", c.summary,
                        "exit_code", c.code, "complete", c.complete);
        /* Reals at full precision: report.json is written from what this sends. */
        text = env ? json_dumps(env, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
        if (text == NULL)
            e = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory sending the report");
        else
            avtb_buf_str(out, text);
    }
    free(text);
    json_decref(env);
    conclusion_clear(&c);
    avtb_findings_clear(&findings);
    avtb_analysis_clear(&an);
    avtb_file_evidence_clear(&fe);
    return e;
}

/* Checks the analysis process's object; takes what avtb uses from it. */
static avtb_err take_conclusion(const char *text, size_t len, conclusion *c, avtb_error *err)
{
    json_error_t jerr;
    json_t *env = json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
    json_t *rep = json_object_get(env, "report");
    json_t *sum = json_object_get(env, "summary");
    json_t *code = json_object_get(env, "exit_code");
    json_t *complete = json_object_get(env, "complete");
    avtb_err e = AVTB_OK;

    memset(c, 0, sizeof(*c));
    if (env == NULL)
        e = avtb_error_set(err, AVTB_ERR_CHILD,
                           "analysis process: its result is not JSON (%s at offset %d)",
                           jerr.text, jerr.position);
    else if (!json_is_object(rep) || !json_is_string(sum) || !json_is_boolean(complete) ||
             !json_is_integer(code) ||
             (json_integer_value(code) != AVTB_EXIT_OK &&
              json_integer_value(code) != AVTB_EXIT_FAILED &&
              json_integer_value(code) != AVTB_EXIT_INFRA))
        e = avtb_error_set(err, AVTB_ERR_CHILD,
                           "analysis process: its result lacks a report, summary, exit code or "
                           "completeness");
    else if ((c->summary = strdup(json_string_value(sum))) == NULL)
        e = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    if (e == AVTB_OK) {
        c->report = json_incref(rep);
        c->code = (int)json_integer_value(code);
        c->complete = json_is_true(complete);
        /* The summary goes to a terminal: no escape sequences from a parser's output. */
        avtb_confined_text(c->summary, strlen(c->summary), true);
    }
    json_decref(env);
    return e;
}

/* Stop signals before the analysis began; one more stops it (see conclude). */
static unsigned signals_before_analysis;

static bool signalled_during_analysis(void)
{
    return avtb_signals_received() != signals_before_analysis;
}

static int conclude(run *r)
{
    avtb_findings none = {0};
    avtb_file_evidence fe = {0};
    avtb_error err = {0};
    analysis_ctx x = {r, NULL};
    conclusion c = {0};
    char *text = NULL;
    size_t len = 0;
    int code;

    signals_before_analysis = avtb_signals_received();
    phase_begin(r, "analysis");
    x.fa_status = file_access_status(r);
    avtb_utc_now(r->finished);
    /* avtb's own tokens.json (the forensics compiled it already, as a rule). */
    if (run_patterns(r, &err) != AVTB_OK) {
        add_reason(r, "analysis failed: %s", err.msg);
        avtb_error_clear(&err);
    }
    /* The analysis parses what the guest sent: not as root, not in avtb. */
    /*
     * A run stopped earlier is still analysed (the evidence it has); a signal
     * during the analysis stops it, and the report says so, without one.
     */
    if (avtb_confined_call_stoppable("analysis", r->evdir, analysis_child, &x, ANALYSIS_RESULT_MAX,
                                     ANALYSIS_TIMEOUT_MS, signalled_during_analysis, &text, &len,
                                     &err) != AVTB_OK ||
        take_conclusion(text, len, &c, &err) != AVTB_OK || signalled_during_analysis()) {
        conclusion_clear(&c);
        if (signalled_during_analysis()) {
            r->noted_interrupt = false; /* this signal ends the analysis: say so */
            (void)interrupted(r);
        } else {
            add_reason(r, "%s: the report holds no analysis", err.msg);
        }
        avtb_error_clear(&err);
        if (conclude_report(r, &none, NULL, x.fa_status, &fe, &c, &err) != AVTB_OK)
            avtb_errorf("%s: %s", r->s->name, err.msg);
    }
    free(text);
    json_decref(x.fa_status);
    /* avtb's own reasons make the run incomplete whatever the analysis said. */
    code = r->nreasons > 0 && c.code == AVTB_EXIT_OK ? AVTB_EXIT_INFRA : c.code;
    avtb_error_clear(&err);
    if (c.report == NULL || avtb_report_write_root(c.report, r->evdir, &err) != AVTB_OK) {
        avtb_errorf("%s: %s", r->s->name, err.msg[0] ? err.msg : "no report");
        code = AVTB_EXIT_INFRA;
    } else {
        write_renderings(r, c.report);
        fputs(c.summary, stdout);
        fflush(stdout);
    }
    mark_incomplete(r, !c.complete || r->nreasons > 0 || code == AVTB_EXIT_INFRA);
    /* Last: nothing in the evidence may change after the manifest. */
    if (seal(r) != AVTB_OK && code == AVTB_EXIT_OK)
        code = AVTB_EXIT_INFRA;
    conclusion_clear(&c);
    return code;
}

avtb_run_state *avtb_run_start(const avtb_run_opts *opts, const avtb_scenario *s)
{
    run *r = calloc(1, sizeof(*r));
    avtb_error err = {0};

    if (r == NULL) {
        avtb_errorf("%s: out of memory", s->name);
        return NULL;
    }
    r->s = s;
    r->opts = opts;
    r->agent_fd = r->fa_fd = r->workdir_lock = -1;
    avtb_utc_now(r->started);
    if (make_dirs(r, &err) != AVTB_OK) {
        avtb_errorf("%s: %s", s->name, err.msg);
        if (r->workdir != NULL)
            rmdir(r->workdir);
        free_run(r);
        free(r);
        return NULL;
    }
    printf("run %s\nevidence: %s\n", r->run_id, r->evdir);
    fflush(stdout);
    mark_incomplete(r, true);
    r->state = run_prepare(r, &r->fail);
    return r;
}

const char *avtb_run_id(const avtb_run_state *r)
{
    return r->run_id;
}

const char *avtb_run_evidence_dir(const avtb_run_state *r)
{
    return r->evdir;
}

const char *avtb_run_workdir(const avtb_run_state *r)
{
    return r->workdir;
}

void avtb_run_plant(avtb_run_state **rs, size_t n)
{
    avtb_plant_req reqs[AVTB_RUN_PLANT_BATCH];
    avtb_err results[AVTB_RUN_PLANT_BATCH];
    avtb_error errs[AVTB_RUN_PLANT_BATCH];
    run *ready[AVTB_RUN_PLANT_BATCH];
    size_t m = 0;

    for (size_t i = 0; i < n; i++) {
        run *r = rs[i];

        if (r->state != AVTB_OK || r->planted || interrupted(r))
            continue;
        /* Runs a batch cannot hold, or whose accelerator differs, plant alone. */
        if (m == AVTB_RUN_PLANT_BATCH || (m > 0 && ready[0]->accel->kvm != r->accel->kvm)) {
            avtb_run_plant(&r, 1);
            continue;
        }
        phase_begin(r, "plant");
        ready[m] = r;
        reqs[m] = plant_req(r);
        memset(&errs[m], 0, sizeof(errs[m]));
        m++;
    }
    if (m == 1) {
        results[0] = avtb_plant(&reqs[0], &errs[0]);
    } else if (m > 1) {
        avtb_info("planting %zu runs on one appliance", m);
        (void)avtb_plant_batch(reqs, m, results, errs);
    }
    for (size_t i = 0; i < m; i++) {
        ready[i]->fail = errs[i];
        planted(ready[i], results[i]);
    }
}

int avtb_run_finish(avtb_run_state *r)
{
    int code;

    if (r->state == AVTB_OK && !r->planted) /* avtb_run_plant was not called */
        avtb_run_plant(&r, 1);
    if (r->state == AVTB_OK)
        r->state = run_pipeline(r, &r->fail);
    if (r->state != AVTB_OK && r->state != AVTB_ERR_INTERRUPTED)
        add_reason(r, "%s failed: %s", r->phase ? r->phase : "run", r->fail.msg);
    else if (r->state == AVTB_ERR_INTERRUPTED || avtb_signals_pending() != 0)
        interrupted(r);
    phase_end(r);
    /* Forensics needs the guest down and its overlay still there. */
    stop_guest(r);
    run_forensics(r);
    phase_begin(r, "teardown");
    run_teardown(r);
    (void)interrupted(r); /* a signal during the teardown, which goes on regardless */
    phase_end(r);
    note_floods(r);
    code = conclude(r);
    free_run(r);
    free(r);
    return code;
}

void avtb_run_release(avtb_run_state *r)
{
    if (r == NULL)
        return;
    free_run(r);
    free(r);
}

int avtb_run(const avtb_run_opts *opts, const avtb_scenario *s)
{
    avtb_run_state *r = avtb_run_start(opts, s);

    return r != NULL ? avtb_run_finish(r) : AVTB_EXIT_INFRA;
}
