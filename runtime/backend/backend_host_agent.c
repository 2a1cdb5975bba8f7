/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The test harness without a VM (RUNM_TEST_AGENT_ON_HOST=1, backend_plan.h): the real agent
 * in host mode, `runm-agent --listen-unix VSOCK_UDS`, answers where the VM's hybrid vsock
 * socket would be and runs the container directly on the host (namespaces, no VM
 * isolation). Never chosen by runm itself. Its stderr goes to run_dir/agent.log.
 */
#include "runtime/backend/backend.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "log.h"

static int start_host_agent(struct vm *v, const struct vm_config *c, int log_fd)
{
	if (!c->vsock_uds) {
		log_error("start runm-agent on the host: a socket path (vsock_uds) is required");
		return -EINVAL;
	}
	char *agent = vm_sibling_path("runm-agent");
	if (!agent)
		return -ENOMEM;
	char *argv[] = {agent, "--listen-unix", (char *)c->vsock_uds, NULL};
	/* root's capabilities kept: it makes the container's namespaces itself */
	int r = vm_spawn(v, "runm-agent", argv, log_fd, NULL, 0, 0, NULL);
	free(agent);
	return r;
}

/* Not part of a VM the shim watches: the agent connection tells when it is gone. */
static int no_pidfds(const struct vm *v, int *fds, int max)
{
	(void)v;
	(void)fds;
	(void)max;
	return 0;
}

/* It was asked to shut down (and given time) already: kill it. */
static int stop_host_agent(struct vm *v, int grace_ms)
{
	(void)grace_ms;
	int st;
	v->stopping = true;
	vm_group_kill(v, SIGKILL);
	return vm_group_wait(v, -1, &st) == 1 ? 0 : -EIO;
}

const struct vm_backend_ops vm_backend_host_agent = {
    .what = "runm-agent on the host",
    .log_name = "agent.log",
    .agent_on_host = true,
    .start = start_host_agent,
    .wait = vm_group_wait,
    .kill = vm_group_kill,
    .stop = stop_host_agent,
    .pidfds = no_pidfds,
};
