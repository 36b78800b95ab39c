/* SPDX-License-Identifier: Apache-2.0 */
/* The pattern set: tokens, their encoded forms, document hashes and names. */
#include <check.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/match.h"

#define TOK  "AVTBRH4SYX4QEJMMQXDM4S"
#define TOK2 "AVTBKSVFATVPGMZCOEVZ4Q"

typedef struct hits {
    avtb_hit h[64];
    size_t n;
} hits;

static bool collect(void *ctx, const avtb_hit *h)
{
    hits *x = ctx;

    if (x->n < 64)
        x->h[x->n++] = *h;
    return true;
}

static avtb_patterns *tokens_only(void)
{
    const char *t[] = {TOK, TOK2};
    avtb_patterns *p = NULL;
    avtb_error err = {0};

    ck_assert_int_eq(avtb_patterns_new(t, 2, NULL, 0, &p, &err), AVTB_OK);
    return p;
}

static hits scan(const avtb_patterns *p, const void *buf, size_t len)
{
    avtb_matcher *m = avtb_matcher_new(p);
    avtb_error err = {0};
    hits x = {0};

    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(avtb_matcher_scan(m, buf, len, collect, &x, &err), AVTB_OK);
    avtb_matcher_free(m);
    return x;
}

/* Whether a content hit on token i with that encoding (NULL = as is) is in x. */
static bool has(const hits *x, size_t token, const char *encoding)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->h[i].kind == AVTB_HIT_CONTENT && x->h[i].token == token &&
            ((encoding == NULL && x->h[i].encoding == NULL) ||
             (encoding != NULL && x->h[i].encoding != NULL &&
              strcmp(encoding, x->h[i].encoding) == 0)))
            return true;
    return false;
}

static size_t b64(const uint8_t *in, size_t n, char *o, int url)
{
    const char *a = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                        : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t w = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);

        o[w++] = a[v >> 18 & 63];
        o[w++] = a[v >> 12 & 63];
        o[w++] = i + 1 < n ? a[v >> 6 & 63] : '=';
        o[w++] = i + 2 < n ? a[v & 63] : '=';
    }
    o[w] = '\0';
    return w;
}

