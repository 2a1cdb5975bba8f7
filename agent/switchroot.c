/* SPDX-License-Identifier: Apache-2.0 */
/* PID 1 leaves the initramfs: the kernel's rootfs cannot be pivoted away (pivot_root says EINVAL
 * for a root without a parent mount), so the container's root would have to be moved onto it
 * with the agent's own mounts (/proc, /sys, the share…) still in the container's mount
 * namespace, where the kernel's "fully visible proc" check finds them.  Like switch_root: move
 * every file of the initramfs onto a tmpfs, move that tmpfs onto "/", chroot, and exec /init
 * again.  From then on the root is an ordinary mount and each container gets a real pivot_root
 * that leaves nothing of the agent behind. */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "log.h"

#define NEWROOT "/.runm-root"
#define MAX_DEPTH 32
/* log what failed and why; the value is -1 */
#define FAIL(...) (log_errno(errno, __VA_ARGS__), -1)

static int copy_file(int sdir, int ddir, const char *name, const struct stat *st)
{
	int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return FAIL("switch root: open %s", name);
	int out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st->st_mode & 07777);
	if (out < 0) {
		log_errno(errno, "switch root: create %s", name);
		close(in);
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
			rc = FAIL("switch root: read %s", name);
			break;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = FAIL("switch root: write %s", name);
				break;
			}
			off += w;
		}
		if (rc < 0)
			break;
	}
	if (rc == 0 && (fchown(out, st->st_uid, st->st_gid) < 0 || fchmod(out, st->st_mode & 07777) < 0))
		rc = FAIL("switch root: set owner/mode of %s", name);
	close(in);
	close(out);
	return rc;
}

/* Move the contents of SDIR (on the rootfs) into DDIR (on the tmpfs): copy, then unlink, so the
 * initramfs' memory is given back. */
static int move_tree(int sdir, int ddir, int depth)
{
	if (depth > MAX_DEPTH) {
		log_error("switch root: initramfs deeper than %d directories", MAX_DEPTH);
		return -1;
	}
	int fd = dup(sdir);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return FAIL("switch root: read directory");
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, "..") || (depth == 0 && !strcmp(n, NEWROOT + 1)))
			continue;
		struct stat st;
		if (fstatat(sdir, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = FAIL("switch root: stat %s", n);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int s2 = -1, d2 = -1;
			if (mkdirat(ddir, n, st.st_mode & 07777) < 0 ||
			    fchownat(ddir, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
			    fchmodat(ddir, n, st.st_mode & 07777, 0) < 0 ||
			    (s2 = openat(sdir, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
			    (d2 = openat(ddir, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
				rc = FAIL("switch root: directory %s", n);
			} else {
				rc = move_tree(s2, d2, depth + 1);
			}
			if (s2 >= 0)
				close(s2);
			if (d2 >= 0)
				close(d2);
			if (rc == 0 && unlinkat(sdir, n, AT_REMOVEDIR) < 0)
				log_debug("switch root: rmdir %s: %s", n, strerror(errno));
			continue;
		}
		if (S_ISREG(st.st_mode)) {
			rc = copy_file(sdir, ddir, n, &st);
		} else if (S_ISLNK(st.st_mode)) {
			char t[PATH_MAX];
			ssize_t l = readlinkat(sdir, n, t, sizeof(t) - 1);
			if (l < 0 || (t[l] = '\0', symlinkat(t, ddir, n) < 0) ||
			    fchownat(ddir, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
				rc = FAIL("switch root: symlink %s", n);
		} else if (mknodat(ddir, n, st.st_mode, st.st_rdev) < 0 ||
			   fchownat(ddir, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = FAIL("switch root: node %s (%u:%u)", n, major(st.st_rdev), minor(st.st_rdev));
		}
		if (rc == 0 && unlinkat(sdir, n, 0) < 0)
			log_debug("switch root: unlink %s: %s", n, strerror(errno));
	}
	closedir(d);
	return rc;
}

int init_leave_initramfs(char **argv)
{
	if (mkdir(NEWROOT, 0755) < 0 && errno != EEXIST)
		return FAIL("switch root: mkdir %s", NEWROOT);
	if (mount("runm-root", NEWROOT, "tmpfs", 0, "mode=0755") < 0)
		return FAIL("switch root: mount tmpfs on %s", NEWROOT);
	int s = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int d = open(NEWROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = s < 0 || d < 0 ? FAIL("switch root: open / or %s", NEWROOT) : move_tree(s, d, 0);
	if (s >= 0)
		close(s);
	if (d >= 0)
		close(d);
	if (rc < 0)
		return -1;
	if (chdir(NEWROOT) < 0)
		return FAIL("switch root: chdir %s", NEWROOT);
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return FAIL("switch root: move %s to /", NEWROOT);
	if (chroot(".") < 0 || chdir("/") < 0)
		return FAIL("switch root: chroot into the tmpfs");
	char *args[] = {argv[0], INIT_SWITCHED_ARG, NULL};
	execv("/init", args);
	return FAIL("switch root: exec /init");
}
