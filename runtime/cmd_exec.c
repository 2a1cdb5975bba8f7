/* SPDX-License-Identifier: Apache-2.0 */
/* runm exec [options] ID [COMMAND ARGS…] | --process F: run a process in the container.
 * Foreground: this process is the host side (stdio, signals, exit status); setup failure
 * exits 255. --detach: a small exec shim (our child, pid in --pid-file) stays behind. */
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
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cmd_util.h"
#include "ctl.h"
#include "exec_process.h"
#include "io.h"
#include "log.h"
#include "proto/proto.h"
#include "shim.h"
#include "spec.h"

struct exec_opts {
	const char *console_socket, *cwd, *user, *process, *pid_file, *process_label, *apparmor,
	    *preserve_fds;
	struct optlist env, gids, caps;
	bool tty, detach, no_new_privs;
};

#define X_(kind, m, name, s, help) OPT_##kind(struct exec_opts, m, name, s, help)
const struct optdef exec_opts[] = {
    X_(VALUE, console_socket, "console-socket", 0, "AF_UNIX socket that receives the pty master"),
    X_(VALUE, cwd, "cwd", 0, "working directory"),
    X_(LIST, env, "env", 'e', "set an environment variable"),
    X_(FLAG, tty, "tty", 't', "allocate a pseudo-TTY"),
    X_(VALUE, user, "user", 'u', "UID[:GID]"),
    X_(LIST, gids, "additional-gids", 'g', "additional gids"),
    X_(VALUE, process, "process", 'p', "path to process.json"),
    X_(FLAG, detach, "detach", 'd', "detach from the process"),
    X_(VALUE, pid_file, "pid-file", 0, "file to write the exec shim's pid to"),
    X_(VALUE, process_label, "process-label", 0, "accepted"),
    X_(VALUE, apparmor, "apparmor", 0, "accepted"),
    X_(FLAG, no_new_privs, "no-new-privs", 0, "set no_new_privs"),
    X_(LIST, caps, "cap", 'c', "add a capability"),
    X_(VALUE, preserve_fds, "preserve-fds", 0, "pass N additional fds (must be 0)"),
    OPT_NOOP("cgroup", true, "accepted"),
    OPT_NOOP("ignore-paused", false, "accepted"),
    OPT_END,
};
#undef X_

/* The container's process object with the flags' changes (exec_process.c), as runc. */
static char *build_process(const struct cstate *st, const struct exec_opts *o, struct parsed *p, bool tty,
			   bool console_socket)
{
	struct spec sp;
	bool have = spec_load(st->bundle, &sp) == 0;
	struct exec_overrides x = {
	    .args = p->pos + 1,
	    .nargs = p->npos - 1,
	    .tty = tty,
	    .env = o->env.v,
	    .nenv = o->env.n,
	    .cwd = o->cwd,
	    .user = o->user,
	    .gids = o->gids.v,
	    .ngids = o->gids.n,
	    .caps = o->caps.v,
	    .ncaps = o->caps.n,
	    .no_new_privs = o->no_new_privs,
	    .apparmor = o->apparmor,
	    .label = o->process_label,
	};
	struct winsize ws;
	/* the pty starts with the caller's size (a console socket's engine sends its own) */
	if (tty && !console_socket && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
		x.rows = ws.ws_row;
		x.cols = ws.ws_col;
	}
	char *out = exec_process_json(have ? json_get(sp.root, "process", yajl_t_object) : NULL, &x);
	if (have)
		spec_free(&sp);
	return out;
}

