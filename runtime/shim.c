/* SPDX-License-Identifier: Apache-2.0 */
/* runm shim: the per-container host process (its pid is the container's pid for engines).
 * Exec'd by create; boots the VM through guest.c, has the agent create the container, answers
 * the control socket, forwards signals to the container's init, relays stdio or the pty, and
 * exits with the container's status. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "artifacts.h"
#include "cmd_util.h"
#include "ctl.h"
#include "guest.h"
#include "hooks.h"
#include "host_cgroup.h"
#include "host_view.h"
#include "io.h"
#include "log.h"
#include "net/net.h"
#include "pod.h"
#include "pod_member.h"
#include "relay.h"
#include "shim.h"
#include "shim_ops.h"
#include "spec.h"

/* CPU time of this thread, µs (network set-up cost, logged with --debug) */
static long long cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Send the pty master to the engine's console socket: one fd, non-empty payload. */
int console_send(const char *path, int master)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("console socket %s: path too long", path);
		close(s);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_errno(errno, "connect console socket %s", path);
		if (s >= 0)
			close(s);
		return -1;
	}
	int r = io_send_fds(s, "/dev/ptmx", 9, &master, 1);
	close(s);
	if (r < 0) {
		log_errno(-r, "send pty master to console socket %s", path);
		return -1;
	}
	return 0;
}

/* A host pty pair: the master goes to the engine, the slave (raw) is relayed to the guest
 * tty stream; the slave becomes our controlling terminal so resizes arrive as SIGWINCH. */
int open_host_pty(int *master, int *slave, bool ctty)
{
	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0 || grantpt(*master) < 0 || unlockpt(*master) < 0) {
		log_errno(errno, "allocate a pty");
		return -1;
	}
	*slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0) {
		char name[64];
		if (ptsname_r(*master, name, sizeof(name)) == 0)
			*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	}
	if (*slave < 0) {
		log_errno(errno, "open pty slave");
		close(*master);
		return -1;
	}
	struct termios t;
	if (tcgetattr(*slave, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(*slave, TCSANOW, &t);
	}
	if (ctty) {
		setsid();
		ioctl(*slave, TIOCSCTTY, 0);
	}
	return 0;
}

