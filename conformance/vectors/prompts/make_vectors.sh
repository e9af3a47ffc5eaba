#!/usr/bin/env bash
# Tiny encoded prompts for the decoder tests in media/src/player/prompt.rs:
# a 440 Hz sine, 0.5 s, -6 dBFS, in each compressed format we accept.
# Needs SoX (FLAC, Ogg Vorbis) and LAME (MP3; this SoX has no MP3 writer).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# FLAC, 16 kHz stereo: exercises the mix-down and the resampler.
sox -D -n -r 16000 -c 2 -b 16 sine-440-16k-stereo.flac synth 0.5 sine 440 gain -6
# Ogg Vorbis, 22.05 kHz mono.
sox -D -n -r 22050 -c 1 -b 16 "$work/sine.wav" synth 0.5 sine 440 gain -6
sox -D "$work/sine.wav" -C 0 sine-440-22k-mono.ogg
# MP3 (MPEG-2 layer III), 16 kHz mono, 32 kbit/s.
sox -D -n -r 16000 -c 1 -b 16 "$work/sine16.wav" synth 0.5 sine 440 gain -6
lame --quiet -b 32 -m m "$work/sine16.wav" sine-440-16k-mono.mp3

sha256sum ./*.flac ./*.ogg ./*.mp3 > SHA256SUMS
ls -l ./*.flac ./*.ogg ./*.mp3
