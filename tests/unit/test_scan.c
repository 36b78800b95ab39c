/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scanner (collectors/scan.h) fed avtb_message records built here, as the
 * protocol parsers would deliver them: one hit per token with the encoding
 * path from the message's own steps to the literal's form, content before
 * metadata, shallow before deep, file names of messages and archive members,
 * and the counters the analysis reports.
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "collectors/match.h"
#include "collectors/scan.h"
#include "collectors/transform.h"
#include "tests/unit/testbytes.h"

#define TOK0  "AVTBQ3F7K2M9XWZP4R8TAB"
#define TOK1  "AVTBM2N3B4V5C6X7Z2L3KJ"
#define TOK2  "AVTBX9C8V7B6N5M4L3K2JH" /* carried by a document only */
#define DECOY "AVTBQ3F7K2M9XWZP4R8TAC" /* TOK0 with the last character changed */

#define DOC0_NAME "Passwords-2017.docx"
#define DOC1_NAME "budget-draft.xlsx"

static const char *const tokens[] = {TOK0, TOK1, TOK2};

/* Digests of nothing in particular: only their literals matter here. */
static uint8_t doc0_sha256[32], doc1_md5[16];
static const size_t doc0_tokens[] = {0};
static const size_t doc1_tokens[] = {1, 2};

static avtb_patterns *P;
static avtb_transform_limits L;

/* ---- what the scanner reported ------------------------------------------------ */

typedef struct rhit {
    avtb_hit_kind kind;
    size_t token, doc;
    char enc[256]; /* comma-joined path */
    char member[256];
    bool has_member;
    uint64_t offset;
} rhit;

typedef struct rec {
    rhit h[16];
    size_t n;
    const avtb_message *m; /* the message every callback must name */
    char anom[8][512];
    size_t nanom;
} rec;

static rec R;

static void on_hit(void *ctx, const avtb_message *m, const avtb_scan_hit *h)
{
    rec *r = ctx;
    rhit *x;
    size_t w = 0;

    ck_assert_ptr_eq(m, r->m);
    ck_assert_uint_lt(r->n, sizeof(r->h) / sizeof(r->h[0]));
    x = &r->h[r->n++];
    memset(x, 0, sizeof(*x));
    x->kind = h->kind;
    x->token = h->token;
    x->doc = h->doc;
    x->offset = h->offset;
    ck_assert_uint_le(h->nencoding, AVTB_SCAN_MAX_ENCODING);
    for (size_t i = 0; i < h->nencoding; i++) {
        ck_assert_ptr_nonnull(h->encoding[i]);
        w += (size_t)snprintf(x->enc + w, sizeof(x->enc) - w, "%s%s", i ? "," : "", h->encoding[i]);
        ck_assert_uint_lt(w, sizeof(x->enc));
    }
    if (h->member != NULL) {
        x->has_member = true;
        snprintf(x->member, sizeof(x->member), "%s", h->member);
    }
}

static void on_anomaly(void *ctx, const char *what)
{
    rec *r = ctx;

    if (r->nanom < sizeof(r->anom) / sizeof(r->anom[0]))
        snprintf(r->anom[r->nanom++], sizeof(r->anom[0]), "%s", what);
}

static const char *describe(void)
{
    static char out[4096];
    size_t w = 0;

    out[0] = '\0';
    for (size_t i = 0; i < R.n && w < sizeof(out); i++)
        w += (size_t)snprintf(out + w, sizeof(out) - w, "  hit %zu: %s token %zu doc %zu [%s] %s\n",
                              i, R.h[i].kind == AVTB_HIT_CONTENT ? "content" : "metadata",
                              R.h[i].token, R.h[i].doc, R.h[i].enc,
                              R.h[i].has_member ? R.h[i].member : "-");
    for (size_t i = 0; i < R.nanom && w < sizeof(out); i++)
        w += (size_t)snprintf(out + w, sizeof(out) - w, "  anomaly: %s\n", R.anom[i]);
    return out;
}

/* Scans m with s into R (cleared first). */
static void scan(avtb_scanner *s, const avtb_message *m)
{
    avtb_error err = {0};

    R.n = 0;
    R.m = m;
    ck_assert_msg(avtb_scan_message(s, m, on_hit, &R, &err) == AVTB_OK, "%s", err.msg);
}

