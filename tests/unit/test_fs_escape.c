/* SPDX-License-Identifier: Apache-2.0 */
/* Confinement and hostile-input tests: nothing outside the shared directory is
 * reachable, names are checked, credentials are the requester's. */
#include "test_fs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

/* A file outside the shared directory that must stay untouched. */
static char outside[PATH_MAX + 16];

static int setup(void **state)
{
	struct tfs *t = calloc(1, sizeof(*t));
	tfs_setup(t);
	snprintf(outside, sizeof(outside), "%s.outside", t->dir);
	FILE *f = fopen(outside, "w");
	assert_non_null(f);
	fputs("secret", f);
	fclose(f);
	chmod(outside, 0600);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tfs *t = *state;
	struct stat st;
	assert_int_equal(stat(outside, &st), 0);
	assert_int_equal(st.st_size, 6); /* never modified */
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, getuid());
	unlink(outside);
	tfs_teardown(t);
	free(t);
	return 0;
}

static void test_bad_names(void **state)
{
	struct tfs *t = *state;
	assert_int_equal(tfs_lookup(t, FUSE_ROOT_ID, "..", NULL), -EINVAL);
	assert_int_equal(tfs_lookup(t, FUSE_ROOT_ID, ".", NULL), -EINVAL);
	assert_int_equal(tfs_lookup(t, FUSE_ROOT_ID, "", NULL), -EINVAL);
	char rel[PATH_MAX];
	snprintf(rel, sizeof(rel), "../%s", strrchr(outside, '/') + 1);
	assert_int_equal(tfs_lookup(t, FUSE_ROOT_ID, rel, NULL), -EINVAL);
	assert_int_equal(tfs_lookup(t, FUSE_ROOT_ID, outside, NULL), -EINVAL); /* absolute */
	assert_int_equal(tfs_mkdir(t, FUSE_ROOT_ID, "../up", 0755, NULL), -EINVAL);
	assert_int_equal(tfs_mkdir(t, FUSE_ROOT_ID, "..", 0755, NULL), -EINVAL);
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "a/b", O_RDWR, 0644, NULL, NULL), -EINVAL);
	assert_int_equal(tfs_name_op(t, FUSE_UNLINK, FUSE_ROOT_ID, rel), -EINVAL);
	assert_int_equal(tfs_name_op(t, FUSE_RMDIR, FUSE_ROOT_ID, ".."), -EINVAL);
	/* name not NUL-terminated inside the request */
	assert_int_equal(tfs_call(t, FUSE_LOOKUP, FUSE_ROOT_ID, "abc", 3, NULL, 0, NULL, 0), -EINVAL);
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(tfs_lookup(t, FUSE_ROOT_ID, longname, NULL), -ENAMETOOLONG);
	/* rename to a path with a slash, and to ".." */
	uint64_t ino, fh;
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "f", O_RDWR, 0644, &ino, &fh), 0);
	struct fuse_rename_in rn = {.newdir = FUSE_ROOT_ID};
	assert_int_equal(
	    tfs_call(t, FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "f", 2, rel, strlen(rel) + 1), -EINVAL);
	assert_int_equal(tfs_call(t, FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "f", 2, "..", 3), -EINVAL);
	struct fuse_link_in l = {.oldnodeid = ino};
	assert_int_equal(tfs_call(t, FUSE_LINK, FUSE_ROOT_ID, &l, sizeof(l), rel, strlen(rel) + 1, NULL, 0),
			 -EINVAL);
	const char sym[] = "s";
	assert_int_equal(tfs_call(t, FUSE_SYMLINK, FUSE_ROOT_ID, "../s", 5, sym, sizeof(sym), NULL, 0),
			 -EINVAL);
}

