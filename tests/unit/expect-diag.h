/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the loader suites: a bad input file states on its first line
 * "# expect LINE:COL message-substring"; the suite loads it and asserts that
 * a diagnostic with exactly that position and text was produced.
 */
#ifndef AVTB_TEST_EXPECT_DIAG_H
#define AVTB_TEST_EXPECT_DIAG_H

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/diag.h"

typedef struct {
    unsigned line, col;
    char text[256];
} expect_diag;

static inline void read_expectation(const char *path, expect_diag *e)
{
    FILE *fp = fopen(path, "r");
    char first[512];
    int n = 0;

    ck_assert_msg(fp != NULL, "cannot open %s", path);
    ck_assert(fgets(first, sizeof(first), fp) != NULL);
    fclose(fp);
    first[strcspn(first, "\n")] = '\0';
    ck_assert_msg(sscanf(first, "# expect %u:%u %n", &e->line, &e->col, &n) == 2 && n > 0,
                  "%s: first line must be '# expect LINE:COL text'", path);
    snprintf(e->text, sizeof(e->text), "%s", first + n);
}

static inline void assert_diag(const char *path, const avtb_diags *d, const expect_diag *e)
{
    ck_assert_msg(avtb_diags_count(d) > 0, "%s: no error reported", path);
    for (size_t i = 0; i < avtb_diags_count(d); i++) {
        const avtb_diag *g = avtb_diags_get(d, i);

        if (g != NULL && g->line == e->line && g->col == e->col && strstr(g->msg, e->text))
            return;
    }
    avtb_diags_print(d, stderr);
    ck_abort_msg("%s: no error at %u:%u containing \"%s\" (got %u:%u: %s)", path, e->line,
                 e->col, e->text, avtb_diags_get(d, 0)->line, avtb_diags_get(d, 0)->col,
                 avtb_diags_get(d, 0)->msg);
}

/* Calls fn(path) for each entry of dir (sorted), returns the count. */
static inline int for_each_entry(const char *dir, void (*fn)(const char *path))
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort), count = 0;

    ck_assert_msg(n >= 0, "cannot list %s", dir);
    for (int i = 0; i < n; i++) {
        char path[1024];

        if (names[i]->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
            fn(path);
            count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

static inline const char *testdata(const char *rel)
{
    static char buf[1024];
    const char *base = getenv("AVTB_TESTDATA");

    snprintf(buf, sizeof(buf), "%s/%s", base ? base : "tests/data", rel);
    return buf;
}

#endif
