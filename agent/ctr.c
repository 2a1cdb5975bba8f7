/* SPDX-License-Identifier: Apache-2.0 */
/* Containers of one VM (docs/pods.md): the first is the VM's own (a standalone container, or a
 * pod's sandbox); members of a pod follow, each with its own init, cgroup, mount, pid and cgroup
 * namespaces, joining the network/IPC/UTS namespaces of the container their spec names. */
#include "ctr.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base.h"
#include "cgroups.h"
#include "disks.h"
#include "json.h"
#include "log.h"
#include "oom.h"
#include "proc.h"
#include "setup.h"
#include "streams.h"
#include "userns.h"

#define ERR(...)       agent_errf(err, errlen, __VA_ARGS__)
#define MAX_CONTAINERS 64

struct container *g_ctrs;

struct container *ctr_find(const char *id)
{
	struct container *first = NULL;
	for (struct container *c = g_ctrs; c; c = c->next) {
		if (id && !strcmp(c->id, id))
			return c;
		if (c->first)
			first = c;
	}
	return id ? NULL : first;
}

struct container *ctr_of_request(yajl_val root, const char *op, char *err, size_t errlen)
{
	yajl_val v = json_get(root, "container", yajl_t_any);
	if (v && !YAJL_IS_STRING(v)) {
		ERR("%s: \"container\" must be a string", op);
		return NULL;
	}
	const char *id = v ? YAJL_GET_STRING(v) : NULL;
	struct container *c = ctr_find(id);
	if (!c)
		ERR("%s: no container %s", op, id ? id : "(none created yet)");
	return c;
}

struct container *ctr_new(const char *id, char *err, size_t errlen)
{
	size_t n = 0;
	for (struct container *c = g_ctrs; c; c = c->next)
		n++;
	if (n >= MAX_CONTAINERS) {
		ERR("too many containers in this VM (%d)", MAX_CONTAINERS);
		return NULL;
	}
	if (ctr_find(id)) {
		ERR("a container %s already exists in this VM", id);
		return NULL;
	}
	struct container *c = calloc(1, sizeof(*c));
	if (!c) {
		ERR("out of memory");
		return NULL;
	}
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->first = n == 0;
	return c;
}

void ctr_free(struct container *c)
{
	if (!c)
		return;
	if (c->disk_root)
		disks_release_root(c->id);
	if (c->spec.root)
		spec_free(&c->spec);
	free(c);
}

/* Every process of C exited, its status delivered, its output drained. */
static bool ctr_done(const struct container *c)
{
	for (struct proc *p = g_procs; p; p = p->next)
		if (p->ctr == c && !(p->complete && p->reported))
			return false;
	return true;
}

void ctr_gc(void)
{
	for (struct container **cp = &g_ctrs; *cp;) {
		struct container *c = *cp;
		if (c->first || !ctr_done(c)) {
			cp = &c->next;
			continue;
		}
		log_debug("container %s: over, released", c->id);
		for (struct proc *p = g_procs, *nx; p; p = nx) {
			nx = p->next;
			if (p->ctr != c)
				continue;
			if (p->is_init && p->cgroup[0] && g_opts.pid1)
				cgroup_remove(p->cgroup);
			unlink_proc(p);
			proc_free(p);
		}
		*cp = c->next;
		ctr_free(c);
	}
}

/* A pod member's memory limit must fit the pod's VM (its RAM was sized when the sandbox booted):
 * a member asking for more would be OOM-killed by the guest kernel long before its limit, so
 * create fails and says how to size the pod. 0, or -1 with ERR. */
static int member_memory_fits(const char *id, const struct spec *sp, char *err, size_t errlen)
{
	long long lim;
	yajl_val mem = json_get(sp->resources, "memory", yajl_t_object);
	struct sysinfo si;
	if (!mem || json_get_int(mem, "limit", 1, LLONG_MAX, &lim) < 0 || sysinfo(&si) < 0)
		return 0;
	unsigned long long total = (unsigned long long)si.totalram * si.mem_unit;
	if ((unsigned long long)lim <= total)
		return 0;
	return ERR(
	    "container %s: memory limit %lld MiB is more than the pod's microVM has (%llu MiB): size the "
	    "pod with the sandbox's limits or annotations (docs/pods.md, Sizing and limits)",
	    id, lim >> 20, total >> 20);
}

int ctr_join_fds(const struct spec *s, int *fds, char *err, size_t errlen)
{
	static const char *const names[NS_COUNT] = {"pid", "net",    "ipc",  "uts",
						    "mnt", "cgroup", "user", "time"};
	for (int i = 0; i < NS_COUNT; i++)
		fds[i] = -1;
	for (int i = 0; i < NS_COUNT; i++) {
		if (!s->ns_ctr[i])
			continue;
		struct container *o = ctr_find(s->ns_ctr[i]);
		if (!o || !o->init || o->init->state == PROC_EXITED) {
			ERR("join the %s namespace of container %s: %s", ns_name(i), s->ns_ctr[i],
			    o ? "container not running" : "no such container in this VM");
			goto fail;
		}
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)o->init->pid, names[i]);
		if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			ERR("join the %s namespace of container %s: open %s: %s", ns_name(i), s->ns_ctr[i],
			    path, strerror(errno));
			goto fail;
		}
	}
	return 0;
fail:
	for (int i = 0; i < NS_COUNT; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	return -1;
}

bool ctr_first_init_reported(void)
{
	struct container *c = ctr_find(NULL);
	return c && c->init && c->init->reported;
}

