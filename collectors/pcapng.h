/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small pcapng writer (draft-ietf-opsawg-pcapng) for the capture collector:
 * the run's metadata goes into the Section Header Block's comment, frames into
 * Enhanced Packet Blocks and libpcap's counters into an Interface Statistics
 * Block, so the evidence file itself says which run it belongs to and whether
 * the capture lost packets. Blocks are written whole, in host byte order.
 */
#ifndef AVTB_PCAPNG_H
#define AVTB_PCAPNG_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"

/* An option's length field is 16 bits: the longest string an option can hold. */
#define AVTB_PCAPNG_OPT_MAX 65535u
/* libpcap's MAXIMUM_SNAPLEN: the largest caplen a reader accepts for Ethernet. */
#define AVTB_PCAPNG_MAX_SNAPLEN 262144u
/* A counter passed as this to avtb_pcapng_write_stats is unknown and omitted. */
#define AVTB_PCAPNG_UNKNOWN UINT64_MAX

typedef struct avtb_pcapng avtb_pcapng;

/* One line "key: value" of the SHB comment; both borrowed for the call only. */
typedef struct avtb_pcapng_meta {
    const char *key, *value;
} avtb_pcapng_meta;

/*
 * Creates (truncates) path and starts a section: one Section Header Block
 * whose opt_comment holds one "key: value" line per meta entry (in order,
 * '\n'-separated), shb_userappl "avtb VERSION" and shb_os from uname(2).
 * Keys may not hold ':' or a line break, values no line break; all strings
 * must be UTF-8 and the joined comment at most AVTB_PCAPNG_OPT_MAX bytes
 * (AVTB_ERR_INPUT otherwise). meta may be NULL when nmeta is 0.
 * Output is buffered (1 MiB) and handed to write(2) only as whole blocks, when
 * the buffer fills, on avtb_pcapng_flush or on avtb_pcapng_close; a writer
 * killed inside write(2) may still leave a cut last block, which readers
 * report after returning every packet before it.
 * *out is set to NULL on entry; on success the caller owns it and ends it
 * with avtb_pcapng_close.
 */
avtb_err avtb_pcapng_open(const char *path, const avtb_pcapng_meta *meta, size_t nmeta,
                          avtb_pcapng **out, avtb_error *err) AVTB_WUR;

/*
 * Adds one Interface Description Block: dlt is a DLT_* value (mapped to its
 * LINKTYPE_* as libpcap does), snaplen 0 means no limit (readers then accept
 * up to AVTB_PCAPNG_MAX_SNAPLEN) and larger is refused, name and description
 * (if_name, if_description) may be NULL, nanoseconds selects if_tsresol 9
 * instead of 6. *id (set to 0 on entry) is the interface id later blocks
 * name; the first interface is 0.
 */
avtb_err avtb_pcapng_add_interface(avtb_pcapng *w, int dlt, uint32_t snaplen, const char *name,
                                   const char *description, bool nanoseconds, uint32_t *id,
                                   avtb_error *err) AVTB_WUR;

/*
 * Writes one Enhanced Packet Block: caplen bytes of data, of a frame that was
 * len bytes on the wire (caplen <= len, caplen <= the interface's snaplen).
 * ts is wall-clock time; a microsecond interface drops the sub-microsecond
 * part.
 */
avtb_err avtb_pcapng_write_packet(avtb_pcapng *w, uint32_t iface, const struct timespec *ts,
                                  const uint8_t *data, uint32_t caplen, uint32_t len,
                                  avtb_error *err) AVTB_WUR;

/*
 * avtb_pcapng_write_packet with an opt_comment on the block (NULL or "" for
 * none): at most AVTB_PCAPNG_OPT_MAX bytes of UTF-8, else AVTB_ERR_INPUT and
 * nothing is written. Wireshark shows it as the packet's comment
 * (frame.comment); avtb_pcapng_read_comments reads it back.
 */
