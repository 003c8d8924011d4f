#!/usr/bin/env bash
# clang-tidy's checks (.clang-tidy: the naming scheme) over every non-test source file that
# BUILD_DIR compiles (its compile_commands.json), two files at a time per CPU.
#   scripts/tidy.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/tidy.sh BUILD_DIR}
mapfile -t files < <(python3 - "$build" <<'PY'
import json, os, sys
root = os.getcwd()
db = json.load(open(os.path.join(sys.argv[1], "compile_commands.json")))
files = {os.path.normpath(os.path.join(e["directory"], e["file"])) for e in db}
for f in sorted(files):
    rel = os.path.relpath(f, root)
    if not rel.startswith(("tests/", "..")) and rel.endswith(".cc"):
        print(rel)
PY
)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! printf '%s\n' "${files[@]}" |
  xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet >"$log" 2>&1; then
  grep -E "(warning|error):" "$log" | sort -u >&2
  echo "tidy: clang-tidy found problems (above)" >&2
  exit 1
fi
echo "tidy: ${#files[@]} files clean"
