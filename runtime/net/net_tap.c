/* SPDX-License-Identifier: Apache-2.0 */
/* Taps and tc redirects (Kata's tc-filter model): ingress qdisc + u32 match-all + mirred. */
#include "net.h"

#include <net/if.h> /* before libnl: it pulls linux/if.h, which then defers to glibc */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/netlink.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define INGRESS_HANDLE 0xffff0000u /* ffff: (TC_HANDLE(0xffff, 0) overflows int) */

static struct nl_sock *route_sock(char *err, size_t errlen)
{
	struct nl_sock *sk = nl_socket_alloc();
	int r = sk ? nl_connect(sk, NETLINK_ROUTE) : -NLE_NOMEM;
	if (r < 0) {
		snprintf(err, errlen, "netlink: %s", nl_geterror(r));
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

/* Link up with MTU (0: unchanged), through ioctls on a socket of this netns. */
static int link_up(const char *name, unsigned mtu, char *err, size_t errlen)
{
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (s < 0)
		goto fail;
	if (mtu) {
		ifr.ifr_mtu = (int)mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
			goto fail;
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		goto fail;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		goto fail;
	close(s);
	return 0;
fail:
	snprintf(err, errlen, "tap %s: set %s: %s", name, mtu ? "mtu and up" : "up", strerror(errno));
	if (s >= 0)
		close(s);
	return -1;
}

int net_tap_open(const char *name, unsigned mtu, int *ifindex, char *err, size_t errlen)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "open /dev/net/tun: %s", strerror(errno));
		return -1;
	}
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		snprintf(err, errlen, "create tap %s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	*ifindex = (int)if_nametoindex(name);
	if (*ifindex <= 0 || link_up(name, mtu, err, errlen) < 0) {
		if (*ifindex <= 0)
			snprintf(err, errlen, "tap %s: no index: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The ingress qdisc (ffff:) of interface INDEX, as an object to add or delete. */
static struct rtnl_qdisc *ingress_of(int index)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	if (!q)
		return NULL;
	rtnl_tc_set_ifindex(TC_CAST(q), index);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_INGRESS);
	rtnl_tc_set_handle(TC_CAST(q), INGRESS_HANDLE);
	if (rtnl_tc_set_kind(TC_CAST(q), "ingress") < 0) {
		rtnl_qdisc_put(q);
		return NULL;
	}
	return q;
}

static int add_ingress(struct nl_sock *sk, int index)
{
	struct rtnl_qdisc *q = ingress_of(index);
	if (!q)
		return -NLE_NOMEM;
	int r = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_qdisc_put(q);
	return r;
}

/* u32 "match u32 0 0" (every packet) → mirred egress redirect to TO. */
static int add_redirect(struct nl_sock *sk, int from, int to)
{
	struct rtnl_cls *c = rtnl_cls_alloc();
	struct rtnl_act *a = rtnl_act_alloc();
	int r = -NLE_NOMEM;
	if (!c || !a)
		goto out;
	rtnl_tc_set_ifindex(TC_CAST(c), from);
	rtnl_tc_set_parent(TC_CAST(c), INGRESS_HANDLE);
	if ((r = rtnl_tc_set_kind(TC_CAST(c), "u32")) < 0)
		goto out;
	rtnl_cls_set_protocol(c, ETH_P_ALL);
	rtnl_cls_set_prio(c, 1);
	if ((r = rtnl_u32_add_key_uint32(c, 0, 0, 0, 0)) < 0 || (r = rtnl_u32_set_cls_terminal(c)) < 0)
		goto out;
	if ((r = rtnl_tc_set_kind(TC_CAST(a), "mirred")) < 0)
		goto out;
	rtnl_mirred_set_action(a, TCA_EGRESS_REDIR);
	rtnl_mirred_set_policy(a, TC_ACT_STOLEN);
	rtnl_mirred_set_ifindex(a, (uint32_t)to);
	if ((r = rtnl_u32_add_action(c, a)) < 0)
		goto out;
	r = rtnl_cls_add(sk, c, NLM_F_CREATE | NLM_F_EXCL);
out:
	if (a)
		rtnl_act_put(a);
	if (c)
		rtnl_cls_put(c);
	return r;
}

static int del_ingress(struct nl_sock *sk, int index)
{
	struct rtnl_qdisc *q = ingress_of(index);
	if (!q)
		return -NLE_NOMEM;
	int r = rtnl_qdisc_delete(sk, q);
	rtnl_qdisc_put(q);
	return r;
}

int net_redirect(int from_index, int to_index, const char *from, const char *to, char *err, size_t errlen)
{
	struct nl_sock *sk = route_sock(err, errlen);
	if (!sk)
		return -1;
	int r = add_ingress(sk, from_index);
	if (r < 0) {
		snprintf(err, errlen, "%s: add ingress qdisc: %s", from, nl_geterror(r));
		nl_socket_free(sk);
		return -1;
	}
	r = add_redirect(sk, from_index, to_index);
	if (r < 0) {
		snprintf(err, errlen, "%s: add tc redirect to %s: %s", from, to, nl_geterror(r));
		del_ingress(sk, from_index);
		nl_socket_free(sk);
		return -1;
	}
	nl_socket_free(sk);
	return 0;
}

void net_unredirect(int index)
{
	char err[256];
	struct nl_sock *sk = route_sock(err, sizeof(err));
	if (!sk)
		return;
	int r = del_ingress(sk, index);
	if (r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NODEV)
		log_warn("network: remove ingress qdisc of interface %d: %s", index, nl_geterror(r));
	nl_socket_free(sk);
}

bool net_has_ingress(int index)
{
	char err[256];
	struct nl_sock *sk = route_sock(err, sizeof(err));
	struct nl_cache *cache = NULL;
	bool found = false;
	if (!sk)
		return false;
	if (rtnl_qdisc_alloc_cache(sk, &cache) == 0) {
		struct rtnl_qdisc *q = rtnl_qdisc_get_by_parent(cache, index, TC_H_INGRESS);
		if (q) {
			found = true;
			rtnl_qdisc_put(q);
		}
		nl_cache_free(cache);
	}
	nl_socket_free(sk);
	return found;
}
