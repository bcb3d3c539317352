#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run one libFuzzer target for N seconds on a scratch copy of its seed corpus.
# Crash/leak/timeout inputs are kept in ./fuzz-artifacts/ (of the caller's
# directory) so a failure can be turned into a regression test.
# usage: fuzz/run.sh BINARY SECONDS [SEED_DIR]
set -euo pipefail
bin=$(realpath "$1") secs=$2 seeds=${3:-}
art="$PWD/fuzz-artifacts/$(basename "$bin")"
mkdir -p "$art"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
[ -n "$seeds" ] && [ -d "$seeds" ] && cp -r "$seeds"/. "$work/corpus/" 2>/dev/null || true
dict=""
[ -n "$seeds" ] && [ -f "${seeds%/}.dict" ] && dict="-dict=$(realpath "${seeds%/}.dict")"
cd "$work"
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$art/" $dict corpus
