/* SPDX-License-Identifier: Apache-2.0 */
/* Per-process setup before exec: rlimits, oom_score_adj, user and groups, program lookup. */
#include "agent.h"

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

static bool is_exec_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int process_lookup(const struct spec_process *p, char *buf, size_t len, struct setup_err *e)
{
	const char *prog = p->args[0];
	if (strchr(prog, '/')) {
		if (snprintf(buf, len, "%s", prog) >= (int)len)
			return setup_fail(e, "exec", prog, ENAMETOOLONG);
		return 0;
	}
	const char *path = env_get(p->env, "PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		const char *end = strchr(path, ':');
		size_t dl = end ? (size_t)(end - path) : strlen(path);
		if (dl && snprintf(buf, len, "%.*s/%s", (int)dl, path, prog) < (int)len && is_exec_file(buf))
			return 0;
		path += dl + (end ? 1 : 0);
	}
	return setup_fail(e, "exec: executable file not found in $PATH", prog, ENOENT);
}
