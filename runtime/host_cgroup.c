/* SPDX-License-Identifier: Apache-2.0 */
/* The container's cgroup on the host (host_cgroup.h). */
#include "host_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "json.h"
#include "log.h"
#include "runm.h"

#define MAX_HIER 16

struct hier {
	char mnt[PATH_MAX];
	char opts[256]; /* super options: the controllers ("cpu", "memory,…", "name=systemd") */
	bool v2;
};

static bool has_opt(const char *opts, const char *want)
{
	size_t n = strlen(want);
	for (const char *p = opts; p && *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len == n && !strncmp(p, want, n))
			return true;
		p = c ? c + 1 : NULL;
	}
	return false;
}

/* The cgroup hierarchies mounted in this mount namespace, one entry per hierarchy. */
static int hierarchies(struct hier *h, int max)
{
	char *mi = io_read_file("/proc/self/mountinfo", 4 << 20, NULL);
	if (!mi)
		return -errno;
	int n = 0;
	for (char *save = NULL, *line = strtok_r(mi, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		/* id parent maj:min root mountpoint opts [optional…] - fstype source superopts */
		char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		char root[PATH_MAX], mnt[PATH_MAX], fstype[32], src[64], sopts[256] = "";
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
		    sscanf(sep + 3, "%31s %63s %255s", fstype, src, sopts) < 2)
			continue;
		bool v2 = !strcmp(fstype, "cgroup2");
		if (!v2 && strcmp(fstype, "cgroup"))
			continue;
		if (strcmp(root, "/"))
			continue; /* a bind of a subtree: the hierarchy's own mount is what we want */
		bool dup = false;
		for (int i = 0; i < n; i++)
			dup |= h[i].v2 == v2 && (v2 || !strcmp(h[i].opts, sopts));
		if (dup)
			continue;
		snprintf(h[n].mnt, sizeof(h[n].mnt), "%s", mnt);
		snprintf(h[n].opts, sizeof(h[n].opts), "%s", v2 ? "" : sopts);
		h[n].v2 = v2;
		n++;
	}
	free(mi);
	return n;
}

/* FNV-1a, 32 bits: a short stable name for a --root directory */
static uint32_t root_hash(const char *root)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *c = (const unsigned char *)root; *c; c++)
		h = (h ^ *c) * 16777619u;
	return h;
}

int host_cgroup_path(const struct spec *s, const char *id, const char *root, char *out, size_t outlen,
		     char *err, size_t errlen)
{
	const char *p = json_at_str(s->root, "linux", "cgroupsPath", JSON_END);
	int r;
	if ((!p || !*p) && root && strcmp(root, RUNM_DEFAULT_ROOT)) {
		r = snprintf(out, outlen, "/runm/%s-%08x", id, root_hash(root));
	} else if (!p || !*p) {
		r = snprintf(out, outlen, "/runm/%s", id);
	} else if (p[0] != '/' && strchr(p, ':')) {
		/* systemd's "slice:prefix:name": the scope systemd would make */
		char slice[256], prefix[128], name[256];
		if (sscanf(p, "%255[^:]:%127[^:]:%255s", slice, prefix, name) != 3) {
			snprintf(err, errlen, "cgroupsPath \"%.200s\": expected slice:prefix:name", p);
			return -1;
		}
		char spath[512] = "";
		/* a-b-c.slice lives in /a.slice/a-b.slice/a-b-c.slice */
		if (strcmp(slice, "-.slice")) {
			size_t sl = strlen(slice);
			if (sl < 7 || strcmp(slice + sl - 6, ".slice")) {
				snprintf(err, errlen, "cgroupsPath \"%.200s\": %.200s is not a slice", p,
					 slice);
				return -1;
			}
			for (char *d = slice; (d = strchr(d, '-')); d++) {
				size_t o = strlen(spath);
				snprintf(spath + o, sizeof(spath) - o, "/%.*s.slice", (int)(d - slice),
					 slice);
			}
			size_t o = strlen(spath);
			snprintf(spath + o, sizeof(spath) - o, "/%s", slice);
			if (strlen(spath) >= sizeof(spath) - 1) {
				snprintf(err, errlen, "cgroupsPath too long (slice %.200s nests too deep)",
					 slice);
				return -1;
			}
		}
		r = snprintf(out, outlen, "%s/%s-%s.scope", spath, prefix, name);
	} else {
		r = snprintf(out, outlen, "%s%s", p[0] == '/' ? "" : "/", p);
	}
	if (r < 0 || (size_t)r >= outlen) {
		snprintf(err, errlen, "cgroupsPath too long (%zu bytes, at most %zu)", strlen(p ? p : id),
			 outlen - 1);
		return -1;
	}
	if (strstr(out, "/../") || (strlen(out) >= 3 && !strcmp(out + strlen(out) - 3, "/..")) ||
	    strstr(out, "//")) {
		snprintf(err, errlen, "cgroupsPath \"%.200s\": must not contain \"..\" or empty components",
			 p ? p : out);
		return -1;
	}
	return 0;
}

