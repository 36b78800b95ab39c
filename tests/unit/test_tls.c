/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS (collectors/app-tls.h) on a real client stream captured from OpenSSL
 * 3.0 s_client (TLS 1.3, SNI and ALPN h2,http/1.1): what the ClientHello
 * says, the same in any split, byte counts per content type, and hostile
 * framing and extensions.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/app-tls.h"

/*
 * openssl s_client -servername canary-avtbq3f7k2m9.example.net -alpn h2,http/1.1
 * through a relay that kept the client's direction: a ClientHello record of
 * 350 bytes, ChangeCipherSpec (1), then application data of 69 (Finished), 61
 * (a GET) and 19 (close_notify) bytes.
 */
static const uint8_t client_stream[] = {
    0x16, 0x03, 0x01, 0x01, 0x5e, 0x01, 0x00, 0x01, 0x5a, 0x03, 0x03, 0xde, 0x88, 0x99, 0x17, 0xc2,
    0x8c, 0x93, 0x48, 0xd8, 0xa7, 0xab, 0x9b, 0x79, 0x79, 0xf8, 0x14, 0x5c, 0x6f, 0x4c, 0x5e, 0xcb,
    0xe5, 0x2c, 0x02, 0x46, 0x13, 0x2a, 0x1f, 0xe5, 0x9b, 0x36, 0x3b, 0x20, 0xae, 0x87, 0x30, 0x1c,
    0x39, 0xee, 0x21, 0xa3, 0x40, 0x9b, 0x7d, 0x92, 0x40, 0xa9, 0x57, 0x9a, 0xc1, 0xdb, 0xb2, 0xa3,
    0x9c, 0x5a, 0xa3, 0x8e, 0x16, 0x58, 0x53, 0x24, 0x56, 0x9f, 0x38, 0xf6, 0x00, 0x3e, 0x13, 0x02,
    0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
    0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27,
    0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d,
    0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0xd3,
    0x00, 0x00, 0x00, 0x24, 0x00, 0x22, 0x00, 0x00, 0x1f, 0x63, 0x61, 0x6e, 0x61, 0x72, 0x79, 0x2d,
    0x61, 0x76, 0x74, 0x62, 0x71, 0x33, 0x66, 0x37, 0x6b, 0x32, 0x6d, 0x39, 0x2e, 0x65, 0x78, 0x61,
    0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6e, 0x65, 0x74, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02,
    0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18,
    0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x10,
    0x00, 0x0e, 0x00, 0x0c, 0x02, 0x68, 0x32, 0x08, 0x68, 0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31,
    0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03,
    0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04,
    0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02,
    0x04, 0x02, 0x05, 0x02, 0x06, 0x02, 0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04, 0x03, 0x03, 0x03,
    0x02, 0x03, 0x01, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00,
    0x1d, 0x00, 0x20, 0xb1, 0xbe, 0x0e, 0x53, 0xe2, 0x33, 0xc6, 0x0c, 0x35, 0xb1, 0x92, 0x7a, 0xc9,
    0xad, 0x08, 0x1f, 0x9d, 0x0d, 0x3e, 0x62, 0x52, 0xc2, 0x5d, 0xef, 0x41, 0xaf, 0x4b, 0x54, 0x73,
    0x5a, 0xb7, 0x7a, 0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03, 0x03, 0x00, 0x45, 0x0c, 0x05,
    0xa9, 0xbb, 0x40, 0x6f, 0x2b, 0x2f, 0xe8, 0xe7, 0x0d, 0x92, 0x31, 0xbc, 0x87, 0x81, 0x09, 0x8a,
    0xb7, 0x19, 0xf4, 0x3d, 0x4f, 0xfa, 0x5d, 0xd4, 0x3f, 0x24, 0xd6, 0x09, 0x6c, 0x16, 0x50, 0x51,
    0x62, 0x7d, 0x56, 0xcd, 0xe1, 0x2d, 0x4a, 0x15, 0xd8, 0x99, 0x4b, 0x9c, 0x5a, 0x69, 0x21, 0x61,
    0x3e, 0x67, 0xae, 0x3d, 0x40, 0xbb, 0x8e, 0xbd, 0xe7, 0x2c, 0x4a, 0x2d, 0x32, 0x7e, 0xbb, 0x35,
    0x64, 0x36, 0x3a, 0x17, 0x03, 0x03, 0x00, 0x3d, 0xf3, 0xb0, 0x08, 0x04, 0x22, 0x5d, 0x25, 0xbc,
    0x77, 0xda, 0x33, 0xd2, 0x6d, 0x00, 0xd3, 0xab, 0x1c, 0xc6, 0xe3, 0x77, 0x00, 0x10, 0x71, 0x2d,
    0x3d, 0x60, 0x82, 0xb4, 0x7a, 0x56, 0x82, 0x05, 0x3b, 0x03, 0x10, 0x6f, 0x05, 0x7c, 0x24, 0x36,
    0xdb, 0x71, 0x7e, 0xfb, 0xea, 0x95, 0x48, 0x40, 0x26, 0xd2, 0x23, 0x8a, 0x1c, 0x41, 0xe7, 0xcb,
    0xeb, 0x1b, 0x30, 0x7a, 0xf8, 0x17, 0x03, 0x03, 0x00, 0x13, 0xa6, 0x1a, 0x78, 0xeb, 0xe6, 0xda,
    0x0b, 0xa0, 0x44, 0x0f, 0xea, 0xd7, 0xd5, 0xcc, 0x9d, 0xf2, 0xd2, 0xa2, 0xa5};

