/* SPDX-License-Identifier: Apache-2.0 */
/* A container root on the block device the engine mounted at the bundle's rootfs (containerd's
 * devmapper snapshotter mounts an ext4 thin device there before `create`), runtime/disks.h.
 *
 * Two kernels must never have one writable ext4 mounted at once. A writable mount is therefore
 * lent, not shared: recorded in the state directory, unmounted on the host, and the device
 * opened with O_EXCL — which the kernel refuses while any file system anywhere (another mount
 * namespace, a bind elsewhere) still holds it, and which in turn makes the host's mount(2) of it
 * fail while the VM runs. When the VM is gone the mount is put back as recorded, so the engine
 * finds its rootfs as it left it. A read-only mount stays on the host and the guest mounts the
 * device read-only too (with a tmpfs overlay unless root.readonly). */
#include "disks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "json.h"
#include "log.h"
#include "mounts.h"

int disks_host_node(unsigned major, unsigned minor, const char *sysdev, char *out, size_t len, char *err,
		    size_t errlen)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%u:%u/uevent", sysdev ? sysdev : "/sys/dev/block", major, minor);
	size_t n;
	char *ev = io_read_file(path, 8192, &n);
	if (!ev) {
		snprintf(err, errlen, "no block device %u:%u on the host (%s: %s)", major, minor, path,
			 strerror(errno));
		return -1;
	}
	const char *name = NULL;
	for (char *save = NULL, *l = strtok_r(ev, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, "DEVNAME=", 8))
			name = l + 8;
	int rc = -1;
	struct stat st;
	if (!name || !*name || strstr(name, "..")) {
		snprintf(err, errlen, "block device %u:%u: no DEVNAME in %s", major, minor, path);
	} else if ((size_t)snprintf(out, len, "/dev/%s", name) >= len) {
		snprintf(err, errlen, "block device %u:%u: name %s too long", major, minor, name);
	} else if (stat(out, &st) < 0) {
		snprintf(err, errlen, "block device %u:%u: its node %s: %s", major, minor, out,
			 strerror(errno));
	} else if (!S_ISBLK(st.st_mode) || st.st_rdev != makedev(major, minor)) {
		snprintf(err, errlen, "block device %u:%u: %s is another file", major, minor, out);
	} else {
		rc = 0;
	}
	free(ev);
	return rc;
}

/* The mount flags and the file system's own options of a mountinfo entry. */
static void mount_options(const struct mountinfo_ent *e, struct disks_host_mount *h)
{
	static const struct {
		const char *name;
		unsigned long flag;
	} known[] = {{"ro", MS_RDONLY},		{"nosuid", MS_NOSUID},
		     {"nodev", MS_NODEV},	{"noexec", MS_NOEXEC},
		     {"noatime", MS_NOATIME},	{"nodiratime", MS_NODIRATIME},
		     {"relatime", MS_RELATIME}, {"strictatime", MS_STRICTATIME},
		     {"sync", MS_SYNCHRONOUS},	{"dirsync", MS_DIRSYNC}};
	char buf[sizeof(e->super_opts)];
	h->flags = 0;
	snprintf(buf, sizeof(buf), "%s", e->opts);
	for (char *save = NULL, *o = strtok_r(buf, ",", &save); o; o = strtok_r(NULL, ",", &save))
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcmp(o, known[i].name))
				h->flags |= known[i].flag;
	h->data[0] = '\0';
	snprintf(buf, sizeof(buf), "%s", e->super_opts);
	size_t at = 0;
	for (char *save = NULL, *o = strtok_r(buf, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (!strcmp(o, "rw") || !strcmp(o, "ro") || !strcmp(o, "seclabel"))
			continue;
		int w = snprintf(h->data + at, sizeof(h->data) - at, "%s%s", at ? "," : "", o);
		if (w < 0 || (size_t)w >= sizeof(h->data) - at) {
			h->data[at] = '\0';
			break;
		}
		at += (size_t)w;
	}
}

