#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Memory while a large file moves: the real daemon (build/wagate) linked to wagate-fakewa with
# its HTTPS media host. alice's phone uploads a BENCH_MEDIA_MB (default 50) MB video and sends
# it; the daemon downloads, decrypts and verifies it into its state dir. Printed: the daemon's
# RSS before, its peak (VmHWM, reset just before the transfer through /proc/PID/clear_refs) and
# after, the time and the CPU seconds of the transfer, and the stored file's check. Asserts
# nothing (issue 14's goal: the peak stays under 16 MB).
source "$(dirname "$0")/lib.sh"
MB=${BENCH_MEDIA_MB:-50}
bench_init bench_media_rss
bench_fakewa --media 127.0.0.1:0
cat >"$T/g/wagate.json" <<JSON
{"whatsapp":{"endpoint":"ws://$LISTEN/ws/chat","noise_root_pubkey":"$ROOT",
  "accounts":{"default":{"dm_policy":"open"}}},
 "media":{"ca_file":"$CA"}}
JSON
bench_daemon
bench_link
sleep 1

head -c $((MB * 1048576)) /dev/urandom >"$T/video.mp4"
PUT=$(fw POST /admin/media/put "{\"path\":\"$T/video.mp4\",\"type\":\"video\",\"encrypt\":true}")
BODY=$(jq -c '. + {"to":"+15550001","kind":"video","seconds":300,"mimetype":"video/mp4"}' <<<"$PUT")
R0=$(kib VmRSS)
echo 5 >"/proc/$PID/clear_refs" 2>/dev/null || true # resets VmHWM to the current RSS
C0=$(cpu_ticks)
T0=$(date +%s%N)
ID=$(fw POST /admin/contacts/alice/send "$BODY" | jq -r .id)
ST=""
for _ in $(seq 1 1200); do # bounded: 120 s
  ST=$(api GET '/api/v1/messages?after=0&limit=100' | jq -r --arg id "$ID" '.messages[] | select(.id==$id) | .file.state')
  [ "$ST" = done ] || [ "$ST" = failed ] && break
  sleep 0.1
done
T1=$(date +%s%N)
C1=$(cpu_ticks)
HWM=$(kib VmHWM)
R1=$(kib VmRSS)
P=$(api GET '/api/v1/messages?after=0&limit=100' | jq -r --arg id "$ID" '.messages[] | select(.id==$id) | .file.path')
OK=no
[ "$ST" = done ] && cmp -s "$P" "$T/video.mp4" && OK=yes
TCK=$(getconf CLK_TCK)
awk -v mb="$MB" -v st="$ST" -v ok="$OK" -v t0="$T0" -v t1="$T1" -v c0="$C0" -v c1="$C1" -v tck="$TCK" \
  -v r0="$R0" -v hwm="$HWM" -v r1="$R1" 'BEGIN {
  printf "receive %d MB video: state %s, byte-identical %s, %.2f s, %.2f CPU-s\n", mb, st, ok,
    (t1 - t0) / 1e9, (c1 - c0) / tck
  printf "daemon RSS: %.1f MiB before, peak %.1f MiB during, %.1f MiB after (goal: peak < 16 MB)\n",
    r0 / 1024, hwm / 1024, r1 / 1024 }'
