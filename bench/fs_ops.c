/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-operation cost of the FUSE server in a host harness (requests built in
 * memory, fs_server_handle called directly) against the native system calls
 * that do the same work. Prints one JSON object. Built by `make` as
 * build/bench/fs_ops; run through bench/fs_ops.sh.
 *
 *   fs_ops [ITERATIONS]
 */
#include "vmm/devices/fs/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct fs_server *srv;
static uint8_t rep[160 * 1024];
static uint64_t uniq;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int call(uint32_t op, uint64_t node, const void *a, size_t al, const void *b, size_t bl)
{
	struct fuse_in_header h = {
	    .len = (uint32_t)(sizeof(h) + al + bl), .opcode = op, .unique = ++uniq, .nodeid = node};
	struct iovec req[3] = {{&h, sizeof(h)}, {(void *)a, al}, {(void *)b, bl}};
	struct iovec out = {rep, sizeof(rep)};
	ssize_t n = fs_server_handle(srv, req, 3, &out, 1);
	if (n < 0)
		abort();
	if (n == 0)
		return 0;
	return ((struct fuse_out_header *)rep)->error;
}

static void must(int rc, const char *what)
{
	if (rc) {
		fprintf(stderr, "fs_ops: %s failed: %d\n", what, rc);
		exit(1);
	}
}

/* The state one iteration of each operation works on. */
static struct {
	uint64_t fnode, fh, dnode, dh;
	int nfd, ndir, dirfd;
	char buf[4096];
} b;

enum { OP_LOOKUP, OP_GETATTR, OP_READ, OP_WRITE, OP_READDIR, NOPS };
static const char *const op_names[NOPS] = {"lookup", "getattr", "read_4k", "write_4k", "readdir_100"};

/* One iteration of op through the server. */
static void server_op(int op)
{
	switch (op) {
	case OP_LOOKUP: {
		/* plus the FORGET the kernel eventually sends, so counts stay bounded */
		struct fuse_forget_in fg = {.nlookup = 1};
		call(FUSE_LOOKUP, FUSE_ROOT_ID, "f", 2, NULL, 0);
		call(FUSE_FORGET, b.fnode, &fg, sizeof(fg), NULL, 0);
		break;
	}
	case OP_GETATTR: {
		struct fuse_getattr_in ga = {0};
		call(FUSE_GETATTR, b.fnode, &ga, sizeof(ga), NULL, 0);
		break;
	}
	case OP_READ: {
		struct fuse_read_in rd = {.fh = b.fh, .offset = 0, .size = 4096};
		call(FUSE_READ, b.fnode, &rd, sizeof(rd), NULL, 0);
		break;
	}
	case OP_WRITE: {
		struct fuse_write_in wr = {.fh = b.fh, .offset = 0, .size = 4096};
		call(FUSE_WRITE, b.fnode, &wr, sizeof(wr), b.buf, sizeof(b.buf));
		break;
	}
	case OP_READDIR: {
		/* list 100 entries with 4 KiB requests, as the kernel does */
		uint64_t off = 0;
		for (;;) {
			struct fuse_read_in r = {.fh = b.dh, .offset = off, .size = 4096};
			call(FUSE_READDIR, b.dnode, &r, sizeof(r), NULL, 0);
			uint32_t len = ((struct fuse_out_header *)rep)->len - 16;
			if (!len)
				break;
			for (size_t pos = 0; pos < len;) {
				struct fuse_dirent *d = (void *)(rep + 16 + pos);
				off = d->off;
				pos += FUSE_DIRENT_ALIGN(sizeof(*d) + d->namelen);
			}
		}
		break;
	}
	}
}

/* The native system calls doing the same work. */
static void native_op(int op)
{
	struct stat st;
	switch (op) {
	case OP_LOOKUP:
		fstatat(b.dirfd, "f", &st, AT_SYMLINK_NOFOLLOW);
		break;
	case OP_GETATTR:
		fstat(b.nfd, &st);
		break;
	case OP_READ:
		if (pread(b.nfd, rep, 4096, 0) < 0)
			abort();
		break;
	case OP_WRITE:
		if (pwrite(b.nfd, b.buf, 4096, 0) < 0)
			abort();
		break;
	case OP_READDIR:
		lseek(b.ndir, 0, SEEK_SET);
		while (syscall(SYS_getdents64, b.ndir, rep, 4096) > 0)
			;
		break;
	}
}

