/* SPDX-License-Identifier: Apache-2.0 */
/* report.html: what a lab publishes. Hostile strings escaped, every section
 * there, older report.json formats rendered, the timeline bounded. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "reports/html.h"

/* A report shaped like a stager run's, with guest strings to be replaced. */
static const char sample[] =
    "{\"format\":1,\"avtb_version\":\"0.1.0\",\"run_id\":\"t-run-1\","
    "\"scenario\":{\"name\":\"stager\",\"file\":\"scenarios/stager.yaml\",\"description\":\"d\"},"
    "\"product\":{\"name\":\"stager\",\"vendor\":\"Stager Systems AG\",\"version\":\"3.2.1\","
    "\"vendor_country\":\"ZZ\"},\"guest\":{\"image\":\"ref\",\"accel\":\"tcg\"},"
    "\"started\":\"2026-11-26T13:50:41.579Z\",\"finished\":\"2026-11-26T13:51:58.542Z\","
    "\"verdict\":\"exfiltration\",\"complete\":true,\"incomplete_reasons\":[],"
    "\"notices\":[\"file access comes from the disk forensics only\"],"
    "\"expectations\":[{\"name\":\"no_exfiltration\",\"result\":\"failed\",\"findings\":1,"
    "\"suspected\":0}],"
    "\"documents\":[{\"path\":\"/home/a/<script>alert(1)</script>.txt\",\"token\":\"AVTBTOKEN1\","
    "\"size\":79}],"
    "\"findings\":[{\"token\":\"AVTBTOKEN1\",\"kind\":\"content\",\"encoding\":[\"http-body\"],"
    "\"protocol\":\"http\",\"dst\":{\"ip\":\"10.0.0.1\",\"port\":80,"
    "\"host\":\"x\\\"><img src=y onerror=z>.example\"},\"time\":1795701073.163,"
    "\"document\":\"/home/a/<script>alert(1)</script>.txt\"}],"
    "\"phases\":[{\"name\":\"boot\",\"seconds\":7.4},{\"name\":\"dwell\",\"seconds\":30.0}],"
    "\"exit_code\":1,"
    "\"attempts\":[{\"protocol\":\"tcp\",\"dst\":\"10.0.0.1\",\"port\":80,\"packets\":6,"
    "\"bytes\":398,\"first_time\":1795701073.15,\"last_time\":1795701073.17,\"to_sink\":true}],"
    "\"sink\":\"10.0.0.1\","
    "\"file_access\":{\"status\":\"lost\",\"agent\":\"avtb-fagent/1\","
    "\"first_heartbeat\":\"2026-11-26T13:51:10.906Z\",\"lost_at\":\"2026-11-26T13:51:20.143Z\"},"
    "\"document_access\":[{\"document\":\"/home/a/<script>alert(1)</script>.txt\","
    "\"token\":\"AVTBTOKEN1\",\"processes\":[{\"pid\":142,\"comm\":\"<b>tar</b>\","
    "\"cmdline\":\"tar '&' \\u202egpj.exe\",\"first\":\"2026-11-26T13:51:12.543Z\","
    "\"reads\":1,\"writes\":0}]}],"
    "\"forensics\":{\"status\":\"done\",\"documents\":[{\"path\":"
    "\"/home/a/<script>alert(1)</script>.txt\",\"state\":\"read\",\"changes\":[\"atime\"]}],"
    "\"files\":[]},"
    "\"chains\":[{\"document\":\"/home/a/<script>alert(1)</script>.txt\",\"token\":\"AVTBTOKEN1\","
    "\"complete\":false,\"linked_by\":\"token\",\"summary\":\"<i>tar</i> read it\","
    "\"steps\":[{\"step\":\"read\",\"time\":\"2026-11-26T13:51:12.543Z\",\"pid\":142,"
    "\"comm\":\"tar\",\"path\":\"/home/a/x.txt\",\"found_by\":[\"file-access\"],"
    "\"evidence\":[\"file-access.jsonl:25\",\"../../etc/passwd\"]}]}]}";

