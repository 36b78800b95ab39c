/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The signed evidence bundle (bundle.h, BUNDLE.md): the walk of an evidence
 * directory, the hashing of its files over a few threads, manifest.json, and
 * its Ed25519 signature with OpenSSL.
 */
#include "reports/bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/util.h"

/* Read size of the hashing threads: large reads keep the syscall cost far
 * below the digest's, and the kernel's read-ahead busy (posix_fadvise). */
#define HASH_BUF (4u << 20)
#define JSON_OUT (JSON_INDENT(2) | JSON_ENSURE_ASCII)

/* One file of the bundle: as the walk found it, and as hashing saw it. */
typedef struct bfile {
    char *path; /* relative to the bundle */
    uint64_t size;
    bool present; /* verify: found by the walk */
    bool hash;    /* to be hashed */
    char sha256[65];
    uint64_t read; /* bytes hashed */
    char *error;   /* hashing failed: why */
    /* verify: what the manifest says */
    bool listed;
    uint64_t want_size;
    char want_sha256[65];
} bfile;

typedef struct bfiles {
    bfile *items;
    size_t count, cap;
    char **refused; /* symbolic links, devices, unusable names: "path: why" */
    size_t nrefused;
} bfiles;

static void bfiles_clear(bfiles *f)
{
    for (size_t i = 0; i < f->count; i++) {
        free(f->items[i].path);
        free(f->items[i].error);
    }
    for (size_t i = 0; i < f->nrefused; i++)
        free(f->refused[i]);
    free(f->items);
    free(f->refused);
    memset(f, 0, sizeof(*f));
}

static bfile *bfiles_push(bfiles *f)
{
    if (f->count == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        bfile *n = reallocarray(f->items, cap, sizeof(*n));

        if (n == NULL)
            return NULL;
        f->items = n;
        f->cap = cap;
    }
    memset(&f->items[f->count], 0, sizeof(bfile));
    return &f->items[f->count++];
}

static avtb_err refuse(bfiles *f, const char *path, const char *why)
{
    char **n = reallocarray(f->refused, f->nrefused + 1, sizeof(*n));
    char *s = NULL;

    if (n == NULL)
        return AVTB_ERR_NOMEM;
    f->refused = n;
    if (asprintf(&s, "%s: %s", path, why) < 0)
        return AVTB_ERR_NOMEM;
    f->refused[f->nrefused++] = s;
    return AVTB_OK;
}

/* The manifest and its signature are not in the manifest. */
static bool is_seal_file(const char *rel)
{
    return strcmp(rel, AVTB_BUNDLE_MANIFEST) == 0 || strcmp(rel, AVTB_BUNDLE_SIG) == 0 ||
           strcmp(rel, AVTB_BUNDLE_SIGINFO) == 0;
}

/*
 * A name the manifest can hold and `sha256sum -c` can check: valid UTF-8
 * (JSON strings are), no control character, no backslash (sha256sum escapes
 * those names, and the hand check in BUNDLE.md would not match them).
 */
static bool name_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        unsigned n;

        if (*p < 0x20 || *p == 0x7f || *p == '\\')
            return false;
        if (*p < 0x80) {
            p++;
            continue;
        }
        n = (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : 0;
        if (n == 0 || *p == 0xc0 || *p == 0xc1 || *p > 0xf4)
            return false;
        for (unsigned i = 1; i <= n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return false;
        p += n + 1;
    }
    return true;
}

/* Walks dirfd (the bundle's rel, "" at the top) into f; never follows a link. */
static avtb_err walk(int dirfd, const char *rel, unsigned depth, bfiles *f, avtb_error *err)
{
    DIR *d;
    struct dirent *e;
    avtb_err r = AVTB_OK;

    if (depth > AVTB_BUNDLE_MAX_DEPTH)
        return avtb_error_set(err, AVTB_ERR_INPUT, "%s: more than %u directories deep", rel,
                              AVTB_BUNDLE_MAX_DEPTH);
    d = fdopendir(dirfd);
    if (d == NULL) {
        close(dirfd);
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot read the directory %s",
                                rel[0] ? rel : ".");
    }
    while (r == AVTB_OK && (errno = 0, e = readdir(d)) != NULL) {
        char *path = NULL;
        struct stat st;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (asprintf(&path, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) < 0)
            return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        if (depth == 0 && is_seal_file(path)) {
            free(path);
            continue;
        }
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot stat %s", path);
        } else if (!name_ok(path)) {
            char shown[512];
            size_t j = 0;

            for (const unsigned char *p = (const unsigned char *)path; *p && j + 5 < sizeof(shown);
                 p++)
                j += (size_t)snprintf(shown + j, sizeof(shown) - j,
                                      *p < 0x20 || *p >= 0x7f || *p == '\\' ? "\\x%02x" : "%c", *p);
            r = refuse(f, shown,
                       "a name with control characters, a backslash or not UTF-8; the "
                       "manifest cannot list it so that sha256sum checks it");
        } else if (S_ISLNK(st.st_mode)) {
            r = refuse(f, path, "a symbolic link; a bundle holds regular files only");
        } else if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

            if (sub < 0)
                r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot open the directory %s", path);
            else
                r = walk(sub, path, depth + 1, f, err);
        } else if (!S_ISREG(st.st_mode)) {
            r = refuse(f, path, "not a regular file (a device, FIFO or socket)");
        } else if (f->count >= AVTB_BUNDLE_MAX_FILES) {
            r = avtb_error_set(err, AVTB_ERR_INPUT, "more than %u files in the bundle",
                               AVTB_BUNDLE_MAX_FILES);
        } else {
            bfile *b = bfiles_push(f);

            if (b == NULL) {
                r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
            } else {
                b->path = path;
                path = NULL; /* transferred */
                b->size = (uint64_t)st.st_size;
                b->present = b->hash = true;
            }
        }
        if (r == AVTB_ERR_NOMEM && err != NULL && err->msg[0] == '\0')
            avtb_error_set(err, r, "out of memory");
        free(path);
    }
    if (r == AVTB_OK && errno != 0)
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot read the directory %s",
                             rel[0] ? rel : ".");
    closedir(d);
    return r;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const bfile *)a)->path, ((const bfile *)b)->path);
}

