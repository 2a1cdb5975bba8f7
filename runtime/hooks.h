/* SPDX-License-Identifier: Apache-2.0 */
/* OCI hooks that run on the host: the state JSON on stdin, their timeout enforced. */
#ifndef RUNM_RUNTIME_HOOKS_H
#define RUNM_RUNTIME_HOOKS_H

#include <stdbool.h>

#include "spec.h"

/* Run every hook of KIND in order. STOP_ON_ERROR: return -1 at the first failure
 * (prestart/createRuntime/startContainer…); otherwise warn and continue (poststart/poststop). */
int run_hooks(const struct spec *s, enum hook_kind kind, const char *state_json, bool stop_on_error);

/* FD (>= 0): hooks run by run_hooks enter this mount namespace (the host's /proc/self/ns/mnt)
 * before exec, for a caller that left it (runtime/host_view.h); -1: they stay in ours. */
void hooks_set_host_mntns(int fd);

#endif
