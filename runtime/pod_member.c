/* SPDX-License-Identifier: Apache-2.0 */
/* Host side of a pod member (docs/pods.md): finding its running sandbox, where its share lives
 * (<sandbox state dir>/share/members/<id>), and releasing what it holds when it is deleted
 * after its shim died: its container in the guest and the binds in the sandbox's share. */
#include "pod_member.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "agentclient/agentclient.h"
#include "guest_config.h"
#include "log.h"
#include "pod.h"
#include "runm.h"
#include "sockdir.h"
#include "runtime/share.h"

int pod_member_paths(const char *sandbox, const char *id, struct pod_paths *pp, char *err, size_t errlen)
{
	memset(pp, 0, sizeof(*pp));
	if (!valid_id(sandbox) || !valid_id(id) ||
	    state_dir(sandbox, pp->sandbox_dir, sizeof(pp->sandbox_dir)) < 0) {
		snprintf(err, errlen, "pod sandbox %s: invalid id or state path too long", sandbox);
		return -1;
	}
	int n1 = snprintf(pp->share, sizeof(pp->share), "%s/" GUEST_SHARE_DIR, pp->sandbox_dir);
	int n2 = snprintf(pp->sub, sizeof(pp->sub), "members/%s", id);
	int n3 = snprintf(pp->member_share, sizeof(pp->member_share), "%s/%s", pp->share, pp->sub);
	if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n1 >= sizeof(pp->share) || (size_t)n2 >= sizeof(pp->sub) ||
	    (size_t)n3 >= sizeof(pp->member_share)) {
		snprintf(err, errlen, "pod sandbox %s: share path too long", sandbox);
		return -1;
	}
	return 0;
}

int pod_sandbox_find(const char *sandbox, struct cstate *st, char *err, size_t errlen)
{
	int r = state_load(sandbox, st);
	if (r < 0) {
		snprintf(err, errlen, "pod sandbox %s: %s", sandbox,
			 r == -ENOENT
			     ? "no such container (the sandbox must be created by runm first, "
			       "with the same --root; CRI-O needs drop_infra_ctr = false: docs/pods.md)"
			     : "unreadable state");
		return -1;
	}
	const char *s = state_status(st);
	if (strcmp(s, "created") && strcmp(s, "running") && strcmp(s, "paused")) {
		snprintf(err, errlen, "pod sandbox %s is %s: its microVM is not running", sandbox, s);
		state_free(st);
		return -1;
	}
	const char *role = NULL;
	for (int i = 0; i < st->nann; i++)
		if (!strcmp(st->ann_key[i], POD_ANN_ROLE))
			role = st->ann_val[i];
	if (role && !strcmp(role, "member")) {
		snprintf(err, errlen, "pod sandbox %s is itself a pod member", sandbox);
		state_free(st);
		return -1;
	}
	return 0;
}

int pod_sandbox_uds(const char *sandbox_dir, char *uds, size_t cap, char *err, size_t errlen)
{
	char sdir[PATH_MAX - 16];
	if (sock_dir(sandbox_dir, sdir, sizeof(sdir), err, errlen) < 0)
		return -1;
	if ((size_t)snprintf(uds, cap, "%s/vsock.sock", sdir) >= cap) {
		snprintf(err, errlen, "%s/vsock.sock: path too long", sdir);
		return -1;
	}
	return 0;
}

static const char *ann(const struct cstate *st, const char *key)
{
	for (int i = 0; i < st->nann; i++)
		if (!strcmp(st->ann_key[i], key))
			return st->ann_val[i];
	return NULL;
}

void pod_member_release(const struct cstate *st)
{
	const char *role = ann(st, POD_ANN_ROLE), *sandbox = ann(st, POD_ANN_SANDBOX);
	char err[512];
	struct pod_paths pp;
	if (!role || strcmp(role, "member") || !sandbox ||
	    pod_member_paths(sandbox, st->id, &pp, err, sizeof(err)) < 0)
		return;
	/* its container may still run in the sandbox's VM (its shim was killed): kill it there */
	struct cstate sst;
	char uds[PATH_MAX];
	if (pod_sandbox_find(sandbox, &sst, err, sizeof(err)) == 0) {
		if (pod_sandbox_uds(pp.sandbox_dir, uds, sizeof(uds), err, sizeof(err)) == 0) {
			struct agentclient *ac = ac_connect(uds, 2000, err, sizeof(err));
			if (ac && ac_hello(ac, false) == 0 && ac_signal(ac, st->id, SIGKILL, true) < 0)
				log_debug("pod member %s: kill in the sandbox's VM: %s", st->id,
					  ac_error(ac));
			if (ac)
				ac_close(ac);
		}
		state_free(&sst);
	}
	struct stat sb;
	if (lstat(pp.member_share, &sb) == 0 && fs_share_cleanup(pp.member_share, err, sizeof(err)) < 0)
		log_error("pod member %s: %s", st->id, err);
}
