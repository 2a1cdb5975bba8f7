/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/proto/proto_net.c: the "network" op's text forms, encoder and decoder. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "proto/proto_net.h"

static yajl_val tree(const char *s)
{
	char err[256];
	yajl_val t = json_parse(s, strlen(s), err, sizeof(err));
	if (!t)
		fail_msg("test JSON does not parse: %s: %s", err, s);
	return t;
}

static void mac_text(void **state)
{
	uint8_t m[6];
	char out[18];
	assert_int_equal(proto_net_parse_mac("02:aB:0c:dd:EE:ff", m), 0);
	const uint8_t want[6] = {0x02, 0xab, 0x0c, 0xdd, 0xee, 0xff};
	assert_memory_equal(m, want, 6);
	proto_net_format_mac(m, out);
	assert_string_equal(out, "02:ab:0c:dd:ee:ff");
	static const char *const bad[] = {"",
					  "02:ab:0c:dd:ee",
					  "02:ab:0c:dd:ee:ff:",
					  "02:ab:0c:dd:ee:f",
					  "02-ab-0c-dd-ee-ff",
					  "02:ab:0c:dd:ee:fg",
					  " 2:ab:0c:dd:ee:ff",
					  "02:ab:0c:dd:ee:ff0",
					  "002:ab:0c:dd:eeff"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(proto_net_parse_mac(bad[i], m), -1);
	assert_int_equal(proto_net_parse_mac(NULL, m), -1);
}

static void cidr_text(void **state)
{
	struct proto_net_addr a;
	assert_int_equal(proto_net_parse_cidr("10.88.0.2/16", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.prefix, 16);
	const uint8_t v4[4] = {10, 88, 0, 2};
	assert_memory_equal(a.addr, v4, 4);
	assert_int_equal(proto_net_parse_cidr("fd00::2/64", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.prefix, 64);
	assert_int_equal(a.addr[0], 0xfd);
	assert_int_equal(a.addr[15], 2);
	assert_int_equal(proto_net_parse_cidr("0.0.0.0/0", &a), 0);
	assert_int_equal(proto_net_parse_cidr("::/0", &a), 0);
	assert_int_equal(proto_net_parse_cidr("::1/128", &a), 0);
	assert_int_equal(a.prefix, 128);
	static const char *const bad[] = {
	    "10.88.0.2",     "10.88.0.2/",   "10.88.0.2/33",   "fd00::2/129", "/16",
	    "10.88.0.2/016", "10.88.0.2/-1", "10.88.0.2/1a",   "10.88.0/16",  "10.88.0.2/16 ",
	    " 10.88.0.2/16", "fd00::g/64",   "10.88.0.2/1000", "1.2.3.4/8/8", "localhost/8"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(proto_net_parse_cidr(bad[i], &a), -1);
		assert_int_equal(a.family, 0);
	}
	assert_int_equal(proto_net_parse_cidr(NULL, &a), -1);
}

static const char *sample =
    "{\"id\":3,\"op\":\"network\",\"container\":\"init\","
    "\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\",\"mac\":\"9a:11:22:33:44:55\","
    "\"mtu\":1450,\"addresses\":[\"10.88.0.2/16\",\"fd00::2/64\"]},"
    "{\"name\":\"net1\",\"match_mac\":\"02:00:00:00:00:02\"}],"
    "\"routes\":[{\"dst\":\"10.88.0.0/16\",\"dev\":\"eth0\",\"scope\":\"link\"},"
    "{\"dst\":\"0.0.0.0/0\",\"gateway\":\"10.88.0.1\",\"dev\":\"eth0\",\"metric\":100,\"src\":\"10.88.0.2\"},"
    "{\"dst\":\"::/0\",\"gateway\":\"fe80::1\",\"dev\":\"eth0\"},"
    "{\"dst\":\"127.0.0.0/8\",\"dev\":\"lo\",\"scope\":\"host\"}],"
    "\"neighbors\":[{\"ip\":\"10.88.0.1\",\"mac\":\"aa:bb:cc:dd:ee:ff\",\"dev\":\"eth0\"},"
    "{\"ip\":\"fe80::1\",\"mac\":\"aa:bb:cc:dd:ee:ff\",\"dev\":\"net1\"}]}";

static void check_sample(const struct proto_net *n)
{
	assert_int_equal(n->nifaces, 2);
	assert_int_equal(n->nroutes, 4);
	assert_int_equal(n->nneigh, 2);
	const struct proto_net_iface *f = &n->ifaces[0];
	assert_string_equal(f->name, "eth0");
	const uint8_t mm[6] = {2, 0, 0, 0, 0, 1}, m[6] = {0x9a, 0x11, 0x22, 0x33, 0x44, 0x55};
	assert_memory_equal(f->match_mac, mm, 6);
	assert_memory_equal(f->mac, m, 6);
	assert_int_equal(f->mtu, 1450);
	assert_int_equal(f->naddrs, 2);
	assert_int_equal(f->addrs[0].family, AF_INET);
	assert_int_equal(f->addrs[1].family, AF_INET6);
	assert_int_equal(f->addrs[1].prefix, 64);
	/* no "mac": the NIC keeps its own; no "mtu": unchanged */
	assert_string_equal(n->ifaces[1].name, "net1");
	assert_memory_equal(n->ifaces[1].mac, n->ifaces[1].match_mac, 6);
	assert_int_equal(n->ifaces[1].mtu, 0);
	assert_int_equal(n->ifaces[1].naddrs, 0);

	const struct proto_net_route *r = n->routes;
	assert_int_equal(r[0].family, AF_INET);
	assert_int_equal(r[0].scope, PROTO_NET_SCOPE_LINK);
	assert_false(r[0].has_gw);
	assert_int_equal(r[1].dst.prefix, 0);
	assert_true(r[1].has_gw);
	assert_true(r[1].has_src);
	assert_int_equal(r[1].metric, 100);
	assert_int_equal(r[1].scope, PROTO_NET_SCOPE_UNIVERSE); /* default with a gateway */
	const uint8_t gw[4] = {10, 88, 0, 1};
	assert_memory_equal(r[1].gw, gw, 4);
	assert_int_equal(r[2].family, AF_INET6);
	assert_int_equal(r[2].gw[0], 0xfe);
	assert_string_equal(r[3].dev, "lo");
	assert_int_equal(r[3].scope, PROTO_NET_SCOPE_HOST);
	assert_int_equal(n->neigh[0].family, AF_INET);
	assert_int_equal(n->neigh[1].family, AF_INET6);
	assert_string_equal(n->neigh[1].dev, "net1");
	assert_int_equal(n->neigh[1].mac[0], 0xaa);
}

static void parse_and_roundtrip(void **state)
{
	char err[256];
	static struct proto_net n, back;
	yajl_val t = tree(sample);
	assert_int_equal(proto_parse_net(t, &n, err, sizeof(err)), 0);
	yajl_tree_free(t);
	check_sample(&n);

	struct json_gen pg;
	const char *json;
	size_t len;
	assert_int_equal(json_gen_begin(&pg), 0);
	json_gen_str(&pg, "op", "network");
	proto_gen_net(&pg, &n);
	assert_int_equal(json_gen_end(&pg, &json, &len), 0);
	char *copy = strndup(json, len);
	json_gen_free(&pg);
	t = tree(copy);
	assert_int_equal(proto_parse_net(t, &back, err, sizeof(err)), 0);
	yajl_tree_free(t);
	check_sample(&back);
	assert_memory_equal(&n, &back, sizeof(n));
	/* the encoder's text forms */
	assert_non_null(strstr(copy, "\"addresses\":[\"10.88.0.2/16\",\"fd00::2/64\"]"));
	assert_non_null(strstr(copy, "\"gateway\":\"fe80::1\""));
	assert_non_null(strstr(copy, "\"mac\":\"9a:11:22:33:44:55\""));
	free(copy);

	/* only "interfaces" is required; an empty network is just lo */
	t = tree("{\"interfaces\":[],\"routes\":null}");
	assert_int_equal(proto_parse_net(t, &n, err, sizeof(err)), 0);
	assert_int_equal(n.nifaces + n.nroutes + n.nneigh, 0);
	yajl_tree_free(t);
}

/* Each replaces the whole request; ERR must contain WHY. */
static const struct {
	const char *json, *why;
} rejects[] = {
    {"{}", "no \"interfaces\" array"},
    {"{\"interfaces\":{}}", "\"interfaces\" is not an array"},
    {"{\"interfaces\":[1]}", "interfaces[0]: not an object"},
    {"{\"interfaces\":[{\"match_mac\":\"02:00:00:00:00:01\"}]}", "interfaces[0]: \"name\" must be"},
    {"{\"interfaces\":[{\"name\":\"\",\"match_mac\":\"02:00:00:00:00:01\"}]}", "\"name\" must be"},
    {"{\"interfaces\":[{\"name\":\"a/b\",\"match_mac\":\"02:00:00:00:00:01\"}]}", "\"name\" must be"},
    {"{\"interfaces\":[{\"name\":\"a b\",\"match_mac\":\"02:00:00:00:00:01\"}]}", "\"name\" must be"},
    {"{\"interfaces\":[{\"name\":\"..\",\"match_mac\":\"02:00:00:00:00:01\"}]}", "\"name\" must be"},
    {"{\"interfaces\":[{\"name\":\"eth0:1\",\"match_mac\":\"02:00:00:00:00:01\"}]}", "\"name\" must be"},
    {"{\"interfaces\":[{\"name\":\"0123456789abcdef\",\"match_mac\":\"02:00:00:00:00:01\"}]}",
     "\"name\" must be 1-15 bytes"},
    {"{\"interfaces\":[{\"name\":\"lo\",\"match_mac\":\"02:00:00:00:00:01\"}]}", "loopback"},
    {"{\"interfaces\":[{\"name\":\"eth0\"}]}", "eth0: \"match_mac\" is not a MAC"},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"01:00:5e:00:00:01\"}]}", "not a unicast MAC"},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"00:00:00:00:00:00\"}]}", "not a unicast MAC"},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\",\"mac\":7}]}",
     "eth0: \"mac\" is not a MAC"},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\",\"mac\":\"ff:ff:ff:ff:ff:ff\"}]"
     "}",
     "not a unicast MAC"},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\",\"mtu\":67}]}",
     "\"mtu\" must be"},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\",\"mtu\":65536}]}",
     "\"mtu\" must be"},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\",\"mtu\":\"1500\"}]}",
     "\"mtu\" must be"},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\",\"addresses\":\"10.0.0.1/"
     "8\"}]}",
     "\"addresses\" must be an array"},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\",\"addresses\":[\"10.0.0.1\"]}]"
     "}",
     "eth0: addresses[0] is not \"ip/prefix\""},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\",\"addresses\":[5]}]}",
     "addresses[0] is not"},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\","
     "\"addresses\":[\"10.0.0.1/8\",\"10.0.0.1/24\"]}]}",
     "address 10.0.0.1/24 listed twice"},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\"},"
     "{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:02\"}]}",
     "interface name eth0 given twice"},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\"},"
     "{\"name\":\"eth1\",\"match_mac\":\"02:00:00:00:00:01\"}]}",
     "eth0 and eth1 have the same match_mac 02:00:00:00:00:01"},
    {"{\"interfaces\":[],\"routes\":{}}", "\"routes\" is not an array"},
    {"{\"interfaces\":[],\"routes\":[{\"dst\":\"10.0.0.0/8\",\"dev\":\"eth0\"}]}",
     "routes[0]: dev eth0 is not among the interfaces (or lo)"},
    {"{\"interfaces\":[],\"routes\":[{\"dst\":\"10.0.0.0/8\"}]}", "routes[0]: \"dev\" must name"},
    {"{\"interfaces\":[],\"routes\":[{\"dst\":\"10.0.0.1\",\"dev\":\"lo\"}]}", "routes[0]: \"dst\" is not"},
    {"{\"interfaces\":[],\"routes\":[{\"dst\":\"10.0.0.1/8\",\"dev\":\"lo\"}]}",
     "bits set beyond its prefix"},
    {"{\"interfaces\":[],\"routes\":[{\"dst\":\"fd00::1/64\",\"dev\":\"lo\"}]}",
     "bits set beyond its prefix"},
    {"{\"interfaces\":[],\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gateway\":\"fe80::1\",\"dev\":\"lo\"}]}",
     "gateway fe80::1 is not of the destination's family"},
    {"{\"interfaces\":[],\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gateway\":\"10.0.0.1/8\",\"dev\":\"lo\"}]}",
     "\"gateway\" is not an IP address"},
    {"{\"interfaces\":[],\"routes\":[{\"dst\":\"0.0.0.0/0\",\"src\":1,\"dev\":\"lo\"}]}",
     "\"src\" is not an IP address"},
    {"{\"interfaces\":[],\"routes\":[{\"dst\":\"0.0.0.0/0\",\"metric\":-1,\"dev\":\"lo\"}]}",
     "\"metric\" must be"},
    {"{\"interfaces\":[],\"routes\":[{\"dst\":\"0.0.0.0/0\",\"metric\":4294967296,\"dev\":\"lo\"}]}",
     "\"metric\" must be"},
    {"{\"interfaces\":[],\"routes\":[{\"dst\":\"0.0.0.0/0\",\"scope\":\"site\",\"dev\":\"lo\"}]}",
     "\"scope\" must be"},
    {"{\"interfaces\":[],\"routes\":[7]}", "routes[0]: not an object"},
    {"{\"interfaces\":[],\"neighbors\":[{\"ip\":\"10.0.0.1\",\"mac\":\"aa:bb:cc:dd:ee:ff\",\"dev\":\"lo\"}]}",
     "neighbors[0]: dev lo is not among the interfaces"},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\"}],"
     "\"neighbors\":[{\"ip\":\"10.0.0.1/32\",\"mac\":\"aa:bb:cc:dd:ee:ff\",\"dev\":\"eth0\"}]}",
     "neighbors[0]: \"ip\" is not an IP address"},
    {"{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\"}],"
     "\"neighbors\":[{\"ip\":\"10.0.0.1\",\"mac\":\"aa:bb:cc:dd:ee\",\"dev\":\"eth0\"}]}",
     "neighbors[0]: \"mac\" is not a MAC"},
    {"{\"interfaces\":[],\"neighbors\":\"x\"}", "\"neighbors\" is not an array"},
};

