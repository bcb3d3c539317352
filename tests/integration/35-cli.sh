#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The CLI a new user can trust (issue 12, item 7), on the REAL daemon against wagate-fakewa:
# `health` (exit 0/1/3 and a line that says which channel, its state, since when, the last
# error and what to do), `logs` (tail across the rotated file, --json, -f across rotations,
# SIGINT exits 0), `message send` on an unlinked account (says to run channels login),
# `message status ID` (sent/delivered, failed with why, unknown id), `channels logout` (asks
# on a tty, refuses a non-tty without --yes, --yes logs out, twice says already), a wrong
# --state-dir (token mismatch named, with the state dir), `channels login` timing out in
# backoff with the last error, `gateway stop` with nothing running exits 3; --json output and
# {"error":{code,message,hint}} on stdout for each.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/channel-lib.sh"
fakewa_up

mkdir -p "$T/g"
# a small log cap (2 KiB) so that the reloads below rotate the file several times
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s"},"log":{"file_max_kb":2}}\n' \
  "$LISTEN" "$ROOT" >"$T/g/wagate.json"
cli() { "$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$GW_STATE" "$@"; }
scan() { fw POST /admin/scan "{\"qr\":\"$1\",\"phone\":\"+15550001\"}"; }
isjson() { python3 -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null; }
# run CMD...: sets OUT, ERR, RC
run() { OUT=$("$@" 2>"$T/err"); RC=$?; ERR=$(cat "$T/err"); }
LOG() { cat "$GW_STATE/logs/gateway.log.1" "$GW_STATE/logs/gateway.log" 2>/dev/null; }

check "gateway starts with the channel configured" start_gateway g
check "a fresh account goes to pairing by itself" wait_state pairing 5000

# ---- health while pairing ----
run cli health
check "health while pairing: exit 1" [ "$RC" = 1 ]
check "... one line naming the channel, its state, since when and what to do" ok_if \
  '[ "$(wc -l <<<"$OUT")" = 1 ] &&
   [[ "$OUT" == "down: 0 of 1 channel connected; whatsapp/default pairing since 20"*"(for "*"(link it: wagate channels login --account default)" ]]'
run cli health --json
check "health --json: healthy false, verdict down, the channel's state" ok_if \
  '[ "$RC" = 1 ] && [ "$(jq -r .healthy <<<"$OUT")" = false ] && [ "$(jq -r .verdict <<<"$OUT")" = down ] &&
   [ "$(jq -r ".channels[0].state" <<<"$OUT")" = pairing ] && [ "$(jq -r .running <<<"$OUT")" = true ]'

# ---- message send on an unlinked account ----
run cli message send --to +15550002 --text "too early"
check "send unlinked: exit 1, says it is not linked and how to link it" ok_if \
  '[ "$RC" = 1 ] && grep -q "the account '"'"'default'"'"' is not linked to a phone" <<<"$ERR" &&
   grep -q "wagate channels login --account default" <<<"$ERR" && [ -z "$OUT" ]'
echo "# $ERR"
run cli message send --to +15550002 --text "too early" --json
check "send unlinked --json: the error object on stdout" ok_if \
  '[ "$RC" = 1 ] && [ "$(jq -r .error.code <<<"$OUT")" = not_linked ] &&
   jq -r .error.hint <<<"$OUT" | grep -q "channels login --account default" &&
   jq -r .error.message <<<"$OUT" | grep -q "not linked"'

# ---- link, then health ok ----
QR=$(wait_qr)
check "the fake phone scans the QR" grep -q '"jid"' <<<"$(scan "$QR")"
check "connected" wait_state connected 10000
run cli health
check "health linked: exit 0, ok: 1 of 1 channel connected" ok_if \
  '[ "$RC" = 0 ] && [ "$OUT" = "ok: 1 of 1 channel connected" ]'
