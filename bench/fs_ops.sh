#!/usr/bin/env bash
# virtio-fs server cost per operation (lookup, getattr, read 4 KiB, write 4 KiB,
# readdir of 100 entries) in a host harness vs the native system calls; goal
# ratio <= 1.3. Prints one JSON object. Usage: bench/fs_ops.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/bench/fs_ops ] || { echo "fs_ops.sh: build/bench/fs_ops missing: run make" >&2; exit 1; }
exec build/bench/fs_ops "${1:-200000}"
