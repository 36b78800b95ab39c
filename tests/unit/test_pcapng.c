/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pcapng writer (collectors/pcapng.c): files it writes are read back by
 * libpcap, by a block parser here that checks the layout and options against
 * draft-ietf-opsawg-pcapng, and by tshark/capinfos when they are installed;
 * a writer killed or cut short still leaves a readable file; bad input and
 * write failures give errors that name the file.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collectors/pcapng.h"
#include "common/config.h"
#include "common/util.h"
#include "pcapgen.h"

#define TS_SEC        1700000000
#define SNAPLEN       65535
#define CUT_LEN       100
#define RUN_ID        "run-20240101-abcdef"
#define SCENARIO      "exfil: http post" /* a ':' in a value is fine */
#define STATS_COMMENT "capture incomplete: killed"

static char tmpdir[64];
static char path[128];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/avtb-test-pcapng-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(path, sizeof(path), "%s/capture.pcapng", tmpdir);
}

static void teardown(void)
{
    avtb_error err = {0};

    ck_assert_int_eq(avtb_rm_rf(tmpdir, &err), AVTB_OK);
}

/* ---- the frames every file carries ---- */

typedef struct frame {
    uint8_t bytes[1514];
    uint32_t len, caplen;
    struct timespec ts;
} frame;

/* An Ethernet/IPv4/UDP frame of exactly len bytes (>= 42), to 10.0.0.1:53. */
static void make_frame(frame *f, uint32_t len, uint32_t caplen, long nsec, uint8_t fill)
{
    static const uint8_t eth[14] = {0x52, 0x54, 0, 0, 0, 1, 0x52, 0x54, 0, 0, 0, 2, 0x08, 0x00};
    uint8_t payload[1514];
    pg_pkt p = {0};

    ck_assert_uint_ge(len, 42);
    ck_assert_uint_le(len, sizeof(f->bytes));
    memset(payload, fill, sizeof(payload));
    p.src = "10.0.0.2";
    p.dst = "10.0.0.1";
    p.sport = 40000;
    p.dport = 53;
    p.proto = 17;
    p.payload = payload;
    p.len = len - 42;
    memcpy(f->bytes, eth, sizeof(eth));
    ck_assert_uint_eq(pg_build_ip(&p, f->bytes + 14, sizeof(f->bytes) - 14), len - 14);
    f->len = len;
    f->caplen = caplen;
    f->ts.tv_sec = TS_SEC;
    f->ts.tv_nsec = nsec;
}

/* Three frames, the last cut by the snaplen. Nanoseconds below a microsecond are deliberate. */
static void standard_frames(frame fr[3])
{
    make_frame(&fr[0], 60, 60, 123456789, 0xA1);
    make_frame(&fr[1], 1514, 1514, 223456000, 0xB2);
    make_frame(&fr[2], 1514, CUT_LEN, 999999999, 0xC3);
}

static avtb_pcapng *open_standard(const char *p, bool nano, uint32_t *id)
{
    const avtb_pcapng_meta meta[] = {{"avtb-run-id", RUN_ID}, {"scenario", SCENARIO}};
    avtb_error err = {0};
    avtb_pcapng *w = NULL;

    ck_assert_msg(avtb_pcapng_open(p, meta, 2, &w, &err) == AVTB_OK, "%s", err.msg);
    ck_assert_msg(avtb_pcapng_add_interface(w, DLT_EN10MB, SNAPLEN, "avtbbr0", "avtb run bridge",
                                            nano, id, &err) == AVTB_OK,
                  "%s", err.msg);
    ck_assert_uint_eq(*id, 0);
    return w;
}

static void write_frame(avtb_pcapng *w, uint32_t id, const frame *f)
{
    avtb_error err = {0};

    ck_assert_msg(avtb_pcapng_write_packet(w, id, &f->ts, f->bytes, f->caplen, f->len, &err) ==
                      AVTB_OK,
                  "%s", err.msg);
}

static const struct timespec t_start = {TS_SEC - 5, 500000000};
static const struct timespec t_end = {TS_SEC + 5, 250000000};

/* The file every read-back test looks at: 2 metadata lines, 1 interface, 3 packets, stats. */
static void write_standard(const char *p, bool nano)
{
    avtb_error err = {0};
    uint32_t id;
    avtb_pcapng *w = open_standard(p, nano, &id);
    frame fr[3];

    standard_frames(fr);
    for (int i = 0; i < 3; i++)
        write_frame(w, id, &fr[i]);
    ck_assert_msg(avtb_pcapng_write_stats(w, id, &t_start, &t_end, 5, 1, 2, STATS_COMMENT, &err) ==
                      AVTB_OK,
                  "%s", err.msg);
    ck_assert_msg(avtb_pcapng_close(w, &err) == AVTB_OK, "%s", err.msg);
}

