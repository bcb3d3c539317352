# SPDX-License-Identifier: MIT
# compare.py -- wagate side by side with an unmodified Baileys client (bench/baileys/driver.mjs)
# against tools/fakewa on loopback, one run, same machine. Prints one table and writes it to
# bench/out/table.md. Run by bench/compare.sh (make bench). Figures only: asserts nothing.
# Env: BENCH_IN (1:1 inbound per run, default 2500), BENCH_GROUP (group inbound per run, 500),
# BENCH_OUT (outbound per run, 300, max 330), BENCH_IDLE (idle seconds, 30), BENCH_STARTS (10),
# BENCH_WAGATE_ACCOUNTS ("1,10,100"), BENCH_BAILEYS_ACCOUNTS ("1,10,100"), BENCH_ONLY ("nodes":
# the accounts-per-node rows alone, e.g. BENCH_ONLY=nodes BENCH_WAGATE_ACCOUNTS=1000),
# BENCH_NODE_CACHE (with BENCH_ONLY=nodes: a directory kept between runs holding fakewa's state
# and each wagate node's linked store, so a rerun skips linking; made on the first run),
# BENCH_FLOOD_PERF=1 (perf the accounts-per-node floods, the client's and fakewa's:
# bench/out/flood-WHO-K.perf.txt, flood-fakewa-WHO-K.perf.txt). The inbound texts come from
# fakewa's POST /admin/flood (tools/fakewa/flood.h: no HTTP request per message).
import http.client, json, os, queue, statistics, subprocess, sys, tempfile, threading, time
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("WAGATE_BUILD", os.path.join(ROOT, "build"))
WAGATE = os.environ.get("WAGATE_BIN", os.path.join(BUILD, "wagate"))
FAKEWA = os.path.join(BUILD, "wagate-fakewa")
TESTDNS = os.path.join(BUILD, "wagate-testdns")
DNS_ROUNDS = int(os.environ.get("BENCH_DNS_ROUNDS", "3"))
DNS_OUTAGE_S = float(os.environ.get("BENCH_DNS_OUTAGE", "6"))
DRIVER = os.path.join(ROOT, "bench", "baileys", "driver.mjs")
N_IN = int(os.environ.get("BENCH_IN", "2500"))
N_GROUP = int(os.environ.get("BENCH_GROUP", "500"))
N_OUT = min(330, int(os.environ.get("BENCH_OUT", "300")))
IDLE = float(os.environ.get("BENCH_IDLE", "30"))
STARTS = int(os.environ.get("BENCH_STARTS", "10"))
W_ACC = [int(x) for x in os.environ.get("BENCH_WAGATE_ACCOUNTS", "1,10,100,1000").split(",") if x]
B_ACC = [int(x) for x in os.environ.get("BENCH_BAILEYS_ACCOUNTS", "1,10,100").split(",") if x]
ONLY = os.environ.get("BENCH_ONLY", "")
FLOOD_PERF = os.environ.get("BENCH_FLOOD_PERF", "") == "1"  # perf the flood: bench/out/flood-*.perf.txt
NODE_CACHE = os.path.abspath(os.environ["BENCH_NODE_CACHE"]) if os.environ.get("BENCH_NODE_CACHE") and ONLY == "nodes" else ""
ROUNDS = 3
SENDERS = 4  # concurrent API connections of the outbound sends
T = tempfile.mkdtemp(prefix="wagate-compare-")
OUT = os.path.join(ROOT, "bench", "out")
os.makedirs(OUT, exist_ok=True)
PROCS = []


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---- HTTP, /proc ----
def hreq(hostport, method, p, body=None, headers=None, conn=None, timeout=10):
    h, port = hostport.rsplit(":", 1)
    c = conn or http.client.HTTPConnection(h, int(port), timeout=timeout)
    hd = dict(headers or {})
    if body is not None:
        hd["content-type"] = "application/json"
    c.request(method, p, body=json.dumps(body) if body is not None else None, headers=hd)
    r = c.getresponse()
    d = r.read()
    if conn is None:
        c.close()
    try:
        return r.status, json.loads(d) if d else None
    except ValueError:
        return r.status, d


