"""The container's host cgroup (runtime/host_cgroup.c): the shim and every VMM-side process
live in the spec's linux.cgroupsPath, so engines' stats describe this container's VM and its
CPU limit holds for the VM; the group goes with `delete` (also after kill -9 of the shim)."""
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from test_podman import _podman, image, run_args  # noqa: F401 (image is a fixture)

CG = "/sys/fs/cgroup"


def hierarchy(ctl):
    """The mount point of the hierarchy holding controller CTL (v1), or None."""
    for line in open("/proc/self/mountinfo"):
        pre, post = line.split(" - ", 1)
        fstype, _src, opts = post.split()[:3]
        if fstype == "cgroup" and ctl in opts.split(","):
            return pre.split()[4]
    return None


def descendants(pid):
    """PID and every process below it (children by /proc/*/stat ppid)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            ppid = int(st.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def procs(path):
    return {int(x) for x in open(os.path.join(path, "cgroup.procs")).read().split()}


def set_spec(bundle, cgpath, quota=None, args=("sleep", "1000")):
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["process"]["args"] = list(args)
    cfg["process"]["terminal"] = False
    cfg.setdefault("linux", {})["cgroupsPath"] = cgpath
    if quota:
        cfg["linux"].setdefault("resources", {})["cpu"] = {"quota": quota, "period": 100000, "shares": 512}
    (bundle / "config.json").write_text(json.dumps(cfg))


@pytest.fixture
def top():
    """A parent group of our own, removed afterwards (with anything left in it)."""
    name = "runm-test-" + uuid.uuid4().hex[:8]
    yield name
    for mnt in (hierarchy(c) for c in ("cpu", "memory", "pids", "cpuset")):
        if mnt and os.path.isdir(os.path.join(mnt, name)):
            for d, _dirs, _files in sorted(os.walk(os.path.join(mnt, name)), key=lambda t: -len(t[0])):
                try:
                    os.rmdir(d)
                except OSError:
                    pass


def need_v1():
    if not hierarchy("memory") or not hierarchy("cpu"):
        pytest.skip("this host has no cgroup v1 cpu and memory hierarchies (the v2 path has no test here)")


def test_vm_processes_live_in_cgroups_path_with_cpu_limit_and_go_with_delete(vm_runm, bundle, top):
    need_v1()
    cid = "cg-" + uuid.uuid4().hex[:8]
    path = f"/{top}/{cid}"
    set_spec(bundle, path, quota=50000)
    vm_runm.ids.append(cid)
    rc, err = vm_runm.create("--bundle", str(bundle), cid)
    assert rc == 0, err
    assert vm_runm("start", cid).returncode == 0
    shim = vm_runm.state(cid)["pid"]
    tree = descendants(shim)
    assert len(tree) >= 2, f"the shim {shim} has no VMM children: {tree}"
    for ctl in ("cpu", "memory", "pids", "cpuset", "cpuacct"):
        mnt = hierarchy(ctl)
        if not mnt:
            continue
        got = procs(mnt + path)
        assert set(tree) <= got, f"{ctl}: {sorted(set(tree) - got)} of the VM's processes are not in {path}"
    cpu = hierarchy("cpu") + path
    assert open(cpu + "/cpu.cfs_quota_us").read().strip() == "50000"
    assert open(cpu + "/cpu.cfs_period_us").read().strip() == "100000"
    assert open(cpu + "/cpu.shares").read().strip() == "512"
    mem = hierarchy("memory") + path
    # the VM's memory is charged here (QEMU's guest RAM and code): engines' stats are the VM's
    assert int(open(mem + "/memory.usage_in_bytes").read()) > 16 << 20
    assert vm_runm("kill", cid, "KILL").returncode == 0
    vm_runm.wait_status(cid, "stopped")
    assert vm_runm("delete", cid).returncode == 0
    for ctl in ("cpu", "memory"):
        assert not os.path.exists(hierarchy(ctl) + path), f"{ctl}{path} left behind"
        assert os.path.isdir(hierarchy(ctl) + f"/{top}"), "the engine's parent group is not runm's to remove"


def test_systemd_style_path_names_the_scope(vm_runm, bundle):
    """slice:prefix:name as systemd lays it out: a-b.slice is /a.slice/a-b.slice."""
    need_v1()
    cid = "cgs-" + uuid.uuid4().hex[:8]
    top = "runmtest" + uuid.uuid4().hex[:6]
    set_spec(bundle, f"{top}-x.slice:runm:{cid}")
    vm_runm.ids.append(cid)
    mem = hierarchy("memory")
    try:
        rc, err = vm_runm.create("--bundle", str(bundle), cid)
        assert rc == 0, err
        scope = mem + f"/{top}.slice/{top}-x.slice/runm-{cid}.scope"
        assert vm_runm.state(cid)["pid"] in procs(scope)
        assert vm_runm("delete", "--force", cid).returncode == 0
        assert not os.path.exists(scope)
    finally:
        for d in (f"/{top}.slice/{top}-x.slice", f"/{top}.slice"):
            for ctl in ("cpu", "memory", "pids", "cpuset", "cpuacct", "blkio", "devices", "freezer"):
                if hierarchy(ctl) and os.path.isdir(hierarchy(ctl) + d):
                    os.rmdir(hierarchy(ctl) + d)


def test_delete_after_kill9_of_the_shim_removes_the_group(vm_runm, bundle, top):
    need_v1()
    cid = "cgk-" + uuid.uuid4().hex[:8]
    path = f"/{top}/{cid}"
    set_spec(bundle, path)
    vm_runm.ids.append(cid)
    rc, err = vm_runm.create("--bundle", str(bundle), cid)
    assert rc == 0, err
    shim = vm_runm.state(cid)["pid"]
    tree = descendants(shim)
    os.kill(shim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in tree):
        time.sleep(0.1)
    r = vm_runm("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(hierarchy("memory") + path)


def test_bad_cgroups_path_is_a_clear_error_and_leaves_nothing(vm_runm, bundle, top):
    cid = "cgb-" + uuid.uuid4().hex[:8]
    set_spec(bundle, f"/{top}/../../etc")
    rc, err = vm_runm.create("--bundle", str(bundle), cid)
    assert rc != 0
    assert 'cgroupsPath "/' in err and '".."' in err, err
    assert not (vm_runm.root / cid).exists()


@pytest.fixture
def pmvm(build_dir, image, tmp_path_factory):
    yield from _podman(build_dir, "vm", tmp_path_factory)


def _size(text):
    """podman's "40.2MB" / "1.5GB" / "900kB" → bytes."""
    units = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}
    for u in sorted(units, key=len, reverse=True):
        if text.endswith(u):
            return float(text[: -len(u)]) * units[u]
    return float(text)


