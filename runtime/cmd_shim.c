/* SPDX-License-Identifier: Apache-2.0 */
/* runm shim (hidden): exec'd by create; see shim.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "cmd_util.h"
#include "log.h"
#include "shim.h"

struct shim_opts {
	const char *bundle, *console_socket, *pid_file, *sync_fd;
	bool foreground;
};

const struct optdef shim_opts[] = {
    OPT_VALUE(struct shim_opts, bundle, "bundle", 0, NULL),
    OPT_VALUE(struct shim_opts, console_socket, "console-socket", 0, NULL),
    OPT_VALUE(struct shim_opts, pid_file, "pid-file", 0, NULL),
    OPT_VALUE(struct shim_opts, sync_fd, "sync-fd", 0, NULL),
    OPT_FLAG(struct shim_opts, foreground, "foreground", 0, NULL),
    OPT_END,
};

int cmd_shim(int argc, char **argv)
{
	struct parsed p;
	struct shim_opts o;
	if (PARSE_VERB("shim", argc, argv, 1, 1, 0, &o, &p) < 0)
		return 1;
	struct shim_args a = {.id = p.pos[0],
			      .bundle = o.bundle,
			      .console_socket = o.console_socket,
			      .pid_file = o.pid_file,
			      .sync_fd = o.sync_fd ? atoi(o.sync_fd) : -1};
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
