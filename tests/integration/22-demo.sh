#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make demo` (scripts/demo.sh) with the binaries of this build: the round trip alice -> gateway
# -> echo bot -> alice happens and is shown, everything is stopped and removed afterwards; a
# bot that never answers makes the demo fail within its time limit, also cleaned up.
source "$(dirname "$0")/lib.sh"
SRC="${WAGATE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
: "${WAGATE_BUILD:?}"

# run_demo OUT [ENV=...]: runs the demo (bounded), sets RC, DUR_MS and DIR (its temp dir).
run_demo() {
  local out=$1 s; shift
  s=$(now_ms)
  env "$@" WAGATE_BUILD="$WAGATE_BUILD" timeout -k 5 90 bash "$SRC/scripts/demo.sh" \
    >"$out" 2>"$out.err" </dev/null
  RC=$?
  DUR_MS=$(( $(now_ms) - s ))
  DIR=$(sed -n 's/^demo dir: //p' "$out")
}
# Nothing left behind: the temp dir is gone and no process runs with it on its command line.
clean() {
  [ -n "$DIR" ] && [ ! -e "$DIR" ] || return 1
  ! grep -lsF -- "$DIR" /proc/[0-9]*/cmdline >/dev/null 2>&1
}

run_demo "$T/demo.out"
echo "# demo: exit $RC in $DUR_MS ms"
check "the demo succeeds (exit 0)" [ "$RC" = 0 ]
check "it shows the QR code in the terminal" grep -q '█' "$T/demo.out"
check "the gateway is linked" grep -q 'connected as 15550001:[0-9]*@s.whatsapp.net' "$T/demo.out"
check "alice says hello" grep -q '^  alice -> gateway: hello' "$T/demo.out"
check "the bot gets the message JSON" \
  grep -q '^  gateway -> echo bot (stdin): {"account":"default",.*"text":"hello"}' "$T/demo.out"
check "alice gets the bot's answer" grep -q '^  echo bot -> alice: echo: hello$' "$T/demo.out"
check "the gateway stops with status 0" grep -q 'gateway exited with status 0' "$T/demo.out"
check "demo ok" grep -q '^demo ok' "$T/demo.out"
check "nothing left behind (temp dir, processes)" clean
[ "$RC" = 0 ] || sed 's/^/# /' "$T/demo.out" "$T/demo.out.err" | tail -40

run_demo "$T/fail.out" DEMO_BOT=true DEMO_TIMEOUT=2
echo "# failing demo: exit $RC in $DUR_MS ms"
check "a bot that never answers: the demo fails" [ "$RC" = 1 ]
check "and says why" grep -q 'no answer reached alice within 2 s' "$T/fail.out.err"
check "within its time limit" [ "$DUR_MS" -lt 30000 ]
check "nothing left behind after a failure either" clean
finish