/* A + B into OUT; -1 when it does not fit. */
static int join(char *out, size_t outlen, const char *a, const char *b)
{
	int r = snprintf(out, outlen, "%s%s", a, b);
	return r < 0 || (size_t)r >= outlen ? -1 : 0;
}

static int write_at(const char *dir, const char *file, const char *val)
{
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = io_write_str(fd, val);
	close(fd);
	return r;
}

/* v1 cpuset: a new group has no CPUs and no memory nodes; take the parent's. */
static void cpuset_inherit(const char *dir)
{
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *sl = strrchr(parent, '/');
	if (!sl)
		return;
	*sl = '\0';
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	for (size_t i = 0; i < 2; i++) {
		char p[PATH_MAX + 32];
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		char *cur = io_read_file(p, 4096, NULL);
		bool empty = cur && (cur[0] == '\n' || !cur[0]);
		free(cur);
		if (!empty)
			continue;
		snprintf(p, sizeof(p), "%s/%s", parent, files[i]);
		char *v = io_read_file(p, 4096, NULL);
		if (v)
			write_at(dir, files[i], v);
		free(v);
	}
}

/* mkdir -p MNT/PATH; *CREATED: the first level made here ("" when all existed). */
static int make_path(const struct hier *h, const char *path, char *created, size_t clen)
{
	char dir[PATH_MAX];
	created[0] = '\0';
	int n = snprintf(dir, sizeof(dir), "%s", h->mnt);
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		if (e == p)
			break;
		n += snprintf(dir + n, sizeof(dir) - (size_t)n, "/%.*s", (int)(e - p), p);
		if ((size_t)n >= sizeof(dir))
			return -ENAMETOOLONG;
		if (h->v2) {
			/* the controllers reach the child only when the parent hands them down */
			char parent[PATH_MAX];
			snprintf(parent, sizeof(parent), "%.*s", (int)(strrchr(dir, '/') - dir), dir);
			write_at(parent, "cgroup.subtree_control", "+cpu +memory +pids +io");
		}
		if (mkdir(dir, 0755) == 0) {
			if (!created[0])
				snprintf(created, clen, "%s", dir);
			if (!h->v2 && has_opt(h->opts, "cpuset"))
				cpuset_inherit(dir);
		} else if (errno != EEXIST) {
			return -errno;
		}
		p = e;
	}
	return 0;
}

/* Remove MNT/PATH and its ancestors up to (not including) STOP when they are empty. */
static void remove_path(const char *leaf, const char *stop)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", leaf);
	size_t sl = strlen(stop);
	while (strlen(dir) > sl && !strncmp(dir, stop, sl)) {
		if (rmdir(dir) < 0) {
			if (errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY)
				log_warn("remove cgroup %s: %s", dir, strerror(errno));
			if (errno != ENOENT)
				return;
		}
		char *s = strrchr(dir, '/');
		if (!s)
			return;
		*s = '\0';
	}
}

