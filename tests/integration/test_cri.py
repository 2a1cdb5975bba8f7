"""Pods through containerd's CRI, driven as kubelet drives them (docs/pods.md): a private containerd
(root, state, sockets in a temporary directory) whose CRI plugin names runm as the runtime handler
`runm` (the runc shim with BinaryName, the recipe in docs/usage.md), a CNI bridge + host-local
network in a temporary conf directory (the plugins Debian installs in /usr/lib/cni), images imported
with `ctr -n k8s.io image import` (no pulls: the sandbox image is an imported one whose Cmd keeps
running), and a minimal CRI client (tests/integration/cri: a runtime.v1 subset compiled with
grpc_tools at test time). Skipped, with the reason, when grpc, containerd or the microVM stack is
missing here."""
import json
import os
import pathlib
import random
import shutil
import subprocess
import tempfile
import urllib.request
import uuid

import pytest

from cri import client as cri_client
from engine_util import docker_archive, rootfs_tar, stop_process, tail, unmount_under, wait_until
from lifecycle_util import vm_skip_reason

IMAGE = "docker.io/library/runm-test:latest"
PAUSE = "docker.io/library/runm-pause:latest"
NS = "k8s.io"  # the CRI plugin's containerd namespace
RUNC_ROOT = "/run/containerd/runc/" + NS  # the runc shim's --root for it
MiB = 1 << 20

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
  sandbox_image = "{pause}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{d}/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runm]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runm.options]
      BinaryName = "{runm}"
