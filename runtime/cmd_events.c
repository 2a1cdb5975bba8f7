/* SPDX-License-Identifier: Apache-2.0 */
/* runm events [--stats] [--interval D] ID: stats as runc's {"type":"stats","id":…,"data":…}
 * lines; without --stats one line per interval, and {"type":"oom","id":…} for each new OOM
 * kill, until the container stops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "cmd_util.h"
#include "ctl.h"
#include "log.h"

/* Go-style duration: 5s, 500ms, 1m, 2 (seconds). Milliseconds, or -1. */
long parse_duration_ms(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	if (!*end || !strcmp(end, "s"))
		return (long)(v * 1000);
	if (!strcmp(end, "ms"))
		return (long)v;
	if (!strcmp(end, "m"))
		return (long)(v * 60000);
	if (!strcmp(end, "h"))
		return (long)(v * 3600000);
	return -1;
}

static int one_stats(const char *id, const char *dir)
{
	char *rep = NULL;
	if (shim_call(dir, "{\"op\":\"stats\"}", &rep))
		return 1;
	char err[128];
	yajl_val v = yajl_tree_parse(rep, err, sizeof(err));
	const char *pd[] = {"data", NULL};
	yajl_val d = v ? yajl_tree_get(v, pd, yajl_t_object) : NULL;
	int rc = 1;
	if (!d) {
		log_error("events: malformed reply from the shim");
	} else {
		/* re-emit the data object verbatim: find it in the reply text */
		const char *p = strstr(rep, "\"data\":");
		size_t l = strlen(rep);
		if (p && l > 0 && rep[l - 1] == '}') {
			char *qid = json_quote(id);
			printf("{\"type\":\"stats\",\"id\":%s,\"data\":%.*s}\n", qid ? qid : "\"\"",
			       (int)(rep + l - 1 - (p + 7)), p + 7);
			free(qid);
			fflush(stdout);
			rc = 0;
		} else {
			log_error("events: malformed reply from the shim");
		}
	}
	if (v)
		yajl_tree_free(v);
	free(rep);
	return rc;
}

/* The shim's count of OOM kills in the container (the agent's "oom" events), or -1. */
static long long oom_kills(const char *dir)
{
	char *rep = NULL;
	long long k = -1;
	if (ctl_call(dir, "{\"op\":\"oom\"}", NULL, 0, &rep) == 0 && rep) {
		char err[128];
		yajl_val v = yajl_tree_parse(rep, err, sizeof(err));
		const char *pk[] = {"oom_kills", NULL};
		yajl_val n = v ? yajl_tree_get(v, pk, yajl_t_number) : NULL;
		if (n && YAJL_IS_INTEGER(n))
			k = YAJL_GET_INTEGER(n);
		if (v)
			yajl_tree_free(v);
	}
	free(rep);
	return k;
}

int cmd_events(int argc, char **argv)
{
	struct parsed p;
	if (parse_verb("events", argc, argv, 1, 1, 0, &p) < 0)
		return 1;
	const struct optdef *o = find_verb("events")->opts;
	const char *iv = optval(o, &p, "interval");
	long ms = iv ? parse_duration_ms(iv) : 5000;
	int rc = 1;
	if (ms <= 0) {
		log_error("invalid interval %s: duration must be greater than 0", iv);
		goto out;
	}
	struct cstate st;
	char dir[PATH_MAX];
	if (load_container(p.pos[0], &st, dir) < 0)
		goto out;
	if (!strcmp(state_status(&st), "stopped")) {
		log_error("container not running");
		state_free(&st);
		goto out;
	}
	if (optset(o, &p, "stats")) {
		rc = one_stats(st.id, dir);
	} else {
		/* runc: stats every interval, and {"type":"oom"} when the container's cgroup sees an
		 * OOM kill (checked every 100 ms: the shim counts the agent's events) */
		rc = 0;
		long long seen = oom_kills(dir), next_stats = 0;
		char *qid = json_quote(st.id);
		for (long long t = 0; strcmp(state_status(&st), "stopped"); t += 100) {
			long long k = oom_kills(dir);
			if (seen >= 0 && k > seen) {
				printf("{\"type\":\"oom\",\"id\":%s}\n", qid ? qid : "\"\"");
				fflush(stdout);
			}
			if (k >= 0)
				seen = k;
			if (t >= next_stats) {
				if (one_stats(st.id, dir))
					break;
				next_stats = t + ms;
			}
			usleep(100 * 1000);
		}
		free(qid);
	}
	state_free(&st);
out:
	parsed_free(&p);
	return rc;
}
