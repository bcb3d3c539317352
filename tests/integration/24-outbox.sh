#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# No head-of-line blocking in the REAL daemon's outbox against wagate-fakewa (issue 13, item 3):
# a message to a group that does not exist (fakewa answers 404) fails with its reason, seen in
# GET /api/v1/messages/{id} and as a message.state event, while the message to alice sent right
# after it is delivered within a second; a number not on WhatsApp fails with its reason and is
# then refused before anything is queued (422); numbers are normalised (E.164) or refused with a
# clear 400; an idempotency key reused for another recipient or text is 409. A transient error
# (an injected 503 on the group query) delays only that message (backoff), never the others.
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

alice_has() { fw GET /admin/contacts/alice/inbox | jq --arg t "$1" '[.messages[] | select(.text==$t)] | length'; }
wait_alice() { # wait_alice TEXT MS
  local end=$(( $(now_ms) + $2 ))
  while [ "$(now_ms)" -lt "$end" ]; do [ "$(alice_has "$1")" -ge 1 ] && return 0; sleep 0.02; done
  return 1
}
msg_state() { api GET "/api/v1/messages/$1"; jq -r .state <<<"$BODY"; }
wait_msg_state() { # wait_msg_state ID STATE MS
  local end=$(( $(now_ms) + $3 ))
  while [ "$(now_ms)" -lt "$end" ]; do [ "$(msg_state "$1")" = "$2" ] && return 0; sleep 0.02; done
  return 1
}

# a warm-up message: alice's devices and session are known, so the figure below is the queue's
api POST /api/v1/messages '{"to":"+15550002","text":"warm-up"}'
check "warm-up message delivered" wait_alice warm-up 10000

# ---- a missing group, then alice ----
api POST /api/v1/messages '{"to":"120363999999999999@g.us","text":"to a group that is not there"}'
GID=$(jq -r .id <<<"$BODY")
check "the message to the missing group is accepted (202)" ok_if '[ "$CODE" = 202 ]'
S=$(now_ms)
api POST /api/v1/messages '{"to":"+15550002","text":"right behind the missing group"}'
AID=$(jq -r .id <<<"$BODY")
check "the message to alice is delivered within a second" wait_alice "right behind the missing group" 1000
DELIVERED_MS=$(( $(now_ms) - S ))
echo "# alice had the message $DELIVERED_MS ms after it was posted behind the missing group"
check "the group message failed" wait_msg_state "$GID" failed 5000
api GET "/api/v1/messages/$GID"
check "GET /api/v1/messages/{id} says why: no such group" ok_if \
  '[ "$(jq -r .state <<<"$BODY")" = failed ] && jq -r .error <<<"$BODY" | grep -q "^no such group"'
check "... and names the recipient" ok_if '[ "$(jq -r .to <<<"$BODY")" = 120363999999999999@g.us ]'
check "alice's message is sent" ok_if '[ "$(msg_state "$AID")" != queued ] && [ "$(msg_state "$AID")" != failed ]'
ev=$(events)
check "a message.state event carries the failure and its reason" ok_if \
  '[ -n "$(jq -r "select(.type==\"message.state\" and .data.id==\"$GID\" and .data.state==\"failed\") | .data.error" <<<"$ev" | grep "no such group")" ]'
api GET /api/v1/messages/3EB0NOSUCHMESSAGE
check "an unknown id is 404" ok_if '[ "$CODE" = 404 ]'

# ---- a transient error: that recipient waits (backoff), the others go on ----
GJID=$(fw POST /admin/groups '{"subject":"g","members":["+15550001","alice"]}' | jq -r .jid)
fw POST /admin/fault '{"type":"iq_error","phone":"+15550001","xmlns":"w:g2","code":503,"count":2}' >/dev/null
api POST /api/v1/messages "{\"to\":\"$GJID\",\"text\":\"group after two 503s\"}"
TID=$(jq -r .id <<<"$BODY")
api POST /api/v1/messages '{"to":"+15550002","text":"not behind the 503s"}'
check "while the group's query fails (503), alice's message is delivered within a second" \
  wait_alice "not behind the 503s" 1000
check "the group message is still queued, not failed" ok_if '[ "$(msg_state "$TID")" = queued ]'
check "after its backoff (0.5 s, 1 s) the group message goes out" wait_alice "group after two 503s" 10000
check "... and is sent" ok_if '[ "$(msg_state "$TID")" != failed ] && [ "$(msg_state "$TID")" != queued ]'

# ---- not on WhatsApp ----
api POST /api/v1/messages '{"to":"+15559999","text":"nobody here"}'
NID=$(jq -r .id <<<"$BODY")
check "a number without WhatsApp fails with that reason" wait_msg_state "$NID" failed 5000
api GET "/api/v1/messages/$NID"
check "... 'not on WhatsApp'" ok_if 'jq -r .error <<<"$BODY" | grep -q "not on WhatsApp"'
api POST /api/v1/messages '{"to":"+1 555 9999","text":"nobody here, again"}'
check "then it is refused before anything is queued (422, the reason)" ok_if \
  '[ "$CODE" = 422 ] && grep -q "not on WhatsApp" <<<"$BODY"'

# ---- numbers ----
api POST /api/v1/messages '{"to":"0015550002","text":"via 00"}'
check "0015550002 is normalised (+15550002) and delivered" ok_if \
  '[ "$CODE" = 202 ] && wait_alice "via 00" 5000'
api POST /api/v1/messages '{"to":"+1 (555) 000-2","text":"with spaces"}'
check "+1 (555) 000-2 is normalised and delivered" ok_if '[ "$CODE" = 202 ] && wait_alice "with spaces" 5000'
api POST /api/v1/messages '{"to":"05550002","text":"national"}'
check "a national number (leading 0) is a 400 asking for the country code" ok_if \
  '[ "$CODE" = 400 ] && grep -q "country code" <<<"$BODY"'
api POST /api/v1/messages '{"to":"+1555000200000000","text":"too long"}'
check "16 digits is a 400 (E.164)" ok_if '[ "$CODE" = 400 ] && grep -q "E.164" <<<"$BODY"'

# ---- idempotency ----
api POST /api/v1/messages '{"to":"+15550002","text":"keyed","idempotency_key":"k1"}'
KID=$(jq -r .id <<<"$BODY")
check "a keyed message is accepted" ok_if '[ "$CODE" = 202 ]'
api POST /api/v1/messages '{"to":"+15550002","text":"keyed","idempotency_key":"k1"}'
check "the same key and content again is the duplicate (200, same id)" ok_if \
  '[ "$CODE" = 200 ] && [ "$(jq -r .duplicate <<<"$BODY")" = true ] && [ "$(jq -r .id <<<"$BODY")" = "$KID" ]'
api POST /api/v1/messages '{"to":"+15550002","text":"other text","idempotency_key":"k1"}'
check "the same key with another text is 409" ok_if '[ "$CODE" = 409 ] && grep -q "different message" <<<"$BODY"'
api POST /api/v1/messages '{"to":"120363999999999999@g.us","text":"keyed","idempotency_key":"k1"}'
check "the same key to another recipient is 409" ok_if '[ "$CODE" = 409 ]'
check "the channel stayed connected throughout" ok_if '[ "$(chan state)" = connected ]'
finish
