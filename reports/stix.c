/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stix-bundle.json from report.json's object (see stix.h, reports/FORMATS.md).
 * Ids are deterministic: an SCO's is the spec's UUIDv5 of its ID contributing
 * properties (STIX 2.1 section 2.9), so the same address or file has the same
 * id in every bundle; every other object's is a UUIDv5 of the run id and the
 * object's natural key in avtb's own namespace, so re-rendering a report
 * gives the same bundle.
 */
#include "reports/stix.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

/* STIX 2.1 section 2.9: the namespace of deterministic SCO ids. */
static const unsigned char sco_ns[16] = {0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c,
                                         0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7};
/* RFC 4122's URL namespace: avtb's own is UUIDv5(URL, AVTB_STIX_NS_URL). */
#define AVTB_STIX_NS_URL "https://avtb.invalid/stix"
static const unsigned char url_ns[16] = {0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
                                         0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};

static void uuid5(const unsigned char ns[16], const void *name, size_t len, unsigned char out[16])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, ns, 16) == 1 && EVP_DigestUpdate(ctx, name, len) == 1 &&
              EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen >= 16;

    EVP_MD_CTX_free(ctx);
    if (!ok)
        memset(md, 0, 16); /* SHA-1 does not fail short of a broken libcrypto */
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50); /* version 5 */
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    memcpy(out, md, 16);
}

void avtb_stix_uuid5(const unsigned char ns[16], const void *name, size_t len, char out[37])
{
    unsigned char md[16];

    uuid5(ns, name, len, md);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0],
             md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12],
             md[13], md[14], md[15]);
}

typedef struct stix {
    json_t *report;  /* borrowed */
    json_t *objects; /* the bundle's "objects" */
    json_t *byid;    /* id -> object in objects */
    const char *run_id;
    char created[32];     /* created/modified of every SDO: when the run finished */
    unsigned char ns[16]; /* avtb's namespace */
    char lab[64];         /* the lab identity's id */
    bool nomem;
} stix;

static const char *js(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* An RFC 3339 UTC time ("...Z", any fraction) with exactly milliseconds; false if not one. */
static bool ts_text(const char *s, char out[32])
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t n = sizeof(shape) - 1, i;
    char frac[4] = "000";

    if (s == NULL || strlen(s) < n + 1)
        return false;
    for (i = 0; i < n; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return false;
    i = n;
    if (s[i] == '.') {
        size_t k = 0;

        for (i++; isdigit((unsigned char)s[i]); i++)
            if (k < 3)
                frac[k++] = s[i];
        if (k == 0)
            return false;
    }
    if (strcmp(s + i, "Z") != 0)
        return false;
    snprintf(out, 32, "%.*s.%sZ", (int)n, s, frac);
    return true;
}

/* "type--" + UUIDv5 of name in ns. */
static json_t *make_id(const char *type, const unsigned char *ns, const char *name)
{
    char u[37];

    avtb_stix_uuid5(ns, name, strlen(name), u);
    return json_sprintf("%s--%s", type, u);
}

/* A run-scoped id: the run id, the type and the object's natural key. */
static json_t *run_id(stix *st, const char *type, const char *key)
{
    char *name = NULL;
    json_t *id;

    if (asprintf(&name, "%s\n%s\n%s", st->run_id, type, key) < 0)
        return NULL;
    id = make_id(type, st->ns, name);
    free(name);
    return id;
}

/* Appends o (reference taken) unless an object with its id is there; returns the id
 * (borrowed from the bundle) or NULL. A domain-name seen again adds its resolves_to_refs. */
static const char *add(stix *st, json_t *o)
{
    const char *id = js(o, "id");
    json_t *old;

    if (o == NULL || id == NULL) {
        json_decref(o);
        st->nomem = true;
        return NULL;
    }
    old = json_object_get(st->byid, id);
    if (old != NULL) {
        json_t *more = json_object_get(o, "resolves_to_refs"), *have, *v;
        size_t i, j;

        have = json_object_get(old, "resolves_to_refs");
        json_array_foreach(more, i, v)
        {
            json_t *w;
            bool dup = false;

            json_array_foreach(have, j, w)
            {
                dup = dup || json_equal(v, w);
            }
            if (!dup && have != NULL)
                json_array_append(have, v);
        }
        json_decref(o);
        return js(old, "id");
    }
    if (json_object_set(st->byid, id, o) < 0 || json_array_append_new(st->objects, o) < 0) {
        st->nomem = true;
        return NULL;
    }
    return id;
}

/* An SCO with the spec's deterministic id over contrib (ID contributing properties, all set
 * on the object too). contrib's reference is taken. */
static json_t *sco(const char *type, json_t *contrib)
{
    json_t *o = NULL;
    char *canon = contrib ? json_dumps(contrib, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

    if (canon != NULL)
        o = json_pack("{s:s, s:s, s:o}", "type", type, "spec_version", "2.1", "id",
                      make_id(type, sco_ns, canon));
    if (o != NULL && json_object_update(o, contrib) < 0) {
        json_decref(o);
        o = NULL;
    }
    free(canon);
    json_decref(contrib);
    return o;
}

/* An SDO or SRO with its common properties. */
static json_t *sdo(stix *st, const char *type, const char *key)
{
    json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:s}", "type", type, "spec_version", "2.1", "id",
                          run_id(st, type, key), "created", st->created, "modified", st->created);

    if (o != NULL && st->lab[0] != '\0')
        json_object_set_new(o, "created_by_ref", json_string(st->lab));
    return o;
}

