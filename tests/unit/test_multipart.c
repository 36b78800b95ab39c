/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Form bodies (collectors/multipart.h): multipart splitting with its
 * tolerances (preamble, epilogue, LF-only, missing closing boundary, look-alike
 * delimiters), Content-Disposition parameters including RFC 5987, the
 * urlencoded splitter and the percent, base64 and quoted-printable decoders.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/multipart.h"

#define TOK0 "AVTBQ3F7K2M9XWZP4R8TAB"
#define TOK1 "AVTBM2N3B4V5C6X7Z2L3KJ"

typedef struct part_rec {
    char name[64], filename[96], ctype[64], cte[32]; /* "-" when NULL */
    char data[256];
    size_t len, offset;
} part_rec;

typedef struct result {
    part_rec p[16];
    size_t n;
    avtb_parse_result last;
    char anom[8][256];
    size_t nanom;
} result;

static void on_anomaly(void *ctx, const char *what)
{
    result *r = ctx;

    ck_assert_uint_lt(r->nanom, 8);
    snprintf(r->anom[r->nanom++], sizeof(r->anom[0]), "%s", what);
}

static void copy_str(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s != NULL ? s : "-");
}

/* Splits body with boundary, recording every part. */
static void split(const char *boundary, const void *body, size_t len, unsigned flags,
                  const avtb_multipart_limits *lim, result *r)
{
    avtb_multipart *mp = avtb_multipart_new(boundary, lim, flags, on_anomaly, r);
    /* An exact-size copy: ASan sees any read past the body. */
    uint8_t *copy = malloc(len ? len : 1);
    size_t at = 0, used;
    avtb_multipart_part p;

    ck_assert_ptr_nonnull(mp);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, body, len);
    memset(r, 0, sizeof(*r));
    while ((r->last = avtb_multipart_next(mp, copy + at, len - at, &used, &p)) == AVTB_PARSE_OK) {
        part_rec *x = &r->p[r->n++];

        ck_assert_uint_le(used, len - at);
        ck_assert(p.data >= copy + at && p.data + p.len <= copy + len);
        copy_str(x->name, sizeof(x->name), p.name);
        copy_str(x->filename, sizeof(x->filename), p.filename);
        copy_str(x->ctype, sizeof(x->ctype), p.content_type);
        copy_str(x->cte, sizeof(x->cte), p.transfer_encoding);
        ck_assert_uint_lt(p.len, sizeof(x->data));
        memcpy(x->data, p.data, p.len);
        x->data[p.len] = '\0';
        x->len = p.len;
        x->offset = (size_t)(p.data - copy);
        at += used;
        ck_assert_uint_lt(r->n, 16);
    }
    ck_assert_uint_le(used, len - at);
    avtb_multipart_free(mp);
    free(copy);
}

static void expect_part(const result *r, size_t i, const char *name, const char *filename,
                        const char *data)
{
    ck_assert_msg(i < r->n, "part %zu expected, %zu found", i, r->n);
    ck_assert_str_eq(r->p[i].name, name);
    ck_assert_str_eq(r->p[i].filename, filename);
    ck_assert_str_eq(r->p[i].data, data);
}

static bool has_anomaly(const result *r, const char *text)
{
    for (size_t i = 0; i < r->nanom; i++)
        if (strstr(r->anom[i], text) != NULL)
            return true;
    return false;
}

/* ---- Splitting ---------------------------------------------------------------- */

