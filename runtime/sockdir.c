/* SPDX-License-Identifier: Apache-2.0 */
/* Where the VM's unix sockets live (sockdir.h). */
#include "sockdir.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The longest name a socket directory must hold: the hybrid vsock's guest→host sockets. */
#define LONGEST_NAME "/vsock.sock_4294967295"

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

static void link_path(const char *state_dir, char *out, size_t cap)
{
	if (geteuid() == 0)
		snprintf(out, cap, SOCKDIR_BASE "/%016llx", (unsigned long long)fnv1a(state_dir));
	else
		snprintf(out, cap, "/tmp/runm-s-%u/%016llx", (unsigned)geteuid(),
			 (unsigned long long)fnv1a(state_dir));
}

bool sock_dir_fits(const char *dir)
{
	return strlen(dir) + sizeof(LONGEST_NAME) <= sizeof(((struct sockaddr_un *)0)->sun_path);
}

int sock_dir(const char *state_dir, char *out, size_t cap, char *err, size_t errlen)
{
	if (sock_dir_fits(state_dir)) {
		snprintf(out, cap, "%s", state_dir);
		return 0;
	}
	if (state_dir[0] != '/') {
		snprintf(err, errlen, "state directory %s: not an absolute path", state_dir);
		return -1;
	}
	char base[64];
	link_path(state_dir, out, cap);
	snprintf(base, sizeof(base), "%s", out);
	*strrchr(base, '/') = '\0';
	if (geteuid() == 0 && mkdir("/run/runm", 0711) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir /run/runm: %s", strerror(errno));
		return -1;
	}
	if (mkdir(base, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", base, strerror(errno));
		return -1;
	}
	struct stat st;
	if (lstat(base, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		snprintf(err, errlen, "%s: not a private directory of ours", base);
		return -1;
	}
	/* the same state directory always gets the same name: replace a stale link */
	if (unlink(out) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "remove stale %s: %s", out, strerror(errno));
		return -1;
	}
	if (symlink(state_dir, out) < 0) {
		snprintf(err, errlen, "symlink %s -> %s: %s", out, state_dir, strerror(errno));
		return -1;
	}
	return 0;
}

void sock_dir_remove(const char *state_dir)
{
	if (sock_dir_fits(state_dir))
		return;
	char p[PATH_MAX];
	link_path(state_dir, p, sizeof(p));
	char target[PATH_MAX];
	ssize_t n = readlink(p, target, sizeof(target) - 1);
	if (n < 0)
		return;
	target[n] = '\0';
	if (!strcmp(target, state_dir)) /* only our own link, never another container's */
		unlink(p);
}
