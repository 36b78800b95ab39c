/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS interception (collectors/tls-mitm.h): real OpenSSL clients shake hands
 * with the sink's context over memory BIO pairs. A client that trusts only
 * the run's CA verifies the minted leaf and its host name; the key log holds
 * the session's secrets; leaves are cached per name; a client that trusts
 * another CA (certificate pinning) fails and the server side says why.
 */
#include <check.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collectors/tls-mitm.h"
#include "common/util.h"

#define SNI  "upload.leaky-av.example"
#define SNI2 "telemetry.leaky-av.example"

static char tmpdir[PATH_MAX];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/avtb-test-mitm-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    avtb_error err = {0};

    ck_assert_int_eq(avtb_rm_rf(tmpdir, &err), AVTB_OK);
}

static char *tmp_path(const char *name)
{
    char *p = avtb_path_join(tmpdir, name);

    ck_assert_ptr_nonnull(p);
    return p;
}

static avtb_mitm *mitm_make(const char *run_id, const char *keylog, size_t max_leaves)
{
    avtb_mitm_config c = {.run_id = run_id, .keylog_path = keylog, .max_leaves = max_leaves};
    avtb_error err = {0};
    avtb_mitm *m = NULL;

    ck_assert_msg(avtb_mitm_new(&c, &m, &err) == AVTB_OK, "%s", err.msg);
    ck_assert_ptr_nonnull(m);
    return m;
}

static X509 *pem_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x;

    ck_assert_ptr_nonnull(b);
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    ck_assert_ptr_nonnull(x);
    return x;
}

/* A client that trusts only ca_pem (nothing from the system), or verifies nothing. */
static SSL_CTX *client_ctx(const char *ca_pem, int max_version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    ck_assert_ptr_nonnull(ctx);
    if (ca_pem != NULL) {
        X509 *ca = pem_cert(ca_pem);

        ck_assert_int_eq(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca), 1);
        X509_free(ca);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (max_version != 0)
        ck_assert_int_eq(SSL_CTX_set_max_proto_version(ctx, max_version), 1);
    return ctx;
}

/* One client and one server SSL joined by a BIO pair, both non-blocking. */
typedef struct conn {
    SSL *c, *s;
    int rc_c, rc_s;      /* last SSL_do_handshake result */
    int err_c, err_s;    /* SSL_get_error for it */
    bool done_c, done_s; /* finished or failed */
} conn;

