/* SPDX-License-Identifier: Apache-2.0 */
/* Namespace operations: mknod, mkdir, symlink, unlink, rmdir, rename, link,
 * and directory handles: opendir, readdir(plus), releasedir, fsyncdir. */
#include "fs_priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Parent directory from the header node id and a checked name at `off`. */
static int parent_and_name(struct fs_req *r, uint64_t nodeid, size_t off, struct fs_inode **p,
			   const char **name, size_t *next)
{
	*p = fs_req_inode(r, nodeid);
	if (!*p)
		return -EBADF;
	*name = fs_arg_name(r, off, next);
	if (!*name)
		return -EINVAL;
	int err = fs_check_name(*name);
	if (err)
		return err;
	return (*p)->type == S_IFDIR ? 0 : -ENOTDIR;
}

static int64_t reply_entry(struct fs_req *r, struct fs_inode *p, const char *name)
{
	struct fuse_entry_out *e = (void *)fs_reply_buf(r);
	int err = fs_do_lookup(r->s, p, name, e);
	return err ? err : (int64_t)sizeof(*e);
}

int64_t fs_op_mknod(struct fs_req *r)
{
	const struct fuse_mknod_in *m = (const void *)r->arg;
	struct fs_inode *p;
	const char *name;
	int err = parent_and_name(r, r->h->nodeid, sizeof(*m), &p, &name, NULL);
	if (err)
		return err;
	mode_t t = m->mode & S_IFMT;
	if (t != S_IFREG && t != S_IFIFO && t != S_IFSOCK && t != S_IFCHR && t != S_IFBLK)
		return -EINVAL;
	if (FS_NO_UMASK(mknodat(p->fd, name, m->mode, m->rdev)) < 0)
		return -errno;
	return reply_entry(r, p, name);
}

int64_t fs_op_mkdir(struct fs_req *r)
{
	const struct fuse_mkdir_in *m = (const void *)r->arg;
	struct fs_inode *p;
	const char *name;
	int err = parent_and_name(r, r->h->nodeid, sizeof(*m), &p, &name, NULL);
	if (err)
		return err;
	if (FS_NO_UMASK(mkdirat(p->fd, name, m->mode & 07777)) < 0)
		return -errno;
	return reply_entry(r, p, name);
}

