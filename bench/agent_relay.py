#!/usr/bin/env python3
"""runm-agent benchmarks in host mode (--listen-unix), printing one JSON object:

  relay_gbps       stdout relay throughput container → agent (splice) → AF_UNIX → host library
                   (runm-agentctl, splice to /dev/null), GB/s for RELAY_BYTES bytes (goal ≥ 1)
  roundtrip_*      create + start + exit + wait of /bin/true: wall ms and CPU ms (agent +
                   host library + container, user+sys), median over RUNS runs, each with a fresh
                   agent (its startup included)
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
AGENT, CTL = BUILD / "runm-agent", BUILD / "runm-agentctl"
RELAY_BYTES = int(os.environ.get("RELAY_BYTES", 2 << 30))
RUNS = int(os.environ.get("RUNS", 20))


def bundle(d, args):
    subprocess.run([sys.executable, str(ROOT / "tests/fixtures/mkbundle.py"), str(d), "--"] + args, check=True)
    return d


def start_agent(sock):
    return subprocess.Popen([str(AGENT), "--listen-unix", str(sock)])


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    if os.geteuid() != 0:
        sys.exit("agent_relay: needs root (namespaces)")
    with tempfile.TemporaryDirectory() as t:
        t = pathlib.Path(t)
        mib = RELAY_BYTES >> 20
        b = bundle(t / "relay", ["dd", "if=/dev/zero", "bs=1M", f"count={mib}"])
        sock = t / "relay.sock"
        ag = start_agent(sock)
        with open(os.devnull, "wb") as null:
            t0 = time.monotonic()
            p = subprocess.run([str(CTL), "--uds", str(sock), "run", str(b)], stdout=null,
                               stderr=subprocess.DEVNULL)
            dt = time.monotonic() - t0
        ag.wait(timeout=30)
        if p.returncode != 0:
            sys.exit(f"agent_relay: relay run failed ({p.returncode})")
        relay = (mib << 20) / dt / 1e9

        tb = bundle(t / "true", ["true"])
        walls, cpus = [], []
        for i in range(RUNS):
            s = t / f"rt{i}.sock"
            c0 = children_cpu()
            w0 = time.monotonic()
            ag = start_agent(s)
            p = subprocess.run([str(CTL), "--uds", str(s), "run", str(tb)])
            ag.wait(timeout=30)
            walls.append((time.monotonic() - w0) * 1000)
            cpus.append((children_cpu() - c0) * 1000)
            if p.returncode != 0:
                sys.exit(f"agent_relay: /bin/true run failed ({p.returncode})")
    print(json.dumps({
        "bench": "agent_relay",
        "relay_bytes": mib << 20,
        "relay_seconds": round(dt, 3),
        "relay_gbps": round(relay, 3),
        "roundtrip_runs": RUNS,
        "roundtrip_wall_ms_median": round(statistics.median(walls), 2),
        "roundtrip_cpu_ms_median": round(statistics.median(cpus), 2),
        "roundtrip_cpu_ms_min": round(min(cpus), 2),
    }))


if __name__ == "__main__":
    main()
