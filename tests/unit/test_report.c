/* SPDX-License-Identifier: Apache-2.0 */
/* Verdicts and report.json: what labs and CI read. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "reports/report.h"
#include "reports/verdict.h"

static avtb_scenario *scenario_named(const char *name)
{
    avtb_scenario *s = NULL;
    avtb_diags *d = avtb_diags_new();
    char path[1024];

    snprintf(path, sizeof(path), "%s/scenarios/good/%s", getenv("AVTB_TESTDATA"), name);
    ck_assert_int_eq(avtb_scenario_load(path, d, &s), AVTB_OK);
    avtb_diags_free(d);
    return s;
}

static avtb_scenario *scenario(void)
{
    return scenario_named("full.yaml");
}

/* A finding of kind k to host (and ip). */
static void add_to(avtb_findings *f, avtb_finding_kind k, const char *host, const char *ip)
{
    avtb_finding x = {0};

    x.token = k == AVTB_FINDING_SUSPECTED ? NULL : (char *)"AVTBQ3F7K2M9XWZP4R8TAB";
    x.kind = k;
    x.protocol = (char *)"http";
    strcpy(x.dst.ip, ip);
    x.dst.port = 80;
    x.dst.host = (char *)host;
    strcpy(x.src.ip, "10.213.5.10");
    ck_assert_int_eq(avtb_findings_add(f, &x), AVTB_OK);
}

static void add_finding(avtb_findings *f, const char *token, double t)
{
    avtb_finding x = {0};

    x.token = (char *)token;
    x.kind = AVTB_FINDING_CONTENT;
    x.protocol = (char *)"http";
    x.encoding = (char *)"http-body";
    strcpy(x.dst.ip, "10.213.5.1");
    x.dst.port = 80;
    x.dst.host = (char *)"upload.leaky-av.example";
    strcpy(x.src.ip, "10.213.5.10");
    x.src.port = 40000;
    x.flow = 3;
    x.time = t;
    ck_assert_int_eq(avtb_findings_add(f, &x), AVTB_OK);
}

START_TEST(clean_when_complete_and_nothing_found)
{
    avtb_scenario *s = scenario();
    avtb_findings f = {0};
    avtb_expect_result r[1];

    ck_assert_int_eq(avtb_verdict_decide(s, &f, true, r), AVTB_VERDICT_CLEAN);
    ck_assert(r[0].held && r[0].decided);
    ck_assert_int_eq(avtb_verdict_exit_code(AVTB_VERDICT_CLEAN, r, 1), 0);
    avtb_scenario_free(s);
}
END_TEST

START_TEST(incomplete_is_never_clean)
{
    avtb_scenario *s = scenario();
    avtb_findings f = {0};
    avtb_expect_result r[1];

    ck_assert_int_eq(avtb_verdict_decide(s, &f, false, r), AVTB_VERDICT_INCOMPLETE);
    ck_assert(!r[0].decided);
    ck_assert_int_eq(avtb_verdict_exit_code(AVTB_VERDICT_INCOMPLETE, r, 1), 3);
    avtb_scenario_free(s);
}
END_TEST

START_TEST(a_finding_is_proof_even_when_incomplete)
{
    avtb_scenario *s = scenario();
    avtb_findings f = {0};
    avtb_expect_result r[1];

    add_finding(&f, "AVTBX", 1.0);
    ck_assert_int_eq(avtb_verdict_decide(s, &f, false, r), AVTB_VERDICT_EXFILTRATION);
    ck_assert(r[0].decided && !r[0].held);
    ck_assert_uint_eq(r[0].nfindings, 1);
    ck_assert_int_eq(avtb_verdict_exit_code(AVTB_VERDICT_EXFILTRATION, r, 1), 1);
    avtb_findings_clear(&f);
    avtb_scenario_free(s);
}
END_TEST

