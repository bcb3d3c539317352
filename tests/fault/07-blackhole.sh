#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault-matrix rows that drop packets, with iptables in the test's own network namespace
# (loopback only; the host's rules are never touched; skipped with the reason when the kernel
# refuses iptables there):
#  #8  half-open / blackhole mid-session: every segment to and from fakewa's port dropped
#      while connected. The session is declared dead by the keepalive (2 unanswered pings)
#      and retried; once the blackhole lifts, connected again; fd count back to baseline.
#  #9  SYN blackhole at connect: only SYNs to fakewa's port dropped: each attempt ends with
#      `connect: timeout` after 10-20 s, then backoff; never "connecting" for more than 30 s.
# Compressed time: keepalive interval 1 s (pings every 1-1.5 s), deadline 1 s; backoff base
# 200 ms, cap 1 s. WAGATE_FAULT_LONG=1 runs #8 with the default keepalive (20-30 s, 10 s):
# dead within 75 s is the matrix's criterion (~1.5 min).
source "$(dirname "$0")/fault-lib.sh"
need_iptables
fault_setup
if [ -n "${WAGATE_FAULT_LONG:-}" ]; then
  KA='"keepalive":{"interval_ms":20000,"deadline_ms":10000}' DEAD_MS=75000
else
  KA='"keepalive":{"interval_ms":1000,"deadline_ms":1000}' DEAD_MS=15000
fi
check "a paired, connected daemon" fault_gateway "\"backoff\":{\"base_ms\":200,\"cap_ms\":1000},$KA"
PORT=${LISTEN##*:}
sleep 1
FD0=$(fdcount)

# ---- #8: blackhole mid-session ----
ipt_port -I "$PORT"
t=$(now_ms)
left_connected() {
  local end=$(( t + DEAD_MS ))
  while [ "$(now_ms)" -lt "$end" ]; do
    [ "$(chan state)" != connected ] && return 0
    sleep 0.05
  done
  return 1
}
check "#8 blackhole: the session is declared dead within $DEAD_MS ms" left_connected
DEAD=$(( $(now_ms) - t ))
ERR=$(chan last_error)
echo "# row 8: declared dead ${DEAD} ms after the blackhole began ($ERR)"
check "#8 the cause is the keepalive (or the TCP user timeout)" ok_if \
  '[[ "$ERR" == *keepalive* || "$ERR" == *timeout* || "$ERR" == *ETIMEDOUT* ]]'
sleep 3
check "#8 still retrying during the blackhole" ok_if \
  '[ "$(chan state)" = backoff ] || [ "$(chan state)" = connecting ]'
ipt_port -D "$PORT"
t=$(now_ms)
# the attempt in flight waits for its SYN's retransmission (1, 3, 7 s) or its connect timeout
check "#8 connected again within 70 s of the blackhole lifting" wait_state connected 70000
echo "# row 8: connected $(( $(now_ms) - t )) ms after the blackhole lifted"
sleep 1
FD1=$(fdcount)
check "#8 fd count back to baseline +-2 ($FD0 -> $FD1)" ok_if \
  '[ "$FD1" -le $(( FD0 + 2 )) ] && [ "$FD1" -ge $(( FD0 - 2 )) ]'

# ---- #9: SYN blackhole at connect ----
iptables -w -I INPUT -i lo -p tcp --dport "$PORT" --syn -j DROP
a0=$(attempts)
fault '{"type":"close","phone":"+15550001"}'
state_watch 26000 # the quick retry, one connect timeout (10 s), backoff, a second one
iptables -w -D INPUT -i lo -p tcp --dport "$PORT" --syn -j DROP
a1=$(attempts)
ERR=$(chan last_error)
STINTS=$(awk '$1=="connecting"{printf "%s%d", s, $2; s=","}' "$T/watch")
LONGEST=$(awk '$1=="connecting" && $2>m{m=$2} END{print m+0}' "$T/watch")
echo "# row 9: connecting stints ${STINTS} ms; $((a1 - a0)) failed attempts in 26 s; last_error $ERR"
check "#9 each attempt ends with a connect timeout" ok_if '[[ "$ERR" == "connect: timeout"* ]]'
check "#9 at least one whole connect timeout within 10-20 s" ok_if \
  "awk '\$1==\"connecting\" && \$2>=9500 && \$2<=20000{f=1} END{exit !f}' \"$T/watch\""
check "#9 never connecting for more than 30 s (longest ${LONGEST} ms)" [ "$LONGEST" -le 30000 ]
check "#9 then backoff and a new attempt (attempts $a0 -> $a1)" [ "$((a1 - a0))" -ge 1 ]
t=$(now_ms)
check "#9 connected again once SYNs pass" wait_state connected 30000
echo "# row 9: connected $(( $(now_ms) - t )) ms after the SYN drop was lifted"
finish
