#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A state dir the kernel remounted read-only (fault-matrix row 31, the read-only half; EIO on
# fsync is 03-eio.sh). A real `mount -o remount,ro` is refused while the daemon holds files
# open for writing; what a file system with errors=remount-ro does to the running daemon is
# what the power-cut shim (tests/crash/powercut.c) does while $T/erofs exists: every write,
# truncation, sync and open for writing under the state dir fails with EROFS. Then: the
# messages alice sends are not stored and not acknowledged, the channel goes to `degraded`
# with one alert within 10 s, the credentials are intact; writable again, the channel
# recovers by itself and the server redelivers: each message in the inbox once, one reply
# each, in alice's order.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/channel-lib.sh"
source "$(dirname "$0")/crash-lib.sh"

SHIM="$WAGATE_BUILD/wagate_powercut.so"
[ -f "$SHIM" ] || { echo "not ok - $SHIM not built"; exit 1; }
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export LD_PRELOAD="$SHIM" WAGATE_PC_EROFS_FILE="$T/erofs" WAGATE_PC_DIR="$T/g/state"

check "set-up: the gateway (under the shim) paired" crash_setup
ID0=$(identity "$GW_STATE/accounts/default/wa.db")
alice_says before >/dev/null
check "a message before the remount is answered" wait_reply before
T1=$(now_ms)
touch "$T/erofs" # from now on the state dir is read-only
IDS=()
for i in 1 2 3 4 5; do IDS+=("$(alice_says "ro$i")"); done
check "read-only: the channel goes to degraded within 10 s" wait_state degraded 10000
echo "# degraded $(($(now_ms) - T1)) ms after the file system turned read-only"
sleep 1
nacked=0
for id in "${IDS[@]}"; do acked "$id" && nacked=$((nacked + 1)); done
check "none of the 5 messages was acknowledged ($nacked were)" ok_if '[ "$nacked" = 0 ]'
# SQLite reports a failed write as a disk I/O error (it keeps no errno for it)
check "the status names the store error ($(chan last_error))" ok_if '[[ "$(chan last_error)" == store:* ]]'
ev=$(events)
check "one channel.degraded alert" ok_if \
  '[ "$(jq -r "select(.type==\"channel.degraded\") | .data.account" <<<"$ev" | wc -l)" = 1 ]'
check "the credentials are intact (same identity)" [ "$(identity "$GW_STATE/accounts/default/wa.db")" = "$ID0" ]
T2=$(now_ms)
rm -f "$T/erofs"
check "connected again by itself" wait_state connected 20000
echo "# connected $(($(now_ms) - T2)) ms after it was writable again"
all_once() {
  local i
  for i in 1 2 3 4 5; do wait_reply "ro$i" 300 || { echo "# no reply to ro$i"; return 1; }; done
  sleep 1
  for i in 1 2 3 4 5; do [ "$(replies "ro$i")" = 1 ] || { echo "# ro$i: $(replies "ro$i") replies"; return 1; }; done
}
check "every message sent while read-only is answered exactly once" all_once
api GET '/api/v1/messages?account=default&after=0&limit=1000'
got=$(jq -c '[.messages[] | select(.text | test("^ro[0-9]$")) | .text]' <<<"$BODY")
check "each is in the inbox once, in alice's order ($got)" ok_if '[ "$got" = "[\"ro1\",\"ro2\",\"ro3\",\"ro4\",\"ro5\"]" ]'
kill -TERM "$GW_PID"
wait "$GW_PID"
if grep -q 'ERROR: AddressSanitizer\|runtime error' "$T/g/err.log"; then nok "sanitizer reports"; fi
kill -TERM "$FW_PID"
wait "$FW_PID"
finish
