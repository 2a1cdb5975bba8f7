/* SPDX-License-Identifier: Apache-2.0 */
/* The bundle's config.json: validation and the parts the host side needs (terminal,
 * annotations, hooks, resources → VM size). The agent gets the whole document. */
#ifndef RUNM_RUNTIME_SPEC_H
#define RUNM_RUNTIME_SPEC_H

#include <limits.h>
#include <stdbool.h>
#include <yajl/yajl_tree.h>

enum hook_kind {
	HOOK_PRESTART,
	HOOK_CREATE_RUNTIME,
	HOOK_CREATE_CONTAINER,
	HOOK_START_CONTAINER,
	HOOK_POSTSTART,
	HOOK_POSTSTOP,
	HOOK_KINDS
};
extern const char *const HOOK_NAMES[HOOK_KINDS];

struct hook {
	const char *path;
	const char **args; /* NULL-terminated; empty → {path} */
	const char **env;  /* NULL-terminated */
	int timeout;	   /* seconds, 0 = none */
};

struct spec {
	char *raw;
	yajl_val root;
	bool terminal;
	char rootfs[PATH_MAX];
	char bundle[PATH_MAX]; /* relative bind sources are relative to it, as in runc */
	bool readonly;
	const char *hostname;
	int nann;
	const char *ann_key[64];
	const char *ann_val[64];
	struct hook *hooks[HOOK_KINDS];
	int nhooks[HOOK_KINDS];
	long long mem_limit; /* bytes, 0 = unset */
	long long cpu_quota, cpu_period;
	const char *cpuset;
};

/* Parse JSON (config.json of BUNDLE). 0 or -1 with ERR filled. */
int spec_parse(const char *json, const char *bundle, struct spec *s, char *err, size_t errlen);
/* Read and parse BUNDLE/config.json; logs the error itself. */
int spec_load(const char *bundle, struct spec *s);
void spec_free(struct spec *s);
/* Annotation value or NULL. */
const char *spec_annotation(const struct spec *s, const char *key);
/* Whether mounts[] entry M is a bind (type "bind", or a "bind"/"rbind" option). */
bool spec_mount_is_bind(yajl_val m);
/* Whether mounts[] entry M's options include OPT. */
bool spec_mount_has_opt(yajl_val m, const char *opt);

#endif