static const char *relationship(stix *st, const char *src, const char *type, const char *dst,
                                const char *description)
{
    char key[256];
    json_t *o;

    if (src == NULL || dst == NULL)
        return NULL;
    snprintf(key, sizeof(key), "%s %s %s", src, type, dst);
    o = sdo(st, "relationship", key);
    if (o != NULL &&
        json_object_update_new(o, json_pack("{s:s, s:s, s:s, s:s}", "relationship_type", type,
                                            "source_ref", src, "target_ref", dst, "description",
                                            description)) < 0) {
        json_decref(o);
        o = NULL;
    }
    return add(st, o);
}

/* ipv4-addr or ipv6-addr of an address text; NULL when it is neither. */
static const char *address(stix *st, const char *ip)
{
    unsigned char buf[16];

    if (ip == NULL)
        return NULL;
    if (inet_pton(AF_INET, ip, buf) == 1)
        return add(st, sco("ipv4-addr", json_pack("{s:s}", "value", ip)));
    if (inet_pton(AF_INET6, ip, buf) == 1)
        return add(st, sco("ipv6-addr", json_pack("{s:s}", "value", ip)));
    return NULL;
}

/* A host name a domain-name may carry: letters, digits, '-', '.', '_' (RFC 1034 as used),
 * not an address. Hosts come from the guest's requests. */
static bool domain_ok(const char *h)
{
    unsigned char buf[16];
    size_t n = h ? strlen(h) : 0;

    if (n == 0 || n > 253 || inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.' && h[i] != '_')
            return false;
    return true;
}

/* directory SCO of the directory part of path, and a file SCO for the rest; the file's id. */
static const char *file(stix *st, const char *path, json_t *hashes, json_t *extra)
{
    const char *slash = path ? strrchr(path, '/') : NULL, *dir = NULL;
    json_t *c;

    if (path == NULL || path[0] == '\0' || (slash != NULL && slash[1] == '\0')) {
        json_decref(hashes);
        json_decref(extra);
        return NULL;
    }
    if (slash != NULL) {
        char *d = strndup(path, slash == path ? 1 : (size_t)(slash - path));

        dir = d ? add(st, sco("directory", json_pack("{s:s}", "path", d))) : NULL;
        free(d);
    }
    c = json_pack("{s:s}", "name", slash ? slash + 1 : path);
    if (c != NULL && dir != NULL)
        json_object_set_new(c, "parent_directory_ref", json_string(dir));
    /* The spec's id takes one hash, the first of MD5, SHA-1, SHA-256 there is. */
    if (c != NULL && json_object_size(hashes) > 0) {
        static const char *const order[] = {"MD5", "SHA-1", "SHA-256"};

        for (size_t i = 0; i < 3; i++) {
            json_t *h = json_object_get(hashes, order[i]);

            if (h != NULL) {
                json_object_set_new(c, "hashes", json_pack("{s:O}", order[i], h));
                break;
            }
        }
    }
    c = sco("file", c);
    if (c != NULL && json_object_size(hashes) > 0)
        json_object_set(c, "hashes", hashes);
    if (c != NULL && extra != NULL)
        json_object_update(c, extra);
    json_decref(hashes);
    json_decref(extra);
    return add(st, c);
}

/* A hex hash of the expected length, lower-cased, or NULL. */
static json_t *hex_hash(const char *h, size_t n)
{
    char buf[129];

    if (h == NULL || strlen(h) != n || n >= sizeof(buf))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)h[i]))
            return NULL;
        buf[i] = (char)tolower((unsigned char)h[i]);
    }
    buf[n] = '\0';
    return json_string(buf);
}

