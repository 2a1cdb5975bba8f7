/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The inputs of the backend decision (runtime/backend/backend_plan.h) that only the runtime
 * has. The first of these that is set decides ("auto" means: decide automatically):
 *   1. the annotation io.runm.backend (per container),
 *   2. the global flag --backend (per invocation; the shim inherits it),
 *   3. the environment variable RUNM_BACKEND,
 *   4. "backend" in the config file: $RUNM_CONFIG, else /etc/runm/config.json,
 * then the automatic choice: runm-vmm where KVM has hardware virtualization,
 * else QEMU (TCG) with runm's vhost-user devices when QEMU is installed.
 */
#ifndef RUNM_RUNTIME_BACKEND_CHOICE_H
#define RUNM_RUNTIME_BACKEND_CHOICE_H

#include <stdbool.h>
#include <stddef.h>

#include "backend/backend_plan.h"

#define RUNM_CONFIG_DEFAULT "/etc/runm/config.json"

/* "auto", "runm-vmm" or "qemu". */
bool backend_name_valid(const char *name);

/* runm's config file (docs/usage.md, "Host-wide configuration"):
 *   {"backend": "auto"|"runm-vmm"|"qemu",
 *    "jail": {"id_base": N, "id_count": N}}   the uids/gids of the VM processes (1 ≤ base, base +
 *                                             count ≤ 2^32 - 1; default jail.h's range) */
struct runm_config {
	char backend[16];		      /* "" when not set */
	unsigned jail_id_base, jail_id_count; /* 0 when not set */
	bool rootfs_device;		      /* the default of io.runm.rootfs-device (runtime/disks.h) */
};

/* Read the config file into *c. A missing file is fine unless must_exist. 0, or -1 with a
 * reason in err. */
int backend_config_read(const char *path, bool must_exist, struct runm_config *c, char *err, size_t errlen);

/* The same for the file's text (NUL-terminated); path only names it in errors. */
int backend_config_parse(const char *json, const char *path, struct runm_config *c, char *err, size_t errlen);

/* The decision (runtime/backend/backend_plan.h) with this call's annotation and --backend flag
 * (NULL when not given), RUNM_BACKEND, the config file, RUNM_TEST_AGENT_ON_HOST and the host
 * probed once (into *probe when not NULL). The config file's jail id range is applied to the
 * jails this process starts (jail_set_id_range). 0, or -1 with ERR (the plan then as there). */
int backend_choose(const char *annotation, const char *flag, struct host_probe *probe, struct backend_plan *p,
		   char *err, size_t errlen);

/* The same, also handing the config file read into *CFG. */
int backend_choose_cfg(const char *annotation, const char *flag, struct host_probe *probe,
		       struct backend_plan *p, struct runm_config *cfg, char *err, size_t errlen);

#endif
