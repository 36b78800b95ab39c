/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The decoder chain (collectors/transform.c): every encoding a product may
 * wrap a token in comes back out as a view with the right bytes and path;
 * bombs, corrupt streams and wrong passwords are anomalies with bounded
 * memory; noise gives no views. All inputs are built here with the real
 * encoders (zlib, brotli, zstd, libarchive's writer).
 */
#include <archive.h>
#include <archive_entry.h>
#include <brotli/encode.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zlib.h>
#include <zstd.h>

#include "collectors/transform.h"
#include "memcheck.h"

#define TOKEN "AVTBQ3XK7PZL2M4NRJ5WTY"
/* Views longer than this are recorded by length and an all-zero flag only. */
#define COPY_MAX (1u << 20)

/* ---- a sink that records everything ----------------------------------------- */

typedef struct seen {
    uint8_t *data; /* NULL when longer than COPY_MAX */
    size_t len;
    bool zeros; /* every byte 0 */
    char path[256];
    char *member;
    size_t depth;
} seen;

typedef struct col {
    seen *v;
    size_t n, cap;
    char **anom;
    size_t nanom;
    size_t max_depth_seen;
    const char *refuse; /* views whose path is this are not decoded further */
} col;

static void join_path(const avtb_view *v, char *out, size_t cap)
{
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = 0; i < v->depth && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "/" : "", v->path[i]);
}

static bool on_view(void *ctx, const avtb_view *v)
{
    col *c = ctx;
    seen *s;

    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = realloc(c->v, c->cap * sizeof(*c->v));
        ck_assert_ptr_nonnull(c->v);
    }
    s = &c->v[c->n++];
    memset(s, 0, sizeof(*s));
    s->len = v->len;
    s->depth = v->depth;
    s->zeros = true;
    for (size_t i = 0; i < v->len && s->zeros; i++)
        s->zeros = v->data[i] == 0;
    if (v->len <= COPY_MAX) {
        s->data = malloc(v->len + 1);
        ck_assert_ptr_nonnull(s->data);
        memcpy(s->data, v->data, v->len);
        s->data[v->len] = 0;
    }
    join_path(v, s->path, sizeof(s->path));
    if (v->member != NULL)
        s->member = strdup(v->member);
    if (v->depth > c->max_depth_seen)
        c->max_depth_seen = v->depth;
    ck_assert(v->depth == 0 || v->len > 0);
    return c->refuse == NULL || strcmp(s->path, c->refuse) != 0;
}

static void on_anomaly(void *ctx, const avtb_view *where, const char *what)
{
    col *c = ctx;

    c->anom = realloc(c->anom, (c->nanom + 1) * sizeof(*c->anom));
    ck_assert_ptr_nonnull(c->anom);
    c->anom[c->nanom++] = strdup(what);
}

static const avtb_transform_sink sink = {.view = on_view, .anomaly = on_anomaly};

static void col_free(col *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].data);
        free(c->v[i].member);
    }
    for (size_t i = 0; i < c->nanom; i++)
        free(c->anom[i]);
    free(c->v);
    free(c->anom);
    memset(c, 0, sizeof(*c));
}

static void walk_l(col *c, const void *buf, size_t len, const avtb_transform_limits *l)
{
    ck_assert_int_eq(avtb_transform_walk(buf, len, l, &sink, c), AVTB_OK);
    ck_assert_uint_ge(c->n, 1);
    ck_assert_uint_eq(c->v[0].depth, 0);
    ck_assert_uint_eq(c->v[0].len, len);
}

static void walk(col *c, const void *buf, size_t len)
{
    walk_l(c, buf, len, NULL);
}

static void walk_str(col *c, const char *s)
{
    walk(c, s, strlen(s));
}

/* The view with exactly this path and these bytes. */
static const seen *find(const col *c, const char *path, const void *data, size_t len)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].path, path) == 0 && c->v[i].len == len && c->v[i].data != NULL &&
            memcmp(c->v[i].data, data, len) == 0)
            return &c->v[i];
    return NULL;
}

static const seen *find_str(const col *c, const char *path, const char *s)
{
    return find(c, path, s, strlen(s));
}

/* A view with this path containing needle. */
static const seen *find_in(const col *c, const char *path, const char *needle)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].path, path) == 0 && c->v[i].data != NULL &&
            memmem(c->v[i].data, c->v[i].len, needle, strlen(needle)) != NULL)
            return &c->v[i];
    return NULL;
}

static const char *anomaly_with(const col *c, const char *needle)
{
    for (size_t i = 0; i < c->nanom; i++)
        if (strstr(c->anom[i], needle) != NULL)
            return c->anom[i];
    return NULL;
}

static void dump(const col *c)
{
    for (size_t i = 0; i < c->n; i++)
        fprintf(stderr, "  view %zu: path=%s len=%zu member=%s\n", i, c->v[i].path, c->v[i].len,
                c->v[i].member ? c->v[i].member : "-");
    for (size_t i = 0; i < c->nanom; i++)
        fprintf(stderr, "  anomaly: %s\n", c->anom[i]);
}

#define assert_view(c, path, data, len)                                                            \
    do {                                                                                           \
        if (find((c), (path), (data), (len)) == NULL) {                                            \
            dump(c);                                                                               \
            ck_abort_msg("no %s view with the expected %zu bytes", (path), (size_t)(len));         \
        }                                                                                          \
    } while (0)
#define assert_view_str(c, path, s) assert_view((c), (path), (s), strlen(s))

