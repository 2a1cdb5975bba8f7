"""runm update: new limits for the container's cgroup in the guest (the agent's "update" op),
read back from inside the container; a pids limit that makes fork fail; runc's errors.  In
"host-agent" mode the agent has no cgroup for the container: update is refused, never faked."""
import json

import pytest

from conftest import make_bundle
from lifecycle_util import MODES, Runm, vm_skip_reason

# the container's own cgroup directory, as the container sees the (guest's) hierarchy
CG = "/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)"


def cg_read(rt, cid, *files):
    r = rt("exec", cid, "sh", "-c", " ".join(f'cat "{CG}/{f}";' for f in files))
    assert r.returncode == 0, r.stderr
    return r.stdout.split("\n")[:len(files)]


def test_update_limits_live(rt, tmp_path):
    b = make_bundle(tmp_path / "bundle", ["sleep", "1000"])
    assert rt.create("-b", b, "c1")[0] == 0
    assert rt("start", "c1").returncode == 0
    r = rt("update", "--memory", str(48 << 20), "--pids-limit", "50", "c1")
    if rt.mode == "host-agent":
        print("host-agent mode: the agent has no cgroup for the container on the host, update is refused")
        assert r.returncode == 1 and "no cgroup" in r.stderr, r.stderr
        assert rt("kill", "c1", "KILL").returncode == 0
        rt.wait_status("c1", "stopped")
        return
    assert r.returncode == 0, r.stderr
    assert cg_read(rt, "c1", "memory.max", "pids.max") == [str(48 << 20), "50"]

    # --resources from stdin: runtime-spec LinuxResources
    res = {"memory": {"limit": 40 << 20}, "cpu": {"quota": 50000, "period": 100000, "shares": 1024,
                                                   "cpus": "0"}, "pids": {"limit": 40}}
    r = rt("update", "--resources", "-", "c1", input=json.dumps(res))
    assert r.returncode == 0, r.stderr
    assert cg_read(rt, "c1", "memory.max", "pids.max", "cpu.max", "cpuset.cpus") == \
        [str(40 << 20), "40", "50000 100000", "0"]
    # a period alone keeps the quota; -1 lifts a limit
    r = rt("update", "--cpu-period", "200000", "--memory", "-1", "--pids-limit", "-1", "c1")
    assert r.returncode == 0, r.stderr
    assert cg_read(rt, "c1", "cpu.max", "memory.max", "pids.max") == ["50000 200000", "max", "max"]
    # above the VM's RAM: accepted, the guest's RAM bounds it anyway (documented, not resized)
    r = rt("update", "--memory", str(1 << 40), "c1")
    assert r.returncode == 0, r.stderr
    assert cg_read(rt, "c1", "memory.max") == [str(1 << 40)]

    # a pids limit that makes fork fail: init (sleep) + the exec'd sh fill it
    assert rt("update", "--pids-limit", "2", "c1").returncode == 0
    r = rt("exec", "c1", "sh", "-c", "sleep 0 & wait $! && echo forked")
    assert r.returncode != 0 and "forked" not in r.stdout, (r.stdout, r.stderr)
    assert "fork" in r.stderr or "Resource temporarily unavailable" in r.stderr, r.stderr
    assert rt("update", "--pids-limit", "100", "c1").returncode == 0
    r = rt("exec", "c1", "sh", "-c", "sleep 0 & wait $! && echo forked")
    assert r.returncode == 0 and "forked" in r.stdout, r.stderr

    # the agent refuses what the guest's kernel refuses, with the file named
    r = rt("update", "--cpuset-cpus", "63", "c1")
    assert r.returncode == 1 and "cpuset.cpus" in r.stderr, r.stderr
    r = rt("update", "--memory-swap", str(1 << 20), "--memory", str(2 << 20), "c1")
    assert r.returncode == 1 and "below memory.limit" in r.stderr, r.stderr

    assert rt("kill", "c1", "KILL").returncode == 0
    rt.wait_status("c1", "stopped")
    r = rt("update", "--pids-limit", "10", "c1")
    assert r.returncode == 1 and "container not running" in r.stderr, r.stderr


def test_update_errors(rt, tmp_path):
    """Refused before anything reaches the container (no VM needed beyond the fixture)."""
    r = rt("update", "--pids-limit", "10", "nosuch")
    assert r.returncode == 1 and "container does not exist" in r.stderr, r.stderr
    r = rt("update", "-r", "-", "nosuch", input="{\"memory\": {\"limit\": ")
    assert r.returncode == 1 and "decode resources" in r.stderr, r.stderr
    r = rt("update", "-r", "-", "nosuch", input="[1]")
    assert r.returncode == 1 and "not a JSON object" in r.stderr, r.stderr
    r = rt("update", "-r", "-", "nosuch", input="{\"memory\": {\"limit\": \"1g\"}}")
    assert r.returncode == 1 and "memory.limit" in r.stderr, r.stderr
    r = rt("update", "-r", "-", "nosuch", input="{\"cpu\": {\"cpus\": \"0;reboot\"}}")
    assert r.returncode == 1 and "cpu.cpus" in r.stderr, r.stderr
    r = rt("update", "--cpu-period", "5", "nosuch")
    assert r.returncode == 1 and "cpu.period" in r.stderr, r.stderr
    r = rt("update", "--memory", "lots", "nosuch")
    assert r.returncode == 1 and "--memory" in r.stderr, r.stderr
