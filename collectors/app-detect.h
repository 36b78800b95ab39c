/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fourth stage, shared by the protocol parsers (app-http.c, app-dns.c,
 * app-tls.c, multipart.c): the result every incremental parser of hostile
 * bytes returns (CONVENTIONS.md). Which parser a flow gets is decided in
 * analyze.c from its ports and first bytes; a parser that says ERROR hands
 * the rest of the stream back to be searched raw.
 */
#ifndef AVTB_APP_DETECT_H
#define AVTB_APP_DETECT_H

typedef enum {
    AVTB_PARSE_OK,        /* a unit (message, record, part) is complete */
    AVTB_PARSE_NEED_MORE, /* all input consumed, the unit is not complete yet */
    AVTB_PARSE_ERROR,     /* not this protocol, or broken beyond recovery */
} avtb_parse_result;

#endif
