"""virtio-fs under QEMU: vhost-user-fs-pci carried to `runm-vmm vhost-user --device fs,...` (the
device library's FUSE server). The test init mounts the share, reads a host file, writes one back
and lists the directory; the host checks both directions byte for byte."""
import pytest

from qemu_util import VmCtl, make_test_initramfs, wait_dead


@pytest.fixture(scope="module")
def initrd(build_dir, tmp_path_factory):
    return make_test_initramfs(build_dir, tmp_path_factory.mktemp("initrd") / "test-init.cpio")


def test_virtiofs_share_both_ways(build_dir, guest_dir, initrd, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    (share / "hello.txt").write_bytes(b"hello from the host: \xc3\xa9 123\n")
    vm = VmCtl(build_dir, tmp_path / "run", guest_dir / "vmlinux", initrd, "fs",
               extra=["--fs", f"share={share}"])
    try:
        assert len(vm.pids) == 2  # qemu + the fs device server
        rc, lines, err = vm.wait()
        console = vm.console.read_text(errors="replace")
        assert rc == 0, f"{err}\n{console}"
        assert "FS hello from the host: \u00e9 123\n" in console
        assert "FSLIST from-guest.txt hello.txt\n" in console
        assert "RUNM-TEST-INIT DONE 0" in console
        assert (share / "from-guest.txt").read_bytes() == b"written by guest\n"
        assert wait_dead(vm.pids, 5)
        assert sorted(p.name for p in vm.run_dir.iterdir()) == ["console.log", "vmm.log"]
        assert "warning" not in (vm.run_dir / "vmm.log").read_text()
    finally:
        vm.kill()


def test_missing_share_directory_is_refused(build_dir, guest_dir, initrd, tmp_path):
    import subprocess
    r = subprocess.run([str(build_dir / "runm-vmctl"), "--backend", "qemu", "--kernel",
                        str(guest_dir / "vmlinux"), "--run-dir", str(tmp_path), "--fs",
                        f"share={tmp_path / 'nope'}"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert f"fs share share={tmp_path / 'nope'}: not a tag and a directory" in r.stderr
    assert list(tmp_path.iterdir()) == []
