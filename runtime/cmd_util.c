/* SPDX-License-Identifier: Apache-2.0 */
#include "cmd_util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "hooks.h"
#include "io.h"
#include "log.h"
#include "spec.h"

int parse_verb(const char *verb, int argc, char **argv, int min, int max, int stop_after, struct parsed *p)
{
	return parse_verb_opts(verb, argc, argv, min, max, stop_after, NULL, 0, p);
}

int parse_verb_opts(const char *verb, int argc, char **argv, int min, int max, int stop_after, void *opts,
		    size_t opts_size, struct parsed *p)
{
	const struct verb *v = find_verb(verb);
	if (parse_args(verb, v->opts, argc, argv, stop_after, opts, opts_size, p) < 0) {
		parsed_free(p);
		return -1;
	}
	if (p->npos < min || (max >= 0 && p->npos > max)) {
		if (min == max)
			usage_error(verb, "\"%s\" requires exactly %d argument(s)", verb, min);
		else if (p->npos < min)
			usage_error(verb, "\"%s\" requires a minimum of %d argument(s)", verb, min);
		else
			usage_error(verb, "\"%s\" requires a maximum of %d argument(s)", verb, max);
		parsed_free(p);
		return -1;
	}
	return 0;
}

int load_container(const char *id, struct cstate *st, char dir[PATH_MAX])
{
	if (!valid_id(id)) {
		log_error("container does not exist");
		return -1;
	}
	int r = state_dir(id, dir, PATH_MAX);
	if (r == 0)
		r = state_load(id, st);
	if (r == -ENOENT || r == -ENOTDIR) {
		log_error("container does not exist");
		return -1;
	}
	if (r < 0) {
		if (r != -EINVAL)
			log_errno(-r, "load state of container %s", id);
		return -1;
	}
	return 0;
}

int shim_call_timeout(const char *dir, const struct ctl_req *req, struct ctl_reply *reply, int timeout_ms)
{
	struct ctl_reply rep;
	char err[512];
	int r = ctl_call(dir, req, NULL, 0, timeout_ms, &rep, NULL, err, sizeof(err));
	if (r == -ENOENT || r == -ECONNREFUSED || r == -ECONNRESET)
		log_error("container not running");
	else if (r == -EBADMSG || r == -EMSGSIZE || r == -EINVAL)
		log_error("shim %s/%s: %s", dir, CTL_SOCK, err);
	else if (r < 0)
		log_errno(-r, "talk to the container's shim at %s/%s", dir, CTL_SOCK);
	if (r < 0)
		return 1;
	if (rep.error) {
		log_error("%s", rep.error);
		ctl_reply_free(&rep);
		return 1;
	}
	if (reply)
		*reply = rep;
	else
		ctl_reply_free(&rep);
	return 0;
}

int shim_call(const char *dir, const struct ctl_req *req, struct ctl_reply *reply)
{
	return shim_call_timeout(dir, req, reply, CTL_CALL_TIMEOUT_MS);
}

int shim_request(const char *id, bool lock, status_check check, void *arg, const struct ctl_req *req)
{
	struct cstate st;
	char dir[PATH_MAX];
	if (load_container(id, &st, dir) < 0)
		return 1;
	int fd = lock ? state_lock(dir, true) : -1;
	int c = check(state_status(&st), arg);
	int rc = c < 0 ? 1 : c > 0 ? 0 : shim_call(dir, req, NULL);
	if (fd >= 0)
		close_lock(fd);
	state_free(&st);
	return rc;
}

int check_not_stopped(const char *status, void *arg)
{
	if (strcmp(status, "stopped"))
		return 0;
	log_error("container not running");
	return -1;
}

int write_pid_file(const char *path, pid_t pid)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	int r = io_write_file_atomic(path, buf, (size_t)n, 0644, false);
	if (r < 0) {
		log_errno(-r, "write pid file %s", path);
		return -1;
	}
	return 0;
}

void shim_force_stop(const struct cstate *st, int ms)
{
	if (!shim_alive(st))
		return;
	kill(st->pid, SIGKILL);
	for (int i = 0; i < ms / 10 && shim_alive(st); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int destroy_container(const struct cstate *st, const char *dir)
{
	struct spec sp;
	char *js = state_to_json(st, false, true);
	/* poststop hooks run on the host; a broken bundle must not block the cleanup */
	if (st->bundle[0]) {
		char path[PATH_MAX + 16];
		snprintf(path, sizeof(path), "%s/config.json", st->bundle);
		if (access(path, R_OK) == 0 && spec_load(st->bundle, &sp) == 0) {
			if (js)
				run_hooks(&sp, HOOK_POSTSTOP, js, false);
			spec_free(&sp);
		}
	}
	free(js);
	/* the virtio-fs share (rootfs and bind sources) and anything else mounted below: all
	 * unmounted, nothing deleted through a mount that stays */
	return state_dir_remove(dir) < 0 ? -1 : 0;
}

void close_lock(int fd)
{
	close(fd);
}

const char *abs_arg(const char *what, const char *in, char *buf)
{
	if (!in || in[0] == '/')
		return in;
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd))) {
		log_errno(errno, "%s %s: getcwd", what, in);
		return NULL;
	}
	if ((size_t)snprintf(buf, PATH_MAX, "%s/%s", cwd, in) >= PATH_MAX) {
		log_error("%s %s: the absolute path is too long", what, in);
		return NULL;
	}
	return buf;
}