static const char *document_file(stix *st, json_t *d)
{
    json_t *hashes = json_object(), *extra = json_object();
    json_t *size = json_object_get(d, "size");

    json_object_set_new(hashes, "MD5", hex_hash(js(d, "md5"), 32));
    json_object_set_new(hashes, "SHA-1", hex_hash(js(d, "sha1"), 40));
    json_object_set_new(hashes, "SHA-256", hex_hash(js(d, "sha256"), 64));
    if (json_is_integer(size) && json_integer_value(size) >= 0)
        json_object_set(extra, "size", size);
    if (js(d, "token") != NULL)
        json_object_set_new(extra, "x_avtb_canary_token", json_string(js(d, "token")));
    json_object_set_new(extra, "x_avtb_role", json_string("honey-document"));
    return file(st, js(d, "path"), hashes, extra);
}

/* The planted document of a path, as a file SCO id. */
static const char *document_ref(stix *st, const char *path)
{
    json_t *d;
    size_t i;

    json_array_foreach(json_object_get(st->report, "documents"), i, d)
    {
        if (path != NULL && js(d, "path") != NULL && strcmp(js(d, "path"), path) == 0)
            return document_file(st, d);
    }
    return NULL;
}

/* STIX protocols of a finding's or attempt's protocol: IP version, transport, application. */
static json_t *protocols(const char *ip, const char *proto)
{
    json_t *a = json_array();
    const char *l4 = NULL;
    bool app = false;

    json_array_append_new(a, json_string(ip && strchr(ip, ':') ? "ipv6" : "ipv4"));
    if (proto == NULL)
        return a;
    if (strncmp(proto, "tcp", 3) == 0 || strcmp(proto, "http") == 0 || strcmp(proto, "tls") == 0 ||
        strcmp(proto, "https") == 0)
        l4 = "tcp";
    else if (strncmp(proto, "udp", 3) == 0 || strcmp(proto, "dns") == 0)
        l4 = "udp";
    else if (strcmp(proto, "icmp") == 0)
        l4 = "icmp";
    else if (strcmp(proto, "icmpv6") == 0)
        l4 = "ipv6-icmp";
    if (l4 != NULL)
        json_array_append_new(a, json_string(l4));
    app = strcmp(proto, "http") == 0 || strcmp(proto, "tls") == 0 || strcmp(proto, "https") == 0 ||
          strcmp(proto, "dns") == 0;
    if (app)
        json_array_append_new(a, json_string(proto));
    return a;
}

static bool valid_port(json_t *p)
{
    return json_is_integer(p) && json_integer_value(p) >= 0 && json_integer_value(p) <= 65535;
}

static void append_ref(json_t *refs, const char *id)
{
    json_t *v;
    size_t i;

    if (id == NULL)
        return;
    json_array_foreach(refs, i, v)
    {
        if (strcmp(json_string_value(v), id) == 0)
            return;
    }
    json_array_append_new(refs, json_string(id));
}

