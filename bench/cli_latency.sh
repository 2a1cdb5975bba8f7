#!/usr/bin/env bash
# CLI latency of runm vs runc in the same run: `state`, `list` and `kill` (signal 0 is not
# accepted by runc's CLI, so kill sends SIGUSR1 to an init that traps it). Containers run with
# runm's agent-on-host harness (RUNM_TEST_AGENT_ON_HOST=1) so the numbers measure the CLI and
# shim round trip, not VM boot. Prints one JSON object.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-50}
RUNM="$PWD/build/runm"
work=$(mktemp -d /tmp/runm-bench.XXXXXX)
cleanup() {
	RUNM_TEST_AGENT_ON_HOST=1 "$RUNM" --root "$work/runm" delete -f bench >/dev/null 2>&1 || true
	runc --root "$work/runc" delete -f bench >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
/usr/bin/python3 tests/fixtures/mkbundle.py "$work/bundle" -- \
	sh -c "trap 'echo usr1' USR1; while :; do sleep 1; done" >/dev/null
export RUNM_TEST_AGENT_ON_HOST=1
(cd "$work/bundle" && "$RUNM" --root "$work/runm" create bench </dev/null >/dev/null 2>&1)
"$RUNM" --root "$work/runm" start bench
(cd "$work/bundle" && runc --root "$work/runc" create bench </dev/null >/dev/null 2>&1)
runc --root "$work/runc" start bench

# mean milliseconds of N runs of "$@"
measure() {
	local s e
	s=$(date +%s%N)
	for _ in $(seq "$N"); do "$@" >/dev/null; done
	e=$(date +%s%N)
	awk -v s="$s" -v e="$e" -v n="$N" 'BEGIN { printf "%.3f", (e - s) / n / 1000000 }'
}
rs=$(measure "$RUNM" --root "$work/runm" state bench)
cs=$(measure runc --root "$work/runc" state bench)
rl=$(measure "$RUNM" --root "$work/runm" list)
cl=$(measure runc --root "$work/runc" list)
rk=$(measure "$RUNM" --root "$work/runm" kill bench USR1)
ck=$(measure runc --root "$work/runc" kill bench USR1)
# a whole `run` of `true`: runm in a microVM (its real path) vs runc
/usr/bin/python3 tests/fixtures/mkbundle.py "$work/true" -- true >/dev/null
R=${RUNS:-3}
runone() { (cd "$work/true" && "$@" </dev/null >/dev/null 2>&1) || echo "bench: $* failed" >&2; }
s=$(date +%s%N)
for i in $(seq "$R"); do runone env -u RUNM_TEST_AGENT_ON_HOST "$RUNM" --root "$work/runm" run "vm$i"; done
e=$(date +%s%N)
rr=$(awk -v s="$s" -v e="$e" -v n="$R" 'BEGIN { printf "%.1f", (e - s) / n / 1000000 }')
s=$(date +%s%N)
for i in $(seq "$R"); do runone runc --root "$work/runc" run "r$i"; done
e=$(date +%s%N)
cr=$(awk -v s="$s" -v e="$e" -v n="$R" 'BEGIN { printf "%.1f", (e - s) / n / 1000000 }')
printf '{"bench":"cli_latency","iterations":%d,"unit":"ms","runm":{"state":%s,"list":%s,"kill":%s,"run_true_vm":%s},"runc":{"state":%s,"list":%s,"kill":%s,"run_true":%s}}\n' \
	"$N" "$rs" "$rl" "$rk" "$rr" "$cs" "$cl" "$ck" "$cr"
