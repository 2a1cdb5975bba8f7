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

struct kill_check {
	const char *sigarg; /* NULL: SIGTERM */
	struct ctl_req *req;
};

/* The signal (after the container was found, as runc) and the container's status. */
static int check_kill(const char *s, void *arg)
{
	struct kill_check *k = arg;
	/* signal 0: "is it alive", as runc accepts it */
	int sig = k->sigarg ? (!strcmp(k->sigarg, "0") ? 0 : parse_signal(k->sigarg)) : 15;
	if (sig < 0) {
		log_error("unknown signal \"%s\"", k->sigarg);
		return -1;
	}
	k->req->kill.signal = sig;
	if (strcmp(s, "stopped"))
		return 0;
	/* runc 1.1.5: --all on a stopped container signals nobody and succeeds */
	if (k->req->kill.all)
		return 1;
	log_error("container not running");
	return -1;
}

int cmd_kill(int argc, char **argv)
{
	struct parsed p;
	struct kill_opts o;
	if (PARSE_VERB("kill", argc, argv, 1, 2, 0, &o, &p) < 0)
		return 1;
	struct ctl_req req = {.op = CTL_OP_KILL, .kill = {.all = o.all}};
	struct kill_check k = {.sigarg = p.npos > 1 ? p.pos[1] : NULL, .req = &req};
	int rc = shim_request(p.pos[0], false, check_kill, &k, &req);
	parsed_free(&p);
	return rc;
}
