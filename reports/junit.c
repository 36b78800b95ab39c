/* SPDX-License-Identifier: Apache-2.0 */
/*
 * junit.xml from report.json's object (see junit.h and reports/FORMATS.md).
 * Hand-written XML: the escaping below is the whole of what a writer needs,
 * and guest-chosen strings (hosts, paths, reasons) all pass through it.
 */
#include "reports/junit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static const char *js(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* One UTF-8 sequence at s; its code point in *cp, its length returned; 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    size_t n;
    uint32_t c, min;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0)
        n = 2, c = s[0] & 0x1f, min = 0x80;
    else if ((s[0] & 0xf0) == 0xe0)
        n = 3, c = s[0] & 0x0f, min = 0x800;
    else if ((s[0] & 0xf8) == 0xf0)
        n = 4, c = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* XML 1.0's Char production. */
static bool xml_char(uint32_t c)
{
    return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
           (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

void avtb_junit_escape(avtb_buf *b, const char *s, bool attr)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");

    while (*p != '\0') {
        uint32_t c = 0;
        size_t n = utf8_decode(p, &c);

        if (n == 0 || !xml_char(c)) {
            avtb_buf_str(b, "\xef\xbf\xbd"); /* U+FFFD */
            p += n ? n : 1;
            continue;
        }
        switch (c) {
        case '&':
            avtb_buf_str(b, "&amp;");
            break;
        case '<':
            avtb_buf_str(b, "&lt;");
            break;
        case '>': /* also keeps "]]>" out of character data */
            avtb_buf_str(b, "&gt;");
            break;
        case '"':
            avtb_buf_str(b, attr ? "&quot;" : "\"");
            break;
        case '\r': /* a parser turns a literal CR into LF */
            avtb_buf_str(b, "&#13;");
            break;
        case '\t':
        case '\n':
            if (attr)
                avtb_buf_printf(b, "&#%u;", (unsigned)c);
            else
                avtb_buf_byte(b, (char)c);
            break;
        default:
            avtb_buf_add(b, p, n);
        }
        p += n;
    }
}

static void attr(avtb_buf *b, const char *name, const char *value)
{
    avtb_buf_printf(b, " %s=\"", name);
    avtb_junit_escape(b, value, true);
    avtb_buf_byte(b, '"');
}

/* "host [ip]:port" of a finding's "dst". */
static void dst_text(avtb_buf *b, json_t *dst)
{
    const char *host = js(dst, "host"), *ip = js(dst, "ip");
    bool v6 = ip != NULL && strchr(ip, ':') != NULL;

    avtb_buf_printf(b, "%s%s%s%s%s:%lld", host ? host : "", host ? " " : "", v6 ? "[" : "",
                    ip ? ip : "?", v6 ? "]" : "",
                    (long long)json_integer_value(json_object_get(dst, "port")));
}

/* A line for a person about one finding (the shape of the terminal summary). */
static void finding_line(avtb_buf *b, json_t *f)
{
    const char *kind = js(f, "kind"), *proto = js(f, "protocol");
    json_t *enc = json_object_get(f, "encoding"), *e;
    size_t i;

    if (kind != NULL && strcmp(kind, "suspected") == 0) {
        avtb_buf_printf(b, "suspected: %s to ", proto ? proto : "?");
        dst_text(b, json_object_get(f, "dst"));
        avtb_buf_printf(b, ": %s", js(f, "reason") ? js(f, "reason") : "unreadable upload");
    } else {
        avtb_buf_printf(b, "%s: token %s (%s) sent over %s to ", kind ? kind : "finding",
                        js(f, "token") ? js(f, "token") : "?",
                        js(f, "document") ? js(f, "document") : "unknown document",
                        proto ? proto : "?");
        dst_text(b, json_object_get(f, "dst"));
    }
    json_array_foreach(enc, i, e)
    {
        avtb_buf_str(b, i == 0 ? " as " : "/");
        avtb_buf_str(b, json_string_value(e) ? json_string_value(e) : "?");
    }
    avtb_buf_byte(b, '\n');
}

/* Finding lines, as text, of the findings whose kind is or is not "suspected". */
static void findings_text(avtb_buf *out, json_t *report, bool suspected)
{
    avtb_buf b = {0};
    json_t *f;
    size_t i;

    json_array_foreach(json_object_get(report, "findings"), i, f)
    {
        const char *kind = js(f, "kind");

        if ((kind != NULL && strcmp(kind, "suspected") == 0) == suspected)
            finding_line(&b, f);
    }
    json_array_foreach(json_object_get(report, "chains"), i, f)
    {
        if (!suspected && js(f, "summary") != NULL)
            avtb_buf_printf(&b, "chain: %s\n", js(f, "summary"));
    }
    avtb_junit_escape(out, b.p ? (char *)b.p : "", false);
    avtb_buf_free(&b);
}

static void testcase(avtb_buf *b, json_t *report, json_t *e, const char *classname)
{
    const char *result = js(e, "result") ? js(e, "result") : "undecided";
    long long nf = json_integer_value(json_object_get(e, "findings"));
    long long ns = json_integer_value(json_object_get(e, "suspected"));
    char msg[256];

    avtb_buf_str(b, "    <testcase");
    attr(b, "classname", classname);
    attr(b, "name", js(e, "name") ? js(e, "name") : "?");
    avtb_buf_str(b, " time=\"0\"");
    if (strcmp(result, "held") == 0) {
        avtb_buf_str(b, "/>\n");
        return;
    }
    avtb_buf_str(b, ">\n");
    if (strcmp(result, "failed") == 0) {
        snprintf(msg, sizeof(msg), "%s failed: %lld finding%s contradict%s it", js(e, "name"), nf,
                 nf == 1 ? "" : "s", nf == 1 ? "s" : "");
        avtb_buf_str(b, "      <failure");
        attr(b, "message", msg);
        attr(b, "type", js(report, "verdict") ? js(report, "verdict") : "failed");
        avtb_buf_str(b, ">");
        findings_text(b, report, false);
        avtb_buf_str(b, "</failure>\n");
    } else if (strcmp(result, "suspected") == 0) {
        snprintf(
            msg, sizeof(msg),
            "%s cannot be shown to hold: %lld suspected finding%s (uploads avtb could not read)",
            js(e, "name"), ns, ns == 1 ? "" : "s");
        avtb_buf_str(b, "      <failure");
        attr(b, "message", msg);
        attr(b, "type", "suspected");
        avtb_buf_str(b, ">");
        findings_text(b, report, true);
        avtb_buf_str(b, "</failure>\n");
    } else {
        /* Undecided, or a result this writer does not know: not a pass either way. */
        json_t *why = json_object_get(report, "incomplete_reasons"), *v;
        avtb_buf text = {0};
        size_t i;

        snprintf(msg, sizeof(msg), "%s %s: the evidence is incomplete", js(e, "name"), result);
        json_array_foreach(why, i, v)
        {
            avtb_buf_printf(&text, "incomplete: %s\n", json_string_value(v) ?: "?");
        }
        avtb_buf_str(b, "      <error");
        attr(b, "message", msg);
        attr(b, "type", "incomplete");
        avtb_buf_str(b, ">");
        avtb_junit_escape(b, text.p ? (char *)text.p : "", false);
        avtb_buf_free(&text);
        avtb_buf_str(b, "</error>\n");
    }
    avtb_buf_str(b, "    </testcase>\n");
}

static void property(avtb_buf *b, const char *name, const char *value)
{
    avtb_buf_str(b, "      <property");
    attr(b, "name", name);
    attr(b, "value", value ? value : "");
    avtb_buf_str(b, "/>\n");
}

/* The verdict, why the evidence is incomplete, notices and findings. */
static void system_out(avtb_buf *b, json_t *report)
{
    avtb_buf t = {0};
    json_t *v;
    size_t i;

    avtb_buf_printf(&t, "verdict: %s%s\n", js(report, "verdict") ? js(report, "verdict") : "?",
                    json_is_false(json_object_get(report, "complete")) ? " (evidence incomplete)"
                                                                       : "");
    json_array_foreach(json_object_get(report, "incomplete_reasons"), i, v)
    {
        avtb_buf_printf(&t, "incomplete: %s\n", json_string_value(v) ?: "?");
    }
    json_array_foreach(json_object_get(report, "notices"), i, v)
    {
        avtb_buf_printf(&t, "note: %s\n", json_string_value(v) ?: "?");
    }
    json_array_foreach(json_object_get(report, "findings"), i, v)
    {
        finding_line(&t, v);
    }
    json_array_foreach(json_object_get(report, "chains"), i, v)
    {
        if (js(v, "summary") != NULL)
            avtb_buf_printf(&t, "chain: %s\n", js(v, "summary"));
    }
    json_array_foreach(json_object_get(report, "expectations"), i, v)
    {
        avtb_buf_printf(&t, "expectation %s: %s\n", js(v, "name") ?: "?", js(v, "result") ?: "?");
    }
    avtb_buf_printf(&t, "run: %s\n", js(report, "run_id") ?: "?");
    avtb_buf_str(b, "    <system-out>");
    avtb_junit_escape(b, t.p ? (char *)t.p : "", false);
    avtb_buf_free(&t);
    avtb_buf_str(b, "</system-out>\n");
}

bool avtb_junit_timestamp(const char *rfc3339, char out[20])
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";

    if (rfc3339 == NULL || strlen(rfc3339) < sizeof(shape) - 1)
        return false;
    for (size_t i = 0; i < sizeof(shape) - 1; i++)
        if (shape[i] == 'd' ? (rfc3339[i] < '0' || rfc3339[i] > '9') : rfc3339[i] != shape[i])
            return false;
    memcpy(out, rfc3339, sizeof(shape) - 1);
    out[sizeof(shape) - 1] = '\0';
    return true;
}

