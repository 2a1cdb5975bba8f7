/* SPDX-License-Identifier: Apache-2.0 */
/* Processes: the container init (created, held, started) and exec'd processes; their exit. */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "base.h"
#include "cgroups.h"
#include "ctr.h"
#include "io.h"
#include "log.h"
#include "oom.h"
#include "setup.h"
#include "streams.h"
#include "waiters.h"

#define ERR(...) agent_errf(err, errlen, __VA_ARGS__)
/* A container's setup answers in well under a second alone; 20 TCG guests at once on a loaded
 * 2-core host took over 30 s (test_faults' twenty containers). Below the host's 60 s call
 * timeout (AC_CALL_TIMEOUT_MS), so that this more specific error is the one reported. */
#define SETUP_TIMEOUT_MS 50000
#define MAX_PROCS	 1024

struct proc *g_procs;

struct proc *proc_find(const char *id)
{
	for (struct proc *p = g_procs; p; p = p->next)
		if (strcmp(p->id, id) == 0)
			return p;
	return NULL;
}

/* ---- what the child runs ---- */
static void child_report(int sync, const struct setup_err *e)
{
	ssize_t r = send(sync, e, sizeof(*e), MSG_NOSIGNAL);
	(void)r;
}

static int child_stdio(struct child_args *a, struct setup_err *e)
{
	if (setsid() < 0)
		return setup_fail(e, "setsid", "", errno);
	if (a->terminal)
		return 0; /* the pty is made inside the container, once its /dev is in place */
	int null = -1;
	for (int i = 0; i < 3; i++) {
		int fd = a->io[i];
		if (fd < 0) {
			if (null < 0 && (null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
				return setup_fail(e, "open", "/dev/null", errno);
			fd = null;
		}
		if (dup2(fd, i) < 0)
			return setup_fail(e, "dup2", proto_stream_name((enum proto_stream)i), errno);
	}
	return 0;
}

/* Open a pty in the container's devpts (so ttyname works there), make it our controlling
 * terminal and stdio. Returns the master fd. */
static int child_pty(struct child_args *a, struct setup_err *e)
{
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return setup_fail(e, "open pty master", "/dev/ptmx", errno);
	char name[64];
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0)
		return setup_fail(e, "set up pty", "/dev/ptmx", errno);
	int sl = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sl < 0)
		return setup_fail(e, "open pty slave", name, errno);
	/* as runc's fixStdioPermissions: the process's user owns its terminal (the group stays
	 * devpts' gid=5) */
	if (fchown(sl, a->proc->uid, (gid_t)-1) < 0)
		return setup_fail(e, "chown pty slave", name, errno);
	if (a->proc->rows && a->proc->cols) {
		struct winsize ws = {.ws_row = a->proc->rows, .ws_col = a->proc->cols};
		ioctl(m, TIOCSWINSZ, &ws);
	}
	if (ioctl(sl, TIOCSCTTY, 0) < 0)
		return setup_fail(e, "set controlling terminal", name, errno);
	for (int i = 0; i < 3; i++)
		if (dup2(sl, i) < 0)
			return setup_fail(e, "dup2", name, errno);
	if (a->console) {
		struct stat st;
		if (stat("/dev/console", &st) < 0) {
			int fd = open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
			if (fd >= 0)
				close(fd);
		}
		if (mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0)
			return setup_fail(e, "bind pty to /dev/console", name, errno);
	}
	close(sl);
	return m;
}

/* 'R' (created) with the pty master attached when there is one. */
static int child_send_ready(int sync, int master)
{
	char c = 'R';
	return io_send_fds(sync, &c, 1, master >= 0 ? &master : NULL, master >= 0 ? 1 : 0) == 0 ? 0 : -1;
}

