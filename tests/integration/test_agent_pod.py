"""runm-agent with several containers (a pod, docs/pods.md), host mode: each container has its
own init, pid and mount namespaces; a member joins the network/IPC/UTS namespaces of the
container its spec names ({"type":"network","container":ID}); requests name the container; exit
events carry the process id; a member's end leaves the VM (agent) running, the first's ends it."""
import json
import os
import time

import pytest

import agent_util as au
from test_agent import agent  # noqa: F401  (fixture)


def cfg_for(bundle, args, join=None, hostname=None):
    cfg = au.config(bundle)
    cfg["process"]["args"] = args
    if hostname:
        cfg["hostname"] = hostname
    if join:
        ns = [n for n in cfg["linux"]["namespaces"] if n["type"] not in ("network", "ipc", "uts")]
        ns += [{"type": t, "container": join} for t in ("network", "ipc", "uts")]
        cfg["linux"]["namespaces"] = ns
        cfg.pop("hostname", None)
    return cfg


def start(agent, bundle, pid, cfg, stdin=False):
    agent.ctl.settimeout(20)
    stdio = ("stdin", "stdout", "stderr") if stdin else ("stdout", "stderr")
    r = agent.create(bundle, process=pid, config=cfg, stdio=stdio)
    assert r["ok"], r
    s = {n: agent.stream(pid, n) for n in stdio}
    agent.check("start", process=pid)
    return s


def ns_of(pid, kind):
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def next_exit_event(agent_conn, timeout=20):
    agent_conn.settimeout(timeout)
    while True:
        r = au.recv_frame(agent_conn)
        if r.get("event") == "exit":
            return r


def test_two_containers_share_net_ipc_uts_not_pid_mnt(agent, bundle):
    ev = au.connect(agent.sock, au.CONTROL_PORT)
    au.send_frame(ev, {"id": 1, "op": "hello", "version": 1, "events": True})
    assert au.recv_frame(ev)["ok"]
    sb = start(agent, bundle, "sandbox", cfg_for(bundle, ["sh", "-c", "read x; exit 5"], hostname="podhost"),
               stdin=True)
    sb_pid = agent.check("ps", container="sandbox")["processes"][0]["pid"]
    m = start(agent, bundle, "member1",
              cfg_for(bundle, ["sh", "-c", "hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/pid; "
                                          "echo $$; read x; exit 7"], join="sandbox"), stdin=True)
    # the member's first lines: the sandbox's hostname (UTS joined), its netns, its own pidns
    line = b""
    while line.count(b"\n") < 4:
        c = m["stdout"].recv(4096)
        assert c, line
        line += c
    host, net, pidns, mypid = line.decode().splitlines()
    assert host == "podhost"
    member_ps = agent.check("ps", container="member1")["processes"]
    mpid = max(p["pid"] for p in member_ps)
    assert net == ns_of(sb_pid, "net")
    assert ns_of(mpid, "ipc") == ns_of(sb_pid, "ipc")
    assert ns_of(mpid, "uts") == ns_of(sb_pid, "uts")
    assert pidns == ns_of(mpid, "pid") != ns_of(sb_pid, "pid")
    assert ns_of(mpid, "mnt") != ns_of(sb_pid, "mnt")
    assert mypid == "1"  # its own pid namespace, it is its init
    # ps is per container
    assert {p["pid"] for p in member_ps}.isdisjoint(
        {p["pid"] for p in agent.check("ps", container="sandbox")["processes"]})
    # exec into the member: its namespaces, not the sandbox's
    r = agent.call("exec", process="mx", container="member1",
                   spec=json.dumps({"args": ["sh", "-c", "readlink /proc/self/ns/pid; echo $PPID"], "cwd": "/"}),
                   stdio={"stdout": True, "stderr": True})
    assert r["ok"], r
    mx_err = agent.stream("mx", "stderr")
    o = au.read_all(agent.stream("mx", "stdout")).decode().split()
    assert au.read_all(mx_err) == b""
    assert o[0] == pidns and o[1] == "0"
    assert agent.check("wait", process="mx")["exit_code"] == 0
    # exec without "container": the VM's own (the first) container
    r = agent.call("exec", process="sx", spec=json.dumps({"args": ["readlink", "/proc/self/ns/pid"], "cwd": "/"}),
                   stdio={"stdout": True, "stderr": True})
    assert r["ok"], r
    sx_err = agent.stream("sx", "stderr")
    assert au.read_all(agent.stream("sx", "stdout")).decode().strip() == ns_of(sb_pid, "pid")
    assert au.read_all(sx_err) == b""
    agent.check("wait", process="sx")
    # unknown container names itself
    r = agent.call("exec", process="zz", container="nope", spec=json.dumps({"args": ["true"], "cwd": "/"}))
    assert not r["ok"] and r["error"] == "exec: no container nope", r
    # the member ends: its own exit event (process id = its id); the agent (VM) lives on
    m["stdin"].sendall(b"x\n")
    m["stdin"].close()
    au.read_all(m["stdout"])
    e = next_exit_event(ev)
    while e["process"] != "member1":
        e = next_exit_event(ev)
    assert e["exit_code"] == 7
    time.sleep(0.3)
    assert agent.proc.poll() is None
    assert agent.call("ps", container="sandbox")["ok"]
    # the same id can be created again once the member is over (released at the next create)
    m2 = start(agent, bundle, "member1", cfg_for(bundle, ["sh", "-c", "exit 3"], join="sandbox"))
    au.read_all(m2["stdout"])
    assert agent.check("wait", process="member1")["exit_code"] == 3
    # the first container's end ends the agent
    sb["stdin"].sendall(b"x\n")
    sb["stdin"].close()
    au.read_all(sb["stdout"])
    e = next_exit_event(ev)
    while e["process"] != "sandbox":
        e = next_exit_event(ev)
    assert e["exit_code"] == 5
    assert agent.wait_exit() == 0
    ev.close()


