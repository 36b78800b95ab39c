/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Honey document writers: each format carries the body token, the metadata
 * token and the beacon where docfmt.h says, escapes hostile text, and is
 * byte-identical for the same model. Archives are read back with libarchive;
 * tests/formats/check-formats opens the same files with real software.
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guests/docfmt.h"

#define BODY   "AVTBBODYTOKEN234567ABCD"
#define META   "AVTBMETATOKEN234567ABCD"
#define BEACON "https://img-q7x2.example.net/logo.png"
#define NASTY                                                                                      \
    "Costs agreed with M\xC3\xBCller & Sons \xE2\x80\x93 \xC2\xA3"                                 \
    "1.2m \"ring-fenced\" "                                                                        \
    "<pending> review; see 'Annex B' (draft) and C:\\Finance\\Q3."
#define CREATED ((time_t)1795000000) /* Wed 2026-11-18 11:06:40 UTC */

static const char *const paragraphs[] = {
    "The revised allocation for Project HALYARD is held under reference " BODY
    " and must not be shared outside the programme board.",
    NASTY,
};

/* A row per line. */
/* clang-format off */
static const char *const table[] = {
    "Line item",       "Owner",             "Amount", "Reference",
    "Sensor upgrade",  "J. M\xC3\xBCller",  "1200",   BODY,
    "Trials, phase 2", "\"Ops\" <Team B>",  "350.5",  "R&D/0412",
};
/* clang-format on */

static avtb_doc_model model(void)
{
    return (avtb_doc_model){
        .marking = "OFFICIAL-SENSITIVE",
        .title = "Project HALYARD: revised allocation & schedule",
        .author = "Jane Smith",
        .organisation = "Ministry of Defence",
        .reference = "MOD/DSTL/2026/0412",
        .created = CREATED,
        .paragraphs = paragraphs,
        .nparagraphs = 2,
        .table = table,
        .nrows = 3,
        .ncols = 4,
        .meta_token = META,
        .beacon_url = BEACON,
        .from = "Jane Smith <jane.smith@mod.example>",
        .to = "M\xC3\xBCller, Klaus <k.mueller@dstl.example>",
    };
}

static const avtb_doc_member eicar_members[] = {
    {"eicar.com", (const uint8_t *)AVTB_EICAR, sizeof(AVTB_EICAR) - 1},
    {"HALYARD/Bericht-M\xC3\xBCller.txt", (const uint8_t *)"Reference " BODY "\n", 34},
};

static avtb_doc_model archive_model(void)
{
    return (avtb_doc_model){.created = CREATED, .members = eicar_members, .nmembers = 2};
}

/* The file's bytes, NUL-terminated (for strstr), or the test fails. */
static char *write_doc(avtb_doc_format f, const avtb_doc_model *m, size_t *len)
{
    avtb_error err = {0};
    uint8_t *buf = NULL, *z;

    ck_assert_msg(avtb_doc_write(f, m, &buf, len, &err) == AVTB_OK, "%s: %s",
                  avtb_doc_format_name(f), err.msg);
    ck_assert_ptr_nonnull(buf);
    z = realloc(buf, *len + 1);
    ck_assert_ptr_nonnull(z);
    z[*len] = '\0';
    return (char *)z;
}

static size_t count(const char *hay, size_t len, const char *needle)
{
    size_t n = 0, nl = strlen(needle);

    for (const char *p = hay; (p = memmem(p, len - (size_t)(p - hay), needle, nl)) != NULL; p += nl)
        n++;
    return n;
}

/* ---- reading archives back ---------------------------------------------- */

typedef struct member {
    char *name;
    char *data; /* NUL-terminated */
    size_t len;
    time_t mtime;
    bool has_atime, has_ctime, has_birthtime;
} member;

typedef struct members {
    member v[32];
    size_t n;
} members;

/* Reads in C.UTF-8, as libarchive needs to return UTF-8 names; the writers run in "C". */
static void unpack(const char *buf, size_t len, members *out)
{
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0), old;
    struct archive *a;
    struct archive_entry *e;
    int r;

    ck_assert(utf8 != (locale_t)0);
    old = uselocale(utf8);
    a = archive_read_new();
    memset(out, 0, sizeof(*out));
    ck_assert_ptr_nonnull(a);
    archive_read_support_format_zip_seekable(a); /* sizes from the central directory */
    archive_read_support_format_7zip(a);
    archive_read_support_filter_all(a);
    ck_assert_int_eq(archive_read_open_memory(a, buf, len), ARCHIVE_OK);
    while ((r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
        member *m = &out->v[out->n++];
        la_int64_t size = archive_entry_size(e);

        ck_assert_msg(r == ARCHIVE_OK, "%s", archive_error_string(a));
        ck_assert_uint_lt(out->n, 32);
        ck_assert_ptr_nonnull(archive_entry_pathname_utf8(e));
        m->name = strdup(archive_entry_pathname_utf8(e));
        m->mtime = archive_entry_mtime(e);
        m->has_atime = archive_entry_atime_is_set(e);
        m->has_ctime = archive_entry_ctime_is_set(e);
        m->has_birthtime = archive_entry_birthtime_is_set(e);
        ck_assert_int_ge(size, 0);
        m->data = calloc(1, (size_t)size + 1);
        ck_assert_ptr_nonnull(m->data);
        ck_assert_int_eq(archive_read_data(a, m->data, (size_t)size), size);
        m->len = (size_t)size;
    }
    ck_assert_int_eq(archive_read_free(a), ARCHIVE_OK);
    uselocale(old);
    freelocale(utf8);
}

