/* SPDX-License-Identifier: Apache-2.0 */
/* Host-side shared directory for one container: see share.h. */
#include "share.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mounts.h"

static int fail(char *err, size_t n, int e, const char *what, const char *on)
{
	snprintf(err, n, "fs share: %s: %s: %s", what, on, strerror(e));
	return -e;
}

/* Bind src on dst (recursively), make it private, and read-only if asked. */
static int bind_one(const char *src, const char *dst, bool ro, char *err, size_t n)
{
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return fail(err, n, errno, "bind mount", src);
	if (mount(NULL, dst, NULL, MS_PRIVATE | MS_REC, NULL) < 0)
		return fail(err, n, errno, "make mount private", dst);
	/* nosuid/nodev on the host side only: the guest still sees (and applies)
	 * set-id bits and creates device nodes, but nothing the guest made there
	 * can be used through the share by the host. */
	unsigned long fl = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (ro ? MS_RDONLY : 0);
	if (mount(NULL, dst, NULL, fl, NULL) < 0)
		return fail(err, n, errno, ro ? "remount read-only, nosuid, nodev" : "remount nosuid, nodev", dst);
	return 0;
}

static int make_point(const char *src, const char *dst, char *err, size_t n)
{
	struct stat st;
	if (stat(src, &st) < 0)
		return fail(err, n, errno, "stat bind source", src);
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0755) < 0)
			return fail(err, n, errno, "mkdir", dst);
	} else {
		int fd = open(dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return fail(err, n, errno, "create", dst);
		close(fd);
	}
	return 0;
}

static int prepare(const char *share_dir, const char *bundle_rootfs, bool rootfs_readonly,
		   const struct fs_share_bind *binds, size_t nbinds, bool nested, char *err, size_t errlen);

int fs_share_prepare(const char *share_dir, const char *bundle_rootfs, bool rootfs_readonly,
		     const struct fs_share_bind *binds, size_t nbinds, char *err, size_t errlen)
{
	return prepare(share_dir, bundle_rootfs, rootfs_readonly, binds, nbinds, false, err, errlen);
}

int fs_share_prepare_nested(const char *share_dir, const char *bundle_rootfs, bool rootfs_readonly,
			    const struct fs_share_bind *binds, size_t nbinds, char *err, size_t errlen)
{
	return prepare(share_dir, bundle_rootfs, rootfs_readonly, binds, nbinds, true, err, errlen);
}

static int prepare(const char *share_dir, const char *bundle_rootfs, bool rootfs_readonly,
		   const struct fs_share_bind *binds, size_t nbinds, bool nested, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int rc;
	if (mkdir(share_dir, 0711) < 0) /* searchable: the root of a user namespace maps no host id */
		return fail(err, errlen, errno, "mkdir", share_dir);
	/* A mount of its own, in a peer group of its own: nothing below propagates anywhere on the
	 * host, but what is mounted below later (a pod member's rootfs and volumes, docs/pods.md)
	 * reaches the jailed fs server, whose copy of the share is a slave of this one. */
	if (mount(share_dir, share_dir, NULL, MS_BIND, NULL) < 0) {
		rc = fail(err, errlen, errno, "bind mount", share_dir);
		rmdir(share_dir);
		return rc;
	}
	/* nested: already shared with the VM's share (and so with the fs server's copy) */
	if (!nested &&
	    (mount(NULL, share_dir, NULL, MS_PRIVATE, NULL) < 0 || mount(NULL, share_dir, NULL, MS_SHARED, NULL) < 0)) {
		rc = fail(err, errlen, errno, "make mount a peer group of its own", share_dir);
		goto undo;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/rootfs", share_dir) >= sizeof(path)) {
		rc = fail(err, errlen, ENAMETOOLONG, "path", share_dir);
		goto undo;
	}
	if (mkdir(path, 0755) < 0) {
		rc = fail(err, errlen, errno, "mkdir", path);
		goto undo;
	}
	rc = bind_one(bundle_rootfs, path, rootfs_readonly, err, errlen);
	if (rc)
		goto undo;
	snprintf(path, sizeof(path), "%s/mounts", share_dir);
	if (mkdir(path, 0755) < 0) {
		rc = fail(err, errlen, errno, "mkdir", path);
		goto undo;
	}
	for (size_t i = 0; i < nbinds; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/mounts/%zu", share_dir, i) >= sizeof(path)) {
			rc = fail(err, errlen, ENAMETOOLONG, "path", share_dir);
			goto undo;
		}
		rc = make_point(binds[i].source, path, err, errlen);
		if (rc)
			goto undo;
		rc = bind_one(binds[i].source, path, binds[i].readonly, err, errlen);
		if (rc)
			goto undo;
	}
	return 0;
undo:;
	char ignored[256];
	fs_share_cleanup(share_dir, ignored, sizeof(ignored));
	return rc;
}

/* Remove the empty mount points under SHARE/mounts, then the skeleton. */
static int remove_skeleton(const char *share_dir, char *err, size_t n)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/mounts", share_dir);
	DIR *d = opendir(path);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			/* rmdir fails on non-empty, unlinkat on a live mount point (EBUSY). */
			if (unlinkat(dirfd(d), de->d_name, de->d_type == DT_DIR ? AT_REMOVEDIR : 0) < 0 &&
			    errno != ENOENT) {
				int e = errno;
				snprintf(path, sizeof(path), "%s/mounts/%s", share_dir, de->d_name);
				closedir(d);
				return fail(err, n, e, "remove", path);
			}
		}
		closedir(d);
	}
	const char *names[] = {"mounts", "rootfs"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", share_dir, names[i]);
		if (rmdir(path) < 0 && errno != ENOENT)
			return fail(err, n, errno, "remove", path);
	}
	if (rmdir(share_dir) < 0 && errno != ENOENT)
		return fail(err, n, errno, "remove", share_dir);
	return 0;
}

int fs_share_cleanup(const char *share_dir, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(share_dir, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return fail(err, errlen, errno, "stat", share_dir);
	}
	/* every mount below, deepest first, by decoded mountinfo paths (common/mounts.h) */
	char uerr[PATH_MAX + 128];
	if (unmount_tree(share_dir, uerr, sizeof(uerr)) < 0) {
		snprintf(err, errlen, "fs share: %s", uerr);
		return -EBUSY;
	}
	return remove_skeleton(share_dir, err, errlen);
}
