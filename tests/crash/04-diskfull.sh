#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Disk full on the state dir (fault-matrix row 30): the REAL gateway's state dir is a 16 MiB
# tmpfs in a private mount namespace (`unshare -rm`; exit 77 where that is not allowed). The
# disk is filled to the last byte; once the database must grow, the messages alice sends are
# not stored and not acknowledged, the channel goes to `degraded` with one alert, the credentials stay intact;
# when space is freed the channel recovers by itself and the server redelivers them (once in
# the inbox, one hook reply each). Printed: how many messages still fit once the disk was full
# (the WAL's pages are reused), how long the recovery took, the WAL's size after it.
if [ -z "${WAGATE_IN_MOUNT_NS:-}" ]; then
  unshare -rm true 2>/dev/null || { echo "# unshare -rm not allowed here: skipped"; exit 77; }
  exec unshare -rm env WAGATE_IN_MOUNT_NS=1 bash "$0" "$@"
fi
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/channel-lib.sh"
source "$(dirname "$0")/crash-lib.sh"

mkdir -p "$T/g/state"
mount -t tmpfs -o size=16m,mode=0700 tmpfs "$T/g/state" || { echo "# cannot mount a tmpfs: skipped"; exit 77; }
avail_k() { df -k --output=avail "$T/g/state" | tail -1 | tr -d ' '; }
fill_to() { # fill_to KIB: leave about KIB free (0 = none at all)
  rm -f "$T/g/state/fill"
  local a
  a=$(avail_k)
  if [ "$1" = 0 ]; then
    dd if=/dev/zero of="$T/g/state/fill" bs=4k 2>/dev/null
  elif [ "$a" -gt "$1" ]; then
    dd if=/dev/zero of="$T/g/state/fill" bs=1k count=$((a - $1)) 2>/dev/null
  fi
}

check "set-up: the gateway paired, its state dir a 16 MiB tmpfs" crash_setup
ID0=$(identity "$GW_STATE/accounts/default/wa.db")
echo "# after pairing: $(du -sk "$GW_STATE" | cut -f1) KiB used in the state dir"
alice_says before >/dev/null
check "a message before the disk fills is answered" wait_reply before

fill_to 0
echo "# free: $(avail_k) KiB"
# The WAL's pages are reused after each checkpoint, so a full disk still takes messages until
# the database itself must grow: alice keeps sending until the channel degrades (bounded).
IDS=()
n=0
for i in $(seq 1 400); do
  IDS+=("$(alice_says "full$i")")
  n=$i
  if [ $((i % 10)) = 0 ]; then
    sleep 0.3
    [ "$(chan state)" = degraded ] && break
  fi
done
check "disk full: the channel goes to degraded" wait_state degraded 10000
echo "# $n messages sent after the disk was full before the channel degraded"
LAST=${IDS[$((${#IDS[@]} - 1))]}
sleep 1
check "the refused message was not acknowledged" ok_if '! acked "$LAST"'
check "the status names the store error" ok_if 'chan last_error | grep -q "store: No space left on device"'
ev=$(events)
check "one channel.degraded alert" ok_if \
  '[ "$(jq -r "select(.type==\"channel.degraded\") | .data.account" <<<"$ev" | wc -l)" = 1 ]'
check "the credentials are intact (same identity)" [ "$(identity "$GW_STATE/accounts/default/wa.db")" = "$ID0" ]
rm -f "$T/g/state/fill"
T2=$(now_ms)
# alice writes again at once, before the gateway's next write probe (issue 17: this message
# was stored before the refused ones, which came only after a forced reconnect)
AFTER=$(alice_says "after-free")
check "space freed: connected again by itself" wait_state connected 20000
echo "# connected $(($(now_ms) - T2)) ms after space was freed"
all_once() {
  local i
  for i in $(seq 1 "$n"); do wait_reply "full$i" 300 || { echo "# no reply to full$i"; return 1; }; done
  sleep 1
  for i in $(seq 1 "$n"); do [ "$(replies "full$i")" = 1 ] || { echo "# full$i: $(replies "full$i") replies"; return 1; }; done
}
check "every message sent while full is answered exactly once (the refused ones redelivered)" all_once
api GET '/api/v1/messages?account=default&after=0&limit=1000'
in_once() {
  local id
  for id in "${IDS[@]}"; do
    [ "$(jq --arg a "$id" '[.messages[] | select(.id==$a)] | length' <<<"$BODY")" = 1 ] || return 1
  done
}
check "each is in the inbox once" in_once
in_order() { # the inbox holds full1..full$n and then after-free, in the order alice sent them
  wait_reply after-free 300 || { echo "# no reply to after-free"; return 1; }
  api GET '/api/v1/messages?account=default&after=0&limit=1000'
  local got
  got=$(jq -c '[.messages[] | select(.text | test("^(full[0-9]+|after-free)$")) | .text]' <<<"$BODY")
  local want
  want=$(jq -nc --argjson n "$n" '[range(1; $n + 1) | "full\(.)"] + ["after-free"]')
  [ "$got" = "$want" ] || { echo "# inbox order: $got"; return 1; }
}
check "per chat, the inbox order is alice's: the refused ones before what she wrote after" in_order
echo "# WAL after recovery: $(stat -c %s "$GW_STATE/accounts/default/wa.db-wal" 2>/dev/null || echo 0) bytes"
# The smallest free space that still works across a restart (the case that failed before:
# the WAL of a restarted gateway filled a nearly full disk): 10 messages per step.
smallest=none
for kib in 2048 1536 1024; do
  kill -TERM "$GW_PID"
  wait "$GW_PID"
  fill_to "$kib"
  gw_start && wait_state connected 20000 >/dev/null || break
  ok=1
  for j in $(seq 1 10); do alice_says "room$kib-$j" >/dev/null; done
  for j in $(seq 1 10); do wait_reply "room$kib-$j" 100 || { ok=0; break; }; done
  echo "# $kib KiB free at the start: $([ $ok = 1 ] && echo "all 10 stored and answered" || echo "not all got through"), df $(avail_k) KiB left, state $(chan state)"
  rm -f "$T/g/state/fill"
  [ $ok = 1 ] && smallest=$kib || break
done
echo "# smallest free space that worked across a restart: $smallest KiB (of the steps tried)"
wait_state connected 20000 >/dev/null
kill -TERM "$GW_PID"
wait "$GW_PID"
if grep -q 'ERROR: AddressSanitizer\|runtime error' "$T/g/err.log"; then nok "sanitizer reports"; fi
kill -TERM "$FW_PID"
wait "$FW_PID"
umount "$T/g/state" 2>/dev/null
finish
