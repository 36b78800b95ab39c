/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The file access monitor and the file-access.jsonl loader
 * (collectors/fileaccess.h): the states a run's agent can end in, what the
 * report says about each, and a loader that survives whatever the guest put
 * in its lines.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/fileaccess.h"
#include "common/util.h"

/* 2026-11-26T13:31:01.120Z */
#define T0 1795699861.12

static void msg(avtb_fa_monitor *m, const char *text, double now)
{
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);

    ck_assert_msg(o != NULL, "%s: %s", text, jerr.text);
    avtb_fa_monitor_msg(m, json_string_value(json_object_get(o, "type")), o, now);
    json_decref(o);
}

static void hello(avtb_fa_monitor *m, double now)
{
    msg(m,
        "{\"type\":\"hello\",\"proto\":1,\"agent\":\"avtb-fagent/1\",\"t\":1795699800.5,"
        "\"kernel\":\"6.1.0-avtb\",\"pid\":212,\"heartbeat_ms\":1000,\"fanotify\":true,"
        "\"events\":[\"open\",\"access\"],\"marks\":[{\"path\":\"/\",\"how\":\"filesystem\"}]}",
        now);
}

/* Heartbeats seq first..last, one a second from start, ticking in between. */
static void beats(avtb_fa_monitor *m, int first, int last, double start)
{
    char buf[160];

    for (int s = first; s <= last; s++) {
        double now = start + (s - first);

        snprintf(buf, sizeof(buf),
                 "{\"type\":\"heartbeat\",\"t\":%.6f,\"seq\":%d,\"events\":%d,\"dropped\":0}",
                 now - 0.01, s, s * 10);
        msg(m, buf, now);
        avtb_fa_monitor_tick(m, now + 0.5);
    }
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static json_int_t jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

static void free_problems(char **p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i]);
    free(p);
}

START_TEST(monitored_to_the_end_with_bye)
{
    avtb_fa_monitor *m = avtb_fa_monitor_new();
    char **p = NULL;
    json_t *j;

    ck_assert_ptr_nonnull(m);
    hello(m, T0 - 20);
    beats(m, 0, 19, T0 - 20);
    msg(m, "{\"type\":\"file\",\"t\":1795699850.1,\"mask\":[\"open\"],\"pid\":5,\"path\":\"/x\"}",
        T0);
    msg(m, "{\"type\":\"socket\",\"t\":1795699850.1,\"pid\":5,\"local\":\"10.0.2.15:4000\"}", T0);
    msg(m, "{\"type\":\"bye\",\"t\":1795699861.3,\"seq\":20,\"events\":1,\"dropped\":0}", T0 + 0.2);
    avtb_fa_monitor_tick(m, T0 + 3);
    avtb_fa_monitor_end(m, T0 + 4, false);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "monitored");
    j = avtb_fa_monitor_json(m);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(jstr(j, "status"), "monitored");
    ck_assert_str_eq(jstr(j, "agent"), "avtb-fagent/1");
    ck_assert_str_eq(jstr(j, "kernel"), "6.1.0-avtb");
    ck_assert(json_is_true(json_object_get(j, "fanotify")));
    ck_assert(json_is_null(json_object_get(j, "reason")));
    ck_assert_int_eq(jint(j, "heartbeat_ms"), 1000);
    ck_assert_int_eq(jint(j, "heartbeats"), 20);
    ck_assert_int_eq(jint(j, "events"), 1);
    ck_assert_int_eq(jint(j, "sockets"), 1);
    ck_assert_int_eq(jint(j, "overflows"), 0);
    ck_assert_int_eq(jint(j, "dropped"), 0);
    ck_assert(json_is_true(json_object_get(j, "bye")));
    ck_assert_str_eq(jstr(j, "first_heartbeat"), "2026-11-26T13:30:41.120Z");
    ck_assert_str_eq(jstr(j, "last_heartbeat"), "2026-11-26T13:31:00.120Z");
    ck_assert_str_eq(jstr(j, "guest_last_heartbeat"), "2026-11-26T13:31:00.110Z");
    ck_assert(json_is_null(json_object_get(j, "lost_at")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "gaps")), 0);
    ck_assert(json_is_false(json_object_get(j, "forensics_only")));
    ck_assert_uint_eq(avtb_fa_monitor_problems(m, &p), 0);
    ck_assert_ptr_null(p);
    ck_assert_ptr_null(avtb_fa_monitor_notice(m));
    json_decref(j);
    avtb_fa_monitor_free(m);
}
END_TEST

