#!/usr/bin/env bash
# The installed tree (issue 6, packaging): `meson install --destdir` holds what the packaging
# list says; the default configuration file is what ringdbd --print-config-file prints, lists
# every option ringdbd knows, and ringdbd starts on it with every line uncommented (each
# default is a value it parses); the unit file says what an operator relies on, in systemd's
# directory, with its sysusers.d user; man pages for the four programs; every program's
# --help fits 80 columns; the example program builds against the installed libringdb through
# pkg-config, as a user would, and runs against the installed ringdbd; and ringdbd tells
# systemd READY=1 once serving, WATCHDOG=1 while healthy and STOPPING=1 at the end, and marks
# each log line with its priority when its standard error is the journal.
#   install_test.sh BUILD_DIR SOURCE_DIR [SANITIZE]
# SANITIZE: the build's b_sanitize ("none", "address,undefined", "thread"): a sanitized
# libringdb needs its runtime in the program too, so the example is built with it.
# No sleeps as synchronisation: the daemon says it is ready on a FIFO (--ready-fd), and the
# notify listener is waited for with timeouts.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
sanitize=${3:-none}
work=$(mktemp -d /tmp/ringdb-install-XXXXXX)
daemon_pid=
cleanup() {
  [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }

dest="$work/dest"
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
option() {  # an install path option of the build, as meson configured it
  meson introspect "$build" --buildoptions |
    python3 -c "import json,sys; print(next(o['value'] for o in json.load(sys.stdin) if o['name']=='$1'))"
}
prefix=$(option prefix)
abs() { case "$1" in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
sbindir=$(abs "$(option sbindir)")
bindir=$(abs "$(option bindir)")
libdir=$(abs "$(option libdir)")
includedir=$(abs "$(option includedir)")
sysconfdir=$(abs "$(option sysconfdir)")

# Where meson installed a file of the build (its own record, so the unit's directory is the
# one systemd's pkg-config file gave).
installed() {
  meson introspect "$build" --installed |
    python3 -c "import json,sys; print(next(v for k,v in json.load(sys.stdin).items() if k.endswith('/$1')))"
}
unit=$(installed ringdbd.service)
sysusers=$(installed ringdb.sysusers)
mandir=$(abs "$(option mandir)")
case "$unit" in
  "$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo "$prefix/lib/systemd/system")"/*) ;;
  *) fail "the unit went to $unit, not systemd's unit directory" ;;
esac
for f in "$sbindir/ringdbd" "$bindir/ringdb-admin" "$bindir/ringdb-cli" "$bindir/ringdb-bench" \
         "$libdir/libringdb.so" "$includedir/ringdb/client.h" "$includedir/ringdb/ringdb.h" \
         "$includedir/ringdb/version.h" "$includedir/ringdb/status_codes.h" \
         "$libdir/pkgconfig/ringdb.pc" "$sysconfdir/ringdb/ringdbd.conf" "$unit" "$sysusers" \
         "$mandir/man8/ringdbd.8" "$mandir/man1/ringdb-admin.1" "$mandir/man1/ringdb-cli.1" \
         "$mandir/man1/ringdb-bench.1"; do
  [ -e "$dest$f" ] || fail "not installed: $f"
done
echo "install_test: installed tree complete under $dest$prefix (unit in $(dirname "$unit"))"

# Man pages: each renders without warnings and documents the program's options.
for page in "$mandir/man8/ringdbd.8" "$mandir/man1/ringdb-admin.1" "$mandir/man1/ringdb-cli.1" \
            "$mandir/man1/ringdb-bench.1"; do
  text=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$dest$page" 2>"$work/man.err") ||
    fail "man cannot render $page"
  [ ! -s "$work/man.err" ] || fail "man warns about $page: $(cat "$work/man.err")"
  grep -q -- "--version" <<<"$text" || fail "$page does not document --version"
done
echo "install_test: man pages for the four programs render cleanly"

# Every program's --help within 80 columns.
for program in "$sbindir/ringdbd" "$bindir/ringdb-admin" "$bindir/ringdb-bench" "$bindir/ringdb-cli"; do
  wide=$(LD_LIBRARY_PATH="$dest$libdir" "$dest$program" --help | awk 'length > 80')
  [ -z "$wide" ] || fail "$(basename "$program") --help is wider than 80 columns: $wide"
done

# The system user: systemd-sysusers accepts the entry.
if command -v systemd-sysusers >/dev/null 2>&1; then
  systemd-sysusers --dry-run "$dest$sysusers" >/dev/null 2>&1 ||
    fail "systemd-sysusers rejects $sysusers"
fi

# The configuration file is the one the installed ringdbd prints, and names every option
# `ringdbd --help` lists, each commented out.
conf="$dest$sysconfdir/ringdb/ringdbd.conf"
ringdbd="$dest$sbindir/ringdbd"
export LD_LIBRARY_PATH="$dest$libdir"
"$ringdbd" --print-config-file | cmp -s - "$conf" ||
  fail "ringdbd.conf differs from ringdbd --print-config-file"
options=$("$ringdbd" --help | sed -n 's/^  --\([a-z-]*\) [A-Z0-9|]*.*/\1/p' |
  grep -v -e '^config$' -e '^print-config-file$' -e '^help$' -e '^version$')
[ -n "$options" ] || fail "no options read from ringdbd --help"
for o in $options; do
  grep -q "^# $o = " "$conf" || fail "$o is missing from ringdbd.conf"
done
echo "install_test: ringdbd.conf lists all $(echo "$options" | wc -w) options"

# The unit: what an operator relies on.
unit="$dest$unit"
for line in "Type=notify" "Restart=on-failure" "StateDirectory=ringdb" "RuntimeDirectory=ringdb" \
            "User=ringdb" "Group=ringdb" "WatchdogSec=" \
            "#CPUAffinity=" "ExecStart=$sbindir/ringdbd --config $sysconfdir/ringdb/ringdbd.conf"; do
  grep -q "^$line" "$unit" || fail "ringdbd.service lacks $line"
done

# systemd itself must accept the unit (pointed at the installed binary, which it checks).
if command -v systemd-analyze >/dev/null 2>&1; then
  sed "s|^ExecStart=$sbindir/ringdbd|ExecStart=$ringdbd|" "$unit" >"$work/ringdbd.service"
  verify=$(systemd-analyze verify "$work/ringdbd.service" 2>&1) || fail "systemd-analyze: $verify"
  [ -z "$verify" ] || fail "systemd-analyze verify ringdbd.service: $verify"
  echo "install_test: systemd-analyze verify accepts ringdbd.service"
else
  echo "install_test: systemd-analyze not installed: the unit's syntax is not checked by systemd"
fi

# A listener for sd_notify: prints each datagram's lines, READY=1, WATCHDOG=1 and STOPPING=1
# among them. It says it is listening on a FIFO, which the test blocks on, and says the first
# WATCHDOG=1 on another.
notify="$work/notify.sock"
mkfifo "$work/listening" "$work/watchdog"
python3 - "$notify" "$work/listening" "$work/watchdog" >"$work/notify.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "w") as ready:
    ready.write("listening\n")
s.settimeout(60)
told = False
while True:
    msg = s.recv(4096).decode()
    print(msg.replace("\n", " "), flush=True)
    if "WATCHDOG=1" in msg and not told:
        with open(sys.argv[3], "w") as watchdog:
            watchdog.write("watchdog\n")
        told = True
    if "STOPPING=1" in msg:
        break
PY
listener=$!
read -rt 60 listening <"$work/listening" || fail "the notify listener did not start"
[ "$listening" = listening ] || fail "the notify listener said '$listening'"

# The installed daemon, on the installed configuration file with every setting uncommented
# (`# name = value` -> `name = value`: the defaults, as an operator would start editing), in
# the work directory (the flags win over the file's auto paths). As under systemd: a notify
# socket with a watchdog, and standard error the journal's stream (JOURNAL_STREAM names it).
sed 's/^# \([a-z-]*\) = /\1 = /' "$conf" >"$work/uncommented.conf"
[ "$(grep -c '^[a-z-]* = ' "$work/uncommented.conf")" -eq "$(echo "$options" | wc -w)" ] ||
  fail "not every option uncommented"
mkfifo "$work/ready"
: >"$work/daemon.log"
journal_stream=$(stat -c '%d:%i' "$work/daemon.log")
NOTIFY_SOCKET="$notify" WATCHDOG_USEC=4000000 JOURNAL_STREAM="$journal_stream" \
  "$ringdbd" --config "$work/uncommented.conf" --data-dir "$work/data" \
  --socket "$work/ringdb.sock" --admin-socket "$work/admin.sock" --ready-fd 3 \
  3>"$work/ready" 2>>"$work/daemon.log" &
daemon_pid=$!
read -rt 60 ready <"$work/ready" || fail "ringdbd did not become ready: $(cat "$work/daemon.log")"
[ "$ready" = ready ] || fail "ringdbd said '$ready'"
read -rt 30 watchdog <"$work/watchdog" || fail "no WATCHDOG=1 within 30 s: $(cat "$work/notify.log")"
# Journal priorities: INFO lines are <6>, and no line carries our own timestamp.
grep -q '^<6>INFO: ringdbd .* ready: pid' "$work/daemon.log" ||
  fail "no <6>INFO ready line: $(cat "$work/daemon.log")"
! grep -qv '^<[0-7]>' "$work/daemon.log" || fail "a log line without its priority: $(cat "$work/daemon.log")"
echo "install_test: ringdbd started on the uncommented config file; WATCHDOG=1 and journal priorities seen"

# The example, built as a user builds it: make + pkg-config, against the installed tree.
cp -r "$src/libclient/examples" "$work/example"
sanitizer_flags=
[ "$sanitize" != none ] && sanitizer_flags="-fsanitize=$sanitize"
PKG_CONFIG_PATH="$dest$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest" \
  CFLAGS="-O2 -Wall -Wextra -Werror $sanitizer_flags" LDFLAGS="$sanitizer_flags" \
  make -s -C "$work/example" >/dev/null || fail "the example does not build"
out=$("$work/example/hello_ringdb" "$work/ringdb.sock") || fail "hello_ringdb failed: $out"
echo "$out"
grep -q "greeting = hello, ringdb" <<<"$out" || fail "hello_ringdb printed: $out"
grep -q "to = 100" <<<"$out" || fail "hello_ringdb printed: $out"
"$dest$bindir/ringdb-admin" --socket "$work/admin.sock" status >/dev/null ||
  fail "the installed ringdb-admin cannot ask the daemon"

# The Python package, where the interpreter it was built for finds it (its dist-packages for
# this prefix: the destdir's copy here), imported and used as a user would. Not in sanitizer
# builds: there the extension needs its runtime preloaded (tests/python does that).
python=$(option python3)
pkg=$(find "$dest" -path '*-packages/ringdb/__init__.py' -print -quit)
if [ "$sanitize" = none ] && [ -n "$pkg" ]; then
  site=$(dirname "$(dirname "$pkg")")
  site_real=${site#"$dest"}
  "$python" -c "import sys; sys.exit(0 if '$site_real' in sys.path else 1)" ||
    fail "the Python package went to $site_real, which $python does not search"
  out=$(PYTHONPATH="$site" "$python" -c "
import ringdb, sys
with ringdb.connect(sys.argv[1]) as db:
    db.put(b'py', b'installed')
    print(db.get(b'py').decode(), db.daemon_version == ringdb.__version__)
" "$work/ringdb.sock") || fail "the installed Python package failed: $out"
  [ "$out" = "installed True" ] || fail "the installed Python package printed: $out"
  echo "install_test: the Python package installed in $site_real works"
elif [ -z "$pkg" ]; then
  echo "install_test: no Python package installed (python feature off, or no pybind11-dev)"
fi

kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "ringdbd did not exit 0 after SIGTERM"
daemon_pid=
wait "$listener" || true
grep -q "READY=1" "$work/notify.log" || fail "no READY=1: $(cat "$work/notify.log")"
grep -q "STOPPING=1" "$work/notify.log" || fail "no STOPPING=1: $(cat "$work/notify.log")"
echo "install_test: sd_notify READY=1 and STOPPING=1 seen; all good"