/* Reads packets with libpcap and compares them to fr; returns pcap_next_ex's last result. */
static int libpcap_compare(const char *p, int precision, const frame *fr, int n)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *h = pcap_open_offline_with_tstamp_precision(p, (u_int)precision, ebuf);
    struct pcap_pkthdr *hdr;
    const u_char *data;
    int rc;

    ck_assert_msg(h != NULL, "%s: %s", p, ebuf);
    ck_assert_int_eq(pcap_datalink(h), DLT_EN10MB);
    ck_assert_int_eq(pcap_snapshot(h), SNAPLEN);
    for (int i = 0; i < n; i++) {
        long frac =
            precision == PCAP_TSTAMP_PRECISION_NANO ? fr[i].ts.tv_nsec : fr[i].ts.tv_nsec / 1000;

        ck_assert_int_eq(pcap_next_ex(h, &hdr, &data), 1);
        ck_assert_int_eq(hdr->ts.tv_sec, fr[i].ts.tv_sec);
        ck_assert_int_eq(hdr->ts.tv_usec, frac);
        ck_assert_uint_eq(hdr->caplen, fr[i].caplen);
        ck_assert_uint_eq(hdr->len, fr[i].len);
        ck_assert_mem_eq(data, fr[i].bytes, fr[i].caplen);
    }
    rc = pcap_next_ex(h, &hdr, &data);
    pcap_close(h);
    return rc;
}

/* ---- a pcapng block parser for the checks (bounds-checked: files may be cut) ---- */

#define MAX_BLOCKS 16

typedef struct block {
    uint32_t type;
    const uint8_t *body; /* after type and length, before the trailing length */
    size_t len;
} block;

typedef struct file {
    uint8_t *data;
    size_t size;
    block b[MAX_BLOCKS];
    int n;
} file;

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;

    memcpy(&v, p, 2);
    return v;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return v;
}

/* Every block: length >= 12, a multiple of 4, inside the file, repeated at its end. */
static void parse_file(const char *p, file *f)
{
    avtb_error err = {0};
    size_t off = 0;

    memset(f, 0, sizeof(*f));
    ck_assert_msg(avtb_read_file(p, 16 << 20, &f->data, &f->size, &err) == AVTB_OK, "%s", err.msg);
    while (off < f->size) {
        uint32_t total;

        ck_assert_int_lt(f->n, MAX_BLOCKS);
        ck_assert_uint_ge(f->size - off, 12);
        total = rd32(f->data + off + 4);
        ck_assert_uint_ge(total, 12);
        ck_assert_uint_eq(total % 4, 0);
        ck_assert_uint_le(total, f->size - off);
        ck_assert_uint_eq(rd32(f->data + off + total - 4), total);
        f->b[f->n].type = rd32(f->data + off);
        f->b[f->n].body = f->data + off + 8;
        f->b[f->n].len = total - 12;
        f->n++;
        off += total;
    }
}

/*
 * The which-th option with code in opts: padded to 32 bits, zero padding,
 * the list ends with opt_endofopt exactly at the block's end. NULL if absent.
 */
static const uint8_t *find_opt(const uint8_t *opts, size_t len, uint16_t code, int which,
                               uint16_t *olen)
{
    const uint8_t *found = NULL;
    size_t off = 0;

    for (;;) {
        uint16_t c, l;
        size_t padded;

        ck_assert_uint_ge(len - off, 4);
        c = rd16(opts + off);
        l = rd16(opts + off + 2);
        off += 4;
        if (c == 0) {
            ck_assert_uint_eq(l, 0);
            ck_assert_uint_eq(off, len);
            return found;
        }
        padded = (l + 3u) & ~3u;
        ck_assert_uint_le(padded, len - off);
        for (size_t i = l; i < padded; i++)
            ck_assert_uint_eq(opts[off + i], 0);
        if (c == code && which-- == 0) {
            found = opts + off;
            *olen = l;
        }
        off += padded;
    }
}

static void assert_opt_str(const block *b, size_t fixed, uint16_t code, const char *want)
{
    uint16_t l = 0;
    const uint8_t *v = find_opt(b->body + fixed, b->len - fixed, code, 0, &l);

    ck_assert_msg(v != NULL, "option %u missing", code);
    ck_assert_msg(l == strlen(want) && memcmp(v, want, l) == 0, "option %u is \"%.*s\", not \"%s\"",
                  code, (int)l, (const char *)v, want);
}

static uint64_t opt_u64(const block *b, size_t fixed, uint16_t code)
{
    uint16_t l = 0;
    const uint8_t *v = find_opt(b->body + fixed, b->len - fixed, code, 0, &l);

    ck_assert_msg(v != NULL, "option %u missing", code);
    ck_assert_uint_eq(l, 8);
    return rd64(v);
}

static uint64_t opt_ts(const block *b, size_t fixed, uint16_t code)
{
    uint16_t l = 0;
    const uint8_t *v = find_opt(b->body + fixed, b->len - fixed, code, 0, &l);

    ck_assert_msg(v != NULL, "option %u missing", code);
    ck_assert_uint_eq(l, 8);
    return (uint64_t)rd32(v) << 32 | rd32(v + 4);
}

/* ---- read back: libpcap, blocks, tshark ---- */

START_TEST(test_libpcap_reads_packets)
{
    frame fr[3];

    standard_frames(fr);
    write_standard(path, false);
    ck_assert_int_eq(libpcap_compare(path, PCAP_TSTAMP_PRECISION_MICRO, fr, 3), PCAP_ERROR_BREAK);
}
END_TEST

