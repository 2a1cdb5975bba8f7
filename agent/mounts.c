/* SPDX-License-Identifier: Apache-2.0 */
/* Container filesystem: spec mounts under the rootfs, /dev, pivot_root, masked and readonly
 * paths, sysctl.  Runs in the container's child, already inside its new mount namespace. */
#include "setup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base.h"
#include "init.h"

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

/* Resolve REL inside ROOT as if ROOT were "/" (symlinks cannot lead out: openat2
 * RESOLVE_IN_ROOT), creating missing components (directories; the last one a file when FILE).
 * Returns an O_PATH fd, or -1 with errno. */
static int open_in_root(int rootfd, const char *rel, bool file)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
	if (fd >= 0 || errno != ENOENT)
		return fd;
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", rel) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char *p = buf;
	while (*p == '/')
		p++;
	for (char *c = p;; c++) {
		bool last = *c == '\0';
		if (*c != '/' && !last)
			continue;
		char save = *c;
		*c = '\0';
		if (*p) {
			fd = (int)syscall(SYS_openat2, rootfd, buf, &how, sizeof(how));
			if (fd < 0 && errno == ENOENT) {
				/* Create the last component in its (resolved) parent. */
				char *slash = strrchr(buf, '/');
				const char *name = slash ? slash + 1 : buf;
				int parent;
				if (slash && slash != buf) {
					*slash = '\0';
					parent = (int)syscall(SYS_openat2, rootfd, buf, &how, sizeof(how));
					*slash = '/';
				} else {
					parent = dup(rootfd);
				}
				if (parent < 0)
					return -1;
				int r;
				if (last && file) {
					r = openat(parent, name,
						   O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
						   0644);
					if (r >= 0)
						close(r);
				} else {
					r = mkdirat(parent, name, 0755);
				}
				int err = errno;
				close(parent);
				if (r < 0 && err != EEXIST) {
					errno = err;
					return -1;
				}
				fd = (int)syscall(SYS_openat2, rootfd, buf, &how, sizeof(how));
			}
			if (fd < 0)
				return -1;
			if (!last)
				close(fd);
		}
		*c = save;
		if (last)
			return fd;
	}
}

/* tmpcopyup: COVERED (O_PATH) still names the directory under the new tmpfs; copy its contents
 * into the tmpfs, reached by resolving the destination again. */
static int tmpcopyup(int rootfd, int covered, const struct spec_mount *m, const char *shown,
		     struct setup_err *e)
{
	int src = openat(covered, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0)
		return setup_fail(e, "tmpcopyup: open covered directory", shown, errno);
	int top = open_in_root(rootfd, m->dest, false);
	int dst = top < 0 ? -1 : openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = errno;
	if (top >= 0)
		close(top);
	if (dst < 0) {
		close(src);
		return setup_fail(e, "tmpcopyup: open the new tmpfs", shown, err);
	}
	char what[PATH_MAX + 32] = "";
	int r = tree_copy(src, dst, false, NULL, what, sizeof(what));
	err = errno;
	close(src);
	close(dst);
	if (r < 0) {
		char t[2 * PATH_MAX + 64];
		snprintf(t, sizeof(t), "%.*s: %s", PATH_MAX, shown, what);
		return setup_fail(e, "tmpcopyup", t, err);
	}
	return 0;
}

/* A read-only /dev is mounted writable (nodes, links and /dev/pts go in it) and made read-only
 * here, after the console's bind, as runc does. */
int container_dev_readonly(const struct spec *s, struct setup_err *e)
{
	for (size_t i = 0; i < s->nmounts; i++) {
		const struct spec_mount *m = &s->mounts[i];
		if (m->bind || strcmp(m->dest, "/dev") || !(m->flags & MS_RDONLY))
			continue;
		unsigned long keep = m->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
						 MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME);
		if (mount(NULL, "/dev", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0)
			return setup_fail(e, "remount /dev read-only", "/dev", errno);
	}
	return 0;
}

