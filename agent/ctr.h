/* SPDX-License-Identifier: Apache-2.0 */
/* Containers of one VM (ctr.c): several per VM (a pod), each named by its init's process id;
 * creating one (its spec, cgroup, init process) and releasing those that are over. */
#ifndef RUNM_AGENT_CTR_H
#define RUNM_AGENT_CTR_H

#include <stdbool.h>
#include <stddef.h>

#include "spec.h"

struct proc;
struct stdio_req;
struct container {
	char id[PROTO_MAX_ID + 1]; /* = its init's process id ("init" from a standalone shim) */
	struct spec spec;
	struct proc *init;
	bool first;	/* the VM's own container (the sandbox): its end ends the VM */
	bool disk_root; /* its root is a drive mounted by disks_mount_root (agent/disks.h) */
	struct container *next;
};
extern struct container *g_ctrs;
/* ID NULL: the first container (requests without "container", protocol ≤ pods). */
struct container *ctr_find(const char *id);
/* The container a request names in "container" (absent: the first); NULL + ERR "OP: no container X". */
struct container *ctr_of_request(yajl_val root, const char *op, char *err, size_t errlen);
struct container *ctr_new(const char *id, char *err, size_t errlen);
void ctr_free(struct container *c);
/* Free the containers (not the first) whose every process exited and was reported. */
void ctr_gc(void);
/* open /proc/<init>/ns/<name> of the containers S names in ns_ctr; FDS[i] -1 where none. */
int ctr_join_fds(const struct spec *s, int *fds, char *err, size_t errlen);
/* create: the container ID (bundle, config.json text CONFIG) with its init in CREATED state,
 * or NULL + ERR. */
struct proc *ctr_create(const char *id, const char *bundle, const char *config, bool no_pivot,
			const struct stdio_req *io, char *err, size_t errlen);
/* The first container's init exited and its status reached the host. */
bool ctr_first_init_reported(void);

#endif
