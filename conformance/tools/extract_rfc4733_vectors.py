#!/usr/bin/env python3
"""Extracts the RTP telephone-event packets of SIPp's dtmf_2833_*.pcap files
into conformance/vectors/rfc4733/sipp_dtmf_2833.txt (see the README there).

Usage: conformance/tools/extract_rfc4733_vectors.py [/usr/share/sip-tester]
Standard library only; handles classic pcap, Ethernet + IPv4 + UDP.
"""
import os
import struct
import sys

DIGITS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "star", "pound"]


def records(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nanos = magic in (0xA1B23C4D, 0x4D3CB2A1)
    (link,) = struct.unpack(endian + "I", data[20:24])
    assert link == 1, "only Ethernet captures are handled"
    offset = 24
    while offset + 16 <= len(data):
        seconds, fraction, included, _ = struct.unpack(endian + "IIII", data[offset : offset + 16])
        offset += 16
        frame = data[offset : offset + included]
        offset += included
        micros = seconds * 1_000_000 + (fraction // 1000 if nanos else fraction)
        yield micros, frame


def rtp_of(frame):
    if struct.unpack(">H", frame[12:14])[0] != 0x0800:
        return None
    ip = frame[14:]
    header_len = (ip[0] & 0x0F) * 4
    if ip[9] != 17:
        return None
    udp = ip[header_len:]
    (udp_len,) = struct.unpack(">H", udp[4:6])
    return udp[8:udp_len]


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/sip-tester"
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.path.join(here, "..", "vectors", "rfc4733", "sipp_dtmf_2833.txt")
    lines = [
        "# RTP packets of SIPp's dtmf_2833_*.pcap (sip-tester), one file per section.",
        "# Made by conformance/tools/extract_rfc4733_vectors.py; see README.md.",
        "# file <name> <expected event code>",
        "# <arrival µs since first packet> <marker 0|1> <payload type> <sequence> <timestamp> <payload hex>",
    ]
    for code, name in enumerate(DIGITS):
        path = os.path.join(source, f"dtmf_2833_{name}.pcap")
        lines.append(f"file dtmf_2833_{name}.pcap {code}")
        first = None
        for micros, frame in records(path):
            rtp = rtp_of(frame)
            if rtp is None or len(rtp) < 12 or rtp[0] >> 6 != 2:
                continue
            first = micros if first is None else first
            marker = rtp[1] >> 7
            payload_type = rtp[1] & 0x7F
            sequence, timestamp = struct.unpack(">HI", rtp[2:8])
            payload = rtp[12 + 4 * (rtp[0] & 0x0F) :]
            lines.append(f"{micros - first} {marker} {payload_type} {sequence} {timestamp} {payload.hex()}")
    with open(target, "w") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
