#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hostile bytes in the REAL daemon against wagate-fakewa (issue 13, item 1): a contact sends a
# text that is not valid UTF-8; a standard WebSocket client (Node's `ws`, which closes with 1007
# on an invalid text frame) on the event stream stays connected, sees the text with U+FFFD,
# and resuming from its cursor replays it again without being closed; GET /api/v1/messages is
# valid UTF-8 JSON and carries the bytes as sent (text_raw_b64) only for that message; the
# outbound side refuses invalid UTF-8 and \u0000 with a 400 that says why.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
SRC="${WAGATE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
fakewa_up

mkdir -p "$T/g"
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s"}}\n' "$LISTEN" "$ROOT" \
  >"$T/g/wagate.json"
check "gateway starts" start_gateway g
check "pairing" wait_state pairing 5000
QR=$(wait_qr)
check "the fake phone scans the QR" grep -q '"jid"' <<<"$(fw POST /admin/scan "{\"qr\":\"$QR\",\"phone\":\"+15550001\"}")"
check "connected" wait_state connected 10000

# A Node `ws` client on the event stream: every text frame a line in $2, the close (code and
# reason) in $3. It resumes from $4 (the `since` cursor).
cat >"$T/ws-client.cjs" <<'JS'
const WebSocket = require("ws");
const fs = require("fs");
const [, , url, token, out, closed] = process.argv;
const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
ws.on("message", (data, isBinary) => fs.appendFileSync(out, (isBinary ? "BINARY " : "") + data + "\n"));
ws.on("error", (e) => fs.appendFileSync(closed, `error ${e.message}\n`));
ws.on("close", (code, reason) => { fs.appendFileSync(closed, `close ${code} ${reason}\n`); process.exit(0); });
process.on("SIGTERM", () => process.exit(0));
JS
WS_DIR="$SRC/tests/conformance/node_modules"
have_ws=false
command -v node >/dev/null && [ -d "$WS_DIR/ws" ] && have_ws=true
ws_start() { # ws_start NAME SINCE
  : >"$T/$1.out"; : >"$T/$1.closed"
  NODE_PATH="$WS_DIR" node "$T/ws-client.cjs" "ws://$GW_LISTEN/api/v1/events?since=$2" "$GW_TOKEN" \
    "$T/$1.out" "$T/$1.closed" &
  WS_PID=$!
  PIDS+=("$WS_PID")
}
wait_line() { # wait_line FILE PATTERN MS
  local end=$(( $(now_ms) + $3 ))
  while [ "$(now_ms)" -lt "$end" ]; do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

recv_of() { jq -c --arg id "$BAD_ID" 'select(.type=="message.received" and .data.id==$id)' "$1"; }
# "a" 0xFF "b" 0xE2 0x82 (a truncated 3-byte sequence) "c": two invalid subparts
BAD_HEX=61ff62e28263
BAD_B64=$(printf 'a\xffb\xe2\x82c' | base64)
FIXED=$(printf 'a\xef\xbf\xbdb\xef\xbf\xbdc')
if $have_ws; then
  ws_start live 0
  check "the ws client is connected (it sees the replay)" wait_line "$T/live.out" channel.state 5000
fi
BAD_ID=$(fw POST /admin/contacts/alice/send "{\"to\":\"+15550001\",\"text_hex\":\"$BAD_HEX\"}" | jq -r .id)
check "fakewa sent the invalid bytes from alice" ok_if '[ -n "$BAD_ID" ] && [ "$BAD_ID" != null ]'
OK_ID=$(fw POST /admin/contacts/alice/send '{"to":"+15550001","text":"after the bad one"}' | jq -r .id)
if $have_ws; then
  check "the ws client gets the message after the bad one" wait_line "$T/live.out" "after the bad one" 10000
  check "the ws client got the bad one with U+FFFD" \
    ok_if '[ "$(recv_of "$T/live.out" | jq -r .data.text)" = "$FIXED" ]'
  check "the ws client was never closed" ok_if '[ ! -s "$T/live.closed" ]'
  SEQ=$(recv_of "$T/live.out" | jq -r .seq)
  kill "$WS_PID" 2>/dev/null
  # resume from just before the bad event: it is replayed first, then the next one
  ws_start resumed $((SEQ - 1))
  check "resuming from the cursor replays past the bad event" \
    wait_line "$T/resumed.out" "after the bad one" 5000
  check "the resumed client got the bad one again and stays open" \
    ok_if '[ -n "$(recv_of "$T/resumed.out")" ] && [ ! -s "$T/resumed.closed" ]'
  kill "$WS_PID" 2>/dev/null
else
  echo "ok - # SKIP node or tests/conformance/node_modules/ws missing (scripts/deps.sh --test)"
fi

# ---- the inbox route ----
api GET '/api/v1/messages?after=0'
check "GET /api/v1/messages is valid UTF-8" ok_if 'printf "%s" "$BODY" | python3 -c "import sys; sys.stdin.buffer.read().decode(\"utf-8\")"'
check "the bad text is repaired and its bytes kept as text_raw_b64" ok_if \
  '[ "$(jq -r ".messages[] | select(.id==\"$BAD_ID\") | .text" <<<"$BODY")" = "$FIXED" ] &&
   [ "$(jq -r ".messages[] | select(.id==\"$BAD_ID\") | .text_raw_b64" <<<"$BODY")" = "$BAD_B64" ]'
check "a valid text has no text_raw_b64" ok_if \
  '[ "$(jq -r ".messages[] | select(.id==\"$OK_ID\") | has(\"text_raw_b64\")" <<<"$BODY")" = false ]'

# ---- outbound: refused with the reason ----
post_raw() { # post_raw FILE: sets CODE, BODY
  local out
  out=$(curl -s -m 5 -w '\n%{http_code}' -X POST -H "Authorization: Bearer $GW_TOKEN" \
    -H 'content-type: application/json' --data-binary "@$1" "http://$GW_LISTEN/api/v1/messages")
  CODE=${out##*$'\n'}
  BODY=${out%$'\n'*}
}
printf '{"to":"+15550002","text":"a\xffb"}' >"$T/bad.json"
post_raw "$T/bad.json"
check "outbound invalid UTF-8 is a 400 naming it" ok_if \
  '[ "$CODE" = 400 ] && grep -q "not valid UTF-8" <<<"$BODY"'
printf '{"to":"+15550002","text":"a\\u0000b"}' >"$T/nul.json"
post_raw "$T/nul.json"
check "outbound a\\u0000b is a 400 naming the NUL" ok_if '[ "$CODE" = 400 ] && grep -q "NUL" <<<"$BODY"'
printf '{"to":"+15550002","text":"a\\\\u0000b"}' >"$T/esc.json"
post_raw "$T/esc.json"
check "an escaped backslash before u0000 is plain text (202)" ok_if '[ "$CODE" = 202 ]'
printf '{"to":"+15550002","text":"caf\xc3\xa9 \xf0\x9f\x99\x82"}' >"$T/good.json"
post_raw "$T/good.json"
check "valid multi-byte UTF-8 is accepted (202)" ok_if '[ "$CODE" = 202 ]'
printf '{"to":"+15550002",' >"$T/trunc.json"
post_raw "$T/trunc.json"
check "malformed JSON says so" ok_if '[ "$CODE" = 400 ] && grep -q "malformed JSON" <<<"$BODY"'
check "alice got the valid outbound texts" ok_if \
  'for _ in $(seq 1 100); do n=$(fw GET /admin/contacts/alice/inbox | jq "[.messages[] | select(.text==\"a\\\\u0000b\" or .text==\"café 🙂\")] | length"); [ "$n" -ge 2 ] && break; sleep 0.05; done; [ "$n" -ge 2 ]'
finish
