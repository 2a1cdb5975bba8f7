/* SPDX-License-Identifier: Apache-2.0 */
/* The container's host-side view as the shim's own mount namespace and root.
 *
 * Engines take the shim's pid for the container's: `podman cp` enters /proc/<pid>/ns/mnt,
 * other tools read /proc/<pid>/root. Once the container is created, the shim moves into a
 * mount namespace of its own whose root is what the guest sees through virtio-fs: the rootfs
 * with the spec's bind mounts at their destinations (the same host directories), and an empty
 * read-only tmpfs over every other mount's destination (proc, sysfs, tmpfs… exist only in
 * the guest). The host's tree is not reachable from there.
 *
 * After host_view_enter the shim's working directory is its state directory (outside its
 * root): everything it opens by path afterwards must be relative to it (state.json, the
 * hybrid vsock socket); hooks run by runtime/hooks.c enter the host's mount namespace again.
 * The VM's processes, spawned before, keep the host's view. */
#ifndef RUNM_RUNTIME_HOST_VIEW_H
#define RUNM_RUNTIME_HOST_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "spec.h"

struct host_view {
	int host_mntns; /* the host's /proc/self/ns/mnt, -1 before enter */
	int dir_fd;	/* O_PATH of the state directory */
	bool inside;
};

struct disks_plan;

#define HOST_VIEW_INIT                                                                                       \
	{                                                                                                    \
		.host_mntns = -1, .dir_fd = -1, .inside = false                                              \
	}

/* Build the view of S (state directory DIR; SHARE: the host directory of its virtio-fs share,
 * rootfs and bind entries; NULL for the agent-on-host harness, where the rootfs and bind sources
 * are used as they are; DP: the VM's drives, disks.h) and make it this process's mount namespace and root;
 * cwd becomes DIR. 0, or -1 with ERR (the process may then be half-way: the caller fails the container). */
int host_view_enter(struct host_view *hv, const struct spec *s, const char *dir, const char *share,
		    const struct disks_plan *dp, char *err, size_t errlen);

/* Back to the host's mount namespace and root, cwd DIR again (for teardown by absolute
 * paths); then release. Harmless when not inside. */
void host_view_leave(struct host_view *hv);

#endif
