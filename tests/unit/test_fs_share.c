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
#include "runtime/share.h"

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
	char err[512], p[PATH_MAX + 256], buf[64];
	struct fs_share_bind b[] = {{.source = srcdir, .readonly = true},
				    {.source = srcfile, .readonly = false}};
	assert_int_equal(fs_share_prepare(share, rootfs, false, b, 2, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/rootfs/etc-hostname", share);
	assert_string_equal(read_file(p, buf, sizeof(buf)), "box\n");
	/* each bind at its source's path (from its file system's root) in the share */
	char e0[PATH_MAX], e1[PATH_MAX];
	assert_int_equal(fs_share_source_root(NULL, srcdir, e0, sizeof(e0)), 0);
	assert_int_equal(fs_share_source_root(NULL, srcfile, e1, sizeof(e1)), 0);
	snprintf(p, sizeof(p), "%s%s/ro.txt", share, e0);
	assert_string_equal(read_file(p, buf, sizeof(buf)), "read only\n");
	/* read-only bind refuses writes on the host side */
	assert_int_equal(open(p, O_WRONLY), -1);
	assert_int_equal(errno, EROFS);
	snprintf(p, sizeof(p), "%s%s/new", share, e0);
	assert_int_equal(open(p, O_CREAT | O_WRONLY, 0644), -1);
	assert_int_equal(errno, EROFS);
	/* the read-write file bind writes through to its source */
	snprintf(p, sizeof(p), "%s%s", share, e1);
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
	snprintf(p, sizeof(p), "%s%s", share, e0);
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

/* The node of an entry's absolute path below the share's root. */
static uint64_t lookup_path(struct fs_server *s, const char *path)
{
	char copy[PATH_MAX], *save = NULL;
	snprintf(copy, sizeof(copy), "%s", path);
	uint64_t node = FUSE_ROOT_ID;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save))
		node = lookup(s, node, c);
	return node;
}

/* The share as the guest sees it: the server crosses into the binds, and a
 * read-only bind stays read-only even for guest root. */
static void test_served_by_the_fuse_server(void **state)
{
	if (geteuid() != 0)
		skip();
	char err[512];
	struct fs_share_bind b[] = {{.source = srcdir, .readonly = true},
				    {.source = srcfile, .readonly = false}};
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
	char e0[PATH_MAX], e1[PATH_MAX];
	assert_int_equal(fs_share_source_root(NULL, srcdir, e0, sizeof(e0)), 0);
	assert_int_equal(fs_share_source_root(NULL, srcfile, e1, sizeof(e1)), 0);
	uint64_t ro = lookup_path(s, e0);
	struct fuse_create_in c = {.flags = O_RDWR, .mode = 0644};
	assert_int_equal(req(s, FUSE_CREATE, ro, &c, sizeof(c), "x", 2), -EROFS);
	uint64_t rofile = lookup(s, ro, "ro.txt");
	o.flags = O_RDWR;
	assert_int_equal(req(s, FUSE_OPEN, rofile, &o, sizeof(o), NULL, 0), -EROFS);
	uint64_t f = lookup_path(s, e1);
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
	struct fs_share_bind b[] = {{.source = srcdir, .readonly = true},
				    {.source = missing, .readonly = false}};
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

/* Entry names: the source's root from mountinfo (decoded, joined with the path below the
 * mount point), and the rules that send a bind to mounts/<i> instead. */
static void test_entry_names(void **state)
{
	char dir[] = "/tmp/runm-test-names.XXXXXX", mi[PATH_MAX], out[PATH_MAX], real[PATH_MAX];
	assert_non_null(mkdtemp(dir));
	assert_non_null(realpath(dir, real));
	struct statx sx;
	assert_int_equal(statx(AT_FDCWD, real, 0, STATX_MNT_ID, &sx), 0);
	/* the mount holding DIR seen as a bind of "/sub dir" of its file system, mounted on "/" */
	snprintf(mi, sizeof(mi), "%s/mountinfo", dir);
	FILE *f = fopen(mi, "w");
	assert_non_null(f);
	fprintf(
	    f,
	    "1 0 8:1 / / rw - ext4 /dev/other rw\n%llu 1 8:2 /sub\\040dir / rw shared:1 - ext4 /dev/x rw\n",
	    (unsigned long long)sx.stx_mnt_id);
	fclose(f);
	assert_int_equal(fs_share_source_root(mi, dir, out, sizeof(out)), 0);
	char want[PATH_MAX + 16];
	snprintf(want, sizeof(want), "/sub dir%s", real);
	assert_string_equal(out, want);
	assert_int_equal(fs_share_source_root(mi, dir, out, 8), -ENAMETOOLONG);
	char missing[PATH_MAX];
	snprintf(missing, sizeof(missing), "%s/none", dir);
	assert_int_equal(fs_share_source_root(mi, missing, out, sizeof(out)), -ENOENT);
	/* the real one: this process's mountinfo */
	assert_int_equal(fs_share_source_root(NULL, dir, out, sizeof(out)), 0);
	assert_int_equal(out[0], '/');
	unlink(mi);
	rmdir(dir);

	struct fs_share_bind prev[] = {{.entry = "/srv/a", .readonly = false},
				       {.entry = "/mounts/1", .readonly = true}};
	assert_true(fs_share_entry_ok("/srv/b", false, prev, 2));
	assert_true(fs_share_entry_ok("/srv/a b\nc", false, prev, 2)); /* any byte but '/' and NUL */
	assert_true(fs_share_entry_ok("/srv/a", false, prev, 2));      /* the same, alike: shared */
	assert_false(fs_share_entry_ok("/srv/a", true, prev, 2));      /* the same, not alike */
	assert_false(fs_share_entry_ok("/srv/a/x", false, prev, 2));   /* below another */
	assert_false(fs_share_entry_ok("/srv", false, prev, 2));       /* above another */
	assert_true(fs_share_entry_ok("/srv/ab", false, prev, 2));     /* a prefix, not a parent */
	static const char *const bad[] = {"/",	       "",	     "rel",   "/rootfs", "/rootfs/x",
					  "/mounts/3", "/members/m", "/a//b", "/a/./b",	 "/a/../b",
					  "/a/",       "/a/.",	     "/a/.."};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fs_share_entry_ok(bad[i], false, NULL, 0))
			fail_msg("\"%s\" accepted", bad[i]);
	assert_true(fs_share_entry_ok("/rootfsx", false, NULL, 0));
	char *longname = malloc(FS_SHARE_ENTRY_MAX + 2);
	assert_non_null(longname);
	memset(longname, 'a', FS_SHARE_ENTRY_MAX + 1);
	longname[0] = '/';
	longname[FS_SHARE_ENTRY_MAX + 1] = '\0';
	assert_false(fs_share_entry_ok(longname, false, NULL, 0));
	free(longname);
}