static int enter_host_cgroup(struct shim *s, const char *id, unsigned vm_mib)
{
	char err[512], path[PATH_MAX];
	if (host_cgroup_path(&s->spec, id, G.root, path, sizeof(path), err, sizeof(err)) < 0) {
		log_error("create %s: %s", id, err);
		return -1;
	}
	int dfd = open(s->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int r = host_cgroup_enter(&s->spec, path, vm_mib, dfd, err, sizeof(err));
	if (dfd >= 0)
		close(dfd);
	if (r < 0) {
		log_error("create %s: %s", id, err);
		return -1;
	}
	if (r > 0)
		log_warn("create %s: %s (the VM stays in the caller's cgroup)", id, err);
	else
		snprintf(s->cgroup, sizeof(s->cgroup), "%s", path);
	return 0;
}

/* The signals forwarded to the container: every catchable one but SIGCHLD (ours), SIGPIPE
 * (our own broken relays), SIGWINCH (turned into a resize). */
static void forwarded_set(sigset_t *set)
{
	sigemptyset(set);
	for (int sig = 1; sig < SIGRTMIN; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD && sig != SIGPIPE && sig != SIGSEGV &&
		    sig != SIGBUS && sig != SIGFPE && sig != SIGILL && sig != SIGTRAP)
			sigaddset(set, sig);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		sigaddset(set, sig);
}

/* KEY=VAL in ST's annotations (replacing a value the spec gave), if there is room. */
static void set_annotation(struct cstate *st, const char *key, const char *val)
{
	char *v = strdup(val);
	if (!v)
		return;
	for (int j = 0; j < st->nann; j++)
		if (st->ann_key[j] && !strcmp(st->ann_key[j], key)) {
			free(st->ann_val[j]);
			st->ann_val[j] = v;
			return;
		}
	char *k = st->nann < MAX_ANNOTATIONS ? strdup(key) : NULL;
	if (!k) {
		free(v);
		return;
	}
	st->ann_key[st->nann] = k;
	st->ann_val[st->nann++] = v;
}

/* The state the hooks and `runm state` see: the shim's pid (+ start time) is the container's. */
static void fill_state(struct shim *s, const struct shim_args *a)
{
	s->st = (struct cstate){.exit_status = -1, .pid = getpid()};
	snprintf(s->st.id, sizeof(s->st.id), "%s", a->id);
	snprintf(s->st.bundle, sizeof(s->st.bundle), "%s", a->bundle);
	snprintf(s->st.status, sizeof(s->st.status), "creating");
	memcpy(s->st.rootfs, s->spec.rootfs, sizeof(s->st.rootfs));
	rfc3339_now(s->st.created, sizeof(s->st.created));
	proc_start_time(getpid(), &s->st.start_time);
	for (int i = 0; i < s->spec.nann && i < MAX_ANNOTATIONS; i++) {
		s->st.ann_key[i] = strdup(s->spec.ann_key[i]);
		s->st.ann_val[i] = strdup(s->spec.ann_val[i]);
		s->st.nann = i + 1;
	}
	/* which pod it belongs to (runm state / list; delete of a member finds its sandbox) */
	if (s->pod.role != POD_NONE) {
		set_annotation(&s->st, POD_ANN_ROLE, pod_role_name(s->pod.role));
		set_annotation(&s->st, POD_ANN_SANDBOX, s->pod.sandbox);
	}
}

/* A pod member boots nothing: it joins the running sandbox's VM (docs/pods.md). */
static int join_pod(struct shim *s, const char *id, char *err, size_t errlen)
{
	struct pod_paths pp;
	struct cstate sst;
	char uds[PATH_MAX];
	if (pod_member_paths(s->pod.sandbox, id, &pp, err, errlen) < 0 ||
	    pod_sandbox_find(s->pod.sandbox, &sst, err, errlen) < 0)
		return -1;
	int spid = sst.pid;
	state_free(&sst);
	if (pod_sandbox_uds(pp.sandbox_dir, uds, sizeof(uds), err, errlen) < 0)
		return -1;
	struct guest_pod gp = {
	    .sandbox = s->pod.sandbox, .uds = uds, .sandbox_share = pp.share, .sub = pp.sub};
	if (pod_ns_paths(&s->spec, spid, &gp.join_ipc, &gp.join_uts, err, errlen) < 0)
		return -1;
	return guest_join(id, s->dir, &s->spec, &gp, &s->g, err, errlen);
}

/* The spec, the pod role, the VM plan, the control socket. 0, or -1 after logging. */
static int shim_prepare(struct shim *s, const struct shim_args *a, struct vm_plan *plan)
{
	char err[1024];
	state_dir(a->id, s->dir, sizeof(s->dir));
	if (spec_load(a->bundle, &s->spec) < 0)
		return -1;
	if (pod_classify(&s->spec, a->id, &s->pod, err, sizeof(err)) < 0) {
		log_error("create %s: %s", a->id, err);
		return -1;
	}
	bool member = s->pod.role == POD_MEMBER, nsi, nsu;
	if (!member && pod_ns_paths(&s->spec, -1, &nsi, &nsu, err, sizeof(err)) < 0) {
		log_error("create %s: %s", a->id, err);
		return -1;
	}
	/* a sandbox's VM is the pod's: sized by the pod's annotations where the spec says nothing */
	if (s->pod.role == POD_SANDBOX && pod_sandbox_size(&s->spec, &s->spec.mem_limit, &s->spec.cpu_quota,
							   &s->spec.cpu_period, err, sizeof(err)) < 0) {
		log_error("create %s: %s", a->id, err);
		return -1;
	}
	if (!member && vm_plan(&s->spec, G.backend, plan, err, sizeof(err)) < 0) {
		log_error("create %s: %s", a->id, err);
		return -1;
	}
	s->lsock = ctl_listen(s->dir);
	if (s->lsock < 0) {
		log_errno(errno, "listen on %s/%s", s->dir, CTL_SOCK);
		return -1;
	}
	return 0;
}

/* The container's network namespace, the hooks that configure it, the taps wired to it and
 * their record (a member's is the sandbox's: nothing to do). 0, or -1 after logging. */
static int shim_network(struct shim *s, const struct shim_args *a, bool member)
{
	char err[1024];
	int wr;
	/* The netns first: prestart/createRuntime hooks (Docker's libnetwork-setkey, CNI run by
	 * nerdctl) configure /proc/<our pid>/ns/net, and their interfaces must reach the VM. */
	long long net_cpu = cpu_us(), net_wall = io_now_ms();
	/* a member's network is the sandbox's, wired by the sandbox's shim: nothing to do */
	if (!member && net_enter(&s->spec, &s->net, err, sizeof(err)) < 0) {
		log_error("create %s: %s", a->id, err);
		return -1;
	}
	fill_state(s, a);
	char *js = state_to_json(&s->st, false, false);
	if (!js || run_hooks(&s->spec, HOOK_PRESTART, js, true) < 0 ||
	    run_hooks(&s->spec, HOOK_CREATE_RUNTIME, js, true) < 0) {
		free(js);
		return -1;
	}
	free(js);
	net_cpu = cpu_us() - net_cpu; /* the hooks ran in children: not counted */
	long long wire_cpu = cpu_us();
	if (!member && net_wire(&s->net, err, sizeof(err)) < 0) {
		log_error("create %s: %s", a->id, err);
		return -1;
	}
	log_debug(
	    "create %s: network: %u link(s) wired in %.2f ms CPU (netns %.2f ms), %lld ms wall with hooks",
	    a->id, s->net.n, (double)(cpu_us() - wire_cpu + net_cpu) / 1000.0, (double)net_cpu / 1000.0,
	    io_now_ms() - net_wall);
	if (!member && (wr = net_record(&s->net, s->dir)) < 0) {
		log_errno(-wr, "create %s: record the network in %s", a->id, s->dir);
		return -1;
	}
	return 0;
}

/* The host cgroup, then the VM booted (or the sandbox's joined), the container created in it
 * and its NICs configured. 0, or -1 after logging. */
static int shim_boot(struct shim *s, const struct shim_args *a, bool member, const struct vm_plan *plan,
		     struct guest_stdio *io)
{
	char err[1024];
	/* the VM's processes are born in the container's host cgroup: engines' stats are the VM's */
	if (enter_host_cgroup(s, a->id, member ? 0 : (unsigned)plan->mem_mib) < 0)
		return -1;
	if (member && join_pod(s, a->id, err, sizeof(err)) < 0) {
		log_error("create %s: join pod sandbox %s: %s", a->id, s->pod.sandbox, err);
		return -1;
	}
	if (!member && guest_boot(a->id, s->dir, &s->spec, plan, &s->net, &s->g, err, sizeof(err)) < 0) {
		log_error("create %s: boot microVM (%s): %s", a->id, vm_backend_name(plan->backend.vmm), err);
		return -1;
	}
	if (guest_create(s->g, &s->spec, true, io, err, sizeof(err)) < 0) {
		log_error("create %s: %s", a->id, err);
		return -1;
	}
	if (s->net.cfg.nifaces && guest_network(s->g, a->id, &s->net.cfg, err, sizeof(err)) < 0) {
		log_error("create %s: %s", a->id, err);
		return -1;
	}
	return 0;
}

/* The container's stdio: a pty whose master goes to --console-socket, or our own 0/1/2,
 * relayed to the guest's streams. 0, or -1 after logging. */
static int shim_stdio(struct shim *s, const struct shim_args *a, const struct guest_stdio *io)
{
	if (s->spec.terminal) {
		if (!a->console_socket) {
			log_error("create %s: process.terminal is true but --console-socket was not given",
				  a->id);
			return -1;
		}
		int master = -1;
		if (open_host_pty(&master, &s->tty_slave, true) < 0 ||
		    console_send(a->console_socket, master) < 0) {
			if (master >= 0)
				close(master);
			return -1;
		}
		close(master);
		relay_add(&s->rs, s->tty_slave, io->tty, 0, false, false);
		int k = relay_add(&s->rs, io->tty, s->tty_slave, 0, true, false);
		if (k >= 0)
			s->rs.r[k].output = true;
	} else {
		relay_add(&s->rs, STDIN_FILENO, io->in, 0, false, true);
		int k = relay_add(&s->rs, io->out, STDOUT_FILENO, 0, true, false);
		if (k >= 0)
			s->rs.r[k].output = true;
		k = relay_add(&s->rs, io->err, STDERR_FILENO, 0, true, false);
		if (k >= 0)
			s->rs.r[k].output = true;
	}
	return 0;
}

/* "created": the state, the createContainer hooks, the pid file, our view of the container's
 * files, and `runm create` told (its stdio let go unless it is the container's). 0, or -1 after
 * logging. */
static int shim_created(struct shim *s, const struct shim_args *a, const sigset_t *fwd)
{
	char err[1024];
	shim_save_state(s, "created");
	char *js = state_to_json(&s->st, false, false);
	/* createContainer hooks run in the container, in the guest (agent/hooks.c) */
	if (!js || guest_hooks(s->g, &s->spec, HOOK_CREATE_CONTAINER, js, err, sizeof(err)) < 0) {
		if (js)
			log_error("create %s: %s", a->id, err);
		free(js);
		return -1;
	}
	free(js);
	if (a->pid_file && write_pid_file(a->pid_file, getpid()) < 0)
		return -1;
	shim_forward_winsize(s);
	s->sfd = signalfd(-1, fwd, SFD_CLOEXEC | SFD_NONBLOCK);
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	/* before any engine learns that the container exists: tools entering our mount namespace
	 * or /proc/<pid>/root must find the container's files, never the host's */
	guest_sockets_relative(s->g); /* by its directory's fd: opened while the host's paths resolve */
	if (host_view_enter(&s->hv, &s->spec, s->dir, guest_share_dir(s->g), guest_disks(s->g), err,
			    sizeof(err)) < 0) {
		log_error("create %s: %s", a->id, err);
		if (nul >= 0)
			close(nul);
		return -1;
	}
	snprintf(s->dir, sizeof(s->dir), "."); /* our working directory (host_view.h) */
	/* created: tell `runm create` and let go of its stdio unless it is the container's */
	if (a->sync_fd >= 0) {
		io_write_all(a->sync_fd, "ok\n", 3);
		close(a->sync_fd);
	}
	if (s->spec.terminal || a->detach_stdio) {
		if (nul >= 0) {
			dup2(nul, STDIN_FILENO);
			dup2(nul, STDOUT_FILENO);
			dup2(nul, STDERR_FILENO);
			close(nul);
			nul = -1;
		}
	}
	if (nul >= 0)
		close(nul);
	return 0;
}

/* Serve until the container's init exited and its output drained (until it stops moving for
 * 5 s), or the VM ended: requests on the control socket, forwarded signals, the agent's exit reports, the
 * relays, and every VM process. */
static void shim_loop(struct shim *s, const struct shim_args *a)
{
	char err[1024];
	long long exit_deadline = 0;
	for (;;) {
		struct pollfd pfd[RELAY_MAX_POLLFDS + 4 + GUEST_MAX_VM_FDS];
		int idx[RELAY_MAX_POLLFDS];
		int n = 0;
		pfd[n++] = (struct pollfd){.fd = s->lsock, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = s->sfd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = guest_event_fd(s->g), .events = POLLIN};
		int nr = relay_pollfds(&s->rs, pfd + n, idx, RELAY_MAX_POLLFDS);
		/* every VM process (VMM, each device server): one that ends ends the VM */
		int vfd[GUEST_MAX_VM_FDS];
		int nv = s->init_exited ? 0 : guest_vm_fds(s->g, vfd, GUEST_MAX_VM_FDS);
		for (int k = 0; k < nv; k++)
			pfd[n + nr + k] = (struct pollfd){.fd = vfd[k], .events = POLLIN};
		int timeout = -1;
		if (s->init_exited) {
			/* the output drains whole: a reader that is slow (its pipe full) is waited for,
			 * as the container would wait under runc; only a guest stream that stays silent
			 * without ending for 5 s is given up */
			bool backlog = relay_backlog(&s->rs, 0) > 0;
			if (relay_count(&s->rs, 0) == 0 || (!backlog && io_now_ms() >= exit_deadline))
				break;
			timeout = backlog ? -1 : (int)(exit_deadline - io_now_ms());
		}
		int pr = poll(pfd, (nfds_t)n + (nfds_t)nr + (nfds_t)nv, timeout);
		if (pr < 0 && errno != EINTR) {
			log_errno(errno, "shim %s: poll", a->id);
			break;
		}
		if (pr <= 0)
			continue;
		bool moved = false;
		for (int k = 0; k < nr; k++)
			if (pfd[n + k].revents) {
				relay_pump(&s->rs, idx[k]);
				moved = true;
			}
		/* after the init's exit its output drains as long as it moves (a loaded host's VM
		 * may take more than 5 s for a megabyte); 5 s without progress end it */
		if (moved && s->init_exited && exit_deadline > 0)
			exit_deadline = io_now_ms() + 5000;
		if (pfd[0].revents & POLLIN) {
			int c = accept4(s->lsock, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0)
				shim_serve(s, c);
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(s->sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGWINCH)
					shim_forward_winsize(s);
				else if (!s->init_exited)
					guest_signal(s->g, guest_init_id(s->g), (int)si.ssi_signo, false, err,
						     sizeof(err));
			}
		}
		if (pfd[2].revents) {
			/* one event per wake-up: the connection is blocking */
			struct guest_exit ge;
			int r = guest_next_exit(s->g, &ge, err, sizeof(err));
			if (r == 1 && !strcmp(ge.process, guest_init_id(s->g))) {
				s->init_exited = true;
				s->init_status = ge.status;
				exit_deadline = io_now_ms() + 5000;
			} else if (r == 1) {
				for (int i = 1; i <= MAX_EXECS; i++)
					if (s->ex[i].used && !strcmp(s->ex[i].id, ge.process)) {
						s->ex[i].status = ge.status;
						s->ex[i].exited = true;
					}
			}
			if (r < 0 && !s->init_exited) {
				log_error("shim %s: the microVM or its agent went away (%s)", a->id, err);
				s->init_exited = true;
				s->init_status = 137;
				exit_deadline = io_now_ms();
			}
		}
		for (int k = 0; k < nv && !s->init_exited; k++) {
			int vs;
			if (pfd[n + nr + k].revents && guest_vm_ended(s->g, &vs)) {
				log_error("shim %s: the microVM ended (status %d): %s", a->id, vs,
					  "its VMM or a device server exited");
				s->init_exited = true;
				s->init_status = 137;
				exit_deadline = io_now_ms();
			}
		}
		/* an exec is done once it exited and its output drained */
		for (int i = 1; i <= MAX_EXECS; i++)
			if (s->ex[i].used && s->ex[i].exited && relay_count(&s->rs, i) == 0)
				shim_finish_exec(s, i);
	}
}