static void apply_cpu(const struct spec *s, const struct hier *h, const char *dir)
{
	long long shares = 0;
	yajl_val cpu = json_at(s->root, yajl_t_object, "linux", "resources", "cpu", JSON_END);
	if (cpu)
		json_get_int(cpu, "shares", 2, 262144, &shares);
	char v[64];
	if (h->v2) {
		if (s->cpu_quota > 0) {
			snprintf(v, sizeof(v), "%lld %lld", s->cpu_quota,
				 s->cpu_period > 0 ? s->cpu_period : 100000);
			if (write_at(dir, "cpu.max", v) < 0)
				log_warn("cgroup %s: cpu.max %s: %s", dir, v, strerror(errno));
		}
		if (shares) {
			snprintf(v, sizeof(v), "%lld", 1 + ((shares - 2) * 9999) / 262142);
			write_at(dir, "cpu.weight", v);
		}
		return;
	}
	if (!has_opt(h->opts, "cpu"))
		return;
	int r = 0;
	if (s->cpu_quota > 0) {
		snprintf(v, sizeof(v), "%lld", s->cpu_period > 0 ? s->cpu_period : 100000);
		r = write_at(dir, "cpu.cfs_period_us", v);
		snprintf(v, sizeof(v), "%lld", s->cpu_quota);
		if (!r)
			r = write_at(dir, "cpu.cfs_quota_us", v);
		if (r < 0)
			log_warn("cgroup %s: CPU quota %lld/%lld µs: %s", dir, s->cpu_quota, s->cpu_period,
				 strerror(-r));
	}
	if (shares) {
		snprintf(v, sizeof(v), "%lld", shares);
		write_at(dir, "cpu.shares", v);
	}
}

/* The smallest memory limit set on MNT/PATH or any group above it (bytes), 0 when none. */
static unsigned long long limit_above(const struct hier *h, const char *path)
{
	char dir[PATH_MAX];
	if (join(dir, sizeof(dir), h->mnt, path) < 0)
		return 0;
	unsigned long long min = 0;
	size_t ml = strlen(h->mnt);
	for (;;) {
		char p[PATH_MAX + 32];
		snprintf(p, sizeof(p), "%s/%s", dir, h->v2 ? "memory.max" : "memory.limit_in_bytes");
		char *v = io_read_file(p, 64, NULL);
		if (v && v[0] >= '0' && v[0] <= '9') {
			unsigned long long x = strtoull(v, NULL, 10);
			if (x < (1ULL << 62) && (!min || x < min))
				min = x; /* v1 says "unlimited" with a huge number, v2 with "max" */
		}
		free(v);
		char *sl = strrchr(dir, '/');
		if (!sl || (size_t)(sl - dir) < ml)
			break;
		*sl = '\0';
	}
	return min;
}

static int check_memory(const struct hier *h, int n, const char *path, unsigned vm_mib, char *err,
			size_t errlen)
{
	for (int i = 0; vm_mib && i < n; i++) {
		if (!h[i].v2 && !has_opt(h[i].opts, "memory"))
			continue;
		unsigned long long lim = limit_above(&h[i], path);
		unsigned long long need = ((unsigned long long)vm_mib + HOST_CGROUP_VMM_OVERHEAD_MIB) << 20;
		if (lim && lim < need) {
			snprintf(
			    err, errlen,
			    "host cgroup %s: a memory limit of %llu MiB holds it (%s), less than the microVM "
			    "needs: %u MiB of guest RAM + %u MiB for the VMM; raise that limit or lower the "
			    "container's memory (docs/usage.md, Host cgroups)",
			    path, lim >> 20, h[i].mnt, vm_mib, HOST_CGROUP_VMM_OVERHEAD_MIB);
			return -1;
		}
	}
	return 0;
}

