/* SPDX-License-Identifier: Apache-2.0 */
/* Canary token generation and checking; see token.h. */
#include "guests/token.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static int b32_val(char c)
{
    const char *p = c ? strchr(b32, c) : NULL;

    return p ? (int)(p - b32) : -1;
}

/*
 * Check = sum of (position+1) * value over the 16 random characters, mod
 * 1024, as two base32 digits. Any single substitution changes the sum by
 * (i+1)*d with 0 < |d| < 32 and i+1 <= 16, so by less than 1024 and never by
 * zero; any swap of two neighbours changes it by their difference.
 */
static unsigned check_of(const char *body)
{
    unsigned sum = 0;

    for (unsigned i = 0; i < 16; i++)
        sum += (i + 1) * (unsigned)b32_val(body[i]);
    return sum % 1024;
}

avtb_err avtb_token_new(char out[AVTB_TOKEN_LEN + 1], avtb_error *err)
{
    unsigned char rnd[16];
    size_t got = 0;
    unsigned check;
    char *body = out + strlen(AVTB_TOKEN_PREFIX);

    while (got < sizeof(rnd)) {
        ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return avtb_error_errno(err, AVTB_ERR_IO, errno, "getrandom");
        got += (size_t)n;
    }
    memcpy(out, AVTB_TOKEN_PREFIX, strlen(AVTB_TOKEN_PREFIX));
    for (unsigned i = 0; i < 16; i++)
        body[i] = b32[rnd[i] & 31]; /* 5 bits each: 80 bits of randomness */
    check = check_of(body);
    body[16] = b32[check >> 5];
    body[17] = b32[check & 31];
    out[AVTB_TOKEN_LEN] = '\0';
    return AVTB_OK;
}

bool avtb_token_valid(const char *s, size_t len)
{
    const char *body = s + strlen(AVTB_TOKEN_PREFIX);
    unsigned check;

    if (len != AVTB_TOKEN_LEN || memcmp(s, AVTB_TOKEN_PREFIX, strlen(AVTB_TOKEN_PREFIX)) != 0)
        return false;
    for (unsigned i = 0; i < 18; i++)
        if (b32_val(body[i]) < 0)
            return false;
    check = check_of(body);
    return body[16] == b32[check >> 5] && body[17] == b32[check & 31];
}
