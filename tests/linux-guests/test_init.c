/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runm-test-init: a tiny static PID 1 for test initramfs images booted under
 * QEMU with devices served by runm's vhost-user backend. What it does is
 * chosen on the kernel command line (unknown key=value words reach init as
 * environment variables):
 *
 *   runm_test=rng     read 32 bytes from /dev/hwrng, print "RNG <hex>"
 *   runm_test=fs      mount virtio-fs tag "share" on /mnt, print "FS <first line of
 *                     /mnt/hello.txt>", write /mnt/from-guest.txt ("written by guest\n"),
 *                     print "FSLIST <sorted names in /mnt>"
 *   runm_test=vsockbw listen on vsock port 1234; each connection sends one line
 *                     "recv N" (the guest reads N bytes, then answers "ok N\n") or
 *                     "send N" (the guest writes N bytes); for bench/qemu_vsock.sh
 *   runm_test=blk, blkro, blkkill, blkbench   /dev/vda (blk_test.c)
 *   runm_test=metabench untar + walk on ext4 /dev/vda or virtio-fs (meta_bench.c)
 *   runm_test=idle    print "RUNM-TEST-INIT READY" and wait forever
 *   runm_test=boot    print "RUNM-TEST-INIT READY" and power off
 *   runm_test=vsock   listen on vsock port 1234: for each of two connections
 *                     read a line, answer "echo:<line>" and wait for the host
 *                     to close (nothing queued is lost to power-off); meanwhile connect
 *                     to the host (cid 2) port 5678, send "hello from guest\n"
 *                     and print what the host answers as "HOST <line>"
 *
 * It prints "RUNM-TEST-INIT READY" once the vsock listener is up and
 * "RUNM-TEST-INIT DONE" at the end, then powers the VM off (reboot(2)).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int do_blk(void), do_blkro(void), do_blkkill(void), do_blkbench(void); /* blk_test.c */
int do_metabench(void);						       /* meta_bench.c */
void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	if (write(1, buf, (size_t)n) < 0)
		return;
}

static void power_off(void)
{
	sync();
	reboot(RB_AUTOBOOT); /* reboot=k: the VMM sees a reset and exits */
	for (;;)
		pause();
}

static int do_rng(void)
{
	mknod("/dev/hwrng", S_IFCHR | 0600, makedev(10, 183));
	int fd = open("/dev/hwrng", O_RDONLY);
	if (fd < 0) {
		say("RNG-ERROR open /dev/hwrng: %s\n", strerror(errno));
		return 1;
	}
	unsigned char b[32];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t n = read(fd, b + got, sizeof(b) - got);
		if (n <= 0) {
			say("RNG-ERROR read: %s\n", n < 0 ? strerror(errno) : "EOF");
			return 1;
		}
		got += (size_t)n;
	}
	char hex[65];
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	say("RNG %s\n", hex);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int do_fs(void)
{
	mkdir("/mnt", 0755);
	if (mount("share", "/mnt", "virtiofs", 0, NULL) < 0) {
		say("FS-ERROR mount virtiofs share: %s\n", strerror(errno));
		return 1;
	}
	char line[256] = "";
	FILE *f = fopen("/mnt/hello.txt", "r");
	if (!f || !fgets(line, sizeof(line), f)) {
		say("FS-ERROR read /mnt/hello.txt: %s\n", strerror(errno));
		return 1;
	}
	fclose(f);
	say("FS %s", line);
	f = fopen("/mnt/from-guest.txt", "w");
	if (!f || fputs("written by guest\n", f) < 0 || fclose(f) != 0) {
		say("FS-ERROR write /mnt/from-guest.txt: %s\n", strerror(errno));
		return 1;
	}
	DIR *d = opendir("/mnt");
	char *names[64];
	int n = 0;
	for (struct dirent *e; d && n < 64 && (e = readdir(d));)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	if (d)
		closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
	char list[2048] = "";
	for (int i = 0; i < n; i++) {
		strncat(list, " ", sizeof(list) - strlen(list) - 1);
		strncat(list, names[i], sizeof(list) - strlen(list) - 1);
	}
	say("FSLIST%s\n", list);
	umount("/mnt");
	return 0;
}

static ssize_t read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, 1);
		if (r <= 0)
			return r < 0 ? -1 : (ssize_t)n;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