static void expect_hits(size_t n)
{
    ck_assert_msg(R.n == n, "%zu hits, expected %zu:\n%s", R.n, n, describe());
}

/* Hit i is token found as kind through enc. */
static const rhit *expect_hit(size_t i, avtb_hit_kind kind, size_t token, const char *enc)
{
    const rhit *h;

    ck_assert_msg(i < R.n, "no hit %zu:\n%s", i, describe());
    h = &R.h[i];
    ck_assert_msg(h->kind == kind && h->token == token && strcmp(h->enc, enc) == 0,
                  "hit %zu is not %s token %zu [%s]:\n%s", i,
                  kind == AVTB_HIT_CONTENT ? "content" : "metadata", token, enc, describe());
    if (kind == AVTB_HIT_CONTENT)
        ck_assert_uint_eq(h->doc, SIZE_MAX);
    return h;
}

/* ---- encoders ----------------------------------------------------------------- */

static void put_b64(bytes *b, const void *p, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *s = p;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        char q[4] = {al[v >> 18 & 63], al[v >> 12 & 63], i + 1 < n ? al[v >> 6 & 63] : '=',
                     i + 2 < n ? al[v & 63] : '='};

        put(b, q, 4);
    }
}

static void put_b32(bytes *b, const void *p, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const uint8_t *s = p;
    uint32_t acc = 0;
    int bits = 0;
    size_t w = 0;

    for (size_t i = 0; i < n; i++) {
        acc = acc << 8 | s[i];
        bits += 8;
        while (bits >= 5) {
            put(b, &al[acc >> (bits - 5) & 31], 1);
            bits -= 5;
            w++;
        }
    }
    if (bits > 0) {
        put(b, &al[acc << (5 - bits) & 31], 1);
        w++;
    }
    for (; w % 8 != 0; w++)
        put(b, "=", 1);
}

static void put_hex(bytes *b, const void *p, size_t n)
{
    const uint8_t *s = p;

    for (size_t i = 0; i < n; i++) {
        char h[2] = {"0123456789abcdef"[s[i] >> 4], "0123456789abcdef"[s[i] & 15]};

        put(b, h, 2);
    }
}

static bytes gzip_of(const void *p, size_t n)
{
    bytes b = {0};
    uLong cap = compressBound(n) + 64;
    z_stream z;

    b.d = malloc(cap + 1);
    ck_assert_ptr_nonnull(b.d);
    b.cap = cap + 1;
    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = b.d;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    b.n = z.total_out;
    deflateEnd(&z);
    return b;
}

/* base64(gzip(text)), the usual wrapping of a stolen file in a JSON field. */
static void put_b64_gzip(bytes *b, const char *text)
{
    bytes z = gzip_of(text, strlen(text));

    put_b64(b, z.d, z.n);
    bytes_free(&z);
}

/* A one-member archive in format ("zip", "7zip") built with libarchive's writer. */
static bytes archive_of(const char *format, const char *member, const char *text)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    size_t cap = 65536 + strlen(text), used = 0;
    bytes b = {0};

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(e);
    b.d = malloc(cap);
    ck_assert_ptr_nonnull(b.d);
    b.cap = cap;
    ck_assert_int_eq(archive_write_set_format_by_name(a, format), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, b.d, cap - 1, &used), ARCHIVE_OK);
    archive_entry_set_pathname(e, member);
    archive_entry_set_size(e, (la_int64_t)strlen(text));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    ck_assert_msg(archive_write_header(a, e) == ARCHIVE_OK, "%s", archive_error_string(a));
    ck_assert_int_eq(archive_write_data(a, text, strlen(text)), (la_ssize_t)strlen(text));
    ck_assert_msg(archive_write_close(a) == ARCHIVE_OK, "%s", archive_error_string(a));
    archive_entry_free(e);
    archive_write_free(a);
    b.n = used;
    b.d[used] = 0;
    return b;
}

