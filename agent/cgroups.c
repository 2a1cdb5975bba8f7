/* SPDX-License-Identifier: Apache-2.0 */
/* Guest cgroup (v2) for the container: linux.resources → cpu.max, cpu.weight, memory.max,
 * memory.swap.max, pids.max; stats from cpu.stat, memory.current, pids.current. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define CG_ROOT "/sys/fs/cgroup/runm"
#define ERR(...) agent_errf(err, errlen, __VA_ARGS__)

static int write_file(const char *dir, const char *file, const char *val)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, val, strlen(val));
	int e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static bool num(yajl_val o, const char *k, long long *v)
{
	return proto_get_int(o, k, INT64_MIN, INT64_MAX, v) == 0;
}

int cgroup_create(const struct spec *s, const char *id, char *path, size_t len, char *err, size_t errlen)
{
	path[0] = '\0';
	if (mkdir(CG_ROOT, 0755) < 0 && errno != EEXIST)
		return ERR("mkdir %s: %s", CG_ROOT, strerror(errno));
	write_file(CG_ROOT, "cgroup.subtree_control", "+cpu +memory +pids");
	snprintf(path, len, "%s/%s", CG_ROOT, id);
	if (strchr(id, '/') || mkdir(path, 0755) < 0) {
		ERR("mkdir %s: %s", path, strchr(id, '/') ? "bad id" : strerror(errno));
		path[0] = '\0';
		return -1;
	}
	yajl_val r = s->resources;
	yajl_val mem = proto_get(r, "memory", yajl_t_object), cpu = proto_get(r, "cpu", yajl_t_object);
	yajl_val pids = proto_get(r, "pids", yajl_t_object);
	long long v, q;
	char buf[64];
	if (num(mem, "limit", &v)) {
		snprintf(buf, sizeof(buf), v < 0 ? "max" : "%lld", v);
		if (write_file(path, "memory.max", buf) < 0)
			return ERR("cgroup %s: write memory.max %s: %s", path, buf, strerror(errno));
	}
	if (num(mem, "swap", &v) && num(mem, "limit", &q) && v >= 0 && q >= 0) {
		snprintf(buf, sizeof(buf), "%lld", v > q ? v - q : 0);
		if (write_file(path, "memory.swap.max", buf) < 0 && errno != ENOENT)
			return ERR("cgroup %s: write memory.swap.max: %s", path, strerror(errno));
	}
	if (num(cpu, "quota", &v)) {
		long long period = 100000;
		num(cpu, "period", &period);
		if (v > 0)
			snprintf(buf, sizeof(buf), "%lld %lld", v, period);
		else
			snprintf(buf, sizeof(buf), "max %lld", period);
		if (write_file(path, "cpu.max", buf) < 0)
			return ERR("cgroup %s: write cpu.max %s: %s", path, buf, strerror(errno));
	}
	if (num(cpu, "shares", &v) && v >= 2) {
		/* The usual shares → weight conversion (2..262144 → 1..10000). */
		snprintf(buf, sizeof(buf), "%lld", 1 + ((v - 2) * 9999) / 262142);
		if (write_file(path, "cpu.weight", buf) < 0)
			return ERR("cgroup %s: write cpu.weight: %s", path, strerror(errno));
	}
	if (num(pids, "limit", &v)) {
		snprintf(buf, sizeof(buf), v <= 0 ? "max" : "%lld", v);
		if (write_file(path, "pids.max", buf) < 0)
			return ERR("cgroup %s: write pids.max: %s", path, strerror(errno));
	}
	return 0;
}

int cgroup_enter(const char *path, pid_t pid, struct setup_err *e)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%d", pid);
	if (write_file(path, "cgroup.procs", buf) < 0)
		return setup_fail(e, "enter cgroup", path, errno);
	return 0;
}

static long long read_ll(const char *dir, const char *file, const char *key)
{
	char p[512], line[256];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	FILE *f = fopen(p, "re");
	long long v = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!key) {
			v = strtoll(line, NULL, 10);
			break;
		}
		size_t kl = strlen(key);
		if (!strncmp(line, key, kl) && line[kl] == ' ') {
			v = strtoll(line + kl + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

int cgroup_stats(const char *path, struct proto_gen *pg)
{
	long long v;
	if ((v = read_ll(path, "memory.current", NULL)) >= 0)
		proto_gen_int(pg, "cgroup_memory", v);
	if ((v = read_ll(path, "pids.current", NULL)) >= 0)
		proto_gen_int(pg, "cgroup_pids", v);
	if ((v = read_ll(path, "cpu.stat", "usage_usec")) >= 0)
		proto_gen_int(pg, "cgroup_cpu_usec", v);
	return 0;
}

long long cgroup_oom_kills(const char *path)
{
	return read_ll(path, "memory.events", "oom_kill");
}

int cgroup_watch_oom(const char *path)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/memory.events", path);
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return -1;
	if (inotify_add_watch(fd, p, IN_MODIFY) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void cgroup_remove(const char *path)
{
	if (path && path[0])
		rmdir(path);
}

/* "frozen" of cgroup.events: 1, 0, or -1 when unreadable. */
static int frozen_now(const char *path)
{
	return (int)read_ll(path, "cgroup.events", "frozen");
}

int cgroup_freeze(const char *path, bool freeze, int timeout_ms, char *err, size_t errlen)
{
	if (!path || !path[0])
		return ERR("the container has no cgroup (no freezer to %s it)", freeze ? "pause" : "resume");
	if (write_file(path, "cgroup.freeze", freeze ? "1" : "0") < 0)
		return ERR("cgroup %s: write cgroup.freeze: %s", path, strerror(errno));
	/* The write only asks; the cgroup is frozen once every task stopped (cgroup.events). */
	int want = freeze ? 1 : 0;
	for (int waited = 0;; waited += 10) {
		int f = frozen_now(path);
		if (f == want)
			return 0;
		if (f < 0)
			return ERR("cgroup %s: read cgroup.events: %s", path, strerror(errno));
		if (waited >= timeout_ms) {
			if (freeze)
				write_file(path, "cgroup.freeze", "0");
			return ERR("cgroup %s: still %sfrozen after %d ms", path, freeze ? "not " : "", timeout_ms);
		}
		usleep(10000);
	}
}
