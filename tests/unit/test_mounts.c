/* SPDX-License-Identifier: Apache-2.0 */
/* common/mounts.c: mountinfo decoding, unmount_tree (all mounts below, deepest first, paths
 * with spaces and newlines) and remove_tree_nox (never deletes through a mount, never
 * follows a symlink). The mount tests need root. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/mounts.h"

static void expect_unescape(const char *in, const char *want)
{
	char out[64];
	assert_int_equal(mountinfo_unescape(in, strlen(in), out, sizeof(out)), (ssize_t)strlen(want));
	assert_string_equal(out, want);
}

static void test_unescape(void **state)
{
	(void)state;
	expect_unescape("/run/plain", "/run/plain");
	expect_unescape("/a\\040b", "/a b");
	expect_unescape("/t\\011ab", "/t\tab");
	expect_unescape("/n\\012l", "/n\nl");
	expect_unescape("/b\\134s", "/b\\s");
	expect_unescape("\\040\\040", "  ");
	char out[8];
	assert_int_equal(mountinfo_unescape("/x\\04", 5, out, sizeof(out)), -EINVAL);
	assert_int_equal(mountinfo_unescape("/x\\08a", 6, out, sizeof(out)), -EINVAL);
	assert_int_equal(mountinfo_unescape("/x\\000", 6, out, sizeof(out)), -EINVAL);
	assert_int_equal(mountinfo_unescape("/x\\400", 6, out, sizeof(out)), -EINVAL);
	assert_int_equal(mountinfo_unescape("/x\\", 3, out, sizeof(out)), -EINVAL);
	/* the output never overflows: 7 characters + NUL fit, 8 do not */
	assert_int_equal(mountinfo_unescape("/234567", 7, out, sizeof(out)), 7);
	assert_int_equal(mountinfo_unescape("/2345678", 8, out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(mountinfo_unescape("/", 1, out, 0), -ENAMETOOLONG);
}

static void test_parse(void **state)
{
	(void)state;
	struct mountinfo_ent e;
	assert_int_equal(
	    mountinfo_parse("36 35 98:0 /mnt1 /r\\040x/s\\012y rw,noatime master:1 - ext3 /dev/root rw\n",
			    &e),
	    0);
	assert_int_equal(e.id, 36);
	assert_int_equal(e.parent, 35);
	assert_int_equal(e.major, 98);
	assert_int_equal(e.minor, 0);
	assert_string_equal(e.mount_point, "/r x/s\ny");
	assert_string_equal(e.root, "/mnt1");
	assert_string_equal(e.opts, "rw,noatime");
	assert_string_equal(e.fstype, "ext3");
	assert_string_equal(e.source, "/dev/root");
	assert_string_equal(e.super_opts, "rw");
	/* no optional fields; an escaped source */
	assert_int_equal(
	    mountinfo_parse("40 1 7:3 / /b ro,relatime - ext4 /dev/a\\040b ro,errors=remount-ro", &e), 0);
	assert_string_equal(e.root, "/");
	assert_string_equal(e.opts, "ro,relatime");
	assert_string_equal(e.fstype, "ext4");
	assert_string_equal(e.source, "/dev/a b");
	assert_string_equal(e.super_opts, "ro,errors=remount-ro");
	assert_int_equal(mountinfo_parse("36 35 98:0 /mnt1", &e), -EINVAL);
	assert_int_equal(mountinfo_parse("x y z", &e), -EINVAL);
	assert_int_equal(mountinfo_parse("1 2 3:4 / /bad\\9 rw - tmpfs t rw", &e), -EINVAL);
}

static void test_mounts_below_order(void **state)
{
	(void)state;
	char path[] = "/tmp/runm-unit-mountinfo.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *mi = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
			 "20 1 0:5 / /s\\040d rw - tmpfs t rw\n"
			 "21 20 0:5 / /s\\040d/share rw - tmpfs t rw\n"
			 "22 21 8:1 /data /s\\040d/share/mounts/0 rw - ext4 /dev/sda1 rw\n"
			 "23 21 8:1 /data /s\\040d/share/mounts/10 rw - ext4 /dev/sda1 rw\n"
			 "24 22 0:6 / /s\\040d/share/mounts/0/sub rw - tmpfs t rw\n"
			 "25 21 0:7 / /s\\040d/share rw - tmpfs stacked rw\n"
			 "26 1 0:8 / /s\\040dx rw - tmpfs not-below rw\n"
			 "27 1 0:8 / /s rw - tmpfs not-below rw\n"
			 "garbage line\n";
	assert_int_equal(write(fd, mi, strlen(mi)), (ssize_t)strlen(mi));
	close(fd);
	char **v;
	size_t n;
	assert_int_equal(mounts_below(path, "/s d", &v, &n), 0);
	assert_int_equal(n, 6);
	assert_string_equal(v[0], "/s d/share/mounts/0/sub");
	assert_string_equal(v[1], "/s d/share/mounts/10");
	assert_string_equal(v[2], "/s d/share/mounts/0");
	assert_string_equal(v[3], "/s d/share"); /* the stacked one (25) and then 21 */
	assert_string_equal(v[4], "/s d/share");
	assert_string_equal(v[5], "/s d");
	mounts_free(v, n);
	assert_int_equal(mounts_below(path, "/nowhere", &v, &n), 0);
	assert_int_equal(n, 0);
	mounts_free(v, n);
	unlink(path);
	assert_int_equal(mounts_below("/nonexistent/mountinfo", "/", &v, &n), -ENOENT);
}

/* --- with real mounts (root) -------------------------------------------------------------- */

static char base[128], src[192], dir[192];

static void put(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

static bool holds(const char *path, const char *s)
{
	char buf[128] = "";
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t k = fread(buf, 1, sizeof(buf) - 1, f);
	buf[k] = '\0';
	fclose(f);
	return !strcmp(buf, s);
}

static size_t count_below(const char *d)
{
	char **v;
	size_t n;
	assert_int_equal(mounts_below(NULL, d, &v, &n), 0);
	mounts_free(v, n);
	return n;
}

static void bind(const char *from, const char *to)
{
	assert_int_equal(mount(from, to, NULL, MS_BIND, NULL), 0);
	assert_int_equal(mount(NULL, to, NULL, MS_PRIVATE, NULL), 0);
}

static int setup(void **state)
{
	(void)state;
	if (geteuid() != 0)
		return 0;
	/* a space and a newline: mountinfo writes them as \040 and \012 */
	snprintf(base, sizeof(base), "/tmp/runm unit mounts\n.XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(src, sizeof(src), "%s/volume", base);
	snprintf(dir, sizeof(dir), "%s/state dir", base);
	assert_int_equal(mkdir(src, 0755), 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	char p[256];
	snprintf(p, sizeof(p), "%s/precious", src);
	put(p, "data\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (geteuid() != 0)
		return 0;
	char e[512];
	unmount_tree(dir, e, sizeof(e));
	char p[256];
	snprintf(p, sizeof(p), "%s/precious", src);
	unlink(p);
	rmdir(src);
	snprintf(p, sizeof(p), "%s/victim", base);
	unlink(p);
	int fd = open(base, O_RDONLY | O_DIRECTORY);
	remove_tree_nox(fd, "state dir", e, sizeof(e));
	close(fd);
	return rmdir(base);
}

static void test_unmount_tree_all_deepest_first(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	char p[512], share[256], err[512];
	/* the share layout: a self-bind, then more binds below it than any fixed pass count */
	snprintf(share, sizeof(share), "%s/share", dir);
	assert_int_equal(mkdir(share, 0700), 0);
	bind(share, share);
	snprintf(p, sizeof(p), "%s/mounts", share);
	assert_int_equal(mkdir(p, 0755), 0);
	for (int i = 0; i < 12; i++) {
		snprintf(p, sizeof(p), "%s/mounts/%d", share, i);
		assert_int_equal(mkdir(p, 0755), 0);
		bind(src, p);
	}
	/* a stack: two mounts on one path */
	snprintf(p, sizeof(p), "%s/mounts/3", share);
	bind(src, p);
	assert_int_equal(count_below(dir), 14);
	assert_int_equal(unmount_tree(dir, err, sizeof(err)), 0);
	assert_int_equal(count_below(dir), 0);
	snprintf(p, sizeof(p), "%s/precious", src);
	assert_true(holds(p, "data\n"));
	/* nothing mounted, or a missing directory, is not an error */
	assert_int_equal(unmount_tree(dir, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/missing", dir);
	assert_int_equal(unmount_tree(p, err, sizeof(err)), 0);
}

static void test_unmount_tree_busy_detached(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	char p[256], err[512];
	snprintf(p, sizeof(p), "%s/m", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	bind(src, p);
	/* an open file keeps the mount busy: it is detached lazily */
	snprintf(p, sizeof(p), "%s/m/precious", dir);
	int fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(unmount_tree(dir, err, sizeof(err)), 0);
	assert_int_equal(count_below(dir), 0);
	close(fd);
}

static void test_remove_never_crosses(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	char p[256], err[512];
	/* a directory bind (same filesystem: only the mount id tells), a file bind, a symlink
	 * out, plain content */
	snprintf(p, sizeof(p), "%s/share", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/share/rootfs", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	bind(src, p);
	char victim[256], fpoint[256];
	snprintf(victim, sizeof(victim), "%s/victim", base);
	put(victim, "file\n");
	snprintf(fpoint, sizeof(fpoint), "%s/share/file", dir);
	put(fpoint, "");
	bind(victim, fpoint);
	snprintf(p, sizeof(p), "%s/out", dir);
	assert_int_equal(symlink(src, p), 0);
	snprintf(p, sizeof(p), "%s/plain", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/plain/f", dir);
	put(p, "x");

	int bfd = open(base, O_RDONLY | O_DIRECTORY);
	assert_true(bfd >= 0);
	assert_int_equal(remove_tree_nox(bfd, "state dir", err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "mount point"));
	snprintf(p, sizeof(p), "%s/precious", src);
	assert_true(holds(p, "data\n"));
	assert_true(holds(victim, "file\n"));
	snprintf(p, sizeof(p), "%s/plain", dir);
	assert_int_not_equal(access(p, F_OK), 0); /* what is not a mount went */
	snprintf(p, sizeof(p), "%s/out", dir);
	assert_int_not_equal(access(p, F_OK), 0); /* the link, not its target */
	/* once unmounted, everything goes */
	assert_int_equal(unmount_tree(dir, err, sizeof(err)), 0);
	assert_int_equal(remove_tree_nox(bfd, "state dir", err, sizeof(err)), 0);
	assert_int_not_equal(access(dir, F_OK), 0);
	snprintf(p, sizeof(p), "%s/precious", src);
	assert_true(holds(p, "data\n"));
	assert_true(holds(victim, "file\n"));
	/* a missing tree is fine; a path instead of one name is refused */
	assert_int_equal(remove_tree_nox(bfd, "state dir", err, sizeof(err)), 0);
	assert_int_equal(remove_tree_nox(bfd, "volume/precious", err, sizeof(err)), -EINVAL);
	assert_int_equal(remove_tree_nox(bfd, "..", err, sizeof(err)), -EINVAL);
	assert_true(holds(p, "data\n"));
	/* the top itself a mount point: refused */
	assert_int_equal(mkdir(dir, 0755), 0);
	bind(src, dir);
	assert_int_equal(remove_tree_nox(bfd, "state dir", err, sizeof(err)), -EBUSY);
	assert_true(holds(p, "data\n"));
	assert_int_equal(unmount_tree(dir, err, sizeof(err)), 0);
	close(bfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unescape),
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_mounts_below_order),
	    cmocka_unit_test_setup_teardown(test_unmount_tree_all_deepest_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unmount_tree_busy_detached, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_never_crosses, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
