/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS interception for the sink (see tls-mitm.h): the run's CA, leaves
 * minted per SNI into a bounded LRU cache, the SSLKEYLOGFILE writer, and a
 * per-connection record of the alerts, so that a client that refuses the
 * certificate leaves evidence even after libevent has drained the errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collectors/tls-mitm.h"
#include "common/util.h"

#define DAY_S          86400
#define CN_MAX         64 /* ub-common-name (RFC 5280): OpenSSL refuses longer */
#define CA_CN_FMT      "avtb run %s interception CA"
#define CA_CN_OVERHEAD (sizeof(CA_CN_FMT) - 1 - 2)
#define ORG            "avtb interception"
#define NAMELESS_CN    "avtb interception (no server name)"
#define KEYLOG_LINE    1024 /* OpenSSL's lines are under 300 bytes */
#define REASON_MAX     128

/* The name a leaf is minted for, and its cache key. */
typedef enum { NAME_NONE, NAME_DNS, NAME_IP } name_kind;

typedef struct leaf_name {
    name_kind kind;
    char key[8 + 256];    /* "dns:<lower-cased SNI>", "ip:<address>" or "none" */
    const char *text;     /* into key: the name as text, NULL for NAME_NONE */
    unsigned char ip[16]; /* NAME_IP */
    size_t ip_len;
} leaf_name;

typedef struct leaf {
    struct leaf *hnext;         /* hash bucket chain */
    struct leaf *newer, *older; /* LRU list */
    X509 *cert;
    EVP_PKEY *pkey;
    char key[]; /* leaf_name.key */
} leaf;

struct avtb_mitm {
    SSL_CTX *ctx;
    X509 *ca;
    EVP_PKEY *ca_key;
    char *ca_pem;
    time_t ca_not_after;
    unsigned validity_days;

    leaf **buckets;
    size_t nbuckets; /* a power of two */
    size_t nleaves, max_leaves;
    leaf *newest, *oldest;
    uint64_t seed; /* so a guest cannot choose names that share a bucket */

    int keylog_fd; /* -1: no key log */
    char *keylog_path;
    int keylog_errno;   /* first write error, 0 for none */
    size_t keylog_lost; /* lines not (wholly) written */
    bool keylog_torn;   /* the file ends mid-line: start the next one afresh */
};

/*
 * Per-connection state, in the SSL's ex_data: made on first need and freed
 * by OpenSSL with the SSL. The ex_data index is per process.
 */
typedef struct mitm_conn {
    int alert_read, alert_written; /* first alert each way, (level << 8) | description; -1 none */
    char reason[REASON_MAX];       /* why this side sent its alert */
    unsigned char ip[16];          /* avtb_mitm_set_local_ip */
    size_t ip_len;
} mitm_conn;

static pthread_once_t conn_once = PTHREAD_ONCE_INIT;
static int conn_idx = -1;

static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    free(ptr);
}

static void conn_index_init(void)
{
    conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
}

/*
 * The connection's state, made when create is set. OpenSSL hands callbacks
 * a const SSL only by habit: the SSL is ours to annotate, hence the cast.
 */
static mitm_conn *conn_get(const SSL *ssl, bool create)
{
    mitm_conn *c;

    pthread_once(&conn_once, conn_index_init);
    if (conn_idx < 0)
        return NULL;
    c = SSL_get_ex_data(ssl, conn_idx);
    if (c != NULL || !create)
        return c;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->alert_read = c->alert_written = -1;
    if (!SSL_set_ex_data((SSL *)ssl, conn_idx, c)) {
        free(c);
        return NULL;
    }
    return c;
}

/* The first queued OpenSSL error as text, and the queue cleared. */
static avtb_err ossl_error(avtb_error *err, const char *what)
{
    char buf[256] = "no detail from OpenSSL";
    unsigned long e = ERR_get_error();

    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return avtb_error_set(err, AVTB_ERR_INTERNAL, "TLS interception: %s: %s", what, buf);
}

static avtb_err nomem(avtb_error *err)
{
    return avtb_error_set(err, AVTB_ERR_NOMEM, "TLS interception: out of memory");
}

