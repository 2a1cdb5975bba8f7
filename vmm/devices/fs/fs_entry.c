/* SPDX-License-Identifier: Apache-2.0 */
/* Inode-level operations: lookup, forget, getattr, setattr, readlink, statfs, access. */
#include "fs_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

int64_t fs_op_lookup(struct fs_req *r)
{
	struct fs_inode *p = fs_req_inode(r, r->h->nodeid);
	const char *name = fs_arg_name(r, 0, NULL);
	if (!p)
		return -EBADF;
	if (!name)
		return -EINVAL;
	int err = fs_check_name(name);
	if (err)
		return err;
	struct fuse_entry_out *e = (void *)fs_reply_buf(r);
	err = fs_do_lookup(r->s, p, name, e);
	return err ? err : (int64_t)sizeof(*e);
}

int64_t fs_op_forget(struct fs_req *r)
{
	const struct fuse_forget_in *f = (const void *)r->arg;
	struct fs_inode *in = fs_req_inode(r, r->h->nodeid);
	if (in)
		fs_inode_unref(&r->s->it, in, f->nlookup);
	return FS_NOREPLY;
}

int64_t fs_op_batch_forget(struct fs_req *r)
{
	const struct fuse_batch_forget_in *b = (const void *)r->arg;
	size_t room = (r->arglen - sizeof(*b)) / sizeof(struct fuse_forget_one);
	uint32_t n = b->count < room ? b->count : (uint32_t)room;
	const struct fuse_forget_one *one = (const void *)(r->arg + sizeof(*b));
	for (uint32_t i = 0; i < n; i++) {
		struct fuse_forget_one f;
		memcpy(&f, &one[i], sizeof(f));
		struct fs_inode *in = fs_req_inode(r, f.nodeid);
		if (in)
			fs_inode_unref(&r->s->it, in, f.nlookup);
	}
	return FS_NOREPLY;
}

static int64_t reply_attr(struct fs_req *r, const struct stat *st)
{
	struct fuse_attr_out *o = (void *)fs_reply_buf(r);
	memset(o, 0, sizeof(*o));
	fs_set_timeout(r->s, &o->attr_valid, &o->attr_valid_nsec);
	fs_fill_attr(&o->attr, st);
	return sizeof(*o);
}

int64_t fs_op_getattr(struct fs_req *r)
{
	const struct fuse_getattr_in *g = (const void *)r->arg;
	struct fs_inode *in = fs_req_inode(r, r->h->nodeid);
	if (!in)
		return -EBADF;
	struct stat st;
	int rc;
	struct fs_handle *h =
	    (g->getattr_flags & FUSE_GETATTR_FH) ? fs_handle_get(&r->s->ht, g->fh, false) : NULL;
	if (h)
		rc = fstat(h->fd, &st);
	else
		rc = fstat(in->fd, &st);
	if (rc < 0)
		return -errno;
	return reply_attr(r, &st);
}

