/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RUNM_RUNTIME_DISKS_H
#define RUNM_RUNTIME_DISKS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "spec.h"

/* The container's virtio-blk drives (docs/usage.md "Block devices and image root file
 * systems"), decided once per VM by disks_plan:
 *   - its root on an ext4 image: io.runm.rootfs-image=PATH, io.runm.rootfs-image.mode=
 *     ro|overlay|rw;
 *   - or its root on the block device the engine mounted at the bundle's rootfs
 *     (containerd's devmapper snapshotter): io.runm.rootfs-device=true, or host-wide
 *     "rootfs_device": true in the config file (runtime/disks_rootdev.c);
 *   - host block devices: linux.devices entries of type "b" and bind mounts whose source is a
 *     block device, each its own drive, found by the agent by serial (agent/disks.c). */
#define DISKS_ANN_IMAGE	  "io.runm.rootfs-image"
#define DISKS_ANN_MODE	  "io.runm.rootfs-image.mode"
#define DISKS_ANN_DEVICE  "io.runm.rootfs-device"
#define DISKS_ROOT_SERIAL "runm-root" /* the root drive's virtio-blk serial */
#define DISKS_DEV_SERIAL  "runm-dev"  /* + the index: a host device's drive */
/* The guest config's root.path for a drive root: "blk:<mode>:<serial>", and a bind source or
 * device naming a host device's drive: "blk:dev:<serial>" (the one place the agent learns
 * them, agent/disks.h) */
#define DISKS_ROOT_PREFIX "blk:"
#define DISKS_DEV_PREFIX  "blk:dev:"
#define DISKS_MAX	  8		       /* drives per VM (backend.h VM_MAX_DISKS) */
#define DISKS_RECORD	  "rootfs-device.json" /* in the state dir while the host's mount is lent */

enum disks_mode { DISKS_NONE, DISKS_RO, DISKS_OVERLAY, DISKS_RW };

/* A block device's host mount, as mountinfo shows it (what disks_claim_root undoes and
 * disks_restore_root puts back). */
struct disks_host_mount {
	char device[PATH_MAX]; /* the host node: /dev/<DEVNAME> */
	char target[PATH_MAX]; /* the bundle's rootfs, canonical */
	char fstype[64];
	unsigned long flags; /* MS_* of the mount */
	char data[512];	     /* the file system's options, less rw/ro */
};

struct disks_root {
	enum disks_mode mode; /* DISKS_NONE: the bundle's rootfs over virtio-fs */
	const char *image;    /* an image root: the annotation's path (points into the spec) */
	bool device;	      /* a device root: the engine's mount of HOST below */
	struct disks_host_mount host;
};

enum disks_dev_kind { DISKS_DEV_NODE, DISKS_DEV_BIND };

/* A host block device passed to the guest as its own drive. */
struct disks_dev {
	enum disks_dev_kind kind;
	size_t index;	       /* linux.devices[index] or mounts[index] */
	char host[PATH_MAX];   /* the host node opened for the drive */
	unsigned major, minor; /* the host's numbers (the spec's, for a node) */
	bool ro;	       /* a read-only drive: no write access for the container */
	char serial[24];       /* DISKS_DEV_SERIAL<n> */
};

struct disks_plan {
	struct disks_root root;
	struct disks_dev dev[DISKS_MAX - 1];
	unsigned ndev;
	int root_fd; /* a device root's device, claimed by disks_claim_root; else -1 */
};

/* The drives of S's VM. HOST_DEFAULT: the config file's "rootfs_device" (try the device root
 * when the bundle's rootfs is a mount of one). NO_DRIVES: NULL when the container boots a VM of
 * its own; else why it cannot have drives (a pod member: the sandbox's VM is running; the
 * agent-on-host harness: no VM), and any drive asked for is refused with it. Checks everything
 * (annotations, device nodes, the count) and changes nothing. 0, or -1 with ERR. */
int disks_plan(const struct spec *s, bool host_default, const char *no_drives, struct disks_plan *p,
	       char *err, size_t errlen);
#define DISKS_NO_DRIVES_MEMBER                                                                               \
	"not supported for a pod member (the pod's VM is running and drives cannot be added to it; give "    \
	"it to the sandbox container)"
#define DISKS_NO_DRIVES_HOST "needs a VM (the agent runs on the host)"

/* The drive of linux.devices[i] / mounts[i], or NULL. */
const struct disks_dev *disks_dev_of(const struct disks_plan *p, enum disks_dev_kind kind, size_t i);

/* Whether the container may write to block device MAJOR:MINOR by S's linux.resources.devices
 * (the last matching rule decides; none matching allows, as the agent's device program does). */
bool disks_rules_allow_write(const struct spec *s, unsigned major, unsigned minor);

/* "ro", "overlay" or "rw" (NULL for DISKS_NONE). */
const char *disks_mode_name(enum disks_mode m);

/* Whether the root drive is read-only to the VM: ro and overlay never write it. */
bool disks_root_readonly(const struct disks_root *r);

/* The guest's root.path for R: "blk:<mode>:runm-root" into BUF. 0, or -1 if it does not fit. */
int disks_root_guest_path(const struct disks_root *r, char *buf, size_t len);

/* --- the device root (disks_rootdev.c) --- */

/* Whether ROOTFS is the whole of an ext2/3/4 file system on a block device mounted there (the
 * topmost mount on that path, its root "/"): *HOST filled and true; else false with WHY (what
 * it is instead). MOUNTINFO: NULL for /proc/self/mountinfo; SYSDEV: NULL for /sys/dev/block. */
bool disks_rootfs_device(const char *rootfs, const char *mountinfo, const char *sysdev,
			 struct disks_host_mount *host, char *why, size_t whylen);

/* The host node of block device MAJOR:MINOR ("/dev/" + its uevent DEVNAME, checked to be that
 * device) into OUT. SYSDEV: NULL for /sys/dev/block. 0, or -1 with ERR. */
int disks_host_node(unsigned major, unsigned minor, const char *sysdev, char *out, size_t len, char *err,
		    size_t errlen);

/* Lend a device root to the VM: a writable mount is recorded in DIR/DISKS_RECORD, unmounted on
 * the host and the device opened exclusively (O_EXCL: the kernel refuses while any file
 * system anywhere still holds it, and refuses mounts while the VM has it); a read-only mount
 * stays and the device is opened read-only. P->root_fd set. 0, or -1 with ERR and the host's
 * mount as it was. */
int disks_claim_root(struct disks_plan *p, const char *dir, char *err, size_t errlen);

/* Give the host its mount back: close P's device (P may be NULL), then, when DIR/DISKS_RECORD
 * exists, mount the device at its target as recorded and remove the record. Retries while the
 * device is still held (a device server exiting). 0, or -1 after logging. */
int disks_restore_root(struct disks_plan *p, const char *dir);

#endif
