/* SPDX-License-Identifier: Apache-2.0 */
/* guest.h on top of runtime/backend (the VMM processes) and runtime/agentclient (the agent
 * protocol over hybrid vsock). Two agent connections: one for requests, one subscribed to
 * exit events (its fd is what the shim polls). */
#include "guest.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentclient/agentclient.h"
#include "backend/backend.h"
#include "backend/backend_plan.h"
#include "disks.h"
#include "guest_config.h"
#include "log.h"
#include "net/net.h"
#include "proto/proto_hooks.h"
#include "sockdir.h"

#define BOOT_TIMEOUT_MS	  60000 /* QEMU TCG boots in ~1 s alone; leave room for a loaded host */
#define STREAM_TIMEOUT_MS 10000
#define GUEST_CMDLINE	  "console=ttyS0 reboot=k panic=-1 quiet i8042.noaux i8042.nomux i8042.dumbkbd pci=off"

struct guest {
	struct vm *vm; /* what the backend runs: a VM, or the test harness's host agent */
	bool on_host;  /* the backend's agent_on_host (backend.h): no share, no network op */
	struct agentclient *ctl, *ev;
	bool vm_ended;	     /* seen by vm_running while waiting for the agent */
	long long oom_kills; /* the agent's latest "oom" event */
	int vm_status;
	char uds[PATH_MAX]; /* hybrid vsock socket, in the socket directory (sockdir.h) */
	int uds_dirfd;	    /* +1: O_PATH of its directory once the shim left the host's view */
	char dir[PATH_MAX]; /* the state directory */
	struct guest_shares sh;
	char init_id[PROTO_MAX_ID + 1]; /* the container init's process id: "init", or a member's id */
	bool member;			/* a pod member: the VM is the sandbox's (docs/pods.md) */
	char sandbox[256], sandbox_share[PATH_MAX], sub[320];
	bool join_ipc, join_uts;
	struct disks_plan disks; /* the VM's drives, decided once (disks.h) */
};

static int fail_ac(struct agentclient *ac, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", ac_error(ac));
	return -1;
}

/* guest_boot failed after the share was prepared: stop what runs, then unmount the share. */
static void boot_abort(struct guest *g)
{
	char share[PATH_MAX], cerr[256];
	bool shared = g->sh.n > 0;
	snprintf(share, sizeof(share), "%s", g->sh.host);
	guest_destroy(g);
	if (shared && fs_share_cleanup(share, cerr, sizeof(cerr)) < 0)
		log_error("%s", cerr);
}

/* The last non-empty line of a log file (its last 4 KiB), control characters dropped: the
 * state directory and its logs are removed when create fails, so the error carries it. */
