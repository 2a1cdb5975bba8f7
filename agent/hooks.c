/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Op "hooks": the OCI createContainer and startContainer hooks, run in the container as the
 * runtime-spec says: in the namespaces of the container's init (pid, net, ipc, uts, cgroup,
 * mount; not its user namespace), its cgroup, with its root as / and cwd /, as root with the
 * agent's capabilities.  The hook path is a path inside the container.  The state JSON is on
 * stdin, the timeout is enforced with SIGKILL, and the first failure fails the op with the
 * hook's output (as runc: "error running hook #0: exit status 3, stdout: …, stderr: …").
 */
#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base.h"
#include "cgroups.h"
#include "io.h"
#include "log.h"
#include "proc.h"
#include "proto/proto_hooks.h"

#define ERR(...)	agent_errf(err, errlen, __VA_ARGS__)
#define HOOK_OUTPUT_MAX 384 /* bytes of stdout and of stderr kept for the error */

/* Namespaces joined in the child, the mount namespace last (it changes / and cwd). */
static const int join_order[] = {NS_CGROUP, NS_IPC, NS_UTS, NS_NET, NS_MNT};

struct hook_target {
	pid_t pid;
	const char *cgroup;
	int nsfd[NS_COUNT];
	int pidns, rootfd;
};

static void child_fail(const char *step, const char *what, int e)
{
	dprintf(STDERR_FILENO, "%s %s: %s", step, what, strerror(e));
	_exit(127);
}

static void hook_child(const struct hook_target *t, const struct proto_hook *h, int in, int out, int errfd)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(errfd, STDERR_FILENO) < 0)
		_exit(127);
	struct setup_err e = {0};
	/* the cgroup first, so that the cgroup namespace we join next is rooted where we are */
	if (t->cgroup[0] && cgroup_enter(t->cgroup, 0, &e) < 0)
		child_fail(e.step, e.target, e.err);
	for (size_t i = 0; i < sizeof(join_order) / sizeof(join_order[0]); i++) {
		int ns = join_order[i];
		if (t->nsfd[ns] >= 0 && setns(t->nsfd[ns], ns_clone_flag(ns)) < 0)
			child_fail("join namespace", ns_name(ns), errno);
	}
	/* the init's root (a pivot_root or, in host test mode, a chroot), opened before setns */
	if (fchdir(t->rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0)
		child_fail("enter the container's root", "", errno);
	const char *defargv[] = {h->path, NULL}, *empty[] = {NULL};
	execve(h->path, (char *const *)(h->args && h->args[0] ? h->args : defargv),
	       (char *const *)(h->env ? h->env : empty));
	child_fail("exec", h->path, errno);
}

struct capture {
	int fd;
	char buf[HOOK_OUTPUT_MAX];
	size_t len;
};

static void capture_read(struct capture *c)
{
	char tmp[4096];
	for (;;) {
		ssize_t n = read(c->fd, tmp, sizeof(tmp));
		if (n <= 0) {
			if (n == 0 || (errno != EINTR)) {
				if (n == 0) {
					close(c->fd);
					c->fd = -1;
				}
				return;
			}
			continue;
		}
		size_t k = (size_t)n;
		if (k > sizeof(c->buf) - 1 - c->len)
			k = sizeof(c->buf) - 1 - c->len;
		memcpy(c->buf + c->len, tmp, k);
		c->len += k;
		c->buf[c->len] = '\0';
	}
}

/* Trailing line breaks off, the rest kept as the hook wrote it. */
static const char *trimmed(struct capture *c)
{
	while (c->len && (c->buf[c->len - 1] == '\n' || c->buf[c->len - 1] == '\r'))
		c->buf[--c->len] = '\0';
	return c->buf;
}

