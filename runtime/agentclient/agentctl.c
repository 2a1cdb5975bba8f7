/* SPDX-License-Identifier: Apache-2.0 */
/* runm-agentctl: drive a runm-agent through the host library (tests, benchmarks, debugging).
 *
 *   runm-agentctl --uds PATH [--timeout MS] COMMAND ...
 *     run [--id ID] [--stdin] [--no-pivot] [--resize ROWSxCOLS] BUNDLE
 *                      create + attach + start + relay + wait; exits with the container's code
 *     exec [--stdin] [--resize ROWSxCOLS] ID PROCESS_JSON_FILE
 *                      run another process in the container; exits with its code
 *     kill ID SIGNAL [--all] | wait ID | stats | shutdown | hello
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "agentclient.h"
#include "log.h"

static const char *uds;
static int timeout_ms = 10000;

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		log_errno(errno, "open %s", path);
		return NULL;
	}
	size_t cap = 4096, len = 0;
	char *b = malloc(cap);
	size_t n;
	while (b && (n = fread(b + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			char *nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (b)
		b[len] = '\0';
	return b;
}

struct fwd {
	struct agentclient *ac;
	const char *id;
	int sfd;
};

static void on_signal(void *arg)
{
	struct fwd *f = arg;
	struct signalfd_siginfo si;
	while (read(f->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGWINCH) {
			struct winsize ws;
			if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
				ac_resize(f->ac, f->id, ws.ws_row, ws.ws_col);
			continue;
		}
		if (ac_signal(f->ac, f->id, (int)si.ssi_signo, false) < 0)
			log_error("forward signal %u: %s", si.ssi_signo, ac_error(f->ac));
	}
}

/* Attach, (start), relay until all output is in, wait: returns the exit code. */
static int attach_and_wait(struct agentclient *ac, const char *id, bool tty, bool in, bool start,
			   const char *resize)
{
	char err[1024];
	struct ac_pipe pipes[3];
	size_t n = 0;
	int fds[3] = {-1, -1, -1};
	if (tty) {
		fds[0] = ac_attach(uds, id, PROTO_TTY, timeout_ms, err, sizeof(err));
		if (fds[0] < 0)
			goto fail;
		pipes[n++] = (struct ac_pipe){.from = fds[0], .to = STDOUT_FILENO};
		if (in) {
			int d = dup(fds[0]);
			pipes[n++] = (struct ac_pipe){.from = STDIN_FILENO, .to = d, .optional = true};
		}
	} else {
		for (int k = in ? 0 : 1; k < 3; k++) {
			fds[k] = ac_attach(uds, id, (enum proto_stream)k, timeout_ms, err, sizeof(err));
			if (fds[k] < 0)
				goto fail;
			if (k == 0)
				pipes[n++] = (struct ac_pipe){
				    .from = STDIN_FILENO, .to = fds[0], .close_to = true, .optional = true};
			else
				pipes[n++] = (struct ac_pipe){.from = fds[k], .to = k};
		}
	}
	if (resize) { /* before start: the pty exists from create on */
		unsigned r, c;
		if (sscanf(resize, "%ux%u", &r, &c) != 2 || ac_resize(ac, id, r, c) < 0) {
			log_error("resize %s: %s", resize, ac_error(ac));
			return 255;
		}
	}
	if (start && ac_start(ac, id) < 0) {
		log_error("%s", ac_error(ac));
		return 255;
	}
	sigset_t mask;
	sigemptyset(&mask);
	int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&mask, sigs[i]);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	struct fwd f = {.ac = ac, .id = id, .sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)};
	if (ac_relay(pipes, n, f.sfd, on_signal, &f) < 0)
		log_errno(errno, "relay");
	struct ac_exit ex;
	if (ac_wait(ac, id, &ex) < 0) {
		log_error("wait %s: %s", id, ac_error(ac));
		return 255;
	}
	return ex.exit_code;
fail:
	log_error("%s", err);
	return 255;
}

static bool config_terminal(const char *json)
{
	char e[256];
	yajl_val t = json_parse(json, strlen(json), e, sizeof(e));
	bool r = json_get_bool(json_get(t, "process", yajl_t_object), "terminal", 0) == 1;
	if (t)
		yajl_tree_free(t);
	return r;
}

