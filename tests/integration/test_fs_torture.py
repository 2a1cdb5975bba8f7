"""virtio-fs torture: the same busybox sh sequence run directly on the host and
through the FUSE server must print the same thing.

The server is exercised through a real host FUSE mount (runm-fusemount:
/dev/fuse driven by the same dispatch code the guest device uses) for each
cache mode, and inside a VM (QEMU + `runm-vmm vhost-user` serving the device)."""
import os
import signal
import time
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

from fs_util import HERE, FuseMount, build_helper, run_torture

ROOT = HERE.parents[1]


@pytest.fixture(scope="module")
def helper(tmp_path_factory):
    if not shutil.which("cc"):
        pytest.skip("no C compiler to build the torture helper")
    return build_helper(tmp_path_factory.mktemp("fs-helper"))


@pytest.fixture(scope="module")
def fusemount(build_dir):
    b = build_dir / "runm-fusemount"
    if not b.exists():
        pytest.fail(f"{b} missing: run `make` first")
    if os.geteuid() != 0:
        pytest.skip("mounting FUSE needs root")
    return b


@pytest.fixture(scope="module")
def host_output(helper, tmp_path_factory):
    d = tmp_path_factory.mktemp("fs-host")
    out, _ = run_torture(d, helper)
    return out


@pytest.mark.parametrize("cache", ["auto", "none", "always"])
def test_torture_through_host_fuse(cache, fusemount, helper, host_output, tmp_path):
    src, mnt = tmp_path / "src", tmp_path / "mnt"
    src.mkdir()
    mnt.mkdir()
    with FuseMount(fusemount, src, mnt, cache) as m:
        out, secs = run_torture(mnt, helper)
    print(f"torture through runm-fusemount (cache={cache}): {secs:.1f}s")
    if out != host_output:
        import difflib
        diff = "".join(difflib.unified_diff(host_output.splitlines(True), out.splitlines(True),
                                            "host", "fuse"))
        pytest.fail("output differs from the host run:\n" + diff)
    # Sanity: the sequence really ran and reached the backing directory.
    assert "== final tree" in out
    assert (src / "big").stat().st_size == 65536 * 40
    assert os.readlink(src / "sout") == "/etc/passwd"
    assert (src / "cw").stat().st_size == 400 * 4096
    assert "not implemented" not in m.stderr or "opcode" in m.stderr


