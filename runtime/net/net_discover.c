/* SPDX-License-Identifier: Apache-2.0 */
/* What the engine put in the netns: links, addresses, routes, gateway neighbours (net.h). */
#include "net.h"

#include <net/if.h> /* before libnl: it pulls linux/if.h, which then defers to glibc */
#include <arpa/inet.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

struct scan {
	struct proto_net *cfg;
	int *index;
	char *err;
	size_t errlen;
	int failed;
};

static int iface_of(const struct scan *sc, int ifindex)
{
	for (unsigned i = 0; i < sc->cfg->nifaces; i++)
		if (sc->index[i] == ifindex)
			return (int)i;
	return -1;
}

static void on_link(struct nl_object *o, void *arg)
{
	struct scan *sc = arg;
	struct rtnl_link *l = (struct rtnl_link *)o;
	const char *name = rtnl_link_get_name(l);
	const char *type = rtnl_link_get_type(l);
	if (sc->failed || !name || (rtnl_link_get_flags(l) & IFF_LOOPBACK))
		return;
	struct nl_addr *hw = rtnl_link_get_addr(l);
	bool ether = rtnl_link_get_arptype(l) == ARPHRD_ETHER && hw && nl_addr_get_len(hw) == 6;
	if (ether && type && !strcmp(type, "tun"))
		return; /* a tap: runm's own (or another tool's), never wired */
	if (!ether) {
		log_warn("network: interface %s (%s) is not Ethernet: skipped", name, type ? type : "device");
		return;
	}
	if (sc->cfg->nifaces >= PROTO_NET_MAX_IFACES) {
		snprintf(sc->err, sc->errlen, "network: more than %d interfaces (at %s)",
			 PROTO_NET_MAX_IFACES, name);
		sc->failed = 1;
		return;
	}
	struct proto_net_iface *f = &sc->cfg->ifaces[sc->cfg->nifaces];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	memcpy(f->mac, nl_addr_get_binary_addr(hw), 6);
	f->mtu = rtnl_link_get_mtu(l);
	sc->index[sc->cfg->nifaces++] = rtnl_link_get_ifindex(l);
}

static bool v6_link_local(const struct nl_addr *a)
{
	if (nl_addr_get_family(a) != AF_INET6 || nl_addr_get_len(a) != 16)
		return false;
	const uint8_t *b = nl_addr_get_binary_addr(a);
	return b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

static int copy_addr(const struct nl_addr *a, struct proto_net_addr *out)
{
	unsigned len = nl_addr_get_len(a);
	int fam = nl_addr_get_family(a);
	if ((fam == AF_INET && len != 4) || (fam == AF_INET6 && len != 16) ||
	    (fam != AF_INET && fam != AF_INET6))
		return -1;
	memset(out, 0, sizeof(*out));
	out->family = fam;
	memcpy(out->addr, nl_addr_get_binary_addr(a), len);
	out->prefix = nl_addr_get_prefixlen(a);
	return 0;
}

static void on_addr(struct nl_object *o, void *arg)
{
	struct scan *sc = arg;
	struct rtnl_addr *a = (struct rtnl_addr *)o;
	int i = iface_of(sc, rtnl_addr_get_ifindex(a));
	struct nl_addr *local = rtnl_addr_get_local(a);
	if (sc->failed || i < 0 || !local || v6_link_local(local))
		return; /* the guest makes its own link-local address from the same MAC */
	struct proto_net_iface *f = &sc->cfg->ifaces[i];
	if (f->naddrs >= PROTO_NET_MAX_ADDRS) {
		log_warn("network: %s: more than %d addresses: the rest is skipped", f->name,
			 PROTO_NET_MAX_ADDRS);
		return;
	}
	if (copy_addr(local, &f->addrs[f->naddrs]) < 0)
		return;
	f->addrs[f->naddrs++].prefix = rtnl_addr_get_prefixlen(a);
}

static void on_route(struct nl_object *o, void *arg)
{
	struct scan *sc = arg;
	struct rtnl_route *r = (struct rtnl_route *)o;
	/* main table, unicast, not the kernel's own subnet routes (the guest makes them too) */
	if (sc->failed || rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_type(r) != RTN_UNICAST ||
	    rtnl_route_get_protocol(r) == RTPROT_KERNEL)
		return;
	struct nl_addr *dst = rtnl_route_get_dst(r);
	if (!dst || v6_link_local(dst))
		return;
	if (rtnl_route_get_nnexthops(r) != 1) {
		log_warn("network: a multipath route is skipped");
		return;
	}
	struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, 0);
	int i = nh ? iface_of(sc, rtnl_route_nh_get_ifindex(nh)) : -1;
	if (i < 0)
		return;
	if (sc->cfg->nroutes >= PROTO_NET_MAX_ROUTES) {
		log_warn("network: more than %d routes: the rest is skipped", PROTO_NET_MAX_ROUTES);
		return;
	}
	struct proto_net_route *rt = &sc->cfg->routes[sc->cfg->nroutes];
	memset(rt, 0, sizeof(*rt));
	rt->family = rtnl_route_get_family(r);
	if (nl_addr_get_len(dst) == 0) { /* default */
		rt->dst.family = rt->family;
	} else if (copy_addr(dst, &rt->dst) < 0) {
		return;
	}
	rt->dst.prefix = nl_addr_get_prefixlen(dst);
	struct nl_addr *gw = rtnl_route_nh_get_gateway(nh);
	if (gw && nl_addr_get_len(gw) == (rt->family == AF_INET ? 4u : 16u)) {
		rt->has_gw = true;
		memcpy(rt->gw, nl_addr_get_binary_addr(gw), nl_addr_get_len(gw));
	}
	struct nl_addr *src = rtnl_route_get_pref_src(r);
	if (src && nl_addr_get_len(src) == (rt->family == AF_INET ? 4u : 16u)) {
		rt->has_src = true;
		memcpy(rt->src, nl_addr_get_binary_addr(src), nl_addr_get_len(src));
	}
	snprintf(rt->dev, sizeof(rt->dev), "%s", sc->cfg->ifaces[i].name);
	rt->metric = rtnl_route_get_priority(r);
	uint8_t scope = rtnl_route_get_scope(r);
	rt->scope = scope == RT_SCOPE_LINK   ? PROTO_NET_SCOPE_LINK
		    : scope == RT_SCOPE_HOST ? PROTO_NET_SCOPE_HOST
					     : PROTO_NET_SCOPE_UNIVERSE;
	sc->cfg->nroutes++;
}

