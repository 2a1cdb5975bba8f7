/* SPDX-License-Identifier: Apache-2.0 */
/* common/log: the "prog: msg: why" lines and runc's JSON log lines engines parse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* Capture what log_* write to a pipe-backed sink and to stderr. */
static void capture(int json, void (*fn)(void), char *sink, size_t sinklen, char *err, size_t errlen)
{
	int sp[2], ep[2];
	assert_int_equal(pipe(sp), 0);
	assert_int_equal(pipe(ep), 0);
	int saved = dup(STDERR_FILENO);
	dup2(ep[1], STDERR_FILENO);
	log_set_sink(sp[1], json);
	fn();
	log_set_sink(-1, 0);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(sp[1]);
	close(ep[1]);
	ssize_t n = read(sp[0], sink, sinklen - 1);
	sink[n > 0 ? n : 0] = '\0';
	n = read(ep[0], err, errlen - 1);
	err[n > 0 ? n : 0] = '\0';
	close(sp[0]);
	close(ep[0]);
}

static void emit_errno(void)
{
	log_errno(ENOENT, "create %s: open %s", "foo", "/run/runm/foo/state.json");
}

static void emit_quotes(void)
{
	log_error("bad \"value\"\\ here\nand\ttab");
}

static void test_errno_text(void **state)
{
	char sink[512], err[512];
	log_set_prog("runm");
	capture(0, emit_errno, sink, sizeof(sink), err, sizeof(err));
	assert_string_equal(err,
			    "runm: create foo: open /run/runm/foo/state.json: No such file or directory\n");
	/* runc's (logrus') text line */
	const char *want =
	    "level=error msg=\"create foo: open /run/runm/foo/state.json: No such file or directory\"\n";
	assert_memory_equal(sink, "time=\"", 6);
	assert_int_equal(strlen(sink), strlen("time=\"2026-11-22T03:27:30Z\" ") + strlen(want));
	assert_string_equal(sink + strlen("time=\"2026-11-22T03:27:30Z\" "), want);
}

static void test_text_escapes_stay_one_line(void **state)
{
	char sink[512], err[512];
	capture(0, emit_quotes, sink, sizeof(sink), err, sizeof(err));
	assert_non_null(strstr(sink, " level=error msg=\"bad \\\"value\\\"\\\\ here\\nand\\u0009tab\"\n"));
	assert_ptr_equal(strchr(sink, '\n'), sink + strlen(sink) - 1);
}

static void test_json_line(void **state)
{
	char sink[512], err[512];
	capture(1, emit_errno, sink, sizeof(sink), err, sizeof(err));
	const char *want =
	    "{\"level\":\"error\",\"msg\":\"create foo: open /run/runm/foo/state.json: No such file or "
	    "directory\",\"time\":\"";
	assert_memory_equal(sink, want, strlen(want));
	/* time is RFC 3339 UTC: 2026-11-22T03:27:30Z */
	const char *t = sink + strlen(want);
	assert_int_equal(strlen(t), strlen("2026-11-22T03:27:30Z\"}\n"));
	assert_int_equal(t[4], '-');
	assert_int_equal(t[10], 'T');
	assert_int_equal(t[19], 'Z');
	assert_string_equal(t + 19, "Z\"}\n");
}

static void test_json_escapes(void **state)
{
	char sink[512], err[512];
	capture(1, emit_quotes, sink, sizeof(sink), err, sizeof(err));
	assert_non_null(strstr(sink, "\"msg\":\"bad \\\"value\\\"\\\\ here\\nand\\u0009tab\""));
}

static void emit_debug(void)
{
	log_debug("hidden %d", 1);
	log_set_debug(1);
	log_debug("shown %d", 2);
	log_set_debug(0);
}

/* With a log file (as runc): debug lines there alone, not on stderr. */
static void test_debug_gate(void **state)
{
	char sink[512], err[512];
	capture(0, emit_debug, sink, sizeof(sink), err, sizeof(err));
	assert_null(strstr(sink, "hidden"));
	assert_string_equal(err, "");
	assert_non_null(strstr(sink, " level=debug msg=\"shown 2\"\n"));
}

/* Without one: debug lines and warnings on stderr. */
static void test_debug_to_stderr_without_a_sink(void **state)
{
	int ep[2];
	char err[512];
	assert_int_equal(pipe(ep), 0);
	int saved = dup(STDERR_FILENO);
	dup2(ep[1], STDERR_FILENO);
	emit_debug();
	log_warn("careful");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(ep[1]);
	ssize_t n = read(ep[0], err, sizeof(err) - 1);
	err[n > 0 ? n : 0] = '\0';
	close(ep[0]);
	assert_string_equal(err, "runm: debug: shown 2\nrunm: warning: careful\n");
}

static void emit_long(void)
{
	char big[10000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_error("%s", big);
}

static void test_long_message_truncated(void **state)
{
	char sink[16384], err[16384];
	capture(1, emit_long, sink, sizeof(sink), err, sizeof(err));
	assert_true(strlen(err) < 4200);
	assert_non_null(strstr(sink, "\"}\n"));
	/* a text line cut short still ends with its newline */
	capture(0, emit_long, sink, sizeof(sink), err, sizeof(err));
	assert_int_equal(sink[strlen(sink) - 1], '\n');
	assert_int_equal(err[strlen(err) - 1], '\n');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_errno_text),
	    cmocka_unit_test(test_json_line),
	    cmocka_unit_test(test_json_escapes),
	    cmocka_unit_test(test_debug_gate),
	    cmocka_unit_test(test_long_message_truncated),
	    cmocka_unit_test(test_text_escapes_stay_one_line),
	    cmocka_unit_test(test_debug_to_stderr_without_a_sink),
	};
	return cmocka_run_group_tests_name("common/log", tests, NULL, NULL);
}
