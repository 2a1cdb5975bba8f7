/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for runm-vmm's seccomp filters (vmm/sandbox.c), each in a forked
 * child with a bounded wait: a blocked call is reported by name, and the leak
 * checker (this test is always built with ASan/LSan) can stop the world from
 * a filtered thread instead of spinning forever. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "vmm/sandbox.h"
#include "vmm/vm.h"

#define CHILD_TIMEOUT_MS 20000

struct child {
	int status; /* waitpid status; -1 if it had to be killed */
	char out[4096];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run fn in a child whose stderr is captured; kill it after CHILD_TIMEOUT_MS. */
static void run_child(void (*fn)(void), struct child *c)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		close(p[1]);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(3);
		fn();
		_exit(0);
	}
	close(p[1]);
	size_t len = 0;
	int64_t end = now_ms() + CHILD_TIMEOUT_MS;
	bool eof = false;
	memset(c, 0, sizeof(*c));
	while (!eof && now_ms() < end) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		int n = poll(&pfd, 1, (int)(end - now_ms()));
		if (n <= 0)
			continue;
		ssize_t r = read(p[0], c->out + len, sizeof(c->out) - 1 - len);
		if (r <= 0 || (len += (size_t)r) == sizeof(c->out) - 1)
			eof = true;
	}
	close(p[0]);
	int st = 0;
	pid_t w;
	while ((w = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < end)
		usleep(10000);
	if (w != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		c->status = -1;
		return;
	}
	c->status = st;
}

static void socket_in_vcpu_filter(void)
{
	if (sandbox_seccomp_vcpu() < 0)
		_exit(2);
	syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	_exit(0); /* not reached: the call traps */
}

static void test_blocked_call_is_named(void **state)
{
	(void)state;
	struct child c;
	run_child(socket_in_vcpu_filter, &c);
	assert_int_not_equal(c.status, -1);
	assert_true(WIFEXITED(c.status));
	assert_int_equal(WEXITSTATUS(c.status), 1);
	char want[96];
	snprintf(want, sizeof(want), "runm-vmm: seccomp: blocked system call %d (socket)\n", (int)SYS_socket);
	if (!strstr(c.out, want))
		fail_msg("stderr %s lacks %s", c.out, want);
}

#if defined(__SANITIZE_ADDRESS__)
/* What an ASan runm-vmm vhost-user does at exit: LSan's stop-the-world clone
 * inherits the main thread's loop filter. Before the sanitizer allowlist had
 * the legacy open(2) the clone died of SIGSYS silently and this spun. */
static void leak_check_in_loop_filter(void)
{
	if (sandbox_seccomp_loop() < 0)
		_exit(2);
	__lsan_do_leak_check();
	static const char done[] = "leak check done\n";
	if (write(STDERR_FILENO, done, sizeof(done) - 1) < 0)
		_exit(4);
	_exit(0);
}

static void test_leak_check_in_filtered_thread_finishes(void **state)
{
	(void)state;
	struct child c;
	run_child(leak_check_in_loop_filter, &c);
	if (c.status == -1)
		fail_msg("leak check under the loop filter did not finish in %d ms; stderr: %s",
			 CHILD_TIMEOUT_MS, c.out);
	assert_true(WIFEXITED(c.status));
	if (WEXITSTATUS(c.status) != 0 || !strstr(c.out, "leak check done"))
		fail_msg("exit %d, stderr: %s", WEXITSTATUS(c.status), c.out);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocked_call_is_named),
#if defined(__SANITIZE_ADDRESS__)
		cmocka_unit_test(test_leak_check_in_filtered_thread_finishes),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
