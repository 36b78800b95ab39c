/* SPDX-License-Identifier: Apache-2.0 */
/* The fake cloud's recording: reading it back, choosing answers, --connect-to. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/cloud.h"
#include "common/util.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/avtb-test-cloud-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    avtb_error err = {0};

    ck_assert_int_eq(avtb_rm_rf(dir, &err), AVTB_OK);
}

static char *write_rec(const char *text)
{
    char *path = avtb_path_join(dir, AVTB_CLOUD_FILE);
    avtb_error err = {0};

    ck_assert_int_eq(avtb_write_file(path, text, strlen(text), 0644, &err), AVTB_OK);
    return path;
}

#define LOOKUP_1                                                                                   \
    "{\"host\":\"Cloud.Asker.Example\",\"tls\":false,\"method\":\"GET\",\"uri\":\"/api/v1/"        \
    "lookup?sha256=aa\",\"status\":200,\"headers\":[\"Content-Type: text/plain\"],"                \
    "\"body_base64\":\"dXBsb2FkCg==\",\"error\":null}\n"
#define LOOKUP_2                                                                                   \
    "{\"host\":\"cloud.asker.example\",\"method\":\"GET\",\"uri\":\"/api/v1/lookup?sha256=bb\","   \
    "\"status\":200,\"body_base64\":\"Y2xlYW4=\"}\n"
#define UPLOAD                                                                                     \
    "{\"host\":\"cloud.asker.example\",\"method\":\"POST\",\"uri\":\"/api/v1/upload\","            \
    "\"status\":0,\"error\":\"the upstream did not answer\"}\n"

START_TEST(loads_and_matches)
{
    char *path = write_rec(LOOKUP_1 "\n" LOOKUP_2 UPLOAD);
    avtb_cloud_recording *r = NULL;
    avtb_error err = {0};
    const avtb_cloud_exchange *x;

    /* An evidence directory or the file itself. */
    ck_assert_msg(avtb_cloud_load(dir, &r, &err) == AVTB_OK, "%s", err.msg);
    ck_assert_uint_eq(r->count, 3);
    ck_assert_str_eq(r->items[0].host, "cloud.asker.example");
    ck_assert_uint_eq(r->items[0].body_len, 7);
    ck_assert_mem_eq(r->items[0].body, "upload\n", 7);
    ck_assert_uint_eq(r->items[0].nheaders, 1);
    ck_assert_uint_eq(r->items[1].body_len, 5);
    ck_assert_uint_eq(r->items[2].status, 0);
    /* The exact target first, even when it was recorded second. */
    x = avtb_cloud_match(r, "cloud.asker.example", "GET", "/api/v1/lookup?sha256=bb");
    ck_assert_ptr_eq(x, &r->items[1]);
    /* Fresh tokens, fresh hashes: the same path answers in recorded order. */
    x = avtb_cloud_match(r, "CLOUD.asker.example", "GET", "/api/v1/lookup?sha256=cc");
    ck_assert_ptr_eq(x, &r->items[0]);
    /* Asked more often than recorded: the last answer again. */
    x = avtb_cloud_match(r, "cloud.asker.example", "GET", "/api/v1/lookup?sha256=dd");
    ck_assert_ptr_eq(x, &r->items[1]);
    ck_assert_ptr_null(avtb_cloud_match(r, "cloud.asker.example", "PUT", "/api/v1/upload"));
    ck_assert_ptr_null(avtb_cloud_match(r, "other.example", "GET", "/api/v1/lookup"));
    ck_assert_ptr_eq(avtb_cloud_match(r, "cloud.asker.example", "POST", "/api/v1/upload"),
                     &r->items[2]);
    avtb_cloud_free(r);
    avtb_cloud_free(NULL);
    ck_assert_int_eq(avtb_cloud_load(path, &r, &err), AVTB_OK);
    avtb_cloud_free(r);
    free(path);
}
END_TEST

