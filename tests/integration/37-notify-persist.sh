#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Notifications survive a restart (gw/notify.h, <state>/notifications.json), on the REAL daemon
# against fakewa, with notify.command (appends each JSON to a file) and notify.self_chat:
#   - a link_down raised, the daemon stopped (SIGTERM) and started again while WhatsApp still
#     refuses: the list shows it open (same id); the same outage past notify.outage_after_s is
#     deduplicated into it (repeats), neither notify.command nor the note to self fire again;
#   - the link back: ONE restored resolves the persisted id; a second restart shows both in the
#     list (open 0) and fires nothing; new ids continue after the loaded ones;
#   - SIGKILL right after a raise: the notification is in the file (written before the sinks);
#   - a torn file, then garbage: a warning, the bad file kept aside (.bad-<UTC>), an empty
#     list, and new notifications work and are saved.
source "$(dirname "$0")/../fault/fault-lib.sh"
fault_setup
NOTES=$T/notes.jsonl
: >"$NOTES"
P='"phone":"+15550001"'
NOTIFY="\"notify\":{\"outage_after_s\":1,\"self_chat\":true,\"command_timeout_ms\":5000,
  \"command\":\"cat >>$NOTES; echo >>$NOTES\"}"
check "a paired, connected daemon with notify.command and notify.self_chat" \
  fault_gateway '"backoff":{"base_ms":200,"cap_ms":1000}' "$NOTIFY"
FILE=$GW_STATE/notifications.json