START_TEST(test_blocks_follow_spec)
{
    struct utsname u;
    frame fr[3];
    file f;
    const block *shb, *idb, *isb;
    uint16_t l = 0;
    uint8_t tsresol;

    standard_frames(fr);
    write_standard(path, false);
    parse_file(path, &f);
    ck_assert_int_eq(f.n, 6);

    shb = &f.b[0];
    ck_assert_uint_eq(shb->type, 0x0A0D0D0A);
    ck_assert_uint_ge(shb->len, 16);
    ck_assert_uint_eq(rd32(shb->body), 0x1A2B3C4D);
    ck_assert_uint_eq(rd16(shb->body + 4), 1);
    ck_assert_uint_eq(rd16(shb->body + 6), 0);
    ck_assert_uint_eq(rd64(shb->body + 8), UINT64_MAX);
    assert_opt_str(shb, 16, 1, "avtb-run-id: " RUN_ID "\nscenario: " SCENARIO);
    ck_assert_ptr_null(find_opt(shb->body + 16, shb->len - 16, 1, 1, &l)); /* one comment */
    assert_opt_str(shb, 16, 4, "avtb " AVTB_VERSION);
    ck_assert_int_eq(uname(&u), 0);
    {
        const uint8_t *os = find_opt(shb->body + 16, shb->len - 16, 3, 0, &l);

        ck_assert_ptr_nonnull(os);
        ck_assert_uint_gt(l, strlen(u.sysname));
        ck_assert_mem_eq(os, u.sysname, strlen(u.sysname));
    }
    assert_opt_str(shb, 16, 2, u.machine);

    idb = &f.b[1];
    ck_assert_uint_eq(idb->type, 1);
    ck_assert_uint_eq(rd16(idb->body), 1); /* LINKTYPE_ETHERNET */
    ck_assert_uint_eq(rd16(idb->body + 2), 0);
    ck_assert_uint_eq(rd32(idb->body + 4), SNAPLEN);
    assert_opt_str(idb, 8, 2, "avtbbr0");
    assert_opt_str(idb, 8, 3, "avtb run bridge");
    ck_assert_ptr_nonnull(find_opt(idb->body + 8, idb->len - 8, 9, 0, &l));
    ck_assert_uint_eq(l, 1);
    tsresol = *find_opt(idb->body + 8, idb->len - 8, 9, 0, &l);
    ck_assert_uint_eq(tsresol, 6);

    for (int i = 0; i < 3; i++) {
        const block *epb = &f.b[2 + i];
        uint64_t ts;

        ck_assert_uint_eq(epb->type, 6);
        ck_assert_uint_eq(rd32(epb->body), 0);
        ts = (uint64_t)rd32(epb->body + 4) << 32 | rd32(epb->body + 8);
        ck_assert_uint_eq(ts, (uint64_t)TS_SEC * 1000000 + (uint64_t)fr[i].ts.tv_nsec / 1000);
        ck_assert_uint_eq(rd32(epb->body + 12), fr[i].caplen);
        ck_assert_uint_eq(rd32(epb->body + 16), fr[i].len);
        ck_assert_uint_eq(epb->len, 20 + ((fr[i].caplen + 3) & ~3u)); /* no options */
        ck_assert_mem_eq(epb->body + 20, fr[i].bytes, fr[i].caplen);
        for (size_t k = fr[i].caplen; k < epb->len - 20; k++)
            ck_assert_uint_eq(epb->body[20 + k], 0);
    }

    isb = &f.b[5];
    ck_assert_uint_eq(isb->type, 5);
    ck_assert_uint_eq(rd32(isb->body), 0);
    assert_opt_str(isb, 12, 1, STATS_COMMENT);
    ck_assert_uint_eq(opt_ts(isb, 12, 2), (uint64_t)(TS_SEC - 5) * 1000000 + 500000);
    ck_assert_uint_eq(opt_ts(isb, 12, 3), (uint64_t)(TS_SEC + 5) * 1000000 + 250000);
    ck_assert_uint_eq(opt_u64(isb, 12, 4), 5); /* isb_ifrecv */
    ck_assert_uint_eq(opt_u64(isb, 12, 5), 1); /* isb_ifdrop */
    ck_assert_uint_eq(opt_u64(isb, 12, 7), 2); /* isb_osdrop */
    ck_assert_uint_eq(opt_u64(isb, 12, 8), 3); /* isb_usrdeliv: the EPBs written */
    free(f.data);
}
END_TEST

/* Runs a Wireshark tool; its stdout, caller frees. */
static char *run_tool(const char *const argv[])
{
    avtb_error err = {0};
    char *out = NULL;
    int status = -1;

    ck_assert_msg(avtb_spawn(argv, 60000, &out, &status, &err) == AVTB_OK, "%s: %s", argv[0],
                  err.msg);
    ck_assert_msg(status == 0, "%s exited %d on %s", argv[0], status, path);
    ck_assert_ptr_nonnull(out);
    return out;
}

