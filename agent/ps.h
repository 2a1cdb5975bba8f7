/* SPDX-License-Identifier: Apache-2.0 */
/* Process listing (ps.c). */
#ifndef RUNM_AGENT_PS_H
#define RUNM_AGENT_PS_H

#include <stddef.h>

struct container;
struct proto_ps_entry;

/* The container's processes: its cgroup's cgroup.procs (guest), else every process in the
 * init's pid namespace, plus the agent's own live ones; sorted, unique. */
int ps_list(const struct container *c, struct proto_ps_entry **out, size_t *n, char *err, size_t errlen);

#endif