/* "command_line" of pid from document_access, when it was recorded. */
static const char *cmdline_of(stix *st, json_int_t pid)
{
    json_t *d, *p;
    size_t i, j;

    json_array_foreach(json_object_get(st->report, "document_access"), i, d)
    {
        json_array_foreach(json_object_get(d, "processes"), j, p)
        {
            if (json_integer_value(json_object_get(p, "pid")) == pid && js(p, "cmdline") != NULL)
                return js(p, "cmdline");
        }
    }
    return NULL;
}

/* A process SCO for a chain step that names one; its id or NULL. */
static const char *process(stix *st, json_t *step, const char *conn)
{
    json_t *pid = json_object_get(step, "pid"), *o;
    const char *exe = js(step, "exe"), *cmd;
    char key[64];

    if (!json_is_integer(pid))
        return NULL;
    snprintf(key, sizeof(key), "pid %lld", (long long)json_integer_value(pid));
    o = json_pack("{s:s, s:s, s:o, s:O}", "type", "process", "spec_version", "2.1", "id",
                  run_id(st, "process", key), "pid", pid);
    if (o == NULL)
        return add(st, o);
    cmd = cmdline_of(st, json_integer_value(pid));
    if (cmd != NULL)
        json_object_set_new(o, "command_line", json_string(cmd));
    if (js(step, "comm") != NULL)
        json_object_set_new(o, "x_avtb_comm", json_string(js(step, "comm")));
    if (exe != NULL && exe[0] == '/') {
        const char *img = file(st, exe, NULL, NULL);

        if (img != NULL)
            json_object_set_new(o, "image_ref", json_string(img));
    }
    if (conn != NULL)
        json_object_set_new(o, "opened_connection_refs", json_pack("[s]", conn));
    return add(st, o);
}

/* forensics.json's entry of a file path (a staging file), for its hash and saved copy. */
static json_t *forensics_file(stix *st, const char *path)
{
    json_t *f;
    size_t i;

    json_array_foreach(json_object_get(json_object_get(st->report, "forensics"), "files"), i, f)
    {
        if (path != NULL && js(f, "path") != NULL && strcmp(js(f, "path"), path) == 0)
            return f;
    }
    return NULL;
}

/* The chain steps of finding i, as SCOs added to refs. */
static void chain_objects(stix *st, size_t fi, const char *conn, json_t *refs)
{
    json_t *c, *s, *v;
    size_t i, j;

    json_array_foreach(json_object_get(st->report, "chains"), i, c)
    {
        bool mine = false;

        json_array_foreach(json_object_get(c, "findings"), j, v)
        {
            mine = mine || (json_is_integer(v) && (size_t)json_integer_value(v) == fi);
        }
        if (!mine)
            continue;
        json_array_foreach(json_object_get(c, "steps"), j, s)
        {
            const char *step = js(s, "step") ? js(s, "step") : "";

            if (strcmp(step, "stage") == 0) {
                json_t *ff = forensics_file(st, js(s, "path")), *h = json_object();
                json_t *extra = json_object();

                json_object_set_new(h, "SHA-256", hex_hash(js(ff, "sha256"), 64));
                json_object_set_new(extra, "x_avtb_role", json_string("staging-file"));
                if (js(s, "saved") != NULL)
                    json_object_set_new(extra, "x_avtb_saved", json_string(js(s, "saved")));
                if (js(s, "kind") != NULL)
                    json_object_set_new(extra, "x_avtb_kind", json_string(js(s, "kind")));
                append_ref(refs, file(st, js(s, "path"), h, extra));
            }
            append_ref(refs, process(st, s, strcmp(step, "upload") == 0 ? conn : NULL));
        }
    }
}

