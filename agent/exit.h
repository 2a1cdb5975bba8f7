/* SPDX-License-Identifier: Apache-2.0 */
/* The exit reaper (exit.c): SIGCHLD on its own signalfd, reaping, the end of a container's
 * init, and exit reporting.  A process's exit is reported (wait answers and "exit" events)
 * only after its output streams reached EOF and were closed, so the host has every byte before
 * it has the status.  Reporting goes through hooks the layer above registers (server.c). */
#ifndef RUNM_AGENT_EXIT_H
#define RUNM_AGENT_EXIT_H

#include <stdint.h>

struct evloop;
struct proc;

struct exit_hooks {
	/* answer a waiter (waiters.h); 0 when delivered */
	int (*reply)(void *owner, uint64_t id, const struct proc *p);
	/* the "exit" event to every subscriber; the number that got it */
	int (*broadcast)(const struct proc *p);
	/* an exit status reached the host */
	void (*reported)(void);
};
/* H is kept (not copied); NULL members are skipped. */
void exit_set_hooks(const struct exit_hooks *h);
/* Block SIGCHLD, watch it on a signalfd registered on L, take the streams' done hook.
 * 0, or -1 with errno. */
int exit_init(struct evloop *l);
/* Request ID of OWNER waits for P's exit: answered now when P's exit is complete, else later.
 * 0, or -1 (ENOMEM). */
int exit_wait(struct proc *p, void *owner, uint64_t id);
/* P exited and its output is drained: report it (once). */
void exit_check_complete(struct proc *p);
/* Reap every exited child (the SIGCHLD callback). */
void exit_reap(void);

#endif
