/* SPDX-License-Identifier: Apache-2.0 */
/* avtb verify: being written (issue 7). */
#include <stdio.h>

#include "orchestrator/cli.h"

static int verify_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "avtb verify: not available in this build yet\n");
    return 2;
}

const avtb_cmd avtb_cmd_verify = {
    .name = "verify",
    .usage = "",
    .summary = "(being written)",
    .help = "",
    .run = verify_main,
};
