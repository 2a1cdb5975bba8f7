/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime's side of block devices (runtime/disks.h): which virtio-blk drives a container's
 * VM gets, decided once. The shim attaches them (runtime/guest.c) in plan order — the root
 * drive first, then one per host device — each with its serial; the guest config names the
 * serials (runtime/guest_config.c) and the agent finds the drives by them (agent/disks.c). */
#include "disks.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "json.h"

static const char *const mode_names[] = {[DISKS_RO] = "ro", [DISKS_OVERLAY] = "overlay", [DISKS_RW] = "rw"};

const char *disks_mode_name(enum disks_mode m)
{
	return m > DISKS_NONE && m <= DISKS_RW ? mode_names[m] : NULL;
}

static int image_root(const struct spec *s, struct disks_root *r, char *err, size_t errlen)
{
	const char *img = spec_annotation(s, DISKS_ANN_IMAGE), *mode = spec_annotation(s, DISKS_ANN_MODE);
	if (!img) {
		if (mode) {
			snprintf(err, errlen,
				 "annotation " DISKS_ANN_MODE "=\"%s\": no " DISKS_ANN_IMAGE
				 " annotation names the image",
				 mode);
			return -1;
		}
		return 0;
	}
	enum disks_mode m = DISKS_OVERLAY;
	if (mode) {
		m = DISKS_NONE;
		for (int i = DISKS_RO; i <= DISKS_RW; i++)
			if (!strcmp(mode, mode_names[i]))
				m = (enum disks_mode)i;
		if (m == DISKS_NONE) {
			snprintf(err, errlen, "annotation " DISKS_ANN_MODE "=\"%s\": want ro, overlay or rw",
				 mode);
			return -1;
		}
	}
	struct stat st;
	if (!img[0] || img[0] != '/') {
		snprintf(err, errlen, "annotation " DISKS_ANN_IMAGE "=\"%s\": want an absolute path", img);
		return -1;
	}
	if (stat(img, &st) < 0) {
		snprintf(err, errlen, "annotation " DISKS_ANN_IMAGE ": rootfs image %s: %s", img,
			 strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "annotation " DISKS_ANN_IMAGE ": rootfs image %s: not a regular file",
			 img);
		return -1;
	}
	r->mode = m;
	r->image = img;
	return 0;
}

/* The device root, when asked for (the annotation, else the host-wide default) and the bundle's
 * rootfs is one. Asked for by the annotation and not possible: an error; by the host default: the
 * virtio-fs share, as without it. */
static int device_root(const struct spec *s, bool host_default, const char *no_drives, struct disks_root *r,
		       char *err, size_t errlen)
{
	const char *ann = spec_annotation(s, DISKS_ANN_DEVICE);
	if (ann && strcmp(ann, "true") && strcmp(ann, "false")) {
		snprintf(err, errlen, "annotation " DISKS_ANN_DEVICE "=\"%s\": want true or false", ann);
		return -1;
	}
	bool want = ann ? !strcmp(ann, "true") : host_default;
	if (!want)
		return 0;
	char why[PATH_MAX + 128];
	if (r->mode != DISKS_NONE)
		snprintf(why, sizeof(why), "the root is the image " DISKS_ANN_IMAGE " names");
	else if (no_drives)
		snprintf(why, sizeof(why), "%s", no_drives);
	else if (disks_rootfs_device(s->rootfs, NULL, NULL, &r->host, why, sizeof(why))) {
		r->device = true;
		bool host_ro = (r->host.flags & MS_RDONLY) != 0;
		/* a read-only mount stays on the host: the guest's must not write either */
		r->mode = !host_ro ? DISKS_RW : s->readonly ? DISKS_RO : DISKS_OVERLAY;
		return 0;
	}
	if (!ann)
		return 0;
	snprintf(err, errlen, "annotation " DISKS_ANN_DEVICE "=true: rootfs %s: %s", s->rootfs, why);
	return -1;
}

bool disks_rules_allow_write(const struct spec *s, unsigned major, unsigned minor)
{
	yajl_val rules =
	    s->root ? json_at(s->root, yajl_t_array, "linux", "resources", "devices", JSON_END) : NULL;
	for (size_t i = rules ? rules->u.array.len : 0; i-- > 0;) {
		yajl_val r = rules->u.array.values[i];
		const char *type = json_get_str(r, "type"), *access = json_get_str(r, "access");
		long long mj = -1, mn = -1;
		int allow = json_get_bool(r, "allow", -1);
		if (allow < 0 || (type && strcmp(type, "a") && strcmp(type, "b")))
			continue;
		if ((json_get(r, "major", yajl_t_any) && json_get_int(r, "major", -1, 0xfff, &mj) < 0) ||
		    (json_get(r, "minor", yajl_t_any) && json_get_int(r, "minor", -1, 0xfffff, &mn) < 0))
			continue;
		if ((mj >= 0 && mj != major) || (mn >= 0 && mn != minor))
			continue;
		if (!access || !*access || strchr(access, 'w'))
			return allow;
	}
	return true;
}

