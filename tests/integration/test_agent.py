"""runm-agent in host mode (--listen-unix): real namespaces, busybox bundle, protocol v1."""
import hashlib
import json
import os
import pathlib
import select
import signal
import socket
import struct
import subprocess
import time

import pytest

import agent_util as au


@pytest.fixture
def agent(build_dir, tmp_path):
    # The ASan+UBSan agent when built (make asan), so memory errors fail the tests.
    default = build_dir / "asan" / "runm-agent"
    if not default.exists():
        default = build_dir / "runm-agent"
    a = au.Agent(pathlib.Path(os.environ.get("RUNM_AGENT_BIN", default)), tmp_path)
    a.check("hello", version=1, time_ns=time.time_ns())
    yield a
    a.close()
    err = a.proc.stderr.read().decode(errors="replace")
    assert "Sanitizer" not in err and "runtime error" not in err, err


def set_args(bundle, args, **proc):
    cfg = au.config(bundle)
    cfg["process"]["args"] = args
    cfg["process"].update(proc)
    return cfg


def run(agent, bundle, args, stdin=None, expect_exit=None, cfg=None, **proc):
    """create → attach → start → drain → wait; returns (stdout, stderr, exit)."""
    cfg = cfg or set_args(bundle, args, **proc)
    stdio = ("stdin", "stdout", "stderr") if stdin is not None else ("stdout", "stderr")
    r = agent.create(bundle, config=cfg, stdio=stdio)
    assert r["ok"], r
    out, err = agent.stream("init", "stdout"), agent.stream("init", "stderr")
    sin = agent.stream("init", "stdin") if stdin is not None else None
    agent.check("start", process="init")
    if sin is not None:
        sin.sendall(stdin)
        sin.close()
    o, e = au.read_all(out), au.read_all(err)
    w = agent.check("wait", process="init")
    if expect_exit is not None:
        assert w["exit_code"] == expect_exit, (w, o, e)
    return o, e, w


def test_stdout_stderr_exit_code_and_agent_exits(agent, bundle):
    o, e, w = run(agent, bundle, ["sh", "-c", "echo out; echo err >&2; printf 'x%.0s' $(seq 1 5); exit 3"])
    assert o == b"out\nxxxxx"
    assert e == b"err\n"
    assert w["exit_code"] == 3 and os.WEXITSTATUS(w["status"]) == 3 and "signal" not in w
    # The host has the status: the agent's work is done and it exits (the VM would power off).
    assert agent.wait_exit() == 0


@pytest.mark.parametrize("code", [0, 1, 42, 255])
def test_exit_codes(agent, bundle, code):
    run(agent, bundle, ["sh", "-c", f"exit {code}"], expect_exit=code)


def no_pidns(bundle, args):
    cfg = set_args(bundle, args)
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]
    return cfg


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL", "SIGINT", "SIGHUP", "SIGQUIT"])
def test_killed_by_signal_is_128_plus_n(agent, bundle, sig):
    n = int(getattr(signal, sig))
    # Without its own pid namespace the init is not a namespace's PID 1, so default
    # dispositions apply exactly as for any process.
    r = agent.create(bundle, config=no_pidns(bundle, ["sleep", "100"]))
    assert r["ok"], r
    out, err = agent.stream("init", "stdout"), agent.stream("init", "stderr")
    agent.check("start", process="init")
    agent.check("signal", process="init", signal=n)
    w = agent.check("wait", process="init")
    assert w["exit_code"] == 128 + n and w["signal"] == n
    assert au.read_all(out) == b"" and au.read_all(err) == b""


def test_created_state_held_until_start(agent, bundle):
    r = agent.create(bundle, config=set_args(bundle, ["sh", "-c", "echo started"]))
    assert r["ok"], r
    out = agent.stream("init", "stdout")
    err = agent.stream("init", "stderr")
    pid = r["pid"]
    time.sleep(0.3)
    # Not exec'd yet: still our (agent) image, no output.
    exe = os.readlink(f"/proc/{pid}/exe")
    assert exe.endswith("runm-agent"), exe
    assert select.select([out], [], [], 0.2)[0] == []
    agent.check("start", process="init")
    assert au.read_all(out) == b"started\n"
    au.read_all(err)
    assert agent.check("wait", process="init")["exit_code"] == 0


