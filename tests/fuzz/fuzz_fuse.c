/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the FUSE server's request parsing: the input is a
 * sequence of requests, each "u16 reply-size, u16 length, bytes", served
 * against a fresh temporary directory with a few entries. The server is
 * initialised first so every opcode is reachable.
 */
#include "vmm/devices/fs/fs.h"

#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[64];
static uint8_t *rep;
#define REP_MAX (160 * 1024)

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP)
		rmdir(p);
	else
		unlink(p);
	return 0;
}

static void remove_base(void)
{
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(base, sizeof(base), "/tmp/runm-fuzz-fuse.XXXXXX");
	if (!mkdtemp(base))
		abort();
	atexit(remove_base);
	/* Bound what a request can make the host store. */
	struct rlimit rl = {1 << 20, 1 << 20};
	setrlimit(RLIMIT_FSIZE, &rl);
	signal(SIGXFSZ, SIG_IGN);
	rep = malloc(REP_MAX);
	return 0;
}

static void populate(const char *d)
{
	char p[128];
	mkdir(d, 0755);
	snprintf(p, sizeof(p), "%s/file", d);
	int fd = open(p, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0) {
		if (write(fd, "hello fuzz\n", 11) < 0)
			abort();
		close(fd);
	}
	snprintf(p, sizeof(p), "%s/dir", d);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dir/inner", d);
	close(open(p, O_CREAT | O_WRONLY, 0600));
	snprintf(p, sizeof(p), "%s/link", d);
	if (symlink("/etc/passwd", p) < 0)
		abort();
}

static void serve(struct fs_server *s, const uint8_t *buf, size_t len, size_t repsize)
{
	/* Request split in two segments, reply in two, like a virtio chain. */
	size_t cut = len / 3;
	struct iovec req[2] = {{(void *)buf, cut}, {(void *)(buf + cut), len - cut}};
	if (repsize > REP_MAX)
		repsize = REP_MAX;
	struct iovec r[2] = {{rep, repsize / 2}, {rep + repsize / 2, repsize - repsize / 2}};
	ssize_t n = fs_server_handle(s, req, 2, r, 2);
	if (n > (ssize_t)repsize)
		abort();
	if (n >= (ssize_t)sizeof(struct fuse_out_header)) {
		const struct fuse_out_header *oh = (const void *)rep;
		if (oh->len != (uint32_t)n || oh->error > 0 || oh->error < -4095)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* libFuzzer installs its own SIGXFSZ handler after Initialize. */
	signal(SIGXFSZ, SIG_IGN);
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/d", base);
	populate(dir);
	char err[256];
	struct fs_server *s = fs_server_new(dir, (enum fs_cache)(size % 3), err, sizeof(err));
	if (!s)
		abort();
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} init = {.h = {.len = sizeof(init), .opcode = FUSE_INIT, .unique = 1},
		  .i = {.major = 7, .minor = FUSE_KERNEL_MINOR_VERSION, .flags = 0xffffffff}};
	serve(s, (const uint8_t *)&init, sizeof(init), 4096);
	size_t pos = 0;
	while (pos + 4 <= size) {
		size_t repsize = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
		size_t len = (size_t)data[pos + 2] | (size_t)data[pos + 3] << 8;
		pos += 4;
		if (len > size - pos)
			len = size - pos;
		/* Copy so the server cannot read past the request undetected. */
		uint8_t *req = malloc(len ? len : 1);
		memcpy(req, data + pos, len);
		serve(s, req, len, repsize * 4);
		free(req);
		pos += len;
	}
	fs_server_free(s);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
