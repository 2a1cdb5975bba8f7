/* SPDX-License-Identifier: Apache-2.0 */
/* The "hooks" op's codec (proto_hooks.h). */
#include "proto/proto_hooks.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int proto_hook_kind_valid(const char *kind)
{
	return kind && (!strcmp(kind, "createContainer") || !strcmp(kind, "startContainer"));
}

static void gen_strv(struct json_gen *pg, const char *key, const char **v)
{
	if (!v)
		return;
	json_gen_key(pg, key);
	if (pg->err)
		return;
	yajl_gen_array_open(pg->g);
	for (size_t i = 0; v[i]; i++)
		yajl_gen_string(pg->g, (const unsigned char *)v[i], strlen(v[i]));
	yajl_gen_array_close(pg->g);
}

void proto_gen_hooks(struct json_gen *pg, const char *key, const struct proto_hook *h, size_t n)
{
	json_gen_key(pg, key);
	if (pg->err)
		return;
	yajl_gen_array_open(pg->g);
	for (size_t i = 0; i < n; i++) {
		yajl_gen_map_open(pg->g);
		json_gen_str(pg, "path", h[i].path);
		gen_strv(pg, "args", h[i].args);
		gen_strv(pg, "env", h[i].env);
		if (h[i].timeout > 0)
			json_gen_int(pg, "timeout", h[i].timeout);
		yajl_gen_map_close(pg->g);
	}
	yajl_gen_array_close(pg->g);
}

/* A NULL-terminated array of the strings of member KEY of OBJ (absent: *out NULL). */
static int parse_strv(yajl_val obj, const char *key, size_t i, const char ***out, char *err, size_t errlen)
{
	*out = NULL;
	yajl_val v = json_get(obj, key, yajl_t_any);
	if (!v || YAJL_IS_NULL(v))
		return 0;
	if (!YAJL_IS_ARRAY(v) || v->u.array.len > PROTO_HOOK_ARGS_MAX) {
		snprintf(err, errlen, "hooks[%zu].%s must be an array of at most %d strings", i, key,
			 PROTO_HOOK_ARGS_MAX);
		return -1;
	}
	const char **a = calloc(v->u.array.len + 1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "hooks[%zu].%s: out of memory", i, key);
		return -1;
	}
	for (size_t k = 0; k < v->u.array.len; k++) {
		yajl_val s = v->u.array.values[k];
		if (!YAJL_IS_STRING(s)) {
			snprintf(err, errlen, "hooks[%zu].%s[%zu] must be a string", i, key, k);
			free(a);
			return -1;
		}
		a[k] = YAJL_GET_STRING(s);
	}
	*out = a;
	return 0;
}

int proto_parse_hooks(yajl_val arr, struct proto_hook **out, size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	if (!arr)
		return 0;
	if (!YAJL_IS_ARRAY(arr) || arr->u.array.len > PROTO_HOOKS_MAX) {
		snprintf(err, errlen, "hooks must be an array of at most %d hooks", PROTO_HOOKS_MAX);
		return -1;
	}
	size_t len = arr->u.array.len;
	if (len == 0)
		return 0;
	struct proto_hook *h = calloc(len, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "hooks: out of memory");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		yajl_val o = arr->u.array.values[i];
		const char *path = json_get_str(o, "path");
		if (!YAJL_IS_OBJECT(o) || !path || path[0] != '/') {
			snprintf(err, errlen, "hooks[%zu].path must be an absolute path", i);
			goto fail;
		}
		h[i].path = path;
		yajl_val t = json_get(o, "timeout", yajl_t_any);
		long long to = 0;
		if (t && !YAJL_IS_NULL(t) && json_get_int(o, "timeout", 0, INT32_MAX, &to) < 0) {
			snprintf(err, errlen, "hooks[%zu].timeout must be an integer in [0, %d]", i,
				 INT32_MAX);
			goto fail;
		}
		h[i].timeout = (int)to;
		if (parse_strv(o, "args", i, &h[i].args, err, errlen) < 0 ||
		    parse_strv(o, "env", i, &h[i].env, err, errlen) < 0)
			goto fail;
	}
	*out = h;
	*n = len;
	return 0;
fail:
	proto_hooks_free(h, len);
	return -1;
}

void proto_hooks_free(struct proto_hook *h, size_t n)
{
	if (!h)
		return;
	for (size_t i = 0; i < n; i++) {
		free(h[i].args);
		free(h[i].env);
	}
	free(h);
}
