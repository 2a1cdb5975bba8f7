/* SPDX-License-Identifier: Apache-2.0 */
/* Directory listing (readdir/readdirplus with offsets, 10 000 entries) and
 * lookup-count bookkeeping (forget, batch forget, memory bounded by live inodes). */
#include "test_fs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NFILES 10000

static int setup(void **state)
{
	struct tfs *t = calloc(1, sizeof(*t));
	tfs_setup(t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tfs_teardown(*state);
	free(*state);
	return 0;
}

static uint64_t opendir_fh(struct tfs *t, uint64_t ino)
{
	struct fuse_open_in o = {.flags = O_RDONLY};
	assert_int_equal(tfs_call(t, FUSE_OPENDIR, ino, &o, sizeof(o), NULL, 0, NULL, 0), 0);
	return ((struct fuse_open_out *)tfs_out(t))->fh;
}

/* Read the whole directory with `size`-byte READDIR(PLUS) requests, each one
 * continuing from the previous reply's last offset. Marks seen[i] for "f<i>". */
static unsigned list_all(struct tfs *t, uint64_t ino, uint64_t fh, bool plus, uint32_t size,
			 unsigned char *seen, uint64_t *offsets, unsigned *noff)
{
	uint64_t off = 0;
	unsigned entries = 0, requests = 0;
	for (;;) {
		struct fuse_read_in r = {.fh = fh, .offset = off, .size = size};
		assert_int_equal(
		    tfs_call(t, plus ? FUSE_READDIRPLUS : FUSE_READDIR, ino, &r, sizeof(r), NULL, 0, NULL, 0),
		    0);
		requests++;
		assert_true(t->replen <= size);
		if (t->replen == 0)
			break;
		uint8_t *p = tfs_out(t);
		size_t pos = 0;
		while (pos < t->replen) {
			struct fuse_dirent *d;
			size_t base;
			if (plus) {
				struct fuse_direntplus *dp = (void *)(p + pos);
				d = &dp->dirent;
				base = sizeof(*dp);
				bool dot = d->namelen <= 2 && d->name[0] == '.' &&
					   (d->namelen == 1 || d->name[1] == '.');
				if (dot) {
					assert_int_equal(dp->entry_out.nodeid, 0);
				} else {
					assert_true(dp->entry_out.nodeid > FUSE_ROOT_ID);
					assert_int_equal(dp->entry_out.attr.ino, d->ino);
				}
			} else {
				d = (void *)(p + pos);
				base = sizeof(*d);
			}
			assert_true(d->namelen > 0 && d->namelen < 256);
			size_t len = FUSE_DIRENT_ALIGN(base + d->namelen);
			assert_true(pos + len <= t->replen);
			char name[256];
			memcpy(name, d->name, d->namelen);
			name[d->namelen] = 0;
			if (name[0] == 'f') {
				int i = atoi(name + 1);
				assert_true(i >= 0 && i < NFILES);
				assert_int_equal(seen[i], 0); /* no duplicates across requests */
				seen[i] = 1;
			}
			if (offsets)
				offsets[(*noff)++] = d->off;
			off = d->off;
			entries++;
			pos += len;
		}
	}
	assert_true(requests > 1);
	return entries;
}

static void make_files(struct tfs *t, uint64_t *dir)
{
	assert_int_equal(tfs_mkdir(t, FUSE_ROOT_ID, "big", 0755, dir), 0);
	char path[64];
	for (int i = 0; i < NFILES; i++) {
		snprintf(path, sizeof(path), "big/f%d", i);
		int fd = open(tfs_path(t, path), O_CREAT | O_WRONLY, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
}

static void test_readdir_10000(void **state)
{
	struct tfs *t = *state;
	uint64_t dir;
	make_files(t, &dir);
	uint64_t fh = opendir_fh(t, dir);
	unsigned char *seen = calloc(NFILES, 1);
	uint64_t *offs = calloc(NFILES + 8, sizeof(*offs));
	unsigned noff = 0;
	unsigned n = list_all(t, dir, fh, false, 4096, seen, offs, &noff);
	assert_int_equal(n, NFILES + 2);
	for (int i = 0; i < NFILES; i++)
		assert_int_equal(seen[i], 1);
	/* readdir does not take lookups */
	assert_int_equal(tfs_inodes(t), 2);
	/* restarting from a remembered offset yields exactly the following entries */
	unsigned k = noff / 2;
	struct fuse_read_in r = {.fh = fh, .offset = offs[k], .size = 4096};
	assert_int_equal(tfs_call(t, FUSE_READDIR, dir, &r, sizeof(r), NULL, 0, NULL, 0), 0);
	struct fuse_dirent *d = tfs_out(t);
	assert_int_equal(d->off, offs[k + 1]);
	/* offset 0 again starts over */
	memset(seen, 0, NFILES);
	assert_int_equal(list_all(t, dir, fh, false, 65536, seen, NULL, NULL), NFILES + 2);
	/* a tiny buffer still makes progress one entry at a time */
	r = (struct fuse_read_in){.fh = fh, .offset = 0, .size = 40};
	assert_int_equal(tfs_call(t, FUSE_READDIR, dir, &r, sizeof(r), NULL, 0, NULL, 0), 0);
	assert_int_equal(t->replen, 32);
	struct fuse_release_in rel = {.fh = fh};
	assert_int_equal(tfs_call(t, FUSE_RELEASEDIR, dir, &rel, sizeof(rel), NULL, 0, NULL, 0), 0);
	assert_int_equal(tfs_call(t, FUSE_READDIR, dir, &r, sizeof(r), NULL, 0, NULL, 0), -EBADF);
	free(seen);
	free(offs);
}

static void test_readdirplus_lookup_counts(void **state)
{
	struct tfs *t = *state;
	uint64_t dir;
	make_files(t, &dir);
	uint64_t fh = opendir_fh(t, dir);
	unsigned char *seen = calloc(NFILES, 1);
	assert_int_equal(list_all(t, dir, fh, true, 4096, seen, NULL, NULL), NFILES + 2);
	/* root + big + every file: each entry took exactly one lookup */
	assert_int_equal(tfs_inodes(t), NFILES + 2);
	struct fuse_entry_out e;
	assert_int_equal(tfs_lookup(t, dir, "f17", &e), 0); /* second lookup on f17 */
	assert_int_equal(tfs_inodes(t), NFILES + 2);
	/* forget one lookup of f17: still alive; forget the second: gone */
	tfs_forget(t, e.nodeid, 1);
	assert_int_equal(tfs_getattr(t, e.nodeid, NULL), 0);
	tfs_forget(t, e.nodeid, 1);
	assert_int_equal(tfs_getattr(t, e.nodeid, NULL), -EBADF);
	assert_int_equal(tfs_inodes(t), NFILES + 1);
	/* batch forget everything else in chunks the way the kernel does */
	uint64_t ids[NFILES];
	unsigned nids = 0;
	char name[32];
	for (int i = 0; i < NFILES; i++) {
		if (i == 17)
			continue;
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(tfs_lookup(t, dir, name, &e), 0); /* now 2 lookups each */
		ids[nids++] = e.nodeid;
	}
	assert_int_equal(tfs_inodes(t), NFILES + 1);
	for (unsigned i = 0; i < nids; i += 500) {
		struct fuse_forget_one one[500];
		unsigned n = nids - i < 500 ? nids - i : 500;
		for (unsigned j = 0; j < n; j++)
			one[j] = (struct fuse_forget_one){.nodeid = ids[i + j], .nlookup = 2};
		struct fuse_batch_forget_in bf = {.count = n};
		assert_int_equal(
		    tfs_call(t, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), one, n * sizeof(one[0]), NULL, 0), 0);
		assert_true(t->noreply);
	}
	/* memory is bounded by live inodes: only root and "big" remain */
	assert_int_equal(tfs_inodes(t), 2);
	/* node ids are not reused: a fresh lookup gets a new id */
	assert_int_equal(tfs_lookup(t, dir, "f1", &e), 0);
	for (unsigned i = 0; i < nids; i++)
		assert_int_not_equal(e.nodeid, ids[i]);
	/* forgetting unknown ids is harmless */
	tfs_forget(t, 999999999, 5);
	struct fuse_release_in rel = {.fh = fh};
	assert_int_equal(tfs_call(t, FUSE_RELEASEDIR, dir, &rel, sizeof(rel), NULL, 0, NULL, 0), 0);
	free(seen);
}

/* READDIRPLUS with room for one entry: one lookup per delivered entry, none for the rest. */
static void test_readdirplus_small_buffer(void **state)
{
	struct tfs *t = *state;
	uint64_t dir;
	assert_int_equal(tfs_mkdir(t, FUSE_ROOT_ID, "d", 0755, &dir), 0);
	for (int i = 0; i < 5; i++) {
		char n[16];
		snprintf(n, sizeof(n), "f%d", i);
		uint64_t ino, fh;
		assert_int_equal(tfs_create(t, dir, n, O_RDWR, 0644, &ino, &fh), 0);
		assert_int_equal(tfs_release(t, ino, fh), 0);
		tfs_forget(t, ino, 1);
	}
	assert_int_equal(tfs_inodes(t), 2);
	uint64_t fh = opendir_fh(t, dir);
	/* room for one direntplus only: entries that do not fit take no lookup */
	struct fuse_read_in r = {.fh = fh, .offset = 0, .size = sizeof(struct fuse_direntplus) + 8};
	unsigned got = 0;
	for (int i = 0; i < 20; i++) {
		assert_int_equal(tfs_call(t, FUSE_READDIRPLUS, dir, &r, sizeof(r), NULL, 0, NULL, 0), 0);
		if (!t->replen)
			break;
		assert_int_equal(t->replen, FUSE_DIRENT_ALIGN(sizeof(struct fuse_direntplus) + 2));
		struct fuse_direntplus *dp = tfs_out(t);
		r.offset = dp->dirent.off;
		got++;
	}
	assert_int_equal(got, 7);
	assert_int_equal(tfs_inodes(t), 2 + 5);
	/* a request naming another node id still lists (and looks up in) the
	 * directory the handle was opened on */
	uint64_t f0 = 0;
	struct fuse_entry_out e;
	assert_int_equal(tfs_lookup(t, dir, "f0", &e), 0);
	f0 = e.attr.ino;
	r = (struct fuse_read_in){.fh = fh, .offset = 0, .size = 4096};
	assert_int_equal(tfs_call(t, FUSE_READDIRPLUS, FUSE_ROOT_ID, &r, sizeof(r), NULL, 0, NULL, 0), 0);
	bool found = false;
	for (size_t pos = 0; pos < t->replen;) {
		struct fuse_direntplus *dp = (void *)((uint8_t *)tfs_out(t) + pos);
		if (dp->dirent.namelen == 2 && !memcmp(dp->dirent.name, "f0", 2)) {
			assert_int_equal(dp->entry_out.attr.ino, f0);
			found = true;
		}
		pos += FUSE_DIRENT_ALIGN(sizeof(*dp) + dp->dirent.namelen);
	}
	assert_true(found);
	struct fuse_release_in rel = {.fh = fh};
	assert_int_equal(tfs_call(t, FUSE_RELEASEDIR, dir, &rel, sizeof(rel), NULL, 0, NULL, 0), 0);
	struct fuse_fsync_in fs = {.fh = fh};
	assert_int_equal(tfs_call(t, FUSE_FSYNCDIR, dir, &fs, sizeof(fs), NULL, 0, NULL, 0), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_readdir_10000, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readdirplus_lookup_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readdirplus_small_buffer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