/* Guest bytes made printable: printable ASCII as is, else %XX, cut to fit. */
static void safe_copy(const unsigned char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < len && o + 4 <= cap; i++) {
        if (in[i] >= 0x20 && in[i] < 0x7f)
            out[o++] = (char)in[i];
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", in[i]);
    }
    out[o] = '\0';
}

/* ---- Certificates ---- */

/* A v3 certificate for key: random 128-bit serial, valid from a day ago to not_after. */
static X509 *cert_new(EVP_PKEY *key, time_t now, time_t not_after)
{
    unsigned char rnd[16];
    X509 *x = X509_new();
    BIGNUM *bn = NULL;
    bool ok = false;

    if (x == NULL || !X509_set_version(x, X509_VERSION_3) || RAND_bytes(rnd, sizeof(rnd)) != 1)
        goto out;
    rnd[sizeof(rnd) - 1] |= 1; /* never zero, which RFC 5280 forbids */
    bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
    ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
         ASN1_TIME_set(X509_getm_notBefore(x), now - DAY_S) != NULL &&
         ASN1_TIME_set(X509_getm_notAfter(x), not_after) != NULL && X509_set_pubkey(x, key);
out:
    BN_free(bn);
    if (!ok) {
        X509_free(x);
        x = NULL;
    }
    return x;
}

static bool name_add(X509_NAME *n, int nid, const char *value)
{
    return X509_NAME_add_entry_by_NID(n, nid, MBSTRING_ASC, (const unsigned char *)value, -1, -1,
                                      0) == 1;
}

/* One extension from its openssl.cnf text; issuer may be x itself. */
static bool ext_add(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v;
    X509_EXTENSION *e;
    bool ok;

    X509V3_set_ctx(&v, issuer, x, NULL, NULL, 0);
    e = X509V3_EXT_nconf_nid(NULL, &v, nid, value);
    ok = e != NULL && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok;
}

/* subjectAltName built field by field: the SNI is the guest's, never config text. */
static bool san_add(X509 *x, const leaf_name *n)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_STRING *s = NULL;
    bool ok = false;

    if (gens == NULL || g == NULL)
        goto out;
    if (n->kind == NAME_DNS) {
        s = ASN1_IA5STRING_new();
        if (s == NULL || !ASN1_STRING_set(s, n->text, -1))
            goto out;
        GENERAL_NAME_set0_value(g, GEN_DNS, s);
    } else {
        s = ASN1_OCTET_STRING_new();
        if (s == NULL || !ASN1_OCTET_STRING_set(s, n->ip, (int)n->ip_len))
            goto out;
        GENERAL_NAME_set0_value(g, GEN_IPADD, s);
    }
    s = NULL; /* transferred to g */
    if (!sk_GENERAL_NAME_push(gens, g))
        goto out;
    g = NULL; /* transferred to gens */
    ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
out:
    ASN1_STRING_free(s);
    GENERAL_NAME_free(g);
    GENERAL_NAMES_free(gens);
    return ok;
}

/* "avtb run <id> interception CA" within CN_MAX, keeping the id's end. */
static void ca_common_name(const char *run_id, char cn[CN_MAX + 1])
{
    size_t room = CN_MAX - CA_CN_OVERHEAD, len = strlen(run_id);
    char id[CN_MAX - CA_CN_OVERHEAD + 1];

    if (len <= room)
        snprintf(id, sizeof(id), "%s", run_id);
    else
        snprintf(id, sizeof(id), "...%s", run_id + len - (room - 3));
    snprintf(cn, CN_MAX + 1, CA_CN_FMT, id);
}

