#!/usr/bin/env python3
"""virtio-blk benchmarks (docs/devices.md), printing one JSON object.

A Linux guest under QEMU TCG (1 vCPU, 256 MiB) runs two jobs of runm-test-init:

  raw   `runm_test=blkbench` (tests/linux-guests/blk_test.c) on /dev/vda with O_DIRECT: sequential
        write and read of the whole disk in 1 MiB requests, then 4 KiB random writes and reads for
        BLK_BENCH_MS each (queue depth 1)
  meta  `runm_test=metabench` (tests/linux-guests/meta_bench.c): the untar of a busybox rootfs
        tarball (made here: META_COPIES copies of the tests' busybox tree, tests/fixtures/mkbundle.py,
        the binary stored once and hard-linked in the other copies, plus a ~300-byte text file per
        applet in each; in the initramfs) as root's tar -x does it, then syncfs; then, after
        drop_caches, an nftw lstat walk of every entry (find), and the walk again with warm caches

in the same run, on

  runm-blk  our virtio-blk (vmm/devices/blk.c) behind `runm-vmm vhost-user`, as
            vhost-user-blk-pci (runm-vmctl --backend qemu --drive path=IMG)
  qemu-blk  QEMU's built-in virtio-blk-pci (-drive if=none,file=IMG,format=raw,id=d,cache=writeback,
            aio=io_uring) on the machine runm's QEMU backend builds (sandbox, memfd RAM)
  runm-fs   our virtio-fs (vmm/devices/fs) behind `runm-vmm vhost-user`, as vhost-user-fs-pci
            (runm-vmctl --fs share=DIR, cache=auto): meta only

The meta job's disk is a fresh ext4 (mkfs.ext4 here, 4 KiB blocks, inode tables initialised: no
lazy init in the guest), checked with e2fsck -fn afterwards; the share is a fresh directory. Each
configuration runs BLK_RUNS times, interleaved; "median" holds the medians, "runs" every run.

  seq_write_mibs / seq_read_mibs     MiB/s
  rand_write_iops / rand_read_iops   4 KiB requests per second
  untar_ms / find_ms / find_warm_ms  milliseconds (guest CLOCK_MONOTONIC)
  device_cpu_ms_per_gb               raw, runm-blk: CPU (user+sys) of the blk device server per GB moved
  device_cpu_ms                      meta, runm-*: CPU of the device server over the whole VM
  speed_ratio_runm_blk_to_qemu_blk   per row, the median over runs of run i's ratio (run i of each
  speed_ratio_runm_fs_to_qemu_blk    configuration ran back to back, under the same host load);
                                     > 1: ours is faster (MiB/s, IOPS: ours/QEMU's; ms: QEMU's/ours)

Under TCG the guest's CPU is the bottleneck for all; the comparison is what it is worth. The guest's
clock is refined-jiffies there (its TSC is not calibrated): 4 ms steps.
Environment: BLK_MIB (raw disk size, default 512), BLK_BENCH_MS (default 3000), BLK_RUNS
(default 3), META_COPIES (default 8), META_MIB (ext4 image size, default 256).
"""
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = pathlib.Path(os.environ.get("RUNM_BUILD", ROOT / "build"))
BASE_CMDLINE = "console=ttyS0 reboot=k panic=-1 quiet no_timer_check"  # as tests/integration/qemu_util.py
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
import mkbundle  # noqa: E402

MIB = int(os.environ.get("BLK_MIB", 512))
BENCH_MS = int(os.environ.get("BLK_BENCH_MS", 3000))
RUNS = int(os.environ.get("BLK_RUNS", 3))
META_COPIES = int(os.environ.get("META_COPIES", 8))
META_MIB = int(os.environ.get("META_MIB", 256))
MEM = "256"
TIMEOUT = 600
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
RAW_KEYS = ("seq_write_mibs", "seq_read_mibs", "rand_write_iops", "rand_read_iops")
META_KEYS = ("untar_ms", "find_ms", "find_warm_ms")


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


def parse_raw(console):
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


def parse_meta(console, entries):
    text = console.read_text(errors="replace")
    out = {}
    for line in text.splitlines():
        w = line.split()
        if len(w) == 4 and w[0] == "META" and w[1] + "_ms" in META_KEYS:
            if int(w[2]) != entries:
                raise RuntimeError(f"guest {w[1]}: {w[2]} entries, the tarball has {entries}")
            out[w[1] + "_ms"] = round(int(w[3]) / 1e6, 1)
    if "META DONE" not in text or len(out) != len(META_KEYS):
        raise RuntimeError(f"guest did not finish: {text[-1500:]}")
    return out


