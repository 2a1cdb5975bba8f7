/* SPDX-License-Identifier: Apache-2.0 */
/* PID 1 leaves the initramfs: the kernel's rootfs cannot be pivoted away (pivot_root says EINVAL
 * for a root without a parent mount), so the container's root would have to be moved onto it
 * with the agent's own mounts (/proc, /sys, the share…) still in the container's mount
 * namespace, where the kernel's "fully visible proc" check finds them.  Like switch_root: move
 * every file of the initramfs onto a tmpfs, move that tmpfs onto "/", chroot, and exec /init
 * again.  From then on the root is an ordinary mount and each container gets a real pivot_root
 * that leaves nothing of the agent behind. */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"
#include "log.h"

#define NEWROOT "/.runm-root"
/* log what failed and why; the value is -1 */
#define FAIL(...) (log_errno(errno, __VA_ARGS__), -1)

int init_leave_initramfs(char **argv)
{
	if (mkdir(NEWROOT, 0755) < 0 && errno != EEXIST)
		return FAIL("switch root: mkdir %s", NEWROOT);
	if (mount("runm-root", NEWROOT, "tmpfs", 0, "mode=0755") < 0)
		return FAIL("switch root: mount tmpfs on %s", NEWROOT);
	int s = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int d = open(NEWROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char what[PATH_MAX + 32] = "";
	int rc = s < 0 || d < 0 ? FAIL("switch root: open / or %s", NEWROOT)
				: tree_copy(s, d, true, NEWROOT + 1, what, sizeof(what));
	if (rc < 0 && what[0])
		log_errno(errno, "switch root: %s", what);
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