static avtb_err ca_new(avtb_mitm *m, const char *run_id, avtb_error *err)
{
    avtb_err r = AVTB_ERR_INTERNAL;
    char cn[CN_MAX + 1];
    time_t now = time(NULL);
    X509_NAME *subject;
    BIO *bio = NULL;
    char *pem = NULL;
    long len;

    ca_common_name(run_id, cn);
    m->ca_not_after = now + (time_t)m->validity_days * DAY_S;
    m->ca_key = EVP_EC_gen("P-256");
    if (m->ca_key == NULL || (m->ca = cert_new(m->ca_key, now, m->ca_not_after)) == NULL) {
        r = ossl_error(err, "cannot make the CA key and certificate");
        goto out;
    }
    subject = X509_get_subject_name(m->ca);
    if (!name_add(subject, NID_organizationName, "avtb") ||
        !name_add(subject, NID_commonName, cn) || !X509_set_issuer_name(m->ca, subject) ||
        !ext_add(m->ca, m->ca, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        !ext_add(m->ca, m->ca, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        !ext_add(m->ca, m->ca, NID_subject_key_identifier, "hash") ||
        X509_sign(m->ca, m->ca_key, EVP_sha256()) <= 0) {
        r = ossl_error(err, "cannot make the CA certificate");
        goto out;
    }
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || !PEM_write_bio_X509(bio, m->ca) ||
        (len = BIO_get_mem_data(bio, &pem)) <= 0) {
        r = ossl_error(err, "cannot encode the CA certificate");
        goto out;
    }
    m->ca_pem = strndup(pem, (size_t)len);
    if (m->ca_pem == NULL) {
        r = nomem(err);
        goto out;
    }
    r = AVTB_OK;
out:
    BIO_free(bio);
    return r;
}

/*
 * What to name the leaf: a usable SNI (an IP literal, or printable ASCII
 * lower-cased), else the local IP the sink gave, else nothing.
 */
static void name_for(const char *sni, const mitm_conn *c, leaf_name *n)
{
    char text[INET6_ADDRSTRLEN];
    size_t len = sni ? strlen(sni) : 0;
    bool printable = len > 0 && len < sizeof(n->key) - 8;

    memset(n, 0, sizeof(*n));
    for (size_t i = 0; printable && i < len; i++)
        printable = sni[i] > 0x20 && sni[i] < 0x7f;
    if (printable && inet_pton(AF_INET, sni, n->ip) == 1)
        n->ip_len = 4;
    else if (printable && inet_pton(AF_INET6, sni, n->ip) == 1)
        n->ip_len = 16;
    if (printable && n->ip_len == 0) {
        n->kind = NAME_DNS;
        memcpy(n->key, "dns:", 4);
        for (size_t i = 0; i < len; i++)
            n->key[4 + i] = (char)(sni[i] >= 'A' && sni[i] <= 'Z' ? sni[i] - 'A' + 'a' : sni[i]);
        n->key[4 + len] = '\0';
        n->text = n->key + 4;
        return;
    }
    if (n->ip_len == 0 && c != NULL && c->ip_len > 0) {
        memcpy(n->ip, c->ip, c->ip_len);
        n->ip_len = c->ip_len;
    }
    if (n->ip_len == 0 ||
        inet_ntop(n->ip_len == 4 ? AF_INET : AF_INET6, n->ip, text, sizeof(text)) == NULL) {
        n->kind = NAME_NONE;
        snprintf(n->key, sizeof(n->key), "none");
        return;
    }
    n->kind = NAME_IP;
    snprintf(n->key, sizeof(n->key), "ip:%s", text);
    n->text = n->key + 3;
}

static void leaf_free(leaf *l)
{
    if (l == NULL)
        return;
    X509_free(l->cert);
    EVP_PKEY_free(l->pkey);
    free(l);
}

/* A new leaf for n, signed by the CA; NULL with the OpenSSL error queued. */
static leaf *leaf_mint(const avtb_mitm *m, const leaf_name *n)
{
    size_t klen = strlen(n->key);
    leaf *l = calloc(1, sizeof(*l) + klen + 1);
    time_t now = time(NULL), not_after = now + (time_t)m->validity_days * DAY_S;
    X509_NAME *subject;
    bool ok;

    if (l == NULL)
        return NULL;
    memcpy(l->key, n->key, klen + 1);
    /* A leaf outliving its CA is refused by some clients. */
    if (not_after > m->ca_not_after)
        not_after = m->ca_not_after;
    l->pkey = EVP_EC_gen("P-256");
    ok = l->pkey != NULL && (l->cert = cert_new(l->pkey, now, not_after)) != NULL;
    subject = ok ? X509_get_subject_name(l->cert) : NULL;
    ok = ok && X509_set_issuer_name(l->cert, X509_get_subject_name(m->ca)) &&
         name_add(subject, NID_organizationName, ORG);
    /* Old clients still read the CN; the SAN is what modern ones check. */
    if (ok && n->kind == NAME_NONE)
        ok = name_add(subject, NID_commonName, NAMELESS_CN);
    else if (ok && strlen(n->text) <= CN_MAX)
        ok = name_add(subject, NID_commonName, n->text);
    ok = ok && ext_add(l->cert, m->ca, NID_basic_constraints, "critical,CA:FALSE") &&
         ext_add(l->cert, m->ca, NID_key_usage, "critical,digitalSignature") &&
         ext_add(l->cert, m->ca, NID_ext_key_usage, "serverAuth") &&
         ext_add(l->cert, m->ca, NID_subject_key_identifier, "hash") &&
         ext_add(l->cert, m->ca, NID_authority_key_identifier, "keyid:always") &&
         (n->kind == NAME_NONE || san_add(l->cert, n)) &&
         X509_sign(l->cert, m->ca_key, EVP_sha256()) > 0;
    if (!ok) {
        leaf_free(l);
        return NULL;
    }
    return l;
}

/* ---- The leaf cache: a hash table over an LRU list ---- */

static size_t bucket_of(const avtb_mitm *m, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ m->seed; /* FNV-1a, seeded */

    for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    h ^= h >> 29;
    return (size_t)h & (m->nbuckets - 1);
}

static void lru_unlink(avtb_mitm *m, leaf *l)
{
    if (l->newer != NULL)
        l->newer->older = l->older;
    else
        m->newest = l->older;
    if (l->older != NULL)
        l->older->newer = l->newer;
    else
        m->oldest = l->newer;
    l->newer = l->older = NULL;
}

static void lru_push(avtb_mitm *m, leaf *l)
{
    l->older = m->newest;
    l->newer = NULL;
    if (m->newest != NULL)
        m->newest->newer = l;
    m->newest = l;
    if (m->oldest == NULL)
        m->oldest = l;
}

static leaf *cache_find(avtb_mitm *m, const char *key)
{
    for (leaf *l = m->buckets[bucket_of(m, key)]; l != NULL; l = l->hnext) {
        if (strcmp(l->key, key) == 0) {
            lru_unlink(m, l);
            lru_push(m, l);
            return l;
        }
    }
    return NULL;
}

/* Drops the least recently used leaf; connections using it hold their own reference. */
static void cache_evict(avtb_mitm *m)
{
    leaf *victim = m->oldest;
    leaf **pp;

    if (victim == NULL)
        return;
    for (pp = &m->buckets[bucket_of(m, victim->key)]; *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == victim) {
            *pp = victim->hnext;
            break;
        }
    }
    lru_unlink(m, victim);
    m->nleaves--;
    leaf_free(victim);
}

