/* SPDX-License-Identifier: Apache-2.0 */
/* A container's root on a virtio-blk drive (agent/disks.h): found by its serial in sysfs,
 * mounted before the container is spawned — ro: ext4 read-only; overlay: ext4 read-only as the
 * lower layer of an overlay whose upper and work directories are on a tmpfs (writes vanish with
 * the container); rw: ext4 read-write. The container's set-up then binds that mount as it binds
 * a share's rootfs (agent/mounts.c). */
#include "disks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base.h"
#include "io.h"
#include "log.h"
#include "spec.h"

#define ERR(...) agent_errf(err, errlen, __VA_ARGS__)

static const char *const mode_names[] = {[DISK_RO] = "ro", [DISK_OVERLAY] = "overlay", [DISK_RW] = "rw"};

int disks_parse_path(const char *path, enum disk_mode *mode, char serial[DISKS_SERIAL_MAX + 1], char *err,
		     size_t errlen)
{
	if (!disks_is_blk_path(path)) {
		ERR("root.path %s: not a drive (want " DISKS_PATH_PREFIX "<mode>:<serial>)",
		    path ? path : "(none)");
		return -1;
	}
	const char *m = path + strlen(DISKS_PATH_PREFIX), *colon = strchr(m, ':');
	if (!colon) {
		ERR("root.path %s: want " DISKS_PATH_PREFIX "<mode>:<serial>", path);
		return -1;
	}
	size_t ml = (size_t)(colon - m), sl = strlen(colon + 1);
	int found = -1;
	for (int i = DISK_RO; i <= DISK_RW; i++)
		if (strlen(mode_names[i]) == ml && !strncmp(m, mode_names[i], ml))
			found = i;
	if (found < 0) {
		ERR("root.path %s: mode %.*s: want ro, overlay or rw", path, (int)ml, m);
		return -1;
	}
	if (!sl || sl > DISKS_SERIAL_MAX || strpbrk(colon + 1, "/:")) {
		ERR("root.path %s: the serial must be 1..%d bytes without '/' or ':'", path,
		    DISKS_SERIAL_MAX);
		return -1;
	}
	*mode = (enum disk_mode)found;
	memcpy(serial, colon + 1, sl + 1);
	return 0;
}

int disks_find(const char *sysblock, const char *serial, char *name, size_t len, char *err, size_t errlen)
{
	DIR *d = opendir(sysblock);
	if (!d) {
		ERR("find the drive with serial %s: open %s: %s", serial, sysblock, strerror(errno));
		return -1;
	}
	int rc = -1;
	struct dirent *de;
	while (rc < 0 && (de = readdir(d))) {
		if (strncmp(de->d_name, "vd", 2))
			continue;
		char p[512];
		size_t n = 0;
		snprintf(p, sizeof(p), "%s/%s/serial", sysblock, de->d_name);
		char *buf = io_read_file(p, 64, &n);
		if (!buf)
			continue;
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
			buf[--n] = '\0';
		if (!strcmp(buf, serial) && strlen(de->d_name) < len) {
			snprintf(name, len, "%s", de->d_name);
			rc = 0;
		}
		free(buf);
	}
	closedir(d);
	if (rc < 0)
		ERR("no drive with serial %s in %s (was the image attached?)", serial, sysblock);
	return rc;
}

/* What a failed ext4 mount says: EINVAL is the kernel's answer to a file system it cannot read. */
static const char *mount_why(int e)
{
	return e == EINVAL ? "Invalid argument (not an ext4 file system?)" : strerror(e);
}

static int mkdir_p(const char *path)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, 0700) < 0 && errno != EEXIST)
				return -1;
			*s = '/';
		}
	return mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

