#!/usr/bin/env bash
# Quick start: installs what is missing, builds the daemon and the tools (release; not the
# tests, fuzzers and benchmarks: `scripts/test.sh` builds those) and runs ringdbd in the
# foreground on its defaults (stop it with Ctrl-C: a graceful shutdown).
#
# Defaults: as root, the session socket is /run/ringdb/ringdb.sock and the data directory
# /var/lib/ringdb; as another user, $XDG_RUNTIME_DIR/ringdb/ (or /tmp/ringdb-$UID/) and
# ~/.local/share/ringdb. ringdb-cli and ringdb-bench find the socket the same way.
# Extra arguments go to ringdbd (see `build/daemon/ringdbd --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build/meson-private ] || meson setup build -Dbuildtype=release >/dev/null
ninja -C build daemon/ringdbd tools/cli/ringdb-cli tools/admin/ringdb-admin \
  tools/bench/ringdb-bench
echo "starting ringdbd as $(id -un); its 'ready' line names the data directory and sockets."
echo "In a second terminal try:"
echo "  build/tools/cli/ringdb-cli"
echo "  build/tools/bench/ringdb-bench get --clients 1 --depth 1 --duration 5"
exec build/daemon/ringdbd "$@"
