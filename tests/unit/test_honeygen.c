/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The honey document generator: reproducible from a seed (byte for byte when
 * tokens and the reference time are fixed), realistic paths and owners, and
 * every token it records found again in its document by the analysis, the
 * way a product's upload would be searched.
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "collectors/canaries.h"
#include "collectors/scan.h"
#include "common/diag.h"
#include "common/util.h"
#include "guests/honeygen.h"
#include "scenarios/scenario.h"
#include "expect-diag.h"

#define NOW    ((int64_t)1795651200) /* 2026-11-26T00:00:00Z */
#define NTOKEN 512

/* Fixed tokens, drawn once: two generators fed from the same list get the same tokens. */
static char pool[NTOKEN][AVTB_TOKEN_LEN + 1];

typedef struct token_feed {
    size_t next;
} token_feed;

static avtb_err feed_token(void *ctx, char out[AVTB_TOKEN_LEN + 1], avtb_error *err)
{
    token_feed *f = ctx;

    if (f->next == NTOKEN)
        return avtb_error_set(err, AVTB_ERR_INTERNAL, "test token pool exhausted");
    memcpy(out, pool[f->next++], AVTB_TOKEN_LEN + 1);
    return AVTB_OK;
}

static void fill_pool(void)
{
    avtb_error err = {0};

    for (size_t i = 0; i < NTOKEN; i++)
        ck_assert_int_eq(avtb_token_new(pool[i], &err), AVTB_OK);
}

static const avtb_doc_format all_formats[] = {AVTB_FMT_TXT,  AVTB_FMT_CSV,  AVTB_FMT_EML,
                                              AVTB_FMT_DOCX, AVTB_FMT_XLSX, AVTB_FMT_PDF,
                                              AVTB_FMT_ZIP,  AVTB_FMT_7Z};
#define NFORMATS (sizeof(all_formats) / sizeof(all_formats[0]))

/* n documents from seed, formats cycled, markings cycled over every marking. */
static avtb_honeydoc **make_set(uint64_t seed, avtb_honey_os os, size_t n, token_feed *feed)
{
    avtb_honeygen_conf conf = {.seed = seed, .now = NOW, .token = feed_token, .token_ctx = feed};
    const char *const *markings = avtb_honeygen_markings();
    size_t nmarkings = 0;
    avtb_honeygen *g = NULL;
    avtb_honeydoc **docs = calloc(n, sizeof(*docs));
    avtb_error err = {0};

    while (markings[nmarkings] != NULL)
        nmarkings++;
    ck_assert_ptr_nonnull(docs);
    ck_assert_int_eq(avtb_honeygen_new(&conf, &g, &err), AVTB_OK);
    for (size_t i = 0; i < n; i++) {
        avtb_honeygen_req req = {.format = all_formats[i % NFORMATS],
                                 .marking = markings[i % nmarkings],
                                 .os = os,
                                 .user = "analyst",
                                 .uid = 1000,
                                 .gid = 1000};

        ck_assert_msg(avtb_honeygen_next(g, &req, &docs[i], &err) == AVTB_OK, "%s", err.msg);
    }
    avtb_honeygen_free(g);
    return docs;
}

static void free_set(avtb_honeydoc **docs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        avtb_honeydoc_free(docs[i]);
    free(docs);
}

/* --- reproducibility -------------------------------------------------------- */

