/* SPDX-License-Identifier: Apache-2.0 */
#include "test_fs_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tfs_setup(struct tfs *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/runm-test-fs.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	char err[256];
	t->s = fs_server_new(t->dir, FS_CACHE_AUTO, err, sizeof(err));
	if (!t->s)
		fail_msg("%s", err);
	t->repcap = 256 * 1024;
	t->rep = malloc(t->repcap);
	assert_non_null(t->rep);
	struct fuse_init_in in = {.major = 7,
				  .minor = FUSE_KERNEL_MINOR_VERSION,
				  .max_readahead = 65536,
				  .flags = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES};
	assert_int_equal(tfs_call(t, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, NULL, 0), 0);
	struct fuse_init_out *o = tfs_out(t);
	assert_int_equal(o->major, 7);
	assert_int_equal(o->max_write, FS_MAX_WRITE);
}

void tfs_teardown(struct tfs *t)
{
	fs_server_free(t->s);
	char cmd[2 * PATH_MAX + 64];
	/* Contents may be non-writable; make sure rm can proceed. */
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", t->dir, t->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", t->dir);
	free(t->rep);
}

const char *tfs_path(struct tfs *t, const char *rel)
{
	static char buf[PATH_MAX * 2];
	snprintf(buf, sizeof(buf), "%s/%s", t->dir, rel);
	return buf;
}

void *tfs_out(struct tfs *t)
{
	return t->rep + sizeof(struct fuse_out_header);
}

int tfs_call(struct tfs *t, uint32_t opcode, uint64_t nodeid, const void *a1, size_t l1, const void *a2,
	     size_t l2, const void *a3, size_t l3)
{
	struct fuse_in_header h = {
	    .len = (uint32_t)(sizeof(h) + l1 + l2 + l3),
	    .opcode = opcode,
	    .unique = ++t->unique,
	    .nodeid = nodeid,
	    .uid = t->uid,
	    .gid = t->gid,
	    .pid = 1,
	};
	/* Split the reply buffer in two segments to exercise scatter writes. */
	struct iovec req[4] = {{&h, sizeof(h)}, {(void *)a1, l1}, {(void *)a2, l2}, {(void *)a3, l3}};
	struct iovec rep[2] = {{t->rep, 24}, {t->rep + 24, t->repcap - 24}};
	ssize_t n = fs_server_handle(t->s, req, 4, rep, 2);
	assert_true(n >= 0);
	t->noreply = n == 0;
	if (n == 0) {
		t->replen = 0;
		return 0;
	}
	struct fuse_out_header *oh = (void *)t->rep;
	assert_int_equal(oh->unique, h.unique);
	assert_int_equal(oh->len, (uint32_t)n);
	t->replen = (size_t)n - sizeof(*oh);
	if (oh->error)
		assert_int_equal(t->replen, 0);
	return oh->error;
}

int tfs_lookup(struct tfs *t, uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	int err = tfs_call(t, FUSE_LOOKUP, parent, name, strlen(name) + 1, NULL, 0, NULL, 0);
	if (!err) {
		assert_int_equal(t->replen, sizeof(*e));
		if (e)
			memcpy(e, tfs_out(t), sizeof(*e));
	}
	return err;
}

int tfs_mkdir(struct tfs *t, uint64_t parent, const char *name, uint32_t mode, uint64_t *nodeid)
{
	struct fuse_mkdir_in m = {.mode = mode};
	int err = tfs_call(t, FUSE_MKDIR, parent, &m, sizeof(m), name, strlen(name) + 1, NULL, 0);
	if (!err && nodeid)
		*nodeid = ((struct fuse_entry_out *)tfs_out(t))->nodeid;
	return err;
}

int tfs_create(struct tfs *t, uint64_t parent, const char *name, uint32_t flags, uint32_t mode,
	       uint64_t *nodeid, uint64_t *fh)
{
	struct fuse_create_in c = {.flags = flags, .mode = mode};
	int err = tfs_call(t, FUSE_CREATE, parent, &c, sizeof(c), name, strlen(name) + 1, NULL, 0);
	if (!err) {
		assert_int_equal(t->replen, sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out));
		struct fuse_entry_out *e = tfs_out(t);
		struct fuse_open_out *o = (void *)(e + 1);
		if (nodeid)
			*nodeid = e->nodeid;
		if (fh)
			*fh = o->fh;
	}
	return err;
}

int tfs_open(struct tfs *t, uint64_t nodeid, uint32_t flags, uint64_t *fh)
{
	struct fuse_open_in o = {.flags = flags};
	int err = tfs_call(t, FUSE_OPEN, nodeid, &o, sizeof(o), NULL, 0, NULL, 0);
	if (!err && fh)
		*fh = ((struct fuse_open_out *)tfs_out(t))->fh;
	return err;
}

int tfs_release(struct tfs *t, uint64_t nodeid, uint64_t fh)
{
	struct fuse_release_in r = {.fh = fh};
	return tfs_call(t, FUSE_RELEASE, nodeid, &r, sizeof(r), NULL, 0, NULL, 0);
}

ssize_t tfs_write(struct tfs *t, uint64_t nodeid, uint64_t fh, uint64_t off, const void *buf, size_t len)
{
	struct fuse_write_in w = {.fh = fh, .offset = off, .size = (uint32_t)len};
	int err = tfs_call(t, FUSE_WRITE, nodeid, &w, sizeof(w), buf, len, NULL, 0);
	if (err)
		return err;
	return ((struct fuse_write_out *)tfs_out(t))->size;
}

ssize_t tfs_read(struct tfs *t, uint64_t nodeid, uint64_t fh, uint64_t off, void *buf, size_t len)
{
	struct fuse_read_in r = {.fh = fh, .offset = off, .size = (uint32_t)len};
	int err = tfs_call(t, FUSE_READ, nodeid, &r, sizeof(r), NULL, 0, NULL, 0);
	if (err)
		return err;
	assert_true(t->replen <= len);
	memcpy(buf, tfs_out(t), t->replen);
	return (ssize_t)t->replen;
}

int tfs_getattr(struct tfs *t, uint64_t nodeid, struct fuse_attr *a)
{
	struct fuse_getattr_in g = {0};
	int err = tfs_call(t, FUSE_GETATTR, nodeid, &g, sizeof(g), NULL, 0, NULL, 0);
	if (!err && a)
		memcpy(a, &((struct fuse_attr_out *)tfs_out(t))->attr, sizeof(*a));
	return err;
}

void tfs_forget(struct tfs *t, uint64_t nodeid, uint64_t n)
{
	struct fuse_forget_in f = {.nlookup = n};
	assert_int_equal(tfs_call(t, FUSE_FORGET, nodeid, &f, sizeof(f), NULL, 0, NULL, 0), 0);
	assert_true(t->noreply);
}

int tfs_name_op(struct tfs *t, uint32_t opcode, uint64_t parent, const char *name)
{
	return tfs_call(t, opcode, parent, name, strlen(name) + 1, NULL, 0, NULL, 0);
}

uint64_t tfs_inodes(struct tfs *t)
{
	struct fs_stats st;
	fs_server_stats(t->s, &st);
	return st.inodes;
}

uint64_t tfs_handles(struct tfs *t)
{
	struct fs_stats st;
	fs_server_stats(t->s, &st);
	return st.handles;
}