avtb_err avtb_pcapng_write_packet_comment(avtb_pcapng *w, uint32_t iface, const struct timespec *ts,
                                          const uint8_t *data, uint32_t caplen, uint32_t len,
                                          const char *comment, avtb_error *err) AVTB_WUR;

/*
 * Writes one Interface Statistics Block for iface: isb_starttime and
 * isb_endtime (NULL omits them), isb_ifrecv = received, isb_ifdrop =
 * dropped_if, isb_osdrop = dropped_os (AVTB_PCAPNG_UNKNOWN omits a counter;
 * from libpcap: ps_recv, ps_ifdrop, ps_drop), isb_usrdeliv = the packets this
 * writer has written for iface, and opt_comment = comment unless NULL (e.g.
 * "capture incomplete: killed"). The ISB timestamp is the time of the call.
 */
avtb_err avtb_pcapng_write_stats(avtb_pcapng *w, uint32_t iface, const struct timespec *start,
                                 const struct timespec *end, uint64_t received, uint64_t dropped_if,
                                 uint64_t dropped_os, const char *comment,
                                 avtb_error *err) AVTB_WUR;

/*
 * Hands the buffered blocks to write(2), without fsync: once it returns, a
 * writer process that dies loses nothing (the host crashing still can).
 * Cheap enough to call after every few packets. Returns a latched error.
 */
avtb_err avtb_pcapng_drain(avtb_pcapng *w, avtb_error *err) AVTB_WUR;

/*
 * Writes the buffered blocks and fsyncs, so that a writer killed later leaves
 * a file readable up to here. Safe to call periodically. Returns an error
 * latched earlier (avtb_pcapng_handler, a failed write) if there is one.
 */
avtb_err avtb_pcapng_flush(avtb_pcapng *w, avtb_error *err) AVTB_WUR;

/*
 * Flushes, fsyncs, closes and frees w, whatever happens; NULL is a no-op.
 * Returns the latched error if there is one (the file is incomplete), else
 * any error of the last write, fsync or close. Calls refused earlier without
 * latching (bad arguments, over-long strings) wrote nothing and are not
 * repeated here.
 */
avtb_err avtb_pcapng_close(avtb_pcapng *w, avtb_error *err) AVTB_WUR;

/*
 * A pcap_handler writing each packet to interface 0, for
 * pcap_dispatch(h, -1, avtb_pcapng_handler, (u_char *)w) in place of
 * pcap_dump. h->ts.tv_usec is taken in the interface's resolution, as
 * libpcap delivers it (nanoseconds after pcap_set_tstamp_precision(NANO)).
 * The first error is latched: later packets are not written, and flush and
 * close report it.
 */
void avtb_pcapng_handler(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes);

/*
 * Reading back what libpcap's reader does not hand out: comments. packet is
 * 0 for a Section Header Block's comment, else the 1-based number of the
 * packet block (EPB, SPB or the obsolete PB, counted in file order as
 * libpcap returns them) the comment is on. comment is borrowed for the call
 * and NUL-terminated (len excludes the NUL; a NUL inside ends it early).
 * Returning anything but AVTB_OK stops the walk with that result.
 */
typedef avtb_err (*avtb_pcapng_comment_cb)(void *ctx, uint64_t packet, const char *comment,
                                           size_t len);

/*
 * Walks the blocks of the pcapng file at path and calls cb for each comment:
 * the first section header's only when packets is false (one read, for the
 * run metadata), every SHB's and packet block's when true. Packet data is
 * skipped, not read. A file that is not pcapng (classic pcap) has no
 * comments: AVTB_OK with no call. A block whose length does not add up, or
 * is over 64 MiB, or a file cut short, ends the walk quietly: the packet
 * reader reports that damage itself. AVTB_ERR_IO when path cannot be opened
 * or read.
 */
avtb_err avtb_pcapng_read_comments(const char *path, bool packets, avtb_pcapng_comment_cb cb,
                                   void *ctx, avtb_error *err) AVTB_WUR;

#endif
