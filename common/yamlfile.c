/* SPDX-License-Identifier: Apache-2.0 */
/* Strict YAML config walking with line:col diagnostics; see yamlfile.h. */
#include "common/yamlfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct avtb_yaml {
    yaml_document_t doc;
    bool have_doc;
    char *name;
    char *dir;
    avtb_diags *diags; /* borrowed */
};

void avtb_yaml_free(avtb_yaml *y)
{
    if (y == NULL)
        return;
    if (y->have_doc)
        yaml_document_delete(&y->doc);
    free(y->name);
    free(y->dir);
    free(y);
}

yaml_node_t *avtb_yaml_root(avtb_yaml *y)
{
    return yaml_document_get_root_node(&y->doc);
}

const char *avtb_yaml_filename(const avtb_yaml *y)
{
    return y->name;
}

const char *avtb_yaml_dir(const avtb_yaml *y)
{
    return y->dir;
}

/*
 * Messages quote the file's own text: its control characters (an escape
 * sequence in a hostile name would rewrite the terminal) are shown as \xNN.
 */
static char *escape_controls(const char *msg)
{
    size_t n = 0;
    char *out, *o;

    for (const char *p = msg; *p; p++)
        n += ((unsigned char)*p < 0x20 || *p == 0x7f) ? 4 : 1;
    out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    o = out;
    for (const char *p = msg; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            o += sprintf(o, "\\x%02x", (unsigned char)*p);
        else
            *o++ = *p;
    }
    *o = '\0';
    return out;
}

void avtb_yaml_diag(avtb_yaml *y, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL, *safe;
    unsigned line = n ? (unsigned)n->start_mark.line + 1 : 0;
    unsigned col = n ? (unsigned)n->start_mark.column + 1 : 0;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    safe = msg ? escape_controls(msg) : NULL;
    avtb_diags_add(y->diags, y->name, line, col, "%s", safe ? safe : "out of memory");
    free(safe);
    free(msg);
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

#define MAX_DEPTH  64
#define MAX_EVENTS 200000

/* A tag written in the file (!!binary, !custom), or NULL. */
static const char *explicit_tag(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return (const char *)ev->data.scalar.tag;
    case YAML_SEQUENCE_START_EVENT:
        return ev->data.sequence_start.implicit ? NULL : (const char *)ev->data.sequence_start.tag;
    case YAML_MAPPING_START_EVENT:
        return ev->data.mapping_start.implicit ? NULL : (const char *)ev->data.mapping_start.tag;
    default:
        return NULL;
    }
}

/*
 * A first pass over the event stream refuses aliases at their own position
 * (libyaml's document API would silently share the anchored node, and a walk
 * could then be exponential: the billion-laughs shape) and bounds nesting
 * depth and size before any tree is built.
 */
static int prescan(avtb_yaml *y, const uint8_t *buf, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    int depth = 0, r = 0;
    size_t events = 0, documents = 0;

    if (!yaml_parser_initialize(&parser))
        return -1;
    yaml_parser_set_input_string(&parser, buf, len);
    for (;;) {
        if (!yaml_parser_parse(&parser, &ev))
            break; /* syntax errors are reported by the full load */
        if (ev.type == YAML_DOCUMENT_START_EVENT && ++documents > 1 && r == 0) {
            /* yaml_parser_load reads the first document only: the rest would be ignored. */
            avtb_diags_add(y->diags, y->name, (unsigned)ev.start_mark.line + 1,
                           (unsigned)ev.start_mark.column + 1,
                           "a second YAML document starts here; a file holds one document: "
                           "remove this '---' line or move what follows into its own file");
            r = -1;
        } else if (explicit_tag(&ev) != NULL) {
            avtb_diags_add(y->diags, y->name, (unsigned)ev.start_mark.line + 1,
                           (unsigned)ev.start_mark.column + 1,
                           "YAML tags (%s) are not supported: avtb reads every value as plain "
                           "text; remove the tag and write the value itself",
                           explicit_tag(&ev));
            r = -1;
        } else if (ev.type == YAML_ALIAS_EVENT) {
            avtb_diags_add(y->diags, y->name, (unsigned)ev.start_mark.line + 1,
                           (unsigned)ev.start_mark.column + 1,
                           "anchors and aliases (*%s) are not supported; write the value out",
                           (const char *)ev.data.alias.anchor);
            r = -1;
        } else if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
            if (++depth > MAX_DEPTH) {
                avtb_diags_add(y->diags, y->name, (unsigned)ev.start_mark.line + 1,
                               (unsigned)ev.start_mark.column + 1,
                               "nesting deeper than %d levels", MAX_DEPTH);
                r = -1;
            }
        } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        if (++events > MAX_EVENTS && r == 0) {
            avtb_diags_add(y->diags, y->name, (unsigned)ev.start_mark.line + 1,
                           (unsigned)ev.start_mark.column + 1, "more than %d YAML nodes",
                           MAX_EVENTS);
            r = -1;
        }
        {
            bool done = ev.type == YAML_STREAM_END_EVENT || r < 0;

            yaml_event_delete(&ev);
            if (done)
                break;
        }
    }
    yaml_parser_delete(&parser);
    return r;
}

