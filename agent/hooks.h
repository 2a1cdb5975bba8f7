/* SPDX-License-Identifier: Apache-2.0 */
/* OCI hooks run in the guest (hooks.c). */
#ifndef RUNM_AGENT_HOOKS_H
#define RUNM_AGENT_HOOKS_H

#include <stddef.h>

struct proc;
struct proto_hook;
/* Op "hooks": run the N hooks of KIND in the container of INIT, in order, STATE on their
 * stdin; the first failure stops and fills ERR. */
int hooks_run(const struct proc *init, const char *kind, const struct proto_hook *h, size_t n,
	      const char *state, char *err, size_t errlen);

#endif
