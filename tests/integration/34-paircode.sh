#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Linking with a phone number (pairing code, wa-protocol.md §5.5) on the REAL daemon against
# wagate-fakewa: the login route answers a code for {"phone"}, a bad number is 400, a second
# request while one is pending is 409, status says the method is "code"; a wrong code typed
# on fakewa's phone fails clearly (logged_out, "pairing code rejected"); then
# `wagate channels login --phone` prints the code as ABCD-EFGH, the code typed on the phone
# links the account (pair-success, 515, connected), and a restart logs in from the store
# without any pairing. Linked, a phone login is 409.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
fakewa_up

mkdir -p "$T/g"
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s"}}\n' "$LISTEN" "$ROOT" \
  >"$T/g/wagate.json"
cli() { "$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$GW_STATE" "$@"; }
LOGIN=/api/v1/channels/whatsapp/default/login
type_code() { fw POST /admin/paircode "{\"phone\":\"+15550001\",\"code\":\"$1\"}"; }
# type_code_when_ready CODE: the hello may still be on its way to fakewa
type_code_when_ready() {
  local r
  for _ in $(seq 1 100); do
    r=$(type_code "$1")
    [ "$(jq -r '.status // empty' <<<"$r")" = typed ] && return 0
    sleep 0.05
  done
  echo "# fakewa: $r"
  return 1
}
wait_error() { # wait_error TEXT MS: last_error contains TEXT
  local end=$(( $(now_ms) + $2 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    [[ "$(chan last_error)" == *"$1"* ]] && return 0
    sleep 0.05
  done
  echo "# last_error: $(chan last_error)"
  return 1
}

check "gateway starts with the channel configured" start_gateway g
check "a fresh account goes to pairing by itself" wait_state pairing 5000
check "status: pairing method qr before a code is asked for" \
  [ "$(chan pairing.method)" = qr ]

api POST "$LOGIN" '{"phone":"12"}'
check "a number that is too short is 400" [ "$CODE" = 400 ]
api POST "$LOGIN" '{"phone":15550001}'
check "a phone that is not a string is 400" [ "$CODE" = 400 ]

# ---- a wrong code ----
api POST "$LOGIN" '{"phone":"+1 555 0001"}'
CODE1=$(jq -r .code <<<"$BODY")
check "login with a phone answers 202 and a code ABCD-EFGH" ok_if \
  '[ "$CODE" = 202 ] && [[ "$CODE1" =~ ^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$ ]] &&
   [ "$(jq -r .phone <<<"$BODY")" = +15550001 ] && [ "$(jq -r .valid_ms <<<"$BODY")" -gt 60000 ]'
check "status: pairing method code, for that phone" ok_if \
  '[ "$(chan pairing.method)" = code ] && [ "$(chan pairing.phone)" = +15550001 ]'
api POST "$LOGIN" '{"phone":"+15550001"}'
check "a second request while one is pending is 409 and says so" ok_if \
  '[ "$CODE" = 409 ] && grep -q "already pending" <<<"$BODY"'
first=${CODE1:0:1}; [ "$first" = A ] && bad=B || bad=A
WRONG="$bad${CODE1:1}"
check "the phone types a wrong code" type_code_when_ready "$WRONG"
check "a wrong code fails clearly: logged_out, pairing code rejected" ok_if \
  'wait_state logged_out 10000 && wait_error "pairing code rejected" 1000'
check "fakewa refused the finish, linked nothing" ok_if \
  '[ "$(fw GET /admin/stats | jq .paircode_rejected)" = 1 ] &&
   [ "$(fw GET /admin/stats | jq .pairings)" = 0 ]'

# ---- the CLI and the right code ----
cli channels login --phone +15550001 --timeout 30 >"$T/login.out" 2>"$T/login.err" &
LPID=$!
PIDS+=("$LPID")
SHOWN=""
for _ in $(seq 1 200); do
  SHOWN=$(grep -oE '^    [1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$' "$T/login.out" | tr -d ' ')
  [ -n "$SHOWN" ] && break
  sleep 0.05
done
check "channels login --phone prints the code grouped ABCD-EFGH" [ -n "$SHOWN" ]
check "... and what to do on the phone" grep -q "Link with phone number instead" "$T/login.out"
check "the new request made a new code" [ "$SHOWN" != "$CODE1" ]
check "the phone types the code as shown" type_code_when_ready "$SHOWN"
wait "$LPID"; LRC=$?
check "channels login --phone exits 0 once connected" ok_if \
  '[ "$LRC" = 0 ] && grep -q "connected as 15550001:" "$T/login.out"'
check "status connected with our jid, no pairing block" ok_if \
  '[ "$(chan state)" = connected ] && [[ "$(chan jid)" == 15550001:*@s.whatsapp.net ]] &&
   [ "$(chan pairing)" = null ]'
check "the daemon went through the 515 and logged in" \
  grep -q "paired as 15550001:" "$T/g/err.log"
api POST "$LOGIN" '{"phone":"+15550001"}'
check "a phone login while linked is 409" [ "$CODE" = 409 ]

# ---- restart: from the store, no pairing ----
kill -TERM "$GW_PID"; wait "$GW_PID"
: >"$T/g/err.log"
check "gateway starts again" start_gateway g
check "connected again from the stored credentials" wait_state connected 10000
check "no pairing after the restart" ok_if '! grep -q -- "-> pairing" "$T/g/err.log"'
check "fakewa paired exactly one device" [ "$(fw GET /admin/stats | jq .pairings)" = 1 ]
finish
