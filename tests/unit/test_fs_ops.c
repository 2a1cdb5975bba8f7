/* SPDX-License-Identifier: Apache-2.0 */
/* Per-operation tests of the FUSE passthrough server against a temporary directory. */
#include "test_fs_util.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

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

static void test_init_and_before_init(void **state)
{
	(void)state;
	char dir[] = "/tmp/runm-test-fs-init.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char err[256];
	struct tfs t = {0};
	t.s = fs_server_new(dir, FS_CACHE_NONE, err, sizeof(err));
	assert_non_null(t.s);
	t.rep = malloc(4096);
	t.repcap = 4096;
	struct fuse_getattr_in g = {0};
	assert_int_equal(tfs_call(&t, FUSE_GETATTR, FUSE_ROOT_ID, &g, sizeof(g), NULL, 0, NULL, 0), -EIO);
	struct fuse_init_in in = {.major = 8, .minor = 0};
	assert_int_equal(tfs_call(&t, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, NULL, 0), 0);
	assert_int_equal(t.replen, 8); /* major/minor only: the kernel retries */
	in = (struct fuse_init_in){.major = 7, .minor = 5};
	assert_int_equal(tfs_call(&t, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, NULL, 0), -EPROTO);
	in = (struct fuse_init_in){.major = 7, .minor = 31, .flags = FUSE_DO_READDIRPLUS | FUSE_POSIX_ACL};
	assert_int_equal(tfs_call(&t, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, NULL, 0), 0);
	struct fuse_init_out *o = tfs_out(&t);
	assert_int_equal(o->minor, 31);
	assert_true(o->flags & FUSE_DO_READDIRPLUS);
	assert_false(o->flags & FUSE_POSIX_ACL); /* never offered */
	assert_int_equal(tfs_getattr(&t, FUSE_ROOT_ID, NULL), 0);
	/* cache=none: zero timeouts and direct I/O */
	uint64_t ino, fh;
	assert_int_equal(tfs_create(&t, FUSE_ROOT_ID, "f", O_RDWR, 0644, &ino, &fh), 0);
	struct fuse_entry_out *e = tfs_out(&t);
	assert_int_equal(e->entry_valid, 0);
	assert_true(((struct fuse_open_out *)(e + 1))->open_flags & FOPEN_DIRECT_IO);
	fs_server_free(t.s);
	free(t.rep);
	unlink(tfs_path(&t, "f"));
	snprintf(t.dir, sizeof(t.dir), "%s", dir);
	unlink(tfs_path(&t, "f"));
	rmdir(dir);
	assert_null(fs_server_new("/nonexistent/dir", FS_CACHE_AUTO, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/dir"));
	assert_non_null(strstr(err, "No such file"));
}

/* Each held inode is a descriptor: the server lifts the soft limit. */
static void test_nofile_raised(void **state)
{
	(void)state;
	struct rlimit rl, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < 1024)
		skip();
	low = (struct rlimit){64, rl.rlim_max};
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	struct tfs t;
	tfs_setup(&t);
	struct rlimit now;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
	assert_int_equal(now.rlim_cur, rl.rlim_max);
	char name[32];
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		uint64_t ino, fh;
		assert_int_equal(tfs_create(&t, FUSE_ROOT_ID, name, O_RDWR, 0644, &ino, &fh), 0);
		assert_int_equal(tfs_release(&t, ino, fh), 0);
	}
	assert_int_equal(tfs_inodes(&t), 301);
	tfs_teardown(&t);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static void test_unknown_opcode(void **state)
{
	struct tfs *t = *state;
	/* ENOSYS, logged once per opcode (and once for all opcodes above 127) */
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	log_set_sink(p[1], 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(tfs_call(t, FUSE_GETLK, FUSE_ROOT_ID, NULL, 0, NULL, 0, NULL, 0), -ENOSYS);
		assert_int_equal(tfs_call(t, FUSE_SETLKW, FUSE_ROOT_ID, NULL, 0, NULL, 0, NULL, 0), -ENOSYS);
		assert_int_equal(tfs_call(t, 9999 + (uint32_t)i, FUSE_ROOT_ID, NULL, 0, NULL, 0, NULL, 0),
				 -ENOSYS);
	}
	log_set_sink(-1, 0);
	char logbuf[4096];
	ssize_t n = read(p[0], logbuf, sizeof(logbuf) - 1);
	assert_true(n > 0);
	logbuf[n] = 0;
	close(p[0]);
	close(p[1]);
	int lines = 0;
	for (char *c = logbuf; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 3);
	assert_non_null(strstr(logbuf, "FUSE opcode 31 not implemented"));
	assert_non_null(strstr(logbuf, "FUSE opcode 33 not implemented"));
	assert_non_null(strstr(logbuf, "FUSE opcode 9999 not implemented"));
	/* Too short for the fixed argument. */
	assert_int_equal(tfs_call(t, FUSE_GETATTR, FUSE_ROOT_ID, "x", 1, NULL, 0, NULL, 0), -EINVAL);
	/* A request shorter than a header is not answered at all. */
	uint8_t small[8] = {0};
	struct iovec req = {small, sizeof(small)}, rep = {t->rep, t->repcap};
	assert_int_equal(fs_server_handle(t->s, &req, 1, &rep, 1), -EINVAL);
}

static void test_lookup_getattr(void **state)
{
	struct tfs *t = *state;
	struct fuse_entry_out e;
	assert_int_equal(tfs_lookup(t, FUSE_ROOT_ID, "missing", &e), -ENOENT);
	FILE *f = fopen(tfs_path(t, "hello"), "w");
	fputs("hello world", f);
	fclose(f);
	assert_int_equal(tfs_lookup(t, FUSE_ROOT_ID, "hello", &e), 0);
	assert_true(e.nodeid > FUSE_ROOT_ID);
	assert_int_equal(e.attr.size, 11);
	assert_true(S_ISREG(e.attr.mode));
	assert_int_equal(e.entry_valid, 1);
	struct fuse_entry_out e2;
	assert_int_equal(tfs_lookup(t, FUSE_ROOT_ID, "hello", &e2), 0);
	assert_int_equal(e2.nodeid, e.nodeid); /* same (dev, ino) → same node */
	struct fuse_attr a;
	assert_int_equal(tfs_getattr(t, e.nodeid, &a), 0);
	assert_int_equal(a.ino, e.attr.ino);
	assert_int_equal(tfs_getattr(t, 12345, &a), -EBADF);
	/* lookup under a regular file */
	assert_int_equal(tfs_lookup(t, e.nodeid, "x", NULL), -ENOTDIR);
}

static void test_mkdir_rmdir(void **state)
{
	struct tfs *t = *state;
	uint64_t d;
	assert_int_equal(tfs_mkdir(t, FUSE_ROOT_ID, "d", 0750, &d), 0);
	struct stat st;
	assert_int_equal(stat(tfs_path(t, "d"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(tfs_mkdir(t, FUSE_ROOT_ID, "d", 0750, NULL), -EEXIST);
	assert_int_equal(tfs_mkdir(t, d, "sub", 0700, NULL), 0);
	assert_int_equal(tfs_name_op(t, FUSE_RMDIR, FUSE_ROOT_ID, "d"), -ENOTEMPTY);
	assert_int_equal(tfs_name_op(t, FUSE_RMDIR, d, "sub"), 0);
	assert_int_equal(tfs_name_op(t, FUSE_RMDIR, FUSE_ROOT_ID, "d"), 0);
	assert_int_equal(tfs_name_op(t, FUSE_RMDIR, FUSE_ROOT_ID, "d"), -ENOENT);
	assert_int_equal(stat(tfs_path(t, "d"), &st), -1);
}

/* cache=auto: an open keeps the guest's page cache of a file unchanged since its last open and
 * drops it after any change on the host (content, size, metadata: ctime) or through the server */
static uint32_t open_flags(struct tfs *t, uint64_t ino, uint32_t flags)
{
	uint64_t fh;
	assert_int_equal(tfs_open(t, ino, flags, &fh), 0);
	uint32_t f = ((struct fuse_open_out *)tfs_out(t))->open_flags;
	assert_int_equal(tfs_release(t, ino, fh), 0);
	return f;
}

static void test_auto_cache_keeps_unchanged_files(void **state)
{
	struct tfs *t = *state;
	uint64_t ino, fh;
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "bin", O_RDWR, 0755, &ino, &fh), 0);
	assert_int_equal(tfs_write(t, ino, fh, 0, "v1", 2), 2);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	assert_int_equal(open_flags(t, ino, O_RDONLY) & FOPEN_KEEP_CACHE, 0); /* written since */
	assert_true(open_flags(t, ino, O_RDONLY) & FOPEN_KEEP_CACHE);	      /* unchanged */
	assert_true(open_flags(t, ino, O_RDONLY) & FOPEN_KEEP_CACHE);
	/* the host rewrites it, same size: mtime and ctime move */
	struct timespec pause = {0, 20 * 1000 * 1000};
	nanosleep(&pause, NULL);
	FILE *f = fopen(tfs_path(t, "bin"), "r+");
	assert_non_null(f);
	fputs("v2", f);
	fclose(f);
	assert_int_equal(open_flags(t, ino, O_RDONLY) & FOPEN_KEEP_CACHE, 0);
	assert_true(open_flags(t, ino, O_RDONLY) & FOPEN_KEEP_CACHE);
	/* the host puts the old times back (touch -r): ctime still moves */
	nanosleep(&pause, NULL);
	struct stat st;
	assert_int_equal(stat(tfs_path(t, "bin"), &st), 0);
	f = fopen(tfs_path(t, "bin"), "r+");
	assert_non_null(f);
	fputs("v3", f);
	fclose(f);
	struct timespec old[2] = {st.st_atim, st.st_mtim};
	assert_int_equal(utimensat(AT_FDCWD, tfs_path(t, "bin"), old, 0), 0);
	assert_int_equal(open_flags(t, ino, O_RDONLY) & FOPEN_KEEP_CACHE, 0);
	/* a chmod, and a truncating open */
	nanosleep(&pause, NULL);
	assert_int_equal(chmod(tfs_path(t, "bin"), 0700), 0);
	assert_int_equal(open_flags(t, ino, O_RDONLY) & FOPEN_KEEP_CACHE, 0);
	nanosleep(&pause, NULL);
	assert_int_equal(open_flags(t, ino, O_WRONLY | O_TRUNC) & FOPEN_KEEP_CACHE, 0);
}

static void test_create_write_read(void **state)
{
	struct tfs *t = *state;
	uint64_t ino, fh;
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "f", O_RDWR, 0640, &ino, &fh), 0);
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "f", O_RDWR | O_EXCL, 0640, NULL, NULL), -EEXIST);
	assert_int_equal(tfs_handles(t), 1);
	char buf[8192];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7);
	assert_int_equal(tfs_write(t, ino, fh, 100, buf, sizeof(buf)), sizeof(buf));
	char back[9000];
	assert_int_equal(tfs_read(t, ino, fh, 100, back, sizeof(back)), sizeof(buf));
	assert_memory_equal(back, buf, sizeof(buf));
	assert_int_equal(tfs_read(t, ino, fh, 1 << 20, back, 10), 0); /* EOF */
	struct fuse_attr a;
	assert_int_equal(tfs_getattr(t, ino, &a), 0);
	assert_int_equal(a.size, 100 + sizeof(buf));
	assert_int_equal(a.mode & 07777, 0640);
	/* a write whose size exceeds the payload is refused */
	struct fuse_write_in w = {.fh = fh, .offset = 0, .size = 100};
	assert_int_equal(tfs_call(t, FUSE_WRITE, ino, &w, sizeof(w), buf, 10, NULL, 0), -EINVAL);
	/* fsync, flush, bad handles */
	struct fuse_fsync_in fs = {.fh = fh, .fsync_flags = 1};
	assert_int_equal(tfs_call(t, FUSE_FSYNC, ino, &fs, sizeof(fs), NULL, 0, NULL, 0), 0);
	struct fuse_flush_in fl = {.fh = fh};
	assert_int_equal(tfs_call(t, FUSE_FLUSH, ino, &fl, sizeof(fl), NULL, 0, NULL, 0), 0);
	assert_int_equal(tfs_read(t, ino, fh + 1, 0, back, 10), -EBADF);
	assert_int_equal(tfs_read(t, ino, fh ^ (1ULL << 32), 0, back, 10), -EBADF);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), -EBADF); /* stale */
	assert_int_equal(tfs_handles(t), 0);
	/* reopen read-only: writes fail with EBADF from the host */
	assert_int_equal(tfs_open(t, ino, O_RDONLY, &fh), 0);
	assert_int_equal(tfs_write(t, ino, fh, 0, "x", 1), -EBADF);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	/* open with O_TRUNC */
	assert_int_equal(tfs_open(t, ino, O_WRONLY | O_TRUNC, &fh), 0);
	assert_int_equal(tfs_getattr(t, ino, &a), 0);
	assert_int_equal(a.size, 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	/* opening a directory as a file */
	assert_int_equal(tfs_open(t, FUSE_ROOT_ID, O_RDONLY, &fh), -EISDIR);
}

