#!/usr/bin/env bash
# Regenerates Switchboard's default prompts: 8 kHz mono 16-bit WAV.
#
# Speech: espeak-ng (American English voice, 150 words per minute), then SoX
# to resample to 8 kHz and normalise the peak to -6 dBFS. Hold music: chords
# synthesised by SoX, each fading in and out so the file loops without a
# click. Tested with espeak-ng 1.51 and SoX 14.4.2; other versions give
# slightly different bytes, which is fine.
#
# Usage: sounds/make_sounds.sh   (from anywhere; writes next to itself)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

command -v espeak-ng >/dev/null || { echo "needs espeak-ng (apt-get install espeak-ng)" >&2; exit 1; }
command -v sox >/dev/null || { echo "needs sox (apt-get install sox)" >&2; exit 1; }

# say NAME "TEXT": sounds/en/NAME.wav
say() {
    local name="$1" text="$2"
    espeak-ng -v en-us -s 150 -w "$work/$name.wav" "$text"
    sox -D "$work/$name.wav" -r 8000 -c 1 -b 16 -e signed-integer "$here/en/$name.wav" gain -n -6
}

mkdir -p "$here/en"
say greeting "Your call will be answered momentarily."
say goodbye "Thank you for calling. Goodbye."
say invalid "That is not a valid option."
say voicemail "Please leave a message after the tone."
say demo-4000 "Press any key and I will say it back."
words=(zero one two three four five six seven eight nine)
for digit in 0 1 2 3 4 5 6 7 8 9; do
    say "digit-$digit" "${words[$digit]}"
done
say digit-star "star"
say digit-pound "pound"

# Hold music: C - Am - F - G, 6 s each (24 s), three sine voices with a slow
# tremolo, a fade in and out on every chord. The file starts and ends at
# silence, so playing it in a loop is seamless.
chord() {
    local out="$1" f1="$2" f2="$3" f3="$4" bass="$5"
    sox -D -n -r 8000 -c 4 -b 16 "$work/$out.wav" synth 6 \
        sine "$f1" sine "$f2" sine "$f3" sine "$bass" \
        remix 1v0.22,2v0.18,3v0.16,4v0.2 \
        tremolo 0.4 25 fade q 0.8 6 1.2
}
chord c 261.63 329.63 392.00 130.81
chord am 261.63 329.63 440.00 110.00
chord f 261.63 349.23 440.00 87.31
chord g 246.94 293.66 392.00 98.00
sox -D "$work/c.wav" "$work/am.wav" "$work/f.wav" "$work/g.wav" \
    -r 8000 -c 1 -b 16 -e signed-integer "$here/hold-music.wav" gain -n -9

ls -l "$here"/en/*.wav "$here/hold-music.wav"
du -ch "$here"/en/*.wav "$here/hold-music.wav" | tail -1
