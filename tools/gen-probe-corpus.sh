#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gen-probe-corpus.sh [BUILD] -- the seed corpus of fuzz/fuzz_mediaprobe (fuzz/corpus/
# fuzz_mediaprobe/): tiny files made by wagate-test-mkmedia (tests/common/mediagen), each
# prefixed with the byte that picks its parser (0 MP4, 1 Ogg, 2 image).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mk=${1:-$root/build}/wagate-test-mkmedia
out=$root/fuzz/corpus/fuzz_mediaprobe
[ -x "$mk" ] || { echo "gen-probe-corpus: build $mk first" >&2; exit 1; }
mkdir -p "$out"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
"$mk" mp4 320 240 5000 "$t/mp4" 64
"$mk" opus 200 "$t/ogg"
"$mk" jpeg 40 30 "$t/jpeg"
"$mk" jpeg 24 24 "$t/jpeg-prog" progressive
"$mk" jpeg 16 24 "$t/jpeg-exif" exif6
"$mk" png 20 12 "$t/png" alpha
seed() { { printf "\\$(printf %03o "$1")"; cat "$2"; } >"$out/$3"; }
seed 0 "$t/mp4" mp4
seed 1 "$t/ogg" ogg
seed 2 "$t/jpeg" jpeg
seed 2 "$t/jpeg-prog" jpeg-progressive
seed 2 "$t/jpeg-exif" jpeg-exif
seed 2 "$t/png" png
printf '\002RIFF\0\0\0\0WEBPVP8X\012\0\0\0\020\0\0\0\377\001\0\053\001\0' >"$out/webp"
ls -l "$out"