static double timed(void (*fn)(int), int op, long n)
{
	double t = now_ns();
	for (long i = 0; i < n; i++)
		fn(op);
	return (now_ns() - t) / (double)n;
}

/* Server and native runs alternate in ROUNDS chunks so both see the same
 * load on a shared machine; the best chunk of each is the cost. */
#define ROUNDS 15
static void measure(int op, long n, double *srv_ns, double *nat_ns)
{
	*srv_ns = *nat_ns = 1e300;
	long chunk = n / ROUNDS > 0 ? n / ROUNDS : 1;
	for (int r = 0; r < ROUNDS; r++) {
		double a = timed(server_op, op, chunk), c = timed(native_op, op, chunk);
		if (a < *srv_ns)
			*srv_ns = a;
		if (c < *nat_ns)
			*nat_ns = c;
	}
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	char dir[] = "/tmp/runm-bench-fs.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char err[256], p[256];
	srv = fs_server_new(dir, FS_CACHE_AUTO, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "fs_ops: %s\n", err);
		return 1;
	}
	struct fuse_init_in in = {.major = 7, .minor = FUSE_KERNEL_MINOR_VERSION};
	must(call(FUSE_INIT, 0, &in, sizeof(in), NULL, 0), "init");
	snprintf(p, sizeof(p), "%s/d", dir);
	mkdir(p, 0755);
	for (int i = 0; i < 100; i++) {
		snprintf(p, sizeof(p), "%s/d/entry-%03d", dir, i);
		close(open(p, O_CREAT | O_WRONLY, 0644));
	}
	snprintf(p, sizeof(p), "%s/f", dir);
	b.nfd = open(p, O_CREAT | O_RDWR, 0644);
	memset(b.buf, 'b', sizeof(b.buf));
	if (pwrite(b.nfd, b.buf, sizeof(b.buf), 0) != (ssize_t)sizeof(b.buf))
		return 1;
	b.dirfd = open(dir, O_PATH | O_DIRECTORY);
	must(call(FUSE_LOOKUP, FUSE_ROOT_ID, "f", 2, NULL, 0), "lookup");
	b.fnode = ((struct fuse_entry_out *)(rep + 16))->nodeid;
	struct fuse_open_in oi = {.flags = O_RDWR};
	must(call(FUSE_OPEN, b.fnode, &oi, sizeof(oi), NULL, 0), "open");
	b.fh = ((struct fuse_open_out *)(rep + 16))->fh;
	must(call(FUSE_LOOKUP, FUSE_ROOT_ID, "d", 2, NULL, 0), "lookup d");
	b.dnode = ((struct fuse_entry_out *)(rep + 16))->nodeid;
	struct fuse_open_in od = {.flags = O_RDONLY};
	must(call(FUSE_OPENDIR, b.dnode, &od, sizeof(od), NULL, 0), "opendir");
	b.dh = ((struct fuse_open_out *)(rep + 16))->fh;
	snprintf(p, sizeof(p), "%s/d", dir);
	b.ndir = open(p, O_RDONLY | O_DIRECTORY);

	double srv_ns[NOPS], nat_ns[NOPS];
	for (int op = 0; op < NOPS; op++)
		measure(op, op == OP_READDIR ? n / 20 : n, &srv_ns[op], &nat_ns[op]);
	printf("{\"bench\": \"fs_ops\", \"unit\": \"ns/op\", \"iterations\": %ld, \"goal_ratio\": 1.3, "
	       "\"ops\": {",
	       n);
	for (int op = 0; op < NOPS; op++)
		printf("%s\"%s\": {\"server_ns\": %.0f, \"native_ns\": %.0f, \"ratio\": %.2f}",
		       op ? ", " : "", op_names[op], srv_ns[op], nat_ns[op], srv_ns[op] / nat_ns[op]);
	printf("}, \"note\": \"best of 15 alternating chunks; lookup includes the matching FORGET; native "
	       "lookup is fstatat\"}\n");
	fs_server_free(srv);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? 1 : 0;
}