static void cache_add(avtb_mitm *m, leaf *l)
{
    size_t b = bucket_of(m, l->key);

    while (m->nleaves >= m->max_leaves)
        cache_evict(m);
    l->hnext = m->buckets[b];
    m->buckets[b] = l;
    lru_push(m, l);
    m->nleaves++;
}

static void cache_clear(avtb_mitm *m)
{
    while (m->oldest != NULL)
        cache_evict(m);
}

/* ---- Context callbacks ---- */

/* The mitm behind an SSL, or NULL once avtb_mitm_free ran. */
static avtb_mitm *mitm_of(const SSL *ssl)
{
    return SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
}

/*
 * Called for every ClientHello, with SNI or without: picks the leaf. A
 * failure is kept as the reason for the internal_error alert, since
 * OpenSSL only says "callback failed".
 */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
    avtb_mitm *m = mitm_of(ssl);
    mitm_conn *c = conn_get(ssl, false);
    leaf_name n;
    leaf *l;
    const char *why = NULL;

    if (m == NULL) {
        why = "the interception CA was freed before this handshake";
        goto fail;
    }
    name_for(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name), c, &n);
    l = cache_find(m, n.key);
    if (l == NULL) {
        l = leaf_mint(m, &n);
        if (l == NULL) {
            why = "cannot mint a leaf certificate";
            goto fail;
        }
        cache_add(m, l);
    }
    /* The SSL takes its own references: eviction cannot pull them away. */
    if (SSL_use_cert_and_key(ssl, l->cert, l->pkey, NULL, 1) != 1) {
        why = "cannot use the leaf certificate";
        goto fail;
    }
    return SSL_TLSEXT_ERR_OK;
