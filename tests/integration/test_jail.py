"""The jail of every VMM-side process (runtime/backend/jail.h, docs/security.md): for a running
container, QEMU and each device server run as the VM's uid, with no capability (the fs server:
exactly its file set), locked seccomp and NoNewPrivs, in their own mount/pid/ipc/uts/net
namespaces rooted in a tmpfs without the host's files, holding only the documented fds. A
hostile program started in a device server's place finds nothing to escape to. And the runc
fd-leak class (CVE-2024-21626): the container's init and exec'd processes get only 0, 1, 2."""
import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import make_bundle
from lifecycle_util import Runm, vm_skip_reason
from qemu_util import BASE_CMDLINE
from vsock_util import hybrid_connect, recv_exact

HERE = os.path.dirname(os.path.abspath(__file__))
JAIL_ID_BASE, JAIL_ID_COUNT = 1879048192, 65536
# CHOWN DAC_OVERRIDE FOWNER FSETID SETGID SETUID MKNOD SETFCAP; never DAC_READ_SEARCH (2)
FS_CAPS = sum(1 << b for b in (0, 1, 3, 4, 6, 7, 27, 31))
NS = ("mnt", "pid", "ipc", "uts", "net")


def status(pid):
    text = open(f"/proc/{pid}/status").read()
    return {k: v.strip() for k, v in (l.split(":\t", 1) for l in text.splitlines() if ":\t" in l)}


