/* SPDX-License-Identifier: Apache-2.0 */
/* User namespaces in the guest: see userns.h. */
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base.h"
#include "setup.h"
#include "spec.h"
#include "io.h"
#include "json.h"
#include "log.h"

#define ERR(...) agent_errf(err, errlen, __VA_ARGS__)

static int parse_one(yajl_val arr, const char *what, struct userns_idmap **out, size_t *n, char *err,
		     size_t errlen)
{
	*out = NULL;
	*n = 0;
	if (!arr)
		return 0;
	if (!YAJL_IS_ARRAY(arr) || arr->u.array.len > USERNS_MAX_EXTENTS)
		return ERR("linux.%s: not an array (of at most %d)", what, USERNS_MAX_EXTENTS);
	*out = calloc(arr->u.array.len + 1, sizeof(**out));
	if (!*out)
		return ERR("linux.%s: out of memory", what);
	for (size_t i = 0; i < arr->u.array.len; i++) {
		yajl_val e = arr->u.array.values[i];
		long long c, h, sz;
		if (!YAJL_IS_OBJECT(e) || json_get_int(e, "containerID", 0, UINT32_MAX - 1, &c) < 0 ||
		    json_get_int(e, "hostID", 0, UINT32_MAX - 1, &h) < 0 ||
		    json_get_int(e, "size", 1, UINT32_MAX, &sz) < 0)
			return ERR("linux.%s[%zu]: want containerID and hostID below 2^32-1 and a size ≥ 1",
				   what, i);
		if (c + sz > (long long)UINT32_MAX || h + sz > (long long)UINT32_MAX)
			return ERR("linux.%s[%zu]: the range %lld+%lld or %lld+%lld passes 2^32-1", what, i,
				   c, sz, h, sz);
		(*out)[(*n)++] = (struct userns_idmap){(uint32_t)c, (uint32_t)h, (uint32_t)sz};
	}
	return 0;
}

static bool maps_id(const struct userns_idmap *m, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (id >= m[i].inside && id - m[i].inside < m[i].count)
			return true;
	return false;
}

int userns_parse(yajl_val lnx, bool new_userns, bool join_userns, struct userns_maps *m, char *err,
		 size_t errlen)
{
	memset(m, 0, sizeof(*m));
	yajl_val u = json_get(lnx, "uidMappings", yajl_t_any), g = json_get(lnx, "gidMappings", yajl_t_any);
	if (parse_one(u, "uidMappings", &m->uid, &m->nuid, err, errlen) < 0 ||
	    parse_one(g, "gidMappings", &m->gid, &m->ngid, err, errlen) < 0)
		goto fail;
	if (!new_userns && !join_userns) {
		if (m->nuid || m->ngid) { /* runc's words */
			ERR("User namespace mappings specified, but USER namespace isn't enabled in the "
			    "config");
			goto fail;
		}
		return 0;
	}
	if (!new_userns)
		return 0; /* joined: its maps are already written (runc ignores the spec's) */
	/* runc: HostRootUID/HostRootGID, needed to set the container up */
	if (!m->nuid || !m->ngid) {
		ERR("User namespaces enabled, but no %s mappings found.", !m->nuid ? "uid" : "gid");
		goto fail;
	}
	if (!maps_id(m->uid, m->nuid, 0) || !maps_id(m->gid, m->ngid, 0)) {
		ERR("User namespaces enabled, but no %s mapping found.",
		    !maps_id(m->uid, m->nuid, 0) ? "user" : "group");
		goto fail;
	}
	return 0;
fail:
	userns_free(m);
	return -1;
}

void userns_free(struct userns_maps *m)
{
	free(m->uid);
	free(m->gid);
	memset(m, 0, sizeof(*m));
}

int userns_map_text(const struct userns_idmap *map, size_t n, char *buf, size_t len)
{
	size_t off = 0;
	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w =
		    snprintf(buf + off, len - off, "%u %u %u\n", map[i].inside, map[i].outside, map[i].count);
		if (w < 0 || (size_t)w >= len - off)
			return -1;
		off += (size_t)w;
	}
	return (int)off;
}

/* The kernel takes a map in one write(2) only. */
static int write_map(pid_t pid, const char *name, const struct userns_idmap *map, size_t n, char *err,
		     size_t errlen)
{
	char path[64], text[USERNS_MAX_EXTENTS * 33 + 1];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	int len = userns_map_text(map, n, text, sizeof(text));
	if (len <= 0)
		return ERR("write %s: no mapping to write", path);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return ERR("open %s: %s", path, strerror(errno));
	ssize_t w = write(fd, text, (size_t)len);
	int e = errno;
	close(fd);
	if (w != len) /* EINVAL: overlapping extents; EPERM: the ids are not ours to map */
		return ERR("write %s (%.*s): %s", path, len - 1, text, w < 0 ? strerror(e) : "short write");
	return 0;
}

