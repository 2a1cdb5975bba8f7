"""podman pods with runm (docs/pods.md): the infra container boots the pod's microVM, the pod's
containers join it (podman 4.3 gives them io.kubernetes.cri-o.ContainerType=container and
SandboxID=<infra id>, namespaces /proc/<infra shim pid>/ns/{net,ipc,uts}); localhost between
them; `podman pod rm -f` leaves no VM, mount or state behind.  VM mode."""
import pathlib
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import make_bundle
from lifecycle_util import mode_env, vm_skip_reason

IMAGE = "localhost/runm-test:latest"
PAUSE = "localhost/runm-pause:latest"
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    if not shutil.which("podman"):
        pytest.skip("podman is not installed")
    b = make_bundle(tmp_path_factory.mktemp("podman-pod-img") / "bundle")
    for name, extra in ((IMAGE, None), (PAUSE, "pause")):
        if extra:  # an infra image offline: busybox with /pause sleeping forever
            p = b / "rootfs" / "pause"
            p.write_text("#!/bin/sh\nexec sleep 2147483647\n")
            p.chmod(0o755)
        tar = subprocess.Popen(["tar", "-C", str(b / "rootfs"), "-c", "."], stdout=subprocess.PIPE)
        r = subprocess.run(["podman", "import", "-", name], stdin=tar.stdout, capture_output=True, text=True)
        tar.wait()
        assert r.returncode == 0, r.stderr


@pytest.fixture
def pm(build_dir, images, tmp_path):
    why = vm_skip_reason(build_dir, tmp_path)
    if why:
        pytest.fail(why)
    env = mode_env("vm")
    pods = []

    def podman(*args, timeout=240):
        return subprocess.run(["podman", "--runtime", str(build_dir / "runm")] + list(args), capture_output=True,
                              text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL)

    podman.pods = pods
    yield podman
    for p in pods:
        podman("pod", "rm", "-f", "-t", "0", p, timeout=120)


def vmms_naming(word):
    n = 0
    for p in pathlib.Path("/proc").iterdir():
        try:
            cmd = (p / "cmdline").read_bytes() if p.name.isdigit() else b""
        except OSError:
            continue
        if cmd.startswith(b"qemu-system") or b"/qemu-system" in cmd.split(b"\0")[0]:
            # QEMU names its files through /proc/self/fd/N: its parent (the shim) names the id
            try:
                ppid = (p / "stat").read_text().rsplit(")", 1)[1].split()[1]
                pcmd = pathlib.Path(f"/proc/{ppid}/cmdline").read_bytes()
            except OSError:
                pcmd = b""
            n += word.encode() in cmd + pcmd
    return n


def test_podman_pod_localhost_one_vm_and_rm_cleans_up(pm):
    pod = "runm-pod-" + uuid.uuid4().hex[:8]
    pm.pods.append(pod)
    r = pm("pod", "create", "--name", pod, "--infra-image", PAUSE, "--infra-command", "/pause")
    assert r.returncode == 0, r.stderr
    r = pm("run", "-d", "--pod", pod, "--name", pod + "-a", *ULIMITS, IMAGE, "sh", "-c",
           "nc -l -p 7000 > /tmp/got; sleep 100000")
    assert r.returncode == 0, r.stderr
    infra = pm("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).stdout.strip()
    assert infra
    r = pm("run", "--rm", "--pod", pod, "--name", pod + "-b", *ULIMITS, IMAGE, "sh", "-c",
           "for i in 1 2 3 4 5 6 7 8 9 10; do echo via-localhost | nc 127.0.0.1 7000 && exit 0; sleep 0.5; done;"
           " exit 1")
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 10
    while pm("exec", pod + "-a", "cat", "/tmp/got").stdout != "via-localhost\n" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert pm("exec", pod + "-a", "cat", "/tmp/got").stdout == "via-localhost\n"
    assert vmms_naming(infra) == 1  # the pod is the infra container's one microVM
    r = pm("pod", "rm", "-f", "-t", "0", pod)
    assert r.returncode == 0, r.stderr
    pm.pods.remove(pod)
    deadline = time.monotonic() + 10
    while vmms_naming(infra) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert vmms_naming(infra) == 0
    assert infra not in pathlib.Path("/proc/self/mountinfo").read_text()
    assert not list(pathlib.Path("/run").glob(f"**/runm*/{infra}"))