/* Sources with unusual names, twice the same one, one below another: each reachable at its
 * entry; cleanup leaves nothing. */
static void test_entries_in_the_share(void **state)
{
	if (geteuid() != 0)
		skip();
	char err[512], odd[200], inner[220], p[PATH_MAX], buf[64];
	snprintf(odd, sizeof(odd), "%s/we ird\n\\name", base);
	assert_int_equal(mkdir(odd, 0755), 0);
	snprintf(inner, sizeof(inner), "%s/in", srcdir);
	assert_int_equal(mkdir(inner, 0755), 0);
	struct fs_share_bind b[] = {{.source = odd},
				    {.source = srcdir, .readonly = true},
				    {.source = odd},
				    {.source = inner},
				    {.source = srcfile}};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(fs_share_name_bind(b, i, err, sizeof(err)), 0);
	char eo[PATH_MAX];
	assert_int_equal(fs_share_source_root(NULL, odd, eo, sizeof(eo)), 0);
	assert_string_equal(b[0].entry, eo);
	assert_string_equal(b[2].entry, eo);
	assert_string_equal(b[3].entry, "/mounts/3");
	assert_int_equal(fs_share_prepare(share, rootfs, false, b, 5, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s%s/ro.txt", share, b[1].entry);
	assert_string_equal(read_file(p, buf, sizeof(buf)), "read only\n");
	snprintf(p, sizeof(p), "%s%s", share, b[4].entry);
	assert_string_equal(read_file(p, buf, sizeof(buf)), "conf\n");
	snprintf(p, sizeof(p), "%s/mounts/3", share);
	struct stat st, sti;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(stat(inner, &sti), 0);
	assert_int_equal(st.st_ino, sti.st_ino);
	/* rootfs, the odd name once, data, mounts/3, the file; and the share's own self-bind */
	assert_int_equal(count_mounts_under(share), 5 + 1);
	/* directories above an entry are searchable by anyone (a user namespace's root) */
	assert_int_equal(stat(share, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0711);
	fs_share_free_names(b, 5);
	assert_null(b[0].entry);
	assert_int_equal(fs_share_cleanup(share, err, sizeof(err)), 0);
	assert_int_equal(count_mounts_under(share), 0);
	assert_int_not_equal(access(share, F_OK), 0);
	snprintf(p, sizeof(p), "%s/ro.txt", srcdir);
	assert_string_equal(read_file(p, buf, sizeof(buf)), "read only\n");
	assert_int_equal(access(odd, F_OK), 0);
	assert_int_equal(rmdir(inner), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_prepare_and_cleanup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly_rootfs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_served_by_the_fuse_server, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_source_leaves_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cleanup_never_deletes_through_mounts, setup, teardown),
	    cmocka_unit_test(test_entry_names),
	    cmocka_unit_test_setup_teardown(test_entries_in_the_share, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
