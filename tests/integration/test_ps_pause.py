"""runm ps (the agent's "ps" op) and pause/resume with the guest's cgroup v2 freezer, in both
lifecycle modes: "vm" (the container's cgroup in the guest: pause really freezes, SIGKILL still
kills) and "host-agent" (no guest cgroup: pause is refused with a clear error, never faked)."""
import json
import os
import pty
import re
import subprocess
import time

import pytest

from conftest import make_bundle
from lifecycle_util import MODES, Runm, vm_skip_reason

COUNTER = ["sh", "-c", "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.1; done"]


def ticks(path):
    return path.read_text(errors="replace").count("tick ")


def wait_ticks(path, more_than, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = ticks(path)
        if n > more_than:
            return n
        time.sleep(0.1)
    raise AssertionError(f"output stuck at {ticks(path)} ticks: {path.read_text(errors='replace')[-300:]}")


PS_EF_HEADER = "UID        PID  PPID  C STIME TTY          TIME CMD"  # procps' `ps -ef`, as runc prints


def ps_rows(rt, cid, *opts):
    r = rt("ps", cid, *opts)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == PS_EF_HEADER, r.stdout
    return [dict(zip(PS_EF_HEADER.split(), ln.split(None, 7))) for ln in lines[1:]]


def ps_table(rt, cid):
    return [(int(row["PID"]), row["CMD"]) for row in ps_rows(rt, cid)]


def test_ps_json_and_table(rt, tmp_path):
    b = make_bundle(tmp_path / "bundle", COUNTER)
    out = tmp_path / "c1.out"
    assert rt.create("-b", b, "c1", out=out)[0] == 0
    r = rt("ps", "--format", "json", "c1")  # created: the held init is listed
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    assert len(first) >= 1 and all(isinstance(p, int) and p > 0 for p in first)
    assert rt("start", "c1").returncode == 0
    wait_ticks(out, 0, rt.timeout)
    with open(tmp_path / "exec.out", "wb") as f:  # a detached exec keeps its stdio: not a pipe
        r = subprocess.run(rt.cmd("exec", "--detach", "c1", "sleep", "1000"), stdin=subprocess.DEVNULL,
                           stdout=f, stderr=f, env=rt.env, timeout=rt.timeout)
    assert r.returncode == 0, (tmp_path / "exec.out").read_text()
    deadline = time.monotonic() + rt.timeout
    while time.monotonic() < deadline:
        rows = ps_table(rt, "c1")
        if any(cmd == "sleep 1000" for _, cmd in rows):
            break
        time.sleep(0.2)
    assert any(cmd == "sleep 1000" for _, cmd in rows), rows
    assert any(cmd.startswith("sh -c i=0;") for _, cmd in rows), rows
    assert first[0] in [p for p, _ in rows]  # the init kept its pid
    r = rt("ps", "--format", "json", "c1")
    assert r.returncode == 0, r.stderr
    pids = json.loads(r.stdout)
    assert r.stdout.strip() == json.dumps(pids, separators=(",", ":"))  # runc's [1,7] style
    assert len(pids) >= 2 and pids == sorted(set(pids))
    assert {p for p, cmd in rows if cmd in ("sleep 1000",) or cmd.startswith("sh -c")} <= set(pids)
    r = rt("ps", "c1", "aux")  # BSD user format: %MEM, VSZ, RSS… the guest does not report
    assert r.returncode == 1 and "ps option aux is not supported" in r.stderr
    r = rt("ps", "--format", "yaml", "c1")
    assert r.returncode == 1 and "format" in r.stderr
    r = rt("ps", "nosuch")
    assert r.returncode == 1 and "does not exist" in r.stderr
    assert rt("kill", "c1", "KILL").returncode == 0
    rt.wait_status("c1", "stopped")
    r = rt("ps", "c1")  # runc 1.1.5: the header alone, exit 0
    assert r.returncode == 0 and r.stdout == PS_EF_HEADER + "\n", (r.stdout, r.stderr)


def test_pause_freezes_resume_thaws_kill9_while_paused(rt, tmp_path):
    b = make_bundle(tmp_path / "bundle", COUNTER)
    out = tmp_path / "c1.out"
    assert rt.create("-b", b, "c1", out=out)[0] == 0
    assert rt("start", "c1").returncode == 0
    wait_ticks(out, 1, rt.timeout)
    r = rt("pause", "c1")
    if rt.mode == "host-agent":
        # no guest cgroup on the host: a clear refusal, and nothing was stopped
        assert r.returncode == 1 and "no cgroup" in r.stderr, r.stderr
        assert rt.state("c1")["status"] == "running"
        wait_ticks(out, ticks(out), 10)
        assert rt("kill", "c1", "KILL").returncode == 0
        rt.wait_status("c1", "stopped")
        return
    assert r.returncode == 0, r.stderr
    assert rt.state("c1")["status"] == "paused"
    time.sleep(1)  # lines written just before the freeze may still be on their way
    n = ticks(out)
    time.sleep(2)
    assert ticks(out) == n, "the counter advanced while paused"
    r = rt("pause", "c1")
    assert r.returncode == 1 and "not running" in r.stderr
    r = rt("start", "c1")
    assert r.returncode == 1 and "paused" in r.stderr
    r = rt("exec", "c1", "true")
    assert r.returncode == 255 and "paused" in r.stderr
    r = rt("ps", "--format", "json", "c1")  # ps works on a paused container
    assert r.returncode == 0 and len(json.loads(r.stdout)) >= 1, r.stderr
    assert rt("resume", "c1").returncode == 0
    assert rt.state("c1")["status"] == "running"
    wait_ticks(out, n, 30)
    r = rt("resume", "c1")
    assert r.returncode == 1 and "not paused" in r.stderr
    assert rt("pause", "c1").returncode == 0
    assert rt.state("c1")["status"] == "paused"
    r = rt("kill", "c1", "KILL")  # SIGKILL kills through the freezer
    assert r.returncode == 0, r.stderr
    rt.wait_status("c1", "stopped", timeout=60)


# vm mode only: the host-agent mode has no guest cgroup, and its refusal is tested above.
@pytest.mark.parametrize("rt", ["vm"], indirect=True)
def test_delete_force_paused_and_pause_created(rt, tmp_path):
    b = make_bundle(tmp_path / "bundle", COUNTER)
    out = tmp_path / "c1.out"
    assert rt.create("-b", b, "c1", out=out)[0] == 0
    assert rt("pause", "c1").returncode == 0  # a created container can be paused, as with runc
    assert rt.state("c1")["status"] == "paused"
    assert rt("resume", "c1").returncode == 0
    assert rt.state("c1")["status"] == "created"  # resume returns to where pause left
    assert rt("start", "c1").returncode == 0
    wait_ticks(out, 0, rt.timeout)
    assert rt("pause", "c1").returncode == 0
    r = rt("delete", "--force", "c1")
    assert r.returncode == 0, r.stderr
    assert not (rt.root / "c1").exists()


def test_ps_ef_columns_from_the_guest(rt, tmp_path):
    """`ps -ef`'s columns for the guest processes: the user (the container's /etc/passwd), the
    parent, C, the start time, the tty, the CPU time; -e -A -a -x -f accepted, -o LIST."""
    b = make_bundle(tmp_path / "bundle", ["sleep", "1000"])
    (b / "rootfs" / "etc").mkdir(exist_ok=True)
    with open(b / "rootfs" / "etc" / "passwd", "a") as f:
        f.write("psuser:x:1234:1234::/:/bin/sh\n")
    assert rt.create("-b", b, "c1", out=tmp_path / "c1.out")[0] == 0
    assert rt("start", "c1").returncode == 0
    for args in (["-u", "1234", "c1", "sleep", "999"], ["c1", "sh", "-c", "while :; do :; done"],
                 ["-u", "4321", "c1", "sleep", "998"]):
        with open(tmp_path / "exec.out", "ab") as f:  # a detached exec keeps its stdio: not a pipe
            r = subprocess.run(rt.cmd("exec", "-d", *args), stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                               env=rt.env, timeout=rt.timeout)
        assert r.returncode == 0, (tmp_path / "exec.out").read_text()
    master, slave = pty.openpty()  # a process with a terminal, held by a tty exec
    try:
        p = subprocess.Popen(rt.cmd("exec", "-t", "c1", "sleep", "997"), stdin=slave, stdout=slave,
                             stderr=slave, env=rt.env)
        deadline = time.monotonic() + rt.timeout
        while True:
            rows = {r["CMD"]: r for r in ps_rows(rt, "c1", "-ef")}
            busy = rows.get("sh -c while :; do :; done")
            if {"sleep 999", "sleep 998", "sleep 997"} <= set(rows) and busy and busy["TIME"] != "00:00:00":
                break
            assert time.monotonic() < deadline, rows
            time.sleep(0.3)
        init, spin = rows["sleep 1000"], busy
        assert init["UID"] == "root" and rows["sleep 999"]["UID"] == "psuser" and rows["sleep 998"]["UID"] == "4321"
        assert init["TTY"] == "?" and rows["sleep 997"]["TTY"].startswith("pts/"), rows
        assert re.fullmatch(r"\d\d:\d\d", init["STIME"]) and init["TIME"] == "00:00:00"
        assert int(spin["C"]) > 0 and re.fullmatch(r"00:00:0[1-9]|00:00:[1-9]\d", spin["TIME"]), spin
        assert all(int(r["PPID"]) >= 0 for r in rows.values())
        assert ps_rows(rt, "c1", "-e", "-x", "-A", "-a", "-f") != []
        r = rt("ps", "c1", "-o", "pid,user,comm")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].split() == ["PID", "USER", "COMMAND"]
        assert any(ln.split()[1:] == ["psuser", "sleep"] for ln in lines[1:]), r.stdout
        r = rt("ps", "c1", "-o", "user")
        assert r.returncode == 1 and "couldn't find PID field in ps output" in r.stderr
        r = rt("ps", "c1", "-o", "pid,rss")
        assert r.returncode == 1 and "ps -o rss: unknown or unsupported column" in r.stderr
    finally:
        rt("kill", "--all", "c1", "KILL")
        p.wait(rt.timeout)
        os.close(slave)
        os.close(master)
