/* SPDX-License-Identifier: Apache-2.0 */
/*
 * render-formats REPORT_JSON OUTDIR: loads a report.json and writes
 * OUTDIR/junit.xml and OUTDIR/stix-bundle.json with the report writers, for
 * tests/reports/check-formats-reports to validate.
 */
#include <jansson.h>
#include <stdio.h>

#include "reports/junit.h"
#include "reports/stix.h"

int main(int argc, char **argv)
{
    avtb_error err = {0};
    json_error_t jerr;
    json_t *report;
    int rc = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: %s REPORT_JSON OUTDIR\n", argv[0]);
        return 2;
    }
    report = json_load_file(argv[1], 0, &jerr);
    if (report == NULL) {
        fprintf(stderr, "%s:%d:%d: %s\n", argv[1], jerr.line, jerr.column, jerr.text);
        return 1;
    }
    if (avtb_report_write_junit(report, argv[2], &err) != AVTB_OK ||
        avtb_report_write_stix(report, argv[2], &err) != AVTB_OK)
        fprintf(stderr, "render-formats: %s: %s\n", argv[1], err.msg);
    else
        rc = 0;
    json_decref(report);
    return rc;
}
