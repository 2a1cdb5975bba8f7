/* SPDX-License-Identifier: Apache-2.0 */
/* What the shim wired, written to the state directory so that `delete` can undo it after the
 * shim died (kill -9): the netns path and the veths that carry runm's ingress qdisc. The taps
 * need nothing: they are not persistent and vanish with the last process holding them. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define RECORD "network"

int net_record(const struct net_state *ns, const char *dir)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 24];
	snprintf(path, sizeof(path), "%s/" RECORD, dir);
	if (ns->mode != NET_PATH || !ns->n) {
		/* nothing wired (any more); a netns of the shim's own dies with it, qdiscs too */
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", ns->path);
	for (unsigned i = 0; i < ns->n; i++)
		if (ns->link[i].wired)
			fprintf(f, "%s\n", ns->link[i].veth);
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}

static void chomp(char *s)
{
	s[strcspn(s, "\n")] = '\0';
}

void net_forget(const char *dir)
{
	char path[PATH_MAX + 16], line[PATH_MAX];
	snprintf(path, sizeof(path), "%s/" RECORD, dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), target = -1;
	if (self >= 0 && fgets(line, sizeof(line), f)) {
		chomp(line);
		target = open(line, O_RDONLY | O_CLOEXEC);
	}
	if (target >= 0 && setns(target, CLONE_NEWNET) == 0) {
		while (fgets(line, sizeof(line), f)) {
			chomp(line);
			unsigned idx = if_nametoindex(line);
			if (idx && net_has_ingress((int)idx))
				net_unredirect((int)idx);
		}
		if (setns(self, CLONE_NEWNET) < 0)
			log_errno(errno, "network: return to the host netns");
	}
	if (target >= 0)
		close(target);
	if (self >= 0)
		close(self);
	fclose(f);
	unlink(path);
}
