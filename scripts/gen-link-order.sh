#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Regenerate scripts/link-order.txt: the functions of build/wagate that run while the daemon
# pairs, logs in, sends and receives (bench/bench_gateway_msgs.sh, small counts, with the
# daemon under valgrind --tool=callgrind). The release link (lld) places them first in .text
# so that the pages the daemon touches sit together. Rerun after large changes to the code
# paths or the static dependencies, then compare the bench's idle RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${WAGATE_BUILD:-build}
OUT=${1:-scripts/link-order.txt}
for c in valgrind python3 nm; do command -v $c >/dev/null || { echo "gen-link-order: $c missing"; exit 1; }; done
T=$(mktemp -d /tmp/wagate-order-XXXXXX)
trap 'rm -rf "$T"' EXIT
cat >"$T/wagate" <<SH
#!/bin/sh
exec valgrind -q --tool=callgrind --callgrind-out-file=$T/cg.%p.out $PWD/$B/wagate "\$@"
SH
chmod +x "$T/wagate"
WAGATE_BUILD=$B WAGATE_BIN=$T/wagate BENCH_MSGS=10 BENCH_MSGS_IN=10 IDLE_SECONDS=1 \
  bash bench/bench_gateway_msgs.sh
nm --defined-only "$B/wagate" | awk '$2 ~ /^[tTwW]$/ {print $3}' | sort -u >"$T/syms"
python3 - "$T" "$OUT" <<'PY'
import glob, re, sys
t, out = sys.argv[1], sys.argv[2]
syms = set(open(f"{t}/syms").read().split())
hot = set()
for f in glob.glob(f"{t}/cg.*.out"):
    obs, fns, ob = {}, {}, None
    for ln in open(f):
        m = re.match(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$", ln.rstrip("\n"))
        if not m:
            continue
        kind, i, name = m.groups()
        table = obs if kind.endswith("ob") else fns
        if name:
            table[i] = name
        if kind == "ob":
            ob = obs[i]
        elif kind == "fn" and ob and ob.endswith("/wagate") and fns[i] in syms:
            hot.add(fns[i])
head = """# link-order.txt -- functions the daemon runs while pairing, logging in and in the message
# floods of bench/bench_gateway_msgs.sh (collected with valgrind --tool=callgrind by
# scripts/gen-link-order.sh). lld (--symbol-ordering-file) places their sections first in
# .text, so the pages the daemon touches sit together and fault-around maps few cold ones.
# Names missing from a build are ignored; a stale list only costs resident memory.
"""
open(out, "w").write(head + "".join(s + "\n" for s in sorted(hot)))
print(f"gen-link-order: {len(hot)} functions -> {out}")
PY
