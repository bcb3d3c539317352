#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault-matrix #12 (flapping network), compressed: for 60 s the link is up 3 s, then down 3 s
# (DNS NXDOMAIN and the connection dropped), over and over. Backoff base 1 s, cap 3 s.
#  - the daemon's file descriptors end where they started (no leak per reconnect);
#  - its RSS grows by less than 1 MiB (checked only without ASan, whose quarantine grows by
#    design);
#  - failed attempts stay within the backoff: about one per 1.5 s of outage (full jitter up to
#    the 3 s cap) plus the one quick retry after each drop -- never a tight loop;
#  - messages sent during the flapping reach alice exactly once; it ends connected.
# WAGATE_FAULT_LONG=1: the matrix's full form, 10 s up / 10 s down for 10 minutes with the
# default backoff (base 1 s, cap 60 s) -- not run in CI.
source "$(dirname "$0")/fault-lib.sh"
fault_setup
if [ -n "${WAGATE_FAULT_LONG:-}" ]; then
  CYCLES=30 PHASE_S=10 BACKOFF='"backoff":{"base_ms":1000,"cap_ms":60000}'
else
  CYCLES=10 PHASE_S=3 BACKOFF='"backoff":{"base_ms":1000,"cap_ms":3000}'
fi
check "a paired, connected daemon" fault_gateway "$BACKOFF"
fds() { ls "/proc/$GW_PID/fd" | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$GW_PID/status"; }
sleep 1
FD0=$(fds)
RSS0=$(rss)
A0=$(attempts)
DOWN_S=0
for i in $(seq 1 "$CYCLES"); do
  dns nxdomain
  fault '{"type":"close","phone":"+15550001"}'
  api POST /api/v1/messages "{\"to\":\"+15550002\",\"text\":\"flap-$i\",\"idempotency_key\":\"f$i\"}"
  [ "$CODE" = 202 ] || nok "send $i while down: $CODE"
  sleep "$PHASE_S"
  DOWN_S=$(( DOWN_S + PHASE_S ))
  dns a:127.0.0.1
  sleep "$PHASE_S"
done
check "connected at the end" wait_state connected 5000
A=$(( $(attempts) - A0 ))
check "failed attempts bounded: $A in ${DOWN_S} s of outage (<= 1/s + one quick retry per drop)" \
  [ "$A" -le $(( DOWN_S + CYCLES )) ]
wait_all() {
  for _ in $(seq 1 200); do
    local ok=1
    for i in $(seq 1 "$CYCLES"); do [ "$(alice_has "flap-$i")" = 1 ] || ok=0; done
    [ $ok = 1 ] && return 0
    sleep 0.05
  done
  return 1
}
check "the $CYCLES messages sent while down reached alice exactly once each" wait_all
sleep 1
FD1=$(fds)
RSS1=$(rss)
echo "# row 12: $CYCLES x (${PHASE_S} s down, ${PHASE_S} s up): fds $FD0 -> $FD1, RSS $RSS0 -> $RSS1 KiB, $A failed attempts, reconnects $(chan reconnects)"
check "no file descriptor leak ($FD0 -> $FD1)" [ "$FD1" -le "$FD0" ]
if [ -n "${ASAN_OPTIONS:-}" ]; then
  echo "# RSS not compared under ASan (its quarantine grows by design)"
else
  check "RSS grew by less than 1 MiB ($RSS0 -> $RSS1 KiB)" [ $(( RSS1 - RSS0 )) -lt 1024 ]
fi
finish
