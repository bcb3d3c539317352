#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Received files, end to end, in the REAL daemon against wagate-fakewa's HTTPS media host
# (issue 14): alice's phone uploads an image, a voice note and a document (encrypted with a
# media key, as a phone does) and sends the messages; wagate asks media_conn for the host,
# downloads, decrypts and verifies each into <account>/media/<sha256> (mode 0600), and the
# files are byte-identical to the originals. The inbox rows, GET /api/v1/media/{cursor}, the
# message.media events and the exec hook's stdin (which waits for the file) name them. The
# same file twice is stored once; an expired URL is renewed by the media retry (the sender's
# phone uploads it again); a file the phone lost, or a corrupted one, ends as failed with the
# reason (409 while pending, 410 once failed); a download the server refuses a few times is retried
# with backoff; one pending when the daemon is killed, and one killed in the middle of its
# transfer (40 MB), are fetched after the restart, byte-identical.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
FW_EXTRA="--media 127.0.0.1:0"
fakewa_up
CA=$(sed -n 's/^ca //p' "$T/fw.out")
check "fakewa runs its media host with a test CA" ok_if '[ -s "$CA" ]'

cat >"$T/bot.sh" <<EOF
#!/bin/sh
IFS= read -r msg
printf '%s\n' "\$msg" >>"$T/bot.calls"
exit 0
EOF
mkdir -p "$T/g"
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s",
 "accounts":{"default":{"dm_policy":"open"}}},
 "media":{"ca_file":"%s","hook_wait_s":30},
 "hooks":{"exec":{"command":"sh %s","timeout_ms":3000}}}\n' \
  "$LISTEN" "$ROOT" "$CA" "$T/bot.sh" >"$T/g/wagate.json"

inbox() { api GET '/api/v1/messages?after=0&limit=1000'; printf '%s' "$BODY"; }
row() { inbox | jq -c --arg id "$1" '.messages[] | select(.id==$id)' | tail -1; }
wait_file() { # wait_file ID STATE: the row's file reaches STATE (done / failed)
  for _ in $(seq 1 300); do
    [ "$(row "$1" | jq -r '.file.state // empty')" = "$2" ] && return 0
    sleep 0.05
  done
  echo "# row $1: $(row "$1")"
  return 1
}
# put FILE TYPE [MSG_ID]: the phone's upload; prints fakewa's answer (media key, hashes, path)
put() {
  fw POST /admin/media/put "{\"path\":\"$1\",\"type\":\"$2\",\"encrypt\":true${3:+,\"msg_id\":\"$3\"}}"
}
# send_media PUT-ANSWER JSON-EXTRA: alice sends a media message referencing the file; its id
send_media() {
  fw POST /admin/contacts/alice/send "$(jq -c --argjson x "$2" '. + $x + {"to":"+15550001"}' <<<"$1")" |
    jq -r .id
}

# ---- link ----
check "gateway starts" start_gateway g
check "pairing" wait_state pairing 5000
QR=$(wait_qr)
check "the fake phone scans the QR" grep -q '"jid"' <<<"$(fw POST /admin/scan "{\"qr\":\"$QR\",\"phone\":\"+15550001\"}")"
check "connected" wait_state connected 5000

# ---- three kinds, byte-identical ----
head -c 300000 /dev/urandom >"$T/photo.jpg"
head -c 40000 /dev/urandom >"$T/voice.ogg"
head -c 2100000 /dev/urandom >"$T/report.pdf"
PI=$(put "$T/photo.jpg" image)
PV=$(put "$T/voice.ogg" audio)
PD=$(put "$T/report.pdf" document)
check "the phone uploaded three files" ok_if \
  '[ -n "$(jq -r .direct_path <<<"$PI$PV$PD" | sort -u | grep -c v)" ] && [ "$(fw GET /admin/media | jq .files)" = 3 ]'
S=$(now_ms)
IMG=$(send_media "$PI" '{"kind":"image","caption":"look at this","mimetype":"image/jpeg"}')
PTT=$(send_media "$PV" '{"kind":"ptt","seconds":3,"mimetype":"audio/ogg; codecs=opus"}')
DOC=$(send_media "$PD" '{"kind":"document","file_name":"report.pdf","mimetype":"application/pdf"}')
check "image fetched" wait_file "$IMG" done
check "voice note fetched" wait_file "$PTT" done
check "document fetched" wait_file "$DOC" done
echo "# three files (2.4 MB) stored and verified $(($(now_ms) - S)) ms after the first was sent"
same() { # same ID ORIGINAL: the row's local file is the original, mode 0600, named by its sha256
  local p
  p=$(row "$1" | jq -r .file.path)
  [ -f "$p" ] && cmp -s "$p" "$2" && [ "$(stat -c %a "$p")" = 600 ] &&
    [ "$(basename "$p")" = "$(sha256sum "$2" | cut -d' ' -f1)" ] &&
    [ "$(dirname "$p")" = "$GW_STATE/accounts/default/media" ] || { echo "# $1: $p"; return 1; }
}
check "the image is byte-identical to the original (0600, <account>/media/<sha256>)" same "$IMG" "$T/photo.jpg"
check "the voice note is byte-identical" same "$PTT" "$T/voice.ogg"
check "the document is byte-identical" same "$DOC" "$T/report.pdf"
check "the row keeps the metadata (type, caption, mimetype, file name)" ok_if \
  '[ "$(row "$IMG" | jq -r "[.type,.media.caption,.media.mimetype] | join(\"|\")")" = "image|look at this|image/jpeg" ] &&
   [ "$(row "$PTT" | jq -r .type)" = ptt ] && [ "$(row "$PTT" | jq -r .media.file_length)" = 40000 ] &&
   [ "$(row "$DOC" | jq -r .media.file_name)" = report.pdf ]'
