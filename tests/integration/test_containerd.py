"""containerd end to end with runm behind its runc shim (io.containerd.runc.v2, BinaryName = runm;
the recipe in docs/usage.md). A private containerd (root, state, sockets in a temporary
directory; the config names runm for the CRI runtime as the recipe does), a hand-made
docker-archive of the test bundle's rootfs imported with `ctr image import`, then ctr: run
(stdout, exit code), -t, task exec, kill, pause/resume. Container ids are 64 hex digits under the
runc shim's default root (/run/containerd/runc/<namespace>): the state directory is too long for
a socket path, which runtime/sockdir.c handles. Skipped, with the reason, when containerd
cannot start here."""
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

from engine_util import docker_archive, rootfs_tar, run_on_pty, stop_process, tail, unmount_under, wait_until
from lifecycle_util import vm_skip_reason

REF = "docker.io/library/runm-test:latest"
RUNC_ROOT = "/run/containerd/runc"  # the runc shim's default --root (its Root option)

CONFIG = """version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/c.sock"
[ttrpc]
  address = "{d}/c.sock.ttrpc"
[debug]
  address = "{d}/debug.sock"
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runm]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runm.options]
    BinaryName = "{runm}"
"""


class Ctr:
    def __init__(self, sock, ns, runm):
        self.sock, self.ns, self.runm, self.ids = sock, ns, runm, []

    def cmd(self, *args):
        return ["ctr", "-a", self.sock, "-n", self.ns, *args]

    def __call__(self, *args, input=None, timeout=240):
        return subprocess.run(self.cmd(*args), input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def new_id(self):
        i = uuid.uuid4().hex + uuid.uuid4().hex  # 64 hex digits, as Docker and CRI name containers
        self.ids.append(i)
        return i

    def run_args(self, *args):
        return ("run", "--runtime", "io.containerd.runc.v2", "--runc-binary", self.runm, *args)

    def task_status(self, cid):
        for line in self("task", "ls").stdout.splitlines()[1:]:
            f = line.split()
            if f and f[0] == cid:
                return f[-1]
        return None


@pytest.fixture(scope="module")
def ctr(build_dir, tmp_path_factory):
    for tool in ("containerd", "ctr", "containerd-shim-runc-v2"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (apt-get install containerd; hack/deps.sh)")
    why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
    if why:
        pytest.skip(why)
    d = tempfile.mkdtemp(prefix="rctd-", dir="/tmp")
    cfg = os.path.join(d, "config.toml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(d=d, runm=build_dir / "runm"))
    log = open(os.path.join(d, "containerd.log"), "w")
    p = subprocess.Popen(["containerd", "--config", cfg], stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT)
    c = Ctr(f"{d}/c.sock", "runm-t-" + uuid.uuid4().hex[:8], str(build_dir / "runm"))
    try:
        up = wait_until(lambda: p.poll() is not None or c("version", timeout=10).returncode == 0, 60)
        if p.poll() is not None or not up:
            pytest.skip(f"containerd did not start here (exit {p.poll()}): {tail(log.name)}")
        tmp = tmp_path_factory.mktemp("ctr-img")
        img = docker_archive(tmp, rootfs_tar(tmp), REF)
        r = c("image", "import", str(img))
        assert r.returncode == 0, r.stderr + tail(log.name)
        assert REF in c("image", "ls", "-q").stdout
        yield c
    finally:
        for i in c.ids:
            c("task", "kill", "-s", "SIGKILL", i, timeout=60)
            wait_until(lambda: c.task_status(i) in (None, "STOPPED"), 30)
            c("task", "rm", "-f", i, timeout=60)
            c("container", "rm", i, timeout=60)
        stop_process(p, grace=30)
        log.close()
        unmount_under(d)
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(os.path.join(RUNC_ROOT, c.ns), ignore_errors=True)


def test_long_state_dir_is_beyond_sun_path(ctr):
    # the premise of the sockdir fix: <root>/<ns>/<64 hex>/vsock.sock_1024 does not fit in sun_path
    assert len(f"{RUNC_ROOT}/{ctr.ns}/{'0' * 64}/vsock.sock_1024") > 107


def test_run_output_and_exit_code(ctr):
    i = ctr.new_id()
    r = ctr(*ctr.run_args("--rm", REF, i, "echo", "hello-containerd"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello-containerd\n"
    i = ctr.new_id()
    r = ctr(*ctr.run_args("--rm", REF, i, "sh", "-c", "echo out; echo err >&2; exit 3"))
    assert r.returncode == 3, r.stderr
    assert r.stdout == "out\n" and "err\n" in r.stderr
    assert not os.path.exists(os.path.join(RUNC_ROOT, ctr.ns, i)), "state left behind after --rm"


def test_run_tty(ctr):
    i = ctr.new_id()
    rc, text = run_on_pty(ctr.cmd(*ctr.run_args("--rm", "-t", REF, i, "sh", "-c", "tty; stty size; exit 4")))
    assert rc == 4, text
    assert "/dev/pts/" in text, text


def test_exec_kill_pause_resume(ctr):
    i = ctr.new_id()
    r = ctr(*ctr.run_args("-d", REF, i, "sh", "-c",
                          "trap 'exit 7' TERM; while :; do date +%s%N > /tick; sleep 0.1; done"))
    assert r.returncode == 0, r.stderr
    assert wait_until(lambda: ctr.task_status(i) == "RUNNING", 120), ctr("task", "ls").stdout
    # its sockets are named through a short symlink to the long state directory (runtime/sockdir.c)
    links = [os.readlink(e.path) for e in os.scandir("/run/runm/s") if e.is_symlink()]
    assert os.path.join(RUNC_ROOT, ctr.ns, i) in links, links
    r = ctr("task", "exec", "--exec-id", "e1", i, "sh", "-c", "echo in-exec; exit 5")
    assert r.returncode == 5, r.stderr
    assert r.stdout == "in-exec\n"
    r = ctr("task", "exec", "--exec-id", "e2", i, "cat", "/proc/1/cmdline")
    assert r.returncode == 0 and r.stdout.startswith("sh\0-c\0"), r.stdout + r.stderr
    # pause: the loop stops ticking; resume: it ticks again
    r = ctr("task", "pause", i)
    assert r.returncode == 0, r.stderr
    assert ctr.task_status(i) == "PAUSED"
    r = ctr("task", "ps", i)
    assert r.returncode == 0, r.stderr
    r = ctr("task", "resume", i)
    assert r.returncode == 0, r.stderr
    assert ctr.task_status(i) == "RUNNING"

    def tick():
        return ctr("task", "exec", "--exec-id", "t" + uuid.uuid4().hex[:6], i, "cat", "/tick").stdout.strip()

    a = tick()
    assert wait_until(lambda: tick() not in ("", a), 30), "the container does not run after resume"
    # kill: SIGTERM reaches the container's init, which exits 7
    r = ctr("task", "kill", "-s", "SIGTERM", i)
    assert r.returncode == 0, r.stderr
    assert wait_until(lambda: ctr.task_status(i) == "STOPPED", 60), ctr("task", "ls").stdout
    r = ctr("task", "rm", i)
    assert r.returncode == 0, r.stderr
    assert "exit with non-zero exit code 7" in r.stderr, r.stderr  # ctr's words for the status
    r = ctr("container", "rm", i)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(RUNC_ROOT, ctr.ns, i))


def test_task_metrics_describe_the_vm(ctr):
    """ctr task metrics reads the container's cgroup (the runc shim's cgroupsPath): the shim, the VMM
    and its device servers are there, so memory and CPU are this VM's."""
    i = ctr.new_id()
    r = ctr(*ctr.run_args("-d", REF, i, "sleep", "1000"))
    assert r.returncode == 0, r.stderr
    assert wait_until(lambda: ctr.task_status(i) == "RUNNING", 120), ctr("task", "ls").stdout
    r = ctr("task", "metrics", i)
    assert r.returncode == 0, r.stderr
    vals = {}
    for ln in r.stdout.splitlines():
        f = ln.split()
        if len(f) == 2 and f[1].isdigit():
            vals[f[0]] = int(f[1])
    assert vals.get("memory.usage_in_bytes", 0) > 16e6, r.stdout
    assert vals.get("pids.current", 0) >= 2, r.stdout
    r = ctr("task", "kill", "-s", "SIGKILL", i)
    assert r.returncode == 0, r.stderr
    assert wait_until(lambda: ctr.task_status(i) == "STOPPED", 60), ctr("task", "ls").stdout
    assert ctr("task", "rm", i).returncode == 0
    assert ctr("container", "rm", i).returncode == 0


def test_recipe_config_loads_the_cri_plugin(ctr):
    """docs/usage.md's config: the CRI plugin loads (without a runtime of the default name,
    containerd 1.6 silently skips it while ctr keeps working)."""
    r = ctr("plugins", "ls")
    assert r.returncode == 0, r.stderr
    cri = [ln.split() for ln in r.stdout.splitlines() if " cri " in f" {ln} "]
    assert cri and cri[0][-1] == "ok", r.stdout