static void last_line(const char *path, char *out, size_t cap)
{
	char buf[4096];
	out[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	ssize_t n = end < 0 ? -1
			    : pread(fd, buf, sizeof(buf) - 1,
				    end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	char *line = strrchr(buf, '\n');
	line = line ? line + 1 : buf;
	size_t o = 0;
	for (; *line && o + 1 < cap; line++)
		if ((unsigned char)*line >= 0x20 && *line != 0x7f)
			out[o++] = *line;
	out[o] = '\0';
}

/* Append ' (last console line: "…"; last VMM log line: "…")' for what the logs hold. */
static void append_logs(const char *dir, char *err, size_t errlen)
{
	static const char *const logs[][2] = {{"console.log", "last console line"},
					      {"vmm.log", "last VMM log line"}};
	const char *sep = " (";
	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		char path[PATH_MAX + 16], line[160];
		snprintf(path, sizeof(path), "%s/%s", dir, logs[i][0]);
		last_line(path, line, sizeof(line));
		if (!line[0])
			continue;
		size_t l = strlen(err);
		snprintf(err + l, errlen - l, "%s%s: \"%s\"", sep, logs[i][1], line);
		sep = "; ";
	}
	size_t l = strlen(err);
	if (strcmp(sep, " (") && l + 1 < errlen)
		snprintf(err + l, errlen - l, ")");
}

/* Whether the VM still runs (ac_connect_while asks between retries): a guest that died at
 * boot must not cost the caller the whole boot timeout. */
static bool vm_running(void *opaque)
{
	struct guest *g = opaque;
	if (g->vm && !g->vm_ended && vm_wait(g->vm, 0, &g->vm_status) == 1)
		g->vm_ended = true;
	return !g->vm_ended;
}

/* The drives of plan D in guest order (vda first), each found by the agent by its serial
 * (runtime/disks.h): the root's (an image, or the lent device's claimed fd), then the host
 * devices'. */
static void vm_config_disks(const struct disks_plan *d, struct vm_config *c)
{
	const struct disks_root *r = &d->root;
	c->n_disk = 0;
	if (r->mode != DISKS_NONE)
		c->disk[c->n_disk++] = (struct vm_disk){.path = r->device ? NULL : r->image,
							.fd = r->device ? d->root_fd : -1,
							.ro = disks_root_readonly(r),
							.serial = DISKS_ROOT_SERIAL};
	for (unsigned i = 0; i < d->ndev && c->n_disk < VM_MAX_DISKS; i++)
		c->disk[c->n_disk++] = (struct vm_disk){
		    .path = d->dev[i].host, .fd = -1, .ro = d->dev[i].ro, .serial = d->dev[i].serial};
}

int guest_boot(const char *id, const char *dir, const struct spec *s, const struct vm_plan *plan,
	       const struct net_state *net, struct guest **out, char *err, size_t errlen)
{
	*out = NULL;
	struct guest *g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	char *cfg = NULL;
	const struct vm_backend_ops *ops = vm_backend_ops_of(plan->backend.vmm);
	if (!ops) {
		snprintf(err, errlen, "no backend planned (%s)", plan->backend.reason);
		free(g);
		return -1;
	}
	g->on_host = ops->agent_on_host;
	g->disks.root_fd = -1;
	/* the drives and the shares are decided here (they are VM devices); guest_create reuses
	 * both */
	if (disks_plan(s, plan->rootfs_device, g->on_host ? DISKS_NO_DRIVES_HOST : NULL, &g->disks, err,
		       errlen) < 0 ||
	    guest_config(s, dir, g->on_host, &g->disks, &g->sh, &cfg, err, errlen) < 0) {
		free(g);
		return -1;
	}
	free(cfg);
	/* a root on a drive: the bundle's rootfs is not shared (a device root's is lent to the VM) */
	if (g->sh.n && fs_share_prepare(g->sh.host, g->sh.root_on_drive ? NULL : s->rootfs, false,
					g->sh.binds, g->sh.nbinds, err, errlen) < 0) {
		guest_shares_free(&g->sh);
		free(g);
		return -1;
	}
	snprintf(g->dir, sizeof(g->dir), "%s", dir);
	snprintf(g->init_id, sizeof(g->init_id), "init");
	char sdir[PATH_MAX - 16];
	if (sock_dir(dir, sdir, sizeof(sdir), err, errlen) < 0) {
		boot_abort(g);
		return -1;
	}
	snprintf(g->uds, sizeof(g->uds), "%s/vsock.sock", sdir);
	char console[PATH_MAX + 16];
	snprintf(console, sizeof(console), "%s/console.log", dir);
	struct vm_config c = {.backend = plan->backend.vmm,
			      .accel = plan->backend.accel,
			      .reason = plan->backend.reason,
			      .kernel = plan->kernel,
			      .initrd = plan->initrd,
			      .cmdline = GUEST_CMDLINE,
			      .vcpus = (unsigned)plan->vcpus,
			      .mem_mib = (unsigned)plan->mem_mib,
			      .vsock_uds = g->uds,
			      .rng = true,
			      .console_log = console,
			      .run_dir = dir};
	if (disks_claim_root(&g->disks, dir, err, errlen) < 0) {
		boot_abort(g);
		return -1;
	}
	vm_config_disks(&g->disks, &c);
	/* one fs device: the rootfs and every bind source (runtime/guest_config.h) */
	c.fs[0].tag = GUEST_SHARE_TAG;
	c.fs[0].dir = g->sh.host;
	c.n_fs = (unsigned)g->sh.n;
	/* one virtio-net NIC per wired tap (runtime/net/net.h), the guest finds it by MAC */
	for (unsigned i = 0; net && i < net->n && i < VM_MAX_NET; i++) {
		c.net[i].tap_fd = net->link[i].tap_fd;
		memcpy(c.net[i].mac, net->link[i].boot_mac, 6);
		c.net[i].mtu = net->link[i].mtu;
		c.n_net = i + 1;
	}
	int r = vm_start(&c, &g->vm);
	if (r < 0) {
		snprintf(err, errlen, "start %s: %s (see %s/%s)", ops->what, strerror(-r), dir,
			 ops->log_name);
		boot_abort(g);
		return -1;
	}
	g->ctl = ac_connect_while(g->uds, BOOT_TIMEOUT_MS, vm_running, g, err, errlen);
	if (!g->ctl || ac_hello(g->ctl, false) < 0) {
		if (g->ctl)
			fail_ac(g->ctl, err, errlen);
		else if (g->vm_ended)
			snprintf(err, errlen, "the VM ended before its agent answered (exit status %d)",
				 g->vm_status);
		append_logs(dir, err, errlen);
		boot_abort(g);
		return -1;
	}
	g->ev = ac_connect(g->uds, STREAM_TIMEOUT_MS, err, errlen);
	if (!g->ev || ac_hello(g->ev, true) < 0) {
		if (g->ev)
			fail_ac(g->ev, err, errlen);
		boot_abort(g);
		return -1;
	}
	if (g->sh.n && ac_mount(g->ctl, GUEST_SHARE_TAG, GUEST_SHARE_MNT, "virtiofs", NULL, false) < 0) {
		fail_ac(g->ctl, err, errlen);
		boot_abort(g);
		return -1;
	}
	*out = g;
	return 0;
}

static int attach_each(struct guest *g, const char *pid, bool tty, bool want_stdin, struct guest_stdio *io,
		       char *err, size_t errlen);

/* The socket's directory may be outside the shim's root (host_view.h): connect by its name
 * from that directory, then come back to the working directory. */
static int attach_all(struct guest *g, const char *pid, bool tty, bool want_stdin, struct guest_stdio *io,
		      char *err, size_t errlen)
{
	if (g->uds_dirfd <= 0)
		return attach_each(g, pid, tty, want_stdin, io, err, errlen);
	int here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (here < 0 || fchdir(g->uds_dirfd - 1) < 0) {
		snprintf(err, errlen, "connect %s: enter its directory: %s", g->uds, strerror(errno));
		if (here >= 0)
			close(here);
		*io = (struct guest_stdio){-1, -1, -1, -1};
		return -1;
	}
	int r = attach_each(g, pid, tty, want_stdin, io, err, errlen);
	if (fchdir(here) < 0)
		log_error("connect %s: back to the state directory: %s", g->uds, strerror(errno));
	close(here);
	return r;
}

static int attach_each(struct guest *g, const char *pid, bool tty, bool want_stdin, struct guest_stdio *io,
		       char *err, size_t errlen)
{
	*io = (struct guest_stdio){-1, -1, -1, -1};
	if (tty) {
		io->tty = ac_attach(g->uds, pid, PROTO_TTY, STREAM_TIMEOUT_MS, err, errlen);
		return io->tty < 0 ? -1 : 0;
	}
	if (want_stdin && (io->in = ac_attach(g->uds, pid, PROTO_STDIN, STREAM_TIMEOUT_MS, err, errlen)) < 0)
		return -1;
	if ((io->out = ac_attach(g->uds, pid, PROTO_STDOUT, STREAM_TIMEOUT_MS, err, errlen)) < 0 ||
	    (io->err = ac_attach(g->uds, pid, PROTO_STDERR, STREAM_TIMEOUT_MS, err, errlen)) < 0) {
		if (io->in >= 0)
			close(io->in);
		if (io->out >= 0)
			close(io->out);
		return -1;
	}
	return 0;
}

int guest_create(struct guest *g, const struct spec *s, bool want_stdin, struct guest_stdio *io, char *err,
		 size_t errlen)
{
	struct guest_shares sh;
	char *cfg = NULL;
	const char *dir = g->dir;
	/* the VM's own container (the sandbox) is "init" in its agent */
	struct guest_member gm = {.sandbox = "init",
				  .sandbox_share = g->sandbox_share,
				  .sub = g->sub,
				  .join_ipc = g->join_ipc,
				  .join_uts = g->join_uts};
	if (guest_config_member(s, dir, g->on_host, g->member ? &gm : NULL, &g->disks, &sh, &cfg, err,
				errlen) < 0)
		return -1;
	struct ac_stdio want = {.in = want_stdin, .out = true, .err = true};
	pid_t pid;
	guest_shares_free(&sh);
	int r = ac_create(g->ctl, g->init_id, g->on_host ? dir : GUEST_SHARE_BASE, cfg, &want, false, &pid);
	free(cfg);
	if (r < 0)
		return fail_ac(g->ctl, err, errlen);
	return attach_all(g, g->init_id, s->terminal, want_stdin, io, err, errlen);
}

const char *guest_init_id(const struct guest *g)
{
	return g ? g->init_id : "init";
}

int guest_join(const char *id, const char *dir, const struct spec *s, const struct guest_pod *pod,
	       struct guest **out, char *err, size_t errlen)
{
	*out = NULL;
	struct guest *g = calloc(1, sizeof(*g));
	if (!g || strlen(id) > PROTO_MAX_ID) {
		free(g);
		snprintf(err, errlen,
			 g ? "container id %s: longer than %d bytes (a pod member's id names its "
			     "process in the agent)"
			   : "out of memory",
			 id, PROTO_MAX_ID);
		return -1;
	}
	g->on_host = backend_test_host_agent(); /* no VM of its own: the sandbox's is the host agent */
	g->member = true;
	snprintf(g->dir, sizeof(g->dir), "%s", dir);
	snprintf(g->init_id, sizeof(g->init_id), "%s", id);
	snprintf(g->uds, sizeof(g->uds), "%s", pod->uds);
	snprintf(g->sandbox, sizeof(g->sandbox), "%s", pod->sandbox);
	snprintf(g->sandbox_share, sizeof(g->sandbox_share), "%s", pod->sandbox_share);
	snprintf(g->sub, sizeof(g->sub), "%s", pod->sub);
	g->join_ipc = pod->join_ipc;
	g->join_uts = pod->join_uts;
	struct guest_member gm = {.sandbox = g->sandbox, .sandbox_share = g->sandbox_share, .sub = g->sub};
	char *cfg = NULL;
	g->disks.root_fd = -1;
	if (disks_plan(s, false, DISKS_NO_DRIVES_MEMBER, &g->disks, err, errlen) < 0 ||
	    guest_config_member(s, dir, g->on_host, &gm, &g->disks, &g->sh, &cfg, err, errlen) < 0) {
		free(g);
		return -1;
	}
	free(cfg);
	if (g->sh.n) {
		/* the member's rootfs and binds, live in the sandbox VM's share (served as they appear) */
		char members[PATH_MAX + 16];
		snprintf(members, sizeof(members), "%s/members", g->sandbox_share);
		/* searchable: a member's root in a user namespace maps no host id */
		if (mkdir(members, 0711) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s: %s", members, strerror(errno));
			guest_destroy(g);
			return -1;
		}
		if (fs_share_prepare_nested(g->sh.host, s->rootfs, false, g->sh.binds, g->sh.nbinds, err,
					    errlen) < 0) {
			g->sh.n = 0; /* nothing left behind by a failed prepare */
			guest_destroy(g);
			return -1;
		}
	}
	g->ctl = ac_connect(g->uds, STREAM_TIMEOUT_MS, err, errlen);
	if (!g->ctl || ac_hello(g->ctl, false) < 0 || ac_set_container(g->ctl, id) < 0) {
		if (g->ctl)
			fail_ac(g->ctl, err, errlen);
		guest_destroy(g);
		return -1;
	}
	g->ev = ac_connect(g->uds, STREAM_TIMEOUT_MS, err, errlen);
	if (!g->ev || ac_hello(g->ev, true) < 0) {
		if (g->ev)
			fail_ac(g->ev, err, errlen);
		guest_destroy(g);
		return -1;
	}
	*out = g;
	return 0;
}

int guest_start(struct guest *g, char *err, size_t errlen)
{
	return ac_start(g->ctl, g->init_id) < 0 ? fail_ac(g->ctl, err, errlen) : 0;
}

int guest_hooks(struct guest *g, const struct spec *s, enum hook_kind kind, const char *state_json, char *err,
		size_t errlen)
{
	int n = s->nhooks[kind];
	if (n <= 0)
		return 0;
	struct proto_hook *h = calloc((size_t)n, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "%s hooks: out of memory", HOOK_NAMES[kind]);
		return -1;
	}
	for (int i = 0; i < n; i++)
		h[i] = (struct proto_hook){.path = s->hooks[kind][i].path,
					   .args = s->hooks[kind][i].args,
					   .env = s->hooks[kind][i].env,
					   .timeout = s->hooks[kind][i].timeout};
	int r = ac_hooks(g->ctl, g->init_id, HOOK_NAMES[kind], h, (size_t)n, state_json); /* a member's own */
	free(h);
	return r < 0 ? fail_ac(g->ctl, err, errlen) : 0;
}

