#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The exec hook is exactly-once in effect across crashes, and an agent that is down for a
# while gets everything once it is back (fault-matrix row 36, compressed: hooks.exec retry
# delays of 0.2-1 s instead of minutes). The REAL daemon against wagate-fakewa:
#  - SIGKILL while the hook runs: after the restart the message is handed over again with
#    "attempt":2, and alice gets ONE reply;
#  - the agent down (the hook exits 1) for 6 s while alice sends 5 messages, with a SIGKILL +
#    restart of the gateway in the middle: the messages were acknowledged to the server
#    (delivery receipts at alice) while the agent was down, each is in the inbox once, and
#    after the agent is back each gets exactly one reply; no hook.failed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
fakewa_up

cat >"$T/bot.sh" <<BOT
#!/bin/sh
IFS= read -r msg
id=\$(printf '%s\n' "\$msg" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
att=\$(printf '%s\n' "\$msg" | sed -n 's/.*"attempt":\([0-9]*\).*/\1/p')
text=\$(printf '%s\n' "\$msg" | sed -n 's/.*"text":"\([^"]*\)"}\$/\1/p')
echo "\$id \$att \$text" >>"$T/bot.calls"
[ -e "$T/down" ] && { echo "agent down" >&2; exit 1; }
case "\$text" in slow*) sleep 2 ;; esac
echo "re: \$text"
BOT
mkdir -p "$T/g"
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s",
 "accounts":{"default":{"dm_policy":"open","group_policy":"open","require_mention":false}}},
 "hooks":{"exec":{"command":"sh %s","timeout_ms":5000,"retry_base_ms":200,"retry_max_ms":1000,"max_attempts":1000}}}\n' \
  "$LISTEN" "$ROOT" "$T/bot.sh" >"$T/g/wagate.json"

alice_has() {
  fw GET /admin/contacts/alice/inbox | jq --arg t "$1" '[.messages[] | select(.text==$t)] | length'
}
wait_alice() { # wait_alice TEXT SECONDS
  local i
  for i in $(seq 1 $(($2 * 20))); do
    [ "$(alice_has "$1")" -ge 1 ] && return 0
    sleep 0.05
  done
  return 1
}
alice_says() { fw POST /admin/contacts/alice/send "{\"to\":\"+15550001\",\"text\":\"$1\"}" | jq -r .id; }
runs() { # runs TEXT: how many times the hook ran for that text
  if [ -f "$T/bot.calls" ]; then grep -c " $1\$" "$T/bot.calls"; else echo 0; fi
}
in_inbox() { # how often the gateway's inbox holds that message id
  api GET '/api/v1/messages?account=default&after=0&limit=500'
  jq --arg id "$1" '[.messages[] | select(.id==$id)] | length' <<<"$BODY"
}
kill9() {
  kill -9 "$GW_PID"
  wait "$GW_PID" 2>/dev/null
}

check "gateway starts" start_gateway g
check "pairing" wait_state pairing 5000
QR=$(wait_qr)
check "the fake phone scans the QR" grep -q '"jid"' <<<"$(fw POST /admin/scan "{\"qr\":\"$QR\",\"phone\":\"+15550001\"}")"
check "connected" wait_state connected 10000

# ---- SIGKILL while the hook runs ----
SID=$(alice_says slow1)
for _ in $(seq 1 200); do [ "$(runs slow1)" -ge 1 ] && break; sleep 0.05; done
check "the hook runs for slow1" [ "$(runs slow1)" = 1 ]
kill9
check "gateway starts again after SIGKILL" start_gateway g
check "connected again" wait_state connected 10000
check "alice gets the reply to slow1" wait_alice "re: slow1" 15
sleep 1
check "the hook ran again after the crash, told attempt 2" grep -q "^$SID 2 slow1\$" "$T/bot.calls"
check "exactly one reply to slow1" [ "$(alice_has "re: slow1")" = 1 ]
check "slow1 is in the inbox once" [ "$(in_inbox "$SID")" = 1 ]

# ---- the agent is down for 6 s (row 36), with a crash in the middle ----
touch "$T/down"
T0=$(now_ms)
IDS=()
for i in 1 2 3; do
  IDS+=("$(alice_says "down$i")")
  sleep 0.3
done
for _ in $(seq 1 100); do [ "$(runs down3)" -ge 2 ] && break; sleep 0.05; done
check "while the agent is down the runs fail and are retried" ok_if '[ "$(runs down1)" -ge 2 ]'
acked_all() {
  local got id
  got=$(fw GET /admin/contacts/alice/inbox |
    jq '[.receipts[] | select(.from | test(":1@")) | .id] | unique')
  for id in "${IDS[@]}"; do
    jq -e --arg id "$id" 'index($id) != null' <<<"$got" >/dev/null || return 1
  done
}
check "our device's receipts reached alice (acked after the local commit, agent down)" acked_all
kill9
check "gateway restarts during the outage" start_gateway g
check "connected" wait_state connected 10000
for i in 4 5; do
  IDS+=("$(alice_says "down$i")")
  sleep 0.3
done
while [ $(($(now_ms) - T0)) -lt 6000 ]; do sleep 0.2; done
rm -f "$T/down"
T1=$(now_ms)
all=1
for i in 1 2 3 4 5; do wait_alice "re: down$i" 20 || all=0; done
echo "# all 5 replied $(($(now_ms) - T1)) ms after the agent came back"
check "after the agent is back every message gets its reply" [ "$all" = 1 ]
sleep 1.5
one_reply_each() {
  local i
  for i in 1 2 3 4 5; do [ "$(alice_has "re: down$i")" = 1 ] || return 1; done
}
once_in_inbox() {
  local id
  for id in "${IDS[@]}"; do [ "$(in_inbox "$id")" = 1 ] || return 1; done
}
check "exactly one reply each" one_reply_each
check "each message is in the inbox once" once_in_inbox
echo "# hook runs per message: $(for i in 1 2 3 4 5; do printf 'down%s=%s ' $i "$(runs down$i)"; done)"
ev=$(events)
check "no hook.failed" ok_if '[ -z "$(jq -r "select(.type==\"hook.failed\") | .data.id" <<<"$ev")" ]'
check "no decrypt failures" ok_if '! grep -qi "bad mac\|undecryptable" "$T/g/err.log"'

if grep -q 'ERROR: AddressSanitizer\|runtime error\|LeakSanitizer' "$T/g/err.log"; then
  nok "sanitizer reports in the gateway log"
  grep -A20 'Sanitizer\|runtime error' "$T/g/err.log" | head -40 | sed 's/^/# /'
fi
kill -TERM "$GW_PID"
wait "$GW_PID"
kill -TERM "$FW_PID"
wait "$FW_PID"
finish
