/* SPDX-License-Identifier: Apache-2.0 */
/* Tokens are unique, well-formed and self-checking; honey documents carry them. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "guests/honeydoc.h"
#include "guests/token.h"

START_TEST(token_format)
{
    char t[AVTB_TOKEN_LEN + 1];
    avtb_error err = {0};

    ck_assert_int_eq(avtb_token_new(t, &err), AVTB_OK);
    ck_assert_uint_eq(strlen(t), AVTB_TOKEN_LEN);
    ck_assert_int_eq(strncmp(t, "AVTB", 4), 0);
    ck_assert_uint_eq(strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), AVTB_TOKEN_LEN);
    ck_assert(avtb_token_valid(t, strlen(t)));
}
END_TEST

START_TEST(tokens_are_unique)
{
    enum { N = 2000 };
    static char seen[N][AVTB_TOKEN_LEN + 1];
    avtb_error err = {0};

    int dups = 0;

    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(avtb_token_new(seen[i], &err), AVTB_OK);
        for (int j = 0; j < i; j++)
            dups += strcmp(seen[i], seen[j]) == 0;
    }
    ck_assert_int_eq(dups, 0);
}
END_TEST

START_TEST(every_single_substitution_is_rejected)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    char t[AVTB_TOKEN_LEN + 1];
    avtb_error err = {0};

    ck_assert_int_eq(avtb_token_new(t, &err), AVTB_OK);
    for (size_t pos = 4; pos < AVTB_TOKEN_LEN; pos++) {
        char orig = t[pos];

        for (const char *c = alphabet; *c; c++) {
            if (*c == orig)
                continue;
            t[pos] = *c;
            ck_assert_msg(!avtb_token_valid(t, AVTB_TOKEN_LEN), "near miss %s accepted", t);
        }
        t[pos] = orig;
    }
    ck_assert(avtb_token_valid(t, AVTB_TOKEN_LEN));
}
END_TEST

START_TEST(adjacent_swaps_are_rejected)
{
    char t[AVTB_TOKEN_LEN + 1];
    avtb_error err = {0};

    ck_assert_int_eq(avtb_token_new(t, &err), AVTB_OK);
    for (size_t pos = 4; pos + 1 < 4 + 16; pos++) {
        char a = t[pos], b = t[pos + 1];

        if (a == b)
            continue;
        t[pos] = b;
        t[pos + 1] = a;
        ck_assert(!avtb_token_valid(t, AVTB_TOKEN_LEN));
        t[pos] = a;
        t[pos + 1] = b;
    }
}
END_TEST

START_TEST(malformed_tokens_are_rejected)
{
    ck_assert(!avtb_token_valid("AVTB", 4));
    ck_assert(!avtb_token_valid("XVTBAAAAAAAAAAAAAAAAAA", 22));
    ck_assert(!avtb_token_valid("AVTBaaaaaaaaaaaaaaaaaa", 22));
    ck_assert(!avtb_token_valid("AVTB0000000000000000AA", 22));
}
END_TEST

START_TEST(honeydoc_renders_token_and_hashes)
{
    avtb_honeydoc *d = NULL;
    avtb_error err = {0};
    char expect[65];

    ck_assert_int_eq(avtb_honeydoc_render("A {{token}} B {{token}}", "/tmp/x", 1, 2, 0600, &d,
                                          &err),
                     AVTB_OK);
    ck_assert_uint_eq(d->len, 2 + AVTB_TOKEN_LEN + 3 + AVTB_TOKEN_LEN);
    ck_assert_int_eq(memcmp(d->content, "A ", 2), 0);
    ck_assert_int_eq(memcmp(d->content + 2, d->token, AVTB_TOKEN_LEN), 0);
    ck_assert_int_eq(memcmp(d->content + 2 + AVTB_TOKEN_LEN + 3, d->token, AVTB_TOKEN_LEN), 0);
    avtb_sha256_hex(d->content, d->len, expect);
    ck_assert_str_eq(d->sha256, expect);
    ck_assert_uint_eq(strlen(d->md5), 32);
    ck_assert_uint_eq(strlen(d->sha1), 40);
    ck_assert_uint_eq(d->mode, 0600);
    avtb_honeydoc_free(d);
}
END_TEST

START_TEST(honeydoc_without_placeholder_fails)
{
    avtb_honeydoc *d = NULL;
    avtb_error err = {0};

    ck_assert_int_eq(avtb_honeydoc_render("nothing", "/tmp/x", 0, 0, 0644, &d, &err),
                     AVTB_ERR_INPUT);
    ck_assert_ptr_null(d);
    ck_assert_ptr_nonnull(strstr(err.msg, "/tmp/x"));
}
END_TEST

START_TEST(registry_maps_tokens_to_documents)
{
    avtb_honeydoc *docs[2] = {NULL, NULL};
    avtb_error err = {0};
    char dir[] = "/tmp/avtb-test-registry-XXXXXX";
    char path[128];
    json_error_t jerr;
    json_t *root, *arr;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(avtb_honeydoc_render("{{token}}", "/a", 0, 0, 0644, &docs[0], &err), AVTB_OK);
    ck_assert_int_eq(avtb_honeydoc_render("x{{token}}", "/b", 0, 0, 0644, &docs[1], &err),
                     AVTB_OK);
    ck_assert_int_eq(avtb_honeydoc_write_registry(docs, 2, dir, &err), AVTB_OK);
    snprintf(path, sizeof(path), "%s/tokens.json", dir);
    root = json_load_file(path, 0, &jerr);
    ck_assert_ptr_nonnull(root);
    arr = json_object_get(root, "tokens");
    ck_assert_uint_eq(json_array_size(arr), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *e = json_array_get(arr, i);

        ck_assert_str_eq(json_string_value(json_object_get(e, "token")), docs[i]->token);
        ck_assert_str_eq(json_string_value(json_object_get(e, "document")), docs[i]->guest_path);
        ck_assert_str_eq(json_string_value(json_object_get(e, "sha256")), docs[i]->sha256);
    }
    json_decref(root);
    snprintf(path, sizeof(path), "%s/tokens.txt", dir);
    {
        uint8_t *buf;
        size_t len;
        char expect[2 * (AVTB_TOKEN_LEN + 1) + 1];

        ck_assert_int_eq(avtb_read_file(path, 4096, &buf, &len, &err), AVTB_OK);
        snprintf(expect, sizeof(expect), "%s\n%s\n", docs[0]->token, docs[1]->token);
        ck_assert_str_eq((char *)buf, expect);
        free(buf);
    }
    avtb_honeydoc_free(docs[0]);
    avtb_honeydoc_free(docs[1]);
    ck_assert_int_eq(avtb_rm_rf(dir, &err), AVTB_OK);
}
END_TEST

static Suite *token_suite(void)
{
    Suite *s = suite_create("token");
    TCase *tok = tcase_create("tokens");
    TCase *doc = tcase_create("honey documents");

    tcase_add_test(tok, token_format);
    tcase_add_test(tok, tokens_are_unique);
    tcase_add_test(tok, every_single_substitution_is_rejected);
    tcase_add_test(tok, adjacent_swaps_are_rejected);
    tcase_add_test(tok, malformed_tokens_are_rejected);
    tcase_add_test(doc, honeydoc_renders_token_and_hashes);
    tcase_add_test(doc, honeydoc_without_placeholder_fails);
    tcase_add_test(doc, registry_maps_tokens_to_documents);
    suite_add_tcase(s, tok);
    suite_add_tcase(s, doc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(token_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
