/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tiny static helper for test_fs_torture.sh: the operations busybox lacks.
 *   xchg A B            renameat2(RENAME_EXCHANGE)
 *   noreplace A B       renameat2(RENAME_NOREPLACE), prints the errno name on failure
 *   ren A B             rename(2), prints the errno name on failure
 *   setx F NAME VALUE   setxattr;   getx F NAME;   listx F (sorted names)
 *   mmapw F OFF STR     write STR at OFF through a shared mapping + msync
 *   mmapr F OFF LEN     print LEN bytes at OFF read through a mapping
 *   mkmany DIR N        create DIR/e0 .. e<N-1>
 *   writer F ID N BS    write N blocks of BS bytes of letter 'a'+ID at block i*2+ID
 * Compiled by tests/integration/test_fs_torture.py.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static int die(const char *what)
{
	printf("%s: %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	return 1;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *c = argv[1];
	if (!strcmp(c, "xchg") && argc == 4)
		return renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], RENAME_EXCHANGE) < 0 ? die("xchg") : 0;
	if (!strcmp(c, "noreplace") && argc == 4)
		return renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], RENAME_NOREPLACE) < 0
			   ? die("noreplace")
			   : 0;
	if (!strcmp(c, "ren") && argc == 4)
		return rename(argv[2], argv[3]) < 0 ? die("ren") : 0;
	if (!strcmp(c, "setx") && argc == 5)
		return setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0) < 0 ? die("setx") : 0;
	if (!strcmp(c, "getx") && argc == 4) {
		char v[256];
		ssize_t n = getxattr(argv[2], argv[3], v, sizeof(v));
		if (n < 0)
			return die("getx");
		printf("%.*s\n", (int)n, v);
		return 0;
	}
	if (!strcmp(c, "listx") && argc == 3) {
		char buf[4096];
		ssize_t n = listxattr(argv[2], buf, sizeof(buf));
		if (n < 0)
			return die("listx");
		char *names[128];
		int k = 0;
		for (ssize_t p = 0; p < n && k < 128; p += (ssize_t)strlen(buf + p) + 1)
			if (!strncmp(buf + p, "user.", 5))
				names[k++] = buf + p;
		qsort(names, (size_t)k, sizeof(names[0]), cmp);
		for (int i = 0; i < k; i++)
			printf("%s\n", names[i]);
		return 0;
	}
	if ((!strcmp(c, "mmapw") || !strcmp(c, "mmapr")) && argc == 5) {
		int w = c[4] == 'w';
		int fd = open(argv[2], w ? O_RDWR | O_CREAT : O_RDONLY, 0644);
		if (fd < 0)
			return die("open");
		long off = atol(argv[3]);
		size_t len = w ? strlen(argv[4]) : (size_t)atol(argv[4]);
		struct stat st;
		fstat(fd, &st);
		if (w && st.st_size < off + (long)len && ftruncate(fd, off + (long)len) < 0)
			return die("ftruncate");
		uint8_t *m =
		    mmap(NULL, (size_t)off + len, w ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			return die("mmap");
		if (w) {
			memcpy(m + off, argv[4], len);
			if (msync(m, (size_t)off + len, MS_SYNC) < 0)
				return die("msync");
		} else {
			fwrite(m + off, 1, len, stdout);
			printf("\n");
		}
		munmap(m, (size_t)off + len);
		close(fd);
		return 0;
	}
	if (!strcmp(c, "mkmany") && argc == 4) {
		int n = atoi(argv[3]);
		char p[4096];
		for (int i = 0; i < n; i++) {
			snprintf(p, sizeof(p), "%s/e%d", argv[2], i);
			int fd = open(p, O_CREAT | O_WRONLY | O_EXCL, 0644);
			if (fd < 0)
				return die("create");
			close(fd);
		}
		return 0;
	}
	if (!strcmp(c, "writer") && argc == 6) {
		int fd = open(argv[2], O_WRONLY);
		if (fd < 0)
			return die("open");
		int id = atoi(argv[3]), n = atoi(argv[4]);
		size_t bs = (size_t)atol(argv[5]);
		char *b = malloc(bs);
		memset(b, 'a' + id, bs);
		for (int i = 0; i < n; i++)
			if (pwrite(fd, b, bs, (off_t)((size_t)(i * 2 + id) * bs)) != (ssize_t)bs)
				return die("pwrite");
		free(b);
		close(fd);
		return 0;
	}
	fprintf(stderr, "test_fs_helper: bad command\n");
	return 2;
}