fail:
    c = conn_get(ssl, true);
    if (c != NULL && c->reason[0] == '\0') {
        unsigned long e = ERR_peek_last_error();

        snprintf(c->reason, sizeof(c->reason), "%s%s%s", why, e ? ": " : "",
                 e ? ERR_reason_error_string(e) : "");
    }
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* http/1.1 (then http/1.0) when offered; otherwise no ALPN, which means HTTP/1.1. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    static const char *const prefer[] = {"http/1.1", "http/1.0"};

    for (size_t p = 0; p < sizeof(prefer) / sizeof(prefer[0]); p++) {
        size_t plen = strlen(prefer[p]);

        for (unsigned int i = 0; i < inlen;) {
            unsigned int l = in[i];

            if (l == 0 || l > inlen - i - 1)
                break;
            if (l == plen && memcmp(in + i + 1, prefer[p], plen) == 0) {
                *out = in + i + 1;
                *outlen = (unsigned char)l;
                return SSL_TLSEXT_ERR_OK;
            }
            i += 1 + l;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* Records the first alert each way; for ours, the error that made us send it. */
static void on_info(const SSL *ssl, int where, int ret)
{
    mitm_conn *c;

    if ((where & SSL_CB_ALERT) == 0)
        return;
    c = conn_get(ssl, true);
    if (c == NULL)
        return;
    if ((where & SSL_CB_READ) != 0) {
        if (c->alert_read < 0)
            c->alert_read = ret & 0xffff;
        return;
    }
    if (c->alert_written >= 0)
        return;
    c->alert_written = ret & 0xffff;
    if (c->reason[0] == '\0') {
        unsigned long e = ERR_peek_last_error();
        const char *s = e ? ERR_reason_error_string(e) : NULL;

        if (s != NULL)
            snprintf(c->reason, sizeof(c->reason), "%s", s);
    }
}

/*
 * One write(2) per line, so a crash of the sink loses none and another
 * writer appending to the same file does not split one. Failures are
 * counted and the first one kept for avtb_mitm_keylog_error.
 */
static void keylog_write(avtb_mitm *m, const char *line)
{
    char buf[KEYLOG_LINE];
    size_t pre = m->keylog_torn ? 1 : 0, len = strlen(line), off = 0, total;
    int e = 0;

    if (pre + len + 1 > sizeof(buf)) {
        e = EMSGSIZE;
        goto fail;
    }
    buf[0] = '\n';
    memcpy(buf + pre, line, len);
    buf[pre + len] = '\n';
    total = pre + len + 1;
    while (off < total) {
        ssize_t n = write(m->keylog_fd, buf + off, total - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            e = n < 0 ? errno : EIO;
            break;
        }
        off += (size_t)n;
    }
    if (off == total) {
        m->keylog_torn = false;
        return;
    }
    if (off > 0)
        m->keylog_torn = off > pre;
fail:
    if (m->keylog_errno == 0)
        m->keylog_errno = e;
    m->keylog_lost++;
}

static void on_keylog(const SSL *ssl, const char *line)
{
    avtb_mitm *m = mitm_of(ssl);

    if (m != NULL && m->keylog_fd >= 0)
        keylog_write(m, line);
}

static avtb_err ctx_new(avtb_mitm *m, avtb_error *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) || !SSL_CTX_set_num_tickets(ctx, 0) ||
        !SSL_CTX_set_app_data(ctx, m)) {
        SSL_CTX_free(ctx);
        return ossl_error(err, "cannot make the server context");
    }
    /*
     * No resumption: each connection in the capture shows the certificate
     * it got, and no session cache grows with the guest's connections. No
     * renegotiation: a client cannot make the sink redo handshakes at will.
     */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
    SSL_CTX_set_info_callback(ctx, on_info);
    if (m->keylog_fd >= 0)
        SSL_CTX_set_keylog_callback(ctx, on_keylog);
    m->ctx = ctx;
    return AVTB_OK;
}

/* ---- Public ---- */

