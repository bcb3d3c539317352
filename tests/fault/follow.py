#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Follow the gateway's live event stream for SECONDS and print each event as
# "MONO_MS JSON", MONO_MS being this process's monotonic clock at arrival (not the daemon's,
# whose wall clock a test may be faking). Stdlib only; frames < 64 KiB. Bounded by SECONDS.
#   follow.py HOST:PORT TOKEN SECONDS
import base64, json, os, socket, struct, sys, time

host, port = sys.argv[1].rsplit(":", 1)
end = time.monotonic() + float(sys.argv[3])
s = socket.create_connection((host, int(port)), timeout=3)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: localhost:%s\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n"
           "Authorization: Bearer %s\r\n\r\n" % (port, key, sys.argv[2])).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    b = s.recv(4096)
    if not b:
        sys.exit("follow.py: the server closed before the upgrade")
    buf += b
head, buf = buf.split(b"\r\n\r\n", 1)
if b" 101 " not in head.split(b"\r\n", 1)[0]:
    sys.exit("follow.py: upgrade refused: %s" % head.split(b"\r\n", 1)[0].decode(errors="replace"))
print("ready", flush=True)


def need(n):
    global buf
    while len(buf) < n:
        left = end - time.monotonic()
        if left <= 0:
            sys.exit(0)
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except socket.timeout:
            sys.exit(0)
        if not b:
            sys.exit(0)
        buf += b


while True:
    need(2)
    n, off = buf[1] & 127, 2
    if n == 126:
        need(4)
        n, off = struct.unpack(">H", buf[2:4])[0], 4
    need(off + n)
    op, payload, buf = buf[0] & 15, buf[off:off + n], buf[off + n:]
    if op == 1:
        print(int(time.monotonic() * 1000), json.dumps(json.loads(payload)), flush=True)