/* The guest powered off (or was destroyed) right after a heartbeat: no bye, not a loss. */
START_TEST(monitored_guest_stopped_after_heartbeat)
{
    avtb_fa_monitor *m = avtb_fa_monitor_new();

    hello(m, T0 - 10);
    beats(m, 0, 9, T0 - 10);
    avtb_fa_monitor_end(m, T0 + 1.5, false);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "monitored");
    avtb_fa_monitor_free(m);
}
END_TEST

START_TEST(lost_says_when)
{
    avtb_fa_monitor *m = avtb_fa_monitor_new();
    char **p = NULL;
    size_t n;
    json_t *j;

    hello(m, T0 - 18);
    beats(m, 0, 17, T0 - 17); /* #17 arrives at T0 */
    ck_assert_str_eq(avtb_fa_monitor_status(m), "monitored");
    for (int s = 1; s <= 4; s++)
        avtb_fa_monitor_tick(m, T0 + s);
    avtb_fa_monitor_tick(m, T0 + 4.9);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "monitored"); /* 5 s is not yet a gap */
    avtb_fa_monitor_tick(m, T0 + 6);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "lost"); /* live, before the end */
    avtb_fa_monitor_end(m, T0 + 60, false);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "lost");
    j = avtb_fa_monitor_json(m);
    ck_assert_str_eq(jstr(j, "status"), "lost");
    ck_assert_str_eq(jstr(j, "lost_at"), "2026-11-26T13:31:02.120Z");
    ck_assert_str_eq(jstr(j, "last_heartbeat"), "2026-11-26T13:31:01.120Z");
    ck_assert(json_is_false(json_object_get(j, "bye")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "gaps")), 0);
    n = avtb_fa_monitor_problems(m, &p);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(p[0], "file-access monitoring lost at 2026-11-26T13:31:02.120Z (no heartbeat "
                           "from the agent after #17; it was killed or frozen)");
    free_problems(p, n);
    json_decref(j);
    avtb_fa_monitor_free(m);
}
END_TEST

/* Lost at the end although tick was never called (avtb analyze, a stuck host loop). */
START_TEST(lost_without_ticks_and_without_heartbeats)
{
    avtb_fa_monitor *m = avtb_fa_monitor_new();
    char **p = NULL;
    size_t n;

    hello(m, T0);
    avtb_fa_monitor_end(m, T0 + 30, false);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "lost");
    n = avtb_fa_monitor_problems(m, &p);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_nonnull(strstr(p[0], "after its hello"));
    free_problems(p, n);
    avtb_fa_monitor_free(m);
}
END_TEST

START_TEST(resumed_gap_is_recorded)
{
    avtb_fa_monitor *m = avtb_fa_monitor_new();
    char **p = NULL;
    size_t n;
    json_t *j, *g;

    hello(m, T0 - 5);
    beats(m, 0, 5, T0 - 5); /* #5 at T0 */
    for (int s = 1; s < 20; s++)
        avtb_fa_monitor_tick(m, T0 + s);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "lost");
    beats(m, 6, 10, T0 + 21); /* back (SIGSTOP, SIGCONT) */
    ck_assert_str_eq(avtb_fa_monitor_status(m), "monitored");
    msg(m, "{\"type\":\"bye\",\"seq\":11}", T0 + 25.5);
    avtb_fa_monitor_end(m, T0 + 26, false);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "monitored");
    j = avtb_fa_monitor_json(m);
    g = json_array_get(json_object_get(j, "gaps"), 0);
    ck_assert_int_eq(json_array_size(json_object_get(j, "gaps")), 1);
    ck_assert_str_eq(jstr(g, "from"), "2026-11-26T13:31:02.120Z");
    ck_assert_str_eq(jstr(g, "to"), "2026-11-26T13:31:22.120Z");
    ck_assert(json_real_value(json_object_get(g, "seconds")) == 20.0);
    n = avtb_fa_monitor_problems(m, &p);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(p[0], "file-access monitoring interrupted from 2026-11-26T13:31:02.120Z to "
                           "2026-11-26T13:31:22.120Z (20 s)");
    free_problems(p, n);
    json_decref(j);
    avtb_fa_monitor_free(m);
}
END_TEST