/* The traffic of one finding, its endpoints, and what the chains say; an observed-data. */
static void finding_objects(stix *st, size_t fi, json_t *f, const char *software)
{
    json_t *dst = json_object_get(f, "dst"), *src = json_object_get(f, "src");
    json_t *refs = json_array(), *nt = json_object(), *od;
    const char *dip = address(st, js(dst, "ip")), *sip = address(st, js(src, "ip"));
    const char *host = js(dst, "host"), *dom = NULL, *conn = NULL, *kind = js(f, "kind");
    char t[32], key[64];

    if (!avtb_utc_format(json_number_value(json_object_get(f, "time")), t))
        snprintf(t, sizeof(t), "%s", st->created);
    if (domain_ok(host)) {
        json_t *d = sco("domain-name", json_pack("{s:s}", "value", host));

        if (d != NULL && dip != NULL)
            json_object_set_new(d, "resolves_to_refs", json_pack("[s]", dip));
        dom = add(st, d);
    }
    if (dip != NULL || sip != NULL) {
        json_object_set_new(nt, "start", json_string(t));
        if (sip != NULL)
            json_object_set_new(nt, "src_ref", json_string(sip));
        if (dip != NULL)
            json_object_set_new(nt, "dst_ref", json_string(dip));
        if (valid_port(json_object_get(src, "port")))
            json_object_set(nt, "src_port", json_object_get(src, "port"));
        if (valid_port(json_object_get(dst, "port")))
            json_object_set(nt, "dst_port", json_object_get(dst, "port"));
        json_object_set_new(nt, "protocols", protocols(js(dst, "ip"), js(f, "protocol")));
        nt = sco("network-traffic", nt);
        if (nt != NULL && host != NULL && dom == NULL)
            json_object_set_new(nt, "x_avtb_claimed_host", json_string(host));
        if (nt != NULL && json_is_integer(json_object_get(f, "flow")))
            json_object_set(nt, "x_avtb_flow", json_object_get(f, "flow"));
        conn = add(st, nt);
    } else {
        json_decref(nt);
    }
    append_ref(refs, conn);
    append_ref(refs, dip);
    append_ref(refs, dom);
    append_ref(refs, sip);
    append_ref(refs, document_ref(st, js(f, "document")));
    chain_objects(st, fi, conn, refs);
    append_ref(refs, software);
    snprintf(key, sizeof(key), "finding %zu", fi);
    od = sdo(st, "observed-data", key);
    if (od == NULL || json_array_size(refs) == 0) {
        json_decref(od);
        json_decref(refs);
        return;
    }
    json_object_update_new(od,
                           json_pack("{s:s, s:s, s:i, s:O}", "first_observed", t, "last_observed",
                                     t, "number_observed", 1, "object_refs", refs));
    json_object_set_new(od, "x_avtb_finding", json_integer((json_int_t)fi));
    json_object_set_new(od, "x_avtb_kind", json_string(kind ? kind : "unknown"));
    if (js(f, "token") != NULL)
        json_object_set_new(od, "x_avtb_canary_token", json_string(js(f, "token")));
    if (js(f, "reason") != NULL)
        json_object_set_new(od, "x_avtb_reason", json_string(js(f, "reason")));
    json_decref(refs);
    add(st, od);
}

/* Every destination the guest tried, as traffic in one observed-data. */
static const char *attempt_objects(stix *st, const char *software)
{
    json_t *refs = json_array(), *a, *od;
    double first = INFINITY, last = -INFINITY;
    char t0[32], t1[32];
    size_t i;

    json_array_foreach(json_object_get(st->report, "attempts"), i, a)
    {
        const char *dip = address(st, js(a, "dst")), *id;
        double ft = json_number_value(json_object_get(a, "first_time"));
        double lt = json_number_value(json_object_get(a, "last_time"));
        json_t *nt;

        if (dip == NULL || !avtb_utc_format(ft, t0))
            continue;
        nt = json_pack("{s:s, s:s, s:o}", "start", t0, "dst_ref", dip, "protocols",
                       protocols(js(a, "dst"), js(a, "protocol")));
        /* end must be later than start: a single-packet attempt has none. */
        if (nt != NULL && avtb_utc_format(lt, t1) && strcmp(t1, t0) > 0)
            json_object_set_new(nt, "end", json_string(t1));
        if (nt != NULL && valid_port(json_object_get(a, "port")))
            json_object_set(nt, "dst_port", json_object_get(a, "port"));
        nt = sco("network-traffic", nt);
        if (nt != NULL) {
            json_object_set(nt, "src_packets", json_object_get(a, "packets"));
            json_object_set(nt, "src_byte_count", json_object_get(a, "bytes"));
            json_object_set(nt, "x_avtb_to_sink", json_object_get(a, "to_sink"));
        }
        id = add(st, nt);
        append_ref(refs, id);
        append_ref(refs, dip);
        first = ft < first ? ft : first;
        last = lt > last ? lt : last;
    }
    if (json_array_size(refs) == 0 || !avtb_utc_format(first, t0) || !avtb_utc_format(last, t1)) {
        json_decref(refs);
        return NULL;
    }
    if (strcmp(t1, t0) < 0)
        memcpy(t1, t0, sizeof(t1));
    append_ref(refs, software);
    od = sdo(st, "observed-data", "attempts");
    if (od != NULL)
        json_object_update_new(od, json_pack("{s:s, s:s, s:i, s:o}", "first_observed", t0,
                                             "last_observed", t1, "number_observed", 1,
                                             "object_refs", refs));
    else
        json_decref(refs);
    return add(st, od);
}