static bool is_gateway(const struct proto_net *cfg, int family, const uint8_t *ip)
{
	size_t len = family == AF_INET ? 4 : 16;
	for (unsigned i = 0; i < cfg->nroutes; i++)
		if (cfg->routes[i].has_gw && cfg->routes[i].family == family &&
		    !memcmp(cfg->routes[i].gw, ip, len))
			return true;
	return false;
}

static void on_neigh(struct nl_object *o, void *arg)
{
	struct scan *sc = arg;
	struct rtnl_neigh *n = (struct rtnl_neigh *)o;
	int i = iface_of(sc, rtnl_neigh_get_ifindex(n));
	struct nl_addr *dst = rtnl_neigh_get_dst(n), *ll = rtnl_neigh_get_lladdr(n);
	int st = rtnl_neigh_get_state(n);
	if (sc->failed || i < 0 || !dst || !ll || nl_addr_get_len(ll) != 6 ||
	    !(st & (NUD_PERMANENT | NUD_REACHABLE | NUD_STALE | NUD_NOARP)))
		return;
	int fam = nl_addr_get_family(dst);
	unsigned len = nl_addr_get_len(dst);
	if (!((fam == AF_INET && len == 4) || (fam == AF_INET6 && len == 16)) ||
	    !is_gateway(sc->cfg, fam, nl_addr_get_binary_addr(dst)) || sc->cfg->nneigh >= PROTO_NET_MAX_NEIGH)
		return;
	struct proto_net_neigh *e = &sc->cfg->neigh[sc->cfg->nneigh++];
	memset(e, 0, sizeof(*e));
	e->family = fam;
	memcpy(e->ip, nl_addr_get_binary_addr(dst), len);
	memcpy(e->mac, nl_addr_get_binary_addr(ll), 6);
	snprintf(e->dev, sizeof(e->dev), "%s", sc->cfg->ifaces[i].name);
}

/* Link routes first, then gateway routes (a gateway must be reachable when its route is added). */
static void order_routes(struct proto_net *cfg)
{
	static struct proto_net_route tmp[PROTO_NET_MAX_ROUTES];
	unsigned n = 0;
	memset(tmp, 0, sizeof(tmp));
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < cfg->nroutes; i++)
			if (cfg->routes[i].has_gw == (pass == 1))
				tmp[n++] = cfg->routes[i];
	memcpy(cfg->routes, tmp, sizeof(tmp[0]) * n);
}

int net_discover(struct proto_net *cfg, int *index, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	struct scan sc = {cfg, index, err, errlen, 0};
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *links = NULL, *addrs = NULL, *routes = NULL, *neigh = NULL;
	int r = sk ? nl_connect(sk, NETLINK_ROUTE) : -NLE_NOMEM;
	const char *what = "connect";
	if (r == 0 && (what = "links", r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &links)) == 0)
		nl_cache_foreach(links, on_link, &sc);
	if (r == 0 && !sc.failed && (what = "addresses", r = rtnl_addr_alloc_cache(sk, &addrs)) == 0)
		nl_cache_foreach(addrs, on_addr, &sc);
	if (r == 0 && !sc.failed &&
	    (what = "routes", r = rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &routes)) == 0)
		nl_cache_foreach(routes, on_route, &sc);
	if (r == 0 && !sc.failed && (what = "neighbours", r = rtnl_neigh_alloc_cache(sk, &neigh)) == 0)
		nl_cache_foreach(neigh, on_neigh, &sc);
	if (r < 0)
		snprintf(err, errlen, "network: read %s of the netns: %s", what, nl_geterror(r));
	nl_cache_free(neigh);
	nl_cache_free(routes);
	nl_cache_free(addrs);
	nl_cache_free(links);
	nl_socket_free(sk);
	if (r < 0 || sc.failed)
		return -1;
	order_routes(cfg);
	return 0;
}
