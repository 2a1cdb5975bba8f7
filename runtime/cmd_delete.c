/* SPDX-License-Identifier: Apache-2.0 */
/* runm delete [--force] ID: only stopped containers unless --force; removes mounts, sockets,
 * the state directory; poststop hooks run. --force on an unknown id succeeds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_util.h"
#include "ctl.h"
#include "host_cgroup.h"
#include "log.h"
#include "net/net.h"
#include "pod_member.h"
#include "sockdir.h"

int delete_container(const char *id, bool force)
{
	struct cstate st;
	char dir[PATH_MAX];
	if (force && (!valid_id(id) || state_dir(id, dir, sizeof(dir)) < 0 || access(dir, F_OK) < 0))
		return 0;
	if (!valid_id(id) || state_dir(id, dir, sizeof(dir)) < 0 || access(dir, F_OK) < 0) {
		log_error("container does not exist");
		return 1;
	}
	int lr = state_load(id, &st);
	if (lr == -ENOENT && !force) {
		log_error("container does not exist");
		return 1;
	}
	if (lr < 0) {
		/* a directory without readable state: a create that died half-way */
		if (!force) {
			log_error("container %s: no usable state (use --force to remove it)", id);
			return 1;
		}
		net_forget(dir);
		host_cgroup_remove_recorded(dir);
		sock_dir_remove(dir);
		return state_dir_remove(dir) < 0 ? 1 : 0;
	}
	int fd = state_lock(dir, true);
	const char *s = state_status(&st);
	int rc = 1;
	if (strcmp(s, "stopped") && !force) {
		log_error("cannot delete container %s that is not stopped: %s", id, s);
		goto out;
	}
	if (strcmp(s, "stopped")) {
		/* ask the shim to kill the container and tear the VM down, then make sure */
		/* a wedged shim gets 5 s to answer, then SIGKILL (shim_force_stop): delete --force
		 * always finishes */
		struct ctl_req kill9 = {.op = CTL_OP_KILL, .kill = {.signal = 9, .all = true}};
		struct ctl_reply rep;
		char err[256];
		if (ctl_call(dir, &kill9, NULL, 0, 5000, &rep, NULL, err, sizeof(err)) == 0)
			ctl_reply_free(&rep);
		for (int i = 0; i < 200 && shim_alive(&st); i++)
			usleep(10000);
		shim_force_stop(&st, 2000);
	}
	/* a shim that recorded "stopped" may still be tearing its VM down: delete returns only once
	 * it is gone (it reaps its VM's processes before it exits), so the caller can remove the
	 * cgroup it put them in, as with runc */
	for (int i = 0; i < 1000 && shim_alive(&st); i++)
		usleep(10000);
	shim_force_stop(&st, 2000);
	net_forget(dir);
	host_cgroup_remove_recorded(dir);
	sock_dir_remove(dir);
	pod_member_release(&st); /* a pod member: its container in the sandbox's VM, its share there */
	rc = destroy_container(&st, dir) < 0 ? 1 : 0;
out:
	if (fd >= 0)
		close_lock(fd);
	state_free(&st);
	return rc;
}

struct delete_opts {
	bool force;
};

const struct optdef delete_opts[] = {
    OPT_FLAG(struct delete_opts, force, "force", 'f', "kill the container if it runs"),
    OPT_END,
};

int cmd_delete(int argc, char **argv)
{
	struct parsed p;
	struct delete_opts o;
	if (PARSE_VERB("delete", argc, argv, 1, 1, 0, &o, &p) < 0)
		return 1;
	int rc = delete_container(p.pos[0], o.force);
	parsed_free(&p);
	return rc;
}
