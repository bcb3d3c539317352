#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Power cuts during signed pre-key rotation (issue 11 item 2, wa/spkrot.c): the REAL gateway
# under the LD_PRELOAD shim (tests/crash/powercut.c), its rotation compressed to seconds
# (signal.spk_test_seconds). An uncut run counts the fsyncs of a start whose first act is a
# rotation (the key is older than the interval); then every fsync k of that run in turn is
# cut: before the transaction that stores the new key with the credentials, at its commit,
# after it and before the server's ack, at the ack's commit, after it. Each time the gateway
# restarts on what survived and, once connected, must show:
#   - credentials present, naming the key it had before the cut (old) or the next (new), and
#     that key's record stored; never none;
#   - the server (fakewa) hands out that same key (a new key whose ack was cut is uploaded
#     again by the next login);
#   - a new session from alice built on the CURRENT bundle and one from bob built on the
#     bundle of BEFORE the last rotation both decrypt (retired keys are kept);
#   - no QR, no Bad MAC.
# Then a refused rotate (the server errs, the gateway dies before its retry) and the grace:
# with spk_keep_days = 2 "days" (seconds) and rotation off, the retired keys are deleted.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/channel-lib.sh"
SHIM="$WAGATE_BUILD/wagate_powercut.so"
[ -f "$SHIM" ] || { echo "not ok - $SHIM not built"; exit 1; }
ROT=${SPK_ROTATE_S:-2} # the rotation interval in seconds
T0=$(now_ms)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
DB=$T/g/state/accounts/default/wa.db

died() { ! kill -0 "$1" 2>/dev/null; }
spk() { # spk: "creds_spk_id rows uploaded_of_current record_present identity_hex" from the DB
  python3 - "$DB" <<'PY'
import sqlite3, sys
try:
    c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
    r = c.execute("SELECT spk_id, hex(identity_pub) FROM creds WHERE id = 1").fetchone()
    if not r:
        print("none 0 0 0 -"); sys.exit()
    n = c.execute("SELECT count(*) FROM signed_prekeys").fetchone()[0]
    k = c.execute("SELECT uploaded, length(record) FROM signed_prekeys WHERE id = ?", (r[0],)).fetchone()
    print(r[0], n, k[0] if k else "x", 1 if k and k[1] else 0, r[1])
except Exception as e:
    print("error 0 0 0 -")
PY
}
fw_spk() { fw GET '/admin/devices?phone=%2B15550001' | jq -r '[.[] | select(.device==1)][0] | "\(.spk_id) \(.spk_prev_id) \(.spk_rotations)"'; }
conf() { # conf ROTATE_S KEEP_S: the gateway's config: rotation every ROTATE_S s, keys kept KEEP_S s
  printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s",
 "accounts":{"default":{"dm_policy":"open"}}},
 "signal":{"spk_rotate_days":%s,"spk_keep_days":%s,"spk_keep_max":4,"spk_test_seconds":true}}\n' \
    "$LISTEN" "$ROOT" "$1" "$2" >"$T/g/wagate.json"
}
start_pc() { # start_pc [env...]: the gateway under the shim, in the background; sets PC_PID
  rm -f "$T/g/state/gateway.json"
  env LD_PRELOAD="$SHIM" WAGATE_PC_DIR="$T/g/state" WAGATE_PC_COUNT="$T/g.syncs" "$@" \
    "$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$T/g/state" gateway \
    --listen 127.0.0.1:0 >>"$T/g/out.log" 2>>"$T/g/err.log" &
  PC_PID=$!
  PIDS+=("$PC_PID")
}
stop_pc() { { kill -9 "$PC_PID" && wait "$PC_PID"; } 2>/dev/null; }
api_up() { # api_up TENTHS: the API of the running gateway answers (GW_LISTEN, GW_TOKEN set)
  for _ in $(seq 1 "$1"); do
    died "$PC_PID" && return 1
    if [ -f "$T/g/state/gateway.json" ]; then
      GW_LISTEN=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$T/g/state/gateway.json")
      GW_TOKEN=$(cat "$T/g/state/token" 2>/dev/null || true)
      [ -n "$GW_LISTEN" ] && [ -n "$GW_TOKEN" ] && return 0
    fi
    sleep 0.1
  done
  return 1
}
in_inbox() { # in_inbox ID TENTHS: the message is in the gateway's inbox, decrypted (a text)
  for _ in $(seq 1 "$2"); do
    api GET "/api/v1/messages?account=default&after=0&limit=1000"
    [ "$CODE" = 200 ] && jq -e --arg id "$1" '[.messages[] | select(.id==$id and .type=="text")] | length == 1' \
      <<<"$BODY" >/dev/null && return 0
    sleep 0.1
  done
  return 1
}
# wait_fw_spk ID TENTHS: fakewa hands out key ID for our device
wait_fw_spk() {
  for _ in $(seq 1 "$2"); do [ "$(fw_spk | cut -d' ' -f1)" = "$1" ] && return 0; sleep 0.1; done
  return 1
}