void disks_release_root(const char *id)
{
	static const char *const subs[] = {"root", "lower", "tmp", ""};
	char p[PATH_MAX];
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(p, sizeof(p), DISKS_MNT_BASE "/%s/%s", id, subs[i]);
		if (subs[i][0] && umount2(p, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			log_errno(errno, "container %s: unmount its root drive at %s", id, p);
		if (rmdir(p) < 0 && errno != ENOENT)
			log_errno(errno, "container %s: remove %s", id, p);
	}
}

/* A/B into OUT (paths here are short: DISKS_MNT_BASE and a container id). */
static void join(char *out, size_t len, const char *a, const char *b)
{
	int w = snprintf(out, len, "%s/%s", a, b);
	if (w < 0 || (size_t)w >= len)
		out[0] = '\0';
}

static int mount_overlay(const char *base, const char *dev, char *err, size_t errlen)
{
	char lower[PATH_MAX], tmp[PATH_MAX], root[PATH_MAX], up[PATH_MAX], work[PATH_MAX];
	join(lower, sizeof(lower), base, "lower");
	join(tmp, sizeof(tmp), base, "tmp");
	join(root, sizeof(root), base, "root");
	join(up, sizeof(up), tmp, "upper");
	join(work, sizeof(work), tmp, "work");
	if (mkdir(lower, 0700) < 0 || mkdir(tmp, 0700) < 0) {
		ERR("root drive %s: mkdir under %s: %s", dev, base, strerror(errno));
		return -1;
	}
	if (mount(dev, lower, "ext4", MS_RDONLY, NULL) < 0) {
		ERR("root drive %s: mount ext4 read-only on %s: %s", dev, lower, mount_why(errno));
		return -1;
	}
	if (mount("tmpfs", tmp, "tmpfs", 0, "mode=0755") < 0 || mkdir(up, 0755) < 0 ||
	    mkdir(work, 0700) < 0) {
		ERR("root drive %s: the overlay's tmpfs upper layer on %s: %s", dev, tmp, strerror(errno));
		return -1;
	}
	char opts[4 * PATH_MAX];
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", lower, up, work);
	if (mkdir(root, 0755) < 0 || mount("overlay", root, "overlay", 0, opts) < 0) {
		ERR("root drive %s: mount overlay on %s: %s", dev, root, strerror(errno));
		return -1;
	}
	return 0;
}

int disks_mount_root(const char *id, char **root_path, char *err, size_t errlen)
{
	enum disk_mode mode;
	char serial[DISKS_SERIAL_MAX + 1], name[64], dev[80], base[PATH_MAX], root[PATH_MAX + 8];
	if (disks_parse_path(*root_path, &mode, serial, err, errlen) < 0 ||
	    disks_find("/sys/block", serial, name, sizeof(name), err, errlen) < 0)
		return -1;
	snprintf(dev, sizeof(dev), "/dev/%s", name);
	snprintf(base, sizeof(base), DISKS_MNT_BASE "/%s", id);
	snprintf(root, sizeof(root), "%s/root", base);
	if (mkdir_p(base) < 0) {
		ERR("root drive %s: mkdir %s: %s", dev, base, strerror(errno));
		return -1;
	}
	int r = 0;
	if (mode == DISK_OVERLAY) {
		r = mount_overlay(base, dev, err, errlen);
	} else if (mkdir(root, 0755) < 0 ||
		   mount(dev, root, "ext4", mode == DISK_RO ? MS_RDONLY : 0, NULL) < 0) {
		ERR("root drive %s: mount ext4%s on %s: %s", dev, mode == DISK_RO ? " read-only" : "", root,
		    mount_why(errno));
		r = -1;
	}
	char *np = r == 0 ? strdup(root) : NULL;
	if (r == 0 && !np)
		ERR("root drive %s: out of memory", dev);
	if (!np) {
		disks_release_root(id);
		return -1;
	}
	log_debug("container %s: root on %s (%s) at %s", id, dev, mode_names[mode], root);
	free(*root_path);
	*root_path = np;
	return 0;
}

/* The drive named by "blk:dev:<serial>": its node (DEV/vdX) and guest numbers. 0, or -1 with ERR. */
static int drive_node(const char *what, const char *name, const char *sysblock, const char *dev, char *node,
		      size_t len, unsigned *maj, unsigned *min, char *err, size_t errlen)
{
	const char *serial = name + strlen(DISKS_DEV_PREFIX);
	char blk[64], p[512];
	if (!*serial || strlen(serial) > DISKS_SERIAL_MAX || strpbrk(serial, "/:"))
		return ERR("%s: drive %s: the serial must be 1..%d bytes without '/' or ':'", what, name,
			   DISKS_SERIAL_MAX);
	char why[384];
	if (disks_find(sysblock, serial, blk, sizeof(blk), why, sizeof(why)) < 0)
		return ERR("%s: %s", what, why);
	snprintf(p, sizeof(p), "%s/%s/dev", sysblock, blk);
	size_t n = 0;
	char *nums = io_read_file(p, 32, &n);
	bool ok = nums && sscanf(nums, "%u:%u", maj, min) == 2;
	free(nums);
	if (!ok)
		return ERR("%s: drive %s: read %s: %s", what, serial, p,
			   nums ? "not major:minor" : strerror(errno));
	snprintf(node, len, "%s/%s", dev, blk);
	struct stat st;
	if (stat(node, &st) < 0 && mknod(node, S_IFBLK | 0600, makedev(*maj, *min)) < 0)
		return ERR("%s: drive %s: create its node %s: %s", what, serial, node, strerror(errno));
	return 0;
}

static int add_map(struct spec *s, unsigned hmaj, unsigned hmin, unsigned maj, unsigned min)
{
	struct spec_devmap *nm = realloc(s->devmap, (s->ndevmap + 1) * sizeof(*nm));
	if (!nm)
		return -1;
	s->devmap = nm;
	nm[s->ndevmap++] = (struct spec_devmap){hmaj, hmin, maj, min};
	return 0;
}

int disks_resolve_devices(struct spec *s, const char *sysblock, const char *dev, char *err, size_t errlen)
{
	char node[PATH_MAX], what[PATH_MAX + 32];
	unsigned maj = 0, min = 0;
	for (size_t i = 0; i < s->ndevices; i++) {
		struct spec_device *d = &s->devices[i];
		if (!d->drive)
			continue;
		snprintf(what, sizeof(what), "linux.devices[%zu] %s", i, d->path);
		if (strncmp(d->drive, DISKS_DEV_PREFIX, strlen(DISKS_DEV_PREFIX)))
			return ERR("%s: drive %s: want " DISKS_DEV_PREFIX "<serial>", what, d->drive);
		if (drive_node(what, d->drive, sysblock, dev, node, sizeof(node), &maj, &min, err, errlen) <
		    0)
			return -1;
		if (add_map(s, d->major, d->minor, maj, min) < 0)
			return ERR("%s: out of memory", what);
		d->major = maj;
		d->minor = min;
	}
	for (size_t i = 0; i < s->nmounts; i++) {
		struct spec_mount *m = &s->mounts[i];
		if (!m->bind || !m->source || strncmp(m->source, DISKS_DEV_PREFIX, strlen(DISKS_DEV_PREFIX)))
			continue;
		snprintf(what, sizeof(what), "mounts[%zu] %s", i, m->dest);
		if (drive_node(what, m->source, sysblock, dev, node, sizeof(node), &maj, &min, err, errlen) <
		    0)
			return -1;
		char *src = strdup(node);
		if (!src || (m->host_dev && add_map(s, m->host_major, m->host_minor, maj, min) < 0)) {
			free(src);
			return ERR("%s: out of memory", what);
		}
		free(m->source_owned);
		m->source = m->source_owned = src;
	}
	return 0;
}