int guest_network(struct guest *g, const char *id, const struct proto_net *n, char *err, size_t errlen)
{
	if (g->on_host || g->member)
		return 0; /* the harness agent runs in the host's netns; a member's NICs are the sandbox's */
	(void)id;	  /* the agent knows the VM's own container by its init process, "init" */
	return ac_network(g->ctl, "init", n) < 0 ? fail_ac(g->ctl, err, errlen) : 0;
}

int guest_signal(struct guest *g, const char *process, int sig, bool all, char *err, size_t errlen)
{
	return ac_signal(g->ctl, process, sig, all) < 0 ? fail_ac(g->ctl, err, errlen) : 0;
}

int guest_resize(struct guest *g, const char *process, unsigned rows, unsigned cols)
{
	return ac_resize(g->ctl, process, rows, cols);
}

int guest_exec(struct guest *g, const char *exec_id, const char *process_json, bool want_stdin,
	       struct guest_stdio *io, char *err, size_t errlen)
{
	char perr[128];
	yajl_val v = yajl_tree_parse(process_json, perr, sizeof(perr));
	yajl_val t = v ? json_get(v, "terminal", yajl_t_any) : NULL;
	bool tty = t && YAJL_IS_TRUE(t);
	if (v)
		yajl_tree_free(v);
	struct ac_stdio want = {.in = want_stdin, .out = true, .err = true};
	pid_t pid;
	if (ac_exec(g->ctl, exec_id, process_json, &want, &pid) < 0)
		return fail_ac(g->ctl, err, errlen);
	return attach_all(g, exec_id, tty, want_stdin, io, err, errlen);
}