/* The run's account for a person: verdict, expectations, reasons, notices, chains. */
static const char *note(stix *st, const char *vendor, const char *software)
{
    json_t *r = st->report, *prod = json_object_get(r, "product"), *v, *refs = json_array(), *o;
    char *text = NULL, *abstract = NULL;
    size_t len = 0, i;
    FILE *fp = open_memstream(&text, &len);
    const char *id = NULL;

    if (fp == NULL || refs == NULL)
        goto out;
    fprintf(fp, "avtb run %s: scenario %s, product %s %s (%s, declared country %s)\n",
            js(r, "run_id") ?: "?", js(json_object_get(r, "scenario"), "name") ?: "?",
            js(prod, "name") ?: "?", js(prod, "version") ?: "?", js(prod, "vendor") ?: "?",
            js(prod, "vendor_country") ?: "?");
    fprintf(fp, "verdict: %s%s\n", js(r, "verdict") ?: "?",
            json_is_false(json_object_get(r, "complete")) ? " (evidence incomplete)" : "");
    json_array_foreach(json_object_get(r, "expectations"), i, v)
    {
        fprintf(fp, "expectation %s: %s\n", js(v, "name") ?: "?", js(v, "result") ?: "?");
    }
    json_array_foreach(json_object_get(r, "incomplete_reasons"), i, v)
    {
        fprintf(fp, "incomplete: %s\n", json_string_value(v) ?: "?");
    }
    json_array_foreach(json_object_get(r, "notices"), i, v)
    {
        fprintf(fp, "note: %s\n", json_string_value(v) ?: "?");
    }
    json_array_foreach(json_object_get(r, "chains"), i, v)
    {
        if (js(v, "summary") != NULL)
            fprintf(fp, "chain: %s\n", js(v, "summary"));
    }
    if (fclose(fp) != 0) {
        fp = NULL;
        goto out;
    }
    fp = NULL;
    if (asprintf(&abstract, "avtb: %s %s: %s", js(prod, "name") ?: "?", js(prod, "version") ?: "?",
                 js(r, "verdict") ?: "?") < 0) {
        abstract = NULL;
        goto out;
    }
    json_array_foreach(st->objects, i, v)
    {
        if (strcmp(js(v, "type"), "observed-data") == 0)
            append_ref(refs, js(v, "id"));
    }
    append_ref(refs, software);
    append_ref(refs, vendor);
    o = sdo(st, "note", "verdict");
    if (o != NULL)
        json_object_update_new(
            o, json_pack("{s:s, s:s, s:[s], s:O, s:s, s:[s]}", "abstract", abstract, "content",
                         text, "authors", "avtb", "object_refs", refs, "x_avtb_verdict",
                         js(r, "verdict") ?: "unknown", "labels", js(r, "verdict") ?: "unknown"));
    id = add(st, o);
out:
    if (fp != NULL)
        fclose(fp);
    if (id == NULL)
        st->nomem = true;
    json_decref(refs);
    free(text);
    free(abstract);
    return id;
}