START_TEST(same_seed_same_bytes)
{
    token_feed fa = {0}, fb = {0};
    avtb_honeydoc **a, **b;
    const size_t n = 32;

    fill_pool();
    a = make_set(20171201, AVTB_HONEY_OS_LINUX, n, &fa);
    b = make_set(20171201, AVTB_HONEY_OS_LINUX, n, &fb);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(a[i]->guest_path, b[i]->guest_path);
        ck_assert_uint_eq(a[i]->len, b[i]->len);
        ck_assert_msg(memcmp(a[i]->content, b[i]->content, a[i]->len) == 0, "%s differs",
                      a[i]->guest_path);
        ck_assert_str_eq(a[i]->sha256, b[i]->sha256);
        ck_assert_str_eq(a[i]->title, b[i]->title);
        ck_assert_uint_eq(a[i]->uid, b[i]->uid);
        ck_assert_uint_eq(a[i]->mode, b[i]->mode);
        ck_assert_int_eq(a[i]->mtime, b[i]->mtime);
        ck_assert_int_eq(a[i]->atime, b[i]->atime);
        ck_assert_uint_eq(a[i]->ntokens, b[i]->ntokens);
        for (size_t j = 0; j < a[i]->ntokens; j++)
            ck_assert_str_eq(a[i]->tokens[j].where, b[i]->tokens[j].where);
    }
    free_set(a, n);
    free_set(b, n);
}
END_TEST

/* Fresh tokens (as every run has) change only the tokens: same paths, titles, times. */
START_TEST(fresh_tokens_change_only_tokens)
{
    token_feed fa = {0}, fb = {.next = NTOKEN / 2};
    avtb_honeydoc **a, **b;
    const size_t n = 16;

    fill_pool();
    a = make_set(7, AVTB_HONEY_OS_LINUX, n, &fa);
    b = make_set(7, AVTB_HONEY_OS_LINUX, n, &fb);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(a[i]->guest_path, b[i]->guest_path);
        ck_assert_str_eq(a[i]->title, b[i]->title);
        ck_assert_int_eq(a[i]->mtime, b[i]->mtime);
        ck_assert_str_ne(a[i]->token, b[i]->token);
        /* Text files differ only where the tokens are: same length. */
        if (strcmp(a[i]->format, "txt") == 0)
            ck_assert_uint_eq(a[i]->len, b[i]->len);
    }
    free_set(a, n);
    free_set(b, n);
}
END_TEST

START_TEST(different_seeds_different_documents)
{
    token_feed fa = {0}, fb = {0};
    avtb_honeydoc **a, **b;
    const size_t n = 16;
    size_t same_path = 0, same_title = 0;

    fill_pool();
    a = make_set(1, AVTB_HONEY_OS_LINUX, n, &fa);
    b = make_set(2, AVTB_HONEY_OS_LINUX, n, &fb);
    for (size_t i = 0; i < n; i++) {
        /* Same tokens on both sides: a difference is the seed's. */
        ck_assert_str_ne(a[i]->sha256, b[i]->sha256);
        same_path += strcmp(a[i]->guest_path, b[i]->guest_path) == 0;
        same_title += strcmp(a[i]->title, b[i]->title) == 0;
    }
    ck_assert_uint_le(same_path, 1);
    ck_assert_uint_le(same_title, n / 2);
    free_set(a, n);
    free_set(b, n);
}
END_TEST

/* The n-th document has its own stream: an earlier format change does not shift it. */
START_TEST(documents_do_not_shift)
{
    avtb_honeygen_conf conf = {.seed = 99, .now = NOW};
    avtb_honeygen *g1 = NULL, *g2 = NULL;
    avtb_honeydoc *a[2] = {NULL, NULL}, *b[2] = {NULL, NULL};
    avtb_honeygen_req pdf = {.format = AVTB_FMT_PDF, .marking = "SECRET", .uid = 1000, .gid = 1000};
    avtb_honeygen_req csv = {.format = AVTB_FMT_CSV, .marking = "SECRET", .uid = 1000, .gid = 1000};
    avtb_honeygen_req doc = {
        .format = AVTB_FMT_DOCX, .marking = "OFFICIAL", .uid = 1000, .gid = 1000};
    avtb_error err = {0};

    ck_assert_int_eq(avtb_honeygen_new(&conf, &g1, &err), AVTB_OK);
    ck_assert_int_eq(avtb_honeygen_new(&conf, &g2, &err), AVTB_OK);
    ck_assert_int_eq(avtb_honeygen_next(g1, &pdf, &a[0], &err), AVTB_OK);
    ck_assert_int_eq(avtb_honeygen_next(g1, &doc, &a[1], &err), AVTB_OK);
    ck_assert_int_eq(avtb_honeygen_next(g2, &csv, &b[0], &err), AVTB_OK);
    ck_assert_int_eq(avtb_honeygen_next(g2, &doc, &b[1], &err), AVTB_OK);
    ck_assert_str_eq(a[1]->guest_path, b[1]->guest_path);
    ck_assert_str_eq(a[1]->title, b[1]->title);
    for (size_t i = 0; i < 2; i++) {
        avtb_honeydoc_free(a[i]);
        avtb_honeydoc_free(b[i]);
    }
    avtb_honeygen_free(g1);
    avtb_honeygen_free(g2);
}
END_TEST

