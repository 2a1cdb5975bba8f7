/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/proto: framing, handshake, message parse/encode. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/proto.h"

static void frame_roundtrip(void **state)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	const char *msg = "{\"id\":1,\"op\":\"hello\",\"version\":1}";
	assert_int_equal(proto_write_frame(sv[0], msg, strlen(msg)), 0);
	char *buf;
	size_t len;
	assert_int_equal(proto_read_frame(sv[1], &buf, &len, 1000), 0);
	assert_int_equal(len, strlen(msg));
	assert_string_equal(buf, msg);
	free(buf);
	/* clean EOF between frames */
	close(sv[0]);
	assert_int_equal(proto_read_frame(sv[1], &buf, &len, 1000), -1);
	assert_int_equal(errno, ECONNRESET);
	assert_null(buf);
	close(sv[1]);
}

static void read_frame_times_out_on_blocking_fd(void **state)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0); /* blocking */
	char *buf;
	size_t len;
	assert_int_equal(proto_read_frame(sv[1], &buf, &len, 100), -1);
	assert_int_equal(errno, ETIMEDOUT);
	/* half a frame: still a timeout, not a hang */
	assert_int_equal(write(sv[0], "\0\0\0\x05{}", 6), 6);
	assert_int_equal(proto_read_frame(sv[1], &buf, &len, 100), -1);
	assert_int_equal(errno, ETIMEDOUT);
	/* the fd is blocking again afterwards */
	assert_false(fcntl(sv[1], F_GETFL) & O_NONBLOCK);
	close(sv[0]);
	close(sv[1]);
}

static void rx_byte_by_byte(void **state)
{
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	const char body[] = "{\"ok\":true}";
	uint8_t wire[4 + sizeof(body) - 1] = {0, 0, 0, sizeof(body) - 1};
	memcpy(wire + 4, body, sizeof(body) - 1);
	struct proto_rx rx = {0};
	for (size_t i = 0; i < sizeof(wire); i++) {
		assert_int_equal(proto_rx_read(&rx, p[0]), 0); /* nothing yet */
		assert_int_equal(write(p[1], wire + i, 1), 1);
	}
	assert_int_equal(proto_rx_read(&rx, p[0]), 1);
	size_t len;
	char *b = proto_rx_take(&rx, &len);
	assert_int_equal(len, sizeof(body) - 1);
	assert_memory_equal(b, body, len);
	assert_int_equal(b[len], '\0');
	free(b);
	close(p[0]);
	close(p[1]);
}

static void rx_rejects_bad_lengths(void **state)
{
	const uint8_t cases[][4] = {{0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}, {0, 0x40, 0, 1}};
	for (size_t i = 0; i < 3; i++) {
		int p[2];
		assert_int_equal(pipe2(p, O_NONBLOCK), 0);
		assert_int_equal(write(p[1], cases[i], 4), 4);
		struct proto_rx rx = {0};
		assert_int_equal(proto_rx_read(&rx, p[0]), -1);
		assert_int_equal(errno, EPROTO);
		proto_rx_free(&rx);
		close(p[0]);
		close(p[1]);
	}
	/* truncated: header says 10, 3 bytes then EOF */
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_int_equal(write(p[1], "\0\0\0\x0a{\"a", 7), 7);
	close(p[1]);
	struct proto_rx rx = {0};
	assert_int_equal(proto_rx_read(&rx, p[0]), -1);
	assert_int_equal(errno, EPROTO);
	proto_rx_free(&rx);
	close(p[0]);
	/* writer refuses oversized and empty frames */
	assert_int_equal(proto_write_frame(1, "", 0), -1);
	assert_int_equal(errno, EMSGSIZE);
}

static void handshake(void **state)
{
	assert_int_equal(proto_parse_connect("CONNECT 1024\n", 13), 1024);
	assert_int_equal(proto_parse_connect("CONNECT 4294967295\n", 19), 4294967295L);
	assert_int_equal(proto_parse_connect("CONNECT 4294967296\n", 19), -1);
	assert_int_equal(proto_parse_connect("CONNECT 1024", 12), -1);
	assert_int_equal(proto_parse_connect("CONNECT \n", 9), -1);
	assert_int_equal(proto_parse_connect("CONNECT -1\n", 11), -1);
	assert_int_equal(proto_parse_connect("CONNECT 12a\n", 12), -1);
	assert_int_equal(proto_parse_connect("connect 1\n", 10), -1);
	assert_int_equal(proto_parse_ok("OK 1073741824\n", 14), 0);
	assert_int_equal(proto_parse_ok("OK\n", 3), -1);
	assert_int_equal(proto_parse_ok("NO 1\n", 5), -1);
}

