/* SPDX-License-Identifier: Apache-2.0 */
/* runm kill [--all] ID [SIGNAL]: names, numbers and SIG-prefixed names, 0; default SIGTERM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_util.h"
#include "log.h"

struct kill_opts {
	bool all;
};

const struct optdef kill_opts[] = {
	OPT_FLAG(struct kill_opts, all, "all", 'a', "send the signal to all processes"),
	OPT_END,
};

int cmd_kill(int argc, char **argv)
{
	struct parsed p;
	struct kill_opts o;
	if (PARSE_VERB("kill", argc, argv, 1, 2, 0, &o, &p) < 0)
		return 1;
	int rc = 1;
	struct cstate st;
	char dir[PATH_MAX];
	if (load_container(p.pos[0], &st, dir) < 0)
		goto out;
	/* signal 0: "is it alive", as runc accepts it */
	int sig = p.npos > 1 ? (!strcmp(p.pos[1], "0") ? 0 : parse_signal(p.pos[1])) : 15;
	if (sig < 0) {
		log_error("unknown signal \"%s\"", p.pos[1]);
		goto out_st;
	}
	const char *s = state_status(&st);
	if (!strcmp(s, "stopped")) {
		/* runc 1.1.5: --all on a stopped container signals nobody and succeeds */
		if (o.all)
			rc = 0;
		else
			log_error("container not running");
		goto out_st;
	}
	rc = shim_call(dir, &(struct ctl_req){.op = CTL_OP_KILL, .kill = {.signal = sig, .all = o.all}}, NULL);
out_st:
	state_free(&st);
out:
	parsed_free(&p);
	return rc;
}
