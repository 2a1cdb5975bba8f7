/* SPDX-License-Identifier: Apache-2.0 */
/* runm events [--stats] [--interval D] ID: stats as runc's {"type":"stats","id":…,"data":…}
 * lines; without --stats one line per interval, and {"type":"oom","id":…} for each new OOM
 * kill, until the container stops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_util.h"
#include "ctl.h"
#include "json.h"
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

/* {"type":TYPE,"id":ID[,"data":DATA]} on a line of its own (runc's event shape). */
static int print_event(const char *type, const char *id, yajl_val data)
{
	struct json_gen pg;
	const char *js;
	size_t len;
	int rc = -1;
	if (json_gen_begin(&pg) == 0) {
		json_gen_str(&pg, "type", type);
		json_gen_str(&pg, "id", id);
		if (data) {
			json_gen_key(&pg, "data");
			if (!pg.err)
				json_gen_value(pg.g, data);
		}
		if (json_gen_end(&pg, &js, &len) == 0) {
			printf("%.*s\n", (int)len, js);
			fflush(stdout);
			rc = 0;
		}
	}
	json_gen_free(&pg);
	if (rc < 0)
		log_error("events: out of memory");
	return rc;
}

static int one_stats(const char *id, const char *dir)
{
	struct ctl_reply rep;
	if (shim_call(dir, &(struct ctl_req){.op = CTL_OP_STATS}, &rep))
		return 1;
	int rc = 1;
	if (!rep.data_val)
		log_error("events: malformed reply from the shim");
	else
		rc = print_event("stats", id, rep.data_val) < 0 ? 1 : 0;
	ctl_reply_free(&rep);
	return rc;
}

/* The shim's count of OOM kills in the container (the agent's "oom" events), or -1. */
static long long oom_kills(const char *dir)
{
	struct ctl_reply rep;
	char err[256];
	long long k = -1;
	if (ctl_call(dir, &(struct ctl_req){.op = CTL_OP_OOM}, NULL, 0, CTL_CALL_TIMEOUT_MS, &rep, NULL, err,
		     sizeof(err)) == 0) {
		if (rep.has_oom)
			k = rep.oom_kills;
		ctl_reply_free(&rep);
	}
	return k;
}

struct events_opts {
	bool stats;
	const char *interval;
};

const struct optdef events_opts[] = {
    OPT_FLAG(struct events_opts, stats, "stats", 0, "display the stats once"),
    OPT_VALUE(struct events_opts, interval, "interval", 0, "stats interval (default 5s)"),
    OPT_END,
};

int cmd_events(int argc, char **argv)
{
	struct parsed p;
	struct events_opts o;
	if (PARSE_VERB("events", argc, argv, 1, 1, 0, &o, &p) < 0)
		return 1;
	const char *iv = o.interval;
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
	if (o.stats) {
		rc = one_stats(st.id, dir);
	} else {
		/* runc: stats every interval, and {"type":"oom"} when the container's cgroup sees an
		 * OOM kill (checked every 100 ms: the shim counts the agent's events) */
		rc = 0;
		long long seen = oom_kills(dir), next_stats = 0;
		for (long long t = 0; strcmp(state_status(&st), "stopped"); t += 100) {
			long long k = oom_kills(dir);
			if (seen >= 0 && k > seen)
				print_event("oom", st.id, NULL);
			if (k >= 0)
				seen = k;
			if (t >= next_stats) {
				if (one_stats(st.id, dir))
					break;
				next_stats = t + ms;
			}
			usleep(100 * 1000);
		}
	}
	state_free(&st);
out:
	parsed_free(&p);
	return rc;
}
