/* SPDX-License-Identifier: Apache-2.0 */
/* Container filesystem: spec mounts under the rootfs, /dev, pivot_root, masked and readonly
 * paths, sysctl.  Runs in the container's child, already inside its new mount namespace. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int setup_fail(struct setup_err *e, const char *step, const char *target, int err)
{
	strncpy(e->step, step, sizeof(e->step) - 1);
	e->step[sizeof(e->step) - 1] = 0;
	strncpy(e->target, target ? target : "", sizeof(e->target) - 1);
	e->target[sizeof(e->target) - 1] = 0;
	e->err = err;
	return -1;
}

/* Refuse ".." components: a destination must stay under the rootfs. */
static bool path_escapes(const char *p)
{
	for (const char *c = p; (c = strstr(c, "..")); c += 2)
		if ((c == p || c[-1] == '/') && (c[2] == '\0' || c[2] == '/'))
			return true;
	return false;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *c = buf + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*c = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Make DEST a directory, or an empty file when the bind source is not a directory. */
static int make_target(const char *dest, bool file)
{
	struct stat st;
	if (lstat(dest, &st) == 0)
		return 0;
	if (!file)
		return mkdir_p(dest, 0755);
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dest);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir_p(parent, 0755) < 0)
			return -1;
	}
	int fd = open(dest, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int mount_one(const struct spec *s, const struct spec_mount *m, struct setup_err *e)
{
	char dest[PATH_MAX];
	if (path_escapes(m->dest))
		return setup_fail(e, "mount", m->dest, EINVAL);
	snprintf(dest, sizeof(dest), "%s%s", s->root_path, m->dest);
	unsigned long flags = m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
	bool file = false;
	if (m->bind) {
		struct stat st;
		if (stat(m->source, &st) < 0)
			return setup_fail(e, "bind mount source", m->source, errno);
		file = !S_ISDIR(st.st_mode);
	}
	if (make_target(dest, file) < 0)
		return setup_fail(e, "create mount point", dest, errno);
	if (m->bind) {
		if (mount(m->source, dest, NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0)
			return setup_fail(e, "bind mount", dest, errno);
		if (flags && mount(NULL, dest, NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0)
			return setup_fail(e, "remount bind", dest, errno);
	} else if (strcmp(m->type, "cgroup") == 0 || strcmp(m->type, "cgroup2") == 0) {
		/* Unified hierarchy only (the guest mounts cgroup2). */
		if (mount("cgroup2", dest, "cgroup2", flags, NULL) < 0)
			return setup_fail(e, "mount cgroup2", dest, errno);
	} else {
		const char *data = m->data && *m->data ? m->data : NULL;
		if (mount(m->source, dest, m->type, flags, data) < 0) {
			int err = errno;
			/* sysfs cannot be mounted without a new network namespace: bind it. */
			if (strcmp(m->type, "sysfs") == 0 && (err == EPERM || err == EBUSY)) {
				if (mount("/sys", dest, NULL, MS_BIND | MS_REC, NULL) == 0 &&
				    (!flags || mount(NULL, dest, NULL, MS_BIND | MS_REMOUNT | flags, NULL) == 0))
					goto prop;
			}
			char t[PATH_MAX + 32];
			snprintf(t, sizeof(t), "%s (type %s)", dest, m->type);
			return setup_fail(e, "mount", t, err);
		}
	}
prop:
	if (m->propagation && mount(NULL, dest, NULL, m->propagation, NULL) < 0)
		return setup_fail(e, "set mount propagation", dest, errno);
	return 0;
}

int container_setup_rootfs(const struct spec *s, struct setup_err *e)
{
	if (mount(NULL, "/", NULL, s->rootfs_propagation, NULL) < 0)
		return setup_fail(e, "set rootfs propagation", "/", errno);
	if (mount(s->root_path, s->root_path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return setup_fail(e, "bind rootfs", s->root_path, errno);
	for (size_t i = 0; i < s->nmounts; i++)
		if (mount_one(s, &s->mounts[i], e) < 0)
			return -1;
	return 0;
}

/* /dev: device nodes (bind-mounted from ours: works without CAP_MKNOD) and the usual links. */
int container_setup_dev(const struct spec *s, struct setup_err *e)
{
	static const char *const devs[] = {"null", "zero", "full", "random", "urandom", "tty"};
	bool dev_mounted = false;
	for (size_t i = 0; i < s->nmounts; i++)
		if (strcmp(s->mounts[i].dest, "/dev") == 0 && !s->mounts[i].bind)
			dev_mounted = true;
	if (!dev_mounted)
		return 0;
	char p[PATH_MAX], src[64];
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		snprintf(p, sizeof(p), "%s/dev/%s", s->root_path, devs[i]);
		snprintf(src, sizeof(src), "/dev/%s", devs[i]);
		if (make_target(p, true) < 0)
			return setup_fail(e, "create device node", p, errno);
		if (mount(src, p, NULL, MS_BIND, NULL) < 0)
			return setup_fail(e, "bind device node", p, errno);
	}
	static const char *const links[][2] = {{"/proc/self/fd", "fd"},   {"/proc/self/fd/0", "stdin"},
					       {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
					       {"pts/ptmx", "ptmx"},        {"/proc/kcore", "core"}};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(p, sizeof(p), "%s/dev/%s", s->root_path, links[i][1]);
		if (symlink(links[i][0], p) < 0 && errno != EEXIST)
			return setup_fail(e, "create /dev symlink", p, errno);
	}
	return 0;
}

int container_pivot(const struct spec *s, bool no_pivot, struct setup_err *e)
{
	if (chdir(s->root_path) < 0)
		return setup_fail(e, "chdir to rootfs", s->root_path, errno);
	if (!no_pivot) {
		if (syscall(SYS_pivot_root, ".", ".") == 0) {
			if (umount2(".", MNT_DETACH) < 0)
				return setup_fail(e, "detach old root", "/", errno);
			if (chdir("/") < 0)
				return setup_fail(e, "chdir", "/", errno);
			return 0;
		}
		/* EINVAL: our root is the initramfs (rootfs cannot be pivoted away): move instead. */
		if (errno != EINVAL)
			return setup_fail(e, "pivot_root", s->root_path, errno);
	}
	if (mount(s->root_path, "/", NULL, MS_MOVE, NULL) < 0)
		return setup_fail(e, "move rootfs to /", s->root_path, errno);
	if (chroot(".") < 0)
		return setup_fail(e, "chroot", s->root_path, errno);
	if (chdir("/") < 0)
		return setup_fail(e, "chdir", "/", errno);
	return 0;
}

/* After pivot: masked and readonly paths, readonly root. */
int container_finish_rootfs(const struct spec *s, struct setup_err *e)
{
	for (size_t i = 0; i < s->nmasked; i++) {
		const char *p = s->masked[i];
		struct stat st;
		if (stat(p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			return setup_fail(e, "stat masked path", p, errno);
		}
		int r = S_ISDIR(st.st_mode) ? mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0k")
					    : mount("/dev/null", p, NULL, MS_BIND, NULL);
		if (r < 0)
			return setup_fail(e, "mask path", p, errno);
	}
	for (size_t i = 0; i < s->nreadonly; i++) {
		const char *p = s->readonly[i];
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			return setup_fail(e, "bind readonly path", p, errno);
		}
		if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
		    mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
			return setup_fail(e, "remount readonly path", p, errno);
	}
	if (s->root_ro && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
		return setup_fail(e, "remount root readonly", "/", errno);
	return 0;
}

int container_sysctl(const struct spec *s, struct setup_err *e)
{
	for (size_t i = 0; i < s->nsysctl; i++) {
		char p[PATH_MAX];
		int n = snprintf(p, sizeof(p), "/proc/sys/%s", s->sysctl[i].key);
		if (n < 0 || (size_t)n >= sizeof(p))
			return setup_fail(e, "sysctl", s->sysctl[i].key, ENAMETOOLONG);
		for (char *c = p + 10; *c; c++)
			if (*c == '.')
				*c = '/';
		int fd = open(p, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return setup_fail(e, "sysctl", s->sysctl[i].key, errno);
		size_t len = strlen(s->sysctl[i].val);
		ssize_t w = write(fd, s->sysctl[i].val, len);
		int err = errno;
		close(fd);
		if (w != (ssize_t)len)
			return setup_fail(e, "sysctl", s->sysctl[i].key, w < 0 ? err : EIO);
	}
	return 0;
}
