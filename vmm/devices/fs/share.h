/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-container shared directory, built on the host and exported to the guest
 * as one virtio-fs tag:
 *
 *   SHARE/rootfs        bind of the bundle's rootfs (recursive)
 *   SHARE/mounts/<i>    bind of the i-th bind-mount source of config.json
 *
 * Every mount is private (no propagation to or from the host) and read-only
 * binds are read-only on the host, so guest root cannot write through them.
 * The agent mounts the tag and assembles the container root and its bind
 * mounts from these paths. Needs CAP_SYS_ADMIN in the host mount namespace.
 */
#ifndef RUNM_FS_SHARE_H
#define RUNM_FS_SHARE_H

#include <stdbool.h>
#include <stddef.h>

struct fs_share_bind {
	const char *source; /* host path (a directory or any other file) */
	const char *dest;   /* its path in the container (runtime/host_view.c); not used here */
	bool readonly;
};

/* Create SHARE (must not exist; its parent must) and populate it. On failure
 * nothing is left behind and err holds "fs share: what: on what: why".
 * Returns 0 or -errno. */
int fs_share_prepare(const char *share_dir, const char *bundle_rootfs, bool rootfs_readonly,
		     const struct fs_share_bind *binds, size_t nbinds, char *err, size_t errlen);
/* The same for a share nested in a running VM's share (a pod member's, docs/pods.md): its mount
 * stays in the propagation of the share it is in, so the VM's (jailed) fs server sees it. */
int fs_share_prepare_nested(const char *share_dir, const char *bundle_rootfs, bool rootfs_readonly,
			    const struct fs_share_bind *binds, size_t nbinds, char *err, size_t errlen);

/* Unmount everything at or below SHARE (common/mounts.h unmount_tree: deepest first, busy
 * ones lazily) and remove it. Only the directories
 * and empty files fs_share_prepare made are removed (never recursively), so a
 * mount that refuses to go away is never deleted through. A missing SHARE is
 * not an error. Returns 0 or -errno with err set. */
int fs_share_cleanup(const char *share_dir, char *err, size_t errlen);

#endif
