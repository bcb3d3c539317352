#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The disk notification (gw/notify.h) on the REAL daemon: its state dir is a 16 MiB tmpfs in a
# private mount namespace (`unshare -rm`; exit 77 where that is not allowed), filled to the
# last byte; alice's messages can no longer be stored, the channel degrades and ONE `disk`
# notification goes through notify.command (however many messages are refused); when space is
# freed, the store writes again and, once it kept writing for 10 s (a nearly full disk lets
# the probe write succeed and the next message fail: the channel flaps), the `disk_ok`
# follow-up resolves it.
if [ -z "${WAGATE_IN_MOUNT_NS:-}" ]; then
  unshare -rm true 2>/dev/null || { echo "# unshare -rm not allowed here: skipped"; exit 77; }
  exec unshare -rm env WAGATE_IN_MOUNT_NS=1 bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"

mkdir -p "$T/g/state"
mount -t tmpfs -o size=16m,mode=0700 tmpfs "$T/g/state" || { echo "# cannot mount a tmpfs: skipped"; exit 77; }
NOTES=$T/notes.jsonl # outside the full disk
: >"$NOTES"
nkind() { jq -s --arg k "$1" '[.[] | select(.kind==$k)] | length' "$NOTES"; }
field() { jq -rs --arg k "$1" "[.[] | select(.kind==\$k)][0] | $2" "$NOTES"; }
wait_kind() {
  for _ in $(seq 1 $(( $2 / 50 ))); do [ "$(nkind "$1")" -ge 1 ] && return 0; sleep 0.05; done
  return 1
}
avail_k() { df -k --output=avail "$T/g/state" | tail -1 | tr -d ' '; }

setup() {
  fakewa_up
  printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s",
   "accounts":{"default":{"dm_policy":"open"}}},
   "notify":{"command":"cat >>%s; echo >>%s"}}\n' "$LISTEN" "$ROOT" "$NOTES" "$NOTES" \
    >"$T/g/wagate.json"
  start_gateway g || return 1
  local qr
  qr=$(wait_qr) || return 1
  fw POST /admin/scan "{\"qr\":\"$qr\",\"phone\":\"+15550001\"}" | grep -q '"jid"' || return 1
  wait_state connected 15000
}
check "set-up: a paired gateway, its state dir a 16 MiB tmpfs" setup

dd if=/dev/zero of="$T/g/state/fill" bs=4k 2>/dev/null
echo "# free: $(avail_k) KiB"
# the WAL's pages are reused, so a full disk still takes messages until the database must grow
n=0
for i in $(seq 1 400); do
  fw POST /admin/contacts/alice/send "{\"to\":\"+15550001\",\"text\":\"full$i\"}" >/dev/null
  n=$i
  if [ $((i % 10)) = 0 ]; then
    sleep 0.3
    [ "$(chan state)" = degraded ] && break
  fi
done
check "disk full: degraded" wait_state degraded 10000
echo "# $n messages sent after the disk was full before the channel degraded"
check "a disk notification (level error, names the store error)" ok_if \
  'wait_kind disk 3000 && [ "$(field disk .level)" = error ] &&
   [[ "$(field disk .text)" == *"No space left on device"* ]] && [ "$(field disk .open)" = true ]'
for i in 1 2 3 4 5; do
  fw POST /admin/contacts/alice/send "{\"to\":\"+15550001\",\"text\":\"more$i\"}" >/dev/null
done
sleep 2
check "one disk notification however many messages were refused" [ "$(nkind disk)" = 1 ]

rm -f "$T/g/state/fill"
check "space freed: connected again" wait_state connected 20000
check "disk_ok resolves the disk notification once the store kept writing (10 s)" ok_if \
  'wait_kind disk_ok 20000 && [ "$(field disk_ok .resolves.id)" = "$(field disk .id)" ] &&
   [ "$(field disk_ok .resolves.kind)" = disk ]'
api GET /api/v1/notifications
check "the list: disk resolved by disk_ok, nothing open" ok_if \
  '[ "$(jq -r "[.notifications[] | select(.kind==\"disk\")][0].resolved.kind" <<<"$BODY")" = disk_ok ] &&
   [ "$(jq .open <<<"$BODY")" = 0 ]'
finish
