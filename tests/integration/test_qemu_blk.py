"""virtio-blk from the device library served to QEMU (TCG) as vhost-user-blk-pci by
`runm-vmm vhost-user --device blk,fd=N` (runtime/backend/backend_qemu.c opens the image and passes
the fd): our Linux guest writes a pattern to /dev/vda and the host checks the image; a read-only
drive refuses writes; kill -9 of the device server during writes leaves the image intact up to what
the guest had flushed."""
import hashlib
import os
import signal
import time

import pytest

from qemu_util import VmCtl, make_test_initramfs, wait_dead, wait_for_text

MIB = 1 << 20
BLK64K = 64 << 10


@pytest.fixture(scope="module")
def initrd(build_dir, tmp_path_factory):
    return make_test_initramfs(build_dir, tmp_path_factory.mktemp("initrd") / "test-init.cpio")


@pytest.fixture(scope="module")
def kernel(guest_dir):
    return guest_dir / "vmlinux"


def pattern(off, length):
    return bytes(((off + i) * 31 + 7) & 0xff for i in range(length))


def image(path, size, fill=b"\0"):
    path.write_bytes(fill * size)
    return path


def console_lines(vm, prefix):
    return [l for l in vm.console.read_text(errors="replace").splitlines() if l.startswith(prefix)]


def test_guest_writes_pattern_host_checks_sha256(build_dir, kernel, initrd, tmp_path):
    img = image(tmp_path / "disk.img", 4 * MIB, b"\x5a")
    vm = VmCtl(build_dir, tmp_path / "run", kernel, initrd, "blk",
               extra=["--drive", f"path={img},id=runm-serial-01"])
    assert len(vm.pids) == 2  # qemu + the blk device server
    rc, lines, err = vm.wait(timeout=90)
    console = vm.console.read_text(errors="replace")
    assert rc == 0, f"{err}\n{vm.diagnostics()}"
    assert "RUNM-TEST-INIT DONE 0" in console, vm.diagnostics()
    assert f"BLK SIZE {4 * MIB}" in console
    assert "BLK SERIAL runm-serial-01" in console
    assert "BLK VERIFY ok" in console
    assert "BLK ZEROOUT ok" in console and "BLK DISCARD ok" in console, console
    data = img.read_bytes()
    want = pattern(0, MIB) + b"\0" * BLK64K + b"\0" * BLK64K + b"\x5a" * (4 * MIB - MIB - 2 * BLK64K)
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(want).hexdigest()
    assert wait_dead(vm.pids, 5)
    assert sorted(p.name for p in vm.run_dir.iterdir()) == ["console.log", "vmm.log"]


def test_read_only_drive_refuses_writes(build_dir, kernel, initrd, tmp_path):
    img = image(tmp_path / "ro.img", MIB, b"\x11")
    os.chmod(img, 0o444)  # opened O_RDONLY by the backend: no write access needed
    before = hashlib.sha256(img.read_bytes()).hexdigest()
    vm = VmCtl(build_dir, tmp_path / "run", kernel, initrd, "blkro", extra=["--drive", f"path={img},ro=on"])
    rc, lines, err = vm.wait(timeout=90)
    console = vm.console.read_text(errors="replace")
    assert rc == 0, f"{err}\n{vm.diagnostics()}"
    assert "BLKRO SYSFS-RO 1" in console, console  # VIRTIO_BLK_F_RO reached the guest
    assert "BLKRO WRITE EPERM" in console or "BLKRO WRITE EROFS" in console, console
    assert "BLKRO READ 1111111111111111" in console, console
    assert hashlib.sha256(img.read_bytes()).hexdigest() == before


def test_kill_device_server_during_writes_keeps_flushed_data(build_dir, kernel, initrd, tmp_path):
    img = image(tmp_path / "kill.img", 8 * MIB)
    vm = VmCtl(build_dir, tmp_path / "run", kernel, initrd, "blkkill", extra=["--drive", f"path={img}"])
    try:
        assert wait_for_text(vm.console, "BLKKILL FLUSHED 4", timeout=60, proc=vm.proc), vm.diagnostics()
        server = vm.pids[1]
        os.kill(server, signal.SIGKILL)
        rc, lines, err = vm.wait(timeout=30)
        # The VM is over (a device server died): runm-vmctl reports a failure, nothing survives.
        assert rc != 0
        assert wait_dead(vm.pids, 10)
    finally:
        vm.kill()
    flushed = [int(l.split()[2]) for l in console_lines(vm, "BLKKILL FLUSHED ")]
    assert flushed and flushed[-1] >= 4
    n = flushed[-1]
    data = img.read_bytes()
    assert len(data) == 8 * MIB  # the image keeps its size
    # Everything the guest saw flushed is in the image, byte for byte.
    assert data[: n * BLK64K] == pattern(0, n * BLK64K)