/* Walks the bundle dir; files sorted by path (bytes, as `LC_ALL=C sort`). */
static avtb_err walk_bundle(const char *dir, bfiles *f, avtb_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    avtb_err r;

    if (fd < 0)
        return avtb_error_errno(err, errno == ENOENT ? AVTB_ERR_NOT_FOUND : AVTB_ERR_IO, errno,
                                "cannot open the evidence directory %s", dir);
    r = walk(fd, "", 0, f, err);
    if (r == AVTB_OK && f->count > 0)
        qsort(f->items, f->count, sizeof(*f->items), by_path);
    return r;
}

/* ---- hashing ---- */

typedef struct hash_job {
    int dirfd;
    bfile *files;
    size_t n;
    size_t *order; /* largest first, so two threads finish together */
    size_t next;
    pthread_mutex_t lock;
    struct timespec start;
    double last; /* seconds from start to the latest digest */
} hash_job;

static double since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void hash_one(hash_job *j, bfile *b, uint8_t *buf, EVP_MD_CTX *ctx, const EVP_MD *md)
{
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    int fd = openat(j->dirfd, b->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;

    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (asprintf(&b->error, "cannot read it: %s",
                     fd < 0 ? strerror(errno) : "not a regular file") < 0)
            b->error = NULL;
        if (fd >= 0)
            close(fd);
        return;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        b->error = strdup("cannot start SHA-256 (OpenSSL)");
        close(fd);
        return;
    }
    for (;;) {
        ssize_t n = read(fd, buf, HASH_BUF);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (asprintf(&b->error, "cannot read it: %s", strerror(errno)) < 0)
                b->error = NULL;
            close(fd);
            return;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        b->read += (uint64_t)n;
    }
    close(fd);
    EVP_DigestFinal_ex(ctx, dig, &dlen);
    avtb_hex(dig, dlen, b->sha256);
}

static void hash_loop(hash_job *j)
{
    uint8_t *buf = malloc(HASH_BUF);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);

    for (;;) {
        bfile *b;

        pthread_mutex_lock(&j->lock);
        b = j->next < j->n ? &j->files[j->order[j->next++]] : NULL;
        pthread_mutex_unlock(&j->lock);
        if (b == NULL)
            break;
        if (buf == NULL || ctx == NULL || md == NULL) {
            b->error = strdup("out of memory");
            continue;
        }
        hash_one(j, b, buf, ctx, md);
        {
            double t = since(&j->start);

            pthread_mutex_lock(&j->lock);
            if (t > j->last)
                j->last = t;
            pthread_mutex_unlock(&j->lock);
        }
    }
    EVP_MD_free(md);
    EVP_MD_CTX_free(ctx);
    free(buf);
}

static void *hash_thread(void *arg)
{
    hash_loop(arg);
    return NULL;
}

static const bfile *sort_files;

