/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime's side of block devices: an ext4 image as the container's root (runtime/disks.h).
 * The shim attaches the image as a virtio-blk drive with serial DISKS_ROOT_SERIAL (runtime/
 * guest.c), the guest config names it in root.path (runtime/guest_config.c), and the agent
 * mounts it (agent/disks.c). */
#include "disks.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"

static const char *const mode_names[] = {[DISKS_RO] = "ro", [DISKS_OVERLAY] = "overlay", [DISKS_RW] = "rw"};

const char *disks_mode_name(enum disks_mode m)
{
	return m > DISKS_NONE && m <= DISKS_RW ? mode_names[m] : NULL;
}

int disks_root_plan(const struct spec *s, struct disks_root *r, char *err, size_t errlen)
{
	*r = (struct disks_root){.mode = DISKS_NONE};
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

int disks_refuse_host_block_devices(const struct spec *s, char *err, size_t errlen)
{
	static const char why[] = "host block devices are not passed into the microVM (its own disks would "
				  "answer to that name; an image root file system: io.runm.rootfs-image, "
				  "docs/usage.md)";
	yajl_val devs = s->root ? json_at(s->root, yajl_t_array, "linux", "devices", JSON_END) : NULL;
	for (size_t i = 0; devs && i < devs->u.array.len; i++) {
		const char *type = json_get_str(devs->u.array.values[i], "type");
		if (type && !strcmp(type, "b")) {
			const char *path = json_get_str(devs->u.array.values[i], "path");
			snprintf(err, errlen, "linux.devices[%zu] %s: a block device: %s", i,
				 path ? path : "?", why);
			return -1;
		}
	}
	yajl_val ms = s->root ? json_get(s->root, "mounts", yajl_t_array) : NULL;
	for (size_t i = 0; ms && i < ms->u.array.len; i++) {
		yajl_val m = ms->u.array.values[i];
		const char *src = json_get_str(m, "source"), *type = json_get_str(m, "type");
		struct stat st;
		if (src && src[0] == '/' && (!type || !strcmp(type, "bind") || !strcmp(type, "none")) &&
		    stat(src, &st) == 0 && S_ISBLK(st.st_mode)) {
			snprintf(err, errlen, "mounts[%zu] %s: a bind of a block device: %s", i, src, why);
			return -1;
		}
	}
	return 0;
}
