/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTML form bodies, for app-http.c: multipart bodies (RFC 2046 5.1, RFC 7578
 * form-data) split into parts, application/x-www-form-urlencoded bodies split
 * into fields, and the small decoders those need (percent, base64,
 * quoted-printable). Input is one complete body held in memory, or one piece
 * of a body too large to hold (AVTB_MULTIPART_PIECE). Every byte is hostile:
 * malformed input is reported through an avtb_anomaly_cb and parsing goes on
 * where it can.
 */
#ifndef AVTB_MULTIPART_H
#define AVTB_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/app-detect.h" /* avtb_parse_result */
#include "collectors/message.h"    /* avtb_anomaly_cb */
#include "common/error.h"

/* RFC 2046 allows 70 characters; some clients use more. Longer is refused. */
#define AVTB_MULTIPART_MAX_BOUNDARY 200

typedef struct avtb_multipart_limits {
    size_t max_parts;   /* parts split out of one body; the rest is not split */
    size_t max_line;    /* bytes of one part header line (longer is cut, anomaly) */
    size_t max_headers; /* header lines of one part, folded ones included */
} avtb_multipart_limits;

#define AVTB_MULTIPART_MAX_PARTS_DEFAULT   1024
#define AVTB_MULTIPART_MAX_LINE_DEFAULT    8192
#define AVTB_MULTIPART_MAX_HEADERS_DEFAULT 100

void avtb_multipart_limits_default(avtb_multipart_limits *l);

/*
 * Flag for avtb_multipart_new: the buffers are a piece cut out of a larger
 * body, so they may start inside a part and end without the closing
 * boundary; neither is an anomaly then.
 */
#define AVTB_MULTIPART_PIECE 0x1u

/* One part. The strings belong to the parser and live until its next call. */
typedef struct avtb_multipart_part {
    const char *name;              /* Content-Disposition name=, or NULL */
    const char *filename;          /* filename*= (RFC 5987, percent-decoded, charset not
                                      converted), else filename=, or NULL */
    const char *content_type;      /* the part's Content-Type value, or NULL */
    const char *transfer_encoding; /* Content-Transfer-Encoding, lower-cased, or NULL */
    const uint8_t *data;           /* the part's body inside the caller's buffer, as sent */
    size_t len;
} avtb_multipart_part;

typedef struct avtb_multipart avtb_multipart;

/*
 * A parser for one body delimited by boundary (the Content-Type parameter,
 * unquoted, see avtb_multipart_param). limits NULL means the defaults.
 * Anomalies go to anomaly(ctx, text) when anomaly is non-NULL. Returns NULL
 * when out of memory or when boundary is empty or longer than
 * AVTB_MULTIPART_MAX_BOUNDARY.
 */
avtb_multipart *avtb_multipart_new(const char *boundary, const avtb_multipart_limits *limits,
                                   unsigned flags, avtb_anomaly_cb anomaly, void *ctx);
void avtb_multipart_free(avtb_multipart *mp);

/*
 * The next part. buf holds ALL of the body not yet consumed: pass the body
 * first, then buf + *consumed of the previous call, and so on. The preamble
 * (before the first boundary) and the epilogue (after the closing one) are
 * skipped; LF-only line ends are accepted.
 *  - AVTB_PARSE_OK: *part is filled, its data points into buf;
 *  - AVTB_PARSE_NEED_MORE: there are no more parts (all of buf consumed);
 *  - AVTB_PARSE_ERROR: max_parts was reached (anomaly reported); no more parts.
 * A body that ends without its closing boundary still yields its last part
 * (anomaly "multipart: no closing boundary").
 */
avtb_parse_result avtb_multipart_next(avtb_multipart *mp, const uint8_t *buf, size_t len,
                                      size_t *consumed, avtb_multipart_part *part) AVTB_WUR;

/*
 * The parameter param (case-insensitive, e.g. "boundary", "filename") of a
 * header value such as `multipart/form-data; boundary="a b"` of len bytes,
 * unquoted, into out[cap] (NUL-terminated, cut to cap - 1). Returns false
 * when the parameter is absent. Inside quotes a backslash escapes only '"'
 * and '\': browsers send Windows paths with bare backslashes.
 */
bool avtb_multipart_param(const char *value, size_t len, const char *param, char *out, size_t cap);

/*
 * Decoders. out must have room for len bytes (the decoded form is never
 * longer); each returns the decoded length. *bad (may be NULL) is set when
 * the input held something that is not valid for the encoding (skipped for
 * base64, copied literally for quoted-printable). base64 accepts both
 * alphabets (RFC 4648 4 and 5), ignores whitespace, and starts a new group
 * after padding so that concatenated encodings decode too.
 */
size_t avtb_multipart_base64_decode(const uint8_t *in, size_t len, uint8_t *out, bool *bad);
size_t avtb_multipart_qp_decode(const uint8_t *in, size_t len, uint8_t *out, bool *bad);

/* One field of an application/x-www-form-urlencoded body, as sent (not decoded). */
typedef struct avtb_form_field {
    const uint8_t *name;
    size_t name_len;
    const uint8_t *value; /* NULL when the field has no '=' */
    size_t value_len;
} avtb_form_field;

/*
 * The next '&'-separated field of buf (the rest of the body: call again with
 * buf + *consumed). AVTB_PARSE_OK with *f filled, or AVTB_PARSE_NEED_MORE
 * when only separators (or nothing) are left, all of buf then consumed.
 */
avtb_parse_result avtb_form_next(const uint8_t *buf, size_t len, size_t *consumed,
                                 avtb_form_field *f) AVTB_WUR;

/* Whether buf holds a valid %XX escape, or a '+' when plus_is_space. */
bool avtb_form_is_encoded(const uint8_t *buf, size_t len, bool plus_is_space);

/*
 * Percent-decodes len bytes into out (room for len bytes): %XX becomes the
 * byte, '+' a space when plus_is_space; an invalid escape stays as it is.
 * Returns the decoded length.
 */
size_t avtb_form_percent_decode(const uint8_t *in, size_t len, bool plus_is_space, uint8_t *out);

#endif