START_TEST(seed_from_run_id)
{
    uint64_t a = avtb_honeygen_seed_from("leaky-20261126T120000Z-abc123");

    ck_assert_uint_eq(a, avtb_honeygen_seed_from("leaky-20261126T120000Z-abc123"));
    ck_assert_uint_ne(a, avtb_honeygen_seed_from("leaky-20261126T120000Z-abc124"));
    ck_assert_uint_le(a, AVTB_HONEYGEN_SEED_MAX);
}
END_TEST

/* --- content ------------------------------------------------------------------ */

typedef struct found {
    bool content[64];
} found;

static void on_hit(void *ctx, const avtb_message *m, const avtb_scan_hit *h)
{
    found *f = ctx;

    (void)m;
    if (h->kind == AVTB_HIT_CONTENT && h->token < 64)
        f->content[h->token] = true;
}

/*
 * Every token the document records is found in its bytes by the analysis
 * (the same scanner that searches an upload: zip/7z, deflate, base64 ...).
 */
static void assert_tokens_found(const avtb_honeydoc *d)
{
    const char *toks[64];
    avtb_patterns *p = NULL;
    avtb_scanner *s;
    avtb_transform_limits lim;
    avtb_message m = {.protocol = "tcp"};
    avtb_error err = {0};
    found f = {0};

    ck_assert_uint_le(d->ntokens, 64);
    for (size_t i = 0; i < d->ntokens; i++)
        toks[i] = d->tokens[i].token;
    ck_assert_int_eq(avtb_patterns_new(toks, d->ntokens, NULL, 0, &p, &err), AVTB_OK);
    avtb_transform_limits_default(&lim);
    s = avtb_scanner_new(p, &lim, NULL, NULL);
    ck_assert_ptr_nonnull(s);
    m.data = d->content;
    m.len = d->len;
    ck_assert_int_eq(avtb_scan_message(s, &m, on_hit, &f, &err), AVTB_OK);
    for (size_t i = 0; i < d->ntokens; i++)
        ck_assert_msg(f.content[i], "%s: %s token %s (%s) not found in the %s file", d->guest_path,
                      avtb_token_place_name(d->tokens[i].place), d->tokens[i].token,
                      d->tokens[i].where, d->format);
    avtb_scanner_free(s);
    avtb_patterns_free(p);
}

START_TEST(every_token_is_found_in_its_document)
{
    token_feed feed = {0};
    const size_t n = 2 * NFORMATS;
    avtb_honeydoc **docs;

    fill_pool();
    docs = make_set(424242, AVTB_HONEY_OS_LINUX, n, &feed);
    for (size_t i = 0; i < n; i++)
        assert_tokens_found(docs[i]);
    free_set(docs, n);
}
END_TEST