static char *tmpdir(void)
{
    char *d = strdup("/tmp/avtb-test-html-XXXXXX");

    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static void rmdir_all(char *d)
{
    avtb_error err = {0};

    ck_assert_int_eq(avtb_rm_rf(d, &err), AVTB_OK);
    free(d);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    avtb_error err = {0};
    char *path = avtb_path_join(dir, name);

    ck_assert_int_eq(avtb_write_file(path, text, strlen(text), 0644, &err), AVTB_OK);
    free(path);
}

/* Renders r into dir and returns report.html's text (caller frees). */
static char *render(json_t *r, const char *dir)
{
    avtb_error err = {0};
    char *path = avtb_path_join(dir, "report.html");
    uint8_t *text = NULL;
    size_t len = 0;

    ck_assert_msg(avtb_report_write_html(r, dir, &err) == AVTB_OK, "%s", err.msg);
    ck_assert_int_eq(avtb_read_file(path, 64u << 20, &text, &len, &err), AVTB_OK);
    free(path);
    return (char *)text;
}

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *r = json_loads(text, 0, &jerr);

    ck_assert_msg(r != NULL, "%d:%d: %s", jerr.line, jerr.column, jerr.text);
    return r;
}

START_TEST(hostile_strings_are_escaped)
{
    char *dir = tmpdir();
    json_t *r = load(sample);
    char *html = render(r, dir);

    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_ptr_null(strstr(html, "<img"));
    ck_assert_ptr_null(strstr(html, "<b>tar</b>"));
    ck_assert_ptr_null(strstr(html, "<i>tar</i>"));
    ck_assert_ptr_nonnull(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;.txt"));
    ck_assert_ptr_nonnull(strstr(html, "x&quot;&gt;&lt;img src=y onerror=z&gt;.example"));
    ck_assert_ptr_nonnull(strstr(html, "&lt;b&gt;tar&lt;/b&gt;"));
    ck_assert_ptr_nonnull(strstr(html, "tar &#39;&amp;&#39;"));
    /* A right-to-left override would make "exe.jpg" read as "gpj.exe". */
    ck_assert_ptr_nonnull(strstr(html, "[U+202E]gpj.exe"));
    ck_assert_ptr_null(strstr(html, "\xe2\x80\xae"));
    /* Only files inside the evidence directory are linked. */
    ck_assert_ptr_nonnull(strstr(html, "<a href=\"file-access.jsonl\">"));
    ck_assert_ptr_null(strstr(html, "href=\"../"));
    free(html);
    json_decref(r);
    rmdir_all(dir);
}
END_TEST

START_TEST(every_section_is_there)
{
    static const char *const ids[] = {"verdict",   "timeline",     "chains",
                                      "documents", "destinations", "expectations",
                                      "phases",    "run",          "files"};
    char *dir = tmpdir();
    json_t *r = load(sample);
    char *html;

    write_text(dir, "sink-dns.jsonl",
               "{\"time\":\"2026-11-26T13:51:13.115Z\",\"qname\":\"sync.stager.example\","
               "\"qtype\":\"A\",\"answer\":\"10.0.0.1\"}\nnot json\n");
    write_text(dir, "capture pcap.pcapng", "");
    html = render(r, dir);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char needle[64];

        snprintf(needle, sizeof(needle), "id=\"%s\"", ids[i]);
        ck_assert_msg(strstr(html, needle) != NULL, "no section %s", ids[i]);
    }
    ck_assert_ptr_nonnull(strstr(html, "class=\"verdict\">exfiltration<"));
    ck_assert_ptr_nonnull(strstr(html, "The content of 1 honey document left the guest"));
    ck_assert_ptr_nonnull(strstr(html, "Stager Systems AG"));
    ck_assert_ptr_nonnull(strstr(html, "3.2.1"));
    ck_assert_ptr_nonnull(strstr(html, "declared country ZZ"));
    ck_assert_ptr_nonnull(strstr(html, "file access comes from the disk forensics only"));
    /* The timeline merges the sink log, the reads, the findings and the monitor. */
    ck_assert_ptr_nonnull(strstr(html, "DNS A sync.stager.example"));
    ck_assert_ptr_nonnull(strstr(html, "file-access monitoring lost"));
    /* The document by its last path component (the hostile name holds a slash). */
    ck_assert_ptr_nonnull(strstr(html, "content of script&gt;.txt sent over http"));
    ck_assert_ptr_nonnull(strstr(html, "1 sink log line could not be read"));
    ck_assert_ptr_nonnull(strstr(html, "13:51:12.543"));
    /* The DNS answer names the destination; the sink is marked. */
    ck_assert_ptr_nonnull(strstr(html, "<br>sync.stager.example</td>"));
    ck_assert_ptr_nonnull(strstr(html, ">sink</span>"));
    ck_assert_ptr_nonnull(strstr(html, "no_exfiltration"));
    ck_assert_ptr_nonnull(strstr(html, "t-run-1"));
    /* Evidence files are linked relatively, percent-encoded. */
    ck_assert_ptr_nonnull(strstr(html, "<a href=\"capture%20pcap.pcapng\">"));
    ck_assert_ptr_nonnull(strstr(html, "<a href=\"sink-dns.jsonl\">"));
    /* Nothing from elsewhere. */
    ck_assert_ptr_null(strstr(html, "src=\""));
    ck_assert_ptr_null(strstr(html, "href=\"http"));
    free(html);
    json_decref(r);
    rmdir_all(dir);
}
END_TEST

