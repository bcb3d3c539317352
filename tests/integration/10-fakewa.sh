#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# wagate-fakewa through its admin API only (no WhatsApp client): root key, accounts and
# contacts, 1:1 and group messages between simulated phones with real Signal encryption,
# receipts, devices, faults (refuse), WebSocket upgrade, persistence across a restart, and a
# clean SIGTERM exit (ASan leak check included in the exit status).
source "$(dirname "$0")/lib.sh"
FW="${WAGATE_BUILD:?}/wagate-fakewa"
[ -x "$FW" ] || { echo "not ok - $FW not built"; exit 1; }
STATE=$T/fw-state

start_fw() { # sets FW_PID, ADMIN, LISTEN, ROOT
  "$FW" --listen 127.0.0.1:0 --admin 127.0.0.1:0 --state "$STATE" --log-level warn \
    >"$T/fw.out" 2>>"$T/fw.err" &
  FW_PID=$!
  PIDS+=("$FW_PID")
  # bounded: 30 s (an ASan build under a loaded CI machine can be slow to restart)
  for _ in $(seq 1 3000); do grep -q '^ready 1' "$T/fw.out" 2>/dev/null && break; sleep 0.01; done
  ADMIN=$(sed -n 's/^admin //p' "$T/fw.out")
  LISTEN=$(sed -n 's/^listen //p' "$T/fw.out")
  ROOT=$(sed -n 's/^root //p' "$T/fw.out")
  [ -n "$ADMIN" ] && [ -n "$LISTEN" ] && [ ${#ROOT} -eq 64 ]
}
api() { # api METHOD PATH [JSON]: sets BODY and CODE (no subshell, so CODE survives)
  local out
  out=$(curl -s -m 5 -w '\n%{http_code}' -X "$1" ${3:+-H 'content-type: application/json' -d "$3"} \
    "http://$ADMIN$2")
  CODE=${out##*$'\n'}
  BODY=${out%$'\n'*}
}
j() { api "$@"; printf '%s' "$BODY"; } # body only (in a subshell: CODE is lost)
stop_fw() {
  kill -TERM "$FW_PID" 2>/dev/null
  wait "$FW_PID"
}

check "fakewa starts and prints listen/admin/root" start_fw
check "GET /admin/root returns the printed root key" \
  [ "$(j GET /admin/root | jq -r .pubkey)" = "$ROOT" ]
check "root key persisted in the state dir (0600)" [ "$(stat -c %a "$STATE/root.json")" = "600" ]

api POST /admin/accounts '{"phone":"12"}'
check "bad phone number is 400" [ "$CODE" = 400 ]
api POST /admin/accounts '{"phone":"+15550001"}'; acc=$BODY
check "account created (201)" [ "$CODE" = 201 ]
check "account has a PN jid and a LID" \
  [ "$(jq -r .jid <<<"$acc")" = 15550001@s.whatsapp.net ] && grep -q '@lid' <<<"$acc"
api POST /admin/accounts '{"phone":"+1 555 0001"}' >/dev/null
check "duplicate phone is 409" [ "$CODE" = 409 ]
api POST /admin/contacts '{"name":"alice","phone":"+15550002"}' >/dev/null
check "contact alice created" [ "$CODE" = 201 ]
api POST /admin/contacts '{"name":"bob","phone":"+15550003"}' >/dev/null
check "contact bob created" [ "$CODE" = 201 ]

api POST /admin/contacts/alice/send '{"to":"bob","text":"hi bob"}'; id1=$(jq -r .id <<<"$BODY")
check "alice sends to bob" [ "$CODE" = 200 ] && [[ "$id1" == 3EB0* ]]
inb=$(j GET /admin/contacts/bob/inbox)
check "bob decrypted alice's pkmsg" \
  [ "$(jq -r --arg id "$id1" '.messages[] | select(.id==$id) | "\(.ok) \(.text)"' <<<"$inb")" = "true hi bob" ]
check "alice got bob's delivery receipt" \
  [ "$(j GET /admin/contacts/alice/inbox | jq -r --arg id "$id1" '[.receipts[] | select(.id==$id)] | length')" -ge 1 ]
id2=$(j POST /admin/contacts/bob/send '{"to":"+15550002","text":"hi alice"}' | jq -r .id)
check "bob replies and alice decrypts (msg on the same session)" \
  [ "$(j GET /admin/contacts/alice/inbox | jq -r --arg id "$id2" '.messages[] | select(.id==$id) | .text')" = "hi alice" ]
for i in $(seq 1 20); do api POST /admin/contacts/alice/send "{\"to\":\"bob\",\"text\":\"n$i\"}" >/dev/null; done
check "20 more messages all decrypt in order" \
  [ "$(j GET /admin/contacts/bob/inbox | jq -r '[.messages[] | select(.ok) | .text] | join(",")' | tr ',' '\n' | tail -1)" = n20 ]
check "the inbox's total counts every message it got" \
  [ "$(j GET /admin/contacts/bob/inbox | jq -r '.total == (.messages | length) and .total >= 21')" = true ]

api POST /admin/groups '{"subject":"team","members":["alice","bob","+15550001"]}'; g=$(jq -r .jid <<<"$BODY")
check "group created" [ "$CODE" = 201 ] && [[ "$g" == *@g.us ]]
api POST /admin/contacts/alice/send "{\"to\":\"$g\",\"text\":\"hello team\"}"; gid=$(jq -r .id <<<"$BODY")
check "alice sends to the group" [ "$CODE" = 200 ]
check "bob decrypts the skmsg" \
  [ "$(j GET /admin/contacts/bob/inbox | jq -r --arg id "$gid" '.messages[] | select(.id==$id) | "\(.kind) \(.text)"')" = "group hello team" ]
check "the plain account's phone decrypts it too" \
  [ "$(j GET /admin/contacts/15550001/inbox | jq -r --arg id "$gid" '.messages[] | select(.id==$id) | .text')" = "hello team" ]
api POST /admin/contacts/alice/send '{"to":"nobody","text":"x"}' >/dev/null
check "unknown recipient is 404" [ "$CODE" = 404 ]

devs=$(j GET '/admin/devices?phone=%2B15550001')
check "devices: the simulated phone is device 0" \
  [ "$(jq -r '.[0] | "\(.device) \(.simulated) \(.registered)"' <<<"$devs")" = "0 true true" ]
check "accounts list has 3 accounts" [ "$(j GET /admin/accounts | jq length)" = 3 ]

ws_code() {
  curl -s -m 3 -o /dev/null -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
    -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
    -H 'Origin: https://web.whatsapp.com' "http://$LISTEN$1" 2>/dev/null
}
check "WebSocket upgrade on /ws/chat is 101" [ "$(ws_code /ws/chat)" = 101 ]
check "other paths are 404" [ "$(ws_code /nope)" = 404 ]
api POST /admin/fault '{"type":"refuse","duration_ms":500}' >/dev/null
check "fault refuse: upgrades get 503" [ "$(ws_code /ws/chat)" = 503 ]
sleep 0.7
check "after the refuse window upgrades work again" [ "$(ws_code /ws/chat)" = 101 ]
api POST /admin/fault '{"type":"explode"}' >/dev/null
check "unknown fault type is 400" [ "$CODE" = 400 ]
st=$(j GET /admin/stats)
check "stats count the simulated decryptions" [ "$(jq .sim_decrypted <<<"$st")" -ge 24 ]
check "no simulated decryption failed" [ "$(jq .sim_decrypt_failures <<<"$st")" = 0 ]
check "unknown admin path is 404" [ "$(api GET /admin/nope; echo "$CODE")" = 404 ]

check "SIGTERM: clean exit (status 0, no leaks)" stop_fw
check "restart on the same state" start_fw
check "root key survives the restart" [ "$(j GET /admin/root | jq -r .pubkey)" = "$ROOT" ]
check "accounts survive the restart" \
  [ "$(j GET /admin/accounts | jq -r '[.[] | .name // .phone] | sort | join(",")')" = "15550001,alice,bob" ]
check "groups survive the restart" [ "$(j GET /admin/stats | jq .groups)" = 1 ]
id3=$(j POST /admin/contacts/alice/send '{"to":"bob","text":"after restart"}' | jq -r .id)
check "messaging works after the restart (new sessions)" \
  [ "$(j GET /admin/contacts/bob/inbox | jq -r --arg id "$id3" '.messages[] | select(.id==$id) | .text')" = "after restart" ]
check "second SIGTERM: clean exit" stop_fw
if [ -s "$T/fw.err" ]; then sed 's/^/# /' "$T/fw.err" | head -40; fi
finish
