/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Honey document writers (see docfmt.h): a document model in, the bytes of
 * a txt, csv, eml, docx, xlsx, pdf, zip or 7z file out. honeydoc.c builds
 * the models, plant.c copies the bytes into the guest. The only clock read
 * here is model->created, so the same model always gives the same bytes.
 */
#include "guests/docfmt.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"

/* Limits on a model; a generator that hits one has a bug. */
#define DOCFMT_MAX_TEXT       (1u << 20) /* bytes in one string */
#define DOCFMT_MAX_MARKING    100        /* bytes: a banner, and an Excel print header */
#define DOCFMT_MAX_URL        2000       /* bytes in beacon_url */
#define DOCFMT_MAX_META       128        /* bytes in meta_token */
#define DOCFMT_MAX_PARAGRAPHS 10000
#define DOCFMT_MAX_CELLS      100000
#define DOCFMT_MAX_COLS       1000
#define DOCFMT_MAX_MEMBERS    10000
#define DOCFMT_MAX_OUTPUT     ((size_t)512 << 20) /* bytes of one file or part */
/* Zip's DOS times start in 1980; keep well inside every format's range. */
#define DOCFMT_MIN_TIME ((time_t)315532800)  /* 1980-01-01 */
#define DOCFMT_MAX_TIME ((time_t)4102444800) /* 2100-01-01 */

static const char *const format_names[AVTB_FMT_COUNT] = {
    [AVTB_FMT_TXT] = "txt",   [AVTB_FMT_CSV] = "csv",   [AVTB_FMT_EML] = "eml",
    [AVTB_FMT_DOCX] = "docx", [AVTB_FMT_XLSX] = "xlsx", [AVTB_FMT_PDF] = "pdf",
    [AVTB_FMT_ZIP] = "zip",   [AVTB_FMT_7Z] = "7z",
};

const char *avtb_doc_format_name(avtb_doc_format f)
{
    return (unsigned)f < AVTB_FMT_COUNT ? format_names[f] : "?";
}

bool avtb_doc_format_parse(const char *s, avtb_doc_format *out)
{
    for (int f = 0; f < AVTB_FMT_COUNT; f++) {
        if (s != NULL && strcmp(s, format_names[f]) == 0) {
            *out = (avtb_doc_format)f;
            return true;
        }
    }
    return false;
}

/* ---- growable buffer ---------------------------------------------------- */

/* Appends never fail loudly (common/buf.h): checked once, by db_check. */
typedef avtb_buf dbuf;
#define DBUF_INIT                                                                                  \
    {                                                                                              \
        .limit = DOCFMT_MAX_OUTPUT                                                                 \
    }

static void db_repeat(dbuf *b, char c, size_t n)
{
    while (n-- > 0)
        avtb_buf_byte(b, c);
}

/* AVTB_OK, or the error a failed buffer stands for. */
static avtb_err db_check(const dbuf *b, const char *what, avtb_error *err)
{
    if (b->fail == AVTB_BUF_NOMEM)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "%s: out of memory", what);
    if (b->fail == AVTB_BUF_TOOBIG)
        return avtb_error_set(err, AVTB_ERR_USAGE,
                              "%s: the document would exceed %zu bytes; make the model smaller",
                              what, DOCFMT_MAX_OUTPUT);
    return AVTB_OK;
}

/* ---- text: UTF-8, escaping, wrapping ------------------------------------ */

/*
 * Length (1..4) of the well-formed UTF-8 sequence at s and its code point in
 * *cp, or 0 for anything else (overlong forms, surrogates, > U+10FFFF,
 * truncated sequences).
 */
static size_t u8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    uint32_t c;
    size_t len;

    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        c = s[0] & 0x1Fu;
        len = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        c = s[0] & 0x0Fu;
        len = 3;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        c = s[0] & 0x07u;
        len = 4;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3Fu);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/* Code points in a span of valid UTF-8: the column width of plain text. */
static size_t u8_cols(const char *s, size_t n, const void *ctx)
{
    size_t cols = 0;

    for (size_t i = 0; i < n; i++)
        cols += ((unsigned char)s[i] & 0xC0) != 0x80;
    return cols;
}

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* XML character data and attribute values alike. */
static void db_xml(dbuf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&':
            avtb_buf_str(b, "&amp;");
            break;
        case '<':
            avtb_buf_str(b, "&lt;");
            break;
        case '>':
            avtb_buf_str(b, "&gt;");
            break;
        case '"':
            avtb_buf_str(b, "&quot;");
            break;
        case '\'':
            avtb_buf_str(b, "&apos;");
            break;
        default:
            avtb_buf_byte(b, *p);
        }
    }
}

/* HTML in pure ASCII: markup escaped, every other character as &#N;. */
static void db_html(dbuf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    while (n > 0) {
        uint32_t cp = '?';
        size_t k = u8_decode(p, n, &cp);

        if (k == 0) /* validated earlier; never reached */
            k = 1;
        if (cp >= 0x80 || cp == '&' || cp == '<' || cp == '>' || cp == '"' || cp == '\'')
            avtb_buf_printf(b, "&#%u;", (unsigned)cp);
        else
            avtb_buf_byte(b, (char)cp);
        p += k;
        n -= k;
    }
}

typedef size_t (*span_width_fn)(const char *s, size_t n, const void *ctx);
typedef void (*line_fn)(const char *s, size_t n, void *ctx);

/*
 * Breaks text into lines at spaces so that no line is wider than limit;
 * a word wider than limit gets a line of its own. A word is never split, so
 * a canary token always survives wrapping whole. Spaces at a break are
 * dropped; empty text is one empty line.
 */
static void wrap(const char *s, size_t n, size_t limit, span_width_fn width, const void *wctx,
                 line_fn line, void *lctx)
{
    size_t ls = 0, le = 0, i = 0;
    bool any = false;

    while (i < n) {
        size_t ws, we;

        while (i < n && s[i] == ' ')
            i++;
        if (i == n)
            break;
        ws = i;
        while (i < n && s[i] != ' ')
            i++;
        we = i;
        if (!any) {
            ls = ws;
            le = we;
            any = true;
        } else if (width(s + ls, we - ls, wctx) <= limit) {
            le = we;
        } else {
            line(s + ls, le - ls, lctx);
            ls = ws;
            le = we;
        }
    }
    line(s + ls, any ? le - ls : 0, lctx);
}

/* ---- the model ---------------------------------------------------------- */

static avtb_err check_text(const char *what, size_t index, bool indexed, const char *s, size_t max,
                           avtb_error *err)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), off = 0;
    char name[64];

    if (indexed)
        snprintf(name, sizeof(name), "%s[%zu]", what, index);
    else
        snprintf(name, sizeof(name), "%s", what);
    if (n > max)
        return avtb_error_set(err, AVTB_ERR_USAGE, "document model: %s is %zu bytes, more than %zu",
                              name, n, max);
    while (off < n) {
        uint32_t cp;
        size_t k = u8_decode(p + off, n - off, &cp);

        if (k == 0)
            return avtb_error_set(err, AVTB_ERR_USAGE,
                                  "document model: %s is not valid UTF-8 at byte %zu", name, off);
        /* XML 1.0 forbids most of these, and none belongs in a line of text. */
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xFFFE || cp == 0xFFFF)
            return avtb_error_set(err, AVTB_ERR_USAGE,
                                  "document model: %s has control character U+%04X at byte %zu "
                                  "(one line of text, no tabs or newlines)",
                                  name, (unsigned)cp, off);
        off += k;
    }
    return AVTB_OK;
}

static avtb_err check_opt(const char *what, const char *s, size_t max, avtb_error *err)
{
    return s == NULL ? AVTB_OK : check_text(what, 0, false, s, max, err);
}

/* A relative path of '/'-separated names, none empty, "." or "..": no escaping the archive. */
static avtb_err check_member_name(size_t i, const char *name, avtb_error *err)
{
    avtb_err r;

    if (name == NULL || *name == '\0')
        return avtb_error_set(err, AVTB_ERR_USAGE, "document model: members[%zu] has no name", i);
    if ((r = check_text("members.name", i, true, name, 1024, err)) != AVTB_OK)
        return r;
    for (const char *p = name;; p++) {
        size_t n = strcspn(p, "/");

        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') ||
            memchr(p, '\\', n) != NULL)
            return avtb_error_set(err, AVTB_ERR_USAGE,
                                  "document model: member name \"%s\" must be a relative path "
                                  "of '/'-separated names, without \"..\", \".\" or '\\'",
                                  name);
        p += n;
        if (*p == '\0')
            break;
    }
    return AVTB_OK;
}

static avtb_err check_model(avtb_doc_format f, const avtb_doc_model *m, avtb_error *err)
{
    avtb_err r;

    if (m->created < DOCFMT_MIN_TIME || m->created >= DOCFMT_MAX_TIME)
        return avtb_error_set(err, AVTB_ERR_USAGE,
                              "document model: created (%lld) must be between 1980 and 2099",
                              (long long)m->created);
    if ((r = check_opt("marking", m->marking, DOCFMT_MAX_MARKING, err)) != AVTB_OK ||
        (r = check_opt("title", m->title, DOCFMT_MAX_TEXT, err)) != AVTB_OK ||
        (r = check_opt("author", m->author, DOCFMT_MAX_TEXT, err)) != AVTB_OK ||
        (r = check_opt("organisation", m->organisation, DOCFMT_MAX_TEXT, err)) != AVTB_OK ||
        (r = check_opt("reference", m->reference, DOCFMT_MAX_TEXT, err)) != AVTB_OK ||
        (r = check_opt("from", m->from, 998 - 16, err)) != AVTB_OK ||
        (r = check_opt("to", m->to, 998 - 16, err)) != AVTB_OK)
        return r;
    if (m->nparagraphs > DOCFMT_MAX_PARAGRAPHS || (m->nparagraphs > 0 && m->paragraphs == NULL))
        return avtb_error_set(err, AVTB_ERR_USAGE,
                              "document model: %zu paragraphs (at most %d, and not NULL)",
                              m->nparagraphs, DOCFMT_MAX_PARAGRAPHS);
    for (size_t i = 0; i < m->nparagraphs; i++) {
        if (m->paragraphs[i] == NULL)
            return avtb_error_set(err, AVTB_ERR_USAGE, "document model: paragraphs[%zu] is NULL",
                                  i);
        if ((r = check_text("paragraphs", i, true, m->paragraphs[i], DOCFMT_MAX_TEXT, err)) !=
            AVTB_OK)
            return r;
    }
    if ((m->nrows == 0) != (m->ncols == 0) || m->ncols > DOCFMT_MAX_COLS ||
        (m->ncols > 0 && m->nrows > DOCFMT_MAX_CELLS / m->ncols) ||
        (m->nrows > 0 && m->table == NULL))
        return avtb_error_set(err, AVTB_ERR_USAGE,
                              "document model: a %zu x %zu table (at most %d columns and %d "
                              "cells, and not NULL)",
                              m->nrows, m->ncols, DOCFMT_MAX_COLS, DOCFMT_MAX_CELLS);
    for (size_t i = 0; i < m->nrows * m->ncols; i++) {
        if (m->table[i] == NULL)
            return avtb_error_set(err, AVTB_ERR_USAGE, "document model: table[%zu] is NULL", i);
        if ((r = check_text("table", i, true, m->table[i], DOCFMT_MAX_TEXT, err)) != AVTB_OK)
            return r;
    }
    if (m->meta_token != NULL) {
        size_t n = strlen(m->meta_token);

        /* It goes into a Message-ID, so: a dot-atom of safe characters. */
        if (n == 0 || n > DOCFMT_MAX_META ||
            strspn(m->meta_token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                  "0123456789-_.") != n)
            return avtb_error_set(err, AVTB_ERR_USAGE,
                                  "document model: meta_token must be 1 to %d letters, digits, "
                                  "'-', '_' or '.'",
                                  DOCFMT_MAX_META);
    }
    if (m->beacon_url != NULL) {
        size_t n = strlen(m->beacon_url);
        bool ok = n > 0 && n <= DOCFMT_MAX_URL;

        for (size_t i = 0; ok && i < n; i++)
            ok = m->beacon_url[i] > ' ' && m->beacon_url[i] < 0x7F;
        if (!ok)
            return avtb_error_set(err, AVTB_ERR_USAGE,
                                  "document model: beacon_url must be 1 to %d printable ASCII "
                                  "characters without spaces (percent-encode the rest)",
                                  DOCFMT_MAX_URL);
    }
    if (m->nmembers > DOCFMT_MAX_MEMBERS || (m->nmembers > 0 && m->members == NULL))
        return avtb_error_set(err, AVTB_ERR_USAGE, "document model: %zu members (at most %d)",
                              m->nmembers, DOCFMT_MAX_MEMBERS);
    for (size_t i = 0; i < m->nmembers; i++) {
        if ((r = check_member_name(i, m->members[i].name, err)) != AVTB_OK)
            return r;
        if (m->members[i].len > DOCFMT_MAX_OUTPUT ||
            (m->members[i].len > 0 && m->members[i].data == NULL))
            return avtb_error_set(err, AVTB_ERR_USAGE,
                                  "document model: member \"%s\" has no data or more than %zu "
                                  "bytes",
                                  m->members[i].name, DOCFMT_MAX_OUTPUT);
    }

    switch (f) {
    case AVTB_FMT_CSV:
        if (m->nrows == 0)
            return avtb_error_set(err, AVTB_ERR_USAGE,
                                  "document model: a csv document needs a table");
        break;
    case AVTB_FMT_EML:
        if (m->from == NULL)
            return avtb_error_set(err, AVTB_ERR_USAGE,
                                  "document model: an eml document needs from (RFC 5322)");
        break;
    case AVTB_FMT_ZIP:
    case AVTB_FMT_7Z:
        if (m->nmembers == 0)
            return avtb_error_set(err, AVTB_ERR_USAGE,
                                  "document model: a %s archive needs at least one member",
                                  format_names[f]);
        break;
    default:
        break;
    }
    return AVTB_OK;
}