def test_server_exits_on_umount(fusemount, tmp_path):
    src, mnt = tmp_path / "src", tmp_path / "mnt"
    src.mkdir()
    mnt.mkdir()
    p = subprocess.Popen([str(fusemount), str(src), str(mnt)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    (mnt / "f").write_text("x")
    subprocess.run(["umount", str(mnt)], check=True)
    assert p.wait(timeout=10) == 0
    assert (src / "f").read_text() == "x"


def test_bad_arguments(fusemount, tmp_path):
    r = subprocess.run([str(fusemount), str(tmp_path / "missing"), str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "runm-fusemount: open shared directory" in r.stderr and "No such file" in r.stderr
    r = subprocess.run([str(fusemount), "--cache", "bogus", "a", "b"], capture_output=True, text=True)
    assert r.returncode == 2 and "--cache bogus" in r.stderr


def test_torture_in_guest(build_dir, guest_dir, helper, host_output, tmp_path):
    """The same script inside a VM: QEMU (TCG here) boots our kernel, the guest
    mounts the virtio-fs tag served by `runm-vmm vhost-user` (this device
    library, this server) and runs the script in it."""
    vmctl = build_dir / "runm-vmctl"
    if not vmctl.exists():
        pytest.skip(f"guest variant: {vmctl} not built")
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("guest variant: qemu-system-x86_64 not installed")
    initrd = tmp_path / "init.cpio"
    subprocess.run([sys.executable, str(ROOT / "rootfs-builder" / "mkinitramfs.py"),
                    "--init", str(HERE / "test_fs_guest_init.sh"), "-o", str(initrd),
                    "--file", "bin/busybox=/bin/busybox:0755",
                    "--file", f"bin/test_fs_helper={helper}:0755",
                    "--file", f"torture.sh={HERE / 'test_fs_torture.sh'}:0755"], check=True)
    share, run = tmp_path / "share", tmp_path / "run"
    share.mkdir()
    run.mkdir()
    console = run / "console.log"
    r = subprocess.run([str(vmctl), "--backend", "qemu", "--kernel", str(guest_dir / "vmlinux"),
                        "--initrd", str(initrd), "--cmdline", "console=ttyS0 reboot=k panic=-1 quiet",
                        "--run-dir", str(run), "--console", str(console), "--fs", f"share={share}",
                        "--mem", "512", "--timeout", "400"],
                       capture_output=True, text=True, timeout=460)
    text = console.read_text(errors="replace").replace("\r\n", "\n")
    assert r.returncode == 0, f"{r.stderr}\n{text[-3000:]}"
    assert "RUNM-FS-MOUNT-FAILED" not in text, text[-3000:]
    assert "RUNM-FS-TORTURE-END" in text, text[-3000:]
    out = text.split("RUNM-FS-TORTURE-BEGIN\n", 1)[1].split("RUNM-FS-TORTURE-END", 1)[0]
    if out != host_output:
        import difflib
        diff = "".join(difflib.unified_diff(host_output.splitlines(True), out.splitlines(True),
                                            "host", "guest"))
        pytest.fail("guest output differs from the host run:\n" + diff)
    assert "RUNM-FS-EXEC-OK" in text, text[-2000:]
    # What the guest did is on the host, through the share.
    assert (share / "work" / "big").stat().st_size == 65536 * 40
    assert os.readlink(share / "work" / "sout") == "/etc/passwd"
    assert (share / "work" / "cw").stat().st_size == 400 * 4096
    assert (share / "busybox").read_bytes() == pathlib.Path("/bin/busybox").read_bytes()


def _stats(m):
    m.proc.send_signal(signal.SIGUSR1)
    os.stat(m.mnt)  # wake the server: the signal is noticed between requests
    line = m.proc.stdout.readline().split()
    assert line[0] == "stats", line
    return {k: int(v) for k, v in (f.split("=") for f in line[1:])}


def test_forget_bookkeeping_with_the_kernel(fusemount, tmp_path):
    """The real kernel's FORGETs bring the inode table back down: memory is
    bounded by what the kernel holds, not by history."""
    src, mnt = tmp_path / "src", tmp_path / "mnt"
    src.mkdir()
    mnt.mkdir()
    with FuseMount(fusemount, src, mnt, "auto") as m:
        d = mnt / "d"
        d.mkdir()
        for i in range(2000):
            (d / f"f{i}").write_text("x")
        assert len(os.listdir(d)) == 2000
        held = _stats(m)["inodes"]
        assert held >= 2000
        for i in range(2000):
            (d / f"f{i}").unlink()
        d.rmdir()
        # Ask the kernel to drop its dentries/inodes: it sends (batch) forgets.
        for _ in range(50):
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("2")
            st = _stats(m)
            if st["inodes"] <= 2:
                break
            time.sleep(0.1)
        assert st["inodes"] <= 2, st
        assert st["handles"] == 0


def test_credentials_through_host_fuse(fusemount, tmp_path):
    """A non-root caller gets the host's answer for its uid; what it creates is its own."""
    if not shutil.which("setpriv"):
        pytest.skip("setpriv not installed")
    src = tmp_path / "src"
    src.mkdir()
    # The mount point must be reachable for uid 1000 (tmp_path's parents are 0700).
    mnt = pathlib.Path(tempfile.mkdtemp(prefix="runm-fs-cred-", dir="/tmp"))
    mnt.chmod(0o755)
    src.chmod(0o755)
    (src / "rootonly").mkdir(mode=0o700)
    (src / "pub").mkdir()
    (src / "pub").chmod(0o1777)
    try:
        _credentials(fusemount, src, mnt)
    finally:
        mnt.rmdir()
    assert not (src / "rootonly" / "x").exists()


def _credentials(fusemount, src, mnt):
    with FuseMount(fusemount, src, mnt, "none"):
        as_user = ["setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups", "sh", "-c"]
        r = subprocess.run(as_user + [f"ls -a {mnt}"], capture_output=True, text=True)
        assert r.returncode == 0 and "rootonly" in r.stdout, r.stderr
        r = subprocess.run(as_user + [f"touch {mnt}/rootonly/x"], capture_output=True, text=True)
        assert r.returncode != 0 and "Permission denied" in r.stderr
        r = subprocess.run(as_user + [f"echo hi > {mnt}/pub/mine && chmod 600 {mnt}/pub/mine"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        st = (src / "pub" / "mine").stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (1000, 1000, 0o600)
        r = subprocess.run(as_user + [f"chown 0 {mnt}/pub/mine"], capture_output=True, text=True)
        assert r.returncode != 0
