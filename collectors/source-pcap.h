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
 * Opens path. A missing or unreadable file is AVTB_ERR_IO; a file libpcap
 * cannot parse, or one whose link type decode.c does not know, is
 * AVTB_ERR_INPUT. Messages name the file.
 */
avtb_err avtb_pcap_source_open(const char *path, avtb_pcap_source **out, avtb_error *err) AVTB_WUR;
/*
 * Reads the next packet into *pkt; *eof is set at the end. A capture cut off
 * mid-record (a killed writer) ends early instead of failing: the packets
 * before the cut are still evidence, and avtb_pcap_source_truncated() says so.
 */
avtb_err avtb_pcap_source_next(avtb_pcap_source *src, avtb_packet *pkt, bool *eof,
                               avtb_error *err) AVTB_WUR;
bool avtb_pcap_source_truncated(const avtb_pcap_source *src);
void avtb_pcap_source_free(avtb_pcap_source *src);

#endif
