#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run one libFuzzer target for N seconds on a scratch copy of its seed corpus.
# usage: fuzz/run.sh BINARY SECONDS [SEED_DIR]
set -euo pipefail
bin=$1 secs=$2 seeds=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
[ -n "$seeds" ] && [ -d "$seeds" ] && cp -r "$seeds"/. "$work/corpus/" 2>/dev/null || true
dict=""
[ -f "${seeds%/}.dict" ] && dict="-dict=${seeds%/}.dict"
cd "$work"
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $dict corpus
