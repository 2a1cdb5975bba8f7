/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the agent's lower layers without a VM or a server: proc.c spawns real children
 * (exec'd next to a fake container init that is this process, so no namespace is joined),
 * exit.c reaps them through its signalfd on the shared event loop, waiters.c answers the
 * waits through the hooks a server would register, streams.c relays a pipe to a socket.
 * server.c and ops.c are not linked: nothing below them calls up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/ctr.h"
#include "agent/exit.h"
#include "agent/oom.h"
#include "agent/proc.h"
#include "agent/streams.h"
#include "agent/waiters.h"
#include "common/evloop.h"
#include "common/io.h"

struct agent_opts g_opts; /* main.c's: host mode, not PID 1 */

#define MAX_REPLIES 8
struct reply {
	void *owner;
	uint64_t id;
	const struct proc *p;
	int wstatus;
};
static struct reply replies[MAX_REPLIES];
static int nreplies, nbroadcasts, nreported;

static int on_reply(void *owner, uint64_t id, const struct proc *p)
{
	if (nreplies < MAX_REPLIES)
		replies[nreplies] = (struct reply){.owner = owner, .id = id, .p = p, .wstatus = p->wstatus};
	nreplies++;
	return 0;
}

static int on_broadcast(const struct proc *p)
{
	nbroadcasts++;
	return 0; /* no subscriber: only waiters make an exit "reported" */
}

static void on_reported(void)
{
	nreported++;
}

static const struct exit_hooks hooks = {
    .reply = on_reply, .broadcast = on_broadcast, .reported = on_reported};

struct fixture {
	struct evloop *loop;
	struct container ctr;
	struct proc init; /* stands for the container's init: this process */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->loop = evloop_new();
	assert_non_null(f->loop);
	streams_init(f->loop);
	oom_init(f->loop, NULL);
	exit_set_hooks(&hooks);
	assert_int_equal(exit_init(f->loop), 0);
	snprintf(f->ctr.id, sizeof(f->ctr.id), "c1");
	f->ctr.first = true;
	f->ctr.init = &f->init;
	snprintf(f->init.id, sizeof(f->init.id), "c1");
	f->init.pid = getpid();
	f->init.state = PROC_RUNNING;
	f->init.is_init = true;
	f->init.ctr = &f->ctr;
	f->init.sync_fd = f->init.oom_fd = -1;
	nreplies = nbroadcasts = nreported = 0;
	memset(replies, 0, sizeof(replies));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	while (g_procs) {
		struct proc *p = g_procs;
		if (p->state != PROC_EXITED) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
		}
		unlink_proc(p);
		proc_free(p);
	}
	evloop_free(f->loop);
	free(f);
	return 0;
}

/* exec SCRIPT under /bin/sh in the fake container; WANT: the streams to make */
static struct proc *run(struct fixture *f, const char *id, const char *script, const struct stdio_req *want)
{
	char json[512], err[512];
	snprintf(json, sizeof(json),
		 "{\"args\":[\"/bin/sh\",\"-c\",\"%s\"],\"cwd\":\"/\",\"env\":[\"PATH=/usr/bin:/bin\"],"
		 "\"user\":{\"uid\":0,\"gid\":0}}",
		 script);
	struct stdio_req none = {0};
	struct proc *p = proc_exec(&f->ctr, id, json, want ? want : &none, err, sizeof(err));
	if (!p)
		fail_msg("exec %s: %s", id, err);
	assert_int_equal(p->state, PROC_RUNNING);
	assert_true(p->pid > 0);
	return p;
}

/* Run the loop until COND or 10 s. */
#define LOOP_UNTIL(f, cond)                                                                                  \
	do {                                                                                                 \
		long long end_ = io_now_ms() + 10000;                                                        \
		while (!(cond) && io_now_ms() < end_)                                                        \
			assert_true(evloop_run_once((f)->loop, 100) >= 0);                                   \
		assert_true(cond);                                                                           \
	} while (0)

static void exit_reported_to_waiter(void **state)
{
	struct fixture *f = *state;
	struct proc *p = run(f, "e1", "exit 3", NULL);
	int owner;
	assert_int_equal(exit_wait(p, &owner, 41), 0);
	assert_int_equal(waiters_count(p), 1);
	LOOP_UNTIL(f, nreplies == 1);
	assert_ptr_equal(replies[0].owner, &owner);
	assert_int_equal(replies[0].id, 41);
	assert_ptr_equal(replies[0].p, p);
	assert_true(WIFEXITED(replies[0].wstatus));
	assert_int_equal(WEXITSTATUS(replies[0].wstatus), 3);
	assert_int_equal(p->state, PROC_EXITED);
	assert_true(p->complete);
	assert_true(p->reported);
	assert_int_equal(nbroadcasts, 1);
	assert_int_equal(nreported, 1);
	assert_int_equal(waiters_count(p), 0);
}