def tree(pid):
    kids = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                pp = int(open(f"/proc/{e}/stat").read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(pp, []).append(int(e))
            except (OSError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def cpu(pid):  # CPU seconds of every thread of the process tree (schedstat, ns)
    t = 0
    for p in tree(pid):
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                t += int(open(f"/proc/{p}/task/{tid}/schedstat").read().split()[0])
        except OSError:
            pass
    return t / 1e9


def rss_threads(pid):  # (MiB resident, threads) of the process tree
    r, th = 0, 0
    for p in tree(pid):
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    r += int(line.split()[1])
                elif line.startswith("Threads:"):
                    th += int(line.split()[1])
        except OSError:
            pass
    return r / 1024, th


def fsyncs(pid):  # not exposed by /proc; syscw (write-type syscalls) stands in
    try:
        for line in open(f"/proc/{pid}/io"):
            if line.startswith("syscw:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_for(pred, secs, what):
    end = time.monotonic() + secs
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.005)


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# ---- fakewa ----
class Fakewa:
    def __init__(self):
        self.p = subprocess.Popen([FAKEWA, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                                   "--state", os.path.join(NODE_CACHE or T, "fw"), "--log-level", "warn"],
                                  stdout=subprocess.PIPE, text=True)
        PROCS.append(self.p)
        kv = {}
        for line in self.p.stdout:
            k, _, v = line.strip().partition(" ")
            kv[k] = v
            if k == "ready":
                break
        self.admin, self.root, self.listen = kv["admin"], kv["root"], kv["listen"]
        self.url = f"ws://{self.listen}/ws/chat"

    def api(self, m, p, body=None):
        return hreq(self.admin, m, p, body)

    def account(self, phone):
        self.api("POST", "/admin/accounts", {"phone": phone})

    def inbox_len(self, who):  # messages the phone ever got (its inbox keeps the last 1,000)
        j = self.api("GET", f"/admin/contacts/{who}/inbox")[1]
        return int(j.get("total", len(j["messages"])))

    def flood(self, sender, targets, n):
        """sender's phone sends n texts, round robin over targets, from inside fakewa
        (POST /admin/flood: no HTTP request per message); returns fakewa's seconds for them
        (its CPU-s for them in self.flood_cpu)."""
        s, b = hreq(self.admin, "POST", "/admin/flood",
                    {"from": sender, "to": targets, "count": n,
                     "text": "bench inbound: the quick brown fox"}, timeout=600)
        if s != 200 or not isinstance(b, dict) or b.get("sent") != n:
            raise RuntimeError(f"fakewa flood: {s} {b}")
        self.flood_cpu = b["cpu_ms"] / 1000
        return b["wall_ms"] / 1000


# ---- wagate ----
class Wagate:
    def __init__(self, fw, name, accounts, base=None):
        self.fw, self.dir, self.accounts = fw, os.path.join(base or T, name), accounts
        self.state = os.path.join(self.dir, "state")
        os.makedirs(self.dir, exist_ok=True)
        self.cfg = os.path.join(self.dir, "wagate.json")
        json.dump({"whatsapp": {"endpoint": fw.url, "noise_root_pubkey": fw.root,
                                "accounts": {a: {} for a in accounts}}}, open(self.cfg, "w"))
        self.p = None
        self.cursor = {a: 0 for a in accounts}

    def start(self):
        try:
            os.unlink(os.path.join(self.state, "gateway.json"))
        except OSError:
            pass
        t0 = time.monotonic()
        self.p = subprocess.Popen([WAGATE, "--config", self.cfg, "--state-dir", self.state, "gateway",
                                   "--listen", "127.0.0.1:0"], stdout=subprocess.DEVNULL,
                                  stderr=open(os.path.join(self.dir, "err.log"), "a"))
        PROCS.append(self.p)

        def up():
            try:
                self.listen = json.load(open(os.path.join(self.state, "gateway.json")))["listen"]
                self.tok = open(os.path.join(self.state, "token")).read().strip()
                return True
            except (OSError, ValueError, KeyError):
                return False
        wait_for(up, 10, "wagate gateway.json")
        return t0

    def api(self, m, p, body=None):
        return hreq(self.listen, m, p, body, {"Authorization": f"Bearer {self.tok}"})

    def channels(self):
        try:
            s, b = self.api("GET", "/api/v1/status")
            return {c["account"]: c for c in b.get("channels", [])} if s == 200 else {}
        except OSError:
            return {}

    def all_connected(self):
        ch = self.channels()
        return len(ch) >= len(self.accounts) and all(c.get("state") == "connected" for c in ch.values())

    def link(self, acct, phone):
        def qr():
            s, b = self.api("POST", f"/api/v1/channels/whatsapp/{acct}/login")
            return b.get("qr") if isinstance(b, dict) else None
        for tries in range(3):  # a QR ref can rotate between reading it and the scan: read again
            # an account linked by an earlier run (BENCH_NODE_CACHE) connects instead of a QR
            q = wait_for(lambda: "linked" if self.acct_state(acct) == "connected" else qr(), 20,
                         "wagate QR")
            if q == "linked":
                return
            s, b = self.fw.api("POST", "/admin/scan", {"qr": q, "phone": phone})
            if s == 200:
                break
            if tries == 2:
                raise RuntimeError(f"scan: {s} {b}")
        wait_for(lambda: self.acct_state(acct) == "connected", 60, "linked")

    def acct_state(self, acct):  # one account's entry: cheap even with a thousand accounts
        try:
            s, b = self.api("GET", f"/api/v1/channels/whatsapp/{acct}")
            return b.get("state") if s == 200 and isinstance(b, dict) else None
        except OSError:
            return None

    def stop(self):
        stop(self.p)

    def delivered(self):  # texts the application has read from the inbox route (all accounts)
        got = 0
        for a in self.accounts:
            while True:
                s, b = self.api("GET", f"/api/v1/messages?account={a}&after={self.cursor[a]}&limit=1000")
                got += len(b["messages"])
                if not b["messages"]:
                    break
                self.cursor[a] = b["next_cursor"]
        return got

    def stored(self):  # messages stored (and acked) in every account's inbox, from /metrics
        h, port = self.listen.rsplit(":", 1)
        c = http.client.HTTPConnection(h, int(port), timeout=10)
        c.request("GET", "/metrics", headers={"Authorization": f"Bearer {self.tok}"})
        text = c.getresponse().read().decode()
        c.close()
        return int(sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                       if l.startswith("wagate_channel_messages_in_total{")))

    def send(self, to, n):
        idx = iter(range(n))
        lock = threading.Lock()

        def work():
            h, port = self.listen.rsplit(":", 1)
            c = http.client.HTTPConnection(h, int(port), timeout=30)
            while True:
                with lock:
                    k = next(idx, None)
                if k is None:
                    return
                hreq(self.listen, "POST", "/api/v1/messages",
                     {"account": self.accounts[0], "to": to,
                      "text": f"bench outbound {k}: the quick brown fox jumps over the lazy dog"},
                     {"Authorization": f"Bearer {self.tok}"}, conn=c)
        ts = [threading.Thread(target=work) for _ in range(SENDERS)]
        [t.start() for t in ts]
        [t.join() for t in ts]


# ---- Baileys (bench/baileys/driver.mjs) ----
class Baileys:
    def __init__(self, fw, name, n, phone_base):
        self.fw, self.dir, self.n, self.base = fw, os.path.join(T, name), n, phone_base
        self.p = None
        self.read_total = 0

    def phone(self, i):
        return f"+{self.base + i}"

    def start(self, pair=False):
        t0 = time.monotonic()
        self.p = subprocess.Popen(["node", DRIVER, "--url", self.fw.url, "--root", self.fw.root,
                                   "--dir", self.dir, "--accounts", str(self.n),
                                   "--phone-base", str(self.base)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                  stderr=open(os.path.join(OUT, "baileys-driver.log"), "a"))
        PROCS.append(self.p)
        self.lines = queue.Queue()
        self.opens = []
        self.all_open = threading.Event()
        self.answers = queue.Queue()

        def reader():
            for line in self.p.stdout:
                w = line.split()
                if not w:
                    continue
                if w[0] == "qr" and pair:
                    threading.Thread(target=self.fw.api, args=("POST", "/admin/scan",
                                     {"qr": w[2], "phone": self.phone(int(w[1]))})).start()
                elif w[0] == "open":
                    self.opens.append((int(w[1]), time.monotonic()))
                elif w[0] == "all-open":
                    self.all_open.set()
                elif w[0] in ("count", "sent", "error"):
                    self.answers.put(w)
        threading.Thread(target=reader, daemon=True).start()
        return t0

    def wait_open(self, secs):
        end = time.monotonic() + secs
        while not self.all_open.wait(0.2):
            if self.p.poll() is not None:  # it died (see bench/out/baileys-driver.log)
                raise RuntimeError(f"Baileys: the driver exited ({self.p.returncode}) before all "
                                   "accounts opened; bench/out/baileys-driver.log says why")
            if time.monotonic() > end:
                raise RuntimeError("Baileys: not all accounts opened")
        return time.monotonic()

    def cmd(self, s):
        self.p.stdin.write(s + "\n")
        self.p.stdin.flush()

    def delivered(self):
        self.cmd("count")
        w = self.answers.get(timeout=30)
        total = int(w[1])
        got, self.read_total = total - self.read_total, total
        return got

    def send(self, jid, n):
        self.cmd(f"send 0 {jid} {n} {SENDERS}")
        w = self.answers.get(timeout=120)
        if w[0] != "sent":
            raise RuntimeError(" ".join(w))

    def stop(self):
        if self.p and self.p.poll() is None:
            try:
                self.cmd("quit")
                self.p.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        stop(self.p)


# ---- the measurements ----
R = {}  # row -> {"wagate": [values], "baileys": [values]}, plus units


def rec(row, who, v):
    R.setdefault(row, {"wagate": [], "baileys": []})[who].append(v)


def inbound(fw, gw, who, target, n, row, ceiling):
    gw.delivered()  # drain
    c0, t0 = cpu(gw.p.pid), time.monotonic()
    send_s = fw.flood("alice", [target], n)
    got = 0
    end = time.monotonic() + 300
    while got < n and time.monotonic() < end:
        got += gw.delivered()
        if got < n:
            time.sleep(0.02)
    wall, c = time.monotonic() - t0, cpu(gw.p.pid) - c0
    if got < n:
        log(f"{who} {row}: only {got}/{n} delivered")
    rec(f"{row} msgs/s delivered", who, got / wall)
    rec(f"{row} CPU-s per 1,000", who, c / max(got, 1) * 1000)
    ceiling.append(n / send_s)


def outbound(fw, gw, who, contact, jid, n):
    base = fw.inbox_len(contact)
    c0, t0 = cpu(gw.p.pid), time.monotonic()
    w0 = fsyncs(gw.p.pid)
    gw.send(jid if who == "baileys" else "+" + jid.split("@")[0], n)
    wait_for(lambda: fw.inbox_len(contact) - base >= n, 120, f"{who} outbound at {contact}")
    wall, c = time.monotonic() - t0, cpu(gw.p.pid) - c0
    rec("outbound msgs/s acked (at the phone)", who, n / wall)
    rec("outbound CPU-s per 1,000", who, c / n * 1000)
    rec("outbound write syscalls per message", who, (fsyncs(gw.p.pid) - w0) / n)


SYNCS = "fsync,fdatasync,sync_file_range,msync,sync,syncfs"


def strace_syncs(pid, run):
    """fsync-type syscalls of every thread of pid while run() runs (strace -f -c attached); None
    when strace is missing or may not attach. ptrace slows the process: an untimed round."""
    out = os.path.join(T, f"strace-{pid}.txt")
    try:
        st = subprocess.Popen(["strace", "-f", "-c", "-e", f"trace={SYNCS}", "-o", out, "-p", str(pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        run()
        return None
    time.sleep(0.5)
    run()
    st.send_signal(2)
    st.wait()
    try:
        lines = open(out).read().splitlines()
    except OSError:
        return None
    # "% time  seconds  usecs/call  calls  [errors]  syscall": calls is the fourth column
    rows = [l.split() for l in lines]
    return sum(int(r[3]) for r in rows if len(r) >= 5 and r[-1] in SYNCS.split(",") and r[3].isdigit())


def outbound_syncs(fw, gw, who, contact, jid, n):
    """One untimed outbound round of n concurrent API sends under strace: fsyncs per message."""
    base = fw.inbox_len(contact)
    to = jid if who == "baileys" else "+" + jid.split("@")[0]
    def run():
        gw.send(to, n)
        try:
            wait_for(lambda: fw.inbox_len(contact) - base >= n, 120, f"{who} outbound at {contact}")
        except RuntimeError as e:  # the row says so; the rest of the table still runs
            log(f"compare: {e}: {fw.inbox_len(contact) - base} of {n} arrived")
            raise
    try:
        k = strace_syncs(gw.p.pid, run)
    except RuntimeError:
        k = None
        rec("outbound fsyncs per message (strace, untimed round)", who, float("nan"))
    if k is not None:
        rec("outbound fsyncs per message (strace, untimed round)", who, k / n)


def recovery_wagate(fw, gw, phone, fault, settle):
    before = gw.channels()[gw.accounts[0]].get("reconnects", 0)
    t0 = time.monotonic()
    for f in fault:
        fw.api("POST", "/admin/fault", f)
    wait_for(lambda: (lambda c: c.get("reconnects", 0) > before and c.get("state") == "connected")(
        gw.channels().get(gw.accounts[0], {})), 120, "wagate reconnect")
    return time.monotonic() - t0 - settle


def recovery_baileys(fw, b, phone, fault, settle):
    k = len(b.opens)
    t0 = time.monotonic()
    for f in fault:
        fw.api("POST", "/admin/fault", f)
    try:
        wait_for(lambda: len(b.opens) > k or b.p.poll() is not None, 60, "Baileys reconnect")
    except RuntimeError:
        log("compare: Baileys did not reconnect within 60 s")
        return float("nan")
    if len(b.opens) <= k:
        log(f"compare: the Baileys driver exited ({b.p.returncode}); see bench/out/baileys-driver.log")
        return float("nan")
    return b.opens[k][1] - t0 - settle


def dns_mode():
    """Run by dns_rows() inside `unshare -rmn` (a network and mount namespace of its own,
    loopback only): fakewa's name wa.test is served by wagate-testdns on 127.0.0.1:53 through
    /etc/resolv.conf (bind-mounted in the namespace), so wagate (c-ares) and Baileys (Node,
    getaddrinfo) both resolve it the system's way. Each round: DNS fails (NXDOMAIN, SERVFAIL,
    no answer in turn), both links are closed by the server, DNS_OUTAGE_S later DNS answers
    again; the time from then to connected is printed as "dns WHO SECONDS" (nan: not within
    90 s). No network-change event: what notices is each client's own retrying."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    rc = os.path.join(T, "resolv.conf")
    open(rc, "w").write("nameserver 127.0.0.1\n")
    subprocess.run(["mount", "--bind", rc, "/etc/resolv.conf"], check=True)
    ctl = os.path.join(T, "dns.ctl")

    def dns(v):
        open(ctl + ".tmp", "w").write(f"wa.test {v}\n")
        os.rename(ctl + ".tmp", ctl)
    dns("a:127.0.0.1")
    PROCS.append(subprocess.Popen([TESTDNS, "--listen", "127.0.0.1:53", "--control", ctl],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    fw = Fakewa()
    fw.url = fw.url.replace("127.0.0.1", "wa.test")
    wp, bp = "+15550001", 15550101
    fw.account(wp)
    fw.account(f"+{bp}")
    w = Wagate(fw, "dns-w", ["default"])
    w.start()
    w.link("default", wp)
    b = Baileys(fw, "dns-b", 1, bp)
    b.start(pair=True)
    b.wait_open(60)
    time.sleep(2)
    modes = ["nxdomain", "servfail", "drop"]
    for r in range(DNS_ROUNDS):
        before = w.channels().get("default", {}).get("reconnects", 0)
        k = len(b.opens)
        dns(modes[r % len(modes)])
        for ph in (wp, f"+{bp}"):
            fw.api("POST", "/admin/fault", {"type": "close", "phone": ph})
        time.sleep(DNS_OUTAGE_S)
        dns("a:127.0.0.1")
        t0 = time.monotonic()
        tw = tb = None
        while time.monotonic() - t0 < 90 and (tw is None or tb is None):
            c = w.channels().get("default", {})
            if tw is None and c.get("reconnects", 0) > before and c.get("state") == "connected":
                tw = time.monotonic() - t0
            if tb is None and len(b.opens) > k:
                tb = b.opens[k][1] - t0
            if tb is None and b.p.poll() is not None:
                tb = float("nan")
            time.sleep(0.01)
        print(f"dns wagate {tw if tw is not None else float('nan')}", flush=True)
        print(f"dns baileys {tb if tb is not None else float('nan')}", flush=True)
        if tb != tb or tb is None:  # Baileys gave up: restart it for the next round
            b.stop()
            b.start()
            b.wait_open(60)
        time.sleep(1)
    w.stop()
    b.stop()


def dns_rows():
    """The DNS-outage recovery rows (dns_mode, in a namespace of its own)."""
    if not os.path.exists(TESTDNS):
        log("compare: wagate-testdns not built: no DNS rows")
        return
    cmd = ["unshare", "-rmn", sys.executable, os.path.abspath(__file__), "--dns"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                             env=dict(os.environ, WAGATE_BUILD=BUILD)).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        log(f"compare: DNS rows: {e}")
        return
    n = 0
    for line in out.splitlines():
        w = line.split()
        if len(w) == 3 and w[0] == "dns":
            rec("recovery after a 6 s DNS outage ends (s)", w[1], float(w[2]))
            n += 1
    if not n:
        log("compare: DNS rows: none (unshare -rmn refused?)")


def link_all(g, pairs, width=8):
    """Link every (account, phone) of a wagate daemon, width at a time (set-up, not measured)."""
    todo = queue.Queue()
    for p in pairs:
        todo.put(p)
    errs = []

    def worker():
        while True:
            try:
                a, ph = todo.get_nowait()
            except queue.Empty:
                return
            try:
                g.link(a, ph)
            except Exception as e:  # reported after all workers end
                errs.append(f"{a}: {e}")
    ts = [threading.Thread(target=worker) for _ in range(min(width, len(pairs)))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise RuntimeError(f"linking: {len(errs)} failed, first {errs[0]}")


def per_node(fw, who, k, phone_base):
    """k linked accounts on one process: start to all connected, RSS, idle CPU, one flood."""
    if who == "wagate":
        g = Wagate(fw, f"node-w{k}", [f"a{i}" for i in range(k)], NODE_CACHE)
        linked = os.path.join(g.dir, "linked")  # BENCH_NODE_CACHE: linked by an earlier run
        if not os.path.exists(linked):
            for i in range(k):
                fw.account(f"+{phone_base + i}")
            g.start()
            link_all(g, [(f"a{i}", f"+{phone_base + i}") for i in range(k)])
            g.stop()
            open(linked, "w").close()
        t0 = g.start()
        wait_for(g.all_connected, 120, "all connected")
    else:
        g = Baileys(fw, f"node-b{k}", k, phone_base)
        for i in range(k):
            fw.account(g.phone(i))
        g.start(pair=True)
        g.wait_open(120 + k)
        time.sleep(1)
        g.stop()
        t0 = g.start()
        g.wait_open(120 + k)
    up = time.monotonic() - t0
    time.sleep(3)
    c0 = cpu(g.p.pid)
    time.sleep(10)
    idle_cpu = (cpu(g.p.pid) - c0) / 10
    mib, th = rss_threads(g.p.pid)
    # wagate with many accounts: counted from /metrics (stored and acked, where the agent reads
    # it), as paging a thousand inboxes would measure the poller; one account: the inbox route
    if who == "wagate" and k > 1:
        zero = [g.stored()]

        def count():
            return g.stored() - zero[0]

        def reset():
            zero[0] = g.stored()
    else:
        g.delivered()
        seen = [0]

        def count():
            seen[0] += g.delivered()
            return seen[0]

        def reset():
            g.delivered()
            seen[0] = 0
    n = 200 * k if k < 10 else 2000
    # a /metrics scrape costs ~1.8 KB of text per account on both sides: polled every 20 ms
    # at 1,000 accounts the counting would be most of the work, so poll less often there
    poll = 0.02 if k <= 10 else 0.2
    targets = [f"+{phone_base + i}" for i in range(k)]

    def wait_count(want, t_start):
        got = 0
        while got < want and time.monotonic() - t_start < 300:
            got = count()
            if got < want:
                time.sleep(poll)
        return got
    # first contact, untimed for the flood row: fakewa forgets its phones' sessions at every
    # start, so alice's first text to each account is a pkmsg (a new session, a one-time
    # pre-key taken, the account's pre-key top-up); one text to each sets them up, so the
    # flood below measures messages on existing sessions (with 2,000 texts over 1,000
    # accounts, half of them would otherwise be session set-ups)
    c0, t0 = cpu(g.p.pid), time.monotonic()
    first_s = fw.flood("alice", targets, k)
    got0 = wait_count(k, t0)
    first_wall = time.monotonic() - t0
    log(f"compare: {who} {k} accounts first texts: {got0}/{k} in {first_wall:.2f} s (fakewa "
        f"{first_s:.2f} s), CPU-s: {who} {cpu(g.p.pid) - c0:.2f}")
    if k >= 10:  # below, a handful of texts: too few to be a rate
        rec(f"{k} accounts: first text to each (new sessions), msgs/s", who, got0 / first_wall)
        rec(f"{k} accounts: first text to each, CPU-s per 1,000", who,
            (cpu(g.p.pid) - c0) / max(got0, 1) * 1000)
    time.sleep(1)  # the pre-key top-ups and receipts of the first texts settle
    reset()
    perf = perf_start(g.p.pid, f"flood-{who}-{k}") if FLOOD_PERF else None
    fperf = perf_start(fw.p.pid, f"flood-fakewa-{who}-{k}") if FLOOD_PERF else None
    c1, t1, f1 = cpu(g.p.pid), time.monotonic(), cpu(fw.p.pid)
    send_s = fw.flood("alice", targets, n)
    got = wait_count(n, t1)
    wall = time.monotonic() - t1
    rate = got / wall
    flood_cpu = (cpu(g.p.pid) - c1) / max(got, 1) * 1000
    log(f"compare: {who} {k} accounts flood: {got}/{n} in {wall:.2f} s (fakewa sent them in "
        f"{send_s:.2f} s with {fw.flood_cpu:.2f} CPU-s; {who} done {wall - send_s:.2f} s later), "
        f"CPU-s: {who} {cpu(g.p.pid) - c1:.2f}, fakewa {cpu(fw.p.pid) - f1:.2f}")
    for pf in (perf, fperf):
        if pf:
            perf_report(pf)
    g.stop()
    rec(f"{k} accounts: start to all connected (s)", who, up)
    rec(f"{k} accounts: RSS MiB (per account)", who, (mib, mib / k))
    rec(f"{k} accounts: idle CPU (% of a core)", who, idle_cpu * 100)
    rec(f"{k} accounts: flood msgs/s ({n} across all)", who, rate)
    rec(f"{k} accounts: flood CPU-s per 1,000", who, flood_cpu)
    rec(f"{k} accounts: flood, fakewa's own send time (s)", who, send_s)


def perf_start(pid, name):
    data = os.path.join(OUT, f"{name}.perf.data")
    p = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "2000", "-g", "-o", data,
                          "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return p, data


def perf_report(perf):
    """Stop a perf_start(); write its top self costs next to its data (NAME.perf.txt)."""
    p, data = perf
    p.send_signal(2)
    p.wait()
    rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "-g", "none",
                          "--percent-limit", "1", "--sort", "dso,symbol"],
                         capture_output=True, text=True).stdout
    top = "\n".join(l for l in rep.splitlines() if l.strip() and not l.startswith("#"))
    open(data.replace(".perf.data", ".perf.txt"), "w").write(top + "\n")
    log(f"compare: perf top costs in {data.replace('.perf.data', '.perf.txt')}")


def nodes(fw):
    log(f"compare: accounts per node, wagate {W_ACC}, Baileys {B_ACC}")
    for k in sorted(set(W_ACC) | set(B_ACC)):
        for who, ks in (("wagate", W_ACC), ("baileys", B_ACC)):
            if k in ks:
                # phones fixed by (who, k) alone, so a BENCH_NODE_CACHE run with other k's finds
                # its accounts again: [base, base + k) are disjoint for every pair (who, k)
                base = 15560000 + k * (k - 1) + (k if who == "baileys" else 0)
                try:
                    per_node(fw, who, k, base)
                except Exception as e:  # a row that runs out (memory, time) says so
                    log(f"compare: {who} with {k} accounts: {e}")
                    rec(f"{k} accounts: start to all connected (s)", who, float("nan"))


def main():
    t_all = time.monotonic()
    fw = Fakewa()
    if ONLY == "nodes":
        fw.api("POST", "/admin/contacts", {"name": "alice", "phone": "+15550002"})
        nodes(fw)
        table([], [], time.monotonic() - t_all)
        return
    W_PHONE, B_PHONE = "+15550001", 15550101
    fw.account(W_PHONE)
    fw.account(f"+{B_PHONE}")
    fw.api("POST", "/admin/contacts", {"name": "alice", "phone": "+15550002"})
    fw.api("POST", "/admin/contacts", {"name": "bob", "phone": "+15550003"})
    fw.api("POST", "/admin/contacts", {"name": "carol", "phone": "+15550004"})
    _, g1 = fw.api("POST", "/admin/groups", {"subject": "w", "members": [W_PHONE, "alice", "carol"]})
    _, g2 = fw.api("POST", "/admin/groups", {"subject": "b", "members": [f"+{B_PHONE}", "alice", "carol"]})
    gjid = lambda g: g.get("jid") or g.get("id")

    log("compare: linking wagate and Baileys")
    w = Wagate(fw, "w", ["default"])
    w.start()
    w.link("default", W_PHONE)
    w.stop()
    b = Baileys(fw, "b", 1, B_PHONE)
    b.start(pair=True)
    b.wait_open(60)
    time.sleep(1)
    b.stop()

    log(f"compare: start to connected x{STARTS} each, alternating")
    for _ in range(STARTS):
        t0 = w.start()
        wait_for(w.all_connected, 30, "wagate connected")
        rec("start to connected, linked store (ms)", "wagate", (time.monotonic() - t0) * 1000)
        w.stop()
        t0 = b.start()
        rec("start to connected, linked store (ms)", "baileys", (b.wait_open(60) - t0) * 1000)
        b.stop()

    log(f"compare: both connected, idle {IDLE:.0f} s")
    w.start()
    wait_for(w.all_connected, 30, "wagate connected")
    b.start()
    b.wait_open(60)
    c0w, c0b = cpu(w.p.pid), cpu(b.p.pid)
    time.sleep(IDLE)
    for who, g, c0 in (("wagate", w, c0w), ("baileys", b, c0b)):
        mib, th = rss_threads(g.p.pid)
        rec(f"idle RSS MiB after {IDLE:.0f} s (process tree)", who, mib)
        rec("threads", who, th)
        rec("idle CPU (% of a core)", who, (cpu(g.p.pid) - c0) / IDLE * 100)

    log(f"compare: inbound 1:1 {ROUNDS} x {N_IN}, group {ROUNDS} x {N_GROUP}, outbound {ROUNDS} x {N_OUT}")
    ceil_1, ceil_g = [], []
    for _ in range(ROUNDS):
        inbound(fw, w, "wagate", W_PHONE, N_IN, "inbound 1:1", ceil_1)
        inbound(fw, b, "baileys", f"+{B_PHONE}", N_IN, "inbound 1:1", ceil_1)
    for _ in range(ROUNDS):
        inbound(fw, w, "wagate", gjid(g1), N_GROUP, "inbound group", ceil_g)
        inbound(fw, b, "baileys", gjid(g2), N_GROUP, "inbound group", ceil_g)
    # warm up the sessions to the contacts (bundle fetch, first pkmsg)
    w.send("+15550002", 1)
    b.send("15550003@s.whatsapp.net", 1)
    wait_for(lambda: fw.inbox_len("alice") >= 1 and fw.inbox_len("bob") >= 1, 30, "warm-up")
    for _ in range(ROUNDS):
        outbound(fw, w, "wagate", "alice", "15550002@s.whatsapp.net", N_OUT)
        outbound(fw, b, "baileys", "bob", "15550003@s.whatsapp.net", N_OUT)
    # to carol, each in turn: alice's and bob's inboxes are near fakewa's 1,000 kept rows by now
    # (a count there would never reach the round's end)
    outbound_syncs(fw, w, "wagate", "carol", "15550004@s.whatsapp.net", N_OUT)
    outbound_syncs(fw, b, "baileys", "carol", "15550004@s.whatsapp.net", N_OUT)
    total = ROUNDS * (N_IN + N_GROUP + N_OUT) + 2 * N_OUT
    for who, g in (("wagate", w), ("baileys", b)):
        rec(f"RSS MiB after {total:,} messages", who, rss_threads(g.p.pid)[0])

    log("compare: recovery (server-side TCP reset; a 5 s server outage ending)")
    for _ in range(ROUNDS):
        rec("recovery after a server reset (s)", "wagate", recovery_wagate(
            fw, w, W_PHONE, [{"type": "close", "reset": True, "phone": W_PHONE}], 0))
        rec("recovery after a server reset (s)", "baileys", recovery_baileys(
            fw, b, B_PHONE, [{"type": "close", "reset": True, "phone": f"+{B_PHONE}"}], 0))
        time.sleep(1)
    out5 = lambda ph: [{"type": "refuse", "duration_ms": 5000}, {"type": "close", "reset": True, "phone": ph}]
    rec("recovery after a 5 s outage ends (s)", "wagate", recovery_wagate(fw, w, W_PHONE, out5(W_PHONE), 5))
    time.sleep(1)
    rec("recovery after a 5 s outage ends (s)", "baileys",
        recovery_baileys(fw, b, B_PHONE, out5(f"+{B_PHONE}"), 5))
    w.stop()
    b.stop()

    log(f"compare: recovery after a DNS outage ({DNS_ROUNDS} rounds, namespace of its own)")
    dns_rows()
    nodes(fw)
    table(ceil_1, ceil_g, time.monotonic() - t_all)


def fmt(v):
    if isinstance(v, tuple):
        return f"{v[0]:.1f} ({v[1]:.2f}/acct)"
    if v != v:
        return "none in 60 s"
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def cell(vs):
    if not vs:
        return "—", None
    if isinstance(vs[0], tuple):
        return fmt(vs[0]), vs[0][0]
    ok = [v for v in vs if v == v]  # nan: never happened within that row's wait
    if not ok:
        return ("never" if len(vs) > 1 else fmt(vs[0])) + (f" ({len(vs)} of {len(vs)})" if len(vs) > 1 else ""), float("nan")
    m = statistics.median(ok)
    s = fmt(m) if len(ok) == 1 else f"{fmt(m)} ({fmt(min(ok))}–{fmt(max(ok))})"
    if len(ok) < len(vs):
        s += f", never in {len(vs) - len(ok)} of {len(vs)}"
    return s, m


def table(ceil_1, ceil_g, secs):
    lines = ["| measure | wagate median (min–max) | Baileys median (min–max) | wagate / Baileys |",
             "|---|---|---|---|"]
    for row, d in R.items():
        ws, wm = cell(d["wagate"])
        bs, bm = cell(d["baileys"])
        ratio = f"{wm / bm:.3g}" if wm is not None and bm and wm == wm and bm == bm else "—"
        lines.append(f"| {row} | {ws} | {bs} | {ratio} |")
    notes = [""]
    if ceil_1 and ceil_g:
        notes.append(
            f"fakewa's own send rate (the ceiling of the inbound rows, POST /admin/flood): "
            f"1:1 {statistics.median(ceil_1):.0f}/s, group {statistics.median(ceil_g):.0f}/s.")
    notes += [
        "wagate commits each inbound message durably (SQLite WAL, synchronous=FULL) before it is "
        "acknowledged; Baileys' default store (useMultiFileAuthState) writes its key files with no "
        "fsync at all, and keeps no message store. CPU is the process tree's (schedstat).",
        "Write syscalls: /proc/PID/io syscw (WAL writes, fsyncs and socket writes). fsyncs per "
        f"message: fsync, fdatasync, sync_file_range, msync, sync, syncfs of every thread counted by "
        f"`strace -f -c` attached for one extra outbound round of {N_OUT} sends from {SENDERS} "
        "concurrent API connections (untimed: ptrace slows the process).",
        f"Whole compare run: {secs:.0f} s. A daemon serves up to 1024 accounts "
        "(CFG_MAX_ACCOUNTS); an account-per-node row that ran out says so (none in 60 s).",
    ]
    text = "\n".join(lines + notes) + "\n"
    os.makedirs(os.path.join(ROOT, "bench", "out"), exist_ok=True)
    open(os.path.join(ROOT, "bench", "out", "table.md"), "w").write(text)
    print(text)


def profile():
    """perf (cpu-clock) of the daemon on the inbound 1:1 and outbound paths; top symbols."""
    fw = Fakewa()
    fw.account("+15550001")
    fw.api("POST", "/admin/contacts", {"name": "alice", "phone": "+15550002"})
    w = Wagate(fw, "w", ["default"])
    w.start()
    w.link("default", "+15550001")
    w.send("+15550002", 1)
    wait_for(lambda: fw.inbox_len("alice") >= 1, 30, "warm-up")
    for what, run in (("inbound 1:1", lambda: inbound(fw, w, "wagate", "+15550001", N_IN, "p", [])),
                      ("outbound", lambda: outbound(fw, w, "wagate", "alice",
                                                    "15550002@s.whatsapp.net", N_OUT))):
        data = os.path.join(T, "perf.data")
        perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "2000", "-g", "-o", data,
                                 "-p", str(w.p.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        run()
        perf.send_signal(2)
        perf.wait()
        rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "-g", "none",
                              "--percent-limit", "1.5", "--sort", "dso,symbol"],
                             capture_output=True, text=True).stdout
        print(f"## wagate {what}: top costs (perf cpu-clock, self time)\n")
        print("\n".join(l for l in rep.splitlines() if l.strip() and not l.startswith("#")))
        print()
    w.stop()


if __name__ == "__main__":
    try:
        if sys.argv[1:] == ["--profile"]:
            profile()
        elif sys.argv[1:] == ["--dns"]:
            dns_mode()
        else:
            main()
    finally:
        for p in PROCS:
            try:
                stop(p)
            except Exception:
                pass
        shutil.rmtree(T, ignore_errors=True)