static void conn_open(conn *k, SSL_CTX *cctx, avtb_mitm *m, const char *sni)
{
    BIO *bc = NULL, *bs = NULL;

    memset(k, 0, sizeof(*k));
    k->c = SSL_new(cctx);
    k->s = SSL_new(avtb_mitm_ctx(m));
    ck_assert_ptr_nonnull(k->c);
    ck_assert_ptr_nonnull(k->s);
    ck_assert_int_eq(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
    SSL_set_bio(k->c, bc, bc);
    SSL_set_bio(k->s, bs, bs);
    SSL_set_connect_state(k->c);
    SSL_set_accept_state(k->s);
    if (sni != NULL)
        ck_assert_int_eq(SSL_set_tlsext_host_name(k->c, sni), 1);
}

static void conn_close(conn *k)
{
    SSL_free(k->c);
    SSL_free(k->s);
}

static bool step(SSL *ssl, int *rc, int *e)
{
    *rc = SSL_do_handshake(ssl);
    *e = SSL_get_error(ssl, *rc);
    /* As libevent does: the error queue is drained before anyone describes. */
    ERR_clear_error();
    return *rc == 1 || (*e != SSL_ERROR_WANT_READ && *e != SSL_ERROR_WANT_WRITE);
}

/* Runs both sides until each has finished or failed (or nothing moves). */
static void pump(conn *k)
{
    for (int i = 0; i < 32 && !(k->done_c && k->done_s); i++) {
        if (!k->done_c)
            k->done_c = step(k->c, &k->rc_c, &k->err_c);
        if (!k->done_s)
            k->done_s = step(k->s, &k->rc_s, &k->err_s);
    }
}

static void assert_handshake_ok(conn *k)
{
    ck_assert_msg(k->rc_c == 1, "client handshake: rc %d error %d verify %ld", k->rc_c, k->err_c,
                  SSL_get_verify_result(k->c));
    ck_assert_msg(k->rc_s == 1, "server handshake: rc %d error %d", k->rc_s, k->err_s);
}

/* Sends buf from one side and reads it whole on the other. */
static void transfer(SSL *from, SSL *to, const char *buf)
{
    char got[256];
    int n;

    ck_assert_int_eq(SSL_write(from, buf, (int)strlen(buf)), (int)strlen(buf));
    n = SSL_read(to, got, sizeof(got) - 1);
    ck_assert_int_eq(n, (int)strlen(buf));
    got[n] = '\0';
    ck_assert_str_eq(got, buf);
}

/* The one subjectAltName entry of the server's certificate, as the client got it. */
static const GENERAL_NAME *only_san(X509 *leaf, GENERAL_NAMES **hold)
{
    *hold = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    ck_assert_ptr_nonnull(*hold);
    ck_assert_int_eq(sk_GENERAL_NAME_num(*hold), 1);
    return sk_GENERAL_NAME_value(*hold, 0);
}

/* The serial of the leaf a client got for sni (no verification). */
static ASN1_INTEGER *leaf_serial(avtb_mitm *m, const char *sni)
{
    SSL_CTX *cctx = client_ctx(NULL, 0);
    ASN1_INTEGER *serial;
    conn k;

    conn_open(&k, cctx, m, sni);
    pump(&k);
    assert_handshake_ok(&k);
    serial = ASN1_INTEGER_dup(X509_get0_serialNumber(SSL_get0_peer_certificate(k.c)));
    ck_assert_ptr_nonnull(serial);
    conn_close(&k);
    SSL_CTX_free(cctx);
    return serial;
}

static char *slurp(const char *path)
{
    avtb_error err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;

    ck_assert_msg(avtb_read_file(path, 1 << 20, &buf, &len, &err) == AVTB_OK, "%s", err.msg);
    return (char *)buf;
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/*
 * The key log line for label: "<label> <client random> <secret>", the
 * secret secret_hex hex digits long. Returns how many lines have the label.
 */
static int keylog_lines(const char *log, const char *label, const char *random_hex,
                        size_t secret_hex)
{
    char *copy = strdup(log), *save = NULL;
    int found = 0;

    ck_assert_ptr_nonnull(copy);
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char l[64], r[80], s[200];

        if (sscanf(line, "%63s %79s %199s", l, r, s) != 3 || strcmp(l, label) != 0)
            continue;
        ck_assert_str_eq(r, random_hex);
        ck_assert_uint_eq(strlen(s), secret_hex);
        ck_assert_uint_eq(strspn(s, "0123456789abcdef"), secret_hex);
        found++;
    }
    free(copy);
    return found;
}

/* ---- The CA ---- */

START_TEST(ca_is_a_self_signed_ca)
{
    avtb_mitm *m = mitm_make("reference-20261126T085910Z-8kdop9", NULL, 0);
    X509 *ca = pem_cert(avtb_mitm_ca_pem(m));
    BASIC_CONSTRAINTS *bc;
    int crit = -1, days = 0, secs = 0;
    char cn[128];

    ck_assert_int_eq(X509_check_ca(ca), 1);
    bc = X509_get_ext_d2i(ca, NID_basic_constraints, &crit, NULL);
    ck_assert_ptr_nonnull(bc);
    ck_assert(bc->ca);
    ck_assert_int_eq(crit, 1);
    BASIC_CONSTRAINTS_free(bc);
    ck_assert(X509_get_key_usage(ca) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    ck_assert_ptr_nonnull(X509_get0_subject_key_id(ca));
    ck_assert_int_eq(X509_check_issued(ca, ca), X509_V_OK);
    ck_assert_int_eq(X509_verify(ca, X509_get0_pubkey(ca)), 1);
    ck_assert_int_eq(EVP_PKEY_get_base_id(X509_get0_pubkey(ca)), EVP_PKEY_EC);
    ck_assert_int_eq(EVP_PKEY_get_bits(X509_get0_pubkey(ca)), 256);
    ck_assert_int_gt(
        X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName, cn, sizeof(cn)), 0);
    ck_assert_str_eq(cn, "avtb run reference-20261126T085910Z-8kdop9 interception CA");
    /* A day back for a guest clock behind the host's, then the default 7 days. */
    ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca), X509_get0_notAfter(ca)),
                     1);
    ck_assert_int_eq(days, 8);
    ck_assert_int_eq(secs, 0);
    ck_assert_int_le(X509_cmp_current_time(X509_get0_notBefore(ca)), 0);
    X509_free(ca);
    avtb_mitm_free(m);
}
END_TEST

