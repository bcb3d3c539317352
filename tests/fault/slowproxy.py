#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A TCP relay for the fault tests (fault-matrix #10): listens on 127.0.0.1 (port 0: any) and
# relays every connection to UPSTREAM. While the control file holds "slow DELAY_MS RATE_BPS"
# each chunk, in both directions, is held DELAY_MS and then paced to RATE_BPS bytes/s (per
# direction); "pass" (or no file) relays at once. Prints "listen PORT" once ready.
#   slowproxy.py UPSTREAM_HOST:PORT CONTROL_FILE
# Bounded: at most 64 connections at once, 4 MiB queued per direction (then it is dropped).
import asyncio, sys, time

UP_HOST, UP_PORT = sys.argv[1].rsplit(":", 1)
CTL = sys.argv[2]
MODE = {"delay": 0.0, "rate": 0.0}
MAX_CONNS, MAX_QUEUED = 64, 4 << 20
conns = 0


async def reload_ctl():
    while True:
        try:
            w = open(CTL).read().split()
        except OSError:
            w = []
        if len(w) == 3 and w[0] == "slow":
            MODE["delay"], MODE["rate"] = int(w[1]) / 1000.0, float(w[2])
        else:
            MODE["delay"], MODE["rate"] = 0.0, 0.0
        await asyncio.sleep(0.1)


async def pump(reader, writer):
    q = asyncio.Queue()
    queued = [0]

    async def rx():
        while True:
            b = await reader.read(4096)
            await q.put((time.monotonic() + MODE["delay"], b))
            queued[0] += len(b)
            if not b or queued[0] > MAX_QUEUED:
                await q.put((0, b""))
                return

    async def tx():
        while True:
            at, b = await q.get()
            queued[0] -= len(b)
            if not b:
                break
            wait = at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if MODE["rate"] > 0:
                await asyncio.sleep(len(b) / MODE["rate"])
            writer.write(b)
            await writer.drain()
        writer.close()

    try:
        await asyncio.gather(rx(), tx())
    except (ConnectionError, OSError):
        writer.close()


async def on_conn(cr, cw):
    global conns
    if conns >= MAX_CONNS:
        cw.close()
        return
    conns += 1
    try:
        ur, uw = await asyncio.open_connection(UP_HOST, int(UP_PORT))
        await asyncio.gather(pump(cr, uw), pump(ur, cw), return_exceptions=True)
    except OSError:
        cw.close()
    finally:
        conns -= 1


async def main():
    srv = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    print("listen", srv.sockets[0].getsockname()[1], flush=True)
    asyncio.ensure_future(reload_ctl())
    async with srv:
        await srv.serve_forever()


asyncio.run(main())