static int add_dev(struct disks_plan *p, enum disks_dev_kind kind, size_t i, const char *what, char *err,
		   size_t errlen)
{
	if (p->ndev >= DISKS_MAX - 1) {
		snprintf(err, errlen, "%s: more than %d host block devices (a VM has at most %d drives)",
			 what, DISKS_MAX - 1, DISKS_MAX);
		return -1;
	}
	struct disks_dev *d = &p->dev[p->ndev];
	*d = (struct disks_dev){.kind = kind, .index = i};
	snprintf(d->serial, sizeof(d->serial), DISKS_DEV_SERIAL "%u", p->ndev);
	return (int)p->ndev++;
}

static int device_nodes(const struct spec *s, struct disks_plan *p, const char *refuse, char *err,
			size_t errlen)
{
	yajl_val devs = s->root ? json_at(s->root, yajl_t_array, "linux", "devices", JSON_END) : NULL;
	for (size_t i = 0; devs && i < devs->u.array.len; i++) {
		yajl_val v = devs->u.array.values[i];
		const char *type = json_get_str(v, "type"), *path = json_get_str(v, "path");
		char what[PATH_MAX];
		snprintf(what, sizeof(what), "linux.devices[%zu] %s", i, path ? path : "?");
		if (!type || strcmp(type, "b"))
			continue;
		if (refuse) {
			snprintf(err, errlen, "%s: a block device: %s", what, refuse);
			return -1;
		}
		long long mj, mn;
		if (json_get_int(v, "major", 0, 0xfff, &mj) < 0 ||
		    json_get_int(v, "minor", 0, 0xfffff, &mn) < 0) {
			snprintf(err, errlen, "%s: major/minor missing or out of range", what);
			return -1;
		}
		int k = add_dev(p, DISKS_DEV_NODE, i, what, err, errlen);
		if (k < 0)
			return -1;
		struct disks_dev *d = &p->dev[k];
		d->major = (unsigned)mj;
		d->minor = (unsigned)mn;
		char nerr[PATH_MAX + 128];
		if (disks_host_node(d->major, d->minor, NULL, d->host, sizeof(d->host), nerr, sizeof(nerr)) <
		    0) {
			snprintf(err, errlen, "%s: %s", what, nerr);
			return -1;
		}
		d->ro = !disks_rules_allow_write(s, d->major, d->minor);
	}
	return 0;
}

static int device_binds(const struct spec *s, struct disks_plan *p, const char *refuse, char *err,
			size_t errlen)
{
	yajl_val ms = s->root ? json_get(s->root, "mounts", yajl_t_array) : NULL;
	for (size_t i = 0; ms && i < ms->u.array.len; i++) {
		yajl_val m = ms->u.array.values[i];
		const char *src = json_get_str(m, "source");
		struct stat st;
		if (!src || src[0] != '/' || !spec_mount_is_bind(m) || stat(src, &st) < 0 ||
		    !S_ISBLK(st.st_mode))
			continue;
		char what[PATH_MAX + 32];
		snprintf(what, sizeof(what), "mounts[%zu] %s", i, src);
		if (refuse) {
			snprintf(err, errlen, "%s: a bind of a block device: %s", what, refuse);
			return -1;
		}
		int k = add_dev(p, DISKS_DEV_BIND, i, what, err, errlen);
		if (k < 0)
			return -1;
		struct disks_dev *d = &p->dev[k];
		snprintf(d->host, sizeof(d->host), "%s", src);
		d->major = major(st.st_rdev);
		d->minor = minor(st.st_rdev);
		d->ro = spec_mount_has_opt(m, "ro") || !disks_rules_allow_write(s, d->major, d->minor);
	}
	return 0;
}

int disks_plan(const struct spec *s, bool host_default, const char *no_drives, struct disks_plan *p,
	       char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->root_fd = -1;
	p->root.mode = DISKS_NONE;
	if (image_root(s, &p->root, err, errlen) < 0 ||
	    device_root(s, host_default, no_drives, &p->root, err, errlen) < 0)
		return -1;
	if (p->root.image && no_drives) {
		snprintf(err, errlen, "annotation " DISKS_ANN_IMAGE ": %s", no_drives);
		return -1;
	}
	return device_nodes(s, p, no_drives, err, errlen) < 0 ||
		       device_binds(s, p, no_drives, err, errlen) < 0
		   ? -1
		   : 0;
}

const struct disks_dev *disks_dev_of(const struct disks_plan *p, enum disks_dev_kind kind, size_t i)
{
	for (unsigned k = 0; p && k < p->ndev; k++)
		if (p->dev[k].kind == kind && p->dev[k].index == i)
			return &p->dev[k];
	return NULL;
}

bool disks_root_readonly(const struct disks_root *r)
{
	return r->mode != DISKS_RW;
}

int disks_root_guest_path(const struct disks_root *r, char *buf, size_t len)
{
	const char *m = disks_mode_name(r->mode);
	int w = m ? snprintf(buf, len, DISKS_ROOT_PREFIX "%s:" DISKS_ROOT_SERIAL, m) : -1;
	return w < 0 || (size_t)w >= len ? -1 : 0;
}