/* Line and column (1-based, in characters) of byte offset off in buf. */
static void offset_position(const uint8_t *buf, size_t len, size_t off, unsigned *line,
                            unsigned *col)
{
    *line = 1;
    *col = 1;
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
        buf += 3, len -= 3, off = off >= 3 ? off - 3 : 0;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if ((buf[i] & 0xc0) != 0x80 &&
                   !(buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')) {
            (*col)++;
        }
    }
}

/* The byte at 0-based line and character column, or -1. */
static int mark_byte(const uint8_t *buf, size_t len, size_t line, size_t col)
{
    size_t i = 0;

    for (; line > 0 && i < len; i++)
        if (buf[i] == '\n')
            line--;
    for (; i < len && buf[i] != '\n'; i++) {
        if ((buf[i] & 0xc0) == 0x80)
            continue;
        if (col-- == 0)
            return buf[i];
    }
    return -1;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

avtb_err avtb_yaml_load_buffer(const char *name, const uint8_t *buf, size_t len,
                               avtb_diags *diags, avtb_yaml **out)
{
    avtb_err r = AVTB_ERR_NOMEM;
    yaml_parser_t parser;
    bool have_parser = false;
    avtb_yaml *y = NULL;
    yaml_node_t *root;

    *out = NULL;
    y = calloc(1, sizeof(*y));
    if (y == NULL)
        goto out;
    y->diags = diags;
    y->name = strdup(name);
    y->dir = dir_of(name);
    if (y->name == NULL || y->dir == NULL)
        goto out;

    r = AVTB_ERR_INPUT;
    if (len > AVTB_YAML_MAX_BYTES) {
        avtb_yaml_diag(y, NULL, "file is larger than %u bytes", AVTB_YAML_MAX_BYTES);
        goto out;
    }
    if (prescan(y, buf, len) < 0)
        goto out;
    if (!yaml_parser_initialize(&parser)) {
        r = AVTB_ERR_NOMEM;
        goto out;
    }
    have_parser = true;
    yaml_parser_set_input_string(&parser, buf, len);
    if (!yaml_parser_load(&parser, &y->doc)) {
        const char *problem = parser.problem ? parser.problem : "parse error", *hint = "";

        if (parser.error == YAML_READER_ERROR) {
            /* libyaml gives a reader error (bad UTF-8, a control character) a byte offset only. */
            unsigned line, col;

            size_t off = parser.problem_offset < len ? parser.problem_offset : len;
            unsigned value = parser.problem_value >= 0 ? (unsigned)parser.problem_value : 0u;

            /* A bad continuation byte: point at the character it should have continued. */
            if (strstr(problem, "trailing") != NULL) {
                while (off > 0 && (buf[off - 1] & 0xc0) == 0x80)
                    off--;
                if (off > 0 && buf[off - 1] >= 0xc0)
                    value = buf[--off];
            }
            offset_position(buf, len, off, &line, &col);
            avtb_diags_add(diags, y->name, line, col,
                           "%s (byte 0x%02x): save the file as UTF-8 text; control characters "
                           "other than tab and newline must be written as escapes (\\t, "
                           "\\x01) inside double quotes",
                           problem, value);
            goto out;
        }
        if (mark_byte(buf, len, parser.problem_mark.line, parser.problem_mark.column) == '\t')
            hint = "; that is a tab: indent with spaces";
        /* Point at where the construct began (an unterminated quote, say). */
        if (parser.context != NULL)
            avtb_diags_add(diags, y->name, (unsigned)parser.context_mark.line + 1,
                           (unsigned)parser.context_mark.column + 1,
                           "YAML syntax: %s: %s at line %u, column %u%s", parser.context, problem,
                           (unsigned)parser.problem_mark.line + 1,
                           (unsigned)parser.problem_mark.column + 1, hint);
        else
            avtb_diags_add(diags, y->name, (unsigned)parser.problem_mark.line + 1,
                           (unsigned)parser.problem_mark.column + 1, "YAML syntax: %s%s", problem,
                           hint);
        goto out;
    }
    y->have_doc = true;
    root = yaml_document_get_root_node(&y->doc);
    if (root == NULL) {
        avtb_diags_add(diags, y->name, 1, 1,
                       "file is empty (no YAML document, only blank lines or comments); write "
                       "its keys as 'key: value' lines");
        goto out;
    }

    *out = y;
    y = NULL; /* transferred */
    r = AVTB_OK;
out:
    if (have_parser)
        yaml_parser_delete(&parser);
    avtb_yaml_free(y);
    return r;
}

avtb_err avtb_yaml_load_file(const char *path, avtb_diags *diags, avtb_yaml **out)
{
    avtb_err r = AVTB_ERR_INPUT;
    FILE *fp = NULL;
    uint8_t *buf = NULL;
    size_t len;
    int fd;
    struct stat st;

    *out = NULL;
    /*
     * O_NONBLOCK: a FIFO with no writer would block open() for ever; read
     * afterwards in blocking mode (it then gives end of file at once).
     */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        avtb_diags_add(diags, path, 0, 0, "cannot open: %s", strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        avtb_diags_add(diags, path, 0, 0, "is a directory; name a YAML file");
        close(fd);
        goto out;
    }
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    fp = fdopen(fd, "rb");
    if (fp == NULL) {
        avtb_diags_add(diags, path, 0, 0, "cannot open: %s", strerror(errno));
        close(fd);
        goto out;
    }
    buf = malloc(AVTB_YAML_MAX_BYTES + 1);
    if (buf == NULL) {
        r = AVTB_ERR_NOMEM;
        goto out;
    }
    len = fread(buf, 1, AVTB_YAML_MAX_BYTES + 1, fp);
    if (ferror(fp)) {
        avtb_diags_add(diags, path, 0, 0, "cannot read: %s", strerror(errno));
        goto out;
    }
    r = avtb_yaml_load_buffer(path, buf, len, diags, out);
out:
    free(buf);
    if (fp != NULL)
        fclose(fp);
    return r;
}

size_t avtb_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[65];

    if (la > 64 || lb > 64)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = diag + cost;

            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *suggest(const char *key, const avtb_yfield *fields)
{
    const char *best = NULL;
    size_t best_d = 3; /* only suggest close matches */

    for (const avtb_yfield *f = fields; f->key != NULL; f++) {
        size_t d = avtb_edit_distance(key, f->key);

        if (d < best_d) {
            best_d = d;
            best = f->key;
        }
    }
    return best;
}

static void list_keys(const avtb_yfield *fields, char *buf, size_t size)
{
    size_t n = 0;

    buf[0] = '\0';
    for (const avtb_yfield *f = fields; f->key != NULL && n < size; f++) {
        int w = snprintf(buf + n, size - n, "%s%s", n ? ", " : "", f->key);

        if (w < 0)
            break;
        n += (size_t)w;
    }
}

int avtb_yaml_map(avtb_yaml *y, yaml_node_t *map, const avtb_yfield *fields, void *obj)
{
    size_t before = avtb_diags_count(y->diags);
    size_t nfields = 0;
    unsigned char present[64] = {0};

    while (fields[nfields].key != NULL)
        nfields++;
    if (map->type != YAML_MAPPING_NODE) {
        avtb_yaml_diag(y, map, "expected a mapping (key: value lines), got %s", node_kind(map));
        return -1;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&y->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&y->doc, p->value);
        const char *key;
        size_t i;

        if (k->type != YAML_SCALAR_NODE) {
            avtb_yaml_diag(y, k, "keys must be plain words, not %s", node_kind(k));
            continue;
        }
        key = (const char *)k->data.scalar.value;
        if (strlen(key) != k->data.scalar.length) {
            avtb_yaml_diag(y, k, "key contains a NUL character; write the key as a plain word");
            continue;
        }
        if (strcmp(key, "<<") == 0) {
            avtb_yaml_diag(y, k, "merge keys (<<) are not supported; write the keys out");
            continue;
        }
        for (i = 0; i < nfields; i++)
            if (strcmp(fields[i].key, key) == 0)
                break;
        if (i == nfields) {
            const char *s = suggest(key, fields);
            char known[512];

            if (s != NULL) {
                avtb_yaml_diag(y, k, "unknown key '%s'; did you mean '%s'?", key, s);
            } else {
                list_keys(fields, known, sizeof(known));
                avtb_yaml_diag(y, k, "unknown key '%s'; expected one of: %s", key, known);
            }
            continue;
        }
        if (i < sizeof(present) && present[i]) {
            avtb_yaml_diag(y, k, "duplicate key '%s'", key);
            continue;
        }
        if (i < sizeof(present))
            present[i] = 1;
        fields[i].parse(y, v, obj);
    }
    for (size_t i = 0; i < nfields && i < sizeof(present); i++)
        if (fields[i].required && !present[i])
            avtb_yaml_diag(y, map, "missing required key '%s'", fields[i].key);
    return avtb_diags_count(y->diags) == before ? 0 : -1;
}