START_TEST(test_wireshark_reads_file)
{
    int frames = 0, bytes = 0;
    const char *line;
    char *out;

    if (access("/usr/bin/tshark", X_OK) != 0)
        return; /* Wireshark is optional on build hosts */
    write_standard(path, false);
    out = run_tool(
        (const char *const[]){"/usr/bin/tshark", "-r", path, "-q", "-z", "io,stat,0", NULL});
    /* One interval with 3 frames of 60 + 1514 + 1514 bytes on the wire. */
    line = strstr(out, "<>");
    ck_assert_msg(line != NULL, "%s", out);
    line = strchr(line, '|');
    ck_assert_msg(line != NULL && sscanf(line, "| %d | %d |", &frames, &bytes) == 2, "%s", out);
    ck_assert_int_eq(frames, 3);
    ck_assert_int_eq(bytes, 3088);
    free(out);
    out = run_tool((const char *const[]){"/usr/bin/tshark", "-r", path, "-T", "fields", "-e",
                                         "frame.len", "-e", "frame.cap_len", NULL});
    ck_assert_str_eq(out, "60\t60\n1514\t1514\n1514\t100\n");
    free(out);
    if (access("/usr/bin/capinfos", X_OK) != 0)
        return;
    out = run_tool((const char *const[]){"/usr/bin/capinfos", path, NULL});
    ck_assert_msg(strstr(out, "avtb-run-id: " RUN_ID) != NULL, "%s", out);
    ck_assert_msg(strstr(out, "scenario: " SCENARIO) != NULL, "%s", out);
    ck_assert_msg(strstr(out, "avtb " AVTB_VERSION) != NULL, "%s", out);
    ck_assert_msg(strstr(out, "avtbbr0") != NULL, "%s", out);
    free(out);
}
END_TEST

/* ---- a writer that is killed or cut short ---- */

static off_t file_size(const char *p)
{
    struct stat st;

    ck_assert_int_eq(stat(p, &st), 0);
    return st.st_size;
}

START_TEST(test_cut_in_third_block_reads_two)
{
    avtb_error err = {0};
    uint32_t id;
    avtb_pcapng *w = open_standard(path, false, &id);
    frame fr[3];
    off_t two;

    standard_frames(fr);
    write_frame(w, id, &fr[0]);
    write_frame(w, id, &fr[1]);
    ck_assert_msg(avtb_pcapng_flush(w, &err) == AVTB_OK, "%s", err.msg);
    two = file_size(path);
    write_frame(w, id, &fr[2]);
    ck_assert_msg(avtb_pcapng_close(w, &err) == AVTB_OK, "%s", err.msg);
    ck_assert_int_gt(file_size(path), two + 40);
    ck_assert_int_eq(truncate(path, two + 40), 0); /* inside the third EPB's data */
    /* Both whole packets come back; the cut block is an error, not a crash or a fake packet. */
    ck_assert_int_eq(libpcap_compare(path, PCAP_TSTAMP_PRECISION_MICRO, fr, 2), PCAP_ERROR);
}
END_TEST

START_TEST(test_killed_writer_leaves_flushed_packets)
{
    frame fr[3];
    pid_t pid;
    int status;

    standard_frames(fr);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        avtb_error err = {0};
        uint32_t id;
        avtb_pcapng *w = open_standard(path, false, &id);

        write_frame(w, id, &fr[0]);
        write_frame(w, id, &fr[1]);
        if (avtb_pcapng_flush(w, &err) != AVTB_OK)
            _exit(1);
        write_frame(w, id, &fr[2]); /* buffered, lost with the process */
        raise(SIGKILL);
        _exit(2);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* Whole blocks only: the file ends cleanly after the second packet. */
    ck_assert_int_eq(libpcap_compare(path, PCAP_TSTAMP_PRECISION_MICRO, fr, 2), PCAP_ERROR_BREAK);
}
END_TEST

/* ---- timestamps ---- */

START_TEST(test_nanoseconds_round_trip)
{
    frame fr[3];
    file f;
    uint16_t l = 0;

    standard_frames(fr);
    write_standard(path, true);
    ck_assert_int_eq(libpcap_compare(path, PCAP_TSTAMP_PRECISION_NANO, fr, 3), PCAP_ERROR_BREAK);
    ck_assert_int_eq(libpcap_compare(path, PCAP_TSTAMP_PRECISION_MICRO, fr, 3), PCAP_ERROR_BREAK);
    parse_file(path, &f);
    ck_assert_uint_eq(*find_opt(f.b[1].body + 8, f.b[1].len - 8, 9, 0, &l), 9);
    ck_assert_uint_eq(opt_ts(&f.b[5], 12, 2), (uint64_t)(TS_SEC - 5) * 1000000000 + 500000000);
    free(f.data);
}
END_TEST

START_TEST(test_microseconds_drop_sub_microsecond)
{
    frame fr[3];

    standard_frames(fr);
    write_standard(path, false);
    /* Read at nanosecond precision, a microsecond file says ...123456000, not ...123456789. */
    for (int i = 0; i < 3; i++)
        fr[i].ts.tv_nsec -= fr[i].ts.tv_nsec % 1000;
    ck_assert_int_eq(libpcap_compare(path, PCAP_TSTAMP_PRECISION_NANO, fr, 3), PCAP_ERROR_BREAK);
}
END_TEST

/* ---- the pcap_handler ---- */

