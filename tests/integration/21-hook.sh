#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The exec hook in the REAL daemon against wagate-fakewa: alice's text goes to the command as
# the message.received JSON on stdin and its stdout comes back to her as the reply
# (examples/echo-bot.sh); a failing command and one that times out are retried up to
# hooks.exec.max_attempts runs, then published once as hook.failed, and the slow one's process
# is killed; an empty output is no reply; our own phone's messages are not handed to the hook;
# the reply's idempotency key (hook:<account>:<id>) makes a second reply impossible, also
# across a restart; SIGHUP applies a new command; beyond the concurrency bound messages wait
# in the inbox (none dropped); SIGTERM with a hook running exits 0 within 1 s and kills it.
# Crashes and an agent that is down for a while: 23-hook-durable.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
SRC="${WAGATE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
fakewa_up

# The bot: records every call (its stdin) and dispatches on the text.
cat >"$T/bot.sh" <<EOF
#!/bin/sh
IFS= read -r msg
printf '%s\n' "\$msg" >>"$T/bot.calls"
case "\$msg" in
  *'"text":"fail"'*) echo "bot: boom" >&2; exit 3 ;;
  *'"text":"slow'*) echo \$\$ >"$T/slow.pid"; sleep 5; echo late; exit 0 ;;
  *'"text":"silent"'*) exit 0 ;;
esac
printf '%s\n' "\$msg" | sh "$SRC/examples/echo-bot.sh"
EOF
cat >"$T/bot2.sh" <<'EOF'
#!/bin/sh
IFS= read -r msg
sleep 0.4
printf 'v2: %s\n' "$(printf '%s\n' "$msg" | sed -n 's/.*"text":"\([^"]*\)"}$/\1/p')"
EOF
mkdir -p "$T/g"
conf() { # conf COMMAND TIMEOUT_MS [EXTRA exec keys]
  # dm_policy open: this test is about the hook itself (25-access.sh tests the policy)
  printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s",
 "accounts":{"default":{"dm_policy":"open"}}},
 "hooks":{"exec":{"command":"%s","timeout_ms":%s%s}}}\n' "$LISTEN" "$ROOT" "$1" "$2" "${3:-}" \
    >"$T/g/wagate.json"
}
conf "sh $T/bot.sh" 1000 ',"max_attempts":2,"retry_base_ms":200'

