/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture-net: the network client of avtb's fixture products, inside the
 * guest. The reference guest has only busybox, whose wget cannot do HTTPS, so
 * build-image links this statically against Debian's libssl.a and installs it
 * as /usr/bin/fixture-net. It makes the traffic the issue-4 fixtures need:
 * HTTP(S) requests with certificate verification and SPKI pinning, raw TCP and
 * UDP sends, DNS queries to a resolver of its choosing, and a static IPv6
 * neighbour entry (busybox `ip neigh` cannot add one).
 *
 * One command per process: every failure prints one line on stderr and exits
 * at once (die), since the process's end releases everything; --timeout bounds
 * the whole command with alarm(2), so no stage can hang a product's script.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define FN_DEFAULT_TIMEOUT 15
#define FN_MAX_TIMEOUT     3600
#define FN_MAX_BODY        (64u << 20) /* request and response bodies held in memory */
#define FN_MAX_HEADERS     32
#define FN_MAX_PINS        8
#define FN_MAX_DATAGRAM    65507 /* UDP payload over IPv4 */
#define FN_DEFAULT_CAFILE  "/etc/ssl/certs/ca-certificates.crt"
#define FN_USER_AGENT      "fixture-net/1"

enum {
    FN_EXIT_OK = 0,
    FN_EXIT_FAIL = 1, /* resolution, connection, I/O, protocol, timeout, DNS error */
    FN_EXIT_USAGE = 2,
    FN_EXIT_UNTRUSTED = 3, /* the server's certificate chain or name did not verify */
    FN_EXIT_PIN = 4,       /* the chain verified, the leaf's key is not pinned */
    FN_EXIT_HTTP = 5,      /* --fail and an HTTP status >= 400 */
};

static const char usage_text[] =
    "usage: fixture-net COMMAND [OPTIONS] ARGS\n"
    "\n"
    "  http [OPTIONS] URL          HTTP/1.1 request (http:// or https://); body to stdout\n"
    "    -X, --method METHOD       default GET, or POST when a body is given\n"
    "    -d, --data STRING         request body\n"
    "        --data-file FILE      request body from FILE (- for stdin)\n"
    "    -H, --header 'Name: value'  extra request header (repeatable)\n"
    "        --cafile FILE         trust store, default " FN_DEFAULT_CAFILE "\n"
    "        --pin-sha256 BASE64   accept only a leaf whose SubjectPublicKeyInfo has this\n"
    "                              SHA-256 (HPKP form; sha256//BASE64 too; repeatable)\n"
    "    -k, --insecure            do not verify the chain or name (pins still apply)\n"
    "    -o, --output FILE         body to FILE instead of stdout\n"
    "    -i, --include             print the response status line and headers first\n"
    "    -f, --fail                exit 5 when the status is 400 or more\n"
    "  tcp [OPTIONS] HOST:PORT     connect, send the data, optionally print a reply\n"
    "  udp [OPTIONS] HOST:PORT     send the data as one datagram, optionally print a reply\n"
    "    -d, --data STRING | --data-file FILE   what to send (default nothing)\n"
    "    -w, --wait SECONDS        wait up to SECONDS for a reply (default 0: none)\n"
    "  dns [OPTIONS] SERVER[:PORT] NAME   ask SERVER (not /etc/resolv.conf) about NAME\n"
    "    -t, --type A|AAAA|TXT|MX|NS|ANY  default A\n"
    "        --tcp                 over TCP (default UDP)\n"
    "  neigh IFACE ADDRESS MAC     add a permanent neighbour entry (IPv4 or IPv6)\n"
    "\n"
    "Common options:\n"
    "    -T, --timeout SECONDS     bound on the whole command (default 15)\n"
    "    -v, --verbose             say what happened, on stderr\n"
    "        --resolve HOST:PORT:ADDRESS  connect to ADDRESS for HOST:PORT, no lookup\n"
    "HOST is a name, an IPv4 address or [IPv6]. Exit status: 0 ok, 1 failed,\n"
    "2 usage, 3 certificate not trusted, 4 pin mismatch, 5 HTTP status >= 400 with\n"
    "--fail; a failure prints one line on stderr.\n";

/* What the command is doing, for the timeout message (set before each stage). */
static const char *volatile stage = "starting";
static char target[512];
static char timeout_text[16];
static bool verbose;
/* --resolve HOST:PORT:ADDRESS, as curl's: connect there, name the host. */
static char resolve_host[256], resolve_port[8], resolve_addr[INET6_ADDRSTRLEN];

static void die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

static void die(int code, const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "fixture-net: %s: ", target[0] ? target : "error");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
    va_list ap;

    if (!verbose)
        return;
    fprintf(stderr, "fixture-net: %s: ", target);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void write_str(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r; /* nothing to do about a failed write in a signal handler */
}

static void on_alarm(int sig)
{
    (void)sig;
    write_str("fixture-net: ");
    write_str(target);
    write_str(": timed out after ");
    write_str(timeout_text);
    write_str(" s (");
    write_str(stage);
    write_str(")\n");
    _exit(FN_EXIT_FAIL);
}

static void arm_timeout(unsigned seconds)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    snprintf(timeout_text, sizeof(timeout_text), "%u", seconds);
    alarm(seconds);
}

static unsigned parse_seconds(const char *s, const char *what, unsigned min)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > FN_MAX_TIMEOUT)
        die(FN_EXIT_USAGE, "%s must be a whole number of seconds, %u to %u, not '%s'", what, min,
            FN_MAX_TIMEOUT, s);
    return (unsigned)v;
}

