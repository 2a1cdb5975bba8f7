/* SPDX-License-Identifier: Apache-2.0 */
/* Extended attributes: set/get/list/remove. O_PATH handles do not carry xattr
 * operations, so the inode is reached through its /proc/self/fd entry (our own
 * descriptor; symlinks are refused so nothing is followed). */
#include "fs_priv.h"

#include <errno.h>
#include <string.h>
#include <sys/xattr.h>

#define XATTR_MAX_VALUE 65536

static int xattr_target(struct fs_req *r, char *path, size_t n, struct fs_inode **out)
{
	struct fs_inode *in = fs_req_inode(r, r->h->nodeid);
	if (!in)
		return -EBADF;
	if (in->type != S_IFREG && in->type != S_IFDIR)
		return -EPERM;
	*out = in;
	return fs_proc_path(in, path, n);
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
	char path[32];
	struct fs_inode *ino;
	err = xattr_target(r, path, sizeof(path), &ino);
	if (err)
		return err;
	if (setxattr(path, name, r->arg + next, in->size, (int)in->flags) < 0)
		return -errno;
	return 0;
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
	char path[32];
	struct fs_inode *ino;
	err = xattr_target(r, path, sizeof(path), &ino);
	if (err)
		return err == -EPERM ? -ENODATA : err;
	if (in->size == 0) {
		ssize_t n = getxattr(path, name, NULL, 0);
		if (n < 0)
			return -errno;
		struct fuse_getxattr_out *o = (void *)fs_reply_buf(r);
		memset(o, 0, sizeof(*o));
		o->size = (uint32_t)n;
		return sizeof(*o);
	}
	size_t cap = in->size > XATTR_MAX_VALUE ? XATTR_MAX_VALUE : in->size;
	ssize_t n = getxattr(path, name, fs_reply_buf(r), cap);
	return n < 0 ? -errno : n;
}

int64_t fs_op_listxattr(struct fs_req *r)
{
	const struct fuse_getxattr_in *in = (const void *)r->arg;
	char path[32];
	struct fs_inode *ino;
	int err = xattr_target(r, path, sizeof(path), &ino);
	ssize_t n;
	if (err == -EPERM) {
		n = 0; /* symlinks and special files: no attributes reachable */
		if (in->size == 0) {
			struct fuse_getxattr_out *o = (void *)fs_reply_buf(r);
			memset(o, 0, sizeof(*o));
			return sizeof(*o);
		}
		return 0;
	}
	if (err)
		return err;
	if (in->size == 0) {
		n = listxattr(path, NULL, 0);
		if (n < 0)
			return -errno;
		struct fuse_getxattr_out *o = (void *)fs_reply_buf(r);
		memset(o, 0, sizeof(*o));
		o->size = (uint32_t)n;
		return sizeof(*o);
	}
	size_t cap = in->size > XATTR_MAX_VALUE ? XATTR_MAX_VALUE : in->size;
	n = listxattr(path, (char *)fs_reply_buf(r), cap);
	return n < 0 ? -errno : n;
}

int64_t fs_op_removexattr(struct fs_req *r)
{
	const char *name = fs_arg_name(r, 0, NULL);
	if (!name)
		return -EINVAL;
	int err = check_xname(name);
	if (err)
		return err;
	char path[32];
	struct fs_inode *ino;
	err = xattr_target(r, path, sizeof(path), &ino);
	if (err)
		return err;
	return removexattr(path, name) < 0 ? -errno : 0;
}