def test_member_killed_with_sandbox_and_errors(agent, bundle):
    # joining a container that does not exist, or as the first container, fails by name
    r = agent.create(bundle, process="lonely", config=cfg_for(bundle, ["true"], join="ghost"))
    assert not r["ok"] and "cannot join another container's namespaces" in r["error"], r
    sb = start(agent, bundle, "sb", cfg_for(bundle, ["sleep", "1000"]))
    r = agent.create(bundle, process="m", config=cfg_for(bundle, ["true"], join="ghost"))
    assert not r["ok"] and "join the network namespace of container ghost: no such container" in r["error"], r
    cfg = cfg_for(bundle, ["true"])
    cfg["linux"]["namespaces"] = [{"type": "mount", "container": "sb"}]
    r = agent.create(bundle, process="m", config=cfg)
    assert not r["ok"] and "only network, ipc, uts, user and pid namespaces can be shared" in r["error"], r
    r = agent.create(bundle, process="sb", config=cfg_for(bundle, ["true"], join="sb"))
    assert not r["ok"] and "already exists" in r["error"], r
    m = start(agent, bundle, "m", cfg_for(bundle, ["sleep", "1000"], join="sb"))
    # signal all of the member leaves the sandbox alone
    agent.check("signal", process="m", signal=9, all=True)
    au.read_all(m["stdout"])
    assert agent.check("wait", process="m")["exit_code"] == 137
    assert agent.call("ps", container="sb")["ok"]
    m = start(agent, bundle, "m2", cfg_for(bundle, ["sleep", "1000"], join="sb"))
    agent.check("signal", process="sb", signal=9)
    au.read_all(sb["stdout"])
    assert agent.check("wait", process="sb")["exit_code"] == 137
    # host mode has no kill(-1): the member's init is killed with the first container's
    au.read_all(m["stdout"])
    assert agent.check("wait", process="m2")["exit_code"] == 137
    assert agent.wait_exit() == 0


@pytest.mark.parametrize("op", ["ps", "stats", "pause", "update"])
def test_container_wide_ops_name_unknown_container(agent, bundle, op):
    start(agent, bundle, "init", cfg_for(bundle, ["sleep", "1000"]))
    kw = {"resources": {}} if op == "update" else {}
    r = agent.call(op, container="other", **kw)
    assert not r["ok"] and r["error"] == f"{op}: no container other", r
    agent.check("signal", process="init", signal=9)
    agent.check("wait", process="init")
