# SPDX-License-Identifier: MIT
"""verify.py T [quiet] -- the counts of a daemon-level crash test (tests/crash/crash-lib.sh).

Reads, from the test's directory T: peers.sent (what alice and bob sent), api.ok (what the
gateway's API accepted), calls (every exec hook run: id attempt text), inbox.json (the
gateway's inbox through the API), alice.json / bob.json (what fakewa's simulated phones
received), all.log + g/err.log (every gateway run's log). Exit 0 when nothing was lost or
duplicated, no repeated hook run was undeclared, nothing was undecryptable and there was one
pairing; prints one summary line (and what is wrong) unless quiet.
"""
import collections
import json
import os
import sys

T = sys.argv[1]
QUIET = len(sys.argv) > 2 and sys.argv[2] == "quiet"


def lines(name):
    p = os.path.join(T, name)
    if not os.path.exists(p):
        return []
    with open(p, errors="replace") as f:
        return [l.rstrip("\n") for l in f if l.strip()]


def jload(name):
    try:
        with open(os.path.join(T, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"messages": [], "receipts": []}


sent = [l.split(" ", 3) for l in lines("peers.sent")]
api_ok = [l.split(" ", 3) for l in lines("api.ok")]
inbox = [json.loads(l) for l in lines("inbox.json")]
phones = {"alice": jload("alice.json"), "bob": jload("bob.json")}
log = "\n".join(lines("all.log") + lines("g/err.log"))

inbox_ids = collections.Counter(m.get("id") for m in inbox)
runs = collections.defaultdict(list)
for l in lines("calls"):
    p = l.split(" ", 2)
    if len(p) >= 2:
        runs[p[0]].append(p[1])

bad = []
c = collections.Counter()


def received(who, text):
    """(distinct message ids with that text at who's phone, extra copies of one id).

    A copy sent again under the SAME message id (the gateway was killed after writing the
    frame and before the server's ack was recorded, so the outbox row went out again) is
    one message to a WhatsApp client, which dedupes by id; it is counted apart. Two ids
    for one text is a real duplicate."""
    ids = [m.get("id") for m in phones[who]["messages"] if m.get("text") == text]
    return len(set(ids)), len(ids) - len(set(ids))


for sid, who, kind, text in sent:
    c["peer_sent"] += 1
    n = inbox_ids.get(sid, 0)
    if n == 0:
        c["inbox_lost"] += 1
        bad.append("not in the inbox: %s (%s)" % (sid, text))
    elif n > 1:
        c["inbox_dup"] += 1
        bad.append("in the inbox %d times: %s (%s)" % (n, sid, text))
    r = runs.get(sid, [])
    if not r:
        c["hook_missing"] += 1
        bad.append("never reached the hook: %s (%s)" % (sid, text))
    c["hook_runs"] += len(r)
    if len(r) > 1:
        c["hook_repeats"] += len(r) - 1
    if len(set(r)) != len(r):
        c["hook_undeclared"] += 1
        bad.append("hook runs of %s not told apart by attempt: %s" % (sid, r))
    got, same = received(who, "re: " + text)
    c["reply_resent_same_id"] += same
    if got == 0:
        c["reply_lost"] += 1
        bad.append("no reply at %s for %s" % (who, text))
    elif got > 1:
        c["reply_dup"] += 1
        bad.append("%d replies at %s for %s" % (got, who, text))

for key, mid, to, text in api_ok:
    c["api_accepted"] += 1
    who = "alice" if to.endswith("15550002") else "bob"
    got, same = received(who, text)
    c["api_resent_same_id"] += same
    if got == 0:
        c["api_lost"] += 1
        bad.append("API message %s (%s) not at %s" % (key, text, who))
    elif got > 1:
        c["api_dup"] += 1
        bad.append("API message %s (%s) %d times at %s" % (key, text, got, who))
keys = collections.Counter(k for k, _, _, _ in api_ok)
ids = collections.defaultdict(set)
for key, mid, _, _ in api_ok:
    ids[key].add(mid)
c["api_key_two_ids"] = sum(1 for k in ids if len(ids[k]) > 1)

for who, ph in phones.items():
    okids = {m.get("id") for m in ph["messages"] if m.get("ok", True)}
    for m in ph["messages"]:
        if not m.get("ok", True):
            c["peer_undecryptable"] += 1
            bad.append("%s could not decrypt %s from %s (%s%s): %s" % (
                who, m.get("id"), m.get("from"), m.get("enc", "?"),
                ", the same id decrypted too" if m.get("id") in okids else "",
                m.get("error", "?")))
low = log.lower()
c["bad_mac"] = low.count("bad mac")
c["gw_undecryptable"] = low.count("undecryptable")
c["pairings"] = log.count("pairing a new device")
c["qr_after_pairing"] = max(0, c["pairings"] - 1)
c["sanitizer"] = log.count("AddressSanitizer") + log.count("runtime error:")

ok = (
    not bad
    and c["api_key_two_ids"] == 0
    and c["peer_undecryptable"] == 0
    and c["bad_mac"] == 0
    and c["gw_undecryptable"] == 0
    and c["qr_after_pairing"] == 0
    and c["sanitizer"] == 0
)
if not QUIET:
    keys_order = [
        "peer_sent", "inbox_lost", "inbox_dup", "hook_missing", "hook_runs", "hook_repeats",
        "hook_undeclared", "reply_lost", "reply_dup", "reply_resent_same_id", "api_accepted",
        "api_lost", "api_dup", "api_resent_same_id",
        "api_key_two_ids", "peer_undecryptable", "bad_mac", "gw_undecryptable",
        "qr_after_pairing", "sanitizer",
    ]
    print("# counts: " + " ".join("%s=%d" % (k, c[k]) for k in keys_order))
    for b in bad[:20]:
        print("# " + b)
sys.exit(0 if ok else 1)