START_TEST(two_files_preamble_epilogue)
{
    static const char body[] =
        "This is the preamble.\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"a\"; filename=\"one.txt\"\r\n"
        "Content-Type: text/plain\r\n\r\n" TOK0 "\r\n"
        "--XyZ  \r\n" /* transport padding */
        "content-disposition: form-data; filename=two.bin; name=b\r\n"
        "CONTENT-TRANSFER-ENCODING: Binary\r\n\r\n" TOK1 "\r\n"
        "--XyZ--\r\nThe epilogue, with --XyZ in it.\r\n";
    result r;

    split("XyZ", body, strlen(body), 0, NULL, &r);
    ck_assert_int_eq(r.last, AVTB_PARSE_NEED_MORE);
    ck_assert_uint_eq(r.n, 2);
    expect_part(&r, 0, "a", "one.txt", TOK0);
    ck_assert_str_eq(r.p[0].ctype, "text/plain");
    ck_assert_str_eq(r.p[0].cte, "-");
    ck_assert_uint_eq(r.p[0].offset, strstr(body, TOK0) - body);
    expect_part(&r, 1, "b", "two.bin", TOK1);
    ck_assert_str_eq(r.p[1].cte, "binary");
    ck_assert_str_eq(r.p[1].ctype, "-");
    ck_assert_uint_eq(r.nanom, 0);
}
END_TEST

START_TEST(lf_only_line_ends)
{
    static const char body[] = "--b\n"
                               "Content-Disposition: form-data; name=\"x\"\n\n"
                               "line1\nline2\n"
                               "--b\n"
                               "Content-Disposition: form-data; name=\"y\"\n\n"
                               "\n"
                               "--b--\n";
    result r;

    split("b", body, strlen(body), 0, NULL, &r);
    ck_assert_uint_eq(r.n, 2);
    expect_part(&r, 0, "x", "-", "line1\nline2");
    expect_part(&r, 1, "y", "-", ""); /* its one line end belongs to the delimiter */
    ck_assert_uint_eq(r.nanom, 0);
}
END_TEST

