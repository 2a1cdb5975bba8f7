/* SPDX-License-Identifier: Apache-2.0 */
/* runm start ID: release a created container's init (only from "created"). */
#include <stdio.h>
#include <string.h>

#include "cmd_util.h"
#include "log.h"

static int check_created(const char *s, void *arg)
{
	if (!strcmp(s, "created"))
		return 0;
	if (!strcmp(s, "stopped"))
		log_error("cannot start a container that has stopped");
	else if (!strcmp(s, "running"))
		log_error("cannot start an already running container");
	else
		log_error("cannot start a container in the %s state", s);
	return -1;
}

int start_container(const char *id)
{
	return shim_request(id, true, check_created, NULL, &(struct ctl_req){.op = CTL_OP_START});
}

int cmd_start(int argc, char **argv)
{
	struct parsed p;
	if (parse_verb("start", argc, argv, 1, 1, 0, &p) < 0)
		return 1;
	int rc = start_container(p.pos[0]);
	parsed_free(&p);
	return rc;
}