int host_cgroup_enter(const struct spec *s, const char *path, unsigned vm_mib, int dirfd, char *err,
		      size_t errlen)
{
	struct hier h[MAX_HIER];
	int n = hierarchies(h, MAX_HIER);
	if (n <= 0) {
		snprintf(err, errlen, "host cgroup %s: no cgroup hierarchy is mounted", path);
		return 1;
	}
	if (check_memory(h, n, path, vm_mib, err, errlen) < 0)
		return -1;
	char made[MAX_HIER][PATH_MAX];
	int i, r = 0;
	for (i = 0; i < n; i++) {
		char dir[PATH_MAX];
		if (join(dir, sizeof(dir), h[i].mnt, path) < 0) {
			snprintf(err, errlen, "host cgroup %s: path too long below %s", path, h[i].mnt);
			r = -ENAMETOOLONG;
			made[i][0] = '\0';
			break;
		}
		r = make_path(&h[i], path, made[i], sizeof(made[i]));
		if (r == 0)
			apply_cpu(s, &h[i], dir);
		if (r == 0 && (r = write_at(dir, "cgroup.procs", "0")) < 0 && h[i].v2 && r == -EOPNOTSUPP)
			r = 0; /* a v2 group with controllers below it ("no internal processes") */
		if (r < 0) {
			snprintf(err, errlen, "host cgroup %s: join %s: %s", path, dir, strerror(-r));
			break;
		}
	}
	if (i == n) {
		if (dirfd >= 0) {
			int fd =
			    openat(dirfd, HOST_CGROUP_RECORD, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			if (fd >= 0) {
				io_write_str(fd, path);
				close(fd);
			}
		}
		return 0;
	}
	/* undo: back to where we came from is unknown here; the root of each hierarchy holds us */
	for (int j = 0; j <= i && j < n; j++) {
		write_at(h[j].mnt, "cgroup.procs", "0");
		if (made[j][0]) {
			char leaf[PATH_MAX], stop[PATH_MAX];
			snprintf(stop, sizeof(stop), "%.*s", (int)(strrchr(made[j], '/') - made[j]), made[j]);
			if (join(leaf, sizeof(leaf), h[j].mnt, path) == 0)
				remove_path(leaf, stop);
		}
	}
	/* cgroups this host will not let us write are the environment's choice, not the bundle's */
	return (r == -EROFS || r == -EACCES || r == -EPERM) ? 1 : -1;
}

/* SIGKILL what is left in DIR (a VMM process whose shim was killed); 1 if anything was. */
static int kill_left(const char *dir)
{
	char p[PATH_MAX + 16];
	snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
	char *procs = io_read_file(p, 1 << 20, NULL);
	if (!procs)
		return 0;
	int any = 0;
	for (char *save = NULL, *t = strtok_r(procs, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
		long pid = strtol(t, NULL, 10);
		if (pid > 1 && pid != (long)getpid() && kill((pid_t)pid, SIGKILL) == 0)
			any = 1;
	}
	free(procs);
	return any;
}

/* rmdir DIR; a group still busy with dying processes gets KILL_WAIT_MS to empty. */
#define KILL_WAIT_MS 5000
static void remove_group(const char *dir, bool kill_rest)
{
	long long deadline = io_now_ms() + KILL_WAIT_MS;
	for (;;) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return;
		if (errno != EBUSY || io_now_ms() > deadline) {
			log_warn("remove cgroup %s: %s", dir, strerror(errno));
			return;
		}
		if (kill_rest)
			kill_left(dir);
		usleep(10000);
	}
}

static void remove_everywhere(const char *path, bool leave)
{
	struct hier h[MAX_HIER];
	int n = hierarchies(h, MAX_HIER);
	for (int i = 0; i < n; i++) {
		char dir[PATH_MAX];
		if (join(dir, sizeof(dir), h[i].mnt, path) < 0)
			continue;
		if (leave)
			write_at(h[i].mnt, "cgroup.procs", "0");
		/* only the container's own level: parents like /libpod_parent are the engine's. Its
		 * processes are the VM's alone: once the shim is gone (delete) they have no owner */
		remove_group(dir, !leave);
	}
}

void host_cgroup_leave(const char *path, int dirfd)
{
	remove_everywhere(path, true);
	if (dirfd >= 0)
		unlinkat(dirfd, HOST_CGROUP_RECORD, 0);
}

void host_cgroup_remove_recorded(const char *dir)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, HOST_CGROUP_RECORD);
	char *path = io_read_file(p, PATH_MAX - 1, NULL);
	if (!path)
		return;
	if (path[0] == '/' && !strstr(path, "/.."))
		remove_everywhere(path, false);
	free(path);
	unlink(p);
}
