#!/usr/bin/env bash
# Cost of a guest exit handled in runm-vmm's userspace: a mini-guest does N
# port writes then N MMIO reads; the VMM's output timestamps give the time per
# exit of each kind. Prints one JSON object. Usage: bench/vmm_exits.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
VMM=${RUNM_VMM:-build/runm-vmm}
G=build/guests/exit_loop.elf
[ -x "$VMM" ] || { echo "vmm_exits: $VMM missing (make)" >&2; exit 1; }
[ -f "$G" ] || { echo "vmm_exits: $G missing (make guests)" >&2; exit 1; }
exec /usr/bin/python3 - "$VMM" "$G" "$N" <<'PY'
import json, subprocess, sys, time
vmm, g, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.monotonic()
p = subprocess.Popen([vmm, "--kernel", g, "--mem", "16", "--cmdline", f"console=ttyS0 exits={n}"],
                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
marks = {}
for line in p.stdout:
    marks[line.split()[0].decode()] = time.monotonic()
p.wait()
if p.returncode != 0 or not {"pio", "mmio", "done"} <= marks.keys():
    sys.exit(f"vmm_exits: guest failed (exit {p.returncode}): {p.stderr.read().decode()}")
pio = (marks["mmio"] - marks["pio"]) / n * 1e6
mmio = (marks["done"] - marks["mmio"]) / n * 1e6
print(json.dumps({"bench": "vmm_exits", "exits_each": n, "pio_exit_us": round(pio, 2),
                  "mmio_exit_us": round(mmio, 2), "total_s": round(time.monotonic() - t0, 3)}))
PY
