/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The block modes of runm-test-init (test_init.c), on /dev/vda:
 *
 *   runm_test=blk     print "BLK SIZE <bytes>" and "BLK SERIAL <serial>"; write 1 MiB of
 *                     the pattern at offset 0 (byte i = (i * 31 + 7) & 0xff), fsync, read it
 *                     back with O_DIRECT ("BLK VERIFY ok|bad"); BLKZEROOUT of the next
 *                     64 KiB after writing 0xff there and BLKDISCARD of the 64 KiB after
 *                     it ("BLK ZEROOUT ok|<error>", "BLK DISCARD ok|<error>")
 *   runm_test=blkro   print /sys/block/vda/ro ("BLKRO SYSFS-RO 1"), write 4 KiB at 0 and
 *                     fsync ("BLKRO WRITE <errno name or ok>"), read the first 4 KiB with
 *                     O_DIRECT ("BLKRO READ <hex of its first 8 bytes>")
 *   runm_test=blkbench with O_DIRECT on /dev/vda: sequential write then read of the whole disk
 *                     in 1 MiB requests (fdatasync after the writes), then as many 4 KiB random
 *                     writes and reads as fit in blk_bench_ms (default 3000) milliseconds each;
 *                     prints "BENCH <name> <bytes> <ns>" per phase and "BENCH DONE"
 *   runm_test=blkkill write 64 KiB blocks of the pattern one after the other, fsync after
 *                     each and print "BLKKILL FLUSHED <n>" (n blocks durable), until an
 *                     error ("BLKKILL ERROR <errno>")
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define MIB    (1u << 20)
#define BLK64K (64u << 10)

static uint8_t buf[MIB] __attribute__((aligned(4096)));
static uint8_t back[MIB] __attribute__((aligned(4096)));

static void pattern(uint8_t *p, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(((off + i) * 31 + 7) & 0xff);
}

static void dev_up(void)
{
	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mkdir("/sys", 0755);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
}

static const char *err_name(int e)
{
	return e == EROFS    ? "EROFS"
	       : e == EACCES ? "EACCES"
	       : e == EPERM  ? "EPERM"
	       : e == EBADF  ? "EBADF"
	       : e == EIO    ? "EIO"
			     : strerror(e);
}

static int range_ioctl(int fd, unsigned long req, uint64_t off, uint64_t len)
{
	uint64_t r[2] = {off, len};
	return ioctl(fd, req, r);
}

int do_blk(void)
{
	dev_up();
	int fd = open("/dev/vda", O_RDWR);
	if (fd < 0) {
		say("BLK ERROR open /dev/vda: %s\n", strerror(errno));
		return 1;
	}
	uint64_t size = 0;
	ioctl(fd, BLKGETSIZE64, &size);
	say("BLK SIZE %llu\n", (unsigned long long)size);
	char serial[64] = "";
	int sfd = open("/sys/block/vda/serial", O_RDONLY);
	if (sfd >= 0) {
		ssize_t n = read(sfd, serial, sizeof(serial) - 1);
		serial[n > 0 ? n : 0] = 0;
		serial[strcspn(serial, "\n")] = 0;
		close(sfd);
	}
	say("BLK SERIAL %s\n", serial[0] ? serial : "-");
	pattern(buf, MIB, 0);
	if (pwrite(fd, buf, MIB, 0) != (ssize_t)MIB || fsync(fd) < 0) {
		say("BLK ERROR write: %s\n", strerror(errno));
		return 1;
	}
	int dfd = open("/dev/vda", O_RDONLY | O_DIRECT);
	ssize_t got = dfd >= 0 ? pread(dfd, back, MIB, 0) : -1;
	say("BLK VERIFY %s\n", got == (ssize_t)MIB && !memcmp(buf, back, MIB) ? "ok" : "bad");
	memset(buf, 0xff, 2 * BLK64K);
	if (pwrite(fd, buf, 2 * BLK64K, MIB) != (ssize_t)(2 * BLK64K) || fsync(fd) < 0)
		say("BLK ERROR write 0xff: %s\n", strerror(errno));
	int z = range_ioctl(fd, BLKZEROOUT, MIB, BLK64K);
	say("BLK ZEROOUT %s\n", z == 0 ? "ok" : strerror(errno));
	int d = range_ioctl(fd, BLKDISCARD, MIB + BLK64K, BLK64K);
	say("BLK DISCARD %s\n", d == 0 ? "ok" : strerror(errno));
	fsync(fd);
	close(fd);
	if (dfd >= 0)
		close(dfd);
	return 0;
}

