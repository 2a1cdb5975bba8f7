/* SPDX-License-Identifier: Apache-2.0 */
/* runm ps [--format table|json] ID: the container's processes (guest pids, from the agent's
 * "ps" op): json is runc's array of pids, table a PID / CMD line per process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "cmd_util.h"
#include "log.h"

int cmd_ps(int argc, char **argv)
{
	struct parsed p;
	if (parse_verb("ps", argc, argv, 1, -1, 1, &p) < 0)
		return 1;
	const char *fmt = optval(find_verb("ps")->opts, &p, "format");
	int rc = 1;
	if (!fmt)
		fmt = "table";
	if (strcmp(fmt, "table") && strcmp(fmt, "json")) {
		log_error("invalid format option");
		parsed_free(&p);
		return 1;
	}
	if (p.npos > 1 && !strcmp(fmt, "table")) {
		/* runc hands these to the host's ps(1); our processes live in the microVM */
		log_error("ps options are not supported: the container's processes run in its microVM");
		parsed_free(&p);
		return 1;
	}
	struct cstate st;
	char dir[PATH_MAX];
	if (load_container(p.pos[0], &st, dir) < 0)
		goto out;
	if (!strcmp(state_status(&st), "stopped")) {
		/* runc 1.1.5: no processes, the header (or an empty list) and exit 0 */
		if (!strcmp(fmt, "json"))
			printf("[]\n");
		else
			printf("%-8s %s\n", "PID", "CMD");
		rc = 0;
		goto out_st;
	}
	char *rep = NULL;
	if (shim_call(dir, "{\"op\":\"ps\"}", &rep))
		goto out_st;
	char err[128];
	yajl_val v = yajl_tree_parse(rep, err, sizeof(err));
	const char *pp[] = {"processes", NULL};
	yajl_val procs = v ? yajl_tree_get(v, pp, yajl_t_array) : NULL;
	if (!procs) {
		log_error("ps: malformed reply from the shim");
	} else if (!strcmp(fmt, "json")) {
		printf("[");
		for (size_t i = 0; i < procs->u.array.len; i++) {
			const char *pid[] = {"pid", NULL};
			yajl_val pv = yajl_tree_get(procs->u.array.values[i], pid, yajl_t_number);
			printf("%s%lld", i ? "," : "", pv && YAJL_IS_INTEGER(pv) ? YAJL_GET_INTEGER(pv) : -1);
		}
		printf("]\n");
		rc = 0;
	} else {
		printf("%-8s %s\n", "PID", "CMD");
		for (size_t i = 0; i < procs->u.array.len; i++) {
			const char *pid[] = {"pid", NULL}, *cmd[] = {"cmd", NULL};
			yajl_val pv = yajl_tree_get(procs->u.array.values[i], pid, yajl_t_number);
			yajl_val cv = yajl_tree_get(procs->u.array.values[i], cmd, yajl_t_string);
			printf("%-8lld %s\n", pv && YAJL_IS_INTEGER(pv) ? YAJL_GET_INTEGER(pv) : -1,
			       cv ? YAJL_GET_STRING(cv) : "?");
		}
		rc = 0;
	}
	if (v)
		yajl_tree_free(v);
	free(rep);
out_st:
	state_free(&st);
out:
	parsed_free(&p);
	return rc;
}
