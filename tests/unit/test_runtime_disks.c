/* SPDX-License-Identifier: Apache-2.0 */
/* runtime/disks.c and disks_rootdev.c: the VM's drive plan (an image root, host block devices
 * from linux.devices and binds, refusals), the device rules' say on writes, recognising a
 * device root in a mountinfo (a temporary file and a fake /sys/dev/block here), and the guest
 * config naming the drives. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/disks.h"
#include "runtime/guest_config.h"
#include "runtime/spec.h"

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void rm_rf(const char *dir)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A block device this host has (its /dev node checked): every machine has its disk. */
struct host_blk {
	char node[PATH_MAX], uevent[4096];
	unsigned major, minor;
};

static void find_host_blk(struct host_blk *b)
{
	DIR *d = opendir("/sys/dev/block");
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));) {
		char p[PATH_MAX], *ev;
		if (sscanf(e->d_name, "%u:%u", &b->major, &b->minor) != 2)
			continue;
		snprintf(p, sizeof(p), "/sys/dev/block/%s/uevent", e->d_name);
		FILE *f = fopen(p, "r");
		if (!f)
			continue;
		size_t n = fread(b->uevent, 1, sizeof(b->uevent) - 1, f);
		fclose(f);
		b->uevent[n] = '\0';
		if (!(ev = strstr(b->uevent, "DEVNAME=")))
			continue;
		snprintf(b->node, sizeof(b->node), "/dev/%.*s", (int)strcspn(ev + 8, "\n"), ev + 8);
		struct stat st;
		if (stat(b->node, &st) == 0 && S_ISBLK(st.st_mode) &&
		    st.st_rdev == makedev(b->major, b->minor)) {
			closedir(d);
			return;
		}
	}
	closedir(d);
	fail_msg("no block device with a /dev node on this host");
}