/* ---- dates -------------------------------------------------------------- */

static const char *const month_names[12] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};
static const char *const day_abbr[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

static struct tm utc(time_t t)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    return tm;
}

/* "26 November 2026": how a British document dates itself. */
static void db_date_long(dbuf *b, time_t t)
{
    struct tm tm = utc(t);

    avtb_buf_printf(b, "%d %s %d", tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900);
}

/* W3CDTF, as OOXML core properties want it. */
static void db_date_w3c(dbuf *b, time_t t)
{
    struct tm tm = utc(t);

    avtb_buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- txt (and the text/plain part of eml) ------------------------------- */

typedef struct plain_ctx {
    dbuf *b;
} plain_ctx;

static void plain_line(const char *s, size_t n, void *ctx)
{
    plain_ctx *c = ctx;

    avtb_buf_add(c->b, s, n);
    avtb_buf_byte(c->b, '\n');
}

static void plain_centred(dbuf *b, const char *s, size_t cols)
{
    size_t w = u8_cols(s, strlen(s), NULL);

    if (w < cols)
        db_repeat(b, ' ', (cols - w) / 2);
    avtb_buf_str(b, s);
    avtb_buf_byte(b, '\n');
}

/* How plain text is laid out: txt on its own, or the text/plain part of a mail. */
typedef struct plain_style {
    size_t cols;         /* centring, and the wrap limit in width units */
    span_width_fn width; /* of a span of a paragraph */
    bool txt;            /* a file: title underlined, beacon as a line */
} plain_style;

static void plain_para(dbuf *b, const char *s, const plain_style *st)
{
    plain_ctx c = {b};

    wrap(s, strlen(s), st->cols, st->width, NULL, plain_line, &c);
}

/* Columns padded to their widest cell; a rule under the header row. */
static void plain_table(dbuf *b, const avtb_doc_model *m)
{
    size_t *w = calloc(m->ncols, sizeof(*w));
    size_t total = 0;

    if (w == NULL) {
        b->fail = AVTB_BUF_NOMEM;
        return;
    }
    for (size_t r = 0; r < m->nrows; r++)
        for (size_t c = 0; c < m->ncols; c++) {
            const char *cell = m->table[r * m->ncols + c];
            size_t cw = u8_cols(cell, strlen(cell), NULL);

            if (cw > w[c])
                w[c] = cw;
        }
    for (size_t r = 0; r < m->nrows; r++) {
        size_t start = b->len;

        for (size_t c = 0; c < m->ncols; c++) {
            const char *cell = m->table[r * m->ncols + c];

            if (c > 0)
                avtb_buf_str(b, "  ");
            avtb_buf_str(b, cell);
            db_repeat(b, ' ', w[c] - u8_cols(cell, strlen(cell), NULL));
        }
        while (b->fail == AVTB_BUF_OK && b->len > start && b->p[b->len - 1] == ' ')
            b->len--;
        avtb_buf_byte(b, '\n');
        if (r == 0) {
            for (size_t c = 0; c < m->ncols; c++)
                total += w[c] + (c > 0 ? 2 : 0);
            db_repeat(b, '-', total);
            avtb_buf_byte(b, '\n');
        }
    }
    free(w);
}

/*
 * The document as plain text with '\n' line ends: marking (centred), title,
 * reference, author, date, paragraphs (wrapped), table (aligned columns),
 * the beacon line (txt only), marking.
 */
static void render_plain(dbuf *b, const avtb_doc_model *m, const plain_style *st)
{
    if (m->marking != NULL) {
        plain_centred(b, m->marking, st->cols);
        avtb_buf_byte(b, '\n');
    }
    if (m->title != NULL) {
        size_t w = u8_cols(m->title, strlen(m->title), NULL);

        plain_para(b, m->title, st);
        if (st->txt)
            db_repeat(b, '=', w < st->cols ? w : st->cols);
        avtb_buf_str(b, st->txt ? "\n\n" : "\n");
    }
    if (m->reference != NULL) {
        avtb_buf_str(b, "Reference: ");
        avtb_buf_str(b, m->reference);
        avtb_buf_byte(b, '\n');
    }
    if (m->author != NULL || m->organisation != NULL) {
        avtb_buf_str(b, "Author: ");
        avtb_buf_str(b, m->author != NULL ? m->author : "");
        avtb_buf_str(b, m->author != NULL && m->organisation != NULL ? ", " : "");
        avtb_buf_str(b, m->organisation != NULL ? m->organisation : "");
        avtb_buf_byte(b, '\n');
    }
    avtb_buf_str(b, "Date: ");
    db_date_long(b, m->created);
    avtb_buf_str(b, "\n\n");
    for (size_t i = 0; i < m->nparagraphs; i++) {
        plain_para(b, m->paragraphs[i], st);
        avtb_buf_byte(b, '\n');
    }
    if (m->nrows > 0) {
        plain_table(b, m);
        avtb_buf_byte(b, '\n');
    }
    if (st->txt && m->beacon_url != NULL) {
        avtb_buf_str(b, "Figures: ");
        avtb_buf_str(b, m->beacon_url);
        avtb_buf_str(b, "\n\n");
    }
    if (m->marking != NULL)
        plain_centred(b, m->marking, st->cols);
}

/* UTF-8 text, LF line ends, paragraphs wrapped at 78 columns. */
static void write_txt(const avtb_doc_model *m, dbuf *out)
{
    plain_style st = {78, u8_cols, true};

    render_plain(out, m, &st);
}

/* ---- csv ---------------------------------------------------------------- */

static void csv_field(dbuf *b, const char *s)
{
    size_t n = strlen(s);

    /* RFC 4180 quotes for , " CR LF; Excel also trims unquoted edge spaces. */
    if (strpbrk(s, ",\"\r\n") == NULL && (n == 0 || (s[0] != ' ' && s[n - 1] != ' '))) {
        avtb_buf_str(b, s);
        return;
    }
    avtb_buf_byte(b, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            avtb_buf_byte(b, '"');
        avtb_buf_byte(b, *p);
    }
    avtb_buf_byte(b, '"');
}

/* A row holding one value in its first field, padded so every row has ncols fields. */
static void csv_banner(dbuf *b, const char *s, size_t ncols)
{
    csv_field(b, s);
    db_repeat(b, ',', ncols - 1);
    avtb_buf_str(b, "\r\n");
}

/*
 * An Excel-style export: the marking as the first and last row (padded to
 * the table's width, as Excel writes a banner row), the table, and the
 * beacon URL in a row of its own before the closing marking. UTF-8 with a
 * byte-order mark when any text is not ASCII, which is what makes Excel read
 * it as UTF-8.
 */
static void write_csv(const avtb_doc_model *m, dbuf *out)
{
    bool ascii = m->marking == NULL || is_ascii(m->marking);

    for (size_t i = 0; ascii && i < m->nrows * m->ncols; i++)
        ascii = is_ascii(m->table[i]);
    if (!ascii)
        avtb_buf_str(out, "\xEF\xBB\xBF");
    if (m->marking != NULL)
        csv_banner(out, m->marking, m->ncols);
    for (size_t r = 0; r < m->nrows; r++) {
        for (size_t c = 0; c < m->ncols; c++) {
            if (c > 0)
                avtb_buf_byte(out, ',');
            csv_field(out, m->table[r * m->ncols + c]);
        }
        avtb_buf_str(out, "\r\n");
    }
    if (m->beacon_url != NULL)
        csv_banner(out, m->beacon_url, m->ncols);
    if (m->marking != NULL)
        csv_banner(out, m->marking, m->ncols);
}

/* ---- eml ---------------------------------------------------------------- */

static void db_base64(dbuf *b, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t k = n - i < 3 ? n - i : 3;

        if (k > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (k > 2)
            v |= p[i + 2];
        avtb_buf_byte(b, tab[(v >> 18) & 63]);
        avtb_buf_byte(b, tab[(v >> 12) & 63]);
        avtb_buf_byte(b, k > 1 ? tab[(v >> 6) & 63] : '=');
        avtb_buf_byte(b, k > 2 ? tab[v & 63] : '=');
    }
}

/*
 * RFC 2047 encoded-words for UTF-8 text (never splitting a character), each
 * after the first on a folded line of its own; *col is the line's length.
 */
static void mime_words(dbuf *b, const char *s, size_t *col)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    bool first = true;

    while (n > 0) {
        size_t chunk = 0;

        /* 42 bytes -> 56 base64 characters + 12 of "=?UTF-8?B??=": 68. */
        while (chunk < n) {
            uint32_t cp;
            size_t k = u8_decode(p + chunk, n - chunk, &cp);

            if (k == 0 || chunk + k > 42)
                break;
            chunk += k;
        }
        if (chunk == 0)
            chunk = 1; /* validated earlier; never reached */
        if (!first && *col + 68 > 78) {
            avtb_buf_str(b, "\r\n ");
            *col = 1;
        }
        avtb_buf_str(b, "=?UTF-8?B?");
        db_base64(b, p, chunk);
        avtb_buf_str(b, "?=");
        *col += 12 + (chunk + 2) / 3 * 4;
        first = false;
        p += chunk;
        n -= chunk;
    }
}

/* An unstructured header field, folded at spaces (ASCII) or encoded (otherwise). */
static void mime_unstructured(dbuf *b, const char *name, const char *value)
{
    size_t col = strlen(name) + 2;

    avtb_buf_str(b, name);
    avtb_buf_str(b, ": ");
    if (!is_ascii(value)) {
        mime_words(b, value, &col);
    } else {
        const char *p = value;
        bool first = true;

        while (*p) {
            size_t sp = 0, w;

            while (p[sp] == ' ')
                sp++;
            w = strcspn(p + sp, " ");
            if (w == 0)
                break;
            if (!first && col + sp + w > 78) {
                avtb_buf_str(b, "\r\n");
                col = 0;
            }
            avtb_buf_add(b, p, sp); /* a fold keeps its whitespace */
            col += sp;
            avtb_buf_add(b, p + sp, w);
            col += w;
            p += sp + w;
            first = false;
        }
    }
    avtb_buf_str(b, "\r\n");
}