/* ---- encoders -------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    rng = seed;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(next_rand() >> 29);
}

/* base64 (url alphabet, padding and line wrapping optional); caller frees. */
static char *b64(const void *data, size_t n, bool url, bool pad, size_t wrap)
{
    const char *al = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                         : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *p = data;
    char *out = malloc(n * 2 + 16), *o = out;
    size_t width = 0;

    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v =
            (uint32_t)p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        size_t k = n - i >= 3 ? 4 : n - i + 1;

        for (size_t j = 0; j < 4; j++) {
            if (wrap && width == wrap) {
                *o++ = '\r';
                *o++ = '\n';
                width = 0;
            }
            if (j < k)
                *o++ = al[(v >> (18 - 6 * j)) & 63];
            else if (pad)
                *o++ = '=';
            else
                break;
            width++;
        }
    }
    *o = '\0';
    return out;
}

/* base32 (RFC 4648, no padding), lower case optional, a '.' every label chars. */
static char *b32(const void *data, size_t n, bool lower, size_t label)
{
    const char *al =
        lower ? "abcdefghijklmnopqrstuvwxyz234567" : "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const uint8_t *p = data;
    char *out = malloc(n * 2 + 16), *o = out;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t width = 0;

    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i <= n; i++) {
        if (i < n) {
            acc = acc << 8 | p[i];
            bits += 8;
        } else if (bits > 0) {
            acc <<= 5 - bits;
            bits = 5;
        }
        while (bits >= 5) {
            if (label && width == label) {
                *o++ = '.';
                width = 0;
            }
            *o++ = al[(acc >> (bits - 5)) & 31];
            bits -= 5;
            width++;
        }
    }
    *o = '\0';
    return out;
}

static char *hexenc(const void *data, size_t n, bool upper, char sep)
{
    const uint8_t *p = data;
    char *out = malloc(n * 3 + 1), *o = out;

    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < n; i++) {
        if (sep && i > 0)
            *o++ = sep;
        o += sprintf(o, upper ? "%02X" : "%02x", p[i]);
    }
    *o = '\0';
    return out;
}

/* zlib framing: 31 gzip, 15 zlib, -15 raw deflate. */
static uint8_t *zcompress(const void *data, size_t n, int wbits, size_t *out_len)
{
    z_stream zs = {0};
    size_t cap;
    uint8_t *out;

    ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    cap = deflateBound(&zs, n) + 64;
    out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static uint8_t *brcompress(const void *data, size_t n, size_t *out_len)
{
    size_t cap = BrotliEncoderMaxCompressedSize(n);
    uint8_t *out = malloc(cap);

    ck_assert_ptr_nonnull(out);
    *out_len = cap;
    ck_assert(BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW,
                                    BROTLI_MODE_GENERIC, n, data, out_len, out));
    return out;
}

static uint8_t *zstdcompress(const void *data, size_t n, size_t *out_len)
{
    size_t cap = ZSTD_compressBound(n);
    uint8_t *out = malloc(cap);

    ck_assert_ptr_nonnull(out);
    *out_len = ZSTD_compress(out, cap, data, n, 3);
    ck_assert(!ZSTD_isError(*out_len));
    return out;
}

typedef struct member {
    const char *name;
    const void *data;
    size_t len;
} member;

/*
 * An archive built with libarchive's writer: format "zip", "7zip", "ustar",
 * "cpio"...; filter NULL or "gzip"; options and passphrase may be NULL.
 */
static uint8_t *make_archive(const char *format, const char *filter, const char *options,
                             const char *passphrase, const member *m, size_t n, size_t *len)
{
    struct archive *a = archive_write_new();
    size_t cap = 1 << 20, used = 0;
    uint8_t *buf;

    for (size_t i = 0; i < n; i++)
        cap += m[i].len + 1024;
    buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(archive_write_set_format_by_name(a, format), ARCHIVE_OK);
    if (filter != NULL)
        ck_assert_int_eq(archive_write_add_filter_by_name(a, filter), ARCHIVE_OK);
    if (options != NULL)
        ck_assert_msg(archive_write_set_options(a, options) == ARCHIVE_OK, "%s",
                      archive_error_string(a));
    if (passphrase != NULL)
        ck_assert_int_eq(archive_write_set_passphrase(a, passphrase), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();

        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_size(e, (la_int64_t)m[i].len);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        ck_assert_msg(archive_write_header(a, e) == ARCHIVE_OK, "%s", archive_error_string(a));
        ck_assert_int_eq(archive_write_data(a, m[i].data, m[i].len), (la_ssize_t)m[i].len);
        archive_entry_free(e);
    }
    ck_assert_msg(archive_write_close(a) == ARCHIVE_OK, "%s", archive_error_string(a));
    archive_write_free(a);
    *len = used;
    return buf;
}

/* A few KiB of text around the token, so the compressed forms are binary. */
static char *token_text(void)
{
    size_t cap = 8192, o = 0;
    char *t = malloc(cap);

    ck_assert_ptr_nonnull(t);
    rng = 42;
    for (int i = 0; i < 200; i++) {
        o += (size_t)snprintf(t + o, cap - o, "line %d value %llu; ", i,
                              (unsigned long long)(next_rand() % 100000));
        if (i == 100)
            o += (size_t)snprintf(t + o, cap - o, "secret=%s; ", TOKEN);
    }
    return t;
}

/* ---- text encodings --------------------------------------------------------- */

START_TEST(base64_padded_and_unpadded)
{
    static const char plain[] = "user=alice&doc=" TOKEN "&x=1"; /* 41 bytes: pads */
    char *enc = b64(plain, strlen(plain), false, true, 0), body[512];
    col c = {0};

    ck_assert(strchr(enc, '=') != NULL);
    snprintf(body, sizeof(body), "{\"id\":7,\"blob\":\"%s\",\"ok\":true}", enc);
    walk_str(&c, body);
    assert_view_str(&c, "base64", plain);
    col_free(&c);
    free(enc);

    enc = b64(plain, strlen(plain), false, false, 0);
    ck_assert(strchr(enc, '=') == NULL);
    snprintf(body, sizeof(body), "data=%s&next=1", enc);
    walk_str(&c, body);
    assert_view_str(&c, "base64", plain);
    col_free(&c);
    free(enc);
}
END_TEST

