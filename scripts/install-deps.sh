#!/usr/bin/env bash
# Installs everything ringdb needs to build, test and benchmark on Debian 12 (bookworm).
# Safe to re-run; returns at once when every package is already installed.
set -euo pipefail

PACKAGES=(
  g++ clang clang-format clang-tidy  # compilers (clang for -Wthread-safety), formatter, naming
  meson ninja-build pkg-config cmake  # build; cmake lets meson find doctest's config
  liburing-dev libnuma-dev libboost-dev
  liblmdb-dev                  # the baseline in bench_engine
  libedit-dev                  # ringdb-cli: line editing, history, completion at a terminal
  nlohmann-json3-dev           # the admin socket's JSON
  libsystemd-dev               # sd_notify: the systemd unit is Type=notify
  doctest-dev libbenchmark-dev
  redis-server strace          # ringdb-bench: the Redis baseline, system-call counts
  prometheus                   # promtool: the admin socket's metrics are checked with it
  help2man                     # the man pages, generated from each program's --help
  python3-dev pybind11-dev     # the Python binding (python/), for Debian's /usr/bin/python3
  python3-pytest python3-redis # its tests; redis-py is the baseline of its benchmark
)

missing=()
for p in "${PACKAGES[@]}"; do
  case "$p" in \#*) continue ;; esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=()
[ "$(id -u)" -ne 0 ] && SUDO=(sudo)
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}"
