/* SPDX-License-Identifier: Apache-2.0 */
/* Honey documents, their tokens and the token registry; see honeydoc.h. */
#include "guests/honeydoc.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static const char *const place_names[] = {
    [AVTB_PLACE_BODY] = "body",
    [AVTB_PLACE_METADATA] = "metadata",
    [AVTB_PLACE_BEACON] = "beacon",
    [AVTB_PLACE_FILENAME] = "filename",
};

const char *avtb_token_place_name(avtb_token_place p)
{
    return p < AVTB_PLACE_COUNT ? place_names[p] : "unknown";
}

void avtb_honeydoc_free(avtb_honeydoc *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->ntokens; i++) {
        free(d->tokens[i].where);
        free(d->tokens[i].member);
    }
    free(d->tokens);
    for (size_t i = 0; i < d->nmembers; i++)
        free(d->members[i].name);
    free(d->members);
    free(d->guest_path);
    free(d->content);
    free(d->marking);
    free(d->title);
    free(d->beacon_host);
    free(d);
}

avtb_honeydoc *avtb_honeydoc_new(const char *guest_path)
{
    avtb_honeydoc *d = calloc(1, sizeof(*d));

    if (d == NULL || (d->guest_path = strdup(guest_path)) == NULL) {
        free(d);
        return NULL;
    }
    d->mode = 0644;
    return d;
}

static void digest_hex(const EVP_MD *md, const uint8_t *buf, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char v[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    EVP_Digest(buf, len, v, &n, md, NULL);
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = digits[v[i] >> 4];
        out[2 * i + 1] = digits[v[i] & 15];
    }
    out[2 * n] = '\0';
}

void avtb_honeydoc_digests(const uint8_t *buf, size_t len, char md5[33], char sha1[41],
                           char sha256[65])
{
    digest_hex(EVP_md5(), buf, len, md5);
    digest_hex(EVP_sha1(), buf, len, sha1);
    digest_hex(EVP_sha256(), buf, len, sha256);
}

void avtb_honeydoc_set_content(avtb_honeydoc *d, uint8_t *buf, size_t len)
{
    free(d->content);
    d->content = buf;
    d->len = len;
    avtb_honeydoc_digests(buf, len, d->md5, d->sha1, d->sha256);
}