def test_start_twice_refused(agent, bundle):
    r = agent.create(bundle, config=set_args(bundle, ["sleep", "5"]))
    assert r["ok"]
    agent.check("start", process="init")
    r2 = agent.call("start", process="init")
    assert not r2["ok"] and "created state" in r2["error"]
    r3 = agent.call("resize", process="init", rows=1, cols=1)
    assert not r3["ok"] and "Inappropriate ioctl" in r3["error"]
    r4 = agent.call("resize", process="nope", rows=1, cols=1)
    assert not r4["ok"] and "does not exist" in r4["error"]
    agent.check("signal", process="init", signal=9)


def test_stdin_relay_every_byte(agent, bundle):
    data = os.urandom(3 * 1024 * 1024 + 17)
    o, e, w = run(agent, bundle, ["cat"], stdin=data, expect_exit=0)
    assert hashlib.sha256(o).hexdigest() == hashlib.sha256(data).hexdigest() and len(o) == len(data)
    assert e == b""


def test_large_output_exact(agent, bundle):
    o, e, w = run(agent, bundle, ["sh", "-c", "seq 1 200000; echo tail >&2"], expect_exit=0)
    want = "".join(f"{i}\n" for i in range(1, 200001)).encode()
    assert o == want and e == b"tail\n"


def test_tty_with_resize(agent, bundle):
    cfg = set_args(bundle, ["sh", "-c", "tty; stty size; read x; echo got $x; exit 5"], terminal=True)
    r = agent.create(bundle, config=cfg)
    assert r["ok"], r
    t = agent.stream("init", "tty")
    agent.check("resize", process="init", rows=40, cols=100)
    agent.check("start", process="init")
    buf = b""
    while b"40 100" not in buf:
        c = t.recv(4096)
        assert c, buf
        buf += c
    assert b"/dev/pts/0" in buf, buf  # the pty lives in the container's own devpts
    t.sendall(b"hello\n")
    buf += au.read_all(t)
    assert b"got hello" in buf, buf
    assert agent.check("wait", process="init")["exit_code"] == 5


def test_exec_in_running_container(agent, bundle):
    r = agent.create(bundle, config=set_args(bundle, ["sh", "-c", "read x; exit 9"]),
                     stdio=("stdin", "stdout", "stderr"))
    assert r["ok"], r
    sin, out, err = (agent.stream("init", s) for s in ("stdin", "stdout", "stderr"))
    agent.check("start", process="init")
    proc = {"args": ["sh", "-c", "hostname; echo $FOO; pwd; id -u; exit 7"], "env": ["FOO=bar"],
            "cwd": "/tmp", "user": {"uid": 0, "gid": 0}}
    r = agent.call("exec", process="e1", spec=json.dumps(proc), stdio={"stdout": True, "stderr": True})
    assert r["ok"], r
    eo, ee = agent.stream("e1", "stdout"), agent.stream("e1", "stderr")
    assert au.read_all(eo) == b"runm\nbar\n/tmp\n0\n"
    assert au.read_all(ee) == b""
    assert agent.check("wait", process="e1")["exit_code"] == 7
    # exec'd process killed by a signal → 128+n (it is not a pid namespace init)
    r = agent.call("exec", process="e2", spec=json.dumps({"args": ["sleep", "100"], "cwd": "/"}))
    assert r["ok"], r
    agent.check("signal", process="e2", signal=15)
    w = agent.check("wait", process="e2")
    assert w["exit_code"] == 143
    # duplicate id refused
    assert not agent.call("exec", process="e1", spec=json.dumps(proc))["ok"]
    sin.sendall(b"go\n")
    sin.close()
    assert agent.check("wait", process="init")["exit_code"] == 9
    au.read_all(out), au.read_all(err)
    assert agent.wait_exit() == 0


