/* SPDX-License-Identifier: Apache-2.0 */
/* Per-process setup before exec: rlimits, oom_score_adj, user and groups, program lookup. */
#include "setup.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int process_prepare(const struct spec_process *p, struct setup_err *e)
{
	for (size_t i = 0; i < p->nrlimits; i++) {
		struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
		if (setrlimit(p->rlimits[i].resource, &rl) < 0) {
			char t[32];
			snprintf(t, sizeof(t), "resource %d", p->rlimits[i].resource);
			return setup_fail(e, "setrlimit", t, errno);
		}
	}
	umask(p->has_umask ? p->umask : 022);
	if (p->has_oom) {
		char buf[16];
		int n = snprintf(buf, sizeof(buf), "%d", p->oom_score_adj);
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, buf, (size_t)n) != n) {
			int err = errno;
			if (fd >= 0)
				close(fd);
			return setup_fail(e, "write oom_score_adj", "/proc/self/oom_score_adj", err);
		}
		close(fd);
	}
	return 0;
}

int process_identity(const struct spec_process *p, struct setup_err *e)
{
	char t[64];
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return setup_fail(e, "prctl", "PR_SET_KEEPCAPS", errno);
	if (setgroups(p->ngids, p->gids) < 0)
		return setup_fail(e, "setgroups", "additionalGids", errno);
	snprintf(t, sizeof(t), "gid %u", (unsigned)p->gid);
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return setup_fail(e, "setgid", t, errno);
	snprintf(t, sizeof(t), "uid %u", (unsigned)p->uid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return setup_fail(e, "setuid", t, errno);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return setup_fail(e, "prctl", "PR_SET_KEEPCAPS", errno);
	return 0;
}

static const char *env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);
	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* Go 1.19's exec.LookPath (what runc 1.1's init runs before it reports "created"): a file that
 * exists, is not a directory and has an execute bit. 0, or the errno Go reports (EACCES for a
 * directory too). */
static int find_executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno;
	return !S_ISDIR(st.st_mode) && (st.st_mode & 0111) ? 0 : EACCES;
}

/* strerror in Go's spelling (lower-case first letter), as engines match runc's messages. */
static void go_strerror(int err, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
}

/* Resolve args[0] at create, as runc does, and fail with runc's words: engines map
 * "no such file or directory" / "executable file not found" to 127, "permission denied" to 126. */
int process_lookup(const struct spec_process *p, char *buf, size_t len, struct setup_err *e)
{
	const char *prog = p->args[0];
	char why[64], msg[sizeof(e->target)];
	if (strchr(prog, '/')) {
		if (snprintf(buf, len, "%s", prog) >= (int)len)
			return setup_fail(e, "exec", prog, ENAMETOOLONG);
		int err = find_executable(prog);
		if (!err)
			return 0;
		go_strerror(err, why, sizeof(why));
		if (err == EACCES)
			snprintf(msg, sizeof(msg), "exec: \"%s\": %s", prog, why);
		else
			snprintf(msg, sizeof(msg), "exec: \"%s\": stat %s: %s", prog, prog, why);
		return setup_fail(e, "", msg, 0);
	}
	const char *path = env_get(p->env, "PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) { /* Go's SplitList: an empty PATH has no entry */
		const char *end = strchr(path, ':');
		size_t dl = end ? (size_t)(end - path) : strlen(path);
		/* an empty PATH entry is the working directory, as in Go */
		if (snprintf(buf, len, "%.*s/%s", (int)(dl ? dl : 1), dl ? path : ".", prog) < (int)len &&
		    find_executable(buf) == 0)
			return 0;
		if (!end)
			break;
		path = end + 1;
	}
	snprintf(msg, sizeof(msg), "exec: \"%s\": executable file not found in $PATH", prog);
	return setup_fail(e, "", msg, 0);
}
