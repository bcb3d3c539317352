#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A restored database never makes inbox cursors go backwards (issue 17 item 1), on the REAL
# daemon against wagate-fakewa: alice writes 5 messages, the account's database is copied
# (a backup), 5 more arrive, then the backup is put back (a restore, or a disk rolled back).
# At the next start: one inbox.cursor_reset event with the lost range, a notice, epoch 2;
# alice's next message gets a cursor above every cursor given out before (before: it got 6
# again, and an agent paging from 10 never saw it); GET /api/v1/messages with the old epoch
# answers cursor_reset with the range; a torn marker is rewritten from the database with a
# warning, not a reset.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
fakewa_up

mkdir -p "$T/g"
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s"}}\n' "$LISTEN" "$ROOT" \
  >"$T/g/wagate.json"
check "gateway starts" start_gateway g
check "pairing" wait_state pairing 5000
QR=$(wait_qr)
check "the fake phone scans the QR" grep -q '"jid"' <<<"$(fw POST /admin/scan "{\"qr\":\"$QR\",\"phone\":\"+15550001\"}")"
check "connected" wait_state connected 10000
DB=$GW_STATE/accounts/default/wa.db

alice_says() { fw POST /admin/contacts/alice/send "{\"to\":\"+15550001\",\"text\":\"$1\"}" >/dev/null; }
inbox() { api GET "/api/v1/messages?after=${1:-0}&limit=1000${2:+&epoch=$2}"; }
cursor_of() { inbox 0; jq -r --arg t "$1" '[.messages[] | select(.text==$t) | .cursor][0] // empty' <<<"$BODY"; }
wait_text() { # wait_text TEXT MS
  local end=$(( $(now_ms) + $2 ))
  while [ "$(now_ms)" -lt "$end" ]; do [ -n "$(cursor_of "$1")" ] && return 0; sleep 0.05; done
  return 1
}
stop_gw() { kill -TERM "$GW_PID" && wait "$GW_PID"; }

for i in 1 2 3 4 5; do alice_says "m$i"; done
check "5 messages in the inbox" wait_text m5 10000
inbox 0
check "epoch 1, no reset" ok_if '[ "$(jq -r .epoch <<<"$BODY")" = 1 ] && [ "$(jq -r ".cursor_reset // empty" <<<"$BODY")" = "" ]'
stop_gw
mkdir -p "$T/backup" && cp "$DB"* "$T/backup/"
check "restarted" start_gateway g
check "connected" wait_state connected 10000
for i in 6 7 8 9 10; do alice_says "m$i"; done
check "10 messages in the inbox" wait_text m10 10000
LAST=$(cursor_of m10)
C5=$(cursor_of m5)
echo "# before the restore: m5 at cursor $C5, m10 at cursor $LAST"
stop_gw

# ---- the restore ----
rm -f "$DB" "$DB-wal" "$DB-shm"
cp "$T/backup/"* "$(dirname "$DB")/"
check "restarted on the restored database" start_gateway g
check "connected (same device, no QR)" wait_state connected 15000
ev=$(events)
reset=$(jq -c 'select(.type=="inbox.cursor_reset") | .data' <<<"$ev")
echo "# inbox.cursor_reset: $reset"
check "one inbox.cursor_reset event" ok_if '[ "$(grep -c . <<<"$reset")" = 1 ]'
check "it names epoch 2 and the lost range $((C5 + 1))..$LAST" ok_if \
  '[ "$(jq -r .epoch <<<"$reset")" = 2 ] && [ "$(jq -r .missed_from <<<"$reset")" = $((C5 + 1)) ] &&
   [ "$(jq -r .missed_to <<<"$reset")" = "$LAST" ]'
check "a notice says so" ok_if \
  'jq -r "select(.type==\"channel.notice\") | .data.text" <<<"$ev" | grep -q "older than the one this gateway last wrote"'
api GET /api/v1/notifications
check "a cursor_reset notification is listed" ok_if \
  '[ "$(jq -r "[.notifications[]? | select(.kind==\"cursor_reset\")] | length" <<<"$BODY")" = 1 ]'
alice_says after-restore
check "alice's next message is stored (the repair ladder rebuilds her session if needed)" \
  wait_text after-restore 30000
NEW=$(cursor_of after-restore)
echo "# after the restore: the next message got cursor $NEW (the last one given out was $LAST)"
check "its cursor is above every cursor given out before ($NEW > $LAST)" ok_if '[ "$NEW" -gt "$LAST" ]'
inbox "$LAST"
check "an agent paging from $LAST (no epoch) is told cursor_reset and sees it" ok_if \
  '[ "$(jq -r ".messages[0].text" <<<"$BODY")" = after-restore ] && [ "$(jq -r .epoch <<<"$BODY")" = 2 ] &&
   [ "$(jq -r .cursor_reset.missed_to <<<"$BODY")" = "$LAST" ]'
inbox "$NEW"
check "past the lost range, no cursor_reset any more" ok_if '[ "$(jq -r ".cursor_reset // empty" <<<"$BODY")" = "" ]'
inbox 2
check "an agent at cursor 2 is told too (it will never see $((C5 + 1))..$LAST)" ok_if \
  '[ "$(jq -r .cursor_reset.missed_from <<<"$BODY")" = $((C5 + 1)) ]'
inbox "$LAST" 1
check "with its old epoch 1: cursor_reset with the range" ok_if \
  '[ "$(jq -r .cursor_reset.epoch <<<"$BODY")" = 2 ] &&
   [ "$(jq -r .cursor_reset.missed_from <<<"$BODY")" = $((C5 + 1)) ] &&
   [ "$(jq -r .cursor_reset.missed_to <<<"$BODY")" = "$LAST" ]'
inbox $((NEW + 50)) 2
check "a cursor ahead of every cursor: cursor_reset, next_cursor is the last one" ok_if \
  '[ "$(jq -r .cursor_reset.last_cursor <<<"$BODY")" = "$NEW" ] && [ "$(jq -r .next_cursor <<<"$BODY")" = "$NEW" ]'

# ---- a torn marker: a warning, rewritten from the database, no reset ----
stop_gw
printf 'garbage' >"$(dirname "$DB")/inbox.hw"
check "restarted with a torn marker" start_gateway g
check "connected" wait_state connected 15000
check "the torn marker is named in the log" grep -q "inbox.hw is torn or foreign" "$T/g/err.log"
check "no reset for it" ok_if '[ "$(events | jq -c "select(.type==\"inbox.cursor_reset\")" | grep -c .)" = 0 ]'
check "the marker was written again" grep -q "^hw $NEW$" "$(dirname "$DB")/inbox.hw"
stop_gw
if grep -q 'ERROR: AddressSanitizer\|runtime error' "$T/g/err.log"; then nok "sanitizer reports"; fi
finish
