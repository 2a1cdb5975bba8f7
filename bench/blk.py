#!/usr/bin/env python3
"""virtio-blk benchmarks (docs/devices.md), printing one JSON object.

A Linux guest under QEMU TCG runs `runm_test=blkbench` (tests/linux-guests/blk_test.c) on /dev/vda
with O_DIRECT: sequential write and read of the whole disk in 1 MiB requests, then 4 KiB random
writes and reads for BLK_BENCH_MS each. The same guest, in the same run, on

  runm      our virtio-blk (vmm/devices/blk.c) behind `runm-vmm vhost-user`, as
            vhost-user-blk-pci (runm-vmctl --backend qemu --drive path=IMG)
  qemu      QEMU's built-in virtio-blk-pci (-drive if=none,file=IMG,format=raw,id=d,cache=writeback,
            aio=io_uring)

  seq_write_mibs / seq_read_mibs     MiB/s
  rand_write_iops / rand_read_iops   4 KiB requests per second (queue depth 1)
  device_cpu_ms_per_gb               runm only: CPU (user+sys) of the blk device server per GB moved

Under TCG the guest's CPU is the bottleneck for both; the comparison is what it is worth.
Environment: BLK_MIB (disk size, default 128), BLK_BENCH_MS (default 3000).
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = pathlib.Path(os.environ.get("RUNM_BUILD", ROOT / "build"))
BASE_CMDLINE = "console=ttyS0 reboot=k panic=-1 quiet no_timer_check"  # as tests/integration/qemu_util.py

MIB = int(os.environ.get("BLK_MIB", 128))
BENCH_MS = int(os.environ.get("BLK_BENCH_MS", 3000))
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def cpu_ms(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) * TICK_MS
    except (OSError, IndexError):
        return None


def wait_text(path, text, proc, timeout, sample=None):
    """Wait for text in path; sample() runs every round (the last CPU reading before the end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sample:
            sample()
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            return path.exists() and text in path.read_text(errors="replace")
        time.sleep(0.02)
    return False


def parse(console):
    phases = {}
    for line in console.read_text(errors="replace").splitlines():
        w = line.split()
        if len(w) == 4 and w[0] == "BENCH":
            phases[w[1]] = (int(w[2]), int(w[3]) / 1e9)
    if not all(k in phases for k in ("seqwrite", "seqread", "randwrite", "randread")):
        raise RuntimeError(f"guest did not finish: {console.read_text(errors='replace')[-1500:]}")
    out = {}
    out["seq_write_mibs"] = round(phases["seqwrite"][0] / (1 << 20) / phases["seqwrite"][1], 1)
    out["seq_read_mibs"] = round(phases["seqread"][0] / (1 << 20) / phases["seqread"][1], 1)
    out["rand_write_iops"] = round(phases["randwrite"][0] / 4096 / phases["randwrite"][1])
    out["rand_read_iops"] = round(phases["randread"][0] / 4096 / phases["randread"][1])
    out["bytes"] = sum(b for b, _ in phases.values())
    return out


def cmdline():
    return f"{BASE_CMDLINE} runm_test=blkbench blk_bench_ms={BENCH_MS}"


def run_runm(kernel, initrd, img, work):
    run = work / "runm"
    run.mkdir()
    console = run / "console.log"
    p = subprocess.Popen([str(BUILD / "runm-vmctl"), "--backend", "qemu", "--kernel", str(kernel),
                          "--initrd", str(initrd), "--cmdline", cmdline(), "--run-dir", str(run),
                          "--console", str(console), "--mem", "256", "--drive", f"path={img}",
                          "--timeout", "600"], stdout=subprocess.PIPE, text=True)
    started = json.loads(p.stdout.readline())
    server = started["pids"][1]
    cpu = [cpu_ms(server), None]

    def sample():
        c = cpu_ms(server)
        if c is not None:
            cpu[1] = c
    ok = wait_text(console, "BENCH DONE", p, 600, sample)
    cpu0, cpu1 = cpu
    p.wait(timeout=60)
    if not ok:
        raise RuntimeError(f"runm run: {console.read_text(errors='replace')[-1500:]}")
    r = parse(console)
    if cpu0 is not None and cpu1 is not None:
        r["device_cpu_ms_per_gb"] = round((cpu1 - cpu0) / (r["bytes"] / 1e9), 1)
    return r


def run_qemu(kernel, initrd, img, work):
    run = work / "qemu"
    run.mkdir()
    console = run / "console.log"
    p = subprocess.Popen(["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
                          "-no-reboot", "-M", "pc", "-accel", "tcg", "-cpu", "max,-avx,-avx2", "-m", "256M",
                          "-kernel", str(kernel), "-initrd", str(initrd), "-append", cmdline(),
                          "-serial", f"file:{console}",
                          "-drive", f"if=none,file={img},format=raw,id=d,cache=writeback,aio=io_uring",
                          "-device", "virtio-blk-pci,drive=d"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ok = wait_text(console, "BENCH DONE", p, 600)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
    if not ok:
        raise RuntimeError(f"qemu run: {p.stderr.read()[-500:]} {console.read_text(errors='replace')[-1500:]}")
    return parse(console)


def main():
    kernel = BUILD / "guest" / "vmlinux"
    work = pathlib.Path(tempfile.mkdtemp(prefix="runm-blk-bench-"))
    try:
        initrd = work / "init.cpio"
        subprocess.run([sys.executable, str(ROOT / "rootfs-builder" / "mkinitramfs.py"), "--init",
                        str(BUILD / "linux-guests" / "runm-test-init"), "-o", str(initrd)], check=True)
        img = work / "disk.img"
        with open(img, "wb") as f:
            f.truncate(MIB << 20)
        res = {"disk_mib": MIB, "bench_ms": BENCH_MS, "accel": "tcg"}
        res["runm"] = run_runm(kernel, initrd, img, work)
        res["qemu"] = run_qemu(kernel, initrd, img, work)
        for k in ("seq_write_mibs", "seq_read_mibs", "rand_write_iops", "rand_read_iops"):
            if res["qemu"][k]:
                res.setdefault("ratio_runm_to_qemu", {})[k] = round(res["runm"][k] / res["qemu"][k], 2)
        print(json.dumps(res))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
