"""Fd hygiene (issue 18): nothing runm opens leaks into the processes it starts (the VMM,
the device servers, hooks): the create->shim sync pipe used to reach every one of them, so a
`runm create` waiting on it could only return once they were all gone. And runm started with
fd 0 closed must not take its next socket for stdin (`runm exec` hung, sending the shim
connection as the process's stdin)."""
import json
import os
import re
import subprocess

import pytest

from conftest import make_bundle
from lifecycle_util import Runm, vm_skip_reason


def fds(pid):
    d = f"/proc/{pid}/fd"
    out = {}
    for n in os.listdir(d):
        try:
            out[int(n)] = os.readlink(f"{d}/{n}")
        except OSError:
            pass
    return out


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(k) for k in f.read().split()]


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]


def named_fds(argv):
    """The fds a process was told about on its command line (fd=N, tapfd=N, --fd N, --ready-fd N)."""
    out = set()
    for i, a in enumerate(argv):
        out |= {int(m) for m in re.findall(r"\b(?:tap|sock|listen)?fd=(\d+)", a)}
        if re.fullmatch(r"--[a-z-]*fd", a) and i + 1 < len(argv) and argv[i + 1].isdigit():
            out.add(int(argv[i + 1]))
    return out


def leaks(pid, shim_fds):
    """Fds of PID that are neither stdio, nor named on its command line, nor its own: a pipe,
    /dev/null, or an object the shim holds too is inherited."""
    argv = cmdline(pid)
    expected = {0, 1, 2} | named_fds(argv)
    shared = set(shim_fds.values())
    bad = {}
    for n, t in fds(pid).items():
        if n in expected:
            continue
        if t.startswith("pipe:") or t == "/dev/null" or (t in shared and not t.startswith("anon_inode:")):
            bad[n] = t
    return argv[0], bad


@pytest.fixture
def vm(build_dir, tmp_path, tmp_path_factory):
    why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
    if why:
        pytest.skip(why)
    r = Runm(build_dir, tmp_path / "root", "vm")
    yield r
    r.cleanup()


def test_vm_processes_and_hooks_inherit_nothing(vm, tmp_path):
    fdlist = tmp_path / "hook-fds"
    b = make_bundle(tmp_path / "bundle", ["sleep", "1000"])
    cfg = json.loads((b / "config.json").read_text())
    cfg["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", f"/bin/ls /proc/$$/fd > {fdlist}"]}]}
    (b / "config.json").write_text(json.dumps(cfg))
    pidfile = tmp_path / "pid"
    rc, msg = vm.create("--bundle", b, "--pid-file", pidfile, "c1")
    assert rc == 0, msg
    shim = int(pidfile.read_text())
    shim_fds = fds(shim)
    kids = children(shim)
    names = [cmdline(k)[0] for k in kids]
    assert any("qemu" in n for n in names) and any("runm-vmm" in n for n in names), names
    found = [leaks(k, shim_fds) for k in kids]
    assert all(not bad for _, bad in found), found
    # the hook's sh: stdio, and the one fd ls opened for the listing
    hook = sorted(int(n) for n in fdlist.read_text().split())
    assert hook[:3] == [0, 1, 2] and len(hook) <= 4, hook
    assert vm("delete", "--force", "c1").returncode == 0


@pytest.fixture
def hostrt(build_dir, tmp_path):
    r = Runm(build_dir, tmp_path / "root", "host-agent")
    yield r
    r.cleanup()


@pytest.mark.parametrize("closed", ["0", "0 1 2"])
def test_exec_with_stdio_closed(hostrt, tmp_path, closed):
    b = make_bundle(tmp_path / "bundle", ["sleep", "1000"], extra=["--rw"])
    rc, msg = hostrt.create("--bundle", b, "c1")
    assert rc == 0, msg
    assert hostrt("start", "c1").returncode == 0
    out = b / "rootfs" / "out"  # host-agent mode: the container's / is the bundle's rootfs
    closes = " ".join(f"{fd}<&- {fd}>&-" for fd in closed.split())
    cmd = " ".join(f"'{a}'" for a in hostrt.cmd("exec", "c1", "sh", "-c", "echo hi > /out; echo done"))
    # the exec'd process must get EOF (or /dev/null) on stdin, not hang
    r = subprocess.run(["/bin/sh", "-c", f"exec {closes} {cmd}"], capture_output=True, text=True,
                       env=hostrt.env, timeout=30)
    assert r.returncode == 0, r.stderr
    assert out.read_text() == "hi\n"
    if closed == "0":
        assert r.stdout == "done\n"
