/* SPDX-License-Identifier: Apache-2.0 */
/* Honey document rendering and the token registry; see honeydoc.h. */
#include "guests/honeydoc.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void avtb_honeydoc_free(avtb_honeydoc *d)
{
    if (d == NULL)
        return;
    free(d->guest_path);
    free(d->content);
    free(d);
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

avtb_err avtb_honeydoc_render(const char *tmpl, const char *guest_path, unsigned uid,
                              unsigned gid, unsigned mode, avtb_honeydoc **out, avtb_error *err)
{
    avtb_err r = AVTB_ERR_NOMEM;
    avtb_honeydoc *d = NULL;
    const size_t pl = strlen(AVTB_TOKEN_PLACEHOLDER);
    size_t count = 0, cap;
    const char *p;
    char *w;

    *out = NULL;
    d = calloc(1, sizeof(*d));
    if (d == NULL || (d->guest_path = strdup(guest_path)) == NULL)
        goto out;
    d->uid = uid;
    d->gid = gid;
    d->mode = mode;
    r = avtb_token_new(d->token, err);
    if (r != AVTB_OK)
        goto out;
    for (p = tmpl; (p = strstr(p, AVTB_TOKEN_PLACEHOLDER)) != NULL; p += pl)
        count++;
    if (count == 0) {
        r = avtb_error_set(err, AVTB_ERR_INPUT, "template for %s has no %s placeholder",
                           guest_path, AVTB_TOKEN_PLACEHOLDER);
        goto out;
    }
    /* The token is longer than the placeholder, so this is an upper bound. */
    cap = strlen(tmpl) + count * AVTB_TOKEN_LEN + 1;
    d->content = malloc(cap);
    if (d->content == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "out of memory");
        goto out;
    }
    w = (char *)d->content;
    for (p = tmpl;;) {
        const char *hit = strstr(p, AVTB_TOKEN_PLACEHOLDER);
        size_t lit = hit ? (size_t)(hit - p) : strlen(p);

        memcpy(w, p, lit);
        w += lit;
        if (hit == NULL)
            break;
        memcpy(w, d->token, AVTB_TOKEN_LEN);
        w += AVTB_TOKEN_LEN;
        p = hit + pl;
    }
    d->len = (size_t)(w - (char *)d->content);
    digest_hex(EVP_md5(), d->content, d->len, d->md5);
    digest_hex(EVP_sha1(), d->content, d->len, d->sha1);
    digest_hex(EVP_sha256(), d->content, d->len, d->sha256);
    *out = d;
    d = NULL; /* transferred */
    r = AVTB_OK;
out:
    if (r == AVTB_ERR_NOMEM)
        avtb_error_set(err, r, "out of memory rendering %s", guest_path);
    avtb_honeydoc_free(d);
    return r;
}

avtb_err avtb_honeydoc_write_registry(avtb_honeydoc *const *docs, size_t n, const char *dir,
                                      avtb_error *err)
{
    avtb_err r = AVTB_ERR_NOMEM;
    json_t *root = json_object(), *arr = json_array();
    char *json = NULL, *txt = NULL, *path = NULL;
    size_t txtlen = 0;

    if (root == NULL || arr == NULL)
        goto out;
    json_object_set_new(root, "version", json_integer(1));
    json_object_set(root, "tokens", arr);
    txt = malloc(n * (AVTB_TOKEN_LEN + 1) + 1);
    if (txt == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const avtb_honeydoc *d = docs[i];
        json_t *e = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "token", d->token,
                              "place", "body", "document", d->guest_path, "size",
                              (json_int_t)d->len, "md5", d->md5, "sha1", d->sha1, "sha256",
                              d->sha256);

        if (e == NULL || json_array_append_new(arr, e) < 0)
            goto out;
        memcpy(txt + txtlen, d->token, AVTB_TOKEN_LEN);
        txtlen += AVTB_TOKEN_LEN;
        txt[txtlen++] = '\n';
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
