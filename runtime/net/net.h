/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container's network, host side (docs/networking.md).
 *
 * The engine prepares a network namespace (veth, addresses, routes); a VM cannot share it, so
 * the shim wires it through: per interface a tap in the same netns, tc redirects veth→tap and
 * tap→veth (ingress qdisc + u32 match-all + mirred), and a virtio-net NIC in the guest backed by
 * the tap. The agent then gives the guest NIC the veth's name, MAC, MTU, addresses and routes
 * (common/proto/proto_net.h).
 *
 *   net_enter    join the spec's netns (path), make a new one (no path), or stay (no entry)
 *   net_wire     after the create hooks: discover the interfaces, make taps and redirects
 *   net_late     at start: wire what the engine added after create (onto the spare NIC)
 *   net_release  remove runm's qdiscs from the veths, close the taps (they vanish with them)
 */
#ifndef RUNM_RUNTIME_NET_H
#define RUNM_RUNTIME_NET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto_net.h"

struct spec;

enum net_mode {
	NET_HOST = 0, /* no network namespace entry: the container cannot share the host's stack */
	NET_NEW,      /* an entry without a path: the shim made a new netns (hooks may fill it) */
	NET_PATH,     /* joined the engine's netns by path */
};

struct net_link {
	char veth[PROTO_NET_IFNAMSIZ]; /* the engine's interface ("" for an unwired spare) */
	char tap[PROTO_NET_IFNAMSIZ];
	int veth_index, tap_index;
	int tap_fd;	     /* IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, handed to the VMM */
	uint8_t boot_mac[6]; /* the guest NIC's MAC at boot (how the agent finds it) */
	unsigned mtu;
	bool wired; /* tc redirects in place */
};

struct net_state {
	enum net_mode mode;
	char path[PATH_MAX]; /* NET_PATH: the netns path */
	unsigned n;
	struct net_link link[PROTO_NET_MAX_IFACES];
	struct proto_net cfg; /* what the guest must be told (ifaces in link order) */
};

/* Which netns the spec asks for; 0 or -1 with ERR (a path that does not exist or is not a
 * network namespace is named). Joins it / creates it in the calling process. */
int net_enter(const struct spec *s, struct net_state *ns, char *err, size_t errlen);

/* Discover the current netns and wire every usable interface. With no interface in a NET_NEW
 * namespace, prepare one spare tap for an engine that attaches between create and start
 * (Docker ≥ 26). 0 or -1 with ERR; on failure nothing is left behind. */
int net_wire(struct net_state *ns, char *err, size_t errlen);

/* At start: when the spare NIC is unwired and an interface appeared, wire it onto the spare.
 * *changed tells whether the guest must be told again. 0 or -1 with ERR. */
int net_late(struct net_state *ns, bool *changed, char *err, size_t errlen);

/* Remove runm's qdiscs from the veths and close the taps. Safe to call twice. */
void net_release(struct net_state *ns);

/* Record what is wired in the state directory DIR (net_record.c; with nothing wired the record
 * is removed), and undo it from there after the shim died: `delete` calls net_forget. */
int net_record(const struct net_state *ns, const char *dir);
void net_forget(const char *dir);

/* Whether taps and tc redirects work here (tried in a throw-away netns), with WHY either way. */
bool net_probe(char *why, size_t cap);

/* Discovery alone (net_discover.c): fill CFG from the current netns; for each interface the
 * veth index goes to INDEX[]. Interfaces runm cannot carry are skipped with a warning. */
int net_discover(struct proto_net *cfg, int *index, char *err, size_t errlen);

/* Taps and redirects (net_tap.c). */
int net_tap_open(const char *name, unsigned mtu, int *ifindex, char *err, size_t errlen);
int net_redirect(int from_index, int to_index, const char *from, const char *to, char *err, size_t errlen);
void net_unredirect(int index);
/* Whether the interface already has an ingress qdisc (wired by another runm container). */
bool net_has_ingress(int index);

#endif
