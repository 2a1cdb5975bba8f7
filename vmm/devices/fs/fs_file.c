/* SPDX-License-Identifier: Apache-2.0 */
/* File handles: open, create, read, write, release, flush, fsync, fallocate,
 * lseek, copy_file_range. Data moves between the file and the request/reply
 * iovecs directly (no bounce buffer). */
#include "fs_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#define FS_MAX_SEGS 1024

/* The open flags of a new handle on INO (open on FD). cache=auto keeps the guest's page cache
 * of a file when the file has not changed since its last open (mtime, ctime, size: ctime moves
 * on any change, by anyone), as libfuse's auto_cache does; any change drops it, so an open still
 * sees what the host wrote before it. Dropping it on every open, as before, made each exec of a
 * binary read it again, and under QEMU TCG the pages read again into recycled guest memory by
 * this out-of-process device could run stale translated code (TCG does not see our writes). */
static uint32_t open_flags_for(const struct fs_server *s, struct fs_inode *ino, int fd)
{
	switch (s->cache) {
	case FS_CACHE_NONE:
		return FOPEN_DIRECT_IO;
	case FS_CACHE_ALWAYS:
		return FOPEN_KEEP_CACHE;
	default:
		break;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		ino->open_stamped = false;
		return 0;
	}
	bool same =
	    ino->open_stamped && st.st_size == ino->open_size &&
	    st.st_mtim.tv_sec == ino->open_mtime.tv_sec && st.st_mtim.tv_nsec == ino->open_mtime.tv_nsec &&
	    st.st_ctim.tv_sec == ino->open_ctime.tv_sec && st.st_ctim.tv_nsec == ino->open_ctime.tv_nsec;
	ino->open_mtime = st.st_mtim;
	ino->open_ctime = st.st_ctim;
	ino->open_size = st.st_size;
	ino->open_stamped = true;
	return same ? FOPEN_KEEP_CACHE : 0;
}

/* Flags the guest may ask for when opening a file on the host. */
static int clean_flags(uint32_t f)
{
	int keep = O_ACCMODE | O_APPEND | O_TRUNC | O_NONBLOCK | O_DSYNC | O_SYNC | O_DIRECT | O_NOATIME |
		   O_LARGEFILE;
	return (int)f & keep;
}

