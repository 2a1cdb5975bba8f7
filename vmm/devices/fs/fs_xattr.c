/* SPDX-License-Identifier: Apache-2.0 */
/* Extended attributes: set/get/list/remove. O_PATH handles do not carry xattr
 * operations, so regular files and directories are reopened (read-only,
 * non-blocking) through the server's own /proc/self/fd entry and the f*xattr
 * calls used; links and special files are refused so nothing is followed. */
#include "fs_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>
#include <sys/xattr.h>

#define XATTR_MAX_VALUE 65536

/* A descriptor (>= 0) to run f*xattr on, or -errno. */
static int xattr_target(struct fs_req *r)
{
	struct fs_inode *in = fs_req_inode(r, r->h->nodeid);
	if (!in)
		return -EBADF;
	if (in->type != S_IFREG && in->type != S_IFDIR)
		return -EPERM;
	return fs_reopen(r->s, in, O_RDONLY | O_NONBLOCK | (in->type == S_IFDIR ? O_DIRECTORY : 0));
}

static int64_t done(int fd, int64_t rc)
{
	close(fd);
	return rc;
}

static int check_xname(const char *name)
{
	size_t n = strlen(name);
	if (n == 0)
		return -EINVAL;
	if (n > 255)
		return -ERANGE;
	return 0;
}

int64_t fs_op_setxattr(struct fs_req *r)
{
	const struct fuse_setxattr_in *in = (const void *)r->arg;
	/* FUSE_SETXATTR_EXT is never negotiated, so the argument is the 8-byte form. */
	size_t fixed = FUSE_COMPAT_SETXATTR_IN_SIZE;
	size_t next;
	const char *name = fs_arg_name(r, fixed, &next);
	if (!name)
		return -EINVAL;
	int err = check_xname(name);
	if (err)
		return err;
	if (in->size > XATTR_MAX_VALUE || in->size > r->arglen - next)
		return -EINVAL;
	if (in->flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	int fd = xattr_target(r);
	if (fd < 0)
		return fd;
	return done(fd, fsetxattr(fd, name, r->arg + next, in->size, (int)in->flags) < 0 ? -errno : 0);
}

int64_t fs_op_getxattr(struct fs_req *r)
{
	const struct fuse_getxattr_in *in = (const void *)r->arg;
	const char *name = fs_arg_name(r, sizeof(*in), NULL);
	if (!name)
		return -EINVAL;
	int err = check_xname(name);
	if (err)
		return err;
	int fd = xattr_target(r);
	if (fd < 0)
		return fd == -EPERM ? -ENODATA : fd;
	if (in->size == 0) {
		ssize_t n = fgetxattr(fd, name, NULL, 0);
		if (n < 0)
			return done(fd, -errno);
		struct fuse_getxattr_out *o = (void *)fs_reply_buf(r);
		memset(o, 0, sizeof(*o));
		o->size = (uint32_t)n;
		return done(fd, sizeof(*o));
	}
	size_t cap = in->size > XATTR_MAX_VALUE ? XATTR_MAX_VALUE : in->size;
	ssize_t n = fgetxattr(fd, name, fs_reply_buf(r), cap);
	return done(fd, n < 0 ? -errno : n);
}

int64_t fs_op_listxattr(struct fs_req *r)
{
	const struct fuse_getxattr_in *in = (const void *)r->arg;
	int fd = xattr_target(r);
	ssize_t n;
	if (fd == -EPERM) {
		/* links and special files: no attributes reachable */
		if (in->size == 0) {
			struct fuse_getxattr_out *o = (void *)fs_reply_buf(r);
			memset(o, 0, sizeof(*o));
			return sizeof(*o);
		}
		return 0;
	}
	if (fd < 0)
		return fd;
	if (in->size == 0) {
		n = flistxattr(fd, NULL, 0);
		if (n < 0)
			return done(fd, -errno);
		struct fuse_getxattr_out *o = (void *)fs_reply_buf(r);
		memset(o, 0, sizeof(*o));
		o->size = (uint32_t)n;
		return done(fd, sizeof(*o));
	}
	size_t cap = in->size > XATTR_MAX_VALUE ? XATTR_MAX_VALUE : in->size;
	n = flistxattr(fd, (char *)fs_reply_buf(r), cap);
	return done(fd, n < 0 ? -errno : n);
}

int64_t fs_op_removexattr(struct fs_req *r)
{
	const char *name = fs_arg_name(r, 0, NULL);
	if (!name)
		return -EINVAL;
	int err = check_xname(name);
	if (err)
		return err;
	int fd = xattr_target(r);
	if (fd < 0)
		return fd;
	return done(fd, fremovexattr(fd, name) < 0 ? -errno : 0);
}
