#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Power loss at daemon level (issue 11 item 2, fault-matrix rows 26 and 27): the REAL gateway
# runs under the test-only LD_PRELOAD shim tests/crash/powercut.c, which at a cut rolls every
# file of the state dir back to its last fsync and kills the process; the gateway then
# restarts on what survived.
#  1. Pairing and the first login (pre-key upload): PC_PAIR_CUTS fresh devices, each cut at
#     the k-th fsync, k spread over the syncs of a whole pairing (counted by an uncut run
#     first); after each the restarted gateway pairs (again, if the cut came before the
#     pair-success commit) or logs in, and its identity is the one it had (never missing,
#     never a new one).
#  2. A message flood as in 01-sigkill.sh, cut at a random moment PC_FLOOD_CUTS times.
# Then the same counts as 01-sigkill.sh (verify.py), plus: the identity key never changed
# and no QR after the first pairing. Cuts during signed pre-key rotation: 07-spk-rotate.sh.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/channel-lib.sh"
source "$(dirname "$0")/crash-lib.sh"
SHIM="$WAGATE_BUILD/wagate_powercut.so"
[ -f "$SHIM" ] || { echo "not ok - $SHIM not built"; exit 1; }
PAIR_CUTS=${PC_PAIR_CUTS:-8}
FLOOD_CUTS=${PC_FLOOD_CUTS:-14}
T0=$(now_ms)
# the shim is not sanitized; the sanitized daemon accepts it after its own runtime
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

identity() { # identity DB: the stored identity public key (hex), "" if none
  python3 - "$1" <<'PY'
import sqlite3, sys
try:
    c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
    r = c.execute("SELECT hex(identity_pub), me_pn FROM creds WHERE id = 1").fetchone()
    print("%s %s" % (r[0], r[1] or "-") if r else "")
except Exception as e:
    print("")
PY
}
died() { ! kill -0 "$1" 2>/dev/null; }

# ---- 1. pairing and the first login ----
fakewa_up
fw POST /admin/contacts '{"name":"bob","phone":"+15550003"}' >/dev/null
mkdir -p "$T/base"
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s"}}\n' "$LISTEN" "$ROOT" \
  >"$T/base/wagate.json"

# pair_run NAME PHONE: start (the caller set the env), scan every QR shown, until connected
# or the process died. 0 connected, 1 died.
pair_run() {
  local name=$1 phone=$2 qr pid=$3 end=$(($(now_ms) + 20000))
  GW_STATE=$T/$name/state
  while [ "$(now_ms)" -lt "$end" ]; do
    died "$pid" && return 1
    [ -f "$T/$name/state/gateway.json" ] || { sleep 0.05; continue; }
    GW_LISTEN=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$T/$name/state/gateway.json")
    GW_TOKEN=$(cat "$T/$name/state/token" 2>/dev/null || true)
    case "$(chan state 2>/dev/null)" in
      connected) return 0 ;;
      pairing)
        qr=$(get_qr)
        [ -n "$qr" ] && fw POST /admin/scan "{\"qr\":\"$qr\",\"phone\":\"$phone\"}" >/dev/null
        ;;
    esac
    sleep 0.1
  done
  return 1
}
start_pc() { # start_pc NAME [env...]: the gateway under the shim, in the background; sets PC_PID
  local name=$1
  shift
  mkdir -p "$T/$name"
  [ -f "$T/$name/wagate.json" ] || cp "$T/base/wagate.json" "$T/$name/wagate.json"
  rm -f "$T/$name/state/gateway.json"
  env LD_PRELOAD="$SHIM" WAGATE_PC_DIR="$T/$name/state" WAGATE_PC_COUNT="$T/$name.syncs" "$@" \
    "$WAGATE_BIN" --config "$T/$name/wagate.json" --state-dir "$T/$name/state" gateway \
    --listen 127.0.0.1:0 >>"$T/$name/out.log" 2>>"$T/$name/err.log" &
  PC_PID=$!
  PIDS+=("$PC_PID")
}
stop_pc() {
  { kill -9 "$PC_PID" && wait "$PC_PID"; } 2>/dev/null
}

fw POST /admin/accounts '{"phone":"+15559000"}' >/dev/null
start_pc base
pair_run base +15559000 "$PC_PID"
sleep 3 # the first login's pre-key upload and anything after it
stop_pc
NSYNC=$(cat "$T/base.syncs" 2>/dev/null || echo 0)
echo "# an uncut pairing + first login made $NSYNC fsyncs in the state dir"
check "the uncut pairing connected and counted its fsyncs" [ "$NSYNC" -gt 3 ]

