# SPDX-License-Identifier: MIT
# Shared by the daemon-level crash tests (sourced after tests/integration/lib.sh and
# channel-lib.sh, not run). The set-up: fakewa with our account +15550001 and the contacts
# alice (+15550002) and bob (+15550003), a group of the three, and the real gateway paired
# once, with an exec hook that records every run ("id attempt text" in $T/calls) and replies
# "re: <text>". Then the tests drive traffic (crash_burst) and kill/cut the daemon at will;
# crash_verify checks the counts:
#   - every message alice and bob sent is in the gateway's inbox exactly once;
#   - it reached the hook (a repeated run must be declared: a higher "attempt");
#   - its reply reached the sender exactly once;
#   - every message the API accepted reached its recipient exactly once;
#   - no Bad MAC anywhere (the peers decrypted everything; no undecryptable in the gateway);
#   - no new QR (one pairing in all the gateway's logs).
CRASH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GROUP=""
: >"$T/peers.sent" # "id sender kind text"
: >"$T/api.ok"     # "key id to text" for every send the API accepted
: >"$T/api.todo"   # "key to text" still to be sent (or retried with the same key)
: >"$T/all.log"    # every gateway run's stderr, appended
BURST_SEQ=0
BURSTS=()
API_SEQ=0

crash_setup() { # crash_setup [extra gateway env...]: pairs the gateway; sets GROUP
  fakewa_up
  fw POST /admin/contacts '{"name":"bob","phone":"+15550003"}' >/dev/null
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
  start_gateway g || return 1
  wait_state pairing 10000 || return 1
  local qr
  qr=$(wait_qr) || return 1
  fw POST /admin/scan "{\"qr\":\"$qr\",\"phone\":\"+15550001\"}" | grep -q '"jid"' || return 1
  wait_state connected 15000 || return 1
  GROUP=$(fw POST /admin/groups '{"subject":"crash","members":["+15550001","alice","bob"]}' | jq -r .jid)
  [ -n "$GROUP" ] && [ "$GROUP" != null ]
}

gw_save_log() { [ -f "$T/g/err.log" ] && cat "$T/g/err.log" >>"$T/all.log"; }
gw_kill9() {
  kill -9 "$GW_PID" 2>/dev/null
  wait "$GW_PID" 2>/dev/null
  gw_save_log
  : >"$T/g/err.log"
}
gw_start() { start_gateway g "$@"; }

# peer_send WHO KIND SEQ: one message from alice/bob, 1:1 to us (dm) or to the group (grp).
peer_send() {
  local who=$1 kind=$2 to text id
  text="p$3-$who-$kind"
  if [ "$kind" = grp ]; then to=$GROUP; else to="+15550001"; fi
  id=$(fw POST "/admin/contacts/$who/send" "{\"to\":\"$to\",\"text\":\"$text\"}" | jq -r '.id // empty')
  [ -n "$id" ] && echo "$id $who $kind $text" >>"$T/peers.sent"
}

