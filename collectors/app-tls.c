/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS record framing and the ClientHello; see app-tls.h. Record headers are
 * collected a byte at a time so a stream split anywhere parses the same;
 * record bodies are only counted, except the first handshake message, which
 * is reassembled across records when it is a ClientHello. Every length read
 * from the wire is checked against what is left before it is used.
 */
#include "collectors/app-tls.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/app-dns.h"

#define REC_HDR 5
#define HS_HDR  4

#define HS_CLIENT_HELLO 1

#define EXT_SERVER_NAME        0
#define EXT_ALPN               16
#define EXT_SUPPORTED_VERSIONS 43

#define SNI_HOST_NAME 0
#define MAX_VERSIONS  127 /* a 1-byte list length of 2-byte versions */

typedef enum {
    ST_HEADER, /* collecting a record header */
    ST_BODY,   /* inside a record's payload */
    ST_ERROR,
} tls_state;

struct avtb_tls_session {
    avtb_tls_config c; /* limits resolved */
    double ts;         /* of the chunk being parsed */
    tls_state st;
    uint64_t off; /* stream bytes consumed before the current call */

    /* The current record. */
    uint8_t hdr[REC_HDR];
    size_t hdr_have;
    uint64_t rec_off;
    uint8_t type;
    size_t left; /* payload bytes still to come */

    bool is_tls, sslv2;
    uint64_t bytes[5]; /* by content type - 20 */
    uint64_t records;

    /* The first handshake message. */
    bool hs_done; /* read, skipped or abandoned: no more handshake parsing */
    uint8_t hs_hdr[HS_HDR];
    size_t hs_hdr_have;
    uint64_t hs_off;
    uint8_t *hs;
    size_t hs_len, hs_have;

    /* What the ClientHello said. */
    bool client_hello;
    uint16_t legacy_version;
    uint16_t versions[MAX_VERSIONS];
    size_t nversions;
    bool has_versions;
    size_t ciphers;
    uint8_t *sni;
    size_t sni_len;
    char *host;
    uint8_t *alpn;      /* the protocol name list, length bytes included */
    uint32_t *alpn_idx; /* offset of each protocol's length byte in alpn */
    size_t nalpn;
};

static void anomaly(avtb_tls_session *p, const char *fmt, ...) AVTB_PRINTF(2, 3);

