/* SPDX-License-Identifier: Apache-2.0 */
/* Copy a directory tree (files, directories, symlinks, device nodes; modes and owners kept):
 * the switch off the initramfs (moving: each entry unlinked once copied) and tmpcopyup. */
#include "init.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "io.h"
#include "log.h"

#define MAX_DEPTH 64
/* say what failed in WHAT (errno kept); the value is -1 */
#define FAIL(...) (snprintf(what, wl, __VA_ARGS__), -1)

static int copy_file(int sdir, int ddir, const char *name, const struct stat *st, char *what, size_t wl)
{
	int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return FAIL("open %s", name);
	int out =
	    openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st->st_mode & 07777);
	if (out < 0) {
		int e = errno;
		snprintf(what, wl, "create %s", name);
		close(in);
		errno = e;
		return -1;
	}
	int rc = 0;
	char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = FAIL("read %s", name);
			break;
		}
		int w = io_write_all(out, buf, (size_t)n);
		if (w < 0) {
			errno = -w;
			rc = FAIL("write %s", name);
			break;
		}
	}
	if (rc == 0 && (fchown(out, st->st_uid, st->st_gid) < 0 || fchmod(out, st->st_mode & 07777) < 0))
		rc = FAIL("set owner/mode of %s", name);
	close(in);
	close(out);
	return rc;
}

static int copy_dir(int sdir, int ddir, bool move, const char *skip, int depth, char *what, size_t wl)
{
	if (depth > MAX_DEPTH) {
		snprintf(what, wl, "deeper than %d directories", MAX_DEPTH);
		errno = ELOOP;
		return -1;
	}
	int fd = dup(sdir);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return FAIL("read directory");
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, "..") || (depth == 0 && skip && !strcmp(n, skip)))
			continue;
		struct stat st;
		if (fstatat(sdir, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = FAIL("stat %s", n);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int s2 = -1, d2 = -1;
			if (mkdirat(ddir, n, st.st_mode & 07777) < 0 ||
			    fchownat(ddir, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
			    fchmodat(ddir, n, st.st_mode & 07777, 0) < 0 ||
			    (s2 = openat(sdir, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
			    (d2 = openat(ddir, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
				rc = FAIL("directory %s", n);
			} else {
				rc = copy_dir(s2, d2, move, NULL, depth + 1, what, wl);
			}
			if (s2 >= 0)
				close(s2);
			if (d2 >= 0)
				close(d2);
			if (rc == 0 && move && unlinkat(sdir, n, AT_REMOVEDIR) < 0)
				log_debug("copy tree: rmdir %s: %s", n, strerror(errno));
			continue;
		}
		if (S_ISREG(st.st_mode)) {
			rc = copy_file(sdir, ddir, n, &st, what, wl);
		} else if (S_ISLNK(st.st_mode)) {
			char t[PATH_MAX];
			ssize_t l = readlinkat(sdir, n, t, sizeof(t) - 1);
			if (l < 0 || (t[l] = '\0', symlinkat(t, ddir, n) < 0) ||
			    fchownat(ddir, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
				rc = FAIL("symlink %s", n);
		} else if (mknodat(ddir, n, st.st_mode, st.st_rdev) < 0 ||
			   fchownat(ddir, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = FAIL("node %s (%u:%u)", n, major(st.st_rdev), minor(st.st_rdev));
		}
		if (rc == 0 && move && unlinkat(sdir, n, 0) < 0)
			log_debug("copy tree: unlink %s: %s", n, strerror(errno));
	}
	closedir(d);
	return rc;
}

int tree_copy(int sdir, int ddir, bool move, const char *skip, char *what, size_t wl)
{
	return copy_dir(sdir, ddir, move, skip, 0, what, wl);
}
