#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every everyday message kind, in and out, in the REAL daemon against wagate-fakewa (issue 14):
# alice's phone sends an image, a video, a voice note, audio, a document, a sticker, a
# location, a contact, two contacts, a reply with mentions, a reaction (and its removal), an
# edit and a revoke; the inbox rows (GET /api/v1/messages), the message.received events and
# the exec hook's stdin carry the metadata, the edit/revoke targets are marked edited/revoked,
# the download references sit in inbox_media (not shown to the agent). wagate replies to,
# reacts to and mentions alice, edits and revokes its own message, splits a long text at
# whatsapp.chunk_size on word boundaries (a retry sends no chunk twice), sends chatstates
# (API and hooks.exec.typing) and read receipts (whatsapp.mark_read on_handled); fakewa's
# phone records what it decoded.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
fakewa_up

cat >"$T/bot.sh" <<EOF
#!/bin/sh
IFS= read -r msg
printf '%s\n' "\$msg" >>"$T/bot.calls"
case "\$msg" in
  *'"type":"image"'*) echo "nice picture" ;;
esac
exit 0
EOF
mkdir -p "$T/g"
# media.hook_wait_s 0: simkinds' media references no file on a media host, so the fetch only
# fails and retries; the hook must not wait for it here (39-media tests the wait).
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s","chunk_size":50,
 "mark_read":"on_handled","accounts":{"default":{"dm_policy":"open"}}},
 "media":{"hook_wait_s":0},
 "hooks":{"exec":{"command":"sh %s","timeout_ms":3000,"typing":true}}}\n' \
  "$LISTEN" "$ROOT" "$T/bot.sh" >"$T/g/wagate.json"

ME=15550001@s.whatsapp.net
AL=15550002@s.whatsapp.net
send() { fw POST /admin/contacts/alice/send "$1" | jq -r .id; }
inbox() { api GET '/api/v1/messages?after=0&limit=1000'; printf '%s' "$BODY"; }
row() { inbox | jq -c --arg id "$1" '.messages[] | select(.id==$id)' | tail -1; }
wait_row() { # wait_row ID JQ-CONDITION
  for _ in $(seq 1 200); do
    [ "$(row "$1" | jq -r "$2" 2>/dev/null)" = true ] && return 0
    sleep 0.05
  done
  echo "# row $1: $(row "$1")"
  return 1
}
alice_in() { fw GET /admin/contacts/alice/inbox; }
poll() { for _ in $(seq 1 100); do "$@" && return 0; sleep 0.05; done; return 1; }
wait_alice() { # wait_alice JQ-FILTER-ON-.messages[]: true once one message matches
  for _ in $(seq 1 200); do
    [ "$(alice_in | jq "[.messages[] | select($1)] | length")" -ge 1 ] && return 0
    sleep 0.05
  done
  echo "# alice's inbox: $(alice_in | jq -c '.messages[-3:]')"
  return 1
}

# ---- link ----
check "gateway starts" start_gateway g
check "pairing" wait_state pairing 5000
QR=$(wait_qr)
check "the fake phone scans the QR" grep -q '"jid"' <<<"$(fw POST /admin/scan "{\"qr\":\"$QR\",\"phone\":\"+15550001\"}")"
check "connected" wait_state connected 10000

# ---- alice sends each kind ----
T1=$(send '{"to":"+15550001","text":"first, to be quoted"}')
check "a text arrives" wait_row "$T1" '.type=="text"'
IMG=$(send '{"to":"+15550001","kind":"image","caption":"a sunset","width":800,"height":600}')
check "image: type, mimetype, caption, size, width/height, sha256" wait_row "$IMG" \
  '.type=="image" and .media.mimetype=="image/jpeg" and .media.caption=="a sunset" and .media.file_length>0 and .media.width==800 and .media.height==600 and (.media.sha256|length)==64'