long avtb_yaml_seq_len(avtb_yaml *y, yaml_node_t *n, const char *what)
{
    if (n->type != YAML_SEQUENCE_NODE) {
        avtb_yaml_diag(y, n, "%s must be a list (lines starting with '- '), got %s", what,
                       node_kind(n));
        return -1;
    }
    return (long)(n->data.sequence.items.top - n->data.sequence.items.start);
}

yaml_node_t *avtb_yaml_seq_at(avtb_yaml *y, yaml_node_t *seq, size_t i)
{
    return yaml_document_get_node(&y->doc, seq->data.sequence.items.start[i]);
}

const char *avtb_yaml_scalar(avtb_yaml *y, yaml_node_t *n, const char *what)
{
    if (n->type != YAML_SCALAR_NODE) {
        avtb_yaml_diag(y, n, "%s must be a single value, got %s", what, node_kind(n));
        return NULL;
    }
    /* A "\0" escape would silently cut the value short: "a\0/../x" read as "a". */
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
        avtb_yaml_diag(y, n, "%s contains a NUL character (\\0); remove it", what);
        return NULL;
    }
    return (const char *)n->data.scalar.value;
}

int avtb_yaml_string(avtb_yaml *y, yaml_node_t *n, const char *what, char **out)
{
    const char *s = avtb_yaml_scalar(y, n, what);

    if (s == NULL)
        return -1;
    if (strlen(s) != n->data.scalar.length) {
        avtb_yaml_diag(y, n, "%s contains a NUL character", what);
        return -1;
    }
    free(*out);
    *out = strdup(s);
    if (*out == NULL) {
        avtb_yaml_diag(y, n, "out of memory");
        return -1;
    }
    return 0;
}