static int by_size_desc(const void *a, const void *b)
{
    uint64_t x = sort_files[*(const size_t *)a].size, y = sort_files[*(const size_t *)b].size;

    return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Hashes every file with hash set, over threads (the caller's included);
 * concurrent(arg) runs on the calling thread meanwhile. *seconds: first read
 * to last digest; *used: the threads that ran.
 */
static avtb_err hash_files(int dirfd, bfile *files, size_t n, unsigned threads,
                           void (*concurrent)(void *), void *arg, double *seconds, unsigned *used,
                           avtb_error *err)
{
    hash_job j = {.dirfd = dirfd, .files = files, .lock = PTHREAD_MUTEX_INITIALIZER};
    pthread_t tid[8];
    unsigned started = 0;

    j.order = calloc(n ? n : 1, sizeof(*j.order));
    if (j.order == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (files[i].hash)
            j.order[j.n++] = i;
    /* qsort has no context argument; this runs on one thread at a time. */
    sort_files = files;
    qsort(j.order, j.n, sizeof(*j.order), by_size_desc);
    if (threads == 0)
        threads = 2;
    if (threads > 8)
        threads = 8;
    /* One thread per file at most; the caller is one of them. */
    if (threads > j.n && concurrent == NULL)
        threads = j.n ? (unsigned)j.n : 1;
    clock_gettime(CLOCK_MONOTONIC, &j.start);
    for (unsigned i = 0; i + 1 < threads; i++)
        if (pthread_create(&tid[started], NULL, hash_thread, &j) == 0)
            started++;
    if (concurrent != NULL)
        concurrent(arg);
    hash_loop(&j);
    for (unsigned i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    *seconds = j.last;
    *used = started + 1;
    pthread_mutex_destroy(&j.lock);
    free(j.order);
    return AVTB_OK;
}

/* ---- keys ---- */

static avtb_err openssl_error(avtb_error *err, avtb_err code, const char *what, const char *path)
{
    char buf[256] = "";
    unsigned long e = ERR_get_error();

    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return avtb_error_set(err, code, "%s%s%s%s%s", path ? path : "", path ? ": " : "", what,
                          buf[0] ? ": " : "", buf);
}

static avtb_err fingerprint_of(EVP_PKEY *k, char fp[65], avtb_error *err)
{
    uint8_t raw[32];
    size_t len = sizeof(raw);

    fp[0] = '\0';
    if (EVP_PKEY_get_raw_public_key(k, raw, &len) != 1 || len != 32)
        return openssl_error(err, AVTB_ERR_INTERNAL, "cannot read the raw Ed25519 public key",
                             NULL);
    avtb_sha256_hex(raw, len, fp);
    return AVTB_OK;
}

/* Loads an Ed25519 key from PEM bytes: public first, then private. */
static EVP_PKEY *key_from_pem(const uint8_t *buf, size_t len, bool want_private)
{
    BIO *bio = BIO_new_mem_buf(buf, (int)len);
    EVP_PKEY *k = NULL;

    if (bio == NULL)
        return NULL;
    if (!want_private)
        k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (k == NULL) {
        (void)BIO_reset(bio);
        ERR_clear_error();
        /* An empty passphrase callback: a protected key fails instead of prompting. */
        k = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    }
    BIO_free(bio);
    if (k != NULL && EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    return k;
}

static avtb_err load_key(const char *path, bool want_private, EVP_PKEY **out, avtb_error *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    avtb_err r;

    *out = NULL;
    r = avtb_read_file(path, 1u << 20, &buf, &len, err);
    if (r != AVTB_OK)
        return r;
    *out = key_from_pem(buf, len, want_private);
    OPENSSL_cleanse(buf, len);
    free(buf);
    if (*out == NULL)
        return openssl_error(err, AVTB_ERR_INPUT,
                             want_private ? "not an unencrypted Ed25519 private key in PEM "
                                            "(make one with `avtb keygen --out DIR`)"
                                          : "not an Ed25519 key in PEM (give lab-key.pub.pem "
                                            "of `avtb keygen`)",
                             path);
    return AVTB_OK;
}

avtb_err avtb_bundle_key_fingerprint(const char *path, char fingerprint[65], avtb_error *err)
{
    EVP_PKEY *k = NULL;
    avtb_err r;

    fingerprint[0] = '\0';
    r = load_key(path, false, &k, err);
    if (r == AVTB_OK)
        r = fingerprint_of(k, fingerprint, err);
    EVP_PKEY_free(k);
    return r;
}

/* The public key as PEM text; caller frees. */
static char *public_pem(EVP_PKEY *k)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long n;

    if (bio == NULL)
        return NULL;
    if (PEM_write_bio_PUBKEY(bio, k) == 1 && (n = BIO_get_mem_data(bio, &data)) > 0)
        out = strndup(data, (size_t)n);
    BIO_free(bio);
    return out;
}

/* Writes buf to a new file (O_EXCL) of the given mode. */
static avtb_err write_new(const char *path, const char *buf, size_t len, mode_t mode,
                          avtb_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    size_t off = 0;

    if (fd < 0)
        return avtb_error_errno(err, errno == EEXIST ? AVTB_ERR_INPUT : AVTB_ERR_IO, errno,
                                "cannot create %s%s", path,
                                errno == EEXIST ? " (keys are never overwritten: move it away "
                                                  "or give another --out)"
                                                : "");
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;

            close(fd);
            unlink(path);
            return avtb_error_errno(err, AVTB_ERR_IO, e, "cannot write %s", path);
        }
        off += (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        unlink(path);
        return avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot write %s", path);
    }
    return AVTB_OK;
}

avtb_err avtb_bundle_keygen(const char *dir, char fingerprint[65], avtb_error *err)
{
    char *priv = avtb_path_join(dir, AVTB_BUNDLE_KEY_PRIVATE);
    char *pub = avtb_path_join(dir, AVTB_BUNDLE_KEY_PUBLIC);
    EVP_PKEY *k = NULL;
    BIO *bio = NULL;
    char *pem = NULL, *data;
    long n;
    avtb_err r = AVTB_ERR_NOMEM;

    fingerprint[0] = '\0';
    if (priv == NULL || pub == NULL) {
        avtb_error_set(err, r, "out of memory");
        goto out;
    }
    r = avtb_mkdir_p(dir, 0700, err);
    if (r != AVTB_OK)
        goto out;
    /* Check both first, so a refusal leaves nothing half written. */
    if (access(priv, F_OK) == 0 || access(pub, F_OK) == 0) {
        r = avtb_error_set(err, AVTB_ERR_INPUT,
                           "%s already holds a key (%s or %s); keys are never overwritten: "
                           "move them away or give another --out",
                           dir, AVTB_BUNDLE_KEY_PRIVATE, AVTB_BUNDLE_KEY_PUBLIC);
        goto out;
    }
    k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    bio = BIO_new(BIO_s_mem());
    if (k == NULL || bio == NULL) {
        r = openssl_error(err, AVTB_ERR_INTERNAL, "cannot make an Ed25519 key", NULL);
        goto out;
    }
    /* PKCS#8 "BEGIN PRIVATE KEY", unencrypted: a run signs unattended. */
    if (PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) != 1 ||
        (n = BIO_get_mem_data(bio, &data)) <= 0) {
        r = openssl_error(err, AVTB_ERR_INTERNAL, "cannot encode the private key", NULL);
        goto out;
    }
    r = write_new(priv, data, (size_t)n, 0600, err);
    if (r != AVTB_OK)
        goto out;
    pem = public_pem(k);
    if (pem == NULL) {
        unlink(priv);
        r = openssl_error(err, AVTB_ERR_INTERNAL, "cannot encode the public key", NULL);
        goto out;
    }
    r = write_new(pub, pem, strlen(pem), 0644, err);
    if (r != AVTB_OK) {
        unlink(priv);
        goto out;
    }
    r = fingerprint_of(k, fingerprint, err);
out:
    BIO_free(bio);
    EVP_PKEY_free(k);
    free(pem);
    free(priv);
    free(pub);
    return r;
}

/* ---- the manifest ---- */

/* A version from report.json: under "platform" (as run.c writes it), or at the top. */
static json_t *report_version(json_t *report, const char *name)
{
    static const char *const where[] = {"platform", NULL};

    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        json_t *o = where[i] ? json_object_get(report, where[i]) : report;
        json_t *v = json_object_get(o, name);

        if (json_is_string(v) || json_is_object(v))
            return json_deep_copy(v);
    }
    return json_null();
}

/*
 * The base image: its id (report.json guest.image, the image cache's
 * directory name, which carries the hash of the image's recipe) and a disk
 * digest only when the image's image.json records one. Hashing the disk
 * itself at each run would cost seconds; the id already names the recipe.
 * The cache is found as orchestrator/image.c finds it (reports/ does not
 * link the orchestrator).
 */
static json_t *base_image(json_t *report)
{
    const char *id = json_string_value(json_object_get(json_object_get(report, "guest"), "image"));
    const char *cache = getenv("AVTB_CACHE"), *home = getenv("HOME");
    json_t *digest = json_null(), *ij = NULL;
    char *path = NULL;

    if (id == NULL)
        return json_null();
    if (strchr(id, '/') == NULL && strcmp(id, "..") != 0) {
        if (cache != NULL && cache[0] != '\0')
            (void)!asprintf(&path, "%s/images/%s/image.json", cache, id);
        else if (geteuid() == 0 || home == NULL)
            (void)!asprintf(&path, "/var/cache/avtb/images/%s/image.json", id);
        else
            (void)!asprintf(&path, "%s/.cache/avtb/images/%s/image.json", home, id);
    }
    if (path != NULL)
        ij = json_load_file(path, 0, NULL);
    for (const char *const *k = (const char *const[]){"disk_sha256", "sha256", NULL}; *k; k++) {
        const char *v = json_string_value(json_object_get(ij, *k));

        if (v != NULL && strlen(v) == 64) {
            json_decref(digest);
            digest = json_string(v);
            break;
        }
    }
    json_decref(ij);
    free(path);
    return json_pack("{s:s, s:o}", "id", id, "sha256", digest);
}

static json_t *product_files(const char *dir)
{
    char *path = avtb_path_join(dir, "planted.json");
    json_t *planted = path ? json_load_file(path, 0, NULL) : NULL;
    json_t *arr = json_array(), *v;
    size_t i;

    json_array_foreach(json_object_get(planted, "product_files"), i, v)
    {
        json_t *src = json_object_get(v, "src"), *dest = json_object_get(v, "dest"),
               *sha = json_object_get(v, "sha256");

        json_array_append_new(arr, json_pack("{s:O, s:O, s:O}", "src", src ? src : json_null(),
                                             "dest", dest ? dest : json_null(), "sha256",
                                             sha ? sha : json_null()));
    }
    json_decref(planted);
    free(path);
    return arr;
}

static const bfile *find_file(const bfiles *f, const char *path)
{
    bfile key = {.path = (char *)path};

    return f->count ? bsearch(&key, f->items, f->count, sizeof(bfile), by_path) : NULL;
}

avtb_err avtb_bundle_manifest(const char *dir, char **out, size_t *len, avtb_error *err)
{
    bfiles f = {0};
    json_t *root = NULL, *files = NULL, *report = NULL, *scen = json_null();
    char *rp = NULL, *base = NULL, created[32];
    const char *run_id;
    const bfile *sy;
    double secs;
    unsigned used;
    int dirfd = -1;
    avtb_err r;

    *out = NULL;
    *len = 0;
    r = walk_bundle(dir, &f, err);
    if (r != AVTB_OK)
        goto out;
    if (f.nrefused > 0) {
        r = avtb_error_set(err, AVTB_ERR_INPUT, "cannot seal %s: %s%s", dir, f.refused[0],
                           f.nrefused > 1 ? " (and more)" : "");
        goto out;
    }
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot open %s", dir);
        goto out;
    }
    r = hash_files(dirfd, f.items, f.count, 2, NULL, NULL, &secs, &used, err);
    if (r != AVTB_OK)
        goto out;
    files = json_array();
    for (size_t i = 0; files != NULL && i < f.count; i++) {
        const bfile *b = &f.items[i];

        if (b->error != NULL) {
            r = avtb_error_set(err, AVTB_ERR_IO, "cannot seal %s: %s: %s", dir, b->path, b->error);
            goto out;
        }
        /* The size hashed, not the size listed: a file growing meanwhile stays consistent. */
        json_array_append_new(files, json_pack("{s:s, s:I, s:s}", "path", b->path, "size",
                                               (json_int_t)b->read, "sha256", b->sha256));
    }
    rp = avtb_path_join(dir, "report.json");
    base = strdup(dir);
    if (files == NULL || rp == NULL || base == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        goto out;
    }
    report = json_load_file(rp, 0, NULL);
    run_id = json_string_value(json_object_get(report, "run_id"));
    if (run_id == NULL)
        run_id = basename(base);
    sy = find_file(&f, "scenario.yaml");
    if (sy != NULL) {
        json_decref(scen);
        scen = json_pack("{s:s, s:s}", "file", "scenario.yaml", "sha256", sy->sha256);
    }
    avtb_utc_now(created);
    root = json_pack("{s:i, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "format",
                     AVTB_BUNDLE_FORMAT, "run_id", run_id, "created", created, "avtb_version",
                     AVTB_VERSION, "libvirt", report_version(report, "libvirt"), "qemu",
                     report_version(report, "qemu"), "scenario", scen, "base_image",
                     base_image(report), "product_files", product_files(dir), "files", files);
    scen = files = NULL; /* transferred, even when json_pack fails */
    if (root == NULL || (*out = json_dumps(root, JSON_OUT)) == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "cannot build manifest.json (out of memory)");
        goto out;
    }
    /* One newline at the end, so the file is a text file; signed with the rest. */
    {
        size_t n = strlen(*out);
        char *t = realloc(*out, n + 2);

        if (t == NULL) {
            free(*out);
            *out = NULL;
            r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
            goto out;
        }
        t[n] = '\n';
        t[n + 1] = '\0';
        *out = t;
        *len = n + 1;
    }
    r = AVTB_OK;