#define CH_RECORD_END 355 /* header 5 + handshake 350 */
#define SNI           "canary-avtbq3f7k2m9.example.net"
/* Offsets into client_stream of the server_name extension's fields. */
#define SNI_EXT_LEN  146
#define SNI_LIST_LEN 148
#define SNI_NAME_LEN 151
#define EXTS_LEN     142

/* ---- Recording what the parser delivers ---- */

typedef struct recorder {
    size_t nm, na;
    char enc[32], host[2048];
    uint8_t data[512];
    size_t len;
    uint64_t offset;
    double time;
    char anomalies[16][256];
} recorder;

static recorder R;

static void on_message(void *ctx, const avtb_message *m)
{
    ck_assert_ptr_eq(ctx, &R);
    ck_assert_str_eq(m->protocol, "tls");
    ck_assert_uint_eq(m->nencoding, 1);
    ck_assert_uint_le(m->len, sizeof(R.data));
    R.nm++;
    snprintf(R.enc, sizeof(R.enc), "%s", m->encoding[0]);
    snprintf(R.host, sizeof(R.host), "%s", m->host);
    memcpy(R.data, m->data, m->len);
    R.len = m->len;
    R.offset = m->offset;
    R.time = m->time;
}

static void on_anomaly(void *ctx, const char *what)
{
    ck_assert_ptr_eq(ctx, &R);
    if (R.na < 16)
        snprintf(R.anomalies[R.na], sizeof(R.anomalies[0]), "%s", what);
    R.na++;
}

static bool anomaly_has(const char *needle)
{
    for (size_t i = 0; i < R.na && i < 16; i++)
        if (strstr(R.anomalies[i], needle) != NULL)
            return true;
    return false;
}

/* A session with the limits of lim (NULL: the defaults) delivering to R, which is cleared. */
static avtb_tls_session *session(const avtb_tls_config *lim)
{
    avtb_tls_config c;
    avtb_tls_session *p;

    if (lim != NULL)
        c = *lim;
    else
        avtb_tls_config_default(&c);
    c.message = on_message;
    c.anomaly = on_anomaly;
    c.ctx = &R;
    p = avtb_tls_session_new(&c);
    ck_assert_ptr_nonnull(p);
    memset(&R, 0, sizeof(R));
    return p;
}

/*
 * Feeds buf[from, to) from an allocation of exactly that size, as a caller
 * does: again after every OK. Returns the last result; *oks counts the OKs
 * and *ok_at (if not NULL) is set to the stream offset of the last one.
 */
static avtb_parse_result feed(avtb_tls_session *p, const uint8_t *buf, size_t from, size_t to,
                              int *oks, size_t *ok_at)
{
    uint8_t *chunk = malloc(to - from + 1);
    avtb_parse_result r = AVTB_PARSE_NEED_MORE;
    size_t off = 0, used;

    ck_assert_ptr_nonnull(chunk);
    memcpy(chunk, buf + from, to - from);
    while (off < to - from) {
        r = avtb_tls_session_parse(p, chunk + off, to - from - off, 1.5, &used);
        ck_assert_uint_le(used, to - from - off);
        off += used;
        if (r == AVTB_PARSE_ERROR)
            break;
        if (r == AVTB_PARSE_OK) {
            (*oks)++;
            if (ok_at != NULL)
                *ok_at = from + off;
        }
    }
    free(chunk);
    return r;
}

/* Everything the parser knows about the real stream, fed whole. */
static void check_real(const avtb_tls_session *p)
{
    const uint16_t *v;
    const uint8_t *s;
    size_t n;

    ck_assert(avtb_tls_session_is_tls(p));
    ck_assert(!avtb_tls_session_is_sslv2(p));
    ck_assert(avtb_tls_session_client_hello(p));
    s = avtb_tls_session_sni(p, &n);
    ck_assert_uint_eq(n, strlen(SNI));
    ck_assert_mem_eq(s, SNI, n);
    ck_assert_str_eq(avtb_tls_session_host(p), SNI);
    ck_assert_uint_eq(avtb_tls_session_alpn_count(p), 2);
    s = avtb_tls_session_alpn(p, 0, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_mem_eq(s, "h2", 2);
    s = avtb_tls_session_alpn(p, 1, &n);
    ck_assert_uint_eq(n, 8);
    ck_assert_mem_eq(s, "http/1.1", 8);
    ck_assert_ptr_null(avtb_tls_session_alpn(p, 2, &n));
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(avtb_tls_session_legacy_version(p), 0x0303);
    v = avtb_tls_session_supported_versions(p, &n);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(v[0], 0x0304);
    ck_assert_uint_eq(v[3], 0x0301);
    ck_assert_uint_eq(avtb_tls_session_client_version(p), 0x0304);
    ck_assert_uint_eq(avtb_tls_session_cipher_suites(p), 31);
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_HANDSHAKE), 350);
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_CHANGE_CIPHER_SPEC), 1);
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_APPLICATION_DATA), 69 + 61 + 19);
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_ALERT), 0);
    ck_assert_uint_eq(avtb_tls_session_bytes(p, (avtb_tls_content)99), 0);
    ck_assert_uint_eq(avtb_tls_session_records(p), 5);
    ck_assert_uint_eq(R.na, 0);
    ck_assert_uint_eq(R.nm, 1);
    ck_assert_str_eq(R.enc, "tls-sni");
    ck_assert_str_eq(R.host, SNI);
    ck_assert_uint_eq(R.len, strlen(SNI));
    ck_assert_mem_eq(R.data, SNI, R.len);
    ck_assert_uint_eq(R.offset, 5); /* where the ClientHello starts */
}

