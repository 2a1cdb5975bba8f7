/* SPDX-License-Identifier: Apache-2.0 */
/* runm state ID: the OCI state, truthful even after the shim or VMM died. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd_util.h"
#include "log.h"

int cmd_state(int argc, char **argv)
{
	struct parsed p;
	if (parse_verb("state", argc, argv, 1, 1, 0, &p) < 0)
		return 1;
	struct cstate st;
	char dir[PATH_MAX];
	int rc = 1;
	if (load_container(p.pos[0], &st, dir) == 0) {
		char *js = state_to_json(&st, true, true);
		if (js) {
			printf("%s\n", js);
			rc = 0;
		} else {
			log_error("state %s: out of memory", p.pos[0]);
		}
		free(js);
		state_free(&st);
	}
	parsed_free(&p);
	return rc;
}
