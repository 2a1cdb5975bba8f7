/* SPDX-License-Identifier: Apache-2.0 */
/*
 * epoll event loop. Registrations are looked up by fd in a table; a deleted
 * registration is only marked dead and freed after the current dispatch round,
 * so deleting any fd (including the one whose callback is running) from inside
 * a callback never touches freed memory nor runs a stale callback. The table is
 * guarded by a mutex because transports may add/remove fds from vCPU threads.
 */
#include "common/evloop.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct ev {
	int fd;
	bool dead;
	evloop_fn fn;
	void *opaque;
	struct ev *next_dead;
};

struct evloop {
	int epfd;
	int stopfd;
	int stop;
	bool brk; /* evloop_break(): the loop thread's own flag */
	pthread_mutex_t lock;
	struct ev **tab; /* indexed by fd */
	size_t ntab;
	struct ev *dead; /* unlinked, freed after dispatch */
};

#define EVLOOP_BATCH 64

struct evloop *evloop_new(void)
{
	struct evloop *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->stopfd < 0)
		goto fail;
	struct epoll_event ee = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stopfd, &ee) < 0)
		goto fail;
	pthread_mutex_init(&l->lock, NULL);
	return l;
fail : {
	int err = errno;
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->stopfd >= 0)
		close(l->stopfd);
	free(l);
	errno = err;
	return NULL;
}
}

static void free_dead(struct evloop *l)
{
	while (l->dead) {
		struct ev *e = l->dead;
		l->dead = e->next_dead;
		free(e);
	}
}

void evloop_free(struct evloop *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->ntab; i++)
		free(l->tab[i]);
	free(l->tab);
	free_dead(l);
	close(l->epfd);
	close(l->stopfd);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *opaque)
{
	if (fd < 0 || !fn)
		return -EINVAL;
	int ret = 0;
	pthread_mutex_lock(&l->lock);
	if ((size_t)fd >= l->ntab) {
		size_t n = l->ntab ? l->ntab : 64;
		while (n <= (size_t)fd)
			n *= 2;
		struct ev **t = realloc(l->tab, n * sizeof(struct ev *));
		if (!t) {
			ret = -ENOMEM;
			goto out;
		}
		for (size_t i = l->ntab; i < n; i++)
			t[i] = NULL;
		l->tab = t;
		l->ntab = n;
	}
	if (l->tab[fd]) {
		ret = -EEXIST;
		goto out;
	}
	struct ev *e = calloc(1, sizeof(*e));
	if (!e) {
		ret = -ENOMEM;
		goto out;
	}
	e->fd = fd;
	e->fn = fn;
	e->opaque = opaque;
	struct epoll_event ee = {.events = events, .data.ptr = e};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ee) < 0) {
		ret = -errno;
		free(e);
		goto out;
	}
	l->tab[fd] = e;
out:
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int evloop_mod(struct evloop *l, int fd, uint32_t events)
{
	int ret = 0;
	pthread_mutex_lock(&l->lock);
	struct ev *e = (fd >= 0 && (size_t)fd < l->ntab) ? l->tab[fd] : NULL;
	if (!e) {
		ret = -ENOENT;
	} else {
		struct epoll_event ee = {.events = events, .data.ptr = e};
		if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ee) < 0)
			ret = -errno;
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int evloop_del(struct evloop *l, int fd)
{
	int ret = 0;
	pthread_mutex_lock(&l->lock);
	struct ev *e = (fd >= 0 && (size_t)fd < l->ntab) ? l->tab[fd] : NULL;
	if (!e) {
		ret = -ENOENT;
	} else {
		/* The fd may already be closed; the registration goes anyway. */
		if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != EBADF && errno != ENOENT)
			ret = -errno;
		l->tab[fd] = NULL;
		e->dead = true;
		e->next_dead = l->dead;
		l->dead = e;
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int evloop_run_once(struct evloop *l, int timeout_ms)
{
	struct epoll_event evs[EVLOOP_BATCH];
	int n = epoll_wait(l->epfd, evs, EVLOOP_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	int ran = 0;
	for (int i = 0; i < n && !l->brk; i++) {
		struct ev *e = evs[i].data.ptr;
		if (!e) {
			uint64_t v;
			while (read(l->stopfd, &v, sizeof(v)) == sizeof(v))
				;
			continue;
		}
		pthread_mutex_lock(&l->lock);
		bool dead = e->dead;
		evloop_fn fn = e->fn;
		void *opaque = e->opaque;
		pthread_mutex_unlock(&l->lock);
		if (dead)
			continue;
		fn(opaque, evs[i].events);
		ran++;
	}
	pthread_mutex_lock(&l->lock);
	free_dead(l);
	pthread_mutex_unlock(&l->lock);
	l->brk = false;
	return ran;
}

int evloop_run(struct evloop *l)
{
	int ret = 0;
	while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
		int r = evloop_run_once(l, -1);
		if (r < 0) {
			ret = r;
			break;
		}
	}
	__atomic_store_n(&l->stop, 0, __ATOMIC_RELEASE);
	return ret;
}

void evloop_stop(struct evloop *l)
{
	__atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
	uint64_t one = 1;
	ssize_t r = write(l->stopfd, &one, sizeof(one));
	(void)r; /* EAGAIN: a wake-up is already pending */
}

void evloop_break(struct evloop *l)
{
	__atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
	l->brk = true;
}
