/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Driver of tests/bench/bench-plant (not a test: it prints figures). Makes
 * N honey documents the way a lab's scenario would (an analyst's home:
 * Documents with project, finance and HR folders, Desktop, Downloads;
 * sizes 2-200 KB spread log-uniformly; modification times over the last
 * three years, access times after them), plants them with avtb_plant into
 * OVERLAY in one libguestfs launch, checks planted.json holds every
 * document with the times asked for, and prints planted.json's timings.
 *
 *   bench-plant-driver OVERLAY ROOT_DEVICE N EVIDENCE_DIR [UID]
 *
 * Deterministic: the same N gives the same paths, sizes and times (the
 * tokens are fresh).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "orchestrator/plant.h"

#define REFERENCE_NOW 1795651200 /* 2026-11-26 00:00 UTC: documents are older */
#define THREE_YEARS   (3 * 365 * 86400)

static const char *const folders[] = {
    "Documents",
    "Documents/Projects/Falcon",
    "Documents/Projects/Falcon/2025",
    "Documents/Projects/Harbour review",
    "Documents/Finance",
    "Documents/Finance/Budgets 2026",
    "Documents/HR/Reviews",
    "Documents/Board papers",
    "Documents/Board papers/2025",
    "Documents/Contracts/Suppliers",
    "Desktop",
    "Desktop/to file",
    "Downloads",
    "Documents/Travel",
};

static const char *const subjects[] = {
    "budget forecast",  "board minutes",  "risk register",     "supplier contract",
    "salary review",    "programme plan", "security incident", "visit itinerary",
    "procurement memo", "briefing note",  "org chart",         "legal advice",
};

static const char *const exts[] = {"docx", "xlsx", "pdf", "txt", "eml", "csv", "zip"};

/* Log-uniform between 2 KB and 200 KB: many small documents, a few large. */
static size_t pick_size(void)
{
    return (size_t)(2048 * exp(drand48() * log(100.0)));
}

/* size bytes of prose with the token placeholder a third of the way in. */
static char *template_of(size_t size)
{
    static const char para[] =
        "The committee noted the revised figures and asked for a further paper. ";
    char *t = malloc(size + 1);

    if (t == NULL)
        return NULL;
    for (size_t i = 0; i < size; i++)
        t[i] = para[i % (sizeof(para) - 1)];
    memcpy(t + size / 3, AVTB_TOKEN_PLACEHOLDER, strlen(AVTB_TOKEN_PLACEHOLDER));
    t[size] = '\0';
    return t;
}

static int make_docs(size_t n, unsigned uid, avtb_honeydoc **docs, size_t *bytes)
{
    srand48(20261126);
    *bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const char *folder = folders[lrand48() % (sizeof(folders) / sizeof(folders[0]))];
        const char *subject = subjects[lrand48() % (sizeof(subjects) / sizeof(subjects[0]))];
        const char *ext = exts[lrand48() % (sizeof(exts) / sizeof(exts[0]))];
        size_t size = pick_size();
        char path[512], *tmpl = template_of(size);
        avtb_error err = {0};
        int64_t mtime = REFERENCE_NOW - 86400 - (int64_t)(drand48() * THREE_YEARS);

        snprintf(path, sizeof(path), "/home/analyst/%s/%s %zu.%s", folder, subject, i + 1, ext);
        if (tmpl == NULL || avtb_honeydoc_render(tmpl, path, uid, uid, i % 3 ? 0640 : 0600,
                                                 &docs[i], &err) != AVTB_OK) {
            fprintf(stderr, "bench-plant: %s: %s\n", path, err.msg);
            free(tmpl);
            return -1;
        }
        free(tmpl);
        docs[i]->mtime = mtime;
        docs[i]->atime = mtime + (int64_t)(drand48() * 60 * 86400);
        if (docs[i]->atime > REFERENCE_NOW)
            docs[i]->atime = REFERENCE_NOW;
        *bytes += docs[i]->len;
    }
    return 0;
}

