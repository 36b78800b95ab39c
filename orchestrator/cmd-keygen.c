/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `avtb keygen`: the lab's Ed25519 key pair, with which runs sign their
 * evidence bundle ($AVTB_SIGNING_KEY) and `avtb verify --key` checks it.
 */
#include <getopt.h>
#include <stdio.h>

#include "common/error.h"
#include "orchestrator/cli.h"
#include "reports/bundle.h"

static int keygen_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    avtb_error err = {0};
    char fp[65];
    int c;

    optind = 0;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (c != 'o') {
            avtb_cli_usage(&avtb_cmd_keygen, stderr);
            return AVTB_EXIT_USAGE;
        }
        out = optarg;
    }
    if (out == NULL || optind != argc) {
        fprintf(stderr, "avtb keygen: give the key directory with --out DIR\n");
        avtb_cli_usage(&avtb_cmd_keygen, stderr);
        return AVTB_EXIT_USAGE;
    }
    if (avtb_bundle_keygen(out, fp, &err) != AVTB_OK) {
        fprintf(stderr, "avtb keygen: %s\n", err.msg);
        return err.code == AVTB_ERR_INPUT ? AVTB_EXIT_USAGE : AVTB_EXIT_INFRA;
    }
    printf("wrote %s/%s (private, mode 0600) and %s/%s\n", out, AVTB_BUNDLE_KEY_PRIVATE, out,
           AVTB_BUNDLE_KEY_PUBLIC);
    printf("fingerprint: %s\n", fp);
    printf("runs sign their evidence with: export AVTB_SIGNING_KEY=%s/%s\n", out,
           AVTB_BUNDLE_KEY_PRIVATE);
    printf("check a bundle with: avtb verify EVIDENCE_DIR --key %s/%s\n", out,
           AVTB_BUNDLE_KEY_PUBLIC);
    return AVTB_EXIT_OK;
}

const avtb_cmd avtb_cmd_keygen = {
    .name = "keygen",
    .usage = "--out DIR",
    .summary = "make the lab's Ed25519 key pair that signs evidence bundles",
    .help = "  --out DIR  where to write lab-key.pem (private, PKCS#8 PEM, mode 0600) and\n"
            "             lab-key.pub.pem; created if missing. Existing keys are never\n"
            "             overwritten.\n\n"
            "Prints the key's fingerprint: the SHA-256 of its raw 32-byte public key, which\n"
            "`avtb verify` prints for every signed bundle. A run signs its evidence bundle\n"
            "with the private key named by $AVTB_SIGNING_KEY (see reports/BUNDLE.md).\n"
            "Exit 0 done, 2 bad usage or a key already there, 3 cannot write.\n",
    .run = keygen_main,
};
