#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Memory while a large file is SENT (the sibling of bench_media_rss.sh, which receives): the
# real daemon (build/wagate) linked to wagate-fakewa with its HTTPS media host. The API is asked
# to send a BENCH_MEDIA_MB (default 50) MB video by path; the daemon copies it into outmedia/,
# encrypts and uploads it, and sends the message; alice's simulated phone downloads and
# decrypts it. Printed: the daemon's RSS before, its peak (VmHWM, reset just before the send
# through /proc/PID/clear_refs) and after, the time and the CPU seconds from the request to
# alice's decrypted copy, and that copy's check. Asserts nothing (issue 14's goal: the peak
# stays under 16 MB).
set -uo pipefail
cd "$(dirname "$0")/.."
B=${WAGATE_BUILD:-build}
BIN=${WAGATE_BIN:-$B/wagate}
FW=$B/wagate-fakewa
MB=${BENCH_MEDIA_MB:-50}
for x in "$BIN" "$FW"; do [ -x "$x" ] || { echo "bench_media_send_rss: $x not built"; exit 0; }; done
for c in jq curl; do command -v $c >/dev/null || { echo "bench_media_send_rss: $c missing"; exit 0; }; done
T=$(mktemp -d /tmp/wagate-bench-XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$T"' EXIT

"$FW" --listen 127.0.0.1:0 --admin 127.0.0.1:0 --media 127.0.0.1:0 --state "$T/fw" --log-level warn \
  >"$T/fw.out" 2>"$T/fw.err" &
PIDS+=($!)
for _ in $(seq 1 500); do grep -q '^ready 1' "$T/fw.out" 2>/dev/null && break; sleep 0.01; done
ADMIN=$(sed -n 's/^admin //p' "$T/fw.out")
ROOT=$(sed -n 's/^root //p' "$T/fw.out")
LISTEN=$(sed -n 's/^listen //p' "$T/fw.out")
CA=$(sed -n 's/^ca //p' "$T/fw.out")
fw() { curl -s -m 60 -X "$1" ${3:+-d "$3"} "http://$ADMIN$2"; }
fw POST /admin/accounts '{"phone":"+15550001"}' >/dev/null
fw POST /admin/contacts '{"name":"alice","phone":"+15550002"}' >/dev/null

S=$T/g/state
mkdir -p "$T/g"
cat >"$T/g/wagate.json" <<JSON
{"whatsapp":{"endpoint":"ws://$LISTEN/ws/chat","noise_root_pubkey":"$ROOT",
  "accounts":{"default":{"dm_policy":"open"}}},
 "media":{"ca_file":"$CA"}}
JSON
"$BIN" --config "$T/g/wagate.json" --state-dir "$S" gateway --listen 127.0.0.1:0 \
  >"$T/g/out.log" 2>"$T/g/err.log" &
PID=$!
PIDS+=("$PID")
L=""
for _ in $(seq 1 500); do
  [ -f "$S/gateway.json" ] && L=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$S/gateway.json")
  [ -n "$L" ] && curl -sf -m 1 "http://$L/healthz" >/dev/null && break
  sleep 0.01
done
TOK=$(cat "$S/token")
api() { curl -s -m 5 -X "$1" -H "Authorization: Bearer $TOK" ${3:+-d "$3"} "http://$L$2"; }
state() { api GET /api/v1/channels/whatsapp/default | jq -r .state; }
wait_state() {
  for _ in $(seq 1 400); do [ "$(state)" = "$1" ] && return 0; sleep 0.05; done
  echo "bench_media_send_rss: channel not $1"; exit 0
}
wait_state pairing
QR=""
for _ in $(seq 1 200); do
  QR=$(api GET '/api/v1/channels/whatsapp/default/qr?format=json' | jq -r '.qr // empty')
  [ -n "$QR" ] && break
  sleep 0.05
done
fw POST /admin/scan "{\"qr\":\"$QR\",\"phone\":\"+15550001\"}" >/dev/null
wait_state connected
sleep 1

kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$PID/status"; }
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
# a real MP4 when the test helper is built (the probe walks past the mdat to the moov at the
# end), random bytes otherwise (the probe gives up at once)
MK=$B/wagate-test-mkmedia
SECS=',"seconds":300'
if [ -x "$MK" ]; then
  "$MK" mp4 1920 1080 300000 "$T/video.mp4" $((MB * 1048576 - 2048)) && SECS=""
else
  head -c $((MB * 1048576)) /dev/urandom >"$T/video.mp4"
fi
# the probe's libraries (libjpeg, libpng, libopusfile, libopus, libogg): resident at idle
LIBK=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { lib = ($6 ~ /lib(jpeg|png|opus|ogg)/) } lib && /^Rss:/ { s += $2 }
  END { print s + 0 }' "/proc/$PID/smaps")
R0=$(kib VmRSS)
echo 5 >"/proc/$PID/clear_refs" 2>/dev/null || true # resets VmHWM to the current RSS
C0=$(cpu)
T0=$(date +%s%N)
ID=$(api POST /api/v1/messages "{\"to\":\"+15550002\",\"video\":{\"path\":\"$T/video.mp4\"}$SECS}" | jq -r .id)
GOT=""
for _ in $(seq 1 1200); do # bounded: 120 s
  GOT=$(fw GET /admin/contacts/alice/inbox | jq -c --arg id "$ID" '[.messages[] | select(.id==$id)] | last | .what.file // empty')
  [ -n "$GOT" ] && break
  sleep 0.1
done
T1=$(date +%s%N)
C1=$(cpu)
HWM=$(kib VmHWM)
R1=$(kib VmRSS)
P=$(jq -r '.path // empty' <<<"$GOT")
OK=no
[ -n "$P" ] && cmp -s "$P" "$T/video.mp4" && OK=yes
ST=$(api GET "/api/v1/messages/$ID" | jq -r .state)
WHAT=$(fw GET /admin/contacts/alice/inbox | jq -r --arg id "$ID" '[.messages[] | select(.id==$id)] | last |
  .what | "\(.width // "-")x\(.height // "-"), \(.seconds // "-") s"')
TCK=$(getconf CLK_TCK)
awk -v mb="$MB" -v st="$ST" -v ok="$OK" -v t0="$T0" -v t1="$T1" -v c0="$C0" -v c1="$C1" -v tck="$TCK" \
  -v r0="$R0" -v hwm="$HWM" -v r1="$R1" 'BEGIN {
  printf "send %d MB video: state %s, alice decrypted it byte-identical %s, %.2f s, %.2f CPU-s (daemon)\n",
    mb, st, ok, (t1 - t0) / 1e9, (c1 - c0) / tck
  printf "daemon RSS: %.1f MiB before, peak %.1f MiB during, %.1f MiB after (goal: peak < 16 MB)\n",
    r0 / 1024, hwm / 1024, r1 / 1024 }'
echo "the video as alice's phone sees it: $WHAT ($([ -z "$SECS" ] && echo "a real MP4, probed" || echo "random bytes"))"
echo "the probe's libraries resident at idle: $LIBK KiB"