/* A bye long before the guest stopped: someone sent the agent SIGTERM. */
START_TEST(early_bye_is_a_loss)
{
    avtb_fa_monitor *m = avtb_fa_monitor_new();
    char **p = NULL;
    size_t n;

    hello(m, T0 - 3);
    beats(m, 0, 2, T0 - 3);
    msg(m, "{\"type\":\"bye\",\"seq\":3}", T0 + 1);
    avtb_fa_monitor_tick(m, T0 + 20);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "monitored"); /* within the power-off grace */
    avtb_fa_monitor_end(m, T0 + 120, false);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "lost");
    n = avtb_fa_monitor_problems(m, &p);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(p[0], "file-access monitoring lost at 2026-11-26T13:31:02.120Z (the agent "
                           "said bye but the guest ran on; it was terminated)");
    free_problems(p, n);
    avtb_fa_monitor_free(m);
}
END_TEST

START_TEST(no_fanotify)
{
    avtb_fa_monitor *m = avtb_fa_monitor_new();
    json_t *j;

    msg(m,
        "{\"type\":\"hello\",\"proto\":1,\"agent\":\"avtb-fagent/1\",\"heartbeat_ms\":1000,"
        "\"fanotify\":false,\"reason\":\"fanotify_init: Operation not permitted\",\"marks\":[]}",
        T0);
    beats(m, 0, 3, T0 + 1);
    msg(m, "{\"type\":\"bye\",\"seq\":4}", T0 + 4.2);
    avtb_fa_monitor_end(m, T0 + 5, false);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "no-fanotify");
    j = avtb_fa_monitor_json(m);
    ck_assert(json_is_false(json_object_get(j, "fanotify")));
    ck_assert_str_eq(jstr(j, "reason"), "fanotify_init: Operation not permitted");
    ck_assert(json_is_true(json_object_get(j, "forensics_only")));
    ck_assert_ptr_nonnull(avtb_fa_monitor_notice(m));
    ck_assert_ptr_nonnull(
        strstr(avtb_fa_monitor_notice(m), "fanotify_init: Operation not permitted"));
    ck_assert_ptr_nonnull(strstr(avtb_fa_monitor_notice(m), "forensics only"));
    json_decref(j);
    avtb_fa_monitor_free(m);
}
END_TEST

START_TEST(never_connected_and_disabled)
{
    avtb_fa_monitor *m = avtb_fa_monitor_new();
    char **p = NULL;
    json_t *j;

    avtb_fa_monitor_tick(m, T0);
    avtb_fa_monitor_end(m, T0 + 100, false);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "never-connected");
    j = avtb_fa_monitor_json(m);
    ck_assert(json_is_null(json_object_get(j, "fanotify")));
    ck_assert(json_is_null(json_object_get(j, "heartbeat_ms")));
    ck_assert(json_is_null(json_object_get(j, "first_heartbeat")));
    ck_assert(json_is_true(json_object_get(j, "forensics_only")));
    ck_assert_ptr_nonnull(strstr(avtb_fa_monitor_notice(m), "never connected"));
    ck_assert_uint_eq(avtb_fa_monitor_problems(m, &p), 0);
    json_decref(j);
    hello(m, T0 + 101); /* too late: the run stopped watching */
    ck_assert_str_eq(avtb_fa_monitor_status(m), "never-connected");
    avtb_fa_monitor_free(m);

    m = avtb_fa_monitor_new();
    avtb_fa_monitor_end(m, T0, true);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "disabled");
    ck_assert_ptr_nonnull(strstr(avtb_fa_monitor_notice(m), "turned off by the scenario"));
    avtb_fa_monitor_end(m, T0 + 1, false); /* a second end changes nothing */
    ck_assert_str_eq(avtb_fa_monitor_status(m), "disabled");
    avtb_fa_monitor_free(m);
    avtb_fa_monitor_free(NULL);
}
END_TEST