/* From/To: "Display Name <addr@host>" or a bare address; the name is quoted or encoded. */
static avtb_err mime_address(dbuf *b, const char *name, const char *value, avtb_error *err)
{
    const char *lt = strrchr(value, '<');
    size_t n = strlen(value), pl = 0;
    const char *addr = value, *phrase = value;

    if (lt != NULL && n > 0 && value[n - 1] == '>') {
        addr = lt;
        pl = (size_t)(lt - value);
        while (pl > 0 && phrase[pl - 1] == ' ')
            pl--;
        while (pl > 0 && *phrase == ' ') {
            phrase++;
            pl--;
        }
    }
    if (!is_ascii(addr) || strchr(addr, ' ') != NULL || strchr(addr, '@') == NULL)
        return avtb_error_set(err, AVTB_ERR_USAGE,
                              "document model: %s \"%s\" needs an ASCII address with '@' "
                              "(\"Name <user@host>\" or \"user@host\")",
                              name, value);
    avtb_buf_str(b, name);
    avtb_buf_str(b, ": ");
    if (pl > 0) {
        char *ph = strndup(phrase, pl);
        size_t col = strlen(name) + 2;

        if (ph == NULL)
            return avtb_error_set(err, AVTB_ERR_NOMEM, "eml: out of memory");
        if (!is_ascii(ph)) {
            mime_words(b, ph, &col);
        } else if (strpbrk(ph, "()<>[]:;@\\,.\"") != NULL &&
                   !(pl >= 2 && ph[0] == '"' && ph[pl - 1] == '"')) {
            avtb_buf_byte(b, '"');
            for (const char *q = ph; *q; q++) {
                if (*q == '"' || *q == '\\')
                    avtb_buf_byte(b, '\\');
                avtb_buf_byte(b, *q);
            }
            avtb_buf_byte(b, '"');
        } else {
            avtb_buf_str(b, ph);
        }
        free(ph);
        avtb_buf_byte(b, ' ');
    }
    avtb_buf_str(b, addr);
    avtb_buf_str(b, "\r\n");
    return AVTB_OK;
}

/* RFC 5322 date-time in UTC. */
static void mime_date(dbuf *b, time_t t)
{
    struct tm tm = utc(t);

    avtb_buf_printf(b, "Date: %s, %d %.3s %d %02d:%02d:%02d +0000\r\n", day_abbr[tm.tm_wday],
                    tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                    tm.tm_sec);
}

static bool part_is_7bit(const dbuf *body)
{
    size_t col = 0;

    for (size_t i = 0; i < body->len; i++) {
        if (body->p[i] >= 0x80)
            return false;
        col = body->p[i] == '\n' ? 0 : col + 1;
        if (col > 998)
            return false;
    }
    return true;
}

/* One quoted-printable unit for byte c; last: nothing follows on the line. */
static size_t qp_unit(unsigned char c, bool last, char unit[4])
{
    if (c > ' ' && c < 0x7F && c != '=') {
        unit[0] = (char)c;
        return 1;
    }
    if (c == ' ' && !last) {
        unit[0] = ' ';
        return 1;
    }
    snprintf(unit, 4, "=%02X", c);
    return 3;
}

/* Width of a span once quoted-printable: lines that fit need no soft breaks. */
static size_t qp_cols(const char *s, size_t n, const void *ctx)
{
    char unit[4];
    size_t w = 0;

    for (size_t i = 0; i < n; i++)
        w += qp_unit((unsigned char)s[i], false, unit);
    return w;
}

/*
 * One line as quoted-printable, soft breaks (at most 76 characters a line)
 * placed after a space where possible so that words, and the tokens in
 * them, stay whole in the raw bytes too.
 */
static void qp_line(dbuf *b, const char *s, size_t n)
{
    size_t col = 0, i = 0;
    char unit[4];

    while (i < n) {
        size_t j = i, enc = 0;

        while (j < n && s[j] != ' ')
            j++;
        while (j < n && s[j] == ' ')
            j++;
        for (size_t k = i; k < j; k++)
            enc += qp_unit((unsigned char)s[k], k + 1 == n, unit);
        /* 76 characters a line; a soft break's '=' takes one of them. */
        if (col > 0 && col + enc > (j == n ? 76u : 75u)) {
            avtb_buf_str(b, "=\r\n");
            col = 0;
        }
        for (size_t k = i; k < j; k++) {
            size_t u = qp_unit((unsigned char)s[k], k + 1 == n, unit);

            if (col + u > (k + 1 == n ? 76u : 75u)) {
                avtb_buf_str(b, "=\r\n");
                col = 0;
            }
            avtb_buf_add(b, unit, u);
            col += u;
        }
        i = j;
    }
    avtb_buf_str(b, "\r\n");
}

/* A body part's headers and its text ('\n' lines) with CRLF, 7bit when it can be. */
static void mime_part(dbuf *b, const char *boundary, const char *type, const dbuf *body)
{
    bool seven = part_is_7bit(body);
    size_t i = 0;

    avtb_buf_printf(b, "--%s\r\nContent-Type: %s; charset=\"utf-8\"\r\n", boundary, type);
    avtb_buf_printf(b, "Content-Transfer-Encoding: %s\r\n\r\n",
                    seven ? "7bit" : "quoted-printable");
    while (i < body->len) {
        const uint8_t *nl = memchr(body->p + i, '\n', body->len - i);
        size_t n = nl != NULL ? (size_t)(nl - (body->p + i)) : body->len - i;

        if (seven) {
            avtb_buf_add(b, body->p + i, n);
            avtb_buf_str(b, "\r\n");
        } else {
            qp_line(b, (const char *)body->p + i, n);
        }
        i += n + 1;
    }
}

static void html_block(dbuf *b, const char *open, const char *text, const char *close)
{
    avtb_buf_str(b, open);
    db_html(b, text);
    avtb_buf_str(b, close);
    avtb_buf_byte(b, '\n');
}

/*
 * The HTML alternative, pure ASCII: letterhead logo (the beacon), marking,
 * title, reference, paragraphs, table, marking. Paragraphs are wrapped at
 * spaces so most lines stay short.
 */
static void render_html(dbuf *b, const avtb_doc_model *m)
{
    avtb_buf_str(b, "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; "
                    "charset=utf-8\">\n");
    if (m->title != NULL)
        html_block(b, "<title>", m->title, "</title>");
    avtb_buf_str(b,
                 "</head>\n<body style=\"font-family:Calibri,Arial,sans-serif;font-size:11pt\">\n");
    if (m->marking != NULL)
        html_block(b, "<p align=\"center\"><b>", m->marking, "</b></p>");
    if (m->beacon_url != NULL) {
        avtb_buf_str(b, "<p><img src=\"");
        db_html(b, m->beacon_url);
        avtb_buf_str(b, "\"\nalt=\"");
        db_html(b, m->organisation != NULL ? m->organisation : "");
        avtb_buf_str(b, "\" width=\"180\" height=\"60\"></p>\n");
    }
    if (m->title != NULL)
        html_block(b, "<h2>", m->title, "</h2>");
    if (m->reference != NULL)
        html_block(b, "<p>Reference: ", m->reference, "</p>");
    for (size_t i = 0; i < m->nparagraphs; i++) {
        dbuf esc = DBUF_INIT;
        plain_ctx c = {b};

        db_html(&esc, m->paragraphs[i]);
        avtb_buf_str(b, "<p>\n");
        if (esc.fail != AVTB_BUF_OK)
            b->fail = esc.fail;
        else if (esc.len > 0)
            wrap((const char *)esc.p, esc.len, 76, u8_cols, NULL, plain_line, &c);
        avtb_buf_str(b, "</p>\n");
        avtb_buf_free(&esc);
    }
    if (m->nrows > 0) {
        avtb_buf_str(b,
                     "<table border=\"1\" cellpadding=\"4\" style=\"border-collapse:collapse\">\n");
        for (size_t r = 0; r < m->nrows; r++) {
            avtb_buf_str(b, "<tr>\n");
            for (size_t c = 0; c < m->ncols; c++)
                html_block(b, r == 0 ? "<th>" : "<td>", m->table[r * m->ncols + c],
                           r == 0 ? "</th>" : "</td>");
            avtb_buf_str(b, "</tr>\n");
        }
        avtb_buf_str(b, "</table>\n");
    }
    if (m->author != NULL || m->organisation != NULL) {
        avtb_buf_str(b, "<p>");
        if (m->author != NULL)
            db_html(b, m->author);
        avtb_buf_str(b, m->author != NULL && m->organisation != NULL ? "<br>\n" : "");
        if (m->organisation != NULL)
            db_html(b, m->organisation);
        avtb_buf_str(b, "</p>\n");
    }
    if (m->marking != NULL)
        html_block(b, "<p align=\"center\"><b>", m->marking, "</b></p>");
    avtb_buf_str(b, "</body>\n</html>\n");
}

/* The domain of the From address, for the Message-ID. */
static void db_from_domain(dbuf *b, const char *from)
{
    const char *at = strrchr(from, '@');
    size_t n = at != NULL ? strcspn(at + 1, ">") : 0;

    if (n == 0)
        avtb_buf_str(b, "mail.local");
    else
        avtb_buf_add(b, at + 1, n);
}

static avtb_err write_eml(const avtb_doc_model *m, dbuf *out, avtb_error *err)
{
    dbuf plain = DBUF_INIT, html = DBUF_INIT;
    char hash[65], boundary[40];
    struct tm tm = utc(m->created);
    avtb_err r;

    plain_style st = {76, qp_cols, false};

    render_plain(&plain, m, &st);
    render_html(&html, m);
    if ((r = db_check(&plain, "eml", err)) != AVTB_OK ||
        (r = db_check(&html, "eml", err)) != AVTB_OK)
        goto out;
    /* Outlook-like and a function of the content, which the parts cannot contain. */
    avtb_sha256_hex(html.p, html.len, hash);
    snprintf(boundary, sizeof(boundary), "_000_%.24s_", hash);

    mime_date(out, m->created);
    if ((r = mime_address(out, "From", m->from, err)) != AVTB_OK)
        goto out;
    if (m->to != NULL && (r = mime_address(out, "To", m->to, err)) != AVTB_OK)
        goto out;
    if (m->title != NULL)
        mime_unstructured(out, "Subject", m->title);
    avtb_buf_printf(out, "Message-ID: <%s.%04d%02d%02d%02d%02d%02d@",
                    m->meta_token != NULL ? m->meta_token : hash + 40, tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    db_from_domain(out, m->from);
    avtb_buf_str(out, ">\r\n");
    if (m->meta_token != NULL)
        avtb_buf_printf(out, "X-Document-Reference: %s\r\n", m->meta_token);
    avtb_buf_str(out, "Content-Language: en-GB\r\nMIME-Version: 1.0\r\n");
    avtb_buf_printf(out, "Content-Type: multipart/alternative;\r\n\tboundary=\"%s\"\r\n\r\n",
                    boundary);
    avtb_buf_str(out, "This is a multi-part message in MIME format.\r\n\r\n");
    mime_part(out, boundary, "text/plain", &plain);
    avtb_buf_str(out, "\r\n");
    mime_part(out, boundary, "text/html", &html);
    avtb_buf_printf(out, "\r\n--%s--\r\n", boundary);
    r = AVTB_OK;
out:
    avtb_buf_free(&plain);
    avtb_buf_free(&html);
    return r;
}

/* ---- zip and 7z through libarchive --------------------------------------- */

/* The error for a failed libarchive call: the buffer's own, or libarchive's. */
static avtb_err archive_fail(struct archive *a, const dbuf *out, const char *fmt, avtb_error *err)
{
    if (out->fail != AVTB_BUF_OK)
        return db_check(out, fmt, err);
    return avtb_error_set(err, AVTB_ERR_INTERNAL, "%s: libarchive: %s", fmt,
                          archive_error_string(a));
}

static la_ssize_t archive_to_dbuf(struct archive *a, void *client, const void *buf, size_t n)
{
    dbuf *b = client;

    avtb_buf_add(b, buf, n);
    if (b->fail != AVTB_BUF_OK) {
        archive_set_error(a, ENOMEM, "document too large or out of memory");
        return -1;
    }
    return (la_ssize_t)n;
}

static avtb_err write_archive_in(bool sevenzip, time_t mtime, const avtb_doc_member *mem, size_t n,
                                 dbuf *out, avtb_error *err);

/*
 * The members, in order, as a zip (deflate) or 7z (LZMA2) archive into out.
 * Every member is a regular file, mode 0644, owner 0:0, modified at mtime,
 * with no access, change or birth time: nothing from the host goes in.
 *
 * libarchive converts names through the process locale: under "C" its 7z
 * writer silently stores an empty name for a non-ASCII one, and its zip
 * writer leaves the UTF-8 flag clear. So this thread writes in C.UTF-8.
 */
static avtb_err write_archive(bool sevenzip, time_t mtime, const avtb_doc_member *mem, size_t n,
                              dbuf *out, avtb_error *err)
{
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0), old;
    avtb_err r;

    if (utf8 == (locale_t)0) {
        for (size_t i = 0; i < n; i++)
            if (!is_ascii(mem[i].name))
                return avtb_error_set(err, AVTB_ERR_INTERNAL,
                                      "%s: member \"%s\" needs the C.UTF-8 locale, which this "
                                      "system lacks",
                                      sevenzip ? "7z" : "zip", mem[i].name);
        return write_archive_in(sevenzip, mtime, mem, n, out, err);
    }
    old = uselocale(utf8);
    r = write_archive_in(sevenzip, mtime, mem, n, out, err);
    uselocale(old);
    freelocale(utf8);
    return r;
}