static size_t b32(const uint8_t *in, size_t n, char *o, int lower)
{
    const char *a = lower ? "abcdefghijklmnopqrstuvwxyz234567" : "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    size_t w = 0, bits = 0;
    uint32_t acc = 0;

    for (size_t i = 0; i < n; i++) {
        acc = acc << 8 | in[i];
        bits += 8;
        while (bits >= 5) {
            o[w++] = a[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        o[w++] = a[(acc << (5 - bits)) & 31];
    o[w] = '\0';
    return w;
}

START_TEST(plain_and_decoy)
{
    avtb_patterns *p = tokens_only();
    const char *text = "x " TOK " y AVTBRH4SYX4QEJMMQXDM4T z";
    hits x = scan(p, text, strlen(text));

    ck_assert(has(&x, 0, NULL));
    ck_assert_uint_eq(x.h[0].start, 2);
    ck_assert_uint_eq(x.h[0].end, 2 + strlen(TOK));
    /* One character off is not the token, in any form. */
    ck_assert_uint_eq(x.n, 1);
    avtb_patterns_free(p);
}
END_TEST

/* A honey document's beacon host carries its token lower-cased (and DNS may mix the case). */
START_TEST(plain_token_in_any_case)
{
    avtb_patterns *p = tokens_only();
    const char *text = "GET https://avtbrh4syx4qejmmqxdm4s.cdn.intranet-assets.example/logo.png "
                       "aVtBkSvFaTvPgMzCoEvZ4Q.example avtbrh4syx4qejmmqxdm4t.example";
    hits x = scan(p, text, strlen(text));

    ck_assert(has(&x, 0, NULL));
    ck_assert_uint_eq(x.h[0].start, 12);
    ck_assert(has(&x, 1, NULL));
    /* The lower-cased decoy one character off is still no token. */
    ck_assert_uint_eq(x.n, 2);
    avtb_patterns_free(p);
}
END_TEST

/* The token inside a base64 body at each of the three alignments, std and url. */
START_TEST(base64_any_alignment)
{
    avtb_patterns *p = tokens_only();

    for (int url = 0; url < 2; url++)
        for (size_t k = 0; k < 6; k++) {
            uint8_t src[128];
            char enc[256];
            hits x;

            memset(src, 0xfb, sizeof(src)); /* bytes whose base64 uses + and / (or - _) */
            memcpy(src + k, TOK, strlen(TOK));
            b64(src, k + strlen(TOK) + 7, enc, url);
            x = scan(p, enc, strlen(enc));
            /* Where the token's characters use neither +/ nor -_, the two forms are one
             * literal, reported as base64. */
            ck_assert_msg(has(&x, 0, "base64") || (url && has(&x, 0, "base64url")),
                          "k=%zu url=%d: %s", k, url, enc);
        }
    avtb_patterns_free(p);
}
END_TEST

START_TEST(base32_any_alignment_any_case)
{
    avtb_patterns *p = tokens_only();

    for (int lower = 0; lower < 2; lower++)
        for (size_t k = 0; k < 5; k++) {
            uint8_t src[128];
            char enc[256];
            hits x;

            memset(src, 'q', sizeof(src));
            memcpy(src + k, TOK2, strlen(TOK2));
            b32(src, k + strlen(TOK2) + 3, enc, lower);
            x = scan(p, enc, strlen(enc));
            ck_assert_msg(has(&x, 1, "base32"), "k=%zu lower=%d", k, lower);
        }
    avtb_patterns_free(p);
}
END_TEST

START_TEST(hex_and_utf16)
{
    avtb_patterns *p = tokens_only();
    char hex[128] = "id=";
    uint8_t u16[128] = {0xff, 0xfe};
    hits x;

    for (size_t i = 0; i < strlen(TOK); i++)
        sprintf(hex + 3 + 2 * i, "%02X", (unsigned)TOK[i]);
    x = scan(p, hex, strlen(hex));
    ck_assert(has(&x, 0, "hex"));
    for (size_t i = 0; i < strlen(TOK); i++) {
        u16[2 + 2 * i] = (uint8_t)TOK[i];
        u16[3 + 2 * i] = 0;
    }
    x = scan(p, u16, 2 + 2 * strlen(TOK));
    ck_assert(has(&x, 0, "utf16le"));
    for (size_t i = 0; i < strlen(TOK); i++) {
        u16[2 * i] = 0;
        u16[2 * i + 1] = (uint8_t)TOK[i];
    }
    x = scan(p, u16, 2 * strlen(TOK));
    ck_assert(has(&x, 0, "utf16be"));
    avtb_patterns_free(p);
}
END_TEST

/* Hashes of a document are metadata hits naming the document, in hex (any case) or base64. */
START_TEST(document_hashes_and_name)
{
    const char *t[] = {TOK};
    const char *content = "OFFICIAL\nRef " TOK "\n";
    uint8_t md5[16], sha1[20], sha256[32];
    size_t tok0 = 0;
    avtb_canary_doc d = {.name = "/home/analyst/Documents/budget-2018.txt",
                         .md5 = md5,
                         .sha1 = sha1,
                         .sha256 = sha256,
                         .tokens = &tok0,
                         .ntokens = 1};
    avtb_patterns *p = NULL;
    avtb_error err = {0};
    char text[512], hexs[65];
    hits x;
    size_t doc;

    EVP_Digest(content, strlen(content), md5, NULL, EVP_md5(), NULL);
    EVP_Digest(content, strlen(content), sha1, NULL, EVP_sha1(), NULL);
    EVP_Digest(content, strlen(content), sha256, NULL, EVP_sha256(), NULL);
    ck_assert_int_eq(avtb_patterns_new(t, 1, &d, 1, &p, &err), AVTB_OK);
    for (size_t i = 0; i < 32; i++)
        sprintf(hexs + 2 * i, "%02X", sha256[i]);
    snprintf(text, sizeof(text), "{\"sha256\":\"%s\"}", hexs);
    x = scan(p, text, strlen(text));
    ck_assert_uint_eq(x.n, 1);
    ck_assert_int_eq(x.h[0].kind, AVTB_HIT_METADATA);
    ck_assert_uint_eq(x.h[0].doc, 0);
    ck_assert_str_eq(x.h[0].encoding, "sha256");
    b64(md5, 16, hexs, 0);
    x = scan(p, hexs, strlen(hexs));
    ck_assert_uint_eq(x.n, 1);
    ck_assert_str_eq(x.h[0].encoding, "md5-base64");
    x = scan(p, "upload BUDGET-2018.TXT now", 26);
    ck_assert_uint_eq(x.n, 1);
    ck_assert_str_eq(x.h[0].encoding, "file-name");
    ck_assert(avtb_patterns_name_is_doc(p, "C:\\Users\\x\\budget-2018.txt", &doc));
    ck_assert(!avtb_patterns_name_is_doc(p, "budget-2019.txt", &doc));
    avtb_patterns_free(p);
}
END_TEST

START_TEST(bad_tokens_are_refused)
{
    const char *shortt[] = {"AVTB123"};
    const char *space[] = {"AVTB 1234567"};
    avtb_patterns *p = NULL;
    avtb_error err = {0};

    ck_assert_int_eq(avtb_patterns_new(shortt, 1, NULL, 0, &p, &err), AVTB_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "8 to 256"));
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_patterns_new(space, 1, NULL, 0, &p, &err), AVTB_ERR_INPUT);
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(empty_set_finds_nothing)
{
    avtb_patterns *p = NULL;
    avtb_error err = {0};
    hits x;

    ck_assert_int_eq(avtb_patterns_new(NULL, 0, NULL, 0, &p, &err), AVTB_OK);
    x = scan(p, "anything", 8);
    ck_assert_uint_eq(x.n, 0);
    avtb_patterns_free(p);
}
END_TEST

static Suite *match_suite(void)
{
    Suite *s = suite_create("match");
    TCase *forms = tcase_create("forms");
    TCase *meta = tcase_create("metadata");

    tcase_add_test(forms, plain_and_decoy);
    tcase_add_test(forms, plain_token_in_any_case);
    tcase_add_test(forms, base64_any_alignment);
    tcase_add_test(forms, base32_any_alignment_any_case);
    tcase_add_test(forms, hex_and_utf16);
    tcase_add_test(forms, bad_tokens_are_refused);
    tcase_add_test(forms, empty_set_finds_nothing);
    tcase_add_test(meta, document_hashes_and_name);
    suite_add_tcase(s, forms);
    suite_add_tcase(s, meta);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(match_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
