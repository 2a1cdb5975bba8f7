/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "hooks" op (docs/protocol.md): OCI hooks the agent runs inside the container
 * (createContainer, startContainer), in the namespaces of the container's init.
 *
 *   {"id":N,"op":"hooks","process":"init","kind":"createContainer","state":"<state JSON text>",
 *    "hooks":[{"path":"/usr/bin/h","args":["h","-x"],"env":["A=1"],"timeout":5}]}
 */
#ifndef RUNM_COMMON_PROTO_HOOKS_H
#define RUNM_COMMON_PROTO_HOOKS_H

#include <stddef.h>

#include "proto/proto.h"

#define PROTO_HOOKS_MAX	    64	 /* hooks in one request */
#define PROTO_HOOK_ARGS_MAX 4096 /* args or env entries of one hook */

struct proto_hook {
	const char *path;  /* absolute, a path inside the container */
	const char **args; /* NULL-terminated; NULL or empty: {path} */
	const char **env;  /* NULL-terminated; NULL: empty */
	int timeout;	   /* seconds, 0 = none */
};

/* "createContainer" and "startContainer" are the kinds that run in the container. */
int proto_hook_kind_valid(const char *kind);
/* Emit KEY: the N hooks. */
void proto_gen_hooks(struct json_gen *pg, const char *key, const struct proto_hook *h, size_t n);
/* Decode the array ARR (NULL: no hooks) into *out (malloc'd, strings point into ARR; free with
 * proto_hooks_free).  -1 with a reason in ERR: not an array, too many, a path that is not an
 * absolute string, args/env not arrays of strings, a timeout not an integer in [0, 2^31). */
int proto_parse_hooks(yajl_val arr, struct proto_hook **out, size_t *n, char *err, size_t errlen);
void proto_hooks_free(struct proto_hook *h, size_t n);

#endif
