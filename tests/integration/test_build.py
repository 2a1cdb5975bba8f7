"""Foundation: the build contract (nothing to do when nothing changed; install layout)."""
import subprocess

from conftest import ROOT


def make(*args, **kw):
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args],
                          capture_output=True, text=True, **kw)


def test_make_with_no_changes_does_nothing():
    r = make("-q", "all")  # question mode: exit 0 only when every target is up to date
    assert r.returncode == 0, "make would rebuild something:\n" + make("-n", "all").stdout[:3000]


def test_make_install_layout(tmp_path):
    r = make("install", f"DESTDIR={tmp_path}", "PREFIX=/usr/local")
    assert r.returncode == 0, r.stderr
    bindir = tmp_path / "usr/local/bin"
    share = tmp_path / "usr/local/share/runm"
    for b in ("runm", "runm-vmm", "runm-agent"):
        assert (bindir / b).is_file(), b
    for g in ("vmlinux", "bzImage", "initramfs.cpio"):
        assert (share / g).is_file(), g
    out = subprocess.run([str(bindir / "runm"), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("runm version "), out


def test_agent_is_static():
    out = subprocess.run(["file", "-L", str(ROOT / "build" / "runm-agent")], capture_output=True,
                         text=True, check=True).stdout
    assert "statically linked" in out, out
