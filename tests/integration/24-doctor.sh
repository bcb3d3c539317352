#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `wagate doctor [--json] [--repair]` on a real state dir (a gateway paired against fakewa,
# one message received, then stopped): a healthy dir passes (integrity, schema, credentials
# linked, modes, lock); a running gateway is reported and --repair refused; loose modes are
# warnings that --repair fixes (after which the check passes); a corrupt database, a missing
# credentials row and a newer schema are errors with what to do; quarantined databases are
# listed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
fakewa_up
mkdir -p "$T/g"
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s"}}\n' "$LISTEN" "$ROOT" \
  >"$T/g/wagate.json"
doctor() { # doctor STATE [args]: sets OUT and RC
  local st=$1
  shift
  OUT=$("$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$st" doctor "$@" 2>&1)
  RC=$?
}
status_of() { jq -r --arg c "$1" '[.checks[] | select(.check==$c) | .status] | join(",")' <<<"$OUT"; }
sql() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()' "$@"; }

check "gateway starts" start_gateway g
check "pairing" wait_state pairing 5000
QR=$(wait_qr)
fw POST /admin/scan "{\"qr\":\"$QR\",\"phone\":\"+15550001\"}" >/dev/null
check "connected" wait_state connected 10000
fw POST /admin/contacts/alice/send '{"to":"+15550001","text":"hi"}' >/dev/null
sleep 0.5
DB="$GW_STATE/accounts/default/wa.db"

doctor "$GW_STATE" --json
check "while the gateway runs: the lock is reported held" ok_if \
  '[ "$(jq -r .running <<<"$OUT")" = true ] && grep -q "held by the running gateway" <<<"$OUT"'
doctor "$GW_STATE" --repair
check "--repair is refused while the gateway runs (exit 1, says to stop it)" ok_if \
  '[ "$RC" = 1 ] && grep -q "stop the gateway to repair" <<<"$OUT"'
kill -TERM "$GW_PID"
wait "$GW_PID"

doctor "$GW_STATE"
echo "$OUT" | sed 's/^/# /'
check "a healthy state dir: exit 0, no errors" ok_if '[ "$RC" = 0 ] && grep -q "^0 error(s), 0 warning(s)" <<<"$OUT"'
check "it names the linked account" grep -q "credentials: present; linked as 15550001" <<<"$OUT"
doctor "$GW_STATE" --json
check "--json: ok, integrity ok, schema ok, credentials ok, lock free" ok_if \
  '[ "$(jq -r .ok <<<"$OUT")" = true ] && [ "$(status_of integrity)" = ok ] && [ "$(status_of schema)" = ok ] && [ "$(status_of credentials)" = ok ] && [ "$(status_of lock)" = ok ]'
check "--json: the agent-delivery and undecryptable counts are there" ok_if \
  '[ "$(status_of "agent delivery")" = ok ] && [ "$(status_of undecryptable)" = ok ]'

# ---- modes ----
chmod 0755 "$GW_STATE"
chmod 0644 "$DB"
doctor "$GW_STATE" --json
check "loose modes are warnings (exit 0) with the chmod to run" ok_if \
  '[ "$RC" = 0 ] && [ "$(jq -r .warnings <<<"$OUT")" = 2 ] && jq -r ".checks[].fix // empty" <<<"$OUT" | grep -q "chmod 0600"'
doctor "$GW_STATE" --repair
check "--repair fixes them" ok_if \
  '[ "$RC" = 0 ] && [ "$(stat -c %a "$GW_STATE")" = 700 ] && [ "$(stat -c %a "$DB")" = 600 ]'
doctor "$GW_STATE"
check "and then the dir is clean" grep -q "^0 error(s), 0 warning(s)" <<<"$OUT"

# ---- quarantined files ----
cp "$DB" "$DB.corrupt-20260101T000000Z"
doctor "$GW_STATE"
check "a quarantined database is listed" grep -q "moved aside earlier: wa.db.corrupt-20260101T000000Z" <<<"$OUT"
rm -f "$DB.corrupt-20260101T000000Z"

# ---- errors, each on a copy ----
copy() { rm -rf "$T/c"; cp -a "$GW_STATE" "$T/c"; }
copy
sql "$T/c/accounts/default/wa.db" "DELETE FROM creds;"
doctor "$T/c"
check "no credentials row: exit 1, error, says a QR would follow" ok_if \
  '[ "$RC" = 1 ] && grep -q "error default credentials: no credentials row" <<<"$OUT"'
copy
sql "$T/c/accounts/default/wa.db" "PRAGMA user_version = 99;"
doctor "$T/c"
check "a newer schema: exit 1, error" ok_if '[ "$RC" = 1 ] && grep -q "schema v99 is newer" <<<"$OUT"'
copy
python3 - "$T/c/accounts/default/wa.db" <<'PY'
import os, sys
p = sys.argv[1]
n = os.path.getsize(p)
with open(p, "r+b") as f:  # garbage over every page after the first two (headers stay)
    for off in range(8192, n, 4096):
        f.seek(off + 100)
        f.write(os.urandom(200))
PY
doctor "$T/c"
check "a corrupt database: exit 1, integrity error with what to do" ok_if \
  '[ "$RC" = 1 ] && grep -q "error default integrity" <<<"$OUT" && grep -q "restore a backup" <<<"$OUT"'

kill -TERM "$FW_PID"
wait "$FW_PID"
finish
