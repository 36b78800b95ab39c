/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the agent channel decoder (orchestrator/agent.c):
 * the bytes a hostile guest writes to its virtio-serial port. The input is
 * fed in several chunks, each in its own allocation, so ASan sees over-reads
 * across chunk boundaries; the first byte picks the chunk size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/agent.h"

static void on_msg(void *ctx, const char *type, json_t *msg)
{
    (void)ctx;
    (void)type;
    (void)json_object_get(msg, "uptime");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    avtb_agent *a;
    size_t chunk, used;

    if (size < 1)
        return 0;
    chunk = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    a = avtb_agent_new(NULL, on_msg, NULL);
    if (a == NULL)
        return 0;
    while (size > 0) {
        size_t n = size < chunk ? size : chunk;
        uint8_t *copy = malloc(n);

        if (copy == NULL)
            break;
        memcpy(copy, data, n);
        avtb_agent_feed(a, copy, n, &used);
        free(copy);
        data += n;
        size -= n;
    }
    avtb_agent_free(a);
    return 0;
}