static void close_fds(int *fds)
{
	for (int i = 0; i < NS_COUNT; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

struct proc *ctr_create(const char *id, const char *bundle, const char *config, bool no_pivot,
			const struct stdio_req *io, char *err, size_t errlen)
{
	ctr_gc(); /* members that are over leave room (and their ids) */
	if (!id || !*id || strlen(id) > PROTO_MAX_ID) {
		ERR("process id missing or longer than %d bytes", PROTO_MAX_ID);
		return NULL;
	}
	struct container *ctr = ctr_new(id, err, errlen);
	if (!ctr)
		return NULL;
	struct spec *sp = &ctr->spec;
	struct proc *p = proc_new(id, err, errlen);
	if (!p) {
		ctr_free(ctr);
		return NULL;
	}
	if (spec_parse(config, bundle, sp, err, errlen) < 0) {
		free(p);
		ctr_free(ctr);
		return NULL;
	}
	if (ctr->first &&
	    (sp->ns_ctr[NS_NET] || sp->ns_ctr[NS_IPC] || sp->ns_ctr[NS_UTS] || sp->ns_ctr[NS_PID])) {
		ERR("the first container of a VM cannot join another container's namespaces (none exists)");
		free(p);
		ctr_free(ctr);
		return NULL;
	}
	if (!ctr->first && g_opts.pid1 && member_memory_fits(id, sp, err, errlen) < 0) {
		free(p);
		ctr_free(ctr);
		return NULL;
	}
	if (disks_is_blk_path(sp->root_path)) {
		if (disks_mount_root(id, &sp->root_path, err, errlen) < 0) {
			free(p);
			ctr_free(ctr);
			return NULL;
		}
		ctr->disk_root = true;
	}
	if (disks_resolve_devices(sp, "/sys/block", "/dev", err, errlen) < 0) {
		free(p);
		ctr_free(ctr);
		return NULL;
	}
	p->is_init = true;
	p->ctr = ctr;
	struct child_args a = {
	    .s = sp, .proc = &sp->proc, .seccomp = sp->seccomp, .no_pivot = no_pivot, .console = true};
	if (ctr_join_fds(sp, a.nsfd, err, errlen) < 0) {
		free(p);
		ctr_free(ctr);
		return NULL;
	}
	if (proc_setup_io(p, io, sp->proc.terminal, &a, err, errlen) < 0) {
		proc_close_child_io(&a);
		goto fail;
	}
	if (g_opts.pid1 && cgroup_create(sp, id, p->cgroup, sizeof(p->cgroup), err, errlen) < 0) {
		proc_close_child_io(&a);
		goto fail;
	}
	a.wait_cgroup = true;
	int flags = 0;
	for (int ns = 0; ns < NS_COUNT; ns++)
		if (sp->ns_new[ns] && ns != NS_CGROUP)
			flags |= ns_clone_flag(ns);
	int saved[NS_COUNT];
	if (sp->ns_new[NS_USER] && userns_join_before_clone(a.nsfd, saved, err, errlen) < 0) {
		proc_close_child_io(&a);
		goto fail;
	}
	a.clone_in_userns = userns_join_target(a.nsfd) > 0;
	/* another container's pid namespace (a pod's shared one): the agent's children are born
	 * there while pid_for_children names it; the agent itself stays where it is */
	int own_pid = -1;
	if (a.nsfd[NS_PID] >= 0) {
		own_pid = open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC);
		if (own_pid < 0 || setns(a.nsfd[NS_PID], CLONE_NEWPID) < 0) {
			ERR("join the pid namespace of container %s: %s", sp->ns_ctr[NS_PID],
			    strerror(errno));
			if (own_pid >= 0)
				close(own_pid);
			if (sp->ns_new[NS_USER])
				userns_restore_after_clone(saved);
			proc_close_child_io(&a);
			goto fail;
		}
		close(a.nsfd[NS_PID]);
		a.nsfd[NS_PID] = -1;
	}
	int sr = proc_spawn(p, &a, flags, err, errlen);
	if (own_pid >= 0) {
		if (setns(own_pid, CLONE_NEWPID) < 0)
			log_errno(errno, "container %s: back to the agent's pid namespace", id);
		close(own_pid);
	}
	if (sp->ns_new[NS_USER])
		userns_restore_after_clone(saved);
	if (sr < 0)
		goto fail;
	close_fds(a.nsfd);
	struct setup_err ce = {0};
	if (p->cgroup[0] && cgroup_enter(p->cgroup, p->pid, &ce) < 0) {
		ERR("%s %s: %s", ce.step, ce.target, strerror(ce.err));
		goto fail;
	}
	if ((sp->ns_new[NS_USER] && userns_write_maps(p->pid, &sp->userns, err, errlen) < 0) ||
	    ((sp->ns_new[NS_USER] || a.clone_in_userns) &&
	     userns_apply_limits(p->pid, &sp->proc, err, errlen) < 0))
		goto fail;
	char c = 'C';
	if (send(p->sync_fd, &c, 1, MSG_NOSIGNAL) != 1) {
		ERR("container setup: process %d exited early", p->pid);
		goto fail;
	}
	if (proc_wait_ready(p, err, errlen) < 0 || streams_register(p) < 0)
		goto fail;
	p->state = PROC_CREATED;
	proc_link(p);
	ctr->init = p;
	ctr->next = g_ctrs;
	g_ctrs = ctr;
	oom_watch(p);
	return p;
fail:
	close_fds(a.nsfd);
	if (g_opts.pid1 && p->cgroup[0]) {
		if (p->pid > 0) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
			p->pid = -1;
		}
		cgroup_remove(p->cgroup);
	}
	proc_abandon(p);
	ctr_free(ctr);
	return NULL;
}