/* What the capture child does: pcap_dispatch from libpcap straight into the writer. */
START_TEST(test_handler_with_pcap_dispatch)
{
    char src[160], ebuf[PCAP_ERRBUF_SIZE] = "";
    avtb_error err = {0};
    avtb_pcapng *w = NULL;
    pcap_dumper_t *d;
    pcap_t *h, *dead;
    frame fr[3];
    uint32_t id;

    standard_frames(fr);
    /* The source file is written by libpcap itself, in nanoseconds. */
    snprintf(src, sizeof(src), "%s/src.pcap", tmpdir);
    dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, SNAPLEN, PCAP_TSTAMP_PRECISION_NANO);
    ck_assert_ptr_nonnull(dead);
    d = pcap_dump_open(dead, src);
    ck_assert_msg(d != NULL, "%s", pcap_geterr(dead));
    for (int i = 0; i < 3; i++) {
        struct pcap_pkthdr ph = {.caplen = fr[i].caplen, .len = fr[i].len};

        ph.ts.tv_sec = fr[i].ts.tv_sec;
        ph.ts.tv_usec = fr[i].ts.tv_nsec;
        pcap_dump((u_char *)d, &ph, fr[i].bytes);
    }
    pcap_dump_close(d);
    pcap_close(dead);

    h = pcap_open_offline_with_tstamp_precision(src, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    ck_assert_msg(h != NULL, "%s", ebuf);
    ck_assert_int_eq(avtb_pcapng_open(path, NULL, 0, &w, &err), AVTB_OK);
    ck_assert_int_eq(
        avtb_pcapng_add_interface(w, pcap_datalink(h), SNAPLEN, "src", NULL, true, &id, &err),
        AVTB_OK);
    ck_assert_int_eq(pcap_dispatch(h, -1, avtb_pcapng_handler, (u_char *)w), 3);
    pcap_close(h);
    ck_assert_msg(avtb_pcapng_close(w, &err) == AVTB_OK, "%s", err.msg);
    ck_assert_int_eq(libpcap_compare(path, PCAP_TSTAMP_PRECISION_NANO, fr, 3), PCAP_ERROR_BREAK);
}
END_TEST

START_TEST(test_handler_latches_error)
{
    avtb_error err = {0};
    avtb_pcapng *w = NULL;
    struct pcap_pkthdr h = {.caplen = 4, .len = 4};
    const u_char bytes[4] = {1, 2, 3, 4};

    ck_assert_int_eq(avtb_pcapng_open(path, NULL, 0, &w, &err), AVTB_OK);
    avtb_pcapng_handler((u_char *)w, &h, bytes); /* no interface yet */
    ck_assert_int_eq(avtb_pcapng_flush(w, &err), AVTB_ERR_INTERNAL);
    ck_assert_msg(strstr(err.msg, path) != NULL && strstr(err.msg, "interface") != NULL, "%s",
                  err.msg);
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_pcapng_close(w, &err), AVTB_ERR_INTERNAL);
}
END_TEST

/* More than the 1 MiB buffer: blocks are written out as it fills, none lost or torn. */
START_TEST(test_many_packets_cross_buffer)
{
    enum { N = 3000 };
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    avtb_error err = {0};
    struct pcap_pkthdr *hdr;
    const u_char *data;
    uint32_t id;
    avtb_pcapng *w = open_standard(path, false, &id);
    frame f;
    pcap_t *h;
    int n = 0;

    make_frame(&f, 1001, 1001, 0, 0x5A); /* odd: every block needs padding */
    for (int i = 0; i < N; i++) {
        f.ts.tv_sec = TS_SEC + i;
        f.bytes[f.len - 1] = (uint8_t)i;
        write_frame(w, id, &f);
    }
    ck_assert_msg(avtb_pcapng_close(w, &err) == AVTB_OK, "%s", err.msg);
    h = pcap_open_offline(path, ebuf);
    ck_assert_msg(h != NULL, "%s", ebuf);
    while (pcap_next_ex(h, &hdr, &data) == 1) {
        ck_assert_int_eq(hdr->ts.tv_sec, TS_SEC + n);
        ck_assert_uint_eq(hdr->caplen, 1001);
        ck_assert_uint_eq(data[1000], (uint8_t)n);
        n++;
    }
    pcap_close(h);
    ck_assert_int_eq(n, N);
}
END_TEST

