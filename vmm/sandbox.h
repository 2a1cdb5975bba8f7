/* SPDX-License-Identifier: Apache-2.0 */
/* The confinement of runm-vmm's own threads and of its vhost-user device servers: capabilities
 * dropped (the fs server keeps its file set) and one seccomp allowlist per thread kind. */
#ifndef RUNM_VMM_SANDBOX_H
#define RUNM_VMM_SANDBOX_H

#include <stdbool.h>

int sandbox_drop_caps(bool keep_fs_caps);
int sandbox_seccomp_vcpu(void);
int sandbox_seccomp_loop(void);
int sandbox_seccomp_control(void);

#endif