"""


def cni_conflist(d, bridge, subnet):
    return json.dumps({
        "cniVersion": "0.4.0", "name": "runm-cri-test",
        "plugins": [{"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False, "hairpinMode": True,
                     "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                              "dataDir": f"{d}/cni-ipam"}}],
    })


class Env:
    def __init__(self, d, api, proc, log, subnet):
        self.d, self.api, self.proc, self.log, self.subnet = d, api, proc, log, subnet
        self.pods = []

    def sandbox_config(self, name, resources=None):
        pb = self.api.pb
        ns = pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD)  # what kubelet sends
        linux = pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns))
        if resources:
            linux.resources.CopyFrom(pb.LinuxContainerResources(**resources))
        logs = pathlib.Path(self.d) / "logs" / name
        logs.mkdir(parents=True, exist_ok=True)
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=uuid.uuid4().hex, namespace="default", attempt=0),
            hostname=name, log_directory=str(logs), linux=linux)

    def run_pod(self, cfg):
        sid = self.api.RunPodSandbox(config=cfg, runtime_handler="runm").pod_sandbox_id
        self.pods.append(sid)
        return sid

    def container(self, sid, cfg, name, command, attempt=0):
        pb = self.api.pb
        ns = pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD)
        c = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name, attempt=attempt), image=pb.ImageSpec(image=IMAGE),
            command=command, log_path=f"{name}_{attempt}.log",
            linux=pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(namespace_options=ns)))
        cid = self.api.CreateContainer(pod_sandbox_id=sid, config=c, sandbox_config=cfg).container_id
        self.api.StartContainer(container_id=cid)
        return cid

    def exec(self, cid, script, timeout=120):
        for attempt in range(3):
            r = self.api.ExecSync(container_id=cid, cmd=["sh", "-c", script], timeout=timeout)
            if r.exit_code != 128 + 11:
                break
            # busybox in a TCG guest on a loaded host segfaults now and then (test_faults.py, commit
            # aa4ba78; seen here 1 run in ~20): a query is asked again, and says so
            print(f"ExecSync {script!r} in {cid[:12]}: SIGSEGV ({r.stderr!r}), attempt {attempt + 1}")
        return r.exit_code, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    def state(self, cid):
        return self.api.ContainerStatus(container_id=cid).status

    def vms(self, naming=None):
        """VMMs (QEMU, or runm-vmm without its vhost-user device servers) of this containerd's
        containers: their parent (the runm shim) names a bundle under our state directory (and
        NAMING, a container id, if given)."""
        want = (naming or self.d).encode()
        out = []
        for p in pathlib.Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                cmd = (p / "cmdline").read_bytes().split(b"\0")
                if not (b"qemu-system" in cmd[0] or (cmd[0].endswith(b"runm-vmm") and b"vhost-user" not in cmd)):
                    continue
                ppid = (p / "stat").read_text().rsplit(")", 1)[1].split()[1]
                pcmd = pathlib.Path(f"/proc/{ppid}/cmdline").read_bytes()
            except (OSError, IndexError):
                continue
            if self.d.encode() in pcmd and want in pcmd:
                out.append(int(p.name))
        return out

    def procs_naming(self, *words):
        """pids of processes whose command line names any of WORDS (shims, runm, QEMU)."""
        out = []
        for p in pathlib.Path("/proc").iterdir():
            if not p.name.isdigit() or int(p.name) == os.getpid():
                continue
            try:
                cmd = (p / "cmdline").read_bytes()
            except OSError:
                continue
            if any(w.encode() in cmd for w in words):
                out.append((int(p.name), cmd.replace(b"\0", b" ").decode(errors="replace")[:200]))
        return out

    def remove_pod(self, sid):
        self.api.StopPodSandbox(pod_sandbox_id=sid)
        self.api.RemovePodSandbox(pod_sandbox_id=sid)
        if sid in self.pods:
            self.pods.remove(sid)


@pytest.fixture(scope="module")
def cri(build_dir, tmp_path_factory):
    why = cri_client.missing()
    if why:
        pytest.skip(why)
    for tool in ("containerd", "ctr", "containerd-shim-runc-v2"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (apt-get install containerd; hack/deps.sh)")
    for plugin in ("bridge", "host-local", "loopback"):
        if not os.access(f"/usr/lib/cni/{plugin}", os.X_OK):
            pytest.skip(f"CNI plugin /usr/lib/cni/{plugin} is missing (apt-get install containernetworking-plugins)")
    why = vm_skip_reason(build_dir, tmp_path_factory.mktemp("vmprobe"))
    if why:
        pytest.skip(why)
    d = tempfile.mkdtemp(prefix="rcri-", dir="/tmp")
    # containerd's default cgroup parent for pods without one (/k8s.io): ours to remove if we made it
    ns_groups = [pathlib.Path(m) / NS for m in cgroup_mounts() if not (pathlib.Path(m) / NS).exists()]
    tag = uuid.uuid4().hex[:6]
    bridge, subnet = "rcri" + tag, f"10.{random.randint(200, 249)}.{random.randint(0, 255)}.0/24"
    os.makedirs(f"{d}/net.d")
    with open(f"{d}/net.d/10-runm-test.conflist", "w") as f:
        f.write(cni_conflist(d, bridge, subnet))
    with open(f"{d}/config.toml", "w") as f:
        f.write(CONFIG.format(d=d, runm=build_dir / "runm", pause=PAUSE))
    log = open(f"{d}/containerd.log", "w")
    p = subprocess.Popen(["containerd", "--config", f"{d}/config.toml"], stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT)
    api = None
    env = None

    def ctr(*args):
        return subprocess.run(["ctr", "-a", f"{d}/c.sock", "-n", NS, *args], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=240)
    try:
        up = wait_until(lambda: p.poll() is not None or ctr("version").returncode == 0, 60)
        if p.poll() is not None or not up:
            pytest.skip(f"containerd did not start here (exit {p.poll()}): {tail(log.name)}")
        tmp = tmp_path_factory.mktemp("cri-img")
        layer = rootfs_tar(tmp)
        for ref, cmd, name in ((IMAGE, ("sh",), "image.tar"), (PAUSE, ("sleep", "2147483647"), "pause.tar")):
            r = ctr("image", "import", str(docker_archive(tmp, layer, ref, name=name, cmd=cmd)))
            assert r.returncode == 0, r.stderr + tail(log.name)
        api = cri_client.Cri(f"{d}/c.sock", tmp_path_factory.mktemp("cri-stubs"))
        v = api.Version(version="v1")
        assert v.runtime_name == "containerd" and v.runtime_api_version.startswith("v1"), v
        # the CRI plugin sees the imported images (kubelet asks before it would pull)
        for ref in (IMAGE, PAUSE):
            assert api.ImageStatus(image=api.pb.ImageSpec(image=ref)).image.id, ref
        env = Env(d, api, p, log.name, subnet)
        yield env
    finally:
        for sid in list(env.pods if env else []):
            try:
                env.remove_pod(sid)
            except Exception as e:  # noqa: BLE001 - cleanup goes on
                print(f"cleanup of pod {sid}: {e}")
        if api:
            api.close()
        stop_process(p, grace=30)
        log.close()
        keep = tmp_path_factory.mktemp("cri-log") / "containerd.log"
        shutil.copy(f"{d}/containerd.log", keep)
        errors = [ln for ln in keep.read_text(errors="replace").splitlines() if "level=error" in ln]
        print(f"containerd's log: {keep}; its errors:", *errors[-20:], sep="\n")
        unmount_under(d)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
        for g in ns_groups:
            try:
                g.rmdir()
            except OSError:
                pass
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(autouse=True)
def each_test_removes_its_pods(request):
    """A failed test's pods go with it: the next test starts with no VM of this containerd."""
    yield
    if "cri" in request.fixturenames:
        cri = request.getfixturevalue("cri")
        for sid in list(cri.pods):
            try:
                cri.remove_pod(sid)
            except Exception as e:  # noqa: BLE001 - cleanup goes on
                print(f"cleanup of pod {sid}: {e}")
        wait_until(lambda: not cri.vms(), 30)


