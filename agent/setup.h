/* SPDX-License-Identifier: Apache-2.0 */
/* Child-side container and process setup (mounts.c, identity.c, caps.c, seccomp.c, net.c). */
#ifndef RUNM_AGENT_SETUP_H
#define RUNM_AGENT_SETUP_H

#include <stdbool.h>
#include <stddef.h>

#include "spec.h"

/* A failing step reports (step, target, errno); err 0: target is the whole
 * message (runc's wording, e.g. the program lookup) */
struct setup_err {
	char step[48];
	char target[400];
	int err;
};
/* Everything below runs in the forked child and returns -1 after filling *e. */
int setup_fail(struct setup_err *e, const char *step, const char *target, int err);
int container_setup_rootfs(const struct spec *s, struct setup_err *e);	       /* mounts.c */
int container_setup_dev(const struct spec *s, struct setup_err *e);	       /* devices.c */
int container_pivot(const struct spec *s, bool no_pivot, struct setup_err *e); /* mounts.c */
int container_finish_rootfs(const struct spec *s, struct setup_err *e);	       /* mounts.c */
int container_dev_readonly(const struct spec *s, struct setup_err *e);	       /* mounts.c */
int container_sysctl(const struct spec *s, struct setup_err *e);
int process_prepare(const struct spec_process *p, struct setup_err *e); /* identity.c */
int process_identity(const struct spec_process *p, struct setup_err *e);
int process_caps_bounding(const struct spec_process *p, struct setup_err *e); /* caps.c */
int process_caps(const struct spec_process *p, struct setup_err *e);
int process_seccomp(yajl_val seccomp, struct setup_err *e); /* seccomp.c */
/* Bring lo up in the calling process's network namespace (a new one: CLONE_NEWNET). net.c */
int net_lo_up(struct setup_err *e);
/* Resolve args[0] against PATH of the process env; writes into BUF. */
int process_lookup(const struct spec_process *p, char *buf, size_t len, struct setup_err *e);

#endif