/* A message of data as an HTTP body ({"http-body"}) at stream offset 1000. */
static avtb_message body_message(const bytes *data)
{
    avtb_message m = {0};

    m.protocol = "http";
    m.host = "collect.vendor.example";
    m.encoding[0] = "http-body";
    m.nencoding = 1;
    m.data = data->d;
    m.len = data->n;
    m.offset = 1000;
    m.time = 42.0;
    return m;
}

/* ---- fixture: the pattern set and one scanner per test ------------------------ */

static avtb_scanner *S;

static void setup(void)
{
    avtb_canary_doc docs[2];
    avtb_error err = {0};

    for (size_t i = 0; i < sizeof(doc0_sha256); i++)
        doc0_sha256[i] = (uint8_t)(0xa5 ^ (i * 37));
    for (size_t i = 0; i < sizeof(doc1_md5); i++)
        doc1_md5[i] = (uint8_t)(0x3c ^ (i * 91));
    memset(docs, 0, sizeof(docs));
    docs[0].name = "/honey/" DOC0_NAME; /* a path: the base name is what is matched */
    docs[0].sha256 = doc0_sha256;
    docs[0].tokens = doc0_tokens;
    docs[0].ntokens = 1;
    docs[1].name = DOC1_NAME;
    docs[1].md5 = doc1_md5;
    docs[1].tokens = doc1_tokens;
    docs[1].ntokens = 2;
    ck_assert_msg(avtb_patterns_new(tokens, 3, docs, 2, &P, &err) == AVTB_OK, "%s", err.msg);
    avtb_transform_limits_default(&L);
    memset(&R, 0, sizeof(R));
    S = avtb_scanner_new(P, &L, on_anomaly, &R);
    ck_assert_ptr_nonnull(S);
}

static void teardown(void)
{
    avtb_scanner_free(S);
    avtb_patterns_free(P);
    S = NULL;
    P = NULL;
}

/* ---- encoding paths ----------------------------------------------------------- */

START_TEST(nested_encodings_one_hit_per_token)
{
    bytes d = {0};
    avtb_message m;
    const rhit *h;
    size_t hex_at;

    put_str(&d, "{\"blob\":\"");
    put_b64_gzip(&d, "the licence key is " TOK0 ", keep it safe\n");
    put_str(&d, "\",\"id\":\"");
    hex_at = d.n;
    put_hex(&d, TOK1, strlen(TOK1));
    put_str(&d, "\"}");
    m = body_message(&d);
    scan(S, &m);
    expect_hits(2); /* in token order */
    h = expect_hit(0, AVTB_HIT_CONTENT, 0, "http-body,base64,gzip");
    ck_assert(!h->has_member);
    ck_assert_uint_eq(h->offset, 1000); /* a decoded view has no stream offset */
    h = expect_hit(1, AVTB_HIT_CONTENT, 1, "http-body,hex");
    ck_assert_uint_eq(h->offset, 1000 + hex_at); /* the literal's place in the message */
    bytes_free(&d);
}
END_TEST

START_TEST(message_steps_come_first)
{
    bytes d = {0};
    avtb_message m;
    const rhit *h;

    put_str(&d, "k=");
    put_b32(&d, "x" TOK0, strlen(TOK0) + 1);
    m = body_message(&d);
    m.encoding[0] = "http-chunked";
    m.encoding[1] = "gzip";
    m.encoding[2] = "http-multipart";
    m.nencoding = 3;
    scan(S, &m);
    expect_hits(1);
    h = expect_hit(0, AVTB_HIT_CONTENT, 0, "http-chunked,gzip,http-multipart,base32");
    /* A literal form is found in the message itself: its offset is where the
     * encoded token starts: after "k=" and the base32 character that is all
     * "x", at the one that mixes the last bits of "x" with the token's first. */
    ck_assert_uint_eq(h->offset, 1000 + 2 + 1);
    bytes_free(&d);
}
END_TEST

START_TEST(raw_message_plain_token)
{
    static const char data[] = "\x01\x02raw " TOK1;
    avtb_message m = {0};
    const rhit *h;

    m.protocol = "tcp";
    m.data = (const uint8_t *)data;
    m.len = sizeof(data) - 1;
    m.offset = 70000;
    scan(S, &m);
    expect_hits(1);
    h = expect_hit(0, AVTB_HIT_CONTENT, 1, ""); /* no step at all: sent as it is */
    ck_assert_uint_eq(h->offset, 70000 + 6);
}
END_TEST