def wait_state(cri, cid, state, timeout=60):
    return wait_until(lambda: cri.state(cid).state == state, timeout)


def test_pod_one_vm_two_containers_localhost_ip_exec_exit_stop_remove(cri):
    pb = cri.api.pb
    vms0 = cri.vms()
    assert not vms0, f"VMs of this containerd before the test: {vms0}"
    cfg = cri.sandbox_config("web")
    sid = cri.run_pod(cfg)
    st = cri.api.PodSandboxStatus(pod_sandbox_id=sid).status
    assert st.state == pb.SANDBOX_READY and st.runtime_handler == "runm", st
    ip = st.network.ip
    assert ip and ip.startswith(cri.subnet.rsplit(".", 2)[0]), f"pod IP {ip!r} not in {cri.subnet}"
    assert len(cri.vms()) == 1, "RunPodSandbox boots one microVM"
    assert len(cri.vms(naming=sid)) == 1, "the VM is the sandbox's (its shim's bundle names the sandbox id)"
    info = json.loads(cri.api.PodSandboxStatus(pod_sandbox_id=sid, verbose=True).info["info"])
    netns = [n["path"] for n in info["runtimeSpec"]["linux"]["namespaces"] if n["type"] == "network"][0]
    assert os.path.exists(netns), netns

    srv = cri.container(sid, cfg, "server", ["sh", "-c", "mkdir -p /www && echo page-from-server > /www/index.html"
                                                      " && echo serving && exec httpd -f -p 8080 -h /www"])
    cli = cri.container(sid, cfg, "client", ["sleep", "100000"])
    assert wait_state(cri, srv, pb.CONTAINER_RUNNING) and wait_state(cri, cli, pb.CONTAINER_RUNNING)
    assert len(cri.vms()) == 1, "the pod's containers join the sandbox's VM"
    ids = {c.id for c in cri.api.ListContainers(filter=pb.ContainerFilter(pod_sandbox_id=sid)).containers}
    assert ids == {srv, cli}, ids

    # localhost between the two containers
    def fetch():
        rc, out, _ = cri.exec(cli, "wget -q -O - http://127.0.0.1:8080/index.html")
        return rc == 0 and out
    assert wait_until(fetch, 60) == "page-from-server\n"
    # the pod IP is both containers' eth0 address, and the host reaches it over the CNI bridge
    for c in (srv, cli):
        rc, out, err = cri.exec(c, "ip -4 -o addr show dev eth0")
        assert rc == 0 and f" {ip}/" in out, (c, out, err)
    with urllib.request.urlopen(f"http://{ip}:8080/index.html", timeout=30) as r:
        assert r.read() == b"page-from-server\n"
    # one network and UTS namespace, separate pid namespaces and filesystems
    views = {}
    for c in (srv, cli):
        rc, out, err = cri.exec(c, "for n in net uts pid; do readlink /proc/self/ns/$n; done; hostname; "
                                   "ls /proc | grep '^[0-9]' | while read p; do cat /proc/$p/comm; done 2>/dev/null;"
                                   " true")
        assert rc == 0, err
        views[c] = out.splitlines()
    assert views[srv][0] == views[cli][0] and views[srv][1] == views[cli][1], views
    assert views[srv][2] != views[cli][2], views
    assert views[srv][3] == views[cli][3] == "web", views
    assert "httpd" in views[srv][4:] and "httpd" not in views[cli][4:], views
    assert "sleep" in views[cli][4:] and "sleep" not in views[srv][4:], views
    rc, _, _ = cri.exec(cli, "test -e /www/index.html")
    assert rc == 1, "the client sees the server's files"
    # but the pod's IPC: one System V namespace, and /dev/shm (containerd mounts the sandbox's into each)
    ipc = {c: cri.exec(c, "readlink /proc/self/ns/ipc")[1] for c in (srv, cli)}
    assert ipc[srv] == ipc[cli] != "", ipc
    assert cri.exec(srv, "echo shm-of-the-pod > /dev/shm/x")[0] == 0
    assert cri.exec(cli, "cat /dev/shm/x")[1] == "shm-of-the-pod\n"
    # ExecSync: stdout, stderr and the exit code
    rc, out, err = cri.exec(cli, "echo out-of-exec; echo err-of-exec >&2; exit 5")
    assert (rc, out, err) == (5, "out-of-exec\n", "err-of-exec\n")
    # the container's stdout reaches its CRI log
    logf = pathlib.Path(cfg.log_directory) / "server_0.log"
    assert wait_until(lambda: logf.exists() and "stdout F serving" in logf.read_text(), 30), tail(logf)

    # a container that exits 3: ContainerStatus says so, the pod lives on
    bad = cri.container(sid, cfg, "exits", ["sh", "-c", "sleep 1; exit 3"])
    assert wait_state(cri, bad, pb.CONTAINER_EXITED, 120), cri.state(bad)
    s = cri.state(bad)
    assert s.exit_code == 3 and s.reason == "Error" and s.finished_at >= s.started_at > 0, s
    # kubelet's restart: a new container of the same name, attempt 1, in the same VM
    again = cri.container(sid, cfg, "exits", ["sh", "-c", "echo restarted"], attempt=1)
    assert wait_state(cri, again, pb.CONTAINER_EXITED, 120), cri.state(again)
    assert cri.state(again).exit_code == 0
    for c in (bad, again):
        cri.api.RemoveContainer(container_id=c)
    assert len(cri.vms()) == 1
    # the stats kubelet polls: the member's host cgroup (its shim), no error
    for c in (srv, cli):
        st = cri.api.ContainerStats(container_id=c).stats
        assert st.attributes.id == c and st.cpu.timestamp > 0 and st.memory.timestamp > 0, st

    # StopContainer / RemoveContainer of a member leave the VM and the other member up
    cri.api.StopContainer(container_id=cli, timeout=5)
    s = cri.state(cli)
    # sleep, PID 1 of its pid namespace, ignores TERM: KILL after the timeout
    assert s.state == pb.CONTAINER_EXITED and s.exit_code == 137, s
    cri.api.RemoveContainer(container_id=cli)
    ids = {c.id for c in cri.api.ListContainers(filter=pb.ContainerFilter(pod_sandbox_id=sid)).containers}
    assert ids == {srv}, ids
    assert not os.path.exists(f"{RUNC_ROOT}/{cli}")
    assert len(cri.vms()) == 1, "removing a member leaves the pod's VM"
    rc, out, _ = cri.exec(srv, "wget -q -O - http://127.0.0.1:8080/index.html")
    assert (rc, out) == (0, "page-from-server\n")
    assert cri.api.PodSandboxStatus(pod_sandbox_id=sid).status.state == pb.SANDBOX_READY

    # StopPodSandbox / RemovePodSandbox: the VM ends, no runm state, shim or QEMU is left
    cri.api.StopPodSandbox(pod_sandbox_id=sid)
    assert cri.state(srv).state == pb.CONTAINER_EXITED
    assert cri.api.PodSandboxStatus(pod_sandbox_id=sid).status.state == pb.SANDBOX_NOTREADY
    assert wait_until(lambda: not cri.vms(), 30), "StopPodSandbox leaves the VM running"
    cri.remove_pod(sid)
    # the CNI DEL ran: the pod's address is free again and its netns gone
    assert not os.path.exists(f"{cri.d}/cni-ipam/runm-cri-test/{ip}"), "the pod IP is still allocated"
    assert not os.path.exists(netns), f"the pod's network namespace {netns} is left"
    ids = (sid, srv, cli, bad, again)
    for i in ids:
        assert not os.path.exists(f"{RUNC_ROOT}/{i}"), f"runm state of {i} left behind"
    left = wait_until(lambda: not cri.procs_naming(*ids), 30)
    assert left, f"processes left: {cri.procs_naming(*ids)}"
    links = [os.readlink(e.path) for e in os.scandir("/run/runm/s") if e.is_symlink()] \
        if os.path.isdir("/run/runm/s") else []
    assert not [ln for ln in links if any(i in ln for i in ids)], links