static int parse(const char *s, struct proto_msg *m)
{
	char err[256];
	return proto_msg_parse(s, strlen(s), m, err, sizeof(err));
}

static void messages(void **state)
{
	struct proto_msg m;
	assert_int_equal(parse("{\"id\":7,\"op\":\"start\",\"process\":\"init\"}", &m), 0);
	assert_int_equal(m.kind, PROTO_REQUEST);
	assert_int_equal(m.id, 7);
	assert_string_equal(m.op, "start");
	assert_string_equal(json_get_str(m.root, "process"), "init");
	assert_null(json_get_str(m.root, "nope"));
	long long v;
	assert_int_equal(json_get_int(m.root, "id", 0, 5, &v), -1); /* out of range */
	proto_msg_free(&m);

	assert_int_equal(parse("{\"id\":7,\"ok\":false,\"error\":\"boom\"}", &m), 0);
	assert_int_equal(m.kind, PROTO_RESPONSE);
	assert_false(m.ok);
	assert_string_equal(m.error, "boom");
	proto_msg_free(&m);

	assert_int_equal(parse("{\"event\":\"exit\",\"process\":\"x\",\"exit_code\":3}", &m), 0);
	assert_int_equal(m.kind, PROTO_EVENT);
	assert_string_equal(m.op, "exit");
	proto_msg_free(&m);

	const char *bad[] = {"",
			     "[]",
			     "1",
			     "{",
			     "{\"op\":\"x\"}",
			     "{\"id\":-1,\"op\":\"x\"}",
			     "{\"id\":1.5,\"op\":\"x\"}",
			     "{\"id\":1,\"ok\":false}",
			     "{\"id\":1,\"op\":\"\"}",
			     "{\"id\":\"1\",\"op\":\"x\"}",
			     "{\"id\":1,\"op\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &m), -1);
		assert_null(m.root);
	}
	/* embedded NUL is rejected, not silently truncated */
	char err[128];
	const char nul[] = "{\"id\":1,\"op\":\"x\"}\0garbage";
	assert_int_equal(proto_msg_parse(nul, sizeof(nul) - 1, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NUL"));
	/* nesting limit */
	char deep[300];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	deep[200] = '\0';
	assert_int_equal(parse(deep, &m), -1);
}

static void encode(void **state)
{
	struct json_gen pg;
	const char *json;
	size_t len;
	assert_int_equal(json_gen_begin(&pg), 0);
	json_gen_int(&pg, "id", 3);
	json_gen_str(&pg, "op", "exec");
	json_gen_str(&pg, "spec", "{\"args\":[\"a\\\"b\"]}\n");
	json_gen_bool(&pg, "all", 1);
	assert_int_equal(json_gen_end(&pg, &json, &len), 0);
	char *copy = strndup(json, len);
	struct proto_msg m;
	assert_int_equal(parse(copy, &m), 0);
	assert_int_equal(m.kind, PROTO_REQUEST);
	assert_string_equal(json_get_str(m.root, "spec"), "{\"args\":[\"a\\\"b\"]}\n");
	assert_int_equal(json_get_bool(m.root, "all", 0), 1);
	assert_int_equal(json_get_bool(m.root, "op", 0), -1);
	proto_msg_free(&m);
	free(copy);
	json_gen_free(&pg);
}

static void ps_roundtrip_and_rejects(void **state)
{
	struct proto_ps_entry in[3] = {
	    {.pid = 1, .cmd = "sh -c loop"}, {.pid = 7, .cmd = "sleep 1000"}, {.pid = INT32_MAX}};
	memset(in[2].cmd, 'x', sizeof(in[2].cmd) - 1);
	struct json_gen pg;
	const char *json;
	size_t len;
	assert_int_equal(json_gen_begin(&pg), 0);
	json_gen_int(&pg, "id", 4);
	json_gen_bool(&pg, "ok", 1);
	proto_gen_ps(&pg, in, 3);
	assert_int_equal(json_gen_end(&pg, &json, &len), 0);
	char *copy = strndup(json, len);
	json_gen_free(&pg);
	struct proto_msg m;
	assert_int_equal(parse(copy, &m), 0);
	struct proto_ps_entry *out;
	size_t n;
	char err[256];
	assert_int_equal(proto_parse_ps(m.root, &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(out[0].pid, 1);
	assert_string_equal(out[0].cmd, "sh -c loop");
	assert_int_equal(out[1].pid, 7);
	assert_string_equal(out[1].cmd, "sleep 1000");
	assert_int_equal(out[2].pid, INT32_MAX);
	assert_string_equal(out[2].cmd, in[2].cmd);
	free(out);
	proto_msg_free(&m);
	free(copy);

	/* the optional ps -ef members: round trip, absent → -1 / "" */
	struct proto_ps_entry full = {.pid = 5,
				      .cmd = "sh",
				      .ppid = 1,
				      .uid = 1000,
				      .c = 99,
				      .start = 1700000000,
				      .time = 90061,
				      .tty = "pts/3"};
	struct proto_ps_entry bare = {
	    .pid = 6, .cmd = "old agent", .ppid = -1, .uid = -1, .c = -1, .start = -1, .time = -1};
	struct proto_ps_entry two[2] = {full, bare};
	assert_int_equal(json_gen_begin(&pg), 0);
	json_gen_int(&pg, "id", 5);
	json_gen_bool(&pg, "ok", 1);
	proto_gen_ps(&pg, two, 2);
	assert_int_equal(json_gen_end(&pg, &json, &len), 0);
	copy = strndup(json, len);
	json_gen_free(&pg);
	assert_null(strstr(copy, "\"old agent\",\"ppid\""));
	assert_int_equal(parse(copy, &m), 0);
	assert_int_equal(proto_parse_ps(m.root, &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].ppid, 1);
	assert_int_equal(out[0].uid, 1000);
	assert_int_equal(out[0].c, 99);
	assert_int_equal(out[0].start, 1700000000);
	assert_int_equal(out[0].time, 90061);
	assert_string_equal(out[0].tty, "pts/3");
	assert_int_equal(out[1].ppid, -1);
	assert_int_equal(out[1].uid, -1);
	assert_int_equal(out[1].c, -1);
	assert_int_equal(out[1].start, -1);
	assert_int_equal(out[1].time, -1);
	assert_string_equal(out[1].tty, "");
	free(out);
	proto_msg_free(&m);
	free(copy);

	/* empty list */
	assert_int_equal(parse("{\"id\":1,\"ok\":true,\"processes\":[]}", &m), 0);
	assert_int_equal(proto_parse_ps(m.root, &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_null(out);
	proto_msg_free(&m);

	/* an over-long cmd is truncated, NUL-terminated */
	char longcmd[1200];
	int k =
	    snprintf(longcmd, sizeof(longcmd), "{\"id\":1,\"ok\":true,\"processes\":[{\"pid\":3,\"cmd\":\"");
	memset(longcmd + k, 'y', 1000);
	snprintf(longcmd + k + 1000, sizeof(longcmd) - k - 1000, "\"}]}");
	assert_int_equal(parse(longcmd, &m), 0);
	assert_int_equal(proto_parse_ps(m.root, &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(out[0].cmd), PROTO_PS_CMD_MAX - 1);
	free(out);
	proto_msg_free(&m);

	const char *bad[] = {
	    "{\"id\":1,\"ok\":true}",
	    "{\"id\":1,\"ok\":true,\"processes\":{}}",
	    "{\"id\":1,\"ok\":true,\"processes\":[1,7]}",
	    "{\"id\":1,\"ok\":true,\"processes\":[{\"pid\":0,\"cmd\":\"x\"}]}",
	    "{\"id\":1,\"ok\":true,\"processes\":[{\"pid\":-4,\"cmd\":\"x\"}]}",
	    "{\"id\":1,\"ok\":true,\"processes\":[{\"pid\":2147483648,\"cmd\":\"x\"}]}",
	    "{\"id\":1,\"ok\":true,\"processes\":[{\"pid\":1.5,\"cmd\":\"x\"}]}",
	    "{\"id\":1,\"ok\":true,\"processes\":[{\"pid\":2}]}",
	    "{\"id\":1,\"ok\":true,\"processes\":[{\"pid\":2,\"cmd\":5}]}",
	    "{\"id\":1,\"ok\":true,\"processes\":[{\"pid\":2,\"cmd\":\"a\"},null]}",
	    "{\"id\":1,\"ok\":true,\"processes\":[{\"pid\":2,\"cmd\":\"a\",\"c\":100}]}",
	    "{\"id\":1,\"ok\":true,\"processes\":[{\"pid\":2,\"cmd\":\"a\",\"ppid\":-1}]}",
	    "{\"id\":1,\"ok\":true,\"processes\":[{\"pid\":2,\"cmd\":\"a\",\"uid\":4294967296}]}",
	    "{\"id\":1,\"ok\":true,\"processes\":[{\"pid\":2,\"cmd\":\"a\",\"time\":\"1\"}]}",
	    "{\"id\":1,\"ok\":true,\"processes\":[{\"pid\":2,\"cmd\":\"a\",\"tty\":5}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &m), 0);
		out = (void *)1;
		assert_int_equal(proto_parse_ps(m.root, &out, &n, err, sizeof(err)), -1);
		assert_null(out);
		assert_int_equal(n, 0);
		assert_non_null(strstr(err, "ps: "));
		proto_msg_free(&m);
	}

	/* more than PROTO_PS_MAX entries is refused */
	size_t cap = 64 + (PROTO_PS_MAX + 1) * 2;
	char *many = malloc(cap);
	size_t off = (size_t)snprintf(many, cap, "{\"id\":1,\"ok\":true,\"processes\":[");
	for (unsigned i = 0; i <= PROTO_PS_MAX; i++)
		off += (size_t)snprintf(many + off, cap - off, "%s1", i ? "," : "");
	snprintf(many + off, cap - off, "]}");
	assert_int_equal(parse(many, &m), 0);
	assert_int_equal(proto_parse_ps(m.root, &out, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than"));
	proto_msg_free(&m);
	free(many);
}

static yajl_val tree(const char *s)
{
	char err[256];
	return json_parse(s, strlen(s), err, sizeof(err));
}

static void update_roundtrip_and_rejects(void **state)
{
	struct proto_resources in = {
	    .set = PROTO_RES_MEM_LIMIT | PROTO_RES_MEM_SWAP | PROTO_RES_CPU_QUOTA | PROTO_RES_CPU_PERIOD |
		   PROTO_RES_CPU_SHARES | PROTO_RES_CPU_CPUS | PROTO_RES_CPU_MEMS | PROTO_RES_PIDS_LIMIT,
	    .mem_limit = 64 << 20,
	    .mem_swap = -1,
	    .cpu_quota = 50000,
	    .cpu_period = 100000,
	    .cpu_shares = 512,
	    .cpus = "0-1,3",
	    .mems = "0",
	    .pids_limit = INT64_MAX,
	};
	struct json_gen pg;
	const char *json;
	size_t len;
	assert_int_equal(json_gen_begin(&pg), 0);
	json_gen_int(&pg, "id", 9);
	json_gen_str(&pg, "op", "update");
	proto_gen_resources(&pg, "resources", &in);
	assert_int_equal(json_gen_end(&pg, &json, &len), 0);
	char *copy = strndup(json, len);
	json_gen_free(&pg);
	struct proto_msg m;
	assert_int_equal(parse(copy, &m), 0);
	struct proto_resources out;
	char err[256];
	assert_int_equal(
	    proto_parse_resources(json_get(m.root, "resources", yajl_t_object), &out, err, sizeof(err)), 0);
	assert_int_equal(out.set, in.set);
	assert_int_equal(out.mem_limit, 64 << 20);
	assert_int_equal(out.mem_swap, -1);
	assert_int_equal(out.cpu_quota, 50000);
	assert_int_equal(out.cpu_period, 100000);
	assert_int_equal(out.cpu_shares, 512);
	assert_true(out.pids_limit == INT64_MAX);
	assert_string_equal(out.cpus, "0-1,3");
	assert_string_equal(out.mems, "0");
	proto_msg_free(&m);
	free(copy);

	/* only what is set travels: an empty update, a pids-only update */
	in.set = PROTO_RES_PIDS_LIMIT;
	in.pids_limit = 5;
	assert_int_equal(json_gen_begin(&pg), 0);
	proto_gen_resources(&pg, "resources", &in);
	assert_int_equal(json_gen_end(&pg, &json, &len), 0);
	copy = strndup(json, len);
	assert_string_equal(copy, "{\"resources\":{\"pids\":{\"limit\":5}}}");
	free(copy);
	json_gen_free(&pg);
	assert_int_equal(proto_parse_resources(NULL, &out, err, sizeof(err)), 0);
	assert_int_equal(out.set, 0);

	yajl_val t;
	/* runtime-spec members runm does not apply are ignored, null is "not set" */
	assert_non_null(t = tree("{\"resources\":{\"devices\":[],\"memory\":{\"limit\":null,\"kernel\":1},"
				 "\"pids\":{\"limit\":-1}}}"));
	assert_int_equal(
	    proto_parse_resources(json_get(t, "resources", yajl_t_object), &out, err, sizeof(err)), 0);
	assert_int_equal(out.set, PROTO_RES_PIDS_LIMIT);
	assert_int_equal(out.pids_limit, -1);
	yajl_tree_free(t);

	const char *bad[] = {
	    "{\"r\":{\"memory\":5}}",
	    "{\"r\":{\"memory\":{\"limit\":\"1g\"}}}",
	    "{\"r\":{\"memory\":{\"limit\":-2}}}",
	    "{\"r\":{\"memory\":{\"swap\":1.5}}}",
	    "{\"r\":{\"cpu\":{\"period\":999}}}",
	    "{\"r\":{\"cpu\":{\"period\":1000001}}}",
	    "{\"r\":{\"cpu\":{\"shares\":262145}}}",
	    "{\"r\":{\"cpu\":{\"cpus\":\"\"}}}",
	    "{\"r\":{\"cpu\":{\"cpus\":\"0;reboot\"}}}",
	    "{\"r\":{\"cpu\":{\"mems\":7}}}",
	    "{\"r\":{\"pids\":{\"limit\":true}}}",
	    "{\"r\":{\"pids\":[]}}",
	    "{\"r\":[]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_non_null(t = tree(bad[i]));
		err[0] = '\0';
		assert_int_equal(proto_parse_resources(json_get(t, "r", yajl_t_any), &out, err, sizeof(err)),
				 -1);
		assert_non_null(strstr(err, "resources: "));
		yajl_tree_free(t);
	}
	/* a cpus list at the size limit is refused, one byte less is taken */
	char big[PROTO_CPUSET_MAX + 40];
	for (int over = 0; over <= 1; over++) {
		int k = snprintf(big, sizeof(big), "{\"r\":{\"cpu\":{\"cpus\":\"");
		memset(big + k, '1', PROTO_CPUSET_MAX - 1 + over);
		snprintf(big + k + PROTO_CPUSET_MAX - 1 + over, sizeof(big) - k - PROTO_CPUSET_MAX - over,
			 "\"}}}");
		assert_non_null(t = tree(big));
		assert_int_equal(proto_parse_resources(json_get(t, "r", yajl_t_any), &out, err, sizeof(err)),
				 over ? -1 : 0);
		if (!over)
			assert_int_equal(strlen(out.cpus), PROTO_CPUSET_MAX - 1);
		yajl_tree_free(t);
	}
}

static void exit_codes(void **state)
{
	assert_int_equal(proto_exit_code(3 << 8), 3);
	assert_int_equal(proto_exit_code(SIGTERM), 128 + SIGTERM);
	assert_int_equal(proto_exit_code(SIGKILL), 137);
	assert_int_equal(proto_stream_parse("tty"), PROTO_TTY);
	assert_int_equal(proto_stream_parse("stdio"), -1);
	assert_int_equal(proto_stream_parse(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(frame_roundtrip),
	    cmocka_unit_test(read_frame_times_out_on_blocking_fd),
	    cmocka_unit_test(rx_byte_by_byte),
	    cmocka_unit_test(rx_rejects_bad_lengths),
	    cmocka_unit_test(handshake),
	    cmocka_unit_test(messages),
	    cmocka_unit_test(encode),
	    cmocka_unit_test(ps_roundtrip_and_rejects),
	    cmocka_unit_test(update_roundtrip_and_rejects),
	    cmocka_unit_test(exit_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