START_TEST(test_dlt_raw_maps_to_linktype_raw)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    avtb_error err = {0};
    avtb_pcapng *w = NULL;
    uint32_t id;
    pcap_t *h;
    file f;

    ck_assert_int_eq(avtb_pcapng_open(path, NULL, 0, &w, &err), AVTB_OK);
    ck_assert_int_eq(avtb_pcapng_add_interface(w, DLT_RAW, 0, NULL, NULL, false, &id, &err),
                     AVTB_OK);
    ck_assert_int_eq(avtb_pcapng_close(w, &err), AVTB_OK);
    parse_file(path, &f);
    ck_assert_int_eq(f.n, 2);
    ck_assert_uint_eq(rd16(f.b[1].body), 101); /* LINKTYPE_RAW */
    ck_assert_uint_eq(rd32(f.b[1].body + 4), 0);
    free(f.data);
    h = pcap_open_offline(path, ebuf);
    ck_assert_msg(h != NULL, "%s", ebuf);
    ck_assert_int_eq(pcap_datalink(h), DLT_RAW);
    pcap_close(h);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_unwritable_path)
{
    const char *p = "/nonexistent-avtb-dir/capture.pcapng";
    avtb_error err = {0};
    avtb_pcapng *w = (avtb_pcapng *)&err; /* must be reset */

    ck_assert_int_eq(avtb_pcapng_open(p, NULL, 0, &w, &err), AVTB_ERR_IO);
    ck_assert_ptr_null(w);
    ck_assert_msg(strstr(err.msg, p) != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, strerror(ENOENT)) != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_overlong_metadata_refused)
{
    size_t n = AVTB_PCAPNG_OPT_MAX + 1;
    char *v = malloc(n + 1);
    avtb_pcapng_meta meta[] = {{"avtb-run-id", RUN_ID}, {"note", v}};
    avtb_error err = {0};
    avtb_pcapng *w = NULL;

    ck_assert_ptr_nonnull(v);
    memset(v, 'a', n);
    v[n] = '\0';
    ck_assert_int_eq(avtb_pcapng_open(path, meta, 2, &w, &err), AVTB_ERR_INPUT);
    ck_assert_ptr_null(w);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "65535") && strstr(err.msg, "note"),
                  "%s", err.msg);
    ck_assert_int_ne(access(path, F_OK), 0); /* refused before the file was made */
    /* The bound is the joined comment: two halves that each fit but not together. */
    v[n / 2] = '\0';
    meta[0].value = v;
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_pcapng_open(path, meta, 2, &w, &err), AVTB_ERR_INPUT);
    free(v);
}
END_TEST

START_TEST(test_overlong_stats_comment_refused)
{
    size_t n = AVTB_PCAPNG_OPT_MAX + 1;
    char *c = malloc(n + 1);
    avtb_error err = {0};
    uint32_t id;
    avtb_pcapng *w = open_standard(path, false, &id);
    frame fr[3];

    ck_assert_ptr_nonnull(c);
    memset(c, 'x', n);
    c[n] = '\0';
    ck_assert_int_eq(avtb_pcapng_write_stats(w, id, NULL, NULL, 1, 0, 0, c, &err), AVTB_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "statistics comment") && strstr(err.msg, "65535"), "%s", err.msg);
    /* Refusing one block leaves the writer usable: nothing half-written. */
    c[AVTB_PCAPNG_OPT_MAX] = '\0';
    avtb_error_clear(&err);
    ck_assert_msg(avtb_pcapng_write_stats(w, id, NULL, NULL, 1, AVTB_PCAPNG_UNKNOWN,
                                          AVTB_PCAPNG_UNKNOWN, c, &err) == AVTB_OK,
                  "%s", err.msg);
    standard_frames(fr);
    write_frame(w, id, &fr[0]);
    ck_assert_msg(avtb_pcapng_close(w, &err) == AVTB_OK, "%s", err.msg);
    ck_assert_int_eq(libpcap_compare(path, PCAP_TSTAMP_PRECISION_MICRO, fr, 1), PCAP_ERROR_BREAK);
    free(c);
}
END_TEST

START_TEST(test_bad_strings_refused)
{
    const avtb_pcapng_meta forged[] = {{"scenario", "x\navtb-run-id: other"}};
    const avtb_pcapng_meta colon[] = {{"a:b", "x"}};
    const avtb_pcapng_meta latin1[] = {{"scenario", "caf\xe9"}};
    const avtb_pcapng_meta utf8[] = {{"scenario", "caf\xc3\xa9"}};
    avtb_error err = {0};
    avtb_pcapng *w = NULL;
    uint32_t id;

    ck_assert_int_eq(avtb_pcapng_open(path, forged, 1, &w, &err), AVTB_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "line break"), "%s", err.msg);
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_pcapng_open(path, colon, 1, &w, &err), AVTB_ERR_INPUT);
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_pcapng_open(path, latin1, 1, &w, &err), AVTB_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "UTF-8"), "%s", err.msg);
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_pcapng_open(path, utf8, 1, &w, &err), AVTB_OK);
    ck_assert_int_eq(avtb_pcapng_add_interface(w, DLT_EN10MB, 0, "br\xff", NULL, false, &id, &err),
                     AVTB_ERR_INPUT);
    ck_assert_int_eq(avtb_pcapng_close(w, &err), AVTB_OK);
}
END_TEST

