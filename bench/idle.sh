#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Idle cost of the daemon: resident memory after start, and wake-ups per
# second while nothing happens (voluntary context switches of all threads,
# sampled over IDLE_SECONDS). Prints figures; asserts nothing.
set -euo pipefail
BIN=${WAGATE_BIN:-$(dirname "$0")/../build/wagate}
SECS=${IDLE_SECONDS:-10}
T=$(mktemp -d)
trap 'kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
echo '{"whatsapp":{"accounts":{}}}' > "$T/c.json"
"$BIN" --config "$T/c.json" --state-dir "$T/s" gateway --listen 127.0.0.1:0 2>"$T/err" &
PID=$!
for _ in $(seq 200); do [ -f "$T/s/gateway.json" ] && break; sleep 0.01; done
L=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$T/s/gateway.json")
curl -sf "http://$L/healthz" >/dev/null
sleep 1
switches() { cat /proc/$PID/task/*/status | awk '/^voluntary_ctxt_switches/ {s+=$2} END {print s}'; }
rss_kb() { awk '/^VmRSS/ {print $2}' /proc/$PID/status; }
threads() { ls /proc/$PID/task | wc -l; }
a=$(switches)
sleep "$SECS"
b=$(switches)
echo "idle: rss=$(rss_kb) KiB threads=$(threads) wakeups=$(( b - a )) in ${SECS}s ($(awk "BEGIN{printf \"%.2f\", ($b-$a)/$SECS}")/s)"
# After some API traffic, the idle state should look the same.
for _ in $(seq 200); do curl -sf "http://$L/healthz" >/dev/null; done
sleep 1
a=$(switches); sleep "$SECS"; b=$(switches)
echo "idle after 200 requests: rss=$(rss_kb) KiB wakeups=$(( b - a )) in ${SECS}s"
