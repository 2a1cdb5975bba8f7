/* SPDX-License-Identifier: Apache-2.0 */
/* Reaping and exit reporting.  A process's exit is reported (wait responses and "exit" events)
 * only after its output streams reached EOF and were closed, so the host has every byte before
 * it has the status. */
#include "exit.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base.h"
#include "ctr.h"
#include "evloop.h"
#include "log.h"
#include "proc.h"
#include "streams.h"
#include "waiters.h"

static const struct exit_hooks *hooks;
static int sfd = -1;

void exit_set_hooks(const struct exit_hooks *h)
{
	hooks = h;
}

static int reply(void *owner, uint64_t id, const struct proc *p)
{
	return hooks && hooks->reply ? hooks->reply(owner, id, p) : -1;
}

static void reported(struct proc *p)
{
	p->reported = true;
	if (hooks && hooks->reported)
		hooks->reported();
}

/* The exit is reported once exited and drained; "reported" means the host really got it. */
void exit_check_complete(struct proc *p)
{
	if (p->state != PROC_EXITED || p->complete || !streams_output_done(p))
		return;
	p->complete = true;
	bool sent = waiters_notify(p, reply) > 0;
	if (hooks && hooks->broadcast && hooks->broadcast(p) > 0)
		sent = true;
	if (sent)
		reported(p);
}

int exit_wait(struct proc *p, void *owner, uint64_t id)
{
	if (p->complete) {
		if (reply(owner, id, p) == 0)
			reported(p);
		return 0;
	}
	return waiters_add(p, owner, id);
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

void exit_reap(void)
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
		exit_check_complete(p);
	}
}

static void on_sigchld(void *opaque, uint32_t events)
{
	struct signalfd_siginfo si;
	bool any = false;
	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		any = true;
	if (any)
		exit_reap();
}

int exit_init(struct evloop *l)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if (sfd < 0 && (sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return -1;
	int r = evloop_add(l, sfd, EPOLLIN, on_sigchld, NULL);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	streams_on_done(exit_check_complete);
	return 0;
}
