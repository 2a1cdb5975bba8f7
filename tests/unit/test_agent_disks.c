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
#include "agent/spec.h"

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

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A config with a host block device in linux.devices and a bind of another, both passed as
 * drives: the device entry gets the drive's guest numbers, the bind's source becomes the drive's
 * node, and the map records host → guest numbers for both (the device rules name the host's). */
static const char *drives_cfg =
    "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"true\"],\"cwd\":\"/\"},\"root\":{\"path\":\"r\"},"
    "\"mounts\":[{\"destination\":\"/mnt/vol\",\"type\":\"bind\",\"source\":\"blk:dev:runm-dev1\","
    "\"options\":[\"bind\"],\"runmHostDevice\":\"7:3\"}],"
    "\"linux\":{\"devices\":[{\"path\":\"/dev/xvol\",\"type\":\"b\",\"major\":7,\"minor\":2,"
    "\"runmDrive\":\"blk:dev:runm-dev0\"}]}}";

static void test_resolve_devices(void **st)
{
	char dir[] = "/tmp/runm-disks-XXXXXX", sys[300], dev[300], p[400], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(sys, sizeof(sys), "%s/sys", dir);
	snprintf(dev, sizeof(dev), "%s/dev", dir);
	assert_int_equal(mkdir(sys, 0755), 0);
	assert_int_equal(mkdir(dev, 0755), 0);
	put(sys, "vda", "runm-root\n");
	put(sys, "vdb", "runm-dev0\n");
	put(sys, "vdc", "runm-dev1\n");
	snprintf(p, sizeof(p), "%s/vdb/dev", sys);
	put_file(p, "254:16\n");
	snprintf(p, sizeof(p), "%s/vdc/dev", sys);
	put_file(p, "254:32\n");
	/* the nodes exist already (as the guest's devtmpfs has them): not created again */
	snprintf(p, sizeof(p), "%s/vdb", dev);
	put_file(p, "");
	snprintf(p, sizeof(p), "%s/vdc", dev);
	put_file(p, "");

	struct spec s;
	assert_int_equal(spec_parse(drives_cfg, "/b", &s, err, sizeof(err)), 0);
	assert_int_equal(s.ndevices, 1);
	assert_string_equal(s.devices[0].drive, "blk:dev:runm-dev0");
	assert_true(s.mounts[0].host_dev);
	assert_int_equal(disks_resolve_devices(&s, sys, dev, err, sizeof(err)), 0);
	assert_int_equal(s.devices[0].major, 254);
	assert_int_equal(s.devices[0].minor, 16);
	snprintf(p, sizeof(p), "%s/vdc", dev);
	assert_string_equal(s.mounts[0].source, p);
	assert_int_equal(s.ndevmap, 2);
	assert_int_equal(s.devmap[0].host_major, 7);
	assert_int_equal(s.devmap[0].host_minor, 2);
	assert_int_equal(s.devmap[0].major, 254);
	assert_int_equal(s.devmap[0].minor, 16);
	assert_int_equal(s.devmap[1].host_minor, 3);
	assert_int_equal(s.devmap[1].minor, 32);
	spec_free(&s);

	/* a drive the VM does not have, a sysfs dev file that is not major:minor, a bad serial */
	static const char *const bad[][2] = {
	    {"runm-dev9", "no drive with serial runm-dev9"},
	    {"runm-root", "not major:minor"},
	    {"a/b", "the serial must be"},
	};
	snprintf(p, sizeof(p), "%s/vda/dev", sys);
	put_file(p, "garbage");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char cfg[1024];
		snprintf(
		    cfg, sizeof(cfg),
		    "{\"process\":{\"args\":[\"true\"],\"cwd\":\"/\"},\"root\":{\"path\":\"r\"},"
		    "\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"b\",\"major\":7,\"minor\":2,"
		    "\"runmDrive\":\"blk:dev:%s\"}]}}",
		    bad[i][0]);
		assert_int_equal(spec_parse(cfg, "/b", &s, err, sizeof(err)), 0);
		err[0] = '\0';
		assert_int_equal(disks_resolve_devices(&s, sys, dev, err, sizeof(err)), -1);
		assert_non_null(strstr(err, bad[i][1]));
		assert_non_null(strstr(err, "linux.devices[0] /dev/x"));
		spec_free(&s);
	}
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_path),
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_resolve_devices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
