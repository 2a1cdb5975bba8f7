/* SPDX-License-Identifier: Apache-2.0 */
/* The caller's terminal for a foreground `runm run` of a process with a terminal, as runc:
 * runm is its own console socket's receiver, puts the caller's terminal in raw mode, relays
 * the pty master with stdin/stdout (relay.c), copies the window size at start and on SIGWINCH,
 * forwards other signals to the shim and restores the terminal when the shim has exited. */
#include "run_tty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "relay.h"

int host_console(void)
{
	/* runc's order: usually all three are the terminal, but some may be redirected */
	const int fds[] = {STDERR_FILENO, STDOUT_FILENO, STDIN_FILENO};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (isatty(fds[i]))
			return fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
	/* all redirected, but maybe there is still a controlling terminal */
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		log_errno(errno, "open /dev/tty");
	return fd;
}

int console_listen(struct console_rx *rx)
{
	const char *tmp = getenv("TMPDIR");
	rx->lsock = -1;
	rx->path[0] = '\0';
	snprintf(rx->dir, sizeof(rx->dir), "%s/runm-console-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(rx->dir)) {
		log_errno(errno, "create a directory for the console socket (%s)", rx->dir);
		rx->dir[0] = '\0';
		return -1;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if ((size_t)snprintf(rx->path, sizeof(rx->path), "%s/console.sock", rx->dir) >= sizeof(sa.sun_path)) {
		log_error("console socket %s/console.sock: path too long (TMPDIR)", rx->dir);
		console_rx_close(rx);
		return -1;
	}
	strcpy(sa.sun_path, rx->path);
	rx->lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (rx->lsock < 0 || bind(rx->lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(rx->lsock, 1) < 0) {
		log_errno(errno, "listen on console socket %s", rx->path);
		console_rx_close(rx);
		return -1;
	}
	return 0;
}

/* The shim connected and sent the master before it reported the container created: the
 * connection and its fd wait in the backlog. */
int console_receive(struct console_rx *rx)
{
	struct pollfd pf = {.fd = rx->lsock, .events = POLLIN};
	if (poll(&pf, 1, 0) <= 0) {
		log_error("console socket %s: the shim sent no pty master", rx->path);
		return -1;
	}
	int c = accept4(rx->lsock, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0) {
		log_errno(errno, "accept on console socket %s", rx->path);
		return -1;
	}
	char payload[64];
	int fd = -1;
	size_t nfds = 0;
	ssize_t n = io_recv_fds(c, payload, sizeof(payload), &fd, 1, &nfds);
	close(c);
	if (n <= 0 || nfds != 1) {
		if (nfds == 1)
			close(fd);
		log_errno(n < 0 ? (int)-n : EPROTO, "receive the pty master on console socket %s", rx->path);
		return -1;
	}
	return fd;
}

void console_rx_close(struct console_rx *rx)
{
	if (rx->lsock >= 0)
		close(rx->lsock);
	rx->lsock = -1;
	if (rx->path[0])
		unlink(rx->path);
	if (rx->dir[0])
		rmdir(rx->dir);
	rx->path[0] = rx->dir[0] = '\0';
}

void tty_copy_size(int from, int to)
{
	struct winsize ws;
	if (ioctl(from, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		ioctl(to, TIOCSWINSZ, &ws);
}

int tty_raw(int fd, struct termios *saved)
{
	if (tcgetattr(fd, saved) < 0)
		return -1;
	struct termios t = *saved;
	cfmakeraw(&t); /* the container's pty does the line discipline */
	return tcsetattr(fd, TCSANOW, &t);
}

static int status_of(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int tty_relay_wait(int master, int console, pid_t shim)
{
	sigset_t set, old;
	sigemptyset(&set);
	for (int sig = 1; sig < 32; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE &&
		    sig != SIGILL && sig != SIGTRAP && sig != SIGPIPE)
			sigaddset(&set, sig);
	sigprocmask(SIG_BLOCK, &set, &old);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	struct relays *rs = calloc(1, sizeof(*rs));
	int rc = 255, st;
	bool exited = false;
	if (sfd < 0 || !rs) {
		log_errno(errno, "relay the terminal");
		goto wait;
	}
	/* owner 1: the input, dropped when the shim is gone; owner 0: the output, drained */
	relay_add(rs, STDIN_FILENO, master, 1, false, false);
	int k = relay_add(rs, master, STDOUT_FILENO, 0, false, false);
	if (k >= 0)
		rs->r[k].output = true;
	for (;;) {
		struct pollfd pfd[RELAY_MAX_POLLFDS + 1];
		int idx[RELAY_MAX_POLLFDS];
		pfd[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
		int nr = relay_pollfds(rs, pfd + 1, idx, RELAY_MAX_POLLFDS);
		/* once the shim is gone only its output is left: until the master says EIO */
		if (exited && relay_count(rs, 0) == 0)
			break;
		if (poll(pfd, (nfds_t)nr + 1, exited ? 1000 : -1) == 0)
			break; /* another holder of the slave kept it open: do not wait for it */
		for (int i = 0; i < nr; i++)
			if (pfd[1 + i].revents)
				relay_pump(rs, idx[i]);
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGWINCH)
				tty_copy_size(console, master);
			else if (si.ssi_signo != SIGCHLD && !exited)
				kill(shim, (int)si.ssi_signo);
		}
		if (!exited && waitpid(shim, &st, WNOHANG) == shim) {
			exited = true;
			rc = status_of(st);
			/* nothing more to type into a container that ended */
			relay_close_owner(rs, 1);
		}
	}
wait:
	if (!exited) {
		while (waitpid(shim, &st, 0) < 0 && errno == EINTR)
			;
		rc = status_of(st);
	}
	if (rs) {
		relay_close_owner(rs, 0);
		relay_close_owner(rs, 1);
	}
	free(rs);
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}