/* ---- The real stream ---- */

START_TEST(real_client_hello)
{
    avtb_tls_session *p = session(NULL);
    size_t used;

    ck_assert_int_eq(avtb_tls_session_parse(p, client_stream, sizeof(client_stream), 7.25, &used),
                     AVTB_PARSE_OK);
    ck_assert_uint_eq(used, CH_RECORD_END);
    ck_assert_int_eq(
        avtb_tls_session_parse(p, client_stream + used, sizeof(client_stream) - used, 0, &used),
        AVTB_PARSE_NEED_MORE);
    ck_assert_uint_eq(used, sizeof(client_stream) - CH_RECORD_END);
    check_real(p);
    ck_assert(R.time == 7.25);
    avtb_tls_session_free(p);
    avtb_tls_session_free(NULL);
}
END_TEST

START_TEST(one_byte_at_a_time)
{
    avtb_tls_session *p = session(NULL);
    size_t ok_at = 0;
    int oks = 0;

    for (size_t i = 0; i < sizeof(client_stream); i++) {
        ck_assert_int_ne(feed(p, client_stream, i, i + 1, &oks, &ok_at), AVTB_PARSE_ERROR);
        if (i + 1 < CH_RECORD_END)
            ck_assert_ptr_null(avtb_tls_session_host(p));
    }
    ck_assert_int_eq(oks, 1);
    ck_assert_uint_eq(ok_at, CH_RECORD_END);
    check_real(p);
    avtb_tls_session_free(p);
}
END_TEST

START_TEST(every_two_chunk_split)
{
    for (size_t cut = 0; cut <= sizeof(client_stream); cut++) {
        avtb_tls_session *p = session(NULL);
        int oks = 0;

        feed(p, client_stream, 0, cut, &oks, NULL);
        feed(p, client_stream, cut, sizeof(client_stream), &oks, NULL);
        ck_assert_int_eq(oks, 1);
        check_real(p);
        avtb_tls_session_free(p);
    }
}
END_TEST

/* The ClientHello's handshake bytes re-cut into two records at k, then the rest. */
static size_t two_records(uint8_t *out, size_t k)
{
    const uint8_t *hs = client_stream + 5;
    size_t hs_len = CH_RECORD_END - 5, n = 0;

    memcpy(out + n, "\x16\x03\x01", 3);
    out[n + 3] = (uint8_t)(k >> 8);
    out[n + 4] = (uint8_t)k;
    memcpy(out + n + 5, hs, k);
    n += 5 + k;
    memcpy(out + n, "\x16\x03\x03", 3);
    out[n + 3] = (uint8_t)((hs_len - k) >> 8);
    out[n + 4] = (uint8_t)(hs_len - k);
    memcpy(out + n + 5, hs + k, hs_len - k);
    n += 5 + hs_len - k;
    memcpy(out + n, client_stream + CH_RECORD_END, sizeof(client_stream) - CH_RECORD_END);
    return n + sizeof(client_stream) - CH_RECORD_END;
}

START_TEST(client_hello_over_two_records)
{
    uint8_t buf[sizeof(client_stream) + 5];

    /* Every cut: in the handshake header, in the SNI, in the ALPN list, ... */
    for (size_t k = 1; k < CH_RECORD_END - 5; k++) {
        avtb_tls_session *p = session(NULL);
        size_t n = two_records(buf, k), ok_at = 0;
        int oks = 0;

        ck_assert_int_eq(feed(p, buf, 0, n, &oks, &ok_at), AVTB_PARSE_NEED_MORE);
        ck_assert_int_eq(oks, 1);
        ck_assert_uint_eq(ok_at, CH_RECORD_END + 5);
        ck_assert_uint_eq(avtb_tls_session_records(p), 6);
        ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_HANDSHAKE), 350);
        ck_assert_str_eq(avtb_tls_session_host(p), SNI);
        ck_assert_uint_eq(avtb_tls_session_alpn_count(p), 2);
        ck_assert_uint_eq(R.na, 0);
        ck_assert_uint_eq(R.nm, 1);
        avtb_tls_session_free(p);
    }
}
END_TEST

