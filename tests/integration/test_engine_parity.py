"""What engines see from runm matches what they see from runc: vCPUs are CPUs in the guest, an
engine's --shm-size is the guest's /dev/shm size, and a missing or non-executable program fails
at create with runc 1.1's words (engines map them to exit codes 127 / 126)."""
import os
import shutil
import subprocess
import uuid

import pytest

from conftest import make_bundle
from lifecycle_util import MODES, Runm, mode_env, vm_skip_reason

IMAGE = "localhost/runm-parity:latest"
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]

# (args[0], podman's exit code with runc, runc 1.1.5's message after "unable to start container
# process: ") — measured with Debian's runc 1.1.5 and podman 4.3.1
BAD_PROGRAMS = [
    ("/nonexistent", 127, 'exec: "/nonexistent": stat /nonexistent: no such file or directory'),
    ("/etc/passwd", 126, 'exec: "/etc/passwd": permission denied'),
    ("/etc", 126, 'exec: "/etc": permission denied'),
    ("nope-not-a-program", 127, 'exec: "nope-not-a-program": executable file not found in $PATH'),
]


@pytest.mark.parametrize("prog,code,msg", BAD_PROGRAMS, ids=[p[0] for p in BAD_PROGRAMS])
def test_bad_program_fails_at_create_with_runcs_words(rt, tmp_path, prog, code, msg):
    b = make_bundle(tmp_path / "bundle", [prog])
    rc, err = rt.create("--bundle", b, "bad")
    assert rc != 0 and msg in err, err
    # nothing is left: no container, no state directory
    assert rt("list", "-q").stdout.strip() == ""
    assert not (rt.root / "bad").exists()


def test_state_dir_below_a_directory_only_capabilities_open(build_dir, tmp_path, tmp_path_factory):
    """containerd's runc shim makes /run/containerd mode 0600 (when containerd's own state is
    elsewhere): root walks it only with CAP_DAC_OVERRIDE, which QEMU does not have. The VM's files
    there (console log, NIC socket: a netns without a path gets a spare NIC) must still work."""
    why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
    if why:
        pytest.skip(why)
    locked = tmp_path / "locked"
    locked.mkdir()
    rt = Runm(build_dir, locked / "root", "vm")
    b = make_bundle(tmp_path / "bundle", ["sh", "-c", "echo hi; ip -o link show | wc -l"])
    os.chmod(locked, 0o600)
    try:
        r = rt("run", "--bundle", b, "locked")
    finally:
        os.chmod(locked, 0o700)
        rt.cleanup()
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["hi", "1"], r.stdout  # the spare NIC is not in the container's netns


# --- podman ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def image(tmp_path_factory):
    if not shutil.which("podman"):
        pytest.skip("podman is not installed")
    b = make_bundle(tmp_path_factory.mktemp("parity-img") / "bundle")
    tar = subprocess.Popen(["tar", "-C", str(b / "rootfs"), "-c", "."], stdout=subprocess.PIPE)
    r = subprocess.run(["podman", "import", "-", IMAGE], stdin=tar.stdout, capture_output=True, text=True)
    tar.wait()
    assert r.returncode == 0, r.stderr
    return IMAGE


@pytest.fixture
def pm(build_dir, image, tmp_path_factory):
    """podman with runm in a microVM (these are about the guest)."""
    why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
    if why:
        pytest.skip(why)
    names = []

    def podman(*args, runtime=None, timeout=240):
        r = runtime or str(build_dir / "runm")
        return subprocess.run(["podman", "--runtime", r, *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, env=mode_env("vm"))

    def run(*args, runtime=None):
        n = "runm-" + uuid.uuid4().hex[:10]
        names.append(n)
        return podman("run", "--rm", "--name", n, *ULIMITS, *args, runtime=runtime)

    podman.run = run
    yield podman
    for n in names:
        podman("rm", "-f", "-t", "0", n, timeout=120)


def test_vcpus_are_cpus_in_the_guest(pm, image):
    r = pm.run("--cpus", "2", image, "sh", "-c", "nproc; grep -c ^processor /proc/cpuinfo")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["2", "2"], r.stdout
    r = pm.run("--annotation", "io.runm.vcpus=2", image, "nproc")
    assert r.returncode == 0 and r.stdout.strip() == "2", r.stderr + r.stdout
    r = pm.run(image, "nproc")
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr + r.stdout


def test_shm_size_is_the_engines(pm, image):
    def shm_kb(runtime=None, extra=()):
        r = pm.run(*extra, image, "df", "-k", "/dev/shm", runtime=runtime)
        assert r.returncode == 0, r.stderr
        return r.stdout.splitlines()[-1].split()[1]

    assert shm_kb(extra=["--shm-size", "10m"]) == "10240"  # runc: 10240 kB
    # podman's default size is kept too (its containers.conf shm_size; the same as with runc)
    want = shm_kb(runtime=shutil.which("runc")) if shutil.which("runc") else "64000"
    assert shm_kb() == want


@pytest.mark.parametrize("prog,code,msg", BAD_PROGRAMS, ids=[p[0] for p in BAD_PROGRAMS])
def test_podman_bad_program_exit_code_as_with_runc(pm, image, prog, code, msg):
    r = pm.run(image, prog)
    assert r.returncode == code, r.stderr
    assert msg in r.stderr, r.stderr
    if shutil.which("runc"):
        ref = pm.run(image, prog, runtime=shutil.which("runc"))
        assert ref.returncode == code and msg in ref.stderr, ref.stderr
