/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the HTTP request framing (app-detect.c), fed in
 * chunks whose sizes come from the input's first byte, each chunk in its
 * own allocation so ASan sees any read past a chunk (Suricata's
 * fuzz_applayerparserparse.c does the same).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/app-detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    avtb_http_parser *p;
    uint32_t state;
    size_t at = 1;

    if (size < 1)
        return 0;
    state = data[0] * 2654435761u + 1;
    p = avtb_http_parser_new();
    if (p == NULL)
        return 0;
    while (at < size) {
        size_t n = 1 + (state >> 16) % 97, used = 0;
        uint8_t *chunk;

        state = state * 1103515245u + 12345u;
        if (n > size - at)
            n = size - at;
        chunk = malloc(n);
        if (chunk == NULL)
            break;
        memcpy(chunk, data + at, n);
        for (size_t off = 0; off < n; off += used) {
            avtb_parse_result r = avtb_http_parse(p, chunk + off, n - off, &used);

            if (used > n - off)
                __builtin_trap();
            if (r == AVTB_PARSE_ERROR || r == AVTB_PARSE_NEED_MORE)
                break;
            if (used == 0) /* OK must make progress */
                __builtin_trap();
            (void)avtb_http_host(p);
        }
        free(chunk);
        at += n;
    }
    avtb_http_parser_free(p);
    return 0;
}
