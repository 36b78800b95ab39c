/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stix-bundle.json: what a run observed (the product, its vendor, the
 * destinations, the traffic that carried tokens, the documents and the
 * processes behind them) as a STIX 2.1 bundle for threat-intelligence
 * sharing. A rendering of report.json's object; the report is borrowed.
 * The objects and their ids are described in reports/FORMATS.md.
 */
#ifndef AVTB_STIX_H
#define AVTB_STIX_H

#include <jansson.h>
#include <stddef.h>

#include "common/error.h"

/* RFC 4122 version 5 (SHA-1) UUID of name in namespace ns, lower-case, into out[37]. */
void avtb_stix_uuid5(const unsigned char ns[16], const void *name, size_t len, char out[37]);

/*
 * The bundle of a report.json object; new reference, NULL when out of
 * memory. The same report gives the same bundle, byte for byte: ids are
 * UUIDv5 and every timestamp comes from the report.
 */
json_t *avtb_stix_bundle(json_t *report);

/* DIR/stix-bundle.json: what was observed, for threat-intelligence sharing. Written atomically. */
avtb_err avtb_report_write_stix(json_t *report, const char *dir, avtb_error *err) AVTB_WUR;

#endif