def test_podman_stats_describe_the_vm(pmvm, image):
    """podman (cgroupfs) reads the container's cgroup: the VM's memory and CPU, nothing else."""
    need_v1()
    n = pmvm.name()
    r = pmvm(*run_args(n, "-d", "--cpus", "0.5"), image, "sleep", "1000")
    assert r.returncode == 0, r.stderr
    cid = pmvm("inspect", "--format", "{{.Id}}", n).stdout.strip()
    shim = int(pmvm("inspect", "--format", "{{.State.Pid}}", n).stdout)
    memcg = [ln.split(":", 2)[2].strip() for ln in open(f"/proc/{shim}/cgroup") if ":memory:" in ln][0]
    assert memcg.endswith(cid[:12]) or cid in memcg, f"the shim sits in {memcg}, not the container's cgroup"
    assert "conmon" not in memcg
    for p in descendants(shim):
        assert p in procs(hierarchy("memory") + memcg)
    assert open(hierarchy("cpu") + memcg + "/cpu.cfs_quota_us").read().strip() == "50000"
    r = pmvm("stats", "--no-stream", "--format", "json", n)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)[0]
    used = _size(st["mem_usage"].split("/")[0].strip())
    assert used > 16e6, st  # the VM (QEMU and its guest RAM in use), not an empty group
    # podman's cpu_time is the group's cpuacct: the CPU of this VM's processes (the shim's tree,
    # reaped children included), not the shared conmon group's
    hz = os.sysconf("SC_CLK_TCK")
    vm_cpu = 0.0
    for p in descendants(shim):
        f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        vm_cpu += sum(int(x) for x in f[11:15]) / hz
    ns = int(open(hierarchy("cpuacct") + memcg + "/cpuacct.usage").read())
    assert abs(ns / 1e9 - vm_cpu) < 0.5 + 0.3 * vm_cpu, (ns, vm_cpu)
    t = st["cpu_time"]
    secs = float(t[:-2]) / 1e3 if t.endswith("ms") else float(t.rstrip("s"))
    assert abs(secs - ns / 1e9) < 0.5 + 0.3 * vm_cpu, (st, ns)


def test_memory_limit_above_below_the_vm_is_a_clear_error(vm_runm, bundle, top):
    """A limit already on the parent (kubelet's pod cgroup) smaller than guest RAM + the VMM's
    overhead would OOM-kill QEMU later: create says so and leaves nothing; a big enough one
    is fine."""
    need_v1()
    mem = hierarchy("memory")
    os.makedirs(f"{mem}/{top}")
    with open(f"{mem}/{top}/memory.limit_in_bytes", "w") as f:
        f.write(str(200 << 20))
    cid = "cgm-" + uuid.uuid4().hex[:8]
    set_spec(bundle, f"/{top}/{cid}")
    vm_runm.ids.append(cid)
    rc, err = vm_runm.create("--bundle", str(bundle), cid)
    assert rc != 0
    assert f"host cgroup /{top}/{cid}: a memory limit of 200 MiB holds it" in err, err
    assert "MiB of guest RAM + 128 MiB for the VMM" in err, err
    assert not (vm_runm.root / cid).exists()
    assert not os.path.exists(f"{mem}/{top}/{cid}")
    with open(f"{mem}/{top}/memory.limit_in_bytes", "w") as f:
        f.write(str(2 << 30))
    rc, err = vm_runm.create("--bundle", str(bundle), cid)
    assert rc == 0, err
    assert vm_runm.state(cid)["pid"] in procs(f"{mem}/{top}/{cid}")
