/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the verbs. */
#ifndef RUNM_RUNTIME_CMD_UTIL_H
#define RUNM_RUNTIME_CMD_UTIL_H

#include <limits.h>

#include "ctl.h"
#include "runm.h"
#include "state.h"

/* Parse ARGV for VERB expecting MIN..MAX positionals (MAX -1: any); prints runc's usage errors.
 * parse_verb: a verb without options; PARSE_VERB: into the verb's options struct *OPTS. */
int parse_verb(const char *verb, int argc, char **argv, int min, int max, int stop_after, struct parsed *p);
int parse_verb_opts(const char *verb, int argc, char **argv, int min, int max, int stop_after, void *opts,
		    size_t opts_size, struct parsed *p);
#define PARSE_VERB(verb, argc, argv, min, max, stop_after, opts, p)                                          \
	parse_verb_opts(verb, argc, argv, min, max, stop_after, opts, sizeof(*(opts)), p)
/* Load container ID into ST/DIR; prints "container does not exist" (and returns -1) if absent. */
int load_container(const char *id, struct cstate *st, char dir[PATH_MAX]);
/* Ask the shim of DIR: REQ → reply (ctl.h); errors printed ("container not running" when no
 * shim answers); 0 on an ok reply, 1 otherwise. *REPLY is set (ctl_reply_free) when non-NULL
 * and the call succeeded. */
int shim_call(const char *dir, const struct ctl_req *req, struct ctl_reply *reply);
int shim_call_timeout(const char *dir, const struct ctl_req *req, struct ctl_reply *reply, int timeout_ms);
/* The prologue of the verbs that ask a container's shim one thing: load ID's state ("container
 * does not exist"), hold its state lock when LOCK, let CHECK judge the status (< 0: refused, it
 * logged runc's message; 0: ask; > 0: nothing to ask, success), then shim_call REQ. 0 or 1. */
typedef int (*status_check)(const char *status, void *arg);
int shim_request(const char *id, bool lock, status_check check, void *arg, const struct ctl_req *req);
/* A status_check: anything but "stopped" ("container not running"). */
int check_not_stopped(const char *status, void *arg);
/* PID into PATH atomically (a pid file engines read); logs and returns -1 on failure. */
int write_pid_file(const char *path, pid_t pid);
/* The options of create, which run shares. */
struct create_opts {
	const char *bundle, *console_socket, *pid_file, *preserve_fds;
	bool detach, keep; /* run */
};
/* Returns the shim pid (>0) once the container is created, or -1 (everything cleaned up).
 * CONSOLE, when not NULL, is the console socket instead of --console-socket (a foreground
 * `run` receiving the pty master itself). */
pid_t create_container(const char *id, const struct create_opts *o, const char *console);
/* Verb bodies reused by other verbs (run). */
int start_container(const char *id);
int delete_container(const char *id, bool force);
void close_lock(int fd);
/* Kill the shim (SIGKILL, only if pid+start time still match) and wait up to MS for it. */
void shim_force_stop(const struct cstate *st, int ms);
/* Remove a container completely: poststop hooks, mounts, sockets, directory. */
int destroy_container(const struct cstate *st, const char *dir);

/* IN made absolute against our cwd (no symlink resolution): the shim and exec shims run in
 * "/", so a relative path from the command line must not reach them.  IN itself when it is
 * absolute or NULL; else BUF (PATH_MAX), or NULL after logging WHAT when it does not fit. */
const char *abs_arg(const char *what, const char *in, char *buf);

#endif