int userns_write_maps(pid_t pid, const struct userns_maps *m, char *err, size_t errlen)
{
	if (write_map(pid, "uid_map", m->uid, m->nuid, err, errlen) < 0 ||
	    write_map(pid, "gid_map", m->gid, m->ngid, err, errlen) < 0)
		return -1;
	return 0;
}

int userns_become_root(const char **step)
{
	*step = "setresgid to 0 in the user namespace";
	if (setresgid(0, 0, 0) < 0)
		return -1;
	*step = "setresuid to 0 in the user namespace";
	if (setresuid(0, 0, 0) < 0)
		return -1;
	/* the credential change made us non-dumpable: our /proc/self would belong to the initial
	 * namespace's root, unmapped here (oom_score_adj, setgroups…); dumpable as runc makes its
	 * init for the setup (execve decides again) */
	*step = "prctl PR_SET_DUMPABLE";
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		return -1;
	*step = "prctl PR_SET_PDEATHSIG";
	return prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
}

int userns_join_before_clone(int *fds, int *saved, char *err, size_t errlen)
{
	static const char *const names[NS_COUNT] = {[NS_NET] = "net", [NS_IPC] = "ipc", [NS_UTS] = "uts"};
	for (int ns = 0; ns < NS_COUNT; ns++)
		saved[ns] = -1;
	for (int ns = 0; ns < NS_COUNT; ns++) {
		if (fds[ns] < 0)
			continue;
		if (!names[ns]) {
			userns_restore_after_clone(saved);
			return ERR(
			    "join the %s namespace of another container from a new user namespace: not "
			    "supported",
			    ns_name(ns));
		}
		char self[32];
		snprintf(self, sizeof(self), "/proc/thread-self/ns/%s", names[ns]);
		saved[ns] = open(self, O_RDONLY | O_CLOEXEC);
		if (saved[ns] < 0 || setns(fds[ns], ns_clone_flag(ns)) < 0) {
			int e = errno;
			userns_restore_after_clone(saved);
			return ERR("join the %s namespace of another container: %s", ns_name(ns),
				   strerror(e));
		}
		close(fds[ns]);
		fds[ns] = -1;
	}
	return 0;
}

void userns_restore_after_clone(int *saved)
{
	for (int ns = 0; ns < NS_COUNT; ns++) {
		if (saved[ns] < 0)
			continue;
		if (setns(saved[ns], ns_clone_flag(ns)) < 0)
			log_errno(errno, "return to the agent's %s namespace", ns_name(ns));
		close(saved[ns]);
		saved[ns] = -1;
	}
}

/* Whether FD names the user namespace we are in. */
static bool is_own_userns(int fd)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat("/proc/self/ns/user", &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

int userns_join_target(int *fds)
{
	if (fds[NS_USER] < 0)
		return 0;
	if (is_own_userns(fds[NS_USER])) {
		close(fds[NS_USER]);
		fds[NS_USER] = -1;
		return 0;
	}
	return 1;
}

pid_t userns_clone_in(int userns, int (*fn)(void *), void *arg, int flags)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t h = fork();
	if (h < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		errno = e;
		return -1;
	}
	if (h == 0) {
		size_t sz = 256 * 1024;
		char *stack = malloc(sz);
		long r = -ENOMEM;
		if (stack && setns(userns, CLONE_NEWUSER) < 0)
			r = -errno;
		else if (stack) {
			pid_t c = clone(fn, stack + sz, (flags & ~CLONE_NEWUSER) | CLONE_PARENT, arg);
			r = c < 0 ? -errno : c;
		}
		ssize_t w = write(p[1], &r, sizeof(r));
		_exit(w == (ssize_t)sizeof(r) ? 0 : 1);
	}
	close(p[1]);
	long r = -EPIPE;
	ssize_t n = read(p[0], &r, sizeof(r));
	close(p[0]);
	waitpid(h, NULL, 0);
	if (n != (ssize_t)sizeof(r))
		r = -EPIPE;
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (pid_t)r;
}

int userns_apply_limits(pid_t pid, const struct spec_process *p, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->nrlimits; i++) {
		struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
		if (prlimit(pid, (enum __rlimit_resource)p->rlimits[i].resource, &rl, NULL) < 0)
			return ERR("prlimit resource %d of process %d: %s", p->rlimits[i].resource, (int)pid,
				   strerror(errno));
	}
	if (!p->has_oom)
		return 0;
	char path[64], buf[16];
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
	int n = snprintf(buf, sizeof(buf), "%d", p->oom_score_adj);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, (size_t)n) != n) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return ERR("write %s: %s", path, strerror(e));
	}
	close(fd);
	return 0;
}
