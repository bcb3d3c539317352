#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Service manager integration of the REAL daemon and CLI: the sd_notify datagrams on a socket
# of the test's own (READY=1 once the API answers, STATUS= with the listen address and each
# account's state, WATCHDOG=1 every WATCHDOG_USEC/2, RELOADING=1 + READY=1 on SIGHUP,
# STOPPING=1 on SIGTERM), the systemd user unit `wagate service install` writes (its contents,
# ExecStart quoting, the systemctl calls, status, uninstall, a failing systemctl), the launchd
# plist (parsed as a plist), and `wagate dashboard` (the URL with the token, the opener only
# in a graphical session, exit 3 with no gateway).
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "not ok - python3 missing"; exit 1; }

# ---- sd_notify ----
# a receiver on an abstract socket: one line per datagram, "<ms since start> <text>"
SOCK="@wagate-it-notify-$$"
cat >"$T/recv.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + sys.argv[1][1:])
s.settimeout(30)  # bounded: the test ends it long before
t0 = time.monotonic()
out = open(sys.argv[2], "a", buffering=1)
print("bound", file=out)
try:
    while True:
        d = s.recv(8192).decode().replace("\n", "\\n")
        print("%d %s" % ((time.monotonic() - t0) * 1000, d), file=out)
except socket.timeout:
    pass
PY
python3 "$T/recv.py" "$SOCK" "$T/notify.log" &
PIDS+=($!)
for _ in $(seq 1 500); do grep -q bound "$T/notify.log" 2>/dev/null && break; sleep 0.01; done
has() { grep -q -- "$1" "$T/notify.log"; }
count() { grep -c -- "$1" "$T/notify.log"; }
wait_has() { for _ in $(seq 1 500); do has "$1" && return 0; sleep 0.01; done; return 1; }

mkdir -p "$T/sd"
echo '{"whatsapp":{"accounts":{"default":{}},"endpoint":"ws://127.0.0.1:9/ws/chat"}}' >"$T/sd/wagate.json"
NOTIFY_SOCKET=$SOCK WATCHDOG_USEC=200000 start_gateway sd
check "the daemon starts under NOTIFY_SOCKET" [ -n "$GW_LISTEN" ]
check "READY=1 is sent" wait_has " READY=1"
check "STATUS= names the listen address and the account's state" \
  ok_if 'wait_has "STATUS=listening on $GW_LISTEN; default "'
sleep 1
n=$(count "WATCHDOG=1")
check "WATCHDOG=1 every WATCHDOG_USEC/2 (100 ms): $n in ~1 s" [ "$n" -ge 4 ]
check "STATUS= follows the account's state changes (the endpoint refuses: backoff)" \
  wait_has "STATUS=.*default backoff"
kill -HUP "$GW_PID"
check "SIGHUP: RELOADING=1" wait_has "RELOADING=1"
check "... then READY=1 again" ok_if 'for _ in $(seq 1 500); do [ "$(count " READY=1")" -ge 2 ] && break; sleep 0.01; done; [ "$(count " READY=1")" -ge 2 ]'
kill -TERM "$GW_PID"
wait "$GW_PID"
check "SIGTERM: STOPPING=1" wait_has "STOPPING=1"
n1=$(count "WATCHDOG=1"); sleep 0.4; n2=$(count "WATCHDOG=1")
check "no WATCHDOG=1 after the stop" [ "$n1" = "$n2" ]
ready_line=$(grep -m1 " READY=1" "$T/notify.log")
check "the first READY=1 comes before STOPPING=1" ok_if \
  '[ "$(grep -n " READY=1" "$T/notify.log" | head -1 | cut -d: -f1)" -lt "$(grep -n STOPPING "$T/notify.log" | cut -d: -f1)" ]'
echo "# first datagram: $ready_line"

# without NOTIFY_SOCKET nothing is sent and nothing breaks
start_gateway plain
check "no NOTIFY_SOCKET: starts as before" [ -n "$GW_LISTEN" ]

# ---- wagate dashboard ----
mkdir -p "$T/bin"
cat >"$T/bin/xdg-open" <<EOF2
#!/bin/sh
echo "\$1" >> "$T/opened"
EOF2
chmod +x "$T/bin/xdg-open"
dash() { env PATH="$T/bin:$PATH" "$WAGATE_BIN" --config "$T/plain/wagate.json" --state-dir "$GW_STATE" dashboard "$@"; }
url=$(env -u DISPLAY -u WAYLAND_DISPLAY PATH="$T/bin:$PATH" "$WAGATE_BIN" --config "$T/plain/wagate.json" \
  --state-dir "$GW_STATE" dashboard)
check "dashboard prints the URL with the token in the fragment" \
  [ "$url" = "http://$GW_LISTEN/#token=$GW_TOKEN" ]
check "no graphical session: no browser" [ ! -e "$T/opened" ]
check "the URL serves the page without a token" ok_if \
  'curl -sf -m 5 "${url%%#*}" | grep -q "<title>wagate</title>"'