static avtb_err config_check(const avtb_mitm_config *c, avtb_error *err)
{
    if (c == NULL || c->run_id == NULL || c->run_id[0] == '\0')
        return avtb_error_set(err, AVTB_ERR_USAGE, "TLS interception: no run id for the CA name");
    for (const char *p = c->run_id; *p != '\0'; p++) {
        if (*p < 0x20 || *p > 0x7e)
            return avtb_error_set(err, AVTB_ERR_USAGE,
                                  "TLS interception: run id \"%s\" has a byte 0x%02x; use "
                                  "printable ASCII",
                                  c->run_id, (unsigned char)*p);
    }
    if (c->validity_days > AVTB_MITM_VALIDITY_DAYS_MAX)
        return avtb_error_set(err, AVTB_ERR_USAGE,
                              "TLS interception: validity of %u days is over the maximum of %u",
                              c->validity_days, AVTB_MITM_VALIDITY_DAYS_MAX);
    if (c->max_leaves > AVTB_MITM_MAX_LEAVES_MAX)
        return avtb_error_set(err, AVTB_ERR_USAGE,
                              "TLS interception: a cache of %zu leaves is over the maximum of %u",
                              c->max_leaves, AVTB_MITM_MAX_LEAVES_MAX);
    return AVTB_OK;
}

avtb_err avtb_mitm_new(const avtb_mitm_config *c, avtb_mitm **out, avtb_error *err)
{
    avtb_err r;
    avtb_mitm *m = NULL;

    *out = NULL;
    r = config_check(c, err);
    if (r != AVTB_OK)
        goto out;
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        r = nomem(err);
        goto out;
    }
    m->keylog_fd = -1;
    m->validity_days = c->validity_days ? c->validity_days : AVTB_MITM_VALIDITY_DAYS;
    m->max_leaves = c->max_leaves ? c->max_leaves : AVTB_MITM_MAX_LEAVES;
    for (m->nbuckets = 16; m->nbuckets < m->max_leaves; m->nbuckets *= 2)
        ;
    m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
    if (m->buckets == NULL) {
        r = nomem(err);
        goto out;
    }
    if (RAND_bytes((unsigned char *)&m->seed, sizeof(m->seed)) != 1) {
        r = ossl_error(err, "no randomness");
        goto out;
    }
    r = ca_new(m, c->run_id, err);
    if (r != AVTB_OK)
        goto out;
    if (c->keylog_path != NULL) {
        m->keylog_path = strdup(c->keylog_path);
        if (m->keylog_path == NULL) {
            r = nomem(err);
            goto out;
        }
        m->keylog_fd =
            open(c->keylog_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
        if (m->keylog_fd < 0) {
            r = avtb_error_errno(err, AVTB_ERR_IO, errno,
                                 "cannot open the TLS key log %s (check the evidence directory)",
                                 c->keylog_path);
            goto out;
        }
    }
    r = ctx_new(m, err);
    if (r != AVTB_OK)
        goto out;
    *out = m;
    m = NULL; /* transferred */
out:
    avtb_mitm_free(m);
    return r;
}

void avtb_mitm_free(avtb_mitm *m)
{
    if (m == NULL)
        return;
    if (m->ctx != NULL) {
        /* SSLs still holding the context see NULL in the callbacks. */
        SSL_CTX_set_app_data(m->ctx, NULL);
        SSL_CTX_free(m->ctx);
    }
    if (m->buckets != NULL)
        cache_clear(m);
    free(m->buckets);
    X509_free(m->ca);
    EVP_PKEY_free(m->ca_key);
    free(m->ca_pem);
    if (m->keylog_fd >= 0)
        close(m->keylog_fd);
    free(m->keylog_path);
    free(m);
}

const char *avtb_mitm_ca_pem(const avtb_mitm *m)
{
    return m->ca_pem;
}

avtb_err avtb_mitm_write_ca(const avtb_mitm *m, const char *path, avtb_error *err)
{
    avtb_err r = avtb_write_file(path, m->ca_pem, strlen(m->ca_pem), 0644, err);

    /* The umask may have narrowed it; the certificate is public. */
    if (r == AVTB_OK && chmod(path, 0644) < 0)
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot make %s readable", path);
    return r;
}

