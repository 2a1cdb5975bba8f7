/* SPDX-License-Identifier: Apache-2.0 */
/* op "ps": the container's processes as the guest sees them: pid, command line, and what
 * `ps -ef` shows (ppid, effective uid, C, start time, tty, CPU time) from the guest's /proc. */
#include "ps.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "base.h"
#include "ctr.h"
#include "proc.h"

#define ERR(...)     agent_errf(err, errlen, __VA_ARGS__)
#define CG_MAX_DEPTH 8

struct pidset {
	int *pids;
	size_t n, cap;
};

static int add_pid(struct pidset *s, long pid)
{
	if (pid <= 0 || pid > INT32_MAX)
		return 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->pids[i] == pid)
			return 0;
	if (s->n >= PROTO_PS_MAX)
		return 0; /* the response carries at most PROTO_PS_MAX */
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		int *p = realloc(s->pids, cap * sizeof(*p));
		if (!p)
			return -1;
		s->pids = p;
		s->cap = cap;
	}
	s->pids[s->n++] = (int)pid;
	return 0;
}

/* cgroup.procs of DIR and of its descendants (a container may make sub-cgroups). */
static int add_cgroup(struct pidset *s, const char *dir, int depth)
{
	char p[PATH_MAX], line[32];
	snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
	FILE *f = fopen(p, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (add_pid(s, strtol(line, NULL, 10)) < 0) {
			fclose(f);
			return -1;
		}
	fclose(f);
	if (depth >= CG_MAX_DEPTH)
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) < (int)sizeof(p))
			add_cgroup(s, p, depth + 1);
	}
	closedir(d);
	return 0;
}

static int pidns_of(const char *pid, char *buf, size_t len)
{
	char p[300];
	if (snprintf(p, sizeof(p), "/proc/%s/ns/pid", pid) >= (int)sizeof(p))
		return -1;
	ssize_t n = readlink(p, buf, len - 1);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Without a cgroup: every process in the init's pid namespace, when it has its own. */
static int add_pidns(struct pidset *s, pid_t init)
{
	char want[64], self[64], pid[16], ns[64];
	snprintf(pid, sizeof(pid), "%d", (int)init);
	if (pidns_of(pid, want, sizeof(want)) < 0 || pidns_of("self", self, sizeof(self)) < 0 ||
	    !strcmp(want, self))
		return 0;
	DIR *d = opendir("/proc");
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]) || pidns_of(de->d_name, ns, sizeof(ns)) < 0)
			continue;
		if (!strcmp(ns, want) && add_pid(s, strtol(de->d_name, NULL, 10)) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/* /proc/PID/cmdline with spaces for NULs, printable ASCII only; "[comm]" for kernel threads
 * and zombies. */
static void read_cmd(int pid, char *out, size_t len)
{
	char p[64];
	out[0] = '\0';
	snprintf(p, sizeof(p), "/proc/%d/cmdline", pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, out, len - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n < 0)
		n = 0;
	out[n] = '\0';
	while (n > 0 && out[n - 1] == '\0')
		out[--n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (out[i] == '\0')
			out[i] = ' ';
		else if (out[i] < 0x20 || out[i] > 0x7e)
			out[i] = '?';
	if (n > 0)
		return;
	char comm[32] = "";
	snprintf(p, sizeof(p), "/proc/%d/comm", pid);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, comm, sizeof(comm) - 1) : -1;
	if (fd >= 0)
		close(fd);
	comm[n > 0 ? n : 0] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	for (char *c = comm; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	snprintf(out, len, "[%s]", comm[0] ? comm : "?");
}

/* ps' names for the terminals a guest has: pts/N, ttyN, ttySN, tty, console; "?" for none. */
static void tty_name(unsigned long long nr, char *out, size_t len)
{
	unsigned maj = major((dev_t)nr), min = minor((dev_t)nr);
	if (nr == 0)
		snprintf(out, len, "?");
	else if (maj >= 136 && maj <= 143)
		snprintf(out, len, "pts/%u", (maj - 136) * 256 + min);
	else if (maj == 4 && min < 64)
		snprintf(out, len, "tty%u", min);
	else if (maj == 4)
		snprintf(out, len, "ttyS%u", min - 64);
	else if (maj == 5 && min == 0)
		snprintf(out, len, "tty");
	else if (maj == 5 && min == 1)
		snprintf(out, len, "console");
	else
		snprintf(out, len, "%u:%u", maj, min);
}

static long long read_btime(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	long long bt = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &bt) == 1)
			break;
	if (f)
		fclose(f);
	return bt;
}