def qemu_size(pid, want):
    """QEMU's -m and -smp CPU count; WANT itself for runm-vmm (the guest's view is checked too)."""
    cmd = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    if "qemu-system" not in cmd[0]:
        return want
    return cmd[cmd.index("-m") + 1], cmd[cmd.index("-smp") + 1].split(",")[0]


def test_pod_sizing_from_sandbox_resources(cri):
    """kubelet sends the pod's summed limits in LinuxPodSandboxConfig.resources; containerd passes
    them to the sandbox as io.kubernetes.cri.sandbox-memory / -cpu-quota / -cpu-period; the VM gets
    memory + 128 MiB and ⌈quota/period⌉ vCPUs (docs/pods.md)."""
    pb = cri.api.pb
    cpus = min(2, os.cpu_count())
    # as kubelet sends them: the limits' sum (quota/period, memory), shares from the requests, and the
    # RuntimeClass overhead apart (containerd does not pass it on: it does not size the VM)
    cfg = cri.sandbox_config("sized", resources={"memory_limit_in_bytes": 192 * MiB, "cpu_quota": cpus * 100000,
                                                 "cpu_period": 100000, "cpu_shares": 1024})
    cfg.linux.overhead.CopyFrom(pb.LinuxContainerResources(memory_limit_in_bytes=256 * MiB, cpu_quota=10000,
                                                           cpu_period=100000, cpu_shares=102))
    sid = cri.run_pod(cfg)
    vms = cri.vms()
    assert len(vms) == 1, vms
    want = (f"{192 + 128}M", str(cpus))
    assert qemu_size(vms[0], want) == want
    c = cri.container(sid, cfg, "app", ["sleep", "100000"])
    assert wait_state(cri, c, pb.CONTAINER_RUNNING)
    rc, out, err = cri.exec(c, "nproc; sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo")
    assert rc == 0, err
    n, mem_kb = out.split()
    assert int(n) == cpus, out
    assert 192 * 1024 < int(mem_kb) <= 320 * 1024, f"guest MemTotal {mem_kb} kB for a 320 MiB VM"
    cri.remove_pod(sid)
    assert wait_until(lambda: not cri.vms(), 30)
    assert not os.path.exists(f"{RUNC_ROOT}/{sid}") and not os.path.exists(f"{RUNC_ROOT}/{c}")