fakewa_up
fw POST /admin/contacts '{"name":"bob","phone":"+15550003"}' >/dev/null
# a message that did not decrypt must not be rescued by a new session from a retry receipt's
# keys: the phones do not answer retry receipts (each one the gateway sends is counted below)
fw POST /admin/contacts/alice/config '{"answer_retries":false}' >/dev/null
fw POST /admin/contacts/bob/config '{"answer_retries":false}' >/dev/null
retries() { fw GET "/admin/contacts/$1/inbox" | jq '[.receipts[] | select(.type=="retry")] | length'; }
mkdir -p "$T/g"
conf "$ROT" 365

# ---- pair (uncut), let it rotate at least once ----
start_pc
api_up 100 || { echo "not ok - the gateway did not start"; exit 1; }
check "pairing" wait_state pairing 10000
qr=$(wait_qr)
fw POST /admin/scan "{\"qr\":\"$qr\",\"phone\":\"+15550001\"}" >/dev/null
check "connected after pairing" wait_state connected 15000
sleep $((ROT + 2))
read -r id0 _ <<<"$(spk)"
check "an uncut gateway rotated its signed pre-key (now $id0) and fakewa took it" \
  wait_fw_spk "$id0" 50
api GET /metrics
rot=$(awk '/^wagate_channel_signed_prekey_rotations_total/ {print int($2)}' <<<"$BODY")
check "/metrics counts the rotations (${rot:-none}, key $id0)" ok_if '[ "${rot:-0}" -ge $((id0 - 1)) ]'
stop_pc

# ---- count the fsyncs of a start that rotates at once ----
sleep "$ROT" # the key is older than the interval: the next start rotates first
rm -f "$T/g.syncs"
start_pc
api_up 100
wait_state connected 15000
read -r id1 _ <<<"$(spk)"
for _ in $(seq 1 50); do read -r id1 _ <<<"$(spk)"; [ "$id1" != "$id0" ] && break; sleep 0.1; done
sleep 0.5 # the ack and the pruning after it
NSYNC=$(cat "$T/g.syncs" 2>/dev/null || echo 0)
stop_pc
echo "# an uncut start + rotation ($id0 -> $id1) made $NSYNC fsyncs in the state dir"
check "the uncut start rotated ($id0 -> $id1) and synced" ok_if '[ "$id1" != "$id0" ] && [ "$NSYNC" -gt 0 ]'
[ "$NSYNC" -gt 0 ] || NSYNC=6

# ---- a cut at every fsync of that start ----
# one more than the syncs counted: that run is not cut, it is SIGKILLed after the ack
CUTS=${SPK_CUTS:-$((NSYNC + 1))}
[ "$CUTS" -gt 12 ] && CUTS=12
ok_n=0 bad=0 olds=0 news=0 reup=0 seq=0
for k in $(seq 1 "$CUTS"); do
  sleep "$ROT"
  read -r before _ _ _ idk_before <<<"$(spk)"
  conf "$ROT" 365
  n0=$(grep -c "^powercut:" "$T/g/err.log")
  start_pc WAGATE_PC_CUT_AT="$k"
  for _ in $(seq 1 100); do died "$PC_PID" && break; sleep 0.1; done
  cut=$(($(grep -c "^powercut:" "$T/g/err.log") - n0))
  where=-
  [ "$cut" = 1 ] && where=$(grep "^powercut:" "$T/g/err.log" | tail -1 |
    sed -n 's/^powercut: cut at sync [0-9]* (\([^)]*\)).*/\1/p' | xargs -r basename)
  stop_pc
  read -r after rows upl rec idk <<<"$(spk)"
  next=$(python3 -c "import sys; i=int(sys.argv[1]); print(1 if i >= 0xFFFFFF else i + 1)" "$before")
  which=bad
  [ "$after" = "$before" ] && which=old
  [ "$after" = "$next" ] && which=new
  # restart uncut on what survived (no rotation due now: the key must stay what survived);
  # fakewa must end up with the stored key
  conf 365 365
  start_pc
  api_up 100 && wait_state connected 15000
  read -r cur _ _ _ _ <<<"$(spk)"
  [ "$which" = new ] && [ "$upl" = 0 ] && reup=$((reup + 1))
  seq=$((seq + 1))
  a=$(fw POST /admin/contacts/alice/send "{\"to\":\"+15550001\",\"text\":\"cut $k current\",\"bundle\":\"current\"}" | jq -r .id)
  b=$(fw POST /admin/contacts/bob/send "{\"to\":\"+15550001\",\"text\":\"cut $k previous\",\"bundle\":\"previous\"}" | jq -r .id)
  if [ "$which" != bad ] && [ "$rec" = 1 ] && [ "$idk" = "$idk_before" ] && [ "$cur" = "$after" ] &&
    wait_fw_spk "$cur" 50 &&
    in_inbox "$a" 100 && in_inbox "$b" 100; then
    ok_n=$((ok_n + 1))
  else
    bad=$((bad + 1))
    echo "# cut $k: which=$which before=$before after=$after record=$rec uploaded=$upl fakewa=$(fw_spk) current=$cur alice=$a bob=$b"
  fi
  [ "$which" = old ] && olds=$((olds + 1))
  [ "$which" = new ] && news=$((news + 1))
  echo "# cut at fsync $k/$NSYNC ($where): cut=$cut, after it the $which key ($before -> $after, uploaded=$upl, $rows stored); restarted: current $cur, fakewa $(fw_spk | cut -d' ' -f1)"
  stop_pc