char *avtb_junit_xml(json_t *report)
{
    json_t *scen = json_object_get(report, "scenario"), *prod = json_object_get(report, "product");
    json_t *exps = json_object_get(report, "expectations"), *v;
    const char *sname = js(scen, "name") ? js(scen, "name") : "unknown";
    size_t i, tests = 0, failures = 0, errors = 0;
    char *classname = NULL, *suite = NULL, *product = NULL, ts[20];
    const char *image = js(json_object_get(report, "guest"), "image");
    double seconds = 0;
    avtb_buf b = {0};
    bool ok;

    json_array_foreach(exps, i, v)
    {
        const char *res = js(v, "result") ? js(v, "result") : "undecided";

        tests++;
        if (strcmp(res, "failed") == 0 || strcmp(res, "suspected") == 0)
            failures++;
        else if (strcmp(res, "held") != 0)
            errors++;
    }
    json_array_foreach(json_object_get(report, "phases"), i, v)
    {
        seconds += json_number_value(json_object_get(v, "seconds"));
    }
    if (asprintf(&classname, "avtb.%s", sname) < 0)
        classname = NULL;
    if (asprintf(&product, "%s %s", js(prod, "name") ?: "?", js(prod, "version") ?: "?") < 0)
        product = NULL;
    if (product != NULL && asprintf(&suite, "%s (%s)", sname, product) < 0)
        suite = NULL;
    ok = classname != NULL && suite != NULL;
    if (!ok)
        goto out;

    avtb_buf_str(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
    attr(&b, "name", "avtb");
    avtb_buf_printf(&b, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n", tests,
                    failures, errors, seconds);
    avtb_buf_str(&b, "  <testsuite");
    attr(&b, "name", suite);
    avtb_buf_printf(&b,
                    " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\" time=\"%.3f\"",
                    tests, failures, errors, seconds);
    if (avtb_junit_timestamp(js(report, "started"), ts))
        attr(&b, "timestamp", ts);
    attr(&b, "hostname", image ? image : "avtb");
    attr(&b, "id", js(report, "run_id") ? js(report, "run_id") : "");
    attr(&b, "package", "avtb");
    avtb_buf_str(&b, ">\n    <properties>\n");
    property(&b, "run_id", js(report, "run_id"));
    property(&b, "scenario", sname);
    property(&b, "product", product);
    property(&b, "vendor", js(prod, "vendor"));
    property(&b, "vendor_country", js(prod, "vendor_country"));
    property(&b, "verdict", js(report, "verdict"));
    property(&b, "complete", json_is_true(json_object_get(report, "complete")) ? "true" : "false");
    property(&b, "avtb_version", js(report, "avtb_version"));
    avtb_buf_str(&b, "    </properties>\n");
    json_array_foreach(exps, i, v)
    {
        testcase(&b, report, v, classname);
    }
    system_out(&b, report);
    avtb_buf_str(&b, "  </testsuite>\n</testsuites>\n");
out:
    free(classname);
    free(suite);
    free(product);
    if (!ok) {
        avtb_buf_free(&b);
        return NULL;
    }
    return avtb_buf_take(&b);
}

avtb_err avtb_report_write_junit(json_t *report, const char *dir, avtb_error *err)
{
    avtb_err ret = AVTB_ERR_NOMEM;
    char *text = avtb_junit_xml(report), *path = avtb_path_join(dir, "junit.xml");

    if (text == NULL || path == NULL) {
        avtb_error_set(err, ret, "out of memory building %s/junit.xml", dir);
        goto out;
    }
    ret = avtb_write_file(path, text, strlen(text), 0644, err);
out:
    free(text);
    free(path);
    return ret;
}