def fds(pid):
    return {int(n): os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")}


@pytest.fixture
def vm(build_dir, tmp_path, tmp_path_factory):
    why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
    if why:
        pytest.skip(why)
    r = Runm(build_dir, tmp_path / "root", "vm")
    yield r
    r.cleanup()


def test_every_vmm_process_is_jailed(vm, tmp_path):
    b = make_bundle(tmp_path / "bundle", ["sleep", "1000"])
    rc, msg = vm.create("--bundle", b, "--pid-file", tmp_path / "pid", "c1")
    assert rc == 0, msg
    assert vm("start", "c1").returncode == 0
    shim = int((tmp_path / "pid").read_text())
    state = tmp_path / "root" / "c1"
    kids = [int(k) for k in open(f"/proc/{shim}/task/{shim}/children").read().split()]
    seen = set()
    for pid in kids:
        argv = open(f"/proc/{pid}/cmdline").read().split("\0")
        kind = "qemu" if "qemu" in argv[0] else argv[argv.index("--device") + 1].split(",")[0]
        seen.add(kind)
        st = status(pid)
        uid = int(st["Uid"].split()[0])
        assert JAIL_ID_BASE <= uid < JAIL_ID_BASE + JAIL_ID_COUNT, (kind, st["Uid"])
        assert st["Gid"].split()[0] == str(uid), (kind, st["Gid"])
        assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "1", (kind, st)
        caps = {k: int(st[k], 16) for k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb")}
        if kind == "fs":
            assert caps["CapEff"] == caps["CapPrm"] == caps["CapBnd"] == FS_CAPS, (kind, caps)
            assert caps["CapInh"] == caps["CapAmb"] == 0, caps
        else:
            assert not any(caps.values()), (kind, caps)
        assert st["NSpid"].split()[1:] == ["1"], (kind, st["NSpid"])  # PID 1 of its own pid ns
        assert not os.path.exists(f"/proc/{pid}/root/etc/passwd"), kind
        # /etc holds only the loader's cache; of the build tree only the program's own file
        assert os.listdir(f"/proc/{pid}/root/etc") == ["ld.so.cache"], kind
        assert not os.path.exists(f"/proc/{pid}/root{HERE}/test_jail.py"), kind
        for ns in NS:
            assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), (kind, ns)
        # fds: stdio (/dev/null and vmm.log), sockets, event objects, guest RAM, and only the
        # files of its job: the console log (QEMU), the tap (net), the share and /proc (fs)
        allowed = re.compile(r"(socket|anon_inode):.*|/memfd:.*")
        files = {"qemu": {f"{state}/console.log"}, "net": {"/dev/net/tun"}}.get(kind, set())
        for n, t in fds(pid).items():
            if n in (0, 1):
                assert t.endswith("/null"), (kind, n, t)
            elif n == 2:
                assert t == f"{state}/vmm.log", (kind, t)
            elif kind == "fs" and (t.startswith(f"{state}/share") or t == "/proc/1/fd"):
                pass
            else:
                assert allowed.fullmatch(t) or t in files, (kind, n, t)
    assert seen >= {"qemu", "vsock", "rng", "fs"}, seen
    # the container itself (CVE-2024-21626's class): init and an exec'd process hold 0, 1, 2
    r = vm("exec", "c1", "sh", "-c", "ls /proc/self/fd /proc/1/fd")
    assert r.returncode == 0, r.stderr
    lists = {h.strip(): sorted(int(x) for x in v.split())
             for h, v in (part.split(":", 1) for part in r.stdout.strip().split("\n\n"))}
    own = lists["/proc/self/fd"]
    assert own[:3] == [0, 1, 2] and len(own) <= 4, r.stdout  # + ls's own directory fd
    assert lists["/proc/1/fd"] == [0, 1, 2], r.stdout
    assert vm("delete", "--force", "c1").returncode == 0


def test_runm_exec_leaks_no_caller_fd(vm, tmp_path):
    """The caller's fds reach neither the guest process nor the shim."""
    b = make_bundle(tmp_path / "bundle", ["sleep", "1000"])
    rc, msg = vm.create("--bundle", b, "--pid-file", tmp_path / "pid", "c1")
    assert rc == 0, msg
    assert vm("start", "c1").returncode == 0
    shim = int((tmp_path / "pid").read_text())
    secret = open(tmp_path / "secret", "w")
    os.set_inheritable(secret.fileno(), True)
    r = subprocess.run(vm.cmd("exec", "c1", "ls", "/proc/self/fd"), capture_output=True, text=True,
                       env=vm.env, timeout=vm.timeout, close_fds=False)
    assert r.returncode == 0, r.stderr
    assert sorted(int(x) for x in r.stdout.split())[:3] == [0, 1, 2] and len(r.stdout.split()) <= 4, r.stdout
    assert not any(t == str(tmp_path / "secret") for t in fds(shim).values())
    secret.close()
    assert vm("delete", "--force", "c1").returncode == 0


def test_hostile_device_server_finds_no_way_out(build_dir, guest_dir, tmp_path):
    """Arbitrary code in a device server's jail, before any seccomp filter: no host file,
    no exec, no ptrace, no mount, no uid 0, no network, no /dev/kvm, no other process."""
    probe = tmp_path / "jail_probe"
    subprocess.run(["cc", "-O1", "-o", str(probe), os.path.join(HERE, "jail_probe.c")], check=True)
    kernel, initrd = guest_dir / "vmlinux", guest_dir / "initramfs.cpio"  # QEMU never starts
    run = tmp_path / "run"
    run.mkdir()
    r = subprocess.run([str(build_dir / "runm-vmctl"), "--backend", "qemu", "--accel", "tcg",
                        "--kernel", str(kernel), "--initrd", str(initrd), "--cmdline", BASE_CMDLINE,
                        "--run-dir", str(run), "--rng", "--runm-vmm", str(probe), "--timeout", "30"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0  # the probe is no device server
    line = [l for l in (run / "vmm.log").read_text().splitlines() if l.startswith("JAIL-PROBE ")]
    assert line, (run / "vmm.log").read_text()
    got = json.loads(line[0][len("JAIL-PROBE "):])
    assert JAIL_ID_BASE <= got["uid"] < JAIL_ID_BASE + JAIL_ID_COUNT, got
    assert got["pids"].split() == ["1"], got          # it sees only itself
    assert got["open_passwd"] == "ENOENT" and got["open_work"] == "ENOENT", got
    assert got["create_in_usr"] in ("EROFS", "EACCES"), got
    assert got["execve"] == "EACCES", got             # Landlock: only its own program
    assert got["ptrace"] == "EPERM", got
    assert got["mount"] == "EPERM", got
    assert got["setuid0"] == "EPERM", got
    assert got["inet_connect"] in ("EACCES", "ENETUNREACH"), got  # Landlock TCP, empty netns
    assert got["open_kvm"] == "ENOENT", got


def _runm_vmm_jailed(build_dir, tmp_path, kernel, timeout=60):
    """runm-vmm started by the backend library (runm-vmctl: the same code the shim runs) on a
    mini-guest: /dev/kvm here runs those, not Linux. Returns (process, pid, run dir)."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("/dev/kvm is not accessible: runm-vmm cannot start a VM here")
    run = tmp_path / "run"
    (run / "share").mkdir(parents=True, exist_ok=True)
    p = subprocess.Popen([str(build_dir / "runm-vmctl"), "--backend", "runm-vmm", "--kernel", str(kernel),
                          "--vsock-uds", str(run / "v.sock"), "--fs", f"share={run / 'share'}", "--rng",
                          "--console", str(run / "console.log"), "--run-dir", str(run), "--timeout", str(timeout)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ev = json.loads(p.stdout.readline() or "{}")
    assert ev.get("event") == "started", (ev, p.stderr.read() if p.poll() is not None else "")
    return p, ev["pids"][0], run


def test_runm_vmm_is_jailed(build_dir, tmp_path):
    """runm-vmm, the in-process VMM, in the same jail as QEMU: the VM's uid, no capability but the
    fs device's file set, every runm thread filtered (the supervising main thread too), its own
    namespaces and a root without the host's files, and only its job's files open."""
    p, pid, run = _runm_vmm_jailed(build_dir, tmp_path, build_dir / "guests" / "ticker.elf")
    try:
        deadline = time.monotonic() + 30
        while "tick 1" not in (run / "console.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "tick 1" in (run / "console.log").read_text(), "the jailed VM does not run"
        st = status(pid)
        uid = int(st["Uid"].split()[0])
        assert JAIL_ID_BASE <= uid < JAIL_ID_BASE + JAIL_ID_COUNT, st["Uid"]
        assert st["Gid"].split()[0] == str(uid) and st["NoNewPrivs"] == "1", st
        caps = {k: int(st[k], 16) for k in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb")}
        # its in-process virtio-fs keeps the fs server's set, dropped by each thread after set-up
        assert caps["CapBnd"] == FS_CAPS and caps["CapInh"] == caps["CapAmb"] == 0, caps
        threads = {}
        for t in os.listdir(f"/proc/{pid}/task"):
            ts = status(f"{pid}/task/{t}")
            if ts["Name"].startswith("runm"):
                threads[ts["Name"]] = ts["Seccomp"]
        assert threads and set(threads.values()) == {"2"}, threads
        assert st["NSpid"].split()[1:] == ["1"], st["NSpid"]
        assert not os.path.exists(f"/proc/{pid}/root/etc/passwd")
        assert not os.path.exists(f"/proc/{pid}/root{HERE}/test_jail.py")
        for ns in NS:
            assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns
        allowed = re.compile(r"(socket|anon_inode):.*|/memfd:.*")
        files = {f"{run}/console.log", "/dev/kvm", "/proc/1/fd"}
        for n, t in fds(pid).items():
            if n in (0, 1):
                assert t.endswith("/null"), (n, t)
            elif n == 2:
                assert t == f"{run}/vmm.log", t
            else:
                assert allowed.fullmatch(t) or t in files or t.startswith(f"{run}/share"), (n, t)
    finally:
        p.terminate()
        p.wait(30)


def test_jailed_runm_vmm_serves_vsock_on_the_socket_bound_for_it(build_dir, tmp_path):
    """Jailed, runm-vmm cannot create its vsock socket (the socket directory is read-only in its
    root): the backend binds it and passes it (--vsock-listen-fd). Both directions work: the
    guest reaches a host listener at <uds>_5000 (one the VM's uid may connect to, as the shim's
    are), and the host reaches the guest's port 1024 through the socket bound for it."""
    run = tmp_path / "run"
    run.mkdir()
    lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lst.bind(f"{run}/v.sock_5000")
    os.chmod(f"{run}/v.sock_5000", 0o666)
    lst.listen(1)
    lst.settimeout(60)
    got = {}

    def host_5000():
        try:
            c, _ = lst.accept()
            got["ping"] = recv_exact(c, 15)
            c.sendall(b"pong-from-host")
            c.sendall(bytes(ord("a") + i % 26 for i in range(100)))
            got["eof"] = recv_exact(c, 1)
            c.close()
        except Exception as e:  # reported below
            got["error"] = repr(e)

    th = threading.Thread(target=host_5000, daemon=True)
    th.start()
    p, pid, run = _runm_vmm_jailed(build_dir, tmp_path, build_dir / "guests" / "vsock.elf")
    try:
        th.join(60)
        assert got.get("ping") == b"ping-from-guest", got
        deadline = time.monotonic() + 60
        while "listening on 1024" not in (run / "console.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "listening on 1024" in (run / "console.log").read_text(), (run / "console.log").read_text()
        assert "--vsock-listen-fd" in open(f"/proc/{pid}/cmdline").read().split("\0")
        s, ok = hybrid_connect(run / "v.sock", 1024)
        assert ok.startswith(b"OK "), ok
        s.sendall(b"hello")
        assert recv_exact(s, 10) == b"echo:hello"
        s.close()
    finally:
        p.terminate()
        p.wait(30)


def test_config_file_names_the_jail_id_range(vm, tmp_path):
    """/etc/runm/config.json (here $RUNM_CONFIG) "jail": {"id_base", "id_count"}: the VM's processes
    run as ids of that range; `runm check` says which range."""
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"jail": {"id_base": 3000000, "id_count": 100}}))
    vm.env = dict(vm.env, RUNM_CONFIG=str(cfg))
    r = vm("check")
    assert "real uids 3000000..3000099, from the config file" in r.stdout, r.stdout
    b = make_bundle(tmp_path / "bundle", ["sleep", "1000"])
    rc, msg = vm.create("--bundle", b, "--pid-file", tmp_path / "pid", "c1")
    assert rc == 0, msg
    shim = int((tmp_path / "pid").read_text())
    kids = [int(k) for k in open(f"/proc/{shim}/task/{shim}/children").read().split()]
    assert kids
    for pid in kids:
        uid = int(status(pid)["Uid"].split()[0])
        assert 3000000 <= uid < 3000100, (open(f"/proc/{pid}/cmdline").read(), uid)
    assert vm("delete", "--force", "c1").returncode == 0
