/* SPDX-License-Identifier: Apache-2.0 */
/* runm run [-d] [--keep] ID: create + start; in the foreground forward signals to the shim,
 * wait for it, delete the container (unless --keep) and exit with its status. A process with
 * a terminal and no --console-socket gets the caller's terminal, as runc's (run_tty.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_util.h"
#include "log.h"
#include "run_tty.h"
#include "spec.h"

static volatile pid_t shim_pid;

static void forward(int sig)
{
	if (shim_pid > 0)
		kill(shim_pid, sig);
}

int cmd_run(int argc, char **argv)
{
	struct parsed p;
	struct create_opts o;
	if (PARSE_VERB("run", argc, argv, 1, 1, 0, &o, &p) < 0)
		return 1;
	bool detach = o.detach, keep = o.keep;
	const char *id = p.pos[0], *b = o.bundle;
	int rc = 1, console = -1, master = -1;
	struct console_rx rx = {.lsock = -1};
	struct termios saved;
	bool raw = false, fg_tty = false;
	struct spec sp;
	if (!detach && !o.console_socket && valid_id(id)) {
		if (spec_load(b ? b : ".", &sp) < 0)
			goto out;
		fg_tty = sp.terminal;
		spec_free(&sp);
	}
	if (fg_tty && ((console = host_console()) < 0 || console_listen(&rx) < 0))
		goto out;
	pid_t pid = create_container(id, &o, fg_tty ? rx.path : NULL);
	if (pid < 0)
		goto out;
	if (fg_tty) {
		master = console_receive(&rx);
		console_rx_close(&rx);
		if (master < 0) {
			delete_container(id, true);
			goto out;
		}
		/* the size before start (the shim forwards it then), raw before anything is typed */
		tty_copy_size(console, master);
		raw = tty_raw(console, &saved) == 0;
	}
	if (start_container(id) != 0) {
		delete_container(id, true);
		goto out;
	}
	if (detach) {
		rc = 0;
		goto out;
	}
	if (fg_tty) {
		rc = tty_relay_wait(master, console, pid);
		goto done;
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
done:
	if (raw) {
		tcsetattr(console, TCSANOW, &saved);
		raw = false;
	}
	if (!keep)
		delete_container(id, true);
out:
	if (raw)
		tcsetattr(console, TCSANOW, &saved);
	console_rx_close(&rx);
	if (master >= 0)
		close(master);
	if (console >= 0)
		close(console);
	parsed_free(&p);
	return rc;
}