/* Every document in planted.json, with the times asked for; -1 otherwise. */
static int check_planted(const char *dir, avtb_honeydoc **docs, size_t n, json_t **out)
{
    char *path = avtb_path_join(dir, "planted.json");
    json_t *root = path ? json_load_file(path, 0, NULL) : NULL;
    json_t *a = json_object_get(root, "documents");
    int r = 0;

    free(path);
    *out = root;
    if (json_array_size(a) != n) {
        fprintf(stderr, "bench-plant: planted.json has %zu documents, not %zu\n",
                json_array_size(a), n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(a, i);
        json_int_t m = json_integer_value(json_object_get(json_object_get(d, "mtime"), "sec"));
        json_int_t at = json_integer_value(json_object_get(json_object_get(d, "atime"), "sec"));

        if (m != docs[i]->mtime || at != docs[i]->atime) {
            fprintf(stderr, "bench-plant: %s has mtime %lld atime %lld, asked %lld %lld\n",
                    docs[i]->guest_path, (long long)m, (long long)at, (long long)docs[i]->mtime,
                    (long long)docs[i]->atime);
            r = -1;
        }
    }
    return r;
}

static double timing(json_t *root, const char *name)
{
    return json_real_value(json_object_get(json_object_get(root, "timings"), name));
}

int main(int argc, char **argv)
{
    size_t n, bytes = 0;
    avtb_honeydoc **docs;
    avtb_error err = {0};
    json_t *root = NULL;
    double t0, total;
    int rc = 1;

    if (argc < 5) {
        fprintf(stderr, "usage: %s OVERLAY ROOT_DEVICE N EVIDENCE_DIR [UID]\n", argv[0]);
        return 2;
    }
    n = strtoul(argv[3], NULL, 10);
    docs = calloc(n ? n : 1, sizeof(*docs));
    if (docs == NULL ||
        make_docs(n, argc > 5 ? (unsigned)strtoul(argv[5], NULL, 10) : 1000, docs, &bytes) < 0)
        goto out;
    {
        /* BENCH_KVM=1 on a host where KVM works (not these machines). */
        const char *kvm = getenv("BENCH_KVM");
        avtb_plant_req req = {.overlay = argv[1],
                              .root_device = argv[2],
                              .tcg = kvm == NULL || strcmp(kvm, "1") != 0,
                              .docs = docs,
                              .ndocs = n,
                              .evidence_dir = argv[4]};

        t0 = avtb_now();
        if (avtb_plant(&req, &err) != AVTB_OK) {
            fprintf(stderr, "bench-plant: %s\n", err.msg);
            goto out;
        }
        total = avtb_now() - t0;
    }
    if (check_planted(argv[4], docs, n, &root) < 0)
        goto out;
    printf("documents    %zu, %.1f MiB in all (2-200 KB each), %zu folders under "
           "/home/analyst\n",
           n, bytes / 1048576.0, sizeof(folders) / sizeof(folders[0]));
    printf("total        %6.2f s  (avtb_plant: handle, launch, mount, plant, unmount, "
           "shutdown)\n",
           total);
    printf("launch       %6.2f s  (libguestfs appliance, TCG)\n", timing(root, "launch_s"));
    printf("documents    %6.2f s  %.1f ms per document (folders found or made, write, owner, "
           "mode, read back, times, stat)\n",
           timing(root, "documents_s"), n ? timing(root, "documents_s") * 1000 / n : 0.0);
    printf("shutdown     %6.2f s\n", timing(root, "shutdown_s"));
    printf("rest         %6.2f s  (vfs_type, mount, unmount, handle)\n",
           total - timing(root, "launch_s") - timing(root, "documents_s") -
               timing(root, "shutdown_s") - timing(root, "product_s"));
    rc = 0;
out:
    for (size_t i = 0; docs && i < n; i++)
        avtb_honeydoc_free(docs[i]);
    free(docs);
    json_decref(root);
    return rc;
}