START_TEST(overflow_is_a_notice_not_a_problem)
{
    avtb_fa_monitor *m = avtb_fa_monitor_new();
    char **p = NULL;
    json_t *j;

    hello(m, T0 - 1);
    msg(m, "{\"type\":\"overflow\",\"t\":1795699861.0,\"events\":900,\"overflows\":1}", T0 + 1);
    beats(m, 0, 3, T0);
    msg(m, "{\"type\":\"heartbeat\",\"seq\":4,\"events\":1000,\"dropped\":7}", T0 + 4);
    msg(m, "{\"type\":\"bye\",\"seq\":5,\"events\":1000,\"dropped\":7}", T0 + 4.5);
    avtb_fa_monitor_end(m, T0 + 5, false);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "monitored");
    j = avtb_fa_monitor_json(m);
    ck_assert_int_eq(jint(j, "overflows"), 1);
    ck_assert_int_eq(jint(j, "dropped"), 7);
    ck_assert_int_eq(jint(j, "guest_events"), 1000);
    ck_assert_uint_eq(avtb_fa_monitor_problems(m, &p), 0);
    ck_assert_str_eq(avtb_fa_monitor_notice(m),
                     "the file-access agent lost events (1 queue overflows, 7 dropped), the "
                     "first at 2026-11-26T13:31:02.120Z; file access is incomplete from then");
    json_decref(j);
    avtb_fa_monitor_free(m);
}
END_TEST

START_TEST(hostile_field_types)
{
    avtb_fa_monitor *m = avtb_fa_monitor_new();
    char big[2000], buf[2200];
    json_t *j, *o;

    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(buf, sizeof(buf),
             "{\"type\":\"hello\",\"agent\":5,\"kernel\":\"%s\",\"heartbeat_ms\":-5,"
             "\"fanotify\":\"yes\",\"reason\":[1]}",
             big);
    msg(m, buf, T0);
    msg(m, "{\"type\":\"hello\",\"agent\":\"second\",\"fanotify\":true}", T0); /* ignored */
    msg(m, "{\"type\":\"heartbeat\",\"seq\":\"x\",\"t\":1e300,\"dropped\":-1,\"events\":1.5}",
        T0 + 0.5);
    msg(m, "{\"type\":\"heartbeat\",\"seq\":99999999999999,\"t\":\"now\",\"dropped\":null}",
        T0 + 0.6);
    msg(m, "{\"type\":\"overflow\",\"overflows\":\"many\"}", T0 + 0.7);
    msg(m, "{\"type\":\"what\"}", T0 + 0.8);
    msg(m, "{\"type\":\"bye\",\"dropped\":{}}", T0 + 0.9);
    /* Not an object, no type: ignored, never a crash. */
    o = json_integer(3);
    avtb_fa_monitor_msg(m, "heartbeat", o, T0);
    avtb_fa_monitor_msg(m, NULL, o, T0);
    avtb_fa_monitor_msg(m, "heartbeat", NULL, T0);
    avtb_fa_monitor_msg(NULL, "heartbeat", o, T0);
    json_decref(o);
    avtb_fa_monitor_anomaly(m, T0);
    avtb_fa_monitor_end(m, T0 + 1, false);
    j = avtb_fa_monitor_json(m);
    ck_assert_str_eq(jstr(j, "status"), "no-fanotify"); /* "yes" is not true */
    ck_assert(json_is_null(json_object_get(j, "agent")));
    ck_assert_uint_eq(strlen(jstr(j, "kernel")), AVTB_FA_MON_STR);
    ck_assert(json_is_null(json_object_get(j, "reason")));
    ck_assert_int_eq(jint(j, "heartbeat_ms"), AVTB_FA_HB_MIN_MS);
    ck_assert_int_eq(jint(j, "heartbeats"), 2);
    ck_assert_int_eq(jint(j, "dropped"), 0);
    ck_assert_int_eq(jint(j, "overflows"), 1);
    ck_assert_int_eq(jint(j, "anomalies"), 1);
    ck_assert_int_eq(jint(j, "ignored"), 1);
    ck_assert_int_eq(jint(j, "hellos"), 2);
    ck_assert(json_is_null(json_object_get(j, "guest_last_heartbeat")));
    json_decref(j);
    avtb_fa_monitor_free(m);

    /* Too large an interval is clamped too; the gap follows the clamped one. */
    m = avtb_fa_monitor_new();
    msg(m, "{\"type\":\"hello\",\"heartbeat_ms\":99999999999,\"fanotify\":true}", T0);
    j = avtb_fa_monitor_json(m);
    ck_assert_int_eq(jint(j, "heartbeat_ms"), AVTB_FA_HB_MAX_MS);
    json_decref(j);
    avtb_fa_monitor_end(m, T0 + 3600, false);
    ck_assert_str_eq(avtb_fa_monitor_status(m), "monitored");
    avtb_fa_monitor_free(m);
}
END_TEST

