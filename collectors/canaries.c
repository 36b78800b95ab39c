/* SPDX-License-Identifier: Apache-2.0 */
/* Token and honey document sources for the analysis; see canaries.h. */
#include "collectors/canaries.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/util.h"

/* Honey files larger than this are hashed but not searched for tokens. */
#define HONEY_FILE_MAX  (256u << 20)
#define HONEY_DIR_DEPTH 32

typedef struct cdoc {
    char *path;
    uint8_t md5[16], sha1[20], sha256[32];
    bool has_md5, has_sha1, has_sha256;
    size_t *tokens;
    size_t ntokens;
} cdoc;

struct avtb_canaries {
    char **tokens;
    const char **token_docs; /* borrowed from docs[].path */
    size_t ntokens, cap;
    cdoc *docs;
    size_t ndocs, dcap;
};

avtb_canaries *avtb_canaries_new(void)
{
    return calloc(1, sizeof(avtb_canaries));
}

void avtb_canaries_free(avtb_canaries *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->ntokens; i++)
        free(c->tokens[i]);
    free(c->tokens);
    free(c->token_docs);
    for (size_t i = 0; i < c->ndocs; i++) {
        free(c->docs[i].path);
        free(c->docs[i].tokens);
    }
    free(c->docs);
    free(c);
}

size_t avtb_canaries_ntokens(const avtb_canaries *c)
{
    return c->ntokens;
}

size_t avtb_canaries_ndocs(const avtb_canaries *c)
{
    return c->ndocs;
}

const char *const *avtb_canaries_token_docs(const avtb_canaries *c)
{
    return c->token_docs;
}

static size_t find_token(const avtb_canaries *c, const char *t)
{
    for (size_t i = 0; i < c->ntokens; i++)
        if (strcmp(c->tokens[i], t) == 0)
            return i;
    return SIZE_MAX;
}