START_TEST(missing_closing_boundary)
{
    static const char body[] = "--b\r\n"
                               "Content-Disposition: form-data; name=\"f\"\r\n\r\n"
                               "cut short " TOK0;
    result r;

    split("b", body, strlen(body), 0, NULL, &r);
    ck_assert_uint_eq(r.n, 1);
    expect_part(&r, 0, "f", "-", "cut short " TOK0);
    ck_assert_uint_eq(r.nanom, 1);
    ck_assert(has_anomaly(&r, "multipart: no closing boundary"));

    /* The same as a piece of a larger body: expected, so no anomaly. */
    split("b", body, strlen(body), AVTB_MULTIPART_PIECE, NULL, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_uint_eq(r.nanom, 0);
}
END_TEST

START_TEST(piece_starting_inside_a_part)
{
    static const char body[] = "tail of an earlier part\r\n"
                               "--b\r\n"
                               "Content-Disposition: form-data; name=\"n\"\r\n\r\n" TOK1 "\r\n"
                               "--b\r\nContent-Disp";
    result r;

    split("b", body, strlen(body), AVTB_MULTIPART_PIECE, NULL, &r);
    ck_assert_uint_eq(r.n, 2);
    expect_part(&r, 0, "n", "-", TOK1);
    expect_part(&r, 1, "-", "-", ""); /* headers cut by the piece's end */
    ck_assert_uint_eq(r.nanom, 0);
}
END_TEST

START_TEST(boundary_not_found)
{
    static const char body[] = "no delimiters at all, --bb is not at a line start";
    result r;

    split("bb", body, strlen(body), 0, NULL, &r);
    ck_assert_int_eq(r.last, AVTB_PARSE_NEED_MORE);
    ck_assert_uint_eq(r.n, 0);
    ck_assert(has_anomaly(&r, "multipart: boundary not found"));
}
END_TEST

START_TEST(lookalike_delimiter_is_data)
{
    /* "--bX" and a "--b" inside a line are data, not delimiters. */
    static const char body[] = "--b\r\n"
                               "Content-Disposition: form-data; name=\"f\"\r\n\r\n"
                               "x\r\n--bX\r\ny --b\r\n"
                               "--b--";
    result r;

    split("b", body, strlen(body), 0, NULL, &r);
    ck_assert_uint_eq(r.n, 1);
    expect_part(&r, 0, "f", "-", "x\r\n--bX\r\ny --b");
    ck_assert_uint_eq(r.nanom, 0);
}
END_TEST

START_TEST(folded_and_odd_part_headers)
{
    static const char body[] = "--b\r\n"
                               "Content-Disposition: form-data;\r\n"
                               "\tname=\"folded\"; filename=\"a\\\"q.txt\"\r\n"
                               "X-No-Colon-Here\r\n\r\n"
                               "v\r\n--b--";
    result r;

    split("b", body, strlen(body), 0, NULL, &r);
    ck_assert_uint_eq(r.n, 1);
    expect_part(&r, 0, "folded", "a\"q.txt", "v");
    ck_assert(has_anomaly(&r, "without a colon"));
}
END_TEST

START_TEST(rfc5987_filename)
{
    static const char body[] = "--b\r\n"
                               "Content-Disposition: attachment; filename=\"fallback.txt\"; "
                               "filename*=UTF-8'en'na%C3%AFve%20" TOK0 ".txt\r\n\r\n"
                               "d\r\n--b--";
    result r;

    split("b", body, strlen(body), 0, NULL, &r);
    ck_assert_uint_eq(r.n, 1);
    expect_part(&r, 0, "-", "na\xc3\xafve " TOK0 ".txt", "d");
}
END_TEST

START_TEST(too_many_parts)
{
    char body[2048];
    size_t at = 0;
    avtb_multipart_limits lim;
    result r;

    for (int i = 0; i < 6; i++)
        at += (size_t)snprintf(body + at, sizeof(body) - at,
                               "--b\r\nContent-Disposition: form-data; name=\"p%d\"\r\n\r\n%d\r\n",
                               i, i);
    at += (size_t)snprintf(body + at, sizeof(body) - at, "--b--\r\n");
    avtb_multipart_limits_default(&lim);
    lim.max_parts = 4;
    split("b", body, at, 0, &lim, &r);
    ck_assert_int_eq(r.last, AVTB_PARSE_ERROR);
    ck_assert_uint_eq(r.n, 4);
    expect_part(&r, 3, "p3", "-", "3");
    ck_assert(has_anomaly(&r, "multipart: more than 4 parts"));
}
END_TEST

START_TEST(header_limits)
{
    char body[4096];
    size_t at = (size_t)snprintf(body, sizeof(body), "--b\r\nX-Long: ");
    avtb_multipart_limits lim;
    result r;

    memset(body + at, 'h', 200);
    at += 200;
    at += (size_t)snprintf(body + at, sizeof(body) - at, "\r\n");
    for (int i = 0; i < 5; i++)
        at += (size_t)snprintf(body + at, sizeof(body) - at, "X-%d: v\r\n", i);
    at += (size_t)snprintf(body + at, sizeof(body) - at,
                           "Content-Disposition: form-data; name=late\r\n\r\nd\r\n--b--");
    avtb_multipart_limits_default(&lim);
    lim.max_line = 100;
    lim.max_headers = 3;
    split("b", body, at, 0, &lim, &r);
    ck_assert_uint_eq(r.n, 1);
    expect_part(&r, 0, "-", "-", "d"); /* Content-Disposition came past the limit */
    ck_assert(has_anomaly(&r, "longer than 100 bytes"));
    ck_assert(has_anomaly(&r, "more than 3 header lines"));
}
END_TEST

START_TEST(refused_boundaries)
{
    char longb[AVTB_MULTIPART_MAX_BOUNDARY + 2];

    memset(longb, 'x', sizeof(longb) - 1);
    longb[sizeof(longb) - 1] = '\0';
    ck_assert_ptr_null(avtb_multipart_new("", NULL, 0, NULL, NULL));
    ck_assert_ptr_null(avtb_multipart_new(NULL, NULL, 0, NULL, NULL));
    ck_assert_ptr_null(avtb_multipart_new(longb, NULL, 0, NULL, NULL));
    longb[AVTB_MULTIPART_MAX_BOUNDARY] = '\0';
    avtb_multipart_free(avtb_multipart_new(longb, NULL, 0, NULL, NULL));
    avtb_multipart_free(NULL);
}
END_TEST

/* ---- Parameters -------------------------------------------------------------- */

START_TEST(params)
{
    static const char ct[] = "multipart/form-data; charset=utf-8; BOUNDARY=\"----We\\\"bKit; x\"";
    static const char cd[] = "form-data; name=\"up\"; filename=\"C:\\dir\\f.txt\"";
    static const char bare[] = "multipart/mixed;boundary=simple-1 ;x=y";
    char out[64];

    ck_assert(avtb_multipart_param(ct, strlen(ct), "boundary", out, sizeof(out)));
    ck_assert_str_eq(out, "----We\"bKit; x");
    ck_assert(avtb_multipart_param(cd, strlen(cd), "filename", out, sizeof(out)));
    ck_assert_str_eq(out, "C:\\dir\\f.txt");
    ck_assert(avtb_multipart_param(cd, strlen(cd), "name", out, sizeof(out)));
    ck_assert_str_eq(out, "up");
    ck_assert(avtb_multipart_param(bare, strlen(bare), "boundary", out, sizeof(out)));
    ck_assert_str_eq(out, "simple-1");
    ck_assert(!avtb_multipart_param(bare, strlen(bare), "name", out, sizeof(out)));
    ck_assert(!avtb_multipart_param("text/plain", 10, "boundary", out, sizeof(out)));
    /* Cut to the room given, never past it. */
    ck_assert(avtb_multipart_param(cd, strlen(cd), "filename", out, 4));
    ck_assert_str_eq(out, "C:\\");
    /* An unterminated quote ends at the end of the value. */
    ck_assert(avtb_multipart_param("a; b=\"open", 10, "b", out, sizeof(out)));
    ck_assert_str_eq(out, "open");
}
END_TEST

/* ---- Decoders ------------------------------------------------------------------ */

START_TEST(base64_decoding)
{
    static const char wrapped[] = "QVZUQlEz\r\nRjdLMk05WFdaUDRSOFRBQg==\r\n";
    static const char urlsafe[] = "-_8=";    /* 0xfb 0xff */
    static const char concat[] = "QQ==Qg=="; /* "A" then "B" */
    uint8_t out[64];
    bool bad;
    size_t n;

    n = avtb_multipart_base64_decode((const uint8_t *)wrapped, strlen(wrapped), out, &bad);
    ck_assert_uint_eq(n, 22);
    ck_assert(memcmp(out, TOK0, 22) == 0);
    ck_assert(!bad);
    n = avtb_multipart_base64_decode((const uint8_t *)urlsafe, 4, out, &bad);
    ck_assert_uint_eq(n, 2);
    ck_assert(out[0] == 0xfb && out[1] == 0xff);
    n = avtb_multipart_base64_decode((const uint8_t *)concat, strlen(concat), out, &bad);
    ck_assert_uint_eq(n, 2);
    ck_assert(memcmp(out, "AB", 2) == 0);
    n = avtb_multipart_base64_decode((const uint8_t *)"QV*ZU", 5, out, &bad);
    ck_assert(bad);
    ck_assert_uint_eq(n, 3);
    ck_assert(memcmp(out, "AVT", 3) == 0);
    ck_assert_uint_eq(avtb_multipart_base64_decode((const uint8_t *)"", 0, out, NULL), 0);
}
END_TEST

START_TEST(quoted_printable_decoding)
{
    static const char qp[] = "AVTBQ3=\r\nF7K2M9=58WZP4R8TAB=3d=\nx=zz=";
    uint8_t out[64];
    bool bad;
    size_t n = avtb_multipart_qp_decode((const uint8_t *)qp, strlen(qp), out, &bad);

    ck_assert_uint_eq(n, 22 + 2 + 4);
    ck_assert(memcmp(out, TOK0 "=x=zz=", n) == 0);
    ck_assert(bad);
    n = avtb_multipart_qp_decode((const uint8_t *)"a=41", 4, out, &bad);
    ck_assert(!bad);
    ck_assert(n == 2 && memcmp(out, "aA", 2) == 0);
}
END_TEST

START_TEST(form_splitting)
{
    static const char body[] = "&&a=1&tok=AVTB%51%33F7K2M9XWZP4R8TAB&flag&=v&e=&";
    const uint8_t *b = (const uint8_t *)body;
    size_t len = strlen(body), at = 0, used;
    avtb_form_field f;
    struct {
        const char *name, *value; /* value NULL: no '=' */
    } want[] = {
        {"a", "1"}, {"tok", "AVTB%51%33F7K2M9XWZP4R8TAB"}, {"flag", NULL}, {"", "v"}, {"e", ""}};
    size_t n = 0;

    while (avtb_form_next(b + at, len - at, &used, &f) == AVTB_PARSE_OK) {
        ck_assert_uint_lt(n, 5);
        ck_assert_uint_eq(f.name_len, strlen(want[n].name));
        ck_assert(memcmp(f.name, want[n].name, f.name_len) == 0);
        if (want[n].value == NULL) {
            ck_assert_ptr_null(f.value);
        } else {
            ck_assert_uint_eq(f.value_len, strlen(want[n].value));
            ck_assert(memcmp(f.value, want[n].value, f.value_len) == 0);
        }
        at += used;
        n++;
    }
    ck_assert_uint_eq(n, 5);
    ck_assert_uint_eq(at + used, len);
}
END_TEST

START_TEST(percent_decoding)
{
    static const char in[] = "AVTB%51%33F7K2M9XWZP4R8TAB+%zz%4";
    uint8_t out[64];
    size_t n;

    ck_assert(avtb_form_is_encoded((const uint8_t *)in, strlen(in), false));
    ck_assert(avtb_form_is_encoded((const uint8_t *)"a+b", 3, true));
    ck_assert(!avtb_form_is_encoded((const uint8_t *)"a+b", 3, false));
    ck_assert(!avtb_form_is_encoded((const uint8_t *)"100%", 4, true));
    n = avtb_form_percent_decode((const uint8_t *)in, strlen(in), true, out);
    ck_assert(n == 22 + 6 && memcmp(out, TOK0 " %zz%4", n) == 0);
    n = avtb_form_percent_decode((const uint8_t *)"a+b", 3, false, out);
    ck_assert(n == 3 && memcmp(out, "a+b", 3) == 0);
}
END_TEST

static Suite *multipart_suite(void)
{
    Suite *s = suite_create("multipart");
    TCase *tc;

    tc = tcase_create("split");
    tcase_add_test(tc, two_files_preamble_epilogue);
    tcase_add_test(tc, lf_only_line_ends);
    tcase_add_test(tc, missing_closing_boundary);
    tcase_add_test(tc, piece_starting_inside_a_part);
    tcase_add_test(tc, boundary_not_found);
    tcase_add_test(tc, lookalike_delimiter_is_data);
    tcase_add_test(tc, folded_and_odd_part_headers);
    tcase_add_test(tc, rfc5987_filename);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, too_many_parts);
    tcase_add_test(tc, header_limits);
    tcase_add_test(tc, refused_boundaries);
    suite_add_tcase(s, tc);

    tc = tcase_create("params");
    tcase_add_test(tc, params);
    suite_add_tcase(s, tc);

    tc = tcase_create("decoders");
    tcase_add_test(tc, base64_decoding);
    tcase_add_test(tc, quoted_printable_decoding);
    tcase_add_test(tc, form_splitting);
    tcase_add_test(tc, percent_decoding);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(multipart_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
