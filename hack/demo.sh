#!/usr/bin/env bash
# `make demo`: show runm working on this machine.
# The full container path (runm run of the busybox bundle in a microVM) replaces this once the
# CLI, shim, agent and vhost-user devices are wired together; until then the demo boots runm's
# guest kernel under QEMU and prints the guest's uname — and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "runm demo: the container path is not wired up yet; booting runm's guest kernel instead."
exec hack/guest-uname.sh
