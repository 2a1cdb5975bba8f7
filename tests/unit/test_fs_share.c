/* SPDX-License-Identifier: Apache-2.0 */
/* Host-side share directory: binds, read-only stays read-only, propagation to
 * nothing else on the host, served by the FUSE server, cleanup leaves nothing behind. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/devices/fs/fs.h"
#include "vmm/devices/fs/share.h"

#include <linux/fuse.h>

static char base[64], rootfs[128], srcdir[160], srcfile[160], share[128];

static void write_file(const char *p, const char *s)
{
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

static char *read_file(const char *p, char *buf, size_t n)
{
	FILE *f = fopen(p, "r");
	if (!f)
		return NULL;
	size_t k = fread(buf, 1, n - 1, f);
	buf[k] = 0;
	fclose(f);
	return buf;
}

static int count_mounts_under(const char *prefix)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], mp[4096];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && !strncmp(mp, prefix, strlen(prefix)))
			n++;
	fclose(f);
	return n;
}

/* Whether the mount at exactly `mp` has option `opt` (e.g. "nosuid"). */
static bool has_opt(const char *mp, const char *opt)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], p[4096], opts[1024];
	bool r = false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %4095s %1023s", p, opts) == 2 && !strcmp(p, mp)) {
			char *tok, *save = NULL;
			r = false;
			for (tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
				if (!strcmp(tok, opt))
					r = true;
		}
	fclose(f);
	return r;
}

/* Propagation field of the mount at exactly `mp`: 1 shared, 0 private, -1 absent. */
static int is_shared(const char *mp)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], p[4096];
	int r = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %4095s", p) == 1 && !strcmp(p, mp))
			r = strstr(line, " shared:") != NULL;
	fclose(f);
	return r;
}

/* How many mounts of this namespace are in the peer group of the mount at `mp` (0: it is not
 * shared). 1: a peer group of its own — nothing below it propagates anywhere else here. */
static int peers(const char *mp)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], p[4096];
	long group = -1;
	while (fgets(line, sizeof(line), f)) {
		char *g = strstr(line, " shared:");
		if (sscanf(line, "%*s %*s %*s %*s %4095s", p) == 1 && !strcmp(p, mp))
			group = g ? strtol(g + 8, NULL, 10) : -1;
	}
	int n = 0;
	rewind(f);
	while (group >= 0 && fgets(line, sizeof(line), f)) {
		char *g = strstr(line, " shared:");
		n += g && strtol(g + 8, NULL, 10) == group;
	}
	fclose(f);
	return n;
}

static int setup(void **state)
{
	if (geteuid() != 0) {
		print_message("share tests need root (mount); skipped\n");
		return 0;
	}
	snprintf(base, sizeof(base), "/tmp/runm-test-share.XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", base);
	snprintf(srcdir, sizeof(srcdir), "%s/data", base);
	snprintf(srcfile, sizeof(srcfile), "%s/single.conf", base);
	snprintf(share, sizeof(share), "%s/share", base);
	assert_int_equal(mkdir(rootfs, 0755), 0);
	assert_int_equal(mkdir(srcdir, 0755), 0);
	char p[256];
	snprintf(p, sizeof(p), "%s/etc-hostname", rootfs);
	write_file(p, "box\n");
	snprintf(p, sizeof(p), "%s/ro.txt", srcdir);
	write_file(p, "read only\n");
	write_file(srcfile, "conf\n");
	return 0;
}

