#!/usr/bin/env bash
# Install every Debian package runm needs to build and test. Idempotent and quiet:
# when everything is present it only asks dpkg (well under a second).
set -euo pipefail

PKGS=(
	# tool chain
	build-essential pkg-config clang llvm lld clang-format clang-tidy cppcheck
	# libraries
	libseccomp-dev libyajl-dev libcap-dev liburing-dev libcmocka-dev libnl-3-dev libnl-route-3-dev
	# guest kernel
	linux-source-6.1 bc bison flex libelf-dev libssl-dev dwarves xz-utils cpio kmod
	# guest userland, VMM, tests
	busybox-static qemu-system-x86 python3 python3-pytest util-linux iproute2 procps e2fsprogs
	# engines used in end-to-end tests
	podman runc uidmap fuse-overlayfs slirp4netns containernetworking-plugins docker.io containerd curl
	# the CRI client of tests/integration/test_cri.py (stubs generated at test time)
	python3-grpcio python3-grpc-tools
)

# One dpkg-query for all: it prints the installed ones and stays silent on unknown names.
installed=" $({ dpkg-query -W -f='${db:Status-Status} ${Package}\n' "${PKGS[@]}" 2>/dev/null || true; } |
	awk '$1 == "installed" { printf "%s ", $2 }')"
missing=()
for p in "${PKGS[@]}"; do
	case "$installed" in *" $p "*) ;; *) missing+=("$p") ;; esac
done
[ "${#missing[@]}" = 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/runm-deps.log 2>&1; then
	apt-get update -qq >>/tmp/runm-deps.log 2>&1 || true
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/runm-deps.log 2>&1 || {
		tail -n 30 /tmp/runm-deps.log >&2
		echo "deps: apt-get install failed (log /tmp/runm-deps.log)" >&2
		exit 1
	}
fi
echo "deps: done" >&2