int guest_pause(struct guest *g, bool pause, char *err, size_t errlen)
{
	return ac_pause(g->ctl, pause) < 0 ? fail_ac(g->ctl, err, errlen) : 0;
}

int guest_ps(struct guest *g, char **json, char *err, size_t errlen)
{
	struct proto_ps_entry *e;
	size_t n;
	if (ac_ps(g->ctl, &e, &n) < 0)
		return fail_ac(g->ctl, err, errlen);
	struct json_gen pg;
	const char *js;
	size_t len;
	int rc = -1;
	json_gen_begin(&pg);
	proto_gen_ps(&pg, e, n);
	free(e);
	if (json_gen_end(&pg, &js, &len) == 0 && (*json = strndup(js, len)))
		rc = 0;
	else
		snprintf(err, errlen, "ps: encode the process list: out of memory");
	json_gen_free(&pg);
	return rc;
}

int guest_stats(struct guest *g, char **json, char *err, size_t errlen)
{
	return ac_stats(g->ctl, json) < 0 ? fail_ac(g->ctl, err, errlen) : 0;
}

int guest_update(struct guest *g, const char *resources_json, char *err, size_t errlen)
{
	struct proto_resources r;
	yajl_val v = json_parse(resources_json, strlen(resources_json), err, errlen);
	if (!v)
		return -1;
	int rc = proto_parse_resources(v, &r, err, errlen);
	yajl_tree_free(v);
	if (rc < 0)
		return -1;
	return ac_update(g->ctl, &r) < 0 ? fail_ac(g->ctl, err, errlen) : 0;
}

