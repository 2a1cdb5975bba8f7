#!/usr/bin/env bash
# Hybrid vsock throughput through QEMU (TCG here) and runm's vhost-user vsock server:
# host → guest ("recv N": the guest reads N bytes and acknowledges) and guest → host ("send N").
# Prints one JSON object. Usage: bench/qemu_vsock.sh [MiB]
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-64}
for f in build/runm-vmctl build/runm-vmm build/linux-guests/runm-test-init build/guest/vmlinux; do
	[ -e "$f" ] || { echo "qemu_vsock.sh: $f missing: run make && make kernel" >&2; exit 1; }
done
exec /usr/bin/python3 - "$MIB" <<'PY'
import json, os, pathlib, socket, subprocess, sys, tempfile, time
mib = int(sys.argv[1])
n = mib << 20
root = pathlib.Path.cwd()
b = root / "build"
work = pathlib.Path(tempfile.mkdtemp(prefix="runm-bench-"))
initrd = work / "init.cpio"
subprocess.run([sys.executable, str(root / "rootfs-builder/mkinitramfs.py"), "--init",
                str(b / "linux-guests/runm-test-init"), "-o", str(initrd)], check=True)
uds = work / "vsock.sock"
vm = subprocess.Popen([str(b / "runm-vmctl"), "--backend", "qemu", "--kernel", str(b / "guest/vmlinux"),
                       "--initrd", str(initrd), "--cmdline",
                       "console=ttyS0 reboot=k panic=-1 quiet runm_test=vsockbw", "--run-dir", str(work),
                       "--console", str(work / "console.log"), "--vsock-uds", str(uds),
                       "--timeout", "600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def conn():
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(uds))
            s.sendall(b"CONNECT 1234\n")
            f = s.makefile("rb")
            if f.readline().startswith(b"OK"):
                return s, f
            s.close()
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("guest never listened")

try:
    s, f = conn()
    s.sendall(b"recv 1\nx")
    f.readline()
    s.close()
    s, f = conn()
    buf = b"y" * 65536
    t0 = time.monotonic()
    s.sendall(f"recv {n}\n".encode())
    sent = 0
    while sent < n:
        s.sendall(buf)
        sent += len(buf)
    ack = f.readline()
    h2g = time.monotonic() - t0
    s.close()
    assert ack == f"ok {n}\n".encode(), ack
    s, f = conn()
    t0 = time.monotonic()
    s.sendall(f"send {n}\n".encode())
    got = 0
    while got < n:
        d = f.read1(1 << 20)
        if not d:
            break
        got += len(d)
    g2h = time.monotonic() - t0
    s.close()
    assert got == n, got
finally:
    vm.terminate()
    vm.wait()
print(json.dumps({"bench": "qemu_vsock", "accel": "tcg", "bytes": n,
                  "host_to_guest_MiBps": round(mib / h2g, 1), "guest_to_host_MiBps": round(mib / g2h, 1)}))
PY