check "image: no payload_hex, no media key or URL for the agent" ok_if \
  '[ "$(row "$IMG" | jq "has(\"payload_hex\") or (tostring|test(\"media_key|direct_path|mmg\"))")" = false ]'
VID=$(send '{"to":"+15550001","kind":"video","caption":"clip","seconds":42}')
check "video: seconds, caption" wait_row "$VID" '.type=="video" and .media.seconds==42 and .media.caption=="clip"'
PTT=$(send '{"to":"+15550001","kind":"ptt","seconds":7}')
check "voice note: type ptt, opus, 7 s" wait_row "$PTT" \
  '.type=="ptt" and (.media.mimetype|startswith("audio/ogg")) and .media.seconds==7'
AUD=$(send '{"to":"+15550001","kind":"audio","seconds":180}')
check "audio: type audio" wait_row "$AUD" '.type=="audio" and .media.seconds==180'
DOC=$(send '{"to":"+15550001","kind":"document","file_name":"report.pdf","caption":"Q3"}')
check "document: file name, caption, mimetype" wait_row "$DOC" \
  '.type=="document" and .media.file_name=="report.pdf" and .media.caption=="Q3" and .media.mimetype=="application/pdf"'
STK=$(send '{"to":"+15550001","kind":"sticker"}')
check "sticker: webp" wait_row "$STK" '.type=="sticker" and .media.mimetype=="image/webp"'
LOC=$(send '{"to":"+15550001","kind":"location","lat":48.8584,"long":2.2945,"name":"Tour Eiffel"}')
check "location: lat, long, name" wait_row "$LOC" \
  '.type=="location" and .location.lat==48.8584 and .location.long==2.2945 and .location.name=="Tour Eiffel"'
CON=$(send '{"to":"+15550001","kind":"contact","name":"Carol"}')
check "contact: name and vCard" wait_row "$CON" \
  '.type=="contact" and .contacts[0].name=="Carol" and (.contacts[0].vcard|startswith("BEGIN:VCARD"))'
CONS=$(send '{"to":"+15550001","kind":"contacts"}')
check "two contacts: an array of two" wait_row "$CONS" '.type=="contact" and (.contacts|length)==2'
REP=$(send "{\"to\":\"+15550001\",\"text\":\"replying @15550001\",\"reply_to\":{\"id\":\"$T1\",\"participant\":\"$ME\",\"text\":\"first, to be quoted\"},\"mentions\":[\"$ME\"]}")
check "a reply: quoted id and participant, mentions" wait_row "$REP" \
  ".type==\"text\" and .quoted.id==\"$T1\" and .quoted.participant==\"$ME\" and .mentions==[\"$ME\"] and .text==\"replying @15550001\""
RX=$(send "{\"to\":\"+15550001\",\"kind\":\"reaction\",\"target\":\"$IMG\",\"target_from_me\":true,\"emoji\":\"👍\"}")
check "a reaction: target and emoji" wait_row "$RX" \
  ".type==\"reaction\" and .reaction.target==\"$IMG\" and .reaction.emoji==\"👍\" and .reaction.removed==false"
RX0=$(send "{\"to\":\"+15550001\",\"kind\":\"reaction\",\"target\":\"$IMG\",\"target_from_me\":true,\"emoji\":\"\"}")
check "an empty emoji: the reaction removed" wait_row "$RX0" '.type=="reaction" and .reaction.removed==true'
ED=$(send "{\"to\":\"+15550001\",\"kind\":\"edit\",\"target\":\"$T1\",\"text\":\"first, edited\"}")
check "an edit is delivered with its target and text" wait_row "$ED" \
  ".type==\"edit\" and .edit.target==\"$T1\" and .edit.text==\"first, edited\""
check "... and the target row is marked edited with the new text (the original kept)" wait_row "$T1" \
  '.edited.text=="first, edited" and .edited.ts>0 and .text=="first, to be quoted"'