/* The token at byte offset 0, 1 and 2 of the encoded plaintext (so at every
 * position within a base64 quantum) inside a larger body. */
START_TEST(base64_token_at_every_offset)
{
    for (int k = 0; k < 3; k++) {
        char plain[128], *enc, *body;
        col c = {0};

        snprintf(plain, sizeof(plain), "%.*s%s and some more bytes after it", k, "xy", TOKEN);
        enc = b64(plain, strlen(plain), false, true, 0);
        body = malloc(strlen(enc) + 64);
        sprintf(body, "POST body: {\"f\":\"%s\"}\r\n", enc);
        walk_str(&c, body);
        assert_view_str(&c, "base64", plain);
        col_free(&c);
        free(enc);
        free(body);
    }
}
END_TEST

/* A run that starts with characters of the alphabet that are not part of
 * the encoding ("/api/v1x/" + base64): decoded at the other alignments. */
START_TEST(base64_misaligned_run)
{
    static const char plain[] = "id " TOKEN " end.."; /* 31 bytes, sent unpadded */
    char *enc = b64(plain, strlen(plain), false, false, 0), body[256];
    col c = {0};
    const seen *s;

    snprintf(body, sizeof(body), "GET /api/v1x/%s HTTP/1.1\r\n", enc);
    walk_str(&c, body);
    /* the run is "/api/v1x/..." (9 chars of glue): shift 1 leaves 8 chars, 6 bytes */
    s = find_in(&c, "base64", plain);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->len, 6 + strlen(plain));
    ck_assert_mem_eq(s->data + 6, plain, strlen(plain));
    col_free(&c);
    free(enc);
}
END_TEST

START_TEST(base64url)
{
    static const char plain[] = "\xfb\xff\xbf" TOKEN "\xfe\xff";
    char *enc = b64(plain, strlen(plain), true, false, 0), body[256];
    col c = {0};

    ck_assert(strpbrk(enc, "-_") != NULL);
    snprintf(body, sizeof(body), "https://x.example/c?t=%s&u=1", enc);
    walk_str(&c, body);
    assert_view_str(&c, "base64url", plain);
    col_free(&c);
    free(enc);
}
END_TEST

/* MIME: CRLF every 76 chars; the whole body is one run. */
START_TEST(base64_wrapped_at_76)
{
    char *plain = token_text(), *enc = b64(plain, strlen(plain), false, true, 76);
    char *mail = malloc(strlen(enc) + 256);
    col c = {0};

    ck_assert(strstr(enc, "\r\n") != NULL);
    sprintf(mail,
            "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n",
            enc);
    walk_str(&c, mail);
    assert_view_str(&c, "base64", plain);
    col_free(&c);
    free(mail);
    free(enc);
    free(plain);
}
END_TEST

/* Lines "key=<base64>": a line break does not glue the next key to the run. */
START_TEST(base64_lines_not_glued)
{
    static const char plain[] = "a" TOKEN "b"; /* 24 bytes: 32 chars, no padding */
    char *enc = b64(plain, strlen(plain), false, true, 0), body[256];
    col c = {0};

    snprintf(body, sizeof(body), "k=%s\nid=7\n", enc);
    walk_str(&c, body);
    assert_view_str(&c, "base64", plain);
    col_free(&c);
    free(enc);
}
END_TEST

START_TEST(base32_upper_and_lower)
{
    static const char plain[] = "doc:" TOKEN;
    char *up = b32(plain, strlen(plain), false, 0), *lo = b32(plain, strlen(plain), true, 0);
    char body[256];
    col c = {0};

    snprintf(body, sizeof(body), "v=%s;", up);
    walk_str(&c, body);
    assert_view_str(&c, "base32", plain);
    col_free(&c);
    snprintf(body, sizeof(body), "v=%s;", lo);
    walk_str(&c, body);
    assert_view_str(&c, "base32", plain);
    col_free(&c);
    free(up);
    free(lo);
}
END_TEST

/* DNS exfiltration: base32 split into labels, as the caller passes the name. */
START_TEST(base32_dns_labels)
{
    static const char plain[] = "f=report.docx;" TOKEN;
    char *labels = b32(plain, strlen(plain), true, 20),
         *upper = b32(plain, strlen(plain), false, 5);
    char name[256];
    col c = {0};
    const seen *s;

    ck_assert(strchr(labels, '.') != NULL);
    walk_str(&c, labels);
    assert_view_str(&c, "base32", plain);
    col_free(&c);

    walk_str(&c, upper); /* "MFRGG.ZDFMZ..." */
    assert_view_str(&c, "base32", plain);
    col_free(&c);

    /* with the zone after it: the decoding ends in a few bytes of noise */
    snprintf(name, sizeof(name), "%s.exfil.example.com", labels);
    walk_str(&c, name);
    s = find_in(&c, "base32", TOKEN);
    ck_assert_ptr_nonnull(s);
    ck_assert_mem_eq(s->data, plain, strlen(plain));
    col_free(&c);
    free(labels);
    free(upper);
}
END_TEST

