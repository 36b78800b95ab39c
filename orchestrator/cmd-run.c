/* SPDX-License-Identifier: Apache-2.0 */
/* `avtb run`: validate every scenario first, then run them, up to --jobs at once. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "orchestrator/cli.h"
#include "orchestrator/run.h"
#include "orchestrator/signals.h"
#include "scenarios/scenario.h"

/* Worst outcome first: an incomplete run outweighs a failed expectation. */
static int combine(int a, int b)
{
    if (a == AVTB_EXIT_INFRA || b == AVTB_EXIT_INFRA)
        return AVTB_EXIT_INFRA;
    if (a == AVTB_EXIT_FAILED || b == AVTB_EXIT_FAILED)
        return AVTB_EXIT_FAILED;
    return a > b ? a : b;
}

static int wait_one(void)
{
    int status;
    pid_t pid;

    while ((pid = wait(&status)) < 0 && errno == EINTR)
        ;
    if (pid < 0)
        return AVTB_EXIT_INFRA;
    return WIFEXITED(status) ? WEXITSTATUS(status) : AVTB_EXIT_INFRA;
}

static int run_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"jobs", required_argument, NULL, 'j'},
        {"connect", required_argument, NULL, 'c'},
        {"record", no_argument, NULL, 'R'},
        {"replay", required_argument, NULL, 'P'},
        {"connect-to", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    avtb_error err = {0};
    avtb_run_opts ro = {.out_dir = "avtb-runs"};
    long jobs = 1;
    void **list = NULL;
    int n, c, code = AVTB_EXIT_OK, running = 0;
    char *end;

    optind = 0; /* 0, not 1: glibc then re-reads the option string (permuting again) */
    while ((c = getopt_long(argc, argv, "o:j:c:", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            ro.out_dir = optarg;
            break;
        case 'c':
            ro.connect_uri = optarg;
            break;
        case 'R':
            ro.cloud_mode = AVTB_CLOUD_RECORD;
            break;
        case 'P':
            ro.cloud_mode = AVTB_CLOUD_REPLAY;
            ro.replay_from = optarg;
            break;
        case 'T':
            if (ro.nconnect_to == AVTB_RUN_MAX_CONNECT_TO) {
                fprintf(stderr, "avtb run: at most %d --connect-to\n", AVTB_RUN_MAX_CONNECT_TO);
                return AVTB_EXIT_USAGE;
            }
            if (avtb_connect_to_parse(optarg, &ro.connect_to[ro.nconnect_to], &err) != AVTB_OK) {
                fprintf(stderr, "avtb run: %s\n", err.msg);
                return AVTB_EXIT_USAGE;
            }
            ro.nconnect_to++;
            break;
        case 'j':
            jobs = strtol(optarg, &end, 10);
            if (*end != '\0' || jobs < 1 || jobs > 64) {
                fprintf(stderr, "avtb run: --jobs must be a number from 1 to 64, got '%s'\n",
                        optarg);
                return AVTB_EXIT_USAGE;
            }
            break;
        default:
            avtb_cli_usage(&avtb_cmd_run, stderr);
            return AVTB_EXIT_USAGE;
        }
    }
    n = argc - optind;
    if (n < 1) {
        avtb_cli_usage(&avtb_cmd_run, stderr);
        return AVTB_EXIT_USAGE;
    }
    if (ro.replay_from != NULL && ro.nconnect_to > 0) {
        fprintf(stderr, "avtb run: --connect-to is for --record; --replay sends nothing out\n");
        return AVTB_EXIT_USAGE;
    }
    if (ro.nconnect_to > 0 && ro.cloud_mode != AVTB_CLOUD_RECORD) {
        fprintf(stderr, "avtb run: --connect-to only makes sense with --record\n");
        return AVTB_EXIT_USAGE;
    }
    if (ro.cloud_mode == AVTB_CLOUD_RECORD && ro.replay_from != NULL) {
        fprintf(stderr, "avtb run: --record and --replay exclude each other\n");
        return AVTB_EXIT_USAGE;
    }
    if (ro.replay_from != NULL && avtb_cloud_load(ro.replay_from, &ro.replay, &err) != AVTB_OK) {
        fprintf(stderr, "avtb run: --replay: %s\n", err.msg);
        return AVTB_EXIT_USAGE;
    }
    /* Nothing starts unless every scenario is valid. */
    if (avtb_cli_load_scenarios(n, argv + optind, &list) < 0) {
        avtb_cloud_free(ro.replay);
        return AVTB_EXIT_USAGE;
    }
    avtb_signals_install();
    for (int i = 0; i < n; i++) {
        if (avtb_signals_pending() != 0) {
            avtb_warn("not starting %s: interrupted", ((avtb_scenario *)list[i])->name);
            code = combine(code, AVTB_EXIT_INFRA);
            continue;
        }
        if (jobs == 1) {
            code = combine(code, avtb_run(&ro, list[i]));
            continue;
        }
        if (running == jobs) {
            code = combine(code, wait_one());
            running--;
        }
        fflush(NULL);
        switch (fork()) {
        case -1:
            avtb_errorf("cannot fork for %s: %s", ((avtb_scenario *)list[i])->name,
                        strerror(errno));
            code = combine(code, AVTB_EXIT_INFRA);
            break;
        case 0:
            _exit(avtb_run(&ro, list[i]));
        default:
            running++;
        }
    }
    while (running-- > 0)
        code = combine(code, wait_one());
    for (int i = 0; i < n; i++)
        avtb_scenario_free(list[i]);
    free(list);
    avtb_cloud_free(ro.replay);
    return code;
}

const avtb_cmd avtb_cmd_run = {
    .name = "run",
    .usage = "SCENARIO.yaml... [--out DIR] [--jobs N] [--connect URI]\n"
             "       [--record [--connect-to HOST:PORT:TO_HOST:TO_PORT]... | --replay DIR]",
    .summary = "run scenarios in sandboxed VMs and decide their verdicts",
    .help = "  --out DIR      parent of the evidence directories (default ./avtb-runs)\n"
            "  --jobs N       run up to N scenarios at once (default 1)\n"
            "  --connect URI  libvirt URI (default $AVTB_CONNECT, else qemu:///system)\n"
            "  --record       the fake cloud forwards the guest's HTTP(S) requests to the\n"
            "                 real hosts they name and records the answers in the evidence\n"
            "                 (cloud-recording.jsonl); needs real egress on this host\n"
            "  --connect-to HOST:PORT:TO_HOST:TO_PORT\n"
            "                 with --record: reach HOST:PORT at TO_HOST:TO_PORT instead\n"
            "                 (as curl's option); HOST or PORT empty matches any\n"
            "  --replay DIR   the fake cloud answers what the run in evidence directory DIR\n"
            "                 recorded (or a cloud-recording.jsonl), offline\n\n"
            "Each run writes an evidence directory (capture, agent transcript, console,\n"
            "token registry, report.json). Ctrl-C stops the guest, tears everything down\n"
            "and keeps the evidence, marked INCOMPLETE.\n",
    .run = run_main,
};