START_TEST(report_json_carries_findings)
{
    avtb_scenario *s = scenario();
    avtb_findings f = {0};
    avtb_expect_result r[1];
    avtb_honeydoc *doc = NULL;
    avtb_error err = {0};
    avtb_phase phases[] = {{"boot", 11.5}};
    const char *reasons[] = {"collector capture: died"};
    avtb_report rep = {0};
    char dir[] = "/tmp/avtb-test-report-XXXXXX", path[128];
    json_error_t jerr;
    json_t *root, *fd;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(avtb_honeydoc_render("{{token}}", "/home/a.txt", 0, 0, 0644, &doc, &err),
                     AVTB_OK);
    add_finding(&f, doc->token, 2.5);
    rep.scenario = s;
    rep.run_id = "full-1";
    rep.docs = &doc;
    rep.ndocs = 1;
    rep.findings = &f;
    rep.complete = false;
    rep.reasons = reasons;
    rep.nreasons = 1;
    rep.phases = phases;
    rep.nphases = 1;
    rep.verdict = avtb_verdict_decide(s, &f, false, r);
    rep.results = r;
    rep.exit_code = 1;
    rep.file_access = json_pack("{s:s}", "status", "lost");
    rep.chains = json_pack("[{s:s}]", "summary", "tar (pid 9) read a.txt");
    rep.notices = reasons;
    rep.nnotices = 1;
    ck_assert_int_eq(avtb_report_write_json(&rep, dir, &err), AVTB_OK);
    json_decref(rep.file_access);
    json_decref(rep.chains);
    snprintf(path, sizeof(path), "%s/report.json", dir);
    root = json_load_file(path, 0, &jerr);
    ck_assert_ptr_nonnull(root);
    /* What the file-access monitor and the chains add; absent parts are left out. */
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(root, "file_access"), "status")), "lost");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(root, "chains"), 0), "summary")),
                     "tar (pid 9) read a.txt");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(root, "notices"), 0)),
                     "collector capture: died");
    ck_assert_ptr_null(json_object_get(root, "forensics"));
    ck_assert_str_eq(json_string_value(json_object_get(root, "verdict")), "exfiltration");
    ck_assert(json_is_false(json_object_get(root, "complete")));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(root, "product"), "vendor_country")),
        "GB");
    fd = json_array_get(json_object_get(root, "findings"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(fd, "token")), doc->token);
    ck_assert_str_eq(json_string_value(json_object_get(fd, "protocol")), "http");
    ck_assert_str_eq(json_string_value(json_object_get(fd, "document")), "/home/a.txt");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(fd, "dst"), "host")),
                     "upload.leaky-av.example");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(fd, "dst"), "port")), 80);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(fd, "encoding"), 0)),
                     "http-body");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(root, "expectations"), 0), "result")),
                     "failed");
    ck_assert_str_eq(
        json_string_value(json_array_get(json_object_get(root, "incomplete_reasons"), 0)),
        "collector capture: died");
    json_decref(root);
    avtb_findings_clear(&f);
    avtb_honeydoc_free(doc);
    avtb_scenario_free(s);
    ck_assert_int_eq(avtb_rm_rf(dir, &err), AVTB_OK);
}
END_TEST

/* A generated document carries several tokens: a finding on any of them names it. */
START_TEST(report_names_the_document_of_any_token)
{
    avtb_scenario *s = scenario();
    avtb_findings f = {0};
    avtb_expect_result r[1];
    avtb_honeydoc *doc = NULL;
    avtb_error err = {0};
    avtb_report rep = {0};
    char dir[] = "/tmp/avtb-test-report-XXXXXX", path[128], line[512];
    json_error_t jerr;
    json_t *root;
    FILE *fp;
    bool named = false;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(avtb_honeydoc_render("{{token}}", "/home/b.docx", 0, 0, 0644, &doc, &err),
                     AVTB_OK);
    ck_assert_int_eq(avtb_honeydoc_add_token(doc, "AVTBMETAMETAMETAMETA22", AVTB_PLACE_METADATA,
                                             "core properties", NULL, &err),
                     AVTB_OK);
    add_finding(&f, "AVTBMETAMETAMETAMETA22", 2.5);
    rep.scenario = s;
    rep.run_id = "multi-1";
    rep.docs = &doc;
    rep.ndocs = 1;
    rep.findings = &f;
    rep.complete = true;
    rep.verdict = avtb_verdict_decide(s, &f, true, r);
    rep.results = r;
    rep.exit_code = 1;
    ck_assert_int_eq(avtb_report_write_json(&rep, dir, &err), AVTB_OK);
    snprintf(path, sizeof(path), "%s/report.json", dir);
    root = json_load_file(path, 0, &jerr);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(root, "findings"), 0), "document")),
                     "/home/b.docx");
    json_decref(root);
    snprintf(path, sizeof(path), "%s/summary.txt", dir);
    fp = fopen(path, "w+");
    ck_assert_ptr_nonnull(fp);
    avtb_report_print_summary(&rep, dir, fp);
    rewind(fp);
    while (fgets(line, sizeof(line), fp) != NULL)
        named |= strstr(line, "AVTBMETAMETAMETAMETA22 (/home/b.docx)") != NULL;
    fclose(fp);
    ck_assert(named);
    avtb_findings_clear(&f);
    avtb_honeydoc_free(doc);
    avtb_scenario_free(s);
    ck_assert_int_eq(avtb_rm_rf(dir, &err), AVTB_OK);
}
END_TEST

