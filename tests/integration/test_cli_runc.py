"""CLI details against runc 1.1.5: relative paths from the command line, `events` OOM lines,
`kill` signal 0 and `--all` on a stopped container, `ps` on a stopped container, `list`
alignment, and `runm spec` == `runc spec`."""
import json
import os
import pathlib
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import make_bundle
from lifecycle_util import MODES, Runm, vm_skip_reason


@pytest.fixture
def host_rt(build_dir, tmp_path):
    r = Runm(build_dir, tmp_path / "root", "host-agent")
    yield r
    r.cleanup()


def bundle_with(tmp_path, args, mutate=None, name="bundle"):
    b = make_bundle(tmp_path / name, args)
    if mutate:
        cfg = json.loads((b / "config.json").read_text())
        mutate(cfg)
        (b / "config.json").write_text(json.dumps(cfg))
    return b


@pytest.mark.parametrize("rootless", [False, True], ids=["root", "rootless"])
def test_spec_is_runcs_template(build_dir, tmp_path, rootless):
    runc = shutil.which("runc")
    if not runc:
        pytest.skip("runc (the reference) is not installed")
    docs = {}
    for name, binary in (("runc", runc), ("runm", str(build_dir / "runm"))):
        d = tmp_path / name
        d.mkdir()
        r = subprocess.run([binary, "spec"] + (["--rootless"] if rootless else []), cwd=d, capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
        docs[name] = json.loads((d / "config.json").read_text())
    # the only deliberate differences (docs/cli.md): our hostname and the spec version we speak
    for doc in docs.values():
        doc.pop("hostname")
        doc.pop("ociVersion")
    assert docs["runm"] == docs["runc"]


def test_relative_paths_reach_the_shim_absolute(host_rt, tmp_path):
    """The shim runs in /: relative --log, --pid-file, --bundle must name the caller's files."""
    tag = uuid.uuid4().hex[:8]
    work = tmp_path / "work"
    work.mkdir()
    bundle_with(work, ["sleep", "1000"], name="b",
                mutate=lambda c: c.update(hooks={"createRuntime": [{"path": "/bin/false"}]}))
    r = subprocess.run([host_rt.bin, "--root", str(host_rt.root), "--log", f"log-{tag}.out", "create", "-b", "b",
                        "--pid-file", f"pid-{tag}", "c1"], cwd=work, capture_output=True, text=True,
                       env=host_rt.env, stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 1
    log = work / f"log-{tag}.out"
    assert "createRuntime hook /bin/false" in log.read_text()  # written by the shim
    assert not pathlib.Path(f"/log-{tag}.out").exists()
    # a working container: the shim writes the relative pid file; a detached exec's too
    bundle_with(work, ["sleep", "1000"], name="b2")
    with open(work / "create.out", "wb") as out:
        r = subprocess.run([host_rt.bin, "--root", str(host_rt.root), "--log", f"log-{tag}.out", "create", "-b",
                            "b2", "--pid-file", f"pid-{tag}", "c2"], cwd=work, stdout=out, stderr=out,
                           env=host_rt.env, stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 0, (work / "create.out").read_text()
    assert int((work / f"pid-{tag}").read_text()) == host_rt.state("c2")["pid"]
    assert not pathlib.Path(f"/pid-{tag}").exists()
    r = subprocess.run([host_rt.bin, "--root", str(host_rt.root), "exec", "-d", "--pid-file", f"epid-{tag}", "c2",
                        "sleep", "1"], cwd=work, capture_output=True, text=True, env=host_rt.env,
                       stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 0, r.stderr
    assert int((work / f"epid-{tag}").read_text()) > 0


def test_kill_signal_0_and_all_on_stopped(rt, tmp_path):
    b = bundle_with(tmp_path, ["sleep", "1000"])
    assert rt.create("-b", b, "c1")[0] == 0
    assert rt("start", "c1").returncode == 0
    r = rt("kill", "c1", "0")
    assert r.returncode == 0, r.stderr
    assert rt.state("c1")["status"] == "running"
    assert rt("kill", "c1", "KILL").returncode == 0
    rt.wait_status("c1", "stopped")
    r = rt("kill", "-a", "c1", "KILL")
    assert r.returncode == 0, r.stderr  # runc 1.1.5
    r = rt("kill", "c1", "0")
    assert r.returncode == 1 and "container not running" in r.stderr
    r = rt("kill", "c1")
    assert r.returncode == 1 and "container not running" in r.stderr


def test_ps_on_a_stopped_container(rt, tmp_path):
    b = bundle_with(tmp_path, ["true"])
    assert rt.create("-b", b, "c1")[0] == 0
    assert rt("start", "c1").returncode == 0
    rt.wait_status("c1", "stopped")
    r = rt("ps", "c1")
    assert r.returncode == 0 and r.stdout == "UID        PID  PPID  C STIME TTY          TIME CMD\n", \
        (r.stdout, r.stderr)
    r = rt("ps", "--format", "json", "c1")
    assert r.returncode == 0 and json.loads(r.stdout) == [], (r.stdout, r.stderr)


def test_list_columns_stay_aligned(host_rt, tmp_path):
    ids = ["a", "f" * 64]
    for i, cid in enumerate(ids):
        b = bundle_with(tmp_path, ["sleep", "1000"], name=f"b{i}")
        assert host_rt.create("-b", b, cid)[0] == 0
    r = host_rt("list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    header = lines[0]
    cols = [header.index(c) for c in ("PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    # Go's tabwriter as runc uses it: minwidth 12, padding 3
    assert cols[0] == 64 + 3
    for line in lines[1:]:
        for c in cols:
            assert line[c - 1] == " " and line[c] != " ", (line, c)
        fields = line.split()
        assert len(fields) == 6 and fields[2] == "created" and fields[0] in ids, line  # OWNER too
    assert lines[1].split()[0] == "a"


def test_events_reports_oom(rt, tmp_path):
    if rt.mode == "host-agent":
        pytest.skip("OOM events come from the guest's cgroup; the host agent has none")

    def limit(cfg):
        cfg["linux"]["resources"]["memory"] = {"limit": 32 << 20, "swap": 32 << 20}
    b = bundle_with(tmp_path, ["sh", "-c", "sleep 3; tail /dev/zero; sleep 1000"], mutate=limit)
    assert rt.create("-b", b, "c1")[0] == 0
    ev = rt.popen("events", "--interval", "60s", "c1")
    try:
        assert rt("start", "c1").returncode == 0
        deadline = time.monotonic() + 90
        seen = []
        while time.monotonic() < deadline:
            line = ev.stdout.readline()
            if not line:
                break
            e = json.loads(line)
            seen.append(e["type"])
            if e["type"] == "oom":
                assert e["id"] == "c1"
                break
        assert "oom" in seen, seen
    finally:
        ev.kill()
        ev.wait()


@pytest.mark.parametrize("ns", ["ipc", "uts", "pid", "mount"])
def test_host_namespace_path_is_a_clear_error(rt, tmp_path, ns):
    """runc joins a namespace given by path; a microVM cannot join the host's: create fails
    naming the namespace and the path (only a pod's sandbox namespaces are shared, pods.md),
    and leaves nothing behind. A network namespace path stays fine: the shim joins it."""
    def mutate(cfg):
        for n in cfg["linux"]["namespaces"]:
            if n["type"] == ns:
                n["path"] = f"/proc/1/ns/{'mnt' if ns == 'mount' else ns}"
    b = bundle_with(tmp_path, ["true"], mutate)
    rc, out = rt.create("-b", b, "c1")
    assert rc == 1
    want = f"{ns} namespace /proc/1/ns/{'mnt' if ns == 'mount' else ns}: a namespace on the host cannot be joined"
    assert want in out, out
    assert rt("state", "c1").returncode != 0
    assert not (rt.root / "c1").exists()