static double read_uptime(void)
{
	FILE *f = fopen("/proc/uptime", "re");
	double up = -1;
	if (f && fscanf(f, "%lf", &up) != 1)
		up = -1;
	if (f)
		fclose(f);
	return up;
}

/* ppid, tty, CPU time, start and C from /proc/PID/stat; the effective uid from status.
 * Unknown fields stay -1 (a process that just went away). */
static void read_stat(struct proto_ps_entry *e, long long btime, double uptime, long hz)
{
	char p[64], buf[1024];
	e->ppid = e->c = -1;
	e->uid = e->start = e->time = -1;
	snprintf(e->tty, sizeof(e->tty), "?");
	snprintf(p, sizeof(p), "/proc/%d/stat", e->pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	char *rp = n > 0 ? (buf[n] = '\0', strrchr(buf, ')')) : NULL;
	int ppid;
	unsigned long long tty, ut, st, start;
	/* after "pid (comm)": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime */
	if (rp &&
	    sscanf(rp + 1,
		   " %*c %d %*d %*d %llu %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu",
		   &ppid, &tty, &ut, &st, &start) == 5 &&
	    hz > 0) {
		e->ppid = ppid;
		tty_name(tty, e->tty, sizeof(e->tty));
		e->time = (long long)((ut + st) / (unsigned long long)hz);
		if (btime >= 0)
			e->start = btime + (long long)(start / (unsigned long long)hz);
		double life = uptime - (double)start / (double)hz;
		if (uptime >= 0) {
			/* as procps: CPU time over elapsed time, percent, at most 99 */
			long long c =
			    life > 0 ? (long long)((double)(ut + st) / (double)hz * 100.0 / life) : 0;
			e->c = c > 99 ? 99 : (int)c;
		}
	}
	snprintf(p, sizeof(p), "/proc/%d/status", e->pid);
	FILE *f = fopen(p, "re");
	long long ruid, euid;
	while (f && fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "Uid: %lld %lld", &ruid, &euid) == 2) {
			e->uid = euid;
			break;
		}
	if (f)
		fclose(f);
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

int ps_list(const struct container *c, struct proto_ps_entry **out, size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	struct proc *init = c->init;
	if (!init || init->state == PROC_EXITED)
		return ERR("container not running");
	struct pidset s = {0};
	int rc = 0;
	if (init->cgroup[0]) {
		if (add_cgroup(&s, init->cgroup, 0) < 0)
			rc = ERR("cgroup %s: read cgroup.procs: %s", init->cgroup, strerror(errno));
	} else if (add_pidns(&s, init->pid) < 0) {
		rc = ERR("list /proc: %s", strerror(errno));
	}
	for (struct proc *p = g_procs; rc == 0 && p; p = p->next)
		if (p->ctr == c && p->state != PROC_EXITED && add_pid(&s, p->pid) < 0)
			rc = ERR("ps: out of memory");
	if (rc < 0) {
		free(s.pids);
		return -1;
	}
	if (s.n == 0) { /* every process is gone: an empty list, not an error */
		free(s.pids);
		*out = NULL;
		*n = 0;
		return 0;
	}
	struct proto_ps_entry *e = calloc(s.n, sizeof(*e));
	if (!e) {
		free(s.pids);
		return ERR("ps: out of memory");
	}
	qsort(s.pids, s.n, sizeof(*s.pids), cmp_int);
	long long btime = read_btime();
	double uptime = read_uptime();
	long hz = sysconf(_SC_CLK_TCK);
	for (size_t i = 0; i < s.n; i++) {
		e[i].pid = s.pids[i];
		read_cmd(s.pids[i], e[i].cmd, sizeof(e[i].cmd));
		read_stat(&e[i], btime, uptime, hz);
	}
	free(s.pids);
	*out = e;
	*n = s.n;
	return 0;
}