START_TEST(time_format)
{
    char buf[32];

    avtb_utc_format(T0, buf);
    ck_assert_str_eq(buf, "2026-11-26T13:31:01.120Z");
    avtb_utc_format(1795699861.9996, buf);
    ck_assert_str_eq(buf, "2026-11-26T13:31:02.000Z");
    avtb_utc_format(-1, buf);
    ck_assert_str_eq(buf, "");
    avtb_utc_format(1e300, buf);
    ck_assert_str_eq(buf, "");
}
END_TEST

/* --- the log ---------------------------------------------------------------- */

#define HT "{\"host_time\":\"2026-11-26T13:31:01.120Z\",\"dir\":\"in\",\"msg\":"

static avtb_fa_log *parse(const char *text, const avtb_fa_log_limits *l)
{
    avtb_error err = {0};
    avtb_fa_log *log = (avtb_fa_log *)1;

    ck_assert_msg(avtb_fa_log_parse((const uint8_t *)text, strlen(text), l, &log, &err) == AVTB_OK,
                  "%s", err.msg);
    ck_assert_ptr_nonnull(log);
    return log;
}

START_TEST(log_good_lines)
{
    const char *text =
        HT "{\"type\":\"hello\",\"proto\":1,\"fanotify\":true}}\n" HT
           "{\"type\":\"file\",\"t\":1795699862.5,\"mask\":[\"open\",\"access\"],\"pid\":312,"
           "\"ppid\":300,\"uid\":1000,\"euid\":1000,\"path\":\"/home/user/Documents/minutes.txt\","
           "\"comm\":\"tar\",\"exe\":\"/usr/bin/tar\",\"cmdline\":\"tar czf b1.tar.gz .\"}}\n" HT
           "{\"type\":\"file\",\"t\":1795699862.6,\"mask\":[\"modify\"],\"pid\":312,\"ppid\":null,"
           "\"uid\":null,\"count\":40,\"t_last\":1795699863.0,\"path\":\"/tmp/x (deleted)\","
           "\"comm\":\"tar\",\"exe\":null,\"cmdline\":null,\"future\":{\"a\":1}}}\n" HT
           "{\"type\":\"heartbeat\",\"seq\":3}}\n"
           "\n" HT "{\"type\":\"socket\",\"t\":1795699864.0,\"pid\":320,\"comm\":\"fixture-net\","
           "\"exe\":\"/usr/bin/fixture-net\",\"proto\":\"tcp\",\"local\":\"10.0.2.15:40000\","
           "\"remote\":\"198.51.100.7:80\",\"state\":\"established\",\"inode\":1234}}\r\n" HT
           "{\"type\":\"file\",\"t\":1795699865,\"mask\":[\"close_nowrite\",\"open_exec\","
           "\"close_write\"],\"pid\":7,\"path\":null}}";
    avtb_fa_log *l = parse(text, NULL);
    const avtb_fa_event *e;
    const avtb_fa_socket *s;

    ck_assert_uint_eq(l->lines, 7);
    ck_assert_uint_eq(l->bad_lines, 0);
    ck_assert_uint_eq(l->bad_fields, 0);
    ck_assert_uint_eq(l->anomalies, 0);
    ck_assert(!l->truncated);
    ck_assert_uint_eq(l->nevents, 3);
    ck_assert_uint_eq(l->nsockets, 1);
    e = &l->events[0];
    ck_assert_uint_eq(e->line, 2);
    ck_assert(e->t == 1795699862.5 && e->t_last == e->t);
    ck_assert_uint_eq(e->mask, AVTB_FA_OPEN | AVTB_FA_ACCESS);
    ck_assert_uint_eq(e->count, 1);
    ck_assert_int_eq(e->pid, 312);
    ck_assert_int_eq(e->ppid, 300);
    ck_assert_int_eq(e->uid, 1000);
    ck_assert_str_eq(e->path, "/home/user/Documents/minutes.txt");
    ck_assert_str_eq(e->comm, "tar");
    ck_assert_str_eq(e->exe, "/usr/bin/tar");
    ck_assert_str_eq(e->cmdline, "tar czf b1.tar.gz .");
    e = &l->events[1];
    ck_assert_uint_eq(e->line, 3);
    ck_assert_uint_eq(e->mask, AVTB_FA_MODIFY);
    ck_assert_uint_eq(e->count, 40);
    ck_assert(e->t_last == 1795699863.0);
    ck_assert_int_eq(e->ppid, -1);
    ck_assert_int_eq(e->uid, -1);
    ck_assert_str_eq(e->path, "/tmp/x");
    ck_assert_ptr_eq(e->comm, l->events[0].comm); /* one copy per string */
    ck_assert_ptr_null(e->exe);
    ck_assert_ptr_null(e->cmdline);
    e = &l->events[2];
    ck_assert_uint_eq(e->line, 7);
    ck_assert_uint_eq(e->mask, AVTB_FA_CLOSE_NOWRITE | AVTB_FA_OPEN_EXEC | AVTB_FA_CLOSE_WRITE);
    ck_assert_ptr_null(e->path);
    s = &l->sockets[0];
    ck_assert_uint_eq(s->line, 6);
    ck_assert_int_eq(s->pid, 320);
    ck_assert_str_eq(s->comm, "fixture-net");
    ck_assert_str_eq(s->proto, "tcp");
    ck_assert_str_eq(s->local, "10.0.2.15:40000");
    ck_assert_str_eq(s->remote, "198.51.100.7:80");
    ck_assert_str_eq(s->state, "established");
    avtb_fa_log_free(l);
}
END_TEST

