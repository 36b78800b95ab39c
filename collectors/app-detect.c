/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Protocol detection and the HTTP/1.x request framing; see app-detect.h.
 * The parser is a byte-driven state machine so that a request split at any
 * byte parses the same as one that arrives whole. It frames requests only
 * (request line, headers, Content-Length or chunked body); decoding bodies
 * is a later stage.
 */
#include "collectors/app-detect.h"

#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_METHOD 16
#define MAX_HOST   255

typedef enum {
    ST_METHOD,     /* request line up to the first space */
    ST_TARGET,     /* rest of the request line */
    ST_HEADER,     /* one header line, or the empty line */
    ST_BODY,       /* Content-Length bytes */
    ST_CHUNK_SIZE, /* chunk-size [; ext] CRLF */
    ST_CHUNK_DATA,
    ST_CHUNK_END, /* CRLF after the chunk data */
    ST_TRAILER,   /* trailer lines up to the empty line */
    ST_ERROR,
} http_state;

struct avtb_http_parser {
    http_state st;
    char *line; /* grows up to AVTB_HTTP_MAX_LINE; most streams never need much */
    size_t line_len, line_cap;
    uint64_t remaining; /* body or chunk bytes left */
    bool has_length, chunked;
    uint64_t length;
    bool is_http;
    bool headers_done;
    char *host;     /* of the last complete header block */
    char *cur_host; /* being collected */
    uint64_t requests;
};

static const char *const methods[] = {
    "GET",     "POST",   "PUT",      "HEAD",      "DELETE", "OPTIONS", "PATCH",
    "CONNECT", "TRACE",  "PROPFIND", "PROPPATCH", "MKCOL",  "COPY",    "MOVE",
    "LOCK",    "UNLOCK", "REPORT",   "SEARCH",    NULL,
};

const char *avtb_app_proto_name(avtb_app_proto p)
{
    switch (p) {
    case AVTB_APP_HTTP:
        return "http";
    case AVTB_APP_DNS:
        return "dns";
    case AVTB_APP_UDP:
        return "udp";
    case AVTB_APP_TCP:
        break;
    }
    return "tcp";
}

avtb_app_proto avtb_app_by_port(uint8_t ipproto, uint16_t port_a, uint16_t port_b)
{
    if (port_a == 53 || port_b == 53)
        return AVTB_APP_DNS;
    return ipproto == IPPROTO_UDP ? AVTB_APP_UDP : AVTB_APP_TCP;
}

avtb_http_parser *avtb_http_parser_new(void)
{
    return calloc(1, sizeof(avtb_http_parser));
}

void avtb_http_parser_free(avtb_http_parser *p)
{
    if (p == NULL)
        return;
    free(p->line);
    free(p->host);
    free(p->cur_host);
    free(p);
}

static bool line_add(avtb_http_parser *p, char c)
{
    if (p->line_len + 1 >= p->line_cap) {
        size_t ncap = p->line_cap ? p->line_cap * 2 : 256;
        char *n;

        if (ncap > AVTB_HTTP_MAX_LINE)
            return false;
        n = realloc(p->line, ncap);
        if (n == NULL)
            return false;
        p->line = n;
        p->line_cap = ncap;
    }
    p->line[p->line_len++] = c;
    p->line[p->line_len] = '\0';
    return true;
}

static bool known_method(const char *m)
{
    for (size_t i = 0; methods[i] != NULL; i++)
        if (strcmp(m, methods[i]) == 0)
            return true;
    return false;
}

