"""runm-vmm command line, JSON config, control socket and bad input (ASan build)."""
import json
import os
import shutil
import socket
import struct
import subprocess
import time

import pytest

from vmm_util import ASAN_ENV, assert_sanitizer_clean, guest, run_guest, run_vmm, vmm


def assert_one_error(r, *words):
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("runm-vmm: "), lines[0]
    for w in words:
        assert w in lines[0], lines[0]
    assert_sanitizer_clean(r)


def test_help_and_version():
    r = run_vmm(["--help"])
    assert r.returncode == 0
    for opt in ("--kernel", "--initrd", "--cmdline", "--cpus", "--mem", "--vsock-uds", "--vsock-cid", "--fs",
                "--rng", "--console", "--control", "--config"):
        assert opt in r.stdout
    r = run_vmm(["--version"])
    assert r.returncode == 0 and r.stdout.startswith("runm-vmm version ")


def test_no_kernel_and_unknown_option():
    assert_one_error(run_vmm([]), "--kernel is required")
    assert_one_error(run_vmm(["--kernel", guest("hello"), "--bogus"]), "--bogus")
    assert_one_error(run_vmm(["--kernel", guest("hello"), "--cpus", "0"]), "--cpus 0")
    assert_one_error(run_vmm(["--kernel", guest("hello"), "--cpus", "x"]), "--cpus x")


def test_missing_kernel_leaves_no_files(tmp_path):
    log = tmp_path / "console.log"
    ctl = tmp_path / "ctl.sock"
    r = run_vmm(["--kernel", tmp_path / "nope", "--console", log, "--control", ctl])
    assert_one_error(r, "open kernel", str(tmp_path / "nope"), "No such file or directory")
    assert list(tmp_path.iterdir()) == []


def test_corrupt_kernels(tmp_path):
    junk = tmp_path / "junk"
    junk.write_bytes(os.urandom(8192))
    assert_one_error(run_vmm(["--kernel", junk]), "neither an ELF vmlinux nor a bzImage")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert_one_error(run_vmm(["--kernel", empty]), "file is empty")
    # a real ELF with its program headers pointing past the end of the file
    elf = bytearray(guest("hello").read_bytes()[:64])
    struct.pack_into("<Q", elf, 32, 1 << 40)  # e_phoff
    bad = tmp_path / "bad.elf"
    bad.write_bytes(bytes(elf))
    assert_one_error(run_vmm(["--kernel", bad]), "corrupt ELF program headers")
    # a segment larger than guest memory
    data = bytearray(guest("hello").read_bytes())
    phoff = struct.unpack_from("<Q", data, 32)[0]
    struct.pack_into("<Q", data, phoff + 40, 1 << 36)  # p_memsz of the first phdr
    big = tmp_path / "big.elf"
    big.write_bytes(bytes(data))
    assert_one_error(run_vmm(["--kernel", big]), "does not fit in guest memory")
    # bzImage signature but an old boot protocol
    bz = bytearray(0x1000)
    bz[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", bz, 0x206, 0x0200)
    old = tmp_path / "old.bz"
    old.write_bytes(bytes(bz))
    assert_one_error(run_vmm(["--kernel", old]), "boot protocol 2.0 is too old")


def test_bad_initrd(tmp_path):
    assert_one_error(run_guest("hello", "--initrd", tmp_path / "none"), "open initrd", "No such file")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert_one_error(run_guest("hello", "--initrd", empty), "initrd", "file is empty")
    assert_one_error(run_guest("hello", "--initrd", tmp_path), "initrd", "not a regular file")
    big = tmp_path / "big"
    big.write_bytes(b"\0" * (20 << 20))
    assert_one_error(run_guest("hello", "--initrd", big), "initrd", "do not fit in guest memory")


def test_cmdline_too_long():
    assert_one_error(run_guest("hello", "--cmdline", "x" * 3000), "cmdline", "longer than the kernel accepts")


def test_bad_memory_sizes():
    assert_one_error(run_vmm(["--kernel", guest("hello"), "--mem", "0"]), "--mem 0")
    assert_one_error(run_vmm(["--kernel", guest("hello"), "--mem", "2"]), "at least 4 MiB")
    assert_one_error(run_vmm(["--kernel", guest("hello"), "--mem", str(1 << 29)]), "more than the host's RAM")


def test_uds_path_too_long(tmp_path):
    long = tmp_path / ("s" * 120)
    assert_one_error(run_guest("hello", "--vsock-uds", long), "--vsock-uds", "too long")
    assert_one_error(run_guest("hello", "--control", long), "--control", "too long")
    assert list(tmp_path.iterdir()) == []


def test_socket_paths_in_use(tmp_path):
    busy = tmp_path / "busy.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(busy))
    srv.listen(1)
    try:
        vs = tmp_path / "v.sock"
        r = run_guest("hello", "--vsock-uds", vs, "--control", busy)
        assert_one_error(r, "control socket", "in use")
        assert not vs.exists(), "vsock socket left behind after a failed start"
        assert busy.exists()
        assert_one_error(run_guest("hello", "--vsock-uds", busy), "vsock", "in use")
        assert busy.exists()
    finally:
        srv.close()


def test_no_kvm_device(tmp_path):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) to hide /dev/kvm in a mount namespace")
    cmd = ["unshare", "-m", "--", "sh", "-c",
           'mount -t tmpfs none /dev && exec "$0" --kernel "$1" --mem 16', str(vmm()), str(guest("hello"))]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=ASAN_ENV)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip() == "runm-vmm: open /dev/kvm: No such file or directory"