run cli health --json
check "health --json linked: healthy true, verdict ok" ok_if \
  '[ "$RC" = 0 ] && [ "$(jq -r .healthy <<<"$OUT")" = true ] && [ "$(jq -r .verdict <<<"$OUT")" = ok ] &&
   [ "$(jq -r ".channels[0].healthy" <<<"$OUT")" = true ]'

# ---- message status ----
run cli message send --to +15550002 --text "hello from the cli" --json
ID=$(jq -r .id <<<"$OUT")
check "send linked: an id" ok_if '[ "$RC" = 0 ] && [ -n "$ID" ] && [ "$ID" != null ]'
st=""
for _ in $(seq 1 100); do
  st=$(cli message status "$ID" --json | jq -r .state); [ "$st" = delivered ] || [ "$st" = read ] && break
  sleep 0.05
done
check "message status --json: delivered (alice's phone acked it), to +15550002" ok_if \
  '[[ "$st" == delivered || "$st" == read ]] && [ "$(cli message status "$ID" --json | jq -r .to)" = 15550002@s.whatsapp.net ]'
run cli message status "$ID"
check "message status (text): the id, the state and what it means, recipient, attempts" ok_if \
  '[ "$RC" = 0 ] && grep -q "^$ID: $st (the recipient" <<<"$OUT" && grep -q "to 15550002@s.whatsapp.net, 1 attempt," <<<"$OUT"'
run cli message send --to 120363999999999999@g.us --text "to a group that is not there"
GID=${OUT%% *}
for _ in $(seq 1 100); do [ "$(cli message status "$GID" --json | jq -r .state)" = failed ] && break; sleep 0.05; done
run cli message status "$GID"
check "message status of a failed message: failed and why" ok_if \
  '[ "$RC" = 0 ] && grep -q "^$GID: failed (it will not be sent)" <<<"$OUT" && grep -q "^  why: no such group" <<<"$OUT"'
run cli message status 3EB0NOSUCHMESSAGE
check "message status of an unknown id: exit 1, says so" ok_if \
  '[ "$RC" = 1 ] && grep -q "no outgoing message 3EB0NOSUCHMESSAGE on whatsapp/default" <<<"$ERR"'
run cli message status 3EB0NOSUCHMESSAGE --json
check "... --json: error code no_such_message" ok_if \
  '[ "$RC" = 1 ] && [ "$(jq -r .error.code <<<"$OUT")" = no_such_message ]'
run cli message send --to +15550002 --text hi --account nobody --json
check "an unknown --account: exit 1, no_such_account, where the accounts are listed" ok_if \
  '[ "$RC" = 1 ] && [ "$(jq -r .error.code <<<"$OUT")" = no_such_account ] &&
   jq -r .error.hint <<<"$OUT" | grep -q "wagate channels status"'
run cli message status "../status"
check "message status with a path in the id: usage error (2)" [ "$RC" = 2 ]

# ---- logs ----
run cli logs -n 1000
check "logs: the daemon's own lines, from its log file" ok_if \
  '[ "$RC" = 0 ] && grep -q "info  \[gateway\] wagate .* listening on http://$GW_LISTEN" <<<"$OUT" &&
   grep -q "\[whatsapp\] \[default\]" <<<"$OUT"'
run cli logs -n 3
check "logs -n 3: three lines, the file's last ones" ok_if \
  '[ "$RC" = 0 ] && [ "$(wc -l <<<"$OUT")" = 3 ] && [ "$OUT" = "$(LOG | tail -n 3)" ]'
