/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-fs FUSE passthrough server, transport independent.
 *
 * A request is the device-readable side of a chain (or one read() from
 * /dev/fuse); the reply goes into the device-writable side. The server never
 * touches anything outside its shared directory: every inode is an O_PATH
 * handle reached one name component at a time with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS).
 *
 * Threading: a server is used by one thread at a time (the device's event
 * loop). It switches that thread's fsuid/fsgid to the requester's.
 */
#ifndef RUNM_FS_H
#define RUNM_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum fs_cache {
	FS_CACHE_AUTO,	 /* 1 s entry/attr timeouts, page cache dropped on open */
	FS_CACHE_ALWAYS, /* long timeouts, page cache kept across opens */
	FS_CACHE_NONE,	 /* no timeouts, direct I/O */
};

/* Parse "auto" | "always" | "none"; -1 when unknown. */
int fs_cache_parse(const char *s);

struct fs_server;

/* Open DIR as the root of a new server. NULL with a reason in err on failure. */
struct fs_server *fs_server_new(const char *dir, enum fs_cache cache, char *err, size_t errlen);
void fs_server_free(struct fs_server *s);

/* Forget every inode but the root and close every handle; the next request
 * must be INIT (FUSE_DESTROY, and a repeated FUSE_INIT, do this). */
void fs_server_reset(struct fs_server *s);

/* Handle one FUSE request held in req[0..nreq) and write the reply into
 * rep[0..nrep). Returns the number of reply bytes written (0: the request
 * takes no reply, e.g. FORGET), or -EINVAL when the request is too malformed
 * to answer (no complete header). */
ssize_t fs_server_handle(struct fs_server *s, const struct iovec *req, unsigned nreq, const struct iovec *rep,
			 unsigned nrep);

/* Largest WRITE payload negotiated in INIT (callers size /dev/fuse buffers). */
#define FS_MAX_WRITE (1024 * 1024)
#define FS_MAX_PAGES (FS_MAX_WRITE / 4096)

/* Counters for tests and debugging. */
struct fs_stats {
	uint64_t inodes;  /* inodes held (root included) */
	uint64_t handles; /* open file/dir handles */
	uint64_t requests;
};
void fs_server_stats(const struct fs_server *s, struct fs_stats *st);

#endif
