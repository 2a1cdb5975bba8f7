"""bench/fs_guest.sh: virtio-fs against QEMU's virtio-9p inside a TCG guest. A small run
(RUNM_FS_GUEST_MIB=4) must print one JSON object with both filesystems' numbers, each from a
guest that really mounted that filesystem, and the ratios between them."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import ROOT

BENCH = ROOT / "bench" / "fs_guest.sh"


def test_small_run_prints_both_filesystems(build_dir, guest_dir):
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 not installed")
    env = dict(os.environ, RUNM_FS_GUEST_MIB="4")
    r = subprocess.run([str(BENCH)], capture_output=True, text=True, timeout=170, env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout
    out = json.loads(lines[0])
    assert out["bench"] == "fs_guest" and out["accel"] == "tcg" and out["file_MiB"] == 4
    for fs in ("virtiofs", "9p"):
        res = out[fs]
        # The guest read the type of its mount from /proc/mounts.
        assert res["fstype"] == fs, res
        assert res["write_bytes"] == res["write_direct_bytes"] == 4 << 20
        # The busybox rootfs: its directories, the binary and one link per applet.
        assert res["untar_entries"] > 100, res
        for k in ("write", "read", "write_direct", "read_direct"):
            assert res[f"{k}_s"] > 0 and res[f"{k}_MBps"] > 0
            assert abs(res[f"{k}_MBps"] - 4 * 1.048576 / res[f"{k}_s"]) < 0.01 * res[f"{k}_MBps"] + 0.01
        assert res["untar_s"] > 0
    for k in ("write_MBps", "read_MBps", "write_direct_MBps", "read_direct_MBps"):
        assert out[f"ratio_{k}"] == pytest.approx(out["virtiofs"][k] / out["9p"][k], abs=0.01)
    assert out["ratio_untar_s"] == pytest.approx(out["virtiofs"]["untar_s"] / out["9p"]["untar_s"],
                                                 abs=0.01)


@pytest.mark.parametrize("size", ["0", "x", "-1"])
def test_bad_size_is_refused(size):
    r = subprocess.run([str(BENCH), size], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert f"fs_guest.sh: size {size}: not a positive number of MiB" in r.stderr
    assert r.stdout == ""