/* Places per format: body always; metadata where the format has some; a beacon host. */
START_TEST(tokens_per_place)
{
    token_feed feed = {0};
    const size_t n = NFORMATS;
    avtb_honeydoc **docs;

    fill_pool();
    docs = make_set(5, AVTB_HONEY_OS_LINUX, n, &feed);
    for (size_t i = 0; i < n; i++) {
        const avtb_honeydoc *d = docs[i];
        size_t places[AVTB_PLACE_COUNT] = {0};
        bool archive = strcmp(d->format, "zip") == 0 || strcmp(d->format, "7z") == 0;

        for (size_t j = 0; j < d->ntokens; j++) {
            places[d->tokens[j].place]++;
            ck_assert_ptr_nonnull(d->tokens[j].where);
            ck_assert(avtb_token_valid(d->tokens[j].token, AVTB_TOKEN_LEN));
            /* No token in a file name: it would give the bait away. */
            ck_assert_ptr_null(strcasestr(d->guest_path, d->tokens[j].token));
            ck_assert_int_eq(!!archive, d->tokens[j].member != NULL);
            if (archive)
                ck_assert_ptr_nonnull(strstr(d->tokens[j].where, "archive member "));
        }
        ck_assert_str_eq(d->token, d->tokens[0].token);
        ck_assert_uint_eq(places[AVTB_PLACE_BODY], 1);
        ck_assert_uint_eq(places[AVTB_PLACE_BEACON], 1);
        ck_assert_uint_eq(places[AVTB_PLACE_FILENAME], 0);
        if (strcmp(d->format, "txt") == 0 || strcmp(d->format, "csv") == 0)
            ck_assert_uint_eq(places[AVTB_PLACE_METADATA], 0);
        else if (!archive)
            ck_assert_uint_eq(places[AVTB_PLACE_METADATA], 1);
        /* The beacon host: the token lower-cased, then a CDN-like name under .example. */
        {
            char lower[AVTB_TOKEN_LEN + 2];
            const char *beacon = NULL;

            for (size_t j = 0; j < d->ntokens; j++)
                if (d->tokens[j].place == AVTB_PLACE_BEACON)
                    beacon = d->tokens[j].token;
            for (size_t j = 0; j < AVTB_TOKEN_LEN; j++)
                lower[j] =
                    (char)(beacon[j] >= 'A' && beacon[j] <= 'Z' ? beacon[j] + 32 : beacon[j]);
            lower[AVTB_TOKEN_LEN] = '.';
            lower[AVTB_TOKEN_LEN + 1] = '\0';
            ck_assert_ptr_nonnull(d->beacon_host);
            ck_assert_int_eq(strncmp(d->beacon_host, lower, AVTB_TOKEN_LEN + 1), 0);
            ck_assert_ptr_nonnull(strstr(d->beacon_host, ".example"));
        }
    }
    free_set(docs, n);
}
END_TEST

/* The bytes of member name in an archive held in buf (read with libarchive). */
static uint8_t *archive_member(const uint8_t *buf, size_t len, const char *name, size_t *out_len)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    uint8_t *data = NULL;

    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    ck_assert_int_eq(archive_read_open_memory(a, buf, len), ARCHIVE_OK);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        if (strcmp(archive_entry_pathname(e), name) != 0)
            continue;
        *out_len = (size_t)archive_entry_size(e);
        data = malloc(*out_len + 1);
        ck_assert_int_eq(archive_read_data(a, data, *out_len), (la_ssize_t)*out_len);
        break;
    }
    archive_read_free(a);
    return data;
}

static bool holds(const uint8_t *buf, size_t len, const char *s)
{
    return memmem(buf, len, s, strlen(s)) != NULL;
}

