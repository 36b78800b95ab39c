/* SPDX-License-Identifier: Apache-2.0 */
/* junit.xml: what CI reads of a run. Escaping of guest-chosen strings, and one testcase per
 * expectation with the failure or error its result calls for. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "reports/junit.h"

static char *escape(const char *s, bool attr)
{
    avtb_buf b = {0};

    avtb_junit_escape(&b, s, attr);
    return avtb_buf_take(&b);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* A report.json object with one expectation per result and a hostile finding. */
static json_t *report(void)
{
    json_error_t e;
    json_t *r = json_loads(
        "{\"format\":1,\"avtb_version\":\"0.1.0\",\"run_id\":\"t-1\","
        "\"scenario\":{\"name\":\"sc<1>\",\"file\":\"f\",\"description\":\"\"},"
        "\"product\":{\"name\":\"leaky\",\"vendor\":\"A & B\",\"version\":\"1\","
        "\"vendor_country\":\"ZZ\",\"directory\":\"d\"},"
        "\"guest\":{\"image\":\"img\",\"accel\":\"tcg\"},"
        "\"started\":\"2026-11-26T13:50:41.579Z\",\"finished\":\"2026-11-26T13:51:58.542Z\","
        "\"verdict\":\"exfiltration\",\"complete\":false,"
        "\"incomplete_reasons\":[\"agent \\\"lost\\\" <gone>\"],"
        "\"expectations\":["
        "{\"name\":\"held_one\",\"result\":\"held\",\"findings\":0,\"suspected\":0},"
        "{\"name\":\"failed_one\",\"result\":\"failed\",\"findings\":1,\"suspected\":0},"
        "{\"name\":\"suspected_one\",\"result\":\"suspected\",\"findings\":0,\"suspected\":1},"
        "{\"name\":\"undecided_one\",\"result\":\"undecided\",\"findings\":0,\"suspected\":0}],"
        "\"documents\":[],"
        "\"findings\":[{\"token\":\"AVTBTOKEN\",\"kind\":\"content\",\"encoding\":[\"http-body\"],"
        "\"protocol\":\"http\",\"dst\":{\"ip\":\"10.0.0.1\",\"port\":80,"
        "\"host\":\"evil\\u0001]]>\\u001b<x>\"},\"src\":{\"ip\":\"10.0.0.2\",\"port\":4,\"host\":"
        "null},"
        "\"capture\":\"c\",\"flow\":1,\"time\":1.5,\"bytes\":1,\"offset\":0,\"document\":\"/d\"},"
        "{\"token\":null,\"kind\":\"suspected\",\"encoding\":[],\"protocol\":\"tls\","
        "\"dst\":{\"ip\":\"::1\",\"port\":443,\"host\":null},\"src\":{\"ip\":\"::2\",\"port\":5,"
        "\"host\":null},\"capture\":\"c\",\"flow\":2,\"time\":2.5,\"bytes\":1,\"offset\":0,"
        "\"document\":null,\"reason\":\"encrypted & unreadable\"}],"
        "\"phases\":[{\"name\":\"boot\",\"seconds\":1.25},{\"name\":\"dwell\",\"seconds\":2}],"
        "\"exit_code\":1}",
        0, &e);

    ck_assert_msg(r != NULL, "%s", e.text);
    return r;
}

START_TEST(escapes_markup_and_quotes)
{
    char *s = escape("a&b<c>\"d'", false), *a = escape("a&b<c>\"d'", true);

    ck_assert_str_eq(s, "a&amp;b&lt;c&gt;\"d'");
    ck_assert_str_eq(a, "a&amp;b&lt;c&gt;&quot;d'");
    free(s);
    free(a);
}
END_TEST

START_TEST(keeps_whitespace_through_attributes)
{
    char *s = escape("a\tb\nc\rd", false), *a = escape("a\tb\nc\rd", true);

    ck_assert_str_eq(s, "a\tb\nc&#13;d");
    ck_assert_str_eq(a, "a&#9;b&#10;c&#13;d");
    free(s);
    free(a);
}
END_TEST