out:
    if (dirfd >= 0)
        close(dirfd);
    json_decref(root);
    json_decref(files);
    json_decref(scen);
    json_decref(report);
    free(rp);
    free(base);
    bfiles_clear(&f);
    return r;
}

static avtb_err sign(const char *key_path, const char *msg, size_t len, uint8_t sig[64],
                     char **siginfo, avtb_error *err)
{
    EVP_PKEY *k = NULL;
    EVP_MD_CTX *ctx = NULL;
    json_t *o = NULL;
    char fp[65], *pem = NULL, *text = NULL;
    size_t slen = AVTB_BUNDLE_SIG_LEN;
    avtb_err r;

    *siginfo = NULL;
    r = load_key(key_path, true, &k, err);
    if (r != AVTB_OK)
        goto out;
    r = fingerprint_of(k, fp, err);
    if (r != AVTB_OK)
        goto out;
    ctx = EVP_MD_CTX_new();
    /* Ed25519 signs the message itself (PureEdDSA): no digest is named. */
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) != 1 ||
        EVP_DigestSign(ctx, sig, &slen, (const unsigned char *)msg, len) != 1 ||
        slen != AVTB_BUNDLE_SIG_LEN) {
        r = openssl_error(err, AVTB_ERR_INTERNAL, "cannot sign manifest.json", key_path);
        goto out;
    }
    pem = public_pem(k);
    o = json_pack("{s:i, s:s, s:s, s:s, s:s?}", "format", AVTB_BUNDLE_FORMAT, "algorithm",
                  "ed25519", "signed_file", AVTB_BUNDLE_MANIFEST, "fingerprint", fp,
                  "public_key_pem", pem);
    if (pem == NULL || o == NULL || (text = json_dumps(o, JSON_OUT)) == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (asprintf(siginfo, "%s\n", text) < 0) {
        *siginfo = NULL;
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        goto out;
    }
    r = AVTB_OK;
out:
    json_decref(o);
    free(text);
    free(pem);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    return r;
}

