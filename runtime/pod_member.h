/* SPDX-License-Identifier: Apache-2.0 */
/* Host side of a pod member (runtime/pod_member.c, docs/pods.md). */
#ifndef RUNM_RUNTIME_POD_MEMBER_H
#define RUNM_RUNTIME_POD_MEMBER_H

#include <limits.h>
#include <stddef.h>

#include "state.h"

struct pod_paths {
	char sandbox_dir[PATH_MAX];  /* <root>/<sandbox> */
	char share[PATH_MAX];	     /* <root>/<sandbox>/share: the pod VM's virtio-fs share */
	char sub[320];		     /* members/<id> */
	char member_share[PATH_MAX]; /* share/members/<id>: the member's rootfs and binds */
};
int pod_member_paths(const char *sandbox, const char *id, struct pod_paths *pp, char *err, size_t errlen);
/* Load the sandbox's state: it must exist and be created/running/paused (its VM up). */
int pod_sandbox_find(const char *sandbox, struct cstate *st, char *err, size_t errlen);
/* The sandbox VM's hybrid vsock socket (runtime/sockdir.h). */
int pod_sandbox_uds(const char *sandbox_dir, char *uds, size_t cap, char *err, size_t errlen);
/* ST is a pod member (its state annotations say so): kill its container in the sandbox's VM
 * (if that runs) and unmount and remove its share.  Nothing for other containers. */
void pod_member_release(const struct cstate *st);

#endif
