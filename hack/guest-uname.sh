#!/usr/bin/env bash
# Boot runm's guest kernel under QEMU (TCG unless the host has hardware virtualization) with a
# throw-away busybox initramfs and print what the guest says about itself. This shows the guest
# half of runm working on any machine; `make demo` runs a real container once the stack is there.
set -euo pipefail
cd "$(dirname "$0")/.."
guest=${RUNM_GUEST_DIR:-build/guest}
[ -f "$guest/vmlinux" ] || { echo "guest-uname: $guest/vmlinux missing: run 'make guest'" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/init" <<'INIT'
#!/bin/sh
/bin/busybox mount -t proc proc /proc
echo "guest: $(/bin/busybox uname -a)"
echo "guest: $(/bin/busybox grep -c ^processor /proc/cpuinfo) vCPU, $(/bin/busybox awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo) RAM, up $(/bin/busybox cut -d' ' -f1 /proc/uptime) s"
/bin/busybox reboot -f
INIT
/usr/bin/python3 rootfs-builder/mkinitramfs.py --init "$work/init" -o "$work/initramfs.cpio" \
	--file bin/busybox=/bin/busybox --symlink bin/sh=busybox
accel=tcg
grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ] && accel=kvm
echo "host: booting $guest/vmlinux under qemu-system-x86_64 (accel=$accel)"
start=$(date +%s.%N)
timeout 60 qemu-system-x86_64 -M pc -accel "$accel" -m 256 -smp 1 -nodefaults -no-user-config \
	-nographic -serial stdio -no-reboot -kernel "$guest/vmlinux" -initrd "$work/initramfs.cpio" \
	-append "console=ttyS0 reboot=k panic=-1 quiet no_timer_check" </dev/null | grep -a --line-buffered -o 'guest: .*' | tr -d '\r'
echo "host: guest booted, answered and powered off in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }') s"
