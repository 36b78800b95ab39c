/* SPDX-License-Identifier: Apache-2.0 */
/*
 * junit.xml: a run as a JUnit test suite, so CI (Jenkins, GitLab) shows each
 * scenario expectation as a test that passed or failed. A rendering of
 * report.json's object (reports/FORMATS.md); the report is borrowed.
 */
#ifndef AVTB_JUNIT_H
#define AVTB_JUNIT_H

#include <jansson.h>
#include <stdbool.h>

#include "common/buf.h"
#include "common/error.h"

/*
 * Appends s to b as XML 1.0 character data (attr false) or as an attribute
 * value in double quotes (attr true; tabs and line breaks become character
 * references so they survive attribute normalisation). Bytes that are not
 * UTF-8 and characters XML 1.0 does not allow (control characters, U+FFFE,
 * U+FFFF) become U+FFFD: guests choose many of these strings.
 */
void avtb_junit_escape(avtb_buf *b, const char *s, bool attr);

/* "YYYY-MM-DDTHH:MM:SS" of an RFC 3339 UTC time, the form JUnit's schema takes; false if not one. */
bool avtb_junit_timestamp(const char *rfc3339, char out[20]);

/* The junit.xml text of a report.json object; caller frees; NULL when out of memory. */
char *avtb_junit_xml(json_t *report);

/*
 * DIR/junit.xml from report.json's object: one <testsuite> per run (name = scenario, with
 * product), one <testcase> per expectation (classname "avtb.<scenario>", name = expectation);
 * failed -> <failure message type> with the findings behind it; undecided (incomplete) ->
 * <error>; suspected -> <failure>; properties: run id, product, vendor country, verdict.
 * <system-out>: the verdict and finding lines. Written atomically.
 */
avtb_err avtb_report_write_junit(json_t *report, const char *dir, avtb_error *err) AVTB_WUR;

#endif