stop_gw() {
  local s rc
  s=$(now_ms)
  kill -TERM "$GW_PID"
  wait "$GW_PID"; rc=$?
  STOP_MS=$(( $(now_ms) - s ))
  [ "$rc" = 0 ] && [ "$STOP_MS" -le 1000 ]
}
alice_has() { # number of messages alice received with exactly that text
  fw GET /admin/contacts/alice/inbox | jq --arg t "$1" '[.messages[] | select(.text==$t)] | length'
}
wait_alice() {
  for _ in $(seq 1 200); do [ "$(alice_has "$1")" -ge 1 ] && return 0; sleep 0.05; done
  return 1
}
alice_says() { fw POST /admin/contacts/alice/send "{\"to\":\"+15550001\",\"text\":\"$1\"}" | jq -r .id; }
calls() { # how many times the bot ran for that text
  [ -f "$T/bot.calls" ] || { echo 0; return; }
  grep -c "\"text\":\"$1\"" "$T/bot.calls" || true
}
# gone PID: the process is dead (a zombie counts: a killed grandchild of the daemon is reparented
# to PID 1, which may not reap it in a container)
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*zombie' "/proc/$1/status" 2>/dev/null; }
wait_log() { # wait_log PATTERN MS
  local end=$(( $(now_ms) + $2 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    grep -q -- "$1" "$T/g/err.log" && return 0
    sleep 0.05
  done
  return 1
}

# ---- link ----
check "gateway starts with an exec hook configured" start_gateway g
check "pairing" wait_state pairing 5000
QR=$(wait_qr)
check "the fake phone scans the QR" grep -q '"jid"' <<<"$(fw POST /admin/scan "{\"qr\":\"$QR\",\"phone\":\"+15550001\"}")"
check "connected" wait_state connected 10000

# ---- echo ----
ID1=$(alice_says hello)
check "alice gets the bot's reply (echo: hello)" wait_alice "echo: hello"
check "the reply was logged with the [hook] [default] tags" \
  grep -q "\[hook\] \[default\] message $ID1 from 15550002@s.whatsapp.net: reply .* queued" "$T/g/err.log"
ev=$(events)
recv=$(jq -c "select(.type==\"message.received\" and .data.id==\"$ID1\") | .data" <<<"$ev")
stdin=$(grep -F "\"id\":\"$ID1\"" "$T/bot.calls" | head -1)
check "the hook's stdin is the message.received event data" \
  ok_if '[ -n "$recv" ] && [ "$(jq -S -c "del(.attempt)" <<<"$stdin")" = "$(jq -S -c . <<<"$recv")" ]'
check "plus the run's number: attempt 1" ok_if '[ "$(jq -r .attempt <<<"$stdin")" = 1 ]'
check "hook.replied event names the message and the reply" \
  ok_if '[ -n "$(jq -r "select(.type==\"hook.replied\" and .data.id==\"$ID1\") | .data.reply_id" <<<"$ev")" ]'
REPLY_ID=$(jq -r "select(.type==\"hook.replied\" and .data.id==\"$ID1\") | .data.reply_id" <<<"$ev" | head -1)

# ---- the idempotency key ----
api POST /api/v1/messages "{\"to\":\"+15550002\",\"text\":\"echo: hello\",\"idempotency_key\":\"hook:default:$ID1\"}"
check "the reply's key is hook:default:<id>: the same reply again is a duplicate" ok_if \
  '[ "$CODE" = 200 ] && [ "$(jq -r .duplicate <<<"$BODY")" = true ] && [ "$(jq -r .id <<<"$BODY")" = "$REPLY_ID" ]'
api POST /api/v1/messages "{\"to\":\"+15550002\",\"text\":\"a second reply\",\"idempotency_key\":\"hook:default:$ID1\"}"
check "... and another text under that key is refused (409)" ok_if '[ "$CODE" = 409 ]'

# ---- failures: retried (max_attempts 2), then one event ----
alice_says fail >/dev/null
check "a failing command: warn log with its exit status, a retry planned" \
  wait_log '\[hook\] \[default\] .*hook failed: exit (exit status 3); run 1 of 2, retry in 200 ms' 5000
check "after the second run it gives up" \
  wait_log '\[hook\] \[default\] .*hook failed: exit (exit status 3); gave up after 2 runs' 5000
alice_says slow >/dev/null
check "a slow command times out (1 s), twice" \
  wait_log '\[hook\] \[default\] .*hook failed: timeout .*gave up after 2 runs' 8000
SLOW=$(cat "$T/slow.pid" 2>/dev/null)
check "the slow command's process was killed" ok_if '[ -n "$SLOW" ] && gone "$SLOW"'
alice_says silent >/dev/null
check "an empty output is no reply" wait_log 'from 15550002@s.whatsapp.net: no reply' 5000
sleep 1.5
check "failed commands ran twice each, the silent one once" \
  ok_if '[ "$(calls fail)" = 2 ] && [ "$(calls slow)" = 2 ] && [ "$(calls silent)" = 1 ]'
check "nothing was sent for them" \
  ok_if '[ "$(alice_has late)" = 0 ] && [ "$(alice_has "echo: fail")" = 0 ]'
ev=$(events)
check "one hook.failed event each: exit and timeout" ok_if \
  '[ "$(jq -r "select(.type==\"hook.failed\") | .data.error" <<<"$ev" | sort | tr "\n" " ")" = "exit timeout " ]'

# ---- our own phone's messages are not for the bot ----
fw POST /admin/contacts/%2B15550001/send '{"to":"alice","text":"from my phone"}' >/dev/null
got=""
for _ in $(seq 1 100); do
  api GET '/api/v1/messages?account=default&after=0&limit=50'
  got=$(jq -r '.messages[] | select(.text=="from my phone") | .id' <<<"$BODY")
  [ -n "$got" ] && break
  sleep 0.05
done
check "the phone's own message reaches the gateway's inbox" [ -n "$got" ]
sleep 0.5
check "but is not handed to the hook" [ "$(calls "from my phone")" = 0 ]

# ---- restart: no second reply ----
check "SIGTERM exits 0 within 1 s" stop_gw
check "gateway starts again" start_gateway g
check "connected again" wait_state connected 10000
sleep 1
check "still exactly one reply to hello, and the bot ran once for it" \
  ok_if '[ "$(alice_has "echo: hello")" = 1 ] && [ "$(calls hello)" = 1 ]'

# ---- SIGHUP: a new command and limits ----
conf "sh $T/bot2.sh" 1000 ',"max_running":1,"max_queued":0'
kill -HUP "$GW_PID"
check "SIGHUP reloads" wait_log 'configuration reloaded' 3000
alice_says one >/dev/null
alice_says two >/dev/null
alice_says three >/dev/null
check "the new command answers" wait_alice "v2: one"
check "beyond max_running the messages wait in the inbox and are answered in turn" \
  ok_if 'wait_alice "v2: two" && wait_alice "v2: three"'
check "no hook.failed for them" ok_if '! grep -q "hook failed: queue_full" "$T/g/err.log"'

# ---- SIGTERM while a hook runs ----
conf "sh $T/bot.sh" 20000
kill -HUP "$GW_PID"
sleep 0.3
rm -f "$T/slow.pid"
alice_says slow2 >/dev/null
for _ in $(seq 1 100); do [ -s "$T/slow.pid" ] && break; sleep 0.05; done
SLOW=$(cat "$T/slow.pid" 2>/dev/null)
check "a slow hook is running" ok_if '[ -n "$SLOW" ] && kill -0 "$SLOW"'
check "SIGTERM with a hook running exits 0 within 1 s" stop_gw
echo "# stop took ${STOP_MS} ms"
sleep 0.2
check "the running hook was killed" gone "$SLOW"

if grep -q 'ERROR: AddressSanitizer\|runtime error\|LeakSanitizer' "$T/g/err.log"; then
  nok "sanitizer reports in the gateway log"
  grep -A20 'Sanitizer\|runtime error' "$T/g/err.log" | head -40 | sed 's/^/# /'
fi
kill -TERM "$FW_PID"; wait "$FW_PID"
finish
