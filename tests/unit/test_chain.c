/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exfiltration chains (collectors/chain.h): which process read a honey
 * document, where it was staged and who uploaded it, from file-access.jsonl,
 * forensics.json and the findings; and who touched each document.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/chain.h"
#include "memcheck.h"

/* 2026-11-26T13:31:05Z: the upload. */
#define TU 1795699865.0

#define DOC   "/home/user/Documents/minutes.txt"
#define TOKEN "AVTB-7f3a9c1e5b2d"
#define STAGE "/var/tmp/.stage/b1.tar.gz"

static const char registry_text[] =
    "{\"version\":1,\"tokens\":[{\"token\":\"" TOKEN "\",\"place\":\"body\",\"document\":\"" DOC
    "\"},{\"token\":\"AVTB-00000000other\",\"document\":\"/home/user/Documents/budget.xlsx\"},"
    "{\"token\":\"AVTB-7f3a9c1e5bmeta\",\"document\":\"" DOC "\"},{\"bad\":1}]}";

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);

    ck_assert_msg(o != NULL, "%s", jerr.text);
    return o;
}

/* Lines of file-access.jsonl from guest messages, one per argument. */
static avtb_fa_log *fa_log(const char *const *msgs, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    avtb_error err = {0};
    avtb_fa_log *l = NULL;

    ck_assert_ptr_nonnull(fp);
    for (size_t i = 0; i < n; i++)
        fprintf(fp, "{\"host_time\":\"2026-11-26T13:31:00.000Z\",\"dir\":\"in\",\"msg\":%s}\n",
                msgs[i]);
    fclose(fp);
    ck_assert_int_eq(avtb_fa_log_parse((const uint8_t *)buf, len, NULL, &l, &err), AVTB_OK);
    ck_assert_uint_eq(l->bad_lines, 0);
    free(buf);
    return l;
}

