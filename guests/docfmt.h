/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Document formats for honey documents: a document model (what a person
 * would read, plus where the canary tokens go) in, the bytes of a valid
 * file that real software opens out (tests/formats opens each with unzip,
 * xmllint, poppler, LibreOffice, Python's email and csv, 7z and ClamAV).
 * Output depends on the model only: the same model gives byte-identical
 * files (archive member times are model->created, no randomness, no host
 * name, clock or locale), which is what makes honey documents reproducible
 * from a seed.
 *
 * Where things go, per format (the model carries the body tokens already
 * placed in its text; meta_token and beacon_url are placed by the writer).
 * Text is never split inside a word when wrapped, so a token is whole in
 * the raw bytes of every format except inside docx/xlsx/zip/7z compression.
 *   txt   UTF-8, LF. Marking centred on the first and last line; title
 *         underlined; "Reference:", "Author:" (author, organisation) and
 *         "Date:" lines; paragraphs wrapped at 78 columns; the table in
 *         aligned columns; the beacon as a line "Figures: URL". No meta.
 *   csv   UTF-8 (with a BOM when any cell or the marking is not ASCII, so
 *         Excel reads it), CRLF, RFC 4180 quoting. The marking alone in the
 *         first and last row, padded with empty fields to the table's width
 *         (as Excel exports a banner row); the table; the beacon URL in a
 *         row of its own before the closing marking. Paragraphs, title and
 *         metadata are not written. Needs a table.
 *   eml   RFC 5322, CRLF, all ASCII. Date from created; From, To (display
 *         names quoted or RFC 2047-encoded); Subject = title (encoded when
 *         not ASCII); Message-ID <meta_token.YYYYMMDDhhmmss@from-domain>;
 *         X-Document-Reference: meta_token. multipart/alternative:
 *         text/plain (the txt layout at 76 columns without the beacon line
 *         or underline; 7bit, or quoted-printable with soft breaks only
 *         between words) and text/html (pure ASCII, &#N; for the rest; the
 *         beacon as a letterhead <img src=URL> at the top, marking top and
 *         bottom, the table as <table>). Needs from.
 *   docx  [Content_Types].xml, _rels/.rels, word/document.xml (beacon as a
 *         linked letterhead picture: a:blip r:link to an image relationship
 *         with TargetMode="External"; title in style Title; reference,
 *         author and date lines; paragraphs; the table, header row bold),
 *         word/styles.xml, word/settings.xml, word/header1.xml and
 *         footer1.xml (the marking, centred, bold, on every page),
 *         docProps/core.xml (title, subject = reference, creator = author,
 *         cp:keywords and dc:description = meta_token, dates = created),
 *         docProps/app.xml (Microsoft Office Word, company = organisation).
 *   xlsx  One sheet: marking (row 1), title, "Reference", the table (bold
 *         header row; plain decimal numbers stored as numbers, every other
 *         cell a shared string), the paragraphs one per row under it, the
 *         beacon URL in a cell with an external hyperlink relationship, the
 *         marking again; the marking is also the print header and footer.
 *         meta_token in docProps/core.xml as for docx.
 *   pdf   PDF 1.4, A4, uncompressed content streams (the text is plain in
 *         the file), Helvetica in WinAnsiEncoding (characters outside it
 *         shown as '?'). Marking centred at the top and bottom of every
 *         page, "Page i of n"; title, reference, author, date, paragraphs
 *         wrapped to the page, a new page when full; the table in equal
 *         columns; the beacon as a line "Figures: URL" under a /Link
 *         annotation with a /URI action. Info dictionary: Title, Author,
 *         Subject and Keywords = meta_token, Creator and Producer (Word),
 *         CreationDate and ModDate = created as D:YYYYMMDDHHmmSSZ.
 *   zip   The members given, in order, deflated, UTF-8 names flagged.
 *   7z    The members given, in order, LZMA2. Both: mode 0644, owner 0,
 *         modified = created, no other times (ClamAV and 7-Zip open them;
 *         the generator's EICAR member is what the 2017 case needs).
 *
 * What the model must hold (AVTB_ERR_USAGE otherwise, naming the field):
 * every string valid UTF-8 and one line of text (no control characters:
 * no newline, tab or C1), at most 1 MiB; marking at most 100 bytes;
 * meta_token 1-128 of A-Z a-z 0-9 - _ . (it goes into a Message-ID);
 * beacon_url 1-2000 printable ASCII characters, no spaces; from/to
 * "Name <user@host>" or "user@host" with an ASCII address; created in
 * 1980-2099; at most 10000 paragraphs, 1000 columns, 100000 cells and
 * 10000 members; member names relative '/'-separated paths without
 * empty, "." or ".." parts or backslashes. NULL strings are left out.
 */
#ifndef AVTB_DOCFMT_H
#define AVTB_DOCFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"

/* The EICAR anti-virus test file (68 bytes), which every AV product detects. */
#define AVTB_EICAR "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

typedef enum {
    AVTB_FMT_TXT,
    AVTB_FMT_CSV,
    AVTB_FMT_EML,
    AVTB_FMT_DOCX,
    AVTB_FMT_XLSX,
    AVTB_FMT_PDF,
    AVTB_FMT_ZIP,
    AVTB_FMT_7Z,
    AVTB_FMT_COUNT
} avtb_doc_format;

/* "txt", "csv", ..., which is also the file extension. */
const char *avtb_doc_format_name(avtb_doc_format f);
/* Case-sensitive; false for an unknown name. */
bool avtb_doc_format_parse(const char *s, avtb_doc_format *out);

typedef struct avtb_doc_member {
    const char *name; /* path inside the archive, '/'-separated */
    const uint8_t *data;
    size_t len;
} avtb_doc_member;

/* Everything borrowed; NULL/0 for what a document does not have. */
typedef struct avtb_doc_model {
    const char *marking;      /* banner, e.g. "OFFICIAL-SENSITIVE", "SECRET//NOFORN" */
    const char *title;        /* also the e-mail subject */
    const char *author;       /* "Jane Smith" */
    const char *organisation; /* "Ministry of Defence" */
    const char *reference;    /* "MOD/DSTL/2017/0412" */
    time_t created;           /* metadata dates and archive member times */
    const char *const *paragraphs;
    size_t nparagraphs;
    const char *const *table; /* nrows * ncols cells, row-major; row 0 is the header */
    size_t nrows, ncols;
    const char *meta_token; /* see the list above; may be NULL */
    const char *beacon_url; /* "https://<unique host>/logo.png"; may be NULL */
    const char *from, *to;  /* eml: "Jane Smith <jane.smith@mod.example>" */
    const avtb_doc_member *members; /* zip, 7z */
    size_t nmembers;
} avtb_doc_model;

/*
 * The file's bytes in *out (the caller frees), *len its size; both cleared
 * first. AVTB_ERR_USAGE for a model the format cannot hold (see above: a
 * zip with no members, a csv without a table, an eml without from, text
 * that is not valid UTF-8), AVTB_ERR_NOMEM. Thread-safe: no global state
 * (archives switch only the calling thread's locale, to C.UTF-8).
 */
avtb_err avtb_doc_write(avtb_doc_format f, const avtb_doc_model *m, uint8_t **out, size_t *len,
                        avtb_error *err) AVTB_WUR;

#endif