int64_t fs_op_open(struct fs_req *r)
{
	const struct fuse_open_in *in = (const void *)r->arg;
	struct fs_inode *ino = fs_req_inode(r, r->h->nodeid);
	if (!ino)
		return -EBADF;
	if (ino->type == S_IFDIR)
		return -EISDIR;
	if ((in->flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	int fd = fs_reopen(r->s, ino, clean_flags(in->flags));
	if (fd < 0)
		return fd;
	uint64_t fh = fs_handle_new(&r->s->ht, fd, false, ino->nodeid);
	if (!fh) {
		close(fd);
		return -ENFILE;
	}
	struct fuse_open_out *o = (void *)fs_reply_buf(r);
	memset(o, 0, sizeof(*o));
	o->fh = fh;
	o->open_flags = open_flags_for(r->s, ino, fd);
	return sizeof(*o);
}

int64_t fs_op_create(struct fs_req *r)
{
	const struct fuse_create_in *in = (const void *)r->arg;
	struct fs_inode *p = fs_req_inode(r, r->h->nodeid);
	if (!p)
		return -EBADF;
	const char *name = fs_arg_name(r, sizeof(*in), NULL);
	if (!name)
		return -EINVAL;
	int err = fs_check_name(name);
	if (err)
		return err;
	if (p->type != S_IFDIR)
		return -ENOTDIR;
	if ((in->flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	int flags = clean_flags(in->flags) | O_CREAT | (int)(in->flags & O_EXCL);
	int fd = FS_NO_UMASK(fs_openat_beneath(p->fd, name, flags, in->mode & 07777));
	if (fd < 0)
		return fd;
	struct fuse_entry_out *e = (void *)fs_reply_buf(r);
	err = fs_do_lookup(r->s, p, name, e);
	if (err) {
		close(fd);
		return err;
	}
	uint64_t fh = fs_handle_new(&r->s->ht, fd, false, e->nodeid);
	if (!fh) {
		close(fd);
		struct fs_inode *ino = fs_req_inode(r, e->nodeid);
		if (ino)
			fs_inode_unref(&r->s->it, ino, 1);
		return -ENFILE;
	}
	struct fuse_open_out *o = (void *)(fs_reply_buf(r) + sizeof(*e));
	memset(o, 0, sizeof(*o));
	o->fh = fh;
	struct fs_inode *ci = fs_req_inode(r, e->nodeid);
	o->open_flags = ci ? open_flags_for(r->s, ci, fd) : 0;
	return sizeof(*e) + sizeof(*o);
}

int64_t fs_op_read(struct fs_req *r)
{
	const struct fuse_read_in *in = (const void *)r->arg;
	struct fs_handle *h = fs_handle_get(&r->s->ht, in->fh, false);
	if (!h)
		return -EBADF;
	if (in->offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	size_t hdr = sizeof(struct fuse_out_header);
	if (r->repcap < hdr)
		return -EIO;
	size_t len = in->size;
	if (len > r->repcap - hdr)
		len = r->repcap - hdr;
	if (len > INT32_MAX)
		len = INT32_MAX;
	struct iovec seg[FS_MAX_SEGS];
	unsigned n = fs_iov_slice(r->rep, r->nrep, hdr, len, seg, FS_MAX_SEGS);
	/* One segment is the common case (and pread is cheaper than preadv). */
	ssize_t got = n == 1  ? pread(h->fd, seg[0].iov_base, seg[0].iov_len, (off_t)in->offset)
		      : n > 1 ? preadv(h->fd, seg, (int)n, (off_t)in->offset)
			      : 0;
	if (got < 0)
		return -errno;
	r->direct_len = (size_t)got;
	return FS_DIRECT_REPLY;
}

int64_t fs_op_write(struct fs_req *r)
{
	const struct fuse_write_in *in = (const void *)r->arg;
	struct fs_handle *h = fs_handle_get(&r->s->ht, in->fh, false);
	if (!h)
		return -EBADF;
	size_t avail = r->arglen - sizeof(*in);
	if (in->size > avail || in->size > FS_MAX_WRITE)
		return -EINVAL;
	if (in->offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	struct iovec seg[FS_MAX_SEGS];
	unsigned n = fs_iov_slice(r->req, r->nreq, r->data_off, in->size, seg, FS_MAX_SEGS);
	ssize_t put = n == 1  ? pwrite(h->fd, seg[0].iov_base, seg[0].iov_len, (off_t)in->offset)
		      : n > 1 ? pwritev(h->fd, seg, (int)n, (off_t)in->offset)
			      : 0;
	if (put < 0)
		return -errno;
	struct fuse_write_out *o = (void *)fs_reply_buf(r);
	memset(o, 0, sizeof(*o));
	o->size = (uint32_t)put;
	return sizeof(*o);
}

int64_t fs_op_release(struct fs_req *r)
{
	const struct fuse_release_in *in = (const void *)r->arg;
	if (!fs_handle_get(&r->s->ht, in->fh, false))
		return -EBADF;
	fs_handle_free(&r->s->ht, in->fh);
	return 0;
}

int64_t fs_op_flush(struct fs_req *r)
{
	const struct fuse_flush_in *in = (const void *)r->arg;
	struct fs_handle *h = fs_handle_get(&r->s->ht, in->fh, false);
	if (!h)
		return -EBADF;
	/* Closing a duplicate drops POSIX locks and reports deferred write errors. */
	int d = dup(h->fd);
	if (d < 0)
		return -errno;
	return close(d) < 0 ? -errno : 0;
}

int64_t fs_op_fsync(struct fs_req *r)
{
	const struct fuse_fsync_in *in = (const void *)r->arg;
	struct fs_handle *h = fs_handle_get(&r->s->ht, in->fh, false);
	if (!h)
		return -EBADF;
	int rc = (in->fsync_flags & 1) ? fdatasync(h->fd) : fsync(h->fd);
	return rc < 0 ? -errno : 0;
}

int64_t fs_op_fallocate(struct fs_req *r)
{
	const struct fuse_fallocate_in *in = (const void *)r->arg;
	struct fs_handle *h = fs_handle_get(&r->s->ht, in->fh, false);
	if (!h)
		return -EBADF;
	if (in->offset > (uint64_t)INT64_MAX || in->length > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (fallocate(h->fd, (int)in->mode, (off_t)in->offset, (off_t)in->length) < 0)
		return -errno;
	return 0;
}

int64_t fs_op_lseek(struct fs_req *r)
{
	const struct fuse_lseek_in *in = (const void *)r->arg;
	struct fs_handle *h = fs_handle_get(&r->s->ht, in->fh, false);
	if (!h)
		return -EBADF;
	if (in->whence != SEEK_DATA && in->whence != SEEK_HOLE && in->whence != SEEK_SET &&
	    in->whence != SEEK_CUR && in->whence != SEEK_END)
		return -EINVAL;
	if (in->offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	off_t o = lseek(h->fd, (off_t)in->offset, (int)in->whence);
	if (o < 0)
		return -errno;
	struct fuse_lseek_out *out = (void *)fs_reply_buf(r);
	out->offset = (uint64_t)o;
	return sizeof(*out);
}

int64_t fs_op_copy_file_range(struct fs_req *r)
{
	const struct fuse_copy_file_range_in *in = (const void *)r->arg;
	struct fs_handle *hi = fs_handle_get(&r->s->ht, in->fh_in, false);
	struct fs_handle *ho = fs_handle_get(&r->s->ht, in->fh_out, false);
	if (!hi || !ho)
		return -EBADF;
	if (in->off_in > (uint64_t)INT64_MAX || in->off_out > (uint64_t)INT64_MAX || in->flags)
		return -EINVAL;
	size_t len = in->len > (1u << 30) ? (1u << 30) : (size_t)in->len;
	loff_t oi = (loff_t)in->off_in, oo = (loff_t)in->off_out;
	ssize_t n = copy_file_range(hi->fd, &oi, ho->fd, &oo, len, 0);
	if (n < 0)
		return -errno;
	struct fuse_write_out *o = (void *)fs_reply_buf(r);
	memset(o, 0, sizeof(*o));
	o->size = (uint32_t)n;
	return sizeof(*o);
}
