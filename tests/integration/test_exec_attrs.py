"""`runm exec` as runc's: the process inherits the container's process attributes
(capabilities, rlimits, noNewPrivileges, user, env, cwd), --cap adds; -t writes to stdout;
-it starts with the caller's window size; --pid-file in the foreground; exec in a created
container; -p FILE ending with a newline.

Each test runs in both modes (lifecycle_util.MODES)."""
import fcntl
import json
import os
import pty
import struct
import subprocess
import termios

import pytest

from conftest import make_bundle
from lifecycle_util import MODES, Runm, vm_skip_reason


def running(rt, tmp_path, mutate=None, start=True):
    b = make_bundle(tmp_path / "bundle", ["sleep", "1000"])
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 1234, "soft": 1200},
                                 {"type": "RLIMIT_NPROC", "hard": 777, "soft": 777}]
    cfg["process"]["env"].append("FROM_SPEC=yes")
    cfg["process"]["cwd"] = "/tmp"
    if mutate:
        mutate(cfg)
    (b / "config.json").write_text(json.dumps(cfg))
    rc, err = rt.create("-b", b, "c1", out=tmp_path / "create.out")
    assert rc == 0, err
    if start:
        assert rt("start", "c1").returncode == 0
    return b


def status_field(text, name):
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in {text!r}")


def test_exec_inherits_the_containers_process(rt, tmp_path):
    running(rt, tmp_path)
    init = rt("exec", "c1", "cat", "/proc/1/status")
    me = rt("exec", "c1", "cat", "/proc/self/status")
    assert init.returncode == 0 and me.returncode == 0, (init.stderr, me.stderr)
    for f in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb", "NoNewPrivs"):
        assert status_field(me.stdout, f) == status_field(init.stdout, f), f
    assert int(status_field(me.stdout, "CapEff"), 16) != 0
    assert status_field(me.stdout, "NoNewPrivs") == "1"
    r = rt("exec", "c1", "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u; echo $FROM_SPEC; pwd")
    assert r.stdout == "1200\n1234\n777\nyes\n/tmp\n", r.stderr
    # --cap adds to every set
    r = rt("exec", "--cap", "CAP_SYS_ADMIN", "c1", "cat", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    for f in ("CapEff", "CapPrm", "CapBnd"):
        v = int(status_field(r.stdout, f), 16)
        assert v & (1 << 21), (f, hex(v))  # CAP_SYS_ADMIN
        assert v & int(status_field(init.stdout, f), 16) == int(status_field(init.stdout, f), 16)
    assert not int(status_field(init.stdout, "CapEff"), 16) & (1 << 21)
    # -u overrides the user, the rest stays
    r = rt("exec", "-u", "1000:1000", "c1", "sh", "-c", "id -u; id -g; ulimit -n")
    assert r.stdout == "1000\n1000\n1200\n", r.stderr


def test_exec_tty_writes_to_stdout(rt, tmp_path):
    running(rt, tmp_path)
    out = tmp_path / "out"
    with open(out, "wb") as f:
        r = subprocess.run(rt.cmd("exec", "-t", "c1", "echo", "on-the-tty"), stdin=subprocess.DEVNULL,
                           stdout=f, stderr=subprocess.PIPE, env=rt.env, timeout=rt.timeout)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == b"on-the-tty\r\n"
    r = rt("exec", "-t", "c1", "sh", "-c", "test -t 0 && test -t 1 && echo tty")
    assert r.returncode == 0 and r.stdout == "tty\n", (r.stdout, r.stderr)  # text mode: \r\n read as \n


def test_exec_it_starts_with_the_window_size(rt, tmp_path):
    running(rt, tmp_path)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    try:
        r = subprocess.run(rt.cmd("exec", "-t", "c1", "stty", "size"), stdin=slave, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=rt.env, timeout=rt.timeout)
    finally:
        os.close(slave)
        os.close(master)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"33 101\r\n"


def test_exec_pid_file_foreground(rt, tmp_path):
    running(rt, tmp_path)
    pf = tmp_path / "fg.pid"
    r = rt("exec", "--pid-file", pf, "c1", "sh", "-c", f"echo done")
    assert r.returncode == 0 and r.stdout == "done\n", r.stderr
    assert int(pf.read_text()) > 0
    r = rt("exec", "--pid-file", "/no/such/dir/p", "c1", "true")
    assert r.returncode == 255 and "/no/such/dir/p" in r.stderr, r.stderr


def test_exec_in_a_created_container(rt, tmp_path):
    running(rt, tmp_path, start=False)
    r = rt("exec", "c1", "sh", "-c", "echo in-created; ulimit -n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "in-created\n1200\n"
    assert rt.state("c1")["status"] == "created"
    assert rt("start", "c1").returncode == 0
    assert rt.state("c1")["status"] == "running"


def test_exec_process_file_with_trailing_newline(rt, tmp_path):
    running(rt, tmp_path)
    pf = tmp_path / "process.json"
    pf.write_text(json.dumps({"args": ["sh", "-c", "echo from-file"], "cwd": "/", "env": ["PATH=/bin:/usr/bin"],
                              "user": {"uid": 0, "gid": 0}}, indent=2) + "\n")
    r = rt("exec", "-p", pf, "c1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "from-file\n"
