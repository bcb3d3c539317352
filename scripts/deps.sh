#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages wagate needs to build, run and test.
# Idempotent and quick when everything is present: dpkg is asked first,
# apt-get runs only for what is missing.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev lld
  libuv1-dev libc-ares-dev libssl-dev libwslay-dev node-llhttp
  libsignal-protocol-c-dev libprotobuf-c-dev protobuf-c-compiler
  libsqlite3-dev libqrencode-dev libcjson-dev libcmocka-dev zlib1g-dev
  curl ca-certificates nodejs npm
)
# clang-format: the ctest test `format` (Debian 12 ships 14, the version .clang-format is for).
# iptables: the fault tests that drop or blackhole packets in their own namespace; faketime:
# the clock-jump row (tests/fault/).
[ "${1:-}" = "--test" ] && PKGS+=(iproute2 procps zbar-tools jq python3 clang-format iptables faketime)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# node/npm may come from elsewhere than Debian (the image ships its own): accept those.
filtered=()
for p in "${missing[@]}"; do
  case "$p" in
    nodejs) command -v node >/dev/null || filtered+=("$p") ;;
    npm) command -v npm >/dev/null || filtered+=("$p") ;;
    *) filtered+=("$p") ;;
  esac
done
missing=("${filtered[@]+"${filtered[@]}"}")
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
