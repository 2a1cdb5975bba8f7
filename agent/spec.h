/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI spec as the agent uses it (spec.c). */
#ifndef RUNM_AGENT_SPEC_H
#define RUNM_AGENT_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "base.h"
#include "proto/proto.h"
#include "userns.h"

#define SPEC_CAP_SETS 5 /* bounding, effective, inheritable, permitted, ambient */
struct spec_rlimit {
	int resource;
	rlim_t soft, hard;
};
struct spec_process {
	char **args, **env;
	const char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t *gids;
	size_t ngids;
	bool terminal;
	bool has_caps;
	uint64_t caps[SPEC_CAP_SETS];
	struct spec_rlimit *rlimits;
	size_t nrlimits;
	bool no_new_privs;
	bool has_oom;
	int oom_score_adj;
	bool has_umask;
	mode_t umask;
	unsigned short rows, cols; /* consoleSize */
};
struct spec_mount {
	const char *dest, *type, *source;
	unsigned long flags;	   /* MS_* applied at mount time (and remount for bind) */
	unsigned long propagation; /* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE (+MS_REC) or 0 */
	char *data;		   /* filesystem options */
	char *source_owned;	   /* when source was resolved here (a drive's node, agent/disks.c) */
	bool host_dev;		   /* a drive's bind: the host device's numbers (runmHostDevice) */
	unsigned host_major, host_minor;
	bool bind;
	bool tmpcopyup; /* tmpfs: start with a copy of the directory it covers */
};
struct spec_device {
	const char *path;
	mode_t type; /* S_IFCHR, S_IFBLK, S_IFIFO */
	unsigned major, minor;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	const char *drive; /* "blk:dev:<serial>": a host block device passed as that drive, whose
			    * guest numbers replace major/minor (agent/disks.c) */
};
/* A host block device's numbers and its drive's in the guest (the device rules name the host's). */
struct spec_devmap {
	unsigned host_major, host_minor, major, minor;
};
struct spec_kv {
	const char *key, *val;
};
enum { NS_PID, NS_NET, NS_IPC, NS_UTS, NS_MNT, NS_CGROUP, NS_USER, NS_TIME, NS_COUNT };
struct spec {
	yajl_val root; /* owns every string below */
	struct spec_process proc;
	char *root_path; /* absolute */
	bool root_ro;
	const char *hostname, *domainname;
	bool ns_new[NS_COUNT];
	const char *ns_path[NS_COUNT];
	const char *ns_ctr[NS_COUNT]; /* {"type":…,"container":ID}: join that container's (net/ipc/uts) */
	struct spec_mount *mounts;
	size_t nmounts;
	const char **masked, **readonly;
	size_t nmasked, nreadonly;
	struct spec_kv *sysctl;
	size_t nsysctl;
	struct spec_device *devices;
	size_t ndevices;
	struct spec_devmap *devmap; /* filled by disks_resolve_devices */
	size_t ndevmap;
	unsigned long rootfs_propagation;
	bool rootfs_propagation_set; /* given by the spec: applied to the new root after pivot_root too */
	yajl_val seccomp;	     /* linux.seccomp or NULL */
	yajl_val resources;	     /* linux.resources or NULL */
	const char *cgroups_path;
	struct userns_maps userns; /* linux.uidMappings / gidMappings (userns.c) */
};
int ns_clone_flag(int ns);
const char *ns_name(int ns);
/* Parse config.json text; BUNDLE resolves a relative root.path. 0, or -1 with ERR. */
int spec_parse(const char *json, const char *bundle, struct spec *s, char *err, size_t errlen);
/* Parse a process object (exec); keeps TREE alive in *owner. */
int spec_process_parse_json(const char *json, yajl_val *owner, struct spec_process *p, char *err,
			    size_t errlen);
int spec_process_parse(yajl_val proc, struct spec_process *p, char *err, size_t errlen);
void spec_process_free(struct spec_process *p);
void spec_free(struct spec *s);
int spec_cap_from_name(const char *name); /* -1 unknown */

#endif