/* The 2017 case: EICAR beside a classified document whose tokens name it. */
START_TEST(archives_hold_eicar_and_a_classified_document)
{
    avtb_honeygen_conf conf = {.seed = 2017, .now = NOW};
    avtb_honeygen *g = NULL;
    avtb_error err = {0};

    ck_assert_int_eq(avtb_honeygen_new(&conf, &g, &err), AVTB_OK);
    for (int f = AVTB_FMT_ZIP; f <= AVTB_FMT_7Z; f++) {
        avtb_honeygen_req req = {
            .format = (avtb_doc_format)f, .marking = "SECRET", .uid = 1000, .gid = 1000};
        avtb_honeydoc *d = NULL;
        uint8_t *eicar, *inner;
        size_t elen = 0, ilen = 0;
        char sha256[65];

        ck_assert_int_eq(avtb_honeygen_next(g, &req, &d, &err), AVTB_OK);
        eicar = archive_member(d->content, d->len, "eicar.com", &elen);
        ck_assert_ptr_nonnull(eicar);
        ck_assert_uint_eq(elen, strlen(AVTB_EICAR));
        ck_assert_int_eq(memcmp(eicar, AVTB_EICAR, elen), 0);
        ck_assert_uint_eq(d->nmembers, 1);
        inner = archive_member(d->content, d->len, d->members[0].name, &ilen);
        ck_assert_ptr_nonnull(inner);
        avtb_sha256_hex(inner, ilen, sha256);
        ck_assert_str_eq(sha256, d->members[0].sha256);
        ck_assert_uint_eq(ilen, d->members[0].len);
        for (size_t j = 0; j < d->ntokens; j++)
            ck_assert_str_eq(d->tokens[j].member, d->members[0].name);
        /* A text member holds its marking and body token as they are. */
        if (strstr(d->members[0].name, ".txt") != NULL) {
            ck_assert(holds(inner, ilen, "SECRET"));
            ck_assert(holds(inner, ilen, d->token));
        }
        free(eicar);
        free(inner);
        avtb_honeydoc_free(d);
    }
    avtb_honeygen_free(g);
}
END_TEST

/* Markings: the one asked for is the banner, in the text a reader sees. */
START_TEST(markings_appear)
{
    const char *const *markings = avtb_honeygen_markings();
    avtb_honeygen_conf conf = {.seed = 31, .now = NOW};
    avtb_honeygen *g = NULL;
    avtb_error err = {0};

    ck_assert_int_eq(avtb_honeygen_new(&conf, &g, &err), AVTB_OK);
    ck_assert(avtb_honeygen_marking_known("OFFICIAL-SENSITIVE"));
    ck_assert(avtb_honeygen_marking_known("SECRET//NOFORN"));
    ck_assert(avtb_honeygen_marking_known("TOP SECRET"));
    ck_assert(!avtb_honeygen_marking_known("SEKRET"));
    for (size_t i = 0; markings[i] != NULL; i++)
        for (int f = AVTB_FMT_TXT; f <= AVTB_FMT_EML; f++) {
            avtb_honeygen_req req = {.format = (avtb_doc_format)f, .marking = markings[i]};
            avtb_honeydoc *d = NULL;

            ck_assert_int_eq(avtb_honeygen_next(g, &req, &d, &err), AVTB_OK);
            ck_assert_str_eq(d->marking, markings[i]);
            ck_assert_msg(holds(d->content, d->len, markings[i]), "%s: no %s in %s", d->guest_path,
                          markings[i], d->format);
            ck_assert_uint_gt(strlen(d->title), 8);
            avtb_honeydoc_free(d);
        }
    /* An unknown marking is refused, not written. */
    {
        avtb_honeygen_req req = {.format = AVTB_FMT_TXT, .marking = "SEKRET"};
        avtb_honeydoc *d = NULL;

        ck_assert_int_eq(avtb_honeygen_next(g, &req, &d, &err), AVTB_ERR_USAGE);
        ck_assert_ptr_null(d);
    }
    avtb_honeygen_free(g);
}
END_TEST

/* --- paths, owners, times ----------------------------------------------------- */

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