START_TEST(log_bad_lines_are_counted)
{
    const char *text =
        "{\"host_time\":\"x\",\"dir\":\"in\",\"anomaly\":\"line is not JSON\",\"raw_hex\":\"41\"}\n"
        "not json at all\n"
        "[1,2]\n" HT "[1]}\n" HT "\"file\"}\n" HT "{\"type\":5}}\n" HT
        "{\"type\":\"file\",\"t\":\"soon\",\"mask\":[\"open\"],\"pid\":1}}\n" HT
        "{\"type\":\"file\",\"t\":1.0,\"mask\":\"open\",\"pid\":1}}\n" HT
        "{\"type\":\"file\",\"t\":1.0,\"mask\":[\"bogus\",7],\"pid\":1}}\n" HT
        "{\"type\":\"file\",\"t\":1.0,\"mask\":[\"open\"],\"pid\":\"12\"}}\n" HT
        "{\"type\":\"file\",\"t\":1.0,\"mask\":[\"open\"],\"pid\":-4}}\n" HT
        "{\"type\":\"file\",\"t\":-1,\"mask\":[\"open\"],\"pid\":1}}\n" HT
        "{\"type\":\"socket\",\"t\":1.0,\"pid\":1,\"local\":80}}\n" HT
        "{\"type\":\"file\",\"t\":1e400,\"mask\":[\"open\"],\"pid\":1}}\n"
        /* kept, with the wrong-typed optional fields dropped */
        HT "{\"type\":\"file\",\"t\":2.0,\"mask\":[\"access\",\"bogus\"],\"pid\":9,\"comm\":5,"
        "\"ppid\":\"1\",\"uid\":-3,\"count\":0,\"t_last\":1.0,\"path\":[\"/x\"],"
        "\"exe\":\"/bin/a\"}}\n" HT
        "{\"type\":\"socket\",\"t\":2.0,\"pid\":9,\"local\":\"[::1]:53\",\"remote\":{}}}\n"
        "{\"host_time\":\"x\",\"dir\":\"out\",\"msg\":\"run 1 start\"}\n";
    avtb_fa_log *l = parse(text, NULL);

    ck_assert_uint_eq(l->lines, 17);
    ck_assert_uint_eq(l->anomalies, 1);
    ck_assert_uint_eq(l->bad_lines, 13);
    ck_assert_uint_eq(l->nevents, 1);
    ck_assert_uint_eq(l->nsockets, 1);
    ck_assert_uint_eq(l->events[0].line, 15);
    ck_assert_ptr_null(l->events[0].comm);
    ck_assert_ptr_null(l->events[0].path);
    ck_assert_str_eq(l->events[0].exe, "/bin/a");
    ck_assert_int_eq(l->events[0].ppid, -1);
    ck_assert_int_eq(l->events[0].uid, -1);
    ck_assert_uint_eq(l->events[0].count, 1);
    ck_assert(l->events[0].t_last == 2.0);
    ck_assert_ptr_null(l->sockets[0].remote);
    /* comm, ppid, uid, count, t_last, path; remote */
    ck_assert_uint_eq(l->bad_fields, 7);
    avtb_fa_log_free(l);
}
END_TEST