START_TEST(ca_name_keeps_end_of_long_run_id)
{
    const char *id = "a-very-long-scenario-name-for-exfiltration-20261126T085910Z-8kdop9";
    avtb_mitm *m = mitm_make(id, NULL, 0);
    X509 *ca = pem_cert(avtb_mitm_ca_pem(m));
    char cn[128];

    ck_assert_int_gt(
        X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName, cn, sizeof(cn)), 0);
    ck_assert_uint_eq(strlen(cn), 64);
    ck_assert_str_eq(cn, "avtb run ...exfiltration-20261126T085910Z-8kdop9 interception CA");
    X509_free(ca);
    avtb_mitm_free(m);
}
END_TEST

START_TEST(write_ca_writes_the_pem)
{
    avtb_mitm *m = mitm_make("write-1", NULL, 0);
    char *path = tmp_path("avtb-ca.crt"), *text;
    avtb_error err = {0};
    struct stat st;
    mode_t old = umask(077);

    ck_assert_msg(avtb_mitm_write_ca(m, path, &err) == AVTB_OK, "%s", err.msg);
    umask(old);
    text = slurp(path);
    ck_assert_str_eq(text, avtb_mitm_ca_pem(m));
    ck_assert_ptr_nonnull(strstr(text, "-----BEGIN CERTIFICATE-----\n"));
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0644);
    free(text);
    free(path);
    avtb_mitm_free(m);
}
END_TEST

START_TEST(write_ca_reports_the_path)
{
    avtb_mitm *m = mitm_make("write-2", NULL, 0);
    char *path = tmp_path("missing/avtb-ca.crt");
    avtb_error err = {0};

    ck_assert_int_eq(avtb_mitm_write_ca(m, path, &err), AVTB_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing/avtb-ca.crt"));
    free(path);
    avtb_mitm_free(m);
}
END_TEST

START_TEST(bad_config_is_refused)
{
    avtb_mitm_config c = {.run_id = "cfg-1"};
    avtb_error err = {0};
    avtb_mitm *m = (avtb_mitm *)&c;
    char *nodir = tmp_path("missing/keys.log");

    ck_assert_int_eq(avtb_mitm_new(NULL, &m, &err), AVTB_ERR_USAGE);
    ck_assert_ptr_null(m);
    avtb_error_clear(&err);
    c.run_id = "";
    ck_assert_int_eq(avtb_mitm_new(&c, &m, &err), AVTB_ERR_USAGE);
    avtb_error_clear(&err);
    c.run_id = "tab\there";
    ck_assert_int_eq(avtb_mitm_new(&c, &m, &err), AVTB_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "0x09"));
    avtb_error_clear(&err);
    c.run_id = "cfg-1";
    c.validity_days = AVTB_MITM_VALIDITY_DAYS_MAX + 1;
    ck_assert_int_eq(avtb_mitm_new(&c, &m, &err), AVTB_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "826 days"));
    avtb_error_clear(&err);
    c.validity_days = 0;
    c.max_leaves = AVTB_MITM_MAX_LEAVES_MAX + 1;
    ck_assert_int_eq(avtb_mitm_new(&c, &m, &err), AVTB_ERR_USAGE);
    avtb_error_clear(&err);
    c.max_leaves = 0;
    c.keylog_path = nodir;
    ck_assert_int_eq(avtb_mitm_new(&c, &m, &err), AVTB_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing/keys.log"));
    ck_assert_ptr_null(m);
    avtb_mitm_free(NULL);
    free(nodir);
}
END_TEST

/* ---- Handshakes ---- */

