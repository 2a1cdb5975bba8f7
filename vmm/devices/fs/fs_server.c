/* SPDX-License-Identifier: Apache-2.0 */
/* FUSE request parsing and dispatch, INIT/DESTROY, shared helpers. */
#include "fs_priv.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int fs_cache_parse(const char *s)
{
	if (!strcmp(s, "auto"))
		return FS_CACHE_AUTO;
	if (!strcmp(s, "always"))
		return FS_CACHE_ALWAYS;
	if (!strcmp(s, "none"))
		return FS_CACHE_NONE;
	return -1;
}

/* ------------------------------------------------------------ helpers */

/* Open one checked name (no '/', never "." or "..") relative to a directory
 * handle, never through a symlink: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
 * | RESOLVE_NO_MAGICLINKS), so the kernel refuses an escape even if a bad name
 * got this far. Kernels before 5.6 lack openat2: there a single component with
 * O_NOFOLLOW, which cannot leave the directory either. */
int fs_openat_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
	static bool no_openat2;
	if (strchr(name, '/') || !strcmp(name, "..") || !strcmp(name, "."))
		return -EINVAL; /* callers check already; never pass a path */
	flags |= O_NOFOLLOW | O_CLOEXEC;
	if (!no_openat2) {
		struct open_how how = {
		    .flags = (uint64_t)(unsigned)flags,
		    .mode = (flags & O_CREAT) ? mode : 0,
		    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
		};
		long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS)
			return fd >= 0 ? (int)fd : -errno;
		no_openat2 = true;
	}
	int fd = openat(dirfd, name, flags, mode);
	return fd >= 0 ? fd : -errno;
}

int fs_check_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 255)
		return n ? -ENAMETOOLONG : -EINVAL;
	if (strchr(name, '/'))
		return -EINVAL;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return 0;
}

const char *fs_arg_name(struct fs_req *r, size_t off, size_t *next)
{
	if (off >= r->arglen)
		return NULL;
	const char *p = (const char *)r->arg + off;
	const char *z = memchr(p, '\0', r->arglen - off);
	if (!z)
		return NULL;
	if (next)
		*next = off + (size_t)(z - p) + 1;
	return p;
}

struct fs_inode *fs_req_inode(struct fs_req *r, uint64_t nodeid)
{
	return fs_inode_get(&r->s->it, nodeid);
}

int fs_proc_path(const struct fs_inode *in, char *buf, size_t n)
{
	int k = snprintf(buf, n, "/proc/self/fd/%d", in->fd);
	return k > 0 && (size_t)k < n ? 0 : -ENAMETOOLONG;
}

int fs_reopen(struct fs_server *s, const struct fs_inode *in, int flags)
{
	if (in->type != S_IFREG && in->type != S_IFDIR)
		return in->type == S_IFLNK ? -ELOOP : -EACCES;
	char name[16];
	snprintf(name, sizeof(name), "%d", in->fd);
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW | O_PATH);
	int fd = openat(s->proc_fd, name, flags | O_CLOEXEC);
	return fd >= 0 ? fd : -errno;
}

void fs_fill_attr(struct fuse_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = (uint32_t)st->st_rdev;
	a->blksize = (uint32_t)st->st_blksize;
}

double fs_timeout(const struct fs_server *s)
{
	switch (s->cache) {
	case FS_CACHE_ALWAYS:
		return 86400.0;
	case FS_CACHE_NONE:
		return 0.0;
	default:
		return 1.0;
	}
}

void fs_set_timeout(const struct fs_server *s, uint64_t *sec, uint32_t *nsec)
{
	*sec = (uint64_t)fs_timeout(s);
	*nsec = 0;
}

size_t fs_entry_out_size(const struct fs_server *s)
{
	return sizeof(struct fuse_entry_out);
}

size_t fs_attr_out_size(const struct fs_server *s)
{
	return sizeof(struct fuse_attr_out);
}

