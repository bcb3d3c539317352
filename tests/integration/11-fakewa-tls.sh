#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# wagate-fakewa over wss:// (--listen-tls) with the test CA it generates in its state dir,
# proven end to end with `wagate proto connect` (DNS through wagate-testdns -> TCP -> TLS
# verified against whatsapp.tls_ca_file -> WebSocket -> Noise ServerHello -> certificate
# chain verified against whatsapp.noise_root_pubkey). Also: the typed TLS outcomes without
# the CA and for a name the certificate does not cover, ws:// unchanged next to wss://, the
# CA and keys kept across a restart (keys 0600), a leaf re-issued by the same CA for new
# names, and a clean SIGTERM exit after TLS connections (ASan leak check in the status).
source "$(dirname "$0")/lib.sh"
FW="${WAGATE_BUILD:?}/wagate-fakewa"
[ -x "$FW" ] || { echo "not ok - $FW not built"; exit 1; }
STATE=$T/fw-state
HOST=web.whatsapp.test

"$WAGATE_BUILD/wagate-testdns" --listen 127.0.0.1:0 --rule "$HOST=a:127.0.0.1" \
  --rule other.test=a:127.0.0.1 --rule extra.test=a:127.0.0.1 >"$T/dns.out" 2>/dev/null &
PIDS+=($!)
for _ in $(seq 100); do grep -q listening "$T/dns.out" && break; sleep 0.02; done
DNS=$(sed -n 's/^listening //p' "$T/dns.out")

