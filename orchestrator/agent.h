/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host side of the in-guest agent channel (protocol in
 * guests/agent/PROTOCOL.md): a unix socket that QEMU serves for the
 * virtio-serial port org.avtb.agent.0. Guest lines are hostile input: each
 * is bounded, parsed as a JSON object, and recorded in agent.jsonl together
 * with the host's receive time; anything else becomes an anomaly record.
 */
#ifndef AVTB_AGENT_H
#define AVTB_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

#define AVTB_AGENT_MAX_LINE 65536

typedef struct avtb_agent avtb_agent;

/* Called for every well-formed message; msg is borrowed for the call. */
typedef void (*avtb_agent_cb)(void *ctx, const char *type, json_t *msg);

/*
 * Creates the line decoder. transcript may be NULL (fuzzing, tests); when
 * given it is borrowed and receives one JSON line per message or anomaly.
 */
avtb_agent *avtb_agent_new(FILE *transcript, avtb_agent_cb cb, void *ctx);
void avtb_agent_free(avtb_agent *a);

/*
 * Feeds bytes from the guest. Splits lines, parses them and calls cb.
 * Over-long lines are cut, reported once as an anomaly, and skipped up to
 * the next newline. Never fails on content; *consumed is always len.
 */
void avtb_agent_feed(avtb_agent *a, const uint8_t *buf, size_t len, size_t *consumed);

/* Messages and anomalies seen so far. */
uint64_t avtb_agent_messages(const avtb_agent *a);
uint64_t avtb_agent_anomalies(const avtb_agent *a);
/* Lines the transcript left out: beyond 256 MiB, or anomalies beyond the
 * first 1000 (their count is kept). Non-zero makes the evidence incomplete. */
uint64_t avtb_agent_unrecorded(const avtb_agent *a);

/*
 * Connects to the channel socket, retrying until timeout_ms (QEMU creates it
 * as the domain starts). Returns a non-blocking fd.
 */
avtb_err avtb_agent_connect(const char *sock_path, unsigned timeout_ms, int *fd,
                            avtb_error *err) AVTB_WUR;
/* Sends one command line (a newline is added) and records it. */
avtb_err avtb_agent_send(avtb_agent *a, int fd, const char *line, avtb_error *err) AVTB_WUR;

#endif