/* The parent side: feed STATE, collect output, wait for PID with the hook's timeout. */
static int supervise(pid_t pid, const struct proto_hook *h, int in, struct capture *out, struct capture *er,
		     const char *state, char *why, size_t whylen)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	size_t len = strlen(state), off = 0;
	long long deadline = h->timeout > 0 ? io_now_ms() + h->timeout * 1000LL : 0;
	bool exited = false;
	why[0] = '\0';
	while (!exited) {
		struct pollfd p[4];
		int n = 0, iw = -1, ip = -1;
		if (in >= 0) {
			iw = n;
			p[n++] = (struct pollfd){.fd = in, .events = POLLOUT};
		}
		int io = n;
		p[n++] = (struct pollfd){.fd = out->fd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = er->fd, .events = POLLIN};
		if (pidfd >= 0) {
			ip = n;
			p[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		}
		int timeout = pidfd >= 0 ? -1 : 10;
		if (deadline) {
			long long left = deadline - io_now_ms();
			if (left < 0)
				left = 0;
			if (timeout < 0 || left < timeout)
				timeout = (int)left;
		}
		int r = poll(p, (nfds_t)n, timeout);
		if (r < 0 && errno != EINTR) {
			snprintf(why, whylen, "poll: %s", strerror(errno));
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			break;
		}
		if (iw >= 0 && p[iw].revents) {
			ssize_t w = write(in, state + off, len - off);
			if (w > 0)
				off += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || off >= len) {
				close(in); /* EOF on the hook's stdin; a hook that does not read it gets EPIPE
					    */
				in = -1;
			}
		}
		if (p[io].revents)
			capture_read(out);
		if (p[io + 1].revents)
			capture_read(er);
		int st;
		if ((ip >= 0 && p[ip].revents) || pidfd < 0) {
			pid_t w = waitpid(pid, &st, WNOHANG);
			if (w == pid) {
				exited = true;
				capture_read(out);
				capture_read(er);
				if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
					why[0] = '\0';
				else if (WIFEXITED(st))
					snprintf(why, whylen, "exit status %d", WEXITSTATUS(st));
				else
					snprintf(why, whylen, "signal: %s", strsignal(WTERMSIG(st)));
			}
		}
		if (!exited && deadline && io_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			exited = true;
			snprintf(why, whylen, "hook ran past specified timeout of %d.0s", h->timeout);
		}
	}
	if (in >= 0)
		close(in);
	if (pidfd >= 0)
		close(pidfd);
	return why[0] ? -1 : 0;
}

static int run_one(struct hook_target *t, const struct proto_hook *h, size_t idx, const char *kind,
		   const char *state, char *err, size_t errlen)
{
	int pin[2], pout[2], perr[2];
	if (pipe2(pin, O_CLOEXEC) < 0)
		return ERR("error running %s hook #%zu: pipe: %s", kind, idx, strerror(errno));
	if (pipe2(pout, O_CLOEXEC) < 0) {
		close(pin[0]);
		close(pin[1]);
		return ERR("error running %s hook #%zu: pipe: %s", kind, idx, strerror(errno));
	}
	if (pipe2(perr, O_CLOEXEC) < 0) {
		close(pin[0]);
		close(pin[1]);
		close(pout[0]);
		close(pout[1]);
		return ERR("error running %s hook #%zu: pipe: %s", kind, idx, strerror(errno));
	}
	int self_pidns = -1;
	/* the init's pid namespace applies to our next child only; ours is restored below */
	if (t->pidns >= 0 && ((self_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC)) < 0 ||
			      setns(t->pidns, CLONE_NEWPID) < 0)) {
		ERR("error running %s hook #%zu: join pid namespace of process %d: %s", kind, idx, t->pid,
		    strerror(errno));
		goto fail;
	}
	pid_t pid = fork();
	if (pid == 0)
		hook_child(t, h, pin[0], pout[1], perr[1]);
	int fe = errno;
	if (self_pidns >= 0 && setns(self_pidns, CLONE_NEWPID) < 0)
		log_errno(errno, "restore pid namespace");
	if (pid < 0) {
		ERR("error running %s hook #%zu: fork: %s", kind, idx, strerror(fe));
		goto fail;
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	if (self_pidns >= 0)
		close(self_pidns);
	fcntl(pin[1], F_SETFL, O_NONBLOCK);
	fcntl(pout[0], F_SETFL, O_NONBLOCK);
	fcntl(perr[0], F_SETFL, O_NONBLOCK);
	struct capture out = {.fd = pout[0]}, er = {.fd = perr[0]};
	char why[128];
	int r = supervise(pid, h, pin[1], &out, &er, state, why, sizeof(why));
	if (r < 0)
		ERR("error running %s hook #%zu (%s): %s, stdout: %s, stderr: %s", kind, idx, h->path, why,
		    trimmed(&out), trimmed(&er));
	if (out.fd >= 0)
		close(out.fd);
	if (er.fd >= 0)
		close(er.fd);
	return r;
fail:
	if (self_pidns >= 0)
		close(self_pidns);
	close(pin[0]);
	close(pin[1]);
	close(pout[0]);
	close(pout[1]);
	close(perr[0]);
	close(perr[1]);
	return -1;
}