static int child_run(void *arg)
{
	struct child_args *a = arg;
	struct setup_err e = {0};
	char path[PATH_MAX];
	char c;
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

	if (child_stdio(a, &e) < 0)
		goto fail;
	if (a->wait_cgroup) {
		/* The agent moves us into the container's cgroup first, so that our cgroup
		 * namespace is rooted there. */
		if (recv(a->sync, &c, 1, 0) != 1) {
			setup_fail(&e, "wait for cgroup", "", EPIPE);
			goto fail;
		}
	}
	/* a new user namespace: the agent wrote its maps before the byte above (userns.c) */
	const char *ustep;
	if (a->clone_in_userns)
		a->nsfd[NS_USER] = -1; /* we are in it */
	if (a->s && (a->s->ns_new[NS_USER] || a->clone_in_userns) && userns_become_root(&ustep) < 0) {
		setup_fail(&e, ustep, "", errno);
		goto fail;
	}
	if (a->s) {
		const struct spec *s = a->s;
		for (int ns = 0; ns < NS_COUNT; ns++) {
			if (!s->ns_path[ns])
				continue;
			int fd = open(s->ns_path[ns], O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, ns_clone_flag(ns)) < 0) {
				setup_fail(&e, "join namespace", s->ns_path[ns], errno);
				goto fail;
			}
			close(fd);
		}
		for (int ns = 0; ns < NS_COUNT; ns++)
			if (a->nsfd[ns] >= 0 && setns(a->nsfd[ns], ns_clone_flag(ns)) < 0) {
				setup_fail(&e, "join namespace of container", s->ns_ctr[ns], errno);
				goto fail;
			}
		if (s->ns_new[NS_CGROUP] && unshare(CLONE_NEWCGROUP) < 0) {
			setup_fail(&e, "unshare", "cgroup namespace", errno);
			goto fail;
		}
		if (s->ns_new[NS_UTS] && s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0) {
			setup_fail(&e, "sethostname", s->hostname, errno);
			goto fail;
		}
		if (s->ns_new[NS_UTS] && s->domainname &&
		    setdomainname(s->domainname, strlen(s->domainname)) < 0) {
			setup_fail(&e, "setdomainname", s->domainname, errno);
			goto fail;
		}
		/* a new network namespace has lo down: up, as runc does, before anything runs */
		if (s->ns_new[NS_NET] && net_lo_up(&e) < 0)
			goto fail;
		if (s->ns_new[NS_MNT] || s->ns_path[NS_MNT]) {
			/* sysctl before the readonly paths (/proc/sys) are locked. */
			if (container_setup_rootfs(s, &e) < 0 || container_setup_dev(s, &e) < 0 ||
			    container_pivot(s, a->no_pivot, &e) < 0 || container_sysctl(s, &e) < 0 ||
			    container_finish_rootfs(s, &e) < 0)
				goto fail;
		} else if (chroot(s->root_path) < 0 || chdir("/") < 0) {
			setup_fail(&e, "chroot", s->root_path, errno);
			goto fail;
		} else if (container_sysctl(s, &e) < 0) {
			goto fail;
		}
	} else {
		/* exec: join the container; the mount namespace last (it changes / and cwd). Limits
		 * first: its user namespace could not raise them (runc sets them from outside). */
		if (a->nsfd[NS_USER] >= 0 && process_prepare(a->proc, &e) < 0)
			goto fail;
		static const int order[] = {NS_USER, NS_CGROUP, NS_IPC, NS_UTS, NS_NET, NS_MNT};
		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
			int ns = order[i];
			if (a->nsfd[ns] >= 0 && setns(a->nsfd[ns], ns_clone_flag(ns)) < 0) {
				setup_fail(&e, "join namespace", ns_name(ns), errno);
				goto fail;
			}
		}
	}
	if (process_prepare(a->proc, &e) < 0 || process_lookup(a->proc, path, sizeof(path), &e) < 0)
		goto fail;
	int master = -1;
	if (a->terminal && (master = child_pty(a, &e)) < 0)
		goto fail;
	if (a->s && (a->s->ns_new[NS_MNT] || a->s->ns_path[NS_MNT]) && container_dev_readonly(a->s, &e) < 0)
		goto fail;
	/* Created: tell the agent, then hold until start. */
	if (child_send_ready(a->sync, master) < 0)
		_exit(127);
	if (master >= 0)
		close(master);
	if (recv(a->sync, &c, 1, 0) != 1 || c != 'S')
		_exit(127);
	bool nnp = a->proc->no_new_privs;
	/* Without no_new_privs only CAP_SYS_ADMIN allows the filter: load it before dropping. */
	if (!nnp && process_seccomp(a->seccomp, &e) < 0)
		goto fail;
	/* cwd as root first (as runc): the user may not reach it; else again as the user below */
	bool cwd_done = chdir(a->proc->cwd) == 0;
	if (process_caps_bounding(a->proc, &e) < 0 || process_identity(a->proc, &e) < 0 ||
	    process_caps(a->proc, &e) < 0)
		goto fail;
	if (!cwd_done && chdir(a->proc->cwd) < 0) {
		setup_fail(&e, "chdir to cwd", a->proc->cwd, errno);
		goto fail;
	}
	if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		setup_fail(&e, "prctl", "PR_SET_NO_NEW_PRIVS", errno);
		goto fail;
	}
	if (nnp && process_seccomp(a->seccomp, &e) < 0)
		goto fail;
	execve(path, a->proc->args, a->proc->env);
	setup_fail(&e, "exec", path, errno);
