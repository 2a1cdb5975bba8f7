/* SPDX-License-Identifier: Apache-2.0 */
/* runm shim (hidden): exec'd by create; see shim.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "cmd_util.h"
#include "log.h"
#include "shim.h"

int cmd_shim(int argc, char **argv)
{
	struct parsed p;
	if (parse_verb("shim", argc, argv, 1, 1, 0, &p) < 0)
		return 1;
	const struct optdef *o = find_verb("shim")->opts;
	struct shim_args a = {.id = p.pos[0],
			      .bundle = optval(o, &p, "bundle"),
			      .console_socket = optval(o, &p, "console-socket"),
			      .pid_file = optval(o, &p, "pid-file"),
			      .sync_fd = optval(o, &p, "sync-fd") ? atoi(optval(o, &p, "sync-fd")) : -1};
	if (!a.bundle || !valid_id(a.id)) {
		log_error("shim: --bundle and a valid container id are required");
		parsed_free(&p);
		return 1;
	}
	/* the sync pipe is ours alone: not for the VMM, device servers or hooks we start */
	if (a.sync_fd >= 0 && fcntl(a.sync_fd, F_SETFD, FD_CLOEXEC) < 0) {
		log_errno(errno, "shim: --sync-fd %d", a.sync_fd);
		parsed_free(&p);
		return 1;
	}
	prctl(PR_SET_NAME, "runm-shim");
	int rc = shim_main(&a);
	parsed_free(&p);
	return rc;
}