static void test_setattr(void **state)
{
	struct tfs *t = *state;
	uint64_t ino, fh;
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "s", O_RDWR, 0600, &ino, &fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	struct fuse_setattr_in a = {.valid = FATTR_MODE | FATTR_SIZE | FATTR_UID | FATTR_GID | FATTR_ATIME |
					     FATTR_MTIME,
				    .mode = S_IFREG | 0754,
				    .size = 12345,
				    .uid = 1234,
				    .gid = 5678,
				    .atime = 1000000000,
				    .atimensec = 5,
				    .mtime = 1100000000,
				    .mtimensec = 7};
	assert_int_equal(tfs_call(t, FUSE_SETATTR, ino, &a, sizeof(a), NULL, 0, NULL, 0), 0);
	struct fuse_attr_out *o = tfs_out(t);
	assert_int_equal(o->attr.size, 12345);
	assert_int_equal(o->attr.mode & 07777, 0754);
	struct stat st;
	assert_int_equal(stat(tfs_path(t, "s"), &st), 0);
	assert_int_equal(st.st_size, 12345);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_int_equal(st.st_atim.tv_sec, 1000000000);
	assert_int_equal(st.st_atim.tv_nsec, 5);
	assert_int_equal(st.st_mtim.tv_sec, 1100000000);
	assert_int_equal(st.st_mtim.tv_nsec, 7);
	/* truncate through an open handle */
	assert_int_equal(tfs_open(t, ino, O_RDWR, &fh), 0);
	a = (struct fuse_setattr_in){.valid = FATTR_SIZE | FATTR_FH, .fh = fh, .size = 10};
	assert_int_equal(tfs_call(t, FUSE_SETATTR, ino, &a, sizeof(a), NULL, 0, NULL, 0), 0);
	assert_int_equal(stat(tfs_path(t, "s"), &st), 0);
	assert_int_equal(st.st_size, 10);
	a.fh = 999;
	assert_int_equal(tfs_call(t, FUSE_SETATTR, ino, &a, sizeof(a), NULL, 0, NULL, 0), -EBADF);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	/* size on a directory */
	a = (struct fuse_setattr_in){.valid = FATTR_SIZE, .size = 0};
	assert_int_equal(tfs_call(t, FUSE_SETATTR, FUSE_ROOT_ID, &a, sizeof(a), NULL, 0, NULL, 0), -EISDIR);
	/* bad nanoseconds */
	a = (struct fuse_setattr_in){.valid = FATTR_MTIME, .mtimensec = 2000000000u};
	assert_int_equal(tfs_call(t, FUSE_SETATTR, ino, &a, sizeof(a), NULL, 0, NULL, 0), -EINVAL);
}