static int mount_one(const struct spec *s, int rootfd, const struct spec_mount *m, struct setup_err *e)
{
	char shown[PATH_MAX], dest[64];
	if (path_escapes(m->dest))
		return setup_fail(e, "mount", m->dest, EINVAL);
	snprintf(shown, sizeof(shown), "%s%s", s->root_path, m->dest);
	unsigned long flags = m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
	bool file = false;
	if (m->bind) {
		struct stat st;
		/* the runtime resolves relative sources against the bundle: one left here would be
		 * relative to the agent's root */
		if (m->source[0] != '/')
			return setup_fail(e, "bind mount source (relative)", m->source, EINVAL);
		if (stat(m->source, &st) < 0)
			return setup_fail(e, "bind mount source", m->source, errno);
		file = !S_ISDIR(st.st_mode);
	}
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, rootfd, m->dest, &how, sizeof(how));
	bool existed = fd >= 0;
	if (fd < 0)
		fd = open_in_root(rootfd, m->dest, file);
	if (fd < 0)
		return setup_fail(e, "create mount point", shown, errno);
	snprintf(dest, sizeof(dest), "/proc/self/fd/%d", fd);
	int rc = -1;
	if (m->bind) {
		if (mount(m->source, dest, NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0) {
			setup_fail(e, "bind mount", shown, errno);
			goto out;
		}
	} else if (strcmp(m->type, "cgroup") == 0 || strcmp(m->type, "cgroup2") == 0) {
		/* Unified hierarchy only (the guest mounts cgroup2). */
		if (mount("cgroup2", dest, "cgroup2", flags, NULL) < 0 &&
		    /* as runc: a user namespace without a cgroup namespace of its own cannot mount
		     * cgroup2; the guest's hierarchy is bound instead (flags by the remount below) */
		    ((errno != EPERM && errno != EBUSY) || (!s->ns_new[NS_USER] && !s->ns_ctr[NS_USER]) ||
		     mount("/sys/fs/cgroup", dest, NULL, MS_BIND | MS_REC, NULL) < 0)) {
			setup_fail(e, "mount cgroup2", shown, errno);
			goto out;
		}
	} else {
		const char *data = m->data && *m->data ? m->data : NULL;
		bool tmpfs = strcmp(m->type, "tmpfs") == 0;
		char *tdata = NULL;
		struct stat cst;
		if (tmpfs && existed && fstat(fd, &cst) == 0 && S_ISDIR(cst.st_mode)) {
			/* as runc: without mode= the tmpfs keeps the mode of the directory it covers */
			if (asprintf(&tdata, "mode=%04o%s%s", (unsigned)(cst.st_mode & 07777),
				     data ? "," : "", data ? data : "") < 0) {
				setup_fail(e, "mount", shown, ENOMEM);
				goto out;
			}
			data = tdata;
		}
		/* /dev stays writable while it is set up (nodes, links, /dev/pts); container_dev_readonly
		 * makes it read-only at the end */
		if (strcmp(m->dest, "/dev") == 0)
			flags &= ~MS_RDONLY;
		int mr = mount(m->source, dest, m->type, flags, data);
		int merr = errno;
		free(tdata);
		errno = merr;
		if (mr == 0 && tmpfs && m->tmpcopyup && tmpcopyup(rootfd, fd, m, shown, e) < 0)
			goto out;
		if (mr < 0) {
			int err = errno;
			/* sysfs cannot be mounted without a new network namespace: bind it. */
			if (strcmp(m->type, "sysfs") == 0 && (err == EPERM || err == EBUSY) &&
			    mount("/sys", dest, NULL, MS_BIND | MS_REC, NULL) == 0) {
				/* flags are applied by the bind remount below */
			} else {
				char t[PATH_MAX + 32];
				snprintf(t, sizeof(t), "%s (type %s)", shown, m->type);
				setup_fail(e, "mount", t, err);
				goto out;
			}
		} else {
			flags = 0; /* applied by the mount itself */
		}
	}
	if (flags || m->propagation) {
		/* The fd still names the covered mount point: reopen to reach the new mount. */
		close(fd);
		fd = open_in_root(rootfd, m->dest, file);
		if (fd < 0) {
			setup_fail(e, "reopen mount point", shown, errno);
			goto out;
		}
		snprintf(dest, sizeof(dest), "/proc/self/fd/%d", fd);
		if (flags && mount(NULL, dest, NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0) {
			setup_fail(e, "remount", shown, errno);
			goto out;
		}
		if (m->propagation && mount(NULL, dest, NULL, m->propagation, NULL) < 0) {
			setup_fail(e, "set mount propagation", shown, errno);
			goto out;
		}
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int container_setup_rootfs(const struct spec *s, struct setup_err *e)
{
	if (mount(NULL, "/", NULL, s->rootfs_propagation, NULL) < 0)
		return setup_fail(e, "set rootfs propagation", "/", errno);
	if (mount(s->root_path, s->root_path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return setup_fail(e, "bind rootfs", s->root_path, errno);
	int rootfd = open(s->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return setup_fail(e, "open rootfs", s->root_path, errno);
	for (size_t i = 0; i < s->nmounts; i++)
		if (mount_one(s, rootfd, &s->mounts[i], e) < 0) {
			close(rootfd);
			return -1;
		}
	close(rootfd);
	return 0;
}

/* /dev: device nodes (bind-mounted from ours: works without CAP_MKNOD) and the usual links,
 * all resolved inside the rootfs. */
int container_setup_dev(const struct spec *s, struct setup_err *e)
{
	static const char *const devs[] = {"null", "zero", "full", "random", "urandom", "tty"};
	bool dev_mounted = false;
	for (size_t i = 0; i < s->nmounts; i++)
		if (strcmp(s->mounts[i].dest, "/dev") == 0 && !s->mounts[i].bind)
			dev_mounted = true;
	if (!dev_mounted && !s->ndevices)
		return 0;
	int rootfd = open(s->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return setup_fail(e, "open rootfs", s->root_path, errno);
	int rc = -1, devfd = open_in_root(rootfd, "/dev", false);
	char p[64], src[64];
	if (devfd < 0) {
		setup_fail(e, "open /dev in rootfs", s->root_path, errno);
		goto out;
	}
	for (size_t i = 0; dev_mounted && i < sizeof(devs) / sizeof(devs[0]); i++) {
		snprintf(src, sizeof(src), "/dev/%s", devs[i]);
		int fd = open_in_root(rootfd, src, true);
		if (fd < 0) {
			setup_fail(e, "create device node", src, errno);
			goto out;
		}
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		int r = mount(src, p, NULL, MS_BIND, NULL);
		int err = errno;
		close(fd);
		if (r < 0) {
			setup_fail(e, "bind device node", src, err);
			goto out;
		}
	}
	/* linux.devices: mknod (we are root in the guest); a bind of our node when that is refused. */
	for (size_t i = 0; i < s->ndevices; i++) {
		const struct spec_device *d = &s->devices[i];
		const char *name = strrchr(d->path, '/') + 1;
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%.*s", (int)(name - d->path), d->path);
		int pfd = open_in_root(rootfd, parent, false);
		if (pfd < 0) {
			setup_fail(e, "create device directory", parent, errno);
			goto out;
		}
		int r = mknodat(pfd, name, d->type | (d->mode & 07777), makedev(d->major, d->minor));
		struct stat st;
		if (r < 0 && errno == EEXIST && fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			/* Already there (a rootfs /dev on disk): fine when it is the same device. */
			if ((st.st_mode & S_IFMT) == d->type &&
			    (d->type == S_IFIFO || st.st_rdev == makedev(d->major, d->minor)))
				r = 0;
			else
				errno = EEXIST;
		}
		if (r < 0 && errno == EPERM) {
			int fd =
			    openat(pfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd >= 0) {
				close(fd);
				int nfd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
				snprintf(p, sizeof(p), "/proc/self/fd/%d", nfd);
				r = nfd < 0 ? -1 : mount(d->path, p, NULL, MS_BIND, NULL);
				if (nfd >= 0)
					close(nfd);
			}
		}
		if (r == 0 && (fchownat(pfd, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
			       fchmodat(pfd, name, d->mode & 07777, 0) < 0))
			r = -1;
		int err = errno;
		close(pfd);
		if (r < 0) {
			setup_fail(e, "create device", d->path, err);
			goto out;
		}
	}
	static const char *const links[][2] = {{"/proc/self/fd", "fd"},	      {"/proc/self/fd/0", "stdin"},
					       {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
					       {"pts/ptmx", "ptmx"},	      {"/proc/kcore", "core"}};
	for (size_t i = 0; dev_mounted && i < sizeof(links) / sizeof(links[0]); i++) {
		if (symlinkat(links[i][0], devfd, links[i][1]) < 0 && errno != EEXIST) {
			setup_fail(e, "create /dev symlink", links[i][1], errno);
			goto out;
		}
	}
	rc = 0;
out:
	if (devfd >= 0)
		close(devfd);
	close(rootfd);
	return rc;
}

/* linux.rootfsPropagation on the container's own root, once it is "/" (as runc does after
 * pivot_root): before, it reached only the guest's old root. */
static int root_propagation(const struct spec *s, struct setup_err *e)
{
	if (s->rootfs_propagation_set && mount(NULL, "/", NULL, s->rootfs_propagation, NULL) < 0)
		return setup_fail(e, "set rootfs propagation on the new root", "/", errno);
	return 0;
}

int container_pivot(const struct spec *s, bool no_pivot, struct setup_err *e)
{
	if (chdir(s->root_path) < 0)
		return setup_fail(e, "chdir to rootfs", s->root_path, errno);
	/* In the guest the root is the agent's tmpfs (switchroot.c), never the initramfs: always a
	 * real pivot_root, which leaves none of the agent's mounts in the container's namespace
	 * (no_pivot is ignored there). MS_MOVE + chroot only in the host test mode, when asked. */
	if (!no_pivot || g_opts.pid1) {
		if (syscall(SYS_pivot_root, ".", ".") < 0)
			return setup_fail(e, "pivot_root", s->root_path, errno);
		if (umount2(".", MNT_DETACH) < 0)
			return setup_fail(e, "detach old root", "/", errno);
		if (chdir("/") < 0)
			return setup_fail(e, "chdir", "/", errno);
		return root_propagation(s, e);
	}
	if (mount(s->root_path, "/", NULL, MS_MOVE, NULL) < 0)
		return setup_fail(e, "move rootfs to /", s->root_path, errno);
	if (chroot(".") < 0)
		return setup_fail(e, "chroot", s->root_path, errno);
	if (chdir("/") < 0)
		return setup_fail(e, "chdir", "/", errno);
	return root_propagation(s, e);
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
		if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL) < 0 &&
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
