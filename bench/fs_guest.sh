#!/usr/bin/env bash
# virtio-fs against virtio-9p inside the guest (QEMU, TCG here): boots our kernel twice on the
# same host directory, once with runm's virtio-fs (runm-vmctl: vhost-user-fs-pci served by
# `runm-vmm vhost-user --device fs,...`, memfd guest RAM) and once with QEMU's built-in
# virtio-9p-pci (-fsdev local,security_model=passthrough: what -virtfs expands to), and times
# in the guest (tests/linux-guests/fs_bench_init.sh) a sequential write then read (drop_caches
# between) of MiB MiB, buffered and with O_DIRECT, and the untar of a busybox rootfs tarball.
# Prints one JSON object with MB/s and seconds for both, and the ratios virtiofs/9p.
# Usage: bench/fs_guest.sh [MiB]   (or RUNM_FS_GUEST_MIB=N; default 64)
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-${RUNM_FS_GUEST_MIB:-64}}
case "$MIB" in '' | *[!0-9]* | 0) echo "fs_guest.sh: size $MIB: not a positive number of MiB" >&2; exit 2 ;; esac
for f in build/runm-vmctl build/runm-vmm build/guest/vmlinux /bin/busybox; do
	[ -e "$f" ] || { echo "fs_guest.sh: $f missing: run make && make kernel" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "fs_guest.sh: qemu-system-x86_64 not installed" >&2; exit 1; }
exec /usr/bin/python3 - "$MIB" <<'PY'
import json, os, pathlib, shutil, subprocess, sys, tarfile, tempfile
mib = int(sys.argv[1])
root = pathlib.Path.cwd()
b = root / "build"
work = pathlib.Path(tempfile.mkdtemp(prefix="runm-bench-fs-"))
MEM = "512"
TIMEOUT = 150


def die(msg):
    sys.exit(f"fs_guest.sh: {msg}")


def parse(console, fs):
    text = console.read_text(errors="replace").replace("\r\n", "\n")
    res = {}
    for line in text.splitlines():
        if line.startswith("RUNM-BENCH-FAILED"):
            die(f"{fs}: guest: {line}\n{text[-2000:]}")
        if not line.startswith("RUNM-BENCH "):
            continue
        w = line.split()
        if w[1] == "fstype":
            res["fstype"] = w[2]
        elif w[1] in ("write", "read", "write_direct", "read_direct", "untar"):
            secs = max(float(w[3]) - float(w[2]), 0.01)  # /proc/uptime: 10 ms steps
            res[w[1] + "_s"] = round(secs, 2)
            if w[1] in ("write", "write_direct"):
                res[w[1] + "_bytes"] = int(w[4])
            if w[1] == "untar":
                res["untar_entries"] = int(w[4])
    want = {"fstype", "write_s", "read_s", "write_direct_s", "read_direct_s", "untar_s"}
    if "RUNM-BENCH-DONE" not in text or not want <= res.keys():
        die(f"{fs}: guest did not finish\n{text[-2000:]}")
    for k in ("write", "read", "write_direct", "read_direct"):
        res[k + "_MBps"] = round(mib * 1.048576 / res[k + "_s"], 2)
    return res


try:
    # The metadata load: the busybox rootfs of the tests (one binary, ~400 applet links).
    bundle = work / "bundle"
    subprocess.run([sys.executable, str(root / "tests/fixtures/mkbundle.py"), str(bundle)],
                   check=True, stdout=subprocess.DEVNULL)
    tarball = work / "rootfs.tar"
    with tarfile.open(tarball, "w") as t:
        t.add(bundle / "rootfs", arcname=".")
    initrd = work / "init.cpio"
    subprocess.run([sys.executable, str(root / "rootfs-builder/mkinitramfs.py"),
                    "--init", str(root / "tests/linux-guests/fs_bench_init.sh"), "-o", str(initrd),
                    "--file", "bin/busybox=/bin/busybox:0755",
                    "--file", f"rootfs.tar={tarball}:0644"], check=True)
    share = work / "share"
    out = {"bench": "fs_guest", "accel": "tcg", "file_MiB": mib}
    for fs in ("virtiofs", "9p"):
        if share.exists():
            shutil.rmtree(share)
        share.mkdir()
        run = work / f"run-{fs}"
        run.mkdir()
        console = run / "console.log"
        cmdline = f"console=ttyS0 reboot=k panic=-1 quiet runm_bench_fs={fs} runm_bench_mib={mib}"
        if fs == "virtiofs":
            cmd = [str(b / "runm-vmctl"), "--backend", "qemu", "--accel", "tcg", "--machine", "pc",
                   "--kernel", str(b / "guest/vmlinux"), "--initrd", str(initrd), "--cmdline", cmdline,
                   "--run-dir", str(run), "--console", str(console), "--fs", f"share={share}",
                   "--mem", MEM, "--timeout", str(TIMEOUT)]
        else:
            # The same machine runm's QEMU backend builds (backend_qemu.c), 9p instead of vhost-user.
            cmd = ["qemu-system-x86_64", "-name", "runm-9p", "-nodefaults", "-no-user-config",
                   "-display", "none", "-no-reboot",
                   "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
                   "-M", "pc,memory-backend=mem", "-accel", "tcg", "-cpu", "max", "-m", MEM + "M",
                   "-smp", "1", "-object", f"memory-backend-memfd,id=mem,size={MEM}M,share=on",
                   "-fsdev", f"local,id=fs0,path={share},security_model=passthrough",
                   "-device", "virtio-9p-pci,fsdev=fs0,mount_tag=share",
                   "-chardev", f"file,id=con0,path={console}", "-serial", "chardev:con0",
                   "-kernel", str(b / "guest/vmlinux"), "-initrd", str(initrd), "-append", cmdline]
        try:
            r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               timeout=TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            die(f"{fs}: VM still running after {TIMEOUT + 10} s")
        if r.returncode != 0:
            die(f"{fs}: VM exited {r.returncode}: {r.stderr.strip()}")
        res = parse(console, fs)
        # What the guest wrote is on the host, through this filesystem.
        big = share / "big"
        if not big.is_file() or {big.stat().st_size, res["write_bytes"], res["write_direct_bytes"]} != {mib << 20}:
            die(f"{fs}: {big} is not the {mib} MiB the guest wrote")
        if not (share / "untar/bin/busybox").is_file():
            die(f"{fs}: the untarred rootfs is not in {share}")
        out[fs] = res
    for k in ("write_MBps", "read_MBps", "write_direct_MBps", "read_direct_MBps"):
        out[f"ratio_{k}"] = round(out["virtiofs"][k] / out["9p"][k], 2)
    out["ratio_untar_s"] = round(out["virtiofs"]["untar_s"] / out["9p"]["untar_s"], 2)
    print(json.dumps(out))
finally:
    shutil.rmtree(work, ignore_errors=True)
PY
