/* SPDX-License-Identifier: Apache-2.0 */
/* Control requests: one handler per op (see docs/protocol.md). */
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "base.h"
#include "cgroups.h"
#include "ctr.h"
#include "exit.h"
#include "hooks.h"
#include "init.h"
#include "log.h"
#include "net.h"
#include "proc.h"
#include "proto/proto.h"
#include "proto/proto_hooks.h"
#include "proto/proto_net.h"
#include "ps.h"
#include "streams.h"
#include "version.h"

static const struct ops_conn_ops *conn_ops;

void ops_set_conn_ops(const struct ops_conn_ops *t)
{
	conn_ops = t;
}

struct reply {
	struct json_gen pg;
	char err[1024];
};

static struct proc *need_proc(struct proto_msg *m, struct reply *r)
{
	const char *id = json_get_str(m->root, "process");
	if (!id) {
		snprintf(r->err, sizeof(r->err), "%s: missing \"process\"", m->op);
		return NULL;
	}
	struct proc *p = proc_find(id);
	if (!p)
		snprintf(r->err, sizeof(r->err), "%s: process %s does not exist", m->op, id);
	return p;
}

static void get_stdio(yajl_val root, struct stdio_req *io)
{
	yajl_val s = json_get(root, "stdio", yajl_t_object);
	for (int i = 0; i < 3; i++)
		io->want[i] = json_get_bool(s, proto_stream_name((enum proto_stream)i), 0) == 1;
}

static int op_hello(void *c, struct proto_msg *m, struct reply *r)
{
	long long v, t;
	if (json_get_int(m->root, "version", 1, INT32_MAX, &v) < 0) {
		snprintf(r->err, sizeof(r->err), "hello: missing \"version\"");
		return -1;
	}
	if (v != PROTO_VERSION) {
		snprintf(r->err, sizeof(r->err),
			 "hello: protocol version %lld not supported (agent speaks %d)", v, PROTO_VERSION);
		return -1;
	}
	if (g_opts.pid1 && json_get_int(m->root, "time_ns", 1, INT64_MAX, &t) == 0 && init_set_clock(t) < 0) {
		snprintf(r->err, sizeof(r->err), "hello: set clock: %s", strerror(errno));
		return -1;
	}
	const char *seed = json_get_str(m->root, "entropy");
	if (g_opts.pid1 && seed)
		init_seed_entropy(seed, strlen(seed));
	if (conn_ops && conn_ops->set_events)
		conn_ops->set_events(c, json_get_bool(m->root, "events", 0) == 1);
	json_gen_int(&r->pg, "version", PROTO_VERSION);
	json_gen_str(&r->pg, "agent", RUNM_VERSION);
	json_gen_int(&r->pg, "pid", getpid());
	return 0;
}

