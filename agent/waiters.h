/* SPDX-License-Identifier: Apache-2.0 */
/* Exit waiters (waiters.c): the requests waiting for a process's exit, each an opaque OWNER
 * (a host connection) and the request's ID.  Knows nothing of connections or processes: the
 * process is only a key, the answer a callback of the caller's. */
#ifndef RUNM_AGENT_WAITERS_H
#define RUNM_AGENT_WAITERS_H

#include <stddef.h>
#include <stdint.h>

struct proc;
/* Answer request ID of OWNER with P's exit; 0 when it was delivered. */
typedef int (*waiter_reply_fn)(void *owner, uint64_t id, const struct proc *p);

/* 0, or -1 (ENOMEM). */
int waiters_add(const struct proc *p, void *owner, uint64_t id);
/* Answer (newest first) and drop P's waiters; the number that were delivered. */
int waiters_notify(const struct proc *p, waiter_reply_fn fn);
/* OWNER went away: its waits are dropped unanswered. */
void waiters_forget_owner(const void *owner);
/* P is freed. */
void waiters_forget_proc(const struct proc *p);
size_t waiters_count(const struct proc *p);

#endif
