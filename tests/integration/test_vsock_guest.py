"""virtio-vsock end to end: runm-vmm (ASan and release builds, seccomp on) boots the tests/guests/vsock.c
mini-guest, which drives the device through its rings; this side is the host
(hybrid vsock UDS, Firecracker-compatible)."""
import os
import socket
import threading

import pytest

from vsock_util import Vmm, hybrid_connect, recv_exact, recv_line


@pytest.fixture(params=["asan+seccomp", "release+seccomp"])
def vmm_bin(request, asan_dir, build_dir):
    """(runm-vmm, seccomp on?): the ASan and the release build, both with their
    seccomp filters (so the device's syscalls, and the sanitizer runtime's,
    must be on the allow-lists)."""
    if request.param == "asan+seccomp":
        b, seccomp = asan_dir / "runm-vmm", True
    else:
        b, seccomp = build_dir / "runm-vmm", True
    if not b.exists():
        pytest.fail(f"{b} missing: run `make all asan`")
    return b, seccomp


@pytest.fixture
def vsock_guest(build_dir):
    g = build_dir / "guests" / "vsock.elf"
    if not g.exists():
        pytest.fail(f"{g} missing: run `make guests`")
    return g


def test_vsock_guest_both_directions(vmm_bin, vsock_guest, tmp_path):
    uds = tmp_path / "v.sock"
    # guest -> host port 5000 lands here
    lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lst.bind(f"{uds}_5000")
    lst.listen(1)
    lst.settimeout(60)
    result = {}

    def host_5000():
        try:
            c, _ = lst.accept()
            result["ping"] = recv_exact(c, 15)
            c.sendall(b"pong-from-host")
            # 100 bytes: more than the guest's 64-byte window
            c.sendall(bytes(ord("a") + i % 26 for i in range(100)))
            result["eof"] = recv_exact(c, 1)  # guest shut its send side
            c.close()
        except Exception as e:  # reported by the main thread
            result["error"] = repr(e)

    t = threading.Thread(target=host_5000, daemon=True)
    t.start()
    vm = Vmm(vmm_bin[0], vsock_guest, uds, seccomp=vmm_bin[1])
    try:
        vm.wait_line("vsock ready cid=3")
        vm.wait_line("g2h: connected")
        t.join(60)
        assert "error" not in result, (result, "\n".join(vm.log))
        assert result["ping"] == b"ping-from-guest"
        assert result["eof"] == b""
        vm.wait_line("g2h: credit update sent")
        vm.wait_line("g2h: closed")
        vm.wait_line("refused: rst")
        vm.wait_line("listening on 1024")
        s, ok = hybrid_connect(uds, 1024)
        assert ok.startswith(b"OK ") and ok.endswith(b"\n"), ok
        assert int(ok[3:]) >= 1 << 30
        s.sendall(b"hello")
        assert recv_exact(s, 10) == b"echo:hello"
        s.shutdown(socket.SHUT_WR)  # -> guest sees SHUTDOWN(send), answers RST
        assert recv_exact(s, 1) == b""  # the VMM closed us after the RST
        s.close()
        # a malformed TX chain: DEVICE_NEEDS_RESET, and the device works after a reset
        vm.wait_line("malformed: needs reset")
        vm.wait_line("after reset: device works")
        assert any("shorter than its header" in line for line in vm.log), vm.log
        vm.wait_line("vsock guest done")
        assert vm.wait() == 0, "\n".join(vm.log)
    finally:
        vm.kill()
        lst.close()
    # the device removed its listening socket when the VMM exited
    assert not os.path.exists(uds)


def test_vsock_bad_connect_line_is_closed(vmm_bin, vsock_guest, tmp_path):
    """A client whose first line is not `CONNECT <port>` is closed without a reply."""
    uds = tmp_path / "v.sock"
    # keep the guest busy (connected to port 5000, waiting for data) meanwhile
    lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lst.bind(f"{uds}_5000")
    lst.listen(1)
    vm = Vmm(vmm_bin[0], vsock_guest, uds, seccomp=vmm_bin[1])
    try:
        vm.wait_line("g2h: connected")
        for line in (b"HELLO 1024\n", b"CONNECT\n", b"CONNECT 99999999999\n", b"CONNECT -1\n"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(uds))
            s.sendall(line)
            try:
                assert recv_line(s) == b""
            except ConnectionResetError:
                pass  # closed as well
            s.close()
        assert vm.proc.poll() is None, "\n".join(vm.log)
    finally:
        vm.kill()
        lst.close()


def test_vsock_uds_in_use(vmm_bin, vsock_guest, tmp_path):
    uds = tmp_path / "v.sock"
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(str(uds))
    live.listen(1)
    try:
        vm = Vmm(vmm_bin[0], vsock_guest, uds, seccomp=vmm_bin[1])
        rc = vm.wait(30)
        assert rc != 0
        assert any("in use" in line for line in vm.log), vm.log
    finally:
        live.close()