avtb_err avtb_honeydoc_add_token(avtb_honeydoc *d, const char *token, avtb_token_place place,
                                 const char *where, const char *member, avtb_error *err)
{
    avtb_honeytoken *t;

    if (strlen(token) != AVTB_TOKEN_LEN || place >= AVTB_PLACE_COUNT)
        return avtb_error_set(err, AVTB_ERR_INTERNAL, "bad token '%.40s' for %s", token,
                              d->guest_path);
    t = reallocarray(d->tokens, d->ntokens + 1, sizeof(*t));
    if (t == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    d->tokens = t;
    t = &d->tokens[d->ntokens];
    memset(t, 0, sizeof(*t));
    memcpy(t->token, token, AVTB_TOKEN_LEN + 1);
    t->place = place;
    if ((where != NULL && (t->where = strdup(where)) == NULL) ||
        (member != NULL && (t->member = strdup(member)) == NULL)) {
        free(t->where);
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    }
    d->ntokens++;
    if (place == AVTB_PLACE_BODY && d->token[0] == '\0')
        memcpy(d->token, token, AVTB_TOKEN_LEN + 1);
    return AVTB_OK;
}

avtb_err avtb_honeydoc_add_member(avtb_honeydoc *d, const char *name, const uint8_t *buf,
                                  size_t len, avtb_error *err)
{
    avtb_honeymember *m = reallocarray(d->members, d->nmembers + 1, sizeof(*m));

    if (m == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    d->members = m;
    m = &d->members[d->nmembers];
    memset(m, 0, sizeof(*m));
    if ((m->name = strdup(name)) == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
    m->len = len;
    avtb_honeydoc_digests(buf, len, m->md5, m->sha1, m->sha256);
    d->nmembers++;
    return AVTB_OK;
}

avtb_err avtb_honeydoc_render(const char *tmpl, const char *guest_path, unsigned uid, unsigned gid,
                              unsigned mode, avtb_honeydoc **out, avtb_error *err)
{
    avtb_err r = AVTB_ERR_NOMEM;
    avtb_honeydoc *d = NULL;
    const size_t pl = strlen(AVTB_TOKEN_PLACEHOLDER);
    size_t count = 0, cap;
    const char *p;
    char token[AVTB_TOKEN_LEN + 1];
    uint8_t *content = NULL;
    char *w;

    *out = NULL;
    d = avtb_honeydoc_new(guest_path);
    if (d == NULL)
        goto out;
    d->uid = uid;
    d->gid = gid;
    d->mode = mode;
    r = avtb_token_new(token, err);
    if (r != AVTB_OK)
        goto out;
    for (p = tmpl; (p = strstr(p, AVTB_TOKEN_PLACEHOLDER)) != NULL; p += pl)
        count++;
    if (count == 0) {
        r = avtb_error_set(err, AVTB_ERR_INPUT, "template for %s has no %s placeholder", guest_path,
                           AVTB_TOKEN_PLACEHOLDER);
        goto out;
    }
    r = avtb_honeydoc_add_token(d, token, AVTB_PLACE_BODY, "template placeholder", NULL, err);
    if (r != AVTB_OK)
        goto out;
    r = AVTB_ERR_NOMEM;
    /* The token is longer than the placeholder, so this is an upper bound. */
    cap = strlen(tmpl) + count * AVTB_TOKEN_LEN + 1;
    content = malloc(cap);
    if (content == NULL)
        goto out;
    w = (char *)content;
    for (p = tmpl;;) {
        const char *hit = strstr(p, AVTB_TOKEN_PLACEHOLDER);
        size_t lit = hit ? (size_t)(hit - p) : strlen(p);

        memcpy(w, p, lit);
        w += lit;
        if (hit == NULL)
            break;
        memcpy(w, token, AVTB_TOKEN_LEN);
        w += AVTB_TOKEN_LEN;
        p = hit + pl;
    }
    avtb_honeydoc_set_content(d, content, (size_t)(w - (char *)content));
    content = NULL; /* transferred */
    *out = d;
    d = NULL; /* transferred */
    r = AVTB_OK;
out:
    if (r == AVTB_ERR_NOMEM)
        avtb_error_set(err, r, "out of memory rendering %s", guest_path);
    free(content);
    avtb_honeydoc_free(d);
    return r;
}

/* Sets key to s unless s is NULL (a template document has no format or marking). */
static int set_opt(json_t *o, const char *key, const char *s)
{
    return s == NULL ? 0 : json_object_set_new(o, key, json_string(s));
}

/* One registry entry: the token, where it is, and the document that carries it. */
static json_t *token_json(const avtb_honeydoc *d, const avtb_honeytoken *t)
{
    json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "token", t->token, "place",
                          avtb_token_place_name(t->place), "where", t->where ? t->where : "",
                          "document", d->guest_path, "size", (json_int_t)d->len, "md5", d->md5,
                          "sha1", d->sha1, "sha256", d->sha256);

    if (e == NULL || set_opt(e, "format", d->format) < 0 || set_opt(e, "marking", d->marking) < 0 ||
        set_opt(e, "title", d->title) < 0 ||
        (t->place == AVTB_PLACE_BEACON && set_opt(e, "host", d->beacon_host) < 0))
        goto fail;
    if (t->member != NULL) {
        const avtb_honeymember *m = NULL;
        json_t *mo;

        for (size_t i = 0; i < d->nmembers && m == NULL; i++)
            if (strcmp(d->members[i].name, t->member) == 0)
                m = &d->members[i];
        mo = m ? json_pack("{s:s, s:I, s:s, s:s, s:s}", "name", m->name, "size", (json_int_t)m->len,
                           "md5", m->md5, "sha1", m->sha1, "sha256", m->sha256)
               : json_pack("{s:s}", "name", t->member);
        if (mo == NULL || json_object_set_new(e, "member", mo) < 0)
            goto fail;
    }
    return e;
fail:
    json_decref(e);
    return NULL;
}

avtb_err avtb_honeydoc_write_registry_origin(avtb_honeydoc *const *docs, size_t n,
                                             const avtb_honey_origin *origin, const char *dir,
                                             avtb_error *err)
{
    avtb_err r = AVTB_ERR_NOMEM;
    json_t *root = json_object(), *arr = json_array();
    char *json = NULL, *txt = NULL, *path = NULL;
    size_t txtlen = 0, ntok = 0;

    if (root == NULL || arr == NULL)
        goto out;
    json_object_set_new(root, "version", json_integer(2));
    if (origin != NULL) {
        json_object_set_new(root, "seed", json_integer((json_int_t)origin->seed));
        json_object_set_new(root, "seed_source", json_string(origin->seed_source));
        json_object_set_new(root, "reference_time", json_integer(origin->reference_time));
    }
    json_object_set(root, "tokens", arr);
    for (size_t i = 0; i < n; i++)
        ntok += docs[i]->ntokens;
    txt = malloc(ntok * (AVTB_TOKEN_LEN + 1) + 1);
    if (txt == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const avtb_honeydoc *d = docs[i];

        for (size_t j = 0; j < d->ntokens; j++) {
            json_t *e = token_json(d, &d->tokens[j]);

            if (e == NULL || json_array_append_new(arr, e) < 0)
                goto out;
            memcpy(txt + txtlen, d->tokens[j].token, AVTB_TOKEN_LEN);
            txtlen += AVTB_TOKEN_LEN;
            txt[txtlen++] = '\n';
        }
    }
    json = json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    if (json == NULL)
        goto out;
    path = avtb_path_join(dir, "tokens.json");
    if (path == NULL)
        goto out;
    r = avtb_write_file(path, json, strlen(json), 0644, err);
    if (r != AVTB_OK)
        goto out;
    free(path);
    path = avtb_path_join(dir, "tokens.txt");
    if (path == NULL) {
        r = AVTB_ERR_NOMEM;
        goto out;
    }
    r = avtb_write_file(path, txt, txtlen, 0644, err);
out:
    if (r == AVTB_ERR_NOMEM)
        avtb_error_set(err, r, "out of memory writing the token registry");
    json_decref(arr);
    json_decref(root);
    free(json);
    free(txt);
    free(path);
    return r;
}

avtb_err avtb_honeydoc_write_registry(avtb_honeydoc *const *docs, size_t n, const char *dir,
                                      avtb_error *err)
{
    return avtb_honeydoc_write_registry_origin(docs, n, NULL, dir, err);
}
