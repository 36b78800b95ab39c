/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report.html writer; see html.h. The page is built in one growable buffer
 * (common/buf.h) by one function per section, every guest-controlled string
 * through esc(), and written with avtb_write_file at the end.
 */
#include "reports/html.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/buf.h"
#include "common/util.h"

/* Most files listed under "Evidence files". */
#define EVIDENCE_FILES_MAX 500
/* Destinations listed before "N more". */
#define DESTS_MAX 1000

/* ---- small helpers over the report object ---- */

static const char *js(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static double jnum(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    return json_is_number(v) ? json_number_value(v) : NAN;
}

static long long jint(json_t *o, const char *key, long long dflt)
{
    json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

static bool streq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Seconds since the epoch from "YYYY-MM-DDTHH:MM:SS(.fff)Z"; NAN otherwise. */
static double rfc3339(const char *s)
{
    struct tm tm = {0};
    int n = 0;
    double frac = 0, scale = 0.1;

    if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
        return NAN;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    s += n;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
            frac += (*s - '0') * scale;
    if (*s != 'Z')
        return NAN;
    return (double)timegm(&tm) + frac;
}

/* "13:51:12.543" (UTC) into out[16]; "—" when t is not a time. */
static const char *clock_of(double t, char out[16])
{
    struct tm tm;
    long long ms;
    time_t sec;

    if (!isfinite(t) || t < 0 || t > 1e11) {
        snprintf(out, 16, "\u2014");
        return out;
    }
    ms = (long long)(t * 1000 + 0.5); /* t >= 0 */
    sec = (time_t)(ms / 1000);
    gmtime_r(&sec, &tm);
    snprintf(out, 16, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return out;
}

/* The last path component, for short mentions of a document. */
static const char *base_name(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;

    return slash && slash[1] ? slash + 1 : path;
}

/* ---- the escaping writer ---- */

/*
 * Text and attribute values: & < > " ' escaped; control bytes and the
 * Unicode direction overrides (which could make a hostile path read as
 * another) shown as visible escapes instead of acting.
 */
void avtb_html_escape(avtb_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");

    for (; *p; p++) {
        switch (*p) {
        case '&':
            avtb_buf_str(b, "&amp;");
            continue;
        case '<':
            avtb_buf_str(b, "&lt;");
            continue;
        case '>':
            avtb_buf_str(b, "&gt;");
            continue;
        case '"':
            avtb_buf_str(b, "&quot;");
            continue;
        case '\'':
            avtb_buf_str(b, "&#39;");
            continue;
        default:
            break;
        }
        if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f) {
            avtb_buf_printf(b, "\\x%02x", *p);
        } else if (p[0] == 0xe2 && p[1] == 0x80 && p[2] >= 0x8e && p[2] <= 0xae &&
                   (p[2] <= 0x8f || p[2] >= 0xaa)) {
            avtb_buf_printf(b, "[U+20%02X]", p[2] - 0x80);
            p += 2;
        } else if (p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9) {
            avtb_buf_printf(b, "[U+20%02X]", p[2] - 0x80 + 0x40);
            p += 2;
        } else {
            avtb_buf_byte(b, (char)*p);
        }
    }
}

static void esc(avtb_buf *b, const char *s)
{
    avtb_html_escape(b, s);
}

/* printf, then escaped. */
static void AVTB_PRINTF(2, 3) escf(avtb_buf *b, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->fail = AVTB_BUF_NOMEM;
        return;
    }
    esc(b, s);
    free(s);
}

/* An href to a file of the evidence directory: relative, percent-encoded. */
static void href(avtb_buf *b, const char *rel)
{
    for (const unsigned char *p = (const unsigned char *)rel; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/", *p) != NULL)
            avtb_buf_byte(b, (char)*p);
        else
            avtb_buf_printf(b, "%%%02X", *p);
    }
}

/* Only names inside the evidence directory are linked. */
static bool safe_rel(const char *rel)
{
    if (rel == NULL || rel[0] == '\0' || rel[0] == '/' || strstr(rel, "..") != NULL)
        return false;
    return strchr(rel, ':') == NULL; /* no scheme */
}

/* An evidence reference ("file-access.jsonl:25", "forensics.json#/files/0",
 * "capture.pcapng flow 4") linked to its file when it names one. */
static void evidence_ref(avtb_buf *b, const char *ref)
{
    size_t n = strcspn(ref, ":# ");
    char *file = strndup(ref, n);

    if (file != NULL && safe_rel(file) && strchr(file, '.') != NULL) {
        avtb_buf_str(b, "<a href=\"");
        href(b, file);
        avtb_buf_str(b, "\"><code>");
        esc(b, ref);
        avtb_buf_str(b, "</code></a>");
    } else {
        avtb_buf_str(b, "<code>");
        esc(b, ref);
        avtb_buf_str(b, "</code>");
    }
    free(file);
}

static void evidence_refs(avtb_buf *b, json_t *arr)
{
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v))
            continue;
        if (i > 0)
            avtb_buf_str(b, " ");
        evidence_ref(b, json_string_value(v));
    }
}

/* "10.0.0.1:80", or the host and address when both are known. */
static void endpoint(avtb_buf *b, json_t *dst)
{
    const char *host = js(dst, "host"), *ip = js(dst, "ip");
    long long port = jint(dst, "port", -1);

    if (host != NULL) {
        esc(b, host);
        avtb_buf_str(b, " <span class=\"dim\">(");
        esc(b, ip ? ip : "?");
        avtb_buf_str(b, ")</span>");
    } else {
        esc(b, ip ? ip : "?");
    }
    if (port >= 0)
        avtb_buf_printf(b, ":%lld", port);
}

/* ---- the sink logs ---- */

typedef struct logs {
    json_t *dns, *tcp, *udp, *http, *tls; /* arrays of the lines' objects; owned */
    size_t bad;                           /* lines that were not JSON objects */
} logs;

static json_t *read_jsonl(const char *dir, const char *name, size_t *bad)
{
    avtb_error e = {0};
    char *path = avtb_path_join(dir, name);
    uint8_t *text = NULL;
    size_t len = 0;
    json_t *arr = json_array();

    if (path == NULL || arr == NULL ||
        avtb_read_file(path, AVTB_HTML_LOG_MAX, &text, &len, &e) != AVTB_OK)
        goto out;
    for (char *line = (char *)text, *nl; line < (char *)text + len; line = nl + 1) {
        json_t *o;

        nl = memchr(line, '\n', (size_t)((char *)text + len - line));
        if (nl == NULL)
            nl = (char *)text + len;
        if (nl == line)
            continue;
        o = json_loadb(line, (size_t)(nl - line), 0, NULL);
        if (json_is_object(o))
            json_array_append_new(arr, o);
        else {
            json_decref(o);
            (*bad)++;
        }
    }
out:
    free(path);
    free(text);
    return arr;
}

static void logs_load(logs *l, const char *dir)
{
    l->dns = read_jsonl(dir, "sink-dns.jsonl", &l->bad);
    l->tcp = read_jsonl(dir, "sink-tcp.jsonl", &l->bad);
    l->udp = read_jsonl(dir, "sink-udp.jsonl", &l->bad);
    l->http = read_jsonl(dir, "sink-http.jsonl", &l->bad);
    l->tls = read_jsonl(dir, "sink-tls.jsonl", &l->bad);
}

static void logs_free(logs *l)
{
    json_decref(l->dns);
    json_decref(l->tcp);
    json_decref(l->udp);
    json_decref(l->http);
    json_decref(l->tls);
}

/* ---- the page's frame ---- */

