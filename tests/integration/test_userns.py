"""User namespaces as runc creates them (issue 15): linux.namespaces "user" with
linux.uidMappings / gidMappings. The container's init runs in a new user namespace whose maps
the agent writes before it goes on; container root is uid 0 inside (host/guest 100000); exec'd
processes join the same user namespace; files owned by unmapped ids (the rootfs is root's)
cannot be written, as with runc. Runs in both modes (lifecycle_util.MODES)."""
import json
import os
import stat

from conftest import make_bundle

INIT_USERNS = "user:[4026531837]"  # the kernel's initial user namespace (PROC_USER_INIT_INO)


def reachable(path):
    """With the agent on the host the rootfs is the bundle's own: its directories must be
    searchable by the container's root (host uid 100000), as with runc (pytest's are 0700)."""
    for d in [path] + list(path.parents):
        m = os.stat(d).st_mode
        if not m & stat.S_IXOTH:
            os.chmod(d, stat.S_IMODE(m) | stat.S_IXOTH)


def userns_bundle(tmp_path, args=("sleep", "1000"), mutate=None):
    b = make_bundle(tmp_path / "bundle", list(args))
    reachable(b)
    cfg = json.loads((b / "config.json").read_text())
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    if mutate:
        mutate(cfg)
    (b / "config.json").write_text(json.dumps(cfg))
    return b


def run_in(rt, cid, *args):
    r = rt("exec", cid, *args)
    assert r.returncode == 0, f"exec {args}: {r.stderr}"
    return r.stdout


def test_init_and_exec_run_in_a_new_mapped_user_namespace(rt, tmp_path):
    b = userns_bundle(tmp_path)
    rc, err = rt.create("-b", b, "c1", out=tmp_path / "create.out")
    assert rc == 0, err
    assert rt("start", "c1").returncode == 0
    want = "0 100000 65536"
    # the init's maps (pid 1 of the container) and the exec'd process's own
    assert run_in(rt, "c1", "cat", "/proc/1/uid_map").split() == want.split()
    assert run_in(rt, "c1", "cat", "/proc/1/gid_map").split() == want.split()
    assert run_in(rt, "c1", "cat", "/proc/self/uid_map").split() == want.split()
    assert run_in(rt, "c1", "cat", "/proc/self/gid_map").split() == want.split()
    assert run_in(rt, "c1", "id", "-u").strip() == "0"
    assert run_in(rt, "c1", "id", "-g").strip() == "0"
    init_ns = run_in(rt, "c1", "readlink", "/proc/1/ns/user").strip()
    exec_ns = run_in(rt, "c1", "readlink", "/proc/self/ns/user").strip()
    assert init_ns.startswith("user:[") and init_ns != INIT_USERNS
    assert exec_ns == init_ns
    # setgroups stays allowed (runc as root does not deny it)
    assert run_in(rt, "c1", "cat", "/proc/self/setgroups").strip() == "allow"


def test_files_of_unmapped_ids_are_not_writable(rt, tmp_path):
    b = userns_bundle(tmp_path)
    rc, err = rt.create("-b", b, "c1", out=tmp_path / "create.out")
    assert rc == 0, err
    assert rt("start", "c1").returncode == 0
    # /etc/passwd belongs to (host) root, which the container does not map: the overflow id
    assert run_in(rt, "c1", "stat", "-c", "%u %g", "/etc/passwd").split() == ["65534", "65534"]
    r = rt("exec", "c1", "sh", "-c", "echo x >> /etc/passwd")
    assert r.returncode != 0
    assert "Permission denied" in r.stderr or "Operation not permitted" in r.stderr, r.stderr


def test_mappings_without_root_fail_as_runc(rt, tmp_path):
    def no_root(cfg):
        cfg["linux"]["uidMappings"] = [{"containerID": 1, "hostID": 100001, "size": 10}]
    b = userns_bundle(tmp_path, mutate=no_root)
    rc, err = rt.create("-b", b, "c1", out=tmp_path / "create.out")
    assert rc != 0
    assert "User namespaces enabled, but no user mapping found." in err


def test_mappings_without_a_user_namespace_fail_as_runc(rt, tmp_path):
    def no_ns(cfg):
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "user"]
    b = userns_bundle(tmp_path, mutate=no_ns)
    rc, err = rt.create("-b", b, "c1", out=tmp_path / "create.out")
    assert rc != 0
    assert "User namespace mappings specified, but USER namespace isn't enabled in the config" in err