START_TEST(many_occurrences_one_hit)
{
    bytes d = {0};
    avtb_message m;

    for (int i = 0; i < 5; i++) {
        put_str(&d, TOK0 " ");
        put_b64(&d, TOK0, strlen(TOK0));
        put_str(&d, " ");
        put_hex(&d, TOK0, strlen(TOK0));
        put_str(&d, "\n");
    }
    m = body_message(&d);
    scan(S, &m);
    expect_hits(1);
    expect_hit(0, AVTB_HIT_CONTENT, 0, "http-body");
    ck_assert_uint_eq(R.h[0].offset, 1000); /* the first occurrence */
    bytes_free(&d);
}
END_TEST

/* ---- which hit wins ----------------------------------------------------------- */

START_TEST(content_beats_metadata)
{
    for (int order = 0; order < 2; order++) {
        bytes d = {0};
        avtb_message m;

        /* The document's hash plainly, the token two decodings down; either order. */
        if (order == 0)
            put_hex(&d, doc0_sha256, sizeof(doc0_sha256));
        put_str(&d, " payload=");
        put_b64_gzip(&d, "file body with " TOK0 " inside\n");
        put_str(&d, " ");
        if (order == 1)
            put_hex(&d, doc0_sha256, sizeof(doc0_sha256));
        m = body_message(&d);
        scan(S, &m);
        expect_hits(1);
        expect_hit(0, AVTB_HIT_CONTENT, 0, "http-body,base64,gzip");
        bytes_free(&d);
    }
}
END_TEST

START_TEST(metadata_alone)
{
    bytes d = {0};
    avtb_message m;
    const rhit *h;

    put_str(&d, "lookup?sha256=");
    put_hex(&d, doc0_sha256, sizeof(doc0_sha256));
    m = body_message(&d);
    scan(S, &m);
    expect_hits(1);
    h = expect_hit(0, AVTB_HIT_METADATA, 0, "http-body,sha256");
    ck_assert_uint_eq(h->doc, 0);
    ck_assert_uint_eq(h->offset, 1000 + 14);
    bytes_free(&d);
}
END_TEST

START_TEST(metadata_names_every_token_of_its_document)
{
    bytes d = {0};
    avtb_message m;

    put_str(&d, "md5=");
    put_b64(&d, doc1_md5, sizeof(doc1_md5));
    m = body_message(&d);
    scan(S, &m);
    expect_hits(2);
    ck_assert_uint_eq(expect_hit(0, AVTB_HIT_METADATA, 1, "http-body,md5-base64")->doc, 1);
    ck_assert_uint_eq(expect_hit(1, AVTB_HIT_METADATA, 2, "http-body,md5-base64")->doc, 1);
    bytes_free(&d);
}
END_TEST

START_TEST(content_of_one_token_metadata_of_another)
{
    bytes d = {0};
    avtb_message m;

    /* doc1 carries TOK1 and TOK2; TOK1 itself is here too: content for it, metadata for TOK2. */
    put_str(&d, "md5=");
    put_hex(&d, doc1_md5, sizeof(doc1_md5));
    put_str(&d, " token=");
    put_b64_gzip(&d, TOK1 "\n");
    m = body_message(&d);
    scan(S, &m);
    expect_hits(2);
    expect_hit(0, AVTB_HIT_CONTENT, 1, "http-body,base64,gzip");
    ck_assert_uint_eq(expect_hit(1, AVTB_HIT_METADATA, 2, "http-body,md5")->doc, 1);
    bytes_free(&d);
}
END_TEST

