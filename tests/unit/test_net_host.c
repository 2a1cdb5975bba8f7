/* SPDX-License-Identifier: Apache-2.0 */
/* runtime/net/: discovery, taps and tc redirects, run for real as root in a new netns per test
 * (the test process unshares its network namespace; `ip` and `tc` inspect it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/net/net.h"
#include "runtime/spec.h"

static void shell(const char *cmd)
{
	int r = system(cmd);
	if (r != 0)
		fail_msg("%s: exit %d", cmd, r);
}

static char *capture(const char *cmd)
{
	static char buf[65536];
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	pclose(p);
	return buf;
}

/* A fresh netns for the test: veth c0 (here, 10.99.0.2/24 + fd00:99::2/64, MTU 1400, default
 * routes via .1 and ::1) whose peer p0 sits in netns PEER. */
static int setup(void **state)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	shell("ip link set lo up && ip link add c0 mtu 1400 address 02:11:22:33:44:55 type veth peer name p0 "
	      "&& "
	      "ip addr add 10.99.0.2/24 dev c0 && ip addr add fd00:99::2/64 dev c0 nodad && "
	      "ip link set c0 up && ip link set p0 up && ip route add default via 10.99.0.1 && "
	      "ip -6 route add default via fd00:99::1 && ip neigh add 10.99.0.1 lladdr 02:aa:bb:cc:dd:ee dev "
	      "c0 nud permanent");
	return 0;
}

static void test_discover(void **state)
{
	struct proto_net cfg;
	int index[PROTO_NET_MAX_IFACES];
	char err[256] = "";
	assert_int_equal(net_discover(&cfg, index, err, sizeof(err)), 0);
	/* p0 is an interface of this netns too (the peer end): both are found, lo is not */
	assert_int_equal(cfg.nifaces, 2);
	const struct proto_net_iface *c0 = strcmp(cfg.ifaces[0].name, "c0") ? &cfg.ifaces[1] : &cfg.ifaces[0];
	assert_string_equal(c0->name, "c0");
	const uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
	assert_memory_equal(c0->mac, mac, 6);
	assert_int_equal(c0->mtu, 1400);
	assert_int_equal(c0->naddrs, 2); /* no fe80:: */
	bool v4 = false, v6 = false;
	for (unsigned i = 0; i < c0->naddrs; i++) {
		char txt[64];
		inet_ntop(c0->addrs[i].family, c0->addrs[i].addr, txt, sizeof(txt));
		v4 |= !strcmp(txt, "10.99.0.2") && c0->addrs[i].prefix == 24;
		v6 |= !strcmp(txt, "fd00:99::2") && c0->addrs[i].prefix == 64;
	}
	assert_true(v4 && v6);
	/* only the two default routes (kernel subnet routes are the guest's own business); gateway
	 * routes come after link routes, and here there are no link routes */
	assert_int_equal(cfg.nroutes, 2);
	for (unsigned i = 0; i < cfg.nroutes; i++) {
		assert_true(cfg.routes[i].has_gw);
		assert_int_equal(cfg.routes[i].dst.prefix, 0);
		assert_string_equal(cfg.routes[i].dev, "c0");
	}
	assert_int_equal(cfg.nneigh, 1);
	assert_string_equal(cfg.neigh[0].dev, "c0");
}

static void test_non_ethernet_links_and_taps_are_skipped(void **state)
{
	/* an L3 tun (no MAC: not Ethernet) is skipped with a warning, a tap silently */
	shell(
	    "ip tuntap add dev l3tun mode tun && ip link set l3tun up && ip tuntap add dev sometap mode tap");
	struct proto_net cfg;
	int index[PROTO_NET_MAX_IFACES];
	char err[256];
	assert_int_equal(net_discover(&cfg, index, err, sizeof(err)), 0);
	for (unsigned i = 0; i < cfg.nifaces; i++) {
		assert_string_not_equal(cfg.ifaces[i].name, "l3tun");
		assert_string_not_equal(cfg.ifaces[i].name, "sometap");
	}
	assert_int_equal(cfg.nifaces, 2); /* c0 and p0 */
}