static void members_free(members *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        free(ms->v[i].name);
        free(ms->v[i].data);
    }
    ms->n = 0;
}

static const member *find(const members *ms, const char *name)
{
    for (size_t i = 0; i < ms->n; i++)
        if (strcmp(ms->v[i].name, name) == 0)
            return &ms->v[i];
    return NULL;
}

static const char *part(const members *ms, const char *name)
{
    const member *m = find(ms, name);

    ck_assert_msg(m != NULL, "no part %s", name);
    return m->data;
}

/* ---- the model and its errors ------------------------------------------- */

START_TEST(format_names_round_trip)
{
    avtb_doc_format f;

    for (int i = 0; i < AVTB_FMT_COUNT; i++) {
        ck_assert(avtb_doc_format_parse(avtb_doc_format_name((avtb_doc_format)i), &f));
        ck_assert_int_eq(f, i);
    }
    ck_assert_str_eq(avtb_doc_format_name(AVTB_FMT_7Z), "7z");
    ck_assert(!avtb_doc_format_parse("DOCX", &f));
    ck_assert(!avtb_doc_format_parse("doc", &f));
    ck_assert(!avtb_doc_format_parse(NULL, &f));
}
END_TEST

static void expect_usage(avtb_doc_format f, const avtb_doc_model *m, const char *what)
{
    avtb_error err = {0};
    uint8_t *buf = (uint8_t *)"junk";
    size_t len = 99;

    ck_assert_int_eq(avtb_doc_write(f, m, &buf, &len, &err), AVTB_ERR_USAGE);
    ck_assert_ptr_null(buf);
    ck_assert_uint_eq(len, 0);
    ck_assert_msg(strstr(err.msg, what) != NULL, "%s: \"%s\" lacks \"%s\"", avtb_doc_format_name(f),
                  err.msg, what);
}

START_TEST(bad_models_are_refused)
{
    const char *bad_utf8[] = {"caf\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80"};
    const char *bad_para[1];
    avtb_doc_model m;

    for (int f = 0; f < AVTB_FMT_COUNT; f++) {
        for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
            m = model();
            bad_para[0] = bad_utf8[i];
            m.paragraphs = bad_para;
            m.nparagraphs = 1;
            expect_usage((avtb_doc_format)f, &m, "paragraphs[0] is not valid UTF-8");
        }
        m = model();
        m.title = "two\nlines";
        expect_usage((avtb_doc_format)f, &m, "title has control character U+000A");
        m = model();
        m.created = 0;
        expect_usage((avtb_doc_format)f, &m, "created");
    }
    m = model();
    m.meta_token = "has space";
    expect_usage(AVTB_FMT_EML, &m, "meta_token");
    m = model();
    m.beacon_url = "https://x.example/a b.png";
    expect_usage(AVTB_FMT_DOCX, &m, "beacon_url");
    m = model();
    m.from = NULL;
    expect_usage(AVTB_FMT_EML, &m, "needs from");
    m = model();
    m.from = "Jane Smith";
    expect_usage(AVTB_FMT_EML, &m, "ASCII address");
    m = model();
    m.nrows = m.ncols = 0;
    expect_usage(AVTB_FMT_CSV, &m, "needs a table");
    m = model();
    expect_usage(AVTB_FMT_ZIP, &m, "at least one member");
    expect_usage(AVTB_FMT_7Z, &m, "at least one member");

    const char *bad_names[] = {"../x", "a/../b", "/etc/passwd", "a//b", "dir/", "./a", "a\\b"};

    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        avtb_doc_member mem = {bad_names[i], (const uint8_t *)"x", 1};

        m = archive_model();
        m.members = &mem;
        m.nmembers = 1;
        expect_usage(AVTB_FMT_ZIP, &m, "relative path");
    }
    ck_assert_int_eq(avtb_doc_write(AVTB_FMT_COUNT, &m, &(uint8_t *){NULL}, &(size_t){0}, NULL),
                     AVTB_ERR_USAGE);
}
END_TEST

