#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sending files, end to end, in the REAL daemon against wagate-fakewa's HTTPS media host
# (issue 14): POST /api/v1/messages with an image, a video, an audio file, a voice note, a
# document and a sticker -- by {"path"} and as a raw body -- is answered 202 once the file's
# copy (<account>/outmedia/<id>, 0600) is durable; wagate asks media_conn for the host,
# encrypts and uploads the copy, sends the message, and alice's phone downloads and decrypts
# a byte-identical file (MAC and both hashes checked by fakewa). Captions, the document's file
# name, ptt and a reply's quote reach her. The copy is gone once the server acked the message.
# Bad inputs are clear 400s. Uploads the server refuses are retried; a refusal every time
# ends as failed with the reason. A SIGKILL while an upload is under way (fakewa holds its
# answer): after the restart the upload starts over and the message reaches alice exactly once.
# Real files (made by wagate-test-mkmedia) arrive with what they say about themselves: an
# image's width, height and a decodable 32-pixel jpegThumbnail, a video's size and seconds, a
# voice note's seconds and 64-byte waveform; random bytes go without (the probe never fails a
# send).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
FW_EXTRA="--media 127.0.0.1:0"
fakewa_up
CA=$(sed -n 's/^ca //p' "$T/fw.out")
# a loopback web server for files sent from a URL (media.url_allow: only its /ok/ prefix)
mkdir -p "$T/web/ok" "$T/web/secret"
python3 -u -m http.server --bind 127.0.0.1 --directory "$T/web" 0 >"$T/web.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q "port" "$T/web.out" 2>/dev/null && break; sleep 0.05; done
WEB="127.0.0.1:$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$T/web.out" | head -1)"
mkdir -p "$T/g"
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s",
 "accounts":{"default":{"dm_policy":"open"}}},
 "media":{"ca_file":"%s","url_allow":["http://%s/ok/"]}}\n' "$LISTEN" "$ROOT" "$CA" "$WEB" >"$T/g/wagate.json"