int guest_vm_fds(struct guest *g, int *fds, int max)
{
	if (!g->vm || g->vm_ended)
		return 0;
	int n = vm_pidfds(g->vm, fds, max);
	return n < 0 ? 0 : n;
}

bool guest_vm_ended(struct guest *g, int *status)
{
	if (g->vm && !g->vm_ended && vm_wait(g->vm, 0, &g->vm_status) == 1)
		g->vm_ended = true;
	*status = g->vm_status;
	return g->vm_ended;
}

int guest_event_fd(struct guest *g)
{
	return g && g->ev ? ac_fd(g->ev) : -1;
}

int guest_next_exit(struct guest *g, struct guest_exit *ex, char *err, size_t errlen)
{
	struct ac_event e;
	if (ac_next_event_any(g->ev, &e, 2000) < 0)
		return fail_ac(g->ev, err, errlen);
	if (!strcmp(e.name, "oom") && e.oom_kills > g->oom_kills)
		g->oom_kills = e.oom_kills;
	if (strcmp(e.name, "exit"))
		return 0;
	snprintf(ex->process, sizeof(ex->process), "%s", e.process);
	ex->status = e.exit.exit_code;
	return 1;
}

long long guest_oom_kills(const struct guest *g)
{
	return g ? g->oom_kills : 0;
}

