/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runm_test=metabench of runm-test-init (test_init.c): the metadata job of bench/blk.py.
 *
 * Mounts meta_on=blk (/dev/vda, an ext4 made on the host) or meta_on=fs (virtio-fs tag
 * "share") on /mnt, then
 *   untar  extracts /meta.tar (ustar, from the initramfs, read into memory first) into
 *          /mnt/untar the way tar -x does as root: mkdir, open+write+fchown+futimens+close,
 *          symlink+lchown+utimensat, link; then syncfs, so that the job includes getting it
 *          to the device
 *   find   drops the guest's caches (sync, drop_caches 3) and walks /mnt/untar with nftw
 *          (FTW_PHYS: an lstat of every entry, a readdir of every directory)
 *   find_warm  the same walk again, caches warm
 * and prints "META <phase> <entries> <ns>" per phase (CLOCK_MONOTONIC) and "META DONE".
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TAR_PATH "/meta.tar"
#define DEST	 "/mnt/untar"

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	char *p = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (p && got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);
		if (n <= 0) {
			free(p);
			p = NULL;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return p;
}

static unsigned long long octal(const char *f, size_t n)
{
	unsigned long long v = 0;
	for (size_t i = 0; i < n && f[i] >= '0' && f[i] <= '7'; i++)
		v = v * 8 + (unsigned long long)(f[i] - '0');
	return v;
}

/* A ustar field is NUL-terminated unless it fills its width. */
static void field(char *dst, const char *f, size_t n)
{
	memcpy(dst, f, n);
	dst[n] = 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One member at h (a 512-byte header), its data after it; < 0 with errno on failure. */
static int extract(const char *h, const char *data, size_t size)
{
	char name[101], prefix[156], lname[101], path[512], target[512];
	field(name, h, 100);
	field(prefix, h + 345, 155);
	field(lname, h + 157, 100);
	snprintf(path, sizeof(path), "%s/%s%s%s", DEST, prefix, prefix[0] ? "/" : "", name);
	size_t pl = strlen(path);
	while (pl > 1 && path[pl - 1] == '/')
		path[--pl] = 0;
	mode_t mode = (mode_t)octal(h + 100, 8) & 07777;
	uid_t uid = (uid_t)octal(h + 108, 8);
	gid_t gid = (gid_t)octal(h + 116, 8);
	struct timespec ts[2] = {{(time_t)octal(h + 136, 12), 0}, {(time_t)octal(h + 136, 12), 0}};
	switch (h[156]) {
	case '5':
		if (mkdir(path, mode) < 0 && errno != EEXIST)
			return -1;
		return chown(path, uid, gid);
	case '2':
		if (symlink(lname, path) < 0 || lchown(path, uid, gid) < 0)
			return -1;
		return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
	case '1':
		snprintf(target, sizeof(target), "%s/%s", DEST, lname);
		return link(target, path);
	case '0':
	case 0: {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
		if (fd < 0)
			return -1;
		int r = write_all(fd, data, size) < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0 ||
				futimens(fd, ts) < 0
			    ? -1
			    : 0;
		int e = errno;
		close(fd);
		errno = e;
		return r;
	}
	default:
		errno = ENOTSUP;
		return -1;
	}
}

static long untar(const char *tar, size_t len)
{
	long n = 0;
	for (size_t off = 0; off + 512 <= len && tar[off]; n++) {
		const char *h = tar + off;
		size_t size = h[156] == '0' || h[156] == 0 ? (size_t)octal(h + 124, 12) : 0;
		if (off + 512 + size > len) {
			say("META ERROR truncated tar at %zu\n", off);
			return -1;
		}
		if (extract(h, h + 512, size) < 0) {
			say("META ERROR extract %.100s: %s\n", h, strerror(errno));
			return -1;
		}
		off += 512 + (size + 511) / 512 * 512;
	}
	return n;
}

static long walked;

static int visit(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)path, (void)st, (void)f;
	if (type == FTW_NS || type == FTW_DNR)
		return -1;
	walked++;
	return 0;
}

static long walk(void)
{
	walked = 0;
	if (nftw(DEST, visit, 32, FTW_PHYS) != 0) {
		say("META ERROR nftw: %s\n", strerror(errno));
		return -1;
	}
	return walked - 1; /* not DEST itself */
}

static void drop_caches(void)
{
	sync();
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "3\n", 2) != 2)
			say("META ERROR drop_caches: %s\n", strerror(errno));
		close(fd);
	}
}

int do_metabench(void)
{
	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	const char *on = getenv("meta_on");
	size_t len = 0;
	char *tar = slurp(TAR_PATH, &len);
	if (!tar) {
		say("META ERROR read %s: %s\n", TAR_PATH, strerror(errno));
		return 1;
	}
	mkdir("/mnt", 0755);
	int m = on && !strcmp(on, "fs") ? mount("share", "/mnt", "virtiofs", 0, NULL)
					: mount("/dev/vda", "/mnt", "ext4", 0, NULL);
	if (m < 0 || mkdir(DEST, 0755) < 0) {
		say("META ERROR mount %s / mkdir: %s\n", on ? on : "blk", strerror(errno));
		return 1;
	}
	say("META START %zu\n", len);
	uint64_t t0 = now_ns();
	long n = untar(tar, len);
	int dfd = open(DEST, O_RDONLY | O_DIRECTORY);
	if (n < 0 || dfd < 0 || syncfs(dfd) < 0) {
		say("META ERROR untar/syncfs: %s\n", strerror(errno));
		return 1;
	}
	close(dfd);
	say("META untar %ld %llu\n", n, (unsigned long long)(now_ns() - t0));
	drop_caches();
	t0 = now_ns();
	long w = walk();
	say("META find %ld %llu\n", w, (unsigned long long)(now_ns() - t0));
	t0 = now_ns();
	long w2 = walk();
	say("META find_warm %ld %llu\n", w2, (unsigned long long)(now_ns() - t0));
	free(tar);
	if (w < 0 || w2 < 0 || umount("/mnt") < 0) {
		say("META ERROR walk/umount: %s\n", strerror(errno));
		return 1;
	}
	say("META DONE\n");
	return 0;
}