done
check "every cut left the old or the new key current with its record; after the restart both sessions decrypted ($ok_n/$CUTS)" \
  [ "$bad" = 0 ]
echo "# $olds cuts left the old key, $news the new one ($reup of them not yet acknowledged: uploaded again)"
check "the cuts hit both sides of the commit" ok_if '[ "$olds" -gt 0 ] && [ "$news" -gt 0 ]'
rolled=$(grep -c 'powercut: .* [1-9][0-9]* file(s) rolled back' "$T/g/err.log")
echo "# cuts that found unsynced writes and rolled them back: $rolled"
check "no QR after the first pairing" [ "$(grep -c 'pairing a new device' "$T/g/err.log")" -le 1 ]
check "no Bad MAC / undecryptable" ok_if '! grep -qi "bad mac\|undecryptable" "$T/g/err.log"'
check "no retry receipt to alice or bob: every pkmsg decrypted at once" \
  ok_if '[ "$(retries alice)" = 0 ] && [ "$(retries bob)" = 0 ]'
check "fakewa's phones saw no decryption failure" \
  [ "$(fw GET /admin/stats | jq -r '.sim_decrypt_failures // 0')" = 0 ]

# ---- the server refuses the rotate iq; the gateway dies before its retry ----
sleep "$ROT"
conf "$ROT" 365
read -r before _ <<<"$(spk)"
fw POST /admin/fault '{"type":"iq_error","xmlns":"encrypt.rotate","code":500,"count":1,"phone":"+15550001"}' >/dev/null
n0=$(grep -c 'the rotate iq failed' "$T/g/err.log")
start_pc
for _ in $(seq 1 100); do [ "$(grep -c 'the rotate iq failed' "$T/g/err.log")" -gt "$n0" ] && break; sleep 0.05; done
stop_pc
read -r after _ upl _ _ <<<"$(spk)"
fwk=$(fw_spk | cut -d' ' -f1)
echo "# refused rotate: stored $before -> $after (uploaded=$upl), fakewa still hands out $fwk"
check "a refused rotate leaves the new key stored and current, not acknowledged; the server keeps the old"   ok_if '[ "$after" != "$before" ] && [ "$upl" = 0 ] && [ "$fwk" = "$before" ]'
conf 365 365
start_pc
api_up 100 && wait_state connected 15000
check "the next start uploads the unacknowledged key again" wait_fw_spk "$after" 50
a=$(fw POST /admin/contacts/alice/send '{"to":"+15550001","text":"after refusal current","bundle":"current"}' | jq -r .id)
b=$(fw POST /admin/contacts/bob/send '{"to":"+15550001","text":"after refusal previous","bundle":"previous"}' | jq -r .id)
check "then sessions from the current and the previous bundle both decrypt" ok_if 'in_inbox "$a" 100 && in_inbox "$b" 100'
sleep 0.3
read -r _ _ upl _ _ <<<"$(spk)"
check "and the key is marked acknowledged" [ "$upl" = 1 ]
stop_pc

# ---- the grace: retired keys are deleted after spk_keep_days (no rotation in this run) ----
conf 0 2
read -r before_grace rows0 _ _ _ <<<"$(spk)"
del0=$(grep -c 'retired key(s) deleted' "$T/g/err.log")
start_pc
api_up 100 && wait_state connected 15000
for _ in $(seq 1 60); do # the last retired key's grace ends at most 3 s after the start
  read -r _ rows _ _ _ <<<"$(spk)"
  [ "$rows" = 1 ] && break
  sleep 0.1
done
read -r cur rows _ _ _ <<<"$(spk)"
echo "# with 2 s of grace: $rows0 signed pre-key(s) stored before, $rows after (current $cur)"
check "retired keys past the grace were deleted ($rows0 -> $rows: only the current one left)" \
  ok_if '[ "$rows0" -gt 1 ] && [ "$rows" = 1 ] && [ "$cur" = "$before_grace" ]'
check "the gateway logged the deletion" [ "$(grep -c 'retired key(s) deleted' "$T/g/err.log")" -gt "$del0" ]
stop_pc
check "no sanitizer report" ok_if '! grep -q "AddressSanitizer\|runtime error:\|LeakSanitizer" "$T/g/err.log"'
echo "# $(( ($(now_ms) - T0) / 1000 )) s in all"
kill -TERM "$FW_PID"
wait "$FW_PID"
finish