START_TEST(hex_forms)
{
    static const char plain[] = "tok=" TOKEN;
    char *forms[4] = {hexenc(plain, strlen(plain), false, 0), hexenc(plain, strlen(plain), true, 0),
                      hexenc(plain, strlen(plain), false, ':'),
                      hexenc(plain, strlen(plain), true, ' ')};

    for (int i = 0; i < 4; i++) {
        char body[512];
        col c = {0};

        snprintf(body, sizeof(body), "payload [%s] end", forms[i]);
        walk_str(&c, body);
        assert_view_str(&c, "hex", plain);
        col_free(&c);
        free(forms[i]);
    }
}
END_TEST

START_TEST(percent_form)
{
    col c = {0};

    walk_str(&c, "name=a+b&doc=AVTB%51%33XK7PZL2M4NRJ5WTY&x=%2Fetc%2fpasswd+ok");
    assert_view_str(&c, "percent", "name=a b&doc=" TOKEN "&x=/etc/passwd ok");
    col_free(&c);
    /* no %XX: not percent-decoded, even with '+' */
    walk_str(&c, "a+b+c=" TOKEN);
    ck_assert_ptr_null(find_in(&c, "percent", "a b"));
    col_free(&c);
}
END_TEST

START_TEST(utf16)
{
    static const char plain[] = "C:\\Users\\bob\\" TOKEN ".docx";
    size_t n = strlen(plain);
    uint8_t buf[256];
    col c = {0};

    memset(buf, 0xee, sizeof(buf));
    for (size_t i = 0; i < n; i++) {
        buf[7 + 2 * i] = (uint8_t)plain[i]; /* odd offset: alignment does not matter */
        buf[7 + 2 * i + 1] = 0;
    }
    walk(&c, buf, 7 + 2 * n + 9);
    assert_view_str(&c, "utf16le", plain);
    col_free(&c);

    memset(buf, 0xee, sizeof(buf));
    for (size_t i = 0; i < n; i++) {
        buf[4 + 2 * i] = 0;
        buf[4 + 2 * i + 1] = (uint8_t)plain[i];
    }
    buf[4 + 2 * n] = 0x12;
    walk(&c, buf, 4 + 2 * n + 9);
    assert_view_str(&c, "utf16be", plain);
    col_free(&c);
}
END_TEST

START_TEST(short_runs_are_ignored)
{
    col c = {0};

    /* 12 base64 chars, 14 hex digits, a 10-char base32 run: all below 16 */
    walk_str(&c, "a=aGVsbG8gd29y b=41565442513358 c=MFRGGZDFMZ end");
    ck_assert_uint_eq(c.n, 1);
    col_free(&c);
}
END_TEST

/* More runs than max_runs: the first are views of their own, the rest one
 * joined view, and an anomaly says so. */
START_TEST(many_runs_are_joined)
{
    avtb_transform_limits l;
    size_t cap = 64 * 1024, o = 0;
    char *body = malloc(cap), plain[64];
    col c = {0};
    const seen *s;

    avtb_transform_limits_default(&l);
    l.max_runs = 20;
    for (int i = 0; i < 50; i++) {
        char *enc;

        snprintf(plain, sizeof(plain), "record %03d holds token " TOKEN, i);
        enc = b64(plain, strlen(plain), false, true, 0);
        o += (size_t)snprintf(body + o, cap - o, "{\"r\":\"%s\"},\n", enc);
        free(enc);
    }
    walk_l(&c, body, o, &l);
    assert_view_str(&c, "base64", "record 007 holds token " TOKEN);
    s = find_in(&c, "base64", "record 049 holds token " TOKEN);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(memmem(s->data, s->len, "record 030", 10));
    ck_assert_ptr_nonnull(anomaly_with(&c, "base64: more than 20 runs"));
    col_free(&c);
    free(body);
}
END_TEST

/* ---- compression -------------------------------------------------------------- */

START_TEST(compressed_streams)
{
    char *plain = token_text();
    size_t n = strlen(plain), len;
    uint8_t *z;
    col c = {0};

    z = zcompress(plain, n, 31, &len);
    walk(&c, z, len);
    assert_view(&c, "gzip", plain, n);
    col_free(&c);
    free(z);

    z = zcompress(plain, n, 15, &len);
    walk(&c, z, len);
    assert_view(&c, "zlib", plain, n);
    col_free(&c);
    free(z);

    z = zcompress(plain, n, -15, &len);
    walk(&c, z, len);
    assert_view(&c, "deflate", plain, n);
    col_free(&c);
    free(z);

    z = brcompress(plain, n, &len);
    walk(&c, z, len);
    assert_view(&c, "brotli", plain, n);
    col_free(&c);
    free(z);

    z = zstdcompress(plain, n, &len);
    walk(&c, z, len);
    assert_view(&c, "zstd", plain, n);
    col_free(&c);
    free(z);
    free(plain);
}
END_TEST

/* A custom upload protocol: a 10-byte header, then gzip, then a trailer. */
START_TEST(gzip_after_header)
{
    char *plain = token_text();
    size_t n = strlen(plain), len;
    uint8_t *z = zcompress(plain, n, 31, &len), *msg = malloc(len + 20);
    col c = {0};

    memcpy(msg, "UPL1\x00\x00\x10\x00\x01\x02", 10);
    memcpy(msg + 10, z, len);
    memcpy(msg + 10 + len, "TRAILER\n\n\n", 10);
    walk(&c, msg, len + 20);
    assert_view(&c, "gzip", plain, n);
    ck_assert_uint_eq(c.nanom, 0);
    col_free(&c);
    free(msg);
    free(z);
    free(plain);
}
END_TEST

/* 200 MiB of zeros gzip'd: an anomaly, the first 16 MiB as a view, and
 * memory bounded by the step limit, not by the 200 MiB. */
