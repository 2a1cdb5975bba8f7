/* SPDX-License-Identifier: Apache-2.0 */
/* Event loop: dispatch, mod, deletion from inside callbacks, cross-thread stop. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/evloop.h"

struct ctx {
	struct evloop *l;
	int fds[2][2];
	int hits[2];
	int del_other;
	int del_self;
};

static void cb(struct ctx *c, int which)
{
	c->hits[which]++;
	char b[16];
	ssize_t r = read(c->fds[which][0], b, sizeof(b));
	(void)r;
	if (c->del_other)
		evloop_del(c->l, c->fds[!which][0]);
	if (c->del_self)
		evloop_del(c->l, c->fds[which][0]);
}
static void cb0(void *o, uint32_t ev)
{
	cb(o, 0);
}
static void cb1(void *o, uint32_t ev)
{
	cb(o, 1);
}
static int readd_hits;
static void cb_readd(void *o, uint32_t ev)
{
	struct ctx *c = o;
	char b[16];
	ssize_t r = read(c->fds[0][0], b, sizeof(b));
	(void)r;
	readd_hits++;
}

static void setup_ctx(struct ctx *c)
{
	*c = (struct ctx){0};
	c->l = evloop_new();
	assert_non_null(c->l);
	assert_int_equal(pipe(c->fds[0]), 0);
	assert_int_equal(pipe(c->fds[1]), 0);
	assert_int_equal(evloop_add(c->l, c->fds[0][0], EPOLLIN, cb0, c), 0);
	assert_int_equal(evloop_add(c->l, c->fds[1][0], EPOLLIN, cb1, c), 0);
}
static void teardown_ctx(struct ctx *c)
{
	evloop_free(c->l);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			close(c->fds[i][j]);
}

static void test_dispatch(void **state)
{
	struct ctx c;
	setup_ctx(&c);
	assert_int_equal(evloop_run_once(c.l, 0), 0);
	assert_int_equal(write(c.fds[1][1], "x", 1), 1);
	assert_int_equal(evloop_run_once(c.l, 1000), 1);
	assert_int_equal(c.hits[1], 1);
	assert_int_equal(c.hits[0], 0);
	assert_int_equal(evloop_add(c.l, c.fds[0][0], EPOLLIN, cb0, &c), -EEXIST);
	assert_int_equal(evloop_add(c.l, -1, EPOLLIN, cb0, &c), -EINVAL);
	assert_int_equal(evloop_mod(c.l, 999, EPOLLIN), -ENOENT);
	assert_int_equal(evloop_del(c.l, 999), -ENOENT);
	/* mod to no events: a ready fd is not dispatched */
	assert_int_equal(evloop_mod(c.l, c.fds[0][0], 0), 0);
	assert_int_equal(write(c.fds[0][1], "x", 1), 1);
	assert_int_equal(evloop_run_once(c.l, 0), 0);
	assert_int_equal(evloop_mod(c.l, c.fds[0][0], EPOLLIN), 0);
	assert_int_equal(evloop_run_once(c.l, 0), 1);
	assert_int_equal(c.hits[0], 1);
	teardown_ctx(&c);
}

static void test_del_other_inside_callback(void **state)
{
	struct ctx c;
	setup_ctx(&c);
	c.del_other = 1;
	/* both ready in the same round: whichever runs first removes the other */
	assert_int_equal(write(c.fds[0][1], "x", 1), 1);
	assert_int_equal(write(c.fds[1][1], "x", 1), 1);
	assert_int_equal(evloop_run_once(c.l, 1000), 1);
	assert_int_equal(c.hits[0] + c.hits[1], 1);
	teardown_ctx(&c);
}

static void test_del_self_and_readd(void **state)
{
	struct ctx c;
	setup_ctx(&c);
	c.del_self = 1;
	assert_int_equal(write(c.fds[0][1], "xx", 2), 2);
	assert_int_equal(evloop_run_once(c.l, 1000), 1);
	c.del_self = 0;
	/* the fd is free for a new registration */
	assert_int_equal(evloop_add(c.l, c.fds[0][0], EPOLLIN, cb_readd, &c), 0);
	assert_int_equal(write(c.fds[0][1], "x", 1), 1);
	assert_int_equal(evloop_run_once(c.l, 1000), 1);
	assert_int_equal(c.hits[0], 1);
	assert_int_equal(readd_hits, 1);
	teardown_ctx(&c);
}

static int break_hits;
static void cb_break(void *opaque, uint32_t ev)
{
	break_hits++;
	evloop_break(opaque);
}

/* evloop_break from a callback: nothing more of the round runs, evloop_run returns */
static void test_break(void **state)
{
	struct ctx c;
	setup_ctx(&c);
	evloop_del(c.l, c.fds[0][0]);
	evloop_del(c.l, c.fds[1][0]);
	assert_int_equal(evloop_add(c.l, c.fds[0][0], EPOLLIN, cb_break, c.l), 0);
	assert_int_equal(evloop_add(c.l, c.fds[1][0], EPOLLIN, cb_break, c.l), 0);
	assert_int_equal(write(c.fds[0][1], "x", 1), 1);
	assert_int_equal(write(c.fds[1][1], "x", 1), 1);
	break_hits = 0;
	assert_int_equal(evloop_run_once(c.l, 1000), 1);
	assert_int_equal(break_hits, 1);
	/* the flag is per round: the next one dispatches again (both fds are still readable) */
	assert_int_equal(evloop_run_once(c.l, 1000), 1);
	assert_int_equal(break_hits, 2);
	/* evloop_run: the stop flag left by the breaks returns at once; then a break ends it */
	assert_int_equal(evloop_run(c.l), 0);
	assert_int_equal(evloop_run(c.l), 0);
	assert_int_equal(break_hits, 3);
	teardown_ctx(&c);
}

static void *stopper(void *arg)
{
	usleep(20000);
	evloop_stop(arg);
	return NULL;
}

static void test_stop_from_thread(void **state)
{
	struct ctx c;
	setup_ctx(&c);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, stopper, c.l), 0);
	assert_int_equal(evloop_run(c.l), 0);
	pthread_join(t, NULL);
	/* stop before run: run returns at once; then the loop is reusable */
	evloop_stop(c.l);
	assert_int_equal(evloop_run(c.l), 0);
	assert_int_equal(write(c.fds[0][1], "x", 1), 1);
	assert_int_equal(evloop_run_once(c.l, 1000), 1);
	teardown_ctx(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dispatch),
	    cmocka_unit_test(test_del_other_inside_callback),
	    cmocka_unit_test(test_del_self_and_readd),
	    cmocka_unit_test(test_stop_from_thread),
	    cmocka_unit_test(test_break),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