int fs_do_lookup(struct fs_server *s, struct fs_inode *parent, const char *name, struct fuse_entry_out *e)
{
	if (parent->type != S_IFDIR)
		return -ENOTDIR;
	/* Known inode: one stat of a single checked component (no symlink is
	 * followed, no '/' or '..' can appear) finds it without opening. */
	struct stat st;
	if (fstatat(parent->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	struct fs_inode *in = fs_inode_find(&s->it, st.st_dev, st.st_ino);
	if (in) {
		in->nlookup++;
	} else {
		int fd = fs_openat_beneath(parent->fd, name, O_PATH | O_NOFOLLOW, 0);
		if (fd < 0)
			return fd;
		/* The name may have changed in between: the handle is the truth. */
		if (fstat(fd, &st) < 0) {
			int err = -errno;
			close(fd);
			return err;
		}
		in = fs_inode_find(&s->it, st.st_dev, st.st_ino);
		if (in) {
			close(fd);
			in->nlookup++;
		} else {
			in = fs_inode_insert(&s->it, fd, &st);
			if (!in) {
				close(fd);
				return -ENOMEM;
			}
		}
	}
	memset(e, 0, sizeof(*e));
	e->nodeid = in->nodeid;
	fs_set_timeout(s, &e->entry_valid, &e->entry_valid_nsec);
	fs_set_timeout(s, &e->attr_valid, &e->attr_valid_nsec);
	fs_fill_attr(&e->attr, &st);
	return 0;
}

uint8_t *fs_reply_buf(struct fs_req *r)
{
	return r->s->repbuf + sizeof(struct fuse_out_header);
}

/* ---------------------------------------------------------- server */

/* Every inode the guest holds is an open O_PATH descriptor: lift the soft
 * descriptor limit to the hard one (done once, before any sandbox). */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("fs: raise RLIMIT_NOFILE to %llu: %s", (unsigned long long)rl.rlim_max,
				 strerror(errno));
	}
}

/* Whether this process may switch fsuid/fsgid: CAP_SETUID and CAP_SETGID effective. */
static bool can_switch_creds(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};
	if (syscall(SYS_capget, &h, d) < 0)
		return geteuid() == 0;
	uint32_t want = (1u << CAP_SETUID) | (1u << CAP_SETGID);
	return (d[0].effective & want) == want;
}

