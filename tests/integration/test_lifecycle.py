"""Containers end to end through runm's runc contract: create/start/state/kill/delete, stdio,
exit codes, signals in every form, tty over a console socket with resize, exec, many at once.

Each test runs in two modes (lifecycle_util.MODES): "vm" (a microVM per container; skipped
with the printed reason while the stack cannot boot a container on this host) and
"host-agent" (the same runm/shim/agent with the agent on the host)."""
import ctypes
import fcntl
import json
import os
import pathlib
import signal
import struct
import subprocess
import termios
import threading
import time

import pytest

from conftest import make_bundle
from lifecycle_util import MODES, ConsoleSocket, Runm, vm_skip_reason


def bundle_with(tmp_path, args, tty=False, name="bundle", mutate=None):
    b = make_bundle(tmp_path / name, args, tty=tty)
    if mutate:
        cfg = json.loads((b / "config.json").read_text())
        mutate(cfg)
        (b / "config.json").write_text(json.dumps(cfg))
    return b


TRAP_TERM = ["sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done"]


def test_run_stdout_stderr_exit_code(rt, tmp_path):
    b = bundle_with(tmp_path, ["sh", "-c", "echo to-out; echo to-err >&2; exit 3"])
    r = rt("run", "--bundle", b, "c1")
    assert r.returncode == 3, r.stderr
    assert r.stdout == "to-out\n"
    assert r.stderr == "to-err\n"
    assert not (rt.root / "c1").exists()  # run without --keep deletes


def test_exit_status_survives_a_quick_poweroff(rt, tmp_path):
    """A container that ran `sync` leaves the agent's poweroff nothing to flush, so the VM went
    down at once: the exit status still in the guest's vsock queue was lost ("the microVM or its
    agent went away", exit 137) in about 3 runs of 10. The agent now shuts its connections down for
    writing and waits for the host before rebooting (agent/server.c server_linger)."""
    b = bundle_with(tmp_path, ["sh", "-c", "sync; echo synced; exit 3"])
    for i in range(8):
        r = rt("run", "--bundle", b, f"q{i}")
        assert (r.returncode, r.stdout, r.stderr) == (3, "synced\n", ""), (i, r.returncode, r.stderr)