START_TEST(gzip_bomb)
{
    const size_t total = (size_t)200 << 20, chunk = 1 << 20;
    uint8_t *zeros = calloc(1, chunk), *bomb = malloc(1 << 20);
    z_stream zs = {0};
    struct rusage ru;
    col c = {0};
    const seen *s = NULL;

    ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_out = bomb;
    zs.avail_out = 1 << 20;
    for (size_t done = 0; done < total; done += chunk) {
        zs.next_in = zeros;
        zs.avail_in = (uInt)chunk;
        ck_assert_int_eq(deflate(&zs, done + chunk == total ? Z_FINISH : Z_NO_FLUSH),
                         done + chunk == total ? Z_STREAM_END : Z_OK);
    }
    ck_assert_uint_lt(zs.total_out, 1 << 20);
    walk(&c, bomb, zs.total_out);
    for (size_t i = 0; i < c.n; i++)
        if (strcmp(c.v[i].path, "gzip") == 0)
            s = &c.v[i];
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->len, AVTB_TRANSFORM_MAX_STEP_OUTPUT);
    ck_assert(s->zeros);
    ck_assert_ptr_nonnull(
        anomaly_with(&c, "gzip: output limit (16777216 bytes) reached: decompression bomb"));
    /* Under memcheck the RSS is Valgrind's (shadow memory, freed blocks held
     * back); the memory bound is checked by the plain and ASan runs. */
    if (!RUNNING_ON_VALGRIND) {
        ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
        ck_assert_msg(ru.ru_maxrss < 160 * 1024, "peak RSS %ld KiB", ru.ru_maxrss);
    }
    deflateEnd(&zs);
    col_free(&c);
    free(zeros);
    free(bomb);
}
END_TEST

START_TEST(corrupt_and_truncated_gzip)
{
    char *plain = token_text();
    size_t n = strlen(plain), len;
    uint8_t *z = zcompress(plain, n, 31, &len);
    col c = {0};

    /* cut in the middle (a capture that stopped): the prefix is a view */
    walk(&c, z, len / 2);
    ck_assert_ptr_nonnull(anomaly_with(&c, "gzip: stream at offset 0 truncated"));
    for (size_t i = 0; i < c.n; i++)
        if (strcmp(c.v[i].path, "gzip") == 0)
            ck_assert_mem_eq(c.v[i].data, plain, c.v[i].len);
    col_free(&c);

    /* garbage in the deflate data */
    for (size_t i = 40; i < len - 8; i += 7)
        z[i] ^= 0x5a;
    walk(&c, z, len);
    ck_assert_ptr_nonnull(anomaly_with(&c, "gzip: corrupt stream at offset 0"));
    col_free(&c);

    /* a header and nothing else */
    walk(&c, z, 12);
    ck_assert_ptr_nonnull(anomaly_with(&c, "gzip:"));
    col_free(&c);
    free(z);
    free(plain);
}
END_TEST

START_TEST(decompress_api)
{
    char *plain = token_text();
    size_t n = strlen(plain), len, out_len;
    uint8_t *z, *out, *two;
    bool bomb;

    static const struct {
        const char *coding;
        int wbits; /* 0: brotli, 1: zstd */
    } cases[] = {{"gzip", 31},     {"x-gzip", 31}, {"DEFLATE", 15},
                 {"deflate", -15}, {"br", 0},      {"zstd", 1}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        z = cases[i].wbits == 0   ? brcompress(plain, n, &len)
            : cases[i].wbits == 1 ? zstdcompress(plain, n, &len)
                                  : zcompress(plain, n, cases[i].wbits, &len);
        ck_assert_int_eq(
            avtb_transform_decompress(cases[i].coding, z, len, 0, &out, &out_len, &bomb), AVTB_OK);
        ck_assert(!bomb);
        ck_assert_uint_eq(out_len, n);
        ck_assert_mem_eq(out, plain, n);
        free(out);

        /* a limit below the size: a bomb, the prefix kept */
        ck_assert_int_eq(
            avtb_transform_decompress(cases[i].coding, z, len, 100, &out, &out_len, &bomb),
            AVTB_OK);
        ck_assert(bomb);
        ck_assert_uint_eq(out_len, 100);
        ck_assert_mem_eq(out, plain, 100);
        free(out);

        /* exactly the size: not a bomb */
        ck_assert_int_eq(
            avtb_transform_decompress(cases[i].coding, z, len, n, &out, &out_len, &bomb), AVTB_OK);
        ck_assert(!bomb);
        ck_assert_uint_eq(out_len, n);
        free(out);

        /* truncated: an error, and what decoded before it */
        ck_assert_int_eq(
            avtb_transform_decompress(cases[i].coding, z, len - 10, 0, &out, &out_len, &bomb),
            AVTB_ERR_INPUT);
        ck_assert(!bomb);
        ck_assert_uint_le(out_len, n);
        if (out_len > 0)
            ck_assert_mem_eq(out, plain, out_len);
        free(out);
        free(z);
    }

    /* two gzip members are one body */
    z = zcompress(plain, n, 31, &len);
    two = malloc(2 * len);
    memcpy(two, z, len);
    memcpy(two + len, z, len);
    ck_assert_int_eq(avtb_transform_decompress("gzip", two, 2 * len, 0, &out, &out_len, &bomb),
                     AVTB_OK);
    ck_assert_uint_eq(out_len, 2 * n);
    ck_assert_mem_eq(out + n, plain, n);
    free(out);
    free(two);
    free(z);

    /* garbage and unknown codings */
    ck_assert_int_eq(
        avtb_transform_decompress("gzip", (const uint8_t *)"hello", 5, 0, &out, &out_len, &bomb),
        AVTB_ERR_INPUT);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(out_len, 0);
    ck_assert_int_eq(
        avtb_transform_decompress("compress", (const uint8_t *)"x", 1, 0, &out, &out_len, &bomb),
        AVTB_ERR_NOT_FOUND);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(
        avtb_transform_decompress("identity", (const uint8_t *)"abc", 3, 2, &out, &out_len, &bomb),
        AVTB_OK);
    ck_assert(bomb);
    ck_assert_uint_eq(out_len, 2);
    free(out);
    free(plain);
}
END_TEST

