/* SPDX-License-Identifier: Apache-2.0 */
/* runm-agent: PID 1 of the guest (or, with --listen-unix, the same logic as an ordinary process
 * on the host, for tests).  See docs/agent.md. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "base.h"
#include "init.h"
#include "log.h"
#include "proto/proto.h"
#include "server.h"
#include "version.h"

struct agent_opts g_opts;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: runm-agent [--listen-unix PATH] [--debug] [--version] [--help]\n"
		"  As PID 1 (the guest's /init) it listens on vsock ports %d (control) and %d (streams).\n"
		"  --listen-unix PATH  host test mode: listen on PATH and answer the hybrid vsock\n"
		"                      \"CONNECT <port>\" handshake; PID-1-only steps are skipped.\n",
		PROTO_PORT_CONTROL, PROTO_PORT_STREAM);
}

int main(int argc, char **argv)
{
	log_set_prog("runm-agent");
	bool switched = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-v")) {
			printf("runm-agent version %s (protocol %d)\n", RUNM_VERSION, PROTO_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--listen-unix") && i + 1 < argc) {
			g_opts.listen_unix = argv[++i];
		} else if (!strcmp(argv[i], INIT_SWITCHED_ARG) && getpid() == 1) {
			switched = true;
		} else if (!strcmp(argv[i], "--debug")) {
			g_opts.debug = true;
		} else {
			log_error("unknown argument %s", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	g_opts.pid1 = getpid() == 1;
	if (g_opts.pid1 && g_opts.listen_unix) {
		log_error("--listen-unix is the host test mode: not as PID 1");
		return 2;
	}
	log_set_debug(g_opts.debug);
	if (!g_opts.pid1 && !g_opts.listen_unix) {
		log_error("not PID 1: use --listen-unix PATH to run on the host");
		return 2;
	}
	if (g_opts.pid1 && !switched) {
		/* off the initramfs first, so that containers get a real pivot_root */
		init_leave_initramfs(argv);
		init_poweroff();
	}
	if (g_opts.pid1) {
		init_mount_basics();
		if (init_cmdline_has("runm.debug"))
			log_set_debug(1);
	} else if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		log_errno(errno, "prctl PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	int rc = server_run();
	if (g_opts.pid1)
		init_poweroff();
	return rc;
}
