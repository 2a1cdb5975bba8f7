"""podman end to end with runm as its OCI runtime (conmon drives create/start/kill/delete/exec
exactly as with runc). Image: the test bundle's rootfs imported with `podman import`.

Modes as in test_lifecycle.py: "vm" is skipped with the printed reason while the microVM stack
cannot boot a container here; "host-agent" runs the same runm/shim/agent with the agent on the
host (RUNM_TEST_AGENT_ON_HOST=1, which podman passes through conmon to runm)."""
import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from conftest import make_bundle
from lifecycle_util import MODES, mode_env, vm_skip_reason

IMAGE = "localhost/runm-test:latest"
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    if not shutil.which("podman"):
        pytest.skip("podman is not installed")
    b = make_bundle(tmp_path_factory.mktemp("podman-img") / "bundle")
    tar = subprocess.Popen(["tar", "-C", str(b / "rootfs"), "-c", "."], stdout=subprocess.PIPE)
    r = subprocess.run(["podman", "import", "-", IMAGE], stdin=tar.stdout, capture_output=True, text=True)
    tar.wait()
    assert r.returncode == 0, r.stderr
    return IMAGE


def _podman(build_dir, mode, tmp_path_factory):
    """podman with runm in MODE; every name from .name() is removed afterwards."""
    if mode == "vm":
        why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
        if why:
            pytest.skip(why)
    env = mode_env(mode)
    names = []

    def podman(*args, input=None, timeout=240, runtime=True):
        cmd = ["podman"] + (["--runtime", str(build_dir / "runm")] if runtime else []) + list(args)
        return subprocess.run(cmd, input=input, capture_output=True, text=True, env=env, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def name():
        n = "runm-" + uuid.uuid4().hex[:10]
        names.append(n)
        return n

    podman.name = name
    yield podman
    for n in names:
        podman("rm", "-f", "-t", "0", n, timeout=120)


@pytest.fixture(params=MODES)
def pm(request, build_dir, image, tmp_path_factory):
    yield from _podman(build_dir, request.param, tmp_path_factory)


def run_args(name, *extra):
    """podman run with its defaults (the default bridge network: no --network flag needed)."""
    return ["run", "--name", name, *ULIMITS, *extra]


def test_echo(pm, image):
    r = pm(*run_args(pm.name(), "--rm"), image, "echo", "hello-podman")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello-podman\n"


def test_exit_status(pm, image):
    r = pm(*run_args(pm.name(), "--rm"), image, "sh", "-c", "exit 42")
    assert r.returncode == 42, r.stderr


def test_stdin(pm, image):
    r = pm(*run_args(pm.name(), "--rm", "-i"), image, "sh", "-c", "tr a-z A-Z", input="podman stdin\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "PODMAN STDIN\n"


def test_tty(pm, image):
    # podman -t without a terminal on our side still allocates the container's pty via conmon
    r = pm(*run_args(pm.name(), "--rm", "-t"), image, "sh", "-c", "tty; stty size")
    assert r.returncode == 0, r.stderr
    assert "/dev/pts/" in r.stdout


def test_detached_exec_logs_ps_stop(pm, image):
    n = pm.name()
    r = pm(*run_args(n, "-d"), image, "sh", "-c", "echo started; trap 'echo bye; exit 0' TERM; "
                                               "while :; do sleep 0.1; done")
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 120
    while "started" not in pm("logs", n).stdout and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "started" in pm("logs", n).stdout
    r = pm("exec", n, "sh", "-c", "echo in-exec; exit 3")
    assert r.returncode == 3 and r.stdout == "in-exec\n", r.stderr
    r = pm("ps", "--format", "{{.Names}} {{.Status}}", runtime=False)
    assert any(line.startswith(n + " Up") for line in r.stdout.splitlines()), r.stdout
    r = pm("stop", "-t", "10", n)
    assert r.returncode == 0, r.stderr
    r = pm("inspect", n, "--format", "{{.State.Status}} {{.State.ExitCode}}")
    assert r.stdout.split() == ["exited", "0"], r.stdout
    assert "bye" in pm("logs", n).stdout


def test_kill_and_rm_force(pm, image):
    n = pm.name()
    r = pm(*run_args(n, "-d"), image, "sleep", "1000")
    assert r.returncode == 0, r.stderr
    r = pm("kill", "-s", "KILL", n)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = pm("inspect", n, "--format", "{{.State.Status}} {{.State.ExitCode}}").stdout.split()
        if st and st[0] == "exited":
            break
        time.sleep(0.2)
    assert st == ["exited", "137"], st
    n2 = pm.name()
    assert pm(*run_args(n2, "-d"), image, "sleep", "1000").returncode == 0
    r = pm("rm", "-f", "-t", "0", n2)
    assert r.returncode == 0, r.stderr
    assert pm("inspect", n2).returncode != 0


def test_two_volumes(pm, image, tmp_path):
    """Two -v volumes (rw and ro) come through the container's one share: writes appear on the
    host, the ro one rejects writes, and nothing stays mounted after rm."""
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (ro / "seed").write_text("seed\n")
    n = pm.name()
    script = ("cat /ro/seed; echo hi > /rw/out; "
              "if e=$( (echo no > /ro/x) 2>&1 ); then echo WROTE; else echo \"ERR $e\"; fi")
    r = pm(*run_args(n, "-v", f"{rw}:/rw", "-v", f"{ro}:/ro:ro"), image, "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("seed\n"), r.stdout
    assert "ERR" in r.stdout and "Read-only file system" in r.stdout, r.stdout
    assert (rw / "out").read_text() == "hi\n"
    assert not (ro / "x").exists()
    cid = pm("inspect", "--format", "{{.Id}}", n).stdout.strip()
    assert cid
    assert pm("rm", n).returncode == 0
    with open("/proc/self/mountinfo") as f:
        left = [ln for ln in f if cid in ln]
    assert left == [], left


# --- networking (docs/networking.md): the microVM gets podman's default bridge network --------

@pytest.fixture
def pmvm(build_dir, image, tmp_path_factory):
    """podman with runm, VM mode only: these tests are about the guest's network."""
    yield from _podman(build_dir, "vm", tmp_path_factory)


HTTPD = "mkdir -p /www && echo page-from-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"


def wait_http(url, want, timeout=120):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = subprocess.run(["curl", "-s", "--max-time", "5", url], capture_output=True, text=True)
        if want in last.stdout:
            return last.stdout
        time.sleep(0.3)
    raise AssertionError(f"{url}: no {want!r} after {timeout}s: {last.stdout!r} {last.stderr!r}")


def test_default_network_reaches_the_host(pmvm, image, tmp_path):
    (tmp_path / "index.html").write_text("hello from the podman host\n")
    srv = subprocess.Popen([sys.executable, "-m", "http.server", "18997", "--bind", "0.0.0.0", "-d",
                            str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        r = pmvm(*run_args(pmvm.name(), "--rm"), image, "sh", "-c",
                 "ip -o addr show eth0; ip route; wget -qO- http://10.88.0.1:18997/index.html")
    finally:
        srv.kill()
        srv.wait()
    assert r.returncode == 0, r.stderr + r.stdout
    assert "10.88." in r.stdout and "default via 10.88.0.1" in r.stdout, r.stdout
    assert "hello from the podman host" in r.stdout, r.stdout


def test_published_port_and_container_to_container(pmvm, image):
    a = pmvm.name()
    r = pmvm(*run_args(a, "-d", "-p", "18080:80", "--hostname", "alpha"), image, "sh", "-c", HTTPD)
    assert r.returncode == 0, r.stderr
    assert "page-from-alpha" in wait_http("http://127.0.0.1:18080/", "page-from-alpha")
    ip = pmvm("inspect", "-f", "{{.NetworkSettings.IPAddress}}", a).stdout.strip()
    assert ip.startswith("10.88."), ip
    r = pmvm(*run_args(pmvm.name(), "--rm"), image, "wget", "-qO-", f"http://{ip}/")
    assert r.returncode == 0 and "page-from-alpha" in r.stdout, r.stderr + r.stdout


def test_network_none_has_only_loopback_and_it_is_up(pmvm, image):
    r = pmvm(*run_args(pmvm.name(), "--rm", "--network", "none"), image, "sh", "-c",
             "ip -o link show; nc -l -p 7777 -e true & sleep 0.5; echo x | nc 127.0.0.1 7777 && echo LO-OK")
    assert r.returncode == 0, r.stderr + r.stdout
    links = [l.split(":")[1].strip() for l in r.stdout.splitlines() if l[:1].isdigit()]
    assert links == ["lo"] and "LOOPBACK,UP" in r.stdout and "LO-OK" in r.stdout, r.stdout
