/* SPDX-License-Identifier: Apache-2.0 */
/* runm pause / resume ID: the shim freezes / thaws the container's processes in the guest. */
#include <string.h>
#include <unistd.h>

#include "cmd_util.h"
#include "log.h"

static int pause_resume(const char *verb, int argc, char **argv)
{
	struct parsed p;
	if (parse_verb(verb, argc, argv, 1, 1, 0, &p) < 0)
		return 1;
	struct cstate st;
	char dir[PATH_MAX];
	int rc = 1;
	if (load_container(p.pos[0], &st, dir) < 0)
		goto out;
	int fd = state_lock(dir, true);
	const char *s = state_status(&st);
	bool pausing = !strcmp(verb, "pause");
	if (pausing && strcmp(s, "running") && strcmp(s, "created"))
		log_error("container not running");
	else if (!pausing && strcmp(s, "paused"))
		log_error("container not paused");
	else
		rc = shim_call(dir, &(struct ctl_req){.op = pausing ? CTL_OP_PAUSE : CTL_OP_RESUME}, NULL);
	if (fd >= 0)
		close_lock(fd);
	state_free(&st);
out:
	parsed_free(&p);
	return rc;
}

int cmd_pause(int argc, char **argv)
{
	return pause_resume("pause", argc, argv);
}

int cmd_resume(int argc, char **argv)
{
	return pause_resume("resume", argc, argv);
}
