"""Hybrid vsock under QEMU: our kernel boots under QEMU (TCG here) with virtio-vsock carried over
vhost-user to `runm-vmm vhost-user`, which runs the device library's vsock device. The host talks
to the test init through the UDS with `CONNECT <port>`, both ways, byte for byte, and a guest→host
connection reaches `<uds>_<port>`."""
import os
import socket
import threading

import pytest

from qemu_util import VmCtl, connect_port, make_test_initramfs, vsock_available, wait_dead


@pytest.fixture(scope="module")
def initrd(build_dir, tmp_path_factory):
    return make_test_initramfs(build_dir, tmp_path_factory.mktemp("initrd") / "test-init.cpio")


def test_vsock_both_ways_under_qemu(build_dir, guest_dir, initrd, tmp_path):
    if not vsock_available(build_dir):
        pytest.skip("the device library has no vsock device yet (runm-vmm vhost-user --help)")
    run = tmp_path / "run"
    run.mkdir()
    uds = run / "vsock.sock"
    # Guest → host: the VMM connects to <uds>_5678.
    lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lst.bind(f"{uds}_5678")
    # The jailed vsock server connects as the VM's uid (docs/security.md): the listener must
    # let it (a root-owned 0755 socket refuses it with EACCES).
    os.chmod(f"{uds}_5678", 0o666)
    lst.listen(1)
    got_from_guest = []

    def serve():
        c, _ = lst.accept()
        c.settimeout(20)
        got_from_guest.append(c.makefile("rb").readline())
        c.sendall(b"hello from host\n")
        c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()

    vm = VmCtl(build_dir, run, guest_dir / "vmlinux", initrd, "vsock",
               extra=["--vsock-uds", str(uds), "--cid", "7"])
    try:
        # Host → guest, twice: a short line and one spanning several packets.
        s, f = connect_port(uds, 1234, vm=vm)
        s.sendall(b"ping\n")
        assert f.readline() == b"echo:ping\n", vm.diagnostics()
        f.close()  # the guest answers, then waits for our EOF (the makefile holds the fd too)
        s.close()
        payload = bytes((i * 7 + 33) % 94 + 33 for i in range(3000)) + b"\n"
        s, f = connect_port(uds, 1234, vm=vm)
        s.sendall(payload)
        got = f.readline()
        assert got == b"echo:" + payload, f"got {len(got)} bytes: {got[:80]!r}\n{vm.diagnostics()}"
        f.close()
        s.close()
        t.join(30)
        assert got_from_guest == [b"hello from guest\n"]
        rc, lines, err = vm.wait(timeout=60)
        console = vm.console.read_text(errors="replace")
        assert rc == 0, f"{err}\n{vm.diagnostics()}"
        assert "HOST hello from host" in console
        assert "RUNM-TEST-INIT DONE 0" in console
        assert wait_dead(vm.pids, 5)
        assert not uds.exists()
    finally:
        vm.kill()
        lst.close()


def test_connect_to_a_port_without_listener_is_closed(build_dir, guest_dir, initrd, tmp_path):
    if not vsock_available(build_dir):
        pytest.skip("the device library has no vsock device yet (runm-vmm vhost-user --help)")
    run = tmp_path / "run"
    run.mkdir()
    uds = run / "vsock.sock"
    vm = VmCtl(build_dir, run, guest_dir / "vmlinux", initrd, "vsock",
               extra=["--vsock-uds", str(uds)])
    try:
        s, f = connect_port(uds, 1234, vm=vm)  # the guest is up and listening on 1234
        s2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s2.settimeout(10)
        s2.connect(str(uds))
        s2.sendall(b"CONNECT 4321\n")
        assert s2.recv(100) == b""  # RST from the guest: the VMM closes the socket
        s2.close()
        s.sendall(b"x\n")
        assert f.readline() == b"echo:x\n"
        f.close()
        s.close()
        assert vm.stop() == 128 + 15  # SIGTERM: the VM is stopped and cleaned up
        assert wait_dead(vm.pids, 5)
        assert not uds.exists()
    finally:
        vm.kill()


def test_three_vms_at_once_do_not_cross_talk(build_dir, guest_dir, initrd, tmp_path):
    """Each VM's hybrid vsock reaches its own guest: three VMs side by side, each echoing a
    payload that names it."""
    if not vsock_available(build_dir):
        pytest.skip("the device library has no vsock device yet (runm-vmm vhost-user --help)")
    vms, pids = [], []
    try:
        for i in range(3):
            run = tmp_path / f"vm{i}"
            run.mkdir()
            vms.append(VmCtl(build_dir, run, guest_dir / "vmlinux", initrd, "vsock",
                             extra=["--vsock-uds", str(run / "vsock.sock"), "--cid", str(3 + i)]))
        for i, vm in enumerate(vms):
            s, f = connect_port(vm.run_dir / "vsock.sock", 1234, vm=vm)
            s.sendall(f"I am vm{i}\n".encode())
            assert f.readline() == f"echo:I am vm{i}\n".encode()
            f.close()
            s.close()
        pids = [p for vm in vms for p in vm.pids]
        assert len(set(pids)) == 6  # qemu + vsock server each
    finally:
        for vm in vms:
            vm.kill()
    assert wait_dead(pids, 10)