#define FA(...)                                                                                    \
    fa_log((const char *const[]){__VA_ARGS__},                                                     \
           sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void add_finding(avtb_findings *fs, const char *token, uint64_t flow, uint16_t sport,
                        double t)
{
    avtb_finding f = {.token = (char *)token,
                      .kind = AVTB_FINDING_CONTENT,
                      .protocol = "http",
                      .encoding = "gzip,base64",
                      .capture = "capture.pcapng",
                      .flow = flow,
                      .time = t,
                      .src = {.ip = "10.0.2.15", .port = sport},
                      .dst = {.ip = "198.51.100.7", .port = 80, .host = "upload.x.example"}};

    ck_assert_int_eq(avtb_findings_add(fs, &f), AVTB_OK);
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

static json_t *step(json_t *chain, size_t i)
{
    return json_array_get(json_object_get(chain, "steps"), i);
}

static const char *ev(json_t *st, size_t i)
{
    return json_string_value(json_array_get(json_object_get(st, "evidence"), i));
}

/* tar reads at 13:31:02, writes the archive; fixture-net reads it and uploads. */
#define TAR_READ                                                                                   \
    "{\"type\":\"file\",\"t\":1795699862.2,\"mask\":[\"open\",\"access\"],\"pid\":312,"            \
    "\"ppid\":300,\"uid\":1000,\"path\":\"" DOC "\",\"comm\":\"tar\",\"exe\":\"/usr/bin/tar\","    \
    "\"cmdline\":\"tar czf " STAGE " minutes.txt\"}"
#define TAR_CLOSE                                                                                  \
    "{\"type\":\"file\",\"t\":1795699862.3,\"mask\":[\"close_nowrite\"],\"pid\":312,"              \
    "\"ppid\":300,\"path\":\"" DOC "\",\"comm\":\"tar\",\"exe\":\"/usr/bin/tar\"}"
#define TAR_WRITE                                                                                  \
    "{\"type\":\"file\",\"t\":1795699862.4,\"mask\":[\"modify\"],\"count\":3,"                     \
    "\"t_last\":1795699862.6,\"pid\":312,\"ppid\":300,\"path\":\"" STAGE "\",\"comm\":\"tar\"}"
#define TAR_WCLOSE                                                                                 \
    "{\"type\":\"file\",\"t\":1795699862.7,\"mask\":[\"close_write\"],\"pid\":312,"                \
    "\"ppid\":300,\"path\":\"" STAGE "\",\"comm\":\"tar\"}"
#define NET_READ_STAGE                                                                             \
    "{\"type\":\"file\",\"t\":1795699864.1,\"mask\":[\"open\",\"access\",\"close_nowrite\"],"      \
    "\"pid\":320,\"ppid\":1,\"path\":\"" STAGE "\",\"comm\":\"fixture-net\","                      \
    "\"exe\":\"/usr/bin/fixture-net\"}"
#define NET_READ_OTHER                                                                             \
    "{\"type\":\"file\",\"t\":1795699864.0,\"mask\":[\"open\",\"close_nowrite\"],"                 \
    "\"pid\":320,\"ppid\":1,\"path\":\"/etc/hosts\",\"comm\":\"fixture-net\"}"
#define NET_SOCKET                                                                                 \
    "{\"type\":\"socket\",\"t\":1795699865.4,\"pid\":320,\"comm\":\"fixture-net\","                \
    "\"exe\":\"/usr/bin/fixture-net\",\"proto\":\"tcp\",\"local\":\"10.0.2.15:40000\","            \
    "\"remote\":\"198.51.100.7:80\",\"state\":\"established\",\"inode\":4242}"
/* Port 40000 reused earlier by another process, to another place. */
#define OLD_SOCKET                                                                                 \
    "{\"type\":\"socket\",\"t\":1795699800.0,\"pid\":99,\"comm\":\"old\",\"proto\":\"tcp\","       \
    "\"local\":\"10.0.2.15:40000\",\"remote\":\"203.0.113.1:443\",\"state\":\"established\"}"

static const char forensics_text[] =
    "{\"format\":1,\"status\":\"done\",\"documents\":[{\"path\":\"/home/user/Documents/"
    "budget.xlsx\",\"token\":\"AVTB-00000000other\",\"state\":\"unchanged\"},{\"path\":\"" DOC
    "\",\"token\":\"" TOKEN "\",\"state\":\"read\"}],\"files\":[{\"path\":\"/home/user/.cache/"
    "thumb.png\",\"size\":10,\"kind\":\"derived\",\"tokens\":[]},{\"path\":\"" STAGE
    "\",\"size\":812,\"sha256\":\"ab\",\"kind\":\"archive\",\"tokens\":[{\"token\":\"" TOKEN
    "\",\"document\":\"" DOC "\",\"hit\":\"content\",\"encoding\":[\"gzip\"],\"member\":"
    "\"minutes.txt\"}],\"saved\":\"forensics/files/001-b1.tar.gz\"}]}";

START_TEST(direct_read_then_upload)
{
    avtb_fa_log *fa = FA(OLD_SOCKET,
                         "{\"type\":\"file\",\"t\":1795699862.0,\"mask\":[\"open\"],\"pid\":320,"
                         "\"path\":\"" DOC "\",\"comm\":\"fixture-net\",\"exe\":\"/usr/bin/"
                         "fixture-net\"}",
                         "{\"type\":\"file\",\"t\":1795699862.1,\"mask\":[\"access\","
                         "\"close_nowrite\"],\"pid\":320,\"path\":\"" DOC "\","
                         "\"comm\":\"fixture-net\"}",
                         NET_SOCKET);
    json_t *reg = load(registry_text), *chains, *c, *s;
    avtb_findings fs = {0};

    add_finding(&fs, TOKEN, 6, 40000, TU);
    chains = avtb_chains_build(&fs, fa, NULL, reg);
    ck_assert_ptr_nonnull(chains);
    ck_assert_uint_eq(json_array_size(chains), 1);
    c = json_array_get(chains, 0);
    ck_assert_str_eq(jstr(c, "document"), DOC);
    ck_assert_str_eq(jstr(c, "token"), TOKEN);
    ck_assert_int_eq(jint(c, "finding"), 0);
    ck_assert(json_is_true(json_object_get(c, "complete")));
    ck_assert_str_eq(jstr(c, "linked_by"), "process");
    ck_assert_uint_eq(json_array_size(json_object_get(c, "steps")), 2);
    s = step(c, 0);
    ck_assert_str_eq(jstr(s, "step"), "read");
    ck_assert_int_eq(jint(s, "pid"), 320);
    ck_assert_str_eq(jstr(s, "comm"), "fixture-net");
    ck_assert_str_eq(jstr(s, "time"), "2026-11-26T13:31:02.000Z");
    ck_assert_str_eq(jstr(s, "path"), DOC);
    ck_assert_str_eq(ev(s, 0), "file-access.jsonl:2");
    ck_assert_str_eq(ev(s, 1), "file-access.jsonl:3");
    s = step(c, 1);
    ck_assert_str_eq(jstr(s, "step"), "upload");
    ck_assert_int_eq(jint(s, "pid"), 320);
    ck_assert_str_eq(jstr(s, "exe"), "/usr/bin/fixture-net");
    ck_assert_str_eq(jstr(s, "protocol"), "http");
    ck_assert_str_eq(jstr(s, "linked_by"), "process");
    ck_assert_str_eq(jstr(json_object_get(s, "dst"), "host"), "upload.x.example");
    ck_assert_int_eq(jint(json_object_get(s, "dst"), "port"), 80);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "encoding"), 1)),
                     "base64");
    ck_assert_str_eq(ev(s, 0), "report.json#/findings/0");
    ck_assert_str_eq(ev(s, 1), "capture.pcapng flow 6");
    ck_assert_str_eq(ev(s, 2), "file-access.jsonl:4");
    ck_assert_str_eq(jstr(c, "summary"),
                     "fixture-net (pid 320) read minutes.txt at 13:31:02; fixture-net (pid 320) "
                     "uploaded it to upload.x.example:80 over http at 13:31:05");
    json_decref(chains);
    json_decref(reg);
    avtb_findings_clear(&fs);
    avtb_fa_log_free(fa);
}
END_TEST

