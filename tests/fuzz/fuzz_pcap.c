/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness: arbitrary bytes as a capture file through the whole
 * analysis (avtb_analyze_pcap: libpcap framing, decode, flows, reassembly,
 * HTTP framing, matching) with two fixed tokens that the seeds carry.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collectors/analyze.h"

static const char *const tokens[] = {"AVTBQ3F7K2M9XWZP4R8TAB", "AVTBM2N3B4V5C6X7Z2L3KJ"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    static int fd = -1;
    avtb_findings f = {0};
    avtb_error err = {0};

    /* The public entry point takes a path: a memfd gives one without touching the disk. */
    if (fd < 0) {
        fd = memfd_create("fuzz_pcap", MFD_CLOEXEC);
        if (fd < 0)
            return 0;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    if (avtb_analyze_pcap(path, tokens, 2, &f, NULL, &err) != AVTB_OK && err.msg[0] == '\0')
        __builtin_trap(); /* every failure must say why */
    avtb_findings_clear(&f);
    return 0;
}