nkind() { jq -s --arg k "$1" '[.[] | select(.kind==$k)] | length' "$NOTES"; }
field() { jq -rs --arg k "$1" "[.[] | select(.kind==\$k)][0] | $2" "$NOTES"; }
wait_kind() { # wait_kind KIND MS [N]
  local end=$(( $(now_ms) + $2 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    [ "$(nkind "$1")" -ge "${3:-1}" ] && return 0
    sleep 0.05
  done
  return 1
}
self_texts() { fw GET /admin/contacts/%2B15550001/inbox | jq -r '.messages[].text // empty'; }
nself() { self_texts | grep -cF -- "$1"; }
wait_self() {
  for _ in $(seq 1 200); do [ "$(nself "$1")" -ge 1 ] && return 0; sleep 0.05; done
  return 1
}
list() { api GET /api/v1/notifications; }
lfield() { jq -r --arg k "$1" "[.notifications[] | select(.kind==\$k)][0] | $2" <<<"$BODY"; }
restart_gw() { # SIGTERM (or $1) and start again on the same state dir and config
  kill "-${1:-TERM}" "$GW_PID"
  wait "$GW_PID" 2>/dev/null
  cp "$T/g/err.log" "$T/g/err.log.$(now_ms)"
  start_gateway g
}

# ---- link_down, then a restart during the outage ----
fault '{"type":"refuse","duration_ms":60000}'
fault "{\"type\":\"close\",$P}"
check "link_down raised after notify.outage_after_s" wait_kind link_down 8000
check "the note to self is held while the link is down" ok_if '[ "$(nself "wagate [link_down]")" = 0 ]'
ID=$(field link_down .id)
check "the file holds the open link_down (id $ID) before the daemon stops" ok_if \
  "jq -e --argjson i $ID '.notes[] | select(.id == \$i and .kind == \"link_down\" and .open)' \"$FILE\" >/dev/null"
check "restarted during the outage" restart_gw
list
check "after the restart the list shows the link_down open, same id" ok_if \
  '[ "$CODE" = 200 ] && [ "$(lfield link_down .id)" = "$ID" ] && [ "$(lfield link_down .open)" = true ] &&
   [ "$(jq .open <<<"$BODY")" = 1 ]'
grep -q "notifications loaded from" "$T/g/err.log" && ok "the log says the list was loaded" || nok "no load line in the log"
sleep 2.5 # the same outage, past notify.outage_after_s in this process too
list
check "the outage in the new process is deduplicated into it (repeats $(lfield link_down .repeats))" ok_if \
  '[ "$(lfield link_down .repeats)" -ge 1 ] && [ "$(lfield link_down .id)" = "$ID" ]'
check "notify.command saw ONE link_down" [ "$(nkind link_down)" = 1 ]

# ---- the link back ----
fault '{"type":"refuse","duration_ms":1}'
check "connected again" wait_state connected 15000
check "restored follows" wait_kind restored 5000
check "restored resolves the persisted id" ok_if \
  '[ "$(field restored .resolves.id)" = "$ID" ] && [ "$(field restored .resolves.kind)" = link_down ]'
check "one link_down and one restored through notify.command" ok_if \
  '[ "$(nkind link_down)" = 1 ] && [ "$(nkind restored)" = 1 ]'
check "note to self: one link_down text, one restored text" ok_if \
  'wait_self "wagate [restored]" && [ "$(nself "wagate [link_down]")" = 1 ] && [ "$(nself "wagate [restored]")" = 1 ]'
RID=$(field restored .id)

# ---- a restart with nothing open fires nothing and keeps the history ----
c0=$(wc -l <"$NOTES")
s0=$(self_texts | grep -c "^wagate \[")
check "restarted again" restart_gw
check "connected" wait_state connected 15000
sleep 1.5
list
check "the list after the restart: link_down resolved by restored (#$RID), none open" ok_if \
  '[ "$(lfield link_down .open)" = false ] && [ "$(lfield link_down .resolved.id)" = "$RID" ] &&
   [ "$(lfield link_down .resolved.kind)" = restored ] && [ "$(jq .open <<<"$BODY")" = 0 ]'
check "nothing fired again: notify.command ($c0 lines) and the note to self ($s0)" ok_if \
  '[ "$(wc -l <"$NOTES")" = "$c0" ] && [ "$(self_texts | grep -c "^wagate \[")" = "$s0" ]'

# ---- SIGKILL right after a raise ----
fault "{\"type\":\"failure\",\"reason\":401,$P}"
check "logged_out raised" wait_kind logged_out 10000
LID=$(field logged_out .id)
check "new ids continue after the loaded ones ($LID > $RID)" [ "$LID" -gt "$RID" ]
check "killed (-9) and started again" restart_gw KILL
list
check "the logged_out raised just before the kill is in the list, open" ok_if \
  '[ "$(lfield logged_out .id)" = "$LID" ] && [ "$(lfield logged_out .open)" = true ]'
check "logged_out went through notify.command once" [ "$(nkind logged_out)" = 1 ]
api POST /api/v1/channels/whatsapp/default/login
QR=$(wait_qr)
check "linked again by a new scan" ok_if 'grep -q "\"jid\"" <<<"$(scan "$QR")" && wait_state connected 15000'
check "relinked resolves the logged_out raised before the kill" ok_if \
  'wait_kind relinked 5000 && [ "$(field relinked .resolves.id)" = "$LID" ]'

# ---- a torn file, then garbage ----
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null
SIZE=$(stat -c %s "$FILE")
head -c $(( SIZE / 2 )) "$FILE" >"$FILE.tmp" && mv "$FILE.tmp" "$FILE"
TORN=$(sha256sum <"$FILE")
check "started with a torn notifications file" start_gateway g
list
check "torn: an empty list" ok_if '[ "$CODE" = 200 ] && [ "$(jq ".notifications | length" <<<"$BODY")" = 0 ]'
check "torn: a warning names the file" grep -q "notifications file .* is unusable" "$T/g/err.log"
BAD=$(ls "$FILE".bad-* 2>/dev/null | head -1)
check "torn: the bad file is kept aside, unchanged ($(basename "${BAD:-none}"))" ok_if \
  '[ -n "$BAD" ] && [ "$(sha256sum <"$BAD")" = "$TORN" ]'
check "connected" wait_state connected 15000
n0=$(nkind link_down)
fault '{"type":"refuse","duration_ms":2500}'
fault "{\"type\":\"close\",$P}"
check "a new notification after the torn file" wait_kind link_down 8000 $((n0 + 1))
check "... saved to a new file" ok_if "jq -e '.notes | length >= 1' \"$FILE\" >/dev/null"
kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null
head -c 3000 /dev/urandom >"$FILE"
sleep 1 # another second for the .bad-<UTC> name
check "started with garbage in the file" start_gateway g
list
check "garbage: an empty list, a second file aside" ok_if \
  '[ "$CODE" = 200 ] && [ "$(jq ".notifications | length" <<<"$BODY")" = 0 ] && [ "$(ls "$FILE".bad-* | wc -l)" = 2 ]'
check "no sanitizer report" ok_if '! cat "$T"/g/err.log* | grep -q "ERROR: AddressSanitizer\|LeakSanitizer\|runtime error"'
finish