def test_kvm_permission_denied(tmp_path):
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv(1) to drop to an unprivileged user")
    k = tmp_path / "hello.elf"
    shutil.copy(guest("hello"), k)
    os.chmod(tmp_path, 0o755)
    os.chmod(k, 0o644)
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(vmm()), "--kernel", str(k)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=ASAN_ENV)
    if os.access("/dev/kvm", os.R_OK) and r.returncode == 0:
        pytest.skip("/dev/kvm is world-accessible here")
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip() == "runm-vmm: open /dev/kvm: Permission denied"


def test_json_config(tmp_path):
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps({"kernel": str(guest("bootparams")), "mem": 24, "cpus": 1,
                               "cmdline": "console=ttyS0 from.json=1", "rng": True}))
    r = run_vmm(["--config", cfg])
    assert r.returncode == 0, r.stderr
    assert "cmdline=console=ttyS0 from.json=1 virtio_mmio.device=4K@0xd0000000:5" in r.stdout
    assert "e820 0x100000 0x1700000 1" in r.stdout  # 24 MiB
    # flags after --config override it
    r = run_vmm(["--config", cfg, "--cmdline", "override"])
    assert "cmdline=override virtio_mmio.device" in r.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{\"kernel\": ")
    assert_one_error(run_vmm(["--config", bad]), "config", "invalid JSON")
    unk = tmp_path / "unk.json"
    unk.write_text(json.dumps({"kernel": "x", "colour": "blue"}))
    assert_one_error(run_vmm(["--config", unk]), "--colour", "unknown option")


def test_console_to_file_and_off(tmp_path):
    log = tmp_path / "console.log"
    r = run_guest("hello", "--console", log)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert "hello from runm mini-guest" in log.read_text()
    r = run_guest("hello", "--console", "off")
    assert r.returncode == 0 and r.stdout == ""


class Control:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(100):
            try:
                self.s.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.05)
        self.f = self.s.makefile("rwb")

    def call(self, req):
        self.f.write((req if isinstance(req, str) else json.dumps(req)).encode() + b"\n")
        self.f.flush()
        return json.loads(self.f.readline())


def _read_ticks(path):
    return path.read_text().count("tick ")


