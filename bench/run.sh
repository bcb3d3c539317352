#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run every benchmark and print its figures (release build in build/).
set -uo pipefail
cd "$(dirname "$0")/.."
for b in build/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b"
done
for s in bench/*.sh; do
  case "$(basename "$s")" in run.sh | compare.sh | lib.sh) continue ;; esac # compare: make bench runs it last
  echo "== $(basename "$s")"
  # recovery.sh: 3 outages per mode here (make bench stays under 15 minutes); RUNS=20 for a
  # figure to quote
  RUNS=${BENCH_RECOVERY_RUNS:-3} WAGATE_BIN=build/wagate bash "$s"
done
