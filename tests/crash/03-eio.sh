#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# EIO on fsync (fault-matrix row 31) on the REAL gateway: the power-cut shim
# (tests/crash/powercut.c) fails every fsync/fdatasync of the state dir while $T/eio exists.
# While it does: the messages alice sends are not stored and NOT acknowledged (no delivery
# receipt at alice: the server keeps them), the channel goes to `degraded` with one
# channel.degraded alert within 10 s, and the credentials are not touched. When fsync works
# again the channel recovers by itself (a write probe every 2 s, then a reconnect): the server
# redelivers, every message is in the inbox once and the exec hook answers each once; the
# identity is the one from before.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/channel-lib.sh"
source "$(dirname "$0")/crash-lib.sh"
SHIM="$WAGATE_BUILD/wagate_powercut.so"
[ -f "$SHIM" ] || { echo "not ok - $SHIM not built"; exit 1; }
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export LD_PRELOAD="$SHIM" WAGATE_PC_EIO_FILE="$T/eio"


export WAGATE_PC_DIR="$T/g/state"
check "set-up: the gateway (under the shim) paired" crash_setup
ID0=$(identity "$GW_STATE/accounts/default/wa.db")
alice_says before >/dev/null
check "a message before the fault is answered" wait_reply before

touch "$T/eio"
T1=$(now_ms)
D1=$(alice_says during1)
D2=$(alice_says during2)
check "fsync fails: the channel goes to degraded within 10 s" wait_state degraded 10000
echo "# degraded $(($(now_ms) - T1)) ms after fsync started failing"
sleep 1
check "the messages that could not be stored were not acknowledged" ok_if '! acked "$D1" && ! acked "$D2"'
check "the status names the store error" ok_if 'chan last_error | grep -q "store: Input/output error"'
ev=$(events)
check "one channel.degraded alert" ok_if \
  '[ "$(jq -r "select(.type==\"channel.degraded\") | .data.account" <<<"$ev" | wc -l)" = 1 ]'
check "the log says why, at error level" grep -q 'error.*the store cannot write (Input/output error): nothing is acknowledged' "$T/g/err.log"

rm -f "$T/eio"
T2=$(now_ms)
check "fsync works again: connected again by itself" wait_state connected 20000
echo "# connected $(($(now_ms) - T2)) ms after fsync works again"
check "the server redelivered: both messages answered" ok_if 'wait_reply during1 && wait_reply during2'
sleep 1
check "and acknowledged now" ok_if 'acked "$D1" && acked "$D2"'
api GET '/api/v1/messages?account=default&after=0&limit=100'
check "each is in the inbox once" ok_if \
  '[ "$(jq --arg a "$D1" --arg b "$D2" "[.messages[] | select(.id==\$a or .id==\$b)] | length" <<<"$BODY")" = 2 ]'
check "one reply each" ok_if '[ "$(replies during1)" = 1 ] && [ "$(replies during2)" = 1 ]'
ev=$(events)
echo "# events: $(jq -r .type <<<"$ev" | sort | uniq -c | tr -s ' \n' ' ')"
check "channel.storage_restored published" ok_if 'jq -r .type <<<"$ev" | grep -qx channel.storage_restored'
kill -TERM "$GW_PID"
wait "$GW_PID"
check "the identity is the one from before the fault" [ "$(identity "$GW_STATE/accounts/default/wa.db")" = "$ID0" ]
if grep -q 'ERROR: AddressSanitizer\|runtime error' "$T/g/err.log"; then nok "sanitizer reports"; fi
kill -TERM "$FW_PID"
wait "$FW_PID"
finish
