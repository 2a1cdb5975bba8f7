#!/usr/bin/env python3
"""The fuzzing campaign (`make fuzz-long`): every libFuzzer target runs until it reaches RUNS
executions or SECONDS (whichever is first), the corpus it grew is merged, minimised, into the
repository's tests/fuzz/corpus/<target>/, and one JSON object per target is printed:
execs, execs/s, coverage (libFuzzer's cov/ft), corpus size, new inputs kept, crashes.

A crash stops that target: its input is left in build/fuzz/crashes/<target>/ and the script
exits 1 after the others ran. Run the targets one after the other (they are single-threaded).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


def run_target(bindir, name, seconds, runs, corpus_root):
    exe = os.path.join(bindir, name)
    seeds = os.path.join(corpus_root, name)
    os.makedirs(seeds, exist_ok=True)
    crashes = os.path.join(bindir, "crashes", name)
    os.makedirs(crashes, exist_ok=True)
    before = len(os.listdir(seeds))
    work = tempfile.mkdtemp(prefix=f"fuzz-{name}-")
    t0 = time.monotonic()
    p = subprocess.run([exe, f"-max_total_time={seconds}", f"-runs={runs}", "-print_final_stats=1",
                        "-close_fd_mask=3", f"-artifact_prefix={crashes}/", work, seeds],
                       capture_output=True, text=True, errors="replace")
    wall = time.monotonic() - t0
    log = p.stderr
    stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)", log, re.M))
    cov = re.findall(r"cov: (\d+) ft: (\d+)", log)
    crashed = p.returncode != 0
    # keep what grew, minimised: merge the work corpus into the seeds (only inputs that add
    # coverage are copied), so the repository's corpus stays small and useful
    merged = subprocess.run([exe, "-merge=1", "-close_fd_mask=3", seeds, work], capture_output=True, text=True,
                            errors="replace")
    shutil.rmtree(work, ignore_errors=True)
    execs = int(stats.get("number_of_executed_units", 0))
    return {
        "target": name,
        "execs": execs,
        "execs_per_sec": int(stats.get("average_exec_per_sec", 0)),
        "seconds": round(wall, 1),
        "cov": int(cov[-1][0]) if cov else None,
        "ft": int(cov[-1][1]) if cov else None,
        "corpus_before": before,
        "corpus_after": len(os.listdir(seeds)),
        "peak_rss_mb": int(stats.get("peak_rss_mb", 0)),
        "reached_runs": execs >= runs,
        "crashes": sorted(os.listdir(crashes)) if crashed else [],
        "merge_ok": merged.returncode == 0,
        "log_tail": log.strip().splitlines()[-20:] if crashed else [],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="directory of the fuzz binaries (build/fuzz)")
    ap.add_argument("--corpus", default="tests/fuzz/corpus")
    ap.add_argument("--seconds", type=int, default=600, help="at most this long per target")
    ap.add_argument("--runs", type=int, default=10_000_000, help="stop a target after this many executions")
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()
    bad = False
    for t in a.targets:
        r = run_target(a.bin, t, a.seconds, a.runs, a.corpus)
        bad |= bool(r["crashes"]) or not r["merge_ok"]
        print(json.dumps(r), flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
