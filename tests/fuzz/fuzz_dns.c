/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the DNS query parser and the sink's reply builder
 * (app-dns.c): what the sink answers over TCP comes straight from a guest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/app-dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t a4[4] = {10, 213, 99, 1};
    uint8_t *msg = malloc(size ? size : 1), reply[2 * 65536];
    avtb_dns_query q;
    size_t n, check;
    avtb_dns_query back;

    if (msg == NULL)
        return 0;
    memcpy(msg, data, size); /* exact-size copy: ASan catches over-reads */
    if (avtb_dns_parse_query(msg, size, &q) == AVTB_PARSE_OK) {
        if (q.question_end > size || strlen(q.qname) >= sizeof(q.qname))
            __builtin_trap();
        n = avtb_dns_build_reply(&q, msg, a4, 60, reply, sizeof(reply));
        if (n == 0 || n > sizeof(reply))
            __builtin_trap();
        /* The reply is a response, so our own parser must refuse it as a query. */
        check = avtb_dns_parse_query(reply, n, &back);
        if (check == AVTB_PARSE_OK)
            __builtin_trap();
    }
    free(msg);
    return 0;
}