void guest_destroy(struct guest *g)
{
	if (!g)
		return;
	if (g->uds_dirfd > 0)
		close(g->uds_dirfd - 1);
	g->uds_dirfd = 0;
	if (g->member) {
		/* the VM is the sandbox's: only this container goes (a no-op once it exited) */
		if (g->ctl)
			ac_signal(g->ctl, g->init_id, SIGKILL, true);
		if (g->ev)
			ac_close(g->ev);
		if (g->ctl)
			ac_close(g->ctl);
		char cerr[512];
		if (g->sh.n && fs_share_cleanup(g->sh.host, cerr, sizeof(cerr)) < 0)
			log_error("%s", cerr);
		guest_shares_free(&g->sh);
		free(g);
		return;
	}
	if (g->ctl)
		ac_shutdown(g->ctl);
	if (g->vm) {
		/* it ends by itself after the shutdown request; else the backend stops it */
		int st;
		if (vm_wait(g->vm, 3000, &st) == 0)
			vm_stop(g->vm, 1000);
		vm_free(g->vm);
	}
	if (g->ev)
		ac_close(g->ev);
	if (g->ctl)
		ac_close(g->ctl);
	guest_shares_free(&g->sh);
	if (g->dir[0]) {
		disks_restore_root(&g->disks, g->dir); /* the VM is gone: a lent rootfs goes back */
		sock_dir_remove(g->dir);
	}
	free(g);
}

const struct disks_plan *guest_disks(const struct guest *g)
{
	return g ? &g->disks : NULL;
}

bool guest_agent_on_host(const struct guest *g)
{
	return g->on_host;
}

const char *guest_share_dir(const struct guest *g)
{
	return g->sh.n ? g->sh.host : NULL;
}

void guest_sockets_relative(struct guest *g)
{
	/* the directory of the socket (our own state directory's, or a pod sandbox's), by fd */
	char *slash = strrchr(g->uds, '/');
	if (!slash)
		return;
	*slash = '\0';
	int fd = open(g->uds[0] ? g->uds : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		log_error("open %s (the vsock socket's directory): %s", g->uds, strerror(errno));
		*slash = '/';
		return;
	}
	g->uds_dirfd = fd + 1;
	memmove(g->uds, slash + 1, strlen(slash + 1) + 1);
}
