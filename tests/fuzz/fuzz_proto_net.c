/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the agent's decoder of the "network" op (hostile host input as the agent sees it) and
 * the text forms both sides share; whatever decodes must re-encode to the same structure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto_net.h"

static void check(const struct proto_net *n)
{
	if (n->nifaces > PROTO_NET_MAX_IFACES || n->nroutes > PROTO_NET_MAX_ROUTES ||
	    n->nneigh > PROTO_NET_MAX_NEIGH)
		abort();
	for (unsigned i = 0; i < n->nifaces; i++) {
		const struct proto_net_iface *f = &n->ifaces[i];
		size_t len = strnlen(f->name, sizeof(f->name));
		if (len == 0 || len >= sizeof(f->name) || strpbrk(f->name, "/: \t\n") ||
		    f->naddrs > PROTO_NET_MAX_ADDRS || (f->mtu && (f->mtu < 68 || f->mtu > 65535)))
			abort();
		for (unsigned k = 0; k < f->naddrs; k++)
			if (f->addrs[k].prefix > (f->addrs[k].family == 2 /* AF_INET */ ? 32u : 128u))
				abort();
	}
	for (unsigned i = 0; i < n->nroutes; i++)
		if (n->routes[i].family != n->routes[i].dst.family ||
		    n->routes[i].scope > PROTO_NET_SCOPE_HOST)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	uint8_t mac[6];
	struct proto_net_addr a;
	proto_net_parse_mac(s, mac);
	proto_net_parse_cidr(s, &a);

	char err[256];
	yajl_val t = json_parse(s, size, err, sizeof(err));
	static struct proto_net n, back;
	if (t && proto_parse_net(t, &n, err, sizeof(err)) == 0) {
		check(&n);
		struct json_gen pg;
		const char *json;
		size_t len;
		if (json_gen_begin(&pg) == 0) {
			proto_gen_net(&pg, &n);
			if (json_gen_end(&pg, &json, &len) == 0) {
				char *copy = strndup(json, len);
				yajl_val t2 = copy ? json_parse(copy, len, err, sizeof(err)) : NULL;
				if (!copy || !t2 || proto_parse_net(t2, &back, err, sizeof(err)) < 0 ||
				    memcmp(&n, &back, sizeof(n)))
					abort();
				yajl_tree_free(t2);
				free(copy);
			}
		}
		json_gen_free(&pg);
	}
	if (t)
		yajl_tree_free(t);
	free(s);
	return 0;
}
