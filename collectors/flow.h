/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flows: decoded packets (decode.c) grouped by 5-tuple, numbered by first
 * appearance and oriented client → server. analyze.c hangs its per-flow
 * state (stream-tcp.c streams, app-detect.c parsers, matchers) off each flow.
 */
#ifndef AVTB_FLOW_H
#define AVTB_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/decode.h"
#include "common/error.h"

/*
 * Endpoints in a fixed order (the smaller address/port first), so both
 * directions share a key. The VLAN is part of it: two guests with the same
 * addresses on different VLANs are two conversations, not one with
 * conflicting bytes.
 */
typedef struct avtb_flow_key {
    uint8_t family, proto;
    uint8_t addr[2][16];
    uint16_t port[2];
    uint16_t vlan; /* innermost 802.1Q id, 0 untagged */
} avtb_flow_key;

typedef struct avtb_flow {
    avtb_flow_key key;
    uint64_t id;     /* 1-based, by first appearance */
    unsigned client; /* key endpoint index of the client (the guest side) */
    void *user;      /* owned; freed with the table's free_user */
} avtb_flow;

typedef struct avtb_flow_table avtb_flow_table;

/* max_flows bounds memory; free_user frees avtb_flow.user (may be NULL). */
avtb_flow_table *avtb_flow_table_new(size_t max_flows, void (*free_user)(void *));
void avtb_flow_table_free(avtb_flow_table *t);

/*
 * Finds or creates the flow of d. *from is the key index of d's sender.
 * A new flow is oriented: the sender of a SYN is the client, the receiver
 * of a SYN/ACK is; without a handshake a port below 1024 on exactly one side
 * marks the server, else the first packet's destination is the server.
 * *flow is NULL (and AVTB_OK returned) when the table is full.
 */
avtb_err avtb_flow_get(avtb_flow_table *t, const avtb_decoded *d, avtb_flow **flow, unsigned *from,
                       bool *created) AVTB_WUR;
/*
 * The same 5-tuple starts a new conversation (a SYN after a close): frees
 * the user state, gives the flow the next number and re-orients it on d.
 */
void avtb_flow_restart(avtb_flow_table *t, avtb_flow *flow, const avtb_decoded *d, unsigned from);
/*
 * Lets a full table make room: a new flow takes the place of the oldest
 * flow, among the scan oldest (0: 64), whose user state evictable() calls
 * finished; free_user frees that state first. Without this (the default) a
 * full table refuses new flows.
 */
void avtb_flow_table_set_evictable(avtb_flow_table *t, bool (*evictable)(const void *user),
                                   size_t scan);
/* Flows evicted to make room so far. */
uint64_t avtb_flow_table_evicted(const avtb_flow_table *t);
/* Flows in the table right now. */
size_t avtb_flow_table_size(const avtb_flow_table *t);
/* Calls cb on every flow in order of first appearance. */
void avtb_flow_table_foreach(avtb_flow_table *t, void (*cb)(void *ctx, avtb_flow *flow), void *ctx);
/* Flows numbered so far (restarts count as new flows). */
uint64_t avtb_flow_table_count(const avtb_flow_table *t);
/* Text form of endpoint i of a key into buf[46]. */
void avtb_flow_addr_str(const avtb_flow_key *key, unsigned i, char buf[46]);

#endif
