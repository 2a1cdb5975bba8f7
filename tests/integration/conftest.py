"""Shared fixtures for runm's integration tests (they drive the real binaries)."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("RUNM_BUILD", ROOT / "build"))
MKBUNDLE = ROOT / "tests" / "fixtures" / "mkbundle.py"


def hw_virt_reason():
    """None when the host has hardware virtualization usable by KVM, else why not."""
    try:
        flags = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError as e:
        return f"cannot read /proc/cpuinfo: {e}"
    if not any(f in flags.split() for f in ("vmx", "svm")):
        return "host CPU has no vmx/svm: /dev/kvm here cannot run a Linux guest at speed"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not accessible"
    return None


@pytest.fixture(scope="session")
def build_dir():
    return BUILD


@pytest.fixture(scope="session")
def asan_dir():
    return BUILD / "asan"


@pytest.fixture(scope="session")
def guest_dir():
    d = BUILD / "guest"
    for f in ("vmlinux", "bzImage", "initramfs.cpio"):
        if not (d / f).exists():
            pytest.fail(f"{d / f} missing: run `make guest` first")
    return d


def make_bundle(path, args=None, tty=False, extra=()):
    cmd = [sys.executable, str(MKBUNDLE), str(path)]
    if tty:
        cmd.append("--tty")
    cmd += list(extra)
    if args:
        cmd += ["--"] + list(args)
    subprocess.run(cmd, check=True)
    return pathlib.Path(path)


@pytest.fixture(scope="session")
def bundle_template(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("bundle-template") / "bundle")


@pytest.fixture
def bundle(tmp_path, bundle_template):
    """A fresh bundle (busybox rootfs, runc-style config.json, args ["sh"]) per test."""
    dst = tmp_path / "bundle"
    shutil.copytree(bundle_template, dst, symlinks=True)
    return dst


@pytest.fixture
def vm_runm(build_dir, guest_dir, tmp_path):
    """runm in VM mode (skips, with the reason, where no microVM boots); every id appended to
    .ids is deleted with --force afterwards."""
    from lifecycle_util import Runm, vm_skip_reason
    why = vm_skip_reason(build_dir, tmp_path / "probe")
    if why:
        pytest.skip(why)
    r = Runm(build_dir, tmp_path / "root", "vm")
    r.ids = []
    yield r
    for i in r.ids:
        r("delete", "--force", i)


# "vm": the real thing (a microVM per container). "host-agent": the same runm, shim and
# runm-agent, but the agent runs on the host (RUNM_TEST_AGENT_ON_HOST=1): every host-side path
# of the runc contract, fast.
MODES = ["host-agent", "vm"]


@pytest.fixture(params=MODES)
def rt(request, build_dir, tmp_path, tmp_path_factory):
    """runm in each mode (lifecycle_util.MODES: host-agent, vm; vm skips with the reason where
    no microVM boots); the containers under its root are removed afterwards."""
    from lifecycle_util import Runm, vm_skip_reason
    if request.param == "vm":
        why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
        if why:
            pytest.skip(why)
    r = Runm(build_dir, tmp_path / "root", request.param)
    yield r
    r.cleanup()
