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
#include "log.h"
#include "proto/proto.h"
#include "shim.h"
#include "spec.h"

static char *read_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *b = malloc(cap);
	while (b) {
		ssize_t n = read(fd, b + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len + 1 >= cap) {
			if (cap > (4 << 20))
				break;
			char *nb = realloc(b, cap * 2);
			if (!nb)
				break;
			b = nb;
			cap *= 2;
		}
	}
	close(fd);
	if (b)
		b[len] = '\0';
	return b;
}

/* The container's process object with the flags' changes (exec_process.c), as runc. */
static char *build_process(const struct cstate *st, const struct optdef *o, struct parsed *p, bool tty,
			   bool console_socket)
{
	struct spec sp;
	bool have = spec_load(st->bundle, &sp) == 0;
	const char *pp[] = {"process", NULL};
	int ie = opt_index(o, "env"), ig = opt_index(o, "additional-gids"), ic = opt_index(o, "cap");
	struct exec_overrides x = {
	    .args = p->pos + 1,
	    .nargs = p->npos - 1,
	    .tty = tty,
	    .env = p->list[ie],
	    .nenv = p->set[ie],
	    .cwd = optval(o, p, "cwd"),
	    .user = optval(o, p, "user"),
	    .gids = p->list[ig],
	    .ngids = p->set[ig],
	    .caps = p->list[ic],
	    .ncaps = p->set[ic],
	    .no_new_privs = optset(o, p, "no-new-privs"),
	    .apparmor = optval(o, p, "apparmor"),
	    .label = optval(o, p, "process-label"),
	};
	struct winsize ws;
	/* the pty starts with the caller's size (a console socket's engine sends its own) */
	if (tty && !console_socket && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
		x.rows = ws.ws_row;
		x.cols = ws.ws_col;
	}
	char *out = exec_process_json(have ? yajl_tree_get(sp.root, pp, yajl_t_object) : NULL, &x);
	if (have)
		spec_free(&sp);
	return out;
}

static char *read_reply_line(int s)
{
	size_t cap = 256, len = 0;
	char *b = malloc(cap);
	while (b) {
		ssize_t n = read(s, b + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(b);
			return NULL;
		}
		if (b[len] == '\n')
			break;
		if (++len + 1 >= cap) {
			if (cap > (1 << 16)) {
				free(b);
				return NULL;
			}
			char *nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				return NULL;
			}
			b = nb;
			cap *= 2;
		}
	}
	if (b)
		b[len] = '\0';
	return b;
}