run cli logs -n 3 --json
check "logs --json: one object per line with ts, level, component, account, msg" ok_if \
  '[ "$RC" = 0 ] && [ "$(wc -l <<<"$OUT")" = 3 ] &&
   [ "$(jq -s "map(select(.ts and .level and has(\"component\") and has(\"account\") and .msg)) | length" <<<"$OUT")" = 3 ]'
j=$(cli logs -n 1000 --json | jq -s '[.[] | select(.component=="gateway" and .account=="" and (.msg|startswith("wagate ")))] | length')
check "logs --json: the start line parsed into its fields" [ "$j" -ge 1 ]
# the binary itself in the background (not a function's subshell): SIGINT must reach it
"$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$GW_STATE" logs -f -n 0 \
  >"$T/follow.out" 2>"$T/follow.err" &
FPID=$!
PIDS+=("$FPID")
sleep 0.3
N=40
for i in $(seq 1 $N); do # one reload at a time (signals coalesce): wait for each line
  before=$(grep -c "configuration reloaded" "$T/g/err.log")
  kill -HUP "$GW_PID"
  for _ in $(seq 1 200); do
    [ "$(grep -c "configuration reloaded" "$T/g/err.log")" -gt "$before" ] && break; sleep 0.01
  done
done
sleep 0.6
check "the log was rotated (a .1 file; the file under its 2 KiB cap)" ok_if \
  '[ -s "$GW_STATE/logs/gateway.log.1" ] && [ "$(stat -c %s "$GW_STATE/logs/gateway.log")" -le 2048 ] &&
   [ "$(stat -c %s "$GW_STATE/logs/gateway.log.1")" -le 2048 ]'
R=$(grep -c "configuration reloaded" "$T/g/err.log")
F=$(grep -c "configuration reloaded" "$T/follow.out")
echo "# $N reloads: $R lines on stderr, $F in logs -f"
check "logs -f: every reloaded line exactly once across the rotations" ok_if \
  '[ "$R" = "$N" ] && [ "$F" = "$N" ] && [ "$(sort "$T/follow.out" | uniq -d | wc -l)" = 0 ]'
check "logs -f: its lines are the stderr lines, in order" ok_if \
  '[ "$(grep "configuration reloaded" "$T/follow.out")" = "$(grep "configuration reloaded" "$T/g/err.log")" ]'
S=$(now_ms)
kill -INT "$FPID"
wait_exit "$FPID" 2000
wait "$FPID"; rc=$?
check "logs -f: SIGINT ends it with exit 0 at once" ok_if '[ "$rc" = 0 ] && [ $(( $(now_ms) - S )) -lt 1000 ]'
run cli logs -n 5
check "logs -n 5 right after a rotation: still five lines (from .1 and the file)" ok_if \
  '[ "$RC" = 0 ] && [ "$(wc -l <<<"$OUT")" = 5 ] && [ "$OUT" = "$(LOG | tail -n 5)" ]'

# ---- a wrong --state-dir: another token ----
mkdir -p "$T/wrong" && chmod 700 "$T/wrong"
printf 'another-token-of-another-state-dir-0123456789\n' >"$T/wrong/token"
printf '{"gateway":{"listen":"%s"},"whatsapp":{"accounts":{}}}\n' "$GW_LISTEN" >"$T/wrong.json"
# (no default state dir or service unit that could name the right one: see below for those)
wrong() { XDG_STATE_HOME=$T/none XDG_CONFIG_HOME=$T/none "$WAGATE_BIN" --config "$T/wrong.json" --state-dir "$T/wrong" "$@"; }
run wrong channels status
check "wrong state dir: exit 1, the token did not match, which state dir, a different one runs" ok_if \
  '[ "$RC" = 1 ] && grep -q "the API token did not match (the CLI used $T/wrong/token)" <<<"$ERR" &&
   grep -q "no gateway runs with the state dir $T/wrong" <<<"$ERR" && grep -q "different state dir" <<<"$ERR" &&
   ! grep -q "^wagate: .*HTTP 401" <<<"$ERR"'
echo "# $ERR"
run wrong status --json
check "... --json: error code token_mismatch with a hint" ok_if \
  '[ "$RC" = 1 ] && [ "$(jq -r .error.code <<<"$OUT")" = token_mismatch ] && jq -e .error.hint <<<"$OUT" >/dev/null'

# the systemd user unit runs the gateway with its state dir: the hint names it
mkdir -p "$T/xdg/systemd/user"
printf '[Service]\nExecStart=%s --config %s --state-dir %s gateway\n' "$WAGATE_BIN" "$T/g/wagate.json" \
  "$GW_STATE" >"$T/xdg/systemd/user/wagate.service"
OUT=$(XDG_STATE_HOME=$T/none XDG_CONFIG_HOME=$T/xdg "$WAGATE_BIN" --config "$T/wrong.json" \
  --state-dir "$T/wrong" channels status 2>&1); RC=$?
check "wrong state dir, gateway from the service unit: the hint names its state dir and pid" ok_if \
  '[ "$RC" = 1 ] && grep -qF "(pid $GW_PID) runs with the state dir $GW_STATE: pass --state-dir $GW_STATE" <<<"$OUT"'
run wrong dashboard --no-open --json
check "dashboard with the wrong state dir: no dead link, token_mismatch" ok_if \
  '[ "$RC" = 1 ] && [ "$(jq -r .error.code <<<"$OUT")" = token_mismatch ] && ! grep -q "#token=" <<<"$OUT"'

# ---- --json on the status commands ----
check "status --json is JSON with running channels" ok_if \
  '[ "$(cli status --json | jq -r ".channels[0].state")" = connected ]'
check "gateway status --json: running, pid" ok_if \
  '[ "$(cli gateway status --json | jq -r .running)" = true ] && [ "$(cli gateway status --json | jq -r .pid)" = "$GW_PID" ]'
check "channels status --json: the channel" ok_if '[ "$(cli channels status --json | jq -r ".[0].account")" = default ]'

# ---- channels logout ----
run cli channels logout </dev/null
check "logout on a non-terminal without --yes: exit 2, says to pass --yes, still connected" ok_if \
  '[ "$RC" = 2 ] && grep -q -- "--yes" <<<"$ERR" && [ "$(chan state)" = connected ]'
run cli channels logout --json </dev/null
check "... --json: error code confirmation_needed" ok_if '[ "$(jq -r .error.code <<<"$OUT")" = confirmation_needed ]'
cat >"$T/askpty.py" <<'PY'
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out, asked = b"", False
end = time.time() + 10
while time.time() < end:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
    if not asked and b"[y/N]" in out:
        os.write(fd, sys.argv[1].encode() + b"\n")
        asked = True
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(st))
PY
run python3 "$T/askpty.py" n "$WAGATE_BIN" --config "$T/g/wagate.json" --state-dir "$GW_STATE" channels logout
check "logout on a terminal asks (naming the account and number); 'n' keeps it linked (exit 1)" ok_if \
  '[ "$RC" = 1 ] && grep -q "Log out whatsapp/default (linked as 15550001:" <<<"$OUT" &&
   grep -q "not logged out" <<<"$OUT" && [ "$(chan state)" = connected ]'
run cli channels logout --yes
check "logout --yes: exit 0, logged out, says how to link again" ok_if \
  '[ "$RC" = 0 ] && grep -q "^whatsapp/default: logged out" <<<"$OUT" &&
   grep -q "wagate channels login --account default" <<<"$OUT"'
st=$(chan state)
check "the channel is no longer connected" ok_if '[ "$st" != connected ]'
run cli health
check "health after logout: exit 1, names the state and to link" ok_if \
  '[ "$RC" = 1 ] && grep -q "whatsapp/default $(chan state) since" <<<"$OUT" &&
   grep -q "link it: wagate channels login --account default" <<<"$OUT"'
run cli channels logout --yes --json
check "logout again: exit 1, already logged out (--json error)" ok_if \
  '[ "$RC" = 1 ] && [ "$(jq -r .error.code <<<"$OUT")" = already_logged_out ]'

# ---- channels login timing out in backoff: the last error is in the message ----
mkdir -p "$T/b"
printf '{"whatsapp":{"endpoint":"ws://127.0.0.1:1/ws/chat","noise_root_pubkey":"%s"},"log":{"json":true}}\n' "$ROOT" \
  >"$T/b/wagate.json"
G1_PID=$GW_PID G1_STATE=$GW_STATE G1_LISTEN=$GW_LISTEN G1_TOKEN=$GW_TOKEN
check "a second gateway whose endpoint refuses connections" start_gateway b
for _ in $(seq 1 100); do [ -n "$(chan last_error)" ] && break; sleep 0.05; done
bcli() { "$WAGATE_BIN" --config "$T/b/wagate.json" --state-dir "$GW_STATE" "$@"; }
run bcli health
echo "# $OUT"
check "health in backoff: exit 1, the state, since, and the last error" ok_if \
  '[ "$RC" = 1 ] && grep -q "^down: 0 of 1 channel connected; whatsapp/default [a-z]* since 20.*, last error: [a-z]" <<<"$OUT"'
run bcli channels login --timeout 2
LE=$(chan last_error)
echo "# $ERR"
check "login timeout: exit 1, the state and the last error the status knows, and what next" ok_if \
  '[ "$RC" = 1 ] && [ -n "$LE" ] && grep -qF "not linked after 2 s (state " <<<"$ERR" &&
   grep -qF "last error: " <<<"$ERR" && grep -q "wagate logs" <<<"$ERR" &&
   grep -qE "(connect|tcp|transport)" <<<"$ERR"'
run bcli channels login --timeout 1 --json
check "... --json: not_linked with the last error in the message" ok_if \
  '[ "$RC" = 1 ] && [ "$(jq -r .error.code <<<"$OUT")" = not_linked ] &&
   jq -r .error.message <<<"$OUT" | grep -q "last error: "'
run bcli logs -n 1000 --json
check "logs --json of a JSON log (log.json): its lines as they are, the connect failures in them" ok_if \
  '[ "$RC" = 0 ] && [ "$OUT" = "$(cat "$GW_STATE/logs/gateway.log")" ] &&
   [ "$(jq -s "map(select(.component==\"whatsapp\" and .account==\"default\")) | length" <<<"$OUT")" -ge 1 ]'
kill -TERM "$GW_PID"; wait "$GW_PID"
GW_PID=$G1_PID GW_STATE=$G1_STATE GW_LISTEN=$G1_LISTEN GW_TOKEN=$G1_TOKEN

# ---- stop; then nothing runs ----
run cli gateway stop
check "gateway stop: exit 0" [ "$RC" = 0 ]
run cli gateway stop
check "gateway stop with nothing running: exit 3" ok_if '[ "$RC" = 3 ] && grep -q "not running" <<<"$OUT"'
run cli gateway stop --json
check "... --json: running false" ok_if '[ "$RC" = 3 ] && [ "$(jq -r .running <<<"$OUT")" = false ]'
run cli health
check "health with nothing running: exit 3, not running, the state dir" ok_if \
  '[ "$RC" = 3 ] && [ "$OUT" = "not running: no gateway runs with the state dir $GW_STATE" ]'
run cli health --json
check "health --json: running false, verdict not_running" ok_if \
  '[ "$RC" = 3 ] && [ "$(jq -r .verdict <<<"$OUT")" = not_running ] && [ "$(jq -r .running <<<"$OUT")" = false ]'
run cli message send --to +15550002 --text "nobody listens" --json
check "send with nothing running: exit 3, error not_running with a hint to start it" ok_if \
  '[ "$RC" = 3 ] && [ "$(jq -r .error.code <<<"$OUT")" = not_running ] && jq -r .error.hint <<<"$OUT" | grep -q "wagate gateway"'
run cli logs -n 2
check "logs work with the gateway stopped: its last line is 'stopped'" ok_if \
  '[ "$RC" = 0 ] && grep -q "info  \[gateway\] stopped$" <<<"$OUT"'
run cli status --json
check "status --json with nothing running: running false, exit 3" ok_if \
  '[ "$RC" = 3 ] && [ "$(jq -r .running <<<"$OUT")" = false ]'

finish