static void add_suspected(avtb_findings *f, double t)
{
    avtb_finding x = {0};

    x.kind = AVTB_FINDING_SUSPECTED;
    x.protocol = (char *)"tls";
    strcpy(x.dst.ip, "1.2.3.4");
    x.dst.port = 443;
    x.dst.host = (char *)"telemetry.pinner.example";
    strcpy(x.src.ip, "10.213.5.10");
    x.src.port = 40000;
    x.capture = (char *)"sink-tls.jsonl";
    x.reason = (char *)"the client rejected the interception certificate (pinned?)";
    x.bytes = 517;
    x.time = t;
    ck_assert_int_eq(avtb_findings_add(f, &x), AVTB_OK);
}

START_TEST(suspected_is_not_clean_nor_exfiltration)
{
    avtb_scenario *s = scenario();
    avtb_findings f = {0};
    avtb_expect_result r[1];

    add_suspected(&f, 1.0);
    ck_assert_int_eq(avtb_verdict_decide(s, &f, true, r), AVTB_VERDICT_SUSPECTED);
    ck_assert_str_eq(avtb_verdict_name(AVTB_VERDICT_SUSPECTED), "suspected");
    ck_assert(r[0].decided && !r[0].held);
    ck_assert_uint_eq(r[0].nfindings, 0);
    ck_assert_uint_eq(r[0].nsuspected, 1);
    ck_assert_str_eq(avtb_expect_result_name(&r[0]), "suspected");
    /* no_exfiltration cannot be shown to hold: exit 1. */
    ck_assert_int_eq(avtb_verdict_exit_code(AVTB_VERDICT_SUSPECTED, r, 1), 1);
    /* Incomplete evidence wins over a suspicion; a content finding over both. */
    ck_assert_int_eq(avtb_verdict_decide(s, &f, false, r), AVTB_VERDICT_INCOMPLETE);
    ck_assert_int_eq(avtb_verdict_exit_code(AVTB_VERDICT_INCOMPLETE, r, 1), 3);
    add_finding(&f, "AVTBQ3F7K2M9XWZP4R8TAB", 2.0);
    ck_assert_int_eq(avtb_verdict_decide(s, &f, true, r), AVTB_VERDICT_EXFILTRATION);
    ck_assert_str_eq(avtb_expect_result_name(&r[0]), "failed");
    avtb_findings_clear(&f);
    avtb_scenario_free(s);
}
END_TEST

/* Hashes or names without content: metadata-only, and only no_metadata fails. */
START_TEST(metadata_without_content_is_metadata_only)
{
    avtb_scenario *s = scenario();
    avtb_findings f = {0};
    avtb_expect_result r[1];

    add_to(&f, AVTB_FINDING_METADATA, "cloud.asker.example", "10.213.5.1");
    ck_assert_int_eq(avtb_verdict_decide(s, &f, true, r), AVTB_VERDICT_METADATA_ONLY);
    ck_assert_str_eq(avtb_verdict_name(AVTB_VERDICT_METADATA_ONLY), "metadata-only");
    ck_assert(r[0].held); /* full.yaml expects no_exfiltration only */
    ck_assert_int_eq(avtb_verdict_exit_code(AVTB_VERDICT_METADATA_ONLY, r, 1), 0);
    ck_assert_int_eq(avtb_verdict_severity(s, &f), AVTB_SEV_MEDIUM);
    /* Incomplete evidence could hide content: incomplete wins. */
    ck_assert_int_eq(avtb_verdict_decide(s, &f, false, r), AVTB_VERDICT_INCOMPLETE);
    avtb_findings_clear(&f);
    avtb_scenario_free(s);
}
END_TEST

/* policy.yaml: metadata to *.leaky-av.example or 203.0.113.* is allowed, content
 * and opaque data to samples.vendor.example; everything else violates. */