def _wait_ticks(path, n, timeout=20):
    """Wait until the guest printed at least n ticks (the host may be busy)."""
    end = time.time() + timeout
    while _read_ticks(path) < n and time.time() < end:
        time.sleep(0.05)
    return _read_ticks(path)


def test_control_socket_pause_resume_status_stop(tmp_path):
    ctl = tmp_path / "ctl.sock"
    log = tmp_path / "console.log"
    p = subprocess.Popen([str(vmm()), "--kernel", str(guest("ticker")), "--mem", "16", "--cpus", "2",
                          "--console", str(log), "--control", str(ctl)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ASAN_ENV)
    try:
        c = Control(ctl)
        st = c.call({"cmd": "status"})
        assert st["ok"] and st["state"] == "running" and st["vcpus"] == 2 and st["memory_mib"] == 16
        assert isinstance(st["uptime_ms"], int)
        _wait_ticks(log, 1)
        assert c.call({"cmd": "pause"}) == {"ok": True, "state": "paused"}
        n1 = _read_ticks(log)
        time.sleep(0.5)
        n2 = _read_ticks(log)
        assert n1 == n2, "guest kept running while paused"
        assert c.call({"cmd": "status"})["state"] == "paused"
        assert c.call({"cmd": "resume"}) == {"ok": True, "state": "running"}
        assert _wait_ticks(log, n2 + 1) > n2, "guest did not resume"
        bad = c.call("not json")
        assert bad["ok"] is False and "invalid request" in bad["error"]
        unk = c.call({"cmd": "reboot"})
        assert unk["ok"] is False and "unknown cmd" in unk["error"]
        assert c.call({"cmd": "stop"})["ok"] is True
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err.decode()
    assert not ctl.exists(), "control socket left behind"
    assert b"AddressSanitizer" not in err and b"LeakSanitizer" not in err


def test_sigterm_stops_vm_and_cleans_up(tmp_path):
    ctl = tmp_path / "ctl.sock"
    p = subprocess.Popen([str(vmm()), "--kernel", str(guest("ticker")), "--mem", "16", "--console", "off",
                          "--control", str(ctl)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ASAN_ENV)
    Control(ctl).call({"cmd": "status"})
    p.terminate()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 128 + 15
    assert b"received SIGTERM" in err
    assert not ctl.exists()


def test_devices_declared_and_sockets_removed(tmp_path):
    vs = tmp_path / "v.sock"
    share = tmp_path / "share"
    share.mkdir()
    r = run_vmm(["--kernel", guest("bootparams"), "--mem", "16", "--vsock-uds", vs, "--vsock-cid", "5",
                 "--fs", f"rootfs={share}", "--rng", "--cmdline", "x"])
    assert r.returncode == 0, r.stderr
    assert ("cmdline=x virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6 "
            "virtio_mmio.device=4K@0xd0002000:7") in r.stdout
    assert not vs.exists(), "vsock socket left behind after exit"
    assert_sanitizer_clean(r)


def test_vsock_host_connect_without_guest_listener(tmp_path):
    """Host->guest CONNECT with no guest driver: the VMM closes the socket and stays up
    (exercises the event-loop thread's seccomp allowlist with the vsock device)."""
    vs = tmp_path / "v.sock"
    ctl = tmp_path / "c.sock"
    p = subprocess.Popen([str(vmm()), "--kernel", str(guest("ticker")), "--mem", "16", "--console", "off",
                          "--vsock-uds", str(vs), "--control", str(ctl)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ASAN_ENV)
    try:
        c = Control(ctl)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(vs))
        s.settimeout(10)
        try:
            # No driver: the VMM may close the socket before the line is even written.
            s.sendall(b"CONNECT 1024\n")
            data = s.recv(100)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        assert not data.startswith(b"OK"), data
        assert c.call({"cmd": "status"})["state"] == "running"
        c.call({"cmd": "stop"})
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err.decode()
    assert b"seccomp" not in err
    assert not vs.exists() and not ctl.exists()


def test_hugepages_unavailable_is_one_error():
    try:
        if int(open("/proc/sys/vm/nr_hugepages").read()) > 0:
            pytest.skip("hugepages are reserved on this host")
    except OSError:
        pass
    assert_one_error(run_guest("hello", "--hugepages"), "mmap 16 MiB of guest memory (hugepages)")


def _thread_status(pid):
    out = []
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            txt = open(f"/proc/{pid}/task/{t}/status").read()
        except FileNotFoundError:
            continue
        out.append(dict(l.split(":\t", 1) for l in txt.splitlines() if ":\t" in l))
    return out


@pytest.mark.parametrize("no_seccomp", [False, True])
def test_sandbox_caps_and_per_thread_seccomp(tmp_path, no_seccomp):
    ctl = tmp_path / "c.sock"
    args = [str(vmm(asan=False)), "--kernel", str(guest("ticker")), "--mem", "16", "--cpus", "2",
            "--console", "off", "--control", str(ctl)] + (["--no-seccomp"] if no_seccomp else [])
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        c = Control(ctl)
        assert c.call({"cmd": "status"})["state"] == "running"
        # our own threads (KVM adds a kernel worker to the thread group)
        threads = [t for t in _thread_status(p.pid) if t["Name"].startswith("runm")]
        assert sorted(t["Name"] for t in threads) == [
            "runm-control", "runm-evloop", "runm-vcpu0", "runm-vcpu1", "runm-vmm"]
        filtered = [t["Name"] for t in threads if t.get("Seccomp", "").strip() == "2"]
        caps = {t["CapEff"].strip() for t in threads}
        if no_seccomp:
            assert filtered == []
            assert caps != {"0000000000000000"}
        else:
            # 2 vCPUs + event loop + control thread + the supervising main thread: none unfiltered
            assert sorted(filtered) == ["runm-control", "runm-evloop", "runm-vcpu0", "runm-vcpu1", "runm-vmm"]
            assert caps == {"0000000000000000"}
            assert {t["NoNewPrivs"].strip() for t in threads} == {"1"}
        c.call({"cmd": "stop"})
        p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0


def _cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_full_nonblocking_console_stalls_guest_without_spinning(tmp_path):
    """A console pipe the reader does not drain (O_NONBLOCK, as engines may hand
    us) back-pressures the guest: no byte is lost and the VMM waits, not spins."""
    import fcntl
    ctl = tmp_path / "c.sock"
    r, w = os.pipe()
    fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
    fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: fill it quickly
    p = subprocess.Popen([str(vmm(asan=False)), "--kernel", str(guest("ticker")), "--mem", "16",
                          "--cmdline", "ticker.fast", "--control", str(ctl)],
                         stdin=subprocess.DEVNULL, stdout=w, stderr=subprocess.PIPE)
    os.close(w)
    try:
        c = Control(ctl)
        time.sleep(1.0)  # the 4 KiB pipe fills up
        cpu0, t0 = _cpu_seconds(p.pid), time.time()
        time.sleep(1.5)
        cpu = _cpu_seconds(p.pid) - cpu0
        wall = time.time() - t0
        assert cpu < 0.5 * wall, f"VMM used {cpu:.2f}s CPU in {wall:.2f}s with a full console"
        data = b""
        fcntl.fcntl(r, fcntl.F_SETFL, fcntl.fcntl(r, fcntl.F_GETFL) | os.O_NONBLOCK)
        end = time.time() + 3
        while time.time() < end:
            try:
                chunk = os.read(r, 1 << 16)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            data += chunk
        c.call({"cmd": "stop"})
        p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(r)
    assert p.returncode == 0
    ticks = [int(l.split()[1]) for l in data.decode().replace("\r", "").splitlines()[:-1] if l.startswith("tick ")]
    assert len(ticks) > 400
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), "console bytes were lost"