/* A model with only what a format cannot do without still makes a file. */
START_TEST(minimal_models_write)
{
    const char *cells[] = {"a"};
    avtb_doc_model m = {
        .created = CREATED, .from = "a@b.example", .table = cells, .nrows = 1, .ncols = 1};
    size_t len;

    for (int f = 0; f < AVTB_FMT_ZIP; f++) {
        char *buf = write_doc((avtb_doc_format)f, &m, &len);

        ck_assert_uint_gt(len, 0);
        free(buf);
    }
}
END_TEST

/* ---- reproducibility ---------------------------------------------------- */

static avtb_doc_model model_for(avtb_doc_format f)
{
    return f == AVTB_FMT_ZIP || f == AVTB_FMT_7Z ? archive_model() : model();
}

START_TEST(same_model_same_bytes)
{
    avtb_doc_format f = (avtb_doc_format)_i;
    avtb_doc_model m = model_for(f);
    size_t la, lb, lc;
    char *a = write_doc(f, &m, &la), *b = write_doc(f, &m, &lb), *c;

    ck_assert_uint_eq(la, lb);
    ck_assert_msg(memcmp(a, b, la) == 0, "%s differs between two writes", avtb_doc_format_name(f));
    /* The model's time is the only time in the file. */
    m.created += 86400 + 3600 + 7;
    c = write_doc(f, &m, &lc);
    if (f != AVTB_FMT_CSV) /* a CSV export has no date */
        ck_assert_msg(la != lc || memcmp(a, c, la) != 0, "%s ignores created",
                      avtb_doc_format_name(f));
    free(a);
    free(b);
    free(c);
}
END_TEST

/* ---- txt and csv -------------------------------------------------------- */

START_TEST(txt_layout)
{
    avtb_doc_model m = model();
    size_t len, lines = 0;
    char *t = write_doc(AVTB_FMT_TXT, &m, &len);

    ck_assert(strncmp(t + strspn(t, " "), "OFFICIAL-SENSITIVE\n", 19) == 0);
    ck_assert_str_eq(t + len - 19, "OFFICIAL-SENSITIVE\n");
    ck_assert_uint_eq(count(t, len, BODY), 2); /* paragraph and table */
    ck_assert_ptr_nonnull(strstr(t, "\nFigures: " BEACON "\n"));
    ck_assert_ptr_nonnull(strstr(t, "Reference: MOD/DSTL/2026/0412\n"));
    ck_assert_ptr_nonnull(strstr(t, "Date: 18 November 2026\n"));
    /* Text kept as is: UTF-8, no escaping; wrapping joins with single spaces. */
    ck_assert_ptr_nonnull(strstr(t, "M\xC3\xBCller & Sons \xE2\x80\x93 \xC2\xA3"
                                    "1.2m"));
    ck_assert_ptr_nonnull(strstr(t, "C:\\Finance\\Q3."));
    ck_assert_ptr_null(strchr(t, '\r'));
    for (char *line = t, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1, lines++) {
        size_t cols = 0;

        for (char *p = line; p < nl; p++)
            cols += ((unsigned char)*p & 0xC0) != 0x80;
        ck_assert_msg(cols <= 78, "line %zu has %zu columns", lines, cols);
    }
    free(t);
}
END_TEST

START_TEST(txt_never_splits_a_word)
{
    char para[400];
    const char *p[1] = {para};
    avtb_doc_model m = model();
    size_t len;

    /* The token lands across column 78 unless the wrapper breaks before it. */
    snprintf(para, sizeof(para), "%.*s %s %s", 70,
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
             BODY,
             "and a word longer than any line "
             "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234"
             " end");
    m.paragraphs = p;
    m.nparagraphs = 1;
    m.nrows = m.ncols = 0;
    char *t = write_doc(AVTB_FMT_TXT, &m, &len);

    ck_assert_ptr_nonnull(strstr(t, "\n" BODY " and a word longer than any line\n"));
    ck_assert_ptr_nonnull(strstr(t, "\n0123456789012345678901234567890123456789012345678901234"
                                    "567890123456789012345678901234\nend\n"));
    free(t);
}
END_TEST

START_TEST(csv_quoting_and_banner)
{
    avtb_doc_model m = model();
    size_t len;
    char *t = write_doc(AVTB_FMT_CSV, &m, &len);

    /* Non-ASCII text: a BOM, so Excel reads UTF-8. */
    ck_assert(strncmp(t,
                      "\xEF\xBB\xBFOFFICIAL-SENSITIVE,,,\r\nLine item,Owner,Amount,"
                      "Reference\r\n",
                      56) == 0);
    ck_assert_ptr_nonnull(strstr(t, "\r\nSensor upgrade,J. M\xC3\xBCller,1200," BODY "\r\n"));
    ck_assert_ptr_nonnull(strstr(t, "\r\n\"Trials, phase 2\",\"\"\"Ops\"\" <Team B>\",350.5,"
                                    "R&D/0412\r\n"));
    ck_assert_ptr_nonnull(strstr(t, "\r\n" BEACON ",,,\r\nOFFICIAL-SENSITIVE,,,\r\n"));
    ck_assert_str_eq(t + len - 23, "OFFICIAL-SENSITIVE,,,\r\n");
    for (size_t i = 0; i < len; i++)
        if (t[i] == '\n')
            ck_assert_int_eq(t[i - 1], '\r');
    free(t);

    /* ASCII only: no BOM. */
    const char *ascii[] = {"a", " b", "c\""};
    avtb_doc_model a = {.created = CREATED, .table = ascii, .nrows = 1, .ncols = 3};

    t = write_doc(AVTB_FMT_CSV, &a, &len);
    ck_assert_str_eq(t, "a,\" b\",\"c\"\"\"\r\n");
    free(t);
}
END_TEST