/* Symlinks pointing out are stored and read back, but never followed by the server. */
static void test_symlinks_not_followed(void **state)
{
	struct tfs *t = *state;
	char updir[PATH_MAX];
	snprintf(updir, sizeof(updir), "../%s", strrchr(outside, '/') + 1);
	assert_int_equal(symlink(outside, tfs_path(t, "abs")), 0);
	assert_int_equal(symlink(updir, tfs_path(t, "rel")), 0);
	assert_int_equal(symlink("..", tfs_path(t, "updir")), 0);
	assert_int_equal(symlink("/proc/self/fd/3", tfs_path(t, "procfd")), 0);
	assert_int_equal(symlink("/", tfs_path(t, "root")), 0);
	const char *names[] = {"abs", "rel", "updir", "procfd", "root"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct fuse_entry_out e;
		assert_int_equal(tfs_lookup(t, FUSE_ROOT_ID, names[i], &e), 0);
		assert_true(S_ISLNK(e.attr.mode)); /* the link itself, not its target */
		assert_int_equal(tfs_open(t, e.nodeid, O_RDWR, NULL), -ELOOP);
		assert_int_equal(tfs_open(t, e.nodeid, O_RDONLY | O_TRUNC, NULL), -ELOOP);
		/* treat as directory: no walking through */
		assert_int_equal(tfs_lookup(t, e.nodeid, "etc", NULL), -ENOTDIR);
		assert_int_equal(tfs_mkdir(t, e.nodeid, "x", 0755, NULL), -ENOTDIR);
		assert_int_equal(tfs_create(t, e.nodeid, "x", O_RDWR, 0644, NULL, NULL), -ENOTDIR);
		struct fuse_open_in o = {.flags = O_RDONLY};
		assert_int_equal(tfs_call(t, FUSE_OPENDIR, e.nodeid, &o, sizeof(o), NULL, 0, NULL, 0),
				 -ENOTDIR);
		/* setattr size/mode does not go through to the target */
		struct fuse_setattr_in a = {.valid = FATTR_SIZE, .size = 0};
		assert_int_not_equal(tfs_call(t, FUSE_SETATTR, e.nodeid, &a, sizeof(a), NULL, 0, NULL, 0), 0);
		a = (struct fuse_setattr_in){.valid = FATTR_MODE, .mode = 0777};
		assert_int_not_equal(tfs_call(t, FUSE_SETATTR, e.nodeid, &a, sizeof(a), NULL, 0, NULL, 0), 0);
		/* chown changes the link, not the target */
		a = (struct fuse_setattr_in){.valid = FATTR_UID, .uid = 4321};
		assert_int_equal(tfs_call(t, FUSE_SETATTR, e.nodeid, &a, sizeof(a), NULL, 0, NULL, 0), 0);
		/* xattrs on links are refused rather than reaching the target */
		uint8_t sx[8] = {1, 0, 0, 0, 0, 0, 0, 0};
		assert_int_equal(tfs_call(t, FUSE_SETXATTR, e.nodeid, sx, 8, "user.x", 7, "v", 1), -EPERM);
	}
	/* creating over a dangling or outward symlink name does not follow it */
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "abs", O_RDWR | O_TRUNC, 0644, NULL, NULL), -ELOOP);
	assert_int_equal(symlink("/tmp/runm-fs-should-not-exist", tfs_path(t, "dangling")), 0);
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "dangling", O_RDWR, 0644, NULL, NULL), -ELOOP);
	assert_int_equal(access("/tmp/runm-fs-should-not-exist", F_OK), -1);
	/* the link made "rel" is still only a name */
	char buf[PATH_MAX];
	ssize_t n = readlink(tfs_path(t, "rel"), buf, sizeof(buf));
	assert_int_equal(n, (ssize_t)strlen(updir));
}

