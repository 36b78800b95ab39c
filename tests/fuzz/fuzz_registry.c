/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the token registry loader (collectors/canaries.c,
 * avtb_canaries_load_registry): tokens.json of an evidence directory, which
 * `avtb analyze` and `avtb verify` read from evidence a vendor or another
 * lab sends back, so user-supplied. Entries that load are compiled into a
 * pattern set (small registries only: compiling is what a run does once).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collectors/canaries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    static int fd = -1;
    avtb_error err = {0};
    avtb_canaries *c;
    avtb_patterns *p = NULL;
    const char *const *docs;

    if (fd < 0) {
        fd = memfd_create("fuzz_registry", MFD_CLOEXEC);
        if (fd < 0)
            return 0;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    c = avtb_canaries_new();
    if (c == NULL)
        return 0;
    if (avtb_canaries_load_registry(c, path, &err) != AVTB_OK) {
        if (err.msg[0] == '\0')
            __builtin_trap(); /* every refusal must say why */
        goto out;
    }
    docs = avtb_canaries_token_docs(c);
    if (avtb_canaries_ntokens(c) > 0 && docs == NULL)
        __builtin_trap();
    if (avtb_canaries_ntokens(c) <= 4 && avtb_canaries_ndocs(c) <= 4 &&
        avtb_canaries_compile(c, &p, &err) == AVTB_OK)
        avtb_patterns_free(p);
out:
    avtb_canaries_free(c);
    return 0;
}
