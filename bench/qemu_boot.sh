#!/usr/bin/env bash
# QEMU backend boot latency under the host's accelerator (TCG here): runm-vmctl launch →
#   - "to_init_ms":   the test init's first console line (kernel booted, /init runs), and
#   - "to_vsock_ms":  the test init's answer over hybrid vsock (CONNECT 1234 via our
#                     vhost-user vsock server), when the device library has vsock;
#   - "to_agent_hello_ms": the real guest (build/guest/initramfs.cpio, runm-agent as /init)
#                     answering runm-agentctl hello.
# Prints one JSON object. Usage: bench/qemu_boot.sh [RUNS] [pc|microvm] [VCPUS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
MACHINE=${2:-pc}
CPUS=${3:-1}
for f in build/runm-vmctl build/runm-vmm build/linux-guests/runm-test-init build/guest/vmlinux; do
	[ -e "$f" ] || { echo "qemu_boot.sh: $f missing: run make && make kernel" >&2; exit 1; }
done
exec /usr/bin/python3 - "$RUNS" "$MACHINE" "$CPUS" <<'PY'
import json, os, pathlib, socket, statistics, subprocess, sys, tempfile, time
runs, machine, cpus = int(sys.argv[1]), sys.argv[2], sys.argv[3]
root = pathlib.Path.cwd()
b = root / "build"
work = pathlib.Path(tempfile.mkdtemp(prefix="runm-bench-"))
initrd = work / "init.cpio"
subprocess.run([sys.executable, str(root / "rootfs-builder/mkinitramfs.py"), "--init",
                str(b / "linux-guests/runm-test-init"), "-o", str(initrd)], check=True)
kinds = subprocess.run([str(b / "runm-vmm"), "vhost-user", "--help"], capture_output=True,
                       text=True).stdout
has_vsock = "vsock" in kinds.split("kinds here:")[-1]
explain = json.loads(subprocess.run([str(b / "runm-vmctl"), "--explain"], capture_output=True,
                                    text=True, check=True).stdout)

ms = lambda xs: [round(x * 1000) for x in xs if x is not None]

def one(i):
    d = work / f"run{i}"
    d.mkdir()
    con = d / "console.log"
    uds = d / "vsock.sock"
    mode = "vsock" if has_vsock else "idle"
    cmd = [str(b / "runm-vmctl"), "--backend", "qemu", "--machine", machine, "--cpus", cpus, "--kernel",
           str(b / "guest/vmlinux"), "--initrd", str(initrd), "--cmdline",
           f"console=ttyS0 reboot=k panic=-1 quiet runm_test={mode}", "--run-dir", str(d),
           "--console", str(con), "--timeout", "60"]
    if has_vsock:
        cmd += ["--vsock-uds", str(uds)]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    t_init = t_vsock = None
    try:
        while time.monotonic() - t0 < 60 and p.poll() is None:
            if t_init is None and con.exists() and "RUNM-TEST-INIT" in con.read_text(errors="replace"):
                t_init = time.monotonic() - t0
                if not has_vsock:
                    break
            if has_vsock and uds.exists():
                try:
                    s = socket.socket(socket.AF_UNIX)
                    s.settimeout(5)
                    s.connect(str(uds))
                    s.sendall(b"CONNECT 1234\n")
                    f = s.makefile("rb")
                    ok = f.readline()
                    if ok.startswith(b"OK"):
                        s.sendall(b"ping\n")
                        if f.readline() == b"echo:ping\n":
                            t_vsock = time.monotonic() - t0
                            break
                    s.close()
                except OSError:
                    pass
            time.sleep(0.005)
    finally:
        p.terminate()
        p.wait()
    return t_init, t_vsock

def agent(i):
    d = work / f"agent{i}"
    d.mkdir()
    uds = d / "vsock.sock"
    cmd = [str(b / "runm-vmctl"), "--backend", "qemu", "--machine", machine, "--cpus", cpus, "--kernel",
           str(b / "guest/vmlinux"), "--initrd", str(b / "guest/initramfs.cpio"), "--run-dir", str(d),
           "--console", str(d / "console.log"), "--vsock-uds", str(uds), "--timeout", "60"]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        while time.monotonic() - t0 < 60 and p.poll() is None:
            try:  # the agent listens on 1024 once it runs; then say hello through the library
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(5)
                s.connect(str(uds))
                s.sendall(b"CONNECT 1024\n")
                ok = s.makefile("rb").readline().startswith(b"OK")
                s.close()
                if ok and subprocess.run([str(b / "runm-agentctl"), "--uds", str(uds), "hello"],
                                         capture_output=True).returncode == 0:
                    return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.005)
    finally:
        p.terminate()
        p.wait()
    return None

res = [one(i) for i in range(runs)]
hello = ms([agent(i) for i in range(runs)]) if has_vsock and (b / "runm-agentctl").exists() else []
inits, vs = ms([r[0] for r in res]), ms([r[1] for r in res])
print(json.dumps({
    "bench": "qemu_boot", "machine": machine, "vcpus": int(cpus), "accel": explain["accel"], "runs": runs,
    "to_init_ms": inits, "to_init_median_ms": statistics.median(inits) if inits else None,
    "to_vsock_ms": vs, "to_vsock_median_ms": statistics.median(vs) if vs else None,
    "to_agent_hello_ms": hello, "to_agent_hello_median_ms": statistics.median(hello) if hello else None,
    "vsock": "served by runm-vmm vhost-user" if has_vsock else "device library has no vsock yet",
    "goal_ms": 1500}))
PY
