#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Recovery after DNS returns (issue 10): the real daemon (build/wagate) linked to fakewa,
# its name served by wagate-testdns, in a network namespace of its own (unshare -rn, loopback
# only, so no host event helps). RUNS outages (default 20) per mode, each: the link drops,
# DNS fails for OUTAGE_S seconds (default 6; NXDOMAIN, SERVFAIL and no answer in turn),
# then answers again, and the time until `connected` is measured:
#   event     a network-change event (an address added on lo) at the moment DNS returns
#   no-event  nothing but DNS returning (the resolver probe, gw/dnsprobe, is what notices)
# The backoff is the default one (base 1 s, cap 60 s) and is not reset between runs (it
# resets after 60 s connected), so later runs wait in delays of up to the cap: the target is
# < 2 s with an event, < cap + 2 s = 62 s without. Prints every run, then median and max per
# mode. Asserts nothing; takes ~RUNS x 2 x (OUTAGE_S + 3) s (~6 min by default).
set -uo pipefail
if [ -z "${WAGATE_NETNS:-}" ] && unshare -rn true 2>/dev/null; then
  exec unshare -rn env WAGATE_NETNS=1 bash "$(readlink -f "$0")" "$@"
fi
cd "$(dirname "$(readlink -f "$0")")/.."
export WAGATE_BUILD=${WAGATE_BUILD:-$PWD/build}
export WAGATE_BIN=${WAGATE_BIN:-$WAGATE_BUILD/wagate}
RUNS=${RUNS:-20}
OUTAGE_S=${OUTAGE_S:-6}
if [ -z "${WAGATE_NETNS:-}" ]; then
  echo "recovery: needs a network namespace of its own (unshare -rn); not run"
  exit 0
fi
source tests/fault/fault-lib.sh
fault_setup
fault_gateway >/dev/null || { echo "recovery: the daemon did not connect"; exit 1; }
modes=(nxdomain servfail drop)
stats() { # stats FILE: "median M ms, max X ms"
  sort -n "$1" | awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2;
    printf "median %d ms, max %d ms (n=%d)", m, v[NR], NR}'
}
for kind in event no-event; do
  : >"$T/rec.$kind"
  for i in $(seq 1 "$RUNS"); do
    mode=${modes[$(( (i - 1) % 3 ))]}
    dns "$mode"
    fault '{"type":"close","phone":"+15550001"}'
    sleep "$OUTAGE_S"
    left=$(chan next_retry_ms)
    dns a:127.0.0.1
    t=$(now_ms)
    [ "$kind" = event ] && ip addr add "127.0.1.$i/8" dev lo
    if wait_state connected 90000 >/dev/null; then
      ms=$(( $(now_ms) - t ))
      echo "$ms" >>"$T/rec.$kind"
      printf '%-8s run %2d %-8s connected %5d ms after DNS returned (delay left then: %s ms)\n' \
        "$kind" "$i" "$mode" "$ms" "$left"
    else
      printf '%-8s run %2d %-8s NOT connected within 90 s\n' "$kind" "$i" "$mode"
    fi
    [ "$kind" = event ] && ip addr del "127.0.1.$i/8" dev lo
    sleep 2
  done
done
echo "recovery after DNS returns, with a network-change event: $(stats "$T/rec.event")"
echo "recovery after DNS returns, without one (probe only):   $(stats "$T/rec.no-event")"