START_TEST(bad_lines_name_file_and_line)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {LOOKUP_1 "{\"host\":\"a\",\"method\":\"GET\",\"uri\":\"x\",\"status\":200}\n",
         ":2: 'uri' must be"},
        {LOOKUP_1 LOOKUP_2 "not json\n", "jsonl:3:3: not JSON"},
        {"{\"host\":\"a b\",\"method\":\"GET\",\"uri\":\"/\",\"status\":200}\n", ":1: 'host'"},
        {"{\"host\":\"a\",\"method\":\"GET\",\"uri\":\"/\",\"status\":700}\n", ":1: 'status'"},
        {"{\"host\":\"a\",\"method\":\"GET\",\"uri\":\"/"
         "\",\"status\":200,\"body_base64\":\"@@@=\"}\n",
         ":1: 'body_base64'"},
        {"{\"host\":\"a\",\"method\":\"GET\",\"uri\":\"/"
         "\",\"status\":200,\"headers\":[\"NoColon\"]}\n",
         ":1: each header"},
        {"[1,2]\n", ":1: not a JSON object"},
    };
    avtb_cloud_recording *r = (avtb_cloud_recording *)1;
    avtb_error err = {0};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = write_rec(cases[i].text);

        avtb_error_clear(&err);
        ck_assert_int_eq(avtb_cloud_load(path, &r, &err), AVTB_ERR_INPUT);
        ck_assert_ptr_null(r);
        ck_assert_msg(strstr(err.msg, cases[i].want) != NULL, "case %zu: %s", i, err.msg);
        ck_assert_ptr_nonnull(strstr(err.msg, AVTB_CLOUD_FILE));
        free(path);
    }
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_cloud_load("/nonexistent/avtb", &r, &err), AVTB_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "--record"));
}
END_TEST

START_TEST(recorded_lines_read_back)
{
    char *hdrs[] = {"Content-Type: application/octet-stream", "X-Vendor: yes"};
    uint8_t body[300];
    avtb_cloud_exchange x = {.host = "cloud.example",
                             .method = "POST",
                             .uri = "/up?x=1",
                             .tls = true,
                             .status = 201,
                             .headers = hdrs,
                             .nheaders = 2,
                             .body = body,
                             .body_len = sizeof(body)};
    avtb_cloud_recording *r = NULL;
    avtb_error err = {0};
    json_t *o;
    char *line, *path;

    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(i * 7);
    for (size_t len = 0; len < 4; len++) {
        x.body_len = sizeof(body) - len; /* every base64 padding */
        o = avtb_cloud_json(&x, "2026-11-26T00:00:00Z", NULL);
        line = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        path = write_rec(line);
        free(line);
        ck_assert_msg(avtb_cloud_load(path, &r, &err) == AVTB_OK, "%s", err.msg);
        ck_assert(r->items[0].tls);
        ck_assert_uint_eq(r->items[0].status, 201);
        ck_assert_uint_eq(r->items[0].nheaders, 2);
        ck_assert_str_eq(r->items[0].headers[1], "X-Vendor: yes");
        ck_assert_uint_eq(r->items[0].body_len, x.body_len);
        ck_assert_mem_eq(r->items[0].body, body, x.body_len);
        avtb_cloud_free(r);
        free(path);
    }
}
END_TEST

START_TEST(connect_to)
{
    avtb_connect_to c[3];
    avtb_error err = {0};
    const char *h;
    uint16_t p;

    ck_assert_int_eq(avtb_connect_to_parse("cloud.example:443:10.0.0.5:8443", &c[0], &err),
                     AVTB_OK);
    ck_assert_str_eq(c[0].host, "cloud.example");
    ck_assert_uint_eq(c[0].port, 443);
    ck_assert_str_eq(c[0].to_host, "10.0.0.5");
    ck_assert_uint_eq(c[0].to_port, 8443);
    ck_assert_int_eq(avtb_connect_to_parse("::[::1]:8080", &c[1], &err), AVTB_OK);
    ck_assert_str_eq(c[1].host, "");
    ck_assert_uint_eq(c[1].port, 0);
    ck_assert_str_eq(c[1].to_host, "::1");
    ck_assert_int_eq(avtb_connect_to_parse(":80:127.0.0.1:18080", &c[2], &err), AVTB_OK);
    avtb_connect_to_apply(c, 1, "CLOUD.example", 443, &h, &p);
    ck_assert_str_eq(h, "10.0.0.5");
    ck_assert_uint_eq(p, 8443);
    avtb_connect_to_apply(c, 1, "cloud.example", 80, &h, &p);
    ck_assert_str_eq(h, "cloud.example");
    ck_assert_uint_eq(p, 80);
    avtb_connect_to_apply(c, 3, "other.example", 80, &h, &p);
    ck_assert_str_eq(h, "::1");
    ck_assert_uint_eq(p, 8080);
    static const char *const bad[] = {"cloud.example:443:10.0.0.5",
                                      "a:b:c:1",
                                      "a:1:c:0",
                                      "a:1::80",
                                      "a:1:[::1:80",
                                      "a:70000:b:1",
                                      ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        avtb_error_clear(&err);
        ck_assert_msg(avtb_connect_to_parse(bad[i], &c[0], &err) == AVTB_ERR_USAGE, "%s", bad[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, "HOST:PORT:TO_HOST:TO_PORT"));
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cloud");
    TCase *tc = tcase_create("cloud");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, loads_and_matches);
    tcase_add_test(tc, bad_lines_name_file_and_line);
    tcase_add_test(tc, recorded_lines_read_back);
    tcase_add_test(tc, connect_to);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
