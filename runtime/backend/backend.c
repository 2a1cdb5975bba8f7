/* SPDX-License-Identifier: Apache-2.0 */
/* VMM backend: choices, process spawning, watching and teardown. */
#include "runtime/backend/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "runtime/backend/backend_plan.h"
#include "runtime/backend/jail.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* Names of each choice, indexed by its enum value (0 is AUTO in all three). */
static const char *const backend_names[] = {[VM_BACKEND_AUTO] = "auto",
					    [VM_BACKEND_RUNM_VMM] = "runm-vmm",
					    [VM_BACKEND_QEMU] = "qemu",
					    [VM_BACKEND_HOST_AGENT] = "host-agent"};
static const struct vm_backend_ops *const backend_ops[] = {[VM_BACKEND_RUNM_VMM] = &vm_backend_runm_vmm,
							   [VM_BACKEND_QEMU] = &vm_backend_qemu,
							   [VM_BACKEND_HOST_AGENT] = &vm_backend_host_agent};
static const char *const accel_names[] = {
    [VM_ACCEL_AUTO] = "auto", [VM_ACCEL_KVM] = "kvm", [VM_ACCEL_TCG] = "tcg"};
static const char *const machine_names[] = {
    [VM_MACHINE_AUTO] = "auto", [VM_MACHINE_PC] = "pc", [VM_MACHINE_MICROVM] = "microvm"};

#define N_NAMES(t) (sizeof(t) / sizeof((t)[0]))

/* names[v], or "auto" for a value outside the table. */
static const char *name_of(const char *const *names, size_t n, unsigned v)
{
	return v < n ? names[v] : names[0];
}

/* Index of `s` in names[0..n), or -EINVAL. */
static int index_of(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	return -EINVAL;
}

const char *vm_backend_name(enum vm_backend_kind k)
{
	return name_of(backend_names, N_NAMES(backend_names), (unsigned)k);
}

const char *vm_accel_name(enum vm_accel a)
{
	return name_of(accel_names, N_NAMES(accel_names), (unsigned)a);
}

const struct vm_backend_ops *vm_backend_ops_of(enum vm_backend_kind k)
{
	return (unsigned)k < N_NAMES(backend_ops) ? backend_ops[k] : NULL;
}

int vm_backend_parse(const char *s, enum vm_backend_kind *k)
{
	int i = index_of(backend_names, N_NAMES(backend_names), s);
	if (i < 0 || i == VM_BACKEND_HOST_AGENT) /* the test harness: chosen by its variable only */
		return -EINVAL;
	*k = (enum vm_backend_kind)i;
	return 0;
}

int vm_accel_parse(const char *s, enum vm_accel *a)
{
	int i = index_of(accel_names, N_NAMES(accel_names), s);
	if (i < 0)
		return i;
	*a = (enum vm_accel)i;
	return 0;
}

int vm_machine_parse(const char *s, enum vm_machine *m)
{
	int i = index_of(machine_names, N_NAMES(machine_names), s);
	if (i < 0)
		return i;
	*m = (enum vm_machine)i;
	return 0;
}

char *vm_sibling_path(const char *name)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *dir = dirname(self);
		char *p;
		if (asprintf(&p, "%s/%s", dir, name) >= 0) {
			if (access(p, X_OK) == 0)
				return p;
			free(p);
		}
	}
	return strdup(name);
}

int vm_add_cleanup(struct vm *v, const char *path)
{
	if (v->ncleanup >= sizeof(v->cleanup) / sizeof(v->cleanup[0]))
		return -ENOSPC;
	v->cleanup[v->ncleanup] = strdup(path);
	if (!v->cleanup[v->ncleanup])
		return -ENOMEM;
	v->ncleanup++;
	return 0;
}

int vm_fd_above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int e = errno;
	close(fd);
	return n < 0 ? -e : n;
}

/* What a child reports when it could not exec: errno and the step. */
struct spawn_err {
	int err;
	char stage[200];
};

