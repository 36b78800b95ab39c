/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pcapng writer behind the capture collector (capture.c): blocks are
 * assembled whole in one buffer and handed to write(2) only between blocks,
 * so that a capture stopped at any point leaves a file that readers can use
 * up to its last flush.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "collectors/pcapng.h"
#include "common/config.h"

/*
 * Not stdio: a FILE flushes when its buffer fills, in the middle of a block,
 * and a writer killed after that leaves half a block where the reader expects
 * a whole one.
 */
#define PCAPNG_BUF_SIZE   (1u << 20)
#define PCAPNG_MAX_IFACES 256u

#define BT_SHB     0x0A0D0D0Au
#define BT_IDB     0x00000001u
#define BT_ISB     0x00000005u
#define BT_EPB     0x00000006u
#define BYTE_MAGIC 0x1A2B3C4Du

#define OPT_ENDOFOPT  0
#define OPT_COMMENT   1
#define SHB_HARDWARE  2
#define SHB_OS        3
#define SHB_USERAPPL  4
#define IF_NAME       2
#define IF_DESC       3
#define IF_TSRESOL    9
#define ISB_STARTTIME 2
#define ISB_ENDTIME   3
#define ISB_IFRECV    4
#define ISB_IFDROP    5
#define ISB_OSDROP    7
#define ISB_USRDELIV  8

typedef struct pcapng_iface {
    uint32_t caplen_max; /* the largest caplen a reader of this IDB accepts */
    bool nano;
    uint64_t packets; /* EPBs written, for isb_usrdeliv */
} pcapng_iface;

