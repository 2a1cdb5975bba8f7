/* SPDX-License-Identifier: Apache-2.0 */
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "proto/proto.h"

const char *const HOOK_NAMES[HOOK_KINDS] = {"prestart",	      "createRuntime", "createContainer",
					    "startContainer", "poststart",     "poststop"};

static const char **str_array(yajl_val v, const char *what, char *err, size_t errlen, int *bad)
{
	if (!v)
		return NULL;
	if (!YAJL_IS_ARRAY(v)) {
		snprintf(err, errlen, "%s must be an array of strings", what);
		*bad = 1;
		return NULL;
	}
	size_t n = v->u.array.len;
	const char **out = calloc(n + 1, sizeof(*out));
	if (!out) {
		snprintf(err, errlen, "out of memory");
		*bad = 1;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!YAJL_IS_STRING(v->u.array.values[i])) {
			snprintf(err, errlen, "%s[%zu] must be a string", what, i);
			free(out);
			*bad = 1;
			return NULL;
		}
		out[i] = YAJL_GET_STRING(v->u.array.values[i]);
	}
	return out;
}

static int parse_hooks(struct spec *s, char *err, size_t errlen)
{
	yajl_val hooks = json_get(s->root, "hooks", yajl_t_any);
	if (!hooks)
		return 0;
	if (!YAJL_IS_OBJECT(hooks)) {
		snprintf(err, errlen, "hooks must be an object");
		return -1;
	}
	for (int k = 0; k < HOOK_KINDS; k++) {
		yajl_val arr = json_get(hooks, HOOK_NAMES[k], yajl_t_any);
		if (!arr)
			continue;
		if (!YAJL_IS_ARRAY(arr)) {
			snprintf(err, errlen, "hooks.%s must be an array", HOOK_NAMES[k]);
			return -1;
		}
		s->hooks[k] = calloc(arr->u.array.len + 1, sizeof(struct hook));
		if (!s->hooks[k]) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		for (size_t i = 0; i < arr->u.array.len; i++) {
			yajl_val h = arr->u.array.values[i];
			struct hook *hk = &s->hooks[k][i];
			s->nhooks[k]++;
			yajl_val path = YAJL_IS_OBJECT(h) ? json_get(h, "path", yajl_t_string) : NULL;
			const char *pathstr = path ? YAJL_GET_STRING(path) : NULL;
			if (!pathstr || pathstr[0] != '/') {
				snprintf(err, errlen, "hooks.%s[%zu].path must be an absolute path",
					 HOOK_NAMES[k], i);
				return -1;
			}
			hk->path = YAJL_GET_STRING(path);
			int bad = 0;
			char what[64];
			snprintf(what, sizeof(what), "hooks.%s[%zu].args", HOOK_NAMES[k], i);
			hk->args = str_array(json_get(h, "args", yajl_t_any), what, err, errlen, &bad);
			if (bad)
				return -1;
			snprintf(what, sizeof(what), "hooks.%s[%zu].env", HOOK_NAMES[k], i);
			hk->env = str_array(json_get(h, "env", yajl_t_any), what, err, errlen, &bad);
			if (bad)
				return -1;
			yajl_val t = json_get(h, "timeout", yajl_t_any);
			if (t) {
				if (!YAJL_IS_INTEGER(t) || YAJL_GET_INTEGER(t) <= 0 ||
				    YAJL_GET_INTEGER(t) > 86400) {
					snprintf(err, errlen,
						 "hooks.%s[%zu].timeout must be a positive integer",
						 HOOK_NAMES[k], i);
					return -1;
				}
				hk->timeout = (int)YAJL_GET_INTEGER(t);
			}
		}
	}
	return 0;
}