/* Ask the shim to resize the process's terminal to WINFD's size; errors are ignored. */
static void send_winsize(const char *dir, const char *exec_id, int winfd)
{
	struct winsize ws;
	struct ctl_reply rep;
	char err[256];
	if (winfd < 0 || ioctl(winfd, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col)
		return;
	struct ctl_req q = {.op = CTL_OP_RESIZE,
			    .resize = {.process = exec_id, .rows = ws.ws_row, .cols = ws.ws_col}};
	if (ctl_call(dir, &q, NULL, 0, CTL_CALL_TIMEOUT_MS, &rep, NULL, err, sizeof(err)) == 0)
		ctl_reply_free(&rep);
}

/* SIG to the exec'd process; errors are ignored. */
static void send_signal(const char *dir, const char *exec_id, int sig)
{
	struct ctl_reply rep;
	char err[256];
	struct ctl_req q = {.op = CTL_OP_KILL, .kill = {.process = exec_id, .signal = sig}};
	if (ctl_call(dir, &q, NULL, 0, CTL_CALL_TIMEOUT_MS, &rep, NULL, err, sizeof(err)) == 0)
		ctl_reply_free(&rep);
}

/* Wait for the exit reply on CONN, forwarding our signals (and window size) to the process. */
static int wait_exec(const char *dir, const char *exec_id, int conn, int winfd)
{
	sigset_t set;
	sigemptyset(&set);
	for (int sig = 1; sig < 32; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD && sig != SIGPIPE && sig != SIGSEGV &&
		    sig != SIGBUS && sig != SIGFPE && sig != SIGILL && sig != SIGTRAP)
			sigaddset(&set, sig);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	/* the size now: the process may have started before our first SIGWINCH */
	send_winsize(dir, exec_id, winfd);
	for (;;) {
		struct pollfd pf[2] = {{.fd = conn, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			return 255;
		if (pf[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGWINCH)
					send_winsize(dir, exec_id, winfd);
				else
					send_signal(dir, exec_id, (int)si.ssi_signo);
			}
		}
		if (pf[0].revents) {
			struct ctl_reply rep;
			char err[256];
			int r = ctl_read_reply(conn, &rep, err, sizeof(err));
			if (r < 0) {
				log_error("exec %s: lost the container's shim%s%s", exec_id,
					  r == -EBADMSG ? ": " : "", r == -EBADMSG ? err : "");
				return 255;
			}
			int code = rep.has_exit ? rep.exit & 0xff : 255;
			if (rep.error)
				log_error("%s", rep.error);
			ctl_reply_free(&rep);
			return code;
		}
	}
}

/* The exec failed after the process started (as runc: it is terminated). */
static void kill_exec(const char *dir, const char *exec_id)
{
	send_signal(dir, exec_id, SIGKILL);
}

/* Send the exec request with the process's stdio FDS; the connection waiting for its exit in
 * *CONN. PROCF names the --process file (for the error over the size limit). */
static int start_exec(const char *dir, const struct ctl_req *q, const int *fds, int nfds, const char *procf,
		      int *conn)
{
	struct ctl_reply rep;
	char err[512];
	int r = ctl_call(dir, q, fds, nfds, 0, &rep, conn, err, sizeof(err));
	if (r == -ENOENT || r == -ECONNREFUSED)
		log_error("container not running");
	else if (r == -EMSGSIZE)
		log_error("exec: the process%s%s: %s", procf ? " from --process " : " spec",
			  procf ? procf : "", err);
	else if (r == -EINVAL || r == -EBADMSG)
		log_error("exec: %s", err);
	else if (r == -ECONNRESET)
		log_error("exec: the shim closed the connection");
	else if (r < 0)
		log_errno(-r, "exec: send request to the shim");
	if (r < 0)
		return -1;
	if (rep.error)
		log_error("%s", rep.error);
	r = rep.error || !rep.started ? -1 : 0;
	if (!rep.error && !rep.started)
		log_error("exec: the shim did not start the process");
	ctl_reply_free(&rep);
	if (r < 0 && *conn >= 0) {
		close(*conn);
		*conn = -1;
	}
	return r;
}

int cmd_exec(int argc, char **argv)
{
	struct parsed p;
	struct exec_opts o;
	if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		print_verb_help(find_verb("exec"), STDOUT_FILENO);
		return 0;
	}
	if (PARSE_VERB("exec", argc, argv, 1, -1, 2, &o, &p) < 0)
		return 255;
	int rc = 255;
	const char *procf = o.process, *pidf = o.pid_file, *cs = o.console_socket, *pfd = o.preserve_fds;
	bool detach = o.detach, tty = o.tty;
	char *proc = NULL;
	struct cstate st;
	char dir[PATH_MAX];
	int fds[3], nfds = 0, master = -1, slave = -1, conn = -1;
	struct termios saved;
	bool raw = false;
	char abs_proc[PATH_MAX], abs_pid[PATH_MAX], abs_cs[PATH_MAX];
	/* the detached exec shim must not depend on our cwd */
	if ((procf && !(procf = abs_arg("--process", procf, abs_proc))) ||
	    (pidf && !(pidf = abs_arg("--pid-file", pidf, abs_pid))) ||
	    (cs && !(cs = abs_arg("--console-socket", cs, abs_cs))))
		goto out0;
	if (!procf && p.npos < 2) {
		usage_error("exec", "\"exec\" requires a minimum of 2 argument(s)");
		goto out0;
	}
	if (pfd && strcmp(pfd, "0")) {
		log_error("--preserve-fds %s: passing extra file descriptors into a microVM is not supported",
			  pfd);
		goto out0;
	}
	if (load_container(p.pos[0], &st, dir) < 0)
		goto out0;
	const char *s = state_status(&st);
	if (!strcmp(s, "stopped")) {
		log_error("cannot exec in a stopped container");
		goto out;
	}
	if (!strcmp(s, "paused")) {
		log_error("cannot exec in a paused container");
		goto out;
	}
	if (procf) {
		proc = io_read_file(procf, 4 << 20, NULL);
		char err[256] = "";
		/* bounded nesting: the shim parses it too */
		yajl_val v = proc ? json_parse(proc, strlen(proc), err, sizeof(err)) : NULL;
		if (!proc) {
			log_errno(errno, "read process file %s", procf);
			goto out;
		}
		if (!v || !YAJL_IS_OBJECT(v)) {
			log_error("process file %s: %s", procf, v ? "not a JSON object" : err);
			if (v)
				yajl_tree_free(v);
			goto out;
		}
		yajl_val t = json_get(v, "terminal", yajl_t_any);
		tty = t && YAJL_IS_TRUE(t);
		yajl_tree_free(v);
	} else {
		proc = build_process(&st, &o, &p, tty, cs != NULL);
	}
	if (!proc) {
		log_error("exec: cannot build the process");
		goto out;
	}
	if (tty && cs) {
		if (open_host_pty(&master, &slave, false) < 0)
			goto out;
		int c = console_send(cs, master);
		close(master);
		if (c < 0)
			goto out;
		fds[nfds++] = slave;
	} else if (tty) {
		if (tcgetattr(STDIN_FILENO, &saved) == 0) {
			struct termios t = saved;
			cfmakeraw(&t);
			tcsetattr(STDIN_FILENO, TCSANOW, &t);
			raw = true;
		}
		/* the terminal's input from our stdin, its output to our stdout ($(…), redirects) */
		fds[nfds++] = STDIN_FILENO;
		fds[nfds++] = STDOUT_FILENO;
	} else {
		fds[0] = STDIN_FILENO;
		fds[1] = STDOUT_FILENO;
		fds[2] = STDERR_FILENO;
		nfds = 3;
	}
	char exec_id[64];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(exec_id, sizeof(exec_id), "exec-%d-%lx", (int)getpid(), (unsigned long)ts.tv_nsec);
	/* the process object goes inside the request as a JSON value (ctl_proto.h) */
	struct ctl_req q = {.op = CTL_OP_EXEC,
			    .exec = {.id = exec_id, .tty = tty, .want_stdin = true, .process = proc}};
	if (start_exec(dir, &q, fds, nfds, procf, &conn) < 0)
		goto out;
	log_debug("exec %s: process %s started in the guest (%s%s)", p.pos[0], exec_id, tty ? "tty" : "stdio",
		  detach ? ", detached" : "");
	if (detach) {
		pid_t pid = fork();
		if (pid < 0) {
			log_errno(errno, "fork exec shim");
			goto out;
		}
		if (pid == 0) {
			int nul = open("/dev/null", O_RDWR);
			if (nul >= 0) {
				dup2(nul, 0);
				dup2(nul, 1);
				dup2(nul, 2);
			}
			setsid();
			/* the engine resizes the master: as the slave's session leader we get SIGWINCH */
			if (slave >= 0)
				ioctl(slave, TIOCSCTTY, 0);
			_exit(wait_exec(dir, exec_id, conn, slave));
		}
		if (pidf && write_pid_file(pidf, pid) < 0) {
			kill(pid, SIGKILL);
			kill_exec(dir, exec_id);
			goto out;
		}
		rc = 0;
		goto out;
	}
	/* foreground: we are the process's host side, as runc writes its process's pid */
	if (pidf && write_pid_file(pidf, getpid()) < 0) {
		kill_exec(dir, exec_id);
		goto out;
	}
	rc = wait_exec(dir, exec_id, conn, tty ? (cs ? slave : STDIN_FILENO) : -1);
	log_debug("exec %s: process %s exited with status %d", p.pos[0], exec_id, rc);
out:
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (conn >= 0)
		close(conn);
	if (slave >= 0)
		close(slave);
	free(proc);
	state_free(&st);
out0:
	parsed_free(&p);
	return rc;
}
