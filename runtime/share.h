/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-container shared directory, built on the host and exported to the guest
 * as one virtio-fs tag:
 *
 *   SHARE/rootfs        bind of the bundle's rootfs (recursive)
 *   SHARE/<entry>       bind of a bind-mount source of config.json, named after the source
 *                       as a bind of it shows in mountinfo (its path from the root of its
 *                       file system, e.g. SHARE/tmp/x/data), so that the guest's mountinfo
 *                       shows the root runc would; SHARE/mounts/<i> (the i-th bind) where
 *                       that name cannot be used (fs_share_name_bind)
 *
 * Every mount is private (no propagation to or from the host) and read-only
 * binds are read-only on the host, so guest root cannot write through them.
 * The agent mounts the tag and assembles the container root and its bind
 * mounts from these paths. Needs CAP_SYS_ADMIN in the host mount namespace.
 */
#ifndef RUNM_RUNTIME_SHARE_H
#define RUNM_RUNTIME_SHARE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct fs_share_bind {
	const char *source; /* host path (a directory or any other file) */
	const char *dest;   /* its path in the container (runtime/host_view.c); not used here */
	bool readonly;
	char *entry; /* its path in SHARE ("/tmp/x/data"), malloc'd by fs_share_name_bind;
		      * NULL: fs_share_prepare names it */
};

/* Longest entry name (SHARE and the guest's mount point of the share must fit in front). */
#define FS_SHARE_ENTRY_MAX (PATH_MAX - 512)

/* The path from the root of its file system of SOURCE (symlinks resolved), i.e. the root
 * field a bind mount of it shows in mountinfo (runc's 4th field), found by its mount id in
 * MOUNTINFO (NULL: /proc/self/mountinfo).  0, or -errno. */
int fs_share_source_root(const char *mountinfo, const char *source, char *out, size_t cap);
/* Whether NAME can be the entry of a bind (READONLY or not) whose earlier binds have the
 * entries PREV[0..N): an absolute, canonical path, not "/", not SHARE's own rootfs, mounts or
 * members (or below them), at most FS_SHARE_ENTRY_MAX long, not above or below an earlier
 * entry, and equal to one only when that bind is read-only alike (they share the entry). */
bool fs_share_entry_ok(const char *name, bool readonly, const struct fs_share_bind *prev, size_t n);
/* Name bind I of B (B[0..I) named already): its source's root (fs_share_source_root) when
 * fs_share_entry_ok, else "/mounts/<I>".  0, or -errno with ERR (out of memory; a source
 * that cannot be looked at: "fs share: stat bind source: …"). */
int fs_share_name_bind(struct fs_share_bind *b, size_t i, char *err, size_t errlen);
/* Free (and clear) the entries of B[0..N). */
void fs_share_free_names(struct fs_share_bind *b, size_t n);

/* Create SHARE (must not exist; its parent must) and populate it (BUNDLE_ROOTFS NULL: SHARE/rootfs
 * stays an empty directory, the root being a drive). On failure
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
 * and empty files fs_share_prepare made are removed (never a file with content, never
 * across a mount: mount ids compared), so a mount that refuses to go away is never deleted
 * through. A missing SHARE is
 * not an error. Returns 0 or -errno with err set. */
int fs_share_cleanup(const char *share_dir, char *err, size_t errlen);

#endif
