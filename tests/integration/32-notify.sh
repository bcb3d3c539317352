#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Notifications (gw/notify.h) on the REAL daemon against fakewa, each kind provoked through
# fakewa's faults and read back from notify.command (a shell command that appends its stdin,
# one JSON per line, to a file), the event stream, GET /api/v1/notifications and -- with
# notify.self_chat -- the account's own phone in fakewa (the "note to self" chat):
#   link_down -> restored   an outage longer than notify.outage_after_s (1 s here)
#   banned -> ban_lifted    a 402 with a 2 s expiry
#   conflict -> conflict_ended  the 3rd 440 within 10 minutes (restarts cut the delays)
#   update_required -> updated  405 for a while: a second 405 is deduplicated (repeats 1)
#   logged_out -> relinked  401, then login and a new scan
#   disk -> disk_ok         the state dir's tmpfs full (only in a private mount namespace)
# Each primary appears once in the command's file, its follow-up names it (resolves.id).
source "$(dirname "$0")/../fault/fault-lib.sh"
fault_setup
NOTES=$T/notes.jsonl
: >"$NOTES"
P='"phone":"+15550001"'
NOTIFY="\"notify\":{\"outage_after_s\":1,\"self_chat\":true,\"command_timeout_ms\":5000,
  \"command\":\"cat >>$NOTES; echo >>$NOTES\"}"
check "a paired, connected daemon with notify.command and notify.self_chat" \
  fault_gateway '"backoff":{"base_ms":200,"cap_ms":1000}' "$NOTIFY"

