#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Wedged peers and a stalled daemon, on the real daemon against fakewa:
#  #21 the server stops answering pings (fakewa `stall`, TCP alive): forced reconnect after
#      2 missed pings, well within 60 s;
#  #22 the server closes during the Noise handshake (fakewa `handshake_close`, WS close and
#      TCP RST): retryable, connected again within 5 s (as #6);
#  #37 the daemon stalls (`kill -STOP`, then `-CONT`) while the server drops the link
#      (fakewa `blackhole`: nothing read or written, TCP alive, so only the keepalive can
#      tell) and, second form, while the server closes it: the stale socket is detected and
#      replaced within 70 s of CONT, the same process keeps running, the API answers.
# Compressed time: keepalive interval 1 s, deadline 1 s, STOP 10 s; backoff base 200 ms, cap
# 1 s. WAGATE_FAULT_LONG=1: the default keepalive (20-30 s, 10 s) and a 60 s STOP (~4 min).
source "$(dirname "$0")/fault-lib.sh"
fault_setup
if [ -n "${WAGATE_FAULT_LONG:-}" ]; then
  KA='"keepalive":{"interval_ms":20000,"deadline_ms":10000}' STOP_S=60
else
  KA='"keepalive":{"interval_ms":1000,"deadline_ms":1000}' STOP_S=10
fi
check "a paired, connected daemon" fault_gateway "\"backoff\":{\"base_ms\":200,\"cap_ms\":1000},$KA"
P='"phone":"+15550001"'
PID0=$GW_PID

# ---- #21: pings unanswered ----
r0=$(chan reconnects)
fault "{\"type\":\"stall\",$P}"
t=$(now_ms)
gone() { # until the session has been replaced (reconnects moves on)
  local end=$(( t + 60000 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    [ "$(chan reconnects)" -gt "$r0" ] && [ "$(chan state)" = connected ] && return 0
    sleep 0.1
  done
  return 1
}
check "#21 pings unanswered: reconnected within 60 s" gone
echo "# row 21: reconnected $(( $(now_ms) - t )) ms after the server stopped answering pings"
check "#21 the reason is the missed pings" ok_if 'gwlog | grep -q "keepalive pings unanswered"'

# ---- #22: close during the Noise handshake ----
hs_armed() { fw GET /admin/stats | jq '[.faults[] | select(.type=="handshake_close")] | length'; }
for reset in false true; do
  fault "{\"type\":\"handshake_close\",\"reset\":$reset,\"count\":1}"
  t=$(now_ms)
  fault "{\"type\":\"close\",$P}"
  check "#22 (reset $reset) the next attempt is closed in the handshake, still retrying" ok_if '
    for _ in $(seq 1 100); do [ "$(hs_armed)" = 0 ] && break; sleep 0.05; done
    [ "$(hs_armed)" = 0 ] && [ "$(chan state)" != stopped ]'
  check "#22 (reset $reset) connected again within 5 s" wait_state connected 5000
  echo "# row 22 (reset $reset): connected $(( $(now_ms) - t )) ms after the close, through one attempt closed in the handshake"
done

# ---- #37: the daemon stalls while the server drops the link ----
stall_once() { # $1: the fault the server does during the stall
  r0=$(chan reconnects)
  kill -STOP "$GW_PID"
  fault "$1"
  sleep "$STOP_S"
  kill -CONT "$GW_PID"
  t=$(now_ms)
  local end=$(( t + 70000 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    [ "$(chan reconnects)" -gt "$r0" ] && [ "$(chan state)" = connected ] && break
    sleep 0.1
  done
  REC_MS=$(( $(now_ms) - t ))
  [ "$(chan reconnects)" -gt "$r0" ] && [ "$(chan state)" = connected ]
}
check "#37 STOP ${STOP_S} s, server stops reading: reconnected within 70 s of CONT" \
  stall_once "{\"type\":\"blackhole\",$P}"
echo "# row 37: STOP ${STOP_S} s with a black-holed server: reconnected ${REC_MS} ms after CONT"
check "#37 STOP ${STOP_S} s, server closes: reconnected within 70 s of CONT" \
  stall_once "{\"type\":\"close\",$P}"
echo "# row 37: STOP ${STOP_S} s with a server close: reconnected ${REC_MS} ms after CONT"
check "#37 the same process, still running; /healthz answers" ok_if \
  '[ "$GW_PID" = "$PID0" ] && kill -0 "$GW_PID" && curl -sf -m 2 "http://$GW_LISTEN/healthz" >/dev/null'
finish
