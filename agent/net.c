/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "network" op (common/proto/proto_net.h): the guest NICs the host booted us with become the
 * container's interfaces.  Netlink through libnl-route-3; a netlink socket stays in the netns it
 * was created in, so one socket is opened in the agent's netns and one in the container's (the
 * calling thread switches there and back at once); /proc/sys/net follows the calling thread's
 * netns, so the sysctls are written after another switch.  No fork: the agent is PID 1.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include "base.h"
#include "log.h"
#include "proto/proto_net.h"
#include "setup.h"

#define ERR(...) agent_errf(err, errlen, __VA_ARGS__)

/* A netlink socket and the kernel's answer to its last request. */
struct nlsk {
	struct nl_sock *sk;
	int kerr;      /* errno of the last NLMSG_ERROR, 0 if none */
	char kmsg[96]; /* the kernel's extended ack message, if any */
};

/* NLMSG_ERROR of a request: remember errno and the extended ack text (NLMSGERR_ATTR_MSG). */
static int on_nlerr(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nlsk *s = arg;
	const struct nlmsghdr *h = (const struct nlmsghdr *)((const char *)e - NLMSG_HDRLEN);
	s->kerr = -e->error;
	s->kmsg[0] = '\0';
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS) || h->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
		return NL_STOP;
	size_t off = sizeof(*e), end = h->nlmsg_len - NLMSG_HDRLEN;
	if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < NLMSG_HDRLEN)
			return NL_STOP;
		off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	}
	while (off + NLA_HDRLEN <= end) {
		const struct nlattr *a = (const struct nlattr *)((const char *)e + off);
		if (a->nla_len < NLA_HDRLEN || a->nla_len > end - off)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG && a->nla_len > NLA_HDRLEN) {
			snprintf(s->kmsg, sizeof(s->kmsg), "%.*s", (int)(a->nla_len - NLA_HDRLEN),
				 (const char *)a + NLA_HDRLEN);
			break;
		}
		off += NLA_ALIGN(a->nla_len);
	}
	return NL_STOP;
}