def make_tarball(work):
    """META_COPIES busybox trees; returns (tarball, number of entries)."""
    tree = work / "tree"
    base = tree / "c0"
    mkbundle.make_rootfs(str(base))
    applets = sorted(p.name for d in ("bin", "sbin", "usr/bin", "usr/sbin") for p in (base / d).iterdir())
    (base / "usr/share/applets").mkdir(parents=True)
    for a in applets:
        (base / "usr/share/applets" / f"{a}.txt").write_text(
            f"applet: {a}\nprovided by: /bin/busybox\n" + f"see: busybox {a} --help\n" * 8)

    def link_busybox(src, dst):
        if src.endswith("/bin/busybox"):
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)
    for i in range(1, META_COPIES):
        shutil.copytree(base, tree / f"c{i}", symlinks=True, copy_function=link_busybox)
    tarball = work / "meta.tar"
    with tarfile.open(tarball, "w", format=tarfile.USTAR_FORMAT) as t:
        for i in range(META_COPIES):
            t.add(tree / f"c{i}", arcname=f"c{i}")
    with tarfile.open(tarball) as t:
        entries = len(t.getmembers())
    shutil.rmtree(tree)
    return tarball, entries


def make_ext4(img):
    img.unlink(missing_ok=True)
    with open(img, "wb") as f:
        f.truncate(META_MIB << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-I", "256",
                    "-E", "lazy_itable_init=0,lazy_journal_init=0", str(img)], check=True)


