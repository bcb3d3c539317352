#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages wagate needs to build, run and test.
# --run: only what the daemon needs to build and run; --test: also the test tools.
# Idempotent and quick when everything is present: dpkg is asked first,
# apt-get runs only for what is missing.
set -euo pipefail

# What the daemon needs to build and run (`make run`, `scripts/deps.sh --run`): the compiler,
# CMake, and the -dev packages of its libraries (their runtime libraries come with them and
# are linked dynamically, so Debian's security updates reach the daemon). libcmocka-dev is
# here because CMake configures the unit tests with the daemon. The C sources of the HTTP
# parser come in Debian's node-llhttp, whose JavaScript dependencies drag in nodejs (~190 MB):
# with --run the package is not installed but downloaded and unpacked into .deps/llhttp
# (CMake looks there when /usr/share/llhttp is absent).
RUN_PKGS=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev libc-ares-dev libssl-dev libwslay-dev
  libsignal-protocol-c-dev libprotobuf-c-dev protobuf-c-compiler
  libsqlite3-dev libqrencode-dev libcjson-dev libcmocka-dev zlib1g-dev
  libjpeg62-turbo-dev libpng-dev libopusfile-dev
  curl ca-certificates
)
# Development on top (`make build`, the default): clang + its sanitizer/fuzzer runtime, lld
# (the hot-code link order of release builds), node/npm (the Baileys conformance tests).
DEV_PKGS=(node-llhttp clang libclang-rt-14-dev lld nodejs npm)
PKGS=("${RUN_PKGS[@]}")
[ "${1:-}" = "--run" ] || PKGS+=("${DEV_PKGS[@]}")
# --test: the test tools on top (network namespaces, QR decoding, JSON in shell tests,
# clang-format 14 for the ctest test `format` (Debian 12 ships 14, the version .clang-format is
# for), iptables for the fault tests that drop or blackhole packets in their own namespace,
# faketime for the clock-jump row (tests/fault/), chromium for the dashboard's browser tests in
# tests/browser, driven by playwright-core from npm, which that test's run.sh installs;
# playwright downloads no browser of its own).
[ "${1:-}" = "--test" ] && PKGS+=(iproute2 procps zbar-tools jq python3 clang-format iptables faketime chromium)
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

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --run: llhttp's C sources without node (see RUN_PKGS). WAGATE_LLHTTP_FETCH=1 forces it.
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--run" ] && { [ -n "${WAGATE_LLHTTP_FETCH:-}" ] || [ ! -f /usr/share/llhttp/llhttp.c ]; } &&
  [ ! -f "$root/.deps/llhttp/usr/share/llhttp/llhttp.c" ]; then
  echo "deps: unpacking node-llhttp's C sources into .deps/llhttp (not installing node)" >&2
  mkdir -p "$root/.deps"
  (cd "$root/.deps" && rm -f node-llhttp_*.deb && { apt-get download node-llhttp 2>/dev/null ||
    { $SUDO apt-get update -qq && apt-get download node-llhttp 2>/dev/null; }; } &&
    dpkg-deb -x node-llhttp_*.deb llhttp && rm -f node-llhttp_*.deb)
fi
