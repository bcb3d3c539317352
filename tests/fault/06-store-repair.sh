#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Store-wide session repair on the real daemon against fakewa (fault-matrix row 29): the whole
# database is replaced by a copy from before 20 exchanged messages. The next messages from
# alice and bob fail to decrypt for two distinct peers (whatsapp.repair.store_peers = 2 here;
# 5 by default), so the channel goes `repairing`: database backed up, every session and
# sender key deleted (credentials, identity, pre-keys kept), reconnect, fresh pre-keys, ONE
# "encryption sessions were reset" notification; the retry receipts with keys make both
# phones rebuild their sessions. No QR; both messages are stored within 2 minutes.
source "$(dirname "$0")/fault-lib.sh"
source "$(dirname "$0")/repair-lib.sh"
fault_setup
fw POST /admin/contacts '{"name":"bob","phone":"+15550003"}' >/dev/null
NOTES=$T/notes.jsonl # notify.command appends each notification's JSON (gw/notify.h)
check "a paired, connected daemon" fault_gateway \
  '"repair":{"retry_gap_ms":200,"retry_wait_ms":2000,"store_peers":2,"store_window_s":600}' \
  "\"notify\":{\"command\":\"cat >>$NOTES; echo >>$NOTES\"}"
DB=$GW_STATE/accounts/default/wa.db
check "a conversation with alice" exchange alice 1
check "a conversation with bob" exchange bob 1
check "the daemon stops" gw_stop
cp "$DB" "$T/old.db"
[ -f "$DB-wal" ] && cp "$DB-wal" "$T/old.db-wal"
check "it starts again" start_gateway g
check "connected" wait_state connected 15000
ok20() { exchange alice 5 && exchange bob 5; }
check "20 messages exchanged (10 with alice, 10 with bob)" ok20
check "the daemon stops" gw_stop
rm -f "$DB-wal" "$DB-shm"
cp "$T/old.db" "$DB"
[ -f "$T/old.db-wal" ] && cp "$T/old.db-wal" "$DB-wal"
check "it starts on the old copy" start_gateway g
check "connected with the old credentials (no QR)" wait_state connected 15000
t0=$(now_ms)
says alice "alice after the restore" >/dev/null
says bob "bob after the restore" >/dev/null
first=""
end=$(( t0 + 120000 ))
while [ "$(now_ms)" -lt "$end" ]; do
  a=$(inbox_count "alice after the restore"); b=$(inbox_count "bob after the restore")
  [ -z "$first" ] && [ $((a + b)) -ge 1 ] && first=$(( $(now_ms) - t0 ))
  [ "$a" -ge 1 ] && [ "$b" -ge 1 ] && break
  sleep 0.1
done
both=$(( $(now_ms) - t0 ))
check "#29 both messages stored within 2 minutes" ok_if '[ "$a" = 1 ] && [ "$b" = 1 ]'
echo "# row 29: first decrypted message ${first:-never} ms after the failure began; both after ${both} ms"
check "#29 connected again after the repair" wait_state connected 20000
ev=$(events)
echo "$ev" | jq -c "select(.type==\"channel.state\") | .data | [.from,.to,.reason]" | tail -5 | sed "s/^/# /"
nrp=$(jq -s '[.[] | select(.type=="channel.state" and .data.to=="repairing")] | length' <<<"$ev")
check "#29 the channel went through repairing (once)" [ "$nrp" = 1 ]
nrep=$(jq -s '[.[] | select(.type=="channel.repaired")] | length' <<<"$ev")
nnot=$(jq -s '[.[] | select(.type=="channel.notice" and (.data.text | contains("encryption sessions were reset")))] | length' <<<"$ev")
check "#29 exactly one notification ($nrep channel.repaired, $nnot notices)" ok_if '[ "$nrep" = 1 ] && [ "$nnot" = 1 ]'
nses=$(jq -s '[.[] | select(.kind=="sessions_reset")] | length' "$NOTES" 2>/dev/null)
check "#29 one sessions_reset notification through notify.command ($nses)" ok_if \
  '[ "$nses" = 1 ] && jq -rs "[.[] | select(.kind==\"sessions_reset\")][0].text" "$NOTES" |
   grep -q "encryption sessions were reset"'
check "#29 the database was backed up first" ok_if 'ls "$DB".pre-repair-* >/dev/null 2>&1'
check "#29 no QR, never pairing" ok_if \
  '[ "$(chan qr_available)" = false ] && ! grep -q -- "-> pairing" "$T/g/err.log"'
check "#29 metrics: one repair" [ "$(metric wagate_channel_session_repairs_total)" = 1 ]
check "#29 alice and bob talk on afterwards" ok_if 'exchange alice 2 && exchange bob 2'
check "#29 still one repair after that" [ "$(metric wagate_channel_session_repairs_total)" = 1 ]
finish