START_TEST(xz_and_bzip2_streams)
{
    char *plain = token_text();
    size_t n = strlen(plain);
    static const char *const filters[] = {"xz", "bzip2", "lz4"};

    for (size_t i = 0; i < 3; i++) {
        struct archive *a = archive_write_new();
        size_t cap = n + 4096, used = 0;
        uint8_t *buf = malloc(cap);
        struct archive_entry *e = archive_entry_new();
        col c = {0};

        /* format raw: just the compressed stream, as `xz file` writes it */
        ck_assert_int_eq(archive_write_set_format_raw(a), ARCHIVE_OK);
        ck_assert_int_eq(archive_write_add_filter_by_name(a, filters[i]), ARCHIVE_OK);
        ck_assert_int_eq(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
        archive_entry_set_pathname(e, "data");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, (la_int64_t)n);
        ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
        ck_assert_int_eq(archive_write_data(a, plain, n), (la_ssize_t)n);
        ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        archive_entry_free(e);

        walk(&c, buf, used);
        assert_view(&c, filters[i], plain, n);
        col_free(&c);
        free(buf);
    }
    free(plain);
}
END_TEST

/* ---- archives ---------------------------------------------------------------- */

START_TEST(zip_plain)
{
    char *plain = token_text();
    member m[] = {{"docs/report.docx", plain, strlen(plain)}, {"notes.txt", "hello " TOKEN, 28}};
    size_t len;
    uint8_t *zip = make_archive("zip", NULL, NULL, NULL, m, 2, &len);
    col c = {0};
    const seen *s;

    walk(&c, zip, len);
    s = find(&c, "zip", plain, strlen(plain));
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->member, "docs/report.docx");
    s = find_str(&c, "zip", "hello " TOKEN);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->member, "notes.txt");
    ck_assert_uint_eq(c.nanom, 0);
    col_free(&c);
    free(zip);
    free(plain);
}
END_TEST

START_TEST(zip_encrypted_with_builtin_password)
{
    char *plain = token_text();
    member m[] = {{"sample.exe", plain, strlen(plain)}};
    size_t len;
    uint8_t *zip = make_archive("zip", NULL, "zip:encryption=zipcrypt", "infected", m, 1, &len);
    col c = {0};
    const seen *s;

    ck_assert_ptr_null(memmem(zip, len, TOKEN, strlen(TOKEN)));
    walk(&c, zip, len);
    s = find(&c, "zip", plain, strlen(plain));
    if (s == NULL)
        dump(&c);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->member, "sample.exe");
    col_free(&c);
    free(zip);
    free(plain);
}
END_TEST

/* An unknown password is an anomaly; the caller's passwords are tried too. */
START_TEST(zip_other_passwords)
{
    static const char *const mine[] = {"s3cr3t-vendor"};
    member m[] = {{"a.txt", "first " TOKEN, 28}, {"b.txt", "second " TOKEN, 29}};
    size_t len;
    uint8_t *zip =
        make_archive("zip", NULL, "zip:encryption=zipcrypt", "s3cr3t-vendor", m, 2, &len);
    avtb_transform_limits l;
    col c = {0};

    walk(&c, zip, len);
    ck_assert_ptr_null(find_in(&c, "zip", TOKEN));
    /* ZipCrypto checks a password with one byte of a random header: a wrong
     * one passes 1 time in 256 and then fails later (CRC, inflate, or the
     * rest of the archive), so the anomalies vary; there is always one. */
    ck_assert_ptr_nonnull(anomaly_with(&c, "zip: member a.txt"));
    ck_assert_ptr_nonnull(anomaly_with(&c, "zip"));
    col_free(&c);

    avtb_transform_limits_default(&l);
    l.passwords = mine;
    l.npasswords = 1;
    walk_l(&c, zip, len, &l);
    assert_view_str(&c, "zip", "first " TOKEN);
    assert_view_str(&c, "zip", "second " TOKEN);
    ck_assert_uint_eq(c.nanom, 0);
    col_free(&c);
    free(zip);
}
END_TEST

START_TEST(other_archive_formats)
{
    char *plain = token_text();
    member m[] = {{"dir/doc.txt", plain, strlen(plain)}, {"b.bin", "\x01\x02" TOKEN, 24}};
    static const struct {
        const char *format, *filter, *path;
    } cases[] = {{"7zip", NULL, "7z"},          {"ustar", NULL, "tar"}, {"pax", NULL, "tar"},
                 {"ustar", "gzip", "gzip/tar"}, {"cpio", NULL, "cpio"}, {"newc", NULL, "cpio"}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        uint8_t *a = make_archive(cases[i].format, cases[i].filter, NULL, NULL, m, 2, &len);
        col c = {0};
        const seen *s;

        walk(&c, a, len);
        s = find(&c, cases[i].path, plain, strlen(plain));
        if (s == NULL)
            dump(&c);
        ck_assert_msg(s != NULL, "%s: no %s view", cases[i].format, cases[i].path);
        ck_assert_str_eq(s->member, "dir/doc.txt");
        s = find(&c, cases[i].path, "\x01\x02" TOKEN, 24);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s->member, "b.bin");
        col_free(&c);
        free(a);
    }
    free(plain);
}
END_TEST

