#!/usr/bin/env python3
"""What a pod saves (docs/pods.md), printing one JSON object.

Host memory of N containers (N = 1, 2, 4) run two ways in the same run: as one pod (a sandbox
whose shim boots the VM, plus N members that join it) and as N standalone containers (N VMs).
Memory is the sum of PSS (/proc/PID/smaps_rollup) over every host process of those containers:
the shims, QEMU and its device servers, with the guest RAM the VM touched (QEMU's memfd, shared
with the device servers: PSS counts shared pages once across them). Each member and each
standalone container runs `sleep`, so the processes' own guest memory is the same both ways.
"per_extra_member_kib" is (pod of 4 − pod of 1) / 3 (the issue's goal: ≤ 2 MiB beyond the member's
own processes' memory in the guest); "member_shim_pss_kib" is the part that is the member's host shim.

Then the time to add a member to a running pod: `runm create` + `runm start` of a member running
/bin/true (no boot), median of RUNS, wall ms (goal ≤ 50 ms under TCG here).
"""
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = pathlib.Path(os.environ.get("RUNM_BUILD", ROOT / "build"))
RUNS = int(os.environ.get("RUNS", 10))
SIZES = (1, 2, 4)
CRI_TYPE, CRI_SANDBOX = "io.kubernetes.cri.container-type", "io.kubernetes.cri.sandbox-id"


class Runm:
    def __init__(self, root):
        self.root = root

    def __call__(self, *args, check=True):
        # stdio are files, not pipes: a created container keeps its stdio open (as with runc)
        with tempfile.TemporaryFile("w+") as err:
            r = subprocess.run([str(BUILD / "runm"), "--root", str(self.root), *map(str, args)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, timeout=300)
            err.seek(0)
            if check and r.returncode:
                sys.exit(f"bench/pods.py: runm {' '.join(map(str, args))}: {err.read().strip()}")
        return r

    def create_start(self, tmp, cid, bundle):
        pid = tmp / f"{cid}.pid"
        self("create", "--bundle", bundle, "--pid-file", pid, cid)
        self("start", cid)
        return int(pid.read_text())


def template(tmp):
    b = tmp / "template"
    subprocess.run([sys.executable, str(ROOT / "tests/fixtures/mkbundle.py"), str(b), "--", "sleep", "100000"],
                   check=True)
    return b


def bundle(tmp, tpl, name, args, ann, ns):
    b = tmp / name
    shutil.copytree(tpl, b, symlinks=True)
    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["args"] = args
    cfg["annotations"] = ann
    cfg["linux"]["namespaces"] = ns
    (b / "config.json").write_text(json.dumps(cfg))
    return b


def tree(pid):
    """PID and its descendants (from /proc/*/stat's ppid)."""
    kids = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                ppid = int(open(f"/proc/{e}/stat").read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            kids.setdefault(ppid, []).append(int(e))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def pss_kib(pids):
    total = 0
    for p in set(pids):
        try:
            for ln in open(f"/proc/{p}/smaps_rollup"):
                if ln.startswith("Pss:"):
                    total += int(ln.split()[1])
        except OSError:
            pass
    return total


def settle():
    time.sleep(float(os.environ.get("SETTLE_S", 3)))  # the guest finishes booting and touching RAM


def pod(rt, tmp, tpl, n, tag):
    sb = f"{tag}sb"
    spid = rt.create_start(tmp, sb, bundle(tmp, tpl, sb, ["sleep", "100000"], {CRI_TYPE: "sandbox", CRI_SANDBOX: sb},
                                           [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")]))
    ns = [{"type": "pid"}, {"type": "mount"}, {"type": "network", "path": f"/proc/{spid}/ns/net"},
          {"type": "ipc", "path": f"/proc/{spid}/ns/ipc"}, {"type": "uts", "path": f"/proc/{spid}/ns/uts"}]
    pids, ids = [spid], [sb]
    for i in range(n):
        m = f"{tag}m{i}"
        pids.append(rt.create_start(tmp, m, bundle(tmp, tpl, m, ["sleep", "100000"],
                                                   {CRI_TYPE: "container", CRI_SANDBOX: sb}, ns)))
        ids.append(m)
    return pids, ids, ns


def measure(rt, tmp, tpl):
    res = {"pod_kib": {}, "standalone_kib": {}}
    for n in SIZES:
        pids, ids, _ = pod(rt, tmp, tpl, n, f"p{n}")
        settle()
        res["pod_kib"][n] = pss_kib(p for s in pids for p in tree(s))
        if n == max(SIZES):  # a member's host side is its shim alone (it boots nothing)
            res["member_shim_pss_kib"] = round(statistics.median(pss_kib(tree(p)) for p in pids[1:]))
        for cid in reversed(ids):
            rt("delete", "-f", cid)
        pids, ids = [], []
        for i in range(n):
            c = f"s{n}c{i}"
            pids.append(rt.create_start(tmp, c, bundle(tmp, tpl, c, ["sleep", "100000"], {},
                                                       [{"type": t} for t in ("pid", "ipc", "uts", "mount",
                                                                              "network")])))
            ids.append(c)
        settle()
        res["standalone_kib"][n] = pss_kib(p for s in pids for p in tree(s))
        for cid in ids:
            rt("delete", "-f", cid)
    res["per_extra_member_kib"] = round((res["pod_kib"][4] - res["pod_kib"][1]) / 3)
    res["per_extra_standalone_kib"] = round((res["standalone_kib"][4] - res["standalone_kib"][1]) / 3)
    return res


def add_member_ms(rt, tmp, tpl):
    _, ids, ns = pod(rt, tmp, tpl, 0, "t")
    times = []
    for i in range(RUNS + 1):
        m = f"tm{i}"
        b = bundle(tmp, tpl, m, ["true"], {CRI_TYPE: "container", CRI_SANDBOX: ids[0]}, ns)
        t0 = time.monotonic()
        rt("create", "--bundle", b, m)
        rt("start", m)
        t = (time.monotonic() - t0) * 1000
        if i:
            times.append(t)  # the first one warms caches
        rt("delete", "-f", m)
    rt("delete", "-f", ids[0])
    return round(statistics.median(times), 1)


def main():
    with tempfile.TemporaryDirectory(prefix="runm-bench-pods-") as d:
        tmp = pathlib.Path(d)
        tpl = template(tmp)
        rt = Runm(tmp / "root")
        res = measure(rt, tmp, tpl)
        res["add_member_create_start_ms_median"] = add_member_ms(rt, tmp, tpl)
        res["runs"] = RUNS
        print(json.dumps({"bench": "pods", **res}))


if __name__ == "__main__":
    main()
