"""Foundation: the guest kernel and initramfs we build boot, reproducibly, under QEMU TCG."""
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

from conftest import ROOT

MKINITRAMFS = ROOT / "rootfs-builder" / "mkinitramfs.py"
BUILD_KERNEL = ROOT / "rootfs-builder" / "build-kernel.sh"
MARKER = "RUNM-GUEST-MARKER"

TEST_INIT = f"""#!/bin/sh
/bin/busybox mount -t proc proc /proc
echo {MARKER}
/bin/busybox uname -a
/bin/busybox reboot -f
"""


def mkinitramfs(out, init, *extra):
    subprocess.run([sys.executable, str(MKINITRAMFS), "--init", str(init), "-o", str(out), *extra],
                   check=True)
    return out


@pytest.fixture
def test_initramfs(tmp_path):
    init = tmp_path / "init"
    init.write_text(TEST_INIT)
    init.chmod(0o755)
    return mkinitramfs(tmp_path / "test.cpio", init, "--file", "bin/busybox=/bin/busybox",
                       "--symlink", "bin/sh=busybox")


def qemu_boot(kernel, initrd, timeout):
    """Boot under TCG; return (seconds until the marker or None, full console output)."""
    cmd = ["qemu-system-x86_64", "-M", "pc", "-accel", "tcg", "-m", "256", "-smp", "1",
           "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot",
           "-kernel", str(kernel), "-initrd", str(initrd),
           "-append", "console=ttyS0 reboot=k panic=-1 quiet no_timer_check"]
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = b""
    seen = None
    os.set_blocking(p.stdout.fileno(), False)
    try:
        while time.monotonic() - start < timeout:
            chunk = p.stdout.read()
            if chunk:
                out += chunk
                if seen is None and MARKER.encode() in out:
                    seen = time.monotonic() - start
            if p.poll() is not None:
                out += p.stdout.read() or b""
                break
            time.sleep(0.02)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
    return seen, out.decode(errors="replace")


@pytest.mark.parametrize("image", ["vmlinux", "bzImage"])
def test_kernel_boots_to_init_under_tcg(guest_dir, test_initramfs, image):
    seen, out = qemu_boot(guest_dir / image, test_initramfs, timeout=10)
    assert seen is not None, f"no marker within 10 s; console:\n{out[-3000:]}"
    assert "Linux runm 6.1" in out and "-runm" in out, out[-2000:]
    print(f"{image}: marker after {seen:.2f}s")


def test_vmlinux_has_pvh_note(guest_dir):
    notes = subprocess.run(["readelf", "-n", str(guest_dir / "vmlinux")], check=True,
                           capture_output=True, text=True).stdout
    # XEN_ELFNOTE_PHYS32_ENTRY (type 0x12) is what PVH loaders look for.
    assert "Xen" in notes and "0x00000012" in notes, notes


def test_kernel_config_has_what_runm_needs(guest_dir):
    config = (guest_dir / "config").read_text().splitlines()
    for opt in ("CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y", "CONFIG_VIRTIO_VSOCKETS=y",
                "CONFIG_VIRTIO_FS=y", "CONFIG_OVERLAY_FS=y", "CONFIG_SECCOMP_FILTER=y",
                "CONFIG_PVH=y", "CONFIG_X86_MPPARSE=y", "CONFIG_CGROUPS=y"):
        assert opt in config
    assert "# CONFIG_MODULES is not set" in config


def test_initramfs_is_reproducible_and_has_init(tmp_path, build_dir):
    agent = build_dir / "runm-agent"
    a = mkinitramfs(tmp_path / "a.cpio", agent)
    time.sleep(1.1)  # a different mtime on the inputs must not matter
    copy = tmp_path / "runm-agent"  # a fresh copy: touching build/ would make the tree stale
    shutil.copy(agent, copy)
    b = mkinitramfs(tmp_path / "b.cpio", copy)
    assert a.read_bytes() == b.read_bytes()
    listing = subprocess.run(["cpio", "-itv"], input=a.read_bytes(), capture_output=True,
                             check=True).stdout.decode()
    names = {line.split()[-1] for line in listing.splitlines()}
    assert {"init", "dev/console", "dev/null", "proc", "sys", "tmp"} <= names, listing
    assert (build_dir / "guest" / "initramfs.cpio").read_bytes() == a.read_bytes(), \
        "build/guest/initramfs.cpio differs from a fresh build of the same agent"


def test_initramfs_rejects_missing_input(tmp_path):
    r = subprocess.run([sys.executable, str(MKINITRAMFS), "--init", str(tmp_path / "nope"),
                        "-o", str(tmp_path / "x.cpio")], capture_output=True, text=True)
    assert r.returncode != 0
    assert "nope" in r.stderr and "No such file" in r.stderr
    assert not list(tmp_path.iterdir())


def kernel_cache_entries(cache):
    d = cache / "kernel"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


@pytest.mark.parametrize("fragment,expect", [
    ("CONFIG_VIRTIO_MMIO=y\nthis is not a config line\n", "not a config line"),
    ("CONFIG_VIRTIO_MMIO=y\nCONFIG_RUNM_NO_SUCH_OPTION=y\n", "CONFIG_RUNM_NO_SUCH_OPTION"),
    ("CONFIG_NET=y\nCONFIG_VIRTIO_VSOCKETS=y\n", "CONFIG_VIRTIO_VSOCKETS"),  # unmet: no VIRTIO
])
def test_kernel_build_rejects_bad_fragment(tmp_path, fragment, expect):
    cache = pathlib.Path(os.environ.get("RUNM_CACHE", pathlib.Path.home() / ".cache" / "runm"))
    before = kernel_cache_entries(cache)
    frag = tmp_path / "bad.config"
    frag.write_text(fragment)
    env = dict(os.environ, RUNM_KERNEL_FRAGMENT=str(frag))
    r = subprocess.run(["bash", str(BUILD_KERNEL), str(tmp_path / "out")], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode != 0
    assert expect in r.stderr, r.stderr
    after = kernel_cache_entries(cache)
    # Only the shared source tree may have appeared (if this ran first): no entry, no temp dir.
    new = [n for n in after if n not in before and not n.startswith("src-") and n != ".lock"]
    assert new == [], f"left behind in the cache: {new}"
    assert not (tmp_path / "out").exists()


def test_kernel_build_is_cached(tmp_path):
    """The second build is a copy from the cache (the first ran in `make guest`)."""
    start = time.monotonic()
    r = subprocess.run(["bash", str(BUILD_KERNEL), str(tmp_path / "out")], capture_output=True,
                       text=True, timeout=600)
    took = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    assert "cached" in r.stderr
    assert (tmp_path / "out" / "vmlinux").stat().st_size > 1_000_000
    assert took < 30, f"cached kernel build took {took:.1f}s"
    shutil.rmtree(tmp_path / "out")