/* The lab, the product's vendor (and where it says it is) and the product. */
static const char *parties(stix *st, const char **vendor_out)
{
    json_t *prod = json_object_get(st->report, "product"), *o;
    const char *vendor = js(prod, "vendor"), *country = js(prod, "vendor_country");
    const char *lab, *vid = NULL, *loc = NULL, *sw;

    o = sdo(st, "identity", "avtb");
    if (o != NULL)
        json_object_update_new(
            o,
            json_pack("{s:s, s:s, s:s}", "name", "avtb", "identity_class", "system", "description",
                      "avtb, the anti-virus behaviour testbed that ran the product in a VM "
                      "with canary-token honey documents and observed its traffic and file "
                      "access"));
    lab = add(st, o);
    if (lab != NULL)
        snprintf(st->lab, sizeof(st->lab), "%s", lab);
    if (vendor != NULL && vendor[0] != '\0') {
        char *desc = NULL;

        if (asprintf(&desc, "Vendor of %s %s (declared country %s)", js(prod, "name") ?: "?",
                     js(prod, "version") ?: "?", country ? country : "unknown") < 0)
            desc = NULL;
        o = desc ? sdo(st, "identity", vendor) : NULL;
        if (o != NULL) {
            json_object_update_new(o, json_pack("{s:s, s:s, s:s}", "name", vendor, "identity_class",
                                                "organization", "description", desc));
            if (country != NULL)
                json_object_set_new(o, "x_avtb_vendor_country", json_string(country));
        }
        free(desc);
        vid = add(st, o);
        if (country != NULL && country[0] != '\0') {
            o = sdo(st, "location", country);
            if (o != NULL)
                json_object_update_new(
                    o, json_pack("{s:s, s:s}", "name", country, "country", country));
            loc = add(st, o);
            relationship(st, vid, "located-at", loc, "the country the product's vendor declares");
        }
    }
    o = json_pack("{s:s}", "name", js(prod, "name") ?: "unknown");
    if (o != NULL && vendor != NULL)
        json_object_set_new(o, "vendor", json_string(vendor));
    if (o != NULL && js(prod, "version") != NULL)
        json_object_set_new(o, "version", json_string(js(prod, "version")));
    sw = add(st, sco("software", o));
    relationship(st, sw, "related-to", vid, "the product under test and its vendor");
    *vendor_out = vid;
    return sw;
}

json_t *avtb_stix_bundle(json_t *report)
{
    stix st = {.report = report, .objects = json_array(), .byid = json_object()};
    const char *software, *vendor = NULL;
    json_t *bundle = NULL, *f, *d;
    size_t i;

    st.run_id = js(report, "run_id") ? js(report, "run_id") : "";
    uuid5(url_ns, AVTB_STIX_NS_URL, strlen(AVTB_STIX_NS_URL), st.ns);
    if (!ts_text(js(report, "finished"), st.created) && !ts_text(js(report, "started"), st.created))
        snprintf(st.created, sizeof(st.created), "1970-01-01T00:00:00.000Z");
    if (st.objects == NULL || st.byid == NULL)
        goto out;

    software = parties(&st, &vendor);
    json_array_foreach(json_object_get(report, "documents"), i, d)
    {
        document_file(&st, d);
    }
    json_array_foreach(json_object_get(report, "findings"), i, f)
    {
        finding_objects(&st, i, f, software);
    }
    attempt_objects(&st, software);
    note(&st, vendor, software);
    if (!st.nomem)
        bundle = json_pack("{s:s, s:o, s:O}", "type", "bundle", "id",
                           run_id(&st, "bundle", "bundle"), "objects", st.objects);
out:
    json_decref(st.objects);
    json_decref(st.byid);
    return bundle;
}

avtb_err avtb_report_write_stix(json_t *report, const char *dir, avtb_error *err)
{
    avtb_err ret = AVTB_ERR_NOMEM;
    json_t *b = avtb_stix_bundle(report);
    char *text = b ? json_dumps(b, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
    char *path = avtb_path_join(dir, "stix-bundle.json");

    if (text == NULL || path == NULL) {
        avtb_error_set(err, ret, "out of memory building %s/stix-bundle.json", dir);
        goto out;
    }
    ret = avtb_write_file(path, text, strlen(text), 0644, err);
out:
    json_decref(b);
    free(text);
    free(path);
    return ret;
}