fail:
	child_report(a->sync, &e);
	_exit(127);
}

/* ---- agent side ---- */
void proc_free(struct proc *p)
{
	oom_unwatch(p);
	for (int i = 0; i < PROTO_NSTREAMS; i++)
		stream_free(p->streams[i]);
	if (p->sync_fd >= 0)
		close(p->sync_fd);
	waiters_forget_proc(p);
	free(p);
}

int proc_setup_io(struct proc *p, const struct stdio_req *io, bool terminal, struct child_args *a, char *err,
		  size_t errlen)
{
	a->io[0] = a->io[1] = a->io[2] = -1;
	if (terminal) {
		/* The child opens the pty in the container's /dev/pts and sends us the master. */
		if (!stream_new(p, PROTO_TTY, -1))
			return ERR("out of memory");
		a->terminal = true;
		return 0;
	}
	for (int i = 0; i < 3; i++) {
		if (!io->want[i])
			continue;
		int fds[2];
		if (pipe2(fds, O_CLOEXEC) < 0)
			return ERR("pipe for %s: %s", proto_stream_name((enum proto_stream)i),
				   strerror(errno));
		int mine = i == 0 ? fds[1] : fds[0], theirs = i == 0 ? fds[0] : fds[1];
		fcntl(mine, F_SETPIPE_SZ, 1 << 20);
		set_nonblock(mine, true);
		if (!stream_new(p, i, mine)) {
			close(mine);
			close(theirs);
			return ERR("out of memory");
		}
		a->io[i] = theirs;
	}
	return 0;
}

void proc_close_child_io(struct child_args *a)
{
	for (int i = 0; i < 3; i++)
		if (a->io[i] >= 0)
			close(a->io[i]);
}

/* Where process PID is stuck, for an error: its state, kernel wait channel and system call. */
static void proc_where(pid_t pid, char *out, size_t len)
{
	char path[64], wchan[48] = "?", sys[32] = "?", st[256] = "";
	static const char *const files[] = {"wchan", "syscall", "stat"};
	char *dst[] = {wchan, sys, st};
	size_t cap[] = {sizeof(wchan), sizeof(sys), sizeof(st)};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, files[i]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, dst[i], cap[i] - 1);
		close(fd);
		if (n > 0)
			dst[i][n] = '\0';
		dst[i][strcspn(dst[i], "\n")] = '\0';
	}
	sys[strcspn(sys, " ")] = '\0'; /* the number; the rest is its arguments */
	const char *state = strrchr(st, ')');
	snprintf(out, len, "state %c, waiting in %s, system call %s",
		 state && state[1] && state[2] ? state[2] : '?', wchan[0] ? wchan : "-", sys);
}

int proc_wait_ready(struct proc *p, char *err, size_t errlen)
{
	struct setup_err e;
	struct pollfd pfd = {.fd = p->sync_fd, .events = POLLIN};
	int r = poll(&pfd, 1, SETUP_TIMEOUT_MS);
	if (r <= 0) {
		char where[192];
		proc_where(p->pid, where, sizeof(where));
		return ERR("container setup: no answer from process %d in %d ms (%s)", p->pid,
			   SETUP_TIMEOUT_MS, where);
	}
	int fd = -1;
	size_t nfd = 0;
	ssize_t n = io_recv_fds(p->sync_fd, &e, sizeof(e), &fd, 1, &nfd);
	if (n < 0 || nfd == 0)
		fd = -1;
	struct stream *tty = p->streams[PROTO_TTY];
	if (n == 1 && ((char *)&e)[0] == 'R' && (fd >= 0) == (tty != NULL)) {
		if (tty) {
			set_nonblock(fd, true);
			tty->pfd = fd;
		}
		return 0;
	}
	if (fd >= 0)
		close(fd);
	if (n == (ssize_t)sizeof(e)) {
		e.step[sizeof(e.step) - 1] = '\0';
		e.target[sizeof(e.target) - 1] = '\0';
		if (!e.err) /* a complete message (runc's words) */
			return ERR("%s", e.target);
		return ERR("%s %s: %s", e.step, e.target, strerror(e.err));
	}
	return ERR("container setup: process %d exited before it was ready", p->pid);
}