START_TEST(application_data_counted)
{
    static const size_t sizes[] = {0, 1, 16384, 16384 + 2048, 700};
    uint8_t *buf = malloc(CH_RECORD_END + 5 * 5 + 2 * 16384 + 2048 + 1 + 700 + 2 + 7);
    avtb_tls_session *p = session(NULL);
    size_t n = CH_RECORD_END, step = 1;
    uint64_t want = 0;
    int oks = 0;

    ck_assert_ptr_nonnull(buf);
    memcpy(buf, client_stream, CH_RECORD_END);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        memcpy(buf + n, "\x17\x03\x03", 3);
        buf[n + 3] = (uint8_t)(sizes[i] >> 8);
        buf[n + 4] = (uint8_t)sizes[i];
        memset(buf + n + 5, 0xa5, sizes[i]);
        n += 5 + sizes[i];
        want += sizes[i];
    }
    memcpy(buf + n, "\x15\x03\x03\x00\x02\x01\x00", 7); /* a plaintext close_notify alert */
    n += 7;
    /* Odd chunk sizes, each in its own allocation. */
    for (size_t off = 0; off < n; off += step, step = step * 3 % 1021 + 1)
        ck_assert_int_ne(feed(p, buf, off, off + step < n ? off + step : n, &oks, NULL),
                         AVTB_PARSE_ERROR);
    ck_assert_int_eq(oks, 1);
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_APPLICATION_DATA), want);
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_ALERT), 2);
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_HANDSHAKE), 350);
    ck_assert_uint_eq(avtb_tls_session_records(p), 7);
    ck_assert_str_eq(avtb_tls_session_host(p), SNI);
    ck_assert_uint_eq(R.na, 0);
    avtb_tls_session_free(p);
    free(buf);
}
END_TEST

START_TEST(server_direction)
{
    /* A ServerHello opens the server's direction: TLS, but no ClientHello to read. */
    static const uint8_t sh[] = {0x16, 0x03, 0x03, 0x00, 0x06, 0x02, 0x00, 0x00, 0x02,
                                 0x03, 0x03, 0x17, 0x03, 0x03, 0x00, 0x02, 0xaa, 0xbb};
    avtb_tls_session *p = session(NULL);
    int oks = 0;

    ck_assert_int_eq(feed(p, sh, 0, sizeof(sh), &oks, NULL), AVTB_PARSE_NEED_MORE);
    ck_assert_int_eq(oks, 1);
    ck_assert(avtb_tls_session_is_tls(p));
    ck_assert(!avtb_tls_session_client_hello(p));
    ck_assert_ptr_null(avtb_tls_session_host(p));
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_APPLICATION_DATA), 2);
    ck_assert_uint_eq(avtb_tls_session_client_version(p), 0);
    ck_assert_uint_eq(R.nm + R.na, 0);
    avtb_tls_session_free(p);
}
END_TEST

/* A minimal TLS 1.2 ClientHello: no extensions at all; GREASE-free. */
START_TEST(no_extensions_and_grease)
{
    uint8_t ch[5 + 4 + 2 + 32 + 1 + 2 + 4 + 2 + 2 + 4 + 7];
    avtb_tls_session *p = session(NULL);
    size_t n = 0, used;
    const uint16_t *v;

    memcpy(ch, "\x16\x03\x01\x00\x2f\x01\x00\x00\x2b\x03\x03", 11);
    n = 11;
    memset(ch + n, 0x11, 32);
    n += 32;
    memcpy(ch + n, "\x00\x00\x04\xc0\x2f\x00\x2f\x01\x00", 9);
    n += 9;
    ck_assert_int_eq(avtb_tls_session_parse(p, ch, n, 0, &used), AVTB_PARSE_OK);
    ck_assert(avtb_tls_session_client_hello(p));
    ck_assert_uint_eq(avtb_tls_session_cipher_suites(p), 2);
    ck_assert_uint_eq(avtb_tls_session_client_version(p), 0x0303);
    ck_assert_ptr_null(avtb_tls_session_supported_versions(p, &used));
    ck_assert_ptr_null(avtb_tls_session_sni(p, &used));
    ck_assert_uint_eq(used, 0);
    ck_assert_uint_eq(R.nm + R.na, 0);
    avtb_tls_session_free(p);

    /* The same with supported_versions {GREASE, 1.3, 1.2}: GREASE is not a version. */
    p = session(NULL);
    ch[4] = 0x2f + 2 + 11;
    ch[8] = 0x2b + 2 + 11;
    memcpy(ch + n, "\x00\x0b\x00\x2b\x00\x07\x06\x7a\x7a\x03\x04\x03\x03", 13);
    n += 13;
    ck_assert_int_eq(avtb_tls_session_parse(p, ch, n, 0, &used), AVTB_PARSE_OK);
    v = avtb_tls_session_supported_versions(p, &used);
    ck_assert_uint_eq(used, 3);
    ck_assert_uint_eq(v[0], 0x7a7a);
    ck_assert_uint_eq(avtb_tls_session_client_version(p), 0x0304);
    ck_assert_uint_eq(R.na, 0);
    avtb_tls_session_free(p);
}
END_TEST

/* ---- Not TLS, or not followable ---- */

