#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh -- browser tests of the dashboard: Debian's chromium (/usr/bin/chromium, or
# $CHROMIUM) driven by playwright-core, against the real daemon and wagate-fakewa.
# Installs the npm dependency if missing (idempotent; no browser download: playwright only
# drives the system chromium). Exits 77 (skipped) only when chromium cannot start.
# Screenshots go to $WAGATE_TEST_OUT (default: $WAGATE_BUILD/browser-out or ./out).
set -euo pipefail
cd "$(dirname "$0")"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund >/dev/null
fi
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if ! node probe.mjs; then
  echo "SKIP: chromium ($CHROMIUM) cannot start a headless browser" >&2
  exit 77
fi
if [ "$#" -eq 0 ]; then
  set -- *.test.mjs
fi
exec node --test --test-concurrency=1 --test-force-exit "$@"
