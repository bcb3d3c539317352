#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `wagate proto`: decode-node/encode-node reproduce every Baileys vector byte for
# byte through the binary; `proto connect` reports each failure stage precisely
# with the whatsapp.* config (DNS servers from wagate-testdns on loopback).
source "$(dirname "$0")/lib.sh"
VEC=${WAGATE_SOURCE_DIR:?}/../shared/vectors/wa-vectors.json

# Every binary vector: hex -> text -> hex is the identity.
n=0
while read -r hex; do
  n=$((n + 1))
  text=$("$WAGATE_BIN" proto decode-node "$hex") || { nok "vector $n decodes"; continue; }
  back=$("$WAGATE_BIN" proto encode-node <<<"$text")
  want=$(tr -d ' ' <<<"$hex" | tr 'A-F' 'a-f')
  check "vector $n round-trips through text" [ "$back" = "$want" ]
done < <(sed -n 's/.*"hex": *"\([0-9a-fA-F ]*\)".*/\1/p' "$VEC" | head -17)
check "read all 17 binary vectors" [ "$n" -eq 17 ]

"$WAGATE_BIN" proto decode-node 00f80a19 >/dev/null 2>"$T/e"; rc=$?
check "truncated node: exit 1" [ "$rc" -eq 1 ]
check "truncated node: error says where" grep -qi "offset" "$T/e"
"$WAGATE_BIN" proto decode-node zz >/dev/null 2>&1; rc=$?
check "bad hex: exit 1" [ "$rc" -eq 1 ]
"$WAGATE_BIN" proto encode-node <<<"<iq id='1'" >/dev/null 2>&1; rc=$?
check "bad text: exit 1" [ "$rc" -eq 1 ]

# proto connect: typed outcomes through the real connector.
"$WAGATE_BUILD/wagate-testdns" --listen 127.0.0.1:0 --rule nx.test=nxdomain \
  --rule fail.test=servfail --rule up.test=a:127.0.0.1 >"$T/dns.out" 2>/dev/null &
PIDS+=($!)
for _ in $(seq 100); do grep -q listening "$T/dns.out" && break; sleep 0.02; done
port=$(sed -n 's/listening 127.0.0.1:\([0-9]*\)/\1/p' "$T/dns.out")
echo "{\"whatsapp\":{\"dns_servers\":[\"127.0.0.1:$port\"]}}" > "$T/c.json"
pc() { "$WAGATE_BIN" --config "$T/c.json" --state-dir "$T/s" proto connect "$@"; }
out=$(pc wss://nx.test/ws/chat); rc=$?
check "NXDOMAIN reported as such (exit $rc)" grep -q "dns: NXDOMAIN nx.test" <<<"$out"
out=$(pc wss://fail.test/ws/chat)
check "SERVFAIL reported as such" grep -q "dns: SERVFAIL fail.test" <<<"$out"
# Port 1 on loopback is closed (nothing runs as tcpmux here).
out=$(pc ws://up.test:1/ws/chat)
check "refused connection names the address" grep -q "connect: ECONNREFUSED 127.0.0.1:1" <<<"$out"
out=$(pc --json wss://nx.test/ws/chat)
check "--json names the stage" grep -q '"stage":[[:space:]]*"dns"' <<<"$out"

finish