MAPS = {"uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}


def test_pod_with_user_namespaces(build_dir, tmp_path):
    """A CRI pod whose containers have user namespaces: the sandbox's is new; a member names
    the sandbox's user namespace by path and joins its network, ipc and uts namespaces: in the
    guest it joins the sandbox's user namespace (first, as runc joins paths) and its own pid and
    mount namespaces are owned by it."""
    from lifecycle_util import Runm, vm_skip_reason
    from net_util import Netns
    import test_pods as pods
    why = vm_skip_reason(build_dir, tmp_path / "probe")
    if why:
        import pytest
        pytest.skip(why)
    rt = Runm(build_dir, tmp_path / "root", "vm")
    net = Netns()
    try:
        net.veth("eth0", "peer0", pods.POD_V4)
        sb = pods.bundle(tmp_path, "sb", ["sleep", "100000"], {pods.CRI_TYPE: "sandbox", pods.CRI_SANDBOX: "sb"},
                         [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"},
                          {"type": "network", "path": net.path}])
        cfg = json.loads((sb / "config.json").read_text())
        cfg["linux"].update(MAPS)
        cfg["hostname"] = "podhost"
        (sb / "config.json").write_text(json.dumps(cfg))
        reachable(sb)
        spid = pods.create(rt, tmp_path, "sb", sb)
        assert rt("start", "sb").returncode == 0
        ns = [{"type": "pid"}, {"type": "mount"}, {"type": "network", "path": f"/proc/{spid}/ns/net"},
              {"type": "ipc", "path": f"/proc/{spid}/ns/ipc"}, {"type": "uts", "path": f"/proc/{spid}/ns/uts"},
              {"type": "user", "path": f"/proc/{spid}/ns/user"}]
        m = pods.bundle(tmp_path, "m1", ["sleep", "100000"], {pods.CRI_TYPE: "container", pods.CRI_SANDBOX: "sb"}, ns)
        reachable(m)
        pods.create(rt, tmp_path, "m1", m)
        r = rt("start", "m1")
        assert r.returncode == 0, r.stderr
        for cid in ("sb", "m1"):
            assert run_in(rt, cid, "cat", "/proc/self/uid_map").split() == "0 100000 65536".split()
            assert run_in(rt, cid, "id", "-u").strip() == "0"
        assert run_in(rt, "m1", "hostname").strip() == "podhost"
        user = run_in(rt, "sb", "readlink", "/proc/self/ns/user").strip()
        assert user != INIT_USERNS
        assert run_in(rt, "m1", "readlink", "/proc/self/ns/user").strip() == user
        assert run_in(rt, "m1", "readlink", "/proc/1/ns/user").strip() == user
        # its own pid namespace (its init is pid 1 there), the sandbox's network
        assert run_in(rt, "m1", "readlink", "/proc/self/ns/pid") != run_in(rt, "sb", "readlink", "/proc/self/ns/pid")
        assert run_in(rt, "m1", "cat", "/proc/1/cmdline").startswith("sleep")
        assert run_in(rt, "m1", "readlink", "/proc/self/ns/net") == run_in(rt, "sb", "readlink", "/proc/self/ns/net")
    finally:
        for cid in ("m1", "sb"):
            rt("delete", "-f", cid)
        net.close()


def test_a_user_namespace_path_not_of_the_pod_is_a_clear_error(rt, tmp_path):
    def with_path(cfg):
        for n in cfg["linux"]["namespaces"]:
            if n["type"] == "user":
                n["path"] = "/proc/1/ns/user"
    b = userns_bundle(tmp_path, mutate=with_path)
    rc, err = rt.create("-b", b, "c1", out=tmp_path / "create.out")
    assert rc != 0
    assert "user namespace /proc/1/ns/user: a namespace on the host cannot be joined" in err, err


def test_limits_and_oom_score_are_set_from_outside(rt, tmp_path):
    """As runc: rlimits and oomScoreAdj are applied before the user namespace could refuse them
    (raising a hard limit, lowering the score need CAP_SYS_RESOURCE of the initial one). The
    values stay within what this host lets the host-agent harness (maybe without
    CAP_SYS_RESOURCE) set; in the VM they pass the guest's defaults and the score is lowered."""
    oom = "-500" if rt.mode == "vm" else "100"

    def limits(cfg):
        cfg["process"]["rlimits"] = [{"type": "RLIMIT_NPROC", "hard": 50000, "soft": 50000},
                                     {"type": "RLIMIT_NOFILE", "hard": 8192, "soft": 4096}]
        cfg["process"]["oomScoreAdj"] = int(oom)
    b = userns_bundle(tmp_path, mutate=limits)
    rc, err = rt.create("-b", b, "c1", out=tmp_path / "create.out")
    assert rc == 0, err
    assert rt("start", "c1").returncode == 0
    for pid in ("1", "self"):
        lim = run_in(rt, "c1", "cat", f"/proc/{pid}/limits")
        procs = [ln for ln in lim.splitlines() if ln.startswith("Max processes")][0].split()
        files = [ln for ln in lim.splitlines() if ln.startswith("Max open files")][0].split()
        assert procs[2:4] == ["50000", "50000"], lim
        assert files[3:5] == ["4096", "8192"], lim
        assert run_in(rt, "c1", "cat", f"/proc/{pid}/oom_score_adj").strip() == oom
