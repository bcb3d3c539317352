#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 17 item 3: our session with alice rolled back (the row restored to a copy several round
# trips old, as a restored backup would leave it), and WE write first. Alice cannot decrypt our
# message and sends a retry receipt (count 1, no keys; fakewa's phones do that for every copy
# they cannot decrypt). The answer must come on a fresh session from her server bundle as soon
# as the answer on the current session did not decrypt (docs/internals/retry-receipts.md), so
# alice reads the first message we send her after the rollback. Before: every answer went on the
# stale session, all five were refused, alice never read it.
source "$(dirname "$0")/fault-lib.sh"
source "$(dirname "$0")/repair-lib.sh"
command -v sqlite3 >/dev/null || { echo "# sqlite3 missing: skipped"; exit 77; }
fault_setup
check "a paired, connected daemon" fault_gateway \
  '"repair":{"retry_gap_ms":200,"retry_wait_ms":3000,"phone_delay_ms":500}'
DB=$GW_STATE/accounts/default/wa.db
check "a conversation with alice" exchange alice 1
ALID=$(sqlite3 "$DB" "SELECT lid FROM lid_map WHERE pn='15550002'")
OLD=$(sqlite3 "$DB" "SELECT hex(record) FROM sessions WHERE name='${ALID}_1' AND device=0")
check "alice's session row read" [ -n "$OLD" ]
check "16 more messages with alice (8 round trips: her old receiving chains are gone)" exchange alice 8
sqlite3 -cmd ".timeout 5000" "$DB" \
  "UPDATE sessions SET record = X'$OLD' WHERE name = '${ALID}_1' AND device = 0"
check "the row now holds the old copy" \
  [ "$(sqlite3 "$DB" "SELECT hex(record) FROM sessions WHERE name='${ALID}_1' AND device=0")" = "$OLD" ]
a0=$(fw_stat sim_retries_answered)
t0=$(now_ms)
id=$(reply alice "first after the rollback")
check "alice decrypts the first message we send after the rollback (within 15 s)" \
  wait_peer alice "$id" 15000
echo "# alice decrypted our first message $(( $(now_ms) - t0 )) ms after it was sent"
check "... exactly once" [ "$(peer_got alice "$id")" = 1 ]
check "... and we talk on afterwards" exchange alice 2
finish