START_TEST(the_policy_allows_by_host_and_class)
{
    avtb_scenario *s = scenario_named("policy.yaml");
    avtb_findings f = {0};
    avtb_expect_result r[2];
    avtb_judgement j;

    ck_assert_uint_eq(s->nallows, 2);
    ck_assert_int_eq(s->severity[1], AVTB_SEV_HIGH);
    ck_assert_int_eq(s->severity[0], AVTB_SEV_CRITICAL);
    add_to(&f, AVTB_FINDING_METADATA, "Update.LEAKY-AV.example", "10.213.5.1");
    add_to(&f, AVTB_FINDING_METADATA, NULL, "203.0.113.9");
    add_to(&f, AVTB_FINDING_CONTENT, "samples.vendor.example", "10.213.5.1");
    add_to(&f, AVTB_FINDING_SUSPECTED, "samples.vendor.example", "10.213.5.1");
    avtb_verdict_judge(s, &f.items[0], &j);
    ck_assert(j.allowed && j.rule == 0 && j.data == AVTB_DATA_METADATA);
    avtb_verdict_judge(s, &f.items[1], &j);
    ck_assert(j.allowed && j.rule == 0);
    avtb_verdict_judge(s, &f.items[2], &j);
    ck_assert(j.allowed && j.rule == 1 && j.data == AVTB_DATA_CONTENT);
    ck_assert_int_eq(avtb_verdict_decide(s, &f, true, r), AVTB_VERDICT_CLEAN);
    ck_assert(r[0].held && r[1].held);
    ck_assert_int_eq(avtb_verdict_severity(s, &f), AVTB_SEV_INFO);
    /* Content to a host allowed metadata only is still exfiltration... */
    add_to(&f, AVTB_FINDING_CONTENT, "upload.leaky-av.example", "10.213.5.1");
    avtb_verdict_judge(s, &f.items[4], &j);
    ck_assert(!j.allowed && j.severity == AVTB_SEV_CRITICAL);
    ck_assert_int_eq(avtb_verdict_decide(s, &f, true, r), AVTB_VERDICT_EXFILTRATION);
    ck_assert(!r[0].held && !r[1].held && r[1].nfindings == 1);
    avtb_findings_clear(&f);
    /* ... and metadata elsewhere fails no_metadata, at the policy's severity. */
    add_to(&f, AVTB_FINDING_METADATA, "tracker.example", "10.213.5.1");
    ck_assert_int_eq(avtb_verdict_decide(s, &f, true, r), AVTB_VERDICT_METADATA_ONLY);
    ck_assert(r[0].held && !r[1].held);
    ck_assert_str_eq(avtb_expect_result_name(&r[1]), "failed");
    ck_assert_int_eq(avtb_verdict_exit_code(AVTB_VERDICT_METADATA_ONLY, r, 2), 1);
    ck_assert_int_eq(avtb_verdict_severity(s, &f), AVTB_SEV_HIGH);
    avtb_findings_clear(&f);
    avtb_scenario_free(s);
}
END_TEST

START_TEST(report_json_suspected_and_attempts)
{
    avtb_scenario *s = scenario();
    avtb_findings f = {0};
    avtb_expect_result r[1];
    avtb_attempt att[2] = {
        {.proto = AVTB_ATTEMPT_UDP,
         .ip_proto = 17,
         .dst_ip = "8.8.8.8",
         .port = 53,
         .packets = 3,
         .bytes = 90,
         .first_time = 1.0,
         .last_time = 2.0},
        {.proto = AVTB_ATTEMPT_ICMP,
         .ip_proto = 1,
         .dst_ip = "10.213.5.1",
         .port = 8,
         .packets = 1,
         .bytes = 64,
         .first_time = 3.0,
         .last_time = 3.0,
         .to_sink = true},
    };
    avtb_analysis an = {0};
    avtb_error err = {0};
    avtb_report rep = {0};
    char dir[] = "/tmp/avtb-test-report-XXXXXX", path[128];
    json_t *root, *x, *d;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    add_suspected(&f, 1.0);
    an.attempts = att;
    an.nattempts = 2;
    an.attempts_cap = 4096;
    an.attempts_dropped = 7;
    an.sink_ip = (char *)"10.213.5.1";
    an.tls_rejected = 1;
    rep.scenario = s;
    rep.run_id = "full-2";
    rep.findings = &f;
    rep.analysis = &an;
    rep.complete = true;
    rep.verdict = avtb_verdict_decide(s, &f, true, r);
    rep.results = r;
    rep.exit_code = avtb_verdict_exit_code(rep.verdict, r, 1);
    ck_assert_int_eq(avtb_report_write_json(&rep, dir, &err), AVTB_OK);
    snprintf(path, sizeof(path), "%s/report.json", dir);
    root = json_load_file(path, 0, NULL);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(json_string_value(json_object_get(root, "verdict")), "suspected");
    ck_assert_int_eq(json_integer_value(json_object_get(root, "exit_code")), 1);
    /* One list of findings, told apart by kind, as metadata findings already are. */
    ck_assert_uint_eq(json_array_size(json_object_get(root, "findings")), 1);
    x = json_array_get(json_object_get(root, "findings"), 0);
    ck_assert_ptr_nonnull(x);
    ck_assert(json_is_null(json_object_get(x, "token")));
    ck_assert(json_is_null(json_object_get(x, "document")));
    ck_assert_str_eq(json_string_value(json_object_get(x, "kind")), "suspected");
    ck_assert_str_eq(json_string_value(json_object_get(x, "protocol")), "tls");
    ck_assert_str_eq(json_string_value(json_object_get(x, "capture")), "sink-tls.jsonl");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(x, "dst"), "host")),
                     "telemetry.pinner.example");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(x, "reason")), "pinned"));
    x = json_array_get(json_object_get(root, "expectations"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(x, "result")), "suspected");
    ck_assert_int_eq(json_integer_value(json_object_get(x, "suspected")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(root, "attempts_limit")), 4096);
    ck_assert_int_eq(json_integer_value(json_object_get(root, "attempts_dropped_packets")), 7);
    ck_assert_str_eq(json_string_value(json_object_get(root, "sink")), "10.213.5.1");
    x = json_object_get(root, "attempts");
    ck_assert_uint_eq(json_array_size(x), 2);
    d = json_array_get(x, 0);
    ck_assert_str_eq(json_string_value(json_object_get(d, "protocol")), "udp");
    ck_assert_str_eq(json_string_value(json_object_get(d, "dst")), "8.8.8.8");
    ck_assert_int_eq(json_integer_value(json_object_get(d, "port")), 53);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "packets")), 3);
    ck_assert(json_is_false(json_object_get(d, "to_sink")));
    d = json_array_get(x, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "icmp_type")), 8);
    ck_assert_ptr_null(json_object_get(d, "port"));
    ck_assert(json_is_true(json_object_get(d, "to_sink")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(root, "tls"), "rejected")),
                     1);
    json_decref(root);
    avtb_findings_clear(&f);
    avtb_scenario_free(s);
    ck_assert_int_eq(avtb_rm_rf(dir, &err), AVTB_OK);
}
END_TEST

