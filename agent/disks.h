/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RUNM_AGENT_DISKS_H
#define RUNM_AGENT_DISKS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* A container root on a virtio-blk drive: the guest config's root.path is
 * "blk:<mode>:<serial>" (runtime/disks.h), mode ro|overlay|rw. */
#define DISKS_PATH_PREFIX "blk:"
#define DISKS_SERIAL_MAX  20		    /* VIRTIO_BLK_ID_BYTES */
#define DISKS_MNT_BASE	  "/run/runm/disks" /* <base>/<container id>/{lower,tmp,root} */

enum disk_mode { DISK_RO, DISK_OVERLAY, DISK_RW };

/* Whether PATH names a drive (starts with DISKS_PATH_PREFIX). */
static inline bool disks_is_blk_path(const char *path)
{
	return path && !strncmp(path, DISKS_PATH_PREFIX, sizeof(DISKS_PATH_PREFIX) - 1);
}

/* Parse "blk:<mode>:<serial>". 0, or -1 with ERR (unknown mode, empty or long serial). */
int disks_parse_path(const char *path, enum disk_mode *mode, char serial[DISKS_SERIAL_MAX + 1], char *err,
		     size_t errlen);

/* The drive whose SYSBLOCK/vd*\/serial is SERIAL (SYSBLOCK: "/sys/block"): its name ("vda")
 * into NAME. 0, or -1 with ERR. */
int disks_find(const char *sysblock, const char *serial, char *name, size_t len, char *err, size_t errlen);

/* Mount container ID's root drive named by *ROOT_PATH (a blk: path) under DISKS_MNT_BASE/ID
 * as MODE says, and point *ROOT_PATH (malloc'd; the old one freed) at it. 0, or -1 with ERR
 * and nothing left mounted. */
int disks_mount_root(const char *id, char **root_path, char *err, size_t errlen);

/* Host block devices passed as drives (runtime/disks.h): each linux.devices entry with a drive
 * ("blk:dev:<serial>") gets that drive's guest major:minor, recorded in S->devmap for the device
 * rules; each bind mount whose source names a drive binds the drive's node (/dev/vdX) instead.
 * SYSBLOCK: "/sys/block"; DEV: "/dev". 0, or -1 with ERR. */
struct spec;
int disks_resolve_devices(struct spec *s, const char *sysblock, const char *dev, char *err, size_t errlen);
#define DISKS_DEV_PREFIX "blk:dev:"

/* Undo disks_mount_root for ID (lazily: the container's namespaces may still hold it). */
void disks_release_root(const char *id);

#endif
