/* SPDX-License-Identifier: Apache-2.0 */
/* runtime/ctl_proto: the CLI ↔ shim protocol. Round trips of every op and reply, the version
 * check, missing / unknown / wrong-typed fields, oversize lines and nested payloads; and its
 * transport (runtime/ctl.c) with fds over a real socket. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/ctl.h"
#include "runtime/ctl_proto.h"
#include "json.h"

static char err[512];

/* REQ encoded and decoded again into *OUT (ctl_req_free after). */
static void round_trip(const struct ctl_req *req, struct ctl_req *out)
{
	char *line;
	size_t len;
	assert_int_equal(ctl_req_encode(req, &line, &len, err, sizeof(err)), 0);
	assert_int_equal(strlen(line), len);
	assert_non_null(strstr(line, "\"v\":1"));
	int r = ctl_req_decode(line, len, out, err, sizeof(err));
	if (r)
		fail_msg("%s: %s", line, err);
	assert_int_equal(out->op, req->op);
	free(line);
}

static void test_round_trip_simple_ops(void **st)
{
	(void)st;
	enum ctl_op ops[] = {CTL_OP_START, CTL_OP_PAUSE, CTL_OP_RESUME, CTL_OP_OOM, CTL_OP_PS, CTL_OP_STATS};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct ctl_req q = {.op = ops[i]}, d;
		round_trip(&q, &d);
		ctl_req_free(&d);
	}
}

static void test_round_trip_kill_resize(void **st)
{
	(void)st;
	struct ctl_req q = {.op = CTL_OP_KILL, .kill = {.signal = 9, .all = true}}, d;
	round_trip(&q, &d);
	assert_int_equal(d.kill.signal, 9);
	assert_true(d.kill.all);
	assert_null(d.kill.process);
	ctl_req_free(&d);
	q = (struct ctl_req){.op = CTL_OP_KILL, .kill = {.signal = 0, .process = "exec-1-a"}};
	round_trip(&q, &d);
	assert_int_equal(d.kill.signal, 0);
	assert_false(d.kill.all);
	assert_string_equal(d.kill.process, "exec-1-a");
	ctl_req_free(&d);
	q = (struct ctl_req){.op = CTL_OP_RESIZE, .resize = {.rows = 24, .cols = 80, .process = "p"}};
	round_trip(&q, &d);
	assert_int_equal(d.resize.rows, 24);
	assert_int_equal(d.resize.cols, 80);
	assert_string_equal(d.resize.process, "p");
	ctl_req_free(&d);
	/* out of range: refused by the encoder */
	char *line;
	size_t len;
	q = (struct ctl_req){.op = CTL_OP_KILL, .kill = {.signal = 65}};
	assert_int_equal(ctl_req_encode(&q, &line, &len, err, sizeof(err)), -1);
	assert_null(line);
	q = (struct ctl_req){.op = CTL_OP_RESIZE, .resize = {.rows = 0, .cols = 80}};
	assert_int_equal(ctl_req_encode(&q, &line, &len, err, sizeof(err)), -1);
	q = (struct ctl_req){.op = CTL_OP_COUNT};
	assert_int_equal(ctl_req_encode(&q, &line, &len, err, sizeof(err)), -1);
}

