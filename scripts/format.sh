#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# format.sh [--check] [SRCDIR] -- clang-format with the committed .clang-format (written for
# clang-format 14, Debian 12's) over the C files git tracks, minus the generated
# src/wa/tokens_gen.h: in place (`make format`), or with --check only report the files that
# differ and fail (`make format-check`, ctest `format`). CLANG_FORMAT names the binary
# (default clang-format-14, else clang-format). Without one the check is skipped: exit 77,
# the test's SKIP_RETURN_CODE, with a message saying so.
set -euo pipefail
mode=fix
if [ "${1:-}" = "--check" ]; then
  mode=check
  shift
fi
cd "${1:-$(dirname "$0")/..}"

CF=${CLANG_FORMAT:-}
if [ -z "$CF" ]; then
  for c in clang-format-14 clang-format; do
    if command -v "$c" >/dev/null; then
      CF=$c
      break
    fi
  done
fi
if [ -z "$CF" ] || ! command -v "$CF" >/dev/null; then
  echo "format: SKIPPED: clang-format not found (Debian package clang-format;" \
    "scripts/deps.sh --test installs it)" >&2
  exit 77
fi
ver=$("$CF" --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
[ "$ver" = 14 ] || echo "format: warning: $CF is version ${ver:-?}, .clang-format is for 14" >&2

if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "format: $PWD is not a git work tree: the file list is git ls-files" >&2
  exit 2
fi
mapfile -t files < <(git ls-files '*.c' '*.h' | grep -v '^src/wa/tokens_gen')

if [ "$mode" = fix ]; then
  exec "$CF" -i "${files[@]}"
fi
if out=$("$CF" --dry-run -Werror "${files[@]}" 2>&1); then
  echo "format: ${#files[@]} files match .clang-format"
  exit 0
fi
bad=$(grep -o '^[^:]*:[0-9]*:[0-9]*: error' <<<"$out" | cut -d: -f1 | uniq -c |
  awk '{ printf "  %s (%d place%s)\n", $2, $1, ($1 > 1 ? "s" : "") }') || true
if [ -z "$bad" ]; then
  echo "format: $CF failed:" >&2
  echo "$out" >&2
  exit 2
fi
echo "format: files that differ from .clang-format ('make format' fixes them):"
echo "$bad"
exit 1
