/* SPDX-License-Identifier: Apache-2.0 */
/* The agent channel decoder: hostile bytes in, messages and anomalies out. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator/agent.h"

typedef struct {
    int hello, heartbeat, other;
} counts;

static void on_msg(void *ctx, const char *type, json_t *msg)
{
    counts *c = ctx;

    (void)msg;
    if (strcmp(type, "hello") == 0)
        c->hello++;
    else if (strcmp(type, "heartbeat") == 0)
        c->heartbeat++;
    else
        c->other++;
}

static void feed(avtb_agent *a, const char *s)
{
    size_t used;

    avtb_agent_feed(a, (const uint8_t *)s, strlen(s), &used);
    ck_assert_uint_eq(used, strlen(s));
}

START_TEST(messages_split_across_reads)
{
    counts c = {0};
    avtb_agent *a = avtb_agent_new(NULL, on_msg, &c);

    feed(a, "{\"type\":\"hel");
    feed(a, "lo\",\"uptime\":1.5}\n{\"type\":\"heartbeat\"}\r\n");
    feed(a, "{\"type\":\"heartbeat\"}");
    ck_assert_int_eq(c.heartbeat, 1); /* no newline yet */
    feed(a, "\n\n");
    ck_assert_int_eq(c.hello, 1);
    ck_assert_int_eq(c.heartbeat, 2);
    ck_assert_uint_eq(avtb_agent_messages(a), 3);
    ck_assert_uint_eq(avtb_agent_anomalies(a), 0);
    avtb_agent_free(a);
}
END_TEST

START_TEST(garbage_becomes_anomalies)
{
    counts c = {0};
    avtb_agent *a = avtb_agent_new(NULL, on_msg, &c);

    feed(a, "not json\n[1,2]\n{\"type\":5}\n{\"no\":\"type\"}\n{\"type\":\"a\",\"type\":\"b\"}\n");
    ck_assert_uint_eq(avtb_agent_anomalies(a), 5);
    ck_assert_uint_eq(avtb_agent_messages(a), 0);
    feed(a, "{\"type\":\"hello\"}\n");
    ck_assert_int_eq(c.hello, 1);
    avtb_agent_free(a);
}
END_TEST

START_TEST(overlong_line_is_cut_and_stream_recovers)
{
    counts c = {0};
    avtb_agent *a = avtb_agent_new(NULL, on_msg, &c);
    size_t n = AVTB_AGENT_MAX_LINE * 3;
    char *big = malloc(n + 1);

    memset(big, 'x', n);
    big[n] = '\0';
    feed(a, big);
    feed(a, big);
    feed(a, "\n{\"type\":\"hello\"}\n");
    ck_assert_uint_eq(avtb_agent_anomalies(a), 1);
    ck_assert_int_eq(c.hello, 1);
    free(big);
    avtb_agent_free(a);
}
END_TEST

START_TEST(transcript_records_messages_and_anomalies)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    avtb_agent *a = avtb_agent_new(fp, NULL, NULL);

    feed(a, "{\"type\":\"hello\"}\n\x01\x02\xff\n");
    avtb_agent_free(a);
    fclose(fp);
    ck_assert_ptr_nonnull(strstr(buf, "\"dir\":\"in\""));
    ck_assert_ptr_nonnull(strstr(buf, "\"msg\":{\"type\":\"hello\"}"));
    ck_assert_ptr_nonnull(strstr(buf, "\"raw_hex\":\"0102ff\""));
    ck_assert_ptr_nonnull(strstr(buf, "host_time"));
    free(buf);
}
END_TEST

/* Lines in a memstream transcript. */
static size_t lines(const char *buf, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    return n;
}

START_TEST(a_flood_of_anomalies_is_counted_not_recorded)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    counts c = {0};
    avtb_agent *a = avtb_agent_new(fp, on_msg, &c);

    for (int i = 0; i < 5000; i++)
        feed(a, "this is not JSON\n");
    feed(a, "{\"type\":\"heartbeat\"}\n");
    fflush(fp);
    ck_assert_uint_eq(avtb_agent_anomalies(a), 5000);
    ck_assert_uint_eq(avtb_agent_unrecorded(a), 4000);
    /* The first 1000 anomalies and the message after them: the channel still works. */
    ck_assert_uint_eq(lines(buf, len), 1001);
    ck_assert_int_eq(c.heartbeat, 1);
    avtb_agent_free(a);
    fclose(fp);
    free(buf);
}
END_TEST

START_TEST(a_quiet_channel_leaves_nothing_unrecorded)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    avtb_agent *a = avtb_agent_new(fp, NULL, NULL);

    feed(a, "{\"type\":\"hello\"}\nnot json\n");
    ck_assert_uint_eq(avtb_agent_unrecorded(a), 0);
    avtb_agent_free(a);
    fclose(fp);
    free(buf);
}
END_TEST

static Suite *agent_suite(void)
{
    Suite *s = suite_create("agent");
    TCase *t = tcase_create("decoder");

    tcase_add_test(t, messages_split_across_reads);
    tcase_add_test(t, garbage_becomes_anomalies);
    tcase_add_test(t, overlong_line_is_cut_and_stream_recovers);
    tcase_add_test(t, transcript_records_messages_and_anomalies);
    tcase_add_test(t, a_flood_of_anomalies_is_counted_not_recorded);
    tcase_add_test(t, a_quiet_channel_leaves_nothing_unrecorded);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(agent_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
