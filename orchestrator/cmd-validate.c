/* SPDX-License-Identifier: Apache-2.0 */
/* `avtb validate`: load and check scenarios (and their products), start nothing. */
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "orchestrator/cli.h"
#include "scenarios/scenario.h"

static int validate_main(int argc, char **argv)
{
    void **list = NULL;

    if (argc < 2) {
        avtb_cli_usage(&avtb_cmd_validate, stderr);
        return AVTB_EXIT_USAGE;
    }
    if (avtb_cli_load_scenarios(argc - 1, argv + 1, &list) < 0)
        return AVTB_EXIT_USAGE;
    for (int i = 0; i < argc - 1; i++) {
        const avtb_scenario *s = list[i];

        printf("%s: ok (scenario %s, product %s, %zu documents (%zu generated), %zu triggers, "
               "dwell %llus)\n",
               argv[i + 1], s->name, s->product->name, avtb_scenario_ndocs_total(s),
               avtb_scenario_ndocs_total(s) - s->ndocs, s->ntriggers,
               (unsigned long long)(s->dwell_ms / 1000));
        avtb_scenario_free(list[i]);
    }
    free(list);
    return AVTB_EXIT_OK;
}

const avtb_cmd avtb_cmd_validate = {
    .name = "validate",
    .usage = "SCENARIO.yaml...",
    .summary = "check scenarios and their products without starting anything",
    .help = "Every problem is reported as FILE:LINE:COLUMN: message. Exit 0 when all\n"
            "scenarios are valid, 2 otherwise.\n",
    .run = validate_main,
};
