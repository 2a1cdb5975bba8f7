/* SPDX-License-Identifier: Apache-2.0 */
/* common/io: limits, short reads, non-blocking writes, the line reader, fd passing. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io.h"

static void tmpfile_with(char *path, size_t plen, const char *data, size_t len)
{
	snprintf(path, plen, "/tmp/runm-test-io.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(io_write_all(fd, data, len), 0);
	close(fd);
}

static void test_clock_moves_forward(void **st)
{
	(void)st;
	long long a = io_now_ms();
	usleep(20000);
	long long b = io_now_ms();
	assert_true(b - a >= 19 && b - a < 5000);
	assert_int_equal(io_ms_left(-1), -1);
	assert_int_equal(io_ms_left(a), 0);
	int left = io_ms_left(io_now_ms() + 10000);
	assert_true(left > 9000 && left <= 10000);
}

static void test_read_file_limits(void **st)
{
	(void)st;
	char path[64];
	char big[10000];
	memset(big, 'x', sizeof(big));
	tmpfile_with(path, sizeof(path), big, sizeof(big));
	size_t len = 0;
	char *b = io_read_file(path, sizeof(big), &len); /* exactly the limit fits */
	assert_non_null(b);
	assert_int_equal(len, sizeof(big));
	assert_int_equal(b[len], '\0');
	free(b);
	errno = 0;
	assert_null(io_read_file(path, sizeof(big) - 1, &len));
	assert_int_equal(errno, EFBIG);
	assert_null(io_read_file("/nonexistent/runm", 10, NULL));
	assert_int_equal(errno, ENOENT);
	unlink(path);
	tmpfile_with(path, sizeof(path), "", 0);
	b = io_read_file(path, 0, &len);
	assert_non_null(b);
	assert_int_equal(len, 0);
	free(b);
	unlink(path);
}

static void test_read_fd_pipe_in_pieces(void **st)
{
	(void)st;
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(io_write_str(p[1], "hello "), 0);
	assert_int_equal(io_write_str(p[1], "world"), 0);
	close(p[1]);
	size_t len;
	char *b = io_read_fd(p[0], 100, &len);
	assert_string_equal(b, "hello world");
	assert_int_equal(len, 11);
	free(b);
	close(p[0]);
}

static void test_write_all_nonblocking_times_out(void **st)
{
	(void)st;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	static char chunk[1 << 20];
	int r = io_write_all_timeout(sv[0], chunk, sizeof(chunk), 50); /* nobody reads */
	assert_int_equal(r, -ETIMEDOUT);
	close(sv[1]);
	r = io_write_all_timeout(sv[0], chunk, sizeof(chunk), 50);
	assert_int_equal(r, -EPIPE); /* and no SIGPIPE */
	close(sv[0]);
}

static void test_read_line(void **st)
{
	(void)st;
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(io_write_str(p[1], "first\nsecond\n0123456789\nlast"), 0);
	close(p[1]);
	char *l = io_read_line(p[0], 64);
	assert_string_equal(l, "first");
	free(l);
	l = io_read_line(p[0], 64);
	assert_string_equal(l, "second");
	free(l);
	errno = 0;
	assert_null(io_read_line(p[0], 5));
	assert_int_equal(errno, EMSGSIZE);
	char rest[16] = {0};
	assert_true(read(p[0], rest, sizeof(rest) - 1) > 0); /* the reader stopped in the line */
	l = io_read_line(p[0], 64);
	assert_null(l);
	assert_int_equal(errno, ECONNRESET);
	close(p[0]);
}

static void test_fd_passing(void **st)
{
	(void)st;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	int p[2];
	assert_int_equal(pipe(p), 0);
	int send[2] = {p[0], p[1]};
	assert_int_equal(io_send_fds(sv[0], "ab", 2, send, 2), 0);
	char buf[8];
	int got[4];
	size_t n = 0;
	assert_int_equal(io_recv_fds(sv[1], buf, sizeof(buf), got, 4, &n), 2);
	assert_int_equal(n, 2);
	assert_true(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(io_write_str(got[1], "z"), 0);
	char c = 0;
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'z');
	close(got[0]);
	close(got[1]);
	/* more fds than the receiver takes: all closed, an error, nothing left behind */
	assert_int_equal(io_send_fds(sv[0], "c", 1, send, 2), 0);
	assert_int_equal(io_recv_fds(sv[1], buf, sizeof(buf), got, 1, &n), -EMSGSIZE);
	assert_int_equal(n, 0);
	assert_int_equal(io_send_fds(sv[0], "", 0, send, 1), -EINVAL);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void test_write_file_atomic(void **st)
{
	(void)st;
	char path[64];
	tmpfile_with(path, sizeof(path), "old", 3);
	assert_int_equal(io_write_file_atomic(path, "new!", 4, 0600, true), 0);
	char *b = io_read_file(path, 100, NULL);
	assert_string_equal(b, "new!");
	free(b);
	unlink(path);
	assert_int_equal(io_write_file_atomic("/nonexistent/dir/f", "x", 1, 0600, false), -ENOENT);
}

static void test_find_in_path(void **st)
{
	(void)st;
	char dir[] = "/tmp/runm-path-XXXXXX", exe[64], out[128], path[256];
	assert_non_null(mkdtemp(dir));
	snprintf(exe, sizeof(exe), "%s/prog", dir);
	int fd = open(exe, O_WRONLY | O_CREAT, 0755);
	assert_true(fd >= 0);
	close(fd);
	const char *old = getenv("PATH");
	char *saved = old ? strdup(old) : NULL;
	snprintf(path, sizeof(path), "/nonexistent::%s", dir); /* empty entries are skipped */
	setenv("PATH", path, 1);
	assert_true(io_find_in_path("prog", out, sizeof(out)));
	assert_string_equal(out, exe);
	assert_false(io_find_in_path("no-such-prog", out, sizeof(out)));
	assert_false(io_find_in_path("prog", out, 8));	     /* does not fit */
	assert_true(io_find_in_path(exe, out, sizeof(out))); /* with a '/': as it is */
	chmod(exe, 0644);
	assert_false(io_find_in_path("prog", out, sizeof(out))); /* not executable */
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
	unlink(exe);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clock_moves_forward),
	    cmocka_unit_test(test_read_file_limits),
	    cmocka_unit_test(test_read_fd_pipe_in_pieces),
	    cmocka_unit_test(test_write_all_nonblocking_times_out),
	    cmocka_unit_test(test_read_line),
	    cmocka_unit_test(test_fd_passing),
	    cmocka_unit_test(test_write_file_atomic),
	    cmocka_unit_test(test_find_in_path),
	};
	return cmocka_run_group_tests_name("common/io", tests, NULL, NULL);
}