START_TEST(garbage_is_error)
{
#define JUNK(s) s, sizeof(s) - 1
    static const struct {
        const char *b;
        size_t n;
    } junk[] = {
        {JUNK("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
        {JUNK("\x16\x03\x09\x00\x10 hello")},   /* no such version */
        {JUNK("\x16\x01\x01\x00\x10 hello")},   /* not 3.x */
        {JUNK("\x17\x03\x03\x00\x10 hello")},   /* data before any handshake */
        {JUNK("\x80\x10\x07\x03\x01 junk...")}, /* high bit, not an SSLv2 hello */
        {JUNK("\x00\x00\x00\x00\x00\x00")},
    };

    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        avtb_tls_session *p = session(NULL);
        int oks = 0;
        size_t used = 99;

        ck_assert_int_eq(feed(p, (const uint8_t *)junk[i].b, 0, junk[i].n, &oks, NULL),
                         AVTB_PARSE_ERROR);
        ck_assert(!avtb_tls_session_is_tls(p));
        ck_assert_uint_eq(R.na, 0); /* most streams are not TLS: no anomaly for that */
        ck_assert_int_eq(avtb_tls_session_parse(p, (const uint8_t *)"x", 1, 0, &used),
                         AVTB_PARSE_ERROR);
        ck_assert_uint_eq(used, 0);
        avtb_tls_session_free(p);
    }
    {
        /* Decided on the first byte already. */
        avtb_tls_session *p = session(NULL);
        size_t used;

        ck_assert_int_eq(avtb_tls_session_parse(p, (const uint8_t *)"G", 1, 0, &used),
                         AVTB_PARSE_ERROR);
        ck_assert_uint_eq(used, 1);
        avtb_tls_session_free(p);
    }
}
END_TEST

START_TEST(sslv2_hello)
{
    static const uint8_t v2[] = {0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10};
    avtb_tls_session *p = session(NULL);
    size_t used;

    ck_assert_int_eq(avtb_tls_session_parse(p, v2, sizeof(v2), 0, &used), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(used, 5);
    ck_assert(avtb_tls_session_is_tls(p));
    ck_assert(avtb_tls_session_is_sslv2(p));
    ck_assert(!avtb_tls_session_client_hello(p));
    avtb_tls_session_free(p);
}
END_TEST

START_TEST(record_over_limit)
{
    static const uint8_t big[] = {0x16, 0x03, 0x01, 0x48, 0x01, 0x01};
    uint8_t buf[sizeof(client_stream) + 5];
    avtb_tls_config lim;
    avtb_tls_session *p = session(NULL);
    size_t used;
    int oks = 0;

    /* 18433 bytes: one past 2^14 + 2048. */
    ck_assert_int_eq(avtb_tls_session_parse(p, big, sizeof(big), 0, &used), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(used, 5);
    ck_assert(avtb_tls_session_is_tls(p));
    ck_assert_uint_eq(R.na, 1);
    ck_assert(anomaly_has("record at offset 0 of 18433 bytes exceeds the limit of 18432"));
    avtb_tls_session_free(p);

    /* A configured limit; the parser keeps its own copy. */
    avtb_tls_config_default(&lim);
    lim.max_record = 349;
    p = session(&lim);
    lim.max_record = 400;
    ck_assert_int_eq(feed(p, client_stream, 0, sizeof(client_stream), &oks, NULL),
                     AVTB_PARSE_ERROR);
    ck_assert_uint_eq(R.na, 1);
    ck_assert(anomaly_has("record at offset 0 of 350 bytes exceeds the limit of 349"));
    ck_assert_ptr_null(avtb_tls_session_host(p));
    avtb_tls_session_free(p);

    /* Exactly at the limit is fine; one more, mid-stream, ends the parse but
     * what came before stays counted. */
    lim.max_record = 350;
    memcpy(buf, client_stream, sizeof(client_stream));
    memcpy(buf + sizeof(client_stream), "\x17\x03\x03\x01\x5f", 5);
    p = session(&lim);
    oks = 0;
    ck_assert_int_eq(feed(p, buf, 0, sizeof(buf), &oks, NULL), AVTB_PARSE_ERROR);
    ck_assert_int_eq(oks, 1);
    ck_assert_uint_eq(R.na, 1);
    ck_assert(anomaly_has("record at offset 525 of 351 bytes"));
    ck_assert_str_eq(avtb_tls_session_host(p), SNI);
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_APPLICATION_DATA), 149);
    ck_assert_uint_eq(avtb_tls_session_records(p), 5);
    avtb_tls_session_free(p);
}
END_TEST

START_TEST(desync_mid_stream)
{
    uint8_t buf[sizeof(client_stream)];
    avtb_tls_session *p = session(NULL);
    size_t used, at = CH_RECORD_END + 6; /* the first application data record */
    int oks = 0;

    memcpy(buf, client_stream, sizeof(buf));
    buf[at] = 0x30;
    ck_assert_int_eq(feed(p, buf, 0, sizeof(buf), &oks, NULL), AVTB_PARSE_ERROR);
    ck_assert_int_eq(oks, 1);
    ck_assert_uint_eq(R.na, 1);
    ck_assert(anomaly_has("type 48"));
    ck_assert_str_eq(avtb_tls_session_host(p), SNI); /* what was learnt stays */
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_CHANGE_CIPHER_SPEC), 1);
    ck_assert_int_eq(avtb_tls_session_parse(p, buf, sizeof(buf), 0, &used), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(used, 0);
    ck_assert_uint_eq(R.na, 1);
    avtb_tls_session_free(p);
}
END_TEST

