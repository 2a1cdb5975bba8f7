/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small single-threaded event loop (epoll) shared by the device library, runm-vmm and the
 * guest agent. Every callback runs on the thread that calls evloop_run().
 */
#ifndef RUNM_EVLOOP_H
#define RUNM_EVLOOP_H

#include <stdint.h>
#include <sys/epoll.h>

struct evloop;

/* events: EPOLLIN / EPOLLOUT / ...; the callback receives the ready set. */
typedef void (*evloop_fn)(void *opaque, uint32_t events);

struct evloop *evloop_new(void);
void evloop_free(struct evloop *l);

/* Watch fd. One registration per fd; -errno on failure. */
int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_fn fn, void *opaque);
int evloop_mod(struct evloop *l, int fd, uint32_t events);
/* Stop watching fd (safe from inside a callback, also for fd's own callback). */
int evloop_del(struct evloop *l, int fd);

/* Run until evloop_stop(); returns 0, or -errno if waiting failed. */
int evloop_run(struct evloop *l);
/* Run callbacks ready within timeout_ms (-1 = wait); returns count or -errno. */
int evloop_run_once(struct evloop *l, int timeout_ms);
/* Ask evloop_run() to return; callable from any thread (uses an eventfd). */
void evloop_stop(struct evloop *l);
/* From inside a callback: dispatch nothing more of this round (the rest of its events are
 * dropped; edge-triggered ones are not reported again) and make evloop_run() return. */
void evloop_break(struct evloop *l);

#endif
