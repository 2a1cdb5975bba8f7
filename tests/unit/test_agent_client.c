/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the host library (runtime/agentclient): dial + handshake with retry, typed calls
 * against a scripted fake agent, relay. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/agentclient/agentclient.h"
#include "proto/proto_net.h"

static char sock_path[108];

static void msleep(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int listen_at(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0)
		return -1;
	return fd;
}

/* Fake VMM/agent: behaviour chosen per test. */
struct fake {
	int delay_ms;		  /* before listening */
	const char *reply;	  /* handshake reply, NULL: close without answering */
	int accepts;		  /* connections to serve */
	const char *responses[4]; /* frames sent after reading one request each */
	char got[4][512];	  /* requests received */
	volatile int stop;
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	msleep(f->delay_ms);
	int l = listen_at(sock_path);
	for (int i = 0; i < f->accepts && !f->stop;) {
		struct pollfd pl = {.fd = l, .events = POLLIN};
		if (poll(&pl, 1, 20) != 1)
			continue;
		i++;
		int c = accept(l, NULL, NULL);
		char line[64];
		size_t n = 0;
		while (n < sizeof(line) - 1 && read(c, line + n, 1) == 1 && line[n++] != '\n')
			;
		if (!f->reply) {
			close(c);
			continue;
		}
		if (write(c, f->reply, strlen(f->reply)) < 0)
			break;
		for (int k = 0; k < 4 && f->responses[k]; k++) {
			const char *resp = f->responses[k];
			if (resp[0] == '+') {
				resp++; /* sent right after the previous one, without a request */
			} else {
				char *req;
				size_t len;
				if (proto_read_frame(c, &req, &len, 5000) < 0)
					break;
				snprintf(f->got[k], sizeof(f->got[k]), "%s", req);
				free(req);
			}
			proto_write_frame(c, resp, strlen(resp));
		}
		close(c);
	}
	close(l);
	return NULL;
}

static int setup(void **state)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/test_agent_client.%d.sock", getpid());
	unlink(sock_path);
	return 0;
}

static int teardown(void **state)
{
	unlink(sock_path);
	return 0;
}

