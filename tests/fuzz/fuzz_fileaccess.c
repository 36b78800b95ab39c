/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the file access channel on the host
 * (collectors/fileaccess.c, collectors/chain.c): the bytes of a
 * file-access.jsonl whose "msg" objects a hostile guest wrote. The input
 * goes to the loader, then line by line to the live monitor (a line that is
 * a host record feeds its "msg"), and the loaded log to the chain builder.
 * The first byte picks the limits (odd: tiny ones, so truncation runs) and
 * the monitor's clock step; the rest is copied into its own allocation so
 * ASan sees over-reads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/chain.h"
#include "collectors/fileaccess.h"

#define DOC "/home/user/Documents/minutes.txt"

static const char registry_text[] =
    "{\"tokens\":[{\"token\":\"AVTB-7f3a9c1e5b2d\",\"document\":\"" DOC "\"},"
    "{\"token\":\"AVTB-00000000other\",\"document\":\"/home/user/x.zip\"}]}";
static const char forensics_text[] =
    "{\"format\":1,\"documents\":[{\"path\":\"" DOC "\",\"state\":\"read\"}],"
    "\"files\":[{\"path\":\"/var/tmp/.stage/b1.tar.gz\",\"kind\":\"archive\","
    "\"tokens\":[{\"token\":\"AVTB-7f3a9c1e5b2d\",\"document\":\"" DOC "\"}]}]}";

static void monitor_line(avtb_fa_monitor *m, const uint8_t *line, size_t len, double now)
{
    json_t *o = json_loadb((const char *)line, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *inner = json_object_get(o, "msg");
    json_t *msg = json_is_object(inner) ? inner : o;
    const char *type = json_string_value(json_object_get(msg, "type"));

    if (json_is_object(msg) && type != NULL)
        avtb_fa_monitor_msg(m, type, msg, now);
    else
        avtb_fa_monitor_anomaly(m, now);
    json_decref(o);
}

static void run_monitor(const uint8_t *data, size_t size, double step)
{
    avtb_fa_monitor *m = avtb_fa_monitor_new();
    double now = 1795699861.0;
    char **problems = NULL;
    size_t n;
    json_t *j;

    if (m == NULL)
        return;
    while (size > 0) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t len = nl ? (size_t)(nl - data) : size;

        monitor_line(m, data, len, now);
        avtb_fa_monitor_tick(m, now);
        now += step;
        data += len + (nl != NULL);
        size -= len + (nl != NULL);
    }
    avtb_fa_monitor_end(m, now, false);
    j = avtb_fa_monitor_json(m);
    json_decref(j);
    n = avtb_fa_monitor_problems(m, &problems);
    for (size_t i = 0; i < n; i++)
        free(problems[i]);
    free(problems);
    (void)avtb_fa_monitor_notice(m);
    avtb_fa_monitor_free(m);
}

static void run_chains(const avtb_fa_log *log)
{
    json_t *reg = json_loads(registry_text, 0, NULL);
    json_t *forensics = json_loads(forensics_text, 0, NULL);
    avtb_findings fs = {0};
    avtb_finding f = {.token = "AVTB-7f3a9c1e5b2d",
                      .kind = AVTB_FINDING_CONTENT,
                      .protocol = "http",
                      .capture = "capture.pcapng",
                      .flow = 6,
                      .time = 1795699865.0,
                      .src = {.ip = "10.0.2.15", .port = 40000},
                      .dst = {.ip = "198.51.100.7", .port = 80}};
    json_t *out;

    if (avtb_findings_add(&fs, &f) == AVTB_OK) {
        f.flow = 0;
        f.protocol = "dns";
        f.src.port = 5353;
        (void)avtb_findings_add(&fs, &f);
    }
    out = avtb_chains_build(&fs, log, NULL, reg);
    json_decref(out);
    out = avtb_chains_build(&fs, log, forensics, reg);
    json_decref(out);
    out = avtb_fa_document_access(log, reg);
    json_decref(out);
    avtb_findings_clear(&fs);
    json_decref(forensics);
    json_decref(reg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    avtb_fa_log_limits tiny = {.max_lines = 64, .max_line = 512, .max_events = 8, .max_sockets = 4};
    avtb_error err = {0};
    avtb_fa_log *log = NULL;
    uint8_t *copy;
    uint8_t flags;

    if (size < 1)
        return 0;
    flags = data[0];
    data++;
    size--;
    copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    if (avtb_fa_log_parse(copy, size, (flags & 1) ? &tiny : NULL, &log, &err) == AVTB_OK) {
        run_chains(log);
        avtb_fa_log_free(log);
    }
    run_monitor(copy, size, (double)(flags >> 1) / 4.0);
    free(copy);
    return 0;
}
