/* SPDX-License-Identifier: Apache-2.0 */
/*
 * render-report DIR: loads DIR/report.json and writes DIR/report.html with
 * avtb_report_write_html, as a run would. Used by tests/reports/check-html.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"
#include "reports/html.h"

int main(int argc, char **argv)
{
    avtb_error err = {0};
    json_error_t jerr;
    json_t *report;
    char *path;
    int rc = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: render-report EVIDENCE-DIR\n");
        return 2;
    }
    path = avtb_path_join(argv[1], "report.json");
    report = path ? json_load_file(path, 0, &jerr) : NULL;
    if (report == NULL) {
        fprintf(stderr, "render-report: %s:%d:%d: %s\n", path ? path : argv[1], jerr.line,
                jerr.column, jerr.text);
        goto out;
    }
    if (avtb_report_write_html(report, argv[1], &err) != AVTB_OK) {
        fprintf(stderr, "render-report: %s\n", err.msg);
        goto out;
    }
    rc = 0;
out:
    json_decref(report);
    free(path);
    return rc;
}
