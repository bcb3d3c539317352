#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The access policy before the exec hook, in the REAL daemon against wagate-fakewa (issue 13,
# item 2), with the defaults (dm_policy pairing, group_policy allowlist, require_mention):
# a stranger's DMs are stored and counted but never reach the hook, and the stranger gets ONE
# pairing code (not one per message, not again after a restart); `wagate pairing approve CODE`
# lets the next message through, for good (across a restart); a group that is not allowed never
# reaches the hook; an allowed group reaches it only with an @-mention of our own JID; the
# owner's own chat always does.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
fakewa_up
fw POST /admin/contacts '{"name":"bob","phone":"+15550003"}' >/dev/null

cat >"$T/bot.sh" <<EOF
#!/bin/sh
IFS= read -r msg
printf '%s\n' "\$msg" >>"$T/bot.calls"
printf 'bot: %s\n' "\$(printf '%s\n' "\$msg" | sed -n 's/.*"text":"\([^"]*\)".*/\1/p')"
EOF
mkdir -p "$T/g"
conf() { # conf [ACCOUNT KEYS]
  printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s",
 "accounts":{"default":{%s}}},
 "hooks":{"exec":{"command":"sh %s","timeout_ms":5000}}}\n' "$LISTEN" "$ROOT" "${1:-}" "$T/bot.sh" \
    >"$T/g/wagate.json"
}
conf
check "gateway starts (default policy)" start_gateway g
check "pairing" wait_state pairing 5000
QR=$(wait_qr)
check "the fake phone scans the QR" grep -q '"jid"' <<<"$(fw POST /admin/scan "{\"qr\":\"$QR\",\"phone\":\"+15550001\"}")"
check "connected" wait_state connected 10000

calls() { [ -f "$T/bot.calls" ] || { echo 0; return; }; grep -c "\"text\":\"$1\"" "$T/bot.calls" || true; }
inbox_of() { fw GET "/admin/contacts/$1/inbox"; }
codes_to() { inbox_of "$1" | jq '[.messages[] | select(.text | test("pairing code is"))] | length'; }
wait_for() { # wait_for MS COMMAND...: until the command succeeds
  local end=$(( $(now_ms) + $1 )); shift
  while [ "$(now_ms)" -lt "$end" ]; do "$@" && return 0; sleep 0.05; done
  return 1
}
has_code() { [ "$(codes_to "$1")" -ge 1 ]; }
calls_is() { [ "$(calls "$1")" = "$2" ]; }
has_text() { [ "$(inbox_of "$1" | jq --arg t "$2" '[.messages[] | select(.text==$t)] | length')" -ge 1 ]; }
stored() { api GET '/api/v1/messages?after=0&limit=1000'; [ "$(jq --arg i "$1" '[.messages[] | select(.id==$i)] | length' <<<"$BODY")" = 1 ]; }
say() { fw POST "/admin/contacts/$1/send" "{\"to\":\"${3:-+15550001}\",\"text\":\"$2\"${4:+,\"mention\":\"$4\"}}" | jq -r .id; }
restart_gw() {
  kill -TERM "$GW_PID"; wait "$GW_PID"
  start_gateway g && wait_state connected 10000
}

