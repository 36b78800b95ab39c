/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Recording format (cloud-recording.jsonl), one exchange per line:
 *   {"time":"...","host":"cloud.example","tls":true,"method":"GET",
 *    "uri":"/api?x=1","status":200,"headers":["Content-Type: text/plain"],
 *    "body_base64":"dXBsb2Fk","error":null}
 * A recording may come from another lab: every field is checked and a bad
 * line is an error naming the file and line.
 */
#include "collectors/cloud.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/util.h"

static void exchange_drop(avtb_cloud_exchange *x)
{
    free(x->host);
    free(x->method);
    free(x->uri);
    for (size_t i = 0; i < x->nheaders; i++)
        free(x->headers[i]);
    free(x->headers);
    free(x->body);
}

void avtb_cloud_free(avtb_cloud_recording *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->count; i++)
        exchange_drop(&r->items[i]);
    free(r->items);
    free(r);
}

static bool printable(const char *s, bool spaces)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            if (!(spaces && (*s == ' ' || *s == '\t')))
                return false;
    return true;
}

/* base64 text to bytes; false if it is not base64 or decodes to more than cap. */
static bool unbase64(const char *in, uint8_t **out, size_t *len, size_t cap)
{
    size_t n = strlen(in), pad = 0;
    uint8_t *buf;
    int got;

    *out = NULL;
    *len = 0;
    if (n % 4 != 0 || n / 4 * 3 > cap + 2)
        return false;
    buf = malloc(n / 4 * 3 + 1);
    if (buf == NULL)
        return false;
    got = n ? EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n) : 0;
    if (got < 0) {
        free(buf);
        return false;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    if (n >= 1 && in[n - 1] == '=')
        pad++;
    if (n >= 2 && in[n - 2] == '=')
        pad++;
    *out = buf;
    *len = (size_t)got - pad;
    return true;
}

