/* SPDX-License-Identifier: Apache-2.0 */
/* report.json writer (jansson) and terminal summary; see report.h. */
#include "reports/report.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/util.h"

static json_t *endpoint_json(const avtb_endpoint *e)
{
    json_t *o = json_pack("{s:s, s:i}", "ip", e->ip, "port", (int)e->port);

    if (o != NULL)
        json_object_set_new(o, "host", e->host ? json_string(e->host) : json_null());
    return o;
}

static const char *doc_of_token(const avtb_report *r, const char *token)
{
    if (token == NULL)
        return NULL;
    /* A generated document carries several tokens (body, metadata, beacon). */
    for (size_t i = 0; i < r->ndocs; i++)
        for (size_t j = 0; j < r->docs[i]->ntokens; j++)
            if (strcmp(r->docs[i]->tokens[j].token, token) == 0)
                return r->docs[i]->guest_path;
    return NULL;
}

json_t *avtb_finding_json(const avtb_finding *f)
{
    json_t *enc = json_array();
    json_t *o;

    if (enc != NULL && f->encoding != NULL) {
        char *copy = strdup(f->encoding), *save = NULL;

        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(enc, json_string(t));
        free(copy);
    }
    o = json_pack("{s:s?, s:s, s:o, s:s, s:o, s:o, s:s?, s:I, s:f, s:I, s:I}", "token", f->token,
                  "kind", avtb_finding_kind_name(f->kind), "encoding", enc, "protocol",
                  f->protocol ? f->protocol : "", "dst", endpoint_json(&f->dst), "src",
                  endpoint_json(&f->src), "capture", f->capture, "flow", (json_int_t)f->flow,
                  "time", f->time, "bytes", (json_int_t)f->bytes, "offset", (json_int_t)f->offset);
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "document", f->document ? json_string(f->document) : json_null());
    if (f->member != NULL)
        json_object_set_new(o, "member", json_string(f->member));
    if (f->reason != NULL)
        json_object_set_new(o, "reason", json_string(f->reason));
    return o;
}

