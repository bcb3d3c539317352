#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault rows "connected link drops" (#6) and "the network comes back" (#1-#4's recovery), on
# the real daemon against wagate-fakewa, inside a network namespace of the test's own
# (`unshare -rn`: loopback only; nothing of the host's network is touched):
#  - a connected session that drops is retried within 1 s (not after the backoff it had);
#  - while the name points to a dead address (wagate-testdns, scripted: every connect is
#    refused, as when a route is missing), the backoff grows (base 8 s in this test); once the
#    address is right again, nothing tells the daemon, until a network-change event (an
#    address added) cuts the pending delay short: connected within 2 s, however long the
#    delay still was; a link going down does not. (A DNS failure is not used here: the
#    resolver probe, 11-dnsprobe, notices the name resolving again by itself);
#  - SIGUSR1 does the same; a burst of SIGUSR1 makes at most one attempt per 2 s;
#  - an attempt whose DNS lookup waits on a resolver gone silent is begun again by a network
#    change (connected within 2 s of it, not after the lookup's 6 s timeout and a backoff);
#  - login during the outage answers at once that the account is linked and reconnecting.
# Every wait is bounded; figures are printed.
# network-change events need a namespace of our own: without one, skip
if [ -z "${WAGATE_NETNS:-}" ] && ! unshare -rn true 2>/dev/null; then
  echo "SKIP: the kernel refuses a network namespace here (unshare -rn)"
  exit 77
fi
source "$(dirname "$0")/fault-lib.sh"
fault_setup
outage() { dns a:127.0.0.99; fw POST /admin/fault '{"type":"close","phone":"+15550001"}' >/dev/null; }
# wait_delay MS LIMIT: until the channel waits in backoff with at least MS left (the refusal
# makes each attempt fail; every failure doubles the window), within LIMIT ms.
wait_delay() {
  local end=$(( $(now_ms) + $2 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    api GET /api/v1/channels/whatsapp/default
    if [ "$(jq -r .state <<<"$BODY")" = backoff ] &&
       [ "$(jq -r '.next_retry_ms // 0' <<<"$BODY")" -ge "$1" ]; then
      LEFT=$(jq -r .next_retry_ms <<<"$BODY")
      return 0
    fi
    sleep 0.05
  done
  return 1
}

check "a paired, connected daemon" fault_gateway '"backoff":{"base_ms":8000,"cap_ms":30000}'

# ---- #6: a connected link drops: retried within 1 s ----
fw POST /admin/fault '{"type":"close","phone":"+15550001"}' >/dev/null
check "a dropped connected link is back within 2 s" connected_within 2000
echo "# row 6: reconnected ${REC_MS} ms after the drop (quick retry < 1 s, then connect)"

# ---- an outage: connects refused; the address is fixed; then a network-change event ----
outage
check "the outage: backoff with more than 3 s left" wait_delay 3000 40000
check "the last error names the refused connect" ok_if '[[ "$(chan last_error)" == *ECONNREFUSED* ]]' 
api POST /api/v1/channels/whatsapp/default/login
check "login during the outage answers at once: linked, reconnecting" ok_if \
  '[ "$CODE" = 202 ] && [[ "$(jq -r .action <<<"$BODY")" == "linked; reconnecting"* ]] &&
   [ "$(jq -r ".qr // empty" <<<"$BODY")" = "" ]'
check "the outage goes on: back in backoff with more than 3 s left" wait_delay 3000 40000
dns a:127.0.0.1 # the outage is over, but nothing tells the daemon
check "still waiting after the address was fixed" wait_delay 2500 40000
ip link add wgv0 type veth peer name wgv1 && ip link set wgv0 down
sleep 0.6
check "a link going down does not cut the delay" ok_if \
  '[ "$(chan state)" = backoff ]'
left=$LEFT
ip addr add 127.0.0.9/8 dev lo
check "an address added: connected within 2 s" connected_within 2000
echo "# network change: connected ${REC_MS} ms after the event; the delay still had ${left} ms"
check "the log names the network change" grep -qE 'retrying (now|in [0-9]+ ms) \(network change' \
  "$T/g/err.log" "$T/g/out.log"

# ---- SIGUSR1, and a burst of them ----
outage
check "a second outage: backoff with more than 3 s left" wait_delay 3000 40000
started_attempts() { gwlog | grep -c 'backoff -> connecting'; }
before=$(started_attempts)
for _ in $(seq 1 30); do kill -USR1 "$GW_PID"; sleep 0.1; done # 3 s of signals, still down
n=$(( $(started_attempts) - before ))
check "30 SIGUSR1 in 3 s made 1 or 2 attempts ($n): at most one per 2 s" ok_if \
  '[ "$n" -ge 1 ] && [ "$n" -le 2 ]' 
check "after the burst: backoff with more than 3 s left" wait_delay 3000 40000
dns a:127.0.0.1
sleep 2.1 # past the early-attempt interval, so the next signal acts at once
check "still waiting after the address was fixed again" wait_delay 300 100
kill -USR1 "$GW_PID"
check "SIGUSR1: connected within 2 s" connected_within 2000
echo "# SIGUSR1: connected ${REC_MS} ms after the signal"

# ---- a lookup in flight on a resolver gone silent: a network change begins it again ----
# (the resolver waits 2 s + 4 s before it gives up; before, the event was ignored while
# connecting and the link came back only after that and another backoff delay)
sleep 2.1 # past the early-attempt interval of the SIGUSR1 above
dns drop
fw POST /admin/fault '{"type":"close","phone":"+15550001"}' >/dev/null
check "the drop is retried: connecting, the lookup unanswered" wait_state connecting 3000
sleep 2.3
check "2.3 s later still connecting (the lookup is in flight)" ok_if '[ "$(chan state)" = connecting ]'
dns a:127.0.0.1
ip addr add 127.0.0.10/8 dev lo
check "an address added during the lookup: connected within 2 s" connected_within 2000
echo "# network change during a silent lookup: connected ${REC_MS} ms after the event"
check "the log names the new attempt" grep -qE 'connecting again \(network change' \
  "$T/g/err.log" "$T/g/out.log"
finish