nkind() { jq -s --arg k "$1" '[.[] | select(.kind==$k)] | length' "$NOTES"; }
field() { jq -rs --arg k "$1" "[.[] | select(.kind==\$k)][0] | $2" "$NOTES"; }
wait_kind() { # wait_kind KIND MS
  local end=$(( $(now_ms) + $2 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    [ "$(nkind "$1")" -ge 1 ] && return 0
    sleep 0.05
  done
  return 1
}
resolves() { # resolves FOLLOWUP PRIMARY: the follow-up names the primary's id and kind
  [ "$(field "$1" .resolves.id)" = "$(field "$2" .id)" ] &&
    [ "$(field "$1" .resolves.kind)" = "$2" ] && [ "$(field "$1" .open)" = false ]
}
once() { [ "$(nkind "$1")" = 1 ]; }

# ---- link_down -> restored ----
fault '{"type":"refuse","duration_ms":3500}'
fault "{\"type\":\"close\",$P}"
t=$(now_ms)
check "link_down raised after notify.outage_after_s" wait_kind link_down 6000
echo "# link_down $(( $(now_ms) - t )) ms after the link dropped (outage_after_s 1)"
check "link_down: level warn, open, key link_down:default, account default" ok_if \
  '[ "$(field link_down .level)" = warn ] && [ "$(field link_down .open)" = true ] &&
   [ "$(field link_down .key)" = link_down:default ] && [ "$(field link_down .account)" = default ]'
check "connected again after the refusals" wait_state connected 10000
check "restored follows" wait_kind restored 3000
check "restored resolves the link_down" resolves restored link_down
check "one link_down and one restored for the whole outage" ok_if 'once link_down && once restored'

# ---- note to self ----
self_texts() { fw GET /admin/contacts/%2B15550001/inbox | jq -r '.messages[].text // empty'; }
wait_self() {
  for _ in $(seq 1 200); do self_texts | grep -qF -- "$1" && return 0; sleep 0.05; done
  return 1
}
check "note to self: the link_down text reached the account's own phone" \
  wait_self "wagate [link_down] WhatsApp unreachable"
check "note to self: and the restored text" wait_self "wagate [restored] WhatsApp connection restored"
api GET '/api/v1/messages?limit=1000'
check "note to self: not taken back as a received message (our inbox has none of them)" ok_if \
  '[ "$CODE" = 200 ] && [ "$(jq "[.messages[] | select((.text // \"\") | startswith(\"wagate [\"))] | length" <<<"$BODY")" = 0 ]'

# ---- banned -> ban_lifted ----
fault "{\"type\":\"failure\",\"reason\":402,\"code\":101,\"expire\":2,$P}"
check "banned raised" wait_kind banned 5000
check "banned: level error, names the ban" ok_if \
  '[ "$(field banned .level)" = error ] && [[ "$(field banned .text)" == *"temporarily banned (402"* ]]'
check "connected after the ban's expiry" wait_state connected 8000
check "ban_lifted resolves it" ok_if 'wait_kind ban_lifted 3000 && resolves ban_lifted banned'

# ---- conflict -> conflict_ended (the 3rd 440 within 10 min; restarts cut the delays) ----
for i in 1 2 3; do
  fault "{\"type\":\"stream_error\",\"code\":440,$P}"
  wait_state conflict 5000 || nok "conflict $i: not in conflict"
  [ "$i" -lt 3 ] && [ "$(nkind conflict)" != 0 ] && nok "conflict raised at the ${i}th 440"
  api POST /api/v1/channels/whatsapp/default/restart
  wait_state connected 8000 || nok "conflict $i: not connected after the restart"
done
check "conflict raised at the 3rd 440" ok_if 'once conflict'
check "conflict_ended resolves it once connected" ok_if \
  'wait_kind conflict_ended 3000 && resolves conflict_ended conflict'

# ---- update_required -> updated, with a deduplicated repeat ----
fault "{\"type\":\"failure\",\"reason\":405,\"duration_ms\":3000,$P}"
check "405: stopped" wait_state stopped 5000
check "update_required raised" wait_kind update_required 3000
api POST /api/v1/channels/whatsapp/default/restart
check "405 again after a restart: stopped" ok_if 'sleep 0.5; wait_state stopped 5000'
sleep 0.5
check "dedup: the second update_required was not raised again" once update_required
api GET /api/v1/notifications
check "dedup: the list counts the repeat (repeats 1)" ok_if \
  '[ "$(jq "[.notifications[] | select(.kind==\"update_required\")][0].repeats" <<<"$BODY")" = 1 ]'
sleep 2.5 # the fault's 3 s are over
api POST /api/v1/channels/whatsapp/default/restart
check "restart after the 405s: connected" wait_state connected 8000
check "updated resolves update_required" ok_if 'wait_kind updated 3000 && resolves updated update_required'

# ---- logged_out -> relinked ----
fault "{\"type\":\"failure\",\"reason\":401,$P}"
check "401: logged_out" wait_state logged_out 10000
check "logged_out raised (level error, names the 401)" ok_if \
  'wait_kind logged_out 3000 && [ "$(field logged_out .level)" = error ] &&
   [[ "$(field logged_out .text)" == *"logged out (401)"* ]]'
api POST /api/v1/channels/whatsapp/default/login
QR=$(wait_qr)
check "linked again by a new scan" ok_if 'grep -q "\"jid\"" <<<"$(scan "$QR")" && wait_state connected 15000'
check "relinked resolves logged_out" ok_if 'wait_kind relinked 3000 && resolves relinked logged_out'
check "note to self after relinking: the relinked text reached the own phone" \
  wait_self "wagate [relinked] linked again as"
# not retrying (stopped, logged out) is no outage: from the 405s on (stopped, restarted,
# logged out, paired again) no link_down, although each fault first drops the live link
no_kind_after() { # no_kind_after A K: no K in the command's file after the first A
  jq -se --arg a "$1" --arg k "$2" 'map(.kind) as $v | ($v | index($a)) as $i |
    $i != null and ($v[$i:] | index($k)) == null' "$NOTES" >/dev/null
}
check "no link_down while stopped or logged out (after update_required)" \
  no_kind_after update_required link_down

# ---- the list, the events, the command's file agree ----
api GET /api/v1/notifications
LIST=$BODY
check "GET /api/v1/notifications: 200, nothing open" ok_if \
  '[ "$CODE" = 200 ] && [ "$(jq .open <<<"$LIST")" = 0 ]'
for k in link_down banned conflict update_required logged_out; do
  r=$(jq -r --arg k "$k" '[.notifications[] | select(.kind==$k)][0].resolved.kind // "none"' <<<"$LIST")
  check "list: $k is resolved ($r)" [ "$r" != none ]
done
check "list: newest first" ok_if \
  '[ "$(jq "[.notifications[].id] | . == (sort | reverse)" <<<"$LIST")" = true ]'
api GET '/api/v1/notifications?limit=2'
check "list: limit=2 gives 2" ok_if '[ "$(jq ".notifications | length" <<<"$BODY")" = 2 ]'
api GET '/api/v1/notifications?limit=x'
check "list: a bad limit is 400" [ "$CODE" = 400 ]
EV=$(events)
nev=$(jq -s '[.[] | select(.type=="notification")] | length' <<<"$EV")
nres=$(jq -s '[.[] | select(.type=="notification.resolved")] | length' <<<"$EV")
nprim=$(jq -s '[.[] | select(has("resolves") | not)] | length' "$NOTES")
nfol=$(jq -s '[.[] | select(has("resolves"))] | length' "$NOTES")
check "events: $nev notification and $nres notification.resolved, as the command saw ($nprim, $nfol)" \
  ok_if '[ "$nev" = "$nprim" ] && [ "$nres" = "$nfol" ] && [ "$nev" -ge 5 ]'
check "events: the older channel.notice still comes (logged out)" ok_if \
  'jq -r "select(.type==\"channel.notice\") | .data.text" <<<"$EV" | grep -q "logged out (401)"'
check "log: the notifications are logged" ok_if 'grep -q "link_down: WhatsApp unreachable" "$T/g/err.log"'
echo "# $(wc -l <"$NOTES") notifications through notify.command: $(jq -rs 'map(.kind) | join(" ")' "$NOTES")"

# ---- a reload changes notify.command; a shutdown does not wait for a running one ----
jq --arg c "echo \$\$ >$T/slow.pid; exec sleep 30" '.notify.command = $c' "$T/g/wagate.json" >"$T/g/new.json" &&
  mv "$T/g/new.json" "$T/g/wagate.json"
kill -HUP "$GW_PID"
for _ in $(seq 1 100); do grep -q "configuration reloaded" "$T/g/err.log" && break; sleep 0.05; done
api POST /api/v1/channels/whatsapp/default/logout
for _ in $(seq 1 100); do [ -s "$T/slow.pid" ] && break; sleep 0.05; done
SLOW=$(cat "$T/slow.pid" 2>/dev/null)
check "after SIGHUP the new notify.command runs for the logout's notification" ok_if \
  '[ -n "$SLOW" ] && kill -0 "$SLOW" 2>/dev/null'
s0=$(now_ms)
kill -TERM "$GW_PID"
wait "$GW_PID"
rc=$?
STOP_MS=$(( $(now_ms) - s0 ))
check "SIGTERM with a notify.command running: exit 0 within 1 s (${STOP_MS} ms)" ok_if \
  '[ "$rc" = 0 ] && [ "$STOP_MS" -le 1000 ]'
gone() { for _ in $(seq 1 40); do kill -0 "$SLOW" 2>/dev/null || return 0; sleep 0.05; done; return 1; }
check "the running command was killed at shutdown" gone
check "no sanitizer report" ok_if '! grep -q "ERROR: AddressSanitizer\|LeakSanitizer\|runtime error" "$T/g/err.log"'

# ---- config validation ----
bad() { # bad JSON EXPECT: the daemon refuses the config, naming the key
  echo "$1" >"$T/bad.json"
  local out
  out=$("$WAGATE_BIN" --config "$T/bad.json" --state-dir "$T/badstate" gateway --listen 127.0.0.1:0 2>&1)
  [ $? -ne 0 ] && grep -q -- "$2" <<<"$out"
}
check "config: notify.self_chat must be a boolean" bad '{"notify":{"self_chat":"yes"}}' notify.self_chat
check "config: notify.command_timeout_ms range" bad '{"notify":{"command_timeout_ms":5}}' notify.command_timeout_ms
check "config: notify.command must not be empty" bad '{"notify":{"command":""}}' notify.command
check "config: an unknown notify key" bad '{"notify":{"webhook":"x"}}' notify.webhook
finish
