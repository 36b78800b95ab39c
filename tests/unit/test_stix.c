/* SPDX-License-Identifier: Apache-2.0 */
/* stix-bundle.json: deterministic ids (the spec's for SCOs), references that resolve, and
 * guest-chosen strings kept out of typed properties. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "reports/stix.h"

static json_t *fixture(void)
{
    char path[1024];
    json_error_t e;
    json_t *r;

    snprintf(path, sizeof(path), "%s/reports/report-stager.json", getenv("AVTB_TESTDATA"));
    r = json_load_file(path, 0, &e);
    ck_assert_msg(r != NULL, "%s:%d: %s", path, e.line, e.text);
    return r;
}

static json_t *by_type(json_t *bundle, const char *type, size_t nth)
{
    json_t *o;
    size_t i;

    json_array_foreach(json_object_get(bundle, "objects"), i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "type")), type) == 0 && nth-- == 0)
            return o;
    }
    return NULL;
}

static bool has_id(json_t *bundle, const char *id)
{
    json_t *o;
    size_t i;

    json_array_foreach(json_object_get(bundle, "objects"), i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "id")), id) == 0)
            return true;
    }
    return false;
}

/* Every *_ref and *_refs of v, at any depth, names an object of bundle; returns how many. */
static size_t check_refs(json_t *bundle, json_t *v)
{
    const char *k;
    json_t *x, *y;
    size_t n = 0, i;

    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            n += check_refs(bundle, x);
        }
        return n;
    }
    json_object_foreach(v, k, x)
    {
        size_t kl = strlen(k);

        if (kl > 4 && strcmp(k + kl - 4, "_ref") == 0) {
            ck_assert_msg(has_id(bundle, json_string_value(x)), "%s %s", k, json_string_value(x));
            n++;
        } else if (kl > 5 && strcmp(k + kl - 5, "_refs") == 0) {
            ck_assert_uint_gt(json_array_size(x), 0);
            json_array_foreach(x, i, y)
            {
                ck_assert_msg(has_id(bundle, json_string_value(y)), "%s %s", k,
                              json_string_value(y));
                n++;
            }
        } else {
            n += check_refs(bundle, x);
        }
    }
    return n;
}

START_TEST(uuid5_is_rfc4122)
{
    static const unsigned char dns[16] = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                          0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
    char u[37];

    /* Python's uuid.uuid5(uuid.NAMESPACE_DNS, "python.org"). */
    avtb_stix_uuid5(dns, "python.org", 10, u);
    ck_assert_str_eq(u, "886313e1-3b8a-5372-9b90-0c9aee199e5d");
}
END_TEST

START_TEST(sco_ids_follow_the_spec)
{
    json_t *r = fixture(), *b = avtb_stix_bundle(r), *ip = by_type(b, "ipv4-addr", 0);

    /* UUIDv5 in the STIX namespace of {"value":"10.213.44.1"}, the canonical contributing
     * properties (computed with Python's uuid module). */
    ck_assert_str_eq(json_string_value(json_object_get(ip, "value")), "10.213.44.1");
    ck_assert_str_eq(json_string_value(json_object_get(ip, "id")),
                     "ipv4-addr--798f4cfa-88ee-5c37-955b-ea57f822868b");
    json_decref(b);
    json_decref(r);
}
END_TEST

START_TEST(same_report_same_bundle)
{
    json_t *r = fixture(), *a = avtb_stix_bundle(r), *b = avtb_stix_bundle(r);
    char *ta = json_dumps(a, JSON_COMPACT), *tb = json_dumps(b, JSON_COMPACT);

    ck_assert_ptr_nonnull(ta);
    ck_assert_str_eq(ta, tb);
    free(ta);
    free(tb);
    json_decref(a);
    json_decref(b);
    json_decref(r);
}
END_TEST

START_TEST(another_run_other_sdo_ids_same_sco_ids)
{
    json_t *r = fixture(), *a = avtb_stix_bundle(r), *b;

    json_object_set_new(r, "run_id", json_string("stager-other"));
    b = avtb_stix_bundle(r);
    ck_assert_str_ne(json_string_value(json_object_get(a, "id")),
                     json_string_value(json_object_get(b, "id")));
    ck_assert(!json_equal(json_object_get(by_type(a, "observed-data", 0), "id"),
                          json_object_get(by_type(b, "observed-data", 0), "id")));
    ck_assert(json_equal(json_object_get(by_type(a, "domain-name", 0), "id"),
                         json_object_get(by_type(b, "domain-name", 0), "id")));
    ck_assert(json_equal(json_object_get(by_type(a, "file", 0), "id"),
                         json_object_get(by_type(b, "file", 0), "id")));
    json_decref(a);
    json_decref(b);
    json_decref(r);
}
END_TEST