def test_run_stdin(rt, tmp_path):
    b = bundle_with(tmp_path, ["sh", "-c", "tr a-z A-Z; echo done"])
    r = rt("run", "-b", b, "c1", input="hello stdin\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "HELLO STDIN\ndone\n"


def test_stdout_eof_and_large_output(rt, tmp_path):
    b = bundle_with(tmp_path, ["sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done"])
    r = rt("run", "-b", b, "c1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2000 and lines[-1] == "line-1999"


def test_lifecycle_states_pid_file_and_delete(rt, tmp_path):
    b = bundle_with(tmp_path, TRAP_TERM)
    pidfile = tmp_path / "pid"
    rc, err = rt.create("--bundle", b, "--pid-file", pidfile, "c1", out=tmp_path / "out")
    assert rc == 0, err
    pid = int(pidfile.read_text())
    st = rt.state("c1")
    assert st["status"] == "created" and st["pid"] == pid and st["bundle"] == str(b)
    assert os.path.exists(f"/proc/{pid}")
    r = rt("start", "c1")
    assert r.returncode == 0, r.stderr
    assert rt.state("c1")["status"] == "running"
    r = rt("start", "c1")
    assert r.returncode == 1 and "cannot start an already running container" in r.stderr
    r = rt("delete", "c1")
    assert r.returncode == 1 and "not stopped" in r.stderr
    lst = json.loads(rt("list", "--format", "json").stdout)
    assert [c["id"] for c in lst] == ["c1"] and lst[0]["pid"] == pid
    # as the pid namespace's init, sh ignores TERM until its trap is installed
    deadline = time.monotonic() + rt.timeout
    while b"ready" not in (tmp_path / "out").read_bytes() and time.monotonic() < deadline:
        time.sleep(0.05)
    r = rt("kill", "c1", "TERM")
    assert r.returncode == 0, r.stderr
    st = rt.wait_status("c1", "stopped")
    assert b"got-term" in (tmp_path / "out").read_bytes()
    assert st["pid"] == 0
    r = rt("kill", "c1", "KILL")
    assert r.returncode == 1 and "container not running" in r.stderr
    r = rt("delete", "c1")
    assert r.returncode == 0, r.stderr
    assert not (rt.root / "c1").exists()


@pytest.mark.parametrize("form", ["TERM", "SIGTERM", "15", "term", "sigterm"])
def test_kill_signal_forms(rt, tmp_path, form):
    b = bundle_with(tmp_path, TRAP_TERM)
    p = rt.popen("run", "-b", b, "c1", stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    r = rt("kill", "c1", form)
    assert r.returncode == 0, r.stderr
    out, err = p.communicate(timeout=rt.timeout)
    assert p.returncode == 7, err
    assert b"got-term" in out


def test_exit_by_signal_is_128_plus(rt, tmp_path):
    b = bundle_with(tmp_path, ["sh", "-c", "echo ready; sleep 1000"])
    p = rt.popen("run", "-b", b, "c1")
    assert p.stdout.readline() == b"ready\n"
    assert rt("kill", "c1", "9").returncode == 0
    p.communicate(timeout=rt.timeout)
    assert p.returncode == 128 + 9


def test_shim_forwards_signals(rt, tmp_path):
    b = bundle_with(tmp_path, ["sh", "-c", "trap 'echo got-usr1; exit 4' USR1; echo ready; "
                                           "while :; do sleep 0.05; done"])
    pidfile = tmp_path / "pid"
    rc, err = rt.create("-b", b, "--pid-file", pidfile, "c1", out=tmp_path / "out")
    assert rc == 0, err
    assert rt("start", "c1").returncode == 0
    shim = int(pidfile.read_text())
    deadline = time.monotonic() + rt.timeout
    while b"ready" not in (tmp_path / "out").read_bytes() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(shim, signal.SIGUSR1)
    rt.wait_status("c1", "stopped")
    assert b"got-usr1" in (tmp_path / "out").read_bytes()


PR_SET_CHILD_SUBREAPER = 36


def test_shim_stays_in_callers_tree_and_releases_stdio(rt, tmp_path):
    """Like conmon: we are a subreaper; the shim must re-parent to us, and with a terminal
    `create` must not leave our stdout/stderr pipes open (we would never see EOF)."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        b = bundle_with(tmp_path, ["sh", "-c", "echo tty-ready; sleep 1000"], tty=True)
        cs = ConsoleSocket(tmp_path / "console.sock")
        pidfile = tmp_path / "pid"
        # capture_output: returns only when every holder of the pipes closed them
        r = rt("create", "-b", b, "--console-socket", cs.path, "--pid-file", pidfile, "c1")
        assert r.returncode == 0, r.stderr
        shim = int(pidfile.read_text())
        stat = pathlib.Path(f"/proc/{shim}/stat").read_text()
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        assert ppid == os.getpid()
        assert cs.wait() is not None and cs.nfds == 1 and cs.payload
        rt("kill", "c1", "KILL")
        rt.wait_status("c1", "stopped")
        os.waitpid(shim, 0)
        cs.close()
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def test_tty_console_socket_and_resize(rt, tmp_path):
    b = bundle_with(tmp_path, ["sh", "-c", "stty size; echo first-done; read x; stty size; echo second-$x"],
                    tty=True)
    cs = ConsoleSocket(tmp_path / "console.sock")
    r = rt("create", "-b", b, "--console-socket", cs.path, "c1")
    assert r.returncode == 0, r.stderr
    master = cs.wait()
    assert master is not None
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    time.sleep(0.3)
    assert rt("start", "c1").returncode == 0
    out = cs.read_until("first-done")
    assert "33 111" in out, out
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 44, 99, 0, 0))
    time.sleep(0.5)
    os.write(master, b"go\n")
    out = cs.read_until("second-go")
    assert "44 99" in out and "second-go" in out, out
    rt.wait_status("c1", "stopped")
    cs.close()


def test_exec_foreground_and_detached(rt, tmp_path):
    b = bundle_with(tmp_path, ["sleep", "1000"])
    assert rt.create("-b", b, "c1")[0] == 0
    assert rt("start", "c1").returncode == 0
    r = rt("exec", "c1", "sh", "-c", "echo ex-out; echo ex-err >&2; exit 5")
    assert r.returncode == 5, r.stderr
    assert r.stdout == "ex-out\n" and r.stderr == "ex-err\n"
    r = rt("exec", "c1", "cat", input="via-stdin")
    assert r.returncode == 0 and r.stdout == "via-stdin"
    r = rt("exec", "--env", "FOO=bar", "--cwd", "/tmp", "c1", "sh", "-c", "echo $FOO $(pwd)")
    assert r.stdout == "bar /tmp\n", r.stderr
    proc = tmp_path / "process.json"
    proc.write_text(json.dumps({"args": ["sh", "-c", "exit 9"], "cwd": "/", "env": ["PATH=/bin"],
                                "user": {"uid": 0, "gid": 0}, "terminal": False}))
    r = rt("exec", "--process", proc, "c1")
    assert r.returncode == 9, r.stderr
    r = rt("exec", "c1", "/no/such/binary")
    assert r.returncode != 0
    pidfile = tmp_path / "exec.pid"
    r = rt("exec", "--detach", "--pid-file", pidfile, "c1", "sleep", "0.5")
    assert r.returncode == 0, r.stderr
    epid = int(pidfile.read_text())
    deadline = time.monotonic() + rt.timeout
    while os.path.exists(f"/proc/{epid}") and time.monotonic() < deadline:
        try:
            if os.waitpid(epid, os.WNOHANG)[0]:
                break
        except ChildProcessError:
            pass
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{epid}") or "Z" in pathlib.Path(f"/proc/{epid}/stat").read_text()
    assert rt("kill", "c1", "KILL").returncode == 0
    rt.wait_status("c1", "stopped")


def test_shim_killed_9_then_delete_cleans_everything(rt, tmp_path):
    b = bundle_with(tmp_path, ["sleep", "1000"])
    pidfile = tmp_path / "pid"
    assert rt.create("-b", b, "--pid-file", pidfile, "c1")[0] == 0
    assert rt("start", "c1").returncode == 0
    shim = int(pidfile.read_text())
    kids = subprocess.run(["pgrep", "-P", str(shim)], capture_output=True, text=True).stdout.split()
    assert kids, "the shim should have a VMM / agent child"
    os.kill(shim, signal.SIGKILL)
    st = rt.wait_status("c1", "stopped", timeout=10)
    assert st["pid"] == 0
    r = rt("kill", "c1", "KILL")
    assert r.returncode == 1 and "container not running" in r.stderr
    assert rt("delete", "c1").returncode == 0
    assert not (rt.root / "c1").exists()
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{k}") for k in kids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(os.path.exists(f"/proc/{k}") for k in kids), "VMM/agent outlived the shim"


def test_delete_force_running(rt, tmp_path):
    b = bundle_with(tmp_path, ["sleep", "1000"])
    assert rt.create("-b", b, "c1")[0] == 0
    assert rt("start", "c1").returncode == 0
    r = rt("delete", "--force", "c1")
    assert r.returncode == 0, r.stderr
    assert not (rt.root / "c1").exists()


def test_pause_resume_and_stats(rt, tmp_path):
    b = bundle_with(tmp_path, ["sleep", "1000"])
    assert rt.create("-b", b, "c1")[0] == 0
    assert rt("start", "c1").returncode == 0
    if rt.mode == "host-agent":
        # the freezer is the guest's cgroup; the host agent has none: refused, not faked
        r = rt("pause", "c1")
        assert r.returncode == 1 and "no cgroup" in r.stderr, r.stderr
        assert rt.state("c1")["status"] == "running"
    else:
        assert rt("pause", "c1").returncode == 0
        assert rt.state("c1")["status"] == "paused"
        r = rt("exec", "c1", "true")
        assert r.returncode == 255 and "paused" in r.stderr
        assert rt("resume", "c1").returncode == 0
        assert rt.state("c1")["status"] == "running"
    r = rt("events", "--stats", "c1")
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert ev["type"] == "stats" and ev["id"] == "c1" and isinstance(ev["data"], dict)
    # new limits for the guest cgroup (test_update.py has the details); no cgroup on the host
    r = rt("update", "--memory", "0", "--cpu-quota", "50000", "--cpuset-cpus", "0", "c1")
    if rt.mode == "host-agent":
        assert r.returncode == 1 and "no cgroup" in r.stderr, r.stderr
    else:
        assert r.returncode == 0, r.stderr
    rt("kill", "c1", "KILL")
    rt.wait_status("c1", "stopped")


def test_hooks_run_on_host_with_state(rt, tmp_path):
    """The runtime-namespace hooks; createContainer/startContainer run in the container
    (test_hooks.py)."""
    out = tmp_path / "hooks"
    out.mkdir()

    def add_hooks(cfg):
        cfg["hooks"] = {k: [{"path": "/bin/sh", "args": ["sh", "-c", f"cat > {out}/{k}.json"]}]
                        for k in ("prestart", "createRuntime", "poststart", "poststop")}
    b = bundle_with(tmp_path, ["true"], mutate=add_hooks)
    r = rt("run", "-b", b, "c1")
    assert r.returncode == 0, r.stderr
    for k in ("prestart", "createRuntime", "poststart", "poststop"):
        st = json.loads((out / f"{k}.json").read_text())
        assert st["id"] == "c1", k
    assert json.loads((out / "poststop.json").read_text())["status"] == "stopped"


def test_failing_prestart_hook_fails_create_cleanly(rt, tmp_path):
    def add_hooks(cfg):
        cfg["hooks"] = {"prestart": [{"path": "/bin/false"}]}
    b = bundle_with(tmp_path, ["true"], mutate=add_hooks)
    rc, err = rt.create("-b", b, "c1")
    assert rc == 1 and "prestart hook /bin/false" in err
    assert not (rt.root / "c1").exists()


def test_ten_containers_at_once(rt, tmp_path):
    b = bundle_with(tmp_path, ["sh", "-c", "read x; echo got-$x"])
    procs = []
    for i in range(10):
        procs.append(rt.popen("run", "-b", b, f"c{i}", stdin=subprocess.PIPE))
    outs = []
    for i, p in enumerate(procs):
        out, err = p.communicate(input=f"n{i}\n".encode(), timeout=rt.timeout * 2)
        outs.append((p.returncode, out.decode(), err.decode()))
    for i, (rc, out, err) in enumerate(outs):
        assert rc == 0 and out == f"got-n{i}\n", (i, rc, out, err)
    assert list(rt.root.iterdir()) == []
