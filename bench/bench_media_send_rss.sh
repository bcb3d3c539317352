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
source "$(dirname "$0")/lib.sh"
MB=${BENCH_MEDIA_MB:-50}
bench_init bench_media_send_rss
bench_fakewa --media 127.0.0.1:0
cat >"$T/g/wagate.json" <<JSON
{"whatsapp":{"endpoint":"ws://$LISTEN/ws/chat","noise_root_pubkey":"$ROOT",
  "accounts":{"default":{"dm_policy":"open"}}},
 "media":{"ca_file":"$CA"}}
JSON
bench_daemon
bench_link
sleep 1

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
C0=$(cpu_ticks)
T0=$(date +%s%N)
ID=$(api POST /api/v1/messages "{\"to\":\"+15550002\",\"video\":{\"path\":\"$T/video.mp4\"}$SECS}" | jq -r .id)
GOT=""
for _ in $(seq 1 1200); do # bounded: 120 s
  GOT=$(fw GET /admin/contacts/alice/inbox | jq -c --arg id "$ID" '[.messages[] | select(.id==$id)] | last | .what.file // empty')
  [ -n "$GOT" ] && break
  sleep 0.1
done
T1=$(date +%s%N)
C1=$(cpu_ticks)
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
