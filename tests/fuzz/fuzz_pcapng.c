/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for avtb's own pcapng reading (collectors/pcapng.c,
 * avtb_pcapng_read_comments): the block walker that takes the run metadata
 * out of the section header's comment and a transcript flow's "sni=" out
 * of packet comments. fuzz_pcap and fuzz_transcript reach it only for
 * inputs libpcap opened first; here every input is walked, in both modes
 * (section header only, and every block), whatever libpcap would say.
 * Packet data itself is read by libpcap (source-pcap.c), fuzzed there.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collectors/pcapng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct walk {
    uint64_t last_packet;
    unsigned calls, sum;
    bool packets;
} walk;

static avtb_err on_comment(void *ctx, uint64_t packet, const char *comment, size_t len)
{
    walk *w = ctx;

    /* NUL-terminated, len without the NUL, packets numbered in file order. */
    if (comment == NULL || strlen(comment) != len || len > AVTB_PCAPNG_OPT_MAX ||
        (!w->packets && packet != 0) || (packet != 0 && packet < w->last_packet))
        __builtin_trap();
    w->last_packet = packet;
    for (size_t i = 0; i < len; i++)
        w->sum += (unsigned char)comment[i];
    /* A callback that stops the walk: its result comes back unchanged. */
    if (++w->calls == 50)
        return AVTB_ERR_INPUT;
    return AVTB_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    static int fd = -1;
    avtb_error err = {0};

    if (fd < 0) {
        fd = memfd_create("fuzz_pcapng", MFD_CLOEXEC);
        if (fd < 0)
            return 0;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    for (int packets = 0; packets < 2; packets++) {
        walk w = {.packets = packets};
        avtb_err r = avtb_pcapng_read_comments(path, packets, on_comment, &w, &err);

        if (r != AVTB_OK && !(r == AVTB_ERR_INPUT && w.calls == 50) && r != AVTB_ERR_NOMEM)
            __builtin_trap(); /* damage ends the walk quietly; only the callback stops it */
    }
    return 0;
}
