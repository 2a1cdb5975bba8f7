"""The agent's "network" op and lo in new network namespaces, end to end in host mode: the agent
runs in a network namespace of its own (unshare --net) holding a veth NIC, as the guest's agent
holds the virtio-net NICs; its peer stays there and stands for the host side."""
import json
import os
import pathlib
import re
import subprocess
import time

import pytest

import agent_util as au
from test_agent import run, set_args

NIC_MAC = "02:00:00:cc:00:01"
CONTAINER_MAC = "9a:00:00:cc:00:02"


@pytest.fixture
def netagent(build_dir, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, veth)")
    default = build_dir / "asan" / "runm-agent"
    if not default.exists():
        default = build_dir / "runm-agent"
    a = au.Agent(pathlib.Path(os.environ.get("RUNM_AGENT_BIN", default)), tmp_path,
                 prefix=["unshare", "--net"])
    a.check("hello", version=1, time_ns=time.time_ns())
    a.nsenter = ["nsenter", "-t", str(a.proc.pid), "-n"]
    sh = lambda cmd: subprocess.run(a.nsenter + ["sh", "-c", cmd], check=True, capture_output=True)
    sh(f"ip link add nic0 address {NIC_MAC} type veth peer name peer0 && ip link set lo up && "
       "ip link set peer0 up && ip addr add 10.77.0.1/24 dev peer0 && "
       "ip addr add fd77::1/64 dev peer0 nodad")
    a.peer_mac = json.loads(subprocess.run(a.nsenter + ["ip", "-j", "link", "show", "peer0"], check=True,
                                           capture_output=True, text=True).stdout)[0]["address"]
    yield a
    a.close()  # the namespace and its veth pair end with the agent
    err = a.proc.stderr.read().decode(errors="replace")
    assert "Sanitizer" not in err and "runtime error" not in err, err


def request(peer_mac):
    return dict(container="init",
                interfaces=[{"name": "eth0", "match_mac": NIC_MAC, "mac": CONTAINER_MAC, "mtu": 1400,
                             "addresses": ["10.77.0.2/24", "fd77::2/64"]}],
                routes=[{"dst": "10.77.0.0/24", "dev": "eth0", "scope": "link"},
                        {"dst": "0.0.0.0/0", "gateway": "10.77.0.1", "dev": "eth0"},
                        {"dst": "::/0", "gateway": "fd77::1", "dev": "eth0"}],
                neighbors=[{"ip": "10.77.0.1", "mac": peer_mac, "dev": "eth0"}])


def listen_once(agent, port):
    """A TCP listener on the peer's side (the agent's netns) that returns what it received."""
    p = subprocess.Popen(agent.nsenter + ["python3", "-c",
                         "import socket,sys\n"
                         "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                         f"s.bind(('10.77.0.1', {port})); s.listen(1); print('ready', flush=True)\n"
                         "c,_=s.accept(); s.settimeout(10); d=b''\n"
                         "while True:\n"
                         "    b=c.recv(100)\n"
                         "    if not b: break\n"
                         "    d+=b\n"
                         "sys.stdout.write(d.decode())\n"],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    return p


def test_network_op_configures_the_container(netagent, bundle):
    a = netagent
    cfg = set_args(bundle, ["sh", "-c",
                            "ip -o link show eth0; ip -o addr show dev eth0; ip route; ip -6 route; "
                            "ip neigh; ip -o link show lo; "
                            "cat /proc/sys/net/ipv6/conf/eth0/accept_dad /proc/sys/net/ipv6/conf/eth0/autoconf; "
                            "echo over-eth0 | nc -w 5 10.77.0.1 7777"])
    r = a.create(bundle, config=cfg)
    assert r["ok"], r
    # the netns of the created (held) init exists: the op works before start
    a.check("network", **request(a.peer_mac))
    a.check("network", **request(a.peer_mac))  # idempotent
    # nothing moves when a NIC is missing; the error names it
    bad = request(a.peer_mac)
    bad["interfaces"].append({"name": "eth1", "match_mac": "02:00:00:cc:00:09"})
    r = a.call("network", **bad)
    assert not r["ok"]
    assert r["error"] == ("network: eth1: no interface with MAC 02:00:00:cc:00:09 (match_mac) in the "
                          "agent's network namespace"), r
    r = a.call("network", **dict(request(a.peer_mac), container="nope"))
    assert r["error"] == "network: no container nope", r
    r = a.call("network", container="init", interfaces=[{"name": "eth0", "match_mac": "zz"}])
    assert not r["ok"] and "match_mac" in r["error"], r

    listener = listen_once(a, 7777)
    o, e = a.stream("init", "stdout"), a.stream("init", "stderr")
    a.check("start", process="init")
    out, err = au.read_all(o).decode(), au.read_all(e).decode()
    w = a.check("wait", process="init")
    assert w["exit_code"] == 0, (out, err)
    assert listener.communicate(timeout=20)[0] == "over-eth0\n"
    assert f"link/ether {CONTAINER_MAC}" in out and "mtu 1400" in out, out
    assert "inet 10.77.0.2/24" in out and "inet6 fd77::2/64" in out, out
    assert "tentative" not in out, out
    assert "default via 10.77.0.1 dev eth0" in out, out
    assert "default via fd77::1 dev eth0" in out, out
    assert re.search(rf"^10\.77\.0\.1 dev eth0 lladdr {a.peer_mac} .*PERMANENT$", out, re.M), out
    assert "<LOOPBACK,UP,LOWER_UP>" in out, out
    assert out.split("\n")[-3:-1] == ["0", "0"], out  # accept_dad, autoconf
    # the NIC left the agent's netns
    links = subprocess.run(a.nsenter + ["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert NIC_MAC not in links and CONTAINER_MAC not in links, links


def test_lo_is_up_in_a_new_network_namespace(netagent, bundle):
    """Without any network op (podman --network none): lo is up, 127.0.0.1 answers."""
    o, e, w = run(netagent, bundle, ["sh", "-c",
                                     "ip -o link show lo; nc -l -p 7000 & sleep 0.3; "
                                     "echo via-lo | nc -w 3 127.0.0.1 7000; sleep 0.3; kill $! 2>/dev/null; true"])
    assert w["exit_code"] == 0, (o, e)
    assert b"<LOOPBACK,UP,LOWER_UP>" in o, o
    assert o.endswith(b"via-lo\n"), o