static void parse(struct spec *s, const char *fmt, ...)
{
	char json[4096], err[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(json, sizeof(json), fmt, ap);
	va_end(ap);
	if (spec_parse(json, "/bundle", s, err, sizeof(err)) < 0)
		fail_msg("spec_parse: %s\n%s", err, json);
}

#define CFG_HEAD "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"]},\"root\":{\"path\":\"rootfs\"},"

/* io.runm.rootfs-image[.mode] checked, and root.path naming the drive */
static void test_image_root(void **st)
{
	char dir[] = "/tmp/runm-dk-XXXXXX", img[64], err[256], gp[64];
	assert_non_null(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/root.img", dir);
	put_file(img, "");
	char imgdir[80];
	snprintf(imgdir, sizeof(imgdir), "%s.d", img);
	assert_int_equal(mkdir(imgdir, 0755), 0);
	struct spec s;
	struct disks_plan p;
	parse(&s, CFG_HEAD "\"annotations\":{\"x\":\"y\"}}");
	assert_int_equal(disks_plan(&s, false, NULL, &p, err, sizeof(err)), 0);
	assert_int_equal(p.root.mode, DISKS_NONE);
	assert_int_equal(p.ndev, 0);
	assert_int_equal(p.root_fd, -1);
	spec_free(&s);
	static const struct {
		const char *mode;
		enum disks_mode want;
		const char *path;
	} ok[] = {{NULL, DISKS_OVERLAY, "blk:overlay:runm-root"},
		  {"ro", DISKS_RO, "blk:ro:runm-root"},
		  {"overlay", DISKS_OVERLAY, "blk:overlay:runm-root"},
		  {"rw", DISKS_RW, "blk:rw:runm-root"}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char mode[64] = "";
		if (ok[i].mode)
			snprintf(mode, sizeof(mode), ",\"" DISKS_ANN_MODE "\":\"%s\"", ok[i].mode);
		parse(&s, CFG_HEAD "\"annotations\":{\"" DISKS_ANN_IMAGE "\":\"%s\"%s}}", img, mode);
		assert_int_equal(disks_plan(&s, false, NULL, &p, err, sizeof(err)), 0);
		assert_int_equal(p.root.mode, ok[i].want);
		assert_string_equal(p.root.image, img);
		assert_false(p.root.device);
		assert_int_equal(disks_root_readonly(&p.root), ok[i].want != DISKS_RW);
		assert_int_equal(disks_root_guest_path(&p.root, gp, sizeof(gp)), 0);
		assert_string_equal(gp, ok[i].path);
		/* the host-wide device root does not apply to an image root; the annotation is refused */
		assert_int_equal(disks_plan(&s, true, NULL, &p, err, sizeof(err)), 0);
		assert_int_equal(p.root.mode, ok[i].want);
		/* the guest config names the drive; on the host (harness) an image root is refused */
		struct guest_shares sh;
		char *out = NULL;
		assert_int_equal(guest_config(&s, dir, false, NULL, &sh, &out, err, sizeof(err)), 0);
		char want[80];
		snprintf(want, sizeof(want), "\"path\":\"%s\"", ok[i].path);
		assert_non_null(strstr(out, want));
		assert_true(sh.root_on_drive);
		free(out);
		guest_shares_free(&sh);
		assert_int_equal(guest_config(&s, dir, true, NULL, &sh, &out, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "needs a VM"));
		/* and for a pod member */
		assert_int_equal(disks_plan(&s, false, DISKS_NO_DRIVES_MEMBER, &p, err, sizeof(err)), -1);
		assert_non_null(strstr(err, DISKS_ANN_IMAGE ": not supported for a pod member"));
		spec_free(&s);
	}
	/* image: img + suffix ("" the image itself; NULL: no image annotation; "rel": a relative one) */
	static const struct {
		const char *suffix, *mode, *want;
	} bad[] = {
	    {"", "bogus", DISKS_ANN_MODE "=\"bogus\": want ro, overlay or rw"},
	    {NULL, "ro", "no " DISKS_ANN_IMAGE " annotation"},
	    {".missing", NULL, "No such file or directory"},
	    {".d", NULL, "not a regular file"}, /* a directory */
	    {"rel", NULL, "want an absolute path"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char ia[128] = "", ma[64] = "";
		if (bad[i].suffix && !strcmp(bad[i].suffix, "rel"))
			snprintf(ia, sizeof(ia), "\"" DISKS_ANN_IMAGE "\":\"rel.img\"");
		else if (bad[i].suffix)
			snprintf(ia, sizeof(ia), "\"" DISKS_ANN_IMAGE "\":\"%s%s\"", img, bad[i].suffix);
		if (bad[i].mode)
			snprintf(ma, sizeof(ma), "%s\"" DISKS_ANN_MODE "\":\"%s\"", ia[0] ? "," : "",
				 bad[i].mode);
		parse(&s, CFG_HEAD "\"annotations\":{%s%s}}", ia, ma);
		err[0] = '\0';
		assert_int_equal(disks_plan(&s, false, NULL, &p, err, sizeof(err)), -1);
		assert_non_null(strstr(err, bad[i].want));
		spec_free(&s);
	}
	/* io.runm.rootfs-device: true or false only; true with an image root is refused, naming it */
	parse(&s, CFG_HEAD "\"annotations\":{\"" DISKS_ANN_DEVICE "\":\"yes\"}}");
	assert_int_equal(disks_plan(&s, false, NULL, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, DISKS_ANN_DEVICE "=\"yes\": want true or false"));
	spec_free(&s);
	parse(&s,
	      CFG_HEAD "\"annotations\":{\"" DISKS_ANN_DEVICE "\":\"true\",\"" DISKS_ANN_IMAGE "\":\"%s\"}}",
	      img);
	assert_int_equal(disks_plan(&s, false, NULL, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "the root is the image " DISKS_ANN_IMAGE " names"));
	spec_free(&s);
	rm_rf(dir);
}

/* The last rule naming the device (or any block device) and writes decides; none: allowed */
static void test_rules_allow_write(void **st)
{
	static const struct {
		const char *rules;
		bool want;
	} cases[] = {
	    {"", true},
	    {"{\"allow\":false,\"access\":\"rwm\"}", false},
	    {"{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,\"type\":\"b\",\"major\":7,\"minor\":2,"
	     "\"access\":\"rw\"}",
	     true},
	    {"{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,\"type\":\"b\",\"major\":7,\"minor\":2,"
	     "\"access\":\"r\"}",
	     false}, /* read only: the earlier deny decides writes */
	    {"{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,\"type\":\"b\",\"major\":7,\"access\":"
	     "\"rwm\"}",
	     true}, /* any minor */
	    {"{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,\"type\":\"c\",\"major\":7,\"minor\":2}",
	     false}, /* a char rule says nothing about a block device */
	    {"{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,\"type\":\"b\",\"major\":7,\"minor\":3}",
	     false}, /* another device */
	    {"{\"allow\":true,\"type\":\"a\"},{\"allow\":false,\"type\":\"b\",\"major\":7,\"minor\":2,"
	     "\"access\":\"w\"}",
	     false},
	    {"{\"allow\":false,\"type\":\"b\",\"major\":7,\"minor\":2,\"access\":\"w\"},{\"allow\":true}",
	     true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spec s;
		parse(&s, CFG_HEAD "\"linux\":{\"resources\":{\"devices\":[%s]}}}", cases[i].rules);
		if (disks_rules_allow_write(&s, 7, 2) != cases[i].want)
			fail_msg("rules [%s]: want %s", cases[i].rules,
				 cases[i].want ? "allowed" : "refused");
		spec_free(&s);
	}
}

/* linux.devices of type b and binds of a block device: each its own drive, serial runm-dev<N>,
 * read-only when the rules (or a ro bind) give no writes; refused for a pod member; numbers
 * the host has no device for are an error naming the entry. */
static void test_host_devices(void **st)
{
	struct host_blk b;
	find_host_blk(&b);
	struct spec s;
	struct disks_plan p;
	char err[512];
	parse(&s,
	      CFG_HEAD
	      "\"mounts\":[{\"destination\":\"/mnt/a\",\"type\":\"bind\",\"source\":\"%s\","
	      "\"options\":[\"bind\",\"ro\"]},{\"destination\":\"/mnt/b\",\"source\":\"/tmp\","
	      "\"options\":[\"rbind\"]}],"
	      "\"linux\":{\"devices\":[{\"path\":\"/dev/null\",\"type\":\"c\",\"major\":1,\"minor\":3},"
	      "{\"path\":\"/dev/xvol\",\"type\":\"b\",\"major\":%u,\"minor\":%u}],"
	      "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},{\"allow\":true,"
	      "\"type\":\"b\",\"major\":%u,\"minor\":%u,\"access\":\"rw\"}]}}}",
	      b.node, b.major, b.minor, b.major, b.minor);
	assert_int_equal(disks_plan(&s, false, NULL, &p, err, sizeof(err)), 0);
	assert_int_equal(p.ndev, 2);
	const struct disks_dev *node = disks_dev_of(&p, DISKS_DEV_NODE, 1),
			       *bind = disks_dev_of(&p, DISKS_DEV_BIND, 0);
	assert_non_null(node);
	assert_non_null(bind);
	assert_null(disks_dev_of(&p, DISKS_DEV_NODE, 0)); /* a char device stays as it is */
	assert_null(disks_dev_of(&p, DISKS_DEV_BIND, 1)); /* a directory bind: virtio-fs */
	assert_string_equal(node->serial, "runm-dev0");
	assert_string_equal(node->host, b.node);
	assert_false(node->ro);
	assert_string_equal(bind->serial, "runm-dev1");
	assert_true(bind->ro); /* the bind is ro */
	assert_int_equal(bind->major, b.major);
	assert_int_equal(bind->minor, b.minor);

	/* the guest config: the device names its drive, the bind's source is the drive and carries
	 * the host's numbers (the agent maps the device rules with them) */
	char dir[] = "/tmp/runm-dk-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct guest_shares sh;
	char *out = NULL, want[PATH_MAX + 128];
	assert_int_equal(guest_config(&s, dir, false, &p, &sh, &out, err, sizeof(err)), 0);
	assert_non_null(strstr(out, "\"runmDrive\":\"blk:dev:runm-dev0\""));
	assert_non_null(strstr(out, "\"source\":\"blk:dev:runm-dev1\""));
	snprintf(want, sizeof(want), "\"runmHostDevice\":\"%u:%u\"", b.major, b.minor);
	assert_non_null(strstr(out, want));
	assert_int_equal(sh.nbinds, 1); /* only /tmp goes through the share */
	free(out);
	guest_shares_free(&sh);
	rm_rf(dir);
	/* a pod member, the agent on the host */
	assert_int_equal(disks_plan(&s, false, DISKS_NO_DRIVES_MEMBER, &p, err, sizeof(err)), -1);
	assert_non_null(
	    strstr(err, "linux.devices[1] /dev/xvol: a block device: not supported for a pod member"));
	spec_free(&s);
	parse(&s, CFG_HEAD "\"mounts\":[{\"destination\":\"/mnt/a\",\"type\":\"bind\",\"source\":\"%s\"}]}",
	      b.node);
	assert_int_equal(disks_plan(&s, false, DISKS_NO_DRIVES_MEMBER, &p, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "mounts[0] %s: a bind of a block device: not supported for a pod member",
		 b.node);
	if (!strstr(err, want))
		fail_msg("%s", err);
	spec_free(&s);
	parse(&s,
	      CFG_HEAD "\"linux\":{\"devices\":[{\"path\":\"/dev/xvol\",\"type\":\"b\",\"major\":%u,"
		       "\"minor\":%u}]}}",
	      b.major, b.minor);
	assert_int_equal(disks_plan(&s, false, DISKS_NO_DRIVES_HOST, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "linux.devices[0] /dev/xvol: a block device: needs a VM"));
	spec_free(&s);
	/* no such device; numbers missing; more than a VM's drives */
	parse(&s, CFG_HEAD "\"linux\":{\"devices\":[{\"path\":\"/dev/xvol\",\"type\":\"b\",\"major\":4095,"
			   "\"minor\":1048575}]}}");
	assert_int_equal(disks_plan(&s, false, NULL, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "linux.devices[0] /dev/xvol: no block device 4095:1048575 on the host"));
	spec_free(&s);
	parse(&s, CFG_HEAD "\"linux\":{\"devices\":[{\"path\":\"/dev/xvol\",\"type\":\"b\"}]}}");
	assert_int_equal(disks_plan(&s, false, NULL, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "major/minor missing or out of range"));
	spec_free(&s);
	char devs[2048] = "";
	size_t at = 0;
	for (int i = 0; i < DISKS_MAX; i++)
		at += (size_t)snprintf(devs + at, sizeof(devs) - at,
				       "%s{\"path\":\"/dev/x%d\",\"type\":\"b\",\"major\":%u,\"minor\":%u}",
				       i ? "," : "", i, b.major, b.minor);
	parse(&s, CFG_HEAD "\"linux\":{\"devices\":[%s]}}", devs);
	assert_int_equal(disks_plan(&s, false, NULL, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 7 host block devices"));
	spec_free(&s);
}

/* Write TEMPLATE to PATH with ROOT and DEV replaced by ROOTFS and B's major:minor. */
static void put_mountinfo(const char *path, const char *tmpl, const char *rootfs, const struct host_blk *b)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (const char *c = tmpl; *c;) {
		if (!strncmp(c, "ROOT", 4)) {
			fputs(rootfs, f);
			c += 4;
		} else if (!strncmp(c, "DEV", 3)) {
			fprintf(f, "%u:%u", b->major, b->minor);
			c += 3;
		} else {
			fputc(*c++, f);
		}
	}
	fclose(f);
}

/* A device root in a mountinfo: what it is when it is not one, and the mount as recorded when
 * it is (the topmost mount at the path wins). */
static void test_rootfs_device(void **st)
{
	struct host_blk b;
	find_host_blk(&b);
	char dir[] = "/tmp/runm-dk-XXXXXX", mi[PATH_MAX], sys[PATH_MAX], rootfs[PATH_MAX], p[PATH_MAX + 64];
	char why[PATH_MAX + 128];
	assert_non_null(mkdtemp(dir));
	snprintf(mi, sizeof(mi), "%s/mountinfo", dir);
	snprintf(sys, sizeof(sys), "%s/sysdev", dir);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
	assert_int_equal(mkdir(sys, 0755), 0);
	assert_int_equal(mkdir(rootfs, 0755), 0);
	snprintf(p, sizeof(p), "%s/%u:%u", sys, b.major, b.minor);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/%u:%u/uevent", sys, b.major, b.minor);
	put_file(p, b.uevent);
	snprintf(p, sizeof(p), "%s/7:9", sys); /* a device whose uevent names no node */
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/7:9/uevent", sys);
	put_file(p, "MAJOR=7\nMINOR=9\n");
	static const struct {
		const char *line, *want; /* ROOT: the rootfs; DEV: the device's major:minor */
	} cases[] = {
	    {"22 1 0:21 / /proc rw - proc proc rw\n", "not a mount point"},
	    {"30 1 0:50 / ROOT rw - tmpfs tmpfs rw\n", "a tmpfs file system (0:50), not on a block device"},
	    {"30 1 DEV /sub ROOT rw - ext4 /dev/x rw\n", "a bind of /sub within the file system on"},
	    {"30 1 DEV / ROOT rw - xfs /dev/x rw\n", "a xfs file system on"},
	    {"30 1 7:9 / ROOT rw - ext4 /dev/x rw\n", "block device 7:9: no DEVNAME"},
	    /* the device root below, a tmpfs over it: the topmost is what the path shows */
	    {"30 1 DEV / ROOT rw - ext4 /dev/x rw\n31 30 0:51 / ROOT rw - tmpfs t rw\n",
	     "a tmpfs file system (0:51)"},
	};
	struct disks_host_mount h;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put_mountinfo(mi, cases[i].line, rootfs, &b);
		why[0] = '\0';
		assert_false(disks_rootfs_device(rootfs, mi, sys, &h, why, sizeof(why)));
		if (!strstr(why, cases[i].want))
			fail_msg("case %zu: %s (want %s)", i, why, cases[i].want);
	}
	put_mountinfo(
	    mi,
	    "31 30 0:51 / ROOT rw - tmpfs t rw\n"
	    "32 1 DEV / ROOT ro,nosuid,nodev,noatime shared:5 - ext4 /dev/x ro,seclabel,errors=remount-ro,"
	    "stripe=16\n",
	    rootfs, &b);
	assert_true(disks_rootfs_device(rootfs, mi, sys, &h, why, sizeof(why)));
	assert_string_equal(h.device, b.node);
	assert_string_equal(h.target, rootfs);
	assert_string_equal(h.fstype, "ext4");
	assert_int_equal(h.flags, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOATIME);
	assert_string_equal(h.data, "errors=remount-ro,stripe=16"); /* less ro and seclabel */
	/* through a symlink: the canonical path is what mountinfo shows */
	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink(rootfs, p), 0);
	assert_true(disks_rootfs_device(p, mi, sys, &h, why, sizeof(why)));
	assert_string_equal(h.target, rootfs);
	snprintf(p, sizeof(p), "%s/missing", dir);
	assert_false(disks_rootfs_device(p, mi, sys, &h, why, sizeof(why)));
	assert_non_null(strstr(why, "No such file or directory"));
	rm_rf(dir);
}

/* The host node of a device: its uevent's DEVNAME, checked to be that device */
static void test_host_node(void **st)
{
	struct host_blk b;
	find_host_blk(&b);
	char dir[] = "/tmp/runm-dk-XXXXXX", p[PATH_MAX + 64], out[PATH_MAX], err[PATH_MAX + 128];
	assert_non_null(mkdtemp(dir));
	assert_int_equal(disks_host_node(b.major, b.minor, NULL, out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, b.node);
	static const struct {
		const char *uevent, *want;
	} bad[] = {
	    {"DEVNAME=null\n", "/dev/null is another file"},
	    {"DEVNAME=../etc/passwd\n", "no DEVNAME"},
	    {"DEVNAME=runm-no-such-node\n", "its node /dev/runm-no-such-node: No such file"},
	    {"MAJOR=1\n", "no DEVNAME"},
	};
	snprintf(p, sizeof(p), "%s/1:3", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/1:3/uevent", dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_file(p, bad[i].uevent);
		assert_int_equal(disks_host_node(1, 3, dir, out, sizeof(out), err, sizeof(err)), -1);
		if (!strstr(err, bad[i].want))
			fail_msg("%s: %s", bad[i].uevent, err);
	}
	assert_int_equal(disks_host_node(1, 4, dir, out, sizeof(out), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no block device 1:4 on the host"));
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_image_root),	 cmocka_unit_test(test_rules_allow_write),
	    cmocka_unit_test(test_host_devices), cmocka_unit_test(test_rootfs_device),
	    cmocka_unit_test(test_host_node),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