static const char css[] =
    ":root{--fg:#1f2328;--dim:#656d76;--line:#d0d7de;--bg:#f6f8fa;--accent:#0969da}"
    "*{box-sizing:border-box}"
    "body{margin:0;font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',"
    "Arial,sans-serif;color:var(--fg);background:#fff}"
    "main{max-width:1200px;margin:0 auto;padding:0 24px 48px}"
    "code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',"
    "monospace;font-size:12.5px;overflow-wrap:anywhere}"
    "a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}"
    ".top{display:flex;justify-content:space-between;align-items:baseline;padding:14px 0 10px;"
    "color:var(--dim);font-size:13px;border-bottom:1px solid var(--line);margin-bottom:18px}"
    ".top b{color:var(--fg);letter-spacing:.04em}"
    ".banner{border-radius:10px;padding:22px 26px;color:#fff;margin-bottom:16px}"
    ".banner .label{font-size:12px;text-transform:uppercase;letter-spacing:.12em;opacity:.85}"
    ".banner .verdict{font-size:44px;font-weight:800;line-height:1.1;text-transform:uppercase;"
    "letter-spacing:.02em;margin:2px 0 8px}"
    ".banner .sentence{font-size:18px;font-weight:500;max-width:60em}"
    ".banner .who{margin-top:12px;font-size:14px;opacity:.95}"
    ".banner .who span{margin-right:22px}"
    ".v-clean{background:#1a7f37}.v-metadata-only{background:#9a6700}"
    ".v-suspected{background:#bc4c00}.v-exfiltration{background:#cf222e}"
    ".v-incomplete{background:#57606a}.v-unknown{background:#57606a}"
    ".notes{margin:0 0 16px;padding:0;list-style:none}"
    ".notes li{border-left:4px solid;padding:8px 12px;margin-bottom:6px;border-radius:0 6px 6px 0}"
    ".notes .incomplete{border-color:#bf8700;background:#fff8c5}"
    ".notes .notice{border-color:#0969da;background:#ddf4ff}"
    ".facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;"
    "margin-bottom:8px}"
    ".fact{border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:var(--bg)}"
    ".fact .n{font-size:24px;font-weight:700}.fact .k{color:var(--dim);font-size:12px}"
    "h2{font-size:19px;margin:32px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}"
    "h3{font-size:15px;margin:18px 0 6px}"
    "table{border-collapse:collapse;width:100%;margin:6px 0 10px}"
    "th,td{text-align:left;vertical-align:top;padding:6px 10px;border-bottom:1px solid var(--line)}"
    "th{background:var(--bg);font-size:12px;text-transform:uppercase;letter-spacing:.04em;"
    "color:var(--dim);font-weight:600}"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "tr.sink td{background:#f6fff8}"
    ".dim{color:var(--dim)}.small{font-size:12px}"
    ".tag{display:inline-block;padding:1px 8px;border-radius:10px;font-size:11.5px;"
    "font-weight:600;white-space:nowrap;border:1px solid transparent}"
    ".k-run,.k-monitor{background:#eaeef2;color:#424a53}"
    ".k-read{background:#ddf4ff;color:#0550ae}.k-write{background:#fbefff;color:#8250df}"
    ".k-dns{background:#fff8c5;color:#7d4e00}.k-connect,.k-session{background:#dafbe1;color:#"
    "116329}"
    ".k-request{background:#d8f3f6;color:#0a5c66}"
    ".k-upload{background:#cf222e;color:#fff}.k-metadata{background:#fff1e5;color:#9a6700}"
    ".k-suspected{background:#bc4c00;color:#fff}.k-lost{background:#57606a;color:#fff}"
    ".r-held{background:#dafbe1;color:#116329}.r-failed{background:#ffebe9;color:#a40e26}"
    ".r-suspected{background:#fff1e5;color:#9a6700}.r-undecided{background:#eaeef2;color:#424a53}"
    ".sinktag{background:#dafbe1;color:#116329;margin-left:6px}"
    "tr.hit td{background:#fff5f5}"
    ".timeline td.t{white-space:nowrap;font-variant-numeric:tabular-nums}"
    ".chain{border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin:10px 0}"
    ".chain .sum{font-weight:600;margin-bottom:6px}"
    ".chain ol{margin:6px 0 0;padding-left:22px}.chain li{margin:4px 0}"
    ".bar{height:10px;background:#8c959f;border-radius:3px;min-width:1px}"
    "dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:6px 0}"
    "dl.kv dt{color:var(--dim)}dl.kv dd{margin:0}"
    "ul.files{columns:3 260px;padding-left:18px}"
    "footer{margin-top:40px;color:var(--dim);font-size:12px;border-top:1px solid var(--line);"
    "padding-top:10px}"
    "@media print{body{font-size:11px}main{max-width:none;padding:0}"
    ".banner,.tag,.notes li,tr.sink td,tr.hit td{-webkit-print-color-adjust:exact;"
    "print-color-adjust:exact}"
    "h2{break-after:avoid}tr,.chain,.fact{break-inside:avoid}"
    "a{color:inherit}ul.files{columns:2}}";

/* The verdict names a class can carry; anything else is shown as "unknown". */
static const char *verdict_class(const char *v)
{
    static const char *const known[] = {"clean", "metadata-only", "suspected", "exfiltration",
                                        "incomplete"};

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (streq(v, known[i]))
            return known[i];
    return "unknown";
}

static void section_head(avtb_buf *b, json_t *r)
{
    const char *verdict = js(r, "verdict");

    avtb_buf_str(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<meta name=\"generator\" content=\"avtb\">\n<title>");
    escf(b, "%s: %s \u2014 avtb report", verdict ? verdict : "unknown",
         js(json_object_get(r, "product"), "name") ?: "product");
    avtb_buf_str(b, "</title>\n<style>");
    avtb_buf_str(b, css);
    avtb_buf_str(b, "</style>\n</head>\n<body>\n<main>\n<div class=\"top\"><div><b>AVTB</b> "
                    "anti-virus behaviour testbed \u00b7 run report</div><div class=\"mono\">");
    esc(b, js(r, "run_id") ?: "");
    avtb_buf_str(b, "</div></div>\n");
}

/* ---- the banner: verdict, product, one sentence ---- */

/* Distinct values of a finding field over findings of one kind, counted. */
static size_t distinct_docs(json_t *findings, const char *kind)
{
    size_t n = 0, i, j;
    json_t *f, *g;

    json_array_foreach(findings, i, f)
    {
        const char *key = js(f, "document") ?: js(f, "token");
        bool seen = false;

        if (!streq(js(f, "kind"), kind) || key == NULL)
            continue;
        json_array_foreach(findings, j, g)
        {
            if (j >= i)
                break;
            if (streq(js(g, "kind"), kind) && streq(js(g, "document") ?: js(g, "token"), key))
                seen = true;
        }
        n += !seen;
    }
    return n;
}

/* ": to host over http, 1.2.3.4:53 over udp" for the findings of one kind. */
static void where_to(avtb_buf *b, json_t *findings, const char *kind)
{
    size_t i, j, shown = 0, more = 0;
    json_t *f, *g;

    json_array_foreach(findings, i, f)
    {
        json_t *dst = json_object_get(f, "dst");
        const char *name = js(dst, "host") ?: js(dst, "ip"), *proto = js(f, "protocol");
        bool seen = false;

        if (!streq(js(f, "kind"), kind) || name == NULL)
            continue;
        json_array_foreach(findings, j, g)
        {
            json_t *gd = json_object_get(g, "dst");

            if (j >= i)
                break;
            if (streq(js(g, "kind"), kind) && streq(js(gd, "host") ?: js(gd, "ip"), name) &&
                streq(js(g, "protocol"), proto))
                seen = true;
        }
        if (seen)
            continue;
        if (shown == 4) {
            more++;
            continue;
        }
        avtb_buf_str(b, shown == 0 ? ": to " : ", to ");
        avtb_buf_str(b, "<b>");
        esc(b, name);
        avtb_buf_str(b, "</b>");
        if (proto != NULL && proto[0] != '\0')
            escf(b, " over %s", proto);
        shown++;
    }
    if (more > 0)
        avtb_buf_printf(b, " and %zu more", more);
}

