/* SPDX-License-Identifier: Apache-2.0 */
/* The jail as the backends use it (runtime/backend/jail.h): a jail per VM process, the files
 * and sockets its parent makes for it because a jailed process cannot. */
#include "runtime/backend/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "runtime/backend/jail.h"

/* A jail for a process of v (NULL with --no-jail, or *err < 0 after logging). */
struct jail *vm_jail_for(const struct vm *v, const char *what, const char *exe, int *err)
{
	*err = 0;
	if (vm_jail_disabled())
		return NULL;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", v->log_path);
	struct jail *j = malloc(sizeof(*j));
	if (!j) {
		*err = -ENOMEM;
		return NULL;
	}
	if ((*err = jail_init(j, dirname(dir), what, exe)) < 0) {
		free(j);
		return NULL;
	}
	return j;
}

/* Bind the directory holding path (a socket directory) into j. */
int vm_jail_bind_dir_of(struct jail *j, const char *path, unsigned flags, const char *what)
{
	char d[PATH_MAX];
	snprintf(d, sizeof(d), "%s", path);
	return jail_bind(j, dirname(d), flags, what);
}

/* A listening unix socket at path, bound here (a jailed server cannot create it), owned by
 * uid/gid when they are not -1 (QEMU connects as the VM's uid). */
int vm_listen_at(const char *path, uid_t uid, gid_t gid, const char *what)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(a.sun_path)) {
		log_error("start %s: socket path %s: longer than %zu bytes", what, path,
			  sizeof(a.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, path);
	int fd = vm_fd_above_stdio(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0 ||
	    (uid != (uid_t)-1 && (chown(path, uid, gid) < 0 || chmod(path, 0600) < 0))) {
		int e = errno;
		log_errno(e, "start %s: listen on %s", what, path);
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

int vm_jail_file(struct jail *j, const char *path, const char *what)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int r = 0;
	if (fd < 0 || fchown(fd, j->uid, j->gid) < 0) {
		r = -errno;
		log_errno(-r, "start %s: create %s for the jailed process", what, path);
	}
	if (fd >= 0)
		close(fd);
	return r ? r : jail_bind(j, path, JAIL_RW, what);
}
