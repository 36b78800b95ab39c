/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Is hardware virtualisation really usable? /dev/kvm existing proves nothing
 * (on these machines it exists and a KVM guest spins forever), so the probe
 * checks the CPU flags and /dev/kvm, then boots a Linux kernel under KVM with
 * a time limit. Runs fall back to TCG when it fails.
 */
#ifndef AVTB_ACCEL_H
#define AVTB_ACCEL_H

#include <stdbool.h>

#include "common/error.h"

typedef struct avtb_accel {
    bool kvm;         /* true: KVM works, use <domain type='kvm'> */
    char reason[256]; /* why KVM is unusable, or how it was confirmed */
} avtb_accel;

/* Probes once per process and caches the answer. Never fails: TCG always works. */
const avtb_accel *avtb_accel_probe(void);

/* "kvm" or "tcg". */
const char *avtb_accel_name(const avtb_accel *a);

#endif