/* A raw stream: a header, a zip, another zip; and a zip stored in a zip. */
START_TEST(zips_in_a_stream_and_nested)
{
    member m1[] = {{"one.txt", "first " TOKEN, 28}}, m2[] = {{"two.txt", "second " TOKEN, 29}};
    size_t l1, l2, ln;
    uint8_t *z1 = make_archive("zip", NULL, NULL, NULL, m1, 1, &l1);
    uint8_t *z2 = make_archive("zip", NULL, NULL, NULL, m2, 1, &l2);
    uint8_t *buf = malloc(16 + l1 + l2), *outer;
    member mo[] = {{"inner.zip", z2, l2}, {"after.txt", "after " TOKEN, 28}};
    col c = {0};
    const seen *s;

    memcpy(buf, "HDR\x01\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00", 16);
    memcpy(buf + 16, z1, l1);
    memcpy(buf + 16 + l1, z2, l2);
    walk(&c, buf, 16 + l1 + l2);
    s = find_str(&c, "zip", "first " TOKEN);
    if (s == NULL)
        dump(&c);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->member, "one.txt");
    s = find_str(&c, "zip", "second " TOKEN);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->member, "two.txt");
    col_free(&c);

    outer = make_archive("zip", NULL, "zip:compression=store", NULL, mo, 2, &ln);
    walk(&c, outer, ln);
    s = find_str(&c, "zip/zip", "second " TOKEN);
    if (s == NULL)
        dump(&c);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->member, "two.txt");
    s = find_str(&c, "zip", "after " TOKEN);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->member, "after.txt");
    col_free(&c);
    free(outer);
    free(buf);
    free(z1);
    free(z2);
}
END_TEST

/* A capture that stopped mid-zip: no central directory, the members before
 * the cut are still read (libarchive's streaming zip reader). */
START_TEST(zip_cut_short)
{
    char *plain = token_text();
    member m[] = {{"first.txt", plain, strlen(plain)}, {"second.bin", "\x01\x02" TOKEN, 24}};
    size_t len;
    uint8_t *zip = make_archive("zip", NULL, NULL, NULL, m, 2, &len);
    uint8_t *second = memmem(zip, len, "PK\x03\x04", 4);
    col c = {0};
    const seen *s;

    second = memmem(second + 4, len - (size_t)(second + 4 - zip), "PK\x03\x04", 4);
    ck_assert_ptr_nonnull(second);
    walk(&c, zip, (size_t)(second - zip) + 40); /* into the second member's header */
    s = find(&c, "zip", plain, strlen(plain));
    if (s == NULL)
        dump(&c);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->member, "first.txt");
    col_free(&c);
    free(zip);
    free(plain);
}
END_TEST

/* A zip whose member claims little and inflates to much: cut, reported. */
START_TEST(zip_member_bomb)
{
    const size_t big = (size_t)40 << 20;
    uint8_t *zeros = calloc(1, big);
    member m[] = {{"zeros.bin", zeros, big}, {"after.txt", "after " TOKEN, 28}};
    avtb_transform_limits l;
    size_t len;
    uint8_t *zip = make_archive("zip", NULL, NULL, NULL, m, 2, &len);
    col c = {0};
    const seen *s = NULL;

    avtb_transform_limits_default(&l);
    l.max_step_output = 1 << 20;
    walk_l(&c, zip, len, &l);
    for (size_t i = 0; i < c.n; i++)
        if (strcmp(c.v[i].path, "zip") == 0 && c.v[i].member &&
            strcmp(c.v[i].member, "zeros.bin") == 0)
            s = &c.v[i];
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->len, 1 << 20);
    ck_assert_ptr_nonnull(anomaly_with(&c, "zip: output limit (1048576 bytes) reached"));
    assert_view_str(&c, "zip", "after " TOKEN); /* the next member is still read */
    col_free(&c);
    free(zip);
    free(zeros);
}
END_TEST

/* ---- the walk ------------------------------------------------------------------- */

/* base64 of gzip of a zip of text: path {"base64", "gzip", "zip"}. */
START_TEST(nested_base64_gzip_zip)
{
    char *plain = token_text(), *enc, *body;
    member m[] = {{"loot/secret.txt", plain, strlen(plain)}};
    size_t zlen, glen;
    uint8_t *zip = make_archive("zip", NULL, NULL, NULL, m, 1, &zlen);
    uint8_t *gz = zcompress(zip, zlen, 31, &glen);
    col c = {0};
    const seen *s;

    enc = b64(gz, glen, false, true, 0);
    body = malloc(strlen(enc) + 64);
    sprintf(body, "{\"upload\":\"%s\"}", enc);
    walk_str(&c, body);
    s = find(&c, "base64/gzip/zip", plain, strlen(plain));
    if (s == NULL)
        dump(&c);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->depth, 3);
    ck_assert_str_eq(s->member, "loot/secret.txt");
    col_free(&c);
    free(body);
    free(enc);
    free(gz);
    free(zip);
    free(plain);
}
END_TEST

START_TEST(depth_limit)
{
    char *layer = strdup("innermost text with the token " TOKEN " in it");
    avtb_transform_limits l;
    col c = {0};

    for (int i = 0; i < 4; i++) {
        char *next = b64(layer, strlen(layer), false, true, 0);

        free(layer);
        layer = next;
    }
    avtb_transform_limits_default(&l);
    l.max_depth = 2;
    walk_l(&c, layer, strlen(layer), &l);
    ck_assert_uint_eq(c.max_depth_seen, 2);
    ck_assert_ptr_nonnull(anomaly_with(&c, "depth limit (2) reached"));
    ck_assert_ptr_null(find_in(&c, "base64/base64/base64/base64", TOKEN));
    col_free(&c);

    /* with the default (6) all four layers come off */
    walk_str(&c, layer);
    assert_view_str(&c, "base64/base64/base64/base64",
                    "innermost text with the token " TOKEN " in it");
    col_free(&c);
    free(layer);
}
END_TEST