static void test_symlink_readlink(void **state)
{
	struct tfs *t = *state;
	const char name[] = "ln", target[] = "../../some/where";
	assert_int_equal(
	    tfs_call(t, FUSE_SYMLINK, FUSE_ROOT_ID, name, sizeof(name), target, sizeof(target), NULL, 0), 0);
	uint64_t ino = ((struct fuse_entry_out *)tfs_out(t))->nodeid;
	assert_true(S_ISLNK(((struct fuse_entry_out *)tfs_out(t))->attr.mode));
	assert_int_equal(tfs_call(t, FUSE_READLINK, ino, NULL, 0, NULL, 0, NULL, 0), 0);
	assert_int_equal(t->replen, strlen(target));
	assert_memory_equal(tfs_out(t), target, strlen(target));
	char buf[64];
	assert_int_equal(readlink(tfs_path(t, "ln"), buf, sizeof(buf)), (ssize_t)strlen(target));
	assert_int_equal(tfs_call(t, FUSE_READLINK, FUSE_ROOT_ID, NULL, 0, NULL, 0, NULL, 0), -EINVAL);
	/* missing target */
	assert_int_equal(tfs_call(t, FUSE_SYMLINK, FUSE_ROOT_ID, "l2", 3, NULL, 0, NULL, 0), -EINVAL);
	assert_int_equal(tfs_call(t, FUSE_SYMLINK, FUSE_ROOT_ID, name, sizeof(name), "x", 2, NULL, 0),
			 -EEXIST);
	/* times on a symlink itself */
	struct fuse_setattr_in a = {.valid = FATTR_MTIME, .mtime = 123456};
	assert_int_equal(tfs_call(t, FUSE_SETATTR, ino, &a, sizeof(a), NULL, 0, NULL, 0), 0);
	struct stat st;
	assert_int_equal(lstat(tfs_path(t, "ln"), &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, 123456);
}

static void test_mknod_unlink(void **state)
{
	struct tfs *t = *state;
	struct fuse_mknod_in m = {.mode = S_IFIFO | 0644};
	assert_int_equal(tfs_call(t, FUSE_MKNOD, FUSE_ROOT_ID, &m, sizeof(m), "fifo", 5, NULL, 0), 0);
	struct stat st;
	assert_int_equal(lstat(tfs_path(t, "fifo"), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	uint64_t ino = ((struct fuse_entry_out *)tfs_out(t))->nodeid;
	/* special files are never opened on the host */
	assert_int_equal(tfs_open(t, ino, O_RDONLY | O_NONBLOCK, NULL), -EACCES);
	m.mode = S_IFDIR | 0755;
	assert_int_equal(tfs_call(t, FUSE_MKNOD, FUSE_ROOT_ID, &m, sizeof(m), "d", 2, NULL, 0), -EINVAL);
	assert_int_equal(tfs_name_op(t, FUSE_UNLINK, FUSE_ROOT_ID, "fifo"), 0);
	assert_int_equal(tfs_name_op(t, FUSE_UNLINK, FUSE_ROOT_ID, "fifo"), -ENOENT);
	assert_int_equal(tfs_mkdir(t, FUSE_ROOT_ID, "dd", 0755, NULL), 0);
	assert_int_equal(tfs_name_op(t, FUSE_UNLINK, FUSE_ROOT_ID, "dd"), -EISDIR);
}

static void test_rename(void **state)
{
	struct tfs *t = *state;
	uint64_t d, ino, fh;
	assert_int_equal(tfs_mkdir(t, FUSE_ROOT_ID, "dir", 0755, &d), 0);
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "a", O_RDWR, 0644, &ino, &fh), 0);
	assert_int_equal(tfs_write(t, ino, fh, 0, "AAAA", 4), 4);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	assert_int_equal(tfs_create(t, d, "b", O_RDWR, 0644, &ino, &fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	/* plain rename across directories */
	struct fuse_rename_in rn = {.newdir = d};
	assert_int_equal(tfs_call(t, FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "a", 2, "c", 2), 0);
	assert_int_equal(access(tfs_path(t, "dir/c"), F_OK), 0);
	/* NOREPLACE over an existing name */
	struct fuse_rename2_in r2 = {.newdir = d, .flags = RENAME_NOREPLACE};
	assert_int_equal(tfs_call(t, FUSE_RENAME2, d, &r2, sizeof(r2), "c", 2, "b", 2), -EEXIST);
	/* EXCHANGE */
	r2.flags = RENAME_EXCHANGE;
	assert_int_equal(tfs_call(t, FUSE_RENAME2, d, &r2, sizeof(r2), "c", 2, "b", 2), 0);
	struct stat st;
	assert_int_equal(stat(tfs_path(t, "dir/b"), &st), 0);
	assert_int_equal(st.st_size, 4);
	/* WHITEOUT and unknown flags are refused */
	r2.flags = RENAME_WHITEOUT;
	assert_int_equal(tfs_call(t, FUSE_RENAME2, d, &r2, sizeof(r2), "c", 2, "z", 2), -EINVAL);
	/* over an existing file (replace) */
	rn.newdir = d;
	assert_int_equal(tfs_call(t, FUSE_RENAME, d, &rn, sizeof(rn), "b", 2, "c", 2), 0);
	assert_int_equal(stat(tfs_path(t, "dir/c"), &st), 0);
	assert_int_equal(st.st_size, 4);
	/* directory over non-empty directory */
	assert_int_equal(tfs_mkdir(t, FUSE_ROOT_ID, "e", 0755, NULL), 0);
	rn.newdir = FUSE_ROOT_ID;
	assert_int_equal(tfs_call(t, FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "e", 2, "dir", 4),
			 -ENOTEMPTY);
	/* missing source */
	assert_int_equal(tfs_call(t, FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "nope", 5, "x", 2), -ENOENT);
	/* second name not terminated */
	assert_int_equal(tfs_call(t, FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "e", 2, "xy", 2), -EINVAL);
}

static void test_rename_exdev(void **state)
{
	struct tfs *t = *state;
	assert_int_equal(mkdir(tfs_path(t, "mnt"), 0755), 0);
	if (mount("tmpfs", tfs_path(t, "mnt"), "tmpfs", 0, "size=1m") < 0) {
		/* Needs CAP_SYS_ADMIN; the suite runs as root in CI. */
		fail_msg("mount tmpfs for the EXDEV test: %s", strerror(errno));
	}
	uint64_t ino, fh, m;
	struct fuse_entry_out e;
	assert_int_equal(tfs_lookup(t, FUSE_ROOT_ID, "mnt", &e), 0);
	m = e.nodeid;
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "f", O_RDWR, 0644, &ino, &fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	struct fuse_rename_in rn = {.newdir = m};
	assert_int_equal(tfs_call(t, FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "f", 2, "g", 2), -EXDEV);
	struct fuse_link_in l = {.oldnodeid = ino};
	assert_int_equal(tfs_call(t, FUSE_LINK, m, &l, sizeof(l), "g", 2, NULL, 0), -EXDEV);
	/* files inside the mount are served */
	assert_int_equal(tfs_create(t, m, "inner", O_RDWR, 0644, &ino, &fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	assert_int_equal(umount2(tfs_path(t, "mnt"), MNT_DETACH), 0);
}

static void test_link(void **state)
{
	struct tfs *t = *state;
	uint64_t ino, fh;
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "orig", O_RDWR, 0644, &ino, &fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	struct fuse_link_in l = {.oldnodeid = ino};
	assert_int_equal(tfs_call(t, FUSE_LINK, FUSE_ROOT_ID, &l, sizeof(l), "hard", 5, NULL, 0), 0);
	struct fuse_entry_out *e = tfs_out(t);
	assert_int_equal(e->nodeid, ino);
	assert_int_equal(e->attr.nlink, 2);
	assert_int_equal(tfs_call(t, FUSE_LINK, FUSE_ROOT_ID, &l, sizeof(l), "hard", 5, NULL, 0), -EEXIST);
	l.oldnodeid = FUSE_ROOT_ID;
	assert_int_equal(tfs_call(t, FUSE_LINK, FUSE_ROOT_ID, &l, sizeof(l), "dirlink", 8, NULL, 0), -EPERM);
	l.oldnodeid = 77777;
	assert_int_equal(tfs_call(t, FUSE_LINK, FUSE_ROOT_ID, &l, sizeof(l), "x", 2, NULL, 0), -EBADF);
}

static void test_statfs_access(void **state)
{
	struct tfs *t = *state;
	assert_int_equal(tfs_call(t, FUSE_STATFS, FUSE_ROOT_ID, NULL, 0, NULL, 0, NULL, 0), 0);
	struct fuse_statfs_out *s = tfs_out(t);
	assert_true(s->st.bsize > 0);
	assert_true(s->st.namelen >= 255);
	struct fuse_access_in a = {.mask = R_OK | X_OK};
	assert_int_equal(tfs_call(t, FUSE_ACCESS, FUSE_ROOT_ID, &a, sizeof(a), NULL, 0, NULL, 0), 0);
	a.mask = 0x100;
	assert_int_equal(tfs_call(t, FUSE_ACCESS, FUSE_ROOT_ID, &a, sizeof(a), NULL, 0, NULL, 0), -EINVAL);
}

static void test_xattr(void **state)
{
	struct tfs *t = *state;
	uint64_t ino, fh;
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "x", O_RDWR, 0644, &ino, &fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	struct fuse_setxattr_in s = {.size = 5, .flags = 0};
	uint8_t arg[64];
	memcpy(arg, &s, 8);
	int rc = tfs_call(t, FUSE_SETXATTR, ino, arg, 8, "user.k", 7, "value", 5);
	if (rc == -EOPNOTSUPP)
		skip(); /* the temporary directory's filesystem has no user xattrs */
	assert_int_equal(rc, 0);
	char buf[16];
	assert_int_equal(getxattr(tfs_path(t, "x"), "user.k", buf, sizeof(buf)), 5);
	s.flags = XATTR_CREATE;
	memcpy(arg, &s, 8);
	assert_int_equal(tfs_call(t, FUSE_SETXATTR, ino, arg, 8, "user.k", 7, "value", 5), -EEXIST);
	/* value shorter than announced */
	s.flags = 0;
	s.size = 50;
	memcpy(arg, &s, 8);
	assert_int_equal(tfs_call(t, FUSE_SETXATTR, ino, arg, 8, "user.k", 7, "value", 5), -EINVAL);
	struct fuse_getxattr_in g = {.size = 0};
	assert_int_equal(tfs_call(t, FUSE_GETXATTR, ino, &g, sizeof(g), "user.k", 7, NULL, 0), 0);
	assert_int_equal(((struct fuse_getxattr_out *)tfs_out(t))->size, 5);
	g.size = 64;
	assert_int_equal(tfs_call(t, FUSE_GETXATTR, ino, &g, sizeof(g), "user.k", 7, NULL, 0), 0);
	assert_int_equal(t->replen, 5);
	assert_memory_equal(tfs_out(t), "value", 5);
	g.size = 2;
	assert_int_equal(tfs_call(t, FUSE_GETXATTR, ino, &g, sizeof(g), "user.k", 7, NULL, 0), -ERANGE);
	g.size = 64;
	assert_int_equal(tfs_call(t, FUSE_GETXATTR, ino, &g, sizeof(g), "user.none", 10, NULL, 0), -ENODATA);
	assert_int_equal(tfs_call(t, FUSE_LISTXATTR, ino, &g, sizeof(g), NULL, 0, NULL, 0), 0);
	assert_non_null(memmem(tfs_out(t), t->replen, "user.k", 7));
	assert_int_equal(tfs_call(t, FUSE_REMOVEXATTR, ino, "user.k", 7, NULL, 0, NULL, 0), 0);
	assert_int_equal(tfs_call(t, FUSE_REMOVEXATTR, ino, "user.k", 7, NULL, 0, NULL, 0), -ENODATA);
}

static void test_fallocate_lseek_copy(void **state)
{
	struct tfs *t = *state;
	uint64_t a, fa, b, fb;
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "a", O_RDWR, 0644, &a, &fa), 0);
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "b", O_RDWR, 0644, &b, &fb), 0);
	struct fuse_fallocate_in f = {.fh = fa, .offset = 0, .length = 65536};
	assert_int_equal(tfs_call(t, FUSE_FALLOCATE, a, &f, sizeof(f), NULL, 0, NULL, 0), 0);
	struct stat st;
	assert_int_equal(stat(tfs_path(t, "a"), &st), 0);
	assert_int_equal(st.st_size, 65536);
	assert_int_equal(tfs_write(t, a, fa, 0, "0123456789", 10), 10);
	struct fuse_lseek_in l = {.fh = fa, .offset = 0, .whence = SEEK_END};
	assert_int_equal(tfs_call(t, FUSE_LSEEK, a, &l, sizeof(l), NULL, 0, NULL, 0), 0);
	assert_int_equal(((struct fuse_lseek_out *)tfs_out(t))->offset, 65536);
	l.whence = 99;
	assert_int_equal(tfs_call(t, FUSE_LSEEK, a, &l, sizeof(l), NULL, 0, NULL, 0), -EINVAL);
	l.whence = SEEK_DATA;
	l.offset = 1 << 20;
	assert_int_equal(tfs_call(t, FUSE_LSEEK, a, &l, sizeof(l), NULL, 0, NULL, 0), -ENXIO);
	struct fuse_copy_file_range_in c = {
	    .fh_in = fa, .off_in = 2, .nodeid_out = b, .fh_out = fb, .off_out = 0, .len = 5};
	assert_int_equal(tfs_call(t, FUSE_COPY_FILE_RANGE, a, &c, sizeof(c), NULL, 0, NULL, 0), 0);
	assert_int_equal(((struct fuse_write_out *)tfs_out(t))->size, 5);
	char buf[8] = {0};
	assert_int_equal(tfs_read(t, b, fb, 0, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "23456", 5);
	c.fh_out = 4242;
	assert_int_equal(tfs_call(t, FUSE_COPY_FILE_RANGE, a, &c, sizeof(c), NULL, 0, NULL, 0), -EBADF);
	assert_int_equal(tfs_release(t, a, fa), 0);
	assert_int_equal(tfs_release(t, b, fb), 0);
}

/* The guest's modes are applied exactly, whatever the process umask, and the
 * process umask is left alone. */
static void test_umask(void **state)
{
	struct tfs *t = *state;
	mode_t old = umask(077);
	uint64_t ino, fh;
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "f", O_RDWR, 0664, &ino, &fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	assert_int_equal(tfs_mkdir(t, FUSE_ROOT_ID, "d", 0775, NULL), 0);
	struct fuse_mknod_in m = {.mode = S_IFIFO | 0666};
	assert_int_equal(tfs_call(t, FUSE_MKNOD, FUSE_ROOT_ID, &m, sizeof(m), "p", 2, NULL, 0), 0);
	assert_int_equal(umask(old), 077);
	struct stat st;
	assert_int_equal(stat(tfs_path(t, "f"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0664);
	assert_int_equal(stat(tfs_path(t, "d"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0775);
	assert_int_equal(stat(tfs_path(t, "p"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0666);
}

static void test_destroy(void **state)
{
	struct tfs *t = *state;
	uint64_t ino, fh;
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "f", O_RDWR, 0644, &ino, &fh), 0);
	assert_int_equal(tfs_inodes(t), 2);
	assert_int_equal(tfs_call(t, FUSE_DESTROY, 0, NULL, 0, NULL, 0, NULL, 0), 0);
	assert_int_equal(tfs_inodes(t), 1);
	assert_int_equal(tfs_handles(t), 0);
	/* needs INIT again */
	assert_int_equal(tfs_getattr(t, FUSE_ROOT_ID, NULL), -EIO);
	struct fuse_init_in in = {.major = 7, .minor = FUSE_KERNEL_MINOR_VERSION};
	assert_int_equal(tfs_call(t, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, NULL, 0), 0);
	/* a repeated INIT starts a new session: nodes and handles of the old one go */
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "g", O_RDWR, 0644, &ino, &fh), 0);
	assert_int_equal(tfs_inodes(t), 2);
	assert_int_equal(tfs_handles(t), 1);
	assert_int_equal(tfs_call(t, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, NULL, 0), 0);
	assert_int_equal(tfs_inodes(t), 1);
	assert_int_equal(tfs_handles(t), 0);
	assert_int_equal(tfs_getattr(t, ino, NULL), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_and_before_init),
	    cmocka_unit_test(test_nofile_raised),
	    cmocka_unit_test_setup_teardown(test_unknown_opcode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lookup_getattr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auto_cache_keeps_unchanged_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mkdir_rmdir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_write_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_setattr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_symlink_readlink, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mknod_unlink, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rename_exdev, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_link, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_statfs_access, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_xattr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fallocate_lseek_copy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_umask, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_destroy, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
