# SPDX-License-Identifier: MIT
# Shared helpers for the shell integration tests (sourced, not run).
# Each test prints "ok - ..." / "not ok - ..." lines and exits non-zero if
# any check failed. Everything runs on 127.0.0.1 with kernel-chosen ports.
set -uo pipefail

: "${WAGATE_BIN:?WAGATE_BIN must point at the wagate binary}"
PASS=0
FAIL=0
T=$(mktemp -d /tmp/wagate-it-XXXXXX)
PIDS=()

cleanup() {
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do
    { kill -9 "$p" && wait "$p"; } 2>/dev/null
  done
  # WAGATE_TEST_KEEP=1 keeps the test's directory (logs, state dirs) for a post-mortem
  if [ -n "${WAGATE_TEST_KEEP:-}" ]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
nok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
check() { # check "description" command...
  local d=$1; shift
  if "$@"; then ok "$d"; else nok "$d"; fi
}
ok_if() { eval "$1"; } # check "..." ok_if 'a compound condition'
finish() {
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# start_gateway NAME [extra args]: starts a daemon with its own state dir on a
# free port; sets GW_PID, GW_STATE, GW_LISTEN, GW_TOKEN, GW_START_MS, GW_READY_MS.
start_gateway() {
  local name=$1; shift
  GW_STATE=$T/$name/state
  mkdir -p "$T/$name"
  # no WhatsApp account unless a test configures one (the implicit "default" account would
  # connect to the real endpoint)
  [ -f "$T/$name/wagate.json" ] || echo '{"whatsapp":{"accounts":{}}}' > "$T/$name/wagate.json"
  GW_START_MS=$(now_ms)
  "$WAGATE_BIN" --config "$T/$name/wagate.json" --state-dir "$GW_STATE" gateway \
    --listen 127.0.0.1:0 "$@" >"$T/$name/out.log" 2>"$T/$name/err.log" &
  GW_PID=$!
  PIDS+=("$GW_PID")
  GW_LISTEN=""
  for _ in $(seq 1 2000); do # bounded: 10 s
    if [ -f "$GW_STATE/gateway.json" ]; then
      GW_LISTEN=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$GW_STATE/gateway.json")
      [ -n "$GW_LISTEN" ] && curl -sf -m 1 "http://$GW_LISTEN/healthz" >/dev/null && break
    fi
    sleep 0.005
  done
  GW_READY_MS=$(( $(now_ms) - GW_START_MS ))
  GW_TOKEN=$(cat "$GW_STATE/token" 2>/dev/null || true)
  [ -n "$GW_LISTEN" ]
}

# wait_exit PID TIMEOUT_MS: waits for the process to exit; prints its status.
wait_exit() {
  local pid=$1 limit=$2 start
  start=$(now_ms)
  while kill -0 "$pid" 2>/dev/null; do
    if [ $(( $(now_ms) - start )) -gt "$limit" ]; then return 1; fi
    # reap if it is our child
    sleep 0.01
  done
  return 0
}