static void test_round_trip_nested(void **st)
{
	(void)st;
	const char *proc =
	    "{\"args\":[\"sh\",\"-c\",\"echo \\\"}\\\"\"],\n \"terminal\":false,\"user\":{\"uid\":0}}";
	struct ctl_req q = {.op = CTL_OP_EXEC,
			    .exec = {.id = "exec-9", .tty = true, .want_stdin = true, .process = proc}},
		       d;
	round_trip(&q, &d);
	assert_string_equal(d.exec.id, "exec-9");
	assert_true(d.exec.tty);
	assert_true(d.exec.want_stdin);
	assert_string_equal(
	    d.exec.process,
	    "{\"args\":[\"sh\",\"-c\",\"echo \\\"}\\\"\"],\"terminal\":false,\"user\":{\"uid\":0}}");
	ctl_req_free(&d);
	/* the process is a value, not the text's tail: a field after it is still read */
	const char *late =
	    "{\"v\":1,\"op\":\"exec\",\"process\":{\"args\":[\"true\"]},\"id\":\"e\",\"tty\":false}";
	assert_int_equal(ctl_req_decode(late, strlen(late), &d, err, sizeof(err)), 0);
	assert_string_equal(d.exec.id, "e");
	assert_false(d.exec.want_stdin);
	ctl_req_free(&d);
	q = (struct ctl_req){.op = CTL_OP_UPDATE,
			     .update = {.resources = "{\"memory\":{\"limit\":1048576}}"}};
	round_trip(&q, &d);
	assert_string_equal(d.update.resources, "{\"memory\":{\"limit\":1048576}}");
	ctl_req_free(&d);
	/* nested payloads must be objects */
	char *line;
	size_t len;
	q = (struct ctl_req){.op = CTL_OP_UPDATE, .update = {.resources = "[1]"}};
	assert_int_equal(ctl_req_encode(&q, &line, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a JSON object"));
	q = (struct ctl_req){.op = CTL_OP_EXEC, .exec = {.id = "e", .process = "{\"a\":"}};
	assert_int_equal(ctl_req_encode(&q, &line, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid JSON"));
	q = (struct ctl_req){.op = CTL_OP_EXEC, .exec = {.id = "", .process = "{}"}};
	assert_int_equal(ctl_req_encode(&q, &line, &len, err, sizeof(err)), -1);
}

static void test_version(void **st)
{
	(void)st;
	struct ctl_req d;
	struct ctl_reply r;
	const char *v2 = "{\"v\":2,\"op\":\"start\"}";
	assert_int_equal(ctl_req_decode(v2, strlen(v2), &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "control protocol v2, this side speaks v1"));
	const char *none = "{\"op\":\"start\"}";
	assert_int_equal(ctl_req_decode(none, strlen(none), &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "without a protocol version"));
	const char *str = "{\"v\":\"1\",\"op\":\"start\"}";
	assert_int_equal(ctl_req_decode(str, strlen(str), &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an integer"));
	/* an old shim's reply */
	const char *old = "{\"ok\":true}";
	assert_int_equal(ctl_reply_decode(old, strlen(old), &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "reply without a protocol version"));
	assert_null(r.tree_);
}

static void expect_bad(const char *line, const char *needle)
{
	struct ctl_req d;
	if (ctl_req_decode(line, strlen(line), &d, err, sizeof(err)) == 0)
		fail_msg("accepted: %s", line);
	if (!strstr(err, needle))
		fail_msg("%s: error \"%s\" lacks \"%s\"", line, err, needle);
	assert_null(d.tree_);
	assert_null(d.nested_);
}

static void test_bad_requests(void **st)
{
	(void)st;
	expect_bad("{\"v\":1}", "field \"op\" is missing");
	expect_bad("{\"v\":1,\"op\":7}", "field \"op\" is wrong");
	expect_bad("{\"v\":1,\"op\":\"reboot\"}", "unknown request \"reboot\"");
	expect_bad("{\"v\":1,\"op\":\"start\",\"signal\":9}", "start request: unknown field \"signal\"");
	expect_bad("{\"v\":1,\"op\":\"kill\"}", "field \"signal\" is missing");
	expect_bad("{\"v\":1,\"op\":\"kill\",\"signal\":\"9\"}", "field \"signal\" is wrong");
	expect_bad("{\"v\":1,\"op\":\"kill\",\"signal\":65}", "in 0..64");
	expect_bad("{\"v\":1,\"op\":\"kill\",\"signal\":-1}", "in 0..64");
	expect_bad("{\"v\":1,\"op\":\"kill\",\"signal\":1.5}", "field \"signal\" is wrong");
	expect_bad("{\"v\":1,\"op\":\"kill\",\"signal\":9,\"all\":1}", "want true or false");
	expect_bad("{\"v\":1,\"op\":\"kill\",\"signal\":9,\"process\":5}", "field \"process\" is wrong");
	expect_bad("{\"v\":1,\"op\":\"kill\",\"signal\":9,\"process\":\"\"}", "field \"process\" is wrong");
	expect_bad("{\"v\":1,\"op\":\"kill\",\"signal\":9,\"signal\":1}", "given twice");
	expect_bad("{\"v\":1,\"op\":\"resize\",\"rows\":24}", "field \"cols\" is missing");
	expect_bad("{\"v\":1,\"op\":\"resize\",\"rows\":0,\"cols\":1}", "in 1..65535");
	expect_bad("{\"v\":1,\"op\":\"resize\",\"rows\":1,\"cols\":65536}", "in 1..65535");
	expect_bad("{\"v\":1,\"op\":\"update\"}", "field \"resources\" is missing");
	expect_bad("{\"v\":1,\"op\":\"update\",\"resources\":\"{}\"}", "field \"resources\" is wrong");
	expect_bad("{\"v\":1,\"op\":\"exec\",\"id\":\"e\"}", "field \"process\" is missing");
	expect_bad("{\"v\":1,\"op\":\"exec\",\"process\":{}}", "field \"id\" is missing");
	expect_bad("{\"v\":1,\"op\":\"exec\",\"id\":\"e\",\"tty\":\"yes\",\"process\":{}}",
		   "want true or false");
	expect_bad("{\"v\":1,\"op\":\"exec\",\"id\":\"e\",\"process\":[]}", "field \"process\" is wrong");
	expect_bad("{\"v\":1,\"op\":\"exec\",\"id\":\"e\",\"process\":{},\"cwd\":\"/\"}",
		   "unknown field \"cwd\"");
	expect_bad("[1]", "not a JSON object");
	expect_bad("{\"v\":1,", "invalid JSON");
	expect_bad("", "invalid JSON");
	char id[100];
	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	char line[256];
	snprintf(line, sizeof(line), "{\"v\":1,\"op\":\"exec\",\"id\":\"%s\",\"process\":{}}", id);
	expect_bad(line, "1..71 bytes");
	/* too many fields */
	char many[1024] = "{\"v\":1,\"op\":\"start\"";
	for (int i = 0; i < 20; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), ",\"f%d\":%d", i, i);
	strcat(many, "}");
	expect_bad(many, "at most 16");
	/* NUL inside the line */
	struct ctl_req d;
	const char nul[] = "{\"v\":1,\"op\":\"start\"}\0x";
	assert_int_equal(ctl_req_decode(nul, sizeof(nul) - 1, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NUL byte"));
	/* nesting below the limit of common/json */
	char deep[300] = "{\"v\":1,\"op\":\"update\",\"resources\":";
	for (int i = 0; i < 70; i++)
		strcat(deep, "[");
	expect_bad(deep, "nesting deeper than 64");
}

static void test_oversize(void **st)
{
	(void)st;
	size_t n = CTL_MAX_MSG;
	char *proc = malloc(n + 64);
	assert_non_null(proc);
	int k = snprintf(proc, n + 64, "{\"args\":[\"");
	memset(proc + k, 'x', n - (size_t)k - 3);
	strcpy(proc + n - 3, "\"]}"); /* a line of CTL_MAX_MSG bytes */
	struct ctl_req q = {.op = CTL_OP_EXEC, .exec = {.id = "e", .process = proc}};
	char *line;
	size_t len;
	errno = 0;
	assert_int_equal(ctl_req_encode(&q, &line, &len, err, sizeof(err)), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_non_null(strstr(err, "over the shim's limit of 1048574 bytes (1 MiB)"));
	/* the decoder refuses a line over the limit without parsing it */
	struct ctl_req d;
	assert_int_equal(ctl_req_decode(proc, strlen(proc), &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than the protocol's 1 MiB"));
	free(proc);
}

static void reply_trip(const struct ctl_reply *rep, struct ctl_reply *out)
{
	char *line;
	size_t len;
	assert_int_equal(ctl_reply_encode(rep, &line, &len, err, sizeof(err)), 0);
	int r = ctl_reply_decode(line, len, out, err, sizeof(err));
	if (r)
		fail_msg("%s: %s", line, err);
	free(line);
}

static void test_replies(void **st)
{
	(void)st;
	struct ctl_reply r = {0}, d;
	reply_trip(&r, &d);
	assert_null(d.error);
	assert_false(d.started || d.has_exit || d.has_oom);
	assert_null(d.data_val);
	ctl_reply_free(&d);
	r = (struct ctl_reply){.error = "cannot start an already running container"};
	reply_trip(&r, &d);
	assert_string_equal(d.error, "cannot start an already running container");
	ctl_reply_free(&d);
	r = (struct ctl_reply){.started = true};
	reply_trip(&r, &d);
	assert_true(d.started);
	ctl_reply_free(&d);
	r = (struct ctl_reply){.has_exit = true, .exit = 137};
	reply_trip(&r, &d);
	assert_true(d.has_exit);
	assert_int_equal(d.exit, 137);
	ctl_reply_free(&d);
	r = (struct ctl_reply){.has_oom = true, .oom_kills = 3};
	reply_trip(&r, &d);
	assert_true(d.has_oom);
	assert_int_equal(d.oom_kills, 3);
	ctl_reply_free(&d);
	r = (struct ctl_reply){.data = "{\"processes\":[{\"pid\":1}]}"};
	reply_trip(&r, &d);
	assert_non_null(d.data_val);
	assert_non_null(json_get(d.data_val, "processes", yajl_t_array));
	ctl_reply_free(&d);
	char *line;
	size_t len;
	r = (struct ctl_reply){.data = "not json"};
	assert_int_equal(ctl_reply_encode(&r, &line, &len, err, sizeof(err)), -1);
}

static void expect_bad_reply(const char *line, const char *needle)
{
	struct ctl_reply d;
	if (ctl_reply_decode(line, strlen(line), &d, err, sizeof(err)) == 0)
		fail_msg("accepted: %s", line);
	if (!strstr(err, needle))
		fail_msg("%s: error \"%s\" lacks \"%s\"", line, err, needle);
	assert_null(d.tree_);
}

static void test_bad_replies(void **st)
{
	(void)st;
	expect_bad_reply("{\"v\":1}", "neither");
	expect_bad_reply("{\"v\":1,\"ok\":false}", "neither");
	expect_bad_reply("{\"v\":1,\"error\":7}", "field \"error\" is wrong");
	expect_bad_reply("{\"v\":1,\"error\":\"x\",\"ok\":true}", "unknown field \"ok\"");
	expect_bad_reply("{\"v\":1,\"ok\":true,\"exit\":\"0\"}", "field \"exit\" is wrong");
	expect_bad_reply("{\"v\":1,\"ok\":true,\"exit\":70000}", "field \"exit\" is wrong");
	expect_bad_reply("{\"v\":1,\"ok\":true,\"oom_kills\":-1}", "field \"oom_kills\" is wrong");
	expect_bad_reply("{\"v\":1,\"ok\":true,\"data\":[]}", "field \"data\" is wrong");
	expect_bad_reply("{\"v\":1,\"ok\":true,\"processes\":[]}", "unknown field \"processes\"");
	expect_bad_reply("{\"v\":3,\"ok\":true}", "control protocol v3");
}

/* The transport (ctl.c): a shim in a child answers one exec request carrying 3 fds with
 * "started" and then the exit status; a second connection gets a version error. */
static void serve_one(int ls, bool exec)
{
	struct pollfd pf = {.fd = ls, .events = POLLIN};
	if (poll(&pf, 1, 5000) != 1)
		_exit(10);
	int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	int fds[CTL_MAX_FDS], nfds = 0;
	char *line = ctl_read_request(c, fds, CTL_MAX_FDS, &nfds);
	struct ctl_req q;
	char e[256];
	if (!line)
		_exit(11);
	if (ctl_req_decode(line, strlen(line), &q, e, sizeof(e)) < 0) {
		struct ctl_reply bad = {.error = e};
		ctl_send_reply(c, &bad);
		if (exec)
			_exit(12);
		close(c);
		return;
	}
	if (q.op != CTL_OP_EXEC || nfds != 3 || strcmp(q.exec.id, "e1") ||
	    !strstr(q.exec.process, "\"args\""))
		_exit(13);
	if (write(fds[1], "out", 3) != 3)
		_exit(14);
	struct ctl_reply started = {.started = true}, ended = {.has_exit = true, .exit = 7};
	ctl_send_reply(c, &started);
	ctl_send_reply(c, &ended);
	ctl_req_free(&q);
	free(line);
	close(c);
}

static void test_transport(void **st)
{
	(void)st;
	char dir[] = "/tmp/runm-ctl-test-XXXXXX";
	alarm(60); /* a wedged exchange fails the test instead of hanging it */
	assert_non_null(mkdtemp(dir));
	int ls = ctl_listen(dir);
	assert_true(ls >= 0);
	pid_t pid = fork();
	if (pid == 0) {
		serve_one(ls, true);
		serve_one(ls, false);
		_exit(0);
	}
	int p[2];
	assert_int_equal(pipe(p), 0);
	int fds[3] = {p[0], p[1], p[1]}, conn = -1;
	struct ctl_req q = {.op = CTL_OP_EXEC, .exec = {.id = "e1", .process = "{\"args\":[\"true\"]}"}};
	struct ctl_reply rep;
	assert_int_equal(ctl_call(dir, &q, fds, 3, 5000, &rep, &conn, err, sizeof(err)), 0);
	assert_true(rep.started);
	ctl_reply_free(&rep);
	char buf[4] = "";
	assert_int_equal(read(p[0], buf, 3), 3);
	assert_string_equal(buf, "out");
	assert_int_equal(ctl_read_reply(conn, &rep, err, sizeof(err)), 0);
	assert_true(rep.has_exit);
	assert_int_equal(rep.exit, 7);
	ctl_reply_free(&rep);
	close(conn);
	/* a peer speaking another version: its line is refused by the shim side's decoder */
	int s = ctl_connect(dir);
	assert_true(s >= 0);
	const char v9[] = "{\"v\":9,\"op\":\"start\"}\n";
	assert_int_equal(write(s, v9, sizeof(v9) - 1), (ssize_t)sizeof(v9) - 1);
	assert_int_equal(ctl_read_reply(s, &rep, err, sizeof(err)), 0);
	assert_non_null(strstr(rep.error, "control protocol v9, this side speaks v1"));
	ctl_reply_free(&rep);
	close(s);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* no shim: the connect's error */
	close(ls);
	char sock[64];
	snprintf(sock, sizeof(sock), "%s/%s", dir, CTL_SOCK);
	unlink(sock);
	assert_int_equal(
	    ctl_call(dir, &(struct ctl_req){.op = CTL_OP_PS}, NULL, 0, 1000, &rep, NULL, err, sizeof(err)),
	    -ENOENT);
	close(p[0]);
	close(p[1]);
	rmdir(dir);
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_simple_ops),
	    cmocka_unit_test(test_round_trip_kill_resize),
	    cmocka_unit_test(test_round_trip_nested),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_oversize),
	    cmocka_unit_test(test_replies),
	    cmocka_unit_test(test_bad_replies),
	    cmocka_unit_test(test_transport),
	};
	return cmocka_run_group_tests_name("runtime/ctl_proto", tests, NULL, NULL);
}
