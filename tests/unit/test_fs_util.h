/* SPDX-License-Identifier: Apache-2.0 */
/* Drive the FUSE server with built request buffers against a temporary directory. */
#ifndef RUNM_TEST_FS_UTIL_H
#define RUNM_TEST_FS_UTIL_H

#include "vmm/devices/fs/fs.h"

#include <linux/fuse.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

struct tfs {
	struct fs_server *s;
	char dir[PATH_MAX];
	uint64_t unique;
	uint32_t uid, gid; /* credentials put in request headers */
	uint8_t *rep;	   /* reply buffer */
	size_t repcap;
	size_t replen; /* payload bytes of the last reply */
	int noreply;   /* the last request got no reply */
};

void tfs_setup(struct tfs *t);
void tfs_teardown(struct tfs *t);
/* Build "<dir>/<rel>" */
const char *tfs_path(struct tfs *t, const char *rel);
/* Send opcode with up to three argument pieces; returns the reply's error (0 or -errno). */
int tfs_call(struct tfs *t, uint32_t opcode, uint64_t nodeid, const void *a1, size_t l1, const void *a2,
	     size_t l2, const void *a3, size_t l3);
void *tfs_out(struct tfs *t); /* reply payload */

int tfs_lookup(struct tfs *t, uint64_t parent, const char *name, struct fuse_entry_out *e);
int tfs_mkdir(struct tfs *t, uint64_t parent, const char *name, uint32_t mode, uint64_t *nodeid);
int tfs_create(struct tfs *t, uint64_t parent, const char *name, uint32_t flags, uint32_t mode,
	       uint64_t *nodeid, uint64_t *fh);
int tfs_open(struct tfs *t, uint64_t nodeid, uint32_t flags, uint64_t *fh);
int tfs_release(struct tfs *t, uint64_t nodeid, uint64_t fh);
ssize_t tfs_write(struct tfs *t, uint64_t nodeid, uint64_t fh, uint64_t off, const void *buf, size_t len);
ssize_t tfs_read(struct tfs *t, uint64_t nodeid, uint64_t fh, uint64_t off, void *buf, size_t len);
int tfs_getattr(struct tfs *t, uint64_t nodeid, struct fuse_attr *a);
void tfs_forget(struct tfs *t, uint64_t nodeid, uint64_t n);
int tfs_name_op(struct tfs *t, uint32_t opcode, uint64_t parent, const char *name);
uint64_t tfs_inodes(struct tfs *t);
uint64_t tfs_handles(struct tfs *t);

#endif
