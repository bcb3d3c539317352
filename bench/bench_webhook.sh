#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Webhook throughput and latency: the real daemon (build/wagate) linked to wagate-fakewa, one
# hooks.webhook endpoint on a local python3 receiver (127.0.0.1, answers 204). alice's phone
# sends BENCH_MSGS texts (default 500) as fast as fakewa's admin API takes them; measured: the
# time until the receiver has every message (each delivery is its own TCP connection, at most
# max_concurrent = 4 at once), the daemon's CPU seconds for it, and the median and p99 delay
# from "stored in the inbox" (the daemon's cursor order, timed by fakewa's send) to the
# request at the receiver for a paced run. Prints figures; asserts nothing.
source "$(dirname "$0")/lib.sh"
N=${BENCH_MSGS:-500}
bench_init bench_webhook python3
bench_fakewa

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/recv.py" <<'PY'
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
out = open(sys.argv[2], "a", buffering=1)
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        d = json.loads(body)["data"]
        out.write(f'{time.time_ns() // 1000} {self.headers["X-Wagate-Delivery"]} {d.get("text", "")}\n')
        self.send_response(204)
        self.end_headers()
ThreadingHTTPServer.request_queue_size = 64
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$T/recv.py" "$PORT" "$T/recv.log" 2>"$T/recv.err" &
PIDS+=($!)

cat >"$T/g/wagate.json" <<JSON
{"whatsapp":{"endpoint":"ws://$LISTEN/ws/chat","noise_root_pubkey":"$ROOT"},
 "hooks":{"webhook":{"endpoints":[{"url":"http://127.0.0.1:$PORT/in","secret":"bench-secret-0123456789"}],"max_concurrent":${BENCH_CONC:-4}}}}
JSON
bench_daemon
bench_link

cat >"$T/flood.py" <<'PY'
import http.client, json, os, sys, time
admin, pid, n, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def cpu():
    return sum(int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
               for t in os.listdir(f"/proc/{pid}/task")) / 1e9
h, p = admin.rsplit(":", 1)
A = http.client.HTTPConnection(h, int(p), timeout=10)
def send(text):
    A.request("POST", "/admin/contacts/alice/send", body=json.dumps({"to": "+15550001", "text": text}))
    r = A.getresponse(); r.read()
    if r.status != 200: sys.exit(f"fakewa send: {r.status}")
def lines():
    try: return [l.split(" ", 2) for l in open(log).read().splitlines()]
    except FileNotFoundError: return []
def wait_for(prefix, k, t0):
    while True:
        got = [l for l in lines() if l[2].startswith(prefix)]
        if len({l[2] for l in got}) >= k: return got
        if time.monotonic() - t0 > 120: sys.exit(f"timed out: {len(got)}/{k}")
        time.sleep(0.01)
# burst
c0, t0 = cpu(), time.monotonic()
for i in range(n): send(f"burst {i}")
ts = time.monotonic() - t0
got = wait_for("burst ", n, t0)
tw, c = time.monotonic() - t0, cpu() - c0
ids = {l[1] for l in got}
print(f"burst: {n} messages at the receiver {tw:.2f} s after the first send ({n / tw:.0f}/s wall; "
      f"fakewa's sends alone {ts:.2f} s); daemon CPU {c:.2f} s ({n / c:.0f} msgs per CPU-second "
      f"incl. decrypt, inbox commit, webhook queue commit, HTTP); {len(got)} requests, {len(ids)} ids")
# paced: one message every 20 ms, latency send-return -> receiver
lat = []
for i in range(100):
    t = time.time_ns() // 1000
    send(f"paced {i}")
    got = wait_for(f"paced {i}", 1, time.monotonic())
    lat.append((int([l for l in got if l[2] == f"paced {i}"][0][0]) - t) / 1000)
    time.sleep(0.02)
lat.sort()
print(f"paced: send -> receiver median {lat[50]:.1f} ms, p90 {lat[90]:.1f} ms, max {lat[-1]:.1f} ms "
      f"(100 messages 20 ms apart; includes fakewa's encryption and routing)")
PY
python3 "$T/flood.py" "$ADMIN" "$PID" "$N" "$T/recv.log" || echo "bench_webhook: flood failed"
api GET /api/v1/channels/whatsapp/default | jq -c .webhooks