/* ---- eml ---------------------------------------------------------------- */

static char *qp_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;

    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '=') {
            *o++ = s[i];
        } else if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
        } else {
            unsigned v;

            ck_assert(i + 2 < n && sscanf(s + i + 1, "%2X", &v) == 1);
            *o++ = (char)v;
            i += 2;
        }
    }
    *o = '\0';
    return out;
}

/* The decoded body of the part whose Content-Type starts with type. */
static char *eml_part(const char *t, const char *type)
{
    const char *b = strstr(t, "boundary=\"");
    char delim[80];

    ck_assert_ptr_nonnull(b);
    snprintf(delim, sizeof(delim), "\r\n--%.*s", (int)strcspn(b + 10, "\""), b + 10);
    for (const char *p = strstr(t, delim); p != NULL; p = strstr(p + 1, delim)) {
        const char *hdr = p + strlen(delim) + 2, *body = strstr(hdr, "\r\n\r\n");
        const char *end = strstr(hdr, delim);
        char ct[64];

        snprintf(ct, sizeof(ct), "Content-Type: %s", type);
        if (body == NULL || end == NULL || strncmp(hdr, ct, strlen(ct)) != 0)
            continue;
        body += 4;
        if (strstr(hdr, "Content-Transfer-Encoding: quoted-printable") != NULL &&
            strstr(hdr, "Content-Transfer-Encoding: quoted-printable") < body)
            return qp_decode(body, (size_t)(end - body));
        return strndup(body, (size_t)(end - body));
    }
    ck_abort_msg("no %s part", type);
    return NULL;
}

START_TEST(eml_headers_and_parts)
{
    avtb_doc_model m = model();
    size_t len;
    char *t = write_doc(AVTB_FMT_EML, &m, &len), *plain, *html;
    const char *line = t;

    /* CRLF only, and no line over RFC 5322's 998. */
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '\n') {
            ck_assert_int_eq(t[i - 1], '\r');
            ck_assert_int_le(t + i - 1 - line, 998);
            line = t + i + 1;
        } else {
            ck_assert(t[i] != '\r' || t[i + 1] == '\n');
            ck_assert((unsigned char)t[i] < 0x80); /* all non-ASCII is encoded */
        }
    }
    ck_assert(strncmp(t, "Date: Wed, 18 Nov 2026 11:06:40 +0000\r\n", 39) == 0);
    ck_assert_ptr_nonnull(strstr(t, "\r\nFrom: Jane Smith <jane.smith@mod.example>\r\n"));
    ck_assert_ptr_nonnull(strstr(t, "\r\nTo: =?UTF-8?B?TcO8bGxlciwgS2xhdXM=?= "
                                    "<k.mueller@dstl.example>\r\n"));
    ck_assert_ptr_nonnull(
        strstr(t, "\r\nSubject: Project HALYARD: revised allocation & schedule\r\n"));
    ck_assert_ptr_nonnull(strstr(t, "\r\nMessage-ID: <" META ".20261118110640@mod.example>\r\n"));
    ck_assert_ptr_nonnull(strstr(t, "\r\nX-Document-Reference: " META "\r\n"));
    ck_assert_ptr_nonnull(strstr(t, "\r\nMIME-Version: 1.0\r\n"));
    ck_assert_ptr_nonnull(strstr(t, "\r\nContent-Type: multipart/alternative;"));
    ck_assert(strncmp(t + len - 4, "--\r\n", 4) == 0);
    /* The body token is literal in the raw bytes too: no soft break inside it. */
    ck_assert_uint_eq(count(t, len, BODY), 4);

    plain = eml_part(t, "text/plain");
    ck_assert_ptr_nonnull(strstr(plain, "held under reference\r\n" BODY " and must"));
    ck_assert_ptr_nonnull(strstr(plain, "M\xC3\xBCller & Sons \xE2\x80\x93 \xC2\xA3"
                                        "1.2m"));
    ck_assert_ptr_null(strstr(plain, BEACON));
    html = eml_part(t, "text/html");
    ck_assert_ptr_nonnull(strstr(html, "<img src=\"" BEACON "\""));
    ck_assert_ptr_nonnull(strstr(html, BODY));
    ck_assert_ptr_nonnull(strstr(html, "M&#252;ller &#38; Sons &#8211; &#163;1.2m\r\n"
                                       "&#34;ring-fenced&#34; &#60;pending&#62;"));
    ck_assert_ptr_nonnull(strstr(html, "<th>Reference</th>"));
    ck_assert_ptr_nonnull(strstr(html, "<td>" BODY "</td>"));
    free(plain);
    free(html);
    free(t);
}
END_TEST