/* stdout through a pipe to a "host connection" (a socketpair); the exit only after EOF */
static void output_relayed_before_exit(void **state)
{
	struct fixture *f = *state;
	struct stdio_req want = {.want = {false, true, false}};
	struct proc *p = run(f, "out", "echo hello; echo world; exit 0", &want);
	assert_non_null(p->streams[PROTO_STDOUT]);
	assert_null(p->streams[PROTO_STDERR]);
	int owner;
	assert_int_equal(exit_wait(p, &owner, 1), 0);
	/* not attached: the output waits in the pipe and the exit is not complete */
	LOOP_UNTIL(f, p->state == PROC_EXITED);
	assert_false(p->complete);
	assert_int_equal(nreplies, 0);
	int sv[2];
	char err[256];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(streams_attach(p, PROTO_STDOUT, sv[0], err, sizeof(err)), 0);
	assert_int_equal(streams_attach(p, PROTO_STDOUT, sv[0], err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already attached"));
	LOOP_UNTIL(f, nreplies == 1);
	assert_true(p->complete);
	char *out = io_read_fd(sv[1], 4096, NULL);
	assert_non_null(out);
	assert_string_equal(out, "hello\nworld\n");
	free(out);
	close(sv[1]);
	assert_int_equal(WEXITSTATUS(replies[0].wstatus), 0);
}

/* stdin → cat → stdout: the host's stdin EOF reaches the process */
static void stdin_relayed(void **state)
{
	struct fixture *f = *state;
	struct stdio_req want = {.want = {true, true, false}};
	struct proc *p = run(f, "cat", "exec cat", &want);
	int in[2], out[2];
	char err[256];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out), 0);
	assert_int_equal(streams_attach(p, PROTO_STDIN, in[0], err, sizeof(err)), 0);
	assert_int_equal(streams_attach(p, PROTO_STDOUT, out[0], err, sizeof(err)), 0);
	assert_int_equal(io_write_str(in[1], "ping\n"), 0);
	close(in[1]);
	int owner;
	assert_int_equal(exit_wait(p, &owner, 2), 0);
	LOOP_UNTIL(f, nreplies == 1);
	char *got = io_read_fd(out[1], 4096, NULL);
	assert_non_null(got);
	assert_string_equal(got, "ping\n");
	free(got);
	close(out[1]);
	assert_true(WIFEXITED(replies[0].wstatus));
}

static void signal_killed_status(void **state)
{
	struct fixture *f = *state;
	struct proc *p = run(f, "k", "exec sleep 100", NULL);
	int owner;
	assert_int_equal(exit_wait(p, &owner, 9), 0);
	assert_int_equal(proc_signal(p, SIGKILL, false), 0);
	LOOP_UNTIL(f, nreplies == 1);
	assert_true(WIFSIGNALED(replies[0].wstatus));
	assert_int_equal(WTERMSIG(replies[0].wstatus), SIGKILL);
	/* an exited process takes no more signals */
	assert_int_equal(proc_signal(p, SIGTERM, false), -1);
}

static void two_waiters_one_process(void **state)
{
	struct fixture *f = *state;
	struct proc *p = run(f, "two", "exit 5", NULL);
	int a, b;
	assert_int_equal(exit_wait(p, &a, 1), 0);
	assert_int_equal(exit_wait(p, &b, 2), 0);
	assert_int_equal(waiters_count(p), 2);
	LOOP_UNTIL(f, nreplies == 2);
	/* newest first, as before the waiters had a module of their own */
	assert_ptr_equal(replies[0].owner, &b);
	assert_int_equal(replies[0].id, 2);
	assert_ptr_equal(replies[1].owner, &a);
	assert_int_equal(replies[1].id, 1);
	assert_int_equal(WEXITSTATUS(replies[0].wstatus), 5);
	assert_int_equal(WEXITSTATUS(replies[1].wstatus), 5);
	assert_int_equal(nreported, 1);
}

static void waiter_after_exit(void **state)
{
	struct fixture *f = *state;
	struct proc *p = run(f, "late", "exit 7", NULL);
	LOOP_UNTIL(f, p->complete);
	assert_int_equal(nbroadcasts, 1);
	assert_int_equal(nreplies, 0);
	assert_false(p->reported); /* nobody got it yet */
	int owner;
	assert_int_equal(exit_wait(p, &owner, 77), 0); /* answered at once */
	assert_int_equal(nreplies, 1);
	assert_int_equal(replies[0].id, 77);
	assert_int_equal(WEXITSTATUS(replies[0].wstatus), 7);
	assert_true(p->reported);
	assert_int_equal(nreported, 1);
	assert_int_equal(waiters_count(p), 0);
}

/* a waiter whose owner went away is dropped unanswered */
static void forgotten_owner(void **state)
{
	struct fixture *f = *state;
	struct proc *p = run(f, "gone", "exit 0", NULL);
	int a, b;
	assert_int_equal(exit_wait(p, &a, 1), 0);
	assert_int_equal(exit_wait(p, &b, 2), 0);
	waiters_forget_owner(&a);
	assert_int_equal(waiters_count(p), 1);
	LOOP_UNTIL(f, p->complete);
	assert_int_equal(nreplies, 1);
	assert_ptr_equal(replies[0].owner, &b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(exit_reported_to_waiter, setup, teardown),
	    cmocka_unit_test_setup_teardown(output_relayed_before_exit, setup, teardown),
	    cmocka_unit_test_setup_teardown(stdin_relayed, setup, teardown),
	    cmocka_unit_test_setup_teardown(signal_killed_status, setup, teardown),
	    cmocka_unit_test_setup_teardown(two_waiters_one_process, setup, teardown),
	    cmocka_unit_test_setup_teardown(waiter_after_exit, setup, teardown),
	    cmocka_unit_test_setup_teardown(forgotten_owner, setup, teardown),
	};
	if (geteuid() != 0) {
		printf(
		    "test_agent_proc: skipped (the children take uid 0 and drop capabilities: needs root)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
