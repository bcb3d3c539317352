#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite under ASan+UBSan: build, fuzz smoke targets, ctest.
# FUZZ_SECONDS sets each fuzzer's run (default 10; 0 skips them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$JOBS" >/dev/null

cmake --preset asan -DWAGATE_FUZZ_BIN_DIR="$PWD/build-fuzz" -DWAGATE_FUZZ_SECONDS="$FUZZ_SECONDS" >/dev/null
cmake --build --preset asan -j "$JOBS"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd build-asan
ctest --output-on-failure --no-label-summary -j "$JOBS" --timeout 300