def check_ext4(img):
    r = subprocess.run(["e2fsck", "-fn", str(img)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"e2fsck -fn {img}: {r.returncode}: {r.stdout[-1500:]}")


def run_runm(kernel, initrd, run, cmdline, devices, done):
    """One VM from runm-vmctl; returns (console, CPU ms of its device server)."""
    run.mkdir()
    console = run / "console.log"
    p = subprocess.Popen([str(BUILD / "runm-vmctl"), "--backend", "qemu", "--accel", "tcg", "--machine", "pc",
                          "--kernel", str(kernel), "--initrd", str(initrd), "--cmdline", cmdline,
                          "--run-dir", str(run), "--console", str(console), "--mem", MEM,
                          "--timeout", str(TIMEOUT)] + devices, stdout=subprocess.PIPE, text=True)
    started = json.loads(p.stdout.readline())
    server = started["pids"][1]
    cpu = [cpu_ms(server), None]

    def sample():
        c = cpu_ms(server)
        if c is not None:
            cpu[1] = c
    ok = wait_text(console, done, p, TIMEOUT, sample)
    cpu0, cpu1 = cpu
    p.wait(timeout=60)
    if not ok:
        raise RuntimeError(f"runm run: {console.read_text(errors='replace')[-1500:]}")
    return console, (cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None)


def run_qemu(kernel, initrd, run, cmdline, img, done):
    run.mkdir()
    console = run / "console.log"
    # The machine runm's QEMU backend builds (backend_qemu.c: sandbox, memfd RAM), QEMU's own disk.
    p = subprocess.Popen(["qemu-system-x86_64", "-name", "runm", "-nodefaults", "-no-user-config",
                          "-display", "none", "-no-reboot",
                          "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
                          "-M", "pc,memory-backend=mem", "-accel", "tcg", "-cpu", "max,-avx,-avx2",
                          "-m", MEM + "M", "-smp", "1,sockets=1,cores=1,threads=1",
                          "-object", f"memory-backend-memfd,id=mem,size={MEM}M,share=on",
                          "-drive", f"if=none,file={img},format=raw,id=d,cache=writeback,aio=io_uring",
                          "-device", "virtio-blk-pci,drive=d",
                          "-chardev", f"file,id=con0,path={console}", "-serial", "chardev:con0",
                          "-kernel", str(kernel), "-initrd", str(initrd), "-append", cmdline],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ok = wait_text(console, done, p, TIMEOUT)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
    if not ok:
        raise RuntimeError(f"qemu run: {p.stderr.read()[-500:]} {console.read_text(errors='replace')[-1500:]}")
    return console


def raw_job(config, kernel, initrd, run):
    img = run.parent / "disk.img"
    img.unlink(missing_ok=True)
    with open(img, "wb") as f:
        f.truncate(MIB << 20)
    cmdline = f"{BASE_CMDLINE} runm_test=blkbench blk_bench_ms={BENCH_MS}"
    if config == "runm-blk":
        console, cpu = run_runm(kernel, initrd, run, cmdline, ["--drive", f"path={img}"], "BENCH DONE")
        r = parse_raw(console)
        if cpu is not None:
            r["device_cpu_ms_per_gb"] = round(cpu / (r["bytes"] / 1e9), 1)
    else:
        r = parse_raw(run_qemu(kernel, initrd, run, cmdline, img, "BENCH DONE"))
    img.unlink()
    return r


def meta_job(config, kernel, initrd, run, entries):
    on = "fs" if config == "runm-fs" else "blk"
    cmdline = f"{BASE_CMDLINE} runm_test=metabench meta_on={on}"
    cpu = None
    if on == "fs":
        share = run.parent / "share"
        shutil.rmtree(share, ignore_errors=True)
        share.mkdir()
        console, cpu = run_runm(kernel, initrd, run, cmdline, ["--fs", f"share={share}"], "META DONE")
        if not (share / "untar/c0/bin/busybox").is_file():
            raise RuntimeError(f"runm-fs: the untarred tree is not in {share}")
        shutil.rmtree(share)
    else:
        img = run.parent / "ext4.img"
        make_ext4(img)
        if config == "runm-blk":
            console, cpu = run_runm(kernel, initrd, run, cmdline, ["--drive", f"path={img}"], "META DONE")
        else:
            console = run_qemu(kernel, initrd, run, cmdline, img, "META DONE")
        check_ext4(img)
        img.unlink()
    r = parse_meta(console, entries)
    if cpu is not None:
        r["device_cpu_ms"] = round(cpu)
    return r


def paired_ratios(ours, theirs, keys):
    """Per key, the median over runs of ours/theirs as a speed (> 1: ours is faster). Run i of each
    configuration ran back to back: the pairs share the host's load of the moment."""
    out = {}
    for k in keys:
        r = [(o[k] / t[k] if k in RAW_KEYS else t[k] / o[k]) for o, t in zip(ours, theirs) if o[k] and t[k]]
        if r:
            out[k] = round(statistics.median(r), 2)
    return out


def median(runs):
    return {k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0]}


def main():
    kernel = BUILD / "guest" / "vmlinux"
    work = pathlib.Path(tempfile.mkdtemp(prefix="runm-blk-bench-"))
    try:
        tarball, entries = make_tarball(work)
        initrd = work / "init.cpio"
        subprocess.run([sys.executable, str(ROOT / "rootfs-builder" / "mkinitramfs.py"), "--init",
                        str(BUILD / "linux-guests" / "runm-test-init"), "-o", str(initrd),
                        "--file", f"meta.tar={tarball}:0644"], check=True)
        res = {"accel": "tcg", "runs_per_config": RUNS, "disk_mib": MIB, "bench_ms": BENCH_MS,
               "meta": {"copies": META_COPIES, "entries": entries, "tar_bytes": tarball.stat().st_size,
                        "ext4_mib": META_MIB},
               "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
        runs = {c: [] for c in ("runm-blk", "qemu-blk", "runm-fs")}
        for i in range(RUNS):
            for c in ("runm-blk", "qemu-blk"):
                runs[c].append(raw_job(c, kernel, initrd, work / f"{c}-raw-{i}"))
            for c in runs:
                r = meta_job(c, kernel, initrd, work / f"{c}-meta-{i}", entries)
                if c == "runm-fs":
                    runs[c].append(r)
                else:
                    runs[c][-1].update(r)
        res["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        res["median"] = {c: median(r) for c, r in runs.items()}
        m = res["median"]
        res["speed_ratio_runm_blk_to_qemu_blk"] = paired_ratios(runs["runm-blk"], runs["qemu-blk"],
                                                                RAW_KEYS + META_KEYS)
        res["speed_ratio_runm_fs_to_qemu_blk"] = paired_ratios(runs["runm-fs"], runs["qemu-blk"], META_KEYS)
        res["runs"] = runs
        print(json.dumps(res))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
