"""runm-agent as PID 1 of our guest (QEMU TCG; the KVM here cannot run Linux): it boots to
"listening" with its PID-1 mounts done and no errors."""
import os
import subprocess
import time

import pytest


def test_agent_pid1_boots_to_listening(guest_dir):
    cmd = ["qemu-system-x86_64", "-M", "pc", "-accel", "tcg", "-m", "256", "-smp", "1",
           "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot",
           "-kernel", str(guest_dir / "vmlinux"), "-initrd", str(guest_dir / "initramfs.cpio"),
           "-append", "console=ttyS0 reboot=k panic=-1 quiet no_timer_check runm.debug"]
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.set_blocking(p.stdout.fileno(), False)
    out, seen = b"", None
    try:
        while time.monotonic() - start < 60 and p.poll() is None:
            chunk = p.stdout.read()
            if chunk:
                out += chunk
                if b"runm-agent: debug: listening" in out:
                    seen = time.monotonic() - start
                    break
            time.sleep(0.05)
    finally:
        p.kill()
        p.wait()
    text = out.decode(errors="replace")
    assert seen is not None, text[-3000:]
    # every PID-1 step worked: no error lines before "listening"
    assert "runm-agent: " not in text.replace("runm-agent: debug: listening", ""), text[-3000:]
    print(f"agent listening {seen:.2f}s after QEMU start")


def _vsock_or_skip(build_dir):
    from qemu_util import vsock_available
    if not vsock_available(build_dir):
        pytest.skip("the device library has no vsock device yet (runm-vmm vhost-user --help)")


def _runm_run(build_dir, tmp_path, bundle, name, stdin=b""):
    import os as _os
    env = dict(_os.environ, RUNM_BACKEND="qemu")
    root = tmp_path / "root"
    try:
        return subprocess.run([str(build_dir / "runm"), "--root", str(root), "run", "--bundle", str(bundle),
                               name], input=stdin, capture_output=True, env=env, timeout=120)
    finally:
        subprocess.run([str(build_dir / "runm"), "--root", str(root), "delete", "--force", name],
                       capture_output=True, timeout=30)


def test_guest_cgroups_clock_and_namespaces(build_dir, guest_dir, tmp_path):
    """In the real guest (agent = PID 1): resources become the container's cgroup v2 limits,
    the clock is the host's (hello time_ns), hostname and cgroup namespace are the spec's."""
    import json
    from conftest import make_bundle
    _vsock_or_skip(build_dir)
    b = make_bundle(tmp_path / "bundle", args=[
        "sh", "-c", "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max; "
        "date +%s; hostname; cat /proc/self/cgroup; echo $$"], extra=["--hostname", "guestbox"])
    cfg = json.loads((b / "config.json").read_text())
    cfg["linux"]["resources"].update({"pids": {"limit": 20}, "memory": {"limit": 64 << 20},
                                      "cpu": {"quota": 50000, "period": 100000}})
    cfg["linux"]["namespaces"].append({"type": "cgroup"})
    (b / "config.json").write_text(json.dumps(cfg))
    before = int(time.time())
    r = _runm_run(build_dir, tmp_path, b, "agent-guest-cg")
    after = int(time.time())
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0:3] == ["20", str(64 << 20), "50000 100000"], lines
    assert before - 1 <= int(lines[3]) <= after + 1, (before, lines[3], after)
    assert lines[4:] == ["guestbox", "0::/", "1"], lines


def test_guest_output_exact_and_exit_code(build_dir, guest_dir, tmp_path):
    """Every byte of a large stdout and of stderr arrives before the exit status (exit after EOF)."""
    from conftest import make_bundle
    _vsock_or_skip(build_dir)
    b = make_bundle(tmp_path / "bundle", args=[
        "sh", "-c", "seq 1 100000; cat; echo bye >&2; exit 42"])
    data = bytes(range(256)) * 200
    r = _runm_run(build_dir, tmp_path, b, "agent-guest-out", stdin=data)
    want = "".join(f"{i}\n" for i in range(1, 100001)).encode() + data
    assert r.returncode == 42, r.stderr
    assert r.stdout == want
    assert r.stderr == b"bye\n"


def test_guest_protocol_oom_event_stats_and_poweroff(build_dir, guest_dir, tmp_path):
    """The protocol straight to the guest's PID 1 (hybrid vsock through QEMU): mount the
    virtio-fs share, create/start, an OOM kill in the container's cgroup becomes an "oom" event,
    stats read the cgroup, and once the init's status is delivered the VM powers off by itself."""
    import json
    import agent_util as au
    from conftest import make_bundle
    from qemu_util import VmCtl, wait_dead
    _vsock_or_skip(build_dir)
    share = tmp_path / "share"
    b = make_bundle(share / "bundle", args=["sh", "-c", "read x; exit 3"])
    cfg = json.loads((b / "config.json").read_text())
    cfg["linux"]["resources"]["memory"] = {"limit": 24 << 20, "swap": 24 << 20}
    uds = tmp_path / "run" / "vsock.sock"
    vm = VmCtl(build_dir, tmp_path / "run", guest_dir / "vmlinux", guest_dir / "initramfs.cpio", "agent",
               extra=["--vsock-uds", str(uds), "--fs", f"share={share}", "--mem", "256"])
    try:
        ctl = au.connect(uds, au.CONTROL_PORT, timeout=60)
        au.send_frame(ctl, {"id": 1, "op": "hello", "version": 1, "time_ns": time.time_ns()})
        assert au.recv_frame(ctl)["ok"]
        ev = au.connect(uds, au.CONTROL_PORT)
        ctl.settimeout(60)
        ev.settimeout(60)
        au.send_frame(ev, {"id": 1, "op": "hello", "version": 1, "events": True})
        assert au.recv_frame(ev)["ok"]

        def call(i, **req):
            au.send_frame(ctl, {"id": i, **req})
            r = au.recv_frame(ctl)
            assert r["id"] == i and r["ok"], r
            return r

        call(2, op="mount", source="share", target="/run/share", fstype="virtiofs")
        call(3, op="create", process="init", bundle="/run/share/bundle", config=json.dumps(cfg),
             stdio={"stdin": True, "stdout": True, "stderr": True})
        streams = {}
        for name in ("stdin", "stdout", "stderr"):
            s = au.connect(uds, au.STREAM_PORT)
            s.settimeout(60)
            au.send_frame(s, {"process": "init", "stream": name})
            assert au.recv_frame(s)["ok"]
            streams[name] = s
        call(4, op="start", process="init")
        hog = {"args": ["sh", "-c", "head -c 200000000 /dev/zero | sort >/dev/null"], "cwd": "/"}
        call(5, op="exec", process="hog", spec=json.dumps(hog))
        call(6, op="wait", process="hog")  # answered when it died
        events = [au.recv_frame(ev), au.recv_frame(ev)]
        oom = [e for e in events if e["event"] == "oom"]
        assert oom and oom[0]["process"] == "init" and oom[0]["oom_kills"] >= 1, events
        st = call(7, op="stats")
        assert 0 < st["cgroup_memory"] <= 24 << 20 and st["cgroup_pids"] >= 1, st
        streams["stdin"].close()
        w = call(8, op="wait", process="init")
        assert w["exit_code"] == 3
        assert au.read_all(streams["stdout"]) == b"" and au.read_all(streams["stderr"]) == b""
        rc, lines, err = vm.wait(timeout=60)  # the agent powered the VM off
        assert rc == 0 and lines[-1] == {"event": "exited", "status": 0}, (rc, lines, err)
    finally:
        vm.kill()
    assert wait_dead(vm.pids, 5)
