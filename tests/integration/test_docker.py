"""Docker end to end with runm as a runtime (`dockerd --add-runtime runm=…`, the recipe in
docs/usage.md). dockerd runs in a network namespace of its own (its bridge, iptables rules and
docker-proxy live and die there) with temporary data and exec roots; the image is the test
bundle's rootfs, `docker import`ed. Skipped, with the reason, when dockerd cannot start here."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from engine_util import (netns_add, netns_del, rootfs_tar, run_on_pty, stop_process, tail, unmount_under,
                         wait_until)
from lifecycle_util import vm_skip_reason

IMAGE = "runm-test:latest"
HTTPD = "mkdir -p /www && echo page-from-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"


class Docker:
    def __init__(self, sock, ns):
        self.sock, self.ns, self.names = sock, ns, []

    def __call__(self, *args, input=None, timeout=240):
        return subprocess.run(["docker", "-H", "unix://" + self.sock, *args], input=input,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def name(self):
        n = "runm-" + uuid.uuid4().hex[:10]
        self.names.append(n)
        return n

    def run(self, *args, **kw):
        return self("run", "--runtime", "runm", *args, **kw)

    def in_ns(self, *cmd, **kw):
        return subprocess.run(["ip", "netns", "exec", self.ns, *cmd], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def docker(build_dir, tmp_path_factory):
    for tool in ("dockerd", "docker", "nsenter", "ip"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
    if why:
        pytest.skip(why)
    # a short directory: dockerd's and its containerd's sockets live under it
    d = tempfile.mkdtemp(prefix="rdk-", dir="/tmp")
    ns = netns_add()
    log = open(os.path.join(d, "dockerd.log"), "w")
    p = subprocess.Popen(["nsenter", f"--net=/run/netns/{ns}", "dockerd", "--data-root", f"{d}/data",
                          "--exec-root", f"{d}/exec", "--pidfile", f"{d}/pid", "-H", f"unix://{d}/docker.sock",
                          "--add-runtime", f"runm={build_dir}/runm"],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    dk = Docker(f"{d}/docker.sock", ns)
    try:
        up = wait_until(lambda: p.poll() is not None or dk("version", timeout=10).returncode == 0, 90)
        if p.poll() is not None or not up:
            pytest.skip(f"dockerd did not start here (exit {p.poll()}): {tail(log.name)}")
        tar = rootfs_tar(tmp_path_factory.mktemp("docker-img"))
        r = dk("import", str(tar), IMAGE)
        assert r.returncode == 0, r.stderr
        yield dk
    finally:
        for n in dk.names:
            dk("rm", "-f", n, timeout=120)
        stop_process(p, grace=30)
        log.close()
        unmount_under(d)
        netns_del(ns)
        shutil.rmtree(d, ignore_errors=True)


def test_run_echo_and_exit_code(docker):
    r = docker.run("--rm", "--name", docker.name(), IMAGE, "echo", "hello-docker")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello-docker\n"
    r = docker.run("--rm", "--name", docker.name(), IMAGE, "sh", "-c", "exit 3")
    assert r.returncode == 3, r.stderr


def test_run_stdin(docker):
    r = docker.run("--rm", "-i", "--name", docker.name(), IMAGE, "tr", "a-z", "A-Z", input="docker stdin\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "DOCKER STDIN\n"


def test_shm_size(docker):
    r = docker.run("--rm", "--name", docker.name(), "--shm-size", "10m", IMAGE, "df", "-k", "/dev/shm")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1].split()[1] == "10240", r.stdout  # runc: 10240 kB


def test_missing_program_is_127(docker):
    r = docker.run("--rm", "--name", docker.name(), IMAGE, "/nonexistent")
    assert r.returncode == 127, r.stderr
    assert 'exec: "/nonexistent": stat /nonexistent: no such file or directory' in r.stderr, r.stderr


def test_detached_exec_logs_stop(docker):
    n = docker.name()
    r = docker.run("-d", "--name", n, IMAGE, "sh", "-c",
                   "trap 'echo got-term; exit 0' TERM; echo started; while :; do sleep 0.2; done")
    assert r.returncode == 0, r.stderr
    assert wait_until(lambda: "started" in docker("logs", n).stdout, 60), docker("logs", n)
    r = docker("exec", n, "sh", "-c", "echo in-exec; exit 5")
    assert r.returncode == 5, r.stderr
    assert r.stdout == "in-exec\n"
    r = docker("exec", n, "cat", "/proc/1/cmdline")
    assert r.returncode == 0 and r.stdout.startswith("sh\0-c\0"), r.stdout
    r = docker("pause", n)
    assert r.returncode == 0, r.stderr
    assert json.loads(docker("inspect", n).stdout)[0]["State"]["Paused"] is True
    r = docker("unpause", n)
    assert r.returncode == 0, r.stderr
    assert json.loads(docker("inspect", n).stdout)[0]["State"]["Paused"] is False
    t0 = time.monotonic()
    r = docker("stop", "-t", "20", n)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 15, "stop waited for the kill: SIGTERM did not reach the container"
    state = json.loads(docker("inspect", n).stdout)[0]["State"]
    assert state["Running"] is False and state["ExitCode"] == 0, state
    assert "got-term" in docker("logs", n).stdout


def test_default_bridge_network(docker, tmp_path):
    (tmp_path / "index.html").write_text("hello from the docker host\n")
    srv = subprocess.Popen(["ip", "netns", "exec", docker.ns, sys.executable, "-m", "http.server", "18998",
                            "--bind", "172.17.0.1", "-d", str(tmp_path)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        r = docker.run("--rm", "--name", docker.name(), IMAGE, "sh", "-c",
                       "ip -o -4 addr show eth0; ip route; wget -qO- http://172.17.0.1:18998/index.html")
    finally:
        srv.kill()
        srv.wait()
    assert r.returncode == 0, r.stderr + r.stdout
    assert " 172.17." in r.stdout and "default via 172.17.0.1" in r.stdout, r.stdout
    assert "hello from the docker host" in r.stdout, r.stdout


def test_published_port(docker):
    n = docker.name()
    r = docker.run("-d", "--name", n, "-p", "18082:80", "--hostname", "dockerweb", IMAGE, "sh", "-c", HTTPD)
    assert r.returncode == 0, r.stderr

    def fetch():
        out = docker.in_ns("curl", "-s", "--max-time", "5", "http://127.0.0.1:18082/").stdout
        return out if "page-from-dockerweb" in out else None

    assert wait_until(fetch, 120), docker("logs", n).stdout
    r = docker("rm", "-f", n)
    assert r.returncode == 0, r.stderr


def _bytes(s):
    """docker's human sizes (decimal or binary units) in bytes."""
    s = s.strip()
    for unit, mult in (("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("kB", 1e3), ("MB", 1e6),
                       ("GB", 1e9), ("B", 1)):
        if s.endswith(unit):
            return float(s[:-len(unit)]) * mult
    return float(s)


def test_stats_describe_the_vm(docker):
    """docker stats reads the container's cgroup (cgroupsPath /docker/<id>): the shim, the VMM and its
    device servers live there, so the memory is the VM's (its guest RAM in use), not an empty group's."""
    n = docker.name()
    r = docker.run("-d", "--name", n, IMAGE, "sleep", "1000")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    shim = int(docker("inspect", "--format", "{{.State.Pid}}", n).stdout)
    groups = open(f"/proc/{shim}/cgroup").read()
    assert f"/docker/{cid}" in groups, groups
    r = docker("stats", "--no-stream", "--format", "{{json .}}", n)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    used = _bytes(st["MemUsage"].split("/")[0])
    assert used > 16e6, st
    assert int(st["PIDs"]) >= 2, st  # the shim and its VMM at least: the host side of this container
    r = docker("rm", "-f", n)
    assert r.returncode == 0, r.stderr


def test_run_interactive_tty(docker):
    """docker run -it: the container's pty at the client's window size, exit status passed through."""
    rc, text = run_on_pty(["docker", "-H", "unix://" + docker.sock, "run", "--runtime", "runm", "--rm", "-it",
                           "--name", docker.name(), IMAGE, "sh", "-c", "tty; stty size; exit 6"], size=(33, 101))
    assert rc == 6, text
    assert "/dev/pts/" in text and "33 101" in text, text