struct proc *proc_new(const char *id, char *err, size_t errlen)
{
	size_t n = 0;
	for (struct proc *q = g_procs; q; q = q->next)
		n++;
	if (n >= MAX_PROCS) {
		ERR("too many processes (%d)", MAX_PROCS);
		return NULL;
	}
	if (!id || !*id || strlen(id) > PROTO_MAX_ID) {
		ERR("process id missing or longer than %d bytes", PROTO_MAX_ID);
		return NULL;
	}
	if (proc_find(id)) {
		ERR("process %s already exists", id);
		return NULL;
	}
	struct proc *p = calloc(1, sizeof(*p));
	if (!p) {
		ERR("out of memory");
		return NULL;
	}
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->sync_fd = -1;
	p->oom_fd = -1;
	p->pid = -1;
	return p;
}

int proc_spawn(struct proc *p, struct child_args *a, int flags, char *err, size_t errlen)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return ERR("socketpair: %s", strerror(errno));
	a->sync = sv[1];
	size_t stack_sz = 256 * 1024;
	char *stack = malloc(stack_sz);
	if (!stack) {
		close(sv[0]);
		close(sv[1]);
		return ERR("out of memory");
	}
	pid_t pid = a->clone_in_userns ? userns_clone_in(a->nsfd[NS_USER], child_run, a, flags | SIGCHLD)
				       : clone(child_run, stack + stack_sz, flags | SIGCHLD, a);
	int e = errno;
	free(stack);
	close(sv[1]);
	proc_close_child_io(a);
	if (pid < 0) {
		close(sv[0]);
		return ERR("clone (namespaces 0x%x): %s", (unsigned)flags, strerror(e));
	}
	p->pid = pid;
	p->sync_fd = sv[0];
	return 0;
}

void proc_link(struct proc *p)
{
	p->next = g_procs;
	g_procs = p;
}

void unlink_proc(struct proc *p)
{
	for (struct proc **pp = &g_procs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			return;
		}
}

void proc_abandon(struct proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
	}
	proc_free(p);
}

