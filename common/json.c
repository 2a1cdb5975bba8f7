/* SPDX-License-Identifier: Apache-2.0 */
/* JSON parsing with limits, typed access and object building (json.h). */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Reject NUL bytes and nesting deeper than JSON_MAX_DEPTH (yajl frees trees recursively). */
static int precheck(const char *buf, size_t len, char *err, size_t errlen)
{
	int depth = 0, in_str = 0, esc = 0;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (c == '\0') {
			snprintf(err, errlen, "NUL byte at offset %zu", i);
			return -1;
		}
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[') {
			if (++depth > JSON_MAX_DEPTH) {
				snprintf(err, errlen, "nesting deeper than %d", JSON_MAX_DEPTH);
				return -1;
			}
		} else if (c == '}' || c == ']')
			depth--;
	}
	return 0;
}

yajl_val json_parse(const char *json, size_t len, char *err, size_t errlen)
{
	if (precheck(json, len, err, errlen) < 0)
		return NULL;
	char perr[256];
	perr[0] = '\0';
	yajl_val t = yajl_tree_parse(json, perr, sizeof(perr));
	if (!t) {
		char *nl = strchr(perr, '\n');
		if (nl)
			*nl = '\0';
		snprintf(err, errlen, "invalid JSON: %s", perr[0] ? perr : "parse error");
	}
	return t;
}

yajl_val json_get(yajl_val obj, const char *key, yajl_type type)
{
	if (!obj || !YAJL_IS_OBJECT(obj))
		return NULL;
	for (size_t i = 0; i < obj->u.object.len; i++) {
		if (strcmp(obj->u.object.keys[i], key) == 0) {
			yajl_val v = obj->u.object.values[i];
			if (!v)
				return NULL;
			if (type == yajl_t_any || v->type == type)
				return v;
			if (type == yajl_t_true && v->type == yajl_t_false)
				return v; /* "boolean" */
			return NULL;
		}
	}
	return NULL;
}

const char *json_get_str(yajl_val obj, const char *key)
{
	yajl_val v = json_get(obj, key, yajl_t_string);
	return v ? v->u.string : NULL;
}

int json_get_int(yajl_val obj, const char *key, long long min, long long max, long long *out)
{
	yajl_val v = json_get(obj, key, yajl_t_number);
	if (!v || !YAJL_IS_INTEGER(v))
		return -1;
	long long x = YAJL_GET_INTEGER(v);
	if (x < min || x > max)
		return -1;
	*out = x;
	return 0;
}

int json_get_bool(yajl_val obj, const char *key, int dflt)
{
	yajl_val v = json_get(obj, key, yajl_t_any);
	if (!v)
		return dflt;
	if (YAJL_IS_TRUE(v))
		return 1;
	if (YAJL_IS_FALSE(v))
		return 0;
	return -1;
}

/* --- encoding ------------------------------------------------------------------------------ */
int json_gen_begin(struct json_gen *pg)
{
	pg->err = 0;
	pg->g = yajl_gen_alloc(NULL);
	if (!pg->g || yajl_gen_map_open(pg->g) != yajl_gen_status_ok) {
		pg->err = 1;
		return -1;
	}
	return 0;
}

void json_gen_key(struct json_gen *pg, const char *key)
{
	if (!pg->err && yajl_gen_string(pg->g, (const unsigned char *)key, strlen(key)) != yajl_gen_status_ok)
		pg->err = 1;
}

void json_gen_strn(struct json_gen *pg, const char *key, const char *val, size_t n)
{
	json_gen_key(pg, key);
	if (!pg->err && yajl_gen_string(pg->g, (const unsigned char *)val, n) != yajl_gen_status_ok)
		pg->err = 1;
}

void json_gen_str(struct json_gen *pg, const char *key, const char *val)
{
	json_gen_strn(pg, key, val, strlen(val));
}

void json_gen_int(struct json_gen *pg, const char *key, long long val)
{
	json_gen_key(pg, key);
	if (!pg->err && yajl_gen_integer(pg->g, val) != yajl_gen_status_ok)
		pg->err = 1;
}

void json_gen_bool(struct json_gen *pg, const char *key, int val)
{
	json_gen_key(pg, key);
	if (!pg->err && yajl_gen_bool(pg->g, val) != yajl_gen_status_ok)
		pg->err = 1;
}

int json_gen_end(struct json_gen *pg, const char **json, size_t *len)
{
	const unsigned char *b;
	if (pg->err || yajl_gen_map_close(pg->g) != yajl_gen_status_ok ||
	    yajl_gen_get_buf(pg->g, &b, len) != yajl_gen_status_ok) {
		pg->err = 1;
		return -1;
	}
	*json = (const char *)b;
	return 0;
}

void json_gen_free(struct json_gen *pg)
{
	if (pg->g)
		yajl_gen_free(pg->g);
	pg->g = NULL;
}

/* --- any value ----------------------------------------------------------------------------- */
static void gs(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

void json_gen_value(yajl_gen g, yajl_val v)
{
	if (YAJL_IS_STRING(v)) {
		gs(g, YAJL_GET_STRING(v) ? YAJL_GET_STRING(v) : "");
	} else if (YAJL_IS_INTEGER(v)) {
		yajl_gen_integer(g, YAJL_GET_INTEGER(v));
	} else if (YAJL_IS_NUMBER(v)) {
		const char *n = YAJL_GET_NUMBER(v);
		yajl_gen_number(g, n, strlen(n));
	} else if (YAJL_IS_TRUE(v)) {
		yajl_gen_bool(g, 1);
	} else if (YAJL_IS_FALSE(v)) {
		yajl_gen_bool(g, 0);
	} else if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g);
		for (size_t i = 0; i < v->u.object.len; i++) {
			gs(g, v->u.object.keys[i]);
			json_gen_value(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (size_t i = 0; i < v->u.array.len; i++)
			json_gen_value(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
	} else {
		yajl_gen_null(g);
	}
}

static yajl_val json_vat(yajl_val v, yajl_type type, va_list ap)
{
	const char *key;
	while (v && (key = va_arg(ap, const char *)))
		v = json_get(v, key, yajl_t_any);
	if (!v ||
	    (type != yajl_t_any && v->type != type && !(type == yajl_t_true && v->type == yajl_t_false)))
		return NULL;
	return v;
}

yajl_val json_at(yajl_val v, yajl_type type, ...)
{
	va_list ap;
	va_start(ap, type);
	yajl_val r = json_vat(v, type, ap);
	va_end(ap);
	return r;
}

const char *json_at_str(yajl_val v, ...)
{
	va_list ap;
	va_start(ap, v);
	yajl_val r = json_vat(v, yajl_t_string, ap);
	va_end(ap);
	return r ? r->u.string : NULL;
}

char *json_gen_take(yajl_gen g)
{
	if (!g)
		return NULL;
	const unsigned char *b;
	size_t len;
	char *out = NULL;
	if (yajl_gen_get_buf(g, &b, &len) == yajl_gen_status_ok)
		out = strndup((const char *)b, len);
	yajl_gen_free(g);
	return out;
}

char *json_to_text(yajl_val v)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	if (g)
		json_gen_value(g, v);
	return json_gen_take(g);
}