static void *to_host(void *arg)
{
	struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = 5678};
	for (int tries = 0; tries < 100; tries++) {
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fd < 0) {
			say("VSOCK-ERROR socket: %s\n", strerror(errno));
			return NULL;
		}
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			const char *msg = "hello from guest\n";
			char line[256];
			if (write(fd, msg, strlen(msg)) == (ssize_t)strlen(msg) &&
			    read_line(fd, line, sizeof(line)) > 0)
				say("HOST %s", line);
			else
				say("VSOCK-ERROR host exchange: %s\n", strerror(errno));
			close(fd);
			return NULL;
		}
		close(fd);
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	say("VSOCK-ERROR connect to host port 5678: %s\n", strerror(errno));
	return NULL;
}

static void bw_conn(int c)
{
	static char buf[65536];
	char line[64];
	unsigned long long n = 0, done = 0;
	if (read_line(c, line, sizeof(line)) <= 0)
		return;
	if (sscanf(line, "recv %llu", &n) == 1) {
		while (done < n) {
			ssize_t r = read(c, buf, sizeof(buf));
			if (r <= 0)
				break;
			done += (unsigned long long)r;
		}
		int m = snprintf(line, sizeof(line), "ok %llu\n", done);
		if (write(c, line, (size_t)m) != m)
			return;
	} else if (sscanf(line, "send %llu", &n) == 1) {
		memset(buf, 'x', sizeof(buf));
		while (done < n) {
			size_t want = n - done < sizeof(buf) ? (size_t)(n - done) : sizeof(buf);
			ssize_t w = write(c, buf, want);
			if (w <= 0)
				break;
			done += (unsigned long long)w;
		}
	}
}

static int do_vsockbw(void)
{
	int l = socket(AF_VSOCK, SOCK_STREAM, 0);
	struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = 1234};
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4) < 0) {
		say("VSOCK-ERROR listen on port 1234: %s\n", strerror(errno));
		return 1;
	}
	say("RUNM-TEST-INIT READY\n");
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c < 0)
			continue;
		bw_conn(c);
		close(c);
	}
}

static int do_vsock(void)
{
	int l = socket(AF_VSOCK, SOCK_STREAM, 0);
	struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = 1234};
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4) < 0) {
		say("VSOCK-ERROR listen on port 1234: %s\n", strerror(errno));
		return 1;
	}
	say("RUNM-TEST-INIT READY\n");
	pthread_t t;
	pthread_create(&t, NULL, to_host, NULL);
	for (int i = 0; i < 2; i++) {
		int c = accept(l, NULL, NULL);
		if (c < 0) {
			say("VSOCK-ERROR accept: %s\n", strerror(errno));
			return 1;
		}
		char line[4096], out[4200];
		ssize_t n = read_line(c, line, sizeof(line));
		if (n <= 0)
			say("VSOCK-ERROR read connection %d: %s\n", i, n < 0 ? strerror(errno) : "EOF");
		if (n > 0) {
			int m = snprintf(out, sizeof(out), "echo:%s", line);
			if (write(c, out, (size_t)m) != m)
				say("VSOCK-ERROR write: %s\n", strerror(errno));
		}
		/* Wait for the host to close first: bytes still queued in the guest's
		 * vsock transport when this init powers the VM off would be lost. */
		char ch;
		while (read(c, &ch, 1) > 0)
			;
		close(c);
	}
	pthread_join(t, NULL);
	return 0;
}

int main(void)
{
	mount("proc", "/proc", "proc", 0, NULL);
	const char *what = getenv("runm_test");
	int r = 1;
	if (!what)
		say("RUNM-TEST-INIT ERROR no runm_test= on the kernel command line\n");
	else if (!strcmp(what, "rng"))
		r = do_rng();
	else if (!strcmp(what, "fs"))
		r = do_fs();
	else if (!strcmp(what, "vsockbw"))
		r = do_vsockbw();
	else if (!strcmp(what, "vsock"))
		r = do_vsock();
	else if (!strcmp(what, "blk"))
		r = do_blk();
	else if (!strcmp(what, "blkro"))
		r = do_blkro();
	else if (!strcmp(what, "blkkill"))
		r = do_blkkill();
	else if (!strcmp(what, "blkbench"))
		r = do_blkbench();
	else if (!strcmp(what, "metabench"))
		r = do_metabench();
	else if (!strcmp(what, "idle")) {
		say("RUNM-TEST-INIT READY\n");
		for (;;)
			pause();
	} else if (!strcmp(what, "boot"))
		r = 0, say("RUNM-TEST-INIT READY\n");
	else
		say("RUNM-TEST-INIT ERROR unknown runm_test=%s\n", what);
	say("RUNM-TEST-INIT DONE %d\n", r);
	power_off();
	return 0;
}