bool disks_rootfs_device(const char *rootfs, const char *mountinfo, const char *sysdev,
			 struct disks_host_mount *host, char *why, size_t whylen)
{
	char canon[PATH_MAX];
	if (!realpath(rootfs, canon)) {
		snprintf(why, whylen, "%s", strerror(errno));
		return false;
	}
	FILE *f = fopen(mountinfo ? mountinfo : "/proc/self/mountinfo", "re");
	if (!f) {
		snprintf(why, whylen, "read mountinfo: %s", strerror(errno));
		return false;
	}
	struct mountinfo_ent *e = malloc(sizeof(*e)), *top = malloc(sizeof(*top));
	char *line = NULL;
	size_t cap = 0;
	bool found = false, ok = false;
	while (e && top && getline(&line, &cap, f) > 0)
		if (mountinfo_parse(line, e) == 0 && !strcmp(e->mount_point, canon)) {
			*top = *e; /* the last one listed is the topmost */
			found = true;
		}
	free(line);
	fclose(f);
	char dev[64], sys[PATH_MAX + 80];
	struct stat st;
	if (!e || !top) {
		snprintf(why, whylen, "out of memory");
	} else if (!found) {
		snprintf(why, whylen, "not a mount point");
	} else if (snprintf(dev, sizeof(dev), "%u:%u", top->major, top->minor),
		   snprintf(sys, sizeof(sys), "%s/%s", sysdev ? sysdev : "/sys/dev/block", dev),
		   stat(sys, &st) < 0) {
		snprintf(why, whylen, "a %s file system (%s), not on a block device", top->fstype, dev);
	} else if (strcmp(top->root, "/")) {
		snprintf(why, whylen, "a bind of %s within the file system on %s, not the whole of it",
			 top->root, dev);
	} else if (strcmp(top->fstype, "ext4") && strcmp(top->fstype, "ext3") &&
		   strcmp(top->fstype, "ext2")) {
		snprintf(why, whylen, "a %s file system on %s: the guest kernel mounts ext2/3/4 only",
			 top->fstype, dev);
	} else {
		char nerr[PATH_MAX + 128];
		if (disks_host_node(top->major, top->minor, sysdev, host->device, sizeof(host->device), nerr,
				    sizeof(nerr)) < 0) {
			snprintf(why, whylen, "%s", nerr);
		} else {
			snprintf(host->target, sizeof(host->target), "%s", canon);
			snprintf(host->fstype, sizeof(host->fstype), "%s", top->fstype);
			mount_options(top, host);
			ok = true;
		}
	}
	free(e);
	free(top);
	return ok;
}

static void record_path(const char *dir, char *out, size_t len)
{
	snprintf(out, len, "%s/" DISKS_RECORD, dir);
}

static int write_record(const struct disks_host_mount *h, const char *dir, char *err, size_t errlen)
{
	struct json_gen g;
	const char *json;
	size_t len;
	char path[PATH_MAX + 32];
	record_path(dir, path, sizeof(path));
	if (json_gen_begin(&g) < 0) {
		snprintf(err, errlen, "record the host's rootfs mount: out of memory");
		return -1;
	}
	json_gen_str(&g, "device", h->device);
	json_gen_str(&g, "target", h->target);
	json_gen_str(&g, "fstype", h->fstype);
	json_gen_int(&g, "flags", (long long)h->flags);
	json_gen_str(&g, "data", h->data);
	int rc = json_gen_end(&g, &json, &len);
	if (rc == 0 && (rc = io_write_file_atomic(path, json, len, 0600, true)) < 0)
		snprintf(err, errlen, "record the host's rootfs mount in %s: %s", path, strerror(-rc));
	else if (rc < 0)
		snprintf(err, errlen, "record the host's rootfs mount: encode");
	json_gen_free(&g);
	return rc < 0 ? -1 : 0;
}