static size_t count_kind(json_t *findings, const char *kind)
{
    size_t n = 0, i;
    json_t *f;

    json_array_foreach(findings, i, f) n += streq(js(f, "kind"), kind);
    return n;
}

static void sentence(avtb_buf *b, json_t *r)
{
    json_t *findings = json_object_get(r, "findings");
    const char *verdict = js(r, "verdict");
    size_t content = distinct_docs(findings, "content");
    size_t meta = distinct_docs(findings, "metadata");
    size_t susp = count_kind(findings, "suspected");
    size_t ndocs = json_array_size(json_object_get(r, "documents"));

    if (content > 0) {
        avtb_buf_printf(b, "The content of %zu honey document%s left the guest", content,
                        content == 1 ? "" : "s");
        where_to(b, findings, "content");
        avtb_buf_str(b, ".");
    } else if (meta > 0) {
        avtb_buf_printf(b, "Metadata of %zu honey document%s left the guest, but not %s content",
                        meta, meta == 1 ? "" : "s", meta == 1 ? "its" : "their");
        where_to(b, findings, "metadata");
        avtb_buf_str(b, streq(verdict, "clean") ? ", as the scenario's policy allows." : ".");
    } else if (susp > 0) {
        avtb_buf_printf(b,
                        "No token was seen leaving, but %zu upload%s could not be read, so "
                        "exfiltration cannot be ruled out",
                        susp, susp == 1 ? "" : "s");
        where_to(b, findings, "suspected");
        avtb_buf_str(b, ".");
    } else if (streq(verdict, "incomplete") || json_is_false(json_object_get(r, "complete"))) {
        avtb_buf_str(b, "Nothing was found, but the evidence is incomplete, so the run cannot "
                        "be called clean.");
    } else {
        avtb_buf_printf(b, "None of the %zu honey document%s left the guest.", ndocs,
                        ndocs == 1 ? "" : "s");
    }
}

static void section_banner(avtb_buf *b, json_t *r)
{
    json_t *p = json_object_get(r, "product"), *s = json_object_get(r, "scenario");
    const char *verdict = js(r, "verdict");
    json_t *reasons = json_object_get(r, "incomplete_reasons"), *v;
    json_t *notices = json_object_get(r, "notices");
    size_t i;

    avtb_buf_printf(b, "<section class=\"banner v-%s\" id=\"verdict\">\n", verdict_class(verdict));
    avtb_buf_str(b, "<div class=\"label\">Verdict</div><div class=\"verdict\">");
    esc(b, verdict ?: "unknown");
    avtb_buf_str(b, "</div>\n<div class=\"sentence\">");
    sentence(b, r);
    avtb_buf_str(b, "</div>\n<div class=\"who\"><span>Product: <b>");
    esc(b, js(p, "name") ?: "?");
    avtb_buf_str(b, "</b> ");
    esc(b, js(p, "version") ?: "");
    avtb_buf_str(b, "</span><span>Vendor: <b>");
    esc(b, js(p, "vendor") ?: "?");
    avtb_buf_str(b, "</b> (declared country ");
    esc(b, js(p, "vendor_country") ?: "?");
    avtb_buf_str(b, ")</span><span>Scenario: <b>");
    esc(b, js(s, "name") ?: "?");
    avtb_buf_str(b, "</b></span></div>\n</section>\n");

    if (json_array_size(reasons) + json_array_size(notices) > 0) {
        avtb_buf_str(b, "<ul class=\"notes\">\n");
        json_array_foreach(reasons, i, v)
        {
            avtb_buf_str(b, "<li class=\"incomplete\"><b>Evidence incomplete:</b> ");
            esc(b, json_string_value(v));
            avtb_buf_str(b, "</li>\n");
        }
        json_array_foreach(notices, i, v)
        {
            avtb_buf_str(b, "<li class=\"notice\"><b>Note:</b> ");
            esc(b, json_string_value(v));
            avtb_buf_str(b, "</li>\n");
        }
        avtb_buf_str(b, "</ul>\n");
    }
}

/* ---- destinations (shared by the facts and the table) ---- */

typedef struct dest {
    const char *ip;        /* borrowed from the report or the logs */
    long long port;        /* -1: none (icmp, other) */
    const char *transport; /* tcp, udp, icmp... from attempts; NULL when only findings name it */
    const char *hosts[4];
    size_t nhosts;
    const char *app[4]; /* application protocols of findings (http, dns...) */
    size_t napp;
    size_t content, metadata, suspected;
    long long packets, bytes;
    bool sink;
} dest;

typedef struct dests {
    dest *v;
    size_t n, cap;
    size_t dropped;
} dests;

static void add_unique(const char **arr, size_t *n, size_t cap, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp(arr[i], s) == 0)
            return;
    if (*n < cap)
        arr[(*n)++] = s;
}

static dest *dest_get(dests *d, const char *ip, long long port)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->v[i].ip, ip) == 0 && d->v[i].port == port)
            return &d->v[i];
    if (d->n == DESTS_MAX) {
        d->dropped++;
        return NULL;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        dest *nv = realloc(d->v, cap * sizeof(*nv));

        if (nv == NULL)
            return NULL;
        d->v = nv;
        d->cap = cap;
    }
    memset(&d->v[d->n], 0, sizeof(dest));
    d->v[d->n].ip = ip;
    d->v[d->n].port = port;
    return &d->v[d->n++];
}

static void dests_build(dests *d, json_t *r, const logs *l)
{
    const char *sink = js(r, "sink");
    size_t i, j;
    json_t *v;

    json_array_foreach(json_object_get(r, "attempts"), i, v)
    {
        const char *ip = js(v, "dst");
        dest *x = ip ? dest_get(d, ip, jint(v, "port", -1)) : NULL;

        if (x == NULL)
            continue;
        x->transport = js(v, "protocol");
        x->packets += jint(v, "packets", 0);
        x->bytes += jint(v, "bytes", 0);
        x->sink |= json_is_true(json_object_get(v, "to_sink")) || streq(ip, sink);
    }
    json_array_foreach(json_object_get(r, "findings"), i, v)
    {
        json_t *dst = json_object_get(v, "dst");
        const char *ip = js(dst, "ip"), *kind = js(v, "kind");
        dest *x = ip ? dest_get(d, ip, jint(dst, "port", -1)) : NULL;

        if (x == NULL)
            continue;
        add_unique(x->hosts, &x->nhosts, 4, js(dst, "host"));
        add_unique(x->app, &x->napp, 4, js(v, "protocol"));
        x->content += streq(kind, "content");
        x->metadata += streq(kind, "metadata");
        x->suspected += streq(kind, "suspected");
        x->sink |= streq(ip, sink);
    }
    /* Names the guest looked up and the sink answered with this address. */
    for (i = 0; i < d->n; i++) {
        json_array_foreach(l->dns, j, v)
        {
            if (streq(js(v, "answer"), d->v[i].ip))
                add_unique(d->v[i].hosts, &d->v[i].nhosts, 4, js(v, "qname"));
        }
    }
}

/* ---- key facts under the banner ---- */

static void fact(avtb_buf *b, const char *n, const char *k)
{
    avtb_buf_str(b, "<div class=\"fact\"><div class=\"n\">");
    esc(b, n);
    avtb_buf_str(b, "</div><div class=\"k\">");
    esc(b, k);
    avtb_buf_str(b, "</div></div>\n");
}