CUR=$(row "$IMG" | jq -r .cursor)
curl -s -o "$T/got.jpg" -D "$T/got.h" -H "Authorization: Bearer $GW_TOKEN" \
  "http://$GW_LISTEN$(row "$IMG" | jq -r .file.url)"
check "GET /api/v1/media/{cursor}: the file, with its mimetype" ok_if \
  'cmp -s "$T/got.jpg" "$T/photo.jpg" && grep -qi "^content-type: image/jpeg" "$T/got.h"'
api GET "/api/v1/media/$CUR?account=nobody"
check "... an unknown account: 404" [ "$CODE" = 404 ]
api GET "/api/v1/media/999999"
check "... an unknown cursor: 404" [ "$CODE" = 404 ]
api GET "/api/v1/media/x1"
check "... not a cursor: 400" [ "$CODE" = 400 ]
hook_file() { grep -F "\"$1\"" "$T/bot.calls" 2>/dev/null | tail -1 | jq -r '.file.state + " " + (.file.path // "")'; }
poll() { for _ in $(seq 1 200); do "$@" && return 0; sleep 0.05; done; return 1; }
check "the hook got the image with its local file (it waited for the download)" poll ok_if \
  '[ "$(hook_file "$IMG")" = "done $(row "$IMG" | jq -r .file.path)" ]'
check "... and the voice note and the document" poll ok_if \
  '[ "$(hook_file "$PTT" | cut -d" " -f1)" = done ] && [ "$(hook_file "$DOC" | cut -d" " -f1)" = done ]'