int do_blkro(void)
{
	dev_up();
	char ro[8] = "?";
	int sfd = open("/sys/block/vda/ro", O_RDONLY);
	if (sfd >= 0) {
		ssize_t n = read(sfd, ro, sizeof(ro) - 1);
		ro[n > 0 ? n : 0] = 0;
		ro[strcspn(ro, "\n")] = 0;
		close(sfd);
	}
	say("BLKRO SYSFS-RO %s\n", ro);
	/* Linux opens a read-only disk for writing; the writes fail */
	int fd = open("/dev/vda", O_RDWR);
	if (fd < 0) {
		say("BLKRO WRITE %s\n", err_name(errno));
	} else {
		memset(buf, 0xee, 4096);
		ssize_t w = pwrite(fd, buf, 4096, 0);
		int e = errno;
		if (w >= 0 && fsync(fd) < 0) {
			w = -1;
			e = errno;
		}
		say("BLKRO WRITE %s\n", w >= 0 ? "ok" : err_name(e));
		close(fd);
	}
	fd = open("/dev/vda", O_RDONLY | O_DIRECT);
	if (fd < 0 || pread(fd, back, 4096, 0) != 4096) {
		say("BLK ERROR read: %s\n", strerror(errno));
		return 1;
	}
	say("BLKRO READ %02x%02x%02x%02x%02x%02x%02x%02x\n", back[0], back[1], back[2], back[3], back[4],
	    back[5], back[6], back[7]);
	close(fd);
	return 0;
}

int do_blkkill(void)
{
	dev_up();
	int fd = open("/dev/vda", O_RDWR);
	if (fd < 0) {
		say("BLKKILL ERROR open: %s\n", strerror(errno));
		return 1;
	}
	uint64_t size = 0;
	ioctl(fd, BLKGETSIZE64, &size);
	for (uint64_t n = 0; (n + 1) * BLK64K <= size; n++) {
		pattern(buf, BLK64K, n * BLK64K);
		if (pwrite(fd, buf, BLK64K, (off_t)(n * BLK64K)) != (ssize_t)BLK64K || fsync(fd) < 0) {
			say("BLKKILL ERROR %s\n", strerror(errno));
			return 1;
		}
		say("BLKKILL FLUSHED %llu\n", (unsigned long long)(n + 1));
	}
	say("BLKKILL END\n");
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int bench_seq(int fd, uint64_t size, bool wr)
{
	uint64_t t0 = now_ns();
	for (uint64_t off = 0; off + MIB <= size; off += MIB) {
		ssize_t n = wr ? pwrite(fd, buf, MIB, (off_t)off) : pread(fd, back, MIB, (off_t)off);
		if (n != (ssize_t)MIB) {
			say("BENCH ERROR seq %s at %llu: %s\n", wr ? "write" : "read",
			    (unsigned long long)off, strerror(errno));
			return -1;
		}
	}
	if (wr)
		fdatasync(fd);
	say("BENCH seq%s %llu %llu\n", wr ? "write" : "read", (unsigned long long)(size / MIB * MIB),
	    (unsigned long long)(now_ns() - t0));
	return 0;
}

static int bench_rand(int fd, uint64_t size, bool wr, uint64_t budget_ns)
{
	uint64_t x = 88172645463325252ull, t0 = now_ns(), n = 0, blocks = size / 4096;
	while (now_ns() - t0 < budget_ns) {
		for (int k = 0; k < 64; k++, n++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			off_t off = (off_t)((x % blocks) * 4096);
			ssize_t r = wr ? pwrite(fd, buf, 4096, off) : pread(fd, back, 4096, off);
			if (r != 4096) {
				say("BENCH ERROR rand %s: %s\n", wr ? "write" : "read", strerror(errno));
				return -1;
			}
		}
	}
	if (wr)
		fdatasync(fd);
	say("BENCH rand%s %llu %llu\n", wr ? "write" : "read", (unsigned long long)(n * 4096),
	    (unsigned long long)(now_ns() - t0));
	return 0;
}

int do_blkbench(void)
{
	dev_up();
	const char *ms = getenv("blk_bench_ms");
	uint64_t budget = (ms ? strtoull(ms, NULL, 10) : 3000) * 1000000ull;
	int fd = open("/dev/vda", O_RDWR | O_DIRECT);
	uint64_t size = 0;
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0) {
		say("BENCH ERROR open: %s\n", strerror(errno));
		return 1;
	}
	pattern(buf, MIB, 0);
	say("BENCH START %llu\n", (unsigned long long)size);
	if (bench_seq(fd, size, true) || bench_seq(fd, size, false) || bench_rand(fd, size, true, budget) ||
	    bench_rand(fd, size, false, budget))
		return 1;
	say("BENCH DONE\n");
	close(fd);
	return 0;
}