static int read_record(const char *path, struct disks_host_mount *h)
{
	size_t n;
	char *txt = io_read_file(path, 1 << 16, &n);
	if (!txt)
		return errno == ENOENT ? 0 : -1;
	char perr[128];
	yajl_val v = json_parse(txt, n, perr, sizeof(perr));
	free(txt);
	const char *dev = json_get_str(v, "device"), *tgt = json_get_str(v, "target"),
		   *fs = json_get_str(v, "fstype"), *data = json_get_str(v, "data");
	long long flags;
	int rc = -1;
	if (dev && tgt && fs && data && dev[0] == '/' && tgt[0] == '/' &&
	    json_get_int(v, "flags", 0, 0xffffffffLL, &flags) == 0) {
		snprintf(h->device, sizeof(h->device), "%s", dev);
		snprintf(h->target, sizeof(h->target), "%s", tgt);
		snprintf(h->fstype, sizeof(h->fstype), "%s", fs);
		snprintf(h->data, sizeof(h->data), "%s", data);
		h->flags = (unsigned long)flags;
		rc = 1;
	}
	yajl_tree_free(v);
	return rc;
}

/* Mount H back; the device may still be held for a moment by a device server that is exiting
 * (EBUSY). 0 or -errno. */
static int remount(const struct disks_host_mount *h)
{
	long long deadline = io_now_ms() + 5000;
	for (;;) {
		int r = mount(h->device, h->target, h->fstype, h->flags, h->data[0] ? h->data : NULL);
		if (r < 0 && errno == EINVAL && h->data[0])
			r = mount(h->device, h->target, h->fstype, h->flags, NULL); /* options it refuses */
		if (r == 0)
			return 0;
		if (errno != EBUSY || io_now_ms() >= deadline)
			return -errno;
		nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
	}
}

int disks_claim_root(struct disks_plan *p, const char *dir, char *err, size_t errlen)
{
	struct disks_host_mount *h = &p->root.host;
	if (!p->root.device)
		return 0;
	if (h->flags & MS_RDONLY) {
		p->root_fd = open(h->device, O_RDONLY | O_CLOEXEC);
		if (p->root_fd < 0) {
			snprintf(err, errlen, "rootfs device %s: open read-only: %s", h->device,
				 strerror(errno));
			return -1;
		}
		return 0;
	}
	if (write_record(h, dir, err, errlen) < 0)
		return -1;
	char rec[PATH_MAX + 32];
	record_path(dir, rec, sizeof(rec));
	if (umount2(h->target, UMOUNT_NOFOLLOW) < 0) {
		int e = errno;
		unlink(rec);
		snprintf(err, errlen, "rootfs %s: unmount it on the host to lend %s to the VM: %s", h->target,
			 h->device,
			 e == EBUSY ? "Device or resource busy (something on the host uses it)"
				    : strerror(e));
		return -1;
	}
	p->root_fd = open(h->device, O_RDWR | O_EXCL | O_CLOEXEC);
	if (p->root_fd >= 0)
		return 0;
	int e = errno;
	snprintf(err, errlen, "rootfs device %s: open exclusively: %s%s", h->device, strerror(e),
		 e == EBUSY
		     ? " (the file system is still mounted elsewhere: a second kernel must not mount it; "
		       "unmount the other mounts or leave " DISKS_ANN_DEVICE " off)"
		     : "");
	int r = remount(h);
	if (r < 0)
		log_errno(-r, "rootfs device %s: mount it back on %s", h->device, h->target);
	else
		unlink(rec);
	return -1;
}

int disks_restore_root(struct disks_plan *p, const char *dir)
{
	if (p && p->root_fd >= 0) {
		close(p->root_fd);
		p->root_fd = -1;
	}
	char rec[PATH_MAX + 32];
	record_path(dir, rec, sizeof(rec));
	struct disks_host_mount h;
	int r = read_record(rec, &h);
	if (r == 0)
		return 0;
	if (r < 0) {
		log_error("rootfs device record %s: unreadable; the host's rootfs mount is not put back",
			  rec);
		return -1;
	}
	r = remount(&h);
	if (r < 0) {
		log_errno(-r, "rootfs device %s: mount it back on %s (record kept in %s)", h.device, h.target,
			  rec);
		return -1;
	}
	unlink(rec);
	return 0;
}