START_TEST(shallow_beats_deep)
{
    for (int order = 0; order < 2; order++) {
        bytes d = {0};
        avtb_message m;
        size_t plain_at = 0;
        const rhit *h;

        put_str(&d, "a=");
        if (order == 1) {
            plain_at = d.n;
            put_str(&d, TOK0);
        }
        put_str(&d, "&b=");
        put_b64_gzip(&d, "deep " TOK0 " copy\n");
        put_str(&d, "&c=");
        put_b64(&d, "shallower " TOK0, strlen(TOK0) + 10);
        if (order == 0) {
            put_str(&d, "&d=");
            plain_at = d.n;
            put_str(&d, TOK0);
        }
        m = body_message(&d);
        scan(S, &m);
        expect_hits(1);
        h = expect_hit(0, AVTB_HIT_CONTENT, 0, "http-body");
        ck_assert_uint_eq(h->offset, 1000 + plain_at);
        bytes_free(&d);
    }
}
END_TEST

START_TEST(one_decoding_beats_two)
{
    bytes d = {0};
    avtb_message m;

    put_b64_gzip(&d, "deep " TOK0 " copy\n");
    put_str(&d, " ");
    put_hex(&d, "x" TOK0, strlen(TOK0) + 1);
    m = body_message(&d);
    scan(S, &m);
    expect_hits(1);
    expect_hit(0, AVTB_HIT_CONTENT, 0, "http-body,hex");
    bytes_free(&d);
}
END_TEST

/* ---- file names ----------------------------------------------------------------- */

START_TEST(message_name_is_a_document)
{
    static const char *const names[] = {DOC0_NAME, ("C:\\Users\\bob\\Documents\\" DOC0_NAME),
                                        "/home/bob/PASSWORDS-2017.DOCX"};

    for (size_t i = 0; i < 3; i++) {
        bytes d = {0};
        avtb_message m;
        const rhit *h;

        put_str(&d, "not the document's bytes");
        m = body_message(&d);
        m.encoding[1] = "http-multipart";
        m.nencoding = 2;
        m.name = names[i];
        scan(S, &m);
        expect_hits(1);
        h = expect_hit(0, AVTB_HIT_METADATA, 0, "http-body,http-multipart,file-name");
        ck_assert_uint_eq(h->doc, 0);
        ck_assert(!h->has_member);
        ck_assert_uint_eq(h->offset, 1000);
        bytes_free(&d);
    }
}
END_TEST

START_TEST(message_name_not_a_document)
{
    static const char *const names[] = {"Passwords-2017.docx.bak", "budget.xlsx", "", "x/"};

    for (size_t i = 0; i < 4; i++) {
        bytes d = {0};
        avtb_message m;

        put_str(&d, "harmless");
        m = body_message(&d);
        m.name = names[i];
        scan(S, &m);
        expect_hits(0);
        bytes_free(&d);
    }
}
END_TEST

START_TEST(message_name_and_content)
{
    bytes d = {0};
    avtb_message m;

    /* The upload is the document itself: its token is content, the name adds nothing. */
    put_str(&d, "header\n" TOK0 "\n");
    m = body_message(&d);
    m.name = DOC0_NAME;
    scan(S, &m);
    expect_hits(1);
    expect_hit(0, AVTB_HIT_CONTENT, 0, "http-body");
    bytes_free(&d);
}
END_TEST

/* The hit of a member's name: metadata for each token of the document, through "file-name". */
static void expect_member_name_hits(size_t doc, size_t ntokens, const char *member)
{
    expect_hits(ntokens);
    for (size_t i = 0; i < ntokens; i++) {
        const rhit *h = &R.h[i];

        ck_assert_int_eq(h->kind, AVTB_HIT_METADATA);
        ck_assert_uint_eq(h->doc, doc);
        ck_assert_msg(strncmp(h->enc, "http-body,", 10) == 0 &&
                          strcmp(h->enc + strlen(h->enc) - 10, ",file-name") == 0,
                      "%s", describe());
        if (h->has_member)
            ck_assert_str_eq(h->member, member);
    }
}

/*
 * Archives keep their members' names in their own bytes, so the name is seen
 * in a view at least as shallow as the member's: a zip's local header as it
 * is ("http-body,file-name"), a 7z header as UTF-16LE ("http-body,utf16le,
 * file-name", a tie with "http-body,7z,file-name" that the first view seen
 * wins). Either way the hit is the document's, through "file-name"; the
 * member, when the hit names one, is the right one.
 */
