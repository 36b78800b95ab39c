/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scanner: one message (message.h) in, hits out. It searches the
 * message's bytes and every view the decoder chain (transform.c) derives
 * from them with the pattern set (match.h), checks file names the message
 * or an archive member carries, and reduces what it saw to one hit per
 * token: content beats metadata, a shallower decoding beats a deeper one.
 */
#ifndef AVTB_SCAN_H
#define AVTB_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "collectors/match.h"
#include "collectors/message.h"
#include "collectors/transform.h"
#include "common/error.h"

/* Encoding steps a hit can name: the message's, the views', the literal's. */
#define AVTB_SCAN_MAX_ENCODING (AVTB_MESSAGE_MAX_ENCODING + 16)

typedef struct avtb_scan_hit {
    avtb_hit_kind kind;
    size_t token;                                 /* index into the pattern set's tokens */
    size_t doc;                                   /* metadata: the document; content: SIZE_MAX */
    const char *encoding[AVTB_SCAN_MAX_ENCODING]; /* outer to inner; static strings */
    size_t nencoding;
    const char *member; /* archive member the hit was in, or NULL (borrowed) */
    uint64_t offset;    /* message offset + start of the hit, for depth-0 hits; else the
                           message offset (a decoded view has no stream offset) */
} avtb_scan_hit;

/* Called once per token found in a message, in token order. */
typedef void (*avtb_scan_hit_cb)(void *ctx, const avtb_message *m, const avtb_scan_hit *h);

typedef struct avtb_scan_stats {
    uint64_t messages;
    uint64_t message_bytes;
    uint64_t views; /* decoded views searched, beyond the messages themselves */
    uint64_t view_bytes;
    uint64_t anomalies; /* decoder anomalies (bombs, corrupt data, wrong passwords) */
} avtb_scan_stats;

typedef struct avtb_scanner avtb_scanner;

/* p and limits are borrowed and must outlive the scanner; anomaly may be NULL. */
avtb_scanner *avtb_scanner_new(const avtb_patterns *p, const avtb_transform_limits *limits,
                               avtb_anomaly_cb anomaly, void *anomaly_ctx);
void avtb_scanner_free(avtb_scanner *s);

/* Scans m; cb sees the hits before it returns. Fails only when out of memory. */
avtb_err avtb_scan_message(avtb_scanner *s, const avtb_message *m, avtb_scan_hit_cb cb, void *ctx,
                           avtb_error *err) AVTB_WUR;

const avtb_scan_stats *avtb_scanner_stats(const avtb_scanner *s);

#endif