static void check_tar_chain(json_t *c, bool with_forensics)
{
    json_t *s, *found;

    ck_assert(json_is_true(json_object_get(c, "complete")));
    ck_assert_str_eq(jstr(c, "linked_by"), "process");
    ck_assert_uint_eq(json_array_size(json_object_get(c, "steps")), 3);
    s = step(c, 0);
    ck_assert_str_eq(jstr(s, "step"), "read");
    ck_assert_int_eq(jint(s, "pid"), 312);
    ck_assert_str_eq(jstr(s, "comm"), "tar");
    ck_assert_str_eq(jstr(s, "exe"), "/usr/bin/tar");
    ck_assert_str_eq(ev(s, 0), "file-access.jsonl:1");
    ck_assert_str_eq(ev(s, 1), "file-access.jsonl:2");
    s = step(c, 1);
    ck_assert_str_eq(jstr(s, "step"), "stage");
    ck_assert_str_eq(jstr(s, "path"), STAGE);
    ck_assert_int_eq(jint(s, "pid"), 312);
    ck_assert_str_eq(jstr(s, "linked_by"), "process");
    found = json_object_get(s, "found_by");
    if (with_forensics) {
        ck_assert_uint_eq(json_array_size(found), 2);
        ck_assert_str_eq(json_string_value(json_array_get(found, 0)), "forensics");
        ck_assert_str_eq(json_string_value(json_array_get(found, 1)), "file-access");
        ck_assert_str_eq(jstr(s, "kind"), "archive");
        ck_assert_str_eq(ev(s, 0), "forensics.json#/files/1");
        ck_assert_str_eq(ev(s, 1), "file-access.jsonl:3");
    } else {
        ck_assert_uint_eq(json_array_size(found), 1);
        ck_assert_str_eq(json_string_value(json_array_get(found, 0)), "file-access");
        ck_assert(json_is_null(json_object_get(s, "kind")));
        ck_assert_str_eq(ev(s, 0), "file-access.jsonl:3");
    }
    s = step(c, 2);
    ck_assert_str_eq(jstr(s, "step"), "upload");
    ck_assert_int_eq(jint(s, "pid"), 320);
    ck_assert_str_eq(jstr(s, "linked_by"), "process");
    ck_assert_str_eq(jstr(c, "summary"),
                     "tar (pid 312) read minutes.txt at 13:31:02; wrote " STAGE "; fixture-net "
                     "(pid 320) uploaded it to upload.x.example:80 over http at 13:31:05");
}