static void section_facts(avtb_buf *b, json_t *r, const dests *d)
{
    json_t *findings = json_object_get(r, "findings"), *v, *p;
    size_t readers = 0, i, j;
    char n[64];
    double t0 = rfc3339(js(r, "started")), t1 = rfc3339(js(r, "finished"));

    json_array_foreach(json_object_get(r, "document_access"), i, v)
    {
        json_array_foreach(json_object_get(v, "processes"), j, p)
        {
            if (jint(p, "reads", 0) > 0)
                readers++;
        }
    }
    avtb_buf_str(b, "<div class=\"facts\">\n");
    snprintf(n, sizeof(n), "%zu", json_array_size(json_object_get(r, "documents")));
    fact(b, n, "honey documents planted");
    if (json_is_array(json_object_get(r, "document_access"))) {
        snprintf(n, sizeof(n), "%zu", readers);
        fact(b, n, "processes read them");
    }
    snprintf(n, sizeof(n), "%zu", count_kind(findings, "content"));
    fact(b, n, "content findings");
    snprintf(n, sizeof(n), "%zu", count_kind(findings, "metadata"));
    fact(b, n, "metadata findings");
    if (count_kind(findings, "suspected") > 0) {
        snprintf(n, sizeof(n), "%zu", count_kind(findings, "suspected"));
        fact(b, n, "suspected uploads");
    }
    snprintf(n, sizeof(n), "%zu", d->n + d->dropped);
    fact(b, n, "network destinations");
    if (isfinite(t0) && isfinite(t1) && t1 >= t0) {
        snprintf(n, sizeof(n), "%.0f s", t1 - t0);
        fact(b, n, "run duration");
    }
    avtb_buf_str(b, "</div>\n");
}

/* ---- the timeline ---- */

typedef struct event {
    double t;
    size_t seq; /* order of insertion: ties keep it */
    const char *kind;
    char *text; /* plain text, escaped when written; owned */
} event;

typedef struct timeline {
    event *v;
    size_t n, cap;
    size_t dropped; /* beyond AVTB_HTML_TIMELINE_MAX */
    size_t untimed; /* events without a time, left out */
} timeline;

static void AVTB_PRINTF(4, 5)
    tl_add(timeline *t, double when, const char *kind, const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;

    if (!isfinite(when)) {
        t->untimed++;
        return;
    }
    if (t->n == AVTB_HTML_TIMELINE_MAX) {
        t->dropped++;
        return;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        event *nv = realloc(t->v, cap * sizeof(*nv));

        if (nv == NULL) {
            t->dropped++;
            return;
        }
        t->v = nv;
        t->cap = cap;
    }
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0) {
        t->dropped++;
        va_end(ap);
        return;
    }
    va_end(ap);
    t->v[t->n] = (event){when, t->n, kind, text};
    t->n++;
}

