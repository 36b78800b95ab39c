/* SPDX-License-Identifier: Apache-2.0 */
/* avtb keygen: being written (issue 7). */
#include <stdio.h>

#include "orchestrator/cli.h"

static int keygen_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "avtb keygen: not available in this build yet\n");
    return 2;
}

const avtb_cmd avtb_cmd_keygen = {
    .name = "keygen",
    .usage = "",
    .summary = "(being written)",
    .help = "",
    .run = keygen_main,
};
