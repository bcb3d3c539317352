#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# wagate vs an unmodified Baileys 7.0.0-rc14 client (bench/baileys/driver.mjs), both against
# tools/fakewa on loopback: one table, printed and written to bench/out/table.md
# (bench/compare.py says what each row measures; env knobs there). Needs a release build
# (build/), node, and Baileys (installed here from tests/conformance/package-lock.json if missing).
set -uo pipefail
cd "$(dirname "$0")/.."
for x in build/wagate build/wagate-fakewa; do [ -x "$x" ] || { echo "compare: $x not built"; exit 1; }; done
command -v node >/dev/null || { echo "compare: node missing"; exit 1; }
if [ -z "${BAILEYS_MODULES:-}" ] && [ ! -d tests/conformance/node_modules/@whiskeysockets/baileys ]; then
  (cd tests/conformance && npm ci --no-audit --no-fund >/dev/null) # the conformance tests' pin
fi
[ -d "${BAILEYS_MODULES:-tests/conformance/node_modules}/@whiskeysockets/baileys" ] ||
  { echo "compare: Baileys not installed (cd tests/conformance && npm ci)"; exit 1; }
exec python3 bench/compare.py "$@"