/* Value of "name: value" with optional whitespace trimmed, or NULL. */
static char *header_value(char *line, const char *name)
{
    size_t n = strlen(name);
    char *v, *end;

    if (strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    v = line + n + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    end = v + strlen(v);
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    return v;
}

/* Parses decimal (base 10) or hex (base 16) digits; false on none or overflow. */
static bool parse_u64(const char *s, int base, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;

    for (; s[i] != '\0'; i++) {
        int d;

        if (isdigit((unsigned char)s[i]))
            d = s[i] - '0';
        else if (base == 16 && isxdigit((unsigned char)s[i]))
            d = tolower((unsigned char)s[i]) - 'a' + 10;
        else
            break;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return i > 0;
}

/*
 * The Host value as findings will carry it: printable ASCII only (it ends up
 * in JSON and HTML reports) and at most a DNS name's length.
 */
static char *host_copy(const char *v)
{
    size_t n = strnlen(v, MAX_HOST);
    char *h = malloc(n + 1);

    if (h == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        h[i] = (v[i] > 0x20 && v[i] < 0x7f) ? v[i] : '?';
    h[n] = '\0';
    return h;
}

/* One complete header line (CR stripped). Returns false if malformed. */
static bool header_line(avtb_http_parser *p)
{
    char *v;

    if ((v = header_value(p->line, "Host")) != NULL) {
        if (p->cur_host == NULL && (p->cur_host = host_copy(v)) == NULL)
            return false;
    } else if ((v = header_value(p->line, "Content-Length")) != NULL) {
        uint64_t n;

        if (!parse_u64(v, 10, &n) || v[strspn(v, "0123456789")] != '\0')
            return false;
        p->has_length = true;
        p->length = n;
    } else if ((v = header_value(p->line, "Transfer-Encoding")) != NULL) {
        /* chunked must be the last coding (RFC 9112 6.1); be lenient and look for it. */
        if (strcasestr(v, "chunked") != NULL)
            p->chunked = true;
    }
    return true;
}

static void headers_end(avtb_http_parser *p)
{
    free(p->host);
    p->host = p->cur_host;
    p->cur_host = NULL;
    p->requests++;
    p->headers_done = true;
    if (p->chunked) {
        p->st = ST_CHUNK_SIZE;
    } else if (p->has_length && p->length > 0) {
        p->remaining = p->length;
        p->st = ST_BODY;
    } else {
        p->st = ST_METHOD;
    }
    p->chunked = false;
    p->has_length = false;
    p->length = 0;
}

/* A line-oriented state got its LF. Returns true at a boundary. */
static bool line_done(avtb_http_parser *p)
{
    bool boundary = false;

    if (p->line_len > 0 && p->line[p->line_len - 1] == '\r')
        p->line[--p->line_len] = '\0';
    switch (p->st) {
    case ST_TARGET:
        p->st = ST_HEADER;
        break;
    case ST_HEADER:
        if (p->line_len == 0) {
            headers_end(p);
            boundary = true;
        } else if (!header_line(p)) {
            p->st = ST_ERROR;
        }
        break;
    case ST_CHUNK_SIZE:
        if (!parse_u64(p->line, 16, &p->remaining))
            p->st = ST_ERROR;
        else
            p->st = p->remaining > 0 ? ST_CHUNK_DATA : ST_TRAILER;
        break;
    case ST_CHUNK_END:
        p->st = p->line_len == 0 ? ST_CHUNK_SIZE : ST_ERROR;
        break;
    case ST_TRAILER:
        if (p->line_len == 0) {
            p->st = ST_METHOD;
            boundary = true;
        }
        break;
    default:
        break;
    }
    p->line_len = 0;
    if (p->line != NULL)
        p->line[0] = '\0';
    return boundary;
}

/* ST_METHOD: up to the first space, which must follow a known method. */
static void method_byte(avtb_http_parser *p, char c)
{
    /* Between requests, stray CRLFs are tolerated (RFC 9112 2.2). */
    if (p->line_len == 0 && p->requests > 0 && (c == '\r' || c == '\n'))
        return;
    if (c == ' ') {
        if (!known_method(p->line != NULL ? p->line : "")) {
            p->st = ST_ERROR;
            return;
        }
        p->is_http = true;
        p->line_len = 0;
        p->st = ST_TARGET;
        return;
    }
    if (c < 'A' || c > 'Z' || p->line_len >= MAX_METHOD || !line_add(p, c))
        p->st = ST_ERROR;
}

avtb_parse_result avtb_http_parse(avtb_http_parser *p, const uint8_t *buf, size_t len,
                                  size_t *consumed)
{
    size_t i = 0;

    *consumed = 0;
    p->headers_done = false;
    while (i < len) {
        switch (p->st) {
        case ST_ERROR:
            *consumed = i;
            return AVTB_PARSE_ERROR;
        case ST_BODY:
        case ST_CHUNK_DATA: {
            uint64_t take = len - i < p->remaining ? len - i : p->remaining;

            i += (size_t)take;
            p->remaining -= take;
            if (p->remaining > 0)
                break;
            if (p->st == ST_CHUNK_DATA) {
                p->st = ST_CHUNK_END;
                break;
            }
            p->st = ST_METHOD;
            *consumed = i;
            return AVTB_PARSE_OK;
        }
        case ST_METHOD:
            method_byte(p, (char)buf[i++]);
            break;
        default: {
            char c = (char)buf[i++];

            if (c == '\n') {
                if (line_done(p)) {
                    *consumed = i;
                    return AVTB_PARSE_OK;
                }
            } else if (!line_add(p, c)) {
                p->st = ST_ERROR;
            }
            break;
        }
        }
    }
    *consumed = i;
    return p->st == ST_ERROR ? AVTB_PARSE_ERROR : AVTB_PARSE_NEED_MORE;
}

bool avtb_http_is_http(const avtb_http_parser *p)
{
    return p->is_http;
}

bool avtb_http_in_body(const avtb_http_parser *p)
{
    return p->st == ST_BODY || p->st == ST_CHUNK_SIZE || p->st == ST_CHUNK_DATA ||
           p->st == ST_CHUNK_END || p->st == ST_TRAILER;
}

bool avtb_http_headers_done(const avtb_http_parser *p)
{
    return p->headers_done;
}

const char *avtb_http_host(const avtb_http_parser *p)
{
    return p->host;
}

uint64_t avtb_http_requests(const avtb_http_parser *p)
{
    return p->requests;
}
