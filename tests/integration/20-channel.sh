#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The WhatsApp channel of the REAL daemon against wagate-fakewa: QR pairing through the API and
# the CLI, status/CLI reflecting each state, a restart that logs in again from the stored
# credentials (no QR), messages both ways (inbox route, outbox, idempotency), stream_error 503
# -> backoff -> connected, refused connections -> retries and recovers (a message queued
# meanwhile goes out once), failure 401 -> logged_out with the database quarantined and a new
# QR on login, the restart route, and SIGTERM exiting 0 within 1 s with a connected channel.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
fakewa_up

mkdir -p "$T/g"
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s"}}\n' "$LISTEN" "$ROOT" \
  >"$T/g/wagate.json"


cli() { "$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$GW_STATE" "$@"; }
scan() { fw POST /admin/scan "{\"qr\":\"$1\",\"phone\":\"+15550001\"}"; }
stop_gw() { # SIGTERM; succeeds when the daemon exits 0 within 1 s
  local s rc
  s=$(now_ms)
  kill -TERM "$GW_PID"
  wait "$GW_PID"; rc=$?
  STOP_MS=$(( $(now_ms) - s ))
  [ "$rc" = 0 ] && [ "$STOP_MS" -le 1000 ]
}
alice_has() { # alice_has TEXT: number of messages with that text in alice's inbox
  fw GET /admin/contacts/alice/inbox | jq --arg t "$1" '[.messages[] | select(.text==$t)] | length'
}
wait_alice() {
  for _ in $(seq 1 200); do [ "$(alice_has "$1")" -ge 1 ] && return 0; sleep 0.05; done
  return 1
}

