/* SPDX-License-Identifier: Apache-2.0 */
/* The jail of VMM-side processes: its description, built in the parent (jail.h). */
#include "runtime/backend/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "io.h"
#include "log.h"

static bool jail_off;
static unsigned id_base = JAIL_ID_BASE, id_count = JAIL_ID_COUNT;

void jail_set_id_range(unsigned base, unsigned count)
{
	if (base && count) {
		id_base = base;
		id_count = count;
	}
}

void vm_jail_disable(void)
{
	jail_off = true;
}

bool vm_jail_disabled(void)
{
	return jail_off;
}

/* FNV-1a of the run directory: the same VM directory always gets the same ids. */
static uint32_t id_of(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return id_base + h % id_count;
}

/* Whether path lies at or below dir. */
static bool below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

int jail_bind(struct jail *j, const char *path, unsigned flags, const char *what)
{
	char abs[PATH_MAX];
	if (path[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)) ||
		    snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >= (int)sizeof(abs)) {
			log_error("start %s: jail: %s: path too long", what, path);
			return -ENAMETOOLONG;
		}
		path = abs;
	}
	for (unsigned i = 0; i < j->nbind; i++)
		if (!strcmp(j->bind[i].path, path)) {
			j->bind[i].flags |= flags;
			return 0;
		}
	struct stat st;
	if (stat(path, &st) < 0) {
		int e = errno;
		log_errno(e, "start %s: jail: bind %s", what, path);
		return -e;
	}
	if (j->nbind >= JAIL_MAX_BINDS || strlen(path) + strlen(j->mnt) + 1 >= PATH_MAX) {
		log_error("start %s: jail: bind %s: %s", what, path,
			  j->nbind >= JAIL_MAX_BINDS ? "too many bind mounts" : "path too long");
		return -ENOSPC;
	}
	/* Sorted: a directory before what is bound below it. */
	unsigned at = j->nbind;
	while (at > 0 && strcmp(j->bind[at - 1].path, path) > 0) {
		j->bind[at] = j->bind[at - 1];
		at--;
	}
	struct jail_bind *b = &j->bind[at];
	snprintf(b->path, sizeof(b->path), "%s", path);
	b->flags = flags;
	b->dir = S_ISDIR(st.st_mode);
	j->nbind++;
	return 0;
}

/* /lib, /lib64, /bin, /sbin: the same symlink as on the host (usrmerge), else a read-only bind. */
static int add_system_dir(struct jail *j, const char *path, const char *what)
{
	char target[64];
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0 || j->nlink >= JAIL_MAX_LINKS)
			return 0;
		target[n] = '\0';
		struct jail_link *l = &j->link[j->nlink++];
		snprintf(l->path, sizeof(l->path), "%s", path);
		snprintf(l->target, sizeof(l->target), "%s", target);
		return 0;
	}
	return S_ISDIR(st.st_mode) ? jail_bind(j, path, 0, what) : 0;
}

static int resolve_exe(const char *exe, char *out, size_t len)
{
	char p[PATH_MAX];
	if (!io_find_in_path(exe, p, sizeof(p)))
		return strchr(exe, '/') ? -errno : -ENOENT;
	(void)len;
	return realpath(p, out) ? 0 : -errno;
}

int jail_init(struct jail *j, const char *run_dir, const char *what, const char *exe)
{
	static char *const no_env[] = {NULL};
	memset(j, 0, sizeof(*j));
	j->uid = id_of(run_dir);
	j->gid = j->uid;
	j->nofile = 4096;
	j->nproc = 1024;
	j->memlock = 8u << 20;
	j->envp = no_env;
	if (!realpath(run_dir, j->mnt)) {
		int e = errno;
		log_errno(e, "start %s: jail: run directory %s", what, run_dir);
		return -e;
	}
	int r = resolve_exe(exe, j->exe, sizeof(j->exe));
	if (r < 0) {
		log_errno(-r, "start %s: exec %s", what, exe);
		return r;
	}
	if (!realpath("/lib64/ld-linux-x86-64.so.2", j->interp))
		j->interp[0] = '\0';
	static const char *const sys[] = {"/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin"};
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		if ((r = add_system_dir(j, sys[i], what)) < 0)
			return r;
	if (access("/etc/ld.so.cache", R_OK) == 0 && (r = jail_bind(j, "/etc/ld.so.cache", 0, what)) < 0)
		return r;
	bool covered = false;
	for (unsigned i = 0; i < j->nbind; i++)
		covered |= j->bind[i].dir && below(j->exe, j->bind[i].path);
	return covered ? 0 : jail_bind(j, j->exe, 0, what);
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

void jail_keep_fs_caps(struct jail *j)
{
	/* Serving files of every owner as their owner (fs_server.c set_creds): fsuid/fsgid and
	 * the groups switch per request (SETUID, SETGID); root's requests bypass modes and own
	 * everything (DAC_OVERRIDE, FOWNER, FSETID, CHOWN); mknod and security.capability
	 * (MKNOD, SETFCAP). Not DAC_READ_SEARCH: it would allow open_by_handle_at, which
	 * reaches any file of the share's filesystem past the mount namespace. */
	static const int caps[] = {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID,
				   CAP_SETGID, CAP_SETUID,	 CAP_MKNOD,  CAP_SETFCAP};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		j->caps |= 1ull << caps[i];
	/* an O_PATH fd per inode the guest looks up: as many as the kernel allows */
	long max = read_long("/proc/sys/fs/nr_open");
	j->nofile = max > 0 && max < 1048576 ? (unsigned long)max : 1048576;
}

void jail_add_group_of(struct jail *j, const char *dev)
{
	struct stat st;
	if (stat(dev, &st) == 0 && st.st_gid != 0 && j->ngroups < 2)
		j->groups[j->ngroups++] = st.st_gid;
}

/* ---- runm check ---- */

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

static int landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return v < 0 ? -errno : (int)v;
}

void jail_report(FILE *f)
{
	long userns = read_long("/proc/sys/user/max_user_namespaces");
	int ll = landlock_abi();
	long cr = syscall(SYS_close_range, ~0u, ~0u, 0);
	bool has_cr = cr == 0 || errno != ENOSYS;
	struct stat st;
	bool v2 = stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0;
	bool unified = stat("/sys/fs/cgroup/unified/cgroup.controllers", &st) == 0;
	fprintf(f, "jail: %s\n", jail_off ? "off (--no-jail: debugging only)" : "on");
	fprintf(f, "jail user namespaces: %s (not used: the VMM processes run as real uids %u..%u%s)\n",
		userns > 0 ? "available" : "unavailable", id_base, id_base + (id_count - 1),
		id_base == JAIL_ID_BASE && id_count == JAIL_ID_COUNT ? "" : ", from the config file");
	if (ll > 0)
		fprintf(f, "jail landlock: ABI %d (used: a second fence on each jail's paths)\n", ll);
	else
		fprintf(f, "jail landlock: unavailable (%s; not used)\n", strerror(-ll));
	fprintf(f, "jail close_range: %s\n",
		has_cr ? "available (used)" : "unavailable (fds closed one by one)");
	fprintf(f,
		"jail namespaces: mount, pid, ipc, uts, net (used), pivot_root into a tmpfs per process\n");
	fprintf(f,
		"jail cgroups: %s; the shim and every VM process join the container's cgroupsPath "
		"(docs/usage.md, Host cgroups)\n",
		v2	  ? "unified hierarchy (cgroup v2)"
		: unified ? "hybrid (v1 controllers, v2 without controllers at /sys/fs/cgroup/unified)"
			  : "cgroup v1");
}
