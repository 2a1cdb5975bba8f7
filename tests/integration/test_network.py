"""Networking: the engine's netns becomes the microVM's network (docs/networking.md).

Each test builds its own network namespaces (a container netns wired to a peer netns by veth
pairs), points a bundle at them the way engines do (a path, no path + hooks, an interface that
appears between create and start) and checks from inside the container: addresses, MAC, MTU,
routes, ping, HTTP both ways with checksums — and that nothing of runm stays in the netns.
"""
import json
import pathlib
import subprocess
import textwrap
import uuid

import pytest

from net_util import Netns, blob_sha256, set_args, set_netns, sh


@pytest.fixture
def runm(vm_runm):
    return vm_runm


def allow_ping(bundle):
    """busybox's ping needs a raw socket: CAP_NET_RAW, which podman and Docker grant by default."""
    p = pathlib.Path(bundle) / "config.json"
    cfg = json.loads(p.read_text())
    for kind in ("bounding", "effective", "permitted"):
        caps = cfg["process"].setdefault("capabilities", {}).setdefault(kind, [])
        if "CAP_NET_RAW" not in caps:
            caps.append("CAP_NET_RAW")
    p.write_text(json.dumps(cfg))


@pytest.fixture
def net():
    n = Netns()
    yield n
    n.close()


def cid(runm):
    i = "net-" + uuid.uuid4().hex[:8]
    runm.ids.append(i)
    return i


def run(runm, bundle, script, timeout=240):
    set_args(bundle, "sh", "-c", script)
    i = cid(runm)
    r = runm("run", "--bundle", bundle, i, timeout=timeout)
    return r, i


def test_netns_by_path_v4_v6_ping_http(runm, bundle, net):
    link = json.loads(net.veth("eth0", "peer0", "172.30.5", "fd00:5", mtu=1400))[0]
    net.serve("172.30.5.1", 8080, blob_mib=64)
    set_netns(bundle, net.path)
    allow_ping(bundle)
    script = textwrap.dedent("""\
        ip -o link show eth0; ip -o addr show; ip route; ip -6 route
        ping -c 2 172.30.5.1 >/dev/null; echo PING4 $?
        ping -c 2 fd00:5::1 >/dev/null; echo PING6 $?
        wget -qO- http://172.30.5.1:8080/hello
        wget -qO- http://172.30.5.1:8080/blob | sha256sum
        head -c 37748736 /dev/urandom | base64 > /dev/shm/up; sha256sum /dev/shm/up
        wget -qO- --post-file=/dev/shm/up http://172.30.5.1:8080/up
    """)
    r, _ = run(runm, bundle, script)
    out = r.stdout
    assert r.returncode == 0, r.stderr + out
    assert link["address"] in out, out                 # the veth's MAC
    assert "mtu 1400" in out, out
    assert "172.30.5.2/24" in out and "fd00:5::2/64" in out, out
    assert "tentative" not in out, out                 # DAD off: usable at once
    assert "default via 172.30.5.1" in out and "default via fd00:5::1" in out, out
    assert "PING4 0" in out and "PING6 0" in out, out
    assert "hello from the peer" in out, out
    assert blob_sha256(64) in out, out                 # 64 MiB guest ← peer, intact
    lines = out.splitlines()
    up = [l.split()[0] for l in lines if l.endswith("/dev/shm/up")]
    assert up and up[0] in lines, out  # 48 MiB guest → peer, intact (busybox wget posts text only)
    assert net.leftovers() == ([], []), net.leftovers()


def test_two_interfaces(runm, bundle, net):
    net.veth("eth0", "peer0", "172.30.6", gateway=True)
    net.veth("eth1", "peer1", "172.30.7", gateway=False)
    net.serve("172.30.6.1", 8081)
    net.serve("172.30.7.1", 8082)
    set_netns(bundle, net.path)
    r, _ = run(runm, bundle, "ip -o addr show; wget -qO- http://172.30.6.1:8081/a && "
               "wget -qO- http://172.30.7.1:8082/b && echo BOTH-OK")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "eth0" in r.stdout and "eth1" in r.stdout and "172.30.7.2/24" in r.stdout, r.stdout
    assert r.stdout.count("hello from the peer") == 2 and "BOTH-OK" in r.stdout, r.stdout