/* Adds t (copied) if new; *index is its index either way. */
static avtb_err add_token(avtb_canaries *c, const char *t, size_t *index, avtb_error *err)
{
    size_t i = find_token(c, t);

    if (i != SIZE_MAX) {
        *index = i;
        return AVTB_OK;
    }
    if (c->ntokens == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        char **tk = reallocarray(c->tokens, cap, sizeof(*tk));
        const char **td;

        if (tk == NULL)
            return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        c->tokens = tk;
        td = reallocarray(c->token_docs, cap, sizeof(*td));
        if (td == NULL)
            return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        c->token_docs = td;
        c->cap = cap;
    }
    if ((c->tokens[c->ntokens] = strdup(t)) == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    c->token_docs[c->ntokens] = NULL;
    *index = c->ntokens++;
    return AVTB_OK;
}

avtb_err avtb_canaries_load_tokens(avtb_canaries *c, const char *path, avtb_error *err)
{
    char *text = NULL;
    size_t len, line = 0;
    avtb_err r = avtb_read_file(path, 64u << 20, (uint8_t **)&text, &len, err);

    if (r != AVTB_OK)
        return r;
    if (memchr(text, '\0', len) != NULL) {
        r = avtb_error_set(err, AVTB_ERR_INPUT,
                           "%s: holds a NUL byte; a tokens file is text, "
                           "one token per line",
                           path);
        goto out;
    }
    /* strtok_r would skip empty lines without counting them. */
    for (char *p = text, *nl; p != NULL && *p != '\0'; p = nl ? nl + 1 : NULL) {
        const char *why;
        size_t idx, n;

        nl = strchr(p, '\n');
        if (nl != NULL)
            *nl = '\0';
        line++;
        n = strlen(p);
        if (n > 0 && p[n - 1] == '\r')
            p[--n] = '\0';
        if (n == 0)
            continue;
        why = avtb_token_problem(p);
        if (why != NULL) {
            r = avtb_error_set(err, AVTB_ERR_INPUT,
                               "%s:%zu: token '%.40s' %s; tokens are 8 to 256 "
                               "printable ASCII characters, one per line",
                               path, line, p, why);
            goto out;
        }
        r = add_token(c, p, &idx, err);
        if (r != AVTB_OK)
            goto out;
    }
    if (c->ntokens == 0) {
        r = avtb_error_set(err, AVTB_ERR_INPUT, "%s: holds no token; write one per line", path);
        goto out;
    }
    r = AVTB_OK;
out:
    free(text);
    return r;
}

static cdoc *new_doc(avtb_canaries *c, const char *path, avtb_error *err)
{
    cdoc *d;

    if (c->ndocs == c->dcap) {
        size_t cap = c->dcap ? c->dcap * 2 : 16;
        cdoc *docs = reallocarray(c->docs, cap, sizeof(*docs));

        if (docs == NULL) {
            avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
            return NULL;
        }
        /* token_docs borrow the paths, which do not move: only the array does. */
        c->docs = docs;
        c->dcap = cap;
    }
    d = &c->docs[c->ndocs];
    memset(d, 0, sizeof(*d));
    if ((d->path = strdup(path)) == NULL) {
        avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    c->ndocs++;
    return d;
}

static avtb_err doc_add_token(avtb_canaries *c, cdoc *d, size_t token, avtb_error *err)
{
    size_t *t = reallocarray(d->tokens, d->ntokens + 1, sizeof(*t));

    if (t == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    d->tokens = t;
    d->tokens[d->ntokens++] = token;
    if (c->token_docs[token] == NULL)
        c->token_docs[token] = d->path;
    return AVTB_OK;
}

static bool parse_hex(const char *hex, uint8_t *out, size_t n)
{
    if (hex == NULL || strlen(hex) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned v;

        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return false;
        out[i] = (uint8_t)v;
    }
    return true;
}

/* The document named path, if one was added already. */
static cdoc *find_doc(avtb_canaries *c, const char *path)
{
    for (size_t i = 0; i < c->ndocs; i++)
        if (strcmp(c->docs[i].path, path) == 0)
            return &c->docs[i];
    return NULL;
}

avtb_err avtb_canaries_add(avtb_canaries *c, const char *token, const char *doc_path,
                           const char *md5, const char *sha1, const char *sha256, avtb_error *err)
{
    const char *why = avtb_token_problem(token);
    size_t idx;
    cdoc *d;
    avtb_err r;

    if (why != NULL)
        return avtb_error_set(err, AVTB_ERR_INPUT, "token '%.40s' %s", token, why);
    r = add_token(c, token, &idx, err);
    if (r != AVTB_OK || doc_path == NULL)
        return r;
    d = find_doc(c, doc_path);
    if (d == NULL && (d = new_doc(c, doc_path, err)) == NULL)
        return AVTB_ERR_NOMEM;
    d->has_md5 = d->has_md5 || parse_hex(md5, d->md5, sizeof(d->md5));
    d->has_sha1 = d->has_sha1 || parse_hex(sha1, d->sha1, sizeof(d->sha1));
    d->has_sha256 = d->has_sha256 || parse_hex(sha256, d->sha256, sizeof(d->sha256));
    return doc_add_token(c, d, idx, err);
}

/*
 * A token inside an archive member: the member is a document of its own
 * ("ARCHIVE/MEMBER"), so a lookup of the member's hash or its file name is
 * a metadata finding too. The archive was added first and stays the
 * token's document.
 */
static avtb_err add_member(avtb_canaries *c, const char *path, size_t i, const char *token,
                           const char *doc, json_t *member, avtb_error *err)
{
    const char *name = NULL, *md5 = NULL, *sha1 = NULL, *sha256 = NULL;
    json_error_t jerr;
    char *mpath;
    avtb_err r;

    if (json_unpack_ex(member, &jerr, 0, "{s:s, s?s, s?s, s?s}", "name", &name, "md5", &md5, "sha1",
                       &sha1, "sha256", &sha256) < 0)
        return avtb_error_set(err, AVTB_ERR_INPUT, "%s: tokens[%zu].member: %s", path, i,
                              jerr.text);
    if (asprintf(&mpath, "%s/%s", doc, name) < 0)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    r = avtb_canaries_add(c, token, mpath, md5, sha1, sha256, err);
    free(mpath);
    return r;
}

avtb_err avtb_canaries_load_registry(avtb_canaries *c, const char *path, avtb_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr), *list, *e;
    avtb_err r = AVTB_ERR_INPUT;
    size_t i;

    if (root == NULL)
        return avtb_error_set(err, AVTB_ERR_INPUT, "%s:%d:%d: %s", path, jerr.line, jerr.column,
                              jerr.text);
    list = json_object_get(root, "tokens");
    if (!json_is_array(list)) {
        avtb_error_set(err, r,
                       "%s: no \"tokens\" array; is this a token registry "
                       "(tokens.json of an evidence directory)?",
                       path);
        goto out;
    }
    /* Several tokens of one document are several entries: avtb_canaries_add keeps one
     * document per path, so its hashes and name are searched once. */
    json_array_foreach(list, i, e)
    {
        const char *token = NULL, *doc = NULL, *md5 = NULL, *sha1 = NULL, *sha256 = NULL;
        json_t *member = NULL;

        if (json_unpack_ex(e, &jerr, 0, "{s:s, s?s, s?s, s?s, s?s, s?o}", "token", &token,
                           "document", &doc, "md5", &md5, "sha1", &sha1, "sha256", &sha256,
                           "member", &member) < 0) {
            avtb_error_set(err, r, "%s: tokens[%zu]: %s", path, i, jerr.text);
            goto out;
        }
        if (avtb_token_problem(token) != NULL) {
            avtb_error_set(err, r, "%s: tokens[%zu]: token '%.40s' %s", path, i, token,
                           avtb_token_problem(token));
            goto out;
        }
        r = avtb_canaries_add(c, token, doc, md5, sha1, sha256, err);
        if (r == AVTB_OK && member != NULL && doc != NULL)
            r = add_member(c, path, i, token, doc, member, err);
        if (r != AVTB_OK)
            goto out;
        r = AVTB_ERR_INPUT;
    }
    r = AVTB_OK;
out:
    json_decref(root);
    return r;
}

static avtb_err digest(const EVP_MD *md, const char *buf, size_t len, uint8_t *out, avtb_error *err)
{
    unsigned n = 0;

    if (EVP_Digest(buf, len, out, &n, md, NULL) != 1)
        return avtb_error_set(err, AVTB_ERR_INTERNAL, "OpenSSL digest failed");
    return AVTB_OK;
}

static avtb_err add_honey_file(avtb_canaries *c, const char *path, avtb_error *err)
{
    char *buf = NULL;
    size_t len;
    cdoc *d = NULL;
    bool any = false;
    avtb_err r = avtb_read_file(path, HONEY_FILE_MAX, (uint8_t **)&buf, &len, err);

    if (r != AVTB_OK)
        return r;
    for (size_t i = 0; i < c->ntokens && r == AVTB_OK; i++) {
        if (memmem(buf, len, c->tokens[i], strlen(c->tokens[i])) == NULL)
            continue;
        if (d == NULL) {
            d = find_doc(c, path);
            if (d == NULL && (d = new_doc(c, path, err)) == NULL) {
                r = AVTB_ERR_NOMEM;
                break;
            }
        }
        any = true;
        r = doc_add_token(c, d, i, err);
    }
    if (r == AVTB_OK && d != NULL) {
        r = digest(EVP_md5(), buf, len, d->md5, err);
        if (r == AVTB_OK)
            r = digest(EVP_sha1(), buf, len, d->sha1, err);
        if (r == AVTB_OK)
            r = digest(EVP_sha256(), buf, len, d->sha256, err);
        d->has_md5 = d->has_sha1 = d->has_sha256 = r == AVTB_OK;
    }
    if (r == AVTB_OK && !any)
        avtb_warn("%s carries none of the tokens; its hashes and name are not searched", path);
    free(buf);
    return r;
}

static avtb_err walk_dir(avtb_canaries *c, const char *dir, int depth, avtb_error *err)
{
    DIR *d;
    struct dirent *e;
    avtb_err r = AVTB_OK;

    if (depth > HONEY_DIR_DEPTH)
        return avtb_error_set(err, AVTB_ERR_INPUT, "%s: nested deeper than %d directories", dir,
                              HONEY_DIR_DEPTH);
    d = opendir(dir);
    if (d == NULL)
        return avtb_error_set(err, errno == ENOENT ? AVTB_ERR_INPUT : AVTB_ERR_IO,
                              "%s: cannot open the honey directory: %s", dir, strerror(errno));
    while (r == AVTB_OK && (e = readdir(d)) != NULL) {
        struct stat st;
        char *path;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        path = avtb_path_join(dir, e->d_name);
        if (path == NULL) {
            r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
            break;
        }
        if (lstat(path, &st) < 0)
            r = avtb_error_set(err, AVTB_ERR_IO, "%s: %s", path, strerror(errno));
        else if (S_ISDIR(st.st_mode))
            r = walk_dir(c, path, depth + 1, err);
        else if (S_ISREG(st.st_mode))
            r = add_honey_file(c, path, err);
        free(path);
    }
    closedir(d);
    return r;
}

avtb_err avtb_canaries_load_honey_dir(avtb_canaries *c, const char *dir, avtb_error *err)
{
    size_t before = c->ndocs;
    avtb_err r = walk_dir(c, dir, 0, err);

    if (r == AVTB_OK && c->ndocs == before)
        avtb_warn("%s: no file in it carries one of the tokens", dir);
    return r;
}

avtb_err avtb_canaries_compile(const avtb_canaries *c, avtb_patterns **out, avtb_error *err)
{
    avtb_canary_doc *docs = calloc(c->ndocs + 1, sizeof(*docs));
    avtb_err r;

    *out = NULL;
    if (docs == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->ndocs; i++) {
        const cdoc *d = &c->docs[i];

        docs[i].name = d->path;
        docs[i].md5 = d->has_md5 ? d->md5 : NULL;
        docs[i].sha1 = d->has_sha1 ? d->sha1 : NULL;
        docs[i].sha256 = d->has_sha256 ? d->sha256 : NULL;
        docs[i].tokens = d->tokens;
        docs[i].ntokens = d->ntokens;
    }
    r = avtb_patterns_new((const char *const *)c->tokens, c->ntokens, docs, c->ndocs, out, err);
    free(docs);
    return r;
}
