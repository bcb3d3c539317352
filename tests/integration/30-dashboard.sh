#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The dashboard's HTTP side of the REAL daemon (the browser tests in tests/browser drive the
# page itself): the page and its assets are served without a token with their content types
# and a strict CSP, unknown paths stay 404, every API route still needs the token; the logout
# route ends the link (database moved aside, never deleted), answers 409 when repeated, and a
# login afterwards pairs a new device with a new QR.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
fakewa_up
mkdir -p "$T/g"
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s"}}\n' "$LISTEN" "$ROOT" \
  >"$T/g/wagate.json"
check "gateway starts" start_gateway g

hdr() { curl -s -m 5 -D - -o "$T/body" "http://$GW_LISTEN$1"; }
h=$(hdr /)
check "GET / without a token: 200 text/html" ok_if \
  'grep -q "^HTTP/1.1 200" <<<"$h" && grep -qi "^content-type: text/html; charset=utf-8" <<<"$h"'
check "the page links its script and stylesheet, nothing external" ok_if \
  'grep -q "src=\"/dashboard.js\"" "$T/body" && grep -q "href=\"/dashboard.css\"" "$T/body" &&
   ! grep -qE "(src|href)=\"(https?:)?//" "$T/body"'
check "CSP: only this origin, no inline script, no framing" ok_if \
  'grep -i "^content-security-policy:" <<<"$h" | grep -q "default-src .none.; script-src .self.; style-src .self.;.*frame-ancestors .none."'
check "nosniff and no referrer" ok_if \
  'grep -qi "^x-content-type-options: nosniff" <<<"$h" && grep -qi "^referrer-policy: no-referrer" <<<"$h"'
h=$(hdr /dashboard.js)
check "dashboard.js: 200 text/javascript" ok_if \
  'grep -q "^HTTP/1.1 200" <<<"$h" && grep -qi "^content-type: text/javascript" <<<"$h" && [ -s "$T/body" ]'
check "the embedded script is the source file" cmp -s "$T/body" "$WAGATE_SOURCE_DIR/src/gw/dashboard/dashboard.js"
h=$(hdr /dashboard.css)
check "dashboard.css: 200 text/css" ok_if 'grep -qi "^content-type: text/css" <<<"$h"'
check "unknown path: 404 JSON" ok_if \
  '[ "$(curl -s -m 5 -o /dev/null -w "%{http_code}" "http://$GW_LISTEN/nothing/here")" = 404 ]'
check "the page never carries data: the API still needs the token" ok_if \
  '[ "$(curl -s -m 5 -o /dev/null -w "%{http_code}" "http://$GW_LISTEN/api/v1/status")" = 401 ]'
check "... so do the built-in routes' neighbours" ok_if \
  '[ "$(curl -s -m 5 -o /dev/null -w "%{http_code}" "http://$GW_LISTEN/api/v1/channels/whatsapp/default")" = 401 ]'

# ---- logout ----
check "pairing" wait_state pairing 5000
QR1=$(wait_qr)
check "the fake phone scans" grep -q '"jid"' <<<"$(fw POST /admin/scan "{\"qr\":\"$QR1\",\"phone\":\"+15550001\"}")"
check "connected" wait_state connected 10000
api POST /api/v1/channels/whatsapp/default/logout
check "logout: 200, logged_out" ok_if '[ "$CODE" = 200 ] && [ "$(jq -r .state <<<"$BODY")" = logged_out ]'
check "the database is moved aside, not deleted" ok_if \
  '[ ! -e "$GW_STATE/accounts/default/wa.db" ] && ls "$GW_STATE"/accounts/default/wa.db.loggedout-* >/dev/null'
check "no retry after it" ok_if 'sleep 1.5; [ "$(chan state)" = logged_out ] && [ "$(chan next_retry)" = null ]'
check "a notice says so" ok_if 'events > "$T/ev.json"; grep -q "logged out by the operator" "$T/ev.json" || { tail -3 "$T/ev.json"; false; }'
api POST /api/v1/channels/whatsapp/default/logout
check "logout again: 409" [ "$CODE" = 409 ]
api POST /api/v1/channels/whatsapp/default/restart
check "restart of a logged-out account: 409 (login pairs it)" [ "$CODE" = 409 ]
api POST /api/v1/channels/whatsapp/default/login
check "login: pairing a new device" ok_if '[ "$CODE" = 202 ] && [ "$(jq -r .action <<<"$BODY")" = pairing ]'
QR2=$(wait_qr)
check "a new QR" ok_if '[ -n "$QR2" ] && [ "$QR2" != "$QR1" ]'
check "the phone scans it: connected again" ok_if \
  'fw POST /admin/scan "{\"qr\":\"$QR2\",\"phone\":\"+15550001\"}" | grep -q "\"jid\"" && wait_state connected 10000'
api POST /api/v1/channels/whatsapp/nobody/logout
check "logout of an unknown account: 404" [ "$CODE" = 404 ]
finish
