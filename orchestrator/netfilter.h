/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The run's packet rules (nftables, through libnftables): every TCP and UDP
 * packet the guest sends, to any address and port, is redirected to the
 * sink on the run's bridge; ICMP is answered by the bridge address; nothing
 * from or to the bridge is forwarded; IPv6 from the guest is dropped (the
 * capture still has it). One table per run, "avtb_<tag>", with every rule
 * scoped to the run's bridge, so parallel runs sharing a host do not meet.
 */
#ifndef AVTB_NETFILTER_H
#define AVTB_NETFILTER_H

#include <stdint.h>

#include "common/error.h"

typedef struct avtb_nft_spec {
    const char *tag;     /* the run's tag: [a-z0-9]{1,10} */
    const char *bridge;  /* the run's bridge */
    const char *sink_ip; /* IPv4 of the bridge, where the sink listens */
    uint16_t dns_port;   /* TCP and UDP port 53 of any address goes here */
    uint16_t tcp_port;   /* every other TCP port */
    uint16_t udp_port;   /* every other UDP port but DHCP (67, 68) */
} avtb_nft_spec;

/* Installs the run's table; AVTB_ERR_IO with nft's own message on failure. */
avtb_err avtb_nft_install(const avtb_nft_spec *s, avtb_error *err) AVTB_WUR;

/*
 * Writes the table's rules and counters (nft's JSON) to path, then deletes
 * the table. A table that is already gone is not an error.
 */
avtb_err avtb_nft_remove(const char *tag, const char *path, avtb_error *err) AVTB_WUR;

/* Whether nftables answers here (root, nf_tables), for `avtb doctor`. */
avtb_err avtb_nft_usable(avtb_error *err) AVTB_WUR;

/* br_netfilter in this network namespace, for `avtb doctor` (see netfilter.c). */
typedef enum {
    AVTB_BRNF_OFF,            /* not loaded, or its bridge-nf-call-* are 0 */
    AVTB_BRNF_AVTB_TURNS_OFF, /* on, in a namespace of avtb's own: runs turn it off */
    AVTB_BRNF_REFUSED,        /* on, in the host's namespace: runs refuse to start */
} avtb_nft_brnf;
avtb_nft_brnf avtb_nft_bridge_netfilter(void);

/* The rule set avtb_nft_install loads (for tests and `avtb doctor`); the caller frees it. */
char *avtb_nft_ruleset(const avtb_nft_spec *s);

#endif