avtb_err avtb_bundle_seal(const char *dir, const char *key_path, avtb_error *err)
{
    char *m = NULL, *mpath = avtb_path_join(dir, AVTB_BUNDLE_MANIFEST);
    char *spath = avtb_path_join(dir, AVTB_BUNDLE_SIG);
    char *ipath = avtb_path_join(dir, AVTB_BUNDLE_SIGINFO);
    char *siginfo = NULL;
    uint8_t sig[AVTB_BUNDLE_SIG_LEN];
    size_t len = 0;
    avtb_err r = AVTB_ERR_NOMEM;

    if (mpath == NULL || spath == NULL || ipath == NULL) {
        avtb_error_set(err, r, "out of memory");
        goto out;
    }
    if ((unlink(spath) < 0 && errno != ENOENT) || (unlink(ipath) < 0 && errno != ENOENT)) {
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot remove the old signature in %s", dir);
        goto out;
    }
    r = avtb_bundle_manifest(dir, &m, &len, err);
    /* Sign before writing anything, so a bad key leaves no half-sealed bundle. */
    if (r == AVTB_OK && key_path != NULL)
        r = sign(key_path, m, len, sig, &siginfo, err);
    if (r == AVTB_OK)
        r = avtb_write_file(mpath, m, len, 0644, err);
    if (r == AVTB_OK && key_path != NULL)
        r = avtb_write_file(spath, sig, sizeof(sig), 0644, err);
    if (r == AVTB_OK && key_path != NULL)
        r = avtb_write_file(ipath, siginfo, strlen(siginfo), 0644, err);
out:
    free(m);
    free(siginfo);
    free(mpath);
    free(spath);
    free(ipath);
    return r;
}