avtb_err avtb_mitm_keylog_reopen(avtb_mitm *m, avtb_error *err)
{
    if (m->keylog_path == NULL)
        return AVTB_OK;
    /* The old descriptor is not ours to close any more: the fork closed it. */
    m->keylog_fd =
        open(m->keylog_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
    if (m->keylog_fd < 0)
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot open the TLS key log %s",
                                m->keylog_path);
    return AVTB_OK;
}

SSL_CTX *avtb_mitm_ctx(avtb_mitm *m)
{
    return m->ctx;
}

avtb_err avtb_mitm_set_local_ip(SSL *ssl, const char *ip, avtb_error *err)
{
    unsigned char a[16];
    size_t n = 0;
    mitm_conn *c;

    if (ip != NULL && inet_pton(AF_INET, ip, a) == 1)
        n = 4;
    else if (ip != NULL && inet_pton(AF_INET6, ip, a) == 1)
        n = 16;
    if (n == 0)
        return avtb_error_set(err, AVTB_ERR_USAGE, "TLS interception: \"%s\" is not an IP address",
                              ip ? ip : "(null)");
    c = conn_get(ssl, true);
    if (c == NULL)
        return nomem(err);
    memcpy(c->ip, a, n);
    c->ip_len = n;
    return AVTB_OK;
}

avtb_err avtb_mitm_keylog_error(const avtb_mitm *m, avtb_error *err)
{
    if (m == NULL || m->keylog_lost == 0)
        return AVTB_OK;
    return avtb_error_errno(err, AVTB_ERR_IO, m->keylog_errno,
                            "TLS key log %s: %zu secret(s) not written, so some TLS sessions in "
                            "the capture cannot be decrypted; check the file system it is on",
                            m->keylog_path, m->keylog_lost);
}

/* Appends to a NUL-terminated buffer, cutting at its end. */
static void append(char *buf, size_t cap, const char *fmt, ...) AVTB_PRINTF(3, 4);
static void append(char *buf, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;

    if (len + 1 >= cap)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

/* "client sent fatal alert unknown CA (48)" */
static void append_alert(char *buf, size_t cap, const char *who, int alert)
{
    append(buf, cap, "%s%s sent %s alert %s (%d)", buf[0] ? "; " : "", who,
           (alert >> 8) == SSL3_AL_FATAL ? "fatal" : "warning", SSL_alert_desc_string_long(alert),
           alert & 0xff);
}

void avtb_mitm_describe(SSL *ssl, int handshake_rc, avtb_mitm_handshake *out)
{
    const mitm_conn *c = conn_get(ssl, false);
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    size_t cap = sizeof(out->failure);
    unsigned long e;

    memset(out, 0, sizeof(*out));
    if (sni != NULL)
        safe_copy((const unsigned char *)sni, strlen(sni), out->sni, sizeof(out->sni));
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn != NULL)
        safe_copy(alpn, alpn_len, out->alpn, sizeof(out->alpn));
    /* The version means nothing until the ServerHello, which also sets the cipher. */
    if (cipher != NULL) {
        snprintf(out->version, sizeof(out->version), "%s", SSL_get_version(ssl));
        snprintf(out->cipher, sizeof(out->cipher), "%s", SSL_CIPHER_get_name(cipher));
    }
    out->ok = handshake_rc == 1 && SSL_is_init_finished(ssl);
    if (out->ok)
        return;

    if (c != NULL && c->alert_read >= 0)
        append_alert(out->failure, cap, "client", c->alert_read);
    if (c != NULL && c->alert_written >= 0) {
        append_alert(out->failure, cap, "sink", c->alert_written);
        if (c->reason[0] != '\0')
            append(out->failure, cap, ": %s", c->reason);
    }
    if (out->failure[0] != '\0')
        return;
    /* No alert either way: the client hung up, or the caller ran the SSL itself. */
    e = ERR_peek_last_error();
    if (e != 0 && ERR_reason_error_string(e) != NULL)
        snprintf(out->failure, cap, "%s (at %s)", ERR_reason_error_string(e),
                 SSL_state_string_long(ssl));
    else
        snprintf(out->failure, cap, "handshake stopped without an alert at %s",
                 SSL_state_string_long(ssl));
}
