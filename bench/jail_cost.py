#!/usr/bin/env python3
"""Added start-up cost of the jail (runtime/backend/jail.h), printing one JSON object.

runm-vmctl starts one "device server" that is a program exiting at once (so QEMU never runs):
the host CPU (user+sys of runm-vmctl and its children, ms) and wall time of that start, median
over RUNS runs, with and without --no-jail. The difference is what the jail adds per process
(clone3 into five namespaces, the tmpfs root with its binds, pivot_root, credentials,
Landlock); a container's VM has PROCS of them (QEMU, vsock, rng, fs; one more per NIC).
Not counted: the kernel tears network namespaces down in a worker thread, outside this tree.
"""
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = pathlib.Path(os.environ.get("RUNM_BUILD", ROOT / "build"))
RUNS = int(os.environ.get("RUNS", 30))
PROCS = int(os.environ.get("PROCS", 4))


def children_cpu_ms():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1000


def one(tmp, exe, jail):
    run = tmp / "run"
    run.mkdir(exist_ok=True)
    cmd = [str(BUILD / "runm-vmctl")] + ([] if jail else ["--no-jail"]) + [
        "--backend", "qemu", "--accel", "tcg", "--kernel", str(BUILD / "guest/vmlinux"),
        "--run-dir", str(run), "--rng", "--runm-vmm", str(exe), "--timeout", "10"]
    c0, t0 = children_cpu_ms(), time.monotonic()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return children_cpu_ms() - c0, (time.monotonic() - t0) * 1000


def main():
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        src = tmp / "exit.c"
        src.write_text("int main(void) { return 3; }\n")
        exe = tmp / "exit"
        subprocess.run(["cc", "-O1", "-o", str(exe), str(src)], check=True)
        res = {}
        for jail in (True, False):
            one(tmp, exe, jail)  # warm caches
            runs = [one(tmp, exe, jail) for _ in range(RUNS)]
            key = "jail" if jail else "no_jail"
            res[f"{key}_cpu_ms"] = round(statistics.median(r[0] for r in runs), 3)
            res[f"{key}_wall_ms"] = round(statistics.median(r[1] for r in runs), 3)
        added = res["jail_cpu_ms"] - res["no_jail_cpu_ms"]
        res["added_cpu_ms_per_process"] = round(added, 3)
        res["processes_per_vm"] = PROCS
        res["added_cpu_ms_per_vm"] = round(added * PROCS, 3)
        res["added_wall_ms_per_process"] = round(res["jail_wall_ms"] - res["no_jail_wall_ms"], 3)
        res["runs"] = RUNS
        print(json.dumps(res))


if __name__ == "__main__":
    sys.exit(main())
