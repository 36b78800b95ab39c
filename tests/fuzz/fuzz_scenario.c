/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the scenario loader (scenarios/scenario.c) and the
 * strict YAML layer under it: user-supplied bytes, parsed as if they were a
 * scenario file in scenarios/ (so product names resolve to the real
 * fixtures when the input names one).
 */
#include <stdint.h>
#include <stdlib.h>

#include "common/diag.h"
#include "scenarios/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    avtb_diags *d = avtb_diags_new();
    avtb_scenario *s = NULL;

    if (d == NULL)
        return 0;
    if (avtb_scenario_parse("scenarios/fuzz.yaml", data, size, d, &s) == AVTB_OK)
        avtb_scenario_free(s);
    avtb_diags_free(d);
    return 0;
}