static void anomaly(avtb_tls_session *p, const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    if (p->c.anomaly == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    p->c.anomaly(p->c.ctx, buf);
}

void avtb_tls_config_default(avtb_tls_config *c)
{
    memset(c, 0, sizeof(*c));
    c->max_record = AVTB_TLS_MAX_RECORD_DEFAULT;
    c->max_client_hello = AVTB_TLS_MAX_CLIENT_HELLO_DEFAULT;
}

avtb_tls_session *avtb_tls_session_new(const avtb_tls_config *c)
{
    avtb_tls_session *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->c = *c;
    if (p->c.max_record == 0)
        p->c.max_record = AVTB_TLS_MAX_RECORD_DEFAULT;
    if (p->c.max_client_hello == 0)
        p->c.max_client_hello = AVTB_TLS_MAX_CLIENT_HELLO_DEFAULT;
    return p;
}

void avtb_tls_session_free(avtb_tls_session *p)
{
    if (p == NULL)
        return;
    free(p->hs);
    free(p->sni);
    free(p->host);
    free(p->alpn);
    free(p->alpn_idx);
    free(p);
}

/* ---- Reading the ClientHello: a cursor that never moves past its end ---- */

typedef struct cur {
    const uint8_t *p;
    size_t left;
} cur;

static bool get_u8(cur *c, uint8_t *v)
{
    if (c->left < 1)
        return false;
    *v = c->p[0];
    c->p++;
    c->left--;
    return true;
}

static bool get_u16(cur *c, uint16_t *v)
{
    if (c->left < 2)
        return false;
    *v = (uint16_t)(c->p[0] << 8 | c->p[1]);
    c->p += 2;
    c->left -= 2;
    return true;
}

/* The next n bytes as their own cursor. */
static bool get_sub(cur *c, size_t n, cur *sub)
{
    if (c->left < n)
        return false;
    sub->p = c->p;
    sub->left = n;
    c->p += n;
    c->left -= n;
    return true;
}

static void read_server_name(avtb_tls_session *p, cur e)
{
    uint16_t list_len;

    if (!get_u16(&e, &list_len) || list_len != e.left) {
        anomaly(p, "tls: server_name list length disagrees with its extension");
        return;
    }
    while (e.left > 0) {
        uint8_t type;
        uint16_t nlen;
        cur name;

        if (!get_u8(&e, &type) || !get_u16(&e, &nlen) || !get_sub(&e, nlen, &name)) {
            anomaly(p, "tls: server_name entry runs past its list");
            return;
        }
        if (type != SNI_HOST_NAME)
            continue;
        if (p->sni != NULL) {
            anomaly(p, "tls: more than one SNI host_name; the first is kept");
            continue;
        }
        if (nlen == 0) {
            anomaly(p, "tls: empty SNI host_name");
            continue;
        }
        if (nlen > 255)
            anomaly(p, "tls: SNI host_name of %u bytes is longer than a DNS name", nlen);
        p->sni = malloc((size_t)nlen + 1);
        p->host = malloc((size_t)nlen * 4 + 1);
        if (p->sni == NULL || p->host == NULL) {
            anomaly(p, "tls: out of memory keeping the SNI");
            free(p->sni);
            free(p->host);
            p->sni = NULL;
            p->host = NULL;
            return;
        }
        memcpy(p->sni, name.p, nlen);
        p->sni[nlen] = '\0';
        p->sni_len = nlen;
        avtb_dns_escape((const char *)p->sni, nlen, p->host, (size_t)nlen * 4 + 1);
    }
}

static void read_alpn(avtb_tls_session *p, cur e)
{
    uint16_t list_len;
    size_t good = 0, n = 0, o = 0;

    if (!get_u16(&e, &list_len) || list_len != e.left) {
        anomaly(p, "tls: ALPN list length disagrees with its extension");
        return;
    }
    /* The well-formed prefix of the list is kept. */
    while (good < e.left) {
        uint8_t l = e.p[good];

        if (l == 0 || l > e.left - good - 1) {
            anomaly(p, "tls: ALPN protocol %zu is empty or runs past its list", n);
            break;
        }
        good += 1 + (size_t)l;
        n++;
    }
    if (n == 0)
        return;
    p->alpn = malloc(good);
    p->alpn_idx = calloc(n, sizeof(*p->alpn_idx));
    if (p->alpn == NULL || p->alpn_idx == NULL) {
        anomaly(p, "tls: out of memory keeping the ALPN list");
        free(p->alpn);
        free(p->alpn_idx);
        p->alpn = NULL;
        p->alpn_idx = NULL;
        return;
    }
    memcpy(p->alpn, e.p, good);
    for (size_t i = 0; i < n; i++) {
        p->alpn_idx[i] = (uint32_t)o;
        o += 1 + (size_t)p->alpn[o];
    }
    p->nalpn = n;
}

static void read_supported_versions(avtb_tls_session *p, cur e)
{
    uint8_t list_len;
    uint16_t v;

    if (!get_u8(&e, &list_len) || list_len != e.left || list_len % 2 != 0) {
        anomaly(p, "tls: supported_versions list length disagrees with its extension");
        return;
    }
    p->has_versions = true;
    while (p->nversions < MAX_VERSIONS && get_u16(&e, &v))
        p->versions[p->nversions++] = v;
}

static void read_extensions(avtb_tls_session *p, cur c)
{
    uint16_t ext_len;
    uint32_t seen = 0; /* bit 0 server_name, 1 ALPN, 2 supported_versions */
    cur exts;

    if (!get_u16(&c, &ext_len)) {
        anomaly(p, "tls: ClientHello extensions length cut short");
        return;
    }
    if (ext_len != c.left)
        anomaly(p, "tls: ClientHello extensions length %u, %zu bytes left", ext_len, c.left);
    if (!get_sub(&c, ext_len, &exts))
        exts = c; /* read what is there: each extension is checked on its own */
    while (exts.left > 0) {
        uint16_t type, len;
        uint32_t bit;
        cur e;

        if (!get_u16(&exts, &type) || !get_u16(&exts, &len) || !get_sub(&exts, len, &e)) {
            anomaly(p, "tls: ClientHello extension runs past the extensions");
            return;
        }
        switch (type) {
        case EXT_SERVER_NAME:
            bit = 1;
            break;
        case EXT_ALPN:
            bit = 2;
            break;
        case EXT_SUPPORTED_VERSIONS:
            bit = 4;
            break;
        default:
            continue;
        }
        if (seen & bit) {
            anomaly(p, "tls: ClientHello extension %u repeated; the first is kept", type);
            continue;
        }
        seen |= bit;
        if (type == EXT_SERVER_NAME)
            read_server_name(p, e);
        else if (type == EXT_ALPN)
            read_alpn(p, e);
        else
            read_supported_versions(p, e);
    }
}

/* The ClientHello body (RFC 8446 4.1.2), n bytes. */
static void read_client_hello(avtb_tls_session *p, const uint8_t *b, size_t n)
{
    cur c = {b, n}, skip;
    uint16_t cs_len;
    uint8_t sid_len, comp_len;

    if (!get_u16(&c, &p->legacy_version) || !get_sub(&c, 32, &skip)) {
        anomaly(p, "tls: ClientHello of %zu bytes is shorter than its fixed fields", n);
        return;
    }
    if (!get_u8(&c, &sid_len) || sid_len > 32 || !get_sub(&c, sid_len, &skip)) {
        anomaly(p, "tls: ClientHello session_id longer than 32 bytes or cut short");
        return;
    }
    if (!get_u16(&c, &cs_len) || cs_len == 0 || cs_len % 2 != 0 || !get_sub(&c, cs_len, &skip)) {
        anomaly(p, "tls: ClientHello cipher_suites empty, odd or cut short");
        return;
    }
    if (!get_u8(&c, &comp_len) || comp_len == 0 || !get_sub(&c, comp_len, &skip)) {
        anomaly(p, "tls: ClientHello compression_methods empty or cut short");
        return;
    }
    p->ciphers = cs_len / 2;
    p->client_hello = true;
    if (c.left > 0) /* TLS 1.2 and earlier may end here */
        read_extensions(p, c);
}

static void deliver_sni(avtb_tls_session *p)
{
    avtb_message m = {0};

    if (p->sni == NULL || p->c.message == NULL)
        return;
    m.protocol = "tls";
    m.host = p->host;
    m.encoding[0] = "tls-sni";
    m.nencoding = 1;
    m.data = p->sni;
    m.len = p->sni_len;
    m.offset = p->hs_off;
    m.time = p->ts;
    p->c.message(p->c.ctx, &m);
}

static void hs_abandon(avtb_tls_session *p)
{
    free(p->hs);
    p->hs = NULL;
    p->hs_done = true;
}

/*
 * Takes handshake payload bytes (the first of which is at stream offset at)
 * for the first handshake message. Returns how many it used; *done is set
 * when that message is finished with, the rest then being left alone.
 */
static size_t hs_feed(avtb_tls_session *p, const uint8_t *buf, size_t n, uint64_t at, bool *done)
{
    size_t used = 0, k;

    *done = false;
    if (p->hs_hdr_have < HS_HDR) {
        if (p->hs_hdr_have == 0)
            p->hs_off = at;
        k = HS_HDR - p->hs_hdr_have < n ? HS_HDR - p->hs_hdr_have : n;
        memcpy(p->hs_hdr + p->hs_hdr_have, buf, k);
        p->hs_hdr_have += k;
        used = k;
        if (p->hs_hdr_have < HS_HDR)
            return used;
        p->hs_len = (size_t)p->hs_hdr[1] << 16 | (size_t)p->hs_hdr[2] << 8 | p->hs_hdr[3];
        if (p->hs_hdr[0] != HS_CLIENT_HELLO) {
            hs_abandon(p); /* a server's direction, or no hello at all: nothing to read */
            *done = true;
            return used;
        }
        if (p->hs_len > p->c.max_client_hello) {
            anomaly(p, "tls: ClientHello of %zu bytes exceeds the limit of %zu; not read",
                    p->hs_len, p->c.max_client_hello);
            hs_abandon(p);
            *done = true;
            return used;
        }
        p->hs = malloc(p->hs_len ? p->hs_len : 1);
        if (p->hs == NULL) {
            anomaly(p, "tls: out of memory reassembling a ClientHello of %zu bytes", p->hs_len);
            hs_abandon(p);
            *done = true;
            return used;
        }
    }
    k = p->hs_len - p->hs_have < n - used ? p->hs_len - p->hs_have : n - used;
    memcpy(p->hs + p->hs_have, buf + used, k);
    p->hs_have += k;
    used += k;
    if (p->hs_have == p->hs_len) {
        read_client_hello(p, p->hs, p->hs_len);
        deliver_sni(p);
        hs_abandon(p);
        *done = true;
    }
    return used;
}

static bool sslv2_client_hello(const uint8_t h[REC_HDR])
{
    size_t len = (size_t)(h[0] & 0x7f) << 8 | h[1];

    /* msg_type CLIENT-HELLO, then version 0.2 or 3.x (RFC 6101 E.2, RFC 5246 E.2) */
    return len >= 9 && h[2] == 1 && ((h[3] == 0 && h[4] == 2) || (h[3] == 3 && h[4] <= 4));
}

/* A header byte was added; false when the parse ends here. */
static bool header_byte(avtb_tls_session *p)
{
    size_t len;

    if (!p->is_tls) {
        /* Decide as early as the bytes allow whether this is TLS at all. */
        if (p->hdr_have == 1 && p->hdr[0] != AVTB_TLS_HANDSHAKE && !(p->hdr[0] & 0x80))
            goto not_tls;
        if (p->hdr_have < REC_HDR)
            return true;
        if (p->hdr[0] & 0x80) {
            if (sslv2_client_hello(p->hdr))
                p->is_tls = p->sslv2 = true;
            goto not_tls;
        }
        if (p->hdr[1] != 3 || p->hdr[2] > 4)
            goto not_tls;
        p->is_tls = true;
    }
    if (p->hdr_have < REC_HDR)
        return true;
    len = (size_t)p->hdr[3] << 8 | p->hdr[4];
    if (p->hdr[0] < AVTB_TLS_CHANGE_CIPHER_SPEC || p->hdr[0] > AVTB_TLS_HEARTBEAT ||
        p->hdr[1] != 3 || p->hdr[2] > 4) {
        anomaly(p,
                "tls: record at offset %llu has type %u and version %u.%u: the stream is not "
                "followed further",
                (unsigned long long)p->rec_off, p->hdr[0], p->hdr[1], p->hdr[2]);
        p->st = ST_ERROR;
        return false;
    }
    if (len > p->c.max_record) {
        anomaly(p, "tls: record at offset %llu of %zu bytes exceeds the limit of %zu",
                (unsigned long long)p->rec_off, len, p->c.max_record);
        p->st = ST_ERROR;
        return false;
    }
    p->records++;
    p->hdr_have = 0;
    p->type = p->hdr[0];
    p->left = len;
    if (p->type != AVTB_TLS_HANDSHAKE && !p->hs_done) {
        /* Handshake messages are never interleaved with other records (RFC 8446 5.1),
         * and after a ChangeCipherSpec they would be encrypted. */
        if (p->hs_hdr_have > 0)
            anomaly(p, "tls: a record of type %u at offset %llu interrupts the ClientHello",
                    p->type, (unsigned long long)p->rec_off);
        hs_abandon(p);
    }
    p->st = len > 0 ? ST_BODY : ST_HEADER;
    return true;

not_tls:
    p->st = ST_ERROR;
    return false;
}

avtb_parse_result avtb_tls_session_parse(avtb_tls_session *p, const uint8_t *buf, size_t len,
                                         double ts, size_t *consumed)
{
    avtb_parse_result r = AVTB_PARSE_NEED_MORE;
    size_t i = 0, n;
    bool done;

    *consumed = 0;
    if (p->st == ST_ERROR)
        return AVTB_PARSE_ERROR;
    p->ts = ts;
    while (i < len && r == AVTB_PARSE_NEED_MORE) {
        if (p->st == ST_HEADER) {
            if (p->hdr_have == 0)
                p->rec_off = p->off + i;
            p->hdr[p->hdr_have++] = buf[i++];
            if (!header_byte(p)) {
                r = AVTB_PARSE_ERROR;
                break;
            }
            continue;
        }
        n = p->left < len - i ? p->left : len - i;
        if (p->type == AVTB_TLS_HANDSHAKE && !p->hs_done) {
            n = hs_feed(p, buf + i, n, p->off + i, &done);
            if (done)
                r = AVTB_PARSE_OK;
        }
        p->bytes[p->type - AVTB_TLS_CHANGE_CIPHER_SPEC] += n;
        p->left -= n;
        i += n;
        if (p->left == 0)
            p->st = ST_HEADER;
    }
    *consumed = i;
    p->off += i;
    return r;
}

void avtb_tls_session_end(avtb_tls_session *p, double ts)
{
    if (p->st != ST_ERROR && !p->hs_done && p->hs_hdr_have > 0) {
        p->ts = ts;
        if (p->hs == NULL) {
            anomaly(p, "tls: the stream ends inside a handshake message header");
        } else {
            anomaly(p, "tls: the stream ends %zu bytes into a %zu-byte ClientHello", p->hs_have,
                    p->hs_len);
            read_client_hello(p, p->hs, p->hs_have);
            deliver_sni(p);
        }
        hs_abandon(p);
    }
    p->st = ST_ERROR;
}

bool avtb_tls_session_is_tls(const avtb_tls_session *p)
{
    return p->is_tls;
}

bool avtb_tls_session_is_sslv2(const avtb_tls_session *p)
{
    return p->sslv2;
}

bool avtb_tls_session_client_hello(const avtb_tls_session *p)
{
    return p->client_hello;
}

const uint8_t *avtb_tls_session_sni(const avtb_tls_session *p, size_t *len)
{
    *len = p->sni_len;
    return p->sni;
}

const char *avtb_tls_session_host(const avtb_tls_session *p)
{
    return p->host;
}

size_t avtb_tls_session_alpn_count(const avtb_tls_session *p)
{
    return p->nalpn;
}

const uint8_t *avtb_tls_session_alpn(const avtb_tls_session *p, size_t i, size_t *len)
{
    *len = 0;
    if (i >= p->nalpn)
        return NULL;
    *len = p->alpn[p->alpn_idx[i]];
    return p->alpn + p->alpn_idx[i] + 1;
}

uint16_t avtb_tls_session_legacy_version(const avtb_tls_session *p)
{
    return p->legacy_version;
}

const uint16_t *avtb_tls_session_supported_versions(const avtb_tls_session *p, size_t *n)
{
    *n = p->nversions;
    return p->has_versions ? p->versions : NULL;
}

/* RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa. */
static bool grease(uint16_t v)
{
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

uint16_t avtb_tls_session_client_version(const avtb_tls_session *p)
{
    uint16_t best = 0;

    for (size_t i = 0; i < p->nversions; i++)
        if (!grease(p->versions[i]) && p->versions[i] > best)
            best = p->versions[i];
    return best != 0 ? best : p->legacy_version;
}

size_t avtb_tls_session_cipher_suites(const avtb_tls_session *p)
{
    return p->ciphers;
}

uint64_t avtb_tls_session_bytes(const avtb_tls_session *p, avtb_tls_content type)
{
    if (type < AVTB_TLS_CHANGE_CIPHER_SPEC || type > AVTB_TLS_HEARTBEAT)
        return 0;
    return p->bytes[type - AVTB_TLS_CHANGE_CIPHER_SPEC];
}

uint64_t avtb_tls_session_records(const avtb_tls_session *p)
{
    return p->records;
}
