/* SPDX-License-Identifier: Apache-2.0 */
/* The shim's view of one microVM and its agent: boot, create/start the container, exec,
 * signals, resize, pause, stats, exit events. Implemented in guest.c on top of
 * runtime/backend (VMM processes) and runtime/agentclient (agent protocol). */
#ifndef RUNM_RUNTIME_GUEST_H
#define RUNM_RUNTIME_GUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "artifacts.h"
#include "spec.h"

struct disks_plan;

struct guest;
struct net_state;
struct proto_net;

/* Host-side ends of a process's streams: write to in, read from out/err; with a tty only
 * tty (bidirectional). -1 when absent. */
struct guest_stdio {
	int in, out, err, tty;
};

struct guest_exit {
	char process[72]; /* "init" or an exec id */
	int status;	  /* code, or 128+signal */
};

/* Boot the VM for container ID with state directory DIR (VMM sockets go there). */
int guest_boot(const char *id, const char *dir, const struct spec *s, const struct vm_plan *plan,
	       const struct net_state *net, struct guest **out, char *err, size_t errlen);
/* Create the container (held before exec) and connect its streams. WANT_STDIN: connect stdin. */
/* A pod member (docs/pods.md): no VM; connect to the sandbox's agent at UDS, gather the rootfs
 * and binds under SANDBOX_SHARE/SUB (live in the sandbox VM's share); the container is ID in
 * the agent.  guest_destroy kills it there and unmounts its share; the VM lives on. */
struct guest_pod {
	const char *sandbox, *uds, *sandbox_share, *sub;
	bool join_ipc, join_uts;
};
int guest_join(const char *id, const char *dir, const struct spec *s, const struct guest_pod *pod,
	       struct guest **out, char *err, size_t errlen);
/* The init's process id in the agent: "init", or a member's container id. */
const char *guest_init_id(const struct guest *g);
int guest_create(struct guest *g, const struct spec *s, bool want_stdin, struct guest_stdio *io, char *err,
		 size_t errlen);
int guest_start(struct guest *g, char *err, size_t errlen);
/* Run the spec's hooks of KIND (createContainer or startContainer) in the container, in the
 * guest (the agent's "hooks" op), STATE_JSON on their stdin. 0 when there are none. */
int guest_hooks(struct guest *g, const struct spec *s, enum hook_kind kind, const char *state_json, char *err,
		size_t errlen);
/* Configure the container's network in the guest (the agent's "network" op). */
int guest_network(struct guest *g, const char *id, const struct proto_net *n, char *err, size_t errlen);
/* PROCESS is "init" or an exec id. */
int guest_signal(struct guest *g, const char *process, int sig, bool all, char *err, size_t errlen);
int guest_resize(struct guest *g, const char *process, unsigned rows, unsigned cols);
int guest_exec(struct guest *g, const char *exec_id, const char *process_json, bool want_stdin,
	       struct guest_stdio *io, char *err, size_t errlen);
int guest_pause(struct guest *g, bool pause, char *err, size_t errlen);
/* Reply documents (malloc'd JSON): {"processes":[{"pid":N,"cmd":"…"}]} / stats data object. */
int guest_ps(struct guest *g, char **json, char *err, size_t errlen);
int guest_stats(struct guest *g, char **json, char *err, size_t errlen);
int guest_update(struct guest *g, const char *resources_json, char *err, size_t errlen);
/* fd that becomes readable when guest_next_exit may have something, or the VM died. */
int guest_event_fd(struct guest *g);
/* The pidfds of the VM's processes (none without a VM), for the caller's poll; when one is
 * readable, guest_vm_ended says whether the VM is over (then everything of it is torn down). */
#define GUEST_MAX_VM_FDS 16
int guest_vm_fds(struct guest *g, int *fds, int max);
bool guest_vm_ended(struct guest *g, int *status);
/* 1 = *ex filled, 0 = nothing yet, -1 = the VM or the agent connection is gone. */
int guest_next_exit(struct guest *g, struct guest_exit *ex, char *err, size_t errlen);
/* OOM kills in the container's cgroup, as the agent's last "oom" event counted them. */
long long guest_oom_kills(const struct guest *g);
/* The agent-on-host test harness (RUNM_TEST_AGENT_ON_HOST=1): no VM, no share. */
bool guest_agent_on_host(const struct guest *g);
/* The host directory of the container's share (its rootfs and bind entries): DIR/share, or a pod
 * member's directory in its sandbox's share; NULL with the agent on the host. */
const char *guest_share_dir(const struct guest *g);
/* The VM's drives (disks.h), as decided at boot (or join). */
const struct disks_plan *guest_disks(const struct guest *g);
/* From now on the hybrid vsock socket (our own, or a pod sandbox's) is reached by its name
 * from its directory, held open by fd: the shim left the host's mount namespace
 * (runtime/host_view.h) and paths outside the container's view no longer resolve. */
void guest_sockets_relative(struct guest *g);
/* Stop the VM (if running) and release everything. */
void guest_destroy(struct guest *g);

#endif
