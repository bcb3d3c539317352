#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The seed failure (fault-matrix #1-#4, #13): connected, the connection drops, DNS answers
# NXDOMAIN, then SERVFAIL, then nothing at all, then comes back -- on the real daemon against
# wagate-fakewa and wagate-testdns, with time compressed through the config (backoff base
# 200 ms, cap 1 s; notify.outage_after_s 2), so a long outage is many attempts in seconds:
#  - the channel never gives up: it keeps attempting all through the outage;
#  - sends during the outage are accepted (202) and queued; alice's messages sent during the
#    outage wait at the server; after recovery every one arrives exactly once, in both ways;
#  - status is honest: backoff with the DNS error as last_error, down_since set, attempts
#    counting the failures, queued counting our waiting messages; then connected with
#    reconnects = 1, down_since null, queued 0;
#  - exactly one channel.down and one channel.restored event for the whole outage;
#  - login during the outage answers at once that the account is linked (no QR);
#  - recovery after DNS returns is within cap + 2 s without any network-change event.
# Figures are printed. Runs in its own network namespace when it can (loopback only either
# way), so that no network event of the host cuts the delays short.
source "$(dirname "$0")/fault-lib.sh"
fault_setup
alice_has() {
  fw GET /admin/contacts/alice/inbox | jq --arg t "$1" '[.messages[] | select(.text==$t)] | length'
}
inbox_count() { # messages from alice with this prefix in our inbox
  api GET '/api/v1/messages?limit=1000'
  jq --arg p "$1" '[.messages[] | select(.text | startswith($p))] | length' <<<"$BODY"
}

check "a paired, connected daemon" fault_gateway '"backoff":{"base_ms":200,"cap_ms":1000}' \
  '"notify":{"outage_after_s":2}'

# ---- the outage ----
dns nxdomain
fw POST /admin/fault '{"type":"close","phone":"+15550001"}' >/dev/null
START=$(now_ms)
sleep 1.5
check "in backoff during the outage" ok_if '[ "$(chan state)" = backoff ] || [ "$(chan state)" = connecting ]'
check "last_error names the DNS failure" ok_if '[[ "$(chan last_error)" == "dns: NXDOMAIN"* ]]'
check "down_since is set" ok_if '[ "$(chan down_since)" != null ]'
for i in 1 2 3 4 5; do
  api POST /api/v1/messages "{\"to\":\"+15550002\",\"text\":\"out-$i\",\"idempotency_key\":\"k$i\"}"
  [ "$CODE" = 202 ] || nok "send $i during the outage: $CODE $BODY"
done
ok "5 sends during the outage accepted (202)"
check "status counts them as queued" ok_if '[ "$(chan queued)" = 5 ]'
for i in $(seq 1 20); do
  fw POST /admin/contacts/alice/send "{\"to\":\"+15550001\",\"text\":\"in-$i\"}" >/dev/null
done
t=$(now_ms)
api POST /api/v1/channels/whatsapp/default/login
LOGIN_MS=$(( $(now_ms) - t ))
check "login during the outage: at once (${LOGIN_MS} ms), linked and reconnecting, no QR" ok_if \
  '[ "$LOGIN_MS" -lt 500 ] && [[ "$(jq -r .action <<<"$BODY")" == "linked; reconnecting"* ]] &&
   [ -z "$(jq -r ".qr // empty" <<<"$BODY")" ]'
sleep 2
dns servfail
sleep 2
dns drop
sleep 1
a1=$(chan attempts)
sleep 7 # an attempt now waits for the DNS timeout before it fails
a2=$(chan attempts)
check "still attempting late in the outage ($a1 -> $a2 failed attempts)" [ "$a2" -gt "$a1" ]
check "still not given up" ok_if '[ "$(chan state)" = backoff ] || [ "$(chan state)" = connecting ]'
OUTAGE_MS=$(( $(now_ms) - START ))

# ---- DNS returns ----
dns a:127.0.0.1
t=$(now_ms)
check "connected again within cap + 2 s + the DNS timeout of an attempt in flight" \
  wait_state connected 8000
REC=$(( $(now_ms) - t ))
echo "# outage ${OUTAGE_MS} ms, $(chan attempts) failed attempts; connected ${REC} ms after DNS returned"
check "reconnects = 1, down_since null" ok_if '[ "$(chan reconnects)" = 1 ] && [ "$(chan down_since)" = null ]'
ok_all_out() { for i in 1 2 3 4 5; do [ "$(alice_has "out-$i")" = 1 ] || return 1; done; }
wait_out() { for _ in $(seq 1 200); do ok_all_out && return 0; sleep 0.05; done; return 1; }
check "the 5 queued messages reached alice exactly once each" wait_out
wait_in() { for _ in $(seq 1 200); do [ "$(inbox_count in-)" = 20 ] && return 0; sleep 0.05; done; return 1; }
check "alice's 20 messages arrived exactly once each" wait_in
check "queued is 0 again" ok_if '[ "$(chan queued)" = 0 ]'
EV=$(events)
nd=$(grep -cE '"type": ?"channel.down"' <<<"$EV")
nr=$(grep -cE '"type": ?"channel.restored"' <<<"$EV")
check "exactly one channel.down ($nd) and one channel.restored ($nr)" ok_if '[ "$nd" = 1 ] && [ "$nr" = 1 ]'
check "the log says when a queued message is finally sent" \
  grep -q 'sent (the server acknowledged it)' "$T/g/err.log" "$T/g/out.log"
api GET /metrics
check "metrics: one outage, failed attempts by cause dns" ok_if \
  'grep -q "wagate_channel_outages_total{channel=\"whatsapp\",account=\"default\"} 1" <<<"$BODY" &&
   grep -q "wagate_channel_failed_attempts_total{.*cause=\"dns\"}" <<<"$BODY"'
finish
