/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the FUSE passthrough server shared by its files. */
#ifndef RUNM_FS_PRIV_H
#define RUNM_FS_PRIV_H

#include "fs.h"

#include <linux/fuse.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ inodes */

struct fs_inode {
	uint64_t nodeid; /* FUSE node id; never reused while the server lives */
	dev_t dev;
	ino_t ino;
	mode_t type;	  /* S_IFMT bits */
	int fd;		  /* O_PATH handle */
	uint64_t nlookup; /* lookups the kernel holds */
	struct fs_inode *next_key, *next_id;
	/* cache=auto: the file as it was at its last open (fs_file.c): the guest may keep the pages
	 * it cached then as long as none of these changed */
	struct timespec open_mtime, open_ctime;
	off_t open_size;
	bool open_stamped;
};

struct fs_itable {
	struct fs_inode **by_key, **by_id;
	size_t nbuckets, count;
	uint64_t next_nodeid;
};

int fs_itable_init(struct fs_itable *t);
void fs_itable_destroy(struct fs_itable *t);
struct fs_inode *fs_inode_get(struct fs_itable *t, uint64_t nodeid);
struct fs_inode *fs_inode_find(struct fs_itable *t, dev_t dev, ino_t ino);
/* Insert a new inode owning fd (with nlookup 1); NULL on ENOMEM (fd not closed). */
struct fs_inode *fs_inode_insert(struct fs_itable *t, int fd, const struct stat *st);
/* Drop n lookups; frees the inode when none remain (root never). */
void fs_inode_unref(struct fs_itable *t, struct fs_inode *in, uint64_t n);

/* ----------------------------------------------------------- handles */

struct fs_handle {
	int fd;		 /* -1 when the slot is free */
	uint64_t nodeid; /* the inode it was opened from (READDIRPLUS parent) */
	bool dir;
	uint32_t gen;
	uint32_t next_free;
};

struct fs_htable {
	struct fs_handle *h;
	uint32_t cap, used, free_head;
};

void fs_htable_init(struct fs_htable *t);
void fs_htable_destroy(struct fs_htable *t);
/* Returns the fh for fd, or 0 on ENOMEM (fd not closed). */
uint64_t fs_handle_new(struct fs_htable *t, int fd, bool dir, uint64_t nodeid);
struct fs_handle *fs_handle_get(struct fs_htable *t, uint64_t fh, bool dir);
void fs_handle_free(struct fs_htable *t, uint64_t fh);

/* ------------------------------------------------------------ server */

#define FS_REQ_MAX   (64 * 1024 + 8192)	 /* largest non-WRITE request copied in */
#define FS_REPLY_MAX (128 * 1024 + 4096) /* largest reply built in memory */
#define FS_NOPS	     64

struct fs_server {
	int root_fd;
	int proc_fd; /* /proc/self/fd */
	enum fs_cache cache;
	struct fs_itable it;
	struct fs_htable ht;
	uint32_t proto_minor;
	bool inited;
	bool warned_fit; /* logged a reply that did not fit (once) */
	uid_t cur_uid;
	bool can_switch; /* root, or a jailed server holding CAP_SETUID (runtime/backend/jail.h) */
	gid_t cur_gid;
	uint64_t requests;
	uint64_t enosys_logged[3]; /* opcodes 0..127 one bit each; bit 191: any larger one */
	uint8_t *reqbuf;	   /* FS_REQ_MAX */
	uint8_t *repbuf;	   /* FS_REPLY_MAX */
};

/* One request being served. */
struct fs_req {
	struct fs_server *s;
	const struct fuse_in_header *h;
	const uint8_t *arg; /* bytes after the header (in s->reqbuf) */
	size_t arglen;
	const struct iovec *rep;
	unsigned nrep;
	size_t repcap; /* bytes available in rep */
	/* WRITE only: the payload still in the request iovecs. */
	const struct iovec *req;
	unsigned nreq;
	size_t data_off;
	size_t direct_len;
};

/* Result of an op handler: >= 0 reply payload bytes placed in s->repbuf after
 * the out header, FS_NOREPLY, FS_DIRECT_REPLY, or -errno. */
#define FS_NOREPLY (INT64_MIN + 1)

typedef int64_t (*fs_op_fn)(struct fs_req *r);

