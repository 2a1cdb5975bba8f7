/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RUNM_RUNTIME_GUEST_CONFIG_H
#define RUNM_RUNTIME_GUEST_CONFIG_H

#include <limits.h>
#include <stdbool.h>

#include "spec.h"

#define GUEST_MAX_SHARES 4 /* = VM_MAX_FS */
#define GUEST_SHARE_BASE "/run/runm"

/* virtio-fs shares the VM needs: [0] is the rootfs. */
struct guest_shares {
	int n;
	char tag[GUEST_MAX_SHARES][16];
	char host[GUEST_MAX_SHARES][PATH_MAX];
	char guest[GUEST_MAX_SHARES][64];
};

/* Rewrite S's config.json for the guest (see guest_config.c); files of bind mounts are staged
 * under DIR/binds. ON_HOST (the agent-on-host test harness): only root.path made absolute and
 * hooks dropped; no shares. *OUT malloc'd. 0, or -1 with ERR. */
int guest_config(const struct spec *s, const char *dir, bool on_host, struct guest_shares *sh, char **out,
		 char *err, size_t errlen);

#endif
