/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Landlock, the jail's second fence (jail.h): after pivot_root, the process may
 * reach only its binds (read-only ones: read; writable ones: everything but
 * execute) and /proc (read), execute only its own program and ELF interpreter, no TCP at all (ABI 4), and
 * neither signal nor reach abstract unix sockets outside its domain (ABI 6). A kernel without Landlock skips
 * it (runm check says so). Child-side: system calls only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/backend/jail.h"

/* The uapi bits by ABI version (the build host's header may be older than the kernel). */
#define LL_EXECUTE		  (1ull << 0)
#define LL_WRITE_FILE		  (1ull << 1)
#define LL_READ_FILE		  (1ull << 2)
#define LL_READ_DIR		  (1ull << 3)
#define LL_ABI1_ALL		  ((1ull << 13) - 1)
#define LL_REFER		  (1ull << 13) /* ABI 2 */
#define LL_TRUNCATE		  (1ull << 14) /* ABI 3 */
#define LL_IOCTL_DEV		  (1ull << 15) /* ABI 5 */
#define LL_FILE_ONLY		  (LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_TRUNCATE | LL_IOCTL_DEV)
#define LL_NET_BIND_TCP		  (1ull << 0)
#define LL_NET_CONNECT_TCP	  (1ull << 1)
#define LL_SCOPE_ABSTRACT_UNIX	  (1ull << 0)
#define LL_SCOPE_SIGNAL		  (1ull << 1)
#define LL_RULE_PATH_BENEATH	  1
#define LL_CREATE_RULESET_VERSION (1u << 0)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

static int add_rule(int rs, const char *path, uint64_t access)
{
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct ll_path_beneath pb = {.allowed_access = access, .parent_fd = fd};
	long r = syscall(SYS_landlock_add_rule, rs, LL_RULE_PATH_BENEATH, &pb, 0);
	int e = errno;
	close(fd);
	return r < 0 ? -e : 0;
}

int jail_landlock(const struct jail *j, const char **stage);
int jail_landlock(const struct jail *j, const char **stage)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0; /* no Landlock here: the mount namespace is the fence */
	uint64_t fs = LL_ABI1_ALL | (abi >= 2 ? LL_REFER : 0) | (abi >= 3 ? LL_TRUNCATE : 0) |
		      (abi >= 5 ? LL_IOCTL_DEV : 0);
	struct ll_ruleset_attr a = {.handled_access_fs = fs};
	size_t size = sizeof(uint64_t);
	if (abi >= 4) {
		a.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		a.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size = sizeof(a);
	}
	*stage = "landlock: create the ruleset";
	int rs = (int)syscall(SYS_landlock_create_ruleset, &a, size, 0);
	if (rs < 0)
		return -errno;
	int r = 0;
	for (unsigned i = 0; i < j->nbind && r == 0; i++) {
		const struct jail_bind *b = &j->bind[i];
		uint64_t acc = (b->flags & JAIL_RW) ? fs & ~LL_EXECUTE : (LL_READ_FILE | LL_READ_DIR);
		if (b->flags & JAIL_DEV)
			acc |= LL_WRITE_FILE | (fs & LL_IOCTL_DEV);
		if (!b->dir)
			acc &= LL_FILE_ONLY;
		*stage = b->path;
		r = add_rule(rs, b->path, acc & fs);
	}
	/* execve: the program itself (once, by jail_enter's caller) and its ELF interpreter */
	for (int k = 0; k < 2 && r == 0; k++) {
		const char *p = k ? j->interp : j->exe;
		*stage = p;
		if (*p)
			r = add_rule(rs, p, LL_READ_FILE | LL_EXECUTE);
	}
	if (r == 0) {
		*stage = "landlock: /proc";
		r = add_rule(rs, "/proc", LL_READ_FILE | LL_READ_DIR);
	}
	if (r == 0) {
		*stage = "landlock: restrict";
		if (syscall(SYS_landlock_restrict_self, rs, 0) < 0)
			r = -errno;
	}
	close(rs);
	return r;
}
