#!/usr/bin/env bash
# `make demo`: run a container in a microVM with `build/runm run` and show it answering from
# inside the VM (uname -a, /proc/cpuinfo). If this host cannot boot the microVM stack yet, say
# why and fall back to booting runm's guest kernel under QEMU (hack/guest-uname.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNM="$PWD/build/runm"
work=$(mktemp -d /tmp/runm-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 tests/fixtures/mkbundle.py "$work/bundle" -- \
	sh -c 'echo "== inside the container:"; uname -a; head -n 5 /proc/cpuinfo; echo "hostname: $(hostname)"'
echo "== runm check"
"$RUNM" check || true
echo "== $RUNM run demo-$$  (bundle $work/bundle)"
if "$RUNM" --root "$work/root" run --bundle "$work/bundle" "demo-$$" </dev/null 2>"$work/err"; then
	exit 0
fi
cat "$work/err" >&2
if grep -q "boot microVM" "$work/err"; then
	echo "runm demo: the microVM stack cannot boot a container on this host yet (see above);" \
		"booting runm's guest kernel directly under QEMU instead."
	hack/guest-uname.sh || true
	exit 1 # the container did not run: make demo must not report success
fi
exit 1
