/* SPDX-License-Identifier: Apache-2.0 */
/* The avtb executable: everything lives in the CLI table (cli.c). */
#include "orchestrator/cli.h"

int main(int argc, char **argv)
{
    return avtb_cli_main(argc, argv);
}
