"""`runm spec && runm run ID` in a terminal, as runc: a foreground `run` of a process with
`terminal: true` and no --console-socket uses the caller's terminal (raw mode, the container's
pty relayed both ways, the window size at start and on SIGWINCH, the terminal restored, the exit
status passed through); without any terminal it fails as runc does, leaving no container.

Each test runs in both modes (lifecycle_util.MODES)."""
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import termios
import time

import pytest

from conftest import make_bundle
from lifecycle_util import MODES, Runm, vm_skip_reason


@pytest.fixture(params=MODES)
def rt(request, build_dir, tmp_path, tmp_path_factory):
    if request.param == "vm":
        why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
        if why:
            pytest.skip(why)
    r = Runm(build_dir, tmp_path / "root", request.param)
    yield r
    r.cleanup()


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Terminal:
    """`runm run` on a fresh pty that is its controlling terminal (as in a shell)."""

    def __init__(self, rt, args, cwd, rows=33, cols=101):
        self.master, slave = pty.openpty()
        set_size(self.master, rows, cols)
        self.before = termios.tcgetattr(slave)

        def ctty():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.p = subprocess.Popen(rt.cmd(*args), stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                                  env=rt.env, preexec_fn=ctty)
        self.slave = slave
        self.out = b""
        self.timeout = rt.timeout

    def expect(self, needle):
        deadline = time.monotonic() + self.timeout
        while needle not in self.out:
            left = deadline - time.monotonic()
            assert left > 0, (needle, self.out)
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                assert chunk, (needle, self.out)
                self.out += chunk
        return self.out

    def type(self, text):
        os.write(self.master, text.encode())

    def wait(self):
        rc = self.p.wait(self.timeout)
        after = termios.tcgetattr(self.slave)
        os.close(self.slave)
        os.close(self.master)
        return rc, after


def test_run_uses_the_callers_terminal(rt, tmp_path):
    b = make_bundle(tmp_path / "bundle", ["sh"], tty=True)
    t = Terminal(rt, ["run", "tty1"], cwd=b)
    try:
        t.type("echo typed-$((6*7))\n")
        t.expect(b"typed-42")
        t.type("tty; stty size\n")
        t.expect(b"/dev/pts/0\r\n33 101\r\n")
        # the caller's terminal is raw while the container runs: no local echo, no ^C signal
        attrs = termios.tcgetattr(t.slave)
        assert not attrs[3] & (termios.ECHO | termios.ICANON | termios.ISIG), attrs
        set_size(t.master, 40, 120)  # SIGWINCH to `runm run`, the terminal's foreground
        time.sleep(0.5)
        t.type("stty size\n")
        t.expect(b"40 120\r\n")
        t.type("exit 3\n")
    finally:
        rc, after = t.wait()
    assert rc == 3, t.out
    assert after == t.before
    assert rt("list", "-q").stdout == ""


def test_run_tty_owner_and_console_size_before_start(rt, tmp_path):
    b = make_bundle(tmp_path / "bundle", ["sh", "-c", "stty size; ls -ln $(tty)"], tty=True)
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["user"] = {"uid": 1000, "gid": 1001}
    (b / "config.json").write_text(json.dumps(cfg))
    t = Terminal(rt, ["run", "tty2"], cwd=b, rows=21, cols=77)
    try:
        t.expect(b"/dev/pts/0")
    finally:
        rc, after = t.wait()
    assert rc == 0, t.out
    lines = t.out.decode().split("\r\n")
    # the size was there before the process started; the process's user owns its tty, the
    # group is devpts' gid=5 (runc: the same)
    assert lines[0] == "21 77", t.out
    assert lines[1].split()[2:4] == ["1000", "5"], t.out
    assert after == t.before


def test_run_tty_without_a_terminal_fails_as_runc(rt, tmp_path):
    b = make_bundle(tmp_path / "bundle", ["true"], tty=True)
    r = subprocess.run(rt.cmd("run", "tty3"), cwd=b, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       env=rt.env, timeout=rt.timeout, start_new_session=True)
    assert r.returncode == 1
    assert "open /dev/tty: No such device or address" in r.stderr
    assert rt("list", "-q").stdout == ""
    assert not (rt.root / "tty3").exists()
