/* SPDX-License-Identifier: Apache-2.0 */
/* OOM kills of a container's cgroup (oom.c): an inotify watch on memory.events of its init's
 * cgroup, registered on the event loop; new kills go to the hook the server registers. */
#ifndef RUNM_AGENT_OOM_H
#define RUNM_AGENT_OOM_H

struct evloop;
struct proc;

/* L: the loop watches are registered on; NOTIFY(process, kills): new OOM kills. */
void oom_init(struct evloop *l, void (*notify)(const char *process, long long kills));
/* Watch P's cgroup (nothing when it has none or it cannot be watched). */
void oom_watch(struct proc *p);
void oom_unwatch(struct proc *p);

#endif