/* Helpers. */
uint8_t *fs_reply_buf(struct fs_req *r);			     /* payload area after the out header */
const char *fs_arg_name(struct fs_req *r, size_t off, size_t *next); /* NUL-terminated name */
int fs_check_name(const char *name);				     /* 0 or -errno */
struct fs_inode *fs_req_inode(struct fs_req *r, uint64_t nodeid);
int fs_proc_path(const struct fs_inode *in, char *buf, size_t n);	  /* "/proc/self/fd/N" */
int fs_reopen(struct fs_server *s, const struct fs_inode *in, int flags); /* fd or -errno */
void fs_fill_attr(struct fuse_attr *a, const struct stat *st);
double fs_timeout(const struct fs_server *s);
void fs_set_timeout(const struct fs_server *s, uint64_t *sec, uint32_t *nsec);
/* Look NAME up under parent, take one lookup reference, fill e. */
int fs_do_lookup(struct fs_server *s, struct fs_inode *parent, const char *name, struct fuse_entry_out *e);
int fs_openat_beneath(int dirfd, const char *name, int flags, mode_t mode);
size_t fs_entry_out_size(const struct fs_server *s);
size_t fs_attr_out_size(const struct fs_server *s);

/* Modes arrive with the guest's umask already applied: creating calls run
 * with umask 0 for their duration only (the process keeps its own). */
#define FS_NO_UMASK(expr)                                                                                    \
	({                                                                                                   \
		mode_t _old = umask(0);                                                                      \
		__typeof__(expr) _r = (expr);                                                                \
		int _e = errno;                                                                              \
		umask(_old);                                                                                 \
		errno = _e;                                                                                  \
		_r;                                                                                          \
	})

/* iovec helpers */
size_t fs_iov_copy_from(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);
size_t fs_iov_copy_to(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len);
size_t fs_iov_total(const struct iovec *iov, unsigned n);
/* Describe [off, off+len) of iov as at most max segments in out; returns count. */
unsigned fs_iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len, struct iovec *out,
		      unsigned max);

/* Op handlers by group. */
int64_t fs_op_lookup(struct fs_req *r);
int64_t fs_op_forget(struct fs_req *r);
int64_t fs_op_batch_forget(struct fs_req *r);
int64_t fs_op_getattr(struct fs_req *r);
int64_t fs_op_setattr(struct fs_req *r);
int64_t fs_op_readlink(struct fs_req *r);
int64_t fs_op_statfs(struct fs_req *r);
int64_t fs_op_access(struct fs_req *r);

int64_t fs_op_mknod(struct fs_req *r);
int64_t fs_op_mkdir(struct fs_req *r);
int64_t fs_op_symlink(struct fs_req *r);
int64_t fs_op_unlink(struct fs_req *r);
int64_t fs_op_rmdir(struct fs_req *r);
int64_t fs_op_rename(struct fs_req *r);
int64_t fs_op_rename2(struct fs_req *r);
int64_t fs_op_link(struct fs_req *r);
int64_t fs_op_opendir(struct fs_req *r);
int64_t fs_op_readdir(struct fs_req *r);
int64_t fs_op_readdirplus(struct fs_req *r);
int64_t fs_op_releasedir(struct fs_req *r);
int64_t fs_op_fsyncdir(struct fs_req *r);

int64_t fs_op_open(struct fs_req *r);
int64_t fs_op_create(struct fs_req *r);
int64_t fs_op_read(struct fs_req *r);
int64_t fs_op_write(struct fs_req *r);
int64_t fs_op_release(struct fs_req *r);
int64_t fs_op_flush(struct fs_req *r);
int64_t fs_op_fsync(struct fs_req *r);
int64_t fs_op_fallocate(struct fs_req *r);
int64_t fs_op_lseek(struct fs_req *r);
int64_t fs_op_copy_file_range(struct fs_req *r);

int64_t fs_op_setxattr(struct fs_req *r);
int64_t fs_op_getxattr(struct fs_req *r);
int64_t fs_op_listxattr(struct fs_req *r);
int64_t fs_op_removexattr(struct fs_req *r);

/* READ writes its reply directly into the reply iovecs: it returns
 * FS_DIRECT_REPLY after storing the payload length in r->direct_len. */
#define FS_DIRECT_REPLY (INT64_MIN + 2)

#endif