int avtb_yaml_uint(avtb_yaml *y, yaml_node_t *n, const char *what, uint64_t min, uint64_t max,
                   uint64_t *out)
{
    const char *s = avtb_yaml_scalar(y, n, what);
    char *end;
    unsigned long long v;

    if (s == NULL)
        return -1;
    errno = 0;
    if ((s[0] == '-' && s[1] != '\0' && strspn(s + 1, "0123456789") == strlen(s + 1)) ||
        (isdigit((unsigned char)s[0]) && strspn(s, "0123456789") == strlen(s) &&
         (strtoull(s, NULL, 10), errno == ERANGE))) {
        avtb_yaml_diag(y, n, "%s must be between %" PRIu64 " and %" PRIu64 ", got %s", what, min,
                       max, s);
        return -1;
    }
    if (!isdigit((unsigned char)s[0]) || (v = strtoull(s, &end, 10), errno != 0) || *end != '\0') {
        avtb_yaml_diag(y, n, "%s must be a whole number, got '%s'", what, s);
        return -1;
    }
    if (v < min || v > max) {
        avtb_yaml_diag(y, n, "%s must be between %" PRIu64 " and %" PRIu64 ", got %llu", what,
                       min, max, v);
        return -1;
    }
    *out = v;
    return 0;
}

