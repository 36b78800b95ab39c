/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The signed evidence bundle: at the end of a run the evidence directory is
 * sealed with manifest.json (the SHA-256 and size of every file in it) and,
 * with a lab key, an Ed25519 signature over the manifest's exact bytes
 * (manifest.sig, raw 64 bytes; manifest.sig.json names the key). `avtb
 * verify` checks a bundle; reports/BUNDLE.md has the format and the openssl
 * and sha256sum commands that check it by hand.
 */
#ifndef AVTB_BUNDLE_H
#define AVTB_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define AVTB_BUNDLE_FORMAT   1
#define AVTB_BUNDLE_MANIFEST "manifest.json"
#define AVTB_BUNDLE_SIG      "manifest.sig"      /* raw Ed25519 signature, 64 bytes */
#define AVTB_BUNDLE_SIGINFO  "manifest.sig.json" /* the signing key: PEM and fingerprint */
#define AVTB_BUNDLE_SIG_LEN  64
/* File names `avtb keygen` writes. */
#define AVTB_BUNDLE_KEY_PRIVATE "lab-key.pem"
#define AVTB_BUNDLE_KEY_PUBLIC  "lab-key.pub.pem"
/* Limits of a bundle: files in it, directory depth, manifest size. */
#define AVTB_BUNDLE_MAX_FILES    100000
#define AVTB_BUNDLE_MAX_DEPTH    32
#define AVTB_BUNDLE_MANIFEST_MAX (64u << 20)

/*
 * Makes an Ed25519 key pair in dir (created if missing): lab-key.pem
 * (PKCS#8 PEM, mode 0600) and lab-key.pub.pem. Refuses to overwrite either
 * (AVTB_ERR_INPUT). fingerprint: SHA-256 of the raw 32-byte public key, hex.
 */
avtb_err avtb_bundle_keygen(const char *dir, char fingerprint[65], avtb_error *err) AVTB_WUR;

/* Fingerprint of the Ed25519 key in a PEM file, public or private. */
avtb_err avtb_bundle_key_fingerprint(const char *path, char fingerprint[65],
                                     avtb_error *err) AVTB_WUR;

/*
 * Builds the text of dir's manifest.json (format in BUNDLE.md) without
 * writing it. *out is NUL-terminated, caller frees. A symbolic link or other
 * non-regular file in dir, or a name sha256sum could not check (control
 * characters, backslash, not UTF-8), is AVTB_ERR_INPUT naming it.
 */
avtb_err avtb_bundle_manifest(const char *dir, char **out, size_t *len, avtb_error *err) AVTB_WUR;

/*
 * Seals dir: writes manifest.json and, when key_path (the private PEM;
 * $AVTB_SIGNING_KEY in a run) is not NULL, manifest.sig and
 * manifest.sig.json. Removes a manifest.sig(.json) left from an earlier
 * seal first, so a bundle never carries a signature of another manifest.
 */
avtb_err avtb_bundle_seal(const char *dir, const char *key_path, avtb_error *err) AVTB_WUR;

/* One thing wrong with a bundle: the file it is about and a sentence. */
typedef struct avtb_bundle_problem {
    char *file;
    char *what;
} avtb_bundle_problem;

/* What avtb_bundle_verify found; owns its strings (avtb_bundle_check_clear). */
typedef struct avtb_bundle_check {
    avtb_bundle_problem *problems;
    size_t nproblems;
    bool is_signed;       /* manifest.sig and manifest.sig.json are there */
    bool signature_ok;    /* ... and the signature verifies with the key checked */
    bool key_given;       /* checked against the --key file, not the key the bundle names */
    char fingerprint[65]; /* of the key the bundle names ("" unsigned) */
    size_t files;         /* files listed in the manifest */
    size_t hashed;        /* files hashed */
    uint64_t bytes;       /* bytes hashed */
    double hash_seconds;  /* from the first read to the last digest */
    unsigned threads;     /* hashing threads used */
} avtb_bundle_check;

typedef struct avtb_bundle_verify_opts {
    const char *key_path; /* public (or private) PEM; NULL: the key the bundle names */
    unsigned threads;     /* hashing threads, the caller's included; 0: 2 */
    /* Run on the calling thread while the other threads hash the files (the
     * re-analysis); the caller then helps hash what is left. May be NULL. */
    void (*concurrent)(void *arg);
    void *arg;
} avtb_bundle_verify_opts;

/*
 * Checks the bundle dir: manifest.json parses; every file it lists is there
 * with its size and SHA-256 and no other file is; the signature verifies.
 * Every mismatch is a problem in *out (set empty on entry); AVTB_OK then.
 * Fails only when the bundle cannot be checked at all: no directory, no
 * manifest.json, unreadable (AVTB_ERR_NOT_FOUND, AVTB_ERR_IO), or the key
 * file cannot be used (AVTB_ERR_USAGE), or out of memory.
 */
avtb_err avtb_bundle_verify(const char *dir, const avtb_bundle_verify_opts *o,
                            avtb_bundle_check *out, avtb_error *err) AVTB_WUR;

/* Adds a problem (the re-analysis adds its own). */
avtb_err avtb_bundle_check_add(avtb_bundle_check *c, const char *file, const char *fmt, ...)
    AVTB_PRINTF(3, 4);
void avtb_bundle_check_clear(avtb_bundle_check *c);

#endif
