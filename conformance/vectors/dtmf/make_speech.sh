#!/bin/sh
# Regenerates speech.raw, the talk-off sample for the DTMF detector: English
# speech full of digits, 8 kHz mono 16-bit signed little-endian, at most 12 s
# (192,000 bytes). Needs espeak-ng (tested 1.51) and sox (tested 14.4.2).
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
espeak-ng -v en-us -s 150 -w "$tmp/speech.wav" \
    "Please enter your account number, followed by the pound key. \
For sales, press one. For support, press two. Your balance is four hundred \
and seventy three dollars and nineteen cents. Call us back at eight six seven, \
five three oh nine. Seven, eight, nine, star, zero, pound."
sox -D "$tmp/speech.wav" -r 8000 -c 1 -b 16 -e signed-integer -t raw speech.raw trim 0 12
sha256sum speech.raw >SHA256SUMS