/* Wait for {"exit":N} on CONN, forwarding our signals (and window size) to the process. */
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
	char req[256];
	struct winsize ws0;
	/* the size now: the process may have started before our first SIGWINCH */
	if (winfd >= 0 && ioctl(winfd, TIOCGWINSZ, &ws0) == 0 && ws0.ws_row && ws0.ws_col) {
		char *rep = NULL;
		snprintf(req, sizeof(req), "{\"op\":\"resize\",\"process\":\"%s\",\"rows\":%u,\"cols\":%u}", exec_id,
			 ws0.ws_row, ws0.ws_col);
		ctl_call(dir, req, NULL, 0, &rep);
		free(rep);
	}
	for (;;) {
		struct pollfd pf[2] = {{.fd = conn, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			return 255;
		if (pf[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				char *rep = NULL;
				struct winsize ws;
				if (si.ssi_signo == SIGWINCH) {
					if (winfd >= 0 && ioctl(winfd, TIOCGWINSZ, &ws) == 0) {
						snprintf(req, sizeof(req),
							 "{\"op\":\"resize\",\"process\":\"%s\",\"rows\":%u,\"cols\":%u}",
							 exec_id, ws.ws_row, ws.ws_col);
						ctl_call(dir, req, NULL, 0, &rep);
					}
				} else {
					snprintf(req, sizeof(req), "{\"op\":\"kill\",\"process\":\"%s\",\"signal\":%u}",
						 exec_id, si.ssi_signo);
					ctl_call(dir, req, NULL, 0, &rep);
				}
				free(rep);
			}
		}
		if (pf[0].revents) {
			char *line = read_reply_line(conn);
			if (!line) {
				log_error("exec %s: lost the container's shim", exec_id);
				return 255;
			}
			char err[128];
			yajl_val v = yajl_tree_parse(line, err, sizeof(err));
			long long code = 255;
			const char *pe[] = {"exit", NULL};
			yajl_val e = v ? yajl_tree_get(v, pe, yajl_t_number) : NULL;
			if (e && YAJL_IS_INTEGER(e))
				code = YAJL_GET_INTEGER(e);
			else
				ctl_reply_error(line);
			if (v)
				yajl_tree_free(v);
			free(line);
			return (int)(code & 0xff);
		}
	}
}

static int write_exec_pid_file(const char *pidf, pid_t pid)
{
	char tmp[PATH_MAX + 16];
	snprintf(tmp, sizeof(tmp), "%s.runm-tmp", pidf);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || dprintf(fd, "%d", pid) < 0 || close(fd) < 0 || rename(tmp, pidf) < 0) {
		log_errno(errno, "write pid file %s", pidf);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The exec failed after the process started (as runc: it is terminated). */
static void kill_exec(const char *dir, const char *exec_id)
{
	char req[256], *rep = NULL;
	snprintf(req, sizeof(req), "{\"op\":\"kill\",\"process\":\"%s\",\"signal\":9}", exec_id);
	ctl_call(dir, req, NULL, 0, &rep);
	free(rep);
}

int cmd_exec(int argc, char **argv)
{
	struct parsed p;
	const struct optdef *o = find_verb("exec")->opts;
	if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		print_verb_help(find_verb("exec"), STDOUT_FILENO);
		return 0;
	}
	if (parse_verb("exec", argc, argv, 1, -1, 2, &p) < 0)
		return 255;
	int rc = 255;
	const char *procf = optval(o, &p, "process"), *pidf = optval(o, &p, "pid-file"),
		   *cs = optval(o, &p, "console-socket"), *pfd = optval(o, &p, "preserve-fds");
	bool detach = optset(o, &p, "detach"), tty = optset(o, &p, "tty");
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
		log_error("--preserve-fds %s: passing extra file descriptors into a microVM is not supported", pfd);
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
		proc = read_file(procf);
		char err[256] = "";
		/* bounded nesting: the shim parses it too */
		yajl_val v = proc ? json_parse(proc, strlen(proc), err, sizeof(err)) : NULL;
		const char *pt[] = {"terminal", NULL};
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
		yajl_val t = yajl_tree_get(v, pt, yajl_t_any);
		tty = t && YAJL_IS_TRUE(t);
		yajl_tree_free(v);
		/* the request to the shim is one line: line breaks of a valid document are white space
		 * between tokens (inside strings they must be escaped), so they become spaces
		 * (containerd's runc shim writes the file with a trailing newline) */
		for (char *c = proc; *c; c++)
			if (*c == '\n' || *c == '\r')
				*c = ' ';
	} else {
		proc = build_process(&st, o, &p, tty, cs != NULL);
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
	char *req = NULL;
	if (asprintf(&req, "{\"op\":\"exec\",\"id\":\"%s\",\"tty\":%s,\"stdin\":true,\"process\":%s}", exec_id,
		     tty ? "true" : "false", proc) < 0)
		goto out;
	/* the shim reads one line of at most CTL_MAX_MSG - 2 bytes (ctl.c read_line) */
	if (strlen(req) > CTL_MAX_MSG - 2) {
		log_error("exec: the request is %zu bytes (the process%s%s): over the shim's limit of %d bytes (1 MiB)",
			  strlen(req), procf ? " from --process " : " spec", procf ? procf : "", CTL_MAX_MSG - 2);
		free(req);
		goto out;
	}
	conn = ctl_connect(dir);
	if (conn < 0) {
		log_error("container not running");
		free(req);
		goto out;
	}
	/* send the request with our stdio fds, get {"ok":true,"started":true} */
	struct iovec iov = {.iov_base = req, .iov_len = strlen(req)};
	char cbuf[CMSG_SPACE(sizeof(int) * 3)];
	memset(cbuf, 0, sizeof(cbuf));
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	ssize_t sent = sendmsg(conn, &mh, MSG_NOSIGNAL);
	if (sent > 0 && (size_t)sent < strlen(req))
		ctl_write_all(conn, req + sent, strlen(req) - (size_t)sent);
	free(req);
	if (sent <= 0 || ctl_write_all(conn, "\n", 1) < 0) {
		log_errno(errno, "exec: send request to the shim");
		goto out;
	}
	char *line = read_reply_line(conn);
	if (!line || ctl_reply_error(line)) {
		if (!line)
			log_error("exec: the shim closed the connection");
		free(line);
		goto out;
	}
	free(line);
	log_debug("exec %s: process %s started in the guest (%s%s)", p.pos[0], exec_id,
		  tty ? "tty" : "stdio", detach ? ", detached" : "");
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
		if (pidf && write_exec_pid_file(pidf, pid) < 0) {
			kill(pid, SIGKILL);
			kill_exec(dir, exec_id);
			goto out;
		}
		rc = 0;
		goto out;
	}
	/* foreground: we are the process's host side, as runc writes its process's pid */
	if (pidf && write_exec_pid_file(pidf, getpid()) < 0) {
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