RV=$(send "{\"to\":\"+15550001\",\"kind\":\"revoke\",\"target\":\"$DOC\"}")
check "a revoke is delivered with its target" wait_row "$RV" ".type==\"revoke\" and .revoke.target==\"$DOC\""
check "... and the target row is marked revoked" wait_row "$DOC" '.revoked>0'

# ---- the event stream, the hook, the media references ----
ev=$(events)
check "message.received of the image carries the metadata" ok_if \
  "[ \"\$(jq -r 'select(.type==\"message.received\" and .data.id==\"$IMG\") | .data.media.caption' <<<\"\$ev\")\" = 'a sunset' ]"
check "message.received of the edit and the revoke" ok_if \
  "[ \"\$(jq -r 'select(.type==\"message.received\" and (.data.type==\"edit\" or .data.type==\"revoke\")) | .data.id' <<<\"\$ev\" | sort -u | wc -l)\" = 2 ]"
for _ in $(seq 1 100); do grep -q "\"id\":\"$IMG\"" "$T/bot.calls" 2>/dev/null && break; sleep 0.05; done
stdin=$(grep -F "\"id\":\"$IMG\"" "$T/bot.calls" | head -1)
check "the exec hook ran for the image with its metadata on stdin" ok_if \
  '[ "$(jq -r ".type + \" \" + .media.caption" <<<"$stdin")" = "image a sunset" ]'
check "the hook ran for the location and the voice note too (not for reactions or edits)" ok_if \
  "grep -q '\"id\":\"$LOC\"' $T/bot.calls && grep -q '\"id\":\"$PTT\"' $T/bot.calls && ! grep -q '\"id\":\"$RX\"' $T/bot.calls && ! grep -q '\"id\":\"$ED\"' $T/bot.calls"
check "the hook's reply to the image reached alice" wait_alice '.text=="nice picture"'
DB="$T/g/state/accounts/default/wa.db"
[ -f "$DB" ] || DB=$(find "$T/g" -name wa.db | head -1)
media=$(sqlite3 "$DB" "SELECT m.kind, length(m.media_key), length(m.enc_sha256), m.direct_path LIKE '/v/t62.7118-24/%', m.url LIKE 'https://mmg.whatsapp.net/%' FROM inbox_media m JOIN inbox i ON i.cursor = m.cursor WHERE i.msg_id = '$IMG'")
check "inbox_media keeps the image's media key, enc hash, direct path and URL" ok_if \
  '[ "$media" = "image|32|32|1|1" ]'
check "one inbox_media row per media message (image video ptt audio document sticker)" ok_if \
  '[ "$(sqlite3 "$DB" "SELECT count(*) FROM inbox_media")" = 6 ]'
read_rcpt() { alice_in | jq -e --arg id "$1" '.receipts[] | select(.id==$id and .type=="read")' >/dev/null; }
states_to() { fw GET /admin/chatstates | jq -c --arg to "$1" '[.chatstates[] | select(.to==$to) | .state + (.media // "")]'; }
typed() { [ "$(states_to "$AL" | jq 'index("composing") != null and index("paused") != null')" = true ]; }
check "mark_read on_handled: alice got a read receipt for the handled image" poll read_rcpt "$IMG"
check "... not for the reaction (not handed to the hook)" ok_if '! read_rcpt "$RX"'
check "hooks.exec.typing: composing, then paused, to alice while the hook ran" poll typed

# ---- wagate sends ----
api POST /api/v1/messages "{\"to\":\"+15550002\",\"text\":\"that was a good one\",\"reply_to\":\"$T1\"}"
check "a reply (202)" ok_if '[ "$CODE" = 202 ]'
check "alice decodes the reply: quoted id, participant (her), quoted text" \
  wait_alice ".text==\"that was a good one\" and .what.quoted.id==\"$T1\" and .what.quoted.participant==\"$AL\" and .what.quoted.text==\"first, to be quoted\""
