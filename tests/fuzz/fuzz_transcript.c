/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness: arbitrary bytes as a decrypted-TLS transcript file
 * (tls-plaintext.pcapng, transcript.h) through the analysis in its
 * transcript mode: the pcapng comment walker (avtb_pcapng_read_comments),
 * the flows' "sni=" comments, and the whole packet path with "tls" as the
 * outermost encoding. The transcript is written by the host, but a damaged
 * or truncated one must still be an error or an anomaly, never a crash.
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
    static avtb_patterns *p;
    static avtb_analyze_opts o;
    avtb_analysis a;
    avtb_error err = {0};

    if (p == NULL) {
        if (avtb_patterns_new(tokens, 2, NULL, 0, &p, &err) != AVTB_OK)
            __builtin_trap();
        avtb_analyze_opts_default(&o);
        o.message_cap = 1u << 20;
        o.threads = 1;
        o.buffer_memcap = 4u << 20;
        o.transform.max_step_output = 1u << 20;
        o.transform.max_total_output = 4u << 20;
    }
    if (fd < 0) {
        fd = memfd_create("fuzz_transcript", MFD_CLOEXEC);
        if (fd < 0)
            return 0;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    if (avtb_analyze_file(path, AVTB_CAPTURE_TLS_PLAINTEXT, p, NULL, &o, &a, &err) != AVTB_OK) {
        if (err.msg[0] == '\0')
            __builtin_trap(); /* every failure must say why */
        return 0;
    }
    avtb_analysis_clear(&a);
    return 0;
}