/* ---- Hostile ClientHellos ---- */

/* The real stream with one 16-bit field changed; returns the parser after feeding it. */
static avtb_tls_session *mutated(size_t at, unsigned value)
{
    uint8_t buf[sizeof(client_stream)];
    avtb_tls_session *p = session(NULL);
    int oks = 0;

    memcpy(buf, client_stream, sizeof(buf));
    buf[at] = (uint8_t)(value >> 8);
    buf[at + 1] = (uint8_t)value;
    ck_assert_int_eq(feed(p, buf, 0, sizeof(buf), &oks, NULL), AVTB_PARSE_NEED_MORE);
    ck_assert_int_eq(oks, 1);
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_APPLICATION_DATA), 149);
    return p;
}

START_TEST(sni_bad_lengths)
{
    static const struct {
        size_t at;
        unsigned value;
        const char *anomaly;
    } cases[] = {
        {SNI_LIST_LEN, 0x0040, "server_name list length"}, /* list longer than the extension */
        {SNI_LIST_LEN, 0x0010, "server_name list length"}, /* shorter */
        {SNI_NAME_LEN, 0x00ff, "server_name entry runs past"},
        {SNI_NAME_LEN, 0xffff, "server_name entry runs past"},
        {SNI_EXT_LEN, 0x0001, "server_name list length"},
        {SNI_EXT_LEN, 0x0000, "server_name list length"},
        {SNI_EXT_LEN, 0x4000, "extension runs past"}, /* past the extensions block */
    };

    ck_assert_uint_eq(client_stream[SNI_NAME_LEN + 1], strlen(SNI));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        avtb_tls_session *p = mutated(cases[i].at, cases[i].value);
        size_t n;

        ck_assert_msg(anomaly_has(cases[i].anomaly), "case %zu: %s", i, R.anomalies[0]);
        ck_assert_ptr_null(avtb_tls_session_sni(p, &n));
        ck_assert_ptr_null(avtb_tls_session_host(p));
        ck_assert_uint_eq(R.nm, 0);
        ck_assert(avtb_tls_session_client_hello(p));
        /* The extensions after it are still read, unless its own length was wrong. */
        if (cases[i].at != SNI_EXT_LEN)
            ck_assert_uint_eq(avtb_tls_session_alpn_count(p), 2);
        avtb_tls_session_free(p);
    }
}
END_TEST

START_TEST(extensions_bad_lengths)
{
    avtb_tls_session *p;

    /* The block says more than there is: reported, and what is there is read. */
    p = mutated(EXTS_LEN, 0x00f0);
    ck_assert(anomaly_has("extensions length"));
    ck_assert_str_eq(avtb_tls_session_host(p), SNI);
    avtb_tls_session_free(p);

    /* Less: reported, and only that much is read (the SNI is inside it). */
    p = mutated(EXTS_LEN, 0x0030);
    ck_assert(anomaly_has("extensions length"));
    ck_assert_str_eq(avtb_tls_session_host(p), SNI);
    ck_assert_uint_eq(avtb_tls_session_alpn_count(p), 0);
    avtb_tls_session_free(p);
}
END_TEST

/* Every byte of the ClientHello set to 0x00, 0xff and 0x80: no crash, no over-read, the records
 * still counted. */
START_TEST(every_byte_mutated)
{
    static const uint8_t values[] = {0x00, 0xff, 0x80};

    for (size_t at = 5; at < CH_RECORD_END; at++)
        for (size_t v = 0; v < sizeof(values); v++) {
            uint8_t buf[sizeof(client_stream)];
            avtb_tls_session *p = session(NULL);
            int oks = 0;

            memcpy(buf, client_stream, sizeof(buf));
            buf[at] = values[v];
            ck_assert_int_eq(feed(p, buf, 0, sizeof(buf), &oks, NULL), AVTB_PARSE_NEED_MORE);
            ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_APPLICATION_DATA), 149);
            avtb_tls_session_free(p);
        }
}
END_TEST

START_TEST(client_hello_interrupted)
{
    uint8_t buf[sizeof(client_stream) + 5 + 7];
    avtb_tls_session *p = session(NULL);
    size_t n = two_records(buf, 100);
    int oks = 0;

    /* An alert between the two halves. */
    memmove(buf + 105 + 7, buf + 105, n - 105);
    memcpy(buf + 105, "\x15\x03\x03\x00\x02\x02\x28", 7);
    n += 7;
    ck_assert_int_eq(feed(p, buf, 0, n, &oks, NULL), AVTB_PARSE_NEED_MORE);
    ck_assert_int_eq(oks, 0);
    ck_assert(anomaly_has("interrupts the ClientHello"));
    ck_assert_ptr_null(avtb_tls_session_host(p));
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_HANDSHAKE), 350);
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_ALERT), 2);
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_APPLICATION_DATA), 149);
    avtb_tls_session_free(p);
}
END_TEST

