/* SPDX-License-Identifier: Apache-2.0 */
/* runm update [--resources FILE|-] [--memory N …] ID: new limits for the guest's cgroup. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "cmd_util.h"
#include "log.h"

static char *slurp(int fd, size_t max)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	while (buf) {
		if (len + 1 >= cap) {
			if (cap >= max) {
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

static int num_opt(const char *name, const char *v, long long *out)
{
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end || end == v) {
		log_error("invalid value for --%s: %s", name, v);
		return -1;
	}
	*out = n;
	return 0;
}

int cmd_update(int argc, char **argv)
{
	struct parsed p;
	if (parse_verb("update", argc, argv, 1, 1, 0, &p) < 0)
		return 1;
	const struct optdef *o = find_verb("update")->opts;
	const char *res = optval(o, &p, "resources");
	char *doc = NULL, *req = NULL;
	int rc = 1;
	if (res) {
		int fd = strcmp(res, "-") ? open(res, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
		if (fd < 0) {
			log_errno(errno, "open resources file %s", res);
			goto out;
		}
		doc = slurp(fd, 1 << 20);
		if (fd != STDIN_FILENO)
			close(fd);
		if (!doc) {
			log_errno(errno, "read resources %s", res);
			goto out;
		}
		char err[256];
		yajl_val v = yajl_tree_parse(doc, err, sizeof(err));
		if (!v || !YAJL_IS_OBJECT(v)) {
			char *nl = strchr(err, '\n');
			if (nl)
				*nl = '\0';
			log_error("decode resources %s: %s", res, v ? "not a JSON object" : err);
			if (v)
				yajl_tree_free(v);
			goto out;
		}
		yajl_tree_free(v);
	} else {
		/* build a linux.resources object from the individual flags */
		long long mem = -1, q = -1, per = -1, sh = -1, pids = -1;
		const char *mv = optval(o, &p, "memory"), *qv = optval(o, &p, "cpu-quota"),
			   *pv = optval(o, &p, "cpu-period"), *sv = optval(o, &p, "cpu-shares"),
			   *cs = optval(o, &p, "cpuset-cpus"), *pl = optval(o, &p, "pids-limit");
		if ((mv && num_opt("memory", mv, &mem)) || (qv && num_opt("cpu-quota", qv, &q)) ||
		    (pv && num_opt("cpu-period", pv, &per)) || (sv && num_opt("cpu-shares", sv, &sh)) ||
		    (pl && num_opt("pids-limit", pl, &pids)))
			goto out;
		char *qcs = cs ? json_quote(cs) : NULL;
		char mem_s[96] = "", cpu_s[256] = "", pid_s[64] = "";
		if (mv)
			snprintf(mem_s, sizeof(mem_s), "\"limit\":%lld", mem);
		size_t n = 0;
		if (qv)
			n += (size_t)snprintf(cpu_s + n, sizeof(cpu_s) - n, "%s\"quota\":%lld", n ? "," : "", q);
		if (pv)
			n += (size_t)snprintf(cpu_s + n, sizeof(cpu_s) - n, "%s\"period\":%lld", n ? "," : "", per);
		if (sv)
			n += (size_t)snprintf(cpu_s + n, sizeof(cpu_s) - n, "%s\"shares\":%lld", n ? "," : "", sh);
		if (qcs && n < sizeof(cpu_s))
			snprintf(cpu_s + n, sizeof(cpu_s) - n, "%s\"cpus\":%.160s", n ? "," : "", qcs);
		if (pl)
			snprintf(pid_s, sizeof(pid_s), "\"limit\":%lld", pids);
		if (asprintf(&doc, "{\"memory\":{%s},\"cpu\":{%s},\"pids\":{%s}}", mem_s, cpu_s, pid_s) < 0)
			doc = NULL;
		free(qcs);
		if (!doc) {
			log_error("update: out of memory");
			goto out;
		}
	}
	struct cstate st;
	char dir[PATH_MAX];
	if (load_container(p.pos[0], &st, dir) < 0)
		goto out;
	if (!strcmp(state_status(&st), "stopped")) {
		log_error("container not running");
	} else if (asprintf(&req, "{\"op\":\"update\",\"resources\":%s}", doc) >= 0) {
		rc = shim_call(dir, req, NULL);
	}
	state_free(&st);
out:
	free(doc);
	free(req);
	parsed_free(&p);
	return rc;
}