START_TEST(archive_staged_by_tar_uploaded_by_another)
{
    avtb_fa_log *fa =
        FA(TAR_READ, TAR_CLOSE, TAR_WRITE, TAR_WCLOSE, NET_READ_OTHER, NET_READ_STAGE, NET_SOCKET);
    json_t *reg = load(registry_text), *forensics = load(forensics_text), *chains;
    avtb_findings fs = {0};

    add_finding(&fs, TOKEN, 6, 40000, TU);
    chains = avtb_chains_build(&fs, fa, forensics, reg);
    ck_assert_uint_eq(json_array_size(chains), 1);
    check_tar_chain(json_array_get(chains, 0), true);
    json_decref(chains);
    /* The same from the file events alone. */
    chains = avtb_chains_build(&fs, fa, NULL, reg);
    ck_assert_uint_eq(json_array_size(chains), 1);
    check_tar_chain(json_array_get(chains, 0), false);
    json_decref(chains);
    json_decref(forensics);
    json_decref(reg);
    avtb_findings_clear(&fs);
    avtb_fa_log_free(fa);
}
END_TEST

/* cat minutes.txt | gzip > stage: the reader and the writer are siblings. */
START_TEST(sibling_writer_links_by_process)
{
    avtb_fa_log *fa = FA("{\"type\":\"file\",\"t\":1795699862.2,\"mask\":[\"access\"],\"pid\":401,"
                         "\"ppid\":400,\"path\":\"" DOC "\",\"comm\":\"cat\"}",
                         "{\"type\":\"file\",\"t\":1795699862.3,\"mask\":[\"modify\"],\"pid\":402,"
                         "\"ppid\":400,\"path\":\"/tmp/m.gz\",\"comm\":\"gzip\"}",
                         "{\"type\":\"file\",\"t\":1795699863.0,\"mask\":[\"access\"],\"pid\":320,"
                         "\"ppid\":1,\"path\":\"/tmp/m.gz\",\"comm\":\"fixture-net\"}",
                         NET_SOCKET);
    json_t *reg = load(registry_text), *chains, *c;
    avtb_findings fs = {0};

    add_finding(&fs, TOKEN, 6, 40000, TU);
    chains = avtb_chains_build(&fs, fa, NULL, reg);
    c = json_array_get(chains, 0);
    ck_assert(json_is_true(json_object_get(c, "complete")));
    ck_assert_int_eq(jint(step(c, 0), "pid"), 401);
    ck_assert_int_eq(jint(step(c, 1), "pid"), 402);
    ck_assert_str_eq(jstr(c, "summary"),
                     "cat (pid 401) read minutes.txt at 13:31:02; gzip (pid 402) wrote /tmp/m.gz; "
                     "fixture-net (pid 320) uploaded it to upload.x.example:80 over http at "
                     "13:31:05");
    json_decref(chains);
    json_decref(reg);
    avtb_findings_clear(&fs);
    avtb_fa_log_free(fa);
}
END_TEST

START_TEST(without_file_access_linked_by_token)
{
    json_t *reg = load(registry_text), *forensics = load(forensics_text), *chains, *c, *s;
    avtb_findings fs = {0};

    add_finding(&fs, TOKEN, 6, 40000, TU);
    chains = avtb_chains_build(&fs, NULL, forensics, reg);
    ck_assert_uint_eq(json_array_size(chains), 1);
    c = json_array_get(chains, 0);
    ck_assert(json_is_false(json_object_get(c, "complete")));
    ck_assert_str_eq(jstr(c, "linked_by"), "token");
    s = step(c, 0);
    ck_assert_str_eq(jstr(s, "step"), "read");
    ck_assert(json_is_null(json_object_get(s, "pid")));
    ck_assert_str_eq(jstr(s, "state"), "read");
    ck_assert_str_eq(ev(s, 0), "forensics.json#/documents/1");
    s = step(c, 1);
    ck_assert_str_eq(jstr(s, "step"), "stage");
    ck_assert_str_eq(jstr(s, "path"), STAGE);
    ck_assert_str_eq(jstr(s, "linked_by"), "token");
    ck_assert_str_eq(jstr(s, "kind"), "archive");
    ck_assert_str_eq(jstr(s, "saved"), "forensics/files/001-b1.tar.gz");
    ck_assert(json_is_null(json_object_get(s, "pid")));
    s = step(c, 2);
    ck_assert_str_eq(jstr(s, "step"), "upload");
    ck_assert(json_is_null(json_object_get(s, "pid")));
    ck_assert_str_eq(jstr(s, "linked_by"), "token");
    ck_assert_str_eq(jstr(c, "summary"),
                     "minutes.txt was read (forensics); " STAGE " holds its token (forensics); an "
                     "unknown process uploaded it to upload.x.example:80 over http at 13:31:05");
    json_decref(chains);
    json_decref(forensics);
    json_decref(reg);
    avtb_findings_clear(&fs);
}
END_TEST