static void child_fail(int fd, int err, const char *stage)
{
	struct spawn_err e = {.err = err};
	size_t n = strlen(stage);
	if (n >= sizeof(e.stage))
		n = sizeof(e.stage) - 1;
	memcpy(e.stage, stage, n);
	if (write(fd, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

/* The child: stdio, signals, the jail (if any), the fds to keep, exec. Never returns. */
static void child_run(struct vm *v, char *const argv[], int log_fd, const int *keep, unsigned nkeep,
		      unsigned flags, const struct jail *j, int ep, int sync_fd)
{
	if (sync_fd >= 0) {
		/* In a new pid namespace getppid() is 0: the parent's "go" (sent once it has put
		 * us in the VM's process group) or its death (EOF) tells. */
		char go = 0;
		ssize_t n;
		do
			n = read(sync_fd, &go, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1 || go != 'g')
			_exit(127);
		/* kept open (close-on-exec): the parent holds its end until we exec'd */
	} else {
		setpgid(0, v->pgid);
	}
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(log_fd, 2) < 0)
		child_fail(ep, errno, "stdio");
	/* Only 0..2 and the documented fds survive exec. */
	if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd < 65536; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (j && v->netns_fd1 && setns(v->netns_fd1 - 1, CLONE_NEWNET) < 0)
		child_fail(ep, errno, "enter the VM's network namespace");
	if (j) {
		const char *stage = "jail";
		int r = jail_enter(j, &stage);
		if (r < 0)
			child_fail(ep, -r, stage);
		/* A uid change clears the parent-death signal: set it again, and see whether the
		 * parent died meanwhile (its end of the sync pipe is then closed). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		struct pollfd pf = {.fd = sync_fd, .events = POLLIN};
		if (poll(&pf, 1, 0) != 0)
			_exit(127);
	} else if (flags & VM_SPAWN_NO_CAPS) {
		/* Root gets the bounding set on exec: empty it, and forbid regaining. */
		for (int cap = 0; cap <= 63; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
				child_fail(ep, errno, "drop the bounding set");
		prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			child_fail(ep, errno, "no_new_privs");
	}
	for (unsigned i = 0; i < nkeep; i++)
		fcntl(keep[i], F_SETFD, 0);
	if (j)
		execve(j->exe, argv, j->envp);
	else
		execvp(argv[0], argv);
	child_fail(ep, errno, "exec");
}

int vm_spawn(struct vm *v, const char *what, char *const argv[], int log_fd, const int *keep, unsigned nkeep,
	     unsigned flags, const struct jail *j)
{
	if (v->nproc >= VM_MAX_PROCS)
		return -ENOSPC;
	/* Exec failures come back through a close-on-exec pipe: EOF = exec'd. The sync pipe
	 * holds a jailed child until it is in the process group. */
	int ep[2] = {-1, -1}, sp[2] = {-1, -1}, e = 0;
	if (pipe2(ep, O_CLOEXEC) < 0 || (j && pipe2(sp, O_CLOEXEC) < 0))
		e = errno;
	for (int i = 0; i < 2 && !e; i++) {
		ep[i] = vm_fd_above_stdio(ep[i]);
		if (j)
			sp[i] = vm_fd_above_stdio(sp[i]);
		if (ep[i] < 0 || (j && sp[i] < 0))
			e = ep[i] < 0 ? -ep[i] : -sp[i];
	}
	if (e) {
		for (int i = 0; i < 2; i++) {
			if (ep[i] >= 0)
				close(ep[i]);
			if (sp[i] >= 0)
				close(sp[i]);
		}
		log_errno(e, "start %s: pipe", what);
		return -e;
	}
	pid_t parent = getpid();
	int pfd = -1;
	pid_t pid;
	if (j) {
		/* One empty network namespace per VM, made by its first process and joined by the
		 * others: creating one per process made 20 VMs at once 3x slower (net_mutex). */
		uint64_t fl = jail_clone_flags() | CLONE_PIDFD;
		if (v->netns_fd1)
			fl &= ~(uint64_t)CLONE_NEWNET;
		struct clone_args ca = {
		    .flags = fl, .pidfd = (uint64_t)(uintptr_t)&pfd, .exit_signal = SIGCHLD};
		pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	} else {
		pid = fork();
	}
	if (pid < 0) {
		e = errno;
		close(ep[0]);
		close(ep[1]);
		if (j) {
			close(sp[0]);
			close(sp[1]);
		}
		log_errno(e, "start %s: %s", what, j ? "clone3 into new namespaces" : "fork");
		return -e;
	}
	if (pid == 0) {
		/* Die with the caller, even if it is killed -9. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ep[0]);
		if (j)
			close(sp[1]);
		else if (getppid() != parent)
			_exit(127);
		child_run(v, argv, log_fd, keep, nkeep, flags, j, ep[1], j ? sp[0] : -1);
	}
	close(ep[1]);
	if (v->pgid == 0)
		v->pgid = pid;
	setpgid(pid, v->pgid); /* also from here: no race with the child */
	if (j) {
		close(sp[0]);
		if (write(sp[1], "g", 1) != 1)
			log_errno(errno, "start %s: release the child", what);
	}
	struct spawn_err ce = {0};
	ssize_t got;
	do
		got = read(ep[0], &ce, sizeof(ce));
	while (got < 0 && errno == EINTR);
	close(ep[0]);
	if (j)
		close(sp[1]);
	if (got == (ssize_t)sizeof(ce)) {
		if (!strcmp(ce.stage, "exec"))
			log_errno(ce.err, "start %s: exec %s", what, j ? j->exe : argv[0]);
		else
			log_errno(ce.err, "start %s: %s%s", what, j ? "jail: " : "", ce.stage);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (pfd >= 0)
			close(pfd);
		if (v->pgid == pid)
			v->pgid = 0;
		return -ce.err;
	}
	if (pfd < 0)
		pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0) {
		e = errno;
		log_errno(e, "start %s: pidfd_open %d", what, pid);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -e;
	}
	fcntl(pfd, F_SETFD, FD_CLOEXEC);
	if (j && !v->netns_fd1) {
		char ns[64];
		snprintf(ns, sizeof(ns), "/proc/%d/ns/net", pid);
		int nfd = vm_fd_above_stdio(open(ns, O_RDONLY | O_CLOEXEC));
		if (nfd >= 0)
			v->netns_fd1 = nfd + 1; /* else the next process makes its own */
	}
	struct vm_proc *np = &v->proc[v->nproc++];
	*np = (struct vm_proc){.pid = pid, .pidfd = pfd};
	snprintf(np->what, sizeof(np->what), "%s", what);
	return 0;
}

static void reap_all(struct vm *v)
{
	for (unsigned i = 0; i < v->nproc; i++) {
		struct vm_proc *p = &v->proc[i];
		if (p->reaped)
			continue;
		int st;
		while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
			;
		p->status = st;
		p->reaped = true;
		close(p->pidfd);
		p->pidfd = -1;
	}
}

static void log_tail(const struct vm *v)
{
	if (!v->log_path)
		return;
	FILE *f = fopen(v->log_path, "re");
	if (!f)
		return;
	char buf[4096];
	size_t n = 0;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1 : 0, SEEK_SET);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (char *save, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		log_error("vmm log: %s", l);
}

/* One process ended: the VM is over. Kill the rest, reap, clean up. */
static void end_vm(struct vm *v, unsigned first)
{
	if (v->pgid > 0)
		kill(-v->pgid, SIGKILL);
	for (unsigned i = 0; i < v->nproc; i++)
		if (!v->proc[i].reaped)
			kill(v->proc[i].pid, SIGKILL);
	reap_all(v);
	for (unsigned i = 0; i < v->ncleanup; i++)
		unlink(v->cleanup[i]);
	const struct vm_proc *p = &v->proc[first];
	int st = p->status;
	if (first == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		v->status = 0;
	} else if (v->stopping) {
		v->status = 1;
		log_debug("VM stopped: %s (pid %d) ended first", p->what, p->pid);
	} else {
		v->status = 1;
		if (WIFSIGNALED(st))
			log_error("VM ended: %s (pid %d) was killed by signal %d", p->what, p->pid,
				  WTERMSIG(st));
		else
			log_error("VM ended: %s (pid %d) exited with status %d", p->what, p->pid,
				  WEXITSTATUS(st));
		log_tail(v);
	}
	v->ended = true;
}

int vm_group_wait(struct vm *v, int timeout_ms, int *status)
{
	if (v->ended) {
		*status = v->status;
		return 1;
	}
	if (!v->nproc) { /* nothing was started (a start that failed early): nothing to wait for */
		v->ended = true;
		v->status = *status = 1;
		return 1;
	}
	struct pollfd pf[VM_MAX_PROCS];
	for (unsigned i = 0; i < v->nproc; i++)
		pf[i] = (struct pollfd){.fd = v->proc[i].pidfd, .events = POLLIN};
	int n;
	do
		n = poll(pf, v->nproc, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	/* Prefer the VMM's own status when several ended together. */
	unsigned first = v->nproc;
	for (unsigned i = 0; i < v->nproc; i++)
		if (pf[i].revents && first == v->nproc)
			first = i;
	struct vm_proc *p = &v->proc[first];
	int st;
	while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
		;
	p->status = st;
	p->reaped = true;
	close(p->pidfd);
	p->pidfd = -1;
	if (first != 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && !v->proc[0].reaped) {
		/* A device server leaves cleanly when the VMM disconnects: the VMM
		 * is on its way out, and its status is the VM's. */
		struct pollfd q = {.fd = v->proc[0].pidfd, .events = POLLIN};
		if (poll(&q, 1, 2000) == 1) {
			while (waitpid(v->proc[0].pid, &st, 0) < 0 && errno == EINTR)
				;
			v->proc[0].status = st;
			v->proc[0].reaped = true;
			close(v->proc[0].pidfd);
			v->proc[0].pidfd = -1;
			first = 0;
		}
	}
	/* The VMM's exit makes the device servers exit on their own (disconnect):
	 * give them a moment so their status is not a kill. */
	if (first == 0) {
		for (unsigned i = 1; i < v->nproc; i++) {
			struct pollfd q = {.fd = v->proc[i].pidfd, .events = POLLIN};
			if (!v->proc[i].reaped)
				poll(&q, 1, 200);
		}
	}
	end_vm(v, first);
	*status = v->status;
	return 1;
}

int vm_group_kill(struct vm *v, int sig)
{
	if (v->ended)
		return -ESRCH;
	if (v->pgid > 0 && kill(-v->pgid, sig) == 0)
		return 0;
	return -errno;
}

int vm_group_stop(struct vm *v, int grace_ms)
{
	int st;
	if (v->ended)
		return 0;
	v->stopping = true;
	if (grace_ms > 0) {
		/* The VMM first: device servers leave by themselves when it
		 * disconnects, and it does not see them vanish mid-teardown. */
		if (v->nproc && !v->proc[0].reaped)
			kill(v->proc[0].pid, SIGTERM);
		if (vm_group_wait(v, grace_ms, &st) == 1)
			return 0;
	}
	vm_group_kill(v, SIGKILL);
	return vm_group_wait(v, -1, &st) == 1 ? 0 : -EIO;
}

/* Through the backend's ops (a struct vm not started yet has none: the generic code). */
int vm_wait(struct vm *v, int timeout_ms, int *status)
{
	return v->ops ? v->ops->wait(v, timeout_ms, status) : vm_group_wait(v, timeout_ms, status);
}

int vm_kill(struct vm *v, int sig)
{
	return v->ops ? v->ops->kill(v, sig) : vm_group_kill(v, sig);
}

int vm_stop(struct vm *v, int grace_ms)
{
	return v->ops ? v->ops->stop(v, grace_ms) : vm_group_stop(v, grace_ms);
}

void vm_free(struct vm *v)
{
	if (!v)
		return;
	if (!v->ended)
		vm_stop(v, 0);
	for (unsigned i = 0; i < v->ncleanup; i++)
		free(v->cleanup[i]);
	if (v->netns_fd1)
		close(v->netns_fd1 - 1);
	free(v->log_path);
	free(v);
}

int vm_pids(const struct vm *v, pid_t *pids, int max)
{
	int n = 0;
	for (unsigned i = 0; i < v->nproc && n < max; i++)
		pids[n++] = v->proc[i].pid;
	return n;
}

int vm_pidfds(const struct vm *v, int *fds, int max)
{
	return v->ops ? v->ops->pidfds(v, fds, max) : vm_group_pidfds(v, fds, max);
}

int vm_group_pidfds(const struct vm *v, int *fds, int max)
{
	int n = 0;
	for (unsigned i = 0; i < v->nproc && n < max; i++)
		if (!v->proc[i].reaped)
			fds[n++] = v->proc[i].pidfd;
	return n;
}

enum vm_backend_kind vm_backend_of(const struct vm *v)
{
	return v->kind;
}

/* A VM's kernel, shares and NICs: 0, or -errno after logging what is wrong. */
static int check_vm_config(const struct vm_config *c)
{
	if (!c->kernel || (!c->vsock_uds && !c->run_dir)) {
		log_error("start VM: %s is required",
			  !c->kernel ? "a kernel" : "a vsock socket path or a run directory");
		return -EINVAL;
	}
	if (c->n_fs > VM_MAX_FS) {
		log_error("start VM: %u fs shares (at most %d)", c->n_fs, VM_MAX_FS);
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->n_fs; i++) {
		struct stat st;
		if (!c->fs[i].tag || !*c->fs[i].tag || !c->fs[i].dir || stat(c->fs[i].dir, &st) < 0 ||
		    !S_ISDIR(st.st_mode)) {
			log_error("start VM: fs share %s=%s: not a tag and a directory",
				  c->fs[i].tag ? c->fs[i].tag : "", c->fs[i].dir ? c->fs[i].dir : "");
			return -EINVAL;
		}
	}
	if (c->n_net > VM_MAX_NET) {
		log_error("start VM: %u NICs (at most %d)", c->n_net, VM_MAX_NET);
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->n_net; i++) {
		const struct vm_net *n = &c->net[i];
		if (n->tap_fd < 0 || fcntl(n->tap_fd, F_GETFD) < 0) {
			log_error("start VM: NIC %u: tap fd %d is not open", i, n->tap_fd);
			return -EBADF;
		}
		if (n->mtu && (n->mtu < 68 || n->mtu > 65535)) {
			log_error("start VM: NIC %u: MTU %u (68 to 65535, or 0 for none)", i, n->mtu);
			return -EINVAL;
		}
		if (n->mac[0] & 1) {
			log_error("start VM: NIC %u: %02x:%02x:%02x:%02x:%02x:%02x is a multicast address", i,
				  n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
			return -EINVAL;
		}
	}
	if (c->n_disk > VM_MAX_DISKS) {
		log_error("start VM: %u drives (at most %d)", c->n_disk, VM_MAX_DISKS);
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->n_disk; i++) {
		const struct vm_disk *d = &c->disk[i];
		const char *sn = d->serial ? d->serial : "";
		if (strlen(sn) > 20 || strchr(sn, ',') || (d->path && strchr(d->path, ','))) {
			log_error("start VM: drive %u: serial '%s' (at most 20 bytes) or path with a comma",
				  i, sn);
			return -EINVAL;
		}
		if (!d->path && (d->fd < 0 || fcntl(d->fd, F_GETFD) < 0)) {
			log_error("start VM: drive %u: image fd %d is not open", i, d->fd);
			return -EBADF;
		}
	}
	if (access(c->kernel, R_OK) < 0) {
		int e = errno;
		log_errno(e, "start VM: kernel %s", c->kernel);
		return -e;
	}
	if (c->initrd && access(c->initrd, R_OK) < 0) {
		int e = errno;
		log_errno(e, "start VM: initrd %s", c->initrd);
		return -e;
	}
	return 0;
}

/* C with AUTO decided (backend_plan.h) into *rc, the decision's reason logged. 0 or -errno. */
static int resolve_config(const struct vm_config *c, struct vm_config *rc)
{
	*rc = *c;
	if (c->backend != VM_BACKEND_AUTO && (c->accel != VM_ACCEL_AUTO || c->backend != VM_BACKEND_QEMU)) {
		if (c->reason)
			log_debug("backend: %s", c->reason);
		return 0;
	}
	struct backend_plan p;
	char err[BACKEND_REASON_MAX];
	if (backend_plan_host(c->backend, c->accel, &p, err, sizeof(err)) < 0) {
		log_error("start VM: %s", err);
		return -ENOENT;
	}
	log_debug("backend: %s", p.reason);
	rc->backend = p.vmm;
	rc->accel = p.accel;
	return 0;
}

/* run_dir/<the backend's log> (stderr of its processes) into v->log_path, opened. fd or -errno. */
static int open_log(struct vm *v, const struct vm_config *c)
{
	char *dup = strdup(c->vsock_uds ? c->vsock_uds : ".");
	const char *run_dir = c->run_dir ? c->run_dir : dup ? dirname(dup) : ".";
	int r = asprintf(&v->log_path, "%s/%s", run_dir, v->ops->log_name);
	free(dup);
	if (r < 0) {
		v->log_path = NULL;
		return -ENOMEM;
	}
	/* a VM's log is its own; the host agent's is appended to, as the agent's own logs are */
	int trunc = v->ops->boots_kernel ? O_TRUNC : 0;
	int fd = vm_fd_above_stdio(open(v->log_path, O_WRONLY | O_CREAT | trunc | O_CLOEXEC | O_APPEND,
					v->ops->boots_kernel ? 0600 : 0644));
	if (fd < 0) {
		int e = errno;
		log_errno(e, "start %s: create %s", v->ops->what, v->log_path);
		return -e;
	}
	return fd;
}

int vm_start(const struct vm_config *c, struct vm **out)
{
	struct vm_config rc;
	int r = resolve_config(c, &rc);
	const struct vm_backend_ops *ops = r < 0 ? NULL : vm_backend_ops_of(rc.backend);
	if (r == 0 && !ops) {
		log_error("start VM: no backend %d", (int)rc.backend);
		r = -EINVAL;
	}
	if (r == 0 && ops->boots_kernel)
		r = check_vm_config(&rc);
	if (r == 0 && !rc.vsock_uds && !rc.run_dir) {
		log_error("start %s: a vsock socket path or a run directory is required", ops->what);
		r = -EINVAL;
	}
	if (r < 0)
		return r;
	struct vm *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->kind = rc.backend;
	v->ops = ops;
	int log_fd = open_log(v, &rc);
	if (log_fd < 0) {
		vm_free(v);
		return log_fd;
	}
	r = ops->start(v, &rc, log_fd);
	close(log_fd);
	if (r < 0) {
		log_tail(v); /* what the VMM or a device server said */
		v->stopping = true;
		if (v->nproc) {
			vm_kill(v, SIGKILL);
			int st;
			vm_wait(v, -1, &st);
		}
		for (unsigned i = 0; i < v->ncleanup; i++)
			unlink(v->cleanup[i]);
		v->ended = true;
		vm_free(v);
		return r;
	}
	*out = v;
	return 0;
}

int vm_net_options(const struct vm_net *n, int fd, char *opts, size_t len, char mac[18])
{
	static const uint8_t zero[6];
	uint8_t m[6];
	memcpy(m, n->mac, sizeof(m));
	if (!memcmp(m, zero, sizeof(m))) {
		if (getrandom(m, sizeof(m), 0) != (ssize_t)sizeof(m))
			return -errno;
		m[0] = (uint8_t)((m[0] & 0xfe) | 0x02); /* locally administered unicast */
	}
	snprintf(mac, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	int w = n->mtu ? snprintf(opts, len, "tapfd=%d,mac=%s,mtu=%u", fd, mac, n->mtu)
		       : snprintf(opts, len, "tapfd=%d,mac=%s", fd, mac);
	return w < 0 || (size_t)w >= len ? -ENOSPC : 0;
}

int vm_net_dup(const struct vm_net *n)
{
	int fd = fcntl(n->tap_fd, F_DUPFD_CLOEXEC, 3);
	return fd < 0 ? -errno : fd;
}

int vm_disk_open(const struct vm_disk *d, unsigned i)
{
	int fd = d->path ? open(d->path, (d->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC)
			 : fcntl(d->fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		int e = errno;
		if (d->path)
			log_errno(e, "start VM: drive %u: open %s%s", i, d->path, d->ro ? " read-only" : "");
		else
			log_errno(e, "start VM: drive %u: duplicate image fd %d", i, d->fd);
		return -e;
	}
	return vm_fd_above_stdio(fd);
}

int vm_disk_options(const struct vm_disk *d, int fd, char *opts, size_t len)
{
	int w = snprintf(opts, len, "fd=%d%s%s%s", fd, d->ro ? ",ro=on" : "", d->serial ? ",id=" : "",
			 d->serial ? d->serial : "");
	return w < 0 || (size_t)w >= len ? -ENOSPC : 0;
}
