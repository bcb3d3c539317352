# SPDX-License-Identifier: MIT
# Shared by tests/fault/*.sh (sourced, not run): a private network namespace when the kernel
# allows one (loopback only either way, so no event of the host's network disturbs the
# timings), fakewa, wagate-testdns answering wa.test through a control file, and a daemon
# linked to fakewa's +15550001 (fault_gateway CONFIG_EXTRA).
#   dns ACTION        rewrite the DNS answer for wa.test (a:IP, nxdomain, servfail, drop)
#   fault JSON        inject a fakewa fault (POST /admin/fault)
#   connected_within MS  wait for `connected`; REC_MS = how long it took
#   attempts          failed attempts so far (status)
if [ -z "${WAGATE_NETNS:-}" ] && unshare -rn true 2>/dev/null; then
  exec unshare -rn env WAGATE_NETNS=1 bash "$0" "$@"
fi
[ -n "${WAGATE_NETNS:-}" ] && ip link set lo up
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../integration/channel-lib.sh"

dns() { echo "wa.test $1" >"$T/dns.ctl.tmp" && mv "$T/dns.ctl.tmp" "$T/dns.ctl"; }
fault() { fw POST /admin/fault "$1" >/dev/null; }
scan() { fw POST /admin/scan "{\"qr\":\"$1\",\"phone\":\"+15550001\"}"; }
attempts() { chan attempts; }
connected_within() {
  local s
  s=$(now_ms)
  wait_state connected "$1" || return 1
  REC_MS=$(( $(now_ms) - s ))
}

# fault_setup: fakewa + testdns (wa.test -> 127.0.0.1).
fault_setup() {
  fakewa_up
  dns a:127.0.0.1
  "$WAGATE_BUILD/wagate-testdns" --listen 127.0.0.1:0 --control "$T/dns.ctl" --verbose \
    >"$T/dns.out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 500); do grep -q '^listening' "$T/dns.out" 2>/dev/null && break; sleep 0.01; done
  DNS=$(sed -n 's/^listening //p' "$T/dns.out")
}

