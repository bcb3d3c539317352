#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The real daemon (build/wagate) linked to wagate-fakewa over loopback: idle RSS and wake-ups
# with one linked account, then outbound (POST /api/v1/messages -> encrypt -> commit -> frame
# -> server ack, until the contact's phone has them all) and inbound (fakewa's simulated
# contact floods us -> decrypt -> commit -> receipt -> event -> inbox route) messages/s.
# Both daemon and fakewa share this machine's 2 cores, so every rate is given twice: wall
# clock, and per CPU-second of the daemon alone (utime+stime from /proc: the "one core"
# figure). Prints figures; asserts nothing. BENCH_MSGS outbound per run (default 300, max 330:
# fakewa keeps 1000 inbox rows per phone), BENCH_MSGS_IN inbound per run (default 1000); 3 runs
# each way, medians, IDLE_SECONDS (default 10), BENCH_SMAPS=1 (list the largest
# resident mappings). Last, the daemon is restarted on the same state dir (login from the
# stored credentials) and its idle RSS is measured again.
source "$(dirname "$0")/lib.sh"
N=${BENCH_MSGS:-300}
NIN=${BENCH_MSGS_IN:-1000}
SECS=${IDLE_SECONDS:-10}
[ "$N" -gt 330 ] && N=330
bench_init bench_gateway_msgs python3
bench_fakewa
printf '{"whatsapp":{"endpoint":"ws://%s/ws/chat","noise_root_pubkey":"%s"}}\n' "$LISTEN" "$ROOT" \
  >"$T/g/wagate.json"
bench_daemon
bench_link

# ---- idle with one linked account ----
sleep 2
switches() { cat /proc/$PID/task/*/status | awk '/^voluntary_ctxt_switches/ {s+=$2} END {print s}'; }
rss_kb() { awk '/^VmRSS/ {print $2}' /proc/$PID/status; }
a=$(switches)
sleep "$SECS"
b=$(switches)
rss=$(rss_kb)
echo "idle RSS with one linked account: $(awk "BEGIN{printf \"%.1f\", $rss/1024}") MiB" \
  "(VmRSS $rss KiB, $(ls /proc/$PID/task | wc -l) threads; goal < 8 MiB)"
sm() { awk -v k="$1:" '$1 == k {print $2}' /proc/$PID/smaps_rollup 2>/dev/null; }
priv=$(( $(sm Private_Clean) + $(sm Private_Dirty) ))
echo "  of which private $(awk "BEGIN{printf \"%.1f\", $priv/1024}") MiB (anon $(sm Anonymous) KiB)," \
  "shared with other processes $(awk "BEGIN{printf \"%.1f\", ($rss-$priv)/1024}") MiB, PSS $(sm Pss) KiB"
if [ -n "${BENCH_SMAPS:-}" ]; then # the largest mappings, resident KiB
  awk '/^[0-9a-f]+-[0-9a-f]+ / {name = NF >= 6 ? $6 : "[anon]"} /^Rss:/ {r[name] += $2}
       END {for (k in r) print r[k], k}' /proc/$PID/smaps | sort -rn | head -12 | sed 's/^/    /'
fi
echo "idle wake-ups with one linked account: $((b - a)) in ${SECS}s" \
  "($(awk "BEGIN{printf \"%.2f\", ($b-$a)/$SECS}")/s, keepalive pings included)"

# ---- the floods (python: keep-alive HTTP, timing, /proc CPU accounting) ----
cat >"$T/flood.py" <<'PY'
import http.client, json, os, sys, time
gw, tok, admin, pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
n, nin = int(sys.argv[5]), int(sys.argv[6])
hz = os.sysconf("SC_CLK_TCK")
def cpu2():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) / hz, int(f[12]) / hz
def cpu():  # ns-precise CPU time of all the daemon's threads (/proc/PID/task/*/schedstat)
    t = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        t += int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])
    return t / 1e9
def wsys():  # write-type system calls of the daemon (/proc/PID/io syscw: WAL frames, sockets)
    for line in open(f"/proc/{pid}/io"):
        if line.startswith("syscw:"):
            return int(line.split()[1])
    return 0
def conn(hostport):
    h, p = hostport.rsplit(":", 1)
    return http.client.HTTPConnection(h, int(p), timeout=10)
G, A = conn(gw), conn(admin)
H = {"Authorization": "Bearer " + tok, "content-type": "application/json"}
def req(c, m, path, body=None, h=None):
    c.request(m, path, body=json.dumps(body) if body is not None else None, headers=h or {})
    r = c.getresponse()
    d = r.read()
    return r.status, (json.loads(d) if d else None)
def alice_count():
    return len(req(A, "GET", "/admin/contacts/alice/inbox")[1]["messages"])
