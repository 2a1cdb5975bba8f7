"""`runm-vmm vhost-user` on its own: a listening socket QEMU connects to (like any vhost-user
backend), the --fd form, readiness, exit statuses and argument errors."""
import os
import socket
import subprocess
import time

import pytest

from qemu_util import make_test_initramfs


@pytest.fixture(scope="module")
def initrd(build_dir, tmp_path_factory):
    return make_test_initramfs(build_dir, tmp_path_factory.mktemp("initrd") / "test-init.cpio")


def qemu_rng(guest_dir, initrd, chardev, console, pass_fds=()):
    return subprocess.run([
        "qemu-system-x86_64", "-M", "pc,memory-backend=mem", "-accel", "tcg", "-cpu", "max",
        "-m", "256M", "-display", "none", "-nodefaults", "-no-user-config", "-no-reboot",
        "-object", "memory-backend-memfd,id=mem,size=256M,share=on",
        "-chardev", chardev, "-device", "vhost-user-rng-pci,chardev=rng0",
        "-serial", f"file:{console}", "-kernel", str(guest_dir / "vmlinux"), "-initrd", str(initrd),
        "-append", "console=ttyS0 reboot=k panic=-1 quiet no_timer_check runm_test=rng"],
        capture_output=True, text=True, timeout=60, pass_fds=pass_fds)


def test_listening_socket_served_to_qemu(build_dir, guest_dir, initrd, tmp_path):
    sock = tmp_path / "rng.sock"
    rfd, wfd = os.pipe()
    srv = subprocess.Popen([str(build_dir / "runm-vmm"), "vhost-user", "--socket", str(sock),
                            "--device", "rng", "--ready-fd", str(wfd)], pass_fds=[wfd],
                           stderr=subprocess.PIPE, text=True)
    os.close(wfd)
    assert os.read(rfd, 1) == b"1"  # listening before it says so
    os.close(rfd)
    assert sock.is_socket()
    q = qemu_rng(guest_dir, initrd, f"socket,id=rng0,path={sock}", tmp_path / "console.log")
    assert q.returncode == 0, q.stderr
    assert "RNG " in (tmp_path / "console.log").read_text(errors="replace")
    assert srv.wait(timeout=10) == 0  # the frontend went away: clean exit
    assert not sock.exists()  # removed once the frontend connected


def test_fd_form_served_to_qemu(build_dir, guest_dir, initrd, tmp_path):
    a, b = socket.socketpair()
    srv = subprocess.Popen([str(build_dir / "runm-vmm"), "vhost-user", "--fd", str(b.fileno()),
                            "--device", "rng"], pass_fds=[b.fileno()])
    b.close()
    q = qemu_rng(guest_dir, initrd, f"socket,id=rng0,fd={a.fileno()}", tmp_path / "console.log",
                 pass_fds=[a.fileno()])
    a.close()
    assert q.returncode == 0, q.stderr
    assert "RNG " in (tmp_path / "console.log").read_text(errors="replace")
    assert srv.wait(timeout=10) == 0


def test_sigterm_removes_the_socket(build_dir, tmp_path):
    sock = tmp_path / "x.sock"
    srv = subprocess.Popen([str(build_dir / "runm-vmm"), "vhost-user", "--socket", str(sock),
                            "--device", "rng"])
    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sock.is_socket()
    srv.terminate()
    assert srv.wait(timeout=10) == 0
    assert not sock.exists()


@pytest.mark.parametrize("args,msg", [
    (["--device", "rng"], "--device rng: give its --socket first"),
    (["--socket", "S"], "--socket/--fd S has no --device"),
    (["--socket", "S", "--device", "nope"], "unknown device kind 'nope'"),
    (["--fd", "1", "--device", "rng"], "--fd 1: not a file descriptor number above 2"),
    (["--fd", "9", "--device", "rng"], "--fd 9: not an open stream socket"),
    (["--socket", "S", "--device", "vsock,cid=1"], "vsock"),
])
def test_argument_errors(build_dir, tmp_path, args, msg):
    args = [str(tmp_path / a) if a == "S" else a for a in args]
    msg = msg.replace(" S ", f" {tmp_path / 'S'} ")
    r = subprocess.run([str(build_dir / "runm-vmm"), "vhost-user"] + args, capture_output=True,
                       text=True, timeout=10)
    assert r.returncode != 0
    assert msg in r.stderr
    assert list(tmp_path.iterdir()) == []  # no socket left behind


def test_existing_path_is_refused(build_dir, tmp_path):
    p = tmp_path / "taken"
    p.write_text("x")
    r = subprocess.run([str(build_dir / "runm-vmm"), "vhost-user", "--socket", str(p), "--device",
                        "rng"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert f"socket path {p}: already exists" in r.stderr
    assert p.read_text() == "x"