START_TEST(client_trusting_the_ca_verifies_and_talks)
{
    avtb_mitm *m = mitm_make("hs-1", NULL, 0);
    SSL_CTX *cctx = client_ctx(avtb_mitm_ca_pem(m), 0);
    static const unsigned char alpn[] = "\x02h2\x08http/1.1";
    const GENERAL_NAME *san;
    GENERAL_NAMES *sans;
    avtb_mitm_handshake hs;
    X509 *leaf, *ca = pem_cert(avtb_mitm_ca_pem(m));
    BIGNUM *serial;
    conn k;

    conn_open(&k, cctx, m, SNI);
    ck_assert_int_eq(SSL_set1_host(k.c, SNI), 1);
    ck_assert_int_eq(SSL_set_alpn_protos(k.c, alpn, sizeof(alpn) - 1), 0);
    pump(&k);
    assert_handshake_ok(&k);
    ck_assert_int_eq(SSL_get_verify_result(k.c), X509_V_OK);
    ck_assert_str_eq(SSL_get0_peername(k.c), SNI);

    leaf = SSL_get0_peer_certificate(k.c);
    ck_assert_ptr_nonnull(leaf);
    san = only_san(leaf, &sans);
    ck_assert_int_eq(san->type, GEN_DNS);
    ck_assert_str_eq((const char *)ASN1_STRING_get0_data(san->d.dNSName), SNI);
    GENERAL_NAMES_free(sans);
    ck_assert_int_eq(X509_check_issued(ca, leaf), X509_V_OK);
    ck_assert_int_eq(X509_check_ca(leaf), 0);
    ck_assert(X509_get_extended_key_usage(leaf) == XKU_SSL_SERVER);
    ck_assert_int_eq(EVP_PKEY_get_base_id(X509_get0_pubkey(leaf)), EVP_PKEY_EC);
    serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
    ck_assert_ptr_nonnull(serial);
    ck_assert(!BN_is_negative(serial));
    ck_assert_int_gt(BN_num_bits(serial), 64); /* 128 random bits: fewer than 65 is 2^-64 */
    ck_assert_int_le(BN_num_bits(serial), 128);
    BN_free(serial);
    ck_assert_int_le(X509_cmp_current_time(X509_get0_notBefore(leaf)), 0);

    transfer(k.c, k.s, "POST /v1/samples HTTP/1.1\r\nHost: " SNI "\r\n\r\n");
    transfer(k.s, k.c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");

    avtb_mitm_describe(k.s, k.rc_s, &hs);
    ck_assert(hs.ok);
    ck_assert_str_eq(hs.sni, SNI);
    ck_assert_str_eq(hs.alpn, "http/1.1");
    ck_assert_str_eq(hs.version, "TLSv1.3");
    ck_assert_str_eq(hs.cipher, SSL_get_cipher_name(k.c));
    ck_assert_str_eq(hs.failure, "");
    conn_close(&k);
    X509_free(ca);
    SSL_CTX_free(cctx);
    avtb_mitm_free(m);
}
END_TEST

/* The host name check is live: a leaf for one name does not pass for another. */
START_TEST(client_checking_another_host_fails)
{
    avtb_mitm *m = mitm_make("hs-2", NULL, 0);
    SSL_CTX *cctx = client_ctx(avtb_mitm_ca_pem(m), 0);
    conn k;

    conn_open(&k, cctx, m, SNI);
    ck_assert_int_eq(SSL_set1_host(k.c, SNI2), 1);
    pump(&k);
    ck_assert_int_ne(k.rc_c, 1);
    ck_assert_int_eq(SSL_get_verify_result(k.c), X509_V_ERR_HOSTNAME_MISMATCH);
    conn_close(&k);
    SSL_CTX_free(cctx);
    avtb_mitm_free(m);
}
END_TEST

START_TEST(h2_only_client_gets_no_alpn)
{
    avtb_mitm *m = mitm_make("hs-3", NULL, 0);
    SSL_CTX *cctx = client_ctx(avtb_mitm_ca_pem(m), 0);
    static const unsigned char alpn[] = "\x02h2";
    const unsigned char *got = NULL;
    unsigned int len = 1;
    avtb_mitm_handshake hs;
    conn k;

    conn_open(&k, cctx, m, SNI);
    ck_assert_int_eq(SSL_set_alpn_protos(k.c, alpn, sizeof(alpn) - 1), 0);
    pump(&k);
    assert_handshake_ok(&k);
    SSL_get0_alpn_selected(k.c, &got, &len);
    ck_assert_uint_eq(len, 0);
    avtb_mitm_describe(k.s, k.rc_s, &hs);
    ck_assert(hs.ok);
    ck_assert_str_eq(hs.alpn, "");
    conn_close(&k);
    SSL_CTX_free(cctx);
    avtb_mitm_free(m);
}
END_TEST

START_TEST(no_sni_gets_the_local_ip)
{
    avtb_mitm *m = mitm_make("hs-4", NULL, 0);
    SSL_CTX *cctx = client_ctx(avtb_mitm_ca_pem(m), 0);
    static const unsigned char ip[] = {10, 66, 0, 1};
    const GENERAL_NAME *san;
    GENERAL_NAMES *sans;
    avtb_mitm_handshake hs;
    avtb_error err = {0};
    conn k;

    conn_open(&k, cctx, m, NULL);
    ck_assert_int_eq(avtb_mitm_set_local_ip(k.s, "not-an-ip", &err), AVTB_ERR_USAGE);
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_mitm_set_local_ip(k.s, "10.66.0.1", &err), AVTB_OK);
    ck_assert_int_eq(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(k.c), "10.66.0.1"), 1);
    pump(&k);
    assert_handshake_ok(&k);
    san = only_san(SSL_get0_peer_certificate(k.c), &sans);
    ck_assert_int_eq(san->type, GEN_IPADD);
    ck_assert_int_eq(ASN1_STRING_length(san->d.iPAddress), 4);
    ck_assert_mem_eq(ASN1_STRING_get0_data(san->d.iPAddress), ip, 4);
    GENERAL_NAMES_free(sans);
    avtb_mitm_describe(k.s, k.rc_s, &hs);
    ck_assert(hs.ok);
    ck_assert_str_eq(hs.sni, "");
    conn_close(&k);
    SSL_CTX_free(cctx);
    avtb_mitm_free(m);
}
END_TEST

