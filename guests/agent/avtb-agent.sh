#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# avtb in-guest agent, protocol version 1 (see PROTOCOL.md beside it).
# Talks to the host over the virtio-serial port org.avtb.agent.0: starts the
# product, says hello, runs the commands the host names, sends heartbeats,
# and returns when the host says poweroff (or goes away).
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH

PORT_NAME=org.avtb.agent.0
CMD_DIR=/avtb/product/cmd
LOG_DIR=/avtb/log
HEARTBEAT_S=5
OUTPUT_MAX=8192

log() { echo "avtb-agent: $*" >/dev/console; }

uptime_ms() {
    read -r up _ </proc/uptime
    echo "${up%.*}${up#*.}0"
}

# One JSON object per line; every value passed here is plain ASCII without
# quotes or backslashes (names are checked against [a-z0-9-] first) or went
# through json_text.
send() { echo "$1" >&3; }

# Text as the inside of a JSON string: printable ASCII, tab and newline kept
# (escaped), every other byte dropped.
json_text() {
    tr -cd '\11\12\40-\176' |
        awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); printf "%s\\n", $0 }'
}

find_port() {
    i=0
    while [ $i -lt 100 ]; do
        for d in /sys/class/virtio-ports/*; do
            [ -r "$d/name" ] || continue
            if [ "$(cat "$d/name")" = "$PORT_NAME" ]; then
                echo "/dev/${d##*/}"
                return 0
            fi
        done
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# run ID NAME: runs $CMD_DIR/NAME in the background, reports its status and
# the end of its output (a scanner's findings: the evidence keeps what the
# product said, not only its exit code).
run_cmd() {
    id=$1 name=$2
    case $id in *[!a-z0-9-]* | "") send "{\"type\":\"error\",\"msg\":\"bad command id\"}"; return ;; esac
    case $name in *[!a-z0-9-]* | "") send "{\"type\":\"error\",\"id\":\"$id\",\"msg\":\"bad command name\"}"; return ;; esac
    if [ ! -x "$CMD_DIR/$name" ]; then
        send "{\"type\":\"error\",\"id\":\"$id\",\"msg\":\"no such command: $name\"}"
        return
    fi
    (
        t0=$(uptime_ms)
        "$CMD_DIR/$name" >>"$LOG_DIR/$name.log" 2>&1 </dev/null
        rc=$?
        t1=$(uptime_ms)
        out=$(tail -c "$OUTPUT_MAX" "$LOG_DIR/$name.log" 2>/dev/null | json_text)
        send "{\"type\":\"result\",\"id\":\"$id\",\"name\":\"$name\",\"rc\":$rc,\"ms\":$((t1 - t0)),\"output\":\"$out\"}"
    ) &
    send "{\"type\":\"started\",\"id\":\"$id\",\"name\":\"$name\",\"pid\":$!,\"uptime_ms\":$(uptime_ms)}"
}

port=$(find_port) || {
    log "no virtio-serial port named $PORT_NAME"
    exit 1
}
exec 3<>"$port" || exit 1
mkdir -p "$LOG_DIR"

# The product is running before the host's timeline starts.
product=none
if [ -x "$CMD_DIR/start" ]; then
    "$CMD_DIR/start" >>"$LOG_DIR/start.log" 2>&1 </dev/null &
    product=started
fi
# Blocks until the host connects to the port.
send "{\"type\":\"hello\",\"proto\":1,\"agent\":\"avtb-agent.sh/1\",\"kernel\":\"$(uname -r)\",\"uptime_ms\":$(uptime_ms),\"product\":\"$product\"}"

(
    seq=0
    while sleep $HEARTBEAT_S; do
        seq=$((seq + 1))
        send "{\"type\":\"heartbeat\",\"seq\":$seq,\"uptime_ms\":$(uptime_ms)}"
    done
) &
heartbeat=$!

# A read at EOF means the host closed the channel: nobody is listening.
while read -r verb a b rest <&3; do
    case $verb in
    run) run_cmd "$a" "$b" ;;
    poweroff)
        kill $heartbeat 2>/dev/null
        sync
        send "{\"type\":\"bye\",\"uptime_ms\":$(uptime_ms)}"
        exit 0
        ;;
    "") ;;
    *) send "{\"type\":\"error\",\"msg\":\"unknown command\"}" ;;
    esac
done
kill $heartbeat 2>/dev/null
log "host closed the channel"
exit 0
