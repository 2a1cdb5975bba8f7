"""The ASan runm-vmm with its seccomp filters on (the default): it must exit in
bounded time. A sanitizer call missing from the allow-lists once made LSan's
stop-the-world clone die silently of SIGSYS at exit, and the exiting, filtered
thread then waited for it forever at 100% CPU (vmm/sandbox.c, sanitizer_calls)."""
import json
import os
import socket
import subprocess
import time

import pytest

from vmm_util import ASAN_ENV, assert_sanitizer_clean, guest, run_guest, vmm

EXIT_TIMEOUT = 20


def _cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _seccomp_mode(pid, tid):
    for line in open(f"/proc/{pid}/task/{tid}/status"):
        if line.startswith("Seccomp:"):
            return int(line.split()[1])
    return None


def _wait_bounded(p, what):
    """Wait for p to exit; a VMM still running after EXIT_TIMEOUT fails the test
    (with the CPU it burnt meanwhile: a spin shows as ~EXIT_TIMEOUT seconds)."""
    try:
        _, err = p.communicate(timeout=EXIT_TIMEOUT)
        return err
    except subprocess.TimeoutExpired:
        cpu = _cpu_seconds(p.pid)
        p.kill()
        _, err = p.communicate()
        pytest.fail(f"{what} did not exit within {EXIT_TIMEOUT} s ({cpu:.1f} s CPU); stderr:\n{err}")


def test_asan_vhost_user_rng_exits_with_its_main_thread_filtered(tmp_path):
    sock = tmp_path / "rng.sock"
    rfd, wfd = os.pipe()
    p = subprocess.Popen([str(vmm()), "vhost-user", "--socket", str(sock), "--device", "rng",
                          "--ready-fd", str(wfd)], pass_fds=[wfd], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, env=ASAN_ENV)
    os.close(wfd)
    try:
        assert os.read(rfd, 1) == b"1"
        # the case under test: the thread that exits (and runs the leak check) is filtered
        assert _seccomp_mode(p.pid, p.pid) == 2
    finally:
        os.close(rfd)
        p.terminate()
    err = _wait_bounded(p, "ASan runm-vmm vhost-user (rng, seccomp) after SIGTERM")
    assert p.returncode == 0, err
    assert "blocked system call" not in err, err
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert marker not in err, err
    assert not sock.exists()


def test_asan_vm_threads_filtered_and_exit_bounded(tmp_path):
    ctl = tmp_path / "c.sock"
    p = subprocess.Popen([str(vmm()), "--kernel", str(guest("ticker")), "--mem", "16", "--console", "off",
                          "--control", str(ctl)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, env=ASAN_ENV)
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(200):
            try:
                s.connect(str(ctl))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.05)
        f = s.makefile("rwb")
        f.write(b'{"cmd":"status"}\n')
        f.flush()
        assert json.loads(f.readline())["state"] == "running"
        modes = {}
        for tid in os.listdir(f"/proc/{p.pid}/task"):
            name = open(f"/proc/{p.pid}/task/{tid}/comm").read().strip()
            if name.startswith("runm"):
                modes[name] = _seccomp_mode(p.pid, tid)
        assert modes == {"runm-vmm": 2, "runm-vcpu0": 2, "runm-evloop": 2, "runm-control": 2}, modes
        f.write(b'{"cmd":"stop"}\n')
        f.flush()
        s.close()
    except BaseException:
        p.kill()
        p.communicate()
        raise
    err = _wait_bounded(p, "ASan runm-vmm (ticker, seccomp) after stop")
    assert p.returncode == 0, err
    assert "blocked system call" not in err, err


def test_asan_virtio_rng_mini_guest_with_seccomp():
    r = run_guest("virtio_rng", "--rng", timeout=EXIT_TIMEOUT)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "round 1: used id=1 len=64" in r.stdout, r.stdout
    assert "blocked system call" not in r.stderr
    assert_sanitizer_clean(r)