int shim_main(const struct shim_args *a)
{
	struct shim S = {.id = a->id, .lsock = -1, .sfd = -1, .tty_slave = -1, .hv = HOST_VIEW_INIT};
	struct shim *s = &S;
	int rc = 1;
	sigset_t fwd;
	forwarded_set(&fwd);
	sigprocmask(SIG_BLOCK, &fwd, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct vm_plan plan = {0}; /* a member boots nothing: the VM is the sandbox's */
	struct guest_stdio io = {-1, -1, -1, -1};
	if (shim_prepare(s, a, &plan) < 0)
		goto fail;
	bool member = s->pod.role == POD_MEMBER;
	if (shim_network(s, a, member) < 0 || shim_boot(s, a, member, &plan, &io) < 0 ||
	    shim_stdio(s, a, &io) < 0 || shim_created(s, a, &fwd) < 0)
		goto fail;
	shim_loop(s, a);
	for (int i = 1; i <= MAX_EXECS; i++)
		if (s->ex[i].used) {
			if (!s->ex[i].exited)
				s->ex[i].status = 137;
			shim_finish_exec(s, i);
		}
	s->st.exit_status = s->init_status;
	shim_save_state(s, "stopped");
	rc = s->init_status;
	host_view_leave(&s->hv); /* teardown goes by the host's paths */
	guest_destroy(s->g);
	s->g = NULL;
	goto out;
fail:
	host_view_leave(&s->hv);
	if (s->g)
		guest_destroy(s->g);
	s->g = NULL;
	rc = 1;
out:
	net_release(&s->net);
	net_record(&s->net, s->dir);
	if (s->cgroup[0]) {
		int cfd = open(s->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		host_cgroup_leave(s->cgroup, cfd); /* the VM is gone: the group is empty but for us */
		if (cfd >= 0)
			close(cfd);
	}
	if (s->lsock >= 0) {
		close(s->lsock);
		int dfd = open(s->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			unlinkat(dfd, CTL_SOCK, 0);
			close(dfd);
		}
	}
	state_free(&s->st);
	spec_free(&s->spec);
	return rc;
}