/* ---- verification ---- */

avtb_err avtb_bundle_check_add(avtb_bundle_check *c, const char *file, const char *fmt, ...)
{
    avtb_bundle_problem *n = reallocarray(c->problems, c->nproblems + 1, sizeof(*n));
    va_list ap;
    char *what = NULL, *f = strdup(file);
    int rc;

    if (n == NULL || f == NULL) {
        free(f);
        return AVTB_ERR_NOMEM;
    }
    c->problems = n;
    va_start(ap, fmt);
    rc = vasprintf(&what, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        free(f);
        return AVTB_ERR_NOMEM;
    }
    c->problems[c->nproblems].file = f;
    c->problems[c->nproblems++].what = what;
    return AVTB_OK;
}

void avtb_bundle_check_clear(avtb_bundle_check *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nproblems; i++) {
        free(c->problems[i].file);
        free(c->problems[i].what);
    }
    free(c->problems);
    memset(c, 0, sizeof(*c));
}

static bool is_hex64(const char *s)
{
    if (s == NULL || strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* A relative path with no empty, "." or ".." component. */
static bool path_ok(const char *p)
{
    const char *s = p;

    if (p[0] == '\0' || p[0] == '/' || !name_ok(p) || is_seal_file(p))
        return false;
    for (;;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);

        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        if (e == NULL)
            return true;
        s = e + 1;
    }
}

/* Reads the manifest's file list into want (sorted, as the manifest must be). */
static avtb_err parse_manifest(const uint8_t *buf, size_t len, bfiles *want, bool *listed,
                               avtb_bundle_check *c)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr), *files, *v;
    size_t i;
    avtb_err r = AVTB_OK;

    *listed = false;
    if (root == NULL) {
        avtb_bundle_check_add(c, AVTB_BUNDLE_MANIFEST, "not valid JSON (line %d, column %d: %s)",
                              jerr.line, jerr.column, jerr.text);
        return AVTB_OK;
    }
    if (json_integer_value(json_object_get(root, "format")) != AVTB_BUNDLE_FORMAT ||
        !json_is_integer(json_object_get(root, "format")))
        avtb_bundle_check_add(c, AVTB_BUNDLE_MANIFEST,
                              "\"format\" is not %d; this avtb reads format %d only",
                              AVTB_BUNDLE_FORMAT, AVTB_BUNDLE_FORMAT);
    files = json_object_get(root, "files");
    if (!json_is_array(files))
        avtb_bundle_check_add(c, AVTB_BUNDLE_MANIFEST, "no \"files\" list");
    *listed = json_is_array(files);
    json_array_foreach(files, i, v)
    {
        const char *path = NULL, *sha = NULL;
        json_int_t size = -1;
        bfile *b;

        if (json_unpack(v, "{s:s, s:I, s:s !}", "path", &path, "size", &size, "sha256", &sha) < 0 ||
            size < 0 || !is_hex64(sha) || !path_ok(path)) {
            avtb_bundle_check_add(c, AVTB_BUNDLE_MANIFEST,
                                  "files[%zu] is malformed (wants a relative path, a size and a "
                                  "lower-case hex SHA-256, nothing else)",
                                  i);
            continue;
        }
        if (want->count > 0 && strcmp(want->items[want->count - 1].path, path) >= 0) {
            avtb_bundle_check_add(c, AVTB_BUNDLE_MANIFEST,
                                  "files[%zu] (%s) is out of order or listed twice", i, path);
            continue;
        }
        b = bfiles_push(want);
        if (b == NULL || (b->path = strdup(path)) == NULL) {
            r = AVTB_ERR_NOMEM;
            break;
        }
        b->listed = true;
        b->want_size = (uint64_t)size;
        memcpy(b->want_sha256, sha, 65);
    }
    json_decref(root);
    return r;
}

