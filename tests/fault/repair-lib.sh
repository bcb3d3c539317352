# SPDX-License-Identifier: MIT
# Shared by the session-repair fault tests (05-*, 06-*; sourced after fault-lib.sh, not run):
# conversations between the daemon's account +15550001 and fakewa's simulated contacts.
#   says WHO TEXT         WHO (alice, bob) sends TEXT to us; prints the message id
#   inbox_count TEXT      rows with that text (or reason) in our inbox
#   wait_inbox TEXT MS    until one is there; WAIT_MS = how long it took
#   reply WHO TEXT        the API sends TEXT to WHO's phone; prints our message id
#   peer_got WHO ID       messages WHO's phone decrypted with that id
#   wait_peer WHO ID MS   until WHO decrypted ID
#   exchange WHO N        N round trips (WHO writes, we answer), each waited for
#   gw_stop               SIGTERM the daemon and wait for it
#   fw_stat NAME          a counter of fakewa's /admin/stats
#   metric NAME           this account's value of a /metrics series
declare -A PHONE=([alice]=+15550002 [bob]=+15550003)
says() {
  fw POST "/admin/contacts/$1/send" "{\"to\":\"+15550001\",\"text\":\"$2\"}" | jq -r .id
}
inbox_count() {
  api GET '/api/v1/messages?account=default&after=0&limit=1000'
  jq --arg t "$1" '[.messages[] | select(.text==$t or .reason==$t)] | length' <<<"$BODY"
}
wait_inbox() {
  local s end
  s=$(now_ms); end=$(( s + $2 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    [ "$(inbox_count "$1")" -ge 1 ] && { WAIT_MS=$(( $(now_ms) - s )); return 0; }
    sleep 0.05
  done
  return 1
}
reply() {
  api POST /api/v1/messages "{\"to\":\"${PHONE[$1]}\",\"text\":\"$2\"}"
  jq -r .id <<<"$BODY"
}
peer_got() {
  fw GET "/admin/contacts/$1/inbox" | jq --arg i "$2" '[.messages[] | select(.id==$i and .ok)] | length'
}
wait_peer() {
  local end=$(( $(now_ms) + $3 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    [ "$(peer_got "$1" "$2")" -ge "${4:-1}" ] && return 0
    sleep 0.05
  done
  return 1
}
exchange() {
  local i id
  for i in $(seq 1 "$2"); do
    says "$1" "$1 round $i $RANDOM" >/dev/null
    wait_text "$1 round $i " || return 1
    id=$(reply "$1" "answer to $1 $i")
    wait_peer "$1" "$id" 10000 || return 1
  done
}
# wait_text PREFIX: a message starting with PREFIX is in our inbox (10 s)
wait_text() {
  for _ in $(seq 1 200); do
    api GET '/api/v1/messages?account=default&after=0&limit=1000'
    [ "$(jq --arg t "$1" '[.messages[] | select((.text // "") | startswith($t))] | length' <<<"$BODY")" -ge 1 ] && return 0
    sleep 0.05
  done
  return 1
}
gw_stop() { kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null; }
fw_stat() { fw GET /admin/stats | jq -r ".$1"; }
metric() {
  curl -s -H "Authorization: Bearer $GW_TOKEN" "http://$GW_LISTEN/metrics" | sed -n "s/^$1{channel=\"whatsapp\",account=\"default\"} //p"
}