START_TEST(archive_member_name_7z)
{
    bytes z = archive_of("7zip", "backup/" DOC0_NAME, "nothing secret in this copy\n");
    avtb_message m = body_message(&z);

    ck_assert_ptr_null(memmem(z.d, z.n, DOC0_NAME, strlen(DOC0_NAME)));
    scan(S, &m);
    expect_member_name_hits(0, 1, "backup/" DOC0_NAME);
    ck_assert_uint_eq(R.h[0].token, 0);
    ck_assert_uint_eq(R.h[0].offset, 1000);
    bytes_free(&z);
}
END_TEST

START_TEST(archive_member_name_zip)
{
    bytes z = archive_of("zip", "backup/" DOC1_NAME, "nothing secret in this copy\n");
    avtb_message m = body_message(&z);

    scan(S, &m);
    /* doc1 carries TOK1 and TOK2: a metadata hit for each, in token order. */
    expect_member_name_hits(1, 2, "backup/" DOC1_NAME);
    ck_assert_uint_eq(R.h[0].token, 1);
    ck_assert_uint_eq(R.h[1].token, 2);
    bytes_free(&z);
}
END_TEST

START_TEST(archive_member_content)
{
    bytes z = archive_of("zip", "notes/keys.txt", "the key is " TOK1 " for now\n");
    avtb_message m = body_message(&z);
    const rhit *h;

    ck_assert_ptr_null(memmem(z.d, z.n, TOK1, strlen(TOK1)));
    scan(S, &m);
    expect_hits(1);
    h = expect_hit(0, AVTB_HIT_CONTENT, 1, "http-body,zip");
    ck_assert(h->has_member);
    ck_assert_str_eq(h->member, "notes/keys.txt");
    bytes_free(&z);
}
END_TEST

/* ---- decoys --------------------------------------------------------------------- */

START_TEST(decoy_plain_and_hex)
{
    bytes d = {0};
    avtb_message m;

    put_str(&d, DECOY " ");
    put_hex(&d, DECOY, strlen(DECOY));
    m = body_message(&d);
    scan(S, &m);
    expect_hits(0);
    bytes_free(&d);
}
END_TEST

/*
 * DECOY differs from TOK0 in the last bit only ('C' for 'B'): in base64 and
 * base32 that bit shares a character with the next byte, which match.c
 * checks at the hit (the literal leaves edge characters out).
 */
static void expect_decoy_ignored(void (*enc)(bytes *, const void *, size_t), size_t alignments)
{
    for (size_t k = 0; k < alignments; k++) {
        bytes d = {0};
        char plain[64];
        avtb_message m;

        snprintf(plain, sizeof(plain), "%.*s%s", (int)k, "xxxxx", DECOY);
        enc(&d, plain, strlen(plain));
        m = body_message(&d);
        scan(S, &m);
        bytes_free(&d); /* before the assertion, which ends the test when it fails */
        ck_assert_msg(R.n == 0, "alignment %zu: decoy taken for the token:\n%s", k, describe());
    }
}

START_TEST(decoy_base64)
{
    expect_decoy_ignored(put_b64, 3);
}
END_TEST

START_TEST(decoy_base32)
{
    expect_decoy_ignored(put_b32, 5);
}
END_TEST

/* ---- state and counters --------------------------------------------------------- */

START_TEST(each_message_on_its_own)
{
    bytes a = {0}, b = {0};
    avtb_message m;

    put_str(&a, "one " TOK0);
    put_str(&b, "two, nothing here");
    m = body_message(&a);
    scan(S, &m);
    expect_hits(1);
    m = body_message(&b);
    scan(S, &m);
    expect_hits(0); /* nothing carried over from the message before */
    bytes_free(&a);
    bytes_free(&b);
}
END_TEST

START_TEST(empty_message)
{
    avtb_message m = {0};

    m.protocol = "udp";
    scan(S, &m);
    expect_hits(0);
    ck_assert_uint_eq(avtb_scanner_stats(S)->messages, 1);
    ck_assert_uint_eq(avtb_scanner_stats(S)->message_bytes, 0);
}
END_TEST