api POST /api/v1/messages "{\"to\":\"+15550002\",\"text\":\"look at this\",\"reply_to\":\"$IMG\"}"
check "a reply to the image quotes the image" ok_if '[ "$CODE" = 202 ]'
check "... alice sees it quoted" wait_alice ".text==\"look at this\" and .what.quoted.id==\"$IMG\""
api POST /api/v1/messages '{"to":"+15550002","text":"x","reply_to":"NOSUCHID"}'
check "a reply to an unknown message: 404" ok_if '[ "$CODE" = 404 ]'
api POST /api/v1/messages "{\"to\":\"+15550002\",\"reaction\":{\"message_id\":\"$T1\",\"emoji\":\"❤️\"}}"
check "a reaction (202)" ok_if '[ "$CODE" = 202 ]'
check "alice decodes it: target her message, emoji, from_me false" \
  wait_alice ".what.type==\"reaction\" and .what.reaction.target==\"$T1\" and .what.reaction.emoji==\"❤️\" and .what.reaction.from_me==false"
api POST /api/v1/messages "{\"to\":\"+15550002\",\"reaction\":{\"message_id\":\"$T1\",\"emoji\":\"\"}}"
check "removing it: an empty emoji reaches alice" \
  wait_alice ".what.type==\"reaction\" and .what.reaction.target==\"$T1\" and .what.reaction.emoji==\"\""
api POST /api/v1/messages '{"to":"+15550002","text":"hi @15550002","mentions":["+15550002"]}'
check "a mention (202)" ok_if '[ "$CODE" = 202 ]'
check "alice decodes the mention" wait_alice ".text==\"hi @15550002\" and .what.mentions==[\"$AL\"]"
api POST /api/v1/messages '{"to":"+15550002","text":"to be edited"}'
OWN=$(jq -r .id <<<"$BODY")
check "alice got our message" wait_alice '.text=="to be edited"'
api POST /api/v1/messages "{\"to\":\"+15550002\",\"edit\":{\"message_id\":\"$OWN\",\"text\":\"edited by wagate\"}}"
check "an edit of our own message (202)" ok_if '[ "$CODE" = 202 ]'
check "alice decodes the edit" wait_alice ".what.type==\"edit\" and .what.edit.target==\"$OWN\" and .what.edit.text==\"edited by wagate\""
api POST /api/v1/messages "{\"to\":\"+15550002\",\"edit\":{\"message_id\":\"$T1\",\"text\":\"not ours\"}}"
check "editing alice's message is refused (404: not sent by us)" ok_if '[ "$CODE" = 404 ]'
api POST /api/v1/messages "{\"to\":\"+15550002\",\"revoke\":{\"message_id\":\"$OWN\"}}"
check "a revoke of our own message (202)" ok_if '[ "$CODE" = 202 ]'
check "alice decodes the revoke" wait_alice ".what.type==\"revoke\" and .what.revoke.target==\"$OWN\""

# ---- in a group: the participant names the author ----
GJ=$(fw POST /admin/groups '{"subject":"kinds","members":["+15550001","alice"]}' | jq -r .jid)
GT=$(send "{\"to\":\"$GJ\",\"kind\":\"image\",\"caption\":\"group pic @15550001\",\"mentions\":[\"$ME\"]}")
check "a group image with a mention: sender alice, media and mentions" wait_row "$GT" \
  ".chat==\"$GJ\" and .sender==\"$AL\" and .media.caption==\"group pic @15550001\" and .mentions==[\"$ME\"]"
api POST /api/v1/messages "{\"to\":\"$GJ\",\"text\":\"nice, @15550002\",\"reply_to\":\"$GT\",\"mentions\":[\"+15550002\"]}"
check "a group reply with a mention (202)" ok_if '[ "$CODE" = 202 ]'
check "alice decodes it: quoted her image (participant = alice), mentions her" \
  wait_alice ".text==\"nice, @15550002\" and .kind==\"group\" and .what.quoted.id==\"$GT\" and .what.quoted.participant==\"$AL\" and .what.mentions==[\"$AL\"]"
