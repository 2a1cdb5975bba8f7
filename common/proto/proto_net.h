/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent protocol's "network" op: the network the engine prepared on the host, as the guest
 * must reproduce it inside the container's network namespace.
 *
 * Request: {"id":N,"op":"network","container":"<id>","interfaces":[...],"routes":[...],
 *           "neighbors":[...]}
 *   container: the id the container's init was created with (create's "process"; "init").
 *   interfaces (required, may be empty), routes and neighbors (optional).
 *   interface: {"name":"eth0","match_mac":"02:..","mac":"9a:..","mtu":1500,
 *               "addresses":["10.88.0.2/16","fd00::2/64"]}
 *     match_mac: the MAC the guest NIC was booted with (how the agent finds it);
 *     mac:       the MAC it must carry (the host veth's); optional, default match_mac;
 *     mtu:       optional, 0/absent: unchanged; addresses: optional.
 *   route:     {"dst":"0.0.0.0/0","gateway":"10.88.0.1","dev":"eth0","src":"...","metric":N,
 *               "scope":"universe"|"link"|"host"}   (dst, dev required; others optional;
 *               dst without bits beyond its prefix; scope default: link without a gateway,
 *               universe with one; dev may be "lo")
 *   neighbor:  {"ip":"10.88.0.1","mac":"aa:..","dev":"eth0"}   (dev: one of the interfaces)
 * Response: {"id":N,"ok":true} or an error naming the interface and what failed.
 *
 * The host builds it from the netns (runtime/net/), the agent applies it (agent/net.c):
 * interfaces moved into the container's netns, renamed, MAC/MTU set, addresses added (IPv6 with
 * DAD and autoconf off), links up, then routes in order (link routes before gateway routes),
 * then neighbours; `lo` is always brought up.
 */
#ifndef RUNM_PROTO_NET_H
#define RUNM_PROTO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/proto.h"

#define PROTO_NET_MAX_IFACES 8
#define PROTO_NET_MAX_ADDRS  16 /* per interface */
#define PROTO_NET_MAX_ROUTES 64
#define PROTO_NET_MAX_NEIGH  32
#define PROTO_NET_IFNAMSIZ   16 /* IFNAMSIZ, with NUL */

enum proto_net_scope { PROTO_NET_SCOPE_UNIVERSE = 0, PROTO_NET_SCOPE_LINK, PROTO_NET_SCOPE_HOST };

struct proto_net_addr {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order; 4 bytes used for AF_INET */
	unsigned prefix;  /* 0..32 / 0..128 */
};

struct proto_net_iface {
	char name[PROTO_NET_IFNAMSIZ];
	uint8_t match_mac[6];
	uint8_t mac[6];
	unsigned mtu; /* 68..65535; 0: leave as is */
	unsigned naddrs;
	struct proto_net_addr addrs[PROTO_NET_MAX_ADDRS];
};

struct proto_net_route {
	int family;
	struct proto_net_addr dst; /* prefix 0: default route */
	bool has_gw, has_src;
	uint8_t gw[16], src[16];
	char dev[PROTO_NET_IFNAMSIZ];
	unsigned metric; /* 0: none */
	enum proto_net_scope scope;
};

struct proto_net_neigh {
	int family;
	uint8_t ip[16];
	uint8_t mac[6];
	char dev[PROTO_NET_IFNAMSIZ];
};

struct proto_net {
	unsigned nifaces, nroutes, nneigh;
	struct proto_net_iface ifaces[PROTO_NET_MAX_IFACES];
	struct proto_net_route routes[PROTO_NET_MAX_ROUTES];
	struct proto_net_neigh neigh[PROTO_NET_MAX_NEIGH];
};

/* Emit "interfaces", "routes", "neighbors" of N into the object under construction. */
void proto_gen_net(struct json_gen *pg, const struct proto_net *n);
/* Decode a "network" request (the whole message object) into *N. -1 with a reason in ERR for
 * anything malformed: unknown family, bad prefix/MAC/address text, a name that is empty, too
 * long or has '/' or whitespace, a route/neighbour naming a device that is not among the
 * interfaces (or "lo"), more entries than the limits above. */
int proto_parse_net(yajl_val root, struct proto_net *n, char *err, size_t errlen);

/* Text forms shared by both sides: "aa:bb:cc:dd:ee:ff" (6 bytes) and "ip/prefix". 0 or -1. */
int proto_net_parse_mac(const char *s, uint8_t mac[6]);
void proto_net_format_mac(const uint8_t mac[6], char out[18]);
int proto_net_parse_cidr(const char *s, struct proto_net_addr *a);

#endif