START_TEST(stats_move)
{
    const avtb_scan_stats *st = avtb_scanner_stats(S);
    bytes a = {0}, b = {0}, bad = {0};
    avtb_message m;

    ck_assert_uint_eq(st->messages, 0);
    ck_assert_uint_eq(st->views, 0);
    put_str(&a, "plain text, no encodings at all");
    m = body_message(&a);
    scan(S, &m);
    ck_assert_uint_eq(st->messages, 1);
    ck_assert_uint_eq(st->message_bytes, a.n);
    ck_assert_uint_eq(st->views, 0);
    ck_assert_uint_eq(st->view_bytes, 0);

    put_b64_gzip(&b, "x " TOK0 "\n");
    m = body_message(&b);
    scan(S, &m);
    expect_hits(1);
    ck_assert_uint_eq(st->messages, 2);
    ck_assert_uint_eq(st->message_bytes, a.n + b.n);
    ck_assert_uint_ge(st->views, 2); /* the base64 view and the gzip view */
    ck_assert_uint_ge(st->view_bytes, strlen("x " TOK0 "\n"));
    ck_assert_uint_eq(st->anomalies, 0);
    ck_assert_uint_eq(R.nanom, 0);

    /* A gzip stream whose data is corrupt: an anomaly, named by the message's path. */
    bad = gzip_of("some text that compresses into a few blocks of deflate data ........", 69);
    for (size_t i = 12; i < bad.n - 8; i++)
        bad.d[i] ^= 0x5a;
    m = body_message(&bad);
    scan(S, &m);
    ck_assert_uint_eq(st->messages, 3);
    ck_assert_uint_ge(st->anomalies, 1);
    ck_assert_uint_ge(R.nanom, 1);
    ck_assert_msg(strncmp(R.anom[0], "http/http-body", 14) == 0 && strstr(R.anom[0], "gzip"), "%s",
                  R.anom[0]);
    bytes_free(&a);
    bytes_free(&b);
    bytes_free(&bad);
}
END_TEST

START_TEST(no_anomaly_callback)
{
    avtb_scanner *s = avtb_scanner_new(P, NULL, NULL, NULL);
    bytes bad = gzip_of("text text text text text text text text", 39);
    avtb_message m;

    ck_assert_ptr_nonnull(s);
    for (size_t i = 12; i < bad.n - 8; i++)
        bad.d[i] ^= 0xff;
    m = body_message(&bad);
    scan(s, &m);
    ck_assert_uint_ge(avtb_scanner_stats(s)->anomalies, 1);
    avtb_scanner_free(s);
    avtb_scanner_free(NULL);
    bytes_free(&bad);
}
END_TEST

static Suite *scan_suite(void)
{
    Suite *s = suite_create("scan");
    TCase *tc;

    tc = tcase_create("paths");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, nested_encodings_one_hit_per_token);
    tcase_add_test(tc, message_steps_come_first);
    tcase_add_test(tc, raw_message_plain_token);
    tcase_add_test(tc, many_occurrences_one_hit);
    suite_add_tcase(s, tc);

    tc = tcase_create("precedence");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, content_beats_metadata);
    tcase_add_test(tc, metadata_alone);
    tcase_add_test(tc, metadata_names_every_token_of_its_document);
    tcase_add_test(tc, content_of_one_token_metadata_of_another);
    tcase_add_test(tc, shallow_beats_deep);
    tcase_add_test(tc, one_decoding_beats_two);
    suite_add_tcase(s, tc);

    tc = tcase_create("file-names");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, message_name_is_a_document);
    tcase_add_test(tc, message_name_not_a_document);
    tcase_add_test(tc, message_name_and_content);
    tcase_add_test(tc, archive_member_name_7z);
    tcase_add_test(tc, archive_member_name_zip);
    tcase_add_test(tc, archive_member_content);
    suite_add_tcase(s, tc);

    tc = tcase_create("decoys");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, decoy_plain_and_hex);
    tcase_add_test(tc, decoy_base64);
    tcase_add_test(tc, decoy_base32);
    suite_add_tcase(s, tc);

    tc = tcase_create("state");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, each_message_on_its_own);
    tcase_add_test(tc, empty_message);
    tcase_add_test(tc, stats_move);
    tcase_add_test(tc, no_anomaly_callback);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(scan_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