START_TEST(older_formats_and_missing_fields)
{
    char *dir = tmpdir();
    json_t *r = load("{\"verdict\":\"clean\"}");
    json_t *old = load(sample);
    char *html = render(r, dir);

    ck_assert_ptr_nonnull(strstr(html, "class=\"verdict\">clean<"));
    ck_assert_ptr_nonnull(strstr(html, "None of the 0 honey documents left the guest."));
    ck_assert_ptr_nonnull(strstr(html, "carries no chains"));
    ck_assert_ptr_nonnull(strstr(html, "</html>"));
    free(html);

    json_object_del(old, "chains");
    json_object_del(old, "file_access");
    json_object_del(old, "document_access");
    json_object_del(old, "forensics");
    json_object_del(old, "notices");
    json_object_set_new(old, "phases", json_string("not an array"));
    json_object_set_new(old, "product", json_integer(3));
    html = render(old, dir);
    ck_assert_ptr_nonnull(strstr(html, "class=\"verdict\">exfiltration<"));
    ck_assert_ptr_nonnull(strstr(html, "not monitored"));
    ck_assert_ptr_nonnull(strstr(html, "no forensics"));
    free(html);
    json_decref(r);
    json_decref(old);
    rmdir_all(dir);
}
END_TEST

START_TEST(verdict_text_and_colour)
{
    static const char *const verdicts[] = {"clean", "metadata-only", "suspected", "exfiltration",
                                           "incomplete"};
    char *dir = tmpdir();

    for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++) {
        json_t *r = json_pack("{s:s, s:b}", "verdict", verdicts[i], "complete",
                              strcmp(verdicts[i], "incomplete") != 0);
        char *html = render(r, dir), want[128];

        snprintf(want, sizeof(want), "class=\"verdict\">%s<", verdicts[i]);
        ck_assert_msg(strstr(html, want) != NULL, "%s", verdicts[i]);
        snprintf(want, sizeof(want), "banner v-%s\"", verdicts[i]);
        ck_assert_msg(strstr(html, want) != NULL, "%s", verdicts[i]);
        if (strcmp(verdicts[i], "incomplete") == 0)
            ck_assert_ptr_nonnull(strstr(html, "the evidence is incomplete"));
        free(html);
        json_decref(r);
    }
    /* A verdict the renderer does not know is shown, escaped, in grey. */
    {
        json_t *r = json_pack("{s:s}", "verdict", "<new>");
        char *html = render(r, dir);

        ck_assert_ptr_nonnull(strstr(html, "banner v-unknown\""));
        ck_assert_ptr_nonnull(strstr(html, "&lt;new&gt;"));
        free(html);
        json_decref(r);
    }
    rmdir_all(dir);
}
END_TEST