api POST /api/v1/messages "{\"to\":\"$GJ\",\"reaction\":{\"message_id\":\"$GT\",\"emoji\":\"😂\"}}"
check "a group reaction: the key names the group, the image and its author" \
  wait_alice ".kind==\"group\" and .what.reaction.target==\"$GT\" and .what.reaction.participant==\"$AL\" and .what.reaction.emoji==\"😂\""

# ---- the CLI ----
cli() { "$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$GW_STATE" "$@"; }
out=$(cli message send --to +15550002 --text "via cli" --reply-to "$T1" --json)
check "wagate message send --reply-to" ok_if '[ "$(jq -r .state <<<"$out")" = queued ]'
check "... alice sees the quote" wait_alice ".text==\"via cli\" and .what.quoted.id==\"$T1\""
out=$(cli message react "$LOC" "🎉" --json)
check "wagate message react ID EMOJI (the chat found from the id)" ok_if '[ "$(jq -r .state <<<"$out")" = queued ]'
check "... alice sees the reaction on her location" \
  wait_alice ".what.type==\"reaction\" and .what.reaction.target==\"$LOC\" and .what.reaction.emoji==\"🎉\""
check "wagate message react on an unknown id fails" ok_if '! cli message react NOSUCH "x" >/dev/null 2>&1'

# ---- long texts in chunks ----
LONG="The quick brown fox jumps over the lazy dog and keeps running far away into the woods until night falls"
api POST /api/v1/messages "{\"to\":\"+15550002\",\"text\":\"$LONG\",\"idempotency_key\":\"long-1\"}"
check "a long text: 202 with chunks 3 (chunk_size 50)" ok_if \
  '[ "$CODE" = 202 ] && [ "$(jq -r .chunks <<<"$BODY")" = 3 ]'
check "alice gets the last chunk" wait_alice '.text and (.text|endswith("falls"))'
chunks=$(alice_in | jq -c '[.messages[] | select(.text and (.text|test("quick brown|keeps running|falls$"))) | .text]')
check "three chunks, each at most 50 characters, cut between words, together the text" ok_if \
  '[ "$(jq -r "length" <<<"$chunks")" = 3 ] && [ "$(jq -r "map(length <= 50) | all" <<<"$chunks")" = true ] && [ "$(jq -r "join(\" \")" <<<"$chunks")" = "$LONG" ]'
api POST /api/v1/messages "{\"to\":\"+15550002\",\"text\":\"$LONG\",\"idempotency_key\":\"long-1\"}"
check "the same request again: a duplicate (200), chunks 3" ok_if \
  '[ "$CODE" = 200 ] && [ "$(jq -r .duplicate <<<"$BODY")" = true ]'
sleep 0.5
check "... and alice still has each chunk once" ok_if \
  "[ \"\$(alice_in | jq '[.messages[] | select(.text and (.text|endswith(\"falls\")))] | length')\" = 1 ]"

# ---- chatstate ----
api POST "/api/v1/chats/$AL/chatstate" '{"state":"recording"}'
check "POST /api/v1/chats/{jid}/chatstate recording: 202" ok_if '[ "$CODE" = 202 ]'
recording() { [ "$(states_to "$AL" | jq 'index("composingaudio") != null')" = true ]; }
check "fakewa saw <chatstate><composing media=audio/></chatstate> to alice" poll recording
api POST "/api/v1/chats/$AL/chatstate" '{"state":"dancing"}'
check "an unknown state: 400" ok_if '[ "$CODE" = 400 ]'

kill -TERM "$GW_PID"; wait "$GW_PID"
kill -TERM "$FW_PID"; wait "$FW_PID"
check "no sanitizer report (leaks included, after the exits)" ok_if \
  '! grep -q "Sanitizer\|runtime error" "$T/g/err.log" "$T/fw.err"'
grep -A20 'Sanitizer\|runtime error' "$T/g/err.log" "$T/fw.err" | head -40 | sed 's/^/# /' 
finish