/* Without the uploader's socket, the document's last reader before the upload
 * is named, linked by time, and the chain is not complete. */
START_TEST(no_socket_line_names_the_last_reader_by_time)
{
    avtb_fa_log *fa = FA(TAR_READ, TAR_CLOSE);
    json_t *reg = load(registry_text), *chains, *c, *s;
    avtb_findings fs = {0};

    add_finding(&fs, TOKEN, 6, 40000, TU);
    chains = avtb_chains_build(&fs, fa, NULL, reg);
    ck_assert_uint_eq(json_array_size(chains), 1);
    c = json_array_get(chains, 0);
    ck_assert(json_is_false(json_object_get(c, "complete")));
    ck_assert_str_eq(jstr(c, "linked_by"), "time");
    ck_assert_uint_eq(json_array_size(json_object_get(c, "steps")), 2);
    ck_assert_int_eq(jint(step(c, 0), "pid"), 312);
    s = step(c, 1);
    ck_assert_int_eq(jint(s, "pid"), 312);
    ck_assert_str_eq(jstr(s, "linked_by"), "time");
    ck_assert_uint_eq(json_array_size(json_object_get(s, "evidence")), 2);
    ck_assert_ptr_nonnull(strstr(jstr(c, "summary"), "the last process to read it, uploaded it"));
    /* A read after the upload (beyond the skew) explains nothing. */
    json_decref(chains);
    avtb_findings_clear(&fs);
    add_finding(&fs, TOKEN, 6, 40000, TU - 60);
    chains = avtb_chains_build(&fs, fa, NULL, reg);
    c = json_array_get(chains, 0);
    ck_assert_uint_eq(json_array_size(json_object_get(c, "steps")), 1);
    ck_assert(json_is_null(json_object_get(c, "linked_by")));
    ck_assert_ptr_nonnull(strstr(jstr(c, "summary"), "no process was seen reading minutes.txt"));
    json_decref(chains);
    json_decref(reg);
    avtb_findings_clear(&fs);
    avtb_fa_log_free(fa);
}
END_TEST