int spec_parse(const char *json, const char *bundle, struct spec *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	/* the protocol's parser: bounded nesting (yajl frees trees recursively: a config.json
	 * nested a million levels deep crashed runm), no NUL bytes, a one-line error */
	s->root = json_parse(json, strlen(json), err, errlen);
	if (!s->root)
		return -1;
	if (!YAJL_IS_OBJECT(s->root)) {
		snprintf(err, errlen, "top level must be a JSON object");
		return -1;
	}
	if (!json_get(s->root, "ociVersion", yajl_t_string)) {
		snprintf(err, errlen, "ociVersion must be a string");
		return -1;
	}
	yajl_val proc = json_get(s->root, "process", yajl_t_any);
	if (!proc || !YAJL_IS_OBJECT(proc)) {
		snprintf(err, errlen, "process must be an object");
		return -1;
	}
	yajl_val args = json_get(proc, "args", yajl_t_any);
	int bad = 0;
	const char **av = str_array(args, "process.args", err, errlen, &bad);
	if (bad)
		return -1;
	if (!av || !av[0]) {
		free(av);
		snprintf(err, errlen, "args must not be empty");
		return -1;
	}
	free(av);
	yajl_val cwd = json_get(proc, "cwd", yajl_t_any);
	if (cwd && (!YAJL_IS_STRING(cwd) || YAJL_GET_STRING(cwd)[0] != '/')) {
		snprintf(err, errlen, "cwd property must be an absolute path");
		return -1;
	}
	yajl_val t = json_get(proc, "terminal", yajl_t_any);
	if (t && !YAJL_IS_TRUE(t) && !YAJL_IS_FALSE(t)) {
		snprintf(err, errlen, "process.terminal must be a boolean");
		return -1;
	}
	s->terminal = t && YAJL_IS_TRUE(t);
	yajl_val rp = json_at(s->root, yajl_t_string, "root", "path", JSON_END);
	const char *rootpath = rp ? YAJL_GET_STRING(rp) : NULL;
	if (!rootpath || !rootpath[0]) {
		snprintf(err, errlen, "root.path must be a non-empty string");
		return -1;
	}
	const char *r = rootpath;
	int n = r[0] == '/' ? snprintf(s->rootfs, sizeof(s->rootfs), "%s", r)
			    : snprintf(s->rootfs, sizeof(s->rootfs), "%s/%s", bundle, r);
	if (n < 0 || (size_t)n >= sizeof(s->rootfs)) {
		snprintf(err, errlen, "root.path too long");
		return -1;
	}
	n = snprintf(s->bundle, sizeof(s->bundle), "%s", bundle ? bundle : "");
	if (n < 0 || (size_t)n >= sizeof(s->bundle)) {
		snprintf(err, errlen, "bundle path too long");
		return -1;
	}
	yajl_val ro = json_at(s->root, yajl_t_any, "root", "readonly", JSON_END);
	s->readonly = ro && YAJL_IS_TRUE(ro);
	yajl_val hn = json_get(s->root, "hostname", yajl_t_string);
	s->hostname = hn ? YAJL_GET_STRING(hn) : NULL;
	yajl_val an = json_get(s->root, "annotations", yajl_t_any);
	if (an) {
		if (!YAJL_IS_OBJECT(an)) {
			snprintf(err, errlen, "annotations must be an object");
			return -1;
		}
		for (size_t i = 0; i < an->u.object.len; i++) {
			if (!YAJL_IS_STRING(an->u.object.values[i])) {
				snprintf(err, errlen, "annotations.%s must be a string",
					 an->u.object.keys[i]);
				return -1;
			}
			if (s->nann < 64) {
				s->ann_key[s->nann] = an->u.object.keys[i];
				s->ann_val[s->nann++] = YAJL_GET_STRING(an->u.object.values[i]);
			}
		}
	}
	yajl_val m = json_at(s->root, yajl_t_any, "linux", "resources", "memory", "limit", JSON_END);
	if (m && YAJL_IS_INTEGER(m) && YAJL_GET_INTEGER(m) > 0)
		s->mem_limit = YAJL_GET_INTEGER(m);
	yajl_val q = json_at(s->root, yajl_t_any, "linux", "resources", "cpu", "quota", JSON_END);
	if (q && YAJL_IS_INTEGER(q))
		s->cpu_quota = YAJL_GET_INTEGER(q);
	yajl_val per = json_at(s->root, yajl_t_any, "linux", "resources", "cpu", "period", JSON_END);
	if (per && YAJL_IS_INTEGER(per))
		s->cpu_period = YAJL_GET_INTEGER(per);
	yajl_val cs = json_at(s->root, yajl_t_string, "linux", "resources", "cpu", "cpus", JSON_END);
	s->cpuset = cs ? YAJL_GET_STRING(cs) : NULL;
	return parse_hooks(s, err, errlen);
}

int spec_load(const char *bundle, struct spec *s)
{
	char path[PATH_MAX + 16];
	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_errno(errno, "open %s", path);
		return -1;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0 || sb.st_size > (16 << 20)) {
		log_error("read %s: %s", path, sb.st_size > (16 << 20) ? "file too large" : strerror(errno));
		close(fd);
		return -1;
	}
	char *buf = malloc((size_t)sb.st_size + 1);
	size_t len = 0;
	while (buf && len < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)sb.st_size - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf) {
		log_error("read %s: out of memory", path);
		return -1;
	}
	buf[len] = '\0';
	char err[512];
	if (spec_parse(buf, bundle, s, err, sizeof(err)) < 0) {
		log_error("%s: %s", path, err);
		free(buf);
		spec_free(s);
		return -1;
	}
	s->raw = buf;
	struct stat rs;
	if (stat(s->rootfs, &rs) < 0) {
		log_errno(errno, "rootfs %s", s->rootfs);
		spec_free(s);
		return -1;
	}
	if (!S_ISDIR(rs.st_mode)) {
		log_error("rootfs %s: not a directory", s->rootfs);
		spec_free(s);
		return -1;
	}
	return 0;
}

void spec_free(struct spec *s)
{
	for (int k = 0; k < HOOK_KINDS; k++) {
		for (int i = 0; i < s->nhooks[k]; i++) {
			free(s->hooks[k][i].args);
			free(s->hooks[k][i].env);
		}
		free(s->hooks[k]);
		s->hooks[k] = NULL;
		s->nhooks[k] = 0;
	}
	if (s->root)
		yajl_tree_free(s->root);
	s->root = NULL;
	free(s->raw);
	s->raw = NULL;
}

const char *spec_annotation(const struct spec *s, const char *key)
{
	for (int i = 0; i < s->nann; i++)
		if (!strcmp(s->ann_key[i], key))
			return s->ann_val[i];
	return NULL;
}

bool spec_mount_has_opt(yajl_val m, const char *opt)
{
	yajl_val o = json_get(m, "options", yajl_t_array);
	for (size_t i = 0; o && i < o->u.array.len; i++) {
		const char *s =
		    YAJL_IS_STRING(o->u.array.values[i]) ? YAJL_GET_STRING(o->u.array.values[i]) : NULL;
		if (s && !strcmp(s, opt))
			return true;
	}
	return false;
}

bool spec_mount_is_bind(yajl_val m)
{
	const char *t = json_get_str(m, "type");
	return (t && !strcmp(t, "bind")) || spec_mount_has_opt(m, "bind") || spec_mount_has_opt(m, "rbind");
}
