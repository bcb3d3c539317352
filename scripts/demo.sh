#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make demo`: the whole gateway on this machine, no internet. Starts wagate-fakewa (a fake
# WhatsApp server with simulated phones) on 127.0.0.1, a gateway linked to the simulated phone
# of +15550001 by QR, and an echo bot as the exec hook (examples/echo-bot.sh); then alice
# (+15550002) says hello and the bot answers her. Prints what happens, stops everything, and
# exits non-zero if the round trip did not happen in time.
#
# Environment: WAGATE_BUILD=DIR  use the binaries in DIR instead of building (build/ by
#                                default: cmake --preset default, targets wagate + wagate-fakewa)
#              DEMO_TIMEOUT=S    seconds for alice's hello to come back answered (default 20)
#              DEMO_BOT=CMD      the exec hook command (default: examples/echo-bot.sh)
#              DEMO_TEXT=TEXT    what alice says (default: hello)
set -uo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
TIMEOUT=${DEMO_TIMEOUT:-20}
TEXT=${DEMO_TEXT:-hello}
BOT=${DEMO_BOT:-"sh '$SRC/examples/echo-bot.sh'"}
TMP=''

if [ -t 1 ]; then B=$'\e[1m' D=$'\e[2m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'; else B='' D='' G='' R='' N=''; fi
say() { printf '%s\n' "$B$*$N"; }
note() { printf '%s\n' "$D  $*$N"; }
die() {
  printf '%s\n' "${R}demo failed: $*$N" >&2
  for f in "$TMP/gw.log" "$TMP/fw.err"; do
    [ -s "$f" ] && { echo "--- last lines of $(basename "$f")" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# jget KEY: the first string value of "KEY" in the JSON on stdin (flat values only).
jget() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" | head -n 1; }

# ---- build ----
if [ -n "${WAGATE_BUILD:-}" ]; then
  BUILD=$WAGATE_BUILD
else
  BUILD=$SRC/build
  say "building wagate and wagate-fakewa (release) ..."
  (cd "$SRC" && cmake --preset default >/dev/null &&
    cmake --build --preset default -j "$(nproc)" --target wagate wagate-fakewa >/dev/null) ||
    { echo "demo: build failed" >&2; exit 1; }
fi
for b in wagate wagate-fakewa; do
  [ -x "$BUILD/$b" ] || { echo "demo: $BUILD/$b not built" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "demo: curl is needed (scripts/deps.sh installs it)" >&2; exit 1; }

# ---- clean-up, whatever happens ----
TMP=$(mktemp -d /tmp/wagate-demo-XXXXXX)
FW_PID='' GW_PID=''
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then
    kill -TERM "$GW_PID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$GW_PID" 2>/dev/null
  fi
  if [ -n "$FW_PID" ] && kill -0 "$FW_PID" 2>/dev/null; then
    kill -TERM "$FW_PID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$FW_PID" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$FW_PID" 2>/dev/null
  fi
  wait 2>/dev/null
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "${D}demo dir: $TMP$N"

# ---- the fake WhatsApp server ----
say "1. starting wagate-fakewa (a fake WhatsApp server) on 127.0.0.1"
"$BUILD/wagate-fakewa" --listen 127.0.0.1:0 --admin 127.0.0.1:0 --state "$TMP/fw" \
  --log-level warn >"$TMP/fw.out" 2>"$TMP/fw.err" &
FW_PID=$!
for _ in $(seq 1 3000); do grep -q '^ready 1' "$TMP/fw.out" 2>/dev/null && break; sleep 0.01; done
grep -q '^ready 1' "$TMP/fw.out" || die "wagate-fakewa did not start"
ADMIN=$(sed -n 's/^admin //p' "$TMP/fw.out")
ROOT=$(sed -n 's/^root //p' "$TMP/fw.out")
LISTEN=$(sed -n 's/^listen //p' "$TMP/fw.out")
fw() { curl -s -m 5 -X "$1" ${3:+-d "$3"} "http://$ADMIN$2"; }
fw POST /admin/accounts '{"phone":"+15550001"}' | grep -q '"jid"' || die "cannot create the account"
fw POST /admin/contacts '{"name":"alice","phone":"+15550002"}' | grep -q '15550002' ||
  die "cannot create alice"
note "WhatsApp at ws://$LISTEN/ws/chat; our phone +15550001, contact alice +15550002"

# ---- the gateway ----
say "2. starting the gateway with an exec hook: $BOT"
BOT_JSON=${BOT//\\/\\\\}
BOT_JSON=${BOT_JSON//\"/\\\"}
cat >"$TMP/wagate.json" <<EOF
{
  "gateway": { "listen": "127.0.0.1:0" },
  "whatsapp": { "endpoint": "ws://$LISTEN/ws/chat", "noise_root_pubkey": "$ROOT",
                "accounts": { "default": { "dm_policy": "open" } } },
  "hooks": { "exec": { "command": "$BOT_JSON", "timeout_ms": 5000 } }
}
EOF
"$BUILD/wagate" --config "$TMP/wagate.json" --state-dir "$TMP/state" gateway \
  >"$TMP/gw.out" 2>"$TMP/gw.log" &
GW_PID=$!
GW=''
for _ in $(seq 1 1000); do
  if [ -f "$TMP/state/gateway.json" ]; then
    GW=$(jget listen <"$TMP/state/gateway.json")
    [ -n "$GW" ] && curl -sf -m 1 "http://$GW/healthz" >/dev/null && break
  fi
  kill -0 "$GW_PID" 2>/dev/null || die "the gateway exited"
  sleep 0.01
done
[ -n "$GW" ] || die "the gateway did not start"
TOKEN=$(cat "$TMP/state/token")
api() { curl -s -m 5 -X "$1" -H "Authorization: Bearer $TOKEN" ${3:+-d "$3"} "http://$GW$2"; }
note "control API on http://$GW"

# ---- link it: QR -> the simulated phone scans it ----
say "3. linking the gateway to the phone (QR code)"
QR=''
for _ in $(seq 1 200); do
  QR=$(api POST /api/v1/channels/whatsapp/default/login | jget qr)
  [ -n "$QR" ] && break
  sleep 0.05
done
[ -n "$QR" ] || die "no QR code"
api GET '/api/v1/channels/whatsapp/default/qr?format=text' | sed 's/^/    /'
note "QR payload: ${QR:0:60}..."
fw POST /admin/scan "{\"qr\":\"$QR\",\"phone\":\"+15550001\"}" | grep -q '"jid"' ||
  die "the phone could not scan the QR"
note "the phone scanned it"
STATE=''
for _ in $(seq 1 300); do
  STATE=$(api GET /api/v1/channels/whatsapp/default | jget state)
  [ "$STATE" = connected ] && break
  sleep 0.05
done
[ "$STATE" = connected ] || die "the channel is $STATE, not connected"
JID=$(api GET /api/v1/channels/whatsapp/default | jget jid)
printf '%s\n' "  ${G}connected$N as $JID"

# ---- the round trip ----
say "4. alice says \"$TEXT\""
START=$(now_ms)
ID=$(fw POST /admin/contacts/alice/send "{\"to\":\"+15550001\",\"text\":\"$TEXT\"}" | jget id)
[ -n "$ID" ] || die "alice could not send"
echo "  alice -> gateway: $TEXT   ${D}(message $ID)$N"
DEADLINE=$((START + TIMEOUT * 1000))
SEEN='' REPLY=''
while [ "$(now_ms)" -lt "$DEADLINE" ]; do
  if [ -z "$SEEN" ]; then
    M=$(api GET '/api/v1/messages?account=default&after=0&limit=50')
    if grep -q "\"id\":\"$ID\"" <<<"$M"; then
      SEEN=1
      echo "  gateway: stored in the inbox, event message.received"
      J=$(grep -o "{\"account\":[^{}]*\"id\":\"$ID\"[^{}]*}" <<<"$M" | head -n 1)
      echo "  gateway -> echo bot (stdin): $J"
    fi
  fi
  INBOX=$(fw GET /admin/contacts/alice/inbox)
  REPLY=$(grep -o '"text":"echo: [^"]*"' <<<"$INBOX" | head -n 1 | sed 's/^"text":"//; s/"$//')
  [ -n "$REPLY" ] && break
  sleep 0.1
done
if [ -z "$REPLY" ]; then
  grep '\[hook\]' "$TMP/gw.log" | sed 's/^/  log: /' | tail -n 5
  die "no answer reached alice within $TIMEOUT s"
fi
echo "  echo bot -> alice: $REPLY"
grep '\[hook\]' "$TMP/gw.log" | sed 's/^.*\[hook\] /  log: [hook] /' | tail -n 3
printf '%s\n' "  ${G}round trip in $(($(now_ms) - START)) ms$N"

# ---- stop ----
say "5. stopping"
S=$(now_ms)
kill -TERM "$GW_PID"
wait "$GW_PID"
RC=$?
GW_PID=''
note "gateway exited with status $RC in $(($(now_ms) - S)) ms"
[ "$RC" = 0 ] || die "the gateway exited with status $RC"
if grep -q 'ERROR: AddressSanitizer\|runtime error' "$TMP/gw.log"; then die "sanitizer report"; fi
say "demo ok"
