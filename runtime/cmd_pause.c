/* SPDX-License-Identifier: Apache-2.0 */
/* runm pause / resume ID: the shim freezes / thaws the container's processes in the guest. */
#include <string.h>
#include <unistd.h>

#include "cmd_util.h"
#include "log.h"

static int check_pausable(const char *s, void *arg)
{
	if (!strcmp(s, "running") || !strcmp(s, "created"))
		return 0;
	log_error("container not running");
	return -1;
}

static int check_paused(const char *s, void *arg)
{
	if (!strcmp(s, "paused"))
		return 0;
	log_error("container not paused");
	return -1;
}

static int pause_resume(const char *verb, int argc, char **argv)
{
	struct parsed p;
	if (parse_verb(verb, argc, argv, 1, 1, 0, &p) < 0)
		return 1;
	bool pausing = !strcmp(verb, "pause");
	int rc = shim_request(p.pos[0], true, pausing ? check_pausable : check_paused, NULL,
			      &(struct ctl_req){.op = pausing ? CTL_OP_PAUSE : CTL_OP_RESUME});
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
