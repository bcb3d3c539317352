#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The resolver-only probe (gw/dnsprobe.h, issue 10 item 2): while the channel waits in a long
# backoff after a DNS failure, the daemon asks the resolver alone for the endpoint's name
# every 2 s (no connection), and once it resolves again the delay is cut short -- without
# any network-change event (inside the test's namespace nothing changes). Three outages:
# NXDOMAIN, SERVFAIL, and a DNS server that does not answer at all. Each time:
#  - the channel waits in backoff with >= 10 s still to go (base 30 s: an attempt would come
#    late);
#  - the probe queries at most every 2 s (+ its 1 s timeout) and makes no attempt;
#  - DNS returns: connected within 4 s (probe interval 2 s + the attempt), far under what was
#    left of the delay.
# Figures are printed.
source "$(dirname "$0")/fault-lib.sh"
fault_setup
check "a paired, connected daemon" fault_gateway '"backoff":{"base_ms":30000,"cap_ms":60000}'
n=0
for mode in nxdomain servfail drop; do
  n=$((n + 1))
  dns "$mode"
  fault '{"type":"close","phone":"+15550001"}'
  check "$mode: in backoff with >= 10 s to go" wait_delay 10000 120000
  a0=$(attempts) q0=$(dns_queries) t0=$(now_ms)
  sleep 4
  a1=$(attempts) q1=$(dns_queries) t1=$(now_ms)
  echo "# dnsprobe $mode: $((q1 - q0)) A queries in $(( t1 - t0 )) ms of backoff, attempts $a0 -> $a1"
  check "$mode: the probe queries (>= 1) at most every 2 s, without an attempt" ok_if \
    '[ $((q1 - q0)) -ge 1 ] && [ $((q1 - q0)) -le $(( (t1 - t0) / 2000 + 1 )) ] && [ "$a1" = "$a0" ]'
  api GET /api/v1/channels/whatsapp/default
  LEFT=$(jq -r '.next_retry_ms // 0' <<<"$BODY")
  dns a:127.0.0.1
  check "$mode: connected within 4 s of DNS returning" connected_within 4000
  echo "# dnsprobe $mode: connected ${REC_MS} ms after DNS returned; the backoff still had ${LEFT} ms"
  check "$mode: the probe cut it short (log line $n)" ok_if \
    '[ "$(gwlog | grep -c "retrying now (dns: the name resolves again)")" -ge "$n" ]'
  sleep 1
done
finish