START_TEST(duplicates_collapse_per_connection)
{
    avtb_fa_log *fa = FA(TAR_READ, NET_SOCKET);
    json_t *reg = load(registry_text), *chains, *c, *ids;
    avtb_findings fs = {0};
    avtb_finding sus = {.kind = AVTB_FINDING_SUSPECTED, .protocol = "tls", .reason = "pinning"};

    add_finding(&fs, TOKEN, 6, 40000, TU);                   /* 0 */
    add_finding(&fs, TOKEN, 7, 40002, TU + 1);               /* 1: another connection */
    add_finding(&fs, TOKEN, 6, 40000, TU + 0.5);             /* 2: the same as 0 */
    add_finding(&fs, "AVTB-7f3a9c1e5bmeta", 6, 40000, TU);   /* 3: another token of DOC */
    add_finding(&fs, "AVTB-unknown-token", 6, 40000, TU);    /* 4: no document: no chain */
    ck_assert_int_eq(avtb_findings_add(&fs, &sus), AVTB_OK); /* 5: suspected: no chain */
    chains = avtb_chains_build(&fs, fa, NULL, reg);
    ck_assert_uint_eq(json_array_size(chains), 2);
    c = json_array_get(chains, 0);
    ck_assert_int_eq(jint(c, "finding"), 0);
    ids = json_object_get(c, "findings");
    ck_assert_uint_eq(json_array_size(ids), 3);
    ck_assert_int_eq(json_integer_value(json_array_get(ids, 0)), 0);
    ck_assert_int_eq(json_integer_value(json_array_get(ids, 1)), 2);
    ck_assert_int_eq(json_integer_value(json_array_get(ids, 2)), 3);
    c = json_array_get(chains, 1);
    ck_assert_int_eq(jint(c, "finding"), 1);
    ck_assert_str_eq(ev(step(c, 1), 1), "capture.pcapng flow 7");
    json_decref(chains);

    /* Nothing at all: an empty array, not NULL. */
    avtb_findings_clear(&fs);
    chains = avtb_chains_build(&fs, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(chains);
    ck_assert_uint_eq(json_array_size(chains), 0);
    json_decref(chains);
    json_decref(reg);
    avtb_fa_log_free(fa);
}
END_TEST

/* DNS over UDP from an IPv6 socket; and an archive member's document. */
START_TEST(udp6_socket_and_member_document)
{
    avtb_fa_log *fa = FA("{\"type\":\"file\",\"t\":1795699862.0,\"mask\":[\"access\"],\"pid\":77,"
                         "\"path\":\"" DOC "\",\"comm\":\"resolver\"}",
                         "{\"type\":\"socket\",\"t\":1795699866.0,\"pid\":77,\"comm\":\"resolver\","
                         "\"proto\":\"udp6\",\"local\":\"[fd00::15]:5353\",\"remote\":\"[::]:0\","
                         "\"state\":\"unconnected\"}",
                         "{\"type\":\"socket\",\"t\":1795699866.0,\"pid\":78,\"comm\":\"web\","
                         "\"proto\":\"tcp6\",\"local\":\"[fd00::15]:5353\",\"remote\":\"[::]:0\","
                         "\"state\":\"listen\"}");
    json_t *reg = load(registry_text), *chains, *c;
    avtb_findings fs = {0};
    avtb_finding f = {.token = TOKEN,
                      .kind = AVTB_FINDING_METADATA,
                      .protocol = "udp",
                      .document = DOC "/word/document.xml",
                      .capture = "capture.pcapng",
                      .flow = 9,
                      .time = TU,
                      .src = {.ip = "fd00::15", .port = 5353},
                      .dst = {.ip = "fd00::1", .port = 53}};

    ck_assert_int_eq(avtb_findings_add(&fs, &f), AVTB_OK);
    chains = avtb_chains_build(&fs, fa, NULL, reg);
    c = json_array_get(chains, 0);
    ck_assert_str_eq(jstr(c, "document"), DOC);
    ck_assert(json_is_true(json_object_get(c, "complete")));
    ck_assert_int_eq(jint(step(c, 1), "pid"), 77);
    ck_assert_ptr_nonnull(strstr(jstr(c, "summary"), "to [fd00::1]:53 over udp"));
    json_decref(chains);
    json_decref(reg);
    avtb_findings_clear(&fs);
    avtb_fa_log_free(fa);
}
END_TEST

START_TEST(document_access_per_process)
{
    avtb_fa_log *fa = FA(TAR_READ, TAR_CLOSE, TAR_WRITE, NET_READ_STAGE,
                         "{\"type\":\"file\",\"t\":1795699861.0,\"mask\":[\"open\",\"access\"],"
                         "\"count\":4,\"t_last\":1795699861.5,\"pid\":200,\"path\":\"" DOC "\","
                         "\"comm\":\"clamd\",\"exe\":\"/usr/sbin/clamd\",\"cmdline\":\"clamd\"}",
                         "{\"type\":\"file\",\"t\":1795699870.0,\"mask\":[\"modify\","
                         "\"close_write\"],\"count\":2,\"pid\":200,\"path\":\"" DOC " (deleted)\","
                         "\"comm\":\"clamd\"}");
    json_t *reg = load(registry_text), *acc, *d, *p;

    acc = avtb_fa_document_access(fa, reg);
    ck_assert_uint_eq(json_array_size(acc), 2);
    d = json_array_get(acc, 0);
    ck_assert_str_eq(jstr(d, "document"), DOC);
    ck_assert_str_eq(jstr(d, "token"), TOKEN);
    ck_assert_uint_eq(json_array_size(json_object_get(d, "processes")), 2);
    p = json_array_get(json_object_get(d, "processes"), 0);
    ck_assert_int_eq(jint(p, "pid"), 200);
    ck_assert_str_eq(jstr(p, "cmdline"), "clamd");
    ck_assert_int_eq(jint(p, "reads"), 4);
    ck_assert_int_eq(jint(p, "writes"), 2);
    ck_assert_int_eq(jint(p, "execs"), 0);
    ck_assert_str_eq(jstr(p, "first"), "2026-11-26T13:31:01.000Z");
    ck_assert_str_eq(jstr(p, "last"), "2026-11-26T13:31:10.000Z");
    ck_assert_uint_eq(json_array_size(json_object_get(p, "evidence")), 2);
    p = json_array_get(json_object_get(d, "processes"), 1);
    ck_assert_int_eq(jint(p, "pid"), 312);
    ck_assert_int_eq(jint(p, "reads"), 2);
    ck_assert_int_eq(jint(p, "writes"), 0);
    ck_assert_str_eq(ev(p, 0), "file-access.jsonl:1");
    d = json_array_get(acc, 1);
    ck_assert_uint_eq(json_array_size(json_object_get(d, "processes")), 0);
    json_decref(acc);
    /* No file access evidence: the documents, untouched as far as is known. */
    acc = avtb_fa_document_access(NULL, reg);
    ck_assert_uint_eq(json_array_size(acc), 2);
    json_decref(acc);
    json_decref(reg);
    avtb_fa_log_free(fa);
}
END_TEST

/* Many events of one busy process: the index keeps a chain cheap (a
 * quadratic walk would overrun Check's timeout). Under memcheck there is no
 * timeout (CK_FORK=no) and 200,000 events cost 80 CPU seconds, a third of
 * the whole memcheck pass, for the code 20,000 already runs (each of the
 * 5,000 paths four times over, the log's path table at its full size). */
START_TEST(many_events_stay_fast)
{
    size_t n = RUNNING_ON_VALGRIND ? 20000 : 200000;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    avtb_error err = {0};
    avtb_fa_log *fa = NULL;
    json_t *reg = load(registry_text), *chains;
    avtb_findings fs = {0};

    for (size_t i = 0; i < n; i++)
        fprintf(fp,
                "{\"dir\":\"in\",\"msg\":{\"type\":\"file\",\"t\":%.3f,\"mask\":[\"access\"],"
                "\"pid\":320,\"path\":\"/usr/share/f%zu\",\"comm\":\"fixture-net\"}}\n",
                TU - 100 + (double)i / n * 90, i % 5000);
    fprintf(fp, "{\"dir\":\"in\",\"msg\":" NET_SOCKET "}\n");
    fclose(fp);
    ck_assert_int_eq(avtb_fa_log_parse((const uint8_t *)buf, len, NULL, &fa, &err), AVTB_OK);
    for (int i = 0; i < 200; i++)
        add_finding(&fs, TOKEN, (uint64_t)i + 1, 40000, TU);
    chains = avtb_chains_build(&fs, fa, NULL, reg);
    ck_assert_uint_eq(json_array_size(chains), 200);
    json_decref(chains);
    free(buf);
    json_decref(reg);
    avtb_findings_clear(&fs);
    avtb_fa_log_free(fa);
}
END_TEST

static Suite *chain_suite(void)
{
    Suite *s = suite_create("chain");
    TCase *tc = tcase_create("chains");

    tcase_add_test(tc, direct_read_then_upload);
    tcase_add_test(tc, archive_staged_by_tar_uploaded_by_another);
    tcase_add_test(tc, sibling_writer_links_by_process);
    tcase_add_test(tc, without_file_access_linked_by_token);
    tcase_add_test(tc, no_socket_line_names_the_last_reader_by_time);
    tcase_add_test(tc, duplicates_collapse_per_connection);
    tcase_add_test(tc, udp6_socket_and_member_document);
    tcase_add_test(tc, many_events_stay_fast);
    suite_add_tcase(s, tc);
    tc = tcase_create("documents");
    tcase_add_test(tc, document_access_per_process);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(chain_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
