/* SPDX-License-Identifier: Apache-2.0 */
/* avtb diff: being written (issue 7). */
#include <stdio.h>

#include "orchestrator/cli.h"

static int diff_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "avtb diff: not available in this build yet\n");
    return 2;
}

const avtb_cmd avtb_cmd_diff = {
    .name = "diff",
    .usage = "",
    .summary = "(being written)",
    .help = "",
    .run = diff_main,
};
