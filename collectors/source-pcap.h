/* SPDX-License-Identifier: Apache-2.0 */
/*
 * First stage of the analysis: packets out of a capture file (pcap or
 * pcapng, via libpcap's offline reader). Next stage: decode.c.
 */
#ifndef AVTB_SOURCE_PCAP_H
#define AVTB_SOURCE_PCAP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

typedef struct avtb_pcap_source avtb_pcap_source;

/* One captured packet; data is borrowed until the next call on the source. */
typedef struct avtb_packet {
    const uint8_t *data;
    uint32_t caplen; /* bytes in data */
    uint32_t len;    /* bytes on the wire */
    double ts;       /* seconds since the epoch */
    int linktype;    /* DLT_* */
} avtb_packet;

/*
 * Opens path (pcap in either byte order and time resolution, or pcapng).
 * A missing or unreadable file is AVTB_ERR_IO; a file libpcap cannot parse,
 * one cut short inside its file header, or one whose link type decode.c does
 * not know, is AVTB_ERR_INPUT. Messages name the file.
 */
avtb_err avtb_pcap_source_open(const char *path, avtb_pcap_source **out, avtb_error *err) AVTB_WUR;
/*
 * Reads the next packet into *pkt; *eof is set at the end. A capture cut off
 * mid-record (a killed writer), or a record libpcap refuses (a corrupt
 * length, a pcapng interface of another link type), ends it early instead of
 * failing: the packets before are still evidence, avtb_pcap_source_truncated()
 * says so and avtb_pcap_source_error() says why.
 */
avtb_err avtb_pcap_source_next(avtb_pcap_source *src, avtb_packet *pkt, bool *eof,
                               avtb_error *err) AVTB_WUR;
bool avtb_pcap_source_truncated(const avtb_pcap_source *src);
/*
 * Why the capture ended early, for the evidence: names the file, the packet
 * count reached and libpcap's reason ("truncated dump file; ..."). "" while
 * the capture reads cleanly. Valid until the source is freed.
 */
const char *avtb_pcap_source_error(const avtb_pcap_source *src);
/* Packets read so far. */
uint64_t avtb_pcap_source_count(const avtb_pcap_source *src);
void avtb_pcap_source_free(avtb_pcap_source *src);

#endif