/* Quoted-printable keeps lines short without cutting a token in the raw bytes. */
START_TEST(eml_quoted_printable_keeps_tokens_whole)
{
    char para[600];
    const char *p[1] = {para};
    avtb_doc_model m = model();
    size_t len;

    snprintf(para, sizeof(para),
             "%s \xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9 %s "
             "x=y %s",
             "long-word-0123456789012345678901234567890123456789012345678901234567890123456789"
             "0123456789",
             BODY, BODY);
    m.paragraphs = p;
    m.nparagraphs = 1;
    m.nrows = m.ncols = 0;
    m.title = "\xC3\x9C"
              "ber die Zuweisung f\xC3\xBCr das Projekt HALYARD, Teil zwei, "
              "mit einem sehr langen Betreff";
    char *t = write_doc(AVTB_FMT_EML, &m, &len), *plain;
    const char *qp = strstr(t, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    const char *qp_end = qp != NULL ? strstr(qp, "\r\n--_000_") : NULL;

    ck_assert_uint_eq(count(t, len, BODY), 4);
    ck_assert_ptr_nonnull(qp_end);
    for (const char *line = qp + 47, *nl; (nl = strstr(line, "\r\n")) < qp_end; line = nl + 2)
        ck_assert_int_le(nl - line, 76);
    /* Each encoded-word is short and on its own folded line. */
    ck_assert_ptr_nonnull(strstr(t, "Subject: =?UTF-8?B?"));
    ck_assert_ptr_nonnull(strstr(t, "?=\r\n =?UTF-8?B?"));
    plain = eml_part(t, "text/plain");
    ck_assert_ptr_nonnull(strstr(plain, "x=y " BODY));
    ck_assert_ptr_nonnull(strstr(plain, "\r\nlong-word-012345678901234567890123456789012345678"
                                        "90123456789012345678901234567890123456789\r\n"));
    free(plain);
    free(t);
}
END_TEST

/* ---- docx --------------------------------------------------------------- */

START_TEST(docx_parts_and_tokens)
{
    static const char *const order[] = {
        "[Content_Types].xml", "_rels/.rels",      "word/_rels/document.xml.rels",
        "word/document.xml",   "word/styles.xml",  "word/settings.xml",
        "word/header1.xml",    "word/footer1.xml", "docProps/core.xml",
        "docProps/app.xml",
    };
    avtb_doc_model m = model();
    size_t len;
    char *t = write_doc(AVTB_FMT_DOCX, &m, &len);
    const char *doc, *rels, *core;
    members ms;

    unpack(t, len, &ms);
    ck_assert_uint_eq(ms.n, sizeof(order) / sizeof(order[0]));
    for (size_t i = 0; i < ms.n; i++) {
        ck_assert_str_eq(ms.v[i].name, order[i]);
        ck_assert_int_eq(ms.v[i].mtime, CREATED);
        ck_assert(strncmp(ms.v[i].data, "<?xml version=\"1.0\" encoding=\"UTF-8\"", 36) == 0);
    }
    doc = part(&ms, "word/document.xml");
    ck_assert_uint_eq(count(doc, strlen(doc), BODY), 2);
    ck_assert_ptr_null(strstr(doc, META));
    ck_assert_ptr_nonnull(strstr(doc, ">Costs agreed with M\xC3\xBCller &amp; Sons \xE2\x80\x93 "
                                      "\xC2\xA3"
                                      "1.2m &quot;ring-fenced&quot; &lt;pending&gt; "
                                      "review; see &apos;Annex B&apos; (draft) and "
                                      "C:\\Finance\\Q3.</w:t>"));
    ck_assert_ptr_nonnull(strstr(doc, ">&quot;Ops&quot; &lt;Team B&gt;</w:t>"));
    ck_assert_ptr_nonnull(strstr(doc, "<a:blip r:link=\"rId6\"/>"));
    ck_assert_ptr_nonnull(strstr(doc, "<w:headerReference w:type=\"default\" r:id=\"rId4\"/>"));
    rels = part(&ms, "word/_rels/document.xml.rels");
    ck_assert_ptr_nonnull(strstr(rels, "<Relationship Id=\"rId6\" Type=\"http://schemas."
                                       "openxmlformats.org/officeDocument/2006/relationships/"
                                       "image\" Target=\"" BEACON "\" TargetMode=\"External\"/>"));
    ck_assert_ptr_nonnull(strstr(part(&ms, "word/header1.xml"), ">OFFICIAL-SENSITIVE</w:t>"));
    ck_assert_ptr_nonnull(strstr(part(&ms, "word/footer1.xml"), ">OFFICIAL-SENSITIVE</w:t>"));
    core = part(&ms, "docProps/core.xml");
    ck_assert_ptr_nonnull(strstr(core, "<cp:keywords>" META "</cp:keywords>"));
    ck_assert_ptr_nonnull(strstr(core, "<dc:description>" META "</dc:description>"));
    ck_assert_ptr_nonnull(strstr(core, "<dc:title>Project HALYARD: revised allocation &amp; "
                                       "schedule</dc:title>"));
    ck_assert_ptr_nonnull(strstr(core, ">2026-11-18T11:06:40Z</dcterms:created>"));
    ck_assert_ptr_null(strstr(core, BODY));
    ck_assert_ptr_nonnull(
        strstr(part(&ms, "docProps/app.xml"), "<Company>Ministry of Defence</Company>"));
    ck_assert_ptr_nonnull(strstr(part(&ms, "[Content_Types].xml"), "/word/header1.xml"));
    members_free(&ms);
    free(t);
}
END_TEST

START_TEST(docx_without_marking_or_beacon)
{
    avtb_doc_model m = model();
    size_t len;
    char *t;
    members ms;

    m.marking = NULL;
    m.beacon_url = "https://x.example/a.png?u=1&v=<2>";
    t = write_doc(AVTB_FMT_DOCX, &m, &len);
    unpack(t, len, &ms);
    ck_assert_ptr_null(find(&ms, "word/header1.xml"));
    ck_assert_ptr_null(strstr(part(&ms, "[Content_Types].xml"), "header"));
    ck_assert_ptr_null(strstr(part(&ms, "word/document.xml"), "headerReference"));
    ck_assert_ptr_nonnull(strstr(part(&ms, "word/_rels/document.xml.rels"),
                                 "Target=\"https://x.example/a.png?u=1&amp;v=&lt;2&gt;\""));
    members_free(&ms);
    free(t);

    m.beacon_url = NULL;
    t = write_doc(AVTB_FMT_DOCX, &m, &len);
    unpack(t, len, &ms);
    ck_assert_ptr_null(strstr(part(&ms, "word/document.xml"), "w:drawing"));
    ck_assert_ptr_null(strstr(part(&ms, "word/_rels/document.xml.rels"), "External"));
    members_free(&ms);
    free(t);
}
END_TEST

/* ---- xlsx --------------------------------------------------------------- */

START_TEST(xlsx_parts_and_tokens)
{
    avtb_doc_model m = model();
    size_t len;
    char *t;
    const char *sheet, *sst;
    members ms;

    m.marking = "SECRET & UK EYES ONLY";
    t = write_doc(AVTB_FMT_XLSX, &m, &len);
    unpack(t, len, &ms);
    ck_assert_str_eq(ms.v[0].name, "[Content_Types].xml");
    sst = part(&ms, "xl/sharedStrings.xml");
    ck_assert_uint_eq(count(sst, strlen(sst), BODY), 2);
    ck_assert_ptr_nonnull(strstr(sst, ">R&amp;D/0412</t>"));
    ck_assert_ptr_nonnull(strstr(sst, ">&quot;Ops&quot; &lt;Team B&gt;</t>"));
    ck_assert_ptr_nonnull(strstr(sst, ">SECRET &amp; UK EYES ONLY</t>"));
    ck_assert_ptr_null(strstr(sst, ">1200<"));
    sheet = part(&ms, "xl/worksheets/sheet1.xml");
    ck_assert_ptr_nonnull(strstr(sheet, "<c r=\"C6\"><v>1200</v></c>")); /* a number */
    ck_assert_ptr_nonnull(strstr(sheet, "<c r=\"C7\"><v>350.5</v></c>"));
    ck_assert_ptr_nonnull(strstr(sheet, "<hyperlinks><hyperlink ref=\"A12\" r:id=\"rId1\"/>"));
    ck_assert_ptr_nonnull(strstr(sheet, "<c r=\"A12\" s=\"3\" t=\"s\">"));
    /* Excel's header codes double a literal '&'. */
    ck_assert_ptr_nonnull(strstr(sheet, "<oddHeader>&amp;C&amp;&quot;-,Bold&quot;SECRET "
                                        "&amp;&amp; UK EYES ONLY</oddHeader>"));
    ck_assert_ptr_nonnull(strstr(part(&ms, "xl/worksheets/_rels/sheet1.xml.rels"),
                                 "Target=\"" BEACON "\" TargetMode=\"External\""));
    ck_assert_ptr_nonnull(
        strstr(part(&ms, "docProps/core.xml"), "<cp:keywords>" META "</cp:keywords>"));
    ck_assert_ptr_null(strstr(sheet, BODY));
    members_free(&ms);
    free(t);
}
END_TEST

/* ---- pdf ---------------------------------------------------------------- */

/* Every cross-reference entry points at its object, startxref at the table. */
static void pdf_check_xref(const char *t, size_t len, size_t *nobj)
{
    const char *sx = strstr(t, "\nstartxref\n"), *x;
    size_t xref, n;

    ck_assert_ptr_nonnull(sx);
    xref = strtoul(sx + 11, NULL, 10);
    ck_assert_uint_lt(xref, len);
    x = t + xref;
    ck_assert(sscanf(x, "xref\n0 %zu\n", &n) == 1);
    x = strchr(strchr(x, '\n') + 1, '\n') + 1;
    ck_assert(strncmp(x, "0000000000 65535 f\r\n", 20) == 0);
    for (size_t i = 1; i < n; i++) {
        char want[32];
        size_t off = strtoul(x + 20 * i, NULL, 10);

        ck_assert(strncmp(x + 20 * i + 10, " 00000 n\r\n", 10) == 0);
        snprintf(want, sizeof(want), "%zu 0 obj\n", i);
        ck_assert_uint_lt(off, len);
        ck_assert_msg(strncmp(t + off, want, strlen(want)) == 0, "object %zu not at %zu", i, off);
    }
    ck_assert(strncmp(x + 20 * n, "trailer\n", 8) == 0);
    *nobj = n - 1;
}

START_TEST(pdf_structure_and_tokens)
{
    avtb_doc_model m = model();
    size_t len, nobj;
    char *t = write_doc(AVTB_FMT_PDF, &m, &len);

    ck_assert(strncmp(t, "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n", 15) == 0);
    ck_assert_str_eq(t + len - 6, "%%EOF\n");
    pdf_check_xref(t, len, &nobj);
    ck_assert_uint_eq(nobj, 8); /* catalog, pages, 2 fonts, info, page, content, link */
    ck_assert_ptr_nonnull(strstr(t, " /Keywords (" META ")"));
    ck_assert_ptr_nonnull(strstr(t, " /Subject (" META ")"));
    ck_assert_ptr_nonnull(strstr(t, " /Title (Project HALYARD: revised allocation & schedule)"));
    ck_assert_ptr_nonnull(strstr(t, " /Creator (Microsoft\\256 Word for Microsoft 365)"));
    ck_assert_ptr_nonnull(strstr(t, " /CreationDate (D:20261118110640Z)"));
    ck_assert_ptr_nonnull(strstr(t, "/Subtype /Link /Rect ["));
    ck_assert_ptr_nonnull(strstr(t, "/A << /S /URI /URI (" BEACON ") >>"));
    ck_assert_ptr_nonnull(strstr(t, "/BaseFont /Helvetica /Encoding /WinAnsiEncoding"));
    /* The body in the content stream: the token whole, text escaped and WinAnsi-coded. */
    const char *stream = strstr(t, "stream\n"), *end = strstr(t, "\nendstream");

    ck_assert(stream != NULL && end != NULL && stream < end);
    ck_assert_uint_eq(count(stream, (size_t)(end - stream), BODY), 2);
    ck_assert_ptr_nonnull(strstr(stream, "(Costs agreed with M\\374ller & Sons \\226 \\243"
                                         "1.2m \"ring-fenced\" <pending> review; see "));
    ck_assert_ptr_nonnull(strstr(stream, "'Annex B' \\(draft\\)"));
    ck_assert_ptr_nonnull(strstr(stream, " C:\\\\Finance\\\\Q3.) Tj"));
    ck_assert_uint_eq(count(stream, (size_t)(end - stream), "(OFFICIAL-SENSITIVE) Tj"), 2);
    ck_assert_ptr_nonnull(strstr(stream, "(Page 1 of 1) Tj"));
    ck_assert_ptr_null(strstr(t, "/FlateDecode"));
    free(t);
}
END_TEST

START_TEST(pdf_pages_and_unicode)
{
    enum { N = 120 };
    const char *p[N];
    avtb_doc_model m = model();
    size_t len, nobj;
    char *t;

    for (size_t i = 0; i < N; i++)
        p[i] = i == N - 1 ? "Last paragraph " BODY " \xE2\x98\x83 snowman."
                          : "A paragraph long enough to take a line or two of the page, so that "
                            "a hundred of them fill several pages of an A4 document in Helvetica.";
    m.paragraphs = p;
    m.nparagraphs = N;
    m.title = "\xCE\xA9mega plan"; /* Greek: not WinAnsi, so UTF-16 in the Info dictionary */
    t = write_doc(AVTB_FMT_PDF, &m, &len);
    pdf_check_xref(t, len, &nobj);
    size_t pages = count(t, len, "/Type /Page /Parent");

    ck_assert_uint_ge(pages, 4);
    ck_assert_uint_eq(nobj, 5 + 2 * pages + 1);
    ck_assert_uint_eq(count(t, len, "(OFFICIAL-SENSITIVE) Tj"), 2 * pages);
    ck_assert_ptr_nonnull(strstr(t, " /Title <FEFF03A9006D00650067006100200070006C0061006E>"));
    ck_assert_ptr_nonnull(strstr(t, "(?mega plan) Tj")); /* on the page: replaced */
    ck_assert_ptr_nonnull(strstr(t, "(Last paragraph " BODY " ? snowman.) Tj"));
    char want[64];

    snprintf(want, sizeof(want), "(Page %zu of %zu) Tj", pages, pages);
    ck_assert_ptr_nonnull(strstr(t, want));
    free(t);
}
END_TEST

/* ---- zip and 7z --------------------------------------------------------- */

START_TEST(archives_read_back)
{
    avtb_doc_format f = _i == 0 ? AVTB_FMT_ZIP : AVTB_FMT_7Z;
    avtb_doc_model m = archive_model();
    size_t len;
    char *t = write_doc(f, &m, &len);
    members ms;

    unpack(t, len, &ms);
    ck_assert_uint_eq(ms.n, 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_str_eq(ms.v[i].name, eicar_members[i].name);
        ck_assert_uint_eq(ms.v[i].len, eicar_members[i].len);
        ck_assert(memcmp(ms.v[i].data, eicar_members[i].data, ms.v[i].len) == 0);
        ck_assert_int_eq(ms.v[i].mtime, CREATED);
        /* libarchive's zip reader reports atime and ctime 0 even when absent. */
        if (f == AVTB_FMT_7Z)
            ck_assert(!ms.v[i].has_atime && !ms.v[i].has_ctime && !ms.v[i].has_birthtime);
    }
    ck_assert_str_eq(ms.v[0].data, AVTB_EICAR);
    if (f == AVTB_FMT_ZIP) {
        /* Local header of member 1: UTF-8 names flag, and only "UT" (mtime) and "ux"
         * (uid/gid 0) extra fields, so the host's times and owners stay out. */
        static const uint8_t ut_ux[] = {'U', 'T', 5, 0, 1, 0xC0, 0x86, 0xFD, 0x6A, 'u', 'x', 11,
                                        0,   1,   4, 0, 0, 0,    0,    4,    0,    0,   0,   0};
        const char *lh = memmem(t, len, "PK\3\4", 4);
        const char *second = memmem(lh + 4, len - (size_t)(lh + 4 - t), "PK\3\4", 4);

        ck_assert_ptr_nonnull(second);
        ck_assert_int_eq((uint8_t)second[6], 0x08); /* sizes in a data descriptor */
        ck_assert_int_eq((uint8_t)second[7], 0x08); /* bit 11: the name is UTF-8 */
        ck_assert_int_eq((uint8_t)second[28], sizeof(ut_ux));
        ck_assert(memcmp(second + 30 + strlen(eicar_members[1].name), ut_ux, sizeof(ut_ux)) == 0);
    }
    ck_assert_uint_eq(strlen(AVTB_EICAR), 68);
    members_free(&ms);
    free(t);
}
END_TEST

static Suite *docfmt_suite(void)
{
    Suite *s = suite_create("docfmt");
    TCase *tc;

    tc = tcase_create("model");
    tcase_add_test(tc, format_names_round_trip);
    tcase_add_test(tc, bad_models_are_refused);
    tcase_add_test(tc, minimal_models_write);
    suite_add_tcase(s, tc);

    tc = tcase_create("reproducible");
    tcase_add_loop_test(tc, same_model_same_bytes, 0, AVTB_FMT_COUNT);
    suite_add_tcase(s, tc);

    tc = tcase_create("text");
    tcase_add_test(tc, txt_layout);
    tcase_add_test(tc, txt_never_splits_a_word);
    tcase_add_test(tc, csv_quoting_and_banner);
    suite_add_tcase(s, tc);

    tc = tcase_create("eml");
    tcase_add_test(tc, eml_headers_and_parts);
    tcase_add_test(tc, eml_quoted_printable_keeps_tokens_whole);
    suite_add_tcase(s, tc);

    tc = tcase_create("ooxml");
    tcase_add_test(tc, docx_parts_and_tokens);
    tcase_add_test(tc, docx_without_marking_or_beacon);
    tcase_add_test(tc, xlsx_parts_and_tokens);
    suite_add_tcase(s, tc);

    tc = tcase_create("pdf");
    tcase_add_test(tc, pdf_structure_and_tokens);
    tcase_add_test(tc, pdf_pages_and_unicode);
    suite_add_tcase(s, tc);

    tc = tcase_create("archives");
    tcase_add_loop_test(tc, archives_read_back, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(docfmt_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