START_TEST(linux_paths_owners_and_times)
{
    token_feed feed = {0};
    const size_t n = 40;
    avtb_honeydoc **docs;
    size_t home = 0, share = 0;

    fill_pool();
    docs = make_set(77, AVTB_HONEY_OS_LINUX, n, &feed);
    for (size_t i = 0; i < n; i++) {
        const avtb_honeydoc *d = docs[i];
        const char *ext = strrchr(d->guest_path, '.');

        ck_assert_ptr_null(avtb_guest_path_problem(d->guest_path));
        ck_assert_ptr_nonnull(ext);
        ck_assert_str_eq(ext + 1, d->format);
        if (starts(d->guest_path, "/home/analyst/")) {
            home++;
            ck_assert_uint_eq(d->uid, 1000);
            ck_assert_uint_eq(d->gid, 1000);
            ck_assert(starts(d->guest_path, "/home/analyst/Documents/") ||
                      starts(d->guest_path, "/home/analyst/Desktop/") ||
                      starts(d->guest_path, "/home/analyst/Downloads/"));
        } else {
            share++;
            ck_assert_msg(starts(d->guest_path, "/srv/share/"), "%s", d->guest_path);
        }
        ck_assert(d->mode == 0600 || d->mode == 0640 || d->mode == 0644 || d->mode == 0664);
        /* Backdated, varied, in order: modified, then read, both before now. */
        ck_assert_int_lt(d->mtime, NOW);
        ck_assert_int_gt(d->mtime, NOW - 800 * 86400);
        ck_assert_int_ge(d->atime, d->mtime);
        ck_assert_int_le(d->atime, NOW);
        for (size_t j = 0; j < i; j++) {
            const char *a = strrchr(d->guest_path, '/'), *b = strrchr(docs[j]->guest_path, '/');

            ck_assert_str_ne(d->guest_path, docs[j]->guest_path);
            ck_assert_msg(strcasecmp(a, b) != 0, "file name %s twice", a);
        }
    }
    ck_assert_uint_gt(home, 0);
    ck_assert_uint_gt(share, 0);
    ck_assert_int_ne(docs[0]->mtime, docs[1]->mtime);
    free_set(docs, n);
}
END_TEST

START_TEST(windows_paths)
{
    token_feed feed = {0};
    const size_t n = 24;
    avtb_honeydoc **docs;

    fill_pool();
    docs = make_set(78, AVTB_HONEY_OS_WINDOWS, n, &feed);
    for (size_t i = 0; i < n; i++) {
        const avtb_honeydoc *d = docs[i];

        ck_assert_msg(starts(d->guest_path, "/Users/analyst/Documents/") ||
                          starts(d->guest_path, "/Users/analyst/Desktop/") ||
                          starts(d->guest_path, "/Users/analyst/Downloads/") ||
                          starts(d->guest_path, "/Shares/"),
                      "%s", d->guest_path);
        ck_assert_ptr_null(avtb_guest_path_problem(d->guest_path));
        /* NTFS keeps owners in ACLs. */
        ck_assert_uint_eq(d->uid, 0);
        ck_assert_uint_eq(d->mode, 0644);
    }
    free_set(docs, n);
}
END_TEST

/* A scenario's explicit documents keep their paths; no generated one takes them. */
START_TEST(reserved_paths_are_not_reused)
{
    avtb_honeygen_conf conf = {.seed = 3, .now = NOW};
    avtb_honeygen *g = NULL, *h = NULL;
    avtb_honeydoc *first = NULL, *again = NULL;
    avtb_honeygen_req req = {.format = AVTB_FMT_DOCX, .marking = "SECRET"};
    avtb_error err = {0};

    ck_assert_int_eq(avtb_honeygen_new(&conf, &g, &err), AVTB_OK);
    ck_assert_int_eq(avtb_honeygen_next(g, &req, &first, &err), AVTB_OK);
    ck_assert_int_eq(avtb_honeygen_new(&conf, &h, &err), AVTB_OK);
    ck_assert_int_eq(avtb_honeygen_reserve(h, first->guest_path, &err), AVTB_OK);
    ck_assert_int_eq(avtb_honeygen_next(h, &req, &again, &err), AVTB_OK);
    ck_assert_str_ne(first->guest_path, again->guest_path);
    avtb_honeydoc_free(first);
    avtb_honeydoc_free(again);
    avtb_honeygen_free(g);
    avtb_honeygen_free(h);
}
END_TEST