# api_new N: N new API messages to alice/bob, to be sent (with retries under the same key).
api_new() {
  local i to
  for i in $(seq 1 "$1"); do
    API_SEQ=$((API_SEQ + 1))
    if [ $((API_SEQ % 2)) = 0 ]; then to="+15550002"; else to="+15550003"; fi
    echo "crash-$API_SEQ $to a$API_SEQ" >>"$T/api.todo"
  done
}
# api_flush: send every pending API message; accepted ones move to api.ok. Safe to run in
# the background while the daemon is killed (a lost answer is retried with the same key).
api_flush() {
  local key to text out code body left=""
  while read -r key to text; do
    [ -n "$key" ] || continue
    if grep -q "^$key " "$T/api.ok"; then continue; fi
    out=$(curl -s -m 3 -w '\n%{http_code}' -X POST -H "Authorization: Bearer $GW_TOKEN" \
      -H 'content-type: application/json' \
      -d "{\"to\":\"$to\",\"text\":\"$text\",\"idempotency_key\":\"$key\"}" \
      "http://$GW_LISTEN/api/v1/messages" 2>/dev/null)
    code=${out##*$'\n'}
    body=${out%$'\n'*}
    if [ "$code" = 200 ]; then
      echo "$key $(jq -r .id <<<"$body") $to $text" >>"$T/api.ok"
    fi
  done <"$T/api.todo"
}

# crash_burst N: N peer messages (alice/bob, dm/grp in turn, 0-150 ms apart) and the pending
# API sends, in the background (bursts_wait waits for them).
crash_burst() {
  local n=$1
  BURST_SEQ=$((BURST_SEQ + 1))
  (
    trap - EXIT # not the test's cleanup
    api_flush
    for k in $(seq 1 "$n"); do
      case $((RANDOM % 4)) in
        0) peer_send alice dm "$BURST_SEQ.$k" ;;
        1) peer_send bob dm "$BURST_SEQ.$k" ;;
        2) peer_send alice grp "$BURST_SEQ.$k" ;;
        *) peer_send bob grp "$BURST_SEQ.$k" ;;
      esac
      sleep "0.$((RANDOM % 15))"
    done
  ) &
  BURSTS+=($!)
}
# bursts_wait: the bursts still sending (peer sends go on while the gateway is down).
bursts_wait() {
  local p
  for p in "${BURSTS[@]+"${BURSTS[@]}"}"; do wait "$p" 2>/dev/null; done
  BURSTS=()
}

# The inbox through the API, every page.
inbox_dump() {
  local after=0 n
  : >"$T/inbox.json"
  while :; do
    api GET "/api/v1/messages?account=default&after=$after&limit=1000"
    [ "$CODE" = 200 ] || return 1
    jq -c '.messages[]' <<<"$BODY" >>"$T/inbox.json"
    n=$(jq '.messages | length' <<<"$BODY")
    [ "$n" -lt 1000 ] && return 0
    after=$(jq '.messages[-1].cursor' <<<"$BODY")
  done
}

# crash_verify [quiet]: 0 when every count is right. Prints one summary line unless quiet.
crash_verify() {
  inbox_dump || return 1
  fw GET /admin/contacts/alice/inbox >"$T/alice.json"
  fw GET /admin/contacts/bob/inbox >"$T/bob.json"
  python3 "$CRASH_DIR/verify.py" "$T" "${1:-}"
}

# crash_converge SECONDS: wait until crash_verify passes (bounded), then print it.
crash_converge() {
  local end=$(($(now_ms) + $1 * 1000))
  while [ "$(now_ms)" -lt "$end" ]; do
    crash_verify quiet && break
    sleep 1
  done
  gw_save_log_copy
  crash_verify
}
gw_save_log_copy() { cp "$T/all.log" "$T/all.final.log"; cat "$T/g/err.log" >>"$T/all.final.log"; }

# ---- the store-fault tests (03-eio, 04-diskfull, 06-readonly) ----
# identity DB: the stored identity public key (hex), empty when unreadable.
identity() {
  python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True); print(c.execute("SELECT hex(identity_pub) FROM creds").fetchone()[0])' "$1" 2>/dev/null
}
# alice_says TEXT: alice's phone writes to us; prints the message id.
alice_says() { fw POST /admin/contacts/alice/send "{\"to\":\"+15550001\",\"text\":\"$1\"}" | jq -r .id; }
# acked ID: a receipt from our device (:1; the gateway's are "inactive") reached alice.
acked() {
  fw GET /admin/contacts/alice/inbox | jq -e --arg id "$1" \
    '[.receipts[] | select(.id==$id and (.from | test(":1@")))] | length > 0' >/dev/null
}
# replies TEXT: distinct replies (message ids) to TEXT at alice. A reply whose server ack could
# not be recorded (the store failing) goes out again under the SAME id after the reconnect,
# which a WhatsApp client dedupes (verify.py counts those apart as reply_resent_same_id).
replies() { fw GET /admin/contacts/alice/inbox | jq --arg t "re: $1" '[.messages[] | select(.text==$t) | .id] | unique | length'; }
# wait_reply TEXT [TENTHS]: until alice has a reply to TEXT (default 30 s).
wait_reply() {
  for _ in $(seq 1 "${2:-300}"); do [ "$(replies "$1")" -ge 1 ] && return 0; sleep 0.1; done
  return 1
}