static void test_link_routes_before_gateway_routes(void **state)
{
	shell("ip route add 10.50.0.0/16 via 10.99.0.1 && ip route add 10.60.0.0/24 dev c0 scope link");
	struct proto_net cfg;
	int index[PROTO_NET_MAX_IFACES];
	char err[256];
	assert_int_equal(net_discover(&cfg, index, err, sizeof(err)), 0);
	bool seen_gw = false;
	unsigned link_routes = 0;
	for (unsigned i = 0; i < cfg.nroutes; i++) {
		if (cfg.routes[i].has_gw)
			seen_gw = true;
		else {
			assert_false(seen_gw);
			link_routes++;
			assert_int_equal(cfg.routes[i].scope, PROTO_NET_SCOPE_LINK);
		}
	}
	assert_int_equal(link_routes, 1);
}

static void test_wire_and_release(void **state)
{
	/* only c0 is to be wired: move the peer away first */
	shell("ip netns add runm-unit-peer-$PPID 2>/dev/null; ip link set p0 netns runm-unit-peer-$PPID");
	struct net_state ns = {.mode = NET_PATH};
	for (unsigned i = 0; i < PROTO_NET_MAX_IFACES; i++)
		ns.link[i].tap_fd = -1;
	char err[256] = "";
	assert_int_equal(net_wire(&ns, err, sizeof(err)), 0);
	assert_int_equal(ns.n, 1);
	assert_true(ns.link[0].wired);
	assert_true(ns.link[0].tap_fd >= 0);
	assert_string_equal(ns.link[0].tap, "tap0_runm");
	assert_memory_equal(ns.cfg.ifaces[0].match_mac, ns.cfg.ifaces[0].mac, 6);
	char *tc = capture("tc filter show dev c0 ingress");
	assert_non_null(strstr(tc, "mirred (Egress Redirect to device tap0_runm)"));
	tc = capture("tc filter show dev tap0_runm ingress");
	assert_non_null(strstr(tc, "mirred (Egress Redirect to device c0)"));
	assert_non_null(strstr(capture("ip -o link show tap0_runm"), "mtu 1400"));
	/* a second container must not wire the same veth */
	struct net_state again = {.mode = NET_PATH};
	for (unsigned i = 0; i < PROTO_NET_MAX_IFACES; i++)
		again.link[i].tap_fd = -1;
	assert_int_equal(net_wire(&again, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "c0 already has an ingress qdisc"));
	net_release(&ns);
	assert_null(strstr(capture("tc qdisc show dev c0"), "ingress"));
	assert_null(strstr(capture("ip -o link show"), "tap0_runm"));
	shell("ip netns del runm-unit-peer-$PPID");
}

static void test_spare_nic_in_an_empty_new_netns(void **state)
{
	if (unshare(CLONE_NEWNET) < 0)
		fail_msg("unshare: %s", strerror(errno));
	struct net_state ns = {.mode = NET_NEW};
	for (unsigned i = 0; i < PROTO_NET_MAX_IFACES; i++)
		ns.link[i].tap_fd = -1;
	char err[256];
	assert_int_equal(net_wire(&ns, err, sizeof(err)), 0);
	assert_int_equal(ns.n, 1);
	assert_false(ns.link[0].wired);
	assert_int_equal(ns.cfg.nifaces, 0);		/* the guest is told nothing yet */
	assert_true((ns.link[0].boot_mac[0] & 3) == 2); /* locally administered unicast */
	bool changed = true;
	assert_int_equal(net_late(&ns, &changed, err, sizeof(err)), 0);
	assert_false(changed); /* nothing appeared */
	shell("ip link add late0 type veth peer name late1 && ip addr add 10.98.0.2/24 dev late0 && "
	      "ip link set late0 up && ip netns add runm-unit-late-$PPID && ip link set late1 netns "
	      "runm-unit-late-$PPID");
	assert_int_equal(net_late(&ns, &changed, err, sizeof(err)), 0);
	assert_true(changed);
	assert_int_equal(ns.cfg.nifaces, 1);
	assert_string_equal(ns.cfg.ifaces[0].name, "late0");
	assert_memory_equal(ns.cfg.ifaces[0].match_mac, ns.link[0].boot_mac, 6);
	assert_non_null(strstr(capture("tc filter show dev late0 ingress"), "tap0_runm"));
	net_release(&ns);
	shell("ip netns del runm-unit-late-$PPID");
}