START_TEST(ip_literal_sni_gets_an_ip_san)
{
    avtb_mitm *m = mitm_make("hs-5", NULL, 0);
    SSL_CTX *cctx = client_ctx(avtb_mitm_ca_pem(m), 0);
    const GENERAL_NAME *san;
    GENERAL_NAMES *sans;
    conn k;

    conn_open(&k, cctx, m, "fd00::53");
    ck_assert_int_eq(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(k.c), "fd00::53"), 1);
    pump(&k);
    assert_handshake_ok(&k);
    san = only_san(SSL_get0_peer_certificate(k.c), &sans);
    ck_assert_int_eq(san->type, GEN_IPADD);
    ck_assert_int_eq(ASN1_STRING_length(san->d.iPAddress), 16);
    GENERAL_NAMES_free(sans);
    conn_close(&k);
    SSL_CTX_free(cctx);
    avtb_mitm_free(m);
}
END_TEST

/* A client that verifies nothing is intercepted whatever it sends: no SNI, odd SNI. */
START_TEST(unverifying_client_without_usable_name)
{
    avtb_mitm *m = mitm_make("hs-6", NULL, 0);
    SSL_CTX *cctx = client_ctx(NULL, 0);
    const char *names[] = {NULL, "bad name\x01\xff.example"};
    const char *shown[] = {"", "bad name%01%FF.example"};

    for (size_t i = 0; i < 2; i++) {
        avtb_mitm_handshake hs;
        X509 *leaf;
        conn k;

        conn_open(&k, cctx, m, names[i]);
        pump(&k);
        assert_handshake_ok(&k);
        leaf = SSL_get0_peer_certificate(k.c);
        ck_assert_ptr_null(X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL));
        ck_assert(X509_get_extended_key_usage(leaf) == XKU_SSL_SERVER);
        transfer(k.c, k.s, "GET / HTTP/1.1\r\n\r\n");
        avtb_mitm_describe(k.s, k.rc_s, &hs);
        ck_assert(hs.ok);
        ck_assert_str_eq(hs.sni, shown[i]);
        conn_close(&k);
    }
    SSL_CTX_free(cctx);
    avtb_mitm_free(m);
}
END_TEST

/* ---- The key log ---- */

