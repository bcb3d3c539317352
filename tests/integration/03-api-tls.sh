#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The control API over TLS (gateway.tls_cert/tls_key) with a certificate generated here:
# HTTPS and WSS work, plain HTTP on the port gets nothing, a client stalled in the
# handshake neither blocks the loop nor holds its slot past the header deadline, and a
# half-configured TLS is refused naming the key.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "1..0 # SKIP openssl missing"; exit 77; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$T/key.pem" -out "$T/cert.pem" -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
chmod 600 "$T/key.pem"
mkdir -p "$T/g"
printf '{"gateway":{"tls_cert":"%s","tls_key":"%s"},"whatsapp":{"accounts":{}}}\n' \
  "$T/cert.pem" "$T/key.pem" >"$T/g/wagate.json"
S=$T/g/state
"$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$S" gateway --listen 127.0.0.1:0 \
  >"$T/g/out.log" 2>"$T/g/err.log" &
GW_PID=$!
PIDS+=("$GW_PID")
L=""
for _ in $(seq 1 1000); do # bounded: 10 s
  [ -f "$S/gateway.json" ] && L=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$S/gateway.json")
  [ -n "$L" ] && break
  sleep 0.01
done
PORT=${L##*:}
TOK=$(cat "$S/token" 2>/dev/null)
U="https://localhost:$PORT"
C=(curl -s -m 5 --cacert "$T/cert.pem")
check "the daemon says https" grep -q "listening on https://127.0.0.1:$PORT" "$T/g/err.log"
check "GET /healthz over TLS, the certificate verified" \
  ok_if '[ "$("${C[@]}" "$U/healthz")" = ok ]'
check "/api/v1/status with the token" \
  ok_if '"${C[@]}" -H "Authorization: Bearer $TOK" "$U/api/v1/status" | grep -q "\"version\""'
check "/api/v1/status without the token is 401" \
  ok_if '[ "$("${C[@]}" -o /dev/null -w "%{http_code}" "$U/api/v1/status")" = 401 ]'
check "plain HTTP on the TLS port gets no HTTP answer" \
  ok_if '! curl -s -m 3 "http://127.0.0.1:$PORT/healthz" | grep -q ok'

# the event stream over WSS, the token as a subprotocol (the browser way)
cat >"$T/wss.py" <<'PY'
import base64, os, socket, ssl, sys
port, token, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                    server_hostname="localhost")
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /api/v1/events?since=0 HTTP/1.1\r\nHost: localhost:%d\r\n"
           "Origin: https://localhost:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Protocol: wagate.v1, wagate.bearer.%s\r\n\r\n"
           % (port, port, key, token)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    if not d:
        break
    buf += d
head = buf.split(b"\r\n\r\n", 1)[0].decode()
print(head.splitlines()[0] if head else "nothing")
print("proto" if "Sec-WebSocket-Protocol: wagate.v1" in head else "noproto")
PY
out=$(timeout 10 python3 "$T/wss.py" "$PORT" "$TOK" "$T/cert.pem" 2>&1)
check "WSS upgrade with the subprotocol token: 101, wagate.v1 selected" \
  ok_if 'grep -q "101 Switching" <<<"$out" && grep -q "^proto" <<<"$out"'

# a client stuck in the handshake: /healthz still answers at once, and the stuck one is
# closed by the header deadline (5 s)
cat >"$T/stall.py" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15)
s.sendall(b"\x16\x03\x01\x02\x00\x01")  # the first bytes of a ClientHello, then nothing
t = time.time()
try:
    while s.recv(4096):
        pass
except OSError:
    pass
print("%.1f" % (time.time() - t))
PY
python3 "$T/stall.py" "$PORT" >"$T/stall.out" &
STALL=$!
sleep 0.3
t0=$(now_ms)
check "/healthz answers while a handshake is stalled" ok_if '[ "$("${C[@]}" "$U/healthz")" = ok ]'
dt=$(( $(now_ms) - t0 ))
echo "# /healthz over TLS with a stalled handshake: ${dt} ms"
wait "$STALL"
echo "# stalled handshake closed after $(cat "$T/stall.out") s"
check "the stalled handshake is closed by the header deadline (within 8 s)" \
  ok_if 'awk "{exit !(\$1 >= 3 && \$1 <= 8)}" "$T/stall.out"'
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null

# half a TLS configuration is refused, naming what is missing
printf '{"gateway":{"tls_cert":"%s"},"whatsapp":{"accounts":{}}}\n' "$T/cert.pem" >"$T/half.json"
timeout 10 "$WAGATE_BIN" --config "$T/half.json" --state-dir "$T/h" gateway --listen 127.0.0.1:0 \
  >/dev/null 2>"$T/half.err"
rc=$?
check "tls_cert without tls_key exits 1" [ "$rc" -eq 1 ]
check "the error names gateway.tls_key" grep -q "without gateway.tls_key" "$T/half.err"
printf '{"gateway":{"tls_cert":"%s","tls_key":"%s"},"whatsapp":{"accounts":{}}}\n' \
  "$T/cert.pem" "$T/cert.pem" >"$T/bad.json"
timeout 10 "$WAGATE_BIN" --config "$T/bad.json" --state-dir "$T/b" gateway --listen 127.0.0.1:0 \
  >/dev/null 2>"$T/bad.err"
check "a key that is not a key is refused at start" grep -q "gateway.tls_cert/tls_key" "$T/bad.err"
finish
