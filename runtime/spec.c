/* SPDX-License-Identifier: Apache-2.0 */
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "proto/proto.h"

const char *const HOOK_NAMES[HOOK_KINDS] = {"prestart",        "createRuntime", "createContainer",
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
	const char *ph[] = {"hooks", NULL};
	yajl_val hooks = yajl_tree_get(s->root, ph, yajl_t_any);
	if (!hooks)
		return 0;
	if (!YAJL_IS_OBJECT(hooks)) {
		snprintf(err, errlen, "hooks must be an object");
		return -1;
	}
	for (int k = 0; k < HOOK_KINDS; k++) {
		const char *pk[] = {HOOK_NAMES[k], NULL};
		yajl_val arr = yajl_tree_get(hooks, pk, yajl_t_any);
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
			const char *pp[] = {"path", NULL}, *pa[] = {"args", NULL}, *pe[] = {"env", NULL},
				   *pt[] = {"timeout", NULL};
			yajl_val path = YAJL_IS_OBJECT(h) ? yajl_tree_get(h, pp, yajl_t_string) : NULL;
			const char *pathstr = path ? YAJL_GET_STRING(path) : NULL;
			if (!pathstr || pathstr[0] != '/') {
				snprintf(err, errlen, "hooks.%s[%zu].path must be an absolute path", HOOK_NAMES[k], i);
				return -1;
			}
			hk->path = YAJL_GET_STRING(path);
			int bad = 0;
			char what[64];
			snprintf(what, sizeof(what), "hooks.%s[%zu].args", HOOK_NAMES[k], i);
			hk->args = str_array(yajl_tree_get(h, pa, yajl_t_any), what, err, errlen, &bad);
			if (bad)
				return -1;
			snprintf(what, sizeof(what), "hooks.%s[%zu].env", HOOK_NAMES[k], i);
			hk->env = str_array(yajl_tree_get(h, pe, yajl_t_any), what, err, errlen, &bad);
			if (bad)
				return -1;
			yajl_val t = yajl_tree_get(h, pt, yajl_t_any);
			if (t) {
				if (!YAJL_IS_INTEGER(t) || YAJL_GET_INTEGER(t) <= 0 || YAJL_GET_INTEGER(t) > 86400) {
					snprintf(err, errlen, "hooks.%s[%zu].timeout must be a positive integer",
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
	const char *pv[] = {"ociVersion", NULL};
	if (!yajl_tree_get(s->root, pv, yajl_t_string)) {
		snprintf(err, errlen, "ociVersion must be a string");
		return -1;
	}
	const char *pp[] = {"process", NULL};
	yajl_val proc = yajl_tree_get(s->root, pp, yajl_t_any);
	if (!proc || !YAJL_IS_OBJECT(proc)) {
		snprintf(err, errlen, "process must be an object");
		return -1;
	}
	const char *pa[] = {"args", NULL};
	yajl_val args = yajl_tree_get(proc, pa, yajl_t_any);
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
	const char *pcwd[] = {"cwd", NULL};
	yajl_val cwd = yajl_tree_get(proc, pcwd, yajl_t_any);
	if (cwd && (!YAJL_IS_STRING(cwd) || YAJL_GET_STRING(cwd)[0] != '/')) {
		snprintf(err, errlen, "cwd property must be an absolute path");
		return -1;
	}
	const char *pt[] = {"terminal", NULL};
	yajl_val t = yajl_tree_get(proc, pt, yajl_t_any);
	if (t && !YAJL_IS_TRUE(t) && !YAJL_IS_FALSE(t)) {
		snprintf(err, errlen, "process.terminal must be a boolean");
		return -1;
	}
	s->terminal = t && YAJL_IS_TRUE(t);
	const char *pr[] = {"root", "path", NULL}, *pro[] = {"root", "readonly", NULL};
	yajl_val rp = yajl_tree_get(s->root, pr, yajl_t_string);
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
	yajl_val ro = yajl_tree_get(s->root, pro, yajl_t_any);
	s->readonly = ro && YAJL_IS_TRUE(ro);
	const char *ph[] = {"hostname", NULL};
	yajl_val hn = yajl_tree_get(s->root, ph, yajl_t_string);
	s->hostname = hn ? YAJL_GET_STRING(hn) : NULL;
	const char *pan[] = {"annotations", NULL};
	yajl_val an = yajl_tree_get(s->root, pan, yajl_t_any);
	if (an) {
		if (!YAJL_IS_OBJECT(an)) {
			snprintf(err, errlen, "annotations must be an object");
			return -1;
		}
		for (size_t i = 0; i < an->u.object.len; i++) {
			if (!YAJL_IS_STRING(an->u.object.values[i])) {
				snprintf(err, errlen, "annotations.%s must be a string", an->u.object.keys[i]);
				return -1;
			}
			if (s->nann < 64) {
				s->ann_key[s->nann] = an->u.object.keys[i];
				s->ann_val[s->nann++] = YAJL_GET_STRING(an->u.object.values[i]);
			}
		}
	}
	const char *pm[] = {"linux", "resources", "memory", "limit", NULL};
	yajl_val m = yajl_tree_get(s->root, pm, yajl_t_any);
	if (m && YAJL_IS_INTEGER(m) && YAJL_GET_INTEGER(m) > 0)
		s->mem_limit = YAJL_GET_INTEGER(m);
	const char *pq[] = {"linux", "resources", "cpu", "quota", NULL},
		   *pper[] = {"linux", "resources", "cpu", "period", NULL},
		   *pcs[] = {"linux", "resources", "cpu", "cpus", NULL};
	yajl_val q = yajl_tree_get(s->root, pq, yajl_t_any);
	if (q && YAJL_IS_INTEGER(q))
		s->cpu_quota = YAJL_GET_INTEGER(q);
	yajl_val per = yajl_tree_get(s->root, pper, yajl_t_any);
	if (per && YAJL_IS_INTEGER(per))
		s->cpu_period = YAJL_GET_INTEGER(per);
	yajl_val cs = yajl_tree_get(s->root, pcs, yajl_t_string);
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