start_fw() { # start_fw [extra args]: sets FW_PID, ADMIN, LISTEN, TLS, ROOT, CA
  : >"$T/fw.out"
  "$FW" --listen 127.0.0.1:0 --listen-tls 127.0.0.1:0 --admin 127.0.0.1:0 --state "$STATE" \
    --log-level info "$@" >"$T/fw.out" 2>>"$T/fw.err" &
  FW_PID=$!
  PIDS+=("$FW_PID")
  for _ in $(seq 1 3000); do grep -q '^ready 1' "$T/fw.out" 2>/dev/null && break; sleep 0.01; done
  ADMIN=$(sed -n 's/^admin //p' "$T/fw.out")
  LISTEN=$(sed -n 's/^listen //p' "$T/fw.out")
  TLS=$(sed -n 's/^listen_tls //p' "$T/fw.out")
  ROOT=$(sed -n 's/^root //p' "$T/fw.out")
  CA=$(sed -n 's/^ca //p' "$T/fw.out")
  [ -n "$ADMIN" ] && [ -n "$LISTEN" ] && [ -n "$TLS" ] && [ ${#ROOT} -eq 64 ] && [ -f "$CA" ]
}
stop_fw() {
  kill -TERM "$FW_PID" 2>/dev/null
  wait "$FW_PID"
}
config() { # config FILE [CA]: the whatsapp.* section for proto connect
  if [ -n "${2:-}" ]; then
    printf '{"whatsapp":{"dns_servers":["%s"],"noise_root_pubkey":"%s","tls_ca_file":"%s"}}\n' \
      "$DNS" "$ROOT" "$2" >"$1"
  else
    printf '{"whatsapp":{"dns_servers":["%s"],"noise_root_pubkey":"%s"}}\n' "$DNS" "$ROOT" >"$1"
  fi
}
pc() { # pc CONFIG URL [--json]: proto connect; sets OUT and RC
  OUT=$("$WAGATE_BIN" --config "$1" --state-dir "$T/s" proto connect ${3:+"$3"} "$2" 2>&1)
  RC=$?
  echo "# $2 -> $OUT"
}
port() { echo "${1##*:}"; }
VERIFIED="ok: server certificate chain verified against the configured root"

check "fakewa starts with --listen-tls and prints listen_tls and ca" start_fw
check "the CA is in the state dir (absolute path)" [ "$CA" = "$(cd "$STATE" && pwd)/ca.pem" ]
check "server.key and ca.key are 0600" \
  [ "$(stat -c %a "$STATE/server.key") $(stat -c %a "$STATE/ca.key")" = "600 600" ]
check "GET /admin/root returns the root key and the CA path" \
  [ "$(curl -s -m 5 "http://$ADMIN/admin/root" | jq -r '"\(.pubkey) \(.ca)"')" = "$ROOT $CA" ]
check "server.pem chains to ca.pem" openssl verify -CAfile "$CA" "$STATE/server.pem"

config "$T/ok.json" "$CA"
config "$T/noca.json"
TP=$(port "$TLS")
pc "$T/ok.json" "wss://$HOST:$TP/ws/chat"
check "wss://$HOST through testdns: TLS + Noise chain verified (exit 0)" \
  [ "$RC" -eq 0 ] && grep -qF "$VERIFIED" <<<"$OUT"
pc "$T/ok.json" "wss://127.0.0.1:$TP/ws/chat"
check "wss://127.0.0.1 (IP SAN): verified" [ "$RC" -eq 0 ] && grep -qF "$VERIFIED" <<<"$OUT"
pc "$T/ok.json" "wss://localhost:$TP/ws/chat"
check "wss://localhost: verified" [ "$RC" -eq 0 ] && grep -qF "$VERIFIED" <<<"$OUT"
pc "$T/ok.json" "ws://$LISTEN/ws/chat"
check "ws:// on the plain port still works next to wss://" \
  [ "$RC" -eq 0 ] && grep -qF "$VERIFIED" <<<"$OUT"

pc "$T/noca.json" "wss://$HOST:$TP/ws/chat"
check "without the CA: tls: certificate verify failed (unable to get local issuer certificate)" \
  [ "$RC" -ne 0 ] && grep -qF \
  "tls: certificate verify failed (unable to get local issuer certificate)" <<<"$OUT"
pc "$T/noca.json" "wss://$HOST:$TP/ws/chat" --json
check "without the CA: --json stage is tls" [ "$(jq -r .stage <<<"$OUT")" = tls ]
pc "$T/ok.json" "wss://other.test:$TP/ws/chat"
check "a name the certificate does not cover: hostname mismatch" \
  grep -qF "tls: certificate verify failed (hostname mismatch)" <<<"$OUT"
pc "$T/ok.json" "wss://$LISTEN/ws/chat"
check "wss:// to the plain port fails in TLS" [ "$RC" -ne 0 ] && grep -q ": tls: " <<<"$OUT"
pc "$T/ok.json" "ws://$TLS/ws/chat"
check "ws:// to the TLS port fails" [ "$RC" -ne 0 ]
printf '{"whatsapp":{"dns_servers":["%s"],"noise_root_pubkey":"%s","tls_ca_file":"%s"}}\n' \
  "$DNS" "$(printf '%064d' 7)" "$CA" >"$T/badroot.json"
pc "$T/badroot.json" "wss://$HOST:$TP/ws/chat"
check "TLS ok but another Noise root: the noise stage fails" \
  [ "$RC" -ne 0 ] && grep -q ": noise: " <<<"$OUT"

ws_code() { # ws_code URL [curl args]: HTTP status of a WebSocket upgrade
  local u=$1; shift
  curl -s -m 3 -o /dev/null -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
    -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
    -H 'Origin: https://web.whatsapp.com' "$@" "$u" 2>/dev/null
}
check "curl --cacert: upgrade over https is 101" \
  [ "$(ws_code "https://localhost:$TP/ws/chat" --cacert "$CA")" = 101 ]
check "curl --cacert: other paths are 404 over https" \
  [ "$(ws_code "https://localhost:$TP/nope" --cacert "$CA")" = 404 ]
curl -s -m 5 -XPOST "http://$ADMIN/admin/fault" -d '{"type":"refuse","duration_ms":500}' >/dev/null
check "fault refuse applies to wss:// too (503)" \
  [ "$(ws_code "https://localhost:$TP/ws/chat" --cacert "$CA")" = 503 ]
sleep 0.7
check "fakewa logged the rejected CA as a typed TLS alert" \
  grep -q "tls: alert unknown CA (48)" "$T/fw.err"
check "stats counted the TLS connections" \
  [ "$(curl -s -m 5 "http://$ADMIN/admin/stats" | jq .connections)" -ge 10 ]

sum() { sha256sum "$STATE/$1" | cut -d' ' -f1; }
ca1=$(sum ca.pem); leaf1=$(sum server.pem); key1=$(sum server.key)
check "SIGTERM after TLS connections: clean exit (status 0, no leaks)" stop_fw
check "restart on the same state" start_fw
check "CA, certificate and key kept across the restart" \
  [ "$(sum ca.pem) $(sum server.pem) $(sum server.key)" = "$ca1 $leaf1 $key1" ]
pc "$T/ok.json" "wss://$HOST:$(port "$TLS")/ws/chat"
check "the CA file written before the restart still verifies" [ "$RC" -eq 0 ]
check "stop" stop_fw
check "restart with --tls-names extra.test" start_fw --tls-names extra.test
check "new leaf, same CA" [ "$(sum ca.pem)" = "$ca1" ] && [ "$(sum server.pem)" != "$leaf1" ]
pc "$T/ok.json" "wss://extra.test:$(port "$TLS")/ws/chat"
check "wss://extra.test verified with the unchanged CA file" \
  [ "$RC" -eq 0 ] && grep -qF "$VERIFIED" <<<"$OUT"
check "second SIGTERM: clean exit" stop_fw
"$FW" --listen 127.0.0.1:0 --listen-tls 10.0.0.1:0 --admin 127.0.0.1:0 --state "$STATE" \
  >/dev/null 2>"$T/e"
check "a non-loopback --listen-tls is refused (exit 2)" [ $? -eq 2 ]
if [ -s "$T/fw.err" ]; then grep -v ' info ' "$T/fw.err" | sed 's/^/# /' | head -40; fi
finish