START_TEST(keylog_has_tls13_secrets)
{
    static const char *const labels[] = {
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"};
    char *path = tmp_path("sslkeys.log"), *log, random_hex[65];
    unsigned char random[32];
    size_t secret_hex;
    int lines = 0;
    avtb_mitm *m;
    SSL_CTX *cctx;
    avtb_error err = {0};
    struct stat st;
    conn k;

    /* Appended to, not truncated. */
    ck_assert_int_eq(avtb_write_file(path, "# earlier\n", 10, 0600, &err), AVTB_OK);
    m = mitm_make("keys-1", path, 0);
    cctx = client_ctx(avtb_mitm_ca_pem(m), 0);
    conn_open(&k, cctx, m, SNI);
    pump(&k);
    assert_handshake_ok(&k);
    ck_assert_str_eq(SSL_get_version(k.c), "TLSv1.3");
    ck_assert_uint_eq(SSL_get_client_random(k.c, random, sizeof(random)), 32);
    hex(random, 32, random_hex);

    /* Written as made: readable before the mitm is freed. */
    log = slurp(path);
    ck_assert_msg(strncmp(log, "# earlier\n", 10) == 0, "%s", log);
    /* Secrets are as long as the suite's hash: 48 bytes for TLS_AES_256_GCM_SHA384. */
    secret_hex =
        2 * (size_t)EVP_MD_get_size(SSL_CIPHER_get_handshake_digest(SSL_get_current_cipher(k.c)));
    ck_assert_uint_ge(secret_hex, 64);
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
        ck_assert_msg(keylog_lines(log, labels[i], random_hex, secret_hex) == 1, "%s in\n%s",
                      labels[i], log);
    /* Nothing but the five secrets after the earlier content. */
    for (const char *p = log; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    ck_assert_int_eq(lines, 1 + 5);
    ck_assert_int_eq(log[strlen(log) - 1], '\n');
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(avtb_mitm_keylog_error(m, &err), AVTB_OK);
    free(log);
    conn_close(&k);
    SSL_CTX_free(cctx);
    avtb_mitm_free(m);
    free(path);
}
END_TEST

START_TEST(keylog_has_tls12_client_random)
{
    char *path = tmp_path("sslkeys.log"), *log, random_hex[65];
    unsigned char random[32];
    avtb_mitm *m = mitm_make("keys-2", path, 0);
    SSL_CTX *cctx = client_ctx(avtb_mitm_ca_pem(m), TLS1_2_VERSION);
    avtb_mitm_handshake hs;
    conn k;

    conn_open(&k, cctx, m, SNI);
    ck_assert_int_eq(SSL_set1_host(k.c, SNI), 1);
    pump(&k);
    assert_handshake_ok(&k);
    ck_assert_uint_eq(SSL_get_client_random(k.c, random, sizeof(random)), 32);
    hex(random, 32, random_hex);
    transfer(k.c, k.s, "PUT /quarantine/1 HTTP/1.1\r\n\r\n");
    log = slurp(path);
    /* The 48-byte master secret, and only that line. */
    ck_assert_int_eq(keylog_lines(log, "CLIENT_RANDOM", random_hex, 96), 1);
    ck_assert_ptr_null(strstr(log, "TRAFFIC_SECRET"));
    avtb_mitm_describe(k.s, k.rc_s, &hs);
    ck_assert(hs.ok);
    ck_assert_str_eq(hs.version, "TLSv1.2");
    ck_assert_str_eq(hs.cipher, SSL_get_cipher_name(k.c));
    free(log);
    conn_close(&k);
    SSL_CTX_free(cctx);
    avtb_mitm_free(m);
    free(path);
}
END_TEST

START_TEST(keylog_write_error_is_reported)
{
    avtb_mitm *m;
    SSL_CTX *cctx;
    avtb_error err = {0};
    conn k;

    if (access("/dev/full", W_OK) != 0)
        return; /* nothing to fail writes with here */
    m = mitm_make("keys-3", "/dev/full", 0);
    cctx = client_ctx(avtb_mitm_ca_pem(m), 0);
    conn_open(&k, cctx, m, SNI);
    pump(&k);
    /* Interception goes on; the lost secrets are reported. */
    assert_handshake_ok(&k);
    ck_assert_int_eq(avtb_mitm_keylog_error(m, &err), AVTB_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/dev/full"));
    ck_assert_ptr_nonnull(strstr(err.msg, "5 secret(s) not written"));
    ck_assert_ptr_nonnull(strstr(err.msg, "No space left on device"));
    conn_close(&k);
    SSL_CTX_free(cctx);
    avtb_mitm_free(m);
}
END_TEST

/* ---- The leaf cache ---- */

START_TEST(same_name_reuses_the_leaf)
{
    avtb_mitm *m = mitm_make("cache-1", NULL, 0);
    ASN1_INTEGER *a = leaf_serial(m, SNI), *b = leaf_serial(m, SNI);
    ASN1_INTEGER *upper = leaf_serial(m, "UPLOAD.Leaky-AV.example"), *other = leaf_serial(m, SNI2);

    ck_assert_int_eq(ASN1_INTEGER_cmp(a, b), 0);
    ck_assert_int_eq(ASN1_INTEGER_cmp(a, upper), 0); /* DNS names ignore case */
    ck_assert_int_ne(ASN1_INTEGER_cmp(a, other), 0);
    ASN1_INTEGER_free(a);
    ASN1_INTEGER_free(b);
    ASN1_INTEGER_free(upper);
    ASN1_INTEGER_free(other);
    avtb_mitm_free(m);
}
END_TEST

/* With room for two, the least recently used goes, not the oldest minted. */
START_TEST(cache_evicts_least_recently_used)
{
    avtb_mitm *m = mitm_make("cache-2", NULL, 2);
    ASN1_INTEGER *a1 = leaf_serial(m, "a.example"), *b1 = leaf_serial(m, "b.example");
    ASN1_INTEGER *a2 = leaf_serial(m, "a.example"), *c1 = leaf_serial(m, "c.example");
    ASN1_INTEGER *a3 = leaf_serial(m, "a.example"), *b2 = leaf_serial(m, "b.example");

    ck_assert_int_eq(ASN1_INTEGER_cmp(a1, a2), 0);
    ck_assert_int_eq(ASN1_INTEGER_cmp(a1, a3), 0); /* used just before c came */
    ck_assert_int_ne(ASN1_INTEGER_cmp(b1, b2), 0); /* evicted by c, minted anew */
    ck_assert_int_ne(ASN1_INTEGER_cmp(c1, b2), 0);
    ASN1_INTEGER_free(a1);
    ASN1_INTEGER_free(b1);
    ASN1_INTEGER_free(a2);
    ASN1_INTEGER_free(c1);
    ASN1_INTEGER_free(a3);
    ASN1_INTEGER_free(b2);
    avtb_mitm_free(m);
}
END_TEST

/* ---- Failures as evidence ---- */

/* A client that pins (trusts another CA) refuses the leaf; the sink says so. */
START_TEST(pinning_client_is_recorded)
{
    avtb_mitm *m = mitm_make("pin-1", NULL, 0), *other = mitm_make("pin-other", NULL, 0);
    SSL_CTX *cctx = client_ctx(avtb_mitm_ca_pem(other), 0);
    avtb_mitm_handshake hs;
    conn k;

    conn_open(&k, cctx, m, SNI);
    ck_assert_int_eq(SSL_set1_host(k.c, SNI), 1);
    pump(&k);
    ck_assert_int_ne(k.rc_c, 1);
    ck_assert_int_eq(SSL_get_verify_result(k.c), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    ck_assert_int_ne(k.rc_s, 1);
    ck_assert_int_eq(k.err_s, SSL_ERROR_SSL);
    /* The error queue is gone (libevent drains it): the record does not need it. */
    ck_assert_uint_eq(ERR_peek_error(), 0);
    avtb_mitm_describe(k.s, k.rc_s, &hs);
    ck_assert(!hs.ok);
    ck_assert_str_eq(hs.sni, SNI);
    ck_assert_str_eq(hs.version, "TLSv1.3");
    ck_assert_str_eq(hs.failure, "client sent fatal alert unknown CA (48)");
    conn_close(&k);
    SSL_CTX_free(cctx);
    avtb_mitm_free(other);
    avtb_mitm_free(m);
}
END_TEST

/* A client the sink cannot serve (RSA-only TLS 1.2 suites): our alert and its reason. */
START_TEST(no_shared_cipher_is_recorded)
{
    avtb_mitm *m = mitm_make("pin-2", NULL, 0);
    SSL_CTX *cctx = client_ctx(avtb_mitm_ca_pem(m), TLS1_2_VERSION);
    avtb_mitm_handshake hs;
    conn k;

    ck_assert_int_eq(SSL_CTX_set_cipher_list(cctx, "ECDHE-RSA-AES128-GCM-SHA256"), 1);
    conn_open(&k, cctx, m, SNI);
    pump(&k);
    ck_assert_int_ne(k.rc_c, 1);
    ck_assert_int_ne(k.rc_s, 1);
    avtb_mitm_describe(k.s, k.rc_s, &hs);
    ck_assert(!hs.ok);
    ck_assert_str_eq(hs.sni, SNI);
    ck_assert_str_eq(hs.failure, "sink sent fatal alert handshake failure (40): no shared cipher");
    conn_close(&k);
    SSL_CTX_free(cctx);
    avtb_mitm_free(m);
}
END_TEST

/* Server SSL reading from a memory BIO that holds nothing: closed, or just quiet. */
static void server_alone(avtb_mitm *m, bool closed, avtb_mitm_handshake *hs)
{
    SSL *s = SSL_new(avtb_mitm_ctx(m));
    BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
    int rc;

    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(rbio);
    ck_assert_ptr_nonnull(wbio);
    if (closed)
        BIO_set_mem_eof_return(rbio, 0);
    SSL_set_bio(s, rbio, wbio);
    SSL_set_accept_state(s);
    rc = SSL_do_handshake(s);
    ck_assert_int_ne(rc, 1);
    ck_assert_int_eq(SSL_get_error(s, rc), closed ? SSL_ERROR_SSL : SSL_ERROR_WANT_READ);
    ERR_clear_error();
    avtb_mitm_describe(s, rc, hs);
    SSL_free(s);
}

/* A client that hangs up, or says nothing until the sink gives up on it. */
START_TEST(hangup_and_silence_are_recorded)
{
    avtb_mitm *m = mitm_make("pin-3", NULL, 0);
    avtb_mitm_handshake hs;

    server_alone(m, true, &hs);
    ck_assert(!hs.ok);
    ck_assert_str_eq(hs.sni, "");
    ck_assert_str_eq(hs.version, "");
    ck_assert_str_eq(hs.failure, "sink sent fatal alert decode error (50): unexpected eof while "
                                 "reading");
    server_alone(m, false, &hs);
    ck_assert(!hs.ok);
    ck_assert_str_eq(hs.failure, "handshake stopped without an alert at before SSL "
                                 "initialization");
    avtb_mitm_free(m);
}
END_TEST

/* An SSL outliving its mitm stays safe: its handshake fails with a reason. */
START_TEST(ssl_outliving_the_mitm_fails_cleanly)
{
    avtb_mitm *m = mitm_make("late-1", NULL, 0);
    SSL_CTX *cctx = client_ctx(NULL, 0);
    avtb_mitm_handshake hs;
    conn k;

    conn_open(&k, cctx, m, SNI);
    avtb_mitm_free(m);
    pump(&k);
    ck_assert_int_ne(k.rc_s, 1);
    avtb_mitm_describe(k.s, k.rc_s, &hs);
    ck_assert(!hs.ok);
    ck_assert_str_eq(hs.failure, "sink sent fatal alert internal error (80): the interception "
                                 "CA was freed before this handshake");
    conn_close(&k);
    SSL_CTX_free(cctx);
}
END_TEST

static Suite *tls_mitm_suite(void)
{
    Suite *s = suite_create("tls_mitm");
    TCase *tc = tcase_create("ca");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ca_is_a_self_signed_ca);
    tcase_add_test(tc, ca_name_keeps_end_of_long_run_id);
    tcase_add_test(tc, write_ca_writes_the_pem);
    tcase_add_test(tc, write_ca_reports_the_path);
    tcase_add_test(tc, bad_config_is_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("handshake");
    tcase_add_test(tc, client_trusting_the_ca_verifies_and_talks);
    tcase_add_test(tc, client_checking_another_host_fails);
    tcase_add_test(tc, h2_only_client_gets_no_alpn);
    tcase_add_test(tc, no_sni_gets_the_local_ip);
    tcase_add_test(tc, ip_literal_sni_gets_an_ip_san);
    tcase_add_test(tc, unverifying_client_without_usable_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("keylog");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, keylog_has_tls13_secrets);
    tcase_add_test(tc, keylog_has_tls12_client_random);
    tcase_add_test(tc, keylog_write_error_is_reported);
    suite_add_tcase(s, tc);

    tc = tcase_create("cache");
    tcase_add_test(tc, same_name_reuses_the_leaf);
    tcase_add_test(tc, cache_evicts_least_recently_used);
    suite_add_tcase(s, tc);

    tc = tcase_create("failure");
    tcase_add_test(tc, pinning_client_is_recorded);
    tcase_add_test(tc, no_shared_cipher_is_recorded);
    tcase_add_test(tc, hangup_and_silence_are_recorded);
    tcase_add_test(tc, ssl_outliving_the_mitm_fails_cleanly);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tls_mitm_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