/* ---- byte buffers ------------------------------------------------------ */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static void buf_reserve(buf *b, size_t more)
{
    size_t cap = b->cap ? b->cap : 4096;

    if (more > FN_MAX_BODY || b->len > FN_MAX_BODY - more)
        die(FN_EXIT_FAIL, "more than %u MiB of data", FN_MAX_BODY >> 20);
    while (cap < b->len + more)
        cap *= 2;
    if (cap != b->cap) {
        uint8_t *p = realloc(b->p, cap + 1); /* +1: room for a terminating NUL */
        if (p == NULL)
            die(FN_EXIT_FAIL, "out of memory");
        b->p = p;
        b->cap = cap;
    }
}

static void buf_add(buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        die(FN_EXIT_FAIL, "cannot format a request line");
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Reads all of path ("-" = stdin) into b. */
static void read_file(const char *path, buf *b)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    uint8_t chunk[16384];
    size_t n;

    if (f == NULL)
        die(FN_EXIT_USAGE, "cannot open %s: %s", path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_add(b, chunk, n);
    if (ferror(f))
        die(FN_EXIT_FAIL, "cannot read %s: %s", path, strerror(errno));
    if (f != stdin)
        fclose(f);
}

static void write_out(FILE *f, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, f) != n)
        die(FN_EXIT_FAIL, "cannot write the output: %s", strerror(errno));
}

/* ---- addresses and sockets --------------------------------------------- */

/* "name:port", "1.2.3.4:port" or "[v6]:port" into host and port. */
static void split_hostport(const char *s, char *host, size_t hostsz, char *port, size_t portsz,
                           const char *default_port)
{
    const char *colon, *h = s;
    size_t hlen;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':'))
            die(FN_EXIT_USAGE, "'%s': write an IPv6 address as [ADDRESS]:PORT", s);
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':'))
            die(FN_EXIT_USAGE, "'%s': write an IPv6 address as [ADDRESS]:PORT", s);
        hlen = colon ? (size_t)(colon - s) : strlen(s);
    }
    if (hlen == 0 || hlen >= hostsz)
        die(FN_EXIT_USAGE, "'%s': bad host", s);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (colon == NULL && default_port == NULL)
        die(FN_EXIT_USAGE, "'%s': a port is required (HOST:PORT)", s);
    snprintf(port, portsz, "%s", colon ? colon + 1 : default_port);
    {
        char *end;
        long v = strtol(port, &end, 10);
        if (port[0] == '\0' || *end || v < 1 || v > 65535)
            die(FN_EXIT_USAGE, "'%s': bad port '%s'", s, port);
    }
}

