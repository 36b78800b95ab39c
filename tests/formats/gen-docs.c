/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes one honey document per format into a directory, for check-formats
 * to open with real software (unzip, xmllint, pdftotext, LibreOffice, 7z,
 * ClamAV). Usage: gen-docs DIR BODY_TOKEN META_TOKEN BEACON_URL
 * The body token is in a paragraph and a table cell; the text around it is
 * as hostile to escaping as a real document gets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "guests/docfmt.h"

static int write_doc(const char *dir, const char *name, avtb_doc_format f, const avtb_doc_model *m,
                     uint8_t **keep, size_t *keep_len)
{
    avtb_error err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    char *path = avtb_path_join(dir, name);

    if (path == NULL || avtb_doc_write(f, m, &buf, &len, &err) != AVTB_OK ||
        avtb_write_file(path, buf, len, 0644, &err) != AVTB_OK) {
        fprintf(stderr, "gen-docs: %s: %s\n", name, path == NULL ? "out of memory" : err.msg);
        free(path);
        free(buf);
        return 1;
    }
    free(path);
    if (keep != NULL) {
        *keep = buf; /* transferred */
        *keep_len = len;
    } else {
        free(buf);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: gen-docs DIR BODY_TOKEN META_TOKEN BEACON_URL\n");
        return 2;
    }
    const char *dir = argv[1], *body = argv[2];
    char para1[512], cell[256];
    snprintf(para1, sizeof(para1),
             "The revised allocation for Project HALYARD is held under reference %s and "
             "must not be shared outside the programme board.",
             body);
    snprintf(cell, sizeof(cell), "%s", body);
    const char *paragraphs[] = {
        para1,
        "Costs agreed with Müller & Sons – £1.2m \"ring-fenced\" <pending> review; "
        "see 'Annex B' (draft) and the path C:\\Finance\\Q3.",
        "Ministers will be briefed before the spending review; until then the figures "
        "below are provisional and the allocation may change by up to ten per cent in "
        "either direction, depending on the outcome of the contract negotiations that "
        "are now in their final stage. This sentence is long so that it wraps.",
    };
    /* A row per line. */
    /* clang-format off */
    const char *table[] = {
        "Line item",       "Owner",           "Amount (£k)", "Reference",
        "Sensor upgrade",  "J. Müller",       "1200",        cell,
        "Trials, phase 2", "\"Ops\" <Team B>", "350.5",      "R&D/0412",
    };
    /* clang-format on */
    avtb_doc_model m = {
        .marking = "OFFICIAL-SENSITIVE",
        .title = "Project HALYARD: revised allocation & schedule",
        .author = "Jane Smith",
        .organisation = "Ministry of Defence",
        .reference = "MOD/DSTL/2026/0412",
        .created = 1795000000, /* 2026-11-18 11:06:40 UTC */
        .paragraphs = paragraphs,
        .nparagraphs = sizeof(paragraphs) / sizeof(paragraphs[0]),
        .table = table,
        .nrows = 3,
        .ncols = 4,
        .meta_token = argv[3],
        .beacon_url = argv[4],
        .from = "Jane Smith <jane.smith@mod.example>",
        .to = "Müller, Klaus <k.mueller@dstl.example>",
    };
    static const struct {
        const char *name;
        avtb_doc_format f;
    } docs[] = {
        {"doc.txt", AVTB_FMT_TXT},   {"doc.csv", AVTB_FMT_CSV}, {"doc.eml", AVTB_FMT_EML},
        {"doc.xlsx", AVTB_FMT_XLSX}, {"doc.pdf", AVTB_FMT_PDF},
    };
    uint8_t *docx = NULL;
    size_t docx_len = 0;
    int rc = 0;

    rc |= write_doc(dir, "doc.docx", AVTB_FMT_DOCX, &m, &docx, &docx_len);
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        rc |= write_doc(dir, docs[i].name, docs[i].f, &m, NULL, NULL);
    if (docx != NULL) {
        /* The 2017 case: a classified document next to a file every AV detects. */
        avtb_doc_member members[] = {
            {"eicar.com", (const uint8_t *)AVTB_EICAR, strlen(AVTB_EICAR)},
            {"HALYARD/allocation.docx", docx, docx_len},
        };
        avtb_doc_model arc = {.created = m.created, .members = members, .nmembers = 2};

        rc |= write_doc(dir, "doc.zip", AVTB_FMT_ZIP, &arc, NULL, NULL);
        rc |= write_doc(dir, "doc.7z", AVTB_FMT_7Z, &arc, NULL, NULL);
    }
    free(docx);
    return rc;
}
