/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for what `avtb verify` reads of an evidence bundle
 * before hashing (reports/bundle.c): manifest.json (file list, sizes,
 * hashes, relative paths) and manifest.sig.json (the signing key's PEM and
 * fingerprint), plus manifest.sig. Evidence handed over by someone else is
 * user-supplied. The input is split at the first "\n--sig--\n" into
 * manifest.json and manifest.sig.json, and at a second one into
 * manifest.sig; they are written into a scratch bundle made once, holding
 * a.txt and sub/b.txt, so listed files are found, hashed and compared.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reports/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEP "\n--sig--\n"

static char dir[] = "/tmp/avtb-fuzz-bundle-XXXXXX";

static int put(const char *name, const void *buf, size_t len)
{
    char path[128];
    FILE *fp;
    int r;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "wb");
    if (fp == NULL)
        return -1;
    r = fwrite(buf, 1, len, fp) == len ? 0 : -1;
    return fclose(fp) == 0 ? r : -1;
}

static void drop(const char *name)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    (void)unlink(path);
}

/* libFuzzer ends with exit(): leave no scratch bundle behind. */
static void remove_dir(void)
{
    static const char *const names[] = {
        AVTB_BUNDLE_MANIFEST, AVTB_BUNDLE_SIGINFO, AVTB_BUNDLE_SIG, "a.txt", "sub/b.txt", "sub"};
    char path[128];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        (void)remove(path);
    }
    (void)rmdir(dir);
}

static int bundle_dir(void)
{
    static int made;
    char path[128];

    if (made)
        return made;
    made = -1;
    if (mkdtemp(dir) == NULL)
        return -1;
    atexit(remove_dir);
    snprintf(path, sizeof(path), "%s/sub", dir);
    if (mkdir(path, 0755) != 0 || put("a.txt", "a\n", 2) != 0 || put("sub/b.txt", "b\n", 2) != 0)
        return -1;
    made = 1;
    return made;
}

static const uint8_t *find(const uint8_t *p, size_t n, size_t *at)
{
    const uint8_t *s = memmem(p, n, SEP, strlen(SEP));

    *at = s ? (size_t)(s - p) : n;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    avtb_bundle_verify_opts o = {.threads = 1};
    avtb_bundle_check c;
    avtb_error err = {0};
    size_t mlen, ilen = 0;
    const uint8_t *info = NULL, *sig = NULL;

    if (bundle_dir() < 0)
        __builtin_trap(); /* no scratch directory: the harness cannot run */
    if (find(data, size, &mlen) != NULL) {
        info = data + mlen + strlen(SEP);
        if (find(info, size - (size_t)(info - data), &ilen) != NULL)
            sig = info + ilen + strlen(SEP);
        else
            ilen = size - (size_t)(info - data);
    }
    drop(AVTB_BUNDLE_SIGINFO);
    drop(AVTB_BUNDLE_SIG);
    if (put(AVTB_BUNDLE_MANIFEST, data, mlen) != 0 ||
        (info != NULL && put(AVTB_BUNDLE_SIGINFO, info, ilen) != 0) ||
        (sig != NULL && put(AVTB_BUNDLE_SIG, sig, size - (size_t)(sig - data)) != 0))
        return 0;
    if (avtb_bundle_verify(dir, &o, &c, &err) != AVTB_OK) {
        if (err.msg[0] == '\0')
            __builtin_trap(); /* every failure must say why */
        return 0;
    }
    for (size_t i = 0; i < c.nproblems; i++)
        if (c.problems[i].file == NULL || c.problems[i].what == NULL)
            __builtin_trap();
    if (c.hashed > c.files)
        __builtin_trap();
    avtb_bundle_check_clear(&c);
    return 0;
}