struct avtb_pcapng {
    int fd;
    char *path;
    uint8_t *buf; /* whole blocks waiting for write(2) */
    size_t len, cap;
    pcapng_iface *ifaces;
    uint32_t niface;
    /* The first error that left the file incomplete; every later call reports it. */
    avtb_err latched;
    avtb_error latched_err;
    bool overrun; /* a block outgrew the size computed for it: a bug, caught by block_end */
};

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/* Room an option with an n-byte value takes, header included. */
static size_t opt_size(size_t n)
{
    return 4 + pad4(n);
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

/* A string option's value: at most AVTB_PCAPNG_OPT_MAX bytes of UTF-8. s may be NULL (absent). */
static avtb_err check_str(const avtb_pcapng *w, const char *what, const char *s, size_t *len,
                          avtb_error *err)
{
    size_t n;

    *len = 0;
    if (s == NULL)
        return AVTB_OK;
    n = strlen(s);
    if (n > AVTB_PCAPNG_OPT_MAX)
        return avtb_error_set(err, AVTB_ERR_INPUT,
                              "pcapng %s: the %s is %zu bytes; a pcapng option holds at most %u, "
                              "shorten it",
                              w->path, what, n, AVTB_PCAPNG_OPT_MAX);
    if (!utf8_valid((const uint8_t *)s, n))
        return avtb_error_set(err, AVTB_ERR_INPUT,
                              "pcapng %s: the %s is not valid UTF-8, which pcapng requires",
                              w->path, what);
    *len = n;
    return AVTB_OK;
}

/* Records the error that made the file incomplete, and returns it. */
static avtb_err latch(avtb_pcapng *w, const avtb_error *cause, avtb_error *err)
{
    if (w->latched == AVTB_OK) {
        w->latched = cause->code;
        avtb_error_set(&w->latched_err, cause->code, "%s", cause->msg);
    }
    return avtb_error_set(err, w->latched, "%s", w->latched_err.msg);
}

static avtb_err reserve(avtb_pcapng *w, size_t n, avtb_error *err)
{
    size_t cap = w->cap;
    uint8_t *p;

    if (n <= w->cap - w->len)
        return AVTB_OK;
    while (cap - w->len < n)
        cap *= 2;
    p = realloc(w->buf, cap);
    if (p == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "pcapng %s: out of memory", w->path);
    w->buf = p;
    w->cap = cap;
    return AVTB_OK;
}

/*
 * The emitters below write into the room reserve() made for the whole block,
 * whose size is computed before it is started; a miscount is caught here and
 * reported by block_end, never written past the buffer.
 */
static void put(avtb_pcapng *w, const void *p, size_t n)
{
    if (n > w->cap - w->len) {
        w->overrun = true;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put16(avtb_pcapng *w, uint16_t v)
{
    put(w, &v, sizeof(v));
}

static void put32(avtb_pcapng *w, uint32_t v)
{
    put(w, &v, sizeof(v));
}

static void put64(avtb_pcapng *w, uint64_t v)
{
    put(w, &v, sizeof(v));
}

/* A pcapng timestamp: the upper 32 bits first, each half in host order. */
static void put_ts(avtb_pcapng *w, uint64_t units)
{
    put32(w, (uint32_t)(units >> 32));
    put32(w, (uint32_t)units);
}

static void put_padded(avtb_pcapng *w, const void *p, size_t n)
{
    static const uint8_t zero[4];

    put(w, p, n);
    put(w, zero, pad4(n) - n);
}

static void put_opt(avtb_pcapng *w, uint16_t code, const void *p, size_t n)
{
    put16(w, code);
    put16(w, (uint16_t)n);
    put_padded(w, p, n);
}

/* An empty or absent string is left out rather than written as an empty option. */
static void put_opt_str(avtb_pcapng *w, uint16_t code, const char *s, size_t n)
{
    if (n > 0)
        put_opt(w, code, s, n);
}

static size_t opt_str_size(size_t n)
{
    return n > 0 ? opt_size(n) : 0;
}

static void put_opt_ts(avtb_pcapng *w, uint16_t code, uint64_t units)
{
    put16(w, code);
    put16(w, 8);
    put_ts(w, units);
}

/* Starts a block of `total` bytes, for which reserve() has made room; returns its offset. */
static size_t block_begin(avtb_pcapng *w, uint32_t type, size_t total)
{
    size_t start = w->len;

    put32(w, type);
    put32(w, (uint32_t)total);
    return start;
}

static avtb_err block_end(avtb_pcapng *w, size_t start, size_t total)
{
    put32(w, (uint32_t)total);
    if (w->overrun || w->len - start != total) {
        /* A block of the wrong size would make every block after it unreadable. */
        w->overrun = false;
        w->len = start;
        return AVTB_ERR_INTERNAL;
    }
    return AVTB_OK;
}

/* Hands every buffered block to write(2); a failure leaves the file cut and is latched. */
static avtb_err drain(avtb_pcapng *w, avtb_error *err)
{
    size_t off = 0;
    avtb_err r = AVTB_OK;

    while (off < w->len) {
        ssize_t n = write(w->fd, w->buf + off, w->len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            avtb_error cause = {0};

            avtb_error_errno(&cause, AVTB_ERR_IO, n < 0 ? errno : EIO,
                             "cannot write capture file %s", w->path);
            r = latch(w, &cause, err);
            break;
        }
        off += (size_t)n;
    }
    w->len = 0;
    return r;
}

/* Called after each block: the buffer is written out once it is full. */
static avtb_err block_done(avtb_pcapng *w, avtb_error *err)
{
    if (w->len >= PCAPNG_BUF_SIZE)
        return drain(w, err);
    return AVTB_OK;
}

static avtb_err internal(const avtb_pcapng *w, avtb_error *err, const char *what)
{
    return avtb_error_set(err, AVTB_ERR_INTERNAL, "pcapng %s: %s (a bug in avtb)", w->path, what);
}

/*
 * The SHB comment: "key: value" lines. Keys and values are checked so that a
 * value cannot forge another line (a scenario name is user input).
 */
static avtb_err meta_comment(const avtb_pcapng *w, const avtb_pcapng_meta *meta, size_t nmeta,
                             char **out, avtb_error *err)
{
    size_t total = 0, klen, vlen;
    char *s, *p;

    *out = NULL;
    if (nmeta == 0)
        return AVTB_OK;
    for (size_t i = 0; i < nmeta; i++) {
        const char *k = meta[i].key, *v = meta[i].value;

        if (k == NULL || v == NULL || k[0] == '\0')
            return internal(w, err, "a metadata entry has no key or no value");
        if (strpbrk(k, ":\r\n") != NULL || strpbrk(v, "\r\n") != NULL)
            return avtb_error_set(err, AVTB_ERR_INPUT,
                                  "pcapng %s: metadata \"%.64s\" holds a line break (or a ':' in "
                                  "the key); each entry must fit one \"key: value\" line",
                                  w->path, k);
        klen = strlen(k);
        vlen = strlen(v);
        if (klen > AVTB_PCAPNG_OPT_MAX || vlen > AVTB_PCAPNG_OPT_MAX)
            total = SIZE_MAX / 2; /* too long, said below; no overflow on the way */
        else
            total += klen + 2 + vlen + (i > 0);
        if (total > AVTB_PCAPNG_OPT_MAX)
            return avtb_error_set(err, AVTB_ERR_INPUT,
                                  "pcapng %s: the run metadata comment is over %u bytes (at "
                                  "\"%.64s\"), more than a pcapng option holds; shorten the "
                                  "values",
                                  w->path, AVTB_PCAPNG_OPT_MAX, k);
    }
    s = malloc(total + 1);
    if (s == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "pcapng %s: out of memory", w->path);
    p = s;
    for (size_t i = 0; i < nmeta; i++)
        p += sprintf(p, "%s%s: %s", i > 0 ? "\n" : "", meta[i].key, meta[i].value);
    if (!utf8_valid((const uint8_t *)s, total)) {
        free(s);
        return avtb_error_set(err, AVTB_ERR_INPUT,
                              "pcapng %s: the run metadata is not valid UTF-8, which pcapng "
                              "requires",
                              w->path);
    }
    *out = s;
    return AVTB_OK;
}

static avtb_err write_shb(avtb_pcapng *w, const char *comment, avtb_error *err)
{
    const char *appl = "avtb " AVTB_VERSION;
    size_t clen = comment ? strlen(comment) : 0, alen = strlen(appl), olen = 0, hlen = 0;
    char os[2 * sizeof(((struct utsname *)0)->release) + 2] = "";
    const char *hw = NULL;
    struct utsname u;
    size_t total, start;
    avtb_err r;

    /* The host's description is a courtesy: left out when the kernel will not say. */
    if (uname(&u) == 0) {
        snprintf(os, sizeof(os), "%s %s", u.sysname, u.release);
        olen = strlen(os);
        hw = u.machine;
        hlen = strlen(hw);
        if (!utf8_valid((const uint8_t *)os, olen))
            olen = 0;
        if (!utf8_valid((const uint8_t *)hw, hlen))
            hlen = 0;
    }
    total = 8 + 16 + opt_str_size(clen) + opt_str_size(hlen) + opt_str_size(olen) + opt_size(alen) +
            4 + 4;
    r = reserve(w, total, err);
    if (r != AVTB_OK)
        return r;
    start = block_begin(w, BT_SHB, total);
    put32(w, BYTE_MAGIC);
    put16(w, 1);          /* major */
    put16(w, 0);          /* minor */
    put64(w, UINT64_MAX); /* section length -1: not known while writing */
    put_opt_str(w, OPT_COMMENT, comment, clen);
    put_opt_str(w, SHB_HARDWARE, hw, hlen);
    put_opt_str(w, SHB_OS, os, olen);
    put_opt(w, SHB_USERAPPL, appl, alen);
    put32(w, OPT_ENDOFOPT);
    if (block_end(w, start, total) != AVTB_OK)
        return internal(w, err, "section header size");
    return AVTB_OK;
}

static void pcapng_free(avtb_pcapng *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    free(w->path);
    free(w->buf);
    free(w->ifaces);
    free(w);
}

avtb_err avtb_pcapng_open(const char *path, const avtb_pcapng_meta *meta, size_t nmeta,
                          avtb_pcapng **out, avtb_error *err)
{
    avtb_err r = AVTB_ERR_INTERNAL;
    avtb_pcapng *w = calloc(1, sizeof(*w));
    char *comment = NULL;

    *out = NULL;
    if (w != NULL)
        w->fd = -1; /* before anything can fail: pcapng_free closes it */
    if (w == NULL || (w->path = strdup(path)) == NULL ||
        (w->buf = malloc(PCAPNG_BUF_SIZE)) == NULL) {
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "pcapng %s: out of memory", path);
        goto out;
    }
    w->cap = PCAPNG_BUF_SIZE;
    /* Checked before the file is touched: refused metadata leaves no empty capture behind. */
    r = meta_comment(w, meta, nmeta, &comment, err);
    if (r != AVTB_OK)
        goto out;
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        r = avtb_error_errno(err, AVTB_ERR_IO, errno,
                             "cannot create capture file %s (is the evidence directory there "
                             "and writable?)",
                             path);
        goto out;
    }
    r = write_shb(w, comment, err);
    if (r != AVTB_OK)
        goto out;
    *out = w;
    w = NULL; /* transferred */
out:
    free(comment);
    pcapng_free(w);
    return r;
}

/* DLT_* values whose LINKTYPE_* differs, or which lie outside the shared ranges (pcap-common.c). */
static const struct {
    int dlt, linktype;
} dlt_map[] = {
    {DLT_ATM_RFC1483, 100},
    {DLT_RAW, 101},
    {DLT_SLIP_BSDOS, 102},
    {DLT_PPP_BSDOS, 103},
    {DLT_LOOP, 108},
    {DLT_ENC, 109},
#ifdef DLT_ATM_CLIP
    {DLT_ATM_CLIP, 106},
#endif
#ifdef DLT_REDBACK_SMARTEDGE
    {DLT_REDBACK_SMARTEDGE, 32},
#endif
#ifdef DLT_PPP_SERIAL
    {DLT_PPP_SERIAL, 50},
#endif
#ifdef DLT_PPP_ETHER
    {DLT_PPP_ETHER, 51},
#endif
#ifdef DLT_SYMANTEC_FIREWALL
    {DLT_SYMANTEC_FIREWALL, 99},
#endif
#ifdef DLT_PFSYNC
    {DLT_PFSYNC, 246},
#endif
#ifdef DLT_PKTAP
    {DLT_PKTAP, 258},
#endif
};

/* libpcap's dlt_to_linktype, which it does not export; -1 for none. */
static int dlt_to_linktype(int dlt)
{
    for (size_t i = 0; i < sizeof(dlt_map) / sizeof(dlt_map[0]); i++)
        if (dlt_map[i].dlt == dlt)
            return dlt_map[i].linktype;
    if (dlt >= DLT_NULL && dlt <= DLT_FDDI)
        return dlt;
    /* 106 is LINKTYPE_ATM_CLIP, whose DLT is platform-specific (above). */
    if (dlt >= DLT_MATCHING_MIN && dlt <= DLT_MATCHING_MAX && dlt != 106)
        return dlt;
    return -1;
}

avtb_err avtb_pcapng_add_interface(avtb_pcapng *w, int dlt, uint32_t snaplen, const char *name,
                                   const char *description, bool nanoseconds, uint32_t *id,
                                   avtb_error *err)
{
    int linktype = dlt_to_linktype(dlt);
    const char *dlt_name = pcap_datalink_val_to_name(dlt);
    size_t nlen = 0, dlen = 0, total, start;
    pcapng_iface *ifs;
    uint8_t tsresol = nanoseconds ? 9 : 6;
    avtb_err r;

    *id = 0;
    if (w->latched != AVTB_OK)
        return avtb_error_set(err, w->latched, "%s", w->latched_err.msg);
    if (linktype < 0)
        return avtb_error_set(err, AVTB_ERR_INPUT,
                              "pcapng %s: link type DLT %d (%s) has no pcapng LINKTYPE", w->path,
                              dlt, dlt_name ? dlt_name : "unknown");
    if (snaplen > AVTB_PCAPNG_MAX_SNAPLEN)
        return avtb_error_set(err, AVTB_ERR_INPUT,
                              "pcapng %s: snaplen %u is over %u, the most readers accept", w->path,
                              snaplen, AVTB_PCAPNG_MAX_SNAPLEN);
    if (w->niface >= PCAPNG_MAX_IFACES)
        return internal(w, err, "too many interfaces");
    r = check_str(w, "interface name", name, &nlen, err);
    if (r == AVTB_OK)
        r = check_str(w, "interface description", description, &dlen, err);
    if (r != AVTB_OK)
        return r;
    ifs = realloc(w->ifaces, (w->niface + 1) * sizeof(*ifs));
    if (ifs == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "pcapng %s: out of memory", w->path);
    w->ifaces = ifs;
    total = 8 + 8 + opt_str_size(nlen) + opt_str_size(dlen) + opt_size(1) + 4 + 4;
    r = reserve(w, total, err);
    if (r != AVTB_OK)
        return r;
    start = block_begin(w, BT_IDB, total);
    put16(w, (uint16_t)linktype);
    put16(w, 0); /* reserved */
    put32(w, snaplen);
    put_opt_str(w, IF_NAME, name, nlen);
    put_opt_str(w, IF_DESC, description, dlen);
    put_opt(w, IF_TSRESOL, &tsresol, 1);
    put32(w, OPT_ENDOFOPT);
    if (block_end(w, start, total) != AVTB_OK)
        return internal(w, err, "interface block size");
    ifs[w->niface].caplen_max = snaplen ? snaplen : AVTB_PCAPNG_MAX_SNAPLEN;
    ifs[w->niface].nano = nanoseconds;
    ifs[w->niface].packets = 0;
    *id = w->niface++;
    return block_done(w, err);
}

/* Wall-clock time in the interface's units; false when pcapng cannot hold it. */
static bool ts_units(const pcapng_iface *ifc, int64_t sec, uint64_t frac, uint64_t *units)
{
    uint64_t res = ifc->nano ? 1000000000u : 1000000u;

    if (sec < 0 || frac >= res || (uint64_t)sec > (UINT64_MAX - frac) / res)
        return false;
    *units = (uint64_t)sec * res + frac;
    return true;
}

static bool ts_from_timespec(const pcapng_iface *ifc, const struct timespec *ts, uint64_t *units)
{
    if (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
        return false;
    return ts_units(ifc, ts->tv_sec, (uint64_t)ts->tv_nsec / (ifc->nano ? 1u : 1000u), units);
}

static avtb_err check_iface(const avtb_pcapng *w, uint32_t iface, avtb_error *err)
{
    if (w->latched != AVTB_OK)
        return avtb_error_set(err, w->latched, "%s", w->latched_err.msg);
    if (iface >= w->niface)
        return avtb_error_set(err, AVTB_ERR_INTERNAL,
                              "pcapng %s: interface %u was not added (a bug in avtb)", w->path,
                              iface);
    return AVTB_OK;
}

/* One EPB; comment (clen bytes, checked by the caller) becomes its opt_comment when clen > 0. */
static avtb_err write_epb(avtb_pcapng *w, uint32_t iface, uint64_t units, const uint8_t *data,
                          uint32_t caplen, uint32_t len, const char *comment, size_t clen,
                          avtb_error *err)
{
    pcapng_iface *ifc = &w->ifaces[iface];
    size_t total = 28 + pad4(caplen) + (clen > 0 ? opt_size(clen) + 4 : 0) + 4, start;
    avtb_err r;

    if (caplen > len || caplen > ifc->caplen_max || (data == NULL && caplen > 0))
        return avtb_error_set(err, AVTB_ERR_INTERNAL,
                              "pcapng %s: packet of %u bytes captured as %u, interface %u "
                              "snaplen %u (a bug in avtb)",
                              w->path, len, caplen, iface, ifc->caplen_max);
    r = reserve(w, total, err);
    if (r != AVTB_OK)
        return r;
    start = block_begin(w, BT_EPB, total);
    put32(w, iface);
    put_ts(w, units);
    put32(w, caplen);
    put32(w, len);
    if (caplen > 0)
        put_padded(w, data, caplen);
    if (clen > 0) {
        put_opt(w, OPT_COMMENT, comment, clen);
        put32(w, OPT_ENDOFOPT);
    }
    if (block_end(w, start, total) != AVTB_OK)
        return internal(w, err, "packet block size");
    ifc->packets++;
    return block_done(w, err);
}

avtb_err avtb_pcapng_write_packet(avtb_pcapng *w, uint32_t iface, const struct timespec *ts,
                                  const uint8_t *data, uint32_t caplen, uint32_t len,
                                  avtb_error *err)
{
    return avtb_pcapng_write_packet_comment(w, iface, ts, data, caplen, len, NULL, err);
}

avtb_err avtb_pcapng_write_packet_comment(avtb_pcapng *w, uint32_t iface, const struct timespec *ts,
                                          const uint8_t *data, uint32_t caplen, uint32_t len,
                                          const char *comment, avtb_error *err)
{
    uint64_t units;
    size_t clen = 0;
    avtb_err r = check_iface(w, iface, err);

    if (r != AVTB_OK)
        return r;
    r = check_str(w, "packet comment", comment, &clen, err);
    if (r != AVTB_OK)
        return r;
    if (!ts_from_timespec(&w->ifaces[iface], ts, &units))
        return avtb_error_set(err, AVTB_ERR_INTERNAL,
                              "pcapng %s: timestamp %lld.%09ld cannot be written (a bug in avtb)",
                              w->path, (long long)ts->tv_sec, (long)ts->tv_nsec);
    return write_epb(w, iface, units, data, caplen, len, comment, clen, err);
}

avtb_err avtb_pcapng_write_stats(avtb_pcapng *w, uint32_t iface, const struct timespec *start,
                                 const struct timespec *end, uint64_t received, uint64_t dropped_if,
                                 uint64_t dropped_os, const char *comment, avtb_error *err)
{
    const uint64_t counters[][2] = {
        {ISB_IFRECV, received},
        {ISB_IFDROP, dropped_if},
        {ISB_OSDROP, dropped_os},
    };
    uint64_t t_start = 0, t_end = 0, t_now = 0;
    struct timespec now;
    size_t clen, total, at;
    pcapng_iface *ifc;
    avtb_err r = check_iface(w, iface, err);

    if (r != AVTB_OK)
        return r;
    ifc = &w->ifaces[iface];
    r = check_str(w, "statistics comment", comment, &clen, err);
    if (r != AVTB_OK)
        return r;
    clock_gettime(CLOCK_REALTIME, &now);
    if (!ts_from_timespec(ifc, &now, &t_now) ||
        (start != NULL && !ts_from_timespec(ifc, start, &t_start)) ||
        (end != NULL && !ts_from_timespec(ifc, end, &t_end)))
        return internal(w, err, "a statistics timestamp cannot be written");
    total = 8 + 12 + opt_str_size(clen) + (start ? opt_size(8) : 0) + (end ? opt_size(8) : 0) +
            opt_size(8) + 4 + 4;
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
        if (counters[i][1] != AVTB_PCAPNG_UNKNOWN)
            total += opt_size(8);
    r = reserve(w, total, err);
    if (r != AVTB_OK)
        return r;
    at = block_begin(w, BT_ISB, total);
    put32(w, iface);
    put_ts(w, t_now);
    put_opt_str(w, OPT_COMMENT, comment, clen);
    if (start != NULL)
        put_opt_ts(w, ISB_STARTTIME, t_start);
    if (end != NULL)
        put_opt_ts(w, ISB_ENDTIME, t_end);
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
        if (counters[i][1] != AVTB_PCAPNG_UNKNOWN)
            put_opt(w, (uint16_t)counters[i][0], &counters[i][1], 8);
    put_opt(w, ISB_USRDELIV, &ifc->packets, 8);
    put32(w, OPT_ENDOFOPT);
    if (block_end(w, at, total) != AVTB_OK)
        return internal(w, err, "statistics block size");
    return block_done(w, err);
}

avtb_err avtb_pcapng_drain(avtb_pcapng *w, avtb_error *err)
{
    if (w->latched != AVTB_OK)
        return avtb_error_set(err, w->latched, "%s", w->latched_err.msg);
    return drain(w, err);
}

avtb_err avtb_pcapng_flush(avtb_pcapng *w, avtb_error *err)
{
    avtb_err r;

    r = avtb_pcapng_drain(w, err);
    if (r != AVTB_OK)
        return r;
    /* EINVAL: a device or pipe, which has nothing to sync. */
    if (fsync(w->fd) != 0 && errno != EINVAL && errno != EROFS) {
        avtb_error cause = {0};

        avtb_error_errno(&cause, AVTB_ERR_IO, errno, "cannot sync capture file %s", w->path);
        return latch(w, &cause, err);
    }
    return AVTB_OK;
}

avtb_err avtb_pcapng_close(avtb_pcapng *w, avtb_error *err)
{
    avtb_err r;
    int fd;

    if (w == NULL)
        return AVTB_OK;
    r = avtb_pcapng_flush(w, err);
    fd = w->fd;
    w->fd = -1;
    /* close(2) reports some deferred write errors (NFS); EINTR still closed the fd on Linux. */
    if (close(fd) != 0 && errno != EINTR && r == AVTB_OK)
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot close capture file %s", w->path);
    pcapng_free(w);
    return r;
}

void avtb_pcapng_handler(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    avtb_pcapng *w = (avtb_pcapng *)user;
    avtb_error e = {0};
    uint64_t units;

    if (w == NULL || w->latched != AVTB_OK)
        return;
    if (w->niface == 0) {
        internal(w, &e, "a packet arrived before the capture's interface was added");
    } else if (!ts_units(&w->ifaces[0], h->ts.tv_sec, (uint64_t)h->ts.tv_usec, &units)) {
        avtb_error_set(&e, AVTB_ERR_INPUT,
                       "pcapng %s: libpcap delivered timestamp %lld.%06lld, which cannot be "
                       "written; the capture stops here",
                       w->path, (long long)h->ts.tv_sec, (long long)h->ts.tv_usec);
    } else if (write_epb(w, 0, units, bytes, h->caplen, h->len, NULL, 0, &e) == AVTB_OK) {
        return;
    }
    /* write_epb latches I/O errors itself; anything else is latched here. */
    latch(w, &e, NULL);
}

/* --- reading comments back ----------------------------------------------- */

#define BT_PB          0x00000002u
#define BT_SPB         0x00000003u
#define READ_MAX_BLOCK (64u << 20)

typedef struct comment_walk {
    FILE *fp;
    bool swap; /* the section is in the other byte order */
    bool nomem;
    uint8_t *buf;
    size_t cap;
    char text[AVTB_PCAPNG_OPT_MAX + 1];
    avtb_pcapng_comment_cb cb;
    void *ctx;
} comment_walk;

static uint32_t rd32(const comment_walk *c, const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return c->swap ? __builtin_bswap32(v) : v;
}

static uint16_t rd16(const comment_walk *c, const uint8_t *p)
{
    uint16_t v;

    memcpy(&v, p, 2);
    return c->swap ? __builtin_bswap16(v) : v;
}

/* Reads n bytes into c->buf; false at the end of the file, or out of memory (c->nomem). */
static bool read_into(comment_walk *c, size_t n)
{
    if (n > c->cap) {
        uint8_t *p = realloc(c->buf, n);

        if (p == NULL) {
            c->nomem = true;
            return false;
        }
        c->buf = p;
        c->cap = n;
    }
    return n == 0 || fread(c->buf, 1, n, c->fp) == n;
}

/* Every opt_comment of an option list of n bytes; a bad option length ends the list. */
static avtb_err comments_in(comment_walk *c, const uint8_t *o, size_t n, uint64_t packet)
{
    size_t i = 0;

    while (n - i >= 4) {
        uint16_t code = rd16(c, o + i), len = rd16(c, o + i + 2);
        avtb_err r;

        if (code == OPT_ENDOFOPT || len > n - i - 4)
            break;
        if (code == OPT_COMMENT) {
            memcpy(c->text, o + i + 4, len);
            c->text[len] = '\0';
            r = c->cb(c->ctx, packet, c->text, strlen(c->text));
            if (r != AVTB_OK)
                return r;
        }
        if (pad4(len) > n - i - 4)
            break;
        i += 4 + pad4(len);
    }
    return AVTB_OK;
}

avtb_err avtb_pcapng_read_comments(const char *path, bool packets, avtb_pcapng_comment_cb cb,
                                   void *ctx, avtb_error *err)
{
    comment_walk *c = calloc(1, sizeof(*c));
    uint64_t packet = 0;
    bool section = false;
    avtb_err r = AVTB_OK;

    if (c == NULL)
        return avtb_error_set(err, AVTB_ERR_NOMEM, "%s: out of memory", path);
    c->cb = cb;
    c->ctx = ctx;
    c->fp = fopen(path, "rbe");
    if (c->fp == NULL) {
        r = avtb_error_errno(err, AVTB_ERR_IO, errno, "cannot open capture file %s", path);
        goto out;
    }
    for (;;) {
        uint8_t h[28];
        uint32_t type, total;

        if (fread(h, 1, 8, c->fp) != 8)
            break;
        memcpy(&type, h, 4); /* the SHB's type reads the same in either byte order */
        if (type == BT_SHB) {
            uint32_t magic;

            if (section && !packets)
                break;
            if (fread(h + 8, 1, 4, c->fp) != 4)
                break;
            memcpy(&magic, h + 8, 4);
            if (magic != BYTE_MAGIC && __builtin_bswap32(magic) != BYTE_MAGIC)
                break;
            c->swap = magic != BYTE_MAGIC;
            section = true;
            total = rd32(c, h + 4);
            if (total < 28 || total % 4 != 0 || total > READ_MAX_BLOCK || !read_into(c, total - 12))
                break;
            /* version (4), section length (8), options, trailing length (4) */
            r = comments_in(c, c->buf + 12, total - 28, 0);
            if (r != AVTB_OK)
                goto out;
            continue;
        }
        if (!section || !packets)
            break; /* not pcapng, or only the section header was asked for */
        type = rd32(c, h);
        total = rd32(c, h + 4);
        if (total < 12 || total % 4 != 0 || total > READ_MAX_BLOCK)
            break;
        if (type == BT_EPB || type == BT_PB) {
            uint32_t caplen;

            packet++;
            /* interface, timestamp, caplen, len: 20 bytes; then data, options, length */
            if (total < 32 || fread(h + 8, 1, 20, c->fp) != 20)
                break;
            caplen = rd32(c, h + 20);
            if (caplen > total || pad4(caplen) > total - 32)
                break;
            if (fseeko(c->fp, (off_t)pad4(caplen), SEEK_CUR) != 0 ||
                !read_into(c, total - 28 - pad4(caplen)))
                break;
            r = comments_in(c, c->buf, total - 32 - pad4(caplen), packet);
            if (r != AVTB_OK)
                goto out;
            continue;
        }
        if (type == BT_SPB)
            packet++;
        if (fseeko(c->fp, (off_t)total - 8, SEEK_CUR) != 0)
            break;
    }
    if (c->nomem)
        r = avtb_error_set(err, AVTB_ERR_NOMEM, "%s: out of memory reading its comments", path);
    else if (ferror(c->fp))
        r = avtb_error_set(err, AVTB_ERR_IO, "cannot read capture file %s", path);
out:
    if (c->fp != NULL)
        fclose(c->fp);
    free(c->buf);
    free(c);
    return r;
}
