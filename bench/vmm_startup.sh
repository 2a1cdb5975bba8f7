#!/usr/bin/env bash
# runm-vmm startup cost: exec -> first KVM_RUN (wall and process CPU ms) and the
# VMM's own resident memory beyond the guest RAM it has touched, booting our
# vmlinux with 128 MiB. Numbers come from the VMM's control socket ("status").
# RSS is sampled right at the first KVM_RUN (kernel + boot structures loaded).
# Prints one JSON object. Usage: bench/vmm_startup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
VMM=${RUNM_VMM:-build/runm-vmm}
KERNEL=${RUNM_KERNEL:-build/guest/vmlinux}
[ -x "$VMM" ] || { echo "vmm_startup: $VMM missing (make)" >&2; exit 1; }
[ -f "$KERNEL" ] || { echo "vmm_startup: $KERNEL missing (make kernel)" >&2; exit 1; }
exec /usr/bin/python3 - "$VMM" "$KERNEL" "$RUNS" <<'PY'
import json, os, socket, statistics, subprocess, sys, tempfile, time
vmm, kernel, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])

def status(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rwb")
    f.write(b'{"cmd":"status"}\n'); f.flush()
    r = json.loads(f.readline())
    return s, f, r

def one_run():
    """One VMM start; returns the status sample, or None if Linux died in the
    kvm_pvm emulator before we could ask (it does after a while)."""
    d = tempfile.mkdtemp(prefix="vmmbench")
    ctl = os.path.join(d, "ctl.sock")
    p = subprocess.Popen([vmm, "--kernel", kernel, "--mem", "128", "--console", "off", "--control", ctl],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    st = None
    deadline = time.time() + 20
    while time.time() < deadline and p.poll() is None:
        try:
            s, f, st = status(ctl)
            s.close()
            if st.get("first_run_wall_ms", 0) > 0:
                break
        except (OSError, ValueError):
            pass
        st = None
        time.sleep(0.002)
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(ctl)
        s.sendall(b'{"cmd":"stop"}\n')
        s.recv(100)
        s.close()
    except OSError:
        pass
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    os.rmdir(d)
    return st


samples = []
failures = 0
while len(samples) < runs:
    st = one_run()
    if st is None:
        failures += 1
        if failures > 3 * runs:
            sys.exit("vmm_startup: runm-vmm never reached its first KVM_RUN")
        continue
    samples.append(dict(wall=st["first_run_wall_ms"], cpu=st["first_run_cpu_ms"],
                        rss=st["rss_kib"], guest=st["guest_resident_kib"]))

med = lambda k: statistics.median(x[k] for x in samples)
print(json.dumps({
    "bench": "vmm_startup",
    "kernel": kernel,
    "mem_mib": 128,
    "runs": runs,
    "exec_to_first_kvm_run_ms": round(med("wall"), 3),
    "exec_to_first_kvm_run_cpu_ms": round(med("cpu"), 3),
    "vmm_rss_kib": int(med("rss")),
    "guest_resident_kib": int(med("guest")),
    "vmm_rss_beyond_guest_kib": int(statistics.median(x["rss"] - x["guest"] for x in samples)),
}))
PY
