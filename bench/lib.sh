# SPDX-License-Identifier: MIT
# bench/lib.sh -- what the shell benches share (sourced, not run): the binaries and tools
# they need, a scratch dir cleaned on exit, wagate-fakewa with one account (+15550001) and
# alice (+15550002), the real daemon on a config of the bench's, and linking it by QR.
# Every step is bounded; a bench that cannot set up prints why and exits 0 (benches never
# fail a run).
#   bench_init NAME [TOOL...]   BIN, FW, T (scratch), PIDS; exits 0 if a binary or a tool
#                               (jq and curl always) is missing
#   bench_fakewa [ARGS...]      start fakewa (extra ARGS, e.g. --media 127.0.0.1:0): ADMIN,
#                               ROOT, LISTEN, CA (its media CA, when --media), fw METHOD PATH [JSON]
#   bench_daemon                start $BIN on $T/g/wagate.json (write it first; the state dir
#                               is S=$T/g/state): PID, L (API address), TOK, api METHOD PATH [JSON]
#   bench_link                  pair the default account by its QR and wait until connected
#   kib FIELD / cpu_ticks       the daemon's /proc/PID/status field in kB / utime+stime ticks
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
B=${WAGATE_BUILD:-build}
BIN=${WAGATE_BIN:-$B/wagate}
FW=$B/wagate-fakewa
S=""

bench_init() {
  BENCH_NAME=$1
  shift
  for x in "$BIN" "$FW"; do [ -x "$x" ] || { echo "$BENCH_NAME: $x not built"; exit 0; }; done
  for c in jq curl "$@"; do command -v "$c" >/dev/null || { echo "$BENCH_NAME: $c missing"; exit 0; }; done
  T=$(mktemp -d /tmp/wagate-bench-XXXXXX)
  S=$T/g/state
  mkdir -p "$T/g"
  PIDS=()
  trap 'for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
}

bench_fakewa() {
  "$FW" --listen 127.0.0.1:0 --admin 127.0.0.1:0 "$@" --state "$T/fw" --log-level warn \
    >"$T/fw.out" 2>"$T/fw.err" &
  PIDS+=($!)
  for _ in $(seq 1 500); do grep -q '^ready 1' "$T/fw.out" 2>/dev/null && break; sleep 0.01; done
  ADMIN=$(sed -n 's/^admin //p' "$T/fw.out")
  ROOT=$(sed -n 's/^root //p' "$T/fw.out")
  LISTEN=$(sed -n 's/^listen //p' "$T/fw.out")
  CA=$(sed -n 's/^ca //p' "$T/fw.out")
  fw POST /admin/accounts '{"phone":"+15550001"}' >/dev/null
  fw POST /admin/contacts '{"name":"alice","phone":"+15550002"}' >/dev/null
}
fw() { curl -s -m 60 -X "$1" ${3:+-d "$3"} "http://$ADMIN$2"; }

bench_daemon() {
  rm -f "$S/gateway.json"
  "$BIN" --config "$T/g/wagate.json" --state-dir "$S" gateway --listen 127.0.0.1:0 \
    >>"$T/g/out.log" 2>>"$T/g/err.log" &
  PID=$!
  PIDS+=("$PID")
  L=""
  for _ in $(seq 1 500); do
    [ -f "$S/gateway.json" ] && L=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$S/gateway.json")
    [ -n "$L" ] && curl -sf -m 1 "http://$L/healthz" >/dev/null && break
    sleep 0.01
  done
  TOK=$(cat "$S/token")
}
api() {
  curl -s -m 5 -X "$1" -H "Authorization: Bearer $TOK" \
    ${3:+-H 'content-type: application/json' -d "$3"} "http://$L$2"
}
state() { api GET /api/v1/channels/whatsapp/default | jq -r .state; }
wait_state() {
  for _ in $(seq 1 400); do [ "$(state)" = "$1" ] && return 0; sleep 0.05; done
  echo "$BENCH_NAME: channel not $1 (state $(state))"
  exit 0
}

bench_link() {
  wait_state pairing
  local qr=""
  for _ in $(seq 1 200); do
    qr=$(api GET '/api/v1/channels/whatsapp/default/qr?format=json' | jq -r '.qr // empty')
    [ -n "$qr" ] && break
    sleep 0.05
  done
  fw POST /admin/scan "{\"qr\":\"$qr\",\"phone\":\"+15550001\"}" >/dev/null
  wait_state connected
}

kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$PID/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