START_TEST(log_long_lines_and_limits)
{
    char text[4096];
    char pad[300];
    avtb_fa_log_limits lim = {.max_line = 256};
    avtb_fa_log *l;

    memset(pad, 'a', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    snprintf(text, sizeof(text),
             HT "{\"type\":\"file\",\"t\":1.0,\"mask\":[\"open\"],\"pid\":1,\"comm\":\"%s\"}}\n" HT
                "{\"type\":\"file\",\"t\":2.0,\"mask\":[\"open\"],\"pid\":2}}\n" HT
                "{\"type\":\"file\",\"t\":3.0,\"mask\":[\"open\"],\"pid\":3,\"comm\":\"%s",
             pad, pad);
    l = parse(text, &lim);
    ck_assert_uint_eq(l->lines, 3);
    ck_assert_uint_eq(l->bad_lines, 2);
    ck_assert_uint_eq(l->nevents, 1);
    ck_assert_uint_eq(l->events[0].line, 2);
    ck_assert_int_eq(l->events[0].pid, 2);
    avtb_fa_log_free(l);

    snprintf(text, sizeof(text),
             HT "{\"type\":\"file\",\"t\":1.0,\"mask\":[\"open\"],\"pid\":1}}\n" HT
                "{\"type\":\"file\",\"t\":2.0,\"mask\":[\"open\"],\"pid\":2}}\n" HT
                "{\"type\":\"socket\",\"t\":2.0,\"pid\":2,\"local\":\"1.2.3.4:5\"}}\n" HT
                "{\"type\":\"socket\",\"t\":2.0,\"pid\":2,\"local\":\"1.2.3.4:6\"}}\n" HT
                "{\"type\":\"file\",\"t\":3.0,\"mask\":[\"open\"],\"pid\":3}}\n");
    lim = (avtb_fa_log_limits){.max_events = 1, .max_sockets = 1};
    l = parse(text, &lim);
    ck_assert(l->truncated);
    ck_assert_uint_eq(l->lines, 5);
    ck_assert_uint_eq(l->nevents, 1);
    ck_assert_uint_eq(l->nsockets, 1);
    ck_assert_uint_eq(l->bad_lines, 0);
    avtb_fa_log_free(l);

    lim = (avtb_fa_log_limits){.max_lines = 2};
    l = parse(text, &lim);
    ck_assert(l->truncated);
    ck_assert_uint_eq(l->lines, 2);
    ck_assert_uint_eq(l->nevents, 2);
    avtb_fa_log_free(l);

    l = parse("", NULL);
    ck_assert_uint_eq(l->lines, 0);
    ck_assert_uint_eq(l->nevents, 0);
    avtb_fa_log_free(l);
    avtb_fa_log_free(NULL);
}
END_TEST

START_TEST(log_load_streams_a_file)
{
    char dir[] = "/tmp/avtb-test-fa-XXXXXX", path[64];
    avtb_error err = {0};
    avtb_fa_log *l = NULL;
    FILE *fp;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/%s", dir, AVTB_FA_FILE);
    ck_assert_int_eq(avtb_fa_log_load(path, NULL, &l, &err), AVTB_ERR_NOT_FOUND);
    ck_assert_ptr_null(l);
    ck_assert_ptr_nonnull(strstr(err.msg, AVTB_FA_FILE));
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    /* More than one read chunk, so lines cross chunk boundaries. */
    for (int i = 0; i < 3000; i++)
        fprintf(fp,
                HT "{\"type\":\"file\",\"t\":%d.5,\"mask\":[\"access\"],\"pid\":%d,"
                   "\"path\":\"/data/f%d\",\"comm\":\"cat\"}}\n",
                1000 + i, i % 7, i % 13);
    fclose(fp);
    avtb_error_clear(&err);
    ck_assert_msg(avtb_fa_log_load(path, NULL, &l, &err) == AVTB_OK, "%s", err.msg);
    ck_assert_uint_eq(l->lines, 3000);
    ck_assert_uint_eq(l->nevents, 3000);
    ck_assert_uint_eq(l->bad_lines, 0);
    ck_assert_uint_eq(l->events[2999].line, 3000);
    ck_assert_int_eq(l->events[2999].pid, 2999 % 7);
    ck_assert_str_eq(l->events[2999].path, "/data/f9");
    avtb_fa_log_free(l);
    unlink(path);
    rmdir(dir);
}
END_TEST

static Suite *fileaccess_suite(void)
{
    Suite *s = suite_create("fileaccess");
    TCase *tc = tcase_create("monitor");

    tcase_add_test(tc, monitored_to_the_end_with_bye);
    tcase_add_test(tc, monitored_guest_stopped_after_heartbeat);
    tcase_add_test(tc, lost_says_when);
    tcase_add_test(tc, lost_without_ticks_and_without_heartbeats);
    tcase_add_test(tc, resumed_gap_is_recorded);
    tcase_add_test(tc, early_bye_is_a_loss);
    tcase_add_test(tc, no_fanotify);
    tcase_add_test(tc, never_connected_and_disabled);
    tcase_add_test(tc, overflow_is_a_notice_not_a_problem);
    tcase_add_test(tc, hostile_field_types);
    tcase_add_test(tc, time_format);
    suite_add_tcase(s, tc);
    tc = tcase_create("log");
    tcase_add_test(tc, log_good_lines);
    tcase_add_test(tc, log_bad_lines_are_counted);
    tcase_add_test(tc, log_long_lines_and_limits);
    tcase_add_test(tc, log_load_streams_a_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fileaccess_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
