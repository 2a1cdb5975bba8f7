/* SPDX-License-Identifier: Apache-2.0 */
/* agent/disks.c: the guest config's "blk:<mode>:<serial>" root path, and finding a drive by
 * its serial in a sysfs-like tree (a temporary directory here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/disks.h"

static void test_parse_path(void **st)
{
	enum disk_mode m;
	char serial[DISKS_SERIAL_MAX + 1], err[256];
	assert_true(disks_is_blk_path("blk:ro:runm-root"));
	assert_false(disks_is_blk_path("/run/runm/share/rootfs"));
	assert_false(disks_is_blk_path(NULL));
	assert_int_equal(disks_parse_path("blk:ro:runm-root", &m, serial, err, sizeof(err)), 0);
	assert_int_equal(m, DISK_RO);
	assert_string_equal(serial, "runm-root");
	assert_int_equal(disks_parse_path("blk:overlay:x", &m, serial, err, sizeof(err)), 0);
	assert_int_equal(m, DISK_OVERLAY);
	assert_int_equal(disks_parse_path("blk:rw:01234567890123456789", &m, serial, err, sizeof(err)), 0);
	assert_int_equal(m, DISK_RW);
	static const char *const bad[][2] = {
	    {"blk:bogus:runm-root", "want ro, overlay or rw"},
	    {"blk:ro", "want blk:<mode>:<serial>"},
	    {"blk:ro:", "the serial must be"},
	    {"blk:ro:012345678901234567890", "the serial must be"},
	    {"blk:ro:a/b", "the serial must be"},
	    {"blk:rox:a", "want ro, overlay or rw"},
	    {"/rootfs", "not a drive"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(disks_parse_path(bad[i][0], &m, serial, err, sizeof(err)), -1);
		assert_non_null(strstr(err, bad[i][1]));
	}
}

static void put(const char *dir, const char *name, const char *serial)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(mkdir(p, 0755), 0);
	if (!serial)
		return;
	snprintf(p, sizeof(p), "%s/%s/serial", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(serial, f);
	fclose(f);
}

static void test_find(void **st)
{
	char dir[] = "/tmp/runm-disks-XXXXXX", name[16], err[256], p[256];
	assert_non_null(mkdtemp(dir));
	put(dir, "vda", "other\n");
	put(dir, "vdb", "runm-root\n");
	put(dir, "vdc", NULL);		/* no serial file */
	put(dir, "sda", "runm-root\n"); /* not a virtio-blk name */
	assert_int_equal(disks_find(dir, "runm-root", name, sizeof(name), err, sizeof(err)), 0);
	assert_string_equal(name, "vdb");
	assert_int_equal(disks_find(dir, "runm-roo", name, sizeof(name), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no drive with serial runm-roo"));
	snprintf(p, sizeof(p), "%s/nosuch", dir);
	assert_int_equal(disks_find(p, "runm-root", name, sizeof(name), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	static const char *const names[] = {"vda/serial", "vdb/serial", "sda/serial", "vda",
					    "vdb",	  "vdc",	"sda"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		assert_int_equal(remove(p), 0);
	}
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_path),
	    cmocka_unit_test(test_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