int avtb_yaml_bool(avtb_yaml *y, yaml_node_t *n, const char *what, bool *out)
{
    const char *s = avtb_yaml_scalar(y, n, what);

    if (s == NULL)
        return -1;
    if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0) {
        *out = false;
        return 0;
    }
    avtb_yaml_diag(y, n, "%s must be true or false, got '%s'", what, s);
    return -1;
}

int avtb_yaml_mode(avtb_yaml *y, yaml_node_t *n, const char *on, const char *example, unsigned *out)
{
    const char *s = avtb_yaml_scalar(y, n, "mode");
    size_t len;
    unsigned long mode;

    if (s == NULL)
        return -1;
    len = strlen(s);
    if (len < 3 || len > 4 || strspn(s, "01234567") != len) {
        avtb_yaml_diag(y, n, "mode '%s' must be octal permission bits such as \"%s\"", s, example);
        return -1;
    }
    mode = strtoul(s, NULL, 8);
    if (mode > 0777) {
        avtb_yaml_diag(y, n,
                       "mode '%s': setuid, setgid and sticky bits are not allowed on %s; use "
                       "permission bits such as \"%s\"",
                       s, on, example);
        return -1;
    }
    *out = (unsigned)mode;
    return 0;
}

int avtb_parse_duration(const char *s, uint64_t *out_ms)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    uint64_t total = 0;
    bool any = false;

    *out_ms = 0;
    while (*s != '\0') {
        uint64_t v = 0;
        const char *start = s;
        size_t u;

        while (isdigit((unsigned char)*s)) {
            if (v > UINT64_MAX / 10 / 3600000 / 10)
                return -2;
            v = v * 10 + (uint64_t)(*s - '0');
            s++;
        }
        if (s == start)
            return -1;
        for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
            size_t ul = strlen(units[u].unit);

            if (strncmp(s, units[u].unit, ul) == 0 && !isalpha((unsigned char)s[ul])) {
                s += ul;
                break;
            }
        }
        if (u == sizeof(units) / sizeof(units[0]))
            return -1;
        /* Each part fits (v < 2^64 / 36e6); the sum of many parts must not wrap. */
        if (v * units[u].ms > UINT64_MAX - total)
            return -2;
        total += v * units[u].ms;
        any = true;
    }
    if (!any)
        return -1;
    *out_ms = total;
    return 0;
}

int avtb_yaml_duration(avtb_yaml *y, yaml_node_t *n, const char *what, uint64_t max_ms,
                       uint64_t *out_ms)
{
    const char *s = avtb_yaml_scalar(y, n, what);
    uint64_t ms;
    int pr;

    if (s == NULL)
        return -1;
    if ((pr = avtb_parse_duration(s, &ms)) == -2 || (pr == 0 && ms > max_ms)) {
        avtb_yaml_diag(y, n, "%s: %s is longer than the maximum of %" PRIu64 "s", what, s,
                       max_ms / 1000);
        return -1;
    }
    if (pr < 0) {
        avtb_yaml_diag(y, n,
                       "%s: '%s' is not a duration; write a number with a unit, "
                       "e.g. 30s, 2m, 1m30s, 500ms",
                       what, s);
        return -1;
    }
    *out_ms = ms;
    return 0;
}
