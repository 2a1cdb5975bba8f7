"""Helpers for the container lifecycle tests: runm modes, console-socket receiver, probes."""
import array
import json
import os
import pathlib
import socket
import subprocess
import threading
import time

import pytest

from conftest import MODES, make_bundle  # noqa: F401 (MODES re-exported: tests import it here)

_probe = {}


def mode_env(mode):
    env = dict(os.environ)
    env.pop("RUNM_TEST_AGENT_ON_HOST", None)
    if mode == "host-agent":
        env["RUNM_TEST_AGENT_ON_HOST"] = "1"
    return env


def vm_skip_reason(build_dir, tmp_root):
    """None when a container boots in a microVM here, else why not (printed by the skip)."""
    if "vm" in _probe:
        return _probe["vm"]
    b = make_bundle(pathlib.Path(tmp_root) / "probe-bundle", ["true"])
    root = pathlib.Path(tmp_root) / "probe-root"
    r = subprocess.run([str(build_dir / "runm"), "--root", str(root), "run", "--bundle", str(b), "probe"],
                       capture_output=True, text=True, timeout=180, env=mode_env("vm"),
                       stdin=subprocess.DEVNULL)
    subprocess.run([str(build_dir / "runm"), "--root", str(root), "delete", "-f", "probe"],
                   capture_output=True)
    if r.returncode == 0:
        _probe["vm"] = None
    elif "boot microVM" in r.stderr:
        _probe["vm"] = "the microVM stack does not boot a container here yet: " + r.stderr.strip()[-600:]
    else:
        _probe["vm"] = None  # it booted but failed otherwise: let the tests fail and show it
    return _probe["vm"]


class Runm:
    def __init__(self, build_dir, root, mode):
        self.bin = str(build_dir / "runm")
        self.root = pathlib.Path(root)
        self.env = mode_env(mode)
        self.mode = mode
        self.timeout = 180 if mode == "vm" else 30

    def cmd(self, *args):
        return [self.bin, "--root", str(self.root)] + [str(a) for a in args]

    def __call__(self, *args, input=None, stdin=subprocess.DEVNULL, timeout=None, **kw):
        if input is not None:
            stdin = None
        return subprocess.run(self.cmd(*args), input=input, stdin=stdin, capture_output=True, text=True,
                              env=self.env, timeout=timeout or self.timeout, **kw)

    def create(self, *args, out=None):
        """`create` without a terminal hands its stdout/stderr to the container: give it files
        (a pipe would stay open as long as the container runs). Returns (rc, stderr text)."""
        out = pathlib.Path(out or (self.root.parent / f"create-{time.monotonic_ns()}.out"))
        self.root.mkdir(parents=True, exist_ok=True)
        with open(out, "wb") as f:
            r = subprocess.run(self.cmd("create", *args), stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                               env=self.env, timeout=self.timeout)
        return r.returncode, out.read_text(errors="replace")

    def popen(self, *args, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.cmd(*args), env=self.env, **kw)

    def state(self, cid):
        r = self(*["state", cid])
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def wait_status(self, cid, status, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            st = self.state(cid)
            if st["status"] == status:
                return st
            time.sleep(0.05)
        raise AssertionError(f"{cid} never reached {status}: {st}")

    def cleanup(self):
        if not self.root.exists():
            return
        for d in self.root.iterdir():
            subprocess.run(self.cmd("delete", "--force", d.name), capture_output=True, env=self.env)


class ConsoleSocket:
    """An AF_UNIX listener like conmon's: receives the pty master (one SCM_RIGHTS fd)."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.master = None
        self.payload = None
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        conn, _ = self.sock.accept()
        fds = array.array("i")
        msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4 * fds.itemsize))
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - (len(data) % fds.itemsize)])
        self.payload = msg
        self.nfds = len(fds)
        self.master = fds[0] if fds else None
        conn.close()

    def wait(self, timeout=60):
        self.thread.join(timeout)
        return self.master

    def read_until(self, needle, timeout=60):
        out = b""
        deadline = time.monotonic() + timeout
        os.set_blocking(self.master, False)
        while time.monotonic() < deadline:
            try:
                chunk = os.read(self.master, 4096)
                if not chunk:
                    break
                out += chunk
                if needle.encode() in out:
                    return out.decode(errors="replace")
            except BlockingIOError:
                time.sleep(0.02)
            except OSError:
                break
        return out.decode(errors="replace")

    def close(self):
        self.sock.close()
        if self.master is not None:
            try:
                os.close(self.master)
            except OSError:
                pass