START_TEST(replaces_what_xml_cannot_hold)
{
    /* Control characters, a lone continuation byte, an overlong '/', U+FFFE, a surrogate. */
    char *s = escape("a\x01"
                     "b\x1b"
                     "c\x80"
                     "d\xc0\xaf"
                     "e\xef\xbf\xbe"
                     "f\xed\xa0\x80"
                     "g",
                     false);

    ck_assert_str_eq(s, "a\xef\xbf\xbd"
                        "b\xef\xbf\xbd"
                        "c\xef\xbf\xbd"
                        "d\xef\xbf\xbd\xef\xbf\xbd"
                        "e\xef\xbf\xbd"
                        "f\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                        "g");
    free(s);
}
END_TEST

START_TEST(keeps_valid_utf8)
{
    char *s = escape("K\xc3\xb6ln \xe2\x86\x92 \xf0\x9f\x94\x91", true);

    ck_assert_str_eq(s, "K\xc3\xb6ln \xe2\x86\x92 \xf0\x9f\x94\x91");
    free(s);
}
END_TEST

START_TEST(one_testcase_per_expectation)
{
    json_t *r = report();
    char *x = avtb_junit_xml(r);

    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(count(x, "<testsuite "), 1);
    ck_assert_uint_eq(count(x, "<testcase "), 4);
    ck_assert_ptr_nonnull(strstr(x, "<testcase classname=\"avtb.sc&lt;1&gt;\" name=\"held_one\" "
                                    "time=\"0\"/>"));
    ck_assert_ptr_nonnull(
        strstr(x, "tests=\"4\" failures=\"2\" errors=\"1\" skipped=\"0\" time=\"3.250\""));
    ck_assert_ptr_nonnull(strstr(x, "name=\"sc&lt;1&gt; (leaky 1)\""));
    ck_assert_ptr_nonnull(strstr(x, "timestamp=\"2026-11-26T13:50:41\""));
    free(x);
    json_decref(r);
}
END_TEST

START_TEST(failure_error_and_suspected_carry_their_findings)
{
    json_t *r = report();
    char *x = avtb_junit_xml(r), *failed, *suspected, *undecided;

    ck_assert_ptr_nonnull(x);
    failed = strstr(x, "name=\"failed_one\"");
    suspected = strstr(x, "name=\"suspected_one\"");
    undecided = strstr(x, "name=\"undecided_one\"");
    ck_assert(failed && suspected && undecided);
    ck_assert_ptr_nonnull(strstr(failed, "<failure message=\"failed_one failed: 1 finding "
                                         "contradicts it\" type=\"exfiltration\">content: token "
                                         "AVTBTOKEN (/d) sent over http to evil"));
    /* The failure lists the content finding, not the suspected one. */
    ck_assert_ptr_null(memmem(failed, (size_t)(suspected - failed), "encrypted", 9));
    ck_assert_ptr_nonnull(strstr(suspected, "<failure message=\"suspected_one cannot be shown"));
    ck_assert_ptr_nonnull(strstr(suspected, "type=\"suspected\">suspected: tls to [::1]:443: "
                                            "encrypted &amp; unreadable"));
    ck_assert_ptr_nonnull(strstr(undecided, "<error message=\"undecided_one undecided: the "
                                            "evidence is incomplete\" type=\"incomplete\">"
                                            "incomplete: agent \"lost\" &lt;gone&gt;"));
    ck_assert_ptr_nonnull(strstr(x, "<property name=\"vendor\" value=\"A &amp; B\"/>"));
    ck_assert_ptr_nonnull(strstr(x, "<property name=\"vendor_country\" value=\"ZZ\"/>"));
    ck_assert_ptr_nonnull(strstr(x, "<system-out>verdict: exfiltration (evidence incomplete)\n"));
    /* The guest's host name: no markup, no control characters, no CDATA end. */
    ck_assert_ptr_null(strstr(x, "<x>"));
    ck_assert_ptr_null(strstr(x, "]]>"));
    ck_assert_ptr_null(strchr(x, '\x01'));
    ck_assert_ptr_null(strchr(x, '\x1b'));
    free(x);
    json_decref(r);
}
END_TEST

START_TEST(writes_the_file)
{
    static const char head[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites";
    char dir[] = "/tmp/avtb-junit-XXXXXX", *path, *x;
    json_t *r = report();
    avtb_error err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(avtb_report_write_junit(r, dir, &err), AVTB_OK);
    path = avtb_path_join(dir, "junit.xml");
    ck_assert_int_eq(avtb_read_file(path, 1 << 20, &buf, &len, &err), AVTB_OK);
    x = avtb_junit_xml(r);
    ck_assert_str_eq((char *)buf, x);
    ck_assert_int_eq(strncmp(x, head, sizeof(head) - 1), 0);
    ck_assert_int_eq(avtb_report_write_junit(r, "/nonexistent/dir", &err), AVTB_ERR_IO);
    ck_assert_int_eq(avtb_rm_rf(dir, &err), AVTB_OK);
    free(x);
    free(buf);
    free(path);
    json_decref(r);
}
END_TEST

START_TEST(survives_a_sparse_report)
{
    json_t *r = json_pack("{s:i}", "format", 1);
    char *x = avtb_junit_xml(r);

    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(strstr(x, "<testsuite name=\"unknown (? ?)\" tests=\"0\""));
    free(x);
    json_decref(r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("junit");
    TCase *esc = tcase_create("escaping"), *cases = tcase_create("testcases");

    tcase_add_test(esc, escapes_markup_and_quotes);
    tcase_add_test(esc, keeps_whitespace_through_attributes);
    tcase_add_test(esc, replaces_what_xml_cannot_hold);
    tcase_add_test(esc, keeps_valid_utf8);
    tcase_add_test(cases, one_testcase_per_expectation);
    tcase_add_test(cases, failure_error_and_suspected_carry_their_findings);
    tcase_add_test(cases, writes_the_file);
    tcase_add_test(cases, survives_a_sparse_report);
    suite_add_tcase(s, esc);
    suite_add_tcase(s, cases);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