# fault_gateway 'EXTRA' ['TOP']: a daemon whose whatsapp section gets EXTRA (JSON members after
# the endpoint, e.g. '"backoff":{"base_ms":200}') and whose config gets TOP members; paired and
# connected when it returns 0.
fault_gateway() {
  mkdir -p "$T/g"
  printf '{"whatsapp":{"endpoint":"ws://wa.test:%s/ws/chat","noise_root_pubkey":"%s",
    "dns_servers":["%s"]%s}%s}\n' "${LISTEN##*:}" "$ROOT" "$DNS" "${1:+,$1}" "${2:+,$2}" \
    >"$T/g/wagate.json"
  start_gateway g || return 1
  local qr
  qr=$(wait_qr) || return 1
  grep -q '"jid"' <<<"$(scan "$qr")" || return 1
  wait_state connected 15000
}
gwlog() { cat "$T/g/err.log" "$T/g/out.log" 2>/dev/null; }
# has_event TEXT: some event in the gateway's ring contains TEXT (read whole, then searched:
# `events | grep -q` would fail under pipefail when grep stops reading early).
has_event() {
  local ev
  ev=$(events)
  grep -qF -- "$1" <<<"$ev"
}
# need_iptables: skip (77) unless this test runs in its own namespace and the kernel lets
# iptables filter there (never touch the host's rules).
need_iptables() {
  if [ -z "${WAGATE_NETNS:-}" ]; then
    echo "SKIP: no private network namespace (unshare -rn refused): iptables rows not run"
    exit 77
  fi
  if ! command -v iptables >/dev/null; then
    echo "SKIP: iptables is not installed (scripts/deps.sh --test installs it)"
    exit 77
  fi
  local e
  if ! e=$(iptables -w -A OUTPUT -o lo -p tcp --dport 9 -j DROP 2>&1); then
    echo "SKIP: the kernel refuses iptables in a user namespace: $e"
    exit 77
  fi
  iptables -w -D OUTPUT -o lo -p tcp --dport 9 -j DROP
}
# ipt_port ACTION PORT [MATCH...]: add (-I) or delete (-D) a DROP for every TCP segment to
# or from PORT on lo (both directions), with extra match arguments (e.g. a statistic).
ipt_port() {
  local a=$1 p=$2; shift 2
  iptables -w "$a" INPUT -i lo -p tcp --dport "$p" "$@" -j DROP &&
    iptables -w "$a" INPUT -i lo -p tcp --sport "$p" "$@" -j DROP
}
fdcount() { ls "/proc/$GW_PID/fd" 2>/dev/null | wc -l; }
# state_watch MS: poll the state every ~50 ms for MS; prints "STATE DURATION_MS" for each run
# of one state (to $T/watch), so a test can bound how long any one state lasted.
state_watch() {
  local end=$(( $(now_ms) + $1 )) s prev="" t0 t
  t0=$(now_ms)
  : >"$T/watch"
  while t=$(now_ms); [ "$t" -lt "$end" ]; do
    s=$(chan state)
    if [ "$s" != "$prev" ]; then
      [ -n "$prev" ] && echo "$prev $(( t - t0 ))" >>"$T/watch"
      prev=$s t0=$t
    fi
    sleep 0.05
  done
  echo "$prev $(( $(now_ms) - t0 ))" >>"$T/watch"
}
# alice_has TEXT: how many of our messages with this text alice (fakewa) received;
# inbox_prefix_count PREFIX: how many of alice's messages with this prefix reached our inbox.
alice_has() {
  fw GET /admin/contacts/alice/inbox | jq --arg t "$1" '[.messages[] | select(.text==$t)] | length'
}
inbox_prefix_count() {
  api GET '/api/v1/messages?limit=1000'
  jq --arg p "$1" '[.messages[] | select(.text | startswith($p))] | length' <<<"$BODY"
}
# msg_exchange TAG N GAP_S: N messages each way (ours to alice, alice's to us), GAP_S apart;
# then waits up to WAIT_S (default 60) for every one to arrive; LOST / DUP count the
# messages that arrived 0 times / more than once (both directions).
msg_exchange() {
  local tag=$1 n=$2 gap=$3 i c end
  for i in $(seq 1 "$n"); do
    api POST /api/v1/messages "{\"to\":\"+15550002\",\"text\":\"$tag-out-$i\",\"idempotency_key\":\"$tag-$i\"}"
    [ "$CODE" = 202 ] || echo "# send $tag-$i: $CODE $BODY"
    fw POST /admin/contacts/alice/send "{\"to\":\"+15550001\",\"text\":\"$tag-in-$i\"}" >/dev/null
    sleep "$gap"
  done
  end=$(( $(now_ms) + ${WAIT_S:-60} * 1000 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    [ "$(inbox_prefix_count "$tag-in-")" -ge "$n" ] && [ "$(fw GET /admin/contacts/alice/inbox |
      jq --arg p "$tag-out-" '[.messages[] | select(.text | startswith($p))] | length')" -ge "$n" ] &&
      break
    sleep 0.2
  done
  LOST=0 DUP=0
  local inbox alice
  api GET '/api/v1/messages?limit=1000'
  inbox=$BODY
  alice=$(fw GET /admin/contacts/alice/inbox)
  for i in $(seq 1 "$n"); do
    for c in "$(jq --arg t "$tag-in-$i" '[.messages[] | select(.text==$t)] | length' <<<"$inbox")" \
      "$(jq --arg t "$tag-out-$i" '[.messages[] | select(.text==$t)] | length' <<<"$alice")"; do
      [ "$c" = 0 ] && LOST=$((LOST + 1))
      [ "$c" -gt 1 ] && DUP=$((DUP + 1))
    done
  done
}
# dns_queries: A queries for wa.test the test DNS server has seen so far
dns_queries() { grep -c '^testdns: wa.test type 1 ' "$T/dns.out"; }
# wait_delay MS LIMIT: until the channel waits in backoff with at least MS left, within
# LIMIT ms; LEFT = the delay left then.
wait_delay() {
  local end=$(( $(now_ms) + $2 ))
  while [ "$(now_ms)" -lt "$end" ]; do
    api GET /api/v1/channels/whatsapp/default
    if [ "$(jq -r .state <<<"$BODY")" = backoff ] &&
       [ "$(jq -r '.next_retry_ms // 0' <<<"$BODY")" -ge "$1" ]; then
      LEFT=$(jq -r .next_retry_ms <<<"$BODY")
      return 0
    fi
    sleep 0.05
  done
  return 1
}
