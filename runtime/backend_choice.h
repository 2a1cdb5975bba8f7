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

/* Read the config file: its "backend" (empty when not set) into backend. A
 * missing file is fine unless must_exist. 0, or -1 with a reason in err. */
int backend_config_read(const char *path, bool must_exist, char *backend, size_t cap, char *err,
			size_t errlen);

/* The same for the file's text (NUL-terminated); path only names it in errors. */
int backend_config_parse(const char *json, const char *path, char *backend, size_t cap, char *err,
			 size_t errlen);

/* The decision (runtime/backend/backend_plan.h) with this call's annotation and --backend flag
 * (NULL when not given), RUNM_BACKEND, the config file, RUNM_TEST_AGENT_ON_HOST and the host
 * probed once (into *probe when not NULL). 0, or -1 with ERR (the plan then as there). */
int backend_choose(const char *annotation, const char *flag, struct host_probe *probe, struct backend_plan *p,
		   char *err, size_t errlen);

#endif
