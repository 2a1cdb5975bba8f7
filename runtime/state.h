/* SPDX-License-Identifier: Apache-2.0 */
/* Per-container state under --root: <root>/<id>/state.json (atomic), the shim's control
 * socket shim.sock, the VMM's sockets. Liveness = shim pid AND its start time. */
#ifndef RUNM_RUNTIME_STATE_H
#define RUNM_RUNTIME_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define MAX_ANNOTATIONS 64

struct cstate {
	char id[256];
	char bundle[PATH_MAX];
	char rootfs[PATH_MAX];
	char created[64]; /* RFC 3339 with nanoseconds */
	char owner[64];
	char status[16]; /* as last recorded by the shim: creating/created/running/paused/stopped */
	int pid;	 /* the shim's pid */
	unsigned long long start_time; /* /proc/<pid>/stat field 22 */
	int exit_status;	       /* -1 unknown */
	int nann;
	char *ann_key[MAX_ANNOTATIONS];
	char *ann_val[MAX_ANNOTATIONS];
};

/* <root>/<id> into OUT. */
int state_dir(const char *id, char *out, size_t cap);
/* Load <root>/<id>/state.json: 0, -ENOENT (no such container) or -EINVAL/-errno (corrupt). */
int state_load(const char *id, struct cstate *st);
/* Parse a state.json document (exposed for tests and fuzzing). */
int state_parse(const char *json, struct cstate *st, char *err, size_t errlen);
/* Write DIR/state.json atomically (tmp + fsync + rename). */
int state_save(const char *dir, const struct cstate *st);
void state_free(struct cstate *st);
/* Serialize ST into a malloc'd JSON string; PRETTY for `runm state`; TRUTH adds the live
 * status/pid (runc's state output) instead of the recorded ones. */
char *state_to_json(const struct cstate *st, bool pretty, bool truth);
/* Truthful status: the recorded one if the shim is alive (same pid and start time),
 * "stopped" otherwise. */
const char *state_status(const struct cstate *st);
/* pid as `state` reports it: 0 when stopped. */
int state_pid(const struct cstate *st);
bool shim_alive(const struct cstate *st);
int proc_start_time(pid_t pid, unsigned long long *out);
/* Parse field 22 out of a /proc/PID/stat line (comm may contain spaces and ')'). */
int parse_stat_starttime(const char *line, unsigned long long *out);
/* flock the container directory; returns the fd (close to unlock) or -1 with errno. */
int state_lock(const char *dir, bool exclusive);
/* Remove PATH and everything below it: no symlink is followed, no mount is unmounted,
 * descended into or removed (common/mounts.h remove_tree_nox); failures logged. 0 or -errno. */
int rm_rf(const char *path);
/* The one teardown of a container's state directory DIR (create's error path, delete,
 * delete --force): refuses anything but <root>/<valid id> (and a symlink there), unmounts
 * everything at or below it (unmount_tree), then removes what is provably not a mount.
 * A missing DIR is fine. 0, or -1 with the reason logged (a mount that stays is kept). */
int state_dir_remove(const char *dir);
/* Now as RFC 3339 nano UTC. */
void rfc3339_now(char *out, size_t cap);
/* Create <root> (mode 0711) if missing. */
int ensure_root(void);

#endif