# ---- pairing ----
check "gateway starts with the channel configured" start_gateway g
check "a fresh account goes to pairing by itself" wait_state pairing 5000
api POST /api/v1/channels/whatsapp/default/login
check "login while pairing answers the state and the QR" ok_if \
  '[ "$CODE" = 200 ] && [ "$(jq -r .state <<<"$BODY")" = pairing ] &&
   [[ "$(jq -r .qr <<<"$BODY")" == https://wa.me/settings/linked_devices#* ]]'
api GET '/api/v1/channels/whatsapp/default/qr?format=text'
check "QR as terminal text" ok_if '[ "$CODE" = 200 ] && grep -q "█" <<<"$BODY"'
api GET '/api/v1/channels/whatsapp/default/qr?format=svg'
check "QR as SVG" ok_if '[ "$CODE" = 200 ] && [[ "$BODY" == "<svg"* ]]'
check "QR as PNG" [ "$(curl -s -H "Authorization: Bearer $GW_TOKEN" \
  "http://$GW_LISTEN/api/v1/channels/whatsapp/default/qr?format=png" | head -c 4 | tail -c 3)" = PNG ]
api GET '/api/v1/channels/whatsapp/default/qr?format=gif'
check "unknown QR format is 400" [ "$CODE" = 400 ]
api POST /api/v1/channels/whatsapp/nobody/login
check "unknown account is 404" [ "$CODE" = 404 ]
check "channels status --json shows pairing" \
  [ "$(cli channels status --json | jq -r '.[0].state')" = pairing ]
QR=$(wait_qr)
check "the fake phone scans the QR" grep -q '"jid"' <<<"$(scan "$QR")"
check "status shows connected (after 515) with our jid" wait_state connected 10000
check "jid is the paired device" ok_if '[[ "$(chan jid)" == 15550001:*@s.whatsapp.net ]]'
st=$(cli channels status --json | jq -r '.[0] | "\(.state) \(.jid)"')
check "channels status --json shows connected and the jid" ok_if '[[ "$st" == "connected 15550001:"* ]]'
check "channels status (text)" grep -q 'whatsapp/default: connected since .*linked as 15550001:' \
  <<<"$(cli channels status)"
api POST /api/v1/channels/whatsapp/default/login
st=$(jq -r '"\(.state) \(.qr // "none")"' <<<"$BODY")
check "login on a connected channel: its state, no QR" ok_if '[ "$CODE" = 200 ] && [ "$st" = "connected none" ]'
api GET '/api/v1/channels/whatsapp/default/qr'
check "no QR is current once linked (404)" [ "$CODE" = 404 ]
check "the database exists" [ -s "$GW_STATE/accounts/default/wa.db" ]
check "metrics show the channel state" \
  grep -q 'wagate_channel_state{channel="whatsapp",account="default",state="connected"} 1' \
  <<<"$(curl -s -H "Authorization: Bearer $GW_TOKEN" "http://$GW_LISTEN/metrics")"

# ---- messages ----
fw POST /admin/contacts/alice/send '{"to":"+15550001","text":"hello gateway"}' >/dev/null
got=""
for _ in $(seq 1 100); do
  api GET '/api/v1/messages?account=default&after=0&limit=10'
  got=$(jq -r '.messages[] | select(.text=="hello gateway") | .sender' <<<"$BODY")
  [ -n "$got" ] && break
  sleep 0.05
done
check "alice's message is in the inbox route" [ "$got" = 15550002@s.whatsapp.net ]
cur=$(jq -r .next_cursor <<<"$BODY")
api GET "/api/v1/messages?account=default&after=$cur"
check "after=next_cursor returns nothing new" [ "$(jq '.messages | length' <<<"$BODY")" = 0 ]
api GET '/api/v1/messages?limit=0'
check "limit=0 is 400" [ "$CODE" = 400 ]
api POST /api/v1/messages '{"account":"default","to":"+15550002","text":"hi alice","idempotency_key":"k1"}'
id1=$(jq -r .id <<<"$BODY")
check "POST /api/v1/messages queues (202)" ok_if '[ "$CODE" = 202 ] && [ -n "$id1" ]'
check "alice receives it" wait_alice "hi alice"
api POST /api/v1/messages '{"account":"default","to":"+15550002","text":"hi alice","idempotency_key":"k1"}'
check "same idempotency key: same id, duplicate, nothing sent twice" ok_if \
  '[ "$CODE" = 200 ] && [ "$(jq -r .id <<<"$BODY")" = "$id1" ] && sleep 0.5 &&
   [ "$(alice_has "hi alice")" = 1 ]'
out=$(cli message send --to +15550002 --text "via cli" --json)
check "wagate message send --json" ok_if '[ "$(jq -r .state <<<"$out")" = queued ] && wait_alice "via cli"'
api POST /api/v1/messages '{"to":"+15550002"}'
check "missing text is 400" [ "$CODE" = 400 ]

ev=$(events)
check "events: channel.state with from/to/reason" \
  ok_if '[ -n "$(jq -r "select(.type==\"channel.state\" and .data.from==\"pairing\" and .data.to==\"connecting\") | .data.reason" <<<"$ev")" ]'
check "events: channel.qr with the QR payload" \
  ok_if 'jq -r "select(.type==\"channel.qr\") | .data.qr" <<<"$ev" | grep -q "^https://wa.me/"'
check "events: message.received with its cursor and text" \
  ok_if '[ "$(jq -r "select(.type==\"message.received\") | \"\\(.data.cursor) \\(.data.text)\"" <<<"$ev" | head -1)" = "1 hello gateway" ]'
check "events: message.state sent for our message" \
  ok_if 'jq -r "select(.type==\"message.state\") | \"\\(.data.id) \\(.data.state)\"" <<<"$ev" | grep -q "^$id1 sent"'

# ---- restart: credentials from the store, no QR ----
check "SIGTERM with a connected channel exits 0 within 1 s" stop_gw
echo "# stop took ${STOP_MS} ms"
check "gateway starts again" start_gateway g
check "connected again without a QR" wait_state connected 10000
check "no pairing state after the restart" ok_if '! grep -q -- "-> pairing" "$T/g/err.log"'

# ---- stream_error 503 -> backoff -> connected ----
fw POST /admin/fault '{"type":"stream_error","code":503,"phone":"+15550001"}' >/dev/null
check "stream_error 503 is retried and the channel reconnects" wait_state connected 10000
check "the log shows connected -> backoff (503)" grep -q 'connected -> backoff (stream:error 503' "$T/g/err.log"
check "last_error names the 503" grep -q 503 <<<"$(chan last_error)"

# ---- refused connections for 3 s ----
nb=$(grep -c -- '-> backoff' "$T/g/err.log")
fw POST /admin/fault '{"type":"refuse","duration_ms":3000}' >/dev/null
fw POST /admin/fault '{"type":"close","reset":true,"phone":"+15550001"}' >/dev/null
check "refused: the channel goes to backoff" wait_state backoff 3000
check "channels status --json shows backoff with next_retry" \
  [ "$(cli channels status --json | jq -r '.[0] | "\(.state) \(.next_retry != null)"')" = "backoff true" ]
api POST /api/v1/messages '{"to":"+15550002","text":"during the outage","idempotency_key":"k2"}'
check "a message posted while refused is queued" [ "$CODE" = 202 ]
check "recovers after the refuse window" wait_state connected 20000
nrefused=$(grep -c -- '-> backoff (ws: .*503' "$T/g/err.log")
check "it kept retrying while refused ($nrefused refused attempts)" \
  ok_if '[ "$nrefused" -ge 1 ] && [ "$(grep -c -- "-> backoff" "$T/g/err.log")" -ge $((nb + 2)) ]'
check "the queued message is sent after recovery" wait_alice "during the outage"
sleep 0.5
check "and only once" [ "$(alice_has "during the outage")" = 1 ]

# ---- operator restart ----
api POST /api/v1/channels/whatsapp/default/restart
check "restart route (202)" [ "$CODE" = 202 ]
check "connected again after the restart" wait_state connected 10000
check "wagate channels restart" ok_if 'cli channels restart >/dev/null'
check "connected again after the CLI restart" wait_state connected 10000

# ---- failure 401 -> logged_out, quarantine, new QR on login ----
fw POST /admin/fault '{"type":"failure","reason":401,"phone":"+15550001"}' >/dev/null
check "failure 401 -> logged_out" wait_state logged_out 10000
check "the database was quarantined (renamed, not deleted)" \
  ok_if 'f=$(ls "$GW_STATE"/accounts/default/wa.db.loggedout-* | head -1) && [ -s "$f" ]'
check "no live database left behind" [ ! -e "$GW_STATE/accounts/default/wa.db" ]
n1=$(grep -c -- '-> connecting' "$T/g/err.log")
sleep 1.5
check "no reconnect attempt after logged out" [ "$(grep -c -- '-> connecting' "$T/g/err.log")" = "$n1" ]
check "channels status --json shows logged_out" \
  [ "$(cli channels status --json | jq -r '.[0].state')" = logged_out ]
api POST /api/v1/channels/whatsapp/default/restart
check "restart of a logged-out account is 409 (login pairs it)" [ "$CODE" = 409 ]
cli channels login --timeout 20 >"$T/login.out" 2>"$T/login.err" &
LOGIN_PID=$!
QR=$(wait_qr)
check "login offers a new QR" [ -n "$QR" ]
check "the CLI prints the QR in the terminal" \
  bash -c "for i in \$(seq 1 100); do grep -q '█\|▀' '$T/login.out' && exit 0; sleep 0.05; done; exit 1"
check "scanning it links again" grep -q '"jid"' <<<"$(scan "$QR")"
wait "$LOGIN_PID"; rc=$?
check "wagate channels login waits until connected and says so (exit 0)" ok_if \
  '[ "$rc" = 0 ] && grep -q "connected as 15550001:" "$T/login.out"'
check "connected after re-pairing" wait_state connected 5000

ev=$(events)
check "events: a channel.notice for the logout" \
  ok_if 'jq -r "select(.type==\"channel.notice\") | .data.text" <<<"$ev" | grep -q "logged out"'
check "events: channel.state backoff carries next_retry_ms" \
  ok_if '[ -n "$(jq -r "select(.type==\"channel.state\" and .data.to==\"backoff\") | .data.next_retry_ms" <<<"$ev")" ]'

# ---- a corrupt database: quarantined, never deleted; a QR is needed ----
check "SIGTERM exits 0 within 1 s" stop_gw
rm -f "$GW_STATE"/accounts/default/wa.db-wal "$GW_STATE"/accounts/default/wa.db-shm
head -c 8192 /dev/urandom >"$GW_STATE/accounts/default/wa.db"
check "gateway starts with a corrupt database" start_gateway g
check "corrupt database -> logged_out" wait_state logged_out 5000
check "the corrupt file was quarantined" \
  ok_if 'f=$(ls "$GW_STATE"/accounts/default/wa.db.corrupt-* | head -1) && [ "$(stat -c %s "$f")" = 8192 ]'
check "the operator is told (a logged_out notification, error log)" grep -q 'error .*logged_out: database corrupt' "$T/g/err.log"
api POST /api/v1/channels/whatsapp/default/login
QR=$(wait_qr)
check "login pairs a new device (a QR appears)" ok_if '[ "$CODE" = 202 ] && [ -n "$QR" ]'

# ---- a linked account whose database is emptied or lost: reported, never a new device ----
check "scanning it links the account" grep -q '"jid"' <<<"$(scan "$QR")"
check "connected after linking" wait_state connected 5000
check "the linked marker sits next to the database" \
  grep -q '^linked 15550001' "$GW_STATE/accounts/default/linked"
check "SIGTERM exits 0 within 1 s" stop_gw
rm -f "$GW_STATE"/accounts/default/wa.db-wal "$GW_STATE"/accounts/default/wa.db-shm
: >"$GW_STATE/accounts/default/wa.db"
check "gateway starts with a zero-byte database" start_gateway g
check "zero-byte database of a linked account -> logged_out" wait_state logged_out 5000
check "the empty file was quarantined" \
  ok_if 'ls "$GW_STATE"/accounts/default/wa.db.empty-* >/dev/null && [ ! -e "$GW_STATE/accounts/default/wa.db" ]'
check "the operator is told" grep -q 'error .*logged_out: the database of this linked account is empty' "$T/g/err.log"
check "no pairing was started on its own" ok_if '! grep -q "pairing a new device" "$T/g/err.log"'
check "SIGTERM exits 0 within 1 s" stop_gw
check "gateway starts with the database missing" start_gateway g
check "missing database of a linked account -> logged_out" wait_state logged_out 5000
check "the status says why" \
  ok_if 'curl -s -H "Authorization: Bearer $GW_TOKEN" "http://$GW_LISTEN/api/v1/status" | grep -q "linked account is missing"'
api POST /api/v1/channels/whatsapp/default/login
check "login (the owner's choice) pairs a new device" ok_if '[ "$CODE" = 202 ] && [ -n "$(wait_qr)" ]'
check "the marker is gone until the next link" [ ! -e "$GW_STATE/accounts/default/linked" ]

[ -n "${DEBUG_EV:-}" ] && { echo "$ev" | jq -c "[.type,.data.to,.data.next_retry_ms]" | sed "s/^/# /" | head -80; }
check "final SIGTERM exits 0 within 1 s" stop_gw
echo "# stop took ${STOP_MS} ms"
# ---- several accounts: one channel each, own database ----
mkdir -p "$T/m"
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s","accounts":{"work":{},"home":{}}}}\n' \
  "$LISTEN" "$ROOT" >"$T/m/wagate.json"
check "gateway starts with two accounts" start_gateway m
for _ in $(seq 1 100); do
  st=$(curl -s -H "Authorization: Bearer $GW_TOKEN" "http://$GW_LISTEN/api/v1/status" |
    jq -r '[.channels[] | "\(.account)=\(.state)"] | join(",")')
  [ "$st" = "work=pairing,home=pairing" ] && break
  sleep 0.05
done
check "status lists both accounts, each pairing ($st)" [ "$st" = "work=pairing,home=pairing" ]
check "one database per account" ok_if '[ -s "$GW_STATE/accounts/work/wa.db" ] && [ -s "$GW_STATE/accounts/home/wa.db" ]'
api GET '/api/v1/messages?account=default'
check "an unconfigured account is 404" [ "$CODE" = 404 ]
check "SIGTERM with two channels exits 0 within 1 s" stop_gw

if grep -q 'ERROR: AddressSanitizer\|runtime error' "$T/g/err.log"; then
  nok "sanitizer reports in the gateway log"
  grep -A20 'Sanitizer\|runtime error' "$T/g/err.log" | head -40 | sed 's/^/# /'
fi
kill -TERM "$FW_PID"; wait "$FW_PID"
finish