/* createContainer hooks may change the rootfs: runc runs them before it remounts a readonly
 * root.  MAKE_RW: remount the container's / writable if it is read-only (*changed = true);
 * else make it read-only again.  In a child that joins the container's mount namespace. */
static int root_remount(const struct hook_target *t, bool make_rw, bool *changed, char *err, size_t errlen)
{
	pid_t pid = fork();
	if (pid < 0)
		return ERR("remount the container's root: fork: %s", strerror(errno));
	if (pid == 0) {
		struct statvfs sv;
		if ((t->nsfd[NS_MNT] >= 0 && setns(t->nsfd[NS_MNT], CLONE_NEWNS) < 0) ||
		    fchdir(t->rootfd) < 0 || chroot(".") < 0 || statvfs("/", &sv) < 0)
			_exit(2);
		if (make_rw && !(sv.f_flag & ST_RDONLY))
			_exit(0);
		unsigned long fl = MS_BIND | MS_REMOUNT | (make_rw ? 0 : MS_RDONLY);
		_exit(mount(NULL, "/", NULL, fl, NULL) < 0 ? 2 : make_rw);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) > 1)
		return ERR("remount the container's root %s: failed", make_rw ? "writable" : "read-only");
	*changed = WEXITSTATUS(st) == 1;
	return 0;
}

int hooks_run(const struct proc *init, const char *kind, const struct proto_hook *h, size_t n,
	      const char *state, char *err, size_t errlen)
{
	if (init->state != PROC_CREATED && init->state != PROC_RUNNING)
		return ERR("container not running");
	static const char *const names[NS_COUNT] = {"pid", "net",    "ipc",  "uts",
						    "mnt", "cgroup", "user", "time"};
	struct hook_target t = {.pid = init->pid, .cgroup = init->cgroup, .pidns = -1, .rootfd = -1};
	for (int i = 0; i < NS_COUNT; i++)
		t.nsfd[i] = -1;
	int rc = -1;
	char root[64];
	snprintf(root, sizeof(root), "/proc/%d/root", (int)init->pid);
	t.rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (t.rootfd < 0) {
		ERR("open %s: %s", root, strerror(errno));
		goto out;
	}
	for (int i = 0; i < NS_COUNT; i++) {
		if (i == NS_USER || i == NS_TIME)
			continue;
		if (ns_open_of(init->pid, names[i], i == NS_PID ? &t.pidns : &t.nsfd[i]) < 0) {
			ERR("open namespace %s of process %d: %s", names[i], (int)init->pid, strerror(errno));
			goto out;
		}
	}
	bool made_rw = false;
	if (!strcmp(kind, "createContainer") && root_remount(&t, true, &made_rw, err, errlen) < 0)
		goto out;
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = run_one(&t, &h[i], i, kind, state, err, errlen);
	bool unused;
	if (made_rw && root_remount(&t, false, &unused, rc ? NULL : err, rc ? 0 : errlen) < 0)
		rc = -1;
out:
	for (int i = 0; i < NS_COUNT; i++)
		if (t.nsfd[i] >= 0)
			close(t.nsfd[i]);
	if (t.pidns >= 0)
		close(t.pidns);
	if (t.rootfd >= 0)
		close(t.rootfd);
	return rc;
}