def test_pod_without_resources_gets_the_default_size(cri):
    cfg = cri.sandbox_config("plain")
    sid = cri.run_pod(cfg)
    vms = cri.vms()
    assert len(vms) == 1 and qemu_size(vms[0], ("256M", "1")) == ("256M", "1"), vms
    cri.remove_pod(sid)
    assert wait_until(lambda: not cri.vms(), 30)


def cgroup_mounts():
    """Mount points of the host's cgroup hierarchies (v1 controllers and the v2 tree)."""
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if fstype in ("cgroup", "cgroup2"):
                out.append(mnt)
    return out


def memory_limit_file(parent):
    """The memory limit file of the cgroup PARENT ('/a/b') in the memory hierarchy, or None."""
    with open("/proc/self/mounts") as f:
        for line in f:
            _, mnt, fstype, opts = line.split()[:4]
            if fstype == "cgroup" and "memory" in opts.split(","):
                return pathlib.Path(mnt + parent) / "memory.limit_in_bytes"
            if fstype == "cgroup2" and "memory" in (pathlib.Path(mnt) / "cgroup.controllers").read_text().split():
                return pathlib.Path(mnt + parent) / "memory.max"
    return None


@pytest.fixture
def pod_cgroup():
    """A kubelet-like pod cgroup (/runm-cri-<tag>/pod<uid>, cgroupfs driver) whose memory limit the
    test sets, as kubelet sets the pod's limits + the RuntimeClass overhead; removed afterwards."""
    parent = f"/runm-cri-{uuid.uuid4().hex[:6]}/pod{uuid.uuid4().hex[:8]}"
    lim = memory_limit_file(parent)
    if lim is None:
        pytest.skip("no memory cgroup controller here")
    lim.parent.mkdir(parents=True)
    yield parent, lim
    for mnt in cgroup_mounts():
        for g in (parent, parent.rsplit("/", 1)[0]):
            d = pathlib.Path(mnt + g)
            for sub in sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: len(str(p)), reverse=True) + [d]:
                try:
                    sub.rmdir()
                except OSError:
                    pass


