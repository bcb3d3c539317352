#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Session repair per message and per peer, on one real daemon against fakewa (fault-matrix):
#   #28 alice's session row overwritten (while running) with a copy 10 messages old: her next
#       message is recovered through the retry receipts (count 1, then count 2 with keys: her
#       phone rebuilds the session) within 30 s; bob's chat is untouched; no reconnect
#   #34 a retry receipt for a message we sent before a restart: answered from the persistent
#       retry buffer (on the current session without keys; on a new session with keys)
#       with a resend alice decrypts within 5 s
#   never lost silently: a message whose original and every resend are corrupted becomes an
#       `undecryptable` inbox row (API, event stream, metric, warn log), and the chat recovers
#   our phone re-sends a message the peer does not (placeholder resend request, §7.8)
#   #32 30 messages sent while the daemon was down: all stored once, in order
source "$(dirname "$0")/fault-lib.sh"
source "$(dirname "$0")/repair-lib.sh"
command -v sqlite3 >/dev/null || { echo "# sqlite3 missing: skipped"; exit 77; }
fault_setup
fw POST /admin/contacts '{"name":"bob","phone":"+15550003"}' >/dev/null
check "a paired, connected daemon" fault_gateway \
  '"repair":{"retry_gap_ms":200,"retry_wait_ms":3000,"phone_delay_ms":500}'
DB=$GW_STATE/accounts/default/wa.db
check "a conversation with alice" exchange alice 1
check "a conversation with bob" exchange bob 1

# ---- #28 ----
ALID=$(sqlite3 "$DB" "SELECT lid FROM lid_map WHERE pn='15550002'")
OLD=$(sqlite3 "$DB" "SELECT hex(record) FROM sessions WHERE name='${ALID}_1' AND device=0")
check "#28 alice's session row read" [ -n "$OLD" ]
check "#28 10 more messages with alice (5 round trips)" exchange alice 5
rec0=$(chan reconnects)
r0=$(fw_stat sim_sessions_rebuilt)
sqlite3 -cmd ".timeout 5000" "$DB" \
  "UPDATE sessions SET record = X'$OLD' WHERE name = '${ALID}_1' AND device = 0"
check "#28 the row now holds the old copy" \
  [ "$(sqlite3 "$DB" "SELECT hex(record) FROM sessions WHERE name='${ALID}_1' AND device=0")" = "$OLD" ]
t0=$(now_ms)
says alice "after the rollback" >/dev/null
says bob "bob is untouched" >/dev/null
check "#28 bob's chat is unaffected (his message within 10 s)" wait_inbox "bob is untouched" 10000
check "#28 alice's message is recovered within 30 s" wait_inbox "after the rollback" 30000
echo "# row 28: alice's message stored $(( $(now_ms) - t0 )) ms after she sent it (at most this)"
check "#28 ... once" [ "$(inbox_count "after the rollback")" = 1 ]
check "#28 her phone rebuilt the session from our keys" ok_if '[ "$(fw_stat sim_sessions_rebuilt)" -gt "$r0" ]'
check "#28 retry receipts counted, nothing given up" ok_if \
  '[ "$(metric wagate_channel_retry_receipts_total)" -ge 1 ] && [ "$(metric wagate_channel_undecryptable_total)" = 0 ]'
check "#28 no reconnect, still connected" ok_if \
  '[ "$(chan reconnects)" = "$rec0" ] && [ "$(chan state)" = connected ]'
check "#28 the repair row is gone" [ "$(sqlite3 "$DB" "SELECT count(*) FROM undecryptable")" = 0 ]
check "#28 alice and we talk on afterwards" exchange alice 2

