/* SPDX-License-Identifier: Apache-2.0 */
/* JSON with yajl, the general half shared by every program: parsing untrusted text into a
 * tree with limits, typed field access (by key or by a path of keys), and building objects.
 * The agent protocol (common/proto) and the CLI↔shim protocol build on it. */
#ifndef RUNM_COMMON_JSON_H
#define RUNM_COMMON_JSON_H

#include <stddef.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define JSON_MAX_DEPTH 64

/* Parse untrusted JSON text (NUL-terminated, LEN bytes) into a tree, rejecting NUL bytes and
 * nesting deeper than JSON_MAX_DEPTH levels. NULL with a reason in ERR. */
yajl_val json_parse(const char *json, size_t len, char *err, size_t errlen);

/* Typed field access on an object (NULL / -1 when missing or of the wrong type);
 * TYPE yajl_t_true accepts either boolean, yajl_t_any anything. */
yajl_val json_get(yajl_val obj, const char *key, yajl_type type);
const char *json_get_str(yajl_val obj, const char *key);
/* 0 on success with *out set, -1 when missing/not an integer/out of [min,max]. */
int json_get_int(yajl_val obj, const char *key, long long min, long long max, long long *out);
/* 1 true, 0 false, DFLT when missing, -1 wrong type. */
int json_get_bool(yajl_val obj, const char *key, int dflt);

/* The value at a path of object keys below V, ended by JSON_END, of TYPE: json_at(spec,
 * yajl_t_array, "linux", "namespaces", JSON_END). NULL when any step is missing or not an
 * object. (JSON_END, not a bare NULL: that may be an int in a variadic call.) */
#define JSON_END ((const char *)NULL)
yajl_val json_at(yajl_val v, yajl_type type, ...) __attribute__((sentinel));
/* The string at a path, or NULL. */
const char *json_at_str(yajl_val v, ...) __attribute__((sentinel));

/* A JSON object under construction; all kv functions are no-ops once an error happened. */
struct json_gen {
	yajl_gen g;
	int err;
};
int json_gen_begin(struct json_gen *pg);
void json_gen_str(struct json_gen *pg, const char *key, const char *val);
void json_gen_strn(struct json_gen *pg, const char *key, const char *val, size_t n);
void json_gen_int(struct json_gen *pg, const char *key, long long val);
void json_gen_bool(struct json_gen *pg, const char *key, int val);
/* Raw access for nested values: emits KEY, then the caller uses pg->g. */
void json_gen_key(struct json_gen *pg, const char *key);
/* Finish the object: *json points into the generator (valid until json_gen_free). */
int json_gen_end(struct json_gen *pg, const char **json, size_t *len);
void json_gen_free(struct json_gen *pg);

/* Emit V (any JSON value) into G as it is. */
void json_gen_value(yajl_gen g, yajl_val v);
/* What G generated, as a malloc'd NUL-terminated string; G is freed either way. NULL on a
 * generator error or out of memory (G NULL: NULL). */
char *json_gen_take(yajl_gen g);
/* V as compact JSON text (malloc'd), or NULL when out of memory. */
char *json_to_text(yajl_val v);

#endif