# ---- a stranger under dm_policy pairing ----
A1=$(say alice "hello 1")
A2=$(say alice "hello 2")
check "alice gets a pairing code" wait_for 5000 has_code alice
A3=$(say alice "hello 3")
check "both messages are stored (GET /api/v1/messages)" ok_if 'wait_for 3000 stored "$A2" && stored "$A1"'
sleep 1
check "... and exactly ONE code for three messages" ok_if '[ "$(codes_to alice)" = 1 ]'
check "none of them reached the hook" ok_if '[ "$(calls "hello 1")$(calls "hello 2")$(calls "hello 3")" = 000 ]'
PCODE=$(inbox_of alice | jq -r '[.messages[] | select(.text | test("pairing code is"))][0].text' | sed -n 's/.*pairing code is \([A-Z0-9]*\).*/\1/p')
check "the code is 8 characters" ok_if '[ ${#PCODE} = 8 ]'
ev=$(events)
check "access.pairing names alice and the code, once" ok_if \
  '[ "$(jq -c "select(.type==\"access.pairing\") | .data" <<<"$ev" | jq -s "length")" = 1 ] &&
   [ "$(jq -r "select(.type==\"access.pairing\") | .data.code" <<<"$ev")" = "$PCODE" ]'
check "access.blocked for each, reason not_approved" ok_if \
  '[ "$(jq -r "select(.type==\"access.blocked\" and .data.reason==\"not_approved\") | .data.id" <<<"$ev" | sort | tr "\n" " ")" = "$(printf "%s\n" "$A1" "$A2" "$A3" | sort | tr "\n" " ")" ]'
check "message.received still published for them" ok_if \
  '[ -n "$(jq -r "select(.type==\"message.received\" and .data.id==\"$A1\") | .data.id" <<<"$ev")" ]'
curl -s -H "Authorization: Bearer $GW_TOKEN" "http://$GW_LISTEN/metrics" >"$T/metrics"
check "blocked messages are counted" grep -q 'wagate_channel_messages_blocked_total{channel="whatsapp",account="default",reason="not_approved"} 3' "$T/metrics"

# ---- no second code after a restart, and still blocked ----
check "restart" restart_gw
say alice "hello 4" >/dev/null
sleep 1.5
check "after a restart: still no second code, still not at the hook" ok_if \
  '[ "$(codes_to alice)" = 1 ] && [ "$(calls "hello 4")" = 0 ]'

# ---- approve ----
check "a wrong code is refused (exit 1)" ok_if \
  '! "$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$GW_STATE" pairing approve ZZZZ2222 >/dev/null 2>&1'
out=$("$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$GW_STATE" pairing approve "$(tr A-Z a-z <<<"$PCODE")" 2>&1)
check "wagate pairing approve CODE (any case) approves alice" grep -q "15550002@s.whatsapp.net approved" <<<"$out"
say alice "hello 5" >/dev/null
check "then alice's message reaches the hook and she gets the reply" wait_for 5000 has_text alice "bot: hello 5"
api POST /api/v1/channels/whatsapp/default/pairing/approve "{\"code\":\"$PCODE\"}"
check "the code is used up (404)" ok_if '[ "$CODE" = 404 ]'
check "restart" restart_gw
say alice "hello 6" >/dev/null
check "approval persists across a restart" wait_for 5000 has_text alice "bot: hello 6"

# ---- the owner's own chat ----
NID=$(say +15550001 "note to self" +15550001)
sleep 1
ev=$(events)
check "a note to self is never blocked" ok_if \
  '[ -n "$NID" ] && [ -z "$(jq -r "select(.type==\"access.blocked\" and .data.id==\"$NID\") | .data.id" <<<"$ev")" ]'

# ---- groups ----
GJID=$(fw POST /admin/groups '{"subject":"g","members":["+15550001","alice","bob"]}' | jq -r .jid)
say bob "group hello" "$GJID" >/dev/null
sleep 1.5
check "a group that is not in groups never reaches the hook" ok_if '[ "$(calls "group hello")" = 0 ]'
ev=$(events)
check "... access.blocked reason group_not_allowed" ok_if \
  '[ -n "$(jq -r "select(.type==\"access.blocked\" and .data.reason==\"group_not_allowed\") | .data.id" <<<"$ev")" ]'
kill -TERM "$GW_PID"; wait "$GW_PID"
conf "\"groups\":[\"$GJID\"]"
check "gateway restarts with the group allowed" ok_if 'start_gateway g && wait_state connected 10000'
say bob "no mention here" "$GJID" >/dev/null
sleep 1.5
check "an allowed group without a mention never reaches the hook" ok_if '[ "$(calls "no mention here")" = 0 ]'
say bob "hey bot" "$GJID" "15550001@s.whatsapp.net" >/dev/null
check "with an @-mention of our JID it does" wait_for 5000 calls_is "hey bot" 1
say bob "mentions alice" "$GJID" "15550002@s.whatsapp.net" >/dev/null
sleep 1.5
check "a mention of someone else does not" ok_if '[ "$(calls "mentions alice")" = 0 ]'
check "bob (a stranger) got no pairing code from group messages" ok_if '[ "$(codes_to bob)" = 0 ]'
finish
