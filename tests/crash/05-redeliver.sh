#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The server redelivers messages the gateway had already processed (fault-matrix row 33: the
# server lost their acks), on the REAL daemon against wagate-fakewa: alice and bob send 1:1
# and group messages, the exec hook answers each; the gateway stops; fakewa queues the last
# 10 messages it had delivered AGAIN (POST /admin/redeliver) and sends them at the next login;
# then once more while the gateway is online. Pass: every message is in the inbox once, the
# hook ran once for each and each sender got one reply (verify.py's counts), fakewa's queue
# for our device drains (each redelivery was acked), and no message.received event repeats.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/channel-lib.sh"
source "$(dirname "$0")/crash-lib.sh"

check "set-up: the gateway paired" crash_setup
for k in 1 2 3 4; do peer_send alice dm "r$k"; done
for k in 1 2 3; do peer_send bob dm "r$k"; done
for k in 1 2 3; do peer_send alice grp "r$k"; done
replies_all() { [ "$(wc -l <"$T/calls" 2>/dev/null || echo 0)" -ge 10 ]; }
wait_for() { local end=$(( $(now_ms) + $2 )); while [ "$(now_ms)" -lt "$end" ]; do "$1" && return 0; sleep 0.1; done; return 1; }
check "10 messages: the hook ran for each" wait_for replies_all 20000
check "the counts before: nothing lost, nothing twice" crash_verify quiet
queued() { fw GET '/admin/devices?phone=%2B15550001' | jq '[.[] | select(.simulated == false) | .queued] | add'; }
drained() { [ "$(queued)" = 0 ]; }
check "fakewa's queue for our device is empty (all acked)" wait_for drained 10000

kill -TERM "$GW_PID"; wait "$GW_PID"; gw_save_log; : >"$T/g/err.log"
q=$(fw POST /admin/redeliver '{"phone":"+15550001","count":10}' | jq -r .queued)
echo "# fakewa queued $q already-acked messages again"
check "fakewa queued the 10 again" ok_if '[ "$q" = 10 ]'
check "the gateway starts again" gw_start
check "connected" wait_state connected 15000
check "the redelivered messages were acked (fakewa's queue drains)" wait_for drained 15000
q=$(fw POST /admin/redeliver '{"phone":"+15550001","count":10}' | jq -r .queued)
check "a redelivery while online: queued again" ok_if '[ "$q" = 10 ]'
check "and acked" wait_for drained 15000
sleep 1
check "no hook run and no reply repeated; inbox once each; no Bad MAC, no QR" crash_converge 10
ev=$(events)
dups=$(jq -r 'select(.type=="message.received") | .data.id' <<<"$ev" | sort | uniq -d | wc -l)
check "no message.received event for a redelivered message ($dups repeated)" ok_if '[ "$dups" = 0 ]'
gw_save_log
if grep -q 'ERROR: AddressSanitizer\|runtime error' "$T/all.log"; then nok "sanitizer reports"; fi
finish
