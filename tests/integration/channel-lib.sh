# SPDX-License-Identifier: MIT
# Shared by the shell tests that run the real daemon's WhatsApp channel against
# wagate-fakewa (sourced after lib.sh, not run). fakewa_up starts fakewa with
# account +15550001 and contact alice (+15550002) and sets FW_PID, ADMIN, ROOT,
# LISTEN; the helpers below talk to fakewa (fw) and to the gateway started with
# start_gateway (api, chan, wait_state, wait_qr, events).
FW="${WAGATE_BUILD:?}/wagate-fakewa"
command -v jq >/dev/null || { echo "not ok - jq missing"; exit 1; }
command -v python3 >/dev/null || { echo "not ok - python3 missing"; exit 1; }

fakewa_up() {
  [ -x "$FW" ] || { echo "not ok - $FW not built"; exit 1; }
  # FW_EXTRA: more fakewa options (e.g. "--media 127.0.0.1:0" for its HTTPS media host)
  # shellcheck disable=SC2086
  "$FW" --listen 127.0.0.1:0 --admin 127.0.0.1:0 --state "$T/fw" --log-level warn ${FW_EXTRA:-} \
    >"$T/fw.out" 2>"$T/fw.err" &
  FW_PID=$!
  PIDS+=("$FW_PID")
  # bounded: 30 s (an ASan build under a loaded CI machine can be slow to start)
  for _ in $(seq 1 3000); do grep -q '^ready 1' "$T/fw.out" 2>/dev/null && break; sleep 0.01; done
  ADMIN=$(sed -n 's/^admin //p' "$T/fw.out")
  ROOT=$(sed -n 's/^root //p' "$T/fw.out")
  LISTEN=$(sed -n 's/^listen //p' "$T/fw.out")
  fw POST /admin/accounts '{"phone":"+15550001"}' >/dev/null
  fw POST /admin/contacts '{"name":"alice","phone":"+15550002"}' >/dev/null
}
fw() { curl -s -m 5 -X "$1" ${3:+-d "$3"} "http://$ADMIN$2"; }

# events: every event the gateway's ring replays (?since=0), one JSON per line, via a
# minimal WebSocket client (stdlib only; server frames are unmasked text, < 64 KiB here).
events() {
  [ -f "$T/events.py" ] || write_events_py
  python3 "$T/events.py" "$GW_LISTEN" "$GW_TOKEN"
}
write_events_py() {
cat >"$T/events.py" <<'PY'
import base64, json, os, socket, struct, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=3)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /api/v1/events?since=0 HTTP/1.1\r\nHost: localhost:%s\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n"
           "Authorization: Bearer %s\r\n\r\n" % (port, key, sys.argv[2])).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
buf = buf.split(b"\r\n\r\n", 1)[1]
s.settimeout(1.5)  # the end of the replay: 1.5 s of silence (a loaded CI machine)
try:
    while True:
        while len(buf) < 2 or len(buf) < 2 + (buf[1] & 127 if buf[1] & 127 < 126 else 2):
            buf += s.recv(65536) or sys.exit(0)
        n, off = buf[1] & 127, 2
        if n == 126:
            n, off = struct.unpack(">H", buf[2:4])[0], 4
        while len(buf) < off + n:
            buf += s.recv(65536)
        op, payload, buf = buf[0] & 15, buf[off:off + n], buf[off + n:]
        if op == 1:
            print(json.dumps(json.loads(payload)))
except socket.timeout:
    pass
PY
}

# api METHOD PATH [JSON]: sets BODY and CODE (no subshell, so CODE survives).
api() {
  local out
  out=$(curl -s -m 5 -w '\n%{http_code}' -X "$1" -H "Authorization: Bearer $GW_TOKEN" \
    ${3:+-H 'content-type: application/json' -d "$3"} "http://$GW_LISTEN$2")
  CODE=${out##*$'\n'}
  BODY=${out%$'\n'*}
}
chan() { api GET /api/v1/channels/whatsapp/default; jq -r ".$1" <<<"$BODY"; }
# wait_state STATE MS: polls the channel's state.
wait_state() {
  local end=$(( $(now_ms) + $2 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    [ "$(chan state)" = "$1" ] && return 0
    sleep 0.05
  done
  echo "# state $(chan state), last_error $(chan last_error)"
  return 1
}
get_qr() { api GET '/api/v1/channels/whatsapp/default/qr?format=json'; jq -r '.qr // empty' <<<"$BODY"; }
wait_qr() { # prints the QR payload once one is current
  local q
  for _ in $(seq 1 200); do q=$(get_qr); [ -n "$q" ] && { echo "$q"; return 0; }; sleep 0.05; done
  return 1
}
