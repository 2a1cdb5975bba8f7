#!/bin/busybox sh
# /init of the guest used by test_fs_torture.py: mount the virtio-fs tag
# "share", run the torture script in it, print its output between markers.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t tmpfs tmpfs /tmp
[ -e /dev/zero ] || mknod /dev/zero c 1 5
mkdir -p /mnt/share
if mount -t virtiofs share /mnt/share; then
	mkdir /mnt/share/work
	sh /torture.sh /mnt/share/work /bin/test_fs_helper >/tmp/out 2>&1
	echo RUNM-FS-TORTURE-BEGIN
	cat /tmp/out
	echo RUNM-FS-TORTURE-END
	# Containers execute their binaries from the share: exec one from it.
	cp /bin/busybox /mnt/share/busybox && /mnt/share/busybox echo RUNM-FS-EXEC-OK
else
	echo RUNM-FS-MOUNT-FAILED
fi
sync
reboot -f