static void test_host_mode_wires_nothing(void **state)
{
	struct net_state ns = {.mode = NET_HOST};
	char err[64];
	assert_int_equal(net_wire(&ns, err, sizeof(err)), 0);
	assert_int_equal(ns.n, 0);
}

static int load(struct spec *s, const char *ns_json)
{
	char json[512], err[256];
	snprintf(json, sizeof(json),
		 "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/"
		 "\"},\"root\":{\"path\":\"rootfs\"},"
		 "\"linux\":{\"namespaces\":[%s]}}",
		 ns_json);
	return spec_parse(json, "/tmp", s, err, sizeof(err));
}

static void test_enter_errors_name_the_path(void **state)
{
	struct spec s;
	struct net_state ns;
	char err[512];
	assert_int_equal(load(&s, "{\"type\":\"network\",\"path\":\"/no/such/netns\"}"), 0);
	assert_int_equal(net_enter(&s, &ns, err, sizeof(err)), -1);
	assert_string_equal(err, "network namespace /no/such/netns: No such file or directory");
	spec_free(&s);
	assert_int_equal(load(&s, "{\"type\":\"network\",\"path\":\"/etc/hostname\"}"), 0);
	assert_int_equal(net_enter(&s, &ns, err, sizeof(err)), -1);
	assert_string_equal(err, "network namespace /etc/hostname: not a network namespace");
	spec_free(&s);
	assert_int_equal(load(&s, "{\"type\":\"network\",\"path\":\"/proc/self/ns/uts\"}"), 0);
	assert_int_equal(net_enter(&s, &ns, err, sizeof(err)), -1);
	assert_string_equal(err, "network namespace /proc/self/ns/uts: not a network namespace");
	spec_free(&s);
	assert_int_equal(load(&s, "{\"type\":\"pid\"}"), 0);
	assert_int_equal(net_enter(&s, &ns, err, sizeof(err)), 0);
	assert_int_equal(ns.mode, NET_HOST);
	spec_free(&s);
	assert_int_equal(load(&s, "{\"type\":\"network\",\"path\":\"/proc/self/ns/net\"}"), 0);
	assert_int_equal(net_enter(&s, &ns, err, sizeof(err)), 0);
	assert_int_equal(ns.mode, NET_PATH);
	assert_string_equal(ns.path, "/proc/self/ns/net");
	spec_free(&s);
}

static void test_record_and_forget(void **state)
{
	shell("ip netns add runm-unit-rec-$PPID 2>/dev/null; ip link set p0 netns runm-unit-rec-$PPID");
	char dir[] = "/tmp/runm-net-rec-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct net_state ns = {.mode = NET_PATH};
	snprintf(ns.path, sizeof(ns.path), "/proc/%d/ns/net", getpid());
	for (unsigned i = 0; i < PROTO_NET_MAX_IFACES; i++)
		ns.link[i].tap_fd = -1;
	char err[256];
	assert_int_equal(net_wire(&ns, err, sizeof(err)), 0);
	assert_int_equal(net_record(&ns, dir), 0);
	/* the shim dies: its taps go with their fds, the veth keeps runm's qdisc until delete */
	for (unsigned i = 0; i < ns.n; i++)
		close(ns.link[i].tap_fd);
	assert_non_null(strstr(capture("tc qdisc show dev c0"), "ingress"));
	net_forget(dir);
	assert_null(strstr(capture("tc qdisc show dev c0"), "ingress"));
	char rec[64];
	snprintf(rec, sizeof(rec), "%s/network", dir);
	assert_int_equal(access(rec, F_OK), -1);
	rmdir(dir);
	shell("ip netns del runm-unit-rec-$PPID");
}

int main(void)
{
	if (geteuid() != 0) {
		printf("test_net_host: needs root (network namespaces); run as root\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_discover, setup),
	    cmocka_unit_test_setup(test_link_routes_before_gateway_routes, setup),
	    cmocka_unit_test_setup(test_non_ethernet_links_and_taps_are_skipped, setup),
	    cmocka_unit_test_setup(test_wire_and_release, setup),
	    cmocka_unit_test(test_spare_nic_in_an_empty_new_netns),
	    cmocka_unit_test(test_host_mode_wires_nothing),
	    cmocka_unit_test(test_enter_errors_name_the_path),
	    cmocka_unit_test_setup(test_record_and_forget, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