/* Finding keys compare runs: the token's encoding in a DNS name or beacon host does not count. */
START_TEST(finding_keys_ignore_data_in_names)
{
    json_t *a = json_pack("{s:s, s:s, s:{s:s, s:s, s:i}, s:s, s:[s, s], s:{s:b}}", "kind", "content",
                          "document", "/home/analyst/minutes.txt", "dst", "host",
                          "4d696e757465732c206974656d20343a204156544234354d4e."
                          "333536555543434e37595a424a5a2.f1.t.tunnel.example",
                          "ip", "10.0.0.1", "port", 53, "protocol", "dns", "encoding",
                          "dns-labels", "hex", "policy", "allowed", 0);
    json_t *b = json_deep_copy(a), *c = json_deep_copy(a);
    char *ka, *kb, *kc;

    json_object_set_new(json_object_get(b, "dst"), "host",
                        json_string("4d696e757465732c206974656d20343a20415654425a535335."
                                    "42554d44595353344a444c4257472.f1.t.tunnel.example"));
    json_object_set_new(json_object_get(c, "dst"), "host", json_string("upload.leaky-av.example"));
    ka = avtb_report_finding_key(a);
    kb = avtb_report_finding_key(b);
    kc = avtb_report_finding_key(c);
    ck_assert_str_eq(ka, "content /home/analyst/minutes.txt to *.*.f1.t.tunnel.example:53 over dns "
                         "as dns-labels,hex (violation)");
    ck_assert_str_eq(ka, kb);
    ck_assert_ptr_nonnull(strstr(kc, " to upload.leaky-av.example:53 "));
    /* A beacon name: the token's label, whatever its length. */
    json_object_set_new(json_object_get(c, "dst"), "host", json_string("avtb7q2x.beacon.example"));
    free(kc);
    kc = avtb_report_finding_key(c);
    ck_assert_ptr_nonnull(strstr(kc, " to *.beacon.example:53 "));
    free(ka);
    free(kb);
    free(kc);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}
END_TEST

static Suite *report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *v = tcase_create("verdict");
    TCase *j = tcase_create("report.json");

    tcase_add_test(v, clean_when_complete_and_nothing_found);
    tcase_add_test(v, incomplete_is_never_clean);
    tcase_add_test(v, a_finding_is_proof_even_when_incomplete);
    tcase_add_test(v, suspected_is_not_clean_nor_exfiltration);
    tcase_add_test(v, metadata_without_content_is_metadata_only);
    tcase_add_test(v, the_policy_allows_by_host_and_class);
    tcase_add_test(j, report_json_carries_findings);
    tcase_add_test(j, report_names_the_document_of_any_token);
    tcase_add_test(j, report_json_suspected_and_attempts);
    tcase_add_test(j, finding_keys_ignore_data_in_names);
    suite_add_tcase(s, v);
    suite_add_tcase(s, j);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(report_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