static int teardown(void **state)
{
	if (geteuid() != 0)
		return 0;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "umount -R -l %s 2>/dev/null; rm -rf %s", share, base);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_prepare_and_cleanup(void **state)
{
	if (geteuid() != 0)
		skip();
	char err[512], p[256], buf[64];
	struct fs_share_bind b[] = {{.source = srcdir, .readonly = true}, {.source = srcfile, .readonly = false}};
	assert_int_equal(fs_share_prepare(share, rootfs, false, b, 2, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/rootfs/etc-hostname", share);
	assert_string_equal(read_file(p, buf, sizeof(buf)), "box\n");
	snprintf(p, sizeof(p), "%s/mounts/0/ro.txt", share);
	assert_string_equal(read_file(p, buf, sizeof(buf)), "read only\n");
	/* read-only bind refuses writes on the host side */
	assert_int_equal(open(p, O_WRONLY), -1);
	assert_int_equal(errno, EROFS);
	snprintf(p, sizeof(p), "%s/mounts/0/new", share);
	assert_int_equal(open(p, O_CREAT | O_WRONLY, 0644), -1);
	assert_int_equal(errno, EROFS);
	/* the read-write file bind writes through to its source */
	snprintf(p, sizeof(p), "%s/mounts/1", share);
	write_file(p, "changed\n");
	assert_string_equal(read_file(srcfile, buf, sizeof(buf)), "changed\n");
	/* rootfs writable */
	snprintf(p, sizeof(p), "%s/rootfs/newfile", share);
	write_file(p, "x");
	/* the share is shared in a peer group of its own (the jailed fs server's copy is its slave,
	 * docs/pods.md), so nothing below it propagates anywhere else on the host */
	assert_int_equal(count_mounts_under(share), 4);
	assert_int_equal(is_shared(share), 1);
	assert_int_equal(peers(share), 1);
	snprintf(p, sizeof(p), "%s/rootfs", share);
	assert_true(is_shared(p) == 0 || peers(p) == 1);
	snprintf(p, sizeof(p), "%s/mounts/0", share);
	assert_true(is_shared(p) == 0 || peers(p) == 1);
	/* host side: nosuid, nodev; ro only where asked */
	assert_true(has_opt(p, "nosuid") && has_opt(p, "nodev") && has_opt(p, "ro"));
	snprintf(p, sizeof(p), "%s/rootfs", share);
	assert_true(has_opt(p, "nosuid") && has_opt(p, "nodev") && has_opt(p, "rw"));
	/* device nodes can be created (the guest does) but not opened through the share */
	snprintf(p, sizeof(p), "%s/rootfs/null", share);
	assert_int_equal(mknod(p, S_IFCHR | 0666, makedev(1, 3)), 0);
	assert_int_equal(open(p, O_WRONLY), -1);
	assert_int_equal(errno, EACCES);
	unlink(p);
	/* preparing the same share twice fails without touching the first */
	assert_int_equal(fs_share_prepare(share, rootfs, false, b, 2, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "fs share: mkdir: "));
	assert_int_equal(count_mounts_under(share), 4);
	/* cleanup: no mounts, no directory, sources intact */
	assert_int_equal(fs_share_cleanup(share, err, sizeof(err)), 0);
	assert_int_equal(count_mounts_under(share), 0);
	struct stat st;
	assert_int_equal(stat(share, &st), -1);
	assert_int_equal(errno, ENOENT);
	snprintf(p, sizeof(p), "%s/ro.txt", srcdir);
	assert_string_equal(read_file(p, buf, sizeof(buf)), "read only\n");
	snprintf(p, sizeof(p), "%s/newfile", rootfs);
	assert_int_equal(stat(p, &st), 0);
	/* cleanup of a missing share is fine */
	assert_int_equal(fs_share_cleanup(share, err, sizeof(err)), 0);
}

/* Minimal request helper for the served share. */
static uint8_t rep[8192];
static int req(struct fs_server *s, uint32_t op, uint64_t node, const void *a, size_t al, const void *b2,
	       size_t bl)
{
	static uint64_t uniq;
	struct fuse_in_header h = {
	    .len = (uint32_t)(sizeof(h) + al + bl), .opcode = op, .unique = ++uniq, .nodeid = node};
	struct iovec in[3] = {{&h, sizeof(h)}, {(void *)a, al}, {(void *)b2, bl}};
	struct iovec out = {rep, sizeof(rep)};
	assert_true(fs_server_handle(s, in, 3, &out, 1) >= 16);
	return ((struct fuse_out_header *)rep)->error;
}

static uint64_t lookup(struct fs_server *s, uint64_t parent, const char *name)
{
	assert_int_equal(req(s, FUSE_LOOKUP, parent, name, strlen(name) + 1, NULL, 0), 0);
	return ((struct fuse_entry_out *)(rep + 16))->nodeid;
}

/* The share as the guest sees it: the server crosses into the binds, and a
 * read-only bind stays read-only even for guest root. */
static void test_served_by_the_fuse_server(void **state)
{
	if (geteuid() != 0)
		skip();
	char err[512];
	struct fs_share_bind b[] = {{.source = srcdir, .readonly = true}, {.source = srcfile, .readonly = false}};
	assert_int_equal(fs_share_prepare(share, rootfs, false, b, 2, err, sizeof(err)), 0);
	struct fs_server *s = fs_server_new(share, FS_CACHE_AUTO, err, sizeof(err));
	assert_non_null(s);
	struct fuse_init_in in = {.major = 7, .minor = FUSE_KERNEL_MINOR_VERSION};
	assert_int_equal(req(s, FUSE_INIT, 0, &in, sizeof(in), NULL, 0), 0);
	uint64_t r = lookup(s, FUSE_ROOT_ID, "rootfs");
	uint64_t host = lookup(s, r, "etc-hostname");
	struct fuse_open_in o = {.flags = O_RDONLY};
	assert_int_equal(req(s, FUSE_OPEN, host, &o, sizeof(o), NULL, 0), 0);
	struct fuse_read_in rd = {.fh = ((struct fuse_open_out *)(rep + 16))->fh, .size = 64};
	assert_int_equal(req(s, FUSE_READ, host, &rd, sizeof(rd), NULL, 0), 0);
	assert_memory_equal(rep + 16, "box\n", 4);
	uint64_t m = lookup(s, FUSE_ROOT_ID, "mounts");
	uint64_t ro = lookup(s, m, "0");
	struct fuse_create_in c = {.flags = O_RDWR, .mode = 0644};
	assert_int_equal(req(s, FUSE_CREATE, ro, &c, sizeof(c), "x", 2), -EROFS);
	uint64_t rofile = lookup(s, ro, "ro.txt");
	o.flags = O_RDWR;
	assert_int_equal(req(s, FUSE_OPEN, rofile, &o, sizeof(o), NULL, 0), -EROFS);
	uint64_t f = lookup(s, m, "1");
	o.flags = O_RDWR | O_TRUNC;
	assert_int_equal(req(s, FUSE_OPEN, f, &o, sizeof(o), NULL, 0), 0);
	struct fuse_write_in w = {.fh = ((struct fuse_open_out *)(rep + 16))->fh, .size = 4};
	assert_int_equal(req(s, FUSE_WRITE, f, &w, sizeof(w), "new\n", 4), 0);
	char buf[16];
	assert_string_equal(read_file(srcfile, buf, sizeof(buf)), "new\n");
	/* the tree the guest sees is busy until the server lets go; cleanup is lazy */
	assert_int_equal(fs_share_cleanup(share, err, sizeof(err)), 0);
	fs_server_free(s);
}

static void test_readonly_rootfs(void **state)
{
	if (geteuid() != 0)
		skip();
	char err[512], p[256];
	assert_int_equal(fs_share_prepare(share, rootfs, true, NULL, 0, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/rootfs/etc-hostname", share);
	assert_int_equal(open(p, O_WRONLY), -1);
	assert_int_equal(errno, EROFS);
	assert_int_equal(fs_share_cleanup(share, err, sizeof(err)), 0);
}

static void test_bad_source_leaves_nothing(void **state)
{
	if (geteuid() != 0)
		skip();
	char err[512], missing[200];
	snprintf(missing, sizeof(missing), "%s/does-not-exist", base);
	struct fs_share_bind b[] = {{.source = srcdir, .readonly = true}, {.source = missing, .readonly = false}};
	assert_int_equal(fs_share_prepare(share, rootfs, false, b, 2, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "fs share: stat bind source: "));
	assert_non_null(strstr(err, missing));
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(count_mounts_under(share), 0);
	struct stat st;
	assert_int_equal(stat(share, &st), -1);
	/* missing rootfs */
	assert_int_equal(fs_share_prepare(share, missing, false, NULL, 0, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "bind mount: "));
	assert_int_equal(stat(share, &st), -1);
	/* parent of the share missing */
	char deep[256];
	snprintf(deep, sizeof(deep), "%s/no/share", base);
	assert_int_equal(fs_share_prepare(deep, rootfs, false, NULL, 0, err, sizeof(err)), -ENOENT);
}

static void test_cleanup_never_deletes_through_mounts(void **state)
{
	if (geteuid() != 0)
		skip();
	char err[512], p[256], buf[64];
	/* A live bind left at mounts/0 outside our self-bind: cleanup unmounts it too
	 * (everything below the share, by mountinfo path) and never removes what is
	 * mounted there. */
	assert_int_equal(mkdir(share, 0700), 0);
	snprintf(p, sizeof(p), "%s/mounts", share);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/mounts/0", share);
	assert_int_equal(mkdir(p, 0755), 0);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "mount --bind %s %s", srcdir, p);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(fs_share_cleanup(share, err, sizeof(err)), 0);
	assert_int_equal(count_mounts_under(share), 0);
	assert_int_not_equal(access(share, F_OK), 0);
	snprintf(p, sizeof(p), "%s/ro.txt", srcdir);
	assert_string_equal(read_file(p, buf, sizeof(buf)), "read only\n");
	/* a share directory with unexpected content is not removed recursively */
	assert_int_equal(mkdir(share, 0700), 0);
	snprintf(p, sizeof(p), "%s/precious", share);
	write_file(p, "keep");
	assert_int_not_equal(fs_share_cleanup(share, err, sizeof(err)), 0);
	assert_string_equal(read_file(p, buf, sizeof(buf)), "keep");
	unlink(p);
	rmdir(share);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_prepare_and_cleanup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly_rootfs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_served_by_the_fuse_server, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_source_leaves_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cleanup_never_deletes_through_mounts, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