# ---- a message that cannot be recovered ----
DEV=$(chan jid | sed -n 's/^15550001:\([0-9]*\)@.*/\1/p')
u0=$(metric wagate_channel_undecryptable_total)
fw POST /admin/contacts/%2B15550001/config '{"answer_placeholders":false}' >/dev/null
fault "{\"type\":\"corrupt\",\"phone\":\"+15550001\",\"device\":$DEV,\"count\":6}"
t0=$(now_ms)
did=$(says alice "doomed")
gone() {
  api GET '/api/v1/messages?account=default&after=0&limit=1000'
  [ "$(jq --arg i "$did" '[.messages[] | select(.id==$i and .type=="undecryptable")] | length' <<<"$BODY")" = 1 ]
}
waitfor() { for _ in $(seq 1 400); do "$@" && return 0; sleep 0.05; done; return 1; }
check "an unrecoverable message becomes an undecryptable inbox row" waitfor gone
echo "# undecryptable row $(( $(now_ms) - t0 )) ms after the message (original + 5 corrupted resends)"
row=$(jq -c --arg i "$did" '.messages[] | select(.id==$i)' <<<"$BODY")
check "... with sender, chat, time and reason" ok_if \
  '[ "$(jq -r .sender <<<"$row")" = 15550002@s.whatsapp.net ] && [ "$(jq -r .chat <<<"$row")" = 15550002@s.whatsapp.net ] &&
   [ "$(jq -r .ts <<<"$row")" -gt 0 ] && [ -n "$(jq -r ".reason // empty" <<<"$row")" ]'
ev=$(events)
nev=$(jq -s --arg i "$did" '[.[] | select(.type=="message.received" and .data.id==$i and .data.type=="undecryptable")] | length' <<<"$ev")
check "... on the event stream as such (message.received, type undecryptable)" [ "$nev" = 1 ]
check "... counted once in /metrics" [ "$(metric wagate_channel_undecryptable_total)" = $((u0 + 1)) ]
check "... logged at warn" grep -q "WARN.*$did.*undecryptable\|$did.*gave up" "$T/g/err.log"
check "... and alice's chat recovers afterwards" exchange alice 1
fw POST /admin/contacts/%2B15550001/config '{"answer_placeholders":true}' >/dev/null

# ---- our own phone resends what the peer does not (placeholder resend, §7.8) ----
fw POST /admin/contacts/alice/config '{"answer_retries":false}' >/dev/null
p0=$(fw_stat sim_placeholder_answers)
fault "{\"type\":\"corrupt\",\"phone\":\"+15550001\",\"device\":$DEV,\"count\":1}"
t0=$(now_ms)
pid=$(says alice "the phone has it")
check "a message alice does not re-send comes from our phone" wait_inbox "the phone has it" 20000
echo "# placeholder resend: stored $(( $(now_ms) - t0 )) ms after alice sent it (phone_delay_ms 500)"
check "... answered by the phone" ok_if '[ "$(fw_stat sim_placeholder_answers)" -gt "$p0" ]'
api GET '/api/v1/messages?account=default&after=0&limit=1000'
check "... stored under its own id, chat and sender, no undecryptable row" ok_if \
  '[ "$(jq -r --arg i "$pid" "[.messages[] | select(.id==\$i)] | map(.type + \" \" + .chat + \" \" + .sender) | join(\",\")" <<<"$BODY")" = "text 15550002@s.whatsapp.net 15550002@s.whatsapp.net" ] &&
   [ "$(sqlite3 "$DB" "SELECT count(*) FROM undecryptable")" = 0 ]'
fw POST /admin/contacts/alice/config '{"answer_retries":true}' >/dev/null
check "... and alice's chat goes on" exchange alice 1

# ---- #34 ----
id=$(reply alice "sent before the restart")
check "#34 alice got our message" wait_peer alice "$id" 10000
check "#34 the daemon stops" gw_stop
check "#34 ... and starts again" start_gateway g
check "#34 connected again without a QR" wait_state connected 15000
s=$(now_ms)
fw POST /admin/contacts/alice/retry "{\"id\":\"$id\",\"count\":1}" >/dev/null
check "#34 count 1 (no keys): a decryptable resend within 5 s" wait_peer alice "$id" 5000 2
echo "# row 34: resend (current session) decrypted $(( $(now_ms) - s )) ms after the receipt"
s=$(now_ms)
fw POST /admin/contacts/alice/retry "{\"id\":\"$id\",\"count\":2,\"keys\":true}" >/dev/null
check "#34 count 2 with keys: a decryptable resend on a new session within 5 s" \
  wait_peer alice "$id" 5000 3
echo "# row 34: resend (new session from the receipt's keys) decrypted $(( $(now_ms) - s )) ms after the receipt"
check "#34 alice and we talk on afterwards" exchange alice 1

# ---- #32 ----
check "#32 the daemon stops" gw_stop
for i in $(seq 1 30); do says alice "backlog $i" >/dev/null; done
check "#32 ... and starts again" start_gateway g
check "#32 connected" wait_state connected 15000
all30() {
  api GET '/api/v1/messages?account=default&after=0&limit=1000'
  [ "$(jq '[.messages[] | select((.text // "") | startswith("backlog "))] | length' <<<"$BODY")" -ge 30 ]
}
check "#32 all 30 stored within 30 s" waitfor all30
sleep 1
api GET '/api/v1/messages?account=default&after=0&limit=1000'
order=$(jq -r '[.messages[] | select((.text // "") | startswith("backlog ")) | .text | ltrimstr("backlog ") | tonumber] | map(tostring) | join(",")' <<<"$BODY")
check "#32 once each, in order" [ "$order" = "$(seq -s, 1 30)" ]
finish
