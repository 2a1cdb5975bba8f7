/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which VMM backend runs a container's VM, and why. The first of these that is
 * set decides ("auto" means: decide automatically):
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

struct backend_inputs {
	const char *annotation, *flag, *env, *config; /* NULL or "" when not given */
	const char *config_path;		      /* named in the reason */
	bool hw;				      /* hardware virtualization usable */
	const char *hw_why;			      /* host_hw_virt's explanation */
	bool have_qemu;
};

/* The pure decision: backend ("runm-vmm" | "qemu") and a one-line reason. */
int backend_pick(const struct backend_inputs *in, char *backend, size_t cap, char *why, size_t whycap,
		 char *err, size_t errlen);

/* backend_pick with the environment, the config file and the host filled in. */
int backend_choose(const char *annotation, const char *flag, char *backend, size_t cap, char *why,
		   size_t whycap, char *err, size_t errlen);

#endif