START_TEST(test_bad_arguments_refused)
{
    const struct timespec ts = {TS_SEC, 0}, neg = {-1, 0};
    const uint8_t data[8] = {0};
    avtb_error err = {0};
    uint32_t id;
    avtb_pcapng *w = NULL;

    ck_assert_int_eq(avtb_pcapng_open(path, NULL, 0, &w, &err), AVTB_OK);
    ck_assert_int_eq(avtb_pcapng_write_packet(w, 0, &ts, data, 8, 8, &err), AVTB_ERR_INTERNAL);
    ck_assert_msg(strstr(err.msg, "interface 0"), "%s", err.msg);
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_pcapng_add_interface(w, 20, 0, NULL, NULL, false, &id, &err),
                     AVTB_ERR_INPUT); /* a DLT with no LINKTYPE */
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_pcapng_add_interface(w, DLT_EN10MB, AVTB_PCAPNG_MAX_SNAPLEN + 1, NULL,
                                               NULL, false, &id, &err),
                     AVTB_ERR_INPUT);
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_pcapng_add_interface(w, DLT_EN10MB, 4, NULL, NULL, false, &id, &err),
                     AVTB_OK);
    ck_assert_int_eq(avtb_pcapng_write_packet(w, id, &ts, data, 8, 4, &err), AVTB_ERR_INTERNAL);
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_pcapng_write_packet(w, id, &ts, data, 8, 8, &err), AVTB_ERR_INTERNAL);
    avtb_error_clear(&err); /* caplen over snaplen 4 */
    ck_assert_int_eq(avtb_pcapng_write_packet(w, id, &neg, data, 4, 8, &err), AVTB_ERR_INTERNAL);
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_pcapng_write_packet(w, 1, &ts, data, 4, 8, &err), AVTB_ERR_INTERNAL);
    avtb_error_clear(&err);
    /* None of those latched: the writer still works. */
    ck_assert_int_eq(avtb_pcapng_write_packet(w, id, &ts, data, 4, 8, &err), AVTB_OK);
    ck_assert_int_eq(avtb_pcapng_close(w, &err), AVTB_OK);
    ck_assert_int_eq(avtb_pcapng_close(NULL, &err), AVTB_OK);
}
END_TEST

START_TEST(test_write_failure_latched)
{
    const struct timespec ts = {TS_SEC, 0};
    const uint8_t data[8] = {0};
    avtb_error err = {0};
    avtb_pcapng *w = NULL;
    uint32_t id;

    if (access("/dev/full", W_OK) != 0)
        return;
    ck_assert_int_eq(avtb_pcapng_open("/dev/full", NULL, 0, &w, &err), AVTB_OK);
    ck_assert_int_eq(avtb_pcapng_add_interface(w, DLT_EN10MB, 0, NULL, NULL, false, &id, &err),
                     AVTB_OK);
    ck_assert_int_eq(avtb_pcapng_write_packet(w, id, &ts, data, 8, 8, &err), AVTB_OK);
    ck_assert_int_eq(avtb_pcapng_flush(w, &err), AVTB_ERR_IO);
    ck_assert_msg(strstr(err.msg, "/dev/full") && strstr(err.msg, strerror(ENOSPC)), "%s", err.msg);
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_pcapng_write_packet(w, id, &ts, data, 8, 8, &err), AVTB_ERR_IO);
    avtb_error_clear(&err);
    ck_assert_int_eq(avtb_pcapng_close(w, &err), AVTB_ERR_IO);
    ck_assert_msg(strstr(err.msg, "/dev/full"), "%s", err.msg);
}
END_TEST

/* ---- comments: written on packets, read back ---- */

typedef struct seen {
    uint64_t packet[8];
    char text[8][128];
    int n;
} seen;

static avtb_err collect(void *ctx, uint64_t packet, const char *c, size_t len)
{
    seen *x = ctx;

    ck_assert_uint_eq(strlen(c), len);
    ck_assert_int_lt(x->n, 8);
    x->packet[x->n] = packet;
    snprintf(x->text[x->n], sizeof(x->text[0]), "%s", c);
    x->n++;
    return AVTB_OK;
}

static avtb_err stop_at_first(void *ctx, uint64_t packet, const char *c, size_t len)
{
    (void)ctx;
    (void)packet;
    (void)c;
    (void)len;
    return AVTB_ERR_INTERNAL;
}

START_TEST(test_packet_comments_round_trip)
{
    avtb_error err = {0};
    uint32_t id;
    avtb_pcapng *w = open_standard(path, false, &id);
    frame fr[3];
    seen x = {0};

    standard_frames(fr);
    ck_assert_int_eq(avtb_pcapng_write_packet_comment(w, id, &fr[0].ts, fr[0].bytes, fr[0].caplen,
                                                      fr[0].len, "first", &err),
                     AVTB_OK);
    write_frame(w, id, &fr[1]);
    ck_assert_int_eq(avtb_pcapng_write_packet_comment(w, id, &fr[2].ts, fr[2].bytes, fr[2].caplen,
                                                      fr[2].len, "third, cut", &err),
                     AVTB_OK);
    /* Refused comments write nothing and do not latch. */
    ck_assert_int_eq(avtb_pcapng_write_packet_comment(w, id, &fr[0].ts, fr[0].bytes, fr[0].caplen,
                                                      fr[0].len, "\xff", &err),
                     AVTB_ERR_INPUT);
    ck_assert_msg(avtb_pcapng_drain(w, &err) == AVTB_OK, "%s", err.msg);
    ck_assert_msg(avtb_pcapng_close(w, &err) == AVTB_OK, "%s", err.msg);
    /* libpcap reads the packets as ever: the option is not part of the data. */
    ck_assert_int_eq(libpcap_compare(path, PCAP_TSTAMP_PRECISION_MICRO, fr, 3), PCAP_ERROR_BREAK);

    ck_assert_int_eq(avtb_pcapng_read_comments(path, true, collect, &x, &err), AVTB_OK);
    ck_assert_int_eq(x.n, 3);
    ck_assert_uint_eq(x.packet[0], 0);
    ck_assert_str_eq(x.text[0], "avtb-run-id: " RUN_ID "\nscenario: " SCENARIO);
    ck_assert_uint_eq(x.packet[1], 1);
    ck_assert_str_eq(x.text[1], "first");
    ck_assert_uint_eq(x.packet[2], 3);
    ck_assert_str_eq(x.text[2], "third, cut");

    /* The section header alone, when packets are not wanted. */
    memset(&x, 0, sizeof(x));
    ck_assert_int_eq(avtb_pcapng_read_comments(path, false, collect, &x, &err), AVTB_OK);
    ck_assert_int_eq(x.n, 1);
    ck_assert_uint_eq(x.packet[0], 0);
    /* The callback's error ends the walk. */
    ck_assert_int_eq(avtb_pcapng_read_comments(path, true, stop_at_first, NULL, &err),
                     AVTB_ERR_INTERNAL);
}
END_TEST

