/* SPDX-License-Identifier: Apache-2.0 */
/* The "network" op's codec (proto_net.h): the host's encoder and the agent's strict decoder. */
#include "proto/proto_net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* --- text forms ------------------------------------------------------------------------------ */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int proto_net_parse_mac(const char *s, uint8_t mac[6])
{
	if (!s || strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void proto_net_format_mac(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* A bare address: AF_INET or AF_INET6 (A filled), or -1. */
static int parse_ip(const char *s, uint8_t a[16])
{
	memset(a, 0, 16);
	if (!s || strlen(s) >= INET6_ADDRSTRLEN)
		return -1;
	if (inet_pton(AF_INET, s, a) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, a) == 1)
		return AF_INET6;
	return -1;
}

int proto_net_parse_cidr(const char *s, struct proto_net_addr *a)
{
	memset(a, 0, sizeof(*a));
	const char *slash = s ? strchr(s, '/') : NULL;
	if (!slash || slash == s || (size_t)(slash - s) >= INET6_ADDRSTRLEN)
		return -1;
	char ip[INET6_ADDRSTRLEN];
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	const char *p = slash + 1;
	size_t nd = strspn(p, "0123456789");
	if (nd == 0 || nd > 3 || p[nd] != '\0' || (nd > 1 && p[0] == '0'))
		return -1;
	unsigned prefix = 0;
	for (size_t i = 0; i < nd; i++)
		prefix = prefix * 10 + (unsigned)(p[i] - '0');
	int fam = parse_ip(ip, a->addr);
	if (fam < 0 || prefix > (fam == AF_INET ? 32u : 128u)) {
		memset(a, 0, sizeof(*a));
		return -1;
	}
	a->family = fam;
	a->prefix = prefix;
	return 0;
}

static size_t alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

static void format_ip(int family, const uint8_t *a, char out[INET6_ADDRSTRLEN])
{
	if (!inet_ntop(family, a, out, INET6_ADDRSTRLEN))
		snprintf(out, INET6_ADDRSTRLEN, "?");
}

static void format_cidr(const struct proto_net_addr *a, char out[INET6_ADDRSTRLEN + 4])
{
	char ip[INET6_ADDRSTRLEN];
	format_ip(a->family, a->addr, ip);
	snprintf(out, INET6_ADDRSTRLEN + 4, "%s/%u", ip, a->prefix);
}

static const char *const scope_names[] = {"universe", "link", "host"};

/* --- encoding -------------------------------------------------------------------------------- */
void proto_gen_net(struct json_gen *pg, const struct proto_net *n)
{
	char buf[INET6_ADDRSTRLEN + 4], mac[18];
	json_gen_key(pg, "interfaces");
	if (pg->err)
		return;
	yajl_gen_array_open(pg->g);
	for (unsigned i = 0; i < n->nifaces && i < PROTO_NET_MAX_IFACES; i++) {
		const struct proto_net_iface *f = &n->ifaces[i];
		yajl_gen_map_open(pg->g);
		json_gen_str(pg, "name", f->name);
		proto_net_format_mac(f->match_mac, mac);
		json_gen_str(pg, "match_mac", mac);
		proto_net_format_mac(f->mac, mac);
		json_gen_str(pg, "mac", mac);
		if (f->mtu)
			json_gen_int(pg, "mtu", f->mtu);
		json_gen_key(pg, "addresses");
		if (!pg->err) {
			yajl_gen_array_open(pg->g);
			for (unsigned k = 0; k < f->naddrs && k < PROTO_NET_MAX_ADDRS; k++) {
				format_cidr(&f->addrs[k], buf);
				yajl_gen_string(pg->g, (const unsigned char *)buf, strlen(buf));
			}
			yajl_gen_array_close(pg->g);
		}
		yajl_gen_map_close(pg->g);
	}
	yajl_gen_array_close(pg->g);

	json_gen_key(pg, "routes");
	if (pg->err)
		return;
	yajl_gen_array_open(pg->g);
	for (unsigned i = 0; i < n->nroutes && i < PROTO_NET_MAX_ROUTES; i++) {
		const struct proto_net_route *r = &n->routes[i];
		yajl_gen_map_open(pg->g);
		format_cidr(&r->dst, buf);
		json_gen_str(pg, "dst", buf);
		if (r->has_gw) {
			format_ip(r->dst.family, r->gw, buf);
			json_gen_str(pg, "gateway", buf);
		}
		json_gen_str(pg, "dev", r->dev);
		if (r->has_src) {
			format_ip(r->dst.family, r->src, buf);
			json_gen_str(pg, "src", buf);
		}
		if (r->metric)
			json_gen_int(pg, "metric", r->metric);
		if ((unsigned)r->scope < 3)
			json_gen_str(pg, "scope", scope_names[r->scope]);
		yajl_gen_map_close(pg->g);
	}
	yajl_gen_array_close(pg->g);

	json_gen_key(pg, "neighbors");
	if (pg->err)
		return;
	yajl_gen_array_open(pg->g);
	for (unsigned i = 0; i < n->nneigh && i < PROTO_NET_MAX_NEIGH; i++) {
		const struct proto_net_neigh *e = &n->neigh[i];
		yajl_gen_map_open(pg->g);
		format_ip(e->family, e->ip, buf);
		json_gen_str(pg, "ip", buf);
		proto_net_format_mac(e->mac, mac);
		json_gen_str(pg, "mac", mac);
		json_gen_str(pg, "dev", e->dev);
		yajl_gen_map_close(pg->g);
	}
	if (yajl_gen_array_close(pg->g) != yajl_gen_status_ok)
		pg->err = 1;
}

/* --- decoding -------------------------------------------------------------------------------- */
#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* An array member KEY of OBJ: *out NULL and 0 when absent or null (and !required), else -1
 * for the wrong type or more than MAX entries. */
static int get_array(yajl_val obj, const char *key, bool required, size_t max, yajl_val *out, char *err,
		     size_t errlen)
{
	*out = NULL;
	yajl_val v = json_get(obj, key, yajl_t_any);
	if (!v || YAJL_IS_NULL(v))
		return required ? ERR("network: no \"%s\" array", key) : 0;
	if (!YAJL_IS_ARRAY(v))
		return ERR("network: \"%s\" is not an array", key);
	if (v->u.array.len > max)
		return ERR("network: %zu %s (at most %zu)", v->u.array.len, key, max);
	*out = v;
	return 0;
}

/* Linux's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or whitespace. */
static bool valid_ifname(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n >= PROTO_NET_IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' || c == ':' || c <= ' ' || c == 0x7f)
			return false;
	}
	return true;
}

static bool mac_zero(const uint8_t m[6])
{
	static const uint8_t z[6];
	return !memcmp(m, z, 6);
}

/* An interface's MAC: unicast (bit 0 of the first byte clear) and not all zero. */
static int get_unicast_mac(yajl_val o, const char *key, const char *what, uint8_t mac[6], char *err,
			   size_t errlen)
{
	const char *s = json_get_str(o, key);
	if (!s || proto_net_parse_mac(s, mac) < 0)
		return ERR("network: %s: \"%s\" is not a MAC like \"02:00:00:00:00:01\"", what, key);
	if ((mac[0] & 1) || mac_zero(mac))
		return ERR("network: %s: %s %s is not a unicast MAC", what, key, s);
	return 0;
}

static int parse_iface(yajl_val o, unsigned idx, struct proto_net_iface *f, char *err, size_t errlen)
{
	char what[40];
	snprintf(what, sizeof(what), "interfaces[%u]", idx);
	if (!YAJL_IS_OBJECT(o))
		return ERR("network: %s: not an object", what);
	const char *name = json_get_str(o, "name");
	if (!valid_ifname(name))
		return ERR("network: %s: \"name\" must be 1-%d bytes without '/', ':' or whitespace", what,
			   PROTO_NET_IFNAMSIZ - 1);
	if (!strcmp(name, "lo"))
		return ERR("network: %s: \"lo\" is the container's loopback, not a NIC to configure", what);
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(what, sizeof(what), "%s", f->name);
	if (get_unicast_mac(o, "match_mac", what, f->match_mac, err, errlen) < 0)
		return -1;
	if (!json_get(o, "mac", yajl_t_any))
		memcpy(f->mac, f->match_mac, 6);
	else if (get_unicast_mac(o, "mac", what, f->mac, err, errlen) < 0)
		return -1;
	long long mtu = 0;
	if (json_get(o, "mtu", yajl_t_any) &&
	    (json_get_int(o, "mtu", 0, 65535, &mtu) < 0 || (mtu != 0 && mtu < 68)))
		return ERR("network: %s: \"mtu\" must be an integer in [68, 65535] (or 0: unchanged)", what);
	f->mtu = (unsigned)mtu;
	yajl_val a;
	if (get_array(o, "addresses", false, PROTO_NET_MAX_ADDRS, &a, err, errlen) < 0)
		return ERR("network: %s: \"addresses\" must be an array of at most %d \"ip/prefix\" strings",
			   what, PROTO_NET_MAX_ADDRS);
	for (size_t k = 0; a && k < a->u.array.len; k++) {
		yajl_val v = a->u.array.values[k];
		struct proto_net_addr *ad = &f->addrs[f->naddrs];
		if (!YAJL_IS_STRING(v) || proto_net_parse_cidr(v->u.string, ad) < 0)
			return ERR("network: %s: addresses[%zu] is not \"ip/prefix\"", what, k);
		for (unsigned j = 0; j < f->naddrs; j++)
			if (f->addrs[j].family == ad->family && !memcmp(f->addrs[j].addr, ad->addr, 16))
				return ERR("network: %s: address %s listed twice", what, v->u.string);
		f->naddrs++;
	}
	return 0;
}

/* DEV of a route/neighbour: one of the interfaces, or "lo" when LO_OK. */
static int check_dev(const struct proto_net *n, yajl_val o, const char *what, bool lo_ok, char dev[],
		     char *err, size_t errlen)
{
	const char *d = json_get_str(o, "dev");
	if (!valid_ifname(d))
		return ERR("network: %s: \"dev\" must name an interface", what);
	bool known = lo_ok && !strcmp(d, "lo");
	for (unsigned i = 0; i < n->nifaces && !known; i++)
		known = !strcmp(n->ifaces[i].name, d);
	if (!known)
		return ERR("network: %s: dev %s is not among the interfaces%s", what, d,
			   lo_ok ? " (or lo)" : "");
	snprintf(dev, PROTO_NET_IFNAMSIZ, "%s", d);
	return 0;
}

/* Optional address KEY of a route, of FAMILY: 0 absent, 1 set, -1 bad. */
static int route_ip(yajl_val o, const char *key, int family, uint8_t out[16], const char *what, char *err,
		    size_t errlen)
{
	if (!json_get(o, key, yajl_t_any))
		return 0;
	const char *s = json_get_str(o, key);
	int fam = parse_ip(s, out);
	if (fam < 0)
		return ERR("network: %s: \"%s\" is not an IP address", what, key);
	if (fam != family)
		return ERR("network: %s: %s %s is not of the destination's family", what, key, s);
	return 1;
}

static int parse_route(const struct proto_net *n, yajl_val o, unsigned idx, struct proto_net_route *r,
		       char *err, size_t errlen)
{
	char what[32];
	snprintf(what, sizeof(what), "routes[%u]", idx);
	if (!YAJL_IS_OBJECT(o))
		return ERR("network: %s: not an object", what);
	const char *dst = json_get_str(o, "dst");
	if (!dst || proto_net_parse_cidr(dst, &r->dst) < 0)
		return ERR("network: %s: \"dst\" is not \"ip/prefix\"", what);
	r->family = r->dst.family;
	/* the kernel refuses a destination with host bits set: say so here */
	for (unsigned b = r->dst.prefix; b < 8 * alen(r->family); b++)
		if (r->dst.addr[b / 8] & (0x80 >> (b % 8)))
			return ERR("network: %s: dst %s has bits set beyond its prefix", what, dst);
	int g = route_ip(o, "gateway", r->family, r->gw, what, err, errlen);
	int s = g < 0 ? -1 : route_ip(o, "src", r->family, r->src, what, err, errlen);
	if (g < 0 || s < 0)
		return -1;
	r->has_gw = g == 1;
	r->has_src = s == 1;
	if (check_dev(n, o, what, true, r->dev, err, errlen) < 0)
		return -1;
	long long metric = 0;
	if (json_get(o, "metric", yajl_t_any) && json_get_int(o, "metric", 0, UINT32_MAX, &metric) < 0)
		return ERR("network: %s: \"metric\" must be an integer in [0, %u]", what, UINT32_MAX);
	r->metric = (unsigned)metric;
	if (!json_get(o, "scope", yajl_t_any)) {
		/* as ip-route(8): a route without a gateway is on the link */
		r->scope = r->has_gw ? PROTO_NET_SCOPE_UNIVERSE : PROTO_NET_SCOPE_LINK;
		return 0;
	}
	const char *sc = json_get_str(o, "scope");
	for (unsigned i = 0; sc && i < 3; i++)
		if (!strcmp(sc, scope_names[i])) {
			r->scope = (enum proto_net_scope)i;
			return 0;
		}
	return ERR("network: %s: \"scope\" must be \"universe\", \"link\" or \"host\"", what);
}

static int parse_neigh(const struct proto_net *n, yajl_val o, unsigned idx, struct proto_net_neigh *e,
		       char *err, size_t errlen)
{
	char what[32];
	snprintf(what, sizeof(what), "neighbors[%u]", idx);
	if (!YAJL_IS_OBJECT(o))
		return ERR("network: %s: not an object", what);
	e->family = parse_ip(json_get_str(o, "ip"), e->ip);
	if (e->family < 0)
		return ERR("network: %s: \"ip\" is not an IP address", what);
	const char *mac = json_get_str(o, "mac");
	if (!mac || proto_net_parse_mac(mac, e->mac) < 0)
		return ERR("network: %s: \"mac\" is not a MAC like \"02:00:00:00:00:01\"", what);
	return check_dev(n, o, what, false, e->dev, err, errlen);
}

int proto_parse_net(yajl_val root, struct proto_net *n, char *err, size_t errlen)
{
	memset(n, 0, sizeof(*n));
	yajl_val ifs, rts, nbs;
	if (!root || !YAJL_IS_OBJECT(root))
		return ERR("network: request is not an object");
	if (get_array(root, "interfaces", true, PROTO_NET_MAX_IFACES, &ifs, err, errlen) < 0 ||
	    get_array(root, "routes", false, PROTO_NET_MAX_ROUTES, &rts, err, errlen) < 0 ||
	    get_array(root, "neighbors", false, PROTO_NET_MAX_NEIGH, &nbs, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; i < ifs->u.array.len; i++) {
		struct proto_net_iface *f = &n->ifaces[i];
		if (parse_iface(ifs->u.array.values[i], (unsigned)i, f, err, errlen) < 0)
			goto fail;
		for (unsigned j = 0; j < i; j++) {
			if (!strcmp(n->ifaces[j].name, f->name)) {
				snprintf(err, errlen, "network: interface name %s given twice", f->name);
				goto fail;
			}
			if (!memcmp(n->ifaces[j].match_mac, f->match_mac, 6)) {
				char m[18];
				proto_net_format_mac(f->match_mac, m);
				snprintf(err, errlen, "network: %s and %s have the same match_mac %s",
					 n->ifaces[j].name, f->name, m);
				goto fail;
			}
		}
		n->nifaces++;
	}
	for (size_t i = 0; rts && i < rts->u.array.len; i++) {
		if (parse_route(n, rts->u.array.values[i], (unsigned)i, &n->routes[i], err, errlen) < 0)
			goto fail;
		n->nroutes++;
	}
	for (size_t i = 0; nbs && i < nbs->u.array.len; i++) {
		if (parse_neigh(n, nbs->u.array.values[i], (unsigned)i, &n->neigh[i], err, errlen) < 0)
			goto fail;
		n->nneigh++;
	}
	return 0;
fail:
	memset(n, 0, sizeof(*n));
	return -1;
}