static void dial_retries_until_listening(void **state)
{
	struct fake f = {.delay_ms = 150, .reply = "OK 1073741824\n", .accepts = 1};
	pthread_t t;
	pthread_create(&t, NULL, fake_main, &f);
	char err[256];
	int fd = ac_dial(sock_path, 1024, 3000, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	pthread_join(t, NULL);
}

static void dial_gives_up_when_nobody_answers(void **state)
{
	struct fake f = {.reply = NULL, .accepts = 1000};
	pthread_t t;
	pthread_create(&t, NULL, fake_main, &f);
	msleep(50);
	char err[256] = "";
	int fd = ac_dial(sock_path, 1024, 300, err, sizeof(err));
	assert_int_equal(fd, -1);
	assert_non_null(strstr(err, "no listener yet"));
	f.stop = 1;
	pthread_join(t, NULL);
}

static int alive_calls;
static bool alive_twice(void *opaque)
{
	return ++alive_calls <= 2;
}

/* Nobody listens and never will: the liveness check ends the wait long before the timeout. */
static void dial_stops_when_not_alive(void **state)
{
	char err[256] = "";
	struct timespec a, b;
	alive_calls = 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(ac_dial_while(sock_path, 1024, 20000, alive_twice, NULL, err, sizeof(err)), -1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(alive_calls, 3);
	assert_true(b.tv_sec - a.tv_sec < 5);
	assert_non_null(strstr(err, "connect"));
	assert_null(ac_connect_while(sock_path, 20000, alive_twice, NULL, err, sizeof(err)));
}

static void dial_bad_reply_is_fatal(void **state)
{
	struct fake f = {.reply = "NOPE\n", .accepts = 1};
	pthread_t t;
	pthread_create(&t, NULL, fake_main, &f);
	msleep(50);
	char err[256] = "";
	assert_int_equal(ac_dial(sock_path, 1025, 2000, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad handshake reply \"NOPE\""));
	pthread_join(t, NULL);
	assert_int_equal(ac_dial("/nonexistent/dir/x.sock", 1024, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
}

static void typed_calls(void **state)
{
	struct fake f = {.reply = "OK 5\n",
			 .accepts = 1,
			 .responses = {"{\"id\":1,\"ok\":true,\"version\":1}",
				       "{\"id\":2,\"ok\":false,\"error\":\"start init: boom\"}",
				       "{\"event\":\"exit\",\"process\":\"z\",\"exit_code\":1}",
				       "+{\"id\":3,\"ok\":true,\"process\":\"init\",\"pid\":9,\"status\":15,"
				       "\"exit_code\":143,\"signal\":15}"}};
	pthread_t t;
	pthread_create(&t, NULL, fake_main, &f);
	char err[256];
	struct agentclient *ac = ac_connect(sock_path, 2000, err, sizeof(err));
	assert_non_null(ac);
	assert_int_equal(ac_hello(ac, true), 0);
	assert_int_equal(ac_start(ac, "init"), -1);
	assert_string_equal(ac_error(ac), "start init: boom");
	/* the fake sends an event and then the wait response: the event is skipped */
	struct ac_exit ex;
	assert_int_equal(ac_wait(ac, "init", &ex), 0);
	assert_int_equal(ex.exit_code, 143);
	assert_int_equal(ex.signal, 15);
	assert_int_equal(ex.pid, 9);
	ac_close(ac);
	pthread_join(t, NULL);
	assert_non_null(strstr(f.got[0], "\"op\":\"hello\""));
	assert_non_null(strstr(f.got[0], "\"version\":1"));
	assert_non_null(strstr(f.got[0], "\"time_ns\":"));
	assert_non_null(strstr(f.got[1], "\"op\":\"start\",\"process\":\"init\""));
	assert_non_null(strstr(f.got[2], "\"op\":\"wait\""));
}

static void network_call(void **state)
{
	struct fake f = {
	    .reply = "OK 5\n",
	    .accepts = 1,
	    .responses = {"{\"id\":1,\"ok\":true}",
			  "{\"id\":2,\"ok\":false,\"error\":\"network: eth0: add address 10.0.0.2/24: "
			  "File exists\"}"}};
	pthread_t t;
	pthread_create(&t, NULL, fake_main, &f);
	char err[256];
	struct agentclient *ac = ac_connect(sock_path, 2000, err, sizeof(err));
	assert_non_null(ac);
	static struct proto_net n = {
	    .nifaces = 1,
	    .ifaces = {{.name = "eth0",
			.match_mac = {2, 0, 0, 0, 0, 1},
			.mac = {0x9a, 0, 0, 0, 0, 2},
			.mtu = 1500,
			.naddrs = 1,
			.addrs = {{.family = AF_INET, .addr = {10, 0, 0, 2}, .prefix = 24}}}},
	    .nroutes = 1,
	    .routes = {{.family = AF_INET,
			.dst = {.family = AF_INET},
			.has_gw = true,
			.gw = {10, 0, 0, 1},
			.dev = "eth0"}},
	};
	assert_int_equal(ac_network(ac, "init", &n), 0);
	assert_int_equal(ac_network(ac, "init", &n), -1);
	assert_string_equal(ac_error(ac), "network: eth0: add address 10.0.0.2/24: File exists");
	ac_close(ac);
	pthread_join(t, NULL);
	assert_non_null(
	    strstr(f.got[0],
		   "\"op\":\"network\",\"container\":\"init\",\"interfaces\":[{\"name\":\"eth0\","
		   "\"match_mac\":\"02:00:00:00:00:01\",\"mac\":\"9a:00:00:00:00:02\",\"mtu\":1500,"
		   "\"addresses\":[\"10.0.0.2/24\"]}],\"routes\":[{\"dst\":\"0.0.0.0/0\","
		   "\"gateway\":\"10.0.0.1\",\"dev\":\"eth0\",\"scope\":\"universe\"}],\"neighbors\":[]}"));
	/* what the client sends, the agent's decoder takes */
	char *req = strstr(f.got[0], "{");
	yajl_val tr = json_parse(req, strlen(req), err, sizeof(err));
	assert_non_null(tr);
	static struct proto_net back;
	assert_int_equal(proto_parse_net(tr, &back, err, sizeof(err)), 0);
	yajl_tree_free(tr);
	assert_int_equal(back.nifaces, 1);
	assert_int_equal(back.routes[0].gw[3], 1);
}

static void any_event(void **state)
{
	struct fake f = {
	    .reply = "OK 5\n",
	    .accepts = 1,
	    .responses = {
		"{\"id\":1,\"ok\":true,\"version\":1}",
		"+{\"event\":\"oom\",\"process\":\"init\",\"oom_kills\":2}",
		"+{\"event\":\"exit\",\"process\":\"e1\",\"pid\":4,\"status\":2304,\"exit_code\":9}"}};
	pthread_t t;
	pthread_create(&t, NULL, fake_main, &f);
	char err[256];
	struct agentclient *ac = ac_connect(sock_path, 2000, err, sizeof(err));
	assert_non_null(ac);
	assert_int_equal(ac_hello(ac, true), 0);
	struct ac_event ev;
	assert_int_equal(ac_next_event_any(ac, &ev, 2000), 0);
	assert_string_equal(ev.name, "oom");
	assert_string_equal(ev.process, "init");
	assert_int_equal(ev.oom_kills, 2);
	assert_int_equal(ac_next_event_any(ac, &ev, 2000), 0);
	assert_string_equal(ev.name, "exit");
	assert_string_equal(ev.process, "e1");
	assert_int_equal(ev.exit.exit_code, 9);
	/* the fake closed the connection: an error, not a hang */
	pthread_join(t, NULL);
	assert_int_equal(ac_next_event_any(ac, &ev, 100), -1);
	ac_close(ac);
}

static void out_of_order_response_is_an_error(void **state)
{
	struct fake f = {.reply = "OK 5\n", .accepts = 1, .responses = {"{\"id\":77,\"ok\":true}"}};
	pthread_t t;
	pthread_create(&t, NULL, fake_main, &f);
	char err[256];
	struct agentclient *ac = ac_connect(sock_path, 2000, err, sizeof(err));
	assert_non_null(ac);
	assert_int_equal(ac_signal(ac, "init", 9, true), -1);
	assert_non_null(strstr(ac_error(ac), "out of order"));
	ac_close(ac);
	pthread_join(t, NULL);
	assert_non_null(strstr(f.got[0], "\"signal\":9,\"all\":true"));
}

struct writer {
	int fd;
	size_t n;
};

static void *write_pattern(void *arg)
{
	struct writer *w = arg;
	char buf[7919];
	size_t off = 0;
	while (off < w->n) {
		size_t k = w->n - off < sizeof(buf) ? w->n - off : sizeof(buf);
		for (size_t i = 0; i < k; i++)
			buf[i] = (char)((off + i) * 31 % 251);
		ssize_t r = write(w->fd, buf, k);
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	close(w->fd);
	return NULL;
}

static void *read_check(void *arg)
{
	struct writer *w = arg;
	char buf[4096];
	size_t off = 0;
	ssize_t r;
	while ((r = read(w->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != (char)((off + (size_t)i) * 31 % 251))
				return (void *)1;
		off += (size_t)r;
		if (off % (1 << 20) < 4096)
			msleep(1); /* a slow reader: the relay must wait, not buffer */
	}
	return off == w->n ? NULL : (void *)2;
}

static void relay_every_byte(void **state)
{
	/* pipe → relay → socket → (slow) reader; plus an optional source that never ends */
	int src[2], sv[2], idle[2], sink[2];
	assert_int_equal(pipe(src), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(idle), 0);
	assert_int_equal(pipe(sink), 0);
	struct writer w = {.fd = src[1], .n = 9 << 20};
	struct writer r = {.fd = sv[1], .n = 9 << 20};
	pthread_t tw, tr;
	pthread_create(&tw, NULL, write_pattern, &w);
	pthread_create(&tr, NULL, read_check, &r);
	struct ac_pipe p[2] = {{.from = src[0], .to = sv[0], .close_to = true},
			       {.from = idle[0], .to = sink[1], .optional = true}};
	assert_int_equal(ac_relay(p, 2, -1, NULL, NULL), 0);
	assert_true(p[0].done);
	assert_false(p[1].done);
	void *res;
	pthread_join(tw, NULL);
	pthread_join(tr, &res);
	assert_null(res);
	close(src[0]);
	close(sv[1]);
	close(idle[0]);
	close(idle[1]);
	close(sink[0]);
	close(sink[1]);
	free(p[1].buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(dial_retries_until_listening, setup, teardown),
	    cmocka_unit_test_setup_teardown(dial_gives_up_when_nobody_answers, setup, teardown),
	    cmocka_unit_test_setup_teardown(dial_stops_when_not_alive, setup, teardown),
	    cmocka_unit_test_setup_teardown(dial_bad_reply_is_fatal, setup, teardown),
	    cmocka_unit_test_setup_teardown(network_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(typed_calls, setup, teardown),
	    cmocka_unit_test_setup_teardown(out_of_order_response_is_an_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(any_event, setup, teardown),
	    cmocka_unit_test(relay_every_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
