#!/bin/sh
# Regenerates the G.711 known-answer vectors in this directory with SoX.
# Needs sox (tested with SoX v14.4.2) and python3 (only to write the input ramp).
# `-D` turns SoX's automatic dither off: without it the 16 -> 14/13-bit
# reduction is randomised and the output is not reproducible.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Every 16-bit linear value, -32768 to 32767, little-endian.
python3 -c 'import struct, sys; sys.stdout.buffer.write(struct.pack("<65536h", *range(-32768, 32768)))' >"$tmp/ramp.s16"
# Every 8-bit code value, 0x00 to 0xFF.
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)))' >"$tmp/codes.bin"

lin="-t raw -r 8000 -c 1 -e signed -b 16"
# Encoding: entry i is the code for linear value i - 32768.
sox -D $lin "$tmp/ramp.s16" -t raw -e u-law linear_to_ulaw.ul
sox -D $lin "$tmp/ramp.s16" -t raw -e a-law linear_to_alaw.al
# Decoding: entry i (16-bit LE) is the linear value of code i.
sox -D -t raw -r 8000 -c 1 -e u-law "$tmp/codes.bin" $lin ulaw_to_linear.s16
sox -D -t raw -r 8000 -c 1 -e a-law "$tmp/codes.bin" $lin alaw_to_linear.s16
# SoX transcoding (through linear): entry i is the code for code i.
sox -D -t raw -r 8000 -c 1 -e u-law "$tmp/codes.bin" -t raw -e a-law ulaw_to_alaw_sox.al
sox -D -t raw -r 8000 -c 1 -e a-law "$tmp/codes.bin" -t raw -e u-law alaw_to_ulaw_sox.ul

sha256sum linear_to_ulaw.ul linear_to_alaw.al ulaw_to_linear.s16 alaw_to_linear.s16 \
    ulaw_to_alaw_sox.al alaw_to_ulaw_sox.ul >SHA256SUMS
