#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault-matrix rows the server (fakewa) or DNS can inject, on one real daemon, in order; each
# check names its row and prints what was measured. Backoff compressed (base 200 ms, cap 1 s).
#   #5  DNS points to a dead address   #6  TCP RST mid-session    #7  clean close by the server
#   #15 515 mid-session                #16 503 stream error       #24 402 ban with an expiry
#   #23 405 client outdated            #39 restart of a stopped channel keeps the creds
#   #17 401 logged out                 #18 403 (after pairing again)
source "$(dirname "$0")/fault-lib.sh"
fault_setup
check "a paired, connected daemon" fault_gateway '"backoff":{"base_ms":200,"cap_ms":1000}'
P='"phone":"+15550001"'

fault "{\"type\":\"close\",\"reset\":true,$P}"
check "#6 RST mid-session: connected again within 5 s" connected_within 5000
echo "# row 6: ${REC_MS} ms"
fault "{\"type\":\"close\",$P}"
check "#7 clean close: connected again within 5 s" connected_within 5000
echo "# row 7: ${REC_MS} ms"
fault "{\"type\":\"stream_error\",\"code\":515,$P}"
check "#15 515 mid-session: connected again within 5 s" connected_within 5000
echo "# row 15: ${REC_MS} ms"
check "#15 no QR after 515" ok_if '[ "$(chan qr_available)" = false ]'
fault "{\"type\":\"stream_error\",\"code\":503,$P}"
check "#16 503: connected again within the backoff bound (cap 1 s + connect)" connected_within 4000
echo "# row 16: ${REC_MS} ms"

# #5: the name resolves to a dead address (nothing listens on 127.0.0.99)
dns a:127.0.0.99
fault "{\"type\":\"close\",$P}"
sleep 2
check "#5 dead address: retrying, last_error is the refused connect" ok_if \
  '[[ "$(chan last_error)" == *ECONNREFUSED* ]] && [ "$(chan state)" != stopped ]'
a=$(attempts)
dns a:127.0.0.1
check "#5 DNS fixed: connected within cap + 2 s" connected_within 3000
echo "# row 5: $a failed attempts during 2 s; connected ${REC_MS} ms after the fix"

# #24: 402 with expire=3: no attempt before the expiry, then connected
fault "{\"type\":\"failure\",\"reason\":402,\"code\":101,\"expire\":3,$P}"
banned() { # the failed login (the fault closes the session first; its retry gets the 402)
  for _ in $(seq 1 100); do [[ "$(chan last_error)" == *402* ]] && return 0; sleep 0.05; done
  return 1
}
check "#24 402: the login is refused with the ban" banned
a0=$(attempts)
sleep 2
a1=$(attempts)
check "#24 402: no attempt during the ban ($a0 -> $a1)" [ "$a1" = "$a0" ]
check "#24 402: the notice names the ban" has_event "temporarily banned (402, code 101) for 3 s"
check "#24 402: connected after the expiry" connected_within 4000

# #23: 405: stopped, "update required", no loop
fault "{\"type\":\"failure\",\"reason\":405,$P}"
check "#23 405: stopped" wait_state stopped 5000
a0=$(attempts)
sleep 2
check "#23 405: no attempt after it ($a0 -> $(attempts))" [ "$(attempts)" = "$a0" ]
check "#23 405: notice 'update required'" has_event "update required"
# #39: an operator restart of the stopped channel: connected with the stored creds, no QR
t=$(now_ms)
api POST /api/v1/channels/whatsapp/default/restart
check "#39 restart answers 202" [ "$CODE" = 202 ]
check "#39 connected within 10 s of the restart, no QR" ok_if \
  'wait_state connected 10000 && [ "$(chan qr_available)" = false ]'
echo "# row 39: connected $(( $(now_ms) - t )) ms after the restart"

# #17: 401: logged out, the store moved aside, nothing more attempted, a QR on login
t=$(now_ms)
fault "{\"type\":\"failure\",\"reason\":401,$P}"
check "#17 401: logged_out within 10 s" wait_state logged_out 10000
echo "# row 17: logged_out $(( $(now_ms) - t )) ms after the fault"
check "#17 the database is quarantined, not deleted" ok_if \
  'ls "$GW_STATE/accounts/default/" | grep -q "^wa.db.loggedout-"'
check "#17 a notice says logged out" has_event "logged out (401)"
a0=$(attempts)
sleep 2
check "#17 no attempt after 401" [ "$(attempts)" = "$a0" ]
api POST /api/v1/channels/whatsapp/default/login
QR=$(wait_qr)
check "#17 login shows a new QR" ok_if '[[ "$QR" == https://wa.me/settings/linked_devices#* ]]'
# #18: pair again, then 403
check "#18 paired again" grep -q '"jid"' <<<"$(scan "$QR")"
check "#18 connected" wait_state connected 15000
fault "{\"type\":\"failure\",\"reason\":403,$P}"
check "#18 403: logged_out" wait_state logged_out 10000
check "#18 403: a distinct reason" ok_if '[[ "$(chan last_error)" == *403* ]]'
finish