def test_container_setup_from_spec(agent, bundle):
    cfg = set_args(bundle, ["sh", "-c",
                            "hostname; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; "
                            "ulimit -n; id -u; id -G; cat /proc/kcore | wc -c; touch /x 2>&1; "
                            "cat /proc/sys/net/ipv4/ip_forward; (echo 1 > /proc/sys/net/ipv4/ip_forward) 2>&1;"
                            "cat /proc/self/oom_score_adj; echo $$"])
    cfg["hostname"] = "box1"
    cfg["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 100]}
    cfg["process"]["oomScoreAdj"] = 123
    # ambient capabilities must be inheritable too: then uid 1000 keeps them across exec
    cfg["process"]["capabilities"]["inheritable"] = cfg["process"]["capabilities"]["bounding"]
    cfg["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    o, e, w = run(agent, bundle, None, cfg=cfg)
    lines = o.decode().splitlines()
    assert lines[0] == "box1"
    caps = 1 << 29 | 1 << 5 | 1 << 10  # AUDIT_WRITE, KILL, NET_BIND_SERVICE
    assert lines[1] == f"CapEff:\t{caps:016x}"
    assert lines[2] == f"CapBnd:\t{caps:016x}"
    assert lines[3] == "NoNewPrivs:\t1"
    assert lines[4] == "1024"
    assert lines[5] == "1000"
    assert lines[6].split() == ["1000", "5", "100"]
    assert lines[7] == "0"  # masked
    assert "Read-only file system" in lines[8]
    assert lines[9] == "1"  # sysctl applied in the container's network namespace
    assert "Read-only file system" in lines[10]  # readonlyPaths /proc/sys
    assert lines[11] == "123"
    assert lines[12] == "1"  # PID 1 of its pid namespace
    assert w["exit_code"] == 0


def test_seccomp_rule(agent, bundle):
    cfg = set_args(bundle, ["sh", "-c", "mkdir /tmp/d 2>&1; echo rc=$?"])
    cfg["root"]["readonly"] = False
    cfg["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                                             "errnoRet": 1}]}
    o, e, w = run(agent, bundle, None, cfg=cfg, expect_exit=0)
    assert b"Operation not permitted" in o and b"rc=1" in o


def test_setup_failure_names_step_target_errno(agent, bundle):
    cfg = set_args(bundle, ["true"])
    cfg["mounts"].append({"destination": "/mnt/x", "type": "bind", "source": "/nonexistent/src",
                          "options": ["rbind"]})
    r = agent.create(bundle, config=cfg)
    assert not r["ok"]
    assert "bind mount source /nonexistent/src: No such file or directory" in r["error"], r
    # nothing left behind: a correct create still works afterwards
    r = agent.create(bundle, config=set_args(bundle, ["nope-not-a-program"]))
    assert not r["ok"] and "executable file not found" in r["error"] and "nope-not-a-program" in r["error"]
    o, e, w = run(agent, bundle, ["echo", "fine"], expect_exit=0)
    assert o == b"fine\n"


def test_bad_input_never_crashes(agent, bundle):
    s = agent.ctl
    for bad in [b"{", b"[1,2]", b"{\"id\":1}", b"{\"op\":\"hello\"}", b"null", b"\x00\x01",
                b"{\"id\":-5,\"op\":\"x\"}", b"[" * 100000 + b"]" * 100000, b"{\"id\":3,\"op\":\"nosuch\"}",
                b"{\"id\":4,\"op\":\"start\",\"process\":\"init\"}", b"{\"id\":5,\"op\":\"wait\",\"process\":7}",
                b"{\"id\":6,\"op\":\"signal\",\"process\":\"init\",\"signal\":99999}",
                b"{\"id\":7,\"op\":\"create\",\"process\":\"i\",\"config\":\"{nope\"}",
                b"{\"id\":8,\"op\":\"create\",\"process\":\"i\",\"config\":\"{}\"}",
                b"{\"id\":9,\"op\":\"hello\",\"version\":2}"]:
        au.send_frame(s, bad)
        r = au.recv_frame(s)
        assert r["ok"] is False and r["error"], (bad[:40], r)
    # oversized frame: the connection is closed, the agent lives on
    s.sendall(struct.pack(">I", 64 << 20) + b"{}")
    try:
        assert s.recv(1) == b""
    except ConnectionResetError:
        pass  # closed with our unread bytes pending: RST
    # truncated frame then EOF
    t = au.connect(agent.sock, au.CONTROL_PORT)
    t.sendall(struct.pack(">I", 100) + b"{\"id\":1")
    t.close()
    # bad handshakes are closed like the VMM does
    for hs in [b"CONNECT 9\n", b"CONNECT x\n", b"HELLO\n", b"CONNECT 1024 junk\n", b"A" * 100]:
        h = socket.socket(socket.AF_UNIX)
        h.connect(str(agent.sock))
        h.sendall(hs)
        h.settimeout(5)
        try:
            assert h.recv(100) == b"", hs
        except ConnectionResetError:
            pass
        h.close()
    # stream header naming nothing
    st = au.connect(agent.sock, au.STREAM_PORT)
    au.send_frame(st, {"process": "ghost", "stream": "stdout"})
    r = au.recv_frame(st)
    assert not r["ok"] and "does not exist" in r["error"]
    # still fully working
    agent.ctl = au.connect(agent.sock, au.CONTROL_PORT)
    agent.check("hello", version=1)
    o, e, w = run(agent, bundle, ["echo", "alive"], expect_exit=0)
    assert o == b"alive\n"


def test_events_and_shutdown(agent, bundle):
    ev = au.connect(agent.sock, au.CONTROL_PORT)
    au.send_frame(ev, {"id": 1, "op": "hello", "version": 1, "events": True})
    assert au.recv_frame(ev)["ok"]
    r = agent.create(bundle, config=set_args(bundle, ["sh", "-c", "echo a; exit 4"]))
    assert r["ok"]
    out, err = agent.stream("init", "stdout"), agent.stream("init", "stderr")
    agent.check("start", process="init")
    # the exit event comes after the stream EOF: all output is already readable
    e = au.recv_frame(ev)
    assert e == {"event": "exit", "process": "init", "pid": r["pid"], "status": 4 << 8, "exit_code": 4}
    assert au.read_all(out) == b"a\n"
    assert agent.wait_exit() == 0  # status delivered (as event): done


def test_shutdown_kills_everything(agent, bundle):
    r = agent.create(bundle, config=set_args(bundle, ["sleep", "1000"]))
    assert r["ok"]
    agent.check("start", process="init")
    pid = r["pid"]
    agent.check("stats")
    agent.check("shutdown")
    assert agent.wait_exit() == 0
    deadline = time.time() + 5
    while os.path.exists(f"/proc/{pid}") and time.time() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}")


def test_host_library_run_via_agentctl(build_dir, bundle, tmp_path):
    sock = tmp_path / "a.sock"
    ag = subprocess.Popen([build_dir / "runm-agent", "--listen-unix", sock])
    try:
        cfg = set_args(bundle, ["sh", "-c", "cat; head -c 5000000 /dev/zero | tr '\\0' z; echo e >&2; exit 6"])
        (bundle / "config.json").write_text(json.dumps(cfg))
        data = os.urandom(200000)
        p = subprocess.run([build_dir / "runm-agentctl", "--uds", sock, "run", "--stdin", bundle],
                           input=data, capture_output=True, timeout=60)
        assert p.returncode == 6, p.stderr
        assert p.stdout == data + b"z" * 5000000
        assert p.stderr == b"e\n"
        assert ag.wait(timeout=10) == 0
    finally:
        if ag.poll() is None:
            ag.kill()
            ag.wait()


def test_agentctl_forwards_signals(build_dir, bundle, tmp_path):
    sock = tmp_path / "a.sock"
    ag = subprocess.Popen([build_dir / "runm-agent", "--listen-unix", sock])
    try:
        (bundle / "config.json").write_text(json.dumps(no_pidns(bundle, ["sh", "-c", "echo up; exec sleep 100"])))
        p = subprocess.Popen([build_dir / "runm-agentctl", "--uds", sock, "run", bundle],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert p.stdout.readline() == b"up\n"
        p.send_signal(signal.SIGHUP)
        assert p.wait(timeout=20) == 128 + signal.SIGHUP
    finally:
        if ag.poll() is None:
            ag.kill()
            ag.wait()


def test_exec_tty_and_signal_all(agent, bundle):
    r = agent.create(bundle, config=set_args(bundle, ["sh", "-c", "sleep 100 & sleep 100 & wait"]))
    assert r["ok"], r
    out, err = agent.stream("init", "stdout"), agent.stream("init", "stderr")
    agent.check("start", process="init")
    spec = {"args": ["sh", "-c", "tty; stty size; read l; echo [$l]"], "cwd": "/", "terminal": True,
            "consoleSize": {"height": 30, "width": 90}, "env": ["PATH=/bin"]}
    r = agent.call("exec", process="t1", spec=json.dumps(spec))
    assert r["ok"], r
    t = agent.stream("t1", "tty")
    buf = b""
    while b"30 90" not in buf:
        c = t.recv(4096)
        assert c, buf
        buf += c
    assert b"/dev/pts/" in buf
    t.sendall(b"line\n")
    buf += au.read_all(t)
    assert b"[line]" in buf, buf
    assert agent.check("wait", process="t1")["exit_code"] == 0
    r = agent.call("signal", process="t1", signal=9)
    assert not r["ok"] and "not running" in r["error"]
    st = agent.check("stats")
    assert st["processes"] == 2 and st["running"] == 1 and st["mem_total"] > 0
    # signal every process of the container (its pid namespace): the init's shell and both sleeps
    agent.check("signal", process="init", signal=9, all=True)
    w = agent.check("wait", process="init")
    assert w["exit_code"] == 137
    assert au.read_all(out) == b"" and au.read_all(err) == b""


def test_no_pivot(agent, bundle):
    cfg = set_args(bundle, ["sh", "-c", "ls /; cat /proc/self/mountinfo | head -1"])
    r = agent.call("create", process="init", bundle=str(bundle), config=json.dumps(cfg), no_pivot=True,
                   stdio={"stdout": True, "stderr": True})
    assert r["ok"], r
    out, err = agent.stream("init", "stdout"), agent.stream("init", "stderr")
    agent.check("start", process="init")
    o = au.read_all(out).decode()
    assert "bin" in o.split() and "proc" in o.split(), o
    assert au.read_all(err) == b""
    assert agent.check("wait", process="init")["exit_code"] == 0


def test_orphans_reaped_and_output_kept(agent, bundle):
    # Without a pid namespace the orphans are re-parented to the agent (a subreaper, like PID 1).
    cfg = no_pidns(bundle, ["sh", "-c", "(sleep 0.3; echo late) & echo early"])
    r = agent.create(bundle, config=cfg)
    assert r["ok"], r
    out, err = agent.stream("init", "stdout"), agent.stream("init", "stderr")
    agent.check("start", process="init")
    # the exit waits for the orphan holding stdout: no trailing output is lost
    assert au.read_all(out) == b"early\nlate\n"
    assert agent.check("wait", process="init")["exit_code"] == 0
    assert agent.wait_exit() == 0


def test_mount_op(agent, tmp_path):
    target = tmp_path / "m" / "nt"
    r = agent.call("mount", source="runmtest", target=str(target), fstype="tmpfs", options="size=1m")
    assert r["ok"], r
    try:
        assert any(l.split()[1] == str(target) and l.split()[0] == "runmtest"
                   for l in open("/proc/self/mounts"))
    finally:
        subprocess.run(["umount", str(target)], check=True)
    r = agent.call("mount", source="x", target=str(tmp_path / "y"), fstype="nosuchfs")
    assert not r["ok"] and "No such device" in r["error"]
    assert not agent.call("mount", source="x", target="relative", fstype="tmpfs")["ok"]


def test_mount_destinations_cannot_escape_the_rootfs(agent, bundle):
    # Hostile rootfs: symlinks that would lead mount points out of it when followed on the host.
    os.symlink("/", bundle / "rootfs" / "evil")
    os.symlink("../../../../../../tmp", bundle / "rootfs" / "evil2")
    cfg = set_args(bundle, ["sh", "-c", "grep -o ' [/a-z]*runm-escape-[a-z]* ' /proc/self/mountinfo"])
    cfg["mounts"] += [{"destination": "/evil/runm-escape-a", "type": "tmpfs", "source": "tmpfs"},
                      {"destination": "/evil2/runm-escape-b", "type": "tmpfs", "source": "tmpfs"}]
    try:
        o, e, w = run(agent, bundle, None, cfg=cfg, expect_exit=0)
        # both landed inside the rootfs (/evil → / and /evil2 → /tmp *of the container*)
        assert o.split() == [b"/runm-escape-a", b"/tmp/runm-escape-b"], (o, e)
        assert not os.path.exists("/runm-escape-a") and not os.path.exists("/tmp/runm-escape-b")
        assert (bundle / "rootfs" / "runm-escape-a").is_dir()
        assert (bundle / "rootfs" / "tmp" / "runm-escape-b").is_dir()
    finally:
        for p in ("/runm-escape-a", "/tmp/runm-escape-b"):
            if os.path.isdir(p):
                os.rmdir(p)


def test_uncollected_exec_status_does_not_keep_the_vm(agent, bundle):
    r = agent.create(bundle, config=set_args(bundle, ["sh", "-c", "read x"]), stdio=("stdin", "stdout", "stderr"))
    assert r["ok"], r
    sin, out, err = (agent.stream("init", s) for s in ("stdin", "stdout", "stderr"))
    agent.check("start", process="init")
    assert agent.call("exec", process="e", spec=json.dumps({"args": ["sleep", "100"]}))["ok"]
    sin.close()  # init exits (read fails: 1); the exec'd sleep is killed; nobody waits for it
    assert agent.check("wait", process="init")["exit_code"] == 1
    t0 = time.monotonic()
    assert agent.wait_exit(timeout=30) == 0
    assert 8 < time.monotonic() - t0 < 20


def test_host_library_tty_and_exec_via_agentctl(build_dir, bundle, tmp_path):
    sock = tmp_path / "a.sock"
    ag = subprocess.Popen([build_dir / "runm-agent", "--listen-unix", sock])
    try:
        cfg = set_args(bundle, ["sh", "-c", "stty size; read l; echo got:$l; exit 4"], terminal=True)
        (bundle / "config.json").write_text(json.dumps(cfg))
        run_ = subprocess.Popen([build_dir / "runm-agentctl", "--uds", sock, "run", "--stdin",
                                 "--resize", "33x77", bundle],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        buf = b""
        while b"33 77" not in buf:  # --resize lands before the shell asks (held until start)
            c = os.read(run_.stdout.fileno(), 4096)
            assert c, (buf, run_.stderr.read())
            buf += c
        # exec through a second host-library client while the first relays
        spec = tmp_path / "p.json"
        spec.write_text(json.dumps({"args": ["sh", "-c", "echo exec-out; echo exec-err >&2; exit 9"]}))
        e = subprocess.run([build_dir / "runm-agentctl", "--uds", sock, "exec", "x1", spec],
                           capture_output=True, timeout=30)
        assert (e.returncode, e.stdout, e.stderr) == (9, b"exec-out\n", b"exec-err\n")
        run_.stdin.write(b"abc\n")
        run_.stdin.close()
        rest = run_.stdout.read()
        assert run_.wait(timeout=30) == 4
        assert b"got:abc" in buf + rest
        assert ag.wait(timeout=20) == 0
    finally:
        if ag.poll() is None:
            ag.kill()
            ag.wait()


def test_many_concurrent_execs_lose_nothing(agent, bundle):
    r = agent.create(bundle, config=set_args(bundle, ["sh", "-c", "read x"]), stdio=("stdin", "stdout", "stderr"))
    assert r["ok"], r
    sin, out, err = (agent.stream("init", s) for s in ("stdin", "stdout", "stderr"))
    agent.check("start", process="init")
    n = 12
    streams = {}
    for i in range(n):
        spec = {"args": ["sh", "-c", f"seq {i} 7 70000; seq 1 {i} >&2; exit {i}"]}
        assert agent.call("exec", process=f"p{i}", spec=json.dumps(spec),
                          stdio={"stdout": True, "stderr": True})["ok"]
        streams[i] = (agent.stream(f"p{i}", "stdout"), agent.stream(f"p{i}", "stderr"))
    # drain all of them together, as a host would
    bufs = {s: b"" for pair in streams.values() for s in pair}
    open_ = set(bufs)
    while open_:
        ready, _, _ = select.select(list(open_), [], [], 30)
        assert ready, "stalled"
        for s in ready:
            c = s.recv(65536)
            if c:
                bufs[s] += c
            else:
                open_.discard(s)
    for i, (o, e) in streams.items():
        assert bufs[o] == "".join(f"{k}\n" for k in range(i, 70001, 7)).encode()
        assert bufs[e] == "".join(f"{k}\n" for k in range(1, i + 1)).encode()
        assert agent.check("wait", process=f"p{i}")["exit_code"] == i
    sin.close()
    assert agent.check("wait", process="init")["exit_code"] == 1
    assert agent.wait_exit() == 0


def test_spec_devices_and_umask(agent, bundle):
    cfg = set_args(bundle, ["sh", "-c", "ls -ln /dev/mynull /dev/sub/fifo | cut -c1-10; stat -c '%t,%T %u:%g' /dev/mynull; "
                                        "echo x > /dev/mynull && echo wrote; umask; touch /tmp/f; stat -c %a /tmp/f"])
    cfg["root"]["readonly"] = False
    cfg["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})
    cfg["process"]["user"]["umask"] = 0o027
    cfg["linux"]["devices"] = [
        {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620, "uid": 0, "gid": 5},
        {"path": "/dev/sub/fifo", "type": "p", "fileMode": 0o600}]
    o, e, w = run(agent, bundle, None, cfg=cfg, expect_exit=0)
    assert o.decode().split("\n") == ["crw--w----", "prw-------", "1,3 0:5", "wrote", "0027", "640", ""], (o, e)


def test_no_agent_fds_leak_into_the_container(agent, bundle):
    # extra connections open in the agent while the container starts
    extra = [au.connect(agent.sock, au.CONTROL_PORT) for _ in range(3)]
    o, e, w = run(agent, bundle, ["ls", "/proc/self/fd"], expect_exit=0)
    assert o.split() == [b"0", b"1", b"2", b"3"], o  # 3: ls's own directory fd
    for s in extra:
        s.close()
