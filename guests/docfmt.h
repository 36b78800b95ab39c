/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Document formats for honey documents: a document model (what a person
 * would read, plus where the canary tokens go) in, the bytes of a valid
 * file that real software opens out. Output depends on the model only: the
 * same model gives byte-identical files (fixed archive timestamps taken
 * from the model, no randomness, no host name or clock), which is what
 * makes honey documents reproducible from a seed.
 *
 * Where the tokens go, per format (the model carries them already placed in
 * the text; meta_token and beacon_url are placed by the writer):
 *   txt   body paragraphs; the beacon URL as a line ("Figures: URL")
 *   csv   table cells; no metadata; beacon URL in a cell
 *   eml   body (text/plain and text/html parts); meta_token in an
 *         X-Document-Reference header and in Message-ID; the beacon as a
 *         remote <img> in the HTML part
 *   docx  body paragraphs (and the table, if any); meta_token in the core
 *         properties (dc:description and cp:keywords); the beacon as an
 *         external image relationship (TargetMode="External") shown inline
 *   xlsx  table cells (shared strings); meta_token in the core properties;
 *         the beacon as an external hyperlink on a cell
 *   pdf   body text on the page(s) (Helvetica, text extractable by
 *         pdftotext); meta_token in the Info dictionary (/Keywords and
 *         /Subject); the beacon as a /URI link annotation
 *   zip, 7z  the members given (an EICAR file and a classified document:
 *         the 2017 case)
 * The marking is the banner at the top and bottom of every page or body.
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
 * The file's bytes in *out (the caller frees), *len its size.
 * AVTB_ERR_USAGE for a model the format cannot hold (a zip with no members,
 * text that is not valid UTF-8), AVTB_ERR_NOMEM.
 */
avtb_err avtb_doc_write(avtb_doc_format f, const avtb_doc_model *m, uint8_t **out, size_t *len,
                        avtb_error *err) AVTB_WUR;

#endif