/* --- the registry ------------------------------------------------------------- */

START_TEST(registry_maps_every_token_to_its_document)
{
    token_feed feed = {0};
    const size_t n = NFORMATS;
    avtb_honeydoc **docs;
    avtb_honey_origin origin = {424242, "scenario", NOW};
    char dir[] = "/tmp/avtb-test-honeygen-XXXXXX", path[128];
    avtb_error err = {0};
    json_error_t jerr;
    json_t *root, *arr, *e;
    avtb_canaries *c = avtb_canaries_new();
    size_t i, ntok = 0, nmembers = 0, k = 0;

    fill_pool();
    docs = make_set(424242, AVTB_HONEY_OS_LINUX, n, &feed);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(avtb_honeydoc_write_registry_origin(docs, n, &origin, dir, &err), AVTB_OK);
    snprintf(path, sizeof(path), "%s/tokens.json", dir);
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_ptr_nonnull(root);
    ck_assert_int_eq(json_integer_value(json_object_get(root, "seed")), 424242);
    ck_assert_str_eq(json_string_value(json_object_get(root, "seed_source")), "scenario");
    ck_assert_int_eq(json_integer_value(json_object_get(root, "reference_time")), NOW);
    arr = json_object_get(root, "tokens");
    for (size_t d = 0; d < n; d++) {
        ntok += docs[d]->ntokens;
        nmembers += docs[d]->nmembers;
    }
    ck_assert_uint_eq(json_array_size(arr), ntok);
    json_array_foreach(arr, i, e)
    {
        const char *tok = json_string_value(json_object_get(e, "token"));
        const char *doc = json_string_value(json_object_get(e, "document"));
        const avtb_honeydoc *d = NULL;

        for (size_t x = 0; x < n && d == NULL; x++)
            for (size_t j = 0; j < docs[x]->ntokens; j++)
                if (strcmp(docs[x]->tokens[j].token, tok) == 0)
                    d = docs[x];
        ck_assert_msg(d != NULL, "registry token %s is in no document", tok);
        ck_assert_str_eq(doc, d->guest_path);
        ck_assert_str_eq(json_string_value(json_object_get(e, "sha256")), d->sha256);
        ck_assert_str_eq(json_string_value(json_object_get(e, "md5")), d->md5);
        ck_assert_str_eq(json_string_value(json_object_get(e, "sha1")), d->sha1);
        ck_assert_int_eq(json_integer_value(json_object_get(e, "size")), (json_int_t)d->len);
        ck_assert_str_eq(json_string_value(json_object_get(e, "format")), d->format);
        ck_assert_str_eq(json_string_value(json_object_get(e, "marking")), d->marking);
        ck_assert_ptr_nonnull(json_string_value(json_object_get(e, "place")));
        ck_assert_uint_gt(strlen(json_string_value(json_object_get(e, "where"))), 4);
        if (strcmp(json_string_value(json_object_get(e, "place")), "beacon") == 0)
            ck_assert_str_eq(json_string_value(json_object_get(e, "host")), d->beacon_host);
    }
    /* The analysis reads it back: one document per path (several tokens each), plus each
     * archive member that carries tokens; every token names its planted document. */
    ck_assert_int_eq(avtb_canaries_load_registry(c, path, &err), AVTB_OK);
    ck_assert_uint_eq(avtb_canaries_ntokens(c), ntok);
    ck_assert_uint_eq(avtb_canaries_ndocs(c), n + nmembers);
    for (size_t d = 0; d < n; d++)
        for (size_t j = 0; j < docs[d]->ntokens; j++, k++)
            ck_assert_str_eq(avtb_canaries_token_docs(c)[k], docs[d]->guest_path);
    avtb_canaries_free(c);
    json_decref(root);
    free_set(docs, n);
    ck_assert_int_eq(avtb_rm_rf(dir, &err), AVTB_OK);
}
END_TEST