static int mkdir_p(char *path)
{
	for (char *c = path + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		int rr = mkdir(path, 0755);
		*c = '/';
		if (rr < 0 && errno != EEXIST)
			return -1;
	}
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int op_mount(void *c, struct proto_msg *m, struct reply *r)
{
	const char *src = json_get_str(m->root, "source"), *tgt = json_get_str(m->root, "target");
	const char *fs = json_get_str(m->root, "fstype"), *data = json_get_str(m->root, "options");
	int ro = json_get_bool(m->root, "readonly", 0);
	if (!src || !tgt || !fs || tgt[0] != '/' || ro < 0 || strlen(tgt) >= PATH_MAX) {
		snprintf(r->err, sizeof(r->err), "mount: needs \"source\", absolute \"target\", \"fstype\"");
		return -1;
	}
	char t[PATH_MAX];
	snprintf(t, sizeof(t), "%s", tgt);
	if (mkdir_p(t) < 0) {
		snprintf(r->err, sizeof(r->err), "mount: mkdir %s: %s", tgt, strerror(errno));
		return -1;
	}
	if (mount(src, tgt, fs, ro ? MS_RDONLY : 0, data) < 0) {
		snprintf(r->err, sizeof(r->err), "mount %s (%s) on %s: %s", src, fs, tgt, strerror(errno));
		return -1;
	}
	return 0;
}

static int op_create(void *c, struct proto_msg *m, struct reply *r)
{
	const char *id = json_get_str(m->root, "process"), *cfg = json_get_str(m->root, "config");
	const char *bundle = json_get_str(m->root, "bundle");
	if (!id || !cfg) {
		snprintf(r->err, sizeof(r->err), "create: needs \"process\" and \"config\"");
		return -1;
	}
	struct stdio_req io;
	get_stdio(m->root, &io);
	char err[900];
	struct proc *p =
	    ctr_create(id, bundle, cfg, json_get_bool(m->root, "no_pivot", 0) == 1, &io, err, sizeof(err));
	if (!p) {
		snprintf(r->err, sizeof(r->err), "create %s: %s", id, err);
		return -1;
	}
	json_gen_int(&r->pg, "pid", p->pid);
	return 0;
}

static int op_start(void *c, struct proto_msg *m, struct reply *r)
{
	struct proc *p = need_proc(m, r);
	char err[900];
	if (!p)
		return -1;
	if (proc_start(p, err, sizeof(err)) < 0) {
		snprintf(r->err, sizeof(r->err), "start %s: %s", p->id, err);
		return -1;
	}
	return 0;
}

static int op_exec(void *c, struct proto_msg *m, struct reply *r)
{
	const char *id = json_get_str(m->root, "process"), *spec = json_get_str(m->root, "spec");
	if (!id || !spec) {
		snprintf(r->err, sizeof(r->err), "exec: needs \"process\" and \"spec\"");
		return -1;
	}
	struct container *ctr = ctr_of_request(m->root, "exec", r->err, sizeof(r->err));
	if (!ctr)
		return -1;
	struct stdio_req io;
	get_stdio(m->root, &io);
	char err[900];
	struct proc *p = proc_exec(ctr, id, spec, &io, err, sizeof(err));
	if (!p) {
		snprintf(r->err, sizeof(r->err), "exec %s: %s", id, err);
		return -1;
	}
	json_gen_int(&r->pg, "pid", p->pid);
	return 0;
}

/* createContainer / startContainer hooks, in the container (hooks.c) */
static int op_hooks(void *c, struct proto_msg *m, struct reply *r)
{
	struct proc *p = need_proc(m, r);
	const char *kind = json_get_str(m->root, "kind"), *state = json_get_str(m->root, "state");
	if (!p)
		return -1;
	if (!proto_hook_kind_valid(kind) || !state) {
		snprintf(r->err, sizeof(r->err),
			 "hooks: needs \"kind\" (createContainer or startContainer) and \"state\"");
		return -1;
	}
	struct proto_hook *h;
	size_t n;
	char err[900];
	if (proto_parse_hooks(json_get(m->root, "hooks", yajl_t_any), &h, &n, err, sizeof(err)) < 0) {
		snprintf(r->err, sizeof(r->err), "hooks: %s", err);
		return -1;
	}
	int rc = hooks_run(p, kind, h, n, state, err, sizeof(err));
	proto_hooks_free(h, n);
	if (rc < 0)
		snprintf(r->err, sizeof(r->err), "%s", err);
	return rc;
}

static int op_signal(void *c, struct proto_msg *m, struct reply *r)
{
	struct proc *p = need_proc(m, r);
	long long sig;
	if (!p)
		return -1;
	if (json_get_int(m->root, "signal", 0, _NSIG - 1, &sig) < 0) {
		snprintf(r->err, sizeof(r->err), "signal: \"signal\" must be a number in [0, %d]", _NSIG - 1);
		return -1;
	}
	int all = json_get_bool(m->root, "all", 0);
	if (proc_signal(p, (int)sig, all == 1) < 0) {
		snprintf(r->err, sizeof(r->err), "signal %lld to %s: %s", sig, p->id,
			 errno == ESRCH ? "container not running" : strerror(errno));
		return -1;
	}
	return 0;
}

static int op_resize(void *c, struct proto_msg *m, struct reply *r)
{
	struct proc *p = need_proc(m, r);
	long long rows, cols;
	if (!p)
		return -1;
	if (json_get_int(m->root, "rows", 0, 65535, &rows) < 0 ||
	    json_get_int(m->root, "cols", 0, 65535, &cols) < 0) {
		snprintf(r->err, sizeof(r->err), "resize: \"rows\" and \"cols\" must be in [0, 65535]");
		return -1;
	}
	if (streams_resize(p, (unsigned)rows, (unsigned)cols) < 0) {
		snprintf(r->err, sizeof(r->err), "resize %s: %s", p->id, strerror(errno));
		return -1;
	}
	return 0;
}

static int gen_stats(struct proto_msg *m, struct reply *r)
{
	struct container *c = ctr_of_request(m->root, "stats", r->err, sizeof(r->err));
	if (!c)
		return -1;
	struct sysinfo si;
	if (sysinfo(&si) == 0) {
		json_gen_int(&r->pg, "mem_total", (long long)si.totalram * si.mem_unit);
		json_gen_int(&r->pg, "mem_free", (long long)si.freeram * si.mem_unit);
		json_gen_int(&r->pg, "uptime", si.uptime);
		json_gen_int(&r->pg, "procs", si.procs);
	}
	struct proc *init = c->init;
	if (init && init->cgroup[0])
		cgroup_stats(init->cgroup, &r->pg);
	int n = 0, running = 0;
	for (struct proc *p = g_procs; p; p = p->next)
		if (p->ctr == c) {
			n++;
			running += p->state != PROC_EXITED;
		}
	json_gen_int(&r->pg, "processes", n);
	json_gen_int(&r->pg, "running", running);
	return 0;
}

static int op_ps(void *c, struct proto_msg *m, struct reply *r)
{
	struct proto_ps_entry *e;
	size_t n;
	struct container *ctr = ctr_of_request(m->root, "ps", r->err, sizeof(r->err));
	if (!ctr || ps_list(ctr, &e, &n, r->err, sizeof(r->err)) < 0)
		return -1;
	proto_gen_ps(&r->pg, e, n);
	free(e);
	return 0;
}

/* pause / resume: the cgroup v2 freezer on the container's cgroup (SIGKILL still kills). */
#define FREEZE_TIMEOUT_MS 10000
static int op_freeze(void *c, struct proto_msg *m, struct reply *r, bool freeze)
{
	struct container *ctr = ctr_of_request(m->root, m->op, r->err, sizeof(r->err));
	if (!ctr)
		return -1;
	struct proc *init = ctr->init;
	char err[900];
	if (!init || init->state == PROC_EXITED) {
		snprintf(r->err, sizeof(r->err), "%s: container not running", m->op);
		return -1;
	}
	if (cgroup_freeze(init->cgroup, freeze, FREEZE_TIMEOUT_MS, err, sizeof(err)) < 0) {
		snprintf(r->err, sizeof(r->err), "%s: %s", m->op, err);
		return -1;
	}
	return 0;
}

/* update: new limits for the container's cgroup (the VM's RAM and vCPUs stay as created). */
static int op_update(void *c, struct proto_msg *m, struct reply *r)
{
	struct container *ctr = ctr_of_request(m->root, "update", r->err, sizeof(r->err));
	if (!ctr)
		return -1;
	struct proc *init = ctr->init;
	struct proto_resources res;
	char err[900];
	if (!init || init->state == PROC_EXITED) {
		snprintf(r->err, sizeof(r->err), "update: container not running");
		return -1;
	}
	yajl_val v = json_get(m->root, "resources", yajl_t_object);
	if (!v) {
		snprintf(r->err, sizeof(r->err), "update: no \"resources\" object");
		return -1;
	}
	if (proto_parse_resources(v, &res, err, sizeof(err)) < 0 ||
	    cgroup_apply(init->cgroup, &res, err, sizeof(err)) < 0) {
		snprintf(r->err, sizeof(r->err), "update: %s", err);
		return -1;
	}
	return 0;
}

/* network: the interfaces, routes and neighbours the host found in the container's netns, made
 * again in the netns of the container's init (which exists from create on). */
static int op_network(void *c, struct proto_msg *m, struct reply *r)
{
	static struct proto_net n; /* ~13 KiB */
	const char *id = json_get_str(m->root, "container");
	struct container *ctr = id ? ctr_find(id) : NULL;
	struct proc *init = ctr ? ctr->init : NULL;
	char err[900];
	if (!id) {
		snprintf(r->err, sizeof(r->err), "network: missing \"container\"");
		return -1;
	}
	if (!init) {
		snprintf(r->err, sizeof(r->err), "network: no container %s", id);
		return -1;
	}
	if (init->state == PROC_EXITED) {
		snprintf(r->err, sizeof(r->err), "network: container not running");
		return -1;
	}
	if (proto_parse_net(m->root, &n, r->err, sizeof(r->err)) < 0)
		return -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)init->pid);
	int ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0) {
		snprintf(r->err, sizeof(r->err), "network: open %s: %s", path, strerror(errno));
		return -1;
	}
	int rc = net_apply(ns, &n, err, sizeof(err));
	close(ns);
	if (rc < 0)
		snprintf(r->err, sizeof(r->err), "%s", err);
	return rc;
}