START_TEST(client_hello_over_limit)
{
    avtb_tls_config lim;
    avtb_tls_session *p;
    int oks = 0;

    avtb_tls_config_default(&lim);
    lim.max_client_hello = 200;
    p = session(&lim);
    ck_assert_int_eq(feed(p, client_stream, 0, sizeof(client_stream), &oks, NULL),
                     AVTB_PARSE_NEED_MORE);
    ck_assert_int_eq(oks, 1);
    ck_assert(anomaly_has("ClientHello of 346 bytes exceeds the limit of 200"));
    ck_assert(!avtb_tls_session_client_hello(p));
    ck_assert_ptr_null(avtb_tls_session_host(p));
    ck_assert_uint_eq(avtb_tls_session_bytes(p, AVTB_TLS_APPLICATION_DATA), 149);
    avtb_tls_session_free(p);
}
END_TEST

START_TEST(sni_odd_bytes)
{
    uint8_t buf[sizeof(client_stream)];
    avtb_tls_session *p = session(NULL);
    int oks = 0;
    size_t n;

    /* A NUL and a backslash in the name: raw in the message and getter, escaped in host. */
    memcpy(buf, client_stream, sizeof(buf));
    buf[SNI_NAME_LEN + 2] = 0;
    buf[SNI_NAME_LEN + 3] = '\\';
    ck_assert_int_eq(feed(p, buf, 0, sizeof(buf), &oks, NULL), AVTB_PARSE_NEED_MORE);
    ck_assert_uint_eq(R.len, strlen(SNI));
    ck_assert_mem_eq(R.data, "\0\\nary-avtb", 11);
    ck_assert_mem_eq(avtb_tls_session_sni(p, &n), "\0\\nary", 6);
    ck_assert_str_eq(avtb_tls_session_host(p), "\\000\\092nary-avtbq3f7k2m9.example.net");
    ck_assert_str_eq(R.host, avtb_tls_session_host(p));
    avtb_tls_session_free(p);
}
END_TEST

/* A record holding a ClientHello with the given extensions block (NULL: none). */
static size_t build_hello(uint8_t *out, const uint8_t *exts, size_t exts_len)
{
    size_t body = 2 + 32 + 1 + 2 + 4 + 2 + (exts != NULL ? 2 + exts_len : 0), n = 0;

    out[n++] = 0x16;
    out[n++] = 0x03;
    out[n++] = 0x01;
    out[n++] = (uint8_t)((body + 4) >> 8);
    out[n++] = (uint8_t)(body + 4);
    out[n++] = 0x01;
    out[n++] = 0;
    out[n++] = (uint8_t)(body >> 8);
    out[n++] = (uint8_t)body;
    memcpy(out + n, "\x03\x03", 2);
    n += 2;
    memset(out + n, 0x42, 32);
    n += 32;
    memcpy(out + n, "\x00\x00\x04\x13\x01\x13\x02\x01\x00", 9);
    n += 9;
    if (exts != NULL) {
        out[n++] = (uint8_t)(exts_len >> 8);
        out[n++] = (uint8_t)exts_len;
        memcpy(out + n, exts, exts_len);
        n += exts_len;
    }
    return n;
}

START_TEST(sni_long_and_repeated)
{
    uint8_t exts[2 + 2 + 2 + 3 + 300 + 3 + 1], rec[600];
    avtb_tls_session *p = session(NULL);
    size_t n = 0, used, len;

    /* server_name: a 300-byte host_name (a token may hide in it: still
     * delivered) and a second host_name, which is refused. */
    memcpy(exts, "\x00\x00\x01\x35\x01\x33\x00\x01\x2c", 9);
    n = 9;
    memset(exts + n, 'q', 300);
    n += 300;
    memcpy(exts + n, "\x00\x00\x01x", 4);
    n += 4;
    ck_assert_uint_eq(n, sizeof(exts));
    n = build_hello(rec, exts, sizeof(exts));
    ck_assert_int_eq(avtb_tls_session_parse(p, rec, n, 0, &used), AVTB_PARSE_OK);
    ck_assert_uint_eq(used, n);
    ck_assert(anomaly_has("300 bytes is longer than a DNS name"));
    ck_assert(anomaly_has("more than one SNI host_name"));
    ck_assert_uint_eq(R.nm, 1);
    ck_assert_uint_eq(R.len, 300);
    ck_assert_ptr_nonnull(avtb_tls_session_sni(p, &len));
    ck_assert_uint_eq(len, 300);
    avtb_tls_session_free(p);
}
END_TEST