int64_t fs_op_symlink(struct fs_req *r)
{
	struct fs_inode *p;
	const char *name;
	size_t next;
	int err = parent_and_name(r, r->h->nodeid, 0, &p, &name, &next);
	if (err)
		return err;
	const char *target = fs_arg_name(r, next, NULL);
	if (!target || !*target)
		return -EINVAL;
	if (strlen(target) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (symlinkat(target, p->fd, name) < 0)
		return -errno;
	return reply_entry(r, p, name);
}

int64_t fs_op_unlink(struct fs_req *r)
{
	struct fs_inode *p;
	const char *name;
	int err = parent_and_name(r, r->h->nodeid, 0, &p, &name, NULL);
	if (err)
		return err;
	return unlinkat(p->fd, name, 0) < 0 ? -errno : 0;
}

int64_t fs_op_rmdir(struct fs_req *r)
{
	struct fs_inode *p;
	const char *name;
	int err = parent_and_name(r, r->h->nodeid, 0, &p, &name, NULL);
	if (err)
		return err;
	return unlinkat(p->fd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int64_t do_rename(struct fs_req *r, uint64_t newdir, size_t off, unsigned flags)
{
	struct fs_inode *op, *np;
	const char *oname, *nname;
	size_t next;
	int err = parent_and_name(r, r->h->nodeid, off, &op, &oname, &next);
	if (err)
		return err;
	err = parent_and_name(r, newdir, next, &np, &nname, NULL);
	if (err)
		return err;
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (syscall(SYS_renameat2, op->fd, oname, np->fd, nname, flags) < 0)
		return -errno;
	return 0;
}

int64_t fs_op_rename(struct fs_req *r)
{
	const struct fuse_rename_in *in = (const void *)r->arg;
	return do_rename(r, in->newdir, sizeof(*in), 0);
}

int64_t fs_op_rename2(struct fs_req *r)
{
	const struct fuse_rename2_in *in = (const void *)r->arg;
	return do_rename(r, in->newdir, sizeof(*in), in->flags);
}

int64_t fs_op_link(struct fs_req *r)
{
	const struct fuse_link_in *l = (const void *)r->arg;
	struct fs_inode *np;
	const char *name;
	int err = parent_and_name(r, r->h->nodeid, sizeof(*l), &np, &name, NULL);
	if (err)
		return err;
	struct fs_inode *in = fs_req_inode(r, l->oldnodeid);
	if (!in)
		return -EBADF;
	if (in->type == S_IFDIR)
		return -EPERM;
	if (linkat(in->fd, "", np->fd, name, AT_EMPTY_PATH) < 0) {
		/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH, which a non-root fsuid drops. */
		if ((errno != ENOENT && errno != EPERM) || in->type == S_IFLNK)
			return -errno;
		char path[16];
		snprintf(path, sizeof(path), "%d", in->fd);
		if (linkat(r->s->proc_fd, path, np->fd, name, AT_SYMLINK_FOLLOW) < 0)
			return -errno;
	}
	return reply_entry(r, np, name);
}

int64_t fs_op_opendir(struct fs_req *r)
{
	struct fs_inode *in = fs_req_inode(r, r->h->nodeid);
	if (!in)
		return -EBADF;
	if (in->type != S_IFDIR)
		return -ENOTDIR;
	int fd = fs_reopen(r->s, in, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	uint64_t fh = fs_handle_new(&r->s->ht, fd, true, in->nodeid);
	if (!fh) {
		close(fd);
		return -ENFILE;
	}
	struct fuse_open_out *o = (void *)fs_reply_buf(r);
	memset(o, 0, sizeof(*o));
	o->fh = fh;
	if (r->s->cache == FS_CACHE_ALWAYS)
		o->open_flags = FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR;
	return sizeof(*o);
}

static bool dot_or_dotdot(const char *n)
{
	return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

static int64_t do_readdir(struct fs_req *r, bool plus)
{
	const struct fuse_read_in *in = (const void *)r->arg;
	struct fs_handle *h = fs_handle_get(&r->s->ht, in->fh, true);
	if (!h)
		return -EBADF;
	/* Entries are looked up under the directory the handle was opened on,
	 * whatever node id the request names. */
	struct fs_inode *dir = plus ? fs_req_inode(r, h->nodeid) : NULL;
	if (plus && !dir)
		return -EBADF;
	size_t cap = in->size;
	if (cap > FS_REPLY_MAX - sizeof(struct fuse_out_header))
		cap = FS_REPLY_MAX - sizeof(struct fuse_out_header);
	if (r->repcap < sizeof(struct fuse_out_header))
		return -EIO;
	if (cap > r->repcap - sizeof(struct fuse_out_header))
		cap = r->repcap - sizeof(struct fuse_out_header);
	if (in->offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (lseek(h->fd, (off_t)in->offset, SEEK_SET) < 0)
		return -errno;
	uint8_t *out = fs_reply_buf(r);
	size_t used = 0;
	char buf[8192] __attribute__((aligned(8)));
	for (;;) {
		long n = syscall(SYS_getdents64, h->fd, buf, sizeof(buf));
		if (n < 0)
			return used ? (int64_t)used : -errno;
		if (n == 0)
			return (int64_t)used;
		for (long pos = 0; pos < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + pos);
			pos += d->d_reclen;
			size_t namelen = strlen(d->d_name);
			size_t base = plus ? sizeof(struct fuse_direntplus) : sizeof(struct fuse_dirent);
			size_t need = FUSE_DIRENT_ALIGN(base + namelen);
			if (used + need > cap)
				return (int64_t)used; /* the next request starts at the last d_off */
			struct fuse_dirent *fd;
			if (plus) {
				struct fuse_direntplus *dp = (struct fuse_direntplus *)(out + used);
				memset(&dp->entry_out, 0, sizeof(dp->entry_out));
				if (!dot_or_dotdot(d->d_name) &&
				    fs_do_lookup(r->s, dir, d->d_name, &dp->entry_out) < 0)
					memset(&dp->entry_out, 0, sizeof(dp->entry_out));
				fd = &dp->dirent;
			} else {
				fd = (struct fuse_dirent *)(out + used);
			}
			fd->ino = d->d_ino;
			fd->off = (uint64_t)d->d_off;
			fd->namelen = (uint32_t)namelen;
			fd->type = d->d_type;
			memcpy(fd->name, d->d_name, namelen);
			size_t end = (size_t)((uint8_t *)fd->name - (out + used)) + namelen;
			memset(out + used + end, 0, need - end);
			used += need;
		}
	}
}

int64_t fs_op_readdir(struct fs_req *r)
{
	return do_readdir(r, false);
}

int64_t fs_op_readdirplus(struct fs_req *r)
{
	return do_readdir(r, true);
}

int64_t fs_op_releasedir(struct fs_req *r)
{
	const struct fuse_release_in *in = (const void *)r->arg;
	if (!fs_handle_get(&r->s->ht, in->fh, true))
		return -EBADF;
	fs_handle_free(&r->s->ht, in->fh);
	return 0;
}

int64_t fs_op_fsyncdir(struct fs_req *r)
{
	const struct fuse_fsync_in *in = (const void *)r->arg;
	struct fs_handle *h = fs_handle_get(&r->s->ht, in->fh, true);
	if (!h)
		return -EBADF;
	int rc = (in->fsync_flags & 1) ? fdatasync(h->fd) : fsync(h->fd);
	return rc < 0 ? -errno : 0;
}
