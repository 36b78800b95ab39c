/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report.html: one self-contained page (inline CSS, no scripts, fonts or
 * images from elsewhere) that a lab can publish beside the evidence. It is a
 * rendering of report.json plus the sink logs for the timeline; every string
 * the guest could have chosen is HTML-escaped.
 */
#ifndef AVTB_HTML_H
#define AVTB_HTML_H

#include <jansson.h>

#include "common/buf.h"
#include "common/error.h"

/* Rows the timeline shows; the rest are counted ("N more"). */
#define AVTB_HTML_TIMELINE_ROWS 500
/* Events read into the timeline before sorting; later ones are only counted. */
#define AVTB_HTML_TIMELINE_MAX 200000
/* Largest sink log read for the timeline. */
#define AVTB_HTML_LOG_MAX (64u << 20)

/*
 * Renders DIR/report.html from report.json's object (report, borrowed) and
 * the evidence files beside it (sink-dns.jsonl, sink-tcp.jsonl etc. for the
 * timeline, optional). Fields report.json lacks (older formats: no chains,
 * no file_access) leave their part of the page out. Written atomically.
 */
/*
 * Appends s to b for HTML text or a quoted attribute value: & < > " '
 * escaped; control bytes and the Unicode direction overrides (which could
 * make a hostile path read as another) shown as visible escapes. Every
 * avtb page writes guest-chosen strings through this.
 */
void avtb_html_escape(avtb_buf *b, const char *s);

avtb_err avtb_report_write_html(json_t *report, const char *dir, avtb_error *err) AVTB_WUR;

#endif