DISPLAY=:99 dash >/dev/null
check "DISPLAY set: xdg-open gets the URL" ok_if '[ "$(cat "$T/opened" 2>/dev/null)" = "$url" ]'
DISPLAY=:99 dash --no-open >/dev/null
check "--no-open: not opened again" [ "$(wc -l <"$T/opened")" = 1 ]
check "--json" [ "$(env -u DISPLAY -u WAYLAND_DISPLAY "$WAGATE_BIN" --state-dir "$GW_STATE" --config "$T/plain/wagate.json" dashboard --json | jq -r .url)" = "$url" ]
kill -TERM "$GW_PID"; wait "$GW_PID"
dash >/dev/null 2>"$T/dash.err"; rc=$?
check "no gateway: exit 3 and what to do" ok_if '[ "$rc" = 3 ] && grep -q "wagate gateway" "$T/dash.err"'

# ---- wagate service (systemd user unit) ----
export XDG_CONFIG_HOME="$T/xdg"
SD="$T/my state%dir"          # a space and a '%' in a path: quoted and escaped in ExecStart
mkdir -p "$SD"
cp "$T/plain/wagate.json" "$T/cfg.json"
svc() { env PATH="$T/bin:$PATH" "$WAGATE_BIN" --config "$T/cfg.json" --state-dir "$SD" service "$@"; }
unit=$(svc install --print)
line() { grep -qxF -- "$1" <<<"$unit"; }
check "unit: Type=notify" line "Type=notify"
check "unit: Restart=always" line "Restart=always"
check "unit: WatchdogSec=30" line "WatchdogSec=30"
check "unit: ExecReload sends SIGHUP" line 'ExecReload=/bin/kill -HUP $MAINPID'
check "unit: WantedBy=default.target" line "WantedBy=default.target"
exe=$(readlink -f "$WAGATE_BIN")
check "unit: ExecStart runs this binary with absolute --config/--state-dir, quoted" \
  line "ExecStart=$exe --config $T/cfg.json --state-dir \"$T/my state%%dir\" gateway"
check "--print writes nothing" [ ! -e "$XDG_CONFIG_HOME/systemd/user/wagate.service" ]

cat >"$T/bin/systemctl" <<EOF2
#!/bin/sh
echo "\$*" >> "$T/systemctl.log"
case "\$2" in is-active) echo active ;; is-enabled) echo enabled ;; esac
exit \${FAKE_SYSTEMCTL_RC:-0}
EOF2
chmod +x "$T/bin/systemctl"
out=$(svc install); rc=$?
UNIT="$XDG_CONFIG_HOME/systemd/user/wagate.service"
check "install: exit 0, says where" ok_if '[ "$rc" = 0 ] && grep -qF "wrote $UNIT" <<<"$out"'
check "install: the file is the printed unit" ok_if '[ "$(cat "$UNIT")" = "$unit" ]'
if command -v systemd-analyze >/dev/null; then # systemd's own parser: no complaint
  check "systemd-analyze verify accepts the unit" ok_if \
    'va=$(cd "$T" && systemd-analyze verify "$UNIT" 2>&1); [ -z "$va" ] || { echo "# $va"; false; }'
fi
check "install: daemon-reload, then enable --now" ok_if \
  '[ "$(cat "$T/systemctl.log")" = "$(printf "%s\n" "--user daemon-reload" "--user enable --now wagate.service")" ]'
st=$(svc status --json); rc=$?
check "status --json: installed, active, enabled (exit 0)" ok_if \
  '[ "$rc" = 0 ] && [ "$(jq -r "[.installed,.active,.enabled]|join(\" \")" <<<"$st")" = "true active enabled" ]'
: >"$T/systemctl.log"
out=$(svc uninstall); rc=$?
check "uninstall: disable --now, file removed, daemon-reload" ok_if \
  '[ "$rc" = 0 ] && [ ! -e "$UNIT" ] && grep -qx -- "--user disable --now wagate.service" "$T/systemctl.log" &&
   [ "$(tail -1 "$T/systemctl.log")" = "--user daemon-reload" ]'
svc status >/dev/null; rc=$?
check "status when not installed: exit 3" [ "$rc" = 3 ]
out=$(FAKE_SYSTEMCTL_RC=1 svc install 2>&1); rc=$?
check "a failing systemctl: exit 1, the unit kept, the command to run" ok_if \
  '[ "$rc" = 1 ] && [ -f "$UNIT" ] && grep -q "systemctl --user enable --now wagate.service" <<<"$out"'
: >"$T/systemctl.log"
svc install --no-enable >/dev/null
check "--no-enable: no systemctl call" [ ! -s "$T/systemctl.log" ]

# ---- launchd plist (macOS), generated anywhere with --launchd ----
svc install --launchd --print >"$T/agent.plist"
check "plist: parses, Label, ProgramArguments, RunAtLoad, KeepAlive" python3 - "$T/agent.plist" "$exe" "$SD" <<'PY'
import plistlib, sys
p = plistlib.load(open(sys.argv[1], "rb"))
assert p["Label"] == "dev.wagate.gateway", p
assert p["ProgramArguments"][0] == sys.argv[2], p
assert p["ProgramArguments"][-1] == "gateway", p
assert p["ProgramArguments"][p["ProgramArguments"].index("--state-dir") + 1] == sys.argv[3], p
assert p["RunAtLoad"] is True and p["KeepAlive"] is True, p
PY
finish
