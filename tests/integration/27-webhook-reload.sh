#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# hooks.webhook and SIGHUP, the REAL daemon against wagate-fakewa: a gateway that ran without
# a message endpoint does not replay its inbox history to one added later.
#  - messages before any webhook, then a SIGHUP that adds a message endpoint: only the
#    messages after the reload are delivered (the mark followed the inbox: at most 10 s late,
#    so the test waits that out);
#  - the same across a restart: messages received while the endpoint was removed are not
#    replayed when a restart brings it back;
#  - a SIGHUP that removes the endpoint while a delivery is failing: its row becomes a dead
#    letter ("endpoint removed from the config").
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
fakewa_up

SECRET="another-secret-for-webhooks"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo 200 >"$T/code"
cat >"$T/recv.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        code = int(open(sys.argv[3]).read())
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps({"text": body["data"].get("text"), "status": code}) + "\n")
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
touch "$T/recv.log"
python3 "$T/recv.py" "$PORT" "$T/recv.log" "$T/code" 2>"$T/recv.err" &
PIDS+=("$!")

mkdir -p "$T/g"
config() { # config WITH_ENDPOINT(0|1)
  local hooks=""
  [ "$1" = 1 ] && hooks=',"hooks":{"webhook":{"endpoints":[{"url":"http://127.0.0.1:'$PORT'/in","secret":"'$SECRET'"}],"retry_base_ms":100,"retry_max_ms":200,"max_attempts":1000}}'
  printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s","accounts":{"default":{"dm_policy":"open"}}}%s}\n' \
    "$LISTEN" "$ROOT" "$hooks" >"$T/g/wagate.json"
}
alice_says() { fw POST /admin/contacts/alice/send "{\"to\":\"+15550001\",\"text\":\"$1\"}" | jq -r .id; }
got() { jq -r --arg t "$1" 'select(.text==$t) | .text' "$T/recv.log" | wc -l; }
wait_got() { # wait_got TEXT SECONDS
  for _ in $(seq 1 $(($2 * 20))); do [ "$(got "$1")" -ge 1 ] && return 0; sleep 0.05; done
  return 1
}
in_inbox() {
  api GET '/api/v1/messages?account=default&after=0&limit=500'
  jq --arg t "$1" '[.messages[] | select(.text==$t)] | length' <<<"$BODY"
}
wait_inbox() { for _ in $(seq 1 100); do [ "$(in_inbox "$1")" = 1 ] && return 0; sleep 0.05; done; return 1; }

config 0
check "gateway starts without webhooks" start_gateway g
check "pairing" wait_state pairing 5000
QR=$(wait_qr)
check "the fake phone scans the QR" grep -q '"jid"' <<<"$(fw POST /admin/scan "{\"qr\":\"$QR\",\"phone\":\"+15550001\"}")"
check "connected" wait_state connected 10000

alice_says before1 >/dev/null
alice_says before2 >/dev/null
check "the messages before any webhook are stored" wait_inbox before2
sleep 10.5 # the mark follows the inbox at most 10 s late
config 1
kill -HUP "$GW_PID"
for _ in $(seq 1 100); do grep -q "configuration reloaded" "$T/g/err.log" && break; sleep 0.05; done
alice_says after1 >/dev/null
check "after the SIGHUP a new message is delivered" wait_got after1 10
sleep 1
check "the history before the reload was not replayed" [ "$(($(got before1) + $(got before2)))" = 0 ]

# ---- the same across a restart ----
config 0
kill -HUP "$GW_PID"
sleep 0.5
alice_says unhooked >/dev/null
check "a message while the endpoint is removed is stored" wait_inbox unhooked
kill -TERM "$GW_PID"
wait "$GW_PID"
config 1
check "gateway restarts with the endpoint back" start_gateway g
check "connected" wait_state connected 10000
alice_says back1 >/dev/null
check "a new message after the restart is delivered" wait_got back1 10
sleep 1
check "the message of the time without the endpoint was not replayed" [ "$(got unhooked)" = 0 ]

# ---- removing the endpoint while a delivery fails: dead letter ----
echo 500 >"$T/code"
alice_says failing >/dev/null
for _ in $(seq 1 100); do [ "$(got failing)" -ge 2 ] && break; sleep 0.05; done
check "the delivery fails and is retried" [ "$(got failing)" -ge 2 ]
config 0
kill -HUP "$GW_PID"
# with no endpoint left the status has no "webhooks" object: the doctor counts it after the stop
sleep 1
N=$(got failing)
sleep 1
check "no attempt after the endpoint was removed" [ "$(got failing)" = "$N" ]
check "its row became a dead letter (logged)" grep -q "is no longer configured (dead letter)" "$T/g/err.log"
kill -TERM "$GW_PID"
wait "$GW_PID"
DOC=$("$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$GW_STATE" doctor --json 2>&1)
check "the dead letter is in the account database" \
  grep -q "0 webhook deliveries pending, 1 dead letter" <<<"$(jq -r '.checks[] | select(.check=="webhooks") | .detail' <<<"$DOC")"

if grep -q 'ERROR: AddressSanitizer\|runtime error\|LeakSanitizer' "$T/g/err.log"; then
  nok "sanitizer reports in the gateway log"
  grep -A20 'Sanitizer\|runtime error' "$T/g/err.log" | head -40 | sed 's/^/# /'
fi
kill -TERM "$FW_PID"
wait "$FW_PID"
finish
