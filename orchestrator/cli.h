/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The avtb command line: subcommands are rows of a table ({name, usage,
 * summary, run}); adding one is adding a cmd-<name>.c file and a row.
 */
#ifndef AVTB_CLI_H
#define AVTB_CLI_H

#include <stdio.h>

typedef struct avtb_cmd {
    const char *name;
    const char *usage;   /* arguments after the name */
    const char *summary; /* one line for `avtb --help` */
    const char *help;    /* the rest of `avtb NAME --help` */
    /* argv[0] is the subcommand name; returns the process exit code. */
    int (*run)(int argc, char **argv);
} avtb_cmd;

extern const avtb_cmd avtb_cmd_run, avtb_cmd_validate, avtb_cmd_analyze, avtb_cmd_doctor,
    avtb_cmd_honeydoc, avtb_cmd_verify, avtb_cmd_keygen, avtb_cmd_diff, avtb_cmd_matrix;

/* Entry point: parses global options, dispatches, returns the exit code. */
int avtb_cli_main(int argc, char **argv);
/* Prints `avtb NAME --help`. */
void avtb_cli_usage(const avtb_cmd *cmd, FILE *fp);
/* Loads and validates every scenario; prints diagnostics. 0 if all are good. */
int avtb_cli_load_scenarios(int n, char **paths, void ***out);

#endif
