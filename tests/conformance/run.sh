#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh -- conformance tests of wagate-fakewa against the real Baileys client.
# Installs the npm dependencies if missing (idempotent), then runs `node --test`.
# FAKEWA_BIN selects the binary (default: $WAGATE_BUILD/, then build-asan/, then build/). Extra args are test files.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/@whiskeysockets/baileys ] || [ ! -d node_modules/pino ]; then
  npm ci --no-audit --no-fund >/dev/null
fi
if [ "$#" -eq 0 ]; then
  set -- *.test.mjs
fi
exec node --test --test-concurrency=1 --test-force-exit "$@"