def test_new_netns_wired_by_prestart_hook(runm, bundle, net, tmp_path):
    """Docker <= 25: no netns path; its prestart hook moves the veth into /proc/<pid>/ns/net."""
    hook = tmp_path / "hook.sh"
    hook.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        pid=$(sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p')
        ip -n {net.peer} link add peer0 type veth peer name eth0 netns /proc/$pid/ns/net
        ip -n {net.peer} addr add 172.30.8.1/24 dev peer0
        ip -n {net.peer} link set peer0 up
        nsenter --net=/proc/$pid/ns/net ip addr add 172.30.8.2/24 dev eth0
        nsenter --net=/proc/$pid/ns/net ip link set eth0 up
    """))
    net.serve("0.0.0.0", 8083)  # the hook gives the peer its address later
    hook.chmod(0o755)
    set_netns(bundle, None)
    set_args(bundle, "sh", "-c", "ip -o addr show eth0; wget -qO- http://172.30.8.1:8083/ && echo HOOK-OK",
             hooks={"prestart": [{"path": str(hook)}]})
    i = cid(runm)
    r = runm("run", "--bundle", bundle, i)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "172.30.8.2/24" in r.stdout and "HOOK-OK" in r.stdout, r.stdout


def test_interface_attached_between_create_and_start(runm, bundle, net, tmp_path):
    """Docker >= 26 and podman --userns attach after create: runm wires it at start."""
    set_netns(bundle, None)
    set_args(bundle, "sh", "-c", "ip -o addr show eth0; wget -qO- http://172.30.9.1:8084/ && echo LATE-OK")
    i = cid(runm)
    rc, out = runm.create("--bundle", bundle, i, out=tmp_path / "create.out")
    assert rc == 0, out
    pid = json.loads(runm("state", i).stdout)["pid"]
    sh("ip", "-n", net.peer, "link", "add", "peer0", "type", "veth", "peer", "name", "eth0", "netns",
       f"/proc/{pid}/ns/net")
    sh("ip", "-n", net.peer, "addr", "add", "172.30.9.1/24", "dev", "peer0")
    sh("ip", "-n", net.peer, "link", "set", "peer0", "up")
    sh("nsenter", f"--net=/proc/{pid}/ns/net", "ip", "addr", "add", "172.30.9.2/24", "dev", "eth0")
    sh("nsenter", f"--net=/proc/{pid}/ns/net", "ip", "link", "set", "eth0", "up")
    net.serve("172.30.9.1", 8084)
    r = runm("start", i)
    assert r.returncode == 0, r.stderr
    deadline_out = tmp_path / "create.out"
    for _ in range(600):
        if "LATE-OK" in deadline_out.read_text() or json.loads(runm("state", i).stdout)["status"] == "stopped":
            break
        subprocess.run(["sleep", "0.1"])
    out = deadline_out.read_text()
    assert "172.30.9.2/24" in out and "LATE-OK" in out, out


def test_loopback_only_netns_has_lo_up_and_no_nic(runm, bundle, net):
    set_netns(bundle, net.path)
    r, _ = run(runm, bundle, "ip -o link show; nc -l -p 7777 -e true & sleep 0.5; "
               "echo x | nc 127.0.0.1 7777 && echo LO-OK")
    assert r.returncode == 0, r.stderr + r.stdout
    links = [l.split(":")[1].strip() for l in r.stdout.splitlines() if l[:1].isdigit()]
    assert links == ["lo"], r.stdout
    assert "LO-OK" in r.stdout, r.stdout


def test_host_network_is_refused_politely(runm, bundle):
    """No network namespace entry (--network host): the VM's own stack, loopback only, a warning."""
    set_netns(bundle, present=False)
    r, _ = run(runm, bundle, "ip -o link show")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "cannot share the host's network stack" in r.stderr, r.stderr
    assert [l.split(":")[1].strip() for l in r.stdout.splitlines() if l[:1].isdigit()] == ["lo"], r.stdout


@pytest.mark.parametrize("what", ["missing", "not-a-netns"])
def test_bad_netns_path_is_one_clear_error(runm, bundle, tmp_path, what):
    path = tmp_path / "no-such-netns" if what == "missing" else tmp_path / "plain-file"
    if what == "not-a-netns":
        path.write_text("")
    set_netns(bundle, str(path))
    i = cid(runm)
    rc, out = runm.create("--bundle", bundle, i, out=tmp_path / "create.out")
    assert rc != 0
    assert f"network namespace {path}" in out, out
    assert not (runm.root / i).exists(), list(runm.root.iterdir())


def test_kill9_shim_then_delete_leaves_nothing(runm, bundle, net, tmp_path):
    net.veth("eth0", "peer0", "172.30.10")
    set_netns(bundle, net.path)
    set_args(bundle, "sleep", "1000")
    i = cid(runm)
    rc, out = runm.create("--bundle", bundle, i, out=tmp_path / "create.out")
    assert rc == 0, out
    taps, qd = net.leftovers()
    assert taps == ["tap0_runm"] and qd, (taps, qd)  # wired while it lives
    pid = json.loads(runm("state", i).stdout)["pid"]
    subprocess.run(["kill", "-9", str(pid)])
    r = runm("delete", "--force", i)
    assert r.returncode == 0, r.stderr
    assert net.leftovers() == ([], []), net.leftovers()


def test_check_and_features_describe_networking(build_dir):
    r = subprocess.run([str(build_dir / "runm"), "check"], capture_output=True, text=True)
    assert "network:          tc redirect: tap (IFF_VNET_HDR) + tc ingress/u32/mirred work" in r.stdout, r.stdout
    assert "veth -> tc mirred -> tap -> virtio-net" in r.stdout, r.stdout
    f = json.loads(subprocess.run([str(build_dir / "runm"), "features"], capture_output=True, text=True).stdout)
    assert f["annotations"]["io.runm.network"].startswith("tc-redirect"), f["annotations"]
    assert "network" in f["linux"]["namespaces"]
