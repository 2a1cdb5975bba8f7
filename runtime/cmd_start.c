/* SPDX-License-Identifier: Apache-2.0 */
/* runm start ID: release a created container's init (only from "created"). */
#include <stdio.h>
#include <string.h>

#include "cmd_util.h"
#include "log.h"

int start_container(const char *id)
{
	struct cstate st;
	char dir[PATH_MAX];
	if (load_container(id, &st, dir) < 0)
		return 1;
	int fd = state_lock(dir, true);
	const char *s = state_status(&st);
	int rc = 1;
	if (!strcmp(s, "created"))
		rc = shim_call(dir, &(struct ctl_req){.op = CTL_OP_START}, NULL);
	else if (!strcmp(s, "stopped"))
		log_error("cannot start a container that has stopped");
	else if (!strcmp(s, "running"))
		log_error("cannot start an already running container");
	else
		log_error("cannot start a container in the %s state", s);
	if (fd >= 0)
		close_lock(fd);
	state_free(&st);
	return rc;
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
