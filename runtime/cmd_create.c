/* SPDX-License-Identifier: Apache-2.0 */
/* runm create [--bundle B] [--pid-file P] [--console-socket S] ID: validate, make the state
 * directory, exec the shim (not double-daemonised: it stays in the caller's tree) and wait
 * until it reports the container created. Any failure removes everything it made. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/jail.h"
#include "cmd_util.h"
#include "log.h"
#include "spec.h"

/* create's options, run's too (struct create_opts in cmd_util.h) */
const struct optdef create_opts[] = {
    OPT_VALUE(struct create_opts, bundle, "bundle", 'b',
	      "path to the root of the bundle directory (default: current directory)"),
    OPT_VALUE(struct create_opts, console_socket, "console-socket", 0,
	      "AF_UNIX socket that receives the pty master"),
    OPT_VALUE(struct create_opts, pid_file, "pid-file", 0,
	      "file to write the container's host pid (the shim) to"),
    OPT_NOOP("no-pivot", false, "accepted; the guest always pivots"),
    OPT_NOOP("no-new-keyring", false, "accepted; keyrings are per VM"),
    OPT_VALUE(struct create_opts, preserve_fds, "preserve-fds", 0,
	      "pass N additional fds (not supported across a VM: must be 0)"),
    OPT_FLAG(struct create_opts, detach, "detach", 'd', "(run) detach from the container's process"),
    OPT_FLAG(struct create_opts, keep, "keep", 0, "(run) do not delete the container after it exits"),
    OPT_NOOP("no-subreaper", false, "(run) accepted"),
    OPT_END,
};

pid_t create_container(const char *id, const struct create_opts *o, const char *console)
{
	const char *b = o->bundle;
	const char *pf = o->pid_file, *cs = console ? console : o->console_socket;
	const char *pfd = o->preserve_fds;
	char bundle[PATH_MAX], pidfile[PATH_MAX], dir[PATH_MAX], csock[PATH_MAX];
	if (!valid_id(id)) {
		log_error("invalid container ID format: %s", id);
		return -1;
	}
	if (pfd && strcmp(pfd, "0")) {
		log_error("--preserve-fds %s: passing extra file descriptors into a microVM is not supported",
			  pfd);
		return -1;
	}
	if (cs && !(cs = abs_arg("--console-socket", cs, csock)))
		return -1;
	if (!realpath(b ? b : ".", bundle)) {
		log_errno(errno, "bundle %s", b ? b : ".");
		return -1;
	}
	if (pf) {
		/* resolve relative to the caller's cwd: the shim runs elsewhere */
		if (pf[0] == '/')
			snprintf(pidfile, sizeof(pidfile), "%s", pf);
		else {
			char cwd[PATH_MAX / 2];
			if (!getcwd(cwd, sizeof(cwd))) {
				log_errno(errno, "getcwd");
				return -1;
			}
			snprintf(pidfile, sizeof(pidfile), "%s/%s", cwd, pf);
		}
	}
	struct spec sp;
	if (spec_load(bundle, &sp) < 0)
		return -1;
	bool tty = sp.terminal;
	spec_free(&sp);
	if (tty && !cs) {
		log_error("cannot allocate tty if runm will detach without setting console socket");
		return -1;
	}
	if (!tty && cs) {
		log_error("cannot use console socket if runm will not detach or allocate tty");
		return -1;
	}
	int r = ensure_root();
	if (r < 0) {
		log_errno(-r, "create state directory %s", G.root);
		return -1;
	}
	if (state_dir(id, dir, sizeof(dir)) < 0) {
		log_error("container id %s: state path too long", id);
		return -1;
	}
	if (mkdir(dir, 0711) < 0) {
		if (errno == EEXIST)
			log_error("container with given ID already exists");
		else
			log_errno(errno, "create %s", dir);
		return -1;
	}
	int lock = state_lock(dir, true);
	int sync[2];
	if (pipe2(sync, O_CLOEXEC) < 0) {
		log_errno(errno, "pipe");
		goto cleanup;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_errno(errno, "fork shim");
		close(sync[0]);
		close(sync[1]);
		goto cleanup;
	}
	if (pid == 0) {
		close(sync[0]);
		int sfd = fcntl(sync[1], F_DUPFD, 3); /* without CLOEXEC */
		char sfd_s[16];
		snprintf(sfd_s, sizeof(sfd_s), "%d", sfd);
		const char *args[32];
		int n = 0;
		args[n++] = "runm";
		args[n++] = "--root";
		args[n++] = G.root;
		if (G.log_file) {
			args[n++] = "--log";
			args[n++] = G.log_file;
		}
		args[n++] = "--log-format";
		args[n++] = G.log_format;
		if (G.debug)
			args[n++] = "--debug";
		if (G.backend) {
			args[n++] = "--backend";
			args[n++] = G.backend;
		}
		if (vm_jail_disabled())
			args[n++] = "--no-jail";
		args[n++] = "shim";
		args[n++] = "--bundle";
		args[n++] = bundle;
		args[n++] = "--sync-fd";
		args[n++] = sfd_s;
		if (pf) {
			args[n++] = "--pid-file";
			args[n++] = pidfile;
		}
		if (cs) {
			args[n++] = "--console-socket";
			args[n++] = cs;
		}
		args[n++] = "--";
		args[n++] = id;
		args[n] = NULL;
		/* the shim must not keep our lock: it is taken per verb */
		if (chdir("/") < 0) {
			/* not fatal */
		}
		execv("/proc/self/exe", (char *const *)args);
		log_errno(errno, "exec shim /proc/self/exe");
		_exit(1);
	}
	close(sync[1]);
	char buf[8] = "";
	ssize_t got = 0;
	while (got < 3) {
		ssize_t n = read(sync[0], buf + got, 3 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(sync[0]);
	if (got == 3 && !memcmp(buf, "ok\n", 3)) {
		if (lock >= 0)
			close_lock(lock);
		return pid;
	}
	/* the shim reported its error on our stderr; reap it and remove what it left */
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
cleanup:
	state_dir_remove(dir);
	if (lock >= 0)
		close_lock(lock);
	return -1;
}

int cmd_create(int argc, char **argv)
{
	struct parsed p;
	struct create_opts o;
	if (PARSE_VERB("create", argc, argv, 1, 1, 0, &o, &p) < 0)
		return 1;
	pid_t pid = create_container(p.pos[0], &o, NULL);
	parsed_free(&p);
	return pid > 0 ? 0 : 1;
}