def inbox_after(cur):
    got, last = 0, cur
    while True:
        s, b = req(G, "GET", f"/api/v1/messages?account=default&after={last}&limit=1000", h=H)
        got += len(b["messages"])
        if not b["messages"]:
            return got, last
        last = b["next_cursor"]
def median(v):
    return sorted(v)[len(v) // 2]
def summary(what, runs, n, note, us):
    w = [n / r[0] for r in runs]
    c = sum(r[1] for r in runs)  # schedstat: ns; the user/system split below is in 10 ms ticks
    print(f"{what}: {median(w):.0f} msgs/s wall (median of {len(runs)} x {n}; runs "
          f"{', '.join(f'{x:.0f}' for x in w)}); {len(runs) * n / c if c > 0 else 0:.0f} msgs per "
          f"daemon CPU-second ({c:.2f} s of CPU for {len(runs) * n}: user {us[0]:.2f} s, "
          f"system {us[1]:.2f} s; {us[2] / (len(runs) * n):.1f} write syscalls per message)")
    print(f"  {note}")
ROUNDS = 3
# outbound: enqueue every message, then wait until alice's phone has them all
runs, enq = [], []
u0, w0 = cpu2(), wsys()
for k in range(ROUNDS):
    base = alice_count()
    c0, t0 = cpu(), time.monotonic()
    for i in range(n):
        s, _ = req(G, "POST", "/api/v1/messages", {"account": "default", "to": "+15550002",
                   "text": f"bench outbound {k}.{i}: the quick brown fox jumps over the lazy dog"}, H)
        if s not in (200, 202):
            sys.exit(f"POST /api/v1/messages: {s}")
    enq.append(time.monotonic() - t0)
    while alice_count() - base < n:
        if time.monotonic() - t0 > 60:
            sys.exit("outbound: timed out")
        time.sleep(0.005)
    runs.append((time.monotonic() - t0, cpu() - c0))
u1 = cpu2()
summary("outbound (POST -> enqueue+encrypt commit -> frame -> server ack -> phone)",
        runs, n, f"the POSTs alone took {median(enq):.2f} s a run: one HTTP request each, "
        "sequential on one keep-alive connection",
        (u1[0] - u0[0], u1[1] - u0[1], wsys() - w0))
# inbound: the contact's phone sends n texts (fakewa encrypts each), wait for the inbox route
_, cur = inbox_after(0)
runs, snd = [], []
u0, w0 = cpu2(), wsys()
for k in range(ROUNDS):
    c0, t0 = cpu(), time.monotonic()
    for i in range(nin):
        s, _ = req(A, "POST", "/admin/contacts/alice/send",
                   {"to": "+15550001", "text": f"bench inbound {k}.{i}: the quick brown fox"})
        if s != 200:
            sys.exit(f"fakewa send: {s}")
    snd.append(time.monotonic() - t0)
    got = 0
    while got < nin:
        if time.monotonic() - t0 > 60:
            sys.exit(f"inbound: timed out ({got}/{nin})")
        m, cur = inbox_after(cur)
        got += m
        if got < nin:
            time.sleep(0.005)
    runs.append((time.monotonic() - t0, cpu() - c0))
summary("inbound end to end (fakewa encrypt -> daemon decrypt+commit+receipt+event -> inbox)",
        runs, nin, f"fakewa's admin sends alone took {median(snd):.2f} s a run ({nin / median(snd):.0f}/s: "
        "its HTTP + encryption + routing, on the same 2 cores): end to end cannot beat that",
        (cpu2()[0] - u0[0], cpu2()[1] - u0[1], wsys() - w0))
PY
python3 "$T/flood.py" "$L" "$TOK" "$ADMIN" "$PID" "$N" "$NIN" || echo "bench_gateway_msgs: flood failed"
r0=$(rss_kb)
sleep 2 # the daemon hands freed heap pages back once its loop has been quiet (gw/memtrim)
echo "daemon RSS after the floods: $(awk "BEGIN{printf \"%.1f\", $r0/1024}") MiB at once," \
  "$(awk "BEGIN{printf \"%.1f\", $(rss_kb)/1024}") MiB after 2 s idle"

# ---- restart on the same state: login from the stored credentials (no QR), then idle ----
kill "$PID" && wait "$PID" 2>/dev/null
bench_daemon
wait_state connected
sleep 2
a=$(switches)
sleep "$SECS"
b=$(switches)
echo "idle RSS after a restart (login from the store): $(awk "BEGIN{printf \"%.1f\", $(rss_kb)/1024}")" \
  "MiB (VmRSS $(rss_kb) KiB; $((b - a)) wake-ups in ${SECS}s)"