def test_pod_cgroup_limit_must_hold_the_vm(cri, pod_cgroup):
    """kubelet puts the pod in a cgroup limited to the pod's limits + the RuntimeClass overhead and
    names it as cgroup_parent. The VM (limits + 128 MiB guest RAM) and its VMM (128 MiB) must fit:
    an overhead of 256 MiB is enough, less fails RunPodSandbox with both numbers and leaves nothing
    (docs/usage.md, Kubernetes)."""
    import grpc
    pb = cri.api.pb
    parent, lim = pod_cgroup
    res = {"memory_limit_in_bytes": 192 * MiB, "cpu_quota": 100000, "cpu_period": 100000}
    lim.write_text(str((192 + 160) * MiB))
    cfg = cri.sandbox_config("small-overhead", resources=res)
    cfg.linux.cgroup_parent = parent
    with pytest.raises(grpc.RpcError) as e:
        cri.run_pod(cfg)
    msg = e.value.details()
    assert "a memory limit of 352 MiB holds it" in msg and "320 MiB of guest RAM + 128 MiB for the VMM" in msg, msg
    assert wait_until(lambda: not cri.vms(), 30), "a VM is left after the failed RunPodSandbox"
    lim.write_text(str((192 + 256) * MiB))
    cfg = cri.sandbox_config("enough-overhead", resources=res)
    cfg.linux.cgroup_parent = parent
    sid = cri.run_pod(cfg)
    assert len(cri.vms(naming=sid)) == 1
    c = cri.container(sid, cfg, "app", ["sleep", "100000"])
    assert wait_state(cri, c, pb.CONTAINER_RUNNING)
    rc, out, err = cri.exec(c, "echo in-pod-cgroup")
    assert (rc, out) == (0, "in-pod-cgroup\n"), err
    # the VM is in the sandbox's group under the pod's
    qemu = cri.vms(naming=sid)[0]
    groups = pathlib.Path(f"/proc/{qemu}/cgroup").read_text()
    assert f"{parent}/{sid}" in groups, groups
    cri.remove_pod(sid)
    assert wait_until(lambda: not cri.vms(), 30)