static avtb_err write_archive_in(bool sevenzip, time_t mtime, const avtb_doc_member *mem, size_t n,
                                 dbuf *out, avtb_error *err)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = NULL;
    const char *fmt = sevenzip ? "7z" : "zip";
    avtb_err r = AVTB_ERR_INTERNAL;

    if (a == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "%s: out of memory", fmt);
    if ((sevenzip ? archive_write_set_format_7zip(a) : archive_write_set_format_zip(a)) !=
            ARCHIVE_OK ||
        (sevenzip
             ? archive_write_set_format_option(a, "7zip", "compression", "lzma2")
             : archive_write_set_format_option(a, "zip", "compression", "deflate")) != ARCHIVE_OK ||
        (!sevenzip &&
         archive_write_set_format_option(a, "zip", "hdrcharset", "UTF-8") != ARCHIVE_OK) ||
        archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
        archive_write_open(a, out, NULL, archive_to_dbuf, NULL) != ARCHIVE_OK) {
        r = archive_fail(a, out, fmt, err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t done = 0;

        e = archive_entry_new();
        if (e == NULL) {
            r = avtb_error_set(err, AVTB_ERR_NOMEM, "%s: out of memory", fmt);
            goto out;
        }
        archive_entry_set_pathname_utf8(e, mem[i].name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        archive_entry_set_size(e, (la_int64_t)mem[i].len);
        archive_entry_set_mtime(e, mtime, 0);
        if (archive_write_header(a, e) != ARCHIVE_OK) {
            r = archive_fail(a, out, fmt, err);
            goto out;
        }
        while (done < mem[i].len) {
            la_ssize_t w = archive_write_data(a, mem[i].data + done, mem[i].len - done);

            if (w <= 0) {
                r = archive_fail(a, out, fmt, err);
                goto out;
            }
            done += (size_t)w;
        }
        if (archive_write_finish_entry(a) != ARCHIVE_OK) {
            r = archive_fail(a, out, fmt, err);
            goto out;
        }
        archive_entry_free(e);
        e = NULL;
    }
    r = archive_write_close(a) == ARCHIVE_OK ? db_check(out, fmt, err)
                                             : archive_fail(a, out, fmt, err);
out:
    archive_entry_free(e);
    archive_write_free(a);
    return r;
}

/* ---- OOXML packages (docx, xlsx) ----------------------------------------- */

#define XML_DECL   "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n"
#define NS_REL_PKG "http://schemas.openxmlformats.org/package/2006/relationships"
#define NS_REL_DOC "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
#define REL_DOC    NS_REL_DOC "/"
#define CT_OOXML   "application/vnd.openxmlformats-officedocument."
#define NS_W       "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
#define NS_S       "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

enum { PART_MAX = 12 };

/* The parts of a package, in the order they go into the zip. */
typedef struct ooxml {
    const char *names[PART_MAX];
    dbuf parts[PART_MAX];
    size_t n;
} ooxml;

static dbuf *ooxml_part(ooxml *o, const char *name)
{
    o->names[o->n] = name;
    o->parts[o->n].limit = DOCFMT_MAX_OUTPUT;
    avtb_buf_str(&o->parts[o->n], XML_DECL);
    return &o->parts[o->n++];
}

static avtb_err ooxml_finish(ooxml *o, time_t mtime, const char *fmt, dbuf *out, avtb_error *err)
{
    avtb_doc_member mem[PART_MAX];
    avtb_err r;

    for (size_t i = 0; i < o->n; i++) {
        if ((r = db_check(&o->parts[i], fmt, err)) != AVTB_OK)
            return r;
        mem[i] = (avtb_doc_member){o->names[i], o->parts[i].p, o->parts[i].len};
    }
    return write_archive(false, mtime, mem, o->n, out, err);
}

static void ooxml_free(ooxml *o)
{
    for (size_t i = 0; i < o->n; i++)
        avtb_buf_free(&o->parts[i]);
}

static void xml_elem(dbuf *b, const char *tag, const char *text)
{
    if (text == NULL)
        return;
    avtb_buf_printf(b, "<%s>", tag);
    db_xml(b, text);
    avtb_buf_printf(b, "</%s>", tag);
}

/* docProps/core.xml: the document's properties, meta_token in keywords and description. */
static void ooxml_core(dbuf *b, const avtb_doc_model *m)
{
    avtb_buf_str(b, "<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/"
                    "metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
                    "xmlns:dcterms=\"http://purl.org/dc/terms/\" "
                    "xmlns:dcmitype=\"http://purl.org/dc/dcmitype/\" "
                    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">");
    xml_elem(b, "dc:title", m->title);
    xml_elem(b, "dc:subject", m->reference);
    xml_elem(b, "dc:creator", m->author);
    xml_elem(b, "cp:keywords", m->meta_token);
    xml_elem(b, "dc:description", m->meta_token);
    xml_elem(b, "cp:lastModifiedBy", m->author);
    avtb_buf_str(b, "<cp:revision>1</cp:revision><dcterms:created xsi:type=\"dcterms:W3CDTF\">");
    db_date_w3c(b, m->created);
    avtb_buf_str(b, "</dcterms:created><dcterms:modified xsi:type=\"dcterms:W3CDTF\">");
    db_date_w3c(b, m->created);
    avtb_buf_str(b, "</dcterms:modified></cp:coreProperties>");
}

static void ooxml_root_rels(dbuf *b, const char *main_part)
{
    avtb_buf_printf(
        b,
        "<Relationships xmlns=\"" NS_REL_PKG "\">"
        "<Relationship Id=\"rId3\" Type=\"" REL_DOC "extended-properties\" "
        "Target=\"docProps/app.xml\"/>"
        "<Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/package/2006/"
        "relationships/metadata/core-properties\" Target=\"docProps/core.xml\"/>"
        "<Relationship Id=\"rId1\" Type=\"" REL_DOC "officeDocument\" Target=\"%s\"/>"
        "</Relationships>",
        main_part);
}

/* Words and characters, for app.xml's statistics. */
typedef struct text_stats {
    size_t words, chars, chars_spaces;
} text_stats;

static void count_text(text_stats *st, const char *s)
{
    bool in_word = false;

    for (const char *p = s; *p; p++) {
        if (((unsigned char)*p & 0xC0) == 0x80)
            continue;
        st->chars_spaces++;
        if (*p == ' ') {
            in_word = false;
            continue;
        }
        st->chars++;
        if (!in_word)
            st->words++;
        in_word = true;
    }
}

/* ---- docx --------------------------------------------------------------- */

/* A run of text; xml:space keeps edge spaces. */
static void w_run(dbuf *b, const char *rpr, const char *text)
{
    avtb_buf_str(b, "<w:r>");
    if (rpr != NULL)
        avtb_buf_printf(b, "<w:rPr>%s</w:rPr>", rpr);
    avtb_buf_str(b, "<w:t xml:space=\"preserve\">");
    db_xml(b, text);
    avtb_buf_str(b, "</w:t></w:r>");
}

static void w_para(dbuf *b, const char *ppr, const char *rpr, const char *text)
{
    avtb_buf_str(b, "<w:p>");
    if (ppr != NULL)
        avtb_buf_printf(b, "<w:pPr>%s</w:pPr>", ppr);
    if (text != NULL && *text)
        w_run(b, rpr, text);
    avtb_buf_str(b, "</w:p>");
}

/* A header or footer part holding the marking, centred and bold. */
static void docx_banner(dbuf *b, const char *root, const char *style, const char *marking)
{
    char ppr[64];

    avtb_buf_printf(b, "<w:%s xmlns:w=\"" NS_W "\" xmlns:r=\"" NS_REL_DOC "\">", root);
    snprintf(ppr, sizeof(ppr), "<w:pStyle w:val=\"%s\"/><w:jc w:val=\"center\"/>", style);
    w_para(b, ppr, "<w:b/><w:bCs/>", marking);
    avtb_buf_printf(b, "</w:%s>", root);
}

/*
 * The letterhead logo: an inline picture whose image is not in the package
 * but linked (r:link to an external relationship), so opening the document
 * fetches the beacon URL.
 */
static void docx_logo(dbuf *b, const avtb_doc_model *m)
{
    avtb_buf_str(b, "<w:p><w:pPr><w:jc w:val=\"right\"/></w:pPr><w:r><w:drawing>"
                    "<wp:inline distT=\"0\" distB=\"0\" distL=\"0\" distR=\"0\">"
                    "<wp:extent cx=\"1828800\" cy=\"609600\"/>"
                    "<wp:effectExtent l=\"0\" t=\"0\" r=\"0\" b=\"0\"/>"
                    "<wp:docPr id=\"1\" name=\"Picture 1\" descr=\"");
    db_xml(b, m->organisation != NULL ? m->organisation : "Logo");
    avtb_buf_str(b,
                 "\"/><wp:cNvGraphicFramePr><a:graphicFrameLocks noChangeAspect=\"1\"/>"
                 "</wp:cNvGraphicFramePr><a:graphic><a:graphicData "
                 "uri=\"http://schemas.openxmlformats.org/drawingml/2006/picture\"><pic:pic>"
                 "<pic:nvPicPr><pic:cNvPr id=\"0\" name=\"logo.png\"/><pic:cNvPicPr/></pic:nvPicPr>"
                 "<pic:blipFill><a:blip r:link=\"rId6\"/><a:stretch><a:fillRect/></a:stretch>"
                 "</pic:blipFill><pic:spPr><a:xfrm><a:off x=\"0\" y=\"0\"/>"
                 "<a:ext cx=\"1828800\" cy=\"609600\"/></a:xfrm><a:prstGeom prst=\"rect\">"
                 "<a:avLst/></a:prstGeom></pic:spPr></pic:pic></a:graphicData></a:graphic>"
                 "</wp:inline></w:drawing></w:r></w:p>");
}

static void docx_table(dbuf *b, const avtb_doc_model *m)
{
    size_t colw = 9026 / m->ncols; /* A4 text width in twips, shared out */

    avtb_buf_str(b, "<w:tbl><w:tblPr><w:tblStyle w:val=\"TableGrid\"/><w:tblW w:w=\"0\" "
                    "w:type=\"auto\"/><w:tblLook w:val=\"04A0\" w:firstRow=\"1\" w:lastRow=\"0\" "
                    "w:firstColumn=\"1\" w:lastColumn=\"0\" w:noHBand=\"0\" w:noVBand=\"1\"/>"
                    "</w:tblPr><w:tblGrid>");
    for (size_t c = 0; c < m->ncols; c++)
        avtb_buf_printf(b, "<w:gridCol w:w=\"%zu\"/>", colw);
    avtb_buf_str(b, "</w:tblGrid>");
    for (size_t r = 0; r < m->nrows; r++) {
        avtb_buf_str(b, "<w:tr>");
        if (r == 0)
            avtb_buf_str(b, "<w:trPr><w:tblHeader/></w:trPr>");
        for (size_t c = 0; c < m->ncols; c++) {
            avtb_buf_printf(b, "<w:tc><w:tcPr><w:tcW w:w=\"%zu\" w:type=\"dxa\"/></w:tcPr>", colw);
            w_para(b, NULL, r == 0 ? "<w:b/><w:bCs/>" : NULL, m->table[r * m->ncols + c]);
            avtb_buf_str(b, "</w:tc>");
        }
        avtb_buf_str(b, "</w:tr>");
    }
    avtb_buf_str(b, "</w:tbl>");
}

static void docx_document(dbuf *b, const avtb_doc_model *m)
{
    avtb_buf_str(
        b, "<w:document xmlns:w=\"" NS_W "\" xmlns:r=\"" NS_REL_DOC "\" "
           "xmlns:wp=\"http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing\" "
           "xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" "
           "xmlns:pic=\"http://schemas.openxmlformats.org/drawingml/2006/picture\"><w:body>");
    if (m->beacon_url != NULL)
        docx_logo(b, m);
    if (m->title != NULL)
        w_para(b, "<w:pStyle w:val=\"Title\"/>", NULL, m->title);
    if (m->reference != NULL) {
        avtb_buf_str(b, "<w:p>");
        w_run(b, "<w:b/><w:bCs/>", "Reference: ");
        w_run(b, NULL, m->reference);
        avtb_buf_str(b, "</w:p>");
    }
    if (m->author != NULL || m->organisation != NULL) {
        avtb_buf_str(b, "<w:p>");
        if (m->author != NULL)
            w_run(b, NULL, m->author);
        if (m->author != NULL && m->organisation != NULL)
            w_run(b, NULL, ", ");
        if (m->organisation != NULL)
            w_run(b, NULL, m->organisation);
        avtb_buf_str(b, "</w:p>");
    }
    {
        dbuf date = DBUF_INIT;

        db_date_long(&date, m->created);
        w_para(b, NULL, NULL, date.fail == AVTB_BUF_OK ? (const char *)date.p : "");
        if (date.fail != AVTB_BUF_OK)
            b->fail = date.fail;
        avtb_buf_free(&date);
    }
    for (size_t i = 0; i < m->nparagraphs; i++)
        w_para(b, NULL, NULL, m->paragraphs[i]);
    if (m->nrows > 0) {
        docx_table(b, m);
        w_para(b, NULL, NULL, NULL); /* Word ends a body after a table with a paragraph */
    }
    avtb_buf_str(b, "<w:sectPr>");
    if (m->marking != NULL)
        avtb_buf_str(b, "<w:headerReference w:type=\"default\" r:id=\"rId4\"/>"
                        "<w:footerReference w:type=\"default\" r:id=\"rId5\"/>");
    avtb_buf_str(b, "<w:pgSz w:w=\"11906\" w:h=\"16838\"/><w:pgMar w:top=\"1440\" w:right=\"1440\" "
                    "w:bottom=\"1440\" w:left=\"1440\" w:header=\"708\" w:footer=\"708\" "
                    "w:gutter=\"0\"/><w:cols w:space=\"708\"/></w:sectPr></w:body></w:document>");
}

static const char docx_styles[] =
    "<w:styles xmlns:w=\"" NS_W "\"><w:docDefaults><w:rPrDefault><w:rPr>"
    "<w:rFonts w:ascii=\"Calibri\" w:eastAsia=\"Calibri\" w:hAnsi=\"Calibri\" "
    "w:cs=\"Times New Roman\"/><w:sz w:val=\"22\"/><w:szCs w:val=\"22\"/>"
    "<w:lang w:val=\"en-GB\" w:eastAsia=\"en-US\" w:bidi=\"ar-SA\"/></w:rPr></w:rPrDefault>"
    "<w:pPrDefault><w:pPr><w:spacing w:after=\"160\" w:line=\"259\" w:lineRule=\"auto\"/>"
    "</w:pPr></w:pPrDefault></w:docDefaults>"
    "<w:style w:type=\"paragraph\" w:default=\"1\" w:styleId=\"Normal\"><w:name w:val=\"Normal\"/>"
    "<w:qFormat/></w:style>"
    "<w:style w:type=\"paragraph\" w:styleId=\"Title\"><w:name w:val=\"Title\"/>"
    "<w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/><w:qFormat/><w:pPr>"
    "<w:spacing w:after=\"240\" w:line=\"240\" w:lineRule=\"auto\"/></w:pPr><w:rPr>"
    "<w:sz w:val=\"48\"/><w:szCs w:val=\"48\"/></w:rPr></w:style>"
    "<w:style w:type=\"paragraph\" w:styleId=\"Header\"><w:name w:val=\"header\"/>"
    "<w:basedOn w:val=\"Normal\"/><w:pPr><w:spacing w:after=\"0\" w:line=\"240\" "
    "w:lineRule=\"auto\"/></w:pPr></w:style>"
    "<w:style w:type=\"paragraph\" w:styleId=\"Footer\"><w:name w:val=\"footer\"/>"
    "<w:basedOn w:val=\"Normal\"/><w:pPr><w:spacing w:after=\"0\" w:line=\"240\" "
    "w:lineRule=\"auto\"/></w:pPr></w:style>"
    "<w:style w:type=\"table\" w:default=\"1\" w:styleId=\"TableNormal\">"
    "<w:name w:val=\"Normal Table\"/><w:uiPriority w:val=\"99\"/><w:semiHidden/>"
    "<w:unhideWhenUsed/><w:tblPr><w:tblInd w:w=\"0\" w:type=\"dxa\"/><w:tblCellMar>"
    "<w:top w:w=\"0\" w:type=\"dxa\"/><w:left w:w=\"108\" w:type=\"dxa\"/>"
    "<w:bottom w:w=\"0\" w:type=\"dxa\"/><w:right w:w=\"108\" w:type=\"dxa\"/>"
    "</w:tblCellMar></w:tblPr></w:style>"
    "<w:style w:type=\"table\" w:styleId=\"TableGrid\"><w:name w:val=\"Table Grid\"/>"
    "<w:basedOn w:val=\"TableNormal\"/><w:uiPriority w:val=\"39\"/><w:pPr>"
    "<w:spacing w:after=\"0\" w:line=\"240\" w:lineRule=\"auto\"/></w:pPr><w:tblPr><w:tblBorders>"
    "<w:top w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"auto\"/>"
    "<w:left w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"auto\"/>"
    "<w:bottom w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"auto\"/>"
    "<w:right w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"auto\"/>"
    "<w:insideH w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"auto\"/>"
    "<w:insideV w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"auto\"/>"
    "</w:tblBorders></w:tblPr></w:style></w:styles>";

static const char docx_settings[] =
    "<w:settings xmlns:w=\"" NS_W "\"><w:zoom w:percent=\"100\"/>"
    "<w:defaultTabStop w:val=\"720\"/><w:characterSpacingControl w:val=\"doNotCompress\"/>"
    "<w:compat><w:compatSetting w:name=\"compatibilityMode\" "
    "w:uri=\"http://schemas.microsoft.com/office/word\" w:val=\"15\"/></w:compat>"
    "</w:settings>";

static void docx_app(dbuf *b, const avtb_doc_model *m)
{
    text_stats st = {0};

    if (m->title != NULL)
        count_text(&st, m->title);
    for (size_t i = 0; i < m->nparagraphs; i++)
        count_text(&st, m->paragraphs[i]);
    for (size_t i = 0; i < m->nrows * m->ncols; i++)
        count_text(&st, m->table[i]);
    avtb_buf_printf(
        b,
        "<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/"
        "extended-properties\" xmlns:vt=\"http://schemas.openxmlformats.org/officeDocument/"
        "2006/docPropsVTypes\"><Template>Normal.dotm</Template><TotalTime>%zu</TotalTime>"
        "<Pages>%zu</Pages><Words>%zu</Words><Characters>%zu</Characters>"
        "<Application>Microsoft Office Word</Application><DocSecurity>0</DocSecurity>"
        "<Lines>%zu</Lines><Paragraphs>%zu</Paragraphs><ScaleCrop>false</ScaleCrop>",
        1 + st.words / 40, 1 + st.words / 450, st.words, st.chars, 1 + st.chars_spaces / 80,
        m->nparagraphs + 1);
    xml_elem(b, "Company", m->organisation);
    avtb_buf_printf(b,
                    "<LinksUpToDate>false</LinksUpToDate><CharactersWithSpaces>%zu"
                    "</CharactersWithSpaces><SharedDoc>false</SharedDoc>"
                    "<HyperlinksChanged>false</HyperlinksChanged><AppVersion>16.0000</AppVersion>"
                    "</Properties>",
                    st.chars_spaces);
}

static avtb_err write_docx(const avtb_doc_model *m, dbuf *out, avtb_error *err)
{
    ooxml o = {0};
    dbuf *b;
    avtb_err r;

    b = ooxml_part(&o, "[Content_Types].xml");
    avtb_buf_str(b, "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
                    "<Default Extension=\"rels\" "
                    "ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
                    "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
                    "<Override PartName=\"/word/document.xml\" ContentType=\"" CT_OOXML
                    "wordprocessingml.document.main+xml\"/>"
                    "<Override PartName=\"/word/styles.xml\" ContentType=\"" CT_OOXML
                    "wordprocessingml.styles+xml\"/>"
                    "<Override PartName=\"/word/settings.xml\" ContentType=\"" CT_OOXML
                    "wordprocessingml.settings+xml\"/>");
    if (m->marking != NULL)
        avtb_buf_str(b, "<Override PartName=\"/word/header1.xml\" ContentType=\"" CT_OOXML
                        "wordprocessingml.header+xml\"/>"
                        "<Override PartName=\"/word/footer1.xml\" ContentType=\"" CT_OOXML
                        "wordprocessingml.footer+xml\"/>");
    avtb_buf_str(b, "<Override PartName=\"/docProps/core.xml\" "
                    "ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/>"
                    "<Override PartName=\"/docProps/app.xml\" ContentType=\"" CT_OOXML
                    "extended-properties+xml\"/></Types>");
    ooxml_root_rels(ooxml_part(&o, "_rels/.rels"), "word/document.xml");

    b = ooxml_part(&o, "word/_rels/document.xml.rels");
    avtb_buf_str(b,
                 "<Relationships xmlns=\"" NS_REL_PKG "\">"
                 "<Relationship Id=\"rId2\" Type=\"" REL_DOC "settings\" Target=\"settings.xml\"/>"
                 "<Relationship Id=\"rId1\" Type=\"" REL_DOC "styles\" Target=\"styles.xml\"/>");
    if (m->marking != NULL)
        avtb_buf_str(
            b, "<Relationship Id=\"rId4\" Type=\"" REL_DOC "header\" Target=\"header1.xml\"/>"
               "<Relationship Id=\"rId5\" Type=\"" REL_DOC "footer\" Target=\"footer1.xml\"/>");
    if (m->beacon_url != NULL) {
        avtb_buf_str(b, "<Relationship Id=\"rId6\" Type=\"" REL_DOC "image\" Target=\"");
        db_xml(b, m->beacon_url);
        avtb_buf_str(b, "\" TargetMode=\"External\"/>");
    }
    avtb_buf_str(b, "</Relationships>");

    docx_document(ooxml_part(&o, "word/document.xml"), m);
    avtb_buf_str(ooxml_part(&o, "word/styles.xml"), docx_styles);
    avtb_buf_str(ooxml_part(&o, "word/settings.xml"), docx_settings);
    if (m->marking != NULL) {
        docx_banner(ooxml_part(&o, "word/header1.xml"), "hdr", "Header", m->marking);
        docx_banner(ooxml_part(&o, "word/footer1.xml"), "ftr", "Footer", m->marking);
    }
    ooxml_core(ooxml_part(&o, "docProps/core.xml"), m);
    docx_app(ooxml_part(&o, "docProps/app.xml"), m);
    r = ooxml_finish(&o, m->created, "docx", out, err);
    ooxml_free(&o);
    return r;
}

/* ---- xlsx --------------------------------------------------------------- */

/* Cell styles in xl/styles.xml's cellXfs. */
enum { XS_NORMAL, XS_BOLD, XS_TITLE, XS_LINK };

typedef struct sheet {
    dbuf *data; /* <sheetData> rows */
    dbuf *sst;  /* <si> items */
    size_t nsst;
    size_t row; /* the last row written, 1-based */
    size_t maxcol;
} sheet;

/* "A", "B", ..., "Z", "AA", ... for a 0-based column. */
static void db_colname(dbuf *b, size_t col)
{
    char tmp[8];
    size_t n = 0;

    col++;
    while (col > 0 && n < sizeof(tmp)) {
        tmp[n++] = (char)('A' + (col - 1) % 26);
        col = (col - 1) / 26;
    }
    while (n > 0)
        avtb_buf_byte(b, tmp[--n]);
}

/*
 * Plain decimal numbers that survive a round trip through a double
 * unchanged are stored as numbers, as Excel would; everything else is text.
 */
static bool xlsx_number(const char *s)
{
    const char *p = s + (*s == '-');
    size_t digits = strspn(p, "0123456789");

    /* Eleven characters is what Excel's General format shows as typed. */
    if (digits == 0 || (p[0] == '0' && digits > 1) || strlen(s) > 11 || strcmp(s, "-0") == 0)
        return false;
    p += digits;
    if (*p == '.') {
        size_t frac = strspn(p + 1, "0123456789");

        if (frac == 0 || p[frac] == '0')
            return false;
        digits += frac;
        p += 1 + frac;
    }
    return *p == '\0' && digits <= 15;
}

static void sheet_row(sheet *sh, size_t row)
{
    if (sh->row > 0)
        avtb_buf_str(sh->data, "</row>");
    avtb_buf_printf(sh->data, "<row r=\"%zu\">", row);
    sh->row = row;
}

static void sheet_cell(sheet *sh, size_t col, const char *text, int style)
{
    avtb_buf_str(sh->data, "<c r=\"");
    db_colname(sh->data, col);
    avtb_buf_printf(sh->data, "%zu\"", sh->row);
    if (style != XS_NORMAL)
        avtb_buf_printf(sh->data, " s=\"%d\"", style);
    if (xlsx_number(text)) {
        avtb_buf_printf(sh->data, "><v>%s</v></c>", text);
    } else {
        avtb_buf_printf(sh->data, " t=\"s\"><v>%zu</v></c>", sh->nsst++);
        avtb_buf_str(sh->sst, "<si><t xml:space=\"preserve\">");
        db_xml(sh->sst, text);
        avtb_buf_str(sh->sst, "</t></si>");
    }
    if (col > sh->maxcol)
        sh->maxcol = col;
}

/* A print header/footer string: centred, bold, '&' doubled as Excel's codes want. */
static void xlsx_hf(dbuf *b, const char *tag, const char *marking)
{
    avtb_buf_printf(b, "<%s>&amp;C&amp;&quot;-,Bold&quot;", tag);
    for (const char *p = marking; *p; p++) {
        char one[2] = {*p, '\0'};

        db_xml(b, one);
        if (*p == '&')
            avtb_buf_str(b, "&amp;");
    }
    avtb_buf_printf(b, "</%s>", tag);
}

/*
 * Sheet1: marking (row 1), title, reference, a blank row, the table (bold
 * header row), the paragraphs one per row as notes under it, the beacon URL
 * as a hyperlinked cell, and the marking again; the marking is also the
 * print header and footer.
 */
static void xlsx_sheet(dbuf *b, dbuf *sst, size_t *nsst, size_t *link_row, const avtb_doc_model *m)
{
    dbuf data = DBUF_INIT;
    sheet sh = {&data, sst, 0, 0, 0};
    size_t row = 0;

    if (m->marking != NULL) {
        sheet_row(&sh, ++row);
        sheet_cell(&sh, 0, m->marking, XS_BOLD);
    }
    if (m->title != NULL) {
        sheet_row(&sh, ++row);
        sheet_cell(&sh, 0, m->title, XS_TITLE);
    }
    if (m->reference != NULL) {
        sheet_row(&sh, ++row);
        sheet_cell(&sh, 0, "Reference", XS_BOLD);
        sheet_cell(&sh, 1, m->reference, XS_NORMAL);
    }
    if (row > 0)
        row++;
    for (size_t r = 0; r < m->nrows; r++) {
        sheet_row(&sh, ++row);
        for (size_t c = 0; c < m->ncols; c++)
            sheet_cell(&sh, c, m->table[r * m->ncols + c], r == 0 ? XS_BOLD : XS_NORMAL);
    }
    if (m->nrows > 0 && m->nparagraphs > 0)
        row++;
    for (size_t i = 0; i < m->nparagraphs; i++) {
        sheet_row(&sh, ++row);
        sheet_cell(&sh, 0, m->paragraphs[i], XS_NORMAL);
    }
    *link_row = 0;
    if (m->beacon_url != NULL) {
        row++;
        sheet_row(&sh, ++row);
        sheet_cell(&sh, 0, m->beacon_url, XS_LINK);
        *link_row = row;
    }
    if (m->marking != NULL) {
        row++;
        sheet_row(&sh, ++row);
        sheet_cell(&sh, 0, m->marking, XS_BOLD);
    }
    if (sh.row > 0)
        avtb_buf_str(&data, "</row>");

    avtb_buf_str(b, "<worksheet xmlns=\"" NS_S "\" xmlns:r=\"" NS_REL_DOC "\"><dimension ref=\"A1");
    if (row > 1 || sh.maxcol > 0) {
        avtb_buf_byte(b, ':');
        db_colname(b, sh.maxcol);
        avtb_buf_printf(b, "%zu", row > 0 ? row : 1);
    }
    avtb_buf_str(b,
                 "\"/><sheetViews><sheetView tabSelected=\"1\" workbookViewId=\"0\"/></sheetViews>"
                 "<sheetFormatPr defaultRowHeight=\"15\"/>");
    if (m->ncols > 0) {
        avtb_buf_str(b, "<cols>");
        for (size_t c = 0; c < m->ncols; c++) {
            size_t w = 8;

            for (size_t r = 0; r < m->nrows; r++) {
                const char *cell = m->table[r * m->ncols + c];
                size_t cw = u8_cols(cell, strlen(cell), NULL);

                if (cw > w)
                    w = cw;
            }
            avtb_buf_printf(
                b, "<col min=\"%zu\" max=\"%zu\" width=\"%zu.7109375\" customWidth=\"1\"/>", c + 1,
                c + 1, (w < 60 ? w : 60) + 2);
        }
        avtb_buf_str(b, "</cols>");
    }
    avtb_buf_str(b, "<sheetData>");
    if (data.fail != AVTB_BUF_OK)
        b->fail = data.fail;
    else
        avtb_buf_add(b, data.p, data.len);
    avtb_buf_str(b, "</sheetData>");
    if (*link_row > 0)
        avtb_buf_printf(b, "<hyperlinks><hyperlink ref=\"A%zu\" r:id=\"rId1\"/></hyperlinks>",
                        *link_row);
    avtb_buf_str(b, "<pageMargins left=\"0.7\" right=\"0.7\" top=\"0.75\" bottom=\"0.75\" "
                    "header=\"0.3\" footer=\"0.3\"/><pageSetup paperSize=\"9\" "
                    "orientation=\"landscape\"/>");
    if (m->marking != NULL) {
        avtb_buf_str(b, "<headerFooter>");
        xlsx_hf(b, "oddHeader", m->marking);
        xlsx_hf(b, "oddFooter", m->marking);
        avtb_buf_str(b, "</headerFooter>");
    }
    avtb_buf_str(b, "</worksheet>");
    *nsst = sh.nsst;
    avtb_buf_free(&data);
}

static const char xlsx_styles[] =
    "<styleSheet xmlns=\"" NS_S "\"><fonts count=\"4\">"
    "<font><sz val=\"11\"/><color rgb=\"FF000000\"/><name val=\"Calibri\"/><family val=\"2\"/>"
    "</font>"
    "<font><b/><sz val=\"11\"/><color rgb=\"FF000000\"/><name val=\"Calibri\"/>"
    "<family val=\"2\"/></font>"
    "<font><b/><sz val=\"14\"/><color rgb=\"FF000000\"/><name val=\"Calibri\"/>"
    "<family val=\"2\"/></font>"
    "<font><u/><sz val=\"11\"/><color rgb=\"FF0563C1\"/><name val=\"Calibri\"/>"
    "<family val=\"2\"/></font></fonts>"
    "<fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill>"
    "<fill><patternFill patternType=\"gray125\"/></fill></fills>"
    "<borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>"
    "<cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/>"
    "</cellStyleXfs><cellXfs count=\"4\">"
    "<xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>"
    "<xf numFmtId=\"0\" fontId=\"1\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyFont=\"1\"/>"
    "<xf numFmtId=\"0\" fontId=\"2\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyFont=\"1\"/>"
    "<xf numFmtId=\"0\" fontId=\"3\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyFont=\"1\"/>"
    "</cellXfs><cellStyles count=\"1\"><cellStyle name=\"Normal\" xfId=\"0\" builtinId=\"0\"/>"
    "</cellStyles></styleSheet>";

static avtb_err write_xlsx(const avtb_doc_model *m, dbuf *out, avtb_error *err)
{
    ooxml o = {0};
    dbuf sst = DBUF_INIT, *b, *ws;
    size_t nsst = 0, link_row = 0;
    avtb_err r;

    b = ooxml_part(&o, "[Content_Types].xml");
    avtb_buf_str(b, "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
                    "<Default Extension=\"rels\" "
                    "ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
                    "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
                    "<Override PartName=\"/xl/workbook.xml\" ContentType=\"" CT_OOXML
                    "spreadsheetml.sheet.main+xml\"/>"
                    "<Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"" CT_OOXML
                    "spreadsheetml.worksheet+xml\"/>"
                    "<Override PartName=\"/xl/styles.xml\" ContentType=\"" CT_OOXML
                    "spreadsheetml.styles+xml\"/>"
                    "<Override PartName=\"/xl/sharedStrings.xml\" ContentType=\"" CT_OOXML
                    "spreadsheetml.sharedStrings+xml\"/>"
                    "<Override PartName=\"/docProps/core.xml\" "
                    "ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/>"
                    "<Override PartName=\"/docProps/app.xml\" ContentType=\"" CT_OOXML
                    "extended-properties+xml\"/></Types>");
    ooxml_root_rels(ooxml_part(&o, "_rels/.rels"), "xl/workbook.xml");
    avtb_buf_str(ooxml_part(&o, "xl/_rels/workbook.xml.rels"),
                 "<Relationships xmlns=\"" NS_REL_PKG "\">"
                 "<Relationship Id=\"rId3\" Type=\"" REL_DOC "sharedStrings\" "
                 "Target=\"sharedStrings.xml\"/>"
                 "<Relationship Id=\"rId2\" Type=\"" REL_DOC "styles\" Target=\"styles.xml\"/>"
                 "<Relationship Id=\"rId1\" Type=\"" REL_DOC "worksheet\" "
                 "Target=\"worksheets/sheet1.xml\"/></Relationships>");
    avtb_buf_str(ooxml_part(&o, "xl/workbook.xml"),
                 "<workbook xmlns=\"" NS_S "\" xmlns:r=\"" NS_REL_DOC "\">"
                 "<bookViews><workbookView xWindow=\"0\" yWindow=\"0\" windowWidth=\"28800\" "
                 "windowHeight=\"12300\"/></bookViews><sheets><sheet name=\"Sheet1\" sheetId=\"1\" "
                 "r:id=\"rId1\"/></sheets><calcPr calcId=\"191029\"/></workbook>");
    ws = ooxml_part(&o, "xl/worksheets/sheet1.xml");
    xlsx_sheet(ws, &sst, &nsst, &link_row, m);
    if (link_row > 0) {
        b = ooxml_part(&o, "xl/worksheets/_rels/sheet1.xml.rels");
        avtb_buf_str(b, "<Relationships xmlns=\"" NS_REL_PKG "\"><Relationship Id=\"rId1\" "
                        "Type=\"" REL_DOC "hyperlink\" Target=\"");
        db_xml(b, m->beacon_url);
        avtb_buf_str(b, "\" TargetMode=\"External\"/></Relationships>");
    }
    avtb_buf_str(ooxml_part(&o, "xl/styles.xml"), xlsx_styles);
    b = ooxml_part(&o, "xl/sharedStrings.xml");
    avtb_buf_printf(b, "<sst xmlns=\"" NS_S "\" count=\"%zu\" uniqueCount=\"%zu\">", nsst, nsst);
    if (sst.fail != AVTB_BUF_OK)
        b->fail = sst.fail;
    else
        avtb_buf_add(b, sst.p, sst.len);
    avtb_buf_str(b, "</sst>");
    ooxml_core(ooxml_part(&o, "docProps/core.xml"), m);
    b = ooxml_part(&o, "docProps/app.xml");
    avtb_buf_str(
        b, "<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/"
           "extended-properties\" xmlns:vt=\"http://schemas.openxmlformats.org/officeDocument/"
           "2006/docPropsVTypes\"><Application>Microsoft Excel</Application>"
           "<DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop><HeadingPairs>"
           "<vt:vector size=\"2\" baseType=\"variant\"><vt:variant><vt:lpstr>Worksheets"
           "</vt:lpstr></vt:variant><vt:variant><vt:i4>1</vt:i4></vt:variant></vt:vector>"
           "</HeadingPairs><TitlesOfParts><vt:vector size=\"1\" baseType=\"lpstr\">"
           "<vt:lpstr>Sheet1</vt:lpstr></vt:vector></TitlesOfParts>");
    xml_elem(b, "Company", m->organisation);
    avtb_buf_str(b, "<LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc>"
                    "<HyperlinksChanged>false</HyperlinksChanged><AppVersion>16.0300</AppVersion>"
                    "</Properties>");
    r = ooxml_finish(&o, m->created, "xlsx", out, err);
    ooxml_free(&o);
    avtb_buf_free(&sst);
    return r;
}

/* ---- pdf ---------------------------------------------------------------- */

/*
 * Advance widths (1/1000 em) of Helvetica and Helvetica-Bold for
 * WinAnsiEncoding codes 0x20..0xFF, from Adobe's AFM files of the standard
 * fonts; 0 marks a code WinAnsi leaves undefined (never produced here).
 */
/* clang-format off */
static const uint16_t helv_widths[2][224] = {
    {
         278,  278,  355,  556,  556,  889,  667,  191,  333,  333,  389,  584,  278,  333,  278,  278,
         556,  556,  556,  556,  556,  556,  556,  556,  556,  556,  278,  278,  584,  584,  584,  556,
        1015,  667,  667,  722,  722,  667,  611,  778,  722,  278,  500,  667,  556,  833,  722,  778,
         667,  778,  722,  667,  611,  722,  667,  944,  667,  667,  611,  278,  278,  278,  469,  556,
         333,  556,  556,  500,  556,  556,  278,  556,  556,  222,  222,  500,  222,  833,  556,  556,
         556,  556,  333,  500,  278,  556,  500,  722,  500,  500,  500,  334,  260,  334,  584,    0,
         556,    0,  222,  556,  333, 1000,  556,  556,  333, 1000,  667,  333, 1000,    0,  611,    0,
           0,  222,  222,  333,  333,  350,  556, 1000,  333, 1000,  500,  333,  944,    0,  500,  667,
         278,  333,  556,  556,  556,  556,  260,  556,  333,  737,  370,  556,  584,  333,  737,  333,
         400,  584,  333,  333,  333,  578,  537,  278,  333,  333,  365,  556,  834,  834,  834,  611,
         667,  667,  667,  667,  667,  667, 1000,  722,  667,  667,  667,  667,  278,  278,  278,  278,
         722,  722,  778,  778,  778,  778,  778,  584,  778,  722,  722,  722,  722,  667,  667,  611,
         556,  556,  556,  556,  556,  556,  889,  500,  556,  556,  556,  556,  278,  278,  278,  278,
         556,  556,  556,  556,  556,  556,  556,  584,  611,  556,  556,  556,  556,  500,  556,  500,
    },
    {
         278,  333,  474,  556,  556,  889,  722,  238,  333,  333,  389,  584,  278,  333,  278,  278,
         556,  556,  556,  556,  556,  556,  556,  556,  556,  556,  333,  333,  584,  584,  584,  611,
         975,  722,  722,  722,  722,  667,  611,  778,  722,  278,  556,  722,  611,  833,  722,  778,
         667,  778,  722,  667,  611,  722,  667,  944,  667,  667,  611,  333,  278,  333,  584,  556,
         333,  556,  611,  556,  611,  556,  333,  611,  611,  278,  278,  556,  278,  889,  611,  611,
         611,  611,  389,  556,  333,  611,  556,  778,  556,  556,  500,  389,  280,  389,  584,    0,
         556,    0,  278,  556,  500, 1000,  556,  556,  333, 1000,  667,  333, 1000,    0,  611,    0,
           0,  278,  278,  500,  500,  350,  556, 1000,  333, 1000,  556,  333,  944,    0,  500,  667,
         278,  333,  556,  556,  556,  556,  280,  556,  333,  737,  370,  556,  584,  333,  737,  333,
         400,  584,  333,  333,  333,  611,  556,  278,  333,  333,  365,  556,  834,  834,  834,  611,
         722,  722,  722,  722,  722,  722, 1000,  722,  667,  667,  667,  667,  278,  278,  278,  278,
         722,  722,  778,  778,  778,  778,  778,  584,  778,  722,  722,  722,  722,  667,  667,  611,
         611,  611,  611,  611,  611,  611,  889,  556,  556,  556,  556,  556,  278,  278,  278,  278,
         611,  611,  611,  611,  611,  611,  611,  584,  611,  611,  611,  611,  611,  556,  611,  556,
    },
};
/* clang-format on */

/* The WinAnsi code for a code point; '?' for what Helvetica cannot show. */
static unsigned char winansi(uint32_t cp)
{
    static const struct {
        uint16_t cp;
        uint8_t code;
    } extra[] = {
        {0x20AC, 0x80}, {0x201A, 0x82}, {0x0192, 0x83}, {0x201E, 0x84}, {0x2026, 0x85},
        {0x2020, 0x86}, {0x2021, 0x87}, {0x02C6, 0x88}, {0x2030, 0x89}, {0x0160, 0x8A},
        {0x2039, 0x8B}, {0x0152, 0x8C}, {0x017D, 0x8E}, {0x2018, 0x91}, {0x2019, 0x92},
        {0x201C, 0x93}, {0x201D, 0x94}, {0x2022, 0x95}, {0x2013, 0x96}, {0x2014, 0x97},
        {0x02DC, 0x98}, {0x2122, 0x99}, {0x0161, 0x9A}, {0x203A, 0x9B}, {0x0153, 0x9C},
        {0x017E, 0x9E}, {0x0178, 0x9F},
    };

    if ((cp >= 0x20 && cp < 0x7F) || (cp >= 0xA0 && cp <= 0xFF))
        return (unsigned char)cp;
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
        if (extra[i].cp == cp)
            return extra[i].code;
    return '?';
}

/* UTF-8 text as WinAnsi bytes (NUL-terminated; caller frees), NULL when out of memory. */
static char *to_winansi(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *w = malloc(n + 1);
    const unsigned char *p = (const unsigned char *)s;

    if (w == NULL)
        return NULL;
    while (n > 0) {
        uint32_t cp = '?';
        size_t k = u8_decode(p, n, &cp);

        if (k == 0)
            k = 1;
        w[o++] = (char)winansi(cp);
        p += k;
        n -= k;
    }
    w[o] = '\0';
    return w;
}

typedef struct pdf_font {
    int bold;      /* 0: /F1 Helvetica, 1: /F2 Helvetica-Bold */
    unsigned size; /* points */
} pdf_font;

/* Width of WinAnsi text in 1/1000 point. */
static size_t pdf_width(const char *s, size_t n, const void *ctx)
{
    const pdf_font *f = ctx;
    size_t w = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        w += c >= 0x20 ? helv_widths[f->bold][c - 0x20] : 0;
    }
    return w * f->size;
}

