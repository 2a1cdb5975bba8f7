/* SPDX-License-Identifier: Apache-2.0 */
#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"

static int host_mntns = -1;

void hooks_set_host_mntns(int fd)
{
	host_mntns = fd;
}

static int run_one(const struct hook *h, const char *kind, const char *state_json)
{
	int in[2];
	if (pipe2(in, O_CLOEXEC) < 0) {
		log_errno(errno, "%s hook %s: pipe", kind, h->path);
		return -1;
	}
	const char *defargv[] = {h->path, NULL};
	const char *empty[] = {NULL};
	pid_t pid = fork();
	if (pid < 0) {
		log_errno(errno, "%s hook %s: fork", kind, h->path);
		close(in[0]);
		close(in[1]);
		return -1;
	}
	if (pid == 0) {
		/* hooks are the runtime's: the host's files, whatever view the shim has */
		if (host_mntns >= 0 && setns(host_mntns, CLONE_NEWNS) < 0) {
			dprintf(STDERR_FILENO, "%s: %s hook %s: enter the host's mount namespace: %s\n",
				log_prog(), kind, h->path, strerror(errno));
			_exit(127);
		}
		dup2(in[0], STDIN_FILENO);
		int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
		/* hooks' stdout must not end up in the container's stdout */
		if (nul >= 0)
			dup2(nul, STDOUT_FILENO);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(h->path, (char *const *)(h->args && h->args[0] ? h->args : defargv),
		       (char *const *)(h->env ? h->env : empty));
		dprintf(STDERR_FILENO, "%s: %s hook %s: exec: %s\n", log_prog(), kind, h->path,
			strerror(errno));
		_exit(127);
	}
	close(in[0]);
	/* the hook may not read its stdin: never block on it */
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	size_t len = strlen(state_json), off = 0;
	long long deadline = h->timeout ? io_now_ms() + h->timeout * 1000LL : 0;
	int status = 0;
	for (;;) {
		if (off < len) {
			ssize_t n = write(in[1], state_json + off, len - off);
			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				off = len;
			if (off >= len) {
				close(in[1]);
				in[1] = -1;
			}
		}
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (deadline && io_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			if (in[1] >= 0)
				close(in[1]);
			log_error("%s hook %s: timeout after %d seconds", kind, h->path, h->timeout);
			return -1;
		}
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (in[1] >= 0)
		close(in[1]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		log_error("%s hook %s: exit status %d", kind, h->path, WEXITSTATUS(status));
	else
		log_error("%s hook %s: killed by signal %d", kind, h->path, WTERMSIG(status));
	return -1;
}

int run_hooks(const struct spec *s, enum hook_kind kind, const char *state_json, bool stop_on_error)
{
	int rc = 0;
	for (int i = 0; i < s->nhooks[kind]; i++) {
		if (run_one(&s->hooks[kind][i], HOOK_NAMES[kind], state_json) < 0) {
			rc = -1;
			if (stop_on_error)
				return -1;
		}
	}
	return rc;
}