json_t *avtb_findings_json(const avtb_findings *f)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < f->count; i++) {
        json_t *o = avtb_finding_json(&f->items[i]);

        if (o == NULL || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *attempts_json(const avtb_analysis *a)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < a->nattempts; i++) {
        const avtb_attempt *x = &a->attempts[i];
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:f, s:f, s:b}", "protocol",
                              avtb_attempt_proto_name(x->proto), "dst", x->dst_ip, "packets",
                              (json_int_t)x->packets, "bytes", (json_int_t)x->bytes, "first_time",
                              x->first_time, "last_time", x->last_time, "to_sink", x->to_sink);

        if (o == NULL) {
            json_decref(arr);
            return NULL;
        }
        switch (x->proto) {
        case AVTB_ATTEMPT_TCP:
        case AVTB_ATTEMPT_UDP:
            json_object_set_new(o, "port", json_integer(x->port));
            break;
        case AVTB_ATTEMPT_ICMP:
        case AVTB_ATTEMPT_ICMPV6:
            /* 0xffff: a fragment, whose type is in another packet. */
            json_object_set_new(o, "icmp_type",
                                x->port <= 255 ? json_integer(x->port) : json_null());
            break;
        case AVTB_ATTEMPT_OTHER:
            json_object_set_new(o, "ip_proto", json_integer(x->ip_proto));
            break;
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

void avtb_analysis_json_into(json_t *root, const avtb_analysis *a)
{
    json_object_set_new(root, "attempts", attempts_json(a));
    json_object_set_new(root, "attempts_limit", json_integer((json_int_t)a->attempts_cap));
    json_object_set_new(root, "attempts_dropped_packets",
                        json_integer((json_int_t)a->attempts_dropped));
    json_object_set_new(root, "sink", a->sink_ip ? json_string(a->sink_ip) : json_null());
    json_object_set_new(root, "tls",
                        json_pack("{s:I, s:I, s:b}", "intercepted", (json_int_t)a->tls_intercepted,
                                  "rejected", (json_int_t)a->tls_rejected, "plaintext_analysed",
                                  a->plaintext));
}

static json_t *findings_json(const avtb_report *r)
{
    json_t *arr = json_array();
    avtb_judgement j;

    for (size_t i = 0; arr != NULL && i < r->findings->count; i++) {
        const avtb_finding *f = &r->findings->items[i];
        json_t *o = avtb_finding_json(f);

        if (o == NULL) {
            json_decref(arr);
            return NULL;
        }
        if (f->document == NULL) {
            const char *doc = doc_of_token(r, f->token);

            json_object_set_new(o, "document", doc ? json_string(doc) : json_null());
        }
        avtb_verdict_judge(r->scenario, f, &j);
        json_object_set_new(o, "policy",
                            json_pack("{s:s, s:b, s:o, s:s}", "data", avtb_data_class_name(j.data),
                                      "allowed", j.allowed, "rule",
                                      j.allowed ? json_integer((json_int_t)j.rule) : json_null(),
                                      "severity", avtb_severity_name(j.severity)));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* The scenario's policy as it was applied: {"allow": [{"hosts", "data"}], "severity": {...}}. */
static json_t *policy_json(const avtb_scenario *s)
{
    json_t *allow = json_array(), *sev = json_object();

    for (size_t i = 0; allow != NULL && i < s->nallows; i++) {
        json_t *hosts = json_array(), *data = json_array();

        for (size_t k = 0; hosts != NULL && k < s->allows[i].nhosts; k++)
            json_array_append_new(hosts, json_string(s->allows[i].hosts[k]));
        for (unsigned b = 0; data != NULL && b < AVTB_DATA_CLASSES; b++)
            if (s->allows[i].data & (1u << b))
                json_array_append_new(data, json_string(avtb_data_class_name(1u << b)));
        json_array_append_new(allow, json_pack("{s:o, s:o}", "hosts", hosts, "data", data));
    }
    for (unsigned b = 0; sev != NULL && b < AVTB_DATA_CLASSES; b++)
        json_object_set_new(sev, avtb_data_class_name(1u << b),
                            json_string(avtb_severity_name(s->severity[b])));
    return json_pack("{s:o, s:o}", "allow", allow, "severity", sev);
}

json_t *avtb_report_json(const avtb_report *r)
{
    const avtb_scenario *s = r->scenario;
    const avtb_product *p = s->product;
    json_t *docs = json_array(), *exps = json_array(), *phases = json_array(),
           *reasons = json_array();
    json_t *root;

    for (size_t i = 0; i < r->ndocs; i++)
        json_array_append_new(docs,
                              json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "path",
                                        r->docs[i]->guest_path, "token", r->docs[i]->token, "size",
                                        (json_int_t)r->docs[i]->len, "md5", r->docs[i]->md5, "sha1",
                                        r->docs[i]->sha1, "sha256", r->docs[i]->sha256));
    for (size_t i = 0; i < s->nexpects; i++) {
        const avtb_expect_result *e = &r->results[i];

        json_array_append_new(
            exps, json_pack("{s:s, s:s, s:I, s:I}", "name", avtb_expect_name(e->expect), "result",
                            avtb_expect_result_name(e), "findings", (json_int_t)e->nfindings,
                            "suspected", (json_int_t)e->nsuspected));
    }
    for (size_t i = 0; i < r->nphases; i++)
        json_array_append_new(phases, json_pack("{s:s, s:f}", "name", r->phases[i].name, "seconds",
                                                r->phases[i].seconds));
    for (size_t i = 0; i < r->nreasons; i++)
        json_array_append_new(reasons, json_string(r->reasons[i]));

    root = json_pack(
        "{s:i, s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s}, "
        "s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:i}",
        "format", AVTB_REPORT_FORMAT, "avtb_version", AVTB_VERSION, "run_id", r->run_id, "scenario",
        "name", s->name, "file", s->file, "description", s->description ? s->description : "",
        "product", "name", p->name, "vendor", p->vendor, "version", p->version, "vendor_country",
        p->vendor_country, "directory", p->dir, "guest", "image", r->image ? r->image : s->guest,
        "accel", r->accel ? r->accel : "unknown", "started", r->started ? r->started : "",
        "finished", r->finished ? r->finished : "", "verdict", avtb_verdict_name(r->verdict),
        "complete", r->complete, "incomplete_reasons", reasons, "expectations", exps, "documents",
        docs, "findings", findings_json(r), "phases", phases, "exit_code", r->exit_code);
    if (root == NULL)
        return NULL;
    if (r->analysis != NULL)
        avtb_analysis_json_into(root, r->analysis);
    json_object_set_new(root, "policy", policy_json(s));
    json_object_set_new(root, "severity",
                        json_string(avtb_severity_name(avtb_verdict_severity(s, r->findings))));
    json_object_set_new(root, "platform",
                        json_pack("{s:s?, s:s?}", "libvirt", r->libvirt, "qemu", r->qemu));
    if (r->nnotices > 0) {
        json_t *notices = json_array();

        for (size_t i = 0; notices != NULL && i < r->nnotices; i++)
            json_array_append_new(notices, json_string(r->notices[i]));
        json_object_set_new(root, "notices", notices);
    }
    if (r->file_access != NULL)
        json_object_set(root, "file_access", r->file_access);
    if (r->document_access != NULL)
        json_object_set(root, "document_access", r->document_access);
    if (r->forensics != NULL)
        json_object_set(root, "forensics", r->forensics);
    if (r->chains != NULL)
        json_object_set(root, "chains", r->chains);
    return root;
}

/* A line per chain, from its summary; then what forensics found beyond them. */
static void print_file_evidence(const avtb_report *r, FILE *fp)
{
    const char *status = json_string_value(json_object_get(r->file_access, "status"));
    json_t *files = json_object_get(r->forensics, "files");
    size_t i;
    json_t *v;

    if (status != NULL)
        fprintf(fp, "  file access: %s\n", status);
    for (i = 0; i < r->nnotices; i++)
        fprintf(fp, "  note: %s\n", r->notices[i]);
    json_array_foreach(r->chains, i, v)
    {
        const char *sum = json_string_value(json_object_get(v, "summary"));

        if (sum != NULL)
            fprintf(fp, "  chain: %s\n", sum);
    }
    json_array_foreach(files, i, v)
    {
        const char *path = json_string_value(json_object_get(v, "path"));
        const char *kind = json_string_value(json_object_get(v, "kind"));
        size_t n = json_array_size(json_object_get(v, "tokens"));

        fprintf(fp, "  forensics: %s (%s) holds %zu token%s\n", path ? path : "?",
                kind ? kind : "file", n, n == 1 ? "" : "s");
    }
    json_array_foreach(json_object_get(r->forensics, "documents"), i, v)
    {
        const char *state = json_string_value(json_object_get(v, "state"));

        if (state != NULL && strcmp(state, "unchanged") != 0 && strcmp(state, "read") != 0)
            fprintf(fp, "  forensics: %s %s\n",
                    json_string_value(json_object_get(v, "path")) ?: "?", state);
    }
}

avtb_err avtb_report_write_root(json_t *root, const char *dir, avtb_error *err)
{
    avtb_err ret = AVTB_ERR_NOMEM;
    char *text = NULL, *path = NULL;

    if (root == NULL)
        goto out;
    text = json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(17));
    path = avtb_path_join(dir, "report.json");
    if (text == NULL || path == NULL)
        goto out;
    ret = avtb_write_file(path, text, strlen(text), 0644, err);
out:
    if (ret == AVTB_ERR_NOMEM)
        avtb_error_set(err, ret, "out of memory building report.json");
    free(text);
    free(path);
    return ret;
}

avtb_err avtb_report_write_json(const avtb_report *r, const char *dir, avtb_error *err)
{
    json_t *root = avtb_report_json(r);
    avtb_err ret = avtb_report_write_root(root, dir, err);

    json_decref(root);
    return ret;
}

void avtb_report_print_summary(const avtb_report *r, const char *dir, FILE *fp)
{
    const avtb_scenario *s = r->scenario;
    avtb_judgement j;

    fprintf(fp, "\nscenario %s, product %s %s (%s, %s)\n", s->name, s->product->name,
            s->product->version, s->product->vendor, s->product->vendor_country);
    fprintf(fp, "verdict: %s%s\n", avtb_verdict_name(r->verdict),
            r->complete ? "" : " (evidence incomplete)");
    for (size_t i = 0; i < r->nreasons; i++)
        fprintf(fp, "  incomplete: %s\n", r->reasons[i]);
    for (size_t i = 0; i < r->findings->count; i++) {
        const avtb_finding *f = &r->findings->items[i];
        const char *doc = doc_of_token(r, f->token);

        if (f->kind == AVTB_FINDING_SUSPECTED) {
            fprintf(fp, "  SUSPECTED: %s to %s%s%s:%u: %s\n", f->protocol,
                    f->dst.host ? f->dst.host : "", f->dst.host ? " " : "", f->dst.ip, f->dst.port,
                    f->reason ? f->reason : "unreadable upload");
            continue;
        }
        avtb_verdict_judge(s, f, &j);
        fprintf(fp, "  %s: token %s (%s) sent over %s to %s%s%s:%u%s\n",
                f->kind == AVTB_FINDING_CONTENT ? "content" : "metadata", f->token,
                doc ? doc : "unknown document", f->protocol, f->dst.host ? f->dst.host : "",
                f->dst.host ? " " : "", f->dst.ip, f->dst.port,
                j.allowed ? " (allowed by the policy)" : "");
    }
    print_file_evidence(r, fp);
    if (r->analysis != NULL && r->analysis->nattempts > 0) {
        const avtb_analysis *a = r->analysis;
        size_t shown = a->nattempts < 20 ? a->nattempts : 20;

        fprintf(fp, "  the guest tried to reach %zu destination%s:\n", a->nattempts,
                a->nattempts == 1 ? "" : "s");
        for (size_t i = 0; i < shown; i++)
            fprintf(fp, "    %-6s %s %u: %llu packets%s\n",
                    avtb_attempt_proto_name(a->attempts[i].proto), a->attempts[i].dst_ip,
                    (unsigned)a->attempts[i].port, (unsigned long long)a->attempts[i].packets,
                    a->attempts[i].to_sink ? " (the sink)" : "");
        if (shown < a->nattempts)
            fprintf(fp, "    ... %zu more in report.json\n", a->nattempts - shown);
    }
    for (size_t i = 0; i < s->nexpects; i++) {
        const char *res = avtb_expect_result_name(&r->results[i]);

        fprintf(fp, "expectation %s: %s\n", avtb_expect_name(r->results[i].expect),
                strcmp(res, "failed") == 0      ? "FAILED"
                : strcmp(res, "suspected") == 0 ? "SUSPECTED (cannot be shown to hold)"
                                                : res);
    }
    fprintf(fp, "report: %s/report.html (report.json, junit.xml, stix-bundle.json beside it)\n",
            dir);
}

/*
 * A destination name without the labels that carry data: DNS tunnelling
 * and beacon names put the (fresh every run) token or its encoding in the
 * name itself. A label of 16 characters or more, or one holding "avtb",
 * becomes "*": "4d69...4d4e.3335...5a2.f1.t.tunnel.example" and the next
 * run's name both read "*.*.f1.t.tunnel.example".
 */
static char *stable_host(const char *host)
{
    size_t len = strlen(host);
    char *out = malloc(len + 1), *w = out;
    const char *p = host;

    if (out == NULL)
        return NULL;
    while (*p != '\0') {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        bool data = n >= 16;

        for (size_t i = 0; !data && i + 4 <= n; i++)
            data = strncasecmp(p + i, "avtb", 4) == 0;
        if (data) {
            *w++ = '*';
        } else {
            memcpy(w, p, n);
            w += n;
        }
        p += n;
        if (*p == '.')
            *w++ = *p++;
    }
    *w = '\0';
    return out;
}

char *avtb_report_finding_key(json_t *f)
{
    json_t *dst = json_object_get(f, "dst"), *enc = json_object_get(f, "encoding"), *v;
    const char *name = json_string_value(json_object_get(dst, "host"));
    char *key = NULL, *encs = strdup(""), *host = name ? stable_host(name) : NULL;
    size_t i;

    if (name != NULL && host == NULL) {
        free(encs);
        return NULL;
    }

    json_array_foreach(enc, i, v)
    {
        char *next = NULL;

        if (encs == NULL ||
            asprintf(&next, "%s%s%s", encs, i ? "," : "", json_string_value(v) ?: "?") < 0) {
            free(encs);
            free(host);
            return NULL;
        }
        free(encs);
        encs = next;
    }
    if (encs != NULL &&
        asprintf(&key, "%s %s to %s:%lld over %s%s%s (%s)",
                 json_string_value(json_object_get(f, "kind")) ?: "?",
                 json_string_value(json_object_get(f, "document")) ?: "(no document)",
                 host ? host : json_string_value(json_object_get(dst, "ip")) ?: "?",
                 (long long)json_integer_value(json_object_get(dst, "port")),
                 json_string_value(json_object_get(f, "protocol")) ?: "?", encs[0] ? " as " : "",
                 encs, json_is_false(json_object_get(json_object_get(f, "policy"), "allowed"))
                           ? "violation"
                           : json_is_true(json_object_get(json_object_get(f, "policy"), "allowed"))
                                 ? "allowed"
                                 : "unjudged") < 0)
        key = NULL;
    free(encs);
    free(host);
    return key;
}
