/* SPDX-License-Identifier: Apache-2.0 */
/* runm run [-d] [--keep] ID: create + start; in the foreground forward signals to the shim,
 * wait for it, delete the container (unless --keep) and exit with its status. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_util.h"
#include "log.h"

pid_t create_container(const char *id, struct parsed *p);
static volatile pid_t shim_pid;

static void forward(int sig)
{
	if (shim_pid > 0)
		kill(shim_pid, sig);
}

int cmd_run(int argc, char **argv)
{
	struct parsed p;
	if (parse_verb("run", argc, argv, 1, 1, 0, &p) < 0)
		return 1;
	const struct optdef *o = find_verb("run")->opts;
	bool detach = optset(o, &p, "detach"), keep = optset(o, &p, "keep");
	const char *id = p.pos[0];
	pid_t pid = create_container(id, &p);
	int rc = 1;
	if (pid < 0)
		goto out;
	if (start_container(id) != 0) {
		delete_container(id, true);
		goto out;
	}
	if (detach) {
		rc = 0;
		goto out;
	}
	shim_pid = pid;
	struct sigaction sa = {.sa_handler = forward};
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < 32; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD && sig != SIGSEGV && sig != SIGBUS &&
		    sig != SIGFPE && sig != SIGILL && sig != SIGTRAP && sig != SIGPIPE && sig != SIGTTOU &&
		    sig != SIGTTIN && sig != SIGTSTP)
			sigaction(sig, &sa, NULL);
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			log_errno(errno, "wait for the shim of %s", id);
			goto out;
		}
	}
	rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (!keep)
		delete_container(id, true);
out:
	parsed_free(&p);
	return rc;
}