EV=$(events)
check "message.received carried file.state pending, message.media the result" ok_if \
  '[ "$(jq -r --arg id "$IMG" "select(.type==\"message.received\" and .data.id==\$id) | .data.file.state" <<<"$EV" | head -1)" = pending ] &&
   [ "$(jq -r --arg id "$IMG" "select(.type==\"message.media\" and .data.id==\$id) | .data.file.state" <<<"$EV")" = done ]'

# ---- the same file again: stored once ----
IMG2=$(send_media "$PI" '{"kind":"image","caption":"again"}')
check "the same image again is fetched" wait_file "$IMG2" done
check "... into the same file (content-addressed, one copy)" ok_if \
  '[ "$(row "$IMG2" | jq -r .file.path)" = "$(row "$IMG" | jq -r .file.path)" ] &&
   [ "$(ls "$GW_STATE/accounts/default/media" | grep -vc part)" = 3 ]'

# ---- an expired file: the media retry; a phone that lost it; a corrupted file ----
head -c 5000 /dev/urandom >"$T/old.jpg"
PE=$(put "$T/old.jpg" image)
fw POST /admin/media/expire "{\"enc_sha256\":\"$(jq -r .enc_sha256 <<<"$PE")\"}" >/dev/null
R0=$(fw GET /admin/media | jq .retries_answered)
S=$(now_ms)
EXP=$(send_media "$PE" '{"kind":"image"}')
check "an expired URL: the sender's phone uploads it again (media retry), then fetched" wait_file "$EXP" done
echo "# expired -> media retry -> fetched in $(($(now_ms) - S)) ms"
check "... byte-identical" same "$EXP" "$T/old.jpg"
check "... the phone answered one media retry request" ok_if \
  '[ "$(fw GET /admin/media | jq .retries_answered)" = $((R0 + 1)) ]'
check "... the log says what happened" ok_if \
  'grep -q "expired on the server; asked the sender.s phone to upload it again" "$T/g/err.log" &&
   grep -q "the sender.s phone uploaded the file again" "$T/g/err.log"'
head -c 6000 /dev/urandom >"$T/lost.jpg"
PL=$(put "$T/lost.jpg" image)
fw POST /admin/media/expire "{\"enc_sha256\":\"$(jq -r .enc_sha256 <<<"$PL")\"}" >/dev/null
LOST=$(send_media "$PL" '{"kind":"image","media_retry":false}')
check "expired, and the phone no longer has it: failed" wait_file "$LOST" failed
check "... the reason says expired, the sender must send it again" ok_if \
  'row "$LOST" | jq -r .file.error | grep -q "expired on the server.*sender must send it again"'
api GET "$(row "$LOST" | jq -r .file.url)"
check "... GET /api/v1/media: 410 with the reason" ok_if '[ "$CODE" = 410 ] && grep -q expired <<<"$BODY"'
head -c 7000 /dev/urandom >"$T/bad.jpg"
PB=$(put "$T/bad.jpg" image)
fw POST /admin/media/corrupt "{\"enc_sha256\":\"$(jq -r .enc_sha256 <<<"$PB")\"}" >/dev/null
BAD=$(send_media "$PB" '{"kind":"image"}')
check "a corrupted file: failed as not authentic, nothing kept" ok_if \
  'wait_file "$BAD" failed && row "$BAD" | jq -r .file.error | grep -q "not authentic" &&
   [ ! -e "$GW_STATE/accounts/default/media/$(sha256sum "$T/bad.jpg" | cut -d" " -f1)" ]'
check "the hook got the failed ones too (state failed)" poll ok_if \
  '[ "$(hook_file "$LOST" | cut -d" " -f1)" = failed ] && [ "$(hook_file "$BAD" | cut -d" " -f1)" = failed ]'

# ---- refused twice: retried with backoff ----
head -c 9000 /dev/urandom >"$T/retry.jpg"
PR=$(put "$T/retry.jpg" image)
fw POST /admin/media/fail '{"op":"download","count":2,"status":503}' >/dev/null
S=$(now_ms)
RTY=$(send_media "$PR" '{"kind":"image"}')
check "two 503s, then fetched" wait_file "$RTY" done
echo "# fetched $(($(now_ms) - S)) ms after two refusals (backoff 1 s, 2 s); attempts $(row "$RTY" | jq -r '.file.attempts // 0')"
check "... byte-identical" same "$RTY" "$T/retry.jpg"

api GET /metrics
grep "^wagate_channel_media" <<<"$BODY" | sed 's/^/# /'
check "/metrics counts the files fetched and failed" ok_if \
  'grep -q "^wagate_channel_media_fetched_total{.*account=\"default\"} [1-9]" <<<"$BODY" &&
   grep -q "^wagate_channel_media_failed_total{.*account=\"default\"} [1-9]" <<<"$BODY"'

# ---- pending across a SIGKILL ----
head -c 11000 /dev/urandom >"$T/crash.jpg"
PC=$(put "$T/crash.jpg" image)
fw POST /admin/media/fail '{"op":"download","count":3,"status":503}' >/dev/null
CR=$(send_media "$PC" '{"kind":"image"}')
check "a download still pending" poll ok_if '[ "$(row "$CR" | jq -r .file.state)" = pending ]'
api GET "$(row "$CR" | jq -r .file.url)"
check "... GET /api/v1/media: 409 while pending" [ "$CODE" = 409 ]
kill -9 "$GW_PID"
wait "$GW_PID" 2>/dev/null
check "gateway starts again after SIGKILL" start_gateway g
check "connected again" wait_state connected 10000
check "the pending download is fetched after the restart" wait_file "$CR" done
check "... byte-identical" same "$CR" "$T/crash.jpg"
check "the message reached the hook once across the crash" ok_if \
  '[ "$(grep -cF "\"$CR\"" "$T/bot.calls")" = 1 ]'
check "the earlier files are still there" same "$DOC" "$T/report.pdf"

# ---- SIGKILL in the middle of a download ----
head -c 40000000 /dev/urandom >"$T/big.mp4"
PG=$(put "$T/big.mp4" video)
BIG=$(send_media "$PG" '{"kind":"video","seconds":60}')
MD=$GW_STATE/accounts/default/media
part_growing() { [ "$(stat -c %s "$MD"/*.part 2>/dev/null | head -1)" -gt 1000000 ] 2>/dev/null; }
for _ in $(seq 1 1000); do part_growing && break; sleep 0.005; done
PS=$(stat -c %s "$MD"/*.part 2>/dev/null | head -1)
kill -9 "$GW_PID"
wait "$GW_PID" 2>/dev/null
echo "# killed with ${PS:-no} bytes of the 40 MB video in its .part file"
check "the daemon was killed mid-download (a .part file of some MB)" ok_if '[ "${PS:-0}" -gt 1000000 ]'
check "gateway starts again" start_gateway g
check "the interrupted download completes after the restart" wait_file "$BIG" done
check "... byte-identical" same "$BIG" "$T/big.mp4"
check "no .part file is left after it" ok_if '! ls "$MD" | grep -q "\.part$"'
ls -la "$GW_STATE/accounts/default/media" | grep -q '\.part$' && echo "# a .part file remains"
check "no .part file is left" ok_if '! ls "$GW_STATE/accounts/default/media" | grep -q "\.part$"'
check "no sanitizer report" ok_if '! grep -q "Sanitizer\|runtime error" "$T/g/err.log" "$T/fw.err"'
finish
