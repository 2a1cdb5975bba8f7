"""virtio-blk served in-process by runm-vmm (ASan build, seccomp on): the blk mini-guest
(tests/guests/blk.c) drives one request of each type through the virtio-mmio rings and prints what
came back; the host checks the image. Also the read-only drive, an inherited fd (fd=N, as the
backend passes it) and the JSON config form."""
import json
import os
import re
import subprocess

from vmm_util import ASAN_ENV, assert_sanitizer_clean, guest, run_guest, vmm

SECTORS = 128


def make_image(path, fill=b"\0"):
    path.write_bytes(fill * (SECTORS * 512))
    return path


def expected_data():
    return bytes((i * 13 + 5) & 0xff for i in range(1024))


def check_full_run(r, img, serial="mini-serial"):
    out = r.stdout
    assert r.returncode == 0, r.stderr + out
    assert "features flush=1 discard=1 write_zeroes=1 ro=0" in out
    assert f"capacity={SECTORS} seg_max=254 blk_size=512" in out
    assert f"get_id status=0 len=21 id={serial}" in out
    assert "write status=0 len=1" in out
    assert "flush status=0" in out
    assert "read status=0 len=1025 match=1" in out
    assert "write_zeroes status=0 read status=0 zero=1" in out
    assert "discard status=0" in out
    assert "out_of_range status=1" in out  # IOERR
    assert "unknown status=2" in out  # UNSUPP
    assert "short_header needs_reset=1" in out
    assert "after_reset read status=0 match=1" in out
    assert int(re.search(r"irqs=(\d+)", out).group(1)) >= 1
    assert_sanitizer_clean(r)
    data = img.read_bytes()
    assert len(data) == SECTORS * 512
    assert data[512:1024] == b"\0" * 512  # written, then zeroed
    assert data[1024:1536] == expected_data()[512:]  # written and kept
    assert data[8 * 512:16 * 512] == b"\0" * 4096  # discarded


def test_every_request_type_through_the_rings(tmp_path):
    img = make_image(tmp_path / "disk.img", b"\x77")
    r = run_guest("blk", "--drive", f"path={img},id=mini-serial")
    check_full_run(r, img)


def test_read_only_drive_answers_writes_with_ioerr(tmp_path):
    img = make_image(tmp_path / "ro.img", b"\x33")
    os.chmod(img, 0o444)
    r = run_guest("blk", "--drive", f"path={img},ro=on")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "ro=1" in r.stdout
    assert "write status=1" in r.stdout
    assert "write_zeroes status=1" in r.stdout
    assert "discard status=1" in r.stdout
    assert "flush status=0" in r.stdout
    assert "get_id status=0 len=21 id=\n" in r.stdout  # no serial given: empty
    assert img.read_bytes() == b"\x33" * (SECTORS * 512)
    assert_sanitizer_clean(r)


def test_inherited_fd_and_json_config(tmp_path):
    img = make_image(tmp_path / "fd.img")
    fd = os.open(img, os.O_RDWR)
    try:
        cfg = tmp_path / "vm.json"
        cfg.write_text(json.dumps({"kernel": str(guest("blk")), "mem": 16,
                                   "drive": [f"fd={fd},id=from-fd"]}))
        p = subprocess.run([str(vmm()), "--config", str(cfg)], capture_output=True, timeout=60,
                           env=ASAN_ENV, pass_fds=(fd,), stdin=subprocess.DEVNULL)
    finally:
        os.close(fd)
    p.stdout = p.stdout.decode(errors="replace").replace("\r\n", "\n")
    p.stderr = p.stderr.decode(errors="replace")
    check_full_run(p, img, serial="from-fd")


def test_bad_drive_options_fail_before_the_vm_runs(tmp_path):
    for opts, why in [(f"path={tmp_path}/missing.img", "open"), ("fd=999", "fd=999"),
                      (f"path={tmp_path}/x,bogus=1", "unknown option")]:
        r = run_guest("blk", "--drive", opts)
        assert r.returncode == 1, r.stdout
        assert "blk" in r.stderr and why in r.stderr, r.stderr
        assert "capacity=" not in r.stdout


def test_jailed_runm_vmm_gets_the_image_by_fd(tmp_path):
    """Through the backend library (runm-vmctl, the shim's code): runm-vmm runs jailed, the image
    path is not in its jail, the backend opens it and passes --drive fd=N."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        import pytest
        pytest.skip("/dev/kvm is not accessible")
    img = make_image(tmp_path / "jail.img", b"\x42")
    run = tmp_path / "run"
    (run / "share").mkdir(parents=True)
    vmctl = vmm(asan=False).parent / "runm-vmctl"
    # No share needed, unless /dev/kvm is root-only here (0600): then only the fs device's kept
    # DAC capability opens it in the jail (test_jail.py's runm-vmm has a share too).
    share = [] if os.stat("/dev/kvm").st_mode & 0o066 else ["--fs", f"share={run / 'share'}"]
    p = subprocess.run([str(vmctl), "--backend", "runm-vmm", "--kernel", str(guest("blk")), *share,
                        "--drive", f"path={img},id=jailed", "--console", str(run / "console.log"),
                        "--run-dir", str(run), "--timeout", "60"], capture_output=True, text=True, timeout=90)
    console = (run / "console.log").read_text(errors="replace").replace("\r\n", "\n")
    assert p.returncode == 0, p.stderr + console
    assert "get_id status=0 len=21 id=jailed" in console, console
    assert "read status=0 len=1025 match=1" in console
    assert "after_reset read status=0 match=1" in console
    assert img.read_bytes()[1024:1536] == expected_data()[512:]
