"""Fixtures for the Python binding's tests: a real ringdbd per test, in its own directory.

The daemon is $RINGDBD (meson test sets it, and PYTHONPATH to the built package). It is
started with --ready-fd, so a test begins once the daemon serves: no polling, no sleeps.
"""

import os
import signal
import subprocess
import tempfile

import pytest


class Daemon:
    def __init__(self, *extra_args):
        self.dir = tempfile.mkdtemp(prefix="ringdb-py-")
        self.socket = os.path.join(self.dir, "ringdb.sock")
        read_end, write_end = os.pipe()
        args = [
            os.environ["RINGDBD"],
            "--socket", self.socket,
            "--admin-socket", os.path.join(self.dir, "admin.sock"),
            "--data-dir", os.path.join(self.dir, "data"),
            "--wal-segment-size", "4M",  # every test daemon preallocates one
            "--ready-fd", str(write_end),
            *extra_args,
        ]
        self.log = open(os.path.join(self.dir, "ringdbd.log"), "wb")
        self.process = subprocess.Popen(args, pass_fds=(write_end,), stderr=self.log)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as ready:
            # "ready\n" once serving; end of file if it could not start.
            if ready.read(6) != b"ready\n":
                self.process.wait(timeout=30)
                raise RuntimeError("ringdbd did not start: " + self.read_log())

    def read_log(self):
        with open(os.path.join(self.dir, "ringdbd.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def pause(self):
        """SIGSTOP, returning once every thread of the daemon has stopped (the kernel reports
        the stop to its parent only then): no request is answered until resume()."""
        self.process.send_signal(signal.SIGSTOP)
        os.waitid(os.P_PID, self.process.pid, os.WSTOPPED)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.log.close()
        subprocess.run(["rm", "-rf", self.dir], check=False)


@pytest.fixture
def make_daemon():
    """Starts daemons with extra arguments; each is killed and removed after the test."""
    started = []

    def start(*extra_args):
        daemon = Daemon(*extra_args)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture
def daemon(make_daemon):
    return make_daemon()


@pytest.fixture
def db(daemon):
    import ringdb

    with ringdb.connect(daemon.socket) as client:
        yield client
