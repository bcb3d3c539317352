#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# hooks.webhook against a local receiver (python3 on 127.0.0.1), the REAL daemon against
# wagate-fakewa:
#  - every message alice sends reaches the receiver with a 2xx under exactly ONE delivery id
#    (exactly once from the sender's side; repeats of that id on the wire are allowed and
#    counted) across: the receiver answering 500, a daemon SIGKILL + restart while deliveries
#    are pending, the receiver being down (connection refused), a SIGKILL right after a
#    message arrived; and then it recovers;
#  - every request's X-Wagate-Signature verifies (HMAC-SHA256 over "timestamp.body" with the
#    configured secret), the body's "id" is the X-Wagate-Delivery header;
#  - a permanently failing endpoint (always 500) dead-letters each delivery after
#    max_attempts: seen in the channel status, /metrics and one webhook.dead_letter event each.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
fakewa_up

SECRET="s3cret-for-the-webhook-test"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo ok >"$T/mode"
cat >"$T/recv.py" <<'PY'
import hashlib, hmac, json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
lock, inflight = threading.Lock(), [0]
port, secret, mode_file, log_file = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3], sys.argv[4]
cert = sys.argv[5] if len(sys.argv) > 5 else None  # cert and key PEM: serve HTTPS
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        with lock:
            inflight[0] += 1
            now_in = inflight[0]
        time.sleep(0.03)  # slow enough for the requests to overlap (max_concurrent)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ts = self.headers.get("X-Wagate-Timestamp", "")
        sig = self.headers.get("X-Wagate-Signature", "")
        want = "sha256=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        mode = open(mode_file).read().strip()
        fixed = os.path.exists(mode_file + ".fixed")  # /fail answers 200 once "fixed"
        status = 500 if (self.path == "/fail" and not fixed) or mode == "500" else 200
        try:
            doc = json.loads(body)
        except Exception:
            doc = {}
        rec = {"path": self.path, "delivery": self.headers.get("X-Wagate-Delivery"),
               "event": self.headers.get("X-Wagate-Event"), "attempt": self.headers.get("X-Wagate-Attempt"),
               "ctype": self.headers.get("Content-Type"), "sig_ok": hmac.compare_digest(sig, want),
               "status": status, "body_id": doc.get("id"), "type": doc.get("type"),
               "msg": (doc.get("data") or {}).get("id"), "text": (doc.get("data") or {}).get("text"),
               "t_ms": int(time.time() * 1000), "inflight": now_in}
        with open(log_file, "a") as f:
            f.write(json.dumps(rec) + "\n")
        with lock:  # before the answer: the gateway cannot start the next one before it
            inflight[0] -= 1
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
ThreadingHTTPServer.allow_reuse_address = True
srv = ThreadingHTTPServer(("127.0.0.1", port), H)
if cert:
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
recv_up() {
  python3 "$T/recv.py" "$PORT" "$SECRET" "$T/mode" "$T/recv.log" 2>>"$T/recv.err" &
  RECV_PID=$!
  PIDS+=("$RECV_PID")
  for _ in $(seq 1 200); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
recv_down() {
  kill -9 "$RECV_PID"
  wait "$RECV_PID" 2>/dev/null
}
touch "$T/recv.log"
check "the receiver starts" recv_up
# an HTTPS receiver on localhost (resolved through c-ares from /etc/hosts), with a self-signed
# certificate given to the gateway as hooks.webhook.tls_ca_file; it names only "localhost", so
# https://127.0.0.1:... fails the verification (hostname mismatch) and dead-letters
TPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost" -keyout "$T/tls.pem" -out "$T/tls.crt" \
  2>/dev/null && cat "$T/tls.crt" >>"$T/tls.pem"
python3 "$T/recv.py" "$TPORT" "$SECRET" "$T/mode" "$T/recv.log" "$T/tls.pem" 2>>"$T/recv.err" &
PIDS+=("$!")

mkdir -p "$T/g"
cat >"$T/g/wagate.json" <<EOF
{"whatsapp":{"endpoint":"ws://$LISTEN/ws/chat","noise_root_pubkey":"$ROOT",
  "accounts":{"default":{"dm_policy":"open","group_policy":"open","require_mention":false}}},
 "hooks":{"webhook":{"endpoints":[
    {"url":"http://127.0.0.1:$PORT/hook","secret":"$SECRET"},
    {"url":"http://127.0.0.1:$PORT/fail","secret":"$SECRET","events":["message.received"]},
    {"url":"https://localhost:$TPORT/tls","secret":"$SECRET"},
    {"url":"https://127.0.0.1:$TPORT/badname","secret":"$SECRET"},
    {"url":"http://127.0.0.1:$PORT/state","secret":"$SECRET","events":["message.state"]}],
  "tls_ca_file":"$T/tls.crt",
  "retry_base_ms":50,"retry_max_ms":300,"max_attempts":25,"max_concurrent":3,
  "connect_timeout_ms":1000,"response_timeout_ms":2000}}}
EOF

alice_says() { fw POST /admin/contacts/alice/send "{\"to\":\"+15550001\",\"text\":\"$1\"}" | jq -r .id; }
kill9() {
  kill -9 "$GW_PID"
  wait "$GW_PID" 2>/dev/null
  sleep 0.1 # the receiver's handlers of the dead process's requests finish (max_concurrent check)
}
# ok2xx MSGID [PATH]: distinct delivery ids of PATH (/hook) answered 2xx for that message
ok2xx() {
  jq -r --arg m "$1" --arg p "${2:-/hook}" 'select(.path==$p and .status==200 and .msg==$m) | .delivery' \
    "$T/recv.log" | sort -u | wc -l
}
attempts_for() { # attempts_for MSGID PATH: requests seen
  jq -r --arg m "$1" --arg p "$2" 'select(.path==$p and .msg==$m) | .delivery' "$T/recv.log" | wc -l
}
wait_delivered() { # wait_delivered SECONDS MSGID...
  local s=$1 id all; shift
  for _ in $(seq 1 $((s * 20))); do
    all=1
    for id in "$@"; do
      [ "$(ok2xx "$id")" -ge 1 ] && [ "$(ok2xx "$id" /tls)" -ge 1 ] || { all=0; break; }
    done
    [ "$all" = 1 ] && return 0
    sleep 0.05
  done
  return 1
}

check "gateway starts" start_gateway g
check "pairing" wait_state pairing 5000
QR=$(wait_qr)
check "the fake phone scans the QR" grep -q '"jid"' <<<"$(fw POST /admin/scan "{\"qr\":\"$QR\",\"phone\":\"+15550001\"}")"
check "connected" wait_state connected 10000

# ---- the receiver up ----
IDS=()
T0=$(now_ms)
for i in 1 2 3; do IDS+=("$(alice_says "up$i")"); done
check "the first three messages are delivered" wait_delivered 10 "${IDS[@]}"
LAST=$(jq -s '[.[] | select(.path=="/hook" and .status==200) | .t_ms] | max' "$T/recv.log")
echo "# 3 messages (sent one after the other) at the receiver $((LAST - T0)) ms after the first was sent"
api GET /api/v1/channels/whatsapp/default
check "the channel status shows the webhooks (5 endpoints)" ok_if '[ "$(jq -r .webhooks.endpoints <<<"$BODY")" = 5 ]'

# ---- the receiver answers 500, the daemon is SIGKILLed with deliveries pending ----
echo 500 >"$T/mode"
for i in 1 2; do IDS+=("$(alice_says "err$i")"); done
for _ in $(seq 1 200); do [ "$(attempts_for "${IDS[4]}" /hook)" -ge 2 ] && break; sleep 0.05; done
check "while the receiver answers 500 the deliveries are retried" ok_if '[ "$(attempts_for "${IDS[3]}" /hook)" -ge 2 ]'
api GET /api/v1/channels/whatsapp/default
check "the status shows a backlog and a last error" \
  ok_if '[ "$(jq -r .webhooks.backlog <<<"$BODY")" -ge 2 ] && [ -n "$(jq -r .webhooks.last_error <<<"$BODY")" ]'
check "the failed attempts are logged with the answer" grep -q "to http://127.0.0.1:$PORT/hook failed (attempt 1 of 25): HTTP 500" "$T/g/err.log"
kill9
check "gateway starts again after SIGKILL" start_gateway g
check "connected again" wait_state connected 10000

# ---- the receiver down (connection refused), a message meanwhile, then back ----
recv_down
IDS+=("$(alice_says "down1")")
sleep 1
echo ok >"$T/mode"
check "the receiver comes back" recv_up
check "everything sent during the outage is delivered" wait_delivered 15 "${IDS[@]}"

# ---- SIGKILL right after a message arrived ----
IDS+=("$(alice_says "crash1")")
sleep 0.03
kill9
check "gateway starts again after the second SIGKILL" start_gateway g
check "connected again" wait_state connected 10000
check "the message of the crash is delivered after the restart" wait_delivered 15 "${IDS[@]}"

sleep 1 # a late duplicate would show up here
exactly_once() { # exactly_once PATH
  local id
  for id in "${IDS[@]}"; do
    [ "$(ok2xx "$id" "$1")" = 1 ] || { echo "# $id: $(ok2xx "$id" "$1") ids"; return 1; }
  done
}
check "each of the ${#IDS[@]} messages reached the receiver under exactly one delivery id" exactly_once /hook
check "... and the HTTPS receiver too" exactly_once /tls
NTLS=$(jq -r 'select(.path=="/tls" and .status==200) | .delivery' "$T/recv.log" | sort -u | wc -l)
check "nothing else was delivered over HTTPS (${NTLS} ids)" [ "$NTLS" = "${#IDS[@]}" ]
NHOOK=$(jq -r 'select(.path=="/hook" and .status==200) | .delivery' "$T/recv.log" | sort -u | wc -l)
check "nothing else was delivered to /hook (${NHOOK} ids)" [ "$NHOOK" = "${#IDS[@]}" ]
DUP=$(jq -r 'select(.path=="/hook" and .status==200) | .delivery' "$T/recv.log" | sort | uniq -d | wc -l)
echo "# /hook: $(jq -c 'select(.path=="/hook")' "$T/recv.log" | wc -l) requests, ${#IDS[@]} events, $DUP ids answered 2xx more than once"
check "every signature verifies" ok_if '[ "$(jq -r "select(.sig_ok|not)" "$T/recv.log" | wc -l)" = 0 ]'
check "the body's id is the X-Wagate-Delivery header, the type the X-Wagate-Event" \
  ok_if '[ "$(jq -r "select(.delivery != .body_id or .event != .type)" "$T/recv.log" | wc -l)" = 0 ]'
MAXIN=$(jq -s 'map(.inflight) | max' "$T/recv.log")
check "at most max_concurrent (3) requests at once at the receiver (saw $MAXIN)" [ "$MAXIN" -le 3 ]
check "Content-Type: application/json" ok_if '[ "$(jq -r "select(.ctype != \"application/json\")" "$T/recv.log" | wc -l)" = 0 ]'
check "the texts arrived" ok_if '[ "$(jq -r "select(.path==\"/hook\" and .text==\"crash1\") | .msg" "$T/recv.log" | sort -u)" = "${IDS[6]}" ]'

# ---- another event type: message.state of a message we send ----
api POST /api/v1/messages '{"to":"+15550002","text":"from the gateway"}'
OUT_ID=$(jq -r .id <<<"$BODY")
count() { jq -c "select($1)" "$T/recv.log" | wc -l; } # count JQ_CONDITION: receiver log lines
state_seen() {
  [ "$(count ".path==\"/state\" and .type==\"message.state\" and .status==200 and .msg==\"$OUT_ID\"")" -ge 1 ]
}
for _ in $(seq 1 100); do state_seen && break; sleep 0.05; done
check "message.state of a sent message reaches the endpoint that asked for it" state_seen
check "... and no message.received went there" [ "$(count '.path=="/state" and .type!="message.state"')" = 0 ]
check "... nor a message.state to the message endpoints" [ "$(count '.path!="/state" and .type=="message.state"')" = 0 ]

# ---- the permanently failing endpoints dead-letter: /fail (500), /badname (TLS) ----
NDEAD=$((2 * ${#IDS[@]}))
dead_all() {
  api GET /api/v1/channels/whatsapp/default
  [ "$(jq -r .webhooks.dead_letter <<<"$BODY")" = "$NDEAD" ] && [ "$(jq -r .webhooks.backlog <<<"$BODY")" = 0 ]
}
for _ in $(seq 1 300); do dead_all && break; sleep 0.1; done
check "every delivery to /fail and /badname is a dead letter ($NDEAD), the backlog is empty" dead_all
check "the HTTPS endpoint with the wrong name never got a request" ok_if '! grep -q "\"/badname\"" "$T/recv.log"'
check "... because the certificate does not name it" grep -q "badname.*tls: certificate verify failed (IP address mismatch)" "$T/g/err.log"
echo "# status: $(jq -c .webhooks <<<"$BODY")"
M=$(curl -s -H "Authorization: Bearer $GW_TOKEN" "http://$GW_LISTEN/metrics")
check "/metrics: dead letters" grep -q "^wagate_webhook_dead_letters{account=\"default\"} $NDEAD\$" <<<"$M"
check "/metrics: backlog 0" grep -q '^wagate_webhook_backlog{account="default"} 0$' <<<"$M"
check "/metrics: HELP and TYPE" grep -q '^# TYPE wagate_webhook_backlog gauge' <<<"$M"
ATT=$(attempts_for "${IDS[6]}" /fail)
check "a dead letter took max_attempts (25) attempts over the restarts ($ATT seen)" ok_if '[ "$ATT" -le 25 ] && [ "$ATT" -ge 20 ]'
# ---- the operator retries the dead letters once /fail is fixed ----
touch "$T/mode.fixed"
api POST /api/v1/channels/whatsapp/default/webhooks/retry
check "webhooks/retry requeues every dead letter ($NDEAD)" ok_if '[ "$CODE" = 200 ] && [ "$(jq -r .requeued <<<"$BODY")" = "$NDEAD" ]'
fixed_all() {
  local id
  for id in "${IDS[@]}"; do [ "$(ok2xx "$id" /fail)" = 1 ] || return 1; done
}
for _ in $(seq 1 200); do fixed_all && break; sleep 0.05; done
check "after the retry every message reaches the fixed endpoint once" fixed_all
for _ in $(seq 1 300); do
  api GET /api/v1/channels/whatsapp/default
  [ "$(jq -r .webhooks.dead_letter <<<"$BODY")" = "${#IDS[@]}" ] && [ "$(jq -r .webhooks.backlog <<<"$BODY")" = 0 ] && break
  sleep 0.1
done
check "the TLS failures are dead letters again, the rest delivered" \
  ok_if '[ "$(jq -r .webhooks.dead_letter <<<"$BODY")" = "${#IDS[@]}" ] && [ "$(jq -r .webhooks.backlog <<<"$BODY")" = 0 ]'
ev=$(events)
NDL=$(jq -r 'select(.type=="webhook.dead_letter") | .data.delivery_id' <<<"$ev" | sort -u | wc -l)
check "webhook.dead_letter events in this process ($NDL)" ok_if '[ "$NDL" -ge 1 ]'

ST=$("$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$GW_STATE" status 2>&1)
check "wagate status shows the webhook line" grep -q "webhooks: 0 pending, ${#IDS[@]} dead letter(s); last error: " <<<"$ST"

if grep -q 'ERROR: AddressSanitizer\|runtime error\|LeakSanitizer' "$T/g/err.log"; then
  nok "sanitizer reports in the gateway log"
  grep -A20 'Sanitizer\|runtime error' "$T/g/err.log" | head -40 | sed 's/^/# /'
fi
kill -TERM "$GW_PID"
wait "$GW_PID"
kill -TERM "$FW_PID"
wait "$FW_PID"
recv_down
DOC=$("$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$GW_STATE" doctor --json 2>&1)
check "wagate doctor (offline) warns about the dead letters" ok_if \
  '[ "$(jq -r ".checks[] | select(.check==\"webhooks\") | .status" <<<"$DOC")" = warn ] && jq -r ".checks[] | select(.check==\"webhooks\") | .detail" <<<"$DOC" | grep -q "0 webhook deliveries pending, ${#IDS[@]} dead letter"'
finish