/* --- a scenario's honey section ------------------------------------------------- */

START_TEST(scenario_generates_its_documents)
{
    avtb_diags *dg = avtb_diags_new();
    avtb_scenario *s = NULL;
    avtb_honeydoc **docs = NULL;
    size_t n = 0;
    token_feed feed = {0};
    avtb_honeygen_conf conf = {.now = NOW, .token = feed_token, .token_ctx = &feed};
    avtb_error err = {0};

    fill_pool();
    if (avtb_scenario_load(testdata("scenarios/good/generated.yaml"), dg, &s) != AVTB_OK)
        avtb_diags_print(dg, stderr);
    ck_assert_ptr_nonnull(s);
    conf.seed = s->seed;
    ck_assert_int_eq(avtb_scenario_honey(s, &conf, &docs, &n, &err), AVTB_OK);
    ck_assert_uint_eq(n, avtb_scenario_ndocs_total(s));
    ck_assert_uint_eq(n, 1 + 6 + 1 + 2);
    /* The listed document first, then the entries in order, formats and markings cycled. */
    ck_assert_str_eq(docs[0]->guest_path, "/home/analyst/Documents/listed.txt");
    ck_assert_ptr_null(docs[0]->format);
    ck_assert_str_eq(docs[1]->format, "docx");
    ck_assert_str_eq(docs[2]->format, "pdf");
    ck_assert_str_eq(docs[1]->marking, "OFFICIAL-SENSITIVE");
    ck_assert_str_eq(docs[2]->marking, "SECRET");
    ck_assert_str_eq(docs[3]->marking, "OFFICIAL-SENSITIVE");
    ck_assert_str_eq(docs[7]->format, "zip");
    ck_assert_str_eq(docs[8]->format, "txt");
    for (size_t i = 8; i < 10; i++)
        ck_assert_msg(starts(docs[i]->guest_path, "/Users/jsmith/") ||
                          starts(docs[i]->guest_path, "/Shares/"),
                      "%s", docs[i]->guest_path);
    for (size_t i = 1; i < 8; i++)
        if (starts(docs[i]->guest_path, "/home/"))
            ck_assert_uint_eq(docs[i]->uid, 1000);
    for (size_t i = 0; i < n; i++)
        avtb_honeydoc_free(docs[i]);
    free(docs);
    avtb_scenario_free(s);
    avtb_diags_free(dg);
}
END_TEST

static Suite *honeygen_suite(void)
{
    Suite *s = suite_create("honeygen");
    TCase *repro = tcase_create("reproducibility");
    TCase *content = tcase_create("content");
    TCase *place = tcase_create("paths");
    TCase *reg = tcase_create("registry");

    tcase_add_test(repro, same_seed_same_bytes);
    tcase_add_test(repro, fresh_tokens_change_only_tokens);
    tcase_add_test(repro, different_seeds_different_documents);
    tcase_add_test(repro, documents_do_not_shift);
    tcase_add_test(repro, seed_from_run_id);
    tcase_add_test(content, every_token_is_found_in_its_document);
    tcase_add_test(content, tokens_per_place);
    tcase_add_test(content, archives_hold_eicar_and_a_classified_document);
    tcase_add_test(content, markings_appear);
    tcase_add_test(place, linux_paths_owners_and_times);
    tcase_add_test(place, windows_paths);
    tcase_add_test(place, reserved_paths_are_not_reused);
    tcase_add_test(reg, registry_maps_every_token_to_its_document);
    tcase_add_test(reg, scenario_generates_its_documents);
    suite_add_tcase(s, repro);
    suite_add_tcase(s, content);
    suite_add_tcase(s, place);
    suite_add_tcase(s, reg);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(honeygen_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
