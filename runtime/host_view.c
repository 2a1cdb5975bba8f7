/* SPDX-License-Identifier: Apache-2.0 */
/* The shim's mount namespace: the container's host-side view (host_view.h). */
#include "host_view.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "disks.h"
#include "guest_config.h"
#include "hooks.h"
#include "json.h"
#include "log.h"

static int fail(char *err, size_t errlen, int e, const char *what, const char *on)
{
	snprintf(err, errlen, "container view: %s %s: %s", what, on, strerror(e));
	return -1;
}

/* DEST inside the view ROOTFD as if it were "/" (symlinks cannot lead out), O_PATH. */
static int resolve_in(int rootfd, const char *dest)
{
	while (*dest == '/')
		dest++;
	if (!*dest)
		return -1; /* the root itself is never a mount target here */
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	return (int)syscall(SYS_openat2, rootfd, dest, &how, sizeof(how));
}

/* Mount SRC (a bind, or an empty read-only tmpfs when SRC is NULL) on DEST of the view. A
 * destination the container does not have is skipped: the agent made every one it mounts. */
static void mount_at(int rootfd, const char *dest, const char *src, bool ro)
{
	int fd = resolve_in(rootfd, dest);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("container view: resolve %s: %s (not shown to host tools)", dest,
				 strerror(errno));
		return;
	}
	char at[64];
	snprintf(at, sizeof(at), "/proc/self/fd/%d", fd);
	int r;
	if (src) {
		r = mount(src, at, NULL, MS_BIND | MS_REC, NULL);
		if (r == 0 && ro)
			r = mount(NULL, at, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
				  NULL);
	} else {
		/* proc, sysfs, tmpfs, devpts… live in the guest only: nothing to read, and a write
		 * fails rather than landing in the rootfs under the guest's mount */
		r = mount("runm-guest-only", at, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=4k,mode=0755");
	}
	if (r < 0)
		log_warn("container view: mount %s on %s: %s (not shown to host tools)", src ? src : "tmpfs",
			 dest, strerror(errno));
	close(fd);
}

static const char *str_of(yajl_val obj, const char *key)
{
	return json_get_str(obj, key);
}

/* Every mount of the spec, in its order, at its destination in the view ROOTFD. SH lists the
 * binds the guest gets from the share (guest_config): their destination strings are the
 * spec's own, so a mount is one of them exactly when the next one names its destination. */
static void mount_all(int rootfd, const struct spec *s, const struct guest_shares *sh, const char *share,
		      const struct disks_plan *dp)
{
	yajl_val ms = json_get(s->root, "mounts", yajl_t_array);
	size_t k = 0;
	for (size_t j = 0; ms && j < ms->u.array.len; j++) {
		const char *dest = str_of(ms->u.array.values[j], "destination");
		if (!dest || disks_dev_of(dp, DISKS_DEV_BIND, j))
			continue; /* a block device's bind is the VM's drive: nothing of it on the host */
		if (k < sh->nbinds && sh->binds[k].dest == dest) {
			char src[PATH_MAX];
			if (!share)
				snprintf(src, sizeof(src), "%s", sh->binds[k].source);
			else
				snprintf(src, sizeof(src), "%s%s", share, sh->binds[k].entry);
			/* the share's binds are read-only already when the spec says so */
			mount_at(rootfd, dest, src, !share && sh->binds[k].readonly);
			k++;
		} else {
			mount_at(rootfd, dest, NULL, false);
		}
	}
}

int host_view_enter(struct host_view *hv, const struct spec *s, const char *dir, const char *share,
		    const struct disks_plan *dp, char *err, size_t errlen)
{
	char root[PATH_MAX];
	if (!share)
		snprintf(root, sizeof(root), "%s", s->rootfs);
	else if ((size_t)snprintf(root, sizeof(root), "%s/rootfs", share) >= sizeof(root))
		return fail(err, errlen, ENAMETOOLONG, "path", share);
	struct guest_shares sh;
	char *cfg = NULL;
	if (guest_config(s, dir, false, dp, &sh, &cfg, err, errlen) < 0)
		return -1;
	free(cfg);
	int rc = -1, rootfd = -1;
	hv->host_mntns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (hv->host_mntns < 0) {
		fail(err, errlen, errno, "open", "/proc/self/ns/mnt");
		goto out;
	}
	hv->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (hv->dir_fd < 0) {
		fail(err, errlen, errno, "open state directory", dir);
		goto out;
	}
	if (unshare(CLONE_NEWNS) < 0) {
		fail(err, errlen, errno, "unshare the mount namespace for", s->rootfs);
		goto out;
	}
	hv->inside = true;
	hooks_set_host_mntns(hv->host_mntns); /* poststart runs in the runtime's namespace */
	/* nothing done here reaches the host's namespace */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0) {
		fail(err, errlen, errno, "make the mounts slaves of the host's under", "/");
		goto out;
	}
	/* a mount of our own to become the root (pivot_root wants a mount point) */
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0) {
		fail(err, errlen, errno, "bind mount", root);
		goto out;
	}
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		fail(err, errlen, errno, "open", root);
		goto out;
	}
	mount_all(rootfd, s, &sh, share, dp);
	if (s->readonly && mount(NULL, root, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		log_warn("container view: remount %s read-only: %s", root, strerror(errno));
	/* the view becomes the root; the host's tree, stacked on it by pivot_root, is detached */
	if (fchdir(rootfd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0) {
		fail(err, errlen, errno, "pivot_root into", root);
		goto out;
	}
	if (umount2(".", MNT_DETACH) < 0) {
		fail(err, errlen, errno, "detach the host's mounts from", root);
		goto out;
	}
	if (chdir("/") < 0 || fchdir(hv->dir_fd) < 0) {
		fail(err, errlen, errno, "change directory to", dir);
		goto out;
	}
	rc = 0;
out:
	if (rootfd >= 0)
		close(rootfd);
	guest_shares_free(&sh);
	return rc;
}

void host_view_leave(struct host_view *hv)
{
	if (hv->inside) {
		if (setns(hv->host_mntns, CLONE_NEWNS) < 0)
			log_errno(errno, "container view: return to the host's mount namespace");
		else if (fchdir(hv->dir_fd) < 0)
			log_errno(errno, "container view: change directory to the state directory");
		hv->inside = false;
	}
	hooks_set_host_mntns(-1);
	if (hv->host_mntns >= 0)
		close(hv->host_mntns);
	if (hv->dir_fd >= 0)
		close(hv->dir_fd);
	hv->host_mntns = hv->dir_fd = -1;
}
