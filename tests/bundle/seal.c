/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test driver: seals an evidence directory as a run does at its end
 * (avtb_bundle_seal), for tests/bundle/test-tamper and tests/bench/bench-verify;
 * sealing is part of a run, so avtb itself has no command for it.
 *
 *   bundle-seal DIR [PRIVATE_KEY.pem]
 */
#include <stdio.h>

#include "reports/bundle.h"

int main(int argc, char **argv)
{
    avtb_error err = {0};

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: bundle-seal DIR [PRIVATE_KEY.pem]\n");
        return 2;
    }
    if (avtb_bundle_seal(argv[1], argc == 3 ? argv[2] : NULL, &err) != AVTB_OK) {
        fprintf(stderr, "bundle-seal: %s\n", err.msg);
        return 1;
    }
    return 0;
}