/* Hard links: only inodes inside the share have node ids; forged ids fail. */
static void test_hardlink_and_forged_ids(void **state)
{
	struct tfs *t = *state;
	struct fuse_link_in l = {.oldnodeid = 0};
	assert_int_equal(tfs_call(t, FUSE_LINK, FUSE_ROOT_ID, &l, sizeof(l), "h", 2, NULL, 0), -EBADF);
	for (uint64_t id = 2; id < 200; id++) {
		l.oldnodeid = id;
		assert_int_equal(tfs_call(t, FUSE_LINK, FUSE_ROOT_ID, &l, sizeof(l), "h", 2, NULL, 0),
				 -EBADF);
	}
	l.oldnodeid = UINT64_MAX;
	assert_int_equal(tfs_call(t, FUSE_LINK, FUSE_ROOT_ID, &l, sizeof(l), "h", 2, NULL, 0), -EBADF);
	assert_int_equal(tfs_lookup(t, UINT64_MAX, "x", NULL), -EBADF);
	/* a linked symlink to the outside is still a symlink */
	assert_int_equal(symlink(outside, tfs_path(t, "abs")), 0);
	struct fuse_entry_out e;
	assert_int_equal(tfs_lookup(t, FUSE_ROOT_ID, "abs", &e), 0);
	l.oldnodeid = e.nodeid;
	assert_int_equal(tfs_call(t, FUSE_LINK, FUSE_ROOT_ID, &l, sizeof(l), "abs2", 5, NULL, 0), 0);
	struct stat st;
	assert_int_equal(lstat(tfs_path(t, "abs2"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* a node id is not valid after its last forget */
	uint64_t ino, fh;
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "f", O_RDWR, 0644, &ino, &fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	tfs_forget(t, ino, 1);
	assert_int_equal(tfs_getattr(t, ino, NULL), -EBADF);
	/* the root is never forgotten */
	tfs_forget(t, FUSE_ROOT_ID, 1000);
	assert_int_equal(tfs_getattr(t, FUSE_ROOT_ID, NULL), 0);
	/* forged directory handle used as file handle and vice versa */
	struct fuse_open_in o = {.flags = O_RDONLY};
	assert_int_equal(tfs_call(t, FUSE_OPENDIR, FUSE_ROOT_ID, &o, sizeof(o), NULL, 0, NULL, 0), 0);
	uint64_t dh = ((struct fuse_open_out *)tfs_out(t))->fh;
	char b[4];
	assert_int_equal(tfs_read(t, FUSE_ROOT_ID, dh, 0, b, 4), -EBADF);
	struct fuse_release_in r = {.fh = dh};
	assert_int_equal(tfs_call(t, FUSE_RELEASE, FUSE_ROOT_ID, &r, sizeof(r), NULL, 0, NULL, 0), -EBADF);
	assert_int_equal(tfs_call(t, FUSE_RELEASEDIR, FUSE_ROOT_ID, &r, sizeof(r), NULL, 0, NULL, 0), 0);
}

/* The requester's uid/gid are used for every operation (fsuid/fsgid), so a
 * non-root guest user gets EACCES where the host would refuse it. */
static void test_credentials(void **state)
{
	struct tfs *t = *state;
	if (geteuid() != 0)
		skip(); /* switching fsuid needs root; unit tests run as root in CI */
	uint64_t d, ino, fh;
	assert_int_equal(tfs_mkdir(t, FUSE_ROOT_ID, "rootonly", 0700, &d), 0);
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "rofile", O_RDWR, 0644, &ino, &fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	assert_int_equal(chmod(t->dir, 0755), 0);
	t->uid = 1000;
	t->gid = 1000;
	assert_int_equal(tfs_mkdir(t, d, "x", 0755, NULL), -EACCES);
	assert_int_equal(tfs_lookup(t, d, "x", NULL), -EACCES);
	assert_int_equal(tfs_mkdir(t, FUSE_ROOT_ID, "x", 0755, NULL), -EACCES);
	assert_int_equal(tfs_open(t, ino, O_RDWR, NULL), -EACCES);
	struct fuse_open_in o = {.flags = O_RDONLY};
	assert_int_equal(tfs_call(t, FUSE_OPENDIR, d, &o, sizeof(o), NULL, 0, NULL, 0), -EACCES);
	struct fuse_setattr_in a = {.valid = FATTR_UID, .uid = 1000};
	assert_int_equal(tfs_call(t, FUSE_SETATTR, ino, &a, sizeof(a), NULL, 0, NULL, 0), -EPERM);
	struct fuse_access_in ac = {.mask = W_OK};
	assert_int_equal(tfs_call(t, FUSE_ACCESS, ino, &ac, sizeof(ac), NULL, 0, NULL, 0), -EACCES);
	assert_int_equal(tfs_open(t, ino, O_RDONLY, &fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	/* files a user creates belong to that user */
	t->uid = 0;
	t->gid = 0;
	assert_int_equal(tfs_mkdir(t, FUSE_ROOT_ID, "pub", 01777, &d), 0);
	t->uid = 1000;
	t->gid = 1000;
	assert_int_equal(tfs_create(t, d, "mine", O_RDWR, 0600, &ino, &fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	struct stat st;
	assert_int_equal(stat(tfs_path(t, "pub/mine"), &st), 0);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1000);
	/* hard link as non-root goes through the /proc fallback */
	struct fuse_link_in l = {.oldnodeid = ino};
	assert_int_equal(tfs_call(t, FUSE_LINK, d, &l, sizeof(l), "mine2", 6, NULL, 0), 0);
	t->uid = 0;
	t->gid = 0;
	/* root in the guest acts as root on the share */
	assert_int_equal(tfs_open(t, ino, O_RDWR, &fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
}

/* The server's own supplementary groups never lend a guest user access. */
static void test_supplementary_groups(void **state)
{
	struct tfs *t = *state;
	if (geteuid() != 0)
		skip();
	gid_t g = 4242;
	assert_int_equal(setgroups(1, &g), 0); /* the whole process is in group 4242 */
	uint64_t ino, fh;
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "grp", O_RDWR, 0060, &ino, &fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	assert_int_equal(chown(tfs_path(t, "grp"), 0, 4242), 0);
	assert_int_equal(chmod(t->dir, 0755), 0);
	t->uid = 1000;
	t->gid = 1000;
	assert_int_equal(tfs_open(t, ino, O_RDONLY, NULL), -EACCES);
	t->gid = 4242; /* the requester's own primary group does count */
	assert_int_equal(tfs_open(t, ino, O_RDONLY, &fh), 0);
	assert_int_equal(tfs_release(t, ino, fh), 0);
	t->uid = 0;
	t->gid = 0;
	assert_int_equal(setgroups(0, NULL), 0);
}

/* Hostile lengths: header len beyond the buffer, tiny reply buffers, huge sizes. */
static void test_hostile_lengths(void **state)
{
	struct tfs *t = *state;
	struct fuse_in_header h = {.len = 1u << 31, .opcode = FUSE_GETATTR, .unique = 7, .nodeid = 1};
	struct fuse_getattr_in g = {0};
	struct iovec req[2] = {{&h, sizeof(h)}, {&g, sizeof(g)}};
	struct iovec rep = {t->rep, t->repcap};
	assert_true(fs_server_handle(t->s, req, 2, &rep, 1) > 0); /* len clamped to what arrived */
	/* reply buffer too small for the attr reply: an error header instead */
	h.len = sizeof(h) + sizeof(g);
	struct iovec small = {t->rep, 20};
	assert_int_equal(fs_server_handle(t->s, req, 2, &small, 1), 16);
	assert_int_equal(((struct fuse_out_header *)t->rep)->error, -EIO);
	/* no room even for a header */
	struct iovec tiny = {t->rep, 8};
	assert_int_equal(fs_server_handle(t->s, req, 2, &tiny, 1), -EINVAL);
	/* READ asking for far more than the reply can hold */
	uint64_t ino, fh;
	assert_int_equal(tfs_create(t, FUSE_ROOT_ID, "f", O_RDWR, 0644, &ino, &fh), 0);
	char data[100];
	memset(data, 'z', sizeof(data));
	assert_int_equal(tfs_write(t, ino, fh, 0, data, sizeof(data)), 100);
	struct fuse_in_header rh = {
	    .len = sizeof(rh) + sizeof(struct fuse_read_in), .opcode = FUSE_READ, .unique = 9, .nodeid = ino};
	struct fuse_read_in rd = {.fh = fh, .offset = 0, .size = UINT32_MAX};
	struct iovec rreq[2] = {{&rh, sizeof(rh)}, {&rd, sizeof(rd)}};
	struct iovec rrep = {t->rep, 16 + 10};
	assert_int_equal(fs_server_handle(t->s, rreq, 2, &rrep, 1), 26);
	rd.offset = UINT64_MAX;
	rrep.iov_len = t->repcap;
	assert_int_equal(fs_server_handle(t->s, rreq, 2, &rrep, 1), 16);
	assert_int_equal(((struct fuse_out_header *)t->rep)->error, -EINVAL);
	/* batch forget announcing more entries than sent */
	struct fuse_batch_forget_in bf = {.count = 1000000};
	struct fuse_forget_one one = {.nodeid = ino, .nlookup = 1};
	assert_int_equal(tfs_call(t, FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), &one, sizeof(one), NULL, 0), 0);
	assert_true(t->noreply);
	assert_int_equal(tfs_getattr(t, ino, NULL), -EBADF);
	assert_int_equal(tfs_release(t, ino, fh), 0); /* the handle outlives the inode */
	/* an oversized non-WRITE request */
	size_t big = 200 * 1024;
	char *b = calloc(1, big);
	assert_int_equal(tfs_call(t, FUSE_LOOKUP, FUSE_ROOT_ID, b, big, NULL, 0, NULL, 0), -E2BIG);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_symlinks_not_followed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hardlink_and_forged_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_supplementary_groups, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_lengths, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