static int set_times(struct fs_server *s, struct fs_inode *in, const struct fuse_setattr_in *a)
{
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
	if (a->valid & FATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (a->valid & FATTR_ATIME)
		ts[0] = (struct timespec){.tv_sec = (time_t)a->atime, .tv_nsec = a->atimensec};
	if (a->valid & FATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (a->valid & FATTR_MTIME)
		ts[1] = (struct timespec){.tv_sec = (time_t)a->mtime, .tv_nsec = a->mtimensec};
	if (ts[0].tv_nsec != UTIME_NOW && ts[0].tv_nsec != UTIME_OMIT && ts[0].tv_nsec >= 1000000000L)
		return -EINVAL;
	if (ts[1].tv_nsec != UTIME_NOW && ts[1].tv_nsec != UTIME_OMIT && ts[1].tv_nsec >= 1000000000L)
		return -EINVAL;
	int rc;
	if (in->type == S_IFLNK) {
		rc = utimensat(in->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	} else {
		char name[16];
		snprintf(name, sizeof(name), "%d", in->fd);
		rc = utimensat(s->proc_fd, name, ts, 0);
	}
	return rc < 0 ? -errno : 0;
}

int64_t fs_op_setattr(struct fs_req *r)
{
	const struct fuse_setattr_in *a = (const void *)r->arg;
	struct fs_inode *in = fs_req_inode(r, r->h->nodeid);
	if (!in)
		return -EBADF;
	struct fs_handle *h = (a->valid & FATTR_FH) ? fs_handle_get(&r->s->ht, a->fh, false) : NULL;
	if ((a->valid & FATTR_FH) && !h)
		return -EBADF;
	char name[16];
	snprintf(name, sizeof(name), "%d", in->fd);
	if (a->valid & FATTR_MODE) {
		if (in->type == S_IFLNK)
			return -EOPNOTSUPP;
		int rc =
		    h ? fchmod(h->fd, a->mode & 07777) : fchmodat(r->s->proc_fd, name, a->mode & 07777, 0);
		if (rc < 0)
			return -errno;
	}
	if (a->valid & (FATTR_UID | FATTR_GID)) {
		uid_t uid = (a->valid & FATTR_UID) ? a->uid : (uid_t)-1;
		gid_t gid = (a->valid & FATTR_GID) ? a->gid : (gid_t)-1;
		if (fchownat(in->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (a->valid & FATTR_SIZE) {
		if (in->type != S_IFREG)
			return in->type == S_IFDIR ? -EISDIR : -EINVAL;
		int rc;
		if (h) {
			rc = ftruncate(h->fd, (off_t)a->size);
		} else {
			int fd = fs_reopen(r->s, in, O_WRONLY);
			if (fd < 0)
				return fd;
			rc = ftruncate(fd, (off_t)a->size);
			if (rc < 0)
				rc = -errno;
			close(fd);
			if (rc < 0)
				return rc;
		}
		if (rc < 0)
			return -errno;
	}
	if (a->valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)) {
		int rc = set_times(r->s, in, a);
		if (rc < 0)
			return rc;
	}
	struct stat st;
	if (fstat(in->fd, &st) < 0)
		return -errno;
	return reply_attr(r, &st);
}

int64_t fs_op_readlink(struct fs_req *r)
{
	struct fs_inode *in = fs_req_inode(r, r->h->nodeid);
	if (!in)
		return -EBADF;
	if (in->type != S_IFLNK)
		return -EINVAL;
	ssize_t n = readlinkat(in->fd, "", (char *)fs_reply_buf(r), 4096);
	if (n < 0)
		return -errno;
	return n;
}

int64_t fs_op_statfs(struct fs_req *r)
{
	struct fs_inode *in = fs_req_inode(r, r->h->nodeid ? r->h->nodeid : FUSE_ROOT_ID);
	if (!in)
		return -EBADF;
	struct statfs sf;
	if (fstatfs(in->fd, &sf) < 0)
		return -errno;
	struct fuse_statfs_out *o = (void *)fs_reply_buf(r);
	memset(o, 0, sizeof(*o));
	o->st.blocks = sf.f_blocks;
	o->st.bfree = sf.f_bfree;
	o->st.bavail = sf.f_bavail;
	o->st.files = sf.f_files;
	o->st.ffree = sf.f_ffree;
	o->st.bsize = (uint32_t)sf.f_bsize;
	o->st.namelen = (uint32_t)sf.f_namelen;
	o->st.frsize = (uint32_t)sf.f_frsize;
	return sizeof(*o);
}

/* Permission check by mode bits for the requester's fsuid/fsgid (the ids
 * set_creds installed). Supplementary groups are not carried by FUSE. */
int64_t fs_op_access(struct fs_req *r)
{
	const struct fuse_access_in *a = (const void *)r->arg;
	struct fs_inode *in = fs_req_inode(r, r->h->nodeid);
	if (!in)
		return -EBADF;
	if (a->mask & ~(uint32_t)(R_OK | W_OK | X_OK))
		return -EINVAL;
	if (in->type == S_IFLNK)
		return 0;
	struct stat st;
	if (fstat(in->fd, &st) < 0)
		return -errno;
	if (a->mask & W_OK) {
		struct statfs sf;
		if (fstatfs(in->fd, &sf) == 0 && (sf.f_flags & ST_RDONLY))
			return -EROFS;
	}
	uid_t uid = r->h->uid;
	gid_t gid = r->h->gid;
	if (uid == 0) {
		/* root: anything but executing a file nobody may execute */
		if ((a->mask & X_OK) && !S_ISDIR(st.st_mode) && !(st.st_mode & 0111))
			return -EACCES;
		return 0;
	}
	mode_t bits = st.st_uid == uid	 ? (st.st_mode >> 6)
		      : st.st_gid == gid ? (st.st_mode >> 3)
					 : st.st_mode;
	return (a->mask & ~(bits & 7)) ? -EACCES : 0;
}