static void parse_rejects(void **state)
{
	char err[256];
	static struct proto_net n;
	for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
		yajl_val t = tree(rejects[i].json);
		err[0] = '\0';
		n.nifaces = 99;
		int r = proto_parse_net(t, &n, err, sizeof(err));
		yajl_tree_free(t);
		if (r != -1 || !strstr(err, rejects[i].why) || strncmp(err, "network: ", 9) != 0)
			fail_msg("%s: got %d \"%s\", want \"%s\"", rejects[i].json, r, err, rejects[i].why);
		/* nothing half-filled survives a reject */
		assert_int_equal(n.nifaces, 0);
	}
	assert_int_equal(proto_parse_net(NULL, &n, err, sizeof(err)), -1);
	yajl_val t = tree("[]");
	assert_int_equal(proto_parse_net(t, &n, err, sizeof(err)), -1);
	yajl_tree_free(t);
}

/* Arrays at the limits pass, one more is refused. */
static void limits(void **state)
{
	static char big[64 * 1024];
	char err[256];
	static struct proto_net n;
	for (int over = 0; over <= 1; over++) {
		int k = snprintf(big, sizeof(big), "{\"interfaces\":[");
		for (int i = 0; i < PROTO_NET_MAX_IFACES + over; i++)
			k += snprintf(big + k, sizeof(big) - k,
				      "%s{\"name\":\"e%d\",\"match_mac\":\"02:00:00:00:00:%02x\"}",
				      i ? "," : "", i, i + 1);
		snprintf(big + k, sizeof(big) - k, "]}");
		yajl_val t = tree(big);
		assert_int_equal(proto_parse_net(t, &n, err, sizeof(err)), over ? -1 : 0);
		yajl_tree_free(t);
		if (over)
			assert_non_null(strstr(err, "9 interfaces (at most 8)"));
		else
			assert_int_equal(n.nifaces, PROTO_NET_MAX_IFACES);
	}
	/* 16 addresses, 64 routes, 32 neighbours; then one address or neighbour more */
	for (int over = 0; over <= 2; over++) {
		int k = snprintf(big, sizeof(big),
				 "{\"interfaces\":[{\"name\":\"eth0\",\"match_mac\":\"02:00:00:00:00:01\","
				 "\"addresses\":[");
		for (int i = 0; i < PROTO_NET_MAX_ADDRS + (over == 1); i++)
			k += snprintf(big + k, sizeof(big) - k, "%s\"10.0.0.%d/24\"", i ? "," : "", i + 1);
		k += snprintf(big + k, sizeof(big) - k, "]}],\"routes\":[");
		for (int i = 0; i < PROTO_NET_MAX_ROUTES; i++)
			k += snprintf(big + k, sizeof(big) - k,
				      "%s{\"dst\":\"10.%d.0.0/16\",\"dev\":\"eth0\"}", i ? "," : "", i);
		k += snprintf(big + k, sizeof(big) - k, "],\"neighbors\":[");
		for (int i = 0; i < PROTO_NET_MAX_NEIGH + (over == 2); i++)
			k += snprintf(
			    big + k, sizeof(big) - k,
			    "%s{\"ip\":\"10.0.1.%d\",\"mac\":\"02:00:00:00:01:01\",\"dev\":\"eth0\"}",
			    i ? "," : "", i);
		snprintf(big + k, sizeof(big) - k, "]}");
		yajl_val t = tree(big);
		assert_int_equal(proto_parse_net(t, &n, err, sizeof(err)), over ? -1 : 0);
		yajl_tree_free(t);
		if (!over) {
			assert_int_equal(n.ifaces[0].naddrs, PROTO_NET_MAX_ADDRS);
			assert_int_equal(n.nroutes, PROTO_NET_MAX_ROUTES);
			assert_int_equal(n.nneigh, PROTO_NET_MAX_NEIGH);
		} else if (!strstr(err, over == 1 ? "eth0: \"addresses\" must be an array of at most 16"
						  : "33 neighbors (at most 32)")) {
			fail_msg("%s", err);
		}
	}
	/* 65 routes */
	int k = snprintf(big, sizeof(big), "{\"interfaces\":[],\"routes\":[");
	for (int i = 0; i <= PROTO_NET_MAX_ROUTES; i++)
		k += snprintf(big + k, sizeof(big) - k, "%s{\"dst\":\"10.%d.0.0/16\",\"dev\":\"lo\"}",
			      i ? "," : "", i);
	snprintf(big + k, sizeof(big) - k, "]}");
	yajl_val t = tree(big);
	assert_int_equal(proto_parse_net(t, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "65 routes (at most 64)"));
	yajl_tree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(mac_text),
	    cmocka_unit_test(cidr_text),
	    cmocka_unit_test(parse_and_roundtrip),
	    cmocka_unit_test(parse_rejects),
	    cmocka_unit_test(limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