static bool is_ip_literal(const char *host)
{
    unsigned char a[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

static void addr_text(const struct sockaddr *sa, char *out, size_t outsz)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
        snprintf(out, outsz, "%s:%u", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
        snprintf(out, outsz, "[%s]:%u", ip, port);
    } else {
        snprintf(out, outsz, "?");
    }
}

/*
 * A socket of type socktype connected to host:port, trying each address in
 * turn. For UDP, connect only fixes the peer (and lets ICMP errors show).
 */
static int connect_to(const char *host, const char *port, int socktype)
{
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, r, last_errno = 0;
    char where[INET6_ADDRSTRLEN + 8], local[INET6_ADDRSTRLEN + 8];

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    stage = "resolving the host name";
    if (resolve_addr[0] && !strcasecmp(host, resolve_host) && !strcmp(port, resolve_port)) {
        hints.ai_flags = AI_NUMERICHOST;
        host = resolve_addr;
    }
    r = getaddrinfo(host, port, &hints, &res);
    if (r != 0)
        die(FN_EXIT_FAIL, "cannot resolve %s: %s", host,
            r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
    stage = "connecting";
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);

            addr_text(ai->ai_addr, where, sizeof(where));
            if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
                addr_text((struct sockaddr *)&ss, local, sizeof(local));
            else
                snprintf(local, sizeof(local), "?");
            say("%s %s from %s", socktype == SOCK_STREAM ? "connected to" : "sending to", where,
                local);
            freeaddrinfo(res);
            return fd;
        }
        last_errno = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    die(FN_EXIT_FAIL, "cannot connect to %s port %s: %s", host, port,
        last_errno ? strerror(last_errno) : "no address");
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            die(FN_EXIT_FAIL, "send: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

static void set_resolve(const char *s)
{
    const char *c1 = strchr(s, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    const char *a = c2 ? c2 + 1 : "";
    size_t alen = strlen(a);
    unsigned char bin[sizeof(struct in6_addr)];

    if (a[0] == '[' && alen > 2 && a[alen - 1] == ']') {
        a++;
        alen -= 2;
    }
    if (c2 == NULL || c1 == s || (size_t)(c1 - s) >= sizeof(resolve_host) ||
        (size_t)(c2 - c1 - 1) >= sizeof(resolve_port) || alen >= sizeof(resolve_addr))
        die(FN_EXIT_USAGE, "--resolve wants HOST:PORT:ADDRESS, not '%s'", s);
    memcpy(resolve_host, s, (size_t)(c1 - s));
    memcpy(resolve_port, c1 + 1, (size_t)(c2 - c1 - 1));
    memcpy(resolve_addr, a, alen);
    if (inet_pton(AF_INET, resolve_addr, bin) != 1 && inet_pton(AF_INET6, resolve_addr, bin) != 1)
        die(FN_EXIT_USAGE, "--resolve: '%s' is not an IP address", resolve_addr);
}

/* Waits until fd is readable or ms pass; true when readable. */
static bool wait_readable(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r;

    do
        r = poll(&pfd, 1, ms);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        die(FN_EXIT_FAIL, "poll: %s", strerror(errno));
    return r > 0;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- HTTP(S) ------------------------------------------------------------ */

typedef struct url {
    bool tls;
    char host[256]; /* without brackets */
    char port[8];
    char authority[300]; /* the Host header: as written in the URL */
    const char *path;    /* from the first '/' or '?', fragment cut; "/" if none */
} url;

static void parse_url(char *s, url *u)
{
    char *auth, *end;
    size_t alen;

    memset(u, 0, sizeof(*u));
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            die(FN_EXIT_USAGE, "the URL has a space or control character; percent-encode it");
    if (strncasecmp(s, "https://", 8) == 0) {
        u->tls = true;
        auth = s + 8;
    } else if (strncasecmp(s, "http://", 7) == 0) {
        auth = s + 7;
    } else {
        die(FN_EXIT_USAGE, "only http:// and https:// URLs are supported");
    }
    end = auth + strcspn(auth, "/?#");
    alen = (size_t)(end - auth);
    if (alen == 0 || alen >= sizeof(u->authority))
        die(FN_EXIT_USAGE, "the URL has no host or a host too long");
    memcpy(u->authority, auth, alen);
    if (memchr(u->authority, '@', alen))
        die(FN_EXIT_USAGE, "user names in URLs are not supported");
    split_hostport(u->authority, u->host, sizeof(u->host), u->port, sizeof(u->port),
                   u->tls ? "443" : "80");
    s[strcspn(s, "#")] = '\0';
    if (*end == '/') {
        u->path = end;
    } else {
        /* "http://host?q" asks for "/?q": the path may not be empty. */
        static char rooted[8192];
        if (strlen(end) + 2 > sizeof(rooted))
            die(FN_EXIT_USAGE, "the URL is too long");
        snprintf(rooted, sizeof(rooted), "/%s", end);
        u->path = rooted;
    }
}

typedef struct tls_state {
    const char *pins[FN_MAX_PINS];
    size_t npins;
    bool insecure;
    bool pin_mismatch;
    char leaf_pin[64]; /* base64 SHA-256 of the leaf's SPKI, once seen */
} tls_state;

static int tls_state_idx = -1;

static bool spki_sha256(X509 *cert, char out[64])
{
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    bool ok = n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1;

    OPENSSL_free(der);
    if (ok)
        EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
    return ok;
}

/*
 * The pin is checked here, not after the handshake, so that a mismatch makes
 * OpenSSL abort the handshake with a fatal alert (bad_certificate for
 * X509_V_ERR_CERT_REJECTED), as a pinning product does: the server sees the
 * client refuse its certificate.
 */
static int verify_cb(int preverify_ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    tls_state *st = ssl ? SSL_get_ex_data(ssl, tls_state_idx) : NULL;
    X509 *cert = X509_STORE_CTX_get_current_cert(xs);

    if (st == NULL)
        return 0;
    if (!preverify_ok && !st->insecure)
        return 0;
    if (X509_STORE_CTX_get_error_depth(xs) != 0 || cert == NULL)
        return 1;
    if (!spki_sha256(cert, st->leaf_pin)) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    if (st->npins == 0)
        return 1;
    for (size_t i = 0; i < st->npins; i++)
        if (strcmp(st->pins[i], st->leaf_pin) == 0)
            return 1;
    st->pin_mismatch = true;
    X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
    return 0;
}

/* "sha256//BASE64" or "BASE64": the 44-character base64 of 32 bytes. */
static const char *check_pin(const char *s)
{
    unsigned char raw[48];

    if (strncmp(s, "sha256//", 8) == 0)
        s += 8;
    if (strlen(s) != 44 || s[43] != '=' || s[42] == '=' ||
        EVP_DecodeBlock(raw, (const unsigned char *)s, 44) != 33)
        die(FN_EXIT_USAGE, "--pin-sha256 '%s' is not the base64 of a SHA-256 (44 characters)", s);
    return s;
}

static const char *ssl_error_text(void)
{
    static char text[256];
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        return errno ? strerror(errno) : "connection closed";
    ERR_error_string_n(e, text, sizeof(text));
    return text;
}

typedef struct conn {
    int fd;
    SSL *ssl;
} conn;

static void tls_start(conn *c, const url *u, const char *cafile, tls_state *st)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    static const unsigned char alpn[] = "\x08http/1.1";
    char store_note[300] = "";
    X509_VERIFY_PARAM *param;
    long vr;

    if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
        die(FN_EXIT_FAIL, "cannot set up TLS: %s", ssl_error_text());
    /* Servers often close without close_notify; the HTTP framing says whether
     * the body is complete. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* A missing trust store is not fatal here: the handshake goes ahead and
     * fails verification, so the attempt is on the wire for the sink to see. */
    errno = 0;
    if (!st->insecure && SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
        snprintf(store_note, sizeof(store_note), " (trust store %s not loaded: %s)", cafile,
                 errno ? strerror(errno) : "no certificates");
        say("trust store %s not loaded", cafile);
        ERR_clear_error();
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    c->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL holds its own reference */
    if (c->ssl == NULL)
        die(FN_EXIT_FAIL, "cannot set up TLS: %s", ssl_error_text());
    tls_state_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    param = SSL_get0_param(c->ssl);
    if (tls_state_idx < 0 || !SSL_set_ex_data(c->ssl, tls_state_idx, st) ||
        SSL_set_alpn_protos(c->ssl, alpn, sizeof(alpn) - 1) != 0 || !SSL_set_fd(c->ssl, c->fd))
        die(FN_EXIT_FAIL, "cannot set up TLS: %s", ssl_error_text());
    if (is_ip_literal(u->host)) {
        /* RFC 6066: no SNI for an address; the certificate must name the IP. */
        if (!X509_VERIFY_PARAM_set1_ip_asc(param, u->host))
            die(FN_EXIT_FAIL, "cannot set up TLS: %s", ssl_error_text());
    } else if (!SSL_set_tlsext_host_name(c->ssl, u->host) || !SSL_set1_host(c->ssl, u->host)) {
        die(FN_EXIT_FAIL, "cannot set up TLS for %s: %s", u->host, ssl_error_text());
    }
    stage = "TLS handshake";
    errno = 0;
    if (SSL_connect(c->ssl) == 1) {
        say("%s %s, server key sha256//%s", SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl),
            st->leaf_pin);
        return;
    }
    if (st->pin_mismatch)
        die(FN_EXIT_PIN,
            "pin mismatch: the server's key sha256//%s is not pinned; handshake aborted",
            st->leaf_pin);
    vr = SSL_get_verify_result(c->ssl);
    if (vr != X509_V_OK)
        die(FN_EXIT_UNTRUSTED, "certificate verify failed: %s%s", X509_verify_cert_error_string(vr),
            store_note);
    die(FN_EXIT_FAIL, "TLS handshake failed: %s", ssl_error_text());
}

static void conn_write(conn *c, const uint8_t *p, size_t n)
{
    if (c->ssl == NULL) {
        send_all(c->fd, p, n);
        return;
    }
    while (n > 0) {
        size_t w = 0;
        if (SSL_write_ex(c->ssl, p, n, &w) != 1)
            die(FN_EXIT_FAIL, "TLS write: %s", ssl_error_text());
        p += w;
        n -= w;
    }
}

/* Bytes read, 0 at the end of the stream. */
static size_t conn_read(conn *c, uint8_t *p, size_t n)
{
    if (c->ssl == NULL) {
        ssize_t r;
        do
            r = recv(c->fd, p, n, 0);
        while (r < 0 && errno == EINTR);
        if (r < 0)
            die(FN_EXIT_FAIL, "receive: %s", strerror(errno));
        return (size_t)r;
    } else {
        size_t got = 0;
        int e;
        if (SSL_read_ex(c->ssl, p, n, &got) == 1)
            return got;
        e = SSL_get_error(c->ssl, 0);
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
            return 0;
        die(FN_EXIT_FAIL, "TLS read: %s", ssl_error_text());
    }
}

typedef enum { FRAME_MORE, FRAME_DONE, FRAME_BAD } frame_rc;

/*
 * Decodes a chunked body at p[0..n) into out. FRAME_MORE when the final
 * chunk has not arrived yet.
 */
static frame_rc dechunk(const uint8_t *p, size_t n, buf *out)
{
    size_t i = 0;

    out->len = 0;
    for (;;) {
        size_t size = 0, line_end;
        int digits = 0;
        const uint8_t *nl = memchr(p + i, '\n', n - i);

        if (nl == NULL)
            return FRAME_MORE;
        line_end = (size_t)(nl - p) + 1;
        for (; i < line_end && isxdigit(p[i]); i++, digits++) {
            if (size > (SIZE_MAX >> 4) || digits > 15)
                return FRAME_BAD;
            size = size * 16 + (size_t)(isdigit(p[i]) ? p[i] - '0' : (tolower(p[i]) - 'a' + 10));
        }
        if (digits == 0)
            return FRAME_BAD;
        i = line_end; /* chunk extensions ignored */
        if (size == 0)
            return FRAME_DONE; /* trailers, if any, are not needed */
        if (n - i < size)
            return FRAME_MORE;
        buf_add(out, p + i, size);
        i += size;
        if (n - i < 1)
            return FRAME_MORE;
        if (p[i] == '\r') {
            if (n - i < 2)
                return FRAME_MORE;
            i++;
        }
        if (p[i] != '\n')
            return FRAME_BAD;
        i++;
    }
}

typedef struct response {
    int status;
    size_t head_len; /* status line and headers, blank line included */
    bool chunked;
    bool has_length;
    size_t length;
    bool no_body; /* HEAD, 1xx, 204, 304 */
} response;

/* The value of header name in the head, or NULL; *vlen set. */
static const char *header_value(const uint8_t *head, size_t len, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    const uint8_t *p = memchr(head, '\n', len), *end = head + len;

    while (p != NULL && ++p < end) {
        const uint8_t *eol = memchr(p, '\n', (size_t)(end - p));
        size_t l = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (l > nlen && p[nlen] == ':' && strncasecmp((const char *)p, name, nlen) == 0) {
            const uint8_t *v = p + nlen + 1;
            while (v < p + l && (*v == ' ' || *v == '\t'))
                v++;
            *vlen = (size_t)(p + l - v);
            while (*vlen > 0 && (v[*vlen - 1] == '\r' || v[*vlen - 1] == ' '))
                (*vlen)--;
            return (const char *)v;
        }
        p = eol;
    }
    return NULL;
}

/* Parses the head at b once it is complete; false while it is not. */
static bool parse_head(const buf *b, bool head_request, response *r)
{
    const uint8_t *end = NULL;
    const char *v;
    size_t vlen;
    char num[24];

    for (size_t i = 0; i + 1 < b->len && end == NULL; i++)
        if (b->p[i] == '\n' &&
            (b->p[i + 1] == '\n' || (b->p[i + 1] == '\r' && i + 2 < b->len && b->p[i + 2] == '\n')))
            end = b->p + i + (b->p[i + 1] == '\n' ? 2 : 3);
    if (end == NULL)
        return false;
    memset(r, 0, sizeof(*r));
    r->head_len = (size_t)(end - b->p);
    if (r->head_len < 12 || memcmp(b->p, "HTTP/1.", 7) != 0 || b->p[8] != ' ' ||
        !isdigit(b->p[9]) || !isdigit(b->p[10]) || !isdigit(b->p[11]))
        die(FN_EXIT_FAIL, "the server's answer is not HTTP/1.x");
    r->status = (b->p[9] - '0') * 100 + (b->p[10] - '0') * 10 + (b->p[11] - '0');
    r->no_body = head_request || r->status < 200 || r->status == 204 || r->status == 304;
    v = header_value(b->p, r->head_len, "Transfer-Encoding", &vlen);
    r->chunked = v && vlen >= 7 && strncasecmp(v + vlen - 7, "chunked", 7) == 0;
    v = header_value(b->p, r->head_len, "Content-Length", &vlen);
    if (v && !r->chunked) {
        char *e;
        if (vlen == 0 || vlen >= sizeof(num))
            die(FN_EXIT_FAIL, "bad Content-Length in the answer");
        memcpy(num, v, vlen);
        num[vlen] = '\0';
        errno = 0;
        r->length = strtoull(num, &e, 10);
        if (errno || *e || num[0] == '-' || r->length > FN_MAX_BODY)
            die(FN_EXIT_FAIL, "bad or too large Content-Length '%s' in the answer", num);
        r->has_length = true;
    }
    return true;
}

typedef struct http_opts {
    const char *method;
    buf body; /* --data or --data-file; tcp and udp send it too */
    bool has_body;
    const char *headers[FN_MAX_HEADERS];
    size_t nheaders;
    const char *cafile;
    const char *output;
    bool include, fail;
    tls_state tls;
} http_opts;

static int http_run(http_opts *o, char *url_text)
{
    url u;
    conn c = {.fd = -1};
    buf req = {0}, in = {0}, body = {0};
    response r;
    bool have_head = false, done = false;
    uint8_t chunk[16384];
    FILE *out = stdout;

    parse_url(url_text, &u);
    if (o->method == NULL)
        o->method = o->has_body ? "POST" : "GET";
    for (const char *m = o->method; *m; m++)
        if (!isupper((unsigned char)*m) && *m != '-' && *m != '_')
            die(FN_EXIT_USAGE, "bad method '%s'", o->method);
    c.fd = connect_to(u.host, u.port, SOCK_STREAM);
    if (u.tls)
        tls_start(&c, &u, o->cafile, &o->tls);

    buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n", o->method,
               u.path, u.authority, FN_USER_AGENT);
    for (size_t i = 0; i < o->nheaders; i++)
        buf_printf(&req, "%s\r\n", o->headers[i]);
    if (o->has_body || !strcmp(o->method, "POST") || !strcmp(o->method, "PUT"))
        buf_printf(&req, "Content-Length: %zu\r\n", o->body.len);
    buf_printf(&req, "Connection: close\r\n\r\n");
    stage = "sending the request";
    conn_write(&c, req.p, req.len);
    if (o->body.len)
        conn_write(&c, o->body.p, o->body.len);
    say("sent %s %s (%zu body bytes)", o->method, u.path, o->body.len);

    stage = "waiting for the response";
    while (!done) {
        size_t n = conn_read(&c, chunk, sizeof(chunk));
        if (n == 0)
            break;
        buf_add(&in, chunk, n);
        stage = "reading the response";
        if (!have_head && (have_head = parse_head(&in, !strcmp(o->method, "HEAD"), &r)) &&
            r.status < 200 && r.status != 101) {
            /* 100 Continue and friends: the real answer follows. */
            memmove(in.p, in.p + r.head_len, in.len - r.head_len);
            in.len -= r.head_len;
            have_head = parse_head(&in, !strcmp(o->method, "HEAD"), &r);
        }
        if (!have_head)
            continue;
        if (r.no_body)
            done = true;
        else if (r.chunked)
            done = dechunk(in.p + r.head_len, in.len - r.head_len, &body) == FRAME_DONE;
        else if (r.has_length)
            done = in.len - r.head_len >= r.length;
    }
    if (c.ssl) {
        SSL_shutdown(c.ssl);
        SSL_free(c.ssl);
    }
    close(c.fd);
    if (!have_head)
        die(FN_EXIT_FAIL, in.len ? "the response ended inside its headers"
                                 : "the server closed the connection without answering");
    say("HTTP %d, %zu bytes", r.status, in.len - r.head_len);

    if (o->output && (out = fopen(o->output, "wb")) == NULL)
        die(FN_EXIT_FAIL, "cannot create %s: %s", o->output, strerror(errno));
    if (o->include)
        write_out(out, in.p, r.head_len);
    if (r.no_body) {
        /* nothing */
    } else if (r.chunked) {
        frame_rc fr = dechunk(in.p + r.head_len, in.len - r.head_len, &body);
        write_out(out, body.p, body.len);
        if (fr != FRAME_DONE)
            die(FN_EXIT_FAIL,
                fr == FRAME_BAD ? "malformed chunked body" : "the chunked body ended early");
    } else if (r.has_length) {
        size_t have = in.len - r.head_len;
        write_out(out, in.p + r.head_len, have < r.length ? have : r.length);
        if (have < r.length)
            die(FN_EXIT_FAIL, "the body ended after %zu of %zu bytes", have, r.length);
    } else {
        write_out(out, in.p + r.head_len, in.len - r.head_len);
    }
    if (fflush(out) != 0 || (out != stdout && fclose(out) != 0))
        die(FN_EXIT_FAIL, "cannot write the output: %s", strerror(errno));
    if (o->fail && r.status >= 400)
        die(FN_EXIT_HTTP, "the server answered HTTP %d", r.status);
    free(req.p);
    free(in.p);
    free(body.p);
    free(o->body.p);
    return FN_EXIT_OK;
}

/* ---- command line ------------------------------------------------------- */

/* Long-only options get letters outside getopt's short-option string, so each
 * command's list of accepted options is one string of letters. */
enum {
    OPT_DATA_FILE = 'D',
    OPT_CAFILE = 'C',
    OPT_PIN = 'P',
    OPT_TCP = 'U',
    OPT_RESOLVE = 'R',
};

static const struct option long_opts[] = {
    {"method", required_argument, NULL, 'X'},
    {"data", required_argument, NULL, 'd'},
    {"data-file", required_argument, NULL, OPT_DATA_FILE},
    {"header", required_argument, NULL, 'H'},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"pin-sha256", required_argument, NULL, OPT_PIN},
    {"insecure", no_argument, NULL, 'k'},
    {"output", required_argument, NULL, 'o'},
    {"include", no_argument, NULL, 'i'},
    {"fail", no_argument, NULL, 'f'},
    {"wait", required_argument, NULL, 'w'},
    {"type", required_argument, NULL, 't'},
    {"tcp", no_argument, NULL, OPT_TCP},
    {"resolve", required_argument, NULL, OPT_RESOLVE},
    {"timeout", required_argument, NULL, 'T'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Everything any command accepts; each command refuses what it has no use for. */
typedef struct cmdline {
    http_opts http;
    unsigned timeout;
    unsigned wait;
    const char *type;
    bool tcp;
} cmdline;

typedef struct command {
    const char *name;
    const char *opts; /* the option letters it accepts (see OPT_*) */
    int nargs;
    int (*run)(cmdline *cl, char **args);
} command;

static void set_body_once(cmdline *cl)
{
    if (cl->http.has_body)
        die(FN_EXIT_USAGE, "give one of --data and --data-file, once");
    cl->http.has_body = true;
}

/* ---- tcp, udp ------------------------------------------------------------ */

/* Prints what arrives on fd for up to wait seconds (the reply); bytes read. */
static size_t print_reply(int fd, unsigned wait, bool stream)
{
    long long deadline = now_ms() + (long long)wait * 1000;
    uint8_t b[65536];
    size_t total = 0;

    stage = "waiting for a reply";
    for (;;) {
        long long left = deadline - now_ms();
        ssize_t r;

        if (left <= 0 || !wait_readable(fd, (int)left))
            break;
        r = recv(fd, b, sizeof(b), 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die(FN_EXIT_FAIL, "receive: %s", strerror(errno));
        if (r == 0 && stream)
            break;
        write_out(stdout, b, (size_t)r);
        total += (size_t)r;
        if (!stream)
            break; /* one datagram is the reply */
    }
    fflush(stdout);
    return total;
}

static int run_send(cmdline *cl, char **args, int socktype)
{
    char host[256], port[8];
    const char *proto = socktype == SOCK_STREAM ? "tcp" : "udp";
    int fd;
    size_t got = 0;

    split_hostport(args[0], host, sizeof(host), port, sizeof(port), NULL);
    if (socktype == SOCK_DGRAM && cl->http.body.len > FN_MAX_DATAGRAM)
        die(FN_EXIT_USAGE, "%zu bytes do not fit in one UDP datagram (at most %u)",
            cl->http.body.len, FN_MAX_DATAGRAM);
    fd = connect_to(host, port, socktype);
    stage = "sending";
    if (socktype == SOCK_STREAM) {
        send_all(fd, cl->http.body.p, cl->http.body.len);
    } else if (send(fd, cl->http.body.p ? (const void *)cl->http.body.p : "", cl->http.body.len,
                    0) < 0) {
        die(FN_EXIT_FAIL, "send: %s", strerror(errno));
    }
    if (cl->wait)
        got = print_reply(fd, cl->wait, socktype == SOCK_STREAM);
    say("%s: sent %zu bytes%s, received %zu", proto, cl->http.body.len,
        cl->wait ? "" : " (no reply awaited)", got);
    close(fd);
    free(cl->http.body.p);
    return FN_EXIT_OK;
}

static int run_tcp(cmdline *cl, char **args)
{
    return run_send(cl, args, SOCK_STREAM);
}

static int run_udp(cmdline *cl, char **args)
{
    return run_send(cl, args, SOCK_DGRAM);
}

/* ---- dns ----------------------------------------------------------------- */

static const struct {
    const char *name;
    uint16_t type;
} dns_types[] = {{"A", 1}, {"NS", 2}, {"MX", 15}, {"TXT", 16}, {"AAAA", 28}, {"ANY", 255}};

/* Skips a (possibly compressed) name at m[*i]; false if it runs off the end. */
static bool dns_skip_name(const uint8_t *m, size_t len, size_t *i)
{
    for (int labels = 0; labels < 128; labels++) {
        if (*i >= len)
            return false;
        if ((m[*i] & 0xc0) == 0xc0) {
            if (len - *i < 2)
                return false;
            *i += 2;
            return true;
        }
        if (m[*i] & 0xc0)
            return false;
        if (m[*i] == 0) {
            (*i)++;
            return true;
        }
        if (len - *i < (size_t)m[*i] + 1)
            return false;
        *i += (size_t)m[*i] + 1;
    }
    return false;
}

static void dns_print_answers(const uint8_t *m, size_t len, uint16_t id)
{
    static const char *const rcodes[] = {"NOERROR",  "FORMERR", "SERVFAIL",
                                         "NXDOMAIN", "NOTIMP",  "REFUSED"};
    unsigned qd, an, rcode;
    size_t i = 12;

    if (len < 12 || ((m[0] << 8) | m[1]) != id || !(m[2] & 0x80))
        die(FN_EXIT_FAIL, "the answer is not a DNS response to our query");
    rcode = m[3] & 0x0f;
    qd = (unsigned)(m[4] << 8 | m[5]);
    an = (unsigned)(m[6] << 8 | m[7]);
    if (m[2] & 0x02)
        die(FN_EXIT_FAIL, "the answer is truncated; ask again with --tcp");
    if (rcode != 0)
        die(FN_EXIT_FAIL, "the server answered %s",
            rcode < sizeof(rcodes) / sizeof(rcodes[0]) ? rcodes[rcode] : "an error");
    for (unsigned q = 0; q < qd; q++) {
        if (!dns_skip_name(m, len, &i) || len - i < 4)
            die(FN_EXIT_FAIL, "malformed DNS answer (question)");
        i += 4; /* type, class */
    }
    for (unsigned a = 0; a < an; a++) {
        unsigned type, rdlen;
        char text[INET6_ADDRSTRLEN];

        if (!dns_skip_name(m, len, &i) || len - i < 10)
            die(FN_EXIT_FAIL, "malformed DNS answer (record %u)", a + 1);
        type = (unsigned)(m[i] << 8 | m[i + 1]);
        rdlen = (unsigned)(m[i + 8] << 8 | m[i + 9]);
        i += 10;
        if (len - i < rdlen)
            die(FN_EXIT_FAIL, "malformed DNS answer (record %u data)", a + 1);
        if (type == 1 && rdlen == 4)
            printf("A %s\n", inet_ntop(AF_INET, m + i, text, sizeof(text)));
        else if (type == 28 && rdlen == 16)
            printf("AAAA %s\n", inet_ntop(AF_INET6, m + i, text, sizeof(text)));
        else
            printf("type %u, %u bytes\n", type, rdlen);
        i += rdlen;
    }
    say("%s, %u answers", rcodes[0], an);
}

static int run_dns(cmdline *cl, char **args)
{
    char host[256], port[8];
    const char *name = args[1];
    uint8_t q[512], a[65536];
    size_t qlen = 12, alen = 0;
    uint16_t id, type = 0;
    int fd;

    split_hostport(args[0], host, sizeof(host), port, sizeof(port), "53");
    for (size_t k = 0; k < sizeof(dns_types) / sizeof(dns_types[0]); k++)
        if (strcasecmp(cl->type ? cl->type : "A", dns_types[k].name) == 0)
            type = dns_types[k].type;
    if (type == 0)
        die(FN_EXIT_USAGE, "unknown record type '%s'; use A, AAAA, TXT, MX, NS or ANY", cl->type);
    if (getrandom(&id, sizeof(id), 0) != sizeof(id))
        id = (uint16_t)(getpid() ^ now_ms());
    memset(q, 0, 12);
    q[0] = (uint8_t)(id >> 8);
    q[1] = (uint8_t)id;
    q[2] = 0x01; /* RD: ask for recursion, as a stub resolver does */
    q[5] = 1;    /* one question */
    for (const char *l = name; *l;) {
        size_t n = strcspn(l, ".");
        if (n == 0 || n > 63 || qlen + n + 1 > 12 + 254)
            die(FN_EXIT_USAGE, "'%s' is not a valid DNS name", name);
        q[qlen++] = (uint8_t)n;
        memcpy(q + qlen, l, n);
        qlen += n;
        l += n;
        if (*l == '.')
            l++;
    }
    q[qlen++] = 0;
    q[qlen++] = (uint8_t)(type >> 8);
    q[qlen++] = (uint8_t)type;
    q[qlen++] = 0;
    q[qlen++] = 1; /* class IN */

    fd = connect_to(host, port, cl->tcp ? SOCK_STREAM : SOCK_DGRAM);
    stage = "sending the query";
    if (cl->tcp) {
        uint8_t framed[2 + sizeof(q)];
        framed[0] = (uint8_t)(qlen >> 8);
        framed[1] = (uint8_t)qlen;
        memcpy(framed + 2, q, qlen);
        send_all(fd, framed, qlen + 2);
        stage = "waiting for the answer";
        /* Two length bytes, then that many: read until we have them all. */
        for (size_t want = 2; alen < want;) {
            ssize_t r = recv(fd, a + alen, want - alen, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                die(FN_EXIT_FAIL, "receive: %s", strerror(errno));
            if (r == 0)
                die(FN_EXIT_FAIL, "the server closed the connection without answering");
            alen += (size_t)r;
            if (want == 2 && alen == 2)
                want = 2 + (size_t)(a[0] << 8 | a[1]);
        }
        dns_print_answers(a + 2, alen - 2, id);
    } else {
        ssize_t r;
        if (send(fd, q, qlen, 0) < 0)
            die(FN_EXIT_FAIL, "send: %s", strerror(errno));
        stage = "waiting for the answer";
        do
            r = recv(fd, a, sizeof(a), 0);
        while (r < 0 && errno == EINTR);
        if (r < 0)
            die(FN_EXIT_FAIL, "receive: %s", strerror(errno));
        dns_print_answers(a, (size_t)r, id);
    }
    close(fd);
    return FN_EXIT_OK;
}

/* ---- neigh ---------------------------------------------------------------- */

static void nl_attr(uint8_t *msg, size_t cap, uint16_t type, const void *data, size_t len)
{
    struct nlmsghdr *h = (struct nlmsghdr *)msg;
    struct rtattr *rta = (struct rtattr *)(msg + NLMSG_ALIGN(h->nlmsg_len));

    if (NLMSG_ALIGN(h->nlmsg_len) + RTA_SPACE(len) > cap)
        die(FN_EXIT_FAIL, "netlink message too long");
    rta->rta_type = type;
    rta->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(rta), data, len);
    h->nlmsg_len = (uint32_t)(NLMSG_ALIGN(h->nlmsg_len) + RTA_SPACE(len));
}

/*
 * `ip neigh replace ADDRESS lladdr MAC dev IFACE nud permanent`, which
 * busybox's ip cannot do: without it an IPv6 packet to a host nobody answers
 * neighbour discovery for never leaves the guest.
 */
static int run_neigh(cmdline *cl, char **args)
{
    uint8_t msg[256] = {0}, reply[1024], addr[16], mac[6];
    struct nlmsghdr *h = (struct nlmsghdr *)msg;
    struct ndmsg *nd = NLMSG_DATA(h);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    int family, fd;
    unsigned ifindex = if_nametoindex(args[0]);
    ssize_t r;
    (void)cl;

    if (ifindex == 0)
        die(FN_EXIT_USAGE, "no interface %s", args[0]);
    if (inet_pton(AF_INET6, args[1], addr) == 1)
        family = AF_INET6;
    else if (inet_pton(AF_INET, args[1], addr) == 1)
        family = AF_INET;
    else
        die(FN_EXIT_USAGE, "'%s' is not an IP address", args[1]);
    if (sscanf(args[2], "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx", &mac[0], &mac[1], &mac[2], &mac[3],
               &mac[4], &mac[5]) != 6 ||
        strlen(args[2]) != 17)
        die(FN_EXIT_USAGE, "'%s' is not a MAC address (aa:bb:cc:dd:ee:ff)", args[2]);

    h->nlmsg_len = NLMSG_LENGTH(sizeof(*nd));
    h->nlmsg_type = RTM_NEWNEIGH;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    h->nlmsg_seq = 1;
    nd->ndm_family = (uint8_t)family;
    nd->ndm_ifindex = (int)ifindex;
    nd->ndm_state = NUD_PERMANENT;
    nl_attr(msg, sizeof(msg), NDA_DST, addr, family == AF_INET6 ? 16 : 4);
    nl_attr(msg, sizeof(msg), NDA_LLADDR, mac, 6);

    stage = "talking to the kernel";
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0 || sendto(fd, msg, h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
        die(FN_EXIT_FAIL, "netlink: %s", strerror(errno));
    r = recv(fd, reply, sizeof(reply), 0);
    if (r < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
        die(FN_EXIT_FAIL, "netlink: %s", r < 0 ? strerror(errno) : "short answer");
    {
        const struct nlmsghdr *rh = (const struct nlmsghdr *)reply;
        const struct nlmsgerr *e = NLMSG_DATA(rh);
        if (rh->nlmsg_type != NLMSG_ERROR)
            die(FN_EXIT_FAIL, "netlink: unexpected answer type %u", rh->nlmsg_type);
        if (e->error != 0)
            die(FN_EXIT_FAIL, "cannot add the neighbour: %s", strerror(-e->error));
    }
    close(fd);
    say("%s is at %s on %s (permanent)", args[1], args[2], args[0]);
    return FN_EXIT_OK;
}

/* ---- main ----------------------------------------------------------------- */

static int run_http(cmdline *cl, char **args)
{
    return http_run(&cl->http, args[0]);
}

static const command commands[] = {
    {"http", "XdDHCPkoifRTv", 1, run_http}, {"tcp", "dDwRTv", 1, run_tcp},
    {"udp", "dDwRTv", 1, run_udp},          {"dns", "tURTv", 2, run_dns},
    {"neigh", "Tv", 3, run_neigh},
};

int main(int argc, char **argv)
{
    const command *cmd = NULL;
    cmdline cl = {.timeout = FN_DEFAULT_TIMEOUT};
    int c;

    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? FN_EXIT_USAGE : FN_EXIT_OK;
    }
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
        if (!strcmp(argv[1], commands[k].name))
            cmd = &commands[k];
    if (cmd == NULL) {
        fprintf(stderr, "fixture-net: unknown command '%s'\n%s", argv[1], usage_text);
        return FN_EXIT_USAGE;
    }
    snprintf(target, sizeof(target), "%s", cmd->name);
    cl.http.cafile = FN_DEFAULT_CAFILE;
    signal(SIGPIPE, SIG_IGN);

    argv++;
    argc--;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+X:d:H:koifw:t:T:vh", long_opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            return FN_EXIT_OK;
        }
        if (c == '?' || c == ':' || !strchr(cmd->opts, c))
            die(FN_EXIT_USAGE,
                "option %s does not apply or lacks its value; see fixture-net --help",
                argv[optind - 1]);
        switch (c) {
        case 'X':
            cl.http.method = optarg;
            break;
        case 'd':
            set_body_once(&cl);
            buf_add(&cl.http.body, optarg, strlen(optarg));
            break;
        case OPT_DATA_FILE:
            set_body_once(&cl);
            read_file(optarg, &cl.http.body);
            break;
        case 'H':
            if (cl.http.nheaders == FN_MAX_HEADERS)
                die(FN_EXIT_USAGE, "at most %d headers", FN_MAX_HEADERS);
            if (strcspn(optarg, "\r\n") != strlen(optarg) || !strchr(optarg, ':') ||
                optarg[0] == ':')
                die(FN_EXIT_USAGE, "header '%s' must be one 'Name: value' line", optarg);
            cl.http.headers[cl.http.nheaders++] = optarg;
            break;
        case OPT_CAFILE:
            cl.http.cafile = optarg;
            break;
        case OPT_PIN:
            if (cl.http.tls.npins == FN_MAX_PINS)
                die(FN_EXIT_USAGE, "at most %d pins", FN_MAX_PINS);
            cl.http.tls.pins[cl.http.tls.npins++] = check_pin(optarg);
            break;
        case 'k':
            cl.http.tls.insecure = true;
            break;
        case 'o':
            cl.http.output = optarg;
            break;
        case 'i':
            cl.http.include = true;
            break;
        case 'f':
            cl.http.fail = true;
            break;
        case 'w':
            cl.wait = parse_seconds(optarg, "--wait", 0);
            break;
        case 't':
            cl.type = optarg;
            break;
        case OPT_TCP:
            cl.tcp = true;
            break;
        case OPT_RESOLVE:
            set_resolve(optarg);
            break;
        case 'T':
            cl.timeout = parse_seconds(optarg, "--timeout", 1);
            break;
        case 'v':
            verbose = true;
            break;
        }
    }
    if (argc - optind != cmd->nargs)
        die(FN_EXIT_USAGE, "expects %d argument%s; see fixture-net --help", cmd->nargs,
            cmd->nargs == 1 ? "" : "s");
    snprintf(target, sizeof(target), "%s %s", cmd->name, argv[optind]);
    arm_timeout(cl.timeout);
    return cmd->run(&cl, argv + optind);
}