static int event_cmp(const void *a, const void *b)
{
    const event *x = a, *y = b;

    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

#define S(x) ((x) ? (x) : "?")

static void tl_reads(timeline *t, json_t *r)
{
    size_t i, j;
    json_t *d, *p, *c, *s;

    json_array_foreach(json_object_get(r, "document_access"), i, d)
    {
        const char *doc = js(d, "document");

        json_array_foreach(json_object_get(d, "processes"), j, p)
        {
            long long reads = jint(p, "reads", 0), writes = jint(p, "writes", 0);
            const char *cmd = js(p, "cmdline");

            tl_add(t, rfc3339(js(p, "first")), writes > 0 ? "write" : "read",
                   "%s (pid %lld) %s %s%s%s%s", S(js(p, "comm")), jint(p, "pid", -1),
                   writes > 0  ? "wrote"
                   : reads > 0 ? "read"
                               : "opened",
                   S(doc), cmd ? " \u2014 `" : "", cmd ? cmd : "", cmd ? "`" : "");
        }
    }
    /* Chain steps: staging writes, and reads document_access does not list. */
    json_array_foreach(json_object_get(r, "chains"), i, c)
    {
        json_array_foreach(json_object_get(c, "steps"), j, s)
        {
            const char *step = js(s, "step");

            if (streq(step, "stage"))
                tl_add(t, rfc3339(js(s, "time")), "write", "%s (pid %lld) wrote %s, which holds %s",
                       S(js(s, "comm")), jint(s, "pid", -1), S(js(s, "path")),
                       S(base_name(js(c, "document"))));
            else if (streq(step, "read") && !json_is_array(json_object_get(r, "document_access")))
                tl_add(t, rfc3339(js(s, "time")), "read", "%s (pid %lld) read %s", S(js(s, "comm")),
                       jint(s, "pid", -1), S(js(s, "path")));
        }
    }
}

static void tl_network(timeline *t, json_t *r, const logs *l)
{
    size_t i;
    json_t *v;

    json_array_foreach(json_object_get(r, "attempts"), i, v)
    {
        const char *proto = js(v, "protocol");
        long long port = jint(v, "port", -1);
        char where[64] = "";

        if (port >= 0)
            snprintf(where, sizeof(where), ":%lld", port);
        tl_add(t, jnum(v, "first_time"), "connect",
               "first %s packet to %s%s (%lld packets, %lld bytes%s)", S(proto), S(js(v, "dst")),
               where, jint(v, "packets", 0), jint(v, "bytes", 0),
               json_is_true(json_object_get(v, "to_sink")) ? ", the sink" : "");
    }
    json_array_foreach(l->dns, i, v)
    {
        tl_add(t, rfc3339(js(v, "time")), "dns", "DNS %s %s \u2192 %s", S(js(v, "qtype")),
               S(js(v, "qname")), js(v, "answer") ?: "no answer");
    }
    json_array_foreach(l->tcp, i, v)
    {
        tl_add(t, rfc3339(js(v, "time")), "session",
               "TCP session with the sink for %s:%lld (%s): %lld bytes from the guest, %lld back",
               S(js(v, "orig_dst")), jint(v, "orig_dst_port", -1), S(js(v, "protocol")),
               jint(v, "bytes_from_client", 0), jint(v, "bytes_to_client", 0));
    }
    json_array_foreach(l->udp, i, v)
    {
        tl_add(t, rfc3339(js(v, "time")), "session", "UDP datagram to %s:%lld, %lld bytes",
               S(js(v, "orig_dst")), jint(v, "orig_dst_port", -1), jint(v, "bytes", 0));
    }
    json_array_foreach(l->http, i, v)
    {
        tl_add(t, rfc3339(js(v, "time")), "request", "HTTP%s %s %s%s (%lld-byte body)",
               json_is_true(json_object_get(v, "tls")) ? "S" : "", S(js(v, "method")),
               S(js(v, "host")), S(js(v, "uri")), jint(v, "body_bytes", 0));
    }
    json_array_foreach(l->tls, i, v)
    {
        bool ok = json_is_true(json_object_get(v, "ok"));

        tl_add(t, rfc3339(js(v, "time")), "session", "TLS to %s:%lld, SNI %s: %s%s",
               S(js(v, "orig_dst")), jint(v, "orig_dst_port", -1), js(v, "sni") ?: "none",
               ok ? "intercepted" : "not intercepted: ", ok ? "" : S(js(v, "failure")));
    }
}

static void tl_findings(timeline *t, json_t *r)
{
    size_t i;
    json_t *f;

    json_array_foreach(json_object_get(r, "findings"), i, f)
    {
        json_t *dst = json_object_get(f, "dst");
        const char *kind = js(f, "kind");
        const char *doc = base_name(js(f, "document")) ?: js(f, "token");

        if (streq(kind, "suspected"))
            tl_add(t, jnum(f, "time"), "suspected", "unreadable upload over %s to %s:%lld: %s",
                   S(js(f, "protocol")), js(dst, "host") ?: S(js(dst, "ip")), jint(dst, "port", -1),
                   S(js(f, "reason")));
        else
            tl_add(t, jnum(f, "time"), streq(kind, "content") ? "upload" : "metadata",
                   "%s of %s sent over %s to %s:%lld",
                   streq(kind, "content") ? "content" : "metadata", S(doc), S(js(f, "protocol")),
                   js(dst, "host") ?: S(js(dst, "ip")), jint(dst, "port", -1));
    }
}

static void tl_monitoring(timeline *t, json_t *r)
{
    json_t *fa = json_object_get(r, "file_access");

    tl_add(t, rfc3339(js(r, "started")), "run", "run started");
    if (fa != NULL && js(fa, "first_heartbeat") != NULL)
        tl_add(t, rfc3339(js(fa, "first_heartbeat")), "monitor",
               "file-access agent %s connected (first heartbeat)", S(js(fa, "agent")));
    if (fa != NULL && js(fa, "lost_at") != NULL)
        tl_add(t, rfc3339(js(fa, "lost_at")), "lost",
               "file-access monitoring lost (last heartbeat %s)", S(js(fa, "last_heartbeat")));
    else if (fa != NULL && js(fa, "last_heartbeat") != NULL)
        tl_add(t, rfc3339(js(fa, "last_heartbeat")), "monitor",
               "file-access agent's last heartbeat%s",
               json_is_true(json_object_get(fa, "bye")) ? " (it said goodbye)" : "");
    tl_add(t, rfc3339(js(r, "finished")), "run", "run finished");
}

static const char *kind_label(const char *kind)
{
    if (strcmp(kind, "upload") == 0)
        return "content left";
    if (strcmp(kind, "metadata") == 0)
        return "metadata left";
    if (strcmp(kind, "lost") == 0)
        return "monitor lost";
    return kind;
}

static void section_timeline(avtb_buf *b, json_t *r, const logs *l)
{
    timeline t = {0};
    double t0 = rfc3339(js(r, "started"));
    size_t shown;

    tl_monitoring(&t, r);
    tl_reads(&t, r);
    tl_network(&t, r, l);
    tl_findings(&t, r);
    if (t.n > 0)
        qsort(t.v, t.n, sizeof(*t.v), event_cmp);
    if (!isfinite(t0) && t.n > 0)
        t0 = t.v[0].t;
    shown = t.n < AVTB_HTML_TIMELINE_ROWS ? t.n : AVTB_HTML_TIMELINE_ROWS;

    avtb_buf_str(b, "<section id=\"timeline\">\n<h2>Timeline</h2>\n<p class=\"dim small\">File "
                    "reads of honey documents, DNS queries, connections, uploads and monitoring "
                    "events, by time (UTC; seconds since the run started).</p>\n");
    avtb_buf_str(b, "<table class=\"timeline\"><thead><tr><th>Time (UTC)</th><th class=\"num\">"
                    "+s</th><th>Event</th><th>What happened</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < shown; i++) {
        const event *e = &t.v[i];
        char clk[16];
        bool hit = strcmp(e->kind, "upload") == 0 || strcmp(e->kind, "suspected") == 0;

        avtb_buf_printf(b, "<tr%s><td class=\"t mono\">%s</td><td class=\"num mono\">",
                        hit ? " class=\"hit\"" : "", clock_of(e->t, clk));
        if (isfinite(t0))
            avtb_buf_printf(b, "%.3f", e->t - t0);
        avtb_buf_printf(b, "</td><td><span class=\"tag k-%s\">%s</span></td><td>", e->kind,
                        kind_label(e->kind));
        esc(b, e->text);
        avtb_buf_str(b, "</td></tr>\n");
    }
    if (t.n == 0)
        avtb_buf_str(b, "<tr><td colspan=\"4\" class=\"dim\">No timed events in the evidence."
                        "</td></tr>\n");
    avtb_buf_str(b, "</tbody></table>\n");
    if (t.n > shown || t.dropped > 0)
        avtb_buf_printf(b,
                        "<p class=\"dim\">%zu more events are not shown; the evidence files "
                        "below hold them all.</p>\n",
                        t.n - shown + t.dropped);
    if (t.untimed > 0)
        avtb_buf_printf(b,
                        "<p class=\"dim small\">%zu event%s without a time (found by the disk "
                        "forensics) %s in the chains and documents below.</p>\n",
                        t.untimed, t.untimed == 1 ? "" : "s", t.untimed == 1 ? "is" : "are");
    if (l->bad > 0)
        avtb_buf_printf(b, "<p class=\"dim small\">%zu sink log line%s could not be read.</p>\n",
                        l->bad, l->bad == 1 ? "" : "s");
    avtb_buf_str(b, "</section>\n");
    for (size_t i = 0; i < t.n; i++)
        free(t.v[i].text);
    free(t.v);
}

/* ---- chains ---- */

static void chain_step(avtb_buf *b, json_t *s)
{
    const char *step = js(s, "step") ?: "?";
    json_t *dst = json_object_get(s, "dst");
    char clk[16];

    avtb_buf_str(b, "<li><b>");
    esc(b, step);
    avtb_buf_str(b, "</b> ");
    if (js(s, "time") != NULL)
        avtb_buf_printf(b, "<span class=\"mono dim\">%s</span> ",
                        clock_of(rfc3339(js(s, "time")), clk));
    if (js(s, "comm") != NULL) {
        esc(b, js(s, "comm"));
        avtb_buf_printf(b, " (pid %lld) ", jint(s, "pid", -1));
    } else if (streq(step, "upload") || streq(step, "stage")) {
        avtb_buf_str(b, "<span class=\"dim\">unknown process</span> ");
    }
    if (js(s, "path") != NULL) {
        avtb_buf_str(b, "<code>");
        esc(b, js(s, "path"));
        avtb_buf_str(b, "</code> ");
    }
    if (dst != NULL) {
        avtb_buf_str(b, "to ");
        endpoint(b, dst);
        if (js(s, "protocol") != NULL)
            escf(b, " over %s", js(s, "protocol"));
        avtb_buf_str(b, " ");
    }
    if (js(s, "kind") != NULL)
        escf(b, "(%s) ", js(s, "kind"));
    if (js(s, "state") != NULL)
        escf(b, "(forensics: %s) ", js(s, "state"));
    if (json_array_size(json_object_get(s, "found_by")) > 0) {
        size_t i;
        json_t *v;

        avtb_buf_str(b, "<span class=\"dim small\">found by ");
        json_array_foreach(json_object_get(s, "found_by"), i, v)
        {
            if (i > 0)
                avtb_buf_str(b, ", ");
            esc(b, json_string_value(v));
        }
        avtb_buf_str(b, "</span> ");
    }
    if (safe_rel(js(s, "saved"))) {
        avtb_buf_str(b, "<span class=\"small\">saved copy: <a href=\"");
        href(b, js(s, "saved"));
        avtb_buf_str(b, "\"><code>");
        esc(b, js(s, "saved"));
        avtb_buf_str(b, "</code></a></span> ");
    }
    avtb_buf_str(b, "<span class=\"small\">");
    evidence_refs(b, json_object_get(s, "evidence"));
    avtb_buf_str(b, "</span></li>\n");
}

static void section_chains(avtb_buf *b, json_t *r)
{
    json_t *chains = json_object_get(r, "chains"), *c, *s;
    size_t i, j;

    avtb_buf_str(b, "<section id=\"chains\">\n<h2>Chains: read \u2192 stage \u2192 upload</h2>\n");
    if (!json_is_array(chains))
        avtb_buf_str(b, "<p class=\"dim\">This report.json carries no chains (an older format, "
                        "or no file-access evidence).</p>\n");
    else if (json_array_size(chains) == 0)
        avtb_buf_str(b, "<p class=\"dim\">No chain: no token was seen leaving.</p>\n");
    json_array_foreach(chains, i, c)
    {
        bool complete = json_is_true(json_object_get(c, "complete"));

        avtb_buf_str(b, "<div class=\"chain\"><div class=\"sum\">");
        esc(b, js(c, "summary") ?: "(no summary)");
        avtb_buf_printf(b, "</div><div class=\"small\"><span class=\"tag %s\">%s</span> ",
                        complete ? "r-held" : "r-undecided",
                        complete ? "complete chain" : "incomplete chain");
        avtb_buf_str(b, "<span class=\"dim\">linked by ");
        esc(b, js(c, "linked_by") ?: "?");
        avtb_buf_str(b, " \u00b7 document <code>");
        esc(b, js(c, "document") ?: "?");
        avtb_buf_str(b, "</code> \u00b7 token <code>");
        esc(b, js(c, "token") ?: "?");
        avtb_buf_str(b, "</code></span></div>\n<ol>\n");
        json_array_foreach(json_object_get(c, "steps"), j, s) chain_step(b, s);
        avtb_buf_str(b, "</ol></div>\n");
    }
    avtb_buf_str(b, "</section>\n");
}

/* ---- documents ---- */

static json_t *find_by(json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v) if (streq(js(v, key), value)) return v;
    return NULL;
}