/* The policy and each finding's judgement; allowed metadata reads as allowed. */
START_TEST(policy_and_judgements)
{
    char *dir = tmpdir();
    json_t *r = load(
        "{\"verdict\": \"clean\", \"complete\": true, \"severity\": \"info\","
        " \"policy\": {\"allow\": [{\"hosts\": [\"cloud.<x>.example\"], \"data\": [\"metadata\"]}],"
        "  \"severity\": {\"content\": \"critical\", \"metadata\": \"medium\", \"opaque\": "
        "\"high\"}},"
        " \"findings\": [{\"kind\": \"metadata\", \"token\": \"AVTBX\", \"document\": \"/a.txt\","
        "  \"dst\": {\"host\": \"cloud.<x>.example\", \"ip\": \"10.0.0.1\", \"port\": 80},"
        "  \"policy\": {\"data\": \"metadata\", \"allowed\": true, \"rule\": 0, \"severity\": "
        "\"info\"}}]}");
    char *html = render(r, dir);

    ck_assert_ptr_nonnull(strstr(html, "id=\"policy\""));
    ck_assert_ptr_nonnull(strstr(html, "<code>cloud.&lt;x&gt;.example</code>"));
    ck_assert_ptr_nonnull(strstr(html, "allowed by rule 0"));
    ck_assert_ptr_nonnull(strstr(html, "as the scenario's policy allows"));
    free(html);
    json_decref(r);
    rmdir_all(dir);
}
END_TEST

START_TEST(timeline_is_bounded)
{
    char *dir = tmpdir();
    json_t *r = load(sample);
    char *html, *path = avtb_path_join(dir, "sink-dns.jsonl");
    FILE *fp = fopen(path, "w");
    size_t rows = 0;

    ck_assert_ptr_nonnull(fp);
    for (int i = 0; i < 700; i++)
        fprintf(fp,
                "{\"time\":\"2026-11-26T13:51:%02d.%03dZ\",\"qname\":\"q%d.example\","
                "\"qtype\":\"A\",\"answer\":null}\n",
                i / 100, i % 1000, i);
    ck_assert_int_eq(fclose(fp), 0);
    html = render(r, dir);
    for (const char *p = strstr(html, "<tbody>"); p && (p = strstr(p, "<tr")) != NULL; p++) {
        if (strstr(html, "id=\"chains\"") < p)
            break;
        rows++;
    }
    ck_assert_uint_eq(rows, AVTB_HTML_TIMELINE_ROWS);
    /* 700 queries, run start and end, a read, a connection, a finding, 2 monitor events. */
    ck_assert_ptr_nonnull(strstr(html, "207 more events are not shown"));
    free(html);
    free(path);
    json_decref(r);
    rmdir_all(dir);
}
END_TEST

START_TEST(not_an_object_is_an_error)
{
    avtb_error err = {0};
    char *dir = tmpdir();
    json_t *a = json_array();

    ck_assert_int_eq(avtb_report_write_html(a, dir, &err), AVTB_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "not an object"));
    json_decref(a);
    rmdir_all(dir);
}
END_TEST

static Suite *html_suite(void)
{
    Suite *s = suite_create("html");
    TCase *esc = tcase_create("escaping");
    TCase *content = tcase_create("content");

    tcase_add_test(esc, hostile_strings_are_escaped);
    tcase_add_test(content, every_section_is_there);
    tcase_add_test(content, older_formats_and_missing_fields);
    tcase_add_test(content, verdict_text_and_colour);
    tcase_add_test(content, timeline_is_bounded);
    tcase_add_test(content, policy_and_judgements);
    tcase_add_test(content, not_an_object_is_an_error);
    suite_add_tcase(s, esc);
    suite_add_tcase(s, content);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(html_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
