/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Canary tokens: unique per run, easy to find in any encoding, impossible to
 * confuse with ordinary text, and self-checking so a near miss is no hit.
 * Format: "AVTB" + 16 base32 characters (80 random bits) + 2 base32 check
 * characters. Upper-case letters and digits 2-7 only: they survive URLs,
 * DNS labels (case-folded), JSON, XML and shell quoting unchanged.
 */
#ifndef AVTB_TOKEN_H
#define AVTB_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define AVTB_TOKEN_PREFIX "AVTB"
#define AVTB_TOKEN_LEN    22 /* prefix 4 + random 16 + check 2 */

/* Writes a fresh NUL-terminated token from the kernel's CSPRNG into out. */
avtb_err avtb_token_new(char out[AVTB_TOKEN_LEN + 1], avtb_error *err) AVTB_WUR;

/* True if s is exactly a well-formed token with a correct check. */
bool avtb_token_valid(const char *s, size_t len);

#endif