static void doc_readers(avtb_buf *b, json_t *r, const char *path)
{
    json_t *da = json_object_get(r, "document_access");
    json_t *entry = find_by(da, "document", path), *p;
    size_t i;

    if (!json_is_array(da)) {
        avtb_buf_str(b, "<span class=\"dim\">not monitored</span>");
        return;
    }
    if (json_array_size(json_object_get(entry, "processes")) == 0) {
        avtb_buf_str(b, "<span class=\"dim\">no process seen</span>");
        return;
    }
    json_array_foreach(json_object_get(entry, "processes"), i, p)
    {
        avtb_buf_str(b, "<div><b>");
        esc(b, js(p, "comm") ?: "?");
        avtb_buf_printf(b, "</b> (pid %lld): %lld read%s, %lld write%s", jint(p, "pid", -1),
                        jint(p, "reads", 0), jint(p, "reads", 0) == 1 ? "" : "s",
                        jint(p, "writes", 0), jint(p, "writes", 0) == 1 ? "" : "s");
        if (js(p, "cmdline") != NULL) {
            avtb_buf_str(b, "<br><code class=\"dim\">");
            esc(b, js(p, "cmdline"));
            avtb_buf_str(b, "</code>");
        }
        avtb_buf_str(b, "</div>");
    }
    if (jint(entry, "processes_omitted", 0) > 0)
        avtb_buf_printf(b, "<div class=\"dim\">and %lld more</div>",
                        jint(entry, "processes_omitted", 0));
}

static void doc_forensics(avtb_buf *b, json_t *r, const char *path, const char *token)
{
    json_t *fo = json_object_get(r, "forensics"), *d, *f, *t, *v;
    size_t i, j;

    if (fo == NULL) {
        avtb_buf_str(b, "<span class=\"dim\">no forensics</span>");
        return;
    }
    d = find_by(json_object_get(fo, "documents"), "path", path);
    if (d != NULL) {
        avtb_buf_str(b, "<b>");
        esc(b, js(d, "state") ?: "?");
        avtb_buf_str(b, "</b>");
        if (json_array_size(json_object_get(d, "changes")) > 0) {
            avtb_buf_str(b, " <span class=\"dim\">(");
            json_array_foreach(json_object_get(d, "changes"), i, v)
            {
                if (i > 0)
                    avtb_buf_str(b, ", ");
                esc(b, json_string_value(v));
            }
            avtb_buf_str(b, " changed)</span>");
        }
    } else {
        avtb_buf_str(b, "<span class=\"dim\">not examined</span>");
    }
    /* Files on disk that hold this document's token: staging copies. */
    json_array_foreach(json_object_get(fo, "files"), i, f)
    {
        json_array_foreach(json_object_get(f, "tokens"), j, t)
        {
            if (!streq(js(t, "token"), token) && !streq(js(t, "document"), path))
                continue;
            avtb_buf_str(b, "<div class=\"small\">token in <code>");
            esc(b, js(f, "path") ?: "?");
            avtb_buf_str(b, "</code> <span class=\"dim\">(");
            esc(b, js(f, "kind") ?: "file");
            avtb_buf_str(b, ", ");
            esc(b, js(t, "hit") ?: "?");
            avtb_buf_str(b, ")</span></div>");
            break;
        }
    }
}

static void doc_left(avtb_buf *b, json_t *r, const char *path, const char *token)
{
    size_t i, n = 0;
    json_t *f;

    json_array_foreach(json_object_get(r, "findings"), i, f)
    {
        const char *kind = js(f, "kind");

        if (!streq(js(f, "token"), token) && !streq(js(f, "document"), path))
            continue;
        avtb_buf_printf(b, "<div><span class=\"tag %s\">",
                        streq(kind, "content") ? "k-upload" : "k-metadata");
        esc(b, kind ?: "?");
        avtb_buf_str(b, "</span> to ");
        endpoint(b, json_object_get(f, "dst"));
        escf(b, " over %s", S(js(f, "protocol")));
        avtb_buf_str(b, "</div>");
        n++;
    }
    if (n == 0)
        avtb_buf_str(b, "<span class=\"tag r-held\">did not leave</span>");
}

static void section_documents(avtb_buf *b, json_t *r)
{
    size_t i;
    json_t *d;

    avtb_buf_str(b, "<section id=\"documents\">\n<h2>Honey documents</h2>\n<table><thead><tr>"
                    "<th>Document</th><th>Token</th><th>Read by</th><th>Forensics</th>"
                    "<th>Token left the guest</th></tr></thead>\n<tbody>\n");
    json_array_foreach(json_object_get(r, "documents"), i, d)
    {
        const char *path = js(d, "path"), *token = js(d, "token");

        avtb_buf_str(b, "<tr><td><code>");
        esc(b, path ?: "?");
        avtb_buf_str(b, "</code>");
        if (json_is_integer(json_object_get(d, "size")))
            avtb_buf_printf(b, "<div class=\"dim small\">%lld bytes</div>", jint(d, "size", 0));
        avtb_buf_str(b, "</td><td><code>");
        esc(b, token ?: "?");
        avtb_buf_str(b, "</code></td><td>");
        doc_readers(b, r, path);
        avtb_buf_str(b, "</td><td>");
        doc_forensics(b, r, path, token);
        avtb_buf_str(b, "</td><td>");
        doc_left(b, r, path, token);
        avtb_buf_str(b, "</td></tr>\n");
    }
    if (json_array_size(json_object_get(r, "documents")) == 0)
        avtb_buf_str(b, "<tr><td colspan=\"5\" class=\"dim\">No documents listed.</td></tr>\n");
    avtb_buf_str(b, "</tbody></table>\n</section>\n");
}

/* ---- destinations ---- */

