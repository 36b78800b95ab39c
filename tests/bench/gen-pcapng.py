#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes a valid pcapng of random-payload UDP and TCP packets, of about SIZE
# bytes, for tests/bench/bench-verify. Fast: a block of packets is built once
# from random bytes and written again and again with fresh timestamps.
#
#   gen-pcapng.py OUT SIZE_MIB
import os
import struct
import sys


def block(btype, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF


def frame(i, payload):
    tcp = i % 2 == 1
    src, dst = bytes([10, 213, 44, 10]), bytes([10, 213, 44, 1])
    if tcp:  # one flow of in-order segments, sequence numbers continuing
        l4 = struct.pack("!HHIIBBHHH", 40000, 8443, 1 + (i // 2) * len(payload), 1, 5 << 4,
                         0x18, 65535, 0, 0)
        proto = 6
    else:
        l4 = struct.pack("!HHHH", 50000 + i % 7, 9999, 8 + len(payload), 0)
        proto = 17
    total = 20 + len(l4) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, i & 0xFFFF, 0x4000, 64, proto, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = bytes.fromhex("525400000001525400000002") + b"\x08\x00"
    return eth + ip + l4 + payload


def main():
    out, mib = sys.argv[1], int(sys.argv[2])
    target = mib << 20
    per = 1400
    n_block = 512
    rnd = os.urandom(per * n_block)
    frames = [frame(i, rnd[i * per:(i + 1) * per]) for i in range(n_block)]
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = block(0x00000001, struct.pack("<HHI", 1, 0, 65535))
    t = 1795701000 * 1000000
    written = 0
    seq = 0
    with open(out, "wb", buffering=8 << 20) as f:
        f.write(shb + idb)
        written += len(shb) + len(idb)
        while written < target:
            chunk = []
            for fr in frames:
                if fr[23] == 6:  # TCP: keep the sequence numbers going
                    s = 1 + seq * per
                    seq += 1
                    fr = fr[:38] + struct.pack("!I", s & 0xFFFFFFFF) + fr[42:]
                t += 10
                chunk.append(block(6, struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF,
                                                  len(fr), len(fr)) + fr))
            data = b"".join(chunk)
            f.write(data)
            written += len(data)


if __name__ == "__main__":
    main()