START_TEST(refs_resolve)
{
    json_t *r = fixture(), *b = avtb_stix_bundle(r), *o;
    size_t i;

    ck_assert_str_eq(json_string_value(json_object_get(b, "type")), "bundle");
    ck_assert_uint_gt(check_refs(b, json_object_get(b, "objects")), 20);
    json_array_foreach(json_object_get(b, "objects"), i, o)
    {
        const char *type = json_string_value(json_object_get(o, "type"));
        const char *id = json_string_value(json_object_get(o, "id"));
        const char *created = json_string_value(json_object_get(o, "created"));

        ck_assert_int_eq(strncmp(id, type, strlen(type)), 0);
        ck_assert_str_eq(json_string_value(json_object_get(o, "spec_version")), "2.1");
        if (created != NULL) {
            ck_assert_uint_eq(strlen(created), 24); /* 2026-11-26T13:51:58.542Z */
            ck_assert_int_eq(created[19], '.');
            ck_assert_int_eq(created[23], 'Z');
        }
    }
    json_decref(b);
    json_decref(r);
}
END_TEST

START_TEST(what_the_run_observed)
{
    json_t *r = fixture(), *b = avtb_stix_bundle(r);
    json_t *vendor = by_type(b, "identity", 1), *lab = by_type(b, "identity", 0);
    json_t *nt = by_type(b, "network-traffic", 0), *od = by_type(b, "observed-data", 0);
    json_t *dom = by_type(b, "domain-name", 0), *note = by_type(b, "note", 0);
    json_t *doc = by_type(b, "file", 0), *proc = by_type(b, "process", 0);

    ck_assert_str_eq(json_string_value(json_object_get(lab, "identity_class")), "system");
    ck_assert_str_eq(json_string_value(json_object_get(vendor, "identity_class")), "organization");
    ck_assert_str_eq(json_string_value(json_object_get(vendor, "x_avtb_vendor_country")), "ZZ");
    ck_assert(json_equal(json_object_get(vendor, "created_by_ref"), json_object_get(lab, "id")));
    ck_assert_str_eq(json_string_value(json_object_get(dom, "value")), "sync.stager.example");
    ck_assert_str_eq(json_string_value(json_object_get(nt, "start")), "2026-11-26T13:51:13.163Z");
    ck_assert_int_eq(json_integer_value(json_object_get(nt, "dst_port")), 80);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(nt, "protocols"), 2)),
                     "http");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "hashes"), "SHA-256")),
                     "da9acda01aff45caabb5d2803220185c5ec1e548751d788890ba548a88dedc6a");
    ck_assert_int_eq(json_integer_value(json_object_get(proc, "pid")), 142);
    ck_assert_int_eq(json_integer_value(json_object_get(od, "number_observed")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(od, "first_observed")),
                     "2026-11-26T13:51:13.163Z");
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(note, "content")), "verdict: exfiltration\n"));
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(note, "content")), "chain: tar (pid 142)"));
    json_decref(b);
    json_decref(r);
}
END_TEST

START_TEST(a_hostile_host_is_not_a_domain)
{
    json_t *r = fixture(), *b;
    json_t *dst = json_object_get(json_array_get(json_object_get(r, "findings"), 0), "dst");

    json_object_set_new(dst, "host", json_string("evil host/<x>"));
    b = avtb_stix_bundle(r);
    ck_assert_ptr_null(by_type(b, "domain-name", 0));
    ck_assert_str_eq(
        json_string_value(json_object_get(by_type(b, "network-traffic", 0), "x_avtb_claimed_host")),
        "evil host/<x>");
    check_refs(b, json_object_get(b, "objects"));
    json_decref(b);
    json_decref(r);
}
END_TEST

START_TEST(a_sparse_report_still_makes_a_bundle)
{
    json_t *r = json_pack("{s:i, s:s}", "format", 1, "run_id", "x"), *b = avtb_stix_bundle(r);

    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(by_type(b, "note", 0));
    ck_assert_str_eq(json_string_value(json_object_get(by_type(b, "note", 0), "created")),
                     "1970-01-01T00:00:00.000Z");
    check_refs(b, json_object_get(b, "objects"));
    json_decref(b);
    json_decref(r);
}
END_TEST

START_TEST(writes_the_file)
{
    char dir[] = "/tmp/avtb-stix-XXXXXX", *path;
    json_t *r = fixture(), *b, *want = avtb_stix_bundle(r);
    avtb_error err = {0};
    json_error_t je;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(avtb_report_write_stix(r, dir, &err), AVTB_OK);
    path = avtb_path_join(dir, "stix-bundle.json");
    b = json_load_file(path, 0, &je);
    ck_assert(json_equal(b, want));
    ck_assert_int_eq(avtb_rm_rf(dir, &err), AVTB_OK);
    free(path);
    json_decref(b);
    json_decref(want);
    json_decref(r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stix");
    TCase *ids = tcase_create("ids"), *content = tcase_create("content");

    tcase_add_test(ids, uuid5_is_rfc4122);
    tcase_add_test(ids, sco_ids_follow_the_spec);
    tcase_add_test(ids, same_report_same_bundle);
    tcase_add_test(ids, another_run_other_sdo_ids_same_sco_ids);
    tcase_add_test(ids, refs_resolve);
    tcase_add_test(content, what_the_run_observed);
    tcase_add_test(content, a_hostile_host_is_not_a_domain);
    tcase_add_test(content, a_sparse_report_still_makes_a_bundle);
    tcase_add_test(content, writes_the_file);
    suite_add_tcase(s, ids);
    suite_add_tcase(s, content);
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