static void section_destinations(avtb_buf *b, json_t *r, const dests *d)
{
    const char *country = js(json_object_get(r, "product"), "vendor_country");

    avtb_buf_str(b, "<section id=\"destinations\">\n<h2>Network destinations</h2>\n"
                    "<p class=\"dim small\">Every address the guest tried to reach. The sandbox "
                    "answers all of them with its own sink; the vendor's declared country is shown "
                    "beside each destination for comparison.</p>\n");
    avtb_buf_str(b, "<table><thead><tr><th>Host</th><th>IP</th><th class=\"num\">Port</th>"
                    "<th>Protocol</th><th class=\"num\">Packets</th><th class=\"num\">Bytes</th>"
                    "<th class=\"num\">Content</th><th class=\"num\">Metadata</th>"
                    "<th class=\"num\">Suspected</th><th>Vendor country</th></tr></thead>\n"
                    "<tbody>\n");
    for (size_t i = 0; i < d->n; i++) {
        const dest *x = &d->v[i];
        bool hit = x->content + x->suspected > 0;

        avtb_buf_printf(b, "<tr%s><td>", hit ? " class=\"hit\"" : x->sink ? " class=\"sink\"" : "");
        for (size_t j = 0; j < x->nhosts; j++) {
            if (j > 0)
                avtb_buf_str(b, "<br>");
            esc(b, x->hosts[j]);
        }
        if (x->nhosts == 0)
            avtb_buf_str(b, "<span class=\"dim\">\u2014</span>");
        avtb_buf_str(b, "</td><td class=\"mono\">");
        esc(b, x->ip);
        if (x->sink)
            avtb_buf_str(b, "<span class=\"tag sinktag\">sink</span>");
        avtb_buf_str(b, "</td><td class=\"num\">");
        if (x->port >= 0)
            avtb_buf_printf(b, "%lld", x->port);
        avtb_buf_str(b, "</td><td>");
        esc(b, x->transport ?: "");
        for (size_t j = 0; j < x->napp; j++) {
            avtb_buf_str(b, j == 0 && x->transport ? " / " : j ? ", " : "");
            esc(b, x->app[j]);
        }
        avtb_buf_printf(b,
                        "</td><td class=\"num\">%lld</td><td class=\"num\">%lld</td>"
                        "<td class=\"num\">%zu</td><td class=\"num\">%zu</td><td class=\"num\">"
                        "%zu</td><td>",
                        x->packets, x->bytes, x->content, x->metadata, x->suspected);
        esc(b, country ?: "?");
        avtb_buf_str(b, "</td></tr>\n");
    }
    if (d->n == 0)
        avtb_buf_str(b, "<tr><td colspan=\"10\" class=\"dim\">The guest reached no destination."
                        "</td></tr>\n");
    avtb_buf_str(b, "</tbody></table>\n");
    if (d->dropped > 0)
        avtb_buf_printf(b, "<p class=\"dim\">%zu more destinations in report.json.</p>\n",
                        d->dropped);
    avtb_buf_str(b, "</section>\n");
}

/* ---- expectations, phases, run details, evidence ---- */

static void section_expectations(avtb_buf *b, json_t *r)
{
    size_t i;
    json_t *e;

    avtb_buf_str(b, "<section id=\"expectations\">\n<h2>Expectations</h2>\n<table><thead><tr>"
                    "<th>Expectation</th><th>Result</th><th class=\"num\">Findings against it</th>"
                    "<th class=\"num\">Suspected</th></tr></thead>\n<tbody>\n");
    json_array_foreach(json_object_get(r, "expectations"), i, e)
    {
        const char *res = js(e, "result") ?: "?";
        const char *cls = streq(res, "held") || streq(res, "failed") || streq(res, "suspected")
                              ? res
                              : "undecided";

        avtb_buf_str(b, "<tr><td><code>");
        esc(b, js(e, "name") ?: "?");
        avtb_buf_printf(b, "</code></td><td><span class=\"tag r-%s\">", cls);
        esc(b, res);
        avtb_buf_printf(b,
                        "</span></td><td class=\"num\">%lld</td><td class=\"num\">%lld</td>"
                        "</tr>\n",
                        jint(e, "findings", 0), jint(e, "suspected", 0));
    }
    if (json_array_size(json_object_get(r, "expectations")) == 0)
        avtb_buf_str(b, "<tr><td colspan=\"4\" class=\"dim\">The scenario sets no expectation."
                        "</td></tr>\n");
    avtb_buf_str(b, "</tbody></table>\n</section>\n");
}

/* The policy the findings were judged by, and each finding's judgement. */
static void section_policy(avtb_buf *b, json_t *r)
{
    json_t *pol = json_object_get(r, "policy"), *sev = json_object_get(pol, "severity");
    json_t *rule, *f, *v;
    size_t i, k;

    if (pol == NULL)
        return; /* a report from before policies */
    avtb_buf_str(b, "<section id=\"policy\">\n<h2>Policy</h2>\n<p class=\"dim\">What may leave the "
                    "guest; everything else is a violation. Worst severity of this run: <b>");
    esc(b, js(r, "severity") ?: "?");
    avtb_buf_str(b, "</b>. Severities: content ");
    esc(b, js(sev, "content") ?: "?");
    avtb_buf_str(b, ", metadata ");
    esc(b, js(sev, "metadata") ?: "?");
    avtb_buf_str(b, ", opaque ");
    esc(b, js(sev, "opaque") ?: "?");
    avtb_buf_str(b, ".</p>\n<table><thead><tr><th>Rule</th><th>Hosts</th><th>Data allowed</th>"
                    "</tr></thead>\n<tbody>\n");
    json_array_foreach(json_object_get(pol, "allow"), i, rule)
    {
        avtb_buf_printf(b, "<tr><td class=\"num\">%zu</td><td><code>", i);
        json_array_foreach(json_object_get(rule, "hosts"), k, v)
        {
            if (k > 0)
                avtb_buf_str(b, ", ");
            esc(b, json_string_value(v) ?: "?");
        }
        avtb_buf_str(b, "</code></td><td>");
        json_array_foreach(json_object_get(rule, "data"), k, v)
        {
            if (k > 0)
                avtb_buf_str(b, ", ");
            esc(b, json_string_value(v) ?: "?");
        }
        avtb_buf_str(b, "</td></tr>\n");
    }
    if (json_array_size(json_object_get(pol, "allow")) == 0)
        avtb_buf_str(b, "<tr><td colspan=\"3\" class=\"dim\">None: nothing may leave the guest."
                        "</td></tr>\n");
    avtb_buf_str(b, "</tbody></table>\n");
    if (json_array_size(json_object_get(r, "findings")) > 0) {
        avtb_buf_str(b, "<table><thead><tr><th>Finding</th><th>Data</th><th>To</th>"
                        "<th>Judgement</th><th>Severity</th></tr></thead>\n<tbody>\n");
        json_array_foreach(json_object_get(r, "findings"), i, f)
        {
            json_t *j = json_object_get(f, "policy"), *dst = json_object_get(f, "dst");
            bool allowed = json_is_true(json_object_get(j, "allowed"));

            avtb_buf_printf(b, "<tr><td class=\"num\">%zu</td><td>", i);
            esc(b, js(j, "data") ?: js(f, "kind") ?: "?");
            avtb_buf_str(b, "</td><td>");
            esc(b, js(dst, "host") ?: js(dst, "ip") ?: "?");
            avtb_buf_printf(b, ":%lld</td><td>", jint(dst, "port", 0));
            if (j == NULL)
                avtb_buf_str(b, "not judged");
            else if (allowed)
                avtb_buf_printf(b, "allowed by rule %lld", jint(j, "rule", 0));
            else
                avtb_buf_str(b, "<b>violation</b>");
            avtb_buf_str(b, "</td><td>");
            esc(b, allowed ? "-" : js(j, "severity") ?: "?");
            avtb_buf_str(b, "</td></tr>\n");
        }
        avtb_buf_str(b, "</tbody></table>\n");
    }
    avtb_buf_str(b, "</section>\n");
}

static void section_phases(avtb_buf *b, json_t *r)
{
    json_t *phases = json_object_get(r, "phases"), *p;
    double total = 0, longest = 0;
    size_t i;

    json_array_foreach(phases, i, p)
    {
        double s = jnum(p, "seconds");

        if (isfinite(s) && s > 0) {
            total += s;
            longest = s > longest ? s : longest;
        }
    }
    avtb_buf_str(b, "<section id=\"phases\">\n<h2>Phase timings</h2>\n<table><thead><tr>"
                    "<th>Phase</th><th class=\"num\">Seconds</th><th style=\"width:55%\"></th>"
                    "</tr></thead>\n<tbody>\n");
    json_array_foreach(phases, i, p)
    {
        double s = jnum(p, "seconds");

        avtb_buf_str(b, "<tr><td>");
        esc(b, js(p, "name") ?: "?");
        avtb_buf_printf(b,
                        "</td><td class=\"num mono\">%.3f</td><td><div class=\"bar\" "
                        "style=\"width:%.1f%%\"></div></td></tr>\n",
                        isfinite(s) ? s : 0,
                        isfinite(s) && s > 0 && longest > 0 ? 100.0 * s / longest : 0.0);
    }
    avtb_buf_printf(b,
                    "<tr><td><b>total</b></td><td class=\"num mono\"><b>%.3f</b></td><td></td>"
                    "</tr>\n</tbody></table>\n</section>\n",
                    total);
}

