/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Entering the jail, in the child between clone3 and execve (jail.h): system
 * calls and stack buffers only, no allocation, no locks (the parent may have
 * threads). Each step that fails names itself in *stage.
 */
#include "runtime/backend/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

uint64_t jail_clone_flags(void)
{
	return CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET;
}

/* dst = a + b, or -ENAMETOOLONG. */
static int join(char *dst, size_t len, const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	if (na + nb + 1 > len)
		return -ENAMETOOLONG;
	memcpy(mempcpy(dst, a, na), b, nb + 1);
	return 0;
}

/* mkdir -p of every parent of path (inside the tmpfs). */
static int mkdir_parents(char *path, size_t skip)
{
	for (char *p = path + skip + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, 0755);
		*p = '/';
		if (r < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

/* The mount point of bind b inside the tmpfs at mnt: a directory or an empty file. */
static int make_target(const struct jail *j, const struct jail_bind *b, char *t, size_t len)
{
	int r = join(t, len, j->mnt, b->path);
	if (r < 0)
		return r;
	if ((r = mkdir_parents(t, strlen(j->mnt))) < 0)
		return r;
	struct stat st;
	if (lstat(t, &st) == 0)
		return 0; /* a file inside a bind already there */
	if (b->dir)
		return mkdir(t, 0755) < 0 ? -errno : 0;
	int fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int mounts(const struct jail *j, const char **stage)
{
	int tree[JAIL_MAX_BINDS];
	char t[PATH_MAX];
	int r = 0;
	unsigned n = 0;
	*stage = "make every mount a slave";
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return -errno;
	/* Clones first: the tmpfs below may hide a source. */
	for (; n < j->nbind; n++) {
		const struct jail_bind *b = &j->bind[n];
		*stage = b->path;
		unsigned rec = (b->flags & JAIL_REC) ? AT_RECURSIVE : 0;
		tree[n] = open_tree(AT_FDCWD, b->path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
		if (tree[n] < 0) {
			r = -errno;
			goto out;
		}
		struct mount_attr a = {.attr_set = MOUNT_ATTR_NOSUID};
		if (!(b->flags & JAIL_RW))
			a.attr_set |= MOUNT_ATTR_RDONLY;
		if (!(b->flags & JAIL_DEV))
			a.attr_set |= MOUNT_ATTR_NODEV;
		if (mount_setattr(tree[n], "", AT_EMPTY_PATH | rec, &a, sizeof(a)) < 0) {
			r = -errno;
			close(tree[n]);
			goto out;
		}
	}
	*stage = "mount the tmpfs root";
	if (mount("tmpfs", j->mnt, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0755,size=256k,nr_inodes=512") < 0) {
		r = -errno;
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		*stage = j->bind[i].path;
		if ((r = make_target(j, &j->bind[i], t, sizeof(t))) < 0)
			goto out;
		if (move_mount(tree[i], "", AT_FDCWD, t, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
			r = -errno;
			goto out;
		}
	}
	for (unsigned i = 0; i < j->nlink; i++) {
		*stage = j->link[i].path;
		if ((r = join(t, sizeof(t), j->mnt, j->link[i].path)) < 0 ||
		    (r = mkdir_parents(t, strlen(j->mnt))) < 0)
			goto out;
		if (symlink(j->link[i].target, t) < 0) {
			r = -errno;
			goto out;
		}
	}
	*stage = "mount /proc (subset=pid)";
	if ((r = join(t, sizeof(t), j->mnt, "/proc")) < 0)
		goto out;
	if ((mkdir(t, 0555) < 0 && errno != EEXIST) ||
	    mount("proc", t, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "subset=pid") < 0) {
		r = -errno;
		goto out;
	}
	*stage = "pivot_root";
	if (chdir(j->mnt) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
	    chdir("/") < 0) {
		r = -errno;
		goto out;
	}
	*stage = "make the root read-only";
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
	if (mount_setattr(AT_FDCWD, "/", 0, &ro, sizeof(ro)) < 0)
		r = -errno;
out:
	for (unsigned i = 0; i < n; i++)
		close(tree[i]);
	return r;
}

/* soft = hard = v; where v is above what may be set here, the current hard limit. */
static int limit(int res, unsigned long v)
{
	struct rlimit rl = {v, v}, cur;
	if (setrlimit(res, &rl) == 0)
		return 0;
	if (errno != EPERM || getrlimit(res, &cur) < 0 || cur.rlim_max >= v)
		return -errno;
	cur.rlim_cur = cur.rlim_max;
	return setrlimit(res, &cur) < 0 ? -errno : 0;
}

static int creds(const struct jail *j, const char **stage)
{
	*stage = "drop the bounding set";
	for (int cap = 0; cap <= 63; cap++)
		if (!(j->caps & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	/* Root gains nothing by exec; with no capability kept, no fix-ups on uid changes either
	 * (the fs server relies on the fsuid fix-up: acting as a non-root requester drops its
	 * file capabilities, as for root). KEEP_CAPS: the permitted set survives setresuid. */
	unsigned long bits = SECBIT_KEEP_CAPS | SECBIT_NOROOT | SECBIT_NOROOT_LOCKED;
	if (!j->caps)
		bits |= SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED;
	*stage = "set the securebits";
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
		return -errno;
	*stage = "set groups, gid, uid";
	if (setgroups(j->ngroups, j->groups) < 0 || setresgid(j->gid, j->gid, j->gid) < 0 ||
	    setresuid(j->uid, j->uid, j->uid) < 0)
		return -errno;
	/* The uid change cleared the ambient set: raise the kept capabilities into it (they must
	 * be permitted and inheritable) so they survive exec for a non-root uid. */
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	*stage = "raise the kept capabilities into the ambient set";
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	d[0].effective = d[0].permitted;
	d[1].effective = d[1].permitted;
	d[0].inheritable = (uint32_t)j->caps;
	d[1].inheritable = (uint32_t)(j->caps >> 32);
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	for (int cap = 0; cap <= 63; cap++)
		if ((j->caps & (1ull << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return -errno;
	*stage = "lock the securebits";
	bits |= SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED | SECBIT_KEEP_CAPS_LOCKED;
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
		return -errno;
	*stage = "set the capabilities";
	memset(d, 0, sizeof(d));
	d[0].permitted = d[0].effective = d[0].inheritable = (uint32_t)j->caps;
	d[1].permitted = d[1].effective = d[1].inheritable = (uint32_t)(j->caps >> 32);
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	*stage = "no_new_privs";
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
}

int jail_landlock(const struct jail *j, const char **stage);

int jail_enter(const struct jail *j, const char **stage)
{
	int r = mounts(j, stage);
	if (r < 0)
		return r;
	*stage = "sethostname";
	if (sethostname("runm", 4) < 0)
		return -errno;
	*stage = "rlimits";
	if ((r = limit(RLIMIT_NOFILE, j->nofile)) < 0 || (r = limit(RLIMIT_NPROC, j->nproc)) < 0 ||
	    (r = limit(RLIMIT_MEMLOCK, j->memlock)) < 0 || (r = limit(RLIMIT_CORE, 0)) < 0)
		return r;
	if ((r = creds(j, stage)) < 0)
		return r;
	return jail_landlock(j, stage);
}