static void pdf_string(dbuf *b, const char *s, size_t n)
{
    avtb_buf_byte(b, '(');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '(' || c == ')' || c == '\\')
            avtb_buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c >= 0x7F)
            avtb_buf_printf(b, "\\%03o", c);
        else
            avtb_buf_byte(b, (char)c);
    }
    avtb_buf_byte(b, ')');
}

/* A4 in points, and the text block on it. */
enum {
    PDF_W = 595,
    PDF_H = 842,
    PDF_LEFT = 56,
    PDF_RIGHT = 539,
    PDF_TOP = 780,
    PDF_BOTTOM = 72,
};

typedef struct pdf_doc {
    dbuf *pages; /* one content stream each */
    size_t npages, cap;
    int y; /* baseline of the last line on the current page */
    bool nomem;
    bool has_link;
    size_t link_page;
    int link_rect[4];
} pdf_doc;

static dbuf *pdf_page(pdf_doc *d)
{
    return &d->pages[d->npages - 1];
}

/* Room for a line of height h, starting a page when there is none. */
static bool pdf_need(pdf_doc *d, int h)
{
    if (d->npages > 0 && d->y - h >= PDF_BOTTOM)
        return true;
    if (d->npages == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        dbuf *p = realloc(d->pages, cap * sizeof(*p));

        if (p == NULL) {
            d->nomem = true;
            return false;
        }
        memset(p + d->cap, 0, (cap - d->cap) * sizeof(*p));
        for (size_t i = d->cap; i < cap; i++)
            p[i].limit = DOCFMT_MAX_OUTPUT;
        d->pages = p;
        d->cap = cap;
    }
    d->npages++;
    d->y = PDF_TOP;
    return true;
}

