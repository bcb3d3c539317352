#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check-proto.sh SRC -- src/proto/wa.proto and src/wa/msgfields_gen.h agree with Baileys'
# WAProto.proto (tools/gen-proto.js --check). Skipped (77) without node or without the npm
# package (tests/conformance: npm ci).
set -u
src=${1:?source dir}
command -v node >/dev/null || { echo "node missing: skipped"; exit 77; }
[ -f "$src/tests/conformance/node_modules/@whiskeysockets/baileys/WAProto/WAProto.proto" ] ||
  { echo "Baileys not installed (cd tests/conformance && npm ci): skipped"; exit 77; }
exec node "$src/tools/gen-proto.js" --check