START_TEST(test_comments_of_cut_and_foreign_files)
{
    avtb_error err = {0};
    uint32_t id;
    avtb_pcapng *w = open_standard(path, false, &id);
    frame fr[3];
    seen x = {0};
    pcapgen *g;
    off_t two;

    standard_frames(fr);
    ck_assert_int_eq(avtb_pcapng_write_packet_comment(w, id, &fr[0].ts, fr[0].bytes, fr[0].caplen,
                                                      fr[0].len, "one", &err),
                     AVTB_OK);
    ck_assert_int_eq(avtb_pcapng_flush(w, &err), AVTB_OK);
    two = file_size(path);
    ck_assert_int_eq(avtb_pcapng_write_packet_comment(w, id, &fr[1].ts, fr[1].bytes, fr[1].caplen,
                                                      fr[1].len, "two", &err),
                     AVTB_OK);
    ck_assert_int_eq(avtb_pcapng_close(w, &err), AVTB_OK);
    /* Cut inside the second packet's comment: the first comes back, the walk ends quietly. */
    ck_assert_int_eq(truncate(path, file_size(path) - 10), 0);
    ck_assert_int_gt(file_size(path), two);
    ck_assert_int_eq(avtb_pcapng_read_comments(path, true, collect, &x, &err), AVTB_OK);
    ck_assert_int_eq(x.n, 2);
    ck_assert_str_eq(x.text[1], "one");

    /* A classic pcap has no comments; a missing file is an I/O error. */
    g = pcapgen_open(path, DLT_EN10MB, false);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(pcapgen_frame(g, 1.0, fr[0].bytes, fr[0].caplen, fr[0].len), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);
    memset(&x, 0, sizeof(x));
    ck_assert_int_eq(avtb_pcapng_read_comments(path, true, collect, &x, &err), AVTB_OK);
    ck_assert_int_eq(x.n, 0);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(avtb_pcapng_read_comments(path, true, collect, &x, &err), AVTB_ERR_IO);
}
END_TEST

/* A pcapng in the other byte order (pcapgen writes one): comments still found. */
START_TEST(test_comments_other_byte_order)
{
    avtb_error err = {0};
    pcapgen_opts o = {.linktype = DLT_EN10MB, .ng = true, .swapped = true};
    pcapgen *g = pcapgen_open_ex(path, &o);
    frame fr[1];
    seen x = {0};

    make_frame(&fr[0], 60, 60, 0, 0xA1);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(pcapgen_frame(g, 1.0, fr[0].bytes, 60, 60), 0);
    ck_assert_int_eq(pcapgen_frame(g, 2.0, fr[0].bytes, 60, 60), 0);
    ck_assert_int_eq(pcapgen_close(g), 0);
    ck_assert_int_eq(avtb_pcapng_read_comments(path, true, collect, &x, &err), AVTB_OK);
    ck_assert_int_eq(x.n, 0); /* pcapgen writes none; the walk must still get through */
}
END_TEST

static Suite *pcapng_suite(void)
{
    Suite *s = suite_create("pcapng");
    TCase *tc;

    tc = tcase_create("read back");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_libpcap_reads_packets);
    tcase_add_test(tc, test_blocks_follow_spec);
    tcase_add_test(tc, test_wireshark_reads_file);
    tcase_add_test(tc, test_many_packets_cross_buffer);
    tcase_add_test(tc, test_dlt_raw_maps_to_linktype_raw);
    suite_add_tcase(s, tc);

    tc = tcase_create("killed writer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_cut_in_third_block_reads_two);
    tcase_add_test(tc, test_killed_writer_leaves_flushed_packets);
    suite_add_tcase(s, tc);

    tc = tcase_create("timestamps");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_nanoseconds_round_trip);
    tcase_add_test(tc, test_microseconds_drop_sub_microsecond);
    suite_add_tcase(s, tc);

    tc = tcase_create("pcap handler");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_handler_with_pcap_dispatch);
    tcase_add_test(tc, test_handler_latches_error);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_unwritable_path);
    tcase_add_test(tc, test_overlong_metadata_refused);
    tcase_add_test(tc, test_overlong_stats_comment_refused);
    tcase_add_test(tc, test_bad_strings_refused);
    tcase_add_test(tc, test_bad_arguments_refused);
    tcase_add_test(tc, test_write_failure_latched);
    suite_add_tcase(s, tc);

    tc = tcase_create("comments");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_packet_comments_round_trip);
    tcase_add_test(tc, test_comments_of_cut_and_foreign_files);
    tcase_add_test(tc, test_comments_other_byte_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pcapng_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
