#!/usr/bin/env bash
# The installed tree (issue 6, packaging): `meson install --destdir` holds what the packaging
# list says; the default configuration file is what ringdbd --print-config-file prints, lists
# every option ringdbd knows and ringdbd starts with it; the unit file says what an operator
# relies on; the example program builds against the installed libringdb through pkg-config,
# as a user would, and runs against the installed ringdbd; and ringdbd tells systemd READY=1
# once serving and STOPPING=1 at the end.
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

for f in "$sbindir/ringdbd" "$bindir/ringdb-admin" "$bindir/ringdb-cli" "$bindir/ringdb-bench" \
         "$libdir/libringdb.so" "$includedir/ringdb/client.h" "$includedir/ringdb/ringdb.h" \
         "$includedir/ringdb/version.h" "$includedir/ringdb/status_codes.h" \
         "$libdir/pkgconfig/ringdb.pc" "$sysconfdir/ringdb/ringdbd.conf" \
         "$prefix/lib/systemd/system/ringdbd.service"; do
  [ -e "$dest$f" ] || fail "not installed: $f"
done
echo "install_test: installed tree complete under $dest$prefix"

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
unit="$dest$prefix/lib/systemd/system/ringdbd.service"
for line in "Type=notify" "Restart=on-failure" "StateDirectory=ringdb" "RuntimeDirectory=ringdb" \
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

# A listener for sd_notify: prints each datagram's lines, READY=1 and STOPPING=1 among them.
# It says it is listening on a FIFO, which the test blocks on.
notify="$work/notify.sock"
mkfifo "$work/listening"
python3 - "$notify" "$work/listening" >"$work/notify.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "w") as ready:
    ready.write("listening\n")
s.settimeout(60)
while True:
    msg = s.recv(4096).decode()
    print(msg.replace("\n", " "), flush=True)
    if "STOPPING=1" in msg:
        break
PY
listener=$!
read -rt 60 listening <"$work/listening" || fail "the notify listener did not start"
[ "$listening" = listening ] || fail "the notify listener said '$listening'"

# The installed daemon, on the installed configuration file, in the work directory.
mkfifo "$work/ready"
NOTIFY_SOCKET="$notify" "$ringdbd" --config "$conf" --data-dir "$work/data" \
  --socket "$work/ringdb.sock" --admin-socket "$work/admin.sock" --ready-fd 3 \
  3>"$work/ready" 2>"$work/daemon.log" &
daemon_pid=$!
read -rt 60 ready <"$work/ready" || fail "ringdbd did not become ready: $(cat "$work/daemon.log")"
[ "$ready" = ready ] || fail "ringdbd said '$ready'"

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