START_TEST(sink_can_refuse_descent)
{
    static const char plain[] = "nested " TOKEN " value";
    char *inner = b64(plain, strlen(plain), false, true, 0), *outer;
    col c = {.refuse = "base64"};

    outer = b64(inner, strlen(inner), false, true, 0);
    walk_str(&c, outer);
    ck_assert_ptr_nonnull(find_str(&c, "base64", inner));
    ck_assert_ptr_null(find_in(&c, "base64/base64", TOKEN));
    col_free(&c);
    free(inner);
    free(outer);
}
END_TEST

START_TEST(total_output_limit)
{
    char *plain = token_text();
    size_t len;
    uint8_t *z = zcompress(plain, strlen(plain), 31, &len);
    avtb_transform_limits l;
    col c = {0};

    avtb_transform_limits_default(&l);
    l.max_total_output = 1000;
    walk_l(&c, z, len, &l);
    assert_view(&c, "gzip", plain, 1000);
    ck_assert_ptr_nonnull(anomaly_with(&c, "output limit of one walk (1000 bytes) reached"));
    col_free(&c);
    free(z);
    free(plain);
}
END_TEST

/* Noise gives nothing: 1 MiB of random bytes, 1 MiB of words. With this
 * seed not even a false zlib/gzip hit decodes. */
START_TEST(noise_gives_no_views)
{
    static const char *const words[] = {"the",    "of",      "and",   "report", "quarterly",
                                        "budget", "meeting", "with",  "a",      "team",
                                        "1999",   "review",  "Paris", "data",   "(draft)",
                                        "notes,", "Bob's",   "x",     "plan.",  "B2B"};
    const size_t n = 1 << 20;
    uint8_t *buf = malloc(n);
    size_t o = 0;
    col c = {0};

    fill_random(buf, n, 7);
    walk(&c, buf, n);
    if (c.n != 1)
        dump(&c);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_uint_eq(c.nanom, 0);
    col_free(&c);

    rng = 11;
    while (o < n - 32) {
        const char *w = words[next_rand() % 20];

        memcpy(buf + o, w, strlen(w));
        o += strlen(w);
        buf[o++] = next_rand() % 12 == 0 ? '\n' : ' ';
    }
    walk(&c, buf, o);
    if (c.n != 1)
        dump(&c);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_uint_eq(c.nanom, 0);
    col_free(&c);
    free(buf);
}
END_TEST

START_TEST(edge_inputs)
{
    col c = {0};
    const avtb_transform_sink none = {0};

    ck_assert_int_eq(avtb_transform_walk(NULL, 0, NULL, &sink, &c), AVTB_OK);
    ck_assert_uint_eq(c.n, 1);
    col_free(&c);
    ck_assert_int_eq(avtb_transform_walk((const uint8_t *)"x", 1, NULL, NULL, &c),
                     AVTB_ERR_INTERNAL);
    ck_assert_int_eq(avtb_transform_walk((const uint8_t *)"x", 1, NULL, &none, &c),
                     AVTB_ERR_INTERNAL);
    walk(&c, "\x1f\x8b\x08", 3);
    ck_assert_uint_eq(c.n, 1);
    col_free(&c);
}
END_TEST

static Suite *transform_suite(void)
{
    Suite *s = suite_create("transform");
    TCase *text = tcase_create("text"), *comp = tcase_create("compression");
    TCase *arch = tcase_create("archives"), *walkc = tcase_create("walk");

    tcase_add_test(text, base64_padded_and_unpadded);
    tcase_add_test(text, base64_token_at_every_offset);
    tcase_add_test(text, base64_misaligned_run);
    tcase_add_test(text, base64url);
    tcase_add_test(text, base64_wrapped_at_76);
    tcase_add_test(text, base64_lines_not_glued);
    tcase_add_test(text, base32_upper_and_lower);
    tcase_add_test(text, base32_dns_labels);
    tcase_add_test(text, hex_forms);
    tcase_add_test(text, percent_form);
    tcase_add_test(text, utf16);
    tcase_add_test(text, short_runs_are_ignored);
    tcase_add_test(text, many_runs_are_joined);
    suite_add_tcase(s, text);

    tcase_add_test(comp, compressed_streams);
    tcase_add_test(comp, gzip_after_header);
    tcase_add_test(comp, gzip_bomb);
    tcase_add_test(comp, corrupt_and_truncated_gzip);
    tcase_add_test(comp, decompress_api);
    tcase_add_test(comp, xz_and_bzip2_streams);
    suite_add_tcase(s, comp);

    tcase_add_test(arch, zip_plain);
    tcase_add_test(arch, zip_encrypted_with_builtin_password);
    tcase_add_test(arch, zip_other_passwords);
    tcase_add_test(arch, other_archive_formats);
    tcase_add_test(arch, zips_in_a_stream_and_nested);
    tcase_add_test(arch, zip_cut_short);
    tcase_add_test(arch, zip_member_bomb);
    suite_add_tcase(s, arch);

    tcase_add_test(walkc, nested_base64_gzip_zip);
    tcase_add_test(walkc, depth_limit);
    tcase_add_test(walkc, sink_can_refuse_descent);
    tcase_add_test(walkc, total_output_limit);
    tcase_add_test(walkc, noise_gives_no_views);
    tcase_add_test(walkc, edge_inputs);
    suite_add_tcase(s, walkc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(transform_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
