/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RUNM_RUNTIME_DISKS_H
#define RUNM_RUNTIME_DISKS_H

#include <stdbool.h>
#include <stddef.h>

#include "spec.h"

/* The container's root on an ext4 image (docs/usage.md "Block devices and image root
 * filesystems"): io.runm.rootfs-image=PATH, io.runm.rootfs-image.mode=ro|overlay|rw. */
#define DISKS_ANN_IMAGE	  "io.runm.rootfs-image"
#define DISKS_ANN_MODE	  "io.runm.rootfs-image.mode"
#define DISKS_ROOT_SERIAL "runm-root" /* the drive's virtio-blk serial, how the agent finds it */
/* The guest config's root.path for an image root: "blk:<mode>:<serial>" (the one place the
 * agent learns it, agent/disks.h) */
#define DISKS_ROOT_PREFIX "blk:"

enum disks_mode { DISKS_NONE, DISKS_RO, DISKS_OVERLAY, DISKS_RW };

struct disks_root {
	enum disks_mode mode; /* DISKS_NONE: no image root (the bundle's rootfs over virtio-fs) */
	const char *image;    /* the annotation's path (points into the spec) */
};

/* Read and check S's image-root annotations: the mode is one of ro|overlay|rw (default
 * overlay), the image exists and is a regular file. A mode without an image is refused.
 * 0 (R->mode DISKS_NONE when there is no image annotation), or -1 with ERR. */
int disks_root_plan(const struct spec *s, struct disks_root *r, char *err, size_t errlen);

/* Host block devices (linux.devices of type "b", bind mounts whose source is a block device) do
 * not reach the microVM yet: refused with one error naming the device (in the guest the spec's
 * major:minor would name one of the VM's own disks). 0, or -1 with ERR. */
int disks_refuse_host_block_devices(const struct spec *s, char *err, size_t errlen);

/* "ro", "overlay" or "rw" (NULL for DISKS_NONE). */
const char *disks_mode_name(enum disks_mode m);

/* Whether the drive is read-only to the VM: ro and overlay never write the image. */
bool disks_root_readonly(const struct disks_root *r);

/* The guest's root.path for R: "blk:<mode>:runm-root" into BUF. 0, or -1 if it does not fit. */
int disks_root_guest_path(const struct disks_root *r, char *buf, size_t len);

#endif
