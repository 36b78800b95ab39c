/* SPDX-License-Identifier: Apache-2.0 */
/* Subcommand table and dispatch; see cli.h. */
#include "orchestrator/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/diag.h"
#include "common/error.h"
#include "common/log.h"
#include "scenarios/scenario.h"

static const avtb_cmd *const commands[] = {
    &avtb_cmd_run,    &avtb_cmd_validate, &avtb_cmd_analyze,
    &avtb_cmd_verify, &avtb_cmd_diff, &avtb_cmd_matrix,     &avtb_cmd_keygen,
    &avtb_cmd_doctor, &avtb_cmd_honeydoc, NULL,
};

void avtb_cli_usage(const avtb_cmd *cmd, FILE *fp)
{
    fprintf(fp, "usage: avtb %s %s\n\n%s\n%s", cmd->name, cmd->usage, cmd->summary, cmd->help);
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: avtb [-v|--verbose] [-q|--quiet] COMMAND [ARGS...]\n"
                "       avtb --version\n\n"
                "avtb runs an anti-virus product in a sandboxed VM with honey documents and\n"
                "reports whether their content left the machine.\n\ncommands:\n");
    for (size_t i = 0; commands[i] != NULL; i++)
        fprintf(fp, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(fp, "\n'avtb COMMAND --help' describes a command.\n"
                "exit codes: 0 all expectations hold; 1 an expectation failed; 2 usage or\n"
                "scenario error; 3 infrastructure failure (run incomplete, evidence kept).\n");
}

int avtb_cli_load_scenarios(int n, char **paths, void ***out)
{
    avtb_scenario **list = calloc((size_t)n + 1, sizeof(*list));
    int bad = 0;

    *out = NULL;
    if (list == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        avtb_diags *d = avtb_diags_new();

        if (d == NULL || avtb_scenario_load(paths[i], d, &list[i]) != AVTB_OK) {
            avtb_diags_print(d, stderr);
            bad++;
        }
        avtb_diags_free(d);
    }
    if (bad > 0) {
        for (int i = 0; i < n; i++)
            avtb_scenario_free(list[i]);
        free(list);
        return -1;
    }
    *out = (void **)list;
    return 0;
}

int avtb_cli_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {NULL, 0, NULL, 0},
    };
    int c;

    /* '+': stop at the subcommand; its options are its own. optind 0, not 1: glibc reads
     * the '+' only when it reinitialises, and a subcommand's earlier parse in this process
     * (tests call this again) would leave it permuting past the subcommand. */
    optind = 0;
    while ((c = getopt_long(argc, argv, "+hVvq", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return AVTB_EXIT_OK;
        case 'V':
            printf("avtb %s\n", AVTB_VERSION);
            return AVTB_EXIT_OK;
        case 'v':
            avtb_log_set_level(AVTB_LOG_DEBUG);
            break;
        case 'q':
            avtb_log_set_level(AVTB_LOG_WARN);
            break;
        default:
            usage(stderr);
            return AVTB_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return AVTB_EXIT_USAGE;
    }
    for (size_t i = 0; commands[i] != NULL; i++) {
        if (strcmp(argv[optind], commands[i]->name) != 0)
            continue;
        for (int k = optind + 1; k < argc && strcmp(argv[k], "--") != 0; k++)
            if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
                avtb_cli_usage(commands[i], stdout);
                return AVTB_EXIT_OK;
            }
        return commands[i]->run(argc - optind, argv + optind);
    }
    fprintf(stderr, "avtb: unknown command '%s'; 'avtb --help' lists the commands\n", argv[optind]);
    return AVTB_EXIT_USAGE;
}