alice_in() { fw GET /admin/contacts/alice/inbox; }
# alice_msg ID: what alice's phone got for message ID (the last copy)
alice_msg() { alice_in | jq -c --arg id "$1" '[.messages[] | select(.id==$id)] | last // empty'; }
wait_alice() { # wait_alice ID: alice got it, with its file downloaded
  for _ in $(seq 1 200); do
    [ "$(alice_msg "$1" | jq -r '.what.file.ok // empty')" = true ] && return 0
    sleep 0.05
  done
  echo "# alice got: $(alice_msg "$1")"
  return 1
}
# same ID ORIGINAL: what alice decrypted is the original, byte for byte
same() { local p; p=$(alice_msg "$1" | jq -r .what.file.path); cmp -s "$p" "$2"; }
status_of() { api GET "/api/v1/messages/$1"; jq -r .state <<<"$BODY"; }
wait_status() { # wait_status ID REGEX: the outbox state matches (sent|delivered|read)
  local st
  for _ in $(seq 1 200); do
    st=$(status_of "$1")
    [[ "$st" =~ ^($2)$ ]] && return 0
    sleep 0.05
  done
  echo "# message $1: $st"
  return 1
}
send() { api POST /api/v1/messages "$1"; ID=$(jq -r '.id // empty' <<<"$BODY"); } # sets ID
# raw TYPE CONTENT-TYPE FILE QUERY: a raw-body upload; sets BODY and CODE
raw() {
  local out
  out=$(curl -s -m 10 -w '\n%{http_code}' -X POST -H "Authorization: Bearer $GW_TOKEN" \
    -H "Content-Type: $2" --data-binary "@$3" \
    "http://$GW_LISTEN/api/v1/messages?to=%2B15550002&type=$1${4:+&$4}")
  CODE=${out##*$'\n'}
  BODY=${out%$'\n'*}
}
OUT() { echo "$GW_STATE/accounts/default/outmedia"; }

# ---- link ----
check "gateway starts" start_gateway g
check "pairing" wait_state pairing 5000
QR=$(wait_qr)
check "the fake phone scans the QR" grep -q '"jid"' <<<"$(fw POST /admin/scan "{\"qr\":\"$QR\",\"phone\":\"+15550001\"}")"
check "connected" wait_state connected 5000

# ---- every kind by path ----
head -c 300000 /dev/urandom >"$T/photo.jpg"
head -c 1500000 /dev/urandom >"$T/clip.mp4"
head -c 90000 /dev/urandom >"$T/song.mp3"
head -c 40000 /dev/urandom >"$T/voice.ogg"
head -c 2100000 /dev/urandom >"$T/report.pdf"
head -c 20000 /dev/urandom >"$T/sticker.webp"
S=$(now_ms)
send "{\"to\":\"+15550002\",\"image\":{\"path\":\"$T/photo.jpg\"},\"caption\":\"look at this\"}"; IMG=$ID
check "an image by path: 202 with an id" ok_if '[ "$CODE" = 202 ] && [ -n "$IMG" ]'
send "{\"to\":\"+15550002\",\"video\":{\"path\":\"$T/clip.mp4\"},\"caption\":\"a clip\",\"seconds\":4}"; VID=$ID
send "{\"to\":\"+15550002\",\"audio\":{\"path\":\"$T/song.mp3\"}}"; AUD=$ID
send "{\"to\":\"+15550002\",\"audio\":{\"path\":\"$T/voice.ogg\"},\"ptt\":true,\"seconds\":3}"; PTT=$ID
send "{\"to\":\"+15550002\",\"document\":{\"path\":\"$T/report.pdf\"},\"caption\":\"Q3\"}"; DOC=$ID
send "{\"to\":\"+15550002\",\"sticker\":{\"path\":\"$T/sticker.webp\"}}"; STK=$ID
check "six kinds accepted" ok_if '[ -n "$VID" ] && [ -n "$AUD" ] && [ -n "$PTT" ] && [ -n "$DOC" ] && [ -n "$STK" ]'
for k in IMG VID AUD PTT DOC STK; do
  check "$k reaches alice with its file" wait_alice "${!k}"
done
echo "# six files (4 MB) uploaded, sent and decrypted by alice $(($(now_ms) - S)) ms after the first was accepted"
check "the image is byte-identical" same "$IMG" "$T/photo.jpg"
check "the video is byte-identical" same "$VID" "$T/clip.mp4"
check "the audio is byte-identical" same "$AUD" "$T/song.mp3"
check "the voice note is byte-identical" same "$PTT" "$T/voice.ogg"
check "the document is byte-identical" same "$DOC" "$T/report.pdf"
check "the sticker is byte-identical" same "$STK" "$T/sticker.webp"
alice_msg "$IMG" >"$T/img.json"; alice_msg "$PTT" >"$T/ptt.json"; alice_msg "$DOC" >"$T/doc.json"
check "alice sees an image with its caption and mimetype" ok_if \
  "jq -e '.what.type==\"image\" and .what.caption==\"look at this\" and .what.file.mimetype==\"image/jpeg\"' $T/img.json >/dev/null"
check "alice sees a voice note (ptt, opus)" ok_if \
  "jq -e '.what.type==\"ptt\" and (.what.file.mimetype|startswith(\"audio/ogg\"))' $T/ptt.json >/dev/null"
check "alice sees the document's name and caption" ok_if \
  "jq -e '.what.type==\"document\" and .what.file_name==\"report.pdf\" and .what.file.mimetype==\"application/pdf\"' $T/doc.json >/dev/null"
check "the messages are sent (acked) and their copies removed" ok_if \
  'for k in IMG VID AUD PTT DOC STK; do wait_status "${!k}" "sent|delivered|read" || return 1; done; [ -z "$(ls -A "$(OUT)")" ]'

# ---- what a file says about itself: sizes, thumbnail, duration, waveform ----
MK="$WAGATE_BUILD/wagate-test-mkmedia"
"$MK" jpeg 1600 1200 "$T/real.jpg" && "$MK" png 300 200 "$T/real.png" &&
  "$MK" mp4 1280 720 4600 "$T/real.mp4" && "$MK" opus 3200 "$T/real.ogg"
check "real media files made (wagate-test-mkmedia)" ok_if '[ -s "$T/real.jpg" ] && [ -s "$T/real.ogg" ]'
send "{\"to\":\"+15550002\",\"image\":{\"path\":\"$T/real.jpg\"}}"; PJ=$ID
send "{\"to\":\"+15550002\",\"video\":{\"path\":\"$T/real.mp4\"}}"; PV=$ID
send "{\"to\":\"+15550002\",\"audio\":{\"path\":\"$T/real.ogg\"},\"ptt\":true}"; PP=$ID
send "{\"to\":\"+15550002\",\"audio\":{\"path\":\"$T/real.ogg\"},\"ptt\":true,\"seconds\":9}"; PS=$ID
raw image image/png "$T/real.png"; PR=$(jq -r '.id // empty' <<<"$BODY")
for k in PJ PV PP PS PR; do check "$k reaches alice" wait_alice "${!k}"; done
alice_msg "$PJ" >"$T/pj.json"
check "alice's image has its width and height (1600 x 1200)" ok_if \
  "jq -e '.what.width==1600 and .what.height==1200' $T/pj.json >/dev/null"
jq -r .what.thumbnail "$T/pj.json" | base64 -d >"$T/thumb.jpg" 2>/dev/null
TI=$("$MK" jpeginfo "$T/thumb.jpg")
check "... and a jpegThumbnail that decodes: 32 x 24, its top-left red ($TI)" ok_if \
  '[[ "$TI" =~ ^32\ 24\ ([0-9]+),([0-9]+),([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -gt 200 ] && [ "${BASH_REMATCH[2]}" -lt 60 ]'
check "the raw PNG body too: 300 x 200 and a 32 x 21 thumbnail" ok_if \
  "alice_msg $PR | jq -e '.what.width==300 and .what.height==200' >/dev/null &&
   alice_msg $PR | jq -r .what.thumbnail | base64 -d >$T/thumb2.jpg && \"\$MK\" jpeginfo $T/thumb2.jpg | grep -q '^32 21 '"
check "alice's video has 1280 x 720 and 5 seconds from its boxes (no thumbnail)" ok_if \
  "alice_msg $PV | jq -e '.what.width==1280 and .what.height==720 and .what.seconds==5 and .what.thumbnail==null' >/dev/null"
alice_msg "$PP" >"$T/pp.json"
check "alice's voice note has 3 seconds and a 64-byte waveform (0..100, loudest 100, rising)" ok_if \
  "jq -e '.what.seconds==3 and (.what.waveform|length)==64 and (.what.waveform|max)==100 and
          (.what.waveform|min)>=0 and .what.waveform[0] < .what.waveform[60]' $T/pp.json >/dev/null"
check "... the API's own seconds win over the file's" ok_if \
  "alice_msg $PS | jq -e '.what.seconds==9 and (.what.waveform|length)==64' >/dev/null"
check "a file that is not what it claims (random bytes) goes without them" ok_if \
  "jq -e '.what.width==null and .what.thumbnail==null' $T/img.json >/dev/null &&
   jq -e '.what.waveform==null and .what.seconds==3' $T/ptt.json >/dev/null"

# ---- raw bodies ----
head -c 200000 /dev/urandom >"$T/raw.png"
head -c 30000 /dev/urandom >"$T/raw.ogg"
head -c 500000 /dev/urandom >"$T/raw.bin"
raw image image/png "$T/raw.png" "caption=raw%20upload"; RIMG=$(jq -r '.id // empty' <<<"$BODY")
check "a raw image body: 202" ok_if '[ "$CODE" = 202 ] && [ -n "$RIMG" ]'
raw ptt "audio/ogg; codecs=opus" "$T/raw.ogg" "seconds=2"; RPTT=$(jq -r '.id // empty' <<<"$BODY")
raw document application/octet-stream "$T/raw.bin" "file_name=data.bin"; RDOC=$(jq -r '.id // empty' <<<"$BODY")
check "raw voice note and document accepted" ok_if '[ -n "$RPTT" ] && [ -n "$RDOC" ]'
check "the raw image reaches alice byte-identical" ok_if 'wait_alice "$RIMG" && same "$RIMG" "$T/raw.png"'
check "the raw voice note reaches alice byte-identical" ok_if 'wait_alice "$RPTT" && same "$RPTT" "$T/raw.ogg"'
check "the raw document reaches alice byte-identical" ok_if 'wait_alice "$RDOC" && same "$RDOC" "$T/raw.bin"'
check "... with the content type, caption and file name given" ok_if \
  "alice_msg $RIMG | jq -e '.what.file.mimetype==\"image/png\" and .what.caption==\"raw upload\"' >/dev/null &&
   alice_msg $RPTT | jq -e '.what.type==\"ptt\" and .what.seconds==2' >/dev/null &&
   alice_msg $RDOC | jq -e '.what.file_name==\"data.bin\"' >/dev/null"

# ---- multipart/form-data ----
# form ARGS...: a multipart upload (curl -F); sets BODY and CODE
form() {
  local out
  out=$(curl -s -m 10 -w '\n%{http_code}' -X POST -H "Authorization: Bearer $GW_TOKEN" "$@" \
    "http://$GW_LISTEN/api/v1/messages")
  CODE=${out##*$'\n'}
  BODY=${out%$'\n'*}
}
head -c 150000 /dev/urandom >"$T/form.jpg"
head -c 80000 /dev/urandom >"$T/form.pdf"
form -F to=+15550002 -F type=image -F "caption=from a form" -F "file=@$T/form.jpg;type=image/jpeg"
FIMG=$(jq -r '.id // empty' <<<"$BODY")
check "a multipart image (file + type fields): 202" ok_if '[ "$CODE" = 202 ] && [ -n "$FIMG" ]'
form -F to=+15550002 -F "document=@$T/form.pdf;filename=Q3 report.pdf"
FDOC=$(jq -r '.id // empty' <<<"$BODY")
check "a multipart document (the part named after its kind): 202" ok_if '[ "$CODE" = 202 ] && [ -n "$FDOC" ]'
check "the multipart image reaches alice byte-identical, with its caption" ok_if \
  "wait_alice $FIMG && same $FIMG $T/form.jpg && alice_msg $FIMG | jq -e '.what.caption==\"from a form\" and .what.file.mimetype==\"image/jpeg\"' >/dev/null"
check "the multipart document keeps the part's filename and mimetype by extension" ok_if \
  "wait_alice $FDOC && same $FDOC $T/form.pdf && alice_msg $FDOC | jq -e '.what.file_name==\"Q3 report.pdf\" and .what.file.mimetype==\"application/pdf\"' >/dev/null"
form -F to=+15550002 -F "caption=no file"
check "a multipart body without a file: 400" ok_if '[ "$CODE" = 400 ] && grep -q "no file" <<<"$BODY"'
form -F to=+15550002 -F type=video -F "image=@$T/form.jpg"
check "a multipart file part and type that differ: 400" ok_if '[ "$CODE" = 400 ] && grep -q "differ" <<<"$BODY"'
form -H "Content-Type: multipart/form-data; boundary=XyZ" --data-binary $'--XyZ\r\nContent-Disposition: form-data; name="to"\r\n\r\n+15550002'
check "a truncated multipart body: 400 with the reason" ok_if '[ "$CODE" = 400 ] && grep -q "multipart body" <<<"$BODY"'
form -H "Content-Type: multipart/form-data" --data-binary 'x'
check "multipart without a boundary: 400" ok_if '[ "$CODE" = 400 ] && grep -q "boundary" <<<"$BODY"'

# ---- from a URL the operator allowed ----
cli() { "$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$GW_STATE" "$@"; }
head -c 400000 /dev/urandom >"$T/web/ok/pic.jpg"
head -c 120000 /dev/urandom >"$T/web/ok/minutes v2.pdf"
head -c 1200000 /dev/urandom >"$T/web/ok/big.webp"
echo "not for you" >"$T/web/secret/key.txt"
send "{\"to\":\"+15550002\",\"image\":{\"url\":\"http://$WEB/ok/pic.jpg\"},\"caption\":\"from the web\"}"; UIMG=$ID
check "an image from an allowed URL: 202 once fetched and copied" ok_if '[ "$CODE" = 202 ] && [ -n "$UIMG" ]'
send "{\"to\":\"+15550002\",\"document\":{\"url\":\"http://$WEB/ok/minutes%20v2.pdf?x=1\"}}"; UDOC=$ID
check "the URL image reaches alice byte-identical, with its caption" ok_if \
  "wait_alice $UIMG && same $UIMG $T/web/ok/pic.jpg && alice_msg $UIMG | jq -e '.what.caption==\"from the web\" and .what.file.mimetype==\"image/jpeg\"' >/dev/null"
check "a URL document is named after the URL's last segment, decoded" ok_if \
  "wait_alice $UDOC && same $UDOC '$T/web/ok/minutes v2.pdf' && alice_msg $UDOC | jq -e '.what.file_name==\"minutes v2.pdf\" and .what.file.mimetype==\"application/pdf\"' >/dev/null"
check "no fetched scratch file is left (url-*.part)" ok_if '[ -z "$(ls "$(OUT)" | grep "^url-")" ]'
send "{\"to\":\"+15550002\",\"image\":{\"url\":\"http://$WEB/secret/key.txt\"}}"
check "a URL outside media.url_allow: 403" ok_if '[ "$CODE" = 403 ] && grep -q "url_allow" <<<"$BODY"'
send "{\"to\":\"+15550002\",\"document\":{\"url\":\"http://$WEB/ok/../secret/key.txt\"}}"
check "a dot segment leaving the prefix: 400" ok_if '[ "$CODE" = 400 ] && grep -q "dot segment" <<<"$BODY"'
send "{\"to\":\"+15550002\",\"document\":{\"url\":\"http://$WEB/ok/%2e%2e/secret/key.txt\"}}"
check "... also percent-encoded: 400" ok_if '[ "$CODE" = 400 ]'
send "{\"to\":\"+15550002\",\"image\":{\"url\":\"http://$WEB/ok/nope.jpg\"}}"
check "a URL that answers 404: 400 with the status" ok_if '[ "$CODE" = 400 ] && grep -q "HTTP 404" <<<"$BODY"'
send "{\"to\":\"+15550002\",\"sticker\":{\"url\":\"http://$WEB/ok/big.webp\"}}"
check "a URL file over its kind's cap: 400" ok_if '[ "$CODE" = 400 ] && grep -q "cap" <<<"$BODY"'
send "{\"to\":\"+15550002\",\"image\":{\"url\":\"http://$WEB/ok/pic.jpg\",\"path\":\"$T/photo.jpg\"}}"
check "both url and path: 400" ok_if '[ "$CODE" = 400 ]'
CU=$(cli message send --to +15550002 --image "http://$WEB/ok/pic.jpg" --caption "cli url" | awk "{print \$1}")
check "wagate message send --image URL: the daemon fetches it" ok_if 'wait_alice "$CU" && same "$CU" "$T/web/ok/pic.jpg"'
check "the refused URLs left nothing in outmedia" ok_if 'sleep 0.2; [ -z "$(ls "$(OUT)" | grep "^url-")" ]'

# ---- a reply with a file; idempotency ----
Q=$(fw POST /admin/contacts/alice/send '{"to":"+15550001","text":"send me the photo"}' | jq -r .id)
for _ in $(seq 1 100); do api GET '/api/v1/messages?after=0&limit=1000'; grep -q "$Q" <<<"$BODY" && break; sleep 0.05; done
send "{\"to\":\"+15550002\",\"image\":{\"path\":\"$T/photo.jpg\"},\"caption\":\"here\",\"reply_to\":\"$Q\",\"idempotency_key\":\"photo-1\"}"; REP=$ID
check "an image replying to alice's message reaches her quoted" ok_if \
  "wait_alice $REP && alice_msg $REP | jq -e '.what.quoted.id==\"$Q\" and .what.caption==\"here\"' >/dev/null"
send "{\"to\":\"+15550002\",\"image\":{\"path\":\"$T/photo.jpg\"},\"caption\":\"here\",\"reply_to\":\"$Q\",\"idempotency_key\":\"photo-1\"}"
check "the same idempotency_key again: 200 duplicate, the same id" ok_if \
  '[ "$CODE" = 200 ] && [ "$ID" = "$REP" ] && [ "$(jq -r .duplicate <<<"$BODY")" = true ]'
send "{\"to\":\"+15550003\",\"image\":{\"path\":\"$T/photo.jpg\"},\"idempotency_key\":\"photo-1\"}"
check "... to another recipient: 409" ok_if '[ "$CODE" = 409 ]'

# ---- the CLI ----
CP=$(cd "$T" && cli message send --to +15550002 --ptt voice.ogg --json | jq -r .id)
check "wagate message send --ptt FILE (a relative path, made absolute by the CLI)" ok_if \
  "wait_alice $CP && same $CP $T/voice.ogg && alice_msg $CP | jq -e '.what.type==\"ptt\"' >/dev/null"
CD=$(cli message send --to +15550002 --document "$T/report.pdf" --file-name "Q3 report.pdf" --caption "the report" --json | jq -r .id)
check "wagate message send --document FILE --file-name N --caption T" ok_if \
  "wait_alice $CD && same $CD $T/report.pdf && alice_msg $CD | jq -e '.what.file_name==\"Q3 report.pdf\" and .what.caption==\"the report\"' >/dev/null"
CI=$(cli message send --to +15550002 --image "$T/photo.jpg" --caption "from the cli" | awk '{print $1}')
check "wagate message send --image FILE --caption T (plain output: id state)" ok_if \
  "wait_alice $CI && same $CI $T/photo.jpg"
out=$(cli message send --to +15550002 --image "$T/nope.jpg" 2>&1)
check "the CLI shows the daemon's reason for a bad file" ok_if 'grep -q "No such file" <<<"$out"'
cli message send --to +15550002 --image "$T/photo.jpg" --video "$T/clip.mp4" >/dev/null 2>&1
RC=$?
check "the CLI refuses two files (usage, exit 2)" ok_if '[ "$RC" = 2 ]'

# ---- bad inputs: clear 400s ----
bad() { # bad JSON WORDS: 400 whose error mentions WORDS
  api POST /api/v1/messages "$1"
  [ "$CODE" = 400 ] && grep -qi -- "$2" <<<"$(jq -r .error <<<"$BODY")" || { echo "# $CODE $BODY"; return 1; }
}
head -c 1500000 /dev/urandom >"$T/big.webp"
check "a relative path: 400" bad '{"to":"+15550002","image":{"path":"photo.jpg"}}' "absolute"
check "a missing file: 400" bad "{\"to\":\"+15550002\",\"image\":{\"path\":\"$T/nope.jpg\"}}" "No such file"
check "a directory: 400" bad "{\"to\":\"+15550002\",\"document\":{\"path\":\"$T\"}}" "not a regular file"
check "a sticker over its 1 MiB cap: 400" bad "{\"to\":\"+15550002\",\"sticker\":{\"path\":\"$T/big.webp\"}}" "1048576"
check "an empty file: 400" bad "{\"to\":\"+15550002\",\"document\":{\"path\":\"/dev/null\"}}" "regular"
check "two files in one message: 400" bad "{\"to\":\"+15550002\",\"image\":{\"path\":\"$T/photo.jpg\"},\"video\":{\"path\":\"$T/clip.mp4\"}}" "one file"
check "ptt with an image: 400" bad "{\"to\":\"+15550002\",\"image\":{\"path\":\"$T/photo.jpg\"},\"ptt\":true}" "ptt"
check "a caption on a voice note: 400" bad "{\"to\":\"+15550002\",\"audio\":{\"path\":\"$T/voice.ogg\"},\"ptt\":true,\"caption\":\"x\"}" "caption"
check "file_name on an image: 400" bad "{\"to\":\"+15550002\",\"image\":{\"path\":\"$T/photo.jpg\"},\"file_name\":\"a.jpg\"}" "document"
check "a path that is not a string: 400" bad '{"to":"+15550002","image":"/tmp/x"}' "path"
check "no recipient: 400" bad "{\"image\":{\"path\":\"$T/photo.jpg\"}}" "to"
raw bogus image/png "$T/raw.png"
check "a raw body of an unknown type: 400" ok_if '[ "$CODE" = 400 ] && grep -q "type:" <<<"$BODY"'
: >"$T/empty"
raw image image/png "$T/empty"
check "an empty raw body: 400" ok_if '[ "$CODE" = 400 ] && grep -q "empty" <<<"$BODY"'
# ---- raw bodies past the API's 1 MiB in-memory cap: spooled to a file as they arrive ----
SPOOL="$GW_STATE/spool"
head -c 5000000 /dev/urandom >"$T/over.bin"
raw document application/octet-stream "$T/over.bin" "file_name=big.bin"; BIG=$(jq -r '.id // empty' <<<"$BODY")
check "a 5 MB raw body (over the 1 MiB in-memory cap): 202" ok_if '[ "$CODE" = 202 ] && [ -n "$BIG" ]'
check "... reaches alice byte-identical" ok_if 'wait_alice "$BIG" && same "$BIG" "$T/over.bin"'
check "... and its spooled body is gone" ok_if '[ -z "$(ls -A "$SPOOL")" ]'
head -c 17000000 /dev/urandom >"$T/huge.jpg"
raw image image/jpeg "$T/huge.jpg"
check "a raw image over its 16 MiB cap: 400" ok_if '[ "$CODE" = 400 ] && grep -q "16777216" <<<"$BODY"'
out=$(curl -s -m 10 -w '\n%{http_code}' -X POST -H "Authorization: Bearer wrong" -H "Content-Type: image/jpeg" \
  --data-binary "@$T/over.bin" "http://$GW_LISTEN/api/v1/messages?to=%2B15550002&type=image")
check "a large body with a bad token: 401 before it is read" ok_if '[ "${out##*$'"'"'\n'"'"'}" = 401 ]'
form -F to=+15550002 -F "document=@$T/over.bin"
check "a multipart form over 1 MiB: 413 (raw uploads only)" ok_if '[ "$CODE" = 413 ] && grep -q "raw" <<<"$BODY"'
check "the spool is empty after the refusals" ok_if 'sleep 0.2; [ -z "$(ls -A "$SPOOL")" ]'
check "nothing was left in outmedia by the refused sends" ok_if 'sleep 0.3; [ -z "$(ls -A "$(OUT)")" ]'

# ---- the server refuses uploads: retried, or failed for good ----
fw POST /admin/media/fail '{"op":"upload","count":2,"status":503}' >/dev/null
send "{\"to\":\"+15550002\",\"image\":{\"path\":\"$T/photo.jpg\"},\"caption\":\"after two 503s\"}"; R503=$ID
check "an upload refused twice (503) is retried and the image arrives" ok_if 'wait_alice "$R503" && same "$R503" "$T/photo.jpg"'
fw POST /admin/media/fail '{"op":"upload","count":1,"status":413}' >/dev/null
send "{\"to\":\"+15550002\",\"document\":{\"path\":\"$T/report.pdf\"}}"; R413=$ID
check "an upload refused as too large (413) makes the message failed" wait_status "$R413" failed
api GET "/api/v1/messages/$R413"
check "... with the reason in GET /api/v1/messages/{id}" ok_if 'jq -e ".error|test(\"uploaded\")" <<<"$BODY" >/dev/null'
check "... its copy removed, and alice never got it" ok_if \
  '[ ! -e "$(OUT)/$R413" ] && [ -z "$(alice_msg "$R413")" ]'

# ---- SIGKILL while an upload is under way ----
head -c 6000000 /dev/urandom >"$T/long.mp4"
fw POST /admin/media/fail '{"op":"slow","count":1,"ms":20000}' >/dev/null
IN0=$(fw GET /admin/media | jq .bytes_in)
send "{\"to\":\"+15550002\",\"video\":{\"path\":\"$T/long.mp4\"},\"caption\":\"survives a crash\"}"; KV=$ID
for _ in $(seq 1 200); do
  [ $(($(fw GET /admin/media | jq .bytes_in) - IN0)) -ge 6000000 ] && break
  sleep 0.05
done
api GET "/api/v1/messages/$KV"
check "while it uploads the message is queued, held for its upload" ok_if \
  'jq -e ".state==\"queued\" and (.error|test(\"upload\"))" <<<"$BODY" >/dev/null'
check "its copy is in outmedia (0600)" ok_if '[ "$(stat -c %a "$(OUT)/$KV")" = 600 ]'
kill -9 "$GW_PID"
wait "$GW_PID" 2>/dev/null
check "gateway starts again after SIGKILL mid-upload" start_gateway g
check "connected again" wait_state connected 10000
check "after the restart the video reaches alice, byte-identical" ok_if 'wait_alice "$KV" && same "$KV" "$T/long.mp4"'
check "... exactly once" ok_if \
  'sleep 1; [ "$(alice_in | jq --arg id "$KV" "[.messages[] | select(.id==\$id)] | length")" = 1 ]'
check "... and its copy is removed once acked" ok_if \
  'wait_status "$KV" "sent|delivered|read" && sleep 0.2 && [ ! -e "$(OUT)/$KV" ]'
finish
