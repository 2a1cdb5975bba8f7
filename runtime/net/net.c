/* SPDX-License-Identifier: Apache-2.0 */
/* The container's netns: which one, and wiring its interfaces through to the guest (net.h). */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "log.h"
#include "runtime/spec.h"

static const char *netns_path(const struct spec *s, bool *present)
{
	*present = false;
	yajl_val lnx = json_get(s->root, "linux", yajl_t_object);
	yajl_val nss = lnx ? json_get(lnx, "namespaces", yajl_t_array) : NULL;
	for (size_t i = 0; nss && i < nss->u.array.len; i++) {
		yajl_val e = nss->u.array.values[i];
		const char *type = YAJL_IS_OBJECT(e) ? json_get_str(e, "type") : NULL;
		if (type && !strcmp(type, "network")) {
			*present = true;
			const char *p = json_get_str(e, "path");
			return p && *p ? p : NULL;
		}
	}
	return NULL;
}

static int join_path(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "network namespace %s: %s", path, strerror(errno));
		return -1;
	}
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0 || (sf.f_type != NSFS_MAGIC && sf.f_type != PROC_SUPER_MAGIC) ||
	    ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
		snprintf(err, errlen, "network namespace %s: not a network namespace", path);
		close(fd);
		return -1;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		snprintf(err, errlen, "join network namespace %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int net_enter(const struct spec *s, struct net_state *ns, char *err, size_t errlen)
{
	memset(ns, 0, sizeof(*ns));
	for (unsigned i = 0; i < PROTO_NET_MAX_IFACES; i++)
		ns->link[i].tap_fd = -1;
	bool present;
	const char *path = netns_path(s, &present);
	if (!present) {
		ns->mode = NET_HOST;
		log_warn("the spec has no network namespace (host network): a microVM cannot share the "
			 "host's network stack; the container gets the VM's own, with loopback only");
		return 0;
	}
	if (!path) {
		if (unshare(CLONE_NEWNET) < 0) {
			snprintf(err, errlen, "new network namespace: %s", strerror(errno));
			return -1;
		}
		ns->mode = NET_NEW;
		return 0;
	}
	if (join_path(path, err, errlen) < 0)
		return -1;
	ns->mode = NET_PATH;
	snprintf(ns->path, sizeof(ns->path), "%s", path);
	return 0;
}

static void random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6)
		memset(mac, 0x5a, 6);
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
}

/* Tap + redirects for link I (its veth fields set); undone on failure. */
static int wire_one(struct net_link *l, unsigned i, bool redirect, char *err, size_t errlen)
{
	snprintf(l->tap, sizeof(l->tap), "tap%u_runm", i);
	l->tap_fd = net_tap_open(l->tap, l->mtu, &l->tap_index, err, errlen);
	if (l->tap_fd < 0)
		return -1;
	if (redirect && net_redirect(l->veth_index, l->tap_index, l->veth, l->tap, err, errlen) < 0) {
		close(l->tap_fd);
		l->tap_fd = -1;
		return -1;
	}
	if (redirect && net_redirect(l->tap_index, l->veth_index, l->tap, l->veth, err, errlen) < 0) {
		net_unredirect(l->veth_index);
		close(l->tap_fd);
		l->tap_fd = -1;
		return -1;
	}
	l->wired = redirect;
	return 0;
}

/* Interfaces another runm container already carries (a pod's netns) are not wired twice. */
static int check_free(const struct proto_net *cfg, const int *index, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->nifaces; i++)
		if (net_has_ingress(index[i])) {
			snprintf(err, errlen,
				 "interface %s already has an ingress qdisc (wired by another runm "
				 "container or by the engine): runm does not redirect it twice",
				 cfg->ifaces[i].name);
			return -1;
		}
	return 0;
}

int net_wire(struct net_state *ns, char *err, size_t errlen)
{
	if (ns->mode == NET_HOST)
		return 0;
	int index[PROTO_NET_MAX_IFACES];
	if (net_discover(&ns->cfg, index, err, errlen) < 0 || check_free(&ns->cfg, index, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < ns->cfg.nifaces; i++) {
		struct net_link *l = &ns->link[i];
		struct proto_net_iface *f = &ns->cfg.ifaces[i];
		memcpy(l->veth, f->name, sizeof(l->veth)); /* both PROTO_NET_IFNAMSIZ, NUL-terminated */
		l->veth_index = index[i];
		l->mtu = f->mtu;
		memcpy(l->boot_mac, f->mac, 6);
		memcpy(f->match_mac, f->mac, 6);
		if (wire_one(l, i, true, err, errlen) < 0) {
			net_release(ns);
			return -1;
		}
		ns->n = i + 1;
	}
	if (ns->cfg.nifaces == 0 && ns->mode == NET_NEW) {
		struct net_link *l = &ns->link[0];
		random_mac(l->boot_mac);
		if (wire_one(l, 0, false, err, errlen) < 0)
			return -1;
		ns->n = 1;
	}
	return 0;
}

int net_late(struct net_state *ns, bool *changed, char *err, size_t errlen)
{
	*changed = false;
	if (ns->n != 1 || ns->link[0].wired || ns->link[0].veth[0])
		return 0;
	struct proto_net cfg;
	int index[PROTO_NET_MAX_IFACES];
	if (net_discover(&cfg, index, err, errlen) < 0)
		return -1;
	if (cfg.nifaces == 0)
		return 0;
	if (cfg.nifaces > 1)
		log_warn("network: %u interfaces appeared after create; only %s is wired (one spare NIC)",
			 cfg.nifaces, cfg.ifaces[0].name);
	if (check_free(&cfg, index, err, errlen) < 0)
		return -1;
	struct net_link *l = &ns->link[0];
	if (net_redirect(index[0], l->tap_index, cfg.ifaces[0].name, l->tap, err, errlen) < 0)
		return -1;
	if (net_redirect(l->tap_index, index[0], l->tap, cfg.ifaces[0].name, err, errlen) < 0) {
		net_unredirect(index[0]);
		return -1;
	}
	snprintf(l->veth, sizeof(l->veth), "%s", cfg.ifaces[0].name);
	l->veth_index = index[0];
	l->wired = true;
	/* keep only the first interface and what refers to it */
	ns->cfg = cfg;
	ns->cfg.nifaces = 1;
	memcpy(ns->cfg.ifaces[0].match_mac, l->boot_mac, 6);
	unsigned nr = 0, nn = 0;
	for (unsigned i = 0; i < cfg.nroutes; i++)
		if (!strcmp(cfg.routes[i].dev, l->veth))
			ns->cfg.routes[nr++] = cfg.routes[i];
	for (unsigned i = 0; i < cfg.nneigh; i++)
		if (!strcmp(cfg.neigh[i].dev, l->veth))
			ns->cfg.neigh[nn++] = cfg.neigh[i];
	ns->cfg.nroutes = nr;
	ns->cfg.nneigh = nn;
	*changed = true;
	return 0;
}

void net_release(struct net_state *ns)
{
	for (unsigned i = 0; i < ns->n; i++) {
		struct net_link *l = &ns->link[i];
		if (l->wired)
			net_unredirect(l->veth_index);
		l->wired = false;
		if (l->tap_fd >= 0)
			close(l->tap_fd); /* a non-persistent tap goes with its last fd, its qdisc too */
		l->tap_fd = -1;
	}
	ns->n = 0;
}
