/* SPDX-License-Identifier: Apache-2.0 */
/* Device kinds by name, and "k=v,k=v" option parsing for their constructors. */
#include "vmm/devices/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Device constructors live in their own files. A kind whose file is not linked
 * into this program (weak symbol left NULL) is simply not offered. */
struct virtio_dev_kind {
	const char *name;
	virtio_dev_ctor create;
};

#pragma weak virtio_rng_create
#pragma weak virtio_vsock_create
#pragma weak virtio_fs_create
#pragma weak virtio_net_create
#pragma weak virtio_blk_create

static const struct virtio_dev_kind kinds[] = {
    {"rng", virtio_rng_create}, {"vsock", virtio_vsock_create}, {"fs", virtio_fs_create},
    {"net", virtio_net_create}, {"blk", virtio_blk_create},
};

const char *virtio_dev_kinds(void)
{
	static char buf[128];
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!kinds[i].create)
			continue;
		int w = snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? ", " : "", kinds[i].name);
		if (w < 0 || (size_t)w >= sizeof(buf) - n)
			break;
		n += (size_t)w;
	}
	return buf;
}

struct virtio_dev *virtio_dev_create(const char *spec, struct evloop *loop, char *err, size_t errlen)
{
	if (!spec || !*spec) {
		snprintf(err, errlen, "empty device spec (known kinds: %s)", virtio_dev_kinds());
		return NULL;
	}
	const char *comma = strchr(spec, ',');
	size_t klen = comma ? (size_t)(comma - spec) : strlen(spec);
	const char *opts = comma ? comma + 1 : "";
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!kinds[i].create || strlen(kinds[i].name) != klen ||
		    memcmp(kinds[i].name, spec, klen) != 0)
			continue;
		char sub[256] = "";
		struct virtio_dev *d = kinds[i].create(opts, loop, sub, sizeof(sub));
		if (!d)
			snprintf(err, errlen, "device %s: %s", kinds[i].name, sub[0] ? sub : "cannot create");
		return d;
	}
	snprintf(err, errlen, "unknown device kind '%.*s' (known kinds: %s)", (int)(klen > 64 ? 64 : klen),
		 spec, virtio_dev_kinds());
	return NULL;
}

int virtio_parse_opts(const char *opts, int (*fn)(const char *k, const char *v, void *opaque), void *opaque)
{
	if (!opts || !*opts)
		return 0;
	char *dup = strdup(opts);
	if (!dup)
		return -ENOMEM;
	int ret = 0;
	char *save = NULL;
	for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *v = "";
		if (eq) {
			*eq = '\0';
			v = eq + 1;
		}
		if (!*tok) {
			ret = -EINVAL;
			break;
		}
		ret = fn(tok, v, opaque);
		if (ret)
			break;
	}
	free(dup);
	return ret;
}
