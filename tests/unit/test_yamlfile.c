/* SPDX-License-Identifier: Apache-2.0 */
/* The strict YAML helpers: durations, numbers, key tables, positions. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/yamlfile.h"

START_TEST(durations)
{
    uint64_t ms;

    ck_assert_int_eq(avtb_parse_duration("30s", &ms), 0);
    ck_assert_uint_eq(ms, 30000);
    ck_assert_int_eq(avtb_parse_duration("1m30s", &ms), 0);
    ck_assert_uint_eq(ms, 90000);
    ck_assert_int_eq(avtb_parse_duration("500ms", &ms), 0);
    ck_assert_uint_eq(ms, 500);
    ck_assert_int_eq(avtb_parse_duration("2h", &ms), 0);
    ck_assert_uint_eq(ms, 7200000);
    ck_assert_int_eq(avtb_parse_duration("30", &ms), -1);
    ck_assert_int_eq(avtb_parse_duration("", &ms), -1);
    ck_assert_int_eq(avtb_parse_duration("s", &ms), -1);
    ck_assert_int_eq(avtb_parse_duration("10x", &ms), -1);
    ck_assert_int_eq(avtb_parse_duration("-5s", &ms), -1);
    ck_assert_int_eq(avtb_parse_duration("10 s", &ms), -1);
    /* Too long to count: refused, never wrapped round to a short time. */
    ck_assert_int_eq(avtb_parse_duration("99999999999999999999h", &ms), -2);
    ck_assert_int_eq(avtb_parse_duration("5124095576039h", &ms), -2);
    ck_assert_int_eq(avtb_parse_duration("512409557603h512409557603h512409557603h512409557603h"
                                         "512409557603h512409557603h512409557603h512409557603h"
                                         "512409557603h512409557603h1551616ms30000ms",
                                         &ms),
                     -2);
    ck_assert_int_eq(avtb_parse_duration("99999999999h", &ms), 0);
    ck_assert_uint_eq(ms, 99999999999ull * 3600000);
}
END_TEST

START_TEST(edit_distance)
{
    ck_assert_uint_eq(avtb_edit_distance("dwell", "dwel"), 1);
    ck_assert_uint_eq(avtb_edit_distance("expect", "expcet"), 2);
    ck_assert_uint_eq(avtb_edit_distance("a", "a"), 0);
    ck_assert_uint_eq(avtb_edit_distance("", "abc"), 3);
}
END_TEST

typedef struct {
    uint64_t n;
    bool b;
    char *s;
} obj;

static int f_n(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return avtb_yaml_uint(y, v, "n", 1, 10, &((obj *)o)->n);
}

static int f_b(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return avtb_yaml_bool(y, v, "b", &((obj *)o)->b);
}

static int f_s(avtb_yaml *y, yaml_node_t *v, void *o)
{
    return avtb_yaml_string(y, v, "s", &((obj *)o)->s);
}

static const avtb_yfield fields[] = {
    {"n", true, f_n},
    {"b", false, f_b},
    {"s", false, f_s},
    {NULL, false, NULL},
};

static avtb_diags *parse(const char *text, obj *o)
{
    avtb_diags *d = avtb_diags_new();
    avtb_yaml *y = NULL;

    memset(o, 0, sizeof(*o));
    if (avtb_yaml_load_buffer("mem.yaml", (const uint8_t *)text, strlen(text), d, &y) ==
        AVTB_OK)
        avtb_yaml_map(y, avtb_yaml_root(y), fields, o);
    avtb_yaml_free(y);
    return d;
}

START_TEST(key_table_accepts_good_input)
{
    obj o;
    avtb_diags *d = parse("n: 3\nb: yes\ns: hello\n", &o);

    ck_assert_uint_eq(avtb_diags_count(d), 0);
    ck_assert_uint_eq(o.n, 3);
    ck_assert(o.b);
    ck_assert_str_eq(o.s, "hello");
    free(o.s);
    avtb_diags_free(d);
}
END_TEST

START_TEST(key_table_positions)
{
    obj o;
    avtb_diags *d = parse("n: 30\nb: maybe\nq: 1\n", &o);
    const avtb_diag *g;

    ck_assert_uint_eq(avtb_diags_count(d), 3);
    g = avtb_diags_get(d, 0);
    ck_assert_uint_eq(g->line, 1);
    ck_assert_uint_eq(g->col, 4);
    ck_assert_ptr_nonnull(strstr(g->msg, "between 1 and 10"));
    g = avtb_diags_get(d, 1);
    ck_assert_uint_eq(g->line, 2);
    ck_assert_ptr_nonnull(strstr(g->msg, "true or false"));
    g = avtb_diags_get(d, 2);
    ck_assert_uint_eq(g->line, 3);
    ck_assert_uint_eq(g->col, 1);
    ck_assert_ptr_nonnull(strstr(g->msg, "unknown key 'q'"));
    avtb_diags_free(d);
}
END_TEST

START_TEST(wrong_types)
{
    obj o;
    avtb_diags *d = parse("n: [1]\ns: {a: b}\n", &o);

    ck_assert_uint_eq(avtb_diags_count(d), 2);
    ck_assert_ptr_nonnull(strstr(avtb_diags_get(d, 0)->msg, "got a list"));
    ck_assert_ptr_nonnull(strstr(avtb_diags_get(d, 1)->msg, "got a mapping"));
    avtb_diags_free(d);
}
END_TEST

START_TEST(billion_laughs_is_refused)
{
    obj o;
    avtb_diags *d = parse("a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nn: 1\n", &o);

    ck_assert_uint_ge(avtb_diags_count(d), 1);
    ck_assert_ptr_nonnull(strstr(avtb_diags_get(d, 0)->msg, "are not supported; write the value out"));
    avtb_diags_free(d);
}
END_TEST

START_TEST(oversized_input_is_refused)
{
    size_t n = AVTB_YAML_MAX_BYTES + 10;
    char *big = malloc(n + 1);
    avtb_diags *d = avtb_diags_new();
    avtb_yaml *y = NULL;

    memset(big, '#', n);
    big[n] = '\0';
    ck_assert_int_eq(avtb_yaml_load_buffer("big.yaml", (uint8_t *)big, n, d, &y), AVTB_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(avtb_diags_get(d, 0)->msg, "larger than"));
    free(big);
    avtb_diags_free(d);
}
END_TEST

static Suite *yaml_suite(void)
{
    Suite *s = suite_create("yamlfile");
    TCase *sc = tcase_create("scalars");
    TCase *map = tcase_create("key tables");

    tcase_add_test(sc, durations);
    tcase_add_test(sc, edit_distance);
    tcase_add_test(map, key_table_accepts_good_input);
    tcase_add_test(map, key_table_positions);
    tcase_add_test(map, wrong_types);
    tcase_add_test(map, billion_laughs_is_refused);
    tcase_add_test(map, oversized_input_is_refused);
    suite_add_tcase(s, sc);
    suite_add_tcase(s, map);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(yaml_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
