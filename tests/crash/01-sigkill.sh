#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Daemon-level crash test (issue 11 item 1, fault-matrix row 25): the REAL gateway and
# wagate-fakewa; alice and bob send 1:1 and group messages while the API sends to them and the
# exec hook replies; the gateway is SIGKILLed at random moments (a quarter of them during
# the start and login, the rest 0-1.5 s after it connected) and restarted, CRASH_ITERATIONS
# times (50 in CI). Then (crash-lib.sh, verify.py): every message the peers sent is in the
# inbox once, reached the hook (repeats only when declared by "attempt") and got one reply;
# every message the API accepted reached its recipient once; no Bad MAC / undecryptable; no
# new QR. Prints the counts.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/channel-lib.sh"
source "$(dirname "$0")/crash-lib.sh"
ITER=${CRASH_ITERATIONS:-50}
T0=$(now_ms)

check "set-up: fakewa, alice, bob, a group, the gateway paired" crash_setup
early=0 late=0 starts=0
for i in $(seq 1 "$ITER"); do
  if [ "$i" -gt 1 ]; then
    gw_start || { nok "gateway start $i"; break; }
    starts=$((starts + 1))
  fi
  api_new 1
  if [ $((RANDOM % 4)) = 0 ]; then # during the start, the login, the offline flush
    crash_burst 3
    sleep "0.$((RANDOM % 4))"
    early=$((early + 1))
  else
    wait_state connected 15000 >/dev/null || { nok "connected at iteration $i"; break; }
    crash_burst 4
    sleep "$((RANDOM % 2)).$((RANDOM % 10))"
    late=$((late + 1))
  fi
  gw_kill9
done
bursts_wait
echo "# $ITER SIGKILLs: $early during start/login, $late while connected"

check "the gateway starts after the last SIGKILL" gw_start
check "connected" wait_state connected 15000
api_flush # what the API never answered is retried with the same key
crash_converge 90
check "after recovery: 0 lost, 0 duplicated, hook once in effect, 0 Bad MAC, no QR" \
  crash_verify quiet
echo "# $(( ($(now_ms) - T0) / 1000 )) s in all"
kill -TERM "$GW_PID"
wait "$GW_PID"
kill -TERM "$FW_PID"
wait "$FW_PID"
finish