int ns_open_of(pid_t pid, const char *name, int *fd)
{
	char a[64], b[64];
	struct stat sa, sb;
	*fd = -1;
	snprintf(a, sizeof(a), "/proc/%d/ns/%s", pid, name);
	snprintf(b, sizeof(b), "/proc/self/ns/%s", name);
	if (stat(a, &sa) < 0)
		return -1;
	if (stat(b, &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev)
		return 0; /* the same as ours: nothing to join */
	*fd = open(a, O_RDONLY | O_CLOEXEC);
	return *fd < 0 ? -1 : 0;
}

struct proc *proc_exec(struct container *ctr, const char *id, const char *process_json,
		       const struct stdio_req *io, char *err, size_t errlen)
{
	struct proc *init = ctr->init;
	if (!init || (init->state != PROC_RUNNING && init->state != PROC_CREATED)) {
		ERR("container not running");
		return NULL;
	}
	struct proc *p = proc_new(id, err, errlen);
	if (!p)
		return NULL;
	yajl_val tree = NULL;
	struct spec_process sp;
	if (spec_process_parse_json(process_json, &tree, &sp, err, errlen) < 0) {
		free(p);
		return NULL;
	}
	struct child_args a = {.proc = &sp, .seccomp = ctr->spec.seccomp};
	p->ctr = ctr;
	static const char *const names[NS_COUNT] = {"pid", "net",    "ipc",  "uts",
						    "mnt", "cgroup", "user", "time"};
	int pidns = -1, self_pidns = -1;
	for (int i = 0; i < NS_COUNT; i++)
		a.nsfd[i] = -1;
	for (int i = 0; i < NS_COUNT; i++) {
		if (i == NS_TIME)
			continue;
		int *dst = i == NS_PID ? &pidns : &a.nsfd[i];
		if (ns_open_of(init->pid, names[i], dst) < 0) {
			ERR("open namespace %s of process %d: %s", names[i], init->pid, strerror(errno));
			goto fail_ns;
		}
	}
	if (proc_setup_io(p, io, sp.terminal, &a, err, errlen) < 0) {
		proc_close_child_io(&a);
		goto fail_ns;
	}
	/* The new pid namespace applies to our next child only; restore ours right after. */
	if (pidns >= 0) {
		self_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
		if (self_pidns < 0 || setns(pidns, CLONE_NEWPID) < 0) {
			ERR("join pid namespace of process %d: %s", init->pid, strerror(errno));
			proc_close_child_io(&a);
			goto fail_ns;
		}
	}
	int r = proc_spawn(p, &a, 0, err, errlen);
	if (pidns >= 0 && setns(self_pidns, CLONE_NEWPID) < 0)
		log_errno(errno, "restore pid namespace");
	if (r < 0)
		goto fail_ns;
	snprintf(p->cgroup, sizeof(p->cgroup), "%s", init->cgroup);
	struct setup_err ce = {0};
	if (p->cgroup[0] && cgroup_enter(p->cgroup, p->pid, &ce) < 0) {
		ERR("%s %s: %s", ce.step, ce.target, strerror(ce.err));
		goto fail_ns;
	}
	if (proc_wait_ready(p, err, errlen) < 0 || streams_register(p) < 0)
		goto fail_ns;
	for (int i = 0; i < NS_COUNT; i++)
		if (a.nsfd[i] >= 0)
			close(a.nsfd[i]);
	if (pidns >= 0)
		close(pidns);
	if (self_pidns >= 0)
		close(self_pidns);
	p->state = PROC_CREATED;
	proc_link(p);
	r = proc_start(p, err, errlen);
	spec_process_free(&sp);
	yajl_tree_free(tree);
	if (r < 0) {
		unlink_proc(p);
		proc_abandon(p);
		return NULL;
	}
	return p;
fail_ns:
	for (int i = 0; i < NS_COUNT; i++)
		if (a.nsfd[i] >= 0)
			close(a.nsfd[i]);
	if (pidns >= 0)
		close(pidns);
	if (self_pidns >= 0)
		close(self_pidns);
	spec_process_free(&sp);
	yajl_tree_free(tree);
	proc_abandon(p);
	return NULL;
}

int proc_start(struct proc *p, char *err, size_t errlen)
{
	if (p->state != PROC_CREATED)
		return ERR("process %s is not in the created state", p->id);
	char c = 'S';
	if (send(p->sync_fd, &c, 1, MSG_NOSIGNAL) != 1)
		return ERR("start %s: process %d is gone", p->id, p->pid);
	p->state = PROC_RUNNING;
	/* The sync socket closes on a successful exec (CLOEXEC); a setup error arrives instead. */
	struct setup_err e;
	struct pollfd pfd = {.fd = p->sync_fd, .events = POLLIN};
	int r = poll(&pfd, 1, SETUP_TIMEOUT_MS);
	ssize_t n = r > 0 ? recv(p->sync_fd, &e, sizeof(e), 0) : -1;
	close(p->sync_fd);
	p->sync_fd = -1;
	if (n == (ssize_t)sizeof(e)) {
		e.step[sizeof(e.step) - 1] = '\0';
		e.target[sizeof(e.target) - 1] = '\0';
		if (!e.err) /* a complete message (runc's words) */
			return ERR("%s", e.target);
		return ERR("%s %s: %s", e.step, e.target, strerror(e.err));
	}
	if (n != 0)
		return ERR("start %s: no answer from process %d", p->id, p->pid);
	return 0;
}

/* Every process of the pid namespace of PID (other than PID itself, already gone). */
static void kill_pidns_of(ino_t ns_ino, int sig)
{
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 1 || pid == getpid())
			continue;
		char path[64];
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%ld/ns/pid", pid);
		if (stat(path, &st) == 0 && st.st_ino == ns_ino)
			kill((pid_t)pid, sig);
	}
	closedir(d);
}

static ino_t pidns_ino(pid_t pid)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

int proc_signal(struct proc *p, int sig, bool all)
{
	if (p->state == PROC_EXITED) {
		errno = ESRCH;
		return -1;
	}
	if (all) {
		ino_t ns = pidns_ino(p->pid), self = pidns_ino(getpid());
		if (ns && ns != self) {
			kill_pidns_of(ns, sig);
			return kill(p->pid, sig) < 0 && errno != ESRCH ? -1 : 0;
		}
		/* No pid namespace of its own: every process we started for the container. */
		for (struct proc *q = g_procs; q; q = q->next)
			if (q->ctr == p->ctr && q->state != PROC_EXITED)
				kill(q->pid, sig);
		return 0;
	}
	return kill(p->pid, sig);
}

void proc_kill_all(void)
{
	for (struct proc *q = g_procs; q; q = q->next)
		if (q->state != PROC_EXITED)
			kill(q->pid, SIGKILL);
	if (g_opts.pid1)
		kill(-1, SIGKILL);
}

bool proc_all_reported(void)
{
	for (struct proc *q = g_procs; q; q = q->next)
		if (!q->reported)
			return false;
	return true;
}
