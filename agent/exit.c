/* SPDX-License-Identifier: Apache-2.0 */
/* Reaping, signals, tty resize and exit reporting.  A process's exit is reported (wait
 * responses and "exit" events) only after its output streams reached EOF and were closed, so
 * the host has every byte before it has the status. */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"

static bool output_done(struct proc *p)
{
	for (int i = PROTO_STDOUT; i < PROTO_NSTREAMS; i++)
		if (p->streams[i] && !p->streams[i]->done)
			return false;
	return true;
}

/* The exit is reported once exited and drained; "reported" means the host really got it. */
void proc_check_complete(struct proc *p)
{
	if (p->state != PROC_EXITED || p->complete || !output_done(p))
		return;
	p->complete = true;
	bool sent = false;
	while (p->waiters) {
		struct waiter *w = p->waiters;
		p->waiters = w->next;
		if (conn_reply_exit(w->c, w->id, p) == 0)
			sent = true;
		free(w);
	}
	if (server_broadcast_exit(p) > 0)
		sent = true;
	if (sent) {
		p->reported = true;
		server_check_done();
	}
}

int proc_add_waiter(struct proc *p, struct conn *c, uint64_t id)
{
	if (p->complete) {
		if (conn_reply_exit(c, id, p) == 0) {
			p->reported = true;
			server_check_done();
		}
		return 0;
	}
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return -1;
	w->c = c;
	w->id = id;
	w->next = p->waiters;
	p->waiters = w;
	return 0;
}

void proc_forget_conn(struct conn *c)
{
	for (struct proc *p = g_procs; p; p = p->next)
		for (struct waiter **wp = &p->waiters; *wp;) {
			if ((*wp)->c == c) {
				struct waiter *w = *wp;
				*wp = w->next;
				free(w);
			} else {
				wp = &(*wp)->next;
			}
		}
}

/* Every process of the pid namespace of PID (other than PID itself, already gone). */
static void kill_pidns_of(ino_t ns_ino, int sig)
{
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 1 || pid == getpid())
			continue;
		char path[64];
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%ld/ns/pid", pid);
		if (stat(path, &st) == 0 && st.st_ino == ns_ino)
			kill((pid_t)pid, sig);
	}
	closedir(d);
}

static ino_t pidns_ino(pid_t pid)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

int proc_signal(struct proc *p, int sig, bool all)
{
	if (p->state == PROC_EXITED) {
		errno = ESRCH;
		return -1;
	}
	if (all) {
		ino_t ns = pidns_ino(p->pid), self = pidns_ino(getpid());
		if (ns && ns != self) {
			kill_pidns_of(ns, sig);
			return kill(p->pid, sig) < 0 && errno != ESRCH ? -1 : 0;
		}
		/* No pid namespace of its own: every process we started for the container. */
		for (struct proc *q = g_procs; q; q = q->next)
			if (q->ctr == p->ctr && q->state != PROC_EXITED)
				kill(q->pid, sig);
		return 0;
	}
	return kill(p->pid, sig);
}

int proc_resize(struct proc *p, unsigned rows, unsigned cols)
{
	struct stream *st = p->streams[PROTO_TTY];
	if (!st || st->pfd < 0) {
		errno = ENOTTY;
		return -1;
	}
	struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
	return ioctl(st->pfd, TIOCSWINSZ, &ws);
}

static void init_exited(struct proc *init)
{
	/* The container is over: nothing of it may survive its init.  The VM's own container
	 * (a pod's sandbox) takes everything with it; a pod member only its own processes (its pid
	 * namespace died with its init). */
	for (struct proc *q = g_procs; q; q = q->next)
		if (q != init && q->state != PROC_EXITED && (q->ctr == init->ctr || init->ctr->first))
			kill(q->pid, SIGKILL);
	if (g_opts.pid1 && init->ctr->first)
		kill(-1, SIGKILL); /* PID 1: everything but us */
}

void proc_reap(void)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			break;
		struct proc *p;
		for (p = g_procs; p; p = p->next)
			if (p->pid == pid && p->state != PROC_EXITED)
				break;
		if (!p)
			continue; /* an orphan we inherited */
		p->state = PROC_EXITED;
		p->wstatus = status;
		log_debug("process %s (pid %d) exited: status 0x%x", p->id, pid, status);
		if (p->is_init)
			init_exited(p);
		streams_process_exited(p);
		proc_check_complete(p);
	}
}

void proc_kill_all(void)
{
	for (struct proc *q = g_procs; q; q = q->next)
		if (q->state != PROC_EXITED)
			kill(q->pid, SIGKILL);
	if (g_opts.pid1)
		kill(-1, SIGKILL);
}

bool proc_all_reported(void)
{
	for (struct proc *q = g_procs; q; q = q->next)
		if (!q->reported)
			return false;
	return true;
}

bool proc_init_reported(void)
{
	struct container *c = ctr_find(NULL);
	return c && c->init && c->init->reported;
}

void proc_oom_event(struct proc *p)
{
	char buf[4096];
	while (read(p->oom_fd, buf, sizeof(buf)) > 0)
		;
	long long k = cgroup_oom_kills(p->cgroup);
	if (k > p->oom_kills) {
		p->oom_kills = k;
		server_broadcast_oom(p->id, k);
	}
}