int ops_dispatch(void *c, struct proto_msg *m)
{
	struct reply r;
	r.err[0] = '\0';
	json_gen_begin(&r.pg);
	json_gen_int(&r.pg, "id", (long long)m->id);
	int rc = -1;
	bool quit = false;
	if (!strcmp(m->op, "hello"))
		rc = op_hello(c, m, &r);
	else if (!strcmp(m->op, "mount"))
		rc = op_mount(c, m, &r);
	else if (!strcmp(m->op, "create"))
		rc = op_create(c, m, &r);
	else if (!strcmp(m->op, "start"))
		rc = op_start(c, m, &r);
	else if (!strcmp(m->op, "exec"))
		rc = op_exec(c, m, &r);
	else if (!strcmp(m->op, "hooks"))
		rc = op_hooks(c, m, &r);
	else if (!strcmp(m->op, "signal"))
		rc = op_signal(c, m, &r);
	else if (!strcmp(m->op, "resize"))
		rc = op_resize(c, m, &r);
	else if (!strcmp(m->op, "ps"))
		rc = op_ps(c, m, &r);
	else if (!strcmp(m->op, "pause") || !strcmp(m->op, "resume"))
		rc = op_freeze(c, m, &r, !strcmp(m->op, "pause"));
	else if (!strcmp(m->op, "update"))
		rc = op_update(c, m, &r);
	else if (!strcmp(m->op, "network"))
		rc = op_network(c, m, &r);
	else if (!strcmp(m->op, "stats")) {
		rc = gen_stats(m, &r);
	} else if (!strcmp(m->op, "wait")) {
		struct proc *p = need_proc(m, &r);
		if (p) {
			json_gen_free(&r.pg);
			if (exit_wait(p, c, m->id) < 0) {
				json_gen_begin(&r.pg);
				json_gen_int(&r.pg, "id", (long long)m->id);
				snprintf(r.err, sizeof(r.err), "wait: out of memory");
			} else {
				return 0; /* answered when the process has exited and its output is drained */
			}
		}
	} else if (!strcmp(m->op, "shutdown")) {
		rc = 0;
		quit = true;
	} else {
		snprintf(r.err, sizeof(r.err), "unknown op %s", m->op);
	}
	const char *json;
	size_t len;
	if (rc == 0) {
		json_gen_bool(&r.pg, "ok", 1);
	} else {
		json_gen_bool(&r.pg, "ok", 0);
		json_gen_str(&r.pg, "error", r.err[0] ? r.err : "failed");
		log_debug("%s", r.err);
	}
	if (json_gen_end(&r.pg, &json, &len) == 0 && conn_ops && conn_ops->send)
		conn_ops->send(c, json, len);
	json_gen_free(&r.pg);
	if (quit && conn_ops && conn_ops->quit)
		conn_ops->quit();
	return 0;
}