/* One line into x; NULL on success, else what is wrong. */
static const char *parse_line(json_t *o, avtb_cloud_exchange *x)
{
    json_t *host = json_object_get(o, "host"), *method = json_object_get(o, "method");
    json_t *uri = json_object_get(o, "uri"), *status = json_object_get(o, "status");
    json_t *headers = json_object_get(o, "headers"), *body = json_object_get(o, "body_base64");
    json_t *tls = json_object_get(o, "tls"), *h;
    size_t i;

    if (!json_is_object(o))
        return "not a JSON object";
    if (!json_is_string(host) || !printable(json_string_value(host), false) ||
        json_string_length(host) == 0 || json_string_length(host) > 255)
        return "'host' must be a host name";
    if (!json_is_string(method) || !printable(json_string_value(method), false) ||
        json_string_length(method) == 0 || json_string_length(method) > 32)
        return "'method' must be an HTTP method";
    if (!json_is_string(uri) || json_string_value(uri)[0] != '/' ||
        !printable(json_string_value(uri), false))
        return "'uri' must be a request target starting with /";
    if (!json_is_integer(status) || json_integer_value(status) < 0 ||
        json_integer_value(status) > 599)
        return "'status' must be 0 (no answer) or an HTTP status";
    if (tls != NULL && !json_is_boolean(tls))
        return "'tls' must be true or false";
    if (headers != NULL &&
        (!json_is_array(headers) || json_array_size(headers) > AVTB_CLOUD_MAX_HEADERS))
        return "'headers' must be a list of at most 128 \"Name: value\" strings";
    if (body != NULL && !json_is_string(body))
        return "'body_base64' must be a string";
    x->host = strdup(json_string_value(host));
    x->method = strdup(json_string_value(method));
    x->uri = strdup(json_string_value(uri));
    x->status = (unsigned)json_integer_value(status);
    x->tls = json_is_true(tls);
    x->headers = calloc(json_array_size(headers) + 1, sizeof(char *));
    if (x->host == NULL || x->method == NULL || x->uri == NULL || x->headers == NULL)
        return "out of memory";
    for (char *p = x->host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    json_array_foreach(headers, i, h)
    {
        const char *v = json_string_value(h);

        if (v == NULL || strchr(v, ':') == NULL || v == strchr(v, ':') || !printable(v, true))
            return "each header must be a \"Name: value\" string";
        x->headers[x->nheaders] = strdup(v);
        if (x->headers[x->nheaders] == NULL)
            return "out of memory";
        x->nheaders++;
    }
    if (body != NULL &&
        !unbase64(json_string_value(body), &x->body, &x->body_len, AVTB_CLOUD_MAX_BODY))
        return "'body_base64' is not base64 of at most 16 MiB";
    return NULL;
}

avtb_err avtb_cloud_load(const char *path, avtb_cloud_recording **out, avtb_error *err)
{
    avtb_err r = AVTB_ERR_INTERNAL;
    avtb_cloud_recording *rec = calloc(1, sizeof(*rec));
    char *file = NULL, *line = NULL;
    size_t cap = 0, lineno = 0, items_cap = 0;
    struct stat st;
    FILE *fp = NULL;

    *out = NULL;
    if (rec == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        file = avtb_path_join(path, AVTB_CLOUD_FILE);
    else
        file = strdup(path);
    if (file == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        goto out;
    }
    fp = fopen(file, "re");
    if (fp == NULL) {
        r = avtb_error_errno(err, AVTB_ERR_IO, errno,
                             "cannot read the cloud recording %s (made by avtb run --record)",
                             file);
        goto out;
    }
    while (getline(&line, &cap, fp) > 0) {
        json_error_t je;
        json_t *o;
        const char *why;

        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        if (rec->count == AVTB_CLOUD_MAX_EXCHANGE) {
            r = avtb_error_set(err, AVTB_ERR_INPUT, "%s:%zu: more than %u exchanges", file, lineno,
                               AVTB_CLOUD_MAX_EXCHANGE);
            goto out;
        }
        if (rec->count == items_cap) {
            size_t ncap = items_cap ? items_cap * 2 : 16;
            avtb_cloud_exchange *n = realloc(rec->items, ncap * sizeof(*n));

            if (n == NULL) {
                r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
                goto out;
            }
            rec->items = n;
            items_cap = ncap;
        }
        o = json_loads(line, JSON_REJECT_DUPLICATES, &je);
        if (o == NULL) {
            r = avtb_error_set(err, AVTB_ERR_INPUT, "%s:%zu:%d: not JSON: %s", file, lineno,
                               je.column, je.text);
            goto out;
        }
        memset(&rec->items[rec->count], 0, sizeof(rec->items[0]));
        why = parse_line(o, &rec->items[rec->count]);
        rec->count++; /* counted even when bad, so it is freed */
        json_decref(o);
        if (why != NULL) {
            r = avtb_error_set(err, AVTB_ERR_INPUT,
                               "%s:%zu: %s; re-record it with avtb run --record", file, lineno,
                               why);
            goto out;
        }
    }
    if (ferror(fp)) {
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot read %s", file);
        goto out;
    }
    *out = rec;
    rec = NULL; /* transferred */
    r = AVTB_OK;
out:
    if (fp != NULL)
        fclose(fp);
    free(line);
    free(file);
    avtb_cloud_free(rec);
    return r;
}

static size_t path_len(const char *uri)
{
    return strcspn(uri, "?#");
}

static bool matches(const avtb_cloud_exchange *x, const char *host, const char *method,
                    const char *uri, bool exact)
{
    size_t pl = path_len(uri);

    if (strcasecmp(x->host, host) != 0 || strcmp(x->method, method) != 0)
        return false;
    return exact ? strcmp(x->uri, uri) == 0
                 : path_len(x->uri) == pl && strncmp(x->uri, uri, pl) == 0;
}

const avtb_cloud_exchange *avtb_cloud_match(avtb_cloud_recording *r, const char *host,
                                            const char *method, const char *uri)
{
    if (r == NULL || host == NULL || method == NULL || uri == NULL)
        return NULL;
    for (int exact = 1; exact >= 0; exact--)
        for (size_t i = 0; i < r->count; i++)
            if (!r->items[i].used && matches(&r->items[i], host, method, uri, exact)) {
                r->items[i].used = true;
                return &r->items[i];
            }
    /* Everything that matches was served: the last one, again. */
    for (int exact = 1; exact >= 0; exact--)
        for (size_t i = r->count; i-- > 0;)
            if (matches(&r->items[i], host, method, uri, exact))
                return &r->items[i];
    return NULL;
}

static bool parse_port(const char *s, size_t n, uint16_t *port)
{
    unsigned long v = 0;

    *port = 0;
    if (n == 0)
        return true;
    if (n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

avtb_err avtb_connect_to_parse(const char *spec, avtb_connect_to *out, avtb_error *err)
{
    const char *f[4], *p = spec;
    size_t len[4];

    memset(out, 0, sizeof(*out));
    /* HOST:PORT:TO_HOST:TO_PORT; TO_HOST may be an IPv6 literal in brackets. */
    for (int i = 0; i < 4; i++) {
        f[i] = p;
        if (i == 2 && *p == '[') {
            const char *close = strchr(p, ']');

            if (close == NULL)
                goto bad;
            f[i] = p + 1;
            len[i] = (size_t)(close - p - 1);
            p = close + 1;
            if (*p != ':')
                goto bad;
            p++;
            continue;
        }
        len[i] = i == 3 ? strlen(p) : strcspn(p, ":");
        if (i < 3 && p[len[i]] != ':')
            goto bad;
        p += len[i] + (i < 3);
    }
    if (len[0] >= sizeof(out->host) || len[2] == 0 || len[2] >= sizeof(out->to_host) ||
        !parse_port(f[1], len[1], &out->port) || !parse_port(f[3], len[3], &out->to_port) ||
        out->to_port == 0)
        goto bad;
    memcpy(out->host, f[0], len[0]);
    memcpy(out->to_host, f[2], len[2]);
    return AVTB_OK;
bad:
    return avtb_error_set(err, AVTB_ERR_USAGE,
                          "--connect-to '%s': want HOST:PORT:TO_HOST:TO_PORT (HOST and PORT may "
                          "be empty for any), e.g. cloud.example:443:10.0.0.5:8443",
                          spec);
}

void avtb_connect_to_apply(const avtb_connect_to *list, size_t n, const char *host, uint16_t port,
                           const char **to_host, uint16_t *to_port)
{
    *to_host = host;
    *to_port = port;
    for (size_t i = 0; i < n; i++) {
        if (list[i].host[0] != '\0' && strcasecmp(list[i].host, host) != 0)
            continue;
        if (list[i].port != 0 && list[i].port != port)
            continue;
        *to_host = list[i].to_host;
        *to_port = list[i].to_port;
        return;
    }
}

json_t *avtb_cloud_json(const avtb_cloud_exchange *x, const char *time, const char *error)
{
    json_t *o, *hdrs = json_array();
    char *b64 = NULL;

    if (hdrs == NULL)
        return NULL;
    for (size_t i = 0; i < x->nheaders; i++)
        json_array_append_new(hdrs, json_string(x->headers[i]));
    b64 = malloc((x->body_len + 2) / 3 * 4 + 1);
    if (b64 == NULL) {
        json_decref(hdrs);
        return NULL;
    }
    EVP_EncodeBlock((unsigned char *)b64, x->body ? x->body : (const uint8_t *)"",
                    (int)x->body_len);
    o = json_pack("{s:s, s:s, s:b, s:s, s:s, s:i, s:o, s:s, s:s?}", "time", time, "host", x->host,
                  "tls", (int)x->tls, "method", x->method, "uri", x->uri, "status", (int)x->status,
                  "headers", hdrs, "body_base64", b64, "error", error);
    free(b64);
    return o;
}