static void kv(avtb_buf *b, const char *k, const char *v)
{
    if (v == NULL)
        return;
    avtb_buf_str(b, "<dt>");
    esc(b, k);
    avtb_buf_str(b, "</dt><dd>");
    esc(b, v);
    avtb_buf_str(b, "</dd>\n");
}

static void section_run(avtb_buf *b, json_t *r)
{
    json_t *g = json_object_get(r, "guest"), *s = json_object_get(r, "scenario");
    json_t *p = json_object_get(r, "product"), *fa = json_object_get(r, "file_access");
    json_t *tls = json_object_get(r, "tls"), *fo = json_object_get(r, "forensics");
    char n[128];

    avtb_buf_str(b, "<section id=\"run\">\n<h2>Run</h2>\n<dl class=\"kv\">\n");
    kv(b, "Run id", js(r, "run_id"));
    kv(b, "avtb version", js(r, "avtb_version"));
    if (json_is_integer(json_object_get(r, "format"))) {
        snprintf(n, sizeof(n), "%lld", jint(r, "format", 0));
        kv(b, "report.json format", n);
    }
    kv(b, "Scenario", js(s, "name"));
    kv(b, "Scenario file", js(s, "file"));
    if (js(s, "description") != NULL && js(s, "description")[0] != '\0')
        kv(b, "Description", js(s, "description"));
    kv(b, "Product", js(p, "name"));
    kv(b, "Version", js(p, "version"));
    kv(b, "Vendor", js(p, "vendor"));
    kv(b, "Vendor country (declared)", js(p, "vendor_country"));
    kv(b, "Guest image", js(g, "image"));
    kv(b, "Acceleration", js(g, "accel"));
    kv(b, "Started", js(r, "started"));
    kv(b, "Finished", js(r, "finished"));
    kv(b, "Evidence complete",
       json_is_boolean(json_object_get(r, "complete"))
           ? (json_is_true(json_object_get(r, "complete")) ? "yes" : "no")
           : NULL);
    if (json_is_integer(json_object_get(r, "exit_code"))) {
        snprintf(n, sizeof(n), "%lld", jint(r, "exit_code", 0));
        kv(b, "Exit code", n);
    }
    kv(b, "Sink", js(r, "sink"));
    if (tls != NULL) {
        snprintf(n, sizeof(n), "%lld intercepted, %lld rejected%s", jint(tls, "intercepted", 0),
                 jint(tls, "rejected", 0),
                 json_is_true(json_object_get(tls, "plaintext_analysed")) ? ", plaintext analysed"
                                                                          : "");
        kv(b, "TLS", n);
    }
    if (fa != NULL) {
        snprintf(n, sizeof(n), "%lld events, %lld heartbeats, %lld dropped", jint(fa, "events", 0),
                 jint(fa, "heartbeats", 0), jint(fa, "dropped", 0));
        kv(b, "File access", js(fa, "status"));
        kv(b, "File-access counts", n);
    }
    if (fo != NULL) {
        json_t *ex = json_object_get(fo, "examined");

        kv(b, "Forensics", js(fo, "status"));
        if (ex != NULL) {
            snprintf(n, sizeof(n), "%lld entries, %lld changed, %lld scanned, %zu with tokens",
                     jint(ex, "entries", 0), jint(ex, "changed", 0), jint(ex, "scanned", 0),
                     json_array_size(json_object_get(fo, "files")));
            kv(b, "Forensics examined", n);
        }
    }
    avtb_buf_str(b, "</dl>\n</section>\n");
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void section_files(avtb_buf *b, const char *dir)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0, more = 0;
    struct dirent *de;

    avtb_buf_str(b, "<section id=\"files\">\n<h2>Evidence files</h2>\n");
    if (d == NULL) {
        avtb_buf_str(b, "<p class=\"dim\">The evidence directory could not be listed.</p>\n"
                        "</section>\n");
        return;
    }
    names = calloc(EVIDENCE_FILES_MAX, sizeof(*names));
    while (names != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "report.html") == 0 ||
            strstr(de->d_name, ".tmp.") != NULL)
            continue;
        if (n == EVIDENCE_FILES_MAX || (names[n] = strdup(de->d_name)) == NULL)
            more++;
        else
            n++;
    }
    closedir(d);
    if (names != NULL)
        qsort(names, n, sizeof(*names), name_cmp);
    avtb_buf_str(b, "<ul class=\"files\">\n");
    for (size_t i = 0; i < n; i++) {
        char *path = avtb_path_join(dir, names[i]);
        struct stat st;
        bool isdir = false;
        long long size = -1;

        if (path != NULL && stat(path, &st) == 0) {
            isdir = S_ISDIR(st.st_mode);
            size = (long long)st.st_size;
        }
        avtb_buf_str(b, "<li><a href=\"");
        href(b, names[i]);
        avtb_buf_str(b, isdir ? "/\"><code>" : "\"><code>");
        esc(b, names[i]);
        avtb_buf_str(b, isdir ? "/</code></a>" : "</code></a>");
        if (!isdir && size >= 0)
            avtb_buf_printf(b, " <span class=\"dim small\">%lld B</span>", size);
        avtb_buf_str(b, "</li>\n");
        free(path);
        free(names[i]);
    }
    free(names);
    avtb_buf_str(b, "</ul>\n");
    if (more > 0)
        avtb_buf_printf(b, "<p class=\"dim\">%zu more files not listed.</p>\n", more);
    avtb_buf_str(b, "</section>\n");
}

static void section_foot(avtb_buf *b, json_t *r)
{
    avtb_buf_str(b, "<footer>Generated by avtb ");
    esc(b, js(r, "avtb_version") ?: "");
    avtb_buf_str(b, " from <a href=\"report.json\">report.json</a>. Strings observed in the guest "
                    "(paths, host names, process names, command lines) are shown as recorded "
                    "and may be hostile.</footer>\n</main>\n</body>\n</html>\n");
}

avtb_err avtb_report_write_html(json_t *report, const char *dir, avtb_error *err)
{
    avtb_err ret = AVTB_ERR_NOMEM;
    avtb_buf b = {0};
    logs l = {0};
    dests d = {0};
    char *text = NULL, *path = NULL;

    if (!json_is_object(report)) {
        ret = avtb_error_set(err, AVTB_ERR_INTERNAL, "report.html: the report is not an object");
        goto out;
    }
    logs_load(&l, dir);
    dests_build(&d, report, &l);
    section_head(&b, report);
    section_banner(&b, report);
    section_facts(&b, report, &d);
    section_timeline(&b, report, &l);
    section_chains(&b, report);
    section_documents(&b, report);
    section_destinations(&b, report, &d);
    section_expectations(&b, report);
    section_policy(&b, report);
    section_phases(&b, report);
    section_run(&b, report);
    section_files(&b, dir);
    section_foot(&b, report);
    text = avtb_buf_take(&b);
    path = avtb_path_join(dir, "report.html");
    if (text == NULL || path == NULL)
        goto out;
    ret = avtb_write_file(path, text, strlen(text), 0644, err);
out:
    if (ret == AVTB_ERR_NOMEM)
        avtb_error_set(err, ret, "out of memory building %s/report.html", dir);
    avtb_buf_free(&b);
    logs_free(&l);
    free(d.v);
    free(text);
    free(path);
    return ret;
}
