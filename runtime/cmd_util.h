/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the verbs. */
#ifndef RUNM_RUNTIME_CMD_UTIL_H
#define RUNM_RUNTIME_CMD_UTIL_H

#include <limits.h>

#include "ctl.h"
#include "runm.h"
#include "state.h"

/* Parse ARGV for VERB expecting exactly/at least N positionals; prints runc's usage errors. */
int parse_verb(const char *verb, int argc, char **argv, int min, int max, int stop_after, struct parsed *p);
/* Load container ID into ST/DIR; prints "container does not exist" (and returns -1) if absent. */
int load_container(const char *id, struct cstate *st, char dir[PATH_MAX]);
/* Ask the shim of DIR: REQ → reply (ctl.h); errors printed ("container not running" when no
 * shim answers); 0 on an ok reply, 1 otherwise. *REPLY is set (ctl_reply_free) when non-NULL
 * and the call succeeded. */
int shim_call(const char *dir, const struct ctl_req *req, struct ctl_reply *reply);
int shim_call_timeout(const char *dir, const struct ctl_req *req, struct ctl_reply *reply, int timeout_ms);
/* PID into PATH atomically (a pid file engines read); logs and returns -1 on failure. */
int write_pid_file(const char *path, pid_t pid);
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
