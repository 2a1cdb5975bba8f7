#!/bin/busybox sh
# /init of the guest used by bench/fs_guest.sh: mount the share tagged "share"
# with the filesystem named by runm_bench_fs= (virtiofs or 9p) on the kernel
# command line, then time a sequential write and read of runm_bench_mib= MiB
# and the untar of /rootfs.tar into the share. Prints "RUNM-BENCH key value"
# lines (times are /proc/uptime readings, 10 ms resolution) and powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
[ -e /dev/zero ] || mknod /dev/zero c 1 5
[ -e /dev/null ] || mknod /dev/null c 1 3
now() { read -r up _ </proc/uptime; echo "$up"; }
fail() { echo "RUNM-BENCH-FAILED $*"; sync; reboot -f; }
mib=${runm_bench_mib:-64}
case "$mib" in ''|*[!0-9]*) fail "bad runm_bench_mib=$mib" ;; esac
mkdir -p /mnt/share
case "$runm_bench_fs" in
virtiofs) mount -t virtiofs share /mnt/share || fail "mount virtiofs" ;;
9p) mount -t 9p -o trans=virtio,version=9p2000.L,msize=131072 share /mnt/share || fail "mount 9p" ;;
*) fail "bad runm_bench_fs=$runm_bench_fs" ;;
esac
# What the kernel really mounted there, from /proc/mounts.
while read -r _ dir type _; do
	[ "$dir" = /mnt/share ] && echo "RUNM-BENCH fstype $type"
done </proc/mounts
cd /mnt/share || fail "cd share"

t0=$(now)
dd if=/dev/zero of=big bs=1M count="$mib" conv=fsync 2>/dev/null || fail "write"
t1=$(now)
echo "RUNM-BENCH write $t0 $t1 $(wc -c <big)"
# Read it back from the device, not from the guest page cache.
sync
echo 3 >/proc/sys/vm/drop_caches
t0=$(now)
dd if=big of=/dev/null bs=1M 2>/dev/null || fail "read"
t1=$(now)
echo "RUNM-BENCH read $t0 $t1"
# The same with O_DIRECT: no copy through the guest page cache (an emulated
# memcpy under TCG) on either side.
t0=$(now)
dd if=/dev/zero of=big bs=1M count="$mib" oflag=direct conv=fsync 2>/dev/null || fail "direct write"
t1=$(now)
echo "RUNM-BENCH write_direct $t0 $t1 $(wc -c <big)"
echo 3 >/proc/sys/vm/drop_caches
t0=$(now)
dd if=big of=/dev/null bs=1M iflag=direct 2>/dev/null || fail "direct read"
t1=$(now)
echo "RUNM-BENCH read_direct $t0 $t1"

mkdir untar || fail "mkdir untar"
t0=$(now)
tar -xf /rootfs.tar -C untar || fail "untar"
sync
t1=$(now)
echo "RUNM-BENCH untar $t0 $t1 $(find untar | wc -l)"
cd /
umount /mnt/share || fail "umount"
echo "RUNM-BENCH-DONE"
sync
reboot -f
