/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RUNM_RUNTIME_GUEST_CONFIG_H
#define RUNM_RUNTIME_GUEST_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_gen.h>

#include "disks.h"
#include "spec.h"
#include "runtime/share.h"

#define GUEST_SHARE_BASE "/run/runm"
#define GUEST_SHARE_TAG	 "runm"
#define GUEST_SHARE_MNT	 GUEST_SHARE_BASE "/share" /* where the agent mounts the tag */
#define GUEST_SHARE_DIR	 "share"		   /* DIR/share on the host (vmm/devices/fs/share.h) */

/* The one virtio-fs share of a container (issue 5): DIR/share holds the rootfs and every bind
 * source (fs_share_prepare); the guest mounts it at GUEST_SHARE_MNT. */
struct guest_shares {
	int n; /* 1 in VM mode, 0 with the agent on the host */
	char host[PATH_MAX];
	struct fs_share_bind *binds; /* sources point into the spec: valid while it lives */
	size_t nbinds;
	char **abs; /* relative bind sources made absolute (binds[].source may point here) */
	size_t nabs;
	bool root_on_drive; /* the root is a drive (disks.h): the share holds no rootfs */
};

/* Rewrite S's config.json for the guest (see guest_config.c): root.path and the sources of
 * bind mounts point into GUEST_SHARE_MNT, or name the VM's drives as DP (the VM's drive plan,
 * disks.h; NULL: decided here without the host-wide default) says; SH lists what
 * fs_share_prepare must share. ON_HOST
 * (the agent-on-host test harness): only root.path made absolute and hooks dropped; no share.
 * *OUT malloc'd; guest_shares_free(SH) after. 0, or -1 with ERR (SH then freed). */
int guest_config(const struct spec *s, const char *dir, bool on_host, const struct disks_plan *dp,
		 struct guest_shares *sh, char **out, char *err, size_t errlen);
void guest_shares_free(struct guest_shares *sh);

/* A pod member's rewrite (docs/pods.md): its share is SANDBOX_SHARE/SUB on the host (the
 * sandbox's share directory) and GUEST_SHARE_MNT/SUB in the guest; its network namespace, and
 * its IPC/UTS ones where JOIN_*, are the sandbox container's ({"type":…,"container":"init"});
 * the others are its own (a path there names a host namespace). */
struct guest_member {
	const char *sandbox;	   /* the sandbox's container in the agent: "init", the VM's own */
	const char *sandbox_share; /* <sandbox state dir>/share */
	const char *sub;	   /* "members/<id>" */
	bool join_ipc, join_uts;
};
int guest_config_member(const struct spec *s, const char *dir, bool on_host, const struct guest_member *m,
			const struct disks_plan *dp, struct guest_shares *sh, char **out, char *err,
			size_t errlen);

#endif
