/* SPDX-License-Identifier: Apache-2.0 */
/* OOM kills of a container: memory.events of its init's cgroup, watched with inotify. */
#include "oom.h"

#include <stdint.h>
#include <unistd.h>

#include "cgroups.h"
#include "evloop.h"
#include "proc.h"

static struct evloop *loop;
static void (*notify)(const char *process, long long kills);

void oom_init(struct evloop *l, void (*fn)(const char *process, long long kills))
{
	loop = l;
	notify = fn;
}

static void oom_event(void *opaque, uint32_t events)
{
	struct proc *p = opaque;
	char buf[4096];
	while (read(p->oom_fd, buf, sizeof(buf)) > 0)
		;
	long long k = cgroup_oom_kills(p->cgroup);
	if (k > p->oom_kills) {
		p->oom_kills = k;
		if (notify)
			notify(p->id, k);
	}
}

void oom_watch(struct proc *p)
{
	if (!p->cgroup[0] || (p->oom_fd = cgroup_watch_oom(p->cgroup)) < 0)
		return;
	p->oom_kills = cgroup_oom_kills(p->cgroup);
	if (!loop || evloop_add(loop, p->oom_fd, EPOLLIN, oom_event, p) < 0) {
		close(p->oom_fd);
		p->oom_fd = -1;
	}
}

void oom_unwatch(struct proc *p)
{
	if (p->oom_fd < 0)
		return;
	if (loop)
		evloop_del(loop, p->oom_fd);
	close(p->oom_fd);
	p->oom_fd = -1;
}
