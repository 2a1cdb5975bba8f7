/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent/net.c for real, on the host, as root: the test makes two anonymous network namespaces
 * (unshare; they vanish with their last fd, so nothing outlives the test), "src" standing for
 * the agent's netns with veth NICs carrying the match MACs, "tgt" for the container's; it
 * applies requests decoded from JSON and checks the result with `ip -j` (not with our code).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/net.h"
#include "agent/setup.h"
#include "proto/proto_net.h"

/* agent/mounts.c's, which this test does not link */
int setup_fail(struct setup_err *e, const char *step, const char *target, int err)
{
	snprintf(e->step, sizeof(e->step), "%s", step);
	snprintf(e->target, sizeof(e->target), "%s", target ? target : "");
	e->err = err;
	return -1;
}

static int orig_ns = -1;

static int new_ns(void)
{
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(setns(orig_ns, CLONE_NEWNET), 0);
	return fd;
}

static void enter(int ns)
{
	assert_int_equal(setns(ns, CLONE_NEWNET), 0);
}

static ino_t ns_ino(int fd)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

static ino_t self_ino(void)
{
	struct stat st;
	assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

/* A shell command run inside NS. */
static void sh(int ns, const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	enter(ns);
	int r = system(cmd);
	enter(orig_ns);
	if (r != 0)
		fail_msg("%s: exit %d", cmd, r);
}

/* `ip -j ARGS` inside NS, parsed. */
static yajl_val ipj(int ns, const char *args)
{
	static char out[256 * 1024];
	char cmd[256], err[256];
	snprintf(cmd, sizeof(cmd), "ip -j %s", args);
	enter(ns);
	FILE *f = popen(cmd, "r");
	enter(orig_ns);
	assert_non_null(f);
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	assert_int_equal(pclose(f), 0);
	out[n] = '\0';
	yajl_val t = json_parse(out, n, err, sizeof(err));
	if (!t || !YAJL_IS_ARRAY(t))
		fail_msg("ip -j %s: %s: %s", args, err, out);
	return t;
}

static const char *str(yajl_val o, const char *k)
{
	const char *s = json_get_str(o, k);
	return s ? s : "";
}

/* The first object of ARR whose string K1 is V1 (and K2 is V2 when K2). */
static yajl_val find(yajl_val arr, const char *k1, const char *v1, const char *k2, const char *v2)
{
	for (size_t i = 0; i < arr->u.array.len; i++) {
		yajl_val o = arr->u.array.values[i];
		if (!strcmp(str(o, k1), v1) && (!k2 || !strcmp(str(o, k2), v2)))
			return o;
	}
	return NULL;
}

static bool has_flag(yajl_val o, const char *key, const char *flag)
{
	yajl_val a = json_get(o, key, yajl_t_array);
	for (size_t i = 0; a && i < a->u.array.len; i++)
		if (YAJL_IS_STRING(a->u.array.values[i]) && !strcmp(a->u.array.values[i]->u.string, flag))
			return true;
	return false;
}

static yajl_val link_named(yajl_val links, const char *name)
{
	return find(links, "ifname", name, NULL, NULL);
}

static bool ns_has_mac(int ns, const char *mac)
{
	yajl_val l = ipj(ns, "link");
	bool r = find(l, "address", mac, NULL, NULL) != NULL;
	yajl_tree_free(l);
	return r;
}

/* Decode JSON and apply it from the current thread's netns SRC into TGT. */
static int apply_json(int src, int tgt, const char *json, char *err, size_t errlen)
{
	static struct proto_net n;
	yajl_val t = json_parse(json, strlen(json), err, errlen);
	assert_non_null(t);
	int r = proto_parse_net(t, &n, err, errlen);
	yajl_tree_free(t);
	if (r < 0)
		return r;
	enter(src);
	r = net_apply(tgt, &n, err, errlen);
	/* the calling thread is back where it was */
	assert_int_equal(self_ino(), ns_ino(src));
	enter(orig_ns);
	return r;
}

static int read_sysctl(int ns, const char *path)
{
	char buf[16] = "";
	enter(ns);
	FILE *f = fopen(path, "re");
	enter(orig_ns);
	if (!f) {
		fail_msg("open %s: %s", path, strerror(errno));
		return -1;
	}
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	assert_true(buf[0] >= '0' && buf[0] <= '9');
	return atoi(buf);
}

#define IF(name, match) "{\"name\":\"" name "\",\"match_mac\":\"" match "\""
static const char *full = "{\"interfaces\":["
    /* eth0 is the agent's "eth1" and eth1 its "eth0": the names cross */
    IF("eth0",
       "02:00:00:aa:00:01") ",\"mac\":\"9a:00:00:bb:00:01\",\"mtu\":1400,"
			    "\"addresses\":[\"10.123.0.2/24\",\"fd00:123::2/64\"]}," IF(
				"eth1",
				"02:00:00:aa:00:02") ",\"addresses\":[\"10.124.0.2/24\"]}],"
						     "\"routes\":["
						     "{\"dst\":\"0.0.0.0/"
						     "0\",\"gateway\":\"10.123.0.1\",\"dev\":\"eth0\"},"
						     "{\"dst\":\"10.201.0.0/"
						     "16\",\"gateway\":\"10.124.0.1\",\"dev\":\"eth1\","
						     "\"metric\":50},"
						     "{\"dst\":\"::/"
						     "0\",\"gateway\":\"fd00:123::1\",\"dev\":\"eth0\"},"
						     "{\"dst\":\"10.123.0.0/"
						     "24\",\"dev\":\"eth0\",\"scope\":\"link\",\"src\":\"10."
						     "123.0.2\"},"
						     "{\"dst\":\"10.200.0.0/"
						     "16\",\"dev\":\"eth1\",\"scope\":\"link\"}],"
						     "\"neighbors\":[{\"ip\":\"10.123.0.1\",\"mac\":\"aa:bb:"
						     "cc:dd:ee:01\",\"dev\":\"eth0\"},"
						     "{\"ip\":\"fd00:123::1\",\"mac\":\"aa:bb:cc:dd:ee:01\","
						     "\"dev\":\"eth0\"}]}";

static void check_full(int tgt)
{
	yajl_val l = ipj(tgt, "link");
	yajl_val e0 = link_named(l, "eth0"), e1 = link_named(l, "eth1"), lo = link_named(l, "lo");
	assert_non_null(e0);
	assert_non_null(e1);
	assert_string_equal(str(e0, "address"), "9a:00:00:bb:00:01");
	assert_string_equal(str(e1, "address"), "02:00:00:aa:00:02");
	long long mtu;
	assert_int_equal(json_get_int(e0, "mtu", 0, 1 << 20, &mtu), 0);
	assert_int_equal(mtu, 1400);
	assert_true(has_flag(e0, "flags", "UP"));
	assert_true(has_flag(e1, "flags", "UP"));
	assert_true(has_flag(lo, "flags", "UP"));
	yajl_tree_free(l);

	yajl_val a = ipj(tgt, "addr show dev eth0");
	yajl_val ai = json_get(a->u.array.values[0], "addr_info", yajl_t_array);
	assert_non_null(ai);
	yajl_val v4 = find(ai, "local", "10.123.0.2", NULL, NULL),
		 v6 = find(ai, "local", "fd00:123::2", NULL, NULL);
	assert_non_null(v4);
	assert_non_null(v6);
	assert_int_equal(json_get_int(v6, "prefixlen", 0, 128, &mtu), 0);
	assert_int_equal(mtu, 64);
	assert_string_equal(str(v4, "broadcast"), "10.123.0.255");
	assert_int_equal(json_get_bool(v6, "tentative", 0), 0); /* usable at once */
	assert_int_equal(json_get_bool(v6, "dadfailed", 0), 0);
	yajl_tree_free(a);

	yajl_val r = ipj(tgt, "route");
	yajl_val def = find(r, "dst", "default", NULL, NULL);
	assert_non_null(def);
	assert_string_equal(str(def, "gateway"), "10.123.0.1");
	assert_string_equal(str(def, "dev"), "eth0");
	yajl_val m50 = find(r, "dst", "10.201.0.0/16", "gateway", "10.124.0.1");
	assert_non_null(m50);
	assert_int_equal(json_get_int(m50, "metric", 0, 1000, &mtu), 0);
	assert_int_equal(mtu, 50);
	yajl_val lr = find(r, "dst", "10.200.0.0/16", "dev", "eth1");
	assert_non_null(lr);
	assert_string_equal(str(lr, "scope"), "link");
	yajl_tree_free(r);
	r = ipj(tgt, "-6 route");
	def = find(r, "dst", "default", NULL, NULL);
	assert_non_null(def);
	assert_string_equal(str(def, "gateway"), "fd00:123::1");
	yajl_tree_free(r);

	yajl_val nb = ipj(tgt, "neigh");
	yajl_val n4 = find(nb, "dst", "10.123.0.1", "dev", "eth0"),
		 n6 = find(nb, "dst", "fd00:123::1", NULL, NULL);
	assert_non_null(n4);
	assert_non_null(n6);
	assert_string_equal(str(n4, "lladdr"), "aa:bb:cc:dd:ee:01");
	assert_true(has_flag(n4, "state", "PERMANENT"));
	assert_true(has_flag(n6, "state", "PERMANENT"));
	yajl_tree_free(nb);

	assert_int_equal(read_sysctl(tgt, "/proc/sys/net/ipv6/conf/eth0/accept_dad"), 0);
	assert_int_equal(read_sysctl(tgt, "/proc/sys/net/ipv6/conf/eth0/autoconf"), 0);
	assert_int_equal(read_sysctl(tgt, "/proc/sys/net/ipv6/conf/eth1/accept_ra"), 0);
}

static int src = -1, tgt = -1;

static int setup(void **state)
{
	if (geteuid() != 0 || system("ip -V >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_agent_net: needs root and iproute2\n");
		return -1;
	}
	orig_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	src = new_ns();
	tgt = new_ns();
	/* the agent's NICs: one end of veth pairs whose peers stay (up, for carrier) */
	for (int i = 1; i <= 5; i++)
		sh(src,
		   "ip link add eth%d address 02:00:00:aa:00:0%d type veth peer name peer%d && "
		   "ip link set peer%d up",
		   i == 1   ? 1
		   : i == 2 ? 0
			    : i,
		   i, i, i);
	return 0;
}

static int teardown(void **state)
{
	close(src); /* the namespaces and their veths go with their last reference */
	close(tgt);
	close(orig_ns);
	return 0;
}

static void apply_full_then_again(void **state)
{
	char err[512] = "";
	if (apply_json(src, tgt, full, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	check_full(tgt);
	/* the NICs left the agent's netns */
	assert_false(ns_has_mac(src, "02:00:00:aa:00:01"));
	assert_false(ns_has_mac(src, "02:00:00:aa:00:02"));
	/* idempotent: the same again, then with one interface more */
	if (apply_json(src, tgt, full, err, sizeof(err)) < 0)
		fail_msg("second call: %s", err);
	check_full(tgt);
	char more[4096];
	snprintf(
	    more, sizeof(more),
	    "{\"interfaces\":[" IF("eth0", "02:00:00:aa:00:01") ",\"mac\":\"9a:00:00:bb:00:01\"}," IF(
		"eth1",
		"02:00:00:aa:00:02") "}," IF("eth2",
					     "02:00:00:aa:00:03") ",\"addresses\":[\"10.125.0.2/24\"]}]}");
	if (apply_json(src, tgt, more, err, sizeof(err)) < 0)
		fail_msg("third call: %s", err);
	check_full(tgt);
	yajl_val l = ipj(tgt, "link");
	yajl_val e2 = link_named(l, "eth2");
	assert_non_null(e2);
	assert_string_equal(str(e2, "address"), "02:00:00:aa:00:03");
	assert_true(has_flag(e2, "flags", "UP"));
	yajl_tree_free(l);
}

static void expect_error(const char *json, const char *want)
{
	char err[512] = "";
	int r = apply_json(src, tgt, json, err, sizeof(err));
	if (r != -1 || !strstr(err, want))
		fail_msg("got %d \"%s\", want \"%s\"", r, err, want);
}

static void bad_requests_change_nothing(void **state)
{
	/* eth4's NIC exists, eth9's does not: nothing moves */
	expect_error(
	    "{\"interfaces\":[" IF("eth4", "02:00:00:aa:00:04") "}," IF("eth9", "02:00:00:aa:00:09") "}]}",
	    "network: eth9: no interface with MAC 02:00:00:aa:00:09 (match_mac) in the agent's network "
	    "namespace");
	assert_true(ns_has_mac(src, "02:00:00:aa:00:04"));
	/* the container's eth0 is another NIC */
	expect_error(
	    "{\"interfaces\":[" IF("eth0", "02:00:00:aa:00:04") "}]}",
	    "network: eth0: the container already has an interface eth0 (MAC 9a:00:00:bb:00:01), not the "
	    "NIC with MAC 02:00:00:aa:00:04");
	assert_true(ns_has_mac(src, "02:00:00:aa:00:04"));
	/* duplicate names never reach the kernel */
	expect_error(
	    "{\"interfaces\":[" IF("eth4", "02:00:00:aa:00:04") "}," IF("eth4", "02:00:00:aa:00:05") "}]}",
	    "network: interface name eth4 given twice");
	assert_true(ns_has_mac(src, "02:00:00:aa:00:04"));
	/* the kernel's refusal, named: a gateway nothing leads to */
	expect_error("{\"interfaces\":[],\"routes\":[{\"dst\":\"10.250.0.0/16\",\"gateway\":\"10.99.0.1\","
		     "\"dev\":\"lo\"}]}",
		     "network: lo: add route 10.250.0.0/16 via 10.99.0.1 dev lo: Network is unreachable");
}

/* The container shares the agent's netns: the NIC is renamed where it is. */
static void same_namespace_renames(void **state)
{
	char err[512] = "";
	sh(src, "ip link set eth5 up");
	if (apply_json(
		src, src,
		"{\"interfaces\":[" IF("wan0", "02:00:00:aa:00:05") ",\"addresses\":[\"10.126.0.2/24\"]}]}",
		err, sizeof(err)) < 0)
		fail_msg("%s", err);
	yajl_val l = ipj(src, "link");
	yajl_val w = link_named(l, "wan0");
	assert_non_null(w);
	assert_null(link_named(l, "eth5"));
	assert_true(has_flag(w, "flags", "UP"));
	yajl_tree_free(l);
}

static void lo_up_in_new_namespace(void **state)
{
	int ns = new_ns();
	yajl_val l = ipj(ns, "link show dev lo");
	assert_false(has_flag(l->u.array.values[0], "flags", "UP"));
	yajl_tree_free(l);
	struct setup_err e = {0};
	enter(ns);
	int r = net_lo_up(&e);
	enter(orig_ns);
	assert_int_equal(r, 0);
	l = ipj(ns, "link show dev lo");
	assert_true(has_flag(l->u.array.values[0], "flags", "UP"));
	yajl_tree_free(l);
	close(ns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(apply_full_then_again),
	    cmocka_unit_test(bad_requests_change_nothing),
	    cmocka_unit_test(same_namespace_renames),
	    cmocka_unit_test(lo_up_in_new_namespace),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
