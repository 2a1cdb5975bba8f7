"""The virtio-fs device as runm-vmm offers it: spec errors are one clear line
and leave nothing behind, in-process (--fs) and over vhost-user."""
import subprocess

import pytest


@pytest.fixture(scope="module")
def vmm(build_dir):
    b = build_dir / "runm-vmm"
    if not b.exists():
        pytest.fail(f"{b} missing: run `make` first")
    return b


@pytest.mark.parametrize("spec,want", [
    ("fs,tag=x,dir={missing}", "device fs: open shared directory {missing}: No such file or directory"),
    ("fs,dir={tmp}", "device fs: tag=: expected 1..36 bytes"),
    ("fs,tag=x", "device fs: missing dir=DIR"),
    ("fs,tag=x,dir={tmp},cache=maybe", "device fs: cache=maybe: expected auto, always or none"),
    ("fs,tag=x,dir={tmp},queues=99", "device fs: queues=99: expected 1..7"),
])
def test_vhost_user_spec_errors(vmm, tmp_path, spec, want):
    sock = tmp_path / "fs.sock"
    fmt = {"missing": tmp_path / "missing", "tmp": tmp_path}
    r = subprocess.run([str(vmm), "vhost-user", "--socket", str(sock), "--device", spec.format(**fmt)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert want.format(**fmt) in lines[0]
    assert not sock.exists()


def test_in_process_fs_bad_dir(vmm, build_dir, tmp_path):
    guest = build_dir / "guests" / "hello.elf"
    if not guest.exists():
        pytest.skip(f"{guest} not built (make guests)")
    r = subprocess.run([str(vmm), "--kernel", str(guest), "--console", "off", "--fs",
                        f"share={tmp_path / 'nope'}"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert f"device fs: open shared directory {tmp_path / 'nope'}: No such file or directory" in r.stderr