static void pdf_show(dbuf *b, const pdf_font *f, int x, int y, const char *s, size_t n)
{
    avtb_buf_printf(b, "BT /F%d %u Tf %d %d Td ", f->bold + 1, f->size, x, y);
    pdf_string(b, s, n);
    avtb_buf_str(b, " Tj ET\n");
}

typedef struct pdf_flow {
    pdf_doc *d;
    pdf_font font;
    int leading, x;
} pdf_flow;

static void pdf_flow_line(const char *s, size_t n, void *ctx)
{
    pdf_flow *fl = ctx;

    if (!pdf_need(fl->d, fl->leading))
        return;
    fl->d->y -= fl->leading;
    pdf_show(pdf_page(fl->d), &fl->font, fl->x, fl->d->y, s, n);
}

/* UTF-8 text wrapped to the text block, a page break wherever it fills. */
static void pdf_para(pdf_doc *d, int bold, unsigned size, int leading, const char *text)
{
    pdf_flow fl = {d, {bold, size}, leading, PDF_LEFT};
    char *w = to_winansi(text);

    if (w == NULL) {
        d->nomem = true;
        return;
    }
    wrap(w, strlen(w), (size_t)(PDF_RIGHT - PDF_LEFT) * 1000, pdf_width, &fl.font, pdf_flow_line,
         &fl);
    free(w);
}

