/* SPDX-License-Identifier: Apache-2.0 */
/* Guest cgroup (v2) for the container: linux.resources → cpu.max, cpu.weight, memory.max,
 * memory.low, memory.swap.max, cpuset, pids.max (at create and on "update"), device rules
 * (devcgroup.c); stats from cpu.stat,
 * memory.current, pids.current. */
#include "cgroups.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"
#include "io.h"

#define CG_ROOT	 "/sys/fs/cgroup/runm"
#define ERR(...) agent_errf(err, errlen, __VA_ARGS__)

static int write_file(const char *dir, const char *file, const char *val)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = io_write_str(fd, val);
	close(fd);
	if (r < 0)
		errno = -r;
	return r < 0 ? -1 : 0;
}

/* First number of DIR/FILE (e.g. the quota of cpu.max: "max" reads as -1); -2 when unreadable. */
static long long read_first(const char *dir, const char *file)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	char *buf = io_read_file(p, 4096, NULL);
	if (!buf || !buf[0]) {
		free(buf);
		return -2;
	}
	long long v = strncmp(buf, "max", 3) ? strtoll(buf, NULL, 10) : -1;
	free(buf);
	return v;
}

#define PUT(file, ...)                                                                                       \
	do {                                                                                                 \
		snprintf(buf, sizeof(buf), __VA_ARGS__);                                                     \
		if (write_file(path, file, buf) < 0)                                                         \
			return ERR("cgroup %s: write %s %s: %s", path, file, buf, strerror(errno));          \
	} while (0)

int cgroup_apply(const char *path, const struct proto_resources *r, char *err, size_t errlen)
{
	char buf[PROTO_CPUSET_MAX + 32];
	if (!path || !path[0])
		return ERR("the container has no cgroup (no limits to change)");
	unsigned set = r->set;
	/* As runc: 0 leaves a memory value alone, -1 lifts the limit. */
	bool lim = (set & PROTO_RES_MEM_LIMIT) && r->mem_limit != 0;
	bool swap = (set & PROTO_RES_MEM_SWAP) && r->mem_swap != 0;
	if (swap && r->mem_swap != -1 && (!lim || r->mem_limit == -1))
		return ERR("cgroup %s: memory.swap needs a memory.limit", path);
	if (swap && lim && r->mem_swap != -1 && r->mem_swap < r->mem_limit)
		return ERR("cgroup %s: memory.swap %lld is below memory.limit %lld", path, r->mem_swap,
			   r->mem_limit);
	if (lim)
		PUT("memory.max", r->mem_limit < 0 ? "max" : "%lld", r->mem_limit);
	if ((set & PROTO_RES_MEM_RESERVATION) && r->mem_reservation != 0)
		PUT("memory.low", r->mem_reservation < 0 ? "max" : "%lld", r->mem_reservation);
	if (swap) {
		/* runtime-spec swap is memory+swap; memory.swap.max is the swap alone */
		if (r->mem_swap < 0)
			snprintf(buf, sizeof(buf), "max");
		else
			snprintf(buf, sizeof(buf), "%lld", r->mem_swap - r->mem_limit);
		if (write_file(path, "memory.swap.max", buf) < 0 && errno != ENOENT)
			return ERR("cgroup %s: write memory.swap.max %s: %s", path, buf, strerror(errno));
	}
	if (set & (PROTO_RES_CPU_QUOTA | PROTO_RES_CPU_PERIOD)) {
		long long q = (set & PROTO_RES_CPU_QUOTA) ? r->cpu_quota : read_first(path, "cpu.max");
		long long period = (set & PROTO_RES_CPU_PERIOD) ? r->cpu_period : 100000;
		if (!(set & PROTO_RES_CPU_PERIOD)) {
			/* keep the period of cpu.max ("<quota> <period>") */
			char p[512], cur[64] = "";
			snprintf(p, sizeof(p), "%s/cpu.max", path);
			FILE *f = fopen(p, "re");
			if (f) {
				if (fgets(cur, sizeof(cur), f) && strchr(cur, ' '))
					period = strtoll(strchr(cur, ' ') + 1, NULL, 10);
				fclose(f);
			}
			if (period < 1000 || period > 1000000)
				period = 100000;
		}
		if (q > 0)
			PUT("cpu.max", "%lld %lld", q, period);
		else
			PUT("cpu.max", "max %lld", period);
	}
	if ((set & PROTO_RES_CPU_SHARES) && r->cpu_shares >= 2)
		/* The usual shares → weight conversion (2..262144 → 1..10000). */
		PUT("cpu.weight", "%lld", 1 + ((r->cpu_shares - 2) * 9999) / 262142);
	if (set & (PROTO_RES_CPU_CPUS | PROTO_RES_CPU_MEMS))
		write_file(CG_ROOT, "cgroup.subtree_control", "+cpuset"); /* on demand: the guest has it */
	if (set & PROTO_RES_CPU_CPUS)
		PUT("cpuset.cpus", "%s", r->cpus);
	if (set & PROTO_RES_CPU_MEMS)
		PUT("cpuset.mems", "%s", r->mems);
	if (set & PROTO_RES_PIDS_LIMIT)
		PUT("pids.max", r->pids_limit <= 0 ? "max" : "%lld", r->pids_limit);
	return 0;
}

int cgroup_create(const struct spec *s, const char *id, char *path, size_t len, char *err, size_t errlen)
{
	path[0] = '\0';
	struct proto_resources r;
	if (proto_parse_resources(s->resources, &r, err, errlen) < 0)
		return -1;
	if (mkdir(CG_ROOT, 0755) < 0 && errno != EEXIST)
		return ERR("mkdir %s: %s", CG_ROOT, strerror(errno));
	write_file(CG_ROOT, "cgroup.subtree_control", "+cpu +memory +pids");
	snprintf(path, len, "%s/%s", CG_ROOT, id);
	if (strchr(id, '/') || mkdir(path, 0755) < 0) {
		ERR("mkdir %s: %s", path, strchr(id, '/') ? "bad id" : strerror(errno));
		path[0] = '\0';
		return -1;
	}
	if (devcg_attach(path, s->resources, s->devmap, s->ndevmap, err, errlen) < 0)
		return -1;
	/* The spec's cpuset names host CPUs; the guest has its own few (runm update can set one). */
	r.set &= ~(unsigned)(PROTO_RES_CPU_CPUS | PROTO_RES_CPU_MEMS);
	return cgroup_apply(path, &r, err, errlen);
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

int cgroup_stats(const char *path, struct json_gen *pg)
{
	long long v;
	if ((v = read_ll(path, "memory.current", NULL)) >= 0)
		json_gen_int(pg, "cgroup_memory", v);
	if ((v = read_ll(path, "pids.current", NULL)) >= 0)
		json_gen_int(pg, "cgroup_pids", v);
	if ((v = read_ll(path, "cpu.stat", "usage_usec")) >= 0)
		json_gen_int(pg, "cgroup_cpu_usec", v);
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
			return ERR("cgroup %s: still %sfrozen after %d ms", path, freeze ? "not " : "",
				   timeout_ms);
		}
		usleep(10000);
	}
}
