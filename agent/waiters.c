/* SPDX-License-Identifier: Apache-2.0 */
/* Exit waiters: one list of (process, owner, request id), newest first. */
#include "waiters.h"

#include <stdlib.h>

struct waiter {
	const struct proc *p;
	void *owner;
	uint64_t id;
	struct waiter *next;
};
static struct waiter *waiters;

int waiters_add(const struct proc *p, void *owner, uint64_t id)
{
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return -1;
	w->p = p;
	w->owner = owner;
	w->id = id;
	w->next = waiters;
	waiters = w;
	return 0;
}

/* Unlink and return the first waiter matching P (or OWNER). */
static struct waiter *take(const struct proc *p, const void *owner)
{
	for (struct waiter **wp = &waiters; *wp; wp = &(*wp)->next)
		if ((p && (*wp)->p == p) || (owner && (*wp)->owner == owner)) {
			struct waiter *w = *wp;
			*wp = w->next;
			return w;
		}
	return NULL;
}

int waiters_notify(const struct proc *p, waiter_reply_fn fn)
{
	int sent = 0;
	struct waiter *w;
	while ((w = take(p, NULL))) {
		if (fn && fn(w->owner, w->id, p) == 0)
			sent++;
		free(w);
	}
	return sent;
}

void waiters_forget_owner(const void *owner)
{
	struct waiter *w;
	while ((w = take(NULL, owner)))
		free(w);
}

void waiters_forget_proc(const struct proc *p)
{
	struct waiter *w;
	while ((w = take(p, NULL)))
		free(w);
}

size_t waiters_count(const struct proc *p)
{
	size_t n = 0;
	for (struct waiter *w = waiters; w; w = w->next)
		n += w->p == p;
	return n;
}