/* Reads manifest.sig.json: the embedded key, checked against its fingerprint. */
static EVP_PKEY *parse_siginfo(const uint8_t *buf, size_t len, avtb_bundle_check *c)
{
    json_error_t jerr;
    json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *alg = NULL, *signed_file = NULL, *fp = NULL, *pem = NULL;
    json_int_t format = 0;
    EVP_PKEY *k = NULL;
    char have[65], *canon = NULL;

    if (o == NULL) {
        avtb_bundle_check_add(c, AVTB_BUNDLE_SIGINFO, "not valid JSON (line %d, column %d: %s)",
                              jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (json_unpack(o, "{s:I, s:s, s:s, s:s, s:s !}", "format", &format, "algorithm", &alg,
                    "signed_file", &signed_file, "fingerprint", &fp, "public_key_pem", &pem) < 0 ||
        format != AVTB_BUNDLE_FORMAT || strcmp(alg, "ed25519") != 0 ||
        strcmp(signed_file, AVTB_BUNDLE_MANIFEST) != 0 || !is_hex64(fp)) {
        avtb_bundle_check_add(c, AVTB_BUNDLE_SIGINFO,
                              "not in the form avtb writes (format 1, algorithm ed25519, "
                              "signed_file manifest.json, fingerprint, public_key_pem)");
        goto out;
    }
    memcpy(c->fingerprint, fp, 65);
    k = key_from_pem((const uint8_t *)pem, strlen(pem), false);
    ERR_clear_error();
    /* The PEM must be exactly what avtb writes, so no byte of it goes unchecked. */
    canon = k ? public_pem(k) : NULL;
    if (k == NULL || canon == NULL || strcmp(canon, pem) != 0) {
        avtb_bundle_check_add(c, AVTB_BUNDLE_SIGINFO,
                              "public_key_pem is not an Ed25519 public "
                              "key in PEM as avtb writes it");
        EVP_PKEY_free(k);
        k = NULL;
        goto out;
    }
    if (fingerprint_of(k, have, NULL) != AVTB_OK || strcmp(have, fp) != 0) {
        avtb_bundle_check_add(c, AVTB_BUNDLE_SIGINFO,
                              "the fingerprint %s is not the embedded key's (%s)", fp, have);
        EVP_PKEY_free(k);
        k = NULL;
    }
out:
    free(canon);
    json_decref(o);
    return k;
}

/* Reads a file of the bundle that may be missing; *present false then. */
static avtb_err read_opt(const char *dir, const char *name, size_t max, uint8_t **buf, size_t *len,
                         bool *present, avtb_error *err)
{
    char *p = avtb_path_join(dir, name);
    struct stat st;
    avtb_err r;

    *buf = NULL;
    *len = 0;
    *present = false;
    if (p == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    if (lstat(p, &st) < 0 && errno == ENOENT) {
        free(p);
        return AVTB_OK;
    }
    *present = true;
    if (lstat(p, &st) == 0 && !S_ISREG(st.st_mode)) {
        free(p);
        return avtb_error_set(err, AVTB_ERR_INPUT, "%s/%s is not a regular file", dir, name);
    }
    r = avtb_read_file(p, max, buf, len, err);
    free(p);
    return r;
}

static void check_signature(const char *dir, const uint8_t *manifest, size_t mlen, EVP_PKEY *given,
                            const char *given_path, avtb_bundle_check *c, avtb_error *err,
                            avtb_err *r)
{
    uint8_t *sig = NULL, *info = NULL;
    size_t slen = 0, ilen = 0;
    bool has_sig, has_info;
    EVP_PKEY *named = NULL, *use;
    EVP_MD_CTX *ctx = NULL;
    char gfp[65];
    bool other_key = false; /* --key is not the key the bundle names */

    *r = read_opt(dir, AVTB_BUNDLE_SIG, 4096, &sig, &slen, &has_sig, err);
    if (*r == AVTB_OK)
        *r = read_opt(dir, AVTB_BUNDLE_SIGINFO, 1u << 20, &info, &ilen, &has_info, err);
    if (*r == AVTB_ERR_INPUT) { /* a link or a directory in their place */
        avtb_bundle_check_add(c, has_info ? AVTB_BUNDLE_SIGINFO : AVTB_BUNDLE_SIG, "%s", err->msg);
        avtb_error_clear(err);
        *r = AVTB_OK;
        goto out;
    }
    if (*r != AVTB_OK)
        goto out;
    c->is_signed = has_sig || has_info;
    if (!has_sig && !has_info) {
        if (given != NULL)
            avtb_bundle_check_add(c, AVTB_BUNDLE_SIG,
                                  "missing: the bundle is not signed, so it cannot be shown to "
                                  "come from the key %s",
                                  given_path);
        goto out;
    }
    if (!has_sig || !has_info) {
        avtb_bundle_check_add(c, has_sig ? AVTB_BUNDLE_SIGINFO : AVTB_BUNDLE_SIG,
                              "missing, though %s is there",
                              has_sig ? AVTB_BUNDLE_SIG : AVTB_BUNDLE_SIGINFO);
        if (!has_info)
            goto out;
    }
    named = parse_siginfo(info, ilen, c);
    if (given != NULL) {
        c->key_given = true;
        if (fingerprint_of(given, gfp, NULL) == AVTB_OK && c->fingerprint[0] != '\0' &&
            strcmp(gfp, c->fingerprint) != 0 && (other_key = true))
            avtb_bundle_check_add(c, AVTB_BUNDLE_SIGINFO,
                                  "the bundle names the key %s, not %s (%s): it was not sealed "
                                  "by that key",
                                  c->fingerprint, given_path, gfp);
    }
    if (!has_sig)
        goto out;
    use = given ? given : named;
    if (slen != AVTB_BUNDLE_SIG_LEN) {
        avtb_bundle_check_add(c, AVTB_BUNDLE_SIG,
                              "%zu bytes; an Ed25519 signature is %d (truncated or not one)", slen,
                              AVTB_BUNDLE_SIG_LEN);
        goto out;
    }
    if (use == NULL)
        goto out; /* the key could not be read: said above */
    ctx = EVP_MD_CTX_new();
    if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, use) == 1 &&
        EVP_DigestVerify(ctx, sig, slen, manifest, mlen) == 1) {
        c->signature_ok = true;
    } else if (other_key) {
        avtb_bundle_check_add(c, AVTB_BUNDLE_SIG, "is not a signature by the key %s", given_path);
    } else {
        avtb_bundle_check_add(c, AVTB_BUNDLE_MANIFEST,
                              "the signature in %s does not verify with the key %s: %s or %s was "
                              "changed after sealing",
                              AVTB_BUNDLE_SIG, given ? given_path : "the bundle names",
                              AVTB_BUNDLE_MANIFEST, AVTB_BUNDLE_SIG);
    }
    ERR_clear_error();
out:
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(named);
    free(sig);
    free(info);
}

/* Merges the walk (have) into the manifest's list (want): one list, sorted. */
static avtb_err merge(bfiles *want, bfiles *have, bool listed, avtb_bundle_check *c)
{
    size_t i = 0, j = 0, n = want->count;

    for (; j < have->count; j++) {
        bfile *h = &have->items[j];
        int cmp = 1;

        while (i < n && (cmp = strcmp(want->items[i].path, h->path)) < 0)
            i++;
        if (i < n && cmp == 0) {
            bfile *w = &want->items[i];

            w->present = true;
            w->size = h->size;
            w->hash = h->size == w->want_size;
            if (!w->hash)
                avtb_bundle_check_add(c, w->path, "%llu bytes; the manifest says %llu",
                                      (unsigned long long)h->size,
                                      (unsigned long long)w->want_size);
        } else if (listed) { /* else every file would be "added": said once above */
            avtb_bundle_check_add(c, h->path, "not in the manifest: a file was added");
        }
    }
    for (i = 0; i < n; i++)
        if (!want->items[i].present)
            avtb_bundle_check_add(c, want->items[i].path,
                                  "listed in the manifest but missing: a file was deleted");
    for (i = 0; i < have->nrefused; i++) {
        const char *colon = strstr(have->refused[i], ": ");
        char *file = strndup(have->refused[i], colon ? (size_t)(colon - have->refused[i]) : 0);

        if (file == NULL)
            return AVTB_ERR_NOMEM;
        avtb_bundle_check_add(c, file, "%s", colon ? colon + 2 : have->refused[i]);
        free(file);
    }
    return AVTB_OK;
}

avtb_err avtb_bundle_verify(const char *dir, const avtb_bundle_verify_opts *o,
                            avtb_bundle_check *out, avtb_error *err)
{
    uint8_t *m = NULL;
    size_t mlen = 0;
    bool present = false, listed = false;
    bfiles want = {0}, have = {0};
    EVP_PKEY *given = NULL;
    struct stat st;
    int dirfd = -1;
    avtb_err r;

    memset(out, 0, sizeof(*out));
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return avtb_error_set(err, AVTB_ERR_NOT_FOUND, "%s is not an evidence directory", dir);
    if (o->key_path != NULL) {
        r = load_key(o->key_path, false, &given, err);
        if (r != AVTB_OK) {
            r = AVTB_ERR_USAGE;
            goto out;
        }
    }
    r = read_opt(dir, AVTB_BUNDLE_MANIFEST, AVTB_BUNDLE_MANIFEST_MAX, &m, &mlen, &present, err);
    if (r == AVTB_OK && !present)
        r = avtb_error_set(err, AVTB_ERR_NOT_FOUND,
                           "%s has no %s: it is not a sealed bundle (a run seals its evidence "
                           "when it ends)",
                           dir, AVTB_BUNDLE_MANIFEST);
    if (r != AVTB_OK)
        goto out;
    r = parse_manifest(m, mlen, &want, &listed, out);
    if (r == AVTB_OK) {
        avtb_error sig_err = {0};

        check_signature(dir, m, mlen, given, o->key_path, out, &sig_err, &r);
        if (r != AVTB_OK)
            avtb_error_set(err, r, "%s", sig_err.msg);
    }
    if (r == AVTB_OK)
        r = walk_bundle(dir, &have, err);
    if (r == AVTB_OK)
        r = merge(&want, &have, listed, out);
    if (r == AVTB_OK && (dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot open %s", dir);
    if (r == AVTB_OK)
        r = hash_files(dirfd, want.items, want.count, o->threads, o->concurrent, o->arg,
                       &out->hash_seconds, &out->threads, err);
    if (r != AVTB_OK)
        goto out;
    out->files = want.count;
    for (size_t i = 0; i < want.count; i++) {
        const bfile *b = &want.items[i];

        if (!b->hash)
            continue;
        if (b->error != NULL) {
            avtb_bundle_check_add(out, b->path, "%s", b->error);
            continue;
        }
        out->hashed++;
        out->bytes += b->read;
        if (b->read != b->want_size)
            avtb_bundle_check_add(out, b->path, "changed while it was read (%llu bytes read)",
                                  (unsigned long long)b->read);
        else if (strcmp(b->sha256, b->want_sha256) != 0)
            avtb_bundle_check_add(out, b->path, "SHA-256 differs from the manifest");
    }
out:
    if (r == AVTB_ERR_NOMEM && err != NULL && err->msg[0] == '\0')
        avtb_error_set(err, r, "out of memory");
    if (dirfd >= 0)
        close(dirfd);
    EVP_PKEY_free(given);
    bfiles_clear(&want);
    bfiles_clear(&have);
    free(m);
    if (r != AVTB_OK)
        avtb_bundle_check_clear(out);
    return r;
}