static int nlsk_open(struct nlsk *s)
{
	s->kerr = 0;
	s->sk = nl_socket_alloc();
	if (!s->sk) {
		errno = ENOMEM;
		return -1;
	}
	int rc = nl_connect(s->sk, NETLINK_ROUTE);
	if (rc < 0) {
		nl_socket_free(s->sk);
		s->sk = NULL;
		errno = rc == -NLE_PERM ? EPERM : EPROTO;
		return -1;
	}
	int one = 1;
	setsockopt(nl_socket_get_fd(s->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(s->sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	nl_socket_modify_err_cb(s->sk, NL_CB_CUSTOM, on_nlerr, s);
	return 0;
}

static void nlsk_close(struct nlsk *s)
{
	if (s->sk)
		nl_socket_free(s->sk);
	s->sk = NULL;
}

/* The reason of a failed libnl call RC: the kernel's errno (and message) when it answered. */
static const char *why(const struct nlsk *s, int rc, char *buf, size_t len)
{
	if (s->kerr)
		snprintf(buf, len, "%s%s%s%s", strerror(s->kerr), s->kmsg[0] ? " (" : "", s->kmsg,
			 s->kmsg[0] ? ")" : "");
	else
		snprintf(buf, len, "%s", nl_geterror(rc));
	return buf;
}

static int ns_open_self(void)
{
	return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

/* Run the calling thread in netns NS until net_leave(SELF). */
static int net_enter(int ns, const char *ifname, char *err, size_t errlen)
{
	if (setns(ns, CLONE_NEWNET) < 0)
		return ERR("network: %s: enter the container's network namespace: %s", ifname,
			   strerror(errno));
	return 0;
}

static int net_leave(int self, char *err, size_t errlen)
{
	if (setns(self, CLONE_NEWNET) < 0) {
		log_errno(errno, "network: back to the agent's network namespace");
		return ERR("network: back to the agent's network namespace: %s", strerror(errno));
	}
	return 0;
}

static struct nl_addr *mkaddr(int family, const uint8_t *a, unsigned prefix)
{
	struct nl_addr *n = nl_addr_build(family, a, family == AF_INET ? 4 : family == AF_INET6 ? 16 : 6);
	if (n && family != AF_LLC)
		nl_addr_set_prefixlen(n, (int)prefix);
	return n;
}

static bool link_has_mac(struct rtnl_link *l, const uint8_t mac[6])
{
	struct nl_addr *a = rtnl_link_get_addr(l);
	return a && nl_addr_get_len(a) == 6 && !memcmp(nl_addr_get_binary_addr(a), mac, 6);
}

/* The link of CACHE with MAC: 0 (*out set, referenced), -1 none, -2 several. */
static int find_by_mac(struct nl_cache *cache, const uint8_t mac[6], struct rtnl_link **out)
{
	*out = NULL;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		if (!link_has_mac((struct rtnl_link *)o, mac))
			continue;
		if (*out) {
			rtnl_link_put(*out);
			*out = NULL;
			return -2;
		}
		nl_object_get(o);
		*out = (struct rtnl_link *)o;
	}
	return *out ? 0 : -1;
}

/* Where each interface of the request is: already in place in the container, or to be moved. */
struct plan {
	struct rtnl_link *move[PROTO_NET_MAX_IFACES]; /* in the agent's netns; NULL: in place */
};

static int resolve(const struct proto_net *n, struct nl_cache *src, struct nl_cache *tgt, bool same_ns,
		   struct plan *p, char *err, size_t errlen)
{
	char m[18], m2[18];
	for (unsigned i = 0; i < n->nifaces; i++) {
		const struct proto_net_iface *f = &n->ifaces[i];
		proto_net_format_mac(f->match_mac, m);
		struct rtnl_link *have = rtnl_link_get_by_name(tgt, f->name);
		if (have) {
			bool ours = link_has_mac(have, f->mac) || link_has_mac(have, f->match_mac);
			struct nl_addr *a = rtnl_link_get_addr(have);
			if (!ours && a)
				nl_addr2str(a, m2, sizeof(m2));
			rtnl_link_put(have);
			if (ours)
				continue; /* configured by an earlier call, or already named so */
			if (!same_ns)
				return ERR("network: %s: the container already has an interface %s (MAC %s), "
					   "not the "
					   "NIC with MAC %s",
					   f->name, f->name, a ? m2 : "none", m);
		}
		int r = find_by_mac(src, f->match_mac, &p->move[i]);
		if (r == -2)
			return ERR("network: %s: several interfaces have MAC %s (match_mac)", f->name, m);
		if (r < 0)
			return ERR("network: %s: no interface with MAC %s (match_mac) in the agent's network "
				   "namespace",
				   f->name, m);
	}
	return 0;
}

/* Move LINK into the container's netns under its new name, in one request (so that names
 * already taken in the container by the other NICs never clash); in the same netns: rename. */
static int move_link(struct nlsk *s, struct rtnl_link *link, const char *name, int target_ns, bool same_ns,
		     char *err, size_t errlen)
{
	char b[160];
	struct rtnl_link *chg = rtnl_link_alloc();
	if (!chg)
		return ERR("network: %s: out of memory", name);
	int rc = 0;
	if (same_ns && (rtnl_link_get_flags(link) & IFF_UP)) {
		rtnl_link_unset_flags(chg, IFF_UP); /* a link is renamed only while down */
		s->kerr = 0;
		rc = rtnl_link_change(s->sk, link, chg, 0);
		if (rc < 0) {
			rtnl_link_put(chg);
			return ERR("network: %s: set %s down to rename it: %s", name,
				   rtnl_link_get_name(link), why(s, rc, b, sizeof(b)));
		}
		rtnl_link_put(chg);
		if (!(chg = rtnl_link_alloc()))
			return ERR("network: %s: out of memory", name);
	}
	if (!same_ns)
		rtnl_link_set_ns_fd(chg, target_ns);
	rtnl_link_set_name(chg, name);
	s->kerr = 0;
	rc = rtnl_link_change(s->sk, link, chg, 0);
	rtnl_link_put(chg);
	if (rc < 0)
		return ERR("network: %s: move %s into the container's network namespace as %s: %s", name,
			   rtnl_link_get_name(link), name, why(s, rc, b, sizeof(b)));
	return 0;
}

static int write_sysctl(const char *ifname, const char *key, const char *val, char *err, size_t errlen)
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", ifname, key);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && access("/proc/sys/net/ipv6", F_OK) < 0)
		return 0; /* a kernel without IPv6 */
	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return ERR("network: %s: write %s: %s", ifname, path, strerror(e));
	}
	close(fd);
	return 0;
}

/* IPv6 of the interface: no DAD, no SLAAC, no router advertisements (the host's addresses and
 * routes are the truth). Before the link goes up, when the link-local address is made. */
static int ipv6_quiet(const char *ifname, int target_ns, int self, char *err, size_t errlen)
{
	if (net_enter(target_ns, ifname, err, errlen) < 0)
		return -1;
	int r = write_sysctl(ifname, "accept_dad", "0", err, errlen);
	if (r == 0)
		r = write_sysctl(ifname, "autoconf", "0", err, errlen);
	if (r == 0)
		r = write_sysctl(ifname, "accept_ra", "0", err, errlen);
	if (net_leave(self, err, errlen) < 0)
		return -1;
	return r;
}

static int link_set(struct nlsk *s, struct rtnl_link *link, struct rtnl_link *chg, const char *ifname,
		    const char *step, char *err, size_t errlen)
{
	char b[160];
	s->kerr = 0;
	int rc = rtnl_link_change(s->sk, link, chg, 0);
	rtnl_link_put(chg);
	return rc < 0 ? ERR("network: %s: %s: %s", ifname, step, why(s, rc, b, sizeof(b))) : 0;
}

static int add_address(struct nlsk *s, int ifindex, const char *ifname, const struct proto_net_addr *a,
		       char *err, size_t errlen)
{
	char b[160], txt[INET6_ADDRSTRLEN + 4];
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *local = mkaddr(a->family, a->addr, a->prefix);
	nl_addr2str(local, txt, sizeof(txt));
	int rc = -NLE_NOMEM;
	if (ra && local) {
		rtnl_addr_set_ifindex(ra, ifindex);
		rtnl_addr_set_family(ra, a->family);
		rtnl_addr_set_local(ra, local);
		rtnl_addr_set_prefixlen(ra, (int)a->prefix);
		if (a->family == AF_INET6) {
			rtnl_addr_set_flags(ra, IFA_F_NODAD); /* usable at once, not "tentative" */
		} else if (a->prefix < 31) {
			uint8_t bc[4];
			memcpy(bc, a->addr, 4);
			for (unsigned bit = a->prefix; bit < 32; bit++)
				bc[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
			struct nl_addr *brd = mkaddr(AF_INET, bc, 32);
			if (brd) {
				rtnl_addr_set_broadcast(ra, brd);
				nl_addr_put(brd);
			}
		}
		s->kerr = 0;
		rc = rtnl_addr_add(s->sk, ra, 0);
		if (rc < 0 && s->kerr == EEXIST)
			rc = 0; /* there already (a second call) */
	}
	if (local)
		nl_addr_put(local);
	if (ra)
		rtnl_addr_put(ra);
	return rc < 0 ? ERR("network: %s: add address %s: %s", ifname, txt, why(s, rc, b, sizeof(b))) : 0;
}

/* Everything about one interface once it is in the container's netns, ending with it up. */
static int configure_iface(struct nlsk *t, const struct proto_net_iface *f, int target_ns, int self,
			   char *err, size_t errlen)
{
	char b[160];
	struct rtnl_link *link = NULL;
	t->kerr = 0;
	int rc = rtnl_link_get_kernel(t->sk, 0, f->name, &link);
	if (rc < 0)
		return ERR("network: %s: find it in the container's network namespace: %s", f->name,
			   why(t, rc, b, sizeof(b)));
	int ifindex = rtnl_link_get_ifindex(link);
	struct rtnl_link *chg;
	int r = 0;
	if (!link_has_mac(link, f->mac)) {
		char m[18];
		proto_net_format_mac(f->mac, m);
		struct nl_addr *ll = mkaddr(AF_LLC, f->mac, 0);
		if (!ll || !(chg = rtnl_link_alloc())) {
			if (ll)
				nl_addr_put(ll);
			rtnl_link_put(link);
			return ERR("network: %s: out of memory", f->name);
		}
		rtnl_link_set_addr(chg, ll);
		nl_addr_put(ll);
		snprintf(b, sizeof(b), "set MAC %s", m);
		r = link_set(t, link, chg, f->name, b, err, errlen);
	}
	if (r == 0 && f->mtu && rtnl_link_get_mtu(link) != f->mtu) {
		if (!(chg = rtnl_link_alloc())) {
			rtnl_link_put(link);
			return ERR("network: %s: out of memory", f->name);
		}
		rtnl_link_set_mtu(chg, f->mtu);
		snprintf(b, sizeof(b), "set MTU %u", f->mtu);
		r = link_set(t, link, chg, f->name, b, err, errlen);
	}
	if (r == 0)
		r = ipv6_quiet(f->name, target_ns, self, err, errlen);
	for (unsigned k = 0; r == 0 && k < f->naddrs; k++)
		r = add_address(t, ifindex, f->name, &f->addrs[k], err, errlen);
	if (r == 0 && !(rtnl_link_get_flags(link) & IFF_UP)) {
		if (!(chg = rtnl_link_alloc())) {
			rtnl_link_put(link);
			return ERR("network: %s: out of memory", f->name);
		}
		rtnl_link_set_flags(chg, IFF_UP);
		r = link_set(t, link, chg, f->name, "bring it up", err, errlen);
	}
	rtnl_link_put(link);
	return r;
}

static int lo_up_nl(struct nlsk *t, char *err, size_t errlen)
{
	char b[160];
	struct rtnl_link *lo = NULL;
	t->kerr = 0;
	int rc = rtnl_link_get_kernel(t->sk, 0, "lo", &lo);
	if (rc < 0)
		return ERR("network: lo: find it: %s", why(t, rc, b, sizeof(b)));
	if (rtnl_link_get_flags(lo) & IFF_UP) {
		rtnl_link_put(lo);
		return 0;
	}
	struct rtnl_link *chg = rtnl_link_alloc();
	if (!chg) {
		rtnl_link_put(lo);
		return ERR("network: lo: out of memory");
	}
	rtnl_link_set_flags(chg, IFF_UP);
	int r = link_set(t, lo, chg, "lo", "bring it up", err, errlen);
	rtnl_link_put(lo);
	return r;
}

static const char *route_text(const struct proto_net_route *r, char *buf, size_t len)
{
	char d[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN];
	inet_ntop(r->family, r->dst.addr, d, sizeof(d));
	if (r->has_gw)
		inet_ntop(r->family, r->gw, g, sizeof(g));
	snprintf(buf, len, "%s/%u%s%s dev %s", d, r->dst.prefix, r->has_gw ? " via " : "", r->has_gw ? g : "",
		 r->dev);
	return buf;
}

static int add_route(struct nlsk *t, const struct proto_net_route *r, char *err, size_t errlen)
{
	static const int scopes[] = {RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST};
	char b[160], txt[2 * INET6_ADDRSTRLEN + 40];
	route_text(r, txt, sizeof(txt));
	struct rtnl_link *dev = NULL;
	t->kerr = 0;
	int rc = rtnl_link_get_kernel(t->sk, 0, r->dev, &dev);
	if (rc < 0)
		return ERR("network: %s: add route %s: find %s: %s", r->dev, txt, r->dev,
			   why(t, rc, b, sizeof(b)));
	int ifindex = rtnl_link_get_ifindex(dev);
	rtnl_link_put(dev);

	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = mkaddr(r->family, r->dst.addr, r->dst.prefix);
	struct nl_addr *gw = r->has_gw ? mkaddr(r->family, r->gw, r->family == AF_INET ? 32 : 128) : NULL;
	struct nl_addr *src = r->has_src ? mkaddr(r->family, r->src, r->family == AF_INET ? 32 : 128) : NULL;
	rc = -NLE_NOMEM;
	if (rt && nh && dst && (gw || !r->has_gw) && (src || !r->has_src)) {
		rtnl_route_set_family(rt, (uint8_t)r->family);
		rtnl_route_set_table(rt, RT_TABLE_MAIN);
		rtnl_route_set_protocol(rt, RTPROT_BOOT);
		rtnl_route_set_type(rt, RTN_UNICAST);
		rtnl_route_set_scope(rt, (uint8_t)scopes[(unsigned)r->scope < 3 ? r->scope : 0]);
		rtnl_route_set_dst(rt, dst);
		if (r->metric)
			rtnl_route_set_priority(rt, r->metric);
		if (src)
			rtnl_route_set_pref_src(rt, src);
		rtnl_route_nh_set_ifindex(nh, ifindex);
		if (gw)
			rtnl_route_nh_set_gateway(nh, gw);
		rtnl_route_add_nexthop(rt, nh);
		nh = NULL; /* the route owns it */
		t->kerr = 0;
		rc = rtnl_route_add(t->sk, rt, NLM_F_EXCL);
		if (rc < 0 && t->kerr == EEXIST)
			rc = 0; /* the kernel's own prefix route, or a second call */
	}
	if (nh)
		rtnl_route_nh_free(nh);
	if (rt)
		rtnl_route_put(rt);
	if (dst)
		nl_addr_put(dst);
	if (gw)
		nl_addr_put(gw);
	if (src)
		nl_addr_put(src);
	return rc < 0 ? ERR("network: %s: add route %s: %s", r->dev, txt, why(t, rc, b, sizeof(b))) : 0;
}

static int add_neigh(struct nlsk *t, const struct proto_net_neigh *e, char *err, size_t errlen)
{
	char b[160], ip[INET6_ADDRSTRLEN], m[18];
	inet_ntop(e->family, e->ip, ip, sizeof(ip));
	proto_net_format_mac(e->mac, m);
	struct rtnl_link *dev = NULL;
	t->kerr = 0;
	int rc = rtnl_link_get_kernel(t->sk, 0, e->dev, &dev);
	if (rc < 0)
		return ERR("network: %s: add neighbour %s: find %s: %s", e->dev, ip, e->dev,
			   why(t, rc, b, sizeof(b)));
	int ifindex = rtnl_link_get_ifindex(dev);
	rtnl_link_put(dev);
	struct rtnl_neigh *ne = rtnl_neigh_alloc();
	struct nl_addr *dst = mkaddr(e->family, e->ip, e->family == AF_INET ? 32 : 128);
	struct nl_addr *ll = mkaddr(AF_LLC, e->mac, 0);
	rc = -NLE_NOMEM;
	if (ne && dst && ll) {
		rtnl_neigh_set_ifindex(ne, ifindex);
		rtnl_neigh_set_family(ne, e->family);
		rtnl_neigh_set_dst(ne, dst);
		rtnl_neigh_set_lladdr(ne, ll);
		rtnl_neigh_set_state(ne, NUD_PERMANENT);
		t->kerr = 0;
		rc = rtnl_neigh_add(t->sk, ne, NLM_F_CREATE | NLM_F_REPLACE);
	}
	if (ne)
		rtnl_neigh_put(ne);
	if (dst)
		nl_addr_put(dst);
	if (ll)
		nl_addr_put(ll);
	return rc < 0 ? ERR("network: %s: add neighbour %s lladdr %s: %s", e->dev, ip, m,
			    why(t, rc, b, sizeof(b)))
		      : 0;
}

static int apply(const struct proto_net *n, int target_ns, int self, bool same_ns, struct nlsk *s,
		 struct nlsk *t, char *err, size_t errlen)
{
	char b[160];
	struct nl_cache *src = NULL, *tgt = NULL;
	struct plan p = {0};
	int rc = rtnl_link_alloc_cache(s->sk, AF_UNSPEC, &src);
	int r = -1;
	if (rc < 0) {
		ERR("network: list the agent's interfaces: %s", why(s, rc, b, sizeof(b)));
		goto out;
	}
	rc = rtnl_link_alloc_cache(t->sk, AF_UNSPEC, &tgt);
	if (rc < 0) {
		ERR("network: list the container's interfaces: %s", why(t, rc, b, sizeof(b)));
		goto out;
	}
	/* find every NIC before changing anything */
	if (resolve(n, src, tgt, same_ns, &p, err, errlen) < 0)
		goto out;
	for (unsigned i = 0; i < n->nifaces; i++)
		if (p.move[i] &&
		    move_link(s, p.move[i], n->ifaces[i].name, target_ns, same_ns, err, errlen) < 0)
			goto out;
	if (lo_up_nl(t, err, errlen) < 0)
		goto out;
	for (unsigned i = 0; i < n->nifaces; i++)
		if (configure_iface(t, &n->ifaces[i], target_ns, self, err, errlen) < 0)
			goto out;
	/* routes on the link first: a gateway must be reachable when its route is added */
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < n->nroutes; i++)
			if (n->routes[i].has_gw == (pass == 1) &&
			    add_route(t, &n->routes[i], err, errlen) < 0)
				goto out;
	for (unsigned i = 0; i < n->nneigh; i++)
		if (add_neigh(t, &n->neigh[i], err, errlen) < 0)
			goto out;
	r = 0;
out:
	for (unsigned i = 0; i < PROTO_NET_MAX_IFACES; i++)
		if (p.move[i])
			rtnl_link_put(p.move[i]);
	if (src)
		nl_cache_free(src);
	if (tgt)
		nl_cache_free(tgt);
	return r;
}

int net_apply(int target_ns, const struct proto_net *n, char *err, size_t errlen)
{
	struct nlsk s = {0}, t = {0};
	struct stat a, c;
	int r = -1;
	if (n->nifaces > PROTO_NET_MAX_IFACES || n->nroutes > PROTO_NET_MAX_ROUTES ||
	    n->nneigh > PROTO_NET_MAX_NEIGH)
		return ERR("network: more entries than the protocol's limits");
	int self = ns_open_self();
	if (self < 0)
		return ERR("network: open /proc/thread-self/ns/net: %s", strerror(errno));
	if (fstat(self, &a) < 0 || fstat(target_ns, &c) < 0) {
		ERR("network: stat the network namespaces: %s", strerror(errno));
		goto out;
	}
	if (nlsk_open(&s) < 0) {
		ERR("network: netlink socket in the agent's network namespace: %s", strerror(errno));
		goto out;
	}
	if (net_enter(target_ns, "*", err, errlen) < 0)
		goto out;
	int e = nlsk_open(&t) < 0 ? errno : 0;
	if (net_leave(self, err, errlen) < 0)
		goto out;
	if (e) {
		ERR("network: netlink socket in the container's network namespace: %s", strerror(e));
		goto out;
	}
	r = apply(n, target_ns, self, a.st_dev == c.st_dev && a.st_ino == c.st_ino, &s, &t, err, errlen);
out:
	nlsk_close(&s);
	nlsk_close(&t);
	close(self);
	return r;
}

int net_lo_up(struct setup_err *e)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return setup_fail(e, "bring lo up", "socket", errno);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		int er = errno;
		close(fd);
		return setup_fail(e, "bring lo up", "get flags of lo", er);
	}
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
			int er = errno;
			close(fd);
			return setup_fail(e, "bring lo up", "set flags of lo", er);
		}
	}
	close(fd);
	return 0;
}