static bool process_terminal(const char *json)
{
	char e[256];
	yajl_val t = json_parse(json, strlen(json), e, sizeof(e));
	bool r = json_get_bool(t, "terminal", 0) == 1;
	if (t)
		yajl_tree_free(t);
	return r;
}

int main(int argc, char **argv)
{
	log_set_prog("runm-agentctl");
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--uds") && i + 1 < argc)
			uds = argv[++i];
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout_ms = atoi(argv[++i]);
		else
			break;
	}
	if (!uds || i >= argc) {
		fprintf(stderr, "usage: runm-agentctl --uds PATH [--timeout MS] "
				"run|exec|kill|wait|stats|shutdown|hello ...\n");
		return 2;
	}
	const char *cmd = argv[i++];
	bool in = false, no_pivot = false, all = false;
	const char *id = NULL, *resize = NULL;
	char *pos[4] = {0};
	int npos = 0;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--stdin"))
			in = true;
		else if (!strcmp(argv[i], "--no-pivot"))
			no_pivot = true;
		else if (!strcmp(argv[i], "--all"))
			all = true;
		else if (!strcmp(argv[i], "--id") && i + 1 < argc)
			id = argv[++i];
		else if (!strcmp(argv[i], "--resize") && i + 1 < argc)
			resize = argv[++i];
		else if (npos < 4)
			pos[npos++] = argv[i];
		else {
			log_error("%s: too many arguments", cmd);
			return 2;
		}
	}
	char err[1024];
	struct agentclient *ac = ac_connect(uds, timeout_ms, err, sizeof(err));
	if (!ac) {
		log_error("%s", err);
		return 255;
	}
	int rc = 0;
	if (ac_hello(ac, false) < 0) {
		log_error("hello: %s", ac_error(ac));
		return 255;
	}
	if (!strcmp(cmd, "hello")) {
		printf("ok\n");
	} else if (!strcmp(cmd, "run") && npos == 1) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/config.json", pos[0]);
		char *cfg = slurp(path);
		if (!cfg)
			return 255;
		char *bundle = realpath(pos[0], NULL);
		bool tty = config_terminal(cfg);
		struct ac_stdio io = {.in = in, .out = true, .err = true};
		id = id ? id : "init";
		if (ac_create(ac, id, bundle, cfg, &io, no_pivot, NULL) < 0) {
			log_error("%s", ac_error(ac));
			return 255;
		}
		rc = attach_and_wait(ac, id, tty, in, true, resize);
		free(cfg);
		free(bundle);
	} else if (!strcmp(cmd, "exec") && npos == 2) {
		char *spec = slurp(pos[1]);
		if (!spec)
			return 255;
		bool tty = process_terminal(spec);
		struct ac_stdio io = {.in = in, .out = true, .err = true};
		if (ac_exec(ac, pos[0], spec, &io, NULL) < 0) {
			log_error("%s", ac_error(ac));
			return 255;
		}
		rc = attach_and_wait(ac, pos[0], tty, in, false, resize);
		free(spec);
	} else if (!strcmp(cmd, "kill") && npos == 2) {
		if (ac_signal(ac, pos[0], atoi(pos[1]), all) < 0) {
			log_error("%s", ac_error(ac));
			rc = 1;
		}
	} else if (!strcmp(cmd, "wait") && npos == 1) {
		struct ac_exit ex;
		if (ac_wait(ac, pos[0], &ex) < 0) {
			log_error("%s", ac_error(ac));
			rc = 255;
		} else {
			printf("%d\n", ex.exit_code);
		}
	} else if (!strcmp(cmd, "stats")) {
		char *json;
		if (ac_stats(ac, &json) < 0) {
			log_error("%s", ac_error(ac));
			rc = 1;
		} else {
			printf("%s\n", json);
			free(json);
		}
	} else if (!strcmp(cmd, "shutdown")) {
		if (ac_shutdown(ac) < 0) {
			log_error("%s", ac_error(ac));
			rc = 1;
		}
	} else {
		log_error("unknown command or wrong arguments: %s", cmd);
		rc = 2;
	}
	ac_close(ac);
	return rc;
}
