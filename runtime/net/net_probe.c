/* SPDX-License-Identifier: Apache-2.0 */
/* Can this host carry a netns into a VM? Tried for real in a throw-away netns (`runm check`). */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

bool net_probe(char *why, size_t cap)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(why, cap, "pipe: %s", strerror(errno));
		return false;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, cap, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) {
		char err[256] = "";
		int idx = 0;
		if (unshare(CLONE_NEWNET) < 0)
			snprintf(err, sizeof(err), "new network namespace: %s", strerror(errno));
		else if (net_tap_open("probe_runm", 0, &idx, err, sizeof(err)) >=
			 0) /* the netns goes with us */
			net_redirect(idx, idx, "probe_runm", "probe_runm", err, sizeof(err));
		ssize_t w = write(p[1], err, strlen(err));
		(void)w;
		_exit(err[0] ? 1 : 0);
	}
	close(p[1]);
	ssize_t n = read(p[0], why, cap - 1);
	close(p[0]);
	why[n > 0 ? n : 0] = '\0';
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (ok)
		snprintf(why, cap, "tap (IFF_VNET_HDR) + tc ingress/u32/mirred work in a new netns");
	else if (!why[0])
		snprintf(why, cap, "the probe failed (status %d)", st);
	return ok;
}