struct fs_server *fs_server_new(const char *dir, enum fs_cache cache, char *err, size_t errlen)
{
	struct fs_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->root_fd = s->proc_fd = -1;
	s->cache = cache;
	raise_nofile();
	fs_htable_init(&s->ht);
	s->reqbuf = malloc(FS_REQ_MAX);
	s->repbuf = malloc(FS_REPLY_MAX);
	if (!s->reqbuf || !s->repbuf || fs_itable_init(&s->it) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	s->root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		snprintf(err, errlen, "open shared directory %s: %s", dir, strerror(errno));
		goto fail;
	}
	s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->proc_fd < 0) {
		snprintf(err, errlen, "open /proc/self/fd: %s", strerror(errno));
		goto fail;
	}
	struct stat st;
	if (fstat(s->root_fd, &st) < 0) {
		snprintf(err, errlen, "stat shared directory %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (!fs_inode_insert(&s->it, s->root_fd, &st)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	s->root_fd = -1; /* owned by the root inode now */
	s->can_switch = can_switch_creds();
	if (s->can_switch && geteuid() != 0) {
		/* A jailed server (a non-root uid that kept its file capabilities) serves as root
		 * does: fsuid 0, so acting as a non-root requester drops the file capabilities
		 * (the kernel's fsuid fix-up) and acting as root again raises them. */
		setfsgid(0);
		setfsuid(0);
	}
	s->cur_uid = (uid_t)setfsuid((uid_t)-1);
	s->cur_gid = (gid_t)setfsgid((gid_t)-1);
	return s;
fail:
	fs_server_free(s);
	return NULL;
}

void fs_server_free(struct fs_server *s)
{
	if (!s)
		return;
	if (s->it.by_id)
		fs_itable_destroy(&s->it);
	fs_htable_destroy(&s->ht);
	if (s->root_fd >= 0)
		close(s->root_fd);
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	if (geteuid() == 0) {
		setfsuid(0);
		setfsgid(0);
	}
	free(s->reqbuf);
	free(s->repbuf);
	free(s);
}

void fs_server_stats(const struct fs_server *s, struct fs_stats *st)
{
	st->inodes = s->it.count;
	st->handles = s->ht.used;
	st->requests = s->requests;
}

#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36) /* protocol 7.39: shared mmap with cache=none */
#endif

static int64_t op_init(struct fs_req *r)
{
	const struct fuse_init_in *in = (const void *)r->arg;
	struct fs_server *s = r->s;
	struct fuse_init_out *o = (void *)fs_reply_buf(r);
	memset(o, 0, sizeof(*o));
	o->major = FUSE_KERNEL_VERSION;
	o->minor = FUSE_KERNEL_MINOR_VERSION;
	if (in->major < 7)
		return -EPROTO;
	if (in->major > 7) /* the kernel retries with our major */
		return 8;
	if (in->minor < 12)
		return -EPROTO;
	if (s->inited)
		fs_server_reset(s); /* a new session: the old node ids and handles are gone */
	uint64_t want = in->flags;
	if (in->minor >= 36 && r->arglen >= sizeof(*in) && (in->flags & FUSE_INIT_EXT))
		want |= (uint64_t)in->flags2 << 32;
	uint64_t offer = FUSE_INIT_EXT | FUSE_DIRECT_IO_ALLOW_MMAP | FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC |
			 FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
			 FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS;
	if (s->cache == FS_CACHE_ALWAYS)
		offer |= FUSE_AUTO_INVAL_DATA;
	uint64_t flags = want & offer;
	s->proto_minor = in->minor < FUSE_KERNEL_MINOR_VERSION ? in->minor : FUSE_KERNEL_MINOR_VERSION;
	o->minor = s->proto_minor;
	o->max_readahead = in->max_readahead;
	o->flags = (uint32_t)flags;
	o->flags2 = (uint32_t)(flags >> 32);
	o->max_background = 64;
	o->congestion_threshold = 48;
	o->max_write = FS_MAX_WRITE;
	o->time_gran = 1;
	o->max_pages = FS_MAX_PAGES;
	s->inited = true;
	if (in->minor < 23)
		return FUSE_COMPAT_22_INIT_OUT_SIZE;
	return sizeof(*o);
}

void fs_server_reset(struct fs_server *s)
{
	struct fs_itable *t = &s->it;
	for (size_t b = 0; b < t->nbuckets; b++) {
		struct fs_inode *in = t->by_id[b];
		while (in) {
			struct fs_inode *next = in->next_id;
			fs_inode_unref(t, in, UINT64_MAX);
			in = next;
		}
	}
	fs_htable_destroy(&s->ht);
	s->inited = false;
}

static int64_t op_destroy(struct fs_req *r)
{
	fs_server_reset(r->s);
	return 0;
}

struct fs_opdesc {
	fs_op_fn fn;
	uint32_t min; /* fixed argument bytes required */
	const char *name;
};

#define OP(code, f, m) [code] = {f, m, #code}
static const struct fs_opdesc ops[] = {
    OP(FUSE_LOOKUP, fs_op_lookup, 0),
    OP(FUSE_FORGET, fs_op_forget, sizeof(struct fuse_forget_in)),
    OP(FUSE_GETATTR, fs_op_getattr, sizeof(struct fuse_getattr_in)),
    OP(FUSE_SETATTR, fs_op_setattr, sizeof(struct fuse_setattr_in)),
    OP(FUSE_READLINK, fs_op_readlink, 0),
    OP(FUSE_SYMLINK, fs_op_symlink, 0),
    OP(FUSE_MKNOD, fs_op_mknod, sizeof(struct fuse_mknod_in)),
    OP(FUSE_MKDIR, fs_op_mkdir, sizeof(struct fuse_mkdir_in)),
    OP(FUSE_UNLINK, fs_op_unlink, 0),
    OP(FUSE_RMDIR, fs_op_rmdir, 0),
    OP(FUSE_RENAME, fs_op_rename, sizeof(struct fuse_rename_in)),
    OP(FUSE_LINK, fs_op_link, sizeof(struct fuse_link_in)),
    OP(FUSE_OPEN, fs_op_open, sizeof(struct fuse_open_in)),
    OP(FUSE_READ, fs_op_read, sizeof(struct fuse_read_in)),
    OP(FUSE_WRITE, fs_op_write, sizeof(struct fuse_write_in)),
    OP(FUSE_STATFS, fs_op_statfs, 0),
    OP(FUSE_RELEASE, fs_op_release, sizeof(struct fuse_release_in)),
    OP(FUSE_FSYNC, fs_op_fsync, sizeof(struct fuse_fsync_in)),
    OP(FUSE_SETXATTR, fs_op_setxattr, FUSE_COMPAT_SETXATTR_IN_SIZE),
    OP(FUSE_GETXATTR, fs_op_getxattr, sizeof(struct fuse_getxattr_in)),
    OP(FUSE_LISTXATTR, fs_op_listxattr, sizeof(struct fuse_getxattr_in)),
    OP(FUSE_REMOVEXATTR, fs_op_removexattr, 0),
    OP(FUSE_FLUSH, fs_op_flush, sizeof(struct fuse_flush_in)),
    OP(FUSE_INIT, op_init, 16),
    OP(FUSE_OPENDIR, fs_op_opendir, sizeof(struct fuse_open_in)),
    OP(FUSE_READDIR, fs_op_readdir, sizeof(struct fuse_read_in)),
    OP(FUSE_RELEASEDIR, fs_op_releasedir, sizeof(struct fuse_release_in)),
    OP(FUSE_FSYNCDIR, fs_op_fsyncdir, sizeof(struct fuse_fsync_in)),
    OP(FUSE_ACCESS, fs_op_access, sizeof(struct fuse_access_in)),
    OP(FUSE_CREATE, fs_op_create, sizeof(struct fuse_create_in)),
    OP(FUSE_DESTROY, op_destroy, 0),
    OP(FUSE_BATCH_FORGET, fs_op_batch_forget, sizeof(struct fuse_batch_forget_in)),
    OP(FUSE_FALLOCATE, fs_op_fallocate, sizeof(struct fuse_fallocate_in)),
    OP(FUSE_READDIRPLUS, fs_op_readdirplus, sizeof(struct fuse_read_in)),
    OP(FUSE_RENAME2, fs_op_rename2, sizeof(struct fuse_rename2_in)),
    OP(FUSE_LSEEK, fs_op_lseek, sizeof(struct fuse_lseek_in)),
    OP(FUSE_COPY_FILE_RANGE, fs_op_copy_file_range, sizeof(struct fuse_copy_file_range_in)),
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

/* ENOSYS is logged once per opcode; opcodes above 127 (none is defined but
 * CUSE_INIT) share one line so a guest cannot flood the log. */
static void enosys_once(struct fs_server *s, uint32_t opcode)
{
	unsigned bit = opcode < 128 ? opcode : 191;
	if (s->enosys_logged[bit / 64] & (1ULL << (bit % 64)))
		return;
	s->enosys_logged[bit / 64] |= 1ULL << (bit % 64);
	if (opcode < 128)
		log_warn("fs: FUSE opcode %u not implemented: answering ENOSYS", opcode);
	else
		log_warn(
		    "fs: FUSE opcode %u not implemented: answering ENOSYS (further unknown opcodes above 127 "
		    "are not logged)",
		    opcode);
}

/* FUSE does not carry the requester's supplementary groups, so the serving
 * thread's own (root's) must not lend it access: they are dropped whenever
 * the thread switches to a non-root requester (raw syscall: this thread
 * only; the rest of the process keeps its groups). */
static void set_creds(struct fs_server *s, uid_t uid, gid_t gid)
{
	if (uid == s->cur_uid && gid == s->cur_gid)
		return;
	/* Only root (or a jailed server with CAP_SETUID) can switch; others act as themselves. */
	if (!s->can_switch)
		return;
	if (uid != 0 && syscall(SYS_setgroups, 0, NULL) < 0)
		log_errno(errno, "fs: drop supplementary groups");
	setfsgid(gid);
	setfsuid(uid);
	s->cur_uid = uid;
	s->cur_gid = gid;
}

ssize_t fs_server_handle(struct fs_server *s, const struct iovec *req, unsigned nreq, const struct iovec *rep,
			 unsigned nrep)
{
	size_t total = fs_iov_total(req, nreq);
	struct fuse_in_header h;
	if (total < sizeof(h) || fs_iov_copy_from(req, nreq, 0, &h, sizeof(h)) != sizeof(h))
		return -EINVAL;
	s->requests++;
	struct fs_req r = {.s = s, .rep = rep, .nrep = nrep, .req = req, .nreq = nreq};
	r.repcap = fs_iov_total(rep, nrep);
	int64_t res;
	size_t len = h.len < total ? h.len : total;
	const struct fs_opdesc *d = h.opcode < NOPS && ops[h.opcode].fn ? &ops[h.opcode] : NULL;
	size_t copy = len;
	if (h.opcode == FUSE_WRITE && len > sizeof(h) + sizeof(struct fuse_write_in))
		copy = sizeof(h) + sizeof(struct fuse_write_in);
	if (len < sizeof(h)) {
		res = -EINVAL;
	} else if (copy > FS_REQ_MAX) {
		res = -E2BIG;
	} else if (!d) {
		enosys_once(s, h.opcode);
		res = -ENOSYS;
	} else if (!s->inited && h.opcode != FUSE_INIT) {
		res = -EIO;
	} else {
		fs_iov_copy_from(req, nreq, 0, s->reqbuf, copy);
		/* Work on the private copy, with the header we validated (the
		 * guest may have changed its memory since). */
		memcpy(s->reqbuf, &h, sizeof(h));
		r.h = (const struct fuse_in_header *)s->reqbuf;
		r.arg = s->reqbuf + sizeof(h);
		r.arglen = copy - sizeof(h);
		r.data_off = copy;
		if (r.arglen < d->min) {
			res = -EINVAL;
		} else {
			if (h.opcode == FUSE_WRITE)
				r.arglen = len - sizeof(h); /* payload length, checked by the op */
			uid_t ouid = s->cur_uid;
			gid_t ogid = s->cur_gid;
			set_creds(s, h.uid, h.gid);
			res = d->fn(&r);
			/* The thread may serve other devices: give back its own ids. */
			set_creds(s, ouid, ogid);
		}
	}
	if (res == FS_NOREPLY || h.opcode == FUSE_FORGET || h.opcode == FUSE_BATCH_FORGET)
		return 0;
	struct fuse_out_header oh = {.unique = h.unique};
	if (res == FS_DIRECT_REPLY) {
		oh.len = (uint32_t)(sizeof(oh) + r.direct_len);
		fs_iov_copy_to(rep, nrep, 0, &oh, sizeof(oh));
		return oh.len;
	}
	if (res >= 0 && (size_t)res + sizeof(oh) > r.repcap) {
		if (!s->warned_fit)
			log_warn("fs: reply of %zu bytes to opcode %u does not fit the %zu-byte buffer",
				 (size_t)res + sizeof(oh), h.opcode, r.repcap);
		s->warned_fit = true;
		res = -EIO;
	}
	if (res < 0) {
		oh.error = (int32_t)res;
		res = 0;
	}
	oh.len = (uint32_t)(sizeof(oh) + (size_t)res);
	memcpy(s->repbuf, &oh, sizeof(oh));
	if (r.repcap < sizeof(oh))
		return -EINVAL;
	return (ssize_t)fs_iov_copy_to(rep, nrep, 0, s->repbuf, oh.len);
}