START_TEST(alpn_and_extension_oddities)
{
    /* ALPN {"h2", ""} then a second ALPN extension {"x"}. */
    static const uint8_t exts[] = {0x00, 0x10, 0x00, 0x06, 0x00, 0x04, 0x02, 'h',  '2',
                                   0x00, 0x00, 0x10, 0x00, 0x04, 0x00, 0x02, 0x01, 'x'};
    uint8_t rec[128];
    avtb_tls_session *p = session(NULL);
    size_t n = build_hello(rec, exts, sizeof(exts)), used, len;
    const uint8_t *a;

    ck_assert_int_eq(avtb_tls_session_parse(p, rec, n, 0, &used), AVTB_PARSE_OK);
    ck_assert(anomaly_has("ALPN protocol 1 is empty"));
    ck_assert(anomaly_has("extension 16 repeated"));
    ck_assert_uint_eq(avtb_tls_session_alpn_count(p), 1);
    a = avtb_tls_session_alpn(p, 0, &len);
    ck_assert_uint_eq(len, 2);
    ck_assert_mem_eq(a, "h2", 2);
    ck_assert_uint_eq(avtb_tls_session_cipher_suites(p), 2);
    avtb_tls_session_free(p);

    /* An extensions block whose own length is cut. */
    p = session(NULL);
    n = build_hello(rec, NULL, 0);
    rec[n++] = 0x00;
    rec[4]++;
    rec[8]++;
    ck_assert_int_eq(avtb_tls_session_parse(p, rec, n, 0, &used), AVTB_PARSE_OK);
    ck_assert(anomaly_has("extensions length cut short"));
    ck_assert(avtb_tls_session_client_hello(p));
    avtb_tls_session_free(p);

    /* A ClientHello too short for its fixed fields. */
    p = session(NULL);
    ck_assert_int_eq(
        avtb_tls_session_parse(p, (const uint8_t *)"\x16\x03\x01\x00\x06\x01\x00\x00\x02\x03\x03",
                               11, 0, &used),
        AVTB_PARSE_OK);
    ck_assert(anomaly_has("shorter than its fixed fields"));
    ck_assert(!avtb_tls_session_client_hello(p));
    ck_assert_uint_eq(avtb_tls_session_legacy_version(p), 0x0303);
    avtb_tls_session_free(p);
}
END_TEST

START_TEST(stream_ends_in_client_hello)
{
    avtb_tls_session *p = session(NULL);
    size_t used;
    int oks = 0;

    /* Cut after the SNI (and before ALPN): the SNI still comes out, at end time. */
    ck_assert_int_eq(feed(p, client_stream, 0, 200, &oks, NULL), AVTB_PARSE_NEED_MORE);
    ck_assert_ptr_null(avtb_tls_session_host(p));
    avtb_tls_session_end(p, 4.0);
    ck_assert(anomaly_has("ends 191 bytes into a 346-byte ClientHello"));
    ck_assert(anomaly_has("extension"));
    ck_assert_str_eq(avtb_tls_session_host(p), SNI);
    ck_assert_uint_eq(R.nm, 1);
    ck_assert(R.time == 4.0);
    ck_assert_int_eq(avtb_tls_session_parse(p, client_stream, 1, 5.0, &used), AVTB_PARSE_ERROR);
    ck_assert_uint_eq(used, 0);
    avtb_tls_session_free(p);

    /* Cut in the handshake header: said, nothing to read. */
    p = session(NULL);
    ck_assert_int_eq(feed(p, client_stream, 0, 7, &oks, NULL), AVTB_PARSE_NEED_MORE);
    avtb_tls_session_end(p, 4.0);
    ck_assert_uint_eq(R.na, 1);
    ck_assert_uint_eq(R.nm, 0);
    avtb_tls_session_free(p);

    /* After the ClientHello, in application data: nothing to say. */
    p = session(NULL);
    ck_assert_int_eq(feed(p, client_stream, 0, 400, &oks, NULL), AVTB_PARSE_NEED_MORE);
    avtb_tls_session_end(p, 4.0);
    ck_assert_uint_eq(R.na, 0);
    ck_assert_uint_eq(R.nm, 1);
    avtb_tls_session_free(p);
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *tc;

    tc = tcase_create("client-hello");
    tcase_add_test(tc, real_client_hello);
    tcase_add_test(tc, one_byte_at_a_time);
    tcase_add_test(tc, every_two_chunk_split);
    tcase_add_test(tc, client_hello_over_two_records);
    tcase_add_test(tc, server_direction);
    tcase_add_test(tc, no_extensions_and_grease);
    suite_add_tcase(s, tc);

    tc = tcase_create("records");
    tcase_add_test(tc, application_data_counted);
    tcase_add_test(tc, garbage_is_error);
    tcase_add_test(tc, sslv2_hello);
    tcase_add_test(tc, record_over_limit);
    tcase_add_test(tc, desync_mid_stream);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile-hello");
    tcase_add_test(tc, sni_bad_lengths);
    tcase_add_test(tc, extensions_bad_lengths);
    tcase_add_test(tc, every_byte_mutated);
    tcase_add_test(tc, client_hello_interrupted);
    tcase_add_test(tc, client_hello_over_limit);
    tcase_add_test(tc, sni_odd_bytes);
    tcase_add_test(tc, sni_long_and_repeated);
    tcase_add_test(tc, alpn_and_extension_oddities);
    tcase_add_test(tc, stream_ends_in_client_hello);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tls_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