pair_ok=0 pair_bad=0 paired_again=0 pairs=0
# dense over the first syncs (store creation, credentials, the pair-success commit), then
# spread over the first login's pre-key generation and upload
KS=(2 4 6 8 11 15 $((NSYNC / 4)) $((NSYNC * 3 / 4)) 3 5 7 9 13 $((NSYNC / 2)))
for i in $(seq 1 "$PAIR_CUTS"); do
  k=${KS[$(((i - 1) % ${#KS[@]}))]}
  name=p$i
  phone="+1555901$i"
  fw POST /admin/accounts "{\"phone\":\"$phone\"}" >/dev/null
  start_pc "$name" WAGATE_PC_CUT_AT="$k"
  pair_run "$name" "$phone" "$PC_PID" && sleep 2
  for _ in $(seq 1 50); do died "$PC_PID" && break; sleep 0.1; done
  cut=$(grep -c '^powercut:' "$T/$name/err.log")
  stop_pc
  before=$(identity "$T/$name/state/accounts/default/wa.db")
  start_pc "$name"
  if pair_run "$name" "$phone" "$PC_PID"; then r=connected; else r=failed; fi
  stop_pc
  after=$(identity "$T/$name/state/accounts/default/wa.db")
  pairs=$(grep -c 'pairing a new device' "$T/$name/err.log")
  # before: empty only if the cut came before the first credentials were ever synced
  if [ "$r" = connected ] && [ "$cut" = 1 ] && { [ -z "$before" ] || [ "${before%% *}" = "${after%% *}" ]; }; then
    pair_ok=$((pair_ok + 1))
  else
    pair_bad=$((pair_bad + 1))
    echo "# pairing cut $i at sync $k: cut=$cut result=$r identity before='$before' after='$after'"
  fi
  [ "$pairs" -gt 1 ] && paired_again=$((paired_again + 1))
  echo "# pairing cut $i at fsync $k of $NSYNC: then $r, identity $([ -z "$before" ] && echo "not yet stored" || { [ "${before%% *}" = "${after%% *}" ] && echo kept || echo CHANGED; }), $([ "${before#* }" = - ] || [ -z "$before" ] && echo "cut before the pairing was committed (paired again)" || echo "the pairing survived")"
done
check "every pairing cut: the gateway came back connected, identity kept ($pair_ok/$PAIR_CUTS)" \
  [ "$pair_bad" = 0 ]

# ---- 2. a message flood, cut at random moments ----
crash_setup_pc() { # like crash_setup, the gateway under the shim (uncut)
  cat >"$T/bot.sh" <<BOT
#!/bin/sh
IFS= read -r msg
id=\$(printf '%s\n' "\$msg" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
att=\$(printf '%s\n' "\$msg" | sed -n 's/.*"attempt":\([0-9]*\).*/\1/p')
text=\$(printf '%s\n' "\$msg" | sed -n 's/.*"text":"\([^"]*\)"}\$/\1/p')
echo "\$id \$att \$text" >>"$T/calls"
echo "re: \$text"
BOT
  mkdir -p "$T/g"
  printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s",
 "accounts":{"default":{"dm_policy":"open","group_policy":"open","require_mention":false}}},
 "hooks":{"exec":{"command":"sh %s","timeout_ms":5000,"retry_base_ms":100,"retry_max_ms":1000,"max_attempts":1000}}}\n' \
    "$LISTEN" "$ROOT" "$T/bot.sh" >"$T/g/wagate.json"
  start_pc g
  pair_run g +15550001 "$PC_PID" || return 1
  GW_PID=$PC_PID
  GROUP=$(fw POST /admin/groups '{"subject":"crash","members":["+15550001","alice","bob"]}' | jq -r .jid)
  [ -n "$GROUP" ] && [ "$GROUP" != null ]
}
check "flood set-up: the gateway paired under the shim" crash_setup_pc
ID0=$(identity "$T/g/state/accounts/default/wa.db")
[ -n "$ID0" ] || { stop_pc; ID0=$(identity "$T/g/state/accounts/default/wa.db"); start_pc g; }
cuts=0 nocut=0 id_changed=0
for i in $(seq 1 "$FLOOD_CUTS"); do
  api_new 1
  crash_burst 5
  sleep 0.3
  stop_pc # the previous (uncut) run, or nothing
  ms=$((400 + RANDOM % 2500))
  start_pc g WAGATE_PC_CUT_MS="$ms"
  GW_PID=$PC_PID
  for _ in $(seq 1 30); do [ -f "$T/g/state/gateway.json" ] && break; sleep 0.1; done
  GW_LISTEN=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$T/g/state/gateway.json" 2>/dev/null)
  GW_TOKEN=$(cat "$T/g/state/token" 2>/dev/null || true)
  crash_burst 3
  for _ in $(seq 1 60); do died "$PC_PID" && break; sleep 0.1; done
  if died "$PC_PID"; then cuts=$((cuts + 1)); else nocut=$((nocut + 1)); fi
  stop_pc
  id=$(identity "$T/g/state/accounts/default/wa.db")
  [ "${id%% *}" = "${ID0%% *}" ] || id_changed=$((id_changed + 1))
  start_pc g # uncut, on what survived
  GW_PID=$PC_PID
done
bursts_wait
echo "# $cuts flood cuts ($nocut runs outlived their cut time and were SIGKILLed)"
check "at least 20 cuts in all" [ $((PAIR_CUTS + cuts)) -ge 20 ]
rolled=$(cat "$T"/*/err.log | grep -c 'powercut: .* [1-9][0-9]* file(s) rolled back')
echo "# cuts that found unsynced writes and rolled them back: $rolled"
check "the cuts did roll back unsynced writes" [ "$rolled" -gt 0 ]
check "the identity survived every flood cut unchanged" [ "$id_changed" = 0 ]
for _ in $(seq 1 100); do [ -f "$T/g/state/gateway.json" ] && break; sleep 0.1; done
GW_LISTEN=$(sed -n 's/.*"listen":"\([^"]*\)".*/\1/p' "$T/g/state/gateway.json")
GW_TOKEN=$(cat "$T/g/state/token")
check "connected after the last cut" wait_state connected 20000
api_flush
: >"$T/all.log" # verify.py reads g/err.log: every run of g appended to it
crash_converge 90
check "after recovery: 0 lost, 0 duplicated, hook once in effect, 0 Bad MAC, no QR" \
  crash_verify quiet
echo "# $(( ($(now_ms) - T0) / 1000 )) s in all"
kill -TERM "$PC_PID"
wait "$PC_PID"
kill -TERM "$FW_PID"
wait "$FW_PID"
finish