typedef struct span {
    size_t off, len;
} span;

typedef struct span_list {
    const char *base;
    span *v;
    size_t n, cap;
    bool nomem;
} span_list;

static void span_add(const char *s, size_t n, void *ctx)
{
    span_list *l = ctx;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        span *v = realloc(l->v, cap * sizeof(*v));

        if (v == NULL) {
            l->nomem = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (span){(size_t)(s - l->base), n};
}

static void pdf_rule(pdf_doc *d, int y)
{
    avtb_buf_printf(pdf_page(d), "0.5 w %d %d m %d %d l S\n", PDF_LEFT, y, PDF_RIGHT, y);
}

/*
 * The table in equal columns, each cell wrapped to its column; a row
 * taller than what is left of a page continues on the next. A rule above,
 * under the header row and below.
 */
static void pdf_table(pdf_doc *d, const avtb_doc_model *m)
{
    const int leading = 13, colw = (PDF_RIGHT - PDF_LEFT) / (int)m->ncols;
    char **w = calloc(m->ncols, sizeof(*w));
    span_list *cells = calloc(m->ncols, sizeof(*cells));

    if (w == NULL || cells == NULL) {
        d->nomem = true;
        goto out;
    }
    if (!pdf_need(d, 2 * leading))
        goto out;
    pdf_rule(d, d->y - 4);
    for (size_t r = 0; r < m->nrows; r++) {
        pdf_font f = {r == 0, 9};
        size_t lines = 0;

        for (size_t c = 0; c < m->ncols; c++) {
            free(w[c]);
            free(cells[c].v);
            w[c] = to_winansi(m->table[r * m->ncols + c]);
            cells[c] = (span_list){.base = w[c]};
            if (w[c] == NULL) {
                d->nomem = true;
                goto out;
            }
            wrap(w[c], strlen(w[c]), (size_t)(colw - 6) * 1000, pdf_width, &f, span_add, &cells[c]);
            if (cells[c].nomem) {
                d->nomem = true;
                goto out;
            }
            if (cells[c].n > lines)
                lines = cells[c].n;
        }
        for (size_t k = 0; k < lines; k++) {
            if (!pdf_need(d, leading))
                goto out;
            d->y -= leading;
            for (size_t c = 0; c < m->ncols; c++)
                if (k < cells[c].n)
                    pdf_show(pdf_page(d), &f, PDF_LEFT + (int)c * colw + 3, d->y,
                             w[c] + cells[c].v[k].off, cells[c].v[k].len);
        }
        if (r == 0 || r + 1 == m->nrows)
            pdf_rule(d, d->y - 4);
        d->y -= 2;
    }
out:
    for (size_t c = 0; w != NULL && cells != NULL && c < m->ncols; c++) {
        free(w[c]);
        free(cells[c].v);
    }
    free(w);
    free(cells);
}

/* The beacon as visible text with a link annotation over it. */
static void pdf_beacon(pdf_doc *d, const char *url)
{
    pdf_font f = {0, 9};
    char *w;
    size_t n;
    int x = PDF_LEFT + (int)(pdf_width("Figures: ", 9, &f) / 1000), width;

    if (!pdf_need(d, 14))
        return;
    d->y -= 14;
    pdf_show(pdf_page(d), &f, PDF_LEFT, d->y, "Figures:", 8);
    w = to_winansi(url);
    if (w == NULL) {
        d->nomem = true;
        return;
    }
    n = strlen(w);
    width = (int)(pdf_width(w, n, &f) / 1000);
    pdf_show(pdf_page(d), &f, x, d->y, w, n);
    free(w);
    d->has_link = true;
    d->link_page = d->npages - 1;
    d->link_rect[0] = x;
    d->link_rect[1] = d->y - 3;
    d->link_rect[2] = x + width < PDF_W ? x + width : PDF_W;
    d->link_rect[3] = d->y + 10;
}

static void pdf_centred(dbuf *b, const pdf_font *f, int y, const char *winansi_text)
{
    size_t n = strlen(winansi_text);
    int w = (int)(pdf_width(winansi_text, n, f) / 1000);

    pdf_show(b, f, w < PDF_W ? (PDF_W - w) / 2 : 0, y, winansi_text, n);
}

/* A PDF text string: PDFDocEncoding where Latin-1 agrees with it, else UTF-16BE. */
static void pdf_info_string(dbuf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    bool latin = true;

    for (size_t i = 0; latin && i < n;) {
        uint32_t cp = '?';
        size_t k = u8_decode(p + i, n - i, &cp);

        /* PDFDocEncoding leaves 0xAD undefined and differs from Latin-1 below 0xA0. */
        latin = k > 0 && (cp < 0x7F || (cp >= 0xA1 && cp <= 0xFF && cp != 0xAD));
        i += k > 0 ? k : 1;
    }
    if (latin) {
        char *w = to_winansi(s);

        if (w == NULL) {
            b->fail = AVTB_BUF_NOMEM;
            return;
        }
        pdf_string(b, w, strlen(w));
        free(w);
        return;
    }
    avtb_buf_str(b, "<FEFF");
    while (n > 0) {
        uint32_t cp = '?';
        size_t k = u8_decode(p, n, &cp);

        if (k == 0)
            k = 1;
        if (cp >= 0x10000)
            avtb_buf_printf(b, "%04X%04X", 0xD800 + ((cp - 0x10000) >> 10),
                            0xDC00 + ((cp - 0x10000) & 0x3FF));
        else
            avtb_buf_printf(b, "%04X", (unsigned)cp);
        p += k;
        n -= k;
    }
    avtb_buf_byte(b, '>');
}

static void pdf_info_entry(dbuf *b, const char *key, const char *value)
{
    if (value == NULL)
        return;
    avtb_buf_printf(b, " /%s ", key);
    pdf_info_string(b, value);
}

/* Lays out the pages: title block, paragraphs, table, beacon line. */
static void pdf_layout(pdf_doc *d, const avtb_doc_model *m)
{
    dbuf line = DBUF_INIT;

    if (m->title != NULL) {
        pdf_para(d, 1, 16, 20, m->title);
        d->y -= 6;
    }
    if (m->reference != NULL) {
        avtb_buf_str(&line, "Reference: ");
        avtb_buf_str(&line, m->reference);
        if (line.fail == AVTB_BUF_OK)
            pdf_para(d, 0, 10, 13, (const char *)line.p);
        line.len = 0;
    }
    if (m->author != NULL || m->organisation != NULL) {
        avtb_buf_str(&line, m->author != NULL ? m->author : "");
        avtb_buf_str(&line, m->author != NULL && m->organisation != NULL ? ", " : "");
        avtb_buf_str(&line, m->organisation != NULL ? m->organisation : "");
        if (line.fail == AVTB_BUF_OK)
            pdf_para(d, 0, 10, 13, (const char *)line.p);
        line.len = 0;
    }
    db_date_long(&line, m->created);
    if (line.fail == AVTB_BUF_OK)
        pdf_para(d, 0, 10, 13, (const char *)line.p);
    d->nomem |= line.fail != AVTB_BUF_OK;
    avtb_buf_free(&line);
    d->y -= 10;
    for (size_t i = 0; i < m->nparagraphs; i++) {
        pdf_para(d, 0, 11, 15, m->paragraphs[i]);
        d->y -= 7;
    }
    if (m->nrows > 0) {
        d->y -= 4;
        pdf_table(d, m);
        d->y -= 10;
    }
    if (m->beacon_url != NULL)
        pdf_beacon(d, m->beacon_url);
    if (d->npages == 0)
        pdf_need(d, 0);
}

/*
 * A hand-written PDF 1.4: catalog, page tree, the two standard Helvetica
 * fonts (WinAnsiEncoding), the Info dictionary, pages with uncompressed
 * content streams (the text is plain in the file, and pdftotext reads it),
 * and the link annotation; the cross-reference table has each object's
 * exact offset.
 */
static avtb_err write_pdf(const avtb_doc_model *m, dbuf *out, avtb_error *err)
{
    pdf_doc d = {0};
    size_t nobj, *off = NULL;
    char *marking = NULL, hash[65];
    struct tm tm = utc(m->created);
    avtb_err r;

    pdf_layout(&d, m);
    if (m->marking != NULL && (marking = to_winansi(m->marking)) == NULL)
        d.nomem = true;
    for (size_t i = 0; i < d.npages && !d.nomem; i++) {
        pdf_font bold = {1, 10}, small = {0, 8};
        char pageno[64];

        if (marking != NULL) {
            pdf_centred(&d.pages[i], &bold, PDF_H - 30, marking);
            pdf_centred(&d.pages[i], &bold, 24, marking);
        }
        snprintf(pageno, sizeof(pageno), "Page %zu of %zu", i + 1, d.npages);
        pdf_centred(&d.pages[i], &small, 40, pageno);
        if (d.pages[i].fail != AVTB_BUF_OK)
            d.nomem = true;
    }
    if (d.nomem) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "pdf: out of memory");
        goto out;
    }
    /* 1 catalog, 2 pages, 3-4 fonts, 5 info, then page + content per page, then the link. */
    nobj = 5 + 2 * d.npages + (d.has_link ? 1 : 0);
    off = calloc(nobj + 1, sizeof(*off));
    if (off == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "pdf: out of memory");
        goto out;
    }
    avtb_buf_str(out, "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
    off[1] = out->len;
    avtb_buf_str(out, "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    off[2] = out->len;
    avtb_buf_str(out, "2 0 obj\n<< /Type /Pages /Kids [");
    for (size_t i = 0; i < d.npages; i++)
        avtb_buf_printf(out, "%s%zu 0 R", i > 0 ? " " : "", 6 + 2 * i);
    avtb_buf_printf(out, "] /Count %zu >>\nendobj\n", d.npages);
    off[3] = out->len;
    avtb_buf_str(out, "3 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                      "/Encoding /WinAnsiEncoding >>\nendobj\n");
    off[4] = out->len;
    avtb_buf_str(out, "4 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold "
                      "/Encoding /WinAnsiEncoding >>\nendobj\n");
    off[5] = out->len;
    avtb_buf_str(out, "5 0 obj\n<<");
    pdf_info_entry(out, "Title", m->title);
    pdf_info_entry(out, "Author", m->author);
    pdf_info_entry(out, "Subject", m->meta_token);
    pdf_info_entry(out, "Keywords", m->meta_token);
    pdf_info_entry(out, "Creator", "Microsoft\xC2\xAE Word for Microsoft 365");
    pdf_info_entry(out, "Producer", "Microsoft\xC2\xAE Word for Microsoft 365");
    avtb_buf_printf(out, " /CreationDate (D:%04d%02d%02d%02d%02d%02dZ)", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    avtb_buf_printf(out, " /ModDate (D:%04d%02d%02d%02d%02d%02dZ) >>\nendobj\n", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    for (size_t i = 0; i < d.npages; i++) {
        size_t page = 6 + 2 * i;

        off[page] = out->len;
        avtb_buf_printf(out,
                        "%zu 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources "
                        "<< /Font << /F1 3 0 R /F2 4 0 R >> /ProcSet [/PDF /Text] >> "
                        "/Contents %zu 0 R",
                        page, PDF_W, PDF_H, page + 1);
        if (d.has_link && d.link_page == i)
            avtb_buf_printf(out, " /Annots [%zu 0 R]", nobj);
        avtb_buf_str(out, " >>\nendobj\n");
        off[page + 1] = out->len;
        avtb_buf_printf(out, "%zu 0 obj\n<< /Length %zu >>\nstream\n", page + 1, d.pages[i].len);
        avtb_buf_add(out, d.pages[i].p, d.pages[i].len);
        avtb_buf_str(out, "\nendstream\nendobj\n");
    }
    if (d.has_link) {
        off[nobj] = out->len;
        avtb_buf_printf(out,
                        "%zu 0 obj\n<< /Type /Annot /Subtype /Link /Rect [%d %d %d %d] "
                        "/Border [0 0 0] /A << /S /URI /URI ",
                        nobj, d.link_rect[0], d.link_rect[1], d.link_rect[2], d.link_rect[3]);
        pdf_string(out, m->beacon_url, strlen(m->beacon_url));
        avtb_buf_str(out, " >> >>\nendobj\n");
    }
    if ((r = db_check(out, "pdf", err)) != AVTB_OK)
        goto out;
    /* The file identifier is a function of the content, as the spec suggests. */
    avtb_sha256_hex(out->p, out->len, hash);
    {
        size_t xref = out->len;

        avtb_buf_printf(out, "xref\n0 %zu\n0000000000 65535 f\r\n", nobj + 1);
        for (size_t i = 1; i <= nobj; i++)
            avtb_buf_printf(out, "%010zu 00000 n\r\n", off[i]);
        avtb_buf_printf(out,
                        "trailer\n<< /Size %zu /Root 1 0 R /Info 5 0 R /ID [<%.32s> <%.32s>] >>\n"
                        "startxref\n%zu\n%%%%EOF\n",
                        nobj + 1, hash, hash, xref);
    }
    r = db_check(out, "pdf", err);
out:
    for (size_t i = 0; i < d.npages; i++)
        avtb_buf_free(&d.pages[i]);
    free(d.pages);
    free(off);
    free(marking);
    return r;
}

/* ---- entry point -------------------------------------------------------- */

avtb_err avtb_doc_write(avtb_doc_format f, const avtb_doc_model *m, uint8_t **out, size_t *len,
                        avtb_error *err)
{
    dbuf b = DBUF_INIT;
    avtb_err r;

    *out = NULL;
    *len = 0;
    if ((unsigned)f >= AVTB_FMT_COUNT || m == NULL)
        return avtb_error_set(err, AVTB_ERR_USAGE, "document: unknown format %d", (int)f);
    if ((r = check_model(f, m, err)) != AVTB_OK)
        return r;
    switch (f) {
    case AVTB_FMT_TXT:
        write_txt(m, &b);
        break;
    case AVTB_FMT_CSV:
        write_csv(m, &b);
        break;
    case AVTB_FMT_EML:
        r = write_eml(m, &b, err);
        break;
    case AVTB_FMT_DOCX:
        r = write_docx(m, &b, err);
        break;
    case AVTB_FMT_XLSX:
        r = write_xlsx(m, &b, err);
        break;
    case AVTB_FMT_PDF:
        r = write_pdf(m, &b, err);
        break;
    case AVTB_FMT_ZIP:
    case AVTB_FMT_7Z:
        r = write_archive(f == AVTB_FMT_7Z, m->created, m->members, m->nmembers, &b, err);
        break;
    default:
        r = avtb_error_set(err, AVTB_ERR_INTERNAL, "document: no writer for %d", (int)f);
    }
    if (r == AVTB_OK)
        r = db_check(&b, format_names[f], err);
    if (r != AVTB_OK) {
        avtb_buf_free(&b);
        return r;
    }
    if (b.p == NULL) { /* nothing was written: an empty file is still a file */
        b.p = malloc(1);
        if (b.p == NULL)
            return avtb_error_set(err, AVTB_ERR_NOMEM, "%s: out of memory", format_names[f]);
        b.p[0] = '\0';
    }
    *out = b.p; /* transferred */
    *len = b.len;
    return AVTB_OK;
}
