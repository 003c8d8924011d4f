#!/usr/bin/env python3
"""Proves that the rooms' include folders make an upward include a build error.

For each case, a one-line file that includes HEADER is compiled with exactly the flags that
Meson gives SOURCE (from BUILD_DIR/compile_commands.json), as if it were one of that room's
files. A header from a room above must be refused ("file not found"); a header from a room
below must compile, so that a refusal cannot come from a broken command line.

  scripts/check_rooms.py BUILD_DIR
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile

# (a source file of the room, a header, whether that room may include it)
CASES = [
    ("daemon/index/btree.cc", "sync/mutex.h", True),
    ("daemon/index/btree.cc", "daemon/engine/engine.h", False),
    ("daemon/engine/engine.cc", "daemon/index/btree.h", True),
    ("daemon/engine/engine.cc", "daemon/admin/admin_server.h", False),
    ("daemon/engine/engine.cc", "daemon/wal/writer.h", False),
    ("daemon/engine/engine.cc", "shm/status_codes.h", True),
    ("daemon/engine/engine.cc", "shm/wire.h", False),
    ("daemon/wal/writer.cc", "daemon/base/file_util.h", True),
    ("daemon/wal/writer.cc", "daemon/engine/engine.h", False),
    ("daemon/durability/checkpoint.cc", "daemon/wal/reader.h", True),
    ("daemon/durability/checkpoint.cc", "daemon/service/server.h", False),
    ("daemon/service/server.cc", "daemon/durability/checkpoint.h", False),
    ("daemon/service/server.cc", "shm/request.h", True),
    ("daemon/admin/admin_server.cc", "daemon/service/server.h", True),
    ("shm/request.cc", "mvcc/trx_sys.h", False),
    ("mvcc/trx_sys.cc", "shm/wire.h", False),
    ("libclient/client.cc", "shm/wire.h", True),
    ("libclient/client.cc", "daemon/service/server.h", False),
]


def probe_command(entry, probe):
    """The room's compile command with the probe as its source and no outputs."""
    args = shlex.split(entry["command"])
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MQ", "-MT"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a == entry["file"]:
            continue
        out.append(a)
    return out + ["-fsyntax-only", probe]


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    build = sys.argv[1]
    with open(os.path.join(build, "compile_commands.json")) as f:
        db = json.load(f)
    src_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for source, header, allowed in CASES:
            entry = next((e for e in db
                          if os.path.normpath(os.path.join(e["directory"], e["file"]))
                          == os.path.join(src_root, source)), None)
            if entry is None:
                print(f"rooms: {source} is not in {build}/compile_commands.json", file=sys.stderr)
                failures += 1
                continue
            probe = os.path.join(tmp, "probe.cc")
            with open(probe, "w") as f:
                f.write(f'#include "{header}"\n')
            r = subprocess.run(probe_command(entry, probe), cwd=entry["directory"],
                               capture_output=True, text=True)
            refused = r.returncode != 0
            not_found = "file not found" in r.stderr or "No such file" in r.stderr
            room = os.path.dirname(source)
            if allowed and refused:
                print(f"rooms: {room}/ should see {header} but its build refused it:\n{r.stderr}",
                      file=sys.stderr)
                failures += 1
            elif not allowed and not (refused and not_found):
                print(f"rooms: {room}/ could include {header} (an upward include compiled)"
                      + (f":\n{r.stderr}" if refused else ""), file=sys.stderr)
                failures += 1
            else:
                verdict = "refused" if refused else "allowed"
                print(f"rooms: {room}/ + {header}: {verdict}, as it should be")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
