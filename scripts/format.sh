#!/usr/bin/env bash
# Formats the C++ sources with clang-format (.clang-format at the root).
#   scripts/format.sh          rewrite files in place
#   scripts/format.sh --check  fail, listing the files, if any file is not formatted
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.h' '*.cc' | sort)
[ ${#files[@]} -eq 0 ] && exit 0
if [ "${1:-}" = "--check" ]; then
  if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/ringdb-format.$$; then
    echo "format: these files need scripts/format.sh:" >&2
    grep -oE '^[^: ]+:[0-9]+:[0-9]+: error' /tmp/ringdb-format.$$ | cut -d: -f1 | sort -u >&2
    rm -f /tmp/ringdb-format.$$
    exit 1
  fi
  rm -f /tmp/ringdb-format.$$
  echo "format: ${#files[@]} files clean"
else
  clang-format -i "${files[@]}"
fi
